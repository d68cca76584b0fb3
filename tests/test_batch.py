"""`regcode batch`: bad records in the middle, order kept, --jobs 2 byte-identical to --jobs 1, atomic output."""
from __future__ import annotations

import functools
import io
import json
import os
import re
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from regcode.cli import batch as batch_cli
from regcode.engine import evaluate_case
from regcode.cli.main import regcode
from regcode.engine import Catalog, InputError, evaluate, load_case_file
from regcode.engine.batch import Job, Runner, atomic_writer, batch_reduce
from regcode.engine.corpus import read_records

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "cases"
POLICY = "shanghai-post-license"


from conftest import generator as gen, needs_durable  # noqa: E402


def example(name: str) -> dict:
    """An example case file as regcode reads it (dates stay ISO text)."""
    return load_case_file(EXAMPLES / name).data


def jsonl(cases) -> str:
    return "".join(gen.dumps(c) + "\n" for c in cases)


def run(*args, input=None):
    return CliRunner().invoke(regcode, [str(a) for a in args], input=input)


def lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "cases.jsonl"
    path.write_text(jsonl(gen.generate(240, seed=5)), encoding="utf-8")
    return path


# ---- bad records in the middle -------------------------------------------------------------
def _mixed(tmp_path) -> tuple:
    good = list(gen.generate(6, seed=11))
    bad_schema = dict(good[0], licenses=[dict(good[0]["licenses"][0], risk_level="iv")])
    no_as_of = {k: v for k, v in good[1].items() if k != "as_of"}
    text = "".join([
        gen.dumps(good[0]) + "\n",                 # 1
        gen.dumps(good[1]) + "\n",                 # 2
        '{"as_of": "2019-06-30", "enterprise": \n',  # 3 invalid JSON
        gen.dumps(good[2]) + "\n",                 # 4
        gen.dumps(bad_schema) + "\n",              # 5 schema error
        "\n",                                      # 6 blank: not a record
        gen.dumps(good[3]) + "\n",                 # 7
        gen.dumps(no_as_of) + "\n",                # 8 no as_of and no --as-of
        gen.dumps(good[4]) + "\n",                 # 9
        "[1, 2]\n",                                # 10 not an object
        gen.dumps(good[5]) + "\n",                 # 11
    ])
    path = tmp_path / "mixed.jsonl"
    path.write_text(text, encoding="utf-8")
    return path, good


def test_bad_records_go_to_the_errors_file_and_the_rest_finish(tmp_path):
    path, good = _mixed(tmp_path)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", path, "--out", out, "--errors", err, "--jobs", 1, "--format", "json")
    assert result.exit_code == 1, result.output          # some records were bad
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["evaluated"], summary["failed"]) == (10, 6, 4)
    assert summary["read"] == summary["evaluated"] + summary["failed"]
    results = lines(out)
    assert [r["source"] for r in results] == [f"{path}:{n}" for n in (1, 2, 4, 7, 9, 11)]
    codes = [c["enterprise"]["credit_code"] for c in good]
    assert [r["decisions"]["competent_authority"] for r in results] == [c["enterprise"]["production_district"] for c in good]
    assert len(set(codes)) == 6
    errors = lines(err)
    assert [(e["line"], e["source"]) for e in errors] == [(n, f"{path}:{n}") for n in (3, 5, 8, 10)]
    assert [e["errors"][0]["code"] for e in errors] == ["input.syntax", "input.schema", "input.as_of", "input.not_mapping"]
    assert "risk_level" in errors[1]["errors"][0]["message"]
    assert sum(summary["districts"][d]["enterprises"] for d in summary["districts"]) == 6


def test_without_an_errors_file_bad_records_are_listed_on_stderr(tmp_path):
    path, _ = _mixed(tmp_path)
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--jobs", 1)
    assert result.exit_code == 1
    assert f"{path}:3:" in result.stderr and "input.syntax" in result.stderr
    assert "read 10, evaluated 6, failed 4" in result.stderr
    assert "Traceback" not in result.output


def test_each_line_is_the_object_eval_prints(tmp_path):
    case = example("c-class-triggers.yaml")
    (tmp_path / "one.jsonl").write_text(jsonl([case]), encoding="utf-8")
    (tmp_path / "one.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    result = run("batch", tmp_path / "one.jsonl", "--out", tmp_path / "out.jsonl", "--jobs", 1)
    assert result.exit_code == 0, result.output
    [line] = lines(tmp_path / "out.jsonl")
    single = run("eval", "--format", "json", tmp_path / "one.json")
    assert single.exit_code == 0, single.output
    expected = json.loads(single.stdout)
    assert line.pop("source") == f"{tmp_path / 'one.jsonl'}:1"
    expected.pop("source")
    assert line == expected


# ---- order and parallelism -------------------------------------------------------------------
def test_jobs_2_output_is_byte_identical_to_jobs_1(corpus, tmp_path):
    outs = {}
    for jobs in (1, 2):
        outs[jobs] = tmp_path / f"out{jobs}.jsonl"
        result = run("batch", corpus, "--out", outs[jobs], "--jobs", jobs, "--chunk", 16)
        assert result.exit_code == 0, result.output
        assert "read 240, evaluated 240, failed 0" in result.stderr
    assert outs[1].read_bytes() == outs[2].read_bytes()
    sources = [r["source"] for r in lines(outs[2])]
    assert sources == [f"{corpus}:{n}" for n in range(1, 241)]


@needs_durable
def test_workers_forked_after_the_parent_built_durable_rulesets_agree(corpus):
    """The parent may already hold durable rulesets (eval in the same process): fork still gives the same lines."""
    cat = Catalog()
    first = json.loads(corpus.read_text(encoding="utf-8").splitlines()[0])
    policy = cat.select(POLICY, first["as_of"])
    evaluate(policy, first, first["as_of"], backend="durable")  # builds durable rulesets here, in the parent
    assert "durable" in policy.backends
    job = Job(functools.partial(Catalog, []),
              functools.partial(evaluate_case, policy_name=POLICY, as_of=None, version=None, backend="durable"),
              batch_reduce)
    results = {}
    for jobs in (1, 2):
        with Runner(job, jobs, chunk=8) as runner:
            results[jobs] = [(o.source, o.value[0] if o.ok else o.errors) for o in runner.outcomes(read_records(str(corpus)))]
    assert len(results[2]) == 240
    assert results[1] == results[2]


# ---- other inputs ------------------------------------------------------------------------
def test_a_folder_is_read_recursively_sorted_by_path(tmp_path):
    cases = list(gen.generate(4, seed=3))
    folder = tmp_path / "cases"
    (folder / "b-sub").mkdir(parents=True)
    (folder / "c.json").write_text(json.dumps(cases[0], ensure_ascii=False), encoding="utf-8")
    (folder / "a.yaml").write_text(yaml.safe_dump(cases[1], allow_unicode=True), encoding="utf-8")
    (folder / "b-sub" / "x.yaml").write_text(yaml.safe_dump(cases[2], allow_unicode=True), encoding="utf-8")
    (folder / "b.yaml").write_text("as_of: [unclosed\n", encoding="utf-8")
    (folder / "notes.txt").write_text("not a case", encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", folder, "--out", out, "--errors", err, "--jobs", 2)
    assert result.exit_code == 1, result.output
    assert [r["source"] for r in lines(out)] == [str(folder / "a.yaml"), str(folder / "b-sub" / "x.yaml"), str(folder / "c.json")]
    [skipped, bad] = lines(err)     # what is not read is said before the first record
    assert bad["source"] == str(folder / "b.yaml") and bad["line"] is None
    assert bad["errors"][0]["code"] == "input.syntax" and bad["errors"][0]["location"]["line"] == 2
    assert skipped["source"] == str(folder / "notes.txt") and skipped["errors"][0]["code"] == "input.skipped"


def _folder_with_strays(tmp_path) -> tuple:
    """A folder holding one case file and one of each thing a folder may hold that is not read."""
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / ".git" / "a.yaml").write_text("x: 1\n", encoding="utf-8")
    (folder / "a.yaml").write_text(yaml.safe_dump(example("aa-clean.yaml"), allow_unicode=True), encoding="utf-8")
    (folder / "x.txt").write_text("a note", encoding="utf-8")
    (folder / ".hidden.yaml").write_text("x: 1\n", encoding="utf-8")
    os.mkfifo(folder / "pipe.yaml")          # read, it would block the batch
    (folder / "link").symlink_to(folder / "sub", target_is_directory=True)
    strays = {".git": "hidden folder", ".hidden.yaml": "hidden file", "link": "link to a folder",
              "pipe.yaml": "not a regular file", "x.txt": "suffix (.txt)"}
    return folder, {str(folder / name): why for name, why in strays.items()}


def test_a_folders_files_that_are_not_read_are_reported_and_counted_not_passed_over(tmp_path):
    folder, strays = _folder_with_strays(tmp_path)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", folder, "--out", out, "--errors", err, "--jobs", 1)
    assert result.exit_code == 0, result.output          # not a bad record: said, counted, but the batch is fine
    assert [r["source"] for r in lines(out)] == [str(folder / "a.yaml")]
    said = [line for line in result.stderr.splitlines() if "input.skipped" in line]
    assert [line.split(": input.skipped")[0] for line in said] == sorted(strays)   # one line each, sorted by path
    for line in said:
        path = line.split(": input.skipped")[0]
        assert strays[path] in line and ".yaml, .yml, .json" in line
    assert "skipped 5 files" in result.stderr and "5 skipped files" in result.stderr
    assert sorted(r["source"] for r in lines(err)) == sorted(strays)
    assert {e["code"] for r in lines(err) for e in r["errors"]} == {"input.skipped"}
    summary = json.loads(run("batch", folder, "--out", out, "--jobs", 1, "--format", "json").stdout)
    assert (summary["read"], summary["evaluated"], summary["failed"], summary["skipped"]) == (1, 1, 0, 5)


def test_a_folder_that_cannot_be_listed_is_input_lost_and_the_batch_says_so_with_exit_1(tmp_path, locked_folders):
    """Root reads any folder, so the refusal is simulated where os.walk meets it (conftest.locked_folders)."""
    folder = tmp_path / "cases"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.yaml").write_text(yaml.safe_dump(example("aa-clean.yaml"), allow_unicode=True), encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", folder, "--out", out, "--errors", err, "--jobs", 1)
    assert result.exit_code == 1, result.output
    assert f"{folder / 'locked'}: input.io: not read: a folder that cannot be listed (Permission denied)" in result.stderr
    assert "read 2, evaluated 1, failed 1" in result.stderr
    assert [r["source"] for r in lines(out)] == [str(folder / "a.yaml")]
    assert [e["code"] for r in lines(err) for e in r["errors"]] == ["input.io"]


def test_a_folders_many_entries_not_read_are_counted_past_a_bound_not_each_printed(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.yaml").write_text(yaml.safe_dump(example("aa-clean.yaml"), allow_unicode=True), encoding="utf-8")
    for i in range(25):
        (folder / f"attachment-{i:02d}.pdf").write_text("x", encoding="utf-8")
    result = run("batch", folder, "--out", tmp_path / "out.jsonl", "--jobs", 1)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if "input.skipped" in line]
    assert len(said) == 20 and "... and 5 more entries of the folder not read" in result.stderr
    assert "skipped 25 files" in result.stderr


def test_plan_and_diff_report_a_folders_files_that_are_not_read_too(tmp_path):
    folder, strays = _folder_with_strays(tmp_path)
    planned = run("plan", "--year", 2020, folder, "--jobs", 1)
    assert planned.exit_code == 0, planned.output
    assert sorted(line.split(": input.skipped")[0] for line in planned.stderr.splitlines() if "input.skipped" in line) == sorted(strays)
    assert "skipped 5 files" in planned.stdout
    compared = run("diff", f"{POLICY}@2017", f"{POLICY}@2017", "--corpus", folder, "--format", "json")
    assert compared.exit_code == 0, compared.output
    assert sorted(line.split(": input.skipped")[0] for line in compared.stderr.splitlines()) == sorted(strays)
    corpus = json.loads(compared.stdout)["corpus"]
    assert corpus["cases"] == 1 and sorted(s["source"] for s in corpus["skipped"]) == sorted(strays)
    text = run("diff", f"{POLICY}@2017", f"{POLICY}@2017", "--corpus", folder).stdout
    assert "5 files of the folder not read" in text


def test_stdin_is_read_as_jsonl(tmp_path):
    cases = list(gen.generate(3, seed=9))
    out = tmp_path / "out.jsonl"
    result = run("batch", "-", "--out", out, "--jobs", 1, input=jsonl(cases).encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert [r["source"] for r in lines(out)] == ["<stdin>:1", "<stdin>:2", "<stdin>:3"]


def test_as_of_option_overrides_every_case(corpus, tmp_path):
    out = tmp_path / "out.jsonl"
    result = run("batch", corpus, "--out", out, "--jobs", 1, "--as-of", "2020-12-31", "--format", "json")
    assert result.exit_code == 0, result.output
    assert {r["as_of"] for r in lines(out)} == {"2020-12-31"}


# ---- atomic output -----------------------------------------------------------------------
def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_an_interrupted_batch_leaves_no_file(corpus, tmp_path, monkeypatch):
    calls = {"n": 0}

    def interrupting(case, result, cat):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return batch_reduce(case, result, cat)

    monkeypatch.setattr(batch_cli, "batch_reduce", interrupting)
    out, err = tmp_path / "out.jsonl", tmp_path / "err.jsonl"
    result = run("batch", corpus, "--out", out, "--errors", err, "--jobs", 1, "--chunk", 8)
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output
    assert not out.exists() and not err.exists()
    assert _leftovers(tmp_path) == []


def test_an_interrupted_parallel_batch_leaves_no_file(corpus, tmp_path, monkeypatch):
    """Ctrl-C in the parent while it merges the workers' counts (it reads no record itself then)."""
    from regcode.engine.batch import Tally
    original = Tally.merge

    def merge(self, other):
        if self.read >= 100:
            raise KeyboardInterrupt
        original(self, other)

    monkeypatch.setattr(Tally, "merge", merge)
    out = tmp_path / "out.jsonl"
    result = run("batch", corpus, "--out", out, "--jobs", 2, "--chunk", 8)
    assert result.exit_code == 130
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_dead_worker_stops_the_run_with_a_clear_error_and_no_file(corpus, tmp_path, monkeypatch):
    """A worker that dies (a crash in the C core, the OOM killer) must not hang the run or leave a file."""
    def dying(cat, doc, **options):
        if doc.file.endswith(":100"):
            os._exit(70)
        return evaluate_case(cat, doc, **options)

    monkeypatch.setattr(batch_cli, "evaluate_case", dying)
    out = tmp_path / "out.jsonl"
    result = run("batch", corpus, "--out", out, "--jobs", 2, "--chunk", 8)
    assert result.exit_code == 3, result.output
    assert "a worker process died while evaluating" in result.stderr
    # every chunk still in flight fails with the pool, so the error names their whole span: it holds line 100
    span = re.search(rf"{re.escape(str(corpus))}:(\d+) \.\. {re.escape(str(corpus))}:(\d+)", result.stderr)
    assert span and int(span.group(1)) <= 100 <= int(span.group(2))
    assert not out.exists() and _leftovers(tmp_path) == []


def test_an_undecodable_line_is_one_bad_record(tmp_path):
    path = tmp_path / "enc.jsonl"
    path.write_bytes(jsonl(gen.generate(2, seed=1)).encode("utf-8").replace(b"\n", b"\n\xff\xfe\n", 1))
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--errors", tmp_path / "err.jsonl", "--jobs", 1)
    assert result.exit_code == 1
    [bad] = lines(tmp_path / "err.jsonl")
    assert (bad["line"], bad["errors"][0]["code"]) == (2, "input.encoding")
    assert len(lines(tmp_path / "out.jsonl")) == 2


def test_an_undecodable_line_is_reported_at_the_column_of_its_bad_byte(tmp_path):
    """Columns count characters, as everywhere else (load.not_utf8): `{"名": "` is 7 characters, 9 bytes."""
    path = tmp_path / "enc.jsonl"
    path.write_bytes(jsonl(gen.generate(1, seed=1)).encode("utf-8") + '{"名": "'.encode("utf-8") + b'\xff"}\n')
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--errors", tmp_path / "err.jsonl", "--jobs", 1)
    assert result.exit_code == 1
    [bad] = lines(tmp_path / "err.jsonl")
    [error] = bad["errors"]
    assert error["code"] == "input.encoding" and "(byte 9)" in error["message"]
    assert (error["location"]["line"], error["location"]["column"]) == (2, 8)


def test_atomic_writer_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as out:
            out.write("new half line")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert _leftovers(tmp_path) == []
    with atomic_writer(target) as out:
        out.write("new\n")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---- usage errors ----------------------------------------------------------------------------
USAGE = [
    ("missing input", ["batch", "no/such.jsonl", "--out", "{tmp}/o.jsonl"], "does not exist"),
    ("yaml file as input", ["batch", str(EXAMPLES / "aa-clean.yaml"), "--out", "{tmp}/o.jsonl"], "regcode eval"),
    ("output folder missing", ["batch", "{corpus}", "--out", "{tmp}/nope/o.jsonl"], "does not exist"),
    ("output is the input", ["batch", "{corpus}", "--out", "{corpus}"], "is the input"),
    ("unknown policy", ["batch", "{corpus}", "--out", "{tmp}/o.jsonl", "--policy", "shanghai"], "no policy `shanghai`"),
    ("unknown version", ["batch", "{corpus}", "--out", "{tmp}/o.jsonl", "--policy-version", "2071"], "no version `2071`"),
    ("no version in force", ["batch", "{corpus}", "--out", "{tmp}/o.jsonl", "--as-of", "2010-01-01"], "in force on 2010-01-01"),
    ("bad as-of", ["batch", "{corpus}", "--out", "{tmp}/o.jsonl", "--as-of", "2019-13-01"], "not a date"),
    ("zero jobs", ["batch", "{corpus}", "--out", "{tmp}/o.jsonl", "--jobs", "0"], "--jobs"),
    ("yaml file as diff's corpus", ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017", "--corpus",
                                    str(EXAMPLES / "aa-clean.yaml")], "--corpus: " + str(EXAMPLES / "aa-clean.yaml")
     + " is a YAML file; --corpus is a JSONL file (one case file a line), a folder of case files, or - for JSONL on stdin"),
    ("a pretty-printed JSON case as input", ["batch", "{tmp}/pretty.json", "--out", "{tmp}/o.jsonl"],
     "pretty.json is a JSON file spread over lines; INPUT is a JSONL file"),
    ("a pretty-printed JSON case as diff's corpus", ["diff", "shanghai-post-license@2017", "shanghai-post-license@2017",
                                                     "--corpus", "{tmp}/pretty.json"], "--corpus: "),
]


# a file that is not JSON lines as a whole: said once before the run, with the fix, not one bad record a line
NOT_JSON_LINES = [  # (what, file name, its text from the corpus's first case, the message)
    ("a one-line JSON array", "a.json", lambda case: json.dumps([case, case]),
     "a.json is a JSON array; INPUT is read as JSON lines, one case file a line (e.g. `jq -c '.[]' a.json > a.jsonl`)"),
    ("a JSON array over lines", "a.jsonl", lambda case: "[\n" + json.dumps(case) + ",\n" + json.dumps(case) + "\n]\n",
     "a.jsonl is a JSON array; INPUT is read as JSON lines, one case file a line (e.g. `jq -c '.[]' a.jsonl > a.lines.jsonl`)"),
    ("a YAML case file named .jsonl", "aa.jsonl", lambda case: (EXAMPLES / "aa-clean.yaml").read_text(encoding="utf-8"),
     "aa.jsonl looks like a YAML case file, not JSON lines; for one case file use `regcode eval aa.jsonl` (and name it .yaml)"),
]


@pytest.mark.parametrize("name,text,fragment", [n[1:] for n in NOT_JSON_LINES], ids=[n[0] for n in NOT_JSON_LINES])
def test_a_file_that_is_not_json_lines_is_one_error_with_the_fix(name, text, fragment, corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text(json.loads(corpus.read_text(encoding="utf-8").splitlines()[0])), encoding="utf-8")
    for verb in (["batch", name, "--out", "o.jsonl"], ["plan", "--year", "2020", name]):
        result = run(*verb)
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert f"INPUT: {fragment}" in result.stderr
        assert not Path("o.jsonl").exists()


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", "a: b", '{"as_of": "2019-06-30", "enterprise": '])
def test_bad_first_lines_do_not_refuse_a_file_of_json_lines(bad, corpus, tmp_path):
    """Each bad line is a bad record and the good ones are evaluated, whatever the first lines are."""
    source = tmp_path / "in.jsonl"
    good = corpus.read_text(encoding="utf-8").splitlines()[:2]
    source.write_text("\n".join([bad, bad] + good) + "\n", encoding="utf-8")
    result = run("batch", source, "--out", tmp_path / "o.jsonl", "--errors", tmp_path / "e.jsonl", "--jobs", 1)
    assert result.exit_code == 1
    assert [r["line"] for r in lines(tmp_path / "e.jsonl")] == [1, 2]
    assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.parametrize("args,fragment", [u[1:] for u in USAGE], ids=[u[0] for u in USAGE])
def test_usage_errors_are_clear_and_leave_no_file(args, fragment, corpus, tmp_path):
    before = corpus.read_bytes()
    (tmp_path / "pretty.json").write_text(json.dumps(json.loads(corpus.read_text(encoding="utf-8").splitlines()[0]), indent=2),
                                          encoding="utf-8")
    result = run(*[a.format(tmp=tmp_path, corpus=corpus) for a in args])
    assert result.exit_code == 1, result.output   # bad input, usage errors included: one paragraph, exit 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "o.jsonl").exists()
    assert corpus.read_bytes() == before


@pytest.mark.parametrize("level", ["none", "decisive"])
def test_batch_explain_level_keeps_decisions_and_trims_reasons(corpus, tmp_path, level):
    full, trimmed = tmp_path / "full.jsonl", tmp_path / f"{level}.jsonl"
    assert run("batch", str(corpus), "--out", str(full), "--jobs", "1").exit_code == 0
    assert run("batch", str(corpus), "--out", str(trimmed), "--jobs", "1", f"--explain={level}").exit_code == 0
    a = [json.loads(line) for line in full.read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in trimmed.read_text(encoding="utf-8").splitlines()]
    assert len(a) == len(b) > 0
    assert [x["decisions"] for x in a] == [y["decisions"] for y in b]
    if level == "none":
        assert all("why" not in y for y in b)
    else:
        assert all(all(e["decisive"] for es in y["why"].values() for e in es) for y in b)


def _reduce_with_one_unwritable_line(case, result, cat=None):
    line, summary, noted = batch_reduce(case, result, cat)
    if case.get("enterprise", {}).get("credit_code", "")[-2:-1] in ("3", "7"):   # some records: a line no UTF-8 can carry
        line = line.decode("utf-8")[:-1] + "\ud800}"     # text, which no UTF-8 can carry
    return line, summary, noted


@pytest.mark.parametrize("jobs", [1, 2])
def test_worker_written_lines_keep_input_order_and_an_unwritable_one_is_a_bad_record(corpus, jobs):
    """With worker processes each chunk's lines go through a file of the worker's (spill), not the pipe, and only
    the chunk's counts come back; the output is the same bytes as one process writes, and a line that cannot
    be written is a bad record."""
    import io
    from regcode.engine.batch import Tally
    cases = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
    marked = {i for i, c in enumerate(cases) if c.get("enterprise", {}).get("credit_code", "")[-2:-1] in ("3", "7")}
    assert marked and len(marked) < len(cases)
    job = Job(functools.partial(Catalog, []), functools.partial(evaluate_case, policy_name=POLICY), _reduce_with_one_unwritable_line,
              spill=True)
    sink, tally, bad = io.StringIO(), Tally(), []
    with Runner(job, jobs, chunk=16) as runner:
        for counts, outcomes in runner.results(read_records(str(corpus)), sink):
            if counts is not None:
                tally.merge(counts)
            for outcome in outcomes:
                if outcome.ok:
                    line, summary, noted = outcome.value
                    if isinstance(line, bytes):         # batch_reduce's lines are UTF-8 bytes
                        line = line.decode("utf-8")
                    try:
                        line.encode("utf-8")
                    except UnicodeEncodeError:
                        bad.append(outcome.line)
                        continue
                    sink.write(line + "\n")
                    tally.add(outcome, summary)
                else:
                    assert outcome.errors[0]["code"] == "internal.output"
                    bad.append(outcome.line)
    written = [json.loads(line)["source"] for line in sink.getvalue().splitlines()]
    assert sorted(bad) == sorted(i + 1 for i in marked)
    assert written == [f"{corpus}:{i + 1}" for i in range(len(cases)) if i not in marked]
    assert tally.evaluated == len(written) and sum(row[tally.spec.unit] for row in tally.groups.values()) == len(written)


# ---- a JSONL file cut into spans that the workers read themselves ------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from regcode.engine import corpus as corpus_module  # noqa: E402
from regcode.engine.corpus import jsonl_spans, span_records  # noqa: E402

_LINE = st.one_of(st.just(b""), st.just(b"   "), st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")),
                  st.just(b'{"a": 1}'), st.just(b"\xef\xbb\xbf{}"), st.just(b"\xff\xfe"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_LINE, max_size=30), st.booleans(), st.integers(1, 120), st.integers(1, 6), st.integers(1, 50))
def test_spans_cover_the_file_in_whole_lines_and_give_the_records_read_records_gives(tmp_path, lines_, newline_at_end,
                                                                                      size, budget, block):
    data = b"\n".join(lines_) + (b"\n" if newline_at_end and lines_ else b"")
    path = tmp_path / "spans.jsonl"
    path.write_bytes(data)
    original = corpus_module.READ_BLOCK
    corpus_module.READ_BLOCK = block             # small blocks: cuts fall at and across block ends
    try:
        spans = list(jsonl_spans(str(path), size=size, lines=budget))
    finally:
        corpus_module.READ_BLOCK = original
    at = 0
    for span in spans:
        piece = data[span.offset:span.offset + span.length]
        assert span.offset == at and span.length > 0
        assert span.first == data[:span.offset].count(b"\n") + 1
        assert span.count == piece.count(b"\n") + (not piece.endswith(b"\n")) <= budget
        assert piece.endswith(b"\n") or span.offset + span.length == len(data)
        at += span.length
    assert at == len(data)
    with open(path, "rb") as stream:
        from_spans = [r for span in spans for r in span_records(span, "f", stream)]
    assert from_spans == list(corpus_module._jsonl(io.BytesIO(data), "f"))


def test_a_file_replaced_after_it_was_cut_into_spans_is_refused_not_read(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(gen.generate(3, seed=2)), encoding="utf-8")
    [span] = list(jsonl_spans(str(path)))
    replacement = tmp_path / "new.jsonl"
    replacement.write_text(jsonl(gen.generate(3, seed=3)), encoding="utf-8")
    os.replace(replacement, path)
    with open(path, "rb") as stream, pytest.raises(InputError) as caught:
        list(span_records(span, str(path), stream))
    [issue] = caught.value.issues
    assert issue.code == "input.io" and "changed while it was read" in issue.message


@pytest.mark.parametrize("chunk", [None, 3])
def test_jobs_2_reads_a_jsonl_file_in_spans_with_the_same_bad_records_and_bytes_as_jobs_1(tmp_path, chunk):
    path, _ = _mixed(tmp_path)
    runs = {}
    for jobs in (1, 2):
        out, err = tmp_path / f"out{jobs}.jsonl", tmp_path / f"err{jobs}.jsonl"
        result = run("batch", path, "--out", out, "--errors", err, "--jobs", jobs, "--format", "json",
                     *(["--chunk", chunk] if chunk else []))
        assert result.exit_code == 1, result.output
        summary = json.loads(result.stdout)
        runs[jobs] = (out.read_bytes(), err.read_bytes(), {k: summary[k] for k in ("read", "evaluated", "failed", "districts")})
    assert runs[1] == runs[2]
    assert [e["line"] for e in lines(tmp_path / "err2.jsonl")] == [3, 5, 8, 10]


def test_jobs_2_to_stdout_through_a_pipe_is_the_same_bytes_as_to_a_file(corpus, tmp_path):
    """A chunk's lines reach the output by sendfile when there is a file descriptor (a pipe here, a file with --out)."""
    import subprocess
    import sys
    script = Path(sys.executable).parent / "regcode"
    piped = subprocess.run([str(script), "batch", str(corpus), "--out", "-", "--jobs", "2", "--chunk", "16"],
                           capture_output=True, check=True)
    assert run("batch", corpus, "--out", tmp_path / "out.jsonl", "--jobs", 1).exit_code == 0
    assert piped.stdout == (tmp_path / "out.jsonl").read_bytes()


def test_a_span_cut_short_while_a_worker_reads_it_is_refused_not_half_read(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(gen.generate(6, seed=2)), encoding="utf-8")
    [span] = list(jsonl_spans(str(path)))
    with open(path, "rb") as stream:
        records = span_records(span, str(path), stream)
        next(records)                                   # a worker is inside the span ...
        os.truncate(path, span.length // 2)             # ... when the file is cut short
        with pytest.raises(InputError) as caught:
            list(records)
    assert caught.value.issues[0].code == "input.io"


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_input_cut_short_while_the_batch_reads_it_stops_the_batch_with_input_io_and_no_output(tmp_path, jobs, monkeypatch):
    """Records after the cut must not vanish without a word: the run stops, says why, and writes no --out file."""
    from regcode.engine import corpus as corpus_mod
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(gen.generate(40, seed=3)), encoding="utf-8")
    size = path.stat().st_size
    original = corpus_mod._lines

    def cut_after_the_first_line(stream, limit):
        for n, item in enumerate(original(stream, limit)):
            yield item
            if n == 0:
                os.truncate(path, size // 3)
    original_spans = corpus_mod.jsonl_spans

    def spans_then_cut(p, size=corpus_mod.SPAN_BYTES, lines=corpus_mod.SPAN_LINES):
        opened = original_spans(p, size=512, lines=lines)
        first = next(opened)
        os.truncate(path, size_cut)
        yield first
        yield from opened
    size_cut = size // 3
    if jobs == 1:
        monkeypatch.setattr(corpus_mod, "_lines", cut_after_the_first_line)
    else:
        monkeypatch.setattr(corpus_mod, "jsonl_spans", spans_then_cut)
    out = tmp_path / "out.jsonl"
    result = run("batch", path, "--out", out, "--jobs", jobs)
    assert result.exit_code == 1, result.output
    assert "input.io" in result.stderr and "changed while it was read" in result.stderr
    assert "Traceback" not in result.output and not out.exists()


def test_an_input_removed_before_a_worker_opens_it_is_input_io_not_an_internal_error(tmp_path, monkeypatch):
    from regcode.engine import corpus as corpus_mod
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(gen.generate(5, seed=3)), encoding="utf-8")
    original_spans = corpus_mod.jsonl_spans

    def spans_then_remove(p, size=corpus_mod.SPAN_BYTES, lines=corpus_mod.SPAN_LINES):
        spans = list(original_spans(p, size=size, lines=lines))
        os.unlink(path)                                 # after the parent cut it, before a worker opens it
        yield from spans
    monkeypatch.setattr(corpus_mod, "jsonl_spans", spans_then_remove)
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--jobs", 2)
    assert result.exit_code == 1, result.output
    assert "input.io" in result.stderr and "cannot read" in result.stderr and "internal" not in result.stderr


def test_a_full_temp_folder_is_one_output_io_error_naming_it_not_bad_records(tmp_path, monkeypatch):
    """The workers' chunk files cannot be written: that is not the records' fault, and the batch says where."""
    import tempfile
    from regcode.engine import batch as batch_mod

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    original = tempfile.mkstemp
    monkeypatch.setattr(batch_mod.tempfile, "mkstemp", lambda *a, **k: full() if k.get("prefix") == "chunk-" else original(*a, **k))
    path, _ = _mixed(tmp_path)
    out = tmp_path / "out.jsonl"
    result = run("batch", path, "--out", out, "--jobs", 2, "--format", "json")
    assert result.exit_code == 1, result.output
    assert "output.io" in result.output and "chunk files" in result.output and "TMPDIR" in result.output
    assert not out.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("jobs", [1, 2])
def test_out_on_a_device_is_written_to_never_replaced(tmp_path, jobs):
    """atomic_writer renames a temp file over its target: over /dev/full (or, as root, /dev/null) that would
    destroy the device. A target that is not a regular file is written as it is."""
    small = tmp_path / "small.jsonl"
    small.write_text(jsonl(gen.generate(3, seed=1)), encoding="utf-8")
    before = os.stat("/dev/full")
    result = run("batch", small, "--out", "/dev/full", "--jobs", jobs)
    assert result.exit_code == 1 and "output.io" in result.stderr and "/dev/full" in result.stderr
    after = os.stat("/dev/full")
    assert (after.st_mode, after.st_rdev, after.st_ino) == (before.st_mode, before.st_rdev, before.st_ino)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import subprocess
    # the reader is another process, not a thread: this one forks the batch's workers, and a fork with
    # threads running may deadlock
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run("batch", small, "--out", fifo, "--jobs", jobs)
    got, _ = reader.communicate(timeout=60)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["source"] for line in got.decode("utf-8").splitlines()] == [f"{small}:{n}" for n in (1, 2, 3)]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("out", ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"])
def test_out_through_a_process_link_writes_the_redirected_file_and_keeps_the_link(tmp_path, jobs, out):
    """`--out /dev/stdout > file`: /dev/stdout is a link into /proc that stat follows to a regular file.
    Renaming over it replaced the link itself (as root, /dev/stdout became a file for every process) and
    left the redirected file empty. The file behind it is written in place, appended to: `>>` keeps what
    it held."""
    import subprocess
    import sys
    small = tmp_path / "small.jsonl"
    small.write_text(jsonl(gen.generate(3, seed=1)), encoding="utf-8")
    link = Path(out) if out.startswith("/dev/") else None
    before = os.readlink(link) if link is not None and link.is_symlink() else None
    regcode_cmd = str(Path(sys.executable).parent / "regcode")
    captured = tmp_path / "captured.jsonl"
    captured.write_text("kept\n", encoding="utf-8")
    with open(captured, "a", encoding="utf-8") as stdout:           # the shell's `>> captured.jsonl`
        done = subprocess.run([regcode_cmd, "batch", str(small), "--out", out, "--jobs", str(jobs)],
                              stdout=stdout, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    got = captured.read_text(encoding="utf-8").splitlines()
    assert got[0] == "kept"
    assert [json.loads(line)["source"] for line in got[1:]] == [f"{small}:{n}" for n in (1, 2, 3)]
    if before is not None:
        assert link.is_symlink() and os.readlink(link) == before


def test_out_naming_a_link_to_a_file_replaces_the_file_and_keeps_the_link(tmp_path):
    small = tmp_path / "small.jsonl"
    small.write_text(jsonl(gen.generate(3, seed=1)), encoding="utf-8")
    (tmp_path / "results").mkdir()
    target = tmp_path / "results" / "out.jsonl"
    target.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.jsonl"
    link.symlink_to(target)
    result = run("batch", small, "--out", link, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert [json.loads(line)["source"] for line in target.read_text(encoding="utf-8").splitlines()] == [
        f"{small}:{n}" for n in (1, 2, 3)]
    assert _leftovers(tmp_path / "results") == [] and _leftovers(tmp_path) == []


def test_atomic_writer_reports_a_full_disk_at_close_as_output_io_not_an_internal_error(tmp_path, monkeypatch):
    """The error raised when the body's own write failed and the close fails again must stay the output error."""
    from regcode.engine import PolicyError
    from regcode.engine.batch import Output
    original = Output.write

    def failing(self, text):
        raise batch_mod_output_error(self)
    import regcode.engine.batch as batch_mod

    def batch_mod_output_error(out):
        return batch_mod.output_error(out._path, OSError(28, "No space left on device"))
    monkeypatch.setattr(Output, "write", failing)
    target = tmp_path / "out.jsonl"
    with pytest.raises(PolicyError) as caught:
        with atomic_writer(target) as out:
            out._stream.write("x" * 100)      # buffered: the close will try to write it
            os.close(out._stream.fileno())   # ... and fail (EBADF), after the body's own error
            out.write("more")
    assert caught.value.issues[0].code == "output.io"
    assert not target.exists() and _leftovers(tmp_path) == []
    monkeypatch.setattr(Output, "write", original)


def test_the_parent_cutting_spans_of_a_file_cut_short_meanwhile_says_so(tmp_path, monkeypatch):
    from regcode.engine.corpus import read_spans
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl(gen.generate(20, seed=3)), encoding="utf-8")
    monkeypatch.setattr(corpus_module, "READ_BLOCK", 1024)      # the file is read block by block ...
    spans = read_spans(str(path), lines=2)
    next(spans)
    os.truncate(path, 3000)                                    # ... and cut short after the first span
    with pytest.raises(InputError) as caught:
        list(spans)
    assert caught.value.issues[0].code == "input.io" and "changed while it was read" in caught.value.issues[0].message


@pytest.mark.parametrize("verb", [["batch"], ["plan", "--year", "2020"]])
def test_errors_dash_is_refused_not_a_file_named_dash(tmp_path, monkeypatch, verb):
    """`--out -` is stdout; `--errors -` made a file named `-` in the current folder."""
    small = tmp_path / "small.jsonl"
    small.write_text(jsonl(gen.generate(2, seed=1)) + "not json\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    extra = ["--out", str(tmp_path / "out.jsonl")] if verb[0] == "batch" else []
    result = run(*verb, small, *extra, "--errors", "-")
    assert result.exit_code == 1 and "--errors" in result.stderr and "stderr" in result.stderr, result.output
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_bad_records_location_is_its_file_and_line_whatever_the_problem(tmp_path, jobs):
    """A schema problem was placed at file `FILE:LINE`, line 0; a syntax problem at file FILE, line LINE.
    Every problem of a record is at its file and line, with the path inside it where there is one."""
    good = list(gen.generate(3, seed=4))
    wrong_type = dict(good[1], licenses=[dict(good[1]["licenses"][0], risk_level=3)])
    path = tmp_path / "cases.jsonl"
    path.write_text(jsonl([good[0]]) + "{not json\n" + jsonl([wrong_type]) + jsonl([{k: v for k, v in good[2].items() if k != "as_of"}]),
                    encoding="utf-8")
    errors = tmp_path / "err.jsonl"
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--errors", errors, "--jobs", jobs)
    assert result.exit_code == 1
    records = lines(errors)
    assert [r["line"] for r in records] == [2, 3, 4]
    for record in records:
        for issue in record["errors"]:
            assert (issue["location"]["file"], issue["location"]["line"]) == (str(path), record["line"]), issue
    assert any(i["location"]["path"] == "licenses[0].risk_level" for i in records[1]["errors"])


# ---- a bad record is placed at its line and column --------------------------------------------
PLACED = [  # (what, the record's text, code, column, message)
    ("a number too large to read", '{"as_of": "2019-06-30", "note": "1e400", "n": 1e400}', "input.number", 47, "the number 1e400"),
    ("an integer past 64 bits", '{"as_of": "2019-06-30", "n": 123456789012345678901234}', "input.number", 30, "out of range"),
    ("NaN", '{"as_of": "2019-06-30", "n": [1, NaN]}', "input.number", 34, "NaN is not a value"),
    ("a syntax error", '{"as_of": "2019-06-30", "n": [1,, 2]}', "input.syntax", 33, "invalid JSON"),
    ("a key written twice", '{"as_of": "2019-06-30", "n": {"a": 1, "a": 2}}', "input.duplicate_key", 39, "key `a` appears twice"),
    # cut short: at the string left open (its line break is not a control character in it), or where the line ends
    ("a record cut short in a string", '{"as_of": "2019-06-30", "enterprise": {"name": "abc', "input.syntax", 48,
     "the line ends inside a string (opened here): the record is cut short"),
    ("a record cut short after a key", '{"as_of": "2019-06-30", "enterprise": ', "input.syntax", 38,
     "Expecting value: the line ends before the record is complete"),
    ("a record cut short before a comma", '{"as_of": "2019-06-30", "enterprise": {"name": "abc"', "input.syntax", 53,
     "Expecting ',' delimiter: the line ends before the record is complete"),
    ("an escaped control character in a text", '{"as_of": "2019-06-30", "n": ["x", "a\\u001b[2J"]}', "input.text", 36,
     "the text 'a\\x1b[2J' holds an ESC (U+001B)"),
    ("an escaped line break in a text", '{"as_of": "2019-06-30", "n": "a\\r\\nb"}', "input.text", 30, "holds a carriage return (CR)"),
    ("a DEL, which JSON lets through as itself", '{"as_of": "2019-06-30", "n": "a\x7f"}', "input.text", 30, "holds a DEL (U+007F)"),
    ("an escaped control character in a key", '{"as_of": "2019-06-30", "n\\u0000": 1}', "input.key", 25, "holds a NUL (U+0000)"),
    ("nesting past the bound", '{"as_of": "2019-06-30", "n": ' + "[" * 70 + "]" * 70 + "}", "input.too_deep", 93, "64 levels deep"),
    ("nesting past the reader's recursion", '{"as_of": "2019-06-30", "n": ' + "[" * 100_000 + "]" * 100_000 + "}", "input.too_deep",
     93, "64 levels deep"),
    # read, but refused by its meaning: at the value's column in the line, as eval says it in a .json file
    ("an as_of that is no day", '{"as_of": "2019-02-30"}', "input.as_of", 11, "is not a date"),
    ("a text where the facts schema takes a list",
     '{"as_of": "2019-06-30", "enterprise": {"credit_code": "91310113134268707X", "name": "甲", "production_district": "宝山区"},'
     ' "licenses": "x"}', "input.schema", 133, "licenses must be a list"),
    ("a field the facts schema does not know, at its key", '{"as_of": "2019-06-30", "enterprize": {}}', "input.schema", 25,
     "`enterprize` is not a key it takes"),
]


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("text,code,column,message", [p[1:] for p in PLACED], ids=[p[0] for p in PLACED])
def test_a_bad_record_is_placed_at_its_line_and_column(tmp_path, jobs, text, code, column, message):
    path = tmp_path / "in.jsonl"
    path.write_text(jsonl([example("aa-clean.yaml")]) + text + "\n", encoding="utf-8")
    result = run("batch", path, "--out", tmp_path / "out.jsonl", "--errors", tmp_path / "err.jsonl", "--jobs", jobs)
    assert result.exit_code == 1, result.output
    [error] = lines(tmp_path / "err.jsonl")
    first = error["errors"][0]
    assert (first["code"], first["location"]["line"], first["location"]["column"]) == (code, 2, column), first
    assert message in first["message"]


# ---- a closed pipe on the output ends quietly with 141, as a filter stopped by SIGPIPE does ------
@pytest.mark.parametrize("out", ["-", "/dev/stdout"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_reader_that_leaves_ends_the_batch_quietly(tmp_path, out, jobs):
    import subprocess
    import sys
    corpus = tmp_path / "in.jsonl"
    corpus.write_text(jsonl([example("c-class-triggers.yaml")] * 400), encoding="utf-8")     # megabytes: past any pipe buffer
    proc = subprocess.Popen([sys.executable, "-m", "regcode.cli", "batch", str(corpus), "--out", out, "--jobs", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout.read(100)
    proc.stdout.close()         # `| head -c 100`
    stderr = proc.stderr.read().decode("utf-8")
    assert proc.wait(timeout=120) == 141, stderr    # not 0: the batch did not finish, nor deliver its bad records
    assert stderr == "", stderr         # no output.io, no hint about folders and space


def test_a_jsonl_file_named_json_is_read_as_jsonl(corpus, tmp_path):
    named = tmp_path / "cases.json"
    named.write_bytes(corpus.read_bytes())
    result = run("batch", str(named), "--out", str(tmp_path / "o.jsonl"), "--jobs", "1")
    assert result.exit_code in (0, 1) and "spread over lines" not in result.output
    assert len((tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()) > 0


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_yaml_case_file_with_an_ambiguous_value_has_its_other_problems_said_too(tmp_path, jobs):
    """As eval does: a case file refused for `no` unquoted is still checked against the facts schema (its bad district
    said in the same run), never evaluated; the folder's other case files are evaluated."""
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.yaml").write_text("as_of: 2019-06-30\nserious_quality_hazard: no\nenterprise: {credit_code: '913101131342687071', "
                                   "name: 甲, production_district: 浦东区}\n", encoding="utf-8")
    (folder / "b.yaml").write_bytes((EXAMPLES / "aa-clean.yaml").read_bytes())
    errors = tmp_path / "err.jsonl"
    result = run("batch", str(folder), "--out", str(tmp_path / "o.jsonl"), "--errors", str(errors), "--jobs", jobs)
    assert result.exit_code == 1, result.output
    [record] = lines(errors)
    assert sorted(e["code"] for e in record["errors"]) == ["input.ambiguous_scalar", "input.schema"]
    assert len(lines(tmp_path / "o.jsonl")) == 1


# ---- interrupted: exit 130, and what was left of each output ------------------------------------------------
class _CutByCtrlC(io.RawIOBase):
    """stdout whose every write is cut in two by a SIGINT sent to this process between the halves: a Ctrl-C that
    comes while a line is being written. What reached the reader is kept in `got`."""

    def __init__(self):
        self.got = bytearray()
        self.sent = False

    def writable(self):
        return True

    def write(self, data):
        import signal
        data = bytes(data)
        half = len(data) // 2
        self.got += data[:half]
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(3):      # the handler runs at the next calls: a Ctrl-C not held stops the write here
                len(data)
        self.got += data[half:]
        return len(data)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_ctrl_c_while_a_line_goes_to_stdout_ends_it_on_a_whole_line(corpus, monkeypatch, jobs):
    raw = _CutByCtrlC()
    stdout = io.TextIOWrapper(io.BufferedWriter(raw, buffer_size=64), encoding="utf-8", newline="\n", write_through=True)
    monkeypatch.setattr(batch_cli, "stdout_text", lambda: stdout)
    result = run("batch", corpus, "--out", "-", "--jobs", jobs, "--chunk", 8)
    stdout.flush()
    assert result.exit_code == 130, result.output
    assert result.stderr == "interrupted: what was written to stdout is whole lines, one result each\n"
    assert raw.sent and raw.got.endswith(b"\n"), f"cut short: ...{bytes(raw.got[-60:])}"
    assert all(json.loads(line)["decisions"] for line in raw.got.decode("utf-8").splitlines())


def _interrupting_at(n: int):
    calls = {"n": 0}

    def interrupting(case, result, cat):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return batch_reduce(case, result, cat)
    return interrupting


@pytest.mark.parametrize("before, said", [
    ("", "no out.jsonl was written; no err.jsonl was written"),
    ("old\n", "out.jsonl is left as it was; err.jsonl is left as it was")], ids=["new files", "files there before"])
def test_an_interrupted_batch_says_what_it_left_of_its_files(corpus, tmp_path, monkeypatch, before, said):
    monkeypatch.setattr(batch_cli, "batch_reduce", _interrupting_at(50))
    monkeypatch.chdir(tmp_path)
    if before:
        Path("out.jsonl").write_text(before, encoding="utf-8")
        Path("err.jsonl").write_text(before, encoding="utf-8")
    result = run("batch", corpus, "--out", "out.jsonl", "--errors", "err.jsonl", "--jobs", 1, "--chunk", 8)
    assert (result.exit_code, result.stderr) == (130, f"interrupted: {said}\n")
    assert [p.read_text(encoding="utf-8") for p in sorted(tmp_path.iterdir())] == ([before, before] if before else [])


def test_the_help_lists_exit_status_130():
    text = run("--help").stdout
    assert "130  interrupted (Ctrl-C" in text and "141  the reader" in text


def test_an_interrupted_plan_says_its_file_was_not_written(corpus, tmp_path, monkeypatch):
    from regcode.cli import plan as plan_cli
    calls, real = {"n": 0}, plan_cli.plan_entry

    def interrupting(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return real(*args, **kw)
    monkeypatch.setattr(plan_cli, "plan_entry", interrupting)
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--year", 2020, corpus, "--out", "plan.csv", "--jobs", 1)
    assert (result.exit_code, result.stderr) == (130, "interrupted: no plan.csv was written\n")
    assert list(tmp_path.iterdir()) == []


# ---- outputs and the input folder ---------------------------------------------------------------
def _case_folder(tmp_path) -> Path:
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    for name in ("aa-clean.yaml", "new-licensee.yaml"):
        (folder / name).write_bytes((EXAMPLES / name).read_bytes())
    (folder / "sub" / "two.yaml").write_bytes((EXAMPLES / "two-categories.yaml").read_bytes())
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "food.yaml").write_bytes((EXAMPLES / "food-related.yaml").read_bytes())
    os.symlink(tmp_path / "elsewhere" / "food.yaml", folder / "linked.yaml")   # a link to a file outside: read
    os.link(folder / "new-licensee.yaml", tmp_path / "hard.jsonl")        # the same file under a name outside
    os.symlink(folder / "sub" / "two.yaml", tmp_path / "soft.jsonl")      # a link to a case file of the folder
    return folder


# (what, the output's path under tmp_path, the words of the refusal)
READ_BY_THE_RUN = [
    ("a case file of the folder", "cases/aa-clean.yaml", "is the input (a case file of"),
    ("a case file of a subfolder", "cases/sub/two.yaml", "is the input (a case file of"),
    ("a hard link to a case file", "hard.jsonl", "is the input (a case file of"),
    ("a link to a case file", "soft.jsonl", "is the input (a case file of"),
    ("the file a link of the folder names", "elsewhere/food.yaml", "is the input (a case file of"),
    ("a new case file's name in the folder", "cases/new.json", "would be a case file of the input"),
    ("a new case file's name in a subfolder", "cases/sub/new.yml", "would be a case file of the input"),
    ("what a link of the folder to nothing names", "later.jsonl", "would be a case file of the input"),
]


@pytest.mark.parametrize("option", ["--out", "--errors"])
@pytest.mark.parametrize("verb", ["batch", "plan"])
@pytest.mark.parametrize("target,said", [r[1:] for r in READ_BY_THE_RUN], ids=[r[0] for r in READ_BY_THE_RUN])
def test_an_output_the_folder_reader_would_read_is_refused_before_any_work(tmp_path, verb, option, target, said):
    """A folder of case files as INPUT: --out or --errors naming one of its case files (through a link too), or a name
    the folder reader would read, replaced a case file with JSONL. Refused as the JSONL input itself is, nothing written."""
    folder = _case_folder(tmp_path)
    os.symlink(tmp_path / "later.jsonl", folder / "later.yaml")       # read once the file it names is there
    target = tmp_path / target
    if verb == "plan" and option == "--out" and target.suffix not in (".json", ".csv"):
        pytest.skip("plan writes --out as .csv or .json only")
    before = {p: p.read_bytes() for p in [*folder.rglob("*.y*ml"), *tmp_path.glob("*/*.yaml"), target] if p.exists()}
    others = {"--out": tmp_path / ("o.jsonl" if verb == "batch" else "o.csv"), "--errors": tmp_path / "e.jsonl"}
    others[option] = target
    args = [verb, *(["--year", "2020"] if verb == "plan" else []), folder, "--jobs", 1]
    result = run(*args, *[a for pair in others.items() for a in pair])
    assert result.exit_code == 1, result.output
    assert f"{option}: {target} {said}" in result.stderr and len(result.stderr.splitlines()) == 1, result.stderr
    assert "evaluated" not in result.output
    assert {p: p.read_bytes() for p in before} == before and not (tmp_path / "o.jsonl").exists()
    assert not target.exists() or target in before


# the input reached under another name: a link, a process's own descriptors, or standard output redirected to it.
# Each appended the results to the input (exit 0, "wrote 50 results to /dev/stdin"); compared as files, refused first.
SAME_FILE = [  # (what, the command line, the file redirected: to stdin, stdout (appended to) or neither, the refusal)
    ("--out /dev/stdin", ["batch", "{in}", "--out", "/dev/stdin"], "<", "--out: /dev/stdin is the input ({in})"),
    ("- as input, --out /dev/stdin", ["batch", "-", "--out", "/dev/stdin"], "<",
     "--out: /dev/stdin is the input (the file on standard input)"),
    ("/dev/fd/0 as input, --out /proc/self/fd/0", ["batch", "/dev/fd/0", "--out", "/proc/self/fd/0"], "<",
     "--out: /proc/self/fd/0 is the input (/dev/fd/0)"),
    ("--errors /dev/stdin", ["batch", "{in}", "--out", "{tmp}/o.jsonl", "--errors", "/dev/stdin"], "<",
     "--errors: /dev/stdin is the input ({in})"),
    ("--out /dev/stdout >> INPUT", ["batch", "{in}", "--out", "/dev/stdout"], ">>", "--out: /dev/stdout is the input ({in})"),
    ("--out - >> INPUT", ["batch", "{in}", "--out", "-"], ">>", "--out: standard output is the input ({in})"),
    ("- as input, --out - >> it", ["batch", "-", "--out", "-"], "<>>",
     "--out: standard output is the input (the file on standard input)"),
    ("the json summary >> INPUT", ["batch", "{in}", "--out", "{tmp}/o.jsonl", "--format", "json"], ">>",
     "standard output is the input ({in})"),
    ("--out a hard link", ["batch", "{in}", "--out", "{tmp}/hard.jsonl"], "", "--out: {tmp}/hard.jsonl is the input ({in})"),
    ("plan >> INPUT", ["plan", "--year", "2020", "{in}"], ">>", "--out: standard output is the input ({in})"),
    ("plan --errors /dev/stdin", ["plan", "--year", "2020", "{in}", "--errors", "/dev/stdin"], "<",
     "--errors: /dev/stdin is the input ({in})"),
    ("eval --out /dev/stdin", ["eval", "{case}", "--out", "/dev/stdin"], "<", "--out: /dev/stdin is the input ({case})"),
    ("eval >> the case file", ["eval", "{case}"], ">>", "--out: standard output is the input ({case})"),
    ("eval - >> the case file", ["eval", "-"], "<>>", "--out: standard output is the input (the file on standard input)"),
    # the same name: no "under another name" (README, the tour)
    ("eval --out the case file", ["eval", "{case}", "--out", "{case}"], "", "--out: {case} is the input; write the output elsewhere"),
    ("--out the input", ["batch", "{in}", "--out", "{in}"], "", "--out: {in} is the input; write the output elsewhere"),
]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("args,redirect,said", [s[1:] for s in SAME_FILE], ids=[s[0] for s in SAME_FILE])
def test_an_output_that_is_the_input_under_another_name_is_refused_before_any_work(corpus, tmp_path, args, redirect, said):
    import subprocess
    import sys
    source, case = tmp_path / "in.jsonl", tmp_path / "case.yaml"
    source.write_bytes(corpus.read_bytes())
    case.write_bytes((EXAMPLES / "aa-clean.yaml").read_bytes())
    os.link(source, tmp_path / "hard.jsonl")
    given = {"in": source, "case": case, "tmp": tmp_path}
    redirected = case if args[0] == "eval" else source
    before = {p: p.read_bytes() for p in (source, case)}
    with open(redirected, "rb") as stdin, open(redirected, "ab") as appended:
        jobs = [] if args[0] == "eval" else ["--jobs", "1"]
        done = subprocess.run([str(Path(sys.executable).parent / "regcode"), *[a.format(**given) for a in args], *jobs],
                              stdin=stdin if "<" in redirect else subprocess.DEVNULL,
                              stdout=appended if ">>" in redirect else subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 1, stderr
    assert said.format(**given) in stderr and len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "o.jsonl").exists()


# standard output redirected into the input folder, as the shell does it (`> cases/x.json`: the file is there, empty,
# before regcode starts). (what, the command line, the file stdout is, refused or not)
STDOUT_IN_THE_FOLDER = [
    ("batch --out - > a new case file's name", ["batch", "{cases}", "--out", "-"], "cases/x.json", "--out"),
    ("batch --out - > one in a subfolder", ["batch", "{cases}", "--out", "-"], "cases/sub/x.yaml", "--out"),
    ("batch --out - > a case file of it", ["batch", "{cases}", "--out", "-"], "cases/aa-clean.yaml", "--out"),
    ("batch --out - > the file a link of it names", ["batch", "{cases}", "--out", "-"], "elsewhere/food.yaml", "--out"),
    ("the json summary > a case file's name", ["batch", "{cases}", "--out", "{tmp}/o.jsonl", "--format", "json"],
     "cases/x.json", "--format"),
    ("plan > a case file's name", ["plan", "--year", "2020", "{cases}"], "cases/x.yml", "--out"),
    ("batch --out - > a name it does not read", ["batch", "{cases}", "--out", "-"], "cases/x.jsonl", None),
    ("plan > a name it does not read", ["plan", "--year", "2020", "{cases}"], "cases/plan.txt", None),
]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("args,target,option", [s[1:] for s in STDOUT_IN_THE_FOLDER], ids=[s[0] for s in STDOUT_IN_THE_FOLDER])
def test_standard_output_redirected_into_the_input_folder_is_checked_as_an_out_file_is(tmp_path, args, target, option):
    """`batch cases --out - > cases/x.json` read its own output as a case file (an empty one: a bad record, and the
    next run a file of JSON lines); refused before any work, as --out cases/x.json is, naming the file by the walk.
    Redirected to a name the folder reader does not read (`> cases/x.jsonl`), it is the run's own output, as an
    --out file there is: written, and not listed as a file passed over (nor in the errors file)."""
    import subprocess
    import sys
    folder = _case_folder(tmp_path)
    given = {"cases": folder, "tmp": tmp_path}
    redirected = tmp_path / target
    redirected.parent.mkdir(exist_ok=True)
    before = {p: p.read_bytes() for p in [*folder.rglob("*.y*ml"), *tmp_path.glob("*/*.yaml")]}
    with open(redirected, "ab") as stdout:      # `>>`: a case file redirected to keeps what it held
        done = subprocess.run([str(Path(sys.executable).parent / "regcode"), *[a.format(**given) for a in args],
                               "--errors", str(tmp_path / "e.jsonl"), "--jobs", "1"],
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, timeout=120)
    stderr = done.stderr.decode("utf-8")
    assert "Traceback" not in stderr
    if option is None:
        assert done.returncode == 0, stderr
        assert "input.skipped" not in stderr and "skipped" not in stderr
        assert (tmp_path / "e.jsonl").read_bytes() == b""
        assert redirected.read_text(encoding="utf-8").count("\n") >= 4     # four results, or the plan's summary
        return
    found = {"cases/x.json": folder / "x.json", "cases/sub/x.yaml": folder / "sub" / "x.yaml", "cases/x.yml": folder / "x.yml",
             "cases/aa-clean.yaml": folder / "aa-clean.yaml", "elsewhere/food.yaml": folder / "linked.yaml"}[target]
    assert done.returncode == 1, stderr
    said = (f"standard output is the input ({found}, a case file of {folder}): what is written there would be read as a "
            f"case file; redirect stdout to a file outside {folder} or "
            + ("give --out FILE" if option == "--out" else "leave out --format json"))
    if "json" in args:      # the usage error is the {"errors": [...]} every error is with --format json
        (error,) = json.loads(stderr)["errors"]
        assert (error["code"], error["location"]["path"], error["message"]) == ("usage.bad_value", option, said)
    else:
        assert stderr == f"regcode {args[0]}: {option}: {said} (see regcode {args[0]} --help)\n"
    assert {p: p.read_bytes() for p in before} == before
    assert redirected.read_bytes() == before.get(redirected, b"")
    assert not (tmp_path / "o.jsonl").exists() and not (tmp_path / "e.jsonl").exists()


@pytest.mark.parametrize("verb", ["batch", "plan"])
def test_a_folder_input_is_walked_once_for_the_outputs_checks_and_the_run(tmp_path, verb, monkeypatch):
    """--out and --errors are each checked against the folder INPUT (is it a case file of it, would it be one), and
    the run reads the folder: one walk for all three (the check walked it once per output, then the run again)."""
    from regcode.engine import corpus
    folder = _case_folder(tmp_path)
    walks = []
    real = corpus._walk
    monkeypatch.setattr(corpus, "_walk", lambda directory: walks.append(directory) or real(directory))
    out = tmp_path / ("o.jsonl" if verb == "batch" else "o.csv")
    result = run(verb, *(["--year", "2020"] if verb == "plan" else []), folder, "--out", out, "--errors",
                 tmp_path / "e.jsonl", "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert walks == [folder]
    assert "evaluated 4" in result.stderr if verb == "batch" else "(4 of 4 case files" in result.stderr


@pytest.mark.parametrize("target", ["cases/out.jsonl", "cases/.hidden.yaml", "cases/.git/out.yaml", "out.yaml"])
def test_an_output_in_or_beside_the_folder_that_is_not_read_is_allowed(tmp_path, target):
    folder = _case_folder(tmp_path)
    (folder / ".git").mkdir()
    result = run("batch", folder, "--out", tmp_path / target, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert len(lines(tmp_path / target)) == 4


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("verb", ["batch", "plan"])
def test_the_runs_own_output_and_temp_files_in_the_folder_are_not_input_and_not_reported(tmp_path, verb, jobs):
    """--out and --errors in the input folder (names it does not read): the run's temp file and the files a run before
    wrote are its own, not entries passed over: not said, not counted, and the errors file is the same bytes each run."""
    folder = _case_folder(tmp_path)
    (folder / "notes.txt").write_text("a note", encoding="utf-8")     # one entry that is passed over, and said
    out = folder / ("out.jsonl" if verb == "batch" else "plan.csv")
    errors = []
    for i in range(4):      # the errors file beside the folder, then in it (a name it does not read)
        err = tmp_path / "err.jsonl" if i < 2 else folder / "err.jsonl"
        args = [verb, *(["--year", "2020"] if verb == "plan" else []), folder, "--out", out, "--errors", err, "--jobs", jobs]
        result = run(*args)
        assert result.exit_code == 0, result.output
        said = [line for line in result.stderr.splitlines() if "input.skipped" in line]
        assert said == [f"{folder / 'notes.txt'}: input.skipped: not read: not a case file by its suffix (.txt) "
                        "(a folder's case files are its .yaml, .yml, .json files, hidden ones excepted)"], result.stderr
        assert "skipped 1 file" in result.output and "skipped 2" not in result.output
        errors.append(err.read_bytes())
    assert len(set(errors)) == 1 and [r["source"] for r in map(json.loads, errors[0].splitlines())] == [
        str(folder / "notes.txt")]
    assert sorted(p.name for p in folder.iterdir()) == sorted(["aa-clean.yaml", "new-licensee.yaml", "sub", "linked.yaml",
                                                               "notes.txt", out.name, "err.jsonl"])


# ---- a deeply nested line -------------------------------------------------------------------
DEEP = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize("verb", [["batch", "--out", "{tmp}/o.jsonl"], ["plan", "--year", "2020"]])
@pytest.mark.parametrize("where", ["alone", "first of three", "between two"])
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_line_nested_too_deep_to_read_is_one_bad_record_not_an_internal_error(tmp_path, verb, where, jobs):
    """The check that INPUT is JSON lines read the whole file as JSON first, and Python's reader ran out of stack on
    a line nested 100,000 deep: exit 3 before the run. The line is input.too_deep at its place; the rest are read."""
    good = [gen.dumps(c) for c in gen.generate(2, seed=9)]
    text = {"alone": [DEEP], "first of three": [DEEP] + good, "between two": good[:1] + [DEEP] + good[1:]}[where]
    source = tmp_path / "deep.jsonl"
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = run(verb[0], source, *[a.format(tmp=tmp_path) for a in verb[1:]], "--jobs", jobs)
    assert result.exit_code == 1, result.output
    line = text.index(DEEP) + 1
    assert f"{source}:{line}:{64 * 5 + 1}: input.too_deep: objects and lists are nested more than 64 levels deep" in result.stderr
    assert "internal error" not in result.output and "Traceback" not in result.output
    if verb[0] == "batch":
        assert len(lines(tmp_path / "o.jsonl")) == len(text) - 1
    else:
        assert f"evaluated {len(text) - 1} of {len(text)} case files" in result.stdout


def test_a_parameter_past_the_listed_bad_records_is_never_said_to_be_above():
    """Without --errors the first MAX_REPORTED bad records are said, then counted; a parameter with no value on the
    date that first stops a record past them was never said, so the records it stops next are counted with the
    other bad records, not "said above" (review)."""
    from regcode.cli.batch import BadRecords
    from regcode.cli.main import MAX_REPORTED
    from regcode.engine.batch import Outcome

    said = []
    bad = BadRecords(echo=said.append)
    schema = {"code": "input.schema", "message": "no district", "hint": "", "location": {"file": "c.jsonl", "line": 1, "column": 1}}
    stopped = {"code": "eval.parameter", "message": "`night_fee` has no value on 2019-06-01", "hint": "",
               "location": {"file": "parameters.yaml", "line": 9, "column": 5}}
    for n in range(MAX_REPORTED + 1):
        bad.add(Outcome(f"c.jsonl:{n + 1}", n + 1, errors=[schema]))
    for n in range(3):
        bad.add(Outcome(f"c.jsonl:{MAX_REPORTED + 2 + n}", MAX_REPORTED + 2 + n, errors=[stopped]))
    bad.finish()
    assert len([line for line in said if "input.schema" in line]) == MAX_REPORTED
    assert not any("said above" in line for line in said), said
    assert said[-1] == f"... and {1 + 3} more bad records; pass --errors FILE to keep them all", said
