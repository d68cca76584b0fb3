"""Reading a corpus of case files as a stream: a JSONL file, a folder of YAML/JSON files, or standard input.

Shared by `batch`, `plan` and `diff --corpus`: one place decides what a record is and how a bad one
is reported (`input.syntax`, `input.encoding`, `input.not_mapping`, with the file and line).
"""
from __future__ import annotations

import errno
import io
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

from .errors import InputError, Issue, Location, file_name
from .load import (LOOP_WORDS, MAX_CASE_BYTES, MAX_DEPTH, Document, _JsonMarks, _LazyMarks, _Refused, check_value, io_reason,
                   json_depth_place, json_position, json_syntax, json_type, link_loop, load_case_file, read_json, refused_at)

CASE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Record:
    """One case to evaluate: a JSONL line (`text`) or a case file to read (`path`)."""

    source: str                 # printable and stable: `cases.jsonl:12`, `cases/a.yaml`
    line: Optional[int] = None  # the JSONL line number; None for a file
    text: Optional[str] = None
    path: Optional[str] = None
    undecodable: Optional[int] = None   # the offset of the first byte that is not UTF-8
    undecodable_column: Optional[int] = None   # its column: the characters before it, plus one (load.not_utf8)
    too_long: bool = False              # the line is longer than MAX_CASE_BYTES (its text is not kept)


@dataclass(frozen=True)
class Skipped:
    """An entry of a corpus folder that is not read, and why: nothing a user gave is passed over unsaid."""

    path: str
    reason: str
    lost: bool = False       # not passed over by rule but unreadable (a folder that cannot be listed): input lost

    def issue(self) -> Issue:
        if self.lost:
            return Issue("input.io", f"not read: {self.reason}", Location(file_name(self.path)),
                         "check its permissions: none of the case files in it were read")
        return Issue("input.skipped", f"not read: {self.reason}", Location(file_name(self.path)),
                     f"a folder's case files are its {', '.join(CASE_SUFFIXES)} files, hidden ones excepted")

    def __str__(self) -> str:
        return str(self.issue())


def _why_not_read(path: str, name: str) -> Optional[str]:
    """None for a case file that is read; else why it is not."""
    if name.startswith("."):
        return "a hidden file"
    if link_loop(path):
        return LOOP_WORDS
    if os.path.islink(path) and not os.path.exists(path):
        return "a link to nothing"
    if not os.path.isfile(path):   # a FIFO or a device named `x.yaml` would block or never end
        return "not a regular file (a FIFO, socket or device)"
    if not name.endswith(CASE_SUFFIXES):
        return f"not a case file by its suffix ({Path(name).suffix or 'none'})"
    return None


def _walk(directory: Path) -> tuple:
    """(the files read, the entries not read, the (st_dev, st_ino) of every folder walked) below `directory`."""
    found, skipped, folders = [], [], set()

    def unlistable(exc: OSError) -> None:   # os.walk passes over a folder it cannot list without a word
        skipped.append(Skipped(exc.filename or str(directory), f"a folder that cannot be listed ({exc.strerror or exc})",
                               lost=True))
    for root, dirs, files in os.walk(directory, onerror=unlistable):
        folders.add(_identity(root))
        for d in sorted(dirs):
            where = os.path.join(root, d)
            if d.startswith("."):
                skipped.append(Skipped(where, "a hidden folder; nothing in it is read"))
            elif os.path.islink(where):
                skipped.append(Skipped(where, "a link to a folder, not followed"))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = os.path.join(root, name)
            why = _why_not_read(path, name)
            if why is None:
                found.append(path)
            else:
                skipped.append(Skipped(path, why))
    return found, skipped, folders - {None}


def _identity(path) -> Optional[tuple]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def case_files(directory: Path, on_skip: Optional[Callable[[Skipped], None]] = None,
               reading: Optional["FolderReading"] = None) -> list:
    """Every YAML/JSON file below `directory`, sorted by path. What is not read (another suffix, a hidden
    file or folder, a FIFO, a link to a folder: links to folders are not followed) goes to `on_skip`,
    sorted by path too, before the first file is read. `reading`: the folder's walk already made (the
    outputs' check, FolderReading), so that a run walks it once."""
    found, skipped, _ = (reading.found, reading.skipped, None) if reading is not None else _walk(directory)
    if on_skip is not None:
        for entry in sorted(skipped, key=lambda s: Path(s.path).parts):
            on_skip(entry)
    return sorted(found, key=lambda p: Path(p).parts)


class FolderReading:
    """What a run over the folder `directory` reads, by case_files' own walk, made once for every output a command
    checks against it (--out, --errors, standard output): `reads(path)` and `case_file(identity)` ask it again."""

    def __init__(self, directory: Path):
        self.found, self.skipped, self.folders = _walk(directory)
        self._ids = None

    def case_file(self, identity: Optional[tuple]) -> Optional[str]:
        """The case file of the folder that is the file (st_dev, st_ino) `identity`, by any of its names, or None."""
        if self._ids is None:
            self._ids = {}
            for f in self.found:
                self._ids.setdefault(_identity(f), f)
            self._ids.pop(None, None)
        return self._ids.get(identity) if identity is not None else None

    def reads(self, path) -> Optional[str]:
        """Whether the run reads the file `path`: "is" when it is one of the files read (by identity: through a
        symbolic or a hard link too), "would be" when a file written there would be one (a case file's suffix, not
        hidden, in a folder the run walks; the target of a link, or of a link of the folder that names nothing
        yet), else None. An output file must be neither: it would replace a case file, or be read as one by the
        next run."""
        if self.case_file(_identity(path)) is not None:
            return "is"
        if any(s.reason == "a link to nothing" and os.path.realpath(s.path) == os.path.realpath(path) for s in self.skipped):
            return "would be"       # the case file a link of the folder names, once written
        for place in {os.path.abspath(path), os.path.realpath(path)}:      # the name given, and the file a link names
            folder, name = os.path.split(place)
            if not name.startswith(".") and name.endswith(CASE_SUFFIXES) and _identity(folder) in self.folders:
                return "would be"
        return None


def _lines(stream, limit: int) -> Iterator[tuple]:
    """(bytes, too_long) per line, reading at most `limit` + 1 bytes of any line into memory: the
    rest of a longer line is skipped, so one huge line costs no memory."""
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield raw[:64], True
            continue
        yield raw, False


def _jsonl(stream, name: str, first: int = 1) -> Iterator[Record]:
    """The records of a JSONL stream whose first line is line `first` of the file `name`."""
    name = file_name(name)      # the records' sources are written out: as UTF-8 can carry them
    for number, (raw, too_long) in enumerate(_lines(stream, MAX_CASE_BYTES), first):
        if too_long:
            yield Record(f"{name}:{number}", number, too_long=True)
            continue
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():              # blank lines are not records (line numbers still count them)
            continue
        try:
            yield Record(f"{name}:{number}", number, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:  # still a record, so that its error is reported with its line
            yield Record(f"{name}:{number}", number, undecodable=exc.start,
                         undecodable_column=len(raw[:exc.start].decode("utf-8")) + 1)   # (valid up to there)


SPAN_BYTES = 1 << 18     # a span of a JSONL file that a batch worker reads itself: about 150 cases of 1.7 KB
SPAN_LINES = 512         # and at most this many lines (short lines: bad records travel back, and are kept until then)
READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class Span:
    """Whole lines of a JSONL file, for a worker to read itself: `length` bytes from `offset`, the first of them
    line `first`. `identity` is the file's (st_dev, st_ino) when the spans were cut: a file replaced meanwhile is
    refused rather than read."""

    path: str
    offset: int
    length: int
    first: int
    count: int          # its lines (a last line without a newline counts)
    identity: tuple

    @property
    def last(self) -> int:
        return self.first + max(self.count, 1) - 1


def jsonl_spans(path: str, size: int = SPAN_BYTES, lines: int = SPAN_LINES) -> Iterator[Span]:
    """The file cut into spans of whole lines, each about `size` bytes (more when one line is longer) and at most
    `lines` lines, lazily and in order. The parent of a batch only finds where lines end (bytes.find and
    count, at C speed) and does not read the records: each worker reads and parses its spans. Reading holds one
    block in memory, whatever the lines' length. OSError when the file cannot be read, InputError when it
    was cut short while it was read."""
    with open(path, "rb") as stream:
        st = os.fstat(stream.fileno())
        identity = (st.st_dev, st.st_ino)
        start, first, pos = 0, 1, 0      # the span being cut begins at byte `start`, line `first`; the block at `pos`
        counted = 0                      # newlines between `start` and the block's position `i`
        while True:
            block = stream.read(READ_BLOCK)
            if not block:
                break
            i = 0
            while True:
                # the next cut: the first newline at or past the span's byte budget, or its line budget
                want = max(start + size - pos - 1, i)
                j = block.find(b"\n", want)
                cut = -1
                n = block.count(b"\n", i, j + 1 if j >= 0 else len(block))
                if counted + n >= lines:       # the line budget runs out first: the `lines`-th newline
                    k = i - 1
                    for _ in range(lines - counted):
                        k = block.find(b"\n", k + 1)
                    cut, n = k, lines - counted
                elif j >= 0:
                    cut = j
                if cut < 0:
                    counted += n
                    break
                end = pos + cut + 1
                yield Span(str(path), start, end - start, first, counted + n, identity)
                first += counted + n
                start, counted, i = end, 0, cut + 1
            pos += len(block)
            ends_line = block.endswith(b"\n")
        if pos < st.st_size:       # it ended before the size it had when opened: cut short meanwhile
            raise changed_while_read(str(path))
        if pos > start:     # the rest: whole lines, and perhaps a last one without its newline
            yield Span(str(path), start, pos - start, first, counted + (not ends_line), identity)


def read_spans(source: str, lines: Optional[int] = None) -> Iterator[Span]:
    """jsonl_spans of the JSONL file `source` (at most `lines` lines each, if given), its read errors reported as
    read_records reports them."""
    try:
        yield from jsonl_spans(source, lines=lines or SPAN_LINES)
    except OSError as exc:
        raise cannot_read(source, exc) from None


class _SpanReader:
    """readline(limit) over `length` bytes of a binary file from where it stands (what _lines needs)."""

    def __init__(self, stream, length: int):
        self.stream, self.left = stream, length

    def readline(self, limit: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        raw = self.stream.readline(self.left if limit < 0 else min(limit, self.left))
        self.left -= len(raw)
        return raw


def cannot_read(name: str, exc: OSError, line: Optional[int] = None) -> InputError:
    """A corpus that cannot be opened (no `line`), or read further than `line`: the run stops."""
    if line is None:
        return InputError([Issue("input.io", f"cannot read {name}: {io_reason(exc)}", Location(name),
                                 "point the link at a file, or give the file's own path" if exc.errno == errno.ELOOP
                                 else "check that it exists and is readable")])
    return InputError([Issue("input.io", f"cannot read {name} further: {exc.strerror or exc}", Location(name, line),
                             "the run stopped, and an --out file is not written; check the file")])


def changed_while_read(name: str, line: int = 0) -> InputError:
    """The batch's input is not the file it was a moment ago (replaced, cut short): the batch stops."""
    return InputError([Issue("input.io", f"{name} changed while it was read (replaced or cut short); the run "
                             "stopped, and an --out file is not written", Location(name, line),
                             "run the batch again on a file nothing writes meanwhile (a copy, say)")])


def span_records(span: Span, name: str, stream) -> Iterator[Record]:
    """The records of `span`, read from `stream` (the same file, open for reading), numbered as read_records
    numbers them. InputError `input.io` when the file is no longer the one the spans were cut from, or it
    cannot be read, or it ends before the span does (cut short meanwhile)."""
    try:
        st = os.fstat(stream.fileno())
        if (st.st_dev, st.st_ino) != span.identity or st.st_size < span.offset + span.length:
            raise changed_while_read(name, span.first)
        stream.seek(span.offset)
        reader = _SpanReader(stream, span.length)
        yield from _jsonl(reader, name, span.first)
    except OSError as exc:
        raise cannot_read(name, exc, span.first) from None
    if reader.left > 0:
        raise changed_while_read(name, span.first)


def text_records(data: bytes, name: str) -> Iterator[Record]:
    """The records of a JSONL text held in memory (a request body), numbered and reported as `read_records` does."""
    yield from _jsonl(io.BytesIO(data), name)


def read_records(source: str, stdin=None, on_skip: Optional[Callable[[Skipped], None]] = None,
                 reading: Optional[FolderReading] = None) -> Iterator[Record]:
    """`-` (JSONL on stdin), a JSONL file, or a folder of case files; lazily, in input order. A folder's
    entries that are not read go to `on_skip` (see case_files) before its first record; `reading` is its
    walk when the outputs' check made one."""
    if source == "-":
        yield from _jsonl(stdin if stdin is not None else sys.stdin.buffer, "<stdin>")
        return
    path = Path(source)
    if path.is_dir():
        for file in case_files(path, on_skip, reading):
            yield Record(file_name(file), None, None, file)
        return
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise cannot_read(source, exc) from None
    with stream:
        try:
            size = os.fstat(stream.fileno()).st_size if os.path.isfile(path) else None
            yield from _jsonl(stream, source)
            if size is not None and stream.tell() < size:      # cut short while it was read
                raise changed_while_read(source)
        except OSError as exc:   # a read error mid-file (a failing disk, a vanished mount)
            raise cannot_read(source, exc, 0) from None


def count_records(source: str, reading: Optional[FolderReading] = None) -> Optional[int]:
    """How many records `source` holds (for a progress bar), or None for stdin. A cheap pass over the bytes."""
    if source == "-":
        return None
    path = Path(source)
    if path.is_dir():
        return len(case_files(path, reading=reading))
    count = 0
    with open(path, "rb") as stream:
        for raw, too_long in _lines(stream, MAX_CASE_BYTES):
            count += too_long or bool(raw.strip())
    return count


# what check_value must look for, that the JSON reader lets through: an escaped lone surrogate, an escaped control
# character (`\\n`, `\\u001b`), and DEL, C1 controls and the line separators, which JSON allows as themselves
_MAY_NEED_A_CHECK = re.compile(r"\\u[dD][89a-fA-F]|\\[bfnrt]|\\u00[0189][0-9a-fA-F]|\\u007[fF]|\\u202[89a-eA-E]"
                               r"|\\u200[beEfF]|\\u206[06-9]|\\u[fF][eE][fF][fF]"
                               "|[\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def needs_a_check(text: str) -> bool:
    """Whether JSON text, read by the JSON reader, must still have its values walked by load.check_value: it could
    hold what the reader lets through (above), or be nested deeper than MAX_DEPTH. The walk costs as much as the read."""
    return bool(_MAY_NEED_A_CHECK.search(text)) or text.count("[") + text.count("{") > MAX_DEPTH


def parse_record(record: Record) -> Document:
    """The record as a Document: a JSONL line parsed as JSON (fast), a file read as eval reads it.
    Either way the same values are refused (load.check_value): what passes here can be written out."""
    if record.path is not None:
        return load_case_file(Path(record.path), record.source)
    name, line = record.source.rsplit(":", 1)[0], record.line or 0
    if record.too_long:
        raise InputError([Issue("input.too_large", f"the line is longer than {MAX_CASE_BYTES >> 20} MiB", Location(name, line, 1),
                                "one case file is a few KiB; is this one case a line?")])
    if record.undecodable is not None:
        raise InputError([Issue("input.encoding", f"the line is not UTF-8 (byte {record.undecodable})",
                                Location(name, line, record.undecodable_column or 1),
                                "save the file as UTF-8")])
    text = record.text.rstrip("\r\n")   # its line's end is not part of it: an error at the end is on this line
    try:
        data = read_json(text)
    except json.JSONDecodeError as exc:
        message, index = json_syntax(exc, text, "line")
        raise InputError([Issue("input.syntax", message, Location(name, line, json_position(text, index)[1]),
                                "each line must be one case file as a JSON object")])
    except _Refused as exc:
        raise InputError([Issue(exc.code, str(exc), Location(name, line, refused_at(text, exc)[1]), exc.hint)])
    except RecursionError:
        index = json_depth_place(text)
        raise InputError([Issue("input.too_deep", f"objects and lists are nested more than {MAX_DEPTH} levels deep here",
                                Location(name, line, json_position(text, index)[1] if index is not None else 1),
                                "flatten the structure")])
    if not isinstance(data, dict):
        raise InputError([Issue("input.not_mapping", f"a case file must be a JSON object, found {json_type(data)}",
                                Location(name, line, 1), "write one object per line, with `as_of` and the fields the policy's facts schema asks for")])
    # The parse hooks refused big and infinite numbers; lone surrogates (only an escape can make one)
    # and depth need a walk, done only when the text could hold them: it costs as much as parsing.
    if needs_a_check(text):
        problems = check_value(data, name, line, text)
        if problems:
            raise InputError(problems)
    # its places are read from the line's text only when a problem asks for one (load._JsonMarks), placed at
    # FILE, LINE and the column in the line; the evaluation's source is `FILE:LINE`
    marked = _JsonMarks(text, name)
    return Document(record.source, data, _LazyMarks(marked, "marks"), _LazyMarks(marked, "keys"), place=(name, line),
                    syntax="json")


@dataclass
class CorpusCase:
    """A record parsed: its document, or the error that stopped it."""

    source: str
    line: Optional[int]
    doc: Optional[Document] = None
    error: Optional[InputError] = None


def iter_corpus(source: str, on_skip: Optional[Callable[[Skipped], None]] = None) -> Iterator[CorpusCase]:
    """Every record of `source`, parsed, in input order, lazily (what a folder holds that is not read: `on_skip`)."""
    for record in read_records(source, on_skip=on_skip):
        try:
            yield CorpusCase(record.source, record.line, parse_record(record))
        except InputError as exc:
            yield CorpusCase(record.source, record.line, error=exc)
