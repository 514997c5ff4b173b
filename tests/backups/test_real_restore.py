"""verify-backup on real pgBackRest and Barman backups, restored by the tools themselves."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backups.conftest import Chain, write_profiles
from tests.backups.realtools import PG_BIN, ArchivedCluster, make_base


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="signer-tui-bk-scratch-", dir="/tmp"))
    base.chmod(0o755)
    monkeypatch.setenv("TMPDIR", str(base))
    yield base
    leftovers = sorted(p.name for p in base.iterdir())
    shutil.rmtree(base, ignore_errors=True)
    assert leftovers == [], f"scratch leftovers: {leftovers}"


def verify(config: Path, *args: str, timeout: float = 300) -> tuple[int, dict, str]:
    env = dict(os.environ)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "signer_tui",
            "--config",
            str(config),
            "verify-backup",
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, doc, proc.stderr


def ids(doc: dict) -> dict[str, str]:
    return {f["id"]: f["status"] for f in doc["findings"]}


def test_pgbackrest_newest_set_verifies(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path
) -> None:
    config = write_profiles(tmp_path / "config.yaml", archived, chain)
    code, doc, err = verify(config, "--profile", "pgbr")
    assert code == 0, (doc.get("summary"), err)
    assert doc["verdict"] == "verified"
    assert doc["backup"]["path"].startswith("pgbackrest:signer/") and doc["backup"][
        "path"
    ].endswith("I")
    found = ids(doc)
    assert found["verify.restore"] == "OK" and found["verify.key"] == "OK"
    assert found["verify.dkg_rows"] == "OK" and found["verify.migrations"] == "OK"


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp dir the tools' account (postgres, when we are root) can reach."""
    base = make_base("signer-tui-bk-copy-")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def repo_copy(archived: ArchivedCluster, base: Path) -> Path:
    """A private copy of the pgBackRest repository (and a config naming it), to damage."""
    subprocess.run(["cp", "-a", str(archived.repo), str(base / "repo")], check=True)
    conf = base / "pgbackrest.conf"
    archived.write_pgbackrest_conf(conf, base / "repo", ("signer",))
    return conf


def newest_set(archived: ArchivedCluster, conf: Path | None = None) -> dict:
    info = json.loads(archived.pgbackrest("--output=json", "info", conf=conf).stdout)
    return info[0]["backup"][-1]


def test_pgbackrest_older_set_and_key_mismatch(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path
) -> None:
    """--set restores the full set; the chain having moved on is a MISMATCH, exit 1."""
    full = json.loads(archived.pgbackrest("--output=json", "info").stdout)[0]["backup"][0]
    assert full["type"] == "full"
    chain.state.chain_key = bytes.fromhex("03" + "ee" * 32)
    config = write_profiles(tmp_path / "config.yaml", archived, chain)
    code, doc, err = verify(config, "--profile", "pgbr", "--set", full["label"])
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "mismatch"
    assert doc["backup"]["path"] == f"pgbackrest:signer/{full['label']}"
    assert not doc["summary"].upper().startswith("MISMATCH")  # the report prefixes the verdict
    found = ids(doc)
    assert found["verify.restore"] == "OK" and found["verify.key"] == "CRIT"


def test_pgbackrest_unknown_set_is_a_usage_error(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path
) -> None:
    config = write_profiles(tmp_path / "config.yaml", archived, chain)
    code, _doc, err = verify(config, "--profile", "pgbr", "--set", "20990101-000000F")
    assert code == 2
    assert "no backup 20990101-000000F in stanza signer (have: " in err


def test_pgbackrest_missing_wal_fails_the_restore(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path, shared_tmp: Path
) -> None:
    """The WAL that ends the newest backup is gone: not restorable to its end, exit 1."""
    conf = repo_copy(archived, shared_tmp)
    newest = newest_set(archived, conf)
    stop = newest["archive"]["stop"]
    wal_dir = next((shared_tmp / "repo" / "archive" / "signer").glob(f"{PG_BIN.parent.name}-*"))
    removed = list(wal_dir.rglob(f"{stop}-*"))
    assert removed, f"no archived segment {stop}"
    for path in removed:
        path.unlink()
    config = write_profiles(
        tmp_path / "config.yaml", archived, chain, pgbackrest=archived.pgbackrest_command(conf)
    )
    code, doc, err = verify(config, "--profile", "pgbr")
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "failed"
    assert "WAL needed by this backup is missing from the archive" in doc["summary"]
    assert ids(doc)["verify.restore"] == "CRIT"


def test_pgbackrest_corrupted_repository_file(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path, shared_tmp: Path
) -> None:
    """A relation file damaged in the repository (in the full set the newest incremental
    references): the restore checks every file and fails, exit 1."""
    conf = repo_copy(archived, shared_tmp)
    full = json.loads(archived.pgbackrest("--output=json", "info", conf=conf).stdout)[0]
    backup_dir = shared_tmp / "repo" / "backup" / "signer" / full["backup"][0]["label"]
    victims = sorted(
        (p for p in (backup_dir / "pg_data" / "base").rglob("[0-9]*") if p.is_file()),
        key=lambda p: -p.stat().st_size,
    )
    assert victims, f"no relation files under {backup_dir}"
    data = bytearray(victims[0].read_bytes())
    data[100:200] = b"\xff" * 100
    victims[0].write_bytes(bytes(data))
    config = write_profiles(
        tmp_path / "config.yaml", archived, chain, pgbackrest=archived.pgbackrest_command(conf)
    )
    code, doc, err = verify(config, "--profile", "pgbr")
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "failed" and ids(doc)["verify.restore"] == "CRIT"
    assert "checksum" in doc["summary"].lower() or "invalid" in doc["summary"].lower(), doc[
        "summary"
    ]


def _processes_with(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


@pytest.mark.parametrize(
    ("tool", "signum", "code"),
    [
        ("pgbackrest", signal.SIGINT, 130),
        ("pgbackrest", signal.SIGTERM, 143),
        ("barman", signal.SIGINT, 130),
        ("barman", signal.SIGTERM, 143),
    ],
)
def test_signal_during_the_tool_restore_leaves_nothing(
    archived: ArchivedCluster,
    chain: Chain,
    tmp_path: Path,
    scratch: Path,
    tool: str,
    signum: int,
    code: int,
) -> None:
    """Ctrl-C / SIGTERM while the tool restores: its whole process group is stopped, the
    scratch dir removed (the `scratch` fixture fails on leftovers), no process remains."""
    marker = f"61.{signum}{len(tool)}"
    word = "restore" if tool == "pgbackrest" else "recover"
    command = archived.pgbackrest_command() if tool == "pgbackrest" else archived.barman_command()
    slow = [
        "sh",
        "-c",
        f'case "$*" in *" {word}"*) sleep {marker} & wait $!;; esac; exec "$@"',
        "sh",
        *command,
    ]
    profile = "pgbr" if tool == "pgbackrest" else "bm"
    wrappers = {"pgbackrest": slow} if tool == "pgbackrest" else {"barman": slow}
    config = write_profiles(tmp_path / "config.yaml", archived, chain, **wrappers)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signer_tui",
            "--config",
            str(config),
            "verify-backup",
            "--profile",
            profile,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        seen.append(line)
        if "restore" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    assert _processes_with(f"sleep {marker}"), seen
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, (seen, err)
    assert "cancelled" in err and "removed" in err
    assert _processes_with(f"sleep {marker}") == []
    assert _processes_with(str(scratch)) == []


def test_barman_newest_backup_verifies(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path
) -> None:
    config = write_profiles(tmp_path / "config.yaml", archived, chain)
    code, doc, err = verify(config, "--profile", "bm")
    assert code == 0, (doc.get("summary"), err)
    newest = archived.barman("list-backups", "--minimal", "signer").stdout.split()[0]
    assert doc["backup"]["path"] == f"barman:signer/{newest}"
    found = ids(doc)
    assert found["verify.restore"] == "OK" and found["verify.key"] == "OK"
    assert found["verify.row_counts"] == "OK"


def barman_copy(archived: ArchivedCluster, base: Path) -> Path:
    subprocess.run(["cp", "-a", str(archived.barman_home), str(base / "barman")], check=True)
    conf = base / "barman.conf"
    archived.write_barman_conf(conf, base / "barman")
    return conf


def test_barman_missing_wal_fails(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path, shared_tmp: Path
) -> None:
    """The segment that ends the newest Barman backup is gone from its WAL archive."""
    conf = barman_copy(archived, shared_tmp)
    newest = archived.barman("list-backups", "--minimal", "signer").stdout.split()[0]
    info = (shared_tmp / "barman" / "signer" / "base" / newest / "backup.info").read_text()
    end_wal = next(
        line.split("=", 1)[1] for line in info.splitlines() if line.startswith("end_wal=")
    )
    gone = list((shared_tmp / "barman" / "signer" / "wals").rglob(f"{end_wal}*"))
    assert gone, end_wal
    for path in gone:
        path.unlink()
    config = write_profiles(
        tmp_path / "config.yaml", archived, chain, barman=archived.barman_command(conf)
    )
    code, doc, err = verify(config, "--profile", "bm", "--set", newest)
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "failed"
    found = ids(doc)
    # barman check-backup flagged it before the restore showed it.
    inventory = next(f for f in doc["findings"] if f["id"] == "verify.inventory")
    assert inventory["status"] == "CRIT" and "WAL missing" in inventory["summary"]
    assert "Required WAL files for consistency are missing" in doc["summary"]
    assert found["verify.restore"] == "CRIT"


def test_tool_errors_lead_with_the_error_not_the_chatter() -> None:
    from signer_tui.verify.physical import tool_errors

    lines = [
        "2026-12-01 22:23:15.161 P00 DETAIL: create path '/tmp/x/data/pg_tblspc'",
        "2026-12-01 22:23:15.200 P00 ERROR: [026]: raised from local-1 protocol: actual "
        "checksum 'aa' does not match expected checksum 'bb'",
        "2026-12-01 22:23:15.201 P00 INFO: restore command end: aborted with exception [026]",
    ]
    assert tool_errors(lines) == (lines[1],)


def test_barman_key_mismatch(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path
) -> None:
    chain.state.chain_key = bytes.fromhex("03" + "ee" * 32)
    config = write_profiles(tmp_path / "config.yaml", archived, chain)
    code, doc, err = verify(config, "--profile", "bm")
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "mismatch" and ids(doc)["verify.key"] == "CRIT"


def test_barman_corrupted_backup_file(
    archived: ArchivedCluster, chain: Chain, tmp_path: Path, scratch: Path, shared_tmp: Path
) -> None:
    """pg_control of the newest Barman base backup damaged: the recovered copy cannot start."""
    conf = barman_copy(archived, shared_tmp)
    newest = archived.barman("list-backups", "--minimal", "signer").stdout.split()[0]
    control = shared_tmp / "barman" / "signer" / "base" / newest / "data" / "global" / "pg_control"
    data = bytearray(control.read_bytes())
    data[16:32] = bytes(16)  # inside the checksummed part
    control.write_bytes(bytes(data))
    config = write_profiles(
        tmp_path / "config.yaml", archived, chain, barman=archived.barman_command(conf)
    )
    code, doc, err = verify(config, "--profile", "bm")
    assert code == 1, (doc.get("summary"), err)
    assert doc["verdict"] == "failed" and ids(doc)["verify.restore"] == "CRIT"
    assert "control file" in doc["summary"], doc["summary"]
