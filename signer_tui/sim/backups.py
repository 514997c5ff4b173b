"""A directory of daily pg_dump backups of a seeded signer DB, for the demo and the tests.

One real `pg_dump -Fc` is taken and copied once per day with the file time set to that day's
03:00 UTC run; one copy is truncated (a backup job that died half-way), so discovery, the
freshness and integrity checks and `verify-backup` all have real material to work on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from signer_tui.pgdump.installs import PgInstall

BACKUP_HOUR = 3


def dump_name(day: datetime) -> str:
    return f"signer-{day.strftime('%Y-%m-%d')}.dump"


def take_dump(conninfo: str, install: PgInstall, target: Path) -> Path:
    """One real custom-format dump of the database behind `conninfo`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        # Uncompressed: the same data always gives the same size (stable screens and tests).
        [str(install.tool("pg_dump")), "-Fc", "-Z0", "-f", str(target), "-d", conninfo],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {result.stderr.strip()[-300:]}")
    return target


def run_time(now: datetime, days_ago: int) -> datetime:
    """The nightly run `days_ago` days before `now` (today's only if 03:00 has passed)."""
    today = now.replace(hour=BACKUP_HOUR, minute=0, second=0, microsecond=0)
    if today > now:
        today -= timedelta(days=1)
    return today - timedelta(days=days_ago)


def make_backup_dir(
    directory: Path,
    conninfo: str,
    install: PgInstall,
    now: datetime,
    *,
    days: int = 14,
    corrupt_days_ago: int | None = 5,
) -> list[Path]:
    """`days` daily dumps ending today, newest first; one truncated when asked."""
    directory.mkdir(parents=True, exist_ok=True)
    base = take_dump(conninfo, install, directory / ".base.dump.tmp")
    paths: list[Path] = []
    try:
        for days_ago in range(days):
            when = run_time(now, days_ago)
            path = directory / dump_name(when)
            shutil.copyfile(base, path)
            if days_ago == corrupt_days_ago:
                with path.open("r+b") as handle:
                    handle.truncate(path.stat().st_size // 2)
            stamp = when.timestamp() + 95  # the job takes a minute or two
            os.utime(path, (stamp, stamp))
            paths.append(path)
    finally:
        base.unlink(missing_ok=True)
    return paths


def skip_newest(directory: Path) -> Path | None:
    """Delete the newest dump, as when a night's backup job did not run."""
    dumps = sorted(directory.glob("signer-*.dump"), key=lambda p: p.stat().st_mtime)
    if not dumps:
        return None
    newest = dumps[-1]
    newest.unlink()
    return newest
