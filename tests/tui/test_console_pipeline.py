"""The running console on the pipeline: default intervals over simulated minutes, refresh
limits counted at the GitHub simulator, and a stopped signer seen within one poll."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from signer_tui.model import Status
from tests.tui.conftest import Stack, make_app

START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds)

    def epoch(self) -> float:
        return self.now().timestamp()


async def settle(app: Any, pilot: Any) -> None:
    """Let every poll that is due now finish (real loopback I/O, fake time)."""
    for _ in range(100):
        if app.poll_loop is not None:
            break
        await asyncio.sleep(0.02)
    loop = app.poll_loop
    assert loop is not None
    loop.refresh(jobs=[])  # wake the loop so it sees what the fake clock made due
    for _ in range(200):
        await asyncio.sleep(0.02)
        due = loop.scheduler.next_due()
        if not loop.scheduler.running() and (due is None or due > app.clock().timestamp()):
            break
    await pilot.pause()


def github_requests(stack: Stack) -> int:
    return len(stack.feeds.servers["github"].requests)


async def test_fifteen_minutes_on_default_intervals_no_stale_row_and_bounded_feeds(
    stack: Stack, monkeypatch: Any
) -> None:
    fake = FakeTime()
    state = stack.env.state
    state.clock = fake.epoch
    state.started = fake.epoch()
    state.stacks_block_seconds = 5.0
    state.bitcoin_block_seconds = 600.0
    import signer_tui.pipeline.collector as collector_module

    monkeypatch.setattr(collector_module, "utcnow", fake.now)
    app = make_app(stack.config(), stack.tmp, clock=fake.now)
    for collector in [*app.pipeline.profiles, app.pipeline.shared]:
        collector.clock = fake.now
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(app, pilot)
        after_first_fetch = github_requests(stack)
        assert after_first_fetch > 0
        worst_seen: list[Status] = []
        for step in range(180):  # 15 minutes in 5-second steps
            fake.seconds += 5
            await settle(app, pilot)
            if step == 60:
                for _ in range(5):  # an impatient operator
                    await pilot.press("r")
                    await settle(app, pilot)
            if step >= 12:  # after the first minute
                now = fake.now()
                findings = app.findings["mainnet"]
                stale = [f.id for f in findings if f.is_stale(now)]
                assert stale == [], (step, stale)
                worst_seen.append(Status.worst(f.effective_status(now) for f in findings))
        # The header never read UNKNOWN on a healthy profile (WARN: the truncated dump).
        assert Status.UNKNOWN not in worst_seen, worst_seen
        # Five refreshes within the feeds' minimum age re-fetched nothing from GitHub.
        assert github_requests(stack) == after_first_fetch
        await pilot.press("R")  # the forced refresh has its own key
        await settle(app, pilot)
        assert github_requests(stack) > after_first_fetch


async def test_stop_signer_turns_alive_crit_within_one_poll(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp)
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(200):
            found = {f.id: f for f in app.findings["mainnet"]}
            if "node.signer.alive" in found and found["node.signer.alive"].status is Status.OK:
                break
            await asyncio.sleep(0.05)
        assert found["node.signer.alive"].status is Status.OK
        stack.env.state.signer_up = False
        stack.env.apply()  # the process dies: listening socket and open connections close
        await pilot.press("r")
        for _ in range(300):  # 15 s at most: one poll of the signer at its default interval
            await asyncio.sleep(0.05)
            found = {f.id: f for f in app.findings["mainnet"]}
            if found["node.signer.alive"].status is Status.CRIT:
                break
        assert found["node.signer.alive"].status is Status.CRIT, found["node.signer.alive"]
