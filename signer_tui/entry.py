"""The `signer-tui` executable: answers `--version` before importing anything else.

Everything else goes to `signer_tui.cli`, whose import (the config schema, built by pydantic)
costs ~0.2 s: too much for a probe that scripts, packagers and `--version` checks run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from signer_tui import __version__

# Modules that libraries import opportunistically and this program never uses: httpcore loads
# trio whenever it is installed (we run on asyncio only; ~0.12 s), and httpx's __init__ loads
# its command-line tool (`httpx._main`: rich, click, pygments; ~0.1 s on `check`). Both
# libraries catch the ImportError that a None entry in sys.modules raises. Only the
# executable does this: as a library (tests, embedding) nothing is hidden.
UNUSED_IMPORTS = ("trio", "httpx._main")


def skip_unused_imports() -> None:
    for name in UNUSED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    # Ctrl-C while the CLI's imports load is a quiet exit 130, not a traceback.
    from signer_tui.startup import quiet_interrupts_until_ready

    quiet_interrupts_until_ready()
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        # Exactly argparse's answer to `--version` (tests/unit/test_fast_paths.py compares).
        print(f"signer-tui {__version__}")
        return 0
    skip_unused_imports()
    from signer_tui.cli import main as cli_main

    return cli_main(args)
