"""Errors as data: every problem is an Issue with a stable code and a location; one exception family per stage."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

# What cannot be shown on one line of text as itself: C0 and C1 controls, DEL, the Unicode line and paragraph
# separators, lone surrogates (which are no characters and cannot be written as UTF-8), and the invisible
# characters that make a text show as another (zero-width space, byte-order mark, bidirectional marks and overrides).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xdc80 <= code <= 0xdcff:    # a byte of a file name that is not UTF-8, as Python keeps it (surrogateescape)
        return f"\\x{code - 0xdc00:02x}"
    return _SHORT.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def one_line(text: str) -> str:
    """`text` as one printable line: each control character (and lone surrogate) written as an escape, `\\n`,
    `\\x1b`, `\\u2028`, so that a file name or a value shown in a problem names what is there and cannot break
    the line or drive the terminal: 'evil\\nname.yaml', 'e\\x1b[31mred.yaml'; a byte of a file name that is not
    UTF-8 as the byte it is, 'bad\\xffname.yaml'."""
    if not CONTROL.search(text):
        return text
    return CONTROL.sub(lambda m: _escape(m.group()), text)


_UNDECODED = re.compile("[\udc80-\udcff]")


def file_name(name: str) -> str:
    """A file's name as regcode writes it in its output (a result's `source`, a problem's file): each byte of it that
    is not UTF-8, which Python keeps as a lone surrogate that no UTF-8 output can carry, written as `\\xNN`
    (`bad\\xff.yaml`); any other name as it is."""
    return _UNDECODED.sub(lambda m: _escape(m.group()), name) if _UNDECODED.search(name) else name


@dataclass(frozen=True, order=True)
class Location:
    """Where a problem is: a file, a 1-based line and column, and the JSON path inside the document."""

    file: str = ""
    line: int = 0
    column: int = 0
    path: str = ""

    def __str__(self) -> str:
        """`file:line:col` for a person: the file's name with its control characters escaped (one_line), so that
        each problem stays one line naming the real file; as_dict keeps the name exactly."""
        if not self.file:
            return self.path or "<input>"
        if self.line:
            return f"{one_line(self.file)}:{self.line}:{self.column}"
        return one_line(self.file)

    def as_dict(self) -> dict:
        """The place for a machine: the file's name exactly, but for a byte that is not UTF-8, which no JSON output
        can carry (written \\xNN: file_name)."""
        return {"file": file_name(self.file), "line": self.line, "column": self.column, "path": self.path}


@dataclass(frozen=True)
class Issue:
    """One problem: `code` is stable (`schema.type`, `compile.cycle`), `hint` says how to fix it."""

    code: str
    message: str
    location: Location = field(default_factory=Location)
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: {self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "location": self.location.as_dict(),
        }


# The codes a run of a test case can end in (engine/testing.run_case): its date outside the version's
# window, its facts against the facts schema, its evaluation on any backend. A TestCases `expect_error`
# names one of them, or their family (`input`); tests/test_errors.py checks this list against the engine.
CASE_ERROR_CODES = ("eval.action", "eval.backend", "eval.backend_mismatch", "eval.conflict", "eval.date_range", "eval.limit",
                    "eval.parameter", "eval.type", "eval.value", "input.as_of", "input.key", "input.number", "input.schema", "input.text",
                    "input.too_deep", "input.value", "select.no_version_in_force")


def by_place(issues: Iterable[Issue]) -> list:
    """Issues in the order a reader goes through the files: by file, line and column (then code and message)."""
    return sorted(issues, key=lambda i: (i.location, i.code, i.message))


class PolicyError(Exception):
    """Root of regcode's errors; carries every issue found, not just the first."""

    # The case's identity (the policy's `identity:` paths) when the error concerns a case file that
    # was read as a mapping: set by engine.case.evaluate_case, carried into batch error records.
    identity: Optional[dict] = None

    def __init__(self, issues: Iterable[Issue]):
        self.issues = by_place(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class LoadError(PolicyError):
    """A policy file cannot be read or parsed."""


class SchemaError(PolicyError):
    """A policy file does not fit the JSON Schema of its kind."""


class CompileError(PolicyError):
    """The policy's files fit their schemas but do not make a consistent policy (names, types, cycles)."""


class InputError(PolicyError):
    """A case file (or a CLI argument naming one) is bad."""


class EvaluationError(PolicyError):
    """A case could not be evaluated (a conflict between claims, a bound reached, a bug)."""


class NoSuchBase(LookupError):
    """What a base loader raises for an `extends` it cannot find; `hint` names what could be extended instead."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


class IssueCollector:
    """Stages collect issues here and raise once, so a drafter sees every mistake at once."""

    def __init__(self, limit: int = 200):
        self.issues: list[Issue] = []
        self.limit = limit

    def add(self, code: str, message: str, location: Location = Location(), hint: str = "") -> None:
        if len(self.issues) < self.limit:
            self.issues.append(Issue(code, message, location, hint))

    def extend(self, issues: Iterable[Issue]) -> None:
        for issue in issues:
            if len(self.issues) < self.limit:
                self.issues.append(issue)

    @property
    def full(self) -> bool:
        return len(self.issues) >= self.limit

    def raise_if_any(self, cls: type[PolicyError]) -> None:
        if self.issues:
            raise cls(self.issues)

    def __bool__(self) -> bool:
        return bool(self.issues)


def _near(name: str, choices: Iterable[str]) -> list:
    choices = sorted(set(map(str, choices)))
    same_but_case = [c for c in choices if c.lower() == str(name).lower() and c != str(name)]
    return same_but_case or difflib.get_close_matches(str(name), choices, n=3, cutoff=0.6)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A hint naming the nearest valid names, like click's `_format_possibilities`."""
    close = _near(name, choices)
    if not close:
        return ""
    return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"


def read_by(rules: list) -> str:
    """`rule `a` reads it`, `rules `a`, `b`, `c` and 2 more read it`: who reads a parameter, in a problem's words."""
    shown = ", ".join(f"`{r}`" for r in rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
    return f"{'rule' if len(rules) == 1 else 'rules'} {shown} read{'s' if len(rules) == 1 else ''} it"


def bounded_list(names: Iterable[str], limit: int = 12) -> str:
    """`a, b, c and 9 more`: the first `limit` names (sorted), and how many are left out, never a silent cut."""
    names = sorted(set(map(str, names)))
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def nearest(name: str, choices: Iterable[str]) -> Optional[str]:
    """The one name `did_you_mean` would offer first (the nearest), or None."""
    close = _near(name, choices)
    return close[0] if close else None


def not_declared(what: str, name: str, known: Iterable[str], removed: dict, fallback: str) -> tuple:
    """(message, hint) for a name no declaration has: a name this version removed says where, else the nearest
    names, else `fallback`. `removed`: (what, name) -> Location of its `remove:` entry."""
    gone = removed.get((what, name))
    if gone is not None:
        return (f"{what} `{name}` is not declared: this version removes it ({gone})",
                f"this rule still uses it: replace the rule (`override: true`) or `remove:` it too, or keep the {what}")
    return undeclared(what, name), did_you_mean(name, known) or fallback


def undeclared(what: str, name: str) -> str:
    """What a use of a name no declaration has is said as (the start of not_declared's message)."""
    return f"{what} `{name}` is not declared"
