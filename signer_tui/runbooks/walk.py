"""Walking a run in a terminal without the console (`runbook start` / `resume`).

Prompts read whole lines, so answers can also be piped (`printf 'd\\n' | …`). End of input
or `q` leaves the run where it is: `runbook resume RUN` continues it, in any session.
Nothing here executes an operator command: commands are printed, their output is pasted
back as a note.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from signer_tui.runbooks.actions import ActionRegistry
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.livecheck import CheckRow, FindingsProvider, evaluate
from signer_tui.runbooks.spec import Step

EXIT = {"completed": 0, "stopped": 1, "rejected": 1}


@dataclass
class Terminal:
    out: Callable[[str], None]
    read: Callable[[str], str | None]  # a prompt -> a line, or None at end of input


class _Leave(Exception):
    pass


def _ask(term: Terminal, prompt: str) -> str:
    answer = term.read(prompt)
    if answer is None or answer.strip().lower() in ("q", "quit"):
        raise _Leave
    return answer.strip()


def _note(term: Terminal, prompt: str, required: bool) -> str:
    term.out(f"{prompt} (several lines; end with a line holding only '.')")
    lines: list[str] = []
    while True:
        line = term.read("> ")
        if line is None or line.strip() == ".":
            break
        lines.append(line.rstrip("\n"))
    text = "\n".join(lines).strip()
    if required and not text:
        term.out("  a reason or note is required here")
        return _note(term, prompt, required)
    return text


def show_rows(term: Terminal, rows: list[CheckRow]) -> None:
    for row in rows:
        term.out(f"  {row.status:<7} {row.finding_id:<28} {row.summary} ({row.age})")
        if row.evidence:
            term.out(f"          {row.evidence}")


def walk(
    session: RunSession,
    term: Terminal,
    findings: FindingsProvider,
    actions: ActionRegistry,
    wait: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Walk until the run ends, the operator leaves, or it waits for an approval (with
    `wait`: poll the record every `wait` seconds until another operator answered)."""
    term.out(f"run {session.run_id}: {session.runbook.title} (by {session.identity.display()})")
    if session.runbook.intro and session.state.results() == []:
        term.out(session.runbook.intro.rstrip())
    try:
        while (step := session.step) is not None:
            index, total = session.position()
            term.out("")
            term.out(f"[{index}/{total}] {step.kind}: {step.title}")
            if step.text:
                term.out(step.text.rstrip())
            if step.kind == "approval":
                code = _approval(session, term, step)
                if wait is None:
                    return code
                term.out("  waiting here for the answer (Ctrl-C stops waiting; the run stays)")
                while session.refresh().status == "waiting":
                    sleep(wait)
                continue
            _do_step(session, term, step, findings, actions)
    except _Leave:
        session.note("pause")
        term.out(f"left the run; continue with: signer-tui runbook resume {session.run_id}")
        return 0
    status = session.state.status
    term.out(f"run {session.run_id} {status}")
    return EXIT.get(status, 1)


def _do_step(
    session: RunSession,
    term: Terminal,
    step: Step,
    findings: FindingsProvider,
    actions: ActionRegistry,
) -> None:
    if step.kind == "text":
        _ask(term, "Enter to continue (q leaves): ")
        session.record("read", step_id=step.id)
    elif step.kind == "check":
        while True:
            passed, rows = evaluate(step, findings, session.clock())
            show_rows(term, rows)
            route = step.on_pass if passed else step.on_fail
            term.out(f"  gate: {'PASS' if passed else 'FAIL'} → {route}")
            if _ask(term, "Enter records this result, r re-checks (q leaves): ").lower() != "r":
                break
        session.record("passed" if passed else "failed", findings=rows, step_id=step.id)
    elif step.kind == "action" and actions.get(step.action) is not None:
        if _ask(term, f"Enter runs {step.action}, s skips (q leaves): ").lower() == "s":
            session.record("skipped", _note(term, "Why skip it?", True), step_id=step.id)
            return
        outcome = actions.run(
            step.action,
            lambda message, _f: term.out(f"  … {message}"),
            threading.Event(),
        )
        term.out(f"  {outcome.result.upper()}: {outcome.summary}")
        for line in outcome.details:
            term.out(f"    {line}")
        session.record(outcome.result, outcome.note(), step_id=step.id)
    else:
        _confirm(session, term, step)


def _confirm(session: RunSession, term: Terminal, step: Step) -> None:
    if step.kind == "command":
        term.out("  run this yourself (it is never run for you):")
        for line in step.command.rstrip().splitlines():
            term.out(f"    {line}")
    if step.kind == "action":
        term.out(f"  this session cannot run '{step.action}': do it by hand and note the result")
    while True:
        answer = _ask(term, "[d]one / [s]kip / [f]ailed (q leaves): ").lower()[:1]
        result = {"d": "done", "s": "skipped", "f": "failed"}.get(answer)
        if result is not None:
            break
    prompt = {
        "done": "Paste the output or a note (optional)",
        "skipped": "Why skip it?",
        "failed": "What failed?",
    }[result]
    required = result != "done" or step.kind == "action"
    note = _note(term, prompt, required)
    try:
        session.record(result, note, step_id=step.id)
    except RunError as exc:
        term.out(f"  {exc}")


def _approval(session: RunSession, term: Terminal, step: Step) -> int:
    state = session.state
    if state.status != "waiting":
        _ask(term, f"Enter asks for {step.approvers} approval(s) by another operator (q leaves): ")
        state = session.request_approval()
    done = len(state.approvals)
    term.out(
        f"  waiting for approval ({done} of {step.approvers}); step hash "
        f"{session.step_hash(step)[:12]}"
    )
    term.out(f"  another operator runs: signer-tui runbook approve {session.run_id}")
    term.out(f"  then continue with:    signer-tui runbook resume {session.run_id}")
    return 0
