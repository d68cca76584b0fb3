"""Stage 3, compile: an ordered table of passes from validated files to the intermediate form (engine/_ir.py)."""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Optional

from typing import TYPE_CHECKING

from . import _ir as ir
from . import _text
from ._shapes import Shape, example_text_field, from_fields, from_schema
from .errors import CompileError, Issue, IssueCollector, Location, SchemaError, did_you_mean, nearest, not_declared, read_by, undeclared
from .load import Document, dump_json, json_type, not_at, places

if TYPE_CHECKING:   # a compiled policy read back from the cache needs neither the validator nor the parser
    from .validate import ValidatedVersion

MAX_STRATA = 64          # bound on decision-reading depth; deeper means a cycle (or a policy to split)
MAX_EXTENDS = 32         # bound on the length of an `extends` chain
COMBINE_FOR = {
    "bool": {"any", "all", "unique"}, "number": {"min", "max", "sum", "unique"}, "date": {"min", "max", "unique"},
    "string": {"unique"}, "enum": {"min", "max", "unique"}, "list": {"union"},
}


@dataclass
class Item:
    """One declaration with the document it came from (for locations) and its JSON path there."""

    doc: Document
    path: tuple
    data: Any

    def location(self, *more) -> Location:
        return self.doc.location(self.path + tuple(more))


@dataclass
class ArticleEntries:
    """The article index after inheritance: a version's entries replace the inherited ones of the same article (as
    its text's articles do), new ones go where their number puts them, `remove:` drops inherited ones. Each entry is
    located where it was written (`location(i, ...)`); `location()` is the latest index file."""

    doc: Document
    data: list = field(default_factory=list)
    places: list = field(default_factory=list)   # (Document, JSON path) of each entry of `data`

    def location(self, *more) -> Location:
        if not more:
            return self.doc.location(("articles",))
        doc, path = self.places[more[0]]
        return doc.location(path + tuple(more[1:]))


@dataclass
class Resolved:
    """A version after inheritance: every declaration, each with where it was written."""

    manifest: Item = None
    facts_schema: Optional[dict] = None
    facts_schema_item: Optional[Item] = None
    derived: dict = field(default_factory=dict)
    decisions: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    articles: Optional[ArticleEntries] = None
    chain: tuple = ()            # versions from this one back to the root of `extends`
    rejected_articles: set = field(default_factory=set)   # articles of rules set aside by validation
    identity: Optional[Item] = None   # the manifest's `identity:` (inherited unless a version restates it)
    event_dates: dict = field(default_factory=dict)   # list path -> Item of its event date field (FactsSchema `event_dates:`)
    references: dict = field(default_factory=dict)    # `list.field` -> Item of the `list.field` it names (FactsSchema `references:`)
    texts: list = field(default_factory=list)   # (version ref, ArticleText document), root of `extends` first
    checked_only: list = field(default_factory=list)   # rules set aside, their faults read past: the rest is still checked
    removed: dict = field(default_factory=dict)   # (what, name) -> Location of the `remove:` that dropped it


@dataclass
class CompiledPolicy:
    """The intermediate form of one policy version: what backends and the CLI consume."""

    id: str
    version: str
    title: str
    manifest: dict
    effective_from: str
    effective_to: Optional[str]
    facts_schema: dict
    facts_shape: Shape
    derived: dict                     # name -> Shape
    decisions: dict                   # name -> DecisionDecl (sorted by name)
    parameters: dict                  # name -> ParameterDecl
    rules: list                       # Rule, sorted by id
    strata: list                      # list of lists of Rule
    articles: list                    # ArticleIndex entries (may be empty)
    content_hash: str
    identity: tuple                   # fact paths (tuples of keys) copied into every output
    event_dates: dict                 # list path (tuple of keys) -> the date field after which its records have not happened
    resolved: dict                    # the resolved version as plain data (for `show` and `diff`)
    directory: str = ""
    chain: tuple = ()
    text: Optional[dict] = None       # the law's text after inheritance (engine/_text.py), None without an ArticleText
    removed: dict = field(default_factory=dict)   # (what, name) -> Location of the `remove:` that dropped it
    # FactsSchema `references:`, each (list keys, field, list keys, field): an item whose field names no item of the
    # other list by its field is noted in the output (evaluate.reference_notes)
    references: tuple = ()
    backends: dict = field(default_factory=dict, repr=False)  # built lazily by evaluate

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def in_force(self, as_of: str) -> bool:
        return self.effective_from <= as_of and (self.effective_to is None or as_of <= self.effective_to)

    def window(self) -> str:
        return f"{self.effective_from} .. {self.effective_to or 'open'}"


class Compilation:
    """State shared by the passes."""

    def __init__(self, version: ValidatedVersion, base_loader: Optional[Callable]):
        self.version = version
        self.base_loader = base_loader
        self.issues = IssueCollector()
        self.resolved = Resolved()
        self.facts_shape: Shape = Shape("any")
        self.derived_shapes: dict = {}
        self.decisions: dict = {}
        self.parameters: dict = {}
        self.rules: list = []
        self.strata: list = []
        self.identity: tuple = ()
        self.event_dates: dict = {}
        self.references: tuple = ()
        self.text: Optional[dict] = None
        self.declared = False      # the declarations pass found nothing wrong
        # declarations set aside, validation's and those the declarations pass sets aside for a mistake of their own
        # (said where it is written): their names stand, so that what uses them is checked without a `not declared` echo
        self.set_aside: dict = dict(version.set_aside)
        self.local_issues = 0      # problems of the declarations pass that concern one decision only: the rest is checked


# ---- pass 1: inheritance -----------------------------------------------------------------
def _remove(resolved: Resolved, issues: IssueCollector, inherited: bool, doc, i: int, attr: str, what: str,
            name, declared: set, seen: dict, inherited_names: set) -> None:
    """One entry of a `remove:` list: drop the inherited declaration, or say why it cannot be. `seen`: this
    version's entries so far; `declared`: the names this version declares; `inherited_names`: the base's."""
    where = doc.location(("remove", i))
    table = getattr(resolved, attr)
    if (what, name) in seen:
        issues.add("compile.remove", f"{what} `{name}` is listed twice in `remove:` (first at {seen[what, name]})",
                   where, "list it once")
        return
    seen[what, name] = where
    if not inherited:
        issues.add("compile.remove", "`remove:` only applies in a version that `extends` another",
                   where, f"delete the {what}'s declaration instead")
    elif name not in inherited_names:
        issues.add("compile.remove", f"cannot remove {what} `{name}`: the base version has no such {what}"
                   + (" (it is declared in this version)" if name in declared else ""), where,
                   "`remove:` drops inherited names: delete the declaration instead" if name in declared
                   else did_you_mean(name, inherited_names))
    elif name in declared:
        issues.add("compile.remove", f"{what} `{name}` is both removed and redeclared in this version",
                   where, f"keep one: the redeclaration (it replaces the inherited {what}), or the removal")
    else:
        del table[name]
        resolved.removed[what, name] = where


def _id_problem(item: Item, first: Optional[Item], said: str, inherited: bool, known) -> Optional[tuple]:
    """What is wrong with a rule's id in its version, as the arguments of `issues.add`, or None: used twice
    (`first` is the other rule, named as "first at" or "also at" as `said` has it), `override` with no
    inherited rule of that id (`known`: the ids it could replace), or an inherited id without `override`."""
    rid = item.data["id"]
    if first is not None:
        return ("compile.duplicate_id", f"rule id `{rid}` is used twice ({said} at {first.location()})",
                item.location("id"), "rule ids are unique within a version; rename one")
    if item.data.get("override"):
        if not inherited or rid not in known:
            return ("compile.override", f"rule `{rid}` says `override: true` but no inherited rule has that id",
                    item.location("override"), did_you_mean(rid, known) or "drop `override` to add a new rule")
    elif inherited and rid in known:
        return ("compile.duplicate_id", f"rule `{rid}` is inherited; say `override: true` to replace it",
                item.location("id"), "or give the new rule another id")
    return None


def _collect(version: ValidatedVersion, resolved: Resolved, issues: IssueCollector, inherited: bool, top: bool = True) -> None:
    """Overlay one version's declarations on `resolved` (the base's, when extending)."""
    resolved.manifest = Item(version.manifest, (), version.manifest.data)
    if "identity" in version.manifest.data:
        resolved.identity = Item(version.manifest, ("identity",), version.manifest.data["identity"])
    for doc in version.of_kind("FactsSchema"):
        if "schema" in doc.data:
            if inherited:
                issues.add("compile.override", "an extending version adds to the facts schema with `extend:`, it does not replace it",
                           doc.location(("schema",)), "write `extend: {\"\": {new_field: {...}}}`")
                continue
            resolved.facts_schema = copy.deepcopy(doc.data["schema"])
            resolved.facts_schema_item = Item(doc, ("schema",), doc.data["schema"])
        for target, props in sorted((doc.data.get("extend") or {}).items()):
            _extend_schema(resolved, doc, target, props, issues)
        for list_path, field_name in sorted((doc.data.get("event_dates") or {}).items()):
            resolved.event_dates[list_path] = Item(doc, ("event_dates", list_path), field_name)
        for source, target in sorted((doc.data.get("references") or {}).items()):
            resolved.references[source] = Item(doc, ("references", source), target)
    base_names = {attr: set(getattr(resolved, attr)) for attr in ("derived", "decisions", "parameters", "rules")}   # the base's
    for kind, attr, key in (("DerivedFacts", "derived", "facts"), ("Decisions", "decisions", "decisions"),
                            ("Parameters", "parameters", "parameters")):
        table = getattr(resolved, attr)
        seen_here: dict = {}
        for doc in version.of_kind(kind):
            for name, data in doc.data.get(key, {}).items():
                item = Item(doc, (key, name), data)
                if name in seen_here:
                    issues.add("compile.duplicate", f"{attr[:-1] if attr != 'derived' else 'derived fact'} `{name}` is declared twice "
                               f"(also at {seen_here[name].location()})", item.location(), "keep one declaration")
                    continue
                seen_here[name] = item
                if name in table and inherited and kind == "Decisions" and not data.get("override"):
                    issues.add("compile.override", f"decision `{name}` is inherited; say `override: true` to redeclare it",
                               item.location(), "or choose a new name")
                    continue
                if name in table and inherited and kind == "Parameters" and data.get("values"):
                    item = Item(doc, (key, name), continue_timeline(table[name].data, data))
                table[name] = item
    seen_removed: dict = {}
    for kind, attr, key, what in (("DerivedFacts", "derived", "facts", "derived fact"),
                                  ("Decisions", "decisions", "decisions", "decision"),
                                  ("Parameters", "parameters", "parameters", "parameter"), ("Rules", "rules", "rules", "rule")):
        declared = {(entry.get("id") if kind == "Rules" else entry) for d in version.of_kind(kind)
                    for entry in (d.data.get(key) or ()) if kind != "Rules" or isinstance(entry, dict)
                    and isinstance(entry.get("id"), str)}    # (an id of another shape is a schema problem of its rule)
        for doc in version.of_kind(kind):
            for i, name in enumerate(doc.data.get("remove", []) or []):
                _remove(resolved, issues, inherited, doc, i, attr, what, name, declared, seen_removed, base_names[attr])
    seen_rules: dict = {}
    aside: list = []    # rules set aside, read for checking (validate.strays): their ids are checked too, after the rest
    for doc in version.of_kind("Rules"):
        for i, data in enumerate(doc.data.get("rules", []) or []):
            if (doc.file, i) in version.rejected:   # its schema issues are already reported
                # (a schema problem may be the article's own shape: `[第四十七条]` still names the article meant)
                article = data.get("article") if isinstance(data, dict) else None
                resolved.rejected_articles.update(a for a in (article if isinstance(article, (list, dict)) else [article])
                                                  if isinstance(a, str))
                reading = version.strays.get((doc.file, i))
                if reading is not None and top:   # only unknown keys: check what it says besides
                    aside.append(Item(doc, ("rules", i), reading))
                    resolved.checked_only.append(aside[-1])
                continue
            item = Item(doc, ("rules", i), data)
            rid = data["id"]
            problem = _id_problem(item, seen_rules.get(rid), "first", inherited, resolved.rules)
            seen_rules.setdefault(rid, item)
            if problem is not None:
                issues.add(*problem)
                resolved.checked_only.append(item)    # the rest of it is still checked: every mistake at once
                continue
            resolved.rules[rid] = item
    seen_aside: dict = {}
    for item in aside:      # never a rule of the version, so it takes no id from one: said at the rule set aside
        rid = item.data.get("id")
        if rid is None:     # an id that is not one (its problem is said): no other rule's to check it against
            continue
        problem = _id_problem(item, seen_rules.get(rid) or seen_aside.get(rid), "also", inherited, base_names["rules"])
        seen_aside.setdefault(rid, item)
        if problem is not None:
            issues.add(*problem)
        elif item.data.get("override") and rid in resolved.rules:   # (an inherited one: this version's is `first`)
            # The version fails anyway (the override's schema problem), so the inherited rule it replaces is not
            # checked in its stead: it would say what the drafter already mended (a decision it removes).
            del resolved.rules[rid]
    indexes = version.of_kind("ArticleIndex")
    if len(indexes) > 1:
        issues.add("compile.duplicate", "more than one ArticleIndex", indexes[1].location(), "keep one")
    if indexes:
        _merge_index(resolved, indexes[0], issues, inherited)
    texts = version.of_kind("ArticleText")
    if len(texts) > 1:
        issues.add("compile.duplicate", "more than one ArticleText", texts[1].location(), "keep the text of a version in one file")
    if texts:
        resolved.texts.append((f"{version.source.policy_id}@{version.source.version}", texts[0]))


def _merge_index(resolved: Resolved, doc: Document, issues: IssueCollector, inherited: bool) -> None:
    """Overlay one version's ArticleIndex on the inherited entries, by article (see ArticleEntries)."""
    base = resolved.articles
    data, places = (list(base.data), list(base.places)) if base is not None else ([], [])
    listed = {e.get("article") for e in doc.data.get("articles") or () if isinstance(e, dict)}
    seen_removed: dict = {}
    for i, name in enumerate(doc.data.get("remove") or []):
        where = doc.location(("remove", i))
        at = next((k for k, e in enumerate(data) if e["article"] == name), None)
        if name in seen_removed:
            issues.add("compile.remove", f"{name} is listed twice in `remove:` (first at {seen_removed[name]})", where, "list it once")
        elif not inherited:
            issues.add("compile.remove", "`remove:` only applies in a version that `extends` another", where,
                       "delete the article's entry instead")
        elif at is None:
            issues.add("compile.remove", f"cannot remove {name}: the inherited article index does not list it", where,
                       did_you_mean(name, [e["article"] for e in data]))
        elif name in listed:
            issues.add("compile.remove", f"{name} is both removed and listed in this version's article index", where,
                       "keep one: the entry (it replaces the inherited one), or the removal")
        else:
            del data[at], places[at]
        seen_removed.setdefault(name, where)
    seen: dict = {}
    for i, entry in enumerate(doc.data.get("articles") or []):
        if entry is None:       # set aside for its own mistake, naming no article (validate._without)
            continue
        name = entry["article"]
        if name in seen:
            issues.add("compile.duplicate", f"{name} is listed twice in the article index",
                       doc.location(("articles", i, "article")), "keep one entry")
            continue
        seen[name] = i
        at, replaces = _text.article_slot(data, name)
        if replaces:
            data[at], places[at] = entry, (doc, ("articles", i))
        else:
            data.insert(at, entry)
            places.insert(at, (doc, ("articles", i)))
    resolved.articles = ArticleEntries(doc, data, places)


def continue_timeline(base: dict, new: dict) -> dict:
    """A dated parameter in an extending version continues the base's timeline (as OpenFisca's
    parameter updates do): before its first date the base's value holds, from it on its own.
    `value` is then what holds before the first date in `values`."""
    first = min(new["values"])
    merged = dict(new)
    earlier = {day: v for day, v in (base.get("values") or {}).items() if day < first}
    merged["values"] = dict(sorted({**earlier, **new["values"]}.items()))
    if "value" in base:
        merged["value"] = base["value"]
    return merged


def _extend_schema(resolved: Resolved, doc: Document, target: str, props: dict, issues: IssueCollector) -> None:
    node = resolved.facts_schema
    where = doc.location(("extend", target))
    if node is None:
        issues.add("compile.extend", "nothing to extend: the base has no facts schema", where, "")
        return
    for part in [p for p in target.split(".") if p]:
        is_items = part.endswith("[]")
        name = part[:-2] if is_items else part
        node = (node.get("properties") or {}).get(name)
        if node is None:
            issues.add("compile.extend", f"`{target}`: no field `{name}` in the facts schema", where, "")
            return
        if is_items:
            node = node.get("items")
            if not isinstance(node, dict):
                issues.add("compile.extend", f"`{target}`: `{name}` is not a list", where, "")
                return
    node.setdefault("properties", {}).update(copy.deepcopy(props))


def pass_inherit(c: Compilation) -> None:
    """First: every later pass works on the resolved declarations, whichever version wrote them."""
    chain = []
    versions = [c.version]
    seen = {f"{c.version.source.policy_id}@{c.version.source.version}"}
    current = c.version
    for _ in range(MAX_EXTENDS):  # bounded walk up the `extends` chain
        base_name = current.manifest.data.get("extends")
        if not base_name:
            break
        where = current.manifest.location(("extends",))
        if c.base_loader is None:
            c.issues.add("compile.extends", f"cannot resolve `extends: {base_name}` here", where, "")
            return
        try:
            base = c.base_loader(current, base_name)
        except LookupError as exc:
            c.issues.add("compile.extends", f"`extends: {base_name}`: {exc}", where,
                         getattr(exc, "hint", "") or "name a version that exists (`regcode policies` lists them)")
            return
        key = f"{base.source.policy_id}@{base.source.version}"
        if key in seen:
            c.issues.add("compile.extends_cycle", f"`extends` goes round in a circle: {' -> '.join(v.source.version for v in versions)} -> {base_name}",
                         where, "one of these versions must not extend another")
            return
        seen.add(key)
        versions.append(base)
        current = base
    for i, version in enumerate(reversed(versions)):
        _collect(version, c.resolved, c.issues, inherited=i > 0, top=i == len(versions) - 1)
        chain.append(f"{version.source.policy_id}@{version.source.version}")
    c.resolved.chain = tuple(reversed(chain))


# ---- pass 2: declarations ----------------------------------------------------------------
def pass_declarations(c: Compilation) -> None:
    """Before rules: rules are checked against the facts, parameters and decisions declared here."""
    r = c.resolved
    if r.facts_schema is None:
        c.issues.add("compile.facts_schema", "no facts schema", r.manifest.location(), "add facts.schema.yaml")
        return
    c.facts_shape = from_schema(r.facts_schema)
    c.facts_shape.props.setdefault("as_of", Shape("date"))
    for name, item in sorted(r.derived.items()):
        c.derived_shapes[name] = from_fields(item.data["fields"])
    c.identity = _identity(r.identity, c.facts_shape, c.issues)
    c.event_dates = _event_dates(r.event_dates, c.facts_shape, c.issues)
    c.references = _references(r.references, c.facts_shape, c.issues)
    for name, item in sorted(r.parameters.items()):
        data = item.data
        values = data.get("values")
        c.parameters[name] = ir.ParameterDecl(name=name, value=data.get("value"),
                                              values=dict(sorted(values.items())) if values else None,
                                              title=data.get("title", ""), article=data.get("article", ""),
                                              unit=data.get("unit", ""), location=item.location(),
                                              values_location=item.location("values") if values else None)
    for name, item in sorted(r.decisions.items()):
        d = item.data
        typ, combine = d["type"], d["combine"]
        value_type = d.get("value", {}).get("type") if typ == "map" else None
        values = d.get("values") if typ != "map" else d.get("value", {}).get("values")
        effective = value_type if typ == "map" else typ
        # each mistake here is the one decision's: it is said, the decision set aside (or kept without its default),
        # and the rest of the version is still checked (one wrong default hid every other problem)
        if effective in ("enum",) and not values:
            c.issues.add("compile.decision", f"decision `{name}`: an enum lists its `values` in order", item.location(), "add values: [...]")
            _set_aside(c, name, item)
            continue
        if typ == "map" and "value" not in d:
            c.issues.add("compile.decision", f"decision `{name}`: a map declares the type of its values", item.location(),
                         "add value: {type: enum, values: [...]}")
            _set_aside(c, name, item)
            continue
        if combine not in COMBINE_FOR.get(effective, set()):
            c.issues.add("compile.combine", f"decision `{name}`: `{combine}` cannot combine {effective} claims; use one of "
                         + ", ".join(sorted(COMBINE_FOR[effective])), item.location("combine"), "")
            _set_aside(c, name, item)
            continue
        default = d.get("default", {} if typ == "map" else [] if typ == "list" else None)
        if default is not None and _default_problem(c, name, typ, value_type, values, default, item):
            c.local_issues += 1
            default = None      # (for checking only: the version fails)
        c.decisions[name] = ir.DecisionDecl(name=name, type=typ, combine=combine, default=default,
                                            title=d.get("title", ""), values=values, value_type=value_type,
                                            article=d.get("article", ""), location=item.location(),
                                            labels=_labels(c, name, effective, values, item))
    _requirements(c)


def _labels(c: Compilation, name: str, typ: str, values: Optional[list], item: Item) -> Optional[dict]:
    """A decision's `labels:` (value -> how a reader names it), each a value it declares: for enum and list
    decisions, and a map's values. A mistake is said at the label and the label left out; nothing else hangs on it."""
    labels = item.data.get("labels")
    if not labels:
        return None
    if typ not in ("enum", "list") or not values:
        c.issues.add("compile.decision", f"decision `{name}`: labels name the values an enum or list decision declares "
                     f"(or a map's values); a {typ} decision declares none", item.location("labels"),
                     "leave `labels:` out, or declare `values:`")
        return None
    declared = {str(v): v for v in values}
    kept = {}
    for key, text in labels.items():
        if str(key) not in declared:
            c.issues.add("compile.decision", f"decision `{name}`: `{key}` is labelled but is not one of its values",
                         item.location("labels", key), did_you_mean(str(key), declared) or "label a value of `values:`")
            continue
        kept[str(key)] = text
    return kept or None


def _set_aside(c: Compilation, name: str, item: Item) -> None:
    c.set_aside[("decision", name)] = item.location()
    c.local_issues += 1


def _default_problem(c: Compilation, name: str, typ: str, value_type: Optional[str], values: Optional[list], default: Any,
                     item: Item) -> bool:
    """Say what is wrong with a decision's default, if anything: a value it cannot take is named, a date that is
    not one is said in the calendar's terms (as a parameter's is)."""
    where = item.location("default")
    if typ == "enum" and default not in values:
        c.issues.add("compile.decision", f"decision `{name}`: default {default!r} is not one of its values", where,
                     did_you_mean(str(default), map(str, values)))
        return True
    if value_fits(typ, value_type, values, default):
        return False
    if typ == "date" and isinstance(default, str):
        from ._dates import date_hint, date_problem
        c.issues.add("compile.type", f"decision `{name}`: default {default!r} is not a date: {date_problem(default)}", where,
                     date_hint(default))
        return True
    if typ == "list" and isinstance(default, list) and all(isinstance(v, str) for v in default):
        wrong = [v for v in default if not member_fits("list", values, v)]
        c.issues.add("compile.decision", f"decision `{name}`: default {default!r} has {', '.join(map(repr, wrong))}, not one of "
                     f"its values {', '.join(map(str, values))}", where,
                     did_you_mean(wrong[0], map(str, values)) or f"write a list of its values, e.g. [{values[0]}], or []")
        return True
    c.issues.add("compile.type", f"decision `{name}`: default {default!r} is {json_type(default)}; it takes "
                 f"{takes(typ, value_type, values)}", where, "write a default of the decision's type, or none (null)")
    return True


def value_fits(typ: str, value_type: Optional[str], values: Optional[list], value: Any) -> bool:
    """Whether `value` as a whole is one a decision of this type takes: a map's a mapping of such values (an entry
    may be null), a list's a list of codes (a decision's default; a test's expected value)."""
    if typ == "map":
        return isinstance(value, dict) and all(v is None or member_fits(value_type, values, v) for v in value.values())
    if typ == "list":
        return isinstance(value, list) and all(member_fits("list", values, v) for v in value)
    return member_fits(typ, values, value)


def takes(typ: str, value_type: Optional[str], values: Optional[list], entry: bool = False) -> str:
    """What a decision takes, for a message: its value as a whole (a default, a test's expected value: "a mapping of
    values ok, suspended", "a list of codes (text)", "one of aa, a, b, c", "a bool"), or with `entry` one claim of it
    (a map's entry, a list's code: "one of ok, suspended", "a number")."""
    if not entry and typ == "map":
        return f"a mapping of {'values ' + ', '.join(map(str, values)) if values else f'{value_type} values'}"
    if not entry and typ == "list":
        return f"a list of {'codes ' + ', '.join(map(str, values)) if values else 'codes (text)'}"
    return f"one of {', '.join(map(str, values))}" if values else f"a {value_type if typ == 'map' else typ}"


def _requirements(c: Compilation) -> None:
    """`required_when` (read by `regcode check`) names declared decisions and values they can take."""
    for name, item in sorted(c.resolved.decisions.items()):
        for dep, wanted in sorted((item.data.get("required_when") or {}).items()):
            decl = c.decisions.get(dep)
            if decl is None and ("decision", dep) in c.set_aside:
                continue    # set aside for its own mistake (said where it is written): its name stands, its values are unknown
            if decl is None:
                gone = c.resolved.removed.get(("decision", dep))
                c.issues.add("compile.unknown_decision", f"decision `{name}`: `required_when` names `{dep}`, which is not a decision"
                             + (f": this version removes it ({gone})" if gone else ""), item.location("required_when", dep),
                             "drop it from `required_when` (redeclare the decision with `override: true`)" if gone
                             else did_you_mean(dep, c.decisions) or "name a declared decision")
                continue
            for value in wanted if isinstance(wanted, list) else [wanted]:
                ok = (value in (decl.values or []) if decl.type == "enum" else isinstance(value, bool) if decl.type == "bool"
                      else not isinstance(value, (list, dict)))
                if not ok:
                    allowed = ", ".join(map(str, decl.values)) if decl.type == "enum" else "true or false" if decl.type == "bool" else "a value"
                    c.issues.add("compile.value", f"decision `{name}`: `required_when` expects `{dep}` = {value!r}, which `{dep}` "
                                 f"never takes; it takes {allowed}", item.location("required_when", dep),
                                 did_you_mean(str(value), map(str, decl.values or [])))


OUTPUT_KEYS = ("policy", "as_of", "decisions", "rules_fired", "source", "why", "derived", "decision_id", "errors", "notes")


def _identity(item: Optional[Item], shape: Shape, issues: IssueCollector) -> tuple:
    """The identity paths, each checked against the facts schema; none may shadow a key of the output."""
    if item is None:
        return ()
    out = []
    for i, text in enumerate(item.data):
        keys = tuple(text.split("."))
        if keys[0] in OUTPUT_KEYS:
            issues.add("compile.identity", f"identity path `{text}` would overwrite the output's `{keys[0]}`",
                       item.location(i), f"name a field of the case file such as {example_text_field(shape)}")
            continue
        node = shape
        for k in keys:
            node = node.child(k) if node is not None else None
        if node is None or node.kind in ("object", "array"):
            issues.add("compile.identity", f"identity path `{text}` is not a scalar field of the case file",
                       item.location(i), did_you_mean(keys[-1], shape.props) or f"name a text field, e.g. {example_text_field(shape)}")
            continue
        out.append(keys)
    return tuple(out)


def _event_dates(items: dict, shape: Shape, issues: IssueCollector) -> dict:
    """`event_dates: {spot_checks: date}`: each a list of the case file whose items have that date field."""
    out = {}
    for list_path, item in sorted(items.items()):
        node = shape
        keys = tuple(k for k in list_path.split(".") if k)
        for k in keys:
            node = node.child(k) if node is not None else None
        if node is None or node.kind != "array":
            issues.add("compile.event_date", f"`{list_path}` is not a list of the case file", item.location(),
                       did_you_mean(keys[-1] if keys else list_path, shape.props) or "name a list field, e.g. spot_checks")
            continue
        field_shape = (node.items or Shape("any")).child(item.data)
        if field_shape is None or field_shape.kind not in ("date", "any"):
            found = "no such field" if field_shape is None else f"a {field_shape.kind}"
            issues.add("compile.event_date", f"the items of `{list_path}` have no date field `{item.data}` ({found})",
                       item.location(), did_you_mean(item.data, (node.items or Shape()).props) or "name a date field of the items")
            continue
        out[keys] = item.data
    return out


_NAMING = {"string": "text", "date": "text", "number": "number", "integer": "number", "boolean": "boolean"}


def _list_field(path: str, shape: Shape, what: str, item: Item, issues: IssueCollector) -> Optional[tuple]:
    """`checks.site`: (list keys, field, its kind) of a scalar field of the items of a list of the case file, or
    None with the problem said at `item` (`what`: which side of the reference, for the message)."""
    keys = tuple(k for k in path.split(".") if k)
    if len(keys) < 2:
        issues.add("compile.reference", f"{what} `{path}` names no field of a list's items", item.location(),
                   "write LIST.FIELD: LIST.FIELD, e.g. `checks.site: sites.name`")
        return None
    node = shape
    for k in keys[:-1]:
        node = node.child(k) if node is not None else None
    if node is None or node.kind != "array":
        last = keys[-2]
        issues.add("compile.reference", f"{what} `{path}`: `{'.'.join(keys[:-1])}` is not a list of the case file", item.location(),
                   did_you_mean(last, shape.props) or "name a list of the case file and a field of its items")
        return None
    items = node.items or Shape("any")
    field_shape = items.child(keys[-1])
    if field_shape is None or field_shape.kind not in ("string", "date", "number", "integer", "boolean", "any"):
        found = "no such field" if field_shape is None else f"a {field_shape.kind}, not a value that names"
        issues.add("compile.reference", f"{what} `{path}`: the items of `{'.'.join(keys[:-1])}` have no field `{keys[-1]}` ({found})",
                   item.location(), did_you_mean(keys[-1], items.props) or "name a scalar field of the items")
        return None
    return keys[:-1], keys[-1], field_shape.kind


def _references(items: dict, shape: Shape, issues: IssueCollector) -> tuple:
    """`references: {checks.site: sites.name}`: an item of the first list names, by that field, an item of the
    second by its field; one that names none is noted when a case is evaluated. The two fields must be of a kind
    that can be equal (text and a date are both text)."""
    out = []
    for source, item in sorted(items.items()):
        first = _list_field(source, shape, "the reference", item, issues)
        if not isinstance(item.data, str):
            issues.add("compile.reference", f"`{source}` refers to {type(item.data).__name__} {item.data!r}, not a LIST.FIELD",
                       item.location(), "write LIST.FIELD, e.g. `sites.name`")
            continue
        second = _list_field(item.data, shape, "the referred field", item, issues)
        if first is None or second is None:
            continue
        a, b = _NAMING.get(first[2]), _NAMING.get(second[2])
        if a and b and a != b:       # (a field of any type may name anything)
            issues.add("compile.reference", f"`{source}` is {first[2]} and `{item.data}` is {second[2]}: no value of one is "
                       f"a value of the other, so every record would be noted", item.location(),
                       "name a field of the same kind on both sides")
            continue
        out.append((*first[:2], *second[:2]))
    return tuple(out)


# ---- pass 3: rules -----------------------------------------------------------------------
def fact_lists(shape: Shape, prefix: tuple = (), depth: int = 0) -> list:
    """The dotted paths of the case file's lists (not inside a list), for a did-you-mean."""
    out = []
    for key, child in sorted(shape.props.items()):
        path = prefix + (key,)
        if child.kind == "array":
            out.append(".".join(path))
        elif child.kind == "object" and depth < 16:
            out.extend(fact_lists(child, path, depth + 1))
    return out


def member_fits(typ: str, values: Optional[list], v: Any) -> bool:
    """Whether one member (of a list decision: one code) can be a value of a decision of type `typ`."""
    if typ == "list":
        return isinstance(v, str) and (not values or v in values)
    if typ == "enum":
        return v in (values or [])
    if typ == "bool":
        return isinstance(v, bool)
    if typ == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if typ == "date":
        from ._dates import is_date
        return is_date(v)
    return isinstance(v, str)


def _check_literal(decl: ir.DecisionDecl, expr: ir.Expr, item: Item, path: tuple, c: Compilation) -> None:
    if not isinstance(expr, ir.Lit):
        return
    typ = decl.value_type if decl.type == "map" else decl.type
    value = expr.value
    members = value if typ == "list" and isinstance(value, list) else [value]
    for v in members:
        if not member_fits(typ, decl.values, v):
            allowed = _takes(decl)
            if typ == "date" and isinstance(v, str):
                from ._dates import date_problem
                allowed += f" ({date_problem(v)})"    # 2019-02-30: February 2019 has 28 days
            c.issues.add("compile.value", f"`{decl.name}` cannot take {v!r}: it takes {allowed}", item.location(*path),
                         did_you_mean(str(v), map(str, decl.values or [])))


def _takes(decl: ir.DecisionDecl) -> str:
    """What one claim of a decision may be (takes, of an entry)."""
    return takes(decl.type, decl.value_type, decl.values, entry=True)


def _check_type(decl: ir.DecisionDecl, parsed: tuple, item: Item, path: tuple, c: Compilation, said: set) -> None:
    """A conclusion's value that is no literal (those are _check_literal's) but whose type is known, from the facts
    schema, a derived fact's fields, a decision's type or a parameter's values, must be one its decision takes: a
    wrong one would be claimed as it is, and fail what reads it (a plan's share, a date's order). A type not known
    statically (a field of any value, an expression's) is left to the evaluation."""
    from . import _operators as ops
    expr, shape = parsed
    typ = decl.value_type if decl.type == "map" else decl.type
    if isinstance(expr, ir.Lit):
        return
    if isinstance(expr, ir.Param):
        _check_param(decl, typ, expr.name, item, path, c, said)
        return
    family = ops._family(expr, shape)
    fits = {"bool": ("boolean",), "number": ("number",), "date": ("text",), "string": ("text",), "list": ("text", "list"),
            "enum": tuple({ops.FAMILY.get(ops._literal_kind(v)) for v in decl.values or []})}.get(typ)
    if family is None or fits is None:
        return
    # (a date is text to the comparisons; a decision of dates takes a field the facts schema says holds one)
    if family in fits and not (typ == "date" and shape is not None and shape.kind == "string"):
        return
    given = ops._word(expr, shape, family) + (", not a date" if typ == "date" and family == "text" else "")
    c.issues.add("compile.type", f"`{decl.name}` takes {_takes(decl)}, but {ops._side(expr)} is {given}", item.location(*path),
                 "name a fact, parameter or decision of that type, or write the value")


def _check_param(decl: ir.DecisionDecl, typ: str, name: str, item: Item, path: tuple, c: Compilation, said: set) -> None:
    """A parameter claimed as a decision's value: each value of its timeline must be one the decision takes. A value
    written as text where a number, a bool or a date goes (`"20%"`), or one unlike the rest of its timeline, is the
    parameter's mistake, said at the value; a parameter wholly of another type is the conclusion's (the wrong one)."""
    from . import _operators as ops
    source = c.resolved.parameters.get(name)
    if source is None:
        return
    data = source.data
    own = ((source.doc.data.get("parameters") or {}).get(name) or {}) if isinstance(source.doc.data, dict) else {}
    timeline = ([(("value",), "", data["value"])] if "value" in data else []) + \
        [(("values", day), f" from {day}", v) for day, v in sorted((data.get("values") or {}).items())]
    fits = [all(member_fits(typ, decl.values, m) for m in (v if typ == "list" and isinstance(v, list) else [v]))
            for _, _, v in timeline]
    if all(fits):
        return
    kinds = {ops._literal_kind(v) for _, _, v in timeline}
    for (where, since, value), ok in zip(timeline, fits):
        if ok:
            continue
        if isinstance(value, str) or len(kinds) > 1:
            written = where[0] in own and (len(where) == 1 or where[1] in (own.get("values") or {}))
            if (name, where) in said:
                continue
            said.add((name, where))
            c.issues.add("compile.type", f"parameter `{name}` is {ops.show(value)}{since} ({json_type(value)})"
                         + ("" if written else " (inherited)") + f", but `{decl.name}` (at {item.location(*path)}) "
                         f"takes {_takes(decl)}", source.location(*where),
                         "write the value as its decision takes it: a number without its unit (0.2, not \"20%\")"
                         if typ == "number" else "write the value as its decision takes it")
        else:
            c.issues.add("compile.type", f"`{decl.name}` takes {_takes(decl)}, but parameter `{name}` is "
                         f"{ops.WORDS.get(ops.FAMILY.get(ops._literal_kind(value)), 'a list')} ({ops.show(value)}{since})",
                         item.location(*path), "name a parameter of that type")
            return


def _entries_fit(decl: ir.DecisionDecl, source: ir.DecisionDecl, item: Item, path: tuple, c: Compilation) -> bool:
    """A map decision claimed whole into another: each entry it can hold must be one the other takes (compile.type)."""
    same = source.value_type == decl.value_type and (not decl.values or set(source.values or ()) <= set(decl.values))
    if not same and not (decl.value_type == "string" and source.value_type == "enum"
                         and all(isinstance(v, str) for v in source.values or ())):
        c.issues.add("compile.type", f"`{decl.name}` takes {_takes(decl)} for each key, but the entries of map `{source.name}` "
                     f"are {_takes(source)}", item.location(*path),
                     f"name a map decision whose entries `{decl.name}` takes, or claim its entries one by one with "
                     "`for_each`, `key:` and a value it takes")
        return False
    return True


def _undeclared(c: "Compilation", what: str, name: str, known, fallback: str) -> tuple:
    return not_declared(what, name, known, c.resolved.removed, fallback)


def _context(c: "Compilation", doc, issues: IssueCollector, schemas: dict):
    """A rule's parse context; it knows what this version removed, to say so where a rule still uses it."""
    from . import _operators as ops
    ctx = ops.ParseContext(doc, issues, c.facts_shape, c.parameters, c.decisions, schemas)
    ctx.removed = c.resolved.removed
    return ctx


def pass_rules(c: Compilation) -> None:
    """Parse every rule's condition and conclusions with the operator registry; check names and values."""
    from . import _operators as ops
    from .validate import operator_schemas
    schemas = operator_schemas()
    guards: dict = {}   # rules file -> (guard condition, decisions it reads): parsed once, shared by the file's rules
    checked_only = [(None, item) for item in c.resolved.checked_only]   # set aside: checked, never compiled in
    said: set = set()   # parameter values said to be of the wrong type (once, however many rules claim them)
    for rid, item in sorted(c.resolved.rules.items()) + checked_only:
        data = item.data
        if item.doc.file not in guards:
            raw_guard = item.doc.data.get("guard")
            gctx = _context(c, item.doc, c.issues, schemas)
            parsed_guard = ops.parse_cond(raw_guard, gctx, {}, ("guard",)) if raw_guard is not None else None
            guards[item.doc.file] = (parsed_guard, gctx.reads_decisions, gctx.params_used, raw_guard is not None)
        guard, guard_reads, guard_params, has_guard = guards[item.doc.file]
        # a guard with a mistake (said once, at the guard) leaves its file's rules to be checked all the same, for the
        # drafter's sake: none of them is compiled in
        unguarded = has_guard and guard is None
        ctx = _context(c, item.doc, c.issues, schemas)
        ctx.reads_decisions.update(guard_reads)
        ctx.params_used.update(guard_params)
        scope: dict = {}
        binds, alias, unbound = ir.CASE, "", False
        if "for_each" in data:
            target = data["for_each"]
            alias = data.get("as", "")
            if not alias:
                c.issues.add("schema.required", "`as` is required with `for_each`: the name of the bound item",
                             item.location("for_each"), "add e.g. `as: lic`")
                continue
            if target in c.derived_shapes:
                binds, shape = f"derived:{target}", c.derived_shapes[target]
            else:
                # One problem, one issue: a name the case file does not start with is said as a for_each
                # that names nothing (a derived fact is as likely meant); a path into the case file keeps
                # the path's own, more precise, problem (`licences` is not a field of enterprise).
                quiet = IssueCollector()
                parsed = ops._list_source(target, _context(c, item.doc, quiet, schemas),
                                          {}, item.path + ("for_each",))
                if parsed is None:
                    unbound = True      # the rule is still read, its item as the nearest list's, never compiled in
                    head = str(target).split(".", 1)[0]
                    if ("derived fact", target) in c.resolved.removed:
                        message, hint = _undeclared(c, "derived fact", target, (), "")
                        c.issues.add("compile.for_each", f"`for_each: {target}`: {message}", item.location("for_each"), hint)
                    elif c.derived_shapes and head not in c.facts_shape.props:
                        lists = fact_lists(c.facts_shape)
                        c.issues.add("compile.for_each", f"`for_each: {target}` is neither a derived fact nor a list of the case file",
                                     item.location("for_each"), did_you_mean(target, list(c.derived_shapes) + lists)
                                     or "derived facts: " + ", ".join(sorted(c.derived_shapes)[:12]))
                    else:
                        c.issues.extend(quiet.issues)
                    shape = _nearest_items(c, item, target, schemas)
                else:
                    binds, shape = f"list:{target}", parsed[1]
            ops._alias(alias, ctx, scope, item.path + ("as",))
            scope[alias] = shape
        elif "as" in data:
            c.issues.add("schema.as", "`as` only goes with `for_each`", item.location("as"), "remove it or add for_each")
        condition = ops.parse_cond(data["when"], ctx, scope, item.path + ("when",)) if "when" in data else ops.always()
        conclusions = []
        for j, raw in enumerate(data["then"]):
            path = ("then", j)
            if "decide" in raw:
                name = raw["decide"]
                decl = c.decisions.get(name)
                if decl is None:
                    message, hint = _undeclared(c, "decision", name, c.decisions, "declare it in a Decisions file")
                    c.issues.add("compile.unknown_decision", message, item.location(*path, "decide"), hint)
                    continue
                if "value" not in raw:
                    c.issues.add("schema.required", f"`value` is required: what does this rule claim for `{name}`?",
                                 item.location(*path), "add value: ...")
                    continue
                whole = ops.whole_map(raw["value"], ctx, item.path + path + ("value",)) \
                    if decl.type == "map" and "key" not in raw else None
                if whole is not None:   # a whole map decision copied: each of its entries claimed for its own key
                    if _entries_fit(decl, c.decisions[whole[0].name], item, path + ("value",), c):
                        conclusions.append(ir.Decide(decision=name, value=whole[0], entries=True))
                    continue
                value = ops.parse_expr(raw["value"], ctx, scope, item.path + path + ("value",))
                key = None
                if decl.type == "map":
                    if "key" not in raw:
                        c.issues.add("compile.map_key", f"`{name}` is a map: say which entry with `key:`", item.location(*path),
                                     "add key: {path: ...}, or claim a whole map decision: value: {decision: NAME}")
                        continue
                    key = ops.parse_key(raw["key"], ctx, scope, item.path + path + ("key",))
                    if key is None:
                        continue
                elif "key" in raw:
                    c.issues.add("compile.map_key", f"`{name}` is not a map; it takes no `key`", item.location(*path, "key"), "")
                    continue
                if value is None:
                    continue
                _check_literal(decl, value[0], item, path + ("value",), c)
                _check_type(decl, value, item, path + ("value",), c, said)
                conclusions.append(ir.Decide(decision=name, value=value[0], map_key=key[0] if key else None))
            else:
                name = raw["derive"]
                shape = c.derived_shapes.get(name)
                if shape is None:
                    message, hint = _undeclared(c, "derived fact", name, c.derived_shapes, "declare it in a DerivedFacts file")
                    c.issues.add("compile.unknown_fact", message, item.location(*path, "derive"), hint)
                    continue
                fields = {}
                for fname, fraw in sorted((raw.get("with") or {}).items()):
                    if fname not in shape.props:
                        c.issues.add("compile.unknown_field", f"derived fact `{name}` has no field `{fname}`",
                                     item.location(*path, "with", fname), did_you_mean(fname, shape.props))
                        continue
                    parsed = ops.parse_expr(fraw, ctx, scope, item.path + path + ("with", fname))
                    if parsed is not None:
                        fields[fname] = parsed[0]
                conclusions.append(ir.Derive(fact=name, fields=fields))
        if condition is None or rid is None or unbound or unguarded:
            continue
        if guard is not None:   # the file's guard comes first: the why then shows it before the rule's own facts
            condition = ir.All(items=[guard] + (condition.items if isinstance(condition, ir.All) else
                                                [] if isinstance(condition, ir.TrueCond) else [condition]))
        c.rules.append(ir.Rule(id=rid, article=data["article"], title=data["title"], condition=condition,
                               conclusions=conclusions, binds=binds, alias=alias, clause=data.get("clause", ""),
                               note=data.get("note", ""), location=item.location(),
                               reads_decisions=tuple(sorted(ctx.reads_decisions)),
                               reads_params=tuple(sorted(ctx.params_used)), guard=guard))
    for i, rule in enumerate(c.rules):
        rule.index = i
    _timelines(c)


def _nearest_items(c: Compilation, item, target, schemas) -> Shape:
    """For a `for_each` that names nothing: the items of what it most likely meant (the nearest derived fact or list of
    the case file), so the rest of the rule is still checked, as for `tittle:`; else items of any shape (its fields
    then unchecked, never said wrong). The rule itself is never compiled in."""
    from . import _operators as ops
    guess = nearest(str(target), list(c.derived_shapes) + fact_lists(c.facts_shape))
    if guess in c.derived_shapes:
        return c.derived_shapes[guess]
    if guess is not None:
        parsed = ops._list_source(guess, _context(c, item.doc, IssueCollector(), schemas), {}, item.path + ("for_each",))
        if parsed is not None:
            return parsed[1]
    return Shape("any")


def _timelines(c: Compilation) -> None:
    """Last of pass_rules, which says what each rule reads (and said with the rules' own mistakes): a dated parameter that a rule reads holds a value from the version's
    first day, or every evaluation from that day to its first date would end in eval.parameter (evaluate.parameters_at).
    Said here, at the parameter's `values`, where the drafter can mend it, and not at run time only."""
    start = c.resolved.manifest.data.get("effective_from")
    readers = ir.parameter_readers(c.rules)
    for name, decl in sorted(c.parameters.items()):
        if decl.values is None or decl.value is not None or name not in readers or not isinstance(start, str):
            continue
        first = min(decl.values)
        if first > start:
            item = c.resolved.parameters[name]
            c.issues.add("compile.parameter", f"parameter `{name}` has no value from {start}, the version's first day, "
                         f"to {first}, its first date, and {read_by(readers[name])}: the version could not be evaluated on those days",
                         item.location("values"), f"date its first value {start} or earlier")


# ---- pass 4: articles --------------------------------------------------------------------
def pass_articles(c: Compilation) -> None:
    """After rules: the index is checked against the articles the rules cite. An article the law's text
    does not have either is not the index's to add: pass_text says so at the citation."""
    index = c.resolved.articles
    if index is None:
        return
    quiet = IssueCollector()
    text = _text.merge(c.resolved.texts, quiet)
    in_text = {a["article"] for a in text["articles"]} if text is not None and not quiet else None
    listed = {entry["article"]: (i, entry) for i, entry in enumerate(index.data)}   # (one each: see _merge_index)
    own = {d.file for d in c.version.source.documents}
    here = index.doc.file if index.doc.file in own else "articles.yaml (kind: ArticleIndex)"

    def restate(i: int, article: str, status: str) -> str:
        """Where an inherited entry is changed: in this version's index, which replaces it by article."""
        entry = listed[article][1]
        if index.places[i][0].file in own:
            return ""
        extra = ", reason: ..." if status == "not_decidable" else ""
        return (f"mark it in this version's {here}: `- {{article: {article}, title: {entry.get('title', '')}, status: {status}{extra}}}`; "
                "an entry there replaces the inherited one of the same article, the others are inherited")
    unread = {name for what, name in c.version.set_aside if what == "index"}   # entries set aside: their status is unknown
    cited: dict = {}    # article -> [(rule id, Item)]: the rules compiled in, then those set aside but checked
    for rule in c.rules:
        cited.setdefault(rule.article, []).append((rule.id, c.resolved.rules[rule.id]))
    for item in c.resolved.checked_only:
        cited.setdefault(item.data.get("article"), []).append((item.data.get("id"), item))
    for article, rules in sorted(cited.items(), key=lambda kv: str(kv[0])):
        if not isinstance(article, str):
            continue
        if article not in listed:
            if in_text is not None and article not in in_text:
                continue
            rid, item = rules[0]
            c.issues.add("compile.article", f"{f'rule `{rid}`' if rid is not None else 'the rule'} cites {article}, which the article index does not list",
                         item.location("article"),
                         (in_text is None and _text.near_article(article, listed)) or "add it to articles.yaml")
        elif article not in unread and listed[article][1]["status"] != "encoded":
            i, _ = listed[article]
            c.issues.add("compile.article", f"{article} is marked `{listed[article][1]['status']}` but rule `{rules[0][0]}` encodes it",
                         index.location(i, "status"), restate(i, article, "encoded") or "mark it `encoded`")
    for article, (i, entry) in sorted(listed.items(), key=lambda kv: kv[1][0]):
        if c.version.source.carried:   # a rules file could not be read: its articles are unknown
            break
        if entry["status"] == "encoded" and article not in cited and article not in c.resolved.rejected_articles \
                and article not in unread:
            c.issues.add("compile.article", f"{article} is marked encoded but no rule cites it", index.location(i, "status"),
                         "write its rules, or " + (restate(i, article, "not_decidable") or "mark it not_decidable with a reason"))


# ---- pass 5: text -------------------------------------------------------------------------
def pass_text(c: Compilation) -> None:
    """After articles (the index is sound by now): the text is inherited, and every citation of a rule,
    parameter or decision must resolve to it (`compile.clause`). A version without text is not checked."""
    before = len(c.issues.issues)     # (problems of inheritance local to one name, a duplicate id, leave the rest checked)
    c.text = _text.merge(c.resolved.texts, c.issues)
    if c.text is not None and len(c.issues.issues) == before:
        _text.check_citations(c.text, c.resolved, c.issues, _unread_text(c))


def _unread_text(c: Compilation) -> frozenset:
    """The articles whose text validation set aside (its own mistake is said): no citation is checked against them."""
    return frozenset(name for what, name in c.version.set_aside if what == "text")


def _citations_anyway(c: Compilation) -> None:
    """After declarations, rules or the index found problems: the citations of the law's text read only what inherit
    resolved, so a clause that does not exist is said in the same round (the drafter fixes all at once)."""
    quiet = IssueCollector()
    text = _text.merge(c.resolved.texts, quiet)
    if text is not None and not quiet:
        _text.check_citations(text, c.resolved, c.issues, _unread_text(c))


# ---- pass 6: strata ----------------------------------------------------------------------
def pass_strata(c: Compilation) -> None:
    """Last before hashing: needs every rule's reads and conclusions. A rule that reads a decision
    runs in a stratum after every rule that claims it; a cycle through a decision is an error."""
    claimers: dict = {}
    producers: dict = {}
    for rule in c.rules:
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                claimers.setdefault(concl.decision, []).append(rule)
            else:
                producers.setdefault(f"derived:{concl.fact}", []).append(rule)
    level = {r.id: 0 for r in c.rules}
    limit = min(MAX_STRATA, len(c.rules) + 1)
    for _ in range(len(c.rules) * 2 + 2):   # relaxation; bounded: a level past `limit` is a cycle
        changed = False
        for rule in c.rules:
            new = max([level[p.id] for p in producers.get(rule.binds, [])] + [0])
            for d in rule.reads_decisions:
                new = max([new] + [level[p.id] + 1 for p in claimers.get(d, [])])
            new = min(new, limit)
            if new != level[rule.id]:
                level[rule.id], changed = new, True
        if not changed:
            break
    if any(level[r.id] >= limit for r in c.rules):
        loop, decisions = _cycle(c.rules, claimers, producers)
        read = " and ".join(f"`{d}`" for d in decisions) or "a decision"
        if len(loop) == 1:
            message = f"rule `{loop[0].id}` reads {read}, which it claims itself"
        else:
            message = (f"decisions depend on themselves: rules {' -> '.join(f'`{r.id}`' for r in loop)} -> `{loop[0].id}` "
                       f"each wait for the next, through {read}")
        c.issues.add("compile.cycle", message, loop[0].location, "a rule may read a decision only if that decision does not depend on the rule's own "
                     "claims; decide it in an earlier step (a derived fact, or a decision of its own)")
        return
    depth = max(level.values(), default=0) + 1
    c.strata = [[] for _ in range(depth)]
    for rule in c.rules:
        rule.stratum = level[rule.id]
        c.strata[rule.stratum].append(rule)


def _cycle(rules: list, claimers: dict, producers: dict) -> tuple:
    """The rules on one loop of "reads a decision claimed by" (and "binds a fact derived by") that goes
    through a decision, and the decisions it goes through; found by a bounded depth-first search."""
    after: dict = {}       # rule id -> [(rule it must come after, decision read or None)]
    for rule in rules:
        edges = [(p, None) for p in producers.get(rule.binds, [])]
        edges += [(p, d) for d in rule.reads_decisions for p in claimers.get(d, [])]
        after[rule.id] = edges
    for start in sorted(rules, key=lambda r: r.location):
        stack = [(start, [start], [])]     # iterative: a path of rules and the decisions it read
        seen = set()
        while stack:
            rule, path, through = stack.pop()
            for before, decision in after[rule.id]:
                read = through + ([decision] if decision else [])
                if before is start and read:
                    loop = list(reversed(path))        # start reads ... which reads start's claim
                    return loop[-1:] + loop[:-1], sorted(set(read))
                if before.id not in seen and len(path) <= len(rules):
                    seen.add(before.id)
                    stack.append((before, path + [before], read))
    return rules[:1], []


# inheritance problems that concern one name (the rest of the version still compiles and is checked)
_LOCAL_TO_ONE_NAME = {"compile.duplicate_id", "compile.duplicate", "compile.override", "compile.remove"}
PASSES = (
    ("inherit", pass_inherit),
    ("declarations", pass_declarations),
    ("rules", pass_rules),
    ("articles", pass_articles),
    ("text", pass_text),
    ("strata", pass_strata),
)


def _resolved_data(r: Resolved) -> dict:
    manifest = {k: v for k, v in r.manifest.data.items() if k not in ("apiVersion", "kind")}
    out = {
        "policy": manifest,
        "facts_schema": r.facts_schema,
        "derived_facts": {k: v.data for k, v in sorted(r.derived.items())},
        "decisions": {k: {kk: vv for kk, vv in v.data.items() if kk != "override"} for k, v in sorted(r.decisions.items())},
        "parameters": {k: v.data for k, v in sorted(r.parameters.items())},
        "rules": [_rule_data(item) for _, item in sorted(r.rules.items())],
        "articles": r.articles.data if r.articles else [],
    }
    if r.event_dates:
        out["event_dates"] = {k: v.data for k, v in sorted(r.event_dates.items())}
    if r.references:
        out["references"] = {k: v.data for k, v in sorted(r.references.items())}
    return out


SET_OPS = ("in", "not_in")     # comparisons whose list of values is a set: its order says nothing


def as_meant(node, depth: int = 0):
    """Rule data with what does not change its meaning written one way: the literal values of an `in` or
    `not_in` comparison sorted (by their JSON), as a set is. For the content hash and `diff`, so that listing
    the same values in another order is no new version; the rule as written (`show`, the pages) keeps its order."""
    if depth > 200:     # (deeper than any rule the language takes: left as it is)
        return node
    if isinstance(node, dict):
        out = {k: as_meant(v, depth + 1) for k, v in node.items()}
        values = out.get("value")
        if out.get("op") in SET_OPS and isinstance(values, list) and not any(isinstance(v, (dict, list)) for v in values):
            out["value"] = sorted(values, key=dump_json)
        return out
    if isinstance(node, (list, tuple)):
        return [as_meant(v, depth + 1) for v in node]
    return node


def hashed_form(resolved: dict) -> dict:
    """What the content hash covers of a version resolved: all but the article index and `extends` (what it brings
    in is covered itself), its rules as meant. `diff` compares it less the names to tell a renamed copy."""
    hashed = {k: v for k, v in resolved.items() if k != "articles"}
    hashed["policy"] = {k: v for k, v in hashed["policy"].items() if k not in ("extends",)}
    hashed["rules"] = as_meant(hashed["rules"])
    return hashed


def _rule_data(item: Item) -> dict:
    """A rule as written, with its file's `guard:` (which is part of its condition)."""
    data = {k: v for k, v in item.data.items() if k != "override"}
    if isinstance(item.doc.data, dict) and item.doc.data.get("guard") is not None:
        data["guard"] = copy.deepcopy(item.doc.data["guard"])    # its own copy: `show` writes no YAML anchors
    return data


def compile_version(version: ValidatedVersion, base_loader: Optional[Callable] = None) -> CompiledPolicy:
    """Run the passes in order; stop after the first pass that found problems (later ones would only echo them)."""
    c = Compilation(version, base_loader)
    carried_on = 0      # problems of inheritance local to one name, after which the passes went on
    for name, run in PASSES:
        run(c)
        if name == "declarations" and len(c.issues.issues) == carried_on + c.local_issues:
            carried_on = len(c.issues.issues)
            c.declared = True       # the declarations stand (but those set aside, which are said where they are written):
            # the version's `reports:` and its test cases can be checked against them
        if len(c.issues.issues) > carried_on:
            if name == "inherit" and {i.code for i in c.issues.issues} <= _LOCAL_TO_ONE_NAME:
                carried_on = len(c.issues.issues)   # the one in question is left out or kept as inherited: check the rest
                continue
            if name in ("declarations", "rules", "articles"):
                _citations_anyway(c)
            break
    if version.carried or c.issues:
        _qualify_inherited(c)
        c.issues.issues = [i for i in not_at(c.issues.issues, places(version.carried))   # a value set aside at load is said there once
                           if not any(i.message.startswith(undeclared(*n)) for n in c.set_aside)]   # its name stands
        failed = (SchemaError(list(version.carried) + c.issues.issues + version.test_issues) if version.carried
                  # a bad test file is said with the rest; alone it fails nothing (validate says it)
                  else CompileError(c.issues.issues + version.test_issues))
        failed.partial = _partial(c)
        raise failed
    resolved = _resolved_data(c.resolved)
    digest = hashlib.sha256(dump_json(hashed_form(resolved)).encode("utf-8")).hexdigest()[:16]
    m = c.resolved.manifest.data
    return CompiledPolicy(
        id=m["id"], version=m["version"], title=m["title"], manifest=resolved["policy"],
        effective_from=m["effective_from"], effective_to=m.get("effective_to"),
        facts_schema=c.resolved.facts_schema, facts_shape=c.facts_shape, derived=c.derived_shapes,
        decisions=c.decisions, parameters=c.parameters, rules=c.rules, strata=c.strata,
        articles=list(c.resolved.articles.data) if c.resolved.articles else [],
        content_hash=digest, identity=c.identity, event_dates=c.event_dates, resolved=resolved, directory=str(version.source.directory), chain=c.resolved.chain,
        text=c.text, removed=dict(c.resolved.removed), references=c.references,
    )


def _qualify_inherited(c: Compilation) -> None:
    """A problem in an inherited rule, beside a file of this version that was set aside (it does not parse): that
    file may hold the `remove:` that drops the rule, which could not be read. Say so at the problem, so that it is
    not taken for a mistake of its own (this version removes a decision its draft rules file also removed the
    rule of)."""
    own = {d.file for d in c.version.source.documents}
    aside = sorted({i.location.file for i in c.version.source.carried if i.code != "load.empty" and i.location.file not in own})
    if not aside or len(c.resolved.chain) < 2:
        return
    inherited = {item.doc.file for item in c.resolved.rules.values() if item.doc.file not in own}
    files = ", ".join(f"`{f}`" for f in aside)
    c.issues.issues = [
        Issue(i.code, f"{i.message}; {files}, set aside (it cannot be read), may `remove:` this inherited rule",
              i.location, f"mend {files} first: if it removes the rule, this problem goes with it"
              + (f"; else {i.hint}" if i.hint else ""))
        if i.location.file in inherited and i.location.path.startswith("rules[") else i
        for i in c.issues.issues]


def _partial(c: Compilation):
    """What a version that failed to compile still declares, when its declarations passed: enough for its
    `reports:` to be checked beside the failure (engine/reports.py), so every mistake is said at once."""
    if not c.declared:
        return None
    m = c.resolved.manifest.data
    # and for its test cases to be checked (testing.check_cases): the articles and text they may cite, the facts schema
    text = c.text if c.text is not None else _text.merge(c.resolved.texts, IssueCollector())   # (quietly: said by the passes)
    return SimpleNamespace(id=m.get("id"), version=m.get("version"), ref=f"{m.get('id')}@{m.get('version')}",
                           manifest={k: v for k, v in m.items() if k not in ("apiVersion", "kind")},
                           decisions=c.decisions, facts_shape=c.facts_shape, identity=c.identity,
                           directory=str(c.version.source.directory), chain=c.resolved.chain, content_hash=None,
                           removed=dict(c.resolved.removed), set_aside=frozenset(c.set_aside),
                           articles=list(c.resolved.articles.data) if c.resolved.articles else [], text=text,
                           facts_schema=c.resolved.facts_schema, backends={})
