"""Editor schemas: the whole rule language from the operator registry, each version's names, and a real
validator (check-jsonschema) catching an operator typo inside a condition."""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, shipped_root
from regcode.engine._operators import CONDITIONS, EXPRESSIONS
from regcode.engine.schema import language_schema, policy_schema, write_schemas
from regcode.engine.validate import operator_schemas

from conftest import FIXTURES, REPO, TEST_POLICIES

BROKEN_RULES = """\
apiVersion: regcode/v1
kind: Rules
rules:
  - id: mode-credit-for-aa
    article: 第三十条
    title: 对AA类企业实施信用监管方式
    when:
      all:
        - {expr: {decision: classification}, op: '=', value: aa}
        - some: licenses
          as: lic
          where: {pth: lic.risk_level, op: '==', value: i}
    then:
      - decide: supervision_mode
        value: credit
"""


def check_jsonschema(schema, *files):
    """The real validator, as CI and editors' command-line users run it."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    cat = Catalog([TEST_POLICIES])
    out = tmp_path_factory.mktemp("schemas")
    write_schemas(out, [cat.by_ref("shanghai-post-license@2017"), cat.by_ref("toy@1")])
    return out


def policy_files(directory):
    return sorted(p for p in directory.rglob("*.yaml"))


def test_check_jsonschema_reports_the_operator_typos_inside_a_condition(written, tmp_path):
    draft = tmp_path / "draft.yaml"
    draft.write_text(BROKEN_RULES, encoding="utf-8")
    for schema in (written / "regcode-v1.schema.json", written / "shanghai-post-license@2017.schema.json"):
        result = check_jsonschema(schema, draft)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "$.rules[0].when.all[1].where: 'pth' is not one of" in result.stdout
        assert "$.rules[0].when.all[0].op: '=' is not one of ['==', '!='" in result.stdout


def test_every_version_s_files_pass_their_own_editor_schema(tmp_path):
    """No false alarm from a version's own schema (its fact paths, lists and aliases): every version of
    policies/, tests/policies/ and examples/amendment/ (examples/drafting is a draft with mistakes left in)."""
    checked = []
    for root in (shipped_root(), TEST_POLICIES, REPO / "examples" / "amendment" / "policies"):
        cat = Catalog([root])
        for pid in cat.policy_ids():
            for version in cat.versions(pid):
                policy = cat.by_ref(f"{pid}@{version.version}")
                if not Path(policy.directory).resolve().is_relative_to(root.resolve()):
                    continue
                schema = tmp_path / f"{policy.ref}.schema.json"
                schema.write_text(json.dumps(policy_schema(policy), ensure_ascii=False), encoding="utf-8")
                result = check_jsonschema(schema, *policy_files(Path(policy.directory)))
                assert result.returncode == 0, policy.ref + ": " + result.stdout + result.stderr
                checked.append(policy.ref)
    assert {"shanghai-post-license@2017", "toy@1", "shanghai-post-license@2022-illustration"} <= set(checked), checked


def test_every_shipped_policy_file_passes_its_editor_schema(written):
    """No false alarm in the editor: every file of the shipped and test policies validates."""
    shanghai = policy_files(shipped_root() / "shanghai-post-license" / "2017")
    toy = policy_files(TEST_POLICIES / "toy" / "1")
    for schema, files in ((written / "shanghai-post-license@2017.schema.json", shanghai),
                          (written / "toy@1.schema.json", toy),
                          (written / "regcode-v1.schema.json", shanghai + policy_files(TEST_POLICIES)
                           + policy_files(REPO / "examples" / "amendment"))):
        result = check_jsonschema(schema, *files)
        assert result.returncode == 0, result.stdout + result.stderr
    result = check_jsonschema(written / "shanghai-post-license@2017.case.schema.json", *sorted((REPO / "examples" / "cases").glob("*.yaml")))
    assert result.returncode == 0, result.stdout


def test_every_registry_keyword_is_in_the_language_schema():
    defs = language_schema()["definitions"]
    assert set(CONDITIONS) == set(operator_schemas()["conditions"]), "registry and operators.schema.yaml disagree"
    assert set(EXPRESSIONS) == set(operator_schemas()["expressions"]), "registry and operators.schema.yaml disagree"
    for keyword in CONDITIONS:
        assert f"condition.{keyword}" in defs and keyword in defs["condition"]["propertyNames"]["enum"]
    for keyword in EXPRESSIONS:
        assert f"expression.{keyword}" in defs and keyword in defs["expression_form"]["propertyNames"]["enum"]
    jsonschema.Draft7Validator.check_schema(language_schema())


def _rules(when):
    return {"apiVersion": "regcode/v1", "kind": "Rules",
            "rules": [{"id": "r", "article": "第二条", "title": "t", "when": when, "then": [{"decide": "d", "value": 1}]}]}


def test_a_new_operator_entry_updates_the_editor_schema_with_no_other_edit():
    operators = copy.deepcopy(operator_schemas())
    operators["conditions"]["matches"] = {
        "type": "object", "required": ["matches", "pattern"], "additionalProperties": False,
        "properties": {"matches": {"$ref": "#/$defs/fact_path"}, "pattern": {"type": "string"},
                       "where": {"$ref": "#/$defs/condition"}}}
    schema = language_schema(operators)
    validator = jsonschema.Draft7Validator(schema)
    assert not list(validator.iter_errors(_rules({"all": [{"matches": "a.b", "pattern": "x+"}]})))
    errors = list(validator.iter_errors(_rules({"matches": "a.b", "pattern": "x", "where": {"pth": "a"}})))
    assert any("'pth' is not one of" in e.message for e in errors)
    assert "matches" not in json.dumps(language_schema())   # the registry's copy is untouched


def test_the_rule_language_nests_conditions_and_expressions_everywhere():
    validator = jsonschema.Draft7Validator(language_schema())
    good = {"not": {"some": "xs", "as": "x", "where": {"any": [{"within": {"path": "x.d", "years": {"param": "n"}}},
                                                             {"expr": {"count": "ys", "as": "y"}, "op": ">=", "value": 2}]}}}
    assert not list(validator.iter_errors(_rules(good)))
    bad = copy.deepcopy(good)
    bad["not"]["where"]["any"][0]["within"]["years"] = {"parm": "n"}        # an expression slot
    bad["not"]["where"]["any"][1]["expr"]["where"] = {"op": "==", "value": 1}  # a condition without its keyword
    messages = [e.message for e in validator.iter_errors(_rules(bad))]
    assert any("'parm' is not one of" in m for m in messages)
    assert any("is not valid under any of the given schemas" in m for m in messages)
    assert list(validator.iter_errors(_rules({"path": "a", "op": "==", "value": None}))), "null is never a value"
    guarded = {**_rules({"present": "a"}), "guard": {"not": {"pth": "a", "op": "==", "value": 1}}}   # a rules file's guard
    assert any("'pth' is not one of" in e.message for e in validator.iter_errors(guarded))


def test_a_policy_schema_lists_the_versions_names(toy):
    schema = policy_schema(toy)
    defs = schema["definitions"]
    assert defs["decision_name"]["enum"] == sorted(toy.decisions)
    assert defs["parameter_name"]["enum"] == sorted(toy.parameters)
    assert defs["derived_name"]["enum"] == sorted(toy.derived)
    assert "applicant.employees" in defs["fact_path"]["anyOf"][0]["enum"]
    assert defs["list_path"]["anyOf"][0]["enum"] == ["incidents", "vehicles"]
    validator = jsonschema.Draft7Validator(schema)

    def errors(doc):
        return [e for e in validator.iter_errors(doc)]
    rules = _rules({"path": "applicant.employes", "op": ">", "value": {"param": "large_employer"}})
    rules["rules"][0]["then"] = [{"decide": "tier", "value": "platinum"}, {"decide": "vehicle_status", "value": "ok"},
                                 {"derive": "suspension", "with": {"plat": {"path": "v.plate"}}}]
    found = " | ".join(e.message for e in errors(rules)) + " | " + " | ".join(
        c.message for e in errors(rules) for c in (e.context or []))
    assert "'applicant.employes' is not one of" in found          # a fact path the case file does not have
    assert "'platinum' is not one of ['gold', 'silver', 'bronze']" in found
    assert "'key' is a required property" in found                 # a map decision needs its key
    assert "'plat' is not one of ['plate']" in found                # a derived fact's fields
    ok = _rules({"path": "v.kind", "op": "==", "value": "truck"})   # an alias path is not a root path: allowed
    ok["rules"][0]["then"] = [{"decide": "tier", "value": "gold"}]
    assert not errors(ok)
    case = {"apiVersion": "regcode/v1", "kind": "TestCases", "cases": [
        {"name": "n", "facts": {"applicant": {"name": "x"}}, "expect": {"tier": "gold", "feee": 1}}]}
    messages = " | ".join(e.message for e in errors(case))
    assert "'district' is a required property" in messages and "'feee'" in messages
    case["cases"][0] = {"name": "n", "facts": {"applicant": {"name": "x"}}, "expect_error": "input.schema"}
    assert not errors(case), "a case that expects an error may hold bad facts"


# (a path written in a rule, where it is written, whether the version's editor schema marks it)
PATHS = [
    ("applicant_nam", "path", True),      # a misspelt top-level fact, written alone
    ("incidens", "some", True),           # a misspelt list
    ("applicant", "some", True),          # a top-level fact that is no list
    ("applicant.nam", "path", True),      # a misspelt field of a top-level fact
    ("applicant.name", "path", False), ("as_of", "path", False), ("incidents", "some", False),
    ("inc", "path", False),               # an alias the toy's rules bind (`as: inc`), written alone
    ("v.kind", "path", False),            # alias.field, whatever the alias
    ("fresh.kind", "path", False), ("fresh.items", "some", False),
]


@pytest.mark.parametrize("written,slot,marked", PATHS, ids=[f"{slot}: {w}" for w, slot, _ in PATHS])
def test_a_policy_schema_marks_a_misspelt_fact_written_alone_never_an_alias(toy, written, slot, marked):
    """A name written alone is a fact of the case file or an alias the version's rules bind; alias.field
    stays open (the editor cannot see which `as:` is in scope), so its first name only may not be a fact's."""
    validator = jsonschema.Draft7Validator(policy_schema(toy))
    when = {"path": written, "op": "==", "value": 1} if slot == "path" else {"some": written, "as": "x", "where": {"present": "x.a"}}
    rules = _rules(when)
    rules["rules"][0]["then"] = [{"decide": "tier", "value": "gold"}]
    assert bool(list(validator.iter_errors(rules))) == marked


def test_schema_cli_writes_every_schema_and_the_editor_settings(tmp_path):
    result = CliRunner().invoke(regcode, ["schema", "--policy-root", str(TEST_POLICIES), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    cat = Catalog([TEST_POLICIES])
    refs = [f"{pid}@{v.version}" for pid in cat.policy_ids() for v in cat.versions(pid)]
    assert "toy@1" in refs and "shanghai-post-license@2017" in refs
    assert names == sorted([".regcode-schemas.json", "regcode-v1.schema.json", "yaml-language-server.settings.json"]
                           + [f"{ref}{suffix}" for ref in refs for suffix in (".schema.json", ".case.schema.json")])
    settings = json.loads((tmp_path / "yaml-language-server.settings.json").read_text(encoding="utf-8"))["yaml.schemas"]
    toy_globs = next(globs for schema, globs in settings.items() if schema.endswith("toy@1.schema.json"))
    assert any(g.endswith("tests/policies/toy/1/**/*.yaml") for g in toy_globs)
    once = CliRunner().invoke(regcode, ["schema", "toy@1", "--policy-root", str(TEST_POLICIES)])
    again = CliRunner().invoke(regcode, ["schema", "toy@1", "--policy-root", str(TEST_POLICIES)])
    assert once.exit_code == 0 and once.stdout == again.stdout
    assert json.loads(once.stdout)["definitions"]["decision_name"]["enum"][0] == "any_major"


def test_schema_cli_refuses_an_unknown_policy_in_one_paragraph():
    result = CliRunner().invoke(regcode, ["schema", "toyy@1", "--policy-root", str(TEST_POLICIES)])
    assert result.exit_code == 1
    assert "select.unknown_policy" in result.stderr and "did you mean `toy`?" in result.stderr
    assert "Traceback" not in result.output


def test_a_schema_rewrite_removes_the_schemas_it_no_longer_writes_and_refuses_a_folder_not_its_own(tmp_path):
    """`regcode schema --out` owns its folder as `regcode site` does: a version no longer written
    leaves no stale schema behind, and a folder of other files is not written into without --force."""
    out = tmp_path / "schemas"
    runner = CliRunner()
    first = runner.invoke(regcode, ["schema", "--out", str(out), "--policy-root", str(TEST_POLICIES)])
    assert first.exit_code == 0, first.output
    assert (out / "toy@1.schema.json").is_file()
    again = runner.invoke(regcode, ["schema", "shanghai-post-license@2017", "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert not (out / "toy@1.schema.json").exists() and f"removed {out / 'toy@1.schema.json'}" in again.output
    assert sorted(p.name for p in out.iterdir()) == [".regcode-schemas.json", "regcode-v1.schema.json",
                                                      "shanghai-post-license@2017.case.schema.json",
                                                      "shanghai-post-license@2017.schema.json",
                                                      "yaml-language-server.settings.json"]
    mapping = json.loads((out / "yaml-language-server.settings.json").read_text(encoding="utf-8"))["yaml.schemas"]
    assert [k.rsplit("/", 1)[-1] for k in mapping] == ["shanghai-post-license@2017.schema.json"]

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine", encoding="utf-8")
    refused = runner.invoke(regcode, ["schema", "--out", str(theirs)])
    assert refused.exit_code == 1 and "output.not_ours" in refused.output and "--force" in refused.output
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]
    forced = runner.invoke(regcode, ["schema", "--out", str(theirs), "--force"])
    assert forced.exit_code == 0 and (theirs / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (theirs / "regcode-v1.schema.json").is_file()


def test_a_map_decision_s_claim_names_an_entry_or_takes_another_map_whole(tmp_path):
    """tests/fixtures/maps copies a map decision whole (`value: {decision: grades}`, no `key:`): no false alarm;
    a claim with no key whose value is not a map decision is still marked, as validate refuses it."""
    policy = Catalog([FIXTURES]).by_ref("maps@1")
    schema = tmp_path / "maps.schema.json"
    schema.write_text(json.dumps(policy_schema(policy), ensure_ascii=False), encoding="utf-8")
    result = check_jsonschema(schema, *policy_files(Path(policy.directory)))
    assert result.returncode == 0, result.stdout + result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: regcode/v1\nkind: Rules\nrules:\n  - id: r\n    article: 第一条\n    title: t\n"
                   "    then: [{decide: grades, value: {decision: any_high}}]\n", encoding="utf-8")
    result = check_jsonschema(schema, bad)
    assert result.returncode == 1 and "$.rules[0].then[0]" in result.stdout, result.stdout


def test_settings_relative_to_a_workspace_name_only_paths_yaml_language_server_reads_as_relative(tmp_path):
    """With --workspace, every schema in the settings is `./` and its path in the workspace, one yaml-language-server's
    isRelativePath takes (RELATIVE_PATH, quoted from it: no `@` in the file name, which is why the version schemas are
    ID/VERSION.schema.json there), and every glob is the version folder's path in it: the workspace itself (`**/...`),
    a folder below, a broken draft (mapped to the language schema). Switching to and from the default in one --out
    folder leaves no file of the other layout behind."""
    from regcode.engine.schema import RELATIVE_PATH
    ws = tmp_path / "ws"
    shutil.copytree(TEST_POLICIES / "toy", ws / "policies" / "toy")
    shutil.copytree(TEST_POLICIES / "toy" / "1", ws / "drafts" / "toy" / "3")
    (ws / "drafts" / "toy" / "3" / "policy.yaml").write_text(
        (TEST_POLICIES / "toy" / "1" / "policy.yaml").read_text(encoding="utf-8").replace('version: "1"', 'version: "3"')
        .replace("effective_from: 2020-01-01", "effective_from: 2025-01-01"), encoding="utf-8")
    (ws / "drafts" / "toy" / "3" / "rules" / "broken.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\nrules:\n  - {id: x}\n",
                                                                      encoding="utf-8")
    out = ws / ".regcode" / "schemas"
    runner = CliRunner()
    args = ["schema", "--policy-root", str(ws / "policies"), "--policy-root", str(ws / "drafts"), "--out", str(out)]
    result = runner.invoke(regcode, args + ["--workspace", str(ws)])
    assert result.exit_code == 1 and "toy@3" in result.stderr, result.output      # the draft does not compile
    mapping = json.loads((out / "yaml-language-server.settings.json").read_text(encoding="utf-8"))["yaml.schemas"]
    assert mapping == {"./.regcode/schemas/regcode-v1.schema.json": ["drafts/toy/3/**/*.yaml", "drafts/toy/3/**/*.yml"],
                       "./.regcode/schemas/toy/1.schema.json": ["policies/toy/1/**/*.yaml", "policies/toy/1/**/*.yml"]}
    assert all(RELATIVE_PATH.match(schema) and (ws / schema).is_file() for schema in mapping), mapping
    assert not RELATIVE_PATH.match("./.regcode/schemas/toy@1.schema.json")      # the default's names would not do
    assert not list(out.glob("*@*"))

    # the workspace the version folder itself, all of its files the version's (the engine's call, on a copy: an --out
    # folder there would be read as the version's files from then on)
    shutil.copytree(TEST_POLICIES / "toy", tmp_path / "ws2" / "toy")
    version = Catalog([tmp_path / "ws2"]).by_ref("toy@1")
    folder = Path(version.directory)
    write_schemas(folder / ".schemas", [version], workspace=folder)
    inside = json.loads((folder / ".schemas" / "yaml-language-server.settings.json").read_text(encoding="utf-8"))
    assert inside["yaml.schemas"] == {"./.schemas/toy/1.schema.json": ["**/*.yaml", "**/*.yml"]}

    back = runner.invoke(regcode, args)       # the default again, in the same folder
    assert f"removed {out / 'toy' / '1.schema.json'}" in back.output and not (out / "toy").exists()
    assert (out / "toy@1.schema.json").is_file() and all(k.startswith("/") for k in json.loads(
        (out / "yaml-language-server.settings.json").read_text(encoding="utf-8"))["yaml.schemas"])


@pytest.mark.parametrize("given, says", [
    (["--workspace", "{ws}"], "--workspace: the settings it makes relative are written with --out DIR only"),
    (["--workspace", "{ws}", "--out", "{tmp}/elsewhere"], "is not inside the workspace"),
    (["--workspace", "{ws}", "--out", "{ws}/规则/schemas"], "is not one yaml-language-server reads as relative"),
])
def test_settings_relative_to_a_workspace_that_cannot_be_written_are_a_usage_error(tmp_path, given, says):
    ws = tmp_path / "ws"
    ws.mkdir()
    args = [a.format(ws=ws, tmp=tmp_path) for a in given]
    result = CliRunner().invoke(regcode, ["schema", "--policy-root", str(TEST_POLICIES), *args])
    assert result.exit_code == 1 and says in result.stderr and result.stderr.startswith("regcode schema: --"), result.output
    assert "Traceback" not in result.output and sorted(p.name for p in tmp_path.rglob("*")) == ["ws"]
