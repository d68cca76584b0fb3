"""One mistake of a policy never hides another: each edit of tests/fixtures/hidden/mistakes.yaml is said with the
others, each at its place, and nothing more (README, "Drafting a policy")."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import FIXTURES

from regcode.engine.catalog import shipped_root

MISTAKES = yaml.safe_load((FIXTURES / "hidden" / "mistakes.yaml").read_text(encoding="utf-8"))


def _edited_copy(tmp_path, edits):
    root = tmp_path / "policies"
    version = root / "shanghai-post-license" / "2017"
    shutil.copytree(shipped_root() / "shanghai-post-license" / "2017", version)
    for edit in edits:
        path = version / edit["file"]
        lines = path.read_text(encoding="utf-8").split("\n")
        assert edit["old"] in lines[edit["line"] - 1], (edit, lines[edit["line"] - 1])
        lines[edit["line"] - 1] = lines[edit["line"] - 1].replace(edit["old"], edit["new"], 1)
        path.write_text("\n".join(lines), encoding="utf-8")
    return root, version


@pytest.mark.parametrize("entry", MISTAKES, ids=[m["mode"] for m in MISTAKES])
def test_every_mistake_is_said_and_none_hides_another(tmp_path, monkeypatch, entry):
    root, version = _edited_copy(tmp_path, entry.get("edits", []))
    for name, text in (entry.get("add") or {}).items():     # further files (a version extending the edited one)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(root / entry["in"] if "in" in entry else version)
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", "."])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["versions"][0]["errors"]
    said = sorted((e["code"], e["location"]["file"], e["location"]["line"], e["location"]["column"]) for e in errors)
    assert said == sorted((x["code"], x["file"], x["line"], x["column"]) for x in entry["expect"]), errors


# `regcode coverage` reads the cases as `regcode test` does: what is wrong with them is said and fails it, and a case
# that fails, or has a problem said at it, tests nothing (its rules do not count as fired).
COVERAGE = [
    ("a case naming an article the law does not have",
     {"file": "tests/dates.yaml", "line": 7, "old": "articles: [第十条]", "new": "articles: [第九十条]"},
     ["test.article"], {"status": "problem", "line": 6}),
    ("a case whose expectation no longer holds",
     {"file": "tests/dates.yaml", "line": 25, "old": "classification_deadline: 2019-02-28", "new": "classification_deadline: 2019-02-27"},
     [], {"status": "fail", "line": 17}),
]


@pytest.mark.parametrize("edit,codes,not_counted", [c[1:] for c in COVERAGE], ids=[c[0] for c in COVERAGE])
def test_coverage_says_the_broken_test_cases_counts_none_of_them_and_fails(tmp_path, edit, codes, not_counted):
    root, version = _edited_copy(tmp_path, [edit])
    clean = CliRunner().invoke(regcode, ["coverage", "--format", "json", "shanghai-post-license"])
    assert clean.exit_code == 0, clean.output
    result = CliRunner().invoke(regcode, ["coverage", "--policy-root", str(root), "--format", "json", "shanghai-post-license"])
    assert result.exit_code == 1, result.output
    data, before = json.loads(result.stdout), json.loads(clean.stdout)
    assert [p["code"] for p in data["problems"]] == codes
    assert [(c["status"], c["line"]) for c in data["not_counted"]] == [(not_counted["status"], not_counted["line"])]
    assert data["summary"]["cases"] == before["summary"]["cases"] - 1
    text = CliRunner().invoke(regcode, ["coverage", "--policy-root", str(root), "shanghai-post-license"])
    assert text.exit_code == 1
    assert f"{before['summary']['cases'] - 1} cases (1 not counted (failing, or with a problem))" in text.stdout
    assert f"{not_counted['status'].upper()}" in text.stdout and f"tests/dates.yaml:{not_counted['line']}" in text.stdout
    assert all(code in text.stderr for code in codes)


def test_a_rule_fired_only_in_failing_cases_is_not_tested(tmp_path):
    """The rule claims the wrong reason: every case it fires in expects the reasons and fails, so no case tests it (nor its
    article); the cases' other rules that fired there count no more."""
    root, version = _edited_copy(tmp_path, [{"file": "rules/ch4-testing.yaml", "line": 21, "old": "value: [serious_quality_problem]",
                                              "new": "value: [conditions_not_maintained]"}])
    result = CliRunner().invoke(regcode, ["coverage", "--policy-root", str(root), "--format", "json", "shanghai-post-license"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["not_counted"] and all(c["status"] == "fail" for c in data["not_counted"]), data["not_counted"]
    assert "testing-serious-quality-problem" in data["untested_rules"], data["untested_rules"]   # (all fire when it runs clean)
    article = next(a for a in data["articles"] if a["article"] == "第四十五条")
    assert not article["tested"]


def test_a_wrong_decision_default_is_said_in_the_terms_of_its_type(tmp_path, monkeypatch):
    """A date default that is no day says why (as a parameter's date does); a list default's code it cannot take is named."""
    _root, version = _edited_copy(tmp_path, [
        {"file": "decisions.yaml", "line": 65, "old": "default: null", "new": 'default: "2022-02-30"'},
        {"file": "decisions.yaml", "line": 151, "old": "default: []", "new": "default: [iso14001]"}])
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "."])
    assert result.exit_code == 1
    assert "default '2022-02-30' is not a date: February 2022 has 28 days" in result.stderr, result.stderr
    assert "default ['iso14001'] has 'iso14001', not one of its values" in result.stderr, result.stderr


@pytest.mark.parametrize("written,hint", [
    ("remove: c-interview-and-rectify", "write a list, e.g. `remove: [c-interview-and-rectify]`"),
    ("remove: [[c-interview-and-rectify]]", "write it alone: `c-interview-and-rectify`")])
def test_a_bad_remove_is_hinted_with_the_name_written(tmp_path, monkeypatch, written, hint):
    entry = next(m for m in MISTAKES if m["mode"].startswith("a remove written as text"))
    root, _version = _edited_copy(tmp_path, [])
    for name, text in entry["add"].items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.replace("remove: c-interview-and-rectify", written), encoding="utf-8")
    monkeypatch.chdir(root / entry["in"])
    result = CliRunner().invoke(regcode, ["validate", "."])
    assert result.exit_code == 1 and f"({hint})" in result.stderr, result.stderr


@pytest.mark.parametrize("written,hint", [
    ("article: [第四十五条]", "write it alone: `article: 第四十五条`"),
    ("article: 5", "write it as an article: `article: 第五条`"),
    ("article: '45'", "write it as an article: `article: 第四十五条`")])
def test_a_bad_article_is_hinted_in_the_article_form(tmp_path, monkeypatch, written, hint):
    _root, version = _edited_copy(tmp_path, [{"file": "rules/ch4-testing.yaml", "line": 24, "old": "article: 第四十五条", "new": written}])
    monkeypatch.chdir(version)
    result = CliRunner().invoke(regcode, ["validate", "."])
    assert result.exit_code == 1 and f"({hint})" in result.stderr, result.stderr
