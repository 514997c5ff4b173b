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
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from signer_tui.pgdump.identify import read_entries
from signer_tui.pgdump.listing import meaningful_lines
from signer_tui.pgdump.plain import iter_gzip, iter_plain, scan_plain
from signer_tui.pgdump.proc import kill_group
from signer_tui.pgdump.types import OFFSET_POS_NOT_SET, ArchiveToc, DumpFormat, DumpInfo
from signer_tui.verify.cluster import ScratchCluster
from signer_tui.verify.restore_progress import ByteProgress, data_sizes

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
    # What the verifier noticed on the way (a partial dump's prerequisites, data-only, ...).
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        if self.ok:
            return f"restored with {self.tool} in {self.elapsed_s:.1f} s"
        last = self.errors[0] if self.errors else f"{self.tool} exited {self.returncode}"
        return f"{self.tool} failed: {last}"


def client_env(cluster: ScratchCluster, dbname: str) -> dict[str, str]:
    """The caller's environment minus every PG* setting, pointed at the scratch cluster only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    libpq = cluster.libpq_env(dbname)
    env.update({k: v for k, v in libpq.items() if k.startswith("PG")})
    env["PGAPPNAME"] = "signer-tui-verify"
    env["PGCONNECT_TIMEOUT"] = "10"
    env["LC_MESSAGES"] = "C"
    return env


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
            kill_group(run.proc)
            raise RestoreCancelled("restore cancelled")
        if time.monotonic() > run.deadline:
            kill_group(run.proc)
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
    toc = read_entries(info.path) if info.format.is_archive else None
    created = create_prerequisites(cluster, dbname, toc)
    sizes = data_sizes(info, toc)
    by_bytes = (
        ByteProgress(toc, sizes, parallel=jobs > 1)
        if toc is not None and sizes and sum(sizes.values()) > 0
        else None
    )
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
        if by_bytes is not None:
            moved = by_bytes.line(line)
            if on_step is not None and (moved or _SERIAL_STEP.match(line) or match):
                on_step(
                    by_bytes.shown(), by_bytes.total, "bytes", line.removeprefix("pg_restore: ")
                )
            return
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
        kill_group(run.proc)
        if feeder is not None:
            feeder.join(timeout=10)
    elapsed = time.monotonic() - started
    done = len(seen) + serial
    feed_errors = tuple(feeder.error) if feeder is not None else ()
    ok = code == 0 and not feed_errors
    unit = "bytes" if by_bytes is not None else "entries"
    if by_bytes is not None:
        total, done = by_bytes.total, (by_bytes.total if ok else by_bytes.done)
    if ok and on_step is not None and total:
        on_step(total, total, unit, "restore finished")
    notes = (f"partial dump: created {', '.join(created)} first",) if created else ()
    return RestoreResult(
        ok=ok,
        dbname=dbname,
        tool="pg_restore",
        command=tuple(args),
        returncode=code,
        errors=() if ok else first_and_last(meaningful_lines(run.kept)) + feed_errors,
        elapsed_s=elapsed,
        jobs=jobs,
        done=total if ok and total else done,
        total=total,
        unit=unit,
        notes=notes + data_only_note(toc, ok),
    )


def first_and_last(lines: list[str], keep: int = 6) -> tuple[str, ...]:
    """The first real error leads (a parallel restore ends with "a worker process died
    unexpectedly", the symptom); the last lines follow."""
    if len(lines) <= keep:
        return tuple(lines)
    return (*lines[: keep // 2], *lines[-(keep - keep // 2) :])


def data_only_note(toc: ArchiveToc | None, ok: bool) -> tuple[str, ...]:
    """A dump with table data but no table definitions is `pg_dump -a`."""
    if ok or toc is None:
        return ()
    has_data = any(e.desc == "TABLE DATA" for e in toc.entries)
    has_tables = any(e.desc == "TABLE" for e in toc.entries)
    if has_data and not has_tables:
        return (
            "the dump looks data-only (pg_dump -a: table data, no table definitions): it "
            "restores only over an existing schema",
        )
    return ()


# What the signer's own migrations create before any table: a `pg_dump -t` of its tables
# (the sBTC team's shape for key material) leaves them out, so they are made first.
_SIGNER_SCHEMA = "sbtc_signer"
_SIGNER_TYPES = {
    "dkg_shares_status": "CREATE TYPE sbtc_signer.dkg_shares_status AS ENUM "
    "('unverified', 'verified', 'failed')",
}


def create_prerequisites(cluster: ScratchCluster, dbname: str, toc: ArchiveToc | None) -> list[str]:
    """Create the schema (and enum types) of signer tables whose dump lacks them."""
    if toc is None:
        return []
    tables = [e for e in toc.entries if e.desc == "TABLE" and e.namespace == _SIGNER_SCHEMA]
    schemas = {e.tag for e in toc.entries if e.desc == "SCHEMA"}
    if not tables or _SIGNER_SCHEMA in schemas:
        return []
    types = {e.tag for e in toc.entries if e.desc == "TYPE" and e.namespace == _SIGNER_SCHEMA}
    created = [f"schema {_SIGNER_SCHEMA}"]
    with psycopg.connect(
        cluster.conninfo(dbname), autocommit=True, connect_timeout=ADMIN_TIMEOUT
    ) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(_SIGNER_SCHEMA)))
        for name, ddl in _SIGNER_TYPES.items():
            if name not in types:
                conn.execute(ddl.encode())
                created.append(f"type {name}")
    return created


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
        kill_group(run.proc)
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
