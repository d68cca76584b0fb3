"""`regcode replay`: re-evaluate the decisions of a decision log with today's policies and report what differs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from ..engine import Issue, Location, PolicyError, dump_json
from ..engine.errors import file_name
from ..engine.replay import has_changes, replay, to_text
from .main import (EXIT_POLICY, at_options, backend_option, catalog, counted, policy_root_option, regcode, report_issues,
                   set_format)

DAMAGED = {"replay.syntax", "replay.hash", "replay.not_decision", "replay.too_large", "replay.field", "replay.eval_output",
           "replay.duplicate_id"}
NOT_A_LOG = {"replay.syntax", "replay.not_decision", "replay.eval_output"}     # a file of such lines is no decision log


def rotated(path: str) -> list:
    """LOG's rotated files, oldest first, then LOG: LOG.N ... LOG.1, LOG."""
    base = Path(path)
    older = []
    n = 1
    while (base.with_name(f"{base.name}.{n}")).is_file() and n <= 10000:
        older.append(str(base.with_name(f"{base.name}.{n}")))
        n += 1
    return list(reversed(older)) + [path]


@regcode.command("replay", short_help="Re-evaluate a decision log; report what differs now.")
@click.argument("logs", metavar="LOG...", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--with-rotated", is_flag=True, help="Also read LOG.N ... LOG.1 (the rotated files), oldest first.")
@click.option("--policy-version", "version", metavar="V", help="Replay against this version instead of the one in force on each as_of.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any decision differs, or the version replayed against "
              "adds or drops a decision (for CI).")
@backend_option
@policy_root_option
@click.pass_context
def replay_cmd(ctx, logs, with_rotated, version, fmt, fail_on_change, backend, policy_roots):
    """Re-evaluate a decision log's decisions with today's policies; report those that differ.

    LOG is written by `regcode serve --decision-log`. Each decision is evaluated again with the policy
    in force on its as_of now (or --policy-version; a decision whose request asked for a version by name
    is evaluated with that version), and the decisions that differ are reported: by decision, old and
    new value, the rules that decide it now, and the decision ids.

    A line that cannot be replayed (damaged, or logged with --decision-log-input none) is reported with
    its file and line; the others are still replayed. Exit 1 when a line cannot be replayed (damaged, or
    its case no longer passes the policy in force: no version on its date, a facts-schema problem), or
    with --fail-on-change when a decision differs or the version replayed against adds or drops one
    (systems reading the log would get a field more or less); a line logged without its input is
    reported, exit 0 when other lines were replayed. Not one line replayed (an empty log too) is
    exit 1, with why: a log written with --decision-log-input none is one error naming the server's
    option. A decision read twice (a log given twice, a line logged twice) is counted once, with a
    warning; two different lines with one decision id are a problem at the second. A --policy-version no policy of the log has, or a policy that cannot be read or compiled,
    is one error, exit 1, with no report.

    \b
    Examples:
      regcode replay decisions.log --policy-root examples/amendment/policies --policy-version 2022-illustration
      regcode replay decisions.log --with-rotated --format json --fail-on-change
    """
    set_format(ctx, fmt)
    paths = [p for log in logs for p in (rotated(log) if with_rotated else [log])]
    names = [file_name(str(p)) for p in paths]      # as the report and its problems can carry them
    with at_options():      # a --policy-version no policy of the log has: one error, at the option
        report = replay(catalog(policy_roots), paths, version, backend)
    codes = {s["errors"][0]["code"] for s in report["skipped"] if s["errors"]}
    if not report["read"]:      # a replay that compared nothing checked nothing: no success, for CI either
        raise PolicyError([Issue("replay.empty", f"no logged decision in {', '.join(names)}: "
                                 + ("the file is empty" if len(paths) == 1 else "the files are empty"),
                                 Location(names[0]), "give the file `regcode serve --decision-log FILE` writes, "
                                 "once decisions have been made; --with-rotated adds its rotated files")])
    if report["read"] and len(report["skipped"]) == report["read"] and "replay.eval_output" in codes and codes <= NOT_A_LOG:
        outputs = sum(1 for s in report["skipped"] if s["errors"] and s["errors"][0]["code"] == "replay.eval_output")
        raise PolicyError([Issue("replay.not_a_log", f"not a decision log: the lines of {', '.join(names)} are "
                                 f"`regcode batch`/`eval` outputs ({outputs:,} of {counted(report['read'], 'line')} have "
                                 "`decisions` and `policy` but not the `input`, `input_sha256`, `time` and "
                                 "`regcode_version` every logged decision has), which hold no case to evaluate again",
                                 Location(names[0]),
                                 "give the file `regcode serve --decision-log FILE` writes; to see what a new version "
                                 "changes for case files, run `regcode diff OLD NEW --corpus CASES`")])
    if report["read"] and len(report["skipped"]) == report["read"] and codes <= {"replay.syntax", "replay.not_decision"}:
        first = report["skipped"][0]["errors"][0]    # no line is a logged decision: the wrong file, said once, not per line
        raise PolicyError([Issue("replay.not_a_log", f"no line of {', '.join(names)} is a logged decision "
                                 f"({counted(report['read'], 'line')}; line {first['location']['line']}: {first['message']})",
                                 Location(**first["location"]),
                                 "give the file `regcode serve --decision-log FILE` writes, one JSON decision a line")])
    nothing = nothing_replayed(report, names)
    if nothing is not None and codes == {"replay.no_input"}:   # a log kept without inputs: said once, with the fix
        raise PolicyError([nothing])
    click.echo(dump_json(report) if fmt == "json" else to_text(report))
    if nothing is not None:      # each line's problem is in the report; that none could be replayed is said too
        report_issues([nothing], fmt)
        ctx.exit(EXIT_POLICY)
    damaged = any(e["code"] in DAMAGED or not e["code"].startswith("replay.") for s in report["skipped"] for e in s["errors"])
    if damaged or (fail_on_change and has_changes(report)):
        ctx.exit(EXIT_POLICY)


NO_INPUT_FIX = ("the server ran with --decision-log-input none, which keeps only the hash of each input; run it with "
                "--decision-log-input full (the default) for a log that can be replayed")


def nothing_replayed(report: dict, paths: list) -> Optional[Issue]:
    """Why not one of the log's N > 0 decisions could be replayed, said once: a replay that compared nothing
    has checked nothing, and is no success (for CI, with or without --fail-on-change)."""
    if not report["read"] or report["replayed"]:
        return None
    logs = ", ".join(map(str, paths))
    codes: dict = {}
    for s in report["skipped"]:
        code = s["errors"][0]["code"] if s["errors"] else "?"
        codes[code] = codes.get(code, 0) + 1
    one = report["read"] == 1
    if set(codes) == {"replay.no_input"}:
        held = ("its one logged decision was logged without its input" if one else
                f"all {report['read']:,} logged decisions were logged without their input")
        return Issue("replay.nothing_replayed", f"nothing to replay in {logs}: {held} (only the hash, input_sha256), "
                     "so there is nothing to evaluate again", Location(str(paths[0])), NO_INPUT_FIX)
    why = ", ".join(f"{n:,} {code}" for code, n in sorted(codes.items()))
    what = (f"the one logged decision of {logs} could not be replayed" if one else
            f"not one of the {report['read']:,} logged decisions of {logs} could be replayed")
    hint = (f"for the lines logged without their input: {NO_INPUT_FIX}" if "replay.no_input" in codes
            else "each line's problem and its fix is listed in the report")
    return Issue("replay.nothing_replayed", f"{what} ({why})", Location(str(paths[0])), hint)
