"""The real `regcode serve` process on a free loopback port: HTTP requests, SIGHUP reload, and a clean stop."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from servekit import CASES, YAML

READY = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def start(tmp_path: Path, *args: str) -> tuple:
    """Start the server on port 0 (the kernel picks a free port; uvicorn prints it) and wait until it answers."""
    err = open(tmp_path / "stderr.txt", "w+", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "regcode.cli", "serve", "--host", "127.0.0.1", "--port", "0", *args],
                            stdout=subprocess.DEVNULL, stderr=err, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = READY.search((tmp_path / "stderr.txt").read_text(encoding="utf-8"))
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}", err
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start:\n" + (tmp_path / "stderr.txt").read_text(encoding="utf-8"))


def stop(proc, err) -> None:
    """SIGTERM, as a supervisor stops it (not SIGKILL: the server stops its workers), then kill what outlives
    a minute; the stderr file is closed either way."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        err.close()


def children(pid: int) -> list:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_the_server_process_answers_over_http_reloads_on_sighup_and_stops_cleanly(tmp_path):
    log = tmp_path / "decisions.log"
    proc, base, err = start(tmp_path, "--decision-log", str(log), "--workers", "2")
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/health").json()["status"] == "ok"
            workers = children(proc.pid)
            assert len(workers) == 2
            reply = http.post("/v1/evaluate", params={"explain": "none"}, content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
            assert reply.status_code == 200 and reply.json()["decisions"]["classification"] == "aa"
            bad = http.post("/v1/evaluate", content=b"{", headers={"Content-Type": "application/json"})
            assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
            assert json.loads(log.read_text(encoding="utf-8"))["decision_id"] == reply.json()["decision_id"]

            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 60
            while "reloaded" not in (tmp_path / "stderr.txt").read_text(encoding="utf-8") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "reloaded: 1 policy version serving: 1 unchanged" in (tmp_path / "stderr.txt").read_text(encoding="utf-8")
            assert http.get("/v1/policies").json()["policies"][0]["status"] == "unchanged"
            assert http.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML).status_code == 200
            assert set(children(proc.pid)).isdisjoint(workers)     # a new generation of workers
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so that the exit status says what ended it
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        text = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
        assert "Traceback" not in text and "Application shutdown complete" in text
        for pid in workers:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        err.close()


def test_a_policy_that_does_not_compile_stops_the_start_with_its_errors(tmp_path):
    folder = tmp_path / "policies" / "broken" / "1"
    folder.mkdir(parents=True)
    (folder / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: broken\nversion: '1'\ntitle: x\n"
                                        "source: {number: x, issuer: x, date: 2020-01-01}\neffective_from: 2020-01-01\nwhat: 1\n",
                                        encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "regcode.cli", "serve", "--port", "0", "--policy-root", str(tmp_path / "policies")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1
    assert "policy.yaml" in done.stderr and "not started" in done.stderr and "Traceback" not in done.stderr


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch):
    from click.testing import CliRunner

    from regcode.cli.main import regcode

    monkeypatch.setitem(sys.modules, "uvicorn", None)      # as if the `serve` extra were not installed
    result = CliRunner().invoke(regcode, ["serve"])
    assert result.exit_code == 1
    assert "needs the optional extra `serve`" in result.stderr and "pip install 'regcode[serve]'" in result.stderr
    assert "Traceback" not in result.output


def test_serve_on_a_port_in_use_is_one_clear_error():
    """uvicorn exits 3 when it cannot bind; regcode binds first and says what to do (exit 1)."""
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "regcode.cli", "serve", "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    finally:
        taken.close()
    assert done.returncode == 1, done.stderr
    assert "serve.listen" in done.stderr and f"127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_listening_socket_says_tcp_so_replies_are_not_held_back():
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a socket made with proto 0 made every
    reply on a kept-alive connection wait 40 ms (Nagle against delayed ACKs)."""
    import socket
    from regcode.cli.serve import _listen
    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP and sock.type == socket.SOCK_STREAM
    finally:
        sock.close()


DECISION_LOGS = [  # (what, the --decision-log value under tmp, the one paragraph expected)
    ("a folder that does not exist", "nonexistent/dir/x.log",
     "regcode serve: --decision-log: the folder '{tmp}/nonexistent/dir' does not exist; create it (mkdir -p {tmp}/nonexistent/dir) "
     "or name a file in a folder that exists (see regcode serve --help)"),
    ("a folder where the file goes", "logs", "regcode serve: --decision-log: '{tmp}/logs' is a folder; a file is wanted here "
     "(see regcode serve --help)"),
    ("a named pipe (its open waited for a reader forever)", "fifo",
     "regcode serve: --decision-log: {tmp}/fifo is a named pipe, not a file; the decision log is a regular file (or a device "
     "such as /dev/null) appended to, for `regcode replay`: name one (see regcode serve --help)"),
]


@pytest.mark.parametrize("value,paragraph", [d[1:] for d in DECISION_LOGS], ids=[d[0] for d in DECISION_LOGS])
def test_a_decision_log_that_cannot_be_written_is_a_usage_error_naming_the_option(tmp_path, monkeypatch, value, paragraph):
    from click.testing import CliRunner

    from regcode.cli.main import regcode

    (tmp_path / "logs").mkdir()
    os.mkfifo(tmp_path / "fifo")
    monkeypatch.setitem(sys.modules, "uvicorn", None)     # were the option let through, this stops the start (no server)
    result = CliRunner().invoke(regcode, ["serve", "--host", "127.0.0.1", "--port", "0", "--decision-log", str(tmp_path / value)])
    assert result.exit_code == 1
    assert result.stderr == paragraph.format(tmp=tmp_path) + "\n"


def test_a_fifo_made_the_decision_log_after_the_start_is_refused_not_waited_on(tmp_path):
    """The path reopened (after a logrotate) may name a FIFO by then: its open fails at once, never blocks."""
    from regcode.service.decisionlog import DecisionLog
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError):
        DecisionLog(tmp_path / "fifo")


# every number of serve bounded on both sides: NaN and the infinities passed click's ranges (`--timeout nan` exit 3,
# `--read-timeout nan` "within nan s"), `--timeout 1e10` started and answered every decision with a 500
NUMBERS = [  # (option, value, the range said)
    ("--timeout", "nan", "0.01<=x<=86400"), ("--timeout", "inf", "0.01<=x<=86400"), ("--timeout", "-inf", "0.01<=x<=86400"),
    ("--timeout", "1e10", "0.01<=x<=86400"), ("--read-timeout", "NaN", "0.01<=x<=86400"),
    ("--read-timeout", "infinity", "0.01<=x<=86400"), ("--read-timeout", "1e300", "0.01<=x<=86400"),
    ("--workers", "100000", "1<=x<=256"), ("--decision-log-keep", "99999999999999", "0<=x<=1000"),
    ("--decision-log-max-bytes", str(1 << 50), "1024<=x<=1099511627776"), ("--max-body-bytes", str(1 << 40), "1<=x<=1073741824"),
    ("--max-batch", "10000000000", "1<=x<=1000000"), ("--max-waiting", "10000000000", "0<=x<=1000000"),
]


@pytest.mark.parametrize("option,value,bounds", NUMBERS, ids=[f"{n[0]} {n[1]}" for n in NUMBERS])
def test_a_number_option_past_its_range_is_a_usage_error_naming_it(monkeypatch, option, value, bounds):
    from click.testing import CliRunner

    from regcode.cli.main import regcode

    monkeypatch.setitem(sys.modules, "uvicorn", None)     # were the value let through, this stops the start (no server)
    result = CliRunner().invoke(regcode, ["serve", "--host", "127.0.0.1", "--port", "0", option, value])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"regcode serve: {option}: ") and bounds in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("option,value", [("--timeout", "86400"), ("--read-timeout", "0.01"), ("--decision-log-keep", "1000")])
def test_a_number_option_at_its_bound_is_taken(monkeypatch, option, value):
    from click.testing import CliRunner

    from regcode.cli.main import regcode

    monkeypatch.setitem(sys.modules, "uvicorn", None)     # taken: the start goes on, to the missing extra
    result = CliRunner().invoke(regcode, ["serve", "--host", "127.0.0.1", "--port", "0", option, value])
    assert result.exit_code == 1 and "needs the optional extra `serve`" in result.stderr, result.output


def wait_for(path: Path, text: str, seconds: float = 60) -> str:
    """The file's text once it holds `text` (a bounded wait: at most `seconds`)."""
    deadline = time.monotonic() + seconds
    while text not in path.read_text(encoding="utf-8") and time.monotonic() < deadline:
        time.sleep(0.1)
    return path.read_text(encoding="utf-8")


def test_sighup_after_logrotate_moved_the_log_reopens_it_at_its_path(tmp_path):
    """logrotate without copytruncate: move the log, then SIGHUP (its postrotate). The log is at its path again
    before the next decision, and that decision goes there, not to the moved file."""
    log, moved = tmp_path / "decisions.log", tmp_path / "decisions.log.1"
    proc, base, err = start(tmp_path, "--decision-log", str(log), "--workers", "1")
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            first = http.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
            log.rename(moved)
            os.kill(proc.pid, signal.SIGHUP)
            text = wait_for(tmp_path / "stderr.txt", "reloaded")
            assert f"decision log {log} reopened" in text and log.exists() and log.read_bytes() == b""
            second = http.post("/v1/evaluate", content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
        assert first.status_code == second.status_code == 200
        assert json.loads(moved.read_text(encoding="utf-8"))["decision_id"] == first.json()["decision_id"]
        assert json.loads(log.read_text(encoding="utf-8"))["decision_id"] == second.json()["decision_id"]
    finally:
        stop(proc, err)


def test_workers_of_a_server_killed_outright_end_and_let_its_port_go(tmp_path):
    """SIGKILL (the OOM killer) gives the server no time to stop its workers, and each inherited the server's end
    of its own pipe, so none sees it close: a worker looks for its server while idle and ends when it is gone,
    so that no orphan keeps evaluating nothing or holds the listening socket a restart needs (bounded: 20 s)."""
    import socket
    proc, base, err = start(tmp_path, "--workers", "2")
    workers: list = []
    try:
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:     # (forked as the server starts serving)
            workers = children(proc.pid)
            time.sleep(0.1)
        assert len(workers) == 2, workers
        proc.kill()
        proc.wait(timeout=30)
        port = int(base.rsplit(":", 1)[1])
        deadline = time.monotonic() + 20
        alive = workers
        while time.monotonic() < deadline:
            alive = [p for p in workers if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()]
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, f"workers {alive} outlived their server"
        with socket.socket() as again:      # the port is free for a new server
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
    finally:
        proc.kill()
        for pid in workers:     # (orphans of a failed run are not left behind)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        err.close()
