"""Plumbing shared by the GitHub and OSV feed clients: the on-disk cache and the result envelope.

A bastion often has no egress, or loses it during an incident; the console should then still
show the last known feeds, clearly marked stale with their age. Each request's last good reply
is kept as one JSON file (fetched-at time, ETag, body) in the XDG cache dir, written to a temp
file and renamed into place so a crash never leaves half a file. A file that cannot be read back
is ignored and reported, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signer_tui import locations
from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnreachable,
)

CACHE_FORMAT = 1


class SourceNotFound(SourceHTTPError):
    """404: the repository, release or vulnerability does not exist (or is private).

    Kept here rather than in `errors.py` only because that file is shared; move it there when
    another source needs it.
    """

    title = "not found"


def falls_back_to_cache(exc: SourceError) -> bool:
    """Whether a failure should be answered with the last cached copy.

    Network trouble, rate limits and server faults are served from the cache (marked stale);
    configuration problems (404, 401, permission 403, a rejected query) are not: they must be
    fixed, and an old answer would hide that.
    """
    if isinstance(exc, SourceRateLimited):
        return True
    if isinstance(exc, SourceNotFound | SourceAuthError):
        return False
    if isinstance(exc, SourceHTTPError):
        return exc.status is None or exc.status >= 500
    return isinstance(exc, SourceUnreachable | SourceTimeout | SourceProtocolError)


@dataclass(frozen=True)
class CacheEntry:
    """The last good reply to one request."""

    key: str  # method + full URL (+ body digest for POST); never contains a credential
    body: Any  # the decoded JSON body
    fetched_at: datetime  # when this body was downloaded (HTTP 200)
    validated_at: datetime  # when the server last confirmed it (200, or 304 Not Modified)
    etag: str | None = None
    link: str | None = None  # the Link header, so cached pages can still be followed

    def revalidated(self, when: datetime) -> CacheEntry:
        return CacheEntry(self.key, self.body, self.fetched_at, when, self.etag, self.link)

    def evidence(self, source: str, path: Path | None) -> Evidence:
        where = f" from {path}" if path is not None else " from memory"
        return Evidence(
            source=source,
            request=f"cache{where}: {self.key}",
            observed_at=self.validated_at,
            raw=clean_text(json.dumps(self.body), RAW_LIMIT),
            decoded=f"last confirmed by the server at {self.validated_at.isoformat()}",
        )


@dataclass(frozen=True)
class CacheRead:
    entry: CacheEntry | None
    problem: str = ""  # set when a cache file existed but was unusable (and was ignored)


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("timestamp is not a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


def optional_time(value: object) -> datetime | None:
    """An ISO time from a feed's JSON, or None when absent or unreadable (feeds send null)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _optional_str(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{name} is not a string")


class FeedCache:
    """One JSON file per request key under `<XDG cache>/signer-tui/feeds` (or `directory`)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else locations.cache_dir("feeds")

    def path_for(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")

    def read(self, key: str) -> CacheRead:
        """The cached entry for `key`; a missing file is a miss, a broken one a reported miss."""
        path = self.path_for(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return CacheRead(None)
        except OSError as exc:
            return CacheRead(None, f"cache file {path.name} unreadable ({exc.strerror}); ignored")
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
                raise ValueError("unknown layout")
            if data.get("key") != key:
                raise ValueError("written for another request")
            if "body" not in data:
                raise ValueError("no body")
            entry = CacheEntry(
                key=key,
                body=data["body"],
                fetched_at=_parse_time(data.get("fetched_at")),
                validated_at=_parse_time(data.get("validated_at")),
                etag=_optional_str(data.get("etag"), "etag"),
                link=_optional_str(data.get("link"), "link"),
            )
        except (ValueError, UnicodeDecodeError) as exc:
            reason = clean_text(str(exc), 120)
            return CacheRead(None, f"corrupt cache file {path.name} ignored: {reason}")
        return CacheRead(entry)

    def write(self, entry: CacheEntry) -> str:
        """Store `entry` atomically; returns a problem description, or "" on success."""
        path = self.path_for(entry.key)
        document = {
            "format": CACHE_FORMAT,
            "key": entry.key,
            "fetched_at": entry.fetched_at.isoformat(),
            "validated_at": entry.validated_at.isoformat(),
            "etag": entry.etag,
            "link": entry.link,
            "body": entry.body,
        }
        temp: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
            temp = None
        except OSError as exc:
            return f"could not write cache file {path.name} ({exc.strerror})"
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
        return ""

    # File I/O off the event loop: bodies can be hundreds of KiB and fsync can be slow.
    async def aread(self, key: str) -> CacheRead:
        return await asyncio.to_thread(self.read, key)

    async def awrite(self, entry: CacheEntry) -> str:
        return await asyncio.to_thread(self.write, entry)


class EntryStore:
    """A client's view of cached entries: memory first, then the disk cache when there is one.

    The in-memory copy keeps ETags working for clients built without a disk cache.
    """

    def __init__(self, cache: FeedCache | None) -> None:
        self.cache = cache
        self._memory: dict[str, CacheEntry] = {}

    async def get(self, key: str) -> CacheRead:
        if key in self._memory:
            return CacheRead(self._memory[key])
        if self.cache is None:
            return CacheRead(None)
        found = await self.cache.aread(key)
        if found.entry is not None:
            self._memory[key] = found.entry
        return found

    async def put(self, entry: CacheEntry) -> str:
        self._memory[entry.key] = entry
        return await self.cache.awrite(entry) if self.cache is not None else ""

    def path_for(self, key: str) -> Path | None:
        return self.cache.path_for(key) if self.cache is not None else None


@dataclass(frozen=True, kw_only=True)
class FeedResult:
    """What every feed reply carries besides its data: freshness and where it came from."""

    source: str
    request: str  # the first request of the feed, for display
    fetched_at: datetime  # when the server last confirmed this data (200 or 304)
    stale: bool = False  # served from the cache because the live request failed
    not_modified: bool = False  # the server answered 304: the cached body was reused
    error_title: str = ""  # why the live request failed (set when stale or truncated)
    retry_after: float | None = None  # seconds, when the failure was a rate limit
    cache_problem: str = ""  # a cache file that was ignored or could not be written
    evidence: tuple[Evidence, ...] = field(default=())

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or utcnow()) - self.fetched_at


@dataclass(frozen=True)
class FeedFailure:
    """A feed that could not be fetched and had no usable cached copy."""

    title: str
    detail: str = ""
    evidence: Evidence | None = None
    retry_after: float | None = None

    @classmethod
    def from_error(cls, exc: BaseException) -> FeedFailure:
        if isinstance(exc, SourceError):
            retry = exc.retry_after if isinstance(exc, SourceRateLimited) else None
            return cls(exc.title, exc.detail, exc.evidence, retry)
        return cls(f"unexpected {type(exc).__name__}", clean_text(str(exc), 200))


def stale_fields(
    exc: SourceError, entries: list[CacheEntry], source: str, paths: list[Path | None]
) -> dict[str, Any]:
    """The FeedResult fields of an answer served from cache after `exc`."""
    evidence = [e.evidence(source, p) for e, p in zip(entries, paths, strict=True)]
    if exc.evidence is not None:
        evidence.insert(0, exc.evidence)
    return {
        "fetched_at": min(e.validated_at for e in entries),
        "stale": True,
        "error_title": exc.title,
        "retry_after": exc.retry_after if isinstance(exc, SourceRateLimited) else None,
        "evidence": tuple(evidence),
    }
