"""Lint, formatting, types and import rules are part of the test suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[dev]'")
    return found


def test_ruff_check() -> None:
    result = run(tool("ruff"), "check", "signer_tui", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run(tool("ruff"), "format", "--check", "signer_tui", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    result = run(sys.executable, "-m", "mypy", "signer_tui")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts() -> None:
    result = run(tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_headless_modules_do_not_load_textual() -> None:
    """The CLI's headless paths and the I/O layers must not pay for (or depend on) Textual.

    Only Textual is checked at run time: httpx itself imports rich for its optional CLI, which
    is outside our control. Our own imports of rich are caught by the import-linter contract.
    """
    code = (
        "import sys, pkgutil, importlib, signer_tui\n"
        "for mod in pkgutil.walk_packages(signer_tui.__path__, 'signer_tui.'):\n"
        "    if mod.name.startswith('signer_tui.ui') or mod.name == 'signer_tui.__main__':\n"
        "        continue\n"
        "    importlib.import_module(mod.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(','.join(bad))\n"
    )
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
