"""Ctrl-C before the CLI can catch it: a quiet exit 130, not a traceback from an import.

Importing the CLI (pydantic, yaml, httpx, ...) takes a noticeable fraction of a second on a
slow bastion; a KeyboardInterrupt raised inside those imports would print a traceback from
deep in a third-party module. Until `cli.main` is ready, SIGINT just ends the process: nothing
has been written or started yet, so there is nothing to clean up.
"""

from __future__ import annotations

# `_signal` and `os` are loaded with the interpreter: importing `signal` (enum) or
# `threading` here would itself be a window for a KeyboardInterrupt.
import _signal  # type: ignore[import-not-found]
import os
from types import FrameType


def _early_exit(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"signer-tui: interrupted\n")
    os._exit(130)


def quiet_interrupts_until_ready() -> None:
    try:
        if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
            _signal.signal(_signal.SIGINT, _early_exit)
    except ValueError:
        pass  # not the main thread (embedded use): leave signals alone


def ready() -> None:
    """From here on KeyboardInterrupt is raised again (and caught by the CLI)."""
    try:
        if _signal.getsignal(_signal.SIGINT) is _early_exit:
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    except ValueError:
        pass


def main() -> int:
    """The console script's entry: quiet start-up, then the CLI."""
    quiet_interrupts_until_ready()
    from signer_tui.cli import main as cli_main

    return cli_main()
