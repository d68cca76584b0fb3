"""The CLI through click's CliRunner: output shapes, exit codes, determinism; explanations pinned by golden files."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import FIXTURES, TEST_POLICIES, TESTS

TOY = ["--policy-root", str(TEST_POLICIES), "--policy", "toy"]
CASE = FIXTURES / "cases" / "toy-busy.yaml"


def run(*args, **kw):
    return CliRunner().invoke(regcode, list(args), **kw)


def test_eval_json_has_policy_as_of_decisions_and_why():
    result = run("eval", *TOY, "--format", "json", str(CASE))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["policy"]["id"] == "toy" and data["policy"]["version"] == "1" and len(data["policy"]["content_hash"]) == 16
    assert data["as_of"] == "2020-06-30"
    assert set(data["decisions"]) == set(data["why"])
    entry = next(e for e in data["why"]["risk"] if e["decisive"])
    assert entry == {"rule": "major-incident", "article": "第四条", "title": "三年内重大事故", "value": "high", "decisive": True,
                     "matched": [{"path": "incidents[0].date", "value": "2018-01-01"}, {"path": "incidents[0].severity", "value": "major"}]}


def test_eval_output_is_byte_identical_across_runs():
    outputs = {run("eval", *TOY, "--format", "json", str(CASE)).stdout for _ in range(3)}
    assert len(outputs) == 1


def test_as_of_option_overrides_the_case_file():
    data = json.loads(run("eval", *TOY, "--format", "json", "--as-of", "2020-12-31", str(CASE)).stdout)
    assert data["as_of"] == "2020-12-31"


def test_policy_version_forces_a_version_and_unknown_one_is_explained():
    bad = run("eval", *TOY, "--policy-version", "7", str(CASE))
    assert bad.exit_code == 1 and "select.unknown_version" in bad.stderr and "toy has no version `7`" in bad.stderr


def test_yaml_format_round_trips():
    data = yaml.safe_load(run("eval", *TOY, "--format", "yaml", str(CASE)).stdout)
    assert data["decisions"]["fee"] == 300


def test_several_files_give_a_list_and_a_bad_one_does_not_stop_the_rest(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: 2020-06-30\napplicant: {name: x}\n", encoding="utf-8")
    result = run("eval", *TOY, "--format", "json", str(CASE), str(bad), str(CASE))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert len(data) == 2 and "input.schema" in result.stderr


@pytest.mark.parametrize("name,args", [("toy-busy-explain.txt", ["--explain"]), ("toy-busy.txt", [])])
def test_text_explanation_matches_golden(name, args, update_golden, monkeypatch):
    monkeypatch.chdir(TESTS.parent)   # the output names the case file as given: keep it relative
    result = run("eval", *TOY, str(CASE.relative_to(TESTS.parent)), *args)
    assert result.exit_code == 0
    golden = TESTS / "golden" / name
    if update_golden:
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8"), "run pytest --update-golden after an intended change"


def test_policies_lists_versions_and_windows():
    result = run("policies", "--policy-root", str(TEST_POLICIES))
    assert "toy@1  2020-01-01 .. 2020-12-31" in result.stdout


def test_validate_json_reports_ok():
    data = json.loads(run("validate", "--format", "json", str(TEST_POLICIES / "toy")).stdout)
    assert data["ok"] is True and data["versions"][0]["rules"] >= 26


def test_test_command_junit_and_json(tmp_path):
    junit = tmp_path / "junit.xml"
    result = run("test", "toy", "--policy-root", str(TEST_POLICIES), "--format", "json", "--junit", str(junit))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["failed"] == 0 and data["passed"] == len(data["cases"]) >= 9
    assert '<testsuite name="toy"' in junit.read_text(encoding="utf-8") and 'failures="0"' in junit.read_text(encoding="utf-8")


@pytest.mark.parametrize("where", ["nodir/x.xml", "README/x.xml"])
def test_a_junit_report_into_a_folder_that_is_not_there_is_a_usage_error_before_the_run(tmp_path, where):
    (tmp_path / "README").write_text("a file, not a folder", encoding="utf-8")
    result = run("test", "toy", "--policy-root", str(TEST_POLICIES), "--junit", str(tmp_path / where))
    assert result.exit_code == 1 and "internal error" not in result.output, result.output
    assert "--junit" in result.output and "does not exist" in result.output


@pytest.mark.parametrize("where, said", [("out", "'{path}' is a folder; a file is wanted here"),
                                         ("out/", "'{path}' is a folder; a file is wanted here"),
                                         ("new/", "{path} ends with /, as a folder's name does; a file is wanted here"),
                                         ("out/new/", "{path} ends with /, as a folder's name does; a file is wanted here")])
def test_a_junit_report_named_as_a_folder_is_refused_before_the_run(tmp_path, where, said):
    """`--junit new/` ran every case and wrote a file named `new`: click's Path() dropped the slash."""
    (tmp_path / "out").mkdir()
    path = f"{tmp_path}/{where}"
    result = run("test", "toy", "--policy-root", str(TEST_POLICIES), "--junit", path)
    assert result.exit_code == 1 and result.stdout == "", result.output
    assert result.stderr == f"regcode test: --junit: {said.format(path=path)} " + (
        "(name the file in that folder, or leave out the /) " if "ends with" in said else "") + "(see regcode test --help)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any((tmp_path / "out").iterdir())


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["eval", "examples/cases/aa-clean.yaml"], ["eval", "examples/cases/aa-clean.yaml", "--format", "json"],
                                  ["eval", "examples/cases/aa-clean.yaml", "--format", "html"], ["policies"],
                                  ["show", "shanghai-post-license@2017"], ["test", "shanghai-post-license", "--format", "json"]])
def test_a_full_stdout_is_output_io_and_exit_1_not_an_internal_error(args):
    """`regcode eval FILE > /dev/full`: no room is the environment's, not a bug (exit 3 said it was)."""
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([str(Path(sys.executable).parent / "regcode"), *args], cwd=root, stdout=full,
                              stderr=subprocess.PIPE, timeout=120)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err
    assert "output.io" in err and "No space left on device" in err and "internal error" not in err and "Traceback" not in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"], ["eval", "--help"], ["batch", "--help"], ["test", "-h"]])
def test_help_and_version_to_a_full_stdout_are_one_output_io_paragraph(args):
    """`regcode --version > /dev/full` was a traceback: click writes the group's help and version while it parses."""
    import subprocess
    import sys
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([str(Path(sys.executable).parent / "regcode"), *args], stdout=full, stderr=subprocess.PIPE,
                              timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode("utf-8") == ("stdout: output.io: cannot write stdout: No space left on device (free some "
                                           "space where stdout goes, or redirect it elsewhere)\n")


def test_test_command_reports_a_failing_case_with_its_diff(tmp_path):
    import shutil
    root = tmp_path / "p"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    cases = root / "toy" / "1" / "tests" / "cases.yaml"
    cases.write_text(cases.read_text(encoding="utf-8").replace("fee: 300", "fee: 299"), encoding="utf-8")
    result = run("test", "toy", "--policy-root", str(root))
    assert result.exit_code == 1
    assert "fee: expected 299, got 300   (by base-fee, high-risk-surcharge)" in result.stdout
    assert result.stdout.rstrip().endswith("8 passed, 1 failed") or "1 failed" in result.stdout


def test_coverage_lists_untested_rules(tmp_path):
    import shutil
    root = tmp_path / "p"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    (root / "toy" / "1" / "tests" / "cases.yaml").unlink()
    result = run("coverage", "toy", "--policy-root", str(root), "--format", "json")
    data = json.loads(result.stdout)
    assert data["summary"]["rules_tested"] == 0 and "base-fee" in data["untested_rules"]
    strict = run("coverage", "toy", "--policy-root", str(root), "--fail-on-untested")
    assert strict.exit_code == 1


def test_internal_errors_are_one_line_not_a_traceback(monkeypatch):
    from regcode.engine import catalog as catalog_module
    monkeypatch.setattr(catalog_module.Catalog, "policy_ids", lambda self: 1 / 0)
    result = run("eval", str(CASE))
    assert result.exit_code == 3
    assert "internal error" in result.stderr and "Traceback" not in result.output


SHANGHAI_CASE = TESTS.parent / "examples" / "cases" / "two-categories.yaml"


def test_eval_json_names_the_enterprise_from_the_policy_identity():
    result = run("eval", "--format", "json", str(SHANGHAI_CASE))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    case = yaml.safe_load(SHANGHAI_CASE.read_text(encoding="utf-8"))
    assert data["enterprise"] == {"credit_code": case["enterprise"]["credit_code"], "name": case["enterprise"]["name"]}
    assert data["source"] == str(SHANGHAI_CASE)


@pytest.mark.parametrize("level", ["none", "decisive", "full"])
def test_eval_json_writes_the_bytes_of_dump_json_and_a_newline(level):
    # eval writes orjson's bytes to stdout's byte stream; they must be the text API's, encoded
    from regcode.engine import Catalog, dump_json, evaluate_case, load_case_file
    result = run("eval", "--format", "json", f"--explain={level}", str(SHANGHAI_CASE))
    assert result.exit_code == 0, result.output
    expected = evaluate_case(Catalog(), load_case_file(SHANGHAI_CASE, str(SHANGHAI_CASE)), explain=level)
    assert result.stdout_bytes == (dump_json(expected, pretty=True) + "\n").encode("utf-8")
    both = run("eval", "--format", "json", f"--explain={level}", str(SHANGHAI_CASE), str(SHANGHAI_CASE))
    assert both.stdout_bytes == (dump_json([expected, expected], pretty=True) + "\n").encode("utf-8")


def test_echo_bytes_writes_text_to_a_stdout_without_bytes(monkeypatch):
    import io
    from regcode.cli.main import echo_bytes
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    echo_bytes("决定".encode("utf-8"))
    assert out.getvalue() == "决定\n"


@pytest.mark.parametrize("level", ["none", "decisive", "full"])
def test_explain_levels_keep_the_decisions_and_drop_only_reasons(level):
    full = json.loads(run("eval", "--format", "json", str(SHANGHAI_CASE)).stdout)
    result = run("eval", "--format", "json", f"--explain={level}", str(SHANGHAI_CASE))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["decisions"] == full["decisions"]
    if level == "none":
        assert "why" not in data and "derived" not in data
    elif level == "decisive":
        kept = {(n, e["rule"], str(e.get("key"))) for n, es in data["why"].items() for e in es}
        decisive = {(n, e["rule"], str(e.get("key"))) for n, es in full["why"].items() for e in es if e["decisive"]}
        assert kept == decisive and kept
    else:
        assert any(not e["decisive"] for es in data["why"].values() for e in es)


def test_durable_backend_without_durable_rules_says_how_to_get_it(monkeypatch):
    """regcode runs without the optional extra (Python 3.13); asking for that backend is one clear error."""
    from regcode.engine import _durable
    monkeypatch.setattr(_durable, "_dre", None)
    monkeypatch.setattr(_durable, "_IMPORT_ERROR", ImportError("No module named 'durable_rules_engine'"))
    result = run("eval", *TOY, str(CASE), "--backend", "durable")
    assert result.exit_code == 1
    assert "eval.backend" in result.stderr and "regcode[durable]" in result.stderr and "Traceback" not in result.output
    assert run("eval", *TOY, str(CASE)).exit_code == 0   # the default backend needs nothing of it


@pytest.mark.parametrize("root,hint", [("", "a policy root holds POLICY/VERSION/policy.yaml"),
                                       ("shanghai-post-license", "this is a policy folder")])
def test_a_policy_root_holding_no_version_is_a_usage_error_not_ignored(tmp_path, root, hint):
    from regcode.engine import shipped_root
    given = tmp_path / "empty"
    given.mkdir()
    if root:
        given = shipped_root() / root
    result = run("eval", "--policy-root", str(given), str(SHANGHAI_CASE))
    assert result.exit_code == 1 and hint in result.output and "--policy-root" in result.output


def test_eval_on_a_folder_or_a_jsonl_file_points_at_batch(tmp_path):
    lines = tmp_path / "cases.jsonl"
    lines.write_text('{"as_of": "2019-06-30"}\n{"as_of": "2019-06-30"}\n', encoding="utf-8")
    for target in (tmp_path, lines):
        result = run("eval", str(target))
        assert result.exit_code == 1 and "regcode batch" in result.stderr, result.stderr


# ---- usage errors are bad input: one paragraph, exit 1 ------------------------------------
USAGE_ERRORS = [
    (["eval", str(CASE), "--as-of", "2019-02-30"], "regcode eval: --as-of: '2019-02-30' is not a date", None),
    (["eval", str(CASE), "--bogus"], "regcode eval: no option --bogus", None),
    (["eval", str(CASE), "--polcy", "toy"], "regcode eval: no option --polcy", "did you mean `--policy`"),
    (["eval"], "regcode eval: missing argument FACTS", "usage: regcode eval [OPTIONS] FACTS..."),
    (["eval", str(CASE), "--format", "xml"], "regcode eval: --format: 'xml' is not one of", None),
    (["eval", str(CASE), "--as-of"], "regcode eval: --as-of: requires a value", None),
    (["evl", str(CASE)], "regcode: no command 'evl'", "did you mean `eval`?"),
    (["--bogus"], "regcode: no option --bogus", None),
    (["batch", str(CASE.parent), "--out", "-", "--jobs", "0"], "regcode batch: --jobs: 0 is not in the range", None),
    (["batch", str(CASE.parent)], "regcode batch: missing option --out", None),
    (["show", "a@1", "b@1"], "regcode show: got unexpected extra argument (b@1)", "usage: regcode show"),
    (["batch", str(CASE), "--out", "-"], "regcode batch: INPUT: ", "regcode eval"),
    (["batch", str(CASE.parent), "--out", "-", "--jobs", "two"], "regcode batch: --jobs: 'two' is not a whole number", None),
    (["validate", str(CASE)], f"regcode validate: PATHS: '{CASE}' is a file; a folder is wanted here", None),
]


@pytest.mark.parametrize("args,starts,hint", USAGE_ERRORS, ids=[" ".join(a[:1] + a[2:3]) for a, _, _ in USAGE_ERRORS])
def test_usage_errors_are_one_paragraph_and_exit_1_not_clicks_usage_block(args, starts, hint):
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(starts), result.stderr
    assert lines[0].endswith(f"see {starts.split(':')[0]} --help)")
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr and "Try '" not in result.stderr
    if hint:
        assert hint in lines[0]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["eval", "--help"], ["batch", "-h"]])
def test_help_and_version_still_exit_0(args):
    result = run(*args)
    assert result.exit_code == 0 and result.stdout and result.stderr == ""


def test_regcode_without_a_command_shows_the_help_and_exits_1():
    result = run()
    assert result.exit_code == 1 and "Usage: regcode [OPTIONS] COMMAND" in result.stderr and "Exit status" in result.stderr


# ---- errors about a command-line argument name the argument, never `<input>` ----------------
SCOPE_TESTS = TESTS.parent / "policies" / "shanghai-post-license" / "2017" / "tests" / "scope.yaml"
BAD_SELECTORS = [
    (["show", "nosuch@1"], "POLICY@VERSION 'nosuch@1': select.unknown_policy"),
    (["show", "nosuch"], "POLICY@VERSION 'nosuch': select.ref"),
    (["diff", "shanghai-post-license@2017", "shanghai-post-license@2099"], "NEW 'shanghai-post-license@2099': select.unknown_version"),
    (["diff", "nosuch@1", "shanghai-post-license@2017"], "OLD 'nosuch@1': select.unknown_policy"),
    (["site", "x@zz", "--out", "{tmp}/site"], "POLICY@VERSION 'x@zz': select.unknown_policy"),
    (["site", "nosuch", "--out", "{tmp}/site"], "POLICY 'nosuch': select.unknown_policy"),
    (["test", "nosuch"], "POLICY 'nosuch': select.unknown_policy"),
    (["test", "shanghai-post-license", "--policy-version", "2099"], "--policy-version '2099': select.unknown_version"),
    (["test", "shanghai-post-license", "--against", "2099"], "--against '2099': select.unknown_version"),
    (["coverage", "nosuch"], "POLICY 'nosuch': select.unknown_policy"),
    (["test", str(SCOPE_TESTS)], f"regcode test: POLICY: '{SCOPE_TESTS}' is a file; give a policy, POLICY@VERSION or a "
                                 f"version folder (to run one test file's cases: pytest {SCOPE_TESTS})"),
    (["check", "x@y"], "POLICY@VERSION 'x@y': select.unknown_policy"),
    (["schema", "p@2099", "--out", "{tmp}/schemas"], "POLICY@VERSION 'p@2099': select.unknown_policy"),
    (["schema", "p@2099"], "POLICY@VERSION 'p@2099': select.unknown_policy"),
    (["eval", str(CASE), "--policy", "nosuch"], "--policy: select.unknown_policy"),
    (["eval", str(CASE), "--policy-version", "2099"], "--policy-version: select.unknown_version"),
    (["batch", str(CASE.parent), "--out", "{tmp}/o.jsonl", "--policy", "nosuch"], "--policy: select.unknown_policy"),
    (["plan", str(CASE.parent), "--year", "2020", "--policy", "nosuch"], "--policy: select.unknown_policy"),
    (["eval", *TOY, str(CASE), "--format", "html", "--site-url", "javascript:x"], "regcode eval: input.site_url"),
    (["eval", *TOY, str(CASE), "--site-url", "site/"], "regcode eval: --site-url: the site's links are in the page --format html writes"),
    (["eval", *TOY, str(CASE), "--format", "yaml", "--site-url", "site/"], "regcode eval: --site-url: the site's links are in the page --format html writes; --format yaml has none"),
]


@pytest.mark.parametrize("args,starts", BAD_SELECTORS, ids=[" ".join(a) for a, _ in BAD_SELECTORS])
def test_an_error_about_an_argument_names_the_argument_not_input(args, starts, tmp_path):
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1, result.output
    assert "<input>" not in result.output
    assert result.stderr.startswith(starts), result.stderr


def test_an_error_about_an_argument_names_it_in_json_too():
    result = run("show", "nosuch@1", "--format", "json")
    errors = json.loads(result.stderr)["errors"]
    assert errors[0]["location"]["path"] == "POLICY@VERSION 'nosuch@1'" and errors[0]["code"] == "select.unknown_policy"


@pytest.mark.parametrize("count", [1, 2])
def test_an_issue_of_no_place_while_evaluating_a_case_file_names_the_file(monkeypatch, count):
    from regcode.cli import evaluate as eval_cli
    from regcode.engine import EvaluationError, Issue

    def placeless(*args, **kw):   # e.g. a backend refusing a fact: the engine knows no file for it
        raise EvaluationError([Issue("eval.backend", "the backend refused a fact")])
    monkeypatch.setattr(eval_cli, "evaluate_case", placeless)
    result = run("eval", *TOY, *[str(CASE)] * count)
    assert result.exit_code == 1 and "<input>" not in result.output
    assert result.stderr.splitlines()[:count] == [f"FACTS {str(CASE)!r}: eval.backend: the backend refused a fact"] * count


@pytest.mark.parametrize("args,code,where", [
    (["eval", str(CASE), "--format", "json", "--as-of", "2019-02-30"], "usage.bad_value", "--as-of"),
    (["eval", str(CASE), "--format=json", "--bogus"], "usage.no_option", "regcode eval"),
    (["evl", "--format", "json"], "usage.no_command", "regcode"),
    (["show", "a@1", "b@1", "--format", "json"], "usage.extra_argument", "regcode show"),
])
def test_a_usage_error_with_format_json_is_the_errors_object_every_error_is(args, code, where):
    result = run(*args)
    assert result.exit_code == 1 and result.stdout == ""
    [issue] = json.loads(result.stderr)["errors"]
    assert issue["code"] == code and issue["location"]["path"] == where and "--help" in issue["hint"]


@pytest.mark.parametrize("args", [["policies"], ["eval", "examples/cases/c-class-triggers.yaml"],
                                  ["eval", "examples/cases/c-class-triggers.yaml", "--format", "yaml"],
                                  ["test", "shanghai-post-license", "--format", "json"]])
def test_a_stdout_declared_latin_1_gets_escapes_for_what_it_cannot_carry_not_an_encoding_error(args):
    """PYTHONIOENCODING=latin-1 (or an old locale) cannot carry the law's Chinese: no exit 3, no traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    script = Path(sys.executable).parent / "regcode"
    proc = subprocess.run([str(script), *args], cwd=root, capture_output=True,
                          env={**os.environ, "PYTHONIOENCODING": "latin-1"}, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode("latin-1")
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr
    proc.stdout.decode("latin-1")       # what came out is what the stream declared
    if args[0] == "policies":
        assert b"\\u4e0a" in proc.stdout    # 上, escaped


@pytest.mark.parametrize("as_of, noted", [("2023-01-01", True), ("2019-06-30", False)])
def test_a_forced_version_outside_its_window_is_noted_on_stderr_and_stdout_is_unchanged(as_of, noted):
    forced = run("eval", "examples/cases/aa-clean.yaml", "--policy-version", "2017", "--as-of", as_of, "--format", "json")
    plain = run("eval", "examples/cases/aa-clean.yaml", "--as-of", as_of, "--format", "json")
    assert forced.exit_code == 0
    assert ("is outside shanghai-post-license@2017's window" in forced.stderr) == noted
    if not noted:
        assert forced.stdout == plain.stdout


def test_the_text_why_shows_the_first_matched_facts_and_says_where_the_rest_are():
    """Text stays readable with many matched facts: the first MAX_TEXT_FACTS, then how many more and where they are."""
    from regcode.engine.explain import MAX_TEXT_FACTS, to_text
    data = json.loads(run("eval", *TOY, "--format", "json", str(CASE)).stdout)
    entry = next(e for e in data["why"]["risk"] if e["decisive"])
    entry["matched"] = [{"path": f"probe[{i}].date", "value": f"2018-01-{i + 1:02d}"} for i in range(MAX_TEXT_FACTS + 3)]
    lines = to_text(data, "full").splitlines()
    shown = [ln.strip() for ln in lines if ln.strip().startswith("probe[")]
    assert shown == [f"probe[{i}].date = 2018-01-{i + 1:02d}" for i in range(MAX_TEXT_FACTS)]
    assert lines[lines.index(next(ln for ln in lines if ln.strip() == shown[-1])) + 1].strip() == \
        "… 3 more facts matched (all are in --format json and html)"



CASES = "apiVersion: regcode/v1\nkind: TestCases\ncases:\n"    # a TestCases file's head


def _toy_with_test_file(tmp_path, name: str, text: str) -> tuple:
    """A copy of the toy policy (its root) with one more test file, tests/NAME, holding `text`; (root, that file)."""
    import shutil
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    bad = root / "toy" / "1" / "tests" / name
    bad.write_text(text, encoding="utf-8")
    return root, bad

def test_test_says_what_validate_says_of_the_cases_at_their_place_and_still_runs_them(tmp_path):
    """`regcode test` reports a mistake in the cases themselves (an unknown decision, a value its decision cannot take)
    at file:line:col with the nearest name, as `validate` does, then runs every case; the exit status is 1."""
    root, bad = _toy_with_test_file(tmp_path, "bad.yaml", CASES + "  - name: typo\n"
                                     "    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 徐汇区}}\n"
                                     "    expect: {eligble: true, risk: hgh}\n")
    result = run("test", "toy@1", "--policy-root", str(root))
    assert result.exit_code == 1
    problems = [ln for ln in result.stderr.splitlines() if ": test." in ln]
    line = bad.read_text(encoding="utf-8").splitlines()[5]
    at_true, at_hgh = line.index("true") + 1, line.index("hgh") + 1      # each expectation's value
    assert problems == [
        f"{bad}:6:{at_true}: test.unknown_decision: case 'typo' expects a decision `eligble` that toy@1 does not declare (did you mean `eligible`?)",
        f"{bad}:6:{at_hgh}: test.value: case 'typo' expects `risk` to be \"hgh\": it takes one of low, medium, high (did you mean `high`?)"]
    assert result.stdout.splitlines()[-1].endswith("passed, 1 failed")    # the cases ran all the same
    data = json.loads(run("test", "toy@1", "--policy-root", str(root), "--format", "json").stdout)
    assert sorted(p["code"] for p in data["problems"]) == ["test.unknown_decision", "test.value"]
    clean = run("test", "toy@1", "--policy-root", str(TEST_POLICIES), "--format", "json")
    assert clean.exit_code == 0 and json.loads(clean.stdout)["problems"] == []


def test_test_lists_its_problems_in_the_order_of_the_file_as_validate_does(tmp_path):
    """A case set aside (schema.format, line 8) after a case with an unknown decision (line 6): both commands list
    them by place, and each says how many there are, one as well as two."""
    root, bad = _toy_with_test_file(tmp_path, "bad.yaml", CASES + "  - name: typo\n"
                                     "    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 徐汇区}}\n"
                                     "    expect: {eligble: true}\n"
                                     "  - name: bad date\n    as_of: 2020-02-30\n"
                                     "    facts: {applicant: {name: 甲, district: 徐汇区}}\n    expect: {eligible: true}\n")
    for command in (["test", "toy@1"], ["validate", str(root / "toy" / "1")]):
        result = run(*command, "--policy-root", str(root))
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        said = [ln.split(": ")[1] for ln in lines if ln.startswith(f"{bad}:")]
        assert said == ["test.unknown_decision", "schema.format"] and lines[-1] == "2 problems", lines
        data = json.loads(run(*command, "--policy-root", str(root), "--format", "json").stdout)
        placed = data["problems"] if command[0] == "test" else data["versions"][0]["errors"]
        assert [p["location"]["line"] for p in placed] == [6, 8]
    bad.write_text(CASES + "  - name: typo\n    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 徐汇区}}\n"
                   "    expect: {eligble: true}\n", encoding="utf-8")
    for command in (["test", "toy@1"], ["validate", str(root / "toy" / "1")]):
        lines = run(*command, "--policy-root", str(root)).stderr.splitlines()
        assert lines[-1] == "1 problem", lines


def test_test_on_a_version_without_cases_says_they_are_not_inherited():
    from conftest import REPO
    result = run("test", "shanghai-post-license@2022-illustration", "--policy-root", str(REPO / "examples" / "amendment" / "policies"))
    assert result.exit_code == 0 and result.stdout.strip() == "0 passed, 0 failed"
    assert "test cases are not inherited: `regcode test BASE --against VERSION`" in result.stderr


def test_a_malformed_test_case_is_set_aside_and_said_and_fails_no_evaluation(tmp_path):
    """A case the TestCases schema refuses (a 30 February) is said at its place by test and validate, the other cases
    of its file still run, and eval of the policy does not depend on its tests at all."""
    root, bad = _toy_with_test_file(tmp_path, "bad.yaml", CASES + "  - name: bad date\n    as_of: 2020-02-30\n"
                                     "    facts: {applicant: {name: 甲, district: 徐汇区}}\n    expect: {eligible: true}\n"
                                     "  - name: fine\n    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 徐汇区}}\n"
                                     "    expect: {eligible: false}\n")
    roots = ["--policy-root", str(root)]
    assert run("eval", *roots, "--policy", "toy", str(CASE)).exit_code == 0
    result = run("test", "toy@1", *roots, "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [(p["code"], p["location"]["line"]) for p in data["problems"]] == [("schema.format", 5)]
    names = {c["name"] for c in data["cases"]}
    assert "fine" in names and "bad date" not in names
    checked = run("validate", *roots, str(root / "toy" / "1"))
    assert checked.exit_code == 1 and f"{bad}:5:12: schema.format" in checked.stderr


BROKEN_TEST_FILES = [   # (what, the file's text, the code said at its place)
    ("a tab", "apiVersion: regcode/v1\nkind: TestCases\ncases:\n  - name: x\n\tfacts: {}\n", "load.syntax"),
    # read despite it (load.SOFT), its case set aside: the case is otherwise whole, so the duplicate key is all there is to say
    ("a duplicate key", "apiVersion: regcode/v1\nkind: TestCases\ncases:\n  - name: x\n    name: y\n"
                        "    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 浦东新区}}\n    expect: {eligible: true}\n",
     "load.duplicate_key"),
    ("an ambiguous scalar", "apiVersion: regcode/v1\nkind: TestCases\ncases:\n  - name: x\n"
                            "    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 浦东新区, certified: yes}}\n"
                            "    expect: {eligible: true}\n", "load.ambiguous_scalar"),
    ("a misspelt kind", "apiVersion: regcode/v1\nkind: TestCase\ncases: []\n", "schema.kind"),
    ("no mapping", "- a\n- b\n", "schema.type"),
    ("an alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n", "load.alias"),
]


@pytest.mark.parametrize("text,code", [b[1:] for b in BROKEN_TEST_FILES], ids=[b[0] for b in BROKEN_TEST_FILES])
def test_a_test_file_that_cannot_be_read_loses_its_own_cases_only(tmp_path, text, code):
    """Nothing evaluated depends on a test file: one that does not parse (or is no TestCases file) stops neither eval
    nor the other test files' cases; validate and test say it at its place and exit 1."""
    root, bad = _toy_with_test_file(tmp_path, "zz-broken.yaml", text)
    roots = ["--policy-root", str(root)]
    assert run("eval", *roots, "--policy", "toy", str(CASE)).exit_code == 0
    clean = json.loads(run("test", "toy@1", "--policy-root", str(TEST_POLICIES), "--format", "json").stdout)
    result = run("test", "toy@1", *roots, "--format", "json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    data = json.loads(result.stdout)
    assert [(p["code"], p["location"]["file"]) for p in data["problems"]] == [(code, str(bad))]
    assert [c["name"] for c in data["cases"]] == [c["name"] for c in clean["cases"]] and data["cases"]
    checked = run("validate", *roots, str(root / "toy" / "1"))
    assert checked.exit_code == 1 and f"{bad}:" in checked.stderr and f": {code}: " in checked.stderr


def test_a_case_whose_facts_have_several_problems_lists_them_all(tmp_path):
    """validate's test.facts says each problem at its place, and the case's error in `regcode test` lists them all."""
    root, bad = _toy_with_test_file(tmp_path, "facts.yaml", CASES + "  - name: three wrongs\n"
                                     "    facts: {as_of: 2020-06-30, applicant: {name: 甲, district: 7, employees: -1, certified: maybe}}\n"
                                     "    expect: {eligible: true}\n")
    result = run("test", "toy@1", "--policy-root", str(root))
    assert result.exit_code == 1
    said = [ln for ln in result.stderr.splitlines() if ": test.facts: " in ln]
    assert [ln.split(": test.facts: ")[1].split(":")[0] for ln in said] == ["case 'three wrongs'"] * 3
    error = [ln.strip() for ln in result.stdout.splitlines() if ln.startswith("        ")]
    assert len(error) == 3 and all(": input.schema: " in ln for ln in error), result.stdout
    assert {ln.split(": input.schema: ")[1].split()[0] for ln in error} == {
        "applicant.district", "applicant.employees", "applicant.certified"}


@pytest.mark.parametrize("fmt", ["text", "json", "yaml", "html"])
def test_eval_whose_reader_leaves_ends_quietly_with_141_in_every_format(fmt):
    """`regcode eval ... | head`: the output was not all read, whatever its format (a large write to a pipe whose reader
    left can come back as done, the bytes dropped; the last byte is written on its own and fails)."""
    import subprocess
    import sys
    from conftest import REPO
    # more than a pipe holds (64 KiB): an output that fits is all written before the reader can leave, and no write fails
    files = sorted(str(p) for p in (REPO / "examples" / "cases").glob("*.yaml")) * (24 if fmt == "text" else 4)
    proc = subprocess.Popen([sys.executable, "-m", "regcode.cli", "eval", "--format", fmt, *files],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10)
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == "", stderr


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_eval_whose_reader_leaves_after_a_line_of_an_output_that_fits_in_the_pipe_exits_0(fmt):
    """`regcode eval CASE --explain | head -1`: an output that fits in a pipe (64 KiB) is one write, all in the
    pipe before the reader can leave, so the status is the run's own, every time (its last byte written on
    its own made it 141 or 0 at random). Repeated to catch the race: the reader closes right after a line."""
    import subprocess
    import sys
    from conftest import REPO
    case = str(REPO / "examples" / "cases" / "aa-clean.yaml")
    statuses = []
    for _ in range(30):
        proc = subprocess.Popen([sys.executable, "-m", "regcode.cli", "eval", case, "--explain", "--format", fmt],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout.readline()
        proc.stdout.close()
        statuses.append(proc.wait(timeout=60))
    assert statuses == [0] * 30


def test_a_file_name_with_control_characters_is_escaped_in_eval_text_output(tmp_path):
    """The text header names the case file on one line, its control characters escaped, as problems do."""
    from conftest import REPO
    named = tmp_path / "e\x1b[31mred\nline.yaml"
    named.write_bytes((REPO / "examples" / "cases" / "aa-clean.yaml").read_bytes())
    result = run("eval", str(named))
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(str(tmp_path) + "/e\\x1b[31mred\\nline.yaml: shanghai-post-license@2017") and "\x1b" not in result.stdout


ROOT_COMMANDS = {      # commands that take --policy-root, with the rest of a run that would otherwise go on (validate
    # reads the root as the folder to check, and says validate.empty_root)
    "eval": ["eval", "examples/cases/aa-clean.yaml"],
    "batch": ["batch", "examples/cases", "--out", "-"],
    "plan": ["plan", "--year", "2019", "examples/cases"],
    "serve": ["serve", "--host", "127.0.0.1", "--port", "0"],
    "policies": ["policies"],
}


@pytest.mark.parametrize("folder,said", [
    ("examples/cases", "a policy root holds POLICY/VERSION/policy.yaml"),
    ("policies/shanghai-post-license", "this is a policy folder; pass the folder above it"),
    ("policies/shanghai-post-license/2017", "this is a version folder; pass the folder two levels up"),
], ids=["no policy at all", "a policy's folder", "a version's folder"])
@pytest.mark.parametrize("command", list(ROOT_COMMANDS))
def test_a_policy_root_holding_no_version_is_said_by_every_command_never_passed_over(command, folder, said, monkeypatch):
    """A wrong --policy-root would leave only the shipped policies, and a run that seems to work on them: every
    command says it (serve too, before it starts), exit 1, with what the folder is and which to pass."""
    from conftest import REPO
    monkeypatch.chdir(REPO)
    args = ROOT_COMMANDS[command]
    args = args[:1] + ["--policy-root", folder] + args[1:]
    if command == "serve":      # (a process with a time bound: a server that started anyway would not return)
        import subprocess
        import sys
        done = subprocess.run([sys.executable, "-m", "regcode.cli", *args], capture_output=True, text=True, timeout=60)
        code, stderr = done.returncode, done.stderr
    else:
        result = CliRunner().invoke(regcode, args)
        code, stderr = result.exit_code, result.stderr
    assert code == 1, stderr
    assert f"--policy-root: {folder} holds no policy version ({said}" in stderr, stderr
    assert "Traceback" not in stderr


# ---- a standard stream closed (`<&-`, `>&-`): Python sets sys.stdin / sys.stdout to None ----------------------
REPO_ROOT = TESTS.parent
AA = str(REPO_ROOT / "examples" / "cases" / "aa-clean.yaml")
STDIN_CLOSED = ("<stdin>", "input.io", "standard input is closed", "give a file, or pipe one in")
STDOUT_CLOSED = ("<stdout>", "output.io", "standard output is closed: nothing was written to it", "redirect stdout to a file or a pipe")
STDOUT_CLOSED_OUT = STDOUT_CLOSED[:3] + ("give --out FILE or redirect stdout",)     # a command with --out


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    from conftest import generator
    path = tmp_path_factory.mktemp("district") / "district.jsonl"
    path.write_text("".join(generator.dumps(c) + "\n" for c in generator.generate(5, seed=3)), encoding="utf-8")
    return path


def _closed(redirections: str, args, cwd) -> "subprocess.CompletedProcess":
    """regcode run by the shell with `redirections` (`<&-`, `>&-`, `2>&-`), as a user would type it."""
    import subprocess
    import sys
    script = str(Path(sys.executable).parent / "regcode")
    return subprocess.run(["sh", "-c", f'exec "$0" "$@" {redirections}', script, *map(str, args)], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


CLOSED = [  # (redirections, args, the problem said: file, code, message, hint)
    ("<&-", ["eval", "-"], STDIN_CLOSED),
    ("<&-", ["eval", "-", "--format", "json"], STDIN_CLOSED),
    ("<&-", ["batch", "-", "--out", "o.jsonl"], STDIN_CLOSED),
    ("<&-", ["plan", "--year", "2020", "-"], STDIN_CLOSED),
    (">&-", ["batch", "{district}", "--out", "-"], STDOUT_CLOSED_OUT),
    (">&-", ["batch", "{district}", "--out", "o.jsonl", "--format", "json"], STDOUT_CLOSED_OUT),
    (">&-", ["eval", "{aa}"], STDOUT_CLOSED_OUT),
    (">&-", ["eval", "--format", "json", "{aa}"], STDOUT_CLOSED_OUT),
    (">&-", ["eval", "--format", "html", "{aa}"], STDOUT_CLOSED_OUT),
    (">&-", ["plan", "--year", "2020", "{district}", "--errors", "o.jsonl"], STDOUT_CLOSED_OUT),
    ("<&-", ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus", "-"], STDIN_CLOSED),
    (">&-", ["show", "shanghai-post-license@2017"], STDOUT_CLOSED),
    (">&-", ["policies"], STDOUT_CLOSED),
    (">&-", ["--help"], STDOUT_CLOSED),
    (">&-", ["--version"], STDOUT_CLOSED),
    (">&-", ["eval", "--help"], STDOUT_CLOSED_OUT),
]


def _placed(args, district) -> list:
    return [str(district) if a == "{district}" else AA if a == "{aa}" else a for a in args]


@pytest.mark.parametrize("redirections, args, said", CLOSED, ids=[f"{' '.join(c[1])} {c[0]}" for c in CLOSED])
def test_a_closed_standard_stream_is_one_problem_and_exit_1(redirections, args, said, district, tmp_path):
    """One line naming the stream and the fix (the {"errors": [...]} object with --format json), exit 1: never an
    internal error, and never exit 0 for output that went nowhere."""
    proc = _closed(redirections, _placed(args, district), tmp_path)
    where, code, message, hint = said
    if "json" in args:
        (error,) = json.loads(proc.stderr)["errors"]
        assert (proc.returncode, error["location"]["file"], error["code"], error["message"], error["hint"]) == (1, *said)
    else:
        assert (proc.returncode, proc.stderr.decode()) == (1, f"{where}: {code}: {message} ({hint})\n")
    assert not (tmp_path / "o.jsonl").exists(), "nothing is written when what was asked for cannot be delivered"
    quiet = _closed(redirections + " 2>&-", _placed(args, district), tmp_path)     # stderr closed too: the same status
    assert (quiet.returncode, quiet.stdout) == (1, b"")


UNUSED = [("<&-", ["eval", "{aa}"]), (">&-", ["batch", "{district}", "--out", "o.jsonl"]),
          ("2>&-", ["batch", "{district}", "--out", "o.jsonl"]), ("2>&-", ["eval", "{aa}"])]


@pytest.mark.parametrize("redirections, args", UNUSED, ids=[f"{' '.join(c[1])} {c[0]}" for c in UNUSED])
def test_a_closed_stream_the_command_does_not_use_is_no_problem(redirections, args, district, tmp_path):
    proc = _closed(redirections, _placed(args, district), tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"internal error" not in proc.stderr
    if "batch" in args:
        assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) == 5
    else:
        assert b"classification" in proc.stdout


# ---- an empty path given to an option or argument that names a file or folder --------------------------------
EMPTY = [  # (args, the option or argument, what it names)
    (["batch", "{district}", "--out", ""], "--out", "an empty file name; give a file's path, or - for stdout"),
    (["batch", "{district}", "--out", "o.jsonl", "--errors", ""], "--errors", "an empty file name; give a file's path"),
    (["plan", "--year", "2020", "{district}", "--out", ""], "--out", "an empty file name; give a file's path"),
    (["plan", "--year", "2020", "{district}", "--errors", ""], "--errors", "an empty file name; give a file's path"),
    (["test", "toy", "--policy-root", str(TEST_POLICIES), "--junit", ""], "--junit", "an empty file name; give a file's path"),
    (["schema", "--out", ""], "--out", "an empty folder name; give a folder's path"),
    (["site", "--out", ""], "--out", "an empty folder name; give a folder's path"),
    (["fmt", ""], "PATHS", "an empty path; give a file's or a folder's path"),
    (["eval", ""], "FACTS", "an empty path; give a file's or a folder's path, or - for stdin"),
    (["eval", "--policy-root", "", "{aa}"], "--policy-root", "an empty folder name; give a folder's path"),
    (["validate", ""], "PATHS", "an empty folder name; give a folder's path"),
    (["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus", ""], "--corpus",
     "an empty path; give a file's or a folder's path, or - for stdin"),
    (["serve", "--decision-log", ""], "--decision-log", "an empty file name; give a file's path"),
]


@pytest.mark.parametrize("args, where, said", EMPTY, ids=[" ".join(a for a in c[0] if not a.startswith("/")) for c in EMPTY])
def test_an_empty_path_is_a_usage_error_naming_the_option(args, where, said, district, tmp_path, monkeypatch):
    """`--out ''` is not the current folder (`.: output.io: cannot write .: Is a directory`), nor no file at all
    (`--errors ''` dropped the bad records, `fmt ''` formatted the current folder): it is a usage error, before anything runs."""
    monkeypatch.chdir(tmp_path)
    if args[0] == "serve":      # were the option passed over, the server would start (and the test wait on it)
        from regcode.service import registry
        monkeypatch.setattr(registry, "load", lambda *a, **kw: pytest.fail("serve started with --decision-log ''"))
    result = run(*_placed(args, district))
    command = " ".join(["regcode", args[0]])
    assert (result.exit_code, result.stderr) == (1, f"{command}: {where}: {said} (see {command} --help)\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["eval", "--explain", "examples/cases/aa-clean.yaml"],
                                  ["batch", "--explain", "examples/cases", "--out", "-"]], ids=["eval", "batch"])
def test_a_bare_explain_before_the_files_is_said_as_such_with_both_ways_to_write_it(args, monkeypatch):
    """click reads the word after a bare --explain as its level: a file's name there is said as what happened,
    with the fix (after the files, or --explain=LEVEL), not as a level that is not one of three."""
    from conftest import REPO
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(regcode, args)
    assert result.exit_code == 1, result.output
    assert f"{args[2]!r} is read as the level of --explain, which comes before it: write --explain after the files" in result.stderr
    assert "(--explain=full)" in result.stderr and "Traceback" not in result.output
    assert CliRunner().invoke(regcode, [args[0], *args[2:], "--explain"]).exit_code == 0


@pytest.mark.parametrize("verb", ["eval", "batch"])
@pytest.mark.parametrize("level", ["-", "examples/cases/aa-clean.yaml"])
def test_a_level_written_with_an_equals_sign_is_a_level_not_a_file_read_too_early(level, verb, monkeypatch):
    """`--explain=-` says the level it names: the user wrote a level (the `=` joins it to the option), so the
    message is the choice's own, not that a file was taken for a level. Told from the words click is given, not
    the process's sys.argv, which here says the contrary (a bare --explain before the file)."""
    import sys
    from conftest import REPO
    monkeypatch.chdir(REPO)
    rest = ["examples/cases/aa-clean.yaml"] if verb == "eval" else ["examples/cases", "--out", "-"]
    monkeypatch.setattr(sys, "argv", ["regcode", verb, "--explain", level, *rest])
    result = CliRunner().invoke(regcode, [verb, f"--explain={level}", *rest])
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"regcode {verb}: --explain: {level!r} is not one of 'none', 'decisive', 'full' "
                             f"(see regcode {verb} --help)\n")


def test_a_bare_level_is_told_apart_from_the_words_click_is_given_not_sys_argv(monkeypatch):
    """The other way round: a bare --explain before the file is said as such, whatever sys.argv holds (here the
    joined form), and a joined value of another option (`--out=x`) does not count as the level's."""
    import sys
    from conftest import REPO
    monkeypatch.chdir(REPO)
    case = "examples/cases/aa-clean.yaml"
    monkeypatch.setattr(sys, "argv", ["regcode", "eval", f"--explain={case}", case])
    result = CliRunner().invoke(regcode, ["eval", "--explain", case, f"--out={case}.html"])
    assert result.exit_code == 1, result.output
    assert f"{case!r} is read as the level of --explain, which comes before it" in result.stderr


@pytest.mark.parametrize("licenses,rule,clause,matched", [
    (None, "scope-food-related-only", "第二款", ["licenses[0].food_related", "licenses[1].food_related"]),
    ([], "scope-no-license-held", "第一款", []),
], ids=["only food-related licenses", "no license held"])
def test_an_enterprise_outside_the_measures_is_told_why_by_the_article_that_excludes_it(licenses, rule, clause, matched, tmp_path):
    """`applicable: false` has its why (第二条): the rule and clause that exclude the enterprise, and for food-related
    licenses the licenses it matched, as a decision that holds has; it is decisive, and decides nothing else."""
    from conftest import REPO
    case = yaml.safe_load((REPO / "examples" / "cases" / "food-related.yaml").read_text(encoding="utf-8"))
    if licenses is not None:
        case["licenses"] = licenses
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False, default=str), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["eval", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["decisions"]["applicable"] is False
    [reason] = out["why"]["applicable"]
    assert (reason["rule"], reason["article"], reason["clause"], reason["decisive"], reason["value"]) == (rule, "第二条", clause, True, False)
    assert [m["path"] for m in reason["matched"] if m["path"].endswith("food_related")] == matched
    assert out["decisions"]["supervision_mode"] is None and out["decisions"]["competent_authority"] is None
