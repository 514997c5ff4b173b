"""The headless runbook seams against the simulated stack and the real PostgreSQL fixture:
live findings from the real collectors (plus /v2/pox), and verify-backup as a real restore."""

from __future__ import annotations

import argparse
import threading

from signer_tui.runbooks.cli import cli_actions, pipeline_findings
from tests.tui.conftest import Stack


def _args(stack: Stack) -> argparse.Namespace:
    stack.config()  # writes config.yaml next to the stack
    return argparse.Namespace(config=str(stack.tmp / "config.yaml"), profile=None, settle=0.0)


def test_live_findings_come_from_the_pipeline(stack: Stack) -> None:
    findings = pipeline_findings(_args(stack))()
    ids = {f.id for f in findings}
    assert {"backup.freshness", "key.node", "node.stacks.reachable"} <= ids
    window = next(f for f in findings if f.id == "node.stacks.upgrade_window")
    assert window.evidence and "/v2/pox" in window.evidence[0].request
    assert window.status.value in ("OK", "WARN")


def test_verify_backup_action_restores_the_newest_dump(stack: Stack) -> None:
    registry = cli_actions(_args(stack))
    seen: list[str] = []
    result = registry.run("verify-backup", lambda m, _f: seen.append(m), threading.Event())
    assert result.ok is True, result.note()
    assert result.summary.startswith("verified:")
    assert any(m.startswith("restore:") for m in seen)
