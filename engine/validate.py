"""Stage 2, validate: every file against the JSON Schema of its kind (schemas/), all issues at once."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource

from .errors import IssueCollector, SchemaError, did_you_mean
from .load import Document, MarkedLoader, VersionSource

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


def schemas_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "schemas"


@lru_cache(maxsize=None)
def schema_for(filename: str) -> dict:
    with open(schemas_dir() / filename, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=MarkedLoader)


@lru_cache(maxsize=None)
def registry() -> Registry:
    """Every schema of schemas/ by its $id, so that one may $ref another (rules -> operators); nothing is fetched."""
    resources = [schema_for(p.name) for p in sorted(schemas_dir().glob("*.schema.yaml"))]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in resources if "$id" in s)


@lru_cache(maxsize=None)
def validator_for(kind: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema_for(KINDS[kind]), registry=registry(),
                                           format_checker=jsonschema.FormatChecker())


def operator_schemas() -> dict:
    return schema_for("operators.schema.yaml")


def _message(err: jsonschema.ValidationError) -> tuple:
    """A one-line message and hint for a schema error: what was found, what is allowed."""
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        return f"`{missing}` is required here", HINTS.get(missing, f"add `{missing}:`")
    if err.validator == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        hint = did_you_mean(extra[0], allowed) if extra else ""
        return (f"unknown key {', '.join('`%s`' % e for e in extra)}; allowed: {', '.join(allowed)}",
                hint or "remove it")
    if err.validator == "enum":
        allowed = err.validator_value
        return (f"{err.instance!r} is not one of {', '.join(map(str, allowed))}",
                did_you_mean(str(err.instance), map(str, allowed)))
    if err.validator == "const":
        return f"{err.instance!r} should be {err.validator_value!r}", ""
    if err.validator == "pattern":
        return f"{err.instance!r} does not have the expected form ({err.validator_value})", ""
    if err.validator == "oneOf" and isinstance(err.instance, dict):
        return (f"this mapping fits none of the allowed forms ({err.message[:120]})",
                "see docs/policy-format.md for the forms this place takes")
    return err.message, ""


def schema_issues(doc: Document, validator, issues: IssueCollector, code_prefix: str = "schema") -> None:
    """Report a document's schema errors: the most relevant one per top-level item (best_match)."""
    groups = defaultdict(list)
    for err in validator.iter_errors(doc.data):
        groups[tuple(err.absolute_path)[:2]].append(err)
    for key in sorted(groups, key=lambda k: tuple(str(p) for p in k)):
        err = jsonschema.exceptions.best_match(groups[key])
        message, hint = _message(err)
        issues.add(f"{code_prefix}.{err.validator}", message, doc.location(tuple(err.absolute_path)), hint)


@dataclass
class ValidatedVersion:
    """A version whose files passed their kind's schema, except single rules that did not: those are
    set aside (`rejected`) with their issues (`carried`), so that compile still checks every other
    rule and the drafter sees every mistake at once."""

    source: VersionSource
    carried: list = field(default_factory=list)
    rejected: frozenset = frozenset()        # (file, index) of rules set aside

    def of_kind(self, kind: str) -> list:
        return self.source.of_kind(kind)

    @property
    def manifest(self) -> Document:
        return self.of_kind("Policy")[0]


def validate_version(source: VersionSource) -> ValidatedVersion:
    """Check kinds and schemas of every file; check the facts schema is itself a valid JSON Schema."""
    issues = IssueCollector()
    for doc in source.documents:
        if not isinstance(doc.data, dict):
            issues.add("schema.type", f"a policy file must be a mapping, found {type(doc.data).__name__}",
                       doc.location(), f"start with `apiVersion: {API_VERSION}` and `kind:`")
            continue
        if doc.data.get("apiVersion") != API_VERSION:
            found = doc.data.get("apiVersion")
            issues.add("schema.api_version", f"apiVersion is {found!r}; this regcode reads {API_VERSION!r}",
                       doc.location(("apiVersion",)), HINTS["apiVersion"])
            continue
        kind = doc.data.get("kind")
        if kind not in KINDS:
            issues.add("schema.kind", f"unknown kind {kind!r}; one of {', '.join(sorted(KINDS))}",
                       doc.location(("kind",)), did_you_mean(str(kind), KINDS))
            continue
        schema_issues(doc, validator_for(kind), issues)
        if kind == "FactsSchema" and isinstance(doc.data.get("schema"), dict):
            try:
                jsonschema.Draft202012Validator.check_schema(doc.data["schema"])
            except jsonschema.SchemaError as exc:
                issues.add("schema.facts_schema", f"the facts schema is not valid JSON Schema: {exc.message}",
                           doc.location(("schema",) + tuple(exc.path)), "fix it against JSON Schema draft 2020-12")
    manifests = source.of_kind("Policy")
    if len(manifests) != 1:
        where = manifests[1].location() if len(manifests) > 1 else source.documents[0].location() if source.documents else None
        if where is not None:
            issues.add("schema.manifest", f"a version has exactly one `kind: Policy` file; found {len(manifests)}", where,
                       "keep the manifest in policy.yaml only")
    elif not issues:
        data = manifests[0].data
        if data.get("version") != source.version:
            issues.add("schema.version", f"the manifest says version {data.get('version')!r} but the folder is {source.version!r}",
                       manifests[0].location(("version",)), "make them the same")
        if data.get("id") != source.policy_id:
            issues.add("schema.policy_id", f"the manifest says id {data.get('id')!r} but the folder is {source.policy_id!r}",
                       manifests[0].location(("id",)), "make them the same")
        if data.get("effective_to") and data["effective_to"] < data["effective_from"]:
            issues.add("schema.window", "effective_to is before effective_from", manifests[0].location(("effective_to",)), "")
        facts = source.of_kind("FactsSchema")
        if not data.get("extends") and len([d for d in facts if "schema" in d.data]) != 1:
            issues.add("schema.facts_schema", f"a version that extends none needs exactly one FactsSchema with `schema:`; found {len(facts)}",
                       manifests[0].location(), "add facts.schema.yaml (kind: FactsSchema)")
    # A problem inside one rule spoils only that rule; anything else (a manifest, a declaration,
    # the shape of a file) would make the rules' checks report echoes of it, so it stops here.
    rejected = set()
    for issue in issues.issues:
        rule = _rule_of(issue, source)
        if rule is None:
            raise SchemaError(list(source.carried) + issues.issues)
        rejected.add(rule)
    return ValidatedVersion(source, list(source.carried) + issues.issues, frozenset(rejected))


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
