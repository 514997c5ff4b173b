"""The top bar: worst status first (in words), the profile switcher, the UTC clock."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from signer_tui.model import Status
from signer_tui.ui.theme import status_style


class TopBar(Static):
    """Redrawn only when its words change: once a second for the clock, else on a status or
    profile change (an unchanged update would still repaint the line)."""

    _shown: tuple[object, ...] | None = None

    def render_bar(
        self,
        profiles: list[tuple[str, Status]],
        current: int,
        now: datetime,
        note: str = "",
    ) -> None:
        clock = now.strftime("%H:%M:%S UTC")
        width = self.size.width or 80
        key = (tuple(profiles), current, note, clock, width, self.app.theme)
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
        if note:
            text.append("  ")
            text.append(f" {note} ", style="reverse")
        pad = width - text.cell_len - len(clock) - 1
        if pad > 0:
            text.append(" " * pad)
            text.append(clock, style="dim")
        self.update(text)
