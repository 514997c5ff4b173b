"""Plain-text rendering of findings, for `signer-tui check` and hand-over notes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from signer_tui.credentials import REDACTOR
from signer_tui.model import Status, age_of, format_age
from signer_tui.pipeline.collector import Snapshot
from signer_tui.sanitize import clean_line


def render(snapshots: Sequence[Snapshot], now: datetime, verbose: bool = False) -> str:
    lines: list[str] = []
    for snap in snapshots:
        ordered = sorted(snap.findings, key=lambda f: (-f.effective_status(now).rank, f.id))
        worst = Status.worst(f.effective_status(now) for f in ordered)
        lines.append(f"{clean_line(snap.profile)}: {worst.value}")
        lines.extend(f"  note: {note}" for note in snap.notes)
        id_width = max((len(f.id) for f in ordered), default=10)
        for finding in ordered:
            status = finding.effective_status(now)
            age = format_age(age_of(finding.data_time, now))
            stale = " (stale)" if finding.is_stale(now) else ""
            # The last line of defence: a summary is one clean line whatever a check put in it.
            summary = clean_line(finding.summary)
            lines.append(
                f"  {status.value:<7}  {finding.id:<{id_width}}  {summary}  [{age}{stale}]"
            )
            if verbose and finding.advice and status is not Status.OK:
                lines.append(f"           advice: {clean_line(finding.advice)}")
        lines.append("")
    return REDACTOR("\n".join(lines).rstrip() + "\n")
