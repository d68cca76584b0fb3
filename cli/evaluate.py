"""`regcode eval`: decisions for one or more case files, with their reasons."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..engine import InputError, Issue, Location, PolicyError, evaluate_case, load_case_file, to_text
from ..engine.case import also_wrong
from ..engine.load import load_case_stream
from ..engine.batch import atomic_writer
from ..engine.errors import file_name, one_line
from .batch import check_output, left_of
from .main import (EXIT_POLICY, as_of_option, catalog, check_policy_options, echo_bytes, emitted, explain_option, note_outside_window,
                   on_interrupt, placed, policy_root_option, regcode, report_issues, selection_options, set_format)


def read_case(path: str):
    if path == "-":   # bytes, bounded: the same size limit and UTF-8 check as a file
        if sys.stdin.isatty():
            click.echo("reading one case file from standard input (end it with Ctrl-D)", err=True)
        return load_case_stream(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>")
    given, name = Path(path), file_name(path)     # (the name as the output can carry it: a byte not UTF-8 as \xNN)
    if given.is_dir() or given.suffix.lower() in (".jsonl", ".ndjson"):
        what = "a folder" if given.is_dir() else "JSON lines (one case file a line)"
        raise InputError([Issue("input.not_a_case_file", f"{name} is {what}; eval reads one case file (YAML or JSON) each",
                                Location(name), f"for many case files: regcode batch {name} --out results.jsonl")])
    return load_case_file(given, name)


def _read_case(cat, path: str, policy_name, as_of, version):
    """read_case, and for a case file refused for a value-level problem only, its other problems beside it."""
    try:
        return read_case(path)
    except InputError as exc:
        raise also_wrong(cat, exc, policy_name, as_of, version) from None


def _outside_its_window(cat, result: dict, path: str) -> None:
    """--policy-version forces a version on any date: one outside the version's window is noted."""
    policy = result["policy"]
    note_outside_window(cat.by_ref(f"{policy['id']}@{policy['version']}"), result["as_of"], path,
                        "evaluated with it because --policy-version named it")


def _labels(cat, result: dict) -> dict:
    """The labels the version that decided `result` declares for its decisions' values."""
    from ..engine.explain import labels_of
    policy = result["policy"]
    return labels_of(cat.by_ref(f"{policy['id']}@{policy['version']}"))


@regcode.command("eval", short_help="Decisions for case files, with their reasons.")
@click.argument("facts", nargs=-1, required=True, type=click.Path(allow_dash=True))
@as_of_option
@selection_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "yaml", "html"]), default="text", show_default=True)
@click.option("--site-url", "site_url", metavar="URL", help="With --format html: link the articles to this site "
              "(the DIR of `regcode site`, as a URL or a path relative to the page) instead of inlining their text.")
@click.option("--out", "out", type=click.Path(dir_okay=False, allow_dash=True), metavar="PATH",
              help="Write the output to PATH (the bytes stdout would get, any --format) instead of stdout, atomically: "
              "written whole or not at all, a file already there left as it was until then. - is stdout.")
@explain_option(None, "The why to keep: none, the decisive claims, or every claim and derived fact. "
                "Default: full for json/yaml, none (the decisions alone) for text.")
@policy_root_option
@click.pass_context
def eval_cmd(ctx, facts, policy_name, as_of, version, fmt, explain, backend, policy_roots, site_url, out):
    """Evaluate case files (一企一档) and print every decision with why it was taken.

    FACTS are YAML or JSON case files, or - for standard input. The policy version in force on
    each case's `as_of` (or --as-of) is used.

    \b
    Examples:
      regcode eval examples/cases/aa-clean.yaml
      regcode eval --format json --as-of 2020-06-30 examples/cases/*.yaml
      regcode eval --policy-root tests/policies --policy toy tests/fixtures/cases/toy-busy.yaml --explain
      regcode eval examples/cases/c-class-triggers.yaml --format html --out c-class.html

    With --out, a case file that fails is said on stderr as without it, and when none could be
    evaluated PATH is not written (a file already there is left as it was).
    """
    set_format(ctx, fmt)
    if site_url is not None and fmt != "html":
        raise click.BadParameter(f"the site's links are in the page --format html writes; --format {fmt} has none "
                                 "(add --format html, or leave --site-url out)", param_hint="--site-url")
    for path in facts:      # before any case is read: the input itself (stdout too: `>> case.yaml`), or no folder
        check_output(out or "-", "--out", path)
    if out is not None and out != "-":
        on_interrupt(ctx, left_of(out))
    level = explain or ("none" if fmt == "text" else "full")
    cat = catalog(policy_roots)
    policy_name = check_policy_options(cat, policy_name, version, [as_of] if as_of else [])
    results, failed, cases = [], False, []
    for path in facts:
        try:
            doc = _read_case(cat, path, policy_name, as_of, version)
            results.append(evaluate_case(cat, doc, policy_name, as_of, version, backend,
                                         "full" if fmt == "text" and level != "none" else level))
            cases.append(doc.data)
            if version is not None and fmt != "text":      # (the text says it under its first line, as every note)
                _outside_its_window(cat, results[-1], path)
        except PolicyError as exc:
            failed = True
            exc = placed(exc, lambda issue: f"FACTS {path!r}")   # an issue of no place is the case file's
            if len(facts) == 1:
                raise exc from None
            report_issues(exc.issues, "json" if fmt == "json" else "text")
    if fmt == "text":
        data = ("\n\n".join(to_text(r, level, _labels(cat, r)) for r in results) + "\n").encode("utf-8")
    elif fmt == "html":
        from ..engine.html import eval_page
        data = eval_page(cat, list(zip(results, cases)), site_url, level).encode("utf-8") if results else b""
    else:
        data = emitted(results[0] if len(facts) == 1 else results, fmt) if results else b""
    if out is None or out == "-":
        echo_bytes(data, nl=False)
    elif results:       # what stdout would get, byte for byte; none evaluated: a file already there is kept
        with atomic_writer(out) as sink:
            sink.write_bytes(data)
    else:
        kept = f"{one_line(out)} is left as it was" if os.path.lexists(out) else f"no {one_line(out)} was written"
        click.echo(f"no case file could be evaluated: {kept}", err=True)
    if failed:
        ctx.exit(EXIT_POLICY)
