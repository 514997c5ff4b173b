"""When each source is polled: one due time per source, re-armed after each poll finishes.

The `Scheduler` is a small state machine with no timers of its own, so it cannot leak them:
every job has exactly one due time; `take_due` hands out the jobs whose time has come (never
one that is still running), `finished` re-arms a job one interval later, and `refresh` moves
due times to now — for a rate-limited remote feed only when its newest reading is older than
its minimum age, unless the refresh is forced. `PollLoop` drives it on asyncio for the console,
the demo and tests; a fake clock drives it in tests over simulated hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from signer_tui.model import Observation
from signer_tui.pipeline.collector import Job, failed


@dataclass(eq=False)
class _State:
    job: Job
    due: float
    running: bool = False
    last_ok: float | None = None  # clock time of the newest successful reading
    runs: int = 0


@dataclass
class Scheduler:
    jobs: list[Job]
    clock: Callable[[], float] = time.monotonic
    # Seconds the first poll of a blocking source (a thread: DB, files, commands) waits.
    hold_blocking: float = 0.0
    _states: dict[int, _State] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        now = self.clock()
        for job in self.jobs:
            hold = self.hold_blocking if job.poll.blocking else 0.0
            self._states[id(job)] = _State(job, now + hold)

    def state(self, job: Job) -> _State:
        return self._states[id(job)]

    def take_due(self) -> list[Job]:
        """The jobs to start now; they are marked running until `finished`."""
        now = self.clock()
        due = [s for s in self._states.values() if not s.running and s.due <= now]
        for state in due:
            state.running = True
            state.runs += 1
        return [s.job for s in due]

    def finished(self, job: Job, ok: bool) -> None:
        state = self.state(job)
        now = self.clock()
        state.running = False
        if ok:
            state.last_ok = now
        state.due = now + job.interval

    def refresh(self, *, force: bool = False, jobs: Iterable[Job] | None = None) -> list[Job]:
        """Make jobs due now; returns those that were. A running job is left alone (it is
        re-armed when it finishes), so refreshing never overlaps two polls of a source."""
        now = self.clock()
        chosen = self._states.values() if jobs is None else [self.state(j) for j in jobs]
        moved = []
        for state in chosen:
            if state.running:
                continue
            min_age = state.job.source.refresh_min_age
            fresh = state.last_ok is not None and now - state.last_ok < (min_age or 0)
            if min_age is not None and fresh and not force:
                continue
            state.due = now
            moved.append(state.job)
        return moved

    def next_due(self) -> float | None:
        waiting = [s.due for s in self._states.values() if not s.running]
        return min(waiting) if waiting else None

    def running(self) -> list[Job]:
        return [s.job for s in self._states.values() if s.running]


Listener = Callable[[Job, Observation[Any]], None]


class PollLoop:
    """Runs a Scheduler on asyncio: starts due polls, records their observations, tells the
    listener, re-arms. One task per running poll; nothing else holds a timer."""

    def __init__(
        self,
        jobs: list[Job],
        listener: Listener,
        clock: Callable[[], float] = time.monotonic,
        hold_blocking: float = 0.0,
    ) -> None:
        self.scheduler = Scheduler(jobs, clock, hold_blocking)
        self.listener = listener
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def run(self) -> None:
        try:
            while not self._stopped:
                for job in self.scheduler.take_due():
                    task = asyncio.create_task(self._one(job), name=f"poll {job.key}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self._wake.clear()
                due = self.scheduler.next_due()
                timeout = None if due is None else max(0.0, due - self.scheduler.clock())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            await self.stop()

    async def _one(self, job: Job) -> None:
        ok = False
        try:
            try:
                observation, straggler = await job.collector.run(job)
            except Exception as exc:  # run() reports failures itself; this is a bug in it
                observation, straggler = failed(job.source.name, exc), None
            ok = observation.ok
            job.collector.record(job, observation)
            self.listener(job, observation)
            if straggler is not None:
                await _quietly(straggler)
        finally:
            self.scheduler.finished(job, ok)
            self._wake.set()

    def refresh(self, *, force: bool = False, jobs: Iterable[Job] | None = None) -> list[Job]:
        moved = self.scheduler.refresh(force=force, jobs=jobs)
        self._wake.set()
        return moved

    async def stop(self) -> None:
        """Cancel running polls; abandoned threads are daemons and never delay quitting."""
        self._stopped = True
        self._wake.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)


async def _quietly(work: Awaitable[Any]) -> None:
    with contextlib.suppress(BaseException):
        await work
