"""The key of the DB-liveness source. Its reader (and so psycopg) is imported by the first
poll, in that poll's worker thread: `check` and the console start without loading the driver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from signer_tui.sources.keys import Poll, PollContext, Source

if TYPE_CHECKING:
    from signer_tui.sources.pg_liveness import DbLiveness


def _build(ctx: PollContext) -> Poll[DbLiveness] | None:
    profile = ctx.profile
    assert profile is not None
    health = profile.db_health
    if not health.enabled:
        return None
    password = ctx.secret(profile.db.password)
    # The same order of budget as the DB source's (connect + one statement's worth): healthy
    # reads take milliseconds, and a stuck server must not hold a `check` run much longer.
    budget = (
        profile.db.connect_timeout
        + max(profile.db.statement_timeout, health.hot_query_timeout)
        + 1.0
    )

    def poll() -> DbLiveness:
        from signer_tui.sources.pg_liveness import poll_liveness

        return poll_liveness(profile, password, budget)

    return Poll(
        poll, profile.poll.database, blocking=True, deadline=budget + 2.5, description="DB liveness"
    )


def _samples(reading: DbLiveness) -> Mapping[str, float | None]:
    """Sizes as series (kept across `check` runs in the state dir) for growth per day."""
    out: dict[str, float | None] = {"db_bytes": reading.database_bytes}
    for size in reading.sizes or ():
        out[f"db_bytes.{size.name}"] = size.total_bytes
    return out


DB_LIVENESS: Source[DbLiveness] = Source(
    "db.liveness", _build, samples=_samples, label="signer DB liveness"
)
