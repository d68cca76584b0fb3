"""A policy of another jurisdiction, written in YAML alone, through every command a user runs.

tests/fixtures/stall holds a fictional street-food-stall hygiene scheme in English (wards, not districts; stalls,
not enterprises; a rating enum with labels, a dated parameter, a rule over a list, its own `reports:`) and an
amendment of it. Each command's output, its errors and hints included, must be in the policy's own names: none
may name what belongs to the shipped Shanghai policy.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import FIXTURES

ROOT = FIXTURES / "stall"
CASES = ROOT / "cases"
STALL = ["--policy-root", str(ROOT), "--policy", "stall-hygiene"]
# What only the Shanghai policy says: its case file's top key, its groups, its decisions, its language.
SHANGHAI = re.compile(r"enterprise|district|shanghai-post-license@|supervision_mode|classification|credit_code|企业|区|zh-Hans",
                      re.IGNORECASE)


def run(*args, input=None):
    return CliRunner().invoke(regcode, [str(a) for a in args], input=input)


def own_words(result) -> str:
    text = result.stdout + result.stderr
    assert not SHANGHAI.findall(text), text
    return text


def test_the_policy_validates_and_its_cases_pass():
    result = run("validate", "--policy-root", ROOT, ROOT / "stall-hygiene")
    assert result.exit_code == 0, result.output
    for ref in ("stall-hygiene@1", "stall-hygiene@2"):
        result = run("test", ref, "--policy-root", ROOT)
        assert result.exit_code == 0 and "passed, 0 failed" in result.stdout, result.output


def test_a_reference_without_a_version_is_answered_with_the_policys_own_versions():
    result = run("show", "stall-hygiene", "--policy-root", ROOT)
    assert result.exit_code == 1
    assert "write stall-hygiene@1 or stall-hygiene@2" in own_words(result)
    result = run("show", "stall-hygien", "--policy-root", ROOT)
    assert "write stall-hygiene@1 or stall-hygiene@2" in own_words(result)
    result = run("show", "zzz", "--policy-root", ROOT)
    assert "write POLICY@VERSION" in own_words(result)


def test_a_case_file_that_is_no_mapping_is_answered_without_anothers_fields(tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "list.json").write_text("[1]\n")
    for name in ("list.yaml", "empty.yaml", "list.json"):
        result = run("eval", tmp_path / name, *STALL)
        assert result.exit_code == 1 and "as_of" in own_words(result), result.output
    (tmp_path / "cases.jsonl").write_text('{"as_of": "2024-06-30"}\n[1]\n')
    result = run("batch", tmp_path / "cases.jsonl", "--out", tmp_path / "out.jsonl", "--errors", tmp_path / "err.jsonl", *STALL)
    assert result.exit_code == 1
    own_words(result)
    assert not SHANGHAI.findall((tmp_path / "err.jsonl").read_text())


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "stall-hygiene", root / "stall-hygiene")
    shutil.rmtree(root / "stall-hygiene" / "2")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_an_identity_or_report_path_that_is_no_field_is_answered_with_a_field_of_the_policys_own(tmp_path):
    root = _copy(tmp_path)
    manifest = root / "stall-hygiene" / "1" / "policy.yaml"
    _edit(manifest, "identity: [stall.licence_no, stall.trading_name]", "identity: [stall.licence_no, zzzz.qq, as_of]")
    result = run("validate", "--policy-root", root, root / "stall-hygiene" / "1")
    text = own_words(result)
    assert result.exit_code == 1
    assert "identity path `zzzz.qq` is not a scalar field of the case file (name a text field, e.g. stall.licence_no)" in text
    assert "would overwrite the output's `as_of` (name a field of the case file such as stall.licence_no)" in text
    _edit(manifest, "identity: [stall.licence_no, zzzz.qq, as_of]", "identity: [stall.licence_no]")
    _edit(manifest, "fallback: stall.ward", "fallback: qqqqq")
    result = run("validate", "--policy-root", root, root / "stall-hygiene" / "1")
    assert result.exit_code == 1
    assert "`qqqqq` is not a scalar field of the case file (name a text field, e.g. stall.licence_no)" in own_words(result)


def test_the_plan_takes_one_group_by_the_policys_own_name_for_it(tmp_path):
    whole = run("plan", "--year", 2024, CASES, *STALL, "--jobs", 1)
    assert whole.exit_code == 0, whole.output
    assert "share to inspect per mode and ward" in own_words(whole) and "1 without a ward" in whole.stdout
    for option in ("--group", "--district"):     # one option, two names: --district stays for Shanghai's readers
        one = run("plan", "--year", 2024, CASES, *STALL, option, "North", "--jobs", 1)
        assert one.exit_code == 0, one.output
        assert "North: 1 case files" in own_words(one) and "3 of another or no ward" in one.stdout
        typo = run("plan", "--year", 2024, CASES, *STALL, option, "Nort", "--jobs", 1)
        assert typo.exit_code == 1
        assert "regcode plan: --group: stall-hygiene has no ward 'Nort'; its wards: North, South, Riverside; did you mean `North`?" \
            in own_words(typo)
    assert "--group, --district G" in run("plan", "--help").stdout


def test_the_pages_mark_the_policys_words_in_the_language_its_text_declares(tmp_path):
    page = run("eval", CASES / "b.yaml", *STALL, "--format", "html")
    assert page.exit_code == 0, page.output
    marks = re.findall(r'lang="([^"]*)"', own_words(page))
    assert marks.count("en") > 10 and set(marks) == {"en"}          # the page's own words are English too
    diff = run("diff", "stall-hygiene@1", "stall-hygiene@2", "--policy-root", ROOT, "--format", "html")
    assert diff.exit_code == 0 and 'class="redline" lang="en"' in own_words(diff)
    result = run("site", "stall-hygiene", "--policy-root", ROOT, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    for page in (tmp_path / "site" / "stall-hygiene").rglob("*.html"):
        assert "zh-Hans" not in page.read_text(encoding="utf-8"), page
    assert '<h1 lang="en">Street Food Stall' in (tmp_path / "site" / "stall-hygiene" / "1" / "index.html").read_text(encoding="utf-8")
    # a policy whose text declares no language has its words unmarked, not marked as Chinese
    kiosk = run("eval", FIXTURES.parent / "policies" / "kiosk" / "1" / "tests" / "cases.yaml", "--policy-root",
                FIXTURES.parent / "policies", "--policy", "kiosk", "--format", "html")
    assert set(re.findall(r'lang="([^"]*)"', kiosk.stdout)) <= {"en"}, kiosk.output


@pytest.mark.parametrize("language", ['en" onload="x', "zh Hans", "", "e"])
def test_a_text_language_that_is_no_language_tag_is_a_located_schema_problem(tmp_path, language):
    """The pages write the tag into a `lang` attribute: the schema takes a BCP 47 tag alone (letters, digits, hyphens)."""
    import shutil
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "stall-hygiene", root / "stall-hygiene")
    text = root / "stall-hygiene" / "1" / "text.yaml"
    text.write_text(text.read_text(encoding="utf-8").replace("{language: en}", "{language: " + json.dumps(language) + "}"),
                    encoding="utf-8")
    result = run("validate", "--policy-root", root)
    assert result.exit_code == 1
    assert re.search(r"stall-hygiene/1/text\.yaml:3:\d+: schema\.pattern: `source\.language`: ", result.stderr), result.stderr


def test_the_format_documents_every_key_of_reports_group_and_plan():
    """A drafter learns `reports:` from docs/policy-format.md: each key the schema takes is in its example."""
    import yaml
    from conftest import REPO
    schema = yaml.safe_load((REPO / "schemas" / "policy.schema.yaml").read_text(encoding="utf-8"))
    reports = schema["properties"]["reports"]["properties"]
    doc = (REPO / "docs" / "policy-format.md").read_text(encoding="utf-8")
    example = doc[doc.index("\nreports:\n"):doc.index("A plan row has the columns")]
    for part in ("group", "plan"):
        for key in reports[part]["properties"]:
            assert re.search(rf"^\s+{key}:", example, re.MULTILINE), (part, key)


def test_a_citation_in_another_numbering_is_refused_at_its_place_as_the_format_says(tmp_path):
    """docs/policy-format.md: citations are written 第N条 whatever the regulation; `Section 2` is schema.pattern."""
    root = _copy(tmp_path)
    version = root / "stall-hygiene" / "1"
    for name in ("articles.yaml", "text.yaml", "rules/scope.yaml"):
        _edit(version / name, "第二条", "Section 2")
    result = run("validate", "--policy-root", root, version)
    assert result.exit_code == 1
    lines = [line for line in own_words(result).splitlines() if "schema.pattern" in line]
    assert len(lines) == 3 and all("'Section 2' does not have the expected form (an article: 第N条" in line for line in lines)
    from conftest import REPO
    assert "Citations are written in the Chinese drafting form" in (REPO / "docs" / "policy-format.md").read_text(encoding="utf-8")


def test_batch_says_its_summary_is_by_the_policys_own_groups():
    text = " ".join(run("batch", "--help").stdout.split())
    assert "a table by the groups of the policy's reports.group" in text and "production district" not in text


def test_a_policy_root_of_one_policy_is_the_one_taken_without_policy(tmp_path):
    result = run("eval", CASES / "a.yaml", "--policy-root", ROOT)
    assert result.exit_code == 0 and result.stdout.startswith(f"{CASES / 'a.yaml'}: stall-hygiene@1"), result.output
    result = run("batch", CASES, "--policy-root", ROOT, "--out", tmp_path / "out.jsonl", "--jobs", 1)
    assert result.exit_code == 0 and "ward" in own_words(result)
    assert run("plan", "--year", 2024, CASES, "--policy-root", ROOT, "--jobs", 1).exit_code == 0
    # two policies of one's own (or none) still need naming
    both = run("eval", CASES / "a.yaml", "--policy-root", ROOT, "--policy-root", FIXTURES.parent / "policies")
    assert both.exit_code == 1 and "select.which_policy" in both.output
