"""`regcode batch`: a whole corpus of case files evaluated in order, to JSONL, atomically, on N processes."""
from __future__ import annotations

import functools
import json
import os
import shlex
import stat
import sys
import time
import unicodedata
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Callable, Iterable, Optional

import click

from ..engine import Catalog, dump_json, evaluate_case
from ..engine.batch import (CHUNK, Job, Outcome, Output, Runner, Tally, atomic_writer, batch_reduce, default_jobs,
                            is_special_file, terminate_as_interrupt, unwritable, written_by_this_run)
from ..engine.catalog import candidates, check_compiles
from ..engine.corpus import CASE_SUFFIXES, SPAN_LINES, FolderReading, count_records, read_records, read_spans
from ..engine.case import also_wrong
from ..engine.errors import IssueCollector, one_line
from ..engine.load import MAX_CASE_BYTES, parse_text, printable
from ..engine.table import columns_for, error_row, header, issue_line, table_reduce
from .main import (EXIT_POLICY, MAX_REPORTED, as_of_option, catalog, check_policy_options, counted, errors_option,
                   explain_option, on_interrupt, policy_root_option, regcode, require_stdin, require_stdout, selection_options, set_format)


# ---- shared with `regcode plan` ----------------------------------------------------------
def input_argument(f):
    return click.argument("source", metavar="INPUT", type=click.Path(exists=True, allow_dash=True))(f)


MAX_JOBS = 256    # each worker compiles the policy and holds it (tens of MB): a bound, whatever N says


def stdout_text():
    """The text stream `--out -` writes (sys.stdout as the command runs; a test puts its own in its place)."""
    return sys.stdout


def jobs_option(f):
    return click.option("--jobs", "-j", type=click.IntRange(min=1, max=MAX_JOBS), default=None, metavar="N",
                        help="Worker processes (default: the cores available; at most 256). The output does not depend on it.")(f)


def check_input(source: str, name: str = "INPUT") -> None:
    """A corpus (INPUT, diff's --corpus) is JSONL, a folder or stdin. A file that is one case file or one JSON
    array, rather than JSON lines, is refused before the run with the fix: read a line a record, each of its
    lines would be a bad record of its own (a YAML case file named .jsonl was 47 lines of `invalid JSON`)."""
    if source == "-" or not Path(source).is_file():
        return
    kind = "a YAML file" if Path(source).suffix in (".yaml", ".yml") else _not_json_lines(Path(source))
    if kind is None:
        return
    shown, quoted = printable(one_line(source)), shlex.quote(printable(one_line(source)))
    if kind == "a JSON array":
        target = Path(source).with_suffix(".jsonl")
        if target.suffix == Path(source).suffix:    # never the input itself: the shell would empty it before jq reads it
            target = Path(source).with_name(Path(source).stem + ".lines.jsonl")
        jsonl = shlex.quote(printable(one_line(str(target))))
        message = (f"{shown} is a JSON array; {name} is read as JSON lines, one case file a line (e.g. "
                   f"`jq -c '.[]' {quoted} > {jsonl}`), a folder of case files, or - for JSON lines on stdin")
    elif kind == "a YAML case file":
        message = (f"{shown} looks like a YAML case file, not JSON lines; for one case file use `regcode eval {quoted}` (and "
                   f"name it .yaml); {name} is a JSONL file (one case file a line), a folder of case files, or -")
    else:
        message = (f"{shown} is {kind}; {name} is a JSONL file (one case file a line), a folder "
                   "of case files, or - for JSONL on stdin (for one case file use `regcode eval`)")
    raise click.BadParameter(message, param_hint=name)


SNIFF_LINES = 64            # the lines looked at for one that is a JSON object, before a file is taken for YAML
WHOLE_BYTES = 16 << 20      # a file read whole to tell what it is (a district's JSONL of 2,000 cases is 3.5 MB)


def _not_json_lines(path: Path) -> Optional[str]:
    """What a file is when it is not JSON lines, or None. Bounded: a file of at most WHOLE_BYTES is read once.
    It is refused as a whole when it is one JSON array (on one line or many), one JSON object spread over lines
    (a JSONL file of two or more records is neither as a whole), or when none of its first SNIFF_LINES non-blank
    lines is a JSON object and it is one YAML mapping. A JSONL file with bad lines among good ones is read, and
    each bad line reported."""
    try:
        if path.stat().st_size > WHOLE_BYTES:
            return None         # no case file and no request is that big: its lines are reported
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None             # said by the run, at its place
    try:
        whole = json.loads(text)
    except (ValueError, RecursionError):    # nested too deep to read whole: its lines are read, and a deep one said
        pass
    else:
        if isinstance(whole, list):
            return "a JSON array"
        if isinstance(whole, dict) and len([line for line in text.splitlines() if line.strip()]) > 1:
            return "a JSON file spread over lines"     # one pretty-printed case: not one case a line
        return None
    for seen, line in enumerate((line for line in text.splitlines() if line.strip())):
        if seen >= SNIFF_LINES:
            break
        try:
            if isinstance(json.loads(line), dict):
                return None
        except (ValueError, RecursionError):
            pass
    if len(text) > MAX_CASE_BYTES:
        return None
    doc = parse_text(text, str(path), IssueCollector(), merge_keys=True)   # problems in it are said by `regcode eval`
    return "a YAML case file" if doc is not None and isinstance(doc.data, dict) else None


def _file_id(path=None, stream=None) -> Optional[tuple]:
    """(device, inode) of the regular file or FIFO a path names (links followed: /dev/stdin, /proc/self/fd/0) or a
    standard stream is, or None: a terminal or /dev/null is read and written alike without harm."""
    try:
        info = os.fstat(stream.fileno()) if stream is not None else os.stat(path)
    except (OSError, ValueError, AttributeError):    # not there, no descriptor (a test's stream), a closed stream
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode) else None


def check_output(path, name: str, source: str) -> None:
    """An output file's folder must exist, and it must not be the input (check_outputs, for one output)."""
    check_outputs([(path, name)], source)


def check_outputs(outputs: Iterable[tuple], source: str) -> Optional[FolderReading]:
    """Each output (its path, or - for standard output, and the option that names it), in order: its folder must
    exist, and it must not be the input. Compared as files (device and inode), so that no name reaches it, a link,
    /dev/stdin, - (standard output: `>> INPUT`) or - as the input (`< OUT`). A folder INPUT is walked once for all
    of them (corpus.FolderReading), at the first that needs it: no output may be a file the run reads. The walk is
    returned (or None) for the run to read the folder by (read_records), so that it is not walked again."""
    walked: list = []

    def folder() -> FolderReading:
        if not walked:
            walked.append(FolderReading(Path(source)))
        return walked[0]
    for path, name in outputs:
        _check_output(path, name, source, folder)
    return walked[0] if walked else None


def _check_output(path, name: str, source: str, folder: Callable[[], FolderReading]) -> None:
    if path is None:
        return
    read = _file_id(stream=sys.stdin) if source == "-" else _file_id(source)
    if read is not None and (_file_id(stream=sys.stdout) if path == "-" else _file_id(path)) == read:
        given = "the file on standard input" if source == "-" else printable(one_line(source))
        if path == "-":
            raise click.BadParameter(f"standard output is the input ({given}): what is written there would be added to it; "
                                     "redirect stdout to another file" + _or_else(name), param_hint=name)
        if source != "-" and os.path.abspath(path) == os.path.abspath(source):     # the same name: nothing more to say
            raise click.BadParameter(f"{printable(one_line(str(path)))} is the input; write the output elsewhere", param_hint=name)
        raise click.BadParameter(f"{printable(one_line(str(path)))} is the input ({given}), under another name; "
                                 "write the output elsewhere", param_hint=name)
    if path == "-":
        if source != "-" and Path(source).is_dir():
            # `batch cases --out - > cases/x.json`: the shell made the file before the walk, so it is a case file of it
            written = _file_id(stream=sys.stdout)
            found = folder().case_file(written) if written is not None else None
            if found is not None:
                shown = printable(one_line(source))
                raise click.BadParameter(f"standard output is the input ({printable(one_line(found))}, a case file of {shown}): "
                                         f"what is written there would be read as a case file; redirect stdout to a file "
                                         f"outside {shown}" + _or_else(name), param_hint=name)
        return
    if str(path).endswith(("/", os.sep)):     # Path() would drop the slash, and a file of the folder's name be written
        raise click.BadParameter(f"{path} ends with /, as a folder's name does; a file is wanted here (name the file "
                                 "in that folder, or leave out the /)", param_hint=name)
    target = Path(path)
    if is_special_file(target) and not target.is_dir():
        # /dev/null, /dev/stdout, a FIFO: written to as it is (atomic_writer never replaces it), so its folder
        # need not be writable (/dev/stdout to a file the shell redirected: that file, appended to)
        if not os.access(target, os.W_OK):
            raise click.BadParameter(f"{path} is not writable", param_hint=name)
        return
    if target.is_symlink():             # a link to a file: the file it names is replaced (the link is kept)
        target = Path(os.path.realpath(target))
    if not target.parent.is_dir():
        raise click.BadParameter(f"the folder {str(target.parent)!r} does not exist", param_hint=name)
    if not os.access(target.parent, os.W_OK | os.X_OK):   # say so now, not after the whole run
        raise click.BadParameter(f"the folder {str(target.parent)!r} is not writable", param_hint=name)
    if source != "-" and target.exists() and Path(source).exists() and os.path.samefile(target, source):
        raise click.BadParameter(f"{path} is the input; write the output elsewhere", param_hint=name)
    if source != "-" and Path(source).is_dir():     # a case file of the folder, or a name the folder reader would read
        read = folder().reads(path)
        if read == "is":
            raise click.BadParameter(f"{path} is the input (a case file of {source}); write the output elsewhere",
                                     param_hint=name)
        if read == "would be":
            raise click.BadParameter(f"{path} would be a case file of the input {source} (a folder's {', '.join(CASE_SUFFIXES)} "
                                     "files are read), read by the next run; write the output elsewhere", param_hint=name)


def _or_else(name: str) -> str:
    """The other way out, for standard output that may not be written: --out FILE, or no json summary."""
    return {"--out": " or give --out FILE", "--format": " or leave out --format json"}.get(name, "")


def stdout_file(used: bool) -> Optional[tuple]:
    """(device, inode) of the file standard output is redirected to, when the run writes to it (`--out -`, a summary
    on stdout): in the input folder under a name it does not read (`> cases/x.jsonl`), the run's own, not input."""
    return _file_id(stream=sys.stdout) if used else None


def left_of(path, what: str = "") -> Callable[[], str]:
    """What an interrupted run left of an output, for `interrupted: ...` (main.on_interrupt): a file written whole
    (atomic_writer) is not there, or as it was; stdout, a FIFO or a device got whole lines (Output holds a Ctrl-C
    until the line being written is done)."""
    if path == "-" or is_special_file(Path(path)):
        where = "stdout" if path == "-" else one_line(str(path))
        return lambda: f"what was written to {where} is whole lines{what}"
    shown = one_line(str(path))

    def state():
        try:
            info = os.stat(path)
            return info.st_ino, info.st_mtime_ns
        except OSError:
            return None
    before = state()

    def say() -> str:
        now = state()
        if now is not None and now != before:
            return f"{shown} was written whole"     # the run was done with it: stopped after the rename
        return f"{shown} is left as it was" if before is not None else f"no {shown} was written"
    return say


def catalog_factory(policy_roots) -> functools.partial:
    """Picklable: every worker builds its own Catalog (and so compiles the policy itself, once)."""
    return functools.partial(Catalog, [str(r) for r in policy_roots or []])


class Progress:
    """A progress bar on stderr (rich), only when stderr is a terminal; quiet otherwise. Lines that
    must appear meanwhile (bad records) go through `echo`, which prints them above the bar, so
    the two never overwrite each other."""

    def __init__(self, enabled: bool, total=None, label: str = "evaluated"):
        self.enabled = enabled
        self.started = time.monotonic()
        self.last = 0.0
        self.bar = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()] if total else [TextColumn(label + " {task.completed:,}")]
        columns += [TextColumn("{task.fields[failed]:,} failed  {task.fields[rate]:,.0f}/s"), TimeElapsedColumn()]
        # no refresh thread (auto_refresh=False): the parent forks workers, and update() redraws anyway
        self.bar = Bar(*columns, console=Console(file=sys.stderr), transient=True, auto_refresh=False)
        self.task = self.bar.add_task(label, total=total, failed=0, rate=0.0)
        self.bar.start()

    def update(self, tally: Tally, force: bool = False) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        rate = tally.read / max(now - self.started, 1e-9)
        self.bar.update(self.task, completed=tally.read, failed=tally.failed, rate=rate)
        self.bar.refresh()

    def echo(self, text: str) -> None:
        """One line on stderr, above the bar while it is shown."""
        if self.bar is None:
            click.echo(text, err=True)
            return
        self.bar.console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class BadRecords:
    """Where bad records go: the --errors file, or else stderr as file:line: code: message (the first
    MAX_REPORTED of them, then a count)."""

    def __init__(self, stream=None, echo=None, own: Callable[[str], bool] = lambda path: False,
                 lost: Optional[Callable[[Outcome], None]] = None):
        self.stream = stream
        self.echo = echo or (lambda text: click.echo(text, err=True))
        self.own = own      # the run's own files (batch.written_by_this_run): no entry passed over
        self.lost = lost    # a folder that cannot be listed, as the bad record it is (a table's row for it)
        self.count = 0
        self.skips = 0
        self.stopped: dict = {}     # a parameter with no value on the records' date (its place) -> records past the first

    def add(self, outcome) -> None:
        self.count += 1
        if self.stream is not None:
            self.stream.write(outcome.error_line() + "\n")
            return
        places = {(i["location"]["file"], i["location"]["line"], i["location"]["column"]) for i in outcome.errors
                  if i["code"] == "eval.parameter"}
        if places and len(places) == len(outcome.errors) and places <= set(self.stopped):
            self.count -= 1     # said once, as `regcode test` says it: counted at the end (the summary counts every record)
            for place in places:
                self.stopped[place] += 1
            return
        if self.count <= MAX_REPORTED:
            for place in places:       # said here: the next records it stops are counted against it, not said again
                self.stopped.setdefault(place, 0)
            for issue in outcome.errors:
                self.echo(issue_line(issue, outcome.source))     # file:line:col, as eval says it

    def skip(self, entry, tally: Tally) -> None:
        """A folder's entry that is not read: a line on stderr whatever --errors says (it is not a bad
        record, and the user may not look in that file; past MAX_REPORTED, a count), and a line of the
        errors file too, code input.skipped. A folder that cannot be listed is input lost: a bad record. The run's own
        output and temp files are neither, and are not said."""
        if self.own(entry.path):
            return
        if entry.lost:
            tally.read += 1
            tally.failed += 1
            self.count += 1
            if self.lost is not None:
                self.lost(Outcome(entry.path, None, errors=[entry.issue().as_dict()]))
        else:
            tally.skipped += 1
        self.skips += 1
        if self.skips <= MAX_REPORTED:
            self.echo(printable(str(entry)))
        if self.stream is not None:
            self.stream.write(dump_json({"source": entry.path, "line": None, "errors": [entry.issue().as_dict()]}) + "\n")

    def finish(self) -> None:
        if self.skips > MAX_REPORTED:
            self.echo(f"... and {self.skips - MAX_REPORTED:,} more entries of the folder not read"
                      + ("; all are in the errors file" if self.stream is not None else "; pass --errors FILE to list them all"))
        if self.stream is None and self.count > MAX_REPORTED:
            self.echo(f"... and {self.count - MAX_REPORTED} more bad records; pass --errors FILE to keep them all")
        for (file, line, column), more in sorted(self.stopped.items()):
            if more:
                self.echo(f"... and {more:,} more {'record' if more == 1 else 'records'} not evaluated for the same parameter "
                          f"({one_line(file)}:{line}:{column}, said above, each on its own date); pass --errors FILE to list them")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def table(header: list, rows: list, labels: Optional[list] = None) -> str:
    """Columns aligned for a terminal (CJK characters are two cells wide); the first column left, the rest right.
    `labels`, one per column ("" for none): a second header line under the first, when any is given (the labels a
    policy declares for the values the columns count: `AA类` under `class aa`)."""
    heads = [header] + ([labels] if labels and any(labels) else [])
    cells = [[str(c) for c in head] for head in heads] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [r[0] + " " * (widths[0] - _width(r[0]))] + [" " * (w - _width(c)) + c for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


# ---- batch -------------------------------------------------------------------------------
def district_table(tally: Tally) -> str:
    """The summary table the policy declares (reports.summary): a row per group, a column per counted value, and
    under each value the label its decision declares (`AA类` under `class aa`; the JSON summary keeps the values
    alone). A group whose decision labels its values is named with its label beside it."""
    spec = tally.spec
    columns = tally.columns()
    header = [spec.group.label, spec.unit] + [c[2] for c in columns]
    rows, total = [], ["total", 0] + [0] * len(columns)
    for name in spec.group.ordered(tally.groups):      # the policy's order (its districts' enum), then the others
        g = tally.groups[name]
        row = [spec.group.row_name(name), g[spec.unit]] + [g.get(decision, {}).get(value, 0) for decision, value, _, _ in columns]
        rows.append(row)
        total = [total[0]] + [a + b for a, b in zip(total[1:], row[1:])]
    return table(header, rows + [total], ["", ""] + [c[3] for c in columns])


def skipped_text(tally: Tally) -> str:
    return f", skipped {tally.skipped:,} file{'s' if tally.skipped != 1 else ''}" if tally.skipped else ""


def summary_dict(tally: Tally, seconds: float, jobs: int, out, errors) -> dict:
    data = tally.as_dict()
    data.update({"seconds": round(seconds, 3), "per_second": round(tally.read / seconds, 1) if seconds > 0 else None,
                 "jobs": jobs, "out": out, "errors_file": errors})
    return data


@regcode.command("batch", short_help="A corpus of case files evaluated to JSONL or CSV, in order.")
@input_argument
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, allow_dash=True), metavar="OUT.jsonl|OUT.csv",
              help="One JSON line per case, in input order (- for stdout); a name ending .csv: a table instead, a row "
                   "per record (bad ones too, with their problems) and a column per decision. Written atomically.")
@click.option("--bom", is_flag=True, help="Start a .csv table with a UTF-8 byte-order mark, by which Excel (which reads a "
              "CSV without one as the system's code page, GBK on a Chinese Windows) reads its Chinese as UTF-8.")
@errors_option
@as_of_option
@selection_options
@jobs_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="The end summary: text on stderr, or json on stdout.")
@click.option("--chunk", type=click.IntRange(min=1, max=10_000), default=None, hidden=True,
              help=f"Records per worker task (default {CHUNK}; a JSONL file's spans: about 256 KiB, at most {SPAN_LINES} lines).")
@explain_option("full", "The why each output line keeps: every claim and derived fact, the decisive claims, or none.")
@policy_root_option
@click.pass_context
def batch_cmd(ctx, source, out, bom, errors, policy_name, as_of, version, jobs, backend, fmt, chunk, explain, policy_roots):
    """Evaluate every case file of INPUT and write one `eval --format json` object a line to OUT.

    INPUT is a JSONL file (one case file a line), a folder of YAML/JSON case files (read sorted by
    path, recursively), or - for JSONL on standard input. A bad record (invalid JSON or YAML, a
    schema error, no version in force...) goes to the --errors file and the rest finish. What a
    folder holds that is not read (another suffix, hidden files and folders, FIFOs, links to
    folders) is listed on stderr (input.skipped) and counted, and goes to --errors too. The
    summary (counts, time, a table by the groups of the policy's reports.group: a district, a ward ...)
    goes to stderr.

    With OUT named .csv, a table for a spreadsheet instead (UTF-8, a header row): a row per
    record in input order, its source, identity, date and policy version, a column per decision
    (a list or map as JSON), its notes, and for a bad record its problems (error_code, error).

    \b
    Examples:
      regcode batch district.jsonl --out out.jsonl --errors err.jsonl --jobs 2
      regcode batch examples/cases --out results.jsonl --format json
      regcode batch examples/cases --out results.csv --bom
    (a district's worth of case files to try it on:
     python benchmarks/generate.py --count 2000 --seed 7 --as-of 2019-06-30 --out district.jsonl)

    Exit status: 0 when every record was evaluated, 1 when some were bad (the good ones are still
    written) or the command line is (one paragraph naming the option).
    """
    set_format(ctx, fmt)
    check_input(source)
    # the summary goes to stdout with --format json; one walk of a folder INPUT for them all
    reading = check_outputs([(out, "--out"), (errors, "--errors")] + ([("-", "--format")] if fmt == "json" else []), source)
    if errors and out != "-" and os.path.abspath(errors) == os.path.abspath(out):
        raise click.BadParameter("--errors and --out name the same file", param_hint="--errors")
    if out == "-" and fmt == "json":
        raise click.BadParameter("--format json prints the summary on stdout; it cannot share it with --out -",
                                 param_hint="--format")
    as_table = out != "-" and Path(out).suffix.lower() == ".csv"
    if bom and not as_table:
        raise click.BadParameter("a byte-order mark starts a CSV table: give it with --out OUT.csv", param_hint="--bom")
    if as_table and explain != "none" and ctx.get_parameter_source("explain") is click.core.ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"{out} is a CSV table, which keeps each decision's value, not its why: leave out "
                                 "--explain, or write JSON lines (--out OUT.jsonl) to keep the why", param_hint="--explain")
    if source == "-":
        require_stdin()
    if out == "-" or fmt == "json":     # said before the run, and before --out or --errors is written
        require_stdout()
    jobs = jobs or default_jobs()
    cat = catalog(policy_roots)
    policy_id = check_policy_options(cat, policy_name, version, [as_of] if as_of else [])
    check_compiles(cat, policy_id, version)
    evaluate = functools.partial(evaluate_case, policy_name=policy_id, as_of=as_of, version=version, backend=backend,
                                 explain="none" if as_table else explain)
    recheck = functools.partial(also_wrong, policy_name=policy_id, as_of=as_of, version=version)
    columns = columns_for(cat.compiled(info) for info in candidates(cat, policy_id, version)) if as_table else None
    job = Job(catalog_factory(policy_roots), evaluate, functools.partial(table_reduce, columns=columns) if as_table
              else batch_reduce, spill=True, recheck=recheck,
              error_row=functools.partial(error_row, columns) if as_table else None)

    on_interrupt(ctx, left_of(out, ", one row each" if as_table else ", one result each"))
    if errors:
        on_interrupt(ctx, left_of(errors))
    interactive = sys.stderr.isatty()
    progress = Progress(interactive, count_records(source, reading) if interactive else None)
    tally = Tally()
    started = time.perf_counter()
    with ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())
        sink = stack.enter_context(nullcontext(Output(stdout_text(), "stdout", whole_lines=True)) if out == "-"
                                   else atomic_writer(out))
        if as_table:
            sink.write_bytes(header(columns, bom))
        # the errors file quotes what the records held: it is written whatever they held
        bad = BadRecords(stack.enter_context(atomic_writer(errors, errors="backslashreplace")) if errors else None, progress.echo,
                         written_by_this_run([out, errors], [stdout_file(out == "-" or fmt == "json")]),
                         lost=(lambda outcome: sink.write_bytes(error_row(columns, outcome) + b"\n")) if as_table else None)
        runner = stack.enter_context(Runner(job, jobs, chunk or CHUNK))
        stack.callback(progress.close)
        if runner.parallel and source != "-" and Path(source).is_file():
            # a JSONL file: the workers read its lines themselves, cut into spans here (no record crosses a pipe)
            results = runner.span_results(read_spans(source, chunk), source, sink)
        else:
            results = runner.results(read_records(source, on_skip=lambda e: bad.skip(e, tally), reading=reading), sink)
        for counts, outcomes in results:
            if counts is not None:              # a worker wrote the chunk's good lines (now in sink) and counted them
                tally.merge(counts)
            for outcome in outcomes:
                if outcome.ok:
                    line, summary, noted = outcome.value
                    try:
                        if isinstance(line, bytes):     # as the worker wrote it: no decode to text and encode back
                            sink.write_bytes(line + b"\n")
                        else:
                            sink.write(line + "\n")
                    except UnicodeEncodeError as exc:   # input checks make this unreachable; if not, one record is lost
                        outcome = unwritable(outcome, exc)
                    else:
                        tally.add(outcome, summary, noted)
                        continue
                tally.add(outcome)
                bad.add(outcome)
                if as_table and counts is None:     # (a worker wrote it at its place in the chunk's file otherwise)
                    sink.write_bytes(error_row(columns, outcome) + b"\n")
            progress.update(tally)
    seconds = time.perf_counter() - started

    if fmt == "json":
        click.echo(dump_json(summary_dict(tally, seconds, jobs, out, errors)))
    else:
        bad.finish()
        rate = f"{tally.read / seconds:,.0f} cases/s" if seconds > 0 else "-"
        click.echo(f"read {tally.read:,}, evaluated {tally.evaluated:,}, failed {tally.failed:,}{skipped_text(tally)} "
                   f"in {seconds:.2f} s ({rate}, {jobs} job{'s' if jobs > 1 else ''})", err=True)
        where = "stdout" if out == "-" else one_line(out)
        wrote = (f"{counted(tally.read, 'row')} ({counted(tally.evaluated, 'result')}, {counted(tally.failed, 'bad record')})"
                 if as_table else counted(tally.evaluated, 'result'))
        click.echo(f"wrote {wrote} to {where}"
                   + (f"; {counted(tally.failed, 'bad record')}"
                      f"{' and ' + counted(tally.skipped, 'skipped file') if tally.skipped else ''} to {one_line(errors)}"
                      if errors else ""), err=True)
        if tally.noted:
            click.echo(f"note: {counted(tally.noted, 'result')} {'has' if tally.noted == 1 else 'have'} `notes` (a record naming "
                       "an item its case file does not have, a version named outside its window): each says what and where", err=True)
        if tally.groups:
            click.echo(district_table(tally), err=True)
    if tally.failed:
        ctx.exit(EXIT_POLICY)
