"""Live checks: which of the current findings a step names, and whether they pass its gate.

A pattern matches a finding id exactly or as a dotted prefix (`backup` matches
`backup.freshness`). A pattern nothing matches is a row of its own with status UNKNOWN, so a
gate never passes on data it has not seen. Stale findings count as UNKNOWN (their
`effective_status`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signer_tui.credentials import REDACTOR
from signer_tui.model import Finding, age_of, format_age
from signer_tui.runbooks.spec import Step

FindingsProvider = Callable[[], list[Finding]]


def matches(pattern: str, finding_id: str) -> bool:
    return finding_id == pattern or finding_id.startswith(pattern + ".")


@dataclass(frozen=True)
class CheckRow:
    pattern: str
    finding_id: str
    status: str  # effective status; UNKNOWN when no finding matched
    summary: str
    evidence: str  # what was asked of whom (the first evidence item)
    age: str
    profile: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.finding_id,
            "status": self.status,
            "summary": REDACTOR(self.summary),
            "evidence": REDACTOR(self.evidence),
            "age": self.age,
            "profile": self.profile,
        }


def rows_for(patterns: Sequence[str], findings: Sequence[Finding], now: datetime) -> list[CheckRow]:
    rows: list[CheckRow] = []
    for pattern in patterns:
        hits = [f for f in findings if matches(pattern, f.id)]
        if not hits:
            rows.append(
                CheckRow(pattern, pattern, "UNKNOWN", "not reported (yet): no data", "", "—")
            )
        for finding in hits:
            evidence = ""
            if finding.evidence:
                first = finding.evidence[0]
                evidence = f"{first.source}: {first.request}"
                if first.error:
                    evidence += f" → {first.error}"
                elif first.decoded:
                    evidence += f" → {first.decoded.splitlines()[0][:120]}"
            rows.append(
                CheckRow(
                    pattern,
                    finding.id,
                    finding.effective_status(now).value,
                    finding.summary,
                    evidence,
                    format_age(age_of(finding.data_time, now)),
                    finding.profile,
                )
            )
    return rows


def gate(step: Step, rows: Sequence[CheckRow]) -> bool:
    """A check step passes when every row it shows has an accepted status."""
    return bool(rows) and all(r.status in step.accept for r in rows)


def evaluate(step: Step, provider: FindingsProvider, now: datetime) -> tuple[bool, list[CheckRow]]:
    rows = rows_for(step.findings, provider(), now)
    return gate(step, rows), rows
