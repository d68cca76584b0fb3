"""The `regcode` group: shared options, output helpers, and the mapping from errors to exit codes."""
from __future__ import annotations

import os
import sys
import traceback
from dataclasses import replace
from pathlib import Path

from importlib import import_module

import click
import yaml

from ..engine import Catalog, Location, PolicyError, dump_json
from ..engine._dates import is_date

EXIT_OK, EXIT_POLICY, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class RegcodeGroup(click.Group):
    """Turns every PolicyError into a one-paragraph message and exit 1; never a traceback for bad input.

    Verbs are imported when they are run (cli/commands.py maps each to its module), so `regcode eval`
    loads what evaluating needs and no more; listing them (`--help`) imports them all."""

    def list_commands(self, ctx):
        from .commands import COMMANDS
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx, name):
        from .commands import COMMANDS
        if name not in self.commands and name in COMMANDS:
            import_module(f"{__package__}.{COMMANDS[name]}")   # its @regcode.command registers it
        return self.commands.get(name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            report_issues(exc.issues, ctx.meta.get("regcode.format", "text"))
            ctx.exit(EXIT_POLICY)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:   # `regcode ... | head`: the reader left; not an error of ours
            try:
                sys.stdout = open(os.devnull, "w")
            finally:
                ctx.exit(EXIT_OK)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug of ours: say so plainly, keep the traceback for REGCODE_DEBUG
            if os.environ.get("REGCODE_DEBUG"):
                traceback.print_exc()
            click.echo(f"regcode: internal error: {type(exc).__name__}: {exc}. This is a bug in regcode, not in your input; "
                       "run again with REGCODE_DEBUG=1 for the traceback and report it.", err=True)
            ctx.exit(EXIT_INTERNAL)


def report_issues(issues, fmt: str = "text") -> None:
    if fmt == "json":
        click.echo(dump_json({"errors": [i.as_dict() for i in issues]}), err=True)
        return
    for issue in issues:
        click.echo(str(issue), err=True)
    if len(issues) > 1:
        click.echo(f"{len(issues)} problems", err=True)


def emit(data, fmt: str) -> None:
    """Print data deterministically as json (sorted keys, UTF-8) or yaml."""
    if fmt == "yaml":
        click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=True, default_flow_style=False), nl=False)
    else:
        click.echo(dump_json(data, pretty=True))


def as_of_option(f):
    return click.option("--as-of", "as_of", callback=_check_date, metavar="DATE",
                        help="Evaluation date (YYYY-MM-DD); overrides the case file's as_of.")(f)


def _check_date(ctx, param, value):
    if value is not None and not is_date(value):
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2019-06-30")
    return value


def selection_options(f):
    """--policy, --policy-version and --backend: which policy version evaluates, and on which engine."""
    f = backend_option(f)
    f = click.option("--policy-version", "version", metavar="V",
                     help="Force this version instead of the one in force on the date.")(f)
    return click.option("--policy", "policy_name", metavar="NAME",
                        help="Policy id; may be omitted when only one policy is known.")(f)


def backend_option(f):
    from ..engine import BACKENDS, DEFAULT_BACKEND
    return click.option("--backend", type=click.Choice(BACKENDS), default=DEFAULT_BACKEND, show_default=True,
                        help="python: the compiled Python evaluator; durable: durable-rules' forward-chaining core "
                             "(the optional extra regcode[durable]). Both give the same output.")(f)


def explain_option(default: str, what: str):
    """--explain [none|decisive|full]: how much of the why to keep. A bare --explain means full."""
    def decorate(f):
        return click.option("--explain", "explain", type=click.Choice(["none", "decisive", "full"]), is_flag=False,
                            flag_value="full", default=default, show_default=True, metavar="[none|decisive|full]",
                            help=what + " A bare --explain means full; write it after the files or as --explain=LEVEL.")(f)
    return decorate


def errors_option(f):
    return click.option("--errors", "errors", type=click.Path(dir_okay=False), metavar="ERR.jsonl",
                        help="Bad records as JSON lines {source, line, errors}. Without it they are listed on stderr.")(f)


def policy_root_option(f):
    return click.option("--policy-root", "policy_roots", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help="A folder of policies (POLICY/VERSION/policy.yaml) searched before the shipped ones.")(f)


def catalog(policy_roots, allow_empty: bool = False) -> Catalog:
    """The policies of the --policy-root folders (searched first) and the shipped ones. A root with no
    version folder at all is a mistake (a wrong path, the policy's own folder): said, not silently passed over."""
    for root in policy_roots or []:
        if not allow_empty and not any(Path(root).glob("*/*/policy.yaml")):
            hint = ("this is a version folder; pass the folder two levels up (it holds POLICY/VERSION/)"
                    if (Path(root) / "policy.yaml").is_file() else
                    "this is a policy folder; pass the folder above it" if any(Path(root).glob("*/policy.yaml")) else
                    "a policy root holds POLICY/VERSION/policy.yaml")
            raise click.BadParameter(f"{root} holds no policy version ({hint})", param_hint="--policy-root")
    return Catalog(list(policy_roots or []))


_OPTION_OF = {"select.unknown_policy": "--policy", "select.which_policy": "--policy", "select.unknown_version": "--policy-version",
              "select.no_version_in_force": "--as-of"}


def check_policy_options(cat: Catalog, policy_name, version=None, dates=()) -> str:
    """The policy id that --policy (and --policy-version) name, checked before any case is read; a
    mistake there is reported at the option, not at a case file."""
    from ..engine.catalog import check_selection
    try:
        return check_selection(cat, policy_name, version, dates)
    except PolicyError as exc:
        raise type(exc)([replace(i, location=Location(path=_OPTION_OF[i.code])) if i.code in _OPTION_OF and not i.location.file
                         else i for i in exc.issues]) from None


def set_format(ctx: click.Context, fmt: str) -> None:
    ctx.meta["regcode.format"] = "json" if fmt == "json" else "text"


@click.group(cls=RegcodeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="regcode", message="regcode %(version)s")
def regcode():
    """regcode: regulations as versioned YAML policies, evaluated with reasons.

    \b
    Typical use:
      regcode policies                                     what is shipped, and when it is in force
      regcode eval examples/cases/aa-clean.yaml            decisions for one case file
      regcode eval examples/cases/aa-clean.yaml --explain  ... with the reasons
      regcode validate                                     every problem, as file:line:col
      regcode test shanghai-post-license                   a policy's own test cases
      regcode batch examples/cases --out out.jsonl         a whole district, a result a line

    `regcode COMMAND --help` shows a command's options, with an example.

    \b
    Exit status (every command):
      0  done, nothing wrong
      1  a problem in the input or a policy (a case file, a policy file, a record): one line
         each, as file:line:col: code: message (hint); the rest of a batch still finishes
      2  a usage error: an unknown option, a missing argument, a bad option value
      3  an internal error: a bug in regcode, never caused by input (REGCODE_DEBUG=1 shows it)
    """


def main() -> None:  # the console-script entry point
    regcode(prog_name="regcode")
