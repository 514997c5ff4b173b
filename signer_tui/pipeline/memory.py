"""What `signer-tui check` remembers between runs: each profile's tips and counters.

A cron job runs `check` every few minutes, each run a new process. Without memory, every run
sees each tip once and can never tell a stuck node from a moving one. So the numeric series
(deduplicated: a stuck value keeps its first and newest sample) are saved per profile in the
state dir and loaded by the next run, which then judges "unchanged for 20 min" across runs.
The file is written atomically; an unreadable one is set aside and treated as a first run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signer_tui.pipeline.collector import ProfileCollector

VERSION = 1
# Older samples say nothing about a stall now, and keep the file small.
KEEP = timedelta(hours=48)


def _key(collector: ProfileCollector) -> str:
    # A profile renamed to another network must not inherit the old tips.
    return f"{collector.name}@{collector.network}"


def load(path: Path, collectors: list[ProfileCollector]) -> None:
    """Restore the series of each collector; note a first run where there is nothing."""
    data: dict[str, Any] = {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION:
            data = {}
    except FileNotFoundError:
        pass
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".unreadable"))
        data = {}
    profiles = data.get("profiles", {}) if isinstance(data.get("profiles"), dict) else {}
    for collector in collectors:
        saved = profiles.get(_key(collector))
        if not isinstance(saved, dict) or not saved.get("series"):
            collector.notes.append(
                f"first run: no earlier state in {path}; stalled tips and counters are judged "
                "from the next run on"
            )
            continue
        for name, samples in saved["series"].items():
            for when, value in samples:
                try:
                    collector.add_sample(name, datetime.fromisoformat(when), float(value))
                except (TypeError, ValueError):
                    continue


def save(path: Path, collectors: list[ProfileCollector], now: datetime) -> None:
    data: dict[str, Any] = {"version": VERSION, "profiles": {}}
    with contextlib.suppress(OSError, ValueError):
        old = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(old, dict) and isinstance(old.get("profiles"), dict):
            data["profiles"].update(old["profiles"])  # other profiles' runs keep theirs
    for collector in collectors:
        series = {
            name: [[when.isoformat(), value] for when, value in samples if now - when <= KEEP]
            for name, samples in collector.series_data.items()
        }
        data["profiles"][_key(collector)] = {"saved_at": now.isoformat(), "series": series}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".check-memory.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
