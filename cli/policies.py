"""`regcode policies`: the shipped policies, their versions and windows."""
from __future__ import annotations

import click

from .main import EXIT_POLICY, catalog, emit, policy_root_option, regcode, report_issues


@regcode.command("policies", short_help="The policies, their versions and when each is in force.")
@policy_root_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.pass_context
def policies_cmd(ctx, policy_roots, fmt):
    """List the policies, their versions and the dates each is in force: the days on which a date
    selects it, which is its declared window unless a later version's overlaps it (a date there
    selects the later start: `2017-05-01 .. 2019-12-31 (then @2020)`, and a note says so).

    \b
    Example:
      regcode policies --policy-root examples/amendment/policies

    A version folder whose policy.yaml cannot be read (or links outside its root) is listed on
    stderr with the reason, and the exit status is then 1.
    """
    cat = catalog(policy_roots)
    broken = cat.broken()
    rows = []
    notes = []
    for pid in cat.policy_ids():
        chosen, overlaps = cat.chosen_windows(pid), cat.overlap_notes(pid)
        for v in cat.versions(pid):
            rows.append({"policy": pid, "version": v.version, "title": v.title, "effective_from": v.effective_from,
                         "effective_to": v.effective_to, "extends": v.extends, "path": str(v.directory),
                         "chosen": [{"from": first, "to": last, "then": after} for first, last, after in chosen[v.version]],
                         "in_force": cat.in_force_text(pid, v.version),
                         "overlaps": [text for a, b, text in overlaps if v.version in (a, b)]})
        notes += [text for _a, _b, text in overlaps]
    if fmt != "text":
        emit(rows, fmt)
    elif not rows:
        click.echo("no policies found")
    for r in rows if fmt == "text" else []:
        ext = f"  extends {r['extends']}" if r["extends"] else ""
        click.echo(f"{r['policy']}@{r['version']}  {r['in_force']}  {r['title']}{ext}")
    for note in notes if fmt == "text" else []:
        click.echo(f"note: {note}")
    if broken:
        report_issues([i for b in broken for i in b.issues], "json" if fmt == "json" else "text")
        ctx.exit(EXIT_POLICY)
