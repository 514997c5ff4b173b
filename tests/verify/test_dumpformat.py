"""Identifying dumps by their bytes, against real pg_dump output of every format."""

from __future__ import annotations

import gzip
import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from signer_tui.pgdump.identify import identify, read_entries
from signer_tui.pgdump.installs import find_installations
from signer_tui.pgdump.listing import list_archive
from signer_tui.pgdump.types import DumpFormat, major_for_archive_version, version_major
from tests.verify.conftest import DumpSet

ARCHIVES = ["custom", "directory", "tar", "custom_z0", "custom_piped", "schema_only_ns"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("custom", DumpFormat.CUSTOM),
        ("directory", DumpFormat.DIRECTORY),
        ("tar", DumpFormat.TAR),
        ("plain", DumpFormat.PLAIN),
        ("plain_gz", DumpFormat.PLAIN_GZIP),
        ("custom_gz", DumpFormat.CUSTOM_GZIP),
        ("custom_z0", DumpFormat.CUSTOM),
        ("custom_piped", DumpFormat.CUSTOM),
    ],
)
def test_real_dumps_are_identified_with_their_pg_dump_version(
    name: str, fmt: DumpFormat, verify_dumps: DumpSet, tmp_path: Path
) -> None:
    # The name must not matter: copy every dump to a meaningless name first.
    blind = verify_dumps.copy(name, tmp_path, "backup-file")
    info = identify(blind)
    assert info.format is fmt
    assert info.intact is True, info.problems
    assert info.pg_dump_version == verify_dumps.install.version
    assert info.pg_dump_major == verify_dumps.install.major
    assert info.server_version is not None
    assert version_major(info.server_version) == verify_dumps.install.major
    if fmt.is_plain:
        assert info.uses_restrict is (b"\n\\restrict " in _plain_head(blind, fmt))
    else:
        assert info.dbname == verify_dumps.dbname
        assert info.header is not None
        # The header's creation time is the dump host's local wall clock.
        assert info.created_at is not None
        assert abs((datetime.now() - info.created_at).total_seconds()) < 6 * 3600


def _plain_head(path: Path, fmt: DumpFormat) -> bytes:
    if fmt is DumpFormat.PLAIN_GZIP:
        with gzip.open(path) as f:
            return f.read(65536)
    return path.read_bytes()[:65536]


@pytest.mark.parametrize("name", ARCHIVES)
def test_toc_parser_agrees_with_pg_restore_list(name: str, verify_dumps: DumpSet) -> None:
    """The hand-written TOC parser reads exactly what the real pg_restore reads."""
    toc = read_entries(verify_dumps[name])
    assert toc is not None
    listing = list_archive(verify_dumps.install, verify_dumps[name])
    listed_ids = [int(line.split(";", 1)[0]) for line in listing.entries]
    # --list leaves out the session-setup entries it never restores into an existing DB.
    setup = {"ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES"}
    assert sorted(e.dump_id for e in toc.entries if e.desc not in setup) == sorted(listed_ids)
    assert toc.header.toc_count == int(listing.summary["TOC Entries"])
    assert listing.summary["Dumped by pg_dump version"].startswith(toc.header.dump_version or "?")
    version = listing.summary["Dump Version"]  # e.g. "1.14-0"
    assert toc.header.version_text == version
    data_lines = {line.split(";", 1)[0] for line in listing.entries if " TABLE DATA " in line}
    assert {str(e.dump_id) for e in toc.entries if e.desc == "TABLE DATA"} == data_lines
    owners = {e.owner for e in toc.entries if e.owner}
    assert owners <= set(listing.owners) | {None}


def test_every_installed_pg_dump_version_is_parsed(verify_dumps: DumpSet, tmp_path: Path) -> None:
    """Dumps written by each installed PostgreSQL (system and embedded): archive 1.14 = PG12-15,
    1.15 = PG16, 1.16 = PG17+."""
    env = dict(os.environ)
    env.update(
        PGHOST=str(verify_dumps.cluster.socket_dir),
        PGPORT=str(verify_dumps.cluster.port),
        PGUSER="postgres",
    )
    seen = 0
    for install in find_installations():
        if install.major < verify_dumps.install.major:
            continue  # an older pg_dump refuses a newer server
        target = tmp_path / f"pg{install.major}.dump"
        subprocess.run(
            [str(install.tool("pg_dump")), "-Fc", "-f", str(target), verify_dumps.dbname],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        info = identify(target)
        assert info.format is DumpFormat.CUSTOM and info.intact is True
        assert info.pg_dump_version == install.version
        assert info.header is not None
        expected = {12: 12, 13: 12, 14: 12, 15: 12, 16: 16}.get(install.major, 17)
        assert major_for_archive_version(info.header.version) == expected
        assert info.compression == "gzip"  # pg_dump's default for custom archives
        seen += 1
    assert seen >= 1


def test_archive_version_fallback_and_version_strings() -> None:
    assert major_for_archive_version((1, 14, 0)) == 12
    assert major_for_archive_version((1, 15, 0)) == 16
    assert major_for_archive_version((1, 16, 0)) == 17
    assert major_for_archive_version((1, 13, 0)) is None
    assert version_major("15.18 (Debian 15.18-0+deb12u1)") == 15
    assert version_major("9.6.24") == 9
    assert version_major("17beta2") == 17
    assert version_major("devel") is None


def _cut(source: Path, target: Path, keep: int) -> Path:
    target.write_bytes(source.read_bytes()[:keep])
    return target


@pytest.mark.parametrize("name", ["custom", "custom_z0", "custom_piped"])
@pytest.mark.parametrize("cut", [1, 10, 3000, "half"])
def test_truncated_custom_archives_are_caught_without_reading_the_data(
    name: str, cut: int | str, verify_dumps: DumpSet, tmp_path: Path
) -> None:
    source = verify_dumps[name]
    size = source.stat().st_size
    keep = size // 2 if cut == "half" else size - int(cut)
    info = identify(_cut(source, tmp_path / "cut.dump", keep))
    assert info.format is DumpFormat.CUSTOM
    assert info.intact is False
    assert any("truncated" in p for p in info.problems), info.problems
    # ... which pg_restore --list alone would not have noticed for data-area cuts.
    if cut != "half" or name != "custom_piped":
        assert list_archive(verify_dumps.install, tmp_path / "cut.dump").entries


def test_truncated_header_is_reported(verify_dumps: DumpSet, tmp_path: Path) -> None:
    info = identify(_cut(verify_dumps["custom"], tmp_path / "x", 200))
    assert info.intact is False
    assert "file ends inside the header or TOC" in info.problems[0]


def test_damaged_directory_dumps(verify_dumps: DumpSet, tmp_path: Path) -> None:
    missing = verify_dumps.copy("directory", tmp_path, "missing.dir")
    victim = sorted(missing.glob("*.dat*"))[0]
    victim.unlink()
    info = identify(missing)
    assert info.format is DumpFormat.DIRECTORY and info.intact is False
    assert any("missing data file" in p for p in info.problems)

    # Uncompressed data files end with pg_dump's COPY terminator: a cut one is caught.
    plain_dir = tmp_path / "z0.dir"
    verify_dumps.pg_dump("-Fd", "-Z", "0", "-f", str(plain_dir))
    biggest = max(plain_dir.glob("*.dat"), key=lambda p: p.stat().st_size)
    with biggest.open("r+b") as f:
        f.truncate(biggest.stat().st_size - 3)
    info = identify(plain_dir)
    assert info.intact is False
    assert any("truncated data file" in p for p in info.problems)

    no_toc = tmp_path / "not-a-dump"
    no_toc.mkdir()
    info = identify(no_toc)
    assert info.format is DumpFormat.NOT_A_DUMP
    assert '"toc.dat" does not exist' in info.note


def test_toc_dat_named_directly_identifies_its_directory(verify_dumps: DumpSet) -> None:
    info = identify(verify_dumps["directory"] / "toc.dat")
    assert info.format is DumpFormat.DIRECTORY
    assert info.path == str(verify_dumps["directory"])


def test_truncated_tar(verify_dumps: DumpSet, tmp_path: Path) -> None:
    source = verify_dumps["tar"]
    info = identify(_cut(source, tmp_path / "t.tar", source.stat().st_size // 2))
    assert info.format is DumpFormat.TAR and info.intact is False
    # A cut exactly at a member boundary leaves a valid tar without restore.sql.
    import tarfile

    with tarfile.open(source) as archive:
        members = archive.getmembers()
    boundary = members[-1].offset  # header of the last member (restore.sql)
    info = identify(_cut(source, tmp_path / "b.tar", boundary))
    assert info.intact is False


def test_plain_dumps_trailer_and_gzip_integrity(verify_dumps: DumpSet, tmp_path: Path) -> None:
    text = verify_dumps["plain"].read_bytes()
    no_trailer = tmp_path / "a"
    no_trailer.write_bytes(text[: text.index(b"-- PostgreSQL database dump complete")])
    info = identify(no_trailer)
    assert info.format is DumpFormat.PLAIN and info.intact is False
    assert "dump complete" in info.problems[0]

    gz = verify_dumps["plain_gz"].read_bytes()
    cut = tmp_path / "b"
    cut.write_bytes(gz[: len(gz) // 2])
    info = identify(cut)
    assert info.format is DumpFormat.PLAIN_GZIP and info.intact is False
    assert "gzip" in info.problems[0]

    flipped = bytearray(gz)
    flipped[-6] ^= 0xFF  # inside the CRC32 of the gzip trailer
    crc = tmp_path / "c"
    crc.write_bytes(bytes(flipped))
    info = identify(crc)
    assert info.intact is False and "gzip" in info.problems[0]

    # A shallow look (discovery's head-only mode) does not claim integrity.
    assert identify(verify_dumps["plain_gz"], deep=False).intact is None


def test_pg_dumpall_cluster_dump_is_recognised(verify_dumps: DumpSet, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        PGHOST=str(verify_dumps.cluster.socket_dir),
        PGPORT=str(verify_dumps.cluster.port),
        PGUSER="postgres",
    )
    target = tmp_path / "all.sql"
    subprocess.run(
        [str(verify_dumps.install.tool("pg_dumpall")), "--globals-only", "-f", str(target)],
        env=env,
        check=True,
        timeout=60,
    )
    info = identify(target)
    assert info.format is DumpFormat.CLUSTER
    assert not info.format.restorable
    assert "pg_dumpall" in info.note


@pytest.mark.parametrize(
    ("content", "fmt", "note"),
    [
        (b"", DumpFormat.EMPTY, ""),
        (b"#!/bin/sh\necho hi\n", DumpFormat.NOT_A_DUMP, "not a pg_dump file"),
        (b"\x28\xb5\x2f\xfd" + b"\0" * 20, DumpFormat.COMPRESSED, "zstd"),
        (b"PGDMX" + b"\0" * 20, DumpFormat.NOT_A_DUMP, "not a pg_dump file"),
        (gzip.compress(b"hello world\n"), DumpFormat.NOT_A_DUMP, "does not hold a pg_dump"),
    ],
)
def test_things_that_are_not_dumps(
    content: bytes, fmt: DumpFormat, note: str, tmp_path: Path
) -> None:
    target = tmp_path / "signer.dump"
    target.write_bytes(content)
    info = identify(target)
    assert info.format is fmt
    assert note in info.note


def test_directory_toc_carries_the_tar_format_code(verify_dumps: DumpSet) -> None:
    """pg_dump writes the tar code (3) into a directory archive's toc.dat, not 5."""
    data = (verify_dumps["directory"] / "toc.dat").read_bytes()
    assert data[:5] == b"PGDMP"
    assert data[10] == 3


def test_multi_member_gzip_plain_dump(verify_dumps: DumpSet, tmp_path: Path) -> None:
    # A gzip with a plain dump after some junk members is still a plain gzip dump: multi-member
    # streams (pigz, concatenated files) are decompressed member after member.
    parts = tmp_path / "multi.sql.gz"
    text = gzip.decompress(verify_dumps["plain_gz"].read_bytes())
    half = len(text) // 2
    parts.write_bytes(gzip.compress(text[:half]) + gzip.compress(text[half:]))
    info = identify(parts)
    assert info.format is DumpFormat.PLAIN_GZIP and info.intact is True
