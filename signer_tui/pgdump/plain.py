"""Plain SQL dumps (optionally gzip'ed): banner, trailer, roles named, streaming reads."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

from signer_tui.model import clean_text
from signer_tui.pgdump.archive import _read_at
from signer_tui.pgdump.types import (
    _CONNECT,
    _DUMPED_BY,
    _DUMPED_FROM,
    GZIP_MAGIC,
    HEAD_BYTES,
    PLAIN_TRAILER,
    TAIL_BYTES,
    DumpFormat,
    DumpInfo,
)

# -- plain dumps ---------------------------------------------------------------------------------

_ROLE_NAME = rb'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_OWNER_TO = re.compile(rb"OWNER TO " + _ROLE_NAME + rb";$", re.M)
_GRANT_TO = re.compile(
    rb"^(?:GRANT|REVOKE) .*? (?:TO|FROM) ((?:" + _ROLE_NAME + rb"(?:, )?)+)"
    rb"(?: WITH (?:GRANT|ADMIN) OPTION)?(?: GRANTED BY .*)?;$",
    re.M,
)
_SESSION_AUTH = re.compile(rb"^SET SESSION AUTHORIZATION '((?:[^']|'')+)';$", re.M)
_NOT_ROLES = {"public", "current_user", "session_user", "current_role"}


@dataclass
class PlainScan:
    head: bytes
    tail: bytes
    size: int  # bytes of SQL text (decompressed)
    roles: set[str] = field(default_factory=set)
    gzip_error: str | None = None


def _shown(raw: bytes) -> str:
    return clean_text(raw.decode("utf-8", errors="replace"), 100)


def _unquote(name: bytes) -> str:
    text = name.decode("utf-8", errors="replace")
    if text.startswith('"') and text.endswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def _roles_in(text: bytes, roles: set[str]) -> None:
    for match in _OWNER_TO.finditer(text):
        roles.add(_unquote(match.group(1)))
    for match in _GRANT_TO.finditer(text):
        for name in re.findall(_ROLE_NAME, match.group(1)):
            roles.add(_unquote(name))
    for match in _SESSION_AUTH.finditer(text):
        roles.add(match.group(1).decode("utf-8", errors="replace").replace("''", "'"))


def iter_plain(path: Path, gzipped: bool, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The SQL text of a plain dump, in chunks."""
    with path.open("rb") as raw:
        if gzipped:
            yield from iter_gzip(raw, chunk)
        else:
            while data := raw.read(chunk):
                yield data


def iter_gzip(raw: BinaryIO, chunk: int) -> Iterator[bytes]:
    """Decompress a gzip stream member after member (pigz, concatenated files); zlib checks
    each member's CRC and length. Zero padding after the last member is ignored, as gzip does."""
    decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    pending = False
    padding = False
    while data := raw.read(chunk):
        while data:
            if padding or (not pending and not data.lstrip(b"\0")):
                if data.strip(b"\0"):
                    raise zlib.error("trailing garbage after the gzip data")
                padding = True
                break
            if not pending and not data.startswith(GZIP_MAGIC[: len(data)]):
                raise zlib.error("trailing garbage after the gzip data")
            pending = True
            out = decomp.decompress(data)
            if out:
                yield out
            if decomp.eof:
                pending = False
                data = decomp.unused_data
                decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = b""
    if pending:
        raise zlib.error("the gzip stream ends early (truncated)")


def scan_plain(path: Path, gzipped: bool, *, roles: bool = False, full: bool = True) -> PlainScan:
    """Head and tail of a plain dump's SQL (and the roles it names), in one streaming pass.

    Uncompressed files are not read in full unless `roles` is wanted: the tail is a seek away.
    """
    if not gzipped and not roles:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(HEAD_BYTES)
            tail = _read_at(f, max(0, size - TAIL_BYTES), TAIL_BYTES)
        return PlainScan(head, tail, size)
    head = b""
    tail = b""
    total = 0
    found: set[str] = set()
    carry = b""
    error: str | None = None
    try:
        for data in iter_plain(path, gzipped):
            total += len(data)
            if len(head) < HEAD_BYTES:
                head += data[: HEAD_BYTES - len(head)]
            tail = (tail + data)[-TAIL_BYTES:]
            if roles:
                text = carry + data
                cut = text.rfind(b"\n") + 1
                _roles_in(text[:cut], found)
                carry = text[cut:][-65536:]
            if not full and total >= HEAD_BYTES:
                break
    except (zlib.error, EOFError, OSError) as exc:
        error = str(exc) or type(exc).__name__
    if roles and carry:
        _roles_in(carry, found)
    found -= {r for r in found if r.lower() in _NOT_ROLES}
    return PlainScan(head, tail, total, found, error)


def _plain_info(base: DumpInfo, scan: PlainScan, gzipped: bool, full: bool) -> DumpInfo:
    head = scan.head
    fmt = DumpFormat.PLAIN_GZIP if gzipped else DumpFormat.PLAIN
    dumped_by = _DUMPED_BY.search(head)
    dumped_from = _DUMPED_FROM.search(head)
    connect = _CONNECT.search(head)
    problems: list[str] = []
    if scan.gzip_error:
        problems.append(f"corrupt gzip data: {scan.gzip_error}")
    complete: bool | None = None
    if full or not gzipped:
        complete = PLAIN_TRAILER in scan.tail
        if not complete and not scan.gzip_error:
            problems.append(
                "truncated: no '-- PostgreSQL database dump complete' trailer "
                "(pg_dump did not finish, or the file was cut short)"
            )
    intact: bool | None = not problems if (full or not gzipped) else None
    if scan.gzip_error:
        intact = False
    return replace(
        base,
        format=fmt,
        pg_dump_version=_shown(dumped_by.group(1)) if dumped_by else None,
        server_version=_shown(dumped_from.group(1)) if dumped_from else None,
        compression="gzip" if gzipped else "none",
        intact=intact,
        problems=tuple(problems),
        connect_db=_unquote(connect.group(1)) if connect else None,
        uses_restrict=b"\n\\restrict " in head,
    )
