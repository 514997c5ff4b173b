"""Prometheus textfile output (for node_exporter's textfile collector), written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from signer_tui.model import Status
from signer_tui.pipeline.collector import Snapshot

# The gauge value of a status; alert on `signer_tui_finding_status >= 1`.
STATUS_VALUE = {Status.OK: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.CRIT: 3}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(snapshots: Sequence[Snapshot], now: datetime) -> str:
    lines = [
        "# HELP signer_tui_finding_status Status of a signer-tui check: "
        "0 OK, 1 WARN, 2 UNKNOWN, 3 CRIT.",
        "# TYPE signer_tui_finding_status gauge",
    ]
    for snap in snapshots:
        for f in sorted(snap.findings, key=lambda f: f.id):
            status = f.effective_status(now)
            lines.append(
                f'signer_tui_finding_status{{profile="{_label(snap.profile)}",'
                f'id="{_label(f.id)}",status="{status.value}"}} {STATUS_VALUE[status]}'
            )
    lines += [
        "# HELP signer_tui_finding_age_seconds Age of the data behind a check.",
        "# TYPE signer_tui_finding_age_seconds gauge",
    ]
    for snap in snapshots:
        for f in sorted(snap.findings, key=lambda f: f.id):
            when = f.data_time
            if when is not None:
                age = max(0.0, (now - when).total_seconds())
                lines.append(
                    f'signer_tui_finding_age_seconds{{profile="{_label(snap.profile)}",'
                    f'id="{_label(f.id)}"}} {age:.0f}'
                )
    lines += [
        "# HELP signer_tui_last_run_timestamp_seconds When signer-tui check last ran.",
        "# TYPE signer_tui_last_run_timestamp_seconds gauge",
        f"signer_tui_last_run_timestamp_seconds {now.timestamp():.0f}",
    ]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    """Replace the file atomically, so the collector never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
