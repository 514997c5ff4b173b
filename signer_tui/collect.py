"""The one seam between sources and checks.

A `ProfileCollector` knows, for one signer profile, which sources exist, how often each is
polled, and which checks its observations feed. The TUI's pollers and the headless `check`
command both go through it, so they can never disagree:

* `specs()` lists the polls (name, interval, blocking or async, the call itself);
* `run(spec)` performs one poll and always returns an `Observation` (a failure becomes an
  observation carrying the error title — never an exception);
* `record(observation)` stores it; `findings(now)` runs every check over what is stored.

Release feeds are shared by all profiles: one `FeedPoller` is polled once and its observation is
given to every collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from signer_tui.model import Evidence, Finding, Status, utcnow
from signer_tui.sources.errors import SourceError
from signer_tui.sources.http import error_title

# How many samples of each numeric series are kept (sparklines, "still rising" checks).
SERIES_LENGTH = 60


@dataclass(frozen=True)
class Observation:
    """What one poll of one source produced: a value, or the title of why not."""

    source: str
    observed_at: datetime
    value: Any = None
    error: str | None = None
    detail: str = ""
    evidence: tuple[Evidence, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class PollSpec:
    name: str
    interval: float
    call: Callable[[], Any]  # a coroutine function, or a blocking function when `blocking`
    blocking: bool = False
    description: str = ""


def failed(source: str, exc: BaseException, when: datetime | None = None) -> Observation:
    evidence: tuple[Evidence, ...] = ()
    detail = ""
    if isinstance(exc, SourceError):
        detail = exc.detail
        if exc.evidence is not None:
            evidence = (exc.evidence,)
    return Observation(
        source, when or utcnow(), None, error_title(exc), detail=detail, evidence=evidence
    )


def _evidence_of(value: Any) -> tuple[Evidence, ...]:
    found: list[Evidence] = []
    candidates = value if isinstance(value, tuple | list) else (value,)
    for item in candidates:
        evidence = getattr(item, "evidence", None)
        if isinstance(evidence, Evidence):
            found.append(evidence)
        elif isinstance(evidence, tuple | list):
            found.extend(e for e in evidence if isinstance(e, Evidence))
    return tuple(found)


def succeeded(source: str, value: Any, when: datetime | None = None) -> Observation:
    return Observation(source, when or utcnow(), value, evidence=_evidence_of(value))


@dataclass
class Snapshot:
    profile: str
    taken_at: datetime
    observations: dict[str, Observation]
    findings: list[Finding]


CheckFn = Callable[["ProfileCollector", datetime], list[Finding]]


@dataclass
class ProfileCollector:
    """Observations and findings for one profile. Subclasses/wiring provide the specs."""

    name: str
    network: str
    poll_specs: list[PollSpec] = field(default_factory=list)
    checks: list[tuple[CheckFn, tuple[str, ...]]] = field(default_factory=list)
    observations: dict[str, Observation] = field(default_factory=dict)
    series: dict[str, deque[tuple[datetime, float]]] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    shared: dict[str, Observation] = field(default_factory=dict)

    def specs(self) -> list[PollSpec]:
        return list(self.poll_specs)

    def interval_of(self, source: str) -> float | None:
        for spec in self.poll_specs:
            if spec.name == source:
                return spec.interval
        return None

    async def run(self, spec: PollSpec) -> Observation:
        """One poll; every failure is turned into an Observation."""
        try:
            if spec.blocking:
                value = await asyncio.to_thread(spec.call)
            else:
                result = spec.call()
                value = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            return failed(spec.name, exc)
        return succeeded(spec.name, value)

    def run_blocking(self, spec: PollSpec) -> Observation:
        """One blocking poll, for a thread worker."""
        try:
            value = spec.call()
        except Exception as exc:
            return failed(spec.name, exc)
        return succeeded(spec.name, value)

    def record(self, observation: Observation) -> None:
        self.observations[observation.source] = observation

    def observation(self, source: str) -> Observation | None:
        return self.observations.get(source) or self.shared.get(source)

    def add_sample(self, name: str, when: datetime, value: float | None) -> None:
        if value is None:
            return
        self.series.setdefault(name, deque(maxlen=SERIES_LENGTH)).append((when, value))

    def series_values(self, name: str) -> list[float]:
        return [v for _, v in self.series.get(name, ())]

    def findings(self, now: datetime | None = None) -> list[Finding]:
        now = now or utcnow()
        out: list[Finding] = []
        for check, sources in self.checks:
            stale_after = self._stale_after(sources)
            try:
                produced = check(self, now)
            except Exception as exc:  # a bug in one check must not blank the console
                produced = [
                    Finding(
                        f"internal.{getattr(check, '__name__', 'check')}",
                        Status.UNKNOWN,
                        f"check failed: {type(exc).__name__}",
                        advice="This is a bug in signer-tui; the other checks still run.",
                    )
                ]
            for finding in produced:
                out.append(
                    replace(
                        finding,
                        profile=self.name,
                        stale_after=finding.stale_after or stale_after,
                    )
                )
        return out

    def _stale_after(self, sources: tuple[str, ...]) -> float | None:
        intervals = [i for s in sources if (i := self.interval_of(s)) is not None]
        # Data older than two poll intervals is stale (plus a little slack for slow polls).
        return 2 * max(intervals) + 5 if intervals else None

    async def collect_once(self, rounds: int = 1, gap: float = 0.0) -> Snapshot:
        """Poll every source (concurrently), `rounds` times `gap` seconds apart, then run the
        checks: the headless path. Two rounds let "is it still moving" checks see movement."""
        for round_ in range(max(1, rounds)):
            if round_:
                await asyncio.sleep(gap)
            observations = await asyncio.gather(*(self.run(spec) for spec in self.specs()))
            for observation in observations:
                self.record(observation)
        now = utcnow()
        return Snapshot(self.name, now, dict(self.observations), self.findings(now))

    async def aclose(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
