"""A throwaway PostgreSQL cluster: temp dir, unix socket only, random port, never shared.

`initdb` and `pg_ctl` refuse to run as root, so when we are root the cluster is owned by and
run as an unprivileged account (`postgres` if it exists, else `nobody`). The embedded
PostgreSQL normally lives under a directory that account cannot traverse (e.g. /root), so for
root it is staged into the temp dir first. Everything is removed by `stop()`, which is
idempotent and also runs at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from signer_tui.pgdump.installs import PgInstall, pick_install

_LIVE: set[ScratchCluster] = set()


class ClusterError(Exception):
    """The scratch cluster could not be created or started."""


def _unprivileged_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ClusterError("running as root, but neither a 'postgres' nor a 'nobody' account exists")


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(root, name), uid, gid)


def _stage_embedded(install: PgInstall, target: Path) -> PgInstall:
    """Copy the embedded PostgreSQL where an unprivileged account can run it.

    The wheel's binaries find their shared libraries at `bin/../../../pgserver.libs`, so the
    copy keeps that layout: <target>/pgserver/pginstall and <target>/pgserver.libs.
    """
    pginstall = install.bindir.parent
    package = pginstall.parent
    shutil.copytree(pginstall, target / "pgserver" / "pginstall", symlinks=True)
    libs = package.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, target / "pgserver.libs", symlinks=True)
    return PgInstall(
        target / "pgserver" / "pginstall" / "bin", install.major, install.version, True
    )


class ScratchCluster:
    """Start with `start()` (or `with ScratchCluster(...) as c:`), connect with `conninfo()`."""

    def __init__(
        self,
        install: PgInstall | None = None,
        *,
        base_dir: str | Path | None = None,
        prefix: str = "signer-tui-pg-",
    ) -> None:
        self.install = install or pick_install()
        self.base_dir = Path(base_dir) if base_dir else None
        self.prefix = prefix
        self.port = random.randint(20000, 60000)
        self.root: Path | None = None
        self._runner: pwd.struct_passwd | None = None
        self._bin: PgInstall = self.install
        self.started = False

    # -- paths ---------------------------------------------------------------------------

    @property
    def datadir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None
        return self.root / "sock"

    @property
    def logfile(self) -> Path:
        assert self.root is not None
        return self.root / "postgres.log"

    def tool(self, name: str) -> Path:
        return self._bin.tool(name)

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def libpq_env(self, dbname: str = "postgres") -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PGHOST=str(self.socket_dir),
            PGPORT=str(self.port),
            PGUSER="postgres",
            PGDATABASE=dbname,
        )
        env.pop("PGPASSWORD", None)
        env.pop("PGSERVICE", None)
        return env

    # -- lifecycle -----------------------------------------------------------------------

    def _pg_ctl_start(self, options: str, *wait: str) -> subprocess.CompletedProcess[str]:
        """`pg_ctl start` on this data directory with its log file and server `options`;
        `wait` says whether and how long pg_ctl waits (-w -t N, or -W)."""
        pg_ctl = str(self.tool("pg_ctl"))
        command = [pg_ctl, "-D", str(self.datadir), "-l", str(self.logfile), "-o", options]
        return self._run_server_tool([*command, *wait, "start"])

    def _run_server_tool(
        self, args: list[str], *, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        if self._runner is not None:
            kwargs = {"user": self._runner.pw_uid, "group": self._runner.pw_gid, "extra_groups": []}
            env["HOME"] = str(self.root)
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            cwd=str(self.root),
            start_new_session=True,  # a Ctrl-C in the terminal must not kill postgres mid-stop
            **kwargs,
        )

    def start(self) -> ScratchCluster:
        if self.started:
            return self
        self.prepare()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def prepare(self) -> Path:
        """Create the temp dir (owned by the server's account) and its socket dir."""
        if self.root is not None:
            return self.root
        if self.base_dir is not None:
            self.base_dir.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=self.prefix, dir=self.base_dir))
        _LIVE.add(self)
        try:
            if os.geteuid() == 0:
                self._runner = _unprivileged_account()
                if self.install.embedded:
                    self._bin = _stage_embedded(self.install, self.root / "bin")
                # The parent of a mkdtemp dir is usually /tmp; the account must reach it.
                _chown_tree(self.root, self._runner.pw_uid, self._runner.pw_gid)
            self.socket_dir.mkdir(mode=0o700)
            self.own(self.socket_dir)
        except BaseException:
            self.stop()
            raise
        return self.root

    def own(self, path: Path, *, tree: bool = False) -> None:
        """Hand `path` to the account the server runs as (a no-op unless we are root)."""
        if self._runner is None:
            return
        if tree:
            _chown_tree(path, self._runner.pw_uid, self._runner.pw_gid)
        else:
            os.chown(path, self._runner.pw_uid, self._runner.pw_gid)

    @property
    def runner_name(self) -> str | None:
        return self._runner.pw_name if self._runner is not None else None

    def _start(self) -> None:
        assert self.root is not None
        init = self._run_server_tool(
            [
                str(self.tool("initdb")),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            raise ClusterError(f"initdb failed: {_last_line(init.stderr or init.stdout)}")
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-c unix_socket_directories='{self.socket_dir}'",
                "-c unix_socket_permissions=0700",
                f"-p {self.port}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_wal_size=4GB",
                "-c checkpoint_timeout=30min",
                "-c max_connections=40",
            ]
        )
        start = self._pg_ctl_start(options, "-w", "-t", "60")
        if start.returncode != 0:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise ClusterError(
                f"PostgreSQL did not start: {_last_line(log or start.stderr or start.stdout)}"
            )
        self.started = True

    def postmaster_pid(self) -> int | None:
        if self.root is None:
            return None
        pidfile = self.datadir / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop the server and remove every file. Safe to call more than once."""
        root, self.root = self.root, None
        if root is None:
            _LIVE.discard(self)
            return
        self.root = root
        try:
            pid = self.postmaster_pid()
            if pid is not None:
                stopped = False
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    result = self._run_server_tool(
                        [
                            str(self.tool("pg_ctl")),
                            "-D",
                            str(self.datadir),
                            "-m",
                            "immediate",
                            "-w",
                            "-t",
                            "20",
                            "stop",
                        ],
                        timeout=30,
                    )
                    stopped = result.returncode == 0
                if not stopped:
                    _kill_and_wait(pid)
        finally:
            self.root = None
            self.started = False
            shutil.rmtree(root, ignore_errors=True)
            _LIVE.discard(self)

    def __enter__(self) -> ScratchCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _kill_and_wait(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


@atexit.register
def _stop_all() -> None:
    for cluster in list(_LIVE):
        cluster.stop()
