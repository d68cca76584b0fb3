"""Stage 1, load: read policy and case files (YAML/JSON) with libyaml (or PyYAML's pure-Python safe loader), marks per JSON path, bounded."""
from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from .errors import Issue, IssueCollector, LoadError, Location, one_line

MAX_FILES = 2000            # a bound on how many files one policy version may hold
MAX_FILE_BYTES = 8 << 20    # 8 MiB per policy file
MAX_CASE_BYTES = 4 << 20    # 4 MiB per case file (or JSONL line): an enterprise's file is a few KiB
MAX_DEPTH = 64              # nesting levels of mappings and lists (rules nest about 16, case files about 5)
MAX_NODES = 2_000_000       # values built per file, whatever aliases do
ALIAS_BUDGET = 100_000      # values aliases may add beyond the nodes the file itself writes
INT_RANGE = (-(1 << 63), (1 << 63) - 1)   # what every JSON consumer (and orjson) reads back exactly
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# The characters YAML (and libyaml) accept in a stream; a lone surrogate is no character at all.
_NOT_YAML = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# What no text of a case file may hold, written as itself or escaped (`"\\u001b"`, YAML's `"\\e"`): C0 controls
# (tab, line feed and carriage return included), DEL, C1 controls and the line and paragraph separators. A case
# file's text is a name, a code, a date or a value of a list: shown on one line of text output, a CSV row of a
# plan, an HTML page and a decision log, where a NUL, an escape sequence or a line break would be shown as
# something else, break the line or be dropped. And the invisible characters that make a text show as another
# (a zero-width space, a byte-order mark, the marks and overrides of bidirectional text, which can reverse how a
# name reads: "Trojan Source"); the joiners U+200C and U+200D, which some scripts need, are kept.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_CONTROL_NAMES = {"\x00": "a NUL", "\t": "a tab", "\n": "a line break (LF)", "\r": "a carriage return (CR)", "\x1b": "an ESC",
                  "\x7f": "a DEL", "\x85": "a next-line (NEL)", "\u2028": "a line separator", "\u2029": "a paragraph separator",
                  "\u200b": "a zero-width space", "\ufeff": "a byte-order mark (zero-width no-break space)",
                  "\u2060": "a word joiner", **{c: "a bidirectional-text mark" for c in "\u200e\u200f"},
                  **{c: "a bidirectional-text override" for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"}}
CONTROL_HINT = ("remove it, and write the text on one line: a case file's text holds no control character, written as "
                "itself or as an escape such as \\t, \\n, \\u0000 or \\e")


# What no text of a policy file may hold (a title, a label, a note, the law's text), written as itself or escaped: the
# C0 controls but tab and line feed (a note and the law's text run over lines), DEL and the C1 controls. Each is shown
# in text output, a terminal, an HTML page and a JUnit report, where it would be shown as something else or dropped
# (XML 1.0 cannot hold most of them at all). A facts schema's `pattern` is a regular expression, which may name them.
_POLICY_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
POLICY_CONTROL_HINT = ("remove it: a policy file's text holds no control character but a tab and a line break, written as "
                       "itself or as an escape such as \\r, \\u0000 or \\e")


def control_message(text: str, what: str = "the text", holder: str = "a case file's text", found=_CONTROL) -> str:
    """What is wrong with a text that holds a control character (see _CONTROL), the text shown escaped."""
    ch = found.search(text).group()
    name = _CONTROL_NAMES.get(ch, "a control character")
    shown = one_line(text if len(text) <= 60 else text[:60] + "...")
    return f"{what} '{shown}' holds {name} (U+{ord(ch):04X}), which {holder} may not hold"


def policy_text_issues(doc: "Document") -> list:
    """`load.text` for each text (and key) of a policy file holding a control character (see _POLICY_CONTROL), at its
    place. The file still stands (its structure is sound): the version fails, as for another value-level problem."""
    found: list = []
    stack = [((), doc.data)]
    while stack and len(found) < 20:
        path, value = stack.pop()
        if isinstance(value, str):
            if _POLICY_CONTROL.search(value) and path[-1:] != ("pattern",):
                found.append(Issue("load.text", control_message(value, holder="a policy file's text", found=_POLICY_CONTROL),
                                   doc.location(path), POLICY_CONTROL_HINT))
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and _POLICY_CONTROL.search(k) and path[-1:] != ("patternProperties",):
                    found.append(Issue("load.text", control_message(k, "the key", "a policy file's text", _POLICY_CONTROL),
                                       doc.key_location(path + (k,)), POLICY_CONTROL_HINT))
                else:
                    stack.append((path + (k,), v))
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in enumerate(value))
    return found

_IGNORED_RESOLVERS = {
    "tag:yaml.org,2002:timestamp",   # dates stay text: `2019-06-30` round-trips to JSON unchanged, ISO text compares right
    "tag:yaml.org,2002:value",       # `=` is text, not YAML 1.1's "value key"
}


def _plain_resolvers(base) -> dict:
    return {first: [(tag, rx) for tag, rx in resolvers if tag not in _IGNORED_RESOLVERS]
            for first, resolvers in base.yaml_implicit_resolvers.items()}


class MarkedLoader(yaml.SafeLoader):
    """The pure-Python safe loader, dates kept as ISO strings (the fallback when libyaml is missing)."""


MarkedLoader.yaml_implicit_resolvers = _plain_resolvers(yaml.SafeLoader)
PARSERS = {"python": MarkedLoader}

if getattr(yaml, "__with_libyaml__", False):
    class CMarkedLoader(yaml.CSafeLoader):
        """libyaml's parser with the same resolvers: the same nodes and marks, about 10x faster."""

    CMarkedLoader.yaml_implicit_resolvers = _plain_resolvers(yaml.CSafeLoader)
    PARSERS["libyaml"] = CMarkedLoader

PARSER = "libyaml" if "libyaml" in PARSERS else "python"   # tests force "python" to check the fallback

Path_ = tuple  # a JSON path as a tuple of keys and indexes


def format_path(path: Path_) -> str:
    """('rules', 3, 'when') -> 'rules[3].when'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + printable(str(part))
    return out or "$"


def printable(text: str) -> str:
    """Text that can always be written as UTF-8: lone surrogates shown as \\udXXX escapes."""
    return text if not _SURROGATE.search(text) else text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class Document:
    """One parsed file: its data and the (line, column) of every node, by JSON path."""

    file: str
    data: Any
    marks: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)     # path of a mapping's entry -> (line, column) of its key
    # a record of a bigger file (a JSONL line): (that file, the line), where its unmarked places are;
    # `file` stays the record's name, `FILE:LINE`, which is the evaluation's source
    place: Optional[tuple] = None
    syntax: str = "yaml"       # "json" for a text read as JSON: a hint shows what to write in its own syntax

    def key_location(self, path: Path_) -> Location:
        """Where the key of the entry at `path` is written (an unknown key is reported there), else `location`."""
        mark = self.keys.get(tuple(path))
        if mark is not None:
            return self._at(mark, tuple(path))
        return self.location(path)

    def _at(self, mark: tuple, path: tuple) -> Location:
        if self.place is not None:      # a record's marks are in its own text: placed in its file, from its line
            return Location(self.place[0], self.place[1] + mark[0] - 1, mark[1], format_path(path))
        return Location(self.file, mark[0], mark[1], format_path(path))

    def location(self, path: Path_ = ()) -> Location:
        """The location of `path`, or of its nearest ancestor that has a mark."""
        path = tuple(path)
        probe = path
        while True:
            mark = self.marks.get(probe)
            if mark is not None:
                return self._at(mark, path)
            if not probe:
                if self.place is not None:
                    return Location(self.place[0], self.place[1], 1, format_path(path))
                return Location(self.file, 0, 0, format_path(path))
            probe = probe[:-1]

    def whole(self) -> Location:
        """Where the document as a whole is: its file, or for a record its file and line."""
        if self.place is not None:
            return Location(self.place[0], self.place[1], 1)
        return Location(self.file)

    @property
    def kind(self) -> Optional[str]:
        return self.data.get("kind") if isinstance(self.data, dict) else None


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")
_TEXT_TAGS = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge", "tag:yaml.org,2002:yaml")
_STR, _NULL, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("str", "null", "bool", "int", "float"))
_MERGE = "tag:yaml.org,2002:merge"
PLAIN_YAML = "plain YAML only: mappings, lists, text, numbers, true/false and null"


# YAML 1.2's core schema (what yaml-language-server and most editors read): a plain scalar's reading there
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_CORE_SPECIAL = {**{w: True for w in ("true", "True", "TRUE")}, **{w: False for w in ("false", "False", "FALSE")},
                 **{w: None for w in ("", "~", "null", "Null", "NULL")},
                 **{s + w: float(s + "inf") for s in ("", "+", "-") for w in (".inf", ".Inf", ".INF")},
                 **{w: float("nan") for w in (".nan", ".NaN", ".NAN")}}
# the first characters of the plain scalars whose YAML 1.1 and 1.2 readings can differ: numbers, yes/no/on/off
_MAY_DIFFER = frozenset("-+.0123456789yYnNoO")
_HUGE = object()   # an integer of more than 40 digits: refused as out of range whichever way it is read


def yaml12(text: str) -> Any:
    """A plain scalar as YAML 1.2's core schema reads it: `010` is 10, `0o17` is 15, `1e5` is 100000.0,
    `yes`, `on` and `1:30` are text."""
    if text in _CORE_SPECIAL:
        return _CORE_SPECIAL[text]
    if _CORE_INT.fullmatch(text):
        if len(text) > 40:
            return _HUGE
        return int(text[2:], 8) if text.startswith("0o") else int(text[2:], 16) if text.startswith("0x") else int(text, 10)
    if _CORE_FLOAT.fullmatch(text):
        return float(text)
    return text


def _same_reading(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a is b or a == b or a != a and b != b)   # NaN is NaN either way


def _shown(value: Any) -> str:
    """A reading as YAML writes it: true, null, 8, 90.5, the text "yes"."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, str):
        return f'the text "{value}"'
    return _number(value)


def _number(value) -> str:
    """A number written so that YAML 1.1 and 1.2 read it alike (1e+20 becomes 1.0e+20: 1.1 wants the dot)."""
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    return mantissa + ("" if "." in mantissa else ".0") + e + exponent if e else text


class _Stop(Exception):
    """A problem that makes the rest of the file meaningless to read (recorded before raising)."""


def _tag_name(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


class _Builder:
    """Turns a composed YAML node tree into plain JSON-shaped data, recording marks. Refuses what
    the output could not carry: tags, lone surrogates, numbers beyond 64 bits, NaN and infinity,
    more than MAX_DEPTH levels, and aliases that expand beyond ALIAS_BUDGET."""

    def __init__(self, loader, file: str, issues: IssueCollector, merge_keys: bool = False, one_line: bool = False):
        self.loader = loader
        self.merge_keys = merge_keys
        self.one_line = one_line
        self.file = file
        self.issues = issues
        self.marks: dict = {}
        self.keys: dict = {}
        self.built = 0

    def at(self, node: yaml.Node, path: Path_) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1, format_path(path))

    def build(self, node: yaml.Node, path: Path_ = (), depth: int = 0) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.built += 1
        if self.built > MAX_NODES:
            self.issues.add("load.too_large", f"the file holds more than {MAX_NODES:,} values", self.at(node, path), "split it")
            raise _Stop
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            self.issues.add("load.too_deep", f"mappings and lists are nested more than {MAX_DEPTH} levels deep here",
                            self.at(node, path), "flatten the structure")
            raise _Stop
        if node.tag not in _PLAIN_TAGS:
            self.issues.add("load.tag", f"the tag `{_tag_name(node.tag)}` is not allowed ({PLAIN_YAML})",
                            self.at(node, path), "remove the tag")
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            merged: set = set()    # keys whose value came from a merge: a key written here overrides them
            for key_node, value_node, from_merge in self.pairs(node, path):
                key = self.key(key_node, path)
                if key is None:
                    continue
                if key in out and key not in merged:
                    self.issues.add("load.duplicate_key", f"key `{printable(key)}` appears twice in this mapping",
                                    self.at(key_node, path + (key,)), "remove or rename one of them")
                if from_merge:
                    merged.add(key)
                else:
                    merged.discard(key)
                self.keys[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, path + (key,), depth + 1)
            return out
        return [self.build(child, path + (i,), depth + 1) for i, child in enumerate(node.value)]

    def pairs(self, node: yaml.MappingNode, path: Path_, depth: int = 0) -> list:
        """A mapping's (key, value, from a merge) pairs. In a policy file a merge key (`<<`) is refused:
        what a rule or a declaration says is written in it. In a case file `<<` merges as YAML 1.1 says
        (merged pairs first, so that a key written beside `<<` overrides them; of a list of mappings the
        earlier wins), built here without changing the node, which an alias may reach again."""
        merges, own = [], []
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                own.append((key_node, value_node, False))
            elif not self.merge_keys:
                self.issues.add("load.merge_key", "merge keys (`<<`) are not supported in policy files: what a rule or a "
                                "declaration says is written in it", self.at(key_node, path + ("<<",)),
                                "write the keys out in this mapping; an alias such as `*base` may still repeat a whole value")
            elif depth < MAX_DEPTH:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in reversed(sources):
                    if isinstance(source, yaml.MappingNode):
                        merges.extend((k, v, True) for k, v, _ in self.pairs(source, path, depth + 1))
                    else:
                        self.issues.add("load.value", "`<<:` merges a mapping or a list of mappings, found "
                                        + ("a list" if isinstance(source, yaml.SequenceNode) else f"`{printable(str(source.value))[:40]}`"),
                                        self.at(source, path + ("<<",)), "merge a mapping (`<<: *base`), or write the keys out")
        return merges + own

    def key(self, node: yaml.Node, path: Path_) -> Optional[str]:
        """A mapping key as text (1, true and 1.5 become "1", "True", "1.5"); anything else is refused."""
        if isinstance(node, yaml.ScalarNode) and self.ambiguous(node, path):
            return node.value    # said once (as read by YAML 1.2: the text written); the file is refused anyway
        value = self.scalar(node, path) if isinstance(node, yaml.ScalarNode) and node.tag in (_STR, _INT, _FLOAT, _BOOL) else None
        if value is None or isinstance(value, float) and value != value:
            shown = "a mapping or list" if not isinstance(node, yaml.ScalarNode) else "null" if node.tag == _NULL else f"`{node.value}`"
            self.issues.add("load.key", f"a mapping key must be text, found {printable(shown)}", self.at(node, path), "quote the key")
            return None
        return value if isinstance(value, str) else str(value)

    def ambiguous(self, node: yaml.ScalarNode, path: Path_) -> Optional[str]:
        """Whether a plain scalar reads differently in YAML 1.1 (this reader: `010` is 8, `1:30` is 90, `yes` is
        true) and in YAML 1.2 (the editor: 10, "1:30", "yes"); if so it is a `load.ambiguous_scalar` issue (or
        `load.number` for one infinite in 1.2), and that code is returned, else None.
        Quoted and block scalars are text in both, and an explicit tag (`!!str yes`) says what is meant."""
        text = node.value
        if node.style or not text or text[0] not in _MAY_DIFFER or node.tag not in (_STR, _NULL, _BOOL, _INT, _FLOAT):
            return None
        if node.tag != self.loader.resolve(yaml.ScalarNode, text, (True, False)):
            return None
        try:
            old = (text if node.tag == _STR else None if node.tag == _NULL else self.loader.construct_yaml_bool(node)
                   if node.tag == _BOOL else (_HUGE if len(text) > 40 else self.loader.construct_yaml_int(node))
                   if node.tag == _INT else self.loader.construct_yaml_float(node))
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            return None   # said by `scalar` as it is
        new = yaml12(text)
        if _same_reading(old, new) or old is _HUGE or new is _HUGE:
            return None
        if isinstance(new, float) and new in (float("inf"), float("-inf")):
            # `1e400`, `1.0e400`: text in YAML 1.1 (its exponent has no sign), too large in 1.2; a number either way
            # out of reach, said as `1.0e+400` and `.inf` are (load.number), whatever 1.1 makes of it
            self.issues.add("load.number", f"`{text}` is too large to be read as a number: YAML 1.2, as editors read it, "
                            f"makes it infinite (YAML 1.1, as regcode reads it, makes it {_shown(old)}); numbers must be finite",
                            self.at(node, path), f'write a finite number, or quote it ("{text}") to keep it as text')
            return "load.number"
        if isinstance(old, bool) or isinstance(new, bool):
            hint = f'write `true` or `false` for a yes/no value, or quote it ("{text}") to mean the text'
        else:
            meant = " or ".join(dict.fromkeys(_number(v) for v in (old, new) if isinstance(v, (int, float))))
            hint = f'write the number as meant ({meant}), or quote it ("{text}") to keep it as text'
        self.issues.add("load.ambiguous_scalar", f"`{text}` unquoted means {_shown(old)} in YAML 1.1, as regcode reads it, but "
                        f"{_shown(new)} in YAML 1.2, as editors read it: a value must mean the same in both", self.at(node, path), hint)
        return "load.ambiguous_scalar"

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        tag, text = node.tag, node.value
        if self.ambiguous(node, path) == "load.number":
            return None
        # an ambiguous scalar is read as YAML 1.1 reads it, so that the rest of the file is still checked; its
        # issue (one of SOFT) keeps the file from being compiled or evaluated
        if tag in _TEXT_TAGS:
            return self.text(text, node, path)
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self.loader.construct_yaml_bool(node)
            if tag == _INT:
                if len(text) > 40:   # int() of thousands of digits is slow, and no consumer reads it back
                    raise OverflowError
                value = self.loader.construct_yaml_int(node)
                if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                    raise OverflowError
                return value
            if tag == _FLOAT:
                value = self.loader.construct_yaml_float(node)
                if value != value:
                    self.issues.add("load.nan", "NaN is not a value regcode accepts", self.at(node, path), "write a number")
                elif value in (float("inf"), float("-inf")):
                    self.issues.add("load.number", f"`{text}` is infinite; numbers must be finite", self.at(node, path),
                                    "write a finite number")
                return value
        except OverflowError:
            self.issues.add("load.number", f"the integer `{text[:40]}{'...' if len(text) > 40 else ''}` is out of range: "
                            f"integers lie between {INT_RANGE[0]:,} and {INT_RANGE[1]:,}", self.at(node, path),
                            "write a smaller number, or quote it to keep it as text")
            return None
        except (ValueError, KeyError, IndexError, TypeError):
            self.issues.add("load.value", f"`{printable(text)}` is not a valid {_tag_name(tag)}", self.at(node, path),
                            "remove the tag, or write a value of that type")
            return None
        hint = "write the date as plain text: YYYY-MM-DD" if tag.endswith(":timestamp") else "remove the tag"
        self.issues.add("load.tag", f"the tag `{_tag_name(tag)}` is not allowed ({PLAIN_YAML})", self.at(node, path), hint)
        return None

    def text(self, text: str, node: yaml.Node, path: Path_) -> str:
        if _SURROGATE.search(text):
            try:   # the pure-Python parser leaves an escaped pair ("\ud83d\ude00") as two halves: join them
                text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            except UnicodeDecodeError:
                self.issues.add("load.text", f"the text {printable(repr(text[:60]))} holds a lone surrogate, which is not a character",
                                self.at(node, path), "write the character itself, or a \\U0001XXXX escape for one beyond U+FFFF")
                return text
        if self.one_line and _CONTROL.search(text):
            self.issues.add("load.text", control_message(text), self.at(node, path), CONTROL_HINT)
        return text


def _check_graph(root: yaml.Node, file: str, issues: IssueCollector) -> bool:
    """Before building: aliases make the node tree a graph. Refuse a cycle (a recursive alias) and
    aliases that expand the document past ALIAS_BUDGET values (an alias bomb), in time linear in
    the nodes written, without expanding anything."""
    size: dict = {}
    refs: dict = {}
    nodes: dict = {}
    on_path: set = set()
    stack = [(root, 0, False)]
    while stack:
        node, depth, leaving = stack.pop()
        key = id(node)
        if leaving:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            continue
        if key in on_path:
            mark = node.start_mark
            issues.add("load.alias", "a recursive alias: the node anchored here contains an alias to itself",
                       Location(file, mark.line + 1, mark.column + 1), "an alias may only repeat a node that does not contain it")
            return False
        refs[key] = refs.get(key, 0) + 1
        if key in size:
            continue
        if depth > MAX_DEPTH:
            mark = node.start_mark
            issues.add("load.too_deep", f"mappings and lists are nested more than {MAX_DEPTH} levels deep here",
                       Location(file, mark.line + 1, mark.column + 1), "flatten the structure")
            return False
        nodes[key] = node
        on_path.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in reversed(_children(node)))
    expanded = size[id(root)]
    if expanded - len(nodes) > ALIAS_BUDGET:
        worst = max((k for k in nodes if refs[k] > 1), key=lambda k: (size[k] * (refs[k] - 1), -nodes[k].start_mark.index))
        mark = nodes[worst].start_mark
        issues.add("load.alias", f"aliases expand this file to {expanded:,} values from the {len(nodes):,} it writes; at most "
                   f"{ALIAS_BUDGET:,} more than written are allowed (the node anchored here is repeated {refs[worst] - 1:,} times)",
                   Location(file, mark.line + 1, mark.column + 1), "write the repeated parts out, or repeat less")
        return False
    return True


def _children(node: yaml.Node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")   # what YAML counts as a line break


def _position(text: str, index: int) -> tuple:
    """1-based (line, column) of a character index, counting lines as both YAML parsers do."""
    breaks = list(_BREAK.finditer(text, 0, index))
    return len(breaks) + 1, index - (breaks[-1].end() if breaks else 0) + 1


def _describe(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X} (half of a UTF-16 pair, not a character)"
    return f"the control character U+{code:04X}"


def parse_text(text: str, file: str, issues: IssueCollector, parser: Optional[str] = None,
               merge_keys: bool = False, one_line: bool = False) -> Optional[Document]:
    """Parse one YAML (or JSON) text into a Document; every problem becomes a `load.*` issue with
    file:line:col (`load.syntax`, `load.alias`, `load.tag`, `load.number`...). `merge_keys`: a case
    file's `<<` merges; a policy file's is refused (`load.merge_key`). `one_line`: a case file's, whose every
    text is one line of printable characters (control_message)."""
    bad = _NOT_YAML.search(text)
    if bad is not None:
        line, col = _position(text, bad.start())
        issues.add("load.syntax", f"{_describe(bad.group())} is not allowed in a YAML or JSON file",
                   Location(file, line, col), "remove it; inside a double-quoted string it may be written as an escape such as \\u0007")
        return None
    name = parser or PARSER
    loader = None
    try:
        loader = PARSERS[name](text)
        node = loader.get_single_node()
        if node is None:
            issues.add("load.empty", "the file is empty", Location(file, 1, 1), "write a mapping with apiVersion and kind")
            return None
        if "&" in text and not _check_graph(node, file, issues):   # no `&`, no anchor, no alias
            return None
        builder = _Builder(loader, file, issues, merge_keys, one_line)
        data = builder.build(node)
        return Document(file, data, builder.marks, builder.keys)
    except yaml.MarkedYAMLError as exc:
        if name != "python" and "escape code" in str(exc.problem):
            # libyaml refuses "\ud83d\ude00" (an escaped surrogate pair, as JSON writers produce);
            # the Python parser reads it, and the builder joins the pair or names a lone half
            loader.dispose()
            loader = None
            return parse_text(text, file, issues, "python", merge_keys, one_line)
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        if line > len(_BREAK.findall(text)) + 1:   # libyaml puts the stream's end after a line break the text lacks
            line, col = _position(text, len(text))
        problem = exc.problem or exc.context or "invalid YAML"
        wide = _full_width_at(text, name, line)
        if "maximum nesting depth" in str(problem):     # libyaml's own bound, past ours: the same issue as ours, at our bound
            line, col = _too_deep_at(text, name, mark.index if mark else len(text)) or (line, col)
            issues.add("load.too_deep", f"mappings and lists are nested more than {MAX_DEPTH} levels deep here",
                       Location(file, line, col), "flatten the structure")
        elif wide is not None:
            at_line, at_col, what, hint = wide
            issues.add("load.syntax", f"YAML syntax error: {what}", Location(file, at_line, at_col), hint)
        else:
            lines = text.split("\n")
            at = lines[line - 1] if 0 < line <= len(lines) else ""
            tab = "\t" in at[:len(at) - len(at.lstrip(" \t"))]     # a tab in the line's indentation
            opened = _opened_at(exc, mark)
            issues.add("load.syntax", f"YAML syntax error: {problem}" + (f"; {opened[0]}" if opened else ""),
                       Location(file, line, col), "YAML indents with spaces only: replace the tab with spaces" if tab
                       else opened[1] if opened else "check the indentation and quoting around this place")
    except yaml.YAMLError as exc:
        issues.add("load.syntax", f"YAML error: {exc}", Location(file, 1, 1), "check the file is YAML or JSON")
    except RecursionError:   # only the pure-Python parser recurses per level; libyaml stops at 1000 levels itself
        place = _too_deep_at(text, name, len(text))
        issues.add("load.too_deep", f"mappings and lists are nested more than {MAX_DEPTH} levels deep" + (" here" if place else ""),
                   Location(file, *place) if place else Location(file), "flatten the structure")
    except _Stop:
        pass
    finally:
        if loader is not None:
            loader.dispose()
    return None


@dataclass(frozen=True)
class _Wide:
    """Characters a Chinese input method types for YAML's own: `find` finds them on a line, `ascii` maps each to what
    YAML needs (the text is tried with it), `said` (formatted with the character `c`, its code `u` and its ASCII one
    `a`) and `hint` (with the line as fixed) name the mistake and the fix."""

    find: Any
    ascii: dict
    said: str
    hint: str

    def found(self, line: str) -> Optional[int]:
        """The index of the first of them on `line` that counts, or None."""
        match = self.find.search(line)
        return None if match is None else line.index("\u3000", match.start()) if "\u3000" in self.ascii else match.start()

    def fixed(self, line: str) -> str:
        if "\u3000" in self.ascii:     # only the indentation's
            end = self.find.search(line).end()
            return line[:end].replace("\u3000", self.ascii["\u3000"]) + line[end:]
        return self.find.sub(lambda m: self.ascii[m.group()], line)


def _wide(chars: str, ascii: list, said: str, hint: str) -> _Wide:
    return _Wide(re.compile("[" + re.escape(chars) + "]"), dict(zip(chars, ascii)), said, hint)


# Each is looked for only in a text the parser refused, nearest the problem first, and said only when writing the
# ASCII characters instead lets the parser read past the problem's line: in text YAML reads, `：`, `，`, `【】` and `“”`
# are Chinese punctuation, which a title or a note may well hold.
_WIDE_CHARS = (
    _Wide(re.compile(r"^[ \t]*\u3000[ \t\u3000]*"), {"\u3000": "  "},
          "an ideographic space (U+3000) in the indentation: YAML indents with ASCII spaces",
          "indent the line with ASCII spaces only, as many as the lines beside it; an ideographic space is as wide as two"),
    _wide("：", [": "], "a full-width colon `：` (U+FF1A) where YAML needs `:`", "write `:` and a space after the key: `{fixed}`"),
    _wide("，", [", "], "a full-width comma `，` (U+FF0C) where YAML needs `,`", "write `,` between the items: `{fixed}`"),
    _wide("【】［］｛｝", "[][]{}", "a full-width bracket `{c}` (U+{u}) where YAML needs `{a}`", "write YAML's own brackets: `{fixed}`"),
    _wide("“”‘’", "\"\"''", "a Chinese quotation mark `{c}` (U+{u}) used as a quote, where YAML needs `{a}`",
          "write ASCII quotes around the text: `{fixed}`"),
)
_ANY_WIDE = re.compile("[\u3000：，【】［］｛｝“”‘’]")


def _full_width_at(text: str, parser: str, line: int) -> Optional[tuple]:
    """(line, column, message, hint) of the full-width character that made the parser refuse `text` at `line`
    (1-based): an ideographic space indenting a line, a full-width colon after a key, a full-width comma, bracket or
    quotation mark where YAML needs its ASCII one, on that line or one before it. None when there is none, or when
    writing the ASCII one instead does not get the parser past `line` (then the character is not the mistake)."""
    if line < 1 or not _ANY_WIDE.search(text):
        return None
    spans, start = [], 0
    for brk in _BREAK.finditer(text):
        spans.append((start, brk.start()))
        start = brk.end()
    spans.append((start, len(text)))
    last = min(line, len(spans))
    candidates = [(i, kind) for i in range(last - 1, max(-1, last - 1 - 200), -1)
                  for kind in _WIDE_CHARS if kind.found(text[spans[i][0]:spans[i][1]]) is not None][:40]
    for i, kind in candidates:
        fixed, cut = [], 0
        for j in sorted(j for j, other in candidates if other is kind and j >= i):   # a block indented so: each line of it
            fixed += [text[cut:spans[j][0]], kind.fixed(text[spans[j][0]:spans[j][1]])]
            cut = spans[j][1]
        if _reads_past("".join(fixed) + text[cut:], parser, i + 1, line):
            own = text[spans[i][0]:spans[i][1]]
            column = kind.found(own)
            c = own[column]
            shown = kind.fixed(own).strip()
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            return (i + 1, column + 1, kind.said.format(c=c, u=f"{ord(c):04X}", a=kind.ascii[c].strip()),
                    kind.hint.format(fixed=shown))
    return None


def _reads_past(text: str, parser: str, first: int, line: int) -> bool:
    """Whether the parser reads `text` whole, or stops only after `line` at something begun after `first` (1-based):
    not at an unclosed quote or bracket the fix opened."""
    loader = None
    try:
        loader = PARSERS[parser](text)
        loader.get_single_node()
        return True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        opened = exc.context_mark if exc.context in _OPENERS else None
        return mark is not None and mark.line + 1 > line and (opened is None or opened.line + 1 > first)
    except (yaml.YAMLError, RecursionError):
        return False
    finally:
        if loader is not None:
            loader.dispose()


_OPENERS = {"while parsing a flow sequence": "the `[`", "while parsing a flow mapping": "the `{`",
            "while scanning a quoted scalar": "the quote"}


def _opened_at(exc: yaml.MarkedYAMLError, mark) -> Optional[tuple]:
    """(what to add to a syntax error's message, its hint) when the parser was reading a flow list or mapping or a
    quoted scalar that began elsewhere than the problem: an unclosed `[`, `{` or quote is found only where the text
    ends or something else comes, often lines later, so its own place is said too. None otherwise."""
    start = exc.context_mark
    if not exc.context or start is None or (mark is not None and (start.line, start.column) == (mark.line, mark.column)):
        return None
    at = f"line {start.line + 1}, column {start.column + 1}"
    opener = _OPENERS.get(exc.context)
    if opener is None:      # (a block mapping's start, say: where the indentation went wrong is the problem's place)
        return None
    return f"{opener} at {at} is not closed", f"close {opener} opened at {at}, or check the quoting inside it"


def _too_deep_at(text: str, parser: str, stop: int) -> Optional[tuple]:
    """(line, column) of the first mapping or list nested past MAX_DEPTH, where the builder would have refused it,
    for a text the parser refused at its own bound (1,000 levels, at index `stop`): that many levels are a run of
    flow brackets (`[[[[...`), found here with quoted scalars and comments passed over, its first bracket's depth
    in the block structure read from the parser's events on the text before it. None when it cannot be told."""
    opened: list = []      # the indexes of the flow brackets open at i
    i, n = 0, min(stop, len(text))
    while i < n:
        ch = text[i]
        if ch in "[{":
            opened.append(i)
        elif ch in "]}":
            if opened:
                opened.pop()
        elif ch in "'\"" and (i == 0 or text[i - 1] in " \t\n[{,:"):
            close = re.compile(r"'(?:[^']|'')*'" if ch == "'" else r'"(?:[^"\\]|\\.)*"', re.S).match(text, i)
            if close is None:
                return None
            i = close.end()
            continue
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        i += 1
    if not opened:
        return None
    loader = PARSERS[parser](text[:opened[0]] + "~")
    depth = None
    try:
        level = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                level += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                level -= 1
            elif isinstance(event, yaml.ScalarEvent):
                depth = level     # the last scalar is the `~` standing where the run starts
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    need = MAX_DEPTH - (depth or 0)
    if depth is None or not 0 <= need < len(opened):
        return None
    return _position(text, opened[need])


CHECKED_VALUE_CODES = ("input.key", "input.number", "input.text", "input.too_deep", "input.value")   # check_value's


def check_value(data: Any, file: str, line: int = 0, text: Optional[str] = None, marks: Optional[dict] = None,
                keys: Optional[dict] = None, one_line: bool = True) -> list:
    """The checks the YAML builder makes, for data parsed otherwise (JSON): no lone surrogate and (`one_line`: a case
    file's, not a policy file's) no control character (see _CONTROL) in a key or text, integers within 64 bits, finite
    numbers, at most MAX_DEPTH levels.
    Returns input issues with the JSON path, placed by `marks` and `keys` (a .json file's, by path) or else by the JSON `text`
    (the string, the bracket), on line `line` of `file` (a JSONL record) or the text's own lines (a file)."""
    found: list = []     # (code, message, path, hint, the offending string or None)
    stack = [((), data, 0)]
    while stack and len(found) < 20:
        path, value, depth = stack.pop()
        kind = type(value)
        if kind is str:
            if _SURROGATE.search(value):
                found.append(("input.text", f"the text {printable(repr(value[:60]))} holds a lone surrogate, which is not a character",
                              path, "write the character itself", value))
            elif one_line and _CONTROL.search(value):
                found.append(("input.text", control_message(value), path, CONTROL_HINT, value))
        elif kind is dict or kind is list:
            if depth >= MAX_DEPTH:
                found.append(("input.too_deep", f"objects and lists are nested more than {MAX_DEPTH} levels deep here",
                              path, "flatten the structure", None))
                continue
            items = value.items() if kind is dict else enumerate(value)
            for k, v in items:
                if kind is dict and (type(k) is not str or _SURROGATE.search(k)):
                    found.append(("input.key", f"the key {printable(repr(k))} is not text (it holds a lone surrogate)",
                                  path + (k,), "write the character itself", k))
                    continue
                if kind is dict and one_line and _CONTROL.search(k):
                    found.append(("input.key", control_message(k, "the key"), path + (k,), CONTROL_HINT, k))
                    continue
                stack.append((path + (k,), v, depth + 1))
        elif kind is int:
            if not INT_RANGE[0] <= value <= INT_RANGE[1]:
                found.append(("input.number", f"the integer {str(value)[:40]} is out of range: integers lie between "
                              f"{INT_RANGE[0]:,} and {INT_RANGE[1]:,}", path, "write a smaller number, or a string", None))
        elif kind is float:
            if value != value or value in (float("inf"), float("-inf")):
                found.append(("input.number", f"{value} is not a finite number", path, "write a finite number", None))
        elif value is not None and kind is not bool:
            found.append(("input.value", f"a {kind.__name__} is not a JSON value", path, "", None))
    return [Issue(code, message, _checked_at(file, line, text, (keys if code == "input.key" else None) or marks, code, path, string),
                  hint)
            for code, message, path, hint, string in found]


def _checked_at(file: str, line: int, text: Optional[str], marks: Optional[dict], code: str, path: Path_,
                string: Optional[str]) -> Location:
    """Where check_value's problem is: the mark of its path (or its nearest ancestor's), else its place in the
    JSON text (the first string written that reads as `string`; the bracket that goes too deep), else column 1."""
    if marks:
        probe = path
        while probe not in marks and probe:
            probe = probe[:-1]
        if probe in marks:
            return Location(file, marks[probe][0], marks[probe][1], format_path(path))
    index = None
    if text is not None and code == "input.too_deep":
        index = json_depth_place(text)
    elif text is not None and string is not None:
        index = _string_index(text, string)
    if index is None:
        return Location(file, line or (1 if text is not None else 0), 1, format_path(path))
    at_line, column = json_position(text, index)
    return Location(file, line or at_line, column, format_path(path))


def _string_index(text: str, value: str) -> Optional[int]:
    """The index of the first JSON string in `text` that reads as `value`, or None."""
    for match in _JSON_STRING.finditer(text):
        try:
            if json.loads(match.group()) == value:
                return match.start()
        except ValueError:
            continue
    return None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _read_bounded(path: Path, limit: int) -> Optional[bytes]:
    """The file's bytes, or None when it holds more than `limit` (read at most limit + 1: a device
    or a huge file costs nothing)."""
    with open(path, "rb") as fh:
        raw = fh.read(limit + 1)
    return None if len(raw) > limit else raw


class NotAFile(OSError):
    """A policy path that is a folder, a FIFO, a socket or a device: never opened as a file (a FIFO would block)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"


def _read_policy_bytes(path: Path, limit: int) -> Optional[bytes]:
    """As _read_bounded, for a policy file, which must be a regular file: its type is checked before it
    is opened (opening a FIFO for reading blocks until a writer comes) and again on what was opened
    (non-blocking, so a file swapped for a FIFO in between cannot hang the load either)."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotAFile(_kind(mode))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotAFile(_kind(mode))
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(limit + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    return None if len(raw) > limit else raw


def _not_a_file(kind: str, display: str) -> Issue:
    name = Path(display).name
    if kind == "a folder":
        hint = (f"a policy file is a YAML or JSON file: make {name} a file (a folder's files are not read as it), or give "
                f"the folder a name that does not end in {Path(name).suffix}")
    else:
        hint = f"a policy file must be a regular file: replace {name} with one, or remove it"
    return Issue("load.not_a_file", f"this is {kind}, not a file", Location(display), hint)


LOOP_WORDS = "a link that leads back to itself (a loop of links)"


def io_reason(exc: OSError) -> str:
    """Why a file could not be opened, in words: the system's (`Permission denied`), or for a loop of links what it is
    (the system says `Too many levels of symbolic links`)."""
    return f"it is {LOOP_WORDS}" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))


def read_problem(path: Path, display: str, exc: OSError) -> Issue:
    """`load.io` for a policy file that cannot be opened; one reached through a loop of links names the link."""
    if exc.errno == errno.ELOOP:
        link = loop_part(Path(path))
        shown = _display(link)
        what = "this file is" if link == Path(path) else f"`{shown}` is"
        return Issue("load.io", f"cannot read the file: {what} {LOOP_WORDS}",
                     Location(display), f"point `{shown}` at a file or folder, or remove it")
    if isinstance(exc, PermissionError):
        return Issue("load.io", f"cannot read the file: {exc.strerror or exc}", Location(display),
                     "let the user running regcode read it (chmod a+r, or its owner), or move it out of the policy folder")
    return Issue("load.io", f"cannot read the file: {exc.strerror or exc}", Location(display), "check that it exists and is readable")


def _mib(limit: int) -> str:
    return f"{limit >> 20} MiB"


def not_utf8(raw: bytes, exc: UnicodeDecodeError, file: str, code: str = "load.encoding", what: str = "the file") -> Issue:
    """The first byte that is not UTF-8, at its line and column (characters, as the parsers count them),
    rather than as an offset in bytes."""
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw   # utf-8-sig counts from after the BOM
    before = body[:exc.start].decode("utf-8", "replace")
    line, col = _position(before, len(before))
    bad = body[exc.start] if exc.start < len(body) else None
    shown = f"byte 0x{bad:02x}" if bad is not None else "the last bytes"
    return Issue(code, f"{what} is not UTF-8: {shown} here is not part of a UTF-8 character ({exc.reason})",
                 Location(file, line, col), "save it as UTF-8 (text saved as GBK or GB18030 reads this way)")


def read_document(path: Path, display: str, issues: IssueCollector) -> Optional[Document]:
    """Read one file from disk (YAML or JSON) into a Document, or record why not."""
    try:
        raw = _read_policy_bytes(path, MAX_FILE_BYTES)
    except NotAFile as exc:
        issues.extend([_not_a_file(exc.kind, display)])
        return None
    except OSError as exc:
        issues.extend([read_problem(path, display, exc)])
        return None
    if raw is None:
        issues.add("load.too_large", f"the file is larger than {_mib(MAX_FILE_BYTES)}", Location(display), "split it")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.extend([not_utf8(raw, exc, display)])
        return None
    if path.suffix == ".json":
        return parse_json_text(text, display, issues)
    return parse_text(text, display, issues)


def parse_json_text(text: str, file: str, issues: IssueCollector) -> Optional[Document]:
    """A .json policy file, read as JSON and strictly, as a .json case file is (load_case_text): what a JSON reader
    refuses (a trailing comma, a single quote, a comment), which YAML would read, is `load.syntax` at its place;
    what regcode refuses in any file (NaN, an integer beyond 64 bits, a lone surrogate, a key written twice, more
    than MAX_DEPTH levels) is its `load.*` issue. The YAML reader only lends its marks."""
    from .errors import InputError
    if not text.strip():
        issues.add("load.empty", "the file is empty", Location(file, 1, 1), "write a JSON object with apiVersion and kind")
        return None
    try:
        data = parse_json(text, file, record="the policy file")
    except InputError as exc:
        issues.extend([_as_load(i) for i in exc.issues])
        return None
    marked = parse_text(text, file, IssueCollector())    # marks only: JSON that YAML refuses (a tab) has none
    marks, keys = (marked.marks, marked.keys) if marked is not None else ({}, {})
    problems = check_value(data, file, text=text, marks=marks, keys=keys, one_line=False)
    if problems:
        issues.extend([_as_load(i) for i in problems])
        return None
    return Document(file, data, marks, keys)


def _as_load(issue: Issue) -> Issue:
    return Issue(issue.code.replace("input.", "load.", 1), issue.message, issue.location, issue.hint)


def _display(path: Path) -> str:
    """A path as a user reads it: relative when it lies under the working folder, else absolute (never ../..)."""
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return str(path)
    if shown == ".." or shown.startswith(".." + os.sep):
        return os.path.abspath(path)
    return shown


def link_loop(path) -> bool:
    """Whether `path` leads into a loop of links (`loop -> loop`, `a -> b -> a`): it names no file and no folder."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def loop_part(path: Path) -> Path:
    """The first part of `path` that is a loop of links (see link_loop), the one place to mend; `path` when none is."""
    probe = Path(path.anchor) if path.is_absolute() else Path()
    for part in path.parts[len(probe.parts):]:
        probe = probe / part
        if link_loop(probe):
            return probe
    return path


def inside(root: Path, candidate: Path) -> bool:
    """True when `candidate` (resolved, links followed) lies under `root`. A loop of links leads nowhere, in or out:
    it counts as inside, where reading it says what it is (load.io), as every Python resolves it alike (before 3.13,
    resolve() raised RuntimeError on one)."""
    if link_loop(candidate):
        return True
    try:
        candidate.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def escape(root: Path, path: Path) -> Optional[Path]:
    """The first part of `path` below `root` (a folder, or the file itself) that leads outside `root`
    (a link, as a rule), or None when the path stays inside: the one place a drafter has to mend."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))   # as written: links are not followed here
    try:
        below = path.relative_to(root).parts
    except ValueError:
        return path if not inside(root, path) else None
    probe = root
    for part in below:
        probe = probe / part
        if not inside(root, probe):
            return probe
    return None


def outside_issue(root: Path, part: Path) -> Issue:
    """`load.outside_root` for the part of a path that leaves the root (see `escape`): one issue
    naming the link, never one per file reached through it."""
    shown = _display(part)
    try:
        target = _display(part.resolve())
    except (OSError, RuntimeError):   # a loop of links
        target = "a loop of links"
    linked = os.path.islink(part)
    if os.path.isdir(part):
        what = f"the folder `{shown}` is a link to `{target}`" if linked else f"the folder `{shown}` leads to `{target}`"
        return Issue("load.outside_root", f"{what}, outside the policy root `{_display(root)}`: none of its files are read",
                     Location(shown), "policy files must live inside the policy folder; replace the link by a copy of the folder")
    what = f"`{shown}` is a link to `{target}`" if linked else f"`{shown}` points to `{target}`"
    return Issue("load.outside_root", f"{what}, outside the policy root `{_display(root)}`", Location(shown),
                 "policy files must live inside the policy folder; replace the link by a copy of the file")


def policy_files(version_dir: Path, issues: IssueCollector, root: Optional[Path] = None) -> Iterator[Path]:
    """Every policy file of a version folder, sorted; files that escape `root` are refused. Whatever is
    named like one is yielded, a folder or a FIFO too: reading it says what it is (load.not_a_file),
    where passing over it would silently drop the rules it was meant to hold. A link to a folder outside
    the root is refused too, once (its files are not read: a folder link is never followed)."""
    root = root or version_dir
    entries = sorted(version_dir.rglob("*"))
    found = [p for p in entries if p.suffix in (".yaml", ".yml", ".json")]
    if len(found) > MAX_FILES:
        issues.add("load.too_many_files", f"{len(found)} files; at most {MAX_FILES}", Location(_display(version_dir)), "split the policy")
        found = found[:MAX_FILES]
    refused: set = set()
    for path in entries:
        if path.suffix not in (".yaml", ".yml", ".json") and path.is_symlink() and path.is_dir() and not inside(root, path):
            part = escape(root, path) or path
            if part not in refused:
                refused.add(part)
                issues.extend([outside_issue(root, part)])
    for path in found:
        part = escape(root, path)
        if part is not None:
            if part not in refused:
                refused.add(part)
                issues.extend([outside_issue(root, part)])
            continue
        yield path


@dataclass
class VersionSource:
    """The raw files of one policy version, as loaded."""

    policy_id: str
    version: str
    directory: Path
    documents: list
    # the issues of files set aside (a rules file that does not parse, one with nothing to read in it):
    # they are reported with everything else, and the rest of the version is still checked
    carried: list = field(default_factory=list)
    # the issues of test files (tests/) that could not be read: nothing compiled depends on them (see
    # validate.ValidatedVersion.test_issues), so they are said with the rest but alone fail nothing
    test_issues: list = field(default_factory=list)
    test_files: frozenset = frozenset()     # the documents' names (Document.file) of the files under tests/
    # the issues of files read despite them (SOFT: a value that YAML 1.1 and 1.2 read differently, a key written
    # twice): the file's structure stands, so it is checked with the rest, but the version fails (validate)
    soft: list = field(default_factory=list)

    def of_kind(self, kind: str) -> list:
        return [d for d in self.documents if d.kind == kind]


# A file whose problem leaves nothing in it to read (empty, not a file, a link leaving the root, one
# regcode may not open) declares nothing: like a rules file that does not parse, it is set aside.
_NOTHING_TO_READ = ("load.empty", "load.not_a_file", "load.outside_root", "load.io")
# Problems of one value, not of the file's structure: the file is still read (the value as YAML 1.1 reads it, a
# key written twice as its last), and what else is wrong in it is said beside them; the version still fails.
SOFT = ("load.ambiguous_scalar", "load.duplicate_key")


def soft_only(issues) -> bool:
    """Whether every one of `issues` is a value-level problem (SOFT): the document read despite them stands."""
    return all(i.code.replace("input.", "load.", 1) in SOFT for i in issues)


def places(issues) -> set:
    """The (file, line, column) of each issue: another issue said at one of them would be an echo."""
    return {(i.location.file, i.location.line, i.location.column) for i in issues if i.location.line}


def not_at(issues, taken: set) -> list:
    """`issues` less those said where another problem already is (`taken`, from `places`): one mistake, one issue."""
    return [i for i in issues if (i.location.file, i.location.line, i.location.column) not in taken]


def load_version(directory: Path, root: Optional[Path] = None) -> VersionSource:
    """Load every file of a version folder. Raises LoadError with all syntax problems at once."""
    issues = IssueCollector()
    directory = Path(directory)
    root = root or directory.parent.parent
    part = escape(root, directory)
    if part is not None:            # the version folder (or its policy folder) is a link out: one problem, not one per file
        raise LoadError([outside_issue(root, part)])
    if link_loop(directory):     # the version folder is a loop of links: the link is the one place to mend
        raise LoadError([read_problem(directory / "policy.yaml", _display(directory / "policy.yaml"), OSError(errno.ELOOP, ""))])
    if not os.path.lexists(directory / "policy.yaml"):   # one that is a folder or a FIFO is said when read
        issues.add("load.no_manifest", f"`{_display(directory)}` has no policy.yaml",
                   Location(_display(directory)), "a policy version folder needs a manifest `policy.yaml` (kind: Policy)")
        raise LoadError(issues.issues)
    docs, carried, listing, tests, test_files = [], IssueCollector(), IssueCollector(), IssueCollector(), set()
    soft = IssueCollector()
    for path in policy_files(directory, listing, root):
        mine = IssueCollector()
        doc = read_document(path, _display(path), mine)
        if doc is not None and soft_only(mine.issues):
            docs.append(doc)
            if is_test_file(directory, path):
                test_files.add(doc.file)
                tests.extend(mine.issues)     # a test file's: said with the rest; its cases are checked (testing.discover)
            else:       # (a test file's texts are a case's: checked as a case file's are, when it runs)
                soft.extend(mine.issues + policy_text_issues(doc))
        elif is_test_file(directory, path):
            tests.extend(mine.issues)     # a test file that does not parse: its cases are lost, nothing else
        elif path.name != "policy.yaml" and (all(i.code in _NOTHING_TO_READ for i in mine.issues) or _declared_kind(path) in (None, "Rules")):
            carried.extend(mine.issues)   # a broken rules file, one of no kind, or one with nothing in it: report it, check the others
        else:
            issues.extend(mine.issues)
    manifest = _display(directory / "policy.yaml")
    for issue in listing.issues:   # a link out is set aside like an empty file, unless it is the manifest
        (carried if issue.code == "load.outside_root" and issue.location.file != manifest else issues).extend([issue])
    if issues:      # a declarations file that does not parse stops the compile; the files that did parse are still
        said = soft.issues + tests.issues    # checked: nothing waits a round
        raise LoadError(issues.issues + carried.issues + said + not_at(_schema_problems(docs), places(said)))
    named = directory.resolve()
    return VersionSource(named.parent.name, named.name, directory, docs, carried.issues, tests.issues, frozenset(test_files),
                         soft.issues)


def is_test_file(directory: Path, path) -> bool:
    """Whether a file of a version folder is one of its test files (under `tests/`)."""
    try:
        return Path(path).relative_to(directory).parts[0] == "tests"
    except (ValueError, IndexError):
        return False


def _schema_problems(docs: list) -> list:
    """The schema problems of the files that parsed, said beside a syntax error elsewhere in the version: a
    file that is no policy file of a known kind (no mapping, another `apiVersion`, an unknown `kind`) says so
    as validate would, the others are checked against their kind's schema."""
    from .validate import file_header_issue, schema_issues, validator_for
    found = IssueCollector()
    for doc in docs:
        header = file_header_issue(doc)
        if header is not None:
            found.extend([header])
        else:
            schema_issues(doc, validator_for(doc.data["kind"]), found)
    return found.issues


_KIND_LINE = re.compile(r"^kind:\s*['\"]?([A-Za-z]+)['\"]?\s*(#.*)?$|\"kind\"\s*:\s*\"([A-Za-z]+)\"", re.M)   # YAML's, JSON's


def _declared_kind(path: Path) -> Optional[str]:
    """The kind an unparseable file says on a line of its own (`kind: Rules`), read as the kind it is nearest to
    (`kind: Rule` as Rules), as validate reads a parsed one; None when it says none regcode has, or cannot be read.
    A file of rules, or of no kind (random bytes, a file saved in another encoding that says none), is set aside:
    only what it held is lost. One of another kind declares what the rules are checked against: it stops the compile."""
    from .errors import nearest
    from .validate import KINDS
    try:
        raw = _read_policy_bytes(path, MAX_FILE_BYTES)
    except OSError:
        return None
    if raw is None:
        return None
    # a file saved in another encoding: GBK and GB18030 write `kind:` as UTF-8 does, UTF-16 with a NUL beside each letter
    texts = [raw.decode("utf-8", "replace")] + ([raw.decode("utf-16", "replace")] if b"\x00" in raw else [])
    found = next((m for m in map(_KIND_LINE.search, texts) if m), None)
    return nearest(found.group(1) or found.group(3), KINDS) if found else None


def _as_input(issue: Issue) -> Issue:
    """A policy-file issue as a case-file one (its hint too, where it named what a policy file holds)."""
    hint = issue.hint
    if issue.code == "load.empty":
        hint = "write a mapping with `as_of:` and the fields the policy's facts schema asks for"
    return Issue(issue.code.replace("load.", "input.", 1), issue.message, issue.location, hint)


def load_case_text(text: str, name: str, as_json: Optional[bool] = None) -> Document:
    """Parse one case file's text: YAML, or JSON when `as_json` (by default: when the name ends in .json).
    JSON is read as JSON (YAML would read `NaN` as text, `1e5` as text, 1e400 as a float), and the YAML
    reader only lends its line and column marks. Raises InputError."""
    from .errors import InputError

    if len(text) > MAX_CASE_BYTES:   # characters, at least as many bytes
        raise InputError([Issue("input.too_large", f"the case file is larger than {_mib(MAX_CASE_BYTES)}", Location(name),
                                "one case file is a few KiB; split the input")])
    if as_json is None:
        as_json = name.lower().endswith(".json")
    if not text.strip():
        raise InputError([Issue("input.empty", "the case file is empty", Location(name, 1, 1),
                                "write a mapping with `as_of:` and the fields the policy's facts schema asks for")])
    if as_json:
        data = parse_json(text, name)
        if isinstance(data, dict):
            marked = _JsonMarks(text, name)   # the YAML reader's marks, read only once a place is asked for
            marks, keys = _LazyMarks(marked, "marks"), _LazyMarks(marked, "keys")
            problems = check_value(data, name, text=text, marks=marks, keys=keys)
            if problems:
                raise InputError(problems)
            return Document(name, data, marks, keys, syntax="json")
        raise InputError([Issue("input.not_mapping", f"a case file must be a mapping, found {json_type(data)}",
                                Location(name, 1, 1), "start the file with `as_of:` and the fields the policy's facts schema asks for")])
    issues = IssueCollector()
    doc = parse_text(text, name, issues, merge_keys=True, one_line=True)
    if doc is not None and not isinstance(doc.data, dict) and not (doc.data is None and issues):
        # (a root refused, a tag say, reads as null: its own problem is the one to say)
        issues.add("input.not_mapping", f"a case file must be a mapping, found {json_type(doc.data)}",
                   doc.location(), "start the file with `as_of:` and the fields the policy's facts schema asks for")
    if issues:
        failed = InputError([_as_input(i) for i in issues.issues])
        # read despite value-level problems only (SOFT): what else is wrong with it can still be said (case.also_wrong)
        failed.partial = doc if doc is not None and soft_only(issues.issues) else None
        raise failed
    return doc


class _JsonMarks:
    """The line and column marks of a JSON case file's text, by the YAML reader (about 25x the JSON reader's
    time): read the first time a place is asked for, which a case file that is right never is. JSON that YAML
    refuses (a tab) has none."""

    def __init__(self, text: str, name: str):
        self.text, self.name, self.doc = text, name, None

    def read(self, attr: str) -> dict:
        if self.text is not None:
            self.doc = parse_text(self.text, self.name, IssueCollector(), merge_keys=True)
            self.text = None
        return getattr(self.doc, attr) if self.doc is not None else {}


class _LazyMarks(dict):
    """A Document's `marks` or `keys`, filled from a _JsonMarks when first read (every way a dict is read
    here goes through the methods _filled_first gives it, below; it pickles as the plain dict it then is)."""

    def __init__(self, source: _JsonMarks, attr: str):
        super().__init__()
        self._source, self._attr = source, attr

    def _fill(self) -> None:
        if self._source is not None:
            source, self._source = self._source, None
            dict.update(self, source.read(self._attr))

    def copy(self) -> dict:
        self._fill()
        return dict(dict.items(self))

    __hash__ = None

    def __reduce__(self):
        return dict, (self.copy(),)


def _filled_first(name: str):
    read = getattr(dict, name)

    def method(self, *args):
        self._fill()
        return read(self, *args)
    method.__name__ = name
    return method


for _name in ("get", "__getitem__", "__contains__", "__iter__", "__len__", "items", "keys", "values", "__eq__", "__repr__"):
    setattr(_LazyMarks, _name, _filled_first(_name))


class _Refused(ValueError):
    """Raised by a parse hook: the text is JSON, but holds a value regcode does not accept (`token`: the
    number or constant as written, to find its place by)."""

    def __init__(self, code: str, message: str, hint: str, token: Optional[str] = None):
        super().__init__(message)
        self.code, self.hint, self.token = code, hint, token


# a JSON string (passed over), or a number or constant outside strings
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|NaN|-?Infinity)')


def refused_at(text: str, exc: _Refused) -> tuple:
    """1-based (line, column) in `text` of the value a parse hook refused, counted as the JSON reader
    counts (lines end at \\n); (1, 1) when it cannot be told. The reader reads in order and stops at the
    first value refused, so the first token written the same way is that value. A duplicate key is found
    by the YAML reader, which reads the text too and marks where the second one is written."""
    if exc.token is not None:
        for match in _JSON_TOKEN.finditer(text):
            if match.group(1) == exc.token:
                start = match.start()
                return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1
    elif exc.code == "input.duplicate_key":
        found = IssueCollector()
        parse_text(text, "", found, merge_keys=True)
        for issue in found.issues:
            if issue.code == "load.duplicate_key" and issue.location.line:
                return issue.location.line, issue.location.column
    return 1, 1


def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _Refused("input.duplicate_key", f"key `{printable(key)}` appears twice in one object", "remove or rename one of them")
        out[key] = value
    return out


def _no_constant(name):
    raise _Refused("input.number", f"{name} is not a value regcode accepts: numbers must be finite", "write a finite number", name)


def _int(text: str) -> int:
    # before int(): thousands of digits cost time, and Python refuses past 4,300 with a message about sys
    if len(text) > 20 or not INT_RANGE[0] <= int(text) <= INT_RANGE[1]:
        raise _Refused("input.number", f"the integer {text[:40]}{'...' if len(text) > 40 else ''} is out of range: integers "
                       f"lie between {INT_RANGE[0]:,} and {INT_RANGE[1]:,}", "write a smaller number, or a string", text)
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused("input.number", f"the number {text[:40]} is too large to be read (it would be infinite)",
                       "write a finite number", text)
    return value


# The JSON reader as regcode reads case files: a duplicate key, NaN or Infinity, an integer beyond 64 bits or an
# infinite number raise _Refused (a ValueError) with its code; `raw_decode` reads one value of a larger text.
JSON_READER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant, parse_int=_int, parse_float=_float)


def read_json(text: str):
    """JSON text as data, by JSON_READER (JSONDecodeError for bad syntax, _Refused for a value regcode refuses)."""
    return JSON_READER.decode(text)


def json_message(exc: json.JSONDecodeError) -> str:
    """The JSON reader's message without its dangling ' at' (the place is the issue's line and column). A control
    character in a string is named: escaped it is refused too (control_message), so no escape is suggested."""
    if exc.msg.startswith("Invalid control character"):
        doc, pos = exc.doc, exc.pos
        code = f" U+{ord(doc[pos]):04X}" if isinstance(doc, str) and pos < len(doc) else ""
        return f"a control character{code} in a string, which a case file's text may not hold (as itself or escaped)"
    return exc.msg.removesuffix(" at")


_CUT_SHORT = ("Expecting value", "Expecting ',' delimiter", "Expecting ':' delimiter",
              "Expecting property name enclosed in double quotes")


def json_position(text: str, index: int) -> tuple:
    """1-based (line, column) of a character index, lines ending at \\n as the JSON reader counts them."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def json_syntax(exc: json.JSONDecodeError, text: str, what: str = "file", record: Optional[str] = None) -> tuple:
    """(message, index) of a JSON syntax error, said for what it is. Text that ends inside a string, or before
    its object is closed, is cut short: the JSON reader reads the line break after an open string as a control
    character in it, and a record that ends early as a value missing at the end. `what`: "file" or "line"."""
    msg, pos = exc.msg, exc.pos
    record = record or ("the record" if what == "line" else "the case file")
    cut = f"the {what} ends inside a string (opened here): {record} is cut short"
    if msg.startswith("Invalid control character") and pos < len(text) and text[pos] in "\r\n":
        try:   # the same text up to the line break: the reader names where the open string starts
            json.loads(text[:pos])
        except json.JSONDecodeError as before:
            if before.msg.startswith("Unterminated string"):
                if text[pos:].strip():
                    return ("invalid JSON: the string opened here runs past the end of its line (JSON text cannot hold a "
                            "line break: close the string with \" on its line, or write the break as \\n)", before.pos)
                return f"invalid JSON: {cut}", before.pos
    elif msg.startswith("Unterminated string"):
        return f"invalid JSON: {cut}", pos
    elif msg in _CUT_SHORT and not text[pos:].strip():
        return f"invalid JSON: {msg}: the {what} ends before {record} is complete (is it cut short?)", len(text.rstrip())
    return f"invalid JSON: {json_message(exc)}", pos


def json_depth_place(text: str) -> Optional[int]:
    """The index of the bracket where JSON `text` first nests more than MAX_DEPTH levels deep (strings passed
    over), or None: where a text too deep to read is refused."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        ch = match.group()
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif ch in "]}":
            depth -= 1
    return None


_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def parse_json(text: str, name: str, line: int = 0, record: Optional[str] = None):
    """JSON text read strictly, as JSON and not as YAML (which reads `NaN` as text and 1e400 as a float):
    what a JSON reader would refuse, and the values regcode does not accept, are InputErrors. `record`: what the
    text is, when not a case file ("the policy file")."""
    from .errors import InputError
    try:
        return read_json(text)
    except json.JSONDecodeError as exc:
        message, index = json_syntax(exc, text, record=record)
        at_line, column = json_position(text, index)
        raise InputError([Issue("input.syntax", message, Location(name, (line - 1 if line else 0) + at_line, column),
                                ("the file is read as JSON because of its name (.json)" if name.lower().endswith(".json")
                                 else "the text is read as JSON") + "; check the quoting and commas here")])
    except _Refused as exc:
        at_line, column = refused_at(text, exc)
        raise InputError([Issue(exc.code, str(exc), Location(name, (line - 1 if line else 0) + at_line, column), exc.hint)])
    except RecursionError:
        index = json_depth_place(text)
        at_line, column = json_position(text, index) if index is not None else (1, 1)
        raise InputError([Issue("input.too_deep", f"objects and lists are nested more than {MAX_DEPTH} levels deep here",
                                Location(name, (line - 1 if line else 0) + at_line, column), "flatten the structure")])


def json_type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def load_case_stream(stream, name: str) -> Document:
    """Read one case file from a binary stream (standard input), at most MAX_CASE_BYTES of it."""
    return _case_from_bytes(lambda: _bounded(stream.read(MAX_CASE_BYTES + 1), MAX_CASE_BYTES), name)


def _bounded(raw: bytes, limit: int) -> Optional[bytes]:
    return None if len(raw) > limit else raw


def load_case_file(path: Path, name: Optional[str] = None) -> Document:
    """Read one case file from disk. Raises InputError naming the file."""
    name = name or _display(Path(path))
    return _case_from_bytes(lambda: _read_bounded(Path(path), MAX_CASE_BYTES), name)


def _case_from_bytes(read, name: str) -> Document:
    from .errors import InputError

    raw = b""
    try:
        raw = read()
        if raw is None:
            raise InputError([Issue("input.too_large", f"the case file is larger than {_mib(MAX_CASE_BYTES)}", Location(name),
                                    "one case file is a few KiB; split the input")])
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise InputError([Issue("input.io", f"cannot read the case file: {io_reason(exc)}", Location(name),
                                "point the link at a file, or give the file's own path" if exc.errno == errno.ELOOP
                                else "check the path")])
    except UnicodeDecodeError as exc:
        raise InputError([not_utf8(raw, exc, name, "input.encoding", "the case file")])
    return load_case_text(text, name)


def dump_json(data: Any, pretty: bool = False) -> str:
    """The one JSON form regcode prints: sorted keys, UTF-8 kept, stable (engine/_json.py)."""
    from ._json import dumps
    return dumps(data, pretty)


def dump_json_bytes(data: Any, pretty: bool = False) -> bytes:
    """`dump_json(data, pretty)` encoded as UTF-8, written directly (no text in between): what goes to a
    file, a pipe or a socket."""
    from ._json import dumpb
    return dumpb(data, pretty)
