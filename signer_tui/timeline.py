"""The event timeline: the status changes that matter, for incident hand-over.

Kept outside the UI so the headless commands can export the same events. Events are also
appended to a JSONL file in the state dir, so a restarted console still has the night's story.
The console appends from a writer thread (`background=True`): a slow disk must not stall its
event loop. `close()` writes what is still queued.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from signer_tui.model import Finding, Status
from signer_tui.sanitize import clean_line

# The finding id of the one event a profile's first verdicts make.
STARTED = "console.started"


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    profile: str
    finding_id: str
    old: str | None  # None: first time this finding was seen
    new: str
    summary: str
    # The finding as it was at that moment, for "evidence as it was then" (not exported raw).
    finding: Finding | None = field(default=None, compare=False, repr=False)

    @property
    def area(self) -> str:
        return self.finding_id.split(".", 1)[0]

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "at": self.at.isoformat(),
            "profile": self.profile,
            "finding_id": self.finding_id,
            "old": self.old,
            "new": self.new,
            "summary": self.summary,
        }
        if self.finding is not None:
            data["advice"] = self.finding.advice
            data["evidence"] = [
                {
                    "source": e.source,
                    "request": e.request,
                    "observed_at": e.observed_at.isoformat(),
                    "status": e.status,
                    "error": e.error,
                }
                for e in self.finding.evidence
            ]
        return data


class Timeline:
    """Records the transitions that matter; `observe` is called with each new set of findings.

    * A profile's first findings are one "started" event (counts by status).
    * A finding's first definite verdict (OK, WARN or CRIT: the UNKNOWNs of sources not read
      yet → OK is not news) is an event only when it is CRIT or WARN, so Enter can show
      that evidence.
    * After that: every change of a check's verdict.
    * Verdicts, not display: data going stale and fresh again between polls (the STALE of
      the panes) is not a transition of what the checks found.
    """

    def __init__(
        self, path: Path | None = None, limit: int = 5000, *, background: bool = False
    ) -> None:
        self.path = path
        self.limit = limit
        self.events: list[StatusChange] = []
        # (profile, id) -> (last verdict, whether it ever had a definite one or was announced)
        self._last: dict[tuple[str, str], tuple[str, bool]] = {}
        self._started: set[str] = set()
        self._background = background
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def observe(
        self, profile: str, findings: Iterable[Finding], now: datetime
    ) -> list[StatusChange]:
        found = sorted(findings, key=lambda f: -f.status.rank)
        if not found:
            return []
        changes: list[StatusChange] = []
        if profile not in self._started:
            self._started.add(profile)
            changes.append(self._started_event(profile, found, now))
        for finding in found:
            status = finding.status.value
            definite = finding.status is not Status.UNKNOWN
            key = (profile, finding.id)
            old, decided = self._last.get(key, (None, False))
            self._last[key] = (status, decided or definite)
            if old == status and (decided or not definite):
                continue
            first_verdict = not decided
            if first_verdict and finding.status not in (Status.CRIT, Status.WARN):
                continue
            if old == status and not first_verdict:
                continue
            changes.append(
                StatusChange(
                    now,
                    profile,
                    finding.id,
                    None if first_verdict else old,
                    status,
                    finding.summary,
                    finding,
                )
            )
            self._last[key] = (status, True)  # announced: its next change is a transition
        if changes:
            self.events.extend(changes)
            del self.events[: -self.limit]
            self._append(changes)
        return changes

    @staticmethod
    def _started_event(profile: str, found: list[Finding], now: datetime) -> StatusChange:
        worst = Status.worst(f.status for f in found)
        counts = Counter(f.status for f in found)
        order = sorted(counts, key=lambda s: -s.rank)
        words = ", ".join(f"{counts[s]} {s.value}" for s in order)
        return StatusChange(now, profile, STARTED, None, worst.value, f"started: {words}")

    def filtered(self, area: str | None = None, status: str | None = None) -> list[StatusChange]:
        """Events of one pane's area and/or one new status (None: all)."""
        return [
            e
            for e in self.events
            if (area is None or e.area == area) and (status is None or e.new == status)
        ]

    def _append(self, changes: list[StatusChange]) -> None:
        if self.path is None:
            return
        lines = "".join(json.dumps(c.to_json()) + "\n" for c in changes)
        if not self._background:
            self._write(lines)
            return
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._drain, name="signer-tui-timeline", daemon=True
            )
            self._writer.start()
        self._queue.put(lines)

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Whatever queued up meanwhile goes out in the same write.
            while not self._queue.empty():
                batch.append(self._queue.get())
            done = None in batch
            self._write("".join(b for b in batch if b is not None))
            if done:
                return

    def _write(self, lines: str) -> None:
        if self.path is None or not lines:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError:
            # The timeline on screen matters more than its copy on disk.
            pass

    def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (the console calls this on the way out)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout)

    def to_markdown(
        self, title: str = "signer-tui event timeline", events: list[StatusChange] | None = None
    ) -> str:
        lines = [f"# {title}", "", "| time (UTC) | profile | check | change | summary |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for e in self.events if events is None else events:
            change = f"{e.old} → {e.new}" if e.old else f"{e.new} (first seen)"
            if e.finding_id == STARTED:
                change = f"{e.new} (started)"
            # Markdown is rendered by whatever the hand-over lands in: one clean line per cell.
            summary = clean_line(e.summary).replace("|", "\\|")
            at = e.at.strftime("%Y-%m-%d %H:%M:%S")
            profile = clean_line(e.profile).replace("|", "\\|")
            lines.append(f"| {at} | {profile} | `{e.finding_id}` | {change} | {summary} |")
        return "\n".join(lines) + "\n"

    def to_json(self, events: list[StatusChange] | None = None) -> str:
        chosen = self.events if events is None else events
        return json.dumps([e.to_json() for e in chosen], indent=2) + "\n"

    def export(
        self,
        directory: Path,
        fmt: str,
        now: datetime,
        events: list[StatusChange] | None = None,
        title: str = "signer-tui event timeline",
    ) -> Path:
        """Write the timeline (or the `events` a filter chose) to a new file, atomically."""
        directory.mkdir(parents=True, exist_ok=True)
        suffix = "md" if fmt == "markdown" else "json"
        path = directory / f"timeline-{now.strftime('%Y%m%dT%H%M%SZ')}.{suffix}"
        text = self.to_markdown(title, events) if fmt == "markdown" else self.to_json(events)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path
