"""Demo only: pick an incident to inject, to see the console react."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option


class IncidentScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape,q", "dismiss(None)", "Cancel", id="close")]

    def __init__(self, incidents: list[tuple[str, str]]) -> None:
        super().__init__()
        self.incidents = incidents

    def compose(self) -> ComposeResult:
        with Vertical(id="incident-box") as box:
            box.border_title = "Inject a demo incident (Enter)"
            yield OptionList(
                *(Option(f"{name:<15} {text}", id=name) for name, text in self.incidents),
                id="incidents",
            )
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
