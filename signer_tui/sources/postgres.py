"""The signer's PostgreSQL, read only: DKG keys, migrations, chain tips, sizes and row counts.

psycopg is used synchronously: the TUI runs these reads in a thread worker. Every `read_*`
function takes any open connection, so backup verification runs the very same SQL against a
restored scratch database (`read_signer_facts(conn)`); `SignerDatabase` adds the live session:
read only (`default_transaction_read_only`), `connect_timeout`, `statement_timeout`, and
TCP keepalives so a vanished server cannot hang a worker forever.

Every failure is a `DatabaseError` subclass with a short title. libpq does not quote passwords
in its messages, but every message is still passed through the redactor before it is kept.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pgerrors
from psycopg import sql
from psycopg.pq import TransactionStatus

from signer_tui import format as fmt
from signer_tui.config import Database
from signer_tui.credentials import REDACTOR, Secret
from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.sbtc import MAIN_TABLES, VERIFIED_KEY_QUERY, short_key
from signer_tui.sources import pg_rows
from signer_tui.sources.errors import (
    DatabaseAuthFailed,
    DatabaseError,
    DatabaseNoSchema,
    DatabaseSchemaIncomplete,
    DatabaseTimeout,
    DatabaseUnreachable,
)
from signer_tui.sources.pg_auth import DEFAULT_REQUIRE_AUTH
from signer_tui.sources.pg_deadline import PollDeadline
from signer_tui.sources.pg_role import RoleFacts, read_role

APPLICATION_NAME = "signer-tui"
SCHEMA = "sbtc_signer"
_SHARES = "sbtc_signer.dkg_shares"

Conn = psycopg.Connection[Any]
T = TypeVar("T")

# -- SQL -----------------------------------------------------------------------------------

SCHEMA_QUERY = (
    "SELECT to_regnamespace('sbtc_signer') IS NOT NULL, current_setting('server_version')"
)
# The signer's own "latest shares" query: newest row of any status.
NEWEST_SHARE_QUERY = (
    "SELECT aggregate_key, dkg_shares_status::text, created_at, started_at_bitcoin_block_height "
    "FROM sbtc_signer.dkg_shares ORDER BY created_at DESC LIMIT 1"
)
# How the signer counts DKG rounds (read.rs): failed rounds do not count.
DKG_ROUNDS_QUERY = "SELECT count(*) FROM sbtc_signer.dkg_shares WHERE dkg_shares_status != 'failed'"
# The ledger lives in `public`, not in sbtc_signer; a `-n sbtc_signer` dump loses it.
MIGRATIONS_TABLE_QUERY = "SELECT to_regclass('public.__sbtc_migrations') IS NOT NULL"
MIGRATIONS_QUERY = "SELECT key FROM public.__sbtc_migrations ORDER BY key"
# stacks_blocks has no index on block_height, so its half is a scan of the largest table;
# statement_timeout bounds it.
CHAIN_TIPS_QUERY = (
    "(SELECT 'bitcoin', block_height, created_at FROM sbtc_signer.bitcoin_blocks "
    "ORDER BY block_height DESC LIMIT 1) "
    "UNION ALL "
    "(SELECT 'stacks', block_height, created_at FROM sbtc_signer.stacks_blocks "
    "ORDER BY block_height DESC LIMIT 1)"
)
TABLE_SIZES_QUERY = (
    "SELECT c.relname::text, pg_total_relation_size(c.oid) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'sbtc_signer' AND c.relkind IN ('r', 'p') "
    "UNION ALL SELECT NULL, pg_database_size(current_database())"
)
TABLES_PRESENT_QUERY = (
    "SELECT t, to_regclass(format('sbtc_signer.%%I', t)) IS NOT NULL "
    "FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i"
)
# Every DKG round (a handful of rows; bounded anyway): the signer set and threshold each round
# used, and when it started, for the signer-set and pending-rotation checks.
DKG_ROWS_LIMIT = 64
DKG_ROWS_QUERY = (
    "SELECT aggregate_key, dkg_shares_status::text, created_at, started_at_bitcoin_block_height, "
    "signer_set_public_keys, signature_share_threshold FROM sbtc_signer.dkg_shares "
    f"ORDER BY created_at DESC LIMIT {DKG_ROWS_LIMIT}"
)
ENCRYPTED_SHARES_QUERY = (
    "SELECT aggregate_key, octet_length(encrypted_private_shares) FROM sbtc_signer.dkg_shares "
    "WHERE dkg_shares_status = 'verified' ORDER BY created_at DESC LIMIT 1"
)

# -- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedKeys:
    """Every verified aggregate key, newest first (the docs' backup-verification query)."""

    keys: tuple[bytes, ...]
    evidence: Evidence

    @property
    def newest(self) -> bytes | None:
        return self.keys[0] if self.keys else None


@dataclass(frozen=True)
class DkgShare:
    aggregate_key: bytes
    status: str  # 'unverified' | 'verified' | 'failed'
    created_at: datetime
    started_at_bitcoin_block_height: int

    @property
    def key_hex(self) -> str:
        return self.aggregate_key.hex()


@dataclass(frozen=True)
class NewestShare:
    """The newest dkg_shares row of any status; `share` is None when the table is empty."""

    share: DkgShare | None
    evidence: Evidence


@dataclass(frozen=True)
class DkgRow:
    """One dkg_shares row with the signer set its round ran on."""

    share: DkgShare
    signer_set: tuple[bytes, ...]
    threshold: int


@dataclass(frozen=True)
class DkgRows:
    """dkg_shares rows newest first (at most DKG_ROWS_LIMIT)."""

    rows: tuple[DkgRow, ...]
    evidence: Evidence

    @property
    def newest(self) -> DkgRow | None:
        return self.rows[0] if self.rows else None

    def row_for(self, key: bytes) -> DkgRow | None:
        return next((r for r in self.rows if r.share.aggregate_key == key), None)


@dataclass(frozen=True)
class DkgRoundCount:
    count: int
    evidence: Evidence


@dataclass(frozen=True)
class Migrations:
    """`public.__sbtc_migrations`: `table_present` False is a result, not an error."""

    table_present: bool
    keys: tuple[str, ...]  # sorted by name, i.e. in the order they were applied
    evidence: Evidence

    @property
    def last(self) -> str | None:
        return self.keys[-1] if self.keys else None


@dataclass(frozen=True)
class ChainTip:
    height: int | None  # None: the table is empty
    created_at: datetime | None


@dataclass(frozen=True)
class ChainTips:
    bitcoin: ChainTip
    stacks: ChainTip
    evidence: Evidence


@dataclass(frozen=True)
class TableSizes:
    sizes: tuple[tuple[str, int], ...]  # bytes incl. indexes and TOAST, largest first
    database_bytes: int
    evidence: Evidence

    @property
    def schema_bytes(self) -> int:
        return sum(size for _, size in self.sizes)


@dataclass(frozen=True)
class RowCounts:
    counts: tuple[tuple[str, int | None], ...]  # exact count(*); None: the table is missing
    evidence: Evidence

    def as_dict(self) -> dict[str, int | None]:
        return dict(self.counts)


@dataclass(frozen=True)
class EncryptedShares:
    """The newest verified row's `encrypted_private_shares`: present means non-empty."""

    aggregate_key: bytes | None  # None: there is no verified row
    length: int | None
    evidence: Evidence

    @property
    def present(self) -> bool | None:
        if self.aggregate_key is None:
            return None
        return bool(self.length)


@dataclass(frozen=True)
class SignerDbFacts:
    """Everything read in one session. A part that failed is None, with its reason in
    `problems` (e.g. a statement timeout on a huge stacks_blocks must not hide the key)."""

    server_version: str
    observed_at: datetime
    verified_keys: VerifiedKeys | None
    newest_share: NewestShare | None
    dkg_round_count: DkgRoundCount | None
    migrations: Migrations | None
    chain_tips: ChainTips | None
    table_sizes: TableSizes | None
    row_counts: RowCounts | None
    encrypted_shares: EncryptedShares | None
    problems: tuple[tuple[str, str], ...] = ()  # (part, "title: detail")
    role: RoleFacts | None = None  # live sessions only: who we are connected as
    dkg_rows: DkgRows | None = None  # None also when an older caller did not read it

    @property
    def newest_verified_key(self) -> bytes | None:
        return self.verified_keys.newest if self.verified_keys is not None else None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        parts = (
            self.verified_keys,
            self.newest_share,
            self.dkg_round_count,
            self.migrations,
            self.chain_tips,
            self.table_sizes,
            self.row_counts,
            self.encrypted_shares,
            self.dkg_rows,
        )
        return tuple(p.evidence for p in parts if p is not None)


# -- errors --------------------------------------------------------------------------------

_AUTH = re.compile(
    r"password authentication failed|authentication failed|no password supplied|"
    r"role \".*\" does not exist|no pg_hba\.conf entry|password is required|"
    r"pg_hba\.conf rejects",
    re.IGNORECASE,
)
_NO_DATABASE = re.compile(r"database \".*\" does not exist", re.IGNORECASE)
_UNKNOWN_HOST = re.compile(
    r"could not translate host name|Name or service not known|nodename nor servname",
    re.IGNORECASE,
)
_REFUSED = re.compile(r"Connection refused|No such file or directory", re.IGNORECASE)
_NO_ROUTE = re.compile(r"No route to host|Network is unreachable", re.IGNORECASE)
_TIMEOUT = re.compile(r"timeout expired|timed out", re.IGNORECASE)
_LOST = re.compile(
    r"server closed the connection|terminating connection|connection is lost|"
    r"consuming input failed|connection is closed|the connection is closed|SSL SYSCALL",
    re.IGNORECASE,
)
_NOT_READY = re.compile(r"starting up|shutting down|in recovery mode", re.IGNORECASE)
_TLS = re.compile(r"SSL|certificate|TLS", re.IGNORECASE)


def _message(exc: BaseException) -> str:
    """One line, control characters stripped, secrets scrubbed."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return REDACTOR(clean_text(text, 500))


def _database_error(
    exc: psycopg.Error, *, source: str, request: str, observed_at: datetime, started: float
) -> DatabaseError:
    detail = _message(exc)
    error: DatabaseError
    if isinstance(exc, pgerrors.QueryCanceled):
        error = DatabaseTimeout("query timed out", detail)
    elif isinstance(exc, pgerrors.InvalidSchemaName):
        error = DatabaseNoSchema(detail=detail)
    elif isinstance(exc, pgerrors.UndefinedTable):
        error = DatabaseSchemaIncomplete(detail=detail)
    elif isinstance(exc, pgerrors.InsufficientPrivilege):
        error = DatabaseError("permission denied", detail)
    elif isinstance(exc, pgerrors.ReadOnlySqlTransaction):
        error = DatabaseError("read-only session", detail)
    elif isinstance(exc, pgerrors.ConnectionTimeout):
        error = DatabaseTimeout(detail=detail)
    elif isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and (
        # No SQLSTATE: libpq's own connection errors; 08/57P: the server dropped us.
        exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))
    ):
        error = _connection_error(detail)
    else:
        error = DatabaseError("query failed", detail)
    error.evidence = Evidence(
        source=REDACTOR(source),
        request=REDACTOR(request),
        observed_at=observed_at,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        error=f"{error.title}: {detail}",
    )
    return error


def _connection_error(detail: str) -> DatabaseError:
    # Connection failures carry no SQLSTATE; libpq's text is all there is.
    if "authentication method requirement" in detail:
        return DatabaseAuthFailed(
            "server not using SCRAM",
            f"{detail} — the password is only sent to a server that authenticates with "
            "SCRAM (db.require_auth); if this server really uses another method, set "
            "db.require_auth accordingly",
        )
    if _AUTH.search(detail):
        return DatabaseAuthFailed(detail=detail)
    if _NO_DATABASE.search(detail):
        return DatabaseError("no such database", detail)
    if _UNKNOWN_HOST.search(detail):
        return DatabaseUnreachable("unknown host", detail)
    if _REFUSED.search(detail):
        return DatabaseUnreachable(detail=detail)
    if _NO_ROUTE.search(detail):
        return DatabaseUnreachable("unreachable", detail)
    if _TIMEOUT.search(detail):
        return DatabaseTimeout(detail=detail)
    if _LOST.search(detail):
        return DatabaseUnreachable("connection lost", detail)
    if _NOT_READY.search(detail):
        return DatabaseUnreachable("server not ready", detail)
    if "too many" in detail.lower():
        return DatabaseError("too many connections", detail)
    if _TLS.search(detail):
        return DatabaseError("TLS failed", detail)
    return DatabaseError("connection failed", detail)


# -- queries -------------------------------------------------------------------------------


def run_query(
    conn: Conn,
    query: str | sql.Composed,
    params: Sequence[Any] | None = None,
    *,
    source: str = "postgres",
    table: str = "the query",
) -> tuple[list[tuple[Any, ...]], Evidence]:
    """Run one read inside its own transaction (a savepoint if one is open), so a failing
    statement leaves the connection usable; psycopg errors become typed `DatabaseError`s,
    and a cell that cannot be loaded names `table`, its column and row."""
    text = query if isinstance(query, str) else query.as_string(conn)
    observed_at = utcnow()
    started = time.perf_counter()
    try:
        with conn.transaction():
            cursor = conn.execute(query, params)
            rows = pg_rows.fetch_all(cursor, table) if cursor.description is not None else []
    except psycopg.Error as exc:
        raise _database_error(
            exc, source=source, request=text, observed_at=observed_at, started=started
        ) from None
    except pg_rows.JunkData as exc:
        exc.evidence = Evidence(
            source=source, request=text, observed_at=observed_at, error=exc.detail
        )
        raise
    evidence = Evidence(
        source=source,
        request=text,
        observed_at=observed_at,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
    return rows, evidence


def _shown(evidence: Evidence, raw: str, decoded: str) -> Evidence:
    return replace(evidence, raw=clean_text(raw, RAW_LIMIT), decoded=decoded)


def _short(key: bytes) -> str:
    return short_key(key)


def read_verified_keys(conn: Conn, *, source: str = "postgres") -> VerifiedKeys:
    rows, evidence = run_query(conn, VERIFIED_KEY_QUERY, source=source, table=_SHARES)
    keys = tuple(
        pg_rows.as_bytes(row[0], pg_rows.where(_SHARES, "aggregate_key", i))
        for i, row in enumerate(rows)
    )
    decoded = "no verified key"
    if keys:
        decoded = f"{fmt.count(len(keys), 'verified key')}, newest {_short(keys[0])}"
    return VerifiedKeys(keys, _shown(evidence, "\n".join(k.hex() for k in keys), decoded))


def read_newest_share(conn: Conn, *, source: str = "postgres") -> NewestShare:
    rows, evidence = run_query(conn, NEWEST_SHARE_QUERY, source=source, table=_SHARES)
    if not rows:
        return NewestShare(None, _shown(evidence, "(no rows)", "dkg_shares is empty"))
    key, status, created_at, height = rows[0]

    def at(column: str) -> str:
        return pg_rows.where(_SHARES, column, 0)

    share = DkgShare(
        pg_rows.as_bytes(key, at("aggregate_key")),
        # The label reaches the screen: cleaned like any text from outside.
        pg_rows.as_text(status, at("dkg_shares_status"), 40),
        pg_rows.as_time(created_at, at("created_at")),
        pg_rows.as_int(height, at("started_at_bitcoin_block_height")),
    )
    raw = f"{share.key_hex} | {share.status} | {share.created_at.isoformat()} | {height}"
    decoded = f"newest share {_short(share.aggregate_key)} is {share.status}"
    return NewestShare(share, _shown(evidence, raw, decoded))


def read_dkg_rows(conn: Conn, *, source: str = "postgres") -> DkgRows:
    rows, evidence = run_query(conn, DKG_ROWS_QUERY, source=source, table=_SHARES)
    result: list[DkgRow] = []
    for i, (key, status, created_at, height, members, threshold) in enumerate(rows):

        def at(column: str, i: int = i) -> str:
            return pg_rows.where(_SHARES, column, i)

        share = DkgShare(
            pg_rows.as_bytes(key, at("aggregate_key")),
            pg_rows.as_text(status, at("dkg_shares_status"), 40),
            pg_rows.as_time(created_at, at("created_at")),
            pg_rows.as_int(height, at("started_at_bitcoin_block_height")),
        )
        if not isinstance(members, list):
            raise pg_rows.junk(at("signer_set_public_keys"), "an array of keys", members)
        signer_set = tuple(pg_rows.as_bytes(m, at("signer_set_public_keys")) for m in members)
        limit = pg_rows.as_int(threshold, at("signature_share_threshold"))
        result.append(DkgRow(share, signer_set, limit))
    raw = "\n".join(
        f"{r.share.key_hex} | {r.share.status} | {r.share.started_at_bitcoin_block_height} | "
        f"{len(r.signer_set)} signers | threshold {r.threshold}"
        for r in result
    )
    decoded = (
        f"{len(result)} DKG row(s); newest: {len(result[0].signer_set)} signers, "
        f"threshold {result[0].threshold}"
        if result
        else "dkg_shares is empty"
    )
    return DkgRows(tuple(result), _shown(evidence, raw or "(no rows)", decoded))


def read_dkg_round_count(conn: Conn, *, source: str = "postgres") -> DkgRoundCount:
    rows, evidence = run_query(conn, DKG_ROUNDS_QUERY, source=source, table=_SHARES)
    count = pg_rows.as_int(rows[0][0], pg_rows.where(_SHARES, "count", 0))
    return DkgRoundCount(count, _shown(evidence, str(count), f"{count} DKG round(s) not failed"))


def read_migrations(conn: Conn, *, source: str = "postgres") -> Migrations:
    rows, evidence = run_query(conn, MIGRATIONS_TABLE_QUERY, source=source)
    if not rows[0][0]:
        shown = _shown(
            replace(evidence, request=MIGRATIONS_QUERY),
            "relation public.__sbtc_migrations does not exist",
            "no migrations ledger",
        )
        return Migrations(False, (), shown)
    ledger = "public.__sbtc_migrations"
    rows, evidence = run_query(conn, MIGRATIONS_QUERY, source=source, table=ledger)
    keys = tuple(
        pg_rows.as_text(row[0], pg_rows.where(ledger, "key", i)) for i, row in enumerate(rows)
    )
    decoded = f"{len(keys)} migration(s), last {keys[-1]}" if keys else "ledger is empty"
    return Migrations(True, keys, _shown(evidence, "\n".join(keys), decoded))


def read_chain_tips(conn: Conn, *, source: str = "postgres") -> ChainTips:
    rows, evidence = run_query(conn, CHAIN_TIPS_QUERY, source=source, table="chain tips")
    tips: dict[str, ChainTip] = {}
    for i, (chain, height, created) in enumerate(rows):
        table = f"sbtc_signer.{chain}_blocks"
        tips[str(chain)] = ChainTip(
            pg_rows.as_int(height, pg_rows.where(table, "block_height", i)),
            pg_rows.as_opt_time(created, pg_rows.where(table, "created_at", i)),
        )
    empty = ChainTip(None, None)
    result = ChainTips(tips.get("bitcoin", empty), tips.get("stacks", empty), evidence)
    raw = "\n".join(
        f"{chain} {tip.height} {tip.created_at.isoformat() if tip.created_at else ''}"
        for chain, tip in (("bitcoin", result.bitcoin), ("stacks", result.stacks))
    )
    decoded = f"bitcoin {result.bitcoin.height}, stacks {result.stacks.height}"
    return replace(result, evidence=_shown(evidence, raw, decoded))


def read_table_sizes(conn: Conn, *, source: str = "postgres") -> TableSizes:
    rows, evidence = run_query(conn, TABLE_SIZES_QUERY, source=source, table="pg_class")
    database = next((int(size) for name, size in rows if name is None), 0)
    sizes = sorted(
        (
            (pg_rows.as_text(name, "pg_class.relname"), int(size))
            for name, size in rows
            if name is not None
        ),
        key=lambda item: (-item[1], item[0]),
    )
    raw = "\n".join(f"{name} {size}" for name, size in sizes) + f"\n(database) {database}"
    decoded = f"{len(sizes)} tables, database {database} bytes"
    return TableSizes(tuple(sizes), database, _shown(evidence, raw, decoded))


def read_row_counts(
    conn: Conn, tables: Sequence[str] = MAIN_TABLES, *, source: str = "postgres"
) -> RowCounts:
    """Exact count(*) per sbtc_signer table; a missing table counts as None, not 0."""
    rows, evidence = run_query(conn, TABLES_PRESENT_QUERY, [list(tables)], source=source)
    present = [str(name) for name, exists in rows if exists]
    found: dict[str, int] = {}
    if present:
        query = sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(
                sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(SCHEMA, name))
                for name in present
            )
        )
        counted, evidence = run_query(conn, query, source=source, table="row counts")
        found = dict(zip(present, (int(n) for n in counted[0]), strict=True))
    counts = tuple((name, found.get(name)) for name in tables)
    raw = "\n".join(f"{name} {'missing' if n is None else n}" for name, n in counts)
    missing = [name for name, n in counts if n is None]
    decoded = f"{len(counts) - len(missing)} tables counted" + (
        f", missing: {', '.join(missing)}" if missing else ""
    )
    return RowCounts(counts, _shown(evidence, raw, decoded))


def read_encrypted_shares(conn: Conn, *, source: str = "postgres") -> EncryptedShares:
    rows, evidence = run_query(conn, ENCRYPTED_SHARES_QUERY, source=source, table=_SHARES)
    if not rows:
        return EncryptedShares(None, None, _shown(evidence, "(no rows)", "no verified row"))
    key = pg_rows.as_bytes(rows[0][0], pg_rows.where(_SHARES, "aggregate_key", 0))
    length = rows[0][1]
    size = (
        pg_rows.as_int(length, pg_rows.where(_SHARES, "encrypted_private_shares", 0))
        if length is not None
        else 0
    )
    decoded = f"encrypted_private_shares of {_short(key)}: {size} bytes"
    return EncryptedShares(key, size, _shown(evidence, f"{key.hex()} | {size}", decoded))


def read_schema(conn: Conn, *, source: str = "postgres") -> str:
    """The server version; DatabaseNoSchema when there is no sbtc_signer schema."""
    rows, evidence = run_query(conn, SCHEMA_QUERY, source=source)
    has_schema, version = rows[0]
    if not has_schema:
        raise DatabaseNoSchema(
            detail=f"database {conn.info.dbname!r} has no sbtc_signer schema: "
            "is this the signer's database?",
            evidence=replace(evidence, error="no sbtc_signer schema"),
        )
    return str(version)


@contextlib.contextmanager
def _snapshot(conn: Conn) -> Iterator[None]:
    """One REPEATABLE READ READ ONLY transaction, so all reads see the same moment.

    Only on an idle autocommit connection; otherwise the caller owns the transaction."""
    own = conn.autocommit and conn.info.transaction_status == TransactionStatus.IDLE
    if own:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield
    finally:
        if own and conn.info.transaction_status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
        ):
            conn.execute("ROLLBACK")


# Errors that end a snapshot; any other failure only costs the part that hit it.
_FATAL = (DatabaseUnreachable, DatabaseAuthFailed, DatabaseNoSchema)


def read_signer_facts(
    conn: Conn,
    *,
    source: str = "postgres",
    tables: Sequence[str] = MAIN_TABLES,
    deadline: PollDeadline | None = None,
    role: Callable[[], RoleFacts] | None = None,
) -> SignerDbFacts:
    """Every read, on one connection, in one snapshot; with a `deadline`, every query runs
    within what is left of it (a part that finds nothing left fails with that reason)."""
    observed_at = utcnow()
    readers: dict[str, Callable[[], Any]] = {
        "verified_keys": lambda: read_verified_keys(conn, source=source),
        "newest_share": lambda: read_newest_share(conn, source=source),
        "dkg_round_count": lambda: read_dkg_round_count(conn, source=source),
        "migrations": lambda: read_migrations(conn, source=source),
        "chain_tips": lambda: read_chain_tips(conn, source=source),
        "table_sizes": lambda: read_table_sizes(conn, source=source),
        "row_counts": lambda: read_row_counts(conn, tables, source=source),
        "encrypted_shares": lambda: read_encrypted_shares(conn, source=source),
        "dkg_rows": lambda: read_dkg_rows(conn, source=source),
    }
    if role is not None:
        readers["role"] = role
    parts: dict[str, Any] = {}
    errors: list[DatabaseError] = []
    try:
        with _snapshot(conn):
            if deadline is not None:
                deadline.before_query(conn)
            version = read_schema(conn, source=source)
            for name, reader in readers.items():
                try:
                    if deadline is not None:
                        deadline.before_query(conn)
                    parts[name] = reader()
                except DatabaseError as exc:
                    if isinstance(exc, _FATAL) or conn.broken or conn.closed:
                        raise
                    parts[name] = None
                    errors.append(exc)
    except psycopg.Error as exc:  # BEGIN/ROLLBACK themselves can fail on a dying connection
        raise _database_error(
            exc,
            source=source,
            request="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            observed_at=observed_at,
            started=time.perf_counter(),
        ) from None
    if len(errors) == len(readers):
        raise errors[0]  # nothing could be read: say why instead of showing blanks
    failed = [name for name, value in parts.items() if value is None]
    return SignerDbFacts(
        server_version=version,
        observed_at=observed_at,
        problems=tuple(
            (name, f"{exc.title}: {exc.detail}") for name, exc in zip(failed, errors, strict=True)
        ),
        **parts,
    )


# -- the live session ----------------------------------------------------------------------


class SignerDatabase:
    """A read-only session factory for the signer's database. Each call opens, reads, closes."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 5432,
        dbname: str = "signer",
        user: str = "postgres",
        password: Secret | None = None,
        sslmode: str = "prefer",
        connect_timeout: float = 5.0,
        statement_timeout: float = 10.0,
        require_auth: str | None = None,
        channel_binding: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.dbname = dbname
        self.user = user
        self._password = password
        self.sslmode = sslmode
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        # A password must not go to whoever asks for it in clear text (or as MD5): unless told
        # otherwise, demand SCRAM whenever we have a password to send.
        if require_auth is None and password is not None:
            require_auth = DEFAULT_REQUIRE_AUTH
        self.require_auth = require_auth
        self.channel_binding = channel_binding

    @classmethod
    def from_profile(cls, db: Database, password: Secret | None) -> SignerDatabase:
        return cls(
            host=db.host,
            port=db.port,
            dbname=db.dbname,
            user=db.user,
            password=password,
            sslmode=db.sslmode,
            connect_timeout=db.connect_timeout,
            statement_timeout=db.statement_timeout,
            require_auth=db.require_auth,
            channel_binding=db.channel_binding,
        )

    @property
    def source(self) -> str:
        return REDACTOR(f"postgres {self.user}@{self.host}:{self.port}/{self.dbname}")

    def __repr__(self) -> str:
        return f"SignerDatabase({self.source})"

    @property
    def poll_seconds(self) -> float:
        """One deadline for a whole poll: connecting plus every query."""
        return self.connect_timeout + self.statement_timeout

    def _params(self, deadline: PollDeadline | None = None) -> dict[str, Any]:
        statement_ms = max(1, round(self.statement_timeout * 1000))
        connect_timeout = (
            deadline.connect_timeout(self.connect_timeout)
            if deadline is not None
            else max(1, math.ceil(self.connect_timeout))
        )
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "sslmode": self.sslmode,
            # libpq takes whole seconds (and treats anything below 2 as 2).
            "connect_timeout": connect_timeout,
            "application_name": APPLICATION_NAME,
            "options": (f"-c default_transaction_read_only=on -c statement_timeout={statement_ms}"),
            # Ignored on unix sockets; over TCP they notice a server that vanished mid-query.
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        if self._password is not None:
            params["password"] = self._password.reveal()
        if self.require_auth:
            params["require_auth"] = self.require_auth
        if self.channel_binding:
            params["channel_binding"] = self.channel_binding
        return params

    def connect(self, deadline: PollDeadline | None = None) -> Conn:
        """An autocommit, read-only connection; the caller closes it."""
        observed_at = utcnow()
        started = time.perf_counter()
        request = (
            f"connect host={self.host} port={self.port} dbname={self.dbname} "
            f"user={self.user} sslmode={self.sslmode}"
        )
        try:
            return psycopg.connect(autocommit=True, **self._params(deadline))
        except psycopg.Error as exc:
            raise _database_error(
                exc, source=self.source, request=request, observed_at=observed_at, started=started
            ) from None

    @contextlib.contextmanager
    def session(self, deadline: PollDeadline | None = None) -> Iterator[Conn]:
        conn = self.connect(deadline)
        try:
            yield conn
        finally:
            conn.close()

    def _read(self, reader: Callable[[Conn], T], deadline: PollDeadline | None = None) -> T:
        deadline = deadline or PollDeadline(self.poll_seconds, self.statement_timeout)
        started, observed_at = time.perf_counter(), utcnow()
        with self.session(deadline) as conn, deadline.watching(conn):
            try:
                try:
                    return reader(conn)
                except DatabaseSchemaIncomplete:
                    # PostgreSQL says "relation does not exist" also when the whole schema is
                    # missing: name the bigger problem when that is what it is.
                    read_schema(conn, source=self.source)
                    raise
            except (DatabaseError, psycopg.Error) as exc:
                if not deadline.killed:
                    raise
                # The watchdog cut the socket: say "stuck", not "connection lost".
                error = deadline.error()
                error.evidence = Evidence(
                    source=self.source,
                    request="(the poll's queries)",
                    observed_at=observed_at,
                    elapsed_ms=(time.perf_counter() - started) * 1000,
                    error=f"{error.title}: {error.detail}",
                )
                raise error from exc

    def verified_keys(self) -> VerifiedKeys:
        return self._read(lambda c: read_verified_keys(c, source=self.source))

    def newest_share(self) -> NewestShare:
        return self._read(lambda c: read_newest_share(c, source=self.source))

    def dkg_round_count(self) -> DkgRoundCount:
        return self._read(lambda c: read_dkg_round_count(c, source=self.source))

    def migrations(self) -> Migrations:
        return self._read(lambda c: read_migrations(c, source=self.source))

    def chain_tips(self) -> ChainTips:
        return self._read(lambda c: read_chain_tips(c, source=self.source))

    def table_sizes(self) -> TableSizes:
        return self._read(lambda c: read_table_sizes(c, source=self.source))

    def row_counts(self, tables: Sequence[str] = MAIN_TABLES) -> RowCounts:
        return self._read(lambda c: read_row_counts(c, tables, source=self.source))

    def encrypted_shares_ok(self) -> EncryptedShares:
        return self._read(lambda c: read_encrypted_shares(c, source=self.source))

    def snapshot(self, tables: Sequence[str] = MAIN_TABLES) -> SignerDbFacts:
        deadline = PollDeadline(self.poll_seconds, self.statement_timeout)

        def role(conn: Conn) -> RoleFacts:
            return read_role(
                conn,
                run_query,
                source=self.source,
                require_auth=self.require_auth,
                channel_binding=self.channel_binding,
            )

        return self._read(
            lambda c: read_signer_facts(
                c, source=self.source, tables=tables, deadline=deadline, role=lambda: role(c)
            ),
            deadline,
        )
