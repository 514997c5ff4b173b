"""Discovery of pg_dump backups in a directory: what each file is, and whether it is intact.

Files are identified by their bytes (`pgdump.identify`), never by name. For archives the TOC
is parsed and cross-checked against the file size (truncation), then `pg_restore --list` of a
PostgreSQL new enough for the dump confirms that the real tool reads it; plain dumps must end
with pg_dump's "dump complete" trailer; gzip'ed plain dumps are decompressed to their end
(the only way to check their CRC), in parallel and cached by (path, size, mtime) so the
periodic poll does not re-read unchanged files. Records come back newest first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from signer_tui.model import Evidence, clean_text
from signer_tui.pgdump.identify import identify
from signer_tui.pgdump.installs import PgInstall, find_installations, pick_reader
from signer_tui.pgdump.listing import ListError, list_archive
from signer_tui.pgdump.types import TOC_NAMES, DumpFormat, DumpInfo
from signer_tui.sources.backup_types import BackupInventory, BackupRecord
from signer_tui.sources.errors import SourceError, SourceUnreachable

KIND = "pg_dump"
# A file that is not a dump but is named like one is a failed backup, not an unrelated file.
DUMP_SUFFIXES = (".dump", ".sql", ".backup", ".tar", ".gz", ".pgdump", ".dmp", ".custom", ".bak")
LIST_TIMEOUT = 30.0
# A damaged-looking dump younger than this may still be being written by pg_dump.
WRITE_GRACE = 120.0
_WORKERS = 4
_CACHE_SIZE = 512

_cache: OrderedDict[tuple[str, int, int, int, str], BackupRecord] = OrderedDict()
_cache_lock = threading.Lock()


def _fingerprint(path: Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    if path.is_dir():
        # A directory's own mtime changes when files are added or removed; its toc.dat when
        # pg_dump finishes.
        toc = path / "toc.dat"
        toc_stat = toc.stat() if toc.exists() else stat
        return (str(path), toc_stat.st_size, stat.st_mtime_ns ^ toc_stat.st_mtime_ns, stat.st_ino)
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _details(info: DumpInfo) -> tuple[tuple[str, str], ...]:
    items = [("format", info.format.value)]
    if info.pg_dump_version:
        items.append(("pg_dump", info.pg_dump_version))
    if info.server_version:
        items.append(("server", info.server_version))
    if info.header is not None:
        items.append(("archive version", info.header.version_text))
    if info.compression:
        items.append(("compression", info.compression))
    if info.dbname:
        items.append(("database", info.dbname))
    if info.created_at is not None:
        items.append(("created", f"{info.created_at:%Y-%m-%d %H:%M:%S} (dump host time)"))
    if info.toc_entries is not None:
        items.append(("toc entries", str(info.toc_entries)))
    if info.data_entries is not None:
        items.append(("table data entries", str(info.data_entries)))
    if info.note:
        items.append(("note", info.note))
    return tuple(items)


def examine(path: Path, installs: Sequence[PgInstall]) -> BackupRecord | None:
    """One directory entry as a BackupRecord; None when it is neither a dump nor named like one."""
    try:
        info = identify(path)
    except OSError as exc:
        return BackupRecord(
            KIND,
            path.name,
            None,
            None,
            False,
            f"cannot read: {exc.strerror or exc}",
            path=str(path),
        )
    fmt = info.format
    if fmt is DumpFormat.NOT_A_DUMP and not (
        path.name.lower().endswith(DUMP_SUFFIXES) and path.is_file()
    ):
        return None
    ok: bool | None = info.intact
    problems = list(info.problems)
    details = list(_details(info))
    if fmt in (DumpFormat.EMPTY, DumpFormat.NOT_A_DUMP):
        ok = False
        if not problems:
            problems.append(info.note or "not a pg_dump file")
    elif fmt in (DumpFormat.CLUSTER, DumpFormat.COMPRESSED):
        ok = None  # a backup, just not one this console can look into
    if fmt.is_archive and ok is not False:
        reader = pick_reader(info.pg_dump_major, installs)
        if reader is None:
            details.append(
                ("pg_restore --list", f"skipped: needs PostgreSQL {info.pg_dump_major}+")
            )
        else:
            try:
                listing = list_archive(reader, path, timeout=LIST_TIMEOUT)
            except ListError as exc:
                ok = False
                problems.append(f"pg_restore --list failed: {exc}")
            else:
                details.append(("pg_restore --list", f"OK ({len(listing.entries)} entries)"))
    return BackupRecord(
        kind=KIND,
        name=path.name,
        finished_at=info.mtime,
        size_bytes=info.size_bytes,
        ok=ok,
        problem=clean_text("; ".join(problems), 500),
        details=tuple(details),
        path=str(path),
    )


def _cached_examine(path: Path, installs: Sequence[PgInstall]) -> BackupRecord | None:
    try:
        key = (*_fingerprint(path), ",".join(i.version for i in installs))
    except OSError:
        return examine(path, installs)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    record = examine(path, installs)
    if record is not None:
        with _cache_lock:
            _cache[key] = record
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return record


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def discover(
    location: Path,
    *,
    now: datetime,
    installs: Sequence[PgInstall] | None = None,
) -> BackupInventory:
    """Every pg_dump in `location` (files and dump directories), newest first.

    Raises SourceError when the directory itself cannot be read.
    """
    location = Path(location).expanduser()
    request = f"scan {location}"
    try:
        entries = sorted(
            (p for p in location.iterdir() if not p.name.startswith(".")), key=lambda p: p.name
        )
    except FileNotFoundError:
        raise SourceUnreachable(
            "backup directory not found",
            f"{location} does not exist",
            Evidence("backups", request, now, error="not found"),
        ) from None
    except NotADirectoryError:
        raise SourceError(
            "not a directory",
            f"{location} is not a directory",
            Evidence("backups", request, now, error="not a directory"),
        ) from None
    except PermissionError:
        raise SourceError(
            "backup directory not readable",
            f"permission denied: {location}",
            Evidence("backups", request, now, error="permission denied"),
        ) from None
    tool_problems: list[str] = []
    if installs is None:
        installs = find_installations()
    if not installs:
        tool_problems.append(
            "no PostgreSQL client tools found: archives were checked without pg_restore --list"
        )
    candidates = [p for p in entries if p.is_file() or (p.is_dir() and _looks_like_dump_dir(p))]
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="backup-scan") as pool:
        found = list(pool.map(lambda p: _cached_examine(p, installs), candidates))
    records = [_in_progress(r, now) for r in found if r is not None]
    ignored = len(candidates) - len(records)
    records.sort(
        key=lambda r: (r.finished_at or datetime.min.replace(tzinfo=UTC), r.name), reverse=True
    )
    good = sum(1 for r in records if r.ok)
    bad = sum(1 for r in records if r.ok is False)
    raw = "\n".join(
        f"{r.name} {r.size_bytes} {r.finished_at.isoformat() if r.finished_at else '?'} "
        f"{'ok' if r.ok else 'BAD' if r.ok is False else 'unchecked'} {r.problem}".rstrip()
        for r in records
    )
    decoded = f"{len(records)} dump(s): {good} good, {bad} bad" + (
        f"; {ignored} other file(s) ignored" if ignored else ""
    )
    evidence = Evidence("backups", request, now, raw=clean_text(raw, 4000), decoded=decoded)
    return BackupInventory(
        kind=KIND,
        location=str(location),
        records=tuple(records),
        tool_problems=tuple(tool_problems),
        evidence=(evidence,),
        observed_at=now,
    )


def _in_progress(record: BackupRecord, now: datetime) -> BackupRecord:
    """A dump that looks cut off but was modified moments ago is probably still being written
    (pg_dump writes a custom archive's end marker and a plain dump's trailer last)."""
    if record.ok is not False or record.finished_at is None or not record.size_bytes:
        return record
    if not any(word in record.problem for word in ("truncated", "ends early")):
        return record
    age = (now - record.finished_at).total_seconds()
    if not 0 <= age < WRITE_GRACE:
        return record
    return replace(
        record,
        ok=None,
        problem=f"modified {age:.0f} s ago, perhaps still being written: {record.problem}",
    )


def _looks_like_dump_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in TOC_NAMES)


def newest_good(inventory: BackupInventory) -> BackupRecord | None:
    return next((r for r in inventory.records if r.ok), None)
