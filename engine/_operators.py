"""The rule language: one parse-and-check function per YAML keyword, registered by keyword.

Each function checks its own node (against its entry in schemas/operators.schema.yaml and the
facts it names) and returns the intermediate form (engine/_ir.py) with the shape of its value.
Nothing here evaluates: the backends compile the intermediate form. Adding an operator is one
function here, one entry in schemas/operators.schema.yaml and its code in engine/_python.py.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jsonschema

from . import _dates
from . import _ir as ir
from ._schema_text import explain, settle
from ._shapes import Shape
from .errors import IssueCollector, bounded_list, did_you_mean, nearest, not_declared
from .load import Document, json_type

CONDITIONS: dict[str, Callable] = {}
EXPRESSIONS: dict[str, Callable] = {}
OPS = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in")
MAX_DEPTH = 24        # nesting of conditions and expressions; deeper is refused (generated code must stay shallow)
MAX_LIST_DEPTH = 8    # list operators (some, count, latest, earliest) inside one another: each is a loop


def condition(keyword):
    def register(fn):
        CONDITIONS[keyword] = fn
        return fn
    return register


def expression(keyword):
    def register(fn):
        EXPRESSIONS[keyword] = fn
        return fn
    return register


# ---- parse context -----------------------------------------------------------------------
class ParseContext:
    """Per-document state while turning YAML into the intermediate form."""

    def __init__(self, doc: Document, issues: IssueCollector, root_shape: Shape, params: dict,
                 decisions: dict, operator_schemas: dict):
        self.doc = doc
        self.issues = issues
        self.root_shape = root_shape
        self.params = params
        self.decisions = decisions
        self.operator_schemas = operator_schemas
        self.removed: dict = {}      # ("decision" | "parameter", name) -> where this version `remove:`s it
        self.reads_decisions: set = set()
        self.params_used: set = set()
        self.depth = 0
        self.list_depth = 0

    def error(self, code: str, message: str, path: tuple, hint: str = "") -> None:
        self.issues.add(code, message, self.doc.location(path), hint)

    def key_error(self, code: str, message: str, path: tuple, hint: str = "") -> None:
        """A problem with the key at the end of `path` (a misspelt keyword), said where the key is written."""
        self.issues.add(code, message, self.doc.key_location(path), hint)

    def undeclared(self, code: str, what: str, name: str, known, path: tuple, fallback: str) -> None:
        message, hint = not_declared(what, name, known, self.removed, fallback)
        self.error(code, message, path, hint)


def _keyword(raw: dict, registry: dict) -> Optional[str]:
    for key in raw:
        if key in registry:
            return key
    return None


_VALIDATORS: dict = {}


def _check_shape(raw, keyword, kind, ctx: ParseContext, path) -> bool:
    """Validate one operator node against its schema entry; report the most relevant error."""
    schema = ctx.operator_schemas[kind][keyword]
    validator = _VALIDATORS.get((kind, keyword))
    if validator is None:
        validator = _VALIDATORS[(kind, keyword)] = jsonschema.Draft202012Validator(
            {**schema, "$defs": ctx.operator_schemas["$defs"]})
    errors = list(validator.iter_errors(raw))
    if not errors:
        return True
    err = settle(jsonschema.exceptions.best_match(errors))
    message, hint, at = explain(err, f"`{keyword}`", operator=True)
    where = path + tuple(err.absolute_path) + ((at,) if at is not None else ())
    ctx.error("schema.operator", message, where, hint or f"see docs/policy-format.md for the form of `{keyword}`")
    return False


def _fits(schema: dict, value, ctx: ParseContext) -> bool:
    return not any(True for _ in jsonschema.Draft202012Validator({**schema, "$defs": ctx.operator_schemas["$defs"]}).iter_errors(value))


def _check_anyway(raw: dict, keyword: str, kind: str, ctx: ParseContext, scope: dict, path: tuple) -> None:
    """After _check_shape refused a node (said there): the rest of it checked, never built, so that one mistake does not
    hide another beside it. Without its unknown keys, when that makes it fit; else, of a comparison (`path`, `expr`),
    its two sides alone, each that fits its schema (never the comparison: a bad `op` says nothing of what was meant)."""
    schema = ctx.operator_schemas[kind][keyword]
    known = schema.get("properties", {})
    reading = {k: v for k, v in raw.items() if k in known}
    if reading != raw and _fits(schema, reading, ctx):
        ctx.depth += 1
        try:
            (CONDITIONS if kind == "conditions" else EXPRESSIONS)[keyword](reading, ctx, scope, path)
        finally:
            ctx.depth -= 1
    elif kind == "conditions" and keyword in ("path", "expr"):
        for side, parse in ((keyword, parse_path if keyword == "path" else parse_expr), ("value", parse_expr)):
            if side in raw and _fits(known[side], raw[side], ctx):
                parse(raw[side], ctx, scope, path + (side,))


def _kind(shape: Shape) -> str:
    return shape.kind if shape is not None else "any"


# ---- paths -------------------------------------------------------------------------------
def parse_path(text: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[tuple]:
    """'sc.date' -> PathRef with its Shape, checked against the aliases in scope and the facts schema."""
    if not isinstance(text, str) or not text:
        ctx.error("schema.path", f"a fact path must be text like `enterprise.name`, found {text!r}", path)
        return None
    parts = text.split(".")
    if parts[0] in scope:
        alias, keys, shape = parts[0], tuple(parts[1:]), scope[parts[0]]
        root_is_dict = shape.exact and shape.kind == "object"
    else:
        alias, keys, shape = "", tuple(parts), ctx.root_shape
        root_is_dict = True        # a case file is a mapping (load refuses anything else)
    walked = [alias] if alias else []
    defaults, dicts, present = [], [], []
    parent_is_dict = root_is_dict
    parent_required = shape.required if (not alias or root_is_dict) else frozenset()
    for key in keys:
        child = shape.child(key)
        if child is None:
            if shape.kind == "object":
                choices = list(shape.props) + ([] if walked else list(scope))
                where = ".".join(walked) or "the case file"
                if not walked and key == "decisions" and len(keys) > 1:
                    # the why prints decisions as `decisions.NAME`; in a rule they are read with an expression
                    hint = f"a decision is read with `expr: {{decision: {keys[1]}}}` (or `value: {{decision: {keys[1]}}}`)"
                else:
                    hint = did_you_mean(key, choices) or f"fields: {bounded_list(shape.props)}"
                ctx.error("compile.unknown_path", f"`{text}`: `{key}` is not a field of {where}", path, hint)
            else:
                ctx.error("compile.unknown_path", f"`{text}`: `{'.'.join(walked)}` is a {shape.kind}, it has no field `{key}`",
                          path, "use `some`/`count` to look into a list")
            return None
        dicts.append(parent_is_dict)
        present.append(parent_is_dict and key in parent_required)
        defaults.append((child.has_default, child.default))
        parent_is_dict = child.exact and child.kind == "object"
        parent_required = child.required
        shape = child
        walked.append(key)
    ref = ir.PathRef(text=text, scope=alias, keys=keys, defaults=tuple(defaults), dicts=tuple(dicts), kind=_kind(shape),
                     scalar=bool(keys) and shape.scalar, present=tuple(present),
                     certain=bool(keys) and root_is_dict and all(present) and shape.exact)
    return ref, shape


def _list_source(raw, ctx, scope, path) -> Optional[tuple]:
    parsed = parse_path(raw, ctx, scope, path)
    if parsed is None:
        return None
    ref, shape = parsed
    if shape.kind not in ("array", "any"):
        ctx.error("compile.not_a_list", f"`{raw}` is a {shape.kind}, not a list", path, "name a list field of the case file")
        return None
    return ref, (shape.items or Shape("any"))


def _alias(raw_alias, ctx, scope, path) -> str:
    if raw_alias in scope:
        ctx.error("compile.alias", f"alias `{raw_alias}` is already in use here", path, "choose another name for `as`")
    if raw_alias in ctx.root_shape.props:
        ctx.error("compile.alias", f"alias `{raw_alias}` hides the case file's field of the same name", path,
                  "choose another name for `as`")
    return raw_alias


def _too_deep(ctx, path) -> bool:
    if ctx.depth > MAX_DEPTH:
        ctx.error("compile.depth", f"conditions and expressions nest deeper than {MAX_DEPTH} levels here", path,
                  "split the rule, or derive an intermediate fact")
        return True
    return False


# ---- expressions -------------------------------------------------------------------------
def parse_expr(raw: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[tuple]:
    """Returns (Expr, Shape) or None after reporting the problem."""
    if isinstance(raw, dict):
        if _too_deep(ctx, path):
            return None
        keyword = _keyword(raw, EXPRESSIONS)
        if keyword is None:
            first = next((k for k in raw if nearest(k, EXPRESSIONS)), next(iter(raw), ""))   # a misspelt keyword, else the first
            ctx.key_error("compile.unknown_expression", f"unknown expression `{first}`", path + (first,),
                          did_you_mean(first, EXPRESSIONS) or "use one of: " + ", ".join(sorted(EXPRESSIONS)))
            meant = nearest(first, EXPRESSIONS)
            if meant is not None and meant not in raw:   # read as meant, for checking only, as a condition is (parse_cond)
                parse_expr({meant if k == first else k: v for k, v in raw.items()}, ctx, scope, path)
            return None
        if not _check_shape(raw, keyword, "expressions", ctx, path):
            _check_anyway(raw, keyword, "expressions", ctx, scope, path)
            return None
        ctx.depth += 1
        try:
            return EXPRESSIONS[keyword](raw, ctx, scope, path)
        finally:
            ctx.depth -= 1
    if raw is None:
        in_condition = bool(path) and path[-1] == "value" and any(p in ("when", "guard", "where") for p in path if isinstance(p, str))
        ctx.error("compile.null", "a value is missing here (null)", path,
                  "to ask whether a field is set, write `{present: PATH}` or `{absent: PATH}` instead of comparing it with null"
                  if in_condition else "write a literal, {param: ...} or {path: ...}")
        return None
    if isinstance(raw, bool):
        shape = Shape("boolean")
    elif isinstance(raw, (int, float)):
        shape = Shape("number")
    elif isinstance(raw, str):
        shape = Shape("date" if _dates.is_date(raw) else "string")
    else:
        shape = Shape("any")
    return ir.Lit(value=raw, kind=shape.kind), shape


def parse_key(raw: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[tuple]:
    """A map decision's `key:`, parsed as an expression that gives one value (a list or a mapping names no entry)."""
    if isinstance(raw, list):
        ctx.error("schema.type", "`key` is a list; a key is one value: a literal, or an expression such as "
                  "{path: ...}", path, "write key: {path: ...} without the brackets" if len(raw) == 1 else "name one entry")
        return None
    parsed = parse_expr(raw, ctx, scope, path)
    if parsed is not None and (parsed[1].kind == "array" or parsed[1].kind == "object" and parsed[1].exact):
        ctx.error("compile.type", f"`key` is {WORDS[FAMILY[parsed[1].kind]]}; a key is one value: text, a number, "
                  "a date or a boolean", path, "name a field that holds one value")
        return None
    return parsed


@expression("path")
def _expr_path(raw, ctx, scope, path):
    return parse_path(raw["path"], ctx, scope, path + ("path",))


@expression("param")
def _expr_param(raw, ctx, scope, path):
    name = raw["param"]
    if name not in ctx.params:
        ctx.undeclared("compile.unknown_parameter", "parameter", name, ctx.params, path + ("param",),
                       "declare it in a Parameters file")
        return None
    ctx.params_used.add(name)
    decl = ctx.params[name]
    sample = decl.value if decl.values is None else next(iter(decl.values.values()), None)
    kind = "boolean" if isinstance(sample, bool) else "number" if isinstance(sample, (int, float)) else "any"
    return ir.Param(name=name, kind=kind), Shape(_param_kind(decl))


def _param_kind(decl) -> str:
    """The kind every value of a parameter has (in its whole timeline), for the comparison checks; "any" when they differ."""
    values = ([decl.value] if decl.value is not None or decl.values is None else []) + list((decl.values or {}).values())
    kinds = {_literal_kind(v) for v in values}
    return kinds.pop() if len(kinds) == 1 else "any"


def _literal_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "date" if _dates.is_date(value) else "string"
    if isinstance(value, list):
        return "array"
    return "any"


def _decision_kind(decl) -> str:
    kind = decl.value_type if decl.type == "map" else decl.type
    if kind == "enum":   # an enum's values say its type (`values: [1, 2, 3]` is numbers); mixed ones are read as text
        kinds = {_literal_kind(v) for v in decl.values or ()}
        if len(kinds) == 1 and kinds <= {"boolean", "number"}:
            return kinds.pop()
    return {"bool": "boolean", "number": "number", "date": "date", "list": "array"}.get(kind, "string")


def whole_map(raw, ctx, path):
    """`value: {decision: MAP}` claimed for a map decision with no `key:`: the whole value of another map decision
    (each entry claimed as its own key's, Decide.entries); None when `raw` is no such reference (then it is parsed
    as any value, and told to name an entry)."""
    name = raw.get("decision") if isinstance(raw, dict) and set(raw) == {"decision"} else None
    decl = ctx.decisions.get(name) if isinstance(name, str) else None
    if decl is None or decl.type != "map":
        return None
    ctx.reads_decisions.add(name)
    return ir.DecisionRef(name=name, kind="any"), Shape("any")


@expression("decision")
def _expr_decision(raw, ctx, scope, path):
    name = raw["decision"]
    decl = ctx.decisions.get(name)
    if decl is None:
        ctx.undeclared("compile.unknown_decision", "decision", name, ctx.decisions, path + ("decision",),
                       "declare it in a Decisions file")
        return None
    ctx.reads_decisions.add(name)
    key_expr = None
    if decl.type == "map":
        if "key" not in raw:
            ctx.error("compile.map_key", f"`{name}` is a map: say which entry with `key:`", path,
                      "add key: {path: ...} (a whole map is read only as the value of another map decision's claim, with no `key:`)")
            return None
        parsed = parse_key(raw["key"], ctx, scope, path + ("key",))
        if parsed is None:
            return None
        key_expr = parsed[0]
    elif "key" in raw:
        ctx.error("compile.map_key", f"`{name}` is not a map; it takes no `key`", path + ("key",), "remove `key`")
        return None
    kind = _decision_kind(decl)
    enum = decl.values if decl.type in ("enum",) or decl.value_type == "enum" else None
    return ir.DecisionRef(name=name, map_key=key_expr, kind=kind), Shape(kind, enum=enum)


def _parse_where(raw, ctx, scope, path):
    if "where" not in raw:
        return None
    if ctx.list_depth >= MAX_LIST_DEPTH:
        ctx.error("compile.depth", f"list operators nest deeper than {MAX_LIST_DEPTH} levels here", path + ("where",),
                  "derive an intermediate fact instead")
        return None
    ctx.list_depth += 1
    try:
        return parse_cond(raw["where"], ctx, scope, path + ("where",))
    finally:
        ctx.list_depth -= 1


@expression("count")
def _expr_count(raw, ctx, scope, path):
    source = _list_source(raw["count"], ctx, scope, path + ("count",))
    if source is None:
        return None
    ref, item_shape = source
    alias = _alias(raw["as"], ctx, scope, path + ("as",))
    where = _parse_where(raw, ctx, {**scope, alias: item_shape}, path)
    if "where" in raw and where is None:
        return None
    return ir.Count(source=ref, alias=alias, where=where), Shape("integer")


def _pick(raw, ctx, scope, path, latest: bool):
    keyword = "latest" if latest else "earliest"
    source = _list_source(raw[keyword], ctx, scope, path + (keyword,))
    if source is None:
        return None
    ref, item_shape = source
    alias = _alias(raw["as"], ctx, scope, path + ("as",))
    by = raw["by"]
    if item_shape.child(by) is None:
        ctx.error("compile.unknown_path", f"`by: {by}`: the items of `{raw[keyword]}` have no field `{by}`", path + ("by",),
                  did_you_mean(by, item_shape.props) or f"fields: {bounded_list(item_shape.props)}")
        return None
    field_name = raw.get("field")
    result_shape = item_shape
    if field_name is not None:
        result_shape = item_shape.child(field_name)
        if result_shape is None:
            ctx.error("compile.unknown_path", f"`field: {field_name}`: the items of `{raw[keyword]}` have no field `{field_name}`",
                      path + ("field",), did_you_mean(field_name, item_shape.props) or f"fields: {bounded_list(item_shape.props)}")
            return None
    where = _parse_where(raw, ctx, {**scope, alias: item_shape}, path)
    if "where" in raw and where is None:
        return None
    by_shape = item_shape.child(by)
    node = ir.Pick(source=ref, alias=alias, by=by, where=where, field_name=field_name, latest=latest,
                   kind=_kind(result_shape), by_default=(by_shape.has_default, by_shape.default),
                   field_default=(result_shape.has_default, result_shape.default) if field_name is not None else (False, None))
    return node, result_shape


@expression("latest")
def _expr_latest(raw, ctx, scope, path):
    return _pick(raw, ctx, scope, path, True)


@expression("earliest")
def _expr_earliest(raw, ctx, scope, path):
    return _pick(raw, ctx, scope, path, False)


@expression("date_add")
def _expr_date_add(raw, ctx, scope, path):
    base = parse_expr(raw["date_add"], ctx, scope, path + ("date_add",))
    parts = {}
    for unit in ("years", "months", "days"):
        if unit in raw:
            parsed = parse_expr(raw[unit], ctx, scope, path + (unit,))
            if parsed is None or not _operand(parsed, "number", ctx, path + (unit,), f"`{unit}`"):
                return None
            parts[unit] = parsed[0]
    if base is None or not _operand(base, "date", ctx, path + ("date_add",), "`date_add`"):
        return None
    if not all([_amount(unit, expr, ctx, path) for unit, expr in parts.items()]):
        return None
    return ir.DateAdd(base=base[0], **parts), Shape("date")


# The most a date can move and stay in the calendar (0001-01-01 + 3,652,058 days = 9999-12-31): an amount past it
# moves every day of the calendar out of it
CALENDAR_SPAN = {"years": 9_998, "months": 119_987, "days": 3_652_058}


def _amount(unit: str, expr, ctx, path) -> bool:
    """A literal amount of `date_add` (or a parameter's, each value of its timeline) must be a whole number that can
    keep a date in the calendar: one that takes any date past 9999-12-31 (or before 0001-01-01) is refused here,
    where the generated code would otherwise have nothing to claim at run time."""
    if isinstance(expr, ir.Lit):
        values, what = [expr.value], f"`{unit}: {show(expr.value)}`"
    elif isinstance(expr, ir.Param):
        decl = ctx.params[expr.name]
        values = ([decl.value] if decl.value is not None else []) + list((decl.values or {}).values())
        what = f"`{unit}` (parameter `{expr.name}`, {{}})"
    else:
        return True
    for value in values:
        shown = what.format(show(value)) if "{}" in what else what
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue        # not a number at all: _operand has said so
        if isinstance(value, float):     # the calendar moves by whole units only (the generated code claims nothing)
            ctx.error("compile.type", f"{shown} of `date_add` must be a whole number of {unit}", path + (unit,),
                      f"write it without a decimal point, e.g. {int(value) if value.is_integer() else 1}"
                      + ("" if value.is_integer() or unit == "days" else f"; part of a {unit[:-1]} is written in "
                         f"{'months' if unit == 'years' else 'days'}"))
            return False
        if abs(value) > CALENDAR_SPAN[unit]:
            ctx.error("compile.range", f"{shown} of `date_add` moves any date out of the calendar, which ends at 9999-12-31 "
                      f"(and begins at 0001-01-01)", path + (unit,),
                      f"an amount of at most {CALENDAR_SPAN[unit]:,} {unit} keeps some date in it; check the number")
            return False
    return True


@expression("days_between")
def _expr_days_between(raw, ctx, scope, path):
    a = parse_expr(raw["days_between"][0], ctx, scope, path + ("days_between", 0))
    b = parse_expr(raw["days_between"][1], ctx, scope, path + ("days_between", 1))
    if a is None or b is None:
        return None
    a_ok = _operand(a, "date", ctx, path + ("days_between", 0), "the first date of `days_between`")
    if not (_operand(b, "date", ctx, path + ("days_between", 1), "the second date of `days_between`") and a_ok):
        return None
    return ir.DaysBetween(start=a[0], end=b[0]), Shape("integer")


def _ordered_values(name, ctx, path) -> Optional[tuple]:
    decl = ctx.decisions.get(name)
    if decl is None:
        ctx.undeclared("compile.unknown_decision", "decision", name, ctx.decisions, path,
                       "name an enum decision whose `values` give the order")
        return None
    if not decl.values:
        ctx.error("compile.step", f"decision `{name}` declares no ordered `values` to step along", path,
                  "name an enum decision (or a map or list of enum values)")
        return None
    return tuple(decl.values)


@expression("step")
def _expr_step(raw, ctx, scope, path):
    """{step: EXPR, by: N, along: DECISION[, from: DECISION]}: the value N places further along
    DECISION's declared values (clamped at both ends). With `from`, the operand's position is
    taken in FROM's values and the result read at that position (+N) in ALONG's: a mapping by
    position between two enums of the same length."""
    operand = parse_expr(raw["step"], ctx, scope, path + ("step",))
    by = parse_expr(raw["by"], ctx, scope, path + ("by",))
    along = _ordered_values(raw["along"], ctx, path + ("along",))
    source = _ordered_values(raw["from"], ctx, path + ("from",)) if "from" in raw else along
    if operand is None or by is None or along is None or source is None:
        return None
    if len(source) != len(along):
        ctx.error("compile.step", f"`from: {raw.get('from')}` has {len(source)} values but `along: {raw['along']}` has "
                  f"{len(along)}; a mapping by position needs the same number", path + ("from",), "")
        return None
    op_shape = operand[1]
    if op_shape.enum:
        stray = [v for v in op_shape.enum if v not in source]
        if stray:
            ctx.error("compile.step", f"the operand takes {', '.join(map(str, stray))}, which "
                      f"`{raw.get('from', raw['along'])}` does not order", path + ("step",), "")
            return None
    by_expr = by[0]
    if isinstance(by_expr, ir.Lit) and (not isinstance(by_expr.value, int) or isinstance(by_expr.value, bool)):
        ctx.error("compile.type", f"`by` is a whole number of places, found {by_expr.value!r}", path + ("by",), "write e.g. by: 1")
        return None
    return ir.Step(operand=operand[0], by=by_expr, source=source, along=along), Shape("string", enum=list(along))


# ---- conditions --------------------------------------------------------------------------
def parse_cond(raw: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[ir.Cond]:
    if not isinstance(raw, dict) or not raw:
        found = "an empty mapping, {}" if isinstance(raw, dict) else json_type(raw)     # (in YAML's words, not Python's)
        ctx.error("schema.condition", f"a condition must be a mapping with a keyword, found {found}", path,
                  "use all/any/not, {path: ..., op: ..., value: ...}, present, some, within, between")
        return None
    if _too_deep(ctx, path):
        return None
    keyword = _keyword(raw, CONDITIONS)
    if keyword is None:
        first = next((k for k in raw if nearest(k, CONDITIONS)), next(iter(raw)))   # a misspelt keyword, else the first key
        ctx.key_error("compile.unknown_operator", f"unknown condition `{first}`", path + (first,),
                      did_you_mean(first, CONDITIONS) or "use one of: " + ", ".join(sorted(CONDITIONS)))
        meant = nearest(first, CONDITIONS)
        if meant is not None and meant not in raw:
            # read it as the condition it is nearest to, for checking only (it is never built): its other
            # keys' mistakes (`op: '='` beside `pth:`) are said in the same run, not after the fix
            parse_cond({meant if k == first else k: v for k, v in raw.items()}, ctx, scope, path)
        return None
    if not _check_shape(raw, keyword, "conditions", ctx, path):
        _check_anyway(raw, keyword, "conditions", ctx, scope, path)
        return None
    ctx.depth += 1
    try:
        return CONDITIONS[keyword](raw, ctx, scope, path)
    finally:
        ctx.depth -= 1


def _children(raw_list, ctx, scope, path):
    out = [parse_cond(c, ctx, scope, path + (i,)) for i, c in enumerate(raw_list)]
    return None if any(c is None for c in out) else out


@condition("all")
def _cond_all(raw, ctx, scope, path):
    items = _children(raw["all"], ctx, scope, path + ("all",))
    return None if items is None else ir.All(items=items)


@condition("any")
def _cond_any(raw, ctx, scope, path):
    items = _children(raw["any"], ctx, scope, path + ("any",))
    return None if items is None else ir.AnyOf(items=items)


@condition("not")
def _cond_not(raw, ctx, scope, path):
    item = parse_cond(raw["not"], ctx, scope, path + ("not",))
    return None if item is None else ir.Not(item=item)


# What a side of a comparison is, for telling whether two sides can ever be equal or ordered: the
# facts schema, a parameter's values or a decision's type says it. Dates are text (ISO dates compare
# as text, and a date field may be compared with a text field that holds dates); integers are numbers.
FAMILY = {"boolean": "boolean", "integer": "number", "number": "number", "string": "text", "date": "text",
          "array": "list", "object": "mapping"}
WORDS = {"boolean": "a boolean", "number": "a number", "text": "text", "date": "a date", "list": "a list",
         "mapping": "a mapping"}
LITERAL_HINT = {"boolean": "write true or false", "number": "write a number, e.g. value: 3",
                "text": "write text, in quotes if it looks like a number or a date", "date": "write an ISO date YYYY-MM-DD"}


def _family(expr, shape: Optional[Shape]) -> Optional[str]:
    """"boolean", "number", "text", "list" or "mapping"; None when the type is not known (then anything goes)."""
    if isinstance(expr, ir.Lit):
        return FAMILY.get(_literal_kind(expr.value))
    if shape is None:
        return None
    if shape.kind == "any":
        families = {FAMILY.get(_literal_kind(v)) for v in shape.enum or []}
        return families.pop() if len(families) == 1 else None
    if shape.kind == "object" and not shape.exact:
        return None        # `properties:` without `type: object` does not make the value a mapping
    return FAMILY.get(shape.kind)


def _word(expr, shape: Optional[Shape], family: str) -> str:
    if family == "text" and (isinstance(expr, ir.Lit) and _dates.is_date(expr.value) or shape is not None and shape.kind == "date"):
        return WORDS["date"]
    return WORDS[family]


def _side(expr) -> str:
    """A side of a comparison as the policy writes it."""
    if isinstance(expr, ir.PathRef):
        return f"`{expr.text}`"
    if isinstance(expr, ir.Param):
        return f"parameter `{expr.name}`"
    if isinstance(expr, ir.DecisionRef):
        return f"decision `{expr.name}`"
    if isinstance(expr, ir.Lit):
        return show(expr.value)
    if isinstance(expr, ir.Pick):
        return f"the {'latest' if expr.latest else 'earliest'} {('`' + expr.field_name + '` of ') if expr.field_name else ''}`{expr.source.text}`"
    if isinstance(expr, ir.Count):
        return f"the count of `{expr.source.text}`"
    if isinstance(expr, ir.DaysBetween):
        return "the number of days between"
    if isinstance(expr, ir.DateAdd):
        return "the shifted date"
    if isinstance(expr, ir.Step):
        return "the stepped value"
    return "the left side"


def show(value) -> str:
    """A literal as YAML writes it: true, 5, '2019-02-30', [a, b]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def _date_literal_problem(value) -> str:
    """Why a literal where a date goes is not one, in the calendar's terms (February 2019 has 28 days)."""
    if isinstance(value, str):
        return _dates.date_problem(value)
    return f"it is {WORDS.get(FAMILY.get(_literal_kind(value)), 'a list')}"


def _mismatch(left, lshape, op, right, rshape, ctx, path) -> bool:
    """Report a comparison whose two sides' types can never be equal (or ordered): it would never fire,
    or (`!=`, `not_in`) always hold, whatever the case file says."""
    lfam = _family(left, lshape)
    if op in ("in", "not_in"):
        if isinstance(right, ir.Lit):
            members = right.value if isinstance(right.value, list) else []
            if lfam in ("list", "mapping") and members:
                return _say(ctx, path, f"{_side(left)} is {WORDS[lfam]}, which is never one of {show(right.value)}: "
                            f"`{op}` between them {'always holds' if op == 'not_in' else 'is never true'}", _list_hint(left, lfam))
            for member in members:
                mfam = FAMILY.get(_literal_kind(member))
                if lfam and mfam and mfam != lfam:
                    return _say(ctx, path, f"{_side(left)} is {_word(left, lshape, lfam)} but {show(member)} in the list is "
                                f"{WORDS[mfam]}: it never matches", LITERAL_HINT.get(_word_key(left, lshape, lfam), ""))
            return False
        rfam = _family(right, rshape)
        if rfam in ("boolean", "number"):
            return _say(ctx, path, f"`{op}` needs a list on the right, but {_side(right)} is {WORDS[rfam]}",
                        "compare with `==`, or name a list")
        if rfam == "list" and rshape is not None and rshape.items is not None:
            ifam = _family(None, rshape.items)
            if lfam and ifam and lfam != ifam:
                return _say(ctx, path, f"{_side(left)} is {_word(left, lshape, lfam)} but the items of {_side(right)} are "
                            f"{WORDS[ifam]}: `{op}` between them {'always holds' if op == 'not_in' else 'is never true'}", "")
        return False
    rfam = _family(right, rshape)
    ordered = op in ("<", "<=", ">", ">=")
    if lfam is None or rfam is None:
        return False
    if lfam == rfam and not (ordered and lfam == "mapping"):
        return False
    outcome = "always holds" if op == "!=" else "is never true"
    if lfam == rfam:
        return _say(ctx, path, f"{_side(left)} and {_side(right)} are mappings, which have no order: `{op}` between them "
                    "is never true", "compare a field of each")
    message = (f"{_side(left)} is {_word(left, lshape, lfam)} but {_side(right)} is {_word(right, rshape, rfam)}: "
               f"`{op}` between them {outcome}")
    if lfam in ("list", "mapping"):
        hint = _list_hint(left, lfam)
    elif isinstance(right, ir.Lit):
        hint = LITERAL_HINT.get(_word_key(left, lshape, lfam), "")
    elif _word(left, lshape, lfam) == "a date" and rfam == "number":
        hint = ("to compare a date with a number of years, months or days, shift a date: "
                "`{within: {path: ..., years: ...}}` or `{date_add: {path: ...}, years: ...}`")
    else:
        hint = f"compare {_side(left)} with {_word(left, lshape, lfam)}"
    return _say(ctx, path, message, hint)


def _word_key(expr, shape, family) -> str:
    return "date" if _word(expr, shape, family) == WORDS["date"] else family


def _list_hint(left, family: str) -> str:
    if family == "list" and isinstance(left, ir.PathRef):
        return (f"to test whether `{left.text}` has items write `{{some: {left.text}, as: x}}`, with `where:` to test "
                "the items; `count` counts them")
    return "compare one of its fields"


def _operand(parsed, want: str, ctx, path, what: str) -> bool:
    """An operand that must be a date (`between`'s ends, `date_add`'s base) or a number (an amount of
    years, months or days): False after reporting one whose literal or type can never be one."""
    expr, shape = parsed
    if want == "date":
        if isinstance(expr, ir.Lit) and not _dates.is_date(expr.value):
            ctx.error("compile.type", f"{what} must be a date; {show(expr.value)} is not: {_date_literal_problem(expr.value)}", path,
                      "write a real calendar day as YYYY-MM-DD")
            return False
        family = _family(expr, shape)
        if family is not None and family != "text":
            ctx.error("compile.type", f"{what} must be a date; {_side(expr)} is {WORDS[family]}", path, "name a date field or write YYYY-MM-DD")
            return False
        return True
    family = _family(expr, shape)
    if family is not None and family != "number":
        ctx.error("compile.type", f"{what} must be a number; {_side(expr)} is {_word(expr, shape, family)}", path, "write e.g. 1")
        return False
    return True


def _say(ctx, path, message: str, hint: str) -> bool:
    ctx.error("compile.type", message, path + ("value",), hint)
    return True


def _compare(left, lshape, op, raw_value, ctx, scope, path):
    right = parse_expr(raw_value, ctx, scope, path + ("value",))
    if right is None:
        return None
    rexpr, rshape = right
    if op in ("in", "not_in"):
        if isinstance(rexpr, ir.Lit) and not isinstance(rexpr.value, list):
            ctx.error("compile.type", f"`{op}` needs a list on the right, found {show(rexpr.value)}", path + ("value",),
                      "write value: [a, b]")
            return None
        literals = rexpr.value if isinstance(rexpr, ir.Lit) else []
    else:
        literals = [rexpr.value] if isinstance(rexpr, ir.Lit) else []
    if lshape.enum:
        lfam = _family(left, lshape)
        for lit in literals:
            if lit not in lshape.enum and not (lfam and FAMILY.get(_literal_kind(lit)) != lfam
                                               and str(lit) in map(str, lshape.enum)):   # '3' for 3: its type is the mistake
                ctx.error("compile.enum", f"{show(lit)} is never a value of this field; allowed: {', '.join(map(str, lshape.enum))}",
                          path + ("value",), did_you_mean(str(lit), map(str, lshape.enum)))
                return None
    if lshape.kind == "date":
        for lit in literals:
            if not _dates.is_date(lit):
                ctx.error("compile.type", f"{show(lit)} is compared with a date but is not a date: {_date_literal_problem(lit)}",
                          path + ("value",), "write a real calendar day as YYYY-MM-DD" if isinstance(lit, str) and
                          _dates.ISO_DATE.match(lit) else "write an ISO date YYYY-MM-DD")
                return None
    if _mismatch(left, lshape, op, rexpr, rshape, ctx, path):
        return None
    return ir.Compare(left=left, op=op, right=rexpr)


@condition("path")
def _cond_path(raw, ctx, scope, path):
    parsed = parse_path(raw["path"], ctx, scope, path + ("path",))
    if parsed is None:
        return None
    return _compare(parsed[0], parsed[1], raw["op"], raw["value"], ctx, scope, path)


@condition("expr")
def _cond_expr(raw, ctx, scope, path):
    parsed = parse_expr(raw["expr"], ctx, scope, path + ("expr",))
    if parsed is None:
        return None
    return _compare(parsed[0], parsed[1], raw["op"], raw["value"], ctx, scope, path)


def _presence(raw, ctx, scope, path, present: bool):
    key = "present" if present else "absent"
    parsed = parse_path(raw[key], ctx, scope, path + (key,))
    if parsed is None:
        return None
    return ir.Presence(path=parsed[0], present=present)


@condition("present")
def _cond_present(raw, ctx, scope, path):
    return _presence(raw, ctx, scope, path, True)


@condition("absent")
def _cond_absent(raw, ctx, scope, path):
    return _presence(raw, ctx, scope, path, False)


@condition("some")
def _cond_some(raw, ctx, scope, path):
    source = _list_source(raw["some"], ctx, scope, path + ("some",))
    if source is None:
        return None
    ref, item_shape = source
    alias = _alias(raw["as"], ctx, scope, path + ("as",))
    where = _parse_where(raw, ctx, {**scope, alias: item_shape}, path)
    if "where" in raw and where is None:
        return None
    return ir.Some(source=ref, alias=alias, where=where)


def _date_path(raw_path, ctx, scope, path):
    parsed = parse_path(raw_path, ctx, scope, path)
    if parsed is None:
        return None
    ref, shape = parsed
    if shape.kind not in ("date", "any"):
        ctx.error("compile.type", f"`{raw_path}` is a {shape.kind}, not a date", path, "name a date field")
        return None
    return ref


@condition("within")
def _cond_within(raw, ctx, scope, path):
    spec = raw["within"]
    base = path + ("within",)
    ref = _date_path(spec["path"], ctx, scope, base + ("path",))
    unit = next(u for u in ("years", "months", "days") if u in spec)
    amount = parse_expr(spec[unit], ctx, scope, base + (unit,))
    if ref is None or amount is None or not _operand(amount, "number", ctx, base + (unit,), f"`{unit}`"):
        return None
    return ir.Within(path=ref, unit=unit, amount=amount[0])


@condition("between")
def _cond_between(raw, ctx, scope, path):
    spec = raw["between"]
    base = path + ("between",)
    ref = _date_path(spec["path"], ctx, scope, base + ("path",))
    start = parse_expr(spec["from"], ctx, scope, base + ("from",))
    end = parse_expr(spec["to"], ctx, scope, base + ("to",))
    if ref is None or start is None or end is None:
        return None
    start_ok = _operand(start, "date", ctx, base + ("from",), "`from`")
    if not (_operand(end, "date", ctx, base + ("to",), "`to`") and start_ok):
        return None
    return ir.Between(path=ref, start=start[0], end=end[0])


def always() -> ir.Cond:
    return ir.TrueCond()
