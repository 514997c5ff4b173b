"""A console wired for runbook tests: one profile whose findings the test sets, a runs
directory in tmp, a verify-backup double, and Pilot helpers that walk a step."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signer_tui.config import Settings
from signer_tui.model import Finding, Status
from signer_tui.pipeline.build import Pipeline
from signer_tui.pipeline.collector import ProfileCollector, SharedCollector
from signer_tui.runbooks.actions import ActionRegistry, ActionResult
from signer_tui.runbooks.identity import Identity
from signer_tui.runbooks.loader import PACKAGE_DIR
from signer_tui.ui.app import SignerApp
from signer_tui.ui.screens.runbook import RunbookScreen
from signer_tui.ui.screens.runbooks import attach
from tests.runbooks.helpers import NOW, finding, person

SHIPPED = sorted(p.stem for p in PACKAGE_DIR.glob("*.yaml"))


def every_finding_ok() -> list[Finding]:
    """One OK finding for every id any shipped runbook checks."""
    import yaml

    ids: set[str] = set()
    for path in PACKAGE_DIR.glob("*.yaml"):
        for step in yaml.safe_load(path.read_text())["steps"]:
            ids.update(step.get("findings", []))
    return [finding(i, Status.OK) for i in sorted(ids)]


def verify_double(calls: list[str], ok: bool = True) -> ActionRegistry:
    """verify-backup stand-in: the real one (tests/verify) restores into PostgreSQL."""
    registry = ActionRegistry()

    def verify(progress: Callable[[str, float | None], None], _cancel: Any) -> ActionResult:
        progress("restore: 12 of 12 entries", 1.0)
        calls.append("verify-backup")
        if ok:
            return ActionResult(True, "verified: the dump's key equals the key on chain")
        return ActionResult(False, "mismatch: the dump's key differs")

    registry.register("verify-backup", verify)
    return registry


def runbook_app(
    tmp: Path,
    findings: list[Finding],
    *,
    identity: Identity | None = None,
    actions: ActionRegistry | None = None,
) -> SignerApp:
    settings = Settings.model_validate({"signers": [{"name": "mainnet", "network": "mainnet"}]})
    shared = SharedCollector("shared", settings)
    profile = ProfileCollector("mainnet", settings, profile=settings.signers[0], shared=shared)
    app = SignerApp(
        Pipeline([profile], shared),
        autostart=False,
        watch_tty=False,
        state_dir=tmp / "state",
        clock=lambda: NOW,
    )
    app.findings["mainnet"] = findings
    attach(
        app,
        runs_dir=tmp / "runs",
        findings=lambda: list(app.findings["mainnet"]),
        actions=actions or verify_double([]),
        identity=identity or person("alice"),
        user_dir=tmp / "user-runbooks",
    )
    return app


async def wait_until(pilot: Any, done: Callable[[], bool], what: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def step_screen(app: SignerApp) -> RunbookScreen:
    screen = app.screen
    assert isinstance(screen, RunbookScreen), type(screen).__name__
    return screen


async def open_runbook(pilot: Any, name: str) -> RunbookScreen:
    """g, move to the runbook, Enter: a new run on its step screen."""
    from signer_tui.ui.screens.runbooks import RunbooksScreen

    await pilot.press("g")
    await pilot.pause()
    listing = pilot.app.screen
    assert isinstance(listing, RunbooksScreen)
    for _ in range(SHIPPED.index(name)):
        await pilot.press("down")
    await pilot.press("enter")
    await pilot.pause()
    return step_screen(pilot.app)


async def do_step(pilot: Any, approver: Identity | None = None) -> str:
    """Do the current step the ordinary way; returns what was done."""
    from signer_tui.runbooks.engine import RunSession

    screen = step_screen(pilot.app)
    step = screen.step
    assert step is not None
    before = len(screen.session.state.entries)
    kind = step.kind
    if kind in ("text", "check"):
        await pilot.press("enter")
    elif kind == "command":
        await pilot.press("y")
        await pilot.press("d")
    elif kind == "confirm":
        await pilot.press("d")
    elif kind == "action":
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: (
                not screen.busy
                and screen.session.state.results()
                and screen.session.state.results()[-1]["step"] == step.id
            ),
            f"action {step.action}",
        )
    elif kind == "approval":
        await pilot.press("enter")
        await pilot.pause()
        assert screen.session.state.status == "waiting"
        other = RunSession.open(
            screen.session.runs, screen.session.run_id, approver or person("bob", 1001)
        )
        for index in range(step.approvers):
            who = approver or person(f"approver{index}", 2000 + index)
            RunSession.open(other.runs, other.run_id, who).approve("reviewed")
        screen._tick()  # the 2 s poll, without waiting for it
    await pilot.pause()
    assert len(screen.session.state.entries) > before, f"{step.id} recorded nothing"
    return f"{step.id}:{kind}"
