"""The shared directory's permission checks, and reading the record back (show, export)."""

from __future__ import annotations

import grp
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from signer_tui.model import Status
from signer_tui.runbooks.engine import RunSession
from signer_tui.runbooks.livecheck import rows_for
from signer_tui.runbooks.store import RunsDir, RunsDirError
from tests.runbooks.helpers import NOW, finding, person, runs_dir, shipped


def _cli(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "cfg"),
        "XDG_STATE_HOME": str(tmp / "state"),
    }
    env.pop("SIGNER_TUI_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "signer_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_a_world_writable_directory_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "runs"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(RunsDirError, match="world-writable: anyone could rewrite"):
        RunsDir(shared).check(write=True)


def test_the_configured_group_must_own_the_directory(tmp_path: Path) -> None:
    shared = tmp_path / "runs"
    shared.mkdir(mode=0o700)
    other = next(g for g in grp.getgrall() if g.gr_gid != shared.stat().st_gid)
    with pytest.raises(RunsDirError, match=f"not {other.gr_name}: chgrp {other.gr_name}"):
        RunsDir(shared, other.gr_name).check(write=True)
    mine = grp.getgrgid(shared.stat().st_gid).gr_name
    with pytest.raises(RunsDirError, match=r"must read, write and own new files \(setgid\)"):
        RunsDir(shared, mine).check(write=True)
    shared.chmod(0o2770)
    assert RunsDir(shared, mine).check(write=True)
    with pytest.raises(RunsDirError, match="no group 'no-such-group-x'"):
        RunsDir(shared, "no-such-group-x").check(write=True)


def test_a_group_shared_directory_must_be_setgid(tmp_path: Path) -> None:
    shared = tmp_path / "runs"
    shared.mkdir()
    shared.chmod(0o770)
    with pytest.raises(RunsDirError, match=f"not setgid.*chmod g\\+s {shared}"):
        RunsDir(shared).check(write=True)
    assert RunsDir(shared).check(write=False)  # reading is fine
    shared.chmod(0o700)
    assert RunsDir(shared).check(write=True)  # solo use


def test_a_missing_directory_is_created_group_shared(tmp_path: Path) -> None:
    runs = RunsDir(tmp_path / "a" / "runs").check(write=True)
    assert runs.path.stat().st_mode & 0o7777 == 0o2770
    with pytest.raises(RunsDirError, match="nothing has been recorded"):
        RunsDir(tmp_path / "none").check(write=False)


def test_the_cli_reports_a_bad_runs_dir_in_one_line(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    result = _cli(tmp_path, "runbook", "start", "access-review", "--runs-dir", str(not_a_dir))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"signer-tui: error: {not_a_dir} is not a directory (runbooks.runs_dir in the config)"
    ]


def test_the_config_section_sets_the_directory_and_group(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2770)
    group = grp.getgrgid(os.getegid()).gr_name
    config = tmp_path / "config.yaml"
    config.write_text(
        "signers: [{name: mainnet, network: mainnet}]\n"
        f"runbooks: {{runs_dir: {shared}, group: {group}}}\n"
    )
    ok = _cli(tmp_path, "--config", str(config), "audit")
    assert ok.returncode == 0, ok.stderr
    assert f"no runs recorded in {shared}/audit.jsonl" in ok.stdout
    config.write_text(
        "signers: [{name: mainnet, network: mainnet}]\nrunbooks: {runs_dir: /x, gruop: ops}\n"
    )
    bad = _cli(tmp_path, "--config", str(config), "audit")
    assert bad.returncode == 2
    assert "runbooks.gruop: unknown key 'gruop' (did you mean 'group'?)" in bad.stderr


def test_headless_start_and_audit_show(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    answers = "d\nlooked\n.\nd\n.\nq\n"
    started = _cli(
        tmp_path, "runbook", "start", "log-retention-review", "--runs-dir", str(runs), stdin=answers
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[1].rstrip(":")
    listed = _cli(tmp_path, "audit", "--runs-dir", str(runs))
    assert run_id in listed.stdout and "active" in listed.stdout
    shown = _cli(tmp_path, "audit", "show", run_id, "--runs-dir", str(runs))
    assert "journald: done → docker-logs" in shown.stdout
    assert "| looked" in shown.stdout
    assert "pause at oldest" in shown.stdout


def test_export_is_a_hand_over_with_the_console_timeline(tmp_path: Path) -> None:
    runs = runs_dir(tmp_path)
    clock = iter(NOW + timedelta(minutes=m) for m in range(100))
    session = RunSession.start(
        runs,
        shipped("daily-backup-verification"),
        person("alice"),
        clock=lambda: next(clock),
        profile="mainnet",
    )
    rows = rows_for(["backup.freshness"], [finding("backup.freshness", Status.CRIT)], NOW)
    session.record("failed", findings=rows)
    session.record("done", "took a dump by hand | at 09:33")
    timeline = tmp_path / "timeline.jsonl"
    events = [
        (NOW - timedelta(hours=2), "key.node", "OK", "WARN", "too early: outside the window"),
        (NOW - timedelta(minutes=5), "backup.freshness", "OK", "CRIT", "newest dump 30 h old"),
        (NOW + timedelta(minutes=1), "backup.freshness", "CRIT", "OK", "newest dump 2 min old"),
        (NOW + timedelta(minutes=1), "key.node", "OK", "CRIT", "another profile's event"),
    ]
    timeline.write_text(
        "".join(
            json.dumps(
                {
                    "at": at.isoformat(),
                    "profile": "testnet" if "another" in text else "mainnet",
                    "finding_id": fid,
                    "old": old,
                    "new": new,
                    "summary": text,
                }
            )
            + "\n"
            for at, fid, old, new, text in events
        )
        + "not json\n"
    )
    out = tmp_path / "handover.md"
    result = _cli(
        tmp_path,
        "audit",
        "export",
        session.run_id,
        "--md",
        "--runs-dir",
        str(runs.path),
        "--timeline",
        str(timeline),
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith(f"# Run {session.run_id}: Daily backup verification")
    assert "hash chain intact" in text
    assert "dump-present: failed → no-fresh-dump" in text
    assert "took a dump by hand \\| at 09:33" in text
    assert "* **CRIT** `backup.freshness`" in text
    assert "OK → CRIT" in text and "CRIT → OK" in text
    assert "too early" not in text
    assert "another profile" not in text
    assert "* Signer profile: mainnet" in text
