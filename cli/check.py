"""`regcode check`: logic checks of policy versions (gaps, conflicts, dead rules, losing claims, unused names)."""
from __future__ import annotations

import click

from ..engine import dump_json
from ..engine.check import BUDGET, check, to_text
from .main import EXIT_POLICY, as_of_option, catalog, note_outside_window, policy_root_option, regcode, set_format
from .testcmd import _versions


@regcode.command("check", short_help="Logic checks: gaps, conflicts, dead rules, unused names.")
@click.argument("policy", required=False, metavar="[POLICY[@VERSION]]")
@as_of_option(help="Date the synthetic cases this day only (YYYY-MM-DD); default: the version's first day and "
                    "each day in its window where a dated parameter changes. A day outside a version's window is "
                    "noted on stderr.")
@click.option("--budget", type=click.IntRange(1, 1_000_000), default=BUDGET, show_default=True,
              help="Synthetic cases to evaluate at most; a larger input space is sampled, and the report says so.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample (the same seed, the same cases).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Also list the findings a note explains.")
@policy_root_option
@click.pass_context
def check_cmd(ctx, policy, as_of, budget, seed, fmt, verbose, policy_roots):
    """Logic checks, each with a stable code, the place and a hint:

    \b
      check.not_exhaustive    a `required`/`required_when` decision no rule claims, over the categorical inputs
      check.conflict          a `unique` decision claimed with two values
      check.dead_condition    a rule whose condition can never hold
      check.always_loses      a claim its decision's combine always overrules
      check.unused_parameter, check.unread_derived, check.underived_fact, check.unclaimed_decision

    A finding whose rule (or declaration) note names its code is explained, and does not fail.
    POLICY is an id, id@version or a version folder; without it, every known version.

    \b
    Examples:
      regcode check shanghai-post-license
      regcode check planted --policy-root tests/fixtures/check --format json"""
    set_format(ctx, fmt)
    cat = catalog(policy_roots)
    versions = _versions(cat, policy, None) if policy else [cat.compiled(v) for pid in cat.policy_ids() for v in cat.versions(pid)]
    for p in versions if as_of else ():     # said before the checks run, which can take a while
        note_outside_window(p, as_of, "--as-of", "its synthetic cases are dated that day all the same")
    reports = [check(cat, p, as_of, budget, seed) for p in versions]
    if fmt == "json":
        click.echo(dump_json(reports[0].as_dict() if len(reports) == 1 else [r.as_dict() for r in reports]))
    else:
        for report in reports:
            click.echo(to_text(report, verbose))
    if any(r.unexplained for r in reports):
        ctx.exit(EXIT_POLICY)
