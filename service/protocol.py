"""uvicorn's h11 protocol, its one change: a request its HTTP parser refuses gets a problem+json naming the fault,
not the text/plain `Invalid HTTP request received.` (still logged so, and the connection still closed).

h11 is named, not uvicorn's `auto` (httptools when it is installed): the parser decides what is refused and
what the problems say, and that must not depend on whether some other package happens to be installed."""
from __future__ import annotations

import ast
import re
import sys
from http import HTTPStatus
from typing import Optional
from urllib.parse import quote

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..engine import Issue, Location
from .problems import MEDIA_TYPE, problem_body

_QUOTED = re.compile(r"^([A-Za-z][\w -]*?): bytearray\((b'.*'|b\".*\")\)$", re.S)
_URL_SAFE = "/?=&%:@!$'()*+,;-._~[]"    # what stays as it is when a target's non-ASCII bytes are percent-encoded


def _text(raw: bytes) -> str:
    from .app import _shown
    return _shown(raw.decode("utf-8", "backslashreplace"))


def _request_line(line: bytes) -> Issue:
    parts = line.split(b" ")
    target = parts[1] if len(parts) == 3 else b""
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


def fault(exc: Optional[BaseException]) -> tuple:
    """(status, issue) for an error of h11's reading a request."""
    message = str(exc) if exc is not None else ""
    status = getattr(exc, "error_status_hint", 400)
    status = status if 400 <= status < 500 else 400        # h11's 501 (a transfer coding it lacks) is the request's
    quoted = _QUOTED.match(message)
    what, raw = (quoted.group(1), ast.literal_eval(quoted.group(2))) if quoted else (message, b"")
    if what == "illegal request line":
        return status, _request_line(raw)
    if what == "illegal header line":
        return status, Issue("request.syntax", f"the header line `{_text(raw)}` is not `Name: value`",
                             Location(path="header"), "send each header as `Name: value`, one a line")
    if what == "illegal chunk header":
        return status, Issue("request.syntax", f"the chunked body is malformed: the chunk header `{_text(raw.rstrip())}` "
                             "is not a chunk's size in hexadecimal", Location(path="body"),
                             "send `Transfer-Encoding: chunked` chunks as SIZE-IN-HEX CRLF DATA CRLF, ending with 0 CRLF CRLF "
                             "(or send a Content-Length and the body as it is)")
    if message == "bad Content-Length":
        return status, Issue("request.syntax", "the Content-Length header is not a number of bytes (digits only)",
                             Location(path="header.content-length"), "send the body's size in bytes, e.g. `Content-Length: 42`")
    if message == "conflicting Content-Length headers":
        return status, Issue("request.syntax", "the Content-Length header is given with different values",
                             Location(path="header.content-length"), "send one Content-Length header")
    return status, Issue("request.syntax", f"the request is not valid HTTP/1.1: {_text(message.encode())}",
                         Location(path="request"), "see RFC 9112 for the message's syntax")


class ProblemH11Protocol(H11Protocol):
    """H11Protocol whose 400 for a request h11 refuses is a problem (uvicorn calls send_400_response while it
    handles h11's RemoteProtocolError: that error says what is wrong). `metrics`: counted in regcode_errors_total."""

    metrics = None

    def send_400_response(self, msg: str) -> None:
        status, issue = fault(sys.exc_info()[1])
        if self.metrics is not None:
            self.metrics.inc("regcode_errors_total", code=issue.code)
        status, body = problem_body([issue], status)
        headers = [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers,
                                                                reason=HTTPStatus(status).phrase.encode())))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:      # a response already begun (the app answered before the body was read)
            pass
        self.transport.close()


def protocol(metrics=None) -> type:
    """The protocol class for uvicorn.Config(http=...), counting its problems in `metrics`."""
    return type("ProblemH11Protocol", (ProblemH11Protocol,), {"metrics": metrics})
