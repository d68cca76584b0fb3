"""`regcode site`: the policy as a static site that opens from the file system (article text beside its rules)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..engine.html import build_site
from .main import argument, backend_option, catalog, counted, policy_root_option, ref_label, regcode


def _versions(cat, refs) -> list:
    """POLICY (every version), POLICY@VERSION or a version folder; default: every version of every policy."""
    if not refs:
        return sorted(cat.every_version(), key=lambda p: p.ref)
    found = {}
    for ref in refs:
        with argument(ref_label(ref), ref):
            if os.path.lexists(Path(ref) / "policy.yaml"):
                policies = [cat.compile_dir(Path(ref))]
            elif "@" in ref:
                policies = [cat.by_ref(ref)]
            else:
                pid = cat.policy_id(ref)
                cat.refuse_broken(pid)  # every version of it was asked for: a broken one is said, not dropped
                policies = [cat.compiled(v) for v in cat.versions(pid)]
        for p in policies:
            found[p.ref] = p
    return [found[k] for k in sorted(found)]


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
    refused (it is not a site), unless --force.

    \b
    Examples:
      regcode site --out site
      regcode site shanghai-post-license@2022-illustration --policy-root examples/amendment/policies --out site"""
    cat = catalog(policy_roots)
    files = build_site(cat, _versions(cat, refs), out, backend, force)
    pages = sum(f.suffix == ".html" for f in files)
    gone = f"; removed {counted(len(files.removed), 'file')} the previous build wrote and this one does not" if files.removed else ""
    click.echo(f"wrote {counted(pages, 'page')} and {counted(len(files) - pages, 'asset')} to {out}{gone}; "
               f"open {out / 'index.html'}")
    for path in files.kept:
        click.echo(f"{path}: output.kept: the previous build wrote it and this one does not, but it changed since; "
                   "left as it is (delete it if it is not wanted)", err=True)
