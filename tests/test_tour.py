"""The README tour as a new user runs it (issue 13, items 9 and 10): shipped example files, help with examples,
progress that does not garble errors, plan counts per district, and version history that diff can compare."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli import commands  # noqa: F401
from regcode.cli.main import regcode

from conftest import REPO, TEST_POLICIES, generator as gen

AMENDMENT = REPO / "examples" / "amendment" / "policies"


def run(*args, input=None):
    result = CliRunner().invoke(regcode, [str(a) for a in args], input=input)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    return result


# ---- the files the tour uses are shipped ------------------------------------------------------
def test_the_drafting_example_shows_three_mistakes_with_suggestions():
    result = run("validate", "--policy-root", TEST_POLICIES, REPO / "examples" / "drafting" / "toy" / "2")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "3 problems"
    assert [re.search(r": (\S+): ", line).group(1) for line in lines[:3]] == [
        "schema.additionalProperties", "compile.unknown_parameter", "compile.value"]
    assert all("did you mean" in line for line in lines[:3])


def test_the_bad_case_example_gives_two_located_problems():
    result = run("eval", REPO / "examples" / "bad-case.yaml")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "2 problems"
    assert "did you mean `浦东新区`" in result.stderr and "did you mean `i`?" in result.stderr


def test_test_against_the_illustration_runs_the_cases_instead_of_failing_them_all():
    result = run("test", "shanghai-post-license@2017", "--against", "2022-illustration", "--policy-root", AMENDMENT,
                 "--format", "json")
    data = json.loads(result.stdout)
    assert data["passed"] > 0.9 * (data["passed"] + data["failed"])
    assert not any("eval.parameter" in (c.get("error") or {}).get("message", "") for c in data["cases"])


# ---- help ----------------------------------------------------------------------------------------
from regcode.cli.commands import COMMANDS   # every verb: a new one must come with a summary and an example


def test_group_help_lists_every_command_in_full_and_documents_the_exit_codes():
    text = run("--help").stdout
    listing = text.split("Commands:", 1)[1]
    for name in COMMANDS:
        line = next(l for l in listing.splitlines() if l.strip().startswith(name + " "))
        assert not line.rstrip().endswith("..."), line
    for code in ("0 ", "1 ", "3 "):
        assert re.search(rf"^\s+{code.strip()}\s+\S", text, re.M), f"exit code {code} not documented"
    assert not re.search(r"^\s+2\s+\S", text, re.M), "usage errors are bad input (exit 1); 2 is no longer used"
    assert "a usage error" in text


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_has_an_example(name):
    text = run(name, "--help").stdout
    assert re.search(r"^\s+Examples?:\s*$", text, re.M), text
    example = text.split("Example", 1)[1].splitlines()[1]
    assert example.strip().startswith(f"regcode {name}")


# ---- progress and error lines share stderr -------------------------------------------------------
def _run_on_a_terminal(args, cwd) -> bytes:
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave, cwd=cwd,
                            env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
    os.close(slave)
    chunks, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:          # the other end closed: the process is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks)


def test_progress_bar_and_bad_record_lines_do_not_overwrite_each_other(tmp_path):
    good = [gen.dumps(c) for c in gen.generate(300, seed=8)]
    for i in range(7, len(good), 40):
        good[i] = '{"broken": '
    source = tmp_path / "cases.jsonl"
    source.write_text("\n".join(good) + "\n", encoding="utf-8")
    raw = _run_on_a_terminal([sys.executable, "-m", "regcode.cli", "batch", str(source), "--out", "out.jsonl",
                              "--jobs", "1", "--chunk", "4"], tmp_path)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw.decode("utf-8", "replace"))
    shown = [line.strip() for line in re.split(r"[\r\n]", text) if line.strip()]
    errors = [line for line in shown if "input.syntax" in line]
    assert len(errors) == len(range(7, 300, 40))
    for line in errors:   # each error alone on its line: no bar before it, nothing after it
        assert re.fullmatch(rf"{re.escape(str(source))}:\d+:\d+: input\.syntax: invalid JSON: .+\(each line must be one case "
                            r"file as a JSON object\)", line), line
    assert any("evaluated" in line and "failed" in line and "/300" in line for line in shown), "no progress bar was drawn"


# ---- plan --district ----------------------------------------------------------------------------
def test_plan_for_one_district_counts_only_that_district(tmp_path):
    source = tmp_path / "district.jsonl"
    source.write_text("".join(gen.dumps(c) + "\n" for c in gen.generate(300, seed=2)), encoding="utf-8")
    everyone = run("plan", "--year", 2020, source, "--jobs", 1).stdout
    one = run("plan", "--year", 2020, source, "--district", "嘉定区", "--jobs", 1).stdout
    row = next(l for l in everyone.splitlines() if l.startswith("嘉定区 "))
    mine_row = next(l for l in one.splitlines() if l.startswith("嘉定区 "))
    total = next(l for l in one.splitlines() if l.startswith("total"))
    assert mine_row.split()[1:] == row.split()[1:] == total.split()[1:]   # the total is the district's own
    in_district = sum(1 for c in gen.generate(300, seed=2) if c["enterprise"]["production_district"] == "嘉定区")
    counted = re.match(r"嘉定区: (\d+) case files, .*\(the input held 300: (\d+) of another or no district, 0 bad\)$",
                       one.splitlines()[1])
    assert counted, one.splitlines()[1]
    assert 0 < int(counted.group(1)) <= in_district and int(counted.group(1)) + int(counted.group(2)) == 300
    assert "outside the policy" not in one    # those of no district are not the district's


# ---- item 10: an extending version continues the base's timeline ---------------------------------
def _toy_with_dated_amendment(tmp_path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    v2 = root / "toy" / "2"
    v2.mkdir()
    (v2 / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: toy\nversion: \"2\"\ntitle: toy, amended\n"
                                    "source: {number: TOY-2, issuer: tests, date: 2020-05-01}\neffective_from: 2020-01-01\n"
                                    "effective_to: 2020-12-31\nextends: \"1\"\n", encoding="utf-8")
    (v2 / "parameters.yaml").write_text("apiVersion: regcode/v1\nkind: Parameters\nparameters:\n"
                                        "  max_minor_incidents: {title: 轻微事故上限, article: 第四条, values: {2020-07-01: 5}}\n",
                                        encoding="utf-8")
    return root


def test_a_dated_parameter_of_an_extending_version_continues_the_base_timeline(tmp_path):
    root = _toy_with_dated_amendment(tmp_path)
    base = json.loads(run("show", "--policy-root", root, "--format", "json", "toy@1").stdout)["parameters"]["max_minor_incidents"]
    shown = json.loads(run("show", "--policy-root", root, "--format", "json", "toy@2").stdout)["parameters"]["max_minor_incidents"]
    assert shown["values"] == {"2020-07-01": 5} and shown["value"] == base["value"]
    case = tmp_path / "case.yaml"
    incidents = "".join(f"  - {{date: 2020-0{m}-01, severity: minor}}\n" for m in range(1, 5))
    case.write_text("applicant: {name: 甲, district: 浦东新区}\nincidents:\n" + incidents, encoding="utf-8")
    for as_of, expected in (("2020-06-30", base["value"] < 4), ("2020-08-01", False)):
        result = run("eval", "--policy-root", root, "--policy", "toy", "--policy-version", "2", "--as-of", as_of,
                     "--format", "json", case)
        assert result.exit_code == 0, result.output
        flags = json.loads(result.stdout)["decisions"]["flags"]
        assert ("too_many_minor" in flags) == expected, (as_of, flags)


def test_diff_counts_cases_failing_on_either_side_and_warns_when_most_fail(tmp_path):
    root = _toy_with_dated_amendment(tmp_path)
    params = root / "toy" / "2" / "parameters.yaml"
    # a fresh (non-extending) timeline that starts late: every earlier case fails on the new side
    v3 = root / "toy" / "3"
    shutil.copytree(TEST_POLICIES / "toy" / "1", v3)
    shutil.rmtree(v3 / "tests")
    text = (v3 / "parameters.yaml").read_text(encoding="utf-8")
    text = re.sub(r"max_minor_incidents: \{([^}]*)value: (\d+)\}", r"max_minor_incidents: {\1values: {2020-12-01: \2}}", text)
    (v3 / "parameters.yaml").write_text(text, encoding="utf-8")
    (v3 / "policy.yaml").write_text((v3 / "policy.yaml").read_text(encoding="utf-8").replace('version: "1"', 'version: "3"')
                                    .replace("effective_from: 2020-01-01", "effective_from: 2020-12-01"), encoding="utf-8")
    # (from its first day: a timeline that starts after it is refused, compile.parameter)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"as_of": f"2020-{m:02d}-15", "applicant": {"name": "甲", "district": "浦东新区"}},
                                         ensure_ascii=False) + "\n" for m in range(1, 13)), encoding="utf-8")
    result = run("diff", "toy@1", "toy@3", "--policy-root", root, "--corpus", corpus)
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("warning: 11 of 12 cases fail to evaluate")
    assert "11 failing to evaluate (old only 0, new only 11, both 0, unreadable 0)" in result.stdout
    data = json.loads(run("diff", "toy@1", "toy@3", "--policy-root", root, "--corpus", corpus, "--format", "json").stdout)
    assert data["corpus"]["failed"] == {"old": 0, "new": 11, "both": 0} and data["corpus"]["compared"] == 1
    fine = run("diff", "toy@1", "toy@2", "--policy-root", root, "--corpus", corpus)
    assert fine.exit_code == 0 and not fine.stdout.startswith("warning")
    assert "0 failing to evaluate" in fine.stdout
    assert params.exists()
