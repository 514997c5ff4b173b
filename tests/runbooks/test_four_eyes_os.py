"""Four eyes with real OS accounts: two operators created for the test, each in their own
process (`runuser -u`), sharing one group-owned runs directory.

The test interpreter lives under /root/.pyenv, which other accounts cannot read (/root is
0700). So the accounts run the system Python (`/usr/bin/python3`, same 3.11 ABI) with a
world-readable copy of exactly the third-party packages signer-tui imports, and the
worktree on PYTHONPATH. Skipped, with the reason, only where accounts cannot be created
(not root, no useradd/runuser) or no usable system Python exists.
"""

from __future__ import annotations

import grp
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import signer_tui

ROOT = Path(signer_tui.__file__).resolve().parents[1]
SYSTEM_PYTHON = Path("/usr/bin/python3")

FOUR_EYES = """\
title: Four eyes, two approvers
summary: A change that two other operators must approve
steps:
  - {id: prepare, kind: confirm, title: Prepare the change}
  - {id: approve, kind: approval, title: Two others approve, approvers: 2}
  - {id: apply, kind: confirm, title: Apply the change}
"""


@dataclass
class Accounts:
    alice: str
    bob: str
    outsider: str
    group: str
    shared: Path  # world-traversable parent of the runs directory
    runtime: Path  # world-readable copy of the third-party packages

    @property
    def runs(self) -> Path:
        return self.shared / "runs"

    def env(self, user: str) -> dict[str, str]:
        home = self.shared / f"home-{user}"
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "PYTHONPATH": f"{ROOT}:{self.runtime}",
            "LANG": "C.UTF-8",
        }

    def run(self, user: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        runuser = shutil.which("runuser") or "runuser"  # our env's PATH is not theirs
        command = [runuser, "-u", user, "--", str(SYSTEM_PYTHON), "-m", "signer_tui", *args]
        return subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(user),
            timeout=120,
            check=False,
        )


def _third_party_packages() -> list[Path]:
    """Top-level packages/modules from site-packages that the runbook CLI imports."""
    probe = (
        "import sys, signer_tui.cli, signer_tui.runbooks.cli\n"
        "signer_tui.cli.build_parser()\n"
        "import site\n"
        "roots = [p for p in site.getsitepackages()]\n"
        "for m in list(sys.modules.values()):\n"
        "    f = getattr(m, '__file__', None) or ''\n"
        "    for r in roots:\n"
        "        if f.startswith(r + '/'):\n"
        "            print(r + '/' + f[len(r) + 1:].split('/')[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return sorted({Path(line) for line in out.split()})


def _can_make_accounts() -> str | None:
    if os.geteuid() != 0:
        return "creating OS accounts needs root"
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not SYSTEM_PYTHON.exists():
        return f"no {SYSTEM_PYTHON}: nothing other accounts can execute"
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    theirs = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout
    if theirs.strip() != ours:
        return f"{SYSTEM_PYTHON} is {theirs.strip()}, the test's packages are built for {ours}"
    return None


@pytest.fixture(scope="module")
def accounts() -> Iterator[Accounts]:
    reason = _can_make_accounts()
    if reason:
        pytest.skip(reason)
    tag = secrets.token_hex(3)
    group, alice, bob, outsider = (f"rbops{tag}", f"rba{tag}", f"rbb{tag}", f"rbx{tag}")
    shared = Path(tempfile.mkdtemp(prefix="signer-tui-4eyes-", dir="/tmp"))
    created: list[str] = []
    try:
        subprocess.run(["groupadd", group], check=True)
        for user, groups in ((alice, group), (bob, group), (outsider, None)):
            command = ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin"]
            if groups:
                command += ["--groups", groups]
            subprocess.run([*command, user], check=True)
            created.append(user)
        shared.chmod(0o755)
        runtime = shared / "site"
        runtime.mkdir()
        for package in _third_party_packages():
            target = runtime / package.name
            if package.is_dir():
                shutil.copytree(package, target)
            else:
                shutil.copy2(package, target)
        subprocess.run(["chmod", "-R", "a+rX", str(runtime)], check=True)
        runs = shared / "runs"
        runs.mkdir()
        os.chown(runs, 0, grp.getgrnam(group).gr_gid)
        runs.chmod(0o2770)
        for user in (alice, bob, outsider):
            home = shared / f"home-{user}"
            (home / "config" / "signer-tui" / "runbooks").mkdir(parents=True)
            subprocess.run(["chown", "-R", f"{user}:", str(home)], check=True)
        book = shared / f"home-{alice}" / "config" / "signer-tui" / "runbooks" / "four-eyes.yaml"
        book.write_text(FOUR_EYES)
        book.chmod(0o644)
        yield Accounts(alice, bob, outsider, group, shared, runtime)
    finally:
        for user in created:
            subprocess.run(["userdel", user], check=False)
        subprocess.run(["groupdel", group], check=False, capture_output=True)
        shutil.rmtree(shared, ignore_errors=True)


def _start(accounts: Accounts) -> str:
    # confirm "prepare": d + empty note; then Enter asks for the approval.
    started = accounts.run(
        accounts.alice,
        "runbook",
        "start",
        "four-eyes",
        "--runs-dir",
        str(accounts.runs),
        stdin="d\nready\n.\n\n",
    )
    assert started.returncode == 0, started.stderr + started.stdout
    assert "waiting for approval (0 of 2)" in started.stdout
    return started.stdout.split()[1].rstrip(":")


def test_the_interpreter_is_out_of_reach_of_other_accounts(accounts: Accounts) -> None:
    """Why the test copies packages: the pyenv interpreter is not executable by them."""
    probe = subprocess.run(
        ["runuser", "-u", accounts.bob, "--", sys.executable, "-c", "pass"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        pytest.skip(f"{sys.executable} is readable by other accounts here")
    assert probe.returncode != 0


def test_two_real_operators_four_eyes(accounts: Accounts) -> None:
    run_id = _start(accounts)
    runs = ["--runs-dir", str(accounts.runs)]
    record = accounts.runs / "audit.jsonl"
    assert grp.getgrgid(record.stat().st_gid).gr_name == accounts.group
    assert record.stat().st_mode & 0o060 == 0o060

    own = accounts.run(accounts.alice, "runbook", "approve", run_id, "--yes", *runs)
    assert own.returncode == 2
    assert f"{accounts.alice} started run {run_id}" in own.stderr

    first = accounts.run(
        accounts.bob, "runbook", "approve", run_id, "--yes", "--note", "reviewed", *runs
    )
    assert first.returncode == 0, first.stderr
    assert "approval recorded (1 of 2)" in first.stdout

    twice = accounts.run(accounts.bob, "runbook", "approve", run_id, "--yes", *runs)
    assert twice.returncode == 2
    assert f"{accounts.bob} already approved step 'approve'" in twice.stderr

    outsider = accounts.run(accounts.outsider, "runbook", "approve", run_id, "--yes", *runs)
    assert outsider.returncode == 2
    assert f"is not writable by {accounts.outsider}" in outsider.stderr

    # The test's own account (root, no SUDO_USER) is the third person.
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_USER", "SSH_CONNECTION")}
    second = subprocess.run(
        [sys.executable, "-m", "signer_tui", "runbook", "approve", run_id, "--yes", *runs],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    assert "continues at apply" in second.stdout

    resumed = accounts.run(accounts.alice, "runbook", "resume", run_id, *runs, stdin="d\n.\n")
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id} completed" in resumed.stdout

    shown = accounts.run(accounts.bob, "audit", "show", run_id, *runs)
    assert f"approve: approved → apply (approved by {accounts.bob}, root)" in shown.stdout
    verified = accounts.run(accounts.bob, "audit", "verify", *runs)
    assert verified.returncode == 0, verified.stderr


def test_a_real_rejection_stops_the_run(accounts: Accounts) -> None:
    run_id = _start(accounts)
    runs = ["--runs-dir", str(accounts.runs)]
    rejected = accounts.run(
        accounts.bob, "runbook", "reject", run_id, "--reason", "not during the prepare phase", *runs
    )
    assert rejected.returncode == 0, rejected.stderr
    resumed = accounts.run(accounts.alice, "runbook", "resume", run_id, *runs)
    assert resumed.returncode == 1
    assert f"run {run_id} is rejected" in resumed.stdout
    late = accounts.run(accounts.bob, "runbook", "approve", run_id, "--yes", *runs)
    assert late.returncode == 2 and "rejected: nothing to approve" in late.stderr
