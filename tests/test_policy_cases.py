"""Every TestCases YAML file of every policy (shipped and test-only) runs as pytest cases, one per case."""
from __future__ import annotations

from pathlib import Path

import pytest

from regcode.engine import Catalog, shipped_root
from regcode.engine.load import dump_json
from regcode.engine.testing import discover, run_case

from conftest import TEST_POLICIES, needs_durable

ROOTS = [TEST_POLICIES, shipped_root()]


def _collect():
    params = []
    for root in ROOTS:
        for manifest in sorted(root.glob("*/*/policy.yaml")):
            for case in discover(manifest.parent):
                params.append(pytest.param(root, manifest.parent, case, id=f"{manifest.parent.parent.name}@{manifest.parent.name}/"
                                           f"{Path(case.doc.file).name}::{case.name}"))
    return params


CASES = _collect()
_catalogs: dict = {}


def test_cases_were_collected():
    assert sum("shanghai-post-license" in str(p.values[1]) for p in CASES) >= 100
    assert any("toy" in str(p.values[1]) for p in CASES)


@pytest.mark.parametrize("root,directory,case", CASES)
@pytest.mark.parametrize("backend", [pytest.param("durable", marks=needs_durable), "python"])
def test_policy_case(root, directory, case, backend):
    cat = _catalogs.setdefault(str(root), Catalog([root]))
    policy = cat.compile_dir(directory) if str(directory) not in _catalogs else _catalogs[str(directory)]
    _catalogs[str(directory)] = policy
    result = run_case(cat, policy, case, backend)
    assert result.status == "pass", (
        f"{case.location}: case {case.name!r} {result.status}: "
        + "; ".join(f"{d['decision']}: expected {dump_json(d['expected'])}, got {dump_json(d['actual'])}" for d in result.diffs)
        + (f" error: {result.error['message']}" if result.error and not result.diffs else ""))
