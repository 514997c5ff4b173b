"""Verify a pgBackRest set or a Barman backup: restore it with the tool itself, check it.

`pgbackrest restore --pg1-path=SCRATCH --type=immediate --target-action=promote` or
`barman recover --target-immediate --target-action promote SERVER ID SCRATCH` writes the
newest (or `--set`) backup into a fresh temp dir; a scratch server recovers it to its end (so
missing WAL fails here, as it would in a real restore), promotes, and the same checks as for
a dump run on the signer database. The tool runs as `backups.command` says (e.g.
`[sudo, -u, postgres, pgbackrest]`); the scratch server runs as an unprivileged account when
we are root. Cancel (SIGINT/SIGTERM via the CLI) stops the tool's process group and the server
and removes the temp dir.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from signer_tui.checks.keys import ChainReading
from signer_tui.checks.restored import finding
from signer_tui.config import Backups, Profile
from signer_tui.credentials import SecretStore
from signer_tui.model import Finding, Status, clean_text, utcnow
from signer_tui.pgdump.installs import BinariesError, PgInstall, find_installations, pick_install
from signer_tui.pgdump.listing import meaningful_lines
from signer_tui.pgdump.proc import kill_group
from signer_tui.sources.backup_types import BackupInventory, BackupRecord
from signer_tui.sources.errors import SourceError
from signer_tui.verify.assess import assess, outcome_without_restore
from signer_tui.verify.chain import read_chain_blocking
from signer_tui.verify.cluster import ClusterError
from signer_tui.verify.restore import RestoreResult
from signer_tui.verify.restored_server import RecoveryFailed, RestoredCluster
from signer_tui.verify.types import (
    ProgressCallback,
    VerificationOutcome,
    VerifyCancelled,
    VerifyRequest,
    VerifyUsageError,
)
from signer_tui.verify.work import Background, Clock, live_counts, read_restored

CLUSTER_PREFIX = "signer-tui-verify-"
# pgbackrest --log-level-console=detail: "restore file /x (8KB, 12.34%) checksum ..."
_PERCENT = re.compile(r"restore file .*\(([\d.]+[KMGT]?B), ([\d.]+)%\)")
_POLL = 0.1
_TOOL_CHATTER = re.compile(r"\bP\d\d (?:DETAIL|INFO|DEBUG|TRACE):")
_TOOL_ERROR = re.compile(r"\bERROR\b|\bFATAL\b|IS NOT VALID")


@dataclass(frozen=True)
class PhysicalBackup:
    kind: str  # pgbackrest | barman
    owner: str  # stanza or server
    label: str
    record: BackupRecord

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.owner}/{self.label}"


def _inventory(backups: Backups) -> BackupInventory:
    if backups.kind == "pgbackrest":
        from signer_tui.sources.pgbackrest import PgBackRest

        # No `verify` pass here: the restore itself checks every file's checksum, and reading
        # the whole set twice would double the cost of a restore-test.
        return PgBackRest.from_profile(backups).inventory(verify=False)
    from signer_tui.sources.barman import Barman

    return Barman.from_profile(backups).inventory()


def choose(inventory: BackupInventory, backups: Backups, label: str | None) -> PhysicalBackup:
    """The newest backup not known to be bad, or the one asked for (a usage error if absent)."""
    owner = backups.stanza if backups.kind == "pgbackrest" else backups.server
    assert owner is not None
    records = list(inventory.records)
    if label is not None:
        for record in records:
            if record.name == label:
                return PhysicalBackup(backups.kind, owner, label, record)
        known = ", ".join(r.name for r in records[:8]) or "none"
        raise VerifyUsageError(f"no backup {label} in {inventory.location} (have: {known})")
    # Good first, then unchecked; a set the tool flagged is still restored (newest first)
    # when nothing else is left: the restore shows how it fails.
    for wanted in (True, None, False):
        for record in records:
            if record.ok is wanted and not record.name.startswith("("):
                return PhysicalBackup(backups.kind, owner, record.name, record)
    raise LookupError(
        f"no restorable backup in {inventory.location} ({len(records)} backup(s), none usable)"
    )


def restore_argv(backups: Backups, chosen: PhysicalBackup, target: Path) -> list[str]:
    command = list(backups.command or [backups.kind])
    if backups.kind == "pgbackrest":
        return [
            *command,
            f"--stanza={chosen.owner}",
            f"--pg1-path={target}",
            f"--set={chosen.label}",
            "--type=immediate",
            "--target-action=promote",
            # A promoted copy must never push WAL (a new timeline) into the live repository.
            "--archive-mode=off",
            "--log-level-console=detail",
            "restore",
        ]
    return [
        *command,
        "recover",
        "--target-immediate",
        "--target-action",
        "promote",
        chosen.owner,
        chosen.label,
        str(target),
    ]


def run_restore(
    argv: list[str],
    *,
    cancel: threading.Event,
    timeout: float,
    on_percent: ProgressCallback | None,
    size: int | None,
    clock: Clock,
) -> tuple[int, list[str], float]:
    """Run the tool in its own process group; stop the group on cancel or timeout."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        try:
            for raw in iter(proc.stdout.readline, b""):
                lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
        finally:
            lines.put(None)

    threading.Thread(target=pump, name="physical-restore", daemon=True).start()
    kept: list[str] = []
    open_ = True
    try:
        while True:
            if cancel.is_set():
                raise VerifyCancelled("cancelled")
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the restore did not finish within {timeout:g} s")
            if open_:
                try:
                    line = lines.get(timeout=_POLL)
                except queue.Empty:
                    line = ""
                if line is None:
                    open_ = False
                elif line:
                    match = _PERCENT.search(line)
                    if match:
                        if size:
                            done = int(size * float(match.group(2)) / 100)
                            clock.emit("restore", "restoring files", done, size, "bytes")
                    else:
                        kept.append(line)
                        del kept[:-400]
            else:
                time.sleep(_POLL / 2)
            if not open_ and proc.poll() is not None:
                return proc.returncode, kept, time.monotonic() - started
    finally:
        kill_group(proc, grace=5.0)


def verify_physical(
    request: VerifyRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> VerificationOutcome:
    cancel = cancel or threading.Event()
    clock = Clock(progress)
    started_at = utcnow()
    profile = request.profile
    assert profile is not None and profile.backups is not None
    backups = profile.backups
    name = profile.name
    secrets = request.secrets or SecretStore()
    where = backups.stanza if backups.kind == "pgbackrest" else backups.server
    clock.emit("identify", f"reading the {backups.kind} backups of {where}")
    try:
        inventory = _inventory(backups)
        chosen = choose(inventory, backups, request.set_label)
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        summary = (
            f"could not determine: {backups.kind} could not list the backups ({exc.title}{detail})"
        )
        return outcome_without_restore(
            request,
            f"{backups.kind}:{where}",
            "unknown",
            summary,
            finding("verify.inventory", Status.UNKNOWN, summary, profile=name),
            clock,
            started_at,
        )
    except LookupError as exc:
        summary = str(exc)
        problems = "; ".join(inventory.tool_problems)
        return outcome_without_restore(
            request,
            f"{backups.kind}:{where}",
            "failed",
            summary + (f" — {problems}" if problems else ""),
            finding(
                "verify.inventory",
                Status.CRIT,
                summary,
                "Take a backup now and check the backup job and the repository.",
                profile=name,
            ),
            clock,
            started_at,
        )
    clock.lap("identify")
    try:
        install = pick_install(None)
    except BinariesError as exc:
        return outcome_without_restore(
            request,
            chosen.name,
            "unknown",
            f"could not determine: {exc}",
            finding("verify.binaries", Status.UNKNOWN, str(exc), profile=name),
            clock,
            started_at,
        )
    chain_job: Background[list[ChainReading]] | None = None
    if request.chain:
        chain_job = Background("verify-chain", lambda: read_chain_blocking(profile, secrets))
    # The live row counts (exact count(*) on the live DB) start once the restore is done: run
    # during it, they compete with the tool for the same disks and cores.
    live_job: Background[tuple[dict[str, int | None], str]] | None = None
    cluster = RestoredCluster(install, base_dir=request.work_dir, prefix=CLUSTER_PREFIX)
    result: RestoreResult
    facts = None
    checks_error = ""
    not_signer = False
    try:
        cluster.prepare()
        target = cluster.datadir
        if backups.kind == "pgbackrest":
            target.mkdir(mode=0o700)
            cluster.own(target)
        argv = restore_argv(backups, chosen, target)
        clock.emit(
            "restore",
            f"{backups.kind} restoring {chosen.label}",
            0,
            chosen.record.size_bytes,
            "bytes",
        )
        try:
            code, kept, elapsed = run_restore(
                argv,
                cancel=cancel,
                timeout=request.restore_timeout,
                on_percent=progress,
                size=chosen.record.size_bytes,
                clock=clock,
            )
        except (TimeoutError, OSError) as exc:
            code, kept, elapsed = None, [clean_text(str(exc), 300)], 0.0
        errors: tuple[str, ...] = ()
        if code != 0:
            errors = tool_errors(kept) or (f"{argv[0]} exited {code}",)
        result = RestoreResult(
            ok=code == 0,
            dbname=profile.db.dbname,
            tool=f"{backups.kind} {'restore' if backups.kind == 'pgbackrest' else 'recover'}",
            command=tuple(argv),
            returncode=code,
            errors=errors,
            elapsed_s=elapsed,
            jobs=1,
            done=chosen.record.size_bytes or 0,
            total=chosen.record.size_bytes,
            unit="bytes",
            inconclusive=code is None,
        )
        clock.lap("restore")
        if cancel.is_set():
            raise VerifyCancelled("cancelled")
        if result.ok:
            # A data directory runs only on its own major: pick the binaries by PG_VERSION.
            try:
                install = cluster.use_install(install_for(target))
            except BinariesError as exc:
                result = _failed(result, str(exc), inconclusive=True)
        if result.ok:
            clock.emit(
                "cluster", f"recovering {chosen.label} on a scratch PostgreSQL {install.version}"
            )
            try:
                cluster.start_restored(cancel=cancel)
            except RecoveryFailed as exc:
                result = _failed(result, str(exc), inconclusive=False)
            except ClusterError as exc:
                result = _failed(result, str(exc), inconclusive=True)
            clock.lap("recovery")
            if cancel.is_set():
                raise VerifyCancelled("cancelled")
        live_job = Background("verify-live", lambda: live_counts(profile, secrets))
        if result.ok:
            clock.emit("checks", "querying the restored database")
            facts, checks_error, not_signer = read_restored(cluster.conninfo(profile.db.dbname))
            clock.lap("checks")
    finally:
        clock.emit("cleanup", "stopping the scratch server")
        cluster.stop()
        clock.lap("cleanup")
    outcome = assess(
        request,
        chosen.name,
        None,
        install.label,
        result,
        facts,
        checks_error,
        not_signer,
        chain_job,
        live_job,
        None,
        clock,
        started_at,
        cancel,
        _tool_findings(chosen, inventory, name),
    )
    return outcome


def _tool_findings(
    chosen: PhysicalBackup, inventory: BackupInventory, profile: str
) -> tuple[Finding, ...]:
    """What pgBackRest/Barman said about the set, beside what its restore showed."""
    if chosen.record.ok is not False:
        newer = []
        for record in inventory.records:
            if record.name == chosen.label:
                break
            if record.ok is False:
                newer.append(record)
        if not newer:
            return ()
        # The newest good set verified; the newer ones the tool flagged must not go unseen.
        return tuple(
            finding(
                "verify.inventory",
                Status.WARN,
                f"newer backup {r.name} is flagged by {chosen.kind}: {r.problem or 'bad'}; "
                f"verified {chosen.label} instead",
                "Fix the backup job: the newest backup is not restorable.",
                profile=profile,
            )
            for r in newer[:1]
        )
    return (
        finding(
            "verify.inventory",
            Status.CRIT,
            f"{chosen.kind} flags {chosen.label}: {chosen.record.problem or 'bad'}",
            "Take a new backup; check the repository (pgbackrest verify / barman check-backup).",
            profile=profile,
            details=[("problem", p) for p in inventory.tool_problems],
        ),
    )


def install_for(datadir: Path) -> PgInstall:
    """The installation whose major matches the restored data directory's PG_VERSION."""
    try:
        major = int((datadir / "PG_VERSION").read_text().strip().split(".")[0])
    except (OSError, ValueError):
        raise BinariesError(
            f"the restored directory has no readable PG_VERSION ({datadir})"
        ) from None
    found = [i for i in find_installations() if i.major == major]
    if not found:
        raise BinariesError(
            f"this backup is PostgreSQL {major}; no PostgreSQL {major} server binaries are "
            f"installed here: install postgresql-{major}"
        )
    return pick_install(major, installs=found)


def tool_errors(lines: list[str]) -> tuple[str, ...]:
    """The lines that say why the tool failed, first one first: its ERROR lines (pgBackRest
    prefixes them `P00 ERROR:`), without its own DETAIL/INFO chatter."""
    chatter = [line for line in lines if not _TOOL_CHATTER.search(line)]
    errors = [line for line in chatter if _TOOL_ERROR.search(line)]
    chosen = errors or meaningful_lines(chatter)
    return tuple(clean_text(line, 400) for line in chosen[:6])


def _failed(result: RestoreResult, why: str, *, inconclusive: bool) -> RestoreResult:
    from dataclasses import replace

    return replace(result, ok=False, errors=(clean_text(why, 400),), inconclusive=inconclusive)


def physical_kind(profile: Profile | None) -> bool:
    backups = profile.backups if profile is not None else None
    return backups is not None and backups.kind in ("pgbackrest", "barman")
