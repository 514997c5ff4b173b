"""A scratch server on a data directory restored by pgBackRest or Barman (no initdb).

The restored directory carries the live server's settings (port, sockets, archive_command,
ssl files, preload libraries, a pg_hba that may say `peer`). None of that may reach the scratch
server: it gets its own config file, hba file and unix socket on the command line (which beats
postgresql.auto.conf), archiving off so a promoted copy never pushes WAL into the live
repository, and the max_* settings recovery insists on, read from pg_controldata.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from pathlib import Path

import psycopg

from signer_tui.pgdump.installs import PgInstall
from signer_tui.verify.cluster import ClusterError, ScratchCluster, _stage_embedded

PROMOTE_TIMEOUT = 600.0
# Recovery refuses to run with lower values than the primary had (pg_controldata names them).
_CONTROL_SETTINGS = {
    "max_connections setting": "max_connections",
    "max_worker_processes setting": "max_worker_processes",
    "max_wal_senders setting": "max_wal_senders",
    "max_prepared_xacts setting": "max_prepared_transactions",
    "max_locks_per_xact setting": "max_locks_per_transaction",
}
_LOG_PROBLEM = re.compile(r"\b(FATAL|PANIC|ERROR):\s+(.*)")
_RESTORED_WAL = re.compile(r'restored log file "([0-9A-F]{24})"')


class RecoveryFailed(ClusterError):
    """The restored data directory did not recover (missing WAL, corrupt files…)."""


class RestoredCluster(ScratchCluster):
    """`prepare()`, let the backup tool fill `datadir`, then `start_restored()`; `stop()`."""

    superuser = "postgres"

    def use_install(self, install: PgInstall) -> PgInstall:
        """Switch binaries after the restore (before `start_restored`)."""
        if install.embedded and self._runner is not None and self.root is not None:
            install = _stage_embedded(install, self.root / "bin")
        self.install = self._bin = install
        return install

    def control_settings(self) -> dict[str, str]:
        run = self._run_server_tool([str(self.tool("pg_controldata")), "-D", str(self.datadir)])
        found: dict[str, str] = {}
        for line in run.stdout.splitlines():
            key, _, value = line.partition(":")
            name = _CONTROL_SETTINGS.get(key.strip())
            if name and value.strip().isdigit():
                found[name] = value.strip()
        return found

    def start_restored(
        self, *, cancel: threading.Event | None = None, timeout: float = PROMOTE_TIMEOUT
    ) -> None:
        assert self.root is not None
        hba = self.root / "pg_hba.conf"
        hba.write_text("local all all trust\n")
        (self.root / "pg_ident.conf").write_text("")
        conf = self.root / "scratch.conf"
        conf.write_text("# signer-tui scratch server: settings are on the command line\n")
        for path in (hba, conf, self.root / "pg_ident.conf"):
            self.own(path)
        self.own(self.datadir, tree=True)
        self.datadir.chmod(0o700)
        settings = {
            "config_file": str(conf),
            "hba_file": str(hba),
            "ident_file": str(self.root / "pg_ident.conf"),
            "listen_addresses": "",
            "unix_socket_directories": str(self.socket_dir),
            "unix_socket_permissions": "0700",
            "port": str(self.port),
            "archive_mode": "off",
            "archive_command": "",
            "primary_conninfo": "",
            "ssl": "off",
            "shared_preload_libraries": "",
            "logging_collector": "off",
            "log_destination": "stderr",
            "hot_standby": "on",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_wal_size": "4GB",
            "data_directory": str(self.datadir),
        }
        settings.update(self.control_settings())
        options = " ".join(f"-c {k}='{v}'" for k, v in settings.items())
        # No -w: recovery can take long, and a cancel must not wait for pg_ctl.
        start = self._pg_ctl_start(options, "-W")
        if start.returncode != 0:
            raise RecoveryFailed(self.recovery_problem() or "PostgreSQL did not start")
        self.started = True
        self._wait_promoted(cancel, timeout)

    def _wait_promoted(self, cancel: threading.Event | None, timeout: float) -> None:
        """Connections are accepted from consistency on; the checks want the promoted copy."""
        started = time.monotonic()
        deadline = started + timeout
        last_error = ""
        while time.monotonic() < deadline:
            if cancel is not None and cancel.is_set():
                return
            if self.postmaster_pid() is None or not self._postmaster_alive():
                # The pid file appears a moment after `pg_ctl -W`; a FATAL says it is over.
                problem = self.recovery_problem()
                if problem or time.monotonic() - started > 10:
                    raise RecoveryFailed(problem or "the server stopped")
                time.sleep(0.1)
                continue
            try:
                with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and row[0] is False:
                        return
            except psycopg.Error as exc:
                last_error = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                if "role" in last_error and "does not exist" in last_error:
                    self.superuser = self._other_superuser()
            time.sleep(0.2)
        raise RecoveryFailed(
            f"recovery did not finish within {timeout:g} s"
            + (f" ({last_error})" if last_error else "")
        )

    def _postmaster_alive(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            return True  # no /proc: trust the pid file
        return state not in ("Z", "X")

    def _other_superuser(self) -> str:
        return self.runner_name or self.superuser

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={self.superuser} dbname={dbname}"

    def recovery_problem(self) -> str:
        """The server log's first real error, with the last WAL segment it restored."""
        try:
            text = self.logfile.read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        problems = [m.group(0) for m in map(_LOG_PROBLEM.search, text.splitlines()) if m]
        restored = _RESTORED_WAL.findall(text)
        if not problems:
            return ""
        first = problems[0]
        if (
            "recovery ended before" in first
            or "could not locate" in first
            or ("WAL ends before" in first)
        ):
            after = f" (last segment restored: {restored[-1]})" if restored else ""
            return f"WAL needed by this backup is missing from the archive: {first}{after}"
        return first

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError, AssertionError):
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        return ""
