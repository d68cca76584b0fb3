"""The Python backend: the intermediate form compiled to generated Python source, once per policy version.

For every stratum and every fact kind it binds, one function evaluates the conditions of all the
rules on one fact and lists the rules that hold. Two variants are generated: a plain one, and a
traced one that records the facts each condition reads *while* it evaluates it (the why): the
values read stay in local variables, and the entries are written only where they are kept, when
the rule holds: an `any` keeps the branches that held, `some` and `count` keep the items that
matched, `latest`/`earliest` report the item chosen (see Generator). Nothing is evaluated twice.

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
from collections import defaultdict
from dataclasses import fields
from types import MappingProxyType
from typing import Optional

from . import _dates
from . import _ir as ir

SCALAR_KINDS = {"string", "date", "number", "integer", "boolean"}
_ORDERED = ({"string", "date"}, {"number", "integer", "boolean"})


# ---- helpers the generated code calls ------------------------------------------------------
class CaseCache:
    """Per-evaluation state of generated code: visible items of event-dated lists, indexes, windows."""

    __slots__ = ("as_of", "lists", "indexes", "windows", "texts", "picks")

    def __init__(self, case: dict, as_of: str, slots: tuple, lists: bool = True):
        self.as_of = as_of
        self.indexes: dict = {}
        self.windows: dict = {}
        self.texts: dict = {}      # id(item) -> its canonical JSON, for ties between equal dates (items live all case)
        self.picks: dict = {}      # (pick site, id(list or bucket)) -> what it picked (Generator.pick)
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


def _group(X: CaseCache, slot, items, key: str, default) -> dict:
    """Items (without positions) by the value of `key`, for untraced code that holds the index in a local."""
    found: dict = {}
    for item in items:
        if type(item) is not dict:
            continue
        value = item.get(key, default)
        if value is None:
            continue
        try:
            found.setdefault(value, []).append(item)
        except TypeError:       # an unhashable value equals no hashable key
            continue
    return found


def _group_required(X: CaseCache, slot, items, key: str, default) -> dict:
    """`_group` for items validation makes mappings whose `key` is always there, a scalar, never null.
    (A defaultdict: generated code only ever reads it with .get, which adds nothing.)"""
    found = defaultdict(list)
    for item in items:
        found[item[key]].append(item)
    return found


def _group_defaulted(X: CaseCache, slot, items, key: str, default) -> dict:
    """`_group` for items validation makes mappings whose `key`, when there, is a scalar, never null (and
    its default is not null)."""
    found = defaultdict(list)
    for item in items:
        found[item.get(key, default)].append(item)
    return found


_NO_ITEMS = MappingProxyType({})     # the index of an empty list (read-only: generated code only calls .get)


def _index_required(X: CaseCache, slot, pairs, key: str, default) -> dict:
    """`_index` (pairs, kept per case) for items as `_group_required` takes them."""
    found = X.indexes[slot] = defaultdict(list)
    for pair in pairs:
        found[pair[1][key]].append(pair)
    return found


def _index_defaulted(X: CaseCache, slot, pairs, key: str, default) -> dict:
    found = X.indexes[slot] = defaultdict(list)
    for pair in pairs:
        found[pair[1].get(key, default)].append(pair)
    return found


def _lookup_items(X: CaseCache, slot, items, key: str, default, wanted):
    """The items whose `key` equals `wanted` (all of them when it cannot be hashed), the index kept per case."""
    if wanted is None:
        return ()
    found = X.indexes.get(slot)
    if found is None:
        found = X.indexes[slot] = _group(X, slot, items, key, default)
    try:
        return found.get(wanted, ())
    except TypeError:
        return items


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


_NO_DAY = "\uffff"      # the first day of a window that has none (a date out of range): after every ISO date


def _window_table(windows: tuple) -> tuple:
    """(memo, fn(as_of) -> the first day of every constant window): a window depends on as_of alone, so a
    batch that evaluates many cases on one day computes it once (the memo is bounded)."""
    memo: dict = {}

    def compute(as_of):
        try:
            day = _dates.parse(as_of)
        except ValueError:
            day = None
        found = []
        for unit, n in windows:
            if day is not None and unit == "years":   # _dates.shift's whole-year rule (29 February -> 28), directly
                year = day.year - n
                leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
                found.append(f"{year:04d}-{day.month:02d}-{28 if day.month == 2 and day.day == 29 and not leap else day.day:02d}"
                             if 1 <= year <= 9999 else _NO_DAY)
                continue
            try:
                found.append(_dates.shift(as_of, **{unit: -n}))
            except (ValueError, OverflowError):
                found.append(_NO_DAY)
        found = tuple(found)
        if len(memo) >= 4096:
            memo.clear()
        memo[as_of] = found
        return found
    return memo, compute


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


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class DateOutOfRange(ValueError):
    """A computed amount moved a date out of the calendar (0001-01-01 .. 9999-12-31): said as the rule's
    `eval.date_range` (runtime_issue), never a claim of nothing."""

    def __init__(self, base: str, years: int, months: int, days: int):
        self.moved = (base, years, months, days)      # placed in the case file by evaluate._at_case
        moved = ", ".join(f"{n:,} {unit}" for n, unit in ((years, "years"), (months, "months"), (days, "days")) if n)
        forward = (years * 12 + months) * 31 + days > 0
        super().__init__(f"`date_add` moves {base} by {moved or 'nothing'}, "
                         + ("past 9999-12-31, where the calendar ends" if forward else "before 0001-01-01, where the calendar begins"))


def _date_add(base, y, m, d):
    if type(base) is not str or type(y) is not int or type(m) is not int or type(d) is not int:
        return None
    try:
        day = _dates.parse(base)
    except ValueError:
        return None
    try:
        if m and not d:      # whole months (and years): what _dates.shift gives, without building dates
            year, month = divmod(day.year * 12 + day.month - 1 + y * 12 + m, 12)
            if not 1 <= year <= 9999:
                raise DateOutOfRange(base, y, m, d)
            last = 29 if month == 1 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else _MONTH_DAYS[month]
            return f"{year:04d}-{month + 1:02d}-{min(day.day, last):02d}"
        return _dates.shift(base, y, m, d)
    except DateOutOfRange:
        raise
    except (ValueError, OverflowError):     # the base is a date: only the amount can take it out of the calendar
        raise DateOutOfRange(base, y, m, d) from None


def runtime_issue(exc: Exception, rules: list):
    """The issue of the rule (or one of `rules`, whose conditions ran together) whose code raised what a case can
    cause (a date moved out of the calendar by an amount the case gives), or None for anything else (a bug:
    eval.action). Worded alike on every backend: the fact a backend matched the rule on is its own (durable
    names one, the generated code none); the case file's field that holds the date, which both can name, is
    added where the case is known (evaluate._at_case), and the issue placed there."""
    from .errors import Issue
    if isinstance(exc, DateOutOfRange):
        names = ", ".join(f"`{r.id}`" for r in rules[:4]) + (" ..." if len(rules) > 4 else "")
        who = f"rule {names}" if len(rules) == 1 else f"one of the rules {names}"
        return Issue("eval.date_range", f"{who}: {exc}", rules[0].location,
                     "the amount comes from the case file or from a computation on it: check the values the rule reads")
    return None


def runtime_error(said, exc: Exception):
    """The EvaluationError of runtime_issue's issue, keeping what a date out of the calendar moved (for _at_case)."""
    from .errors import EvaluationError
    error = EvaluationError([said])
    error.moved = getattr(exc, "moved", None)
    return error


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


def _tie_wins(X: CaseCache, item, best, latest: bool) -> bool:
    """Equal dates: decide by the items' content, so the choice never depends on list order. Each item is
    written out once a case (a list of many items with one date would otherwise cost n^2 dumps)."""
    texts = X.texts
    a = texts.get(id(item))
    if a is None:
        a = texts[id(item)] = json.dumps(item, sort_keys=True, ensure_ascii=False)
    b = texts.get(id(best))
    if b is None:
        b = texts[id(best)] = json.dumps(best, sort_keys=True, ensure_ascii=False)
    return a > b if latest else a < b


HELPERS = {name: globals()[name] for name in ("_index", "_lookup", "_group", "_lookup_items", "_group_required",
                                               "_index_required", "_group_defaulted", "_index_defaulted", "_within", "_window_start", "_lt", "_le", "_gt", "_ge", "_in", "_not_in", "_mget",
                                               "_date_add", "_days_between", "_step", "_tie_wins")}
BUILTINS = {"len": len, "type": type, "dict": dict, "list": list, "str": str, "bool": bool, "enumerate": enumerate,
            "TypeError": TypeError, "Exception": Exception, "sum": sum, "any": any, "id": id}


# ---- the code generator ---------------------------------------------------------------------
def _lit(text: str) -> str:
    """Text as the literal part of an f-string body."""
    return text.replace("{", "{{").replace("}", "}}")


_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _path_code(body: str) -> str:
    """Source of the printable path with this f-string body: a plain literal when it names no variable."""
    if _PLACEHOLDER.search(body):
        return "f" + repr(body)
    return repr(body.replace("{{", "{").replace("}}", "}"))


class _Scope:
    """What a name in a condition means in generated code: the variable holding a bound item, and the
    f-string body of its printable path (for the why), e.g. `spot_checks[{i3}]`."""

    def __init__(self, var: str, label: str, is_dict: bool, scalars: frozenset = frozenset(),
                 present: frozenset = frozenset()):
        self.var, self.label, self.is_dict = var, label, is_dict
        self.scalars = scalars    # fields surely a scalar when not None
        self.present = present    # fields surely there (maybe null): read by subscription


class Val:
    """A value in generated code. `raw` is an expression without side effects; in traced code `bind` names
    the variable its first use assigns (`(p3 := it['date'])`), so that the why can name the value read.
    `trace` lists what reading it contributes to the why (see Generator.cond)."""

    __slots__ = ("raw", "bind", "trace")

    def __init__(self, raw: str, bind: Optional[str] = None, trace: Optional[list] = None):
        self.raw, self.bind, self.trace = raw, bind, trace or []

    @property
    def first(self) -> str:
        """The expression for the first (or only) use."""
        return f"({self.bind} := {self.raw})" if self.bind else self.raw

    @property
    def again(self) -> str:
        """The expression for a use after the first one has run."""
        return self.bind or self.raw


class Generator:
    """Emits the statements of one function; `traced` selects the variant that records the why.

    The why is recorded while matching, as data kept in local variables, and turned into entries only
    where it is kept: a condition returns, beside its code, its *trace*, a list of
      ("e", path body, variable, test)   an entry (the path, the value read), when `test` holds (or always)
      ("x", variable, promise)           the entries a list operator gathered for the items that matched
      ("if", test, [trace])              a part kept only when `test` holds at run time (a branch that held)
      ("s", statement)                   a statement computing a value only the why needs (run where kept)
    in the order the values were read. A rule that holds emits its trace once (`emit_trace`); a rule that
    does not hold, an `any` branch or a `some` item that did not match costs nothing for the why.
    """

    def __init__(self, program: "Builder", traced: bool, prefetch: bool = False):
        self.p = program
        self.traced = traced
        self.lines: list = []
        self.n = 0
        # With `prefetch`, each field of the case file (`C`) or of the bound fact (`it`) is read once,
        # into a variable, at the top of the function or of the fact kind's block.
        self.prefetch = {"C": {}, "it": {}} if prefetch else None
        self.local_slots = prefetch       # the run function holds each list's visible items in a local `S<slot>`
        # untraced run functions hold the items alone (no positions: nothing is reported)
        self.items_only = prefetch and not traced
        self.certain: set = set()         # expressions and variables that are surely not None
        self.indexes = {} if prefetch else None   # index slot -> local holding the case's index, once built
        self.windows_used: set = set()    # constant windows (Builder.windows) this function reads
        self.decision_locals: Optional[dict] = None   # decision -> local holding its value (run functions)
        self.pick_memo: Optional[dict] = None   # within one rule's conclusions: a pick's loop -> its variables

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

    def capture(self, fn):
        """(what fn returns, the lines it emitted), the lines kept aside (to be placed under a test or not)."""
        saved, self.lines = self.lines, []
        try:
            result = fn()
        finally:
            buf, self.lines = self.lines, saved
        return result, buf

    def place(self, buf: list, dedent: bool = False) -> None:
        """Emit captured lines (one level less indented with `dedent`)."""
        self.lines.extend(line[4:] for line in buf) if dedent else self.lines.extend(buf)

    # -- expressions: return a Val, emitting the statements it needs first ----------------------
    def expr(self, e, scope: dict, ind: int) -> Val:
        if isinstance(e, ir.Lit):
            return Val(self.p.const(e.value))
        if isinstance(e, ir.PathRef):
            return self.path(e, scope, ind)
        if isinstance(e, ir.Param):
            decl = self.p.policy.parameters[e.name]
            return Val(self.p.const(decl.value) if decl.values is None else f"P[{e.name!r}]")
        if isinstance(e, ir.DecisionRef):
            return self.decision(e, scope, ind)
        if isinstance(e, ir.Count):
            return self.count(e, scope, ind)
        if isinstance(e, ir.Pick):
            return self.pick(e, scope, ind)
        if isinstance(e, ir.DateAdd):
            base, trace = self.value(e.base, scope, ind)
            parts = []
            for x in (e.years, e.months, e.days):
                if x is None:
                    parts.append("0")
                    continue
                code, more = self.value(x, scope, ind)
                parts.append(code)
                trace += more
            return self.computed(f"_date_add({base}, {', '.join(parts)})", trace, ind)
        if isinstance(e, ir.DaysBetween):
            a, trace = self.value(e.start, scope, ind)
            b, more = self.value(e.end, scope, ind)
            return self.computed(f"_days_between({a}, {b})", trace + more, ind)
        if isinstance(e, ir.Step):
            v, trace = self.value(e.operand, scope, ind)
            by, more = self.value(e.by, scope, ind)
            positions = self.p.const({value: i for i, value in enumerate(e.source)}, shared=True)
            return self.computed(f"_step({v}, {by}, {positions}, {self.p.const(e.along, shared=True)})", trace + more, ind)
        raise TypeError(f"no code for expression {type(e).__name__}")

    def computed(self, code: str, trace: list, ind: int) -> Val:
        v = self.tmp("v")
        self.emit(ind, f"{v} = {code}")
        return Val(v, None, trace)

    def stmt(self, val: Val, ind: int) -> str:
        """The value in a variable (or a literal), by a statement when needed: for several uses."""
        if val.bind:
            self.emit(ind, f"{val.bind} = {val.raw}")
            return val.bind
        if val.raw.isidentifier() or _is_literal(val.raw):
            return val.raw
        v = self.tmp("v")
        self.emit(ind, f"{v} = {val.raw}")
        if val.raw in self.certain:
            self.certain.add(v)
        return v

    def value(self, e, scope, ind) -> tuple:
        """(a variable or literal holding the expression's value, evaluated exactly once; its trace)."""
        val = self.expr(e, scope, ind)
        return self.stmt(val, ind), val.trace

    def untraced(self, fn):
        saved, self.traced = self.traced, False
        try:
            return fn()
        finally:
            self.traced = saved

    def path(self, ref: ir.PathRef, scope: dict, ind: int) -> Val:
        if not ref.scope and ref.keys == ("as_of",):
            return Val("A", None, [("e", "as_of", "A", "")] if self.traced else None)
        if ref.scope:
            bound = scope[ref.scope]
            base, base_is_dict = bound.var, bound.is_dict or bool(ref.dicts and ref.dicts[0])
        else:
            base, base_is_dict = "C", True
        if not ref.keys:
            code = base
        elif len(ref.keys) == 1 and base_is_dict:
            code = self._get(base, ref, 0, True, bool(ref.scope) and ref.keys[0] in scope[ref.scope].present)
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
        sure = base_is_dict and (ref.certain or _defaulted(ref))
        if sure:
            self.certain.add(code)
        if not self.traced:
            return Val(code)
        bind = None if code.isidentifier() else self.tmp("p")
        var = bind or code
        if sure:
            self.certain.add(var)
        label = _lit(ref.text) if not ref.scope else scope[ref.scope].label + _lit(_rest(ref))
        if ref.scalar or (ref.scope and len(ref.keys) == 1 and ref.keys[0] in scope[ref.scope].scalars):
            test = f"{var} is not None" if var not in self.certain else ""
        else:
            test = f"{var} is not None and type({var}) is not dict and type({var}) is not list"
        return Val(code, bind, [("e", label, var, test)])

    def _get(self, src: str, ref: ir.PathRef, j: int, known: bool = True, there: bool = False) -> str:
        has_default, default = ref.defaults[j] if j < len(ref.defaults) else (False, None)
        key = repr(ref.keys[j])
        if there or known and ref.present and ref.present[j]:
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

    def _decision_read(self, name: str) -> str:
        if self.decision_locals is None:
            return f"D.get({name!r})"
        # a run function holds every decision a stratum reads in a local, resolved after the strata before
        # it (a rule reads only decisions of earlier strata; none is resolved before the first)
        return self.decision_locals.get(name, "None")

    def decision(self, e: ir.DecisionRef, scope, ind) -> Val:
        read = self._decision_read(e.name)
        if e.map_key is None:
            if not self.traced:
                return Val(read)
            bind = None if read.isidentifier() or read == "None" else self.tmp("d")
            var = bind or read
            return Val(read, bind, [("e", _lit("decisions." + e.name), var, f"{var} is not None")])
        key, trace = self.value(e.map_key, scope, ind)    # the key is read like any other value, exactly once
        v = self.tmp("d")
        self.emit(ind, f"{v} = _mget({read}, {key})")
        if not self.traced:
            return Val(v)
        # a key that is not a variable is printed as written (the path names the expression)
        label = _lit("decisions." + e.name) + ("[{" + key + "}]" if key.isidentifier() else _lit("[{" + key + "}]"))
        return Val(v, None, trace + [("e", label, v, f"{v} is not None")])

    def _pairs(self, source: ir.PathRef, scope: dict, ind: int) -> tuple:
        """(code iterating the list: (index, item) pairs, or items alone in `items_only` code; the list's
        printable path; event slot or None; whether the code is a sequence (len() works))."""
        if not source.scope:
            slot = self.p.list_slot(source.keys)
            if slot is not None:
                return (f"S{slot}" if self.local_slots else f"X.lists[{slot}]"), _lit(source.text), slot, True
        src, _ = self.untraced(lambda: self.value(source, scope, ind))   # reading the list is not part of the why
        pairs = self.tmp("s")
        if self.items_only:
            self.emit(ind, f"{pairs} = {src} if type({src}) is list else ()")
        else:
            self.emit(ind, f"{pairs} = enumerate({src}) if type({src}) is list else ()")
        base = _lit(source.text) if not source.scope else scope[source.scope].label + _lit(_rest(source))
        return pairs, base, None, self.items_only

    def _loop(self, pairs: str, ind: int) -> tuple:
        """Emit the loop header over `pairs`; (position variable or None, item variable)."""
        h = self.tmp("h")
        if self.items_only:
            self.emit(ind, f"for {h} in {pairs}:")
            return None, h
        i = self.tmp("i")
        self.emit(ind, f"for {i}, {h} in {pairs}:")
        return i, h

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
        wanted, _ = self.untraced(lambda: self.value(other, scope, ind))    # the key is computed to look up, not reported
        index_slot = self.p.const(("index", source.keys, key, self.items_only), shared=True)
        bucket = self.tmp("b")
        kind = getattr(other, "kind", "any")
        build = "_group" if self.items_only else "_index"
        items = self._item_shape(source)
        field = items.props.get(key) if items is not None and items.exact and items.kind == "object" else None
        if field is not None and field.exact and field.kind in SCALAR_KINDS:
            if key in items.required:
                build += "_required"        # every item a mapping with the key there, a scalar, not null
            elif default is not None:
                build += "_defaulted"       # ... or its default, not null
        if self.indexes is not None and (kind in SCALAR_KINDS or _never_none(wanted, self.certain)):
            # a scalar key: hashable; the index lives in a local once built (lists do not change during a case)
            var = self.indexes.setdefault(index_slot, f"IX{len(self.indexes)}")
            # (an empty list, common, has the empty index without a call)
            self.emit(ind, f"if {var} is None: {var} = {build}(X, {index_slot}, {pairs}, {key!r}, {self.p.const(default)}) "
                           f"if {pairs} else _NO_ITEMS")
            if _never_none(wanted, self.certain):
                self.emit(ind, f"{bucket} = {var}.get({wanted}, ())")
            else:
                self.emit(ind, f"{bucket} = {var}.get({wanted}, ()) if {wanted} is not None else ()")
            return bucket, rest
        lookup = "_lookup_items" if self.items_only else "_lookup"
        self.emit(ind, f"{bucket} = {lookup}(X, {index_slot}, {pairs}, {key!r}, {self.p.const(default)}, {wanted})")
        return bucket, rest

    def dated(self, slot, base: str, i: Optional[str], h: str) -> list:
        """Traced, an item of an event-dated list names its date first: being dated on or before as_of is part
        of why it counts (the filter is a condition the policy declared once, in `event_dates`)."""
        field_name = self.p.slots[slot][1] if self.traced and slot is not None and i else None
        if field_name is None:
            return []
        label = base + "[{" + i + "}]" + _lit("." + field_name)
        if _sure_field(self._item_shape(ir.PathRef(keys=self.p.slots[slot][0])), field_name):
            return [("e", label, f"{h}[{field_name!r}]", "")]
        d = self.tmp("ed")
        return [("s", f"{d} = {h}.get({field_name!r}) if type({h}) is dict else None"), ("e", label, d, f"{d} is not None")]

    def all_dated(self, pairs: str, base: str, slot, ind: int) -> list:
        """Traced `some`/`count` with no `where` over an event-dated list: every visible item is part of the why."""
        if not self.traced or slot is None or self.p.slots[slot][1] is None:
            return []
        gathered = self.tmp("ts")
        self.emit(ind, f"{gathered} = []")
        i, h = self._loop(pairs, ind)
        return [self.gather(self.dated(slot, base, i, h), i, gathered, ind + 1, gathered, base)]

    def count(self, e: ir.Count, scope, ind) -> Val:
        pairs, base, slot, seq = self._pairs(e.source, scope, ind)
        n = self.tmp("n")
        self.certain.add(n)
        if e.where is None:
            self.emit(ind, f"{n} = len({pairs})" if seq else f"{n} = sum(1 for _ in {pairs})")
            return Val(n, None, self.all_dated(pairs, base, slot, ind))
        pairs, where = self._keyed(e.source, e.alias, e.where, scope, ind, pairs, slot)
        if where is None:
            self.emit(ind, f"{n} = len({pairs})")
            return Val(n)
        self.emit(ind, f"{n} = 0")
        gathered = self.tmp("ts") if self.traced else None
        if gathered:
            self.emit(ind, f"{gathered} = []")
        i, h = self._loop(pairs, ind)
        inner = {**scope, e.alias: _Scope(h, base + "[{" + i + "}]" if i else "", False)}
        (w, trace), buf = self.capture(lambda: self.cond(where, inner, ind + 1))
        self.place(buf)
        if gathered:       # every item that matches is part of the why
            self.emit(ind + 1, f"if {w}:")
            item = self.gather(self.dated(slot, base, i, h) + trace, i, n, ind + 2, gathered, base)
            self.emit(ind + 2, f"{n} += 1")
            return Val(n, None, [item])
        self.emit(ind + 1, f"if {w}: {n} += 1")
        return Val(n)

    def _item_shape(self, source: ir.PathRef):
        """The facts schema's shape of the items of a list at a fixed path of the case file, else None."""
        if source.scope:
            return None
        shape = self.p.policy.facts_shape
        for k in source.keys:
            shape = shape.child(k) if shape is not None else None
        return shape.items if shape is not None and shape.kind == "array" else None

    def pick(self, e: ir.Pick, scope, ind) -> Val:
        memo_key = None
        if self.pick_memo is not None:      # the same pick for another field: one loop
            memo_key = _skey(ir.Pick(source=e.source, alias=e.alias, by=e.by, where=e.where, latest=e.latest,
                                     by_default=e.by_default))
            if memo_key in self.pick_memo and not self.traced:
                best, bk, bi, base = self.pick_memo[memo_key]
                return self._picked(e, best, bk, bi, base, ind)
        pairs, base, slot, _seq = self._pairs(e.source, scope, ind)
        items = self._item_shape(e.source)
        dicts = items is not None and items.exact and items.kind == "object"
        by_shape = items.props.get(e.by) if dicts else None
        # validation guarantees each item is a mapping, and its `by` is there and not null
        by_sure = by_shape is not None and e.by in items.required and by_shape.exact and by_shape.kind in SCALAR_KINDS
        saved, self.traced = self.traced, False     # only the chosen item is reported
        try:
            pairs, where = self._keyed(e.source, e.alias, e.where, scope, ind, pairs, slot)
            best, bk = self.tmp("best"), self.tmp("bk")
            k = self.tmp("k")
            bi = None if self.items_only else self.tmp("bi")
            chosen = f"{best}, {bk}, {bi}" if bi else f"{best}, {bk}"
            memo = None
            if slot is not None and not any(a != e.alias and where is not None and _cond_refers_to(where, a) for a in scope):
                # What it picks depends on the list (or the index's bucket: one per key) alone, not on the item in
                # hand: picked once a case per bucket, so that n items of one key cost n, not n^2 (the lists and
                # their index's buckets live as long as the case: their id is the key).
                self.p.pick_sites += 1
                memo, m = str(self.p.pick_sites), self.tmp("pm")
                self.emit(ind, f"{m} = X.picks.get(({memo}, id({pairs})))")
                self.emit(ind, f"if {m} is not None: {chosen} = {m}")
                self.emit(ind, "else:")
                ind += 1
            self.emit(ind, f"{best} = {bk} = None")
            if bi:
                self.emit(ind, f"{bi} = -1")
            i, h = self._loop(pairs, ind)
            if not dicts:
                self.emit(ind + 1, f"if type({h}) is not dict: continue")
            by_default = self.p.const(e.by_default[1]) if e.by_default[0] else "None"
            if by_sure:
                self.emit(ind + 1, f"{k} = {h}[{e.by!r}]")
            else:
                self.emit(ind + 1, f"{k} = {h}.get({e.by!r}, {by_default})")
                self.emit(ind + 1, f"if {k} is None: continue")
            if where is not None:
                inner = {**scope, e.alias: _Scope(h, "", True)}
                (w, _), buf = self.capture(lambda: self.cond(where, inner, ind + 1))
                self.place(buf)
                self.emit(ind + 1, f"if not {w}: continue")
            better = ">" if e.latest else "<"
            self.emit(ind + 1, f"if {bk} is None or {k} {better} {bk} or ({k} == {bk} and _tie_wins(X, {h}, {best}, {e.latest!r})):")
            self.emit(ind + 2, f"{best}, {bk}, {bi} = {h}, {k}, {i}" if bi else f"{best}, {bk} = {h}, {k}")
            if memo is not None:
                self.emit(ind, f"X.picks[({memo}, id({pairs}))] = ({chosen},)")
                ind -= 1
        finally:
            self.traced = saved
        if memo_key is not None and not self.traced:
            self.pick_memo[memo_key] = (best, bk, bi, base)
        return self._picked(e, best, bk, bi, base, ind)

    def _picked(self, e: ir.Pick, best: str, bk: str, bi: Optional[str], base: str, ind: int) -> Val:
        out = self.tmp("v")
        if e.field_name is None:
            self.emit(ind, f"{out} = {best}")
        else:
            fd = self.p.const(e.field_default[1]) if e.field_default[0] else "None"
            self.emit(ind, f"{out} = {best}.get({e.field_name!r}, {fd}) if {best} is not None else None")
        if not self.traced:
            return Val(out)
        prefix = base + "[{" + bi + "}]"
        chosen = [("e", prefix + _lit("." + e.by), bk, "")]
        if e.field_name is not None:
            chosen.append(("e", prefix + _lit("." + e.field_name), out, f"{out} is not None"))
        return Val(out, None, [("if", f"{best} is not None", chosen)])

    # -- conditions ---------------------------------------------------------------------------------
    def cond(self, c, scope: dict, ind: int, want: Optional[bool] = True) -> tuple:
        """(an expression for the condition's outcome, valid after the statements emitted; its trace).

        `want` is the outcome for which the trace will be kept (True at a rule's top, flipped under `not`,
        None when both count): with True, a conjunction's trace may assume all its parts held."""
        if isinstance(c, ir.TrueCond):
            return "True", []
        if isinstance(c, ir.All):
            return self.all_of(c.items, scope, ind, want)
        if isinstance(c, ir.AnyOf):
            if want is False:       # kept only when no branch held: nothing of it is kept, so stop at one
                return self.untraced(lambda: self.any_of(c.items, scope, ind))
            return self.any_of(c.items, scope, ind)
        if isinstance(c, ir.Not):
            code, trace = self.cond(c.item, scope, ind, None if want is None else not want)
            return f"(not {code})", trace
        if isinstance(c, ir.Compare):
            return self.compare(c, scope, ind, want)
        if isinstance(c, ir.Presence):
            v = self.expr(c.path, scope, ind)
            if _never_none(v.again, self.certain) or _never_none(v.raw, self.certain):
                self.stmt(v, ind) if v.bind else None       # read all the same: the why names it
                return repr(c.present), v.trace
            return f"({v.first} is {'not ' if c.present else ''}None)", v.trace
        if isinstance(c, ir.Some):
            if want is False:       # kept only when no item matched: nothing of it is kept, so stop at one
                return self.untraced(lambda: self.some(c, scope, ind))
            return self.some(c, scope, ind)
        if isinstance(c, ir.Within):
            d = self.expr(c.path, scope, ind)
            n = self.expr(c.amount, scope, ind)
            trace = d.trace + n.trace
            index = self.p.window(c.unit, n.raw) if self.local_slots else None
            if index is None:
                return f"_within(X, {c.unit!r}, {n.first}, {d.first})", trace
            self.windows_used.add(index)
            start = f"WS{index}"      # the window's first day (a day after every date when it has none)
            if (d.again in self.certain or d.raw in self.certain) and getattr(c.path, "kind", "") == "date":
                return f"({start} <= {d.first} <= A)", trace
            return f"(type({d.first}) is str and {start} <= {d.again} <= A)", trace
        if isinstance(c, ir.Between):
            d, trace = self.value(c.path, scope, ind)
            lo, more = self.value(c.start, scope, ind)
            hi, most = self.value(c.end, scope, ind)
            return (f"(type({d}) is str and type({lo}) is str and type({hi}) is str and {lo} <= {d} <= {hi})",
                    trace + more + most)
        raise TypeError(f"no code for condition {type(c).__name__}")

    def compare(self, c: ir.Compare, scope, ind, want: Optional[bool] = True) -> tuple:
        a = self.expr(c.left, scope, ind)
        if c.op == "==" and isinstance(c.right, ir.Lit) and c.right.value is not None:
            trace = _held_scalar(a, a.trace) if want is True and _scalar_when_held(c) else a.trace
            return f"({a.first} == {self.p.const(c.right.value)})", trace     # None == a literal is False already
        a_maybe_none = not (_never_none(a.again, self.certain) or _never_none(a.raw, self.certain))
        b, buf = self.capture(lambda: self.expr(c.right, scope, ind + 1))
        # the right side is read only when the left one is not None (and so is its part of the why)
        trace = a.trace + ([("if", f"{a.again} is not None", b.trace)] if a_maybe_none and b.trace else b.trace)
        b_maybe_none = not (_never_none(b.again, self.certain) or _never_none(b.raw, self.certain))
        if buf:        # the right side needs statements: run them only when the left side is not None
            av = self.stmt(a, ind)
            out = self.tmp("c")
            self.emit(ind, f"{out} = False")
            if a_maybe_none:
                self.emit(ind, f"if {av} is not None:")
                self.place(buf)
            else:
                self.place(buf, dedent=True)
            body = ind + 1 if a_maybe_none else ind
            bv = self.stmt(b, body)
            test = f"if {bv} is not None: " if b_maybe_none else ""
            self.emit(body, f"{test}{out} = {self.op(c, av, bv)}")
            return out, trace
        parts = []
        if a_maybe_none or (a.bind and b_maybe_none):     # (a bound left side is read before the right one)
            parts.append(f"{a.first} is not None")
            left = a.again
        else:
            left = a.first
        if b_maybe_none:
            parts.append(f"{b.first} is not None")
            right = b.again
        else:
            right = b.first
        parts.append(self.op(c, left, right))
        if want is True and _scalar_when_held(c):
            trace = _held_scalar(a, trace)
        return "(" + " and ".join(parts) + ")", trace

    def all_of(self, items: list, scope, ind, want) -> tuple:
        """Items in order, each tested only while the ones before held; statement-free items join one `and`.
        When the trace may be kept with the conjunction false (under `not`), each item's part is kept only
        when the items before it held (it was tested), whatever it gave itself."""
        item_want = True if want is True else None
        outcomes: list = []
        trace: list = []

        def item_code(item, k):
            code, part = self.cond(item, scope, ind + 1, item_want)
            if want is True:
                trace.extend(part)
                return code
            held = code if code.isidentifier() else self.tmp("c")
            trace.append(("if", " and ".join(outcomes), part))
            outcomes.append(held)
            return code if held == code else f"({held} := {code})"
        code = self.chain(items, item_code, ind, " and ", "if {}:")
        return code, _flatten_ifs(trace)

    def any_of(self, items: list, scope, ind) -> tuple:
        if self.traced:        # every branch is tried: each one that held is part of the why
            held, trace = [], []
            for item in items:
                code, part = self.cond(item, scope, ind, True)
                var = code if code.isidentifier() else self.tmp("c")
                if var != code:
                    self.emit(ind, f"{var} = {code}")
                held.append(var)
                trace.append(("if", var, part))
            return "(" + " or ".join(held) + ")", trace
        return self.chain(items, lambda item, k: self.cond(item, scope, ind + 1, True)[0], ind, " or ", "if not {}:"), []

    def chain(self, items: list, code_of, ind: int, joiner: str, guard: str) -> str:
        """Short-circuit `items` (joined by `and` / `or`): the expressions of statement-free items join one
        expression; an item that needs statements gets them under `guard` on the outcome so far."""
        out = None             # the variable holding the outcome so far, once statements needed one
        pending: list = []     # expressions since
        for k, item in enumerate(items):
            code, buf = self.capture(lambda: code_of(item, k))
            if not buf:
                pending.append(code)
                continue
            if out is None and not pending:        # the first item: its statements always run
                self.place(buf, dedent=True)
                pending.append(code)
                continue
            if out is None:
                out = self.tmp("c")
                self.emit(ind, f"{out} = {_join(pending, joiner)}")
            elif pending:
                self.emit(ind, f"{out} = {_join([out] + pending, joiner)}")
            pending = []
            self.emit(ind, guard.format(out))
            self.place(buf)
            self.emit(ind + 1, f"{out} = {code}")
        if out is None:
            return _join(pending, joiner) if pending else ("True" if joiner == " and " else "False")
        return _join([out] + pending, joiner)

    def some(self, c: ir.Some, scope, ind) -> tuple:
        pairs, base, slot, seq = self._pairs(c.source, scope, ind)
        if c.where is None:
            return (f"bool({pairs})" if seq else f"any(True for _ in {pairs})"), self.all_dated(pairs, base, slot, ind)
        pairs, where = self._keyed(c.source, c.alias, c.where, scope, ind, pairs, slot)
        if where is None:
            return f"bool({pairs})", []
        out = self.tmp("c")
        self.emit(ind, f"{out} = False")
        gathered = self.tmp("ts") if self.traced else None
        if gathered:
            self.emit(ind, f"{gathered} = []")
        i, h = self._loop(pairs, ind)
        inner = {**scope, c.alias: _Scope(h, base + "[{" + i + "}]" if i else "", False)}
        (w, trace), buf = self.capture(lambda: self.cond(where, inner, ind + 1))
        self.place(buf)
        self.emit(ind + 1, f"if {w}:")
        if gathered:         # every item that matches is part of the why
            item = self.gather(self.dated(slot, base, i, h) + trace, i, out, ind + 2, gathered, base)
            self.emit(ind + 2, f"{out} = True")
            return out, [item]
        self.emit(ind + 2, f"{out} = True")
        self.emit(ind + 2, "break")
        return out, []

    def op(self, c: ir.Compare, a: str, b: str) -> str:
        op = c.op
        if op == "==":
            return f"{a} == {b}"
        if op == "!=":
            return f"{a} != {b}"
        if op in ("in", "not_in"):
            if isinstance(c.right, ir.Lit) and isinstance(c.right.value, list):
                return f"{a} {'in' if op == 'in' else 'not in'} {b}"    # a list's `in` compares, it never fails
            return f"{'_in' if op == 'in' else '_not_in'}({a}, {b})"
        lk, rk = getattr(c.left, "kind", "any"), getattr(c.right, "kind", "any")
        if any(lk in family and rk in family for family in _ORDERED):
            return f"{a} {op} {b}"
        return {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}[op] + f"({a}, {b})"

    # -- the why, emitted where it is kept ---------------------------------------------------------
    def emit_trace(self, trace: list, ind: int, target: str) -> None:
        """Statements appending the entries of `trace` (pruned) to the list `target`, as the output's
        {"path", "value"} objects."""
        for item in trace:
            if item[0] == "e":
                _, body, var, test = item
                entry = f"{{'path': {_path_code(body)}, 'value': {var}}}"
                self.emit(ind, f"if {test}: {target}.append({entry})" if test else f"{target}.append({entry})")
            elif item[0] == "x":
                self.emit(ind, f"{target} += {item[1]}")
            elif item[0] == "s":
                self.emit(ind, item[1])
            else:
                self.emit(ind, f"if {item[1]}:")
                self.emit_trace(item[2], ind + 1, target)

    def gather(self, trace: list, i: str, first: str, ind: int, target: str, base: str) -> tuple:
        """A list operator's entries for one item that matched, appended to `target`. Entries that name the
        item (by its position `i`) differ from item to item; those that do not (`as_of`, the bound fact's
        field) are appended for the first item only (`first` is falsy until then), so the list never
        repeats a path. Returns the ("x", ...) trace item: its base and the paths it holds once, or no
        such promise when it cannot make it (a nested list, a conditional part that does not name the item)."""
        trace = _prune(trace)
        mark = "{" + i + "}"
        clean = True
        once: list = []
        for item in trace:
            if item[0] == "s":
                continue
            if item[0] == "e":
                names = set(_PLACEHOLDER.findall(item[1]))
                if mark not in item[1]:
                    if names - {"lb"}:
                        clean = False
                    else:
                        once.append(item[1])
                continue
            if item[0] == "x" or any(b is None or mark not in b for b in _trace_bodies(item[2], [])):
                clean = False
        if not clean:
            self.emit_trace(trace, ind, target)
            return ("x", target, None)
        for item in trace:
            if item[0] == "e" and item[1] in once:
                self.emit(ind, f"if not {first}:")
                self.emit_trace([item], ind + 1, target)
            else:
                self.emit_trace([item], ind, target)
        return ("x", target, (base, tuple(once)))

    def emit_matched(self, trace: list, ind: int, var: str, bound: Optional[str]) -> None:
        """`var` = the output's `matched` list for a rule that held: its entries in the order read, each
        path once. Built directly when no path can repeat at run time, else through `_matched`."""
        trace = _prune(trace)
        if _needs_dedupe(trace, bound):
            self.emit(ind, f"{var} = []")
            self.emit_trace(trace, ind, var)
            self.emit(ind, f"{var} = _matched({var})")
            return
        k = 0
        while k < len(trace) and trace[k][0] == "e" and not trace[k][3]:   # always there: one literal
            k += 1
        head = [f"{{'path': {_path_code(body)}, 'value': {value}}}" for _, body, value, _t in trace[:k]]
        self.emit(ind, f"{var} = [{', '.join(head)}]")
        self.emit_trace(trace[k:], ind, var)


def _join(parts: list, joiner: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"


def _prune(trace: list, seen: Optional[set] = None) -> list:
    """The trace without the entries whose path was already appended on the way to them (same path, same
    value); groups that end up empty are dropped."""
    seen = set() if seen is None else seen
    out = []
    for item in trace:
        if item[0] == "e":
            if item[1] in seen:
                continue
            seen.add(item[1])       # a repeat reads the same value: its test gives the same answer
            out.append(item)
        elif item[0] in ("x", "s"):
            out.append(item)
        else:
            inner = _prune(item[2], seen if not item[1] else set(seen))
            if inner:
                out.append((item[0], item[1], inner) if item[1] else ("if", "", inner))
    return _flatten_ifs(out)


def _flatten_ifs(trace: list) -> list:
    """("if", "", part) groups (always kept) spliced into their place."""
    out = []
    for item in trace:
        if item[0] == "if" and not item[1]:
            out.extend(item[2])
        else:
            out.append(item)
    return out


def _trace_bodies(trace: list, out: list) -> list:
    """The path bodies of the entries of a trace, at every level; None for a gathered list."""
    for item in trace:
        if item[0] == "e":
            out.append(item[1])
        elif item[0] == "x":
            out.append(None)
        elif item[0] != "s":
            _trace_bodies(item[2], out)
    return out


def _gathered(trace: list, out: list) -> list:
    """The ("x", ...) items of a trace, at every level."""
    for item in trace:
        if item[0] == "x":
            out.append(item)
        elif item[0] == "if":
            _gathered(item[2], out)
    return out


def _needs_dedupe(trace: list, bound: Optional[str]) -> bool:
    """Whether two entries of this trace could name the same path at run time (then `_matched` keeps the
    first): a path twice in different branches, two list operators over one list (or over the list the
    rule is bound to: `{lb}` is one of its items), a list operator that could not promise its paths
    once, positions other than a list operator's own, or a fixed path that could spell an item's."""
    bodies = [b for b in _trace_bodies(trace, []) if b is not None]
    bases = []
    for item in _gathered(trace, []):
        if item[2] is None:
            return True
        base, once = item[2]
        bases.append(base)
        bodies.extend(once)
    if len(set(bodies)) != len(bodies) or len(set(bases)) != len(bases):
        return True
    if any("{" in base or "[" in base or base == bound for base in bases):
        return True
    for body in bodies:
        names = _PLACEHOLDER.findall(body)
        if any(name != "lb" for name in names):
            return True
        if not names and ("[" in body or "{" in body):
            return True
    return False


def _sure_field(items, name: str) -> bool:
    """Validation makes every item a mapping with `name` there, a scalar, not null."""
    if items is None or not items.exact or items.kind != "object" or name not in items.required:
        return False
    field = items.props.get(name)
    return field is not None and field.exact and field.kind in SCALAR_KINDS


def _defaulted(ref: ir.PathRef) -> bool:
    """A path validation makes never None through its default: mappings all the way, every key but the
    last one required, the last one defaulted (not to null) and of a type that admits no null."""
    return (bool(ref.keys) and ref.scalar and all(ref.dicts) and all(ref.present[:-1])
            and ref.defaults[-1][0] and ref.defaults[-1][1] is not None)


def _never_none(code: str, certain=()) -> bool:
    """Literals (never null in a rule), as_of, and what validation guarantees are never None."""
    return code == "A" or code in certain or (_is_literal(code) and code != "None")


def _is_literal(code: str) -> bool:
    return code in ("None", "True", "False") or code.startswith(("K[", "'", '"')) or _is_number(code)


def _literal_text(code: str) -> str:
    """How a literal of generated code prints in an f-string (str() of its value)."""
    import ast
    return str(ast.literal_eval(code))


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


def _skey(node):
    """A structural key of an IR node: equal keys, equal conditions (on the same names in scope)."""
    if isinstance(node, (ir.Expr, ir.Cond)):
        return (type(node).__name__,) + tuple(_skey(getattr(node, f.name)) for f in fields(node))
    if isinstance(node, (list, tuple)):
        return ("seq",) + tuple(_skey(x) for x in node)
    if isinstance(node, dict):
        return ("map",) + tuple(sorted((repr(k), _skey(v)) for k, v in node.items()))
    return (type(node).__name__, repr(node))


def _nodes(node):
    """Every IR node under `node` (itself included)."""
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, (ir.Expr, ir.Cond)):
            yield x
            stack.extend(getattr(x, f.name) for f in fields(x))
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())


def _scalar_when_held(c: ir.Compare) -> bool:
    """Whether the left side of `c`, when `c` held, is surely a scalar (not null, not a mapping or a list):
    it equals a scalar literal or one of a literal list of scalars, or it is ordered against a scalar
    literal (anything else cannot be: the comparison fails, and is false)."""
    right = c.right.value if isinstance(c.right, ir.Lit) else None
    if c.op == "==" or c.op in ("<", "<=", ">", ">="):
        return type(right) in (str, int, float, bool)
    if c.op == "in":
        return type(right) is list and bool(right) and all(type(v) in (str, int, float, bool) for v in right)
    return False


def _held_scalar(a, trace: list) -> list:
    """`trace` with the test of the value `a` dropped where it is written (its part is kept only when a
    comparison that makes it a scalar held): when `a` is one value read, the trace's first and only entry."""
    if len(trace) == 1 and trace[0][0] == "e" and trace[0][2] in (a.bind, a.raw):
        return [trace[0][:3] + ("",)]
    return trace


def _guard_first(rule) -> bool:
    """The rule's condition starts with its rules file's guard (compile puts it there)."""
    cond = rule.condition
    return rule.guard is not None and isinstance(cond, ir.All) and bool(cond.items) and cond.items[0] is rule.guard


def _first_and_rest(cond) -> tuple:
    """A rule's condition as its first conjunct and the rest (None when nothing is left)."""
    if isinstance(cond, ir.All) and cond.items:
        rest = cond.items[1:]
        return cond.items[0], (None if not rest else rest[0] if len(rest) == 1 else ir.All(items=rest))
    return cond, None


class Builder:
    """Collects the constants, event-list slots and constant windows that generated functions share."""

    def __init__(self, policy):
        self.policy = policy
        self.consts: list = []
        self._const_ids: dict = {}
        self.pick_sites = 0      # picks memoised per case (Generator.pick), each numbered
        # every list at the top of the case file gets a slot: its visible (position, item) pairs are
        # computed once per case (only those dated on or before as_of, for an event-dated list)
        roots = {(name,) for name, shape in policy.facts_shape.props.items() if shape.kind == "array"}
        roots |= set(policy.event_dates)
        self.slots = tuple((keys, policy.event_dates.get(keys)) for keys in sorted(roots))
        self._slot = {keys: i for i, (keys, _f) in enumerate(self.slots)}
        # `within N units` with a constant N: the window's first day depends on as_of alone (one table a case)
        found = set()
        for rule in policy.rules:
            for node in _nodes(rule.condition):
                if isinstance(node, ir.Within):
                    n = self._constant(node.amount)
                    if n is not None:
                        found.add((node.unit, n))
        self.windows = tuple(sorted(found))
        self._window = {w: i for i, w in enumerate(self.windows)}

    def _constant(self, e) -> Optional[int]:
        if isinstance(e, ir.Lit):
            value = e.value
        elif isinstance(e, ir.Param) and self.policy.parameters[e.name].values is None:
            value = self.policy.parameters[e.name].value
        else:
            return None
        return value if type(value) is int else None

    def window(self, unit: str, amount: str) -> Optional[int]:
        """The window table's index for `within <amount> <unit>` when the amount is a constant integer."""
        try:
            return self._window.get((unit, int(amount))) if amount.lstrip("-").isdigit() else None
        except ValueError:
            return None

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


_RULE_MARK = re.compile(r"# rule (\d+): ")


class Program:
    """The compiled form of one policy version for the Python backend: one generated function that runs
    every stratum on a case (`run_plain`, and `run_traced` which also records the why), plus per-rule
    functions the durable backend borrows (conclusions, traced conditions, flags)."""

    name = "python"
    writes_entries = True       # traced claims carry their why entry (evaluate.ENTRY)

    def __init__(self, policy, frozen: Optional[dict] = None):
        self.policy = policy
        self.builder = Builder(policy)
        self.slots = self.builder.slots
        self.consumed = frozenset(r.binds for r in policy.rules)
        self.recursive = recursive_rules(policy)
        self.kinds = sorted(self.consumed | {ir.CASE})
        self.kind_id = {kind: i for i, kind in enumerate(self.kinds)}
        self.decision_names = list(policy.decisions)
        self.derived_names = sorted(policy.derived)
        self._derived_fields: dict = {}     # derived fact -> the fields every conclusion deriving it writes
        for rule in policy.rules:
            for concl in rule.conclusions:
                if isinstance(concl, ir.Derive):
                    held = self._derived_fields.get(concl.fact)
                    self._derived_fields[concl.fact] = frozenset(concl.fields) if held is None else held & frozenset(concl.fields)
        self._rule_traced: dict = {}
        self._flags: dict = {}
        if frozen is None:
            self.source = self._generate()
            self._code = compile(self.source, f"<regcode {self.policy.ref} python backend>", "exec")
        else:       # from the compiled-policy cache: the code generated then, as marshalled bytecode
            self.source = frozen["source"]
            self.builder.consts = list(frozen["consts"])
            self._code = marshal.loads(frozen["code"])
        self._rule_at_line = self._rule_lines(self.source)
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

    def _bound(self, rule, run: bool = False) -> dict:
        if not rule.alias:
            return {}
        kind = rule.binds
        is_dict = kind.startswith("derived:") or self._list_items_are_dicts(kind)
        scalars = present = frozenset()
        if run and kind.startswith("derived:"):
            # a derived fact the run function made: its scalar fields are part of its (hashed) identity, so a
            # mapping or a list there would have failed the evaluation: a present value is a scalar
            scalars = frozenset(n for n, shape in self.policy.derived[kind[8:]].props.items() if shape.kind in SCALAR_KINDS)
            # and the fields every rule deriving it writes are in its mapping (written as computed, null or not)
            present = self._derived_fields.get(kind[8:], frozenset())
        return {rule.alias: _Scope("it", "{lb}", is_dict, scalars, present)}

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
        g.emit(1, "F = 0")
        g.emit(1, "ND = 0")
        g.emit(1, f"FL, NL = {MAX_FIRINGS}, {MAX_DERIVED}")    # the bounds; past them, the case's own (bounds())
        if self.recursive:
            g.emit(1, "FR = 0")       # firings of rules that derive facts from facts of their own kind
        for j in range(len(self.decision_names)):
            g.emit(1, f"L{j} = []")
        for j in range(len(self.derived_names)):
            g.emit(1, f"G{j} = {{}}")
        for slot, (keys, field_name) in enumerate(self.slots):     # the visible items of every list, once
            g.emit(1, f"s = C.get({keys[0]!r})" if len(keys) == 1 else f"s = _reach(C, {keys!r})")
            if field_name is None and not traced:
                g.emit(1, f"S{slot} = s if type(s) is list else ()")     # read, never changed: no copy
            elif field_name is None:
                g.emit(1, f"S{slot} = list(enumerate(s)) if type(s) is list else []")
            else:                # an item dated after as_of has not happened yet
                items = g._item_shape(ir.PathRef(keys=keys))
                if _sure_field(items, field_name) and items.props[field_name].kind in ("date", "string"):
                    shown = f"h[{field_name!r}] <= A"      # every item a mapping with its date there, as text
                else:
                    shown = f"type(h) is not dict or type(d := h.get({field_name!r})) is not str or d <= A"
                pairs = "h for h in s" if not traced else "(i, h) for i, h in enumerate(s)"
                g.emit(1, f"S{slot} = [{pairs} if {shown}] if s and type(s) is list else ()")   # (none: no comprehension)
        g.emit(1, "try:")
        top_of_run = len(g.lines)
        read_after = [sorted({d for later in policy.strata[i + 1:] for r in later for d in r.reads_decisions})
                      for i in range(len(policy.strata))]
        # which strata claim each decision: a decision is resolved again after a stratum only if that stratum
        # could have added a claim (and then only if one was added), and at the end only if claimed since
        claimed_in = [{c.decision for r in rules for c in r.conclusions if isinstance(c, ir.Decide)} for rules in policy.strata]
        resolved_after: dict = {}     # j -> the last stratum after which r<j> (and z<j>, its count of claims) was computed
        derived_before: set = set()    # kinds of derived facts some earlier stratum makes (the others start empty)
        for k, rules in enumerate(policy.strata):
            kinds = sorted({r.binds for r in rules})
            # decisions of earlier strata, resolved into locals r<j> after each stratum
            g.decision_locals = {d: f"r{self.decision_names.index(d)}" for d in read_after[k - 1]} if k else {}
            derives = {f"derived:{c.fact}" for r in rules for c in r.conclusions if isinstance(c, ir.Derive)}
            g.emit(2, f"# ---- stratum {k}")
            if derives & set(kinds):
                self._worklist(g, rules, kinds, traced, derived_before)
            else:       # nothing derived here is matched here: each kind's facts in turn, no worklist
                for kind in kinds:
                    self._straight(g, kind, [r for r in rules if r.binds == kind], set(kinds), traced)
            derived_before |= derives
            due = [d for d in read_after[k] if d not in {self.decision_names[j] for j in resolved_after} or d in claimed_in[k]]
            if due:
                g.emit(2, "# ---- decisions later strata read")
            later = set().union(*claimed_in[k + 1:]) if k + 1 < len(policy.strata) else set()
            for dname in due:
                j = self.decision_names.index(dname)
                counted = dname in later      # claims may come later: remember how many this value counts
                if j not in resolved_after:
                    g.emit(2, f"r{j}, z{j} = {self._resolution(j)}, len(L{j})" if counted else f"r{j} = {self._resolution(j)}")
                else:
                    g.emit(2, f"if len(L{j}) != z{j}: r{j}, z{j} = {self._resolution(j)}, len(L{j})")
                resolved_after[j] = k
        g.emit(2, "# ---- the decisions")
        parts = []
        for j, dname in enumerate(self.decision_names):
            if j not in resolved_after:
                parts.append(f"{dname!r}: {self._resolution(j)}")
            elif any(dname in claimed_in[k] for k in range(resolved_after[j] + 1, len(policy.strata))):
                parts.append(f"{dname!r}: (r{j} if len(L{j}) == z{j} else R{j}(L{j}))")
            else:
                parts.append(f"{dname!r}: r{j}")
        final = ", ".join(parts)
        g.emit(2, f"return ({{{final}}}, ({''.join(f'L{j}, ' for j in range(len(self.decision_names)))}), "
                  f"({''.join(f'G{j}, ' for j in range(len(self.derived_names)))}), F)")
        preamble = g.take_prefetched("C")
        if g.windows_used:
            preamble.append("WT = _WM.get(A) or _windows(A)")
            preamble += [f"WS{i} = WT[{i}]" for i in sorted(g.windows_used)]
        preamble += [f"{var} = None" for var in sorted(g.indexes.values())]
        g.lines[top_of_run:top_of_run] = ["    " * 2 + line for line in preamble]
        g.emit(1, "except _PolicyError:")
        g.emit(2, "raise")
        g.emit(1, "except Exception as exc:")
        g.emit(2, "_failed(exc)")
        return g.lines

    def _worklist(self, g: Generator, rules: list, kinds: list, traced: bool, derived_before: set) -> None:
        """A stratum whose rules derive facts that its own rules match: a worklist, first in first out.
        The facts it starts from come first, in the order case, derived facts, list items; when no derived
        fact is among them (none of its derived kinds is made by an earlier stratum), the case and the list
        items are matched directly, each kind in turn, and only what they derive goes through the worklist:
        the same order, without a tuple and a dispatch per starting fact."""
        g.emit(2, "W = []")
        derived = [kind for kind in kinds if kind.startswith("derived:")]
        if any(kind in derived_before for kind in derived):
            for kind in kinds:
                self._initial(g, kind, traced, 2)
            queued = kinds
        else:
            for kind in kinds:
                if kind not in derived:
                    self._straight(g, kind, [r for r in rules if r.binds == kind], set(kinds), traced)
            queued = derived
        g.emit(2, "for kid, it, lb in W:     # a list iterated while it grows: first in, first out")
        for n, kind in enumerate(queued):
            g.emit(3, f"{'if' if n == 0 else 'elif'} kid == {self.kind_id[kind]}:   # {kind}")
            self._block(g, [r for r in rules if r.binds == kind], set(kinds), traced, 4)

    def _straight(self, g: Generator, kind: str, rules: list, kinds: set, traced: bool) -> None:
        """One kind's facts of a stratum that derives none of the kinds it matches: the same order as the
        worklist would take (the case, then derived facts in the order derived, then list items)."""
        g.emit(2, f"# ---- {kind}")
        if kind == ir.CASE:
            g.emit(2, "it, lb = C, ''")
            self._block(g, rules, kinds, traced, 2)
            return
        if kind.startswith("list:"):
            path = kind[5:]
            keys = tuple(path.split("."))
            slot = self.builder.list_slot(keys)
            if slot is None:
                pairs = f"_visible(C, {keys!r}, {self.policy.event_dates.get(keys)!r}, A)"
            else:
                pairs = f"S{slot}"
            if traced:
                g.emit(2, f"for i, it in {pairs}:   # {kind}")
                g.emit(3, f"lb = {'f' + repr(_lit(path) + '[{i}]')}")
            elif slot is None:
                g.emit(2, f"for i, it in {pairs}:   # {kind}")
            else:
                g.emit(2, f"for it in {pairs}:   # {kind}")
        else:
            j = self.derived_names.index(kind[8:])
            if traced:
                g.emit(2, f"for e in G{j}.values():   # {kind}")
                g.emit(3, "it, lb = e.data, e.label")
            else:
                g.emit(2, f"for it in G{j}.values():   # {kind}")
        self._block(g, rules, kinds, traced, 3)

    def _block(self, g: Generator, rules: list, kinds: set, traced: bool, ind: int) -> None:
        """The rules of one fact kind on one fact (`it`, labelled `lb`). A first conjunct that several of
        them share (a rules file's guard, a common test) is evaluated once, in the first of them."""
        top = len(g.lines)
        rules = sorted(rules, key=lambda r: r.index)
        split = {r.index: _first_and_rest(r.condition) for r in rules}
        keys = {r.index: _skey(split[r.index][0]) for r in rules}
        groups: dict = {}
        for r in rules:
            groups[keys[r.index]] = groups.get(keys[r.index], 0) + 1
        shared: dict = {}
        open_key = None     # the shared first conjunct whose `if` the rules emitted now are inside (consecutive rules)
        for rule in rules:
            first, rest = split[rule.index]
            key = keys[rule.index]
            guard_first = _guard_first(rule)
            alone = groups[key] < 2 and not guard_first
            if alone or key != open_key:
                open_key = None
            g.emit(ind if open_key is None else ind + 1, f"# rule {rule.index}: {rule.id}")
            scope = self._bound(rule, run=True)
            dated = self._bound_date(g, rule) if traced else []
            if alone:
                code, trace = g.cond(rule.condition, scope, ind)
                self._when(g, code, ind, lambda at: self._fire(g, rule, kinds, traced, at, dated + trace))
                continue
            if key not in shared:
                code, trace = g.cond(first, scope, ind)
                var = code if code.isidentifier() else g.tmp("g")
                if var != code:
                    g.emit(ind, f"{var} = {code}")
                shared[key] = (var, trace)
            held, first_trace = shared[key]
            if held == "False":     # never holds: nothing to emit
                continue
            if open_key is None and held != "True":
                g.emit(ind, f"if {held}:")
                open_key = key
            at = ind + 1 if open_key is not None else ind
            if rest is None:
                whole = first_trace + dated if guard_first else dated + first_trace
                self._fire(g, rule, kinds, traced, at, whole)
                continue
            code, trace = g.cond(rest, scope, at)
            whole = first_trace + dated + trace if guard_first else dated + first_trace + trace
            self._when(g, code, at, lambda at: self._fire(g, rule, kinds, traced, at, whole))
        g.lines[top:top] = ["    " * ind + line for line in g.take_prefetched("it")]
        if len(g.lines) == top:
            g.emit(ind, "pass")

    def _bound_date(self, g: Generator, rule) -> list:
        """Traced, a rule bound to the items of an event-dated list names the item's date first (after the
        rules file's guard): the trace item of it, computed only where the why is kept."""
        if not rule.binds.startswith("list:"):
            return []
        keys = tuple(rule.binds[5:].split("."))
        field_name = self.policy.event_dates.get(keys)
        if field_name is None:
            return []
        label = "{lb}" + _lit("." + field_name)
        if _sure_field(g._item_shape(ir.PathRef(keys=keys)), field_name):
            return [("e", label, f"it[{field_name!r}]", "")]
        d = g.tmp("ed")
        return [("s", f"{d} = it.get({field_name!r}) if type(it) is dict else None"), ("e", label, d, f"{d} is not None")]

    @staticmethod
    def _when(g: Generator, code: str, ind: int, then) -> None:
        if code == "True":
            then(ind)
        elif code != "False":
            g.emit(ind, f"if {code}:")
            then(ind + 1)

    def _resolution(self, j: int) -> str:
        """A decision's value from its claims; the default, when immutable, needs no call, and neither does
        the one claim of a strategy that takes a lone value as it is (what evaluate.resolver gives)."""
        decl = self.policy.decisions[self.decision_names[j]]
        default = decl.default
        claimed = self._literal_claims(decl.name)
        if claimed is not None and decl.type == "bool" and decl.combine in ("any", "all") \
                and not isinstance(default, (dict, list)) and len(claimed) == 1 and type(claimed[0]) is bool:
            # every rule claims the same literal: any or all of it is it (evaluate.resolver's boolean)
            return f"({claimed[0]!r} if L{j} else {self.builder.const(default)})"
        if claimed is not None and decl.type == "list" and decl.combine == "union" and default == [] and claimed:
            # codes written as literals, each a code or a list of one (evaluate.resolver's union): the union
            # of one literal, however often claimed, is its codes; of one claim, its code
            if all(type(v) is str for v in claimed):
                one = f"L{j}[0][0]"
            elif all(type(v) is list and len(v) == 1 and type(v[0]) is str for v in claimed):
                one = f"L{j}[0][0][0]"
            else:
                one = None
            if one is not None and len(claimed) == 1:
                return f"([{one}] if L{j} else [])"
            if one is not None:
                return f"(([{one}] if len(L{j}) == 1 else R{j}(L{j})) if L{j} else [])"
        if isinstance(default, (dict, list)):
            if not default:     # an empty default: a new one is written as a literal
                return f"(R{j}(L{j}) if L{j} else {'{}' if isinstance(default, dict) else '[]'})"
            return f"R{j}(L{j})"
        lone = None
        if decl.type == "enum" and decl.combine in ("min", "max", "unique") and decl.order:
            # a lone claim of a declared value is the value; another is the resolver's eval.value
            lone = f"L{j}[0][0] in {self.builder.const(frozenset(decl.order), shared=True)}"
        elif decl.type in ("number", "date") and decl.combine in ("min", "max") or \
                decl.combine == "unique" and decl.type != "map" and not (decl.type in ("enum", "list") and decl.order):
            lone = f"L{j}[0][0] is not None"
        elif decl.type == "bool" and decl.combine in ("any", "all"):
            value = f"L{j}[0][0]"
            return (f"(((bool({value}) if {value} is not None else {self.builder.const(default)}) if len(L{j}) == 1 "
                    f"else R{j}(L{j})) if L{j} else {self.builder.const(default)})")
        if lone is None:
            return f"(R{j}(L{j}) if L{j} else {self.builder.const(default)})"
        return f"((L{j}[0][0] if len(L{j}) == 1 and {lone} else R{j}(L{j})) if L{j} else {self.builder.const(default)})"

    def _literal_claims(self, name: str) -> Optional[list]:
        """The distinct values the rules claim for a decision, when every claim is a literal (None otherwise)."""
        found: list = []
        for rule in self.policy.rules:
            for concl in rule.conclusions:
                if isinstance(concl, ir.Decide) and concl.decision == name:
                    if not isinstance(concl.value, ir.Lit) or concl.map_key is not None:
                        return None
                    if not any(type(v) is type(concl.value.value) and v == concl.value.value for v in found):
                        found.append(concl.value.value)
        return found

    def _initial(self, g: Generator, kind: str, traced: bool, ind: int) -> None:
        """The facts a stratum starts from, for one kind it binds."""
        kid = self.kind_id[kind]
        if kind == ir.CASE:
            g.emit(ind, f"W.append(({kid}, C, ''))")
        elif kind.startswith("list:"):
            path = kind[5:]
            keys = tuple(path.split("."))
            slot = self.builder.list_slot(keys)
            if slot is not None and not traced:
                g.emit(ind, f"for h in S{slot}: W.append(({kid}, h, None))")
                return
            pairs = f"S{slot}" if slot is not None else \
                f"_visible(C, {keys!r}, {self.policy.event_dates.get(keys)!r}, A)"
            label = "f" + repr(_lit(path) + "[{i}]") if traced else "None"
            g.emit(ind, f"for i, h in {pairs}: W.append(({kid}, h, {label}))")
        else:
            j = self.derived_names.index(kind[8:])
            if traced:
                g.emit(ind, f"for e in G{j}.values(): W.append(({kid}, e.data, e.label))")
            else:
                g.emit(ind, f"for e in G{j}.values(): W.append(({kid}, e, None))")

    def _fire(self, g: Generator, rule, stratum_kinds: set, traced: bool, ind: int, trace: list) -> None:
        """A rule held: count it, record its why, compute its conclusions (never traced), record claims and
        derived facts."""
        g.emit(ind, "F += 1")
        if rule.index in self.recursive:
            g.emit(ind, "FR += 1")
        fr = "FR" if self.recursive else "0"   # whichever rule crosses the bound, the count of all recursive firings
        g.emit(ind, f"if F > FL: FL = _too_many(C, F, {fr})")
        if traced:
            g.emit_matched(trace, ind, "m", rule.binds[5:] if rule.binds.startswith("list:") else None)
        scope = self._bound(rule, run=True)     # (the fields the condition read by subscription are read alike)
        saved, g.traced = g.traced, False
        g.pick_memo = {}
        try:
            for concl in rule.conclusions:
                if isinstance(concl, ir.Decide) and concl.entries:    # a whole map: a claim per entry, in its order
                    v, _ = g.value(concl.value, scope, ind)
                    j = self.decision_names.index(concl.decision)
                    whole, key, value = g.tmp("w"), g.tmp("k"), g.tmp("v")
                    g.emit(ind, f"{whole} = {v}")
                    g.emit(ind, f"for {key}, {value} in ({whole}.items() if {whole} else ()):")
                    if traced:
                        entry = self._why_entry(g, rule, value, key, ind + 1)
                        g.emit(ind + 1, f"L{j}.append(({value}, {key}, {rule.index}, lb, m, {entry}))")
                    else:
                        g.emit(ind + 1, f"L{j}.append(({value}, {key}, {rule.index}))")
                    continue
                if isinstance(concl, ir.Decide):
                    v, _ = g.value(concl.value, scope, ind)
                    key = g.value(concl.map_key, scope, ind)[0] if concl.map_key is not None else "None"
                    j = self.decision_names.index(concl.decision)
                    if traced:
                        entry = self._why_entry(g, rule, v, key, ind)
                        g.emit(ind, f"L{j}.append(({v}, {key}, {rule.index}, lb, m, {entry}))")
                    else:
                        g.emit(ind, f"L{j}.append(({v}, {key}, {rule.index}))")
                    continue
                j = self.derived_names.index(concl.fact)
                names = sorted(concl.fields)
                values = [g.value(concl.fields[n], scope, ind)[0] for n in names]
                shapes = self.policy.derived[concl.fact].props
                frozen = [v if shapes[n].kind in SCALAR_KINDS else f"_freeze({v})" for n, v in zip(names, values)]
                key, e, data = g.tmp("key"), g.tmp("e"), g.tmp("data")
                g.emit(ind, f"{key} = ({self.builder.const(tuple(names), shared=True)}, {''.join(f + ', ' for f in frozen)})")
                g.emit(ind, f"{e} = G{j}.get({key})")
                g.emit(ind, f"if {e} is None:")
                g.emit(ind + 1, "ND += 1")
                g.emit(ind + 1, f"if ND > NL: NL = _too_many_derived(C, ND, F, {fr})")
                g.emit(ind + 1, f"{data} = {{{', '.join(f'{n!r}: {v}' for n, v in zip(names, values))}}}")
                kind = f"derived:{concl.fact}"
                if traced:
                    label = self._label_code(g, concl.fact, names, values, shapes, ind + 1)
                    g.emit(ind + 1, f"{e} = G{j}[{key}] = _Fact({kind!r}, {data}, {label}, [])")
                    if kind in stratum_kinds:
                        g.emit(ind + 1, f"W.append(({self.kind_id[kind]}, {data}, {e}.label))")
                    g.emit(ind, f"{e}.derived_by.append(({rule.id!r}, lb))")
                else:
                    g.emit(ind + 1, f"G{j}[{key}] = {data}")
                    if kind in stratum_kinds:
                        g.emit(ind + 1, f"W.append(({self.kind_id[kind]}, {data}, None))")
        finally:
            g.traced = saved
            g.pick_memo = None

    @staticmethod
    def _why_entry(g: Generator, rule, value: str, key: str, ind: int) -> str:
        """The claim's entry of the output's `why` (explain.to_dict sets `decisive`): what is known of the rule
        is written in; `key` appears when the claim names one, `fact` unless the rule binds the case file.
        Keys in sorted order, as the output is written (orjson sorts an ordered mapping faster)."""
        def entry(with_key: bool) -> str:
            parts = {"rule": repr(rule.id), "article": repr(rule.article), "title": repr(rule.title),
                     "value": value, "matched": "m", "decisive": "None"}
            if rule.clause:
                parts["clause"] = repr(rule.clause)
            if rule.binds != ir.CASE:       # a list item's or a derived fact's label is never empty
                parts["fact"] = "lb"
            if with_key:
                parts["key"] = key
            return "{" + ", ".join(f"{name!r}: {parts[name]}" for name in sorted(parts)) + "}"
        if key == "None":
            return entry(False)
        if _never_none(key, g.certain):
            return entry(True)
        return f"({entry(True)} if {key} is not None else {entry(False)})"

    @staticmethod
    def _label_code(g: Generator, fact: str, names: list, values: list, shapes: dict, ind: int) -> str:
        """Code of the label `_label` gives a derived fact with these fields (names sorted), written out:
        a field that is None (or a mapping or a list) is left out of it."""
        if any(v.startswith("K[") for v in values):
            data = "{" + ", ".join(f"{n!r}: {v}" for n, v in zip(names, values)) + "}"
            return f"_label({fact!r}, {data})"
        parts, always = [], True
        for name, v in zip(names, values):
            scalar = shapes[name].kind in SCALAR_KINDS       # (a mapping there could not have been a key)
            sure = _never_none(v, g.certain) and (scalar or _is_literal(v))
            parts.append((f"{_lit(name)}={{{v}}}" if not _is_literal(v) else _lit(f"{name}={_literal_text(v)}"), sure,
                          f"{v} is not None" + ("" if scalar else f" and not isinstance({v}, (dict, list))")))
            always = always and sure
        if always:
            return "f" + repr(_lit(fact) + "{{" + ",".join(p for p, _, _ in parts) + "}}")
        var = g.tmp("lp")
        g.emit(ind, f"{var} = []")
        for body, sure, test in parts:
            append = f"{var}.append({_path_code(body)})"
            g.emit(ind, append if sure else f"if {test}: {append}")
        return f"{fact!r} + '{{' + ','.join({var}) + '}}'"

    def _then(self, rule) -> list:
        g = Generator(self.builder, False)
        g.emit(0, f"def c_{rule.index}(C, it, lb, A, P, D, X):")
        g.emit(1, f"# {rule.id}")
        parts = []
        scope = self._bound(rule)
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                v, _ = g.value(concl.value, scope, 1)
                key = g.value(concl.map_key, scope, 1)[0] if concl.map_key is not None else "None"
                parts.append(f"({v}, {key})")
            else:
                fields_ = [f"{name!r}: {g.value(expr, scope, 1)[0]}" for name, expr in sorted(concl.fields.items())]
                parts.append("{" + ", ".join(fields_) + "}")
        g.emit(1, "return (" + "".join(p + ", " for p in parts) + ")")
        return g.lines

    def _load(self) -> dict:
        from .errors import PolicyError
        memo, windows = _window_table(self.builder.windows)
        namespace = {"K": tuple(self.builder.consts), "__builtins__": BUILTINS, "_PolicyError": PolicyError,
                     "_failed": self._failed, "_too_many": self._too_many, "_too_many_derived": self._too_many_derived,
                     "_matched": _matched, "_freeze": _freeze, "_label": _label, "_visible": visible, "_reach": _reach,
                     "_WM": memo, "_windows": windows, "_NO_ITEMS": _NO_ITEMS}
        namespace.update(HELPERS)
        from .evaluate import Fact, resolver
        namespace["_Fact"] = Fact
        for j, name in enumerate(self.decision_names):
            namespace[f"R{j}"] = resolver(self.policy, self.policy.decisions[name])
        exec(self._code, namespace)
        self.run_plain, self.run_traced = namespace["run_plain"], namespace["run_traced"]
        self._run_codes = (self.run_plain.__code__, self.run_traced.__code__)
        self.thens = {rule.index: namespace[f"c_{rule.index}"] for rule in self.policy.rules}
        return namespace

    @staticmethod
    def _rule_lines(source: str) -> dict:
        """Line of the generated source -> index of the rule whose code it is (from the `# rule N:` marks;
        rules emit no other comment)."""
        table, current, level = {}, None, 0
        for number, line in enumerate(source.splitlines(), 1):
            text = line.lstrip()
            depth = len(line) - len(text)
            found = _RULE_MARK.match(text)
            if found:
                current, level = int(found.group(1)), depth
                continue
            if current is not None and text and (depth < level or text.startswith("#")):
                current = None      # a rule's code ends at a line less indented, or at the next section's mark
            if current is not None:
                table[number] = current
        return table

    # -- errors raised from generated code ------------------------------------------------------
    def _failed(self, exc: Exception):
        from .errors import EvaluationError, Issue, Location
        line, tb = None, exc.__traceback__
        while tb is not None:       # the innermost line of a run function: the rule's code that failed
            if tb.tb_frame.f_code in self._run_codes:
                line = tb.tb_lineno
            tb = tb.tb_next
        cur = self._rule_at_line.get(line, -1)
        if cur < 0:
            raise EvaluationError([Issue("eval.action", f"the evaluation failed: {type(exc).__name__}: {exc}", Location(),
                                         "report this with the case file: it is a bug in regcode")]) from exc
        rule = self.policy.rules[cur]
        said = runtime_issue(exc, [rule])
        if said is not None:
            raise runtime_error(said, exc) from None
        raise EvaluationError([Issue("eval.action", f"rule `{rule.id}` failed: {type(exc).__name__}: {exc}", rule.location,
                                     "report this with the case file: a rule's condition or conclusion could not be "
                                     "computed")]) from exc

    def _too_many(self, case, firings: int, recursive_firings: int) -> int:
        """The firings passed the base bound: the case's own bound (bounds()) when they are within it, else
        the evaluation stops (limit_error)."""
        bound = bounds(case)[0]
        if firings <= bound:
            return bound
        raise limit_error(self.policy, self.recursive, case, "rule firings", firings, recursive_firings)

    def _too_many_derived(self, case, derived: int, firings: int, recursive_firings: int) -> int:
        bound = bounds(case)[1]
        if derived <= bound:
            return bound
        raise limit_error(self.policy, self.recursive, case, "derived facts", firings, recursive_firings)

    # -- single rules and flags, for the durable backend ---------------------------------------
    def rule_traced(self, rule):
        """fn(C, it, lb, A, P, D, X, T) -> bool: one rule's condition; when it holds, its why is appended
        to T as the output's entries in the order read (`_matched` makes the claim's list of them)."""
        fn = self._rule_traced.get(rule.index)
        if fn is None:
            g = Generator(self.builder, True)
            g.emit(0, f"def r_{rule.index}(C, it, lb, A, P, D, X, T):")
            dated = self._bound_date(g, rule)
            if _guard_first(rule):     # in the order the run function records it: the guard, the date, the rest
                first, rest = _first_and_rest(rule.condition)
                held, first_trace = g.cond(first, self._bound(rule), 1)
                g.emit(1, f"if not {held}: return False")
                code, trace = g.cond(rest, self._bound(rule), 1) if rest is not None else ("True", [])
                trace = first_trace + dated + trace
            else:
                code, trace = g.cond(rule.condition, self._bound(rule), 1)
                trace = dated + trace
            g.emit(1, f"if {code}:")
            g.emit_trace(_prune(trace), 2, "T")
            g.emit(2, "return True")
            g.emit(1, "return False")
            fn = self._rule_traced[rule.index] = self._compile_one("\n".join(g.lines), f"r_{rule.index}")
        return fn

    def flag(self, rule, cond, key):
        """fn(C, it, lb, A, P, D, X) -> bool for a part of a rule's condition (durable's flags)."""
        fn = self._flags.get(key)
        if fn is None:
            g = Generator(self.builder, False)
            name = f"f_{len(self._flags)}"
            g.emit(0, f"def {name}(C, it, lb, A, P, D, X):")
            code, _ = g.cond(cond, self._bound(rule), 1)
            g.emit(1, f"return {code}")
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
        (value, key, rule index[, fact label, matched, why entry]); derived facts evaluate.Fact objects
        (made by the traced code itself; none without tracing)."""
        X = CaseCache(case, as_of, self.slots, lists=False)
        decisions, lists, stores, firings = (self.run_traced if traced else self.run_plain)(case, as_of, params, X)
        claims = dict(zip(self.decision_names, lists))
        derived = []
        if traced:
            for store in stores:
                derived += store.values()
        return decisions, claims, derived, firings

    def conclude(self, rule, fact, state) -> tuple:
        return self.thens[rule.index](state.case, fact.data, fact.label, state.as_of, state.params, state.decisions, state.cache)


# Bounds of one evaluation (forward chaining must end): a base, and as much again for each record of the case
# (an item of one of its lists), since a rule fires at most once per fact it binds. A case file is at most
# 4 MiB (load.MAX_CASE_BYTES), so the bound stays finite: a policy whose derivations do not end is stopped,
# and a case that ends is evaluated however many records it has (the policy shipped fires about 2 rules
# and derives about 1 fact a license, at most a few dozen rules and 10 facts with every trigger).
MAX_FIRINGS = 20000          # rule firings per evaluation, past those a case's records allow
FIRINGS_PER_RECORD = 64
MAX_DERIVED = 5000           # derived facts per evaluation, past those a case's records allow
DERIVED_PER_RECORD = 16


def records(case) -> int:
    """The items of every list in the case file, at any depth: what a rule can bind besides the case."""
    count, stack = 0, [case]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            count += len(node)
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return count


def bounds(case) -> tuple:
    """(rule firings, derived facts) one evaluation of `case` may take."""
    n = records(case)
    return MAX_FIRINGS + FIRINGS_PER_RECORD * n, MAX_DERIVED + DERIVED_PER_RECORD * n


def recursive_rules(policy) -> frozenset:
    """Indices of the rules that derive facts from facts of their own kind, directly or through other derived
    facts: the only rules whose derivations can go on without end (each rule fires at most once per fact)."""
    edges: dict = {}
    for rule in policy.rules:
        if rule.binds.startswith("derived:"):
            for concl in rule.conclusions:
                if isinstance(concl, ir.Derive):
                    edges.setdefault(rule.binds[8:], set()).add(concl.fact)

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            kind = todo.pop()
            if kind == goal:
                return True
            if kind not in seen:
                seen.add(kind)
                todo.extend(edges.get(kind, ()))
        return False

    return frozenset(rule.index for rule in policy.rules if rule.binds.startswith("derived:")
                     and any(isinstance(c, ir.Derive) and reaches(c.fact, rule.binds[8:]) for c in rule.conclusions))


def limit_error(policy, recursive: frozenset, case, what: str, firings: int, recursive_firings: int):
    """The EvaluationError of an evaluation past its bound of `what` ("rule firings", "derived facts"), the
    same on every backend. When most firings were of rules deriving facts from facts of their own kind, their
    derivations do not end: the policy's fault, at the first such rule, for its drafter. Otherwise the case
    has more records than one evaluation takes: the case's fault, with no place (the caller knows the case
    file's and puts it in: evaluate.evaluate)."""
    from .errors import EvaluationError, Issue, Location
    n = records(case)
    firing_bound, derived_bound = bounds(case)
    bound, base, per = ((firing_bound, MAX_FIRINGS, FIRINGS_PER_RECORD) if what == "rule firings"
                        else (derived_bound, MAX_DERIVED, DERIVED_PER_RECORD))
    said = f"more than {bound:,} {what} for a case of {n:,} record{'' if n == 1 else 's'} ({base:,} and {per} for each record)"
    if recursive and 2 * recursive_firings > firings:
        rules = [r for r in policy.rules if r.index in recursive]
        names = ", ".join(f"`{r.id}`" for r in rules[:3]) + (" ..." if len(rules) > 3 else "")
        return EvaluationError([Issue(
            "eval.limit", f"{said}, most rule firings on facts derived from facts of their own kind: "
                          f"the derivations of {names} do not end", rules[0].location,
            "for the policy's drafter: a rule that derives facts from facts of its own kind must come back to facts "
            "already derived (derived facts are a set); a field that changes at each step (a count, a date moved on) "
            "makes a new fact each time")])
    why = ("the policy's derivations always end" if not recursive else
           "most rule firings were on the case's own records, not on facts derived from facts of their own kind")
    return EvaluationError([Issue(
        "eval.limit", f"{said}: the case is too large for one evaluation", Location(),
        f"split the case file into cases of fewer records ({why}; the bound grows with the records, and this case "
        "needed more than that)")])


def _matched(trace: list) -> list:
    """The output's `matched` list from its entries in the order read: each path once, the first."""
    seen: set = set()
    out = []
    for entry in trace:
        path = entry["path"]
        if path not in seen:
            seen.add(path)
            out.append(entry)
    return out


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _label(kind: str, data: dict) -> str:
    inner = ",".join(f"{k}={data[k]}" for k in sorted(data) if data[k] is not None and not isinstance(data[k], (dict, list)))
    return f"{kind}{{{inner}}}"
