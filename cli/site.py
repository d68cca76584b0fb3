"""`regcode site`: the policy as a static site that opens from the file system (article text beside its rules)."""
from __future__ import annotations

from pathlib import Path

import click

from ..engine.html import build_site
from .main import argument, argument_free, backend_option, catalog, policy_root_option, ref_label, regcode


def _versions(cat, refs) -> list:
    """POLICY (every version), POLICY@VERSION or a version folder; default: every version of every policy."""
    found = {}
    for ref in refs or cat.policy_ids():
        with argument(ref_label(ref), ref) if refs else argument_free():
            if (Path(ref) / "policy.yaml").is_file():
                policies = [cat.compile_dir(Path(ref))]
            elif "@" in ref:
                policies = [cat.by_ref(ref)]
            else:
                policies = [cat.compiled(v) for v in cat.versions(cat.policy_id(ref))]
        for p in policies:
            found[p.ref] = p
    return [found[k] for k in sorted(found)]


@regcode.command("site", short_help="The policies as a static HTML site (the law beside its rules).")
@click.argument("refs", nargs=-1, metavar="[POLICY[@VERSION]...]")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="The folder to write the site into (created when missing).")
@backend_option
@policy_root_option
def site_cmd(refs, out, backend, policy_roots):
    """Write the policies as a static HTML site: per version its articles in order, the Chinese text with
    the rules that encode it beside it, their notes and test cases, coverage per article, parameters over
    time, and what each version changes. Every asset is in DIR; open DIR/index.html, no server needed.

    \b
    Examples:
      regcode site --out site
      regcode site shanghai-post-license@2022-illustration --policy-root examples/amendment/policies --out site"""
    cat = catalog(policy_roots)
    files = build_site(cat, _versions(cat, refs), out, backend)
    pages = sum(f.suffix == ".html" for f in files)
    click.echo(f"wrote {pages} pages and {len(files) - pages} assets to {out}; open {out / 'index.html'}")
