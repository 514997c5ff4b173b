"""The lost-terminal watchdog with a main thread stuck for good (as in Textual's shutdown
when its writer thread died on the hung-up terminal): kill-pane must still run the cleanup
and end the process within the bound, every time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RUNS = 5

STUCK = """\
import signal, sys, threading
from signer_tui.terminal_watchdog import TerminalWatchdog
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the TUI's handler only asked the app to exit
done = threading.Event()
def cleanup():
    open(sys.argv[1], "w").write("cleaned")
    done.set()
assert TerminalWatchdog(cleanup, done, grace=0.5).start()
print("ready", flush=True)
threading.Event().wait()  # stuck for good, like WriterThread.stop on a full queue
"""


def test_stuck_main_thread_still_cleans_up_after_kill_pane(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed")
    script = tmp_path / "stuck.py"
    script.write_text(STUCK)
    server = f"watchdog-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=str(REPO), TERM="xterm-256color")
    env.pop("TMUX", None)

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", server, *args], capture_output=True, text=True, env=env, timeout=30
        ).stdout

    seconds = []
    try:
        tmux("new-session", "-d", "-s", "keep", "sleep 600")  # the server outlives the panes
        for run in range(RUNS):
            marker = tmp_path / f"cleaned-{run}"
            tmux("new-window", "-t", "keep", "-n", f"w{run}", f"{sys.executable} {script} {marker}")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "ready" not in tmux(
                "capture-pane", "-p", "-t", f"keep:w{run}"
            ):
                time.sleep(0.1)
            pid = int(tmux("list-panes", "-t", f"keep:w{run}", "-F", "#{pane_pid}").split()[0])
            proc = psutil.Process(pid)
            started = time.monotonic()
            tmux("kill-pane", "-t", f"keep:w{run}")
            # poll (0.5 s) + grace (0.5 s) + the cleanup; 10 s is the bound asserted here.
            while (
                time.monotonic() - started < 10
                and proc.is_running()
                and (proc.status() != psutil.STATUS_ZOMBIE)
            ):
                time.sleep(0.05)
            assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
            assert marker.read_text() == "cleaned"
            seconds.append(round(time.monotonic() - started, 2))
    finally:
        tmux("kill-server")
    print(f"stuck process ended after kill-pane in {seconds} s")
