"""A pytest plugin (entry point `pytest11`): a policy's TestCases files are collected by path, one item per case and backend."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import pytest

from . import _durable
from .catalog import Catalog
from .errors import IssueCollector, PolicyError, by_place
from .evaluate import BACKENDS
from .load import dump_json, read_document
from .testing import check_cases, discover, run_case, target_for

_TEST_CASES = re.compile(r"^kind:\s*['\"]?TestCases['\"]?\s*(#.*)?$", re.M)
MAX_FOLDER_DEPTH = 8      # how far above a cases file its version folder (policy.yaml) may be
_STATE = pytest.StashKey[dict]()


def pytest_addoption(parser):
    group = parser.getgroup("regcode", "regcode policy test cases")
    group.addoption("--regcode-backend", action="append", choices=list(BACKENDS), default=None, metavar="NAME",
                    help=f"evaluate policy cases on this backend (repeat for several; default: {', '.join(BACKENDS)}, "
                         "durable skipped where durable-rules is not installed)")


def pytest_configure(config):
    config.stash[_STATE] = {}
    config.addinivalue_line("markers", "regcode_case: a policy test case collected from a TestCases YAML file")


def version_folder(path: Path) -> Optional[Path]:
    """The policy version folder (the nearest one with a policy.yaml) that a cases file belongs to."""
    for parent in list(path.parents)[:MAX_FOLDER_DEPTH]:
        if (parent / "policy.yaml").is_file():
            return parent
    return None


def pytest_collect_file(file_path: Path, parent):
    """A YAML file that says `kind: TestCases` and lies in a policy version folder."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    try:
        head = file_path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return None
    if not _TEST_CASES.search(head):
        return None
    folder = version_folder(file_path)
    if folder is None:
        return None
    return CasesFile.from_parent(parent, path=file_path, folder=folder)


class _Version:
    """One version folder, loaded once a session: its catalog, compiled policy and cases (or why not), and
    the problems of its cases files: a malformed case is set aside, as `regcode test` does, and the rest run;
    what `regcode test` says of the cases before they run (check_cases: a misspelt expectation, a value its
    decision cannot take, facts the facts schema refuses) is said too, of the set-aside ones as read."""

    def __init__(self, folder: Path):
        self.catalog = Catalog([folder.parent.parent])
        self.policy = self.cases = self.error = None
        self.problems: list = []
        try:
            self.policy = self.catalog.compile_dir(folder)
            aside: list = []
            self.cases = discover(folder, self.problems, checked_only=aside)
            self.problems = by_place(self.problems + check_cases(self.policy, self.cases + aside, self.catalog))
        except PolicyError as exc:
            self.error = exc

    def problems_of(self, path: Path) -> list:
        return [i for i in self.problems if i.location.file and Path(i.location.file).resolve() == path]


_CASE_PLACE = re.compile(r"^cases\[(\d+)\]")


def _case_index(issue) -> Optional[int]:
    """The index of the case an issue is about (its path is `cases[3]...`), None for one about the file."""
    found = _CASE_PLACE.match(issue.location.path or "")
    return int(found.group(1)) if found else None


class CasesFile(pytest.File):
    def __init__(self, *, folder: Path, **kw):
        super().__init__(**kw)
        self.folder = folder

    def version(self) -> _Version:
        cache = self.config.stash[_STATE]
        key = str(self.folder.resolve())
        if key not in cache:
            cache[key] = _Version(self.folder)
        return cache[key]

    def collect(self):
        version = self.version()
        if version.error is not None:
            raise self.CollectError("\n".join(str(i) for i in version.error.issues))
        mine = self.path.resolve()
        problems = version.problems_of(mine)
        if any(_case_index(i) is None for i in problems):   # the file as a whole is wrong: none of its cases is read
            raise self.CollectError("\n".join(str(i) for i in problems))
        by_case: dict = {}
        for issue in problems:
            by_case.setdefault(_case_index(issue), []).append(issue)
        ours = [case for case in version.cases if Path(case.doc.file).resolve() == mine]
        good = {case.index: case for case in ours}
        names = self._case_names() if set(by_case) - set(good) else {}
        for index in sorted(set(good) | set(by_case)):
            if index in by_case:    # said at its place, as a failing item (a duplicate name, a misspelt expectation:
                # beside its case, which runs)
                name = good[index].name if index in good else names.get(index) or f"cases[{index}]"
                yield CaseProblem.from_parent(self, name=f"{name}[{'problem' if index in good else 'set aside'}]",
                                              issues=by_case[index], line=by_case[index][0].location.line)
            if index in good:
                yield from self._items(good[index])

    def _case_names(self) -> dict:
        """index -> name of the cases as written (a case set aside is named by its `name:` where it has one)."""
        doc = read_document(self.path, str(self.path), IssueCollector())
        cases = doc.data.get("cases") if doc is not None and isinstance(doc.data, dict) else None
        return {i: c["name"] for i, c in enumerate(cases if isinstance(cases, list) else [])
                if isinstance(c, dict) and isinstance(c.get("name"), str) and c["name"]}

    def _items(self, case):
        chosen = self.config.getoption("regcode_backend")
        backends = chosen or list(BACKENDS)
        for backend in backends:
            item = CaseItem.from_parent(self, name=f"{case.name}[{backend}]", case=case, backend=backend)
            if not chosen and backend == "durable" and not _durable.available():
                # the optional extra regcode[durable]; asked for by name, its absence is an error instead
                item.add_marker(pytest.mark.skip(reason="durable-rules is not installed (regcode[durable])"))
            yield item


class CaseSetAside(Exception):
    """A case the TestCases schema refuses (a misspelt key): it is not run, and its problems are said."""


class CaseProblem(pytest.Item):
    """A malformed case, at its place: it fails with the problems that set it aside (file:line:col: code: message)."""

    def __init__(self, *, issues: list, line: int, **kw):
        super().__init__(**kw)
        self.issues = issues
        self.line = line
        self.add_marker(pytest.mark.regcode_case)

    def runtest(self):
        raise CaseSetAside(self.name)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CaseSetAside):
            return "\n".join(str(i) for i in self.issues)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, max(self.line - 1, 0), f"case {self.name!r}"


class CaseFailed(Exception):
    """A case whose decisions differ (or that errs): carries the result to report."""

    def __init__(self, result):
        super().__init__(result.case.name)
        self.result = result


class CaseItem(pytest.Item):
    def __init__(self, *, case, backend: str, **kw):
        super().__init__(**kw)
        self.case = case
        self.backend = backend
        self.add_marker(pytest.mark.regcode_case)

    def runtest(self):
        version = self.parent.version()
        target, force = target_for(version.catalog, version.policy, self.case)
        result = run_case(version.catalog, target, self.case, self.backend, force=force)
        if result.status != "pass":
            raise CaseFailed(result)

    def repr_failure(self, excinfo, style=None):
        """The case's place, name and decisions, expected against actual, with the rules that decided: no Python."""
        if isinstance(excinfo.value, CaseFailed):
            return failure_text(excinfo.value.result, self.backend)
        if isinstance(excinfo.value, PolicyError):
            return "\n".join(str(i) for i in excinfo.value.issues)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, self.case.location.line - 1, f"case {self.case.name!r} [{self.backend}]"


def failure_text(result, backend: str) -> str:
    loc = result.case.location
    lines = [f"{loc.file}:{loc.line}: case {result.case.name!r} {'failed' if result.status == 'fail' else 'could not run'} "
             f"on {result.policy_ref} ({backend} backend)"]
    if result.diffs:
        rows = [("decision", "expected", "actual", "decided by")]
        for d in result.diffs:
            rows.append((d["decision"], _show(d["expected"]), _show(d["actual"]), ", ".join(d.get("why") or []) or "—"))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            lines.append("  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3])
    if result.error and (result.status == "error" or not result.diffs):
        lines.extend(f"  {line}" for line in result.error['message'].splitlines())
    return "\n".join(lines)


def _show(value) -> str:
    return value if isinstance(value, str) and value.startswith("(") else dump_json(value)
