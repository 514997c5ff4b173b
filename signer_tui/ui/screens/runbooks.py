"""The runbook list (`g`): every runbook, the open runs, and pending approvals.

`RunbookHost` is what the console gives a run: the shared runs directory, the live findings
of the current profile, the actions it can run (verify-backup) and the OS identity. `attach`
lets the CLI (or a test) set those; anything not attached has a console default.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from signer_tui import locations
from signer_tui.model import Finding, Status
from signer_tui.runbooks.actions import (
    ACTION_NAMES,
    ActionRegistry,
    ActionResult,
    Progress,
    verification_result,
)
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.identity import Identity, current_identity
from signer_tui.runbooks.livecheck import FindingsProvider
from signer_tui.runbooks.loader import Catalog, load_catalog
from signer_tui.runbooks.state import RunState, all_runs
from signer_tui.runbooks.store import RunsDir, RunsDirError
from signer_tui.ui.screens.prompt import PromptScreen

_OPTIONS: weakref.WeakKeyDictionary[App[Any], dict[str, Any]] = weakref.WeakKeyDictionary()


@dataclass
class RunbookHost:
    runs_dir: Path
    group: str | None
    findings: FindingsProvider
    actions: ActionRegistry
    identity: Identity
    clock: Callable[[], datetime]
    user_dir: Path | None
    profile: Callable[[], str] = lambda: ""

    def runs(self, *, write: bool) -> RunsDir:
        return RunsDir(self.runs_dir, self.group).check(write=write)

    def catalog(self) -> Catalog:
        return load_catalog(self.user_dir, ACTION_NAMES)


def attach(app: App[Any], **options: Any) -> None:
    """Set any of: runs_dir, group, findings, actions, identity, user_dir."""
    _OPTIONS.setdefault(app, {}).update({k: v for k, v in options.items() if v is not None})


def console_actions(app: Any) -> ActionRegistry:
    """verify-backup through the console's own verification request (pg_dump profiles)."""
    registry = ActionRegistry()
    if getattr(app, "verify_request", None) is None:
        return registry

    def verify(progress: Progress, cancel: Any) -> ActionResult:
        from signer_tui.verify.run import VerifyUsageError, verify_backup

        collector = app.collector
        backups = getattr(getattr(collector, "profile", None), "backups", None)
        if backups is None or backups.kind != "pg_dump":
            return ActionResult(None, "this profile has no pg_dump backups section")
        try:
            outcome = verify_backup(
                app.verify_request(collector),
                progress=lambda p: progress(f"{p.phase}: {p.message}", p.fraction),
                cancel=cancel,
            )
        except VerifyUsageError as exc:
            return ActionResult(None, f"cannot verify: {exc}")
        return verification_result(outcome)

    registry.register("verify-backup", verify)
    return registry


def host_for(app: Any) -> RunbookHost:
    options = _OPTIONS.get(app, {})
    state_dir = getattr(app, "state_dir", None)
    default_dir = (state_dir or locations.state_dir()) / "runbooks"

    def live() -> list[Finding]:
        collectors = getattr(app, "collectors", [])
        if not collectors:
            return []
        return list(app.findings.get(app.collector.name, []))

    return RunbookHost(
        runs_dir=options.get("runs_dir", default_dir),
        group=options.get("group"),
        findings=options.get("findings", live),
        actions=options.get("actions") or console_actions(app),
        identity=options.get("identity") or current_identity(),
        clock=getattr(app, "clock", None) or datetime.now,
        user_dir=options.get("user_dir", locations.config_dir() / "runbooks"),
        profile=lambda: app.collector.name if getattr(app, "collectors", None) else "",
    )


def open_runbooks(app: Any, name: str | None = None) -> None:
    app.push_screen(RunbooksScreen(host_for(app), select=name))


def open_for_finding(app: Any, finding: Finding | None) -> None:
    """From a findings row (`b`): the runbook that handles it."""
    if finding is None:
        app.notify("Select a row first.", timeout=3)
        return
    host = host_for(app)
    runbook = host.catalog().for_finding(finding.id)
    if runbook is None:
        app.notify(f"No runbook handles {finding.id} (g lists them all).", timeout=4)
        return
    app.push_screen(RunbooksScreen(host, select=runbook.name))


class RunbooksScreen(Screen[None]):
    DEFAULT_CSS = """
    RunbooksScreen { layout: vertical; }
    #rb-title, #rb-runs-title { height: 1; background: $panel; text-style: bold; }
    #rb-table { height: 1fr; }
    #rb-detail { height: 3; padding: 0 1; color: $text-muted; }
    #rb-runs { height: 7; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="close"),
        Binding("a", "approve", "Approve", id="approve-run"),
        Binding("x", "reject", "Reject", id="reject-run"),
        Binding("f5", "reload", "Reload", id="reload-runbooks"),
    ]

    def __init__(self, host: RunbookHost, select: str | None = None) -> None:
        super().__init__()
        self.host = host
        self.select = select
        self.catalog = Catalog()
        self.open_runs: list[RunState] = []

    def compose(self) -> ComposeResult:
        yield Static(" Runbooks — Enter starts one; Tab: open runs", id="rb-title", markup=False)
        yield DataTable(id="rb-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="rb-detail", markup=False)
        yield Static(" Open runs", id="rb-runs-title", markup=False)
        yield DataTable(id="rb-runs", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()
        self.query_one("#rb-table", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.catalog = self.host.catalog()
        table = self.query_one("#rb-table", DataTable)
        if self.select is None and table.row_count:
            # Keep the highlighted runbook across reloads (e.g. back from a run).
            self.select = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        table.clear(columns=True)
        table.add_column("runbook", width=26)
        table.add_column("steps", width=5)
        table.add_column("title")
        names = sorted(self.catalog.runbooks)
        for name in names:
            runbook = self.catalog.runbooks[name]
            mark = " (yours)" if runbook.origin == "user" else ""
            table.add_row(name, str(len(runbook.steps)).rjust(4), runbook.title + mark, key=name)
        if self.select in names:
            table.move_cursor(row=names.index(self.select), animate=False)
            self.select = None
        self._load_runs()
        self._show_detail()

    def _load_runs(self) -> None:
        table = self.query_one("#rb-runs", DataTable)
        table.clear(columns=True)
        table.add_column("status", width=8)
        table.add_column("step", width=14)
        table.add_column("by", width=8)
        table.add_column("run", width=40)
        title = self.query_one("#rb-runs-title", Static)
        try:
            runs = self.host.runs(write=False)
            self.open_runs = [r for r in all_runs(runs.audit.entries()) if r.is_open]
        except RunsDirError as exc:
            self.open_runs = []
            missing = not self.host.runs_dir.exists()
            title.update(" Open runs: none yet" if missing else f" Open runs: {exc}")
            return
        except Exception as exc:  # an unreadable record must not take the console down
            self.open_runs = []
            title.update(f" Open runs: cannot read the record ({exc})")
            return
        waiting = sum(1 for r in self.open_runs if r.status == "waiting")
        intact = runs.audit.verify().ok
        title.update(
            (" RECORD NOT INTACT (signer-tui audit verify) —" if not intact else "")
            + f" Open runs ({len(self.open_runs)}, {waiting} waiting for approval) — "
            "Enter resumes; a approves, x rejects"
        )
        for run in self.open_runs:
            status = Text(run.status, style="bold" if run.status == "waiting" else "")
            by = run.started_by.person if run.started_by else "?"
            table.add_row(status, run.current or "—", by, run.run_id, key=run.run_id)

    def _show_detail(self) -> None:
        detail = self.query_one("#rb-detail", Static)
        table = self.query_one("#rb-table", DataTable)
        text = ""
        if table.row_count and self.catalog.runbooks:
            name = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
            runbook = self.catalog.runbooks.get(name)
            if runbook is not None:
                kinds = sorted({s.kind for s in runbook.steps})
                text = (
                    f"{runbook.summary}\n{runbook.origin}: {runbook.path.name} · {', '.join(kinds)}"
                )
        if self.catalog.problems:
            count = len(self.catalog.problems)
            text += f"\n{count} invalid runbook file(s): {self.catalog.problems[0]}"
        detail.update(text)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "rb-table":
            self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if event.data_table.id == "rb-table":
            self._start(key)
        else:
            self._resume(key)

    # -- starting and resuming ------------------------------------------------------------

    def _start(self, name: str) -> None:
        from signer_tui.ui.screens.runbook import RunbookScreen

        try:
            runs = self.host.runs(write=True)
            session = RunSession.start(
                runs,
                self.catalog.get(name),
                self.host.identity,
                self.host.clock,
                profile=self.host.profile(),
            )
        except (RunsDirError, RunError, OSError) as exc:
            self.app.notify(str(exc), title="Cannot start the run", severity="error", timeout=10)
            return
        self.app.push_screen(RunbookScreen(session, self.host))

    def _open(self, run_id: str) -> RunSession | None:
        try:
            return RunSession.open(
                self.host.runs(write=True),
                run_id,
                self.host.identity,
                self.host.clock,
                ACTION_NAMES,
            )
        except (RunsDirError, RunError, OSError) as exc:
            self.app.notify(str(exc), title="Cannot open the run", severity="error", timeout=10)
            return None

    def _resume(self, run_id: str) -> None:
        from signer_tui.ui.screens.runbook import RunbookScreen

        session = self._open(run_id)
        if session is not None:
            session.note("resume")
            self.app.push_screen(RunbookScreen(session, self.host))

    def _highlighted_run(self) -> str | None:
        table = self.query_one("#rb-runs", DataTable)
        if not self.open_runs or not table.row_count:
            self.app.notify("No open run to answer.", timeout=3)
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _answer(self, verb: str) -> None:
        run_id = self._highlighted_run()
        session = self._open(run_id) if run_id else None
        if session is None:
            return
        try:
            step = session.check_approver(session.state)
        except RunError as exc:
            self.app.notify(str(exc), title=f"Cannot {verb}", severity="warning", timeout=10)
            return
        text = (
            f"{verb.capitalize()} step '{step.id}' ({step.title}) of run {session.run_id}, "
            f"step hash {session.step_hash(step)[:12]}, as {self.host.identity.display()}.\n"
            + ("Optional note; Enter approves." if verb == "approve" else "Why? Enter rejects.")
        )

        def done(answer: str | None) -> None:
            if answer is None:
                return
            try:
                if verb == "approve":
                    session.approve(answer)
                else:
                    session.reject(answer)
            except RunError as exc:
                self.app.notify(str(exc), severity="error", timeout=10)
                return
            self.app.notify(f"Run {session.run_id}: {verb}d.", timeout=5)
            self.action_reload()

        self.app.push_screen(PromptScreen(verb.capitalize(), text, required=verb == "reject"), done)

    def action_approve(self) -> None:
        self._answer("approve")

    def action_reject(self) -> None:
        self._answer("reject")


def status_word(status: str) -> Status:
    return Status(status) if status in Status.__members__ else Status.UNKNOWN
