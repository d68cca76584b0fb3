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
