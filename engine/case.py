"""One case file from document to output object: the path `eval`, `test`, `batch`, `plan` and `serve` share."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ._dates import is_date
from .catalog import Catalog, SelectionError
from .errors import InputError, Issue, Location
from .evaluate import DEFAULT_BACKEND, check_case, evaluate
from .explain import explain_level, to_dict
from .load import Document


def case_as_of(doc: Document, as_of: Optional[str]) -> str:
    """--as-of wins over the case file's as_of; one of them is needed."""
    if as_of:
        return as_of
    value = doc.data.get("as_of") if isinstance(doc.data, dict) else None
    if value is None:
        raise InputError([Issue("input.as_of", "no evaluation date: the case file has no `as_of`", doc.location(),
                                "add `as_of: YYYY-MM-DD` to the case file or pass --as-of")])
    if not is_date(value):
        raise InputError([Issue("input.as_of", f"as_of {value!r} is not a date", doc.location(("as_of",)), "write YYYY-MM-DD")])
    return value


def evaluate_case(cat: Catalog, doc: Document, policy_name: Optional[str] = None, as_of: Optional[str] = None,
                  version: Optional[str] = None, backend: str = DEFAULT_BACKEND, explain="full") -> dict:
    """Pick the version in force, check the case against its facts schema, evaluate, and return the
    `eval --format json` object. Raises a PolicyError (InputError, SelectionError, ...) for bad input."""
    when = case_as_of(doc, as_of)
    try:
        policy = cat.select(cat.policy_id(policy_name), when, version)
    except SelectionError as exc:   # name the case file (and its as_of line when the date came from it)
        where = Location(doc.location().file) if as_of else doc.location(("as_of",))
        raise SelectionError([replace(i, location=where) if not i.location.file else i for i in exc.issues]) from None
    check_case(policy, doc)
    level = explain_level(explain)
    ev = evaluate(policy, doc.data, when, backend=backend, source=doc.location().file, checked=True, trace=level != "none")
    return to_dict(ev, level)
