"""The verification history file: append-only JSON lines, tolerant reads."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from signer_tui import locations
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.verify import history

T0 = datetime(2026, 8, 21, 3, 0, tzinfo=UTC)


def record(i: int = 0, profile: str = "mainnet", verdict: str = "verified") -> VerificationRecord:
    return VerificationRecord(
        profile=profile,
        started_at=T0 + timedelta(days=i),
        finished_at=T0 + timedelta(days=i, seconds=42),
        backup=f"/var/backups/signer-{i}.dump",
        sha256="ab" * 32,
        size_bytes=1000 + i,
        duration_s=42.5,
        verdict=verdict,
        summary=f"run {i} — ünïcode survives",
        db_key="02" + "11" * 32,
        chain_keys={"node": "02" + "11" * 32, "api": None},
        problems=("verify.row_counts: stacks_blocks: backup 1 rows, live 900",),
    )


def test_round_trip_in_the_xdg_state_dir() -> None:
    written = history.append(record(0))
    assert written == locations.state_dir() / "verifications.jsonl"
    assert written.stat().st_mode & 0o777 == 0o600
    assert history.read() == [record(0)]
    line = written.read_text().splitlines()[0]
    assert json.loads(line)["verdict"] == "verified"


def test_profile_filter_and_order() -> None:
    history.append(record(0, "mainnet"))
    history.append(record(1, "testnet", "mismatch"))
    history.append(record(2, "mainnet", "failed"))
    assert [r.verdict for r in history.read()] == ["verified", "mismatch", "failed"]
    assert [r.verdict for r in history.read("mainnet")] == ["verified", "failed"]
    assert history.latest("mainnet") == record(2, "mainnet", "failed")
    assert history.latest("nobody") is None


def test_corrupt_and_foreign_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    history.append(record(0), path)
    with path.open("ab") as f:
        f.write(b'{"verdict": "verified", "half a li')  # a crash mid-write
        f.write(b"\n\xff\xfe not utf-8\n")
        f.write(b'{"verdict": "great", "profile": "x"}\n')  # unknown verdict
        f.write(b"[1, 2, 3]\n")
    history.append(record(1), path)
    result = history.read_all(path=path)
    assert list(result.records) == [record(0), record(1)]
    assert result.skipped == 4


def test_missing_file_is_an_empty_history(tmp_path: Path) -> None:
    assert history.read(path=tmp_path / "none.jsonl") == []


def _append_many(path: str, worker: int) -> None:
    for i in range(50):
        history.append(record(worker * 1000 + i, profile=f"w{worker}"), Path(path))


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_append_many, args=(str(path), w)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    result = history.read_all(path=path)
    assert result.skipped == 0
    assert len(result.records) == 200
    for worker in range(4):
        assert len(history.read(f"w{worker}", path=path)) == 50


def test_finding_ids_round_trip_and_old_lines_still_read(tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "h.jsonl"
    with_ids = replace(record(1), findings=(("verify.restore", "OK"), ("verify.key", "CRIT")))
    history.append(with_ids, path)
    old = history.to_json(record(2))
    del old["findings"]  # a line written before the field existed
    with path.open("a") as f:
        f.write(json.dumps(old) + "\n")
    first, second = history.read(path=path)
    assert first.findings == (("verify.restore", "OK"), ("verify.key", "CRIT"))
    assert second.findings == ()
