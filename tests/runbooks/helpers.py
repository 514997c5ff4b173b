"""Shared bits for runbook tests: identities, a runs directory, findings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from signer_tui.model import Evidence, Finding, Status
from signer_tui.runbooks.actions import ACTION_NAMES
from signer_tui.runbooks.identity import Identity
from signer_tui.runbooks.loader import PACKAGE_DIR, parse_runbook
from signer_tui.runbooks.spec import Runbook
from signer_tui.runbooks.store import RunsDir

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def person(name: str, uid: int = 1000, sudo: str | None = None) -> Identity:
    return Identity(name, uid, sudo, None, "bastion")


def runs_dir(tmp: Path) -> RunsDir:
    return RunsDir(tmp / "runs").check(write=True)


def shipped(name: str) -> Runbook:
    return parse_runbook(PACKAGE_DIR / f"{name}.yaml", "package", ACTION_NAMES)


def finding(finding_id: str, status: Status, summary: str = "") -> Finding:
    evidence = Evidence("test source", f"GET /{finding_id}", NOW, decoded="decoded value")
    return Finding(
        finding_id,
        status,
        summary or f"{finding_id} is {status.value}",
        evidence=(evidence,),
        observed_at=NOW,
        profile="mainnet",
    )


def write_runbook(directory: Path, name: str, text: str) -> Runbook:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return parse_runbook(path, "user", ACTION_NAMES)
