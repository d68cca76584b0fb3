"""`regcode eval --out PATH`: the bytes stdout would get, written atomically, never over the input or into a folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode

from conftest import REPO

CASES = REPO / "examples" / "cases"
TWO = [str(CASES / "aa-clean.yaml"), str(CASES / "new-licensee.yaml")]


def run(*args):
    result = CliRunner().invoke(regcode, [str(a) for a in args])
    assert "Traceback" not in result.output and result.exit_code in (0, 1), result.output
    return result


def _temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("fmt", ["text", "json", "yaml", "html"])
def test_eval_out_writes_the_bytes_stdout_gets(tmp_path, fmt):
    shown = run("eval", *TWO, "--format", fmt)
    assert shown.exit_code == 0 and shown.stdout_bytes
    out = tmp_path / f"result.{fmt}"
    written = run("eval", *TWO, "--format", fmt, "--out", out)
    assert written.exit_code == 0, written.output
    assert written.stdout_bytes == b""
    assert out.read_bytes() == shown.stdout_bytes
    assert _temp_files(tmp_path) == []


def test_eval_out_dash_is_stdout():
    assert run("eval", *TWO, "--out", "-").stdout_bytes == run("eval", *TWO).stdout_bytes


def test_eval_out_replaces_a_file_already_there_whole(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("yesterday's result\n", encoding="utf-8")
    result = run("eval", TWO[0], "--format", "json", "--out", out)
    assert result.exit_code == 0
    assert out.read_bytes() == run("eval", TWO[0], "--format", "json").stdout_bytes


def test_eval_out_that_is_the_input_is_refused_and_the_input_kept(tmp_path):
    case = tmp_path / "case.yaml"
    shutil.copy(CASES / "aa-clean.yaml", case)
    before = case.read_bytes()
    os.symlink(case, tmp_path / "link.yaml")
    for out in (case, tmp_path / "link.yaml"):
        result = run("eval", case, "--out", out)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "--out" in result.stderr and "is the input" in result.stderr
        assert "write the output elsewhere" in result.stderr
    assert case.read_bytes() == before and (tmp_path / "link.yaml").is_symlink()


def test_eval_out_of_a_second_case_file_is_refused_too(tmp_path):
    case = tmp_path / "case.yaml"
    shutil.copy(CASES / "aa-clean.yaml", case)
    result = run("eval", TWO[0], case, "--out", case)
    assert result.exit_code == 1 and "is the input" in result.stderr
    assert case.read_bytes() == (CASES / "aa-clean.yaml").read_bytes()


def test_eval_out_that_is_a_folder_is_refused_before_anything_runs(tmp_path):
    result = run("eval", TWO[0], "--out", tmp_path)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "--out" in result.stderr and "is a folder; a file is wanted" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_eval_out_in_a_folder_that_is_not_there_is_refused(tmp_path):
    result = run("eval", TWO[0], "--out", tmp_path / "nowhere" / "r.txt")
    assert result.exit_code == 1 and "--out" in result.stderr and "does not exist" in result.stderr


def test_eval_out_keeps_a_file_there_when_no_case_could_be_evaluated(tmp_path):
    out = tmp_path / "result.txt"
    out.write_text("kept\n", encoding="utf-8")
    result = run("eval", REPO / "examples" / "bad-case.yaml", tmp_path / "missing.yaml", "--out", out)
    assert result.exit_code == 1
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert "result.txt is left as it was" in result.stderr
    alone = run("eval", REPO / "examples" / "bad-case.yaml", "--out", tmp_path / "new.txt")
    assert alone.exit_code == 1 and not (tmp_path / "new.txt").exists()


def test_eval_out_with_one_bad_case_of_two_writes_the_good_one(tmp_path):
    out = tmp_path / "result.txt"
    result = run("eval", TWO[0], REPO / "examples" / "bad-case.yaml", "--out", out)
    assert result.exit_code == 1 and "input.schema" in result.stderr
    assert out.read_bytes() == run("eval", TWO[0], REPO / "examples" / "bad-case.yaml").stdout_bytes


def test_eval_out_that_cannot_be_renamed_into_place_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    out = tmp_path / "result.txt"
    out.write_text("kept\n", encoding="utf-8")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("regcode.engine.batch.os.replace", refuse)
    result = run("eval", TWO[0], "--out", out)
    assert result.exit_code == 1 and "output.io" in result.stderr and "result.txt" in result.stderr
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert _temp_files(tmp_path) == []


def test_eval_out_runs_with_stdout_closed_since_it_does_not_use_it(tmp_path):
    """`regcode eval FILE --out PATH >&-`: the output goes to PATH; the closed stdout is no problem of this run."""
    import subprocess
    import sys
    script = str(Path(sys.executable).parent / "regcode")
    out = tmp_path / "r.txt"
    proc = subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', script, "eval", TWO[0], "--out", str(out)],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert out.read_bytes() == run("eval", TWO[0]).stdout_bytes


@pytest.mark.parametrize("command", [["eval", TWO[0]], ["batch", str(CASES)]])
def test_an_out_path_ending_with_a_slash_is_refused_not_written_as_a_file_of_that_name(tmp_path, command):
    """`--out results/` once wrote a file named `results` (Path drops the slash), and batch said `wrote ... to results/`."""
    result = run(*command, "--out", f"{tmp_path / 'results'}/")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "--out" in result.stderr and "ends with /" in result.stderr and "name the file in that folder" in result.stderr
    assert list(tmp_path.iterdir()) == []
