"""The "mock": a minimal Textual app with the console's shape — a one-line top bar, four
bordered panes in a 2x2 grid, each a DataTable of a few rows, and a footer. Nothing polls
and nothing ticks: it is the floor a Textual console of this layout cannot go below."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Footer, Static

CSS = """
#top { height: 1; background: $panel; }
#grid { grid-size: 2 2; }
.pane { border: round $primary; }
"""

TITLES = ("Backups", "Aggregate key", "Node health", "Releases & advisories")


class MockApp(App[None]):
    CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self, rows: int = 6) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Static(" OK  mock │ main OK", id="top")
        with Grid(id="grid"):
            for title in TITLES:
                with Vertical(classes="pane") as pane:
                    pane.border_title = title
                    yield DataTable(cursor_type="row", show_header=False)
        yield Footer()

    def on_mount(self) -> None:
        for index, table in enumerate(self.query(DataTable)):
            table.add_columns("status", "summary", "age")
            for row in range(self.rows):
                table.add_row("OK", f"check {index}.{row} is fine", f"{row}s")
