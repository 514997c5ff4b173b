"""JSON rendering of findings (stable field names: the contract with scripts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from signer_tui.credentials import REDACTOR
from signer_tui.model import Evidence, Finding, Status
from signer_tui.pipeline.collector import Snapshot


def _evidence(e: Evidence) -> dict[str, Any]:
    return {
        "source": e.source,
        "request": e.request,
        "observed_at": e.observed_at.isoformat(),
        "status": e.status,
        "elapsed_ms": e.elapsed_ms,
        "decoded": e.decoded or None,
        "error": e.error or None,
    }


def finding_dict(f: Finding, now: datetime) -> dict[str, Any]:
    return {
        "id": f.id,
        "status": f.effective_status(now).value,
        "check_status": f.status.value,
        "stale": f.is_stale(now),
        "summary": f.summary,
        "advice": f.advice,
        "observed_at": f.data_time.isoformat() if f.data_time else None,
        "details": dict(f.details),
        "evidence": [_evidence(e) for e in f.evidence],
    }


def render(snapshots: Sequence[Snapshot], now: datetime) -> str:
    doc = {
        "generated_at": now.isoformat(),
        "status": Status.worst(
            f.effective_status(now) for s in snapshots for f in s.findings
        ).value,
        "profiles": [
            {
                "name": s.profile,
                "status": Status.worst(f.effective_status(now) for f in s.findings).value,
                "findings": [finding_dict(f, now) for f in s.findings],
            }
            for s in snapshots
        ],
    }
    return REDACTOR(json.dumps(doc, indent=2)) + "\n"
