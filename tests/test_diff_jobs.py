"""`regcode diff --corpus ... --jobs N`: the corpus's cases on N worker processes (batch's Runner), the output byte for
byte that of --jobs 1 and of the engine's own in-process diff; --jobs validated as batch validates it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog
from regcode.engine.batch import Runner
from regcode.engine.corpus import iter_corpus, read_records
from regcode.engine.diff import corpus_diff, diff, diff_job, outcomes_diff
from regcode.cli.batch import catalog_factory

from conftest import REPO, generator as gen

AMENDMENT = REPO / "examples" / "amendment" / "policies"
OLD, NEW = "shanghai-post-license@2017", "shanghai-post-license@2022-illustration"
BASE = ["diff", OLD, NEW, "--policy-root", str(AMENDMENT)]


def run(*args):
    result = CliRunner().invoke(regcode, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output
    return result


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A few hundred generated cases, with what a corpus also holds: unreadable lines, a case with no date, and cases
    only the new version's facts schema takes (they fail on the old side alone: listed in `errors_differ`)."""
    cases = list(gen.generate(300, seed=23))
    lines = [gen.dumps(c) for c in cases]
    online = json.loads(lines[7])
    online["enterprise"]["online_sales"] = True
    lines[40:40] = ["not json", '{"as_of": "2019-02-30", "enterprise": {}}', "[1]", gen.dumps(online)]
    lines[200:200] = ['{"enterprise": {"name": "no date"}}', gen.dumps(online)]
    path = tmp_path_factory.mktemp("diff-jobs") / "district.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["json", "text"])
@pytest.mark.parametrize("as_of", [[], ["--as-of", "2022-06-01"]], ids=["own-dates", "as-of"])
def test_diff_jobs_n_is_byte_identical_to_jobs_1(corpus, fmt, as_of):
    one = run(*BASE, "--corpus", corpus, "--format", fmt, "--jobs", 1, *as_of)
    assert one.exit_code == 1     # the unreadable records: no pass
    for jobs in (2, 3):
        many = run(*BASE, "--corpus", corpus, "--format", fmt, "--jobs", jobs, *as_of)
        assert (many.exit_code, many.stdout_bytes, many.stderr) == (one.exit_code, one.stdout_bytes, one.stderr)
    if fmt == "json":
        c = json.loads(one.stdout)["corpus"]
        dated = 2 if as_of else 0     # --as-of dates the two cases that have none (or no day) of their own
        assert c["cases"] == 306 and len(c["unreadable"]) == 4 - dated and c["failed"]["old"] == 2
        assert [e["source"] for e in c["errors_differ"]] == [f"{corpus}:44", f"{corpus}:202"]
        assert c["changes"] and c["changed_cases"] > 10
        assert all(ch["smallest_case"]["facts"] for ch in c["changes"])


def test_diff_jobs_is_what_the_engine_diffs_in_process(corpus):
    """The workers' path (Runner outcomes) and corpus_diff (iter_corpus, this process) give the same result."""
    cat = Catalog([AMENDMENT])
    old, new = cat.by_ref(OLD), cat.by_ref(NEW)
    here = diff(old, new, iter_corpus(str(corpus)), "2022-06-01", cat=cat)
    with Runner(diff_job(catalog_factory([AMENDMENT]), OLD, NEW, "2022-06-01"), 2, chunk=16) as runner:
        assert runner.parallel
        there = diff(old, new, outcomes=runner.outcomes(read_records(str(corpus))), cat=cat)
    assert json.dumps(there, sort_keys=True, ensure_ascii=False) == json.dumps(here, sort_keys=True, ensure_ascii=False)
    assert outcomes_diff(old, new, []) == corpus_diff(old, new, [])


def test_diff_jobs_over_a_folder_with_entries_not_read_says_each_once_whatever_the_jobs(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    for i, case in enumerate(gen.generate(40, seed=4)):
        (folder / f"{i:03d}.json").write_text(gen.dumps(case), encoding="utf-8")
    (folder / "notes.txt").write_text("not a case file", encoding="utf-8")
    runs = [run(*BASE, "--corpus", folder, "--format", "json", "--jobs", jobs) for jobs in (1, 2)]
    assert runs[0].exit_code == 0 and runs[0].stderr.count("notes.txt") == 1
    assert (runs[1].exit_code, runs[1].stdout_bytes, runs[1].stderr) == (runs[0].exit_code, runs[0].stdout_bytes, runs[0].stderr)
    assert json.loads(runs[0].stdout)["corpus"]["cases"] == 40


@pytest.mark.parametrize("value, said", [("0", "0 is not in the range 1<=x<=256"), ("257", "257 is not in the range"),
                                         ("two", "'two' is not a whole number")])
def test_diff_jobs_out_of_range_is_the_usage_error_batch_gives(corpus, value, said):
    result = run(*BASE, "--corpus", corpus, "--jobs", value)
    batch = run("batch", corpus, "--out", "-", "--jobs", value)
    assert result.exit_code == batch.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--jobs" in result.stderr and said in result.stderr
    assert result.stderr.replace("regcode diff", "regcode batch") == batch.stderr


def test_diff_jobs_without_a_corpus_is_a_usage_error_naming_the_fix():
    result = run(*BASE, "--jobs", 2)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "--jobs" in result.stderr and "add --corpus" in result.stderr


def test_diff_without_jobs_uses_the_cores_as_batch_does(corpus, monkeypatch):
    seen = []
    real = Runner.__init__

    def spy(self, job, jobs=1, chunk=64):
        seen.append(jobs)
        real(self, job, jobs, chunk)
    monkeypatch.setattr(Runner, "__init__", spy)
    monkeypatch.setattr("regcode.cli.versions.default_jobs", lambda: 3)
    run(*BASE, "--corpus", corpus, "--format", "json")
    assert seen == [3]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("target, refused", [("cases/x.json", True), ("district.jsonl", True), ("cases/diff.txt", False)],
                         ids=["a case file's name in the folder", "the JSONL corpus itself (>>)", "a name it does not read"])
def test_diff_s_report_redirected_into_its_corpus_is_refused_before_any_case_is_read(tmp_path, target, refused):
    """`diff ... --corpus cases > cases/x.json`: the shell makes the file before regcode starts, so the folder reader
    read it as an (empty) case file, and the next diff the report; refused as batch refuses it. A JSONL corpus that
    stdout is appended to (`>> district.jsonl`) likewise; stdout under a name the folder reader does not read is
    written as usual."""
    import subprocess
    import sys
    folder = tmp_path / "cases"
    folder.mkdir()
    cases = list(gen.generate(6, seed=5))
    for i, case in enumerate(cases):
        (folder / f"{i:03d}.json").write_text(gen.dumps(case), encoding="utf-8")
    (tmp_path / "district.jsonl").write_text("".join(gen.dumps(c) + "\n" for c in cases), encoding="utf-8")
    source = tmp_path / "district.jsonl" if target.endswith(".jsonl") else folder
    redirected = tmp_path / target
    before = redirected.read_bytes() if redirected.exists() else b""
    with open(redirected, "ab") as stdout:
        done = subprocess.run([str(Path(sys.executable).parent / "regcode"), *BASE, "--corpus", str(source), "--jobs", "1"],
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, timeout=120)
    stderr = done.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    if not refused:
        assert done.returncode == 0, stderr
        assert redirected.read_text(encoding="utf-8").startswith(f"diff {OLD}")
        assert "diff.txt" not in stderr and "skipped" not in redirected.read_text(encoding="utf-8"), stderr   # its own
        return
    assert done.returncode == 1, stderr
    assert stderr.startswith("regcode diff: --corpus: standard output is the input (") and len(stderr.splitlines()) == 1, stderr
    assert "redirect stdout to" in stderr and "--format json" not in stderr and "--out" not in stderr, stderr
    assert redirected.read_bytes() == before
