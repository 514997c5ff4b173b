"""Identify a pg_dump backup by its bytes (never its name) and check its structure cheaply."""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from signer_tui.pgdump.archive import (
    _check_custom,
    _check_directory,
    _check_tar,
    _Reader,
    read_archive,
    read_header,
)
from signer_tui.pgdump.plain import _plain_info, iter_gzip, scan_plain
from signer_tui.pgdump.types import (
    ARCH_CUSTOM,
    ARCH_DIRECTORY,
    ARCH_TAR,
    CLUSTER_BANNER,
    GZIP_MAGIC,
    HEAD_BYTES,
    MAGIC,
    OTHER_COMPRESSION,
    PLAIN_BANNER,
    TOC_NAMES,
    ArchiveToc,
    DumpFormat,
    DumpFormatError,
    DumpInfo,
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
