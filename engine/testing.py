"""A policy's own test cases (kind: TestCases): run them, compare decisions, report per case."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from xml.etree import ElementTree as ET

from ._dates import date_problem, is_date
from ._text import article_key, near_article
from .catalog import Catalog, SelectionError
from .compile import CompiledPolicy, member_fits, takes, value_fits
from .errors import CASE_ERROR_CODES, InputError, Issue, IssueCollector, Location, PolicyError, did_you_mean, file_name, nearest, one_line
from .evaluate import DEFAULT_BACKEND, NoValue, check_case, evaluate, no_value_words
from .explain import to_dict
from .load import CHECKED_VALUE_CODES, VERSION_NAME, Document, check_value, dump_json, load_version, not_at, places
from .validate import file_header_issue, schema_issues, validator_for

MAX_CASES = 100000


@dataclass
class Case:
    doc: Document
    index: int
    data: dict
    version: Optional[str]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def location(self) -> Location:
        return self.doc.location(("cases", self.index))

    @property
    def id(self) -> str:
        return f"{self.doc.file}::{self.name}"


@dataclass
class CaseResult:
    case: Case
    policy_ref: str
    status: str                        # pass | fail | error
    diffs: list = field(default_factory=list)
    error: Optional[dict] = None
    fired: tuple = ()
    issues: tuple = ()                 # what the run ended in (an error), as issues

    @property
    def not_evaluated(self) -> bool:
        """An error that is no mistake of the case: a parameter its rules read has no value on its date (said once, said_once)."""
        return self.status == "error" and bool(self.issues) and all(isinstance(i, NoValue) for i in self.issues)

    def as_dict(self) -> dict:
        loc = self.case.location
        out = {"name": self.case.name, "file": file_name(loc.file), "line": loc.line, "policy": self.policy_ref, "status": self.status,
               "diffs": self.diffs, "articles": self.case.data.get("articles", [])}
        if self.error:
            out["error"] = self.error
        return out


def discover(directory: Path, problems: Optional[list] = None, set_aside: Optional[list] = None,
             checked_only: Optional[list] = None) -> list:
    """Every case in a version folder's TestCases files, in file order. Raises on malformed files; given
    `problems`, puts their issues there instead and keeps every case the schema has nothing against (a bad
    case, or a file that is bad as a whole, is set aside and the rest still run). Given `set_aside`, puts there the
    place (file, index) of each case set aside, for a count in the summary. Given `checked_only` (with `problems`),
    puts there each case set aside for its schema problems as read for checking (see _case_reading): never run,
    what check_cases says of it is said beside its schema problems (an impossible `as_of` hides no bad `expect`)."""
    source = load_version(Path(directory))
    issues = IssueCollector()
    issues.extend(source.test_issues)      # a test file that does not parse: its cases are lost, not the others
    for doc in source.documents:
        header = file_header_issue(doc) if doc.file in source.test_files else None
        if header is not None:             # (`kind: TestCase`): not read as test cases
            issues.extend([header])
    cases = []
    validator = validator_for("TestCases")
    for doc in source.of_kind("TestCases"):
        found = IssueCollector()
        paths = schema_issues(doc, validator, found)
        issues.extend(not_at(found.issues, places(source.test_issues)))   # at a value set aside: its echo
        # a file read despite a value-level problem (load.SOFT, said in test_issues): the case holding it is set aside,
        # never run with a value that YAML 1.1 and 1.2 read differently
        unread = {_case_of(i) for i in source.test_issues if i.location.file == doc.file}   # (never read for checking)
        paths += sorted(unread)
        bad: set = set()
        if paths:
            if problems is None or any(len(p) < 2 or p[0] != "cases" for p in paths):
                if set_aside is not None and isinstance(doc.data, dict) and isinstance(doc.data.get("cases"), list):
                    set_aside.extend((doc.file, i) for i in range(len(doc.data["cases"])))
                continue      # the file as a whole is wrong: none of its cases can be trusted
            bad = {p[1] for p in paths}
            if set_aside is not None:
                set_aside.extend((doc.file, i) for i in sorted(bad))
        pinned = doc.data.get("version")
        seen = {}
        for i, data in enumerate(doc.data["cases"]):
            if i in bad:
                reading = _case_reading(doc, i) if checked_only is not None and ("cases", i) not in unread else None
                if reading is not None:
                    checked_only.append(Case(reading, i, reading.data["cases"][i], reading.data["cases"][i].get("version", pinned)))
                continue
            if data["name"] in seen:
                issues.add("test.duplicate_name", f"two cases are named {data['name']!r}", doc.location(("cases", i, "name")),
                           "names identify cases in reports; make them unique")
            seen[data["name"]] = i
            cases.append(Case(doc, i, data, data.get("version", pinned)))
    if issues and problems is None:
        raise PolicyError(issues.issues)
    if problems is not None:
        problems.extend(issues.issues)
    return cases[:MAX_CASES]


def _case_reading(doc: Document, index: int) -> Optional[Document]:
    """Case `index` of a test file, which the schema refuses, as read for checking only (as validate reads a rule set
    aside): a misspelt key read as the one it is nearest to that the case lacks (`expct:` as `expect:`, said where it is
    written), then each key whose value the schema refuses left out, but `as_of` (check_cases reads no `as_of` that is
    no date: left out, it would be said missing), and with a bad `expect_error` the facts too (whether they should fit
    the facts schema is not known). The file with that case so read; None when its name or its version pin cannot be
    read: it is not checked."""
    data = doc.data["cases"][index]
    if not isinstance(data, dict):
        return None
    marks, keys = dict(doc.marks), dict(doc.keys)
    item = validator_for("TestCases").schema["properties"]["cases"]["items"]
    known = item["properties"]
    reading = {k: v for k, v in data.items() if k in known}
    for key, value in data.items():
        near = nearest(key, known) if key not in known else None
        if near is not None and near not in data and near not in reading:
            reading[near] = value
            here, there = ("cases", index, key), ("cases", index, near)
            for old, new in ((doc.marks, marks), (doc.keys, keys)):
                new.update({there + path[3:]: mark for path, mark in old.items() if path[:3] == here})
    wrong = {err.absolute_path[2] for err in validator_for("TestCases").iter_errors(
        {"apiVersion": "regcode/v1", "kind": "TestCases", "cases": [reading]}) if len(err.absolute_path) > 2}
    if wrong & {"name", "version"} or not isinstance(reading.get("name"), str):
        return None
    if "expect_error" in wrong:
        wrong.add("facts")
    cases = list(doc.data["cases"])
    cases[index] = {k: v for k, v in reading.items() if k not in wrong or k == "as_of"}
    return Document(doc.file, {**doc.data, "cases": cases}, marks, keys, doc.place)


def _case_of(issue: Issue) -> tuple:
    """("cases", i) for an issue said inside case i of a test file (its path `cases[i]...`), else ()."""
    path = issue.location.path or ""
    if path.startswith("cases[") and "]" in path and path[len("cases["):path.index("]")].isdigit():
        return ("cases", int(path[len("cases["):path.index("]")]))
    return ()


def _fits(decl, value) -> bool:
    """Whether a decision of this declaration can be `value` as a whole (null: left at its default)."""
    return value is None or value_fits(decl.type, decl.value_type, decl.values, value)


def _error_known(code: str) -> bool:
    """Whether a run can end in `code`, or in a code of that family (`input` for `input.schema`), as run_case matches."""
    return any(c == code or c.startswith(code + ".") for c in CASE_ERROR_CODES)


def pinned_version(cat: Catalog, policy: CompiledPolicy, case: Case):
    """The version a case pins with `version:`: the catalog's (a VersionInfo), else the folder beside this
    version in its policy folder (a Path); a SelectionError saying at the pin that there is none."""
    if case.version in {v.version for v in cat.versions(policy.id)}:
        return cat.choose(policy.id, "0000-00-00", case.version)
    folder = Path(os.path.abspath(policy.directory)).parent
    if case.version and VERSION_NAME.match(case.version) and (folder / case.version / "policy.yaml").is_file():
        return folder / case.version
    known = sorted({v.version for v in cat.versions(policy.id)} | {p.parent.name for p in folder.glob("*/policy.yaml")})
    where = case.doc.location(("cases", case.index, "version") if "version" in case.data else ("version",))
    raise SelectionError([Issue("test.version", f"case {case.name!r} is pinned to version `{case.version}`, which {policy.id} "
                                f"does not have; its versions: {', '.join(known)}", where,
                                did_you_mean(case.version, known)
                                or "pin one of them, or remove `version:` to run the case on this version")])


def check_cases(policy: CompiledPolicy, cases: list, cat: Optional[Catalog] = None) -> list:
    """What `validate` says of a version's own test cases before any runs: a pin naming no version (with `cat`),
    a date that is not one, an error code no run ends in, an expectation naming no decision, a value its
    decision cannot take, an article the policy does not have. Cases pinned to another version are that
    version's to check, but for their pin, date and error code."""
    issues = IssueCollector()
    pins = set()
    articles = [e["article"] for e in policy.articles] + [a["article"] for a in (policy.text or {}).get("articles", [])]
    numbered = sorted({a for a in articles if article_key(a)[0] == 0}, key=article_key)
    span = f"name an article of the policy, {numbered[0]} to {numbered[-1]}" if numbered else "name an article of the policy"
    for case in cases:
        if cat is not None and case.version not in (None, policy.version):
            try:
                pinned_version(cat, policy, case)
            except SelectionError as exc:
                if exc.issues[0].location not in pins:     # a file's pin is said once, not once per case
                    pins.add(exc.issues[0].location)
                    issues.extend(exc.issues)
        want = case.data.get("expect_error")
        if want is not None and not _error_known(want):
            families = sorted({c.split(".")[0] for c in CASE_ERROR_CODES})
            issues.add("test.expect_error", f"case {case.name!r} expects the error `{want}`, which no run of a case ends in; "
                       f"a run ends in one of {', '.join(CASE_ERROR_CODES)}", case.doc.location(("cases", case.index, "expect_error")),
                       did_you_mean(want, CASE_ERROR_CODES + tuple(families))
                       or f"name one of them, or a family ({', '.join(f'`{f}`' for f in families)})")
        facts = case.data.get("facts")
        if want is None and "as_of" not in case.data and isinstance(facts, dict):   # (the case's own as_of: its schema)
            if facts.get("as_of") is None:
                issues.add("test.as_of", f"case {case.name!r} has no as_of (in the case or its facts)", case.location,
                           "add `as_of: YYYY-MM-DD` to the case")
            elif not is_date(facts["as_of"]):
                issues.add("test.as_of", f"case {case.name!r}: as_of {facts['as_of']!r} is not a date: "
                           f"{date_problem(facts['as_of'])}", case.doc.location(("cases", case.index, "facts", "as_of")),
                           "write a real calendar day as YYYY-MM-DD")
        if case.version not in (None, policy.version):
            continue
        outside = _outside(policy, case, want)
        if outside is not None:
            issues.add("test.as_of", outside[0], outside[1], "date the case inside the window, pin it to the version in force "
                       "then (`version:`), or expect `select.no_version_in_force`")
        if isinstance(facts, dict) and not (want and any(c == want or c.startswith(want + ".") for c in _FACTS_ERRORS)):
            try:            # (a case expecting the facts schema's refusal has facts it refuses)
                check_facts(policy, facts_document(case))
            except PolicyError as exc:
                said = {_place(i.location) for i in issues.issues}    # (a facts' as_of that is no date: test.as_of above)
                for issue in exc.issues:
                    if _place(issue.location) not in said:
                        issues.add("test.facts", f"case {case.name!r}: {issue.message}", _in_case(case, issue.location), issue.hint)
        for j, article in enumerate(case.data.get("articles") or []):
            if articles and article not in articles:
                issues.add("test.article", f"case {case.name!r} names {article}, which {policy.ref} has neither in its article "
                           "index nor in its text", case.doc.location(("cases", case.index, "articles", j)),
                           near_article(article, articles) or span)
        for name, expected in (case.data.get("expect") or {}).items():
            where = case.doc.location(("cases", case.index, "expect", name))
            decl = policy.decisions.get(name)
            gone = (getattr(policy, "removed", None) or {}).get(("decision", name))
            if decl is None and ("decision", name) in getattr(policy, "set_aside", ()):
                continue    # declared, and set aside for its own mistake, which is said where it is written
            if decl is None and gone is not None:    # said as a rule that uses it is: where it went, no guess
                issues.add("test.unknown_decision", f"case {case.name!r} expects a decision `{name}` that {policy.ref} does not "
                           f"declare: it removes it ({gone})", where, "drop it from the case's `expect:`, or keep the decision")
            elif decl is None:
                issues.add("test.unknown_decision", f"case {case.name!r} expects a decision `{name}` that {policy.ref} does not "
                           "declare", where, did_you_mean(name, list(policy.decisions) + [n for w, n in getattr(policy, "set_aside", ()) if w == "decision"])
                           or "name a decision of the version")
            elif not _fits(decl, expected):
                allowed = takes(decl.type, decl.value_type, decl.values)
                issues.add("test.value", f"case {case.name!r} expects `{name}` to be {dump_json(expected)}: it takes {allowed}",
                           where, _nearest_member(decl, expected) or f"write {allowed}")
    return issues.issues


def _nearest_member(decl, expected) -> str:
    """A did-you-mean for the first member of an expected value that its decision does not take: the value itself,
    an entry of a mapping (a map decision), a code of a list; none for a value of the wrong shape as a whole (an
    entry's value for a whole map is no misspelling of it)."""
    if decl.type == "map":
        members, typ = (list(expected.values()) if isinstance(expected, dict) else []), decl.value_type
    elif decl.type == "list":
        members, typ = (expected if isinstance(expected, list) else []), "list"
    else:
        members, typ = [expected], decl.type
    wrong = [v for v in members if v is not None and not member_fits(typ, decl.values, v)]
    return did_you_mean(str(wrong[0]), map(str, decl.values or [])) if wrong else ""


def _in_case(case: Case, loc: Location) -> Location:
    """A location in a case's facts (checked as a case file of their own, see facts_document), its path the case's too:
    `applicant.name` is `cases[3].facts.applicant.name` of the test file."""
    inner = "" if loc.path in ("", "$") else loc.path if loc.path.startswith("[") else "." + loc.path
    return Location(loc.file, loc.line, loc.column, f"cases[{case.index}].facts{inner}")


def _outside(policy, case: Case, want) -> Optional[tuple]:
    """(message, location) for a case run on this version dated outside its window, which `run_case` would end in
    select.no_version_in_force: unless it expects that. None when it is inside, or its date is none (said apart)."""
    facts = case.data.get("facts")
    as_of = case.data.get("as_of") or (facts.get("as_of") if isinstance(facts, dict) else None)
    manifest = getattr(policy, "manifest", None) or {}
    start, end = manifest.get("effective_from"), manifest.get("effective_to")
    if not is_date(as_of) or not is_date(start) or end is not None and not is_date(end):
        return None
    if start <= as_of and (end is None or as_of <= end) or want in ("select", "select.no_version_in_force"):
        return None
    where = ("cases", case.index, "as_of") if case.data.get("as_of") else ("cases", case.index, "facts", "as_of")
    return (f"case {case.name!r} is dated {as_of}, when {policy.ref} is not in force ({start} .. {end or 'open'}): "
            f"it {'takes effect on ' + start if as_of < start else 'ended on ' + end}", case.doc.location(where))


MAX_SAID = 10     # of a run's problems, the ones its error message lists (all are in `codes`)


def _said(issues: list) -> str:
    """A failed run's problems, one a line (the first MAX_SAID, then how many more)."""
    lines = [str(i) for i in issues[:MAX_SAID]]
    if len(issues) > MAX_SAID:
        lines.append(f"... and {len(issues) - MAX_SAID} more")
    return "\n".join(lines)


def _place(loc: Location) -> tuple:
    return loc.file, loc.line, loc.column


_FACTS_ERRORS = ("input.schema",) + CHECKED_VALUE_CODES    # what a run of a case whose facts are refused ends in


def facts_document(case: Case) -> Document:
    """A case's facts as a case file of their own, placed where they are written in the test file."""
    prefix = ("cases", case.index, "facts")
    return Document(case.doc.file, case.data["facts"], {k[3:]: v for k, v in case.doc.marks.items() if k[:3] == prefix},
                    {k[3:]: v for k, v in case.doc.keys.items() if k[:3] == prefix})


def check_facts(policy: CompiledPolicy, doc: Document) -> None:
    """A case's facts checked as eval checks a case file: what it refuses in any case file that a policy file may
    hold (a control character in a text), then the facts schema. Raises InputError."""
    refused = check_value(doc.data, doc.file, marks=doc.marks, keys=doc.keys)
    if refused:
        raise InputError(refused)
    check_case(policy, doc)


def _same(decl, expected, actual) -> bool:
    if decl is not None and decl.type == "list" and isinstance(expected, list) and isinstance(actual, list):
        return sorted(map(str, expected)) == sorted(map(str, actual))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def run_case(cat: Catalog, policy: CompiledPolicy, case: Case, backend: str = DEFAULT_BACKEND, force: bool = False) -> CaseResult:
    """Evaluate one case with `policy` and compare. Without `force`, the case's date must be in the policy's window."""
    data = case.data
    doc = facts_document(case)
    try:
        as_of = data.get("as_of") or data["facts"].get("as_of")
        if not as_of:
            raise PolicyError([Issue("input.as_of", "the case has no as_of (in the case or its facts)", case.location,
                                     "add as_of: YYYY-MM-DD")])
        if not force and not policy.in_force(as_of):
            raise PolicyError([Issue("select.no_version_in_force", f"{policy.ref} is not in force on {as_of} ({policy.window()})",
                                     case.location, "")])
        check_facts(policy, doc)
        result = to_dict(evaluate(policy, data["facts"], as_of, backend=backend, checked=True))
    except PolicyError as exc:
        codes = [i.code for i in exc.issues]
        want = data.get("expect_error")
        err = {"codes": codes, "message": _said(exc.issues)}
        if want and any(c == want or c.startswith(want + ".") for c in codes):
            return CaseResult(case, policy.ref, "pass", error=err)
        if all(isinstance(i, NoValue) for i in exc.issues):    # not evaluated: the expectation, whatever it is, is untested
            return CaseResult(case, policy.ref, "error", error=err, issues=tuple(exc.issues))
        return CaseResult(case, policy.ref, "fail" if want else "error",
                          diffs=[{"decision": "(error)", "expected": want, "actual": codes}] if want else [], error=err,
                          issues=tuple(exc.issues))
    fired = set()
    for entries in result["why"].values():
        fired.update(e["rule"] for e in entries)
    for d in result["derived"]:
        fired.update(x["rule"] for x in d["derived_by"])
    if "expect_error" in data:
        return CaseResult(case, policy.ref, "fail", diffs=[{"decision": "(error)", "expected": data["expect_error"],
                                                             "actual": "no error"}], fired=tuple(sorted(fired)))
    diffs = []
    for name, expected in sorted(data["expect"].items()):
        if name not in result["decisions"]:
            gone = (getattr(policy, "removed", None) or {}).get(("decision", name))
            hint = f"{policy.ref} removes it ({gone})" if gone is not None else did_you_mean(name, result["decisions"])
            diffs.append({"decision": name, "expected": expected, "actual": f"(no such decision{'; ' + hint if hint else ''})"})
            continue
        actual = result["decisions"][name]
        if not _same(policy.decisions.get(name), expected, actual):
            diffs.append({"decision": name, "expected": expected, "actual": actual,
                          "why": [e["rule"] for e in result["why"].get(name, []) if e["decisive"]]})
    return CaseResult(case, policy.ref, "fail" if diffs else "pass", diffs, fired=tuple(sorted(fired)))


def target_for(cat: Catalog, policy: CompiledPolicy, case: Case, against: Optional[CompiledPolicy] = None) -> tuple:
    """(the version a case runs against, whether its window is ignored): `against` when regression
    testing (it wins over any pin), else the version the case (or its file) pins with `version:`,
    else `policy` itself, inside its window. A case that expects a selection error (`select.no_version_in_force`)
    tests the window of the version it was written for, not the rules: it is judged as its own run judges it,
    whatever `against` is (against_exempt)."""
    if against is not None and not against_exempt(case):
        return against, True
    if case.version and case.version != policy.version:
        pinned = pinned_version(cat, policy, case)
        return (cat.compile_dir(pinned) if isinstance(pinned, Path) else cat.compiled(pinned)), True
    return policy, False


def against_exempt(case: Case) -> bool:
    """Whether a case expects a selection error (the `select` family): `test --against` runs it as its own run does."""
    want = case.data.get("expect_error")
    return isinstance(want, str) and (want == "select" or want.startswith("select."))


def tested(cat: Catalog, policy: CompiledPolicy, backend: str = DEFAULT_BACKEND,
           against: Optional[CompiledPolicy] = None) -> tuple:
    """(results, counted, problems, set_aside) of a version's own cases, read and run as `regcode test` reads and runs
    them: the problems said of them, the cases set aside, every result, and `counted` (case id -> the rules it fired)
    of the cases that test their rules: those that pass with nothing said at them. What `test`, `coverage` and the site
    count. With `against` (test and coverage --against) the cases run on that version instead (target_for): the
    rules they fire are its rules, and what validate says of the cases for their own version is not said (a
    regression run asks whether they still hold, not whether they fit). A case run on its own version even so (one
    expecting a selection error: against_exempt) fires none of `against`'s rules."""
    problems, set_aside, aside = [], [], []
    cases = discover(Path(policy.directory), problems, set_aside, aside)
    if against is None:
        problems.extend(check_cases(policy, cases + aside, cat))
    results = run_version(cat, policy, against, backend, cases)
    spoilt = {(i.location.file, _case_of(i)[1]) for i in problems if _case_of(i)}
    counted = {r.case.id: r.fired if against is None or r.policy_ref == against.ref else ()
               for r in results if r.status == "pass" and (r.case.doc.file, r.case.index) not in spoilt}
    return results, counted, problems, set_aside


def run_version(cat: Catalog, policy: CompiledPolicy, against: Optional[CompiledPolicy] = None,
                backend: str = DEFAULT_BACKEND, cases: Optional[list] = None) -> list:
    """Run a version's own cases, or those given (each against the version `target_for` names). A case whose
    pinned version cannot be had is that case's error, at its pin; the others still run."""
    results = []
    for case in discover(Path(policy.directory)) if cases is None else cases:
        try:
            target, force = target_for(cat, policy, case, against)
        except PolicyError as exc:
            results.append(CaseResult(case, f"{policy.id}@{case.version}", "error",
                                      error={"codes": [i.code for i in exc.issues], "message": _said(exc.issues)}))
            continue
        results.append(run_case(cat, target, case, backend, force=force))
    return results


def said_once(results: list) -> list:
    """One problem per parameter that stopped cases (CaseResult.not_evaluated), at the parameter, naming how many cases
    and their dates, where each run said it again with its own date: a version whose new parameter starts after the
    cases' dates (`test --against`) is one thing to fix or to know, not one error per case."""
    stopped: dict = {}
    for r in results:
        if r.not_evaluated:
            for i in r.issues:
                dates = stopped.setdefault((r.policy_ref, i.parameter, i.first, i.rules, i.location), [])
                dates.append(r.case.data.get("as_of") or r.case.data["facts"]["as_of"])
    out = []
    for (ref, name, first, rules, where), dates in stopped.items():
        span = min(dates) if min(dates) == max(dates) else f"{min(dates)} .. {max(dates)}"
        n = len(dates)
        out.append(Issue("eval.parameter", f"{no_value_words(ref, name, first, rules)}: {n} {'case' if n == 1 else 'cases'} dated "
                         f"before it ({span}) could not be evaluated with {ref}", where,
                         f"give `{name}` a value dated on or before {min(dates)} in its `values` if {ref} is to decide those "
                         f"dates; else those cases are outside what {ref} can be compared on"))
    return out


# What XML 1.0 cannot hold, not even as a character reference: the C0 controls but tab, line feed and carriage return,
# lone surrogates, U+FFFE and U+FFFF. ElementTree writes them as they are, and the report is not XML any more.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """`text` with what XML cannot hold written as an escape (\\x07), as one_line writes it."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def junit_xml(results: list, suite: str) -> str:
    """The JUnit XML report of `results`. Names, files and messages are one line each, their control characters
    written as escapes (one_line), as `regcode test` prints them; the failure's JSON keeps only what XML can hold."""
    failures = sum(r.status == "fail" for r in results)
    errors = sum(r.status == "error" for r in results)
    root = ET.Element("testsuite", name=one_line(suite), tests=str(len(results)), failures=str(failures), errors=str(errors))
    for r in results:
        tc = ET.SubElement(root, "testcase", classname=one_line(f"{r.policy_ref}.{Path(r.case.doc.file).name}"),
                           name=one_line(r.case.name), file=one_line(r.case.doc.file), line=str(r.case.location.line))
        if r.status != "pass":
            node = ET.SubElement(tc, "failure" if r.status == "fail" else "error",
                                 message=one_line(f"{len(r.diffs)} decision(s) differ" if r.diffs else (r.error or {}).get("message", "")))
            node.text = _xml_text(dump_json(r.diffs or r.error))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
