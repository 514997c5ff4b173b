"""bitcoind JSON-RPC client: chain sync, network, uptime and index state.

Both dialects are read the same way: the HTTP status alone never decides an outcome. Legacy
(1.x) errors arrive as HTTP 500/404/400 with a JSON body that carries the real RPC error, strict
2.0 errors arrive as HTTP 200, and a node older than v28 ignores `"jsonrpc":"2.0"` and answers in
the legacy shape. So the body is read whenever it is JSON, and the status only matters when it
is not (401/403 with empty bodies, 503 from a full work queue, a proxy's error page).

Credentials: a `Secret` (user + password) or bitcoind's cookie file, which is re-read on every
call because bitcoind writes a new cookie on each start. Neither ever reaches evidence or errors.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote

import httpx

from signer_tui.credentials import Secret
from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import (
    SecretUnavailable,
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceProtocolError,
    SourceWarmingUp,
)
from signer_tui.sources.http import HttpReply, HttpService

COOKIE_USER = "__cookie__"

# JSON-RPC error codes this client treats specially (bitcoin/src/rpc/protocol.h).
RPC_IN_WARMUP = -28
RPC_METHOD_NOT_FOUND = -32601

# Statuses a legacy-dialect RPC error can arrive with; the body says what happened.
_LEGACY_ERROR_STATUSES = (400, 404, 500)
_HASH = re.compile(r"^[0-9a-f]{64}$")


class BitcoindRpcError(SourceError):
    """bitcoind answered with a JSON-RPC error object."""

    title = "RPC error"

    def __init__(
        self,
        title: str | None = None,
        detail: str = "",
        evidence: Evidence | None = None,
        *,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        self.code = code
        self.status = status
        super().__init__(title, detail, evidence)


class BitcoindMethodNotFound(BitcoindRpcError):
    """-32601: the method does not exist in this build (e.g. no ZMQ, older version)."""

    title = "method not found"


@dataclass(frozen=True)
class RpcResult:
    result: Any
    evidence: Evidence


@dataclass(frozen=True)
class BlockchainInfo:
    """`getblockchaininfo`. Fields a node may omit are None (unknown), never a default."""

    chain: str
    blocks: int
    headers: int
    bestblockhash: str
    time: int | None
    mediantime: int | None
    verificationprogress: float | None
    initialblockdownload: bool | None
    pruned: bool | None
    size_on_disk: int | None
    warnings: tuple[str, ...]
    evidence: Evidence
    pruneheight: int | None = None
    bits: str | None = None  # v29+
    target: str | None = None  # v29+

    @property
    def headers_ahead(self) -> int:
        """How many known headers the node has not validated yet (> 0 while syncing)."""
        return max(0, self.headers - self.blocks)


@dataclass(frozen=True)
class NetworkInfo:
    """`getnetworkinfo`."""

    version: int
    version_tuple: tuple[int, int, int]
    subversion: str
    protocolversion: int | None
    connections: int | None
    connections_in: int | None
    connections_out: int | None
    networkactive: bool | None
    warnings: tuple[str, ...]
    evidence: Evidence

    @property
    def version_text(self) -> str:
        major, minor, patch = self.version_tuple
        return f"{major}.{minor}.{patch}"


@dataclass(frozen=True)
class BestBlockHash:
    hash: str
    evidence: Evidence


@dataclass(frozen=True)
class Uptime:
    seconds: int
    evidence: Evidence


class IndexState(NamedTuple):
    synced: bool
    best_block_height: int


@dataclass(frozen=True)
class IndexInfo:
    """`getindexinfo`: name -> state; empty when the node runs no optional index."""

    indexes: dict[str, IndexState]
    evidence: Evidence


def read_cookie(path: Path) -> tuple[str, Secret]:
    """Read `__cookie__:<hex>` from bitcoind's cookie file. The content never enters an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretUnavailable(
            f"cookie file not found: {path}",
            "bitcoind writes it on start and deletes it on clean shutdown; "
            "is bitcoind running with this datadir and network?",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SecretUnavailable(f"cookie file unreadable: {path}", reason) from None
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise SecretUnavailable(f"cookie file malformed: {path}", "expected __cookie__:<hex>")
    return user, Secret(password)


def version_tuple(version: int) -> tuple[int, int, int]:
    """`getnetworkinfo.version` is major*10000 + minor*100 + patch."""
    return version // 10000, version // 100 % 100, version % 100


class Bitcoind(HttpService):
    source = "bitcoind"

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: Secret | None = None,
        cookie_file: Path | None = None,
        timeout: float = 5.0,
        dialect: Literal["1.0", "2.0"] = "1.0",
    ) -> None:
        if cookie_file is not None and (user is not None or password is not None):
            raise ValueError("use either cookie_file or user + password, not both")
        parsed = httpx.URL(url)
        if parsed.userinfo:
            # `http://user:pass@host:8332`, as the signer's own config writes it: take the
            # credentials out so the password can never show up in a request line.
            if user is None and password is None and cookie_file is None:
                user = unquote(parsed.username)
                password = Secret(unquote(parsed.password))
            parsed = parsed.copy_with(username=None, password=None)
        super().__init__(str(parsed), timeout=timeout)
        self.dialect = dialect
        self._user = user
        self._password = password
        self._cookie_file = cookie_file
        self._ids = itertools.count(1)

    # -- typed calls ---------------------------------------------------------------------

    async def blockchain_info(self) -> BlockchainInfo:
        reply = await self.call("getblockchaininfo")
        fields = _Fields(reply.result, reply.evidence, "getblockchaininfo")
        info = BlockchainInfo(
            chain=fields.text("chain"),
            blocks=fields.integer("blocks"),
            headers=fields.integer("headers"),
            bestblockhash=fields.block_hash("bestblockhash"),
            time=fields.opt_integer("time"),
            mediantime=fields.opt_integer("mediantime"),
            verificationprogress=fields.opt_number("verificationprogress"),
            initialblockdownload=fields.opt_bool("initialblockdownload"),
            pruned=fields.opt_bool("pruned"),
            size_on_disk=fields.opt_integer("size_on_disk"),
            warnings=fields.warnings(),
            evidence=reply.evidence,
            pruneheight=fields.opt_integer("pruneheight"),
            bits=fields.opt_text("bits"),
            target=fields.opt_text("target"),
        )
        decoded = (
            f"chain={info.chain} blocks={info.blocks} headers={info.headers} "
            f"ibd={info.initialblockdownload} progress={info.verificationprogress}"
        )
        return replace(info, evidence=info.evidence.with_decoded(decoded))

    async def network_info(self) -> NetworkInfo:
        reply = await self.call("getnetworkinfo")
        fields = _Fields(reply.result, reply.evidence, "getnetworkinfo")
        version = fields.integer("version")
        subversion = clean_text(fields.text("subversion"), 200)
        info = NetworkInfo(
            version=version,
            version_tuple=version_tuple(version),
            subversion=subversion,
            protocolversion=fields.opt_integer("protocolversion"),
            connections=fields.opt_integer("connections"),
            connections_in=fields.opt_integer("connections_in"),
            connections_out=fields.opt_integer("connections_out"),
            networkactive=fields.opt_bool("networkactive"),
            warnings=fields.warnings(),
            evidence=reply.evidence,
        )
        decoded = f"version={info.version_text} {subversion} connections={info.connections}"
        return replace(info, evidence=info.evidence.with_decoded(decoded))

    async def best_block_hash(self) -> BestBlockHash:
        reply = await self.call("getbestblockhash")
        value = _Fields({"hash": reply.result}, reply.evidence, "getbestblockhash").block_hash(
            "hash"
        )
        return BestBlockHash(value, reply.evidence.with_decoded(value))

    async def uptime(self) -> Uptime:
        reply = await self.call("uptime")
        seconds = _Fields({"uptime": reply.result}, reply.evidence, "uptime").integer("uptime")
        if seconds < 0:
            raise SourceProtocolError("bad uptime", f"negative: {seconds}", reply.evidence)
        return Uptime(seconds, reply.evidence.with_decoded(f"{seconds} s"))

    async def index_info(self) -> IndexInfo:
        reply = await self.call("getindexinfo")
        if not isinstance(reply.result, dict):
            raise SourceProtocolError("bad getindexinfo", "result is not an object", reply.evidence)
        indexes: dict[str, IndexState] = {}
        for name, value in reply.result.items():
            fields = _Fields(value, reply.evidence, f"getindexinfo[{clean_text(name, 40)}]")
            indexes[clean_text(name, 80)] = IndexState(
                fields.boolean("synced"), fields.integer("best_block_height")
            )
        decoded = ", ".join(
            f"{name}: {'synced' if s.synced else 'syncing'} @ {s.best_block_height}"
            for name, s in indexes.items()
        )
        return IndexInfo(indexes, reply.evidence.with_decoded(decoded or "no indexes"))

    # -- the envelope --------------------------------------------------------------------

    async def call(self, method: str, *params: Any) -> RpcResult:
        """One JSON-RPC call; the raw `result` plus evidence, or a typed error."""
        request_id = next(self._ids)
        payload = {
            "jsonrpc": self.dialect,
            "id": request_id,
            "method": method,
            "params": list(params),
        }
        headers = {"content-type": "application/json"}
        authorization = self._authorization()
        if authorization is not None:
            headers["authorization"] = authorization
        try:
            reply = await self.request(
                "POST", "/", content=json.dumps(payload).encode(), headers=headers
            )
        except SourceError as exc:
            if exc.evidence is not None:
                exc.evidence = _labelled(exc.evidence, method)
            raise
        return self._decode(reply, _labelled(reply.evidence, method), method, request_id)

    def _authorization(self) -> str | None:
        if self._cookie_file is not None:
            # Re-read every time: bitcoind writes a new cookie on each start.
            user, password = read_cookie(self._cookie_file)
        elif self._user is not None:
            user, password = self._user, self._password or Secret("")
        else:
            return None
        token = base64.b64encode(f"{user}:{password.reveal()}".encode()).decode("ascii")
        return f"Basic {token}"

    def _decode(
        self, reply: HttpReply, evidence: Evidence, method: str, request_id: int
    ) -> RpcResult:
        status = reply.status
        if status == 401:
            hint = (
                f"cookie from {self._cookie_file} was rejected (stale cookie?)"
                if self._cookie_file is not None
                else "check rpcuser/rpcpassword"
                if self._user is not None
                else "no credentials configured"
            )
            raise SourceAuthError("authentication failed", hint, evidence, status)
        if status == 403:
            raise SourceAuthError(
                "forbidden (rpcwhitelist/rpcallowip)",
                f"this user or address may not call {method}",
                evidence,
                status,
            )
        if status == 503:
            raise SourceHTTPError(
                "work queue full", clean_text(reply.text.strip(), 200), evidence, status
            )
        if status != 200 and status not in _LEGACY_ERROR_STATUSES:
            raise SourceHTTPError(
                f"HTTP {status}", clean_text(reply.text.strip(), 200), evidence, status
            )
        if status != 200 and reply.content_type != "application/json":
            # A 500 page from a proxy, not bitcoind's JSON error.
            raise SourceHTTPError(
                f"HTTP {status}", clean_text(reply.text.strip(), 200), evidence, status
            )
        try:
            body = reply.json()
        except SourceError as exc:
            exc.evidence = evidence
            raise
        if not isinstance(body, dict):
            raise SourceProtocolError("not a JSON-RPC reply", "expected an object", evidence)
        error = body.get("error")
        if error is not None:
            raise _rpc_error(error, evidence, status, method)
        if status != 200:
            raise SourceHTTPError(
                f"HTTP {status}", "JSON-RPC reply without an error", evidence, status
            )
        if "result" not in body:
            raise SourceProtocolError("not a JSON-RPC reply", "no result or error", evidence)
        if body.get("id") != request_id:
            raise SourceProtocolError(
                "reply id mismatch", f"sent {request_id}, got {body.get('id')!r}", evidence
            )
        return RpcResult(body["result"], evidence)


def _labelled(evidence: Evidence, method: str) -> Evidence:
    """Name the RPC method in the request line: every call is `POST /`."""
    return replace(evidence, request=f"{evidence.request} {method}")


def _rpc_error(error: Any, evidence: Evidence, status: int, method: str) -> SourceError:
    if not isinstance(error, dict):
        return SourceProtocolError("malformed RPC error", "error is not an object", evidence)
    code = error.get("code")
    raw_message = error.get("message")
    message = clean_text(raw_message if isinstance(raw_message, str) else "", 300)
    if not isinstance(code, int) or isinstance(code, bool):
        return SourceProtocolError("malformed RPC error", f"code {code!r}", evidence)
    if code == RPC_IN_WARMUP:
        # The message is the useful part: "Loading block index…", "Verifying blocks…".
        return SourceWarmingUp(f"warming up: {message[:80]}" if message else None, "", evidence)
    if code == RPC_METHOD_NOT_FOUND:
        return BitcoindMethodNotFound(
            f"method not found: {method}", message, evidence, code=code, status=status
        )
    return BitcoindRpcError(
        f"RPC error {code}: {message[:80]}" if message else f"RPC error {code}",
        message,
        evidence,
        code=code,
        status=status,
    )


class _Fields:
    """Typed access to one result object; a wrong shape is a protocol error naming the field."""

    def __init__(self, obj: Any, evidence: Evidence, what: str) -> None:
        if not isinstance(obj, Mapping):
            raise SourceProtocolError(f"bad {what}", "result is not an object", evidence)
        self.obj = obj
        self.evidence = evidence
        self.what = what

    def _bad(self, key: str, expected: str) -> SourceProtocolError:
        got = type(self.obj.get(key)).__name__ if key in self.obj else "nothing"
        return SourceProtocolError(
            f"bad {self.what}", f"{key}: expected {expected}, got {got}", self.evidence
        )

    def opt_integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**64:
            raise self._bad(key, "an integer")
        return value

    def integer(self, key: str) -> int:
        value = self.opt_integer(key)
        if value is None:
            raise self._bad(key, "an integer")
        return value

    def opt_number(self, key: str) -> float | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._bad(key, "a number")
        return float(value)

    def opt_bool(self, key: str) -> bool | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._bad(key, "true/false")
        return value

    def boolean(self, key: str) -> bool:
        value = self.opt_bool(key)
        if value is None:
            raise self._bad(key, "true/false")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return clean_text(value, 200)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise self._bad(key, "a string")
        return value

    def block_hash(self, key: str) -> str:
        value = self.text(key).lower()
        if not _HASH.match(value):
            raise self._bad(key, "a 64-hex block hash")
        return value

    def warnings(self) -> tuple[str, ...]:
        """`warnings` is a string up to v27 ("" when none) and an array from v28."""
        value = self.obj.get("warnings")
        if value is None:
            return ()
        if isinstance(value, str):
            return (clean_text(value, 500),) if value.strip() else ()
        if isinstance(value, list) and all(isinstance(w, str) for w in value):
            return tuple(clean_text(w, 500) for w in value if w.strip())
        raise self._bad("warnings", "a string or an array of strings")
