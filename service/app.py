"""The HTTP decision service: the ASGI app factory, its routes, and problem responses for every failure."""
from __future__ import annotations

import asyncio
import codecs
import errno
import json
import logging
import re
import signal
import threading
import time
import unicodedata
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version as package_version
from typing import Iterable, Optional
from urllib.parse import unquote_to_bytes

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..engine import DEFAULT_BACKEND, Issue, Location, PolicyError, dump_json_bytes
from ..engine._dates import is_date
from ..engine.errors import did_you_mean
from ..engine.testing import discover
from . import decide, metrics as metrics_mod, openapi as openapi_doc, registry, workers
from .decisionlog import DEFAULT_KEEP, DEFAULT_MAX_BYTES, DecisionLog
from .problems import problem, read_timeout_issue

log = logging.getLogger("regcode.serve")

MAX_BODY_BYTES = 8 << 20
MAX_BATCH = 1000
TIMEOUT = 10.0
MAX_WAITING = 64
READ_TIMEOUT = 15.0         # seconds for a request's head to arrive, and for its body to pause at most
READ_TIMED_OUT = "regcode.read_timeout"   # set in the scope's extensions by the protocol when a body read timed out
LOG_RETRY_AFTER = "10"      # seconds: a decision log that cannot be written (a full disk) is not mended in one
MAX_EXAMPLES = 3            # OpenAPI examples taken from each policy's own test cases
JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines")


def regcode_version() -> str:
    try:
        return package_version("regcode")
    except PackageNotFoundError:   # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"


@dataclass
class ServeConfig:
    """Everything `regcode serve` can set; the defaults are the CLI's."""

    policy_roots: list = field(default_factory=list)
    decision_log: Optional[str] = None
    log_input: bool = True                  # False: the log keeps only the input's hash (--decision-log-input none)
    log_max_bytes: int = DEFAULT_MAX_BYTES
    log_keep: int = DEFAULT_KEEP
    log_fsync: bool = False
    workers: int = 0                        # 0: one per core
    timeout: float = TIMEOUT                # seconds per request, waiting for a worker included
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH
    max_waiting: int = MAX_WAITING
    read_timeout: float = READ_TIMEOUT      # service/protocol.py: the real server's (uvicorn's), not the TestClient's
    enable_admin: bool = False
    backend: str = DEFAULT_BACKEND
    handle_sighup: bool = False             # only the real server process: signal handlers need the main thread


class Service:
    """The state behind the routes: the policies being served, the worker pool, the decision log, the metrics."""

    def __init__(self, config: ServeConfig, loaded: Optional[registry.Loaded] = None):
        self.config = config
        self.loaded = loaded or registry.load(config.policy_roots)
        registry.warm(self.loaded, config.backend)
        self.version = regcode_version()
        self.metrics = metrics_mod.Metrics()
        self.log = None
        self.log_fault: Optional[str] = None    # why the last write to the decision log failed; None once one succeeds
        if config.decision_log:   # opened now, so that a bad path fails the start, not the first decision
            self.log = DecisionLog(config.decision_log, config.log_max_bytes, config.log_keep, config.log_fsync)
        self.pool = workers.Pool(decide.handle, self._state(self.loaded), config.workers or workers.default_size(),
                                 config.timeout, config.max_waiting)
        self.reloading = asyncio.Lock()
        self.metrics.gauge("regcode_workers", lambda: [({}, self.pool.alive())])
        self.metrics.gauge("regcode_policy_versions", lambda: [({}, len(self.loaded.served))])
        self.metrics.gauge("regcode_info", lambda: [({"version": self.version}, 1)])
        self.metrics.gauge("regcode_worker_restarts_total",
                           lambda: [({"reason": "time_limit"}, self.pool.killed), ({"reason": "died"}, self.pool.died)])
        self.metrics.gauge("regcode_decision_log_lines_total", lambda: [({}, self.log.lines if self.log else 0)])
        self.metrics.gauge("regcode_decision_log_rotations_total", lambda: [({}, self.log.rotations if self.log else 0)])
        self.metrics.gauge("regcode_decision_log_reopens_total", lambda: [({}, self.log.reopens if self.log else 0)])

    def _load_again(self) -> registry.Loaded:
        loaded = registry.load(self.config.policy_roots, self.loaded)
        registry.warm(loaded, self.config.backend)
        return loaded

    def _state(self, loaded: registry.Loaded) -> decide.State:
        return decide.State(loaded.catalog, self.config.backend, self.version)

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.pool.close()
        if self.log is not None:
            self.log.close()

    async def reload(self) -> registry.Loaded:
        """Recompile every version (off the event loop); swap in the result. A version that fails keeps its old compile."""
        async with self.reloading:
            loaded = await asyncio.get_running_loop().run_in_executor(None, self._load_again)
            self.loaded = loaded
            self.pool.swap(self._state(loaded))
            self.metrics.inc("regcode_reloads_total", result="ok" if loaded.ok else "partial")
            (log.info if loaded.ok else log.warning)("reloaded: %s", loaded.summary())
            for issue in loaded.issues():
                log.warning("%s", issue)
            return loaded

    async def hangup(self) -> None:
        """SIGHUP: reopen the decision log if it was moved away (logrotate), then reload the policies."""
        if self.log is not None:
            try:
                self.log.reopen()
            except OSError as exc:   # said now; each decision until it can be reopened is a 503 service.decision_log
                self.log_fault = os_reason(exc, shown=True)
                log.error("cannot reopen the decision log %s: %s", self.config.decision_log, exc.strerror or exc)
        await self.reload()

    # -- evaluation -------------------------------------------------------------------------------
    async def ask(self, ask: decide.Ask) -> list:
        return await self.pool.run(ask)

    def record(self, line: Optional[bytes]) -> None:
        """Log one decision before it is answered. OSError when it could not be: then it must not be answered.
        /health says `degraded` from a failed write until one succeeds."""
        if line is not None and self.log is not None:
            try:
                self.log.write(line)
            except OSError as exc:
                self.log_fault = os_reason(exc, shown=True)
                raise
            self.log_fault = None


def os_reason(exc: OSError, shown: bool = False) -> str:
    """`ENOSPC: No space left on device`: an OSError's errno name and text, without the file it was about.
    `shown` (for /health): an error without an errno is its class's name, not its text, which may name a path."""
    if exc.errno:
        return f"{errno.errorcode.get(exc.errno, 'error')}: {exc.strerror}"
    return type(exc).__name__ if shown else str(exc)


# ---- request helpers -----------------------------------------------------------------------------
class Refused(Exception):
    """A request refused before evaluation; becomes a problem response."""

    def __init__(self, issues: list, headers: Optional[dict] = None):
        super().__init__(issues[0].message)
        self.issues = issues
        self.headers = headers


# RFC 9110's grammar of a media type: type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_TYPE = re.compile(rf"[ \t]*({_TOKEN})/({_TOKEN})")
_PARAMETER = re.compile(rf'[ \t]*;[ \t]*(?:({_TOKEN})=({_TOKEN}|"(?:[^"\\]|\\.)*"))?')


def _media_type(raw: str) -> Optional[tuple]:
    """('type/subtype' lowercased, [(name lowercased, value)]) of a Content-Type header, or None if it is not one."""
    found = _TYPE.match(raw)
    if not found:
        return None
    params, at = [], found.end()
    while (param := _PARAMETER.match(raw, at)) is not None:
        if param.group(1):
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params.append((param.group(1).lower(), value))
        at = param.end()
    if raw[at:].strip(" \t"):
        return None
    return f"{found.group(1)}/{found.group(2)}".lower(), params


_QVALUE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")     # RFC 9110 12.4.2
_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')             # a list's member: commas inside quotes kept


def _accept_match(values: list, offered: str) -> Optional[tuple]:
    """(specificity, q) of the most specific range of the Accept header(s) `values` matching the media type `offered`
    (RFC 9110 12.5.1: 3 for `application/json`, 2 for `application/*`, 1 for `*/*`, so that `application/json;q=0,
    */*` refuses it; the highest q of equally specific ones), (0, 0.0) when none matches; None when nothing is said
    (no header, or no member that is a media range: a header that does not parse is ignored, not refused)."""
    kind, subtype = offered.split("/")
    best, said = (0, 0.0), False
    for value in values:
        for element in _ELEMENT.findall(value):
            parsed = _media_type(element) if element.strip(" \t") else None
            q = next((v for name, v in parsed[1] if name == "q"), "1") if parsed else ""
            if not _QVALUE.match(q):
                continue
            said = True
            found = tuple(parsed[0].split("/"))
            specific = {(kind, subtype): 3, (kind, "*"): 2, ("*", "*"): 1}.get(found, 0)
            if specific and (specific, float(q)) > best:
                best = (specific, float(q))
    return best if said else None


def accept_q(values: list, offered: str) -> Optional[float]:
    """The weight Accept gives `offered`: 0.0 when refused or not matched, None when Accept says nothing."""
    match = _accept_match(values, offered)
    return None if match is None else match[1]


async def accepts_json(request: Request) -> None:
    """A JSON route's dependency: the client accepts what it answers, application/json (RFC 9110 15.5.7), else a
    406. Its problems (application/problem+json) are sent whatever Accept says, as RFC 9457 practice is: the 406 too."""
    values = request.headers.getlist("accept")
    match = _accept_match(values, "application/json")
    if match is None or match[1] > 0:
        return
    said = "gives application/json q=0" if match[0] else "does not accept application/json"
    raise Refused([Issue("request.not_acceptable", f"the Accept header '{_header_shown(', '.join(values))}' {said}, the "
                         "type this route answers (its problems are application/problem+json)",
                         Location(path="header.accept"), "send `Accept: application/json` (or */*), or no Accept header")])


def negotiates(route, method: str) -> bool:
    """Whether `route` answers `method` by content negotiation: its answer depends on Accept (accepts_json, a 406 or
    its JSON), so that a cache must key it by Accept too (RFC 9110 12.5.5: `Vary: Accept`). A method it does not
    serve (a 405) is not negotiated; a HEAD is served as the GET (_Framing)."""
    methods = getattr(route, "methods", None) or ()
    if method not in methods and not (method == "HEAD" and "GET" in methods):
        return False
    return any(getattr(d, "dependency", None) is accepts_json for d in getattr(route, "dependencies", ()))


def vary_on(headers, name: str) -> None:
    """Add `name` to the response's Vary header unless it is named there already (or Vary is `*`)."""
    said = {token.strip().lower() for value in headers.getlist("vary") for token in value.split(",")}
    if name.lower() not in said and "*" not in said:
        headers.add_vary_header(name)


def _check_encoding(request: Request) -> None:
    """The body is read as it is sent: a compressed one (Content-Encoding: gzip ...) would be parsed as its bytes."""
    codings = [c.strip().lower() for value in request.headers.getlist("content-encoding") for c in value.split(",")]
    other = [c for c in codings if c and c != "identity"]
    if other:
        raise Refused([Issue("request.content_encoding", f"the body's content encoding '{_header_shown(other[0])}' is not "
                             "accepted; only an unencoded body (identity) is", Location(path="header.content-encoding"),
                             "send the body uncompressed, without a Content-Encoding header")],
                      headers={"Accept-Encoding": "identity"})


def _is_utf8(charset: str) -> bool:
    """Whether a charset names UTF-8 (utf-8, UTF8, utf_8, u8 ...: every alias Python's codecs know)."""
    try:
        return codecs.lookup(charset).name == "utf-8"
    except (LookupError, ValueError, TypeError):
        return False


# What each kind of body is sent as (the first of each is the one a message proposes)
ACCEPTED = {"json": JSON_TYPES + ("any type ending in +json",), "yaml": YAML_TYPES, "jsonl": JSONL_TYPES}


def _media(request: Request, allowed: tuple) -> str:
    given = request.headers.getlist("content-type")
    if len(given) > 1:   # which one the client meant cannot be told: not the first silently taken
        raise Refused([Issue("request.header", f"the Content-Type header is given {len(given)} times ("
                             + ", ".join(f"'{_header_shown(g)}'" for g in given[:3]) + "); it is taken once",
                             Location(path="header.content-type"), "send one Content-Type header")])
    raw = given[0] if given else ""
    parsed = _media_type(raw) if raw.strip(" \t") else ("", [])
    if parsed is None:
        raise Refused([Issue("request.media_type", f"the Content-Type header '{_header_shown(raw)}' is not a media type "
                             "(type/subtype, then `; name=value` parameters)", Location(path="header.content-type"),
                             "send e.g. `Content-Type: application/json` (curl: -H 'Content-Type: application/json')")])
    media, params = parsed
    charsets = [value for name, value in params if name == "charset" and not _is_utf8(value)]
    if charsets:
        raise Refused([Issue("request.media_type", f"the body's charset '{_header_shown(charsets[0])}' is not accepted; "
                             "only UTF-8 is", Location(path="header.content-type"),
                             "send the body as UTF-8, with `charset=utf-8` or no charset")])
    if not media or media in JSON_TYPES or media.endswith("+json"):
        kind = "json"
    elif media in YAML_TYPES:
        kind = "yaml"
    elif media in JSONL_TYPES:
        kind = "jsonl"
    else:
        kind = None
    if kind not in allowed:
        raise Refused([Issue("request.media_type", f"the body's media type {_header_shown(media)!r} is not accepted here; accepted: "
                             + ", ".join(t for k in allowed for t in ACCEPTED[k]), Location(path="header.content-type"),
                             "send the body with one of those, e.g. `Content-Type: application/json` "
                             "(curl: -H 'Content-Type: application/json')")])
    return kind


async def _body(request: Request, limit: int) -> bytes:
    def too_large(size: str) -> Refused:
        return Refused([Issue("request.too_large", f"the request body is {size}; at most {limit} bytes are accepted",
                              Location(path="body"), "send fewer or smaller case files per request")])
    declared = request.headers.get("content-length", "")
    if "content-length" not in request.headers and "transfer-encoding" not in request.headers:
        # HTTP/1.x reads such a request as having no body: whatever was sent after the headers is not its body
        # (an HTTP/1.0 client that sends one and closes, say), so the case is not called empty
        raise Refused([Issue("request.length_required", f"the {request.method} request has no Content-Length header "
                             "(nor Transfer-Encoding: chunked), so it has no body: a body sent without one is not read",
                             Location(path="header.content-length"),
                             "send the case file as the body with its size, `Content-Length: 42` (curl --data-binary @case.yaml "
                             "and HTTP libraries send it)")])
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"{int(declared)} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large(f"more than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:   # the client's doing, not a bug: one line, no traceback; the problem goes unread
        if (request.scope.get("extensions") or {}).get(READ_TIMED_OUT):   # the server's read timeout, said by the protocol
            raise Refused([read_timeout_issue("body", request.app.state.service.config.read_timeout)]) from None
        of = f" of {declared}" if declared.isdigit() else ""
        log.info("client disconnected before its request body was read: %s %s (%d%s bytes received)", request.method,
                 _path_shown(request.scope), size, of)
        raise Refused([Issue("request.disconnected", f"the connection closed after {size}{of} bytes of the body",
                             Location(path="body"), "send the whole body before closing the connection")]) from None
    return b"".join(chunks)


SHOWN_MAX = 80               # characters of a request's own text quoted back in a problem


def _is_control(ch: str) -> bool:
    # C0, DEL, C1, and the two Unicode line breaks: each would break a line of the problem's detail or of a log
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def _shown(text: str) -> str:
    """A request's own text as a message quotes it: control characters escaped, long text cut."""
    cut = "".join(f"\\u{ord(ch):04x}" if _is_control(ch) else ch for ch in text[:SHOWN_MAX])
    return cut + ("..." if len(text) > SHOWN_MAX else "")


def _path_shown(scope, as_sent: bool = False) -> str:
    """The request's path as a problem or a log line echoes it, in every field alike (a message, its location, the
    detail made of them): the path as routed (scope["path"], percent-decoded), not request.url.path, whose URL
    parsing drops tab, CR and LF (`/a%0Ab` would be shown as the path `/ab`, and `/v1/evaluate%0A/` as the route with
    a trailing slash), then as _shown: control characters escaped (`/a\\u000ab`), long text cut. `as_sent`: the
    path still percent-encoded, as the request line has it (where the encoding is the point: `%2F`)."""
    if as_sent and scope.get("raw_path"):
        return _shown(scope["raw_path"].decode("latin-1"))
    return _shown(scope.get("path") or "")


def _header_shown(text: str) -> str:
    """A header's value as a message quotes it: its bytes past ASCII escaped (`\\xe6`; the framework reads a
    header's bytes as Latin-1 characters, which would show UTF-8 as `æµ¦`), then as _shown."""
    return _shown(text.encode("latin-1", "backslashreplace").decode("ascii", "backslashreplace"))


def _query_items(raw: bytes) -> Iterable[tuple]:
    """(name, value) for each `name=value` of a raw query string, percent-decoded as UTF-8. The framework decodes
    with replacement characters (U+FFFD); here a name or value that is not UTF-8 is its UnicodeDecodeError."""
    for piece in raw.split(b"&"):
        if not piece:
            continue
        texts = []
        for part in piece.partition(b"=")[::2]:
            data = unquote_to_bytes(part.replace(b"+", b" "))
            try:
                texts.append(data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                texts.append(exc)
        yield tuple(texts)


def utf8_fault(exc: UnicodeDecodeError) -> str:
    """Which byte of percent-decoded text is not UTF-8, and how: `byte 1, 0xFF (%FF), begins no UTF-8 character`."""
    byte = exc.object[exc.start]
    at = f"byte {exc.start + 1}, 0x{byte:02X} (%{byte:02X}),"
    if exc.reason == "invalid start byte":
        return f"{at} begins no UTF-8 character"
    if exc.reason == "invalid continuation byte":
        return f"{at} begins a UTF-8 character that the bytes after it do not continue"
    if exc.reason == "unexpected end of data":
        return f"{at} begins a UTF-8 character that the text ends inside"
    return f"{at} is not UTF-8 there ({exc.reason})"


def query_issues(raw: bytes, known: list) -> list:
    """Every problem of a query string for a route taking the parameters `known`: a name or value that is not
    UTF-8, an unknown name (with the nearest known one), a repeated name, a control character in a value."""
    items = list(_query_items(raw))
    counts = Counter(name for name, _ in items if isinstance(name, str))
    issues, said = [], set()
    accepted = ", ".join(f"`{k}`" for k in known) if known else "no query parameters"
    for name, value in items:
        if isinstance(name, UnicodeDecodeError):
            issues.append(Issue("request.query", f"a query parameter's name is not UTF-8 once percent-decoded: its "
                                f"{utf8_fault(name)}", Location(path="query"), "percent-encode the UTF-8 bytes of the text"))
            continue
        where = Location(path=f"query.{_shown(name)}")
        if name not in known:
            issues.append(Issue("request.query", f"unknown query parameter `{_shown(name)}`; this route takes {accepted}",
                                where, did_you_mean(name, known) or "see /openapi.json for the parameters and their values"))
            continue
        if counts[name] > 1 and name not in said:
            said.add(name)
            issues.append(Issue("request.query", f"the query parameter `{name}` is given {counts[name]} times; it is taken once",
                                where, f"send `{name}` once"))
        if value == "":   # `?policy=` is neither a policy nor the default: said, as for every parameter
            issues.append(Issue("request.query", f"the query parameter `{name}` is empty", where,
                                f"give `{name}` a value, or leave it out for its default"))
        elif isinstance(value, UnicodeDecodeError):
            issues.append(Issue("request.query", f"the query parameter `{name}` is not UTF-8 once percent-decoded: its "
                                f"{utf8_fault(value)}", where, "percent-encode the UTF-8 bytes of the text, e.g. %E6%B5%A6 for 浦"))
        elif any(map(_is_control, value)):
            at = next(i for i, ch in enumerate(value) if _is_control(ch))
            issues.append(Issue("request.query", f"the query parameter `{name}` holds a control character (U+{ord(value[at]):04X} "
                                f"at character {at + 1})", where,
                                "its value goes into replies, error places and the decision log: send printable text"))
    return issues


async def strict_query(request: Request) -> None:
    """A route's dependency: its query string holds only the parameters the route declares (the ones
    /openapi.json lists), each once, as UTF-8 text without control characters."""
    route = request.scope.get("route")
    known = [param.alias for param in route.dependant.query_params] if route is not None else []
    issues = query_issues(request.scope.get("query_string", b""), known)
    if issues:
        raise Refused(issues)


EXPLAIN_LEVELS = ("none", "decisive", "full")


def _check_explain(explain: str) -> None:
    if explain not in EXPLAIN_LEVELS:
        raise Refused([Issue("request.query", f"explain is one of {', '.join(EXPLAIN_LEVELS)}, not '{_shown(explain)}'",
                             Location(path="query.explain"),
                             did_you_mean(explain, list(EXPLAIN_LEVELS)) or "leave it out for full")])


def busy_issue(max_waiting: int, timeout: float, where: str) -> Issue:
    """The 429's issue: every worker taken and as many requests waiting as may."""
    waiting = f"{max_waiting} request waits" if max_waiting == 1 else f"{max_waiting} requests wait"
    return Issue("service.busy", f"no worker was free: at most {waiting} for one, for at most {timeout:g} s",
                 Location(path=where), "retry after a second")


def _check_as_of(as_of: Optional[str]) -> None:
    if as_of is not None and not is_date(as_of):
        raise Refused([Issue("request.query", f"as_of '{_shown(as_of)}' is not a date", Location(path="query.as_of"),
                             "write YYYY-MM-DD, e.g. 2019-06-30")])


def _pretty(compact: bytes) -> bytes:
    """The layout of `regcode eval --format json`: the engine's pretty JSON and the newline the CLI adds."""
    return dump_json_bytes(json.loads(compact), pretty=True) + b"\n"


def _examples(loaded: registry.Loaded) -> dict:
    """Case files for the OpenAPI document, from the policies' own test cases (cases as data, no regulation in code)."""
    out: dict = {}
    latest = {}
    for (policy_id, _), served in sorted(loaded.served.items(), key=lambda kv: (kv[0][0], kv[1].info.effective_from)):
        latest[policy_id] = served
    for policy_id, served in sorted(latest.items()):
        try:
            cases = discover(served.info.directory)
        except Exception:   # an example is a nicety: a policy without readable tests just has none
            continue
        taken = 0
        for case in cases:
            facts = case.data.get("facts")
            if isinstance(facts, dict) and isinstance(facts.get("as_of"), str) and taken < MAX_EXAMPLES:
                out[f"{policy_id}-{taken + 1}"] = {"summary": f"{policy_id}: {case.name}", "value": facts}
                taken += 1
    return out


class _Framing:
    """Pure ASGI, around the routes (inside the metrics middleware, which then sees the method as sent):
    - HEAD wherever GET works (RFC 9110 9.3.2): a HEAD to a route with a GET and no HEAD of its own is served as
      that GET, its status and headers (Content-Length too) kept, its body dropped;
    - a response sent before the request's body was read to its end says `Connection: close`: the rest of the
      body is not read on a kept-alive connection (a 413 for a 10 GB body), and the server closes once the client
      could read the response (service/protocol.py lingers)."""

    def __init__(self, app, routes: list):
        self.app = app
        self.routes = routes

    def _matched(self, scope) -> bool:
        return any(route.matches(scope)[0] == Match.FULL for route in self.routes)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD" and not self._matched(scope) and self._matched({**scope, "method": "GET"})
        framing = {name: value for name, value in scope["headers"] if name in (b"content-length", b"transfer-encoding")}
        read = {"all": framing.get(b"content-length", b"0").strip() == b"0" and b"transfer-encoding" not in framing}

        async def receiving():
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                read["all"] = True
            return message

        async def sending(message):
            if message["type"] == "http.response.start":
                if head:
                    scope["method"] = "HEAD"    # as sent again, for the metrics and the server (which drops a HEAD's body)
                if not read["all"]:
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        if head:
            scope["method"] = "GET"
        await self.app(scope, receiving, sending)


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]*(/.*)?\Z", re.S)     # a request target in absolute form
_ABSOLUTE_RAW = re.compile(rb"\A[A-Za-z][A-Za-z0-9+.-]*://[^/]*")

# The pattern is the document's only: a value past it gets _check_as_of's message, as a calendar-impossible date does
AS_OF = Query(None, json_schema_extra={"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
              description="Evaluation date (YYYY-MM-DD); overrides the case file's as_of.")
POLICY = Query(None, min_length=1, max_length=200, description="Policy id; may be omitted when only one policy is served.")
VERSION = Query(None, min_length=1, max_length=200, description="Force this version instead of the one in force on the date.")
EXPLAIN = Query("full", json_schema_extra={"enum": list(EXPLAIN_LEVELS)},   # checked by _check_explain, in our words
                description="The why to keep: none, the decisive claims, or every claim and derived fact.")
SOURCE = Query(decide.DEFAULT_SOURCE, min_length=1, max_length=200,
               description="A name for the case file, used in error locations and as the result's `source`.")
PRETTY = Query(False, description="Indent the JSON as `regcode eval --format json` prints it.")


def create_app(config: Optional[ServeConfig] = None, loaded: Optional[registry.Loaded] = None) -> FastAPI:
    """The ASGI app. Compiles every policy version now (raises PolicyError when one fails); the workers start
    with the app's lifespan."""
    config = config or ServeConfig()
    service = Service(config, loaded)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        if config.handle_sighup and threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(service.hangup()))
        try:
            yield
        finally:
            if config.handle_sighup and threading.current_thread() is threading.main_thread():
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            service.stop()

    # No redirect from `/v1/evaluate/` to `/v1/evaluate`: a 307 with an empty body, which a client may follow
    # with its POST or not. A path with a trailing slash is a 404 problem naming the route without it.
    app = FastAPIOffline(
        title="regcode decision service", version=service.version, lifespan=lifespan, static_url="/docs/static",
        redirect_slashes=False,
        description="Decisions of regcode policies over HTTP: the same objects as `regcode eval --format json`, with a "
                    "`decision_id` that the decision log records for `regcode replay`. Errors are RFC 9457 problem "
                    "responses carrying regcode's issues (code, message, location, hint).")
    app.state.service = service

    # ---- problems for everything ----------------------------------------------------------------
    def refuse(issues: list, status: Optional[int] = None, headers: Optional[dict] = None) -> Response:
        """A problem response, its issue codes counted for /metrics."""
        for issue in issues:
            service.metrics.inc("regcode_errors_total", code=issue["code"] if isinstance(issue, dict) else issue.code)
        return problem(issues, status=status, headers=headers)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused):
        return refuse(exc.issues, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        issues = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            name, given = where.split(".", 1)[-1], err.get("input")
            kind, limits = err.get("type"), err.get("ctx") or {}
            # the framework's wording for the checks it makes, in ours (as _check_explain and _check_as_of say theirs)
            if kind == "bool_parsing" and isinstance(given, str):
                issues.append(Issue("request.query", f"{name} is true or false, not '{_shown(given)}'", Location(path=where),
                                    f"send {name}=true, or leave it out for false"))
            elif kind == "string_too_long" and isinstance(given, str):
                issues.append(Issue("request.query", f"the query parameter `{name}` is {len(given)} characters long; at most "
                                    f"{limits.get('max_length')}", Location(path=where), "send a shorter value"))
            else:
                issues.append(Issue("request.query", f"`{name}`: {err.get('msg', 'invalid')}",
                                    Location(path=where), "see /openapi.json for the parameters and their values"))
        return refuse(issues or [Issue("request.query", "invalid request", Location())], status=400)

    def without_slash(request: Request) -> Optional[str]:
        """The path less its trailing slash, when that is a route."""
        path = request.scope["path"]
        if len(path) < 2 or not path.endswith("/"):
            return None
        probe = {**request.scope, "path": path.rstrip("/") or "/"}
        if any(route.matches(probe)[0] != Match.NONE for route in app.router.routes):
            return probe["path"]
        return None

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "request.not_found", 405: "request.method"}.get(exc.status_code, "request.invalid")
        hint = "see /docs for the routes" if exc.status_code in (404, 405) else ""
        detail = exc.detail
        if exc.status_code == 404 and (route := without_slash(request)) is not None:
            detail = f"no route here: the route is {route}, without the trailing slash"
            hint = f"send the request to {route}"
        shown = _path_shown(request.scope)
        issue = Issue(code, f"{request.method} {shown}: {detail}", Location(path=shown), hint)
        headers = dict(getattr(exc, "headers", None) or {})
        allow = [m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
        if "GET" in allow and "HEAD" not in allow:     # _Framing serves HEAD wherever GET is served
            headers["Allow"] = ", ".join([*allow, "HEAD"])
        return refuse([issue], status=exc.status_code if 400 <= exc.status_code < 500 else 400, headers=headers or None)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):   # a bug of ours: logged here, never shown as a traceback
        log.exception("internal error on %s %s", request.method, _path_shown(request.scope))
        return refuse([Issue("internal.error", f"{type(exc).__name__}: {exc}", Location(path=_path_shown(request.scope)),
                             "this is a bug in regcode, not in the request; the server log has the traceback")], status=500)

    def target_problem(request: Request) -> Optional[Response]:
        """A request target in absolute form (`GET http://host/health`, as sent to a proxy) is served as its path
        (RFC 9112 3.2.2); one that is no path (`GET health`) is a 400; an encoded slash (%2F) is no separator:
        no route, policy id or version holds a slash, so it is a 404, not the route it would spell decoded."""
        scope = request.scope
        path = scope["path"]
        if not path.startswith("/") and path != "*":
            absolute = _ABSOLUTE.match(path)
            if absolute is None:
                shown = _path_shown(scope)
                return refuse([Issue("request.syntax", f"the request target `{shown}` is not a path: a path starts with `/`",
                                     Location(path="request-line"), f"send `{request.method} /{shown}`")])
            scope["path"] = absolute.group(1) or "/"
            raw = scope.get("raw_path") or path.encode("latin-1", "replace")
            scope["raw_path"] = _ABSOLUTE_RAW.sub(b"", raw) or b"/"
        for segment in (scope.get("raw_path") or b"").split(b"/"):
            try:
                unquote_to_bytes(segment).decode("utf-8")
            except UnicodeDecodeError as exc:   # the framework decodes it to U+FFFD: `no policy '\ufffd'`
                shown = _shown(segment.decode("latin-1"))
                return refuse([Issue("request.syntax", f"the path segment `{shown}` is not UTF-8 once percent-decoded: its "
                                     f"{utf8_fault(exc)}", Location(path="request-line"),
                                     "percent-encode the UTF-8 bytes of the text, e.g. %E6%B5%A6 for 浦")])
        if any(map(_is_control, scope["path"])):
            # no route, policy id or version holds one; and the router's patterns end in `$`, which matches before a
            # final newline: `/health%0A` would be served as /health, `/v1/evaluate%0A/` called a trailing slash
            shown = _path_shown(scope)
            return refuse([Issue("request.not_found", f"{request.method} {shown}: Not Found: the path holds a control "
                                 "character, which no route, policy id or version holds", Location(path=shown),
                                 "see /docs for the routes")])
        if b"%2f" in (scope.get("raw_path") or b"").lower():
            shown = _path_shown(scope, as_sent=True)
            return refuse([Issue("request.not_found", f"{request.method} {shown}: Not Found: an encoded slash (%2F) is "
                                 "not a separator, and no route, policy id or version holds a slash",
                                 Location(path=shown), "see /docs for the routes")])
        return None

    app.add_middleware(_Framing, routes=app.router.routes)     # before _measure: inside it

    @app.middleware("http")
    async def _measure(request: Request, call_next):
        """Every request the app answers, counted once (the HTTP reader counts those it refuses itself)."""
        started = time.perf_counter()
        refused = target_problem(request)
        try:
            response = refused or await call_next(request)
        except Exception as exc:    # answered here, not by the framework outside this middleware: then counted too
            response = await _bug(request, exc)
        route = request.scope.get("route")
        if route is not None and negotiates(route, request.method):    # its problems too: a 406 or not is Accept's
            vary_on(response.headers, "Accept")
        # the document and its browsable docs are served outside the routes: named here, a bounded set of labels
        path = request.scope["path"]
        name = (metrics_mod.REFUSED if refused is not None else getattr(route, "path", None) or
                ("/docs/static" if path.startswith("/docs/static/") else
                 path if path in ("/openapi.json", "/docs") else "unmatched"))
        service.metrics.answered(time.perf_counter() - started, route=name, method=request.method,
                                 status=response.status_code)
        return response

    # ---- evaluation -----------------------------------------------------------------------------
    case_body = {"required": True, "description": "One case file as JSON (YAML with `Content-Type: application/yaml`).",
                 "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}},
                             "application/yaml": {"schema": {"type": "string", "description": "a case file as YAML"}}}}
    batch_body = {"required": True,
                  "description": f"A JSON array of case files, or JSON lines (`Content-Type: application/x-ndjson`, or "
                                 f"{', '.join(JSONL_TYPES[1:])}); at most "
                                 f"{config.max_batch} case files and {config.max_body_bytes} bytes. A bad case file (an "
                                 "array's element too: each is read on its own) is reported in its place.",
                  "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                              "application/x-ndjson": {"schema": {"type": "string", "description": "one case file as JSON a line"}}}}
    problem_doc = {"description": "A problem (RFC 9457) with regcode's issues in `errors`",
                   "content": {"application/problem+json": {"schema": {"type": "object"}}}}
    # The API's routes refuse a query parameter they do not declare, or one given twice (/health and /metrics,
    # asked by probes and scrapers, and the docs take whatever they are given)
    negotiated = [Depends(accepts_json)]       # every route answering JSON; /metrics answers text, /docs HTML
    strict = [Depends(strict_query), *negotiated]
    errors_doc = {400: problem_doc, 404: problem_doc, 411: problem_doc, 413: problem_doc, 415: problem_doc, 422: problem_doc, 429: problem_doc,
                  503: problem_doc}

    def check_selection(policy: Optional[str], version: Optional[str]) -> None:
        """The policy and version the query names exist (what does not depend on a case file's date): for a batch,
        said once for the whole request before any element is read, not in every element's place."""
        cat = service.loaded.catalog
        try:
            policy_id = cat.policy_id(policy)
            if version is not None:
                cat.choose(policy_id, "0000-00-00", version)
        except PolicyError as exc:
            raise Refused(exc.issues) from None

    async def evaluate_request(request: Request, kind: str, allowed: tuple, ask_fields: dict) -> list:
        _check_explain(ask_fields["explain"])
        _check_as_of(ask_fields["as_of"])
        if kind == "batch":
            check_selection(ask_fields["policy"], ask_fields["version"])
        _check_encoding(request)
        media = _media(request, allowed)
        body = await _body(request, config.max_body_bytes)
        ask = decide.Ask(kind, body, media, log_input=config.log_input, max_batch=config.max_batch, **ask_fields)
        try:
            return await service.ask(ask)
        except workers.Busy:
            raise Refused([busy_issue(config.max_waiting, config.timeout, _path_shown(request.scope))],
                          headers={"Retry-After": "1"})

    def died_issue(exc: workers.WorkerDied, where: str, prefix: str = "") -> Issue:
        if exc.killed:   # kill -9, the OOM killer: nothing in regcode or in the request is known to be wrong
            return Issue("service.worker_killed", f"{prefix}{exc.reason} while evaluating", Location(where),
                         "the request may be sent again; the server log says more")
        return Issue("internal.worker", f"{prefix}{exc.reason}", Location(where),
                     "this is a bug in regcode, not in the request; the server log says more")

    def worker_died(exc: workers.WorkerDied, where: str) -> Response:
        issue = died_issue(exc, where)
        return refuse([issue], headers={"Retry-After": "1"} if exc.killed else None)

    # A decision is answered only once it is in the decision log: an audit log must hold every decision the
    # service gave. One the log refuses (a full disk, EIO, a rotation refused) is not returned: a 503 that may
    # be retried, said in the server log in one line, the service's failure and not the request's.
    # The client is told what happened and when to retry; the log's path and the system's error are the
    # server's own (its log line says them, and /health says `degraded`), not a client's business.
    def log_issue(where: str, what: str = "the decision was not returned: it") -> Issue:
        return Issue("service.decision_log", f"{what} could not be written to the service's decision log, and every "
                     "decision answered is logged", Location(where),
                     "the request may be sent again later (see Retry-After); the server's log says why")

    def log_failed(exc: OSError, request: Request, count: int) -> None:
        reason = os_reason(exc)
        log.error("cannot write the decision log %s (%s): %d decision(s) of %s %s not returned", config.decision_log,
                  reason, count, request.method, _path_shown(request.scope))

    def timeout_issue(source: str, what: str) -> Issue:
        return Issue("eval.timeout", f"{what} not evaluated within the time limit of {config.timeout:g} s; the worker was stopped",
                     Location(source), "send a smaller case file or batch (the server's --timeout sets the limit)")

    @app.post("/v1/evaluate", tags=["decisions"], openapi_extra={"requestBody": case_body}, responses=errors_doc,
              dependencies=strict, summary="Evaluate one case file")
    async def evaluate(request: Request, as_of: Optional[str] = AS_OF, policy: Optional[str] = POLICY,
                       version: Optional[str] = VERSION, explain: str = EXPLAIN, source: str = SOURCE,
                       pretty: bool = PRETTY):
        """The `regcode eval --format json` object of the case, plus its `decision_id`."""
        fields = dict(as_of=as_of, policy=policy, version=version, explain=explain, source=source)
        try:
            messages = await evaluate_request(request, "evaluate", ("json", "yaml"), fields)
        except workers.TimedOut:
            return refuse([timeout_issue(source, "the case file was")])
        except workers.WorkerDied as exc:
            log.error("a worker failed on %s: %s", source, exc.reason)
            return worker_died(exc, source)
        kind, *rest = messages[0]
        if kind == "problem":
            return refuse(rest[0])
        item, line, ref = rest
        try:
            service.record(line)
        except OSError as exc:
            log_failed(exc, request, 1)
            return refuse([log_issue(source)], headers={"Retry-After": LOG_RETRY_AFTER})
        service.metrics.inc("regcode_decisions_total", policy=ref)
        return Response(_pretty(item) if pretty else item, media_type="application/json")

    @app.post("/v1/evaluate/batch", tags=["decisions"], openapi_extra={"requestBody": batch_body}, responses=errors_doc,
              dependencies=strict,
              summary="Evaluate a batch of case files, in order")
    async def evaluate_batch(request: Request, as_of: Optional[str] = AS_OF, policy: Optional[str] = POLICY,
                             version: Optional[str] = VERSION, explain: str = EXPLAIN, source: str = SOURCE):
        """`{read, evaluated, failed, results}`: one result per case file, in order. A bad case file is reported in
        its place (`{errors, line, source}`) and the others are still evaluated. A `policy` or `version` not served
        is a 404 for the whole request, said before the body is read; a batch of which the decision log took no
        decision is a 503 `service.decision_log` (one it took some of answers those, and names each other in its place)."""
        fields = dict(as_of=as_of, policy=policy, version=version, explain=explain, source=source)
        cut = None
        try:
            messages = await evaluate_request(request, "batch", ("json", "jsonl"), fields)
        except (workers.TimedOut, workers.WorkerDied) as exc:
            messages, cut = exc.items, exc
            if isinstance(exc, workers.WorkerDied):
                log.error("a worker failed in a batch: %s", exc.reason)
        if messages and messages[0][0] == "problem":
            return refuse(messages[0][1])
        if not messages:   # stopped before the body was even read
            if isinstance(cut, workers.TimedOut):
                return refuse([timeout_issue(source, "the batch was")])
            return worker_died(cut, source)
        _, count, places = messages[0]
        results, evaluated, unlogged, codes_said, refs = [], 0, [], [], []
        for i, (kind, *rest) in enumerate(messages[1:]):
            if kind == "ok":
                item, line, ref = rest
                try:
                    service.record(line)
                except OSError as exc:   # not answered, as on /v1/evaluate: named in its place instead
                    unlogged.append(exc)
                    issue = log_issue(places[i][0])
                    codes_said.append(issue.code)
                    results.append(dump_json_bytes({"errors": [issue.as_dict()], "line": places[i][1], "source": places[i][0]}))
                    continue
                refs.append(ref)
                evaluated += 1
            else:
                item, codes = rest
                codes_said.extend(codes)
            results.append(item)
        for i in range(len(results), count):   # cut short: every case file not evaluated is still named in its place
            where = places[i][0]
            issue = (timeout_issue(where, "the case file was") if isinstance(cut, workers.TimedOut) else
                     died_issue(cut, where, "not evaluated: "))
            codes_said.append(issue.code)
            results.append(dump_json_bytes({"errors": [issue.as_dict()], "line": places[i][1], "source": places[i][0]}))
        if unlogged:
            log_failed(unlogged[-1], request, len(unlogged))
            if not evaluated:   # the log took none of them: the service's failure, for the whole request, to be retried
                many = len(unlogged) > 1
                what = (f"none of the batch's {len(unlogged)} decisions was returned: they" if many else
                        "the batch's decision was not returned: it")
                return refuse([log_issue(source, what)], headers={"Retry-After": LOG_RETRY_AFTER})
        for code in codes_said:
            service.metrics.inc("regcode_errors_total", code=code)
        for ref in refs:
            service.metrics.inc("regcode_decisions_total", policy=ref)
        body = b'{"evaluated":%d,"failed":%d,"read":%d,"results":[%b]}' % (evaluated, count - evaluated, count, b",".join(results))
        return Response(body, media_type="application/json")

    # ---- policies -------------------------------------------------------------------------------
    @app.get("/v1/policies", tags=["policies"], summary="The policy versions being served", responses={400: problem_doc},
             dependencies=strict)
    async def policies():
        """Every version: its window, what it extends, its content hash, and its status since the last reload."""
        out = []
        for (policy_id, ver), served in sorted(service.loaded.served.items()):
            info = served.info
            out.append({"id": policy_id, "version": ver, "title": info.title, "effective_from": info.effective_from,
                        "effective_to": info.effective_to, "extends": info.extends,
                        "content_hash": served.policy.content_hash, "status": served.status})
        return Response(dump_json_bytes({"policies": out}), media_type="application/json")

    @app.get("/v1/policies/{policy_id}/{version}", tags=["policies"], responses={400: problem_doc, 404: problem_doc},
             dependencies=strict,
             summary="One version after inheritance")
    async def policy_version(policy_id: str, version: str):
        """The resolved version with its content hash and article index: what `regcode show --format json` prints."""
        cat = service.loaded.catalog
        try:
            cat.policy_id(policy_id)
            info = cat.choose(policy_id, "0000-00-00", version)
        except PolicyError as exc:      # here the choice is in the path, not the query
            segment = {"select.unknown_policy": "path.policy_id", "select.unknown_version": "path.version"}
            return refuse([replace(i, location=Location(path=segment[i.code]))
                           if i.code in segment and not i.location.file and not i.location.path else i for i in exc.issues])
        compiled = cat.compiled(info)
        body = {"content_hash": compiled.content_hash, "chain": list(compiled.chain), **compiled.resolved}
        return Response(dump_json_bytes(body), media_type="application/json")

    # ---- operations -----------------------------------------------------------------------------
    # A probe (a load balancer's, Kubernetes') reads the status, not the body: 503 whenever no decision can be
    # answered, starting (no worker alive) or refused by the decision log (each is a 503 `service.decision_log`
    # until a write succeeds), as OPA's /health answers 500 when unhealthy. A version kept from a failed reload
    # still serves its last good compile: `degraded` in the body, but 200, as OPA's /health stays 200 once its
    # bundles were activated: a bad policy push that every replica refuses alike must not take them all out.
    health_503 = {"description": "Not serving decisions (the same body): `status` `starting` while no worker is alive "
                                 "yet, or `degraded` with `decision_log` while the decision log refuses writes (each "
                                 "decision is then a 503 `service.decision_log`). A `degraded` status with only `kept` "
                                 "(a version serving its last good compile after a failed reload) is a 200",
                  "content": {"application/json": {}}}

    @app.get("/health", tags=["operations"], summary="Liveness and what is served", responses={503: health_503},
             dependencies=negotiated)
    async def health():
        alive = service.pool.alive()
        loaded = service.loaded
        # a version whose files failed on the last reload serves its last good compile: alive (200), but not as
        # its files say; `kept` names each, with the reload's problems in /v1/policies and its reply
        kept = sorted(f"{p}@{v}" for (p, v), s in loaded.served.items() if s.status == "kept")
        # a decision log whose last write failed refuses every decision (a 503 each): alive, but not serving
        # decisions; `decision_log` says why (not where: the path is in the server's log), until a write succeeds
        fault = service.log_fault
        if fault and service.log is not None:     # the log is tried again: a 503 takes the replica out of rotation, so
            try:                                  # no decision would come to clear it (it stayed 503 for good)
                await asyncio.get_running_loop().run_in_executor(None, service.log.check)
                fault = service.log_fault = None
            except OSError as exc:
                fault = service.log_fault = os_reason(exc, shown=True)
        body = {"status": "starting" if not alive else "degraded" if kept or fault else "ok", "workers": alive,
                "policy_versions": len(loaded.served), "regcode_version": service.version}
        if kept:
            body["kept"] = kept
        if fault:
            body["decision_log"] = f"the last decision could not be written ({fault}): each decision is refused until one can be"
        serving = alive and not fault
        return Response(dump_json_bytes(body), media_type="application/json", status_code=200 if serving else 503)

    # HEAD too: load balancers probe with it (the status and headers without the body); its own operation in the document
    app.add_api_route("/health", health, methods=["HEAD"], tags=["operations"], operation_id="health_head",
                      responses={503: health_503}, dependencies=negotiated,
                      summary="Liveness: the status of GET /health, without the body")

    @app.get("/metrics", tags=["operations"], summary="Counters and latencies (Prometheus text format)",
             response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def metrics():
        return Response(service.metrics.render(), media_type=metrics_mod.CONTENT_TYPE)

    if config.enable_admin:
        @app.post("/v1/admin/reload", tags=["operations"], responses={400: problem_doc, 422: problem_doc}, dependencies=strict,
                  summary="Recompile the policies; a version that fails keeps its old compile")
        async def reload():
            """200 with each version's status when all compile; else a 422 problem naming every error, while the
            failing versions keep serving their last good compile (`versions[].status == "kept"`)."""
            loaded = await service.reload()
            report = loaded.report()
            if loaded.ok:
                return Response(dump_json_bytes(report), media_type="application/json")
            return problem([i.as_dict() for i in loaded.issues()], status=422, **report,   # the policy's errors, not a client's
                           title="A policy version failed to compile; it keeps serving its last good compile")

    generate_openapi = app.openapi

    built_for: list = [None]      # the load the document was built from: a reload may change the decisions served

    def openapi() -> dict:
        """FastAPI's document, with each response's schema (service/openapi.py: the decisions typed from the versions
        served), plus example case files (read from the policies' tests when first asked for, not at start)."""
        if app.openapi_schema is None or built_for[0] is not service.loaded:
            app.openapi_schema = None       # (the framework's own cache of the document)
            built_for[0] = service.loaded
            spec = openapi_doc.attach(generate_openapi(), [s.policy for _, s in sorted(service.loaded.served.items())])
            examples = _examples(service.loaded)
            if examples:
                paths = spec["paths"]
                paths["/v1/evaluate"]["post"]["requestBody"]["content"]["application/json"]["examples"] = examples
                paths["/v1/evaluate/batch"]["post"]["requestBody"]["content"]["application/json"]["example"] = [
                    e["value"] for e in examples.values()]
        return app.openapi_schema

    app.openapi = openapi
    return app


__all__ = ["ServeConfig", "create_app"]
