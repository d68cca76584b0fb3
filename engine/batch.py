"""Batch evaluation: stream case records (JSONL, a folder, stdin) through a policy, in order, on N worker processes.

    records = read_records("cases.jsonl")
    with Runner(Job(catalog_factory, evaluate, reduce), jobs=2) as runner:
        for outcome in runner.outcomes(records):
            ...

Memory stays flat: records are read lazily, at most `jobs * WINDOW` chunks are in flight, and a
worker returns small results (an already serialised line, a few summary fields). Each worker builds
its own Catalog; the policy is compiled (and its durable rulesets built) at the first case a worker
sees, then cached, never per case. The parent builds nothing durable before it forks.

With worker processes and a JSONL file, no record crosses a pipe: the parent only cuts the file into
spans of whole lines (corpus.jsonl_spans: finding line ends at C speed), each worker reads and parses its
own spans and writes their output lines to a file, and the parent has the kernel copy those files into
the output in input order (sendfile). Its share of the two cores was about 0.45 s of CPU on 20,000
cases (reading, pickling, copying 130 MB); it is now its start-up and little else.
"""
from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from ._files import remove_stale_spill_folders, remove_stale_temp_files, spill_prefix, temp_prefix, umask as _umask
from .errors import InputError, Issue, Location, PolicyError
from .corpus import Record, Span, cannot_read, parse_record, span_records
from ._json import dumpb
from .load import Document, dump_json
from .reports import reports_for

CHUNK = 64          # records per task sent to a worker
WINDOW = 4          # chunks in flight per worker: enough to keep workers busy, few enough to keep memory flat


# ---- processes ----------------------------------------------------------------------------
def default_jobs() -> int:
    """The cores this process may use (affinity-aware; os.cpu_count() elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---- workers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What every worker does with a record. All three must be picklable (module-level functions, partials).

    - `catalog_factory()` -> Catalog, called once per worker;
    - `evaluate(cat, doc)` -> the `eval --format json` object of one case;
    - `reduce(case, result, cat)` -> what travels back to the parent for a good record (a line, summary
      fields); `cat` is the worker's Catalog, to read the declarations of the result's policy version.
    """

    catalog_factory: Callable[[], Any]
    evaluate: Callable[[Any, Document], dict]
    reduce: Callable[[dict, dict, Any], Any]
    # `reduce` returns (output line, summary): with worker processes, each worker writes its chunk's lines to a
    # file of its own and only the summaries travel back (the lines are most of the bytes: 7 KB a case with
    # the why); the parent copies the chunk files into the output in input order.
    spill: bool = False
    # `recheck(cat, error)` -> the error to report, for a record refused for value-level problems only but still
    # read (InputError.partial, engine/case.py also_wrong): its other problems said beside them, never evaluated
    recheck: Optional[Callable[[Any, InputError], InputError]] = None
    # `error_row(outcome)` -> the output's bytes for a bad record (a table's row: engine/table.py), written at its
    # place among the good ones; without it a bad record goes to the errors file (or stderr) alone
    error_row: Optional[Callable[["Outcome"], bytes]] = None


@dataclass
class Outcome:
    """The result of one record: `value` (what `reduce` returned) or `errors` (issue dicts)."""

    source: str
    line: Optional[int]
    value: Any = None
    errors: Optional[list] = None
    identity: Optional[dict] = None    # a bad record's identity (policy `identity:`), when it got far enough

    @property
    def ok(self) -> bool:
        return self.errors is None

    def error_line(self) -> str:
        """The errors file's JSON line for a bad record."""
        return dump_json({**(self.identity or {}), "source": self.source, "line": self.line, "errors": self.errors})


_worker: dict = {}
PR_SET_PDEATHSIG = 1     # linux/prctl.h


def _die_with_parent(parent: int, pipe: Optional[tuple]) -> None:
    """A worker must not outlive its parent (a SIGKILLed batch left both workers running):
    PR_SET_PDEATHSIG on Linux has the kernel send SIGTERM when the parent dies; as a fallback
    (other systems, or prctl refused) a thread waits for end-of-file on a pipe only the parent
    holds open, or, with no pipe (spawned workers), watches the parent's pid."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):   # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:          # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        if pipe is not None:
            try:
                os.read(pipe[0], 1)     # blocks until every write end is closed: the parent is gone
            except OSError:
                pass
        else:
            while os.getppid() == parent:
                time.sleep(0.5)
        os._exit(1)

    if pipe is not None:
        try:
            os.close(pipe[1])           # the worker's inherited copy of the write end, else EOF never comes
        except OSError:
            pipe = None
    threading.Thread(target=watch, name="regcode-parent-watch", daemon=True).start()


def _start_worker(job: Job, pool_worker: bool, parent: Optional[int] = None, pipe: Optional[tuple] = None) -> None:
    if pool_worker:
        # Ctrl-C reaches the whole process group: the parent alone handles it (and stops the workers)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)   # whatever the parent set, SIGTERM ends a worker
        if parent is not None:
            _die_with_parent(parent, pipe)
    _worker["job"] = job
    _worker["catalog"] = job.catalog_factory()


def _evaluate_one(record: Record) -> Outcome:
    job, cat = _worker["job"], _worker["catalog"]
    try:
        try:
            doc = parse_record(record)
        except InputError as exc:
            if job.recheck is None or getattr(exc, "partial", None) is None:
                raise
            raise job.recheck(cat, exc) from None
        return Outcome(record.source, record.line, value=job.reduce(doc.data, job.evaluate(cat, doc), cat))
    except PolicyError as exc:
        return Outcome(record.source, record.line, errors=[i.as_dict() for i in exc.issues], identity=exc.identity or None)
    except RecursionError as exc:
        issue = Issue("input.too_deep", f"the case file is nested too deeply: {exc}", Location(record.source), "flatten it")
        return Outcome(record.source, record.line, errors=[issue.as_dict()])
    except UnicodeEncodeError as exc:   # its output line cannot be UTF-8: input checks make it unreachable; if not, one record
        return unwritable(Outcome(record.source, record.line), exc)
    except Exception as exc:  # a bug of ours on one record: the others still finish, and it is reported plainly
        issue = Issue("internal.error", f"{type(exc).__name__}: {exc}", Location(record.source),
                      "this is a bug in regcode, not in the case file; report it with the record")
        return Outcome(record.source, record.line, errors=[issue.as_dict()])


def _evaluate_chunk(chunk: list, spill_dir: Optional[str] = None) -> tuple:
    """(the file holding the chunk's output lines, the counts of its good records, its bad records), or
    without `spill_dir` (None, None, every outcome in order)."""
    if spill_dir is None:
        return None, None, [_evaluate_one(record) for record in chunk]
    return _spill(map(_evaluate_one, chunk), spill_dir, _worker["job"].error_row)


def _evaluate_span(span: Span, name: str, spill_dir: str) -> tuple:
    """What _evaluate_chunk returns, for the records of a span of a JSONL file that this worker reads itself
    (the parent only cut the file at line ends), or (None, None, [], (kind, issues)) when the batch cannot go
    on: the file changed or cannot be read (kind "input"), or the chunk file cannot be written ("output").
    The worker keeps the file open from one span to the next."""
    try:
        held = _worker.get("span_file")
        if held is None or held[0] != span.path:
            if held is not None:
                held[1].close()
            _worker.pop("span_file", None)
            held = _worker["span_file"] = (span.path, open(span.path, "rb"))
    except OSError as exc:             # gone before this worker opened it
        return None, None, [], ("input", cannot_read(name, exc).issues)
    try:
        return _spill(map(_evaluate_one, span_records(span, name, held[1])), spill_dir, _worker["job"].error_row)
    except InputError as exc:
        return None, None, [], ("input", list(exc.issues))
    except _SpillFailed as exc:
        return None, None, [], ("output", [Issue(
            "output.io", f"cannot write the batch's chunk files in {spill_dir}: {exc.error.strerror or exc.error}",
            Location(spill_dir), "free space in the temp folder, or set TMPDIR to a folder that has it")])


class _SpillFailed(Exception):
    """A chunk file could not be written (the temp folder is full, say): not the records' fault."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def _spill(outcomes: Iterable["Outcome"], spill_dir: str, error_row: Optional[Callable] = None) -> tuple:
    """The good outcomes' lines written to a new file in `spill_dir` as they come, and with `error_row` (Job) each
    bad one's row at its place: (its path, the good ones' counts, the bad outcomes in order). _SpillFailed when the
    file cannot be written; what reading the outcomes raises passes through. Either way the file is removed."""
    try:
        fd, path = tempfile.mkstemp(prefix="chunk-", suffix=".jsonl", dir=spill_dir)
    except OSError as exc:
        raise _SpillFailed(exc) from None
    counts, bad = Tally(), []
    out = os.fdopen(fd, "wb")
    try:
        for outcome in outcomes:
            data = None
            if outcome.ok:
                line, summary, noted = outcome.value
                try:
                    data = line + b"\n" if isinstance(line, bytes) else (line + "\n").encode("utf-8")
                except UnicodeEncodeError as exc:   # input checks make this unreachable; if not, one record is lost, not the batch
                    outcome = unwritable(outcome, exc)
            if not outcome.ok:
                bad.append(outcome)
                if error_row is None:
                    continue
                data = error_row(outcome) + b"\n"
            try:
                out.write(data)
            except OSError as exc:
                raise _SpillFailed(exc) from None
            if outcome.ok:
                counts.add(outcome, summary, noted)
        try:
            out.close()
        except OSError as exc:
            raise _SpillFailed(exc) from None
    except BaseException:
        _close_quietly(out)
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return path, counts, bad


def unwritable(outcome: "Outcome", exc: Exception) -> "Outcome":
    """A result that cannot be written as UTF-8 becomes a bad record (a bug of ours, reported as such)."""
    issue = Issue("internal.output", f"the result cannot be written as UTF-8 ({exc.reason}); the record is reported "
                  "instead of stopping the batch", Location(outcome.source), "this is a bug in regcode; report it with the record")
    return Outcome(outcome.source, outcome.line, errors=[issue.as_dict()])


def _chunks(records: Iterable[Record], size: int) -> Iterator[list]:
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _context():
    # fork: workers start at once and inherit the imported modules; the parent has built nothing durable
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class WorkerDied(RuntimeError):
    """A worker process ended without answering (killed, out of memory, a crash in durable-rules' C core)."""


class Runner:
    """Evaluates records in order: in this process for jobs=1, else on `jobs` worker processes.

    A ProcessPoolExecutor rather than multiprocessing.Pool: when a worker dies, Pool waits forever
    for the lost task, the executor raises BrokenProcessPool at once.
    """

    def __init__(self, job: Job, jobs: int = 1, chunk: int = CHUNK):
        self.job = job
        self.jobs = max(1, int(jobs))
        self.chunk = max(1, int(chunk))
        self.pool = None
        self.pipe: Optional[tuple] = None
        self.spill_dir: Optional[str] = None

    def __enter__(self) -> "Runner":
        if self.job.spill:
            remove_stale_spill_folders(tempfile.gettempdir())     # what a killed batch left, whatever the jobs now
        if self.jobs == 1:
            _start_worker(self.job, pool_worker=False)
        else:
            if self.job.spill:
                self.spill_dir = tempfile.mkdtemp(prefix=spill_prefix())
            context = _context()
            # forked workers inherit this pipe; the parent alone keeps its write end (see _die_with_parent)
            self.pipe = os.pipe() if context.get_start_method() == "fork" else None
            self.pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_start_worker,
                                            initargs=(self.job, True, os.getpid(), self.pipe))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.pool is not None:
            # on an error or Ctrl-C: drop the queued chunks; the running ones (a few dozen cases) finish
            self.pool.shutdown(wait=True, cancel_futures=exc_type is not None)
            self.pool = None
        for fd in self.pipe or ():
            os.close(fd)
        self.pipe = None
        if self.spill_dir is not None:
            shutil.rmtree(self.spill_dir, ignore_errors=True)
            self.spill_dir = None
        _worker.clear()

    @property
    def parallel(self) -> bool:
        """Worker processes evaluate (jobs > 1), rather than this process."""
        return self.pool is not None

    def outcomes(self, records: Iterable[Record]) -> Iterator[Outcome]:
        """One Outcome per record, in input order."""
        for _counts, outcomes in self.results(records):
            yield from outcomes

    def results(self, records: Iterable[Record], sink=None) -> Iterator[tuple]:
        """Per chunk of records, in input order: (None, its outcomes); or, with a spilling job, worker processes
        and a `sink` (a text stream), (the counts of its good records, its bad records), its output lines
        already copied into `sink` by then: a good record does not cross the pipe at all."""
        if self.pool is None:
            for chunk in _chunks(records, self.chunk):
                yield None, _evaluate_chunk(chunk)[2]
            return
        spill = self.spill_dir if sink is not None else None
        # An explicit window of ordered futures (rather than an imap, whose feeder reads the input as
        # fast as it can): bounded memory, and results are taken in submission order.
        pending: deque = deque()
        limit = self.jobs * WINDOW
        for chunk in _chunks(records, self.chunk):
            pending.append((chunk[0].source, chunk[-1].source, self.pool.submit(_evaluate_chunk, chunk, spill)))
            while len(pending) >= limit or (pending and pending[0][2].done()):
                yield from self._result(pending, sink)
        while pending:
            yield from self._result(pending, sink)

    def span_results(self, spans: Iterable[Span], name: str, sink) -> Iterator[tuple]:
        """What results() gives for a spilling job, for a JSONL file cut into spans (corpus.jsonl_spans): each
        worker reads its spans' lines itself, so no record crosses the pipe either way. Worker processes only."""
        pending: deque = deque()
        limit = self.jobs * WINDOW
        for span in spans:
            pending.append((f"{name}:{span.first}", f"{name}:{span.last}", self.pool.submit(_evaluate_span, span, name, self.spill_dir)))
            while len(pending) >= limit or (pending and pending[0][2].done()):
                yield from self._result(pending, sink)
        while pending:
            yield from self._result(pending, sink)

    @staticmethod
    def _result(pending: deque, sink=None) -> list:
        """The oldest chunk's result (its spilled lines copied into `sink` first). When a worker has died every
        unfinished chunk fails, not only the dead worker's, so the error names the span of all chunks in flight."""
        first, _last, future = pending.popleft()
        try:
            path, counts, outcomes, *stopped = future.result()
        except BrokenProcessPool:
            last = pending[-1][1] if pending else _last
            raise WorkerDied(f"a worker process died while evaluating records in {first} .. {last} (killed, out of "
                             "memory, or a crash in durable-rules); run those records with --jobs 1 to find the one") from None
        if stopped:        # the input changed or cannot be read, or the chunk files cannot be written: the batch stops
            kind, issues = stopped[0]
            raise (InputError(issues) if kind == "input" else PolicyError(issues))
        if path is not None:
            _append(path, sink)
            os.unlink(path)
        return [(counts, outcomes)]


def _append(path: str, sink) -> None:
    """The bytes of a chunk file at the end of `sink`, a text stream: copied by the kernel (sendfile) to the
    stream's file when it has one, else as bytes to its buffer, else as text (decoding and encoding 7 KB a
    case again cost the parent a core's third)."""
    whole = getattr(sink, "whole_lines", False)
    if whole:           # a chunk file is whole lines: a Ctrl-C waits until it is copied (Output, _Held)
        _hold()
    try:
        binary = getattr(sink, "buffer", None)
        if binary is None:
            with open(path, encoding="utf-8", newline="") as lines:
                shutil.copyfileobj(lines, sink, 1 << 20)
            return
        try:
            sink.flush()                    # what the text layer holds goes first
            binary.flush()
            with open(path, "rb") as lines:
                if _sendfile(lines, binary) is None:
                    shutil.copyfileobj(lines, binary, 1 << 20)
        except OSError as exc:              # no space left, a closed pipe...: the output cannot be written
            raise output_error(getattr(sink, "_path", "the output"), exc) from None
    finally:
        if whole:
            _release()


def _sendfile(source, binary) -> Optional[int]:
    """`source` copied whole to `binary`'s file by the kernel, with no pass through this process; None when
    that cannot be done (no file behind the stream, a system without sendfile), before any byte is written."""
    try:
        out = binary.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    size, done = os.fstat(source.fileno()).st_size, 0
    while done < size:
        try:
            sent = os.sendfile(out, source.fileno(), done, size - done)
        except (AttributeError, OSError) as exc:
            if done == 0 and (isinstance(exc, AttributeError) or exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                                                                               errno.EBADF)):
                return None
            raise
        if sent == 0:      # the chunk file is shorter than it was a moment ago: nothing of ours does that
            raise OSError(errno.EIO, f"a chunk file ended after {done:,} of its {size:,} bytes")
        done += sent
    return done


class _Held:
    """While whole lines are written to an output that is not replaced at the end (stdout, a FIFO, a device: see
    Output), a Ctrl-C or SIGTERM is held until the write is done, so that the reader's last line is whole; a second
    one meanwhile is not held (a reader that stopped reading must not make the run unstoppable)."""

    writing = False
    signalled = False


def _interrupt(signum, frame):
    if _Held.writing and not _Held.signalled:
        _Held.signalled = True
        return
    raise KeyboardInterrupt


def _hold() -> None:
    _Held.writing = True


def _release() -> None:
    _Held.writing = False
    if _Held.signalled:
        _Held.signalled = False
        raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt():
    """SIGTERM ends the run like Ctrl-C: workers stopped, temp files removed, nothing under the final names. Both
    wait for the line being written to stdout (or a FIFO, a device) to be whole (_Held); a SIGINT the run was
    started ignoring (`nohup`, `&` in a script) stays ignored."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:          # not the main thread: leave signals alone
        yield
        return
    before = signal.getsignal(signal.SIGINT)
    if before is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    _Held.writing = _Held.signalled = False
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if before is signal.default_int_handler:
            signal.signal(signal.SIGINT, before)


# ---- output ------------------------------------------------------------------------------
def output_error(path, exc: OSError) -> Exception:
    """An output file that cannot be written (no such folder, no permission, no space): exit 1, not a crash.
    A closed pipe (`--out /dev/stdout | head`: the reader left) stays the BrokenPipeError it is, which the
    CLI ends quietly, as it does when stdout itself is closed (cli/main.py)."""
    if isinstance(exc, BrokenPipeError):
        return exc
    return PolicyError([Issue("output.io", f"cannot write {path}: {exc.strerror or exc}", Location(str(path)),
                              "check that the folder exists, is writable and has space")])


class Output:
    """The text stream atomic_writer hands out: a failed write is an `output.io` problem, named by the file. With
    `whole_lines` (stdout, a FIFO, a device: what is written is read at once, not renamed into place at the end), a
    Ctrl-C that comes while one is written waits until it is done (_Held): each write is whole lines."""

    def __init__(self, stream, path, whole_lines: bool = False):
        self._stream, self._path = stream, path
        self._text = True            # the text layer may hold something: flushed before the first bytes
        self.whole_lines = whole_lines

    def write(self, text: str) -> int:
        self._text = True
        if self.whole_lines:
            _hold()
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise output_error(self._path, exc) from None
        finally:
            if self.whole_lines:
                _release()

    def write_bytes(self, data: bytes) -> int:
        """Bytes (an output line as the worker made it), after what the text layer holds."""
        if self.whole_lines:
            _hold()
        try:
            if self._text:
                self._stream.flush()
                self._text = False
            return self._stream.buffer.write(data)
        except OSError as exc:
            raise output_error(self._path, exc) from None
        finally:
            if self.whole_lines:
                _release()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def atomic_writer(path, encoding: str = "utf-8", newline: Optional[str] = "\n", errors: str = "strict"):
    """Write a text file all at once or not at all: a temp file in the same folder, fsync, os.replace.

    On any exception (KeyboardInterrupt included) the temp file is removed and nothing appears
    under the final name; a file already there is left as it was. The temp file's name carries
    this process's pid, so that a later run can remove it if this one is killed. A file that
    cannot be written raises PolicyError `output.io`. A path that is already something other
    than a file (/dev/null, /dev/stdout, a FIFO) is written to as it is, never replaced.
    """
    final = Path(path)
    if is_special_file(final):
        yield from _written_directly(final, encoding, newline, errors)
        return
    final = _replaced(final)     # a link to a file: the file is replaced, the link kept
    remove_stale_temp_files(final)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(final), suffix=".tmp", dir=final.parent or Path("."))
    except OSError as exc:
        raise output_error(final, exc) from None

    def discard() -> None:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    try:
        os.fchmod(fd, 0o666 & ~_umask())      # mkstemp makes 0600; the result gets a normal file's mode
        out = os.fdopen(fd, "w", encoding=encoding, newline=newline, errors=errors)
    except BaseException as exc:
        os.close(fd)
        discard()
        if isinstance(exc, OSError):
            raise output_error(final, exc) from None
        raise
    try:
        yield Output(out, final)
    except BaseException:
        _close_quietly(out)      # a close that fails again (a full disk) must not hide what stopped the body
        discard()
        raise
    try:
        out.flush()
        os.fsync(out.fileno())
        out.close()
        os.replace(tmp, final)
    except OSError as exc:       # ours (flush, fsync, close, rename), not the caller's
        _close_quietly(out)
        discard()
        raise output_error(final, exc) from None
    try:  # make the rename itself durable
        dir_fd = os.open(final.parent or Path("."), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some file systems cannot fsync a folder
        pass


LINK_HOPS = 40      # as the kernel's own bound on a chain of symbolic links (ELOOP)


def _through_a_process(final) -> bool:
    """`final`, or a link in the chain it names, is in /proc or /dev/fd: a file a process holds open
    (`/dev/stdout` is a link to /proc/self/fd/1). Renaming over it would replace the link itself (as root,
    /dev/stdout), and the file behind it is the one the shell redirected: it is written through, in place."""
    path = os.path.abspath(final)
    for _ in range(LINK_HOPS):
        path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if path.startswith(("/proc/", "/dev/fd/")):
            return True
        try:
            target = os.readlink(path)
        except OSError:         # not a link (or nothing there): the end of the chain
            return False
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return False


def is_special_file(final) -> bool:
    """`final` is written in place, never replaced by a renamed temp file: it exists and is not a regular
    file (a device, a FIFO, a socket; links followed), or it reaches a process's open file through /proc
    (`/dev/stdout`, `/dev/fd/2`, `/proc/self/fd/1`), whatever that file is. Replacing either would destroy
    it (as root, /dev/null or the /dev/stdout link itself)."""
    try:
        if not stat.S_ISREG(os.stat(final).st_mode):
            return True
    except OSError:
        return False
    return _through_a_process(final)


def _written_directly(final: Path, encoding: str, newline: Optional[str], errors: str):
    """atomic_writer's body for a path written in place: a device or a FIFO opened and written as it is; a
    regular file behind /proc (the shell's `> file` or `>> file`) appended to, so that `>>` keeps what the
    file held and `>` (already empty) gets the output alone."""
    try:
        regular = stat.S_ISREG(os.stat(final).st_mode)
        out = open(final, "a" if regular else "w", encoding=encoding, newline=newline, errors=errors)
    except OSError as exc:
        raise output_error(final, exc) from None
    try:
        yield Output(out, final, whole_lines=True)
    except BaseException:
        _close_quietly(out)
        raise
    try:
        out.close()
    except OSError as exc:
        raise output_error(final, exc) from None


def _replaced(final: Path) -> Path:
    """The file atomic_writer replaces for `final`: a link's own target (the link is kept), else `final`."""
    if os.path.islink(final):
        return Path(os.path.realpath(final))
    return final


def _place(path) -> str:
    """Where a path names a file, its folder's links resolved (not the file's own: a link is an entry of its own)."""
    path = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def written_by_this_run(paths: Iterable, files: Iterable = ()) -> Callable[[str], bool]:
    """Whether an entry of a corpus folder is a file this run writes with atomic_writer: one of `paths` (as named,
    or the file a link names) or this process's temp file for one (`.NAME.PID.RANDOM.tmp`, beside the file it
    replaces), or one of `files`, by (st_dev, st_ino): an output with no name here (standard output redirected to a
    file). A batch whose --out or --errors is in its input folder meets them there: they are its own, not
    input, and are not listed as entries passed over (which would make the errors file differ run to run)."""
    ids = {f for f in files if f is not None}
    names, temps = set(), set()
    for path in paths:
        if not path or path == "-":
            continue
        final = _replaced(Path(path))
        names.update({_place(path), _place(final), os.path.realpath(path)})
        temps.add((os.path.realpath(final.parent or Path(".")), temp_prefix(final)))

    def own(entry: str) -> bool:
        place = _place(entry)
        folder, name = os.path.split(place)
        if place in names or any(folder == f and name.startswith(prefix) and name.endswith(".tmp") for f, prefix in temps):
            return True
        if not ids:
            return False
        try:
            info = os.stat(entry)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) in ids
    return own


def _close_quietly(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass


# ---- summary ----------------------------------------------------------------------------
# What the table groups by and counts is the policy's declaration (engine/reports.py): the
# engine names no decision of any regulation here.
def batch_reduce(case: dict, result: dict, cat=None) -> tuple:
    """What a batch worker sends back: the output line (UTF-8 bytes), the summary row the policy declares (or None),
    and whether the result has notes (evaluate.reference_notes)."""
    spec = reports_for(cat, result).summary if cat is not None else None
    return dumpb(result), (spec.row(case, result) if spec is not None else None), "notes" in result


@dataclass
class Tally:
    """Counts for the end-of-run summary: read = evaluated + failed, and a table by the declared group."""

    read: int = 0
    evaluated: int = 0
    failed: int = 0
    skipped: int = 0     # a folder's entries not read (engine/corpus.Skipped): not records, but said and counted
    noted: int = 0       # evaluated records whose result has notes (a value naming nothing it refers to)
    groups: dict = field(default_factory=dict)   # group -> {unit: n, decision: {value: n}}
    spec: Any = None                             # the Summary declaration of the first result that had one

    def add(self, outcome: Outcome, summary=None, noted: bool = False) -> None:
        self.read += 1
        if not outcome.ok:
            self.failed += 1
            return
        self.evaluated += 1
        self.noted += noted
        if summary is not None:
            if self.spec is None:
                self.spec = summary.spec
            row = self.groups.setdefault(summary.group, {self.spec.unit: 0, **{c.decision: {} for c in self.spec.counts}})
            row[self.spec.unit] += 1
            for count, value in zip(summary.spec.counts, summary.values):
                counted = row.setdefault(count.decision, {})
                counted[value] = counted.get(value, 0) + 1

    def merge(self, other: "Tally") -> None:
        """Add the counts a worker made of a chunk's good records."""
        self.read += other.read
        self.evaluated += other.evaluated
        self.failed += other.failed
        self.noted += other.noted
        if self.spec is None:
            self.spec = other.spec
        for group, row in other.groups.items():
            mine = self.groups.setdefault(group, {})
            for key, value in row.items():
                if isinstance(value, dict):
                    counted = mine.setdefault(key, {})
                    for v, n in value.items():
                        counted[v] = counted.get(v, 0) + n
                else:
                    mine[key] = mine.get(key, 0) + value

    def columns(self) -> list:
        """(decision, value, header, label) per column: each counted decision's declared values, then the others
        seen; `label` is the one the decision declares for the value, or ""."""
        out = []
        for count in self.spec.counts if self.spec else ():
            seen = {v for row in self.groups.values() for v in row.get(count.decision, {})}
            for value in list(count.values) + sorted(seen - set(count.values)):
                out.append((count.decision, value, count.column(value), count.label_of(value)))
        return out

    def as_dict(self) -> dict:
        data = {"read": self.read, "evaluated": self.evaluated, "failed": self.failed, "skipped": self.skipped, "noted": self.noted}
        if self.spec is not None:
            data[self.spec.group.key] = {g: self.groups[g] for g in sorted(self.groups)}
        return data
