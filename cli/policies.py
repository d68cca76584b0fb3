"""`regcode policies`: the shipped policies, their versions and windows."""
from __future__ import annotations

import click

from .main import catalog, emit, policy_root_option, regcode


@regcode.command("policies")
@policy_root_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
def policies_cmd(policy_roots, fmt):
    """List the policies, their versions and the dates each is in force."""
    cat = catalog(policy_roots)
    rows = []
    for pid in cat.policy_ids():
        for v in cat.versions(pid):
            rows.append({"policy": pid, "version": v.version, "title": v.title, "effective_from": v.effective_from,
                         "effective_to": v.effective_to, "extends": v.extends, "path": str(v.directory)})
    if fmt != "text":
        emit(rows, fmt)
        return
    if not rows:
        click.echo("no policies found")
        return
    for r in rows:
        ext = f"  extends {r['extends']}" if r["extends"] else ""
        click.echo(f"{r['policy']}@{r['version']}  {r['effective_from']} .. {r['effective_to'] or 'open'}  {r['title']}{ext}")
