"""The one JSON form regcode prints: sorted keys, UTF-8 kept, compact or indented by two, byte-stable.

orjson writes it (about 7x faster than the standard library on evaluation results, and byte-identical
to json.dumps(ensure_ascii=False, sort_keys=True) for what the engine outputs); the standard library
takes over for the few values orjson refuses (integers beyond 64 bits), so nothing valid is lost.
"""
from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the fallback keeps a broken install usable
    orjson = None

_COMPACT = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) if orjson else 0
_PRETTY = (_COMPACT | orjson.OPT_INDENT_2) if orjson else 0
# Keys that are all text (nearly always) are written faster without OPT_NON_STR_KEYS, which orjson
# otherwise applies to every mapping; a non-text key makes it refuse, and the full option set is tried.
_TEXT_KEYS = orjson.OPT_SORT_KEYS if orjson else 0
_TEXT_KEYS_PRETTY = (_TEXT_KEYS | orjson.OPT_INDENT_2) if orjson else 0


def dumps(data: Any, pretty: bool = False) -> str:
    """`data` as JSON text: sorted keys, non-ASCII kept; two-space indentation with `pretty`."""
    if orjson is not None:
        try:
            return _orjson(data, pretty).decode("utf-8")
        except (TypeError, orjson.JSONEncodeError):
            pass
    return _standard(data, pretty)


def dumpb(data: Any, pretty: bool = False) -> bytes:
    """`dumps(data, pretty)` as UTF-8 bytes, without the text in between (what is written to a file or a
    socket: decoding orjson's output to text and encoding it back cost 8-17 µs a case). Raises
    UnicodeEncodeError for text no UTF-8 can carry, as encoding `dumps`'s text would."""
    if orjson is not None:
        try:
            return _orjson(data, pretty)
        except (TypeError, orjson.JSONEncodeError):
            pass
    return _standard(data, pretty).encode("utf-8")


def _orjson(data: Any, pretty: bool) -> bytes:
    try:
        return orjson.dumps(data, option=_TEXT_KEYS_PRETTY if pretty else _TEXT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(data, option=_PRETTY if pretty else _COMPACT)


def _standard(data: Any, pretty: bool) -> str:
    if pretty:
        return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def copy(value: Any) -> Any:
    """A copy of JSON-shaped data (several times faster than copy.deepcopy, which hot loops would feel)."""
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy(v) for v in value]
    return value


def _kind(value: Any) -> type:
    """The JSON type a value is written as: bool apart from int (True == 1 in Python), int apart from float
    (`2` and `2.0` are two texts), a tuple as the list it is written as."""
    for kind in (bool, int, float, str, dict):     # (bool first: it is an int to Python)
        if isinstance(value, kind):
            return kind
    return list if isinstance(value, (list, tuple)) else type(value)


def same(a: Any, b: Any) -> bool:
    """Whether two JSON-shaped values are the same value of the same JSON type, recursively: what a reader of the
    output sees as no change. Python's `==` is not that: `False == 0`, `True == 1.0`, `2 == 2.0`, `[1] == [True]`.
    Numbers of one type compare as numbers (so `0.0` and `-0.0` are the same)."""
    if _kind(a) is not _kind(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


class ValueTally:
    """How many times each value was seen (values compared by their canonical JSON): what a dropped decision was
    in the cases or logged decisions that had it. `rows()` is its output form, in a stable order."""

    def __init__(self):
        self.counts: dict = {}

    def add(self, value: Any) -> None:
        key = dumps(value)
        self.counts[key] = self.counts.get(key, 0) + 1

    def rows(self) -> list:
        return [{"value": json.loads(key), "count": n} for key, n in sorted(self.counts.items())]


def tally_text(rows: list, unit: str = "") -> str:
    """`false in 297 cases, true in 3 cases` (with `unit`), or `false in 5, true in 1`."""
    return ", ".join(f"{dumps(r['value'])} in {r['count']}" + (f" {unit}{'s' if r['count'] != 1 else ''}" if unit else "")
                     for r in rows)
