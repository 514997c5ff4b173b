"""Fixtures for console tests: a simulated signer environment over real loopback HTTP and the
real PostgreSQL fixture, a config pointing at it, and the app built through the real wiring."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from signer_tui import credentials, model
from signer_tui.config import LoadedConfig, load_config
from signer_tui.pgdump.installs import pick_install
from signer_tui.pipeline.build import build_pipeline
from signer_tui.sim.backups import make_backup_dir
from signer_tui.sim.stack import FeedSimulators, SimEnvironment
from signer_tui.ui.app import PollCompleted, SignerApp
from tests.conftest import SignerDb

FROZEN = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
# Shown on screen in snapshots, so it cannot vary per run (see `fixed_backup_dir`).
FIXED_BACKUPS = Path("/tmp/signer-tui-snapshot-backups")
FIXED_LOCK_WAIT = 240.0


@contextlib.contextmanager
def fixed_backup_dir() -> Iterator[Path]:
    """Own `FIXED_BACKUPS` for a while: two test runs on one host take turns with it.

    The path must be the same in every run (SVG snapshots show it), so instead of making it
    unique, its users serialise on a lock file next to it; only the holder creates, fills or
    removes the directory.
    """
    fd = os.open(f"{FIXED_BACKUPS}.lock", os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + FIXED_LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{FIXED_BACKUPS} stayed locked by another test run for "
                        f"{FIXED_LOCK_WAIT:g} s"
                    ) from None
                time.sleep(0.2)
        shutil.rmtree(FIXED_BACKUPS, ignore_errors=True)
        try:
            yield FIXED_BACKUPS
        finally:
            shutil.rmtree(FIXED_BACKUPS, ignore_errors=True)
    finally:
        os.close(fd)  # releases the lock


@dataclass
class Stack:
    env: SimEnvironment
    feeds: FeedSimulators
    db: SignerDb
    tmp: Path
    backups: Path
    cleanups: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def use_fixed_backup_dir(self) -> None:
        """Move the dumps to a fixed path, so screens that show it are the same every run.

        The path stays this test's until the `stack` fixture ends."""
        fixed = self.cleanups.enter_context(fixed_backup_dir())
        shutil.copytree(self.backups, fixed, copy_function=shutil.copy2)
        self.backups = fixed

    def config(self, **profile: Any) -> LoadedConfig:
        data = {
            "signers": [
                self.env.profile(
                    "mainnet",
                    backups={"kind": "pg_dump", "location": str(self.backups)},
                    **profile,
                )
            ],
            "releases": self.feeds.releases_config(),
        }
        path = self.tmp / "config.yaml"
        path.write_text(yaml.safe_dump(data))
        return load_config(path, environ={})


@pytest.fixture
def stack(signer_db: SignerDb, tmp_path: Path) -> Iterator[Stack]:
    env = SimEnvironment(signer_db.state, signer_db.conninfo).start()
    feeds = FeedSimulators(signer_db.state).start()
    backups = tmp_path / "backups"
    make_backup_dir(backups, signer_db.conninfo, pick_install(), model.utcnow())
    created = Stack(env, feeds, signer_db, tmp_path, backups)
    with created.cleanups:
        yield created
        env.stop()
        feeds.stop()


def make_app(loaded: LoadedConfig, tmp: Path, **kwargs: Any) -> SignerApp:
    store = credentials.SecretStore(credentials.resolve_all(loaded.settings))
    pipeline = build_pipeline(loaded.settings, store)
    kwargs.setdefault("watch_tty", False)
    kwargs.setdefault("state_dir", tmp / "state")
    return SignerApp(
        pipeline, theme=loaded.settings.ui.theme, keymap=loaded.settings.ui.keymap, **kwargs
    )


async def wait_for_polls(
    pilot: Any, seen: list[Any], sources: set[str], timeout: float = 15.0
) -> None:
    """Wait until every named source has completed at least one poll."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        done = {m.observation.source for m in seen if isinstance(m, PollCompleted)}
        if sources <= done:
            await pilot.pause()
            return
        await asyncio.sleep(0.05)
    done = {m.observation.source for m in seen if isinstance(m, PollCompleted)}
    raise AssertionError(f"polls not completed: {sorted(sources - done)}")


ALL_SOURCES = {
    "stacks",
    "key.node",
    "key.api",
    "bitcoind",
    "signer",
    "signer_info",
    "metrics",
    "db",
    "backups",
    "releases",
}


@pytest.fixture
def frozen_time(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], datetime]:
    """Freeze `utcnow` everywhere in signer_tui; returns a function giving FROZEN + seconds."""
    from datetime import timedelta

    def frozen() -> datetime:
        return FROZEN

    # Import every module first: one imported later would keep the real clock.
    import importlib
    import pkgutil

    import signer_tui

    for info in pkgutil.walk_packages(signer_tui.__path__, "signer_tui."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)

    real = model.utcnow
    for name, module in list(sys.modules.items()):
        if name.startswith("signer_tui") and getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", frozen)
    return lambda seconds: FROZEN + timedelta(seconds=seconds)
