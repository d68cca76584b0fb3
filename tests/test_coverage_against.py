"""`regcode coverage POLICY@VERSION --against OTHER`: OTHER's articles and rules, and which of them POLICY's cases make
fire when run on OTHER, as `regcode test --against` runs them (one code path: engine/testing.py's tested)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog
from regcode.engine import testing

from conftest import REPO

AMENDMENT = ["--policy-root", str(REPO / "examples" / "amendment" / "policies")]
OLD = "shanghai-post-license@2017"


def run(*args):
    result = CliRunner().invoke(regcode, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output
    return result


@pytest.fixture(scope="module")
def against():
    result = run("coverage", OLD, "--against", "2022-illustration", *AMENDMENT, "--format", "json")
    return result, json.loads(result.stdout)


def test_coverage_against_reports_the_other_versions_rules_fired_by_the_first_versions_cases(against):
    result, rep = against
    assert rep["policy"]["id"] == "shanghai-post-license" and rep["policy"]["version"] == "2022-illustration"
    assert rep["cases_of"] == OLD
    rules = {r["id"] for a in rep["articles"] for r in a["rules"]}
    assert "online-sales-monitoring" in rules and "c-revoke-quality-awards" not in rules    # the amendment's rules
    assert rep["untested_rules"] == ["online-sales-monitoring"]      # the rule it adds: no case of 2017 makes it fire
    assert rep["summary"]["rules"] == len(rules) and rep["summary"]["rules_tested"] == len(rules) - 1
    assert result.exit_code == 1      # cases that no longer hold are no pass, as in `test --against`


def test_coverage_against_leaves_out_exactly_the_cases_test_against_fails(against):
    _, rep = against
    test = json.loads(run("test", OLD, "--against", "2022-illustration", *AMENDMENT, "--format", "json").stdout)
    failing = sorted((c["file"], c["line"], c["status"]) for c in test["cases"] if c["status"] != "pass")
    assert len(failing) == test["failed"] == 8
    assert sorted((c["file"], c["line"], c["status"]) for c in rep["not_counted"]) == failing
    assert rep["summary"]["cases"] == test["passed"]


def test_coverage_of_a_version_against_itself_is_its_own_coverage():
    own = json.loads(run("coverage", OLD, "--format", "json").stdout)
    same = json.loads(run("coverage", OLD, "--against", "2017", "--format", "json").stdout)
    assert same.pop("cases_of") == OLD and "cases_of" not in own
    assert same == own


def test_coverage_against_text_names_whose_cases_and_the_rule_they_leave_untested():
    result = run("coverage", OLD, "--against", f"{OLD.split('@')[0]}@2022-illustration", *AMENDMENT, "--fail-on-untested")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("shanghai-post-license@2022-illustration: ") and f"cases of {OLD}" in first
    assert "8 not counted" in first
    assert result.stdout.splitlines()[-1] == "  rules that fire in no test case: online-sales-monitoring"


@pytest.mark.parametrize("command", ["coverage", "test"])
def test_an_unknown_against_version_is_one_paragraph_naming_the_option(command):
    result = run(command, OLD, "--against", "2023", *AMENDMENT)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("--against '2023': select.unknown_version: ") and "2022-illustration" in result.stderr


def test_tested_against_fires_the_other_versions_rules_and_skips_the_own_version_checks():
    cat = Catalog([REPO / "examples" / "amendment" / "policies"])
    old, new = cat.by_ref(OLD), cat.by_ref("shanghai-post-license@2022-illustration")
    results, counted, problems, _ = testing.tested(cat, old, against=new)
    assert {r.policy_ref for r in results if r.case.id in counted and counted[r.case.id]} == {new.ref}
    fired = {rule for rules in counted.values() for rule in rules}
    assert fired <= {r.id for r in new.rules} and "c-revoke-quality-awards" not in fired
    assert problems == []
