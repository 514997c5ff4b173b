"""Default poll intervals over 13 simulated hours: nothing goes STALE while its sources answer,
facts with their own lifetime are judged by it, and incidents show up in bounded time."""

from __future__ import annotations

import asyncio

from signer_tui.model import Status
from tests.pipeline import world as w

HOUR = 3600.0
WATCHED = (
    "release.signer",
    "release.stacks",
    "release.bitcoind",
    "release.feed",
    "backup.verification",
    "node.stacks.tip_age",
    "node.signer.observing",
    "key.node",
)


def test_thirteen_hours_of_lifetimes_and_incidents() -> None:
    world = w.World(verified_hours_before=1.0)
    # The restore test is good for 12 h here, so it expires inside the run (at 11 h).
    pipeline = w.build(world, w.settings(verification_max_age="12h"))
    transitions: list[tuple[float, str, Status]] = []
    last: dict[str, Status] = {}
    stale_seen: list[tuple[float, str]] = []

    def sample(t: float) -> None:
        now = world.now()
        for finding in pipeline.profiles[0].findings(now):
            if finding.is_stale(now):
                stale_seen.append((t, finding.id))
        for fid, status in w.statuses(pipeline, world).items():
            if fid in WATCHED and last.get(fid) is not status:
                transitions.append((t, fid, status))
                last[fid] = status

    async def run() -> None:
        sched = await w.drive(world, pipeline, 12.5 * HOUR, sample)
        world.observer_dead_at = world.t  # the event observer stops receiving blocks
        sched = await w.drive(world, pipeline, 12.75 * HOUR, sample, scheduler=sched)
        world.node_frozen_at = world.t  # then the node's tip stops too
        await w.drive(world, pipeline, 13 * HOUR, sample, scheduler=sched)

    asyncio.run(run())

    # Nothing is ever STALE: every source keeps answering at its own interval, the 6 h feeds
    # and the restore-test history included.
    assert stale_seen == []
    # The feeds were fetched at 0 h, 6 h and 12 h — never more.
    assert world.calls["releases"] == 3

    def when(fid: str, status: Status) -> list[float]:
        return [t for t, i, s in transitions if i == fid and s is status]

    # First sight of the tip is "watching" (UNKNOWN); the second poll sees it move.
    assert when("node.stacks.tip_age", Status.UNKNOWN) == [0.0]
    assert when("node.stacks.tip_age", Status.OK) == [60.0]
    # Release rows and the feed row are decided once and hold for the whole 12.5 h.
    for fid in ("release.signer", "release.stacks", "release.feed", "key.node"):
        assert [s for _t, i, s in transitions if i == fid] == [Status.OK], fid
    assert [s for _t, i, s in transitions if i == "release.bitcoind"] == [Status.WARN]
    # The restore test, 1 h old at the start and good for 12 h, expires at 11 h (± a sample).
    verification = [(t, s) for t, i, s in transitions if i == "backup.verification"]
    assert verification[0] == (0.0, Status.OK)
    assert len(verification) == 2
    expired_at, expired = verification[1]
    assert expired in (Status.WARN, Status.CRIT)
    assert 11 * HOUR <= expired_at <= 11 * HOUR + 60
    # The observer stops at 12.5 h: CRIT within two minutes (three blocks plus a scrape).
    observing = [(t, s) for t, i, s in transitions if i == "node.signer.observing"]
    assert observing[0][1] is Status.UNKNOWN and observing[1] == (60.0, Status.OK)
    stalled_at, stalled = observing[2]
    assert stalled is Status.CRIT and 12.5 * HOUR < stalled_at <= 12.5 * HOUR + 120
    assert len(observing) == 3  # and it stays CRIT: no flapping
    # The node freezes at 12.75 h while the API's chain moves on: CRIT within three minutes
    # (the API is polled every minute; six blocks of lead take another minute).
    tip = [(t, s) for t, i, s in transitions if i == "node.stacks.tip_age"]
    frozen_at, frozen = tip[2]
    assert frozen is Status.CRIT and 12.75 * HOUR < frozen_at <= 12.75 * HOUR + 180
    assert len(tip) == 3


def test_healthy_stack_does_not_flap_for_thirty_minutes() -> None:
    world = w.World()
    pipeline = w.build(world)
    history: dict[str, list[Status]] = {}

    def sample(_t: float) -> None:
        for fid, status in w.statuses(pipeline, world).items():
            seen = history.setdefault(fid, [])
            if not seen or seen[-1] is not status:
                seen.append(status)

    asyncio.run(w.drive(world, pipeline, 1800, sample, sample_every=5))
    flapping = {fid: s for fid, s in history.items() if len(s) > 2}
    assert flapping == {}
    # After the first minute nothing is UNKNOWN in a healthy world (this world has no backup
    # inventory, only a restore-test history: the backup rows say so and are left out).
    final = {k: v for k, v in w.statuses(pipeline, world).items() if not k.startswith("backup.")}
    assert Status.UNKNOWN not in final.values(), final
    assert w.statuses(pipeline, world)["backup.verification"] is Status.OK
