"""A SIGKILLed batch (issue 13, item 7): its workers die with it, and a later run removes the temp files it left."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from regcode.engine.batch import atomic_writer, remove_stale_temp_files

from conftest import generator as gen

BOUND = 60.0   # seconds: generous; the waits end as soon as the awaited state is reached


def _wait_for(predicate, what: str, bound: float = BOUND):
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {bound:.0f} s: {what}")


def _children(pid: int) -> list:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (the container's init may not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _temp_files(folder: Path, name: str) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_sigkilled_batch_leaves_no_worker_alive_and_a_later_run_removes_its_temp_file(tmp_path):
    out = tmp_path / "out.jsonl"
    cases = "".join(gen.dumps(c) + "\n" for c in gen.generate(300, seed=4))
    # input on a pipe that stays open: the batch cannot finish before it is killed
    temp_folder = tmp_path / "tmp"          # where the workers' chunk folder goes (TMPDIR)
    temp_folder.mkdir()
    env = {**os.environ, "TMPDIR": str(temp_folder)}
    proc = subprocess.Popen([sys.executable, "-m", "regcode.cli", "batch", "-", "--out", str(out), "--jobs", "2", "--chunk", "8"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
    try:
        proc.stdin.write(cases.encode("utf-8"))
        proc.stdin.flush()
        workers = _wait_for(lambda: (lambda kids: kids if len(kids) >= 2 else None)(_children(proc.pid)), "two workers started")
        temp = _wait_for(lambda: _temp_files(tmp_path, out.name), "the temp file created")
        assert f".{out.name}.{proc.pid}." in temp[0]
        proc.kill()
        proc.wait(timeout=BOUND)
        _wait_for(lambda: all(_gone(w) for w in workers), f"workers {workers} ended after their parent was killed")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert not out.exists()
    assert _temp_files(tmp_path, out.name) == temp       # left behind by the kill ...
    spilled = [p.name for p in temp_folder.iterdir()]
    assert [name.startswith(f"regcode-batch-{proc.pid}-") for name in spilled] == [True]   # and the chunk folder
    small = tmp_path / "small.jsonl"
    small.write_text(cases.splitlines()[0] + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "regcode.cli", "batch", str(small), "--out", str(out), "--jobs", "1"],
                   check=True, cwd=tmp_path, stderr=subprocess.DEVNULL, timeout=BOUND, env=env)
    assert _temp_files(tmp_path, out.name) == []          # ... and removed by the next run
    assert list(temp_folder.iterdir()) == []              # and the killed run's chunk folder
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1


FALLBACK = textwrap.dedent("""
    import ctypes, os, sys, time
    from regcode.engine import batch
    use_pipe = sys.argv[1] == "pipe"
    pipe = os.pipe() if use_pipe else None
    parent = os.getpid()
    child = os.fork()
    if child == 0:
        def no_prctl(*args, **kwargs):
            raise OSError("prctl is not available here")
        ctypes.CDLL = no_prctl            # as on a system without PR_SET_PDEATHSIG
        batch._die_with_parent(parent, pipe)
        while True:
            time.sleep(1)
    print(child, flush=True)
    time.sleep(600)
""")


@pytest.mark.parametrize("how", ["pipe", "pid"])
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_worker_without_pdeathsig_still_ends_with_its_parent(how):
    proc = subprocess.Popen([sys.executable, "-c", FALLBACK, how], stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())
        assert not _gone(child)
        time.sleep(0.2)
        assert not _gone(child), "the watcher must not end a worker whose parent lives"
        proc.kill()
        proc.wait(timeout=BOUND)
        _wait_for(lambda: _gone(child), f"the child {child} ended after its parent was killed")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()


def test_only_temp_files_of_our_naming_whose_owner_is_gone_are_removed(tmp_path):
    out = tmp_path / "out.jsonl"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".out.jsonl.{dead}.abc123.tmp"
    mine = tmp_path / f".out.jsonl.{os.getpid()}.abc123.tmp"
    alive = tmp_path / ".out.jsonl.1.abc123.tmp"             # pid 1 is alive
    foreign = tmp_path / ".out.jsonl.abcdefgh.tmp"             # the old naming, no pid: not ours to judge
    other = tmp_path / f".other.jsonl.{dead}.abc123.tmp"
    for path in (stale, mine, alive, foreign, other):
        path.write_text("x", encoding="utf-8")
    assert remove_stale_temp_files(out) == [stale.name]
    assert not stale.exists() and mine.exists() and alive.exists() and foreign.exists() and other.exists()
    with atomic_writer(out) as fh:
        fh.write("done\n")
    assert out.read_text(encoding="utf-8") == "done\n"


def test_the_stale_folder_cleanup_leaves_alone_what_is_not_a_dead_batchs_chunk_folder(tmp_path):
    from regcode.engine._files import remove_stale_spill_folders
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(dead.stdout)                                   # a process that has ended
    ours = tmp_path / f"regcode-batch-{pid}-abc123"
    ours.mkdir()
    (ours / "chunk-x1.jsonl").write_text("{}\n")
    odd = tmp_path / f"regcode-batch-{pid}-def456"            # the naming, but a sub-folder inside: not ours
    (odd / "sub").mkdir(parents=True)
    (odd / "chunk-y2.jsonl").write_text("{}\n")
    alive = tmp_path / f"regcode-batch-{os.getpid()}-ghi789"  # a live process's (this one's)
    alive.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / f"regcode-batch-{pid}-link00").symlink_to(target, target_is_directory=True)
    assert remove_stale_spill_folders(tmp_path) == [ours.name]
    assert not ours.exists()
    assert (odd / "chunk-y2.jsonl").exists() and alive.exists() and target.exists()
