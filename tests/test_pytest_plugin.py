"""The regcode pytest plugin (entry point pytest11), run the way a drafter runs it: `pytest path/to/cases.yaml`.

Every policy's cases run in this suite through the plugin itself: pyproject's testpaths include
policies/, and tests/policies/toy/1/tests/cases.yaml lies under tests/."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

from regcode.engine import shipped_root
from regcode.engine import _durable
from regcode.engine.evaluate import BACKENDS
from regcode.engine.testing import discover

from conftest import REPO, TEST_POLICIES

SHANGHAI = shipped_root() / "shanghai-post-license" / "2017"
SCOPE = SHANGHAI / "tests" / "scope.yaml"
RUNS = [b for b in BACKENDS if b != "durable" or _durable.available()]   # both where CI installs regcode[durable]
ITEM = re.compile(r"\.yaml::(.*)\[(" + "|".join(BACKENDS) + r")\]")


def collected(result) -> list:
    return [line for line in result.outlines if "::" in line]


def case_ids(result) -> list:
    """(case name, backend) of each item pytest listed."""
    found = [ITEM.search(line) for line in collected(result)]
    return [(m.group(1), m.group(2)) for m in found if m]


def cases_in(path):
    return [c for c in discover(path.parent.parent) if c.doc.file.endswith(f"tests/{path.name}")]


def test_pytest_on_one_cases_file_runs_just_that_files_cases(pytester):
    result = pytester.runpytest_subprocess(str(SCOPE), "-p", "no:cacheprovider", "-v")
    names = {c.name for c in cases_in(SCOPE)}
    assert len(names) >= 5
    result.assert_outcomes(passed=len(names) * len(RUNS), skipped=len(names) * (len(BACKENDS) - len(RUNS)))
    ran = collected(result)
    assert len(ran) == len(names) * len(BACKENDS)
    assert all("scope.yaml::" in line for line in ran)
    assert {name for name, _ in case_ids(result)} == names


def test_k_selects_cases_by_name_and_the_backend_option_narrows(pytester):
    result = pytester.runpytest_subprocess(str(SCOPE), "-p", "no:cacheprovider", "-k", "licenses and absent",
                                           "--regcode-backend", "python", "-v")
    result.assert_outcomes(passed=1)
    assert case_ids(result) == [("licenses absent - not applicable", "python")]


def test_every_policys_cases_are_collected_on_every_backend(pytester):
    result = pytester.runpytest_subprocess(str(REPO / "policies"), str(TEST_POLICIES), "--collect-only", "-q",
                                           "-p", "no:cacheprovider")
    lines = collected(result)
    shanghai = [line for line in lines if "shanghai-post-license" in line]
    assert len(discover(SHANGHAI)) >= 100
    assert len(shanghai) == len(discover(SHANGHAI)) * len(BACKENDS)
    assert any("toy/1/tests/cases.yaml::" in line for line in lines)
    for backend in BACKENDS:
        assert sum(line.endswith(f"[{backend}]") for line in shanghai) == len(discover(SHANGHAI))


def _toy_copy(pytester, old: str, new: str):
    root = pytester.path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    cases = root / "toy" / "1" / "tests" / "cases.yaml"
    text = cases.read_text(encoding="utf-8")
    assert old in text
    cases.write_text(text.replace(old, new, 1), encoding="utf-8")
    return cases


def test_a_failing_case_reports_place_name_and_table_without_python(pytester):
    cases = _toy_copy(pytester, "      fee: 300\n", "      fee: 299\n")
    result = pytester.runpytest_subprocess(str(cases), "-p", "no:cacheprovider", "-k", "busy", "--regcode-backend", "python")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    line = next(c for c in cases_in(cases)).location.line   # the failing case is the file's first
    result.stdout.fnmatch_lines([
        f"*cases.yaml:{line}: case 'a busy applicant with a major incident, stale and failed vehicles' failed on toy@1 (python backend)",
        "  decision  expected  actual  decided by",
        "  fee       299       300     base-fee, high-risk-surcharge",
    ])
    for python in ("Traceback", "def runtest", "raise CaseFailed", "pytest_plugin.py", "site-packages", "\nE "):
        assert python not in text


def test_junitxml_works_through_pytest(pytester):
    cases = _toy_copy(pytester, "      fee: 300\n", "      fee: 299\n")
    report = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(str(cases), "-p", "no:cacheprovider", f"--junitxml={report}",
                                           "--regcode-backend", RUNS[-1])
    n = len(cases_in(cases))
    result.assert_outcomes(failed=1, passed=n - 1)
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("tests") == str(n) and suite.get("failures") == "1"
    failed = [tc for tc in suite.iter("testcase") if tc.find("failure") is not None]
    assert [tc.get("name") for tc in failed] == [f"a busy applicant with a major incident, stale and failed vehicles[{RUNS[-1]}]"]
    assert "fee       299       300" in failed[0].find("failure").text


def test_a_broken_cases_file_is_a_collection_error_naming_its_place(pytester):
    """A file wrong as a whole (its `cases:` misspelt) has no case to trust: its collection fails, at the place."""
    cases = _toy_copy(pytester, "cases:\n", "casses:\n")
    result = pytester.runpytest_subprocess(str(cases), "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*ERROR collecting*cases.yaml*", "*cases.yaml:*: schema.*casses*"])
    assert "Traceback" not in result.stdout.str()


def test_a_case_with_a_misspelt_key_is_set_aside_at_its_place_and_the_others_run(pytester):
    """As `regcode test` does: the bad case fails where it is written, naming the schema problem; the others run."""
    cases = _toy_copy(pytester, "    expect_error: eval.conflict\n", "    expect_eror: eval.conflict\n")
    result = pytester.runpytest_subprocess(str(cases), "-p", "no:cacheprovider", "--regcode-backend", "python", "-v")
    good = discover(cases.parent.parent, [])      # what `regcode test` runs of it
    assert "two named inspectors conflict (unique strategy)" not in {c.name for c in good}
    result.assert_outcomes(failed=1, passed=len(good))
    text = result.stdout.str()
    assert "ERROR collecting" not in text and "Traceback" not in text
    line = next(i + 1 for i, row in enumerate(cases.read_text(encoding="utf-8").splitlines()) if "expect_eror" in row)
    result.stdout.fnmatch_lines(["*cases.yaml::two named inspectors conflict (unique strategy)[[]set aside[]] FAILED*",
                                 f"*cases.yaml:{line}:5: schema.additionalProperties: unknown key `expect_eror`*"])


def test_a_case_says_every_problem_regcode_test_says_of_it(pytester):
    """A case whose facts the facts schema refuses and whose expectations are misspelt: as `regcode test` does, pytest
    names each (test.facts, test.unknown_decision, test.value) at its place, beside the case's own failing run."""
    cases = _toy_copy(pytester, "      fee: 300\n", "      fee: 300\n      tierr: gold\n")
    text = cases.read_text(encoding="utf-8")
    cases.write_text(text.replace("employees: 12,", "employees: twelve,", 1).replace("      risk: high\n", "      risk: hgh\n", 1),
                     encoding="utf-8")
    result = pytester.runpytest_subprocess(str(cases), "-p", "no:cacheprovider", "--regcode-backend", "python", "-v")
    out = result.stdout.str()
    assert "ERROR collecting" not in out and "Traceback" not in out
    name = "a busy applicant with a major incident, stale and failed vehicles"
    result.stdout.fnmatch_lines([f"*cases.yaml::{name}[[]problem[]] FAILED*"])
    for said in ("test.facts: case '" + name + "': applicant.employees must be a whole number",
                 "test.unknown_decision: case '" + name + "' expects a decision `tierr`",
                 "test.value: case '" + name + "' expects `risk` to be \"hgh\""):
        assert said in out, said


def test_yaml_outside_a_policy_version_folder_is_not_collected(pytester):
    other = pytester.path / "notes.yaml"
    other.write_text("apiVersion: regcode/v1\nkind: TestCases\ncases: []\n", encoding="utf-8")
    result = pytester.runpytest_subprocess(str(other), "-p", "no:cacheprovider")
    assert result.ret == 4 or "no tests ran" in result.stdout.str()   # 4: pytest found nothing to run here
