"""`pgbackrest verify --output=text`: parsed, and applied to an inventory.

`verify` has no JSON output and exits 0 even when it found errors (pgbackrest issue #2502), so
its text is parsed and the status line decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from signer_tui.model import Evidence, clean_text
from signer_tui.sources.backup_types import BackupInventory
from signer_tui.sources.errors import SourceProtocolError

# -- verify --------------------------------------------------------------------------------

COUNTERS = ("missing", "checksum invalid", "size invalid", "other")
BACKUP_STATUSES = ("valid", "invalid", "manifest missing", "in-progress")

_STANZA = re.compile(r"^stanza: (?P<name>.+)$")
_STATUS = re.compile(r"^status: (?P<status>\S+)$")
_ARCHIVE = re.compile(
    r"^archiveId: (?P<id>\S+), total WAL checked: (?P<checked>\d+), "
    r"total valid WAL: (?P<valid>\d+)$"
)
_BACKUP = re.compile(
    r"^backup: (?P<label>\S+), status: (?P<status>valid|invalid|manifest missing|in-progress), "
    r"total files checked: (?P<checked>\d+), total valid files: (?P<valid>\d+)$"
)
_COUNTER = re.compile(r"^(missing|checksum invalid|size invalid|other): (\d+)$")


@dataclass(frozen=True)
class VerifyArchive:
    archive_id: str
    wal_checked: int
    wal_valid: int
    counters: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class VerifyBackup:
    label: str
    status: str  # valid | invalid | manifest missing | in-progress
    files_checked: int
    files_valid: int
    counters: tuple[tuple[str, int], ...] = ()

    @property
    def ok(self) -> bool | None:
        """in-progress backups are skipped by verify: neither good nor bad."""
        if self.status == "in-progress":
            return None
        return self.status == "valid"


@dataclass(frozen=True)
class VerifyReport:
    stanza: str | None
    status: str  # "ok" | "error"
    archives: tuple[VerifyArchive, ...] = ()
    backups: tuple[VerifyBackup, ...] = ()
    messages: tuple[str, ...] = ()  # e.g. "No usable backup.info file"
    evidence: Evidence | None = None

    @property
    def problems(self) -> tuple[str, ...]:
        found: list[str] = []
        for archive in self.archives:
            if archive.wal_checked != archive.wal_valid or any(n for _, n in archive.counters):
                bad = archive.wal_checked - archive.wal_valid
                found.append(
                    f"verify: WAL {archive.archive_id}: {bad} of {archive.wal_checked} invalid"
                    + _counters_text(archive.counters)
                )
        for backup in self.backups:
            if backup.ok is False:
                found.append(
                    f"verify: backup {backup.label} {backup.status}"
                    + _counters_text(backup.counters)
                )
        found.extend(f"verify: {message}" for message in self.messages)
        if self.status != "ok" and not found:
            found.append(f"verify: status {self.status}")
        return tuple(found)


def _counters_text(counters: tuple[tuple[str, int], ...]) -> str:
    shown = [f"{name}: {n}" for name, n in counters if n]
    return f" ({', '.join(shown)})" if shown else ""


def _parse_counters(line: str) -> tuple[tuple[str, int], ...] | None:
    found = []
    for part in line.split(", "):
        match = _COUNTER.match(part)
        if match is None:
            return None
        found.append((match.group(1), int(match.group(2))))
    return tuple(found)


def parse_verify(text: str) -> VerifyReport:
    """Parse `pgbackrest verify --output=text [--verbose]`.

    Without --verbose nothing at all is printed when everything is fine, so empty output is
    status ok. Counter lines follow the archive or backup line they belong to.
    """
    if not text.strip():
        return VerifyReport(stanza=None, status="ok")
    stanza: str | None = None
    status: str | None = None
    archives: list[VerifyArchive] = []
    backups: list[VerifyBackup] = []
    messages: list[str] = []
    last: list[Any] | None = None  # the list whose newest item a counter line belongs to
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if stanza is None and (match := _STANZA.match(line)):
            stanza = clean_text(match["name"], 100)
        elif status is None and (match := _STATUS.match(line)):
            status = match["status"]
        elif match := _ARCHIVE.match(line):
            archives.append(VerifyArchive(match["id"], int(match["checked"]), int(match["valid"])))
            last = archives
        elif match := _BACKUP.match(line):
            backups.append(
                VerifyBackup(
                    match["label"], match["status"], int(match["checked"]), int(match["valid"])
                )
            )
            last = backups
        elif (counters := _parse_counters(line)) is not None and last:
            last[-1] = replace(last[-1], counters=counters)
        elif line in ("archiveId: none found", "backup: none found"):
            last = None
        else:
            messages.append(clean_text(line, 300))
            last = None
    if status is None:
        raise SourceProtocolError(
            "unexpected pgbackrest output", "verify printed no 'status:' line"
        )
    return VerifyReport(
        stanza=stanza,
        status=status,
        archives=tuple(archives),
        backups=tuple(backups),
        messages=tuple(messages),
    )


def apply_verify(inventory: BackupInventory, report: VerifyReport) -> BackupInventory:
    """Mark the inventory's backups with what verify found, and add its problems."""
    by_label = {b.label: b for b in report.backups}
    records = []
    for record in inventory.records:
        result = by_label.get(record.name)
        if result is None or result.ok is None or record.ok is False:
            records.append(record)
        elif result.ok:
            records.append(replace(record, ok=True))
        else:
            problem = f"verify: {result.status}" + _counters_text(result.counters)
            records.append(replace(record, ok=False, problem=problem))
    evidence = inventory.evidence + ((report.evidence,) if report.evidence else ())
    return replace(
        inventory,
        records=tuple(records),
        tool_problems=inventory.tool_problems + report.problems,
        evidence=evidence,
    )
