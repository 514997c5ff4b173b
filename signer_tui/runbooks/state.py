"""A run's state is never stored on its own: it is replayed from the audit record.

That is what lets a run survive a crash or a lost SSH session (the record is fsynced after
each step) and what makes the record the single truth an approver and a post-mortem read.

Events: run-start, step, approval-request, approval, rejection, pause, resume, run-end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from signer_tui.runbooks.identity import Identity

OPEN = ("active", "waiting")  # waiting: for an approval by another operator


@dataclass
class RunState:
    run_id: str
    runbook: str = ""
    runbook_hash: str = ""
    title: str = ""
    profile: str = ""  # the signer profile the live checks read ("" when none)
    started_at: str = ""
    started_by: Identity | None = None
    status: str = "active"  # active | waiting | completed | stopped | rejected
    current: str | None = None  # the step to do next
    entries: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)  # for the current step
    requested_by: Identity | None = None
    request_hash: str = ""
    last_at: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def results(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e.get("event") == "step"]


def replay(run_id: str, entries: Iterable[dict[str, Any]]) -> RunState | None:
    state: RunState | None = None
    for entry in entries:
        if entry.get("run") != run_id:
            continue
        event = entry.get("event")
        if event == "run-start":
            state = RunState(
                run_id,
                runbook=str(entry.get("runbook", "")),
                runbook_hash=str(entry.get("runbook_hash", "")),
                title=str(entry.get("title", "")),
                profile=str(entry.get("profile") or ""),
                started_at=str(entry.get("at", "")),
                started_by=Identity.from_json(entry.get("user") or {}),
                current=entry.get("step"),
            )
        if state is None:
            continue  # entries before a start: verify reports the broken record
        state.entries.append(entry)
        state.last_at = str(entry.get("at", state.last_at))
        if event == "step":
            state.current = entry.get("next")
            state.approvals = []
            state.requested_by = None
            state.status = "active" if state.status == "waiting" else state.status
        elif event == "approval-request":
            state.status = "waiting"
            state.requested_by = Identity.from_json(entry.get("user") or {})
            state.request_hash = str(entry.get("step_hash", ""))
            state.approvals = []
        elif event == "approval":
            state.approvals.append(entry)
        elif event == "run-end":
            state.status = str(entry.get("result", "stopped"))
    return state


def all_runs(entries: list[dict[str, Any]]) -> list[RunState]:
    """Every run in the record, oldest first."""
    ids = list(
        dict.fromkeys(
            str(e["run"]) for e in entries if e.get("event") == "run-start" and e.get("run")
        )
    )
    runs = [replay(run_id, entries) for run_id in ids]
    return [r for r in runs if r is not None]
