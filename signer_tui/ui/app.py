"""The console: four panes of findings per signer profile, evidence, timeline and help.

Polling is the pipeline's (`signer_tui.pipeline.scheduler.PollLoop`, no Textual in it): one
worker runs the loop, which keeps one due time per source, never overlaps two polls of a
source, and tells the App about each finished poll (`PollCompleted`). Failures arrive as
observations and become UNKNOWN/CRIT rows with the error title.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Grid, Horizontal
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable
from textual.worker import Worker, WorkerState

from signer_tui.model import Finding, Observation, Status, age_of, format_age, utcnow
from signer_tui.pipeline.build import Pipeline
from signer_tui.pipeline.collector import Job, ProfileCollector
from signer_tui.pipeline.scheduler import PollLoop
from signer_tui.sources.catalog import BACKUPS
from signer_tui.timeline import Timeline
from signer_tui.ui import helptext, keys
from signer_tui.ui.screens.evidence import EvidenceScreen
from signer_tui.ui.screens.timeline import TimelineScreen
from signer_tui.ui.theme import THEMES
from signer_tui.ui.widgets.hints import HintBar
from signer_tui.ui.widgets.pane import SPARKLINES, FindingsPane
from signer_tui.ui.widgets.topbar import Clock, TopBar, profile_summary

# (area, title, widget id): from the one table of panes and keys (signer_tui.ui.keys).
PANES = tuple((area, title, pane_id) for area, title, pane_id, _key in keys.PANES)

# No key for this long: the next one is "coming back to look" (see `SignerApp.looked`).
IDLE_SECONDS = 60.0

# Ages in the panes move on this often (seconds) when nothing else changed.
AGE_REFRESH = 5.0
FIRST_THREAD_POLLS_AFTER = 0.3

# Areas without a pane of their own are shown in Node health (e.g. internal errors).
FALLBACK_AREA = "node"


class PollCompleted(Message):
    """One poll of one source finished (successfully or not); already recorded."""

    def __init__(self, job: Job, observation: Observation[Any]) -> None:
        super().__init__()
        self.job = job
        self.profile = job.collector.name
        self.observation = observation


@dataclass
class DemoHooks:
    """What `signer-tui demo` adds: incident injection."""

    incidents: list[tuple[str, str]]  # (name, description)
    inject: Callable[[str], str]  # returns a message to show


class SignerCommands(Provider):
    """Every action of the console, for the command palette, with the user's keys."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, SignerApp)
        commands: list[tuple[str, str, Callable[[], Any]]] = []
        for key in keys.KEYS:
            if not key.palette or (key.demo_only and app.demo is None):
                continue
            shown = app.key_display(key.id)
            commands.append(
                (key.palette, f"{key.description} ({shown})", partial(app.run_action, key.action))
            )
        if len(app.collectors) > 1:
            shown = app.key_display("next-profile")
            for index, collector in enumerate(app.collectors):
                commands.append(
                    (
                        f"Switch to profile {collector.name}",
                        f"{collector.network} ({shown} cycles)",
                        partial(app.select_profile, index),
                    )
                )
        if app.demo is not None:
            for name, description in app.demo.incidents:
                commands.append(
                    (f"Demo incident: {name}", description, partial(app.inject_incident, name))
                )
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class SignerApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "signer-tui"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {SignerCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = list(keys.bindings())

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        theme: str = "signer-dark",
        keymap: dict[str, str] | None = None,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
        demo: DemoHooks | None = None,
        autostart: bool = True,
        watch_tty: bool = True,
        verify_request: Callable[[ProfileCollector], Any] | None = None,
    ) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.collectors = pipeline.profiles
        collectors = self.collectors
        self.clock = clock
        self.demo = demo
        self.autostart = autostart
        self.verify_request = verify_request
        # Served to a browser (textual serve / demo --web) there is no terminal to watch.
        self.watch_tty = watch_tty and "WebDriver" not in os.environ.get("TEXTUAL_DRIVER", "")
        self.state_dir = state_dir
        self.current = 0
        self.findings: dict[str, list[Finding]] = {c.name: [] for c in collectors}
        # name -> (the findings it was computed from, worst status, computed at, valid until)
        self._statuses: dict[str, tuple[list[Finding], Status, datetime, datetime | None]] = {}
        self.timeline = Timeline(
            state_dir / "timeline.jsonl" if state_dir else None, background=True
        )
        self.poll_loop: PollLoop | None = None
        self._loop_worker: Worker[None] | None = None
        self._shutting_down = False
        # What the panes show now, to redraw only what changed (see update_findings, _tick).
        # pane id -> (rows as shown, the same with their age text); see _render_panes.
        self._pane_views: dict[str, tuple[View, View]] = {}
        self._ages_shown_at = 0.0
        self._unpolled: set[int] = set()  # jobs not polled yet (see _poll_completed)
        self._series_shown: tuple[str, int, str] | None = None
        for custom in THEMES:
            self.register_theme(custom)
        self.theme = theme
        # Animations cost bandwidth over SSH and help nobody at 3 a.m.
        self.animation_level = "none"
        self.user_keymap = dict(keymap or {})
        self.last_key_at: float | None = None
        self._last_key_event: events.Key | None = None
        self._returned = False
        self.seen_statuses: dict[tuple[str, str], str] = {}
        if keymap:
            self.set_keymap(keymap)

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="top"):
            yield TopBar(id="topbar")
            yield Clock(id="clock")
        with Grid(id="panes"):
            for area, title, pane_id in PANES:
                yield FindingsPane(area, title, helptext.PANES[area], id=pane_id)
        yield HintBar(id="hints")

    def on_mount(self) -> None:
        self.query_one("#backups FindingsTable").focus()
        self.render_all()
        self.set_interval(1.0, self._tick)
        if self.watch_tty:
            self.set_interval(5.0, self._check_tty)
        # A dropped SSH session (SIGHUP) or a service manager (SIGTERM) ends the console
        # cleanly, so whoever started it can still tidy up.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError, NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.exit, 0)
        # First paint, then the first polls.
        self.call_after_refresh(self._first_frame)

    def _first_frame(self) -> None:
        # Everything alive now (modules, widgets, the config) lives as long as the console:
        # out of the collector's sight, a full collection no longer walks it (issue 16).
        gc.freeze()
        if self.autostart:
            self.start_polling()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Keep theme switching and screenshots; our own provider lists the console's actions.
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Screenshot", "Keys"):
                yield command

    @property
    def collector(self) -> ProfileCollector:
        return self.collectors[self.current]

    def is_wide(self) -> bool:
        return self.size.width >= 120

    # -- polling -------------------------------------------------------------------------

    def start_polling(self) -> None:
        if self.poll_loop is not None:
            return
        # The loop schedules on the App's clock when a test gives it one (simulated minutes);
        # otherwise on the monotonic clock, which wall-clock jumps cannot disturb.
        real_time = self.clock is utcnow
        clock = time.monotonic if real_time else lambda: self.clock().timestamp()
        self._unpolled = {id(job) for job in self.pipeline.jobs()}
        # The first polls of the thread-bound sources (DB, backups: psycopg and pg_restore
        # load then) wait a moment: started together, they held the GIL while the HTTP
        # polls' answers waited, and every pane said "waiting" ~0.5 s longer.
        hold = FIRST_THREAD_POLLS_AFTER if real_time else 0.0
        self.poll_loop = PollLoop(
            self.pipeline.jobs(), self._polled, clock=clock, hold_blocking=hold
        )
        self._loop_worker = self.run_worker(
            self.poll_loop.run(),
            name="polls",
            group="polls",
            description="the poll loop of every source",
            exit_on_error=False,
        )

    def _polled(self, job: Job, observation: Observation[Any]) -> None:
        if not self._shutting_down:
            self.post_message(PollCompleted(job, observation))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The poll loop never ends by itself: if it does, a bug did it — say so, loudly."""
        if event.worker is not self._loop_worker or self._shutting_down:
            return
        if event.state is WorkerState.ERROR:
            logging.getLogger("signer_tui").error("poll loop failed", exc_info=event.worker.error)
            self.notify(
                f"Polling stopped: {event.worker.error!r}. This is a bug; the log file in the "
                "state directory has the traceback. Restart the console.",
                severity="error",
                timeout=30,
            )

    @on(PollCompleted)
    def _poll_completed(self, message: PollCompleted) -> None:
        if self._unpolled:
            self._unpolled.discard(id(message.job))
            if not self._unpolled:
                # Every source has answered once: what the first polls imported and built
                # (psycopg, parsers, clients, pools) stays too; a full collection no longer
                # walks it (at 50 profiles a gen-2 pass took 0.4 s without this).
                gc.freeze()
        # A shared feed changes every profile's findings: the top bar (which reads them all)
        # is rendered once for the batch, not once per profile (quadratic at 50 profiles).
        # A poll that ends while the console is being torn down finds no widgets: nothing to do.
        with contextlib.suppress(NoMatches):
            for collector in self.pipeline.owner(message.job):
                self.update_findings(collector, top=False)
            self._render_top(self.clock())

    def update_findings(self, collector: ProfileCollector, *, top: bool = True) -> None:
        """New findings of one profile: the timeline always hears them; the panes are shown
        again only when the profile is on screen and a row changed (id, status, summary), so
        a poll that brings nothing new redraws nothing but the top bar's words if they move."""
        now = self.clock()
        findings = collector.findings(now)
        before = self.findings.get(collector.name)
        self.findings[collector.name] = findings
        self.timeline.observe(collector.name, findings, now)
        if top:
            self._render_top(now)
        if collector is not self.collector:
            return
        if before is None or _rows_of(before) != _rows_of(findings):
            self._render_panes(now)
        self._show_series()

    def refresh_sources(self, *, force: bool = False, jobs: list[Job] | None = None) -> int:
        """Poll now (never a second poll of a source that is running). Returns how many."""
        if self.poll_loop is None:
            return 0
        return len(self.poll_loop.refresh(force=force, jobs=jobs))

    def action_refresh(self) -> None:
        moved = self.refresh_sources()
        total = len(self.pipeline.jobs())
        kept = "" if moved >= total else " (R: feeds too)"
        self.notify(f"Refreshing {moved}/{total} sources{kept}", timeout=2)

    def action_refresh_all(self) -> None:
        moved = self.refresh_sources(force=True)
        self.notify(f"Refreshing {moved} sources, feeds too", timeout=2)

    # -- rendering -----------------------------------------------------------------------

    def _tick(self) -> None:
        # Ages and staleness change with time even when nothing is polled: a status that
        # turns stale is shown at once, ages every AGE_REFRESH seconds (where their text moved).
        now = self.clock()
        with contextlib.suppress(NoMatches):  # the console is being torn down
            self._render_top(now)
            self._render_panes(now, ages=time.monotonic() - self._ages_shown_at >= AGE_REFRESH)

    def render_all(self, panes: bool = True) -> None:
        now = self.clock()
        self._render_top(now)
        if panes:
            self._render_panes(now, force=True)
            self._show_series()

    def _render_top(self, now: datetime) -> None:
        statuses = [(c.name, self._profile_status(c.name, now)) for c in self.collectors]
        note = "DEMO" if self.demo is not None else ""
        summary = profile_summary(self.findings.get(self.collector.name, []), now)
        self.query_one(TopBar).render_bar(statuses, self.current, now, note, summary)

    def _profile_status(self, name: str, now: datetime) -> Status:
        """A profile's worst status, kept until its findings change or one of them turns
        stale: the top bar reads every profile's on every poll (2,000 findings at 50)."""
        findings = self.findings[name]
        kept = self._statuses.get(name)
        if (
            kept is not None
            and kept[0] is findings
            and kept[2] <= now
            and (kept[3] is None or now <= kept[3])
        ):
            return kept[1]
        status = Status.worst(f.effective_status(now) for f in findings)
        moments = [m for f in findings if (m := f.stale_moment) is not None and m >= now]
        self._statuses[name] = (findings, status, now, min(moments, default=None))
        return status

    def _render_panes(self, now: datetime, *, force: bool = False, ages: bool = False) -> None:
        """Show again each pane whose rows read differently now (or every pane: `force`).
        A pane whose findings did not change is not touched: its table is not rebuilt."""
        findings = self.findings.get(self.collector.name, [])
        if ages:
            self._ages_shown_at = time.monotonic()
        wide = self.is_wide()
        pane_areas = {area for area, _t, _i in PANES}
        changed = self.changed_since_look(findings, now)
        for area, _title, pane_id in PANES:
            mine = [
                f
                for f in findings
                if f.area == area or (area == FALLBACK_AREA and f.area not in pane_areas)
            ]
            view = _view_of(mine, now, ages=False)
            aged = _view_of(mine, now, ages=True)
            shown = self._pane_views.get(pane_id)
            same = shown is not None and view == shown[0] and (not ages or aged == shown[1])
            pane = self.query_one(f"#{pane_id}", FindingsPane)
            marks = {f.id for f in mine} & changed
            if same and not force and marks == pane.changed:
                continue
            self._pane_views[pane_id] = (view, aged)
            pane.changed = marks
            pane.show(mine, now, wide)
        self.update_hints()

    def _show_series(self) -> None:
        """The Node health sparklines, redrawn only when a series moved."""
        series = {name: self.collector.series_values(name) for name, _label in SPARKLINES}
        key = (self.collector.name, self.size.width, repr(series))
        if key == self._series_shown:
            return
        self._series_shown = key
        for _area, _title, pane_id in PANES:
            self.query_one(f"#{pane_id}", FindingsPane).show_series(series)

    def on_resize(self) -> None:
        self._series_shown = None
        self.render_all()

    # -- actions -------------------------------------------------------------------------

    def focused_pane(self) -> FindingsPane | None:
        widget = self.focused
        while widget is not None:
            if isinstance(widget, FindingsPane):
                return widget
            widget = widget.parent  # type: ignore[assignment]
        return None

    def action_focus_pane(self, pane_id: str) -> None:
        self.query_one(f"#{pane_id} FindingsTable").focus()

    def action_jump_worst(self) -> None:
        """Focus the pane holding the worst finding of the profile and put the cursor on it."""
        panes = list(self.query(FindingsPane))
        best: tuple[int, int, FindingsPane, Finding] | None = None
        for order, pane in enumerate(panes):
            if pane.table.findings and pane.now is not None:
                top = pane.table.findings[0]  # panes sort worst first
                rank = top.effective_status(pane.now).rank
                if best is None or rank > best[0]:
                    best = (rank, order, pane, top)
        if best is None:
            self.notify("Nothing to jump to yet: wait for the first poll.", timeout=2)
            return
        _rank, _order, pane, finding = best
        pane.table.focus()
        pane.select_finding(finding.id)
        self.update_hints()

    # -- "what changed since I last looked" ------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        # A key reaches the App first and again as it bubbles back up: count it once.
        if isinstance(event, events.Key) and event is not self._last_key_event:
            self._last_key_event = event
            self.looked(time.monotonic())
        await super().on_event(event)

    def looked(self, at: float) -> None:
        """A key press. The baseline is what the screen showed at the last key press; the
        first key after an idle spell keeps it, so the marks survive the look that comes back
        to them (the next key clears them)."""
        idle = self.last_key_at is not None and at - self.last_key_at > IDLE_SECONDS
        self.last_key_at = at
        self._returned = idle
        if idle:
            return
        now = self.clock()
        self.seen_statuses = {
            (c.name, f.id): f.effective_status(now).value
            for c in self.collectors
            for f in self.findings[c.name]
        }
        if any(pane.changed for pane in self.query(FindingsPane)):
            self.render_all()

    def changed_since_look(self, findings: list[Finding], now: datetime) -> set[str]:
        """Rows whose status differs from the last look, shown only once the operator has
        been away (idle) and on the first key back."""
        if not self.seen_statuses or self.last_key_at is None:
            return set()
        away = time.monotonic() - self.last_key_at > IDLE_SECONDS
        if not (away or self._returned):
            return set()
        name = self.collector.name
        return {
            f.id
            for f in findings
            if self.seen_statuses.get((name, f.id)) != f.effective_status(now).value
        }

    def key_display(self, key_id: str) -> str:
        """The first key bound to `key_id`, as the user's keymap has it ('x', 'F4')."""
        chosen = self.user_keymap.get(key_id) or keys.by_id(key_id).keys
        first = chosen.split(",")[0].strip()
        return self.get_key_display(Binding(first, "", ""))

    def update_hints(self) -> None:
        pane = self.focused_pane()
        finding = pane.selected() if pane else None
        status = finding.effective_status(self.clock()) if finding is not None else None
        with contextlib.suppress(Exception):
            self.query_one(HintBar).show_hints(self, status)

    def on_descendant_focus(self) -> None:
        self.update_hints()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.update_hints()

    def selected_finding(self) -> Finding | None:
        """The highlighted row's finding as of the newest poll (a pane keeps the objects it
        was last shown, which a poll that changed no row does not replace)."""
        pane = self.focused_pane()
        shown = pane.selected() if pane else None
        if shown is None:
            return None
        newest = self.findings.get(self.collector.name, [])
        return next((f for f in newest if f.id == shown.id), shown)

    def action_evidence(self) -> None:
        finding = self.selected_finding()
        if finding is None:
            self.notify("Nothing selected yet: wait for the first poll.", timeout=3)
            return
        self.push_screen(EvidenceScreen(finding, self.clock()))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table.parent, FindingsPane):
            self.action_evidence()

    def action_timeline(self) -> None:
        export_dir = self.state_dir or Path.cwd()
        self.push_screen(TimelineScreen(self.timeline, export_dir))

    def action_help(self) -> None:
        pane = self.focused_pane()
        area = pane.area if pane else None
        # Imported on first use: the Markdown widget (markdown-it) is not needed for first paint.
        from signer_tui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(helptext.help_markdown(self, area)))

    def select_profile(self, index: int) -> None:
        if not self.collectors:
            return
        self.current = index % len(self.collectors)
        self.render_all()
        self.notify(f"Profile {self.collector.name} ({self.collector.network})", timeout=2)

    def action_next_profile(self) -> None:
        self.select_profile(self.current + 1)

    def action_previous_profile(self) -> None:
        self.select_profile(self.current - 1)

    def action_copy(self) -> None:
        finding = self.selected_finding()
        if finding is not None:
            from signer_tui.ui.screens.evidence import evidence_text

            self.copy_to_clipboard(evidence_text(finding, self.clock()))
            self.notify("Evidence copied to the clipboard (OSC 52).", timeout=3)

    def action_runbooks(self) -> None:
        from signer_tui.ui.screens.runbooks import open_runbooks

        open_runbooks(self)

    def action_finding_runbook(self) -> None:
        """The runbook that handles the highlighted row (e.g. a CRIT one)."""
        from signer_tui.ui.screens.runbooks import open_for_finding

        open_for_finding(self, self.selected_finding())

    def action_verify(self) -> None:
        """Restore-test the newest backup of the current profile in a scratch PostgreSQL
        (a pg_dump file, or a pgBackRest/Barman set restored by the tool itself)."""
        collector = self.collector
        profile = collector.profile
        backups = profile.backups if profile is not None else None
        if self.verify_request is None or backups is None:
            self.notify(
                "Verification from the console needs a backups section in this profile "
                "(kind pg_dump, pgbackrest or barman).",
                severity="warning",
                timeout=8,
            )
            return
        from signer_tui.ui.screens.verify import VerifyScreen

        def done(_outcome: object) -> None:
            # Re-read backups (and the history the verification appended to) right away.
            job = collector.job(BACKUPS)
            self.refresh_sources(jobs=[job] if job is not None else [])

        self.push_screen(VerifyScreen(self.verify_request(collector)), done)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "incident":
            return self.demo is not None
        if action in ("next_profile", "previous_profile"):
            return len(self.collectors) > 1
        return True

    def action_incident(self) -> None:
        if self.demo is None:
            return
        from signer_tui.ui.screens.incident import IncidentScreen

        def chosen(name: str | None) -> None:
            if name:
                self.inject_incident(name)

        self.push_screen(IncidentScreen(self.demo.incidents), chosen)

    def inject_incident(self, name: str) -> None:
        if self.demo is None:
            return
        message = self.demo.inject(name)
        self.notify(message, timeout=4)
        self.action_refresh()

    # -- lifecycle -----------------------------------------------------------------------

    def _check_tty(self) -> None:
        """Exit when the terminal went away (SSH dropped) so no orphan keeps polling."""
        try:
            alive = os.isatty(sys.__stdout__.fileno()) if sys.__stdout__ else False
        except (ValueError, OSError):
            alive = False
        if not alive:
            self.exit(0)

    async def on_unmount(self) -> None:
        self._shutting_down = True
        if self.poll_loop is not None:
            await self.poll_loop.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pipeline.aclose(), 2.0)
        self.timeline.close()


View = tuple[tuple[str, ...], ...]


def _rows_of(findings: list[Finding]) -> list[tuple[str, Status, str]]:
    """What a poll can change in a row: its id, status and summary."""
    return [(f.id, f.status, f.summary) for f in findings]


def _view_of(findings: list[Finding], now: datetime, *, ages: bool) -> View:
    """The panes' rows as shown at `now`: statuses as they read then (stale or not), the
    age text too when `ages`."""
    rows = []
    for f in findings:
        row: tuple[str, ...] = (
            f.id,
            f.effective_status(now).value,
            str(f.is_stale(now)),
            f.summary,
        )
        if ages:
            row = (*row, format_age(age_of(f.data_time, now)))
        rows.append(row)
    return tuple(rows)
