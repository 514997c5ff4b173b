"""The event timeline: every status change, exportable for incident hand-over."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from signer_tui.model import Status, utcnow
from signer_tui.timeline import Timeline
from signer_tui.ui.theme import status_style


class TimelineScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="close"),
        Binding("m", "export('markdown')", "Export Markdown", id="export-markdown"),
        Binding("j", "export('json')", "Export JSON", id="export-json"),
    ]

    def __init__(self, timeline: Timeline, export_dir: Path) -> None:
        super().__init__()
        self.timeline = timeline
        self.export_dir = export_dir

    def compose(self) -> ComposeResult:
        yield Static(" Event timeline — every status change, newest first", id="timeline-title")
        yield DataTable(id="timeline-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("time (UTC)", "profile", "check", "change", "summary")
        for event in reversed(self.timeline.events):
            new = Status(event.new)
            change = Text(f"{event.old or '·'} → ", style="dim")
            change.append(event.new, style=status_style(self.app, new))
            table.add_row(
                event.at.strftime("%m-%d %H:%M:%S"),
                event.profile,
                event.finding_id,
                change,
                event.summary,
            )
        if not self.timeline.events:
            table.add_row("", "", "", "", "no status changes yet")
        table.focus()

    def action_export(self, fmt: str) -> None:
        try:
            path = self.timeline.export(self.export_dir, fmt, utcnow())
        except OSError as exc:
            self.notify(f"Export failed: {exc.strerror}", severity="error")
            return
        self.notify(f"Timeline written to {path}", timeout=8)
