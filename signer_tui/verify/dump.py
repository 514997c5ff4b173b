"""Verify one pg_dump: identify it, restore it into a fresh scratch cluster, check, compare.

The docs' procedure (facts §5.2): restore the dump into a fresh PostgreSQL, run the
verified-key query, compare the newest verified key with `get-current-aggregate-pubkey` on
chain. The scratch cluster is always stopped and its directory removed — on success, failure,
cancel and errors — and the live DB is only read, read-only, for row counts.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import psycopg

from signer_tui.checks.keys import ChainReading
from signer_tui.checks.restored import finding
from signer_tui.config import Profile
from signer_tui.credentials import SecretStore
from signer_tui.model import Finding, Status, clean_text, utcnow
from signer_tui.pgdump.identify import identify
from signer_tui.pgdump.installs import BinariesError, PgInstall, pick_install
from signer_tui.pgdump.types import DumpFormat, DumpInfo
from signer_tui.sources.backups import discover
from signer_tui.sources.errors import SourceError
from signer_tui.sources.postgres import SignerDbFacts
from signer_tui.verify.assess import assess, outcome_without_restore
from signer_tui.verify.chain import read_chain_blocking
from signer_tui.verify.cluster import ClusterError, ScratchCluster
from signer_tui.verify.restore import RestoreCancelled, RestoreFailed, RestoreResult, restore
from signer_tui.verify.types import (
    ProgressCallback,
    VerificationOutcome,
    VerifyCancelled,
    VerifyRequest,
    VerifyUsageError,
)
from signer_tui.verify.work import (
    Background,
    Clock,
    live_counts,
    read_restored,
    safe_result,
    sha256_of,
)

CLUSTER_PREFIX = "signer-tui-verify-"
RESTORED_DB = "restored"


def pick_for_dump(info: DumpInfo) -> PgInstall:
    """THE picker, for a dump. An archive needs a pg_restore at least as new as its pg_dump.
    A plain dump is only SQL: an older psql may well read it, so it is tried and the restore
    says clearly if it fails (`older_than_dump` below)."""
    if info.format.is_plain:
        return pick_install(None, restrict=info.uses_restrict)
    return pick_install(info.pg_dump_major, what=f"this dump (pg_dump {info.pg_dump_version})")


def older_than_dump(info: DumpInfo, install: PgInstall) -> str:
    """A note for a plain dump restored by an older psql than the pg_dump that wrote it."""
    needed = info.pg_dump_major
    if needed is None or install.major >= needed:
        return ""
    return f"written by pg_dump {info.pg_dump_version}, restored with psql {install.version}"


def resolve_path(request: VerifyRequest) -> Path:
    if request.latest:
        return _latest_dump(request.profile)
    if request.path is None:
        raise VerifyUsageError("name a dump file or directory, or use --latest")
    path = Path(request.path).expanduser()
    if not path.exists():
        raise VerifyUsageError(f"{path}: no such file or directory")
    if not os.access(path, os.R_OK):
        raise VerifyUsageError(f"{path}: permission denied (cannot read the dump)")
    return path


def _latest_dump(profile: Profile | None) -> Path:
    if profile is None:
        raise VerifyUsageError("--latest needs a profile with a 'backups' section")
    backups = profile.backups
    if backups is None or backups.kind != "pg_dump" or backups.location is None:
        raise VerifyUsageError(
            f"profile '{profile.name}' has no pg_dump backups location "
            "(backups: {kind: pg_dump, location: DIR}); --latest needs one"
        )
    location = Path(backups.location).expanduser()
    if not location.is_dir():
        raise VerifyUsageError(f"backups location {location} is not a directory")
    try:
        inventory = discover(location, now=utcnow())
    except SourceError as exc:
        raise VerifyUsageError(f"cannot read {location}: {exc.title} {exc.detail}") from None
    for wanted in (True, None):
        for record in inventory.records:
            if record.ok is wanted and record.path:
                return Path(record.path)
    raise VerifyUsageError(
        f"no good dump in {location} ({len(inventory.records)} dump file(s), none intact)"
    )


def verify_dump(
    request: VerifyRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> VerificationOutcome:
    """Verify one dump. Raises VerifyUsageError (bad request) or VerifyCancelled; every other
    failure is an outcome (failed / unknown) with findings saying why."""
    cancel = cancel or threading.Event()
    clock = Clock(progress)
    started_at = utcnow()
    profile_name = request.profile.name if request.profile else ""
    secrets = request.secrets or SecretStore()

    path = resolve_path(request)
    clock.emit("identify", f"identifying {path}")
    try:
        info = identify(path)
    except OSError as exc:
        raise VerifyUsageError(f"{path}: {exc.strerror or exc}") from None
    clock.lap("identify")
    hasher = Background("verify-sha256", lambda: sha256_of(path, cancel))

    def early(verdict: str, summary: str, finding: Finding) -> VerificationOutcome:
        digest = safe_result(hasher, cancel)
        return outcome_without_restore(
            request, str(path), verdict, summary, finding, clock, started_at, info, digest
        )

    fmt = info.format
    if fmt in (DumpFormat.EMPTY, DumpFormat.NOT_A_DUMP):
        what = "an empty file" if fmt is DumpFormat.EMPTY else "not a pg_dump backup"
        summary = f"{path.name} is {what}" + (f": {info.note}" if info.note else "")
        return early(
            "failed",
            summary,
            finding(
                "verify.format",
                Status.CRIT,
                summary,
                "Check the backup job: it wrote no usable dump.",
                profile=profile_name,
            ),
        )
    if not fmt.restorable:
        summary = f"{path.name}: {info.note or fmt.value}"
        return early(
            "unknown",
            f"could not determine: {summary}",
            finding("verify.format", Status.UNKNOWN, summary, profile=profile_name),
        )
    if info.intact is False:
        summary = f"{path.name} ({info.describe}) is damaged: {'; '.join(info.problems)}"
        return early(
            "failed",
            summary,
            finding(
                "verify.format",
                Status.CRIT,
                summary,
                "The dump is truncated or corrupt: take a new backup and check the backup job "
                "(disk full? killed? copied before it finished?).",
                profile=profile_name,
            ),
        )
    try:
        install = pick_for_dump(info)
    except BinariesError as exc:
        return early(
            "unknown",
            f"could not determine: {exc}",
            finding("verify.binaries", Status.UNKNOWN, str(exc), profile=profile_name),
        )

    chain_job: Background[list[ChainReading]] | None = None
    if request.chain and request.profile is not None:
        chain_profile = request.profile
        chain_job = Background("verify-chain", lambda: read_chain_blocking(chain_profile, secrets))
    live_job: Background[tuple[dict[str, int | None], str]] | None = None
    if request.profile is not None:
        live_profile = request.profile
        live_job = Background("verify-live", lambda: live_counts(live_profile, secrets))

    if cancel.is_set():
        raise VerifyCancelled("cancelled")
    cluster = ScratchCluster(install, base_dir=request.work_dir, prefix=CLUSTER_PREFIX)
    result: RestoreResult | None = None
    facts: SignerDbFacts | None = None
    checks_error = ""
    not_signer = False
    try:
        clock.emit("cluster", f"starting a scratch PostgreSQL {install.version}")
        try:
            cluster.start()
        except ClusterError as exc:
            return early(
                "unknown",
                f"could not determine: no scratch PostgreSQL ({exc})",
                finding("verify.cluster", Status.UNKNOWN, str(exc), profile=profile_name),
            )
        clock.lap("cluster start")
        clock.emit("cluster", f"scratch cluster {cluster.root} ({install.label})")
        if cancel.is_set():
            raise VerifyCancelled("cancelled")

        def step(done: int, total: int | None, unit: str, message: str) -> None:
            clock.emit("restore", message, done, total, unit)

        jobs_text = (
            f", {request.jobs} jobs" if fmt in (DumpFormat.CUSTOM, DumpFormat.DIRECTORY) else ""
        )
        clock.emit("restore", f"restore started ({info.describe}{jobs_text})", 0, None)
        try:
            result = restore(
                cluster,
                info,
                dbname=RESTORED_DB,
                jobs=request.jobs,
                on_step=step,
                cancel=cancel,
                timeout=request.restore_timeout,
            )
        except RestoreCancelled:
            raise VerifyCancelled("cancelled") from None
        except (RestoreFailed, TimeoutError, psycopg.Error, OSError) as exc:
            # Only a dump that cannot be fed to the tool is the dump's fault; a timeout or a
            # broken scratch cluster leaves the question open.
            result = RestoreResult(
                ok=False,
                dbname=RESTORED_DB,
                tool="pg_restore" if fmt.is_archive else "psql",
                command=(),
                returncode=None,
                errors=(clean_text(str(exc), 300),),
                elapsed_s=0.0,
                jobs=1,
                done=0,
                total=None,
                unit="",
                inconclusive=not isinstance(exc, RestoreFailed),
            )
        clock.lap("restore")
        if cancel.is_set():
            raise VerifyCancelled("cancelled")
        note = older_than_dump(info, install)
        if note and not result.ok:
            # Tried, and it really failed: say that the psql is older than the dump.
            first = result.errors[0] if result.errors else "psql failed"
            result = replace(result, errors=(f"{note}: {first}", *result.errors[1:]))
        if result.ok:
            clock.emit("checks", "querying the restored database")
            facts, checks_error, not_signer = read_restored(cluster.conninfo(result.dbname))
            clock.lap("checks")
    finally:
        clock.emit("cleanup", "stopping the scratch cluster")
        cluster.stop()
        clock.lap("cleanup")

    digest = safe_result(hasher, cancel)
    return assess(
        request,
        str(path),
        info,
        install.label,
        result,
        facts,
        checks_error,
        not_signer,
        chain_job,
        live_job,
        digest,
        clock,
        started_at,
        cancel,
    )
