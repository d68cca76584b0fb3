"""Editor schemas: the whole rule language, and one policy version's own names, as draft-07 JSON Schemas for yaml-language-server."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Optional

from ._shapes import Shape
from .compile import CompiledPolicy
from .errors import Issue, Location, file_name
from .outdir import OutputError, claim, write_owned
from .validate import API_VERSION, KINDS, operator_schemas, schema_for

# yaml-language-server (and the JSON language service under it) implements draft-07; 2019-09 and
# 2020-12 are not supported there, so the editor schemas are written in draft-07.
DRAFT7 = "http://json-schema.org/draft-07/schema#"
LANGUAGE_FILE = "regcode-v1.schema.json"
SETTINGS_FILE = "yaml-language-server.settings.json"
# Keywords draft-07 does not have: a facts schema that uses one is left to case.schema.json (2020-12).
NEWER_KEYWORDS = {"$defs", "prefixItems", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
                  "unevaluatedItems", "$dynamicRef", "$dynamicAnchor", "$anchor", "minContains", "maxContains"}
# Literals a rule may write where an expression goes: compile refuses null ("a value is missing here").
LITERAL = {"type": ["string", "number", "boolean", "array"], "items": {"type": ["string", "number", "boolean"]}}
MAX_PATHS = 2000   # bound on the fact paths listed for one policy (deep or recursive facts schemas)


# ---- draft 2020-12 (schemas/) -> draft-07 ---------------------------------------------------
def _convert(node, refs):
    """Copy a schema node into draft-07: `$defs` become `definitions`, `$ref`s are rewritten by `refs`,
    and a `$ref` with siblings (allowed in 2020-12, where draft-07 ignores the siblings) goes into allOf."""
    if isinstance(node, list):
        return [_convert(v, refs) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref" and isinstance(value, str):
            out["$ref"] = refs(value)
        elif key in ("properties", "patternProperties", "$defs", "definitions"):
            out["definitions" if key == "$defs" else key] = {k: _convert(v, refs) for k, v in value.items()}
        else:
            out[key] = _convert(value, refs)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}] + out.get("allOf", [])
    return out


def _keyword_dispatch(entries: dict, prefix: str, what: str) -> dict:
    """An object that is exactly one of `entries`: its keys must be keys some entry knows (so `pth:`
    is an error naming `pth`), one keyword must be present, and the keyword's entry then applies."""
    known = sorted({k for entry in entries.values() for k in (entry.get("properties") or {})} | set(entries))
    # The keyword is required only once every key is known, so that a misspelt keyword is reported
    # once, as the unknown key it is, and not also as a missing keyword.
    return {
        "type": "object",
        "description": f"{what}: one of {', '.join(sorted(entries))}",
        "propertyNames": {"enum": known},
        "allOf": [{"if": {"propertyNames": {"enum": known}}, "then": {"anyOf": [{"required": [kw]} for kw in sorted(entries)]}}]
        + [{"if": {"required": [kw]}, "then": {"$ref": f"#/definitions/{prefix}.{kw}"}} for kw in entries],
    }


def language_schema(operators: Optional[dict] = None) -> dict:
    """One draft-07 schema for every regcode/v1 policy file: it dispatches on `kind` to that kind's
    schema (schemas/*.schema.yaml), with `when`, `where`, `not`, `all`/`any` items and every
    expression slot expanded into the recursive condition and expression forms of the operator
    registry (schemas/operators.schema.yaml). A new operator entry appears here with no other edit."""
    operators = operators if operators is not None else operator_schemas()
    defs: dict = {}

    def operator_ref(ref: str) -> str:   # '#/$defs/x' inside operators.schema.yaml
        return "#/definitions/" + ref.split("#/$defs/", 1)[1] if "#/$defs/" in ref else ref

    for name, node in operators.get("$defs", {}).items():
        defs[name] = _convert(node, operator_ref)
    for group, prefix in (("conditions", "condition"), ("expressions", "expression")):
        for keyword, entry in operators.get(group, {}).items():
            defs[f"{prefix}.{keyword}"] = _convert(entry, operator_ref)
    defs["condition"] = _keyword_dispatch(operators.get("conditions", {}), "condition", "a condition")
    defs["expression_form"] = _keyword_dispatch(operators.get("expressions", {}), "expression", "an expression")
    defs["expression"] = {"description": "a literal, or an expression: " + ", ".join(sorted(operators.get("expressions", {}))),
                          "if": {"type": "object"}, "then": {"$ref": "#/definitions/expression_form"}, "else": LITERAL}
    for kind, filename in sorted(KINDS.items()):
        source = schema_for(filename)

        def kind_ref(ref: str, kind=kind) -> str:
            if ref.startswith("operators#"):
                return operator_ref(ref.split("operators", 1)[1])
            if ref.startswith("#/$defs/"):
                return f"#/definitions/{kind}.{ref[len('#/$defs/'):]}"
            return ref

        body = _convert({k: v for k, v in source.items() if k != "$defs"}, kind_ref)
        for name, node in (source.get("$defs") or {}).items():
            defs[f"{kind}.{name}"] = _convert(node, kind_ref)
        defs[f"kind.{kind}"] = body
    return {
        "$schema": DRAFT7,
        "$comment": "generated by `regcode schema` from schemas/*.schema.yaml; regenerate it, do not edit it",
        "title": f"a regcode policy file ({API_VERSION})",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {"apiVersion": {"const": API_VERSION}, "kind": {"enum": sorted(KINDS)}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"$ref": f"#/definitions/kind.{kind}"}} for kind in sorted(KINDS)],
        "definitions": dict(sorted(defs.items())),
    }


# ---- one policy version's names ----------------------------------------------------------
def fact_paths(shape: Shape) -> tuple:
    """(every dotted path of the case file that names a field, those that name a list), bounded."""
    paths, lists = [], []
    stack = [((), shape)]
    while stack and len(paths) < MAX_PATHS:
        prefix, node = stack.pop()
        for key, child in sorted(node.props.items(), reverse=True):
            path = prefix + (key,)
            paths.append(".".join(path))
            if child.kind == "array":
                lists.append(".".join(path))
            elif child.kind == "object" and len(path) < 16:
                stack.append((path, child))
    return sorted(paths), sorted(lists)


def _path_schema(known: list, roots: list, aliases: list, what: str) -> dict:
    """A path is one the case file has, an alias the version's rules bind with `as:` written alone, or
    alias.field: dotted, its first name not one of the case file's top level (compile refuses an alias that
    hides one). A single bare name is thus a known fact or a known alias (`classification_shown_onlin` and
    `some: licences` are marked); a fresh alias written alone is known once the schema is written again."""
    segment = r"[A-Za-z_一-鿿][A-Za-z0-9_一-鿿]*"
    not_root = "(?!(?:" + "|".join(re.escape(r) for r in sorted(roots)) + r")\.)" if roots else ""
    return {"type": "string", "description": what,
            "anyOf": [{"enum": known}] + ([{"enum": aliases}] if aliases else [])
            + [{"pattern": f"^{not_root}{segment}(\\.{segment})+$"}]}


def bound_aliases(rules: list) -> list:
    """The names the rules bind with `as:` (for_each, some, count, latest, ...), at any depth, sorted."""
    found: set = set()
    stack = [rules]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("as"), str):
                found.add(node["as"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)


def _member(typ: str, values) -> dict:
    if typ == "enum":
        return {"enum": list(values or [])}
    if typ == "bool":
        return {"type": "boolean"}
    if typ == "number":
        return {"type": "number"}
    if typ == "date":
        return {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    if typ == "list":
        item = {"enum": list(values)} if values else {"type": "string"}
        return {"type": "array", "items": item}
    return {"type": "string"}


def _nullable(schema: dict) -> dict:
    if "enum" in schema:
        return {"enum": schema["enum"] + [None]}
    if schema.get("type") in ("number", "string"):
        return {**schema, "type": [schema["type"], "null"]}
    return schema


def value_schema(decl) -> dict:
    """What a test case may expect of a decision (null: left at a null default)."""
    typ = decl.value_type if decl.type == "map" else decl.type
    one = _nullable(_member(typ, decl.values))
    return {"type": "object", "additionalProperties": one} if decl.type == "map" else one


def claim_schema(decl) -> dict:
    """A literal a rule may claim for a decision (never null); a list decision takes one code or a list of them."""
    typ = decl.value_type if decl.type == "map" else decl.type
    if typ == "list":
        return {"anyOf": [_member(typ, decl.values)["items"], _member(typ, decl.values)]}
    return _member(typ, decl.values)


def _uses(node, keywords: set, depth: int = 0) -> bool:
    """Does a schema use one of `keywords` (property names under `properties` are not keywords)?"""
    if depth > 64:
        return True
    if isinstance(node, list):
        return any(_uses(v, keywords, depth + 1) for v in node)
    if not isinstance(node, dict):
        return False
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            if any(_uses(v, keywords, depth + 1) for v in value.values()):
                return True
        elif key in keywords or _uses(value, keywords, depth + 1):
            return True
    return False


def _facts_schema(policy: CompiledPolicy) -> Optional[dict]:
    """The facts schema in draft-07 for the `facts` of test cases (which may take as_of from the case),
    or None when it needs 2020-12: then only case.schema.json has it."""
    if _uses(policy.facts_schema, NEWER_KEYWORDS - {"$defs"}):
        return None

    def refs(ref: str) -> str:
        return "#/definitions/TestCases.facts" + ref[1:].replace("/$defs/", "/definitions/") if ref.startswith("#") else ref
    facts = _convert(policy.facts_schema, refs)
    if "as_of" in facts.get("required", []):
        facts["required"] = [r for r in facts["required"] if r != "as_of"]
    return facts


def policy_schema(policy: CompiledPolicy, operators: Optional[dict] = None) -> dict:
    """The language schema narrowed to one version: its decision, parameter and derived-fact names,
    its fact paths, the value each decision takes, the fields of each derived fact, and (in test
    cases) the facts schema and the decisions' values under `expect`."""
    schema = language_schema(operators)
    defs = schema["definitions"]
    decisions, params, derived = sorted(policy.decisions), sorted(policy.parameters), sorted(policy.derived)
    paths, lists = fact_paths(policy.facts_shape)
    roots = sorted(policy.facts_shape.props)
    defs["decision_name"] = {"enum": decisions, "description": f"a decision of {policy.ref}"}
    defs["parameter_name"] = {"enum": params, "description": f"a parameter of {policy.ref}"}
    defs["derived_name"] = {"enum": derived, "description": f"a derived fact of {policy.ref}"}
    aliases = [a for a in bound_aliases(policy.resolved.get("rules", [])) if a not in roots]
    defs["fact_path"] = _path_schema(paths, roots, aliases, f"a field of {policy.ref}'s case file, alias.field, or an alias of its rules")
    defs["list_path"] = _path_schema(lists, roots, aliases, f"a list of {policy.ref}'s case file, alias.field, or an alias of its rules")
    defs["Rules.binding"] = {"enum": derived + lists, "description": "a derived fact, or a list of the case file"}
    claims = []
    maps = [n for n in decisions if policy.decisions[n].type == "map"]
    for name in decisions:
        decl = policy.decisions[name]
        then: dict = {"properties": {"value": {"if": {"type": "object"}, "then": {"$ref": "#/definitions/expression_form"},
                                               "else": claim_schema(decl)}}}
        if decl.type == "map":      # an entry by its key, or another map decision whole (no key)
            whole = {"type": "object", "required": ["decision"], "additionalProperties": False,
                     "properties": {"decision": {"enum": maps}}}
            then["anyOf"] = [{"required": ["key", "value"]},
                             {"required": ["value"], "not": {"required": ["key"]}, "properties": {"value": whole}}]
        else:
            then["not"] = {"required": ["key"]}
        claims.append({"if": {"required": ["decide"], "properties": {"decide": {"const": name}}}, "then": then})
    for name in derived:
        fields = sorted(policy.derived[name].props)
        claims.append({"if": {"required": ["derive"], "properties": {"derive": {"const": name}}},
                       "then": {"properties": {"with": {"propertyNames": {"enum": fields}}}}})
    defs["Rules.conclusion"] = {"allOf": [defs["Rules.conclusion"]] + claims}
    defs["TestCases.expect"] = {"type": "object", "additionalProperties": False,
                                "properties": {n: value_schema(policy.decisions[n]) for n in decisions}}
    facts = _facts_schema(policy)
    if facts is not None:
        defs["TestCases.facts"] = facts
    schema["title"] = f"a policy file of {policy.ref} ({API_VERSION})"
    schema["$comment"] = (f"generated by `regcode schema {policy.ref}` from schemas/*.schema.yaml and the version's "
                          "declarations; regenerate it after changing them")
    schema["definitions"] = dict(sorted(defs.items()))
    return schema


def case_schema(policy: CompiledPolicy) -> dict:
    """A case file of this version: its facts schema as written (its own draft)."""
    schema = copy.deepcopy(policy.facts_schema)
    schema.setdefault("$comment", f"the facts schema of {policy.ref}, written by `regcode schema`")
    return schema


# ---- writing -----------------------------------------------------------------------------
SCHEMA_MANIFEST = ".regcode-schemas.json"


def schema_names(policy: CompiledPolicy, workspace: bool = False) -> dict:
    """The file names of a version's two schemas in the --out folder: `ID@VERSION.schema.json` and
    `ID@VERSION.case.schema.json`; for settings relative to a workspace `ID/VERSION.schema.json` and
    `ID/VERSION.case.schema.json`, as yaml-language-server reads a path as relative only without an `@` in its file name
    (RELATIVE_PATH)."""
    stem = f"{policy.id}/{policy.version}" if workspace else policy.ref
    return {"policy": f"{stem}.schema.json", "case": f"{stem}.case.schema.json"}


def write_schemas(out: Path, policies: list, force: bool = False, broken=(), workspace: Optional[Path] = None) -> list:
    """Write the language schema, each version's policy-file and case-file schemas, and a settings
    mapping for yaml-language-server (each version's folder -> its schema; each folder in `broken`, a
    version that does not compile, -> the language schema). The folder is regcode's own, as the
    site's is (engine/outdir.py): a rewrite removes the schemas of a version no longer written, and a
    folder holding files regcode did not write is refused unless `force`. Returns the paths written, with
    `outside`: the version folders left out of the mapping, outside `workspace`.

    Without `workspace` the mapping names every path absolutely; with it (the editor's workspace folder, which
    holds `out`: relative_out says so), relative to it, the same on every machine the workspace is checked out on."""
    out = Path(out)
    files = {LANGUAGE_FILE: dumps(language_schema())}
    mapping: dict = {}
    outside: list = []
    root = Path(workspace).resolve() if workspace is not None else None
    if root is not None and (why := relative_out(out, root)) is not None:
        raise ValueError(why)     # (the CLI says it as a usage error first)

    def mapped(schema: str, directory) -> None:
        globs = _version_globs(Path(directory), root)
        if globs is None:
            outside.append(Path(directory).resolve())
        else:
            mapping.setdefault(_schema_path(out / schema, root), []).extend(globs)

    for policy in policies:
        names = schema_names(policy, root is not None)
        files[names["policy"]] = dumps(policy_schema(policy))
        files[names["case"]] = dumps(case_schema(policy))
        mapped(names["policy"], policy.directory)
    for directory in broken:
        mapped(LANGUAGE_FILE, directory)
    mapping = {schema: sorted(globs) for schema, globs in mapping.items()}
    _utf8_paths(mapping)
    files[SETTINGS_FILE] = dumps({"yaml.schemas": dict(sorted(mapping.items()))})
    previous = claim(out, SCHEMA_MANIFEST, "regcode-schemas", files, force, "editor schemas")
    written = write_owned(out, SCHEMA_MANIFEST, "regcode-schemas", files, previous, "editor schemas")
    written.outside = sorted(outside)
    return written


def _utf8_paths(mapping: dict) -> None:
    """The settings name the schemas and the versions' folders by their paths, in a UTF-8 file: a path holding a byte
    that is not UTF-8 cannot be written there (nor matched by the editor), so it is said before anything is written."""
    for path in [p for schema, globs in mapping.items() for p in [schema, *globs] if file_name(p) != p]:
        shown = file_name(path)
        raise OutputError([Issue("output.path", f"the path `{shown}` holds bytes that are not UTF-8 (shown as \\xNN): the "
                                 f"editor settings {SETTINGS_FILE} name it, and a UTF-8 file cannot hold it; nothing was written",
                                 Location(shown), "rename the folder so that its path is UTF-8 (for --out: or write to another)")])


# The settings read the same from wherever regcode runs. yaml-language-server resolves a relative schema path from
# the editor's workspace root, which regcode does not know unless told (--workspace; the working folder was taken for
# it once, so the file changed with the folder regcode ran in): without it a schema is named by its absolute path,
# which it takes as it is, and a version's files by a glob of its folder's absolute path (a pattern matches the end
# of a file's path: the server puts `**/` before it).
#
# With the workspace, a schema is `./` and its path below the workspace: yaml-language-server takes a schema path as
# relative to the workspace root only when it matches its isRelativePath (src/languageservice/utils/paths.ts, quoted
# here: ASCII letters, digits, `_`, `-`, `.`, `@` and spaces in folder names, no `@` in the file name), and `./` keeps
# it from the branch that reads a path starting with a workspace folder's name (a string prefix: a folder named
# `regcode` would take `regcode-v1.schema.json`) as below that folder. A version folder's glob is its path below the
# workspace (no `./`: the server's `**/` before `./` matches nothing).
RELATIVE_PATH = re.compile(r"^(((\.\.?)|([\w@. -]+))(/|\\\\?))*[\w. -]*\.[\w-]+$", re.I | re.A)


def relative_out(out: Path, workspace: Path) -> Optional[str]:
    """Why `out` cannot hold schemas the settings name relative to `workspace` (None when it can): it is not inside
    the workspace, or its path there is not one yaml-language-server reads as relative (RELATIVE_PATH)."""
    out, root = Path(out).resolve(), Path(workspace).resolve()
    if not out.is_relative_to(root):
        return f"{out} is not inside the workspace {root}: the settings name the schemas relative to it"
    below = out.relative_to(root).as_posix()
    if not RELATIVE_PATH.match(_schema_path(out / LANGUAGE_FILE, root)):    # (ids and versions are names it reads)
        return (f"its path in the workspace, `{below}`, is not one yaml-language-server reads as relative to the workspace: "
                "name its folders with ASCII letters, digits, `-`, `_`, `.`, `@` and spaces")
    return None


def _schema_path(path: Path, workspace: Optional[Path] = None) -> str:
    if workspace is None:
        return path.resolve().as_posix()
    return "./" + path.resolve().relative_to(workspace).as_posix()


def _version_globs(directory: Path, workspace: Optional[Path] = None) -> Optional[list]:
    """The globs of a version folder's files: absolute, or below `workspace` (None when it is not below it)."""
    folder = directory.resolve()
    if workspace is None:
        return [f"{folder.as_posix()}/**/*.yaml", f"{folder.as_posix()}/**/*.yml"]
    if not folder.is_relative_to(workspace):
        return None
    below = folder.relative_to(workspace).as_posix()
    prefix = "" if below == "." else below + "/"
    return [f"{prefix}**/*.yaml", f"{prefix}**/*.yml"]


def dumps(schema: dict) -> str:
    """The printed form: deterministic (sorted keys), UTF-8 kept."""
    return json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

