"""The one-line key hints at the bottom: compact enough for 80 columns, in the user's keys.

Textual's Footer shows one binding per slot and drops what does not fit; at 80 columns it
lost `q`, `v` and the pane keys. This bar is built from the key table (signer_tui.ui.keys)
and says "Enter: evidence and advice" first whenever the highlighted row is not OK.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from signer_tui.model import Status
from signer_tui.ui import keys
from signer_tui.ui.widgets.quiet import QuietStatic

# Footer words in the order they are dropped last-first when the terminal is narrow.
ORDER = ("quit", "worst", "verify-backup", "timeline", "help", "command-palette", "refresh")


class HintBar(QuietStatic):
    def show_hints(self, app: Any, status: Status | None) -> None:
        width = self.size.width or app.size.width or 80
        items: list[tuple[str, str]] = []
        if status is not None and status is not Status.OK:
            items.append(("Enter", "evidence and advice"))
        items.append(("1-4", "panes"))
        for key_id in ORDER:
            items.append((app.key_display(key_id), keys.by_id(key_id).hint))
        if len(app.collectors) > 1:
            items.append((app.key_display("next-profile"), "profile"))
        if app.demo is not None:
            items.append((app.key_display("incident"), "incident"))
        text = Text(no_wrap=True, overflow="crop")
        for index, (shown, word) in enumerate(items):
            piece_len = len(shown) + 1 + len(word) + (2 if index else 0)
            if len(text.plain) + piece_len > width:
                break
            if index:
                text.append("  ")
            urgent = shown == "Enter"
            text.append(shown, style="bold reverse" if urgent else "bold")
            text.append(" " + word, style="bold" if urgent else "")
        self.show_text(text)
