"""`signer-tui verify-backup` end to end: real dumps, a real scratch PostgreSQL, the chain
simulators over loopback HTTP, and the CLI's exit codes, report and history."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from signer_tui import cli
from signer_tui.sim.state import fake_key
from signer_tui.verify import history
from signer_tui.verify.cluster import ScratchCluster
from tests.verify.conftest import Chain, DumpSet, VerifyConfig

pytestmark = pytest.mark.slow

FORMATS = ["custom", "directory", "tar", "plain", "plain_gz", "custom_z0", "custom_piped"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(["verify-backup", *args])
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli(capsys, *args, "--json")
    return code, json.loads(out)


def finding(doc: dict[str, Any], id_: str) -> dict[str, Any]:
    return next(f for f in doc["findings"] if f["id"] == id_)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_verifies_against_the_chain(
    fmt: str,
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dump = verify_dumps[fmt]
    code, doc = run_json(capsys, str(dump), "--jobs", "2")
    assert code == 0, doc["summary"]
    assert doc["verdict"] == "verified"
    expected = verify_dumps.state.newest_verified_key()
    assert expected is not None
    assert doc["keys"]["backup"] == expected.hex()
    assert [(c["source"], c["key"]) for c in doc["keys"]["chain"]] == [
        ("node", expected.hex()),
        ("api", expected.hex()),
    ]
    assert doc["restore"]["ok"] is True
    assert doc["backup"]["pg_dump_version"] == verify_dumps.install.version
    assert doc["migrations"] == {
        "ledger_present": True,
        "count": 21,
        "last": "0022__add_is_canonical_to_bitcoin_blocks.sql",
    }
    assert finding(doc, "verify.shares")["status"] == "OK"
    counts = {r["table"]: (r["backup"], r["live"]) for r in doc["row_counts"]}
    assert counts["dkg_shares"] == (5, 5)
    assert counts["stacks_blocks"][0] == counts["stacks_blocks"][1] > 1000
    # Both chain sources were really asked, over HTTP.
    assert any("get-current-aggregate-pubkey" in r.path for r in chain.node.requests)
    assert any("get-current-aggregate-pubkey" in r.path for r in chain.api.requests)
    records = history.read()
    assert len(records) == 1
    record = records[0]
    assert record.verdict == "verified" and record.profile == "mainnet"
    assert record.backup == str(dump)
    assert record.db_key == expected.hex()
    assert record.chain_keys == {"node": expected.hex(), "api": expected.hex()}
    assert record.sha256 == doc["backup"]["sha256"] and len(record.sha256 or "") == 64
    assert record.size_bytes == doc["backup"]["size_bytes"] > 0


def test_human_report_puts_the_verdict_first(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(capsys, str(verify_dumps["custom"]))
    lines = out.splitlines()
    key = verify_dumps.state.newest_verified_key()
    assert key is not None
    assert code == 0
    assert lines[0].startswith("VERIFIED")
    assert any(line.startswith("key") and key.hex() in line for line in lines)
    assert any("own Stacks node" in line and "match" in line for line in lines)
    assert any("independent API" in line and "match" in line for line in lines)
    assert any(line.startswith("migrations") and "0022__" in line for line in lines)
    assert any(line.startswith("row counts") for line in lines)
    assert any(line.startswith("timings") and "restore" in line for line in lines)
    # Not a terminal: plain progress lines on stderr, no carriage-return bar.
    assert "verify-backup: restore: restore started" in err
    assert "\r" not in err


def test_newest_verified_key_differs_from_chain_is_a_mismatch(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain.state.chain_key = fake_key("a key rotated in after this backup")
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 1
    assert doc["verdict"] == "mismatch"
    assert doc["keys"]["status"] == "mismatch"
    assert "not in this backup" in doc["keys"]["summary"]
    assert finding(doc, "verify.key")["status"] == "CRIT"
    assert history.read()[-1].verdict == "mismatch"


def test_backup_holding_the_registry_key_as_older_verified_is_verified_with_a_warn(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The registry-key rule (sBTC PR #2090, issue 14): the backup's newest verified key is
    newer than the registry's, but it also holds the registry's key as verified. The signers
    sign with the registry's key, so this backup restores the signer: VERIFIED, with a WARN."""
    older = next(r.aggregate_key for r in chain.state.dkg_rounds if r.status == "verified")
    chain.state.chain_key = older
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 0, doc["summary"]
    assert doc["verdict"] == "verified"
    assert doc["keys"]["status"] == "pending"
    assert "rotation pending" in doc["keys"]["summary"]
    assert finding(doc, "verify.key")["status"] == "WARN"


def test_chain_sources_disagreeing_is_reported(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain.state.hiro_key_override = fake_key("a forked view")
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 3
    assert doc["verdict"] == "unknown"
    assert doc["keys"]["sources_disagree"] is True
    assert finding(doc, "verify.chain_sources")["status"] == "CRIT"
    assert "matches only the own Stacks node" in doc["keys"]["summary"]


def test_chain_unreachable_is_could_not_determine(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain.node.stop()
    chain.api.stop()
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 3
    assert doc["verdict"] == "unknown"
    assert all(c["error"] and "refused" in c["error"] for c in doc["keys"]["chain"])
    # The restore itself still happened and is reported.
    assert doc["restore"]["ok"] is True
    assert history.read()[-1].verdict == "unknown"


def test_one_chain_source_down_still_verifies_with_a_warning(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain.api.stop()
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 0
    assert finding(doc, "verify.chain_sources")["status"] == "WARN"


def test_no_chain_restores_but_cannot_say_verified(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc = run_json(capsys, str(verify_dumps["custom"]), "--no-chain")
    assert code == 3
    assert doc["restore"]["ok"] is True
    assert doc["keys"]["status"] == "skipped"
    assert chain.node.requests == [] and chain.api.requests == []


def test_no_chain_works_without_any_config(
    verify_dumps: DumpSet, scratch_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = run_json(capsys, str(verify_dumps["plain"]), "--no-chain")
    assert code == 3
    assert doc["restore"]["ok"] is True
    assert doc["live_db"].startswith("no profile")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("truncated_custom", "truncated"),
        ("plain_without_trailer", "dump complete"),
        ("empty", "empty file"),
        ("not_a_dump", "not a pg_dump backup"),
        ("truncated_gz", "gzip"),
    ],
)
def test_damaged_dumps_fail_with_a_clear_error(
    damage: str,
    expected: str,
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / f"{damage}.dump"
    if damage == "truncated_custom":
        data = verify_dumps["custom"].read_bytes()
        target.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "plain_without_trailer":
        text = verify_dumps["plain"].read_bytes()
        target.write_bytes(text[: text.index(b"-- PostgreSQL database dump complete")])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "not_a_dump":
        target.write_text("this is a shell script, not a backup\n")
    elif damage == "truncated_gz":
        data = verify_dumps["plain_gz"].read_bytes()
        target.write_bytes(data[: len(data) // 2])
    code, out, _ = run_cli(capsys, str(target))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("FAILED")
    assert expected in first
    assert history.read()[-1].verdict == "failed"


def test_truncation_only_pg_restore_notices_is_a_failed_restore(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A damaged data block that the cheap structure checks cannot see: pg_restore fails with
    --exit-on-error and its own last error line is reported."""
    data = bytearray(verify_dumps["custom_z0"].read_bytes())
    # Corrupt rows in the middle of the uncompressed COPY data of stacks_blocks.
    at = data.index(b"\\x", len(data) // 2)
    data[at : at + 4] = b"\\zz!"
    target = tmp_path / "corrupt.dump"
    target.write_bytes(bytes(data))
    code, doc = run_json(capsys, str(target))
    assert code == 1
    assert doc["verdict"] == "failed"
    assert doc["restore"]["ok"] is False
    assert any("COPY failed" in e or "invalid" in e for e in doc["restore"]["errors"])
    assert finding(doc, "verify.restore")["status"] == "CRIT"


def test_dump_without_the_migrations_ledger_is_a_finding(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, doc = run_json(capsys, str(verify_dumps["schema_only_ns"]))
    migrations = finding(doc, "verify.migrations")
    assert migrations["status"] == "CRIT"
    assert "__sbtc_migrations" in migrations["summary"]
    assert "-n sbtc_signer" in migrations["summary"]
    # The key itself is fine, but this backup cannot be restored as-is: failed.
    assert doc["keys"]["status"] == "match"
    assert (code, doc["verdict"]) == (1, "failed")


def test_live_db_ahead_of_the_backup_is_noted(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    pg_cluster: ScratchCluster,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with psycopg.connect(pg_cluster.conninfo(verify_config.live_db), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sbtc_signer.dkg_shares SELECT '\\x02' || sha256('newer round'), "
            "tweaked_aggregate_key, encrypted_private_shares, public_shares, script_pubkey, "
            "signer_set_public_keys, signature_share_threshold, now(), 'unverified', "
            "started_at_bitcoin_block_hash, started_at_bitcoin_block_height "
            "FROM sbtc_signer.dkg_shares LIMIT 1"
        )
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 0  # the key still matches; the advice is to take a new backup
    rows = finding(doc, "verify.row_counts")
    assert rows["status"] == "WARN"
    assert "dkg_shares" in rows["summary"] and "newer DKG row" in rows["summary"]


def test_live_db_unreachable_is_noted_not_fatal(
    verify_dumps: DumpSet,
    chain: Chain,
    pg_cluster: ScratchCluster,
    live_db: str,
    isolated_env: Path,
    tmp_path: Path,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.verify.conftest import write_config

    config = isolated_env / "config" / "signer-tui" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    write_config(
        config,
        node_url=chain.node.url,
        api_url=chain.api.url,
        cluster=pg_cluster,
        live_db=live_db,
        backups=tmp_path,
        db_port=1,  # nothing listens there
    )
    code, doc = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 0
    assert doc["live_db"].startswith("live DB not compared")
    assert all(r["live"] is None for r in doc["row_counts"])


def test_latest_picks_the_newest_good_dump(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os

    now = time.time()
    older = verify_dumps.copy("custom", verify_config.backups, "signer-2026-01-01.dump")
    good = verify_dumps.copy("tar", verify_config.backups, "signer-2026-01-02.tar")
    broken = verify_config.backups / "signer-2026-01-03.dump"
    broken.write_bytes(verify_dumps["custom"].read_bytes()[:5000])
    os.utime(older, (now - 3 * 86400, now - 3 * 86400))
    os.utime(good, (now - 2 * 86400, now - 2 * 86400))
    os.utime(broken, (now - 86400, now - 86400))
    code, doc = run_json(capsys, "--latest")
    assert code == 0
    assert doc["backup"]["path"] == str(good)
    assert doc["backup"]["format"] == "tar"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name the dump"),
        (("x.dump", "--latest"), "not both"),
        (("/nonexistent/signer.dump",), "no such file"),
        (("x.dump", "--jobs", "0"), "between 1 and 64"),
        (("x.dump", "--profile", "nope"), "no profile named 'nope'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    args: tuple[str, ...],
    message: str,
    verify_config: VerifyConfig,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 2
    assert out == ""


def test_latest_without_config_is_a_usage_error(
    scratch_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--latest")
    assert code == 2
    assert "no config file" in err
    assert out == ""


def test_dump_from_a_newer_major_names_the_version_needed(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from signer_tui.pgdump.identify import identify

    header = identify(verify_dumps["custom"]).header
    assert header is not None and header.server_version and header.dump_version
    data = bytearray(verify_dumps["custom"].read_bytes())
    # The header holds the server version string, then the pg_dump one (length-prefixed):
    # make the dump claim it was written by pg_dump 99.
    server, dumper = header.server_version.encode(), header.dump_version.encode()
    at = data.index(server + b"\x00" + len(dumper).to_bytes(4, "little") + dumper)
    at += len(server) + 5
    data[at : at + len(dumper)] = b"99.1".ljust(len(dumper), b" ")
    target = tmp_path / "from-the-future.dump"
    target.write_bytes(bytes(data))
    code, out, _ = run_cli(capsys, str(target))
    assert code == 3
    assert out.startswith("UNKNOWN")
    assert "needs PostgreSQL 99 or newer" in out.splitlines()[0]
    assert "could not determine" in out.splitlines()[0]


def test_pg_dumpall_cluster_dump_is_refused_clearly(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import os
    import subprocess

    target = tmp_path / "cluster.sql"
    env = dict(os.environ)
    env.update(
        PGHOST=str(verify_dumps.cluster.socket_dir),
        PGPORT=str(verify_dumps.cluster.port),
        PGUSER="postgres",
    )
    subprocess.run(
        [str(verify_dumps.install.tool("pg_dumpall")), "--globals-only", "-f", str(target)],
        env=env,
        check=True,
        timeout=60,
    )
    code, out, _ = run_cli(capsys, str(target))
    assert code == 3
    assert "pg_dumpall cluster dump" in out.splitlines()[0]


def test_dump_unreadable_by_the_cluster_account_still_restores(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As root the cluster runs as postgres/nobody; a 0600 dump in a 0700 directory must still
    verify (the client streams it over the socket; the server never opens the file)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    dump = Path(shutil.copy2(verify_dumps["custom"], private / "signer.dump"))
    dump.chmod(0o600)
    code, doc = run_json(capsys, str(dump))
    assert code == 0, doc["summary"]


def test_history_survives_a_corrupt_line(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = history.history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"verdict": "verified", "trunc\n')
    code, _ = run_json(capsys, str(verify_dumps["custom"]))
    assert code == 0
    records = history.read("mainnet")
    assert [r.verdict for r in records] == ["verified"]
    assert history.read_all().skipped == 1


def test_dump_of_another_database_is_not_a_signer_backup(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "postgres.dump"
    verify_dumps.pg_dump("-Fc", "-f", str(target), dbname="postgres")
    code, doc = run_json(capsys, str(target))
    assert code == 1
    assert doc["verdict"] == "failed"
    assert doc["restore"]["ok"] is True
    assert "no sbtc_signer schema" in finding(doc, "verify.checks")["summary"]
