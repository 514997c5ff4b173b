"""The `runbook` and `audit` commands (their parsers are in runbooks/cli.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from signer_tui import locations
from signer_tui.credentials import REDACTOR
from signer_tui.model import utcnow
from signer_tui.runbooks.actions import ACTION_NAMES
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.headless import settings_of
from signer_tui.runbooks.identity import current_identity
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


def runs_dir(args: argparse.Namespace, *, write: bool) -> RunsDir:
    if getattr(args, "runs_dir", None):
        return RunsDir(Path(args.runs_dir).expanduser()).check(write=write)
    settings = settings_of(args)
    section = settings.runbooks if settings is not None else None
    path = section.runs_dir if section is not None and section.runs_dir else None
    group = section.group if section is not None else None
    return RunsDir(path or locations.state_dir() / "runbooks", group).check(write=write)


def _terminal() -> Terminal:
    def read(prompt: str) -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    return Terminal(out=out, read=read)


# -- runbook ----------------------------------------------------------------------------------


def report_problems(problems: list[Any]) -> None:
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
        report_problems(found.problems)
        return EXIT_USAGE
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    if not args.paths:
        found = catalog()
        if found.problems:
            report_problems(found.problems)
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
        report_problems(problems)
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
    settings = settings_of(args)
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
