"""The durable-rules backend, the one module that knows durable-rules: the IR translated to its rulesets, its C core driven directly.

durable-rules decides which rules hold on which facts. What it cannot match natively (list
operators, dates, decisions) becomes boolean flags on the facts, computed by the Python backend's
generated code; and when tracing, the why of a rule durable fired is recorded by the Python
backend's traced form of that rule (which must agree, or the evaluation fails loudly).

Every quirk measured in docs/durable-rules-notes.md is handled here:
- no `engine.Host`: we call the C module directly, so no timer thread runs anything off the calling thread;
- ruleset names are unique per process (a counter) and rulesets are freed with `delete_ruleset`;
- one live sid per ruleset (`"1"`), deleted after every evaluation in which a fact was stored, so the 1,024-sid
  cap is never near. A sid that only ever saw unmatched facts is NOT deleted: it stores nothing, and
  `deleteStateNode` would free its never-initialised action context (a crash seen under pytest);
- the facts sent are lean: a kind code, the scalar properties that native tests read and boolean flags for
  everything else, never the case file (no 253-property, 16 MiB-string or exponent-float limits are reached);
- fact ids are small sequential integers per evaluation (no 32-bit hash collisions among live ids);
- at most `MAX_RULES_PER_RULESET` rules per ruleset (the 64-sibling limit) and identical conditions are merged
  into one durable rule (the 256-identical-conditions limit); `MAX_ACTIONS` bounds the actions per ruleset;
- a `$or` both of whose branches hold fires its rule once per branch: the session lets a rule fire once per fact;
- a fact no rule matches is a return code, never an exception; an exception raised by our action code is
  re-raised after the session is cleaned, never swallowed.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from . import _ir as ir
from . import _json, _python
from .errors import EvaluationError, InputError, Issue, Location, PolicyError

try:  # an optional extra (regcode[durable]); durable-rules builds on Python 3.11 and 3.12 only
    import durable_rules_engine as _dre
    _IMPORT_ERROR = None
except ImportError as exc:
    _dre = None
    _IMPORT_ERROR = exc

MAX_RULES_PER_RULESET = 24   # far below the 64 sibling tests that crash the C core
MAX_ACTIONS = 4000           # the core refuses 4,096 actions per ruleset
SID = "1"
_names = itertools.count(1)

_OPS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_NEG = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_SCALAR_TYPES = {"string": str, "date": str, "integer": int, "boolean": bool}


def available() -> bool:
    """Whether durable-rules imports here (the optional extra, on Python 3.11 or 3.12)."""
    return _dre is not None


def _cmp(op: str, prop: str, value):
    return {prop: value} if op == "==" else {_OPS[op]: {prop: value}}


@dataclass
class _Partition:
    """One durable ruleset: a slice of one stratum's rules, all binding the same fact kind."""

    kind: str
    handle: int
    groups: dict            # durable rule name -> list of our Rule (identical conditions merged)
    native_paths: dict      # property name -> (alias, keys) read from the bound fact
    flags: list             # (property name, fn) computed by the Python backend's code before asserting


class Program:
    """The durable-rules form of one compiled policy: rulesets per stratum and fact kind, plus the
    Python backend's program for flags, conclusions and the why."""

    name = "durable"

    def __init__(self, policy):
        if _dre is None:
            raise EvaluationError([Issue("eval.backend", f"the durable backend needs durable-rules, which cannot be imported "
                                         f"here ({_IMPORT_ERROR})", Location(),
                                         "install the extra with `pip install 'regcode[durable]'` (Python 3.11 or 3.12), "
                                         "or use the default --backend python")])
        self.policy = policy
        self.python = _python.Program(policy)
        self.consumed = self.python.consumed
        self.strata: list = []          # list of {kind: [Partition]}
        self.kind_codes = {k: i + 1 for i, k in enumerate(sorted({r.binds for r in policy.rules}))}
        self.closed = False
        self._defaults = _defaults_plan(policy.facts_schema)
        try:
            for stratum in policy.strata:
                by_kind: dict = {}
                for rule in stratum:
                    by_kind.setdefault(rule.binds, []).append(rule)
                self.strata.append({kind: [_partition(policy, kind, rules[i:i + MAX_RULES_PER_RULESET], self)
                                           for i in range(0, len(rules), MAX_RULES_PER_RULESET)]
                                    for kind, rules in sorted(by_kind.items())})
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self.closed and _dre is not None:
            for stratum in self.strata:
                for parts in stratum.values():
                    for part in parts:
                        _dre.delete_ruleset(part.handle)
        self.closed = True

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- the backend interface (engine/evaluate.py) ----------------------------------------------
    def run(self, case: dict, as_of: str, params: dict, traced: bool):
        """(decisions, claims by decision, derived facts, firings), as the Python backend returns them."""
        data = _json.copy(case)          # native tests read the bound fact as stored: fill the defaults in
        _fill_defaults(self._defaults, data)
        state = _State(self, data, as_of, params, traced)
        session = Session(self)
        try:
            for k, parts_by_kind in enumerate(self.strata):
                initial = [f for kind in sorted(parts_by_kind) for f in state.facts_of(kind)]
                session.run(parts_by_kind, initial, state)
                state.end_stratum(k)
        finally:
            session.close()
        derived = [(f.kind, f.data, f.label, f.derived_by) for f in state.derived.values()]
        return state.finish(), state.claims, derived, state.firings

    def fire(self, rule, fact, state) -> list:
        """durable matched `rule` on `fact`: record the why (the Python backend's traced form of the rule,
        which must agree), then apply the conclusions."""
        trace = None
        if state.traced:
            trace = []
            if not self.python.rule_traced(rule)(state.case, fact.data, fact.label, state.as_of, state.params,
                                                 state.decisions, state.cache, trace):
                raise EvaluationError([Issue("eval.backend_mismatch", f"durable-rules fired `{rule.id}` on "
                                             f"{fact.label or 'the case file'} but its condition does not hold",
                                             rule.location, "report this: it is a bug in regcode")])
        return state.fire(rule, fact, trace)


class _Translator:
    """IR condition -> durable JSON, pushing `not` down to the leaves (durable has no general not)."""

    def __init__(self, rule: ir.Rule, shapes, params, native_paths: dict, flags: list):
        self.rule = rule
        self.shapes = shapes          # alias -> Shape of the bound fact ("" -> case root)
        self.params = params
        self.native_paths = native_paths
        self.flags = flags

    def prop_for(self, ref: ir.PathRef):
        key = (ref.scope, ref.keys)
        for name, known in self.native_paths.items():
            if known == key:
                return name
        name = f"p{len(self.native_paths)}"
        self.native_paths[name] = key
        return name

    def native_literal(self, ref, expr):
        """The literal a native test compares with, or None when the test must run in Python."""
        if isinstance(expr, ir.Lit):
            value = expr.value
        elif isinstance(expr, ir.Param) and self.params[expr.name].values is None:
            value = self.params[expr.name].value
        else:
            return None
        shape = self._shape(ref)
        want = _SCALAR_TYPES.get(shape.kind) if shape is not None else None
        if want is None:
            return None
        values = value if isinstance(value, list) else [value]
        for v in values:
            if type(v) is not want or (want is int and abs(v) >= 2 ** 53):
                return None
        return value

    def _shape(self, ref: ir.PathRef):
        bound = self.rule.alias if self.rule.binds != ir.CASE else ""
        if ref.scope != bound:
            return None
        shape = self.shapes
        for k in ref.keys:
            shape = shape.child(k) if shape is not None else None
        return shape

    def native(self, cond) -> bool:
        if isinstance(cond, (ir.All, ir.AnyOf)):
            return all(self.native(c) for c in cond.items)
        if isinstance(cond, ir.Not):
            return self.native(cond.item)
        if isinstance(cond, ir.TrueCond):
            return True
        if isinstance(cond, ir.Compare) and isinstance(cond.left, ir.PathRef):
            lit = self.native_literal(cond.left, cond.right)
            if lit is None:
                return False
            return (cond.op in _OPS and not isinstance(lit, list)) or (cond.op in ("in", "not_in") and isinstance(lit, list) and lit)
        if isinstance(cond, ir.Presence):
            shape = self._shape(cond.path)
            return shape is not None and shape.kind in _SCALAR_TYPES
        return False

    def has_native(self, cond) -> bool:
        if isinstance(cond, (ir.All, ir.AnyOf)):
            return any(self.has_native(c) for c in cond.items)
        if isinstance(cond, ir.Not):
            return self.has_native(cond.item)
        return self.native(cond) and not isinstance(cond, ir.TrueCond)

    def flag(self, cond, negated: bool):
        name = f"f{len(self.flags)}"
        self.flags.append((name, self.rule, cond))
        return {name: not negated}

    def tr(self, cond, negated: bool = False):
        if isinstance(cond, ir.TrueCond):
            return None
        if not self.has_native(cond):
            return self.flag(cond, negated)       # a whole subtree Python decides in one flag
        if isinstance(cond, ir.Not):
            return self.tr(cond.item, not negated)
        if isinstance(cond, (ir.All, ir.AnyOf)):
            conj = isinstance(cond, ir.All) != negated
            parts = [p for p in (self.tr(c, negated) for c in cond.items) if p is not None]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else {"$and" if conj else "$or": parts}
        if isinstance(cond, ir.Presence):
            prop = self.prop_for(cond.path)
            present = cond.present != negated
            return {"$ex" if present else "$nex": {prop: 1}}
        if isinstance(cond, ir.Compare) and self.native(cond):
            prop = self.prop_for(cond.left)
            lit = self.native_literal(cond.left, cond.right)
            op = cond.op
            if op in ("in", "not_in"):
                positive = (op == "in") != negated
                if positive:
                    tests = [_cmp("==", prop, v) for v in lit]
                    return tests[0] if len(tests) == 1 else {"$or": tests}
                tests = [_cmp("!=", prop, v) for v in lit]
                core = tests[0] if len(tests) == 1 else {"$and": tests}
                return {"$or": [{"$nex": {prop: 1}}, core]}
            if negated:   # not(a op v) holds when a is absent, too
                return {"$or": [{"$nex": {prop: 1}}, _cmp(_NEG[op], prop, lit)]}
            return _cmp(op, prop, lit)
        return self.flag(cond, negated)


def _bound_shape(policy, kind: str):
    if kind == ir.CASE:
        return policy.facts_shape
    if kind.startswith("derived:"):
        return policy.derived[kind[8:]]
    shape = policy.facts_shape
    for k in kind[5:].split("."):
        shape = shape.child(k)
    return shape.items


def _partition(policy, kind, rules, program: Program) -> _Partition:
    native_paths: dict = {}
    flags: list = []
    groups: dict = {}
    definitions: dict = {}
    shape = _bound_shape(policy, kind)
    code = program.kind_codes[kind]
    for rule in rules:
        body = _Translator(rule, shape, policy.parameters, native_paths, flags).tr(rule.condition)
        test = {"k": code} if body is None else {"$and": [{"k": code}, body]}
        text = json.dumps(test, sort_keys=True, ensure_ascii=False)
        for name, existing in definitions.items():
            if existing == text:   # identical condition: one durable rule fires all of them
                groups[name].append(rule)
                break
        else:
            name = f"r{rule.index}"
            definitions[name] = text
            groups[name] = [rule]
    if len(groups) > MAX_ACTIONS:
        raise EvaluationError([Issue("compile.backend_limit", f"{len(groups)} rules in one ruleset; durable-rules takes {MAX_ACTIONS}",
                                     Location(), "split the policy")])
    ruleset = {name: {"all": [{"m": json.loads(text)}]} for name, text in definitions.items()}
    handle = _dre.create_ruleset(f"regcode_{next(_names)}", json.dumps(ruleset, ensure_ascii=False))
    compiled = [(name, program.python.flag(rule, cond, (rule.index, name, handle))) for name, rule, cond in flags]
    return _Partition(kind, handle, groups, native_paths, compiled)


class _Fact:
    """A fact durable matches: the case file, one item of one of its lists, or a derived fact."""

    __slots__ = ("kind", "data", "label", "derived_by")

    def __init__(self, kind: str, data, label: str):
        self.kind, self.data, self.label, self.derived_by = kind, data, label, []


class _State:
    """One evaluation on the durable backend: the facts, the decisions resolved so far, the claims."""

    def __init__(self, program: Program, case: dict, as_of: str, params: dict, traced: bool):
        from .evaluate import resolver
        self.policy = policy = program.policy
        self.program = program
        self.case = case
        self.as_of = as_of
        self.params = params
        self.traced = traced
        self.decisions: dict = {}
        self.claims: dict = {name: [] for name in policy.decisions}
        self.resolvers = {name: resolver(policy, decl) for name, decl in policy.decisions.items()}
        self.derived: dict = {}
        self.firings = 0
        self.recursive = program.python.recursive
        self.recursive_firings = 0       # firings of rules that derive facts from facts of their own kind
        self.bounds = (_python.MAX_FIRINGS, _python.MAX_DERIVED)    # past them, the case's own (_python.bounds)
        self.cache = program.python.case_cache(case, as_of)
        self._case_fact = _Fact(ir.CASE, case, "")
        self._list_facts: dict = {}
        self._read_after = [sorted({d for later in policy.strata[i + 1:] for r in later for d in r.reads_decisions})
                            for i in range(len(policy.strata))]

    def facts_of(self, kind: str) -> list:
        if kind == ir.CASE:
            return [self._case_fact]
        if kind.startswith("list:"):
            found = self._list_facts.get(kind)
            if found is None:
                path = kind[5:]
                keys = tuple(path.split("."))
                pairs = _python.visible(self.case, keys, self.policy.event_dates.get(keys), self.as_of)
                found = self._list_facts[kind] = [_Fact(kind, item, f"{path}[{i}]") for i, item in pairs]
            return found
        return [f for f in self.derived.values() if f.kind == kind]

    def fire(self, rule: ir.Rule, fact: _Fact, trace) -> list:
        """A rule's condition held on `fact`: apply its conclusions, return the new facts to match."""
        self.firings += 1
        if rule.index in self.recursive:
            self.recursive_firings += 1
        if self.firings > self.bounds[0]:
            self._past_bound(0, self.firings, "rule firings")
        matched = _python._matched(trace) if trace else ()
        try:
            values = self.program.python.thens[rule.index](self.case, fact.data, fact.label, self.as_of, self.params,
                                                           self.decisions, self.cache)
        except (EvaluationError, InputError):
            raise
        except Exception as exc:
            said = _python.runtime_issue(exc, [rule])
            if said is not None:
                raise _python.runtime_error(said, exc) from None
            raise EvaluationError([Issue("eval.action", f"rule `{rule.id}` failed on {fact.label or 'the case file'}: "
                                         f"{type(exc).__name__}: {exc}", rule.location,
                                         "report this with the case file: a rule's conclusion could not be computed")]) from exc
        new = []
        for concl, value in zip(rule.conclusions, values):
            if isinstance(concl, ir.Decide) and concl.entries:     # a whole map: a claim per entry, in its order (as _python)
                for key, v in (value[0].items() if value[0] else ()):
                    self.claims[concl.decision].append((v, key, rule.index, fact.label, matched) if self.traced else (v, key, rule.index))
                continue
            if isinstance(concl, ir.Decide):
                claim = (value[0], value[1], rule.index, fact.label, matched) if self.traced else (value[0], value[1], rule.index)
                self.claims[concl.decision].append(claim)
                continue
            kind = f"derived:{concl.fact}"
            ident = (kind, _python._freeze(value))
            existing = self.derived.get(ident)
            if existing is None:
                if len(self.derived) >= self.bounds[1]:
                    self._past_bound(1, len(self.derived) + 1, "derived facts")
                existing = _Fact(kind, value, _python._label(concl.fact, value))
                self.derived[ident] = existing
                if kind in self.program.consumed:
                    new.append(existing)
            existing.derived_by.append((rule.id, fact.label))
        return new

    def _past_bound(self, which: int, count: int, what: str) -> None:
        """Past the base bound: the case's own bounds from now on, or the evaluation stops (as on the Python backend)."""
        self.bounds = _python.bounds(self.case)
        if count > self.bounds[which]:
            raise _python.limit_error(self.policy, self.recursive, self.case, what, self.firings, self.recursive_firings)

    def failed(self, rules: list, fact: _Fact, exc: Exception):
        """A condition could not be evaluated (a bug, or a value the facts schema let through)."""
        if isinstance(exc, PolicyError):
            raise exc
        said = _python.runtime_issue(exc, rules)
        if said is not None:
            raise _python.runtime_error(said, exc) from None
        names = ", ".join(f"`{r.id}`" for r in rules[:4]) + (" ..." if len(rules) > 4 else "")
        raise EvaluationError([Issue("eval.action", f"the conditions of {names} failed on {fact.label or 'the case file'}: "
                                     f"{type(exc).__name__}: {exc}", rules[0].location,
                                     "report this with the case file: a condition could not be evaluated")]) from exc

    def end_stratum(self, k: int) -> None:
        for name in self._read_after[k]:     # what a later stratum reads
            self.decisions[name] = self.resolvers[name](self.claims[name])

    def finish(self) -> dict:
        return {name: self.resolvers[name](self.claims[name]) for name in self.policy.decisions}


class Session:
    """One evaluation's use of a Program: facts in, firings out, every sid deleted at the end."""

    def __init__(self, program: Program):
        self.program = program
        self.stored: set = set()   # rulesets in which this evaluation stored a fact (their sid must go)
        self.next_id = 0
        self.facts: dict = {}
        self.fired: set = set()

    def lean(self, part: _Partition, fact, state) -> dict:
        """The small JSON object durable sees for `fact` in this partition."""
        self.next_id += 1
        out = {"sid": SID, "id": self.next_id, "k": self.program.kind_codes[fact.kind]}
        for prop, (_alias, keys) in part.native_paths.items():
            value = fact.data       # native tests only read the bound fact (the case file for CASE rules)
            for k in keys:
                value = value.get(k) if isinstance(value, dict) else None
            if isinstance(value, (str, bool, int)) and not (type(value) is int and abs(value) >= 2 ** 53):
                out[prop] = value
        C, A, P, D, X = state.case, state.as_of, state.params, state.decisions, state.cache
        for prop, fn in part.flags:
            try:
                out[prop] = bool(fn(C, fact.data, fact.label, A, P, D, X))
            except Exception as exc:
                state.failed([r for rules in part.groups.values() for r in rules], fact, exc)
        self.facts[self.next_id] = fact
        return out

    def run(self, parts_by_kind: dict, initial: list, state) -> None:
        """Assert `initial` facts into the stratum's partitions and fire until quiet."""
        queue = list(initial)
        qi = 0
        while qi < len(queue):
            fact = queue[qi]
            qi += 1
            for part in parts_by_kind.get(fact.kind, ()):
                self._assert(part, fact, state, queue)

    def _assert(self, part, fact, state, queue) -> None:
        code, handle_state = _dre.assert_fact(part.handle, json.dumps(self.lean(part, fact, state), ensure_ascii=False))
        if code == 1:          # no rule of this partition matches: nothing stored, nothing to do
            return
        self.stored.add(part.handle)
        if code != 0:
            raise EvaluationError([Issue("eval.backend", f"durable-rules refused a fact (code {code})", Location(),
                                         "report this: it is a bug in regcode's adapter")])
        result = _dre.start_action_for_state(part.handle, handle_state)
        while result:
            message = json.loads(result[1])
            try:
                for name, matched in message.items():
                    bound = self.facts[matched["m"]["id"]]
                    for rule in part.groups[name]:
                        # an `$or` whose branches both hold makes durable fire the rule once per branch:
                        # a rule fires once per fact
                        if (rule.index, matched["m"]["id"]) in self.fired:
                            continue
                        self.fired.add((rule.index, matched["m"]["id"]))
                        queue.extend(self.program.fire(rule, bound, state))
            except BaseException:
                _dre.abandon_action(part.handle, handle_state)
                raise
            following = _dre.complete_and_start_action(part.handle, handle_state)
            result = (None, following) if following else None

    def close(self) -> None:
        for handle in sorted(self.stored):
            _dre.delete_state(handle, SID)
        self.stored.clear()
        self.facts.clear()


# ---- defaults: native tests read the bound fact as stored, so absent values are filled in first ----
def _defaults_plan(schema, depth: int = 0):
    """From the facts schema, once per policy: where `default`s apply. (prop -> (has, default, subplan)) or None."""
    if depth > 32 or not isinstance(schema, dict):
        return None
    if schema.get("type") == "array" or "items" in schema:
        sub = _defaults_plan(schema.get("items"), depth + 1)
        return ("items", sub) if sub else None
    plan = {}
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        inner = _defaults_plan(sub, depth + 1)
        if "default" in sub or inner:
            plan[name] = ("default" in sub, sub.get("default"), inner)
    return ("props", plan) if plan else None


def _fill_defaults(plan, data) -> None:
    """Absent fields with a schema `default` get it (the contract: absent booleans are false)."""
    if plan is None:
        return
    kind, body = plan
    if kind == "items":
        if isinstance(data, list):
            for item in data:
                _fill_defaults(body, item)
        return
    if not isinstance(data, dict):
        return
    for name, (has, default, inner) in body.items():
        if name not in data:
            if not has:
                continue
            data[name] = _json.copy(default)
        if inner is not None:
            _fill_defaults(inner, data[name])

