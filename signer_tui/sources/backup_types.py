"""Data shapes shared by backup discovery, backup verification and the backup checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from signer_tui.model import Evidence


@dataclass(frozen=True)
class BackupRecord:
    """One backup as discovered: a dump file, a pgBackRest set or a Barman backup."""

    kind: str  # "pg_dump" | "pgbackrest" | "barman"
    name: str  # file name, pgBackRest label or Barman backup_id
    finished_at: datetime | None
    size_bytes: int | None
    # None: not checked; False: truncated, corrupt, failed or flagged with errors.
    ok: bool | None
    problem: str = ""
    # Extra facts worth showing: format, pg_dump version, compression, backup type, ...
    details: tuple[tuple[str, str], ...] = ()
    path: str | None = None


@dataclass(frozen=True)
class BackupInventory:
    """Everything known about one profile's backups at one moment."""

    kind: str
    location: str
    records: tuple[BackupRecord, ...]  # newest first
    # Problems of the backup system itself (stanza status, barman check failures, ...).
    tool_problems: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    observed_at: datetime | None = None


@dataclass(frozen=True)
class VerificationRecord:
    """One line of the verification history (restore into a scratch cluster + key check)."""

    profile: str
    started_at: datetime
    finished_at: datetime
    backup: str  # path of the dump that was restored
    sha256: str | None
    size_bytes: int | None
    duration_s: float
    verdict: str  # "verified" | "mismatch" | "failed" | "unknown"
    summary: str
    db_key: str | None = None  # newest verified key in the restored backup (hex)
    chain_keys: dict[str, str | None] = field(default_factory=dict)  # source -> hex
    problems: tuple[str, ...] = ()
    # (finding id, status) of every finding of the run: the ids verify-backup --json reports.
    findings: tuple[tuple[str, str], ...] = ()
