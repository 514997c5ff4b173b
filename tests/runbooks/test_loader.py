"""Runbook files: every shipped one loads; a bad file gets one clear line per problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signer_tui.runbooks.actions import ACTION_NAMES
from signer_tui.runbooks.loader import PACKAGE_DIR, RunbookError, load_catalog, parse_runbook

SHIPPED = sorted(p.stem for p in PACKAGE_DIR.glob("*.yaml"))

REQUIRED_RUNBOOKS = {
    "daily-backup-verification",
    "aggregate-key-mismatch",
    "dkg-signer-set-change",
    "node-down-or-lagging",
    "event-observer-stalled",
    "signer-upgrade",
    "access-review",
    "firewall-review",
    "secrets-rotation",
    "log-retention-review",
    "cold-storage-key-backup",
}


def test_the_issue_s_runbooks_are_shipped() -> None:
    assert set(SHIPPED) >= REQUIRED_RUNBOOKS


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_runbook_loads(name: str) -> None:
    runbook = parse_runbook(PACKAGE_DIR / f"{name}.yaml", "package", ACTION_NAMES)
    assert runbook.title and runbook.summary and runbook.steps
    assert len(runbook.version_hash) == 64


def test_the_upgrade_runbook_has_four_eyes_a_window_and_a_backup() -> None:
    runbook = parse_runbook(PACKAGE_DIR / "signer-upgrade.yaml", "package", ACTION_NAMES)
    kinds = {s.kind for s in runbook.steps}
    assert {"check", "command", "action", "confirm", "approval"} <= kinds
    window = runbook.step("window")
    assert window.findings == ("node.stacks.upgrade_window",)
    assert str(window.on_fail) == "goto wait-for-window"
    assert "960,230" in window.text
    assert "unknown" in runbook.step("config-keys").text


def test_findings_name_their_runbook() -> None:
    catalog = load_catalog(None, ACTION_NAMES)
    assert not catalog.problems
    expected = {
        "backup.freshness": "daily-backup-verification",
        "key.sources": "aggregate-key-mismatch",
        "node.signer.observing": "event-observer-stalled",
        "node.signer.alive": "node-down-or-lagging",
        "node.bitcoind.synced": "node-down-or-lagging",
        "release.signer": "signer-upgrade",
        "node.stacks.upgrade_window": "signer-upgrade",
    }
    for finding_id, name in expected.items():
        found = catalog.for_finding(finding_id)
        assert found is not None and found.name == name, finding_id
    assert catalog.for_finding("posture.nothing") is None


BAD = """\
title: Broken
summary: Every kind of mistake
handles: [bakup]
steps:
  - id: one
    kind: chek
    title: A typo in the kind
  - id: two
    kind: check
    title: A check without findings
    fial: stop
  - id: three
    kind: action
    title: An unknown action
    action: verify-bakup
    fail: goto nowhere
  - id: two
    kind: confirm
    title: Duplicate id and a key of another kind
    command: ls
  - id: five
    kind: check
    title: Accepts what must never pass
    findings: [backup.freshness]
    accept: [OK, UNKNOWN]
"""


def test_an_invalid_file_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    with pytest.raises(RunbookError) as caught:
        parse_runbook(path, "user", ACTION_NAMES)
    lines = [str(p) for p in caught.value.problems]
    expected = [
        (3, "handles[0]", "unknown finding area 'bakup' (did you mean 'backup'?)"),
        (6, "steps[0].kind", "unknown kind 'chek' (did you mean 'check'?)"),
        (8, "steps[1].findings", "required key for a check step is missing"),
        (11, "steps[1].fial", "unknown key 'fial' (did you mean 'fail'?)"),
        (15, "steps[2].action", "unknown action 'verify-bakup' (did you mean 'verify-backup'?)"),
        (16, "steps[2].fail", "no step 'nowhere'"),
        (17, "steps[3].id", "duplicate step id 'two'"),
        (20, "steps[3].command", "'command' belongs to command steps, not here"),
        (25, "steps[4].accept", "a gate may accept OK and WARN only"),
    ]
    for line, where, message in expected:
        assert any(text.startswith(f"{path}:{line}: {where}: {message}") for text in lines), (
            line,
            where,
            message,
            lines,
        )
    assert len(lines) == len(expected), lines
    assert [p.line for p in caught.value.problems] == sorted(
        p.line or 0 for p in caught.value.problems
    )


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "syntax.yaml"
    path.write_text("title: x\nsummary: y\nsteps:\n  - id: a\n    title: colon: here\n")
    with pytest.raises(RunbookError) as caught:
        parse_runbook(path, "user", ACTION_NAMES)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:5: YAML syntax error: mapping values are not allowed here"
    ]


def _cli(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(env_home / "cfg"),
        "XDG_STATE_HOME": str(env_home / "state"),
    }
    return subprocess.run(
        [sys.executable, "-m", "signer_tui", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_validate_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    result = _cli("runbook", "validate", str(path), env_home=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "signer-tui: 9 problems in runbook files"
    assert all(line.startswith(f"{path}:") for line in lines[:-1])
    assert "Traceback" not in result.stderr


def test_a_user_runbook_overrides_and_a_broken_one_is_reported(tmp_path: Path) -> None:
    user = tmp_path / "cfg" / "signer-tui" / "runbooks"
    user.mkdir(parents=True)
    (user / "firewall-review.yaml").write_text(
        "title: Our firewall review\nsummary: ours\nsteps:\n"
        "  - {id: look, kind: text, title: Look}\n"
    )
    (user / "broken.yaml").write_text(BAD)
    result = _cli("runbook", "list", env_home=tmp_path)
    assert result.returncode == 2
    assert "Our firewall review [user]" in result.stdout
    assert "daily-backup-verification" in result.stdout
    assert "signer-tui: 9 problems in runbook files" in result.stderr
    shown = _cli("runbook", "show", "firewall-reveiw", env_home=tmp_path)
    assert shown.returncode == 2
    assert "no runbook named 'firewall-reveiw' (did you mean 'firewall-review'?)" in shown.stderr


def test_the_readme_example_runbook_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = "title: Restart the signer" + readme.split("title: Restart the signer")[1]
    path = tmp_path / "restart-signer.yaml"
    path.write_text(example.split("```")[0])
    runbook = parse_runbook(path, "user", ACTION_NAMES)
    assert [s.kind for s in runbook.steps] == ["check", "command", "approval", "check", "confirm"]
