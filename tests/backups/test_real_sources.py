"""The Backups pane's sources against the real pgBackRest 2.45 and Barman 3.4, and the tools'
real failure modes: repository missing, stanza not created, archive-push failing, a backup in
progress, a corrupted repository file, missing WAL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer_tui.config import Backups
from signer_tui.sources.barman import Barman
from signer_tui.sources.pgbackrest import PgBackRest
from tests.backups.realtools import SERVER, STANZA, ArchivedCluster, make_base


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    base = make_base("signer-tui-bk-src-")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def pgbackrest(
    archived: ArchivedCluster, stanza: str = STANZA, conf: Path | None = None
) -> PgBackRest:
    cfg = Backups(kind="pgbackrest", stanza=stanza, command=archived.pgbackrest_command(conf))
    return PgBackRest.from_profile(cfg)


def test_pgbackrest_inventory_from_the_real_tool(archived: ArchivedCluster) -> None:
    inventory = pgbackrest(archived).inventory()
    full, incr = sorted(inventory.records, key=lambda r: r.name)
    assert dict(full.details)["type"] == "full" and dict(incr.details)["type"] == "incr"
    assert inventory.records[0] is incr  # newest first
    # verify of the newest set ran and found it (and its full) valid.
    assert incr.ok is True and full.ok is True
    assert inventory.tool_problems == ()
    assert [e.request.split()[-1] for e in inventory.evidence] == ["info", "verify"]


def test_repository_missing(archived: ArchivedCluster, shared_tmp: Path) -> None:
    conf = shared_tmp / "pgbackrest.conf"
    archived.write_pgbackrest_conf(conf, shared_tmp / "no-such-repo", (STANZA,))
    inventory = pgbackrest(archived, conf=conf).inventory()
    assert inventory.records == ()
    assert inventory.tool_problems == (
        "stanza signer: missing stanza path (code 1)",
        "repo1: missing stanza path (code 1)",
    )


def test_stanza_not_created(archived: ArchivedCluster) -> None:
    inventory = pgbackrest(archived, stanza="never-created").inventory()
    assert inventory.records == ()
    assert inventory.tool_problems[0] == "stanza never-created: missing stanza path (code 1)"


def test_archive_push_failing_makes_the_backup_unrestorable(archived: ArchivedCluster) -> None:
    """Stanza `broken` gets no WAL (the cluster's archive-push goes elsewhere, as when
    archive-push fails); a backup taken without the archive check is listed by info but
    cannot be replayed to its end — a finding, not a good backup."""
    archived.pgbackrest("--type=full", "--no-archive-check", "backup", stanza="broken")
    check = archived.pgbackrest("check", "--archive-timeout=3", stanza="broken", check=False)
    assert check.returncode != 0  # what pgBackRest itself says about archive-push
    inventory = pgbackrest(archived, stanza="broken").inventory(verify=False)
    (record,) = inventory.records
    assert record.ok is False and "not restorable to its end" in record.problem
    assert any("no WAL in the archive" in p for p in inventory.tool_problems)


def test_backup_in_progress(archived: ArchivedCluster) -> None:
    """A backup waiting for its checkpoint (no start-fast) holds the lock: a running row."""
    proc = subprocess.Popen(
        [
            *archived.pgbackrest_command(),
            "--stanza=busy",
            "--no-start-fast",
            "--type=full",
            "backup",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            inventory = pgbackrest(archived, stanza="busy").inventory(verify=False)
            if inventory.records or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        (running,) = inventory.records
        assert running.name == "(backup running)" and running.ok is None
        assert running.problem.startswith("backup in progress")
        assert "backup running" in inventory.evidence[0].decoded
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_corrupted_repository_file_found_by_verify(
    archived: ArchivedCluster, shared_tmp: Path
) -> None:
    subprocess.run(["cp", "-a", str(archived.repo), str(shared_tmp / "repo")], check=True)
    conf = shared_tmp / "pgbackrest.conf"
    archived.write_pgbackrest_conf(conf, shared_tmp / "repo", (STANZA,))
    info = json.loads(archived.pgbackrest("--output=json", "info", conf=conf).stdout)[0]
    newest = info["backup"][-1]["label"]
    files = [
        p
        for p in (shared_tmp / "repo" / "backup" / STANZA / newest).rglob("*")
        if p.is_file() and p.stat().st_size > 200 and "pg_data" in p.parts
    ]
    victim = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[50:60] = b"\x00" * 10 if data[50:60] != b"\x00" * 10 else b"\x01" * 10
    victim.write_bytes(bytes(data))
    inventory = pgbackrest(archived, conf=conf).inventory()
    by_name = {r.name: r for r in inventory.records}
    assert by_name[newest].ok is False
    assert "checksum invalid: 1" in by_name[newest].problem
    assert any(f"backup {newest} invalid" in p for p in inventory.tool_problems)


def barman(archived: ArchivedCluster, conf: Path | None = None) -> Barman:
    cfg = Backups(kind="barman", server=SERVER, command=archived.barman_command(conf))
    return Barman.from_profile(cfg)


def test_barman_inventory_from_the_real_tool(archived: ArchivedCluster) -> None:
    inventory = barman(archived).inventory()
    assert len(inventory.records) == 2
    assert all(r.ok is True and dict(r.details)["status"] == "DONE" for r in inventory.records)
    listed = archived.barman("list-backups", "--minimal", SERVER).stdout.split()
    assert [r.name for r in inventory.records] == listed  # newest first, as barman says
    assert inventory.tool_problems == ()
    nagios = archived.barman("check", "--nagios", SERVER, check=False)
    assert nagios.stdout.startswith("BARMAN OK")


def test_barman_missing_wal_is_found_by_check_backup(
    archived: ArchivedCluster, shared_tmp: Path
) -> None:
    subprocess.run(["cp", "-a", str(archived.barman_home), str(shared_tmp / "barman")], check=True)
    conf = shared_tmp / "barman.conf"
    archived.write_barman_conf(conf, shared_tmp / "barman")
    newest = archived.barman("list-backups", "--minimal", SERVER).stdout.split()[0]
    info = (shared_tmp / "barman" / SERVER / "base" / newest / "backup.info").read_text()
    end_wal = next(x.split("=", 1)[1] for x in info.splitlines() if x.startswith("end_wal="))
    for path in (shared_tmp / "barman" / SERVER / "wals").rglob(f"{end_wal}*"):
        path.unlink()
    inventory = barman(archived, conf).inventory()
    by_name = {r.name: r for r in inventory.records}
    assert by_name[newest].ok is False and "WAL missing" in by_name[newest].problem
    assert any("WAL incomplete (check-backup)" in p for p in inventory.tool_problems)


def test_barman_server_unreachable_is_a_check_problem(
    archived: ArchivedCluster, shared_tmp: Path
) -> None:
    """The catalogue is still listed when the PostgreSQL server is gone; `check` says FAILED."""
    subprocess.run(["cp", "-a", str(archived.barman_home), str(shared_tmp / "barman")], check=True)
    conf = shared_tmp / "barman.conf"
    archived.write_barman_conf(conf, shared_tmp / "barman")
    # Point the server at a cluster that is not there: PostgreSQL unreachable for barman.
    text = conf.read_text().replace(f"port={archived.port}", "port=1")
    conf.write_text(text)
    inventory = barman(archived, conf).inventory()
    assert inventory.records  # the catalogue is still read
    assert any("postgresql: FAILED" in p.lower() or "FAILED" in p for p in inventory.tool_problems)
