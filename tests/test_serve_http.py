"""The real server with requests no HTTP client library sends: malformed ones, cut short, in odd forms (raw sockets,
on one `regcode serve` process on a free loopback port). Each gets a problem, never uvicorn's text/plain."""
from __future__ import annotations

import json
import re
import select
import socket
import time
import urllib.error
import urllib.request

import pytest

from servekit import CASES
from test_serve_process import start, stop

PROBLEM = "application/problem+json"
READ_TIMEOUT = 2        # seconds: the server's --read-timeout here (exchange waits 5 s at most for what it sends back)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("http")
    proc, base, err = start(folder, "--workers", "1", "--read-timeout", str(READ_TIMEOUT))
    try:
        yield int(base.rsplit(":", 1)[1]), folder / "stderr.txt"
    finally:
        stop(proc, err)


def exchange(port: int, data: bytes, close_write: bool = False) -> bytes:
    """Everything the server sends back until it closes the connection (a 5 s bound)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def answer(raw: bytes) -> tuple:
    """(status, {header: value}, body) of one HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    return int(lines[0].split()[1]), headers, body


def metric(port: int, code: str) -> int:
    body = answer(exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[2].decode()
    for line in body.splitlines():
        if line.startswith(f'regcode_errors_total{{code="{code}"}} '):
            return int(line.split()[-1])
    return 0


POST = b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
MALFORMED = {
    "bad request line": (b"GARBAGE\r\n\r\n", "request.syntax", "the request line `GARBAGE`"),
    "header without a colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n", "request.syntax",
                               "the header line `BadHeader` is not `Name: value`"),
    "Content-Length abc": (POST + b"Content-Length: abc\r\n\r\n", "request.syntax", "Content-Length header is not a number"),
    "Content-Length -1": (POST + b"Content-Length: -1\r\n\r\n", "request.syntax", "Content-Length header is not a number"),
    "two Content-Lengths": (POST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "request.syntax",
                            "Content-Length header is given with different values"),
    "malformed chunk": (POST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "request.syntax",
                        "the chunk header `zz` is not a chunk's size in hexadecimal"),
    "Transfer-Encoding and Content-Length": (POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                                             "request.syntax", "both a Transfer-Encoding and a Content-Length header"),
    "unencoded UTF-8 path": ("GET /v1/policies/嘉定 HTTP/1.1\r\nHost: x\r\n\r\n".encode(), "request.syntax",
                             "the path `/v1/policies/嘉定` is not percent-encoded"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_request_the_http_parser_refuses_is_a_400_problem_naming_the_fault_and_the_connection_closes(server, name):
    port, _ = server
    data, code, said = MALFORMED[name]
    status, headers, body = answer(exchange(port, data))
    assert status == 400 and headers["content-type"] == PROBLEM and headers["connection"] == "close"
    problem = json.loads(body)      # the whole body, as Content-Length says: then the server closed (exchange ended)
    assert len(body) == int(headers["content-length"])
    assert problem["status"] == 400 and [e["code"] for e in problem["errors"]] == [code]
    assert said in problem["errors"][0]["message"], problem


def test_curl_s_unencoded_utf8_query_is_a_request_query_problem_with_the_query_percent_encoded(server):
    port, _ = server
    before = metric(port, "request.query")
    body = (CASES / "aa-clean.yaml").read_bytes()
    request = ("POST /v1/evaluate?source=嘉定区/aa.yaml HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.5.0\r\n"
               f"Content-Type: application/yaml\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    status, headers, raw = answer(exchange(port, request))
    assert status == 400 and headers["content-type"] == PROBLEM
    [issue] = json.loads(raw)["errors"]
    assert issue["code"] == "request.query" and issue["location"]["path"] == "query"
    assert issue["message"] == "the query `source=嘉定区/aa.yaml` is not percent-encoded: a URL is sent as ASCII"
    assert "`/v1/evaluate?source=%E5%98%89%E5%AE%9A%E5%8C%BA/aa.yaml`" in issue["hint"]
    assert metric(port, "request.query") == before + 1


def test_a_client_that_disconnects_mid_body_is_one_quiet_line_counted_as_request_disconnected(server):
    port, stderr = server
    before = metric(port, "request.disconnected")
    assert exchange(port, POST + b"Content-Length: 100\r\n\r\n{}", close_write=True) == b""   # nobody to answer
    for _ in range(50):     # the server sees the close on its own time: at most 5 s
        if metric(port, "request.disconnected") > before:
            break
        time.sleep(0.1)
    assert metric(port, "request.disconnected") == before + 1
    assert metric(port, "internal.error") == 0
    text = stderr.read_text(encoding="utf-8")
    assert "INFO:     client disconnected before its request body was read: POST /v1/evaluate (2 of 100 bytes received)" in text
    assert "Traceback" not in text and "internal error" not in text and "ClientDisconnect" not in text


def get(port: int, target: bytes, headers: bytes = b"") -> tuple:
    return answer(exchange(port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"Connection: close\r\n\r\n"))


def test_a_target_in_absolute_form_is_served_as_its_path_and_one_that_is_no_path_is_a_400(server):
    port, _ = server
    status, headers, body = get(port, b"http://x/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, headers, body = get(port, b"http://x/v1/policies")
    assert status == 200 and json.loads(body)["policies"][0]["id"] == "shanghai-post-license"
    status, headers, body = get(port, b"health")
    assert status == 400 and headers["content-type"] == PROBLEM
    [issue] = json.loads(body)["errors"]
    assert issue["code"] == "request.syntax" and issue["hint"] == "send `GET /health`", issue
    assert "is not a path: a path starts with `/`" in issue["message"]


def test_an_encoded_slash_is_no_separator_a_404_problem(server):
    port, _ = server
    assert get(port, b"/v1/policies/shanghai-post-license/2017")[0] == 200
    status, headers, body = get(port, b"/v1/policies/shanghai-post-license%2F2017")
    assert status == 404 and headers["content-type"] == PROBLEM
    [issue] = json.loads(body)["errors"]
    assert issue["code"] == "request.not_found" and "an encoded slash (%2F) is not a separator" in issue["message"]


def test_a_content_type_with_bytes_past_ascii_is_quoted_escaped_not_garbled(server):
    port, _ = server
    for value, said in ((b"application/json; charset=\xe6\xb5\xa6", "the Content-Type header 'application/json; charset=\\xe6\\xb5\\xa6'"),
                        (b'application/json; charset="\xe6\xb5\xa6"', "the body's charset '\\xe6\\xb5\\xa6'")):
        status, headers, body = answer(exchange(port, b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: " + value
                                                + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
        assert status == 415 and headers["content-type"] == PROBLEM
        [issue] = json.loads(body)["errors"]
        assert said in issue["message"] and "æ" not in issue["message"], issue


def test_http_1_0_is_answered_and_closed_and_a_body_without_its_length_is_a_411_not_an_empty_case(server):
    """An HTTP/1.0 client (no Host, no keep-alive) gets its answer and the connection closes after it; its POST with
    Content-Length is evaluated as any; one without Content-Length has no body in HTTP/1.x, which is said as such
    (411, naming the header), never as the case file being empty."""
    port, _ = server
    status, headers, body = answer(exchange(port, b"GET /health HTTP/1.0\r\n\r\n"))
    assert status == 200 and headers["connection"] == "close" and json.loads(body)["status"] == "ok"
    case = (CASES / "aa-clean.yaml").read_bytes()
    head = b"POST /v1/evaluate HTTP/1.0\r\nContent-Type: application/yaml\r\n"
    status, headers, body = answer(exchange(port, head + b"Content-Length: %d\r\n\r\n" % len(case) + case))
    assert status == 200 and json.loads(body)["decisions"]["classification"] == "aa", body
    status, headers, body = answer(exchange(port, head + b"\r\n" + case))
    assert status == 411 and headers["content-type"] == PROBLEM
    [issue] = json.loads(body)["errors"]
    assert issue["code"] == "request.length_required" and issue["location"]["path"] == "header.content-length", issue
    assert "has no Content-Length header" in issue["message"] and "`Content-Length: 42` (curl --data-binary @case.yaml" in issue["hint"]
    for chunked in (b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(case) + case + b"\r\n0\r\n\r\n",):
        status, _, body = answer(exchange(port, POST.replace(b"application/json", b"application/yaml")
                                          + b"Connection: close\r\n" + chunked))
        assert status == 200 and json.loads(body)["decisions"]["classification"] == "aa", body


def test_a_content_length_of_more_digits_than_any_body_is_a_413_not_called_no_number(server):
    port, _ = server
    status, headers, body = answer(exchange(port, POST + b"Content-Length: 99999999999999999999999\r\n\r\n{}"))
    assert status == 413 and headers["content-type"] == PROBLEM and headers["connection"] == "close"
    [issue] = json.loads(body)["errors"]
    assert issue["code"] == "request.too_large" and issue["location"]["path"] == "header.content-length", issue
    assert issue["message"] == "the request body is 99999999999999999999999 bytes (its Content-Length); at most 8388608 bytes are accepted"


def test_a_413_to_a_client_that_sends_the_whole_body_with_connection_close_arrives_not_a_reset(server):
    """urllib sends `Connection: close` and the whole body before it reads the reply: the server answers from the
    Content-Length, then reads and drops the rest (bounded), so the client reads the 413 instead of a reset."""
    port, _ = server
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/evaluate", data=b" " * (16 << 20),
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413 and refused.value.headers["content-type"] == PROBLEM
    assert json.loads(refused.value.read())["errors"][0]["code"] == "request.too_large"


def test_a_413_on_a_kept_alive_connection_closes_it_instead_of_reading_the_whole_body(server):
    port, _ = server
    status, headers, body = answer(exchange(port, POST + b"Content-Length: 9000000000\r\n\r\n{"))
    assert status == 413 and headers["connection"] == "close"     # and exchange ended: the server closed


def test_a_request_head_or_body_that_does_not_arrive_in_time_is_a_408_and_the_connection_closes(server):
    """Slowloris: part of a head, a body that stops, a head sent a byte at a time: each is a 408 problem after the
    read timeout, and the connection is closed (exchange returns only once it is); one that sends nothing is closed."""
    port, stderr = server
    before = metric(port, "request.timeout")
    status, headers, body = answer(exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n"))
    assert status == 408 and headers["content-type"] == PROBLEM and headers["connection"] == "close"
    [issue] = json.loads(body)["errors"]
    assert issue["code"] == "request.timeout" and issue["message"] == (
        f"the request's head (its request line and headers) did not arrive within {READ_TIMEOUT} s (31 bytes of it received)")
    assert "--read-timeout" in issue["hint"]
    status, headers, body = answer(exchange(port, POST + b"Content-Length: 100\r\n\r\n{"))
    assert status == 408 and headers["connection"] == "close"
    [issue] = json.loads(body)["errors"]
    assert issue["message"] == f"the request body paused for more than {READ_TIMEOUT} s" and issue["location"]["path"] == "body"
    assert exchange(port, b"") == b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        got = b""
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:   # 64 bytes, one each 0.25 s: 16 s
            try:
                sock.send(bytes([byte]))
            except OSError:     # the server closed first
                break
            ready, _, _ = select.select([sock], [], [], 0.25)
            if ready:
                break
        while chunk := sock.recv(65536):
            got += chunk
    assert answer(got)[0] == 408, got
    assert metric(port, "request.timeout") == before + 3
    text = stderr.read_text(encoding="utf-8")
    assert f"POST /v1/evaluate: the request body paused for more than {READ_TIMEOUT} s" in text
    assert "(1 of 100 bytes received)" not in text      # the body that timed out is not said to be the client's disconnecting


HEADS_TOO_LARGE = {  # a request head past the 16 KiB the server reads, however it arrives
    "not ended yet past the limit": b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 20000,
    # ended in the same read as it passed the limit: h11 read it whole (a 100,000-byte header was a 200)
    "ended, 100,000 bytes in one piece": b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 100_000 + b"\r\n\r\n",
    "ended, a byte past the limit": b"GET /health HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (16385 - 38) + b"\r\n\r\n",
}


@pytest.mark.parametrize("name", list(HEADS_TOO_LARGE))
def test_headers_past_what_the_server_reads_are_a_431_saying_so_with_the_limit_and_the_fix(server, name):
    """h11 reads at most 16 KiB of a request head: past it, a 431 that says the headers are too large, by how much
    at most, and what to do, with its own title, not a `request.syntax` 'Receive buffer too long'; the document
    declares it for the route, with the Problem schema."""
    from servekit import check_answer

    port, _ = server
    assert len(HEADS_TOO_LARGE[name]) > 16384
    status, headers, body = answer(exchange(port, HEADS_TOO_LARGE[name]))
    assert status == 431 and headers["content-type"] == PROBLEM and headers["connection"] == "close", body
    problem = json.loads(body)
    assert problem["title"] == "The request's headers are too large" and problem["status"] == 431
    [issue] = problem["errors"]
    assert issue["code"] == "request.headers_too_large", issue
    assert "headers are too large" in issue["message"] and "16384 bytes" in issue["message"], issue
    assert "Receive buffer" not in body.decode() and "RFC 9112" not in body.decode()
    assert "fewer or shorter headers" in issue["hint"]
    spec = json.loads(answer(exchange(port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[2])
    check_answer(spec, "/health", "get", 431, PROBLEM, body)
    assert metric(port, "request.headers_too_large") >= 1


def test_a_head_of_16_kib_in_one_piece_is_read(server):
    port, _ = server
    start = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX: "
    head = start + b"a" * (16384 - len(start) - 4) + b"\r\n\r\n"
    assert len(head) == 16384
    assert answer(exchange(port, head))[0] == 200


def test_the_http_readers_refusals_are_what_the_document_declares(server):
    port, _ = server
    from servekit import check_answer

    spec = json.loads(answer(exchange(port, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[2])
    for path, data in (("/health", MALFORMED["header without a colon"][0]), ("/v1/evaluate", MALFORMED["Content-Length abc"][0]),
                       ("/v1/evaluate", POST + b"Content-Length: 99999999999999999999999\r\n\r\n{")):
        status, headers, body = answer(exchange(port, data))
        check_answer(spec, path, "get" if path == "/health" else "post", status, headers["content-type"], body)


def test_a_yaml_case_sent_by_http_client_without_a_content_type_gets_the_hint_to_say_yaml(server):
    import http.client

    port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/v1/evaluate", body=(CASES / "aa-clean.yaml").read_bytes())    # no Content-Type sent
        response = conn.getresponse()
        problem = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 400 and response.getheader("content-type") == PROBLEM
    [issue] = problem["errors"]
    assert issue["code"] == "input.syntax" and issue["hint"].startswith("the body reads as YAML: send it with "
                                                                        "Content-Type: application/yaml"), issue


@pytest.mark.parametrize("version", [b"2.0", b"0.9", b"3", b"10.0"])
def test_a_request_in_an_http_version_other_than_1_x_is_a_400_problem_and_the_connection_closes(server, version):
    """h11 read `GET /health HTTP/2.0` as HTTP/1.1 (a 200, kept alive); a version it cannot read (HTTP/3) was a 400
    calling the request line malformed. Each is a 400 naming the version (not RFC 9110's 505: nothing a client sends
    is answered with a 5xx here), then the connection closes: a request pipelined after it is not answered."""
    from servekit import check_answer

    port, _ = server
    before = metric(port, "request.http_version")
    follow = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = exchange(port, b"GET /health HTTP/" + version + b"\r\nHost: x\r\n\r\n" + follow)
    status, headers, body = answer(raw)
    assert status == 400 and raw.startswith(b"HTTP/1.1 400 Bad Request\r\n"), raw[:200]
    assert headers["content-type"] == PROBLEM and headers["connection"].lower() == "close"
    assert len(body) == int(headers["content-length"])      # everything after the head: no answer to `follow`
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["title"] == "The request is malformed"
    [issue] = problem["errors"]
    assert issue["code"] == "request.http_version" and issue["location"]["path"] == "request-line", issue
    assert issue["message"] == f"the request is HTTP/{version.decode()}; this server speaks HTTP/1.1 (and HTTP/1.0), over plain TCP"
    spec = json.loads(get(port, b"/openapi.json")[2])
    check_answer(spec, "/health", "get", status, headers["content-type"], body)
    assert metric(port, "request.http_version") == before + 1


def test_a_higher_minor_version_of_http_1_is_served_as_http_1_1(server):
    port, _ = server        # RFC 9112 2.6: the highest minor version of the major one implemented
    status, _, body = answer(exchange(port, b"GET /health HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_an_http2_client_with_prior_knowledge_is_refused_in_http2_framing_with_http_1_1_required(server):
    """Its preface `PRI * HTTP/2.0`, then a SETTINGS frame: an HTTP/1.1 refusal would be bytes it cannot read (curl says
    `Empty reply from server`); it gets the server's empty SETTINGS and a GOAWAY (no stream processed,
    HTTP_1_1_REQUIRED), and nothing else, then the connection closes."""
    port, _ = server
    before = metric(port, "request.http_version")
    settings = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00\x64"   # SETTINGS_MAX_CONCURRENT_STREAMS 100
    raw = exchange(port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + settings)
    settings_frame, goaway = raw[:9], raw[9:]
    assert settings_frame == b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", raw           # length 0, type SETTINGS, stream 0
    assert goaway[:9] == b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" and len(goaway) == 17, raw   # GOAWAY, 8 bytes, stream 0
    assert int.from_bytes(goaway[9:13], "big") == 0 and int.from_bytes(goaway[13:17], "big") == 0xD
    assert metric(port, "request.http_version") == before + 1


def scrape(port: int) -> str:
    return answer(exchange(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))[2].decode()


def samples(text: str, prefix: str = "regcode_http_requests_total") -> dict:
    """The series of `prefix` in a scrape: {labels: value}."""
    return {line[len(prefix):].rsplit(" ", 1)[0]: int(float(line.rsplit(" ", 1)[1]))
            for line in text.splitlines() if line.startswith(prefix + "{")}


def requests_counted(port: int) -> dict:
    """regcode_http_requests_total's series: {labels: count}."""
    return samples(scrape(port))


TIMED = "regcode_http_request_duration_seconds_count"
FAST = "regcode_http_request_duration_seconds_bucket"


def test_every_answer_is_counted_once_the_http_readers_refusals_under_refused_with_a_bounded_method(server):
    """The HTTP reader's refusals (400, 408, 413, 431 ...) never reach the app, whose middleware counted every other
    answer: each is counted, as route `(refused)`, and the method label is one of RFC 9110's or `other`. The latency
    histogram has each answer too, under the same route, method and status: the refusals were counted but not timed."""
    port, _ = server
    close = b"Host: x\r\nConnection: close\r\n\r\n"
    sent = [   # (request, the series it is counted in)
        (b"GARBAGE\r\n\r\n", '{method="other",route="(refused)",status="400"}'),
        (MALFORMED["header without a colon"][0], '{method="GET",route="(refused)",status="400"}'),
        (MALFORMED["Transfer-Encoding and Content-Length"][0], '{method="POST",route="(refused)",status="400"}'),
        (POST + b"Content-Length: 99999999999999999999999\r\n\r\n{", '{method="POST",route="(refused)",status="413"}'),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * 20000, '{method="GET",route="(refused)",status="431"}'),
        (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", '{method="GET",route="(refused)",status="400"}'),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", '{method="other",route="(refused)",status="400"}'),
        (b"XYZZY-" + b"Q" * 40 + b" /health HTTP/1.1\r\n" + close, '{method="other",route="/health",status="405"}'),
        (b"get /health HTTP/1.1\r\n" + close, '{method="other",route="/health",status="405"}'),   # case-sensitive
        (b"GET /health%0A HTTP/1.1\r\n" + close, '{method="GET",route="(refused)",status="404"}'),
        (b"GET /nowhere HTTP/1.1\r\n" + close, '{method="GET",route="unmatched",status="404"}'),
        (b"GET /health HTTP/1.1\r\n" + close, '{method="GET",route="/health",status="200"}'),
        (b"GET /health HTTP/1.1\r\nHost: x\r\n", '{method="GET",route="(refused)",status="408"}'),   # a head cut short
        (POST + b"Content-Length: 100\r\n\r\n{", '{method="POST",route="/v1/evaluate",status="408"}'),  # a body
        (b"POST /v1/evaluate HTTP/1.1\r\n" + close, '{method="POST",route="/v1/evaluate",status="411"}'),
        (b"POST /v1/evaluate HTTP/1.1\r\nContent-Type: text/csv\r\nContent-Length: 2\r\n" + close + b"{}",
         '{method="POST",route="/v1/evaluate",status="415"}'),
        (POST + b"Content-Length: 9000000000\r\nConnection: close\r\n\r\n{", '{method="POST",route="/v1/evaluate",status="413"}'),
        (b"PUT /health HTTP/1.1\r\n" + close, '{method="PUT",route="/health",status="405"}'),
    ]
    text = scrape(port)
    before, timed_before = samples(text), samples(text, TIMED)
    refused_408 = '{method="GET",route="(refused)",status="408",le="%s"}'
    fast_before = {le: samples(text, FAST).get(refused_408 % le, 0) for le in ("1", "+Inf")}
    expected = dict(before)
    expected['{method="GET",route="/metrics",status="200"}'] = expected.get('{method="GET",route="/metrics",status="200"}', 0) + 1
    for data, series in sent:
        assert exchange(port, data), data[:40]      # an answer, then the server closed
        expected[series] = expected.get(series, 0) + 1
    text = scrape(port)
    after = samples(text)
    assert after == expected, {k: (before.get(k, 0), after.get(k, 0), expected.get(k, 0)) for k in set(after) | set(expected)
                               if after.get(k) != expected.get(k)}
    assert sum(after.values()) == sum(before.values()) + len(sent) + 1
    methods = {re.search(r'method="([^"]*)"', k).group(1) for k in after}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"}, methods
    # timed as counted: the same series, each answer once
    timed = samples(text, TIMED)
    assert {k: v - timed_before.get(k, 0) for k, v in timed.items() if v != timed_before.get(k, 0)} == {
        k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    # a refusal is timed from its request's first byte: the head cut short waited the read timeout (2 s), not 0
    fast = {le: samples(text, FAST).get(refused_408 % le, 0) for le in ("1", "+Inf")}
    assert (fast["1"], fast["+Inf"]) == (fast_before["1"], fast_before["+Inf"] + 1), (fast_before, fast)


def test_a_websocket_upgrade_is_served_as_the_plain_request_it_is_not_a_bare_403(server):
    """No route is a WebSocket: the Upgrade header is ignored (RFC 9110 7.8), whether or not a WebSocket library is
    installed (with wsproto, uvicorn's default handed it over, and the client got `403` with no body, uncounted)."""
    port, _ = server
    before = requests_counted(port)
    upgrade = (b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n")
    status, headers, body = get(port, b"/health", upgrade)
    assert status == 200 and json.loads(body)["status"] == "ok", body
    status, headers, body = get(port, b"/nowhere", upgrade)
    assert status == 404 and headers["content-type"] == PROBLEM
    after = requests_counted(port)
    assert after['{method="GET",route="/health",status="200"}'] == before.get('{method="GET",route="/health",status="200"}', 0) + 1
