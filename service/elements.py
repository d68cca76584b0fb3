"""A batch body that is a JSON array, split into its elements: each read on its own as a case file, a bad one at its place in the body."""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Optional

from ..engine.corpus import CorpusCase, needs_a_check
from ..engine.errors import InputError, Issue, Location
from ..engine.load import (JSON_READER, MAX_CASE_BYTES, Document, IssueCollector,
                           check_value, format_path, json_type, load_case_text, not_utf8, parse_text)

# The array's own syntax is read here; an element's is the case-file reader's (load_case_text), as a file's is.
# An element is found by its brackets and strings alone, so one that holds NaN, 1e400, a duplicate key or a
# missing comma is still told apart from the others: it is reported in its place and the others are evaluated.
_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')            # a string ends on its line: a raw newline is no JSON
_SCALAR = re.compile(r'[^\s,\[\]{}"]+')                  # a number, true, NaN, a misspelt word...
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}"]')     # what counts inside a container; a lone `"` is a string not closed
_CLOSES = {"[": "]", "{": "}"}
_READER = JSON_READER
HINT = "a batch is a JSON array of case files (JSON objects), or JSON lines: one case file a line"


class _Places:
    """1-based (line, column) of a character index, counted as the JSON reader counts them (lines end at \\n)."""

    def __init__(self, text: str):
        self.breaks = [m.start() for m in re.finditer("\n", text)]

    def __call__(self, index: int) -> tuple:
        before = bisect.bisect_left(self.breaks, index)
        return before + 1, index - (self.breaks[before - 1] + 1 if before else 0) + 1


def _shifted(mark: tuple, at: tuple) -> tuple:
    """A (line, column) inside an element's text as a place in the body, the element starting at `at`."""
    line, column = mark
    return (at[0], at[1] + column - 1) if line == 1 else (at[0] + line - 1, column)


@dataclass
class Element(Document):
    """One element of the array as a case Document: `file` is its name (`<request>[2]`, the evaluation's source);
    its places are in the body (`<request>:14:3`). The YAML reader's marks cost ten times the JSON reader's, so
    they are read only when a place in the element is first asked for: when something in it is wrong."""

    text: str = ""               # the element's JSON text
    body: str = ""               # the body's name, the file of every place
    at: tuple = (1, 1)           # where the element starts in the body
    _read: Optional[tuple] = field(default=None, repr=False, compare=False)

    def _marks(self) -> tuple:
        if self._read is None:
            doc = parse_text(self.text, self.body, IssueCollector(), merge_keys=True)
            marks = {p: _shifted(m, self.at) for p, m in (doc.marks.items() if doc is not None else ())}
            keys = {p: _shifted(m, self.at) for p, m in (doc.keys.items() if doc is not None else ())}
            self._read = (marks, keys)
        return self._read

    def location(self, path=()) -> Location:
        path = tuple(path)
        marks, probe = self._marks()[0], path
        while True:
            mark = marks.get(probe)
            if mark is not None:
                return Location(self.body, mark[0], mark[1], format_path(path))
            if not probe:
                return Location(self.body, self.at[0], self.at[1], format_path(path))
            probe = probe[:-1]

    def key_location(self, path) -> Location:
        mark = self._marks()[1].get(tuple(path))
        if mark is not None:
            return Location(self.body, mark[0], mark[1], format_path(tuple(path)))
        return self.location(path)

    def whole(self) -> Location:
        return Location(self.body, self.at[0], self.at[1])


class _Broken(Exception):
    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _extent(text: str, start: int, places: _Places) -> int:
    """Where the value starting at `start` ends, found by its brackets and strings only; _Broken when it cannot be told."""
    first = text[start]
    if first == '"' or first not in "[{":
        found = (_STRING if first == '"' else _SCALAR).match(text, start)
        if found is None:
            raise _Broken(start, "a string that is not closed on its line" if first == '"' else
                          f"expected a case file (a JSON object), found `{first}`")
        return found.end()
    opened = []
    for token in _TOKEN.finditer(text, start):
        ch = token.group()[0]
        if ch == '"':
            if len(token.group()) == 1:
                raise _Broken(token.start(), "a string that is not closed on its line")
        elif ch in _CLOSES:
            opened.append(token.start())
        else:
            if _CLOSES[text[opened[-1]]] != ch:
                line, column = places(opened[-1])
                raise _Broken(token.start(), f"`{ch}` closes the `{text[opened[-1]]}` opened at {line}:{column}")
            opened.pop()
            if not opened:
                return token.end()
    line, column = places(opened[-1])
    raise _Broken(len(text), f"the body ends inside the `{text[opened[-1]]}` opened at {line}:{column}")


def split(text: str, name: str, limit: int, places: Optional[_Places] = None) -> tuple:
    """([(start, end, value)], more): the elements of the JSON array `text` (after blanks, it starts with `[`),
    at most `limit` + 1 of them (`more` when the body holds yet more: past the batch limit, not read on).
    `value` is the element as read, or None when the JSON reader refused it (its own reader says why).
    InputError `input.syntax` at its place when the array's elements cannot be told apart."""
    places = places or _Places(text)
    found: list = []
    try:
        at = _WS.match(text, text.index("[") + 1).end()
        if text.startswith("]", at):
            at += 1
        else:
            while True:
                if len(found) > limit:
                    return found, True
                if at >= len(text):
                    raise _Broken(at, "the body ends before the array's closing `]`")
                try:
                    value, end = _READER.raw_decode(text, at)
                except (ValueError, RecursionError):   # not JSON, or a value refused: found by its brackets instead
                    value, end = None, _extent(text, at, places)
                found.append((at, end, value))
                at = _WS.match(text, end).end()
                if text.startswith(",", at):
                    at = _WS.match(text, at + 1).end()
                    if text.startswith("]", at):
                        raise _Broken(at, "a comma before the array's closing `]`")
                elif text.startswith("]", at):
                    at += 1
                    break
                elif at >= len(text):
                    raise _Broken(at, "the body ends before the array's closing `]`")
                else:
                    raise _Broken(at, f"expected `,` or `]` after the array's element {len(found) - 1}, found "
                                      f"`{text[at]}`")
        at = _WS.match(text, at).end()
        if at < len(text):
            raise _Broken(at, f"text after the array's closing `]`: `{text[at:at + 20]}`")
    except _Broken as exc:
        line, column = places(min(exc.index, len(text)))
        raise InputError([Issue("input.syntax", f"invalid JSON array: {exc}", Location(name, line, column), HINT)]) from None
    return found, False


def cases(text: str, name: str, limit: int) -> tuple:
    """([CorpusCase], more): the array's elements as case files named `NAME[i]`, each at its line in the body.
    An element the case-file reader refuses is a CorpusCase with its error, placed in the body."""
    places = _Places(text)
    found, more = split(text, name, limit, places)
    out = []
    for i, (start, end, value) in enumerate(found):
        source, at = f"{name}[{i}]", places(start)
        element = text[start:end]
        doc = Element(source, value, text=element, body=name, at=at)
        try:
            _refuse_undecodable(element, source, name, at)
            if not _read_fast(doc, element, value):
                doc = _read_slow(doc, element)
            out.append(CorpusCase(source, at[0], doc))
        except InputError as exc:
            out.append(CorpusCase(source, at[0], error=exc))
    return out, more


_UNDECODABLE = re.compile("[\udc80-\udcff]")   # a byte that is not UTF-8, as the body's surrogateescape decoding keeps it


def _refuse_undecodable(element: str, source: str, body: str, at: tuple) -> None:
    """InputError input.encoding at the element's first byte that is not UTF-8, placed in the body."""
    if _UNDECODABLE.search(element) is None:
        return
    raw = element.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        issue = not_utf8(raw, exc, body, "input.encoding", "the case file")
        line, column = _shifted((issue.location.line, issue.location.column), at)
        raise InputError([Issue(issue.code, issue.message, Location(body, line, column),
                                "send the case file as UTF-8 (text saved as GBK or GB18030 reads this way)")]) from None


def _read_fast(doc: Element, element: str, value) -> bool:
    """Whether the JSON reader's value can stand as it is (as a JSONL record's: the same checks, in the same cases)."""
    if value is None or len(element) > MAX_CASE_BYTES:
        return False
    if not isinstance(value, dict):
        raise InputError([Issue("input.not_mapping", f"a case file must be a JSON object, found {json_type(value)}",
                                doc.whole(), "each element of the array is one case file, with `as_of` and `enterprise`")])
    if needs_a_check(element):      # an escaped control character or lone surrogate, or depth: as a JSONL record's
        return not check_value(value, doc.file)
    return True


def _read_slow(doc: Element, element: str) -> Element:
    """The element read as `regcode eval` reads a JSON file, its problems placed in the body."""
    try:
        read = load_case_text(element, doc.file, as_json=True)
    except InputError as exc:
        raise InputError([_placed(issue, doc) for issue in exc.issues]) from None
    doc.data = read.data
    return doc


def _placed(issue: Issue, doc: Element, unknown: Optional[tuple] = None) -> Issue:
    """An issue the case-file reader placed in the element's own text, placed in the body. One it could not place
    (line 0: a value check_value found wrong after reading, a lone surrogate) is placed where its path is
    written; if that cannot be told, at `unknown` (the element's start by default; (0, 0): no line and column)."""
    loc = issue.location
    if loc.file != doc.file:
        return issue
    if loc.line:
        line, column = _shifted((loc.line, loc.column or 1), doc.at)
    else:
        marks = {format_path(p): m for p, m in doc._marks()[0].items()} if loc.path else {}
        line, column = marks.get(loc.path) or unknown or doc.at
    return Issue(issue.code, issue.message, Location(doc.body, line, column, loc.path), issue.hint)


def placed_in_text(issues: list, text: str, name: str) -> list:
    """The issues of reading the case file `text` (named `name`), each one without a line placed where its path is
    written, when that can be told (else with neither line nor column)."""
    if all(i.location.line or not i.location.path for i in issues):
        return issues
    doc = Element(name, None, text=text, body=name)
    return [_placed(i, doc, (0, 0)) for i in issues]
