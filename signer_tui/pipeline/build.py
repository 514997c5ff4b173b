"""Build the pipeline of a config: one collector per profile plus one for shared sources.

The sources polled are exactly those the registered checks declare (`checks.registry`); each
is built from the profile by its own key's builder (`sources/catalog.py` and friends). The TUI,
`signer-tui check` and the demo all call `build_pipeline`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from signer_tui.checks.registry import CheckSpec, all_checks
from signer_tui.config import Profile, Settings
from signer_tui.credentials import Secret, SecretStore
from signer_tui.model import Observation, utcnow
from signer_tui.pipeline.collector import (
    Collector,
    Job,
    ProfileCollector,
    SharedCollector,
    Snapshot,
)
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.errors import SourceError
from signer_tui.sources.feedcache import FeedCache
from signer_tui.sources.keys import Poll, Source

C = TypeVar("C")
HistoryReader = Callable[[str], list[VerificationRecord]]


def _default_history(profile: str) -> list[VerificationRecord]:
    from signer_tui.verify import history

    return history.read(profile)


def _failing(exc: SourceError) -> Callable[[], Any]:
    """A poll that reports why its client could not be built (e.g. a missing secret)."""

    def fail() -> None:
        raise exc

    return fail


@dataclass
class Pipeline:
    profiles: list[ProfileCollector]
    shared: SharedCollector

    def collector(self, name: str) -> ProfileCollector:
        return next(c for c in self.profiles if c.name == name)

    def jobs(self, profiles: Sequence[str] | None = None) -> list[Job]:
        """Jobs of the chosen profiles (all by default) plus every shared job, once."""
        chosen = [c for c in self.profiles if profiles is None or c.name in profiles]
        return [j for c in chosen for j in c.jobs] + list(self.shared.jobs)

    def owner(self, job: Job) -> list[ProfileCollector]:
        """The profiles whose findings a finished job can change."""
        if job.collector is self.shared:
            return list(self.profiles)
        return [c for c in self.profiles if c is job.collector]

    async def collect_once(
        self, profiles: Sequence[str] | None = None, rounds: int = 1, gap: float = 0.0
    ) -> list[Snapshot]:
        """Poll every source of the chosen profiles (concurrently), `rounds` times `gap`
        seconds apart, then run the checks: the headless path."""
        jobs = self.jobs(profiles)
        for round_ in range(max(1, rounds)):
            if round_:
                await asyncio.sleep(gap)
            results = await asyncio.gather(*(job.collector.run(job) for job in jobs))
            for job, (observation, _straggler) in zip(jobs, results, strict=True):
                job.collector.record(job, observation)
        now = self.shared.clock()
        return [
            Snapshot(c.name, now, c.all_observations(), c.findings(now), tuple(c.notes))
            for c in self.profiles
            if profiles is None or c.name in profiles
        ]

    async def aclose(self) -> None:
        for collector in [*self.profiles, self.shared]:
            await collector.aclose()


class _Context:
    """The `PollContext` a builder sees for one scope."""

    def __init__(
        self,
        pipeline: Pipeline,
        collector: Collector,
        profile: Profile | None,
        settings: Settings,
        secrets: SecretStore,
        feed_cache: FeedCache | None,
        history: HistoryReader,
        config_path: Path | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._collector = collector
        self._profile = profile
        self._settings = settings
        self._secrets = secrets
        self._feed_cache = feed_cache
        self._history = history
        self._config_path = config_path
        self._memo: dict[str, Any] = {}

    @property
    def profile(self) -> Profile | None:
        return self._profile

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def feed_cache(self) -> FeedCache | None:
        return self._feed_cache

    @property
    def config_path(self) -> Path | None:
        return self._config_path

    def secret(self, ref: Any) -> Secret | None:
        return self._secrets.get(ref)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._collector.closers.append(closer)

    def latest(self, source: Source[Any]) -> Observation[Any] | None:
        if self._profile is not None:
            return self._collector.observations.get(source.name)
        # A shared source asks the profiles in config order; the first answer wins.
        for collector in self._pipeline.profiles:
            found = collector.observations.get(source.name)
            if found is not None and found.ok:
                return found
        return None

    def memo(self, key: str, make: Callable[[], C]) -> C:
        if key not in self._memo:
            self._memo[key] = make()
        made: C = self._memo[key]
        return made

    def history(self, profile: str) -> list[VerificationRecord]:
        return self._history(profile)


Builder = Callable[[Any], Any]


def _add_job(
    collector: Collector, source: Source[Any], ctx: _Context, builder: Builder | None = None
) -> None:
    try:
        poll = (builder or source.build)(ctx)
    except SourceError as exc:
        # The client cannot be built (a missing secret…): poll the reason, at the interval of
        # a node poll so that fixing it shows up soon.
        interval = ctx.profile.poll.nodes if ctx.profile is not None else 60.0
        poll = Poll(_failing(exc), interval, description=f"{source.name} (not built)")
    if poll is None:
        collector.unconfigured.add(source.name)
        return
    collector.jobs.append(Job(collector, source, poll))


def build_pipeline(
    settings: Settings,
    secrets: SecretStore,
    *,
    history_reader: HistoryReader | None = None,
    feed_cache: FeedCache | None = None,
    checks: Sequence[CheckSpec] | None = None,
    clock: Callable[[], datetime] = utcnow,
    config_path: Path | None = None,
    builders: Mapping[Source[Any], Builder] | None = None,
) -> Pipeline:
    """`builders` replaces how some sources are built (the demo's simulated host)."""
    swap = {id(source): build for source, build in (builders or {}).items()}
    specs = list(checks) if checks is not None else all_checks()
    sources: dict[int, Source[Any]] = {}
    for spec in specs:
        for source in spec.needs:
            sources.setdefault(id(source), source)
    history = history_reader or _default_history
    shared = SharedCollector("shared", settings, clock=clock)
    pipeline = Pipeline([], shared)
    for profile in settings.signers:
        pipeline.profiles.append(
            ProfileCollector(
                profile.name,
                settings,
                clock=clock,
                profile=profile,
                shared=shared,
                checks=list(specs),
            )
        )
    for collector in pipeline.profiles:
        ctx = _Context(
            pipeline,
            collector,
            collector.profile,
            settings,
            secrets,
            feed_cache,
            history,
            config_path,
        )
        for source in sources.values():
            if source.scope == "profile":
                _add_job(collector, source, ctx, swap.get(id(source)))
    shared_ctx = _Context(
        pipeline, shared, None, settings, secrets, feed_cache, history, config_path
    )
    for source in sources.values():
        if source.scope == "shared":
            _add_job(shared, source, shared_ctx, swap.get(id(source)))
    return pipeline
