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


def test_healthy_start_has_no_network_incident(stack: demo.DemoStack) -> None:
    found = findings(stack)
    for fid in ("key.signer_set", "node.stacks.fork_deadline", "release.bitcoind.eol"):
        assert found[fid].status is Status.OK, (fid, found[fid].summary)
    assert found["key.signer_set"].summary.startswith("registry, config, newest DKG row agree")


def test_signer_set_change(stack: demo.DemoStack) -> None:
    stack.inject("signer-set-change")
    found = findings(stack)["key.signer_set"]
    assert found.status is Status.WARN
    assert found.summary.startswith(
        "signer set change: config (11 keys/threshold 8) ≠ registry (14 keys/threshold 10)"
    )
    assert "dkg-signer-set-change" in found.advice
    stack.inject("reset")
    assert findings(stack)["key.signer_set"].status is Status.OK


def test_pending_rotation(stack: demo.DemoStack) -> None:
    stack.inject("pending-rotation")
    found = findings(stack)
    for fid in ("key.node", "key.api"):
        assert found[fid].status is Status.WARN, (fid, found[fid].summary)
        assert found[fid].summary.startswith("rotation pending: newer verified key")
        assert f"{demo.PENDING_ROTATION_AGE_BLOCKS} bitcoin blocks old" in found[fid].summary
    assert found["key.sources"].status is Status.OK
    stack.inject("reset")
    assert findings(stack)["key.node"].status is Status.OK


def test_eol_bitcoind(stack: demo.DemoStack) -> None:
    stack.inject("eol-bitcoind")
    found = findings(stack)["release.bitcoind.eol"]
    assert found.status is Status.WARN
    assert found.summary.startswith("end-of-life: Core 28.1.0 (since 31.0")
    stack.inject("reset")
    assert findings(stack)["release.bitcoind.eol"].status is Status.OK


def test_fork_split(stack: demo.DemoStack) -> None:
    stack.inject("fork-split")
    found = findings(stack)["node.stacks.fork_deadline"]
    assert found.status is Status.CRIT
    assert found.summary.startswith("will split in")
    assert "stacks-node 3.4.0.0.4 at 960,230" in found.summary
    assert "needs >= 4.0.1" in found.summary
    stack.inject("reset")
    assert findings(stack)["node.stacks.fork_deadline"].status is Status.OK


def test_network_incidents_are_on_screen(stack: demo.DemoStack) -> None:
    """Pilot: the four incidents at once, read back from the panes' rows."""
    from signer_tui.ui.app import DemoHooks, PollCompleted, SignerApp
    from signer_tui.ui.widgets.pane import FindingsPane

    for incident in ("signer-set-change", "pending-rotation", "eol-bitcoind", "fork-split"):
        stack.inject(incident)

    def rows(app: SignerApp, pane_id: str) -> list[str]:
        table = app.query_one(f"#{pane_id}", FindingsPane).table
        return [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]

    async def run() -> dict[str, list[str]]:
        app = SignerApp(
            demo.build(stack),
            state_dir=stack.root / "state",
            demo=DemoHooks(list(demo.INCIDENTS), stack.inject),
            watch_tty=False,
        )
        seen: list[object] = []
        wanted = {"key.node", "signer_config", "stacks", "bitcoind", "releases", "db"}
        async with app.run_test(size=(200, 60), message_hook=seen.append) as pilot:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while loop.time() < deadline:
                done = {m.observation.source for m in seen if isinstance(m, PollCompleted)}
                if wanted <= done:
                    break
                await pilot.pause(0.2)
            await pilot.pause(0.5)
            app.render_all()
            await pilot.pause()
            return {pane: rows(app, pane) for pane in ("key", "nodes", "releases")}

    try:
        shown = asyncio.run(run())
    finally:
        stack.inject("reset")
    key_text = "\n".join(shown["key"])
    assert "WARN" in key_text and "signer set change: config (11 keys/threshold 8)" in key_text
    assert "rotation pending: newer verified key" in key_text
    assert any(r.startswith("CRIT") and "will split in" in r for r in shown["nodes"])
    assert any(r.startswith("WARN") and "end-of-life: Core 28.1.0" in r for r in shown["releases"])


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
