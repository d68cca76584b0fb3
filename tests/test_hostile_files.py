"""Hostile files and paths through the CLI: links that loop, folders and FIFOs where a file is expected, outputs
that cannot be written. Each is exit 1 with one located problem naming the path and the fix, never exit 3."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from regcode.cli import commands  # noqa: F401

from conftest import TEST_POLICIES
from test_hostile import TOY_CASE, run, toy_copy as _toy_copy


def toy_copy(tmp_path) -> Path:
    return _toy_copy(tmp_path, tests=True)     # its test files too: a loop there is one of the cases


# ---- links that loop inside a policy root ----------------------------------------------------
# (where the link is, relative to the root; what it points to; the path the problem names)
LOOPS = {
    "a rules file linking to itself": ("toy/1/rules/loop.yaml", "loop.yaml", "toy/1/rules/loop.yaml"),
    "a test file linking to itself": ("toy/1/tests/loop.yaml", "loop.yaml", "toy/1/tests/loop.yaml"),
    "two rules files linking to each other": ("toy/1/rules/a.yaml", "b.yaml", "toy/1/rules/a.yaml"),
    "the manifest linking to itself": ("toy/1/policy.yaml", "policy.yaml", "toy/1/policy.yaml"),
    "a version folder linking to itself": ("toy/loop", "loop", "toy/loop/policy.yaml"),
}


def _loop(root: Path, where: str, target: str) -> None:
    link = root / where
    if link.exists():
        link.unlink()
    link.symlink_to(target)
    if target == "b.yaml":
        (link.parent / "b.yaml").symlink_to(link.name)


@pytest.mark.parametrize("verb", [["validate", "--policy-root", "{root}"], ["test", "--policy-root", "{root}", "toy"],
                                  ["eval", "--policy-root", "{root}", "--policy", "toy", "{case}"],
                                  ["site", "--policy-root", "{root}", "--out", "{tmp}/site"]])
@pytest.mark.parametrize("kind", sorted(LOOPS))
def test_a_loop_of_links_in_a_policy_root_is_load_io_naming_it(tmp_path, monkeypatch, kind, verb):
    monkeypatch.chdir(tmp_path)
    root = toy_copy(tmp_path)
    where, target, named = LOOPS[kind]
    _loop(root, where, target)
    (tmp_path / "case.yaml").write_text(TOY_CASE, encoding="utf-8")
    result = run(*[a.format(root="policies", case="case.yaml", tmp=tmp_path) for a in verb])
    if "/tests/" in where and verb[0] in ("eval", "site"):
        # a test file's problem fails only validate and test (load.VersionSource.test_issues): nothing evaluated
        # or shown depends on the tests, so eval and site go on
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        return
    assert result.exit_code == 1, result.output
    said, *other = [line for line in result.stderr.splitlines() if "load.io" in line]
    assert len(other) == (1 if target == "b.yaml" else 0), result.stderr      # b.yaml, which loops too
    assert said.startswith(f"policies/{named}: load.io: cannot read the file: "), said
    assert "a loop of links" in said and "or remove it" in said, said


@pytest.mark.parametrize("target", ["loop", "other", "../policies/loop"], ids=["to itself", "two links", "through the root"])
def test_a_policy_folder_that_is_a_loop_of_links_is_said_by_validate_and_passed_over_by_the_rest(tmp_path, monkeypatch, target):
    """`policies/loop -> loop` is no policy folder: the catalog passes over it as any entry that is no folder (eval and
    policies run), and `validate --policy-root`, which checks all of the root, says it (it was ok, exit 0)."""
    monkeypatch.chdir(tmp_path)
    root = toy_copy(tmp_path)
    (root / "loop").symlink_to(target)
    if target == "other":
        (root / "other").symlink_to("loop")
    result = run("validate", "--policy-root", "policies")
    assert result.exit_code == 1 and "ok  toy@1" in result.stdout, result.output
    said = [line for line in result.stderr.splitlines() if "load.io" in line]
    looping = ["loop", "other"] if target == "other" else ["loop"]
    assert said == [f"policies/{name}: load.io: `policies/{name}` is a link that leads back to itself (a loop of links), so no "
                    f"policy is read from it (point `policies/{name}` at a policy folder, or remove it)" for name in looping]
    data = json.loads(run("validate", "--policy-root", "policies", "--format", "json").stdout)
    assert not data["ok"] and [e["code"] for e in data["errors"]] == ["load.io"] * len(looping)
    (tmp_path / "case.yaml").write_text(TOY_CASE, encoding="utf-8")
    assert run("eval", "--policy-root", "policies", "--policy", "toy", "case.yaml").exit_code == 0


def test_a_rules_file_that_loops_is_set_aside_and_the_rest_still_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = toy_copy(tmp_path)
    _loop(root, "toy/1/rules/loop.yaml", "loop.yaml")
    with open(root / "toy" / "1" / "rules" / "fees.yaml", "a", encoding="utf-8") as fh:
        fh.write("wen: 1\n")
    result = run("validate", "--format", "json", "policies/toy/1")
    codes = sorted(e["code"] for e in json.loads(result.stdout)["versions"][0]["errors"])
    assert result.exit_code == 1 and codes == ["load.io", "schema.additionalProperties"], codes


def test_fmt_says_a_rules_file_that_loops(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = toy_copy(tmp_path)
    _loop(root, "toy/1/rules/loop.yaml", "loop.yaml")
    result = run("fmt", "--check", "policies")
    assert result.exit_code == 1
    [said] = [line for line in result.stderr.splitlines() if "load.io" in line]
    assert said.startswith("policies/toy/1/rules/loop.yaml: load.io: cannot read the file: ") and "a loop of links" in said


# ---- a JSONL input that is a link leading nowhere ---------------------------------------------
JSONL_VERBS = {"batch": ["batch", "{jsonl}", "--out", "out.jsonl"], "plan": ["plan", "--year", "2019", "{jsonl}"],
               "replay": ["replay", "{jsonl}"],
               "diff": ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus", "{jsonl}"]}


@pytest.mark.parametrize("verb", sorted(JSONL_VERBS))
@pytest.mark.parametrize("target, said", [("cases.jsonl", "cases.jsonl is a link that leads back to itself (a loop of links)"),
                                          ("gone.jsonl", "cases.jsonl is a link to gone.jsonl, which does not exist")],
                         ids=["a loop", "a link to nothing"])
def test_a_jsonl_input_that_is_a_link_leading_nowhere_says_what_it_is(tmp_path, monkeypatch, verb, target, said):
    monkeypatch.chdir(tmp_path)
    Path("cases.jsonl").symlink_to(target)
    result = run(*[a.format(jsonl="cases.jsonl") for a in JSONL_VERBS[verb]])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"regcode {verb}: ") and said in result.stderr, result.stderr
    assert "point the link at a file or folder, or give its own path" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not Path("out.jsonl").exists()


def test_a_case_file_that_loops_is_input_io_saying_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("case.yaml").symlink_to("case.yaml")
    result = run("eval", "case.yaml")
    assert result.exit_code == 1
    assert result.stderr == ("case.yaml: input.io: cannot read the case file: it is a link that leads back to itself "
                             "(a loop of links) (point the link at a file, or give the file's own path)\n")


def test_a_loop_in_a_folder_of_case_files_is_said_as_a_loop_not_as_a_link_to_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(TEST_POLICIES.parent.parent / "examples" / "cases", "cases")
    Path("cases/loop.yaml").symlink_to("loop.yaml")
    result = run("batch", "cases", "--out", "out.jsonl")
    [said] = [line for line in result.stderr.splitlines() if "loop.yaml" in line]
    assert said.startswith("cases/loop.yaml: input.skipped: not read: a link that leads back to itself (a loop of links)"), said


# ---- control characters in a policy's texts, and in its test cases ------------------------------
# (file, text replaced, its replacement (YAML escapes: the character is in the text read), the line, the column,
# the character's name in the message)
POLICY_TEXTS = {
    "a rule's title (C0)": ("rules/fees.yaml", "title: 基本费用", r'title: "基本\e[31m费用"', 6, 12, "an ESC (U+001B)"),
    "a rule's note (C1)": ("rules/fees.yaml", "note: reads the resolved `risk` decision, so it runs in a later stratum",
                           r'note: "reads \x9b2J the resolved"', 11, 11, "a control character (U+009B)"),
    "a label (DEL)": ("decisions.yaml", "combine: max, default: low}", r'combine: max, default: low, labels: {low: "低\x7f"}}',
                      6, 106, "a DEL (U+007F)"),
    "an article's title (NUL)": ("articles.yaml", "title: 目的", r'title: "目\0的"', 4, 27, "a NUL (U+0000)"),
    "the law's text (a carriage return)": ("text.yaml", "text: 为规范流动餐车经营许可，制定本办法。", r'text: "为规范\r流动餐车"', 12, 15,
                                           "a carriage return (CR) (U+000D)"),
    "a parameter's title (a next-line, NEL)": ("parameters.yaml", "title: 检验过期月数", r'title: "检验\N过期月数"', 4, 36,
                                               "a next-line (NEL) (U+0085)"),
}


@pytest.mark.parametrize("kind", sorted(POLICY_TEXTS))
def test_a_control_character_in_a_policys_text_is_load_text_at_its_place(tmp_path, kind):
    file, old, new, line, column, name = POLICY_TEXTS[kind]
    root = toy_copy(tmp_path)
    path = root / "toy" / "1" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = run("validate", "--format", "json", root / "toy" / "1")
    assert result.exit_code == 1
    [error] = json.loads(result.stdout)["versions"][0]["errors"]
    assert error["code"] == "load.text" and error["location"]["file"] == str(path), error
    assert (error["location"]["line"], error["location"]["column"]) == (line, column), error
    assert f"holds {name}, which a policy file's text may not hold" in error["message"]
    assert "but a tab and a line break" in error["hint"]
    shown = run("eval", "--policy-root", root, "--policy", "toy", "--format", "json", _case(tmp_path))
    assert shown.exit_code == 1 and "load.text" in shown.stderr      # the version is not evaluated either


def _case(tmp_path) -> Path:
    case = tmp_path / "case.yaml"
    case.write_text(TOY_CASE, encoding="utf-8")
    return case


def test_a_tab_and_line_breaks_in_a_policys_text_are_text(tmp_path):
    root = toy_copy(tmp_path)
    path = root / "toy" / "1" / "text.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("text: 为规范流动餐车经营许可，制定本办法。", r'text: "为规范\t流动\n餐车"'),
                    encoding="utf-8")
    assert run("validate", root / "toy" / "1").exit_code == 0


def test_a_control_character_in_a_json_policy_file_is_load_text(tmp_path):
    root = toy_copy(tmp_path)
    (root / "toy" / "1" / "rules" / "more.json").write_text(json.dumps({
        "apiVersion": "regcode/v1", "kind": "Rules",
        "rules": [{"id": "more", "article": "第五条", "title": "多\u0007", "then": [{"decide": "fee", "value": 1}]}]}),
        encoding="utf-8")
    result = run("validate", "--format", "json", root / "toy" / "1")
    [error] = json.loads(result.stdout)["versions"][0]["errors"]
    assert error["code"] == "load.text" and error["location"]["file"].endswith("more.json") and error["location"]["line"] == 1


CONTROL_CASE_NAME = "a busy\x1b[31m applicant\x07 \x00 with\x85 a \u2028major\x7f"


def _case_with_controls(tmp_path) -> Path:
    """The toy policy with its first test case named with control characters, and expecting a value holding two."""
    root = toy_copy(tmp_path)
    cases = root / "toy" / "1" / "tests" / "cases.yaml"
    text = cases.read_text(encoding="utf-8")
    text = text.replace("- name: a busy applicant with a major incident, stale and failed vehicles",
                        "- name: " + json.dumps(CONTROL_CASE_NAME), 1)
    cases.write_text(text.replace("inspector: 王检查员", r'inspector: "王\e检查员\x01"', 1), encoding="utf-8")
    return root


def test_test_verbose_shows_a_case_name_holding_control_characters_escaped(tmp_path):
    root = _case_with_controls(tmp_path)
    result = run("test", "--policy-root", root, "toy", "-v")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].endswith(r"  a busy\x1b[31m applicant\x07 \x00 with\x85 a \u2028major\x7f  [toy@1]"), lines[0]
    assert lines[1].startswith(r'        inspector: expected "王\u001b检查员\u0001", got "王检查员"'), lines[1]
    assert not any(ch in result.stdout for ch in "\x00\x07\x1b\x7f\x85\u2028")


def test_a_junit_report_of_case_names_and_values_holding_control_characters_is_xml(tmp_path):
    from xml.etree import ElementTree as ET
    root = _case_with_controls(tmp_path)
    report = tmp_path / "junit.xml"
    result = run("test", "--policy-root", root, "toy", "--junit", report)
    assert result.exit_code == 1
    suite = ET.parse(report).getroot()      # (was not well-formed: XML 1.0 cannot hold a NUL, a BEL or an ESC)
    first = suite.find("testcase")
    assert first.get("name") == r"a busy\x1b[31m applicant\x07 \x00 with\x85 a \u2028major\x7f"
    assert '"expected":"王\\u001b检查员\\u0001"' in first.find("failure").text


# ---- file names that are not UTF-8 ----------------------------------------------------------------
BAD_NAME = os.fsdecode(b"bad\xffname.yaml")     # as Python holds it: the byte as a lone surrogate, which UTF-8 cannot carry
CASES = TEST_POLICIES.parent.parent / "examples" / "cases"


@pytest.mark.parametrize("fmt", ["json", "yaml", "html", "text"])
def test_eval_of_a_case_file_whose_name_is_not_utf8_writes_the_name_with_the_byte_escaped(tmp_path, monkeypatch, fmt):
    """Its source could not be written as UTF-8: --format json and html were exit 3."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(CASES / "aa-clean.yaml", BAD_NAME)
    result = run("eval", BAD_NAME, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "\udcff" not in result.stdout
    if fmt == "json":
        assert json.loads(result.stdout)["source"] == r"bad\xffname.yaml"
    else:
        assert r"bad\xffname.yaml" in result.stdout


def test_a_bad_case_file_whose_name_is_not_utf8_is_named_with_the_byte_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(CASES.parent / "bad-case.yaml", BAD_NAME)
    result = run("eval", BAD_NAME)
    assert result.exit_code == 1 and result.stderr.startswith("bad\\xffname.yaml:4:113: input.schema: ")
    errors = json.loads(run("eval", BAD_NAME, "--format", "json").stderr)["errors"]
    assert {e["location"]["file"] for e in errors} == {r"bad\xffname.yaml"}


def test_a_batch_over_a_folder_holding_a_name_that_is_not_utf8_writes_every_result(tmp_path, monkeypatch):
    """Its record was `internal.output: ... this is a bug in regcode`, and lost."""
    monkeypatch.chdir(tmp_path)
    Path("cases").mkdir()
    shutil.copy(CASES / "aa-clean.yaml", Path("cases") / BAD_NAME)
    shutil.copy(CASES / "aa-clean.yaml", "cases/good.yaml")
    shutil.copy(CASES.parent / "bad-case.yaml", Path("cases") / os.fsdecode(b"worse\xfe.yaml"))
    result = run("batch", "cases", "--out", "out.jsonl", "--errors", "errors.jsonl")
    assert result.exit_code == 1 and "internal" not in result.stderr
    written = [json.loads(line)["source"] for line in Path("out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert written == [r"cases/bad\xffname.yaml", "cases/good.yaml"]
    [bad] = [json.loads(line) for line in Path("errors.jsonl").read_text(encoding="utf-8").splitlines()]
    assert bad["source"] == r"cases/worse\xfe.yaml" and bad["errors"][0]["location"]["file"] == r"cases/worse\xfe.yaml"


def test_a_jsonl_whose_name_is_not_utf8_gives_sources_with_the_byte_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = os.fsdecode(b"cases\xff.jsonl")
    line = json.dumps(yaml.safe_load((CASES / "aa-clean.yaml").read_text(encoding="utf-8")), ensure_ascii=False, default=str)
    Path(name).write_text(line + "\n", encoding="utf-8")
    result = run("batch", name, "--out", "out.jsonl")
    assert result.exit_code == 0, result.output
    assert json.loads(Path("out.jsonl").read_text(encoding="utf-8"))["source"] == r"cases\xff.jsonl:1"


def test_a_usage_error_naming_a_path_that_is_not_utf8_shows_the_byte(tmp_path):
    root = tmp_path / os.fsdecode(b"root\xfd")
    root.mkdir()
    result = run("policies", "--policy-root", root)
    assert result.exit_code == 1 and f"{tmp_path}/root\\xfd holds no policy version" in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["--out", "--policy-root"])
def test_schema_settings_naming_a_path_that_is_not_utf8_is_output_path_before_anything_is_written(tmp_path, where):
    """yaml-language-server.settings.json names the schemas and the versions' folders by path: it was exit 3."""
    out = tmp_path / (os.fsdecode(b"schemas\xfe") if where == "--out" else "schemas")
    root = tmp_path / (os.fsdecode(b"policies\xfe") if where == "--policy-root" else "policies")
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    result = run("schema", "--policy-root", root, "toy", "--out", out)
    assert result.exit_code == 1
    [said] = result.stderr.splitlines()
    assert ": output.path: the path `" in said and "\\xfe" in said and "holds bytes that are not UTF-8" in said, said
    assert not out.exists()


def test_replay_names_a_log_whose_name_is_not_utf8_with_the_byte_escaped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = os.fsdecode(b"decisions\xff.log")
    Path(name).write_text('{"not": "a logged decision"}\n', encoding="utf-8")
    result = run("replay", name, "--format", "json")
    assert result.exit_code == 1
    [error] = json.loads(result.stderr)["errors"]
    assert error["location"]["file"] == r"decisions\xff.log" and r"decisions\xff.log" in error["message"], error


def _policy_with_names_not_utf8(tmp_path) -> Path:
    root = toy_copy(tmp_path)
    version = root / "toy" / "1"
    (version / "tests" / "cases.yaml").rename(version / "tests" / os.fsdecode(b"ca\xfeses.yaml"))
    return root


def test_site_and_test_of_a_policy_whose_file_names_are_not_utf8_write_them_with_the_byte_escaped(tmp_path):
    """The site was exit 3, and `test --format json` wrote the raw byte (not UTF-8) or failed, by locale."""
    root = _policy_with_names_not_utf8(tmp_path)
    site = run("site", "--policy-root", root, "--out", tmp_path / "site")
    assert site.exit_code == 0, site.output
    assert "toy/1/tests/ca\\xfeses.yaml:4" in (tmp_path / "site" / "toy" / "1" / "cases.html").read_text(encoding="utf-8")
    tested = run("test", "--policy-root", root, "toy", "--format", "json")
    assert tested.exit_code == 0, tested.output
    assert {c["file"] for c in json.loads(tested.stdout)["cases"]} == {f"{root}/toy/1/tests/ca\\xfeses.yaml"}


def test_a_problem_in_a_policy_file_whose_name_is_not_utf8_is_placed_with_the_byte_escaped(tmp_path):
    root = toy_copy(tmp_path)
    rules = root / "toy" / "1" / "rules"
    name = os.fsdecode(b"fe\xffes.yaml")
    (rules / "fees.yaml").rename(rules / name)
    with open(rules / name, "a", encoding="utf-8") as fh:
        fh.write("wen: 1\n")
    result = run("validate", "--format", "json", root / "toy" / "1")
    [error] = json.loads(result.stdout)["versions"][0]["errors"]
    assert error["location"]["file"] == f"{rules}/fe\\xffes.yaml" and error["code"] == "schema.additionalProperties"
