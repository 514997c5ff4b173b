"""The verification history: one JSON object per line in the XDG state dir.

Each run appends its line with a single `write` on an `O_APPEND` descriptor, then flushes and
fsyncs, so two verifications finishing at once cannot interleave half-lines and a crash right
after "verified" still leaves the line on disk. Reading is tolerant: a corrupt or foreign line
is skipped (and counted), never a crash — the history is evidence, not configuration.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from signer_tui import locations
from signer_tui.credentials import REDACTOR
from signer_tui.sources.backup_types import VerificationRecord

FILE_NAME = "verifications.jsonl"
VERDICTS = ("verified", "mismatch", "failed", "unknown")


def history_path(namespace: str | None = None) -> Path:
    return locations.state_dir(namespace) / FILE_NAME


def to_json(record: VerificationRecord) -> dict[str, Any]:
    return {
        "profile": record.profile,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat(),
        "backup": record.backup,
        "sha256": record.sha256,
        "size_bytes": record.size_bytes,
        "duration_s": round(record.duration_s, 3),
        "verdict": record.verdict,
        "summary": record.summary,
        "db_key": record.db_key,
        "chain_keys": dict(record.chain_keys),
        "problems": list(record.problems),
        "findings": [[fid, status] for fid, status in record.findings],
    }


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected an ISO time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("time without a zone")
    return parsed


def _opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("expected a string or null")


def from_json(data: Any) -> VerificationRecord:
    """Parse one history object; ValueError when it is not a valid record."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    verdict = data.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    size = data.get("size_bytes")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool)):
        raise ValueError("size_bytes is not an integer")
    duration = data.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise ValueError("duration_s is not a number")
    chain = data.get("chain_keys") or {}
    if not isinstance(chain, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in chain.items()
    ):
        raise ValueError("chain_keys is not a mapping of strings")
    problems = data.get("problems") or []
    if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
        raise ValueError("problems is not a list of strings")
    findings = data.get("findings") or []  # absent in records written before it existed
    if not isinstance(findings, list) or not all(
        isinstance(f, list) and len(f) == 2 and all(isinstance(x, str) for x in f) for f in findings
    ):
        raise ValueError("findings is not a list of [id, status] pairs")
    for name in ("profile", "backup", "summary"):
        if not isinstance(data.get(name), str):
            raise ValueError(f"{name} is not a string")
    return VerificationRecord(
        profile=data["profile"],
        started_at=_time(data.get("started_at")),
        finished_at=_time(data.get("finished_at")),
        backup=data["backup"],
        sha256=_opt_str(data.get("sha256")),
        size_bytes=size,
        duration_s=float(duration),
        verdict=verdict,
        summary=data["summary"],
        db_key=_opt_str(data.get("db_key")),
        chain_keys=dict(chain),
        problems=tuple(problems),
        findings=tuple((f[0], f[1]) for f in findings),
    )


def append(record: VerificationRecord, path: Path | None = None) -> Path:
    """Append one record as one line (single write + fsync). Returns the file written."""
    target = path or history_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # An error text can quote a secret (in any escaping): the history is shown for weeks.
    text = REDACTOR(json.dumps(to_json(record), ensure_ascii=False, sort_keys=True))
    line = (text + "\n").encode()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):
            # Only on a full disk or similar; finish the line rather than leave half of it.
            view = memoryview(line)[written:]
            while view:
                n = os.write(fd, view)
                view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


@dataclass(frozen=True)
class HistoryRead:
    records: tuple[VerificationRecord, ...]  # in the order written (oldest first)
    skipped: int  # corrupt or foreign lines
    path: Path


def read_all(profile: str | None = None, *, path: Path | None = None) -> HistoryRead:
    target = path or history_path()
    records: list[VerificationRecord] = []
    skipped = 0
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return HistoryRead((), 0, target)
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = from_json(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            skipped += 1
            continue
        if profile is None or record.profile == profile:
            records.append(record)
    return HistoryRead(tuple(records), skipped, target)


def read(profile: str | None = None, *, path: Path | None = None) -> list[VerificationRecord]:
    """Every readable record (of one profile, if given), oldest first; bad lines skipped."""
    return list(read_all(profile, path=path).records)


def latest(profile: str | None = None, *, path: Path | None = None) -> VerificationRecord | None:
    records = read(profile, path=path)
    return max(records, key=lambda r: r.finished_at) if records else None
