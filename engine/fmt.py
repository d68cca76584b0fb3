"""`regcode fmt`: the canonical layout of rules files, comments and flow style kept (ruamel.yaml round trip).

The canonical form: keys in the order their schema lists them (a rule: id, article, clause, title,
note, override, for_each, as, when, then; an operator: its keyword, `as`, then the rest, `where`
last), 2-space indentation with list items at +2, and every
flow collection (`{...}`, `[...]`) kept in flow style on one line. Everything else - comments,
quotes, block scalars, anchors - is kept as written; a comment on its own line moves with the key (or list
item) it is written before, one indented as a block's keys after its last key stays at the end of that block. A mapping with a key its schema does not know (a
misspelling) is left in the order written, and the key is reported with the nearest known one: where it
belongs is not known."""
from __future__ import annotations

import difflib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from .errors import Issue, IssueCollector, Location, did_you_mean
from .load import MAX_FILE_BYTES, MAX_FILES, _display, escape, outside_issue, parse_text
from .validate import API_VERSION, KINDS, operator_schemas, schema_for

SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache"}
MAX_DEPTH = 200    # bound on nesting followed when ordering keys (deeper nodes are left as written)


@dataclass
class Result:
    """One file: its canonical text, whether that differs from what is on disk, or why it was left alone."""

    path: Path
    display: str
    original: str = ""
    formatted: str = ""
    skipped: str = ""          # why the file is not a policy file we format
    issues: tuple = ()
    notes: tuple = ()          # what was formatted around: keys the schema does not know (left where they are)

    @property
    def changed(self) -> bool:
        return not self.skipped and not self.issues and self.formatted != self.original

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.original.splitlines(True), self.formatted.splitlines(True),
                                            f"{self.display} (now)", f"{self.display} (formatted)"))


def _yaml():
    try:
        from ruamel.yaml import YAML
    except ImportError as exc:   # a core dependency; an install without it is broken, say how to mend it
        raise RuntimeError("regcode fmt needs ruamel.yaml (a dependency of regcode): pip install 'ruamel.yaml>=0.18'") from exc
    y = YAML()   # round trip: comments, flow style, quotes and block scalars as written
    y.preserve_quotes = True
    y.width = 4096                                       # never re-wrap a line the author wrote
    y.indent(mapping=2, sequence=4, offset=2)            # `key:\n  - item` with the item's keys at +4
    y.brace_single_entry_mapping_in_flow_sequence = True  # `[{not: x}]` stays `[{not: x}]`, not `[not: x]`
    y.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return y


# ---- the canonical key order, read from the schemas ---------------------------------------
class _Schemas:
    """Follows schemas/ (the same files validation uses) to know, for every node of a Rules file,
    which keys it has in which order: `properties` order is the canonical order."""

    def __init__(self):
        self.ops = operator_schemas()

    def resolve(self, node: dict, root: dict) -> tuple:
        for _ in range(16):   # bounded chain of $refs
            ref = node.get("$ref") if isinstance(node, dict) else None
            if not isinstance(ref, str):
                break
            doc, _, pointer = ref.partition("#")
            root = self.ops if doc == "operators" else root
            if pointer in ("/$defs/condition", "/$defs/expression") and root is self.ops:
                return {"x-dispatch": pointer.rsplit("/", 1)[1]}, root
            target = root
            for part in pointer.strip("/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = target
        return node, root


def _order(node, keys: list) -> None:
    """Put `keys` first, in that order; other keys keep their order after them. A comment that
    followed the last key (e.g. the next rule's heading) stays at the end of the node."""
    wanted = [k for k in keys if k in node] + [k for k in node if k not in keys]
    if list(node) == wanted:
        return
    tail = _detach_trailing(node)
    for key in wanted:
        node.move_to_end(key)
    if tail:
        _attach_trailing(node, tail)


def _is_block(value) -> bool:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    return isinstance(value, (CommentedMap, CommentedSeq)) and len(value) > 0 and not value.fa.flow_style()


def _last_slot(node, depth: int = 0):
    """(container, key, index in the comment entry) of the comment after the last scalar of a block node."""
    from ruamel.yaml.comments import CommentedMap
    key = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
    value = node[key]
    if _is_block(value) and depth < MAX_DEPTH:
        return _last_slot(value, depth + 1)
    return node, key, 2 if isinstance(node, CommentedMap) else 0


def _ends_its_own_line(value) -> bool:
    """A block scalar (`>-`, `|`) ends with its own line break; a comment token after it holds only the lines that follow."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
    return isinstance(value, (FoldedScalarString, LiteralScalarString))


def _detach_trailing(node) -> Optional[str]:
    """Take off the lines after the last value (blank lines, comments); keep its end-of-line comment."""
    from ruamel.yaml.tokens import CommentToken
    if not len(node):
        return None
    container, key, slot = _last_slot(node)
    entry = container.ca.items.get(key)
    token = entry[slot] if entry and len(entry) > slot else None
    if not isinstance(token, CommentToken):
        return None
    if _ends_its_own_line(container[key]):
        eol, rest = "", token.value
    else:
        eol, _, rest = token.value.partition("\n")
    if not rest:
        return None
    if eol.strip():
        token.value = eol + "\n"
    else:
        entry[slot] = None
    return rest


def _attach_trailing(node, text: str) -> None:
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken
    container, key, slot = _last_slot(node)
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    while len(entry) <= slot:
        entry.append(None)
    token = entry[slot]
    if isinstance(token, CommentToken):
        token.value = token.value.rstrip("\n") + "\n" + text
    else:
        entry[slot] = CommentToken(text if _ends_its_own_line(container[key]) else "\n" + text, CommentMark(0), None)


def _walk(node, schema: dict, root: dict, schemas: _Schemas, unknown: list, depth: int = 0) -> None:
    """Order the keys of `node` (and of everything below it) as `schema` lists them; a mapping with a key the
    schema does not have is left in its order, and the key is put in `unknown` (key, line, column, hint)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    if depth > MAX_DEPTH or not isinstance(schema, dict):
        return
    schema, root = schemas.resolve(schema, root)
    dispatch = schema.get("x-dispatch")
    keywords: list = []     # a condition's or expression's other keywords: a misspelt key may be one of them
    if dispatch:
        if not isinstance(node, CommentedMap):
            return
        group = schemas.ops["conditions" if dispatch == "condition" else "expressions"]
        keyword = next((k for k in node if k in group), None)   # the engine takes the first keyword too
        if keyword is None:     # the keyword itself is misspelt (`pth:`): every key of the form is known
            known = set(group) | {k for entry in group.values() for k in (entry.get("properties") or {})}
            _unknown(node, [k for k in node if k not in known], sorted(group), unknown)
            return
        schema, root = group[keyword], schemas.ops
        keywords = sorted(k for k in group if k != keyword)
    if isinstance(node, CommentedSeq):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in node:
                _walk(item, items, root, schemas, unknown, depth + 1)
        return
    if not isinstance(node, CommentedMap):
        return
    branches = [b for b in schema.get("oneOf", []) if isinstance(b, dict)]
    for branch in branches:   # the form whose required keys the node has (decide / derive)
        if all(k in node for k in branch.get("required", [])):
            schema = {**schema, **branch}
            break
    else:
        if branches and all(b.get("properties") and b.get("additionalProperties") is False for b in branches):
            # no form's keyword is there (`decid:`): the keys of every form are known, the keywords first
            required = sorted({k for b in branches for k in b.get("required", [])})
            known = {k for b in branches for k in b["properties"]}
            _unknown(node, [k for k in node if k not in known], required, unknown)
            return
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    strays = [k for k in node if k not in props] if props and not isinstance(extra, dict) and extra is not True else []
    if strays:   # a misspelt key: where it goes is unknown, so this mapping stays as written and fmt says why
        _unknown(node, strays, [k for k in props if k not in node] + keywords, unknown, present=list(props))
    else:
        _order(node, list(props))
    for key in list(node):
        child = props.get(key, extra if isinstance(extra, dict) else None)
        if child is not None:
            _walk(node[key], child, root, schemas, unknown, depth + 1)


def _unknown(node, strays: list, choices: list, unknown: list, present: Optional[list] = None) -> None:
    """Put each stray key in `unknown` (key, line, column, hint) with the nearest of `choices`; when none is near,
    the nearest key already in the mapping (`title` beside `tittle`: one of the two is too many)."""
    for key in strays:
        line, col = node.lc.key(key)
        hint = did_you_mean(str(key), choices)
        if not hint and present:
            twin = difflib.get_close_matches(str(key), [k for k in present if k in node and k != key], n=1, cutoff=0.6)
            if twin:
                hint = f"did you mean `{twin[0]}`? it is already in this mapping: keep one"
        unknown.append((key, line + 1, col + 1, hint))


def _keep_anchors(node, depth: int = 0) -> None:
    """An anchor no alias uses is still the author's: ruamel would drop it."""
    if depth > MAX_DEPTH:
        return
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None) and hasattr(node, "yaml_set_anchor"):
        node.yaml_set_anchor(anchor.value, always_dump=True)
    if isinstance(node, dict):
        for value in node.values():
            _keep_anchors(value, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _keep_anchors(value, depth + 1)


def _align_comments(text: str) -> str:
    """Each comment on a line of its own indented as the line it comes before (ruamel keeps a comment's column as
    written, so a re-indented rule would leave its comments where the rule was). The lines of a scalar written
    over several lines are its text, never comments, and a comment with nothing after it stays as it is."""
    import yaml
    lines = text.split("\n")
    inside: set = set()      # lines of multi-line scalars, after their first
    try:
        for token in yaml.scan(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            end = token.end_mark.line + (token.end_mark.column > 0)    # (a block scalar ends at the next line's start)
            if isinstance(token, yaml.ScalarToken) and end > token.start_mark.line + 1:
                inside.update(range(token.start_mark.line + 1, end))
    except yaml.YAMLError:
        return text
    indent = None           # of the next line that is neither blank nor a comment, read from the end
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        body = line.lstrip(" ")
        if i in inside or not body:
            if i in inside and body:
                indent = None    # (a comment before a scalar's own line is not aligned with its text)
            continue
        if body.startswith("#"):
            if indent is not None:
                lines[i] = " " * indent + body
        else:
            indent = len(line) - len(body)
    return "\n".join(lines)


# ---- comments on their own lines ------------------------------------------------------------
# ruamel hangs a comment written on its own line on the value before it, so moving keys took a key's comment
# away from it (to the key that now came first, or to the next rule). fmt lifts those lines (and blank lines)
# out before the round trip, each run anchored to what it describes, and puts them back there afterwards:
# a run directly before a key (or a list item) goes with it, value and block included; one indented deeper than
# the key after it closes the block it is indented as (it stays at that block's end); the file's first lines
# stay first. A comment inside a flow collection, or before a value written on the line after its key, is left
# to ruamel as before.
@dataclass
class _Run:
    lines: list        # as written: comments and blank lines
    anchor: tuple      # ("start",), ("eof",), ("before", path) or ("end", path)


@dataclass
class _Layout:
    entries: dict      # path of a mapping entry or list item -> (first line, column)
    blocks: dict       # path of a block collection -> (column, last line)
    at_line: dict      # line -> path of the outermost entry starting on it
    first: int         # the first line of the document's content
    inside: set = field(default_factory=set)   # lines of scalars written over several lines, after their first
    flow: set = field(default_factory=set)     # lines inside flow collections written over several lines (_text_lines)


def _loader():
    import yaml
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _text_lines(text: str, lines: list) -> tuple:
    """(lines that are the text of a scalar written over several lines, lines inside a flow collection
    written over several lines): a `#` there is no comment that fmt may move."""
    import yaml
    inside: set = set()
    flow: set = set()
    level, opened = 0, 0
    for token in yaml.scan(text, Loader=_loader()):
        if isinstance(token, (yaml.FlowSequenceStartToken, yaml.FlowMappingStartToken)):
            opened = token.start_mark.line if level == 0 else opened
            level += 1
        elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken)):
            level -= 1
            if level == 0:
                flow.update(range(opened + 1, token.start_mark.line))
        elif isinstance(token, yaml.ScalarToken):
            start = token.start_mark.line
            if token.style in ("|", ">"):
                inside.update(_block_scalar_lines(lines, start, token.start_mark.column))
            elif token.end_mark.line > start:
                inside.update(range(start + 1, token.end_mark.line + 1))
    return inside, flow


def _block_scalar_lines(lines: list, header: int, column: int) -> list:
    """The lines of a block scalar's text after its header: indented at least as its first line, and the blank
    lines between them (trailing blank lines too when the header keeps them, `|+`)."""
    keep = "+" in lines[header][column:].split("#", 1)[0]
    found: list = []
    indent = None
    for i in range(header + 1, len(lines)):
        line = lines[i]
        body = line.lstrip(" ")
        if not body:
            found.append(i)
            continue
        width = len(line) - len(body)
        if indent is None:
            indent = width
        if width < indent or width == 0:
            break
        found.append(i)
    while found and not keep and not lines[found[-1]].strip():
        found.pop()
    return found


def _layout(text: str, lines: list) -> Optional[_Layout]:
    """Where each entry of the document starts and each block collection ends (PyYAML's marks)."""
    import yaml
    try:
        root = yaml.compose(text, Loader=_loader())
        scalars, flow = _text_lines(text, lines)
    except yaml.YAMLError:     # (never met: parse_text read it) ruamel's as before
        return None
    if root is None:
        return None
    layout = _Layout({}, {}, {}, root.start_mark.line, scalars, flow)
    seen: set = set()

    def last_line(node) -> int:
        if isinstance(node, yaml.ScalarNode):
            if node.style in ("|", ">"):
                line = node.start_mark.line
                while line + 1 in scalars:
                    line += 1
                return line
            return node.end_mark.line
        return node.end_mark.line     # a flow collection (a block one is measured by its entries)

    def walk(node, path: tuple, depth: int) -> int:
        """Records `node`'s entries; returns its last line."""
        if id(node) in seen or depth > MAX_DEPTH:     # an alias: its node is recorded where its anchor is
            return node.start_mark.line if id(node) in seen else last_line(node)
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False) or not node.value:
            return last_line(node)
        column = node.start_mark.column
        end = node.start_mark.line
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                entry = path + (key.value if isinstance(key, yaml.ScalarNode) else id(key),)
                layout.entries[entry] = (key.start_mark.line, key.start_mark.column)
                end = max(end, walk(value, entry, depth + 1))
        else:
            for index, item in enumerate(node.value):
                line = item.start_mark.line
                while line > end and lines[line][column:column + 1] != "-":   # (`-` alone on its line)
                    line -= 1
                layout.entries[path + (index,)] = (line, column)
                end = max(end, walk(item, path + (index,), depth + 1))
        layout.blocks[path] = (column, end)
        return end

    walk(root, (), 0)
    for path, (line, _) in sorted(layout.entries.items(), key=lambda e: len(e[0]), reverse=True):
        layout.at_line[line] = path        # the outermost last
    return layout


def _lift_comments(text: str) -> tuple:
    """(the text without the comments and blank lines fmt places itself, the runs it took out, the line each line of
    that text was in `text`)."""
    lines = text.split("\n")
    layout = _layout(text, lines)
    if layout is None:
        return text, [], list(range(len(lines)))
    inside, flow = layout.inside, layout.flow     # (scanned once, by _layout)

    def movable(i: int) -> bool:
        body = lines[i].strip(" \t")
        return i not in inside and i not in flow and (not body or body.startswith("#"))

    runs: list = []
    taken: set = set()
    i = 0
    while i < len(lines) - 1:          # (the text's last "" is the end of its last line)
        if not movable(i):
            i += 1
            continue
        j = i
        while j < len(lines) - 1 and movable(j):
            j += 1
        run = list(range(i, j))         # lines i..j-1; line j is content, or the end
        i = j
        if run[0] < layout.first:
            runs.append(_Run([lines[k] for k in run], ("start",)))
            taken.update(run)
            continue
        nxt = layout.at_line.get(j) if j < len(lines) - 1 else None
        if j < len(lines) - 1 and nxt is None:
            continue      # before a value on its own line, a `---`: ruamel's as before
        column = layout.entries[nxt][1] if nxt is not None else -1
        ended = sorted(((col, -len(p), p) for p, (col, end) in layout.blocks.items() if end == run[0] - 1), reverse=True)
        split = next((n for n, k in enumerate(run) if lines[k].strip() and _indent(lines[k]) <= column), len(run))
        closing, before = run[:split], run[split:]
        blocks: list = []     # each comment at the end of the block it is indented as; a blank line with the one before
        for k in closing:
            if lines[k].strip():
                fits = [(col, p) for col, _, p in ended if col <= _indent(lines[k])]
                # the deepest block it is indented as; of a list and the mapping it is level with, the mapping
                blocks.append(min((p for col, p in fits if col == fits[0][0]), key=len) if fits else None)
            else:
                blocks.append(blocks[-1] if blocks else ...)
        first = next((b for b in blocks if b is not ...), None)
        groups: list = []     # [block, lines]
        for k, block in zip(closing, blocks):
            block = first if block is ... else block
            if groups and groups[-1][0] == block:
                groups[-1][1].append(k)
            else:
                groups.append([block, [k]])
        for block, group in groups:
            if block is None or not any(lines[k].strip() for k in group):
                before = [k for k in run if k in group or k in before]    # (no block: it goes with what follows)
            else:
                runs.append(_Run([lines[k] for k in group], ("end", block)))
        if before:
            runs.append(_Run([lines[k] for k in before], ("before", nxt) if nxt is not None else ("eof",)))
        taken.update(run)
    kept = [k for k in range(len(lines)) if k not in taken]
    return "\n".join(lines[k] for k in kept), runs, kept


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _place_comments(text: str, runs: list) -> str:
    """Put each run back at its anchor in the formatted text, each comment indented as what it is anchored to."""
    if not runs:
        return text
    lines = text.split("\n")
    layout = _layout(text, lines)
    inserts: list = []      # (the line it goes before, order at that line, lines)
    end = len(lines) - 1
    for number, run in enumerate(runs):
        kind, *path = run.anchor
        place = None
        if kind == "start":
            place, order, column = 0, (0, 0), 0
        elif layout is not None and kind == "before" and path[0] in layout.entries:
            line = layout.entries[path[0]][0]
            place, order, column = line, (2, 0), layout.entries[layout.at_line.get(line, path[0])][1]
        elif layout is not None and kind == "end" and path[0] in layout.blocks:
            column, last = layout.blocks[path[0]]
            place, order = last + 1, (1, -len(path[0]))     # an inner block's end before an outer one's
        if place is None:     # ("eof",), or (never met: the data is the same) an anchor no longer there
            place, order, column = end, (3, 0), 0
        inserts.append((place, order, number, [" " * column + line.lstrip(" \t") if line.strip() else "" for line in run.lines]))
    out: list = []
    inserts.sort()
    k = 0
    for index, line in enumerate(lines):
        while k < len(inserts) and inserts[k][0] == index:
            out.extend(inserts[k][3])
            k += 1
        out.append(line)
    return "\n".join(out)


# ---- files -------------------------------------------------------------------------------
def format_text(text: str, display: str = "<text>") -> Result:
    """The canonical form of one file's text. Files that are not regcode policy files are skipped."""
    result = Result(Path(display), display, original=text)
    issues = IssueCollector()
    doc = parse_text(text, display, issues)
    if issues:
        result.issues = tuple(issues.issues)
        return result
    data = doc.data if doc is not None else None
    if not isinstance(data, dict) or data.get("apiVersion") != API_VERSION or data.get("kind") != "Rules":
        result.skipped = "not a rules file (apiVersion regcode/v1, kind Rules)"
        return result
    y = _yaml()
    bare, runs, written_at = _lift_comments(text)
    tree = y.load(bare)
    _keep_anchors(tree)
    unknown: list = []
    _walk(tree, schema_for(KINDS["Rules"]), schema_for(KINDS["Rules"]), _Schemas(), unknown)
    result.notes = tuple(Issue("fmt.unknown_key", f"`{key}` is not a key here, so this mapping is left in the order written",
                               Location(display, line, col), (hint + (" " if hint.endswith("?") else "; ") if hint else "")
                               + "`regcode validate` says which keys are allowed")
                         for key, line, col, hint in ((k, written_at[n - 1] + 1, c, h) for k, n, c, h in unknown))
    out = io.StringIO()
    y.dump(tree, out)
    result.formatted = _place_comments(_align_comments(out.getvalue()), runs)
    again = parse_text(result.formatted, display, IssueCollector())
    if again is None or again.data != data:   # the layout changed what the file says: never write that
        result.issues = (Issue("fmt.changed_meaning", "formatting would change what this file says; it was left as it is",
                               Location(display), "report this with the file: it is a bug in regcode fmt"),)
    return result


def format_file(path: Path, display: Optional[str] = None) -> Result:
    display = display or _display(path)
    from .load import NotAFile, _not_a_file, _read_policy_bytes, not_utf8, read_problem
    try:
        raw = _read_policy_bytes(path, MAX_FILE_BYTES)    # a folder or a FIFO named x.yaml is said, never read (a FIFO blocks)
        if raw is None:
            return Result(path, display, issues=(Issue("load.too_large", f"the file is larger than {MAX_FILE_BYTES >> 20} MiB",
                                                       Location(display), "split it"),))
        text = raw.decode("utf-8-sig")
    except NotAFile as exc:
        return Result(path, display, issues=(_not_a_file(exc.kind, display),))
    except OSError as exc:
        return Result(path, display, issues=(read_problem(path, display, exc),))
    except UnicodeDecodeError as exc:
        return Result(path, display, issues=(not_utf8(raw, exc, display),))
    result = format_text(text, display)
    result.path = path
    return result


def yaml_files(paths: list, issues: IssueCollector) -> Iterator[Path]:
    """The YAML files named or found (recursively, sorted) under `paths`; tool folders are skipped. A link is never
    read or written through (replacing it would turn it into a copy): one leaving the folder given (a file's own folder
    when a file is named) is `load.outside_root`, as validate says it; one inside it stands for the file it points to,
    which is formatted as itself, once."""
    count = 0
    seen: set = set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            root = path.parent
            found = [path]
        elif path.is_dir():
            # a folder named that is itself a link is what its file would be: inside its own folder, it stands for the
            # folder it points to; leading out of it, it is said and nothing is read or written through it
            root = path.parent if path.is_symlink() else path
            if root is not path and escape(root, path) is not None:
                issues.extend([outside_issue(root, path)])
                continue
            found = []
            for folder, dirs, files in os.walk(path):
                for d in sorted(dirs):      # os.walk lists a link to a folder and never enters it: one leading out is said
                    link = Path(folder) / d
                    if (os.path.islink(link) and d not in SKIP_DIRS and not d.startswith(".") and not d.endswith((".yaml", ".yml"))
                            and escape(root, link) is not None):       # (one named x.yaml is said as a file is, below)
                        issues.extend([outside_issue(root, link)])
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                named = files + [d for d in dirs if d.endswith((".yaml", ".yml"))]   # a folder named x.yaml is said, not passed over
                found.extend(Path(folder) / f for f in sorted(named) if f.endswith((".yaml", ".yml")))
        else:
            issues.add("fmt.path", f"`{raw}` is neither a file nor a folder", Location(str(raw)), "check the path")
            continue
        for p in found:
            count += 1
            if count > MAX_FILES * 10:
                issues.add("fmt.too_many_files", f"more than {MAX_FILES * 10} YAML files", Location(str(raw)), "name fewer folders")
                return
            part = escape(root, p)
            if part is not None:
                issues.extend([outside_issue(root, part)])
                continue
            parts = p.relative_to(root).parts
            linked = any(os.path.islink(root.joinpath(*parts[:i + 1])) for i in range(len(parts)))
            real = os.path.realpath(p)
            if real in seen:        # (the file itself, met again through a link inside the folder)
                continue
            seen.add(real)
            yield Path(real) if linked else p


def write(result: Result) -> None:
    """Replace the file atomically: a crash never leaves half a policy file."""
    if result.path.is_symlink():     # (yaml_files never yields one) replacing a link would make it a copy
        raise ValueError(f"{result.path} is a link: regcode fmt writes files, never through links")
    tmp = result.path.with_name(f".{result.path.name}.regcode-fmt")
    tmp.write_text(result.formatted, encoding="utf-8")
    os.replace(tmp, result.path)
