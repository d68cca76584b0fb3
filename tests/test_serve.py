"""The decision service through the framework's TestClient: every endpoint, problems, CLI equality, concurrency, the log."""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import threading
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, Document, dump_json, evaluate_case

from conftest import FIXTURES, generator
from servekit import CASES, JSONL, YAML, serving, without_decision_id

PROBLEMS = yaml.safe_load((FIXTURES / "serve" / "problems.yaml").read_text(encoding="utf-8"))["cases"]
EXAMPLES = sorted(CASES.glob("*.yaml"))


def cli(*args):
    return CliRunner().invoke(regcode, list(args))


@pytest.fixture(scope="module")
def log_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve") / "decisions.log"


@pytest.fixture(scope="module")
def client(log_path):
    with serving(decision_log=str(log_path)) as c:
        yield c


def log_lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- problems ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", PROBLEMS, ids=[c["name"] for c in PROBLEMS])
def test_bad_requests_get_a_problem_response_with_the_cli_codes(client, case):
    body = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case.get("body", "").encode("utf-8")
    query = case.get("query")     # a mapping, or a list of [name, value] pairs (a name given twice)
    query = [tuple(pair) for pair in query] if isinstance(query, list) else query
    path = case["path"] + (f"?{case['raw_query']}" if "raw_query" in case else "")   # as sent: percent escapes kept
    headers = {"Content-Type": case.get("content_type", "application/json"), **case.get("headers", {})}
    response = client.request(case.get("method", "POST"), path, params=query, content=body, headers=headers)
    expect = case["expect"]
    assert response.status_code == expect["status"], response.text
    assert "Traceback" not in response.text
    if expect["status"] == 200:
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == expect["status"] and problem["title"] and problem["type"].endswith(expect["code"])
    first = problem["errors"][0]
    assert first["code"] == expect["code"]
    assert set(first) == {"code", "message", "hint", "location"}
    if "line" in expect:
        assert first["location"]["line"] == expect["line"]
    if "column" in expect:
        assert first["location"]["column"] == expect["column"], first
    if "message" in expect:
        assert expect["message"] in first["message"]
    if "hint" in expect:
        assert expect["hint"] in first["hint"]
    if "path" in expect:
        assert first["location"]["path"] == expect["path"]
    for name, value in expect.get("headers", {}).items():
        assert response.headers.get(name) == value, name
    assert not re.search(r"--(as-of|policy-version|policy)(?![\w-])", first["hint"])   # HTTP has query parameters, not options
    assert "<input>" not in problem["detail"]
    assert problem["detail"].splitlines()[0].endswith(f"{first['code']}: {first['message']}" + (f" ({first['hint']})" if first["hint"] else ""))


def test_two_content_type_headers_are_a_400_naming_the_header_not_the_first_taken(client):
    for path, body in (("/v1/evaluate", b'{"as_of": "2019-06-30"}'), ("/v1/evaluate/batch", b"[]")):
        response = client.post(path, content=body, headers=[("Content-Type", "application/json"), ("Content-Type", "application/yaml")])
        assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
        issue = response.json()["errors"][0]
        assert issue["code"] == "request.header" and issue["location"]["path"] == "header.content-type"
        assert "given 2 times" in issue["message"] and "'application/yaml'" in issue["message"]


@pytest.mark.parametrize("path, body", [("/v1/evaluate", b'{"as_of": "2019-06-30", "enterprise": {}}'), ("/v1/evaluate/batch", b"[]")])
def test_every_media_type_a_415_lists_is_read(client, path, body):
    refused = client.post(path, content=body, headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415
    listed = refused.json()["errors"][0]["message"].split("accepted: ", 1)[1].split(", ")
    types = [t for t in listed if "/" in t]
    assert "application/json" in types and len(types) >= 4
    for media in types:
        assert client.post(path, content=body, headers={"Content-Type": media}).status_code != 415, media


def test_head_health_is_the_status_without_the_body(client):
    head, get = client.head("/health"), client.get("/health")
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/metrics", "/v1/policies", "/v1/policies/shanghai-post-license/2017", "/docs",
                                  "/openapi.json", "/health"])
def test_head_works_wherever_get_does_with_the_same_headers_and_no_body(client, path):
    head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200, head.text
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    if path not in ("/metrics", "/health"):     # these two change from one request to the next
        assert head.headers["content-length"] == get.headers["content-length"]


def test_head_where_there_is_no_get_is_still_a_405_and_is_counted_as_head(client):
    refused = client.head("/v1/evaluate")
    assert refused.status_code == 405 and refused.content == b""
    assert client.head("/v1/policies").status_code == 200
    assert 'regcode_http_requests_total{method="HEAD",route="/v1/policies",status="200"}' in client.get("/metrics").text


def test_schema_invalid_case_gets_the_same_errors_and_text_as_eval(client, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((CASES / "aa-clean.yaml").read_text(encoding="utf-8").replace("嘉定区", "浦东区").replace("risk_level: ii", "risk_level: II"),
                   encoding="utf-8")
    as_json = cli("eval", str(bad), "--format", "json")
    as_text = cli("eval", str(bad))
    assert as_json.exit_code == 1 and as_text.exit_code == 1
    response = client.post("/v1/evaluate", params={"source": str(bad)}, content=bad.read_bytes(), headers=YAML)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == json.loads(as_json.stderr)["errors"]
    assert len(problem["errors"]) == 3 and {e["code"] for e in problem["errors"]} == {"input.schema"}
    assert problem["detail"] + "\n" == as_text.stderr


# ---- the evaluation is eval --format json --------------------------------------------------------
@pytest.mark.parametrize("explain", ["full", "decisive", "none"])
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_evaluate_is_byte_for_byte_eval_format_json(client, path, explain):
    expected = cli("eval", str(path), "--format", "json", "--explain", explain)
    assert expected.exit_code == 0, expected.output
    query = {"source": str(path), "explain": explain}
    pretty = client.post("/v1/evaluate", params={**query, "pretty": "true"}, content=path.read_bytes(), headers=YAML)
    assert pretty.status_code == 200 and pretty.headers["content-type"] == "application/json"
    assert without_decision_id(pretty.text) == expected.stdout          # the bytes eval prints, less decision_id
    compact = client.post("/v1/evaluate", params=query, content=path.read_bytes(), headers=YAML)
    data = compact.json()
    decision_id = data.pop("decision_id")
    assert data == json.loads(expected.stdout)
    assert compact.content == dump_json({**json.loads(expected.stdout), "decision_id": decision_id}).encode("utf-8")


def test_json_and_yaml_bodies_give_the_same_decisions_and_input_hash(client, log_path):
    path = CASES / "new-licensee.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = json.loads(json.dumps(data, default=str))      # dates as ISO text, as regcode reads them
    as_yaml = client.post("/v1/evaluate", content=path.read_bytes(), headers=YAML).json()
    as_json = client.post("/v1/evaluate", json=data).json()
    tabbed = client.post("/v1/evaluate", content=json.dumps(data, indent="\t", ensure_ascii=False).encode("utf-8"),
                         headers={"Content-Type": "application/json"})
    assert tabbed.status_code == 200, tabbed.text     # valid JSON that YAML's reader refuses (tabs) is still read
    assert as_yaml["decisions"] == as_json["decisions"] == tabbed.json()["decisions"]
    logged = {e["decision_id"]: e for e in log_lines(log_path)}
    hashes = {logged[r["decision_id"]]["input_sha256"] for r in (as_yaml, as_json, tabbed.json())}
    assert hashes == {hashlib.sha256(dump_json(data).encode("utf-8")).hexdigest()}


def test_query_as_of_overrides_the_case_file(client):
    body = (CASES / "aa-clean.yaml").read_bytes()
    assert client.post("/v1/evaluate", params={"as_of": "2020-01-15"}, content=body, headers=YAML).json()["as_of"] == "2020-01-15"


# ---- batch ---------------------------------------------------------------------------------------
def test_batch_reports_a_bad_record_in_its_place_and_evaluates_the_others(client):
    cases = list(generator.generate(5, seed=7))
    lines = [dump_json(c) for c in cases]
    lines.insert(2, '{"as_of": "2019-06-30", "enterprise": {"name": 1}}')
    lines.insert(4, "{not json")
    response = client.post("/v1/evaluate/batch", params={"explain": "none"}, content="\n".join(lines).encode("utf-8"), headers=JSONL)
    assert response.status_code == 200
    body = response.json()
    assert (body["read"], body["evaluated"], body["failed"]) == (7, 5, 2)
    results = body["results"]
    assert [("errors" in r) for r in results] == [False, False, True, False, True, False, False]
    assert results[2]["source"] == "<request>:3" and results[2]["line"] == 3 and results[2]["errors"][0]["code"] == "input.schema"
    assert results[4]["line"] == 5 and results[4]["errors"][0]["code"] == "input.syntax"
    good = [r for r in results if "errors" not in r]
    for case, result in zip(cases, good):   # in order, each its own case
        assert result["enterprise"]["credit_code"] == case["enterprise"]["credit_code"]
        single = client.post("/v1/evaluate", params={"explain": "none"}, json=case).json()
        assert result["decisions"] == single["decisions"]
    assert len({r["decision_id"] for r in good}) == 5


def test_a_batch_error_names_its_enterprise_and_speaks_in_query_parameters(client):
    """As `regcode batch --errors` does, a bad record that got far enough names its enterprise; hints name
    the query parameters an HTTP client has, not the CLI's options."""
    good, bad, undated = list(generator.generate(3, seed=11))
    bad["enterprise"]["production_district"] = "浦东区"
    undated["as_of"] = "2030-01-01"
    response = client.post("/v1/evaluate/batch", params={"explain": "none"}, json=[good, bad, undated])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert "errors" not in results[0]
    assert results[1]["enterprise"] == {"credit_code": bad["enterprise"]["credit_code"], "name": bad["enterprise"]["name"]}
    assert results[1]["errors"][0]["code"] == "input.schema"
    assert results[2]["errors"][0]["code"] == "select.no_version_in_force"
    assert "--" not in results[2]["errors"][0]["hint"] and "`as_of`" in results[2]["errors"][0]["hint"]


def test_one_pretty_printed_object_as_a_batch_is_one_clear_problem_not_a_bad_record_a_line(client):
    case = json.dumps(next(iter(generator.generate(1, seed=3))), ensure_ascii=False, indent=2).encode("utf-8")
    response = client.post("/v1/evaluate/batch", content=case, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "request.body"
    assert "JSON array" in response.json()["detail"]
    one_line = client.post("/v1/evaluate/batch", content=b" ".join(case.split()), headers={"Content-Type": "application/json"})
    assert one_line.status_code == 200 and one_line.json()["evaluated"] == 1     # one line: JSON lines of one case


def test_batch_as_a_json_array_keeps_the_order(client):
    cases = list(generator.generate(4, seed=11))
    body = client.post("/v1/evaluate/batch", params={"explain": "none"}, json=cases[:2] + [42] + cases[2:]).json()
    assert (body["read"], body["failed"]) == (5, 1)
    assert body["results"][2]["source"] == "<request>[2]" and body["results"][2]["errors"][0]["code"] == "input.not_mapping"
    credit = [r["enterprise"]["credit_code"] for r in body["results"] if "errors" not in r]
    assert credit == [c["enterprise"]["credit_code"] for c in cases]


# Each bad element as written in the array, and the issue it gets at its place: the column is where the bad
# value (or key) starts in the element's own text; in the body the element is line 2, from column 2
BAD_ELEMENTS = [
    ('{"as_of": "2019-06-30", "x": 1e400}', "input.number", 30, "the number 1e400 is too large"),
    ('{"as_of": "2019-06-30", "x": NaN}', "input.number", 30, "NaN is not a value regcode accepts"),
    ('{"as_of": "2019-06-30", "x": -Infinity}', "input.number", 30, "-Infinity is not a value"),
    ('{"as_of": "2019-06-30", "x": 123456789012345678901}', "input.number", 30, "is out of range"),
    ('{"as_of": "2019-06-30", "as_of": "2019-06-30"}', "input.duplicate_key", 25, "key `as_of` appears twice"),
    ('{"as_of": "2019-06-30", "x" 1}', "input.syntax", 29, "Expecting ':' delimiter"),
    ('{"as_of": "2019-06-30", "x": "\\ud800"}', "input.text", 30, "lone surrogate"),
    ('{"as_of": "2019-06-30", "x": "上海\\u0000\\u001b[2J"}', "input.text", 30, "holds a NUL (U+0000)"),
    ('{"as_of": "2019-06-30", "x": "a\\r\\nb"}', "input.text", 30, "holds a carriage return (CR)"),
    ('42', "input.not_mapping", 1, "found a number"),
]


@pytest.mark.parametrize("element, code, column, message", BAD_ELEMENTS, ids=[b[1] + ":" + b[0][24:40] for b in BAD_ELEMENTS])
def test_a_bad_element_of_a_batch_array_is_reported_in_its_place_and_the_others_evaluated(client, element, code, column, message):
    before, after = (dump_json(c) for c in generator.generate(2, seed=5))
    body = f"[{before},\n {element},\n {after}]".encode("utf-8")
    response = client.post("/v1/evaluate/batch", params={"explain": "none"}, content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert (reply["read"], reply["evaluated"], reply["failed"]) == (3, 2, 1)
    first, bad, last = reply["results"]
    assert (bad["source"], bad["line"]) == ("<request>[1]", 2)
    issue = bad["errors"][0]
    assert issue["code"] == code and message in issue["message"], issue
    assert (issue["location"]["file"], issue["location"]["line"], issue["location"]["column"]) == ("<request>", 2, 1 + column)
    for case, result in ((before, first), (after, last)):
        single = client.post("/v1/evaluate", params={"explain": "none"}, content=case.encode("utf-8")).json()
        assert result["decisions"] == single["decisions"] and result["source"] != bad["source"]


def test_an_element_of_a_batch_array_holding_a_byte_that_is_not_utf8_is_reported_in_its_place(client):
    """The body as a whole is not UTF-8, but its elements can still be told apart: only the one holding the byte
    is refused (input.encoding at its line and column, counted in characters), the others are evaluated."""
    before, after = (dump_json(c).encode("utf-8") for c in generator.generate(2, seed=5))
    bad = '{"as_of": "2019-06-30", "x": "上海'.encode("utf-8") + b'\xff"}'
    for body, column in ((b"[" + before + b",\n " + bad + b",\n " + after + b"]", 34),
                         (b"[" + before + b",\n \xfe\xff,\n " + after + b"]", 2)):      # bytes that are no value at all
        response = client.post("/v1/evaluate/batch", params={"explain": "none"}, content=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 200, response.text
        reply = response.json()
        assert (reply["read"], reply["evaluated"], reply["failed"]) == (3, 2, 1)
        [issue] = reply["results"][1]["errors"]
        assert issue["code"] == "input.encoding" and "is not UTF-8: byte 0x" in issue["message"], issue
        assert (issue["location"]["file"], issue["location"]["line"], issue["location"]["column"]) == ("<request>", 2, column)
    # the trial's body: a lone surrogate, a number too large, a byte that is not UTF-8: three problems, each in its place
    body = b'[{"a":"\\ud800"}, {"a":1e400}, {"a":"x\xffy"}]'
    reply = client.post("/v1/evaluate/batch", content=body, headers={"Content-Type": "application/json"}).json()
    assert [r["errors"][0]["code"] for r in reply["results"]] == ["input.text", "input.number", "input.encoding"]
    assert reply["results"][2]["errors"][0]["location"]["column"] == 38


def test_a_batch_array_that_cannot_be_split_and_is_not_utf8_is_one_input_encoding_at_its_place(client):
    response = client.post("/v1/evaluate/batch", content=b'[{"as_of": "2019-06-30"}\n {"x": "\xff"}]',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    [issue] = response.json()["errors"]
    assert issue["code"] == "input.encoding" and (issue["location"]["line"], issue["location"]["column"]) == (2, 9)


def test_an_elements_schema_problem_is_placed_in_the_body_where_it_is_written(client):
    good, bad = generator.generate(2, seed=11)
    bad["enterprise"]["production_district"] = "浦东区"
    body = json.dumps([good, bad], ensure_ascii=False, indent=2)
    response = client.post("/v1/evaluate/batch", params={"explain": "none"}, content=body.encode("utf-8"),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    issue = response.json()["results"][1]["errors"][0]
    lines = body.split("\n")
    written = max(i for i, line in enumerate(lines, 1) if '"production_district": "浦东区"' in line)
    assert issue["code"] == "input.schema" and issue["location"]["path"] == "enterprise.production_district"
    assert (issue["location"]["line"], issue["location"]["column"]) == (written, lines[written - 1].index('"浦东区"') + 1)
    second = lines.index("  },") + 2        # the 1-based line after the first element's end
    assert lines[second - 1] == "  {" and response.json()["results"][1]["line"] == second


def test_a_batch_array_is_not_read_past_the_batch_limit():
    with serving(workers=1, max_batch=3) as c:
        over = c.post("/v1/evaluate/batch", content=b"[" + b",".join([b"{}"] * 5) + b"]",
                      headers={"Content-Type": "application/json"})
        assert over.status_code == 413 and over.json()["errors"][0]["code"] == "request.too_many"
        assert "more than 3 case files; at most 3" in over.json()["errors"][0]["message"]
        at = c.post("/v1/evaluate/batch", content=b"[" + b",".join([b"{}"] * 3) + b"]",
                    headers={"Content-Type": "application/json"})
        assert at.status_code == 200 and (at.json()["read"], at.json()["failed"]) == (3, 3)


def test_batch_count_and_body_size_are_bounded():
    with serving(workers=1, max_batch=3, max_body_bytes=2000) as c:
        over = c.post("/v1/evaluate/batch", content=b"{}\n" * 4, headers=JSONL)
        assert over.status_code == 413 and over.json()["errors"][0]["code"] == "request.too_many"
        at = c.post("/v1/evaluate/batch", content=b"{}\n" * 3, headers=JSONL)
        assert at.status_code == 200 and at.json()["failed"] == 3
        big = c.post("/v1/evaluate", content=b" " * 2001 + b"{}", headers={"Content-Type": "application/json"})
        assert big.status_code == 413 and big.json()["errors"][0]["code"] == "request.too_large"
        # no Content-Length: the limit holds while the body streams in
        streamed = c.post("/v1/evaluate", content=iter([b" " * 1500, b" " * 1500, b"{}"]), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413 and "more than 2000 bytes" in streamed.json()["errors"][0]["message"]


# ---- policies, health, metrics, docs ---------------------------------------------------------------
def test_policies_lists_every_version_with_its_hash(client):
    listed = client.get("/v1/policies").json()["policies"]
    shown = json.loads(cli("show", "shanghai-post-license@2017", "--format", "json").stdout)
    assert [(p["id"], p["version"]) for p in listed] == [("shanghai-post-license", "2017")]
    assert listed[0]["content_hash"] == shown["content_hash"]
    assert (listed[0]["effective_from"], listed[0]["effective_to"]) == ("2017-05-01", "2022-04-30")


def test_policy_version_is_what_show_prints(client):
    response = client.get("/v1/policies/shanghai-post-license/2017")
    assert response.status_code == 200
    shown = json.loads(cli("show", "shanghai-post-license@2017", "--format", "json").stdout)
    assert response.json() == shown
    assert response.json()["articles"] and response.json()["content_hash"]


def test_health_and_metrics_count_what_happened():
    with serving(workers=1) as c:
        health = c.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["workers"] == 1
        body = (CASES / "aa-clean.yaml").read_bytes()
        for _ in range(3):
            assert c.post("/v1/evaluate", content=body, headers=YAML).status_code == 200
        assert c.post("/v1/evaluate", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
        text = c.get("/metrics")
        assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.text.splitlines() if line and not line.startswith("#")}
        assert samples['regcode_decisions_total{policy="shanghai-post-license@2017"}'] == 3
        assert samples['regcode_errors_total{code="input.syntax"}'] == 1
        assert samples['regcode_http_requests_total{method="POST",route="/v1/evaluate",status="200"}'] == 3
        assert samples['regcode_http_request_duration_seconds_count{method="POST",route="/v1/evaluate",status="200"}'] == 3
        assert samples['regcode_http_request_duration_seconds_bucket{method="POST",route="/v1/evaluate",status="200",le="+Inf"}'] == 3
        assert samples['regcode_http_request_duration_seconds_count{method="POST",route="/v1/evaluate",status="400"}'] == 1
        assert samples["regcode_workers"] == 1 and samples["regcode_policy_versions"] == 1
        assert "# TYPE regcode_http_request_duration_seconds histogram" in text.text


def test_the_method_label_is_bounded_to_the_known_methods_and_other():
    """A client sends whatever token it likes as a method: each would have been a series of its own, without bound."""
    import secrets

    with serving(workers=1) as c:
        for _ in range(5):
            assert c.request(secrets.token_hex(4).upper(), "/health").status_code == 405
        assert c.request("BREW", "/nowhere").status_code == 404
        assert c.request("DELETE", "/health").status_code == 405
        assert c.request("FOO", "/health%01").status_code == 404       # refused before routing
        text = c.get("/metrics").text
    series = [line for line in text.splitlines() if line.startswith("regcode_http_requests_total{")]
    methods = {re.search(r'method="([^"]*)"', line).group(1) for line in series}
    assert methods == {"other", "DELETE"}, series
    assert 'regcode_http_requests_total{method="other",route="/health",status="405"} 5' in series
    assert 'regcode_http_requests_total{method="other",route="unmatched",status="404"} 1' in series
    assert 'regcode_http_requests_total{method="DELETE",route="/health",status="405"} 1' in series
    assert 'regcode_http_requests_total{method="other",route="(refused)",status="404"} 1' in series
    timed = [line for line in text.splitlines() if line.startswith("regcode_http_request_duration_seconds_count{")]
    assert {re.search(r'method="([^"]*)"', line).group(1) for line in timed} == {"other", "DELETE"}, timed
    assert 'regcode_http_request_duration_seconds_count{method="other",route="/health",status="405"} 5' in timed


def test_a_bug_s_500_is_counted_as_every_answer_is(monkeypatch):
    with serving(workers=1) as c:
        monkeypatch.setattr(c.app.state.service.pool, "alive", lambda: 1 / 0)
        bug = c.get("/health")
        monkeypatch.undo()
        text = c.get("/metrics").text
    assert bug.status_code == 500 and bug.json()["errors"][0]["code"] == "internal.error"
    assert 'regcode_http_requests_total{method="GET",route="/health",status="500"} 1' in text, text


def test_openapi_document_and_docs_work_offline(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/evaluate", "/v1/evaluate/batch", "/v1/policies", "/v1/policies/{policy_id}/{version}", "/health",
            "/metrics"} <= set(spec["paths"])
    params = {p["name"]: p for p in spec["paths"]["/v1/evaluate"]["post"]["parameters"]}
    assert params["explain"]["schema"]["enum"] == ["none", "decisive", "full"]
    examples = spec["paths"]["/v1/evaluate"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert examples   # taken from the policy's own test cases
    from regcode.service.app import JSONL_TYPES, YAML_TYPES    # every body the routes read is in the document
    case_types = set(spec["paths"]["/v1/evaluate"]["post"]["requestBody"]["content"])
    batch_types = set(spec["paths"]["/v1/evaluate/batch"]["post"]["requestBody"]["content"])
    assert case_types == {"application/json", YAML_TYPES[0]} and batch_types == {"application/json", JSONL_TYPES[0]}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text and "cdn." not in docs.text
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
    metrics = client.get("/metrics").text      # counted under their own names, not as unmatched requests
    assert 'route="/openapi.json",status="200"' in metrics and 'route="/docs/static",status="200"' in metrics


def test_the_document_lists_exactly_the_query_parameters_each_route_takes(client):
    """Every parameter /openapi.json lists for an API route is taken, and any other is refused: the document is the
    whole truth about the query."""
    spec = client.get("/openapi.json").json()
    valid = {"as_of": "2019-06-30", "policy": "shanghai-post-license", "version": "2017", "explain": "none",
             "source": "x.json", "pretty": "true"}
    body = (CASES / "aa-clean.yaml").read_bytes()
    for path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/policies", "/v1/policies/{policy_id}/{version}"):
        method, operation = next(iter(spec["paths"][path].items()))
        listed = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"}
        url = path.format(policy_id="shanghai-post-license", version="2017")
        send = dict(content=body if path == "/v1/evaluate" else b"[]", headers=YAML if path == "/v1/evaluate" else {})
        taken = client.request(method.upper(), url, params={name: valid[name] for name in listed}, **send)
        assert taken.status_code == 200, (path, taken.text)
        extra = client.request(method.upper(), url, params={"zzz": "1"}, **send)
        assert extra.status_code == 400 and extra.json()["errors"][0]["location"]["path"] == "query.zzz", path
        assert "400" in operation["responses"], path
    assert client.get("/health", params={"zzz": "1"}).status_code == 200      # probes may add what they like


def test_the_document_declares_every_status_each_route_sends_and_head_wherever_it_is_served():
    """What any route may answer (the HTTP reader's 400, 408, 413, 431; a 405; a bug's 500) and what the body
    routes answer of a body (411, 415) is declared, each with the Problem schema; HEAD is its own operation
    wherever GET is served, and a 405's Allow names it. (servekit checks every answer of every test against it.)"""
    with serving(workers=1, enable_admin=True) as c:
        spec = c.get("/openapi.json").json()
        allow = {path: c.request("DELETE", path.format(policy_id="shanghai-post-license", version="2017")).headers["allow"]
                 for path in spec["paths"]}
    paths = spec["paths"]
    for path, ops in paths.items():
        for method, op in ops.items():
            wanted = {"400", "405", "408", "413", "431", "500"} | ({"411", "415", "429", "503"} if path.startswith("/v1/evaluate") else set())
            assert wanted <= set(op["responses"]), (path, method, sorted(op["responses"]))
            for status, response in op["responses"].items():
                if status.startswith(("4", "5")) and path != "/health":
                    assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
            assert "422" not in op["responses"] or path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/admin/reload"), path
        assert sorted(m.strip().lower() for m in allow[path].split(",")) == sorted(ops), (path, allow[path])
    for path in ("/health", "/metrics", "/v1/policies", "/v1/policies/{policy_id}/{version}"):
        assert {"get", "head"} <= set(paths[path]), path
    assert len({op["operationId"] for ops in paths.values() for op in ops.values()}) == sum(len(ops) for ops in paths.values())
    schemas = spec["components"]["schemas"]
    assert {"decision_id", "source", "as_of", "policy", "decisions"} <= set(schemas["Evaluation"]["required"])
    ok = lambda path, method: paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]  # noqa: E731
    assert ok("/v1/policies/{policy_id}/{version}", "get") == {"$ref": "#/components/schemas/PolicyVersion"}
    assert ok("/v1/admin/reload", "post") == {"$ref": "#/components/schemas/Reload"}
    for path in ("/v1/evaluate", "/v1/evaluate/batch"):
        params = {p["name"]: p["schema"] for p in paths[path]["post"]["parameters"]}
        for name in ("policy", "version"):
            assert params[name]["anyOf"][0]["minLength"] == 1, (path, name, params[name])


def test_an_answer_the_document_does_not_declare_is_caught_by_the_check_every_test_makes(client):
    """servekit.check_answer, run on each answer of each test: it would catch an undeclared status, a body that
    is not its schema's, and a 405 whose Allow differs from the document (not a check that cannot fail)."""
    from servekit import check_answer

    spec = client.get("/openapi.json").json()
    reply = client.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
    check_answer(spec, "/v1/evaluate", "post", 200, "application/json", reply.content)
    with pytest.raises(AssertionError, match="does not declare"):
        check_answer(spec, "/v1/evaluate", "post", 418, "application/json", reply.content)
    no_id = json.loads(reply.content)
    del no_id["decision_id"]
    with pytest.raises(Exception, match="decision_id"):
        check_answer(spec, "/v1/evaluate", "post", 200, "application/json", json.dumps(no_id).encode())
    with pytest.raises(AssertionError):
        check_answer(spec, "/metrics", "delete", 405, "application/problem+json", b"{}", "GET")     # HEAD not listed
    for route in ("/v1/policies", "/metrics", "/health"):
        head = client.head(route)
        assert head.status_code == 200 and not head.content, route


def test_an_empty_policy_or_version_query_is_still_said_in_our_words_with_the_documents_min_length(client):
    for name in ("policy", "version"):
        response = client.post(f"/v1/evaluate?{name}=", content=b"{}", headers={"Content-Type": "application/json"})
        assert response.status_code == 400, response.text
        [issue] = response.json()["errors"]
        assert issue["message"] == f"the query parameter `{name}` is empty" and issue["location"]["path"] == f"query.{name}"


def test_a_yaml_case_sent_without_a_content_type_is_told_to_say_application_yaml(client):
    """http.client and curl --data-binary without -H send no Content-Type: the body is read as JSON, and a case
    file written as YAML gets the fix in its hint; a body that is not YAML either keeps the JSON hint (the real
    server with http.client: test_serve_http)."""
    body = (CASES / "aa-clean.yaml").read_bytes()
    for headers in ({}, {"Content-Type": "application/json"}):
        response = client.post("/v1/evaluate", content=body, headers=headers)
        assert response.status_code == 400
        [issue] = response.json()["errors"]
        assert issue["code"] == "input.syntax" and issue["message"].startswith("invalid JSON")
        assert "send it with Content-Type: application/yaml" in issue["hint"], issue
    assert client.post("/v1/evaluate", content=body, headers=YAML).status_code == 200
    broken = client.post("/v1/evaluate", content=b'{"as_of": "2019-06-30",', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and "application/yaml" not in broken.json()["errors"][0]["hint"]


# ---- the decision log ----------------------------------------------------------------------------
def test_each_decision_is_one_log_line_with_its_policy_input_and_rules(tmp_path):
    log = tmp_path / "d.log"
    with serving(workers=1, decision_log=str(log)) as c:
        reply = c.post("/v1/evaluate", params={"explain": "none"}, content=(CASES / "c-class-triggers.yaml").read_bytes(), headers=YAML).json()
    full = cli("eval", str(CASES / "c-class-triggers.yaml"), "--format", "json")
    why = json.loads(full.stdout)
    (entry,) = log_lines(log)
    assert log.read_text(encoding="utf-8") == dump_json(entry) + "\n"       # sorted keys, one line
    assert entry["decision_id"] == reply["decision_id"]
    assert entry["policy"] == {k: reply["policy"][k] for k in ("id", "version", "content_hash")}
    assert entry["decisions"] == reply["decisions"] and entry["as_of"] == reply["as_of"]
    assert entry["input_sha256"] == hashlib.sha256(dump_json(entry["input"]).encode("utf-8")).hexdigest()
    expected_rules = {e["rule"] for es in why["why"].values() for e in es} | {d["rule"] for f in why["derived"] for d in f["derived_by"]}
    assert entry["rules_fired"] == sorted(expected_rules) and len(entry["rules_fired"]) > 5
    assert entry["explain"] == "none" and entry["regcode_version"] and entry["time"].endswith("Z")


def test_decision_log_input_none_keeps_only_the_hash(tmp_path):
    log = tmp_path / "d.log"
    with serving(workers=1, decision_log=str(log), log_input=False) as c:
        c.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
    (entry,) = log_lines(log)
    assert "input" not in entry and len(entry["input_sha256"]) == 64
    assert "上海浦江特种电缆有限公司" not in log.read_text(encoding="utf-8")


def test_a_decision_the_log_cannot_take_is_a_503_naming_no_server_file_and_is_not_answered(caplog):
    """/dev/full refuses every write with ENOSPC, as a full disk does: the decision is not returned (an audit log
    must hold every decision answered), the reply says that it may be sent again and when, and the server log
    has one line, no traceback, naming the log's path and the reason: the client is told neither."""
    case = (CASES / "aa-clean.yaml").read_bytes()
    with serving(workers=1, decision_log="/dev/full") as c, caplog.at_level(logging.INFO, logger="regcode.serve"):
        assert c.get("/health").json()["status"] == "ok"      # nothing was written yet, nothing failed
        response = c.post("/v1/evaluate", content=case, headers=YAML)
        metrics = c.get("/metrics").text
        health = c.get("/health")
        head = c.head("/health")
    assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "10"
    problem = response.json()
    assert problem["type"] == "urn:regcode:problem:service.decision_log" and "decision_id" not in response.text
    message = problem["errors"][0]["message"]
    assert "not returned" in message and "decision log" in message
    assert "/dev/full" not in response.text and "ENOSPC" not in response.text and "/dev" not in response.text
    assert "bug" not in response.text and "may be sent again" in problem["errors"][0]["hint"]
    said = [r for r in caplog.records if r.name == "regcode.serve" and r.levelno >= logging.WARNING]
    assert len(said) == 1 and said[0].exc_info is None
    assert "/dev/full" in said[0].getMessage() and "ENOSPC: No space left on device" in said[0].getMessage()
    # a probe reads the status: no decision can be answered, so not a 200 (HEAD, as load balancers probe, alike)
    assert health.status_code == 503 and health.json()["status"] == "degraded", health.text
    assert head.status_code == 503 and not head.content and head.headers["content-type"] == "application/json"
    assert "ENOSPC: No space left on device" in health.json()["decision_log"] and "/dev/full" not in health.text
    assert 'regcode_errors_total{code="service.decision_log"} 1' in metrics and "regcode_decisions_total{" not in metrics


def test_a_batch_none_of_whose_decisions_the_log_took_is_a_503_for_the_whole_request():
    """Not a 200 whose every element failed for the service's own reason: a 503 that says so once, to be retried."""
    good = [dump_json(c) for c in generator.generate(2, seed=9)]
    body = "\n".join([good[0], '{"as_of": "2019-06-30", "enterprise": {"name": 1}}', good[1]]).encode("utf-8")
    with serving(workers=1, decision_log="/dev/full") as c:
        response = c.post("/v1/evaluate/batch", params={"explain": "none"}, content=body, headers=JSONL)
        metrics = c.get("/metrics").text
    assert response.status_code == 503 and response.headers["content-type"] == "application/problem+json", response.text
    assert response.headers["retry-after"] == "10" and "decision_id" not in response.text
    [issue] = response.json()["errors"]
    assert issue["code"] == "service.decision_log" and issue["location"]["file"] == "<request>"
    assert issue["message"].startswith("none of the batch's 2 decisions was returned: they could not be written to the "
                                       "service's decision log"), issue
    assert "/dev/full" not in response.text and "ENOSPC" not in response.text
    assert 'regcode_errors_total{code="service.decision_log"} 1' in metrics and "input.schema" not in metrics
    assert "regcode_decisions_total{" not in metrics


def test_a_batch_the_log_took_some_of_answers_those_and_names_each_refused_one_in_its_place(monkeypatch):
    from regcode.service import decisionlog

    real_write, calls = decisionlog.os.write, []

    def full_after_the_first(fd, data):
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)
    good = [dump_json(c) for c in generator.generate(2, seed=9)]
    with serving(workers=1, decision_log="/dev/null") as c:
        monkeypatch.setattr(decisionlog.os, "write", full_after_the_first)
        response = c.post("/v1/evaluate/batch", params={"explain": "none"}, content="\n".join(good).encode(), headers=JSONL)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert (reply["read"], reply["evaluated"], reply["failed"]) == (2, 1, 1)
    assert "decision_id" in reply["results"][0] and "decision_id" not in reply["results"][1]
    assert reply["results"][1]["errors"][0]["code"] == "service.decision_log"
    assert reply["results"][1]["errors"][0]["message"].startswith("the decision was not returned: it could not be written")


@pytest.mark.parametrize("body, media", [(b"", "application/json"), (b"  \r\n\n", "application/x-ndjson"),
                                         (b"\xef\xbb\xbf\n", "application/json")], ids=["nothing", "blank lines", "a BOM"])
def test_an_empty_batch_body_is_a_400_input_empty_as_on_evaluate_not_a_200_of_none(client, body, media):
    response = client.post("/v1/evaluate/batch", content=body, headers={"Content-Type": media})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json", response.text
    [issue] = response.json()["errors"]
    assert issue["code"] == "input.empty" and "batch is empty" in issue["message"] and "JSON lines" in issue["hint"]
    single = client.post("/v1/evaluate", content=body.replace(b"\r", b""), headers={"Content-Type": "application/json"})
    assert single.status_code == 400 and single.json()["errors"][0]["code"] == "input.empty"
    empty_array = client.post("/v1/evaluate/batch", content=b"[]", headers={"Content-Type": "application/json"})
    assert empty_array.status_code == 200 and empty_array.json()["read"] == 0      # a batch of none, said as such


@pytest.mark.parametrize("query, code", [({"policy": "nosuch"}, "select.unknown_policy"), ({"version": "2099"}, "select.unknown_version")])
def test_a_batch_naming_a_policy_or_version_not_served_is_one_404_before_any_element_is_read(client, query, code):
    for body in (b'[{"as_of": "2019-06-30"}, {"as_of": "2019-06-30"}]', b"[{"):   # a body that would be a 400 too
        response = client.post("/v1/evaluate/batch", params=query, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json", response.text
        [issue] = response.json()["errors"]
        assert issue["code"] == code and issue["location"]["path"] == f"query.{next(iter(query))}", issue
        single = client.post("/v1/evaluate", params=query, content=b'{"as_of": "2019-06-30"}', headers={"Content-Type": "application/json"})
        assert single.status_code == 404 and single.json()["errors"] == [issue]


@pytest.mark.parametrize("error", [errno.EIO, errno.EACCES, errno.EROFS], ids=errno.errorcode.get)
def test_any_os_error_of_the_log_is_a_503_and_a_partial_line_is_ended_before_the_next(tmp_path, monkeypatch, error):
    from regcode.service import decisionlog

    log = tmp_path / "d.log"
    real_write, calls, broken = decisionlog.os.write, [], [True]

    def failing(fd, data):    # the first line: half of it goes, then the disk fails until it is mended
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:len(data) // 2]))
        if broken[0]:
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)
    case = (CASES / "aa-clean.yaml").read_bytes()
    with serving(workers=1, decision_log=str(log)) as c:
        monkeypatch.setattr(decisionlog.os, "write", failing)
        refused = c.post("/v1/evaluate", content=case, headers=YAML)
        degraded_reply = c.get("/health")      # the probe tries to end the partial line: the disk still fails
        degraded = degraded_reply.json()
        broken[0] = False
        healthy_reply = c.get("/health")       # mended: the probe ends the partial line, with no decision sent
        healthy = healthy_reply.json()
        answered = c.post("/v1/evaluate", content=case, headers=YAML)
    assert refused.status_code == 503 and refused.json()["errors"][0]["code"] == "service.decision_log"
    assert errno.errorcode[error] not in refused.text and str(tmp_path) not in refused.text
    assert degraded["status"] == "degraded" and errno.errorcode[error] in degraded["decision_log"], degraded
    assert answered.status_code == 200
    assert healthy["status"] == "ok" and "decision_log" not in healthy, healthy    # the log takes a line again
    assert (degraded_reply.status_code, healthy_reply.status_code) == (503, 200)
    partial, whole = log.read_bytes().split(b"\n")[:2]
    assert partial and not partial.endswith(b"}")                     # the partial line, ended: replay reports it
    assert json.loads(whole)["decision_id"] == answered.json()["decision_id"]
    assert log.read_bytes().count(b"\n") == 2


def test_a_rotation_the_file_system_refuses_keeps_the_log_and_refuses_the_decision(tmp_path, monkeypatch):
    from regcode.service import decisionlog

    log = tmp_path / "d.log"
    case = (CASES / "aa-clean.yaml").read_bytes()
    with serving(workers=1, decision_log=str(log), log_max_bytes=1024) as c:
        first = c.post("/v1/evaluate", content=case, headers=YAML)
        monkeypatch.setattr(decisionlog.Path, "rename", lambda *a: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")))
        refused = c.post("/v1/evaluate", content=case, headers=YAML)
        degraded = c.get("/health").json()
        monkeypatch.undo()
        rotated = c.post("/v1/evaluate", content=case, headers=YAML)
    assert first.status_code == 200 and rotated.status_code == 200
    assert refused.status_code == 503 and refused.json()["errors"][0]["code"] == "service.decision_log"
    assert degraded["status"] == "degraded" and "EACCES: Permission denied" in degraded["decision_log"]
    assert [e["decision_id"] for e in log_lines(tmp_path / "d.log.1")] == [first.json()["decision_id"]]
    assert [e["decision_id"] for e in log_lines(log)] == [rotated.json()["decision_id"]]


def test_a_log_moved_away_or_deleted_is_reopened_at_its_path_and_one_that_cannot_be_is_a_503(tmp_path):
    """logrotate without copytruncate moves the log and expects the next line in a new file at the path; a
    deleted log is created again. A path that cannot be opened (its folder gone) refuses the decision."""
    folder = tmp_path / "logs"
    folder.mkdir()
    log, moved = folder / "decisions.log", tmp_path / "moved.log"
    case = (CASES / "aa-clean.yaml").read_bytes()
    with serving(workers=1, decision_log=str(log)) as c:
        first = c.post("/v1/evaluate", content=case, headers=YAML)
        log.rename(moved)
        second = c.post("/v1/evaluate", content=case, headers=YAML)
        assert second.status_code == 200
        assert [e["decision_id"] for e in log_lines(moved)] == [first.json()["decision_id"]]
        assert [e["decision_id"] for e in log_lines(log)] == [second.json()["decision_id"]]
        log.unlink()
        third = c.post("/v1/evaluate", content=case, headers=YAML)
        assert third.status_code == 200
        assert [e["decision_id"] for e in log_lines(log)] == [third.json()["decision_id"]]
        log.unlink()
        folder.rmdir()
        refused = c.post("/v1/evaluate", content=case, headers=YAML)
        degraded = c.get("/health").json()
        folder.mkdir()
        healthy = c.get("/health").json()    # the folder is back: the probe opens the log at its path again
        fourth = c.post("/v1/evaluate", content=case, headers=YAML)
        metrics = c.get("/metrics").text
    assert refused.status_code == 503 and "decision_id" not in refused.text
    assert refused.headers["retry-after"] == "10"
    issue = refused.json()["errors"][0]
    assert issue["code"] == "service.decision_log" and str(folder) not in refused.text and "ENOENT" not in refused.text, issue
    assert degraded["status"] == "degraded" and "ENOENT" in degraded["decision_log"], degraded
    assert str(folder) not in json.dumps(degraded)
    assert healthy["status"] == "ok" and "decision_log" not in healthy, healthy
    assert fourth.status_code == 200
    assert [e["decision_id"] for e in log_lines(log)] == [fourth.json()["decision_id"]]
    assert "regcode_decision_log_reopens_total 3" in metrics


# ---- concurrency -----------------------------------------------------------------------------------
def test_concurrent_requests_each_get_their_own_decisions(client):
    cases = list(generator.generate(16, seed=3))
    cat = Catalog()
    expected = [evaluate_case(cat, Document("x", c), explain="none")["decisions"] for c in cases]
    assert len({dump_json(e) for e in expected}) > 3        # the cases really differ
    barrier = threading.Barrier(8)
    replies: dict = {}

    def send(k: int) -> None:
        barrier.wait(timeout=30)
        for i in range(k, len(cases), 8):
            replies[i] = client.post("/v1/evaluate", params={"explain": "none"}, json=cases[i])

    threads = [threading.Thread(target=send, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(replies) == list(range(16))
    for i, response in replies.items():
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["enterprise"]["credit_code"] == cases[i]["enterprise"]["credit_code"]
        assert body["decisions"] == expected[i]
    assert len({r.json()["decision_id"] for r in replies.values()}) == 16


def test_workers_inherit_a_built_evaluator_instead_of_building_it_on_their_first_request(client):
    served = client.app.state.service.loaded.served
    assert all("python" in s.policy.backends for s in served.values())


def _documented(spec: dict, path: str, method: str, status: int, media: str):
    """A validator for the schema /openapi.json gives that response (its $refs read in the document itself)."""
    import jsonschema
    schema = spec["paths"][path][method]["responses"][str(status)]["content"][media]["schema"]
    assert schema != {} and "$ref" in schema, (path, status, schema)     # a schema, not the framework's empty one
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def test_every_answer_is_what_the_document_says_it_is(client):
    """Each route's 200 and every problem validate against the schema /openapi.json names for them, so a
    client generated from the document reads what the service sends: evaluations at each explain level (the
    decisions typed from the policy's declarations), a batch with a bad element, the policy listing, /health,
    and problems of several kinds. The framework's validation-error schemas, which nothing answers, are gone."""
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(spec)
    evaluation = _documented(spec, "/v1/evaluate", "post", 200, "application/json")
    for path in EXAMPLES:
        for explain in ("none", "decisive", "full"):
            reply = client.post("/v1/evaluate", params={"explain": explain}, content=path.read_bytes(), headers=YAML)
            assert reply.status_code == 200
            evaluation.validate(reply.json())
    decisions = spec["components"]["schemas"]["Evaluation"]["properties"]["decisions"]["properties"]
    assert decisions["classification"]["anyOf"][0]["enum"] == ["aa", "a", "b", "c"]
    wrong = json.loads(client.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML).text)
    wrong["decisions"]["classification"] = "aaa"        # the typed decisions refuse a value the policy cannot give
    assert not evaluation.is_valid(wrong)
    batch = client.post("/v1/evaluate/batch", content=json.dumps([yaml.safe_load((CASES / "aa-clean.yaml").read_text(encoding="utf-8")),
                                                                  {"as_of": "2019-06-30"}], default=str).encode(),
                        headers={"Content-Type": "application/json"})
    assert batch.status_code == 200 and batch.json()["failed"] == 1
    _documented(spec, "/v1/evaluate/batch", "post", 200, "application/json").validate(batch.json())
    _documented(spec, "/v1/policies", "get", 200, "application/json").validate(client.get("/v1/policies").json())
    _documented(spec, "/health", "get", 200, "application/json").validate(client.get("/health").json())
    problems = [("/v1/evaluate", "post", client.post("/v1/evaluate", content=b"{", headers={"Content-Type": "application/json"})),
                ("/v1/evaluate", "post", client.post("/v1/evaluate", content=b"as_of: 2019-06-30\n", headers=YAML)),
                ("/v1/evaluate", "post", client.post("/v1/evaluate", params={"explain": "ful"}, content=b"{}",
                                                     headers={"Content-Type": "application/json"})),
                ("/v1/evaluate/batch", "post", client.post("/v1/evaluate/batch", params={"policy": "nosuch"}, content=b"[]",
                                                           headers={"Content-Type": "application/json"})),
                ("/v1/policies/{policy_id}/{version}", "get", client.get("/v1/policies/shanghai-post-license/1999"))]
    for path, method, reply in problems:
        assert reply.headers["content-type"] == "application/problem+json", reply.text
        _documented(spec, path, method, reply.status_code, "application/problem+json").validate(reply.json())


CONTROL_PATHS = {   # as sent (percent-encoded) -> as every field of the problem shows it
    "/a%01b": "/a\\u0001b",
    "/a%09b": "/a\\u0009b",                     # tab, CR, LF: which URL parsing (request.url) drops
    "/a%0Ab%0D": "/a\\u000ab\\u000d",
    "/v1/policies/x%01/y%0A": "/v1/policies/x\\u0001/y\\u000a",
    "/v1/evaluate%0A/": "/v1/evaluate\\u000a/",   # not called the route /v1/evaluate with a trailing slash
    "/health%0A": "/health\\u000a",               # the router's `$` matches before a final newline: not /health
    "/v1/policies%E2%80%A8": "/v1/policies\\u2028",
}


@pytest.mark.parametrize("sent", list(CONTROL_PATHS))
def test_a_path_with_a_control_character_is_a_404_echoing_it_escaped_alike_in_every_field(client, sent):
    import unicodedata

    response = client.get(sent)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json", response.text
    problem = response.json()
    [issue] = problem["errors"]
    shown = CONTROL_PATHS[sent]
    assert issue["code"] == "request.not_found" and issue["location"]["path"] == shown, issue
    assert issue["message"] == f"GET {shown}: Not Found: the path holds a control character, which no route, policy id or version holds"
    assert problem["detail"] == f"{shown}: request.not_found: {issue['message']} (see /docs for the routes)"

    def texts(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from texts(v)
        elif isinstance(value, list):
            for v in value:
                yield from texts(v)
    assert not [t for t in texts(problem) if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in t)], problem


REFUSING = {   # Accept header -> how the 406 says it
    "text/html": "does not accept application/json",
    "application/problem+json": "does not accept application/json",     # what a problem is sent as, not a reply
    "text/html, application/xml;q=0.9": "does not accept application/json",
    "application/json;q=0, */*": "gives application/json q=0",            # the most specific range decides
    "*/*;q=0": "gives application/json q=0",
    "application/*;q=0": "gives application/json q=0",
}
ACCEPTING = ["*/*", "application/json", "application/*;q=0.1", "APPLICATION/JSON; charset=utf-8",
             "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",     # a browser's
             "text/html;q=0.9, application/json;q=0.001", "*/*;q=0, application/json;q=0.5",
             "not a media range", ""]                                       # said nothing: ignored, not refused


@pytest.mark.parametrize("accept", list(REFUSING))
def test_an_accept_header_refusing_json_is_a_406_problem_on_every_json_route(client, accept):
    case = (CASES / "aa-clean.yaml").read_bytes()
    asks = [("GET", "/health", {}), ("HEAD", "/health", {}), ("GET", "/v1/policies", {}), ("HEAD", "/v1/policies", {}),
            ("GET", "/v1/policies/shanghai-post-license/2017", {}),
            ("POST", "/v1/evaluate", {"content": case, "headers": YAML}),
            ("POST", "/v1/evaluate", {"content": b"{", "headers": {"Content-Type": "application/json"}}),  # before the body
            ("POST", "/v1/evaluate/batch", {"content": b"[]", "headers": {"Content-Type": "application/json"}})]
    for method, path, more in asks:
        headers = {**more.pop("headers", {}), "Accept": accept}
        response = client.request(method, path, headers=headers, **more)
        assert response.status_code == 406, (method, path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        if method == "HEAD":
            assert not response.content
            continue
        problem = response.json()
        assert problem["status"] == 406 and problem["title"] == "Not acceptable"
        [issue] = problem["errors"]
        assert issue["code"] == "request.not_acceptable" and issue["location"]["path"] == "header.accept", issue
        assert issue["message"] == (f"the Accept header '{accept}' {REFUSING[accept]}, the type this route answers "
                                    "(its problems are application/problem+json)")


@pytest.mark.parametrize("accept", ACCEPTING)
def test_an_accept_header_that_takes_json_or_says_nothing_is_served(client, accept):
    for path in ("/health", "/v1/policies"):
        response = client.get(path, headers={"Accept": accept})
        assert response.status_code == 200 and response.headers["content-type"] == "application/json", (path, response.text)
    response = client.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers={**YAML, "Accept": accept})
    assert response.status_code == 200, response.text


def test_only_the_json_routes_negotiate_and_the_document_declares_their_406(client):
    assert client.get("/health", headers={"Accept": "text/html"}).status_code == 406
    metrics = client.get("/metrics", headers={"Accept": "text/html"})     # text, for scrapers whatever they send
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'regcode_errors_total{code="request.not_acceptable"}' in metrics.text
    spec = client.get("/openapi.json").json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            json_route = "application/json" in (op["responses"].get("200", {}).get("content") or {})
            assert ("406" in op["responses"]) == json_route, (method, path)
            if json_route:
                assert op["responses"]["406"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "406" not in spec["paths"]["/metrics"]["get"]["responses"] and "406" in spec["paths"]["/health"]["head"]["responses"]


def test_every_answer_of_a_negotiating_route_says_vary_accept_and_no_other_does():
    """A route whose answer depends on Accept (a 406, or its JSON) sends `Vary: Accept` with every answer it makes,
    its problems included, so that a cache does not give one client's 406 (or JSON) to another (RFC 9110 12.5.5).
    The negotiating routes are found from the app itself, so a new JSON route is covered here without an edit.
    /metrics, the document and the docs answer the same whatever Accept says, and a 405 or an unmatched path did
    not reach a route: no Vary. (servekit checks the same of every answer of every service test.)"""
    from fastapi.routing import APIRoute

    from regcode.service.app import negotiates
    case = (CASES / "aa-clean.yaml").read_bytes()
    asks = {   # (method, path template) -> (path, request arguments) of an answer the route makes itself
        ("GET", "/health"): ("/health", {}), ("HEAD", "/health"): ("/health", {}),
        ("GET", "/v1/policies"): ("/v1/policies", {}), ("HEAD", "/v1/policies"): ("/v1/policies", {}),
        ("GET", "/v1/policies/{policy_id}/{version}"): ("/v1/policies/shanghai-post-license/2017", {}),
        ("HEAD", "/v1/policies/{policy_id}/{version}"): ("/v1/policies/shanghai-post-license/2017", {}),
        ("POST", "/v1/evaluate"): ("/v1/evaluate", {"content": case, "headers": YAML}),
        ("POST", "/v1/evaluate/batch"): ("/v1/evaluate/batch", {"content": b"[]"}),
        ("POST", "/v1/admin/reload"): ("/v1/admin/reload", {}),
    }
    with serving(workers=1, enable_admin=True) as client:
        routes = [r for r in client.app.app.router.routes if isinstance(r, APIRoute)]
        found = {(m, r.path) for r in routes for m in ("GET", "HEAD", "POST") if negotiates(r, m)}
        assert found == set(asks), found ^ set(asks)
        for (method, _), (path, more) in sorted(asks.items()):
            accepts = ["text/html"] if path == "/v1/admin/reload" else ["text/html", "*/*"]    # (no reload is run)
            answers = [client.request(method, path, **{**more, "headers": {**more.get("headers", {}), "Accept": accept}})
                       for accept in accepts]
            answers.append(client.request(method, path + "?nope=1", **more))   # a 400 request.query (/health takes any)
            statuses = [a.status_code for a in answers]
            assert statuses == [406, *[200] * (len(accepts) - 1), 200 if path == "/health" else 400], (method, path, statuses)
            for answer in answers:
                assert answer.headers.get("vary") == "Accept", (method, path, answer.status_code, answer.headers.get("vary"))
        others = [("GET", "/metrics"), ("HEAD", "/metrics"), ("GET", "/openapi.json"), ("GET", "/docs"),
                  ("PUT", "/health"), ("DELETE", "/v1/evaluate"), ("GET", "/nowhere"), ("GET", "/health%0A")]
        for method, path in others:
            for accept in ("text/html", "*/*"):
                answer = client.request(method, path, headers={"Accept": accept})
                assert answer.status_code != 406 and "vary" not in answer.headers, (method, path, answer.status_code)


def test_vary_names_accept_once_beside_what_it_names_already():
    from starlette.datastructures import MutableHeaders

    from regcode.service.app import vary_on
    for before, after in [(None, "Accept"), ("Origin", "Origin, Accept"), ("origin, ACCEPT", "origin, ACCEPT"), ("*", "*")]:
        headers = MutableHeaders(raw=[(b"vary", before.encode())] if before else [])
        vary_on(headers, "Accept")
        assert headers.get("vary") == after, (before, headers.get("vary"))
