"""Helpers of a verification: daemon-thread jobs, dump digest, live row counts, the clock."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import psycopg

from signer_tui.config import Profile
from signer_tui.credentials import SecretStore
from signer_tui.model import clean_text
from signer_tui.sbtc import MAIN_TABLES
from signer_tui.sources.errors import DatabaseNoSchema, SourceError
from signer_tui.sources.postgres import SignerDatabase, SignerDbFacts, read_signer_facts
from signer_tui.verify.types import Progress, ProgressCallback

T = TypeVar("T")


class Background(Generic[T]):
    """A daemon thread with a result: a stuck helper must never keep the process alive."""

    def __init__(self, name: str, func: Callable[[], T]) -> None:
        self._func = func
        self._result: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._func()
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self, timeout: float | None = None) -> T:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("background work did not finish")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


def sha256_of(path: Path, cancel: threading.Event | None = None) -> str | None:
    """sha256 of a dump file; of a dump directory, over its files' names and contents."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode() + b"\0")
        with file.open("rb") as f:
            while chunk := f.read(1 << 22):
                if cancel is not None and cancel.is_set():
                    return None
                digest.update(chunk)
    return digest.hexdigest()


def live_counts(profile: Profile, secrets: SecretStore) -> tuple[dict[str, int | None], str]:
    try:
        password = secrets.get(profile.db.password)
        counts = SignerDatabase.from_profile(profile.db, password).row_counts(MAIN_TABLES)
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        return {}, clean_text(f"live DB not compared ({exc.title}{detail})", 300)
    return counts.as_dict(), f"live DB {profile.db.host}:{profile.db.port}/{profile.db.dbname}"


class Clock:
    def __init__(self, progress: ProgressCallback | None) -> None:
        self.started = time.monotonic()
        self.progress = progress
        self.timings: list[tuple[str, float]] = []
        self._phase_started = self.started

    def emit(
        self,
        phase: str,
        message: str,
        done: int | None = None,
        total: int | None = None,
        unit: str = "",
    ) -> None:
        if self.progress is not None:
            self.progress(
                Progress(phase, message, done, total, unit, time.monotonic() - self.started)
            )

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.timings.append((name, round(now - self._phase_started, 3)))
        self._phase_started = now

    def finish(self) -> None:
        self.timings.append(("total", round(self.elapsed, 3)))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def safe_result(job: Background[T], cancel: threading.Event, timeout: float = 600) -> T | None:
    if cancel.is_set():
        return None
    try:
        return job.result(timeout)
    except (OSError, TimeoutError):
        return None


CHECKS_TIMEOUT_MS = 10 * 60 * 1000


def read_restored(conninfo: str) -> tuple[SignerDbFacts | None, str, bool]:
    """(facts, error text, restored DB has no sbtc_signer schema)."""
    try:
        with psycopg.connect(
            conninfo,
            autocommit=True,
            connect_timeout=30,
            options=f"-c statement_timeout={CHECKS_TIMEOUT_MS}",
        ) as conn:
            return read_signer_facts(conn, source="restored backup"), "", False
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        return None, clean_text(f"{exc.title}{detail}", 300), isinstance(exc, DatabaseNoSchema)
    except psycopg.Error as exc:
        return None, clean_text(str(exc), 300), False
