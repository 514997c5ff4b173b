"""Typed source keys: what the pipeline can poll, and how to build each poll.

A `Source[T]` names one source ("stacks", "db", "releases"…), says what a poll of it returns
(`T`), whether it belongs to one signer profile or is shared by all of them (release feeds),
and how to build its poll from the config. Checks name the keys they read (`checks.registry`);
the pipeline polls exactly those, judges staleness by each key's own interval, and hands the
checks typed `Observation[T]`s. A new source is one key plus its builder, next to its client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from signer_tui.model import Observation

if TYPE_CHECKING:
    from pathlib import Path

    from signer_tui.config import Profile, Settings
    from signer_tui.credentials import Secret
    from signer_tui.sources.backup_types import VerificationRecord
    from signer_tui.sources.feedcache import FeedCache

T = TypeVar("T")
C = TypeVar("C")

Scope = Literal["profile", "shared"]

# Our own bound on one whole poll when its builder names none (each client also has its own
# per-request timeout; a poll of several requests, or a stuck server, needs this one).
DEFAULT_DEADLINE = 30.0


@dataclass(frozen=True)
class Poll(Generic[T]):
    """One source's poll for one profile: the call, how often, and how long it may take."""

    call: Callable[[], Awaitable[T]] | Callable[[], T]
    interval: float
    blocking: bool = False  # run in a worker thread (psycopg, subprocesses, files)
    deadline: float = DEFAULT_DEADLINE
    description: str = ""


class PollContext(Protocol):
    """What a builder may use. `profile` is None when building a shared source."""

    @property
    def profile(self) -> Profile | None: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def feed_cache(self) -> FeedCache | None: ...

    @property
    def config_path(self) -> Path | None:
        """The config file in use (posture checks read its permissions)."""
        ...

    def secret(self, ref: Any) -> Secret | None:
        """Resolve a secret reference (raises a SourceError when it cannot be)."""
        ...

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Register a client to close when the pipeline shuts down."""
        ...

    def latest(self, source: Source[Any]) -> Observation[Any] | None:
        """The newest observation of another source (for a shared source: any profile's)."""
        ...

    def memo(self, key: str, make: Callable[[], C]) -> C:
        """One client per profile and service, shared by that service's keys."""
        ...

    def history(self, profile: str) -> list[VerificationRecord]:
        """The restore-test history of a profile."""
        ...


@dataclass(frozen=True, eq=False)
class Source(Generic[T]):
    """A typed key for one source. Compared by identity: each key is defined once."""

    name: str
    build: Callable[[PollContext], Poll[T] | None]  # None: not configured for this profile
    scope: Scope = "profile"
    # Numeric series kept from each successful reading (tips, counters) for checks/sparklines.
    samples: Callable[[T], Mapping[str, float | None]] | None = None
    # A rate-limited remote feed: "refresh now" re-fetches it only when its newest reading is
    # older than this many seconds; a forced refresh ignores it.
    refresh_min_age: float | None = None
    label: str = ""

    def __repr__(self) -> str:
        return f"Source({self.name!r})"
