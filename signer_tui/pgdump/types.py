"""What a pg_dump file is: its format, archive header, TOC entries and identification."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

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
