"""One run, one step at a time: guidance, live findings, the command to copy, the action.

Keys: Enter does the step's main thing (continue, record the check, run the action, ask for
approval); d / s / f record done / skipped (reason) / failed (note) for confirmations and
commands; n adds a note (paste a command's output); y copies the command (OSC 52); r
re-checks; Esc leaves the run where it is (anyone can resume it). Every result goes to the
shared record at once, so a crash or a dropped SSH session loses nothing.
"""

from __future__ import annotations

import contextlib
import textwrap
import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Markdown, ProgressBar, Static
from textual.worker import Worker, WorkerState

from signer_tui.model import Status
from signer_tui.runbooks.actions import ActionResult
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.livecheck import CheckRow, evaluate
from signer_tui.runbooks.spec import Step
from signer_tui.ui.screens.prompt import PromptScreen
from signer_tui.ui.screens.runbooks import RunbookHost
from signer_tui.ui.theme import status_style

INDENT = 8  # the status column of a live-check row

# Which keys mean something on which kind of step (check_action hides the rest).
KEYS: dict[str, set[str]] = {
    "text": {"primary"},
    "check": {"primary", "recheck"},
    "command": {"done", "skip", "fail", "note", "copy"},
    "confirm": {"done", "skip", "fail", "note"},
    "action": {"primary", "skip", "note"},
    "approval": {"primary"},
}
PRIMARY = {
    "text": "Continue",
    "check": "Record result",
    "action": "Run",
    "approval": "Ask approval",
}


class ActionProgress(Message):
    def __init__(self, message: str, fraction: float | None) -> None:
        super().__init__()
        self.message = message
        self.fraction = fraction


class RunbookScreen(Screen[None]):
    DEFAULT_CSS = """
    RunbookScreen { layout: vertical; }
    #step-header { height: 1; background: $panel; }
    #step-title { height: 1; text-style: bold; padding: 0 1; }
    #step-body { height: 1fr; padding: 0 1; }
    #step-text { margin: 0; padding: 0; }
    #step-text MarkdownParagraph { margin: 0 0 1 0; }
    #step-live { height: auto; }
    #step-command { height: auto; border: round $accent; padding: 0 1; }
    #step-bar { height: 1; }
    #step-gate { height: auto; max-height: 3; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("escape,q", "leave", "Leave", id="close"),
        Binding("enter", "primary", "Do step", id="step-primary"),
        Binding("d", "done", "Done", id="step-done"),
        Binding("s", "skip", "Skip", id="step-skip"),
        Binding("f", "fail", "Failed", id="step-failed"),
        Binding("n", "note", "Note", id="step-note"),
        Binding("y", "copy", "Copy cmd", id="step-copy"),
        Binding("r", "recheck", "Re-check", id="step-recheck"),
    ]

    def __init__(self, session: RunSession, host: RunbookHost) -> None:
        super().__init__()
        self.session = session
        self.host = host
        self.note_text = ""
        self.rows: list[CheckRow] = []
        self.passed = False
        self.busy = False
        self.action_outcome: ActionResult | None = None
        self.cancel = threading.Event()
        self._shown: tuple[str | None, str] = (None, "")

    def compose(self) -> ComposeResult:
        yield Static("", id="step-header", markup=False)
        yield Static("", id="step-title", markup=False)
        with VerticalScroll(id="step-body"):
            yield Markdown("", id="step-text")
            yield Static("", id="step-command", markup=False)
            yield ProgressBar(total=None, show_eta=False, id="step-bar")
            yield Static("", id="step-live")
        yield Static("", id="step-gate")
        yield Footer()

    def on_mount(self) -> None:
        self.show_step()
        self.set_interval(2.0, self._tick)
        self.query_one("#step-body").focus()

    # -- rendering ------------------------------------------------------------------------

    @property
    def step(self) -> Step | None:
        return self.session.step

    def _kind(self) -> str:
        step = self.step
        if step is None:
            return "ended"
        if step.kind == "action" and self.host.actions.get(step.action) is None:
            return "confirm"  # the console cannot run it here: the operator does it by hand
        return step.kind

    def show_step(self) -> None:
        session = self.session
        state = session.state
        step = self.step
        index, total = session.position()
        profile = f"{state.profile} · " if state.profile else ""
        header = f" {profile}{session.runbook.name} · run {session.run_id[-4:]} · "
        self.note_text = "" if (step.id if step else None) != self._shown[0] else self.note_text
        self._shown = (step.id if step else None, state.status)
        command = self.query_one("#step-command", Static)
        bar = self.query_one("#step-bar", ProgressBar)
        bar.display = False
        command.display = False
        if step is None:
            self.query_one("#step-header", Static).update(header + f"{state.status.upper()}")
            self.query_one("#step-title", Static).update(f"Run {state.status}")
            lines = [f"* **{e.get('step')}**: {e.get('result')}" for e in state.results()]
            summary = "\n".join(lines) or "No steps recorded."
            self.query_one("#step-text", Markdown).update(
                f"{summary}\n\nHand-over: `signer-tui audit export {session.run_id} --md`"
            )
            self.query_one("#step-live", Static).update("")
            self._gate(f"Run {state.status}. Esc goes back to the list.")
            self.refresh_bindings()
            return
        kind = self._kind()
        self.query_one("#step-header", Static).update(
            header
            + f"step {index}/{total} · {step.kind}"
            + (" (by hand)" if kind != step.kind else "")
        )
        self.query_one("#step-title", Static).update(step.title)
        text = step.text
        if index == 1 and not state.results() and session.runbook.intro:
            text = session.runbook.intro + "\n\n" + text
        if kind == "confirm" and step.kind == "action":
            text += f"\n\nThis console cannot run `{step.action}` here: do it by hand (e.g. "
            text += "`signer-tui verify-backup --latest`) and record the result with a note."
        self.query_one("#step-text", Markdown).update(text or " ")
        if step.kind == "command":
            command.update(step.command.rstrip())
            command.border_title = "run this yourself — y copies it"
            command.display = True
        if step.kind == "action" and kind == "action":
            bar.display = self.busy or self.action_outcome is not None
        self._live()
        self.refresh_bindings()

    def _gate(self, text: str | Text) -> None:
        self.query_one("#step-gate", Static).update(text)

    def _live(self) -> None:
        step = self.step
        live = self.query_one("#step-live", Static)
        if step is None:
            return
        kind = self._kind()
        out = Text()
        if kind == "check":
            self.passed, self.rows = evaluate(step, self.host.findings, self.host.clock())
            # Wrapped by hand with a hanging indent, so the status column stays readable.
            width = max(30, (live.size.width or 76) - INDENT)
            for row in self.rows:
                status = Status(row.status) if row.status in Status.__members__ else Status.UNKNOWN
                lines = textwrap.wrap(f"{row.finding_id}  {row.summary} ({row.age})", width)
                out.append(f"{row.status:<{INDENT}}", style=status_style(self.app, status))
                first = lines[0] if lines else ""
                if first.startswith(row.finding_id):
                    out.append(row.finding_id, style="bold")
                    first = first[len(row.finding_id) :]
                out.append(first + "\n")
                for line in lines[1:]:
                    out.append(" " * INDENT + line + "\n")
                for line in textwrap.wrap(row.evidence, width):
                    out.append(" " * INDENT + line + "\n", style="dim")
            route = step.on_pass if self.passed else step.on_fail
            gate = Text("gate: ")
            word = "PASS" if self.passed else "FAIL"
            gate.append(
                word, style=status_style(self.app, Status.OK if self.passed else Status.CRIT)
            )
            gate.append(f" → {route}   Enter records it, r re-checks")
            self._gate(gate)
        elif step.kind == "approval":
            state = self.session.state
            if state.status == "waiting":
                names = ", ".join(
                    str((a.get("user") or {}).get("person", "?")) for a in state.approvals
                )
                out.append(f"Approvals: {len(state.approvals)} of {step.approvers}")
                out.append(f" ({names})" if names else "")
                self._gate(
                    f"Waiting: another operator runs `signer-tui runbook approve "
                    f"{self.session.run_id}` (or a in their console's runbook list). "
                    f"Step hash {self.session.step_hash(step)[:12]}."
                )
            else:
                self._gate(f"Enter asks {step.approvers} other operator(s) to approve this step.")
        elif kind == "action":
            if self.action_outcome is not None:
                outcome = self.action_outcome
                out.append(outcome.result.upper(), style="bold")
                out.append(f" {outcome.summary}\n")
                for line in outcome.details:
                    out.append(f"  {line}\n")
            elif not self.busy:
                self._gate(f"Enter runs {step.action}; s skips it (with a reason).")
        else:
            self._gate("d done · s skip (reason) · f failed (note) · n note")
        if self.note_text:
            out.append("\nnote: ", style="bold")
            out.append(self.note_text)
        live.update(out)

    def _tick(self) -> None:
        if self.busy:
            return
        before = (self.session.state.current, self.session.state.status)
        try:
            state = self.session.refresh()
        except (RunError, OSError):
            return
        if (state.current, state.status) != before:
            self.show_step()  # e.g. approved or rejected from another session
        elif self.step is not None and self._kind() in ("check", "approval"):
            self._live()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        names = {
            "primary": "primary",
            "done": "done",
            "skip": "skip",
            "fail": "fail",
            "note": "note",
            "copy": "copy",
            "recheck": "recheck",
        }
        if action not in names:
            return True
        kind = self._kind()
        if kind == "ended" or self.busy:
            return False
        if action == "primary" and kind == "approval" and self.session.state.status == "waiting":
            return False
        return names[action] in KEYS.get(kind, set())

    # -- recording ------------------------------------------------------------------------

    def _record(self, result: str, note: str = "", rows: list[CheckRow] | None = None) -> None:
        try:
            self.session.record(result, note, rows or [], step_id=self._shown[0])
        except RunError as exc:
            self.app.notify(str(exc), severity="error", timeout=8)
            self.show_step()  # e.g. another session moved the run on: show where it is
            return
        except OSError as exc:
            self.app.notify(f"Cannot write the record: {exc}", severity="error", timeout=10)
            return
        self.action_outcome = None
        self.query_one("#step-body", VerticalScroll).scroll_home(animate=False)
        self.show_step()

    def action_primary(self) -> None:
        step = self.step
        kind = self._kind()
        if step is None or self.busy:
            return
        if kind == "text":
            self._record("read")
        elif kind == "check":
            self._live()
            self._record("passed" if self.passed else "failed", rows=self.rows)
        elif kind == "action":
            self.busy = True
            self.cancel.clear()
            self.query_one("#step-bar", ProgressBar).display = True
            self._gate(f"Running {step.action}…")
            self.refresh_bindings()
            self.run_step_action(step.action)
        elif kind == "approval":
            try:
                self.session.request_approval(self.note_text)
            except RunError as exc:
                self.app.notify(str(exc), severity="error", timeout=8)
            self.show_step()

    def action_done(self) -> None:
        step = self.step
        if step is None:
            return
        if step.kind == "action" and not self.note_text:
            self.action_note(then="done")
            return
        self._record("done", self.note_text)

    def action_skip(self) -> None:
        def chosen(reason: str | None) -> None:
            if reason:
                self._record("skipped", reason)

        self.app.push_screen(
            PromptScreen("Skip this step", "Why is it skipped? (recorded)", required=True), chosen
        )

    def action_fail(self) -> None:
        def chosen(note: str | None) -> None:
            if note:
                self._record("failed", note)

        step = self.step
        where = f" → {step.on_fail}" if step else ""
        self.app.push_screen(
            PromptScreen(
                f"Step failed{where}",
                "What failed? (recorded)",
                required=True,
                multiline=True,
                initial=self.note_text,
            ),
            chosen,
        )

    def action_note(self, then: str = "") -> None:
        def chosen(note: str | None) -> None:
            if note is None:
                return
            self.note_text = note
            self._live()
            if then == "done" and note:
                self._record("done", note)

        self.app.push_screen(
            PromptScreen(
                "Note",
                "Paste the command's output or write a note; it goes into the record.",
                required=then == "done",
                multiline=True,
                initial=self.note_text,
            ),
            chosen,
        )

    def action_copy(self) -> None:
        step = self.step
        if step is not None and step.command:
            self.app.copy_to_clipboard(step.command.rstrip())
            self.app.notify("Command copied to the clipboard (OSC 52).", timeout=3)

    def action_recheck(self) -> None:
        self._live()
        self.app.notify("Re-checked with the latest findings.", timeout=2)

    def action_leave(self) -> None:
        if self.busy:
            self.cancel.set()
            self._gate("Cancelling the action…")
            return
        if self.session.state.is_open:
            with contextlib.suppress(OSError):
                self.session.note("pause")
        self.app.pop_screen()

    # -- the action worker ----------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="runbook-action", description="runbook action")
    def run_step_action(self, name: str) -> ActionResult:
        def progress(message: str, fraction: float | None) -> None:
            self.post_message(ActionProgress(message, fraction))

        return self.host.actions.run(name, progress, self.cancel)

    @on(ActionProgress)
    def _progress(self, message: ActionProgress) -> None:
        self._gate(message.message)
        bar = self.query_one("#step-bar", ProgressBar)
        if message.fraction is not None:
            bar.update(total=1.0, progress=message.fraction)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "runbook-action":
            return
        if event.state not in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.busy = False
        if self.cancel.is_set():
            # Cancelled by the operator: nothing happened that could be recorded.
            self.cancel.clear()
            self.query_one("#step-bar", ProgressBar).display = False
            self.app.notify("Action cancelled; the step is still open.", timeout=5)
            self.show_step()
            return
        result: Any = event.worker.result if event.state is WorkerState.SUCCESS else None
        if not isinstance(result, ActionResult):
            error = event.worker.error
            result = ActionResult(False, f"the action ended: {type(error).__name__}")
        self.action_outcome = result
        self._live()
        self._record(result.result, result.note())
