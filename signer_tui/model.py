"""The shared vocabulary of the pipeline: statuses, evidence and findings.

Sources attach `Evidence` to what they observe; checks turn observations into `Finding`s;
presenters render Findings. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from signer_tui import format as fmt
from signer_tui import sanitize

T = TypeVar("T")

# Raw network text is shown to operators; keep it to one screenful in evidence.
RAW_LIMIT = 4000


def clean_text(text: str, limit: int | None = None) -> str:
    """Text from outside made safe to show: escape sequences, controls, bidi overrides and
    line separators removed (see signer_tui.sanitize); newlines and tabs kept."""
    return sanitize.clean(text, limit)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(enum.Enum):
    """A finding's verdict. Missing data is UNKNOWN, never OK."""

    OK = "OK"
    WARN = "WARN"
    UNKNOWN = "UNKNOWN"
    CRIT = "CRIT"

    @property
    def rank(self) -> int:
        # UNKNOWN outranks WARN: a console must not look calmer than what it knows.
        return _RANK[self]

    @staticmethod
    def worst(statuses: Iterable[Status]) -> Status:
        found = list(statuses)
        if not found:
            return Status.UNKNOWN
        return max(found, key=lambda s: s.rank)


_RANK = {Status.OK: 0, Status.WARN: 1, Status.UNKNOWN: 2, Status.CRIT: 3}


@dataclass(frozen=True)
class Evidence:
    """What was asked, of whom, when, and what came back."""

    source: str
    request: str
    observed_at: datetime
    status: int | None = None
    raw: str = ""
    decoded: str = ""
    elapsed_ms: float | None = None
    error: str = ""

    def with_decoded(self, decoded: str) -> Evidence:
        return Evidence(
            source=self.source,
            request=self.request,
            observed_at=self.observed_at,
            status=self.status,
            raw=self.raw,
            decoded=decoded,
            elapsed_ms=self.elapsed_ms,
            error=self.error,
        )


@dataclass(frozen=True)
class Finding:
    """One verdict of one check. `id` is dotted and stable: it is the contract with alerting."""

    id: str
    status: Status
    summary: str
    advice: str = ""
    evidence: tuple[Evidence, ...] = ()
    profile: str = ""
    observed_at: datetime | None = None
    details: tuple[tuple[str, str], ...] = field(default=())
    # Data older than this (seconds) is stale: shown as such and counted as UNKNOWN.
    stale_after: float | None = None
    # Set by the pipeline: the moment the first reading behind this finding is overdue (two of
    # its own source's poll intervals). Wins over `stale_after`, which only checks without
    # declared sources use.
    stale_at: datetime | None = None

    @property
    def area(self) -> str:
        """The first segment of the id: key, node, backup, release, posture."""
        return self.id.split(".", 1)[0]

    def is_stale(self, now: datetime) -> bool:
        moment = self.stale_moment
        return moment is not None and now > moment

    @property
    def stale_moment(self) -> datetime | None:
        """From when on this finding is stale (None: never, by time alone)."""
        if self.stale_at is not None:
            return self.stale_at
        when = self.data_time
        if self.stale_after is None or when is None:
            return None
        return when + timedelta(seconds=self.stale_after)

    def effective_status(self, now: datetime) -> Status:
        """The status to act on: stale data is not allowed to look healthy."""
        if self.is_stale(now) and self.status.rank < Status.UNKNOWN.rank:
            return Status.UNKNOWN
        return self.status

    @property
    def data_time(self) -> datetime | None:
        """When the newest data behind this finding was observed."""
        if self.observed_at is not None:
            return self.observed_at
        times = [e.observed_at for e in self.evidence]
        return max(times) if times else None


@dataclass(frozen=True)
class Observation(Generic[T]):
    """What one poll of one source produced: a value, or the title of why not."""

    source: str
    observed_at: datetime
    value: T | None = None
    error: str | None = None
    detail: str = ""
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    def reading(self) -> T | None:
        """The value when the poll succeeded, else None (typed, for checks)."""
        return self.value if self.error is None else None


# One formatter for the whole console (signer_tui.format); kept here for its importers.
format_age = fmt.age


def age_of(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else (now - when).total_seconds()
