"""Collectors: polls become Observations (never exceptions), deadlines, stale marks."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

from signer_tui.checks.registry import CheckSpec, Inputs, UndeclaredSource
from signer_tui.config import Settings
from signer_tui.model import Evidence, Finding, Observation, Status, utcnow
from signer_tui.pipeline.collector import Job, ProfileCollector
from signer_tui.sources.errors import SourceTimeout
from signer_tui.sources.keys import Poll, Source

SETTINGS = Settings.model_validate({"signers": [{"name": "main", "network": "mainnet"}]})


def _source(name: str, call: Any, interval: float = 10, **poll: Any) -> Source[Any]:
    return Source(name, lambda _ctx: Poll(call, interval, **poll))


async def _good() -> int:
    return 42


async def _bad() -> int:
    evidence = Evidence("node", "GET /x", utcnow(), error="timeout")
    raise SourceTimeout("timed out after 1 s", "", evidence)


def _blocking() -> str:
    raise RuntimeError("boom")


GOOD = _source("good", _good)
BAD = _source("bad", _bad)
BLOCKING = _source("blocking", _blocking, 30, blocking=True)


def _value_check(inp: Inputs) -> list[Finding]:
    obs = inp.get(GOOD)
    if obs is None or not obs.ok:
        return [Finding("demo.value", Status.UNKNOWN, "no value")]
    return [Finding("demo.value", Status.OK, f"value {obs.value}", observed_at=obs.observed_at)]


def _broken_check(inp: Inputs) -> list[Finding]:
    raise KeyError("bug")


def _sneaky_check(inp: Inputs) -> list[Finding]:
    inp.get(BAD)  # not declared
    return []


def make() -> ProfileCollector:
    collector = ProfileCollector(
        "main",
        SETTINGS,
        profile=SETTINGS.signers[0],
        checks=[
            CheckSpec("t.value", _value_check, (GOOD,)),
            CheckSpec("t.broken", _broken_check, ()),
            CheckSpec("t.sneaky", _sneaky_check, (GOOD,)),
        ],
    )
    for source in (GOOD, BAD, BLOCKING):
        poll = source.build(None)  # type: ignore[arg-type]
        assert poll is not None
        collector.jobs.append(Job(collector, source, poll))
    return collector


async def _poll_all(collector: ProfileCollector) -> None:
    for job in collector.jobs:
        observation, _ = await collector.run(job)
        collector.record(job, observation)


def test_polls_become_observations_and_checks_cannot_blank_the_console() -> None:
    collector = make()
    asyncio.run(_poll_all(collector))
    good, bad, blocking = (collector.observations[n] for n in ("good", "bad", "blocking"))
    assert good.ok and good.value == 42
    assert bad.error == "timed out after 1 s" and bad.evidence[0].error == "timeout"
    # An unexpected error keeps its message, not only its class name.
    assert blocking.error == "unexpected RuntimeError" and blocking.detail == "RuntimeError: boom"
    by_id = {f.id: f for f in collector.findings()}
    assert by_id["demo.value"].status is Status.OK and by_id["demo.value"].profile == "main"
    broken = by_id["internal.t.broken"]
    assert broken.status is Status.UNKNOWN and "KeyError" in dict(broken.details)["error"]
    # Reading a source without declaring it is caught: it would escape staleness.
    sneaky = by_id["internal.t.sneaky"]
    assert sneaky.summary == f"check failed: {UndeclaredSource.__name__}"


def test_staleness_comes_from_the_declared_sources_own_interval() -> None:
    collector = make()
    asyncio.run(_poll_all(collector))
    finding = next(f for f in collector.findings() if f.id == "demo.value")
    read_at = collector.observations["good"].observed_at
    assert finding.stale_at == read_at + timedelta(seconds=2 * 10 + 5)
    assert not finding.is_stale(read_at + timedelta(seconds=25))
    later = read_at + timedelta(seconds=26)
    assert finding.is_stale(later) and finding.effective_status(later) is Status.UNKNOWN
    # CRIT stays CRIT when stale: staleness never makes things look better.
    crit = Finding("x", Status.CRIT, "bad", stale_at=read_at)
    assert crit.effective_status(later) is Status.CRIT


def test_a_stuck_blocking_poll_is_abandoned_at_its_deadline() -> None:
    release = threading.Event()

    def stuck() -> int:
        release.wait(10)
        return 1

    source = _source("stuck", stuck, 10, blocking=True, deadline=0.3)
    collector = make()
    poll = source.build(None)  # type: ignore[arg-type]
    assert poll is not None
    job = Job(collector, source, poll)

    async def run() -> tuple[Any, Any, float]:
        started = time.monotonic()
        observation, straggler = await collector.run(job)
        elapsed = time.monotonic() - started
        release.set()
        await straggler  # the abandoned thread ends later; the next poll waits for it
        return observation, straggler, elapsed

    observation, straggler, elapsed = asyncio.run(run())
    assert elapsed < 1.0
    assert observation.error == "no answer within 0.3 s"
    assert straggler is not None


def test_series_keep_the_first_and_newest_sample_of_a_flat_run() -> None:
    """A tip stuck for longer than the series holds must still show its true age."""
    collector = make()
    start = utcnow()
    for minute in range(200):
        collector.add_sample("stacks_tip", start + timedelta(minutes=minute), 100.0)
    series = collector.series("stacks_tip")
    assert len(series) == 2
    assert series[0][0] == start and series[-1][0] == start + timedelta(minutes=199)
    collector.add_sample("stacks_tip", start + timedelta(minutes=200), 101.0)
    assert [v for _, v in collector.series("stacks_tip")] == [100.0, 100.0, 101.0]
    collector.add_sample("stacks_tip", start, float("nan"))  # never stored
    assert len(collector.series("stacks_tip")) == 3


def test_worst_status_ranks_unknown_above_warn() -> None:
    assert Status.worst([Status.OK, Status.WARN, Status.UNKNOWN]) is Status.UNKNOWN
    assert Status.worst([Status.UNKNOWN, Status.CRIT]) is Status.CRIT
    assert Status.worst([]) is Status.UNKNOWN


def test_a_check_runs_again_only_when_what_it_read_changed_or_its_result_aged() -> None:
    """Issue 16: a poll re-runs the checks that declared its source (and those whose result
    is RECHECK_EVERY old), not every check of the profile."""
    from signer_tui.pipeline.collector import RECHECK_EVERY

    runs = {"good": 0, "bad": 0, "series": 0}

    def on_good(inp: Inputs) -> list[Finding]:
        runs["good"] += 1
        return [Finding("t.good", Status.OK, f"value {inp.get(GOOD)}")]

    def on_bad(inp: Inputs) -> list[Finding]:
        runs["bad"] += 1
        return [Finding("t.bad", Status.OK, "bad read")]

    def on_series(inp: Inputs) -> list[Finding]:
        runs["series"] += 1
        return [Finding("t.tip", Status.OK, f"{len(inp.series('stacks_tip'))} samples")]

    collector = ProfileCollector(
        "main",
        SETTINGS,
        profile=SETTINGS.signers[0],
        checks=[
            CheckSpec("t.good", on_good, (GOOD,)),
            CheckSpec("t.bad", on_bad, (BAD,)),
            CheckSpec("t.series", on_series, ()),
        ],
    )
    start = utcnow()
    first = collector.findings(start)
    assert runs == {"good": 1, "bad": 1, "series": 1}
    # Nothing new: the same findings, no check run.
    assert collector.findings(start + timedelta(seconds=1)) == first
    assert runs == {"good": 1, "bad": 1, "series": 1}
    # A new observation of GOOD re-runs only the check that declared it.
    collector.record(GOOD, Observation("good", start, value=7))
    shown = collector.findings(start + timedelta(seconds=2))
    assert runs == {"good": 2, "bad": 1, "series": 1}
    assert [f.summary for f in shown][1:] == [f.summary for f in first][1:]
    # A series a check read moves: that check runs again.
    collector.add_sample("stacks_tip", start, 100.0)
    collector.findings(start + timedelta(seconds=3))
    assert runs == {"good": 2, "bad": 1, "series": 2}
    # Verdicts that age with time: every check runs again once its result is old enough.
    collector.findings(start + RECHECK_EVERY + timedelta(seconds=5))
    assert runs == {"good": 3, "bad": 2, "series": 3}
    # A clock that went back (a test's fake clock, an NTP step) never reuses a result.
    collector.findings(start)
    assert runs == {"good": 4, "bad": 3, "series": 4}
