"""Runbooks in the console (Pilot): every shipped runbook walked end to end, a gate that
fails and branches, a failed step that branches, approvals, `b` from a CRIT row, and a run
resumed after the console process was killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import TextArea

from signer_tui.model import Status
from signer_tui.runbooks.audit import AuditLog
from signer_tui.runbooks.engine import RunSession
from signer_tui.runbooks.store import RunsDir
from signer_tui.ui.screens.prompt import PromptScreen
from signer_tui.ui.screens.runbooks import RunbooksScreen
from tests.runbooks.helpers import finding, person, shipped
from tests.tui.runbook_helpers import (
    SHIPPED,
    do_step,
    every_finding_ok,
    open_runbook,
    runbook_app,
    step_screen,
    verify_double,
    wait_until,
)


@pytest.mark.parametrize("name", SHIPPED)
async def test_every_runbook_walks_end_to_end(tmp_path: Path, name: str) -> None:
    calls: list[str] = []
    app = runbook_app(tmp_path, every_finding_ok(), actions=verify_double(calls))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, name)
        done: list[str] = []
        while screen.step is not None:
            done.append(await do_step(pilot))
            assert len(done) < 40, done
        assert screen.session.state.status == "completed", done
        assert screen.session.state.profile == "mainnet"
        assert "Run completed" in str(screen.query_one("#step-title").render())
    runbook = shipped(name)
    actions = [s for s in runbook.steps if s.kind == "action"]
    if actions:
        assert calls, "the action ran through the console's registry"
    log = AuditLog(tmp_path / "runs")
    assert log.verify().ok
    results = [e for e in log.entries() if e.get("event") == "step"]
    assert results and all(e["user"]["person"] in ("alice", "approver0") for e in results)


async def test_a_live_check_gates_and_branches(tmp_path: Path) -> None:
    live = every_finding_ok()
    app = runbook_app(tmp_path, live)
    crit = finding("backup.freshness", Status.CRIT, "newest dump 30 h old")
    app.findings["mainnet"] = [crit if f.id == crit.id else f for f in live]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, "daily-backup-verification")
        shown = str(screen.query_one("#step-live").render())
        assert "CRIT" in shown and "newest dump 30 h old" in shown
        assert "test source: GET /backup.freshness" in shown  # evidence inline
        assert "FAIL" in str(screen.query_one("#step-gate").render())
        # The problem clears while the step is on screen: r re-checks, the gate passes.
        app.findings["mainnet"] = live
        await pilot.press("r")
        assert "PASS" in str(screen.query_one("#step-gate").render())
        app.findings["mainnet"] = [crit if f.id == crit.id else f for f in live]
        await pilot.press("r", "enter")
        await pilot.pause()
        assert screen.session.state.current == "no-fresh-dump"
        recorded = screen.session.state.results()[-1]
        assert recorded["result"] == "failed" and recorded["route"] == "goto no-fresh-dump"
        assert any(
            f["id"] == "backup.freshness" and f["status"] == "CRIT" for f in recorded["findings"]
        )
        await pilot.press("d")  # took a dump by hand: back to the restore test
        await pilot.pause()
        assert screen.session.state.current == "restore-test"


async def test_a_failed_step_branches_with_its_note(tmp_path: Path) -> None:
    app = runbook_app(tmp_path, every_finding_ok())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, "firewall-review")
        for _ in range(4):
            await do_step(pilot)
        assert screen.session.state.current == "verdict"
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("ctrl+s")  # empty: refused
        assert isinstance(app.screen, PromptScreen)
        # A pasted, multi-line scan result stays whole (an Input would keep one line).
        app.screen.query_one(TextArea).insert("9184/tcp open\n8801/tcp open")
        await pilot.press("ctrl+s")
        await pilot.pause()
        screen = step_screen(app)
        assert screen.session.state.current == "fix"
        last = screen.session.state.results()[-1]
        assert (last["step"], last["result"]) == ("verdict", "failed")
        assert last["note"] == "9184/tcp open\n8801/tcp open"
        await pilot.press("d")
        await pilot.pause()
        assert screen.session.state.status == "stopped"


async def test_a_failed_action_branches(tmp_path: Path) -> None:
    calls: list[str] = []
    app = runbook_app(tmp_path, every_finding_ok(), actions=verify_double(calls, ok=False))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, "daily-backup-verification")
        await do_step(pilot)
        await do_step(pilot)
        await do_step(pilot)  # the action fails
        assert calls == ["verify-backup"]
        assert screen.session.state.current == "restore-failed"
        assert "mismatch" in screen.session.state.results()[-1]["note"]


async def test_an_action_the_console_cannot_run_becomes_a_confirmation(tmp_path: Path) -> None:
    from signer_tui.runbooks.actions import ActionRegistry

    app = runbook_app(tmp_path, every_finding_ok(), actions=ActionRegistry())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, "daily-backup-verification")
        await do_step(pilot)
        await do_step(pilot)
        assert "(by hand)" in str(screen.query_one("#step-header").render())
        await pilot.press("d")  # done by hand needs a note: the prompt opens
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        for key in "ok":
            await pilot.press(key)
        await pilot.press("f9")
        await pilot.pause()
        assert screen.session.state.results()[-1]["result"] == "done"
        assert screen.session.state.current == "verification-recorded"


async def test_b_on_a_crit_row_opens_its_runbook(tmp_path: Path) -> None:
    live = [finding("node.signer.observing", Status.CRIT, "signer saw 0 of 40 new blocks")]
    app = runbook_app(tmp_path, live)
    async with app.run_test(size=(80, 24)) as pilot:
        app.render_all()
        await pilot.press("3")  # Node health pane; the CRIT row is on top
        await pilot.press("b")
        await pilot.pause()
        listing = app.screen
        assert isinstance(listing, RunbooksScreen)
        table = listing.query_one("#rb-table")
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert key == "event-observer-stalled"
        await pilot.press("enter")
        await pilot.pause()
        assert step_screen(app).session.runbook.name == "event-observer-stalled"


def messages_into(messages: list[str]) -> Any:
    def notify(message: str, **_kwargs: Any) -> None:
        messages.append(str(message))

    return notify


async def test_approvals_from_the_console_list(tmp_path: Path) -> None:
    runs = RunsDir(tmp_path / "runs").check(write=True)
    session = RunSession.start(runs, shipped("access-review"), person("alice"))
    for _ in range(6):
        session.record("done", "checked")
    session.request_approval()
    for who, expect in (("alice", "alice started run"), ("bob", "approved")):
        app = runbook_app(tmp_path, [], identity=person(who, 1001 if who == "bob" else 1000))
        messages: list[str] = []
        async with app.run_test(size=(80, 24)) as pilot:
            app.notify = messages_into(messages)  # type: ignore[method-assign]
            await pilot.press("g")
            await pilot.pause()
            await pilot.press("tab", "a")
            await pilot.pause()
            if who == "bob":
                assert isinstance(app.screen, PromptScreen)
                await pilot.press("enter")
                await pilot.pause()
        assert any(expect in m for m in messages), messages
    state = session.refresh()
    assert state.current == "done" and state.results()[-1]["approved_by"] == ["bob"]


KILLED = """\
import asyncio, os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.tui.runbook_helpers import runbook_app, every_finding_ok, open_runbook, do_step

async def main():
    app = runbook_app(Path({tmp!r}), every_finding_ok())
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runbook(pilot, "node-down-or-lagging")
        await do_step(pilot)
        await do_step(pilot)
        print("two steps done", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no clean exit, no pause entry

asyncio.run(main())
"""


async def test_a_run_resumes_after_the_console_was_killed(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    script = tmp_path / "killed.py"
    script.write_text(KILLED.format(root=root, tmp=str(tmp_path)))
    env = {**os.environ, "PYTHONPATH": root}
    killed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "two steps done" in killed.stdout
    log = AuditLog(tmp_path / "runs")
    events = [e["event"] for e in log.entries()]
    assert events == ["run-start", "step", "step"]  # killed: nothing after the two steps

    app = runbook_app(tmp_path, every_finding_ok())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        listing = app.screen
        assert isinstance(listing, RunbooksScreen)
        assert [r.current for r in listing.open_runs] == ["signer"]
        await pilot.press("tab", "enter")  # the open run: resume it
        await pilot.pause()
        screen = step_screen(app)
        assert screen.step is not None and screen.step.id == "signer"
        while screen.step is not None:
            await do_step(pilot)
        assert screen.session.state.status == "completed"
    events = [e["event"] for e in log.entries()]
    assert events[3] == "resume" and events[-1] == "run-end"
    assert log.verify().ok
    assert json.loads(log.path.read_text().splitlines()[-1])["result"] == "completed"


async def test_the_list_warns_when_the_record_was_altered(tmp_path: Path) -> None:
    runs = RunsDir(tmp_path / "runs").check(write=True)
    session = RunSession.start(runs, shipped("firewall-review"), person("alice"))
    session.record("done", "nothing listening")
    runs.audit.path.write_text(
        runs.audit.path.read_text().replace("nothing listening", "all closed")
    )
    app = runbook_app(tmp_path, [])
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g")
        await pilot.pause()
        title = str(app.screen.query_one("#rb-runs-title").render())
        assert "RECORD NOT INTACT" in title and "Open runs (1, 0 waiting" in title


async def test_a_cancelled_action_records_nothing(tmp_path: Path) -> None:
    import threading

    from signer_tui.runbooks.actions import ActionRegistry, ActionResult

    started = threading.Event()
    registry = ActionRegistry()

    def slow(progress: Any, cancel: threading.Event) -> ActionResult:
        started.set()
        cancel.wait(10)
        return ActionResult(False, "cancelled")

    registry.register("verify-backup", slow)
    app = runbook_app(tmp_path, every_finding_ok(), actions=registry)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runbook(pilot, "daily-backup-verification")
        await do_step(pilot)
        await do_step(pilot)
        await pilot.press("enter")
        await wait_until(pilot, started.is_set, "the action to start")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.busy, "the action to stop")
        await pilot.pause()
        assert screen.session.state.current == "restore-test"
        assert screen.session.state.results()[-1]["step"] == "size-and-gaps"
        assert isinstance(app.screen, type(screen))  # Esc cancelled; it did not leave
