"""The Python backend: the intermediate form compiled to generated Python source, once per policy version.

For every stratum and every fact kind it binds, one function evaluates the conditions of all the
rules on one fact and lists the rules that hold. Two variants are generated: a plain one, and a
traced one that records the facts each condition reads *while* it evaluates it (the why), keeping
only the branches that held: an `any` keeps the branches that held, `some` and `count` keep the
items that matched, `latest`/`earliest` report the item chosen. Nothing is evaluated twice.

- Paths are inlined dictionary reads with the facts schema's defaults (an absent `false` is read as
  false), so the case file is neither copied nor filled.
- `where x.k == E` inside a list operator over a list of the case file becomes a per-case index
  of that list by `k` (built on first use, once per case), so the cost per item stays flat.
- Lists with a declared event date (FactsSchema `event_dates:`) only show the items dated on or
  before as_of; items keep their position in the case file, so the why names `spot_checks[3]`.
- Constant parameters are inlined; dated ones are read from the values in force on as_of.

Generated code only ever reads the case file, compares and calls the small helpers below; it is
built from the intermediate form alone (names and literals go through repr or a constants table),
so nothing a policy says becomes code.
"""
from __future__ import annotations

import json
import marshal
import math
import re
from typing import Optional

from . import _dates
from . import _ir as ir

SCALAR_KINDS = {"string", "date", "number", "integer", "boolean"}
_ORDERED = ({"string", "date"}, {"number", "integer", "boolean"})


# ---- helpers the generated code calls ------------------------------------------------------
class CaseCache:
    """Per-evaluation state of generated code: visible items of event-dated lists, indexes, windows."""

    __slots__ = ("as_of", "lists", "indexes", "windows")

    def __init__(self, case: dict, as_of: str, slots: tuple, lists: bool = True):
        self.as_of = as_of
        self.indexes: dict = {}
        self.windows: dict = {}
        # the generated run function computes the lists itself, inline, into local variables
        self.lists = [visible(case, keys, field_name, as_of) for keys, field_name in slots] if lists else None


def visible(case: dict, keys: tuple, field_name: Optional[str], as_of: str) -> list:
    """(position, item) of a list of the case file; with an event date field, only the items dated on or
    before as_of (a later one has not happened yet)."""
    items = case
    for k in keys:
        items = items.get(k) if type(items) is dict else None
    if type(items) is not list:
        return []
    if field_name is None:
        return list(enumerate(items))
    pairs = []
    for i, item in enumerate(items):
        day = item.get(field_name) if type(item) is dict else None
        if type(day) is str and day > as_of:
            continue
        pairs.append((i, item))
    return pairs


def _reach(case: dict, keys: tuple):
    value = case
    for k in keys:
        value = value.get(k) if type(value) is dict else None
    return value


def _index(X: CaseCache, slot, pairs, key: str, default) -> dict:
    """The items of one list by the value of `key` (built once per case and list)."""
    found = X.indexes.get(slot)
    if found is None:
        found = {}
        for pair in pairs:
            item = pair[1]
            if type(item) is not dict:
                continue
            value = item.get(key, default)
            if value is None:
                continue
            try:
                found.setdefault(value, []).append(pair)
            except TypeError:       # an unhashable value equals no hashable key
                continue
        X.indexes[slot] = found
    return found


def _lookup(X: CaseCache, slot, pairs, key: str, default, wanted):
    """The (position, item) pairs whose `key` equals `wanted` (all of them when it cannot be hashed)."""
    if wanted is None:
        return ()
    try:
        return _index(X, slot, pairs, key, default).get(wanted, ())
    except TypeError:
        return pairs


def _window_start(X: CaseCache, unit: str, n) -> Optional[str]:
    key = (unit, n)
    found = X.windows.get(key, False)
    if found is False:
        try:
            found = _dates.shift(X.as_of, **{unit: -n})
        except (ValueError, OverflowError):
            found = None
        X.windows[key] = found
    return found


def _within(X, unit, n, d) -> bool:
    if type(d) is not str or type(n) is not int:
        return False
    lo = _window_start(X, unit, n)
    return lo is not None and lo <= d <= X.as_of


def _lt(a, b):
    try:
        return a < b
    except TypeError:
        return False


def _le(a, b):
    try:
        return a <= b
    except TypeError:
        return False


def _gt(a, b):
    try:
        return a > b
    except TypeError:
        return False


def _ge(a, b):
    try:
        return a >= b
    except TypeError:
        return False


def _in(a, b):
    try:
        return isinstance(b, (list, tuple, set, frozenset, dict, str)) and a in b
    except TypeError:
        return False


def _not_in(a, b):
    try:
        return isinstance(b, (list, tuple, set, frozenset)) and a not in b
    except TypeError:
        return False


def _mget(mapping, key):
    if type(mapping) is not dict:
        return None
    try:
        return mapping.get(key)
    except TypeError:
        return None


def _date_add(base, y, m, d):
    if type(base) is not str or type(y) is not int or type(m) is not int or type(d) is not int:
        return None
    try:
        return _dates.shift(base, y, m, d)
    except (ValueError, OverflowError):
        return None


def _days_between(a, b):
    try:
        return _dates.days_between(a, b)
    except (ValueError, TypeError):
        return None


def _step(value, by, positions, along):
    if type(by) is not int:
        return None
    try:
        at = positions.get(value)
    except TypeError:
        return None
    if at is None:
        return None
    return along[min(max(at + by, 0), len(along) - 1)]


def _tie_wins(item, best, latest: bool) -> bool:
    """Equal dates: decide by the items' content, so the choice never depends on list order."""
    a, b = json.dumps(item, sort_keys=True, ensure_ascii=False), json.dumps(best, sort_keys=True, ensure_ascii=False)
    return a > b if latest else a < b


HELPERS = {name: globals()[name] for name in ("_index", "_lookup", "_within", "_window_start", "_lt", "_le", "_gt", "_ge", "_in", "_not_in", "_mget",
                                               "_date_add", "_days_between", "_step", "_tie_wins")}
BUILTINS = {"len": len, "type": type, "dict": dict, "list": list, "str": str, "bool": bool, "enumerate": enumerate,
            "TypeError": TypeError, "Exception": Exception, "sum": sum, "any": any}


# ---- the code generator ---------------------------------------------------------------------
def _lit(text: str) -> str:
    """Text as the literal part of an f-string body."""
    return text.replace("{", "{{").replace("}", "}}")


def _entry(body: str, value: str) -> str:
    """Source of a trace entry for the path with this f-string body: (path, value) when the path is fixed,
    else (str.format template, its variables..., value), formatted only if the entry is kept (most are
    dropped with the branch or item that did not hold)."""
    names = re.findall(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}", body)
    if not names:
        return f"({repr(body.replace('{{', '{').replace('}}', '}'))}, {value})"
    template = re.sub(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*\}", "{}", body)
    return f"({template!r}, {', '.join(names)}, {value})"


class _Scope:
    """What a name in a condition means in generated code: the variable holding a bound item, and the
    f-string body of its printable path (for the why), e.g. `spot_checks[{i3}]`."""

    def __init__(self, var: str, label: str, is_dict: bool):
        self.var, self.label, self.is_dict = var, label, is_dict


class Generator:
    """Emits the statements of one function; `traced` selects the variant that records the why."""

    def __init__(self, program: "Builder", traced: bool, prefetch: bool = False):
        self.p = program
        self.traced = traced
        self.lines: list = []
        self.n = 0
        # With `prefetch`, each field of the case file (`C`) or of the bound fact (`it`) is read once,
        # into a variable, at the top of the function or of the fact kind's block.
        self.prefetch = {"C": {}, "it": {}} if prefetch else None
        self.local_slots = prefetch       # the run function holds each list's visible pairs in a local `S<slot>`
        self.certain: set = set()         # expressions and variables that are surely not None
        self.windows = {} if prefetch else None   # (unit, amount) -> local holding that window's first day
        self.indexes = {} if prefetch else None   # index slot -> local holding the case's index, once built

    def take_prefetched(self, base: str) -> list:
        """The statements reading the fields of `base` that the code emitted since the last call uses."""
        found = self.prefetch[base]
        self.prefetch[base] = {}
        return [f"{var} = {read}" for read, var in found.items()]

    def tmp(self, stem: str = "t") -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, ind: int, line: str) -> None:
        self.lines.append("    " * ind + line)

    # -- expressions: return a Python expression, emitting the statements it needs first --------
    def expr(self, e, scope: dict, ind: int) -> str:
        if isinstance(e, ir.Lit):
            return self.p.const(e.value)
        if isinstance(e, ir.PathRef):
            return self.path(e, scope, ind)
        if isinstance(e, ir.Param):
            decl = self.p.policy.parameters[e.name]
            return self.p.const(decl.value) if decl.values is None else f"P[{e.name!r}]"
        if isinstance(e, ir.DecisionRef):
            return self.decision(e, scope, ind)
        if isinstance(e, ir.Count):
            return self.count(e, scope, ind)
        if isinstance(e, ir.Pick):
            return self.pick(e, scope, ind)
        if isinstance(e, ir.DateAdd):
            base = self.value(e.base, scope, ind)
            parts = [self.value(x, scope, ind) if x is not None else "0" for x in (e.years, e.months, e.days)]
            return f"_date_add({base}, {', '.join(parts)})"
        if isinstance(e, ir.DaysBetween):
            a = self.value(e.start, scope, ind)
            b = self.value(e.end, scope, ind)
            return f"_days_between({a}, {b})"
        if isinstance(e, ir.Step):
            v = self.value(e.operand, scope, ind)
            by = self.value(e.by, scope, ind)
            positions = self.p.const({value: i for i, value in enumerate(e.source)}, shared=True)
            return f"_step({v}, {by}, {positions}, {self.p.const(e.along, shared=True)})"
        raise TypeError(f"no code for expression {type(e).__name__}")

    def value(self, e, scope, ind) -> str:
        """An expression evaluated exactly once, into a variable when it is not trivial."""
        code = self.expr(e, scope, ind)
        if code.isidentifier() or _is_literal(code):
            return code
        v = self.tmp("v")
        self.emit(ind, f"{v} = {code}")
        if code in self.certain:
            self.certain.add(v)
        return v

    def within(self, unit: str, n: str, d: str, path) -> str:
        """`d` within `n` units before as_of, inclusive; a constant window's first day is computed once a case."""
        if self.windows is None or not _is_number(n) or not float(n).is_integer() or "." in n:
            return f"_within(X, {unit!r}, {n}, {d})"
        var = self.windows.get((unit, n))
        if var is None:
            var = self.windows[(unit, n)] = f"W_{unit}_{n}".replace("-", "m")
        typed = "" if (d in self.certain and getattr(path, "kind", "") == "date") else f"type({d}) is str and "
        return f"({var} is not None and {typed}{var} <= {d} <= A)"

    def not_none(self, code: str) -> str:
        return "True" if _never_none(code, self.certain) else f"{code} is not None"

    def path(self, ref: ir.PathRef, scope: dict, ind: int) -> str:
        if not ref.scope and ref.keys == ("as_of",):
            if self.traced:
                self.emit(ind, f"T.append(('as_of', A))")
            return "A"
        if ref.scope:
            bound = scope[ref.scope]
            base, base_is_dict = bound.var, bound.is_dict or bool(ref.dicts and ref.dicts[0])
        else:
            base, base_is_dict = "C", True
        if not ref.keys:
            code = base
        elif len(ref.keys) == 1 and base_is_dict:
            code = self._get(base, ref, 0, True)
        else:
            v = self.tmp("p")
            known, src = base_is_dict, base       # `known`: the value read from is surely a mapping
            for j in range(len(ref.keys)):
                read = self._get(src, ref, j, known)
                if known:
                    self.emit(ind, f"{v} = {read}")
                else:
                    self.emit(ind, f"{v} = {read} if type({src}) is dict else None")
                src = v
                known = known and ref.present[j] and j + 1 < len(ref.dicts) and ref.dicts[j + 1]
            code = v
        if ref.certain and base_is_dict:
            self.certain.add(code)
        if not self.traced:
            return code
        v = code
        if not (code.isidentifier() and code.startswith("p")):    # a multi-key read is already in a fresh variable
            v = self.tmp("p")
            self.emit(ind, f"{v} = {code}")
        label = _lit(ref.text) if not ref.scope else scope[ref.scope].label + _lit(_rest(ref))
        if ref.certain and base_is_dict:
            self.certain.add(v)
        if ref.scalar:
            test = f"{v} is not None" if v not in self.certain else ""
        else:
            test = f"{v} is not None and type({v}) is not dict and type({v}) is not list"
        self.emit(ind, f"if {test}: T.append({_entry(label, v)})" if test else f"T.append({_entry(label, v)})")
        return v

    def _get(self, src: str, ref: ir.PathRef, j: int, known: bool = True) -> str:
        has_default, default = ref.defaults[j] if j < len(ref.defaults) else (False, None)
        key = repr(ref.keys[j])
        if known and ref.present and ref.present[j]:
            read = f"{src}[{key}]"       # a required field of a validated mapping is always there
        else:
            read = f"{src}.get({key}, {self.p.const(default)})" if has_default else f"{src}.get({key})"
        if self.prefetch is not None and j == 0 and src in self.prefetch:
            table = self.prefetch[src]
            var = table.get(read)
            if var is None:
                var = table[read] = self.tmp("q")
            return var
        return read

    def decision(self, e: ir.DecisionRef, scope, ind) -> str:
        if e.map_key is None:
            code = f"D.get({e.name!r})"
            if not self.traced:
                return code
            v = self.tmp("d")
            self.emit(ind, f"{v} = {code}")
            self.emit(ind, f"if {v} is not None: T.append({_entry(_lit('decisions.' + e.name), v)})")
            return v
        key = self.value_untraced_key(e.map_key, scope, ind)
        v = self.tmp("d")
        self.emit(ind, f"{v} = _mget(D.get({e.name!r}), {key})")
        if self.traced:
            self.emit(ind, f"if {v} is not None: T.append({_entry(_lit('decisions.' + e.name) + '[{' + key + '}]', v)})")
        return v

    def value_untraced_key(self, e, scope, ind) -> str:
        # a map key is read like any other value (traced when tracing), exactly once
        return self.value(e, scope, ind)

    def _pairs(self, source: ir.PathRef, scope: dict, ind: int) -> tuple:
        """(code iterating (index, item) pairs, code of the list's printable path, event slot or None)."""
        if not source.scope:
            slot = self.p.list_slot(source.keys)
            if slot is not None:
                return (f"S{slot}" if self.local_slots else f"X.lists[{slot}]"), _lit(source.text), slot
        saved, self.traced = self.traced, False     # reading the list itself is not part of the why
        try:
            src = self.value(source, scope, ind)
        finally:
            self.traced = saved
        pairs = self.tmp("s")
        self.emit(ind, f"{pairs} = enumerate({src}) if type({src}) is list else ()")
        base = _lit(source.text) if not source.scope else scope[source.scope].label + _lit(_rest(source))
        return pairs, base, None

    def _keyed(self, source: ir.PathRef, alias: str, where, scope: dict, ind: int, pairs: str, slot) -> tuple:
        """When `where` tests `alias.k == E` (E not about alias) on a list at the top of the case file: only
        the items whose k equals E, through a per-case index (a helper call, not an inline try: loops and
        try blocks nest at most 20 deep in CPython). Returns the pairs to loop over and the condition left
        to test on each: without tracing the equality is known to hold and is dropped."""
        if where is None or slot is None:
            return pairs, where
        found = _equality(where, alias)
        if found is None:
            return pairs, where
        key, other, default, conjunct = found
        rest = where
        if not self.traced:
            items = [c for c in (where.items if isinstance(where, ir.All) else [where]) if c is not conjunct]
            rest = ir.All(items=items) if len(items) > 1 else items[0] if items else None
        saved, self.traced = self.traced, False     # the key is computed to look up, not reported
        try:
            wanted = self.value(other, scope, ind)
        finally:
            self.traced = saved
        index_slot = self.p.const(("index", source.keys, key), shared=True)
        bucket = self.tmp("b")
        kind = getattr(other, "kind", "any")
        if self.indexes is not None and (kind in SCALAR_KINDS or _never_none(wanted, self.certain)):
            # a scalar key: hashable; the index lives in a local once built (lists do not change during a case)
            var = self.indexes.setdefault(index_slot, f"IX{len(self.indexes)}")
            self.emit(ind, f"if {var} is None: {var} = _index(X, {index_slot}, {pairs}, {key!r}, {self.p.const(default)})")
            if _never_none(wanted, self.certain):
                self.emit(ind, f"{bucket} = {var}.get({wanted}, ())")
            else:
                self.emit(ind, f"{bucket} = {var}.get({wanted}, ()) if {wanted} is not None else ()")
            return bucket, rest
        self.emit(ind, f"{bucket} = _lookup(X, {index_slot}, {pairs}, {key!r}, {self.p.const(default)}, {wanted})")
        return bucket, rest

    def count(self, e: ir.Count, scope, ind) -> str:
        pairs, base, slot = self._pairs(e.source, scope, ind)
        n = self.tmp("n")
        if e.where is None:
            self.emit(ind, f"{n} = len({pairs})" if slot is not None else f"{n} = sum(1 for _ in {pairs})")
            return n
        pairs, where = self._keyed(e.source, e.alias, e.where, scope, ind, pairs, slot)
        i, h = self.tmp("i"), self.tmp("h")
        self.emit(ind, f"{n} = 0")
        if where is None:
            self.emit(ind, f"{n} = len({pairs})")
            return n
        self.emit(ind, f"for {i}, {h} in {pairs}:")
        inner = {**scope, e.alias: _Scope(h, base + "[{" + i + "}]", False)}
        mark = self.tmp("m")
        if self.traced:
            self.emit(ind + 1, f"{mark} = len(T)")
        w = self.cond(where, inner, ind + 1)
        self.emit(ind + 1, f"if {w}: {n} += 1")
        if self.traced:
            self.emit(ind + 1, f"else: del T[{mark}:]")
        return n

    def pick(self, e: ir.Pick, scope, ind) -> str:
        pairs, base, slot = self._pairs(e.source, scope, ind)
        saved, self.traced = self.traced, False     # only the chosen item is reported
        try:
            pairs, where = self._keyed(e.source, e.alias, e.where, scope, ind, pairs, slot)
            best, bk, bi = self.tmp("best"), self.tmp("bk"), self.tmp("bi")
            i, h, k = self.tmp("i"), self.tmp("h"), self.tmp("k")
            self.emit(ind, f"{best} = {bk} = None")
            self.emit(ind, f"{bi} = -1")
            self.emit(ind, f"for {i}, {h} in {pairs}:")
            self.emit(ind + 1, f"if type({h}) is not dict: continue")
            by_default = self.p.const(e.by_default[1]) if e.by_default[0] else "None"
            self.emit(ind + 1, f"{k} = {h}.get({e.by!r}, {by_default})")
            self.emit(ind + 1, f"if {k} is None: continue")
            if where is not None:
                inner = {**scope, e.alias: _Scope(h, "", True)}
                w = self.cond(where, inner, ind + 1)
                self.emit(ind + 1, f"if not {w}: continue")
            better = ">" if e.latest else "<"
            self.emit(ind + 1, f"if {bk} is None or {k} {better} {bk} or ({k} == {bk} and _tie_wins({h}, {best}, {e.latest!r})):")
            self.emit(ind + 2, f"{best}, {bk}, {bi} = {h}, {k}, {i}")
        finally:
            self.traced = saved
        out = self.tmp("v")
        if e.field_name is None:
            self.emit(ind, f"{out} = {best}")
        else:
            fd = self.p.const(e.field_default[1]) if e.field_default[0] else "None"
            self.emit(ind, f"{out} = {best}.get({e.field_name!r}, {fd}) if {best} is not None else None")
        if self.traced:
            prefix = base + "[{" + bi + "}]"
            self.emit(ind, f"if {best} is not None:")
            self.emit(ind + 1, f"T.append({_entry(prefix + _lit('.' + e.by), bk)})")
            if e.field_name is not None:
                self.emit(ind + 1, f"if {out} is not None: T.append({_entry(prefix + _lit('.' + e.field_name), out)})")
        return out

    # -- conditions: emit statements, return the name of a variable holding the result ------------
    def cond(self, c, scope: dict, ind: int) -> str:
        if not self.traced:
            fast = self.cond_expr(c, scope)
            if fast is not None:
                out = self.tmp("c")
                self.emit(ind, f"{out} = {fast}")
                return out
        out = self.tmp("c")
        if isinstance(c, ir.TrueCond):
            self.emit(ind, f"{out} = True")
        elif isinstance(c, ir.All):
            self.emit(ind, f"{out} = True")
            for k, item in enumerate(c.items):
                body = ind if k == 0 else ind + 1
                if k:
                    self.emit(ind, f"if {out}:")
                r = self.cond(item, scope, body)
                self.emit(body, f"{out} = {r}")
        elif isinstance(c, ir.AnyOf):
            self.emit(ind, f"{out} = False")
            for k, item in enumerate(c.items):
                if self.traced:
                    mark = self.tmp("m")
                    self.emit(ind, f"{mark} = len(T)")
                    r = self.cond(item, scope, ind)
                    self.emit(ind, f"if {r}: {out} = True")
                    self.emit(ind, f"else: del T[{mark}:]")
                else:
                    body = ind if k == 0 else ind + 1
                    if k:
                        self.emit(ind, f"if not {out}:")
                    r = self.cond(item, scope, body)
                    self.emit(body, f"{out} = {r}")
        elif isinstance(c, ir.Not):
            r = self.cond(c.item, scope, ind)
            self.emit(ind, f"{out} = not {r}")
        elif isinstance(c, ir.Compare) and c.op == "==" and isinstance(c.right, ir.Lit) and c.right.value is not None:
            a = self.value(c.left, scope, ind)             # None == a literal is False already
            self.emit(ind, f"{out} = {a} == {self.p.const(c.right.value)}")
        elif isinstance(c, ir.Compare):
            a = self.value(c.left, scope, ind)
            self.emit(ind, f"{out} = False")
            self.emit(ind, f"if {self.not_none(a)}:")
            b = self.value(c.right, scope, ind + 1)
            self.emit(ind + 1, f"if {self.not_none(b)}: {out} = {self.op(c, a, b)}")
        elif isinstance(c, ir.Presence):
            v = self.value(c.path, scope, ind)
            self.emit(ind, f"{out} = {v} is {'not ' if c.present else ''}None" if not _never_none(v, self.certain) else f"{out} = {c.present!r}")
        elif isinstance(c, ir.Some):
            self.some(c, scope, ind, out)
        elif isinstance(c, ir.Within):
            d = self.value(c.path, scope, ind)
            n = self.value(c.amount, scope, ind)
            self.emit(ind, f"{out} = {self.within(c.unit, n, d, c.path)}")
        elif isinstance(c, ir.Between):
            d = self.value(c.path, scope, ind)
            lo = self.value(c.start, scope, ind)
            hi = self.value(c.end, scope, ind)
            self.emit(ind, f"{out} = type({d}) is str and type({lo}) is str and type({hi}) is str and {lo} <= {d} <= {hi}")
        else:
            raise TypeError(f"no code for condition {type(c).__name__}")
        return out

    def some(self, c: ir.Some, scope, ind, out) -> None:
        pairs, base, slot = self._pairs(c.source, scope, ind)
        if c.where is None:
            self.emit(ind, f"{out} = bool({pairs})" if slot is not None else f"{out} = any(True for _ in {pairs})")
            return
        pairs, where = self._keyed(c.source, c.alias, c.where, scope, ind, pairs, slot)
        if where is None:
            self.emit(ind, f"{out} = bool({pairs})")
            return
        i, h = self.tmp("i"), self.tmp("h")
        self.emit(ind, f"{out} = False")
        self.emit(ind, f"for {i}, {h} in {pairs}:")
        inner = {**scope, c.alias: _Scope(h, base + "[{" + i + "}]", False)}
        if self.traced:         # every item that matches is part of the why
            mark = self.tmp("m")
            self.emit(ind + 1, f"{mark} = len(T)")
            w = self.cond(where, inner, ind + 1)
            self.emit(ind + 1, f"if {w}: {out} = True")
            self.emit(ind + 1, f"else: del T[{mark}:]")
        else:
            w = self.cond(where, inner, ind + 1)
            self.emit(ind + 1, f"if {w}:")
            self.emit(ind + 2, f"{out} = True")
            self.emit(ind + 2, "break")

    def op(self, c: ir.Compare, a: str, b: str) -> str:
        op = c.op
        if op == "==":
            return f"{a} == {b}"
        if op == "!=":
            return f"{a} != {b}"
        if op in ("in", "not_in"):
            return f"{'_in' if op == 'in' else '_not_in'}({a}, {b})"
        lk, rk = getattr(c.left, "kind", "any"), getattr(c.right, "kind", "any")
        if any(lk in family and rk in family for family in _ORDERED):
            return f"{a} {op} {b}"
        return {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}[op] + f"({a}, {b})"

    def cond_expr(self, c, scope) -> Optional[str]:
        """An untraced condition as one Python expression (no statements), or None when it needs loops."""
        if isinstance(c, ir.TrueCond):
            return "True"
        if isinstance(c, (ir.All, ir.AnyOf)):
            parts = [self.cond_expr(i, scope) for i in c.items]
            if any(p is None for p in parts):
                return None
            joiner = " and " if isinstance(c, ir.All) else " or "
            return "(" + joiner.join(parts) + ")"
        if isinstance(c, ir.Not):
            inner = self.cond_expr(c.item, scope)
            return None if inner is None else f"(not {inner})"
        if isinstance(c, ir.Presence):
            v = self.simple(c.path, scope)
            return None if v is None else f"({v} is {'not ' if c.present else ''}None)"
        if isinstance(c, ir.Compare):
            a = self.simple(c.left, scope)
            b = self.simple(c.right, scope)
            if a is None or b is None:
                return None
            if isinstance(c.right, ir.Lit) and c.right.value is not None and c.op == "==":
                return f"({a} == {b})"       # None == literal is False already
            tests = []
            if _never_none(a, self.certain):
                va = a
            else:
                va = self.tmp("w")
                tests.append(f"({va} := {a}) is not None")
            if _never_none(b, self.certain):
                vb = b
            else:
                vb = self.tmp("w")
                tests.append(f"({vb} := {b}) is not None")
            return "(" + " and ".join(tests + [self.op(c, va, vb)]) + ")"
        if isinstance(c, ir.Within):
            d = self.simple(c.path, scope)
            n = self.simple(c.amount, scope)
            if d is None or n is None:
                return None
            return self.within(c.unit, n, d, c.path)
        return None

    def simple(self, e, scope) -> Optional[str]:
        """A side-effect-free expression needing no statements (literals, params, one-key paths, decisions)."""
        if isinstance(e, ir.Lit):
            return self.p.const(e.value)
        if isinstance(e, ir.Param):
            decl = self.p.policy.parameters[e.name]
            return self.p.const(decl.value) if decl.values is None else f"P[{e.name!r}]"
        if isinstance(e, ir.DecisionRef) and e.map_key is None:
            return f"D.get({e.name!r})"
        if isinstance(e, ir.PathRef):
            if not e.scope and e.keys == ("as_of",):
                return "A"
            if e.scope:
                bound = scope[e.scope]
                base, is_dict = bound.var, bound.is_dict or bool(e.dicts and e.dicts[0])
            else:
                base, is_dict = "C", True
            if len(e.keys) == 1 and is_dict:
                code = self._get(base, e, 0)
                if e.certain:
                    self.certain.add(code)
                return code
            if len(e.keys) == 1:
                return f"({self._get(base, e, 0)} if type({base}) is dict else None)"
            return None
        return None


def _never_none(code: str, certain=()) -> bool:
    """Literals (never null in a rule), as_of, and what validation guarantees are never None."""
    return code == "A" or code in certain or (_is_literal(code) and code != "None")


def _is_literal(code: str) -> bool:
    return code in ("None", "True", "False") or code.startswith(("K[", "'", '"')) or _is_number(code)


def _is_number(code: str) -> bool:
    try:
        float(code)
        return True
    except ValueError:
        return False


def _rest(ref: ir.PathRef) -> str:
    return "".join("." + k for k in ref.keys)


def _refers_to(e, alias: str) -> bool:
    """Whether an expression reads the item bound to `alias` (anywhere inside it)."""
    if isinstance(e, ir.PathRef):
        return e.scope == alias
    if isinstance(e, (ir.Lit, ir.Param)):
        return False
    if isinstance(e, ir.DecisionRef):
        return e.map_key is not None and _refers_to(e.map_key, alias)
    if isinstance(e, (ir.Count, ir.Pick)):
        return _refers_to(e.source, alias) or (e.where is not None and _cond_refers_to(e.where, alias))
    if isinstance(e, ir.DateAdd):
        return any(x is not None and _refers_to(x, alias) for x in (e.base, e.years, e.months, e.days))
    if isinstance(e, ir.DaysBetween):
        return _refers_to(e.start, alias) or _refers_to(e.end, alias)
    if isinstance(e, ir.Step):
        return _refers_to(e.operand, alias) or _refers_to(e.by, alias)
    return True


def _cond_refers_to(c, alias: str) -> bool:
    if isinstance(c, (ir.All, ir.AnyOf)):
        return any(_cond_refers_to(i, alias) for i in c.items)
    if isinstance(c, ir.Not):
        return _cond_refers_to(c.item, alias)
    if isinstance(c, ir.Compare):
        return _refers_to(c.left, alias) or _refers_to(c.right, alias)
    if isinstance(c, ir.Presence):
        return _refers_to(c.path, alias)
    if isinstance(c, ir.Some):
        return _refers_to(c.source, alias) or (c.where is not None and _cond_refers_to(c.where, alias))
    if isinstance(c, ir.Within):
        return _refers_to(c.path, alias) or _refers_to(c.amount, alias)
    if isinstance(c, ir.Between):
        return any(_refers_to(x, alias) for x in (c.path, c.start, c.end))
    return False


def _equality(where, alias: str):
    """(key, other expression, key's default, the conjunct) for a conjunct `alias.key == other` of `where`, else None."""
    conjuncts = where.items if isinstance(where, ir.All) else [where]
    for c in conjuncts:
        if not isinstance(c, ir.Compare) or c.op != "==":
            continue
        for mine, other in ((c.left, c.right), (c.right, c.left)):
            if (isinstance(mine, ir.PathRef) and mine.scope == alias and len(mine.keys) == 1
                    and not _refers_to(other, alias) and getattr(other, "kind", "any") in SCALAR_KINDS | {"any"}):
                has_default, default = mine.defaults[0] if mine.defaults else (False, None)
                return mine.keys[0], other, default if has_default else None, c
    return None


class Builder:
    """Collects the constants and event-list slots that generated functions share."""

    def __init__(self, policy):
        self.policy = policy
        self.consts: list = []
        self._const_ids: dict = {}
        # every list at the top of the case file gets a slot: its visible (position, item) pairs are
        # computed once per case (only those dated on or before as_of, for an event-dated list)
        roots = {(name,) for name, shape in policy.facts_shape.props.items() if shape.kind == "array"}
        roots |= set(policy.event_dates)
        self.slots = tuple((keys, policy.event_dates.get(keys)) for keys in sorted(roots))
        self._slot = {keys: i for i, (keys, _f) in enumerate(self.slots)}

    def list_slot(self, keys: tuple) -> Optional[int]:
        return self._slot.get(tuple(keys))

    def const(self, value, shared: bool = False) -> str:
        if not shared:
            if value is None or isinstance(value, bool):
                return repr(value)
            if type(value) is int:
                return repr(value)
            if type(value) is float and math.isfinite(value):
                return repr(value)
            if type(value) is str and len(value) < 200:
                return repr(value)
        key = (type(value).__name__, json.dumps(value, sort_keys=True, default=repr) if not isinstance(value, float) else repr(value))
        found = self._const_ids.get(key)
        if found is None:
            found = self._const_ids[key] = len(self.consts)
            self.consts.append(value)
        return f"K[{found}]"


class Program:
    """The compiled form of one policy version for the Python backend: one generated function that runs
    every stratum on a case (`run_plain`, and `run_traced` which also records the why), plus per-rule
    functions the durable backend borrows (conclusions, traced conditions, flags)."""

    name = "python"

    def __init__(self, policy, frozen: Optional[dict] = None):
        self.policy = policy
        self.builder = Builder(policy)
        self.slots = self.builder.slots
        self.consumed = frozenset(r.binds for r in policy.rules)
        self.kinds = sorted(self.consumed | {ir.CASE})
        self.kind_id = {kind: i for i, kind in enumerate(self.kinds)}
        self.decision_names = list(policy.decisions)
        self.derived_names = sorted(policy.derived)
        self._rule_traced: dict = {}
        self._flags: dict = {}
        if frozen is None:
            self.source = self._generate()
            self._code = compile(self.source, f"<regcode {self.policy.ref} python backend>", "exec")
        else:       # from the compiled-policy cache: the code generated then, as marshalled bytecode
            self.source = frozen["source"]
            self.builder.consts = list(frozen["consts"])
            self._code = marshal.loads(frozen["code"])
        self._namespace = self._load()

    def frozen(self) -> dict:
        """What the cache keeps of this program (engine/cache.py): the source, its constants, its bytecode."""
        return {"source": self.source, "consts": tuple(self.builder.consts), "code": marshal.dumps(self._code)}

    @classmethod
    def restore(cls, policy, frozen: dict) -> "Program":
        return cls(policy, frozen)

    # -- generation ---------------------------------------------------------------------------
    def _generate(self) -> str:
        out = ["# generated by regcode's Python backend from the intermediate form; do not edit"]
        out.extend(self._run("run_plain", traced=False))
        out.extend(self._run("run_traced", traced=True))
        for rule in self.policy.rules:
            out.extend(self._then(rule))
        return "\n".join(out) + "\n"

    def _bound(self, rule) -> dict:
        if not rule.alias:
            return {}
        kind = rule.binds
        is_dict = kind.startswith("derived:") or self._list_items_are_dicts(kind)
        return {rule.alias: _Scope("it", "{lb}", is_dict)}

    def _list_items_are_dicts(self, kind: str) -> bool:
        shape = self.policy.facts_shape
        for k in kind[5:].split("."):
            shape = shape.child(k) if shape is not None else None
        items = shape.items if shape is not None else None
        return bool(items is not None and items.exact and items.kind == "object")

    def _run(self, name: str, traced: bool) -> list:
        """def run(C, A, P, X) -> (decisions, claims per decision, derived facts per kind, firings)."""
        policy, g = self.policy, Generator(self.builder, traced, prefetch=True)
        g.emit(0, f"def {name}(C, A, P, X):")
        g.emit(1, "D = {}")
        g.emit(1, "F = 0")
        g.emit(1, "ND = 0")
        g.emit(1, "cur = -1")
        for j in range(len(self.decision_names)):
            g.emit(1, f"L{j} = []")
        for j in range(len(self.derived_names)):
            g.emit(1, f"G{j} = {{}}")
        for slot, (keys, field_name) in enumerate(self.slots):     # the visible items of every list, once
            g.emit(1, f"s = C.get({keys[0]!r})" if len(keys) == 1 else f"s = _reach(C, {keys!r})")
            if field_name is None:
                g.emit(1, f"S{slot} = list(enumerate(s)) if type(s) is list else []")
            else:   # an item dated after as_of has not happened yet
                g.emit(1, f"S{slot} = [(i, h) for i, h in enumerate(s) if type(h) is not dict or type(d := h.get({field_name!r})) "
                          f"is not str or d <= A] if type(s) is list else []")
        g.emit(1, "try:")
        top_of_run = len(g.lines)
        read_after = [sorted({d for later in policy.strata[i + 1:] for r in later for d in r.reads_decisions})
                      for i in range(len(policy.strata))]
        memo: set = set()
        for j, dname in enumerate(self.decision_names):
            if any(dname in names for names in read_after):
                g.emit(2, f"z{j} = -1")
        for k, rules in enumerate(policy.strata):
            kinds = sorted({r.binds for r in rules})
            g.emit(2, f"# ---- stratum {k}")
            g.emit(2, "W = []")
            for kind in kinds:
                self._initial(g, kind, traced, 2)
            g.emit(2, "wi = 0")
            g.emit(2, "while wi < len(W):")
            g.emit(3, "kid, it, lb = W[wi]")
            g.emit(3, "wi += 1")
            for n, kind in enumerate(kinds):
                g.emit(3, f"{'if' if n == 0 else 'elif'} kid == {self.kind_id[kind]}:   # {kind}")
                top = len(g.lines)
                guards: dict = {}     # a rules file's guard is evaluated once per fact, for all its rules
                for rule in sorted((r for r in rules if r.binds == kind), key=lambda r: r.index):
                    g.emit(4, f"# {rule.id}")
                    g.emit(4, f"cur = {rule.index}")
                    cond = rule.condition
                    if rule.guard is not None and isinstance(cond, ir.All) and cond.items and cond.items[0] is rule.guard:
                        if id(rule.guard) not in guards:
                            if traced:
                                g.emit(4, "T = []")
                            held = g.cond(rule.guard, {}, 4)
                            seen = g.tmp("gt")
                            if traced:
                                g.emit(4, f"{seen} = T")
                            guards[id(rule.guard)] = (held, seen)
                        held, seen = guards[id(rule.guard)]
                        rest = cond.items[1:]
                        g.emit(4, f"if {held}:")
                        if traced:
                            g.emit(5, f"T = list({seen})")
                        if not rest:
                            self._fire(g, rule, set(kinds), traced, 5)
                            continue
                        r = g.cond(rest[0] if len(rest) == 1 else ir.All(items=rest), self._bound(rule), 5)
                        g.emit(5, f"if {r}:")
                        self._fire(g, rule, set(kinds), traced, 6)
                        continue
                    if traced:
                        g.emit(4, "T = []")
                    r = g.cond(cond, self._bound(rule), 4)
                    g.emit(4, f"if {r}:")
                    self._fire(g, rule, set(kinds), traced, 5)
                g.lines[top:top] = ["    " * 4 + line for line in g.take_prefetched("it")]
            for dname in read_after[k]:      # resolved again only when claimed since
                j = self.decision_names.index(dname)
                memo.add(j)
                g.emit(2, f"if len(L{j}) != z{j}: r{j}, z{j} = {self._resolution(j)}, len(L{j})")
                g.emit(2, f"D[{dname!r}] = r{j}")
        g.emit(2, "cur = -1")
        final = ", ".join(f"{dname!r}: " + (f"(r{j} if len(L{j}) == z{j} else R{j}(L{j}))" if j in memo else self._resolution(j))
                          for j, dname in enumerate(self.decision_names))
        g.emit(2, f"return ({{{final}}}, ({''.join(f'L{j}, ' for j in range(len(self.decision_names)))}), "
                  f"({''.join(f'G{j}, ' for j in range(len(self.derived_names)))}), F)")
        g.lines[top_of_run:top_of_run] = ["    " * 2 + line for line in g.take_prefetched("C")] + [
            "    " * 2 + f"{var} = _window_start(X, {unit!r}, {n})" for (unit, n), var in sorted(g.windows.items())] + [
            "    " * 2 + f"{var} = None" for var in sorted(g.indexes.values())]
        g.emit(1, "except _PolicyError:")
        g.emit(2, "raise")
        g.emit(1, "except Exception as exc:")
        g.emit(2, "_failed(cur, exc)")
        return g.lines

    def _resolution(self, j: int) -> str:
        """A decision's value from its claims; the default, when immutable, needs no call."""
        default = self.policy.decisions[self.decision_names[j]].default
        if isinstance(default, (dict, list)):
            return f"R{j}(L{j})"
        return f"(R{j}(L{j}) if L{j} else {self.builder.const(default)})"

    def _initial(self, g: Generator, kind: str, traced: bool, ind: int) -> None:
        """The facts a stratum starts from, for one kind it binds."""
        kid = self.kind_id[kind]
        if kind == ir.CASE:
            g.emit(ind, f"W.append(({kid}, C, ''))")
        elif kind.startswith("list:"):
            path = kind[5:]
            keys = tuple(path.split("."))
            slot = self.builder.list_slot(keys)
            pairs = f"S{slot}" if slot is not None else \
                f"_visible(C, {keys!r}, {self.policy.event_dates.get(keys)!r}, A)"
            label = "f" + repr(_lit(path) + "[{i}]") if traced else "None"
            g.emit(ind, f"for i, h in {pairs}: W.append(({kid}, h, {label}))")
        else:
            j = self.derived_names.index(kind[8:])
            if traced:
                g.emit(ind, f"for e in G{j}.values(): W.append(({kid}, e[0], e[1]))")
            else:
                g.emit(ind, f"for e in G{j}.values(): W.append(({kid}, e, None))")

    def _fire(self, g: Generator, rule, stratum_kinds: set, traced: bool, ind: int) -> None:
        """A rule held: count it, compute its conclusions (never traced), record claims and derived facts."""
        g.emit(ind, "F += 1")
        g.emit(ind, f"if F > {MAX_FIRINGS}: _too_many(cur)")
        if traced:
            g.emit(ind, "m = _matched(T)")
        scope = self._bound(rule)
        saved, g.traced = g.traced, False
        try:
            for concl in rule.conclusions:
                if isinstance(concl, ir.Decide):
                    v = g.value(concl.value, scope, ind)
                    key = g.value(concl.map_key, scope, ind) if concl.map_key is not None else "None"
                    j = self.decision_names.index(concl.decision)
                    claim = f"({v}, {key}, {rule.index}, lb, m)" if traced else f"({v}, {key}, {rule.index})"
                    g.emit(ind, f"L{j}.append({claim})")
                    continue
                j = self.derived_names.index(concl.fact)
                names = sorted(concl.fields)
                values = [g.value(concl.fields[n], scope, ind) for n in names]
                shapes = self.policy.derived[concl.fact].props
                frozen = [v if shapes[n].kind in SCALAR_KINDS else f"_freeze({v})" for n, v in zip(names, values)]
                key, e, data = g.tmp("key"), g.tmp("e"), g.tmp("data")
                g.emit(ind, f"{key} = ({self.builder.const(tuple(names), shared=True)}, {''.join(f + ', ' for f in frozen)})")
                g.emit(ind, f"{e} = G{j}.get({key})")
                g.emit(ind, f"if {e} is None:")
                g.emit(ind + 1, "ND += 1")
                g.emit(ind + 1, f"if ND > {MAX_DERIVED}: _too_many_derived(cur)")
                g.emit(ind + 1, f"{data} = {{{', '.join(f'{n!r}: {v}' for n, v in zip(names, values))}}}")
                kind = f"derived:{concl.fact}"
                if traced:
                    g.emit(ind + 1, f"{e} = G{j}[{key}] = [{data}, _label({concl.fact!r}, {data}), []]")
                    if kind in stratum_kinds:
                        g.emit(ind + 1, f"W.append(({self.kind_id[kind]}, {data}, {e}[1]))")
                    g.emit(ind, f"{e}[2].append(({rule.id!r}, lb))")
                else:
                    g.emit(ind + 1, f"G{j}[{key}] = {data}")
                    if kind in stratum_kinds:
                        g.emit(ind + 1, f"W.append(({self.kind_id[kind]}, {data}, None))")
        finally:
            g.traced = saved

    def _then(self, rule) -> list:
        g = Generator(self.builder, False)
        g.emit(0, f"def c_{rule.index}(C, it, lb, A, P, D, X):")
        g.emit(1, f"# {rule.id}")
        parts = []
        scope = self._bound(rule)
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                v = g.value(concl.value, scope, 1)
                key = g.value(concl.map_key, scope, 1) if concl.map_key is not None else "None"
                parts.append(f"({v}, {key})")
            else:
                fields = [f"{name!r}: {g.value(expr, scope, 1)}" for name, expr in sorted(concl.fields.items())]
                parts.append("{" + ", ".join(fields) + "}")
        g.emit(1, "return (" + "".join(p + ", " for p in parts) + ")")
        return g.lines

    def _load(self) -> dict:
        from .errors import PolicyError
        namespace = {"K": tuple(self.builder.consts), "__builtins__": BUILTINS, "_PolicyError": PolicyError,
                     "_failed": self._failed, "_too_many": self._too_many, "_too_many_derived": self._too_many_derived,
                     "_matched": _matched, "_freeze": _freeze, "_label": _label, "_visible": visible, "_reach": _reach}
        namespace.update(HELPERS)
        from .evaluate import resolver
        for j, name in enumerate(self.decision_names):
            namespace[f"R{j}"] = resolver(self.policy, self.policy.decisions[name])
        exec(self._code, namespace)
        self.run_plain, self.run_traced = namespace["run_plain"], namespace["run_traced"]
        self.thens = {rule.index: namespace[f"c_{rule.index}"] for rule in self.policy.rules}
        return namespace

    # -- errors raised from generated code ------------------------------------------------------
    def _failed(self, cur: int, exc: Exception):
        from .errors import EvaluationError, Issue, Location
        if cur < 0:
            raise EvaluationError([Issue("eval.action", f"the evaluation failed: {type(exc).__name__}: {exc}", Location(),
                                         "report this with the case file: it is a bug in regcode")]) from exc
        rule = self.policy.rules[cur]
        raise EvaluationError([Issue("eval.action", f"rule `{rule.id}` failed: {type(exc).__name__}: {exc}", rule.location,
                                     "report this with the case file: a rule's condition or conclusion could not be "
                                     "computed")]) from exc

    def _too_many(self, cur: int):
        from .errors import EvaluationError, Issue
        raise EvaluationError([Issue("eval.limit", f"more than {MAX_FIRINGS} rule firings: the derivations do not end",
                                     self.policy.rules[cur].location,
                                     "check rules that derive facts from facts of their own kind")])

    def _too_many_derived(self, cur: int):
        from .errors import EvaluationError, Issue
        raise EvaluationError([Issue("eval.limit", f"more than {MAX_DERIVED} derived facts", self.policy.rules[cur].location,
                                     "check rules that derive facts from facts of their own kind")])

    # -- single rules and flags, for the durable backend ---------------------------------------
    def rule_traced(self, rule):
        """fn(C, it, lb, A, P, D, X, T) -> bool: one rule's condition, recording its why into T."""
        fn = self._rule_traced.get(rule.index)
        if fn is None:
            g = Generator(self.builder, True)
            g.emit(0, f"def r_{rule.index}(C, it, lb, A, P, D, X, T):")
            r = g.cond(rule.condition, self._bound(rule), 1)
            g.emit(1, f"return {r}")
            fn = self._rule_traced[rule.index] = self._compile_one("\n".join(g.lines), f"r_{rule.index}")
        return fn

    def flag(self, rule, cond, key):
        """fn(C, it, lb, A, P, D, X) -> bool for a part of a rule's condition (durable's flags)."""
        fn = self._flags.get(key)
        if fn is None:
            g = Generator(self.builder, False)
            name = f"f_{len(self._flags)}"
            g.emit(0, f"def {name}(C, it, lb, A, P, D, X):")
            r = g.cond(cond, self._bound(rule), 1)
            g.emit(1, f"return {r}")
            fn = self._flags[key] = self._compile_one("\n".join(g.lines), name)
        return fn

    def _compile_one(self, source: str, name: str):
        namespace = dict(self._namespace)
        namespace["K"] = tuple(self.builder.consts)     # constants added since the program was built
        exec(compile(source + "\n", f"<regcode {self.policy.ref} python backend>", "exec"), namespace)
        return namespace[name]

    # -- the backend interface (engine/evaluate.py) ----------------------------------------------
    def case_cache(self, case: dict, as_of: str) -> CaseCache:
        return CaseCache(case, as_of, self.slots)

    def run(self, case: dict, as_of: str, params: dict, traced: bool):
        """(decisions, claims by decision, derived facts, firings) for one case. Claims are tuples
        (value, key, rule index[, fact label, matched pairs]); derived facts (kind, data, label, [(rule, from)])."""
        X = CaseCache(case, as_of, self.slots, lists=False)
        decisions, lists, stores, firings = (self.run_traced if traced else self.run_plain)(case, as_of, params, X)
        claims = dict(zip(self.decision_names, lists))
        derived = []
        if traced:
            for name, store in zip(self.derived_names, stores):
                for data, label, by in store.values():
                    derived.append((f"derived:{name}", data, label, by))
        return decisions, claims, derived, firings

    def conclude(self, rule, fact, state) -> tuple:
        return self.thens[rule.index](state.case, fact.data, fact.label, state.as_of, state.params, state.decisions, state.cache)


MAX_FIRINGS = 20000          # bound on rule firings per evaluation (forward chaining must end)
MAX_DERIVED = 5000           # bound on derived facts per evaluation


def _matched(trace: list) -> tuple:
    """(path, value) pairs in the order read, each path once (entries are formatted here, see `_entry`)."""
    first: dict = {}
    for entry in trace:
        path = entry[0] if len(entry) == 2 else entry[0].format(*entry[1:-1])
        if path not in first:
            first[path] = entry[-1]
    return tuple(first.items())


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _label(kind: str, data: dict) -> str:
    inner = ",".join(f"{k}={data[k]}" for k in sorted(data) if data[k] is not None and not isinstance(data[k], (dict, list)))
    return f"{kind}{{{inner}}}"
