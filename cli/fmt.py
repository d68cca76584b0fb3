"""`regcode fmt`: rewrite rules files in their canonical layout, or (--check) say which are not."""
from __future__ import annotations

import click

from ..engine.errors import IssueCollector
from ..engine.fmt import format_file, write, yaml_files
from .main import EXIT_POLICY, regcode, report_issues


@regcode.command("fmt", short_help="Rules files in one canonical layout (--check for CI).")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when a file is not in the canonical layout (for CI).")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print what would change, as a unified diff.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems and files that change.")
@click.pass_context
def fmt_cmd(ctx, paths, check, show_diff, quiet):
    """Put rules files (kind Rules) in the canonical layout, keeping comments: keys in schema order
    (a rule: id, article, clause, title, note, override, for_each, as, when, then), 2-space indentation,
    flow style where the author used it. PATHS are files or folders (default: the current folder).

    \b
    Examples:
      regcode fmt --check policies
      regcode fmt --diff policies/shanghai-post-license/2017/rules/ch3-supervision.yaml"""
    issues = IssueCollector()
    changed = unchanged = 0
    named = {str(p) for p in paths}     # a file named on the command line and not formatted is said, not passed over
    for path in yaml_files(list(paths) or ["."], issues):
        result = format_file(path)
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        if result.issues:
            issues.extend(result.issues)
            continue
        if result.skipped:
            if str(path) in named:
                click.echo(f"{result.display}: fmt.skipped: {result.skipped}; regcode fmt formats rules files only", err=True)
            continue
        if not result.changed:
            unchanged += 1
            continue
        changed += 1
        if show_diff:
            click.echo(result.diff(), nl=False)
        if check or show_diff:      # like gofmt -d and black --diff: look, do not touch
            click.echo(f"would reformat {result.display}", err=show_diff and not check)
        else:
            write(result)
            click.echo(f"reformatted {result.display}")
    if not quiet:
        verb = "would be reformatted" if check or show_diff else "reformatted"
        click.echo(f"{changed} rules file(s) {verb}, {unchanged} already canonical", err=True)
    if issues:
        report_issues(issues.issues)
    if issues or (check and changed):
        ctx.exit(EXIT_POLICY)
