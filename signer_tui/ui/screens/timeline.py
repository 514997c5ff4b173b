"""The event timeline: the transitions that matter, filterable, exportable for hand-over.

Enter on an event opens the evidence as it was at that moment (the finding is kept with
the event). `f` cycles the pane filter, `s` the status filter; exports carry the filtered
events with their advice and evidence.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.widgets.data_table import ColumnKey

from signer_tui import format as fmt
from signer_tui.model import Status, utcnow
from signer_tui.timeline import StatusChange, Timeline
from signer_tui.ui import keys
from signer_tui.ui.theme import status_style

AREAS: tuple[str | None, ...] = (None, *(area for area, _t, _i, _k in keys.PANES), "posture")
STATUSES: tuple[str | None, ...] = (None, "CRIT", "WARN", "UNKNOWN", "OK")


class TimelineScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="close"),
        Binding("enter", "open_event", "Evidence then", id="open-event"),
        Binding("f", "cycle_area", "Pane filter", id="filter-pane"),
        Binding("s", "cycle_status", "Status filter", id="filter-status"),
        Binding("m", "export('markdown')", "Export .md", id="export-markdown"),
        Binding("j", "export('json')", "Export JSON", id="export-json"),
    ]

    def __init__(self, timeline: Timeline, export_dir: Path) -> None:
        super().__init__()
        self.timeline = timeline
        self.export_dir = export_dir
        self.area: str | None = None
        self.status: str | None = None
        self.shown: list[StatusChange] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="timeline-title", markup=False)
        yield DataTable(id="timeline-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("time", key="time", width=8)
        table.add_column("change", key="change", width=14)
        table.add_column("check", key="check", width=22)
        table.add_column("summary", key="summary", width=20)
        self.fill()
        table.focus()

    def fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        # Newest first; events of one moment worst first, whatever order the polls ended in,
        # and a "started" below what it started with.
        self.shown = sorted(
            self.timeline.filtered(self.area, self.status),
            key=lambda e: (
                e.at,
                not e.finding_id.endswith("started"),
                Status(e.new).rank,
                e.finding_id,
            ),
            reverse=True,
        )
        # The summary column takes what the others leave: it is cut at a word, never mid-word.
        # Four columns of padding (one cell each side) and the scrollbar.
        width = max(20, (self.size.width or 80) - 8 - 14 - 22 - 2 * 4 - 1)
        table.columns[ColumnKey("summary")].width = width
        table.columns[ColumnKey("summary")].auto_width = False
        for event in self.shown:
            new = Status(event.new)
            change = Text(f"{(event.old or '·')[:4]}→", style="dim")
            change.append(event.new, style=status_style(self.app, new))
            check = "started" if event.finding_id.endswith("started") else event.finding_id
            profile = f"{event.profile}: " if len(self._profiles()) > 1 else ""
            table.add_row(
                event.at.strftime("%H:%M:%S"),
                change,
                fmt.fit(check, 21),
                fmt.fit(profile + event.summary, width),
            )
        if not self.shown:
            table.add_row("", "", "", "no status changes" + (" match" if self._filtering() else ""))
        pane = self.area or "all panes"
        status = self.status or "every status"
        self.query_one("#timeline-title", Static).update(
            f" Timeline: {fmt.count(len(self.shown), 'event')}, newest first ({pane}, {status})"
        )

    def _profiles(self) -> set[str]:
        return {e.profile for e in self.timeline.events}

    def _filtering(self) -> bool:
        return self.area is not None or self.status is not None

    def action_cycle_area(self) -> None:
        self.area = AREAS[(AREAS.index(self.area) + 1) % len(AREAS)]
        self.fill()

    def action_cycle_status(self) -> None:
        self.status = STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)]
        self.fill()

    def action_open_event(self) -> None:
        table = self.query_one(DataTable)
        if not 0 <= table.cursor_row < len(self.shown):
            return
        event = self.shown[table.cursor_row]
        if event.finding is None:
            self.notify("No evidence kept for this event (start-up or a restart).", timeout=3)
            return
        from signer_tui.ui.screens.evidence import EvidenceScreen

        self.app.push_screen(EvidenceScreen(event.finding, event.at))

    def on_data_table_row_selected(self) -> None:
        self.action_open_event()

    def action_export(self, fmt_name: str) -> None:
        title = "signer-tui event timeline"
        if self._filtering():
            title += f" ({self.area or 'all panes'}, {self.status or 'every status'})"
        try:
            path = self.timeline.export(
                self.export_dir, fmt_name, utcnow(), list(reversed(self.shown)), title
            )
        except OSError as exc:
            self.notify(f"Export failed: {exc.strerror}", severity="error")
            return
        self.notify(f"Written: {path}", timeout=4)
