"""`regcode eval`: decisions for one or more case files, with their reasons."""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from ..engine import (Issue, InputError, Location, PolicyError, SelectionError, check_case, evaluate, load_case_file,
                      load_case_text, to_dict, to_text)
from ..engine._dates import is_date
from .main import selection_options, EXIT_POLICY, as_of_option, catalog, emit, policy_root_option, regcode, report_issues, set_format


def read_case(path: str):
    if path == "-":
        return load_case_text(sys.stdin.read(), "<stdin>")
    return load_case_file(Path(path), path)


def case_as_of(doc, as_of):
    """--as-of wins over the case file's as_of; one of them is needed."""
    if as_of:
        return as_of
    value = doc.data.get("as_of")
    if value is None:
        raise InputError([Issue("input.as_of", "no evaluation date: the case file has no `as_of`", doc.location(),
                                "add `as_of: YYYY-MM-DD` to the case file or pass --as-of")])
    if not is_date(value):
        raise InputError([Issue("input.as_of", f"as_of {value!r} is not a date", doc.location(("as_of",)), "write YYYY-MM-DD")])
    return value


def evaluate_doc(cat, doc, policy_name, as_of, version, backend, explain=True):
    """The shared path of eval, test and batch: pick the version in force, check the case, evaluate."""
    when = case_as_of(doc, as_of)
    try:
        policy = cat.select(cat.policy_id(policy_name), when, version)
    except SelectionError as exc:   # name the case file (and its as_of line when the date came from it)
        where = Location(doc.location().file) if as_of else doc.location(("as_of",))
        raise SelectionError([replace(i, location=where) if not i.location.file else i for i in exc.issues]) from None
    check_case(policy, doc)
    return to_dict(evaluate(policy, doc.data, when, backend=backend, source=doc.location().file, checked=True), explain)


@regcode.command("eval")
@click.argument("facts", nargs=-1, required=True, type=click.Path(allow_dash=True))
@as_of_option
@selection_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True)
@click.option("--explain/--no-explain", default=False, help="Text: show the reasons under each decision (json/yaml always carry `why`).")
@policy_root_option
@click.pass_context
def eval_cmd(ctx, facts, policy_name, as_of, version, fmt, explain, backend, policy_roots):
    """Evaluate case files (一企一档) and print every decision with why it was taken.

    FACTS are YAML or JSON case files, or - for standard input.
    """
    set_format(ctx, fmt)
    cat = catalog(policy_roots)
    results, failed = [], False
    for path in facts:
        try:
            doc = read_case(path)
            results.append(evaluate_doc(cat, doc, policy_name, as_of, version, backend))
        except PolicyError as exc:
            failed = True
            if len(facts) == 1:
                raise
            report_issues(exc.issues, "json" if fmt == "json" else "text")
    if fmt == "text":
        click.echo("\n\n".join(to_text(r, explain) for r in results))
    elif results:
        emit(results[0] if len(facts) == 1 else results, fmt)
    if failed:
        ctx.exit(EXIT_POLICY)
