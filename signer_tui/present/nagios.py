"""Nagios/Icinga plugin output (`signer-tui check --nagios`), per the Monitoring Plugins
Development Guidelines: one status line `SIGNER-TUI STATE - text | perfdata`, then long output
lines, and the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

The overall state ranks as the rest of signer-tui does: CRITICAL > UNKNOWN > WARNING > OK, so a
check that cannot see half its sources does not pass as a mere WARNING. Everything is on
stdout (the only stream Nagios reads); `|` never appears in text, since it starts perfdata.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from signer_tui.credentials import REDACTOR
from signer_tui.model import Finding, Status, clean_text
from signer_tui.pipeline.collector import Snapshot

SERVICE = "SIGNER-TUI"
STATE_WORD = {
    Status.OK: "OK",
    Status.WARN: "WARNING",
    Status.CRIT: "CRITICAL",
    Status.UNKNOWN: "UNKNOWN",
}
EXIT_CODE = {Status.OK: 0, Status.WARN: 1, Status.CRIT: 2, Status.UNKNOWN: 3}
EXIT_UNKNOWN = 3
# The status line names this many problems; the long output lists them all.
NAMED = 3
_TEXT_LIMIT = 200


def _text(value: str, limit: int = _TEXT_LIMIT) -> str:
    """One line, no perfdata separator, no control characters."""
    flat = " ".join(clean_text(value).split())
    flat = flat.replace("|", "/")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _label(finding: Finding, several: bool) -> str:
    return f"{finding.profile}/{finding.id}" if several and finding.profile else finding.id


def status_line(state: Status, text: str, perfdata: str = "") -> str:
    line = f"{SERVICE} {STATE_WORD[state]} - {_text(text, 1000)}"
    return f"{line} | {perfdata}" if perfdata else line


def render(snapshots: Sequence[Snapshot], now: datetime) -> tuple[str, int]:
    """The plugin output and its exit code."""
    several = len(snapshots) > 1
    rows: list[tuple[Status, Finding]] = []
    for snap in snapshots:
        for f in snap.findings:
            rows.append((f.effective_status(now), f))
    rows.sort(key=lambda row: (-row[0].rank, row[1].profile, row[1].id))
    counts = {status: sum(1 for s, _ in rows if s is status) for status in Status}
    if not rows:
        line = status_line(Status.UNKNOWN, "no findings: nothing was checked")
        return REDACTOR(line) + "\n", EXIT_UNKNOWN
    state = Status.worst(s for s, _ in rows)
    profiles = ", ".join(s.profile for s in snapshots)
    if state is Status.OK:
        text = f"all {len(rows)} checks OK ({profiles})"
    else:
        tally = ", ".join(
            f"{counts[s]} {STATE_WORD[s].lower()}"
            for s in (Status.CRIT, Status.UNKNOWN, Status.WARN)
            if counts[s]
        )
        problems = [
            f"{_label(f, several)} {_text(f.summary, 120)}" for s, f in rows if s is not Status.OK
        ]
        named = "; ".join(problems[:NAMED]) + ("; …" if len(problems) > NAMED else "")
        text = f"{tally} of {len(rows)} checks: {named}"
    ages = [(now - w).total_seconds() for _, f in rows if (w := f.data_time) is not None]
    perf = [
        f"findings={len(rows)};;;0",
        f"ok={counts[Status.OK]};;;0",
        f"warning={counts[Status.WARN]};1;;0",
        f"unknown={counts[Status.UNKNOWN]};;;0",
        f"critical={counts[Status.CRIT]};;1;0",
    ]
    if ages:
        perf.append(f"oldest_data={max(0.0, max(ages)):.0f}s;;;0")
    lines = [status_line(state, text, " ".join(perf))]
    for status, f in rows:
        stale = " (stale data)" if f.is_stale(now) else ""
        lines.append(f"[{STATE_WORD[status]}] {_label(f, True)}: {_text(f.summary)}{stale}")
        if status is not Status.OK and f.advice:
            lines.append(f"    advice: {_text(f.advice, 400)}")
    return REDACTOR("\n".join(lines)) + "\n", EXIT_CODE[state]


def failure(message: str, more: Sequence[str] = ()) -> str:
    """The output for a plugin that could not check at all (usage, config): UNKNOWN."""
    lines = [status_line(Status.UNKNOWN, message), *(_text(m, 400) for m in more)]
    return REDACTOR("\n".join(lines)) + "\n"
