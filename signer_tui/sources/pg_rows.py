"""Typed cells from the signer's database: a junk row says which table, column and row.

The schema is the signer's, but the database is only as trustworthy as whoever can write to
it: a column changed to another type, bytes that are not UTF-8 in a SQL_ASCII database, or a
NULL where the signer never writes one must not surface as "unexpected TypeError". Every
text cell is cleaned (sanitize.clean_line) before it leaves this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import pq

from signer_tui.model import Evidence
from signer_tui.sanitize import clean_line
from signer_tui.sources.errors import DatabaseError


class JunkData(DatabaseError):
    """A row the signer would never have written: the wrong type, NULL, or undecodable."""

    title = "unexpected data"


def where(table: str, column: str, row: int) -> str:
    return f"{table}.{column}, row {row + 1}"


def _got(value: Any) -> str:
    if value is None:
        return "NULL"
    return type(value).__name__


def junk(place: str, expected: str, value: Any, evidence: Evidence | None = None) -> JunkData:
    return JunkData(detail=f"{place}: expected {expected}, got {_got(value)}", evidence=evidence)


def as_bytes(value: Any, place: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise junk(place, "bytea", value)


def as_int(value: Any, place: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise junk(place, "an integer", value)


def as_text(value: Any, place: str, limit: int = 200) -> str:
    if isinstance(value, str):
        return clean_line(value, limit)
    raise junk(place, "text", value)


def as_opt_text(value: Any, place: str, limit: int = 200) -> str | None:
    return None if value is None else as_text(value, place, limit)


def as_time(value: Any, place: str) -> datetime:
    if isinstance(value, datetime):
        # The signer writes timestamptz; a naive value (timestamp without zone) is UTC there.
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    raise junk(place, "a timestamp", value)


def as_opt_time(value: Any, place: str) -> datetime | None:
    return None if value is None else as_time(value, place)


def as_bool(value: Any, place: str) -> bool:
    if isinstance(value, bool):
        return value
    raise junk(place, "a boolean", value)


def fetch_all(cursor: psycopg.Cursor[Any], table: str) -> list[tuple[Any, ...]]:
    """`cursor.fetchall()`, but a cell that cannot be loaded (bytes that are not UTF-8, a
    value the type's loader refuses) is a JunkData naming the table, column and row."""
    try:
        return cursor.fetchall()
    except psycopg.Error:
        raise
    except (UnicodeDecodeError, ValueError, TypeError, OverflowError) as exc:
        raise _locate(cursor, table, exc) from None


def _locate(cursor: psycopg.Cursor[Any], table: str, exc: Exception) -> JunkData:
    result = cursor.pgresult
    names = [d.name for d in cursor.description or ()]
    reason = f"{type(exc).__name__}"
    if result is None:
        return JunkData(detail=f"{table}: a value could not be read ({reason})")
    loader_of = psycopg.adapt.Transformer(cursor.connection)
    for row in range(result.ntuples):
        for col in range(result.nfields):
            raw = result.get_value(row, col)
            if raw is None:
                continue
            loader = loader_of.get_loader(result.ftype(col), pq.Format(result.fformat(col)))
            try:
                loader.load(raw)
            except Exception as cell_exc:
                column = names[col] if col < len(names) else f"#{col + 1}"
                return JunkData(
                    detail=f"{where(table, column, row)}: value cannot be read "
                    f"({type(cell_exc).__name__}; not UTF-8 or not the expected type?)"
                )
    return JunkData(detail=f"{table}: a value could not be read ({reason})")
