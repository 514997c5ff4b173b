"""DB liveness against a real PostgreSQL holding the simulated signer's schema."""

from __future__ import annotations

import time

import psycopg

from signer_tui.sources.pg_liveness import HOT_QUERIES, read_liveness, time_query
from tests.conftest import SignerDb

from .test_postgres import database


def test_hot_queries_are_timed_sizes_and_connections_read(signer_db: SignerDb) -> None:
    db = database(signer_db)
    with db.session() as conn:
        live = read_liveness(conn, hot_query_timeout=2.0, source=db.source)
        # A read-only session stays read-only, and the session's timeout is untouched.
        assert conn.execute("SHOW statement_timeout").fetchone() == ("10s",)
    assert [q.name for q in live.queries] == [name for name, _ in HOT_QUERIES]
    for q in live.queries:
        assert q.elapsed_ms is not None and q.elapsed_ms >= 0, q
        assert not q.timed_out and q.error == ""
        assert q.plan_cost is not None
        assert "EXPLAIN (FORMAT JSON)" in q.evidence.request
    stacks = next(q for q in live.queries if q.name == "stacks chain tip")
    assert "stacks_blocks" in stacks.seq_scans  # no block_height index, as in the real schema
    assert live.sizes is not None and live.sizes[0].name == "stacks_blocks"
    assert live.database_bytes is not None and live.database_bytes > live.sizes[0].total_bytes
    assert live.connections is not None
    assert live.connections.total >= 1 and live.connections.max_connections > 0
    assert live.problems == ()


def test_explain_never_executes_the_query(signer_db: SignerDb) -> None:
    db = database(signer_db)
    with db.session() as conn:
        timing = time_query(conn, "sleep", "SELECT pg_sleep(5)", 0.3, db.source)
    # The EXPLAIN returned at once; the timed run hit its own 300 ms bound, not 5 s.
    assert timing.timed_out and timing.elapsed_ms is None
    assert timing.error == "timed out after 0.3 s"
    assert timing.plan_cost is not None


def test_missing_table_is_named_not_fatal(signer_db: SignerDb) -> None:
    db = database(signer_db)
    with db.session() as conn:
        timing = time_query(conn, "x", "SELECT 1 FROM sbtc_signer.nope LIMIT 1", 1.0, db.source)
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection is still usable
    assert timing.elapsed_ms is None and timing.error == "table missing"


def test_an_open_transaction_is_seen_with_its_age(signer_db: SignerDb) -> None:
    holder = psycopg.connect(signer_db.conninfo, application_name="sbtc-signer")
    try:
        holder.execute("SELECT 1")  # opens a transaction (not autocommit) and keeps it
        time.sleep(1.1)
        db = database(signer_db)
        with db.session() as conn:
            live = read_liveness(conn, hot_query_timeout=2.0, source=db.source)
        assert live.oldest_xact is not None
        assert live.oldest_xact.application == "sbtc-signer"
        assert live.oldest_xact.age_seconds >= 1.0
        assert live.connections is not None and live.connections.signer >= 1
    finally:
        holder.close()


def test_a_slow_hot_query_behind_a_lock_times_out_at_its_own_bound(signer_db: SignerDb) -> None:
    locker = psycopg.connect(signer_db.conninfo)
    try:
        locker.execute("LOCK TABLE sbtc_signer.bitcoin_blocks IN ACCESS EXCLUSIVE MODE")
        db = database(signer_db)
        started = time.perf_counter()
        with db.session() as conn:
            live = read_liveness(conn, hot_query_timeout=0.5, source=db.source)
        took = time.perf_counter() - started
        btc = next(q for q in live.queries if q.name == "bitcoin chain tip")
        assert btc.timed_out or btc.error.startswith("EXPLAIN")
        assert took < 8  # bounded: never the session's own 10 s per blocked statement
    finally:
        locker.close()
