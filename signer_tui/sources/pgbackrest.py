"""pgBackRest: `info --output=json` into a `BackupInventory`, `verify --output=text` parsed.

The JSON of `info` is pgBackRest's stable contract (its text output is not). `verify` has no
JSON output and exits 0 even when it found errors (pgbackrest issue #2502), so its text is
parsed and the status line decides. The parsers are pure functions of text; `PgBackRest` runs
the command. `run_tool` (also used by the Barman reader) runs any such command with a hard
timeout that kills the whole process group, so a `sudo -u postgres ...` wrapper cannot leave
a hung child behind.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from signer_tui.config import Backups
from signer_tui.model import Evidence, clean_text
from signer_tui.pgdump.proc import MAX_OUTPUT, ToolMissing, ToolRun, ToolTimedOut, run_captured
from signer_tui.sources.backup_types import BackupInventory, BackupRecord
from signer_tui.sources.errors import (
    SourceError,
    SourceProtocolError,
    SourceTimeout,
    SourceTooLarge,
    ToolFailed,
    ToolNotInstalled,
)
from signer_tui.sources.pgbackrest_verify import (
    VerifyReport,
    apply_verify,
    parse_verify,
)

DEFAULT_COMMAND = ("pgbackrest",)
INFO_TIMEOUT = 60.0
# verify reads every file in the repository: minutes to hours on a big one.
VERIFY_TIMEOUT = 6 * 3600.0

# -- running a backup tool -------------------------------------------------------------------


def run_tool(
    argv: Sequence[str], *, tool: str, timeout: float, max_bytes: int = MAX_OUTPUT
) -> ToolRun:
    """`pgdump.proc.run_captured` with the failures as SourceErrors for a pane row.

    A missing binary is `ToolNotInstalled`; a timeout is `SourceTimeout`. A non-zero exit is
    returned, not raised: for some tools (barman check) it is an ordinary answer.
    """
    argv = tuple(argv)
    try:
        run = run_captured(argv, timeout=timeout)
    except ToolMissing:
        raise ToolNotInstalled(
            f"{tool} not installed (or set backups.command)", f"cannot run {shlex.join(argv)}"
        ) from None
    except ToolTimedOut as exc:
        raise SourceTimeout(detail=str(exc)) from None
    except OSError as exc:
        raise ToolFailed(f"cannot run {tool}", f"{shlex.join(argv)}: {exc.strerror}") from None
    if len(run.stdout) > max_bytes:
        raise SourceTooLarge(
            "output too large", f"{tool} printed {len(run.stdout)} bytes", run.evidence(tool)
        )
    return run


# -- info ----------------------------------------------------------------------------------

# Stanza and repo status codes (pgBackRest src/command/info/info.c).
STATUS_MESSAGES = {
    0: "ok",
    1: "missing stanza path",
    2: "no valid backups",
    3: "missing stanza data",
    4: "different across repos",
    5: "database mismatch across repos",
    6: "requested backup not found",
    99: "other",
}


@dataclass(frozen=True)
class BackupLock:
    """`status.lock.backup`: held while a backup (or expire) runs, with progress in bytes."""

    held: bool
    size: int | None = None
    size_done: int | None = None

    @property
    def percent(self) -> float | None:
        if not self.size or self.size_done is None:
            return None
        return 100.0 * self.size_done / self.size


@dataclass(frozen=True)
class PgBackRestRepo:
    key: int
    code: int
    message: str
    cipher: str | None = None


@dataclass(frozen=True)
class PgBackRestArchive:
    id: str  # e.g. "17-1"
    min: str | None  # WAL segment names; None when the archive holds no WAL
    max: str | None
    repo_key: int | None = None


@dataclass(frozen=True)
class PgBackRestBackup:
    label: str
    type: str  # full | diff | incr
    prior: str | None
    started_at: datetime | None
    stopped_at: datetime | None
    size: int | None  # size of the database this backup restores
    delta: int | None
    repo_size: int | None  # what it takes in the repository (compressed)
    repo_delta: int | None
    error: bool | None  # page checksum errors found; None: this pgBackRest did not say
    archive_start: str | None = None
    archive_stop: str | None = None
    repo_key: int | None = None
    backrest_version: str | None = None


@dataclass(frozen=True)
class PgBackRestStanza:
    name: str
    code: int
    message: str
    backup_lock: BackupLock
    restore_lock_held: bool
    repos: tuple[PgBackRestRepo, ...]
    archives: tuple[PgBackRestArchive, ...]
    backups: tuple[PgBackRestBackup, ...]  # as pgBackRest lists them: oldest first
    db_versions: tuple[str, ...] = ()
    cipher: str | None = None

    @property
    def status_text(self) -> str:
        return self.message or STATUS_MESSAGES.get(self.code, f"code {self.code}")


def _bad(what: str) -> SourceProtocolError:
    return SourceProtocolError("unexpected pgbackrest output", what)


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"{what} is not a list")
    return value


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{what} is not an integer")
    return value


def _str(value: Any) -> str | None:
    return clean_text(str(value), 500) if value is not None else None


def _epoch(value: Any, what: str) -> datetime | None:
    seconds = _int(value, what)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _parse_lock(status: dict[str, Any]) -> tuple[BackupLock, bool]:
    lock = status.get("lock")
    if lock is None:
        return BackupLock(False), False
    lock = _obj(lock, "status.lock")
    backup = _obj(lock.get("backup") or {}, "status.lock.backup")
    restore = _obj(lock.get("restore") or {}, "status.lock.restore")
    return (
        BackupLock(
            held=bool(backup.get("held")),
            size=_int(backup.get("size"), "lock size"),
            size_done=_int(backup.get("size-cplt"), "lock size-cplt"),
        ),
        bool(restore.get("held")),
    )


def _parse_backup(item: Any) -> PgBackRestBackup:
    entry = _obj(item, "backup entry")
    label = entry.get("label")
    if not isinstance(label, str) or not label:
        raise _bad("backup entry without a label")
    timestamp = _obj(entry.get("timestamp") or {}, "backup timestamp")
    info = _obj(entry.get("info") or {}, "backup info")
    repository = _obj(info.get("repository") or {}, "backup info.repository")
    archive = _obj(entry.get("archive") or {}, "backup archive")
    database = _obj(entry.get("database") or {}, "backup database")
    backrest = _obj(entry.get("backrest") or {}, "backup backrest")
    error = entry.get("error")
    if error is not None and not isinstance(error, bool):
        raise _bad("backup error flag is not a boolean")
    return PgBackRestBackup(
        label=clean_text(label, 100),
        type=_str(entry.get("type")) or "?",
        prior=_str(entry.get("prior")),
        started_at=_epoch(timestamp.get("start"), "timestamp.start"),
        stopped_at=_epoch(timestamp.get("stop"), "timestamp.stop"),
        size=_int(info.get("size"), "info.size"),
        delta=_int(info.get("delta"), "info.delta"),
        repo_size=_int(repository.get("size"), "repository.size"),
        repo_delta=_int(repository.get("delta"), "repository.delta"),
        error=error,
        archive_start=_str(archive.get("start")),
        archive_stop=_str(archive.get("stop")),
        repo_key=_int(database.get("repo-key"), "database.repo-key"),
        backrest_version=_str(backrest.get("version")),
    )


def _parse_stanza(item: Any) -> PgBackRestStanza:
    entry = _obj(item, "stanza entry")
    name = entry.get("name")
    if not isinstance(name, str):
        raise _bad("stanza entry without a name")
    status = _obj(entry.get("status"), f"stanza {name} status")
    code = _int(status.get("code"), "status.code")
    if code is None:
        raise _bad(f"stanza {name} has no status code")
    backup_lock, restore_held = _parse_lock(status)
    repos = []
    for repo in _list(entry.get("repo"), "repo"):
        repo = _obj(repo, "repo entry")
        repo_status = _obj(repo.get("status") or {}, "repo status")
        repos.append(
            PgBackRestRepo(
                key=_int(repo.get("key"), "repo key") or 0,
                code=_int(repo_status.get("code"), "repo status code") or 0,
                message=_str(repo_status.get("message")) or "",
                cipher=_str(repo.get("cipher")),
            )
        )
    archives = []
    for archive in _list(entry.get("archive"), "archive"):
        archive = _obj(archive, "archive entry")
        database = _obj(archive.get("database") or {}, "archive database")
        archives.append(
            PgBackRestArchive(
                id=_str(archive.get("id")) or "?",
                min=_str(archive.get("min")),
                max=_str(archive.get("max")),
                repo_key=_int(database.get("repo-key"), "archive repo-key"),
            )
        )
    versions = tuple(
        _str(_obj(db, "db entry").get("version")) or "?" for db in _list(entry.get("db"), "db")
    )
    return PgBackRestStanza(
        name=clean_text(name, 100),
        code=code,
        message=_str(status.get("message")) or "",
        backup_lock=backup_lock,
        restore_lock_held=restore_held,
        repos=tuple(repos),
        archives=tuple(archives),
        backups=tuple(_parse_backup(b) for b in _list(entry.get("backup"), "backup")),
        db_versions=versions,
        cipher=_str(entry.get("cipher")),
    )


def parse_info(text: str) -> tuple[PgBackRestStanza, ...]:
    """Parse `pgbackrest --output=json info`: a JSON array with one object per stanza."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SourceProtocolError("malformed JSON", f"pgbackrest info: {exc}") from None
    return tuple(_parse_stanza(item) for item in _list(data, "info output"))


def _first_line(text: str) -> str:
    return clean_text(text.strip().splitlines()[0] if text.strip() else "", 200)


def stanza_problems(stanza: PgBackRestStanza) -> tuple[str, ...]:
    """What is wrong with the backup system itself, one line each."""
    problems: list[str] = []
    if stanza.code != 0:
        problems.append(f"stanza {stanza.name}: {stanza.status_text} (code {stanza.code})")
    for repo in stanza.repos:
        # Multi-repo stanzas say only "other"/"mixed"; the detail is on the repo.
        if repo.code != 0:
            message = _first_line(repo.message) or STATUS_MESSAGES.get(repo.code, "")
            problems.append(f"repo{repo.key}: {message} (code {repo.code})")
    if stanza.backups and not any(a.max for a in stanza.archives):
        problems.append(f"stanza {stanza.name}: no WAL in the archive")
    for backup in stanza.backups if any(a.max for a in stanza.archives) else ():
        gap = wal_gap(stanza, backup)
        if gap:
            problems.append(f"backup {backup.label}: {gap}")
    return tuple(problems)


def wal_gap(stanza: PgBackRestStanza, backup: PgBackRestBackup) -> str:
    """Why the archive cannot replay this backup to its end ("" when it can, or is unknown).

    A base backup is restorable only with every WAL segment from its start to its stop; when
    archive-push fails (or the archive was expired too far) info still lists the backup.
    Segment names of one timeline sort like their positions.
    """
    start, stop = backup.archive_start, backup.archive_stop
    if not start or not stop:
        return ""
    ranges = [(a.min, a.max) for a in stanza.archives if a.min and a.max]
    if not ranges:
        return f"WAL {start}..{stop} is not in the archive: not restorable to its end"
    for low, high in ranges:
        if low <= start and stop <= high:
            return ""
    held = ", ".join(f"{low}..{high}" for low, high in ranges)
    return (
        f"WAL {start}..{stop} is not all in the archive (it holds {held}): "
        "not restorable to its end"
    )


def describe(stanza: PgBackRestStanza) -> str:
    parts = [f"stanza {stanza.name}: {stanza.status_text}", f"{len(stanza.backups)} backup(s)"]
    if stanza.backups:
        parts.append(f"newest {stanza.backups[-1].label}")
    for archive in stanza.archives:
        parts.append(f"WAL {archive.id} {archive.min or '-'}..{archive.max or '-'}")
    lock = stanza.backup_lock
    if lock.held:
        percent = lock.percent
        parts.append("backup running" + (f" {percent:.0f} % done" if percent is not None else ""))
    if stanza.restore_lock_held:
        parts.append("restore running")
    return "; ".join(parts)


def backup_record(backup: PgBackRestBackup) -> BackupRecord:
    details = [("type", backup.type)]
    if backup.prior:
        details.append(("prior", backup.prior))
    if backup.repo_size is not None:
        details.append(("repository size", str(backup.repo_size)))
    if backup.started_at is not None:
        details.append(("started", backup.started_at.isoformat()))
    if backup.archive_start or backup.archive_stop:
        details.append(("WAL", f"{backup.archive_start or '-'}..{backup.archive_stop or '-'}"))
    if backup.repo_key is not None:
        details.append(("repo", str(backup.repo_key)))
    if backup.backrest_version:
        details.append(("pgBackRest", backup.backrest_version))
    return BackupRecord(
        kind="pgbackrest",
        name=backup.label,
        finished_at=backup.stopped_at,
        size_bytes=backup.size,
        ok=None if backup.error is None else not backup.error,
        problem="page checksum error(s) detected during backup" if backup.error else "",
        details=tuple(details),
    )


def info_inventory(
    stanza: PgBackRestStanza,
    *,
    evidence: tuple[Evidence, ...] = (),
    observed_at: datetime | None = None,
) -> BackupInventory:
    found = []
    for backup in stanza.backups:
        record = backup_record(backup)
        gap = wal_gap(stanza, backup)
        if gap and record.ok is not False:
            record = replace(record, ok=False, problem=gap)
        found.append(record)
    records = sorted(
        found,
        key=lambda r: (r.finished_at or datetime.min.replace(tzinfo=UTC), r.name),
        reverse=True,
    )
    lock = stanza.backup_lock
    if lock.held:
        # A backup being taken is not in info's list yet: show it, neither good nor bad.
        percent = lock.percent
        done = f", {percent:.0f} % copied" if percent is not None else ""
        running = BackupRecord(
            kind="pgbackrest",
            name="(backup running)",
            finished_at=None,
            size_bytes=lock.size,
            ok=None,
            problem=f"backup in progress{done}",
        )
        records = [running, *records]
    return BackupInventory(
        kind="pgbackrest",
        location=f"stanza {stanza.name}",
        records=tuple(records),
        tool_problems=stanza_problems(stanza),
        evidence=evidence,
        observed_at=observed_at,
    )


# verify results by (command, stanza, label): a backup's files do not change once written.
_VERIFIED: dict[tuple[tuple[str, ...], str, str], VerifyReport] = {}


def clear_verify_cache() -> None:
    _VERIFIED.clear()


# -- the runner ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PgBackRestInfo:
    stanza: PgBackRestStanza
    evidence: Evidence


class PgBackRest:
    """Runs pgBackRest for one stanza. Blocking: call it from a worker thread."""

    def __init__(
        self,
        stanza: str,
        *,
        command: Sequence[str] | None = None,
        timeout: float = INFO_TIMEOUT,
        verify_timeout: float = VERIFY_TIMEOUT,
    ) -> None:
        self.stanza = stanza
        self.command = tuple(command or DEFAULT_COMMAND)
        self.timeout = timeout
        self.verify_timeout = verify_timeout

    @classmethod
    def from_profile(cls, backups: Backups, *, timeout: float = INFO_TIMEOUT) -> PgBackRest:
        if not backups.stanza:
            raise ValueError("backups.stanza is required for pgbackrest")
        return cls(backups.stanza, command=backups.command, timeout=timeout)

    def _run(self, args: Sequence[str], timeout: float) -> ToolRun:
        return run_tool(
            (*self.command, f"--stanza={self.stanza}", *args), tool="pgbackrest", timeout=timeout
        )

    def info(self) -> PgBackRestInfo:
        run = self._run(("--output=json", "info"), self.timeout)
        if run.returncode != 0:
            raise ToolFailed(
                "pgbackrest info failed", run.last_error_line(), run.evidence("pgbackrest")
            )
        try:
            stanzas = parse_info(run.stdout)
        except SourceProtocolError as exc:
            exc.evidence = run.evidence("pgbackrest")
            raise
        for stanza in stanzas:
            if stanza.name == self.stanza:
                return PgBackRestInfo(stanza, run.evidence("pgbackrest", describe(stanza)))
        raise SourceProtocolError(
            "unexpected pgbackrest output",
            f"stanza {self.stanza} is not in the info output",
            run.evidence("pgbackrest"),
        )

    def inventory(self, *, verify: bool = True) -> BackupInventory:
        """`info`, plus `verify` of the newest backup (once per backup: it reads every file
        of it), so a corrupted repository file is a finding, not a surprise at restore time."""
        info = self.info()
        inventory = info_inventory(
            info.stanza, evidence=(info.evidence,), observed_at=info.evidence.observed_at
        )
        newest = next((b.label for b in reversed(info.stanza.backups)), None)
        if not verify or newest is None:
            return inventory
        key = (self.command, self.stanza, newest)
        report = _VERIFIED.get(key)
        if report is None:
            try:
                report = self.verify(newest)
            except SourceError as exc:
                detail = f": {exc.detail}" if exc.detail else ""
                problem = f"verify of {newest} did not run ({exc.title}{detail})"
                return replace(inventory, tool_problems=(*inventory.tool_problems, problem))
            _VERIFIED[key] = report
            while len(_VERIFIED) > 64:
                _VERIFIED.pop(next(iter(_VERIFIED)))
        return apply_verify(inventory, report)

    def verify(self, label: str | None = None) -> VerifyReport:
        args = ["--output=text", "--verbose"]
        if label:
            args.append(f"--set={label}")
        run = self._run((*args, "verify"), self.verify_timeout)
        if run.returncode != 0:  # verify exits 0 on findings: non-zero means it could not run
            raise ToolFailed(
                "pgbackrest verify failed", run.last_error_line(), run.evidence("pgbackrest")
            )
        try:
            report = parse_verify(run.stdout)
        except SourceProtocolError as exc:
            exc.evidence = run.evidence("pgbackrest")
            raise
        decoded = f"verify: status {report.status}" + (
            f"; {len(report.problems)} problem(s)" if report.problems else ""
        )
        return replace(report, evidence=run.evidence("pgbackrest", decoded))
