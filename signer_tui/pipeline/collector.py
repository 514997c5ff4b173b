"""Collectors: the observations, series and findings of one profile, or of the shared sources.

* A `Job` is one source of one collector with its built `Poll`.
* `run(job)` performs one poll within the poll's own deadline and always returns an
  `Observation` (a failure carries its title; an unexpected one also its message, logged with
  the traceback) — never an exception. A blocking poll runs in a daemon thread, so a stuck
  database call can be abandoned at the deadline and never holds up quitting.
* `ProfileCollector.findings(now)` runs every registered check over what is stored and stamps
  each finding with the moment its oldest declared reading becomes overdue (`stale_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import math
import threading
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from signer_tui.checks.registry import CheckSpec, Series, UndeclaredSource
from signer_tui.model import Evidence, Finding, Observation, Status, utcnow
from signer_tui.sources.errors import SourceError
from signer_tui.sources.http import error_title
from signer_tui.sources.keys import Poll, Source

if TYPE_CHECKING:
    from signer_tui.config import Profile, Settings

T = TypeVar("T")
log = logging.getLogger("signer_tui")

# How many samples of each numeric series are kept (sparklines, "still moving" checks).
SERIES_LENGTH = 120
# A reading is overdue after two of its source's poll intervals, plus this slack (slow polls).
STALE_SLACK = 5.0
# A check is run again when a source it declared brings a new observation or a series it
# read moves, and in any case once its result is this old (verdicts that age with time:
# a tip held too long, a backup past its day). Between those, its last result stands: a
# shared feed's poll re-runs only the release checks of each profile, not every check of
# every profile in one event-loop callback (a 150 ms stall at 50 profiles).
RECHECK_EVERY = timedelta(seconds=30)
# Blocking polls (psycopg, subprocesses) running at once; more wait their turn.
MAX_THREADS = 8
_thread_slots: dict[int, asyncio.Semaphore] = {}


def failed(source: str, exc: BaseException, when: datetime | None = None) -> Observation[Any]:
    evidence: tuple[Evidence, ...] = ()
    detail = ""
    if isinstance(exc, SourceError):
        detail = exc.detail
        if exc.evidence is not None:
            evidence = (exc.evidence,)
    else:
        # Unexpected: keep the message for the operator and the traceback for the log.
        detail = f"{type(exc).__name__}: {exc}"[:500]
        log.error("poll of %s failed", source, exc_info=(type(exc), exc, exc.__traceback__))
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


def succeeded(source: str, value: T, when: datetime | None = None) -> Observation[T]:
    return Observation(source, when or utcnow(), value, evidence=_evidence_of(value))


def _timed_out(source: str, deadline: float, when: datetime) -> Observation[Any]:
    return Observation(
        source,
        when,
        None,
        f"no answer within {deadline:g} s",
        detail="The whole poll took longer than its deadline; it was abandoned.",
    )


@dataclass(eq=False)
class Job:
    """One source of one collector: what the scheduler arms and the runner runs."""

    collector: Collector
    source: Source[Any]
    poll: Poll[Any]

    @property
    def key(self) -> str:
        return f"{self.collector.name}/{self.source.name}"

    @property
    def interval(self) -> float:
        return self.poll.interval


async def _in_thread(call: Callable[[], T], deadline: float) -> tuple[T | None, bool, Any]:
    """Run `call` in a daemon thread. Returns (value, timed_out, straggler): on a timeout the
    thread is abandoned and `straggler` is a future that resolves when it finally ends."""
    loop = asyncio.get_running_loop()
    slots = _thread_slots.setdefault(id(loop), asyncio.Semaphore(MAX_THREADS))
    done: asyncio.Future[T] = loop.create_future()

    def resolve(ok: bool, payload: Any) -> None:
        if done.done():
            return
        if ok:
            done.set_result(payload)
        else:
            done.set_exception(payload)

    def target() -> None:
        try:
            result = call()
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):  # the loop may be gone (quitting)
                loop.call_soon_threadsafe(resolve, False, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(resolve, True, result)

    await slots.acquire()
    done.add_done_callback(lambda _f: slots.release())
    threading.Thread(target=target, name="signer-tui-poll", daemon=True).start()
    try:
        value = await asyncio.wait_for(asyncio.shield(done), deadline)
    except TimeoutError:
        return None, True, done
    return value, False, None


@dataclass
class Collector:
    """Observations and series of one scope (a profile, or the shared sources)."""

    name: str
    settings: Settings
    jobs: list[Job] = field(default_factory=list)
    observations: dict[str, Observation[Any]] = field(default_factory=dict)
    series_data: dict[str, deque[tuple[datetime, float]]] = field(default_factory=dict)
    # Bumped on every sample: a check's cached result names the versions of the series it read.
    series_versions: dict[str, int] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Sources the config leaves out for this scope (e.g. no metrics_url): not "not read yet".
    unconfigured: set[str] = field(default_factory=set)
    # When an observation was made (a fake clock in tests that run simulated hours).
    clock: Callable[[], datetime] = utcnow

    def job(self, source: Source[Any]) -> Job | None:
        return next((j for j in self.jobs if j.source is source), None)

    def interval_of(self, source: Source[Any]) -> float | None:
        job = self.job(source)
        return job.interval if job is not None else None

    async def run(self, job: Job) -> tuple[Observation[Any], Awaitable[Any] | None]:
        """One poll within its deadline. The second value is a still-running abandoned thread
        (await it before polling that source again, so stuck calls never pile up)."""
        poll = job.poll
        name = job.source.name
        try:
            if poll.blocking:
                value, timed_out, straggler = await _in_thread(poll.call, poll.deadline)
                if timed_out:
                    return _timed_out(name, poll.deadline, self.clock()), straggler
            else:
                result = poll.call()
                if inspect.isawaitable(result):
                    value = await asyncio.wait_for(result, poll.deadline)
                else:
                    value = result
        except TimeoutError:
            return _timed_out(name, poll.deadline, self.clock()), None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return failed(name, exc, self.clock()), None
        return succeeded(name, value, self.clock()), None

    def record(self, job_or_source: Job | Source[Any], observation: Observation[Any]) -> None:
        source = job_or_source.source if isinstance(job_or_source, Job) else job_or_source
        self.observations[source.name] = observation
        value = observation.reading()
        if value is None or source.samples is None:
            return
        for name, sample in source.samples(value).items():
            self.add_sample(name, observation.observed_at, sample)

    def add_sample(self, name: str, when: datetime, value: float | None) -> None:
        """A run of equal values keeps its first and newest sample only, so "unchanged since"
        survives however long a tip or counter is stuck (the series is bounded)."""
        if value is None or not math.isfinite(value):
            return
        self.series_versions[name] = self.series_versions.get(name, 0) + 1
        series = self.series_data.setdefault(name, deque(maxlen=SERIES_LENGTH))
        if len(series) >= 2 and series[-1][1] == series[-2][1] == value:
            series[-1] = (when, value)
            return
        series.append((when, value))

    def series(self, name: str) -> Series:
        return list(self.series_data.get(name, ()))

    def observation(self, source: Source[T]) -> Observation[T] | None:
        return self.observations.get(source.name)

    async def aclose(self) -> None:
        for close in self.closers:
            with contextlib.suppress(Exception):
                await close()
        self.closers.clear()


@dataclass
class SharedCollector(Collector):
    """Sources shared by every profile (release feeds): polled once, seen by all."""


@dataclass
class Snapshot:
    profile: str
    taken_at: datetime
    observations: dict[str, Observation[Any]]
    findings: list[Finding]
    notes: tuple[str, ...] = ()


@dataclass
class ProfileCollector(Collector):
    """One signer profile: its own sources, the shared ones, and every registered check."""

    profile: Profile | None = None
    shared: SharedCollector | None = None
    checks: list[CheckSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _results: dict[str, _Result] = field(default_factory=dict, repr=False)

    @property
    def network(self) -> str:
        return self.profile.network if self.profile is not None else ""

    def scope_of(self, source: Source[Any]) -> Collector:
        if source.scope == "shared" and self.shared is not None:
            return self.shared
        return self

    def observation(self, source: Source[T]) -> Observation[T] | None:
        return self.scope_of(source).observations.get(source.name)

    def all_observations(self) -> dict[str, Observation[Any]]:
        """This profile's observations and the shared ones it sees."""
        shared = self.shared.observations if self.shared is not None else {}
        return {**shared, **self.observations}

    def series_values(self, name: str) -> list[float]:
        """Values of a series; the block counters as blocks seen per poll (sparklines)."""
        counters = {"stacks_blocks": "stacks_observed", "bitcoin_blocks": "bitcoin_observed"}
        if name in counters:
            values = [v for _, v in self.series(counters[name])]
            return [max(0.0, b - a) for a, b in itertools.pairwise(values)]
        return [v for _, v in self.series(name)]

    def findings(self, now: datetime | None = None) -> list[Finding]:
        now = now or utcnow()
        out: list[Finding] = []
        for spec in self.checks:
            observed = tuple(self.observation(source) for source in spec.needs)
            last = self._results.get(spec.name)
            if last is not None and last.still_holds(observed, self.series_versions, now):
                out.extend(last.findings)
                continue
            inputs = _Inputs(self, spec, now)
            try:
                produced = spec.fn(inputs)
            except Exception as exc:  # a bug in one check must not blank the console
                produced = [_internal(spec, exc)]
            stale_at = self._stale_at(spec.needs)
            made = [
                replace(finding, profile=self.name, stale_at=finding.stale_at or stale_at)
                for finding in produced
            ]
            read = {name: self.series_versions.get(name, 0) for name in inputs.series_read}
            self._results[spec.name] = _Result(observed, read, now, made)
            out.extend(made)
        return out

    def _stale_at(self, needs: Sequence[Source[Any]]) -> datetime | None:
        """When the first declared reading becomes overdue, by its own source's interval."""
        moments = []
        for source in needs:
            scope = self.scope_of(source)
            interval = scope.interval_of(source)
            obs = scope.observations.get(source.name)
            if interval is None or obs is None:
                continue
            moments.append(obs.observed_at + timedelta(seconds=2 * interval + STALE_SLACK))
        return min(moments) if moments else None


@dataclass(frozen=True)
class _Result:
    """One check's findings and what they were computed from."""

    observed: tuple[Observation[Any] | None, ...]
    series: dict[str, int]
    at: datetime
    findings: list[Finding]

    def still_holds(
        self,
        observed: tuple[Observation[Any] | None, ...],
        versions: dict[str, int],
        now: datetime,
    ) -> bool:
        # Observations are compared by identity: each poll records a new object.
        return (
            timedelta(0) <= now - self.at < RECHECK_EVERY
            and all(a is b for a, b in zip(self.observed, observed, strict=True))
            and all(versions.get(name, 0) == v for name, v in self.series.items())
        )


def _internal(spec: CheckSpec, exc: Exception) -> Finding:
    log.error("check %s failed", spec.name, exc_info=(type(exc), exc, exc.__traceback__))
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}" if where else ""
    return Finding(
        f"internal.{spec.name}",
        Status.UNKNOWN,
        f"check failed: {type(exc).__name__}",
        advice="This is a bug in signer-tui; the other checks still run. The traceback is in "
        "the log file (signer-tui.log in the state directory).",
        details=(("error", f"{type(exc).__name__}: {exc}{at}"[:500]),),
    )


class _Inputs:
    """The `checks.registry.Inputs` view of one profile for one check."""

    def __init__(self, collector: ProfileCollector, spec: CheckSpec, now: datetime) -> None:
        self._c = collector
        self._spec = spec
        self._now = now
        self.series_read: set[str] = set()

    @property
    def profile(self) -> Profile:
        assert self._c.profile is not None
        return self._c.profile

    @property
    def settings(self) -> Settings:
        return self._c.settings

    @property
    def now(self) -> datetime:
        return self._now

    def _declared(self, source: Source[Any]) -> None:
        if not any(s is source for s in self._spec.needs):
            raise UndeclaredSource(f"{self._spec.name} reads {source.name} without declaring it")

    def get(self, source: Source[T]) -> Observation[T] | None:
        self._declared(source)
        return self._c.observation(source)

    def configured(self, source: Source[Any]) -> bool:
        self._declared(source)
        scope = self._c.scope_of(source)
        return scope.job(source) is not None

    def series(self, name: str) -> Series:
        self.series_read.add(name)
        return self._c.series(name)
