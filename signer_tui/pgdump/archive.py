"""The pg_dump archive format (custom, directory, tar): header, TOC and data-block walk.

Detection follows pg_restore's own `_discoverArchiveFormat` (wire-formats §7.1). The TOC gives
the pg_dump version that wrote the file (so binaries new enough can be picked) and lets
truncation be caught without reading the data: `pg_restore --list` reads only the TOC and
happily lists a custom archive whose data was cut off.
"""

from __future__ import annotations

import os
import tarfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from signer_tui.model import clean_text
from signer_tui.pgdump.types import (
    _SAFE_MEMBER,
    ARCH_CUSTOM,
    BLK_BLOBS,
    BLK_DATA,
    COPY_END,
    MAGIC,
    MAX_CHUNK_WALK,
    OFFSET_NO_DATA,
    OFFSET_POS_NOT_SET,
    OFFSET_POS_SET,
    ArchiveHeader,
    ArchiveToc,
    DumpFormatError,
    TocEntry,
)


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
