"""Batch results as a table for a spreadsheet: one CSV row per record, good or bad, a column per decision.

    source, <identity...>, as_of, policy, content_hash, <decision...>, notes, error_code, error

A good record's row holds its decisions (a text as it is, a number or a boolean as the JSON writes it, a list or a
map as compact JSON with sorted keys, no value as an empty cell); a bad record's row holds its source, its identity
when it was read that far, and its problems, so that no record is lost between the input and the table. The columns
are the union over the versions a record could be judged by, known before the first record is read: the same
header, whatever the records, and byte-identical rows whatever --jobs is. Nothing here names a regulation: the
identity and the decisions are the policy's.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Iterable

from .load import dump_json, printable
from .errors import one_line
from .plan import csv_cell
from .reports import identity_value, reports_for

LEADING = ("source",)
AFTER_IDENTITY = ("as_of", "policy", "content_hash")
TRAILING = ("notes", "error_code", "error")


@dataclass(frozen=True)
class Columns:
    """The table's header and where each of its columns is read from (picklable: every worker has it)."""

    identity: tuple        # ((column, path keys), ...): the policy's `identity:`
    decisions: tuple       # ((column, decision), ...), decisions by name

    @property
    def names(self) -> tuple:
        return (LEADING + tuple(c for c, _ in self.identity) + AFTER_IDENTITY + tuple(c for c, _ in self.decisions)
                + TRAILING)


def columns_for(policies: Iterable) -> Columns:
    """The columns for results of any of `policies` (the compiled versions a record could be judged by): their
    identity paths in the order declared (a column named by its last key, or its dotted path where two share one),
    and their decisions by name. A decision whose name another column has (`source`) is `decisions.NAME`."""
    paths: list = []
    names: set = set()
    for policy in policies:
        for keys in policy.identity:
            if tuple(keys) not in paths:
                paths.append(tuple(keys))
        names.update(policy.decisions)
    lasts = [keys[-1] for keys in paths]
    taken = set(LEADING + AFTER_IDENTITY + TRAILING)
    identity = []
    for keys in paths:
        column = keys[-1] if lasts.count(keys[-1]) == 1 and keys[-1] not in taken else ".".join(keys)
        identity.append((column, keys))
        taken.add(column)
    decisions = tuple((name if name not in taken else f"decisions.{name}", name) for name in sorted(names))
    return Columns(tuple(identity), decisions)


def _row(cells: list) -> str:
    """One CSV row, quoted where a cell needs it (a comma, a quote, a line break), without its line's end."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()[:-1]


def header(columns: Columns, bom: bool = False) -> bytes:
    """The header line (UTF-8; with `bom`, after a byte-order mark, by which Excel reads the file as UTF-8)."""
    return (("\ufeff" if bom else "") + _row(list(columns.names)) + "\n").encode("utf-8")


def cell(value: Any) -> str:
    """A value as a cell: no value is empty, a text is itself (one a spreadsheet would run as a formula, `=...`, kept
    as text by a leading `'`, as `regcode plan` writes it), anything else as the JSON writes it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell(value)
    return dump_json(value)


def issue_line(issue: dict, source: str) -> str:
    """A problem as `regcode batch` says it on stderr: `file:line:col: code: message (hint)`."""
    loc = issue.get("location") or {}
    where = (f"{one_line(loc['file'])}:{loc['line']}" + (f":{loc['column']}" if loc.get("column") else "")
             if loc.get("line") else one_line(loc.get("file") or source))
    hint = f" ({issue['hint']})" if issue.get("hint") else ""
    return printable(f"{where}: {issue['code']}: {issue['message']}{hint}")


def _note_line(note: dict) -> str:
    where = f"{note['path']}: " if note.get("path") else ""
    hint = f" ({note['hint']})" if note.get("hint") else ""
    return printable(one_line(f"{where}{note.get('code', '')}: {note['message']}{hint}"))


def result_row(columns: Columns, result: dict) -> bytes:
    """A good record's row, as UTF-8 (without its line's end, as a JSON line is made)."""
    p = result.get("policy") or {}
    decisions = result.get("decisions") or {}
    cells = [cell(result.get("source"))]
    cells += [cell(identity_value(result, keys)) for _, keys in columns.identity]
    cells += [cell(result.get("as_of")), cell(f"{p.get('id')}@{p.get('version')}"), cell(p.get("content_hash"))]
    cells += [cell(decisions.get(name)) for _, name in columns.decisions]
    cells += ["\n".join(_note_line(n) for n in result.get("notes") or ()), "", ""]
    return _row(cells).encode("utf-8")


def error_row(columns: Columns, outcome) -> bytes:
    """A bad record's row (engine/batch.Outcome): its source, its identity when it was read that far, its problems'
    codes and each problem on a line of its own. What cannot be UTF-8 (a file name that is not) is escaped, as the
    errors file escapes it."""
    errors = outcome.errors or []
    cells = [cell(outcome.source)]
    cells += [cell(identity_value(outcome.identity or {}, keys)) for _, keys in columns.identity]
    cells += [""] * (len(AFTER_IDENTITY) + len(columns.decisions)) + [""]
    cells += [" ".join(dict.fromkeys(str(i.get("code")) for i in errors)),
              "\n".join(issue_line(i, outcome.source) for i in errors)]
    return _row(cells).encode("utf-8", errors="backslashreplace")


def table_reduce(case: dict, result: dict, cat=None, *, columns: Columns) -> tuple:
    """batch_reduce's counterpart for a table: (the record's row, the summary row the policy declares or None,
    whether the result has notes)."""
    spec = reports_for(cat, result).summary if cat is not None else None
    return result_row(columns, result), (spec.row(case, result) if spec is not None else None), "notes" in result
