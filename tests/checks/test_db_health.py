"""db.*: the signer DB as liveness, at the thresholds' boundaries. Pure, fixed NOW."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signer_tui.checks.db_health import MIB, check_db_health, growth_per_day
from signer_tui.config import DbHealth
from signer_tui.model import Status
from signer_tui.sources.pg_liveness import (
    Connections,
    DbLiveness,
    OldestXact,
    QueryTiming,
    RelationSize,
)

from .factories import NOW, by_id, down, ev, ok

CFG = DbHealth()
HEALTHY = Connections(10, 3, 0, 100, 3)
GIB = 1024 * MIB


def q(name: str, ms: float | None, *, timed_out: bool = False, scans: tuple[str, ...] = ()):
    error = "timed out after 2 s" if timed_out else ("" if ms is not None else "table missing")
    return QueryTiming(name, "SELECT …", ms, timed_out, 10.0, scans, error, ev("postgres"))


def live(
    *queries: QueryTiming,
    connections: Connections | None = HEALTHY,
    oldest: OldestXact | None = None,
    database: int | None = 5 * GIB,
    problems: tuple[tuple[str, str], ...] = (),
) -> DbLiveness:
    sizes = (
        (RelationSize("stacks_blocks", 3 * GIB, GIB, 4 * GIB), RelationSize("dkg_shares", 1, 1, 2))
        if database is not None
        else None
    )
    return DbLiveness(
        queries or (q("newest dkg_shares", 1.0), q("stacks chain tip", 20.0)),
        sizes,
        database,
        connections,
        oldest,
        (ev("postgres"),) * 4,
        problems,
    )


def run(value: DbLiveness, series=(), cfg: DbHealth = CFG):
    return by_id(check_db_health(ok("db.liveness", value), list(series), cfg, NOW))


def growing(per_day: float, span: timedelta) -> list:
    start = NOW - span
    return [(start, 5 * GIB), (NOW, 5 * GIB + per_day * span.total_seconds() / 86400)]


def test_healthy_db_is_ok_everywhere_but_growth_until_measured() -> None:
    found = run(live())
    assert found["db.queries"].status is Status.OK
    assert found["db.queries"].summary == "slowest hot query: stacks chain tip 20 ms"
    assert found["db.connections"].status is Status.OK
    assert found["db.oldest_xact"].status is Status.OK
    # First seen: the size is known (OK); only its growth is still being measured.
    assert found["db.size"].status is Status.OK
    assert "growth: watching (no samples yet, needs 15m)" in found["db.size"].summary


@pytest.mark.parametrize(
    ("ms", "status"),
    [(250.0, Status.OK), (250.1, Status.WARN), (1000.0, Status.WARN), (1000.1, Status.CRIT)],
)
def test_query_time_boundaries(ms: float, status: Status) -> None:
    found = run(live(q("stacks chain tip", ms)))["db.queries"]
    assert found.status is status


def test_a_timed_out_query_is_crit_and_names_the_scan() -> None:
    slow = q("stacks chain tip", None, timed_out=True, scans=("stacks_blocks",))
    found = run(live(q("newest dkg_shares", 1.0), slow))["db.queries"]
    assert found.status is Status.CRIT
    assert found.summary == "slow: stacks chain tip timed out after 2 s (slowest hot query)"
    assert "#2041" in found.advice and "no block_height index" in found.advice
    assert dict(found.details)["stacks chain tip"].endswith("seq scan on stacks_blocks")


def test_a_query_that_could_not_run_is_unknown_never_ok() -> None:
    found = run(live(q("newest dkg_shares", 1.0), q("stacks chain tip", None)))["db.queries"]
    assert found.status is Status.UNKNOWN
    assert "table missing" in found.summary
    assert run(live(q("a", None), q("b", None)))["db.queries"].status is Status.UNKNOWN


@pytest.mark.parametrize(
    ("per_day", "status"),
    [(2048 * MIB, Status.OK), (2049 * MIB, Status.WARN), (-GIB, Status.OK)],
)
def test_growth_boundaries(per_day: float, status: Status) -> None:
    found = run(live(), growing(per_day, timedelta(hours=6)))["db.size"]
    assert found.status is status
    assert "/day" in found.summary


def test_growth_needs_the_minimum_span() -> None:
    short = run(live(), growing(10 * GIB, timedelta(minutes=14)))["db.size"]
    assert short.status is Status.OK  # size known; growth still watching
    assert "needs 15m" in short.summary
    enough = run(live(), growing(10 * GIB, timedelta(minutes=15)))["db.size"]
    assert enough.status is Status.WARN


def test_growth_rate_arithmetic() -> None:
    rate, span = growth_per_day(growing(GIB, timedelta(hours=12)), 3600)
    assert span == 12 * 3600 and rate == pytest.approx(GIB)
    assert growth_per_day([(NOW, 1.0)], 3600) == (None, 0.0)


@pytest.mark.parametrize(
    ("total", "status"),
    [(77, Status.OK), (78, Status.WARN), (92, Status.WARN), (93, Status.CRIT), (97, Status.CRIT)],
)
def test_connection_ratio_boundaries(total: int, status: Status) -> None:
    # 100 max, 3 reserved for superusers: 97 usable; 0.8 -> 77.6, 0.95 -> 92.15.
    found = run(live(connections=Connections(total, 3, 0, 100, 3)))["db.connections"]
    assert found.status is status
    assert f"{total} of 97" in found.summary


def test_no_signer_connection_is_a_warn() -> None:
    found = run(live(connections=Connections(4, 0, 0, 100, 3)))["db.connections"]
    assert found.status is Status.WARN
    assert found.summary.startswith("no signer connection")


@pytest.mark.parametrize(
    ("age", "status"),
    [(299.0, Status.OK), (300.0, Status.WARN), (3599.0, Status.WARN), (3600.0, Status.CRIT)],
)
def test_oldest_transaction_boundaries(age: float, status: Status) -> None:
    found = run(live(oldest=OldestXact(42, "psql", "idle in transaction", age)))
    assert found["db.oldest_xact"].status is status
    assert "pid 42, psql, idle in transaction" in found["db.oldest_xact"].summary


def test_hidden_sessions_are_said() -> None:
    found = run(live(connections=Connections(10, 3, 4, 100, 3)))["db.oldest_xact"]
    assert found.summary == "no open transaction (4 session(s) of other roles not visible)"


def test_parts_that_failed_are_unknown() -> None:
    value = live(
        connections=None,
        database=None,
        problems=(
            ("sizes", "permission denied: x"),
            ("connections", "permission denied: y"),
            ("oldest_xact", "permission denied: z"),
        ),
    )
    found = run(value)
    for fid in ("db.size", "db.connections", "db.oldest_xact"):
        assert found[fid].status is Status.UNKNOWN
        assert "permission denied" in found[fid].summary


def test_db_down_or_not_read_is_unknown_for_every_row() -> None:
    for obs in (down("db.liveness"), None):
        found = by_id(check_db_health(obs, [], CFG, NOW))
        assert set(found) == {"db.queries", "db.size", "db.connections", "db.oldest_xact"}
        assert {f.status for f in found.values()} == {Status.UNKNOWN}


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="hot_query_warn"):
        DbHealth(hot_query_warn=2.0, hot_query_crit=1.0)
