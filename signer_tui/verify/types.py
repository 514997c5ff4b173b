"""The request, progress and outcome of one verification (a dump, or a pgBackRest/Barman set)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from signer_tui.checks.keys import ChainReading, KeyComparison
from signer_tui.checks.restored import RowCountRow
from signer_tui.config import Profile
from signer_tui.credentials import SecretStore
from signer_tui.model import Finding
from signer_tui.pgdump.types import DumpInfo
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.postgres import SignerDbFacts
from signer_tui.verify.restore import DEFAULT_RESTORE_TIMEOUT, RestoreResult

__all__ = ["ChainReading", "KeyComparison", "RowCountRow"]

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_CODES = {"verified": EXIT_VERIFIED, "mismatch": EXIT_FAILED, "failed": EXIT_FAILED}


class VerifyUsageError(Exception):
    """The request cannot be carried out as asked (missing file, no backups location…)."""


class VerifyCancelled(Exception):
    """Cancelled; the scratch cluster was stopped and removed before this was raised."""


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class VerifyRequest:
    path: Path | None = None  # the dump file or dump directory
    latest: bool = False  # the newest good backup of profile.backups instead
    profile: Profile | None = None
    jobs: int = field(default_factory=default_jobs)
    chain: bool = True  # False: --no-chain (the key is then not compared: verdict unknown)
    secrets: SecretStore | None = None
    record_history: bool = True
    history_path: Path | None = None
    work_dir: Path | None = None  # parent of the scratch cluster's temp dir (default $TMPDIR)
    restore_timeout: float = DEFAULT_RESTORE_TIMEOUT
    set_label: str | None = None  # pgBackRest set / Barman backup id (default: the newest)


@dataclass(frozen=True)
class Progress:
    """One step of a verification, for a progress bar or a log line."""

    phase: str  # identify | cluster | restore | checks | chain | cleanup | done
    message: str
    done: int | None = None
    total: int | None = None
    unit: str = ""  # "entries" | "bytes" while restoring
    elapsed_s: float = 0.0

    @property
    def fraction(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class VerificationOutcome:
    verdict: str  # verified | mismatch | failed | unknown
    summary: str
    findings: tuple[Finding, ...]
    path: str  # the dump's path, or `pgbackrest:STANZA/LABEL` / `barman:SERVER/ID`
    dump: DumpInfo | None = None
    sha256: str | None = None
    postgres: str | None = None  # the PostgreSQL install that restored it
    restore: RestoreResult | None = None
    facts: SignerDbFacts | None = None  # what the restored DB holds
    keys: KeyComparison | None = None
    row_counts: tuple[RowCountRow, ...] = ()
    live_note: str = ""
    timings: tuple[tuple[str, float], ...] = ()
    record: VerificationRecord | None = None
    history_file: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.verdict, EXIT_UNKNOWN)
