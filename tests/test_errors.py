"""One invalid fixture per failure mode: each names its code, file, line and a helpful message, exit 1, no traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import FIXTURES, TEST_POLICIES

POLICY_ERRORS = yaml.safe_load((FIXTURES / "invalid" / "policy-errors.yaml").read_text(encoding="utf-8"))
CASE_ERRORS = yaml.safe_load((FIXTURES / "invalid" / "case-errors.yaml").read_text(encoding="utf-8"))


def _toy_copy(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    shutil.rmtree(root / "toy" / "1" / "tests")
    return root, root / "toy" / "1"


def _validate_with(tmp_path, monkeypatch, modes: tuple) -> list:
    """`regcode validate` on a copy of the toy policy with these fixtures of POLICY_ERRORS written in; its errors."""
    _root, version = _toy_copy(tmp_path)
    by_mode = {f["mode"]: f for f in POLICY_ERRORS}
    for mode in modes:
        fixture = by_mode[mode]
        (version / fixture["file"]).parent.mkdir(parents=True, exist_ok=True)
        (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1
    return json.loads(result.stdout)["versions"][0]["errors"]


@pytest.mark.parametrize("fixture", POLICY_ERRORS, ids=[f["mode"] for f in POLICY_ERRORS])
def test_policy_error_is_reported_with_place_and_hint(fixture, tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (version / fixture["file"]).parent.mkdir(parents=True, exist_ok=True)   # tests/ is not copied
    (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    want = fixture["expect"]
    matching = [e for e in errors if e["code"] == want["code"]]
    assert matching, f"no {want['code']} among {[e['code'] + ': ' + e['message'] for e in errors]}"
    err = matching[0]
    assert err["location"]["file"] == want["file"]
    assert err["location"]["line"] == want["line"], err
    if "column" in want:
        assert err["location"]["column"] == want["column"], err
    assert want["message"] in err["message"]
    if "hint" in want:
        assert want["hint"] in err["hint"] or want["hint"] in err["message"]


@pytest.mark.parametrize("fixture", POLICY_ERRORS, ids=[f["mode"] for f in POLICY_ERRORS])
def test_one_mistake_is_one_issue_at_its_place(fixture, tmp_path, monkeypatch):
    """No place gets two issues for one mistake (`for_each: categroy` was both compile.for_each and
    compile.unknown_path at the same column)."""
    root, version = _toy_copy(tmp_path)
    (version / fixture["file"]).parent.mkdir(parents=True, exist_ok=True)
    (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    errors = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"]
    places = [(e["location"]["file"], e["location"]["line"], e["location"]["column"]) for e in errors]
    twice = sorted({p for p in places if places.count(p) > 1})
    assert not twice, [f"{e['code']}: {e['message']}" for e in errors if (e["location"]["file"], e["location"]["line"],
                                                                           e["location"]["column"]) in twice]


@pytest.mark.parametrize("fixture", POLICY_ERRORS[:3], ids=[f["mode"] for f in POLICY_ERRORS[:3]])
def test_text_report_is_file_line_col_code_message(fixture, tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "."])
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{fixture['expect']['file']}:{fixture['expect']['line']}:")
    assert f": {fixture['expect']['code']}: " in first


def test_every_mistake_is_reported_at_once(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    for fixture in POLICY_ERRORS:
        if fixture["file"].startswith("rules/") and fixture["expect"]["code"].startswith("compile.unknown"):
            (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    codes = {e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"]}
    assert {"compile.unknown_path", "compile.unknown_parameter", "compile.unknown_decision",
            "compile.unknown_operator"} <= codes


def _eval_case(fixture, tmp_path):
    case = tmp_path / fixture.get("file", "case.yaml")
    case.write_text(fixture["content"], encoding="utf-8")
    result = CliRunner().invoke(regcode, ["eval", "--policy-root", str(TEST_POLICIES), "--policy", fixture.get("policy", "toy"),
                                          "--format", "json", str(case)])
    return case, result


@pytest.mark.parametrize("fixture", CASE_ERRORS, ids=[f["mode"] for f in CASE_ERRORS])
def test_bad_case_file_is_one_clear_error(fixture, tmp_path):
    case, result = _eval_case(fixture, tmp_path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    errors = json.loads(result.stderr)["errors"]
    want = fixture["expect"]
    err = next((e for e in errors if e["code"] == want["code"] and e["location"]["line"] == want["line"]
                and e["location"]["column"] == want.get("column", e["location"]["column"])), None)
    assert err is not None, errors
    assert want["message"] in err["message"]
    if want["line"]:
        assert err["location"]["file"] == str(case)
    if "hint" in want:
        assert want["hint"] in err["hint"]
    for python in ("None", "True", "False", "{'", "'object'", "'array'", "'boolean'", "does not match", "is not of type"):
        assert python not in err["message"] + err["hint"], err


@pytest.mark.parametrize("fixture", CASE_ERRORS, ids=[f["mode"] for f in CASE_ERRORS])
def test_a_case_file_gets_one_problem_per_place(fixture, tmp_path):
    """`issued_on: 2016-3-1` was two problems at one place (its pattern and its format), with the same hint."""
    _case, result = _eval_case(fixture, tmp_path)
    errors = json.loads(result.stderr)["errors"]
    places = [tuple(e["location"].values()) for e in errors]
    assert len(places) == len(set(places)), errors


def test_a_bad_option_value_is_bad_input_exit_1(tmp_path):
    result = CliRunner().invoke(regcode, ["eval", "--as-of", "30/06/2020", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert result.stderr == "regcode eval: --as-of: '30/06/2020' is not a date; write YYYY-MM-DD, e.g. 2019-06-30 " \
                            "(see regcode eval --help)\n"


def test_missing_case_file_is_exit_1_not_traceback(tmp_path):
    result = CliRunner().invoke(regcode, ["eval", "--policy-root", str(TEST_POLICIES), "--policy", "toy", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "input.io" in result.stderr and "Traceback" not in result.output


def test_link_escaping_the_policy_root_is_refused(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: regcode/v1\nkind: Rules\nrules: []\n", encoding="utf-8")
    (version / "rules" / "linked.yaml").symlink_to(outside)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(version)])
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert result.exit_code == 1
    assert any(e["code"] == "load.outside_root" for e in errors)


def test_a_schema_error_in_one_rule_does_not_hide_mistakes_in_others(tmp_path, monkeypatch):
    errors = _validate_with(tmp_path, monkeypatch, ("schema error (unknown key, with a suggestion)", "unknown parameter",
                                                    "missing article"))
    assert {(e["code"], e["location"]["file"]) for e in errors} == {
        ("schema.additionalProperties", "rules/schema.yaml"), ("schema.required", "rules/noarticle.yaml"),
        ("compile.unknown_parameter", "rules/param.yaml")}


def test_a_broken_declaration_is_no_echo_in_the_rules_that_use_it(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (version / "decisions.yaml").write_text((version / "decisions.yaml").read_text(encoding="utf-8")
                                            .replace("combine: max, default: low", "combine: most, default: low"), encoding="utf-8")
    monkeypatch.chdir(version)
    errors = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"]
    assert [e["code"] for e in errors] == ["schema.enum"]   # no echo of unknown decisions in every rule


def test_a_rules_file_that_does_not_parse_does_not_hide_mistakes_in_others(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    by_mode = {f["mode"]: f for f in POLICY_ERRORS}
    for mode in ("yaml syntax", "unknown decision"):
        fixture = by_mode[mode]
        (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    monkeypatch.chdir(version)
    errors = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"]
    assert {(e["code"], e["location"]["file"]) for e in errors} == {
        ("load.syntax", "rules/broken.yaml"), ("compile.unknown_decision", "rules/decision.yaml")}


def _empty(path, tmp_path):
    path.write_text("", encoding="utf-8")


def _folder(path, tmp_path):
    path.mkdir()


def _link_out(path, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("apiVersion: regcode/v1\nkind: Rules\nrules: []\n", encoding="utf-8")
    path.symlink_to(outside)


def _syntax(path, tmp_path):
    path.write_text("apiVersion: regcode/v1\nkind: Rules\nrules: [unclosed\n", encoding="utf-8")


def _not_utf8(path, tmp_path):
    path.write_bytes(b"apiVersion: regcode/v1\nkind: Rules\nrules:\n  - id: r\xff\n")


UNREADABLE = [("an empty file", _empty, "load.empty"), ("a folder named like a file", _folder, "load.not_a_file"),
              ("a link leaving the root", _link_out, "load.outside_root"), ("a syntax error", _syntax, "load.syntax"),
              ("a file that is not UTF-8", _not_utf8, "load.encoding")]


@pytest.mark.parametrize("make,code", [u[1:] for u in UNREADABLE], ids=[u[0] for u in UNREADABLE])
def test_a_rules_file_that_cannot_be_read_is_set_aside_and_the_others_still_checked(tmp_path, monkeypatch, make, code):
    root, version = _toy_copy(tmp_path)
    fixture = {f["mode"]: f for f in POLICY_ERRORS}["unknown decision"]
    (version / fixture["file"]).write_text(fixture["content"], encoding="utf-8")
    make(version / "rules" / "x.yaml", tmp_path)
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert {(e["code"], e["location"]["file"]) for e in errors} == {
        (code, "rules/x.yaml"), ("compile.unknown_decision", "rules/decision.yaml")}, errors


def test_a_file_that_is_not_utf8_is_reported_at_its_line_and_column(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (version / "rules" / "x.yaml").write_bytes(b"\xef\xbb\xbfapiVersion: regcode/v1\nkind: Rules\nrules:\n  - id: \xe8\xa7\x84\xff\n")
    monkeypatch.chdir(version)
    error = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"][0]
    assert (error["code"], error["location"]["line"], error["location"]["column"]) == ("load.encoding", 4, 10), error
    assert "0xff" in error["message"] and "byte 8" not in error["message"]


def test_a_version_folder_linked_outside_the_root_is_one_problem_naming_the_link(tmp_path):
    root, version = _toy_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(version, elsewhere)
    (elsewhere / "policy.yaml").write_text((elsewhere / "policy.yaml").read_text(encoding="utf-8").replace('version: "1"', 'version: "2"'),
                                           encoding="utf-8")
    (root / "toy" / "2").symlink_to(elsewhere)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "--policy-root", str(root)])
    assert result.exit_code == 1, result.output
    versions = {v["version"]: v for v in json.loads(result.stdout)["versions"]}
    assert versions["1"]["ok"] is True
    errors = versions["2"]["errors"]
    assert [e["code"] for e in errors] == ["load.outside_root"], errors
    assert Path(errors[0]["location"]["file"]).name == "2"
    assert "the folder" in errors[0]["message"] and "is a link to" in errors[0]["message"]
    assert "copy of the folder" in errors[0]["hint"]


def test_a_folder_link_leaving_the_root_is_refused_once_not_passed_over(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (tmp_path / "more-rules").mkdir()
    shutil.copy(version / "rules" / "fees.yaml", tmp_path / "more-rules" / "fees.yaml")
    (version / "extra").symlink_to(tmp_path / "more-rules")
    monkeypatch.chdir(version)
    errors = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"]
    assert [(e["code"], e["location"]["file"]) for e in errors] == [("load.outside_root", "extra")], errors


def test_a_manifest_that_does_not_parse_stops_at_once(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: [toy\n", encoding="utf-8")
    monkeypatch.chdir(version)
    errors = json.loads(CliRunner().invoke(regcode, ["validate", "--format", "json", "."]).stdout)["versions"][0]["errors"]
    assert [e["code"] for e in errors] == ["load.syntax"]


def test_a_clause_that_does_not_exist_is_said_in_the_same_round_as_a_compile_error(tmp_path, monkeypatch):
    """The citations read only what inheritance resolved: a drafter fixing a parameter typo is not sent
    back a second time for a clause."""
    root, version = _toy_copy(tmp_path)
    fees = version / "rules" / "fees.yaml"
    text = fees.read_text(encoding="utf-8")
    text = text.replace("value: {param: base_fee}", "value: {param: base_fees}", 1)
    text = text.replace("    article: 第五条\n    title: 高风险附加费", "    article: 第五条\n    clause: 第九款\n    title: 高风险附加费", 1)
    fees.write_text(text, encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    codes = {e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"]}
    assert {"compile.unknown_parameter", "compile.clause"} <= codes, codes


def test_a_declarations_file_that_does_not_parse_does_not_hide_the_schema_problems_of_the_others(tmp_path, monkeypatch):
    root, version = _toy_copy(tmp_path)
    params = version / "parameters.yaml"
    params.write_text(params.read_text(encoding="utf-8").replace("  base_fee:", "\tbase_fee:", 1), encoding="utf-8")
    fees = version / "rules" / "fees.yaml"
    fees.write_text(fees.read_text(encoding="utf-8").replace("    title: 基本费用", "    titel: 基本费用", 1), encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "."])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert any(l.startswith("parameters.yaml:") and "load.syntax" in l for l in lines), lines
    assert any(l.startswith("rules/fees.yaml:") and "schema.additionalProperties" in l and "`titel`" in l for l in lines), lines


def test_a_bad_article_does_not_hide_a_bad_clause(tmp_path, monkeypatch):
    """`第2条` is 第二条 written in Arabic numerals: its clause is checked against 第二条 in the same round; and an
    article the index does not list does not hide another rule's bad clause."""
    root, version = _toy_copy(tmp_path)
    (version / "articles.yaml").write_text((version / "articles.yaml").read_text(encoding="utf-8")
                                           .replace("  - {article: 第六条, title: 续期, status: encoded}\n", ""), encoding="utf-8")
    (version / "rules" / "article.yaml").write_text("""\
apiVersion: regcode/v1
kind: Rules
rules:
  - id: arabic-article-bad-clause
    article: 第2条
    clause: 第四款
    title: 阿拉伯数字与不存在的款
    then: [{decide: eligible, value: true}]
""", encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    found = {(e["code"], e["location"]["file"], e["location"]["line"]): (e["message"], e["hint"]) for e in errors}
    assert found[("compile.clause", "rules/article.yaml", 5)] == (
        "rule `arabic-article-bad-clause` cites 第2条, which the text of this version does not have", "did you mean `第二条`?")
    assert found[("compile.clause", "rules/article.yaml", 6)] == (
        "rule `arabic-article-bad-clause` cites 第二条 第四款: 第二条 has 3 paragraph(s) (款); there is no 第四款",
        "did you mean `第三款`, the last one?")
    assert found[("compile.article", "rules/fees.yaml", 15)][1] == "add it to articles.yaml"


def test_a_case_pinned_to_no_version_is_that_cases_error_at_its_pin_and_the_rest_run(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    (root / "toy" / "1" / "tests" / "pin.yaml").write_text("""\
apiVersion: regcode/v1
kind: TestCases
cases:
  - name: pinned to a version that is not there
    version: "2"
    facts: {as_of: 2020-06-30, applicant: {name: 张三餐车, district: 浦东新区}}
    expect: {eligible: true}
""", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["test", "toy", "--policy-root", str(root), "--format", "json"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    cases = json.loads(result.stdout)["cases"]
    pinned = [c for c in cases if c["status"] != "pass"]
    assert [(c["name"], c["line"], c["error"]["codes"]) for c in pinned] == [
        ("pinned to a version that is not there", 4, ["test.version"])], pinned
    assert pinned[0]["error"]["message"].endswith("pin.yaml:5:14: test.version: case 'pinned to a version that is not there' is "
                                                  "pinned to version `2`, which toy does not have; its versions: 1 (pin one of them, "
                                                  "or remove `version:` to run the case on this version)"), pinned[0]
    assert len(cases) > 1 and all(c["status"] == "pass" for c in cases if c not in pinned)
    text = CliRunner().invoke(regcode, ["test", "toy", "--policy-root", str(root)])
    assert "ERROR" in text.stdout and "pin.yaml:5:14: test.version" in text.stdout and "--policy-root" not in text.stdout


def test_the_error_codes_a_case_may_expect_are_the_codes_a_run_can_end_in():
    """CASE_ERROR_CODES (what `validate` checks `expect_error` against) lists every code the evaluation raises."""
    import re
    from regcode.engine.errors import CASE_ERROR_CODES
    engine = Path(__file__).resolve().parent.parent / "engine"
    raised = set()
    for name in ("evaluate.py", "_python.py", "_durable.py", "_operators.py", "_ir.py"):
        raised |= set(re.findall(r"[\"'](eval\.[a-z_]+)[\"']", (engine / name).read_text(encoding="utf-8")))
    raised |= set(re.findall(r"Issue\([\"']([a-z]+\.[a-z_]+)[\"']", (engine / "testing.py").read_text(encoding="utf-8"))) - {"test.version"}
    check = (engine / "load.py").read_text(encoding="utf-8").split("def check_value", 1)[1].split("\ndef ", 1)[0]
    checked = set(re.findall(r"\(\"(input\.[a-z_]+)\"", check))      # what run_case's check_value can refuse
    from regcode.engine.load import CHECKED_VALUE_CODES
    assert checked == set(CHECKED_VALUE_CODES), checked
    assert raised | {"input.schema"} | checked == set(CASE_ERROR_CODES), raised ^ set(CASE_ERROR_CODES)


def test_a_bad_test_file_does_not_hide_the_mistakes_of_the_rules(tmp_path, monkeypatch):
    """Nothing in the policy depends on its test cases: a case's bad date is said with the rules' problems."""
    errors = _validate_with(tmp_path, monkeypatch, ("a test case's as_of that is not a real date", "unknown parameter"))
    assert {(e["code"], e["location"]["file"]) for e in errors} == {
        ("schema.format", "tests/date.yaml"), ("compile.unknown_parameter", "rules/param.yaml")}, errors


PROBE_RULE = """apiVersion: regcode/v1
kind: Rules
rules:
  - id: probe
    article: 第八条
    title: probe
    when: {path: PATH, op: '==', value: 1}
    then: [{decide: interview_required, value: true}]
"""


@pytest.mark.parametrize("path, parent", [("nosuch", ()), ("enterprise.zzzzzz", ("enterprise",))])
def test_an_unknown_path_lists_the_fields_there_and_says_how_many_more(tmp_path, path, parent):
    """The list of fields is bounded, never cut off in silence: 12 of them, then how many are left."""
    from regcode.engine import shipped_root
    version = tmp_path / "shanghai-post-license" / "2017"
    shutil.copytree(shipped_root() / "shanghai-post-license" / "2017", version)
    (version / "rules" / "zz-probe.yaml").write_text(PROBE_RULE.replace("PATH", path), encoding="utf-8")
    schema = yaml.safe_load((version / "facts.schema.yaml").read_text(encoding="utf-8"))["schema"]
    for key in parent:
        schema = schema["properties"][key]
    fields = sorted(schema["properties"])
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(version)])
    assert result.exit_code == 1
    (err,) = json.loads(result.stdout)["versions"][0]["errors"]
    assert err["code"] == "compile.unknown_path"
    more = f" and {len(fields) - 12} more" if len(fields) > 12 else ""
    assert err["hint"] == "fields: " + ", ".join(fields[:12]) + more


def test_a_bounded_list_says_what_it_leaves_out():
    from regcode.engine.errors import bounded_list
    assert bounded_list(["b", "a"]) == "a, b"
    assert bounded_list([f"f{i:02}" for i in range(23)]) == ", ".join(f"f{i:02}" for i in range(12)) + " and 11 more"
    assert bounded_list([f"f{i:04}" for i in range(2000)], 3) == "f0000, f0001, f0002 and 1,997 more"


# A value-level problem (load.SOFT: a value YAML 1.1 and 1.2 read differently, a key written twice) leaves the file's
# structure standing: the file is still read and checked, and its other mistakes are said in the same run.
SOFT_BESIDE_OTHERS = [
    ("a rules file", "rules/fees.yaml", [
        ("    title: 基本费用", "    tittle: 基本费用"),
        ("value: {param: base_fee}", "value: {param: base_fees}"),
        ("    when: {expr: {decision: risk}, op: '==', value: high}",
         "    when: {all: [{expr: {decision: risk}, op: '==', value: high}, {path: applicant.certified, op: '==', value: yes}]}"),
        ("    title: 高风险附加费", "    title: 高风险附加费\n    title: again")],
     {("schema.additionalProperties", 6), ("compile.unknown_parameter", 7), ("load.ambiguous_scalar", 13),
      ("load.duplicate_key", 11)}),
    ("a parameters file", "parameters.yaml", [
        ("unit: people, value: 50}", "unit: people, valu: 50}"),
        ("unit: days, value: 30}", "unit: minutes, value: 1:30}"),
        ("2020-07-01: 250", "2020-02-30: 250")],
     {("schema.additionalProperties", 14), ("load.ambiguous_scalar", 15), ("schema.format", 12)}),
    ("a facts schema", "facts.schema.yaml", [
        ("certified: {type: boolean, default: false}", "certified: {type: boolean, default: no}"),
        ("inspector: {type: string}", "inspector: {$ref: '../../../../outside.yaml#/a'}")],
     {("load.ambiguous_scalar", 19), ("schema.ref", 21)}),
]


@pytest.mark.parametrize("file,edits,said", [s[1:] for s in SOFT_BESIDE_OTHERS], ids=[s[0] for s in SOFT_BESIDE_OTHERS])
def test_an_ambiguous_value_or_a_duplicate_key_does_not_hide_the_other_mistakes_of_its_file(tmp_path, monkeypatch, file, edits, said):
    root, version = _toy_copy(tmp_path)
    text = (version / file).read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    (version / file).write_text(text, encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert {(e["code"], e["location"]["line"]) for e in errors} == said, errors
    assert {e["location"]["file"] for e in errors} == {file}


def test_a_version_with_only_an_ambiguous_value_fails_and_is_never_evaluated(tmp_path, monkeypatch):
    """The file is read to check the rest, but the version stands only once the value says what it means."""
    root, version = _toy_copy(tmp_path)
    params = version / "parameters.yaml"
    params.write_text(params.read_text(encoding="utf-8").replace("unit: days, value: 30}", "unit: days, value: 030}"), encoding="utf-8")
    monkeypatch.chdir(version)
    checked = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert checked.exit_code == 1
    assert [e["code"] for e in json.loads(checked.stdout)["versions"][0]["errors"]] == ["load.ambiguous_scalar"]
    case = tmp_path / "case.yaml"
    case.write_text("as_of: 2020-06-30\napplicant: {name: 甲, district: 浦东新区}\n", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["eval", "--policy-root", str(root), "--policy", "toy", "--format", "json", str(case)])
    assert result.exit_code == 1 and result.stdout == "" and "load.ambiguous_scalar" in result.stderr


def test_a_case_file_with_an_ambiguous_value_has_its_other_problems_said_too(tmp_path):
    """`food_related: no` and an unknown district: both in one run (the case is checked against the facts schema
    as read, never evaluated), and nothing twice at the value's place."""
    fixture = {"policy": "shanghai-post-license", "content": (
        "as_of: 2019-06-30\nenterprise: {credit_code: 91310113134268707X, name: 甲, production_district: 火星区}\nlicenses:\n"
        "  - {number: XK06-001-01362, category: 电线电缆, risk_level: ii, issuer: provincial, issued_on: 2016-03-01, food_related: no}\n")}
    case, result = _eval_case(fixture, tmp_path)
    assert result.exit_code == 1 and result.stdout == ""
    errors = json.loads(result.stderr)["errors"]
    assert sorted((e["code"], e["location"]["line"], e["location"]["column"]) for e in errors) == [
        ("input.ambiguous_scalar", 4, 119), ("input.schema", 2, 77)]


# A schema problem inside one declaration sets that declaration aside, as one inside a rule sets the rule aside: its
# name stays declared (no `not declared` in the rules using it), and the rules' other mistakes are said in the same run.
DECLARATION_BESIDE_RULES = [
    ("a parameter with an unknown key", "parameters.yaml", ("unit: people, value: 50}", "unit: people, valu: true}"),
     {("schema.additionalProperties", 14)}),
    ("a parameter dated a day that is not one", "parameters.yaml", ("2020-07-01: 250", "2024-02-30: 250"), {("schema.format", 12)}),
    ("a decision combined by no known way", "decisions.yaml", ("combine: max, default: low", "combine: most, default: low"),
     {("schema.enum", 6)}),
    ("an unknown key at the top of a decisions file", "decisions.yaml", ("kind: Decisions\n", "kind: Decisions\nbogus: 1\n"),
     {("schema.additionalProperties", 3)}),
    # a field whose schema cannot be read stays a field (read as anything): `applicant.inspector` is no unknown path
    ("a facts field whose $ref leaves the policy", "facts.schema.yaml",
     ("inspector: {type: string}", "inspector: {$ref: '../../../../outside.yaml#/a'}"), {("schema.ref", 21)}),
    ("a facts field whose schema is no JSON Schema", "facts.schema.yaml", ("plate: {type: string}", "plate: {type: strng}"),
     {("schema.facts_schema", 29)}),
]


@pytest.mark.parametrize("file,edit,said", [d[1:] for d in DECLARATION_BESIDE_RULES], ids=[d[0] for d in DECLARATION_BESIDE_RULES])
def test_a_schema_problem_in_a_declaration_does_not_hide_the_mistakes_of_the_rules(tmp_path, monkeypatch, file, edit, said):
    root, version = _toy_copy(tmp_path)
    text = (version / file).read_text(encoding="utf-8")
    assert edit[0] in text
    (version / file).write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    rules = version / "rules" / "applicant.yaml"
    text = rules.read_text(encoding="utf-8")
    assert "decide: eligible," in text
    rules.write_text(text.replace("decide: eligible,", "decide: eligible_x,", 1), encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert {(e["code"], e["location"]["file"], e["location"]["line"]) for e in errors} == \
        {(code, file, line) for code, line in said} | {("compile.unknown_decision", "rules/applicant.yaml", 8)}, errors


def test_the_test_cases_are_checked_beside_the_rules_mistakes_when_the_declarations_stand(tmp_path, monkeypatch):
    """check_cases needs only what the version declares (compile's `partial`): a case's unknown decision, bad value
    and unknown article are said in the same run as a rule's unknown parameter, not once the rules are clean."""
    errors = _validate_with(tmp_path, monkeypatch, (
        "unknown parameter", "a test case expecting a decision the version does not declare",
        "a test case expecting a value its decision cannot take", "a test case naming an article the law does not have"))
    assert {(e["code"], e["location"]["file"]) for e in errors} == {
        ("compile.unknown_parameter", "rules/param.yaml"), ("test.unknown_decision", "tests/typo.yaml"),
        ("test.value", "tests/value.yaml"), ("test.article", "tests/articles.yaml")}, errors


def test_the_test_cases_are_checked_beside_a_declaration_set_aside_which_is_no_echo(tmp_path, monkeypatch):
    """A decision set aside for a schema problem is still declared, as far as the test cases go: a case expecting
    it is no mistake (no echo of the declaration's problem), a misspelling of it is, and is pointed at it; the
    cases' facts are checked against the facts schema in the same run."""
    root, version = _toy_copy(tmp_path)
    decisions = version / "decisions.yaml"
    decisions.write_text(decisions.read_text(encoding="utf-8").replace("combine: any, default: false}", "combine: anyy, default: false}"),
                         encoding="utf-8")
    by_mode = {f["mode"]: f for f in POLICY_ERRORS}
    (version / "tests").mkdir()
    for mode in ("a test case expecting a decision the version does not declare",      # any_majr
                 "a test case whose facts the facts schema refuses (placed in the test file)"):
        (version / by_mode[mode]["file"]).write_text(by_mode[mode]["content"], encoding="utf-8")
    (version / "tests" / "set-aside.yaml").write_text(by_mode["a test case expecting a decision the version does not declare"]
                                                     ["content"].replace("any_majr", "any_major"), encoding="utf-8")
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    assert sorted((e["code"], e["location"]["file"]) for e in errors) == [
        ("schema.enum", "decisions.yaml"), ("test.facts", "tests/facts.yaml"), ("test.unknown_decision", "tests/typo.yaml")], errors
    unknown = next(e for e in errors if e["code"] == "test.unknown_decision")
    assert "`any_majr`" in unknown["message"] and unknown["hint"] == "did you mean `any_major`?", unknown
