"""`regcode serve`: the HTTP decision service (FastAPI on uvicorn), with a decision log and reloading."""
from __future__ import annotations

import logging
import os
import shlex
import stat

import click

from .batch import MAX_JOBS
from .main import EXIT_POLICY, Bounded, backend_option, check_policy_roots, policy_root_option, regcode, report_issues

MISSING = ("`regcode serve` needs the optional extra `serve` (FastAPI, uvicorn). Install it with "
           "`pip install 'regcode[serve]'` (in a checkout: `.venv/bin/pip install -e '.[serve]'`; `make setup` does it).")

# every number bounded on both sides: a time limit past a day is none (and past ~1e9 s no clock holds it: every
# request was a 500), a rotation keeping more files than this would walk them all at each rotation
MAX_SECONDS = 86_400
MAX_KEEP = 1000


def _check_log(ctx, param, value):
    """The decision log's folder exists and is writable: said now, at the option, not as the start failing."""
    if value is None:
        return value
    try:
        mode = os.stat(value).st_mode
    except OSError:
        mode = None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        # opened for appending, a FIFO with no reader held the start forever, and one with a reader loses what it misses
        raise click.BadParameter(f"{value} is a {'named pipe' if stat.S_ISFIFO(mode) else 'socket'}, not a file; the decision log is a regular file (or a device such "
                                 "as /dev/null) appended to, for `regcode replay`: name one", ctx, param)
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"the folder {folder!r} does not exist; create it (mkdir -p {shlex.quote(folder)}) "
                                 "or name a file in a folder that exists", ctx, param)
    if not os.access(folder, os.W_OK | os.X_OK) and not os.access(value, os.W_OK):
        raise click.BadParameter(f"the folder {folder!r} is not writable; name a file in a folder you can write to",
                                 ctx, param)
    return value


@regcode.command("serve", short_help="Decisions over HTTP (JSON), with a decision log.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless you say otherwise).")
@click.option("--port", type=click.IntRange(0, 65535), default=8181, show_default=True, help="Port (0: any free port, printed).")
@policy_root_option
@click.option("--decision-log", "decision_log", type=click.Path(dir_okay=False), metavar="FILE", callback=_check_log,
              help="Append one JSON line per decision here (for `regcode replay`).")
@click.option("--decision-log-input", "log_input", type=click.Choice(["full", "none"]), default="full", show_default=True,
              help="none: log only the input's SHA-256, not the case file itself (privacy; such lines cannot be replayed).")
@click.option("--decision-log-max-bytes", "log_max_bytes", type=click.IntRange(1024, 1 << 40), default=100 << 20, show_default=True,
              help="Rotate the log past this size: FILE -> FILE.1 -> ... FILE.KEEP.")
@click.option("--decision-log-keep", "log_keep", type=click.IntRange(0, MAX_KEEP), default=5, show_default=True,
              help="Rotated files to keep.")
@click.option("--decision-log-fsync", "log_fsync", is_flag=True,
              help="fsync each line before answering (survives a power cut, at a disk flush per decision).")
@click.option("--workers", type=click.IntRange(1, MAX_JOBS), default=None, metavar="N",
              help="Worker processes that evaluate (default: the cores available).")
@click.option("--timeout", type=Bounded(0.01, MAX_SECONDS), default=10.0, show_default=True, metavar="SECONDS",
              help="Time limit per request; a worker past it is stopped and the request gets a 422 `eval.timeout`.")
@click.option("--read-timeout", type=Bounded(0.01, MAX_SECONDS), default=15.0, show_default=True, metavar="SECONDS",
              help="A request's head (request line and headers) must arrive within it, and its body pause no longer; "
                   "else a 408 and the connection closed.")
@click.option("--max-body-bytes", type=click.IntRange(1, 1 << 30), default=8 << 20, show_default=True, help="Largest request body (413 past it).")
@click.option("--max-batch", type=click.IntRange(1, 1_000_000), default=1000, show_default=True, help="Most case files in one batch (413 past it).")
@click.option("--max-waiting", type=click.IntRange(0, 1_000_000), default=64, show_default=True,
              help="Requests that may wait for a free worker; more get 429 with Retry-After.")
@click.option("--enable-admin", is_flag=True, help="Serve POST /v1/admin/reload (SIGHUP reloads in any case).")
@backend_option
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info", show_default=True)
@click.pass_context
def serve_cmd(ctx, host, port, policy_roots, decision_log, log_input, log_max_bytes, log_keep, log_fsync, workers, timeout,
              read_timeout, max_body_bytes, max_batch, max_waiting, enable_admin, backend, log_level):
    """Serve decisions over HTTP (JSON), with a decision log for `regcode replay`.

    \b
    POST /v1/evaluate, POST /v1/evaluate/batch    the `eval --format json` object, plus decision_id
    GET  /v1/policies, /v1/policies/ID/VERSION    what is served, and a version as `show` prints it
    GET  /health, /metrics, /openapi.json, /docs  liveness, Prometheus text, the API's description

    \b
    Every policy version is compiled once at start (a version that fails stops the start, with its
    errors). SIGHUP (or POST /v1/admin/reload with --enable-admin) recompiles; a version that fails
    then keeps serving its last good compile, and the log says why.

    \b
    Examples:
      regcode serve --decision-log decisions.log
      curl -s -X POST 'localhost:8181/v1/evaluate?explain=none' -H 'Content-Type: application/yaml' \\
           --data-binary @examples/cases/aa-clean.yaml
    """
    try:
        import uvicorn
        from ..service import registry
        from ..service.app import ServeConfig, create_app
        from ..service.protocol import protocol
    except ImportError as exc:
        raise click.ClickException(f"{MISSING} ({exc})") from None
    check_policy_roots(policy_roots)
    loaded = registry.load(list(policy_roots or []))
    if not loaded.ok:
        report_issues(loaded.issues())
        click.echo("regcode serve: not started; fix the policies above (`regcode validate`), then start again.", err=True)
        ctx.exit(EXIT_POLICY)
    config = ServeConfig(policy_roots=[str(r) for r in policy_roots or []], decision_log=decision_log,
                         log_input=log_input == "full", log_max_bytes=log_max_bytes, log_keep=log_keep, log_fsync=log_fsync,
                         workers=workers or 0, timeout=timeout, read_timeout=read_timeout, max_body_bytes=max_body_bytes, max_batch=max_batch,
                         max_waiting=max_waiting, enable_admin=enable_admin, backend=backend, handle_sighup=True)
    try:
        app = create_app(config, loaded)
    except OSError as exc:   # the decision log cannot be opened after all (a folder of that name, a full disk...)
        if decision_log and exc.filename is not None and os.path.abspath(exc.filename) == os.path.abspath(decision_log):
            raise click.BadParameter(f"cannot open {decision_log} to append to: {exc.strerror or exc}; name a file "
                                     "that can be written", param_hint="--decision-log") from None
        raise click.ClickException(f"cannot start: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")) from None
    sock = _listen(host, port)      # before uvicorn: a port in use is our clear error, not its exit 3
    _log_to_stderr(log_level)
    logging.getLogger("regcode.serve").info("%s", loaded.summary())
    # one uvicorn process: our own worker processes evaluate (uvicorn's --workers would compile once per process)
    # h11, whatever else is installed, its malformed requests answered with problems (service/protocol.py); no
    # WebSocket, whatever is installed (uvicorn's `auto` takes wsproto or websockets when present): the service has no
    # WebSocket route, and an upgrade handed to one got a bare 403, uncounted; its Upgrade header is ignored instead
    # (RFC 9110 7.8), the request served as any
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=log_level == "debug",
                                           server_header=False, timeout_graceful_shutdown=max(1, int(timeout) + 1),
                                           http=protocol(app.state.service.metrics, read_timeout, max_body_bytes),
                                           ws="none"))
    bound_host, bound_port = sock.getsockname()[:2]    # uvicorn does not say where, given a socket; the port may be 0's pick
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    logging.getLogger("regcode.serve").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, bound_port)
    server.run(sockets=[sock])


def _listen(host: str, port: int):
    """The listening socket, or a one-line error (exit 1) naming the address and what to do."""
    import socket
    from ..engine import Issue, Location, PolicyError
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        # proto IPPROTO_TCP, as getaddrinfo gives it: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it a kept-alive connection waits 40 ms for each reply (Nagle against delayed ACKs)
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = ("another program listens there: pass --port N, or stop it" if getattr(exc, "errno", None) == 98 else
                "--host names an address of this machine, e.g. 127.0.0.1 (the default) or localhost")
        raise PolicyError([Issue("serve.listen", f"cannot listen on {host}:{port}: {reason}", Location("--host/--port"),
                                 hint)]) from None


def _log_to_stderr(level: str) -> None:
    """The service's own messages (reloads, replaced workers, bugs) in uvicorn's layout, on stderr."""
    from uvicorn.logging import DefaultFormatter

    logger = logging.getLogger("regcode.serve")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
