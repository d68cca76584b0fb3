"""One case file from document to output object: the path `eval`, `test`, `batch`, `plan` and `serve` share."""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ._dates import is_date
from .catalog import Catalog, SelectionError
from .errors import InputError, Issue, Location, PolicyError
from .evaluate import DEFAULT_BACKEND, check_case, evaluate, identity_of
from .explain import EXPLAIN_LEVELS, explain_level, to_dict
from .load import Document, not_at, places


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


def _selected(cat: Catalog, policy_name, when: str, version):
    """The version in force, remembered per catalog (a batch asks for the same few dates again and again)."""
    memo = cat.__dict__.get("_selected_versions")
    if memo is None:
        memo = cat.__dict__["_selected_versions"] = {}
    key = (policy_name, when, version)
    policy = memo.get(key)
    if policy is None:
        info = _in_force(cat, policy_name, when) if version is None else None
        policy = cat.compiled(info) if info is not None else cat.select(cat.policy_id(policy_name), when, version)
        if len(memo) < 10000:
            memo[key] = policy
    return policy


def _in_force(cat: Catalog, policy_name, when: str):
    """What `Catalog.choose` picks by date, from the policy's versions listed once per catalog (a new date
    costs a scan of a few windows, not a new listing); None where choose must speak (it raises, naming
    why: an unknown policy, a broken version, no version in force)."""
    listed = cat.__dict__.get("_versions_by_name")
    if listed is None:
        listed = cat.__dict__["_versions_by_name"] = {}
    versions = listed.get(policy_name)
    if versions is None:
        policy_id = cat.policy_id(policy_name)
        cat.refuse_broken(policy_id)
        versions = listed[policy_name] = tuple((v.effective_from, v.effective_to, v) for v in cat.versions(policy_id))
    found = None
    for start, end, info in versions:     # VersionInfo.in_force; sorted by start: the most recent start wins when windows overlap
        if start <= when and (end is None or when <= end):
            found = info
    return found


def also_wrong(cat: Catalog, failed: InputError, policy_name: Optional[str] = None, as_of: Optional[str] = None,
               version: Optional[str] = None) -> InputError:
    """A case file refused for value-level problems only (load.SOFT: `food_related: no`) was still read
    (`failed.partial`): its other problems (its `as_of`, the facts schema of the version in force) are said
    beside them, in one run, and it is never evaluated. Returns the error to raise."""
    doc = getattr(failed, "partial", None)
    if doc is None:
        return failed
    more: list = []
    try:
        when = as_of or case_as_of(doc, None)
        check_case(_selected(cat, policy_name, when, version), doc)
    except InputError as exc:
        more = exc.issues
    except PolicyError:      # no version to check it against (or a broken one): that is said once the values are mended
        pass
    return InputError(failed.issues + not_at(more, places(failed.issues)))


def evaluate_case(cat: Catalog, doc: Document, policy_name: Optional[str] = None, as_of: Optional[str] = None,
                  version: Optional[str] = None, backend: str = DEFAULT_BACKEND, explain="full") -> dict:
    """Pick the version in force, check the case against its facts schema, evaluate, and return the
    `eval --format json` object. Raises a PolicyError (InputError, SelectionError, ...) for bad input;
    its `identity` holds the case's identity fields when the case file is a mapping."""
    policy = None
    try:
        when = as_of or case_as_of(doc, None)
        try:
            policy = _selected(cat, policy_name, when, version)
        except SelectionError as exc:   # a date no version covers: name the case file (and its as_of line when the date came from it)
            where = doc.whole() if as_of else doc.location(("as_of",))
            raise SelectionError([replace(i, location=where) if not i.location.file and i.code == "select.no_version_in_force"
                                  else i for i in exc.issues]) from None
        check_case(policy, doc)
        level = explain if explain in EXPLAIN_LEVELS else explain_level(explain)   # as given: no call
        ev = evaluate(policy, doc.data, when, backend=backend, source=doc.file, checked=True, doc=doc, trace=level != "none")
        result = to_dict(ev, level)
        if version is not None and not policy.in_force(when):
            result["notes"] = [outside_window_note(policy, when, not as_of), *result.get("notes", ())]
        return result
    except (InputError, SelectionError) as exc:   # the case's own fault: name it by its identity
        exc.identity = case_identity(cat, doc, policy, policy_name, version)
        raise
    except PolicyError as exc:   # evaluation errors; a broken policy was compiled (and failed) once already
        exc.identity = identity_of(policy, doc.data) if policy is not None and isinstance(doc.data, dict) else None
        raise


def outside_window_note(policy, when: str, in_the_case: bool) -> dict:
    """The note of a result decided by a version forced on a date outside its window (the decisions are that
    version's all the same: a reader of the output alone must know)."""
    return {"code": "select.outside_window", "path": "as_of" if in_the_case else "", "value": when,
            "message": f"{when} is outside {policy.ref}'s window ({policy.window()}): the version was named (--policy-version, "
                       f"or `version` over HTTP) and decided as if it were in force",
            "hint": "name no version to have the one in force on that date decide"}


def case_identity(cat: Catalog, doc: Document, policy=None, policy_name: Optional[str] = None,
                  version: Optional[str] = None) -> dict:
    """The identity fields of a case file, by the version that evaluated it, or when none could be chosen
    (no as_of, no version in force) by the forced or latest version of the policy; {} when there is none."""
    if not isinstance(doc.data, dict):
        return {}
    if policy is None:
        try:
            policy_id = cat.policy_id(policy_name)
            infos = cat.versions(policy_id)
            if version is not None:
                infos = [v for v in infos if v.version == version]
            if not infos:
                return {}
            policy = cat.compiled(infos[-1])
        except PolicyError:    # the policy itself is broken: nothing to name the case by
            return {}
    return identity_of(policy, doc.data)
