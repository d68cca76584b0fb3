"""The rule language's operators: one parse-and-build function per YAML keyword, registered by keyword.

Each function checks its own node (against its entry in schemas/operators.schema.yaml and the
facts it names), returns the intermediate form (engine/_ir.py) and attaches a Python closure
`fn(env)` that evaluates it. Backends use the closures for whatever they cannot match natively.
"""
from __future__ import annotations

import json
import operator as _op
from typing import Any, Callable, Optional

import jsonschema

from . import _dates
from . import _ir as ir
from ._shapes import Shape
from .errors import IssueCollector, did_you_mean
from .load import Document

CONDITIONS: dict[str, Callable] = {}
EXPRESSIONS: dict[str, Callable] = {}


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


# ---- evaluation environment --------------------------------------------------------------
class Env:
    """What a closure sees: the case file, bound items, as_of, parameters, resolved decisions."""

    __slots__ = ("root", "vars", "as_of", "params", "decisions", "trace")

    def __init__(self, root, as_of, params, decisions, vars=None, trace=None):
        self.root = root
        self.vars = vars if vars is not None else {}
        self.as_of = as_of
        self.params = params
        self.decisions = decisions
        self.trace = trace


def _safe(fn, a, b):
    try:
        return bool(fn(a, b))
    except TypeError:
        return False


def _in(a, b):
    return isinstance(b, (list, tuple, set, frozenset, dict, str)) and a in b


OPS = {
    "==": _op.eq, "!=": _op.ne, "<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge,
    "in": _in, "not_in": lambda a, b: isinstance(b, (list, tuple, set, frozenset)) and a not in b,
}
NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not_in", "not_in": "in"}


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
        self.reads_decisions: set = set()
        self.params_used: set = set()

    def error(self, code: str, message: str, path: tuple, hint: str = "") -> None:
        self.issues.add(code, message, self.doc.location(path), hint)


def _keyword(raw: dict, registry: dict) -> Optional[str]:
    for key in raw:
        if key in registry:
            return key
    return None


def _check_shape(raw, keyword, kind, ctx: ParseContext, path) -> bool:
    """Validate one operator node against its schema entry; report the most relevant error."""
    schema = ctx.operator_schemas[kind][keyword]
    validator = jsonschema.Draft202012Validator(
        {**schema, "$defs": ctx.operator_schemas["$defs"]})
    errors = list(validator.iter_errors(raw))
    if not errors:
        return True
    err = jsonschema.exceptions.best_match(errors)
    where = path + tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(raw) - set(schema.get("properties", {})))
        allowed = sorted(schema.get("properties", {}))
        hint = did_you_mean(extra[0], allowed) if extra else ""
        ctx.error("schema.operator", f"`{keyword}` does not take {', '.join('`%s`' % e for e in extra)}; it takes "
                  + ", ".join(f"`{a}`" for a in allowed), path + ((extra[0],) if extra else ()), hint)
    else:
        ctx.error("schema.operator", f"in `{keyword}`: {err.message}", where,
                  f"see docs/policy-format.md for the form of `{keyword}`")
    return False


# ---- paths -------------------------------------------------------------------------------
def parse_path(text: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[tuple]:
    """'sc.date' -> PathRef with its Shape, checked against the aliases in scope and the facts schema."""
    if not isinstance(text, str) or not text:
        ctx.error("schema.path", f"a fact path must be text like `enterprise.name`, found {text!r}", path)
        return None
    parts = text.split(".")
    if parts[0] in scope:
        alias, keys, shape = parts[0], tuple(parts[1:]), scope[parts[0]]
    else:
        alias, keys, shape = "", tuple(parts), ctx.root_shape
    walked = [alias] if alias else []
    for key in keys:
        child = shape.child(key)
        if child is None:
            if shape.kind == "object":
                choices = list(shape.props) + ([] if walked else list(scope))
                where = ".".join(walked) or "the case file"
                ctx.error("compile.unknown_path", f"`{text}`: `{key}` is not a field of {where}", path,
                          did_you_mean(key, choices) or "fields: " + ", ".join(sorted(shape.props)[:12]))
            else:
                ctx.error("compile.unknown_path", f"`{text}`: `{'.'.join(walked)}` is a {shape.kind}, it has no field `{key}`",
                          path, "use `some`/`count` to look into a list")
            return None
        shape = child
        walked.append(key)
    ref = ir.PathRef(text=text, scope=alias, keys=keys)
    ref.fn = _path_fn(ref)
    return ref, shape


def _path_fn(ref: ir.PathRef):
    keys, alias, text = ref.keys, ref.scope, ref.text

    if alias:
        rest = "." + ".".join(keys) if keys else ""

        def fn(env):
            bound = env.vars.get(alias)
            if bound is None:
                return None
            value, prefix = bound
            for k in keys:
                if not isinstance(value, dict):
                    return None
                value = value.get(k)
            if env.trace is not None and value is not None and not isinstance(value, (dict, list)):
                env.trace.append((prefix + rest, value))
            return value
    else:
        def fn(env):
            value = env.root
            for k in keys:
                if not isinstance(value, dict):
                    return None
                value = value.get(k)
            if env.trace is not None and value is not None and not isinstance(value, (dict, list)):
                env.trace.append((text, value))
            return value
    return fn


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


def _items_with_prefix(items, source: ir.PathRef, env: Env):
    """Yield (item, concrete path prefix) for the items of a list."""
    if env.trace is None:
        for item in items:
            yield item, ""
        return
    if source.scope:
        bound = env.vars.get(source.scope)
        base = (bound[1] if bound else source.scope) + ("." + ".".join(source.keys) if source.keys else "")
    else:
        base = source.text
    for i, item in enumerate(items):
        yield item, f"{base}[{i}]"


# ---- expressions -------------------------------------------------------------------------
def parse_expr(raw: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[tuple]:
    """Returns (Expr, Shape) or None after reporting the problem."""
    if isinstance(raw, dict):
        keyword = _keyword(raw, EXPRESSIONS)
        if keyword is None:
            ctx.error("compile.unknown_expression", f"unknown expression {sorted(raw)}", path,
                      did_you_mean(next(iter(raw), ""), EXPRESSIONS) or "use one of: " + ", ".join(sorted(EXPRESSIONS)))
            return None
        if not _check_shape(raw, keyword, "expressions", ctx, path):
            return None
        return EXPRESSIONS[keyword](raw, ctx, scope, path)
    if raw is None:
        ctx.error("compile.null", "a value is missing here (null)", path, "write a literal, {param: ...} or {path: ...}")
        return None
    lit = ir.Lit(value=raw)
    lit.fn = lambda env, v=raw: v
    if isinstance(raw, bool):
        return lit, Shape("boolean")
    if isinstance(raw, (int, float)):
        return lit, Shape("number")
    if isinstance(raw, str):
        return lit, Shape("date" if _dates.is_date(raw) else "string")
    return lit, Shape("any")


@expression("path")
def _expr_path(raw, ctx, scope, path):
    return parse_path(raw["path"], ctx, scope, path + ("path",))


@expression("param")
def _expr_param(raw, ctx, scope, path):
    name = raw["param"]
    if name not in ctx.params:
        ctx.error("compile.unknown_parameter", f"parameter `{name}` is not declared", path + ("param",),
                  did_you_mean(name, ctx.params) or "declare it in a Parameters file")
        return None
    ctx.params_used.add(name)
    node = ir.Param(name=name)
    node.fn = lambda env: env.params.get(name)
    decl = ctx.params[name]
    sample = decl.value if decl.values is None else next(iter(decl.values.values()), None)
    kind = "boolean" if isinstance(sample, bool) else "number" if isinstance(sample, (int, float)) else "any"
    return node, Shape(kind)


@expression("decision")
def _expr_decision(raw, ctx, scope, path):
    name = raw["decision"]
    decl = ctx.decisions.get(name)
    if decl is None:
        ctx.error("compile.unknown_decision", f"decision `{name}` is not declared", path + ("decision",),
                  did_you_mean(name, ctx.decisions) or "declare it in a Decisions file")
        return None
    ctx.reads_decisions.add(name)
    key_expr = None
    if decl.type == "map":
        if "key" not in raw:
            ctx.error("compile.map_key", f"`{name}` is a map: say which entry with `key:`", path, "add key: {path: ...}")
            return None
        parsed = parse_expr(raw["key"], ctx, scope, path + ("key",))
        if parsed is None:
            return None
        key_expr = parsed[0]
    elif "key" in raw:
        ctx.error("compile.map_key", f"`{name}` is not a map; it takes no `key`", path + ("key",), "remove `key`")
        return None
    node = ir.DecisionRef(name=name, map_key=key_expr)
    if key_expr is None:
        def fn(env):
            value = env.decisions.get(name)
            if env.trace is not None and value is not None:
                env.trace.append((f"decisions.{name}", value))
            return value
    else:
        kfn = key_expr.fn

        def fn(env):
            key = kfn(env)
            value = (env.decisions.get(name) or {}).get(key)
            if env.trace is not None and value is not None:
                env.trace.append((f"decisions.{name}[{key}]", value))
            return value
    node.fn = fn
    kind = {"bool": "boolean", "number": "number", "date": "date", "list": "array"}.get(
        decl.value_type if decl.type == "map" else decl.type, "string")
    return node, Shape(kind, enum=decl.values if decl.type in ("enum",) or decl.value_type == "enum" else None)


def _parse_where(raw, ctx, scope, path):
    if "where" not in raw:
        return None
    return parse_cond(raw["where"], ctx, scope, path + ("where",))


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
    node = ir.Count(source=ref, alias=alias, where=where)
    src, wfn = ref.fn, where.fn if where else None

    def fn(env):
        items = src(env)
        if not isinstance(items, list):
            return 0
        if wfn is None:
            return len(items)
        n = 0
        saved = env.vars.get(alias)
        for item, prefix in _items_with_prefix(items, ref, env):
            env.vars[alias] = (item, prefix)
            mark = len(env.trace) if env.trace is not None else 0
            if wfn(env):
                n += 1
            elif env.trace is not None:
                del env.trace[mark:]
        _restore(env, alias, saved)
        return n
    node.fn = fn
    return node, Shape("integer")


def _restore(env, alias, saved):
    if saved is None:
        env.vars.pop(alias, None)
    else:
        env.vars[alias] = saved


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
                  did_you_mean(by, item_shape.props))
        return None
    field_name = raw.get("field")
    result_shape = item_shape
    if field_name is not None:
        result_shape = item_shape.child(field_name)
        if result_shape is None:
            ctx.error("compile.unknown_path", f"`field: {field_name}`: the items of `{raw[keyword]}` have no field `{field_name}`",
                      path + ("field",), did_you_mean(field_name, item_shape.props))
            return None
    where = _parse_where(raw, ctx, {**scope, alias: item_shape}, path)
    if "where" in raw and where is None:
        return None
    node = ir.Pick(source=ref, alias=alias, by=by, where=where, field_name=field_name, latest=latest)
    src, wfn = ref.fn, where.fn if where else None

    def fn(env):
        items = src(env)
        if not isinstance(items, list):
            return None
        best = best_key = best_prefix = None
        saved = env.vars.get(alias)
        trace, env.trace = env.trace, None   # only the chosen item is reported
        for item, prefix in _items_with_prefix(items, ref, env) if trace is None else _indexed(items, ref, env, trace):
            if not isinstance(item, dict):
                continue
            key = item.get(by)
            if key is None:
                continue
            if wfn is not None:
                env.vars[alias] = (item, prefix)
                if not wfn(env):
                    continue
            if best_key is None or (key > best_key if latest else key < best_key) or (
                    key == best_key and _tie_wins(item, best, latest)):
                best, best_key, best_prefix = item, key, prefix
        env.trace = trace
        _restore(env, alias, saved)
        if best is None:
            return None
        value = best if field_name is None else best.get(field_name)
        if trace is not None:
            trace.append((f"{best_prefix}.{by}", best_key))
            if field_name is not None and value is not None:
                trace.append((f"{best_prefix}.{field_name}", value))
        return value
    node.fn = fn
    return node, result_shape


def _tie_wins(item, best, latest: bool) -> bool:
    """Equal dates: decide by the items' content, so the choice never depends on list order."""
    a, b = json.dumps(item, sort_keys=True, ensure_ascii=False), json.dumps(best, sort_keys=True, ensure_ascii=False)
    return a > b if latest else a < b


def _indexed(items, ref, env, trace):
    env.trace = trace
    pairs = list(_items_with_prefix(items, ref, env))
    env.trace = None
    return pairs


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
            if parsed is None:
                return None
            parts[unit] = parsed[0]
    if base is None:
        return None
    node = ir.DateAdd(base=base[0], **parts)
    bfn = base[0].fn
    yfn, mfn, dfn = (parts[u].fn if u in parts else None for u in ("years", "months", "days"))

    def fn(env):
        start = bfn(env)
        if not isinstance(start, str):
            return None
        try:
            y = yfn(env) if yfn else 0
            m = mfn(env) if mfn else 0
            d = dfn(env) if dfn else 0
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (y, m, d)):
                return None
            return _dates.shift(start, y, m, d)
        except ValueError:
            return None
    node.fn = fn
    return node, Shape("date")


@expression("days_between")
def _expr_days_between(raw, ctx, scope, path):
    a = parse_expr(raw["days_between"][0], ctx, scope, path + ("days_between", 0))
    b = parse_expr(raw["days_between"][1], ctx, scope, path + ("days_between", 1))
    if a is None or b is None:
        return None
    node = ir.DaysBetween(start=a[0], end=b[0])
    afn, bfn = a[0].fn, b[0].fn

    def fn(env):
        x, y = afn(env), bfn(env)
        try:
            return _dates.days_between(x, y)
        except (ValueError, TypeError):
            return None
    node.fn = fn
    return node, Shape("integer")


# ---- conditions --------------------------------------------------------------------------
def parse_cond(raw: Any, ctx: ParseContext, scope: dict, path: tuple) -> Optional[ir.Cond]:
    if not isinstance(raw, dict) or not raw:
        ctx.error("schema.condition", f"a condition must be a mapping, found {type(raw).__name__}", path,
                  "use all/any/not, {path: ..., op: ..., value: ...}, present, some, within, between")
        return None
    keyword = _keyword(raw, CONDITIONS)
    if keyword is None:
        first = next(iter(raw))
        ctx.error("compile.unknown_operator", f"unknown condition `{first}`", path + (first,),
                  did_you_mean(first, CONDITIONS) or "use one of: " + ", ".join(sorted(CONDITIONS)))
        return None
    if not _check_shape(raw, keyword, "conditions", ctx, path):
        return None
    return CONDITIONS[keyword](raw, ctx, scope, path)


def _children(raw_list, ctx, scope, path):
    out = [parse_cond(c, ctx, scope, path + (i,)) for i, c in enumerate(raw_list)]
    return None if any(c is None for c in out) else out


@condition("all")
def _cond_all(raw, ctx, scope, path):
    items = _children(raw["all"], ctx, scope, path + ("all",))
    if items is None:
        return None
    node = ir.All(items=items)
    fns = tuple(i.fn for i in items)

    def fn(env):
        for f in fns:
            if not f(env):
                return False
        return True
    node.fn = fn
    return node


@condition("any")
def _cond_any(raw, ctx, scope, path):
    items = _children(raw["any"], ctx, scope, path + ("any",))
    if items is None:
        return None
    node = ir.AnyOf(items=items)
    fns = tuple(i.fn for i in items)

    def fn(env):
        if env.trace is None:
            for f in fns:
                if f(env):
                    return True
            return False
        hit = False   # with tracing, report every branch that holds and none that does not
        for f in fns:
            mark = len(env.trace)
            if f(env):
                hit = True
            else:
                del env.trace[mark:]
        return hit
    node.fn = fn
    return node


@condition("not")
def _cond_not(raw, ctx, scope, path):
    item = parse_cond(raw["not"], ctx, scope, path + ("not",))
    if item is None:
        return None
    node = ir.Not(item=item)
    f = item.fn
    node.fn = lambda env: not f(env)
    return node


def _compare(left, lshape, op, raw_value, ctx, scope, path):
    right = parse_expr(raw_value, ctx, scope, path + ("value",))
    if right is None:
        return None
    rexpr, rshape = right
    if op in ("in", "not_in"):
        if isinstance(rexpr, ir.Lit) and not isinstance(rexpr.value, list):
            ctx.error("compile.type", f"`{op}` needs a list on the right, found {rexpr.value!r}", path + ("value",),
                      "write value: [a, b]")
            return None
        literals = rexpr.value if isinstance(rexpr, ir.Lit) else []
    else:
        literals = [rexpr.value] if isinstance(rexpr, ir.Lit) else []
    if lshape.enum:
        for lit in literals:
            if lit not in lshape.enum:
                ctx.error("compile.enum", f"{lit!r} is never a value of this field; allowed: {', '.join(map(str, lshape.enum))}",
                          path + ("value",), did_you_mean(str(lit), map(str, lshape.enum)))
                return None
    if lshape.kind == "date":
        for lit in literals:
            if not _dates.is_date(lit):
                ctx.error("compile.type", f"{lit!r} is compared with a date but is not a date", path + ("value",),
                          "write an ISO date YYYY-MM-DD")
                return None
    node = ir.Compare(left=left, op=op, right=rexpr)
    lfn, rfn, opf = left.fn, rexpr.fn, OPS[op]

    def fn(env):
        a = lfn(env)
        if a is None:
            return False
        b = rfn(env)
        if b is None:
            return False
        return _safe(opf, a, b)
    node.fn = fn
    return node


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
    ref = parsed[0]
    node = ir.Presence(path=ref, present=present)
    f = ref.fn
    if present:
        node.fn = lambda env: f(env) is not None
    else:
        node.fn = lambda env: f(env) is None
    return node


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
    node = ir.Some(source=ref, alias=alias, where=where)
    src, wfn = ref.fn, where.fn if where else None

    def fn(env):
        items = src(env)
        if not isinstance(items, list) or not items:
            return False
        if wfn is None:
            return True
        saved = env.vars.get(alias)
        hit = False
        for item, prefix in _items_with_prefix(items, ref, env):
            env.vars[alias] = (item, prefix)
            mark = len(env.trace) if env.trace is not None else 0
            if wfn(env):
                hit = True
                if env.trace is None:
                    break
            elif env.trace is not None:
                del env.trace[mark:]
        _restore(env, alias, saved)
        return hit
    node.fn = fn
    return node


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
    if ref is None or amount is None:
        return None
    node = ir.Within(path=ref, unit=unit, amount=amount[0])
    pfn, afn = ref.fn, amount[0].fn
    kw = {"years": 0, "months": 0, "days": 0}

    def fn(env):
        d = pfn(env)
        if not isinstance(d, str):
            return False
        n = afn(env)
        if not isinstance(n, int) or isinstance(n, bool):
            return False
        try:
            lo = _dates.shift(env.as_of, **{**kw, unit: -n})
        except ValueError:
            return False
        return lo <= d <= env.as_of
    node.fn = fn
    return node


@condition("between")
def _cond_between(raw, ctx, scope, path):
    spec = raw["between"]
    base = path + ("between",)
    ref = _date_path(spec["path"], ctx, scope, base + ("path",))
    start = parse_expr(spec["from"], ctx, scope, base + ("from",))
    end = parse_expr(spec["to"], ctx, scope, base + ("to",))
    if ref is None or start is None or end is None:
        return None
    node = ir.Between(path=ref, start=start[0], end=end[0])
    pfn, sfn, efn = ref.fn, start[0].fn, end[0].fn

    def fn(env):
        d, lo, hi = pfn(env), sfn(env), efn(env)
        if not (isinstance(d, str) and isinstance(lo, str) and isinstance(hi, str)):
            return False
        return lo <= d <= hi
    node.fn = fn
    return node


def always() -> ir.Cond:
    node = ir.TrueCond()
    node.fn = lambda env: True
    return node
