"""Restore-test the newest backup from the Backups pane, with progress and cancel.

The verification runs in a thread worker (it drives pg_restore and psycopg); its progress
comes back as messages. Escape cancels: the scratch cluster is stopped and removed before the
screen reports "cancelled".
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static
from textual.worker import Worker, WorkerState

from signer_tui.verify.run import (
    Progress,
    VerificationOutcome,
    VerifyCancelled,
    VerifyRequest,
    VerifyUsageError,
    verify_backup,
)

VERDICT_STYLE = {"verified": "OK", "mismatch": "CRIT", "failed": "CRIT", "unknown": "UNKNOWN"}


class VerifyProgress(Message):
    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress


class VerifyScreen(ModalScreen[VerificationOutcome | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel / close", id="close"),
        Binding("q", "close", "Close", id="close-done", show=False),
    ]

    def __init__(self, request: VerifyRequest) -> None:
        super().__init__()
        self.request = request
        self.cancel_event = threading.Event()
        self.outcome: VerificationOutcome | None = None
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(id="verify-box") as box:
            name = self.request.profile.name if self.request.profile else "?"
            box.border_title = f"Verify the newest backup of {name}"
            yield Static("Starting…", id="verify-phase", markup=False)
            yield ProgressBar(total=None, show_eta=False, id="verify-bar")
            yield Static("", id="verify-result", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.run_verification()

    @work(
        thread=True,
        exit_on_error=False,
        group="verify",
        description="restoring a backup into a scratch PostgreSQL",
    )
    def run_verification(self) -> VerificationOutcome:
        def report(progress: Progress) -> None:
            self.post_message(VerifyProgress(progress))  # thread-safe

        return verify_backup(self.request, progress=report, cancel=self.cancel_event)

    @on(VerifyProgress)
    def _progress(self, message: VerifyProgress) -> None:
        progress = message.progress
        self.query_one("#verify-phase", Static).update(
            f"{progress.phase}: {progress.message} ({progress.elapsed_s:.0f} s)"
        )
        bar = self.query_one("#verify-bar", ProgressBar)
        if progress.total:
            bar.update(total=progress.total, progress=progress.done or 0)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "verify":
            return
        result = self.query_one("#verify-result", Static)
        if event.state is WorkerState.SUCCESS:
            outcome: Any = event.worker.result
            self.outcome = outcome
            self.finished = True
            word = VERDICT_STYLE.get(outcome.verdict, "UNKNOWN")
            text = Text(f"{word}  {outcome.verdict}: ", style="bold")
            text.append(outcome.summary)
            for finding in outcome.findings:
                if finding.status.value != "OK":
                    text.append(f"\n  {finding.status.value:<7} {finding.summary}")
            text.append("\n\nThe result was added to the verification history. Escape closes.")
            result.update(text)
            self.query_one("#verify-bar", ProgressBar).update(total=1, progress=1)
        elif event.state is WorkerState.ERROR:
            self.finished = True
            error = event.worker.error
            if isinstance(error, VerifyCancelled):
                result.update("Cancelled: the scratch cluster was stopped and removed.")
            elif isinstance(error, VerifyUsageError):
                result.update(f"Cannot verify: {error}")
            else:
                result.update(f"Verification failed unexpectedly: {type(error).__name__}")

    def action_cancel(self) -> None:
        if self.finished:
            self.dismiss(self.outcome)
            return
        self.cancel_event.set()
        self.query_one("#verify-phase", Static).update("Cancelling: stopping the scratch cluster…")

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(self.outcome)
