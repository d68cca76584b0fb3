"""What a worker process does with one request body: parse it with regcode's loader, evaluate, render the reply and the log lines."""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterator, Optional

import yaml


from ..engine import Catalog, InputError, Issue, Location, PolicyError, dump_json_bytes, evaluate_case, load_case_text
from ..engine.corpus import parse_record, text_records
from ..engine.load import not_utf8
from ..engine.replay import fired_rules, input_sha256
from . import elements
from .problems import for_http

DEFAULT_SOURCE = "<request>"   # the case's name in error locations and in `source`, like `<stdin>` for eval


@dataclass(frozen=True)
class State:
    """What every worker holds: the compiled versions being served, and how to evaluate."""

    catalog: Catalog
    backend: str
    regcode_version: str


@dataclass(frozen=True)
class Ask:
    """One request as it travels to a worker (picklable)."""

    kind: str                    # "evaluate" | "batch"
    body: bytes
    media: str                   # "json" | "yaml" | "jsonl"
    source: str = DEFAULT_SOURCE
    policy: Optional[str] = None
    version: Optional[str] = None
    as_of: Optional[str] = None
    explain: str = "full"
    log_input: bool = True
    max_batch: int = 1000


# What a worker sends back, one message per case (a batch sends "count" first):
#   ("ok", item_json, log_line, policy_ref)   a decision: the response item and its decision-log line
#   ("error", item_json, issue_codes)         a bad record of a batch, reported in its place
# (item_json and log_line are UTF-8 bytes, as orjson writes them: they go to the socket and the log as
# they are, never decoded to text in the worker and encoded back in the server)
#   ("problem", [issue dicts])                the whole request is refused (the app picks the status)
#   ("count", n, [(source, line)])            how many records a batch holds, and where each is


def decision_id() -> str:
    """A UUIDv7 (RFC 9562): sortable by time of decision, 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def shown(result: dict, level: str) -> dict:
    """`result` (evaluated with explain=full) as `evaluate_case(..., explain=level)` returns it. One evaluation
    serves both the reply at the asked level and the log's rules_fired, which needs the full why."""
    if level == "full":
        return result
    out = {k: v for k, v in result.items() if k not in ("why", "derived")}
    if level == "decisive":
        out["why"] = {name: [e for e in entries if e["decisive"]] for name, entries in result["why"].items()}
        out["derived"] = result["derived"]
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decide(state: State, doc, ask: Ask, where: dict) -> tuple:
    result = evaluate_case(state.catalog, doc, ask.policy, ask.as_of, ask.version, state.backend, "full")
    did = decision_id()
    item = dump_json_bytes({**shown(result, ask.explain), "decision_id": did})
    policy = result["policy"]
    entry = {
        "decision_id": did, "time": _now(), "regcode_version": state.regcode_version,
        "policy": {"id": policy["id"], "version": policy["version"], "content_hash": policy["content_hash"]},
        "as_of": result["as_of"], "input_sha256": input_sha256(doc.data), "explain": ask.explain,
        "decisions": result["decisions"], "rules_fired": fired_rules(result), "source": result.get("source", ""), **where,
        # what the request asked for (null: not asked), so that replay evaluates a version asked for by name
        # against that version, as the service did, and not against the one in force on the date
        "asked": {"policy": ask.policy, "version": ask.version},
    }
    if ask.log_input:
        entry["input"] = doc.data
    return ("ok", item, dump_json_bytes(entry), f"{policy['id']}@{policy['version']}")


def _not_utf8(ask: Ask, exc: UnicodeDecodeError) -> InputError:
    """The body's first byte that is not UTF-8, at its line and column."""
    issue = not_utf8(ask.body, exc, ask.source, "input.encoding", "the request body")
    return InputError([replace(issue, hint="send the case file as UTF-8 (text saved as GBK or GB18030 reads this way)")])


def _text(ask: Ask) -> str:
    try:
        return ask.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(ask, exc) from None


def _array_text(ask: Ask) -> str:
    """A batch array's text: a byte that is not UTF-8 kept as a lone surrogate (surrogateescape), so that the
    array is still split into its elements and only the element that holds it is refused (elements.cases)."""
    return ask.body.decode("utf-8-sig", "surrogateescape")


def _array_cases(ask: Ask) -> tuple:
    text = _array_text(ask)
    try:
        return elements.cases(text, ask.source, ask.max_batch)
    except InputError:
        try:
            ask.body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:   # elements not told apart, and bytes not UTF-8: the body's first fault
            raise _not_utf8(ask, exc) from None
        raise


def _case(ask: Ask):
    """The body as a case Document, read exactly as `regcode eval` reads a file."""
    # A JSON body is read as JSON (as a .json file is), a YAML body as YAML: the same refusals as the CLI's
    text = _text(ask)
    try:
        return load_case_text(text, ask.source, as_json=ask.media == "json")
    except InputError as exc:   # a value found wrong after reading (a lone surrogate) has a path but no line yet
        issues = exc.issues
        if ask.media == "json" and [i.code for i in issues] == ["input.syntax"] and _reads_as_yaml(text):
            # a YAML case file sent as JSON, or with no Content-Type (read as JSON): said with the fix
            issues = [replace(issues[0], hint="the body reads as YAML: send it with Content-Type: application/yaml "
                              "(curl: -H 'Content-Type: application/yaml')")]
        raise InputError(elements.placed_in_text(issues, text, ask.source)) from None


YAML_GUESSED = 64 << 10     # characters: a larger body is not read a second time just to better a hint


def _reads_as_yaml(text: str) -> bool:
    """Whether text that is not JSON reads as a YAML mapping (a case file's shape), by libyaml where it is there."""
    if len(text) > YAML_GUESSED:
        return False
    try:
        return isinstance(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), dict)
    except (yaml.YAMLError, RecursionError, ValueError):
        return False


def _guarded(fn, source: str, identity: Optional[dict] = None):
    """Run one case; a bad case is its issues (in HTTP's terms), and a bug of ours on one case is reported as
    such, not a lost request. `identity`, when given, receives the case's identity fields (the CLI's too)."""
    try:
        return fn(), None
    except PolicyError as exc:
        if identity is not None:
            identity.update(exc.identity or {})
        return None, [for_http(i.as_dict()) for i in exc.issues]
    except RecursionError as exc:
        return None, [Issue("input.too_deep", f"the case file is nested too deeply: {exc}", Location(source), "flatten it").as_dict()]


def handle(state: State, ask: Ask) -> Iterator[tuple]:
    """The messages for one request (see the table above)."""
    if ask.kind == "evaluate":
        reply, issues = _guarded(lambda: _decide(state, _case(ask), ask, {}), ask.source)
        yield reply if issues is None else ("problem", issues)
        return
    yield from _batch(state, ask)


def _batch(state: State, ask: Ask) -> Iterator[tuple]:
    more = False
    try:
        if not _first_char(ask.body):   # as /v1/evaluate says of an empty case file: not a batch of none ([] is one)
            raise InputError([Issue("input.empty", "the batch is empty: the body holds no case file", Location(ask.source, 1, 1),
                                    "send a JSON array of case files, or JSON lines (one case file a line)")])
        _refuse_one_object(ask)
        if ask.media == "jsonl" or _first_char(ask.body) != b"[":
            records = list(text_records(ask.body, ask.source))
            cases = None
        else:   # split into its elements, each read on its own: a bad one is reported in its place
            cases, more = _array_cases(ask)
            records = None
    except InputError as exc:
        yield ("problem", [i.as_dict() for i in exc.issues])
        return
    count = len(records if records is not None else cases)
    if count > ask.max_batch:   # an array is not read past the limit: how many more it holds is not known
        held = f"more than {ask.max_batch}" if more else str(count)
        yield ("problem", [Issue("request.too_many", f"the batch holds {held} case files; "
                                 f"at most {ask.max_batch}", Location(ask.source),
                                 f"split it into batches of {ask.max_batch} or fewer").as_dict()])
        return
    places = [(r.source, r.line) for r in records] if records is not None else [(c.source, c.line) for c in cases]
    yield ("count", count, places)
    for i in range(count):
        if records is not None:
            record = records[i]
            source, line = record.source, record.line

            def run(record=record):
                return parse_record(record)
        else:
            case = cases[i]
            source, line = case.source, case.line

            def run(case=case):
                if case.error is not None:
                    raise case.error
                return case.doc
        identity: dict = {}
        reply, issues = _guarded(lambda: _decide(state, run(), ask, {"batch_index": i}), source, identity)
        if issues is None:
            yield reply
        else:   # as `regcode batch --errors` writes a bad record: its enterprise, when it got far enough to have one
            yield ("error", dump_json_bytes({**identity, "errors": issues, "line": line, "source": source}), [e["code"] for e in issues])


def _refuse_one_object(ask: Ask) -> None:
    """One JSON object over several lines (a pretty-printed case file) is not JSON lines: read as such, each
    of its lines would be a bad record. It is said once, with the fix."""
    if ask.media == "jsonl" or _first_char(ask.body) != b"{" or b"\n" not in ask.body.strip():
        return
    try:
        json.loads(ask.body)
    except ValueError:
        return                      # several objects, one a line: JSON lines
    raise InputError([Issue("request.body", "the body is one JSON object over several lines; a batch is a JSON array "
                            "of case files, or JSON lines (one case file a line)", Location(ask.source, 1, 1),
                            "wrap the case in [ ], or send one case file to /v1/evaluate")])


def _first_char(body: bytes) -> bytes:
    stripped = body.lstrip(b" \t\r\n")
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip(b" \t\r\n")
    return stripped[:1]
