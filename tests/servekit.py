"""Helpers for the service tests: an app with its workers running, behind the framework's TestClient."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from regcode.service.app import ServeConfig, create_app

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "examples" / "cases"
YAML = {"Content-Type": "application/yaml"}
JSONL = {"Content-Type": "application/x-ndjson"}


@contextmanager
def serving(**settings):
    """A TestClient on a fresh app (workers forked at startup, stopped on exit). settings: ServeConfig fields."""
    settings.setdefault("workers", 2)
    app = create_app(ServeConfig(**settings))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def without_decision_id(text: str) -> str:
    """The pretty body less its `decision_id` line: what `regcode eval --format json` prints for the same case."""
    lines = text.split("\n")
    kept = [line for line in lines if not line.startswith('  "decision_id": ')]
    assert len(kept) == len(lines) - 1, "exactly one decision_id line"
    return "\n".join(kept)


ONE_PARAMETER_POLICY = """apiVersion: regcode/v1
kind: Policy
id: shanghai-post-license
version: 2017-b
title: a one-parameter change, for the tests
source: {number: none (test), issuer: regcode tests, date: 2017-05-01}
effective_from: 2017-05-01
effective_to: 2022-04-30
extends: shanghai-post-license@2017
"""
ONE_PARAMETER = """apiVersion: regcode/v1
kind: Parameters
parameters:
  credit_sampling_ratio:
    title: 信用监管方式（AA类）每年检查的最低比例 (changed for the test)
    article: 第三十条
    clause: 第一项第2目
    unit: share of the district's enterprises in this mode, per year
    value: {ratio}
"""


def one_parameter_version(root: Path, ratio: float) -> Path:
    """A version 2017-b under `root` that extends the shipped 2017 and changes one parameter (the credit-mode
    sampling share). Same window, later name: it is the version in force wherever 2017 was."""
    folder = root / "shanghai-post-license" / "2017-b"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(ONE_PARAMETER_POLICY, encoding="utf-8")
    (folder / "parameters.yaml").write_text(ONE_PARAMETER.format(ratio=ratio), encoding="utf-8")
    return folder
