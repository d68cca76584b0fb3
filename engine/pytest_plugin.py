"""A pytest plugin (entry point `pytest11`): a policy's TestCases files are collected by path, one item per case and backend."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import pytest

from . import _durable
from .catalog import Catalog
from .errors import PolicyError
from .evaluate import BACKENDS
from .load import dump_json
from .testing import discover, run_case, target_for

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
    """One version folder, loaded once a session: its catalog, compiled policy and cases (or why not)."""

    def __init__(self, folder: Path):
        self.catalog = Catalog([folder.parent.parent])
        self.policy = self.cases = self.error = None
        try:
            self.policy = self.catalog.compile_dir(folder)
            self.cases = discover(folder)
        except PolicyError as exc:
            self.error = exc


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
        chosen = self.config.getoption("regcode_backend")
        backends = chosen or list(BACKENDS)
        mine = self.path.resolve()
        for case in version.cases:
            if Path(case.doc.file).resolve() != mine:
                continue
            for backend in backends:
                item = CaseItem.from_parent(self, name=f"{case.name}[{backend}]", case=case, backend=backend)
                if not chosen and backend == "durable" and not _durable.available():
                    # the optional extra regcode[durable]; asked for by name, its absence is an error instead
                    item.add_marker(pytest.mark.skip(reason="durable-rules is not installed (regcode[durable])"))
                yield item


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
        lines.append(f"  {result.error['message']}")
    return "\n".join(lines)


def _show(value) -> str:
    return value if isinstance(value, str) and value.startswith("(") else dump_json(value)
