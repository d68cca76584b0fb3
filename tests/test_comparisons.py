"""Comparisons whose two sides' types can never match are refused (compile.type, at the value), and the
legitimate ones (nullable fields, enums, integers with floats, dates written as text) are not: the cases
are tests/fixtures/types/comparisons.yaml, against the small policy beside it."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import FIXTURES

TYPES = FIXTURES / "types"
CASES = yaml.safe_load((TYPES / "comparisons.yaml").read_text(encoding="utf-8"))


def _validate(tmp_path, case) -> list:
    version = tmp_path / "types" / "1"
    shutil.copytree(TYPES, version, ignore=shutil.ignore_patterns("comparisons.yaml"))
    (version / "rules").mkdir()
    then = case.get("then", "[{decide: hit, value: true}]")
    (version / "rules" / "r.yaml").write_text(
        "apiVersion: regcode/v1\nkind: Rules\nrules:\n  - id: r\n    article: 第一条\n    title: t\n"
        f"    when: {case['when']}\n    then: {then}\n", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["validate", "--format", "json", str(version)])
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)["versions"][0].get("errors", [])


@pytest.mark.parametrize("case", CASES["refused"], ids=[c["name"] for c in CASES["refused"]])
def test_a_comparison_that_can_never_match_is_refused_at_its_value(case, tmp_path):
    code, errors = _validate(tmp_path, case)
    assert code == 1
    assert [e["code"] for e in errors] == ["compile.type"], errors
    err = errors[0]
    assert case["message"] in err["message"], err["message"]
    assert err["location"]["path"].endswith("." + case.get("at", "value")), err["location"]
    assert err["location"]["line"] == 7
    if "hint" in case:
        assert case["hint"] in err["hint"], err["hint"]


@pytest.mark.parametrize("case", CASES["accepted"], ids=[c["name"] for c in CASES["accepted"]])
def test_a_legitimate_comparison_compiles(case, tmp_path):
    code, errors = _validate(tmp_path, case)
    assert (code, errors) == (0, [])


RANK_RULES = """apiVersion: regcode/v1
kind: Rules
rules:
  - {id: rank-from-grade, article: 第一条, title: t, when: {present: shop.grade}, then: [{decide: rank, value: {path: shop.grade}}]}
  - {id: top-rank, article: 第一条, title: t, when: {expr: {decision: rank}, op: '==', value: 3}, then: [{decide: hit, value: true}]}
"""


@pytest.mark.parametrize("backend", ["python", "durable"])
@pytest.mark.parametrize("grade,hit", [(3, True), (2, False), (None, False)])
def test_an_enum_decision_of_numbers_compares_with_a_number(grade, hit, backend, tmp_path):
    """`values: [1, 2, 3]` makes the decision a number (it was read as text, so `== 3` was refused as compile.type)."""
    version = tmp_path / "types" / "1"
    shutil.copytree(TYPES, version, ignore=shutil.ignore_patterns("comparisons.yaml"))
    (version / "rules").mkdir()
    (version / "rules" / "r.yaml").write_text(RANK_RULES, encoding="utf-8")
    case = tmp_path / "case.yaml"
    case.write_text("as_of: 2020-06-30\nshop: {name: x" + ("" if grade is None else f", grade: {grade}") + "}\n", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["eval", "--policy-root", str(tmp_path), "--policy", "types", "--backend", backend,
                                          "--format", "json", str(case)])
    assert result.exit_code == 0, result.output
    decisions = json.loads(result.stdout)["decisions"]
    assert (decisions["rank"], decisions["hit"]) == (grade or 1, hit)
