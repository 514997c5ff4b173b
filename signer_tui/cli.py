"""Command-line entry point: argument parsing and sub-commands only.

Expected failures print one line naming what was wrong and what to do, and exit 2 for usage
and config errors. Everything printed passes through the secret redactor.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from signer_tui import __version__, locations
from signer_tui.config import THEMES, ConfigError, LoadedConfig, load_config, resolved_items

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2

_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")


class UsageError(Exception):
    """A one-line, expected error: exit code 2."""


def out(text: str = "") -> None:
    from signer_tui.credentials import REDACTOR

    print(REDACTOR(text))


def err(text: str) -> None:
    from signer_tui.credentials import REDACTOR

    print(REDACTOR(text), file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, plus where to look, instead of argparse's usage dump.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]
        for row in rows
    ]


def load(args: argparse.Namespace, path: str | None = None) -> LoadedConfig:
    return load_config(locations.config_file(path or args.config))


# -- config ----------------------------------------------------------------------------------


def cmd_config_validate(args: argparse.Namespace) -> int:
    loaded = load(args, args.path)
    names = ", ".join(f"{p.name} ({p.network})" for p in loaded.settings.signers)
    out(f"{loaded.path}: OK — {len(loaded.settings.signers)} signer profile(s): {names}")
    return EXIT_OK


def cmd_config_show(args: argparse.Namespace) -> int:
    loaded = load(args)
    rows = resolved_items(loaded)
    if args.json:
        out(
            json.dumps(
                {
                    "file": str(loaded.path),
                    "values": [{"path": p, "value": v, "source": s} for p, v, s in rows],
                },
                indent=2,
            )
        )
        return EXIT_OK
    out(f"# resolved config from {loaded.path} (secrets shown as references)")
    for line in _table([("PATH", "VALUE", "SOURCE"), *rows]):
        out(line)
    return EXIT_OK


def cmd_locate(args: argparse.Namespace) -> int:
    path = locations.config_file(args.config)
    if args.config:
        origin = "from --config"
    elif os.environ.get(locations.CONFIG_ENV):
        origin = f"from ${locations.CONFIG_ENV}"
    else:
        origin = "default"
    exists = "exists" if path.exists() else "missing"
    rows = [
        ("config file", str(path), f"{exists}, {origin}"),
        ("state dir", str(locations.state_dir()), "verification history, timeline"),
        ("cache dir", str(locations.cache_dir()), "release and advisory feeds"),
    ]
    for line in _table(rows):
        out(line)
    return EXIT_OK


# -- secrets ---------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not _SECRET_NAME.match(name):
        raise UsageError(
            f"'{name}' is not a valid secret name: "
            "use letters, digits and . _ - @ (e.g. db-mainnet)"
        )
    return name


def _optional_config(args: argparse.Namespace) -> LoadedConfig | None:
    path = locations.config_file(args.config)
    if not path.exists():
        return None
    return load_config(path)


def cmd_secrets_set(args: argparse.Namespace) -> int:
    from signer_tui import credentials

    name = _check_name(args.name)
    if args.stdin:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    else:
        if not sys.stdin.isatty():
            raise UsageError("standard input is not a terminal: pipe the secret with --stdin")
        value = getpass.getpass(f"Secret for '{name}' (input hidden): ")
        again = getpass.getpass("Repeat it: ")
        if value != again:
            raise UsageError("the two entries differ; nothing was stored")
    if not value:
        raise UsageError("empty secret; nothing was stored")
    credentials.keyring_set(name, value)
    info = credentials.backend_info()
    out(f"stored '{name}' in the keyring ({info.name})")
    loaded = _optional_config(args)
    if loaded is not None:
        used = [
            p for p, r in loaded.settings.secret_refs() if r.kind == "keyring" and r.name == name
        ]
        if not used:
            out(f"note: {loaded.path} has no {{keyring: {name}}} reference yet")
    return EXIT_OK


def cmd_secrets_list(args: argparse.Namespace) -> int:
    from signer_tui import credentials

    info = credentials.backend_info()
    state = "usable" if info.usable else f"NOT USABLE: {info.reason}"
    out(f"keyring backend: {info.name} ({state})")
    if not info.usable:
        out(f"fix: {credentials.FIX}")
    loaded = _optional_config(args)
    if loaded is None:
        out(f"no config file at {locations.config_file(args.config)}: no references to check")
        return EXIT_OK if info.usable else EXIT_FAIL
    refs = list(loaded.settings.secret_refs())
    if not refs:
        out(f"{loaded.path} references no secrets")
        return EXIT_OK
    resolved = credentials.resolve_all(loaded.settings)
    rows = [("REFERENCE", "USED BY", "STATUS")]
    failures = 0
    for item in resolved:
        if item.secret is not None:
            status = "resolves"
            if item.ref.kind == "plain":
                status = "resolves (plain text in the config: move it to the keyring)"
        else:
            failures += 1
            status = f"MISSING — {item.error}"
        rows.append((item.ref.display(), item.path, status))
    for line in _table(rows):
        out(line)
    return EXIT_FAIL if failures else EXIT_OK


def cmd_secrets_delete(args: argparse.Namespace) -> int:
    from signer_tui import credentials

    name = _check_name(args.name)
    if credentials.keyring_delete(name):
        out(f"deleted '{name}' from the keyring")
        return EXIT_OK
    out(f"no keyring entry '{name}'; nothing deleted")
    return EXIT_FAIL


# -- the console and the headless check ----------------------------------------------------

# `signer-tui check` exit codes by worst status (2 stays "usage or config error").
CHECK_EXIT = {"OK": 0, "WARN": 1, "UNKNOWN": 3, "CRIT": 4}


def _pipeline(args: argparse.Namespace) -> tuple[LoadedConfig, Any, Any]:
    """Load the config and resolve every secret before anything polls (or the TUI starts)."""
    from signer_tui import credentials
    from signer_tui.pipeline.build import build_pipeline

    loaded = load(args)
    if args.profile is not None:
        loaded.settings.profile(args.profile)  # a ConfigError naming the known profiles
    store = credentials.SecretStore(credentials.resolve_all(loaded.settings))
    return loaded, build_pipeline(loaded.settings, store, config_path=loaded.path), store


def _log_to_state_dir() -> None:
    """Unexpected errors keep their traceback in the state dir's log file."""
    import logging

    with contextlib.suppress(OSError):
        directory = locations.state_dir()
        directory.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(directory / "signer-tui.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger("signer_tui")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _verify_request(collector: Any, *, store: Any) -> Any:
    """What `v` verifies: the newest backup of the profile on screen. The restore machinery
    (psycopg, cluster, pg_restore) is imported when the operator asks, not before first paint."""
    from signer_tui.verify.run import VerifyRequest

    return VerifyRequest(latest=True, profile=collector.profile, secrets=store)


def cmd_tui(args: argparse.Namespace) -> int:
    from signer_tui.ui.app import SignerApp

    loaded, pipeline, store = _pipeline(args)
    _log_to_state_dir()
    settings = loaded.settings
    app = SignerApp(
        pipeline,
        theme=settings.ui.theme,
        keymap=settings.ui.keymap,
        state_dir=locations.state_dir(),
        verify_request=partial(_verify_request, store=store),
    )
    if args.profile is not None:
        app.current = next(i for i, c in enumerate(pipeline.profiles) if c.name == args.profile)
    from signer_tui.ui.screens.runbooks import attach

    attach(app, runs_dir=settings.runbooks.runs_dir, group=settings.runbooks.group)
    app.run(mouse=settings.ui.mouse)
    return app.return_code or EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    if args.nagios and (args.json or args.quiet):
        raise UsageError("--nagios prints its own output: drop --json/--quiet")
    _loaded, pipeline, _store = _pipeline(args)
    _log_to_state_dir()
    memory = None if args.no_memory else Path(args.memory or locations.state_dir() / MEMORY_FILE)
    chosen = None if args.profile is None else [args.profile]
    return check_and_report(pipeline, chosen, args, memory=memory)


MEMORY_FILE = "check-memory.json"


def check_and_report(
    pipeline: Any, chosen: list[str] | None, args: argparse.Namespace, *, memory: Path | None
) -> int:
    """Poll the `chosen` profiles (all when None) and the shared feeds, once (or twice,
    `--settle` apart), print, and map the worst status to an exit code. With `memory`, tips
    and counters of earlier runs are loaded first and saved after, so a stall shows across
    cron runs. The pipeline is closed afterwards. Shared by `check` and `demo --once`."""
    import asyncio

    from signer_tui.model import Status, utcnow
    from signer_tui.pipeline import memory as remembered
    from signer_tui.present import jsonout, promfile, text

    collectors = [c for c in pipeline.profiles if chosen is None or c.name in chosen]
    if memory is not None:
        remembered.load(memory, collectors)

    async def run_all() -> list[Any]:
        try:
            rounds = 2 if args.settle > 0 else 1
            return list(await pipeline.collect_once(chosen, rounds, args.settle))
        finally:
            await pipeline.aclose()

    snapshots = asyncio.run(run_all())
    now = utcnow()
    if memory is not None:
        with contextlib.suppress(OSError):
            remembered.save(memory, collectors, now)
    if getattr(args, "prometheus", None):
        promfile.write(Path(args.prometheus), promfile.render(snapshots, now))
    if getattr(args, "nagios", False):
        from signer_tui.present import nagios

        report, code = nagios.render(snapshots, now)
        sys.stdout.write(report)
        return code
    if args.json:
        out(jsonout.render(snapshots, now).rstrip("\n"))
    elif not getattr(args, "quiet", False):
        verbose = getattr(args, "verbose", False)
        out(text.render(snapshots, now, verbose=verbose).rstrip("\n"))
    worst = Status.worst(f.effective_status(now) for s in snapshots for f in s.findings)
    return CHECK_EXIT[worst.value]


# -- the demo -------------------------------------------------------------------------------


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_demo(args: argparse.Namespace) -> int:
    import signal

    from signer_tui import demo

    usage = _demo_usage_error(args)
    if usage:
        err(f"signer-tui demo: error: {usage} (see `signer-tui demo --help`)")
        return EXIT_USAGE
    if args.web:
        return _demo_web(args)
    # SIGTERM/SIGHUP while the stack starts must still tear it down (finally below).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    quiet = args.once and args.json

    def progress(message: str) -> None:
        if not quiet:
            err(f"demo: {message}…")

    stack = demo.DemoStack.create(progress=progress)
    stack.watch_terminal()  # a lost terminal must not leave the stack running
    try:
        if args.scenario:
            err(f"demo: {stack.inject(args.scenario)}")
        pipeline = demo.build(stack)
        if args.once:
            return check_and_report(pipeline, None, args, memory=None)
        from signer_tui.ui.app import DemoHooks, SignerApp

        app = SignerApp(
            pipeline,
            theme=args.theme or "signer-dark",
            state_dir=stack.state_dir,
            demo=DemoHooks(list(demo.INCIDENTS), stack.inject),
            verify_request=demo.verify_request_for(stack),
        )
        app.run()
        return app.return_code or EXIT_OK
    finally:
        stack.stop()


def _demo_usage_error(args: argparse.Namespace) -> str:
    """What is wrong with the demo's options, checked before anything starts ("" if none)."""
    if args.json and not args.once:
        return "--json needs --once (the console itself is interactive)"
    if args.web and args.once:
        return "--web and --once do not go together"
    if args.web:
        if not 1 <= args.port <= 65535:
            return f"--port {args.port} is not a TCP port (1-65535)"
        import socket

        # textual-serve would fail later with a traceback: try the address first.
        try:
            with socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((args.host, args.port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return f"cannot listen on {args.host}:{args.port}: {reason} (pick another --port)"
    return ""


def _demo_web(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from textual_serve.server import Server

    command = [sys.executable, "-m", "signer_tui", "demo"]
    if args.scenario:
        command += ["--scenario", args.scenario]
    if args.theme:
        command += ["--theme", args.theme]
    err(f"demo: serving the console on http://{args.host}:{args.port} (Ctrl-C stops)")
    server = Server(shlex.join(command), host=args.host, port=args.port, title="signer-tui demo")
    server.serve()
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="signer-tui",
        description="The on-call console for sBTC signer operators.",
    )
    parser.add_argument("--version", action="version", version=f"signer-tui {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help=f"config file (default: ${locations.CONFIG_ENV} or {locations.default_config_file()})",
    )
    parser.add_argument("--profile", metavar="NAME", help="signer profile to show or check")
    parser.set_defaults(handler=cmd_tui)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser(
        "check",
        help="poll everything once and print the findings (exit 0 OK, 1 WARN, 3 UNKNOWN, 4 CRIT)",
    )
    check.add_argument("--profile", metavar="NAME", help="only this profile")
    check.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also poll a second time this far apart within one run (default 0: tips and "
        "counters are judged against the previous run's, kept in the state dir)",
    )
    check.add_argument(
        "--memory",
        metavar="FILE",
        help=f"where runs keep tips and counters (default: the state dir's {MEMORY_FILE})",
    )
    check.add_argument(
        "--no-memory", action="store_true", help="judge this run alone (first-run verdicts)"
    )
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--verbose", action="store_true", help="add the advice of every problem")
    check.add_argument("--quiet", action="store_true", help="print nothing; just the exit code")
    check.add_argument(
        "--prometheus", metavar="FILE", help="also write a Prometheus textfile (atomically)"
    )
    check.add_argument(
        "--nagios",
        action="store_true",
        help="Nagios/Icinga plugin output: one status line + perfdata; exit 0 OK, 1 WARNING, "
        "2 CRITICAL, 3 UNKNOWN (also for usage and config errors)",
    )
    check.set_defaults(handler=cmd_check)

    from signer_tui.demo_scenarios import INCIDENT_NAMES

    demo = sub.add_parser(
        "demo",
        help="the whole console on a built-in simulated stack (no signer of your own needed)",
    )
    demo.add_argument(
        "--scenario", choices=INCIDENT_NAMES, help="start with this incident injected"
    )
    demo.add_argument("--theme", choices=THEMES, help="console theme (e.g. ansi-dark)")
    demo.add_argument("--once", action="store_true", help="poll once, print the findings, exit")
    demo.add_argument("--json", action="store_true", help="with --once: JSON output")
    demo.add_argument(
        "--settle", type=float, default=6.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    demo.add_argument("--web", action="store_true", help="serve the console to a local browser")
    demo.add_argument("--host", default="127.0.0.1", help="with --web: address (default loopback)")
    demo.add_argument("--port", type=int, default=8000, help="with --web: port (default 8000)")
    demo.set_defaults(handler=cmd_demo)

    config = sub.add_parser("config", help="validate or show the configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = config_sub.add_parser("validate", help="check a config file; list every problem")
    validate.add_argument("path", nargs="?", help="file to check (default: the active config)")
    validate.set_defaults(handler=cmd_config_validate)
    show = config_sub.add_parser("show", help="the resolved config with the source of each value")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=cmd_config_show)

    locate = sub.add_parser("locate", help="print the config, state and cache paths")
    locate.set_defaults(handler=cmd_locate)

    secrets = sub.add_parser("secrets", help="manage credentials in the OS keyring")
    secrets_sub = secrets.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    sset = secrets_sub.add_parser("set", help="store a secret (hidden prompt, or --stdin)")
    sset.add_argument("name", help="keyring entry name, as in {keyring: NAME}")
    sset.add_argument("--stdin", action="store_true", help="read the secret from standard input")
    sset.set_defaults(handler=cmd_secrets_set)
    slist = secrets_sub.add_parser("list", help="referenced secrets and whether they resolve")
    slist.set_defaults(handler=cmd_secrets_list)
    sdel = secrets_sub.add_parser("delete", help="remove a secret from the keyring")
    sdel.add_argument("name")
    sdel.set_defaults(handler=cmd_secrets_delete)

    from signer_tui.verify import command as verify_command

    verify_command.add_parser(sub)

    from signer_tui.runbooks import cli as runbook_cli

    runbook_cli.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from signer_tui import startup

    try:
        # Ctrl-C while the parser imports its sub-commands: one line, exit 130.
        startup.ready()
        arguments = list(sys.argv[1:] if argv is None else argv)
        if "--nagios" in arguments:
            return main_nagios(arguments)
        parser = build_parser()
        args = parser.parse_args(arguments)
    except KeyboardInterrupt:
        err("signer-tui: interrupted")
        return 130
    handler: Handler = args.handler
    return run_handler(handler, args)


def _loaded_failures() -> tuple[type[BaseException], ...]:
    """The verification code's expected failures, from its modules if they are loaded: an
    exception of a module that was never imported cannot have been raised, and importing
    them here would put the restore machinery on every command's path."""
    found: list[type[BaseException]] = []
    for module, name in (
        ("signer_tui.verify.cluster", "ClusterError"),
        ("signer_tui.pgdump.installs", "BinariesError"),
    ):
        loaded = sys.modules.get(module)
        if loaded is not None:
            found.append(getattr(loaded, name))
    return tuple(found)


def main_nagios(arguments: list[str]) -> int:
    """`check --nagios`: as a monitoring plugin, every failure to check is UNKNOWN (3), with
    its one status line on stdout (the stream Nagios reads) and the detail on stderr."""
    import contextlib
    import io

    from signer_tui.present import nagios

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            args = build_parser().parse_args(arguments)
    except SystemExit as exc:
        if exc.code in (0, None):  # --help
            return EXIT_OK
        message = captured.getvalue().strip().splitlines()
        err("\n".join(message))
        sys.stdout.write(nagios.failure("usage error: " + (message[-1] if message else "")))
        return nagios.EXIT_UNKNOWN
    if getattr(args, "command", None) != "check":
        sys.stdout.write(nagios.failure("usage error: --nagios belongs to `signer-tui check`"))
        return nagios.EXIT_UNKNOWN
    try:
        return cmd_check(args)
    except ConfigError as exc:
        problems = [str(p) for p in exc.problems]
        for problem in problems:
            err(problem)
        sys.stdout.write(nagios.failure(f"configuration error: {problems[0]}", problems[1:]))
    except UsageError as exc:
        err(f"signer-tui: error: {exc}")
        sys.stdout.write(nagios.failure(f"usage error: {exc}"))
    except KeyboardInterrupt:
        sys.stdout.write(nagios.failure("interrupted"))
    except Exception as exc:  # a plugin must answer UNKNOWN, never a traceback and exit 1
        sys.stdout.write(nagios.failure(f"internal error: {type(exc).__name__}: {exc}"))
    return nagios.EXIT_UNKNOWN


def run_handler(handler: Handler, args: argparse.Namespace) -> int:
    try:
        # Imported here (not at the top: `--help` stays light); a Ctrl-C during the import
        # is still one line.
        from signer_tui.sources.errors import SourceError
    except KeyboardInterrupt:
        err("signer-tui: interrupted")
        return 130
    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            err(str(problem))
        count = len(exc.problems)
        err(f"signer-tui: {count} problem{'s' if count != 1 else ''} in the configuration")
        return EXIT_USAGE
    except UsageError as exc:
        err(f"signer-tui: error: {exc}")
        return EXIT_USAGE
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        err(f"signer-tui: {exc.title}{detail}")
        return EXIT_FAIL
    except KeyboardInterrupt:
        err("signer-tui: interrupted")
        return 130
    except BrokenPipeError:
        # `signer-tui config show | head` closes the pipe early; that is not an error.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:
        if not isinstance(exc, _loaded_failures()):
            raise
        err(f"signer-tui: {exc}")
        return EXIT_FAIL
