"""A value of the wrong shape or type in a policy file (tests/fixtures/invalid/value-types.yaml): a located problem
and exit 1 from every command that compiles the policy, never an internal error (exit 3)."""
from __future__ import annotations

import shutil

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine.catalog import Catalog
from regcode.engine.errors import EvaluationError
from regcode.engine.plan import entry_of
from regcode.engine.reports import reports_for

from conftest import FIXTURES, TEST_POLICIES, TESTS

CASES = yaml.safe_load((FIXTURES / "invalid" / "value-types.yaml").read_text(encoding="utf-8"))
COMMANDS = ("validate", "test", "eval", "site", "schema")   # (and eval_durable, for the cases that name it)
CASE_FILE = "as_of: 2020-06-30\napplicant: {name: 张三餐车, district: 浦东新区, employees: 12, certified: true}\n"


def _broken_copy(case: dict, tmp_path):
    """The toy policy with the case's edit made; (policy root, version folder, file:line:column of the edit)."""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    for name, content in (case.get("add") or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content, encoding="utf-8")
    version = root / case.get("version", "toy/1")
    path = version / case["file"]
    text = path.read_text(encoding="utf-8")
    start = text.index(case["after"]) + len(case["after"]) if "after" in case else 0
    at = text.index(case["find"], start)
    text = text[:at] + case["replace"] + text[at + len(case["find"]):]
    path.write_text(text, encoding="utf-8")
    offset = at + case["replace"].index(case.get("at", case["replace"]))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return root, version, f"{path.relative_to(root)}:{line}:{column}"


def _run(command: str, root, version, tmp_path):
    ref = f"toy@{version.name}"
    case = tmp_path / "case.yaml"
    case.write_text(CASE_FILE, encoding="utf-8")
    args = {"validate": ["validate", "--policy-root", str(root), str(version)],
            "test": ["test", "--policy-root", str(root), str(version)],
            "eval": ["eval", "--policy-root", str(root), "--policy", "toy", "--policy-version", version.name, str(case)],
            "eval_durable": ["eval", "--backend", "durable", "--policy-root", str(root), "--policy", "toy",
                             "--policy-version", version.name, str(case)],
            "site": ["site", "--policy-root", str(root), "--out", str(tmp_path / "site"), ref],
            "schema": ["schema", "--policy-root", str(root), "--out", str(tmp_path / "schemas"), ref]}[command]
    return CliRunner().invoke(regcode, args)


# each fixture through the commands that say its problem (all of COMMANDS unless it names them; eval_durable
# only where it is named): the pairs that apply, none made only to be skipped
PAIRS = [(c, command) for c in CASES for command in COMMANDS + ("eval_durable",) if command in c.get("commands", COMMANDS)]


@pytest.mark.parametrize("case,command", PAIRS, ids=[f"{c['mode']}-{command}" for c, command in PAIRS])
def test_a_value_of_the_wrong_type_is_a_located_problem(case, command, tmp_path):
    root, version, place = _broken_copy(case, tmp_path)
    result = _run(command, root, version, tmp_path)
    assert "internal error" not in result.output and "Traceback" not in result.output, result.output
    assert result.exit_code == 1, result.output
    assert f"{place}: {case['code']}: " in result.output, result.output


def test_the_shipped_toy_policy_has_no_such_problem(tmp_path):
    """(the cases' edits, not the copy, make the problems above)"""
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    result = _run("validate", root, root / "toy" / "1", tmp_path)
    assert result.exit_code == 0, result.output


def test_plan_says_a_decision_of_the_wrong_type_instead_of_crashing():
    """`regcode plan` reads the share as a number: a result claiming text there (which compile.type makes
    unreachable for a policy that validates) is the record's eval.type problem, not a TypeError (exit 3)."""
    cat = Catalog([TESTS.parent / "policies"])
    result = {"policy": {"id": "shanghai-post-license", "version": "2017"}, "as_of": "2020-06-30",
              "decisions": {"supervision_mode": "credit", "inspection_sampling_ratio_min": "20%"}}
    spec = reports_for(cat, result).plan
    with pytest.raises(EvaluationError) as raised:
        entry_of(spec, {}, result)
    issue = raised.value.issues[0]
    assert issue.code == "eval.type"
    assert "`inspection_sampling_ratio_min` is '20%' (text); the plan reads it as a number" in issue.message


@pytest.mark.parametrize("case", [c for c in CASES if "eval_durable" in c.get("commands", ())],
                         ids=[c["mode"] for c in CASES if "eval_durable" in c.get("commands", ())])
def test_an_undeclared_value_is_said_alike_by_both_backends(case, tmp_path):
    root, version, _place = _broken_copy(case, tmp_path)
    python, durable = (_run(command, root, version, tmp_path) for command in ("eval", "eval_durable"))
    assert python.output == durable.output and python.exit_code == durable.exit_code == 1, (python.output, durable.output)
    assert python.output.count("\n") == 1, python.output     # one paragraph: the problem, nothing output beside it
