"""The `regcode` group: shared options, output helpers, and the mapping from errors to exit codes."""
from __future__ import annotations

import copy
import errno
import math
import os
import re
import sys
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

from importlib import import_module

import click
import yaml

from ..engine import Catalog, Issue, Location, PolicyError, dump_json, dump_json_bytes
from ..engine._dates import is_date
from ..engine.errors import did_you_mean, one_line

EXIT_OK, EXIT_POLICY, EXIT_INTERNAL = 0, 1, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C (and SIGTERM during batch, plan and diff --corpus)
EXIT_PIPE = 141     # 128 + SIGPIPE: what a Unix filter whose reader left ends with (`set -o pipefail` sees it)
_NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)     # an output with no room left: exit 1, output.io
MAX_REPORTED = 20   # bad records printed on stderr when there is no --errors file (batch, plan)


class BadUsage(click.ClickException):
    """A usage error (an unknown option or command, a missing argument, a bad option value) as one
    paragraph and exit 1, like any other bad input; click's own shows three parts and exits 2."""

    exit_code = EXIT_POLICY

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


# click's wording for a path or number of the wrong kind, said in the user's terms
_PLAIN = ((re.compile(r"^[Dd]irectory (.+) is a file$"), r"\1 is a file; a folder is wanted here"),
          (re.compile(r"^[Ff]ile (.+) is a directory$"), r"\1 is a folder; a file is wanted here"),
          (re.compile(r"^(.+) is not a valid integer(?: range)?$"), r"\1 is not a whole number"))


def _tidy(text: str) -> str:
    text = " ".join(str(text).split()).rstrip(".")
    for pattern, plain in _PLAIN:
        text = pattern.sub(plain, text)
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _where(exc: click.BadParameter, ctx) -> str:
    """The option or argument at fault, as the user writes it (--as-of, INPUT)."""
    if exc.param_hint:
        hints = [exc.param_hint] if isinstance(exc.param_hint, str) else list(exc.param_hint)
        return " / ".join(hints)
    param = exc.param
    if param is None:
        return ""
    if isinstance(param, click.Option):
        longs = [o for o in param.opts if o.startswith("--")]
        return (longs or param.opts)[0]
    return param.human_readable_name


def usage_issue(exc: click.ClickException, ctx=None) -> tuple:
    """(the command, the Issue): what is wrong (`usage.bad_value`...), at the option or argument, with the fix."""
    ctx = getattr(exc, "ctx", None) or ctx
    if ctx is not None and isinstance(ctx.command, click.Group) and ctx.invoked_subcommand:
        # the parser's own errors (an option without its value) carry no context: the verb's is made here
        command = ctx.command.get_command(ctx, ctx.invoked_subcommand)
        if command is not None:
            ctx = click.Context(command, info_name=ctx.invoked_subcommand, parent=ctx)
    path = ctx.command_path if ctx is not None else "regcode"
    hints, code = [], "usage.error"
    if isinstance(exc, click.exceptions.MissingParameter):
        code = "usage.missing"
        where = _where(exc, ctx)
        kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
        what = f"missing {kind} {where}".strip()
        if exc.message:
            what += f": {_tidy(exc.message)}"
        where = ""
    elif isinstance(exc, click.BadParameter):
        code, where, what = "usage.bad_value", _where(exc, ctx), _tidy(exc.message)
    elif isinstance(exc, click.exceptions.NoSuchCommand):
        code, where = "usage.no_command", ""
        what = f"no command {exc.command_name!r}"
        names = ctx.command.list_commands(ctx) if ctx is not None and isinstance(ctx.command, click.Group) else []
        hints.append(did_you_mean(exc.command_name, names) or f"commands: {', '.join(names)}")
    elif isinstance(exc, click.exceptions.NoSuchOption):
        code, where, what = "usage.no_option", "", f"no option {exc.option_name}"
        names = [o for p in ctx.command.get_params(ctx) for o in p.opts + p.secondary_opts] if ctx is not None else []
        hint = did_you_mean(exc.option_name, [n for n in names if n.startswith("-")])
        if hint:
            hints.append(hint)
    elif isinstance(exc, click.BadOptionUsage):
        code, where, what = "usage.no_value", exc.option_name, _tidy(exc.message.replace(f"Option {exc.option_name!r} ", "").replace("an argument", "a value"))
    else:
        where, what = "", _tidy(exc.message)
        code = "usage.extra_argument" if "extra argument" in exc.message else code
    wrong_arguments = isinstance(exc, (click.exceptions.MissingParameter, click.BadArgumentUsage)) or "extra argument" in exc.message
    if ctx is not None and wrong_arguments:
        hints.append(f"usage: {ctx.get_usage().removeprefix('Usage: ')}")
    hints.append(f"see {path} --help")
    hint = ""
    for part in hints:      # "did you mean `eval`? see regcode --help", not "...?; see"
        hint += (" " if hint.endswith("?") else "; " if hint else "") + part
    return path, Issue(code, one_line(what), Location(path=where), hint)      # (one line: a path's byte not UTF-8 as \xNN)


def usage_paragraph(exc: click.ClickException, ctx=None) -> str:
    """`regcode eval: --as-of: '2019-02-30' is not a date; write YYYY-MM-DD (see regcode eval --help)`:
    the command, the place, what is wrong, and the fix, on one line."""
    path, issue = usage_issue(exc, ctx)
    where = f"{issue.location.path}: " if issue.location.path else ""
    return f"{path}: {where}{issue.message} ({issue.hint})"


def _wants_json(ctx) -> bool:
    """--format json on the command line (read from the words, as the options could not be parsed)."""
    words = (ctx.find_root().meta.get("regcode.argv") or []) if ctx is not None else []
    return "--format=json" in words or any(a == "--format" and b == "json" for a, b in zip(words, words[1:]))


def one_paragraph(exc: click.ClickException, ctx=None) -> BadUsage:
    """The error as BadUsage: one paragraph, or with --format json the {"errors": [...]} every error is."""
    if not isinstance(exc, click.UsageError):
        path = ctx.command_path if ctx is not None else "regcode"
        return BadUsage(f"{path}: {_tidy(exc.format_message())}")
    if _wants_json(getattr(exc, "ctx", None) or ctx):
        path, issue = usage_issue(exc, ctx)
        located = issue if issue.location.path else replace(issue, location=Location(path=path))
        return BadUsage(dump_json({"errors": [located.as_dict()]}))
    return BadUsage(usage_paragraph(exc, ctx))


class BareHelp(click.ClickException):
    """`regcode` with no command: the help, on stderr, exit 1 (no command was run)."""

    exit_code = EXIT_POLICY

    def show(self, file=None) -> None:
        click.echo(self.message, err=True)


class NamedPath(click.Path):
    """click.Path refusing an empty name: `--out ''` is no file, not the current folder (`.: cannot write .: Is a
    directory`), and not the option left out either (`--errors ''` dropped the bad records, `fmt ''` formatted the
    current folder). A usage error at the option, before anything runs."""

    def convert(self, value, param, ctx):
        if isinstance(value, (str, bytes)) and not value:
            what = ("an empty file name; give a file's path" if not self.dir_okay else
                    "an empty folder name; give a folder's path" if not self.file_okay else
                    "an empty path; give a file's or a folder's path")
            if self.allow_dash:
                what += ", or - for " + ("stdout" if isinstance(param, click.Option) and param.name == "out" else "stdin")
            self.fail(what, param, ctx)
        if self.exists and isinstance(value, (str, bytes, os.PathLike)) and not (self.allow_dash and value in ("-", b"-")):
            from ..engine.load import LOOP_WORDS, link_loop
            shown = click.format_filename(value)
            if link_loop(value):    # click would say it does not exist: it does, as a link that leads nowhere
                self.fail(f"{shown} is {LOOP_WORDS}; point the link at a file or folder, or give its own path", param, ctx)
            if os.path.islink(value) and not os.path.exists(value):
                self.fail(f"{shown} is a link to {click.format_filename(os.readlink(value))}, which does not exist; point "
                          "the link at a file or folder, or give its own path", param, ctx)
        return super().convert(value, param, ctx)


class Bounded(click.FloatRange):
    """click.FloatRange bounded on both sides that refuses NaN and the infinities too: click's range compares let
    NaN through (`--timeout nan` was an internal error, `--read-timeout nan` "within nan s"), and a huge value
    past what a clock can hold (`--timeout 1e10` made every request a 500). A usage error naming the range."""

    def __init__(self, min: float, max: float):
        super().__init__(min=min, max=max)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx) if not isinstance(value, str) or _finite(value) else None
        if number is None or not math.isfinite(number):
            self.fail(f"{value!r} is not a number in the range {self._describe_range()}", param, ctx)
        return number


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return True     # not a number at all: click says so


class RegcodeCommand(click.Command):
    """Every verb: a path option or argument (click.Path) refuses an empty name (NamedPath), for every verb at once."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        for param in self.params:
            if type(param.type) is click.Path:
                named = copy.copy(param.type)
                named.__class__ = NamedPath
                param.type = named

    def parse_args(self, ctx, args):
        # the long options written with their value joined by `=` (`--explain=-`), from the words click parses (a
        # CliRunner's too): its parser hands an option the same value either way, and _Level must tell them apart
        joined = set()
        for arg in args:
            if arg == "--":
                break
            if arg.startswith("--") and "=" in arg:
                joined.add(tuple(arg.split("=", 1)))
        ctx.meta["regcode.joined"] = joined
        return super().parse_args(ctx, args)


class RegcodeGroup(click.Group):
    """Turns every PolicyError into a one-paragraph message and exit 1; never a traceback for bad input.
    Usage errors too (click's own would be three parts and exit 2): converted once, here, for every verb.

    Verbs are imported when they are run (cli/commands.py maps each to its module), so `regcode eval`
    loads what evaluating needs and no more; listing them (`--help`) imports them all."""

    command_class = RegcodeCommand

    def list_commands(self, ctx):
        from .commands import COMMANDS
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx, name):
        from .commands import COMMANDS
        if name not in self.commands and name in COMMANDS:
            import_module(f"{__package__}.{COMMANDS[name]}")   # its @regcode.command registers it
        return self.commands.get(name)

    def parse_args(self, ctx, args):
        ctx.meta["regcode.argv"] = list(args)    # for --format json in a usage error (one_paragraph)
        return super().parse_args(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            raise BareHelp(exc.format_message()) from None
        except BadUsage:
            raise
        except click.ClickException as exc:   # `regcode --bogus`: the group's own options
            raise one_paragraph(exc, getattr(exc, "ctx", None)) from None
        except PolicyError as exc:      # `regcode --help >&-`: the help or version had nowhere to go
            report_issues(exc.issues)
            raise click.exceptions.Exit(EXIT_POLICY) from None
        except BrokenPipeError:     # `regcode --help | head -1`: as a verb's output (invoke)
            _quiet_stdout()
            raise click.exceptions.Exit(EXIT_PIPE) from None
        except OSError as exc:      # `regcode --version > /dev/full`: as a verb's output (invoke)
            if exc.errno not in _NO_ROOM:
                raise
            _no_room(exc, "text")
            raise click.exceptions.Exit(EXIT_POLICY) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PolicyError as exc:   # what no verb placed is at least the verb's: never `<input>`
            verb = f"{ctx.command_path} {ctx.invoked_subcommand}" if ctx.invoked_subcommand else ctx.command_path
            report_issues(placed(exc, lambda issue: verb).issues, ctx.meta.get("regcode.format", "text"))
            ctx.exit(EXIT_POLICY)
        except (click.exceptions.Exit, click.exceptions.Abort, BadUsage, BareHelp):
            raise
        except click.ClickException as exc:   # a verb's usage error, raised parsing it or from inside it
            raise one_paragraph(exc, getattr(exc, "ctx", None) or click.get_current_context(silent=True) or ctx) from None
        except BrokenPipeError:   # `regcode ... | head`: the reader left. Quietly, but not as done: the output (and
            try:                  # any problem said after it) did not all reach anyone, so 0 or 1 would both mislead
                _quiet_stdout()
            finally:
                ctx.exit(EXIT_PIPE)
        except KeyboardInterrupt:   # with what became of each output the verb named (on_interrupt)
            notes = [say() for say in ctx.meta.get("regcode.interrupted", [])]
            click.echo("interrupted" + (": " + "; ".join(notes) if notes else ""), err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except OSError as exc:
            if exc.errno not in _NO_ROOM:
                _internal(ctx, exc)
            _no_room(exc, ctx.meta.get("regcode.format", "text"))
            ctx.exit(EXIT_POLICY)
        except Exception as exc:  # a bug of ours
            _internal(ctx, exc)


def _quiet_stdout() -> None:
    """stdout replaced by /dev/null: what is still buffered for a stdout that failed cannot be written either (Python's
    flush at exit would fail again, and say so with a traceback)."""
    try:
        sys.stdout = open(os.devnull, "w")
    except OSError:
        pass


def _no_room(exc: OSError, fmt: str) -> None:
    """`regcode eval ... > /dev/full`, a full disk or quota under stdout: the environment's, not a bug (output.io)."""
    from ..engine.batch import output_error
    _quiet_stdout()
    if exc.filename:
        report_issues(output_error(exc.filename, exc).issues, fmt)
    else:
        report_issues([Issue("output.io", f"cannot write stdout: {exc.strerror or exc}", Location("stdout"),
                             "free some space where stdout goes, or redirect it elsewhere")], fmt)


def _internal(ctx, exc: Exception) -> None:
    """A bug of ours: said plainly, the traceback kept for REGCODE_DEBUG."""
    if os.environ.get("REGCODE_DEBUG"):
        traceback.print_exc()
    click.echo(f"regcode: internal error: {type(exc).__name__}: {exc}. This is a bug in regcode, not in your input; "
               "run again with REGCODE_DEBUG=1 for the traceback and report it.", err=True)
    ctx.exit(EXIT_INTERNAL)


def on_interrupt(ctx, say) -> None:
    """`say()` is added to `interrupted` when Ctrl-C stops the command: what became of one of its outputs."""
    ctx.meta.setdefault("regcode.interrupted", []).append(say)


def report_issues(issues, fmt: str = "text", counted: bool = False) -> None:
    """Problems on stderr, one a line, then how many when more than one; `counted`: however many (the commands whose
    output is the list of a version's problems, validate and test, say "1 problem" as they say "2 problems")."""
    if fmt == "json":
        click.echo(dump_json({"errors": [i.as_dict() for i in issues]}), err=True)
        return
    for issue in issues:
        click.echo(str(issue), err=True)
    if len(issues) > 1 or counted and issues:
        click.echo(f"{len(issues)} problem{'s' if len(issues) > 1 else ''}", err=True)


def emitted(data, fmt: str) -> bytes:
    """Data deterministically as json (sorted keys, UTF-8, a newline at the end) or yaml: what emit prints."""
    if fmt == "yaml":
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=True, default_flow_style=False).encode("utf-8")
    return dump_json_bytes(data, pretty=True) + b"\n"


def emit(data, fmt: str) -> None:
    """Print data deterministically as json (sorted keys, UTF-8) or yaml."""
    echo_bytes(emitted(data, fmt), nl=False)


def echo_text(text: str, nl: bool = True) -> None:
    """A command's output (text, a page) to stdout, as echo_bytes writes it: a reader that left is noticed."""
    echo_bytes(text.encode("utf-8"), nl)


def echo_bytes(data: bytes, nl: bool = True) -> None:
    """`data` (UTF-8) and a newline to stdout's byte stream, as orjson wrote it: decoding it to text for
    click.echo to encode back cost 8-9 µs on a 10 KB evaluation. A stream with no bytes under it (a
    StringIO put in stdout's place) gets the text. An output that fits in a pipe (PIPE_CAPACITY) is one
    write: it is all in the pipe before its reader can read a line and leave, so no write fails and the exit
    status is the run's own (a second write, after the reader left, would fail at random: exit 141 or 0).
    A larger one has its last byte written and flushed on its own: a large write to a pipe whose reader has
    left can come back as done, the bytes dropped, where the next one fails (BrokenPipeError, exit 141) -
    the run must not end as if its output had been read."""
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    if binary is None:
        click.echo(data.decode("utf-8"), nl=nl)
        return
    if nl:
        data += b"\n"
    out.flush()
    if len(data) <= PIPE_CAPACITY:
        binary.write(data)
        binary.flush()
        return
    binary.write(data[:-1])
    binary.flush()
    binary.write(data[-1:])
    binary.flush()


PIPE_CAPACITY = 65536   # what a pipe holds on Linux by default (pipe(7)); README "One enterprise"


def as_of_option(f=None, help: str = "Evaluation date (YYYY-MM-DD); overrides the case file's as_of."):
    """--as-of, checked as a calendar day; `help` for a command that reads no case file."""
    option = click.option("--as-of", "as_of", callback=_check_date, metavar="DATE", help=help)
    return option(f) if f is not None else option


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
                        help="Policy id; may be omitted when only one policy is known, or when the --policy-root folders hold only "
                             "one.")(f)


def backend_option(f):
    from ..engine import BACKENDS, DEFAULT_BACKEND
    return click.option("--backend", type=click.Choice(BACKENDS), default=DEFAULT_BACKEND, show_default=True,
                        help="python: the compiled Python evaluator; durable: durable-rules' forward-chaining core "
                             "(the optional extra regcode[durable]). Both give the same output.")(f)


class _Level(click.Choice):
    """The --explain level; a bare --explain before a file takes the file's name as its level (click reads the
    next word as the value): that is said as such, with the two ways to write it. A value the user joined to the
    option (`--explain=-`, RegcodeCommand.parse_args) was written as a level: the choice's own message says it."""

    def convert(self, value, param, ctx):
        joined = ctx.meta.get("regcode.joined", ()) if ctx is not None else ()
        written = isinstance(param, click.Option) and any((opt, value) in joined for opt in param.opts)
        if isinstance(value, str) and value not in self.choices and not written and (
                os.path.exists(value) or value == "-" or value.endswith((".yaml", ".yml", ".json", ".jsonl"))):
            self.fail(f"{value!r} is read as the level of --explain, which comes before it: write --explain after the "
                      f"files ({ctx.command_path if ctx else 'regcode eval'} FILE --explain), or give its level "
                      f"(--explain=full)", param, ctx)
        return super().convert(value, param, ctx)


def explain_option(default: str, what: str):
    """--explain [none|decisive|full]: how much of the why to keep. A bare --explain means full."""
    def decorate(f):
        return click.option("--explain", "explain", type=_Level(["none", "decisive", "full"]), is_flag=False,
                            flag_value="full", default=default, show_default=True, metavar="[none|decisive|full]",
                            help=what + " A bare --explain means full; write it last or as --explain=LEVEL.")(f)
    return decorate


def _errors_file(ctx, param, value):
    if value == "-":        # `--out -` is stdout; a file named `-` here would be a surprise in the current folder
        raise click.BadParameter("`-` is not a file: bad records already go to stderr when --errors is not given "
                                 f"(the first {MAX_REPORTED}, then a count); name a file to keep them all", ctx, param)
    return value


def errors_option(f):
    return click.option("--errors", "errors", type=click.Path(dir_okay=False), metavar="ERR.jsonl", callback=_errors_file,
                        help=f"Bad records as JSON lines {{source, line, errors}}. Without it the first {MAX_REPORTED} are listed "
                             "on stderr, then their count.")(f)


def policy_root_option(f):
    return click.option("--policy-root", "policy_roots", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
                        help="A folder of policies (POLICY/VERSION/policy.yaml) searched before the shipped ones.")(f)


def catalog(policy_roots, allow_empty: bool = False) -> Catalog:
    """The policies of the --policy-root folders (searched first) and the shipped ones."""
    if not allow_empty:
        check_policy_roots(policy_roots)
    return Catalog(list(policy_roots or []))


def check_policy_roots(policy_roots) -> None:
    """A root with no version folder at all is a mistake (a wrong path, the policy's own folder): said, not
    silently passed over (a usage error naming --policy-root)."""
    from ..engine.catalog import version_manifests
    for root in policy_roots or []:
        manifests, links = version_manifests(Path(root))
        if not manifests:
            hint = ("this is a version folder; pass the folder two levels up (it holds POLICY/VERSION/)"
                    if (Path(root) / "policy.yaml").is_file() else
                    "this is a policy folder; pass the folder above it" if any(Path(root).glob("*/policy.yaml")) else
                    "a policy root holds POLICY/VERSION/policy.yaml")
            if links:
                hint += f"; {links[0]} is a link to a folder outside it" + (f", as are {len(links) - 1:,} more" if len(links) > 1 else "")
            raise click.BadParameter(f"{root} holds no policy version ({hint})", param_hint="--policy-root")


_OPTION_OF = {"select.unknown_policy": "--policy", "select.which_policy": "--policy", "select.unknown_version": "--policy-version",
              "select.no_version_in_force": "--as-of"}


def placed(exc: PolicyError, where) -> PolicyError:
    """The error with its issues that name no place (engine/errors.py would print `<input>`) placed at
    `where(issue)`: the option or argument of the command line they are about."""
    issues = [replace(i, location=Location(path=where(i))) if not i.location.file and not i.location.path and where(i)
              else i for i in exc.issues]
    out = type(exc)(issues)
    out.identity = exc.identity
    return out


@contextmanager
def argument(label: str, value):
    """Errors about a command-line argument name it (`POLICY@VERSION 'nosuch@1': select.unknown_policy: ...`)."""
    try:
        yield
    except PolicyError as exc:
        raise placed(exc, lambda issue: f"{label} {str(value)!r}") from None


def argument_free():
    """For an argument the user left out: errors then fall to the verb's name (RegcodeGroup.invoke)."""
    return nullcontext()


def ref_label(ref: str) -> str:
    """How a policy argument is named in an error: POLICY@VERSION, a version folder, or POLICY."""
    if "@" in str(ref):
        return "POLICY@VERSION"
    return "version folder" if os.sep in str(ref) or "/" in str(ref) else "POLICY"


def version_entries(cat, ref) -> list:
    """The version folders REF names (VersionInfo, BrokenVersion or a folder's path), broken ones included:
    every version of every policy without REF, every version of a POLICY, one POLICY@VERSION or folder.
    A name that is no policy or version at all is an error at once (there is nothing to write for it)."""
    if not ref:
        return cat.entries()
    with argument(ref_label(ref), ref):
        if os.path.lexists(Path(ref) / "policy.yaml"):
            return [Path(ref)]
        if "@" not in ref:
            return cat.entries(cat.policy_id(ref))
        policy_id, version = ref.split("@", 1)
        found = [e for e in cat.entries(cat.policy_id(policy_id)) if e.version == version]
        if not found:
            cat.by_ref(ref)     # raises the clear "no such version" error
        return found


def folder_of(entry) -> Path:
    return Path(getattr(entry, "directory", entry))


def label_of(entry) -> str:
    return f"{entry.policy_id}@{entry.version}" if hasattr(entry, "policy_id") else str(entry)


def check_policy_options(cat: Catalog, policy_name, version=None, dates=()) -> str:
    """The policy id that --policy (and --policy-version) name, checked before any case is read; a
    mistake there is reported at the option, not at a case file."""
    from ..engine.catalog import check_selection
    with at_options():
        return check_selection(cat, policy_name, version, dates)


@contextmanager
def at_options():
    """A selection error of no place is the option's that chose it (`--policy-version: select.unknown_version: ...`)."""
    try:
        yield
    except PolicyError as exc:
        raise placed(exc, lambda issue: _OPTION_OF.get(issue.code)) from None


def note_outside_window(compiled, as_of: str, subject: str, because: str) -> None:
    """A version used on a date outside its window (forced by --policy-version, or dated by --as-of) is said
    on stderr, as `diff` says it of a corpus; what stdout carries is unchanged."""
    if not compiled.in_force(as_of):
        click.echo(f"note: {subject}: {as_of} is outside {compiled.ref}'s window ({compiled.window()}); {because}", err=True)


def counted(n: int, noun: str, plural: str = "") -> str:
    """`1 result`, `2 results`, `1,998 results`: a count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


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
         a usage error too (an unknown command or option, a missing argument, a bad option
         value): one paragraph naming the option and the fix
      3  an internal error: a bug in regcode, never caused by input (REGCODE_DEBUG=1 shows it)
      130  interrupted (Ctrl-C, or SIGTERM during batch, plan, diff --corpus): a file written whole (--out
         FILE, --errors FILE) is not written, one there before left as it was; what went to
         stdout, a FIFO or a device is whole lines; the message says which
      141  the reader of the output left before it ended (`regcode ... | head`), as for any
         command stopped by SIGPIPE: the run stops quietly, its output and status not delivered
    """


def _never_unprintable() -> None:
    """A terminal or pipe declared as something other than UTF-8 (PYTHONIOENCODING=latin-1, an old locale)
    cannot carry the law's Chinese: what it cannot carry is written as backslash escapes rather than
    stopping the command with an encoding error. JSON output is UTF-8 bytes whatever is declared."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding and encoding != "utf8" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):   # pragma: no cover - a stream that cannot be reconfigured
                pass


class ClosedStream:
    """sys.stdin or sys.stdout of a process started with it closed (`regcode eval - <&-`, `regcode eval FILE >&-`),
    where Python leaves None: reading it was an AttributeError (exit 3), and writing, through click.echo, output
    dropped with exit 0. In its place, this is no terminal, holds nothing to flush, and its first read or write is
    one problem (exit 1) before anything was read or written; a command that never uses it runs as usual."""

    encoding, errors, closed = "utf-8", "strict", False

    def __init__(self, make_error):
        self._make_error = make_error

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:        # nothing is held: Python's own flush at exit finds nothing to do
        pass

    def close(self) -> None:        # (multiprocessing closes stdin in each worker)
        pass

    def _refuse(self, *args, **kw):
        raise self._make_error()

    read = readline = readlines = write = writelines = fileno = __iter__ = _refuse
    buffer = property(_refuse)


def _stdin_closed() -> PolicyError:
    from ..engine import InputError
    return InputError([Issue("input.io", "standard input is closed", Location("<stdin>"), "give a file, or pipe one in")])


def _stdout_closed() -> PolicyError:
    ctx = click.get_current_context(silent=True)
    has_out = ctx is not None and any(p.name == "out" for p in ctx.command.params)
    return PolicyError([Issue("output.io", "standard output is closed: nothing was written to it", Location("<stdout>"),
                              "give --out FILE or redirect stdout" if has_out else "redirect stdout to a file or a pipe")])


def require_stdout() -> None:
    """Before a run whose result goes to stdout (`batch --out -`, its json summary): a closed one is said now,
    before any work or any other file is written."""
    if isinstance(sys.stdout, ClosedStream):
        raise _stdout_closed()


def require_stdin() -> None:
    if isinstance(sys.stdin, ClosedStream):
        raise _stdin_closed()


def _closed_standard_streams() -> None:
    """A standard stream the process was started without: stdin and stdout are ClosedStreams, refused where used;
    stderr, which only carries problems and notes, is /dev/null on its descriptor (so that no file opened later
    becomes descriptor 2, and nothing written there lands in it), and the exit status still says what happened."""
    if sys.stdin is None:
        sys.stdin = ClosedStream(_stdin_closed)
    if sys.stdout is None:
        sys.stdout = ClosedStream(_stdout_closed)
    if sys.stderr is None:
        try:
            try:
                os.fstat(2)
            except OSError:
                null = os.open(os.devnull, os.O_WRONLY)
                if null != 2:
                    os.dup2(null, 2)
                    os.close(null)
            sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        except OSError:     # pragma: no cover - no /dev/null: problems are not said, and the status still is
            sys.stderr = open(os.devnull, "w", encoding="utf-8")


def main() -> None:  # the console-script entry point
    _closed_standard_streams()
    _never_unprintable()
    regcode(prog_name="regcode")
