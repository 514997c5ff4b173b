"""`verify-backup` end to end: identify, restore into a fresh scratch cluster, check, compare.

The docs' procedure (facts §5.2): restore the dump into a fresh PostgreSQL, run the
verified-key query, compare the newest verified key with `get-current-aggregate-pubkey` on
chain. Here the chain is read from the operator's own node *and* an independent API; the two
disagreeing is reported on its own. The scratch cluster is always stopped and its directory
removed — on success, failure, cancel (the TUI's Event, or Ctrl-C/SIGTERM via the CLI) and
errors — so a second run never finds leftovers and the live DB is never touched (it is only
read, read-only, for row counts).

Exit codes: 0 verified, 1 mismatch or failed restore, 3 could not determine.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import psycopg

from signer_tui.config import Profile
from signer_tui.credentials import SecretStore, check_header_secret
from signer_tui.model import Evidence, Finding, Status, clean_text, utcnow
from signer_tui.sbtc import KNOWN_LAST_MIGRATIONS, LAST_MIGRATION_BY_RELEASE, MAIN_TABLES
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.backups import discover
from signer_tui.sources.errors import DatabaseNoSchema, SourceError
from signer_tui.sources.hiro import ChainApi
from signer_tui.sources.postgres import (
    SignerDatabase,
    SignerDbFacts,
    VerifiedKeys,
    read_signer_facts,
)
from signer_tui.sources.stacks import RegistryClient, StacksNode
from signer_tui.verify import history
from signer_tui.verify.binaries import BinariesError, PgInstall, find_installations
from signer_tui.verify.cluster import ClusterError, ScratchCluster
from signer_tui.verify.dumpformat import DumpFormat, DumpInfo, identify
from signer_tui.verify.restore import (
    DEFAULT_RESTORE_TIMEOUT,
    RestoreCancelled,
    RestoreFailed,
    RestoreResult,
    psql_reads_restrict,
    restore,
)

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
EXIT_CODES = {"verified": EXIT_VERIFIED, "mismatch": EXIT_FAILED, "failed": EXIT_FAILED}

CLUSTER_PREFIX = "signer-tui-verify-"
RESTORED_DB = "restored"
CHECKS_TIMEOUT_MS = 10 * 60 * 1000
CLARITY_BUFFER_33 = "0200000021"

T = TypeVar("T")


class VerifyUsageError(Exception):
    """The request cannot be carried out as asked (missing file, no backups location…)."""


class VerifyCancelled(Exception):
    """Cancelled; the scratch cluster was stopped and removed before this was raised."""


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


@dataclass(frozen=True)
class VerifyRequest:
    path: Path | None = None  # the dump file or dump directory
    latest: bool = False  # pick the newest good dump from profile.backups.location instead
    profile: Profile | None = None
    jobs: int = field(default_factory=default_jobs)
    chain: bool = True  # False: --no-chain (the key is then not compared: verdict unknown)
    secrets: SecretStore | None = None
    record_history: bool = True
    history_path: Path | None = None
    work_dir: Path | None = None  # parent of the scratch cluster's temp dir (default $TMPDIR)
    restore_timeout: float = DEFAULT_RESTORE_TIMEOUT


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
class ChainReading:
    """The registry key as one chain source reported it."""

    source: str  # "node" | "api"
    url: str
    key_hex: str | None  # None: pre-DKG (no key yet) or the source failed
    error: str | None = None
    evidence: Evidence | None = None

    @property
    def answered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class KeyComparison:
    status: str  # "match" | "mismatch" | "unknown" | "skipped"
    summary: str
    db_key: str | None
    readings: tuple[ChainReading, ...] = ()
    sources_disagree: bool = False


@dataclass(frozen=True)
class RowCountRow:
    table: str
    backup: int | None
    live: int | None


@dataclass(frozen=True)
class VerificationOutcome:
    verdict: str  # verified | mismatch | failed | unknown
    summary: str
    findings: tuple[Finding, ...]
    path: str
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


# -- keys ----------------------------------------------------------------------------------------


def normalise_key_hex(value: str | bytes | None) -> str | None:
    """Lowercase hex without `0x`/`\\x`, with a Clarity `(buff 33)` prefix stripped."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    text = value.strip().lower()
    for prefix in ("0x", "\\x"):
        text = text.removeprefix(prefix)
    if len(text) == 76 and text.startswith(CLARITY_BUFFER_33):
        text = text[len(CLARITY_BUFFER_33) :]
    return text


def short_key(key: str | None) -> str:
    return "none" if key is None else (key[:12] + "…" + key[-6:] if len(key) > 20 else key)


def compare_keys(
    db_key: str | None,
    readings: Sequence[ChainReading],
    *,
    older_verified: Sequence[str] = (),
) -> KeyComparison:
    """Newest verified key of the backup vs every chain source that answered."""
    db_key = normalise_key_hex(db_key)
    readings = tuple(readings)
    answered = [r for r in readings if r.answered]
    chain_values = {normalise_key_hex(r.key_hex) for r in answered}
    disagree = len(chain_values) > 1
    if not readings:
        return KeyComparison("skipped", "key not compared with the chain (--no-chain)", db_key)
    if not answered:
        why = "; ".join(f"{r.source}: {r.error}" for r in readings)
        return KeyComparison("unknown", f"no chain source answered ({why})", db_key, readings)
    if db_key is None:
        return KeyComparison(
            "unknown", "the backup holds no verified DKG key", db_key, readings, disagree
        )
    matching = [r for r in answered if normalise_key_hex(r.key_hex) == db_key]
    names = " and ".join(_source_name(r.source) for r in matching)
    if disagree:
        if matching:
            return KeyComparison(
                "unknown",
                f"the chain sources disagree; the backup key matches only the {names}",
                db_key,
                readings,
                True,
            )
        return KeyComparison(
            "mismatch",
            "the backup key matches no chain source (and the chain sources disagree)",
            db_key,
            readings,
            True,
        )
    chain_key = next(iter(chain_values))
    if matching:
        return KeyComparison("match", f"backup key matches the {names}", db_key, readings)
    if chain_key is None:
        summary = "the chain has no aggregate key yet (pre-DKG), but the backup has one"
    elif chain_key in {normalise_key_hex(k) for k in older_verified}:
        summary = (
            "the chain key is an OLDER verified key in this backup: the newest verified key "
            "has not been rotated in on chain"
        )
    else:
        summary = (
            "the chain key is not in this backup: it predates the latest key rotation, or "
            "belongs to another signer"
        )
    return KeyComparison("mismatch", summary, db_key, readings)


def _source_name(source: str) -> str:
    return {"node": "own Stacks node", "api": "independent API"}.get(source, source)


async def _read_chain(profile: Profile, secrets: SecretStore) -> list[ChainReading]:
    deployer = profile.registry_deployer
    clients: list[tuple[str, str, RegistryClient, str | None]] = [
        (
            "node",
            profile.stacks.rpc_url,
            StacksNode(profile.stacks.rpc_url, deployer=deployer, timeout=profile.stacks.timeout),
            None,
        )
    ]
    api = profile.chain_api
    if api.url:
        note = None
        key = None
        try:
            key = secrets.get(api.api_key)
            if key is not None:
                # Not a header value (two lines, non-ASCII): ask without it, say why.
                check_header_secret(key, "the chain API key")
        except SourceError as exc:
            key = None
            note = f"API key unavailable ({exc.title}); asked without it"
        clients.append(
            (
                "api",
                api.url,
                ChainApi(api.url, deployer=deployer, api_key=key, timeout=api.timeout),
                note,
            )
        )

    async def one(source: str, url: str, client: RegistryClient, note: str | None) -> ChainReading:
        try:
            reading = await client.aggregate_key()
        except SourceError as exc:
            detail = f": {exc.detail}" if exc.detail else ""
            return ChainReading(
                source, url, None, clean_text(f"{exc.title}{detail}", 300), exc.evidence
            )
        finally:
            await client.aclose()
        evidence = reading.evidence
        if note:
            evidence = evidence.with_decoded(f"{evidence.decoded} ({note})".strip())
        return ChainReading(source, url, reading.hex, None, evidence)

    return list(await asyncio.gather(*(one(*c) for c in clients)))


# -- background work -----------------------------------------------------------------------------


class _Background(Generic[T]):
    """A daemon thread with a result: a stuck helper must never keep the process alive."""

    def __init__(self, name: str, func: Callable[[], T]) -> None:
        self._func = func
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._func()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self, timeout: float | None = None) -> T:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("background work did not finish")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def sha256_of(path: Path, cancel: threading.Event | None = None) -> str | None:
    """sha256 of a dump file; of a dump directory, over its files' names and contents."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with file.open("rb") as f:
            while chunk := f.read(1 << 22):
                if cancel is not None and cancel.is_set():
                    return None
                digest.update(chunk)
    return digest.hexdigest()


def _live_counts(profile: Profile, secrets: SecretStore) -> tuple[dict[str, int | None], str]:
    try:
        password = secrets.get(profile.db.password)
        counts = SignerDatabase.from_profile(profile.db, password).row_counts(MAIN_TABLES)
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        return {}, clean_text(f"live DB not compared ({exc.title}{detail})", 300)
    return counts.as_dict(), f"live DB {profile.db.host}:{profile.db.port}/{profile.db.dbname}"


# -- binaries ------------------------------------------------------------------------------------


def pick_for_dump(info: DumpInfo) -> PgInstall:
    """Binaries new enough for the dump (and, for plain dumps, a psql that reads them)."""
    installs = find_installations()
    if not installs:
        raise BinariesError(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): install the "
            "'postgresql' package, or reinstall signer-tui so its embedded PostgreSQL is present"
        )
    needed = info.pg_dump_major
    usable = [i for i in installs if needed is None or i.major >= needed]
    if not usable:
        newest = max(i.major for i in installs)
        raise BinariesError(
            f"this dump was written by pg_dump {info.pg_dump_version or needed} and needs "
            f"PostgreSQL {needed} or newer to restore, but the newest installed is {newest}: "
            f"install postgresql-{needed} (e.g. from apt.postgresql.org)"
        )
    if info.format.is_plain and info.uses_restrict:
        readers = [i for i in usable if psql_reads_restrict(i)]
        if not readers:
            raise BinariesError(
                f"this plain dump uses psql's \\restrict (pg_dump {info.pg_dump_version}); "
                f"no installed psql understands it ({', '.join(i.version for i in usable)}): "
                "install a current minor release of PostgreSQL"
            )
        usable = readers
    system = [i for i in usable if not i.embedded]
    return system[0] if system else usable[0]


# -- the checks on the restored database ---------------------------------------------------------


def _finding(
    id_: str,
    status: Status,
    summary: str,
    advice: str = "",
    evidence: Sequence[Evidence] = (),
    profile: str = "",
    details: Sequence[tuple[str, str]] = (),
) -> Finding:
    return Finding(
        id=id_,
        status=status,
        summary=summary,
        advice=advice,
        evidence=tuple(evidence),
        profile=profile,
        observed_at=utcnow(),
        details=tuple(details),
    )


def _releases_for(last: str) -> str:
    tags = [tag for tag, mig in LAST_MIGRATION_BY_RELEASE.items() if mig == last]
    if not tags:
        return ""
    return tags[0] if len(tags) == 1 else f"{tags[0]} to {tags[-1]}"


def check_restored(facts: SignerDbFacts, profile_name: str) -> list[Finding]:
    """Findings about the restored database itself (pure: facts in, findings out)."""
    found: list[Finding] = []
    problems = dict(facts.problems)

    migrations = facts.migrations
    if migrations is None:
        found.append(
            _finding(
                "verify.migrations",
                Status.UNKNOWN,
                f"migrations ledger not readable ({problems.get('migrations', 'query failed')})",
                profile=profile_name,
            )
        )
    elif not migrations.table_present:
        found.append(
            _finding(
                "verify.migrations",
                Status.CRIT,
                "no public.__sbtc_migrations in the backup (dumped with -n sbtc_signer?)",
                "Dump the whole database (no -n): a signer restored from this backup with "
                "--migrate-db would re-run 0001 and fail.",
                [migrations.evidence],
                profile_name,
            )
        )
    elif not migrations.keys:
        found.append(
            _finding(
                "verify.migrations",
                Status.CRIT,
                "the migrations ledger in the backup is empty",
                "A signer restored from it would try to re-run every migration.",
                [migrations.evidence],
                profile_name,
            )
        )
    elif migrations.last in KNOWN_LAST_MIGRATIONS:
        releases = _releases_for(migrations.last)
        found.append(
            _finding(
                "verify.migrations",
                Status.OK,
                f"{len(migrations.keys)} migrations, last {migrations.last} ({releases})",
                evidence=[migrations.evidence],
                profile=profile_name,
            )
        )
    else:
        found.append(
            _finding(
                "verify.migrations",
                Status.WARN,
                f"last migration {migrations.last} is not the last one of any known release",
                "A newer signer release than this console knows, or a hand-applied migration.",
                [migrations.evidence],
                profile_name,
            )
        )

    shares = facts.encrypted_shares
    if shares is None or shares.present is None:
        found.append(
            _finding(
                "verify.shares",
                Status.UNKNOWN,
                "no verified DKG row: encrypted shares not checked"
                if shares is not None
                else f"encrypted shares not readable ({problems.get('encrypted_shares', '')})",
                evidence=[shares.evidence] if shares is not None else [],
                profile=profile_name,
            )
        )
    elif shares.present:
        found.append(
            _finding(
                "verify.shares",
                Status.OK,
                f"encrypted_private_shares present ({shares.length} bytes)",
                evidence=[shares.evidence],
                profile=profile_name,
            )
        )
    else:
        found.append(
            _finding(
                "verify.shares",
                Status.CRIT,
                "the newest verified key's encrypted_private_shares is EMPTY",
                "This backup cannot bring the signer back: it holds no key shares.",
                [shares.evidence],
                profile_name,
            )
        )

    newest = facts.newest_share
    verified = facts.verified_keys
    if newest is not None and newest.share is not None:
        share = newest.share
        newest_verified = verified.newest.hex() if verified and verified.newest else None
        if share.status == "unverified" and share.key_hex != newest_verified:
            found.append(
                _finding(
                    "verify.newest_share",
                    Status.WARN,
                    f"newest DKG row {short_key(share.key_hex)} is unverified "
                    f"({share.created_at:%Y-%m-%d %H:%M} UTC)",
                    "A DKG round was in flight when this backup was taken: take a new backup "
                    "once it is verified.",
                    [newest.evidence],
                    profile_name,
                )
            )
        else:
            found.append(
                _finding(
                    "verify.newest_share",
                    Status.OK,
                    f"newest DKG row is {share.status} ({share.created_at:%Y-%m-%d %H:%M} UTC)",
                    evidence=[newest.evidence],
                    profile=profile_name,
                )
            )
    return found


def compare_row_counts(
    backup: dict[str, int | None],
    live: dict[str, int | None],
    *,
    shrink_ratio: float = 0.5,
) -> tuple[list[RowCountRow], list[str]]:
    """Rows per main table, backup vs live; the problems worth a WARN."""
    rows = [RowCountRow(t, backup.get(t), live.get(t)) for t in MAIN_TABLES]
    problems = []
    for row in rows:
        if row.backup is None or row.live is None:
            continue
        if row.table == "dkg_shares" and row.live > row.backup:
            problems.append(
                f"dkg_shares: the live DB has {row.live - row.backup} newer DKG row(s) than "
                "the backup"
            )
        elif row.backup > row.live:
            problems.append(f"{row.table}: backup {row.backup} rows > live {row.live}")
        elif row.live >= 100 and row.backup < row.live * shrink_ratio:
            problems.append(f"{row.table}: backup {row.backup} rows, live {row.live}")
    return rows, problems


# -- the verification ----------------------------------------------------------------------------


class _Clock:
    def __init__(self, progress: ProgressCallback | None) -> None:
        self.started = time.monotonic()
        self.progress = progress
        self.timings: list[tuple[str, float]] = []
        self._phase_started = self.started

    def emit(
        self,
        phase: str,
        message: str,
        done: int | None = None,
        total: int | None = None,
        unit: str = "",
    ) -> None:
        if self.progress is not None:
            self.progress(
                Progress(phase, message, done, total, unit, time.monotonic() - self.started)
            )

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings.append((name, round(now - self._phase_started, 3)))
        self._phase_started = now

    def finish(self) -> None:
        self.timings.append(("total", round(self.elapsed, 3)))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


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


def _outcome_without_restore(
    request: VerifyRequest,
    path: Path,
    verdict: str,
    summary: str,
    finding: Finding,
    clock: _Clock,
    started_at: datetime,
    dump: DumpInfo | None = None,
    sha256: str | None = None,
) -> VerificationOutcome:
    clock.finish()
    outcome = VerificationOutcome(
        verdict=verdict,
        summary=summary,
        findings=(finding,),
        path=str(path),
        dump=dump,
        sha256=sha256,
        timings=tuple(clock.timings),
    )
    return _record(request, outcome, started_at, clock)


def verify_backup(
    request: VerifyRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> VerificationOutcome:
    """Verify one dump. Raises VerifyUsageError (bad request) or VerifyCancelled; every other
    failure is an outcome (failed / unknown) with findings saying why."""
    cancel = cancel or threading.Event()
    clock = _Clock(progress)
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
    hasher = _Background("verify-sha256", lambda: sha256_of(path, cancel))

    def early(verdict: str, summary: str, finding: Finding) -> VerificationOutcome:
        digest = _safe_result(hasher, cancel)
        return _outcome_without_restore(
            request, path, verdict, summary, finding, clock, started_at, info, digest
        )

    fmt = info.format
    if fmt in (DumpFormat.EMPTY, DumpFormat.NOT_A_DUMP):
        what = "an empty file" if fmt is DumpFormat.EMPTY else "not a pg_dump backup"
        summary = f"{path.name} is {what}" + (f": {info.note}" if info.note else "")
        return early(
            "failed",
            summary,
            _finding(
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
            _finding("verify.format", Status.UNKNOWN, summary, profile=profile_name),
        )
    if info.intact is False:
        summary = f"{path.name} ({info.describe}) is damaged: {'; '.join(info.problems)}"
        return early(
            "failed",
            summary,
            _finding(
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
            _finding("verify.binaries", Status.UNKNOWN, str(exc), profile=profile_name),
        )

    chain_job: _Background[list[ChainReading]] | None = None
    if request.chain and request.profile is not None:
        chain_profile = request.profile
        chain_job = _Background(
            "verify-chain", lambda: asyncio.run(_read_chain(chain_profile, secrets))
        )
    live_job: _Background[tuple[dict[str, int | None], str]] | None = None
    if request.profile is not None:
        live_profile = request.profile
        live_job = _Background("verify-live", lambda: _live_counts(live_profile, secrets))

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
                _finding("verify.cluster", Status.UNKNOWN, str(exc), profile=profile_name),
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
        if result.ok:
            clock.emit("checks", "querying the restored database")
            facts, checks_error, not_signer = _read_restored(cluster, result.dbname)
            clock.lap("checks")
    finally:
        clock.emit("cleanup", "stopping the scratch cluster")
        cluster.stop()
        clock.lap("cleanup")

    digest = _safe_result(hasher, cancel)
    return _assess(
        request,
        path,
        info,
        install,
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


def _safe_result(job: _Background[T], cancel: threading.Event, timeout: float = 600) -> T | None:
    if cancel.is_set():
        return None
    try:
        return job.result(timeout)
    except (OSError, TimeoutError):
        return None


def _read_restored(cluster: ScratchCluster, dbname: str) -> tuple[SignerDbFacts | None, str, bool]:
    """(facts, error text, restored DB has no sbtc_signer schema)."""
    try:
        with psycopg.connect(
            cluster.conninfo(dbname),
            autocommit=True,
            connect_timeout=30,
            options=f"-c statement_timeout={CHECKS_TIMEOUT_MS}",
        ) as conn:
            return read_signer_facts(conn, source="restored backup"), "", False
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        return None, clean_text(f"{exc.title}{detail}", 300), isinstance(exc, DatabaseNoSchema)
    except psycopg.Error as exc:
        return None, clean_text(str(exc), 300), False


def _assess(
    request: VerifyRequest,
    path: Path,
    info: DumpInfo,
    install: PgInstall,
    result: RestoreResult | None,
    facts: SignerDbFacts | None,
    checks_error: str,
    not_signer: bool,
    chain_job: _Background[list[ChainReading]] | None,
    live_job: _Background[tuple[dict[str, int | None], str]] | None,
    digest: str | None,
    clock: _Clock,
    started_at: datetime,
    cancel: threading.Event,
) -> VerificationOutcome:
    if cancel.is_set():
        raise VerifyCancelled("cancelled")
    profile = request.profile
    name = profile.name if profile else ""
    findings: list[Finding] = []
    base: dict[str, Any] = {
        "path": str(path),
        "dump": info,
        "sha256": digest,
        "postgres": install.label,
        "restore": result,
    }
    assert result is not None
    if not result.ok:
        why = result.errors[-1] if result.errors else f"exit code {result.returncode}"
        if result.inconclusive:
            verdict, status = "unknown", Status.UNKNOWN
            summary = f"could not determine: the restore did not run to the end ({why})"
            advice = "Run again; check free space in $TMPDIR and the PostgreSQL binaries."
        else:
            verdict, status = "failed", Status.CRIT
            summary = f"restore FAILED: {why}"
            advice = "The dump does not restore: take a new backup and check the backup job."
        findings.append(
            _finding(
                "verify.restore",
                status,
                summary,
                advice,
                [_restore_evidence(result)],
                name,
                [("error", line) for line in result.errors],
            )
        )
        clock.finish()
        outcome = VerificationOutcome(
            verdict=verdict,
            summary=summary,
            findings=tuple(findings),
            timings=tuple(clock.timings),
            **base,
        )
        return _record(request, outcome, started_at, clock)
    findings.append(
        _finding(
            "verify.restore",
            Status.OK,
            f"{info.describe}: {result.summary}",
            evidence=[_restore_evidence(result)],
            profile=name,
        )
    )
    if facts is None:
        if not_signer:
            # It restored, but it is not the signer's database: a wrong or empty backup.
            verdict, status = "failed", Status.CRIT
            summary = f"no sbtc_signer schema: not a dump of the signer DB ({checks_error})"
        else:
            verdict, status = "unknown", Status.UNKNOWN
            summary = f"could not determine: the restored DB could not be read ({checks_error})"
        findings.append(_finding("verify.checks", status, summary, profile=name))
        clock.finish()
        outcome = VerificationOutcome(
            verdict=verdict,
            summary=summary,
            findings=tuple(findings),
            facts=None,
            timings=tuple(clock.timings),
            **base,
        )
        return _record(request, outcome, started_at, clock)
    findings.extend(check_restored(facts, name))

    # Row counts against the live DB (never fatal).
    live: dict[str, int | None] = {}
    live_note = "no profile: live DB not compared"
    if live_job is not None:
        try:
            live, live_note = live_job.result(timeout=_live_wait(profile))
        except TimeoutError:
            live_note = "live DB not compared (no answer in time)"
    backup_counts = facts.row_counts.as_dict() if facts.row_counts is not None else {}
    rows, count_problems = compare_row_counts(
        backup_counts,
        live,
        shrink_ratio=profile.thresholds.backup_shrink_ratio if profile else 0.5,
    )
    if live:
        status = Status.WARN if count_problems else Status.OK
        summary = "; ".join(count_problems) if count_problems else "row counts consistent with live"
        findings.append(
            _finding(
                "verify.row_counts",
                status,
                summary,
                "Take a new backup: the live database has moved on since this one."
                if count_problems
                else "",
                [facts.row_counts.evidence] if facts.row_counts is not None else [],
                name,
            )
        )

    # The key.
    verified = facts.verified_keys
    db_key = verified.newest.hex() if verified is not None and verified.newest else None
    older = [k.hex() for k in verified.keys[1:]] if verified is not None else []
    readings: list[ChainReading] = []
    if chain_job is not None:
        clock.emit("chain", "reading the aggregate key on chain")
        try:
            readings = chain_job.result(timeout=_chain_wait(profile))
        except TimeoutError:
            readings = [
                ChainReading(
                    "node", profile.stacks.rpc_url if profile else "", None, "no answer in time"
                )
            ]
        except Exception as exc:  # an unexpected client bug must not lose the restore result
            readings = [ChainReading("node", "", None, f"unexpected {type(exc).__name__}: {exc}")]
        clock.lap("chain")
    if request.chain and profile is None:
        keys = KeyComparison("unknown", "no profile: the chain sources are unknown", db_key)
    elif verified is None:
        keys = KeyComparison(
            "unknown", "the verified-key query failed on the restored database", None
        )
    else:
        keys = compare_keys(db_key, readings, older_verified=older)
    findings.extend(_key_findings(keys, verified, name))

    verdict, summary = _verdict(keys, findings)
    clock.finish()
    outcome = VerificationOutcome(
        verdict=verdict,
        summary=summary,
        findings=tuple(findings),
        facts=facts,
        keys=keys,
        row_counts=tuple(rows),
        live_note=live_note,
        timings=tuple(clock.timings),
        **base,
    )
    return _record(request, outcome, started_at, clock)


def _chain_wait(profile: Profile | None) -> float:
    if profile is None:
        return 5.0
    return max(profile.stacks.timeout, profile.chain_api.timeout) * 2 + 5


def _live_wait(profile: Profile | None) -> float:
    if profile is None:
        return 5.0
    return profile.db.connect_timeout + profile.db.statement_timeout * 2 + 5


def _restore_evidence(result: RestoreResult) -> Evidence:
    return Evidence(
        source="scratch PostgreSQL",
        request=" ".join(result.command) if result.command else result.tool,
        observed_at=utcnow(),
        status=result.returncode,
        raw="\n".join(result.errors),
        decoded=result.summary,
        elapsed_ms=round(result.elapsed_s * 1000, 1),
        error="" if result.ok else (result.errors[-1] if result.errors else "failed"),
    )


def _key_findings(
    keys: KeyComparison, verified: VerifiedKeys | None, profile: str
) -> list[Finding]:
    evidence = [r.evidence for r in keys.readings if r.evidence is not None]
    if verified is not None:
        evidence.insert(0, verified.evidence)
    details = [("backup", keys.db_key or "none")] + [
        (
            _source_name(r.source),
            r.key_hex or ("no key (pre-DKG)" if r.answered else f"error: {r.error}"),
        )
        for r in keys.readings
    ]
    status = {
        "match": Status.OK,
        "mismatch": Status.CRIT,
        "unknown": Status.UNKNOWN,
        "skipped": Status.UNKNOWN,
    }[keys.status]
    advice = {
        "mismatch": "Do not rely on this backup for the current key: take a new backup now and "
        "compare again; if the live DB disagrees with the chain too, escalate.",
        "unknown": "Check that the Stacks node and the chain API are reachable, then run again.",
        "skipped": "Run without --no-chain to compare the key with the chain.",
    }.get(keys.status, "")
    found = [_finding("verify.key", status, keys.summary, advice, evidence, profile, details)]
    if keys.sources_disagree:
        found.append(
            _finding(
                "verify.chain_sources",
                Status.CRIT,
                "own node and independent API report different aggregate keys",
                "One of them is on a fork or lying: check the node's sync state and peers.",
                evidence,
                profile,
                details[1:],
            )
        )
    failed = [r for r in keys.readings if not r.answered]
    if keys.status == "match" and failed:
        found.append(
            _finding(
                "verify.chain_sources",
                Status.WARN,
                "only one chain source answered: "
                + "; ".join(f"{_source_name(r.source)}: {r.error}" for r in failed),
                "The comparison rests on a single source; check the other one.",
                evidence,
                profile,
            )
        )
    return found


def _verdict(keys: KeyComparison, findings: Sequence[Finding]) -> tuple[str, str]:
    crit_content = [
        f
        for f in findings
        if f.status is Status.CRIT and f.id in ("verify.migrations", "verify.shares")
    ]
    key_part = f"key: {keys.summary}"
    if keys.status == "mismatch":
        return "mismatch", f"MISMATCH — {keys.summary}"
    if crit_content:
        return "failed", f"{crit_content[0].summary} ({key_part})"
    if keys.status == "match":
        return "verified", f"restored; {keys.summary}"
    return "unknown", f"could not determine: {keys.summary}"


def _record(
    request: VerifyRequest, outcome: VerificationOutcome, started_at: datetime, clock: _Clock
) -> VerificationOutcome:
    clock.emit("done", outcome.summary)
    keys = outcome.keys
    problems = tuple(f"{f.id}: {f.summary}" for f in outcome.findings if f.status is not Status.OK)
    record = VerificationRecord(
        profile=request.profile.name if request.profile else "",
        started_at=started_at,
        finished_at=utcnow(),
        backup=outcome.path,
        sha256=outcome.sha256,
        size_bytes=outcome.dump.size_bytes if outcome.dump else None,
        duration_s=clock.elapsed,
        verdict=outcome.verdict,
        summary=outcome.summary,
        db_key=keys.db_key if keys else None,
        chain_keys={r.source: r.key_hex for r in keys.readings if r.answered} if keys else {},
        problems=problems,
    )
    written: str | None = None
    if request.record_history:
        try:
            written = str(history.append(record, request.history_path))
        except OSError as exc:
            outcome = _with_finding(
                outcome,
                _finding(
                    "verify.history",
                    Status.WARN,
                    f"could not append to the verification history: {exc.strerror or exc}",
                ),
            )
    return replace(outcome, record=record, history_file=written)


def _with_finding(outcome: VerificationOutcome, finding: Finding) -> VerificationOutcome:
    return replace(outcome, findings=(*outcome.findings, finding))
