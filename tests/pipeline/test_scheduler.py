"""The scheduler: one due time per source, refresh without overlap, feed refresh limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signer_tui.pipeline.collector import Job
from signer_tui.pipeline.scheduler import PollLoop, Scheduler
from signer_tui.sources.catalog import FEED_REFRESH_MIN_AGE
from tests.pipeline import world as w


def _setup() -> tuple[w.World, Scheduler, dict[str, Job]]:
    world = w.World()
    pipeline = w.build(world)
    sched = Scheduler(pipeline.jobs(), clock=lambda: world.t)
    return world, sched, w.jobs_by_name(pipeline)


def test_every_source_is_due_once_and_rearmed_after_it_finishes() -> None:
    world, sched, jobs = _setup()
    first = sched.take_due()
    assert sorted(j.source.name for j in first) == sorted(jobs)
    assert sched.take_due() == []  # all running: nothing twice
    world.t = 1000
    assert sched.take_due() == []  # still running, however late
    for job in first:
        sched.finished(job, ok=True)
    assert sched.state(jobs["stacks"]).due == 1000 + 15  # the default node interval
    assert sched.state(jobs["releases"]).due == 1000 + 6 * 3600


def test_the_console_s_first_thread_polls_wait_for_the_http_ones() -> None:
    """Issue 16: started together, the DB and backup polls' threads (psycopg, pg_restore
    loading) held the GIL while the HTTP answers waited: every pane "waiting" 0.5 s longer."""
    from signer_tui.config import Settings
    from signer_tui.pipeline.collector import ProfileCollector
    from signer_tui.sources.keys import Poll, Source

    settings = Settings.model_validate({"signers": [{"name": "main", "network": "mainnet"}]})
    collector = ProfileCollector("main", settings, profile=settings.signers[0])
    for name, blocking in (("http", False), ("db", True), ("files", True)):
        source: Source[int] = Source(name, lambda _ctx, b=blocking: Poll(lambda: 1, 15, blocking=b))
        poll = source.build(None)  # type: ignore[arg-type]
        assert poll is not None
        collector.jobs.append(Job(collector, source, poll))
    t = [100.0]
    sched = Scheduler(collector.jobs, clock=lambda: t[0], hold_blocking=0.3)
    assert [j.source.name for j in sched.take_due()] == ["http"]
    t[0] += 0.2
    assert sched.take_due() == []
    t[0] += 0.1
    assert sorted(j.source.name for j in sched.take_due()) == ["db", "files"]
    # Without a hold (check, tests on a fake clock) everything starts at once.
    assert len(Scheduler(collector.jobs, clock=lambda: t[0]).take_due()) == 3


def test_refresh_never_overlaps_a_running_poll() -> None:
    world, sched, _jobs = _setup()
    running = sched.take_due()
    # Refresh while everything runs: nothing is started a second time...
    for _ in range(5):
        assert sched.refresh() == []
        assert sched.take_due() == []
    for job in running:
        sched.finished(job, ok=True)
    world.t = 1
    # ...and after they finish, one refresh makes each local source due exactly once.
    moved = {j.source.name for j in sched.refresh()}
    assert "stacks" in moved and "db" in moved
    assert "releases" not in moved  # fetched a second ago: the feed is kept
    again = sched.take_due()
    assert sorted(j.source.name for j in again) == sorted(moved)
    assert sched.take_due() == []


def test_feeds_refresh_only_when_older_than_the_minimum_age_unless_forced() -> None:
    world, sched, jobs = _setup()
    feed = jobs["releases"]
    for job in sched.take_due():
        sched.finished(job, ok=True)
    world.t = FEED_REFRESH_MIN_AGE - 1
    assert feed not in sched.refresh()
    assert feed in sched.refresh(force=True)
    for job in sched.take_due():
        sched.finished(job, ok=True)
    world.t += FEED_REFRESH_MIN_AGE
    assert feed in sched.refresh()


def test_a_failed_feed_fetch_may_be_retried_at_once() -> None:
    world, sched, jobs = _setup()
    for job in sched.take_due():
        sched.finished(job, ok=job.source.name != "releases")
    world.t = 5
    assert jobs["releases"] in sched.refresh()


def test_poll_loop_refreshes_without_leaking_poll_chains() -> None:
    """The timer leak: each refresh used to add a permanent poll chain (5 → 10 → 20 polls per
    5 s after 0/1/3 refreshes). Now the count per interval stays one, whatever is pressed."""
    world = w.World()
    pipeline = w.build(world)
    job = w.jobs_by_name(pipeline)["signer"]
    calls: list[float] = []

    async def poll() -> Any:
        calls.append(time.monotonic())
        await asyncio.sleep(0.01)
        return world.read_signer()

    job.poll = type(job.poll)(poll, 0.2)

    async def run() -> None:
        loop = PollLoop([job], lambda _j, _o: None)
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(0.5)
        for _ in range(3):
            loop.refresh()
            await asyncio.sleep(0.02)
        calls.clear()
        await asyncio.sleep(1.0)
        await loop.stop()
        task.cancel()

    asyncio.run(run())
    # 1 s at a 0.2 s interval (+10 ms per poll): about 4-5 polls, never 10 or 20.
    assert 3 <= len(calls) <= 6, len(calls)
