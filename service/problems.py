"""RFC 9457 problem responses: regcode's issues, with the CLI's codes, messages and locations, and an HTTP status."""
from __future__ import annotations

import re
from typing import Iterable, Optional

from fastapi.responses import Response

from ..engine import Issue, Location, dump_json_bytes

MEDIA_TYPE = "application/problem+json"

# The status of a problem, from its first issue's code: exact codes first, then the code's family.
_BY_CODE = {
    "input.schema": 422, "input.as_of": 422,
    "select.unknown_policy": 404, "select.unknown_version": 404, "select.which_policy": 400,
    "select.no_version_in_force": 422,
    "request.too_large": 413, "request.too_many": 413, "input.too_large": 413,   # a case file past its own limit too
    "request.media_type": 415, "request.content_encoding": 415, "request.not_found": 404,
    "request.method": 405, "request.query": 400, "request.body": 400, "request.header": 400,
    "request.syntax": 400, "request.disconnected": 400, "request.length_required": 411, "request.timeout": 408,
    "request.headers_too_large": 431, "request.http_version": 400, "request.not_acceptable": 406,
    "eval.timeout": 422, "service.busy": 429, "service.worker_killed": 503,
    "service.decision_log": 503,
}
_BY_FAMILY = {"input": 400, "select": 422, "eval": 422, "compile": 422, "schema": 422, "load": 422, "reload": 422,
              "request": 400, "service": 503, "internal": 500}
_TITLES = {
    400: "The request is malformed", 404: "Not found", 405: "Method not allowed", 406: "Not acceptable",
    408: "The request was not received in time",
    411: "Length required",
    413: "The request is too large",
    415: "Unsupported media type", 431: "The request's headers are too large", 422: "The case cannot be evaluated", 429: "The service is busy",
    503: "The service could not finish the request; it may be sent again",
    500: "Internal error (a bug in regcode, not in the request)",
}


def read_timeout_issue(part: str, seconds: float, received: int = 0) -> Issue:
    """The problem of a request whose head ("head") did not arrive in time, or whose body ("body") paused too long."""
    if part == "head":
        message = (f"the request's head (its request line and headers) did not arrive within {seconds:g} s "
                   f"({received} byte{'s' if received != 1 else ''} of it received)")
        where = "request"
    else:
        message = f"the request body paused for more than {seconds:g} s"
        where = "body"
    return Issue("request.timeout", message, Location(path=where),
                 "send the whole request without pausing (the server's --read-timeout sets the limit)")


def status_of(issues: list) -> int:
    """The HTTP status for a list of issue dicts or Issues (the first issue decides; they are sorted by place)."""
    if not issues:
        return 500
    first = issues[0]
    code = first["code"] if isinstance(first, dict) else first.code
    return _BY_CODE.get(code) or _BY_FAMILY.get(code.split(".", 1)[0], 422)


def _line(issue: dict) -> str:
    """One issue as the CLI prints it: `file:line:col: code: message (hint)` (Issue's own str)."""
    loc = issue.get("location") or {}
    return str(Issue(issue["code"], issue["message"], Location(**loc), issue.get("hint", "")))


def detail(issues: list) -> str:
    """The CLI's stderr paragraph: one line per issue and, for several, `N problems`."""
    lines = [_line(i) for i in issues]
    if len(issues) > 1:
        lines.append(f"{len(issues)} problems")
    return "\n".join(lines)


# A choice of policy is made on the command line by options, here by query parameters: an issue about one
# is placed at the parameter (the CLI places it at the option), and its hint names the parameter.
_QUERY_OF = {"select.unknown_policy": "policy", "select.which_policy": "policy", "select.unknown_version": "version",
             "select.no_version_in_force": "as_of"}
_OPTIONS = (("a version in a folder of your own needs --policy-root DIR",
             "the service serves the versions it was started with (regcode serve --policy-root DIR)"),
            ("--policy-version", "the query parameter `version`"), ("--policy NAME", "the query parameter `policy`"),
            ("--policy", "the query parameter `policy`"), ("--as-of", "the query parameter `as_of`"),
            ("see `regcode policies`", "GET /v1/policies lists the policies served"),
            ("`regcode policies` lists them", "GET /v1/policies lists them"))


def for_http(issue: dict) -> dict:
    """An issue in HTTP's terms: hints name query parameters, not options; a selection is placed at its parameter."""
    hint = issue.get("hint", "")
    if "--" not in hint and "regcode policies" not in hint and issue["code"] not in _QUERY_OF:
        return issue
    for option, http in _OPTIONS:      # a whole option only: `--policy` is not the start of `--policy-root`
        hint = re.sub(rf"{re.escape(option)}(?![\w-])", lambda _m, said=http: said, hint)
    loc = issue.get("location") or {}
    if not loc.get("file") and not loc.get("path") and issue["code"] in _QUERY_OF:
        loc = {**Location().as_dict(), "path": f"query.{_QUERY_OF[issue['code']]}"}    # as request.query places its own
    return {**issue, "hint": hint, "location": loc}


def problem_body(issues: Iterable, status: Optional[int] = None, title: Optional[str] = None, **extra) -> tuple:
    """(status, the problem+json bytes) carrying every issue (`errors`, as `--format json` prints them)."""
    issues = [for_http(i.as_dict() if isinstance(i, Issue) else i) for i in issues]
    status = status or status_of(issues)
    body = {
        "type": f"urn:regcode:problem:{issues[0]['code'] if issues else 'internal.error'}",
        "title": title or _TITLES.get(status, "Problem"),
        "status": status,
        "detail": detail(issues),
        "errors": issues,
        **extra,
    }
    return status, dump_json_bytes(body)


def problem(issues: Iterable, status: Optional[int] = None, headers: Optional[dict] = None, title: Optional[str] = None,
            **extra) -> Response:
    """A problem+json response carrying every issue (`errors`, as `--format json` prints them)."""
    status, body = problem_body(issues, status, title, **extra)
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)
