"""Text widgets that repaint only when their text changed (bytes over SSH, issue 16)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


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
