"""The tamper-evident run record: one hash-chained JSONL file shared by every operator.

Each line is a JSON object with `seq` (1, 2, …), `prev` (the previous line's hash) and `hash`
= SHA-256 over `prev` and the line's canonical JSON without `hash`. Editing a line breaks its
hash, reordering or deleting lines breaks `seq` and `prev`, and `audit.head` (the last seq and
hash, rewritten after every append) catches lines cut off the end. Someone who can write both
files can still rewrite history; `audit verify` prints the head hash so it can be kept
elsewhere (a ticket, a chat message) and compared later.

Appends take an exclusive `flock` on `audit.lock`, so operators writing at the same moment
(a requester and an approver) never interleave or fork the chain; every append is fsynced,
because a run must survive a crash right after a step was recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
LOG_NAME = "audit.jsonl"
HEAD_NAME = "audit.head"
LOCK_NAME = "audit.lock"
FILE_MODE = 0o660  # the operators' group writes the shared record


class AuditError(Exception):
    """The record cannot be read or written (one line, for exit 2)."""


def canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\n{canonical(body)}".encode()).hexdigest()


def open_shared(path: Path, flags: int) -> int:
    """Open (creating group-writable) a file in the shared directory."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)  # the umask must not make it private
    return fd


@dataclass
class VerifyReport:
    count: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOG_NAME
        self.head_path = directory / HEAD_NAME
        self.lock_path = directory / LOCK_NAME
        self._held = 0

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the record's lock across a read-decide-append (re-entrant in this object)."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        try:
            fd = open_shared(self.lock_path, os.O_RDWR)
        except OSError as exc:
            raise AuditError(f"cannot open {self.lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held = 1
            yield
        finally:
            self._held = 0
            os.close(fd)

    def _last(self) -> tuple[int, str]:
        """seq and hash of the last line (read from the end: the file only grows)."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                chunk = b""
                position = size
                while position > 0 and chunk.count(b"\n") < 2:
                    step = min(65536, position)
                    position -= step
                    handle.seek(position)
                    chunk = handle.read(step) + chunk
        except FileNotFoundError:
            return 0, GENESIS
        lines = [line for line in chunk.splitlines() if line.strip()]
        if not lines:
            return 0, GENESIS
        try:
            last = json.loads(lines[-1])
            return int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError):
            raise AuditError(
                f"{self.path}: the last line is not a valid entry (a write torn by a crash?): "
                "run `signer-tui audit verify`; if only that line is bad, move it aside"
            ) from None

    def append(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add one entry (seq/prev/hash are filled in) and return it as written."""
        with self.exclusive():
            seq, prev = self._last()
            entry = {k: v for k, v in body.items() if k not in ("seq", "prev", "hash")}
            entry["seq"] = seq + 1
            entry["prev"] = prev
            entry["hash"] = entry_hash(prev, entry)
            line = (canonical(entry) + "\n").encode()
            try:
                fd = open_shared(self.path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self._write_head(entry["seq"], entry["hash"])
            except OSError as exc:
                raise AuditError(f"cannot append to {self.path}: {exc.strerror}") from None
            return entry

    def _write_head(self, seq: int, digest: str) -> None:
        fd = open_shared(self.head_path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, (canonical({"seq": seq, "hash": digest}) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def entries(self) -> list[dict[str, Any]]:
        """Every parseable entry, in file order (verification is `verify`'s job)."""
        out: list[dict[str, Any]] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return out
        except OSError as exc:
            raise AuditError(f"cannot read {self.path}: {exc.strerror}") from None
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    out.append(item)
        return out

    def verify(self) -> VerifyReport:
        report = VerifyReport()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise AuditError(f"cannot read {self.path}: {exc.strerror}") from None
        prev = GENESIS
        expected = 1
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{self.path}:{number}"
            if not line.strip():
                report.problems.append(f"{where}: empty line")
                continue
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError
                seq, claimed, stated_prev = int(entry["seq"]), entry["hash"], entry["prev"]
            except (ValueError, KeyError, TypeError):
                report.problems.append(f"{where}: not a valid entry (edited or truncated?)")
                continue
            body = {k: v for k, v in entry.items() if k != "hash"}
            if entry_hash(stated_prev, body) != claimed:
                report.problems.append(f"{where}: entry seq {seq} was edited (hash mismatch)")
            if seq != expected:
                what = "reordered" if seq < expected else f"{seq - expected} line(s) deleted"
                report.problems.append(f"{where}: expected seq {expected}, found {seq} ({what})")
            if stated_prev != prev:
                report.problems.append(
                    f"{where}: seq {seq} does not follow the previous line "
                    "(a line before it was deleted, edited or moved)"
                )
            prev = claimed
            expected = seq + 1
            report.count += 1
        report.head = prev
        self._verify_head(report, expected - 1, prev)
        return report

    def _verify_head(self, report: VerifyReport, seq: int, digest: str) -> None:
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            head_seq, head_hash = int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            if seq:
                report.problems.append(f"{self.head_path}: missing (the record has {seq} lines)")
            return
        except (OSError, ValueError, KeyError, TypeError):
            report.problems.append(f"{self.head_path}: unreadable or edited")
            return
        if head_seq > seq:
            report.problems.append(
                f"{self.path}: the head says {head_seq} entries but the file ends at seq {seq} "
                f"({head_seq - seq} line(s) cut off the end)"
            )
        elif (head_seq, head_hash) != (seq, digest):
            report.problems.append(f"{self.head_path}: does not match the last line")
