"""A pool of forked worker processes that evaluate requests, each under a time limit that kills a worker past it."""
from __future__ import annotations

# Why processes, and why fork:
# - Evaluation is CPU-bound Python: threads would share one core through the GIL, and a thread that runs
#   past its time limit cannot be stopped. A worker process can be killed (SIGKILL) and replaced.
# - A crash in a C extension (durable-rules' core) ends one worker and fails one request, not the server.
# - Workers are forked from the server after it has compiled the policies, so they inherit the compiled
#   versions (compiled code is not picklable) and a reload needs no file to stay as it was: a version
#   whose files broke keeps its last good compile, carried into the new workers by the fork.
#   Forking happens on the event-loop thread; a child touches nothing but its pipe and the engine, and
#   resets the signal handling it inherited from the server.

import asyncio
import logging
import multiprocessing
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import anyio

log = logging.getLogger("regcode.serve")


class Busy(Exception):
    """Every worker is taken and the queue of waiting requests is full (or waited too long)."""


class TimedOut(Exception):
    """The worker did not finish within the time limit; it was killed. `items` holds what it had sent."""

    def __init__(self, items: list):
        super().__init__("time limit")
        self.items = items


class WorkerDied(Exception):
    """The worker ended without answering (a crash, or a kill from outside), or raised an exception that is a bug of ours."""

    def __init__(self, items: list, reason: str, crashed: bool, taken: bool = True, killed: bool = False):
        super().__init__(reason)
        self.items = items
        self.reason = reason
        self.crashed = crashed   # the process is gone (else it raised, and serves on)
        self.taken = taken       # False: it was gone before it got the request, which another worker may run
        self.killed = killed     # ended by a signal from outside (kill, the OOM killer), not by a crash of its own


# A worker ended by one of these crashed on its own (a fault in a C extension, an abort): a bug of ours. Any other
# signal came from outside the worker: `kill`, or the kernel's OOM killer (SIGKILL), which says nothing of regcode.
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT, signal.SIGSYS, signal.SIGTRAP}


def _ending(exitcode: Optional[int]) -> tuple:
    """(how a worker process ended, in words; whether a signal from outside ended it) from its exit code."""
    if exitcode is None:
        return "the worker process ended", False
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "an unknown signal"
        return f"the worker process was killed by signal {-exitcode} ({name})", -exitcode not in _CRASH_SIGNALS
    return f"the worker process ended (exit code {exitcode})", False


ORPHAN_CHECK_S = 1.0     # how often an idle worker looks whether its server is still there


def _child(conn, handler: Callable, state: Any) -> None:
    # Inherited from the server: its signal wake-up pipe (a signal here would wake the server's loop) and
    # its handlers. The server stops its workers itself; Ctrl-C on the terminal must not hit them first.
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    server = os.getppid()
    while True:
        try:
            if not conn.poll(ORPHAN_CHECK_S):
                # A server killed outright (SIGKILL, the OOM killer) never closes this pipe: its end was inherited
                # here too. Reparented, the worker ends, and the listening socket it inherited is let go with it.
                if os.getppid() != server:
                    return
                continue
            ask = conn.recv()
        except (EOFError, OSError):   # the server went away
            return
        if ask is None:
            return
        try:
            for message in handler(state, ask):
                conn.send(("item", message))
            conn.send(("end", None))
        except Exception as exc:   # a bug of ours: say so and go on serving
            conn.send(("bug", f"{type(exc).__name__}: {exc}"))


@dataclass(eq=False)
class Worker:
    process: Any
    conn: Any
    generation: int
    busy: bool = False

    def exchange(self, ask: Any, deadline: float) -> list:
        """Send one request and collect its messages until the end, the deadline, or the worker's death (blocking)."""
        items: list = []
        try:
            self.conn.send(ask)
        except (OSError, ValueError):   # its end of the pipe is closed: it was gone before the request was sent
            raise self._died(items, taken=False) from None
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self.conn.poll(left):
                    raise TimedOut(items)
                kind, value = self.conn.recv()
                if kind == "end":
                    return items
                if kind == "bug":
                    raise WorkerDied(items, value, crashed=False)
                items.append(value)
        except (EOFError, OSError):
            raise self._died(items, taken=True) from None

    def _died(self, items: list, taken: bool) -> WorkerDied:
        self.process.join(0.5)
        reason, killed = _ending(self.process.exitcode)
        return WorkerDied(items, reason, crashed=True, taken=taken, killed=killed)

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self, kill: bool = False) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()

    def reap(self, timeout: float = 2.0) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)


@dataclass
class Generation:
    number: int
    state: Any
    idle: asyncio.Queue = field(default_factory=asyncio.Queue)
    workers: list = field(default_factory=list)


class Pool:
    """`size` workers, each holding `state`; `run(ask)` evaluates on one of them within `timeout` seconds.

    At most `max_waiting` requests wait for a free worker (the rest get Busy at once), and none waits longer
    than `timeout`. `swap(state)` starts a new generation of workers; the old ones finish what they run, then stop.
    """

    def __init__(self, handler: Callable, state: Any, size: int, timeout: float, max_waiting: int):
        self.handler = handler
        self.size = max(1, int(size))
        self.timeout = float(timeout)
        self.max_waiting = max(0, int(max_waiting))
        self.waiting = 0
        self.closed = False
        self._number = 0
        self._pending_state = state
        self.current: Optional[Generation] = None
        self._context = multiprocessing.get_context("fork")
        self.killed = 0     # workers killed at the time limit (for /metrics)
        self.died = 0       # workers that ended on their own

    # -- life cycle (call on the event-loop thread) ------------------------------------------------
    def start(self) -> None:
        self.current = self._generation(self._pending_state)

    def swap(self, state: Any) -> None:
        old, self.current = self.current, self._generation(state)
        if old is not None:
            self._retire(old)

    def close(self) -> None:
        self.closed = True
        if self.current is not None:
            self._retire(self.current)
            for worker in self.current.workers:
                if worker.busy:
                    worker.stop(kill=True)
                worker.reap()
        self.current = None

    def alive(self) -> int:
        return sum(1 for w in (self.current.workers if self.current else ()) if w.alive())

    def _generation(self, state: Any) -> Generation:
        self._number += 1
        gen = Generation(self._number, state)
        for _ in range(self.size):
            self._add(gen)
        return gen

    def _add(self, gen: Generation) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_child, args=(child, self.handler, gen.state), daemon=True,
                                        name=f"regcode-serve-worker-{gen.number}")
        with warnings.catch_warnings():
            # Python 3.12 warns on fork in a threaded process; the child runs only _child (see the module docstring)
            warnings.simplefilter("ignore", DeprecationWarning)
            process.start()
        child.close()
        worker = Worker(process, parent, gen.number)
        gen.workers.append(worker)
        gen.idle.put_nowait(worker)

    def _retire(self, gen: Generation) -> None:
        while not gen.idle.empty():
            worker = gen.idle.get_nowait()
            if worker is None:
                continue
            worker.stop()
            gen.workers.remove(worker)
            _reap_later(worker)
        for _ in range(self.waiting):   # wake whoever waits on this generation, to wait on the current one
            gen.idle.put_nowait(None)

    # -- requests ---------------------------------------------------------------------------------
    async def run(self, ask: Any) -> list:
        """The messages of one request. Raises Busy, TimedOut or WorkerDied.

        A worker found dead (killed while idle) is replaced before it is given the request; one that turns out to
        have been gone when the request was sent did not take it, and the request runs once more on another."""
        give_up = time.monotonic() + self.timeout
        for attempt in (1, 2):
            gen, worker = await self._take(give_up, admit=attempt == 1)
            worker.busy = True
            deadline = time.monotonic() + self.timeout
            try:
                return await self._exchange(gen, worker, ask, deadline)
            except WorkerDied as exc:
                if exc.taken or attempt == 2:
                    raise
                log.warning("%s before it was sent a request; sending it to another worker", exc.reason)
        raise AssertionError("unreachable")   # pragma: no cover

    async def _take(self, give_up: float, admit: bool) -> tuple:
        """A live idle worker of the current generation and that generation; waits until `give_up` at most."""
        if self.current is None or self.closed:
            raise Busy()
        gen = self.current
        if admit and self.waiting >= self.max_waiting and gen.idle.empty():
            raise Busy()
        self.waiting += 1
        found_dead = 0
        try:
            while True:
                try:
                    worker = await asyncio.wait_for(gen.idle.get(), max(0.0, give_up - time.monotonic()))
                except asyncio.TimeoutError:
                    raise Busy() from None
                if worker is None:   # the generation was retired while we waited
                    if self.current is None or self.closed:
                        raise Busy()
                    gen = self.current
                    continue
                if worker.alive():
                    return gen, worker
                # Killed while idle (kill -9, the OOM killer): replaced, and never given a request. Its replacement
                # joins the idle queue; a pool whose new workers keep dying is not waited on for ever.
                reason, _ = _ending(worker.process.exitcode)
                log.warning("%s while idle; replacing it", reason)
                self.died += 1
                worker.stop(kill=True)
                self._replace(gen, worker)
                found_dead += 1
                if found_dead > self.size:
                    raise WorkerDied([], f"{reason}; every worker started since ended too", crashed=True, taken=False)
        finally:
            self.waiting -= 1

    async def _exchange(self, gen: Generation, worker: Worker, ask: Any, deadline: float) -> list:
        try:
            items = await anyio.to_thread.run_sync(worker.exchange, ask, deadline)
        except TimedOut:
            self.killed += 1
            worker.stop(kill=True)
            self._replace(gen, worker)
            raise
        except WorkerDied as exc:
            if exc.crashed:
                self.died += 1
                worker.stop(kill=True)
                self._replace(gen, worker)
            else:
                self._release(gen, worker)
            raise
        except BaseException:   # cancelled mid-exchange: the worker's pipe is in an unknown state
            worker.stop(kill=True)
            self._replace(gen, worker)
            raise
        self._release(gen, worker)
        return items

    def _release(self, gen: Generation, worker: Worker) -> None:
        worker.busy = False
        if gen is self.current and not self.closed:
            gen.idle.put_nowait(worker)
        else:   # its generation was replaced while it worked
            worker.stop()
            if worker in gen.workers:
                gen.workers.remove(worker)
            _reap_later(worker)

    def _replace(self, gen: Generation, worker: Worker) -> None:
        if worker in gen.workers:
            gen.workers.remove(worker)
        _reap_later(worker)
        if gen is self.current and not self.closed:
            self._add(gen)
            log.warning("replaced a worker process (%s killed at the time limit, %s died so far)",
                        self.killed, self.died)


def _reap_later(worker: Worker) -> None:
    """Join a stopped worker without blocking the event loop (a zombie otherwise)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        worker.reap()
        return
    loop.run_in_executor(None, worker.reap)


def default_size() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
