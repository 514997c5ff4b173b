"""Structural properties that keep the console quiet (issue 16): a poll that brings no change
rebuilds no table, only the profile on screen is redrawn, the clock does not rebuild panes,
and the top bar is not repainted when its words are the same.

A fake pipeline (one collector whose findings the test sets) drives the real App; counting
`FindingsPane.show` and `DataTable.clear` calls is what "rebuilt" means here.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from textual.widgets import DataTable

from signer_tui.config import Settings
from signer_tui.model import Finding, Status
from signer_tui.pipeline.build import Pipeline
from signer_tui.pipeline.collector import ProfileCollector, SharedCollector
from signer_tui.ui.app import SignerApp
from signer_tui.ui.widgets.pane import FindingsPane
from signer_tui.ui.widgets.topbar import Clock, TopBar

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _profile(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "network": "mainnet",
        "signer": {"api_url": "http://127.0.0.1:1"},
        "bitcoind": {"url": "http://127.0.0.1:1", "user": "u", "password": "p"},
        "stacks": {"rpc_url": "http://127.0.0.1:1"},
        "posture": {"enabled": False},
    }


class Fake:
    """Two profiles whose findings the test sets; a clock the test moves."""

    def __init__(self) -> None:
        settings = Settings.model_validate({"signers": [_profile("a"), _profile("b")]})
        shared = SharedCollector("shared", settings)
        self.rows: dict[str, list[Finding]] = {"a": [], "b": []}
        self.now = T0
        profiles = []
        for name in ("a", "b"):
            collector = ProfileCollector(name, settings, shared=shared)
            collector.findings = self._findings_of(name)  # type: ignore[method-assign]
            profiles.append(collector)
        self.pipeline = Pipeline(profiles, shared)

    def _findings_of(self, name: str) -> Any:
        return lambda now=None: list(self.rows[name])

    def set(self, name: str, *findings: Finding) -> None:
        self.rows[name] = list(findings)


def finding(fid: str, status: Status = Status.OK, summary: str = "fine", **kw: Any) -> Finding:
    return Finding(fid, status, summary, observed_at=kw.pop("observed_at", T0), **kw)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    seen = {"show": 0, "clear": 0, "topbar": 0, "clock": 0}

    def counting(name: str, real: Any) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return real(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(FindingsPane, "show", counting("show", FindingsPane.show))
    monkeypatch.setattr(DataTable, "clear", counting("clear", DataTable.clear))
    monkeypatch.setattr(TopBar, "refresh", counting("topbar", TopBar.refresh))
    monkeypatch.setattr(Clock, "refresh", counting("clock", Clock.refresh))
    yield seen


def app_of(fake: Fake) -> SignerApp:
    return SignerApp(fake.pipeline, clock=lambda: fake.now, autostart=False, watch_tty=False)


async def test_a_poll_without_change_rebuilds_no_table(counts: dict[str, int]) -> None:
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        a = fake.pipeline.profiles[0]
        fake.set("a", finding("node.stacks.synced"), finding("key.node"))
        app.update_findings(a)
        await pilot.pause()
        shown, cleared = counts["show"], counts["clear"]
        assert shown > 0  # the first findings were drawn

        # The same rows again, newer data (a poll of a healthy node): nothing rebuilt.
        later = T0 + timedelta(seconds=1)
        fake.set(
            "a",
            finding("node.stacks.synced", observed_at=later),
            finding("key.node", observed_at=later),
        )
        for _ in range(5):
            app.update_findings(a)
        await pilot.pause()
        assert (counts["show"], counts["clear"]) == (shown, cleared)

        # A summary that changed is drawn: in its own pane only (a moving tip height must
        # not rebuild Backups, Aggregate key and Releases).
        fake.set("a", finding("node.stacks.synced", summary="3 blocks behind"), finding("key.node"))
        app.update_findings(a)
        await pilot.pause()
        assert counts["show"] == shown + 1

        # So is a status.
        shown = counts["show"]
        fake.set("a", finding("node.stacks.synced", Status.WARN, "3 blocks behind"))
        app.update_findings(a)
        assert counts["show"] > shown
        assert "WARN" in str(app.query_one("#nodes FindingsTable", DataTable).get_row_at(0)[0])


async def test_only_the_profile_on_screen_is_redrawn(counts: dict[str, int]) -> None:
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        b = fake.pipeline.profiles[1]
        shown = counts["show"]
        fake.set("b", finding("node.stacks.synced", Status.CRIT, "down"))
        app.update_findings(b)
        await pilot.pause()
        assert counts["show"] == shown
        # …but its status reaches the top bar, and switching to it draws it.
        assert "CRIT" in str(app.query_one("#topbar").render())
        app.select_profile(1)
        assert counts["show"] > shown


async def test_the_clock_does_not_rebuild_panes_and_ages_move_on_slowly(
    counts: dict[str, int],
) -> None:
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        a = fake.pipeline.profiles[0]
        # Ages above a minute: their text changes once a minute at most.
        fake.set("a", finding("node.stacks.synced", observed_at=T0 - timedelta(minutes=10)))
        app.update_findings(a)
        await pilot.pause()
        shown, bars, clocks = counts["show"], counts["topbar"], counts["clock"]
        for second in range(1, 30):
            fake.now = T0 + timedelta(seconds=second)
            app._tick()
        assert counts["show"] == shown
        # The clock repaints its own cells once a second; the words of the bar not at all.
        assert (counts["clock"] - clocks, counts["topbar"] - bars) == (29, 0)
        # The same second again: nothing changed, nothing repaints.
        app._tick()
        assert (counts["clock"] - clocks, counts["topbar"] - bars) == (29, 0)
        assert "09:00:29 UTC" in str(app.query_one("#clock").render())

        # A reading that turns stale is shown at once (not at the next age refresh).
        fake.set(
            "a",
            finding("node.stacks.synced", stale_at=fake.now + timedelta(seconds=1)),
        )
        app.update_findings(a)
        shown = counts["show"]
        fake.now += timedelta(seconds=2)
        app._tick()
        assert counts["show"] == shown + 1  # its pane only


async def test_evidence_is_of_the_newest_poll_even_when_no_row_changed(
    counts: dict[str, int],
) -> None:
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        a = fake.pipeline.profiles[0]
        fake.set("a", finding("node.stacks.synced"))
        app.update_findings(a)
        newer = finding("node.stacks.synced", observed_at=T0 + timedelta(seconds=30))
        fake.set("a", newer)
        app.update_findings(a)
        app.action_focus_pane("nodes")
        await pilot.pause()
        assert app.selected_finding() is newer


async def test_the_start_up_heap_is_frozen_once_the_first_frame_is_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import signer_tui.ui.app as app_module

    frozen: list[float] = []
    monkeypatch.setattr(app_module.gc, "freeze", lambda: frozen.append(1.0))
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert frozen == [1.0]


async def test_a_changed_summary_repaints_its_row_not_the_pane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes over SSH: one moving summary, one repainted row. Whole-widget repaints (the
    table, the pane's box, its detail line re-laid-out) were most of an idle console's
    output: `update_cell`, `border_subtitle =` and `Static.update` each repaint everything."""
    from textual.widget import Widget

    from signer_tui.ui.widgets.hints import HintBar
    from signer_tui.ui.widgets.quiet import QuietStatic

    whole: list[str] = []
    real = Widget.refresh

    def counting(self: Widget, *regions: Any, **kwargs: Any) -> Any:
        in_nodes = any(getattr(n, "id", None) == "nodes" for n in self.ancestors_with_self)
        if counting_on and in_nodes and not regions:
            whole.append(f"{type(self).__name__} layout={kwargs.get('layout', False)}")
        return real(self, *regions, **kwargs)

    counting_on = False
    monkeypatch.setattr(Widget, "refresh", counting)
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        a = fake.pipeline.profiles[0]
        rows = [finding("node.stacks.synced", summary="tip 100"), finding("node.bitcoind.up")]
        fake.set("a", *rows)
        app.update_findings(a)
        await pilot.pause()
        counting_on = True
        # The tip moved: one cell of one row.
        fake.set("a", finding("node.stacks.synced", summary="tip 101"), rows[1])
        app.update_findings(a)
        # Time passes within the same minute: ages on screen do not move, nothing repaints.
        for second in range(1, 20):
            fake.now = T0 + timedelta(seconds=second)
            app._tick()
        await pilot.pause()
        counting_on = False
        table = app.query_one("#nodes FindingsTable", DataTable)
        assert "tip 101" in str(table.get_row_at(0)[1])
        detail = app.query_one("#nodes .detail", QuietStatic)
        assert "tip 101" in str(detail.render())  # the highlighted row's detail followed
        # The detail line's text changed at its own height: repainted, never re-laid-out.
        assert whole == ["QuietStatic layout=False"], whole
        hints = app.query_one(HintBar)
        assert "quit" in str(hints.render())


async def test_the_top_bar_keeps_profile_statuses_until_a_finding_turns_stale() -> None:
    """The top bar reads every profile's status on every poll: it is kept, not recomputed,
    but a reading that goes stale still turns its profile UNKNOWN at that moment."""
    fake = Fake()
    app = app_of(fake)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        b = fake.pipeline.profiles[1]
        fake.set("b", finding("node.stacks.synced", stale_at=T0 + timedelta(seconds=5)))
        app.update_findings(b)
        calls = 0
        real = Finding.effective_status

        def counting(self: Finding, now: datetime) -> Status:
            nonlocal calls
            calls += 1
            return real(self, now)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Finding, "effective_status", counting)
            for second in range(1, 5):
                fake.now = T0 + timedelta(seconds=second)
                app._render_top(fake.now)
            assert calls == 0  # nothing changed, nothing recomputed
        assert app._profile_status("b", fake.now) is Status.OK
        fake.now = T0 + timedelta(seconds=6)
        app._tick()
        await pilot.pause()
        assert app._profile_status("b", fake.now) is Status.UNKNOWN
        assert "b UNKNOWN" in str(app.query_one("#topbar").render())
        # A clock that went back (a test's fake clock) never reuses the kept status.
        fake.now = T0 + timedelta(seconds=1)
        assert app._profile_status("b", fake.now) is Status.OK
