"""One deadline for a whole database poll, enforced on our side of the socket.

`statement_timeout` is the server's promise and a stuck server (SIGSTOPped, swapping, a
proxy that accepted and went silent) keeps no promises. So a poll gets one budget, connect
plus every query, and:
* each query's `statement_timeout` is lowered to what is left, so a slow database (a lock,
  a `pg_sleep` view) costs the budget once, not once per query;
* a watchdog thread fires at the deadline: it asks the server to cancel (bounded by
  `cancel_safe`'s own timeout) and, if the query is still not back a moment later, shuts
  the socket down, so the blocked libpq read returns at once with an error.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from signer_tui.sources.errors import DatabaseTimeout

# After the deadline: how long a cancel may take, then how long to wait for the query to end.
CANCEL_TIMEOUT = 1.0
CANCEL_GRACE = 0.5


class PollDeadline:
    """The budget of one poll; `expired` raises DatabaseTimeout with the reason."""

    def __init__(self, seconds: float, statement_timeout: float | None = None) -> None:
        self.seconds = seconds
        self.statement_timeout = statement_timeout if statement_timeout is not None else seconds
        self.expires = time.monotonic() + seconds
        self.killed = False  # the watchdog had to shut the socket down

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def connect_timeout(self, configured: float) -> int:
        """libpq's connect_timeout (whole seconds, at least 2) within what is left."""
        return max(2, math.ceil(min(configured, max(0.0, self.remaining()))))

    def error(self) -> DatabaseTimeout:
        return DatabaseTimeout(
            "no answer in time",
            f"the database poll did not finish within its {self.seconds:g} s deadline "
            "(connect_timeout + statement_timeout); is the server stuck or paused?",
        )

    def before_query(self, conn: psycopg.Connection[Any]) -> None:
        """statement_timeout = the configured one or what is left, whichever is shorter;
        DatabaseTimeout if nothing is left."""
        left = min(self.remaining(), self.statement_timeout)
        if left <= 0.05:
            raise self.error()
        conn.execute("SELECT set_config('statement_timeout', %s, false)", [f"{int(left * 1000)}"])

    @contextlib.contextmanager
    def watching(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """Run the body; at the deadline cancel, then cut the socket if still stuck."""
        done = threading.Event()
        fileno = conn.fileno()

        def watch() -> None:
            if done.wait(max(0.0, self.remaining())):
                return
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=CANCEL_TIMEOUT)
            if done.wait(CANCEL_GRACE):
                return
            self.killed = True
            _shutdown(fileno)

        watcher = threading.Thread(target=watch, name="db-deadline", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join(timeout=CANCEL_TIMEOUT + CANCEL_GRACE + 1.0)


def _shutdown(fileno: int) -> None:
    """Shut down the connection's socket (a duplicate descriptor: libpq still owns the fd)."""
    try:
        dup = os.dup(fileno)
    except OSError:
        return
    try:
        sock = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
