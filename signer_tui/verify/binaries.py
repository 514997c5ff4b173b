"""Find PostgreSQL installations that can run a scratch cluster.

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


def pick_install(min_major: int | None = None) -> PgInstall:
    """The installation to use: a system one when it can do the job, else the embedded one."""
    installs = find_installations()
    if not installs:
        raise BinariesError(
            "no PostgreSQL server binaries found (initdb, pg_ctl, postgres): "
            "install the 'postgresql' package, or reinstall signer-tui so its embedded "
            "PostgreSQL (pgserver) is present"
        )
    usable = [i for i in installs if min_major is None or i.major >= min_major]
    if not usable:
        newest = max(i.major for i in installs)
        raise BinariesError(
            f"this dump needs PostgreSQL {min_major} or newer to restore, but the newest "
            f"installed is {newest}: install postgresql-{min_major} (e.g. from apt.postgresql.org)"
        )
    system = [i for i in usable if not i.embedded]
    return system[0] if system else usable[0]
