"""The collect seam: polls become Observations (never exceptions), checks get stale marks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from signer_tui.collect import PollSpec, ProfileCollector
from signer_tui.model import Evidence, Finding, Status, utcnow
from signer_tui.sources.errors import SourceTimeout


def make() -> ProfileCollector:
    async def good() -> int:
        return 42

    async def bad() -> int:
        evidence = Evidence("node", "GET /x", utcnow(), error="timeout")
        raise SourceTimeout("timed out after 1 s", "", evidence)

    def blocking() -> str:
        raise RuntimeError("boom")

    def check(c: ProfileCollector, now: object) -> list[Finding]:
        obs = c.observation("good")
        if obs is None or not obs.ok:
            return [Finding("demo.value", Status.UNKNOWN, "no value")]
        return [Finding("demo.value", Status.OK, f"value {obs.value}", observed_at=obs.observed_at)]

    def broken_check(c: ProfileCollector, now: object) -> list[Finding]:
        raise KeyError("bug")

    return ProfileCollector(
        "main",
        "mainnet",
        poll_specs=[
            PollSpec("good", 10, good),
            PollSpec("bad", 10, bad),
            PollSpec("blocking", 30, blocking, blocking=True),
        ],
        checks=[(check, ("good",)), (broken_check, ())],
    )


def test_collect_once_turns_failures_into_observations() -> None:
    collector = make()
    snapshot = asyncio.run(collector.collect_once())
    good, bad, blocking = (snapshot.observations[n] for n in ("good", "bad", "blocking"))
    assert good.ok and good.value == 42
    assert bad.error == "timed out after 1 s" and bad.evidence[0].error == "timeout"
    assert blocking.error == "unexpected RuntimeError"
    by_id = {f.id: f for f in snapshot.findings}
    assert by_id["demo.value"].status is Status.OK
    assert by_id["demo.value"].profile == "main"
    # A crashing check becomes an UNKNOWN row instead of blanking the console.
    assert by_id["internal.broken_check"].status is Status.UNKNOWN


def test_old_data_is_stale_and_counts_as_unknown() -> None:
    collector = make()
    asyncio.run(collector.collect_once())
    finding = next(f for f in collector.findings() if f.id == "demo.value")
    assert finding.stale_after == 2 * 10 + 5
    assert finding.data_time is not None
    later = finding.data_time + timedelta(seconds=26)
    assert finding.is_stale(later)
    assert finding.effective_status(later) is Status.UNKNOWN
    assert finding.effective_status(finding.data_time) is Status.OK
    # CRIT stays CRIT when stale: staleness never makes things look better.
    crit = Finding("x", Status.CRIT, "bad", observed_at=finding.data_time, stale_after=1)
    assert crit.effective_status(later) is Status.CRIT


def test_worst_status_ranks_unknown_above_warn() -> None:
    assert Status.worst([Status.OK, Status.WARN, Status.UNKNOWN]) is Status.UNKNOWN
    assert Status.worst([Status.UNKNOWN, Status.CRIT]) is Status.CRIT
    assert Status.worst([]) is Status.UNKNOWN


def test_stuck_tip_keeps_its_first_sample() -> None:
    """A tip stuck for longer than the series holds must still show its true age."""
    from signer_tui.config import Settings
    from signer_tui.credentials import SecretStore
    from signer_tui.wiring import build_collectors

    settings = Settings.model_validate({"signers": [{"name": "m", "network": "mainnet"}]})
    collector = build_collectors(settings, SecretStore())[0]
    start = utcnow()
    for minute in range(200):
        collector.add_tip("stacks_tip", start + timedelta(minutes=minute), 100.0)
    series = list(collector.series["stacks_tip"])
    assert len(series) == 2
    assert series[0][0] == start and series[-1][0] == start + timedelta(minutes=199)
    collector.add_tip("stacks_tip", start + timedelta(minutes=200), 101.0)
    assert [v for _, v in collector.series["stacks_tip"]] == [100.0, 100.0, 101.0]
    asyncio.run(collector.aclose())
