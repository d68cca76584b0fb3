"""`regcode plan`: the year's regular inspection plan from every case's decisions, as the policy declares it."""
from __future__ import annotations

import functools
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click

from ..engine.catalog import check_compiles
from ..engine.corpus import count_records, read_records
from ..engine.case import also_wrong
from ..engine.errors import did_you_mean, one_line
from ..engine.batch import (Job, Runner, Tally, atomic_writer, default_jobs,
                            terminate_as_interrupt, written_by_this_run)
from ..engine.plan import build_plan, check_plans, plan_entry, plan_spec, to_csv, to_json
from ..engine.reports import label_of
from .batch import (BadRecords, Progress, catalog_factory, check_input, check_outputs, input_argument, jobs_option,
                    left_of, skipped_text, stdout_file, table)
from ..engine import evaluate_case
from .main import (EXIT_POLICY, as_of_option, catalog, check_policy_options, errors_option, policy_root_option, regcode,
                   on_interrupt, require_stdin, require_stdout, selection_options)

SUFFIXES = {".csv": to_csv, ".json": to_json}


def evaluate_for_plan(cat, doc, *, policy_name, as_of, default_as_of, version, backend) -> dict:
    """--as-of wins, then the case file's own as_of, then the plan's default date (the year's first day in force)."""
    own = doc.data.get("as_of") if isinstance(doc.data, dict) else None
    return evaluate_case(cat, doc, policy_name, as_of or (None if own is not None else default_as_of), version, backend)


def year_start(cat, policy_id: str, version, year: int) -> str:
    """YEAR-01-01, or the first day of the year on which a version is in force (2017: 2017-05-01)."""
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    infos = [v for v in cat.versions(policy_id) if version is None or v.version == version]
    starts = [max(first, v.effective_from) for v in infos
              if v.effective_from <= last and (v.effective_to is None or v.effective_to >= first)]
    if starts:
        return min(starts)
    if version is not None:
        return first
    listing = "; ".join(f"{v.version} ({v.window})" for v in infos) or "none"
    raise click.BadParameter(f"no version of {policy_id} is in force in {year}; versions: {listing}", param_hint="--year")


def _possible_groups(cat, entries: list) -> list:
    """The groups the policy versions that planned INPUT can assign a case to, where their rules fix them (a
    district of the facts schema's enum with no enterprise in INPUT has an empty plan, not a usage error)."""
    from ..engine.check import decision_values
    spec = plan_spec(entries)
    if spec is None:
        return []
    out: set = set()
    for ref in sorted({e.policy for e in entries}):
        out.update(decision_values(cat.by_ref(ref), spec.group.decision) or ())
    return sorted(out)


def _check_district(cat, policy_id: str, version, district: str) -> None:
    """Before any case is read: a --group no version a case could be planned by can assign is a usage error, with
    the nearest name and the policy's groups in its own order. When a version's rules do not fix the group's values,
    only the run can tell (and says it after)."""
    from ..engine.catalog import candidates
    from ..engine.check import decision_values
    from ..engine.reports import reports_of
    known, group = set(), None
    for info in candidates(cat, policy_id, version):
        policy = cat.compiled(info)
        group = reports_of(policy, cat).plan.group
        values = decision_values(policy, group.decision)
        if values is None:
            return
        known.update(values)
    if group is None or district in known:
        return
    listed = group.ordered(known)
    hint = did_you_mean(district, listed)
    raise click.BadParameter(f"{policy_id} has no {group.label} {district!r}; its {group.key}: {', '.join(listed) or 'none'}"
                             + (f"; {hint}" if hint else ""), param_hint="--group")


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def summary_text(plan, tally: Tally, district=None, elsewhere: int = 0) -> str:
    """The plan per group and mode, in the policy's own names (reports.plan)."""
    spec = plan.spec
    if spec is None:
        return (f"Regular inspection plan {plan.year}: no policy\n"
                f"evaluated {tally.evaluated:,} of {tally.read:,} case files")
    label, many = spec.group.label, spec.unit[1]
    modes = list(spec.modes) + sorted({m for d in plan.districts.values() for m in d["modes"]} - set(spec.modes))
    infos = [i for d in plan.districts.values() for i in d["modes"].items()]
    sampled = {m for m, info in infos if info["ratio"] < 1}    # modes drawn by share, not inspected in full
    header = [label] + [f"{m} (sampled/all)" if m in sampled else m for m in modes] + ["visits", spec.special_item, "deadlines"]
    labels = [""] + [label_of(m, spec.mode_labels) for m in modes] + ["", "", ""]   # `加严监管` under `strict`
    rows, totals = [], {m: [0, 0] for m in modes}
    for name in spec.group.ordered(plan.districts):     # the policy's order (its districts' enum), then the others
        d = plan.districts[name]
        cells = [spec.group.row_name(name)]
        for m in modes:
            info = d["modes"].get(m)
            if info is None:
                cells.append("0/0" if m in sampled else "0")
                continue
            totals[m][0] += info["inspected"]
            totals[m][1] += info[many]
            cells.append(f"{info['inspected']}/{info[many]}" if m in sampled else f"{info[many]}")
        rows.append(cells + [d["visits"], d["special"], d["deadlines"]])
    total = ["total"] + [f"{totals[m][0]}/{totals[m][1]}" if m in sampled else str(totals[m][1]) for m in modes]
    total += [sum(d[k] for d in plan.districts.values()) for k in ("visits", "special", "deadlines")]
    ratios, visits = {}, {}
    for m, info in infos:
        ratios.setdefault(m, set()).add(info["ratio"])
        if info["ratio"] >= 1 and info[many]:
            visits.setdefault(m, set()).add(info["visits"] // info[many] if info["visits"] % info[many] == 0 else None)
    shares = ", ".join(f"{m} {'/'.join(f'{r:g}' for r in sorted(rs))}" for m, rs in sorted(ratios.items()))
    often = [f"{m} {_times(next(iter(visits[m])))}" for m in modes if len(visits.get(m, ())) == 1 and None not in visits[m]]
    often = f" ({often[0]} a year{''.join(', ' + o for o in often[1:])})" if often else ""
    dates = ", ".join(f"{day} ({n:,})" for day, n in list(plan.as_of.items())[:5]) + (" ..." if len(plan.as_of) > 5 else "")
    if district is None:
        counted = f"evaluated {tally.evaluated:,} of {tally.read:,} case files as of {dates}{skipped_text(tally)}"
    else:   # every figure below is the group's own; the rest of the input is only counted here
        counted = (f"{district}: {sum(plan.as_of.values()):,} case files, evaluated as of {dates or '-'} "
                   f"(the input held {tally.read:,}: {elsewhere:,} of another or no {label}, {tally.failed:,} bad{skipped_text(tally)})")
    policies = ", ".join(plan.policies) or (f"no case file of {district} in INPUT" if district else "no policy")
    lines = [f"Regular inspection plan {plan.year} ({', '.join(spec.articles)}): {policies}",
             counted,
             f"share to inspect per mode and {label}: {shares or '-'}{often}", "",
             table(header, rows + [total], labels)]
    extra = notes(plan)
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def notes(plan) -> str:
    """What the plan leaves out, and why, in one line (or ""): said under the summary, and under `--out`'s line."""
    spec = plan.spec
    if spec is None:
        return ""
    extra = []
    if plan.not_applicable:
        extra.append(f"{plan.not_applicable:,} outside the policy (no {spec.mode.replace('_', ' ')})")
    if plan.no_district:
        extra.append(f"{plan.no_district:,} without a {spec.group.label}")
    if plan.duplicates:
        n = len(plan.duplicates)
        extra.append(f"{n:,} {spec.key_column.replace('_', ' ')}{'s' if n != 1 else ''} met more than once (one planned: "
                     "the latest as_of, and of equal as_of the last by content, whatever the input order)")
    return "; ".join(extra)


@regcode.command("plan", short_help="The year's regular inspection plan from a corpus.")
@click.option("--year", required=True, type=click.IntRange(1900, 9999), metavar="YEAR", help="The plan's year.")
@input_argument
@click.option("--group", "--district", "district", metavar="G", help="Only this group's part of the plan: a value of "
              "the policy's reports.group (a district bureau for Shanghai, e.g. 嘉定区; a zone, a ward ... for another "
              "policy). --district is the same option.")
@click.option("--out", "out", type=click.Path(dir_okay=False), metavar="plan.csv|plan.json",
              help="Write the plan's rows (CSV with a header row, or JSON) atomically; else print a summary.")
@click.option("--bom", is_flag=True, help="Start a .csv plan with a UTF-8 byte-order mark, by which Excel (which "
              "reads a CSV without one as the system's code page, GBK on a Chinese Windows) reads its Chinese as UTF-8.")
@errors_option
@as_of_option
@selection_options
@jobs_option
@policy_root_option
@click.pass_context
def plan_cmd(ctx, year, source, district, out, bom, errors, policy_name, as_of, version, jobs, backend, policy_roots):
    """The annual regular inspection plan for the cases of INPUT, as the policy declares it (reports.plan).

    \b
    INPUT is read as by `regcode batch` (JSONL, a folder of case files, or -). Each case is
    evaluated as of --as-of, else its own `as_of`, else YEAR-01-01 (or the first day of YEAR on
    which a policy version is in force). The policy's policy.yaml names the decisions the plan
    reads (for Shanghai: supervision_mode, inspections_per_year_min, inspection_sampling_ratio_min
    and competent_authority; 第二十三条, 第三十条):
      a mode whose share is 1   every case, `visits` a year (Shanghai: strict 2, normal 1);
      a mode whose share is < 1 per group, ceil(share x n) cases (credit 0.2, responsibility 0.5),
                                the first by sha256 of the declared seed ("YEAR:DISTRICT:CREDIT_CODE"):
                                the same inputs in any order give the same plan.
    Also listed: the special inspections due and the declared deadlines falling in YEAR (Shanghai:
    第二十九条; classification due, 第十条; end of an AA commitment bar, 第九条). Each row names
    its articles and the rules that decided it.

    \b
    Examples:
      regcode plan --year 2020 district.jsonl --group 嘉定区
      regcode plan --year 2020 district.jsonl --out plan.csv --errors err.jsonl

    Exit status: 0, or 1 when some case files were bad (the plan is still written from the rest).
    """
    check_input(source)
    # without --out, the plan goes to stdout; a folder INPUT is walked once, for these checks and the run
    reading = check_outputs([(out or "-", "--out"), (errors, "--errors")], source)
    write = None
    if out:
        write = SUFFIXES.get(Path(out).suffix.lower())
        if write is None:
            raise click.BadParameter(f"{out}: the plan is written as .csv or .json (by the file name's suffix)", param_hint="--out")
    if bom and (not out or write is not to_csv):
        raise click.BadParameter("a byte-order mark starts a CSV file: give it with --out PLAN.csv", param_hint="--bom")
    if source == "-":
        require_stdin()
    if not out:     # the summary goes to stdout: said before the run, and before --errors is written
        require_stdout()
    jobs = jobs or default_jobs()
    cat = catalog(policy_roots)
    policy_id = check_policy_options(cat, policy_name, version, [as_of] if as_of else [])
    check_compiles(cat, policy_id, version)
    check_plans(cat, policy_id, version)
    if district is not None:
        _check_district(cat, policy_id, version, district)
    default_as_of = year_start(cat, policy_id, version, year)
    evaluate = functools.partial(evaluate_for_plan, policy_name=policy_id, as_of=as_of, default_as_of=default_as_of,
                                 version=version, backend=backend)
    recheck = functools.partial(also_wrong, policy_name=policy_id, as_of=as_of, version=version)
    job = Job(catalog_factory(policy_roots), evaluate, plan_entry, recheck=recheck)

    for path in (out, errors):
        if path:
            on_interrupt(ctx, left_of(path))
    interactive = sys.stderr.isatty()
    progress = Progress(interactive, count_records(source, reading) if interactive else None)
    tally, entries = Tally(), []
    started = time.perf_counter()
    with ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())
        bad = BadRecords(stack.enter_context(atomic_writer(errors, errors="backslashreplace")) if errors else None, progress.echo,
                         written_by_this_run([out, errors], [stdout_file(not out)]))
        runner = stack.enter_context(Runner(job, jobs))
        stack.callback(progress.close)
        for outcome in runner.outcomes(read_records(source, on_skip=lambda e: bad.skip(e, tally), reading=reading)):
            tally.add(outcome)
            if outcome.ok:
                entries.append(outcome.value)
            else:
                bad.add(outcome)
            progress.update(tally)
    seconds = time.perf_counter() - started

    groups = sorted({e.group for e in entries if e.group})
    possible = _possible_groups(cat, entries) if district is not None and district not in groups else []
    if district is not None and district not in groups and district not in possible:
        spec = plan_spec(entries)
        one, label, key = (spec.unit[0], spec.group.label, spec.group.key) if spec else ("case", "group", "groups")
        hint = did_you_mean(district, sorted(set(groups) | set(possible)))
        raise click.BadParameter(f"no {one} of INPUT is in {label} {district!r}, and the policy has no such {label}; "
                                 f"{key} of INPUT: {', '.join(groups) or 'none'}" + (f"; {hint}" if hint else ""),
                                 param_hint="--group")
    mine = entries if district is None else [e for e in entries if e.group == district]
    plan = build_plan(mine, year, district, plan_spec(entries))
    bad.finish()
    if out:
        with atomic_writer(out, newline="") as sink:
            sink.write(("\ufeff" if bom else "") + write(plan))
        label = plan.spec.group.label if plan.spec else "group"
        click.echo(f"plan {year}: {len(plan.rows):,} rows for {district or f'{len(plan.districts)} {label}(s)'} written to "
                   f"{one_line(out)} ({len(mine):,} of {tally.read:,} case files{skipped_text(tally)}, evaluated in {seconds:.2f} s)", err=True)
        said = notes(plan)
        if said:
            click.echo(said, err=True)
    else:
        click.echo(summary_text(plan, tally, district, len(entries) - len(mine)))
    if tally.failed:
        ctx.exit(EXIT_POLICY)
