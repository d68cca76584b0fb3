"""Helpers for the service tests: an app with its workers running, behind the framework's TestClient."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from fastapi.testclient import TestClient

from regcode.service.app import ServeConfig, create_app

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "examples" / "cases"
YAML = {"Content-Type": "application/yaml"}
JSONL = {"Content-Type": "application/x-ndjson"}


class Documented:
    """The app, with every answer of one of its routes kept, to be checked against the document the app served
    then (/openapi.json): its status declared for the route and method, its body valid for the schema declared, and
    its Vary naming Accept exactly where the operation negotiates (declares a 406)."""

    def __init__(self, app):
        self.app = app
        self.answers: list = []     # (document, path template, method, status, content type, body)

    def __getattr__(self, name):    # client.app.state ... reads the app's own
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen: dict = {"body": b""}

        async def sending(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = dict(message.get("headers", []))
                seen["type"] = headers.get(b"content-type", b"").decode().split(";")[0]
                seen["allow"] = headers.get(b"allow", b"").decode()
                seen["vary"] = b", ".join(v for k, v in message.get("headers", []) if k.lower() == b"vary").decode()
            elif message["type"] == "http.response.body":
                seen["body"] += message.get("body", b"")
            await send(message)
        await self.app(scope, receive, sending)
        route = scope.get("route")
        if route is not None and getattr(route, "include_in_schema", False) and "status" in seen:
            self.answers.append((self.app.openapi(), route.path, scope["method"].lower(), seen["status"], seen["type"],
                                 seen["body"], seen["allow"], seen["vary"]))

    def check(self) -> None:
        for answer in self.answers:
            check_answer(*answer)


def check_answer(spec: dict, path: str, method: str, status: int, media: str, body: bytes, allow: str = "",
                 vary: Optional[str] = None) -> None:
    """The answer is one the document declares: its status for the route and method, and its body (when it has
    one) valid for the schema given for that status and media type. A 405 (a method the path does not serve,
    so not in the document) is checked against the path's operations: each declares it, and `Allow` lists them.
    `vary` (the answer's Vary header, when the route answered it): names Accept if and only if the operation
    negotiates, which it says by declaring a 406 and the Vary header of the status (RFC 9110 12.5.5)."""
    import json

    import jsonschema

    ops = spec["paths"].get(path, {})
    op = ops.get(method)
    if op is None and status == 405 and ops:
        assert sorted(m.strip().lower() for m in allow.split(",")) == sorted(ops), (path, method, allow, sorted(ops))
        method, op = next(iter(ops.items()))
    assert op is not None, f"{method.upper()} {path} is served but not in the document"
    response = op["responses"].get(str(status))
    assert response is not None, f"{method.upper()} {path} answered {status}, which the document does not declare: {body[:300]!r}"
    if vary is not None and status != 405:
        negotiated = "406" in op["responses"]
        assert ("accept" in {t.strip().lower() for t in vary.split(",")}) == negotiated, (method, path, status, vary)
        assert ("Vary" in (response.get("headers") or {})) == negotiated, (method, path, status)
    if not body or method == "head":
        return
    content = response.get("content") or {}
    assert media in content, f"{method.upper()} {path} {status} answered {media}; the document says {sorted(content)}"
    schema = content[media].get("schema")
    if media.endswith("json"):
        assert schema and "$ref" in schema, (path, method, status, media, schema)   # a schema, not the framework's {}
        jsonschema.Draft202012Validator({**schema, "components": spec["components"]}).validate(json.loads(body))


@contextmanager
def serving(**settings):
    """A TestClient on a fresh app (workers forked at startup, stopped on exit). settings: ServeConfig fields.
    Every answer of a route is checked against the app's own document when the client is done (Documented)."""
    settings.setdefault("workers", 2)
    app = Documented(create_app(ServeConfig(**settings)))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.check()


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
