"""The console against a database that accepts a session and then goes silent: the rows say
so within the poll's deadline, keys keep answering, and quitting never waits on the stuck call."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from signer_tui.model import Status
from tests.tui.conftest import Stack, make_app


@pytest.fixture
def silent_db() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a stuck server)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


async def test_silent_database_is_bounded_and_quit_is_immediate(
    stack: Stack, silent_db: int
) -> None:
    db = {
        "host": "127.0.0.1",
        "port": silent_db,
        "dbname": "signer",
        "user": "u",
        "sslmode": "disable",
        "connect_timeout": "2s",
        "statement_timeout": "1s",
    }
    app = make_app(stack.config(db=db), stack.tmp)
    quit_took: list[float] = []

    async with app.run_test(size=(120, 40)) as pilot:
        started = time.monotonic()
        found: dict[str, Any] = {}
        while time.monotonic() - started < 15:
            await asyncio.sleep(0.1)
            found = {f.id: f for f in app.findings.get("mainnet", [])}
            key = found.get("key.node")
            if key is not None and "signer DB" in key.summary and "not read" not in key.summary:
                break
        key = found["key.node"]
        # Bounded: the DB poll's own deadline (connect 2 s + statements 1 s, plus slack).
        assert time.monotonic() - started < 10, key.summary
        print(f"silent DB reported in {time.monotonic() - started:.1f} s: {key.summary}")
        assert key.status is Status.UNKNOWN and "not read yet" not in key.summary, key.summary
        # Keys still answer while the stuck call may still be in its thread.
        await pilot.press("t")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "TimelineScreen"
        await pilot.press("escape")
        begun = time.monotonic()
        await pilot.press("q")
    quit_took.append(time.monotonic() - begun)
    assert quit_took[0] < 2.0, quit_took


CANARY = "canary-Qz7vX2-bitcoind-secret"


async def test_a_canary_secret_never_reaches_screens_state_or_exports(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bitcoind password comes from the environment; after polls, the evidence view, a
    screenshot, the timeline exports and every file in the state dir are searched for it."""
    stack.env.state.bitcoind_password = CANARY
    monkeypatch.setenv("SIGNER_TUI_TEST_CANARY", CANARY)
    bitcoind = {
        "url": stack.env.url("bitcoind"),
        "user": stack.env.state.bitcoind_user,
        "password": {"env": "SIGNER_TUI_TEST_CANARY"},
        "timeout": "2s",
    }
    from signer_tui import credentials

    loaded = stack.config(bitcoind=bitcoind)
    # The environment changed after the autouse fixture: resolve the secrets again.
    assert any(r.secret is not None for r in credentials.resolve_all(loaded.settings))
    app = make_app(loaded, stack.tmp)
    screens: list[str] = []
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(200):
            found = {f.id: f for f in app.findings.get("mainnet", [])}
            reach = found.get("node.bitcoind.reachable")
            if reach is not None and reach.status is Status.OK:
                break
            await asyncio.sleep(0.05)
        # The canary really was the password: bitcoind accepted it.
        assert found["node.bitcoind.reachable"].status is Status.OK
        await pilot.press("3")  # Node health, where the bitcoind rows are
        await pilot.press("enter")
        await pilot.pause()
        screens.append(app.export_screenshot())
        await pilot.press("escape")
        screens.append(app.export_screenshot())
        now = app.clock()
        for fmt in ("md", "json"):
            app.timeline.export(stack.tmp / "state", fmt, now)
    everything = "\n".join(screens)
    for path in (stack.tmp / "state").rglob("*"):
        if path.is_file():
            everything += path.read_text(errors="replace")
    assert "bitcoind" in everything  # the search covered real content
    assert CANARY not in everything
