"""A pane: a titled, keyboard-navigable table of findings for one area."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from signer_tui import format as fmt
from signer_tui.model import Finding, Status, age_of
from signer_tui.ui.theme import status_style
from signer_tui.ui.widgets.quiet import QuietStatic

# Columns are padded by hand (cell_padding=0) so an 80-column pane keeps room for summaries.
# "UNKNOWN" is 7 cells: the eighth keeps the status word off the summary.
STATUS_WIDTH = 8
AGE_WIDTH = 5
SOURCE_WIDTH = 16
# Below this many summary cells the age column gives way (the detail line shows the age).
AGE_NEEDS = 36


def column_widths(inner: int, wide: bool) -> tuple[int, int, int]:
    """(summary, source, age) widths for a table `inner` cells wide: at narrow widths the
    source and then the age columns give way before the summary does."""
    source = SOURCE_WIDTH if wide else 0
    rest = inner - STATUS_WIDTH - source
    age = AGE_WIDTH if rest - AGE_WIDTH >= AGE_NEEDS else 0
    return max(10, rest - age), source, age


# A pane at 80x24 is 40 cells wide: less its border (2) and scrollbar (1).
NARROW_INNER = 80 // 2 - 3
NARROW_SUMMARY_WIDTH = column_widths(NARROW_INNER, wide=False)[0]


class FindingsTable(DataTable[Text]):
    """Rows of STATUS | summary | [source] | [age]; Enter opens the highlighted row's evidence."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # Home/End reach the first and last rows (DataTable scrolls sideways by default).
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

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
        # What each row shows, by finding id: rows whose cells did not change are not redrawn.
        self.shown: dict[str, tuple[str, ...]] = {}
        self.layout_key: tuple[int, int, int] = (0, 0, 0)

    def set_row(self, finding_id: str, cells: list[Text]) -> None:
        """New cells for one row, repainting that row only. `update_cell` repaints the whole
        table for each cell: every row's bytes again over SSH when one summary moved."""
        key = RowKey(finding_id)
        for column, cell in zip(self.ordered_columns, cells, strict=True):
            self._data[key][column.key] = cell
        self._update_count += 1  # the row caches are keyed by it
        self.refresh_row(self.get_row_index(key))

    def action_cursor_left(self) -> None:
        """Rows have no cells to move between."""

    def action_cursor_right(self) -> None:
        """Rows have no cells to move between."""


class FindingsPane(Vertical):
    """One of the four panes; `help_text` is shown by F1 when the pane has focus."""

    def __init__(self, area: str, title: str, help_text: str, *, id: str) -> None:  # noqa: A002
        super().__init__(id=id, classes="pane")
        self.area = area
        self.pane_title = title
        self.help_text = help_text
        self.border_title = title
        self.worst: Status = Status.UNKNOWN
        self.now: datetime | None = None
        # Finding ids whose status changed since the operator last looked (set by the app).
        self.changed: set[str] = set()

    def compose(self) -> ComposeResult:
        yield FindingsTable(id=f"{self.id}-table")
        yield QuietStatic("", classes="detail", markup=False)
        if self.area == "node":
            yield QuietStatic("", classes="sparks", markup=False)

    @property
    def table(self) -> FindingsTable:
        return self.query_one(FindingsTable)

    def show(self, findings: list[Finding], now: datetime, wide: bool) -> None:
        table = self.table
        self.now = now
        # Problems first; within a status keep the order the checks emit (reachable, synced…).
        ordered = sorted(findings, key=lambda f: -f.effective_status(now).rank)
        before = self.selected()
        before_row = table.cursor_row if table.row_count else 0
        # The table's own width, less its vertical scrollbar.
        inner = max(24, (table.size.width or (self.size.width or 40) - 2) - 1)
        summary_width, source_width, age_width = column_widths(inner, wide)
        rows = [self._cells(f, now, summary_width, source_width, age_width) for f in ordered]
        ids = [f.id for f in ordered]
        layout = (summary_width, source_width, age_width)
        if layout != table.layout_key or ids != list(table.shown) or not ordered:
            self._rebuild(table, ordered, rows, layout)
        else:
            # Same rows in the same order: redraw only the cells that changed.
            for finding, cells in zip(ordered, rows, strict=True):
                plain = tuple(c.plain + str(c.style) for c in cells)
                if table.shown.get(finding.id) != plain:
                    table.set_row(finding.id, cells)
                    table.shown[finding.id] = plain
            table.findings = ordered
        # The top row means "watching the worst": it stays the top. Anywhere else the cursor
        # stays on its finding, wherever the re-sort moves it.
        if before is not None and before.id in ids and before_row > 0:
            table.move_cursor(row=ids.index(before.id), animate=False)
        self.worst = (
            Status.worst(f.effective_status(now) for f in ordered) if ordered else Status.UNKNOWN
        )
        # Textual repaints the whole box on every assignment, even of the same words.
        if self.border_subtitle != self.worst.value:
            self.border_subtitle = self.worst.value
        for status in Status:
            self.set_class(status is self.worst, f"-{status.value.lower()}")
        self.show_detail()

    def _rebuild(
        self,
        table: FindingsTable,
        ordered: list[Finding],
        rows: list[list[Text]],
        layout: tuple[int, int, int],
    ) -> None:
        summary_width, source_width, age_width = layout
        table.clear(columns=True)
        table.add_column("status", key="status", width=STATUS_WIDTH)
        table.add_column("summary", key="summary", width=summary_width)
        if source_width:
            table.add_column("source", key="source", width=source_width)
        if age_width:
            table.add_column("age", key="age", width=age_width)
        table.layout_key = layout
        table.shown = {}
        table.findings = ordered
        for finding, cells in zip(ordered, rows, strict=True):
            table.add_row(*cells, key=finding.id)
            table.shown[finding.id] = tuple(c.plain + str(c.style) for c in cells)
        if not ordered:
            empty = [
                Text("UNKNOWN", style=status_style(self.app, Status.UNKNOWN)),
                Text("waiting for the first poll…"),
            ]
            extra = [Text("")] * (bool(source_width) + bool(age_width))
            table.add_row(*empty, *extra)

    def _cells(
        self, finding: Finding, now: datetime, summary_width: int, source_width: int, age: int
    ) -> list[Text]:
        shown = finding.effective_status(now)
        stale = finding.is_stale(now)
        word = "STALE" if stale and shown is not finding.status else shown.value
        cells = [
            Text(word.ljust(STATUS_WIDTH), style=status_style(self.app, shown)),
            # Cut at a word, never mid-verdict; the detail line has the whole text. "•": changed
            # since the operator last looked.
            Text(
                ("• " if finding.id in self.changed else "")
                + fmt.fit(finding.summary, summary_width - 2 * (finding.id in self.changed)),
                no_wrap=True,
            ),
        ]
        if source_width:
            # The first word names the service; the rest (hosts, paths) is in the evidence.
            source = finding.evidence[0].source.split(" ", 1)[0] if finding.evidence else ""
            cells.append(Text(fmt.fit(source, source_width - 1), style="dim", no_wrap=True))
        if age:
            text = fmt.age(age_of(finding.data_time, now))
            cells.append(Text(text.rjust(AGE_WIDTH - 1), style="bold" if stale else "dim"))
        return cells

    def show_detail(self) -> None:
        """The highlighted row in full, whatever the column cut: summary, data age, id."""
        finding = self.selected()
        text = ""
        if finding is not None:
            age = fmt.coarse_age(age_of(finding.data_time, self.now)) if self.now else "—"
            stale = " STALE" if self.now and finding.is_stale(self.now) else ""
            text = f"{finding.summary} · {age} old{stale} · {finding.id}"
        self.query_one(".detail", QuietStatic).show_text(text)

    def on_data_table_row_highlighted(self) -> None:
        self.show_detail()

    def select_finding(self, finding_id: str) -> bool:
        """Put the cursor on a finding (by id); False when this pane does not show it."""
        table = self.table
        for index, finding in enumerate(table.findings):
            if finding.id == finding_id:
                table.move_cursor(row=index, animate=False)
                return True
        return False

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
        self.query_one(".sparks", QuietStatic).show_text(Text("\n").join([line1, line2]))

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
