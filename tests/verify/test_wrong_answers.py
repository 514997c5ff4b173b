"""The wrong answers found on real-schema dumps (issue 11), each with a test that failed
before: real pg_dump output of a signer-shaped database, restored for real."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import psycopg
import pytest

from signer_tui.checks.keys import ChainReading, compare_keys
from signer_tui.checks.restored import verdict
from signer_tui.model import Finding, Status
from signer_tui.pgdump.identify import identify, read_entries
from signer_tui.verify.command import outcome_text
from signer_tui.verify.restore_progress import ByteProgress, data_sizes
from signer_tui.verify.run import Progress, VerificationOutcome, VerifyRequest, verify_backup
from tests.verify.conftest import Chain, DumpSet, VerifyConfig
from tests.verify.test_verify_backup import run_cli, run_json

pytestmark = pytest.mark.slow

KEY = "02" + "ab" * 32
OTHER = "03" + "cd" * 32


def dump(verify_dumps: DumpSet, tmp_path: Path, name: str, *args: str, db: str) -> Path:
    target = tmp_path / name
    verify_dumps.pg_dump(*args, "-f", str(target), dbname=db)
    return target


def test_no_verified_row_while_the_chain_has_a_key_is_a_failed_backup(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    live_db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: exit 3 "could not determine", with MISMATCH printed beside UNKNOWN."""
    with psycopg.connect(verify_dumps.cluster.conninfo(live_db), autocommit=True) as conn:
        conn.execute(
            "UPDATE sbtc_signer.dkg_shares SET dkg_shares_status = 'failed' "
            "WHERE dkg_shares_status = 'verified'"
        )
    path = dump(verify_dumps, tmp_path, "no-verified.dump", "-Fc", db=live_db)
    code, out, _ = run_cli(capsys, str(path))
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("FAILED  the backup holds no verified DKG key, but the chain has ")
    assert "MISMATCH" not in out
    assert "(not in the backup)" in out


def test_schema_only_dump_fails_for_the_right_reason(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: failed only because the migrations ledger is empty."""
    path = dump(verify_dumps, tmp_path, "schema.dump", "-Fc", "-s", db=verify_dumps.dbname)
    code, doc = run_json(capsys, str(path))
    assert code == 1 and doc["verdict"] == "failed"
    assert doc["summary"].startswith("dkg_shares is empty: schema-only or empty backup")
    assert {f["id"]: f["status"] for f in doc["findings"]}["verify.dkg_rows"] == "CRIT"


def test_data_only_dump_headlines_the_first_real_error(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: "a worker process died unexpectedly" (a parallel restore's last line)."""
    path = dump(verify_dumps, tmp_path, "data.dir", "-Fd", "-a", db=verify_dumps.dbname)
    code, doc = run_json(capsys, str(path), "--jobs", "2")
    assert code == 1 and doc["verdict"] == "failed"
    summary = doc["summary"]
    assert "worker process died" not in summary.split(";")[0]
    assert re.search(r'(relation|schema) "[^"]+" does not exist', summary), summary
    assert "the dump looks data-only (pg_dump -a" in summary


def test_dkg_shares_only_dump_verifies_with_a_partial_warning(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`pg_dump -t sbtc_signer.dkg_shares`, the sBTC team's shape for key material.
    Was: the restore failed (no schema, no enum type), or CRIT for the missing ledger."""
    path = dump(
        verify_dumps,
        tmp_path,
        "keys.dump",
        "-Fc",
        "-t",
        "sbtc_signer.dkg_shares",
        db=verify_dumps.dbname,
    )
    code, doc = run_json(capsys, str(path))
    assert code == 0, doc["summary"]
    assert doc["verdict"] == "verified"
    found = {f["id"]: f for f in doc["findings"]}
    assert found["verify.partial"]["status"] == "WARN"
    assert found["verify.partial"]["summary"].startswith("partial backup: only dkg_shares")
    assert "verify.migrations" not in found
    assert found["verify.key"]["status"] == "OK"


def _claim_newer_pg_dump(source: Path, target: Path, version: str = "17.2") -> None:
    text = source.read_text()
    text = re.sub(
        r"^-- Dumped by pg_dump version \S+",
        f"-- Dumped by pg_dump version {version}",
        text,
        count=1,
        flags=re.M,
    )
    target.write_text(text)


def test_plain_dump_from_a_newer_pg_dump_is_tried_with_the_older_psql(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Was: refused ("needs PostgreSQL 17"), exit 3, although psql reads the SQL fine."""
    target = tmp_path / "newer.sql"
    _claim_newer_pg_dump(verify_dumps["plain"], target)
    assert identify(target).pg_dump_major == 17
    code, doc = run_json(capsys, str(target))
    assert code == 0, doc["summary"]
    assert doc["verdict"] == "verified"


def test_plain_dump_from_a_newer_pg_dump_that_really_fails_says_so(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    chain: Chain,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "newer-broken.sql"
    _claim_newer_pg_dump(verify_dumps["plain"], target)
    text = target.read_text().replace(
        "SET statement_timeout = 0;", "SET statement_timeout = 0;\nSET a_setting_from_pg17 = on;", 1
    )
    target.write_text(text)
    code, doc = run_json(capsys, str(target))
    assert code == 1 and doc["verdict"] == "failed"
    assert (
        f"written by pg_dump 17.2, restored with psql {verify_dumps.install.version}"
        in (doc["summary"])
    )
    assert "a_setting_from_pg17" in doc["summary"]


def _outcome(
    verdict_word: str, summary: str, keys_status: str, db_key: str | None
) -> VerificationOutcome:
    readings = (ChainReading("node", "http://n", KEY), ChainReading("api", "http://a", KEY))
    keys = compare_keys(db_key, readings)
    assert keys.status == keys_status
    return VerificationOutcome(
        verdict=verdict_word,
        summary=summary,
        findings=(Finding("verify.key", Status.CRIT, keys.summary),),
        path="/backups/x.dump",
        keys=keys,
    )


def test_mismatch_headline_says_mismatch_once() -> None:
    """Was: "MISMATCH  MISMATCH — ..."."""
    keys = compare_keys(OTHER, [ChainReading("node", "http://n", KEY)])
    word, summary = verdict(keys, [])
    assert word == "mismatch"
    lines = outcome_text(_outcome(word, summary, "mismatch", OTHER))
    assert lines[0].startswith("MISMATCH  ") and lines[0].count("MISMATCH") == 1


def test_missing_key_report_never_prints_mismatch_beside_another_verdict() -> None:
    keys = compare_keys(None, [ChainReading("node", "http://n", KEY)])
    word, summary = verdict(keys, [])
    assert word == "failed"
    lines = outcome_text(_outcome(word, summary, "missing", None))
    assert lines[0].startswith("FAILED  ")
    assert not any("MISMATCH" in line for line in lines)


def test_serial_restore_progress_counts_bytes_of_table_data(verify_dumps: DumpSet) -> None:
    info = identify(verify_dumps["custom"])
    toc = read_entries(info.path)
    sizes = data_sizes(info, toc)
    assert toc is not None and sizes and sum(sizes.values()) > 0
    largest = max((e for e in toc.entries if e.dump_id in sizes), key=lambda e: sizes[e.dump_id])
    progress = ByteProgress(toc, sizes, parallel=False)
    progress.line(f'pg_restore: processing data for table "{largest.namespace}.{largest.tag}"')
    assert progress.done == 0  # loading: not done yet, however many entries are
    progress.line("pg_restore: creating INDEX ...")
    assert progress.done == sizes[largest.dump_id]


def test_parallel_restore_reports_progress_by_bytes(
    verify_dumps: DumpSet, scratch_tmp: Path
) -> None:
    """Was: entries, so the bar sat near 90 % while the largest table loaded."""
    info = identify(verify_dumps["directory"])
    toc = read_entries(info.path)
    sizes = data_sizes(info, toc)
    assert toc is not None and sizes
    events: list[Progress] = []
    outcome = verify_backup(
        VerifyRequest(path=verify_dumps["directory"], chain=False, jobs=2, record_history=False),
        progress=events.append,
    )
    assert outcome.restore is not None and outcome.restore.ok
    restore = [e for e in events if e.phase == "restore" and e.done is not None and e.total]
    assert restore and all(e.unit == "bytes" for e in restore)
    assert restore[-1].done == restore[-1].total == sum(sizes.values())
    largest = max(sizes, key=lambda k: sizes[k])
    jumps = [
        (before.done or 0, after.done or 0)
        for before, after in itertools.pairwise(restore)
        if f"finished item {largest} " in after.message
    ]
    assert jumps and jumps[0][1] - jumps[0][0] >= sizes[largest] - 1
    assert outcome.restore.unit == "bytes"
