"""The top bar: worst status first (in words), the profile switcher, the UTC clock."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from signer_tui import format as fmt
from signer_tui.model import Finding, Status, age_of
from signer_tui.ui.theme import status_style


class TopBar(Static):
    def render_bar(
        self,
        profiles: list[tuple[str, Status]],
        current: int,
        now: datetime,
        note: str = "",
        summary: str = "",
    ) -> None:
        """`summary` is the current profile's one-liner (`profile_summary`)."""
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
        clock = now.strftime("%H:%M:%S UTC")
        width = self.size.width or 80
        pad = width - text.cell_len - len(clock) - 1
        if pad > 0:
            text.append(" " * pad)
            text.append(clock, style="dim")
        self.update(text)


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
    oldest = f", oldest {fmt.age(max(known))}" if known else ""
    return words + oldest
