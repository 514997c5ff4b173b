"""`signer-tui runbook …` and `signer-tui audit …`: parsers and commands.

`add_parsers(subparsers)` registers both; `signer_tui/cli.py` only calls it. This module is
the composition point for headless runs: it builds the live findings (`pipeline_findings`)
and the actions (`cli_actions`) from the config, so either can be swapped in one place.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signer_tui import locations
from signer_tui.credentials import REDACTOR
from signer_tui.model import Finding, utcnow
from signer_tui.runbooks.actions import ACTION_NAMES, ActionRegistry, ActionResult, Progress
from signer_tui.runbooks.audit import AuditError
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.identity import current_identity
from signer_tui.runbooks.livecheck import FindingsProvider
from signer_tui.runbooks.loader import Catalog, RunbookError, load_catalog, parse_runbook
from signer_tui.runbooks.report import export_markdown, run_rows, show_lines
from signer_tui.runbooks.state import all_runs, replay
from signer_tui.runbooks.store import RunsDir, RunsDirError
from signer_tui.runbooks.walk import Terminal, walk

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def out(text: str = "") -> None:
    print(REDACTOR(text), flush=True)


def err(text: str) -> None:
    print(REDACTOR(text), file=sys.stderr, flush=True)


def user_runbooks_dir() -> Path:
    return locations.config_dir() / "runbooks"


def catalog() -> Catalog:
    return load_catalog(user_runbooks_dir(), ACTION_NAMES)


def _settings(args: argparse.Namespace) -> Any:
    """The config's settings, or None when there is no config file (runbooks work without)."""
    from signer_tui.config import load_config

    path = locations.config_file(getattr(args, "config", None))
    if not path.exists():
        return None
    return load_config(path).settings


def runs_dir(args: argparse.Namespace, *, write: bool) -> RunsDir:
    if getattr(args, "runs_dir", None):
        return RunsDir(Path(args.runs_dir).expanduser()).check(write=write)
    settings = _settings(args)
    section = settings.runbooks if settings is not None else None
    path = section.runs_dir if section is not None and section.runs_dir else None
    group = section.group if section is not None else None
    return RunsDir(path or locations.state_dir() / "runbooks", group).check(write=write)


def pipeline_findings(args: argparse.Namespace) -> FindingsProvider:
    """Live findings for headless runs: every source of one profile polled (twice, `--settle`
    apart, so "is it moving" checks can judge), through the same collectors as `check`."""

    def provide() -> list[Finding]:
        import asyncio

        from signer_tui import credentials
        from signer_tui.wiring import build_collectors

        settings = _settings(args)
        if settings is None:
            err("no config file: live checks show UNKNOWN (see `signer-tui locate`)")
            return []
        profile = settings.profile(getattr(args, "profile", None))
        store = credentials.SecretStore(credentials.resolve_all(settings))
        collectors = build_collectors(settings, store)
        chosen = next(c for c in collectors if c.name == profile.name)
        settle = float(getattr(args, "settle", 0.0) or 0.0)

        async def once() -> list[Finding]:
            try:
                snapshot = await chosen.collect_once(2 if settle > 0 else 1, settle)
                return snapshot.findings + await upgrade_window(profile)
            finally:
                for collector in collectors:
                    await collector.aclose()

        err(f"polling {profile.name}…")
        return asyncio.run(once())

    return provide


async def upgrade_window(profile: Any) -> list[Finding]:
    """node.stacks.upgrade_window from the node's /v2/pox (until the pipeline polls it)."""
    from signer_tui.checks.upgrade_window import check_upgrade_window
    from signer_tui.sources.errors import SourceError
    from signer_tui.sources.stacks import StacksNode

    node = StacksNode(
        profile.stacks.rpc_url, deployer=profile.registry_deployer, timeout=profile.stacks.timeout
    )
    try:
        pox, error = await node.pox(), None
    except SourceError as exc:
        pox, error = None, exc.title
    finally:
        await node.aclose()
    return check_upgrade_window(pox, error, profile.network, utcnow())


def cli_actions(args: argparse.Namespace) -> ActionRegistry:
    """What a headless run can do itself: `verify-backup` on the chosen profile."""
    registry = ActionRegistry()

    def verify(progress: Progress, cancel: threading.Event) -> ActionResult:
        from signer_tui import credentials
        from signer_tui.runbooks.actions import verification_result
        from signer_tui.verify.run import VerifyRequest, VerifyUsageError, verify_backup

        settings = _settings(args)
        if settings is None:
            return ActionResult(None, "no config file: nothing to verify")
        profile = settings.profile(getattr(args, "profile", None))
        store = credentials.SecretStore(credentials.resolve_all(settings))
        request = VerifyRequest(latest=True, profile=profile, secrets=store)
        try:
            outcome = verify_backup(
                request,
                progress=lambda p: progress(f"{p.phase}: {p.message}", p.fraction),
                cancel=cancel,
            )
        except VerifyUsageError as exc:
            return ActionResult(None, f"cannot verify: {exc}")
        return verification_result(outcome)

    registry.register("verify-backup", verify)
    return registry


def _terminal() -> Terminal:
    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    return Terminal(out=out, read=read)


# -- runbook ----------------------------------------------------------------------------------


def _report_problems(problems: list[Any]) -> None:
    for problem in problems:
        err(str(problem))
    count = len(problems)
    err(f"signer-tui: {count} problem{'s' if count != 1 else ''} in runbook files")


def cmd_list(args: argparse.Namespace) -> int:
    found = catalog()
    rows: list[dict[str, Any]] = [
        {
            "name": r.name,
            "title": r.title,
            "steps": len(r.steps),
            "origin": r.origin,
            "handles": list(r.handles),
            "path": str(r.path),
        }
        for r in sorted(found.runbooks.values(), key=lambda r: r.name)
    ]
    if args.json:
        out(json.dumps(rows, indent=2))
    else:
        width = max((len(r["name"]) for r in rows), default=4)
        for r in rows:
            origin = "" if r["origin"] == "package" else f" [{r['origin']}]"
            out(f"{r['name']:<{width}}  {r['steps']:>2} steps  {r['title']}{origin}")
    if found.problems:
        _report_problems(found.problems)
        return EXIT_USAGE
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    if not args.paths:
        found = catalog()
        if found.problems:
            _report_problems(found.problems)
            return EXIT_USAGE
        out(f"{len(found.runbooks)} runbooks OK")
        return EXIT_OK
    problems: list[Any] = []
    for raw in args.paths:
        try:
            runbook = parse_runbook(Path(raw), "user", ACTION_NAMES)
            out(f"{raw}: OK — {runbook.title} ({len(runbook.steps)} steps)")
        except RunbookError as exc:
            problems.extend(exc.problems)
    if problems:
        _report_problems(problems)
        return EXIT_USAGE
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    runbook = catalog().get(args.name)
    out(f"{runbook.name}: {runbook.title}")
    out(f"  {runbook.summary}")
    out(f"  {runbook.path} ({runbook.origin}), version {runbook.version_hash[:12]}")
    if runbook.handles:
        out(f"  handles: {', '.join(runbook.handles)}")
    for index, step in enumerate(runbook.steps, start=1):
        out("")
        out(f"{index:>2}. [{step.kind}] {step.id}: {step.title}")
        if step.kind == "check":
            out(
                f"    findings: {', '.join(step.findings)}; accept {'/'.join(step.accept)}; "
                f"pass: {step.on_pass}; fail: {step.on_fail}"
            )
        elif step.kind == "command":
            for line in step.command.rstrip().splitlines():
                out(f"    $ {line}")
        elif step.kind == "action":
            out(f"    action: {step.action} ({ACTION_NAMES[step.action]})")
        elif step.kind == "approval":
            out(f"    needs {step.approvers} approval(s) by another operator")
        if args.verbose and step.text:
            for line in step.text.rstrip().splitlines():
                out(f"    {line}")
    return EXIT_OK


def _warn_if_broken(runs: RunsDir) -> None:
    report = runs.audit.verify()
    if not report.ok:
        err(
            f"warning: the run record is NOT intact ({len(report.problems)} problem(s)): "
            "see `signer-tui audit verify`; approvals are refused until it is fixed"
        )


def cmd_start(args: argparse.Namespace) -> int:
    found = catalog()
    runbook = found.get(args.name)
    runs = runs_dir(args, write=True)
    _warn_if_broken(runs)
    settings = _settings(args)
    profile = settings.profile(getattr(args, "profile", None)).name if settings else ""
    session = RunSession.start(runs, runbook, current_identity(), profile=profile)
    return walk(session, _terminal(), args.findings(args), args.actions(args), args.wait)


def cmd_resume(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=True)
    _warn_if_broken(runs)
    session = RunSession.open(runs, args.run, current_identity(), known_actions=ACTION_NAMES)
    if not session.state.is_open:
        out(
            f"run {args.run} is {session.state.status}: nothing to resume "
            f"(see `signer-tui audit show {args.run}`)"
        )
        return EXIT_OK if session.state.status == "completed" else EXIT_FAIL
    session.note("resume")
    return walk(session, _terminal(), args.findings(args), args.actions(args), args.wait)


def _review(session: RunSession, verb: str, yes: bool) -> None:
    step = session.check_approver(session.state)
    for line in show_lines(session.state)[-12:]:
        out(line)
    out("")
    out(f"{verb} step '{step.id}' — {step.title}")
    out(
        f"  run {session.run_id}, runbook {session.runbook.name} "
        f"{session.runbook.version_hash[:12]}, step hash {session.step_hash(step)[:12]}"
    )
    if step.text:
        for line in step.text.rstrip().splitlines():
            out(f"  {line}")
    if yes:
        return
    if not sys.stdin.isatty():
        raise RunError(
            f"standard input is not a terminal: review the run, then pass --yes "
            f"(signer-tui audit show {session.run_id})"
        )
    answer = input(f"Type yes to {verb.lower()} as {session.identity.display()}: ")
    if answer.strip().lower() != "yes":
        raise RunError("not confirmed; nothing was recorded")


def cmd_approve(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=True)
    session = RunSession.open(runs, args.run, current_identity(), known_actions=ACTION_NAMES)
    _review(session, "Approve", args.yes)
    state = session.approve(args.note or "", args.hash)
    if state.status == "waiting":
        step = session.runbook.step(state.current or "")
        out(f"approval recorded ({len(state.approvals)} of {step.approvers})")
    else:
        out(
            f"approved: run {args.run} continues at {state.current or 'its end'} "
            f"(status {state.status})"
        )
    return EXIT_OK


def cmd_reject(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=True)
    session = RunSession.open(runs, args.run, current_identity(), known_actions=ACTION_NAMES)
    _review(session, "Reject", True)
    session.reject(args.reason)
    out(f"rejected: run {args.run} is stopped")
    return EXIT_OK


# -- audit ------------------------------------------------------------------------------------


def _run_state(runs: RunsDir, run_id: str) -> Any:
    state = replay(run_id, runs.audit.entries())
    if state is None:
        raise RunError(f"no run '{run_id}' in {runs.audit.path} (see `signer-tui audit`)")
    return state


def cmd_audit_list(args: argparse.Namespace) -> int:
    try:
        runs = runs_dir(args, write=False)
    except RunsDirError as exc:
        if "nothing has been recorded" not in str(exc):
            raise
        out(str(exc))
        return EXIT_OK
    states = all_runs(runs.audit.entries())
    if getattr(args, "open", False):
        states = [s for s in states if s.is_open]
    if not states:
        out(f"no runs recorded in {runs.audit.path}")
        return EXIT_OK
    rows = run_rows(states)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        out("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:-1])) + "  " + row[-1])
    return EXIT_OK


def cmd_audit_show(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=False)
    for line in show_lines(_run_state(runs, args.run)):
        out(line)
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=False)
    state = _run_state(runs, args.run)
    timeline = Path(args.timeline) if args.timeline else locations.state_dir() / "timeline.jsonl"
    text = export_markdown(state, runs.audit.verify(), timeline, utcnow())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        err(f"written to {args.output}")
    else:
        out(text.rstrip("\n"))
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    runs = runs_dir(args, write=False)
    report = runs.audit.verify()
    for problem in report.problems:
        err(problem)
    if report.ok:
        out(f"{runs.audit.path}: OK — {report.count} entries, head {report.head}")
        return EXIT_OK
    err(f"signer-tui: the record is NOT intact: {len(report.problems)} problem(s)")
    return EXIT_FAIL


# -- parsers ----------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def _guard(handler: Handler) -> Handler:
    """Expected failures of these commands: one line (or one per problem), exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except RunbookError as exc:
            _report_problems(exc.problems)
            return EXIT_USAGE
        except (RunError, RunsDirError, AuditError) as exc:
            err(f"signer-tui: error: {exc}")
            return EXIT_USAGE

    return run


def _runs_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,  # a sub-command's default must not undo `audit --runs-dir`
        help="shared runs directory (default: runbooks.runs_dir in the config)",
    )


def add_parsers(
    subparsers: Any,
    *,
    findings: Callable[[argparse.Namespace], FindingsProvider] = pipeline_findings,
    actions: Callable[[argparse.Namespace], ActionRegistry] = cli_actions,
) -> None:
    """Register `runbook` and `audit` on the CLI's sub-command parsers."""
    book = subparsers.add_parser("runbook", help="guided runbooks with live checks and four eyes")
    book_sub = book.add_subparsers(dest="runbook_command", metavar="ACTION", required=True)

    p = book_sub.add_parser("list", help="every runbook (package and your own)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_guard(cmd_list))
    p = book_sub.add_parser("validate", help="check runbook files; list every problem (exit 2)")
    p.add_argument("paths", nargs="*", metavar="FILE", help="files (default: every runbook)")
    p.set_defaults(handler=_guard(cmd_validate))
    p = book_sub.add_parser("show", help="a runbook's steps")
    p.add_argument("name")
    p.add_argument("--verbose", action="store_true", help="include each step's text")
    p.set_defaults(handler=_guard(cmd_show))
    for name, help_text, handler in (
        ("start", "start a run and walk it in this terminal", cmd_start),
        ("resume", "continue a run where it stopped (any operator)", cmd_resume),
    ):
        p = book_sub.add_parser(name, help=help_text)
        p.add_argument(
            "run" if name == "resume" else "name", metavar="RUN" if name == "resume" else "NAME"
        )
        p.add_argument("--profile", metavar="NAME", help="signer profile for live checks")
        p.add_argument(
            "--settle",
            type=float,
            default=6.0,
            metavar="SECONDS",
            help="live checks poll twice this far apart (default 6; 0 = once)",
        )
        p.add_argument(
            "--wait",
            nargs="?",
            type=float,
            const=5.0,
            metavar="SECONDS",
            help="at an approval step, wait for the answer (polling every 5 s or SECONDS)",
        )
        _runs_dir_option(p)
        p.set_defaults(handler=_guard(handler), findings=findings, actions=actions)
    p = book_sub.add_parser("approve", help="approve another operator's run (four eyes)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--note", help="a note for the record")
    p.add_argument("--hash", metavar="PREFIX", help="refuse unless the step hash starts so")
    p.add_argument("--yes", action="store_true", help="do not ask (after reviewing the run)")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_approve))
    p = book_sub.add_parser("reject", help="reject another operator's run: it stops")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--reason", required=True, help="why (recorded)")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_reject))

    audit = subparsers.add_parser("audit", help="the run record: list, show, export, verify")
    _runs_dir_option(audit)
    audit.add_argument("--open", action="store_true", help="only runs still open")
    audit.set_defaults(handler=_guard(cmd_audit_list))
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    p = audit_sub.add_parser("list", help="every run (default)")
    p.add_argument("--open", action="store_true", default=argparse.SUPPRESS, help="only open runs")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_audit_list))
    p = audit_sub.add_parser("show", help="one run, entry by entry")
    p.add_argument("run", metavar="RUN")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_audit_show))
    p = audit_sub.add_parser("export", help="a hand-over document for one run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--md", action="store_true", required=True, help="Markdown (the format)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--timeline", metavar="FILE", help="console timeline (default: state dir)")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_audit_export))
    p = audit_sub.add_parser("verify", help="check the hash chain (exit 1 if broken)")
    _runs_dir_option(p)
    p.set_defaults(handler=_guard(cmd_audit_verify))
