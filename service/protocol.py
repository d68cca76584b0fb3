"""uvicorn's h11 protocol, with what a server facing clients needs and uvicorn lacks:
- a request its HTTP parser refuses gets a problem+json naming the fault, not the text/plain `Invalid HTTP
  request received.` (still logged so, and the connection still closed);
- a request framed twice (Transfer-Encoding and Content-Length) is refused (RFC 9112 6.3: a smuggling risk);
- a connection closed before its request was read to the end is closed lingering: the response is sent, the
  writing side shut down, and what the client still sends is read and dropped (bounded in bytes and time),
  so that the client reads the response instead of a reset (a 413 to `Connection: close` clients);
- read timeouts: a request head must arrive within `read_timeout`, and a body may pause no longer than that,
  else a 408 problem (when a response can still be sent) and the connection closed (slowloris).

h11 is named, not uvicorn's `auto` (httptools when it is installed): the parser decides what is refused and
what the problems say, and that must not depend on whether some other package happens to be installed."""
from __future__ import annotations

import ast
import logging
import re
import sys
import time
from http import HTTPStatus
from typing import Optional
from urllib.parse import quote

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..engine import Issue, Location
from .app import READ_TIMED_OUT as TIMED_OUT, READ_TIMEOUT
from .metrics import REFUSED
from .problems import MEDIA_TYPE, problem_body, read_timeout_issue

log = logging.getLogger("regcode.serve")

LINGER_SECONDS = 5.0        # a closing connection's unread request is read and dropped this long at most
LINGER_BYTES = 64 << 20     # ... and this much at most
HEAD_KEPT = 64 << 10        # bytes of a request head kept, to quote a refused header from (h11 reads at most 16 KiB)

_QUOTED = re.compile(r"^([A-Za-z][\w -]*?): bytearray\((b'.*'|b\".*\")\)$", re.S)
_URL_SAFE = "/?=&%:@!$'()*+,;-._~[]"    # what stays as it is when a target's non-ASCII bytes are percent-encoded


def _path_shown(scope) -> str:
    from .app import _path_shown as shown
    return shown(scope)


def _text(raw: bytes) -> str:
    from .app import _shown
    return _shown(raw.decode("utf-8", "backslashreplace"))


_VERSION = re.compile(rb"HTTP/(\d+)(?:\.\d+)?\Z")   # an HTTP version, also where h11 reads none (HTTP/2, HTTP/10.0)


def version_issue(version: str) -> Issue:
    """The issue of a request in an HTTP version this server does not speak (the major version, RFC 9110 2.5): a 400,
    not RFC 9110's 505, as everything a client sent that is refused is a 4xx here (never a 5xx: that says a fault of ours)."""
    return Issue("request.http_version", f"the request is HTTP/{_text(version.encode())}; this server speaks HTTP/1.1 "
                 "(and HTTP/1.0), over plain TCP", Location(path="request-line"),
                 "send it as HTTP/1.1, `METHOD /path HTTP/1.1`; with curl, without --http2-prior-knowledge")


def _request_line(line: bytes) -> Issue:
    parts = line.split(b" ")
    target = parts[1] if len(parts) == 3 else b""
    version = _VERSION.match(parts[-1]) if len(parts) == 3 else None
    if version is not None and version.group(1) != b"1":
        return version_issue(parts[-1][len(b"HTTP/"):].decode("ascii"))
    if target and any(b > 0x7E for b in target):
        path, mark, query = target.partition(b"?")
        fixed = quote(target, safe=_URL_SAFE)
        if any(b > 0x7E for b in query):
            return Issue("request.query", f"the query `{_text(query)}` is not percent-encoded: a URL is sent as ASCII",
                         Location(path="query"), f"percent-encode the query's UTF-8 bytes: `{_text(fixed.encode())}`")
        return Issue("request.syntax", f"the path `{_text(path)}` is not percent-encoded: a URL is sent as ASCII",
                     Location(path="request-line"), f"percent-encode the path's UTF-8 bytes: `{_text(fixed.encode())}`")
    return Issue("request.syntax", f"the request line `{_text(line)}` is not `METHOD /path HTTP/1.1`",
                 Location(path="request-line"), "send e.g. `POST /v1/evaluate HTTP/1.1`")


def _content_lengths(head: bytes) -> list:
    """The values of the Content-Length headers in a request head's bytes."""
    return [m.group(1).strip(b" \t") for m in re.finditer(rb"\r?\ncontent-length[ \t]*:([^\r\n]*)", head, re.I)]


def fault(exc: Optional[BaseException], head: bytes = b"", max_body_bytes: Optional[int] = None,
          max_head_bytes: int = DEFAULT_MAX_INCOMPLETE_EVENT_SIZE) -> tuple:
    """(status, issue) for an error of h11's reading a request. `head`: the bytes of the request head as received
    (to tell a Content-Length too long for h11 from one that is not a number); `max_body_bytes`: the body limit;
    `max_head_bytes`: how much of a request head h11 reads."""
    message = str(exc) if exc is not None else ""
    status = getattr(exc, "error_status_hint", 400)
    status = status if 400 <= status < 500 else 400        # h11's 501 (a transfer coding it lacks) is the request's
    quoted = _QUOTED.match(message)
    what, raw = (quoted.group(1), ast.literal_eval(quoted.group(2))) if quoted else (message, b"")
    if message == "Receive buffer too long" or status == 431:
        # h11's words for a request head (its request line and headers) past what it reads, with no end in sight
        return 431, Issue("request.headers_too_large", f"the request's headers are too large: its request line and "
                          f"headers are more than {max_head_bytes} bytes, the most the server reads",
                          Location(path="header"), "send fewer or shorter headers (a large cookie or token, a long URL: "
                          "send the data in the body instead)")
    if message.startswith(UNSUPPORTED):
        return 400, version_issue(message[len(UNSUPPORTED):])
    if what == "illegal request line":
        issue = _request_line(raw)
        return (400 if issue.code == "request.http_version" else status), issue
    if what == "illegal header line":
        return status, Issue("request.syntax", f"the header line `{_text(raw)}` is not `Name: value`",
                             Location(path="header"), "send each header as `Name: value`, one a line")
    if what == "illegal chunk header":
        return status, Issue("request.syntax", f"the chunked body is malformed: the chunk header `{_text(raw.rstrip())}` "
                             "is not a chunk's size in hexadecimal", Location(path="body"),
                             "send `Transfer-Encoding: chunked` chunks as SIZE-IN-HEX CRLF DATA CRLF, ending with 0 CRLF CRLF "
                             "(or send a Content-Length and the body as it is)")
    if message == "both Transfer-Encoding and Content-Length":
        return 400, Issue("request.syntax", "the request has both a Transfer-Encoding and a Content-Length header: which "
                          "of them frames the body is ambiguous, a request smuggling risk (RFC 9112 6.3), so neither is taken",
                          Location(path="header.transfer-encoding"),
                          "send one: Content-Length for a body of known size, or Transfer-Encoding: chunked without it")
    if message == "bad Content-Length" and any(v.isdigit() for v in _content_lengths(head)):
        # digits, too many of them for h11 (more than 20): a number of bytes no body reaches
        declared = next(v for v in _content_lengths(head) if v.isdigit()).decode("ascii")
        limit = f"at most {max_body_bytes} bytes are accepted" if max_body_bytes else "no body is that large"
        return 413, Issue("request.too_large", f"the request body is {_text(declared.encode())} bytes (its Content-Length); "
                          f"{limit}", Location(path="header.content-length"), "send fewer or smaller case files per request")
    if message == "bad Content-Length":
        return status, Issue("request.syntax", "the Content-Length header is not a number of bytes (digits only)",
                             Location(path="header.content-length"), "send the body's size in bytes, e.g. `Content-Length: 42`")
    if message == "conflicting Content-Length headers":
        return status, Issue("request.syntax", "the Content-Length header is given with different values",
                             Location(path="header.content-length"), "send one Content-Length header")
    return status, Issue("request.syntax", f"the request is not valid HTTP/1.1: {_text(message.encode())}",
                         Location(path="request"), "see RFC 9112 for the message's syntax")


_METHOD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) ")
UNSUPPORTED = "unsupported HTTP version "
H2_PREFACE = "HTTP/2 connection preface"
# To an HTTP/2 client (prior knowledge: curl --http2-prior-knowledge, gRPC), whose preface `PRI * HTTP/2.0` h11 reads
# as a request, an HTTP/1.1 refusal is bytes it cannot read (curl: `Empty reply from server`): it is told in its own
# framing instead (RFC 9113 3.4, 6.8): the server's preface, an empty SETTINGS frame, then GOAWAY with no stream
# processed and HTTP_1_1_REQUIRED (0xd), which such a client reports as that (and may retry as HTTP/1.1).
H2_REFUSAL = (b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"                         # SETTINGS, empty, stream 0
              b"\x00\x00\x08\x07\x00\x00\x00\x00\x00" b"\x00\x00\x00\x00" b"\x00\x00\x00\x0d")  # GOAWAY


class _Connection(h11.Connection):
    """h11's server connection, which also refuses a request framed twice, and one in an HTTP version other than 1.x
    (h11 reads `GET / HTTP/2.0` as HTTP/1.1 would be read: served, kept alive; HTTP/2's preface `PRI * HTTP/2.0`
    reached the routes as a method), and keeps the bytes of the request head being read (h11's errors do not
    quote them). A higher minor version (HTTP/1.2) is read as HTTP/1.1, as RFC 9112 2.6 says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head = bytearray()
        self.method: Optional[bytes] = None     # of the request being read, once its head is read

    def receive_data(self, data: bytes) -> None:
        if self.their_state is h11.IDLE:
            if not self.head:
                self.method = None
            if len(self.head) < HEAD_KEPT:
                self.head += data[:HEAD_KEPT - len(self.head)]
        super().receive_data(data)

    def method_sent(self) -> bytes:
        """The method of the request being refused: its head's first token (b"" when it has none)."""
        if self.method is not None:
            return self.method
        found = _METHOD.match(bytes(self.head) or self.trailing_data[0])
        return found.group(1) if found else b""

    def next_event(self):
        reading_head = self.their_state is h11.IDLE
        buffered = len(self._receive_buffer) if reading_head else 0
        event = super().next_event()
        if isinstance(event, h11.Request) and buffered - len(self._receive_buffer) > self._max_incomplete_event_size:
            # h11 bounds a head only while it is incomplete: one that arrived whole in one read (100,000 bytes of
            # headers in one packet train) was read whatever its size. The same limit, however it arrives.
            raise h11.RemoteProtocolError("Receive buffer too long", error_status_hint=431)
        if isinstance(event, h11.Request):
            self.head = bytearray()
            self.method = event.method
            names = {name.lower() for name, _ in event.headers}
            if event.method == b"PRI" and event.target == b"*" and event.http_version == b"2.0":
                raise h11.RemoteProtocolError(H2_PREFACE, error_status_hint=400)
            if not event.http_version.startswith(b"1."):
                raise h11.RemoteProtocolError(UNSUPPORTED + event.http_version.decode("ascii"), error_status_hint=400)
            if b"transfer-encoding" in names and b"content-length" in names:
                raise h11.RemoteProtocolError("both Transfer-Encoding and Content-Length", error_status_hint=400)
        return event


class _Transport:
    """The connection's transport as uvicorn sees it: closing it closes lingering (ProblemH11Protocol._close)."""

    def __init__(self, transport, protocol: "ProblemH11Protocol"):
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol._close()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._transport.is_closing()

    def __getattr__(self, name):
        return getattr(self._transport, name)


class ProblemH11Protocol(H11Protocol):
    """H11Protocol whose 400 for a request h11 refuses is a problem (uvicorn calls send_400_response while it
    handles h11's RemoteProtocolError: that error says what is wrong), with lingering close and read timeouts
    (see the module's docstring). `metrics`: counted in regcode_errors_total."""

    metrics = None
    read_timeout = READ_TIMEOUT
    max_body_bytes: Optional[int] = None

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.conn = _Connection(h11.SERVER, config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE)
        self.lingering = False
        self._raw = None
        self._timer = None          # the read timeout armed: (kind, TimerHandle), kind "head" or "body"
        self._lingered = 0
        self._began: Optional[float] = None   # perf_counter() at the first byte of the request being read (metrics)

    # -- the connection ---------------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._raw = transport
        self.transport = _Transport(transport, self)
        self._arm("head")           # a connection that sends nothing is not held open either

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:          # the response is sent: what else comes is dropped, up to a bound
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self._raw.close()
            return
        if self._began is None and self.conn.their_state is h11.IDLE:
            self._began = time.perf_counter()
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        # the next request began when this one ended if it is already here (pipelined), else with its first byte
        self._began = time.perf_counter() if self.conn.trailing_data[0] else None
        super().on_response_complete()
        self._watch()

    def _close(self) -> None:
        """Close; while the client may still be sending its request (a body not read, a request refused mid-way),
        shut down writing first and read and drop what comes for a while, so that the client reads the response:
        closing a socket with unread data sends a reset, and the client's kernel drops the response unread."""
        raw = self._raw
        if self.lingering or raw.is_closing():
            return
        unread = self.conn.their_state in (h11.SEND_BODY, h11.ERROR) or (
            self.conn.their_state is h11.IDLE and self.conn.trailing_data[0])
        if not unread or not raw.can_write_eof():
            raw.close()
            return
        self.lingering = True
        self._disarm()
        self._unset_keepalive_if_required()
        raw.write_eof()             # after what is buffered: the response goes out whole, then FIN
        self.flow.resume_reading()  # reading on: the client's end of the request is read, and dropped
        self._timer = ("linger", self.loop.call_later(LINGER_SECONDS, raw.close))

    # -- read timeouts ----------------------------------------------------------------------------
    def _arm(self, kind: str) -> None:
        self._disarm()
        self._timer = (kind, self.loop.call_later(self.read_timeout, self._timed_out, kind))

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None

    def _watch(self) -> None:
        """After what was read: the head's timer runs from its first byte to its end (not restarted by each byte: a
        head sent a byte at a time is still one head); the body's restarts with each piece of it."""
        if self.lingering or self._raw.is_closing():
            return
        theirs, ours = self.conn.their_state, self.conn.our_state
        if theirs is h11.IDLE and ours is h11.IDLE:
            if self.conn.trailing_data[0] and (self._timer is None or self._timer[0] != "head"):
                self._arm("head")
        elif theirs is h11.SEND_BODY and ours is h11.SEND_RESPONSE:
            self._arm("body")
        else:
            self._disarm()

    def _timed_out(self, kind: str) -> None:
        self._timer = None
        if self.lingering or self._raw.is_closing():
            return
        if kind == "body" and self.flow.read_paused:    # we stopped reading, not the client: wait on
            self._arm("body")
            return
        if kind == "head":
            sent = len(self.conn.trailing_data[0])
            if not sent:            # nothing to answer: a connection that never sent a request
                self._raw.close()
                return
            issue = read_timeout_issue("head", self.read_timeout, sent)
            log.info("closed a connection from %s: %s", _peer(self.client), issue.message)
            self._count(issue, 408)
            status, body = problem_body([issue], 408)
            head = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: " + MEDIA_TYPE.encode() + b"\r\ncontent-length: "
                    + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n")
            self._raw.write(head + body)    # h11 sends no response before a request: written as it is
            self._close()
            return
        issue = read_timeout_issue("body", self.read_timeout)
        log.info("closed a connection from %s: %s %s: %s", _peer(self.client), self.scope["method"], _path_shown(self.scope),
                 issue.message)
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self.scope.setdefault("extensions", {})[TIMED_OUT] = True    # the app counts it, its read ending
            self._send_problem(issue, 408)
            cycle.disconnected = True       # the app's read ends (http.disconnect); what it answers goes nowhere
            cycle.message_event.set()
        else:
            self._count(issue)
        self._close()

    # -- problems ---------------------------------------------------------------------------------
    def _count(self, issue: Issue, status: Optional[int] = None) -> None:
        """The issue, and with `status` the request answered so, in regcode_http_requests_total and the latency
        histogram (timed from the request's first byte), unless the app took the request (a body cut by a malformed
        chunk): the app then counts its answer, the one request once."""
        if self.metrics is None:
            return
        self.metrics.inc("regcode_errors_total", code=issue.code)
        taken = self.cycle is not None and not self.cycle.response_complete
        if status is not None and not taken:
            began, self._began = self._began, None
            self.metrics.answered(time.perf_counter() - began if began is not None else 0.0, route=REFUSED,
                                  method=self.conn.method_sent(), status=status)

    def _send_problem(self, issue: Issue, status: int) -> None:
        status, body = problem_body([issue], status)
        headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self._raw.write(self.conn.send(h11.Response(status_code=status, headers=headers,
                                                        reason=HTTPStatus(status).phrase.encode())))
            self._raw.write(self.conn.send(h11.Data(data=body)))
            self._raw.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:      # a response already begun (the app answered before the body was read)
            pass

    def send_400_response(self, msg: str) -> None:
        exc = sys.exc_info()[1]
        if str(exc) == H2_PREFACE:     # an HTTP/2 client: refused in HTTP/2's framing (H2_REFUSAL), counted as the 400 it is
            self._count(version_issue("2.0"), 400)
            self._raw.write(H2_REFUSAL)
            self.transport.close()
            return
        status, issue = fault(exc, bytes(self.conn.head), self.max_body_bytes, self.conn._max_incomplete_event_size)
        self._count(issue, status)
        self._send_problem(issue, status)
        self.transport.close()


def _peer(client) -> str:
    return "%s:%d" % tuple(client[:2]) if client else "a client"


def protocol(metrics=None, read_timeout: float = READ_TIMEOUT, max_body_bytes: Optional[int] = None) -> type:
    """The protocol class for uvicorn.Config(http=...), counting its problems in `metrics`, with the read timeout
    and the body limit of the service (the limit is also said for a Content-Length of more digits than h11 reads)."""
    return type("ProblemH11Protocol", (ProblemH11Protocol,),
                {"metrics": metrics, "read_timeout": read_timeout, "max_body_bytes": max_body_bytes})
