"""`verify-backup` entry point: a pg_dump file, or a pgBackRest/Barman backup of the profile.

Orchestration only; the pieces live beside it:
* `types` — request, progress, outcome; `dump` — the pg_dump flow; `physical` — pgBackRest
  and Barman restored with the tool itself; `assess` — findings, verdict and history line;
* the checks themselves are `checks.restored` and `checks.keys` (pure, shared with the console).

Exit codes: 0 verified, 1 mismatch or failed backup, 3 could not determine.
"""

from __future__ import annotations

import threading

from signer_tui.checks.keys import ChainReading, KeyComparison, compare_keys, normalise_key_hex
from signer_tui.checks.restored import RowCountRow, check_restored, compare_row_counts
from signer_tui.sbtc import short_key
from signer_tui.verify.dump import pick_for_dump, resolve_path, verify_dump
from signer_tui.verify.physical import physical_kind, verify_physical
from signer_tui.verify.types import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VERIFIED,
    Progress,
    ProgressCallback,
    VerificationOutcome,
    VerifyCancelled,
    VerifyRequest,
    VerifyUsageError,
    default_jobs,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_FAILED",
    "EXIT_UNKNOWN",
    "EXIT_USAGE",
    "EXIT_VERIFIED",
    "ChainReading",
    "KeyComparison",
    "Progress",
    "ProgressCallback",
    "RowCountRow",
    "VerificationOutcome",
    "VerifyCancelled",
    "VerifyRequest",
    "VerifyUsageError",
    "check_restored",
    "compare_keys",
    "compare_row_counts",
    "default_jobs",
    "normalise_key_hex",
    "pick_for_dump",
    "resolve_path",
    "short_key",
    "verify_backup",
]


def verify_backup(
    request: VerifyRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> VerificationOutcome:
    """Verify one backup. Raises VerifyUsageError (bad request) or VerifyCancelled; every other
    failure is an outcome (failed / unknown) with findings saying why."""
    if request.path is None and physical_kind(request.profile):
        return verify_physical(request, progress=progress, cancel=cancel)
    if request.set_label is not None:
        raise VerifyUsageError("--set names a pgBackRest set or a Barman backup id")
    return verify_dump(request, progress=progress, cancel=cancel)
