"""Discovery of a pg_dump directory: formats by header, integrity, order, speed."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signer_tui.model import utcnow
from signer_tui.sources import backups
from signer_tui.sources.errors import SourceError, SourceUnreachable
from tests.verify.conftest import DumpSet

DAY = 86400.0


def _age(path: Path, days: float) -> None:
    when = time.time() - days * DAY
    os.utime(path, (when, when))
    if path.is_dir():
        for child in path.iterdir():
            os.utime(child, (when, when))


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    backups.clear_cache()


def test_mixed_directory_newest_first_with_the_corrupt_one_flagged(
    verify_dumps: DumpSet, tmp_path: Path
) -> None:
    location = tmp_path / "dumps"
    location.mkdir()
    layout = [
        ("custom", "signer-mon.bin", 6),
        ("directory", "signer-tue", 5),
        ("tar", "signer-wed.tar", 4),
        ("plain", "signer-thu.sql", 3),
        ("plain_gz", "signer-fri.sql.gz", 2),
    ]
    for name, file_name, days in layout:
        _age(verify_dumps.copy(name, location, file_name), days)
    corrupt = location / "signer-sat.dump"
    data = verify_dumps["custom"].read_bytes()
    corrupt.write_bytes(data[: len(data) - 100])
    _age(corrupt, 1)
    (location / "README.txt").write_text("daily pg_dump of the signer DB\n")
    (location / ".partial.dump").write_bytes(b"PGDMP")  # hidden: in progress, ignored

    inventory = backups.discover(location, now=utcnow())

    assert inventory.kind == "pg_dump"
    names = [r.name for r in inventory.records]
    assert names == [
        "signer-sat.dump",
        "signer-fri.sql.gz",
        "signer-thu.sql",
        "signer-wed.tar",
        "signer-tue",
        "signer-mon.bin",
    ]
    by_name = {r.name: r for r in inventory.records}
    assert by_name["signer-sat.dump"].ok is False
    assert "truncated" in by_name["signer-sat.dump"].problem
    for name in names[1:]:
        assert by_name[name].ok is True, (name, by_name[name].problem)
    formats = {r.name: dict(r.details)["format"] for r in inventory.records}
    assert formats == {
        "signer-sat.dump": "custom",
        "signer-fri.sql.gz": "plain+gzip",
        "signer-thu.sql": "plain",
        "signer-wed.tar": "tar",
        "signer-tue": "directory",
        "signer-mon.bin": "custom",
    }
    mon = dict(by_name["signer-mon.bin"].details)
    assert mon["pg_dump"] == verify_dumps.install.version
    assert mon["database"] == verify_dumps.dbname
    assert "dump host time" in mon["created"]
    assert mon["pg_restore --list"].startswith("OK (")
    assert by_name["signer-mon.bin"].size_bytes == verify_dumps["custom"].stat().st_size
    finished = by_name["signer-mon.bin"].finished_at
    assert finished is not None
    assert abs((utcnow() - finished) - timedelta(days=6)) < timedelta(minutes=5)
    assert backups.newest_good(inventory) is by_name["signer-fri.sql.gz"]
    assert "1 other file(s) ignored" in inventory.evidence[0].decoded
    assert inventory.observed_at is not None


def test_empty_and_misnamed_files(tmp_path: Path) -> None:
    (tmp_path / "signer-2026-01-01.dump").write_bytes(b"")
    (tmp_path / "signer-2026-01-02.sql.gz").write_bytes(b"not gzip at all")
    (tmp_path / "notes.md").write_text("# backups\n")
    inventory = backups.discover(tmp_path, now=utcnow())
    by_name = {r.name: r for r in inventory.records}
    assert set(by_name) == {"signer-2026-01-01.dump", "signer-2026-01-02.sql.gz"}
    assert by_name["signer-2026-01-01.dump"].ok is False
    assert by_name["signer-2026-01-01.dump"].problem == "empty file"
    assert by_name["signer-2026-01-02.sql.gz"].ok is False


def test_fourteen_days_of_dumps_are_scanned_quickly(verify_dumps: DumpSet, tmp_path: Path) -> None:
    for day in range(15):
        name = "custom" if day % 3 else "directory"
        suffix = ".dump" if name == "custom" else ""
        copy = verify_dumps.copy(name, tmp_path, f"signer-{day:02d}{suffix}")
        _age(copy, day)
    started = time.monotonic()
    inventory = backups.discover(tmp_path, now=utcnow())
    took = time.monotonic() - started
    assert len(inventory.records) == 15
    assert all(r.ok for r in inventory.records)
    assert inventory.records[0].name == "signer-00"
    assert took < 5.0, f"discovery of 15 dumps took {took:.2f} s"
    # The periodic poll re-reads nothing that did not change.
    started = time.monotonic()
    again = backups.discover(tmp_path, now=utcnow())
    assert time.monotonic() - started < min(took, 1.0)
    assert again.records == inventory.records


def test_a_changed_file_is_examined_again(verify_dumps: DumpSet, tmp_path: Path) -> None:
    target = verify_dumps.copy("custom", tmp_path, "signer.dump")
    assert backups.discover(tmp_path, now=utcnow()).records[0].ok is True
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    # Just written: pg_dump may still be at work, so it is not called broken yet.
    record = backups.discover(tmp_path, now=utcnow()).records[0]
    assert record.ok is None
    assert "perhaps still being written" in record.problem and "truncated" in record.problem
    _age(target, 1)
    record = backups.discover(tmp_path, now=utcnow()).records[0]
    assert record.ok is False and record.problem.startswith("truncated")


def test_dump_needing_a_newer_postgres_is_not_claimed_good_or_bad(
    verify_dumps: DumpSet, tmp_path: Path
) -> None:
    """Without binaries new enough, pg_restore --list is skipped and says so."""
    target = verify_dumps.copy("custom", tmp_path, "signer.dump")
    inventory = backups.discover(tmp_path, now=utcnow(), installs=[])
    record = inventory.records[0]
    assert record.name == target.name
    assert record.ok is True  # our own structure checks still ran
    assert inventory.tool_problems and "pg_restore --list" in inventory.tool_problems[0]


def test_missing_and_unreadable_locations_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreachable) as caught:
        backups.discover(tmp_path / "nope", now=datetime.now(UTC))
    assert caught.value.title == "backup directory not found"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(SourceError) as other:
        backups.discover(a_file, now=datetime.now(UTC))
    assert other.value.title == "not a directory"
