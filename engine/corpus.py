"""Reading a corpus of case files as a stream: a JSONL file, a folder of YAML/JSON files, or standard input."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from .errors import InputError, Issue, Location
from .load import Document, load_case_file, load_case_text

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Record:
    """One case of a corpus: where it came from, and its document or the error that stopped it."""

    source: str                    # `corpus.jsonl:12` or `cases/a.yaml`
    line: Optional[int]
    doc: Optional[Document] = None
    error: Optional[InputError] = None


def _jsonl(lines, name: str) -> Iterator[Record]:
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        source = f"{name}:{n}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield Record(source, n, error=InputError([Issue("input.json", f"invalid JSON: {exc.msg} (column {exc.colno})",
                                                            Location(name, n, exc.colno), "one case file per line, as a JSON object")]))
            continue
        if not isinstance(data, dict):
            yield Record(source, n, error=InputError([Issue("input.not_mapping", "a case must be a JSON object",
                                                            Location(name, n, 1), "one case file per line, as a JSON object")]))
            continue
        yield Record(source, n, Document(source, data, {(): (n, 1)}))


def iter_corpus(path: str) -> Iterator[Record]:
    """Stream the cases of `path` (never the whole corpus in memory); `-` reads JSONL from stdin."""
    if path == "-":
        yield from _jsonl(sys.stdin, "<stdin>")
        return
    p = Path(path)
    if p.is_dir():
        for file in sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in CASE_SUFFIXES):
            name = str(file)
            try:
                yield Record(name, None, load_case_file(file, name))
            except InputError as exc:
                yield Record(name, None, error=exc)
        return
    if not p.is_file():
        raise InputError([Issue("input.io", f"`{path}` is neither a file nor a folder", Location(path),
                                "give a JSONL file, a folder of case files, or - for standard input")])
    if p.suffix in (".yaml", ".yml"):
        try:
            yield Record(path, None, load_case_file(p, path))
        except InputError as exc:
            yield Record(path, None, error=exc)
        return
    with open(p, encoding="utf-8-sig", errors="strict") as fh:
        try:
            yield from _jsonl(fh, path)
        except UnicodeDecodeError as exc:
            raise InputError([Issue("input.encoding", f"`{path}` is not UTF-8 (byte {exc.start})", Location(path),
                                    "save it as UTF-8")])
