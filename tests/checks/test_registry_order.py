"""The panes list rows in check order: it must not depend on what imported a check first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

ORDER_AFTER = """
import json, importlib
for name in {first!r}:
    importlib.import_module(name)
from signer_tui.checks.registry import all_checks
print(json.dumps([spec.name for spec in all_checks()]))
"""


def order_after(*first: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", ORDER_AFTER.format(first=list(first))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names: list[str] = json.loads(result.stdout)
    return names


def test_check_order_is_the_same_whatever_was_imported_first() -> None:
    plain = order_after()
    # What a run of the console or another test may have imported before the registry.
    assert order_after("signer_tui.checks.upgrade_window", "signer_tui.checks.db_posture") == plain
    assert order_after("signer_tui.pipeline.build", "signer_tui.checks.signer_set") == plain
    # By module name, then as defined in the module.
    modules = [name.split(".")[0] for name in plain]
    assert modules == sorted(modules)
    assert len(plain) == len(set(plain)) > 10
