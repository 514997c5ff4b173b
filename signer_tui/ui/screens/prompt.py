"""A question in a modal: a reason, a note, or pasted command output (several lines).

One-line answers use an Input (Enter submits). Notes use a TextArea, because a pasted
command output has many lines and an Input keeps only the first: there Enter is a newline
and Ctrl+S (or F9, for terminals that swallow it) submits.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static, TextArea


class PromptScreen(ModalScreen[str | None]):
    """Submits the text (refused when empty and `required`); Escape cancels (None)."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    #prompt-box {
        width: 76; height: auto; max-height: 22;
        border: round $primary; background: $surface; padding: 0 1;
    }
    #prompt-text { height: auto; margin-bottom: 1; }
    #prompt-area { height: 10; }
    #prompt-error { height: auto; color: $error; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", id="close"),
        Binding("ctrl+s,f9", "submit", "Save", id="prompt-submit", priority=True),
    ]

    def __init__(
        self,
        title: str,
        text: str,
        *,
        required: bool,
        placeholder: str = "",
        multiline: bool = False,
        initial: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.required = required
        self.placeholder = placeholder
        self.multiline = multiline
        self.initial = initial

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box") as box:
            box.border_title = self.title_text
            hint = " (Ctrl+S or F9 saves, Esc cancels)" if self.multiline else ""
            yield Static(self.text + hint, id="prompt-text", markup=False)
            if self.multiline:
                yield TextArea(self.initial, id="prompt-area", soft_wrap=True)
            else:
                yield Input(self.initial, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prompt-area" if self.multiline else "#prompt-input").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.multiline if action == "submit" else True

    def _finish(self, value: str) -> None:
        if self.required and not value.strip():
            self.query_one("#prompt-error", Static).update("This needs an answer (Esc cancels).")
            return
        self.dismiss(value.strip())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._finish(event.value)

    def action_submit(self) -> None:
        if self.multiline:
            self._finish(self.query_one(TextArea).text)
