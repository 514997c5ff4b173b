"""A pane: a titled, keyboard-navigable table of findings for one area."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from signer_tui.model import Finding, Status, age_of, format_age
from signer_tui.ui.theme import status_style

# Columns are padded by hand (cell_padding=0) so an 80-column pane keeps room for summaries.
STATUS_WIDTH = 8
AGE_WIDTH = 5
SOURCE_WIDTH = 16


class FindingsTable(DataTable[Text]):
    """Rows of STATUS | summary | age; Enter opens the evidence of the highlighted row."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(
            id=id,
            cursor_type="row",
            show_header=False,
            zebra_stripes=False,
            show_cursor=True,
            cell_padding=0,
        )
        self.findings: list[Finding] = []


class FindingsPane(Vertical):
    """One of the four panes; `help_text` is shown by F1 when the pane has focus."""

    def __init__(self, area: str, title: str, help_text: str, *, id: str) -> None:  # noqa: A002
        super().__init__(id=id, classes="pane")
        self.area = area
        self.pane_title = title
        self.help_text = help_text
        self.border_title = title
        self.worst: Status = Status.UNKNOWN

    def compose(self) -> ComposeResult:
        yield FindingsTable(id=f"{self.id}-table")
        yield Static("", classes="detail", markup=False)
        if self.area == "node":
            yield Static("", classes="sparks", markup=False)

    @property
    def table(self) -> FindingsTable:
        return self.query_one(FindingsTable)

    def show(self, findings: list[Finding], now: datetime, wide: bool) -> None:
        table = self.table
        app = self.app
        # Problems first; within a status keep the order the checks emit (reachable, synced…).
        ordered = sorted(findings, key=lambda f: -f.effective_status(now).rank)
        # The cursor keeps its row, not its finding: after a re-sort the worst stays on top
        # and the highlighted position does not jump around under the operator's eyes.
        cursor_row = table.cursor_row if table.row_count else 0
        # The table's own width, less its vertical scrollbar.
        inner = max(24, (table.size.width or (self.size.width or 40) - 2) - 1)
        source_width = SOURCE_WIDTH if wide else 0
        summary_width = max(10, inner - STATUS_WIDTH - AGE_WIDTH - source_width)
        table.clear(columns=True)
        table.add_column("status", key="status", width=STATUS_WIDTH)
        table.add_column("summary", key="summary", width=summary_width)
        if wide:
            table.add_column("source", key="source", width=source_width)
        table.add_column("age", key="age", width=AGE_WIDTH)
        table.findings = ordered
        for finding in ordered:
            shown = finding.effective_status(now)
            stale = finding.is_stale(now)
            word = "STALE" if stale and shown is not finding.status else shown.value
            cells = [
                Text(word, style=status_style(app, shown)),
                Text(" " + finding.summary, overflow="ellipsis", no_wrap=True),
            ]
            if wide:
                # The first word names the service; the rest (hosts, paths) is in the evidence.
                source = finding.evidence[0].source.split(" ", 1)[0] if finding.evidence else ""
                cells.append(Text(source, style="dim", overflow="ellipsis", no_wrap=True))
            age = format_age(age_of(finding.data_time, now))
            cells.append(Text(age.rjust(AGE_WIDTH - 1), style="bold" if stale else "dim"))
            table.add_row(*cells)
        if not ordered:
            empty = [
                Text("UNKNOWN", style=status_style(app, Status.UNKNOWN)),
                Text(" waiting for the first poll…"),
            ]
            table.add_row(*empty, *([Text("")] if wide else []), Text("—".rjust(AGE_WIDTH - 1)))
        if cursor_row:
            table.move_cursor(row=min(cursor_row, table.row_count - 1), animate=False)
        self.worst = (
            Status.worst(f.effective_status(now) for f in ordered) if ordered else Status.UNKNOWN
        )
        self.border_subtitle = self.worst.value
        for status in Status:
            self.set_class(status is self.worst, f"-{status.value.lower()}")
        self.show_detail()

    def show_detail(self) -> None:
        """Wide layouts show the highlighted row's id and advice under the table."""
        finding = self.selected()
        text = ""
        if finding is not None:
            text = f"{finding.id}: {finding.advice or finding.summary}"
        self.query_one(".detail", Static).update(text)

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()

    def show_series(self, series: dict[str, list[float]]) -> None:
        """Key metrics as text sparklines (block characters work in any terminal)."""
        if self.area != "node":
            return
        width = max(10, (self.size.width or 80) - 4)
        column = width // len(SPARKLINES)
        line1 = Text()
        line2 = Text()
        for name, label in SPARKLINES:
            values = series.get(name, [])
            last = f" {values[-1]:.0f}" if values else " —"
            line1.append((label + last)[: column - 1].ljust(column))
            line2.append(spark(values, column - 2).ljust(column), style="bold")
        self.query_one(".sparks", Static).update(Text("\n").join([line1, line2]))

    def selected(self) -> Finding | None:
        table = self.table
        if not table.findings or not 0 <= table.cursor_row < len(table.findings):
            return None
        return table.findings[table.cursor_row]


# Key metrics shown as sparklines in the Node health pane (series names from collect).
SPARKLINES = (
    ("stacks_blocks", "Stacks blocks/poll"),
    ("bitcoin_blocks", "bitcoin blocks/poll"),
    ("peers", "signer peers"),
)

_BARS = "▁▂▃▄▅▆▇█"


def spark(values: list[float], width: int) -> str:
    """The newest `width` values as bars scaled between their min and max."""
    shown = values[-width:]
    if not shown:
        return "·" * min(width, 3)
    low, high = min(shown), max(shown)
    if high == low:
        return _BARS[3 if high else 0] * len(shown)
    scale = (len(_BARS) - 1) / (high - low)
    return "".join(_BARS[int((v - low) * scale)] for v in shown)
