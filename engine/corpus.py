"""Reading a corpus of case files as a stream: a JSONL file, a folder of YAML/JSON files, or standard input.

Shared by `batch`, `plan` and `diff --corpus`: one place decides what a record is and how a bad one
is reported (`input.syntax`, `input.encoding`, `input.not_mapping`, with the file and line).
"""
from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from .errors import InputError, Issue, Location
from .load import Document, load_case_file

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Record:
    """One case to evaluate: a JSONL line (`text`) or a case file to read (`path`)."""

    source: str                 # printable and stable: `cases.jsonl:12`, `cases/a.yaml`
    line: Optional[int] = None  # the JSONL line number; None for a file
    text: Optional[str] = None
    path: Optional[str] = None
    undecodable: Optional[int] = None   # the offset of the first byte that is not UTF-8


def case_files(directory: Path) -> list:
    """Every YAML/JSON file below `directory`, sorted by path (hidden files and folders skipped)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.endswith(CASE_SUFFIXES) and not name.startswith("."):
                found.append(os.path.join(root, name))
    return sorted(found, key=lambda p: Path(p).parts)


def _jsonl(stream, name: str) -> Iterator[Record]:
    for number, raw in enumerate(stream, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():              # blank lines are not records (line numbers still count them)
            continue
        try:
            yield Record(f"{name}:{number}", number, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:  # still a record, so that its error is reported with its line
            yield Record(f"{name}:{number}", number, undecodable=exc.start)


def text_records(data: bytes, name: str) -> Iterator[Record]:
    """The records of a JSONL text held in memory (a request body), numbered and reported as `read_records` does."""
    yield from _jsonl(io.BytesIO(data), name)


def read_records(source: str, stdin=None) -> Iterator[Record]:
    """`-` (JSONL on stdin), a JSONL file, or a folder of case files; lazily, in input order."""
    if source == "-":
        yield from _jsonl(stdin if stdin is not None else sys.stdin.buffer, "<stdin>")
        return
    path = Path(source)
    if path.is_dir():
        for file in case_files(path):
            yield Record(file, None, None, file)
        return
    with open(path, "rb") as stream:
        yield from _jsonl(stream, source)


def count_records(source: str) -> Optional[int]:
    """How many records `source` holds (for a progress bar), or None for stdin. A cheap pass over the bytes."""
    if source == "-":
        return None
    path = Path(source)
    if path.is_dir():
        return len(case_files(path))
    count = 0
    with open(path, "rb") as stream:
        for raw in stream:
            count += bool(raw.strip())
    return count


def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key `{key}` appears twice in one object")
        out[key] = value
    return out


def _no_constant(name):
    raise ValueError(f"{name} is not a value regcode accepts")


def parse_record(record: Record) -> Document:
    """The record as a Document: a JSONL line parsed as JSON (fast), a file read as eval reads it."""
    if record.path is not None:
        return load_case_file(Path(record.path), record.source)
    name, line = record.source.rsplit(":", 1)[0], record.line or 0
    if record.undecodable is not None:
        raise InputError([Issue("input.encoding", f"the line is not UTF-8 (byte {record.undecodable})", Location(name, line, 1),
                                "save the file as UTF-8")])
    try:
        data = json.loads(record.text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError([Issue("input.syntax", f"invalid JSON: {exc.msg}", Location(name, line, exc.colno),
                                "each line must be one case file as a JSON object")])
    except (ValueError, RecursionError) as exc:
        raise InputError([Issue("input.syntax", f"unreadable JSON: {exc}", Location(name, line, 1),
                                "each line must be one case file as a JSON object")])
    if not isinstance(data, dict):
        raise InputError([Issue("input.not_mapping", f"a case file must be a JSON object, found {type(data).__name__}",
                                Location(name, line, 1), "write one object per line, with `as_of` and `enterprise`")])
    # no marks: every location prints as `FILE:LINE`, and the evaluation's source is `FILE:LINE`
    return Document(record.source, data)


@dataclass
class CorpusCase:
    """A record parsed: its document, or the error that stopped it."""

    source: str
    line: Optional[int]
    doc: Optional[Document] = None
    error: Optional[InputError] = None


def parse_json_array(text: str, name: str) -> list:
    """A JSON array of case files (a request body) as CorpusCases named `NAME[i]`, in order. A bad element is a
    CorpusCase with its error; text that is not a JSON array raises InputError."""
    def fail(message: str, line: int = 1, column: int = 1) -> InputError:
        return InputError([Issue("input.syntax", message, Location(name, line, column), "send a JSON array of case files")])
    try:
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except (ValueError, RecursionError) as exc:
        raise fail(f"unreadable JSON: {exc}") from None
    if not isinstance(data, list):
        raise fail(f"expected a JSON array of case files, found {type(data).__name__}")
    out = []
    for i, item in enumerate(data):
        source = f"{name}[{i}]"
        if isinstance(item, dict):
            out.append(CorpusCase(source, None, Document(source, item)))
        else:
            out.append(CorpusCase(source, None, error=InputError([Issue(
                "input.not_mapping", f"a case file must be a JSON object, found {type(item).__name__}", Location(source),
                "each element of the array is one case file, with `as_of` and `enterprise`")])))
    return out


def iter_corpus(source: str) -> Iterator[CorpusCase]:
    """Every record of `source`, parsed, in input order, lazily."""
    for record in read_records(source):
        try:
            yield CorpusCase(record.source, record.line, parse_record(record))
        except InputError as exc:
            yield CorpusCase(record.source, record.line, error=exc)
