"""Two test runs on one host take turns with the fixed backup path the snapshots show."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tui import conftest
from tests.tui.conftest import FIXED_BACKUPS, fixed_backup_dir

REPO = Path(__file__).resolve().parents[2]

# Another run: holds the path, leaves a file in it, and lets go when its stdin closes.
HOLDER = """
import sys
from tests.tui.conftest import fixed_backup_dir
with fixed_backup_dir() as path:
    path.mkdir()
    (path / "other-run").write_text("mine")
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_run_waits_and_never_touches_the_holders_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(conftest, "FIXED_LOCK_WAIT", 0.5)
        with (
            pytest.raises(AssertionError, match="locked by another test run"),
            fixed_backup_dir(),
        ):
            pass
        assert (FIXED_BACKUPS / "other-run").read_text() == "mine"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    monkeypatch.setattr(conftest, "FIXED_LOCK_WAIT", 60.0)
    started = time.monotonic()
    with fixed_backup_dir() as path:
        assert time.monotonic() - started < 30
        assert not path.exists()  # the holder cleaned up after itself
        path.mkdir()
    assert not FIXED_BACKUPS.exists()
