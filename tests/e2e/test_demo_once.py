"""`signer-tui demo --once --json` as CI's smoke check runs it: a real process, a healthy verdict.

CI once failed on this while every test passed: the smoke check settled 2 s, shorter than a
simulated Stacks block, so the tip was never seen to move and the demo said UNKNOWN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import leftovers


def test_demo_once_is_healthy_with_its_default_settle(demo_tmpdir: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TMPDIR": str(demo_tmpdir),
    }
    result = subprocess.run(
        [sys.executable, "-m", "signer_tui", "demo", "--once", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=demo_tmpdir,
        check=False,
    )
    report = json.loads(result.stdout)
    assert {p["name"] for p in report["profiles"]} == {"mainnet", "testnet"}
    # One dump of the demo is truncated on purpose: WARN, exit 1, and nothing it cannot judge.
    assert (report["status"], result.returncode) == ("WARN", 1), result.stderr[-2000:]
    unjudged = [
        (p["name"], f["id"], f["summary"])
        for p in report["profiles"]
        for f in p["findings"]
        if f["status"] in ("UNKNOWN", "CRIT")
    ]
    assert unjudged == []
    tips = {
        p["name"]: next(f for f in p["findings"] if f["id"] == "node.stacks.tip_age")
        for p in report["profiles"]
    }
    assert all("moved" in f["summary"] for f in tips.values()), tips
    assert leftovers(demo_tmpdir) == []
