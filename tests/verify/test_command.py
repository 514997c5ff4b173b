"""The verify-backup CLI pieces that need no database: progress output and registration."""

from __future__ import annotations

import io

from signer_tui import cli
from signer_tui.verify.command import ProgressPrinter, human_bytes
from signer_tui.verify.run import Progress


def test_terminal_progress_is_one_redrawn_bar() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=True)
    printer(Progress("cluster", "starting a scratch PostgreSQL 15"))
    for done in (0, 40, 80):
        printer(Progress("restore", "processing data", done, 80, "entries", 1.5))
    printer(Progress("checks", "querying the restored database"))
    printer.close()
    text = stream.getvalue()
    assert text.startswith("cluster: starting a scratch PostgreSQL 15\n")
    assert text.count("\r\x1b[K[") == 3
    assert "[############------------]  50% restore 40/80" in text
    assert "[########################] 100% restore 80/80" in text
    # The bar line is ended before the next phase is printed.
    assert "processing data\nchecks: querying the restored database\n" in text


def test_plain_progress_lines_every_ten_percent_in_bytes() -> None:
    stream = io.StringIO()
    printer = ProgressPrinter(stream, tty=False)
    printer(Progress("restore", "restore started", 0, None))
    for done in range(0, 1_000_001, 50_000):
        printer(Progress("restore", "psql", done, 1_000_000, "bytes"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "verify-backup: restore: restore started"
    percents = [line for line in lines[1:] if line.startswith("verify-backup: restore ")]
    assert len(percents) == 11
    assert percents[-1] == "verify-backup: restore 100% (976.6 KiB of 976.6 KiB)"
    assert "\r" not in stream.getvalue()


def test_human_bytes() -> None:
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 1024**3) == "3.0 GiB"
    assert human_bytes(None) == "?"


def test_verify_backup_is_a_registered_subcommand() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["verify-backup", "x.dump", "--jobs", "3", "--no-chain"])
    assert args.path == "x.dump" and args.jobs == 3 and args.no_chain is True
    assert args.handler.__name__ == "cmd_verify_backup"
    assert "verify-backup" in parser.format_help()
