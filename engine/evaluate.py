"""Stage 4, evaluate: one case file through a compiled policy, stratum by stratum, with every firing recorded."""
from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from typing import TYPE_CHECKING

from . import _ir as ir

if TYPE_CHECKING:
    from .compile import CompiledPolicy
from .errors import EvaluationError, InputError, Issue, IssueCollector, Location, did_you_mean, read_by
from .load import Document, format_path, printable

BACKENDS = ("python", "durable")
DEFAULT_BACKEND = "python"   # measured several times faster than durable with the same output; README "Measured speed"


@dataclass(eq=False, slots=True)
class Fact:
    """A fact rules bind to: the case file, one item of one of its lists, or a derived fact."""

    kind: str
    data: Any
    label: str                 # printable, stable name: `licenses[0]`, `category{name=电线电缆}`
    derived_by: list = field(default_factory=list)


# A claim is a tuple (value, key, rule index, fact label, matched): one rule's claim on one decision,
# the map key it names (or None), the fact it fired on, and what its condition matched, in the output's
# form: [{"path", "value"}] in the order it read them, each path once (one list per firing, shared by the
# claims of that firing: read it, do not change it). Without tracing, only the first three are kept.
# The Python backend adds a sixth, the claim's entry of the output's `why` but for `decisive` (which only
# the final value tells; explain.to_dict sets it, the same on every call for one evaluation).
VALUE, KEY, RULE, FACT, MATCHED, ENTRY = range(6)


@dataclass(slots=True)
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
    entries: bool = False      # every claim carries its why entry (ENTRY): the backend wrote it while the rule fired
    notes: tuple = ()          # what the case says that no rule can use (reference_notes), as output mappings


# ---- input -------------------------------------------------------------------------------
def _validator(policy: CompiledPolicy):
    v = policy.backends.get("_validator")
    if v is None:
        import jsonschema   # only for the human messages about a case that is not valid
        v = _linear_patterns(jsonschema.Draft202012Validator)(policy.facts_schema, format_checker=jsonschema.FormatChecker())
        policy.backends["_validator"] = v
    return v


_PATTERNS: dict = {}


def matches(value: str, text: str) -> bool:
    """`text` has the pattern `value`, by jsonschema-rs (Rust's regex: linear time) where it can, else by
    Python's `re` (which backtracks); compiled once per pattern."""
    check = _PATTERNS.get(value)
    if check is None:
        try:
            import jsonschema_rs
            check = jsonschema_rs.validator_for({"type": "string", "pattern": value}).is_valid
        except Exception:    # no jsonschema-rs, or a pattern Rust's regex refuses (look-around...): Python's, as before
            check = lambda text, p=value: re.search(p, text) is not None
        if len(_PATTERNS) < 10000:
            _PATTERNS[value] = check
    return check(text)


def _linear_patterns(base):
    """`base` with `pattern` matched by jsonschema-rs (Rust's regex: linear time) instead of Python's `re`,
    which backtracks: a policy's pattern such as `^(a+)+$` must not make reporting a bad case file hang."""
    try:
        import jsonschema_rs  # noqa: F401
    except ImportError:
        return base
    import jsonschema

    def pattern(validator, value, instance, schema):
        if not validator.is_type(instance, "string") or not isinstance(value, str):
            return
        if not matches(value, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {value!r}")

    return jsonschema.validators.extend(base, {"pattern": pattern})


def _fast_validator(policy: CompiledPolicy):
    """jsonschema-rs, compiled once per policy: the facts schema's own draft (2020-12), formats asserted, no
    network (offline). About 10x faster than jsonschema's walk; it answers valid or not, and jsonschema
    then reports every problem with its place. None when jsonschema-rs cannot be imported here."""
    if "_fast" not in policy.backends:
        fast = None
        try:
            import jsonschema_rs
            fast = jsonschema_rs.validator_for(policy.facts_schema, validate_formats=True, offline=True)
        except ImportError:
            fast = None
        except Exception:   # a schema jsonschema-rs cannot compile: jsonschema alone checks (validate accepted it)
            fast = None
        policy.backends["_fast"] = fast
    return policy.backends["_fast"]


MAX_SCHEMA_ERRORS = 1000    # schema errors looked at per case file (50 are reported)
# Which error speaks for a place that has several (a date's `pattern` and `format`, a key both unknown and
# meant for a required one): the one that says most about what to write there.
_FIRST_SAID = {"type": 0, "required": 1, "additionalProperties": 2, "enum": 3, "const": 3, "format": 4}


def check_case(policy: CompiledPolicy, doc: Document) -> None:
    """Validate a case file against the policy's facts schema; every problem, one per place, with its
    place, in the case file's terms (engine/_schema_text.py) and a hint saying what to write there."""
    fast = policy.backends.get("_fast", _fast_validator)
    if fast is _fast_validator:     # (not built yet)
        fast = _fast_validator(policy)
    if fast is not None and fast.is_valid(doc.data):
        return
    from ._schema_text import explain_case
    # the first errors only: 100,000 empty list items would otherwise give 800,000 errors to sort (20 s)
    first = itertools.islice(_validator(policy).iter_errors(doc.data), MAX_SCHEMA_ERRORS)
    said: dict = {}      # location -> (rank, issue): one problem per place
    for err in sorted(first, key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(err.absolute_path)
        where = doc.location(path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = sorted((err.schema.get("properties") or {}))
            extra = sorted(set(err.instance) - set(allowed))
            if extra:          # point at the first unknown key, where it is written
                where = doc.key_location(path + (extra[0],))
            shown = ", ".join("`%s`" % printable(e[:60]) for e in extra[:10]) + (f" and {len(extra) - 10:,} more" if len(extra) > 10 else "")
            msg = f"{format_path(path) + ': ' if path else ''}unknown field {shown}; allowed: {', '.join(allowed)}"
            hint = (did_you_mean(extra[0], allowed) if extra else "") or "remove it"
        else:
            msg, hint, key = explain_case(err, format_path(path) if path else "", matches, json=doc.syntax == "json")
            if key is not None and isinstance(err.instance, dict) and key in err.instance:   # a misspelt key: where it is written
                where = doc.key_location(path + (key,))
        if len(msg) > 500:   # a message may quote many keys
            msg = msg[:497] + "..."
        rank = _FIRST_SAID.get(err.validator, 5)
        if where not in said or rank < said[where][0]:
            said[where] = (rank, Issue("input.schema", printable(msg), where,
                                       printable(hint) or f"fix the case file against {policy.ref}'s facts schema"))
    issues = IssueCollector(limit=50)
    issues.extend(issue for _rank, issue in said.values())
    if not issues and fast is not None:   # the two validators disagree: report jsonschema-rs's reasons rather than accept
        for err in fast.iter_errors(doc.data):
            path = tuple(err.instance_path)
            issues.add("input.schema", f"{format_path(path)}: {err.message}", doc.location(path),
                       f"fix the case file against {policy.ref}'s facts schema")
    issues.raise_if_any(InputError)


def _copy(value):
    """A copy of JSON-shaped data (several times faster than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# ---- decisions ---------------------------------------------------------------------------
def _combine(decl: ir.DecisionDecl, values: list, claims: list, value_type: str, rules: list):
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
        try:
            return sum(values)
        except TypeError:
            raise EvaluationError([Issue("eval.type", f"decision `{decl.name}`: claims that are not numbers: {values!r}",
                                         decl.location, "make the rules claim numbers")])
    if combine == "union":
        codes = set()
        for v in values:
            codes.update(v if isinstance(v, list) else [v])
        order = decl.order
        return sorted(codes, key=(lambda c: (order.get(c, len(order)), str(c))) if order else str)
    distinct = sorted({repr(v) for v in values})  # unique
    if len(distinct) > 1:
        named = ", ".join(sorted({f"`{rules[c[RULE]].id}` ({c[VALUE]!r})" for c in claims}))
        raise EvaluationError([Issue("eval.conflict", f"decision `{decl.name}` is claimed with different values by {named}",
                                     decl.location, "declare a combination strategy or make the rules agree")])
    return values[0]


def _declared(order: dict, value, many: bool) -> bool:
    """Whether a claimed value is one of the decision's declared values (each of its codes, for a list: `many`)."""
    try:
        return all(v in order for v in value) if many and isinstance(value, list) else value in order
    except TypeError:        # a mapping, or a list where one value goes, is no declared value
        return False


def _first_undeclared(order: dict, value, many: bool):
    """The value, or for a list decision's list its first code, that is not declared."""
    if many and isinstance(value, list):
        return next(v for v in value if not _declared(order, v, False))
    return value


def _shown(value) -> str:
    """A claimed value in a message: as Python writes it (as eval.conflict says them), long ones cut."""
    text = printable(repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


def _undeclared_claim(decl: ir.DecisionDecl, claims: list, rules: list):
    """eval.value for the claim (the first rule's, then the smallest value) whose value the decision does not declare:
    a rule's condition may narrow what its path gives to the declared values, so this is said when it did not."""
    order, many = decl.order, (decl.value_type if decl.type == "map" else decl.type) == "list"
    bad = min(((rules[c[RULE]].index, _shown(_first_undeclared(order, c[VALUE], many)), c[RULE]) for c in claims
               if c[VALUE] is not None and not _declared(order, c[VALUE], many)), default=None)
    if bad is None:
        return
    rule = rules[bad[2]]
    raise EvaluationError([Issue(
        "eval.value", f"rule `{rule.id}` claims {bad[1]} for `{decl.name}`, which takes one of "
        f"{', '.join(_shown(v) for v in decl.values)}: a value it does not declare is never output",
        rule.location, "narrow the rule's condition to the declared values, or declare the value")])


def _declares_values(decl: ir.DecisionDecl) -> bool:
    return decl.order is not None and (decl.value_type if decl.type == "map" else decl.type) in ("enum", "list")


def resolve(decl: ir.DecisionDecl, claims: list, rules: list):
    """Combine the claims of one decision by its declared strategy (never by rule order)."""
    if not claims:
        default = decl.default
        return _copy(default) if isinstance(default, (dict, list)) else default
    live = [c for c in claims if c[VALUE] is not None]
    if _declares_values(decl):      # (of a map, the claims of an entry: one without a key is no entry)
        _undeclared_claim(decl, [c for c in live if c[KEY] is not None] if decl.type == "map" else live, rules)
    if decl.type == "map":
        by_key: dict = {}
        for c in live:
            if c[KEY] is not None:
                by_key.setdefault(c[KEY], []).append(c)
        if not by_key:
            return _copy(decl.default)
        return {k: _combine(decl, [c[VALUE] for c in cs], cs, decl.value_type, rules)
                for k, cs in sorted(by_key.items(), key=lambda kv: str(kv[0]))}
    if not live:
        return _copy(decl.default)
    return _combine(decl, [c[VALUE] for c in live], live, decl.type, rules)


def resolver(policy: CompiledPolicy, decl: ir.DecisionDecl):
    """fn(claims) -> the decision's value, for one decision of one policy (what generated code calls).

    Each strategy has a direct form for the common shapes of claims (one claim, enum values) that gives
    what `resolve` gives; anything else goes through `resolve`."""
    rules = policy.rules
    default = decl.default
    mutable = isinstance(default, (dict, list))
    if decl.type in ("enum", "number", "date") and decl.combine in ("min", "max"):
        order = decl.order if decl.type == "enum" else None
        best_is_max = decl.combine == "max"

        def fast(claims):
            if not claims:
                return default
            if len(claims) == 1 and claims[0][VALUE] is not None and (order is None or claims[0][VALUE] in order):
                return claims[0][VALUE]
            if order is None:
                return resolve(decl, claims, rules)
            best = at = None      # the first claim furthest along (max) or back (min) the declared order
            try:
                for c in claims:
                    value = c[VALUE]
                    if value is None:
                        continue
                    here = order[value]
                    if best is None or (here > at if best_is_max else here < at):
                        best, at = value, here
            except (KeyError, TypeError):   # a value the decision does not declare, or a list or mapping (a try costs nothing until it catches)
                _undeclared_claim(decl, claims, rules)
                raise
            return best if best is not None else _copy(default)
        return fast
    if decl.type == "map" and decl.value_type == "enum" and decl.combine in ("min", "max"):
        order, best_is_max = decl.order, decl.combine == "max"

        def enum_map(claims):   # per key, the first claim furthest along (max) or back (min) the declared order
            if not claims:
                return {}
            best: dict = {}
            try:
                for c in claims:
                    value, key = c[VALUE], c[KEY]
                    if value is None or key is None:
                        continue
                    at = order[value]
                    if key not in best:
                        best[key] = value
                        continue
                    if at > order[best[key]] if best_is_max else at < order[best[key]]:
                        best[key] = value
            except (KeyError, TypeError):   # a value the decision does not declare, or a list or mapping (said of the claims of an entry, as resolve says it)
                _undeclared_claim(decl, [c for c in claims if c[KEY] is not None], rules)
                raise
            if len(best) > 1:
                return {k: best[k] for k in sorted(best, key=str)}
            return best
        return enum_map
    if decl.type == "list" and decl.combine == "union":
        order = decl.order
        declared = frozenset(order) if order else None

        def union(claims):
            if not claims:
                return []
            codes = set()
            try:
                for c in claims:
                    value = c[VALUE]
                    if value is None:
                        continue
                    if isinstance(value, list):
                        codes.update(value)
                    else:
                        codes.add(value)
            except TypeError:     # a mapping (or a list in the list) claimed from a field of any type: no declared code
                if declared is not None:
                    _undeclared_claim(decl, claims, rules)
                raise
            if declared is not None and not codes <= declared:
                _undeclared_claim(decl, claims, rules)
            if len(codes) < 2:
                return list(codes)
            return sorted(codes, key=(lambda code: (order.get(code, len(order)), str(code))) if order else str)
        return union
    if decl.type == "bool" and decl.combine in ("any", "all"):
        want_any = decl.combine == "any"

        def boolean(claims):
            if len(claims) == 1:
                value = claims[0][VALUE]
                return default if value is None else bool(value)
            values = [bool(c[VALUE]) for c in claims if c[VALUE] is not None]
            if not values:
                return default
            return any(values) if want_any else all(values)
        return boolean
    if decl.combine == "unique" and decl.type != "map" and not _declares_values(decl):

        def unique(claims):      # one claim agrees with itself
            if len(claims) == 1 and claims[0][VALUE] is not None:
                return claims[0][VALUE]
            if not claims:
                return _copy(default) if mutable else default
            return resolve(decl, claims, rules)
        return unique

    def general(claims):
        if not claims:
            return _copy(default) if mutable else default
        return resolve(decl, claims, rules)
    return general


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
    """The parameters' values in force on `as_of` (the same dict for every date when none is dated).

    A dated parameter has no value before its first date (unless a `value` holds before it, see
    compile.continue_timeline). One that no rule reads is then left out: nothing depends on it (as OpenFisca and
    Catala ask for a value only where a formula uses it). One that a rule reads makes the evaluation on that date
    impossible: every such parameter is said at once, at its `values`, with the rules that read it."""
    found = policy.backends.get("_params")
    if found is None:
        readers = ir.parameter_readers(policy.rules)
        found = policy.backends["_params"] = (any(d.values is not None for d in policy.parameters.values()), {}, readers)
    dated, cache, readers = found
    key = as_of if dated else ""
    found = cache.get(key)
    if found is not None:
        return found
    params, issues = {}, []
    for name, decl in policy.parameters.items():
        value = decl.at(as_of)
        if value is not ir._MISSING:
            params[name] = value
        elif name in readers:
            issues.append(no_value_issue(policy, name, as_of, readers[name]))
    if issues:
        raise EvaluationError(issues)
    if len(cache) < 4096:
        cache[key] = params
    return params


@dataclass(frozen=True)
class NoValue(Issue):
    """`eval.parameter`: a parameter that rules read has no value on a date before its first one. It keeps which
    parameter and first date, so that `regcode test` says it once for every case it stops (testing.said_once)."""
    parameter: str = ""
    first: str = ""
    rules: tuple = ()


def no_value_issue(policy: CompiledPolicy, name: str, as_of: str, rules: list) -> Issue:
    decl = policy.parameters[name]
    first = min(decl.values)
    return NoValue("eval.parameter", f"{no_value_words(policy.ref, name, first, rules)}: on {as_of} {policy.ref} cannot be evaluated",
                   decl.values_location or decl.location, f"give `{name}` a value dated on or before {as_of} in its `values`, or evaluate "
                   f"{policy.ref} on dates from {first} on", name, first, tuple(rules))


def no_value_words(ref: str, name: str, first: str, rules) -> str:
    return f"parameter `{name}` of {ref} has no value before {first}, its first date, and {read_by(list(rules))}"


def _read_after(policy: CompiledPolicy, k: int) -> tuple:
    """Decisions some rule of a stratum after `k` reads (cached per policy)."""
    table = policy.backends.get("_read_after")
    if table is None:
        table = policy.backends["_read_after"] = [
            tuple(sorted({d for later in policy.strata[i + 1:] for r in later for d in r.reads_decisions}))
            for i in range(len(policy.strata))]
    return table[k] if k < len(table) else ()


def _identity_plan(policy: CompiledPolicy):
    """The identity paths grouped by their first key when every path has two keys (the common shape,
    `enterprise.name`): ((first, (second, ...)), ...) in the order written; None for any other shape."""
    found = policy.backends.get("_identity")
    if found is None:
        groups: dict = {}
        if all(len(keys) == 2 for keys in policy.identity):
            for first, second in policy.identity:
                groups.setdefault(first, []).append(second)
            found = tuple((first, tuple(seconds)) for first, seconds in groups.items())
        else:
            found = ()
        policy.backends["_identity"] = found = (found if found or not policy.identity else None,)
    return found[0]


def identity_of(policy: CompiledPolicy, case) -> dict:
    """The values of the policy's identity paths in `case`, nested as there (absent ones are left out)."""
    out: dict = {}
    groups = policy.backends.get("_identity")
    groups = _identity_plan(policy) if groups is None else groups[0]
    if groups is not None and isinstance(case, dict):     # each first key read once
        for first, seconds in groups:
            node = case.get(first)
            if not isinstance(node, dict):
                continue
            inner = {}
            for second in seconds:
                value = node.get(second)
                if value is not None and not isinstance(value, (dict, list)):
                    inner[second] = value
            if inner:
                out[first] = inner
        return out
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


def _at_case(exc: EvaluationError, doc: Optional[Document], source: str, case: Any = None) -> EvaluationError:
    """The error with the case's place on its issues that the case caused, where the backend knows no file: a case
    with more records than one evaluation takes (_python.limit_error), at the case file; a date moved out of the
    calendar (_python.DateOutOfRange), at the case file's field that holds the date (or the amount, when it alone
    leaves the calendar), found by value, that field named in the message, the rule's own place too: with several
    case files, the rule's place alone did not say which one."""
    moved = getattr(exc, "moved", None)

    def unplaced(issue: Issue) -> bool:
        return (issue.code == "eval.limit" and not issue.location.file and not issue.location.path) or (
            issue.code == "eval.date_range" and moved is not None)
    if not any(unplaced(i) for i in exc.issues) or not (doc is not None or source):
        return exc
    where = doc.whole() if doc is not None else Location(source)
    placed = []
    for issue in exc.issues:
        if unplaced(issue) and issue.code == "eval.date_range":
            issue = _date_range_at_case(issue, moved, case, doc, where)
        elif unplaced(issue):
            issue = replace(issue, location=where)
        placed.append(issue)
    return EvaluationError(placed)


CALENDAR_DAYS = 3_652_059       # 0001-01-01 .. 9999-12-31: an amount past it leaves the calendar from any date


def _date_range_at_case(issue: Issue, moved: tuple, case: Any, doc: Optional[Document], where: Location) -> Issue:
    """Found by value: the field is named, and the issue placed there, when one field of the case holds it; when
    several do (a deadline on the same day as a license), they are named and the issue placed at the case file."""
    base, years, months, days = moved
    dates = _paths_of(case, lambda v: type(v) is str and v == base)
    amounts = [n for n in (years, months, days) if n]
    numbers = _paths_of(case, lambda v: type(v) is int and v in amounts) if amounts else []
    alone = abs(years) * 366 + abs(months) * 31 + abs(days) > CALENDAR_DAYS
    found, what = (numbers, "amount") if alone and numbers else (dates, "date") if dates else (numbers, "amount")
    rule = issue.location
    rule_at = f"{rule.file.rsplit('/', 1)[-1]}:{rule.line}" if rule.file and rule.line else ""
    head, colon, rest = issue.message.partition(": ")
    message = f"{head}{' (' + rule_at + ')' if rule_at else ''}{colon}{rest}"
    named = ", ".join(f"`{format_path(p)}`" for p in found[:MAX_NAMED]) + (" ..." if len(found) > MAX_NAMED else "")
    if len(found) == 1:
        message += f" (the {what} is the case file's {named})"
        location = doc.location(found[0]) if doc is not None else replace(where, path=format_path(found[0]))
        hint = (f"check {named} in the case file ({base}): the rule's amount takes it out of the calendar" if what == "date"
                else f"check {named} in the case file: an amount that large takes any date out of the calendar")
    elif found:
        message += f" (the case file holds that {what} at {named})"
        location, hint = where, f"check {named} in the case file: {issue.hint}"
    else:
        location, hint = where, issue.hint
    return replace(issue, message=message, location=location, hint=hint)


MAX_NAMED = 4               # fields named that hold the value a date error names
MAX_SEARCHED = 100_000      # values looked at for the one a date error names: a bound, whatever the case holds


def _paths_of(data: Any, wanted) -> list:
    """The paths of the values (in the case file's order) for which `wanted` holds, at most MAX_NAMED + 1.
    Bounded, no recursion."""
    stack, seen, found = [((), data)], 0, []
    while stack and seen < MAX_SEARCHED and len(found) <= MAX_NAMED:
        path, value = stack.pop()
        seen += 1
        if type(value) is dict:
            stack.extend(reversed([(path + (k,), v) for k, v in value.items()]))
        elif type(value) is list:
            stack.extend(reversed([(path + (i,), v) for i, v in enumerate(value)]))
        elif wanted(value):
            found.append(path)
    return found


MAX_NOTES = 50     # notes kept of one case; past them, one more says how many were left out


def _reach_list(case: dict, keys: tuple):
    items = case
    for k in keys:
        items = items.get(k) if type(items) is dict else None
    return items if type(items) is list else None


def _names(items: Optional[list], name: str) -> set:
    """The values of `name` in the items (a mapping each, as the facts schema makes them): null, lists and mappings
    name nothing. In C for the common case (no Python call an item); item by item where that cannot be."""
    if not items:
        return set()
    try:
        found = set(map(operator.itemgetter(name), items))
    except (KeyError, TypeError):    # an item without the field, one that is no mapping, a value that cannot be hashed
        found = set()
        for item in items:
            v = item.get(name) if type(item) is dict else None
            if v is not None and not isinstance(v, (dict, list)):
                found.add(v)
        return found
    found.discard(None)
    return found


def _references_check(policy: CompiledPolicy):
    """check(case) -> whether every name that `references:` declares is known, written out for this policy's
    references (built once per version, from the declarations alone: names are repr'd): one set built in C a
    list; an item without the field or that is no mapping raises (KeyError, TypeError): the thorough way then."""
    def at(keys: tuple) -> str:
        return f"C.get({keys[0]!r})" if len(keys) == 1 else f"_reach(C, {keys!r})"
    lines, getters, targets = ["def check(C):"], [], {}
    for keys, name, target_keys, target_name in policy.references:
        target = (target_keys, target_name)
        if target not in targets:
            targets[target] = k = f"k{len(targets)}"
            getters.append(operator.itemgetter(target_name))
            lines += [f"    t = {at(target_keys)}",
                      f"    {k} = set(map(G[{len(getters) - 1}], t)) if t and type(t) is list else _EMPTY"]
        getters.append(operator.itemgetter(name))
        lines += [f"    s = {at(keys)}",
                  f"    if s and type(s) is list and not set(map(G[{len(getters) - 1}], s)) <= {targets[target]}: return False"]
    lines.append("    return True")
    namespace = {"__builtins__": {"set": set, "map": map, "type": type, "list": list}, "G": tuple(getters),
                 "_reach": _reach_list, "_EMPTY": frozenset()}
    exec(compile("\n".join(lines) + "\n", f"<regcode {policy.ref} references>", "exec"), namespace)
    policy.backends["_references"] = check = namespace["check"]
    return check


def reference_notes(policy: CompiledPolicy, case: dict) -> tuple:
    """reference_notes_of, for the common case (every name known: no notes) at the cost of one set built in C a
    list; at the first doubt (a name not known, an item without the field or that is no mapping), the thorough way."""
    check = policy.backends.get("_references") or _references_check(policy)
    try:
        if check(case):
            return ()
    except (KeyError, TypeError):
        pass
    return reference_notes_of(policy, case)


def reference_notes_of(policy: CompiledPolicy, case: dict) -> tuple:
    """The items of the case file that name, by a field the facts schema's `references:` declares, no item of the
    list they refer to (`spot_checks[2].category` naming no license's category): no rule can match them to one,
    so a misspelt name would otherwise change a decision in silence. Each a note {code, path, value, message,
    hint}, in the order of the declarations and the items; at most MAX_NOTES, then one that counts the rest.
    The common case, every name known, costs a set comprehension a list (most cases have none to say)."""
    notes: list = []
    left_out = 0
    known_of: dict = {}
    for keys, name, target_keys, target_name in policy.references:
        items = _reach_list(case, keys)
        if not items:
            continue
        known = known_of.get((target_keys, target_name))
        if known is None:
            known = known_of[(target_keys, target_name)] = _names(_reach_list(case, target_keys), target_name)
        if _names(items, name) <= known:
            continue
        for i, item in enumerate(items):
            v = item.get(name) if type(item) is dict else None
            if v is None or isinstance(v, (dict, list)) or v in known:
                continue
            if len(notes) >= MAX_NOTES:
                left_out += 1
                continue
            near = did_you_mean(str(v), sorted(map(str, known))) if known else ""
            notes.append({"code": "case.reference", "path": f"{'.'.join(keys)}[{i}].{name}", "value": v,
                          "message": f"`{v}` is the {target_name} of no item of {'.'.join(target_keys)} in the case file, "
                                     f"so no rule matches this record to one",
                          "hint": near or f"check the spelling, or add the {'.'.join(target_keys)} item it names"})
    if left_out:
        notes.append({"code": "case.reference", "path": "", "value": None,
                      "message": f"{left_out:,} more records name no item they refer to (the first {MAX_NOTES} are noted)",
                      "hint": "mend the ones above, then evaluate again"})
    return tuple(notes)


_label_of = operator.attrgetter("label")     # (a derived fact's; in C, no Python call per fact when sorting)


def evaluate(policy: CompiledPolicy, case: dict, as_of: str, *, backend: str = DEFAULT_BACKEND, source: str = "",
             checked: bool = False, doc: Optional[Document] = None, trace: bool = True) -> Evaluation:
    """Evaluate one case file. `case` must already be schema-checked unless `doc` is given.

    With `trace` (the default) every claim carries the facts its rule matched, recorded while the
    conditions were evaluated; without it only the decisions and which rules fired are kept."""
    if doc is not None and not checked:
        check_case(policy, doc)
    program = policy.backends.get(backend) or program_for(policy, backend)
    try:
        decisions, claims, derived, firings = program.run(case, as_of, parameters_at(policy, as_of), trace)
    except EvaluationError as exc:
        raise _at_case(exc, doc, source, case) from None
    # derived facts as Fact objects (the Python backend's traced code makes them) or (kind, data, label, by)
    facts = derived if not derived or type(derived[0]) is Fact else [Fact(kind, data, label, by) for kind, data, label, by in derived]
    if len(facts) > 1:
        facts.sort(key=_label_of)
    return Evaluation(policy, as_of, decisions, claims, facts, firings, source, identity_of(policy, case),
                      trace and getattr(program, "writes_entries", False),
                      reference_notes(policy, case) if policy.references else ())
