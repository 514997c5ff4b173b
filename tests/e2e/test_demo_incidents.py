"""Every demo incident makes the console show what the README promises."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from signer_tui import demo
from signer_tui.model import Status

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[demo.DemoStack]:
    created = demo.DemoStack.create()
    yield created
    created.stop()


def findings(stack: demo.DemoStack, profile: str = "mainnet") -> dict[str, Any]:
    pipeline = demo.build(stack)

    async def run() -> Any:
        try:
            return await pipeline.collect_once()
        finally:
            await pipeline.aclose()

    snapshots = asyncio.run(run())
    snapshot = next(s for s in snapshots if s.profile == profile)
    return {f.id: f for f in snapshot.findings}


def test_healthy_start(stack: demo.DemoStack) -> None:
    found = findings(stack)
    for fid in ("key.node", "key.api", "key.sources", "node.signer.alive", "release.signer"):
        assert found[fid].status is Status.OK, (fid, found[fid].summary)
    assert found["backup.integrity"].status is Status.WARN  # the truncated dump, five days ago


def test_rotate_key_goes_crit_then_warn_then_ok(
    stack: demo.DemoStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    delays: list[float] = []
    actions: list[Any] = []
    monkeypatch.setattr(stack, "_later", lambda d, a: (delays.append(d), actions.append(a)))
    stack.inject("rotate-key")
    assert findings(stack)["key.node"].status is Status.CRIT
    assert findings(stack)["key.node"].summary.startswith("MISMATCH")
    assert delays == [demo.ROTATION_DB_AFTER, demo.ROTATION_VERIFIED_AFTER]
    actions[0]()  # the DB gets the new key, unverified
    found = findings(stack)
    assert found["key.node"].status is Status.WARN
    assert found["key.node"].summary.startswith("DKG transition")
    actions[1]()  # verified
    assert findings(stack)["key.node"].status is Status.OK
    stack.inject("reset")


def test_stop_signer(stack: demo.DemoStack) -> None:
    stack.inject("stop-signer")
    found = findings(stack)
    assert found["node.signer.alive"].status is Status.CRIT
    assert "connection refused" in found["node.signer.alive"].summary
    stack.inject("reset")
    assert findings(stack)["node.signer.alive"].status is Status.OK


def test_stall_bitcoind(stack: demo.DemoStack) -> None:
    stack.inject("stall-bitcoind")
    found = findings(stack)
    assert found["node.bitcoind.tip_age"].status is Status.WARN
    assert found["node.bitcoind.tip_age"].summary == "last block 3h ago"
    stack.inject("reset")


def test_advisory(stack: demo.DemoStack) -> None:
    stack.inject("advisory")
    found = findings(stack)
    assert found["release.signer"].status is Status.CRIT
    assert "CVE-2026-99999" in found["release.signer"].summary
    stack.inject("reset")


def test_skip_backup(stack: demo.DemoStack) -> None:
    before = findings(stack)["backup.freshness"]
    stack.inject("skip-backup")
    after = findings(stack)
    assert after["backup.freshness"].status.rank > before.status.rank
    assert after["backup.gaps"].status is Status.WARN


def test_stop_signer_shows_on_the_next_poll_of_a_running_console(stack: demo.DemoStack) -> None:
    # The same collectors (and so the same kept-alive HTTP connections) across the incident,
    # as in a console that was already running: a dead signer must not keep answering.
    # Last in the module: every poll also spends the shared GitHub simulator's 60 requests
    # an hour, and test_advisory needs a fresh feed.
    pipeline = demo.build(stack)

    async def poll() -> dict[str, Any]:
        snapshots = await pipeline.collect_once()
        snapshot = next(s for s in snapshots if s.profile == "mainnet")
        return {f.id: f for f in snapshot.findings}

    async def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        try:
            before = await poll()
            await asyncio.to_thread(stack.inject, "stop-signer")
            during = await poll()
            await asyncio.to_thread(stack.inject, "reset")
            after = await poll()
            return before, during, after
        finally:
            await pipeline.aclose()

    before, during, after = asyncio.run(run())
    assert before["node.signer.alive"].status is Status.OK
    assert during["node.signer.alive"].status is Status.CRIT
    assert "connection refused" in during["node.signer.alive"].summary
    assert after["node.signer.alive"].status is Status.OK
