"""`regcode test` and `regcode coverage`: a policy's own cases, and which articles they exercise."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..engine import dump_json
from ..engine.errors import by_place, one_line
from ..engine.coverage import report
from ..engine.testing import against_exempt, junit_xml, said_once, tested
from .main import (EXIT_POLICY, argument, argument_free, backend_option, catalog, emit, policy_root_option, ref_label, regcode,
                   report_issues, set_format)


def _versions(cat, policy, version):
    """POLICY may be an id, id@version or a version folder; default: every version of the only policy."""
    if policy and Path(policy).is_file():
        tests = Path(policy).parent.name == "tests"     # a version's test file: pytest runs just its cases
        raise click.BadParameter(f"{policy!r} is a file; give a policy, POLICY@VERSION or a version folder"
                                 + (f" (to run one test file's cases: pytest {policy})" if tests else ""), param_hint="POLICY")
    with argument(ref_label(policy), policy) if policy else argument_free():
        if policy and os.path.lexists(Path(policy) / "policy.yaml"):
            return [cat.compile_dir(Path(policy))]
        if policy and "@" in policy:
            return [cat.by_ref(policy)]
        pid = cat.policy_id(policy)
        if version is None:
            cat.refuse_broken(pid)      # every version was asked for: a broken one is said, not left untested
    infos = [v for v in cat.versions(pid) if version is None or v.version == version]
    if not infos:
        with argument("--policy-version", version):
            cat.select(pid, "0000-00-00", version)  # raises the clear "no such version" error
    return [cat.compiled(v) for v in infos]


def _against(cat, compiled, against):
    """--against VERSION (of the same policy), POLICY@VERSION or a version folder: the version the cases run on."""
    if not against:
        return None
    with argument("--against", against):
        return cat.by_ref(against if "@" in against or Path(against).is_dir() else f"{compiled.id}@{against}")


@regcode.command("test", short_help="Run a policy's own test cases.")
@click.argument("policy", required=False)
@click.option("--policy-version", "version", metavar="V", help="Only this version's cases.")
@click.option("--against", metavar="VERSION", help="Run the cases against another version (regression check).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="Also write a JUnit XML report here.")
@backend_option
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
@policy_root_option
@click.pass_context
def test_cmd(ctx, policy, version, against, fmt, junit, backend, verbose, policy_roots):
    """Run a policy's test cases (tests/*.yaml, kind TestCases); print pass/fail with the decisions that differ.

    \b
    Examples:
      regcode test shanghai-post-license
      regcode test --junit report.xml shanghai-post-license@2017
      regcode test shanghai-post-license@2017 --against 2022-illustration --policy-root examples/amendment/policies
    """
    set_format(ctx, fmt)
    if junit:       # a folder that is not there, or a name ending in / (kept as given: Path() drops it), is said now,
        from .batch import check_output     # not after every case has run
        check_output(junit, "--junit", "-")
    cat = catalog(policy_roots)
    results, problems, set_aside = [], [], []
    for compiled in _versions(cat, policy, version):
        # a malformed case is set aside and said (checked as read, never run); the others run; what validate says of
        # the cases (an unknown decision, a value it cannot take) is said here too, but with --against
        ran, _counted, found, aside = tested(cat, compiled, backend, _against(cat, compiled, against))
        problems.extend(found)
        set_aside.extend(aside)
        results.extend(ran)
    # a parameter that has no value on the cases' date: said once, at the parameter, not once a case
    problems = by_place(problems + said_once(results))      # as validate lists them: by file, line and column
    passed = sum(r.status == "pass" for r in results)
    failed = len(results) - passed
    stopped = sum(r.not_evaluated for r in results)
    if fmt == "json":
        click.echo(dump_json({"passed": passed, "failed": failed, "not_evaluated": stopped, "set_aside": len(set_aside),
                              "cases": [r.as_dict() for r in results], "problems": [i.as_dict() for i in problems]}))
    else:
        if problems:     # before the results: each names the place to fix, where a FAIL line only shows the symptom
            report_issues(problems, counted=True)
        for r in results:
            # one line each, the case's name, file and values with their control characters escaped (one_line): a
            # case's name or value may hold any (a case expecting input.text has one), and a terminal would run them
            loc, name = r.case.location, one_line(r.case.name)
            at = f"{one_line(loc.file)}:{loc.line}"
            if r.status == "pass":
                if verbose:
                    click.echo(f"PASS  {at}  {name}")
                continue
            if r.not_evaluated:     # what stopped it is the problem above
                names = ", ".join(f"`{i.parameter}`" for i in r.issues)
                click.echo(f"ERROR {at}  {name}  [{r.policy_ref}]  not evaluated: {names} "
                           "has no value on its date (said above)")
                continue
            click.echo(f"{r.status.upper():<5} {at}  {name}  [{r.policy_ref}]")
            for d in r.diffs:
                why = f"   (by {', '.join(d['why'])})" if d.get("why") else ""
                click.echo(one_line(f"        {d['decision']}: expected {dump_json(d['expected'])}, got {dump_json(d['actual'])}{why}"))
            if r.status == "error" and r.error:
                for line in r.error["message"].splitlines():
                    click.echo(f"        {one_line(line)}")
        if against:
            own = sum(against_exempt(r.case) for r in results)
            click.echo(f"against {against}: {failed - stopped} of {len(results) - stopped} expectations no longer hold"
                       + (f" ({own} expecting a selection error judged by their own version's window, as its own run does)"
                          if own else "")
                       + (f"; {stopped} not evaluated, dated before a parameter's first value (said above)" if stopped else ""))
        click.echo(f"{passed} passed, {failed} failed" + (f" ({stopped} not evaluated)" if stopped else "")
                   + (f", {len(set_aside)} set aside" if set_aside else ""))
        if not results and not against:    # said, not passed over: an extending version has none of its base's
            click.echo("note: no test cases here (tests/*.yaml); test cases are not inherited: "
                       "`regcode test BASE --against VERSION` runs the base's on this version", err=True)
    if junit:       # after the results are printed: a report that cannot be written loses none of them
        from ..engine.batch import atomic_writer
        with atomic_writer(Path(junit)) as out:
            out.write(junit_xml(results, policy or "regcode"))
    if failed or problems:
        ctx.exit(EXIT_POLICY)


@regcode.command("coverage", short_help="Which articles are encoded, and tested.")
@click.argument("policy", required=False)
@click.option("--policy-version", "version", metavar="V")
@click.option("--against", metavar="VERSION", help="Which rules of another version the cases make fire (run on it, as "
              "`regcode test --against` runs them).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.option("--fail-on-untested", is_flag=True, help="Exit 1 when a rule fires in no test case or an article is missing.")
@backend_option
@policy_root_option
@click.pass_context
def coverage_cmd(ctx, policy, version, against, fmt, fail_on_untested, backend, policy_roots):
    """Per article: encoded or not (and why), its rules, and whether a test case makes each rule fire.

    With --against, the coverage of the other version (VERSION of the same policy, POLICY@VERSION or a
    version folder) by POLICY's cases, each run on it as `regcode test --against` runs it: its
    articles and rules, and which of them the cases that still pass there make fire.

    \b
    Examples:
      regcode coverage shanghai-post-license --fail-on-untested
      regcode coverage shanghai-post-license@2017 --against 2022-illustration --policy-root examples/amendment/policies
    """
    set_format(ctx, fmt)
    cat = catalog(policy_roots)
    reports, problems = [], []
    for compiled in _versions(cat, policy, version):
        # as `regcode test` reads and runs the cases; a rule is tested by a case that passes with nothing said against it
        other = _against(cat, compiled, against)
        results, counted, found, set_aside = tested(cat, compiled, backend, other)
        rep = report(other or compiled, counted)
        if other is not None:
            rep["cases_of"] = compiled.ref
        rep["not_counted"] = [{**r.as_dict(), "status": r.status if r.status != "pass" else "problem"}
                              for r in results if r.case.id not in counted]
        rep["set_aside"] = len(set_aside)
        rep["problems"] = [i.as_dict() for i in by_place(found)]
        problems.extend(by_place(found))
        reports.append(rep)
    if fmt != "text":
        emit(reports[0] if len(reports) == 1 else reports, fmt)
    else:
        if problems:    # said first, as `regcode test` says them: each names the place to fix
            report_issues(problems, counted=True)
        for rep in reports:
            s = rep["summary"]
            broken = [f"{len(rep['not_counted'])} not counted (failing, or with a problem)"] if rep["not_counted"] else []
            broken += [f"{rep['set_aside']} set aside"] if rep["set_aside"] else []
            click.echo(f"{rep['policy']['id']}@{rep['policy']['version']}: {s['articles']} articles, {s['encoded']} encoded "
                       f"({s['encoded_and_tested']} fully tested), {s['not_decidable']} not machine-decidable; "
                       f"{s['rules_tested']}/{s['rules']} rules fire in {s['cases']} cases"
                       + (f" of {rep['cases_of']}" if rep.get("cases_of") else "")
                       + (f" ({', '.join(broken)})" if broken else ""))
            for r in rep["not_counted"]:
                click.echo(f"  {r['status'].upper():<7} {r['file']}:{r['line']}  {r['name']}  (not counted)")
            for a in rep["articles"]:
                if a["status"] == "encoded":
                    mark = "ok " if a["tested"] else "!! "
                    rules = ", ".join(f"{r['id']}{'' if r['tested'] else ' (untested)'}" for r in a["rules"])
                    click.echo(f"  {mark}{a['article']} {a['title']}: {rules}")
                else:
                    click.echo(f"  -- {a['article']} {a['title']}: not decidable: {a['reason']}")
            if rep["missing_articles"]:
                click.echo(f"  missing from the article index: {', '.join(map(str, rep['missing_articles']))}")
            if rep["untested_rules"]:
                click.echo(f"  rules that fire in no test case: {', '.join(rep['untested_rules'])}")
    if problems or any(r["not_counted"] for r in reports) or \
            fail_on_untested and any(r["untested_rules"] or r["missing_articles"] for r in reports):
        ctx.exit(EXIT_POLICY)
