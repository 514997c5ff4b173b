"""Host readers, part 3: files and processes — secrets on disk, the signer's environment, log
retention (journald, log directories) and the Stacks node's event observers.

Values of secrets are never kept: the signer config yields "has a private_key", a process
environment yields variable *names*.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.sources.errors import SourceError
from signer_tui.sources.host import run_command

# -- file modes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileMode:
    path: str
    exists: bool
    mode: int | None = None  # permission bits only (0o640)
    owner: str = ""
    is_dir: bool = False
    error: str = ""

    @property
    def group_readable(self) -> bool:
        return self.mode is not None and bool(self.mode & stat.S_IRGRP)

    @property
    def other_readable(self) -> bool:
        return self.mode is not None and bool(self.mode & stat.S_IROTH)

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: {self.error or 'does not exist'}"
        return f"{self.path}: {self.mode:04o} owner {self.owner}" if self.mode is not None else ""


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def stat_path(path: Path) -> FileMode:
    try:
        info = path.stat()
    except FileNotFoundError:
        return FileMode(str(path), False)
    except OSError as exc:
        return FileMode(str(path), False, error=exc.strerror or str(exc))
    return FileMode(
        str(path),
        True,
        stat.S_IMODE(info.st_mode),
        _owner(info.st_uid),
        stat.S_ISDIR(info.st_mode),
    )


@dataclass(frozen=True)
class DirectoryModes:
    directory: FileMode
    # Files inside that others can read (a sample: the checks name the first few).
    other_readable: tuple[FileMode, ...] = ()
    files: int = 0


def read_directory_modes(path: Path, limit: int = 1000) -> DirectoryModes:
    top = stat_path(path)
    if not top.exists or not top.is_dir:
        return DirectoryModes(top)
    readable: list[FileMode] = []
    count = 0
    try:
        for entry in sorted(path.iterdir())[:limit]:
            count += 1
            mode = stat_path(entry)
            if mode.other_readable:
                readable.append(mode)
    except OSError as exc:
        return DirectoryModes(FileMode(str(path), True, top.mode, top.owner, True, str(exc)))
    return DirectoryModes(top, tuple(readable), count)


# -- the signer's own config ---------------------------------------------------------------


@dataclass(frozen=True)
class SignerConfigFacts:
    file: FileMode
    readable: bool
    has_private_key: bool | None = None  # None: could not parse it
    metrics_endpoint: str | None = None  # signer.prometheus_exporter_endpoint
    p2p_ports: tuple[int, ...] = ()  # from signer.p2p.listen_on
    observer_bind: str | None = None  # signer.event_observer.bind
    error: str = ""


def _port_of(address: str) -> int | None:
    match = re.search(r":(\d+)/?$", address.strip())
    return int(match.group(1)) if match else None


def read_signer_config(path: Path) -> SignerConfigFacts:
    """Mode bits and the few keys posture needs from the signer's TOML (never the key)."""
    mode = stat_path(path)
    if not mode.exists:
        return SignerConfigFacts(mode, False, error=mode.error or "does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return SignerConfigFacts(mode, False, error=exc.strerror or str(exc))
    except tomllib.TOMLDecodeError as exc:
        return SignerConfigFacts(mode, True, error=f"not valid TOML: {exc}")
    signer = data.get("signer") if isinstance(data.get("signer"), dict) else {}
    assert isinstance(signer, dict)
    p2p = signer.get("p2p") if isinstance(signer.get("p2p"), dict) else {}
    listen = p2p.get("listen_on", []) if isinstance(p2p, dict) else []
    ports = tuple(p for a in listen if isinstance(a, str) and (p := _port_of(a)) is not None)
    observer = signer.get("event_observer")
    bind = observer.get("bind") if isinstance(observer, dict) else None
    endpoint = signer.get("prometheus_exporter_endpoint")
    return SignerConfigFacts(
        mode,
        True,
        has_private_key=bool(signer.get("private_key")),
        metrics_endpoint=str(endpoint) if endpoint else None,
        p2p_ports=ports,
        observer_bind=str(bind) if bind else None,
    )


# -- processes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessEnv:
    pid: int
    name: str
    env_names: tuple[str, ...] = ()  # names only; None-like empty when unreadable
    readable: bool = True
    error: str = ""


def find_processes(proc: Path, name: str) -> list[tuple[int, str]]:
    """PIDs whose comm, or the basename of argv[0], is `name`."""
    found = []
    try:
        pids = sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit())
    except OSError:
        return []
    for pid in pids:
        try:
            comm = (proc / str(pid) / "comm").read_text(errors="replace").strip()
        except OSError:
            continue
        argv0 = ""
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
            argv0 = os.path.basename(raw.split(b"\0", 1)[0].decode(errors="replace"))
        except OSError:
            pass
        if name in (comm, argv0):
            found.append((pid, comm))
    return found


def read_process_envs(proc: Path, name: str) -> tuple[ProcessEnv, ...]:
    envs = []
    for pid, comm in find_processes(proc, name):
        try:
            raw = (proc / str(pid) / "environ").read_bytes()
        except OSError as exc:
            envs.append(ProcessEnv(pid, comm, readable=False, error=exc.strerror or str(exc)))
            continue
        names = tuple(
            item.split(b"=", 1)[0].decode(errors="replace") for item in raw.split(b"\0") if item
        )
        envs.append(ProcessEnv(pid, comm, names))
    return tuple(envs)


# -- journald ------------------------------------------------------------------------------

_SPAN_UNITS = {
    "us": 1e-6,
    "usec": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "": 1,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "M": 2629800,
    "month": 2629800,
    "months": 2629800,
    "y": 31557600,
    "year": 31557600,
    "years": 31557600,
}


def parse_timespan(text: str) -> float | None:
    """systemd time spans ("3month", "90d", "1y 2w", "0"); None if unparseable."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", text)
    if not parts or re.sub(r"[\d.\sA-Za-z]", "", text):
        return None
    total = 0.0
    for number, unit in parts:
        factor = _SPAN_UNITS.get(unit) or _SPAN_UNITS.get(unit.lower())
        if factor is None:
            return None
        total += float(number) * factor
    return total


def parse_size(text: str) -> int | None:
    """journald sizes: 1024-based K, M, G, T, P, E suffixes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)B?\s*", text, re.I)
    if not match:
        return None
    power = " KMGTPE".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def parse_journald_conf(text: str) -> dict[str, str]:
    """The [Journal] keys of one or more concatenated files; later settings win."""
    values: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section == "Journal" and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class JournaldFacts:
    settings: tuple[tuple[str, str], ...]
    persistent_dir: bool  # /var/log/journal exists (Storage=auto then persists)
    disk_usage: int | None  # bytes of *.journal files under the journal directories
    # The newest entry older than the retention asked for: proof that old entries are kept.
    entry_before_window: datetime | None
    window_checked: bool  # False: journalctl could not be asked
    evidence: tuple[Evidence, ...] = ()

    def get(self, key: str) -> str | None:
        return dict(self.settings).get(key)


def _drop_in_text(conf: Path, drop_dirs: Sequence[Path]) -> str:
    """journald.conf plus its .conf drop-ins, ordered by file name; earlier dirs win a name."""
    chosen: dict[str, Path] = {}
    for directory in drop_dirs:
        try:
            for item in directory.glob("*.conf"):
                chosen.setdefault(item.name, item)
        except OSError:
            continue
    texts = []
    for path in [conf, *(chosen[name] for name in sorted(chosen))]:
        try:
            texts.append(f"# {path}\n" + path.read_text(errors="replace"))
        except OSError:
            continue
    return "\n".join(texts)


def _journal_usage(dirs: Sequence[Path]) -> int | None:
    total = 0
    seen = False
    for directory in dirs:
        if not directory.is_dir():
            continue
        seen = True
        for path in directory.rglob("*.journal*"):
            try:
                total += path.stat().st_size
            except OSError:
                continue
    return total if seen else None


def read_journald(
    now: datetime,
    window: float,
    analyze: Sequence[str] = ("systemd-analyze",),
    journalctl: Sequence[str] = ("journalctl",),
    conf: Path = Path("/etc/systemd/journald.conf"),
    drop_dirs: Sequence[Path] = (
        Path("/etc/systemd/journald.conf.d"),
        Path("/run/systemd/journald.conf.d"),
        Path("/usr/lib/systemd/journald.conf.d"),
    ),
    journal_dirs: Sequence[Path] = (Path("/var/log/journal"), Path("/run/log/journal")),
) -> JournaldFacts:
    """The effective journald settings, the journal's size, and whether it reaches back
    `window` seconds (`journalctl --until=<now - window> -n 1` answers that cheaply)."""
    evidence: list[Evidence] = []
    text = ""
    try:
        run = run_command([*analyze, "cat-config", "systemd/journald.conf"], "systemd-analyze")
        if run.returncode == 0:
            text = run.stdout
            evidence.append(run.evidence("host.journald"))
    except SourceError:
        pass
    if not text:
        text = _drop_in_text(conf, drop_dirs)
        evidence.append(
            Evidence(
                "host.journald",
                f"read {conf} and drop-ins in {', '.join(map(str, drop_dirs))}",
                utcnow(),
                raw=clean_text(text, RAW_LIMIT),
            )
        )
    settings = parse_journald_conf(text)
    before: datetime | None = None
    checked = False
    cutoff = now - timedelta(seconds=window)
    try:
        argv = [*journalctl, "--quiet", "--no-pager", "--output=short-unix", "--lines=1"]
        run = run_command([*argv, f"--until=@{int(cutoff.timestamp())}"], "journalctl")
        evidence.append(run.evidence("host.journald"))
        # Without the adm/systemd-journal group journalctl shows only the user's own journal
        # and says so on stderr: then it cannot tell how far back the system journal goes.
        partial = "not seeing messages" in run.stderr or "insufficient permissions" in run.stderr
        if run.returncode == 0 and not partial:
            checked = True
            match = re.match(r"^(\d+(?:\.\d+)?)\s", run.stdout.strip())
            if match:
                before = datetime.fromtimestamp(float(match.group(1)), UTC)
    except SourceError:
        pass
    return JournaldFacts(
        tuple(sorted(settings.items())),
        journal_dirs[0].is_dir() if journal_dirs else False,
        _journal_usage(journal_dirs),
        before,
        checked,
        tuple(evidence),
    )


# -- log directories -----------------------------------------------------------------------


@dataclass(frozen=True)
class LogDirFacts:
    path: str
    oldest: datetime | None  # the oldest modification time of a file in it (recursively)
    files: int
    error: str = ""


def read_log_dir(path: Path, limit: int = 100_000) -> LogDirFacts:
    """The oldest file kept: a rotated log's mtime is its *newest* line, so this is a lower
    bound of how far back the directory reaches."""
    if not path.is_dir():
        return LogDirFacts(str(path), None, 0, "not a directory (or not readable)")
    oldest: float | None = None
    count = 0
    try:
        for item in path.rglob("*"):
            if count >= limit:
                break
            try:
                info = item.stat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            count += 1
            oldest = info.st_mtime if oldest is None else min(oldest, info.st_mtime)
    except OSError as exc:
        return LogDirFacts(str(path), None, count, exc.strerror or str(exc))
    when = datetime.fromtimestamp(oldest, UTC) if oldest is not None else None
    return LogDirFacts(str(path), when, count)


# -- the Stacks node's config --------------------------------------------------------------


@dataclass(frozen=True)
class EventObserver:
    endpoint: str
    events_keys: tuple[str, ...]


@dataclass(frozen=True)
class StacksNodeConfig:
    path: str
    observers: tuple[EventObserver, ...] = ()
    rpc_bind: str | None = None
    error: str = ""


def read_stacks_config(path: Path) -> StacksNodeConfig:
    """`[[events_observer]]` entries (endpoint, events_keys) and `[node] rpc_bind`."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return StacksNodeConfig(str(path), error=exc.strerror or str(exc))
    except tomllib.TOMLDecodeError as exc:
        return StacksNodeConfig(str(path), error=f"not valid TOML: {exc}")
    observers = []
    for item in data.get("events_observer") or []:
        if isinstance(item, dict):
            keys = item.get("events_keys") or []
            observers.append(
                EventObserver(
                    clean_text(str(item.get("endpoint", "")), 200),
                    tuple(clean_text(str(k), 200) for k in keys if isinstance(k, str)),
                )
            )
    node = data.get("node") if isinstance(data.get("node"), dict) else {}
    bind = node.get("rpc_bind") if isinstance(node, dict) else None
    return StacksNodeConfig(str(path), tuple(observers), str(bind) if bind else None)
