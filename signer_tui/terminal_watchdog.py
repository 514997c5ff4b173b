"""Notice a lost terminal without relying on the terminal, and end the process in bounded time.

When an SSH session drops or a tmux pane is killed, the console gets SIGHUP, but its main
thread may then block for good in the TUI's shutdown (Textual's writer thread cannot write to
a hung-up terminal, so `WriterThread.stop` waits on a full queue), and cleanup in a `finally`
never runs. A hung-up terminal is easy to see from a side thread: `tcgetattr` on the process's
own `/dev/tty` fails with EIO. The watchdog then gives the normal exit a short grace, runs
the cleanup itself if that did not finish, and `os._exit`s.
"""

from __future__ import annotations

import contextlib
import os
import termios
import threading
from collections.abc import Callable

POLL_SECONDS = 0.5
# Time the normal exit path gets before the watchdog takes over.
GRACE_SECONDS = 3.0
# The cleanup itself is bounded too: after this the process ends regardless.
CLEANUP_BOUND_SECONDS = 25.0
EXIT_CODE = 129  # 128 + SIGHUP, what a shell reports for a hung-up job


class TerminalWatchdog:
    def __init__(
        self,
        cleanup: Callable[[], None],
        finished: threading.Event,
        *,
        poll: float = POLL_SECONDS,
        grace: float = GRACE_SECONDS,
        bound: float = CLEANUP_BOUND_SECONDS,
    ) -> None:
        self.cleanup = cleanup
        self.finished = finished  # set by whoever completes the cleanup
        self.poll = poll
        self.grace = grace
        self.bound = bound
        self._stopped = threading.Event()
        self._fd: int | None = None

    def start(self) -> bool:
        """Start watching; False (and nothing started) without a controlling terminal."""
        try:
            self._fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
            termios.tcgetattr(self._fd)
        except (OSError, termios.error):
            self._close()
            return False
        threading.Thread(target=self._watch, name="terminal-watchdog", daemon=True).start()
        return True

    def stop(self) -> None:
        self._stopped.set()

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def terminal_lost(self) -> bool:
        if self._fd is None:
            return False
        try:
            termios.tcgetattr(self._fd)
        except (OSError, termios.error):
            return True
        return False

    def _watch(self) -> None:
        while not self._stopped.wait(self.poll):
            if self.terminal_lost():
                break
        else:
            self._close()
            return
        self._close()
        if self.finished.wait(self.grace):
            os._exit(EXIT_CODE)
        worker = threading.Thread(target=self.cleanup, name="terminal-lost-cleanup", daemon=True)
        worker.start()
        worker.join(self.bound)
        os._exit(EXIT_CODE)
