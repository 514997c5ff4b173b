"""The backup layers' dependency direction and size: pgdump/ below sources/ and verify/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "signer_tui"


def _loaded_after(module: str) -> set[str]:
    code = (
        f"import sys, {module}; "
        "print('\\n'.join(m for m in sys.modules if m.startswith('signer_tui')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_backup_discovery_does_not_import_verify() -> None:
    """The sources <-> verify cycle stays broken."""
    loaded = _loaded_after("signer_tui.sources.backups")
    assert not {m for m in loaded if m.startswith("signer_tui.verify")}
    assert "signer_tui.pgdump.identify" in loaded


def test_pgdump_imports_nothing_above_it() -> None:
    for path in sorted((PACKAGE / "pgdump").glob("*.py")):
        module = (
            f"signer_tui.pgdump.{path.stem}" if path.stem != "__init__" else "signer_tui.pgdump"
        )
        above = {
            m
            for m in _loaded_after(module)
            if "." in m and m.split(".")[1] in ("sources", "verify", "checks", "ui", "wiring")
        }
        assert not above, (module, above)


def test_no_backup_module_is_over_about_500_lines() -> None:
    for sub in ("verify", "pgdump"):
        for path in (PACKAGE / sub).glob("*.py"):
            assert len(path.read_text().splitlines()) <= 520, path
    for name in ("checks/restored.py", "checks/keys.py", "sources/pgbackrest.py"):
        assert len((PACKAGE / name).read_text().splitlines()) <= 540, name
