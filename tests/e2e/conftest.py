"""A private temp dir for each end-to-end demo, so the tests judge only their own demo.

Comparing every `signer-tui-demo*` dir in the system temp dir breaks as soon as any other demo
runs on the host (a second CI run, a developer's console). Each test instead gives its child
process its own $TMPDIR and asserts that the demo left nothing in it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


@pytest.fixture
def demo_tmpdir() -> Iterator[Path]:
    # Not under tmp_path: pytest makes those 0700, and as root the demo's PostgreSQL runs as
    # another account that must reach its cluster directory inside.
    base = Path(tempfile.mkdtemp(prefix="signer-tui-e2e-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def leftovers(tmpdir: Path) -> list[str]:
    """Everything the demo left in its private temp dir (it should leave nothing)."""
    return sorted(p.name for p in tmpdir.iterdir())


def demo_postgres(tmpdir: Path) -> dict[int, psutil.Process]:
    """The PostgreSQL processes of the demo that runs in `tmpdir` (their -D is inside it)."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "signer-tui-demo-pg-" in cmdline and str(tmpdir) in cmdline:
            found[proc.pid] = proc
    return found
