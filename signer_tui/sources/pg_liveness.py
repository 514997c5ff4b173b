"""The signer DB as liveness: how long its hot queries take, sizes, connections, old xacts.

Slow signer-DB queries are what made mainnet signers effectively offline (stacks-sbtc/sbtc
#2041, #1888, #1845: `stacks_blocks` is large and key queries "take too long"). Everything
here is read-only and cheap:

* each hot query is `EXPLAIN (FORMAT JSON)` — planned, never executed (ANALYZE is off) — and
  then run once as the signer runs it (`LIMIT 1`), timed, under its own short
  `statement_timeout` (`db_health.hot_query_timeout`) so a slow one costs at most that;
* sizes come from the catalog (`pg_relation_size`, `pg_indexes_size`), not from scans;
* connections and the oldest open transaction come from `pg_stat_activity`. Without
  `pg_read_all_stats` the sessions of other roles hide their state: they are counted as hidden.

Per-day growth is judged from the numeric series the pipeline keeps (and saves in the state
dir between `check` runs): see `samples` on the key below.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql

from signer_tui.model import Evidence, utcnow
from signer_tui.sources import pg_rows
from signer_tui.sources.errors import DatabaseError, DatabaseUnreachable
from signer_tui.sources.pg_deadline import PollDeadline
from signer_tui.sources.postgres import APPLICATION_NAME, Conn, SignerDatabase, run_query

# (name, SQL): the signer's own lookups (signer/src/storage/postgres/read.rs), bounded.
HOT_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "newest dkg_shares",
        "SELECT aggregate_key FROM sbtc_signer.dkg_shares ORDER BY created_at DESC LIMIT 1",
    ),
    (
        "bitcoin chain tip",
        "SELECT block_hash, block_height FROM sbtc_signer.bitcoin_blocks "
        "ORDER BY block_height DESC LIMIT 1",
    ),
    (
        "stacks chain tip",
        "SELECT block_hash, block_height FROM sbtc_signer.stacks_blocks "
        "ORDER BY block_height DESC LIMIT 1",
    ),
)
SIZES_QUERY = (
    "SELECT c.relname::text, pg_relation_size(c.oid), pg_indexes_size(c.oid), "
    "pg_total_relation_size(c.oid) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'sbtc_signer' AND c.relkind IN ('r', 'p') "
    "ORDER BY pg_total_relation_size(c.oid) DESC, c.relname"
)
DATABASE_SIZE_QUERY = "SELECT pg_database_size(current_database())"
CONNECTIONS_QUERY = (
    "SELECT count(*), count(*) FILTER (WHERE application_name = 'sbtc-signer'), "
    "count(*) FILTER (WHERE state IS NULL AND pid <> pg_backend_pid()), "
    "current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int "
    "FROM pg_stat_activity WHERE backend_type = 'client backend'"
)
# Our own sessions (this one, the DB source's snapshot) are not the signer's problem.
OLDEST_XACT_QUERY = (
    "SELECT pid, application_name, state, extract(epoch FROM now() - xact_start)::float8 "
    "FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() "
    f"AND application_name <> '{APPLICATION_NAME}' AND backend_type = 'client backend' "
    "ORDER BY xact_start LIMIT 1"
)


@dataclass(frozen=True)
class QueryTiming:
    name: str
    sql: str
    elapsed_ms: float | None  # None: it did not finish (see error)
    timed_out: bool
    plan_cost: float | None  # the planner's total cost estimate
    seq_scans: tuple[str, ...]  # relations the plan reads with a sequential scan
    error: str
    evidence: Evidence


@dataclass(frozen=True)
class RelationSize:
    name: str
    table_bytes: int
    index_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class Connections:
    total: int
    signer: int  # application_name = 'sbtc-signer' (the signer sets it on every connection)
    hidden: int  # sessions whose state this role may not see
    max_connections: int
    reserved: int

    @property
    def usable(self) -> int:
        """Connections a non-superuser role (the signer's) can get."""
        return max(1, self.max_connections - self.reserved)


@dataclass(frozen=True)
class OldestXact:
    pid: int
    application: str
    state: str
    age_seconds: float


@dataclass(frozen=True)
class DbLiveness:
    queries: tuple[QueryTiming, ...]
    sizes: tuple[RelationSize, ...] | None
    database_bytes: int | None
    connections: Connections | None
    oldest_xact: OldestXact | None  # None: no open transaction (other than ours)
    evidence: tuple[Evidence, ...]
    problems: tuple[tuple[str, str], ...] = ()  # (part, "title: detail")


def _seq_scans(plan: Mapping[str, Any]) -> list[str]:
    found = []
    if plan.get("Node Type") == "Seq Scan" and isinstance(plan.get("Relation Name"), str):
        found.append(str(plan["Relation Name"]))
    for child in plan.get("Plans", []) or []:
        if isinstance(child, Mapping):
            found += _seq_scans(child)
    return found


@contextlib.contextmanager
def bounded(conn: Conn, seconds: float) -> Iterator[None]:
    """One transaction whose statements and lock waits end after `seconds` (SET LOCAL: the
    session's own statement_timeout is untouched afterwards). Planning and the catalog's size
    functions take locks too: a table locked by a migration must not hold us for the whole
    session timeout."""
    ms = sql.Literal(max(1, round(seconds * 1000)))
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(ms))
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(ms))
        yield


def time_query(conn: Conn, name: str, query: str, timeout: float, source: str) -> QueryTiming:
    """EXPLAIN (no ANALYZE) then one timed run, both bounded by `timeout`."""
    cost: float | None = None
    scans: tuple[str, ...] = ()
    error = ""
    try:
        with bounded(conn, timeout):
            rows, _ = run_query(conn, f"EXPLAIN (FORMAT JSON) {query}", source=source)
        document = rows[0][0]
        parsed = json.loads(document) if isinstance(document, str) else document
        plan = parsed[0]["Plan"]
        cost = float(plan.get("Total Cost", 0.0))
        scans = tuple(_seq_scans(plan))
    except DatabaseError as exc:
        error = f"EXPLAIN: {exc.title}"
        if isinstance(exc, DatabaseUnreachable):
            raise
    except psycopg.Error:
        if conn.broken or conn.closed:
            raise DatabaseUnreachable("connection lost", f"during EXPLAIN {name}") from None
        error = "EXPLAIN failed"
    except (KeyError, IndexError, TypeError, ValueError):
        error = "EXPLAIN: unexpected plan shape"
    observed = utcnow()
    started = time.perf_counter()
    elapsed: float | None = None
    timed_out = False
    ms = max(1, round(timeout * 1000))
    try:
        with bounded(conn, timeout):
            conn.execute(query).fetchall()
        elapsed = (time.perf_counter() - started) * 1000
    except (pgerrors.QueryCanceled, pgerrors.LockNotAvailable) as exc:
        timed_out = True
        waited = "waiting for a lock" if isinstance(exc, pgerrors.LockNotAvailable) else ""
        error = f"timed out after {timeout:g} s" + (f" {waited}" if waited else "")
    except pgerrors.UndefinedTable:
        error = "table missing"
    except psycopg.Error as exc:
        if conn.broken or conn.closed:
            raise DatabaseUnreachable("connection lost", f"during {name}") from None
        error = f"failed: {type(exc).__name__}"
    evidence = Evidence(
        source=source,
        request=f"EXPLAIN (FORMAT JSON) {query}; then timed, statement_timeout {ms} ms",
        observed_at=observed,
        elapsed_ms=elapsed,
        decoded=(
            f"{name}: "
            + (f"{elapsed:.1f} ms" if elapsed is not None else error)
            + (f", plan cost {cost:.0f}" if cost is not None else "")
            + (f", seq scan on {', '.join(scans)}" if scans else "")
        ),
        error=error if elapsed is None else "",
    )
    return QueryTiming(name, query, elapsed, timed_out, cost, scans, error, evidence)


def read_sizes(conn: Conn, source: str) -> tuple[tuple[RelationSize, ...], int, Evidence]:
    rows, evidence = run_query(conn, SIZES_QUERY, source=source, table="pg_class")
    sizes = tuple(
        RelationSize(
            pg_rows.as_text(name, "pg_class.relname"),
            int(table),
            int(index),
            int(total),
        )
        for name, table, index, total in rows
    )
    db_rows, _ = run_query(conn, DATABASE_SIZE_QUERY, source=source)
    database = int(db_rows[0][0])
    decoded = f"database {database} bytes; " + ", ".join(
        f"{s.name} {s.total_bytes}" for s in sizes[:3]
    )
    return sizes, database, _with(evidence, decoded)


def read_connections(conn: Conn, source: str) -> tuple[Connections, Evidence]:
    rows, evidence = run_query(conn, CONNECTIONS_QUERY, source=source, table="pg_stat_activity")
    total, signer, hidden, maximum, reserved = (int(v) for v in rows[0])
    found = Connections(total, signer, hidden, maximum, reserved)
    decoded = f"{total} client connections ({signer} sbtc-signer) of max_connections {maximum}"
    return found, _with(evidence, decoded)


def read_oldest_xact(conn: Conn, source: str) -> tuple[OldestXact | None, Evidence]:
    rows, evidence = run_query(conn, OLDEST_XACT_QUERY, source=source, table="pg_stat_activity")
    if not rows:
        return None, _with(evidence, "no open transaction besides signer-tui's")
    pid, app, state, age = rows[0]
    found = OldestXact(
        int(pid),
        pg_rows.as_opt_text(app, "pg_stat_activity.application_name", 64) or "",
        pg_rows.as_opt_text(state, "pg_stat_activity.state", 40) or "",
        float(age),
    )
    decoded = f"oldest open transaction: pid {found.pid} ({found.application or '?'}), "
    return found, _with(evidence, decoded + f"{found.age_seconds:.0f} s, {found.state}")


def _with(evidence: Evidence, decoded: str) -> Evidence:
    return Evidence(
        source=evidence.source,
        request=evidence.request,
        observed_at=evidence.observed_at,
        elapsed_ms=evidence.elapsed_ms,
        decoded=decoded,
    )


def read_liveness(conn: Conn, *, hot_query_timeout: float, source: str) -> DbLiveness:
    """Every part on one read-only connection; a failed part is named, not fatal."""
    queries = tuple(
        time_query(conn, name, query, hot_query_timeout, source) for name, query in HOT_QUERIES
    )
    evidence = [q.evidence for q in queries]
    problems: list[tuple[str, str]] = []
    sizes: tuple[RelationSize, ...] | None = None
    database: int | None = None
    connections: Connections | None = None
    oldest: OldestXact | None = None
    try:
        with bounded(conn, hot_query_timeout):
            sizes, database, ev = read_sizes(conn, source)
        evidence.append(ev)
    except DatabaseError as exc:
        problems.append(("sizes", f"{exc.title}: {exc.detail}"))
    except psycopg.Error as exc:  # the lock wait ended the bounded transaction itself
        problems.append(("sizes", f"not read within {hot_query_timeout:g} s: {type(exc).__name__}"))
    try:
        connections, ev = read_connections(conn, source)
        evidence.append(ev)
    except DatabaseError as exc:
        problems.append(("connections", f"{exc.title}: {exc.detail}"))
    try:
        oldest, ev = read_oldest_xact(conn, source)
        evidence.append(ev)
    except DatabaseError as exc:
        problems.append(("oldest_xact", f"{exc.title}: {exc.detail}"))
    return DbLiveness(
        queries, sizes, database, connections, oldest, tuple(evidence), tuple(problems)
    )


def poll_liveness(profile: Any, password: Any, budget: float) -> DbLiveness:
    """One DB-liveness poll (the key and its builder are in `db_liveness_key`)."""
    health = profile.db_health
    database = SignerDatabase.from_profile(profile.db, password)
    # The DB source's own watchdog: a server that accepts and never answers is cut off at
    # the budget (socket shutdown), not left hanging in a worker thread.
    deadline = PollDeadline(budget, profile.db.statement_timeout)
    return database._read(
        lambda conn: read_liveness(
            conn, hot_query_timeout=health.hot_query_timeout, source=database.source
        ),
        deadline,
    )
