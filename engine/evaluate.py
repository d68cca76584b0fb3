"""Stage 4, evaluate: one case file through a compiled policy, stratum by stratum, with every firing recorded."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import fastjsonschema
import jsonschema

from . import _dates, _durable
from . import _ir as ir
from ._operators import Env
from .compile import CompiledPolicy
from .errors import EvaluationError, InputError, Issue, IssueCollector, did_you_mean
from .load import Document, format_path

MAX_FIRINGS = 20000          # bound on rule firings per evaluation (forward chaining must end)
MAX_DERIVED = 5000           # bound on derived facts per evaluation
BACKENDS = ("python", "durable")
DEFAULT_BACKEND = "python"     # measured faster; see README "Measured speed"


@dataclass(eq=False)
class Fact:
    """A fact rules bind to: the case file, one item of one of its lists, or a derived fact."""

    kind: str
    data: Any
    label: str                 # printable, stable name: `licenses[0]`, `category{name=电线电缆}`
    derived_by: list = field(default_factory=list)


@dataclass
class Claim:
    rule: ir.Rule
    decision: str
    value: Any
    key: Any
    fact: str
    matched: list


@dataclass
class Evaluation:
    """The outcome of one evaluation: decisions, their claims, derived facts, firings."""

    policy: CompiledPolicy
    as_of: str
    decisions: dict
    claims: dict               # decision -> [Claim]
    derived: list              # Fact
    firings: int
    source: str = ""
    identity: dict = field(default_factory=dict)   # the case's identity fields (policy `identity:`), nested as in the case


# ---- input -------------------------------------------------------------------------------
def _validator(policy: CompiledPolicy):
    v = policy.backends.get("_validator")
    if v is None:
        v = jsonschema.Draft202012Validator(policy.facts_schema, format_checker=jsonschema.FormatChecker())
        policy.backends["_validator"] = v
    return v


# Keywords fastjsonschema (drafts 4-7) does not know; a schema using one is checked by jsonschema alone.
_NEWER_KEYWORDS = {"unevaluatedProperties", "unevaluatedItems", "prefixItems", "dependentRequired",
                   "dependentSchemas", "$dynamicRef", "$dynamicAnchor", "minContains", "maxContains", "$anchor"}


def _uses_newer_keywords(node, depth: int = 0) -> bool:
    if depth > 64:
        return True
    if isinstance(node, dict):
        return any(k in _NEWER_KEYWORDS or _uses_newer_keywords(v, depth + 1) for k, v in node.items())
    if isinstance(node, list):
        return any(_uses_newer_keywords(v, depth + 1) for v in node)
    return False


def _fast_validator(policy: CompiledPolicy):
    """fastjsonschema compiles the facts schema to Python (about 15x faster than jsonschema's walk);
    it only answers valid / not valid, and jsonschema then reports every problem with its place."""
    if "_fast" not in policy.backends:
        fast = None
        if not _uses_newer_keywords(policy.facts_schema):
            schema = {k: v for k, v in policy.facts_schema.items() if k != "$schema"}
            try:
                fast = fastjsonschema.compile(schema, formats={"date": _dates.is_date}, use_default=False)
            except (fastjsonschema.JsonSchemaDefinitionException, ValueError, TypeError, RecursionError):
                fast = None
        policy.backends["_fast"] = fast
    return policy.backends["_fast"]


def check_case(policy: CompiledPolicy, doc: Document) -> None:
    """Validate a case file against the policy's facts schema; every problem, with its place."""
    fast = _fast_validator(policy)
    if fast is not None:
        try:
            fast(doc.data)
            return
        except fastjsonschema.JsonSchemaException:
            pass   # report with jsonschema below
    issues = IssueCollector(limit=50)
    for err in sorted(_validator(policy).iter_errors(doc.data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(err.absolute_path)
        hint = ""
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = sorted((err.schema.get("properties") or {}))
            extra = sorted(set(err.instance) - set(allowed))
            msg = f"unknown field {', '.join('`%s`' % e for e in extra)}; allowed: {', '.join(allowed)}"
            hint = did_you_mean(extra[0], allowed) if extra else ""
        elif err.validator == "enum":
            msg = f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
            hint = did_you_mean(str(err.instance), map(str, err.validator_value))
        elif err.validator == "required":
            msg = err.message.replace("is a required property", "is required")
        else:
            msg = err.message
        issues.add("input.schema", f"{format_path(path)}: {msg}", doc.location(path), hint or f"fix the case file against {policy.ref}'s facts schema")
    issues.raise_if_any(InputError)


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
            data[name] = _copy(default)
        if inner is not None:
            _fill_defaults(inner, data[name])


def _copy(value):
    """A copy of JSON-shaped data (several times faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# ---- decisions ---------------------------------------------------------------------------
def _combine(decl: ir.DecisionDecl, values: list, claims: list, value_type: str):
    if not values:
        return None
    combine = decl.combine
    if combine in ("min", "max"):
        order = decl.order if value_type == "enum" else None
        keyf = (lambda v: order.get(v, -1)) if order else (lambda v: v)
        try:
            return (min if combine == "min" else max)(values, key=keyf)
        except TypeError:
            raise EvaluationError([Issue("eval.type", f"decision `{decl.name}`: claims of different types: {values!r}",
                                         decl.location, "make the rules claim values of one type")])
    if combine == "any":
        return any(bool(v) for v in values)
    if combine == "all":
        return all(bool(v) for v in values)
    if combine == "sum":
        return sum(values)
    if combine == "union":
        codes = set()
        for v in values:
            codes.update(v if isinstance(v, list) else [v])
        order = decl.order
        return sorted(codes, key=(lambda c: (order.get(c, len(order)), str(c))) if order else str)
    distinct = sorted({repr(v) for v in values})  # unique
    if len(distinct) > 1:
        rules = ", ".join(sorted({f"`{c.rule.id}` ({c.value!r})" for c in claims}))
        raise EvaluationError([Issue("eval.conflict", f"decision `{decl.name}` is claimed with different values by {rules}",
                                     decl.location, "declare a combination strategy or make the rules agree")])
    return values[0]


def resolve(decl: ir.DecisionDecl, claims: list):
    """Combine the claims of one decision by its declared strategy (never by rule order)."""
    live = [c for c in claims if c.value is not None]
    if decl.type == "map":
        by_key: dict = {}
        for c in live:
            if c.key is not None:
                by_key.setdefault(c.key, []).append(c)
        if not by_key:
            return _copy(decl.default)
        return {k: _combine(decl, [c.value for c in cs], cs, decl.value_type) for k, cs in sorted(by_key.items(), key=lambda kv: str(kv[0]))}
    if not live:
        return _copy(decl.default)
    return _combine(decl, [c.value for c in live], live, decl.type)


# ---- running -----------------------------------------------------------------------------
def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _label(kind: str, data: dict) -> str:
    inner = ",".join(f"{k}={data[k]}" for k in sorted(data) if data[k] is not None and not isinstance(data[k], (dict, list)))
    return f"{kind}{{{inner}}}"


class _Run:
    """The state of one evaluation, shared by the backends through `env_for` and `fire`."""

    def __init__(self, policy: CompiledPolicy, case: dict, as_of: str, params: dict):
        self.policy = policy
        self.case = case
        self.as_of = as_of
        self.params = params
        self.decisions: dict = {}
        self.claims: dict = {name: [] for name in policy.decisions}
        self.derived: dict = {}
        self.firings = 0
        self.seen: set = set()
        self.consumed = {r.binds for r in policy.rules}
        self.case_fact = Fact(ir.CASE, case, "")
        self._list_facts: dict = {}

    def env_for(self, rule: ir.Rule, fact: Fact, trace=None) -> Env:
        vars = {rule.alias: (fact.data, fact.label)} if rule.alias else {}
        return Env(self.case, self.as_of, self.params, self.decisions, vars, trace)

    def facts_of(self, kind: str) -> list:
        if kind == ir.CASE:
            return [self.case_fact]
        if kind.startswith("list:"):
            if kind not in self._list_facts:
                path = kind[5:]
                items = self.case
                for k in path.split("."):
                    items = items.get(k) if isinstance(items, dict) else None
                self._list_facts[kind] = [Fact(kind, item, f"{path}[{i}]") for i, item in enumerate(items or [])]
            return self._list_facts[kind]
        return [f for f in self.derived.values() if f.kind == kind]

    def fire(self, rule: ir.Rule, fact: Fact) -> list:
        """A rule's conditions held for `fact`: record why, apply its conclusions, return new facts.

        An exception inside a rule becomes an EvaluationError naming the rule: never swallowed."""
        try:
            return self._fire(rule, fact)
        except (EvaluationError, InputError):
            raise
        except Exception as exc:
            raise EvaluationError([Issue("eval.action", f"rule `{rule.id}` failed on {fact.label or 'the case file'}: "
                                         f"{type(exc).__name__}: {exc}", rule.location,
                                         "report this with the case file: a rule's conclusion could not be computed")]) from exc

    def _fire(self, rule: ir.Rule, fact: Fact) -> list:
        if (rule.id, id(fact)) in self.seen:     # a rule fires once per fact
            return []
        self.seen.add((rule.id, id(fact)))
        self.firings += 1
        trace: list = []
        env = self.env_for(rule, fact, trace)
        if not rule.condition.fn(env):
            raise EvaluationError([Issue("eval.backend_mismatch", f"the backend fired `{rule.id}` on {fact.label or 'the case file'} "
                                         "but its condition does not hold", rule.location, "report this: it is a bug in regcode")])
        matched = []
        seen_paths = set()
        for path, value in trace:
            if path not in seen_paths:
                seen_paths.add(path)
                matched.append({"path": path, "value": value})
        env.trace = None
        new = []
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                key = concl.map_key.fn(env) if concl.map_key is not None else None
                value = concl.value.fn(env)
                self.claims[concl.decision].append(Claim(rule, concl.decision, value, key, fact.label, matched))
            else:
                data = {name: expr.fn(env) for name, expr in concl.fields.items()}
                kind = f"derived:{concl.fact}"
                ident = (kind, _freeze(data))
                existing = self.derived.get(ident)
                if existing is None:
                    if len(self.derived) >= MAX_DERIVED:
                        raise EvaluationError([Issue("eval.limit", f"more than {MAX_DERIVED} derived facts", rule.location,
                                                     "check rules that derive facts from facts of their own kind")])
                    existing = Fact(kind, data, _label(concl.fact, data))
                    self.derived[ident] = existing
                    if kind in self.consumed:
                        new.append(existing)
                existing.derived_by.append((rule.id, fact.label))
        return new


def _python_stratum(run: _Run, rules: list, initial: list) -> None:
    """The reference backend: the same rules evaluated by their closures, facts in a work queue."""
    by_kind: dict = {}
    for rule in rules:
        by_kind.setdefault(rule.binds, []).append(rule)
    queue = list(initial)
    qi = 0
    while qi < len(queue):
        fact = queue[qi]
        qi += 1
        for rule in by_kind.get(fact.kind, ()):
            if rule.condition.fn(run.env_for(rule, fact)):
                if run.firings >= MAX_FIRINGS:
                    raise EvaluationError([Issue("eval.limit", f"more than {MAX_FIRINGS} rule firings", rule.location, "")])
                queue.extend(run.fire(rule, fact))


def program_for(policy: CompiledPolicy):
    program = policy.backends.get("durable")
    if program is None:
        program = _durable.build(policy)
        policy.backends["durable"] = program
    return program


def parameters_at(policy: CompiledPolicy, as_of: str) -> dict:
    params = {}
    for name, decl in policy.parameters.items():
        value = decl.at(as_of)
        if value is ir._MISSING:
            raise EvaluationError([Issue("eval.parameter", f"parameter `{name}` has no value in force on {as_of} "
                                         f"(its values start {min(decl.values)})", decl.location, "add a value dated on or before that day")])
        params[name] = value
    return params


def _read_after(policy: CompiledPolicy, k: int) -> tuple:
    """Decisions some rule of a stratum after `k` reads (cached per policy)."""
    table = policy.backends.get("_read_after")
    if table is None:
        table = policy.backends["_read_after"] = [
            tuple(sorted({d for later in policy.strata[i + 1:] for r in later for d in r.reads_decisions}))
            for i in range(len(policy.strata))]
    return table[k]


def identity_of(policy: CompiledPolicy, case) -> dict:
    """The values of the policy's identity paths in `case`, nested as there (absent ones are left out)."""
    out: dict = {}
    for keys in policy.identity:
        value = case
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if value is None or isinstance(value, (dict, list)):
            continue
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    return out


def evaluate(policy: CompiledPolicy, case: dict, as_of: str, *, backend: str = DEFAULT_BACKEND, source: str = "",
             checked: bool = False, doc: Optional[Document] = None) -> Evaluation:
    """Evaluate one case file. `case` must already be schema-checked unless `doc` is given."""
    if doc is not None and not checked:
        check_case(policy, doc)
    case = _copy(case)
    plan = policy.backends.get("_defaults", False)
    if plan is False:
        plan = policy.backends["_defaults"] = _defaults_plan(policy.facts_schema)
    _fill_defaults(plan, case)
    case["as_of"] = as_of
    run = _Run(policy, case, as_of, parameters_at(policy, as_of))
    session = _durable.Session(program_for(policy)) if backend == "durable" else None
    try:
        for k, rules in enumerate(policy.strata):
            kinds = sorted({r.binds for r in rules})
            initial = [f for kind in kinds for f in run.facts_of(kind)]
            if session is not None:
                session.run(k, initial, run.env_for, run.fire, MAX_FIRINGS)
            else:
                _python_stratum(run, rules, initial)
            for name in _read_after(policy, k):   # only what a later stratum reads; all of them at the end
                run.decisions[name] = resolve(policy.decisions[name], run.claims[name])
    finally:
        if session is not None:
            session.close()
    for name, decl in policy.decisions.items():   # also when the policy has no rules at all
        run.decisions[name] = resolve(decl, run.claims[name])
    return Evaluation(policy, as_of, {name: run.decisions[name] for name in policy.decisions}, run.claims,
                      sorted(run.derived.values(), key=lambda f: f.label), run.firings, source, identity_of(policy, case))
