"""A property-based fuzz of the service from its own /openapi.json, bounded in count and time: requests that
schemathesis generates from the document (valid ones, invalid ones, and the document's own examples) must never
get a 5xx, nor a traceback in any body, and every refusal is a problem response.

schemathesis' pytest plugin does not run on pytest 9, so its strategies drive hypothesis directly."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from regcode.service.app import ServeConfig, create_app

MAX_EXAMPLES = 100       # per route and mode (about 40 s in all on 2 cores)
DEADLINE_MS = 10000      # per example; the service's own limit (timeout below) is far under it


@pytest.fixture(scope="module")
def api_schema():
    app = create_app(ServeConfig(workers=1, timeout=5.0, max_batch=20, max_body_bytes=1 << 20))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    yield schema
    schemathesis.python.asgi.shutdown_lifespans()


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in found} >= {
        "POST /v1/evaluate", "POST /v1/evaluate/batch", "GET /v1/policies", "GET /v1/policies/{policy_id}/{version}",
        "GET /health", "GET /metrics"}
    return found


def check(case) -> None:
    response = case.call()
    where = f"{case.method} {case.formatted_path} {case.query or ''}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
    assert "Traceback" not in response.text and 'File "' not in response.text, where
    if response.status_code >= 400:
        media = response.headers.get("content-type") or response.headers.get("Content-Type")
        assert (media[0] if isinstance(media, list) else media) == "application/problem+json", where
        if case.method.upper() == "HEAD":   # the status and headers of the GET, without its body
            assert not response.content, where
            return
        problem = response.json()
        assert problem["status"] == response.status_code and problem["errors"], where


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_generated_request_gets_a_5xx_or_a_traceback(api_schema, mode):
    fuzzed = set()
    for op in operations(api_schema):
        @settings(max_examples=MAX_EXAMPLES, deadline=DEADLINE_MS, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode))
        def fuzz(case):
            check(case)
        try:
            fuzz()
        except Unsatisfiable:
            # nothing to make invalid: no parameters (/health), or only free-text ones (a path's policy id)
            assert mode is GenerationMode.NEGATIVE, op.label
            continue
        fuzzed.add(op.label)
    assert {"POST /v1/evaluate", "POST /v1/evaluate/batch"} <= fuzzed


def test_the_documents_own_examples_are_evaluated(api_schema):
    evaluated = 0
    for op in operations(api_schema):
        for strategy in api_schema.get_strategies_from_examples(op):
            @settings(max_examples=5, deadline=DEADLINE_MS, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def example(case):
                check(case)
            example()
            evaluated += op.path.startswith("/v1/evaluate")
    assert evaluated >= 2     # the case files the document shows really exist for both evaluation routes
