"""Snapshots of the console at 80x24 and 160x48, also written to screenshots/ for the README.

Time is frozen (the console's clock, every `utcnow`, and the simulators' clock) and the
simulated chain does not advance, so the screens are the same on every run.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from tests.tui.conftest import ALL_SOURCES, FROZEN, Stack, make_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


async def settle(pilot: Any, name: str | None) -> None:
    """Poll every source twice (tips and counters need two samples), then save the screen."""
    app = pilot.app

    async def idle(samples: int) -> None:
        for _ in range(300):
            collector = app.collectors[0]
            seen = set(collector.all_observations())
            enough = all(len(collector.series(s)) >= samples for s in SERIES)
            running = app.poll_loop.scheduler.running() if app.poll_loop else []
            if seen >= ALL_SOURCES and enough and not running:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("polls did not settle")

    await idle(1)
    await pilot.press("r")
    await idle(2)
    # Let the "Refreshing" notification expire so it is not in the picture.
    app.clear_notifications()
    await pilot.pause()
    app.render_all()
    await pilot.pause()
    if name is not None:
        SCREENSHOTS.mkdir(exist_ok=True)
        (SCREENSHOTS / f"{name}.svg").write_text(
            app.export_screenshot(title=f"signer-tui — {name}")
        )


SERIES = ("stacks_tip", "bitcoin_tip", "stacks_observed")


@pytest.mark.parametrize(
    ("size", "name", "theme"),
    [
        ((80, 24), "dashboard-80x24", "signer-dark"),
        ((160, 48), "dashboard-160x48", "signer-dark"),
        # The terminal's own 16 colours, for old terminals and `screen` sessions.
        ((80, 24), "dashboard-ansi-80x24", "ansi-dark"),
    ],
)
def test_dashboard(
    frozen_time: Callable[[float], datetime],
    stack: Stack,
    snap_compare: Any,
    size: tuple[int, int],
    name: str,
    theme: str,
) -> None:
    stack.env.state.clock = FROZEN.timestamp
    stack.use_fixed_backup_dir()
    loaded = stack.config()
    loaded.settings.ui.theme = theme
    app = make_app(loaded, stack.tmp, clock=lambda: frozen_time(12))

    async def run_before(pilot: Any) -> None:
        await settle(pilot, name)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_evidence_view(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    stack.env.state.clock = FROZEN.timestamp
    app = make_app(stack.config(), stack.tmp, clock=lambda: frozen_time(12))

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        # key.sources: own node vs API (the DB's evidence names a temp socket path).
        await pilot.press("2", "down", "down", "enter")
        await pilot.pause()
        # Loopback ports and answer times change per run: mask them.
        text = pilot.app.screen.text
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:20443", text)
        text = re.sub(r"elapsed: +\d+ ms", "elapsed:     4 ms", text)
        pilot.app.screen.query_one("#evidence-text", Static).update(text)
        await settle(pilot, "evidence-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
