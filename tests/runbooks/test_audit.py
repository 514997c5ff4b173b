"""The hash-chained record: an edited, a reordered and a deleted line are all detected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signer_tui.runbooks.audit import AuditLog
from signer_tui.runbooks.engine import RunSession
from tests.runbooks.helpers import NOW, person, runs_dir, shipped


def _record(tmp: Path, lines: int = 6) -> AuditLog:
    log = AuditLog(tmp)
    for i in range(lines):
        log.append(
            {
                "at": NOW.isoformat(),
                "event": "step",
                "run": "r1",
                "step": f"s{i}",
                "note": f"note {i}",
            }
        )
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def test_an_intact_record_verifies(tmp_path: Path) -> None:
    log = _record(tmp_path)
    report = log.verify()
    assert report.ok, report.problems
    assert report.count == 6
    assert report.head == json.loads(_lines(log)[-1])["hash"]


def test_an_edited_line_is_detected(tmp_path: Path) -> None:
    log = _record(tmp_path)
    lines = _lines(log)
    lines[2] = lines[2].replace("note 2", "note 2 (all fine, honest)")
    log.path.write_text("".join(lines))
    report = log.verify()
    assert not report.ok
    assert f"{log.path}:3: entry seq 3 was edited (hash mismatch)" in report.problems


def test_an_edit_that_recomputes_the_hash_still_breaks_the_chain(tmp_path: Path) -> None:
    from signer_tui.runbooks.audit import entry_hash

    log = _record(tmp_path)
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["note"] = "rewritten"
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = entry_hash(entry["prev"], body)
    lines[2] = json.dumps(entry) + "\n"
    log.path.write_text("".join(lines))
    report = log.verify()
    assert any(":4: seq 4 does not follow the previous line" in p for p in report.problems)


def test_a_reordered_line_is_detected(tmp_path: Path) -> None:
    log = _record(tmp_path)
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.path.write_text("".join(lines))
    report = log.verify()
    assert not report.ok
    assert f"{log.path}:3: expected seq 3, found 4 (1 line(s) deleted)" in report.problems
    assert any(
        p.startswith(f"{log.path}:4: expected seq 5, found 3 (reordered)") for p in report.problems
    )


def test_a_deleted_line_is_detected(tmp_path: Path) -> None:
    log = _record(tmp_path)
    lines = _lines(log)
    del lines[1]
    log.path.write_text("".join(lines))
    report = log.verify()
    assert f"{log.path}:2: expected seq 2, found 3 (1 line(s) deleted)" in report.problems
    assert any(":2: seq 3 does not follow the previous line" in p for p in report.problems)


def test_a_line_cut_off_the_end_is_detected(tmp_path: Path) -> None:
    log = _record(tmp_path)
    log.path.write_text("".join(_lines(log)[:-1]))
    report = log.verify()
    assert report.problems == [
        f"{log.path}: the head says 6 entries but the file ends at seq 5 "
        "(1 line(s) cut off the end)"
    ]


def test_appends_continue_the_chain_from_the_last_line(tmp_path: Path) -> None:
    log = _record(tmp_path, 2)
    again = AuditLog(tmp_path)  # another operator's process
    entry = again.append({"event": "x", "run": "r1"})
    assert entry["seq"] == 3
    assert entry["prev"] == json.loads(_lines(log)[1])["hash"]
    assert log.verify().ok


@pytest.mark.parametrize("tamper", ["edit", "reorder", "delete"])
def test_audit_verify_cli_exits_1_on_a_tampered_record(tmp_path: Path, tamper: str) -> None:
    runs = runs_dir(tmp_path)
    session = RunSession.start(runs, shipped("log-retention-review"), person("alice"))
    for _ in range(3):
        session.record("done", "looked at it")
    command = [sys.executable, "-m", "signer_tui", "audit", "verify", "--runs-dir", str(runs.path)]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "OK — 4 entries" in ok.stdout
    lines = runs.audit.path.read_text().splitlines(keepends=True)
    if tamper == "edit":
        lines[2] = lines[2].replace("looked at it", "never looked")
    elif tamper == "reorder":
        lines[1], lines[2] = lines[2], lines[1]
    else:
        del lines[2]
    runs.audit.path.write_text("".join(lines))
    bad = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1
    assert "the record is NOT intact" in bad.stderr
    assert f"{runs.audit.path}:" in bad.stderr
