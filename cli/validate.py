"""`regcode validate`: every problem in one or more policy versions, at once."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..engine import Issue, Location, PolicyError, dump_json
from ..engine.catalog import policy_loops, version_manifests
from ..engine.load import LOOP_WORDS
from ..engine.reports import reports_of
from ..engine.testing import check_cases, discover
from .main import EXIT_POLICY, catalog, policy_root_option, regcode, report_issues, set_format


def version_dirs(paths, cat) -> list:
    """PATH may be a version folder, a policy folder, or a root of policies."""
    found = []
    for raw in paths:
        path = Path(raw)
        if os.path.lexists(path / "policy.yaml"):
            found.append(path)
        elif any(path.glob("*/policy.yaml")):
            found.extend(sorted(p.parent for p in path.glob("*/policy.yaml")))
        elif any(path.glob("*/*/policy.yaml")):
            found.extend(sorted(p.parent for p in path.glob("*/*/policy.yaml")))
        else:
            raise click.BadParameter(f"{raw}: no policy.yaml here, one level down (a policy) or two (a root of policies)",
                                     param_hint="PATH")
    return found


def _cases_anyway(failed: PolicyError, directory, cat) -> list:
    """The problems of a version's test cases when it failed to compile but its declarations stood (compile's
    `partial`): what check_cases says needs only those (decisions, articles, the facts schema), so it is said in the
    same run. Nothing when they did not stand: a case would be checked against what is not yet there."""
    partial = getattr(failed, "partial", None)
    if partial is None:
        return []
    found, aside = [], []
    try:
        cases = discover(directory, found, checked_only=aside)
        return found + check_cases(partial, cases + aside, cat)
    except PolicyError as exc:
        return list(exc.issues)


@regcode.command("validate", short_help="Every problem in policy versions, as file:line:col.")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
@policy_root_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def validate_cmd(ctx, paths, policy_roots, fmt):
    """Check policy versions and report every problem as file:line:col: code: message (hint).

    PATH may be a version folder, a policy folder or a root of policies. Without PATH: every
    version under the --policy-root folders given, else every shipped version.

    \b
    Examples:
      regcode validate
      regcode validate --policy-root tests/policies examples/drafting/toy/2
      regcode validate --policy-root examples/amendment/policies --format json
    """
    set_format(ctx, fmt)
    cat = catalog(policy_roots, allow_empty=True)   # validate reports an empty root itself (validate.empty_root)
    issues, results, unplaced = [], [], []     # unplaced: a root's own problems, of no version
    if paths:
        dirs = version_dirs(paths, cat)
    elif policy_roots:   # what the user pointed at, every version folder of it, broken manifests included
        dirs = []
        for root in cat.user_roots:
            manifests, links = version_manifests(root)     # as the catalog finds them: /proc/PID/cwd is no version
            found = [p.parent for p in manifests]
            for loop in policy_loops(root):     # a policy folder that is a loop of links: no version of it is read
                unplaced.append(Issue("load.io", f"`{loop}` is {LOOP_WORDS}, so no policy is read from it", Location(str(loop)),
                                      f"point `{loop}` at a policy folder, or remove it"))
                issues.append(unplaced[-1])
            if not found:
                outside = f"; {links[0]} is a link to a folder outside it" if links else ""
                unplaced.append(Issue("validate.empty_root", f"no policy versions under `{root}`: a policy root holds "
                                      f"POLICY/VERSION/policy.yaml{outside}", Location(str(root)),
                                      "pass the folder that holds the policy folders, or name a version folder as PATH"))
                issues.append(unplaced[-1])
            dirs.extend(found)
    else:
        dirs = [v.directory for pid in cat.policy_ids() for v in cat.versions(pid)] + [b.directory for b in cat.broken()]
    for directory in dirs:
        try:
            ties = cat.same_start(directory) if os.path.lexists(directory / "policy.yaml") else []   # two versions from one day
            try:
                policy = cat.compile_dir(directory)
            except PolicyError as exc:
                raise PolicyError(exc.issues + ties + _cases_anyway(exc, directory, cat)) from None
            reports_of(policy, cat)     # the batch summary and plan it declares name real decisions
            found, aside = [], []    # its test cases: their schema, then pins, dates, errors, decisions, values (of those
            cases = discover(directory, found, checked_only=aside)    # set aside too, as read for checking)
            mistakes = found + check_cases(policy, cases + aside, cat) + ties
            if mistakes:
                raise PolicyError(mistakes)
            results.append({"policy": policy.id, "version": policy.version, "path": str(directory), "ok": True,
                            "rules": len(policy.rules), "content_hash": policy.content_hash})
        except PolicyError as exc:
            said = list(dict.fromkeys(exc.issues))    # (a test file's problem, said by compile and by discover: once)
            issues.extend(said)
            results.append({"policy": directory.parent.name, "version": directory.name, "path": str(directory), "ok": False,
                            "errors": [i.as_dict() for i in said]})
    if fmt == "json":
        report = {"ok": not issues, "versions": results}
        if unplaced:        # else --format json said `"ok": false` and not why
            report["errors"] = [i.as_dict() for i in unplaced]
        click.echo(dump_json(report))
    else:
        for r in results:
            if r["ok"]:
                click.echo(f"ok  {r['policy']}@{r['version']}  {r['rules']} rules  {r['content_hash']}")
        if issues:
            report_issues(list(dict.fromkeys(issues)), counted=True)    # two versions starting on one day: said once
    if issues:
        ctx.exit(EXIT_POLICY)
