"""Hostile and careless input through the CLI (issue 13): exit 1 with a located message, never exit 3,
nothing lost from a batch, nothing reached outside the policy root, every cost bounded."""
from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli import commands  # noqa: F401
from regcode.cli.main import regcode
from regcode.engine import load

from conftest import REPO, TEST_POLICIES, generator as gen
from test_load import alias_bomb

TOY = ["--policy-root", str(TEST_POLICIES), "--policy", "toy"]
TOY_CASE = "as_of: 2020-06-30\napplicant: {name: 甲, district: 浦东新区}\n"


def run(*args, input=None):
    result = CliRunner().invoke(regcode, [str(a) for a in args], input=input)
    assert result.exit_code in (0, 1), (result.exit_code, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result


def toy_copy(tmp_path, tests: bool = False) -> Path:
    """A copy of the toy policy under tmp_path/policies, without its test cases unless `tests`."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    if not tests:
        shutil.rmtree(root / "toy" / "1" / "tests")
    return root


def errors_of(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def json_errors(result) -> list:
    return json.loads(result.stderr)["errors"]


# ---- 1. control characters ------------------------------------------------------------------
@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1a"])
def test_control_character_in_a_case_file_is_exit_1_with_its_place(tmp_path, char):
    case = tmp_path / "case.yaml"
    case.write_text(f"as_of: 2020-06-30\napplicant: {{name: 甲{char}, district: 浦东新区}}\n", encoding="utf-8")
    result = run("eval", *TOY, "--format", "json", case)
    assert result.exit_code == 1
    (err,) = json_errors(result)
    assert err["code"] == "input.syntax"
    assert (err["location"]["file"], err["location"]["line"], err["location"]["column"]) == (str(case), 2, 20)


def test_control_character_in_a_policy_file_names_the_file(tmp_path):
    root = toy_copy(tmp_path)
    articles = root / "toy" / "1" / "articles.yaml"
    articles.write_text(articles.read_text(encoding="utf-8").replace("title:", "title:\x07", 1), encoding="utf-8")
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert [(e["code"], Path(e["location"]["file"]).name) for e in errors] == [("load.syntax", "articles.yaml")]
    assert errors[0]["location"]["line"] > 0


# ---- 2. values that pass input and would fail in output --------------------------------------
def _good_lines(n: int, seed: int = 3) -> list:
    return [gen.dumps(c) for c in gen.generate(n, seed=seed)]


HOSTILE_VALUES = {
    "lone surrogate in a value": ('"name":"', '"name":"\\ud800'),
    "lone surrogate in a key": ('{', '{"\\udfff":1,'),
    "integer beyond 64 bits": ('{', '{"x":123456789012345678901234567890,'),
    "integer of 5000 digits": ('{', '{"x":' + "7" * 5000 + ','),
    "float that overflows": ('{', '{"x":1e400,'),
    "NaN": ('{', '{"x":NaN,'),
    "Infinity": ('{', '{"x":-Infinity,'),
    "nesting deeper than the bound": ('{', '{"x":' + "[" * 100 + "]" * 100 + ','),
    "nesting past the parser's recursion": ('{', '{"x":' + "[" * 100000 + "]" * 100000 + ','),
    # shown as something else (an escape sequence), dropped, or breaking a CSV row or a line of text output
    "control characters escaped in a name": ('"name":"', '"name":"\\u0000\\u001b[2J\\r\\nevil'),
    "a tab escaped in a name": ('"name":"', '"name":"\\t'),
    "a C1 control in a name, which JSON allows as itself": ('"name":"', '"name":"\x9b2J'),
    "a line separator in a name": ('"name":"', '"name":"\u2028'),
}


def test_lone_surrogate_is_a_bad_record_not_a_lost_batch(tmp_path):
    good = _good_lines(5)
    hostile = good[2].replace('"name":"', '"name":"\\ud800', 1)
    assert hostile != good[2]
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join(good[:2] + [hostile] + good[3:]) + "\n", encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", source, "--out", out, "--errors", err, "--jobs", 1)
    assert result.exit_code == 1
    written = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["source"] for line in written] == [f"{source}:{i}" for i in (1, 2, 4, 5)]
    (bad,) = errors_of(err)
    assert bad["line"] == 3 and bad["errors"][0]["code"] == "input.text"
    assert bad["errors"][0]["location"]["path"] == "enterprise.name"


@pytest.mark.parametrize("kind", sorted(HOSTILE_VALUES))
def test_values_the_output_cannot_carry_are_bad_records_and_the_rest_finish(tmp_path, kind):
    old, new = HOSTILE_VALUES[kind]
    good = _good_lines(3, seed=9)
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join([good[0], good[1].replace(old, new, 1), good[2]]) + "\n", encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", source, "--out", out, "--errors", err, "--jobs", 1)
    assert result.exit_code == 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    (bad,) = errors_of(err)
    assert bad["line"] == 2 and bad["errors"][0]["code"].startswith("input.")
    message = bad["errors"][0]["message"]
    assert "sys." not in message and "recursion" not in message and len(message) < 400


@pytest.mark.parametrize("kind", sorted(HOSTILE_VALUES))
def test_eval_refuses_what_the_output_cannot_carry_with_exit_1(tmp_path, kind):
    old, new = HOSTILE_VALUES[kind]
    case = tmp_path / "case.json"
    case.write_text(_good_lines(1, seed=9)[0].replace(old, new, 1), encoding="utf-8")
    result = run("eval", "--format", "json", case)
    assert result.exit_code == 1 and result.stdout == ""
    assert all(e["code"].startswith("input.") for e in json_errors(result))


def test_escaped_surrogate_pair_in_a_json_case_file_is_the_character(tmp_path):
    case = tmp_path / "case.json"
    line = _good_lines(1, seed=9)[0]
    case.write_text(line.replace('"name":"', '"name":"\\ud83d\\ude00', 1), encoding="utf-8")
    result = run("eval", "--format", "json", case)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == str(case)


# ---- 3. alias bombs and size -----------------------------------------------------------------
def test_alias_bomb_case_file_is_refused_at_its_place(tmp_path):
    case = tmp_path / "bomb.yaml"
    case.write_text(alias_bomb(), encoding="utf-8")
    assert case.stat().st_size < 400
    result = run("eval", *TOY, "--format", "json", case)
    assert result.exit_code == 1
    (err,) = json_errors(result)
    assert err["code"] == "input.alias" and err["location"]["line"] > 1


def test_recursive_alias_case_file_is_refused(tmp_path):
    case = tmp_path / "rec.yaml"
    case.write_text("as_of: 2020-06-30\napplicant: &a {name: x, district: 浦东新区, more: *a}\n", encoding="utf-8")
    result = run("eval", *TOY, case)
    assert result.exit_code == 1 and "input.alias" in result.stderr and "recursion" not in result.stderr


def test_alias_bomb_in_articles_yaml_does_not_hang_validate(tmp_path):
    root = toy_copy(tmp_path)
    articles = root / "toy" / "1" / "articles.yaml"
    articles.write_text(articles.read_text(encoding="utf-8") + "\n" + alias_bomb(levels=7).replace("as_of", "bomb"),
                        encoding="utf-8")
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    codes = [e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"]]
    assert codes == ["load.alias"]


def test_case_file_over_the_size_limit_is_refused(tmp_path):
    case = tmp_path / "big.yaml"
    case.write_text(TOY_CASE + "# " + "x" * load.MAX_CASE_BYTES + "\n", encoding="utf-8")
    result = run("eval", *TOY, case)
    assert result.exit_code == 1 and "input.too_large" in result.stderr


def test_jsonl_line_over_the_size_limit_is_a_bad_record(tmp_path):
    good = _good_lines(2)
    source = tmp_path / "cases.jsonl"
    source.write_text(good[0] + "\n" + '{"pad": "' + "x" * load.MAX_CASE_BYTES + '"}\n' + good[1] + "\n", encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", source, "--out", out, "--errors", err, "--jobs", 1)
    assert result.exit_code == 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert [e["errors"][0]["code"] for e in errors_of(err)] == ["input.too_large"]


# ---- 4. $ref never leaves the policy ----------------------------------------------------------
def _with_ref(root: Path, ref: str, defs: str = "{name: {type: string, minLength: 1}}") -> Path:
    facts = root / "toy" / "1" / "facts.schema.yaml"
    text = facts.read_text(encoding="utf-8")
    text = text.replace("        name: {type: string}\n", f"        name: {{$ref: '{ref}'}}\n", 1)
    text = text.replace("schema:\n  type: object\n", f"schema:\n  type: object\n  $defs: {defs}\n", 1)
    facts.write_text(text, encoding="utf-8")
    return facts


@pytest.mark.parametrize("ref", ["file:///etc/passwd", "http://127.0.0.1:9/schema.json", "https://example.com/s.json#/x",
                                 "../../outside.json", "//evil.example/x.json", "https://regcode.dev/schemas/v1/Nope"])
def test_ref_that_leaves_the_policy_is_a_validate_error_at_its_line(tmp_path, ref):
    root = toy_copy(tmp_path)
    (tmp_path / "outside.json").write_text('{"type": "string"}', encoding="utf-8")
    facts = _with_ref(root, ref)
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    (err,) = json.loads(result.stdout)["versions"][0]["errors"]
    assert err["code"] == "schema.ref"
    assert Path(err["location"]["file"]).name == facts.name
    line = next(i for i, text in enumerate(facts.read_text(encoding="utf-8").splitlines(), 1) if "$ref" in text)
    assert err["location"]["line"] == line


def test_an_http_ref_never_opens_a_socket(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("regcode tried the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    root = toy_copy(tmp_path)
    shutil.copytree(TEST_POLICIES / "toy" / "1" / "tests", root / "toy" / "1" / "tests")
    _with_ref(root, "http://127.0.0.1:9/name.json")
    case = tmp_path / "case.yaml"
    case.write_text(TOY_CASE, encoding="utf-8")
    for args in (["validate", root / "toy" / "1"], ["eval", "--policy-root", root, "--policy", "toy", case],
                 ["test", "--policy-root", root, "toy"]):
        result = run(*args)
        assert result.exit_code == 1 and "schema.ref" in result.output, result.output


def test_refs_within_the_schema_the_version_and_the_shipped_schemas_resolve(tmp_path):
    root = toy_copy(tmp_path)
    _with_ref(root, "#/$defs/name")
    case = tmp_path / "case.yaml"
    case.write_text(TOY_CASE.replace("name: 甲", "name: ''"), encoding="utf-8")
    result = run("eval", "--policy-root", root, "--policy", "toy", "--format", "json", case)
    assert result.exit_code == 1 and "applicant.name is empty" in result.stderr    # the referenced minLength holds
    shutil.rmtree(root)
    root = toy_copy(tmp_path)
    _with_ref(root, "https://regcode.dev/schemas/v1/operators#/$defs/fact_path")
    shown = json.loads(run("show", "--policy-root", root, "--format", "json", "toy@1").stdout)
    name = shown["facts_schema"]["properties"]["applicant"]["properties"]["name"]
    assert "$ref" not in name and name.get("type") == "string"    # copied in: nothing left to fetch


def test_ref_to_a_file_of_the_version_is_copied_in(tmp_path):
    root = toy_copy(tmp_path)
    extra = root / "toy" / "1" / "shared.json"
    extra.write_text(json.dumps({"apiVersion": "regcode/v1", "kind": "FactsSchema",
                                 "extend": {"applicant": {"nickname": {"type": "string", "maxLength": 3}}}}), encoding="utf-8")
    _with_ref(root, "shared.json#/extend/applicant/nickname")
    result = run("show", "--policy-root", root, "--format", "json", "toy@1")
    assert result.exit_code == 0, result.output
    name = json.loads(result.stdout)["facts_schema"]["properties"]["applicant"]["properties"]["name"]
    assert name == {"type": "string", "maxLength": 3}


def test_a_file_of_definitions_for_a_ref_is_a_facts_schema_with_defs_only(tmp_path):
    """`defs.yaml#/$defs/NAME`, as the hints say: defs.yaml is a policy file (every .yaml in the folder is),
    a FactsSchema holding only `$defs:`; it is copied in where referenced and adds no field by itself."""
    root = toy_copy(tmp_path)
    before = json.loads(run("show", "--policy-root", root, "--format", "json", "toy@1").stdout)["facts_schema"]
    (root / "toy" / "1" / "defs.yaml").write_text("apiVersion: regcode/v1\nkind: FactsSchema\n"
                                                  "$defs: {name: {type: string, maxLength: 3}, unused: {type: integer}}\n",
                                                  encoding="utf-8")
    _with_ref(root, "defs.yaml#/$defs/name")
    assert run("validate", root / "toy" / "1").exit_code == 0
    after = json.loads(run("show", "--policy-root", root, "--format", "json", "toy@1").stdout)["facts_schema"]
    assert after["properties"]["applicant"]["properties"]["name"] == {"type": "string", "maxLength": 3}
    assert sorted(after["properties"]) == sorted(before["properties"])
    assert sorted(after["properties"]["applicant"]["properties"]) == sorted(before["properties"]["applicant"]["properties"])
    case = tmp_path / "case.yaml"
    case.write_text(TOY_CASE.replace("name: 甲", "name: 甲乙丙丁"), encoding="utf-8")
    result = run("eval", "--policy-root", root, "--policy", "toy", case)
    assert result.exit_code == 1 and "applicant.name" in result.stderr     # the referenced maxLength holds


@pytest.mark.parametrize("defs, code, line", [
    ("$defs: {name: {type: string}}\n", "schema.api_version", 1),     # bare JSON Schema: not read as a policy file
    ("apiVersion: regcode/v1\nkind: FactsSchema\n$defs: {name: {type: string}}\nschema: {type: object}\n", "schema.oneOf", 3),
])
def test_a_definitions_file_that_is_no_defs_only_facts_schema_says_how_to_write_it(tmp_path, defs, code, line):
    root = toy_copy(tmp_path)
    defs_file = root / "toy" / "1" / "defs.yaml"
    defs_file.write_text(defs, encoding="utf-8")
    _with_ref(root, "defs.yaml#/$defs/name")
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    (err,) = [e for e in errors if Path(e["location"]["file"]).name == "defs.yaml"]
    assert (err["code"], err["location"]["line"]) == (code, line), err
    if code == "schema.api_version":
        assert "`kind: FactsSchema`" in err["hint"] and "`$defs:`" in err["hint"] and "defs.yaml#/$defs/NAME" in err["hint"]


def test_a_ref_to_a_missing_file_hints_at_a_file_that_would_work(tmp_path):
    """The hint's file, written as the hint says, is one that resolves: hint and behaviour agree."""
    root = toy_copy(tmp_path)
    _with_ref(root, "defs.yaml#/$defs/name")
    result = run("validate", "--format", "json", root / "toy" / "1")
    (err,) = json.loads(result.stdout)["versions"][0]["errors"]
    assert err["code"] == "schema.ref" and "no such file" in err["message"]
    assert "`apiVersion: regcode/v1`, `kind: FactsSchema`, the definitions under `$defs:`" in err["hint"]
    (root / "toy" / "1" / "defs.yaml").write_text("apiVersion: regcode/v1\nkind: FactsSchema\n$defs: {name: {type: string}}\n",
                                                  encoding="utf-8")
    assert run("validate", root / "toy" / "1").exit_code == 0


def test_ref_to_nothing_is_reported_with_a_suggestion(tmp_path):
    root = toy_copy(tmp_path)
    _with_ref(root, "#/$defs/nme")
    result = run("validate", root / "toy" / "1")
    assert result.exit_code == 1 and "schema.ref" in result.stderr and "did you mean `name`?" in result.stderr


def test_refs_that_go_round_through_files_are_refused(tmp_path):
    root = toy_copy(tmp_path)
    version = root / "toy" / "1"
    (version / "a.json").write_text(json.dumps({"apiVersion": "regcode/v1", "kind": "FactsSchema",
                                                "extend": {"x": {"loop": {"$ref": "b.json#/extend/x/loop"}}}}), encoding="utf-8")
    (version / "b.json").write_text(json.dumps({"apiVersion": "regcode/v1", "kind": "FactsSchema",
                                                "extend": {"x": {"loop": {"$ref": "a.json#/extend/x/loop"}}}}), encoding="utf-8")
    result = run("validate", version)
    assert result.exit_code == 1 and "circle" in result.stderr


# ---- 5. --policy-root validates what it was given --------------------------------------------
@pytest.mark.parametrize("manifest", ["", "apiVersion: regcode/v1\nkind: Policy\nid: [broken\n", "- a list\n"])
def test_validate_policy_root_reports_a_broken_manifest_instead_of_the_shipped_version(tmp_path, manifest):
    version = tmp_path / "root" / "shanghai-post-license" / "2017"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text(manifest, encoding="utf-8")
    result = run("validate", "--policy-root", tmp_path / "root")
    assert result.exit_code == 1
    assert "ok" not in result.stdout.split()
    shown = result.stderr.split(":", 1)[0]       # relative to the working folder, wherever the suite runs
    assert Path(shown).resolve() == (version / "policy.yaml").resolve(), result.stderr


def test_a_broken_version_anywhere_under_the_root_is_reported(tmp_path):
    root = toy_copy(tmp_path)
    shutil.copytree(root / "toy" / "1", root / "toy" / "2")
    (root / "toy" / "2" / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\n", encoding="utf-8")
    result = run("validate", "--policy-root", root, "--format", "json")
    assert result.exit_code == 1
    versions = {v["version"]: v["ok"] for v in json.loads(result.stdout)["versions"]}
    assert versions == {"1": True, "2": False}


def test_eval_does_not_fall_back_to_the_shipped_version_past_a_broken_one(tmp_path):
    version = tmp_path / "root" / "shanghai-post-license" / "2017"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("", encoding="utf-8")
    result = run("eval", "--policy-root", tmp_path / "root", REPO / "examples" / "cases" / "aa-clean.yaml")
    assert result.exit_code == 1 and "select.broken_version" in result.stderr and "load.empty" in result.stderr


def test_policies_refuses_a_manifest_that_links_outside_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "toy" / "1").mkdir(parents=True)
    (root / "toy" / "1" / "policy.yaml").symlink_to(TEST_POLICIES / "toy" / "1" / "policy.yaml")
    result = run("policies", "--policy-root", root)
    assert result.exit_code == 1
    assert "流动餐车" not in result.output and "load.outside_root" in result.stderr


@pytest.mark.parametrize("linked", ["the version folder", "its manifest"])
def test_eval_past_a_version_linked_outside_the_root_names_the_link_not_a_line_of_the_manifest(tmp_path, linked):
    root, outside = tmp_path / "root", tmp_path / "outside" / "2021"
    shutil.copytree(TEST_POLICIES / "toy" / "1", outside)
    (root / "toy").mkdir(parents=True)
    shutil.copytree(TEST_POLICIES / "toy" / "1", root / "toy" / "1")
    link = root / "toy" / "2021"
    if linked == "the version folder":
        link.symlink_to(outside, target_is_directory=True)
    else:
        link.mkdir()
        link = link / "policy.yaml"
        link.symlink_to(outside / "policy.yaml")
    case = tmp_path / "case.yaml"
    case.write_text("as_of: 2020-06-30\napplicant: {name: 甲, district: 浦东新区}\n", encoding="utf-8")
    result = run("eval", "--policy-root", root, "--policy", "toy", case)
    assert result.exit_code == 1
    [said] = [line for line in result.stderr.splitlines() if "select.broken_version" in line]
    assert f"(`{link}` is a link leading outside the policy root, which regcode does not follow)" in said, said
    assert "see its own line" not in said and "replace the link by a copy" in said


def test_validate_a_root_holding_no_policy_says_so(tmp_path):
    result = run("validate", "--policy-root", tmp_path)
    assert result.exit_code == 1 and "validate.empty_root" in result.stderr


def test_a_policy_root_that_does_not_exist_is_a_usage_error(tmp_path):
    result = run("validate", "--policy-root", tmp_path / "nope")
    assert result.exit_code == 1 and "--policy-root" in result.stderr and "does not exist" in result.stderr


# ---- 6. dates are calendar days ----------------------------------------------------------------
@pytest.mark.parametrize("file,old,new,message", [
    ("policy.yaml", "effective_to: 2020-12-31", 'effective_to: "2019-02-30"', "February 2019 has 28 days"),
    ("policy.yaml", "effective_to: 2020-12-31", "effective_to: 2021-13-01", "there is no month 13"),
    ("policy.yaml", "effective_to: 2020-12-31", "effective_to: 2019-12-31", "effective_to is before effective_from"),
    ("parameters.yaml", "2020-07-01: 250", "2019-02-30: 250", "February 2019 has 28 days"),
])
def test_impossible_dates_are_validate_errors(tmp_path, file, old, new, message):
    root = toy_copy(tmp_path)
    path = root / "toy" / "1" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert any(message in e["message"] and Path(e["location"]["file"]).name == file for e in errors), errors
    line = next(i for i, t in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if new in t)
    assert any(e["location"]["line"] == line for e in errors)


# ---- 8. messages in the input's own terms ------------------------------------------------------
@pytest.mark.parametrize("text,code,leak", [
    ("as_of: !!timestamp 2020-06-30\napplicant: {name: 甲, district: 浦东新区}\n", "input.tag", "datetime"),
    (TOY_CASE + "x: " + "9" * 5000 + "\n", "input.number", "sys."),
    ("as_of: 2020-06-30\napplicant: &a [*a]\n", "input.alias", "recursion"),
    ("as_of: 2020-06-30\napplicant: !!python/name:os.system x\n", "input.tag", "indentation"),
])
def test_messages_say_what_was_found_not_what_python_said(tmp_path, text, code, leak):
    case = tmp_path / "case.yaml"
    case.write_text(text, encoding="utf-8")
    result = run("eval", *TOY, "--format", "json", case)
    assert result.exit_code == 1
    (err,) = json_errors(result)
    assert err["code"] == code
    assert leak not in err["message"] and leak not in err["hint"]


def test_a_bad_policy_option_is_reported_at_the_option_not_at_the_case_file():
    case = REPO / "examples" / "cases" / "aa-clean.yaml"
    result = run("eval", "--policy", "../../etc", case)
    assert result.exit_code == 1
    assert result.stderr.startswith("--policy: select.unknown_policy:") and str(case) not in result.stderr


def test_a_date_no_version_covers_still_points_at_the_case_files_as_of(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text(TOY_CASE.replace("2020-06-30", "2023-01-01"), encoding="utf-8")
    result = run("eval", *TOY, case)
    assert result.exit_code == 1 and result.stderr.startswith(f"{case}:1:8: select.no_version_in_force")


# ---- output and resources -------------------------------------------------------------------------
def test_an_output_that_cannot_be_written_is_exit_1_not_an_internal_error(tmp_path, monkeypatch):
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join(_good_lines(2)) + "\n", encoding="utf-8")
    import tempfile as tempfile_module

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tempfile_module, "mkstemp", no_space)
    result = run("batch", source, "--out", tmp_path / "out.jsonl", "--jobs", 1)
    assert result.exit_code == 1 and "output.io" in result.stderr and "No space left" in result.stderr


def test_a_write_that_fails_midway_is_exit_1_and_leaves_nothing(tmp_path):
    from regcode.engine import PolicyError
    from regcode.engine.batch import atomic_writer

    class Full:
        def __init__(self, stream):
            self.stream = stream

        def write(self, text):
            raise OSError(28, "No space left on device")
    out = tmp_path / "out.jsonl"
    with pytest.raises(PolicyError) as info:
        with atomic_writer(out) as sink:
            sink._stream = Full(sink._stream)
            sink.write("x\n")
    assert info.value.issues[0].code == "output.io"
    assert list(tmp_path.iterdir()) == []


def test_jobs_are_bounded():
    result = CliRunner().invoke(regcode, ["batch", str(REPO / "examples" / "cases"), "--out", "-", "--jobs", "100000"])
    assert result.exit_code == 1 and "--jobs" in result.output


def _shanghai_case_with(**changes) -> str:
    case = next(iter(gen.generate(1, seed=21)))
    case.update(changes)
    return json.dumps(case, ensure_ascii=False)


@pytest.mark.parametrize("kind", ["100,000 list items", "50,000 unknown keys", "a 3 MB string"])
def test_a_huge_invalid_case_is_refused_briefly(tmp_path, kind):
    case = tmp_path / "case.json"
    if kind == "100,000 list items":
        text = _shanghai_case_with(licenses=[{}] * 100_000)
    elif kind == "50,000 unknown keys":
        text = _shanghai_case_with(**{f"k{i}": 1 for i in range(50_000)})
    else:
        text = _shanghai_case_with(enterprise={"credit_code": "x", "name": "y", "registered_district": "浦东新区",
                                               "production_district": "x" * 3_000_000})
    case.write_text(text, encoding="utf-8")
    result = run("eval", "--format", "json", case)
    assert result.exit_code == 1
    errors = json_errors(result)
    assert 1 <= len(errors) <= 50
    assert all(len(e["message"]) <= 600 for e in errors)     # what was found, not all of it repeated back


def test_a_backtracking_pattern_in_a_policy_cannot_hang_the_report_of_a_bad_case(tmp_path):
    """`^(a+)+$` against 40 a's and a `!` takes Python's `re` about 2^40 steps; the report of the bad case
    matches patterns with jsonschema-rs (linear) and says what is wrong at once."""
    import yaml
    from conftest import bounded
    target = tmp_path / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    facts = yaml.safe_load((target / "facts.schema.yaml").read_text(encoding="utf-8"))
    facts["schema"]["properties"]["applicant"]["properties"]["name"] = {"type": "string", "pattern": "^(a+)+$"}
    (target / "facts.schema.yaml").write_text(yaml.safe_dump(facts, allow_unicode=True), encoding="utf-8")
    case = tmp_path / "case.yaml"
    for name in ("a" * 40 + "!", "A" * 40 + "!"):    # in capitals, the hint tries the name in lower case too
        case.write_text("as_of: 2020-06-30\napplicant: {name: " + name + ", district: 徐汇区}\n", encoding="utf-8")
        with bounded(60):
            result = run("eval", "--policy-root", tmp_path, "--policy", "toy", case)
        assert result.exit_code == 1 and "input.schema" in result.stderr and "does not have the expected form" in result.stderr


@pytest.mark.parametrize("verb", [["site", "--out", "{tmp}/site"], ["schema", "--out", "{tmp}/schemas"]])
def test_a_command_over_every_version_refuses_a_broken_one_instead_of_passing_it_over(tmp_path, verb):
    """Given no selection, site and schema work on every version: a broken manifest is an error (exit 1),
    never passed over in silence, and the shipped version it hides is not written in its place. (What
    does not depend on it, the language schema, the site's index, is written: see the next test.)"""
    version = tmp_path / "root" / "shanghai-post-license" / "2017"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("title: a: b\n", encoding="utf-8")
    result = run(*[a.format(tmp=tmp_path) for a in verb], "--policy-root", tmp_path / "root")
    assert result.exit_code == 1 and "select.broken_version" in result.stderr
    assert f"{version / 'policy.yaml'}:1:9: load.syntax" in result.stderr
    out = tmp_path / verb[-1].rsplit("/", 1)[-1]
    assert not [p for p in out.rglob("*") if "shanghai-post-license" in p.name]


DRAFT = REPO / "examples" / "drafting" / "toy" / "2"     # a draft amendment of toy@1 with three mistakes


@pytest.mark.parametrize("verb, good, bad", [
    (["schema", "--out", "{out}"], ["regcode-v1.schema.json", "toy@1.schema.json", "toy@1.case.schema.json"],
     ["toy@2.schema.json", "toy@2.case.schema.json"]),
    (["schema", "toy", "--out", "{out}"], ["regcode-v1.schema.json", "toy@1.schema.json"], ["toy@2.schema.json"]),
    (["schema", "toy@2", "--out", "{out}"], ["regcode-v1.schema.json"], ["toy@1.schema.json", "toy@2.schema.json"]),
    (["site", "--out", "{out}"], ["index.html", "toy/1/index.html", "toy/versions.html"], ["toy/2"]),
    (["site", "toy", "toy@2", "--out", "{out}"], ["index.html", "toy/1/index.html"], ["toy/2"]),
])
def test_a_broken_draft_costs_its_own_output_only(tmp_path, verb, good, bad):
    """A draft that does not compile beside a version that does: schema and site write everything else
    (the language schema, the good version's schemas or pages), say the draft's problems at their places
    and exit 1; editor support and the site do not disappear while a draft is being fixed."""
    root = toy_copy(tmp_path)
    shutil.copytree(DRAFT, root / "toy" / "2")
    out = tmp_path / "out"
    args = [a.format(out=out) for a in verb] + ["--policy-root", root]
    result = run(*args)
    assert result.exit_code == 1, result.output
    draft = root / "toy" / "2" / "rules" / "draft.yaml"
    assert f"{draft}:9:5: schema.additionalProperties: unknown key `wen`" in result.stderr
    assert f"{draft}:17:34: compile.value" in result.stderr and result.stderr.rstrip().endswith("3 problems")
    assert "not written: the " in result.stderr and "of toy@2, which does not compile" in result.stderr
    assert [name for name in good if not (out / name).exists()] == []
    assert [name for name in bad if (out / name).exists()] == []
    first = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    again = run(*args)
    assert again.exit_code == 1 and again.stderr == result.stderr
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == first, "byte-identical on a rerun"
    if verb[0] == "schema":     # the draft's folder is checked against the whole rule language meanwhile
        mapping = json.loads((out / "yaml-language-server.settings.json").read_text(encoding="utf-8"))["yaml.schemas"]
        language = next(globs for schema, globs in mapping.items() if schema.endswith("/regcode-v1.schema.json"))
        assert language == [f"{root.resolve() / 'toy' / '2'}/**/*.yaml", f"{root.resolve() / 'toy' / '2'}/**/*.yml"]
        assert "wrote " in result.stdout and "its folder is mapped to" in result.stderr


def test_the_language_schema_is_printed_whatever_state_a_version_is_in(tmp_path):
    root = toy_copy(tmp_path)
    shutil.copytree(DRAFT, root / "toy" / "2")
    result = run("schema", "--policy-root", root)
    assert result.exit_code == 0 and json.loads(result.stdout)["title"] == "a regcode policy file (regcode/v1)"


def test_serve_does_not_start_past_a_broken_manifest(tmp_path):
    from regcode.service import registry
    version = tmp_path / "root" / "toy" / "9"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("title: a: b\n", encoding="utf-8")
    loaded = registry.load([str(tmp_path / "root")])
    assert not loaded.ok and ("toy", "9") in loaded.failed
    assert any(i.code == "load.syntax" and i.location.line == 1 for i in loaded.issues())


def test_a_misspelt_effective_from_is_pointed_at_with_the_right_name(tmp_path):
    version = tmp_path / "root" / "toy" / "9"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: toy\nversion: '9'\ntitle: t\n"
                                         "effctive_from: 2020-01-01\n", encoding="utf-8")
    result = run("policies", "--policy-root", tmp_path / "root")
    assert result.exit_code == 1
    assert f"{version / 'policy.yaml'}:6:" in result.stderr and "did you mean `effective_from` for `effctive_from`?" in result.stderr


@pytest.mark.parametrize("verb", [["test", "toy"], ["coverage", "toy"], ["site", "toy", "--out", "{tmp}/site"],
                                  ["schema", "toy", "--out", "{tmp}/schemas"]])
def test_every_version_of_a_named_policy_refuses_a_broken_one_instead_of_dropping_it(tmp_path, verb):
    root = toy_copy(tmp_path)
    shutil.copytree(root / "toy" / "1", root / "toy" / "2")
    manifest = root / "toy" / "2" / "policy.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("effective_from:", "effctive_from:"), encoding="utf-8")
    result = run(*[a.format(tmp=tmp_path) for a in verb], "--policy-root", root)
    assert result.exit_code == 1 and "select.broken_version" in result.stderr and "effctive_from" in result.stderr, result.output


def test_validate_names_a_version_folder_whose_policy_yaml_is_a_fifo(tmp_path):
    root = toy_copy(tmp_path)
    version = root / "toy" / "1"
    (version / "policy.yaml").unlink()
    os.mkfifo(version / "policy.yaml")
    result = run("validate", version)
    assert result.exit_code == 1 and "load.not_a_file" in result.stderr and "FIFO" in result.stderr


def test_a_raw_control_character_in_a_json_string_is_named_without_a_dangling_at(tmp_path):
    case = tmp_path / "case.json"
    case.write_bytes(b'{"as_of": "2019-06-30\x01"}')
    result = run("eval", case)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{case}:1:22: input.syntax: invalid JSON: a control character U+0001 in a string, which "
                                    "a case file's text may not hold (as itself or escaped)")
    assert " at (" not in result.stderr


# ---- file names holding control characters -------------------------------------------------
CONTROL_NAMES = {"a line break": ("evil\nname.yaml", "evil\\nname.yaml"),
                 "an escape sequence": ("e\x1b[31mred.yaml", "e\\x1b[31mred.yaml"),
                 "a carriage return": ("cr\rname.yaml", "cr\\rname.yaml"),
                 "a line separator": ("ls\u2028name.yaml", "ls\\u2028name.yaml")}
BAD_TOY_CASE = "as_of: 2020-06-30\napplicant: {name: 甲, district: 浦东新区, employees: -1, employes: 3}\n"


@pytest.mark.parametrize("name,shown", CONTROL_NAMES.values(), ids=list(CONTROL_NAMES))
def test_a_file_name_with_control_characters_is_shown_escaped_one_problem_a_line(tmp_path, monkeypatch, name, shown):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(BAD_TOY_CASE, encoding="utf-8")
    result = run("eval", *TOY, name)
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    assert problems[-1] == "2 problems" and len(problems) == 3, problems
    for line in problems[:-1]:
        assert line.startswith(f"{shown}:2:"), line
        assert not any(ch in line for ch in "\x1b\r\u2028")
    # machines get the exact name
    errors = json_errors(run("eval", *TOY, "--format", "json", name))
    assert {e["location"]["file"] for e in errors} == {name}


def test_a_bad_record_from_a_folder_names_its_file_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "evil\nname.yaml").write_text(BAD_TOY_CASE, encoding="utf-8")
    result = run("batch", *TOY, "cases", "--out", "out.jsonl", "--jobs", 1)
    problems = [line for line in result.stderr.splitlines() if "input." in line]
    assert len(problems) == 2 and all(p.startswith("cases/evil\\nname.yaml:2:") for p in problems), result.stderr


def test_control_characters_in_a_name_reach_no_plan_and_no_page(tmp_path):
    """`"\\u0000\\u001b[2J\\r\\nevil"` in a name passed validation, and reached plan.csv and the eval page raw."""
    good = _good_lines(3, seed=9)
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join([good[0], good[1].replace('"name":"', '"name":"\\u0000\\u001b[2J\\r\\nevil', 1), good[2]])
                      + "\n", encoding="utf-8")
    result = run("plan", "--year", 2020, source, "--out", tmp_path / "plan.csv")
    assert result.exit_code == 1
    [problem] = [line for line in result.stderr.splitlines() if "input." in line]
    assert problem.startswith(f"{source}:2:") and "input.text" in problem and "\\x1b[2J" in problem, problem
    written = (tmp_path / "plan.csv").read_bytes()
    assert not any(ch in written for ch in (b"\x00", b"\x1b", b"\r")) and b"evil" not in written
    case = tmp_path / "case.json"
    case.write_text(good[1].replace('"name":"', '"name":"\\u0000', 1), encoding="utf-8")
    result = run("eval", "--format", "html", case)
    assert result.exit_code == 1 and result.stdout == "" and "input.text" in result.stderr


def _proc_like(tmp_path) -> Path:
    """A root like /proc: a real folder per process whose only `version` is `cwd`, a link to a folder elsewhere."""
    root = tmp_path / "proc"
    (root / "28764").mkdir(parents=True)
    (root / "28764" / "cwd").symlink_to(TEST_POLICIES / "toy" / "1", target_is_directory=True)
    return root


def test_a_root_whose_folders_hold_only_links_out_holds_no_policy(tmp_path):
    """`--policy-root /proc` listed a process id as a policy (/proc/PID/cwd/policy.yaml, when that process runs in a
    version folder): a folder is a policy only when it holds a version folder of its own."""
    root = _proc_like(tmp_path)
    result = run("policies", "--policy-root", root)
    assert result.exit_code == 1 and "28764" not in result.stdout
    assert result.stderr.startswith(f"regcode policies: --policy-root: {root} holds no policy version (")
    assert f"{root / '28764' / 'cwd'} is a link to a folder outside it" in result.stderr


def test_a_folder_holding_only_links_out_beside_real_policies_is_not_a_policy(tmp_path):
    root = _proc_like(tmp_path)
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    result = run("policies", "--policy-root", root, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "28764" not in result.output and "toy" in result.output


@pytest.mark.skipif(not os.path.isdir("/proc/self/cwd"), reason="no /proc")
def test_policy_root_proc_lists_no_process(monkeypatch):
    monkeypatch.chdir(TEST_POLICIES / "toy" / "1")      # so /proc/<this process>/cwd/policy.yaml exists
    result = run("policies", "--policy-root", "/proc")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("regcode policies: --policy-root: /proc holds no policy version (")


def test_validate_a_root_whose_folders_hold_only_links_out_says_it_is_empty(tmp_path):
    root = _proc_like(tmp_path)
    result = run("validate", "--policy-root", root, "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and report["versions"] == [] and report["ok"] is False
    (error,) = report["errors"]     # said in the JSON too, not only `"ok": false`
    assert error["code"] == "validate.empty_root" and "28764/cwd is a link to a folder outside it" in error["message"]
