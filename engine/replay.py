"""Replay a decision log: re-evaluate each logged input with the policy in force now (or a forced version) and report what differs."""
from __future__ import annotations

import hashlib
import json
import os
import stat
from typing import Iterable, Optional

from .case import evaluate_case
from ._dates import date_example, date_problem, is_date
from .catalog import Catalog, SelectionError
from .errors import EvaluationError, InputError, Issue, Location, did_you_mean, file_name
from .evaluate import DEFAULT_BACKEND
from ._json import ValueTally, same, tally_text
from .load import Document, _kind, dump_json
from .load import json_position, json_syntax, not_utf8     # a log line's syntax, worded as batch words it

MAX_LINE_BYTES = 64 << 20     # a bound on one log line (the service's body limit is far below it)
MAX_LISTED = 20               # decision ids listed per change in the text report


def fired_rules(result: dict) -> list:
    """The ids of the rules that fired in an `explain=full` result: every rule with a claim or a derived fact."""
    ids = {e["rule"] for entries in result.get("why", {}).values() for e in entries}
    ids.update(d["rule"] for f in result.get("derived", ()) for d in f["derived_by"])
    return sorted(ids)


def input_sha256(data) -> str:
    """The hash of a case as regcode read it (canonical JSON), so YAML and JSON of the same case hash alike."""
    return hashlib.sha256(dump_json(data).encode("utf-8")).hexdigest()


def _decisive(result: dict, decision: str) -> list:
    return sorted({e["rule"] for e in result.get("why", {}).get(decision, ()) if e.get("decisive")})


# A log line is what `regcode serve` writes per decision: decision_id, policy {id, version, content_hash},
# asked {policy, version} (the request's query parameters, null when not given), as_of, input (unless logged
# as a hash only), input_sha256, decisions, rules_fired. A line that cannot be replayed (damaged, input not
# logged, input not matching its hash, no longer valid) is reported with its file and line, and the others
# are still replayed.


def _lines(paths: Iterable[tuple]):
    """(name, line number, bytes, last) of every non-blank line of the files `paths` (path, name: as it is written out,
    file_name), `last` for the last one of its file (where a crash leaves a partial line); a line past MAX_LINE_BYTES is
    yielded cut (and refused), the rest of it skipped without being held in memory. A UTF-8 BOM that starts a file is
    not part of its first line, as batch reads JSONL."""
    for real, path in paths:
        number = 0
        try:
            stream = open(real, "rb")
        except OSError as exc:
            raise _cannot_read(path, exc, number) from None
        with stream:
            held = None      # a line is yielded once the next one is read: only then is it known to be the last
            while True:
                try:
                    raw = stream.readline(MAX_LINE_BYTES + 1)
                    if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                        while True:          # skip to the end of the long line, a bounded chunk at a time
                            rest = stream.readline(1 << 20)
                            if not rest or rest.endswith(b"\n"):
                                break
                except OSError as exc:       # EIO from a failing disk, a /proc file that cannot be read
                    raise _cannot_read(path, exc, number) from None
                if not raw:
                    break
                number += 1
                if number == 1 and len(raw) <= MAX_LINE_BYTES and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if raw.strip():
                    if held is not None:
                        yield (*held, False)
                    held = (path, number, raw)
            if held is not None:
                yield (*held, True)


def _read_line(raw: bytes, where: Location, last: bool):
    """The JSON object of a log line, or the issue that says why it is none, at its line and column: worded as
    batch words a JSONL record's syntax (load.json_syntax), with a hint that fits where the line is. A crash
    leaves the last line partial; the service, started again (or after a failed write), ends it before it writes
    the next, which is how a line cut short comes to be in the middle. A line not cut short was altered."""
    body = raw.rstrip(b"\r\n")     # its line's end is not part of it: an error at the end is on this line
    rest = "the other lines are replayed"
    cut_hint = ("a crash can leave the last line partial; " if last else
                "a crash or a failed write leaves a line partial, which the service ends before it writes the next; ") + rest
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":       # cut in a character is cut short: its JSON says so, below
            issue = not_utf8(body, exc, where.file, "replay.syntax", "the line")
            return None, Issue("replay.syntax", issue.message, Location(where.file, where.line, issue.location.column),
                               f"the service writes UTF-8: the line was altered or damaged; {rest}")
        text = body[:exc.start].decode("utf-8")
        cut = len(text) + 1      # the column of the partial character
    else:
        cut = None
    try:
        data = json.loads(text, parse_constant=_no_constant)
        if cut is not None:      # the JSON is whole, and a stray byte of a character follows it: not the service's line
            return None, Issue("replay.syntax", "not a JSON line: a partial UTF-8 character follows its JSON",
                               Location(where.file, where.line, cut),
                               f"the service writes UTF-8 and one JSON object a line: the line was altered or damaged; {rest}")
        return data, None
    except json.JSONDecodeError as exc:
        message, index = json_syntax(exc, text, "line", "the logged decision")
        hint = cut_hint if "cut short" in message else f"the service writes one JSON object a line: the line was altered or damaged; {rest}"
        return None, Issue("replay.syntax", message, Location(where.file, where.line, json_position(text, index)[1]), hint)
    except ValueError as exc:       # NaN, Infinity (_no_constant)
        return None, Issue("replay.syntax", f"not a JSON line: {exc}", where,
                           f"the service writes no NaN or Infinity: the line was altered; {rest}")
    except RecursionError:
        return None, Issue("replay.syntax", "not a JSON line: it is nested too deeply to be read", where,
                           f"the service writes no line so deep: it was altered or damaged; {rest}")


def _no_constant(name: str):
    # NaN and Infinity are no JSON (the service never writes them); NaN != NaN would be a change every time
    raise ValueError(f"{name} is not a JSON value")


def _cannot_read(path, exc: OSError, lines_read: int) -> InputError:
    """The log (or one of the rotated files) cannot be read, or read further: the replay stops, with no report,
    as a batch stops on an input it cannot read (input.io)."""
    reason = exc.strerror or str(exc)
    if not lines_read:
        return InputError([Issue("replay.io", f"cannot read the log: {reason}", Location(str(path)),
                                 "check that it is the decision log and readable; the replay stopped, with no report")])
    return InputError([Issue("replay.io", f"cannot read the log past line {lines_read:,}: {reason}",
                             Location(str(path), lines_read + 1, 1), f"the replay stopped, with no report; a copy of the "
                             f"lines that can be read (`head -n {lines_read} FILE`) can be replayed")])


MAX_UNKNOWN_POLICIES = 100    # distinct unknown policy ids counted (a damaged log may name many)


def _json_kind(value) -> str:
    """A JSON value's kind, as a message says it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _shown(value) -> str:
    text = dump_json(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_rule_ids(value) -> bool:
    return isinstance(value, list) and all(isinstance(r, str) for r in value)


# What replay reads of a line, beside `input` (a case file, checked as one): (path, required, what the
# service writes there, the check). A line whose field is not what the service writes is reported at its
# place and not replayed: evaluated, it would crash or report changes the log never held. Required: what
# every line has, whatever the --decision-log-input mode (`none` leaves out `input` only, and keeps its
# hash) and whatever regcode wrote it; not required: what a line may lack and still be read (`asked`,
# which older lines lack, is read as "not said"). Without `decision_id` a line would be counted as many
# times as it is read; without `input_sha256` an altered input would be replayed as if logged.
LINE_FIELDS = (
    ("decisions", True, "an object", lambda v: isinstance(v, dict)),
    ("policy", True, "an object", lambda v: isinstance(v, dict)),
    ("decision_id", True, "a non-empty string", lambda v: isinstance(v, str) and v != ""),
    ("as_of", True, "a date (YYYY-MM-DD)", is_date),     # the engine's own check: 2019-02-30 is no day
    ("input_sha256", True, "a string", lambda v: isinstance(v, str)),
    ("policy.id", True, "a string", lambda v: isinstance(v, str)),
    ("policy.version", True, "a string", lambda v: isinstance(v, str)),
    ("policy.content_hash", False, "a string", lambda v: isinstance(v, str)),
    ("rules_fired", False, "a list of rule ids", lambda v: v is None or _is_rule_ids(v)),
    ("time", False, "a time stamp (a string)", lambda v: isinstance(v, str)),
    ("regcode_version", False, "a string", lambda v: isinstance(v, str)),
    ("explain", False, "one of none, decisive, full", lambda v: v in ("none", "decisive", "full")),
    ("asked", False, "an object", lambda v: isinstance(v, dict)),
    ("asked.policy", False, "a string or null", lambda v: v is None or isinstance(v, str)),
    ("asked.version", False, "a string or null", lambda v: v is None or isinstance(v, str)),
)
_ABSENT = object()
# What every line the service logs has, and an `eval`/`batch` output (or a /v1/evaluate reply) has not
LOG_ONLY = ("input", "input_sha256", "regcode_version", "time")


def _field(entry: dict, path: str):
    value = entry
    for key in path.split("."):
        if not isinstance(value, dict):
            return _ABSENT
        value = value.get(key, _ABSENT)
    return value


def field_issues(entry: dict, where: Location) -> list:
    """The fields of a decision-log line that are missing or not what the service writes, each at its path."""
    out, wrong = [], set()
    for path, required, what, fits in LINE_FIELDS:
        if path.rpartition(".")[0] in wrong:      # `policy` is a list: its `id` is not said missing too
            continue
        value = _field(entry, path)
        at = Location(where.file, where.line, where.column, path)
        if value is _ABSENT:
            if required:
                out.append(Issue("replay.field", f"the line has no `{path}`", at,
                                 "every line `regcode serve` writes has it; the line was altered or damaged"))
            continue
        if not fits(value):
            example = date_example(value) if path == "as_of" else ""
            mend = f"mend it (`\"{path}\":\"{example}\"`) or remove the line" if example else "mend or remove the line"
            wrong.add(path)
            found = (f"{_shown(value)} ({date_problem(value)})" if path == "as_of" and isinstance(value, str)
                     else f"{_shown(value)} is {_json_kind(value)}")
            out.append(Issue("replay.field", f"{path} is not {what}: {found}", at,
                             f"the service writes {what} there; the line was altered or damaged: {mend}"))
    return out


def _unreplayable(where: Location, code: str, message: str, hint: str = "") -> dict:
    return {"source": f"{where.file}:{where.line}", "errors": [Issue(code, message, where, hint).as_dict()]}


def _hinted(issue: Issue, cat: Catalog, entry: dict, where: Location) -> Issue:
    """A line's selection problem with the fix that fits how its version was chosen by the service: asked
    for by name (the request's `version`, logged in `asked`), or by date. Either way the version that
    decided it is found with the --policy-root the service ran with; only a version asked for by name, or
    one a line logged before `asked` was may have been, is one --policy-version names."""
    logged, asked = entry["policy"], entry.get("asked") or {}
    pid, ver = logged["id"], logged["version"]
    if issue.code == "select.unknown_version" and asked.get("version") is not None:
        return Issue(issue.code, f"the request asked for {pid}@{asked['version']} by name (`version={asked['version']}`); "
                     f"{issue.message}", Location(where.file, where.line, where.column, "asked.version"),
                     f"replay with the --policy-root where {pid}@{asked['version']} lives (the one the service ran with)")
    if issue.code != "select.no_version_in_force":
        return issue
    here = cat.index().get(pid, {}).get(ver)
    if here is None:
        hint = (f"it was decided by {pid}@{ver}, chosen by its date, which the policies replayed against do not have: "
                f"replay with the --policy-root where {pid}@{ver} lives (the one the service ran with)")
    elif "asked" in entry:
        hint = (f"it was decided by {pid}@{ver}, chosen by its date, but {ver} here is in force {here.window}: replay "
                f"with the --policy-root the service ran with (--policy-version {ver} forces this one)")
    else:
        hint = (f"it was decided by {pid}@{ver}; a line logged before regcode logged what a request asked for does not "
                f"say whether by name: if so, replay it with --policy-version {ver}, else with the --policy-root the "
                f"service ran with")
    return Issue(issue.code, issue.message, issue.location, hint)


def _unfit(cat: Catalog, policy_id, version: Optional[str]) -> Optional[SelectionError]:
    """Why no line of a policy of the log can be replayed, from the manifests (checked once per policy, not
    per line). A broken version is the policy's fault, not a line's: it stops the replay, as a policy that
    does not compile does. A --policy-version the policy lacks is returned: said once if no policy of the
    log has it (see `replay`), on each of the policy's lines if another policy has it."""
    cat.refuse_broken(policy_id, version)
    if version is not None:
        try:
            cat.choose(policy_id, "0000-00-00", version)
        except SelectionError as exc:
            return exc
    return None


def replay(cat: Catalog, paths: list, version: Optional[str] = None, backend: str = DEFAULT_BACKEND) -> dict:
    """Every logged decision re-evaluated; `changed` lists the ones whose decisions differ now (by id), with, per
    decision, the old and new value and the rules that decide it now; `changes` groups them by decision.
    A decision only one side has (a version that adds or drops one) is listed apart, not as a change.

    Raises SelectionError, once, for what is wrong with the policies rather than a line: a version that
    cannot be read, or a `version` no policy of the log has (each of its policies is named with its versions)."""
    warnings: list = []     # what is counted once though read twice: not a failure, said in the report
    files, seen_files = [], {}
    for real in paths:      # a FIFO would block and a device never end: a log is a regular file
        path = file_name(str(real))      # the name as the report can carry it (a byte that is not UTF-8 as \xNN)
        try:
            st = os.stat(real)
        except OSError as exc:
            raise InputError([Issue("replay.io", f"cannot read the log: {exc.strerror or exc}", Location(str(path)),
                                    "check the path")]) from None
        if not stat.S_ISREG(st.st_mode):
            raise InputError([Issue("replay.not_a_file", f"this is {_kind(st.st_mode)}, not a decision log", Location(str(path)),
                                    "give the file `regcode serve --decision-log FILE` writes")])
        first = seen_files.setdefault((st.st_dev, st.st_ino), path)
        if len(seen_files) == len(files):    # `replay a.log a.log`: its decisions are read once, not counted twice
            again = "given twice" if str(first) == str(path) else f"the file {first} again"
            warnings.append(Issue("replay.same_file", f"{path} is {again}: read once", Location(str(path)),
                                  "each decision of a log is counted once").as_dict())
            continue
        files.append((real, path))
    changed, skipped, targets = [], [], {}
    added, removed = set(), {}      # removed: decision -> ValueTally of its logged values
    replayed = unchanged = 0
    asked_by_name: dict = {}   # (policy id, version) -> lines replayed against the version their request asked for
    unfit: dict = {}        # a policy of the log the catalog knows -> None, or why none of its lines can be replayed
    unknown: dict = {}      # a policy of the log the catalog does not know -> its lines
    seen: dict = {}         # decision_id -> (where it was first read, a digest of that line)
    for path, number, raw, last in _lines(files):
        where = Location(path, number, 1)
        if len(raw) > MAX_LINE_BYTES:
            skipped.append(_unreplayable(where, "replay.too_large", f"the line is longer than {MAX_LINE_BYTES} bytes"))
            continue
        entry, bad = _read_line(raw, where, last)
        if bad is not None:
            skipped.append({"source": f"{path}:{number}", "errors": [bad.as_dict()]})
            continue
        if not isinstance(entry, dict) or "decisions" not in entry or "policy" not in entry:
            skipped.append(_unreplayable(where, "replay.not_decision", "not a decision-log line (no `decisions` or `policy`)"))
            continue
        if not any(key in entry for key in LOG_ONLY):     # decisions and policy, but nothing a log line has beside them
            skipped.append(_unreplayable(where, "replay.eval_output", f"an evaluation's output, not a decision-log line: it has "
                                         f"`decisions` and `policy` but none of {', '.join(f'`{k}`' for k in LOG_ONLY)}",
                                         "`regcode batch --out`, `eval --format json` and the service's replies hold no case "
                                         "to evaluate again; the service's --decision-log does"))
            continue
        wrong = field_issues(entry, where)
        if wrong:
            skipped.append({"source": f"{path}:{number}", "errors": [i.as_dict() for i in wrong]})
            continue
        did = entry["decision_id"]      # a decision id is unique (a UUIDv7): a second line with it is the same decision
        digest = hashlib.blake2b(dump_json(entry).encode("utf-8"), digest_size=16).digest()
        first = seen.setdefault(did, (f"{path}:{number}", digest))
        if first[0] != f"{path}:{number}":
            if first[1] == digest:      # the line again (logs concatenated, a rotated file given twice)
                warnings.append(Issue("replay.duplicate", f"decision {did} was read at {first[0]} already: the same "
                                      "line again, counted once", where, "each decision is counted once").as_dict())
            else:
                skipped.append(_unreplayable(where, "replay.duplicate_id", f"decision {did} is logged at {first[0]} "
                                             "too, with other content: a decision id is unique, so one of the two "
                                             "lines was altered", "compare the two lines; the first was replayed, "
                                             "this one is not"))
            continue
        if "input" not in entry:
            skipped.append(_unreplayable(where, "replay.no_input", f"decision {did} was logged without its input",
                                         "the server ran with --decision-log-input none; only the hash was kept"))
            continue
        if entry["input_sha256"] != input_sha256(entry["input"]):
            skipped.append(_unreplayable(where, "replay.hash", f"decision {did}: the input does not match its input_sha256",
                                         "the line was altered or damaged"))
            continue
        old_policy = entry["policy"]
        policy_id = old_policy.get("id")
        if isinstance(policy_id, str) and policy_id not in cat.index() and (policy_id in unknown or len(unknown) < MAX_UNKNOWN_POLICIES):
            unknown[policy_id] = unknown.get(policy_id, 0) + 1      # said per line, or once if no line's policy is known
        if isinstance(policy_id, str) and policy_id in cat.index():
            if policy_id not in unfit:
                unfit[policy_id] = _unfit(cat, policy_id, version)
            if unfit[policy_id] is not None:
                skipped.append({"source": f"{path}:{number}", "decision_id": did,
                                "errors": [i.as_dict() for i in unfit[policy_id].issues]})
                continue
        doc = Document(f"{path}:{number}", entry["input"], place=(str(path), number))
        # a version the request asked for by name is the one to replay against, as `eval --policy-version`
        # would (--policy-version, given to replay, wins: the user asks for every line to be replayed so)
        by_name = (entry.get("asked") or {}).get("version") if version is None else None
        try:
            result = evaluate_case(cat, doc, policy_id, entry["as_of"], version or by_name, backend, "full")
        except (InputError, SelectionError, EvaluationError) as exc:   # this line's case; a broken policy stops the replay
            issues = [_hinted(i, cat, entry, where) if version is None else i for i in exc.issues]
            skipped.append({"source": f"{path}:{number}", "decision_id": did, "errors": [i.as_dict() for i in issues]})
            continue
        except RecursionError:
            skipped.append(_unreplayable(where, "input.too_deep", f"decision {did}: the input is nested too deeply"))
            continue
        new_policy = result["policy"]
        old = entry["decisions"]
        if old_policy.get("content_hash") == new_policy["content_hash"] and set(old) != set(result["decisions"]):
            # the version that logged it, to the byte: its decisions are these, so the line lost or gained some
            lost, extra = sorted(set(result["decisions"]) - set(old)), sorted(set(old) - set(result["decisions"]))
            said = "; ".join(part for part in (f"lacks {', '.join(lost[:5])}" + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
                                               if lost else "", f"holds {', '.join(extra[:5])}, which it does not declare" if extra else "") if part)
            skipped.append(_unreplayable(Location(where.file, where.line, where.column, "decisions"), "replay.field",
                                         f"decision {did}: `decisions` {said}, though the line was logged by the version "
                                         f"replayed against ({new_policy['id']}@{new_policy['version']}, {new_policy['content_hash']})",
                                         "the service logs every decision of the version: the line was altered or damaged; "
                                         "mend or remove it"))
            continue
        replayed += 1
        if by_name is not None:
            asked_by_name[(new_policy["id"], by_name)] = asked_by_name.get((new_policy["id"], by_name), 0) + 1
        targets[(new_policy["id"], new_policy["version"], new_policy["content_hash"])] = True
        new = result["decisions"]
        added.update(set(new) - set(old))       # a decision one version has and the other not is not a changed value
        for name in set(old) - set(new):
            removed.setdefault(name, ValueTally()).add(old[name])
        diffs = []
        for name in sorted(set(old) & set(new)):
            if not same(old[name], new[name]):     # (a logged `false` replayed as `0` is a change: not Python's ==)
                diffs.append({"decision": name, "old": old[name], "new": new[name], "rules": _decisive(result, name)})
        if not diffs:
            unchanged += 1
            continue
        was = set(entry.get("rules_fired") or ())
        now = set(fired_rules(result))
        changed.append({
            "decision_id": did, "source": f"{path}:{number}", "as_of": result["as_of"],
            "policy": {"old": {k: old_policy.get(k) for k in ("id", "version", "content_hash")},
                       "new": {k: new_policy[k] for k in ("id", "version", "content_hash")}},
            "diffs": diffs,
            "rules": {"no_longer_fire": sorted(was - now), "now_fire": sorted(now - was)} if was else None,
        })
    if unfit and all(why is not None for why in unfit.values()):    # no policy of the log has `version`
        raise SelectionError([i for _, why in sorted(unfit.items()) for i in why.issues])
    if unknown and not unfit and not replayed:     # not one line's policy is known: the wrong policy root, said once
        ids = cat.policy_ids()
        named = ", ".join(f"`{p}` ({n:,} line{'s' if n != 1 else ''})" for p, n in sorted(unknown.items()))
        raise SelectionError([Issue("select.unknown_policy", f"the log's decisions are of {named}, which the policies "
                                    f"replayed against do not have; known: {', '.join(ids) or 'none'}",
                                    Location(file_name(str(paths[0]))), did_you_mean(next(iter(sorted(unknown))), ids)
                                    or "replay with the --policy-root the service ran with")])
    # The report does not depend on the order the logs are given in: what it lists is sorted, changed decisions
    # by id (a UUIDv7: the order they were taken in), lines by file and line. The logs are still read in the order
    # given (oldest first with --with-rotated): it decides only, of two lines with one decision id, which is replayed.
    changed.sort(key=lambda c: c["decision_id"])
    skipped.sort(key=lambda s: _place(s["source"]))
    warnings.sort(key=lambda w: (w["location"]["file"], w["location"]["line"]))
    groups: dict = {}
    for c in changed:
        for d in c["diffs"]:
            key = (d["decision"], dump_json(d["old"]), dump_json(d["new"]))
            g = groups.setdefault(key, {"decision": d["decision"], "old": d["old"], "new": d["new"], "count": 0,
                                        "rules": set(), "decision_ids": []})
            g["count"] += 1
            g["rules"].update(d["rules"])
            g["decision_ids"].append(c["decision_id"])
    changes = [{**g, "rules": sorted(g["rules"])} for _, g in sorted(groups.items())]
    return {
        "files": sorted(name for _, name in files), "warnings": warnings,
        "against": [{"id": p, "version": v, "content_hash": h} for p, v, h in sorted(targets)],
        "read": replayed + len(skipped), "replayed": replayed, "unchanged": unchanged, "changed": changed,
        "changes": changes, "skipped": skipped,
        "asked_by_name": [{"id": p, "version": v, "count": n} for (p, v), n in sorted(asked_by_name.items())],
        "decisions_added": sorted(added), "decisions_removed": sorted(removed),
        "removed_values": {name: tally.rows() for name, tally in sorted(removed.items())},
    }


def _place(source: str) -> tuple:
    """(file, line) of a line's `FILE:LINE`, to sort by."""
    path, _, line = source.rpartition(":")
    return path, int(line)


def has_changes(report: dict) -> bool:
    """A value differs, or the version replayed against adds or drops a decision: a system reading the log
    then gets a field it did not get, or no longer gets one it did (what --fail-on-change fails on)."""
    return bool(report["changed"] or report["decisions_added"] or report["decisions_removed"])


def _j(value) -> str:
    return dump_json(value)


def to_text(report: dict) -> str:
    """A summary for a person: one line per (decision, old, new) with its count and rules, then what was skipped."""
    against = ", ".join(f"{a['id']}@{a['version']} ({a['content_hash']})" for a in report["against"]) or "nothing"
    out = [f"replayed {report['replayed']} of {report['read']} logged decisions against {against}: "
           f"{len(report['changed'])} changed, {report['unchanged']} unchanged, {len(report['skipped'])} not replayed"
           + (f"; {len(report['warnings'])} warning(s)" if report.get("warnings") else "")]
    for a in report.get("asked_by_name", ()):
        out.append(f"  {a['count']} decision(s) asked for {a['id']}@{a['version']} by name (the request's `version`): "
                   f"replayed against it, not the version in force on their date")
    if report.get("decisions_added"):
        out.append(f"  the version replayed against adds decision(s) {', '.join(report['decisions_added'])}: not compared")
    for name, rows in (report.get("removed_values") or {}).items():   # what consumers of the log no longer get
        logged = tally_text(rows)
        out.append(f"  the version replayed against no longer has decision {name} (logged as {logged}): not compared")
    for g in report["changes"]:
        ids = g["decision_ids"][:MAX_LISTED]
        more = f" and {len(g['decision_ids']) - len(ids)} more" if len(g["decision_ids"]) > len(ids) else ""
        out.append(f"  {g['decision']}: {_j(g['old'])} -> {_j(g['new'])}  in {g['count']} decision(s)"
                   f"  [now by: {', '.join(g['rules']) or '—'}]")
        out.append(f"    {', '.join(ids)}{more}")
    for s in report["skipped"][:MAX_LISTED]:
        first = s["errors"][0]
        hint = f" ({first['hint']})" if first.get("hint") else ""
        at = first.get("location") or {}
        # FILE:LINE, and the column where it tells more than the line does (a JSON syntax error's place in it)
        column = f":{at['column']}" if at.get("column", 0) > 1 and f"{at.get('file')}:{at.get('line')}" == s["source"] else ""
        out.append(f"  ! {s['source']}{column}: {first['code']}: {first['message']}{hint}")
    if len(report["skipped"]) > MAX_LISTED:
        out.append(f"  ! ... and {len(report['skipped']) - MAX_LISTED} more not replayed")
    for w in report.get("warnings", ())[:MAX_LISTED]:
        at = w["location"]
        place = f"{at['file']}:{at['line']}" if at["line"] else at["file"]     # as a line not replayed is named
        out.append(f"  warning: {place}: {w['code']}: {w['message']}")
    if len(report.get("warnings", ())) > MAX_LISTED:
        out.append(f"  warning: ... and {len(report['warnings']) - MAX_LISTED} more")
    return "\n".join(out)
