"""Barman: `barman -f json list-backups SERVER` and `barman -f json check SERVER`.

Quirks kept in mind (barman/output.py, JsonOutputWriter):
* `-f/--format` is a global option: it goes before the command.
* `end_time_timestamp` is a string of epoch seconds; backups not in DONE/WAITING_FOR_WALS
  carry only `backup_id`, `backup_type`, `status` (and `backup_name` when set).
* `check` exits 1 when a check fails; that is an answer, not an error. Check names are
  mangled into keys (lower case, spaces and '-' to '_', dots dropped).
* Errors and warnings land in top-level `_ERROR` / `_WARNING` lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from signer_tui.config import Backups
from signer_tui.model import Evidence, clean_text
from signer_tui.pgdump.proc import ToolRun
from signer_tui.sources.backup_types import BackupInventory, BackupRecord
from signer_tui.sources.errors import SourceError, SourceProtocolError, ToolFailed
from signer_tui.sources.pgbackrest import run_tool

DEFAULT_COMMAND = ("barman",)
TIMEOUT = 60.0

# Statuses of a backup that is still being taken.
RUNNING = ("EMPTY", "STARTED", "SYNCING")


@dataclass(frozen=True)
class BarmanBackup:
    backup_id: str  # a start timestamp such as 20260820T030001: sorts chronologically
    status: str  # EMPTY STARTED WAITING_FOR_WALS DONE SYNCING FAILED
    type: str | None = None  # full | incremental | rsync | snapshot
    name: str | None = None
    end_time: datetime | None = None
    size_bytes: int | None = None
    wal_size_bytes: int | None = None
    retention_status: str | None = None  # VALID, OBSOLETE, KEEP:FULL, '-' ...


@dataclass(frozen=True)
class BarmanCheck:
    key: str  # the mangled check name, e.g. backup_maximum_age
    ok: bool
    hint: str = ""

    @property
    def label(self) -> str:
        return self.key.replace("_", " ")


@dataclass(frozen=True)
class BarmanChecks:
    checks: tuple[BarmanCheck, ...]
    errors: tuple[str, ...] = ()  # the _ERROR list
    warnings: tuple[str, ...] = ()  # the _WARNING list

    @property
    def failed(self) -> tuple[BarmanCheck, ...]:
        return tuple(c for c in self.checks if not c.ok)

    @property
    def problems(self) -> tuple[str, ...]:
        found = [f"{c.label}: FAILED" + (f" ({c.hint})" if c.hint else "") for c in self.failed]
        found += [f"barman: {message}" for message in self.errors]
        found += [f"barman warning: {message}" for message in self.warnings]
        return tuple(found)


def _bad(what: str) -> SourceProtocolError:
    return SourceProtocolError("unexpected barman output", what)


def _load(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SourceProtocolError("malformed JSON", f"barman: {exc}") from None
    if not isinstance(data, dict):
        raise _bad("the output is not a JSON object")
    return data


def _messages(data: dict[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list):
        value = [value]
    return tuple(clean_text(str(item), 300) for item in value)


def _server_part(data: dict[str, Any], server: str) -> Any:
    if server in data:
        return data[server]
    errors = _messages(data, "_ERROR")
    if errors:
        raise ToolFailed("barman error", "; ".join(errors))
    raise _bad(f"server {server} is not in the output")


def _opt_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _bad(f"{what} is not a number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"{what} is not a number: {clean_text(str(value), 40)}") from None


def _text(value: Any) -> str | None:
    return clean_text(str(value), 200) if value is not None else None


def _parse_backup(item: Any) -> BarmanBackup:
    if not isinstance(item, dict):
        raise _bad("a backup entry is not an object")
    backup_id = item.get("backup_id")
    status = item.get("status")
    if not isinstance(backup_id, str) or not isinstance(status, str):
        raise _bad("a backup entry has no backup_id or status")
    # A string of epoch seconds, e.g. "1787195101".
    stamp = _opt_int(item.get("end_time_timestamp"), "end_time_timestamp")
    return BarmanBackup(
        backup_id=clean_text(backup_id, 100),
        status=clean_text(status, 40),
        type=_text(item.get("backup_type")),
        name=_text(item.get("backup_name")),
        end_time=datetime.fromtimestamp(stamp, UTC) if stamp is not None else None,
        size_bytes=_opt_int(item.get("size_bytes"), "size_bytes"),
        wal_size_bytes=_opt_int(item.get("wal_size_bytes"), "wal_size_bytes"),
        retention_status=_text(item.get("retention_status")),
    )


def parse_list_backups(text: str, server: str) -> tuple[BarmanBackup, ...]:
    """Newest first (barman's own order; re-sorted by id to be sure)."""
    entries = _server_part(_load(text), server)
    if not isinstance(entries, list):
        raise _bad(f"backups of {server} are not a list")
    backups = [_parse_backup(item) for item in entries]
    return tuple(sorted(backups, key=lambda b: b.backup_id, reverse=True))


def parse_check(text: str, server: str) -> BarmanChecks:
    data = _load(text)
    part = _server_part(data, server)
    if not isinstance(part, dict):
        raise _bad(f"checks of {server} are not an object")
    checks = []
    for key, value in part.items():
        if not isinstance(value, dict) or "status" not in value:
            raise _bad(f"check {clean_text(str(key), 60)} has no status")
        checks.append(
            BarmanCheck(
                key=clean_text(str(key), 80),
                ok=value["status"] == "OK",
                hint=clean_text(str(value.get("hint") or ""), 300),
            )
        )
    return BarmanChecks(tuple(checks), _messages(data, "_ERROR"), _messages(data, "_WARNING"))


def backup_record(backup: BarmanBackup) -> BackupRecord:
    ok: bool | None
    if backup.status == "DONE":
        ok, problem = True, ""
    elif backup.status == "FAILED":
        ok, problem = False, "backup failed"
    elif backup.status == "WAITING_FOR_WALS":
        # Copied, but not restorable until the WAL it needs has been archived.
        ok, problem = None, "waiting for WALs"
    else:
        ok, problem = None, f"in progress ({backup.status})"
    details = [("status", backup.status)]
    if backup.type:
        details.append(("type", backup.type))
    if backup.name:
        details.append(("name", backup.name))
    if backup.wal_size_bytes is not None:
        details.append(("WAL size", str(backup.wal_size_bytes)))
    if backup.retention_status:
        details.append(("retention", backup.retention_status))
    return BackupRecord(
        kind="barman",
        name=backup.backup_id,
        finished_at=backup.end_time,
        size_bytes=backup.size_bytes,
        ok=ok,
        problem=problem,
        details=tuple(details),
    )


def barman_inventory(
    server: str,
    backups: Sequence[BarmanBackup],
    checks: BarmanChecks | None,
    *,
    check_error: str = "",
    evidence: tuple[Evidence, ...] = (),
    observed_at: datetime | None = None,
) -> BackupInventory:
    problems = checks.problems if checks is not None else ()
    if check_error:
        problems = (*problems, f"barman check: {check_error}")
    return BackupInventory(
        kind="barman",
        location=f"server {server}",
        records=tuple(backup_record(b) for b in backups),
        tool_problems=problems,
        evidence=evidence,
        observed_at=observed_at,
    )


@dataclass(frozen=True)
class BarmanList:
    backups: tuple[BarmanBackup, ...]
    evidence: Evidence


@dataclass(frozen=True)
class BarmanCheckResult:
    checks: BarmanChecks
    evidence: Evidence


class Barman:
    """Runs Barman for one server. Blocking: call it from a worker thread."""

    def __init__(
        self, server: str, *, command: Sequence[str] | None = None, timeout: float = TIMEOUT
    ) -> None:
        self.server = server
        self.command = tuple(command or DEFAULT_COMMAND)
        self.timeout = timeout

    @classmethod
    def from_profile(cls, backups: Backups, *, timeout: float = TIMEOUT) -> Barman:
        if not backups.server:
            raise ValueError("backups.server is required for barman")
        return cls(backups.server, command=backups.command, timeout=timeout)

    def _run(self, subcommand: str) -> ToolRun:
        # -f is a global option of barman: before the sub-command, never after it.
        argv = (*self.command, "-f", "json", subcommand, self.server)
        return run_tool(argv, tool="barman", timeout=self.timeout)

    def _parsed(self, run: ToolRun, what: str) -> dict[str, Any] | None:
        try:
            return _load(run.stdout)
        except SourceProtocolError:
            if run.returncode != 0:
                raise ToolFailed(
                    f"barman {what} failed", run.last_error_line(), run.evidence("barman")
                ) from None
            raise

    def list_backups(self) -> BarmanList:
        run = self._run("list-backups")
        self._parsed(run, "list-backups")
        try:
            backups = parse_list_backups(run.stdout, self.server)
        except SourceError as exc:
            exc.evidence = run.evidence("barman")
            raise
        done = sum(b.status == "DONE" for b in backups)
        decoded = f"server {self.server}: {len(backups)} backup(s), {done} DONE"
        return BarmanList(backups, run.evidence("barman", decoded))

    def check(self) -> BarmanCheckResult:
        run = self._run("check")  # exit code 1 just means a check FAILED
        self._parsed(run, "check")
        try:
            checks = parse_check(run.stdout, self.server)
        except SourceError as exc:
            exc.evidence = run.evidence("barman")
            raise
        decoded = f"server {self.server}: {len(checks.failed)} of {len(checks.checks)} FAILED"
        return BarmanCheckResult(checks, run.evidence("barman", decoded))

    def check_backup(self, backup_id: str) -> ToolRun:
        """`barman check-backup`: is every WAL segment the backup needs in the archive?
        (A failing one is marked FAILED by barman itself, with the reason in show-backup.)"""
        argv = (*self.command, "check-backup", self.server, backup_id)
        return run_tool(argv, tool="barman", timeout=self.timeout)

    def _wal_continuity(
        self, backups: tuple[BarmanBackup, ...]
    ) -> tuple[str, str, Evidence] | None:
        """(backup id, problem or "", evidence) for the newest DONE backup, once per backup."""
        newest = next((b for b in backups if b.status == "DONE"), None)
        if newest is None:
            return None
        key = (self.command, self.server, newest.backup_id)
        if key in _CHECKED:
            return _CHECKED[key]
        run = self.check_backup(newest.backup_id)
        problem = "" if run.returncode == 0 else run.last_error_line()
        if not problem:
            # check-backup exits 0 but demotes a DONE backup whose WAL is missing.
            relisted = self.list_backups().backups
            now = next((b for b in relisted if b.backup_id == newest.backup_id), None)
            if now is not None and now.status != "DONE":
                problem = f"required WAL is missing (barman now says {now.status})"
        found = (newest.backup_id, problem, run.evidence("barman", problem or "WAL complete"))
        _CHECKED[key] = found
        return found

    def inventory(self) -> BackupInventory:
        """The backup list is required; a failing `check` run becomes a tool problem, and so
        does a newest backup whose WAL is not all archived (`check-backup`)."""
        listed = self.list_backups()
        wal: tuple[str, str, Evidence] | None = None
        wal_error = ""
        try:
            wal = self._wal_continuity(listed.backups)
        except SourceError as exc:
            wal_error = f"barman check-backup: {exc.title}"
        if wal is not None and wal[1]:
            listed = self.list_backups()  # check-backup marked it FAILED: show that
        evidence = [listed.evidence]
        if wal is not None:
            evidence.append(wal[2])
        checks: BarmanChecks | None = None
        check_error = ""
        try:
            result = self.check()
            checks = result.checks
            evidence.append(result.evidence)
        except SourceError as exc:
            check_error = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
            if exc.evidence is not None:
                evidence.append(exc.evidence)
        inventory = barman_inventory(
            self.server,
            listed.backups,
            checks,
            check_error=check_error,
            evidence=tuple(evidence),
            observed_at=listed.evidence.observed_at,
        )
        extra = [wal_error] if wal_error else []
        if wal is not None and wal[1]:
            backup_id, problem = wal[0], wal[1]
            extra.append(f"backup {backup_id}: WAL incomplete (check-backup): {problem}")
            records = tuple(
                replace(r, ok=False, problem=f"WAL missing: {problem}")
                if r.ok is not False and r.name == backup_id
                else r
                for r in inventory.records
            )
            inventory = replace(inventory, records=records)
        if extra:
            inventory = replace(inventory, tool_problems=(*inventory.tool_problems, *extra))
        return inventory


# check-backup results by (command, server, backup id).
_CHECKED: dict[tuple[tuple[str, ...], str, str], tuple[str, str, Evidence]] = {}


def clear_check_cache() -> None:
    _CHECKED.clear()
