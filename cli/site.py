"""`regcode site`: the policy as a static site that opens from the file system (article text beside its rules)."""
from __future__ import annotations

from pathlib import Path

import click

from ..engine import PolicyError
from ..engine.html import build_site
from .main import backend_option, catalog, counted, label_of, policy_root_option, regcode, version_entries


def _versions(cat, refs) -> tuple:
    """([compiled versions], [(entry, issues)] of those that do not compile) for POLICY (every version),
    POLICY@VERSION or a version folder; default: every version of every policy. A broken version costs
    its own pages only: it is said (exit 1), never silently dropped, and never stops the others'."""
    found, failed = {}, {}
    for ref in refs or [None]:
        good, bad = cat.compile_each(version_entries(cat, ref))
        for p in good:
            found[p.ref] = p
        for entry, issues in bad:
            failed[label_of(entry)] = (entry, issues)
    return [found[k] for k in sorted(found)], [failed[k] for k in sorted(failed)]


@regcode.command("site", short_help="The policies as a static HTML site (the law beside its rules).")
@click.argument("refs", nargs=-1, metavar="[POLICY[@VERSION]...]")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="The folder to write the site into (created when missing). The site owns it: see below.")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty and holds no regcode site "
              "(nothing already there is removed; files of the same name are overwritten).")
@backend_option
@policy_root_option
def site_cmd(refs, out, force, backend, policy_roots):
    """Write the policies as a static HTML site: per version its articles in order, the Chinese text with
    the rules that encode it beside it, their notes and test cases, coverage per article, parameters over
    time, and what each version changes. Every asset is in DIR; open DIR/index.html, no server needed.

    DIR/.regcode-site.json lists what the build wrote; the next build into DIR removes the files it
    listed and no longer writes (a version removed, fewer policies), and nothing else. A file changed
    since it was written is kept, and said. A folder that is not empty and holds no such list is
    refused (it is not a site), unless --force. A version that does not compile costs its own pages
    only: the rest is written, its problems are listed, and the exit status is 1.

    \b
    Examples:
      regcode site --out site
      regcode site shanghai-post-license@2022-illustration --policy-root examples/amendment/policies --out site"""
    cat = catalog(policy_roots)
    policies, failed = _versions(cat, refs)
    files = build_site(cat, policies, out, backend, force)
    pages = sum(f.suffix == ".html" for f in files)
    gone = f"; removed {counted(len(files.removed), 'file')} the previous build wrote and this one does not" if files.removed else ""
    click.echo(f"wrote {counted(pages, 'page')} and {counted(len(files) - pages, 'asset')} to {out}{gone}; "
               f"open {out / 'index.html'}")
    for path in files.kept:
        click.echo(f"{path}: output.kept: the previous build wrote it and this one does not, but it changed since; "
                   "left as it is (delete it if it is not wanted)", err=True)
    if failed:
        names = ", ".join(label_of(entry) for entry, _ in failed)
        click.echo(f"not written: the pages of {names}, which {'does' if len(failed) == 1 else 'do'} not compile (below)", err=True)
        raise PolicyError([issue for _, issues in failed for issue in issues])
