"""The README's demo incident table, measured: each claim with its timing, in a console-like
poll loop on the demo's own intervals (key 10 s, database 15 s, backups 30 s)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signer_tui import demo
from signer_tui.model import Status
from signer_tui.pipeline.scheduler import PollLoop

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"

# What the README promises for rotate-key (seconds after the injection), and why:
# CRIT on the next key poll (every 10 s); the DB gets the key at ROTATION_DB_AFTER and is
# polled every 15 s; it is verified at ROTATION_VERIFIED_AFTER, seen on the next DB poll.
CRIT_WITHIN = 10 + 5  # one key poll, plus slack for a loaded machine
WARN_FROM, WARN_WITHIN = 20, 20 + 15 + 5
OK_FROM, OK_WITHIN = 45, 45 + 15 + 5


@pytest.fixture(scope="module")
def stack() -> Iterator[demo.DemoStack]:
    created = demo.DemoStack.create()
    yield created
    created.stop()


def readme_row(incident: str) -> str:
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| `{incident}` |"):
            return line
    raise AssertionError(f"no README row for {incident}")


def test_readme_states_the_measured_rotate_key_timings() -> None:
    row = readme_row("rotate-key")
    assert demo.ROTATION_DB_AFTER == WARN_FROM and demo.ROTATION_VERIFIED_AFTER == OK_FROM
    for claim in (
        "within 10 s",
        f"{WARN_FROM}-{WARN_WITHIN - 5} s",
        f"{OK_FROM}-{OK_WITHIN - 5} s",
    ):
        assert claim in row, (claim, row)


def test_rotate_key_timeline_in_a_running_console(stack: demo.DemoStack) -> None:
    pipeline = demo.build(stack)
    mainnet = next(c for c in pipeline.profiles if c.name == "mainnet")
    seen: dict[str, float] = {}
    started: list[float] = []

    def listener(job: Any, _observation: Any) -> None:
        if not started:
            return
        from signer_tui.model import utcnow

        found = {f.id: f for f in mainnet.findings(utcnow())}
        status = found["key.node"].status.value
        # The story in order: CRIT, then WARN, then OK (readings from before do not count).
        expected = next((s for s in ("CRIT", "WARN", "OK") if s not in seen), None)
        if status == expected:
            seen[status] = time.monotonic() - started[0]

    async def run() -> None:
        loop = PollLoop(pipeline.jobs(["mainnet"]), listener)
        worker = asyncio.create_task(loop.run())
        try:
            await asyncio.sleep(12)  # the first polls of everything
            seen.clear()
            await asyncio.to_thread(stack.inject, "rotate-key")
            started.append(time.monotonic())
            deadline = time.monotonic() + OK_WITHIN + 5
            while "OK" not in seen and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        finally:
            await loop.stop()
            worker.cancel()
            await pipeline.aclose()

    try:
        asyncio.run(run())
    finally:
        stack.inject("reset")
    assert seen.get("CRIT", 99) <= CRIT_WITHIN, seen
    assert WARN_FROM <= seen.get("WARN", 0) <= WARN_WITHIN, seen
    assert OK_FROM <= seen.get("OK", 0) <= OK_WITHIN, seen


def gap_days(finding: Any) -> int:
    found = re.match(r"(\d+) days? without", finding.summary)
    return int(found.group(1)) if found else 0


def findings(stack: demo.DemoStack) -> dict[str, Any]:
    pipeline = demo.build(stack)

    async def run() -> Any:
        try:
            return await pipeline.collect_once()
        finally:
            await pipeline.aclose()

    snapshot = next(s for s in asyncio.run(run()) if s.profile == "mainnet")
    return {f.id: f for f in snapshot.findings}


def test_skip_backup_as_the_readme_says(stack: demo.DemoStack) -> None:
    row = readme_row("skip-backup")
    assert "a second `skip-backup` adds a gap" in row
    before = findings(stack)
    dumps = [p for p in stack.backups["mainnet"].iterdir() if p.is_file()]
    newest = max(dumps, key=lambda p: p.stat().st_mtime)
    newest_dump_day = datetime.fromtimestamp(newest.stat().st_mtime, UTC).date()
    stack.inject("skip-backup")
    first = findings(stack)
    # Last night's dump is gone: the newest good dump is a day older (WARN past the cadence).
    assert first["backup.freshness"].status.rank > before["backup.freshness"].status.rank
    assert first["backup.freshness"].status in (Status.WARN, Status.CRIT)
    # A day is judged once it is over: the removed dump's day counts as a gap only if it is
    # not today (the demo's newest dump is from before midnight UTC when it runs early) ...
    newest_was_today = newest_dump_day == datetime.now(UTC).date()
    expected_first = gap_days(before["backup.gaps"]) + (0 if newest_was_today else 1)
    assert gap_days(first["backup.gaps"]) == expected_first
    stack.inject("skip-backup")
    second = findings(stack)
    # ... and a second night missing is always one more day without a good dump.
    assert gap_days(second["backup.gaps"]) == gap_days(first["backup.gaps"]) + 1
    assert second["backup.freshness"].status is Status.CRIT


def test_the_demo_state_is_its_own_and_fresh(stack: demo.DemoStack) -> None:
    # A new demo never inherits an old one's verification history or timeline.
    assert stack.state_dir.is_relative_to(stack.root)
    assert stack.history_path.is_relative_to(stack.root)
    other = demo.DemoStack(root=stack.root.parent / "elsewhere")
    assert other.history_path != stack.history_path
