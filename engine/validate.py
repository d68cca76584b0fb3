"""Stage 2, validate: every file against the JSON Schema of its kind (schemas/), all issues at once."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Optional
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import jsonschema
import referencing
import referencing.exceptions
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ._schema_text import explain, settle
from ._text import check_source
from .errors import Issue, IssueCollector, Location, SchemaError, did_you_mean, nearest
from ._dates import date_problem, is_date  # noqa: F401  (date_problem re-exported: validate.date_problem)
from .load import Document, MarkedLoader, VersionSource, inside, json_type, not_at, places, printable, read_document

API_VERSION = "regcode/v1"
KINDS = {
    "Policy": "policy.schema.yaml",
    "FactsSchema": "factsschema.schema.yaml",
    "DerivedFacts": "derivedfacts.schema.yaml",
    "Decisions": "decisions.schema.yaml",
    "Parameters": "parameters.schema.yaml",
    "Rules": "rules.schema.yaml",
    "ArticleIndex": "articleindex.schema.yaml",
    "ArticleText": "articletext.schema.yaml",
    "TestCases": "testcases.schema.yaml",
}
HINTS = {
    "article": "every rule cites the article it encodes, e.g. `article: 第八条`",
    "then": "a rule concludes something: `then: [{decide: NAME, value: ...}]`",
    "id": "give the rule a unique id like `category-c-refused-spot-check`",
    "apiVersion": f"start the file with `apiVersion: {API_VERSION}`",
}


SHIPPED_SCHEMAS = "https://regcode.dev/schemas/v1/"   # the `$id` prefix of schemas/*.schema.yaml
MAX_BUNDLED = 100_000     # schema values that resolving `$ref`s may copy into one facts schema


def schemas_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"


@lru_cache(maxsize=None)
def schema_for(filename: str) -> dict:
    with open(schemas_dir() / filename, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=MarkedLoader)


@lru_cache(maxsize=None)
def shipped_schemas() -> dict:
    """`$id` -> schema, for regcode's own schemas (the only absolute URIs a facts schema may `$ref`)."""
    found = {}
    for path in sorted(schemas_dir().glob("*.schema.yaml")):
        schema = schema_for(path.name)
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str):
            found[schema["$id"]] = schema
    return found


@lru_cache(maxsize=None)
def registry() -> Registry:
    """Every schema of schemas/ by its $id, so that one may $ref another (rules -> operators); nothing is fetched."""
    return Registry().with_resources((uri, Resource.from_contents(schema)) for uri, schema in shipped_schemas().items())


@lru_cache(maxsize=None)
def validator_for(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(KINDS[kind]), registry=registry(),
                                           format_checker=jsonschema.FormatChecker())


def operator_schemas() -> dict:
    return schema_for("operators.schema.yaml")


def _message(err: jsonschema.ValidationError) -> tuple:
    """(message, hint, key to point at) for a schema error: what was found, what is allowed (engine/_schema_text.py)."""
    return explain(err, "here", hints=HINTS)


def schema_issues(doc: Document, validator, issues: IssueCollector, code_prefix: str = "schema") -> list:
    """Report a document's schema errors: the most relevant one per place (best_match), so that two mistakes of
    one rule (a bad id and a bad article) are both said, and one place gets one issue. Returns the paths of the
    first two keys of those places (a TestCases file's bad cases: ("cases", i)), each once."""
    groups = defaultdict(list)
    for err in validator.iter_errors(doc.data):
        # a bad key is a place of its own (jsonschema says it at the mapping that holds it): two bad dates of one
        # `values:` map are two problems
        bad_key = (err.instance,) if "propertyNames" in err.schema_path and isinstance(err.instance, str) else ()
        groups[tuple(err.absolute_path) + bad_key].append(err)
    for key in sorted(groups, key=lambda k: tuple(str(p) for p in k)):
        err = settle(jsonschema.exceptions.best_match(groups[key]))
        message, hint, at = _message(err)
        path = tuple(err.absolute_path)
        if "propertyNames" in err.schema_path and isinstance(err.instance, str):
            path += (err.instance,)    # a bad key: point at it, where it is written, not at the mapping that holds it
            issues.add(f"{code_prefix}.{err.validator}", message, doc.key_location(path), hint)
            continue
        elif at is not None and isinstance(err.instance, dict) and at in err.instance:
            # an unknown (or misspelt) key: point at the first one, where it is written
            issues.add(f"{code_prefix}.{err.validator}", message, doc.key_location(path + (at,)), hint)
            continue
        issues.add(f"{code_prefix}.{err.validator}", message, doc.location(path), hint)
    return list(dict.fromkeys(key[:2] for key in groups))


# ---- `$ref` in a facts schema: never outside the policy, never the network -------------------
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})            # values, not schemas
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})
_IDENTITY_KEYWORDS = frozenset({"$id", "$schema", "$anchor", "$dynamicAnchor"})  # dropped from copied parts
ALLOWED_REFS = ("a facts schema may `$ref` `#...` within itself, a file inside its version folder "
                "(`defs.yaml#/$defs/NAME`, relative to the file it is written in; the file is a policy file, "
                f"`kind: FactsSchema` with the definitions under `$defs:`), or regcode's own schemas ({SHIPPED_SCHEMAS}...)")
# Every .yaml, .yml and .json file of a version folder is read as a policy file, so a file of definitions
# for `$ref` is one too: a FactsSchema holding only `$defs:` (it adds no field of its own).
DEFS_FILE = f"with defs.yaml a policy file: `apiVersion: {API_VERSION}`, `kind: FactsSchema`, the definitions under `$defs:`"


class _TooMuch(Exception):
    pass


class _Refs:
    """Resolves every `$ref` of a FactsSchema document through a `referencing` Registry whose
    retrieve function serves only files inside the version folder and regcode's shipped schemas,
    and refuses everything else (no network, no other folder). A reference to a file is replaced
    by a copy of what it points to, so the compiled facts schema holds only `#...` references:
    every later validator (jsonschema, fastjsonschema) then has nothing to fetch, and the content
    hash covers what was referenced."""

    def __init__(self, source: VersionSource, doc: Document, issues: IssueCollector):
        self.folder = Path(source.directory).resolve()
        self.doc = doc
        self.issues = issues
        self.base = Path(doc.file).resolve().as_uri()
        self.registry = referencing.Registry(retrieve=self._retrieve)
        self.copied = 0
        self.unreadable: dict = {}

    # -- retrieval: the whole of what may be reached --------------------------------------------
    def _retrieve(self, uri: str):
        shipped = shipped_schemas().get(uri)
        if shipped is not None:
            return referencing.Resource.from_contents(shipped, default_specification=DRAFT202012)
        parts = urlsplit(uri)
        if parts.scheme == "file" and parts.netloc in ("", "localhost") and not parts.query:
            path = Path(url2pathname(parts.path))
            if inside(self.folder, path) and path.is_file():
                found = IssueCollector()
                doc = read_document(path, str(path), found)
                if doc is not None:
                    return referencing.Resource.from_contents(doc.data, default_specification=DRAFT202012)
                self.unreadable[uri] = found.issues
        raise referencing.exceptions.NoSuchResource(ref=uri)

    def _allowed(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if uri in shipped_schemas():
            return True
        return parts.scheme == "file" and parts.netloc in ("", "localhost") and inside(self.folder, Path(url2pathname(parts.path)))

    # -- the walk --------------------------------------------------------------------------------
    def schema(self, schema, path: tuple):
        """The root facts schema (`schema:`): `#...` references stay, and must point somewhere."""
        self.registry = self.registry.with_resource(self.base, referencing.Resource.from_contents(
            schema, default_specification=DRAFT202012))
        return self._guarded(schema, path, local_refs=True)

    def extension(self, props: dict, path: tuple) -> dict:
        """Properties an extending version adds (`extend:`): each is a schema of its own."""
        return {name: self._guarded(sub, path + (name,), local_refs=False) for name, sub in props.items()}

    def _guarded(self, node, path, local_refs: bool):
        try:
            return self._walk(node, (self.registry.resolver(self.base), self.base), path, None, (), local_refs, 0)
        except _TooMuch:
            self.issues.add("schema.ref", f"resolving `$ref`s copies more than {MAX_BUNDLED:,} schema values",
                            self.doc.location(path), "reference less, or move the definitions into `$defs` of this file")
            return node

    def _walk(self, node, scope, path, site, chain, local_refs, depth):
        """Rebuild `node` with its references resolved. `scope` is (resolver, base URI) of the file
        it was written in; `path` is its place in the document (None inside a copied part: problems
        there are reported at `site`, the reference that copied it)."""
        if depth > 2 * 64:
            raise _TooMuch
        if path is None:
            self.copied += 1
            if self.copied > MAX_BUNDLED:
                raise _TooMuch
        if isinstance(node, list):
            return [self._walk(v, scope, None if path is None else path + (i,), site, chain, local_refs, depth + 1)
                    for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            here = None if path is None else path + (key,)
            if key in _DATA_KEYWORDS or (key in ("$ref", "$dynamicRef") and isinstance(value, str)):
                out[key] = value
            elif key == "$id" and path is not None and len(path) > 1 and isinstance(value, str):
                self.issues.add("schema.ref", "`$id` may appear only at the top of the facts schema",
                                self.doc.location(here), "remove it; references resolve against the file they are written in")
            elif path is None and key in _IDENTITY_KEYWORDS:
                continue      # a copied part is no resource of its own; its references are resolved here
            elif key in _NAMED_SCHEMAS and isinstance(value, dict):
                out[key] = {name: self._walk(sub, scope, None if here is None else here + (name,), site, chain,
                                             local_refs, depth + 1) for name, sub in value.items()}
            else:
                out[key] = self._walk(value, scope, here, site, chain, local_refs, depth + 1)
        where = self.doc.location(path + ("$ref",)) if path is not None else site
        dynamic = out.get("$dynamicRef")
        if isinstance(dynamic, str) and (path is None or not dynamic.startswith("#")):
            self.issues.add("schema.ref", f"`$dynamicRef: {printable(dynamic)}`: only `#...` within the facts schema itself",
                            self.doc.location(path + ("$dynamicRef",)) if path is not None else site, "use `$ref`")
        ref = out.get("$ref")
        if not isinstance(ref, str):
            return out
        if path is not None and ref.startswith("#"):
            if not local_refs:
                self.issues.add("schema.ref", f"`$ref: {printable(ref)}` inside `extend:` would point into the merged facts schema",
                                where, f"reference a file of this version instead, `defs.yaml#/$defs/NAME` {DEFS_FILE}; "
                                "or write the schema out")
            else:
                self._lookup(scope, ref, where)
            return out
        target = urljoin(scope[1], ref)
        if target.startswith(SHIPPED_SCHEMAS) and urldefrag(target)[0] not in shipped_schemas():
            known = sorted(uri[len(SHIPPED_SCHEMAS):] for uri in shipped_schemas())
            self.issues.add("schema.ref", f"`$ref: {printable(ref)}`: regcode ships no such schema; it ships {', '.join(known)}",
                            where, did_you_mean(urldefrag(target)[0][len(SHIPPED_SCHEMAS):], known))
            return out
        if not self._allowed(urldefrag(target)[0]):
            self.issues.add("schema.ref", f"`$ref: {printable(ref)}` leaves the policy: {ALLOWED_REFS}", where,
                            "copy the definition into `$defs` and reference it as `#/$defs/NAME`")
            return out
        if target in chain:
            self.issues.add("schema.ref", "`$ref`s go round in a circle through other files: "
                            + " -> ".join(printable(u.rsplit("/", 1)[-1]) for u in chain + (target,)), where,
                            "a schema may refer to itself only with `#...` inside one file")
            return out
        found = self._lookup(scope, ref, where)
        if found is None:
            return out
        if not isinstance(found.contents, (dict, bool)):
            self.issues.add("schema.ref", f"`$ref: {printable(ref)}` points to {json_type(found.contents)}, not a schema", where,
                            "point at a mapping that is a JSON Schema")
            return out
        copied = self._walk(found.contents, (found.resolver, urldefrag(target)[0]), None, where, chain + (target,), True, depth + 1)
        del out["$ref"]
        if not out:
            return copied
        out["allOf"] = list(out.get("allOf", [])) + [copied]
        return out

    def _lookup(self, scope, ref: str, where: Location):
        try:
            return scope[0].lookup(ref)
        except referencing.exceptions.Unresolvable as exc:
            uri = urldefrag(urljoin(scope[1], ref))[0]
            if uri in self.unreadable:
                first = self.unreadable[uri][0]
                message = f"`$ref: {printable(ref)}`: the file cannot be read ({first.code}: {first.message})"
            elif isinstance(exc, referencing.exceptions.PointerToNowhere):
                message = f"`$ref: {printable(ref)}` points to nothing in {'this facts schema' if ref.startswith('#') else 'that file'}"
            elif isinstance(exc, referencing.exceptions.NoSuchAnchor):
                message = f"`$ref: {printable(ref)}`: no `$anchor` of that name"
            else:
                message = f"`$ref: {printable(ref)}`: no such file in the version folder"
            self.issues.add("schema.ref", message, where, _ref_hint(ref, self.doc))
            return None


def _ref_hint(ref: str, doc: Document) -> str:
    if not ref.startswith("#"):
        return f"a file is named relative to the file the `$ref` is written in, e.g. `defs.yaml#/$defs/NAME` {DEFS_FILE}"
    if ref.startswith("#/$defs/"):
        defs = ((doc.data.get("schema") or {}).get("$defs") or {}) if isinstance(doc.data, dict) else {}
        return did_you_mean(ref[len("#/$defs/"):].split("/")[0], defs) or "JSON pointers start at the schema's top: #/$defs/NAME"
    return "JSON pointers start at the schema's top: #/$defs/NAME"


def resolve_facts_refs(doc: Document, source: VersionSource, issues: IssueCollector) -> None:
    """Check and resolve the `$ref`s of one FactsSchema document, in place (see _Refs)."""
    refs = _Refs(source, doc, issues)
    if isinstance(doc.data.get("schema"), dict):
        doc.data["schema"] = refs.schema(doc.data["schema"], ("schema",))
    for target, props in sorted((doc.data.get("extend") or {}).items()):
        if isinstance(props, dict):
            doc.data["extend"][target] = refs.extension(props, ("extend", target))


@dataclass
class ValidatedVersion:
    """A version whose files passed their kind's schema, except single rules that did not: those are
    set aside (`rejected`) with their issues (`carried`), so that compile still checks every other
    rule and the drafter sees every mistake at once."""

    source: VersionSource
    carried: list = field(default_factory=list)
    rejected: frozenset = frozenset()        # (file, index) of rules set aside
    # of those, the rules whose faults can be read past (see _reading): they are still compiled for the
    # drafter's sake (checked, never run), read without unknown keys, or with a misspelt required key read
    # as the one it is nearest to (`tittle:` as `title:`, `decid:` as `decide:`), without a `when:` left
    # empty: (file, index) -> the rule as read for checking
    strays: dict = field(default_factory=dict)
    # problems of its test files: said with any other problem of the version, but nothing compiled or evaluated
    # depends on them, so alone they fail no compile (validate and `regcode test` say them through discover)
    test_issues: list = field(default_factory=list)
    # declarations set aside for a schema problem inside them (the source holds them no more): (what, name) -> where
    # their problem is. Their names are still declared: a rule using one is no echo of it (compile)
    set_aside: dict = field(default_factory=dict)

    def of_kind(self, kind: str) -> list:
        return self.source.of_kind(kind)

    @property
    def manifest(self) -> Document:
        return self.of_kind("Policy")[0]


_SCHEMA_KEYS = frozenset({"$defs", "definitions", "$schema", "$id", "properties", "type", "$ref"})


def file_header_issue(doc: Document) -> Optional[Issue]:
    """What makes a file no policy file of a kind regcode reads: not a mapping, no or another `apiVersion`, an
    unknown `kind`. None when its schema can be checked."""
    if not isinstance(doc.data, dict):
        return Issue("schema.type", f"a policy file must be a mapping, found {json_type(doc.data)}",
                     doc.location(), f"start with `apiVersion: {API_VERSION}` and `kind:`")
    if doc.data.get("apiVersion") != API_VERSION:
        if "apiVersion" not in doc.data:
            if "kind" not in doc.data and _SCHEMA_KEYS & set(doc.data):   # JSON Schema definitions for a `$ref`, most likely
                return Issue("schema.api_version", "the file has no `apiVersion`: every .yaml, .yml and .json file of a version "
                             "folder is a policy file, one of definitions for a `$ref` too", doc.location(),
                             f"write it as a policy file: `apiVersion: {API_VERSION}`, `kind: FactsSchema` and the definitions "
                             "under `$defs:`; a `$ref` then names them `defs.yaml#/$defs/NAME`")
            return Issue("schema.api_version", f"the file has no `apiVersion`: a policy file says which format it is "
                         f"written in, and this regcode reads {API_VERSION}", doc.location(), HINTS["apiVersion"])
        return Issue("schema.api_version", f"apiVersion is {doc.data.get('apiVersion')!r}; this regcode reads {API_VERSION!r}",
                     doc.location(("apiVersion",)), HINTS["apiVersion"])
    kind = doc.data.get("kind")
    if isinstance(kind, (list, dict)):     # (no kind's name: `kind: [Rules]` cannot even be looked up)
        return Issue("schema.type", f"`kind` is {json_type(kind)}; it takes text, one of {', '.join(sorted(KINDS))}",
                     doc.location(("kind",)), f"write its name alone: `kind: {kind[0]}`" if isinstance(kind, list)
                     and len(kind) == 1 and kind[0] in KINDS else "write its name alone, as in `kind: Rules`")
    if kind not in KINDS:
        return Issue("schema.kind", f"unknown kind {kind!r}; one of {', '.join(sorted(KINDS))}",
                     doc.location(("kind",)), did_you_mean(str(kind), KINDS))
    return None


def validate_version(source: VersionSource) -> ValidatedVersion:
    """Check kinds and schemas of every file; check the facts schema is itself a valid JSON Schema."""
    issues = IssueCollector()
    aside = IssueCollector()    # problems nothing later depends on (the law's source file): said with the rest, after compile
    tests = IssueCollector()    # a test file's: said with the rest when anything else is wrong, never fatal alone
    tests.extend(source.test_issues)
    whole: set = set()          # files bad as a whole (no mapping, no kind regcode has, a Rules file's own shape): set aside
    docs = []
    for doc in source.documents:
        header = file_header_issue(doc)
        if header is not None and doc.file in source.test_files:    # a test file's fails nothing else
            tests.extend([header])
            docs.append(doc)
            continue
        if header is not None:
            meant = _meant_kind(doc)
            if meant is None:   # nothing in it can be read for what it is: like a file that does not parse
                issues.extend([header])
                if Path(doc.file).name != "policy.yaml":    # (the manifest stops the version: nothing is had without it)
                    whole.add(doc.file)
                docs.append(doc)
                continue
            # a misspelt kind (`kind: Rule`), or a file of a kind whose `apiVersion` is wrong: read as that kind for
            # checking, as a misspelt key is read as meant; its header problem fails the version, and spoils nothing
            aside.extend([header])
            doc = Document(doc.file, {**doc.data, "apiVersion": API_VERSION, "kind": meant}, doc.marks, doc.keys, doc.place)
        docs.append(doc)
        kind = doc.data["kind"]
        before = len(issues.issues)
        schema_issues(doc, validator_for(kind), tests if kind == "TestCases" else issues)
        if kind == "ArticleText" and len(issues.issues) == before:
            check_source(doc, source.directory, aside)
        if kind == "FactsSchema" and isinstance(doc.data.get("schema"), dict):
            try:
                jsonschema.Draft202012Validator.check_schema(doc.data["schema"])
            except jsonschema.SchemaError as exc:
                issues.add("schema.facts_schema", f"the facts schema is not valid JSON Schema: {exc.message}",
                           doc.location(("schema",) + tuple(exc.path)), "fix it against JSON Schema draft 2020-12")
        if kind == "FactsSchema" and len(issues.issues) == before:
            resolve_facts_refs(doc, source, issues)
            if len(issues.issues) == before and isinstance(doc.data.get("schema"), dict):
                try:   # what the references brought in is checked like the rest
                    jsonschema.Draft202012Validator.check_schema(doc.data["schema"])
                except jsonschema.SchemaError as exc:
                    issues.add("schema.facts_schema", f"the facts schema, with its references resolved, is not valid JSON Schema: "
                               f"{exc.message}", doc.location(("schema",) + tuple(exc.path)), "fix what the `$ref` points to")
    source = replace(source, documents=docs)
    # a value set aside at load (load.SOFT) is said there, once: what the schema says of its reading is its echo
    taken = places(source.soft + source.test_issues)
    said = len(source.test_issues)
    issues.issues, tests.issues = not_at(issues.issues, taken), tests.issues[:said] + not_at(tests.issues[said:], taken)
    manifests = source.of_kind("Policy")
    # A manifest whose only faults are in what nothing compiled reads (its title, source and dates, an unknown key)
    # still lets `extends` be resolved and the rules be checked: its faults are said with theirs (every mistake at once).
    # A misspelt key is read as the one it is nearest to (`extend:` as `extends:`), as a rule's `tittle:` is.
    reading = _manifest_reading(manifests[0]) if len(manifests) == 1 else None
    free = [i for i in issues.issues if i.location.file == manifests[0].file] \
        if reading is not None and _only_free_faults(reading) else []
    if free:
        source = replace(source, documents=[reading if d is manifests[0] else d for d in source.documents])
        manifests = [reading]

    def local(issue) -> bool:
        return issue in free or _spoils(issue, source, whole) is not None
    if len(manifests) != 1:
        where = manifests[1].location() if len(manifests) > 1 else source.documents[0].location() if source.documents else None
        if where is not None:
            issues.add("schema.manifest", f"a version has exactly one `kind: Policy` file; found {len(manifests)}", where,
                       "keep the manifest in policy.yaml only")
    elif all(local(i) for i in issues.issues):
        data = manifests[0].data
        # nothing compiled reads the manifest's version and id (the folders name the version), nor its window
        if data.get("version") != source.version:
            issues.add("schema.version", f"the manifest says version {data.get('version')!r} but the folder is {source.version!r}",
                       manifests[0].location(("version",)), "make them the same")
            free.append(issues.issues[-1])
        if data.get("id") != source.policy_id:
            issues.add("schema.policy_id", f"the manifest says id {data.get('id')!r} but the folder is {source.policy_id!r}",
                       manifests[0].location(("id",)), "make them the same")
            free.append(issues.issues[-1])
        start, end = data.get("effective_from"), data.get("effective_to")
        if is_date(start) and is_date(end) and end < start:
            issues.add("schema.window", f"effective_to is before effective_from ({end} before {start}): the version would never be in force",
                       manifests[0].location(("effective_to",)), "effective_to is the last day the version is in force, on or after "
                       "effective_from: correct one of the two dates, or drop effective_to for a version still in force")
            free.append(issues.issues[-1])
        facts = [d for d in source.of_kind("FactsSchema") if "schema" in d.data]    # (not the `$defs:`-only files)
        if not data.get("extends") and len(facts) != 1:
            issues.add("schema.facts_schema", "a version that extends none needs exactly one FactsSchema with `schema:`; "
                       f"found {len(facts)}" + (f" ({', '.join(d.file for d in facts)})" if facts else ""),
                       manifests[0].location(), "add facts.schema.yaml (kind: FactsSchema)" if not facts
                       else "keep one `schema:`; put shared parts in a `$defs:`-only FactsSchema file and `$ref` them")
    # A problem inside one rule spoils only that rule, and one inside one declaration (a decision, a parameter, a
    # derived fact, an article's entry in the index or the text) only that declaration, whose name stays declared
    # (`set_aside`: rules using it are checked for everything else); an unknown key at the top of a file is read past.
    # A file bad as a whole that declares nothing others are checked against (a Rules file, one of no kind) is set
    # aside as one that does not parse is. Anything else (a manifest, the shape of a declarations file) would make the
    # rules' checks report echoes of it, so it stops here.
    rejected, strays, entries = set(), {}, {}
    for issue in issues.issues:
        if issue in free:
            continue
        spoils = _spoils(issue, source, whole)
        if spoils is None:
            raise SchemaError(list(source.carried) + source.soft + aside.issues + issues.issues + tests.issues)
        what, key = spoils
        if what == "rule":
            rejected.add(key)
        elif what == "entry":
            entries.setdefault(key, issue.location)
        else:
            whole.add(key)
    if whole:       # said as a file that does not parse is (VersionSource.carried): the rest of the version is checked
        moved = [i for i in issues.issues if i.location.file in whole]
        issues.issues = [i for i in issues.issues if i.location.file not in whole]
        source = replace(source, documents=[d for d in source.documents if d.file not in whole],
                         carried=list(source.carried) + moved)
        rejected = {r for r in rejected if r[0] not in whole}
    set_aside = {}
    if entries:
        source, set_aside = _without(source, entries)
    for file, index in sorted(rejected):
        doc = next(d for d in source.documents if d.file == file)
        rule = doc.data["rules"][index]
        reading = _reading(rule)
        # an id or article written but unread stands in as one the schema takes, for the rest of the rule to be checked
        probe = {**{k: v for k, v in _STAND_INS.items() if k in rule}, **reading} if reading is not None else None
        whole_file = {"apiVersion": doc.data["apiVersion"], "kind": "Rules", "rules": [probe]}
        if reading is not None and not any(True for _ in validator_for("Rules").iter_errors(whole_file)):
            strays[(file, index)] = reading    # its faults can be read past: what it says besides is checked
    return ValidatedVersion(source, list(source.carried) + source.soft + aside.issues + issues.issues, frozenset(rejected), strays,
                            tests.issues, set_aside)


def _meant_kind(doc: Document) -> Optional[str]:
    """The kind a file with a header problem is read as for checking: the kind it says, or the one it is nearest to
    (`Rule`: Rules). None for a file that is no mapping or says no kind near one regcode has: bad as a whole."""
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    if isinstance(kind, list) and len(kind) == 1:   # `kind: [Rules]`: the kind it names, as a misspelt one is
        kind = kind[0]
    if not isinstance(kind, str):
        return None
    return kind if kind in KINDS else nearest(kind, KINDS)


def _spoils(issue, source: VersionSource, whole: set) -> Optional[tuple]:
    """What one schema problem spoils, when it is not the whole version: ("rule", (file, index)) for one inside a rule,
    ("entry", key) for one inside a declaration or an article's entry, or an unknown key at a file's top (see
    _entry_of); ("file", file) for a file bad as a whole that is set aside (one in `whole`, or a Rules file whose own
    shape is wrong: `rules: {}`). None: it stops the version."""
    if issue.location.file in whole:
        return ("file", issue.location.file)
    rule = _rule_of(issue, source)
    if rule is not None:
        return ("rule", rule)
    entry = _entry_of(issue, source)
    if entry is not None:
        return ("entry", entry)
    doc = next((d for d in source.documents if d.file == issue.location.file), None)
    if doc is not None and doc.kind == "Rules" and issue.code.startswith("schema."):
        return ("file", doc.file)
    return None


# the declarations files: kind -> (the key of their entries, what an entry declares)
_DECLARATIONS = {"Decisions": ("decisions", "decision"), "Parameters": ("parameters", "parameter"),
                 "DerivedFacts": ("facts", "derived fact")}
# the files of the law's articles: kind -> what an entry of their `articles:` list is set aside as (its article's name)
_ARTICLE_LISTS = {"ArticleText": "text", "ArticleIndex": "index"}
# keys at a file's top that nothing compiled checks anything against, read past when wrong: the text's source (the
# file beside it is checked on its own, schema.source), its preamble and closing lines, a rules file's chapter
_READ_PAST = {"ArticleText": {"source", "preamble", "closing"}, "Rules": {"chapter"}}
_ENTRY = re.compile(r"^articles\[(\d+)\]")
_TOP = re.compile(r"^[^.\[]+")


def _entry_of(issue, source: VersionSource) -> Optional[tuple]:
    """(file, key, name) when a schema issue lies inside one entry of a declarations file (`parameters.base_fee.valu`),
    (file, "articles", index) inside one entry of the text or the article index (`articles[3].paragraph`), (file, None,
    key) when it is an unknown key at the top of one of those or of a rules file (`bogus:`), or under a key read past
    (_READ_PAST), else None."""
    if not issue.code.startswith("schema.") or not issue.location.path:
        return None
    doc = next((d for d in source.documents if d.file == issue.location.file), None)
    if doc is not None and doc.kind == "FactsSchema" and issue.code in ("schema.ref", "schema.facts_schema"):
        return _field_of(issue.location.path, doc)
    if doc is None or not isinstance(doc.data, dict) or doc.kind not in (*_DECLARATIONS, *_ARTICLE_LISTS, "Rules"):
        return None
    path = issue.location.path
    first, _, rest = path.partition(".")
    if doc.kind in _DECLARATIONS:
        key = _DECLARATIONS[doc.kind][0]
        table = doc.data.get(key)
        if first == key and rest and isinstance(table, dict):
            name = next((n for n in table if rest == n or rest.startswith((n + ".", n + "["))), None)
            return (doc.file, key, name) if name is not None else None
    entry = _ENTRY.match(path) if doc.kind in _ARTICLE_LISTS and isinstance(doc.data.get("articles"), list) else None
    if entry is not None and int(entry.group(1)) < len(doc.data["articles"]):
        return (doc.file, "articles", int(entry.group(1)))
    top = _TOP.match(path)
    if top is not None and top.group() == "remove" and "remove" in doc.data:
        return (doc.file, "remove", None)     # read as the names it holds (_removals): the file's own entries are checked
    if top is not None and top.group() in _READ_PAST.get(doc.kind, ()) and top.group() in doc.data:
        return (doc.file, None, top.group())
    known = schema_for(KINDS[doc.kind])["properties"]
    if issue.code == "schema.additionalProperties" and not rest and first in doc.data and first not in known:
        return (doc.file, None, first)
    return None


_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[]+)")


def _field_of(path: str, doc: Document) -> Optional[tuple]:
    """(file, "field", the path to it) for a problem inside the schema of one field of a facts schema (a `$ref` leaving
    the policy, a `type: strng`): `schema.properties.applicant.properties.inspector.$ref` is inside field
    `applicant.inspector`, an extension's `extend.applicant.badge.$ref` inside `badge`. None when it is not (the
    schema's root, `$defs`), or the path does not lead through the document."""
    parts, node = [], doc.data
    for index, name in _PATH_PART.findall(path):
        part = int(index) if index else name
        if isinstance(node, dict) and isinstance(part, str) and part in node or isinstance(node, list) and \
                isinstance(part, int) and part < len(node):
            parts.append(part)
            node = node[part]
        else:
            break
    fields = [i for i in range(1, len(parts)) if parts[:1] == ["schema"] and parts[i - 1] == "properties"
              and isinstance(parts[i], str) and i % 2 == 0 and all(p == "properties" for p in parts[1:i:2])]
    if parts[:1] == ["extend"] and len(parts) >= 3 and isinstance(parts[1], str):
        return (doc.file, "field", tuple(parts[:3]))
    return (doc.file, "field", tuple(parts[:fields[-1] + 1])) if fields else None


def _removals(value) -> list:
    """A `remove:` the schema refuses read as the names it holds, for checking only (its problem is said): text as the
    one name (`remove: c-x`), a list within it as its names (`remove: [[c-x]]`); anything else as no name."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        names = []
        for v in value:
            names.extend(_removals(v) if isinstance(v, (str, list)) else [])
        return list(dict.fromkeys(names))
    return []


def _without(source: VersionSource, entries: dict) -> tuple:
    """The source as compile reads it with the declarations in `entries` (see _entry_of) left out, each file's own
    copy (the documents read stay as written), and {(what, name): where its problem is} of the entries left out. An
    article's entry (of the text, of the index) is left in as a stand-in of that article alone, so that its place in
    the list and the article stay (compile checks no citation against it, nor its status); one naming no article is
    None, passed over."""
    docs, set_aside = [], {}
    for doc in source.documents:
        mine = [(key, name) for file, key, name in entries if file == doc.file]
        if not mine:
            docs.append(doc)
            continue
        data = dict(doc.data)
        key, what = _DECLARATIONS.get(doc.kind, (None, None))
        if key is not None and any(k == key for k, _ in mine):
            data[key] = dict(data[key])
        if any(k == "articles" for k, _ in mine) and doc.kind in _ARTICLE_LISTS:
            data["articles"] = list(data["articles"])
        for k, name in mine:
            if k == "field":       # a field whose schema cannot be read: known, read as anything (its problem is said)
                _stand_in(data, name)
            elif k == "remove":
                data["remove"] = _removals(data["remove"])
            elif k is None:
                data.pop(name, None)
            elif k == "articles" and doc.kind in _ARTICLE_LISTS:
                article = data["articles"][name].get("article") if isinstance(data["articles"][name], dict) else None
                if isinstance(article, str):
                    data["articles"][name] = ({"article": article, "paragraphs": []} if doc.kind == "ArticleText"
                                              else {"article": article, "title": "", "status": None})
                    set_aside[(_ARTICLE_LISTS[doc.kind], article)] = entries[(doc.file, k, name)]
                else:
                    data["articles"][name] = None
            else:
                data[key].pop(name, None)
                set_aside[(what, name)] = entries[(doc.file, k, name)]
        docs.append(Document(doc.file, data, doc.marks, doc.keys, doc.place))
    return replace(source, documents=docs), set_aside


def _stand_in(data: dict, path: tuple) -> None:
    """Replace the schema at `path` in `data` by `{}` (anything), copying each mapping on the way: the document read
    stays as written."""
    node = data
    for part in path[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[path[-1]] = {}


# What compile never reads of a manifest (the catalog reads the dates, and refuses a version whose dates are
# bad): the values they are read as to tell whether the manifest's other keys fit its schema.
_FREE_MANIFEST_KEYS = {"title": "t", "description": "", "illustration": False,
                       "source": {"issuer": "i", "date": "2000-01-01"}, "effective_from": "2000-01-01", "effective_to": None}


def _only_free_faults(manifest: Document) -> bool:
    """Whether the manifest (as read, see _manifest_reading) fits its schema once its free keys (title, source, dates)
    are right: then its faults are all in what nothing compiled depends on."""
    if file_header_issue(manifest) is not None:
        return False
    fixed = {k: v for k, v in manifest.data.items() if k not in _FREE_MANIFEST_KEYS}
    fixed.update({k: v for k, v in _FREE_MANIFEST_KEYS.items() if v is not None})
    return not any(True for _ in validator_for("Policy").iter_errors(fixed))


def _manifest_reading(manifest: Document) -> Document:
    """The manifest as read for checking: each unknown key left out, or, when the key it is nearest to is one the
    manifest does not have (`extend:` for `extends:`), read as that key; its header as a manifest's."""
    known = schema_for(KINDS["Policy"])["properties"]
    data = manifest.data if isinstance(manifest.data, dict) else {}
    reading = {k: v for k, v in data.items() if k in known}
    marks, keys = dict(manifest.marks), dict(manifest.keys)
    for key, value in data.items():
        near = nearest(key, known) if key not in known else None
        if near is not None and near not in data and near not in reading:
            reading[near] = value       # said where it is written
            for old, new in ((manifest.marks, marks), (manifest.keys, keys)):
                new.update({(near,) + path[1:]: mark for path, mark in old.items() if path[:1] == (key,)})
    reading.update(apiVersion=API_VERSION, kind="Policy")
    return Document(manifest.file, reading, marks, keys, manifest.place)


# what a rule set aside may be read without, for checking only, when its value breaks the schema: a `when:` left
# empty is read as no condition, a `note:` or `clause:` that is no text as none (its problem is said where it is)
_OPTIONAL_RULE_KEYS = ("when", "note", "clause")
# required keys that, written but wrong (`id: {a: 1}`, `article: 5`), are left unread: nothing else of the rule depends on them
_UNREAD_RULE_KEYS = ("id", "article")
_STAND_INS = {"id": "x", "article": "第一条"}


def _reading(rule) -> Optional[dict]:
    """A rule as read for checking only: each unknown key left out, or, when the key it is nearest to is a required
    one the rule lacks (`tittle:` for `title:`), read as that key; a `when:`, `note:` or `clause:` that breaks the
    schema left out; each conclusion read as _conclusion_reading reads it. None for a rule that is no mapping."""
    if not isinstance(rule, dict):
        return None
    schema = schema_for(KINDS["Rules"])["properties"]["rules"]["items"]
    known, required = schema["properties"], schema["required"]
    reading = {k: v for k, v in rule.items() if k in known}
    for key, value in rule.items():
        near = nearest(key, known) if key not in known else None
        if near in required and near not in reading:
            reading[near] = value
    article = reading.get("article")
    if isinstance(article, list) and len(article) == 1 and isinstance(article[0], str):
        reading["article"] = article[0]     # `article: [第五十五条]` names the article meant: its clause is checked
    for err in validator_for("Rules").iter_errors({"apiVersion": API_VERSION, "kind": "Rules", "rules": [reading]}):
        key = err.absolute_path[2] if len(err.absolute_path) > 2 else None
        if key in _OPTIONAL_RULE_KEYS or key in _UNREAD_RULE_KEYS:
            reading.pop(key, None)      # (an id or article unread: the rest of the rule is checked, not they)
    if isinstance(reading.get("then"), list):
        reading["then"] = [_conclusion_reading(c) for c in reading["then"]]
    return reading


def _conclusion_reading(conclusion):
    """A conclusion as read for checking only: with no `decide:` or `derive:`, a key nearest one of them (`decid:`) read
    as it; then each key its form does not take read as the one it is nearest to that is not written (`valu:` as
    `value:`), or left out."""
    if not isinstance(conclusion, dict):
        return conclusion
    forms = {alt["required"][0]: alt["properties"] for alt in schema_for(KINDS["Rules"])["$defs"]["conclusion"]["oneOf"]}
    keyword = next((k for k in forms if k in conclusion), None)
    reading = dict(conclusion)
    if keyword is None:
        key, keyword = next(((k, near) for k in conclusion for near in [nearest(str(k), forms)] if near), (None, None))
        if keyword is None:
            return conclusion
        reading = {keyword if k == key else k: v for k, v in conclusion.items()}
    takes = forms[keyword]
    out = {}
    for key, value in reading.items():
        near = key if key in takes else nearest(str(key), takes)
        if near is not None and near not in out and (near == key or near not in reading):
            out[near] = value
    return out


def _rule_of(issue, source: VersionSource):
    """(file, index) when the issue lies inside one rule of a Rules file, else None."""
    parts = issue.location.path.split(".", 1)[0] if issue.location.path else ""
    if not parts.startswith("rules[") or not issue.code.startswith("schema."):
        return None
    doc = next((d for d in source.documents if d.file == issue.location.file), None)
    if doc is None or doc.kind != "Rules":
        return None
    try:
        return (doc.file, int(parts[len("rules["):parts.index("]")]))
    except ValueError:
        return None
