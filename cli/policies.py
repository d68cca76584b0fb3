"""`regcode policies`: the shipped policies, their versions and windows."""
from __future__ import annotations

import click

from .main import EXIT_POLICY, catalog, emit, policy_root_option, regcode, report_issues


@regcode.command("policies", short_help="The policies, their versions and when each is in force.")
@policy_root_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.pass_context
def policies_cmd(ctx, policy_roots, fmt):
    """List the policies, their versions and the dates each is in force.

    \b
    Example:
      regcode policies --policy-root examples/amendment/policies

    A version folder whose policy.yaml cannot be read (or links outside its root) is listed on
    stderr with the reason, and the exit status is then 1.
    """
    cat = catalog(policy_roots)
    broken = cat.broken()
    rows = []
    for pid in cat.policy_ids():
        for v in cat.versions(pid):
            rows.append({"policy": pid, "version": v.version, "title": v.title, "effective_from": v.effective_from,
                         "effective_to": v.effective_to, "extends": v.extends, "path": str(v.directory)})
    if fmt != "text":
        emit(rows, fmt)
    elif not rows:
        click.echo("no policies found")
    for r in rows if fmt == "text" else []:
        ext = f"  extends {r['extends']}" if r["extends"] else ""
        click.echo(f"{r['policy']}@{r['version']}  {r['effective_from']} .. {r['effective_to'] or 'open'}  {r['title']}{ext}")
    if broken:
        report_issues([i for b in broken for i in b.issues], "json" if fmt == "json" else "text")
        ctx.exit(EXIT_POLICY)
