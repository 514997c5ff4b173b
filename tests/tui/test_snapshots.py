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

from signer_tui.ui.widgets.pane import FindingsPane
from tests.tui.conftest import ALL_SOURCES, FROZEN, Stack, make_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

# Query timings and connection counts of the shared test cluster differ from run to run: the
# pictures leave the DB liveness rows out (tests/checks/test_db_health.py covers them).
NO_DB_TIMINGS = {"enabled": False}


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
    # Let the last poll's re-layout (a pane's scrollbar coming or going) settle too.
    await asyncio.sleep(0.3)
    await pilot.pause()
    app.refresh(layout=True)
    await pilot.pause()
    # How long the frozen tip has "held" is real time between two polls (1 s, or 2 s on a
    # loaded machine); the detail line shows it in full, so pin it.
    import dataclasses

    for name, found in app.findings.items():
        app.findings[name] = [
            dataclasses.replace(f, summary=re.sub(r"unchanged \d+s", "unchanged 1s", f.summary))
            for f in found
        ]
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
    loaded = stack.config(db_health=NO_DB_TIMINGS)
    loaded.settings.ui.theme = theme
    app = make_app(loaded, stack.tmp, clock=lambda: frozen_time(12))

    async def run_before(pilot: Any) -> None:
        await settle(pilot, name)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_evidence_view(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    stack.env.state.clock = FROZEN.timestamp
    app = make_app(stack.config(db_health=NO_DB_TIMINGS), stack.tmp, clock=lambda: frozen_time(12))

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


# -- the console in bad states, at 80x24 (issue 15) -----------------------------------------


def mask(text: str) -> str:
    """Loopback ports, answer times and temp paths change per run."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:20443", text)
    text = re.sub(r"elapsed: +\d+ ms", "elapsed:     4 ms", text)
    text = re.sub(r"\d+(\.\d+)? ?ms\b", "4 ms", text)
    text = re.sub(r"/tmp/[\w./-]+?:\d+/", "/tmp/…:5432/", text)
    text = re.sub(r"signer_[0-9a-f]{6,}", "signer_db", text)
    return re.sub(r"/tmp/[\w./-]+", "/tmp/…", text)


async def mask_static(pilot: Any, selector: str) -> None:
    widget = pilot.app.screen.query_one(selector, Static)
    widget.update(mask(str(widget.render())))
    await pilot.pause()


def save(pilot: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / f"{name}.svg").write_text(
        pilot.app.export_screenshot(title=f"signer-tui — {name}")
    )


def crit_app(frozen_time: Callable[[float], datetime], stack: Stack, **kwargs: Any) -> Any:
    from signer_tui.sim.state import fake_key

    stack.env.state.clock = FROZEN.timestamp
    stack.env.state.chain_key = fake_key("rotated-elsewhere")  # the chain moved: MISMATCH
    stack.use_fixed_backup_dir()
    return make_app(
        stack.config(db_health=NO_DB_TIMINGS), stack.tmp, clock=lambda: frozen_time(12), **kwargs
    )


def test_crit_state(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    app = crit_app(frozen_time, stack)

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        await pilot.press("exclamation_mark")  # jump to the worst: the CRIT key row
        await pilot.pause()
        save(pilot, "crit-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_crit_evidence(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    app = crit_app(frozen_time, stack)

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        await pilot.press("exclamation_mark", "enter")
        await pilot.pause()
        await mask_static(pilot, "#evidence-text")
        app.clear_notifications()
        await pilot.pause()
        save(pilot, "evidence-crit-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_help_for_a_crit_pane(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    app = crit_app(frozen_time, stack)

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        await pilot.press("2", "question_mark")
        await pilot.pause()
        save(pilot, "help-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_timeline_of_a_crit(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    app = crit_app(frozen_time, stack)

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        # Which polls end first (and so the start-up counts) varies per run: replay the
        # settled findings into a fresh timeline, as a console started now would record them.
        from signer_tui.timeline import Timeline

        app.timeline = Timeline()
        name = app.collector.name
        app.timeline.observe(name, app.findings[name], app.clock())
        await pilot.press("t")
        await pilot.pause()
        save(pilot, "timeline-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_stale_rows(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    import dataclasses

    stack.env.state.clock = FROZEN.timestamp
    stack.use_fixed_backup_dir()
    app = make_app(stack.config(db_health=NO_DB_TIMINGS), stack.tmp, clock=lambda: frozen_time(12))

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        # The chain sources went silent: their readings were due at FROZEN. (The pipeline
        # stamps `stale_at` on its own clock, which the frozen time does not reach, so the
        # moment is set here; tests/tui/test_app.py shows the pipeline doing it.)
        assert app.poll_loop is not None
        await app.poll_loop.stop()
        name = app.collector.name
        app.findings[name] = [
            dataclasses.replace(f, stale_at=FROZEN) if f.id in ("key.node", "key.api") else f
            for f in app.findings[name]
        ]
        await pilot.press("2")
        app.render_all()
        await pilot.pause()
        pane = app.query_one("#key", FindingsPane)
        assert [f.is_stale(app.clock()) for f in pane.table.findings].count(True) == 2
        save(pilot, "stale-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_verify_screen(
    frozen_time: Callable[[float], datetime], stack: Stack, snap_compare: Any
) -> None:
    from signer_tui.credentials import SecretStore
    from signer_tui.ui.screens.verify import VerifyScreen
    from signer_tui.verify.run import VerifyRequest

    stack.env.state.clock = FROZEN.timestamp
    stack.use_fixed_backup_dir()
    history = stack.tmp / "history.jsonl"

    def request(collector: Any) -> VerifyRequest:
        return VerifyRequest(
            latest=True, profile=collector.profile, secrets=SecretStore(), history_path=history
        )

    app = make_app(
        stack.config(db_health=NO_DB_TIMINGS),
        stack.tmp,
        clock=lambda: frozen_time(12),
        verify_request=request,
    )

    async def run_before(pilot: Any) -> None:
        await settle(pilot, None)
        await pilot.press("1", "v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        for _ in range(1200):
            if screen.finished:
                break
            await asyncio.sleep(0.1)
        assert screen.finished
        # Elapsed seconds and the scratch cluster's paths vary per run.
        phase = screen.query_one("#verify-phase", Static)
        phase.update(re.sub(r"\(\d+ s\)", "(9 s)", mask(str(phase.render()))))
        await mask_static(pilot, "#verify-result")
        app.clear_notifications()
        await pilot.pause()
        save(pilot, "verify-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
