"""pgBackRest: `info` JSON and `verify` text parsers on reference-shaped fixtures, and the
runner against a fake `pgbackrest` executable (exit codes, timeouts, not installed)."""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signer_tui.config import Backups
from signer_tui.sources.errors import (
    SourceNotConfigured,
    SourceProtocolError,
    SourceTimeout,
    ToolFailed,
    ToolNotInstalled,
)
from signer_tui.sources.pgbackrest import (
    PgBackRest,
    apply_verify,
    describe,
    info_inventory,
    parse_info,
    parse_verify,
    run_tool,
    stanza_problems,
)

# wire-formats.md §7.5, verbatim.
REFERENCE_INFO = """\
[{"name": "main", "cipher": "none",
  "status": {"code": 0, "message": "ok",
             "lock": {"backup": {"held": false}, "restore": {"held": false}}},
  "repo": [{"key": 1, "cipher": "none", "status": {"code": 0, "message": "ok"}}],
  "db": [{"id": 1, "repo-key": 1, "system-id": 7682798685620764710, "version": "17"}],
  "archive": [{"id": "17-1", "database": {"id": 1, "repo-key": 1},
               "min": "000000010000000000000002", "max": "000000010000000000000043"}],
  "backup": [{"label": "20260820-030001F", "type": "full", "prior": null, "reference": null,
              "timestamp": {"start": 1787194801, "stop": 1787195201},
              "archive": {"start": "000000010000000000000040", "stop": "000000010000000000000040"},
              "lsn": {"start": "0/40000028", "stop": "0/40000138"},
              "info": {"size": 26897030, "delta": 26897030, "repository": {"size": 3159776, "delta": 3159776}},
              "database": {"id": 1, "repo-key": 1}, "backrest": {"format": 5, "version": "2.59.1"},
              "error": false}]}]
"""  # noqa: E501

# wire-formats.md §7.5, verbatim.
REFERENCE_VERIFY = """\
stanza: main
status: error
  archiveId: 17-1, total WAL checked: 9, total valid WAL: 7
    checksum invalid: 2
  backup: 20260820-030001F, status: invalid, total files checked: 1200, total valid files: 1199
    missing: 1
"""


def render(data: Any) -> str:
    """pgBackRest's own rendering: compact, keys in alphabetical order."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def reference() -> dict[str, Any]:
    stanza: dict[str, Any] = json.loads(REFERENCE_INFO)[0]
    return stanza


def incremental(label: str, prior: str, start: int, stop: int, size: int) -> dict[str, Any]:
    item = copy.deepcopy(reference()["backup"][0])
    item.update(label=label, type="incr", prior=prior, reference=[prior])
    item["timestamp"] = {"start": start, "stop": stop}
    item["info"] = {"size": size, "delta": 1000, "repository": {"size": 900, "delta": 100}}
    return item


# -- info ----------------------------------------------------------------------------------


def test_reference_info_parses_into_an_inventory() -> None:
    (stanza,) = parse_info(REFERENCE_INFO)
    assert stanza.name == "main" and stanza.code == 0 and stanza.status_text == "ok"
    assert stanza.backup_lock.held is False and stanza.restore_lock_held is False
    assert stanza.db_versions == ("17",)
    assert stanza.archives[0].min == "000000010000000000000002"
    assert stanza.archives[0].max == "000000010000000000000043"
    backup = stanza.backups[0]
    assert backup.label == "20260820-030001F" and backup.type == "full" and backup.prior is None
    assert backup.started_at == datetime.fromtimestamp(1787194801, UTC)
    assert backup.stopped_at == datetime.fromtimestamp(1787195201, UTC)
    assert (backup.size, backup.repo_size) == (26897030, 3159776)
    assert backup.error is False and backup.backrest_version == "2.59.1"
    assert stanza_problems(stanza) == ()

    inventory = info_inventory(stanza)
    assert inventory.kind == "pgbackrest" and inventory.location == "stanza main"
    (record,) = inventory.records
    assert record.kind == "pgbackrest" and record.name == "20260820-030001F"
    assert record.finished_at == datetime(2026, 8, 20, 3, 6, 41, tzinfo=UTC)
    assert record.size_bytes == 26897030
    assert record.ok is True and record.problem == ""
    details = dict(record.details)
    assert details["type"] == "full" and details["repository size"] == "3159776"
    assert inventory.tool_problems == ()


def test_compact_rendering_parses_the_same() -> None:
    assert parse_info(render([reference()])) == parse_info(REFERENCE_INFO)


def test_backups_are_listed_newest_first() -> None:
    data = reference()
    full = data["backup"][0]["label"]
    data["backup"] += [
        incremental("20260820-030001F_20260821-030001I", full, 1787281201, 1787281300, 27000000),
        incremental("20260820-030001F_20260822-030001I", full, 1787367601, 1787367700, 27100000),
    ]
    (stanza,) = parse_info(render([data]))
    records = info_inventory(stanza).records
    assert [r.name for r in records] == [
        "20260820-030001F_20260822-030001I",
        "20260820-030001F_20260821-030001I",
        "20260820-030001F",
    ]
    assert dict(records[0].details)["prior"] == full
    assert dict(records[0].details)["type"] == "incr"
    assert records[0].size_bytes == 27100000  # the database size, comparable across types
    assert describe(stanza).startswith("stanza main: ok; 3 backup(s); newest ")


def test_error_flag_marks_a_backup_bad_and_a_missing_flag_unknown() -> None:
    data = reference()
    data["backup"][0]["error"] = True
    second = incremental("20260820-030001F_20260821-030001I", "20260820-030001F", 1, 2, 5)
    del second["error"]  # older pgBackRest versions do not say
    data["backup"].append(second)
    (stanza,) = parse_info(render([data]))
    by_name = {r.name: r for r in info_inventory(stanza).records}
    bad = by_name["20260820-030001F"]
    assert bad.ok is False
    assert bad.problem == "page checksum error(s) detected during backup"
    assert by_name[second["label"]].ok is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (1, "missing stanza path"),
        (2, "no valid backups"),
        (3, "missing stanza data"),
        (5, "database mismatch across repos"),
        (6, "requested backup not found"),
    ],
)
def test_stanza_status_codes_are_tool_problems(code: int, message: str) -> None:
    data = reference()
    data["status"]["code"] = code
    data["status"]["message"] = message
    data["repo"][0]["status"] = {"code": code, "message": message}
    if code in (1, 2, 3):
        data["backup"] = []
    (stanza,) = parse_info(render([data]))
    problems = stanza_problems(stanza)
    assert problems[0] == f"stanza main: {message} (code {code})"
    assert f"repo1: {message} (code {code})" in problems
    assert info_inventory(stanza).tool_problems == problems


def test_other_error_takes_the_detail_from_the_repo() -> None:
    """Code 99: the stanza says only "other"; the repo carries the error and its HINT lines."""
    data = reference()
    data["status"] = {
        "code": 99,
        "lock": {"backup": {"held": False}, "restore": {"held": False}},
        "message": "other",
    }
    data["repo"][0]["status"] = {
        "code": 99,
        "message": "[FileMissingError] unable to load info file '/repo/archive/main/archive.info'"
        " or '/repo/archive/main/archive.info.copy':\n"
        "FileMissingError: unable to open missing file\n"
        "HINT: has a stanza-create been performed?",
    }
    data["backup"], data["archive"] = [], []
    (stanza,) = parse_info(render([data]))
    assert stanza_problems(stanza) == (
        "stanza main: other (code 99)",
        "repo1: [FileMissingError] unable to load info file '/repo/archive/main/archive.info' "
        "or '/repo/archive/main/archive.info.copy': (code 99)",
    )


def test_mixed_repos_and_a_running_backup_with_progress() -> None:
    """Status 4 across two repos while a backup holds the lock (pgBackRest's own test case)."""
    data = reference()
    data["cipher"] = "mixed"
    data["repo"] = [
        {"cipher": "none", "key": 1, "status": {"code": 2, "message": "no valid backups"}},
        {
            "cipher": "aes-256-cbc",
            "key": 2,
            "status": {"code": 1, "message": "missing stanza path"},
        },
    ]
    data["status"] = {
        "code": 4,
        "lock": {
            "backup": {
                "held": True,
                "repo": [{"key": 1, "size": 3159000, "size-cplt": 1435765}],
                "size": 3159000,
                "size-cplt": 1435765,
            },
            "restore": {"held": False},
        },
        "message": "different across repos",
    }
    (stanza,) = parse_info(render([data]))
    lock = stanza.backup_lock
    assert lock.held and lock.size == 3159000 and lock.size_done == 1435765
    assert lock.percent == pytest.approx(45.45, abs=0.01)
    assert "backup running 45 % done" in describe(stanza)
    assert stanza_problems(stanza) == (
        "stanza main: different across repos (code 4)",
        "repo1: no valid backups (code 2)",
        "repo2: missing stanza path (code 1)",
    )
    # A running backup is progress, not a problem.
    assert not any("running" in p for p in stanza_problems(stanza))


def test_lock_held_without_progress_and_restore_lock() -> None:
    data = reference()
    data["status"]["lock"] = {"backup": {"held": True}, "restore": {"held": True}}
    (stanza,) = parse_info(render([data]))
    assert stanza.backup_lock.held and stanza.backup_lock.percent is None
    assert stanza.restore_lock_held
    assert "backup running; restore running" in describe(stanza)


def test_empty_archive_is_a_problem_when_backups_exist() -> None:
    data = reference()
    data["archive"][0]["min"] = None
    data["archive"][0]["max"] = None
    (stanza,) = parse_info(render([data]))
    assert stanza.archives[0].max is None
    assert stanza_problems(stanza) == ("stanza main: no WAL in the archive",)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("[{", "malformed JSON"),
        ('{"name": "main"}', "unexpected pgbackrest output"),
        ('[{"name": "main"}]', "unexpected pgbackrest output"),
        ('[{"name": "main", "status": {"code": "0"}}]', "unexpected pgbackrest output"),
        (REFERENCE_INFO.replace('"error": false', '"error": "no"'), "unexpected pgbackrest output"),
    ],
)
def test_malformed_info_is_a_protocol_error(text: str, title: str) -> None:
    with pytest.raises(SourceProtocolError) as caught:
        parse_info(text)
    assert caught.value.title == title


def test_control_characters_are_stripped() -> None:
    data = reference()
    data["repo"][0]["status"] = {"code": 99, "message": "bad \x1b[31mthing\x07"}
    (stanza,) = parse_info(render([data]))
    assert stanza.repos[0].message == "bad thing"  # the whole SGR sequence goes, not just ESC


# -- verify --------------------------------------------------------------------------------


def test_reference_verify_text() -> None:
    report = parse_verify(REFERENCE_VERIFY)
    assert report.stanza == "main" and report.status == "error"
    (archive,) = report.archives
    assert (archive.archive_id, archive.wal_checked, archive.wal_valid) == ("17-1", 9, 7)
    assert archive.counters == (("checksum invalid", 2),)
    (backup,) = report.backups
    assert backup.label == "20260820-030001F" and backup.status == "invalid"
    assert (backup.files_checked, backup.files_valid) == (1200, 1199)
    assert backup.counters == (("missing", 1),)
    assert backup.ok is False
    assert report.problems == (
        "verify: WAL 17-1: 2 of 9 invalid (checksum invalid: 2)",
        "verify: backup 20260820-030001F invalid (missing: 1)",
    )


# From pgBackRest's test suite (verifyTest.c): several counters on one line, manifest missing.
MANY = """\
stanza: db
status: error
  archiveId: 11-2, total WAL checked: 8, total valid WAL: 5
    checksum invalid: 1, size invalid: 1, other: 1
  backup: 20181119-152138F, status: manifest missing, total files checked: 0, total valid files: 0
  backup: 20181119-152900F, status: invalid, total files checked: 3, total valid files: 2
    checksum invalid: 1
  backup: 20181119-152900F_20181119-152909D, status: invalid, total files checked: 6, total valid files: 3
    missing: 1, checksum invalid: 1, other: 1
"""  # noqa: E501

VERBOSE_OK = """\
stanza: main
status: ok
  archiveId: 17-1, total WAL checked: 9, total valid WAL: 9
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20260819-030001F, status: valid, total files checked: 1200, total valid files: 1200
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20260820-030001F, status: in-progress, total files checked: 0, total valid files: 0
"""


def test_several_counters_and_manifest_missing() -> None:
    report = parse_verify(MANY)
    assert report.archives[0].counters == (
        ("checksum invalid", 1),
        ("size invalid", 1),
        ("other", 1),
    )
    statuses = [(b.label, b.status, b.ok) for b in report.backups]
    assert statuses == [
        ("20181119-152138F", "manifest missing", False),
        ("20181119-152900F", "invalid", False),
        ("20181119-152900F_20181119-152909D", "invalid", False),
    ]
    assert report.backups[2].counters == (("missing", 1), ("checksum invalid", 1), ("other", 1))
    assert report.backups[0].counters == ()
    assert len(report.problems) == 4


def test_verbose_ok_with_an_in_progress_backup() -> None:
    report = parse_verify(VERBOSE_OK)
    assert report.status == "ok" and report.problems == ()
    assert [b.ok for b in report.backups] == [True, None]  # in-progress is skipped, not bad
    assert report.archives[0].counters == (
        ("missing", 0),
        ("checksum invalid", 0),
        ("size invalid", 0),
        ("other", 0),
    )


def test_silent_success_is_ok() -> None:
    """Without --verbose pgBackRest prints nothing at all when verify found nothing."""
    report = parse_verify("")
    assert report.status == "ok" and report.problems == () and report.backups == ()


def test_info_file_errors_and_none_found() -> None:
    text = (
        "stanza: main\nstatus: error\n  No usable backup.info file\n  No usable archive.info file\n"
    )
    report = parse_verify(text)
    assert report.messages == ("No usable backup.info file", "No usable archive.info file")
    assert report.problems == (
        "verify: No usable backup.info file",
        "verify: No usable archive.info file",
    )
    report = parse_verify(
        "stanza: main\nstatus: error\n  archiveId: none found\n"
        "  backup: 20260820-030001F, status: invalid, total files checked: 2, "
        "total valid files: 0\n    checksum invalid: 2\n"
    )
    assert report.archives == () and report.messages == ()
    assert report.backups[0].counters == (("checksum invalid", 2),)


def test_error_status_without_detail_still_a_problem() -> None:
    report = parse_verify("stanza: main\nstatus: error\n")
    assert report.problems == ("verify: status error",)


def test_unrecognised_verify_output_is_a_protocol_error() -> None:
    with pytest.raises(SourceProtocolError):
        parse_verify("P00  ERROR: [029]: something unexpected\n")


def test_apply_verify_marks_backups() -> None:
    data = reference()
    full = data["backup"][0]["label"]
    data["backup"].append(
        incremental("20260820-030001F_20260821-030001I", full, 1787281201, 1787281300, 27000000)
    )
    (stanza,) = parse_info(render([data]))
    text = (
        "stanza: main\nstatus: error\n"
        f"  backup: {full}, status: valid, total files checked: 5, total valid files: 5\n"
        "  backup: 20260820-030001F_20260821-030001I, status: invalid, total files checked: 4, "
        "total valid files: 3\n    size invalid: 1\n"
    )
    merged = apply_verify(info_inventory(stanza), parse_verify(text))
    by_name = {r.name: r for r in merged.records}
    assert by_name[full].ok is True
    incr = by_name["20260820-030001F_20260821-030001I"]
    assert incr.ok is False and incr.problem == "verify: invalid (size invalid: 1)"
    assert merged.tool_problems == (
        "verify: backup 20260820-030001F_20260821-030001I invalid (size invalid: 1)",
    )


# -- the runner ----------------------------------------------------------------------------


@dataclass
class Reply:
    stdout: str = ""
    stderr: str = ""
    code: int = 0
    sleep: float = 0


def fake_tool(tmp_path: Path, name: str, replies: dict[str, Reply]) -> Path:
    """A shell script standing in for a backup tool: it logs its arguments and answers
    the first reply whose key occurs in them."""
    home = tmp_path / f"fake-{name}"
    home.mkdir()
    lines = ["#!/bin/sh", f'printf "%s\\n" "$*" >> "{home}/calls"', 'case "$*" in']
    for i, (pattern, reply) in enumerate(replies.items()):
        (home / f"out{i}").write_text(reply.stdout)
        (home / f"err{i}").write_text(reply.stderr)
        steps = []
        if reply.sleep:
            # A child of the script, as a sudo wrapper would have.
            steps.append(f'sleep {reply.sleep} & echo $! > "{home}/child"; wait')
        steps += [f'cat "{home}/out{i}"', f'cat "{home}/err{i}" >&2', f"exit {reply.code}"]
        lines.append(f"  *{pattern}*) " + "; ".join(steps) + " ;;")
    lines += ["esac", "echo 'unexpected call' >&2", "exit 99", ""]
    script = home / name
    script.write_text("\n".join(lines))
    script.chmod(0o755)
    return script


def calls(script: Path) -> list[str]:
    return (script.parent / "calls").read_text().splitlines()


def process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has been killed; only reaping is left


def test_info_runs_with_the_stanza_and_json_output(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "pgbackrest", {"info": Reply(REFERENCE_INFO)})
    tool = PgBackRest("main", command=[str(script)], timeout=5)
    inventory = tool.inventory(verify=False)
    assert calls(script) == ["--stanza=main --output=json info"]
    assert [r.name for r in inventory.records] == ["20260820-030001F"]
    (evidence,) = inventory.evidence
    assert evidence.request == f"{script} --stanza=main --output=json info"
    assert evidence.status == 0 and evidence.raw.startswith('[{"name": "main"')
    assert evidence.decoded.startswith("stanza main: ok; 1 backup(s)")
    assert inventory.observed_at == evidence.observed_at


def test_command_prefix_from_the_profile(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "wrapper", {"info": Reply(REFERENCE_INFO)})
    backups = Backups(kind="pgbackrest", stanza="main", command=[str(script), "pgbackrest"])
    PgBackRest.from_profile(backups).info()
    assert calls(script) == ["pgbackrest --stanza=main --output=json info"]


def test_info_failure_is_typed_with_the_error_line(tmp_path: Path) -> None:
    stderr = (
        "P00  ERROR: [055]: unable to load info file '/var/lib/pgbackrest/backup/main/backup.info'"
        "\n"
    )
    script = fake_tool(tmp_path, "pgbackrest", {"info": Reply("", stderr, 55)})
    with pytest.raises(ToolFailed) as caught:
        PgBackRest("main", command=[str(script)]).info()
    assert caught.value.title == "pgbackrest info failed"
    assert caught.value.detail.startswith("P00  ERROR: [055]: unable to load info file")
    assert caught.value.evidence is not None and caught.value.evidence.status == 55


def test_stanza_missing_from_the_output(tmp_path: Path) -> None:
    other = reference()
    other["name"] = "other"
    script = fake_tool(tmp_path, "pgbackrest", {"info": Reply(render([other]))})
    with pytest.raises(SourceProtocolError) as caught:
        PgBackRest("main", command=[str(script)]).info()
    assert "stanza main is not in the info output" in caught.value.detail


def test_garbage_output_carries_evidence(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "pgbackrest", {"info": Reply("not json")})
    with pytest.raises(SourceProtocolError) as caught:
        PgBackRest("main", command=[str(script)]).info()
    assert caught.value.title == "malformed JSON"
    assert caught.value.evidence is not None and caught.value.evidence.raw == "not json"


def test_verify_exit_zero_with_errors_is_parsed_not_trusted(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "pgbackrest", {"verify": Reply(REFERENCE_VERIFY, code=0)})
    report = PgBackRest("main", command=[str(script)]).verify(label="20260820-030001F")
    assert calls(script) == ["--stanza=main --output=text --verbose --set=20260820-030001F verify"]
    assert report.status == "error"
    assert report.evidence is not None
    assert report.evidence.decoded == "verify: status error; 2 problem(s)"


def test_verify_that_could_not_run(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path,
        "pgbackrest",
        {"verify": Reply("", "P00  ERROR: [050]: unable to acquire lock\n", 50)},
    )
    with pytest.raises(ToolFailed) as caught:
        PgBackRest("main", command=[str(script)]).verify()
    assert caught.value.title == "pgbackrest verify failed"
    assert "unable to acquire lock" in caught.value.detail


def test_timeout_kills_the_tool_and_its_children(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "pgbackrest", {"info": Reply(REFERENCE_INFO, sleep=30)})
    started = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        PgBackRest("main", command=[str(script)], timeout=0.5).info()
    elapsed = time.monotonic() - started
    assert elapsed < 3
    assert "did not finish within 0.5 s" in caught.value.detail
    child = int((script.parent / "child").read_text())
    deadline = time.monotonic() + 2
    while not process_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_gone(child)


def test_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ToolNotInstalled) as caught:
        PgBackRest("main", command=[str(tmp_path / "pgbackrest")]).info()
    assert caught.value.title == "pgbackrest not installed (or set backups.command)"
    assert isinstance(caught.value, SourceNotConfigured)


def test_not_installed_behind_a_wrapper(tmp_path: Path) -> None:
    script = fake_tool(
        tmp_path, "sudo", {"info": Reply("", "sudo: pgbackrest: command not found\n", 1)}
    )
    with pytest.raises(ToolNotInstalled):
        PgBackRest("main", command=[str(script), "-u", "postgres", "pgbackrest"]).info()
    script = fake_tool(
        tmp_path, "env", {"info": Reply("", "env: 'pgbackrest': No such file or directory\n", 127)}
    )
    with pytest.raises(ToolNotInstalled):
        PgBackRest("main", command=[str(script), "pgbackrest"]).info()


def test_not_executable(tmp_path: Path) -> None:
    script = tmp_path / "pgbackrest"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    if os.geteuid() == 0:
        script.chmod(0o600)  # root may execute anything with an x bit; none at all here
    with pytest.raises(ToolFailed) as caught:
        PgBackRest("main", command=[str(script)]).info()
    assert caught.value.title == "cannot run pgbackrest"


def test_run_tool_caps_output(tmp_path: Path) -> None:
    script = fake_tool(tmp_path, "tool", {"go": Reply("x" * 5000)})
    run = run_tool([str(script), "go"], tool="tool", timeout=5)
    assert run.stdout == "x" * 5000 and run.returncode == 0
    with pytest.raises(SourceProtocolError) as caught:
        run_tool([str(script), "go"], tool="tool", timeout=5, max_bytes=1000)
    assert caught.value.title == "output too large"


def test_inventory_verifies_the_newest_backup_once(tmp_path: Path) -> None:
    """`verify` of the newest set runs with the poll, once per set (its files never change)."""
    from signer_tui.sources.pgbackrest import clear_verify_cache

    clear_verify_cache()
    invalid = (
        "stanza: main\nstatus: error\n"
        "  backup: 20260820-030001F, status: invalid, total files checked: 9, "
        "total valid files: 8\n    missing: 0, checksum invalid: 1, size invalid: 0, other: 0\n"
    )
    script = fake_tool(
        tmp_path, "pgbackrest", {"verify": Reply(invalid), "info": Reply(REFERENCE_INFO)}
    )
    tool = PgBackRest("main", command=[str(script)], timeout=5)
    first = tool.inventory()
    second = tool.inventory()
    assert [c.split()[-1] for c in calls(script)] == ["info", "verify", "info"]
    for inventory in (first, second):
        (record,) = inventory.records
        assert record.ok is False and "checksum invalid: 1" in record.problem
        assert any("backup 20260820-030001F invalid" in p for p in inventory.tool_problems)
    clear_verify_cache()
