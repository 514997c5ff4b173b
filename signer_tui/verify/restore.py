"""Restore a dump into a scratch cluster: pg_restore for archives, psql for plain SQL.

The client tools run as the invoking user and send everything over the cluster's unix socket,
so the server's unprivileged account (when we are root) never has to read the dump itself.
Each tool runs in its own session: a Ctrl-C in the terminal reaches only us, and we stop the
whole process group (pg_restore's parallel workers included) ourselves — on cancel, on error
and on timeout. Progress is counted from pg_restore's `--verbose` lines (TOC entries) or from
the bytes fed to psql.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from signer_tui.model import clean_text
from signer_tui.verify.binaries import PgInstall
from signer_tui.verify.cluster import ScratchCluster
from signer_tui.verify.dumpformat import (
    OFFSET_POS_NOT_SET,
    DumpFormat,
    DumpInfo,
    iter_gzip,
    iter_plain,
    read_entries,
    scan_plain,
)

# (done, total or None, unit, message)
StepCallback = Callable[[int, int | None, str, str], None]

DEFAULT_RESTORE_TIMEOUT = 6 * 3600.0
LIST_TIMEOUT = 60.0
ADMIN_TIMEOUT = 30
_POLL = 0.1
_KEEP_LINES = 400

# pg_restore --verbose lines that only report progress.
_ITEM_DONE = re.compile(
    r"^pg_restore: (?:processing item|finished item|processing missed item) (\d+) "
)
_SERIAL_STEP = re.compile(
    r"^pg_restore: (?:creating |processing data for table |executing |restoring large object)"
)
_CHATTER = re.compile(
    r"^pg_restore: (?:creating|processing|launching|finished|entering|connecting|executing|"
    r"restoring|implied data-only|dropping|disabling|enabling|setting owner|"
    r"finished main parallel loop|skipping|reducing dependencies|transferring dependency|"
    r"table .* could not be created, will not restore its data)"
)
_ERROR = re.compile(r"error:|ERROR:|FATAL:|DETAIL:|HINT:|Command was:|could not|invalid", re.I)
# Entries pg_restore never creates in a plain `pg_restore -d` (no -C, --no-privileges).
_SKIPPED_DESCS = {
    "ACL",
    "DEFAULT ACL",
    "DATABASE",
    "DATABASE PROPERTIES",
    "ENCODING",
    "STDSTRINGS",
    "SEARCHPATH",
}
# psql learnt `\restrict` in these minor releases (CVE-2025-8714); older ones reject the dump.
RESTRICT_SINCE = {13: 22, 14: 19, 15: 14, 16: 10, 17: 6}


class RestoreFailed(Exception):
    """The dump could not even be fed to the restore tool."""


class RestoreCancelled(Exception):
    """The operator (or the TUI) cancelled the restore; everything was stopped."""


@dataclass(frozen=True)
class RestoreResult:
    ok: bool
    dbname: str
    tool: str  # "pg_restore" or "psql"
    command: tuple[str, ...]
    returncode: int | None
    errors: tuple[str, ...]  # the last meaningful lines the tool printed
    elapsed_s: float
    jobs: int
    done: int
    total: int | None
    unit: str  # "entries" | "bytes"
    # True when the restore could not run to an answer (timeout, scratch cluster trouble):
    # says nothing about the dump itself.
    inconclusive: bool = False

    @property
    def summary(self) -> str:
        if self.ok:
            return f"restored with {self.tool} in {self.elapsed_s:.1f} s"
        last = self.errors[-1] if self.errors else f"{self.tool} exited {self.returncode}"
        return f"{self.tool} failed: {last}"


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


def client_env(cluster: ScratchCluster, dbname: str) -> dict[str, str]:
    """The caller's environment minus every PG* setting, pointed at the scratch cluster only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    libpq = cluster.libpq_env(dbname)
    env.update({k: v for k, v in libpq.items() if k.startswith("PG")})
    env["PGAPPNAME"] = "signer-tui-verify"
    env["PGCONNECT_TIMEOUT"] = "10"
    env["LC_MESSAGES"] = "C"
    return env


# -- pg_restore --list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TocListing:
    """`pg_restore --list`: the summary block as key/value pairs and the entry lines."""

    summary: dict[str, str]
    entries: tuple[str, ...]
    owners: frozenset[str]

    @property
    def data_entries(self) -> int:
        return sum(1 for line in self.entries if " TABLE DATA " in line)


class ListError(Exception):
    """pg_restore --list failed; the message is pg_restore's own last error line."""


def list_archive(install: PgInstall, path: Path, *, timeout: float = LIST_TIMEOUT) -> TocListing:
    """Run `pg_restore --list` (reads only the TOC; cheap)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    try:
        result = subprocess.run(
            [str(install.tool("pg_restore")), "--list", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ListError(f"pg_restore --list did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ListError(f"cannot run pg_restore: {exc.strerror}") from None
    if result.returncode != 0:
        raise ListError(last_meaningful(result.stderr.splitlines()) or "pg_restore --list failed")
    return parse_listing(result.stdout)


def parse_listing(text: str) -> TocListing:
    summary: dict[str, str] = {}
    entries: list[str] = []
    owners: set[str] = set()
    for line in text.splitlines():
        if line.startswith(";"):
            body = line[1:].strip()
            if body.startswith("Archive created at "):
                summary["Archive created at"] = body[len("Archive created at ") :]
            elif ":" in body:
                key, _, value = body.partition(":")
                summary[key.strip()] = value.strip()
            continue
        if re.match(r"^\d+; ", line):
            entries.append(line)
            owner = line.rsplit(" ", 1)[-1]
            if owner and owner != "-":
                owners.add(owner)
    return TocListing(summary, tuple(entries), frozenset(owners))


# -- helpers -------------------------------------------------------------------------------------


def last_meaningful(lines: Iterable[str], keep: int = 3) -> str:
    """The last lines worth showing of a tool's stderr, joined into one line."""
    chosen = meaningful_lines(lines)[-keep:]
    return " | ".join(chosen)


def meaningful_lines(lines: Iterable[str]) -> list[str]:
    cleaned = [clean_text(line.rstrip(), 300) for line in lines if line.strip()]
    errors = [line for line in cleaned if _ERROR.search(line) and not _CHATTER.match(line)]
    if errors:
        return errors
    return [line for line in cleaned if not _CHATTER.match(line)]


def _kill_group(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a tool and everything it forked (its own session/process group)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Parallel workers may outlive the leader for a moment.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.05)


def _pump_lines(stream: IO[bytes], out: queue.Queue[str | None]) -> None:
    try:
        for raw in iter(stream.readline, b""):
            out.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
    finally:
        out.put(None)


def create_database(cluster: ScratchCluster, dbname: str) -> None:
    with psycopg.connect(cluster.conninfo(), autocommit=True, connect_timeout=ADMIN_TIMEOUT) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def create_roles(cluster: ScratchCluster, roles: Iterable[str]) -> list[str]:
    """Create the roles a plain dump assigns ownership or privileges to (missing ones only)."""
    created = []
    with psycopg.connect(cluster.conninfo(), autocommit=True, connect_timeout=ADMIN_TIMEOUT) as c:
        existing = {row[0] for row in c.execute("SELECT rolname FROM pg_roles").fetchall()}
        for role in sorted(set(roles) - existing):
            if not role or len(role) > 63:
                continue
            c.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
            created.append(role)
    return created


# -- the restore ---------------------------------------------------------------------------------


@dataclass
class _Run:
    """Bookkeeping of one running tool."""

    proc: subprocess.Popen[bytes]
    lines: queue.Queue[str | None]
    kept: list[str]
    cancel: threading.Event | None
    deadline: float


def _wait(
    run: _Run,
    on_line: Callable[[str], None],
    on_tick: Callable[[], None] | None = None,
) -> int:
    """Drain the tool's stderr until it exits; stop it on cancel or deadline."""
    stream_open = True
    while True:
        if run.cancel is not None and run.cancel.is_set():
            _kill_group(run.proc)
            raise RestoreCancelled("restore cancelled")
        if time.monotonic() > run.deadline:
            _kill_group(run.proc)
            raise TimeoutError("the restore did not finish in time")
        if stream_open:
            try:
                line = run.lines.get(timeout=_POLL)
            except queue.Empty:
                line = ""
            if line is None:
                stream_open = False
            elif line:
                run.kept.append(line)
                del run.kept[:-_KEEP_LINES]
                on_line(line)
        else:
            time.sleep(_POLL / 2)
        if on_tick is not None:
            on_tick()
        if not stream_open and run.proc.poll() is not None:
            return run.proc.returncode


def _start(
    args: list[str],
    env: dict[str, str],
    *,
    stdin: int | None,
    cancel: threading.Event | None,
    timeout: float,
) -> _Run:
    proc = subprocess.Popen(
        args,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # Ctrl-C reaches us only; we stop the group ourselves
    )
    assert proc.stderr is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump_lines, args=(proc.stderr, lines), daemon=True).start()
    return _Run(proc, lines, [], cancel, time.monotonic() + timeout)


def archive_total(info: DumpInfo) -> int | None:
    toc = read_entries(info.path)
    if toc is None:
        return info.toc_entries
    return sum(1 for e in toc.entries if e.desc not in _SKIPPED_DESCS) or None


def restore_archive(
    cluster: ScratchCluster,
    info: DumpInfo,
    dbname: str,
    *,
    jobs: int,
    on_step: StepCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_RESTORE_TIMEOUT,
) -> RestoreResult:
    """pg_restore into `dbname` (created here) with --exit-on-error; -j for custom/directory."""
    total = archive_total(info) if info.format.is_archive else info.toc_entries
    parallel_ok = info.format in (DumpFormat.CUSTOM, DumpFormat.DIRECTORY) and _offsets_known(info)
    jobs = max(1, jobs) if parallel_ok else 1
    create_database(cluster, dbname)
    args = [
        str(cluster.tool("pg_restore")),
        "--verbose",
        "--exit-on-error",
        # Ownership, grants and tablespaces name things that exist only on the live server.
        "--no-owner",
        "--no-privileges",
        "--no-tablespaces",
        "--no-security-labels",
        # Never let a restored subscription try to reach its publisher.
        "--no-subscriptions",
        "--no-publications",
        "--dbname",
        dbname,
    ]
    if jobs > 1:
        args += ["--jobs", str(jobs)]
    # A gzip'ed custom archive goes through a pipe: pg_restore reads stdin when no file is named.
    piped = info.format is DumpFormat.CUSTOM_GZIP
    if not piped:
        args.append(info.path)
    env = client_env(cluster, dbname)
    started = time.monotonic()
    seen: set[str] = set()
    serial = 0

    def on_line(line: str) -> None:
        nonlocal serial
        match = _ITEM_DONE.match(line)
        if match:
            seen.add(match.group(1))
        elif jobs == 1 and _SERIAL_STEP.match(line):
            serial += 1
        if on_step is not None and (match or _SERIAL_STEP.match(line)):
            done = len(seen) + serial
            shown = min(done, total - 1) if total else done
            on_step(shown, total, "entries", line.removeprefix("pg_restore: "))

    run = _start(
        args,
        env,
        stdin=subprocess.PIPE if piped else subprocess.DEVNULL,
        cancel=cancel,
        timeout=timeout,
    )
    feeder = _feed(run, _gunzip(Path(info.path))) if piped else None
    try:
        code = _wait(run, on_line)
    finally:
        _kill_group(run.proc)
        if feeder is not None:
            feeder.join(timeout=10)
    elapsed = time.monotonic() - started
    done = len(seen) + serial
    feed_errors = tuple(feeder.error) if feeder is not None else ()
    ok = code == 0 and not feed_errors
    if ok and on_step is not None and total:
        on_step(total, total, "entries", "restore finished")
    return RestoreResult(
        ok=ok,
        dbname=dbname,
        tool="pg_restore",
        command=tuple(args),
        returncode=code,
        errors=() if ok else tuple(meaningful_lines(run.kept)[-6:]) + feed_errors,
        elapsed_s=elapsed,
        jobs=jobs,
        done=total if ok and total else done,
        total=total,
        unit="entries",
    )


def _offsets_known(info: DumpInfo) -> bool:
    if info.format is not DumpFormat.CUSTOM:
        return True
    toc = read_entries(info.path)
    if toc is None:
        return False
    # A custom archive written to a pipe has no data offsets: restore it serially.
    return all(e.data_state != OFFSET_POS_NOT_SET for e in toc.entries if e.is_data)


def _gunzip(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        yield from iter_gzip(raw, 1 << 20)


@dataclass
class _Fed:
    thread: threading.Thread
    sent: list[int]
    error: list[str]

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def _feed(run: _Run, chunks: Iterator[bytes]) -> _Fed:
    """Write chunks to the tool's stdin from a thread, so the main loop stays responsive."""
    sent = [0]
    error: list[str] = []
    stdin = run.proc.stdin
    assert stdin is not None

    def pump() -> None:
        try:
            for chunk in chunks:
                if run.cancel is not None and run.cancel.is_set():
                    break
                stdin.write(chunk)
                sent[0] += len(chunk)
        except BrokenPipeError:
            pass  # the tool stopped reading: it failed, and says why on stderr
        except (OSError, zlib.error, EOFError) as exc:
            error.append(f"reading the dump failed: {exc}")
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    thread = threading.Thread(target=pump, name="restore-feed", daemon=True)
    thread.start()
    return _Fed(thread, sent, error)


def restore_plain(
    cluster: ScratchCluster,
    info: DumpInfo,
    dbname: str,
    *,
    on_step: StepCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_RESTORE_TIMEOUT,
) -> RestoreResult:
    """psql -v ON_ERROR_STOP=1, fed from our process (gunzipped on the fly for .gz)."""
    gzipped = info.format is DumpFormat.PLAIN_GZIP
    path = Path(info.path)
    # Ownership in a plain dump cannot be switched off: create the roles it names first.
    scan = scan_plain(path, gzipped, roles=True)
    if scan.gzip_error:
        raise RestoreFailed(f"corrupt gzip data: {scan.gzip_error}")
    create_roles(cluster, scan.roles)
    target = info.connect_db or dbname
    if info.connect_db is None:
        create_database(cluster, dbname)
    connect_to = "postgres" if info.connect_db else dbname
    args = [
        str(cluster.tool("psql")),
        "--no-psqlrc",
        "--quiet",
        "--set",
        "ON_ERROR_STOP=1",
        "--dbname",
        connect_to,
        "--file",
        "-",
    ]
    env = client_env(cluster, connect_to)
    total = scan.size
    started = time.monotonic()
    run = _start(args, env, stdin=subprocess.PIPE, cancel=cancel, timeout=timeout)
    fed = _feed(run, iter_plain(path, gzipped))
    last_report = [0.0]

    def tick() -> None:
        now = time.monotonic()
        if on_step is not None and now - last_report[0] >= 0.2:
            last_report[0] = now
            on_step(min(fed.sent[0], max(total - 1, 0)), total, "bytes", "psql")

    try:
        code = _wait(run, lambda line: None, tick)
    finally:
        _kill_group(run.proc)
        fed.join(timeout=10)
    ok = code == 0 and not fed.error
    errors = tuple(meaningful_lines(run.kept)[-6:]) + tuple(fed.error)
    if ok and on_step is not None:
        on_step(total, total, "bytes", "restore finished")
    return RestoreResult(
        ok=ok,
        dbname=target,
        tool="psql",
        command=tuple(args),
        returncode=code,
        errors=() if ok else errors,
        elapsed_s=time.monotonic() - started,
        jobs=1,
        done=fed.sent[0],
        total=total,
        unit="bytes",
    )


def restore(
    cluster: ScratchCluster,
    info: DumpInfo,
    *,
    dbname: str = "restored",
    jobs: int = 1,
    on_step: StepCallback | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_RESTORE_TIMEOUT,
) -> RestoreResult:
    if info.format.is_plain:
        return restore_plain(cluster, info, dbname, on_step=on_step, cancel=cancel, timeout=timeout)
    if info.format.is_archive or info.format is DumpFormat.CUSTOM_GZIP:
        return restore_archive(
            cluster, info, dbname, jobs=jobs, on_step=on_step, cancel=cancel, timeout=timeout
        )
    raise RestoreFailed(f"cannot restore a {info.format.value} file")
