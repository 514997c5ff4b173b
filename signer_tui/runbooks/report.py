"""Reading the record back: the run list, one run in full, and the hand-over document.

The Markdown export is what the next shift or a post-mortem gets: who did what and when,
every note, the findings each check showed, the approvals, whether the record's hash chain
is intact, and the console's event timeline (`timeline.jsonl` in the state dir) for the
run's time window.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signer_tui.runbooks.audit import VerifyReport
from signer_tui.runbooks.identity import Identity
from signer_tui.runbooks.state import RunState

# Status changes shortly before a run started are usually why it was started.
TIMELINE_LEAD = timedelta(minutes=30)


def _who(entry: dict[str, Any]) -> str:
    return Identity.from_json(entry.get("user") or {}).display()


def _short_time(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return text


def run_rows(runs: list[RunState]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("RUN", "STATUS", "STEP", "STARTED", "BY", "RUNBOOK")]
    for run in runs:
        by = run.started_by.person if run.started_by else "?"
        rows.append(
            (run.run_id, run.status, run.current or "—", _short_time(run.started_at), by, run.title)
        )
    return rows


def describe(entry: dict[str, Any]) -> str:
    event = entry.get("event", "?")
    step = entry.get("step") or ""
    if event == "step":
        text = f"{step}: {entry.get('result')}"
        if entry.get("next"):
            text += f" → {entry['next']}"
        if entry.get("approved_by"):
            text += f" (approved by {', '.join(entry['approved_by'])})"
        return text
    if event in ("approval", "rejection", "approval-request"):
        return f"{event} of {step} (step hash {str(entry.get('step_hash', ''))[:12]})"
    if event == "run-end":
        return f"run {entry.get('result')}"
    if event == "run-start":
        return f"started {entry.get('runbook')} ({str(entry.get('runbook_hash', ''))[:12]})"
    return f"{event} at {step}"


def show_lines(state: RunState) -> list[str]:
    by = state.started_by.display() if state.started_by else "?"
    lines = [
        f"run {state.run_id}: {state.title}",
        f"  runbook {state.runbook} version {state.runbook_hash[:12]}",
        f"  started {_short_time(state.started_at)} by {by}"
        + (f", profile {state.profile}" if state.profile else ""),
        f"  status {state.status}" + (f", next step {state.current}" if state.is_open else ""),
        "",
    ]
    for entry in state.entries:
        lines.append(f"{_short_time(str(entry.get('at', '')))}  #{entry.get('seq')}  {_who(entry)}")
        lines.append(f"    {describe(entry)}")
        note = str(entry.get("note") or "")
        for line in note.splitlines():
            lines.append(f"    | {line}")
        for finding in entry.get("findings") or []:
            lines.append(
                f"    {finding.get('status', '?'):<7} {finding.get('id')}: {finding.get('summary')}"
            )
    return lines


def timeline_events(
    path: Path, start: datetime, end: datetime, profile: str = ""
) -> list[dict[str, Any]]:
    """Timeline events between `start - TIMELINE_LEAD` and `end`, of `profile` when given
    (bad lines are skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
            at = datetime.fromisoformat(event["at"])
        except (ValueError, KeyError, TypeError):
            continue
        if start - TIMELINE_LEAD <= at <= end and profile in ("", event.get("profile")):
            found.append(event)
    return found


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def export_markdown(
    state: RunState,
    verify: VerifyReport,
    timeline_path: Path | None,
    now: datetime,
) -> str:
    by = state.started_by.display() if state.started_by else "?"
    ended = next((e for e in state.entries if e.get("event") == "run-end"), None)
    lines = [
        f"# Run {state.run_id}: {state.title}",
        "",
        f"* Runbook: `{state.runbook}`, version `{state.runbook_hash[:16]}`",
        f"* Started: {_short_time(state.started_at)} UTC by {by}",
        f"* Signer profile: {state.profile or 'none (no live checks)'}",
        f"* Status: **{state.status}**"
        + (f" at step `{state.current}`" if state.is_open else "")
        + (f" (ended {_short_time(str(ended.get('at', '')))} UTC)" if ended else ""),
        f"* Record: {verify.count} entries; hash chain "
        + ("intact" if verify.ok else f"**BROKEN** ({len(verify.problems)} problem(s))")
        + f"; head `{verify.head[:16]}`",
        f"* Exported: {now.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        "",
        "## Steps",
        "",
        "| time (UTC) | who | what | note |",
        "| --- | --- | --- | --- |",
    ]
    for entry in state.entries:
        lines.append(
            f"| {_short_time(str(entry.get('at', '')))} | {_cell(_who(entry))} | "
            f"{_cell(describe(entry))} | {_cell(entry.get('note') or '')} |"
        )
    checks = [e for e in state.entries if e.get("findings")]
    if checks:
        lines += ["", "## Findings shown at each check", ""]
        for entry in checks:
            lines.append(
                f"### {entry.get('step')} ({entry.get('result')}, "
                f"{_short_time(str(entry.get('at', '')))})"
            )
            lines.append("")
            for f in entry["findings"]:
                lines.append(
                    f"* **{f.get('status')}** `{f.get('id')}`: {f.get('summary')}"
                    + (f" — {f.get('evidence')}" if f.get("evidence") else "")
                )
            lines.append("")
    lines += ["", "## Console event timeline for the run's window", ""]
    try:
        start = datetime.fromisoformat(state.started_at)
        end = datetime.fromisoformat(str(ended["at"])) if ended else now
    except ValueError:
        start = end = now
    events = timeline_events(timeline_path, start, end, state.profile) if timeline_path else []
    if not events:
        where = timeline_path or "no timeline file"
        lines.append(
            f"No status changes recorded in {where} between "
            f"{_short_time((start - TIMELINE_LEAD).isoformat())} and "
            f"{_short_time(end.isoformat())} UTC."
        )
    else:
        lines += [
            "| time (UTC) | profile | check | change | summary |",
            "| --- | --- | --- | --- | --- |",
        ]
        for e in events:
            change = (
                f"{e.get('old')} → {e.get('new')}"
                if e.get("old")
                else f"{e.get('new')} (first seen)"
            )
            lines.append(
                f"| {_short_time(str(e.get('at')))} | {_cell(e.get('profile', ''))} | "
                f"`{e.get('finding_id')}` | {change} | {_cell(e.get('summary', ''))} |"
            )
    if not verify.ok:
        lines += ["", "## Record problems", ""] + [f"* {p}" for p in verify.problems]
    return "\n".join(lines) + "\n"
