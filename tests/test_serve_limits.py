"""The service's bounds: the time limit per request (a worker past it is killed and replaced), a crashed worker,
a bug in a worker, and a full queue. Slow and crashing workers are made by wrapping the real handler."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from regcode.service import decide

from conftest import generator
from servekit import CASES, JSONL, YAML, serving
from regcode.engine import dump_json

real_handle = decide.handle
BODY = (CASES / "aa-clean.yaml").read_bytes()


def handler_with(trigger: bytes, action):
    def handle(state, ask):
        if trigger in ask.body:
            action(ask)
        yield from real_handle(state, ask)
    return handle


def samples(client) -> dict:
    text = client.get("/metrics").text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line and not line.startswith("#")}


def test_a_request_past_the_time_limit_is_a_422_and_its_worker_is_replaced(monkeypatch):
    monkeypatch.setattr(decide, "handle", handler_with(b"# stuck", lambda ask: time.sleep(120)))
    with serving(workers=1, timeout=1.0) as c:
        started = time.monotonic()
        reply = c.post("/v1/evaluate", content=BODY + b"\n# stuck\n", headers=YAML)
        assert time.monotonic() - started < 60            # the worker was stopped, not waited for
        assert reply.status_code == 422 and reply.json()["errors"][0]["code"] == "eval.timeout"
        assert "time limit of 1 s" in reply.json()["errors"][0]["message"]
        assert c.post("/v1/evaluate", content=BODY, headers=YAML).status_code == 200   # a new worker serves
        assert samples(c)['regcode_worker_restarts_total{reason="time_limit"}'] == 1
        assert c.get("/health").json()["workers"] == 1


def _after_two_cases(then):
    """The worker's handler, doing `then()` (a hang, a kill) once two cases of a batch are decided."""
    def handle(state, ask):
        done = 0
        for message in real_handle(state, ask):
            yield message
            done += message[0] == "ok"
            if done == 2:
                then()
    return handle


def test_a_batch_cut_by_the_time_limit_keeps_what_was_decided_and_names_the_rest(monkeypatch):
    monkeypatch.setattr(decide, "handle", _after_two_cases(lambda: time.sleep(120)))
    cases = list(generator.generate(5, seed=5))
    with serving(workers=1, timeout=1.0) as c:
        reply = c.post("/v1/evaluate/batch", params={"explain": "none"}, content="\n".join(map(dump_json, cases)).encode(), headers=JSONL)
        assert reply.status_code == 200
        body = reply.json()
        assert (body["read"], body["evaluated"], body["failed"]) == (5, 2, 3)
        assert [r["enterprise"]["credit_code"] for r in body["results"][:2]] == [c["enterprise"]["credit_code"] for c in cases[:2]]
        assert [r["errors"][0]["code"] for r in body["results"][2:]] == ["eval.timeout"] * 3
        assert [(r["source"], r["line"]) for r in body["results"][2:]] == [("<request>:3", 3), ("<request>:4", 4), ("<request>:5", 5)]
        assert body["results"][2]["errors"][0]["location"]["file"] == "<request>:3"


def test_a_worker_that_crashes_fails_one_request_plainly_and_is_replaced(monkeypatch):
    monkeypatch.setattr(decide, "handle", handler_with(b"# crash", lambda ask: os._exit(3)))
    with serving(workers=1) as c:
        reply = c.post("/v1/evaluate", content=BODY + b"\n# crash\n", headers=YAML)
        assert reply.status_code == 500 and reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["errors"][0]["code"] == "internal.worker" and "exit code 3" in problem["errors"][0]["message"]
        assert "Traceback" not in reply.text
        assert c.post("/v1/evaluate", content=BODY, headers=YAML).status_code == 200
        assert samples(c)['regcode_worker_restarts_total{reason="died"}'] == 1


def gone(pid: int) -> None:
    """Wait until a killed worker has exited (a zombie, its pipe closed by the kernel), without reaping it."""
    for _ in range(600):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} did not end")


def test_a_worker_killed_while_idle_is_replaced_before_any_request_reaches_it():
    with serving(workers=2) as c:
        pool = c.app.state.service.pool
        victim = pool.current.workers[0].process.pid
        os.kill(victim, signal.SIGKILL)
        gone(victim)
        replies = [c.post("/v1/evaluate", content=BODY, headers=YAML) for _ in range(4)]
        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        assert victim not in [w.process.pid for w in pool.current.workers]
        assert samples(c)['regcode_worker_restarts_total{reason="died"}'] == 1
        assert c.get("/health").json()["workers"] == 2


def test_a_request_sent_to_a_worker_already_gone_runs_on_another(monkeypatch):
    """The liveness check can lose a race with a kill: the send then fails, the worker never had the request,
    and the request runs on a fresh worker instead of failing."""
    from regcode.service import workers
    monkeypatch.setattr(workers.Worker, "alive", lambda self: True)     # the check before dispatch sees no death
    with serving(workers=1) as c:
        pool = c.app.state.service.pool
        victim = pool.current.workers[0].process.pid
        os.kill(victim, signal.SIGKILL)
        gone(victim)
        reply = c.post("/v1/evaluate", content=BODY, headers=YAML)
        assert reply.status_code == 200, reply.text
        assert pool.current.workers[0].process.pid != victim
        assert samples(c)['regcode_worker_restarts_total{reason="died"}'] == 1


def test_a_worker_killed_while_evaluating_is_a_503_that_may_be_retried_not_a_bug(monkeypatch):
    monkeypatch.setattr(decide, "handle", handler_with(b"# oom", lambda ask: os.kill(os.getpid(), signal.SIGKILL)))
    with serving(workers=1) as c:
        reply = c.post("/v1/evaluate", content=BODY + b"\n# oom\n", headers=YAML)
        assert reply.status_code == 503 and reply.headers["retry-after"] == "1"
        assert reply.headers["content-type"] == "application/problem+json"
        (issue,) = reply.json()["errors"]
        assert issue["code"] == "service.worker_killed" and "killed by signal 9 (SIGKILL)" in issue["message"]
        assert "bug" not in reply.text and "may be sent again" in issue["hint"]
        assert c.post("/v1/evaluate", content=BODY, headers=YAML).status_code == 200   # a new worker serves
        batch = c.post("/v1/evaluate/batch", content=b'{"as_of": "2019-06-30"}\n# oom\n', headers=JSONL)
        assert batch.status_code == 503 and batch.json()["errors"][0]["code"] == "service.worker_killed"
        assert samples(c)['regcode_worker_restarts_total{reason="died"}'] == 2


def test_a_batch_cut_by_a_killed_worker_keeps_what_was_decided_and_names_the_rest(monkeypatch):
    monkeypatch.setattr(decide, "handle", _after_two_cases(lambda: os.kill(os.getpid(), signal.SIGKILL)))
    cases = list(generator.generate(4, seed=5))
    with serving(workers=1) as c:
        reply = c.post("/v1/evaluate/batch", params={"explain": "none"}, content="\n".join(map(dump_json, cases)).encode(), headers=JSONL)
        assert reply.status_code == 200
        body = reply.json()
        assert (body["read"], body["evaluated"], body["failed"]) == (4, 2, 2)
        assert [r["errors"][0]["code"] for r in body["results"][2:]] == ["service.worker_killed"] * 2
        assert "killed by signal 9" in body["results"][2]["errors"][0]["message"]


def test_a_bug_in_a_worker_is_a_500_problem_and_the_worker_serves_on(monkeypatch):
    def boom(ask):
        raise KeyError("boom")
    monkeypatch.setattr(decide, "handle", handler_with(b"# bug", boom))
    with serving(workers=1) as c:
        pid = c.app.state.service.pool.current.workers[0].process.pid
        reply = c.post("/v1/evaluate", content=BODY + b"\n# bug\n", headers=YAML)
        assert reply.status_code == 500 and "KeyError" in reply.json()["errors"][0]["message"] and "Traceback" not in reply.text
        assert c.post("/v1/evaluate", content=BODY, headers=YAML).status_code == 200
        assert c.app.state.service.pool.current.workers[0].process.pid == pid


def test_when_every_worker_is_busy_and_the_queue_is_full_the_answer_is_429(monkeypatch, tmp_path):
    gate = tmp_path / "open"

    def wait_for_gate(ask):
        for _ in range(600):
            if gate.exists():
                return
            time.sleep(0.05)
    monkeypatch.setattr(decide, "handle", handler_with(b"# gate", wait_for_gate))
    with serving(workers=1, max_waiting=0, timeout=60) as c:
        first = {}
        thread = threading.Thread(target=lambda: first.setdefault("reply", c.post("/v1/evaluate", content=BODY + b"\n# gate\n", headers=YAML)))
        thread.start()
        worker = c.app.state.service.pool.current.workers[0]
        for _ in range(600):
            if worker.busy:
                break
            time.sleep(0.05)
        assert worker.busy
        busy = c.post("/v1/evaluate", content=BODY, headers=YAML)
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        assert busy.json()["errors"][0]["code"] == "service.busy"
        assert busy.json()["errors"][0]["message"] == "no worker was free: at most 0 requests wait for one, for at most 60 s"
        gate.touch()
        thread.join(timeout=60)
        assert first["reply"].status_code == 200


@pytest.mark.parametrize("waiting, said", [(0, "at most 0 requests wait"), (1, "at most 1 request waits"),
                                            (2, "at most 2 requests wait")])
def test_the_429_says_how_many_requests_may_wait_in_agreement(waiting, said):
    from regcode.service.app import busy_issue
    assert busy_issue(waiting, 10.0, "/v1/evaluate").message == f"no worker was free: {said} for one, for at most 10 s"


@pytest.mark.parametrize("size", [1, 3])
def test_the_pool_has_the_workers_asked_for(size):
    with serving(workers=size) as c:
        assert c.get("/health").json()["workers"] == size
