"""The one module that knows durable-rules: translates compiled rules to its rulesets and drives its C core.

Every quirk measured in shared/notes/durable-rules.md is handled here:
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
- a fact no rule matches is a return code, never an exception; an exception raised by our action code is
  re-raised after the session is cleaned, never swallowed.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from . import _ir as ir
from .errors import EvaluationError, Issue, Location

try:  # durable-rules builds on Python 3.11 and 3.12 only (see pyproject.toml)
    import durable_rules_engine as _dre
except ImportError as exc:  # pragma: no cover - exercised only on unsupported interpreters
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
    flags: list             # (property name, rule, Cond) computed in Python before asserting


@dataclass
class Program:
    """The durable-rules form of one compiled policy: partitions per stratum and fact kind."""

    strata: list = field(default_factory=list)      # list of {kind: [Partition]}
    kind_codes: dict = field(default_factory=dict)
    closed: bool = False

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


def build(policy) -> Program:
    """Translate a CompiledPolicy into durable rulesets (once per policy per process)."""
    if _dre is None:
        raise EvaluationError([Issue("eval.backend", f"durable-rules cannot be imported here: {_IMPORT_ERROR}",
                                     Location(), "use Python 3.11 or 3.12, or --backend python")])
    program = Program()
    kinds = sorted({r.binds for r in policy.rules})
    program.kind_codes = {k: i + 1 for i, k in enumerate(kinds)}
    try:
        for stratum in policy.strata:
            by_kind: dict = {}
            for rule in stratum:
                by_kind.setdefault(rule.binds, []).append(rule)
            parts_by_kind = {}
            for kind, rules in sorted(by_kind.items()):
                parts_by_kind[kind] = [_partition(policy, kind, rules[i:i + MAX_RULES_PER_RULESET], program)
                                       for i in range(0, len(rules), MAX_RULES_PER_RULESET)]
            program.strata.append(parts_by_kind)
    except BaseException:
        program.close()
        raise
    return program


def _bound_shape(policy, kind: str):
    if kind == ir.CASE:
        return policy.facts_shape
    if kind.startswith("derived:"):
        return policy.derived[kind[8:]]
    shape = policy.facts_shape
    for k in kind[5:].split("."):
        shape = shape.child(k)
    return shape.items


def _partition(policy, kind, rules, program) -> _Partition:
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
    return _Partition(kind, handle, groups, native_paths, flags)


class Session:
    """One evaluation's use of a Program: facts in, firings out, every sid deleted at the end."""

    def __init__(self, program: Program):
        self.program = program
        self.stored: set = set()   # rulesets in which this evaluation stored a fact (their sid must go)
        self.next_id = 0
        self.facts: dict = {}

    def lean(self, part: _Partition, fact, env_for) -> dict:
        """The small JSON object durable sees for `fact` in this partition."""
        self.next_id += 1
        out = {"sid": SID, "id": self.next_id, "k": self.program.kind_codes[fact.kind]}
        for prop, (_alias, keys) in part.native_paths.items():
            value = fact.data       # native tests only read the bound fact (the case file for CASE rules)
            for k in keys:
                value = value.get(k) if isinstance(value, dict) else None
            if isinstance(value, (str, bool, int)) and not (type(value) is int and abs(value) >= 2 ** 53):
                out[prop] = value
        for prop, rule, cond in part.flags:
            out[prop] = bool(cond.fn(env_for(rule, fact)))
        self.facts[self.next_id] = fact
        return out

    def run(self, stratum_index: int, initial: list, env_for, fire, max_firings: int) -> int:
        """Assert `initial` facts into the stratum's partitions and fire until quiet; returns firings."""
        parts_by_kind = self.program.strata[stratum_index]
        queue = list(initial)
        firings = 0
        qi = 0
        while qi < len(queue):
            fact = queue[qi]
            qi += 1
            for part in parts_by_kind.get(fact.kind, ()):
                firings = self._assert(part, fact, env_for, fire, queue, firings, max_firings)
        return firings

    def _assert(self, part, fact, env_for, fire, queue, firings, max_firings) -> int:
        code, state = _dre.assert_fact(part.handle, json.dumps(self.lean(part, fact, env_for), ensure_ascii=False))
        if code == 1:          # no rule of this partition matches: nothing stored, nothing to do
            return firings
        self.stored.add(part.handle)
        if code != 0:
            raise EvaluationError([Issue("eval.backend", f"durable-rules refused a fact (code {code})", Location(),
                                         "report this: it is a bug in regcode's adapter")])
        result = _dre.start_action_for_state(part.handle, state)
        while result:
            message = json.loads(result[1])
            try:
                for name, matched in message.items():
                    bound = self.facts[matched["m"]["id"]]
                    for rule in part.groups[name]:
                        firings += 1
                        if firings > max_firings:
                            raise EvaluationError([Issue("eval.limit", f"more than {max_firings} rule firings: the derivations do not end",
                                                         rule.location, "check rules that derive facts from facts of their own kind")])
                        queue.extend(fire(rule, bound))
            except BaseException:
                _dre.abandon_action(part.handle, state)
                raise
            following = _dre.complete_and_start_action(part.handle, state)
            result = (None, following) if following else None
        return firings

    def close(self) -> None:
        for handle in sorted(self.stored):
            _dre.delete_state(handle, SID)
        self.stored.clear()
        self.facts.clear()
