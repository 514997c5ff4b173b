"""Barman: `list-backups` and `check` JSON parsers on reference-shaped fixtures, and the
runner against a fake `barman` executable (global -f before the command, exit 1 on FAILED)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signer_tui.config import Backups
from signer_tui.sources.barman import Barman, barman_inventory, parse_check, parse_list_backups
from signer_tui.sources.errors import (
    SourceProtocolError,
    SourceTimeout,
    ToolFailed,
    ToolNotInstalled,
)
from tests.sources.test_pgbackrest import Reply, calls, fake_tool

# Shaped as wire-formats.md §7.6 and barman's JsonOutputWriter (json.dump, sort_keys=True):
# a DONE backup with everything, and non-DONE ones with only id/type/status (+ name if set).
LIST_BACKUPS = json.dumps(
    {
        "main": [
            {"backup_id": "20260822T030001", "backup_type": "full", "status": "STARTED"},
            {
                "backup_id": "20260821T030001",
                "backup_type": "full",
                "end_time": "Fri Aug 21 03:05:01 2026",
                "end_time_timestamp": "1787281501",
                "retention_status": "VALID",
                "size": "1.2 GiB",
                "size_bytes": 1288490188,
                "status": "WAITING_FOR_WALS",
                "wal_size": "16.0 MiB",
                "wal_size_bytes": 16777216,
            },
            {
                "backup_id": "20260820T030001",
                "backup_name": "nightly",
                "backup_type": "full",
                "end_time": "Thu Aug 20 03:05:01 2026",
                "end_time_timestamp": "1787195101",
                "retention_status": "VALID",
                "size": "1.2 GiB",
                "size_bytes": 1288490188,
                "status": "DONE",
                "wal_size": "48.0 MiB",
                "wal_size_bytes": 50331648,
            },
            {
                "backup_id": "20260819T030001",
                "backup_name": "nightly-failed",
                "backup_type": "incremental",
                "status": "FAILED",
            },
            {
                "backup_id": "20260818T030001",
                "backup_type": "rsync",
                "end_time": "Tue Aug 18 03:05:01 2026",
                "end_time_timestamp": "1787022301",
                "retention_status": "-",
                "size": "1.1 GiB",
                "size_bytes": 1181116006,
                "status": "DONE",
                "wal_size": "0 B",
                "wal_size_bytes": 0,
            },
        ]
    },
    sort_keys=True,
)

CHECK_FAILED = json.dumps(
    {
        "main": {
            "archive_command": {"hint": "", "status": "OK"},
            "backup_maximum_age": {
                "hint": "interval provided: 1 day, latest backup age: 2 days",
                "status": "FAILED",
            },
            "continuous_archiving": {"hint": "", "status": "OK"},
            "failed_backups": {"hint": "there are 1 failed backups", "status": "FAILED"},
            "minimum_redundancy_requirements": {
                "hint": "have 2 backups, expected at least 1",
                "status": "OK",
            },
            "pg_basebackup_compatible": {"hint": "", "status": "OK"},
            "postgresql": {"hint": "", "status": "OK"},
            "wal_level": {"hint": "", "status": "OK"},
        }
    },
    sort_keys=True,
)

CHECK_OK = json.dumps(
    {
        "main": {
            "postgresql": {"hint": "", "status": "OK"},
            "wal_level": {"hint": "", "status": "OK"},
        }
    },
    sort_keys=True,
)


def test_list_backups_fields_and_quirks() -> None:
    backups = parse_list_backups(LIST_BACKUPS, "main")
    assert [b.backup_id for b in backups] == [
        "20260822T030001",
        "20260821T030001",
        "20260820T030001",
        "20260819T030001",
        "20260818T030001",
    ]
    started, waiting, done, failed, rsync = backups
    # end_time_timestamp is a string of epoch seconds.
    assert done.end_time == datetime.fromtimestamp(1787195101, UTC)
    assert done.size_bytes == 1288490188 and done.wal_size_bytes == 50331648
    assert done.name == "nightly" and done.retention_status == "VALID"
    # Non-DONE backups carry only id, type and status.
    assert failed.status == "FAILED" and failed.end_time is None and failed.size_bytes is None
    assert failed.type == "incremental" and failed.name == "nightly-failed"
    assert started.end_time is None and started.type == "full"
    assert waiting.end_time == datetime.fromtimestamp(1787281501, UTC)
    assert rsync.retention_status == "-"


def test_order_does_not_depend_on_barmans_listing() -> None:
    data = json.loads(LIST_BACKUPS)
    data["main"].reverse()
    reordered = parse_list_backups(json.dumps(data), "main")
    assert reordered == parse_list_backups(LIST_BACKUPS, "main")


def test_inventory_maps_statuses() -> None:
    backups = parse_list_backups(LIST_BACKUPS, "main")
    inventory = barman_inventory("main", backups, parse_check(CHECK_OK, "main"))
    assert inventory.kind == "barman" and inventory.location == "server main"
    records = {r.name: r for r in inventory.records}
    assert inventory.records[0].name == "20260822T030001"
    assert records["20260820T030001"].ok is True
    assert records["20260820T030001"].finished_at == datetime(2026, 8, 20, 3, 5, 1, tzinfo=UTC)
    assert records["20260820T030001"].size_bytes == 1288490188
    assert records["20260819T030001"].ok is False
    assert records["20260819T030001"].problem == "backup failed"
    assert records["20260821T030001"].ok is None
    assert records["20260821T030001"].problem == "waiting for WALs"
    assert records["20260822T030001"].ok is None
    assert records["20260822T030001"].problem == "in progress (STARTED)"
    assert records["20260822T030001"].finished_at is None
    assert dict(records["20260820T030001"].details)["name"] == "nightly"
    assert inventory.tool_problems == ()


def test_failed_checks_become_tool_problems() -> None:
    checks = parse_check(CHECK_FAILED, "main")
    assert len(checks.checks) == 8
    assert [c.key for c in checks.failed] == ["backup_maximum_age", "failed_backups"]
    assert checks.problems == (
        "backup maximum age: FAILED (interval provided: 1 day, latest backup age: 2 days)",
        "failed backups: FAILED (there are 1 failed backups)",
    )
    inventory = barman_inventory("main", (), checks)
    assert inventory.tool_problems == checks.problems
    assert inventory.records == ()


def test_errors_and_warnings_lists() -> None:
    data = json.loads(CHECK_OK)
    data["_WARNING"] = ["WAL archive not configured for \x1b[1mserver\x1b[0m"]
    checks = parse_check(json.dumps(data), "main")
    assert checks.failed == ()
    assert checks.problems == ("barman warning: WAL archive not configured for server",)


@pytest.mark.parametrize(
    ("text", "error", "title"),
    [
        ('{"_ERROR": ["Unknown server \'main\'"]}', ToolFailed, "barman error"),
        ("{}", SourceProtocolError, "unexpected barman output"),
        ("[1, 2]", SourceProtocolError, "unexpected barman output"),
        ("Server main:", SourceProtocolError, "malformed JSON"),
        ('{"main": [{"backup_id": "x"}]}', SourceProtocolError, "unexpected barman output"),
        (
            '{"main": [{"backup_id": "x", "status": "DONE", "end_time_timestamp": "soon"}]}',
            SourceProtocolError,
            "unexpected barman output",
        ),
    ],
)
def test_bad_list_output(text: str, error: type[Exception], title: str) -> None:
    with pytest.raises(error) as caught:
        parse_list_backups(text, "main")
    assert getattr(caught.value, "title", None) == title


def test_bad_check_output() -> None:
    with pytest.raises(SourceProtocolError):
        parse_check('{"main": {"postgresql": "OK"}}', "main")


# -- the runner ----------------------------------------------------------------------------


def test_runner_puts_the_format_before_the_command(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path,
        "barman",
        {
            "check-backup": Reply(""),
            "list-backups": Reply(LIST_BACKUPS),
            "check": Reply(CHECK_FAILED, code=1),
        },
    )
    inventory = Barman("main", command=[str(script)], timeout=5).inventory()
    # WAL continuity of the newest DONE backup first (once per backup), then the server check.
    newest_done = "20260820T030001"
    assert calls(script) == [
        "-f json list-backups main",
        f"check-backup main {newest_done}",
        "-f json list-backups main",  # check-backup may have demoted it: read it again
        "-f json check main",
    ]
    # Exit code 1 from check is its normal way of saying a check FAILED.
    assert inventory.tool_problems[0].startswith("backup maximum age: FAILED")
    assert len(inventory.records) == 5
    listed, wal, checked = inventory.evidence
    assert wal.decoded == "WAL complete"
    assert listed.request == f"{script} -f json list-backups main"
    assert listed.decoded == "server main: 5 backup(s), 2 DONE"
    assert checked.status == 1 and checked.decoded == "server main: 2 of 8 FAILED"


def test_command_prefix_from_the_profile(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path, "ssh", {"list-backups": Reply(LIST_BACKUPS), "check": Reply(CHECK_OK)}
    )
    backups = Backups(kind="barman", server="main", command=[str(script), "backup-host", "barman"])
    Barman.from_profile(backups).inventory()
    assert calls(script)[0] == "backup-host barman -f json list-backups main"


def test_unknown_server(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path,
        "barman",
        {"list-backups": Reply('{"_ERROR": ["Unknown server \'main\'"]}', code=1)},
    )
    with pytest.raises(ToolFailed) as caught:
        Barman("main", command=[str(script)]).inventory()
    assert caught.value.detail == "Unknown server 'main'"
    assert caught.value.evidence is not None and caught.value.evidence.status == 1


def test_non_json_failure_names_the_error(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path,
        "barman",
        {"list-backups": Reply("", "ERROR: cannot read /etc/barman.conf: Permission denied\n", 1)},
    )
    with pytest.raises(ToolFailed) as caught:
        Barman("main", command=[str(script)]).list_backups()
    assert caught.value.title == "barman list-backups failed"
    assert "Permission denied" in caught.value.detail


def test_check_that_hangs_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path,
        "barman",
        {
            "check-backup": Reply(""),
            "list-backups": Reply(LIST_BACKUPS),
            "check": Reply(CHECK_OK, sleep=30),
        },
    )
    started = time.monotonic()
    inventory = Barman("main", command=[str(script)], timeout=0.5).inventory()
    assert time.monotonic() - started < 3
    assert len(inventory.records) == 5
    assert inventory.tool_problems == (
        f"barman check: timed out: {script} -f json check main did not finish within 0.5 s",
    )


def test_list_that_hangs_times_out(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "barman", {"list-backups": Reply(LIST_BACKUPS, sleep=30)})
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        Barman("main", command=[str(script)], timeout=0.5).inventory()
    assert time.monotonic() - started < 3


def test_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ToolNotInstalled) as caught:
        Barman("main", command=[str(tmp_path / "barman")]).inventory()
    assert caught.value.title == "barman not installed (or set backups.command)"
