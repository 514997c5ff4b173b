"""`signer-tui verify-backup`: argument parsing, progress on stderr, the report, exit codes.

Ctrl-C and SIGTERM do not raise in the middle of a restore: they set the cancel event, the
restore loop stops pg_restore/psql, and the scratch cluster is stopped and removed before the
command exits (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from signer_tui.model import Status

if TYPE_CHECKING:
    from signer_tui.verify.run import Progress, VerificationOutcome

# Imported lazily: `signer-tui --help` must not pay for psycopg and the restore machinery.

BAR_WIDTH = 24
EXIT_USAGE = 2


def _jobs(value: str) -> int:
    try:
        jobs = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 1 <= jobs <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return jobs


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `verify-backup` on the CLI's sub-command parsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "verify-backup",
        help="restore a backup into a scratch PostgreSQL and compare its key with the chain",
        description=(
            "Restore a backup (a pg_dump file, or with backups.kind pgbackrest/barman the "
            "newest set, restored by the tool itself) into a fresh, throwaway PostgreSQL "
            "(never the live one), check it, and compare its newest verified DKG key with the "
            "sbtc-registry key from the own Stacks node and the independent API. "
            "Exit codes: 0 verified, 1 mismatch or failed restore, 2 usage error, "
            "3 could not determine."
        ),
    )
    parser.add_argument("path", nargs="?", help="dump file or dump directory to verify")
    parser.add_argument(
        "--latest",
        action="store_true",
        help="verify the newest good dump in the profile's backups.location",
    )
    parser.add_argument(
        "--set",
        dest="set_label",
        metavar="LABEL",
        help="pgBackRest set label or Barman backup id to restore (default: the newest good one)",
    )
    parser.add_argument("--profile", metavar="NAME", help="signer profile (default: the first)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=None,
        metavar="N",
        help="parallel pg_restore jobs (default: one per CPU, at most 4)",
    )
    parser.add_argument(
        "--no-chain",
        action="store_true",
        help="restore and check only; do not compare the key with the chain (exit 3)",
    )
    parser.set_defaults(handler=cmd_verify_backup)
    return parser


# -- progress ------------------------------------------------------------------------------------


class ProgressPrinter:
    """A one-line bar on a terminal; plain lines (phase changes, every 10 %) otherwise."""

    def __init__(self, stream: TextIO, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._phase = ""
        self._decile = -1
        self._bar_shown = False

    def __call__(self, progress: Progress) -> None:
        if self.tty:
            self._draw(progress)
        else:
            self._line(progress)

    def _emit(self, text: str) -> None:
        from signer_tui.credentials import REDACTOR

        with contextlib.suppress(OSError, ValueError):
            self.stream.write(REDACTOR(text))
            self.stream.flush()

    def _line(self, progress: Progress) -> None:
        if progress.phase == "restore" and progress.done is not None and progress.total:
            decile = int((progress.fraction or 0) * 10)
            if decile <= self._decile:
                return
            self._decile = decile
            self._emit(
                f"verify-backup: restore {decile * 10}% "
                f"({_amount(progress.done, progress.unit)} of "
                f"{_amount(progress.total, progress.unit)})\n"
            )
            return
        if progress.phase == "restore" and progress.done is not None and self._phase == "restore":
            return
        self._phase = progress.phase
        self._emit(f"verify-backup: {progress.phase}: {progress.message}\n")

    def _draw(self, progress: Progress) -> None:
        if progress.phase == "restore" and progress.done is not None:
            fraction = progress.fraction
            if fraction is None:
                bar = "?" * BAR_WIDTH
                pct = "  ?%"
            else:
                filled = int(fraction * BAR_WIDTH)
                bar = "#" * filled + "-" * (BAR_WIDTH - filled)
                pct = f"{fraction * 100:3.0f}%"
            amount = _amount(progress.done, progress.unit)
            if progress.total:
                amount += f"/{_amount(progress.total, progress.unit)}"
            text = f"[{bar}] {pct} restore {amount}  {progress.elapsed_s:5.1f}s  {progress.message}"
            self._emit("\r\x1b[K" + text[:150])
            self._bar_shown = True
            return
        if self._bar_shown:
            self._emit("\n")
            self._bar_shown = False
        self._emit(f"{progress.phase}: {progress.message}\n")

    def close(self) -> None:
        if self._bar_shown:
            self._emit("\n")
            self._bar_shown = False


def _amount(value: int, unit: str) -> str:
    if unit == "bytes":
        return human_bytes(value)
    return f"{value} {unit}".strip() if unit and unit != "entries" else str(value)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


# -- signals -------------------------------------------------------------------------------------


@contextlib.contextmanager
def cancel_on_signals(cancel: threading.Event, received: list[int]) -> Iterator[None]:
    """SIGINT/SIGTERM set `cancel` instead of raising, so cleanup runs in order."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        cancel.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- report --------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "?"


def outcome_json(outcome: VerificationOutcome) -> dict[str, Any]:
    dump = outcome.dump
    result = outcome.restore
    keys = outcome.keys
    facts = outcome.facts
    migrations = facts.migrations if facts is not None else None
    return {
        "verdict": outcome.verdict,
        "exit_code": outcome.exit_code,
        "summary": outcome.summary,
        "backup": {
            "path": outcome.path,
            "format": dump.format.value if dump else None,
            "pg_dump_version": dump.pg_dump_version if dump else None,
            "server_version": dump.server_version if dump else None,
            "archive_version": dump.header.version_text if dump and dump.header else None,
            "compression": dump.compression if dump else None,
            "dbname": dump.dbname if dump else None,
            "size_bytes": dump.size_bytes if dump else None,
            "modified_at": dump.mtime.isoformat() if dump else None,
            "created_at_local": dump.created_at.isoformat() if dump and dump.created_at else None,
            "toc_entries": dump.toc_entries if dump else None,
            "problems": list(dump.problems) if dump else [],
            "sha256": outcome.sha256,
        },
        "restore": None
        if result is None
        else {
            "ok": result.ok,
            "tool": result.tool,
            "postgres": outcome.postgres,
            "jobs": result.jobs,
            "done": result.done,
            "total": result.total,
            "unit": result.unit,
            "seconds": round(result.elapsed_s, 3),
            "errors": list(result.errors),
        },
        "keys": None
        if keys is None
        else {
            "status": keys.status,
            "summary": keys.summary,
            "backup": keys.db_key,
            "sources_disagree": keys.sources_disagree,
            "chain": [
                {"source": r.source, "url": r.url, "key": r.key_hex, "error": r.error}
                for r in keys.readings
            ],
        },
        "migrations": None
        if migrations is None
        else {
            "ledger_present": migrations.table_present,
            "count": len(migrations.keys),
            "last": migrations.last,
        },
        "row_counts": [
            {"table": r.table, "backup": r.backup, "live": r.live} for r in outcome.row_counts
        ],
        "live_db": outcome.live_note,
        "findings": [
            {"id": f.id, "status": f.status.value, "summary": f.summary, "advice": f.advice}
            for f in outcome.findings
        ],
        "timings": dict(outcome.timings),
        "history_file": outcome.history_file,
    }


def outcome_text(outcome: VerificationOutcome) -> list[str]:
    from signer_tui.checks.keys import KeyMatch, match_key
    from signer_tui.sbtc import short_key

    lines = [f"{outcome.verdict.upper()}  {outcome.summary}"]

    def row(label: str, text: str) -> None:
        lines.append(f"{label:<11} {text}")

    dump = outcome.dump
    row("backup", outcome.path)
    if dump is not None:
        extra = [dump.describe, human_bytes(dump.size_bytes), f"modified {_when(dump.mtime)}"]
        if dump.created_at is not None:
            extra.append(f"created {dump.created_at:%Y-%m-%d %H:%M:%S} (dump host time)")
        row("", " · ".join(extra))
    if outcome.sha256:
        row("sha256", outcome.sha256)
    result = outcome.restore
    if result is not None:
        jobs = f", {result.jobs} jobs" if result.jobs > 1 else ""
        row("restore", f"{outcome.postgres} · {result.tool}{jobs} · {result.summary}")
        for line in result.errors:
            row("", line)
    keys = outcome.keys
    if keys is not None:
        verified = outcome.facts.verified_keys if outcome.facts is not None else None
        count = f" (newest of {len(verified.keys)} verified)" if verified else ""
        row("key", f"backup            {keys.db_key or 'none'}{count}")
        for reading in keys.readings:
            name = {"node": "own Stacks node", "api": "independent API"}.get(
                reading.source, reading.source
            )
            if not reading.answered:
                state = f"error: {reading.error}"
            elif reading.key_hex is None:
                state = "no key (pre-DKG)"
            elif match_key(keys.db_key, reading.key_hex) is KeyMatch.MATCH:
                state = f"{short_key(reading.key_hex)} match"
            elif keys.db_key is None:
                state = f"{short_key(reading.key_hex)} (not in the backup)"
            elif keys.status == "mismatch":
                state = f"{short_key(reading.key_hex)} MISMATCH"
            else:
                # The verdict is not a mismatch (e.g. the chain sources disagree): say how
                # this source differs without shouting a verdict the report does not give.
                state = f"{short_key(reading.key_hex)} differs"
            row("", f"{name:<17} {state}")
    for finding in outcome.findings:
        if finding.id == "verify.migrations":
            row("migrations", f"{finding.status.value} {finding.summary}")
    if outcome.row_counts:
        live_known = any(r.live is not None for r in outcome.row_counts)
        row("row counts", f"{'table':<26} {'backup':>10} {'live':>10}")
        for table in outcome.row_counts:
            live = str(table.live) if table.live is not None else "-"
            backup = str(table.backup) if table.backup is not None else "missing"
            row("", f"{table.table:<26} {backup:>10} {live:>10}")
        if not live_known:
            row("", outcome.live_note)
    # A finding that only repeats the verdict line is not printed twice.
    notable = [
        f for f in outcome.findings if f.status is not Status.OK and f.summary not in lines[0]
    ]
    for index, finding in enumerate(notable):
        row(
            "findings" if index == 0 else "",
            f"{finding.status.value:<7} {finding.id}: {finding.summary}",
        )
        if finding.advice:
            row("", f"        {finding.advice}")
    if outcome.timings:
        row("timings", " · ".join(f"{name} {seconds:.1f} s" for name, seconds in outcome.timings))
    if outcome.history_file:
        row("history", outcome.history_file)
    return lines


# -- the command ---------------------------------------------------------------------------------


# The CLI module imports the TUI; this one must not (import contract), so it prints itself,
# through the same secret redactor.


def _out(text: str) -> None:
    from signer_tui.credentials import REDACTOR

    print(REDACTOR(text))


def _err(text: str) -> None:
    from signer_tui.credentials import REDACTOR

    print(REDACTOR(text), file=sys.stderr)


def _usage(message: str) -> int:
    """A bad argument: one line on stderr, exit 2 (the CLI's convention)."""
    _err(f"signer-tui: error: {message}")
    return EXIT_USAGE


def cmd_verify_backup(args: argparse.Namespace) -> int:
    from signer_tui import locations
    from signer_tui.config import load_config
    from signer_tui.credentials import SecretStore
    from signer_tui.verify.run import (
        VerifyCancelled,
        VerifyRequest,
        VerifyUsageError,
        default_jobs,
        verify_backup,
    )

    if args.latest and args.path:
        return _usage("give either a PATH or --latest, not both")
    if args.set_label and args.path:
        return _usage("--set picks a pgBackRest/Barman backup: give it without a PATH")
    config_path = locations.config_file(args.config)
    needs_profile = args.latest or not args.no_chain or args.profile is not None or not args.path
    profile = None
    if _exists(config_path) or needs_profile:
        if not _exists(config_path):
            return _usage(
                f"no config file at {config_path}: verify-backup needs a profile for the chain "
                "comparison and --latest (or verify a PATH with --no-chain)"
            )
        profile = load_config(config_path).settings.profile(args.profile)
    physical = (
        profile is not None
        and profile.backups is not None
        and profile.backups.kind in ("pgbackrest", "barman")
    )
    if not args.latest and not args.path and not physical:
        return _usage("name the dump to verify (PATH) or use --latest")
    if args.set_label and not physical:
        return _usage(
            f"--set needs a profile with backups.kind pgbackrest or barman "
            f"(profile '{profile.name if profile else '?'}' has none)"
        )

    request = VerifyRequest(
        path=None if args.latest or not args.path else Path(args.path),
        latest=args.latest or not args.path,
        profile=profile,
        jobs=args.jobs or default_jobs(),
        chain=not args.no_chain,
        secrets=SecretStore(),
        set_label=args.set_label,
    )
    printer = None if args.json else ProgressPrinter(sys.stderr, _isatty(sys.stderr))
    cancel = threading.Event()
    received: list[int] = []
    started = time.monotonic()
    try:
        with cancel_on_signals(cancel, received):
            outcome = verify_backup(request, progress=printer, cancel=cancel)
    except VerifyUsageError as exc:
        return _usage(str(exc))
    except VerifyCancelled:
        if printer is not None:
            printer.close()
        name = "SIGTERM" if signal.SIGTERM in received else "interrupt"
        _err(
            f"signer-tui: verify-backup cancelled ({name}) after {time.monotonic() - started:.1f} "
            "s; the scratch cluster was stopped and removed"
        )
        return 143 if signal.SIGTERM in received else 130
    finally:
        if printer is not None:
            printer.close()
    if args.json:
        _out(json.dumps(outcome_json(outcome), indent=2))
    else:
        for line in outcome_text(outcome):
            _out(line)
    return outcome.exit_code


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return True  # there, but unreadable: loading it reports why


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
