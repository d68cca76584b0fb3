"""Stage 1, load: read policy files (YAML/JSON) with PyYAML's safe loader, keeping line/column marks per JSON path."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from .errors import Issue, IssueCollector, LoadError, Location

MAX_FILES = 2000            # a bound on how many files one policy version may hold
MAX_FILE_BYTES = 8 << 20    # 8 MiB per policy file
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class MarkedLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as ISO strings (the engine works on JSON-shaped data)."""


# Dates stay text: a case file's `2019-06-30` must round-trip to JSON unchanged, and ISO
# strings compare correctly as text.
MarkedLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Path_ = tuple  # a JSON path as a tuple of keys and indexes


def format_path(path: Path_) -> str:
    """('rules', 3, 'when') -> 'rules[3].when'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "$"


@dataclass
class Document:
    """One parsed file: its data and the (line, column) of every node, by JSON path."""

    file: str
    data: Any
    marks: dict = field(default_factory=dict)

    def location(self, path: Path_ = ()) -> Location:
        """The location of `path`, or of its nearest ancestor that has a mark."""
        path = tuple(path)
        probe = path
        while True:
            mark = self.marks.get(probe)
            if mark is not None:
                return Location(self.file, mark[0], mark[1], format_path(path))
            if not probe:
                return Location(self.file, 0, 0, format_path(path))
            probe = probe[:-1]

    @property
    def kind(self) -> Optional[str]:
        return self.data.get("kind") if isinstance(self.data, dict) else None


_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")


class _Builder:
    """Turns a composed YAML node tree into plain data, recording marks."""

    def __init__(self, loader: MarkedLoader, file: str, issues: IssueCollector):
        self.loader = loader
        self.file = file
        self.issues = issues
        self.marks: dict = {}

    def build(self, node: yaml.Node, path: Path_ = ()) -> Any:
        # Iterative depth is bounded by the document itself; PyYAML already parsed it.
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_TAGS:
            # the safe loader refuses such tags on scalars itself; collections are built here, so refuse them here
            raise yaml.constructor.ConstructorError(None, None, f"tag {node.tag!r} is not allowed (plain YAML only)",
                                                    node.start_mark)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, bool, float)) or key is None:
                    self.issues.add("load.key", f"a mapping key must be text, found {key!r}",
                                    Location(self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1, format_path(path)),
                                    "quote the key")
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    self.issues.add("load.duplicate_key", f"key `{key}` appears twice in this mapping",
                                    Location(self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1, format_path(path + (key,))),
                                    "remove or rename one of them")
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, float) and value != value:
            self.issues.add("load.nan", "NaN is not a value regcode accepts", self.doc_location(node, path), "write a number")
        return value

    def doc_location(self, node: yaml.Node, path: Path_) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1, format_path(path))


def parse_text(text: str, file: str, issues: IssueCollector) -> Optional[Document]:
    """Parse one YAML (or JSON) text; syntax errors become `load.syntax` issues."""
    loader = MarkedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            issues.add("load.empty", "the file is empty", Location(file, 1, 1), "write a mapping with apiVersion and kind")
            return None
        builder = _Builder(loader, file, issues)
        data = builder.build(node)
        return Document(file, data, builder.marks)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        issues.add("load.syntax", f"YAML syntax error: {problem}", Location(file, line, col),
                   "check the indentation and quoting around this place")
    except yaml.YAMLError as exc:  # e.g. an unknown tag (!!python/object): the safe loader refuses it
        issues.add("load.syntax", f"YAML error: {exc}", Location(file, 1, 1), "remove tags; plain YAML only")
    except (ValueError, TypeError, RecursionError) as exc:
        issues.add("load.syntax", f"unreadable value: {exc}", Location(file, 1, 1), "")
    finally:
        loader.dispose()
    return None


def read_document(path: Path, display: str, issues: IssueCollector) -> Optional[Document]:
    """Read one file from disk (YAML or JSON) into a Document, or record why not."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            issues.add("load.too_large", f"the file is larger than {MAX_FILE_BYTES >> 20} MiB", Location(display), "split it")
            return None
        raw = path.read_bytes()
    except OSError as exc:
        issues.add("load.io", f"cannot read the file: {exc.strerror or exc}", Location(display), "check that it exists and is readable")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        issues.add("load.encoding", f"the file is not UTF-8 (byte {exc.start})", Location(display), "save it as UTF-8")
        return None
    return parse_text(text, display, issues)


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def inside(root: Path, candidate: Path) -> bool:
    """True when `candidate` (resolved, links followed) lies under `root`."""
    try:
        candidate.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def policy_files(version_dir: Path, issues: IssueCollector, root: Optional[Path] = None) -> Iterator[Path]:
    """Every policy file of a version folder, sorted; files that escape `root` are refused."""
    root = root or version_dir
    found = sorted(p for p in version_dir.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
    if len(found) > MAX_FILES:
        issues.add("load.too_many_files", f"{len(found)} files; at most {MAX_FILES}", Location(_display(version_dir)), "split the policy")
        found = found[:MAX_FILES]
    for path in found:
        if not inside(root, path):
            issues.add("load.outside_root", f"`{_display(path)}` points outside the policy root `{_display(root)}`",
                       Location(_display(path)), "policy files must live inside the policy folder; replace the link by a file")
            continue
        yield path


@dataclass
class VersionSource:
    """The raw files of one policy version, as loaded."""

    policy_id: str
    version: str
    directory: Path
    documents: list
    carried: list = field(default_factory=list)   # syntax issues of rules files left out (the rest still load)

    def of_kind(self, kind: str) -> list:
        return [d for d in self.documents if d.kind == kind]


def load_version(directory: Path, root: Optional[Path] = None) -> VersionSource:
    """Load every file of a version folder. Raises LoadError with all syntax problems at once."""
    issues = IssueCollector()
    directory = Path(directory)
    if not (directory / "policy.yaml").is_file():
        issues.add("load.no_manifest", f"`{_display(directory)}` has no policy.yaml",
                   Location(_display(directory)), "a policy version folder needs a manifest `policy.yaml` (kind: Policy)")
        raise LoadError(issues.issues)
    docs, carried = [], IssueCollector()
    for path in policy_files(directory, issues, root or directory.parent.parent):
        mine = IssueCollector()
        doc = read_document(path, _display(path), mine)
        if doc is not None and not mine.issues:
            docs.append(doc)
        elif _declares_rules(path):
            carried.extend(mine.issues)   # a broken rules file: report it, and still check the others
        else:
            issues.extend(mine.issues)
    if issues:
        raise LoadError(issues.issues + carried.issues)
    named = directory.resolve()
    return VersionSource(named.parent.name, named.name, directory, docs, carried.issues)


_RULES_KIND = re.compile(r"^kind:\s*['\"]?Rules['\"]?\s*(#.*)?$", re.M)


def _declares_rules(path: Path) -> bool:
    """Whether an unparseable file says `kind: Rules` on a line of its own (then only its rules are lost)."""
    try:
        return bool(_RULES_KIND.search(path.read_bytes().decode("utf-8", "replace")))
    except OSError:
        return False


def load_case_text(text: str, name: str) -> Document:
    """Parse one case file's text (YAML or JSON). Raises InputError."""
    from .errors import InputError

    issues = IssueCollector()
    doc = parse_text(text, name, issues)
    if doc is not None and not isinstance(doc.data, dict):
        issues.add("input.not_mapping", f"a case file must be a mapping, found {type(doc.data).__name__}",
                   doc.location(), "start the file with `as_of:` and `enterprise:`")
    if issues:
        raise InputError([Issue(i.code.replace("load.", "input."), i.message, i.location, i.hint) for i in issues.issues])
    return doc


def load_case_file(path: Path, name: Optional[str] = None) -> Document:
    """Read one case file from disk. Raises InputError naming the file."""
    from .errors import InputError

    name = name or _display(Path(path))
    try:
        raw = Path(path).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise InputError([Issue("input.io", f"cannot read the case file: {exc.strerror or exc}", Location(name),
                                "check the path")])
    except UnicodeDecodeError as exc:
        raise InputError([Issue("input.encoding", f"the case file is not UTF-8 (byte {exc.start})", Location(name),
                                "save it as UTF-8")])
    return load_case_text(text, name)


def dump_json(data: Any, pretty: bool = False) -> str:
    """The one JSON form regcode prints: sorted keys, UTF-8 kept, stable (engine/_json.py)."""
    from ._json import dumps
    return dumps(data, pretty)
