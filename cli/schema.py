"""`regcode schema`: editor schemas for the rule language and for each policy version's own names."""
from __future__ import annotations

from pathlib import Path

import click

from ..engine import PolicyError
from ..engine.schema import (LANGUAGE_FILE, SETTINGS_FILE, dumps, language_schema, policy_schema, relative_out,
                              write_schemas)
from .main import catalog, folder_of, label_of, policy_root_option, regcode, version_entries
from .testcmd import _versions


@regcode.command("schema", short_help="Editor schemas of the rule language and a version's names.")
@click.argument("policy", required=False, metavar="[POLICY[@VERSION]]")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write every schema here, with a yaml-language-server settings mapping. Without it, print one schema.")
@click.option("--workspace", "workspace", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="The editor's workspace folder, which holds --out: the settings name every schema and version "
              "folder relative to it, the same on any machine (default: by absolute path).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty and holds no schemas regcode "
              "wrote (nothing already there is removed; files of the same name are overwritten).")
@policy_root_option
def schema_cmd(policy, out, workspace, force, policy_roots):
    """JSON Schemas (draft-07, what yaml-language-server reads) of the whole rule language and of a
    policy version's names: decisions, parameters, derived facts and fact paths.

    \b
    POLICY may be an id, id@version or a version folder; without it, every known version.
    Without --out: the version's policy-file schema on stdout (the language schema when no POLICY).
    The --out folder is regcode's own, as `regcode site`'s is: a rewrite removes the schemas it wrote
    before and no longer writes, and a folder holding other files is refused unless --force.
    The settings name each schema and version folder by its absolute path; with --workspace DIR (the
    folder the editor opens, holding --out), by its path in DIR, for a settings file to commit: the
    version schemas are then ID/VERSION.schema.json (yaml-language-server reads no relative path
    whose file name has an `@`), and a version folder outside DIR is left out, and said.
    A version that does not compile costs its own schemas only: the rest is written, its folder is
    mapped to the language schema, its problems are listed, and the exit status is 1.

    \b
    Examples:
      regcode schema --out .regcode/schemas
      regcode schema --out .regcode/schemas --workspace .
      regcode schema shanghai-post-license@2017 > shanghai.schema.json"""
    if workspace is not None:
        if out is None:
            raise click.BadParameter("the settings it makes relative are written with --out DIR only; give --out too",
                                     param_hint="--workspace")
        why = relative_out(out, workspace)
        if why is not None:
            raise click.BadParameter(why, param_hint="--out")
    cat = catalog(policy_roots)
    if out is None:
        if not policy:      # the language alone: no version is compiled, so no broken one stops it
            click.echo(dumps(language_schema()), nl=False)
            return
        policies = _versions(cat, policy, None)
        if len(policies) != 1:
            raise click.UsageError(f"{policy} has {len(policies)} versions; name one (POLICY@VERSION) or use --out DIR")
        click.echo(dumps(policy_schema(policies[0])), nl=False)
        return
    # What can be written is: a broken version (a draft half-way) costs its own schemas only, and its
    # folder is mapped to the language schema, so the editor still checks its files while it is fixed.
    policies, failed = cat.compile_each(version_entries(cat, policy))
    written = write_schemas(out, policies, force, broken=[folder_of(entry) for entry, _ in failed], workspace=workspace)
    for path in written:
        click.echo(f"wrote {path}")
    for folder in written.outside:
        click.echo(f"note: {folder} is outside the workspace {workspace.resolve()}: its files are not mapped to a schema "
                   "(a file's first line `# yaml-language-server: $schema=PATH` still can)", err=True)
    for path in written.removed:
        click.echo(f"removed {path} (the previous run wrote it and this one does not)")
    for path in written.kept:
        click.echo(f"{path}: output.kept: the previous run wrote it and this one does not, but it changed since; "
                   "left in place", err=True)
    click.echo(f"editor: merge {out / SETTINGS_FILE} into your settings (`yaml.schemas`), or see docs on modelines")
    if failed:
        names = ", ".join(label_of(entry) for entry, _ in failed)
        click.echo(f"not written: the schemas of {names}, which {'does' if len(failed) == 1 else 'do'} not compile (below); "
                   f"{'its folder is' if len(failed) == 1 else 'their folders are'} mapped to {out / LANGUAGE_FILE} "
                   "until fixed", err=True)
        raise PolicyError([issue for _, issues in failed for issue in issues])
