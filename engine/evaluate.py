"""Stage 4, evaluate: one case file through a compiled policy, stratum by stratum, with every firing recorded."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import fastjsonschema
import jsonschema

from . import _dates
from . import _ir as ir
from ._python import visible
from .compile import CompiledPolicy
from .errors import EvaluationError, InputError, Issue, IssueCollector, Location, PolicyError, did_you_mean
from .load import Document, format_path

MAX_FIRINGS = 20000          # bound on rule firings per evaluation (forward chaining must end)
MAX_DERIVED = 5000           # bound on derived facts per evaluation
BACKENDS = ("python", "durable")
DEFAULT_BACKEND = "python"   # measured several times faster than durable with the same output; README "Measured speed"


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


class State:
    """One evaluation as the backends see it: the facts, the decisions resolved so far, the claims.

    A backend's program calls `facts_of` for the facts a stratum starts from, `fire` when a rule's
    condition holds on a fact (with what it matched, when tracing), and `end_stratum` after each
    stratum, which resolves the decisions later strata read."""

    def __init__(self, policy: CompiledPolicy, program, case: dict, as_of: str, params: dict, traced: bool):
        self.policy = policy
        self.program = program
        self.case = case
        self.as_of = as_of
        self.params = params
        self.traced = traced
        self.decisions: dict = {}
        self.claims: dict = {name: [] for name in policy.decisions}
        self.derived: dict = {}
        self.firings = 0
        self.consumed = program.consumed
        self.cache = program.case_cache(case, as_of)
        self._case_fact = Fact(ir.CASE, case, "")
        self._list_facts: dict = {}

    def facts_of(self, kind: str) -> list:
        if kind == ir.CASE:
            return [self._case_fact]
        if kind.startswith("list:"):
            found = self._list_facts.get(kind)
            if found is None:
                path = kind[5:]
                keys = tuple(path.split("."))
                pairs = visible(self.case, keys, self.policy.event_dates.get(keys), self.as_of)
                found = self._list_facts[kind] = [Fact(kind, item, f"{path}[{i}]") for i, item in pairs]
            return found
        return [f for f in self.derived.values() if f.kind == kind]

    def fire(self, rule: ir.Rule, fact: Fact, trace) -> list:
        """A rule's condition held on `fact`: apply its conclusions, return the new facts to match.

        An exception inside a conclusion becomes an EvaluationError naming the rule: never swallowed."""
        self.firings += 1
        if self.firings > MAX_FIRINGS:
            raise EvaluationError([Issue("eval.limit", f"more than {MAX_FIRINGS} rule firings: the derivations do not end",
                                         rule.location, "check rules that derive facts from facts of their own kind")])
        matched = []
        if trace:
            seen = set()
            for path, value in trace:
                if path not in seen:
                    seen.add(path)
                    matched.append({"path": path, "value": value})
        try:
            values = self.program.conclude(rule, fact, self)
        except (EvaluationError, InputError):
            raise
        except Exception as exc:
            raise EvaluationError([Issue("eval.action", f"rule `{rule.id}` failed on {fact.label or 'the case file'}: "
                                         f"{type(exc).__name__}: {exc}", rule.location,
                                         "report this with the case file: a rule's conclusion could not be computed")]) from exc
        new = []
        for concl, value in zip(rule.conclusions, values):
            if isinstance(concl, ir.Decide):
                self.claims[concl.decision].append(Claim(rule, concl.decision, value[0], value[1], fact.label, matched))
                continue
            kind = f"derived:{concl.fact}"
            ident = (kind, _freeze(value))
            existing = self.derived.get(ident)
            if existing is None:
                if len(self.derived) >= MAX_DERIVED:
                    raise EvaluationError([Issue("eval.limit", f"more than {MAX_DERIVED} derived facts", rule.location,
                                                 "check rules that derive facts from facts of their own kind")])
                existing = Fact(kind, value, _label(concl.fact, value))
                self.derived[ident] = existing
                if kind in self.consumed:
                    new.append(existing)
            existing.derived_by.append((rule.id, fact.label))
        return new

    def failed(self, rules: list, fact: Fact, exc: Exception):
        """A condition could not be evaluated (a bug, or a value the facts schema let through)."""
        if isinstance(exc, PolicyError):
            raise exc
        names = ", ".join(f"`{r.id}`" for r in rules[:4]) + (" ..." if len(rules) > 4 else "")
        raise EvaluationError([Issue("eval.action", f"the conditions of {names} failed on {fact.label or 'the case file'}: "
                                     f"{type(exc).__name__}: {exc}", rules[0].location,
                                     "report this with the case file: a condition could not be evaluated")]) from exc

    def end_stratum(self, k: int) -> None:
        for name in _read_after(self.policy, k):   # only what a later stratum reads; all of them at the end
            self.decisions[name] = resolve(self.policy.decisions[name], self.claims[name])


# ---- backends ----------------------------------------------------------------------------
def program_for(policy: CompiledPolicy, backend: str = DEFAULT_BACKEND):
    """The backend's compiled program for a policy version: built once, then kept with the policy."""
    program = policy.backends.get(backend)
    if program is None:
        if backend == "python":
            from ._python import Program
        elif backend == "durable":
            from ._durable import Program
        else:
            raise EvaluationError([Issue("eval.backend", f"unknown backend {backend!r}; one of {', '.join(BACKENDS)}",
                                         Location(), "use --backend python or --backend durable")])
        program = policy.backends[backend] = Program(policy)
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
    return table[k] if k < len(table) else ()


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
             checked: bool = False, doc: Optional[Document] = None, trace: bool = True) -> Evaluation:
    """Evaluate one case file. `case` must already be schema-checked unless `doc` is given.

    With `trace` (the default) every claim carries the facts its rule matched, recorded while the
    conditions were evaluated; without it only the decisions and which rules fired are kept."""
    if doc is not None and not checked:
        check_case(policy, doc)
    program = program_for(policy, backend)
    data = program.prepare(case)
    state = State(policy, program, data, as_of, parameters_at(policy, as_of), trace)
    program.run(state)
    for name, decl in policy.decisions.items():   # also when the policy has no rules at all
        state.decisions[name] = resolve(decl, state.claims[name])
    return Evaluation(policy, as_of, {name: state.decisions[name] for name in policy.decisions}, state.claims,
                      sorted(state.derived.values(), key=lambda f: f.label), state.firings, source, identity_of(policy, case))
