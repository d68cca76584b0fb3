"""The intermediate form: compiled rules, conditions and expressions, engine-neutral plain data."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import Location

CASE = "case"  # the fact kind of the case file itself


# ---- expressions -------------------------------------------------------------------------
@dataclass(eq=False)
class Expr:
    fn: Callable = field(default=None, repr=False, compare=False)  # (env) -> value, set by _operators

    def key(self) -> tuple:
        """A hashable, printable identity used for deduplication and diffs."""
        raise NotImplementedError


@dataclass(eq=False)
class Lit(Expr):
    value: Any = None

    def key(self):
        return ("lit", _freeze(self.value))


@dataclass(eq=False)
class PathRef(Expr):
    text: str = ""
    scope: str = ""          # an alias, or "" for the case file's root
    keys: tuple = ()

    def key(self):
        return ("path", self.text)


@dataclass(eq=False)
class Param(Expr):
    name: str = ""

    def key(self):
        return ("param", self.name)


@dataclass(eq=False)
class DecisionRef(Expr):
    name: str = ""
    map_key: Optional[Expr] = None

    def key(self):
        return ("decision", self.name, self.map_key.key() if self.map_key else None)


@dataclass(eq=False)
class Count(Expr):
    source: PathRef = None
    alias: str = ""
    where: Optional["Cond"] = None

    def key(self):
        return ("count", self.source.key(), self.alias, self.where.key() if self.where else None)


@dataclass(eq=False)
class Pick(Expr):
    """latest / earliest item of a list by a date field, optionally one of its fields."""
    source: PathRef = None
    alias: str = ""
    by: str = ""
    where: Optional["Cond"] = None
    field_name: Optional[str] = None
    latest: bool = True

    def key(self):
        return ("latest" if self.latest else "earliest", self.source.key(), self.alias, self.by,
                self.where.key() if self.where else None, self.field_name)


@dataclass(eq=False)
class DateAdd(Expr):
    base: Expr = None
    years: Optional[Expr] = None
    months: Optional[Expr] = None
    days: Optional[Expr] = None

    def key(self):
        return ("date_add", self.base.key(), *(e.key() if e else None for e in (self.years, self.months, self.days)))


@dataclass(eq=False)
class DaysBetween(Expr):
    start: Expr = None
    end: Expr = None

    def key(self):
        return ("days_between", self.start.key(), self.end.key())


# ---- conditions --------------------------------------------------------------------------
@dataclass(eq=False)
class Cond:
    fn: Callable = field(default=None, repr=False, compare=False)  # (env) -> bool

    def key(self) -> tuple:
        raise NotImplementedError


@dataclass(eq=False)
class All(Cond):
    items: list = field(default_factory=list)

    def key(self):
        return ("all", tuple(i.key() for i in self.items))


@dataclass(eq=False)
class AnyOf(Cond):
    items: list = field(default_factory=list)

    def key(self):
        return ("any", tuple(i.key() for i in self.items))


@dataclass(eq=False)
class Not(Cond):
    item: Cond = None

    def key(self):
        return ("not", self.item.key())


@dataclass(eq=False)
class Compare(Cond):
    left: Expr = None
    op: str = "=="
    right: Expr = None

    def key(self):
        return ("cmp", self.left.key(), self.op, self.right.key())


@dataclass(eq=False)
class Presence(Cond):
    path: PathRef = None
    present: bool = True

    def key(self):
        return ("present" if self.present else "absent", self.path.key())


@dataclass(eq=False)
class Some(Cond):
    source: PathRef = None
    alias: str = ""
    where: Optional[Cond] = None

    def key(self):
        return ("some", self.source.key(), self.alias, self.where.key() if self.where else None)


@dataclass(eq=False)
class Within(Cond):
    path: Expr = None
    unit: str = "years"
    amount: Expr = None

    def key(self):
        return ("within", self.path.key(), self.unit, self.amount.key())


@dataclass(eq=False)
class Between(Cond):
    path: Expr = None
    start: Expr = None
    end: Expr = None

    def key(self):
        return ("between", self.path.key(), self.start.key(), self.end.key())


@dataclass(eq=False)
class TrueCond(Cond):
    def key(self):
        return ("true",)


# ---- rules and conclusions ---------------------------------------------------------------
@dataclass(eq=False)
class Decide:
    decision: str
    value: Expr
    map_key: Optional[Expr] = None

    def key(self):
        return ("decide", self.decision, self.value.key(), self.map_key.key() if self.map_key else None)


@dataclass(eq=False)
class Derive:
    fact: str
    fields: dict  # field -> Expr (sorted by field name)

    def key(self):
        return ("derive", self.fact, tuple((k, v.key()) for k, v in sorted(self.fields.items())))


@dataclass(eq=False)
class Rule:
    id: str
    article: str
    title: str
    condition: Cond
    conclusions: list
    binds: str = CASE              # CASE, "list:<path>" or "derived:<name>"
    alias: str = ""
    clause: str = ""
    note: str = ""
    location: Location = field(default_factory=Location)
    stratum: int = 0
    reads_decisions: tuple = ()
    index: int = 0                 # position in the sorted rule list (by id)

    def condition_key(self):
        return (self.binds, self.alias, self.condition.key())

    def conclusion_key(self):
        return tuple(c.key() for c in self.conclusions)


@dataclass
class DecisionDecl:
    name: str
    type: str
    combine: str
    default: Any
    title: str = ""
    values: Optional[list] = None       # ordered members for enum/list (and map values)
    value_type: Optional[str] = None    # for map: the type of each value
    article: str = ""
    location: Location = field(default_factory=Location)

    @property
    def order(self) -> Optional[dict]:
        return {v: i for i, v in enumerate(self.values)} if self.values else None


@dataclass
class ParameterDecl:
    name: str
    value: Any = None
    values: Optional[dict] = None       # ISO date -> value, for dated parameters (`value` holds before the first)
    title: str = ""
    article: str = ""
    unit: str = ""
    location: Location = field(default_factory=Location)

    def at(self, as_of: str):
        """The value in force on `as_of` (dated parameters) or the constant value."""
        if self.values is None:
            return self.value
        chosen = None
        for start in sorted(self.values):
            if start <= as_of:
                chosen = start
        if chosen is None:   # before the first date: an inherited value (compile.continue_timeline), if any
            return self.value if self.value is not None else _MISSING
        return self.values[chosen]


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


def _freeze(value):
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value
