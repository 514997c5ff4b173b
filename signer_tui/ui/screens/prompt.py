"""A one-line question in a modal: a reason, a note, a yes/no with an optional note."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Enter submits the text (refused when empty and `required`); Escape cancels (None)."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    #prompt-box {
        width: 76; height: auto; max-height: 20;
        border: round $primary; background: $surface; padding: 0 1;
    }
    #prompt-text { height: auto; margin-bottom: 1; }
    #prompt-error { height: auto; color: $error; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="close")]

    def __init__(self, title: str, text: str, *, required: bool, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.required = required
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box") as box:
            box.border_title = self.title_text
            yield Static(self.text, id="prompt-text", markup=False)
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self.required and not value:
            self.query_one("#prompt-error", Static).update("This needs an answer (Esc cancels).")
            return
        self.dismiss(value)
