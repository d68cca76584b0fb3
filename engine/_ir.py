"""The intermediate form: rules, conditions and expressions as plain data that every backend compiles.

Nothing here evaluates anything and nothing here knows a backend: no closures, no generated code.
The Python backend (engine/_python.py) generates source from these nodes; the durable-rules
backend (engine/_durable.py) translates what durable can match natively and asks the Python
backend for the rest. `Shape`s (engine/_shapes.py) are attached where a backend needs to know what
a value can be (a dict for sure, a date, a number).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import Location

CASE = "case"  # the fact kind of the case file itself


# ---- expressions -------------------------------------------------------------------------
class Expr:
    """An expression node; `kind` is the shape kind of its value ('date', 'number', 'any', ...)."""


@dataclass(eq=False)
class Lit(Expr):
    value: Any = None
    kind: str = "any"


@dataclass(eq=False)
class PathRef(Expr):
    """A fact path: `scope` is an alias in scope (a bound item) or "" for the case file's root."""
    text: str = ""
    scope: str = ""
    keys: tuple = ()
    defaults: tuple = ()     # per key: (has_default, default) from the facts schema (absent -> default)
    dicts: tuple = ()        # per key: True when the value it is read from is always a dict (schema `type: object`)
    kind: str = "any"
    scalar: bool = False     # a present value is surely a scalar (the facts schema says so)
    present: tuple = ()      # per key: True when validation guarantees the key is there (required in a typed object)
    certain: bool = False    # validation guarantees the whole path is there and not null


@dataclass(eq=False)
class Param(Expr):
    name: str = ""
    kind: str = "any"


@dataclass(eq=False)
class DecisionRef(Expr):
    name: str = ""
    map_key: Optional[Expr] = None
    kind: str = "any"


@dataclass(eq=False)
class Count(Expr):
    source: PathRef = None
    alias: str = ""
    where: Optional["Cond"] = None
    kind: str = "integer"


@dataclass(eq=False)
class Pick(Expr):
    """latest / earliest item of a list by a date field, optionally one of its fields."""
    source: PathRef = None
    alias: str = ""
    by: str = ""
    where: Optional["Cond"] = None
    field_name: Optional[str] = None
    latest: bool = True
    kind: str = "any"
    by_default: tuple = (False, None)      # the facts schema's default for an absent `by` / `field`
    field_default: tuple = (False, None)


@dataclass(eq=False)
class DateAdd(Expr):
    base: Expr = None
    years: Optional[Expr] = None
    months: Optional[Expr] = None
    days: Optional[Expr] = None
    kind: str = "date"


@dataclass(eq=False)
class DaysBetween(Expr):
    start: Expr = None
    end: Expr = None
    kind: str = "integer"


@dataclass(eq=False)
class Step(Expr):
    """An enum value moved `by` places along an ordered list of values, clamped at both ends.

    `source` orders the operand (its position is looked up there) and `along` gives the result's
    values (the same list for a plain step; another list of the same length maps by position,
    e.g. class -> supervision mode)."""
    operand: Expr = None
    by: Expr = None
    source: tuple = ()
    along: tuple = ()
    kind: str = "string"


# ---- conditions --------------------------------------------------------------------------
class Cond:
    """A condition node."""


@dataclass(eq=False)
class All(Cond):
    items: list = field(default_factory=list)


@dataclass(eq=False)
class AnyOf(Cond):
    items: list = field(default_factory=list)


@dataclass(eq=False)
class Not(Cond):
    item: Cond = None


@dataclass(eq=False)
class Compare(Cond):
    left: Expr = None
    op: str = "=="
    right: Expr = None


@dataclass(eq=False)
class Presence(Cond):
    path: PathRef = None
    present: bool = True


@dataclass(eq=False)
class Some(Cond):
    source: PathRef = None
    alias: str = ""
    where: Optional[Cond] = None


@dataclass(eq=False)
class Within(Cond):
    path: Expr = None
    unit: str = "years"
    amount: Expr = None


@dataclass(eq=False)
class Between(Cond):
    path: Expr = None
    start: Expr = None
    end: Expr = None


@dataclass(eq=False)
class TrueCond(Cond):
    pass


# ---- rules and conclusions ---------------------------------------------------------------
@dataclass(eq=False)
class Decide:
    decision: str
    value: Expr
    map_key: Optional[Expr] = None
    entries: bool = False          # `value` is a map decision's whole value: each entry is claimed for its own key


@dataclass(eq=False)
class Derive:
    fact: str
    fields: dict  # field -> Expr (sorted by field name)


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
    reads_params: tuple = ()       # parameters its condition or conclusions read (its file's guard's too)
    index: int = 0                 # position in the sorted rule list (by id)
    guard: Optional[Cond] = None   # the rules file's `guard:`, already folded into `condition` (kept for display)


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
    labels: Optional[dict] = None       # str(value) -> how a reader names it (`strict` -> 加严监管): text and pages only
    order: Optional[dict] = field(default=None, init=False, repr=False, compare=False)   # value -> position

    def __post_init__(self):
        self.order = {v: i for i, v in enumerate(self.values)} if self.values else None


@dataclass
class ParameterDecl:
    name: str
    value: Any = None
    values: Optional[dict] = None       # ISO date -> value, for dated parameters (`value` holds before the first)
    title: str = ""
    article: str = ""
    unit: str = ""
    location: Location = field(default_factory=Location)
    values_location: Optional[Location] = None    # of its `values:` (dated parameters): where a date without one is mended

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


def parameter_readers(rules) -> dict:
    """parameter -> the ids of the rules that read it (Rule.reads_params), in the rules' order."""
    readers: dict = {}
    for rule in rules:
        for name in rule.reads_params:
            readers.setdefault(name, []).append(rule.id)
    return readers
