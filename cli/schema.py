"""`regcode schema`: editor schemas for the rule language and for each policy version's own names."""
from __future__ import annotations

from pathlib import Path

import click

from ..engine.schema import SETTINGS_FILE, dumps, language_schema, policy_schema, write_schemas
from .main import catalog, policy_root_option, regcode
from .testcmd import _versions


@regcode.command("schema", short_help="Editor schemas of the rule language and a version's names.")
@click.argument("policy", required=False, metavar="[POLICY[@VERSION]]")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write every schema here, with a yaml-language-server settings mapping. Without it, print one schema.")
@policy_root_option
def schema_cmd(policy, out, policy_roots):
    """JSON Schemas (draft-07, what yaml-language-server reads) of the whole rule language and of a
    policy version's names: decisions, parameters, derived facts and fact paths.

    \b
    POLICY may be an id, id@version or a version folder; without it, every known version.
    Without --out: the version's policy-file schema on stdout (the language schema when no POLICY).

    \b
    Examples:
      regcode schema --out .regcode/schemas
      regcode schema shanghai-post-license@2017 > shanghai.schema.json"""
    cat = catalog(policy_roots)
    if policy:
        policies = _versions(cat, policy, None)
    else:
        policies = [cat.compiled(v) for pid in cat.policy_ids() for v in cat.versions(pid)]
    if out is None:
        if policy and len(policies) != 1:
            raise click.UsageError(f"{policy} has {len(policies)} versions; name one (POLICY@VERSION) or use --out DIR")
        click.echo(dumps(policy_schema(policies[0]) if policy else language_schema()), nl=False)
        return
    for path in write_schemas(out, policies):
        click.echo(f"wrote {path}")
    click.echo(f"editor: merge {out / SETTINGS_FILE} into your settings (`yaml.schemas`), or see docs on modelines")
