"""The event timeline: every status change of every finding, for incident hand-over.

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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from signer_tui.model import Finding
from signer_tui.sanitize import clean_line


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    profile: str
    finding_id: str
    old: str | None  # None: first time this finding was seen
    new: str
    summary: str

    def to_json(self) -> dict[str, str | None]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


class Timeline:
    """Records status changes; `observe` is called with each new set of findings."""

    def __init__(
        self, path: Path | None = None, limit: int = 5000, *, background: bool = False
    ) -> None:
        self.path = path
        self.limit = limit
        self.events: list[StatusChange] = []
        self._last: dict[tuple[str, str], str] = {}
        self._background = background
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def observe(
        self, profile: str, findings: Iterable[Finding], now: datetime
    ) -> list[StatusChange]:
        changes: list[StatusChange] = []
        for finding in findings:
            status = finding.effective_status(now).value
            key = (profile, finding.id)
            old = self._last.get(key)
            if old == status:
                continue
            self._last[key] = status
            changes.append(StatusChange(now, profile, finding.id, old, status, finding.summary))
        if changes:
            self.events.extend(changes)
            del self.events[: -self.limit]
            self._append(changes)
        return changes

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

    def to_markdown(self, title: str = "signer-tui event timeline") -> str:
        lines = [f"# {title}", "", "| time (UTC) | profile | check | change | summary |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for e in self.events:
            change = f"{e.old} → {e.new}" if e.old else f"{e.new} (first seen)"
            # Markdown is rendered by whatever the hand-over lands in: one clean line per cell.
            summary = clean_line(e.summary).replace("|", "\\|")
            at = e.at.strftime("%Y-%m-%d %H:%M:%S")
            profile = clean_line(e.profile).replace("|", "\\|")
            lines.append(f"| {at} | {profile} | `{e.finding_id}` | {change} | {summary} |")
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        return json.dumps([e.to_json() for e in self.events], indent=2) + "\n"

    def export(self, directory: Path, fmt: str, now: datetime) -> Path:
        """Write the timeline to a new file (atomically) and return its path."""
        directory.mkdir(parents=True, exist_ok=True)
        suffix = "md" if fmt == "markdown" else "json"
        path = directory / f"timeline-{now.strftime('%Y%m%dT%H%M%SZ')}.{suffix}"
        text = self.to_markdown() if fmt == "markdown" else self.to_json()
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path
