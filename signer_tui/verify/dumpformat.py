"""Identify a pg_dump backup by its bytes (never its name) and check its structure cheaply.

Detection follows pg_restore's own `_discoverArchiveFormat` (wire-formats §7.1): custom, tar
and directory archives start with the `PGDMP` header, plain dumps with pg_dump's comment banner.
For archives the header and the table of contents are parsed here, which gives the pg_dump
version that wrote the file (so binaries new enough can be picked) and lets truncation be
caught without reading the data: `pg_restore --list` reads only the TOC and happily lists a
custom archive whose data was cut off (wire-formats §7.1).
"""

from __future__ import annotations

import enum
import gzip
import io
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from signer_tui.model import clean_text

MAGIC = b"PGDMP"
PLAIN_BANNER = b"--\n-- PostgreSQL database dump\n--\n\n"
CLUSTER_BANNER = b"--\n-- PostgreSQL database cluster dump\n--\n\n"
PLAIN_TRAILER = b"-- PostgreSQL database dump complete"
GZIP_MAGIC = b"\x1f\x8b"
# Compressed wrappers we recognise but cannot open with the standard library.
OTHER_COMPRESSION = {
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\x04\x22\x4d\x18": "lz4",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
}
TOC_NAMES = ("toc.dat", "toc.dat.gz", "toc.dat.lz4", "toc.dat.zst")

# Archive format codes (pg_backup.h) and data-block / offset flags (pg_backup_archiver.h).
ARCH_CUSTOM, ARCH_TAR, ARCH_DIRECTORY = 1, 3, 5
BLK_DATA, BLK_BLOBS = 1, 3
OFFSET_POS_NOT_SET, OFFSET_POS_SET, OFFSET_NO_DATA = 1, 2, 3
# pg_dump writes this after the rows of every COPY (dumpTableData_copy).
COPY_END = b"\\.\n\n\n"

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 8 * 1024
# A bounded walk of the last custom-format data block; beyond it we rely on the end marker.
MAX_CHUNK_WALK = 20_000

_DUMPED_BY = re.compile(rb"^-- Dumped by pg_dump version (\S+)", re.M)
_DUMPED_FROM = re.compile(rb"^-- Dumped from database version (\S+)", re.M)
_CONNECT = re.compile(rb"^\\connect (?:-reuse-previous=\S+ )?(\"(?:[^\"]|\"\")+\"|\S+)", re.M)
_MAJOR = re.compile(r"^(\d+)(?:\.(\d+))?")
# Data files named by a directory archive's TOC: "3496.dat", "blobs_3497.toc", never a path.
_SAFE_MEMBER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]*$")


class DumpFormat(enum.Enum):
    CUSTOM = "custom"
    DIRECTORY = "directory"
    TAR = "tar"
    PLAIN = "plain"
    PLAIN_GZIP = "plain+gzip"
    CUSTOM_GZIP = "custom+gzip"  # `pg_dump -Fc | gzip`: pg_restore reads it from a pipe
    CLUSTER = "pg_dumpall"
    COMPRESSED = "compressed"  # zstd/lz4/bzip2/xz wrapper we cannot look into
    EMPTY = "empty"
    NOT_A_DUMP = "not a dump"

    @property
    def is_archive(self) -> bool:
        return self in (DumpFormat.CUSTOM, DumpFormat.DIRECTORY, DumpFormat.TAR)

    @property
    def is_plain(self) -> bool:
        return self in (DumpFormat.PLAIN, DumpFormat.PLAIN_GZIP)

    @property
    def restorable(self) -> bool:
        return self.is_archive or self.is_plain or self is DumpFormat.CUSTOM_GZIP


class DumpFormatError(Exception):
    """The bytes are not what the format promises (short read, bad flag, impossible length)."""


@dataclass(frozen=True)
class ArchiveHeader:
    version: tuple[int, int, int]
    int_size: int
    off_size: int
    format_code: int
    compression: str  # none | gzip | lz4 | zstd, or gzip-N for an explicit zlib level (< 1.15)
    # Local wall-clock time of the dumping host: the header has no zone.
    created_at: datetime | None
    dbname: str | None
    server_version: str | None
    dump_version: str | None
    toc_count: int

    @property
    def version_text(self) -> str:
        return "{}.{}-{}".format(*self.version)


@dataclass(frozen=True)
class TocEntry:
    dump_id: int
    had_dumper: bool
    tag: str
    desc: str
    namespace: str | None
    owner: str | None
    # custom format: where the data block starts (None unless the offset was recorded)
    data_state: int | None = None
    data_offset: int | None = None
    # directory/tar formats: the member holding the data
    filename: str | None = None

    @property
    def is_data(self) -> bool:
        # Entries with a data dumper are exactly those with a data block / data file.
        return self.had_dumper

    @property
    def label(self) -> str:
        name = f"{self.namespace}.{self.tag}" if self.namespace else self.tag
        return f"{self.desc} {name}"


@dataclass(frozen=True)
class ArchiveToc:
    header: ArchiveHeader
    entries: tuple[TocEntry, ...]
    toc_end: int  # byte offset just after the TOC


@dataclass(frozen=True)
class DumpInfo:
    """What one file (or dump directory) is, and what its bytes say about its health."""

    path: str
    format: DumpFormat
    size_bytes: int
    mtime: datetime
    header: ArchiveHeader | None = None
    pg_dump_version: str | None = None
    server_version: str | None = None
    dbname: str | None = None
    created_at: datetime | None = None
    compression: str | None = None
    toc_entries: int | None = None
    data_entries: int | None = None
    # False: known truncated/corrupt; True: every cheap check passed; None: not checked.
    intact: bool | None = None
    problems: tuple[str, ...] = ()
    # Plain dumps: the database named by `\connect` (pg_dump -C), and whether the dump uses
    # psql's `\restrict` (pg_dump 13.22/14.19/15.14/16.10/17.6 and later).
    connect_db: str | None = None
    uses_restrict: bool = False
    note: str = ""
    details: tuple[tuple[str, str], ...] = field(default=())

    @property
    def pg_dump_major(self) -> int | None:
        """The major version of the pg_dump that wrote the dump (archive version as fallback)."""
        if self.pg_dump_version:
            major = version_major(self.pg_dump_version)
            if major is not None:
                return major
        if self.header is not None:
            return major_for_archive_version(self.header.version)
        return None

    @property
    def describe(self) -> str:
        parts = [self.format.value]
        if self.pg_dump_version:
            parts.append(f"pg_dump {self.pg_dump_version}")
        elif self.header is not None:
            parts.append(f"archive {self.header.version_text}")
        if self.compression and self.compression not in ("none", "0"):
            parts.append(f"compression {self.compression}")
        return ", ".join(parts)


# -- versions ----------------------------------------------------------------------------------


def version_major(version: str) -> int | None:
    """'15.18 (Debian 15.18-0+deb12u1)' -> 15; '9.6.24' -> 9 (old scheme: first number)."""
    match = _MAJOR.match(version.strip())
    return int(match.group(1)) if match else None


def major_for_archive_version(version: tuple[int, int, int]) -> int | None:
    """The lowest PostgreSQL major whose pg_restore reads this archive version."""
    minor = (version[0], version[1])
    if minor >= (1, 16):
        return 17
    if minor >= (1, 15):
        return 16
    if minor >= (1, 14):
        return 12
    return None  # older archives are read by every supported pg_restore


# -- binary reader -------------------------------------------------------------------------------


class _Reader:
    """The archive's primitive encodings: bytes, sign-magnitude ints, length-prefixed strings."""

    def __init__(self, stream: BinaryIO, limit: int | None = None) -> None:
        self.stream = stream
        self.int_size = 4
        self.off_size = 8
        self.limit = limit

    def tell(self) -> int:
        return self.stream.tell()

    def read(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise DumpFormatError(f"file ends inside the header or TOC (at byte {self.tell()})")
        return data

    def read_byte(self) -> int:
        return self.read(1)[0]

    def read_int(self) -> int:
        sign = self.read_byte()
        raw = self.read(self.int_size)
        value = int.from_bytes(raw, "little")
        return -value if sign else value

    def read_str(self) -> str | None:
        length = self.read_int()
        if length < 0:
            return None
        if self.limit is not None and length > self.limit:
            raise DumpFormatError(f"impossible string length {length} in the TOC")
        return self.read(length).decode("utf-8", errors="replace")

    def read_name(self) -> str | None:
        """A string that may be shown to the operator: control characters stripped."""
        text = self.read_str()
        return clean_text(text, 300) if text is not None else None

    def offset(self, version: tuple[int, int, int]) -> tuple[int, int]:
        if version < (1, 7, 0):
            value = self.read_int()
            if value < 0:
                return OFFSET_POS_NOT_SET, 0
            return (OFFSET_NO_DATA, 0) if value == 0 else (OFFSET_POS_SET, value)
        flag = self.read_byte()
        if flag not in (OFFSET_POS_NOT_SET, OFFSET_POS_SET, OFFSET_NO_DATA):
            raise DumpFormatError(f"unexpected data offset flag {flag} in the TOC")
        return flag, int.from_bytes(self.read(self.off_size), "little")


def read_header(reader: _Reader) -> ArchiveHeader:
    """Parse the archive header (pg_backup_archiver.c ReadHead)."""
    if reader.read(5) != MAGIC:
        raise DumpFormatError("did not find magic string in file header")
    vmaj = reader.read_byte()
    vmin = reader.read_byte()
    vrev = reader.read_byte() if (vmaj > 1 or (vmaj == 1 and vmin > 0)) else 0
    version = (vmaj, vmin, vrev)
    if vmaj != 1 or vmin > 30:
        raise DumpFormatError(f"unsupported version ({vmaj}.{vmin}) in file header")
    int_size = reader.read_byte()
    if not 1 <= int_size <= 32:
        raise DumpFormatError(f"impossible integer size {int_size} in file header")
    reader.int_size = int_size
    off_size = reader.read_byte() if version >= (1, 7, 0) else int_size
    reader.off_size = off_size
    format_code = reader.read_byte()
    if version >= (1, 15, 0):
        algorithm = reader.read_byte()
        compression = {0: "none", 1: "gzip", 2: "lz4", 3: "zstd"}.get(algorithm, str(algorithm))
    else:
        if version >= (1, 4, 0):
            level = reader.read_int()
        elif version >= (1, 2, 0):
            level = reader.read_byte()
        else:
            level = -1
        # A zlib level before 1.15: -1 is zlib's default, 0 is none.
        compression = {-1: "gzip", 0: "none"}.get(level, f"gzip-{level}")
    created: datetime | None = None
    if version >= (1, 4, 0):
        sec, minute, hour, mday, mon, year, _isdst = (reader.read_int() for _ in range(7))
        try:
            created = datetime(year + 1900, mon + 1, mday, hour, minute, min(sec, 59))
        except ValueError:
            created = None
    dbname = server = dumper = None
    if version >= (1, 10, 0):
        dbname = reader.read_name()
        server = reader.read_name()
        dumper = reader.read_name()
    toc_count = reader.read_int()
    if toc_count < 0 or toc_count > 10_000_000:
        raise DumpFormatError(f"impossible TOC entry count {toc_count}")
    return ArchiveHeader(
        version,
        int_size,
        off_size,
        format_code,
        compression,
        created,
        dbname,
        server,
        dumper,
        toc_count,
    )


def read_toc(reader: _Reader, header: ArchiveHeader) -> list[TocEntry]:
    """Parse every TOC entry (pg_backup_archiver.c ReadToc plus the format's extra fields)."""
    v = header.version
    entries = []
    for _ in range(header.toc_count):
        dump_id = reader.read_int()
        had_dumper = reader.read_int() != 0
        if v >= (1, 8, 0):
            reader.read_str()  # tableoid
        reader.read_str()  # oid
        tag = reader.read_name() or ""
        desc = reader.read_name() or ""
        if v >= (1, 11, 0):
            reader.read_int()  # section
        reader.read_str()  # defn
        reader.read_str()  # dropStmt
        if v >= (1, 3, 0):
            reader.read_str()  # copyStmt
        namespace = reader.read_name() if v >= (1, 6, 0) else None
        if v >= (1, 10, 0):
            reader.read_str()  # tablespace
        if v >= (1, 14, 0):
            reader.read_str()  # table access method
        if v >= (1, 16, 0):
            reader.read_int()  # relkind
        owner = reader.read_name()
        if v >= (1, 9, 0):
            reader.read_str()  # "false": WITH OIDS
        if v >= (1, 5, 0):
            while reader.read_str() is not None:
                pass  # dependencies
        data_state = data_offset = None
        filename = None
        if header.format_code == ARCH_CUSTOM:
            data_state, data_offset = reader.offset(v)
            if v < (1, 7, 0):
                reader.read_int()
        else:
            filename = reader.read_str() or None
        entries.append(
            TocEntry(
                dump_id,
                had_dumper,
                tag,
                desc,
                namespace or None,
                owner or None,
                data_state,
                data_offset,
                filename,
            )
        )
    return entries


def _string_limit(size: int) -> int:
    # A TOC string can't be longer than the file holding it.
    return max(size, 1 << 20)


def read_archive(stream: BinaryIO, size: int) -> ArchiveToc:
    reader = _Reader(stream, _string_limit(size))
    header = read_header(reader)
    entries = read_toc(reader, header)
    return ArchiveToc(header, tuple(entries), reader.tell())


# -- structure checks ----------------------------------------------------------------------------


def _check_custom(stream: BinaryIO, toc: ArchiveToc, size: int) -> list[str]:
    """Catch truncation of a custom archive's data without decompressing it."""
    problems: list[str] = []
    header = toc.header
    reader = _Reader(stream)
    reader.int_size = header.int_size
    data = [e for e in toc.entries if e.is_data and e.data_state != OFFSET_NO_DATA]
    placed = [e for e in data if e.data_state == OFFSET_POS_SET and e.data_offset is not None]
    for entry in placed:
        assert entry.data_offset is not None
        if entry.data_offset >= size:
            problems.append(
                f"truncated: the data of {entry.label} should start at byte "
                f"{entry.data_offset}, but the file has only {size} bytes"
            )
            return problems
        stream.seek(entry.data_offset)
        try:
            block = reader.read_byte()
            block_id = reader.read_int()
        except DumpFormatError:
            problems.append(f"truncated inside the data block of {entry.label}")
            return problems
        if block not in (BLK_DATA, BLK_BLOBS) or block_id != entry.dump_id:
            problems.append(f"corrupt: no data block for {entry.label} at byte {entry.data_offset}")
            return problems
    if data:
        # Every data block ends with a zero-length chunk; so must the file.
        marker = b"\x00" * (header.int_size + 1)
        if size < len(marker) or _read_at(stream, size - len(marker), len(marker)) != marker:
            problems.append(
                "truncated: the archive does not end with the end-of-data marker "
                "(pg_dump did not finish writing it, or the copy was cut short)"
            )
            return problems
        if placed:
            last = max(placed, key=lambda e: e.data_offset or 0)
            end = _walk_block(stream, reader, last, size)
            if end is not None and end != size:
                if end > size:
                    problems.append(f"truncated inside the data of {last.label}")
                else:
                    problems.append(
                        f"corrupt: {size - end} unexpected bytes after the last data block"
                    )
    return problems


def _walk_block(stream: BinaryIO, reader: _Reader, entry: TocEntry, size: int) -> int | None:
    """Follow the chunk lengths of one data block; the offset just after it (None: too long)."""
    assert entry.data_offset is not None
    stream.seek(entry.data_offset)
    try:
        block = reader.read_byte()
        reader.read_int()
        steps = 0
        while True:
            if block == BLK_BLOBS:
                oid = reader.read_int()
                if oid == 0:
                    return stream.tell()
            while True:
                steps += 1
                if steps > MAX_CHUNK_WALK:
                    return None
                length = reader.read_int()
                if length == 0:
                    break
                if length < 0 or stream.tell() + length > size:
                    return size + 1
                stream.seek(length, os.SEEK_CUR)
            if block != BLK_BLOBS:
                return stream.tell()
    except DumpFormatError:
        return size + 1


def _read_at(stream: BinaryIO, offset: int, n: int) -> bytes:
    stream.seek(offset)
    return stream.read(n)


def _ends_with_copy_end(path: Path) -> bool:
    size = path.stat().st_size
    if size < len(COPY_END):
        return False
    with path.open("rb") as f:
        return _read_at(f, size - len(COPY_END), len(COPY_END)) == COPY_END


def _check_directory(directory: Path, toc: ArchiveToc) -> list[str]:
    problems: list[str] = []
    for entry in toc.entries:
        if not entry.is_data or entry.filename is None:
            continue
        if not _SAFE_MEMBER.match(entry.filename):
            problems.append(f"corrupt: impossible data file name in the TOC ({entry.label})")
            continue
        candidates = [directory / entry.filename] + [
            directory / f"{entry.filename}{ext}" for ext in (".gz", ".lz4", ".zst")
        ]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            problems.append(f"missing data file {entry.filename} ({entry.label})")
        elif found.name == entry.filename and not _ends_with_copy_end(found):
            if entry.desc == "TABLE DATA":
                problems.append(f"truncated data file {entry.filename} ({entry.label})")
        elif found.stat().st_size == 0 and found.suffix != "":
            problems.append(f"empty compressed data file {found.name} ({entry.label})")
    return problems


def _member_ends_with_copy_end(path: Path, member: tarfile.TarInfo) -> bool:
    if member.size < len(COPY_END):
        return False
    with path.open("rb") as f:
        end = member.offset_data + member.size
        return _read_at(f, end - len(COPY_END), len(COPY_END)) == COPY_END


def _check_tar(path: Path, toc: ArchiveToc) -> list[str]:
    size = path.stat().st_size
    try:
        with tarfile.open(path, "r:") as archive:
            members = {m.name: m for m in archive.getmembers()}
    except (tarfile.TarError, OSError) as exc:
        return [f"truncated or corrupt tar archive ({exc})"]
    problems = []
    for entry in toc.entries:
        if not entry.is_data or entry.filename is None:
            continue
        member = members.get(entry.filename)
        if member is None:
            problems.append(f"missing member {entry.filename} ({entry.label})")
        elif member.offset_data + member.size > size or (
            entry.desc == "TABLE DATA" and not _member_ends_with_copy_end(path, member)
        ):
            problems.append(f"truncated member {entry.filename} ({entry.label})")
    if "restore.sql" not in members:
        problems.append("truncated: the tar archive has no restore.sql member (written last)")
    return problems


# -- plain dumps ---------------------------------------------------------------------------------

_ROLE_NAME = rb'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_OWNER_TO = re.compile(rb"OWNER TO " + _ROLE_NAME + rb";$", re.M)
_GRANT_TO = re.compile(
    rb"^(?:GRANT|REVOKE) .*? (?:TO|FROM) ((?:" + _ROLE_NAME + rb"(?:, )?)+)"
    rb"(?: WITH (?:GRANT|ADMIN) OPTION)?(?: GRANTED BY .*)?;$",
    re.M,
)
_SESSION_AUTH = re.compile(rb"^SET SESSION AUTHORIZATION '((?:[^']|'')+)';$", re.M)
_NOT_ROLES = {"public", "current_user", "session_user", "current_role"}


@dataclass
class PlainScan:
    head: bytes
    tail: bytes
    size: int  # bytes of SQL text (decompressed)
    roles: set[str] = field(default_factory=set)
    gzip_error: str | None = None


def _shown(raw: bytes) -> str:
    return clean_text(raw.decode("utf-8", errors="replace"), 100)


def _unquote(name: bytes) -> str:
    text = name.decode("utf-8", errors="replace")
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def _roles_in(text: bytes, roles: set[str]) -> None:
    for match in _OWNER_TO.finditer(text):
        roles.add(_unquote(match.group(1)))
    for match in _GRANT_TO.finditer(text):
        for name in re.findall(_ROLE_NAME, match.group(1)):
            roles.add(_unquote(name))
    for match in _SESSION_AUTH.finditer(text):
        roles.add(match.group(1).decode("utf-8", errors="replace").replace("''", "'"))


def iter_plain(path: Path, gzipped: bool, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The SQL text of a plain dump, in chunks."""
    with path.open("rb") as raw:
        if gzipped:
            yield from iter_gzip(raw, chunk)
        else:
            while data := raw.read(chunk):
                yield data


def iter_gzip(raw: BinaryIO, chunk: int) -> Iterator[bytes]:
    """Decompress a gzip stream member after member (pigz, concatenated files); zlib checks
    each member's CRC and length. Zero padding after the last member is ignored, as gzip does."""
    decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = False
    padding = False
    while data := raw.read(chunk):
        while data:
            if padding or (not pending and not data.lstrip(b"\0")):
                if data.strip(b"\0"):
                    raise zlib.error("trailing garbage after the gzip data")
                padding = True
                break
            if not pending and not data.startswith(GZIP_MAGIC[: len(data)]):
                raise zlib.error("trailing garbage after the gzip data")
            pending = True
            out = decomp.decompress(data)
            if out:
                yield out
            if decomp.eof:
                pending = False
                data = decomp.unused_data
                decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = b""
    if pending:
        raise zlib.error("the gzip stream ends early (truncated)")


def scan_plain(path: Path, gzipped: bool, *, roles: bool = False, full: bool = True) -> PlainScan:
    """Head and tail of a plain dump's SQL (and the roles it names), in one streaming pass.

    Uncompressed files are not read in full unless `roles` is wanted: the tail is a seek away.
    """
    if not gzipped and not roles:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            tail = _read_at(f, max(0, size - TAIL_BYTES), TAIL_BYTES)
        return PlainScan(head, tail, size)
    head = b""
    tail = b""
    total = 0
    found: set[str] = set()
    carry = b""
    error: str | None = None
    try:
        for data in iter_plain(path, gzipped):
            total += len(data)
            if len(head) < HEAD_BYTES:
                head += data[: HEAD_BYTES - len(head)]
            tail = (tail + data)[-TAIL_BYTES:]
            if roles:
                text = carry + data
                cut = text.rfind(b"\n") + 1
                _roles_in(text[:cut], found)
                carry = text[cut:][-65536:]
            if not full and total >= HEAD_BYTES:
                break
    except (zlib.error, EOFError, OSError) as exc:
        error = str(exc) or type(exc).__name__
    if roles and carry:
        _roles_in(carry, found)
    found -= {r for r in found if r.lower() in _NOT_ROLES}
    return PlainScan(head, tail, total, found, error)


def _plain_info(base: DumpInfo, scan: PlainScan, gzipped: bool, full: bool) -> DumpInfo:
    head = scan.head
    fmt = DumpFormat.PLAIN_GZIP if gzipped else DumpFormat.PLAIN
    dumped_by = _DUMPED_BY.search(head)
    dumped_from = _DUMPED_FROM.search(head)
    connect = _CONNECT.search(head)
    problems: list[str] = []
    if scan.gzip_error:
        problems.append(f"corrupt gzip data: {scan.gzip_error}")
    complete: bool | None = None
    if full or not gzipped:
        complete = PLAIN_TRAILER in scan.tail
        if not complete and not scan.gzip_error:
            problems.append(
                "truncated: no '-- PostgreSQL database dump complete' trailer "
                "(pg_dump did not finish, or the file was cut short)"
            )
    intact: bool | None = not problems if (full or not gzipped) else None
    if scan.gzip_error:
        intact = False
    return replace(
        base,
        format=fmt,
        pg_dump_version=_shown(dumped_by.group(1)) if dumped_by else None,
        server_version=_shown(dumped_from.group(1)) if dumped_from else None,
        compression="gzip" if gzipped else "none",
        intact=intact,
        problems=tuple(problems),
        connect_db=_unquote(connect.group(1)) if connect else None,
        uses_restrict=b"\n\\restrict " in head,
    )


# -- identification ------------------------------------------------------------------------------


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def _archive_info(base: DumpInfo, toc: ArchiveToc, fmt: DumpFormat) -> DumpInfo:
    header = toc.header
    data = [e for e in toc.entries if e.is_data]
    return replace(
        base,
        format=fmt,
        header=header,
        pg_dump_version=_first_word(header.dump_version),
        server_version=_first_word(header.server_version),
        dbname=header.dbname,
        created_at=header.created_at,
        compression=header.compression,
        toc_entries=header.toc_count,
        data_entries=len(data),
    )


def _first_word(text: str | None) -> str | None:
    return text.split()[0] if text and text.split() else None


def identify(path: str | Path, *, deep: bool = True) -> DumpInfo:
    """What `path` is, from its bytes. Never raises for bad content: problems are reported.

    `deep=False` skips reading a gzip'ed plain dump to its end (integrity and trailer unknown).
    OSError (missing file, no permission) is raised to the caller.
    """
    path = Path(path)
    base = DumpInfo(str(path), DumpFormat.NOT_A_DUMP, _size(path), _mtime(path))
    if path.is_dir():
        return _identify_directory(path, base)
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if not head:
        return replace(base, format=DumpFormat.EMPTY, intact=False, problems=("empty file",))
    if head.startswith(MAGIC):
        return _identify_archive_file(path, base, head)
    if head.startswith(GZIP_MAGIC):
        return _identify_gzip(path, base, deep)
    for magic, name in OTHER_COMPRESSION.items():
        if head.startswith(magic):
            return replace(
                base,
                format=DumpFormat.COMPRESSED,
                compression=name,
                note=f"{name}-compressed file: decompress it first, then verify the result",
            )
    if len(head) >= 262 and head[257:262] == b"ustar":
        found = identify_tar(path, base)
        if found.format is DumpFormat.NOT_A_DUMP and not found.note:
            found = replace(found, note="a tar file that is not a pg_dump archive")
        return found
    return _identify_text(path, base, head)


def _identify_text(path: Path, base: DumpInfo, head: bytes) -> DumpInfo:
    if head.startswith(CLUSTER_BANNER):
        return replace(
            base,
            format=DumpFormat.CLUSTER,
            note="a pg_dumpall cluster dump: verify-backup restores single-database dumps "
            "(pg_dump); dump the signer database with pg_dump -Fc instead",
        )
    if head.startswith(PLAIN_BANNER):
        return _plain_info(base, scan_plain(path, False), False, True)
    return replace(base, note="not a pg_dump file (no archive header, no plain-dump banner)")


def _identify_gzip(path: Path, base: DumpInfo, deep: bool) -> DumpInfo:
    try:
        with gzip.open(path, "rb") as f:
            inner = f.read(HEAD_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        return replace(
            base,
            format=DumpFormat.NOT_A_DUMP,
            compression="gzip",
            intact=False,
            problems=(f"corrupt gzip data: {exc}",),
            note="gzip file that could not be decompressed",
        )
    if inner.startswith(PLAIN_BANNER):
        return _plain_info(base, scan_plain(path, True, full=deep), True, deep)
    if inner.startswith(CLUSTER_BANNER):
        return replace(
            base,
            format=DumpFormat.CLUSTER,
            compression="gzip",
            note="a gzip'ed pg_dumpall cluster dump: verify-backup restores single-database "
            "dumps (pg_dump)",
        )
    if inner.startswith(MAGIC):
        try:
            toc = read_archive(io.BytesIO(inner), len(inner))
        except DumpFormatError:
            toc = None
        info = replace(base, format=DumpFormat.CUSTOM_GZIP, compression="gzip")
        if toc is not None:
            info = _archive_info(info, toc, DumpFormat.CUSTOM_GZIP)
        problems: list[str] = []
        if deep:
            try:
                with path.open("rb") as raw:
                    for _ in iter_gzip(raw, 1 << 20):
                        pass
            except (zlib.error, OSError) as exc:
                problems.append(f"corrupt gzip data: {exc}")
        return replace(
            info,
            intact=(not problems) if deep else None,
            problems=tuple(problems),
            note="a gzip'ed custom archive: restored through a pipe (no parallel restore)",
        )
    return replace(base, compression="gzip", note="a gzip file that does not hold a pg_dump")


def _identify_archive_file(path: Path, base: DumpInfo, head: bytes) -> DumpInfo:
    size = base.size_bytes
    with path.open("rb") as f:
        try:
            toc = read_archive(f, size)
        except DumpFormatError as exc:
            return replace(
                base,
                format=DumpFormat.CUSTOM,
                intact=False,
                problems=(f"corrupt or truncated archive: {exc}",),
                note=_header_note(head),
            )
        code = toc.header.format_code
        if code == ARCH_CUSTOM:
            info = _archive_info(base, toc, DumpFormat.CUSTOM)
            problems = _check_custom(f, toc, size)
            return replace(info, intact=not problems, problems=tuple(problems))
    if code in (ARCH_TAR, ARCH_DIRECTORY):
        if path.name == "toc.dat":
            return replace(
                identify(path.parent),
                note=f"toc.dat of the directory-format dump {path.parent}: verify the directory",
            )
        return replace(base, note="a bare pg_dump TOC file without its data")
    return replace(base, note=f"unknown archive format code {code}")


def _header_note(head: bytes) -> str:
    try:
        header = read_header(_Reader(io.BytesIO(head)))
    except DumpFormatError:
        return ""
    return f"archive version {header.version_text}"


def _identify_directory(path: Path, base: DumpInfo) -> DumpInfo:
    toc_file = next((path / n for n in TOC_NAMES if (path / n).is_file()), None)
    if toc_file is None:
        return replace(
            base,
            note=f'directory "{path}" does not appear to be a valid archive ("toc.dat" does '
            "not exist)",
        )
    if toc_file.name.endswith((".lz4", ".zst")):
        return replace(
            base,
            format=DumpFormat.DIRECTORY,
            note=f"{toc_file.name}: compressed TOC; pg_restore reads it",
        )
    opener = gzip.open if toc_file.name.endswith(".gz") else open
    try:
        with opener(toc_file, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        return replace(
            base,
            format=DumpFormat.DIRECTORY,
            intact=False,
            problems=(f"cannot read {toc_file.name}: {exc}",),
        )
    if not data.startswith(MAGIC):
        return replace(base, note=f"{toc_file.name} does not start with the PGDMP header")
    try:
        toc = read_archive(io.BytesIO(data), len(data))
    except DumpFormatError as exc:
        return replace(
            base,
            format=DumpFormat.DIRECTORY,
            intact=False,
            problems=(f"corrupt or truncated {toc_file.name}: {exc}",),
        )
    # pg_dump writes the tar code into a directory's toc.dat ("the directory is compatible
    # with tar"); accept the directory code too.
    if toc.header.format_code not in (ARCH_TAR, ARCH_DIRECTORY):
        return replace(base, note=f"{toc_file.name} is not a directory-format TOC")
    info = _archive_info(base, toc, DumpFormat.DIRECTORY)
    problems = _check_directory(path, toc)
    return replace(info, intact=not problems, problems=tuple(problems))


def identify_tar(path: Path, base: DumpInfo) -> DumpInfo:
    with path.open("rb") as f:
        block = f.read(512)
        if len(block) < 512 or block[257:262] != b"ustar" or not block.startswith(b"toc.dat\0"):
            return base
        try:
            toc = read_archive(f, base.size_bytes)
        except DumpFormatError as exc:
            return replace(
                base,
                format=DumpFormat.TAR,
                intact=False,
                problems=(f"corrupt or truncated archive: {exc}",),
            )
    if toc.header.format_code != ARCH_TAR:
        return replace(base, note="toc.dat inside the tar is not a tar-format TOC")
    info = _archive_info(base, toc, DumpFormat.TAR)
    problems = _check_tar(path, toc)
    return replace(info, intact=not problems, problems=tuple(problems))


def read_entries(path: str | Path) -> ArchiveToc | None:
    """The parsed TOC of a custom/directory/tar archive (None for anything else)."""
    path = Path(path)
    try:
        if path.is_dir():
            toc_file = path / "toc.dat"
            if not toc_file.is_file():
                return None
            with toc_file.open("rb") as f:
                return read_archive(f, toc_file.stat().st_size)
        with path.open("rb") as f:
            first = f.read(512)
            if first.startswith(MAGIC):
                f.seek(0)
                return read_archive(f, path.stat().st_size)
            if len(first) == 512 and first[257:262] == b"ustar":
                return read_archive(f, path.stat().st_size)
    except (DumpFormatError, OSError):
        return None
    return None
