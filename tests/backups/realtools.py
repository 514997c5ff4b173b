"""A throwaway PostgreSQL 15 cluster with WAL archiving, backed up by the real pgBackRest and
Barman, with every config file and repository in a temp dir.

* pgBackRest: a posix repository (`repo1-path`), stanza `signer`, `archive_command` =
  `pgbackrest --config=… archive-push %p`, a full and an incremental backup.
* Barman 3.4: `backup_method = postgres` (pg_basebackup over the local socket) with
  `archiver = on` — the cluster's archive_command also copies each segment into Barman's
  `incoming` directory, and `barman backup --wait` / `switch-wal --archive` process it. No ssh
  and no long-running `receive-wal`/`cron`. (Barman's postgres method has no incremental
  backups on PostgreSQL 15: it gets two full backups.)

As root, the cluster and both tools run as the `postgres` account (`runuser -u postgres --`);
as a normal user they run as that user.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# The newest Debian PostgreSQL (15 on bookworm): what pgBackRest and Barman back up here.
PG_BIN = max(
    Path("/usr/lib/postgresql").glob("*/bin"),
    key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    default=Path("/usr/lib/postgresql/15/bin"),
)
STANZA = "signer"
SERVER = "signer"
DBNAME = "signer"


def tools_present() -> str:
    """'' when the real tools are here, else what is missing (the tests then fail, not skip,
    in CI: `.ci/run` installs them)."""
    missing = [t for t in ("pgbackrest", "barman") if shutil.which(t) is None]
    if not (PG_BIN / "initdb").exists():
        missing.append("postgresql (Debian server package)")
    return ", ".join(missing)


def as_owner() -> list[str]:
    """The prefix that runs a command as the cluster's account."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def run(
    argv: list[str], *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    result = subprocess.run(
        [*as_owner(), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        cwd="/",
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)


@dataclass
class ArchivedCluster:
    root: Path
    port: int = field(default_factory=lambda: random.randint(20000, 60000))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sock(self) -> Path:
        return self.root / "sock"

    @property
    def pgbackrest_conf(self) -> Path:
        return self.root / "pgbackrest.conf"

    @property
    def barman_conf(self) -> Path:
        return self.root / "barman.conf"

    @property
    def barman_home(self) -> Path:
        return self.root / "barman"

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.sock} port={self.port} user=postgres dbname={dbname}"

    # -- set-up ------------------------------------------------------------------------

    def write_pgbackrest_conf(self, path: Path, repo: Path, stanzas: tuple[str, ...]) -> None:
        lines = [
            "[global]",
            f"repo1-path={repo}",
            f"log-path={self.root / 'log'}",
            f"lock-path={self.root / 'lock'}",
            f"spool-path={self.root / 'spool'}",
            "log-level-console=warn",
            "log-level-file=off",
            "start-fast=y",
            "compress-type=none",
            "repo1-retention-full=9",
            "archive-timeout=20",
        ]
        for stanza in stanzas:
            lines += ["", f"[{stanza}]", f"pg1-path={self.data}", f"pg1-socket-path={self.sock}"]
            lines.append(f"pg1-port={self.port}")
        path.write_text("\n".join(lines) + "\n")
        _chown(path)

    def write_barman_conf(self, path: Path, home: Path) -> None:
        path.write_text(
            "[barman]\n"
            f"barman_home = {home}\n"
            f"barman_user = {pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() else 'postgres'}\n"
            f"log_file = {self.root / 'log' / 'barman.log'}\n"
            "log_level = INFO\n"
            "\n"
            f"[{SERVER}]\n"
            "description = signer-tui test\n"
            f"conninfo = {self.conninfo()}\n"
            f"streaming_conninfo = host={self.sock} port={self.port} user=postgres\n"
            "backup_method = postgres\n"
            "archiver = on\n"
            "streaming_archiver = off\n"
            f"incoming_wals_directory = {home / SERVER / 'incoming'}\n"
            "minimum_redundancy = 0\n"
        )
        _chown(path)

    def create(self) -> None:
        for sub in ("sock", "log", "lock", "spool", "repo", "barman"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            _chown(self.root / sub)
        (self.barman_home / SERVER / "incoming").mkdir(parents=True)
        for path in (self.barman_home / SERVER, self.barman_home / SERVER / "incoming"):
            _chown(path)
        self.write_pgbackrest_conf(self.pgbackrest_conf, self.repo, (STANZA, "busy", "broken"))
        self.write_barman_conf(self.barman_conf, self.barman_home)
        run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )
        incoming = self.barman_home / SERVER / "incoming"
        archive = (
            f"pgbackrest --config={self.pgbackrest_conf} --stanza={STANZA} archive-push %p"
            f" && (test -f {incoming}/%f || cp %p {incoming}/%f)"
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "listen_addresses = ''\n"
                f"unix_socket_directories = '{self.sock}'\n"
                f"port = {self.port}\n"
                "wal_level = replica\n"
                "archive_mode = on\n"
                f"archive_command = '{archive}'\n"
                "max_wal_senders = 4\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
            )
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write("local replication all trust\n")
        self.start()

    def start(self) -> None:
        run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "pg.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def stop(self) -> None:
        run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            check=False,
        )

    # -- tools -------------------------------------------------------------------------

    def pgbackrest_command(self, conf: Path | None = None) -> list[str]:
        return [*as_owner(), "pgbackrest", f"--config={conf or self.pgbackrest_conf}"]

    def barman_command(self, conf: Path | None = None) -> list[str]:
        return [*as_owner(), "barman", "-c", str(conf or self.barman_conf)]

    def pgbackrest(
        self, *args: str, stanza: str = STANZA, check: bool = True, conf: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = ["pgbackrest", f"--config={conf or self.pgbackrest_conf}", f"--stanza={stanza}"]
        return run([*argv, *args], check=check, timeout=300)

    def barman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["barman", "-c", str(self.barman_conf), *args], check=check, timeout=300)

    def psql(self, sql: str, dbname: str = DBNAME) -> str:
        return run(
            [
                str(PG_BIN / "psql"),
                "-X",
                "-At",
                "-h",
                str(self.sock),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                dbname,
                "-c",
                sql,
            ]
        ).stdout.strip()


def make_base(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    base.chmod(0o755)
    _chown(base)
    return base
