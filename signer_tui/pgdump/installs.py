"""Find PostgreSQL installations, and pick the one that restores a given backup.

Searched, in order: Debian's versioned directories (`/usr/lib/postgresql/*/bin`), the
directories of `pg_ctl`/`postgres` on PATH (symlinks resolved, so Debian's pg_wrapper is
bypassed), and last the embedded PostgreSQL shipped in the `pgserver` wheel, so a plain
`pip install` works on a machine with no PostgreSQL server packages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class BinariesError(Exception):
    """No usable PostgreSQL installation; the message says what to install."""


@dataclass(frozen=True)
class PgInstall:
    bindir: Path
    major: int
    version: str
    embedded: bool = False

    def tool(self, name: str) -> Path:
        return self.bindir / name

    def has(self, name: str) -> bool:
        return os.access(self.bindir / name, os.X_OK)

    @property
    def label(self) -> str:
        where = "embedded pgserver" if self.embedded else str(self.bindir)
        return f"PostgreSQL {self.version} ({where})"


def _probe(bindir: Path, embedded: bool = False) -> PgInstall | None:
    if not all(os.access(bindir / tool, os.X_OK) for tool in SERVER_TOOLS):
        return None
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return PgInstall(bindir.resolve(), int(match.group(1)), version, embedded)


def embedded_bindir() -> Path | None:
    # Locate the wheel without importing it: importing pgserver creates lock files and
    # runtime directories as a side effect.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "pginstall" / "bin"
        if path.is_dir():
            return path
    return None


def candidate_dirs() -> list[tuple[Path, bool]]:
    dirs: list[tuple[Path, bool]] = []
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        for child in sorted(debian.iterdir()):
            dirs.append((child / "bin", False))
    for tool in ("pg_ctl", "postgres", "initdb"):
        found = shutil.which(tool)
        if found:
            dirs.append((Path(found).resolve().parent, False))
    embedded = embedded_bindir()
    if embedded is not None:
        dirs.append((embedded, True))
    return dirs


def find_installations(*, include_embedded: bool = True) -> list[PgInstall]:
    """Every usable installation, newest major first; system ones before the embedded one."""
    seen: set[Path] = set()
    found: list[PgInstall] = []
    for bindir, embedded in candidate_dirs():
        if embedded and not include_embedded:
            continue
        try:
            key = bindir.resolve()
        except OSError:
            continue
        if key in seen or not bindir.is_dir():
            continue
        seen.add(key)
        install = _probe(bindir, embedded)
        if install is not None:
            found.append(install)
    found.sort(key=lambda i: (i.embedded, -i.major))
    return found


# psql learnt `\restrict` in these minor releases (CVE-2025-8714); older ones reject the dump.
RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}


def version_tuple(version: str) -> tuple[int, int]:
    parts = re.findall(r"\d+", version)
    major = int(parts[0]) if parts else 0
    minor = int(parts[1]) if len(parts) > 1 else 0
    return major, minor


def psql_reads_restrict(install: PgInstall) -> bool:
    """Whether this install's psql understands `\\restrict` in a plain dump."""
    major, minor = version_tuple(install.version)
    if major >= 18:
        return True
    needed = RESTRICT_SINCE.get(major)
    return needed is not None and minor >= needed


def pick_install(
    min_major: int | None = None,
    *,
    restrict: bool = False,
    installs: Sequence[PgInstall] | None = None,
    what: str = "this dump",
) -> PgInstall:
    """THE installation picker: a system one when it can do the job, else the embedded one.

    `min_major`: the oldest major that reads the backup (a dump's pg_dump version, a physical
    backup's server version). `restrict`: prefer a psql that reads `\\restrict`, but fall back
    to any usable one — an older psql may still manage the dump, and the restore says if not.
    """
    found = list(installs) if installs is not None else find_installations()
    if not found:
        raise BinariesError(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): "
            "install the 'postgresql' package, or reinstall signer-tui so its embedded "
            "PostgreSQL (pgserver) is present"
        )
    usable = [i for i in found if min_major is None or i.major >= min_major]
    if not usable:
        newest = max(i.major for i in found)
        raise BinariesError(
            f"{what} needs PostgreSQL {min_major} or newer to restore, but the newest "
            f"installed is {newest}: install postgresql-{min_major} (e.g. from apt.postgresql.org)"
        )
    if restrict:
        usable = [i for i in usable if psql_reads_restrict(i)] or usable
    system = [i for i in usable if not i.embedded]
    return system[0] if system else usable[0]


def pick_reader(min_major: int | None, installs: Sequence[PgInstall]) -> PgInstall | None:
    """The install whose pg_restore --list reads a dump; None when none is new enough."""
    try:
        return pick_install(min_major, installs=installs) if installs else None
    except BinariesError:
        return None
