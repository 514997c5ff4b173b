"""The top bar: worst status first (in words), the profile switcher, the UTC clock.

Two widgets so that the once-a-second clock repaints its own twelve cells, not the line, and
neither goes through `Static.update` (which re-lays-out the screen and so repaints scrollbars).
Each repaints only when its text changed.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.text import Text
from textual.widget import Widget

from signer_tui import format as fmt
from signer_tui.model import Finding, Status, age_of
from signer_tui.ui.theme import status_style
from signer_tui.ui.widgets.quiet import QuietStatic

CLOCK_WIDTH = 13  # "HH:MM:SS UTC" and a space


class Clock(QuietStatic):
    def show(self, now: datetime) -> None:
        self.show_text(Text(now.strftime("%H:%M:%S UTC"), style="dim"))


class TopBar(Widget):
    """Redrawn only when its words change (a status, the profile on screen)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._text = Text("")
        self._shown: tuple[object, ...] | None = None

    def render_bar(
        self,
        profiles: list[tuple[str, Status]],
        current: int,
        now: datetime,
        note: str = "",
        summary: str = "",
    ) -> None:
        """`summary` is the current profile's one-liner (`profile_summary`)."""
        if self.parent is not None:
            for clock in self.parent.query(Clock):
                clock.show(now)
        key = (tuple(profiles), current, note, summary, self.app.theme)
        if key == self._shown:
            return
        self._shown = key
        app = self.app
        worst = Status.worst(s for _, s in profiles) if profiles else Status.UNKNOWN
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {worst.value} ", style=status_style(app, worst))
        text.append(" signer-tui ", style="bold")
        for index, (name, status) in enumerate(profiles):
            current_one = index == current
            text.append("│ " if index == 0 else " · ", style="dim")
            text.append(
                ("▸" if current_one else "") + name, style="bold underline" if current_one else ""
            )
            text.append(" ")
            text.append(status.value, style=status_style(app, status))
            if current_one and summary:
                text.append(f" {summary}", style="dim")
        if note:
            text.append("  ")
            text.append(f" {note} ", style="reverse")
        self._text = text
        self.refresh()

    def render(self) -> Text:
        return self._text


def profile_summary(findings: list[Finding], now: datetime) -> str:
    """Counts by status, worst first, and the age of the oldest data: '1 CRIT 2 WARN 9 OK,
    oldest 4m'. Empty before the first poll."""
    if not findings:
        return ""
    counts = Counter(f.effective_status(now) for f in findings)
    order = sorted(counts, key=lambda s: -s.rank)
    words = " ".join(f"{counts[s]} {s.value}" for s in order)
    ages = [age_of(f.data_time, now) for f in findings]
    known = [a for a in ages if a is not None]
    # In whole minutes: a seconds count would repaint the line every second while it says
    # nothing an operator acts on (the rows' own ages and STALE marks do that).
    oldest = f", oldest {fmt.coarse_age(max(known))}" if known else ""
    return words + oldest
