"""The one-line key hints at the bottom: compact enough for 80 columns, in the user's keys.

Textual's Footer shows one binding per slot and drops what does not fit; at 80 columns it
lost `q`, `v` and the pane keys. This bar is built from the key table (signer_tui.ui.keys)
and says "Enter: evidence and advice" first whenever the highlighted row is not OK.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget

from signer_tui.model import Status
from signer_tui.ui import keys

# Footer words in the order they are dropped last-first when the terminal is narrow.
ORDER = ("quit", "worst", "verify-backup", "timeline", "help", "command-palette", "refresh")


class QuietStatic(Widget):
    """A line or three of text that repaints only itself, only when the text changed.

    `Static.update` always re-lays-out, which repaints the parent: a pane's detail line whose
    age moved redrew the pane's whole box every second (most of the bytes an idle console
    sent). Here the layout is redone only when the wrapped height changes."""

    DEFAULT_CSS = "QuietStatic { height: auto; }"

    def __init__(
        self,
        text: Text | str = "",
        *,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        markup: bool = False,
    ) -> None:
        super().__init__(id=id, classes=classes, markup=markup)
        self._text: Text = Text(text) if isinstance(text, str) else text

    def show_text(self, text: Text | str) -> None:
        new = Text(text) if isinstance(text, str) else text
        if new == self._text and new.style == self._text.style:
            return
        before = self._height_of(self._text)
        self._text = new
        after = self._height_of(new)
        self.refresh(layout=before is None or before != after)

    def _height_of(self, text: Text) -> int | None:
        width = self.content_size.width
        if not width or not self.is_mounted:
            return None
        return len(text.wrap(self.app.console, width))

    def render(self) -> Text:
        return self._text


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
