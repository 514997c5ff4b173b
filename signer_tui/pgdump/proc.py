"""Running PostgreSQL and backup tools: one process-group killer, one capturing runner.

Every tool runs in its own session (process group), so a Ctrl-C in the terminal reaches only
us and we stop the whole group ourselves — pg_restore's parallel workers, a `sudo -u postgres`
wrapper's child, pgBackRest's local processes. `kill_group` asks politely first (SIGTERM,
`grace` seconds), then SIGKILLs and waits until the group is really gone.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from signer_tui.model import RAW_LIMIT, Evidence, clean_text

MAX_OUTPUT = 16 * 1024 * 1024


class ToolMissing(Exception):
    """The command does not exist (or a wrapper said "command not found")."""


class ToolTimedOut(Exception):
    """The command was killed (with its process group) after its timeout."""


def kill_group(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a tool and everything it forked. `grace=0`: SIGKILL at once."""
    if proc.poll() is None:
        steps = ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)) if grace > 0 else ()
        for sig, wait in (*steps, (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    # Children may outlive the leader for a moment.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)


@dataclass(frozen=True)
class ToolRun:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    observed_at: datetime
    elapsed_ms: float

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    def last_error_line(self) -> str:
        """The most telling line of output, for a one-line error."""
        for text in (self.stderr, self.stdout):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            errors = [line for line in lines if "ERROR" in line.upper()]
            if errors or lines:
                return clean_text((errors or lines)[-1], 300)
        return f"exit code {self.returncode}, no output"

    def evidence(self, source: str, decoded: str = "") -> Evidence:
        return Evidence(
            source=source,
            request=self.command,
            observed_at=self.observed_at,
            status=self.returncode,
            raw=clean_text(self.stdout or self.stderr, RAW_LIMIT),
            decoded=decoded,
            elapsed_ms=self.elapsed_ms,
            error=clean_text(self.stderr.strip(), 1000) if self.returncode else "",
        )


def run_captured(
    argv: Sequence[str],
    *,
    timeout: float,
    grace: float = 0.0,
    env: dict[str, str] | None = None,
) -> ToolRun:
    """Run to completion, capturing output; kill the group after `timeout` s (ToolTimedOut).

    A non-zero exit is returned, not raised: for some tools (barman check) it is an answer.
    """
    argv = tuple(argv)
    observed_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,  # its own process group, so a timeout kills everything
        )
    except FileNotFoundError:
        raise ToolMissing(shlex.join(argv)) from None
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace)
            # A grandchild that left the group may still hold the pipes: do not wait on it.
            with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
                proc.communicate(timeout=1)
            raise ToolTimedOut(f"{shlex.join(argv)} did not finish within {timeout:g} s") from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    run = ToolRun(argv, proc.returncode, stdout, stderr, observed_at, elapsed_ms)
    # Wrappers (sudo, env, ssh) report a missing command as 127 or in words.
    if proc.returncode == 127 or (proc.returncode != 0 and "command not found" in stderr):
        raise ToolMissing(shlex.join(argv))
    return run
