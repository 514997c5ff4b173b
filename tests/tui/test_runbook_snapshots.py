"""Snapshots of the runbook list and of a live-check step at 80x24, also written to
screenshots/ for the README. Time and run ids are fixed so the pictures are stable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from signer_tui.model import Evidence, Finding, Status
from signer_tui.runbooks import engine
from signer_tui.runbooks.engine import RunSession
from signer_tui.runbooks.store import RunsDir
from tests.runbooks.helpers import NOW, person, shipped
from tests.tui.runbook_helpers import do_step, every_finding_ok, open_runbook, runbook_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(autouse=True)
def _fixed_run_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        engine, "new_run_id", lambda name, now: f"{now:%Y%m%d-%H%M}-{name[:20]}-4e1f"
    )


async def save(pilot: Any, name: str) -> None:
    app = pilot.app
    app.clear_notifications()
    await pilot.pause()
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / f"{name}.svg").write_text(app.export_screenshot(title=f"signer-tui — {name}"))


def test_runbook_list(tmp_path: Path, snap_compare: Any) -> None:
    runs = RunsDir(tmp_path / "runs").check(write=True)
    session = RunSession.start(
        runs,
        shipped("signer-upgrade"),
        person("alice"),
        clock=lambda: NOW,
    )
    for result in ("passed", "done", "done", "done", "done", "passed", "succeeded", "done"):
        session.record(result, "ok")
    session.request_approval()
    app = runbook_app(tmp_path, every_finding_ok(), identity=person("bob", 1001))

    async def run_before(pilot: Any) -> None:
        await pilot.press("g")
        await pilot.pause()
        for _ in range(10):
            await pilot.press("down")  # signer-upgrade
        await pilot.pause()
        await save(pilot, "runbooks-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_live_check_step(tmp_path: Path, snap_compare: Any) -> None:
    live = [f for f in every_finding_ok() if f.id != "node.stacks.upgrade_window"]
    pox = Evidence(
        "stacks node",
        "GET http://127.0.0.1:20443/v2/pox",
        NOW,
        status=200,
        decoded="cycle 118, -38 blocks until the prepare phase",
    )
    window = Finding(
        "node.stacks.upgrade_window",
        Status.WARN,
        "inside the prepare phase of cycle 119; the new cycle starts in 62 blocks: do not upgrade",
        evidence=(pox,),
        observed_at=NOW,
    )
    live.append(window)
    app = runbook_app(tmp_path, live)

    async def run_before(pilot: Any) -> None:
        await open_runbook(pilot, "signer-upgrade")
        for _ in range(5):
            await do_step(pilot)
        await pilot.pause()
        await save(pilot, "runbook-step-80x24")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
