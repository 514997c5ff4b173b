"""The `signer-tui` executable: answers `--version` before importing anything else.

Everything else goes to `signer_tui.cli`, whose import (the config schema, built by pydantic)
costs ~0.2 s: too much for a probe that scripts, packagers and `--version` checks run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from signer_tui import __version__


def main(argv: Sequence[str] | None = None) -> int:
    # Ctrl-C while the CLI's imports load is a quiet exit 130, not a traceback.
    from signer_tui.startup import quiet_interrupts_until_ready

    quiet_interrupts_until_ready()
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        # Exactly argparse's answer to `--version` (tests/unit/test_fast_paths.py compares).
        print(f"signer-tui {__version__}")
        return 0
    from signer_tui.cli import main as cli_main

    return cli_main(args)
