"""The evidence view: what was asked, of whom, when, what came back, and what to do."""

from __future__ import annotations

import contextlib
import json
import textwrap
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from signer_tui.credentials import REDACTOR
from signer_tui.model import Finding, age_of, clean_text, format_age


def evidence_text(finding: Finding, now: datetime) -> str:
    """Plain text of a finding's evidence: shown on screen and copied for hand-over."""
    lines = [
        f"{finding.id}  [{finding.effective_status(now).value}]  profile {finding.profile}",
        finding.summary,
    ]
    if finding.status is not finding.effective_status(now):
        lines.append(f"(data is stale; the check itself said {finding.status.value})")
    if finding.advice:
        lines += ["", f"Advice: {finding.advice}"]
    for key, value in finding.details:
        lines.append(f"{key}: {value}")
    for index, evidence in enumerate(finding.evidence, 1):
        when = evidence.observed_at
        lines += [
            "",
            f"Evidence {index}: {evidence.source}",
            f"  request:     {evidence.request}",
            f"  observed at: {when.strftime('%Y-%m-%d %H:%M:%S UTC')} "
            f"({format_age(age_of(when, now))} ago)",
        ]
        if evidence.status is not None:
            lines.append(f"  status:      {evidence.status}")
        if evidence.elapsed_ms is not None:
            lines.append(f"  elapsed:     {evidence.elapsed_ms:.0f} ms")
        if evidence.error:
            lines.append(f"  error:       {evidence.error}")
        if evidence.decoded:
            lines.append(f"  decoded:     {evidence.decoded}")
        if evidence.raw:
            raw = evidence.raw
            with contextlib.suppress(ValueError):
                raw = json.dumps(json.loads(raw), indent=2)
            lines.append("  raw:")
            lines += [f"    {line}" for line in clean_text(raw, 3000).splitlines()]
    if not finding.evidence:
        lines += ["", "No evidence recorded (the source has not answered yet)."]
    return REDACTOR("\n".join(lines))


def wrap_at_spaces(text: str, width: int) -> str:
    """Prose wrapped at spaces only: a URL, key or hash is never split mid-token (one wider
    than the box runs past it and the box scrolls sideways)."""
    out: list[str] = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        if len(line) <= width or not line.strip():
            out.append(line)
            continue
        out += textwrap.wrap(
            line,
            width,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(out)


class EvidenceScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="close"),
        Binding("c", "copy", "Copy (OSC 52)", id="copy"),
    ]

    def __init__(self, finding: Finding, now: datetime) -> None:
        super().__init__()
        self.finding = finding
        self.text = evidence_text(finding, now)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="evidence-box") as box:
            box.border_title = f"Evidence — {self.finding.id}"
            # 90% of the screen, less border (2), padding (2) and scrollbar (2).
            width = max(30, int(self.app.size.width * 0.9) - 6)
            yield Static(wrap_at_spaces(self.text, width), id="evidence-text", markup=False)
        yield Footer()

    def action_copy(self) -> None:
        # OSC 52 reaches the operator's own clipboard through SSH.
        self.app.copy_to_clipboard(self.text)
        self.notify("Evidence copied to the clipboard (OSC 52).", timeout=3)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
