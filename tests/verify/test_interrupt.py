"""Cancelling a verification mid-restore leaves nothing behind: no postgres or pg_restore
process, no socket, no temp directory — for Ctrl-C, SIGTERM and the TUI's cancel Event — and
the next run works. Also: the CLI run as an unprivileged account."""

from __future__ import annotations

import json
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer_tui.pgdump.installs import pick_install
from signer_tui.sim.state import SimState
from signer_tui.verify.cluster import ScratchCluster
from signer_tui.verify.run import Progress, VerifyCancelled, VerifyRequest, verify_backup
from tests.verify.conftest import DumpSet

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIG_DB = "verify_big"
_ROOT_LINE = re.compile(r"scratch cluster (\S+) \(")


@pytest.fixture(scope="module")
def big_dump(pg_cluster: ScratchCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A custom dump whose restore takes a few seconds (mostly stacks_blocks rows)."""
    from signer_tui.sim.db import build_signer_db

    build_signer_db(pg_cluster.conninfo(), BIG_DB, SimState(), stacks_blocks=600_000)
    root = tmp_path_factory.mktemp("big")
    dumps = DumpSet(pick_install(), pg_cluster, BIG_DB, SimState(), root)
    path = root / "big.dump"
    dumps.pg_dump("-Fc", "-f", str(path))
    return path


def _processes_touching(needles: list[str]) -> list[str]:
    """Processes whose command line or working directory mentions any needle."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(n in cmdline or n in cwd for n in needles):
            found.append(f"{entry.name}: {cmdline.strip()} (cwd {cwd})")
    return found


def _cli_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(scratch)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class _Lines:
    """Collect a child's stderr lines in a thread, so waiting never blocks on a read."""

    def __init__(self, stream: object) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.done = threading.Event()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
            self.lines.put(line)
        self.done.set()

    def text(self) -> str:
        """Everything the child wrote (call after it exited)."""
        self.done.wait(10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    def wait_for(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in: {''.join(self.seen)}")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_restore_leaves_nothing_behind(
    sig: signal.Signals,
    code: int,
    big_dump: Path,
    scratch_tmp: Path,
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "signer_tui",
            "verify-backup",
            str(big_dump),
            "--no-chain",
            "--jobs",
            "2",
        ],
        cwd=REPO,
        env=_cli_env(scratch_tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _Lines(proc.stderr)
        root = _ROOT_LINE.search(lines.wait_for(r"scratch cluster ", 60))
        assert root is not None
        cluster_root = root.group(1)
        lines.wait_for(r"restore: restore started", 30)
        # Wait until pg_restore really runs against the cluster, then interrupt.
        deadline = time.monotonic() + 20
        while not any("pg_restore" in p for p in _processes_touching([str(big_dump)])):
            assert time.monotonic() < deadline, "pg_restore never started"
            time.sleep(0.05)
        assert Path(cluster_root, "sock").exists()
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    err = lines.text()
    assert proc.returncode == code, err
    assert "cancelled" in err and "stopped and removed" in err
    assert "Traceback" not in err
    assert took < 30
    assert not Path(cluster_root).exists()
    assert _processes_touching([cluster_root, str(big_dump)]) == []
    # A second run finds nothing in its way and restores completely.
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "signer_tui",
            "verify-backup",
            str(big_dump),
            "--no-chain",
            "--json",
        ],
        cwd=REPO,
        env=_cli_env(scratch_tmp),
        capture_output=True,
        text=True,
        timeout=240,
    )
    doc = json.loads(again.stdout)
    assert again.returncode == 3, again.stderr
    assert doc["restore"]["ok"] is True
    big_rows = {r["table"]: r["backup"] for r in doc["row_counts"]}["stacks_blocks"]
    assert big_rows == 600_000


def test_cancel_event_from_a_worker_thread_stops_and_cleans_up(
    big_dump: Path, scratch_tmp: Path
) -> None:
    """The TUI calls verify_backup from a thread worker and cancels with an Event."""
    cancel = threading.Event()
    seen: list[Progress] = []
    roots: list[str] = []

    def progress(step: Progress) -> None:
        seen.append(step)
        match = _ROOT_LINE.search(step.message)
        if match:
            roots.append(match.group(1))
        if step.phase == "restore" and (step.done or 0) >= 5:
            cancel.set()

    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            verify_backup(
                VerifyRequest(path=big_dump, chain=False, jobs=2),
                progress=progress,
                cancel=cancel,
            )
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], VerifyCancelled)
    assert cancel.is_set()
    assert time.monotonic() - started < 60
    assert roots and not Path(roots[0]).exists()
    assert _processes_touching([roots[0], str(big_dump)]) == []
    assert [s.phase for s in seen][-1] == "cleanup"


def _foreign_env() -> dict[str, str]:
    """A minimal environment for another account: this checkout and this interpreter's
    packages on the path (its own site detection may differ for another user)."""
    packages = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(REPO), *packages]),
    }
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    return env


def _account_that_can_run_python() -> tuple[pwd.struct_passwd | None, str]:
    if os.geteuid() != 0:
        return None, "not root: the whole suite already runs as an unprivileged user"
    for name in ("nobody", "postgres"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        try:
            probe = subprocess.run(
                [sys.executable, "-c", "import signer_tui.cli, psycopg, httpx, pydantic, yaml"],
                cwd="/",
                env=_foreign_env(),
                user=account.pw_uid,
                group=account.pw_gid,
                extra_groups=[],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except OSError as exc:  # e.g. the interpreter lives under /root (mode 0700)
            reason = f"{exc.strerror}: {exc.filename}"
        else:
            if probe.returncode == 0:
                return account, ""
            reason = (probe.stderr.strip().splitlines() or ["cannot run"])[-1]
        return None, (
            f"account '{name}' cannot run this Python ({sys.executable}) with signer-tui "
            f"importable: {reason}"
        )
    return None, "no unprivileged account (nobody/postgres) exists"


@pytest.fixture
def unprivileged_home() -> Iterator[tuple[pwd.struct_passwd | None, Path]]:
    account, reason = _account_that_can_run_python()
    if account is None and os.geteuid() == 0:
        pytest.skip(reason)
    # Not under pytest's tmp_path: its parents are private to the user running the tests.
    home = Path(tempfile.mkdtemp(prefix="signer-tui-verify-user-", dir="/tmp"))
    home.chmod(0o755)
    yield account, home
    shutil.rmtree(home, ignore_errors=True)


def test_cli_as_an_unprivileged_account(
    unprivileged_home: tuple[pwd.struct_passwd | None, Path],
    verify_dumps: DumpSet,
) -> None:
    account, home = unprivileged_home
    scratch = home / "tmp"
    scratch.mkdir()
    dump = Path(shutil.copy2(verify_dumps["custom"], home / "signer.dump"))
    kwargs: dict[str, object] = {}
    if account is not None:
        for path in (home, scratch, dump):
            os.chown(path, account.pw_uid, account.pw_gid)
        home.chmod(0o755)
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {
        **_foreign_env(),
        "HOME": str(home),
        "TMPDIR": str(scratch),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
    result = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "signer_tui", "verify-backup", str(dump), "--no-chain", "--json"],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        **kwargs,
    )
    assert result.stdout, result.stderr
    doc = json.loads(result.stdout)
    assert result.returncode == 3, result.stderr
    assert doc["restore"]["ok"] is True
    assert (home / "state" / "signer-tui" / "verifications.jsonl").exists()
    assert list(scratch.iterdir()) == []


def test_restore_timeout_is_could_not_determine_and_cleans_up(
    big_dump: Path, scratch_tmp: Path
) -> None:
    roots: list[str] = []

    def progress(step: Progress) -> None:
        match = _ROOT_LINE.search(step.message)
        if match:
            roots.append(match.group(1))

    started = time.monotonic()
    outcome = verify_backup(
        VerifyRequest(path=big_dump, chain=False, jobs=2, restore_timeout=0.5),
        progress=progress,
    )
    took = time.monotonic() - started
    assert outcome.verdict == "unknown" and outcome.exit_code == 3
    assert outcome.restore is not None and outcome.restore.inconclusive
    assert "did not finish in time" in outcome.summary
    assert took < 30
    assert roots and not Path(roots[0]).exists()
    assert _processes_touching([roots[0], str(big_dump)]) == []
