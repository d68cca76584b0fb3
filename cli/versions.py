"""`regcode show` and `regcode diff`: a resolved version, and what changes between two versions."""
from __future__ import annotations

import click

from ..engine import Issue, Location, dump_json
from ..engine.errors import one_line
from ..engine.batch import Runner, default_jobs, terminate_as_interrupt
from ..engine.corpus import read_records
from ..engine.load import printable
from ..engine.diff import diff, diff_job, has_changes, mostly_failed, to_text, unread
from .batch import catalog_factory, jobs_option
from .main import EXIT_POLICY, argument, as_of_option, catalog, emit, policy_root_option, regcode, report_issues, set_format


@regcode.command("show", short_help="A version after inheritance, with its content hash.")
@click.argument("ref", metavar="POLICY@VERSION")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@policy_root_option
@click.pass_context
def show_cmd(ctx, ref, fmt, policy_roots):
    """Print a version after inheritance (`extends` resolved), with its content hash.

    A dated parameter of an extending version shows its whole timeline: the base's value before
    its first date, then its own values.

    \b
    Example:
      regcode show shanghai-post-license@2022-illustration --policy-root examples/amendment/policies
    """
    set_format(ctx, fmt)
    with argument("POLICY@VERSION", ref):
        policy = catalog(policy_roots).by_ref(ref)
    if fmt == "yaml":       # the sorted keys put the hash mid-file: say what this is first, as a YAML comment
        bases = list(policy.chain)[1:]
        click.echo(f"# {policy.ref} ({policy.content_hash})" + (f", with what it inherits from {' <- '.join(bases)}" if bases else ""))
    emit({"content_hash": policy.content_hash, "chain": list(policy.chain), **policy.resolved}, fmt)


@regcode.command("diff", short_help="What changes between two versions, over a corpus too.")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--corpus", type=click.Path(exists=True, allow_dash=True), help="A folder of case files or a JSONL file.")
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text", show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when anything differs (for CI).")
@click.option("--all-changes", is_flag=True, help="In the text, list each decision's every value change (old -> new) on a "
              "line of its own, not only the most frequent (--format json always lists them all).")
@jobs_option
@policy_root_option
@click.pass_context
def diff_cmd(ctx, old, new, corpus, as_of, fmt, fail_on_change, all_changes, jobs, policy_roots):
    """Compare two versions (POLICY@VERSION or a version folder): rules, parameters and, with
    --corpus, the decisions of every case under both.

    Over a corpus, each decision that changed is one line: in how many of the compared cases,
    by which rules, and the most frequent of its value changes (--all-changes lists each).
    Cases that fail to evaluate on either side are counted apart from changed ones; when most
    cases fail, the first line says so and the exit status is 1. A record of the corpus that
    cannot be read (not JSON, not an object, not UTF-8, no date ...) is a ? line with its place,
    the rest are still compared, and the exit status is 1 (cases left out are no pass). The
    corpus's cases are spread over --jobs worker processes, as `regcode batch` spreads them: the
    output does not depend on it.

    \b
    Example:
      regcode diff shanghai-post-license@2017 shanghai-post-license@2022-illustration \\
          --policy-root examples/amendment/policies --corpus examples/amendment/corpus.jsonl --jobs 2
    """
    set_format(ctx, fmt)
    if corpus:
        from .batch import check_input, check_outputs
        check_input(corpus, "--corpus")
        check_outputs([("-", "--corpus")], corpus)    # the report goes to stdout: not into the corpus (`> cases/x.json`)
    elif jobs is not None:
        raise click.BadParameter("worker processes evaluate a corpus's cases, and without --corpus no case is evaluated "
                                 "(add --corpus FILE_OR_FOLDER, or leave --jobs out)", param_hint="--jobs")
    cat = catalog(policy_roots)
    with argument("OLD", old):
        old_p = cat.by_ref(old)
    with argument("NEW", new):
        new_p = cat.by_ref(new)
    skipped = []

    own = None
    if corpus:     # standard output redirected into the corpus folder under a name it does not read: the report, not input
        from ..engine.batch import written_by_this_run
        from .batch import stdout_file
        own = written_by_this_run([], [stdout_file(True)])

    def skip(entry):   # said at once, on stderr, and listed in the result
        if own is not None and own(entry.path):
            return
        skipped.append(entry)
        click.echo(printable(str(entry)), err=True)
    if corpus:      # each case under both versions, on N processes (each worker compiles OLD and NEW), in input order
        job = diff_job(catalog_factory(policy_roots), old, new, as_of)
        with terminate_as_interrupt(), Runner(job, jobs or default_jobs()) as runner:
            result = diff(old_p, new_p, skipped=skipped, cat=cat,
                          outcomes=runner.outcomes(read_records(corpus, on_skip=skip)))
    else:
        result = diff(old_p, new_p, cat=cat)
    if fmt == "html":
        from ..engine.html import diff_page
        click.echo(diff_page(result, old_p, new_p), nl=False)
    else:
        click.echo(dump_json(result) if fmt == "json" else to_text(result, all_changes))
    if corpus and not (result.get("corpus") or {}).get("cases") and not skipped:
        # a comparison over no case compared nothing: said, and no success (a CI gate given the wrong file)
        report_issues([Issue("diff.empty_corpus", f"the corpus {one_line(corpus)} holds no case file: no decision was compared",
                             Location(str(corpus)), "give a folder of case files or a JSONL file with one case a line")])
        ctx.exit(EXIT_POLICY)
    lost = unread(result)
    if lost:     # cases left out are no pass, whatever the rest says: batch and replay exit 1 on them too
        c = result["corpus"]
        folders = sum(1 for s in c["skipped"] if s["lost"])
        bad = len(c["unreadable"])
        what = " and ".join(
            ([f"{bad} of the corpus's {c['cases']} record{'s' if c['cases'] != 1 else ''} could not be read (the ? lines)"] if bad else [])
            + ([f"{folders} folder{'s' if folders != 1 else ''} of it could not be listed (on stderr above)"] if folders else []))
        report_issues([Issue("diff.unreadable", f"{what}; only the rest are compared",
                             Location(str(corpus)), "mend or remove what could not be read: each is listed with its place")])
    if lost or mostly_failed(result) or (fail_on_change and has_changes(result)):
        ctx.exit(EXIT_POLICY)
