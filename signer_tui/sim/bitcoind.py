"""A loopback bitcoind JSON-RPC server answering from the shared `SimState`.

Faithful to wire-formats §3: Basic auth (rpcuser/rpcpassword or the cookie), 401 with an empty
body after a short pause, 405 for non-POST, both JSON-RPC dialects with their different HTTP
statuses, batches, notifications, `-28` during warm-up, and version-dependent result shapes
(`warnings` string up to v27 and array from v28, `bits`/`target` from v29).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from signer_tui.sim.server import SimApp, SimRequest, SimResponse
from signer_tui.sim.state import SimState

COOKIE_USER = "__cookie__"
# bitcoind sleeps 250 ms before every 401 to slow down password guessing.
AUTH_FAIL_DELAY = 0.25
WWW_AUTHENTICATE = ("WWW-Authenticate", 'Basic realm="jsonrpc"')
# libevent labels a reply that has a body but no Content-Type this way.
LIBEVENT_DEFAULT_TYPE = "text/html; charset=ISO-8859-1"

RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_INTERNAL_ERROR = -32603
RPC_PARSE_ERROR = -32700
RPC_INVALID_PARAMETER = -8
RPC_TYPE_ERROR = -3
RPC_IN_WARMUP = -28

WARMUP_MESSAGE = "Loading block index…"
CHAIN_NAMES = {"mainnet": "main", "testnet": "test", "regtest": "regtest"}


def new_cookie() -> str:
    """The secret part of a cookie: 32 random bytes as 64 hex characters."""
    return secrets.token_hex(32)


def write_cookie_file(path: Path, cookie: str) -> Path:
    """Write `__cookie__:<hex>` as bitcoind does: no trailing newline, via a .tmp then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{COOKIE_USER}:{cookie}")
    tmp.replace(path)
    return path


def rotate_cookie(state: SimState, path: Path) -> str:
    """What a bitcoind restart does to cookie auth: a new secret, written to the file."""
    cookie = new_cookie()
    with state.lock:
        state.bitcoind_cookie = cookie
    write_cookie_file(path, cookie)
    return cookie


class RpcFailure(Exception):
    """A JSON-RPC error raised while executing one request."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Call:
    """One parsed request object (JSONRPCRequest::parse)."""

    def __init__(self, obj: Any, modern: bool) -> None:
        if not isinstance(obj, dict):
            raise RpcFailure(RPC_INVALID_REQUEST, "Invalid Request object")
        # The id is read first so that later errors can carry it.
        self.has_id = "id" in obj
        self.id = obj.get("id")
        self.v2 = False
        version = obj.get("jsonrpc")
        # Before v28 the field was ignored: every request was legacy.
        if modern and version is not None:
            if not isinstance(version, str):
                raise RpcFailure(RPC_INVALID_REQUEST, "jsonrpc field must be a string")
            if version == "2.0":
                self.v2 = True
            elif version != "1.0":
                raise RpcFailure(RPC_INVALID_REQUEST, "JSON-RPC version not supported")
        method = obj.get("method")
        if method is None:
            raise RpcFailure(RPC_INVALID_REQUEST, "Missing method")
        if not isinstance(method, str):
            raise RpcFailure(RPC_INVALID_REQUEST, "Method must be a string")
        self.method = method
        params = obj.get("params")
        if params is None:
            params = []
        if not isinstance(params, list | dict):
            raise RpcFailure(RPC_INVALID_REQUEST, "Params must be an array or object")
        self.params = params

    @property
    def notification(self) -> bool:
        return self.v2 and not self.has_id


class BitcoindSim(SimApp):
    """`warning` is the node's warning text (e.g. a pre-release build's); `txindex=False`
    runs no optional index, so `getindexinfo` answers `{}`."""

    service = "bitcoind"

    def __init__(self, state: SimState, *, warning: str = "", txindex: bool = True) -> None:
        super().__init__(state)
        self.warning = warning
        self.txindex = txindex

    def handle(self, request: SimRequest) -> SimResponse:
        state = self.state
        if state.bitcoind_work_queue_full:
            # Checked by the HTTP server before any handler, so even before authentication.
            return SimResponse(503, b"Work queue depth exceeded", LIBEVENT_DEFAULT_TYPE, [])
        if request.method != "POST":
            return SimResponse(
                405, b"JSONRPC server handles only POST requests", LIBEVENT_DEFAULT_TYPE, []
            )
        if not self._authorized(request):
            time.sleep(AUTH_FAIL_DELAY)
            return SimResponse(401, b"", None, [WWW_AUTHENTICATE])
        try:
            body = json.loads(request.body)
        except ValueError:
            return _legacy_error(RPC_PARSE_ERROR, "Parse error", None, False)
        if isinstance(body, dict):
            return self._single(body)
        if isinstance(body, list):
            return self._batch(body)
        return _legacy_error(RPC_PARSE_ERROR, "Top-level object parse error", None, False)

    def server_error(self, request: SimRequest) -> SimResponse:
        return _legacy_error(RPC_INTERNAL_ERROR, "Internal error", None, False)

    # -- envelope ------------------------------------------------------------------------

    def _authorized(self, request: SimRequest) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        with self.state.lock:
            accepted = [(self.state.bitcoind_user, self.state.bitcoind_password)]
            if self.state.bitcoind_cookie is not None:
                accepted.append((COOKIE_USER, self.state.bitcoind_cookie))
        return any(
            secrets.compare_digest(user, u) and secrets.compare_digest(password, p)
            for u, p in accepted
        )

    def _allowed(self, method: str) -> bool:
        whitelist = self.state.bitcoind_rpc_whitelist
        return whitelist is None or method in whitelist

    def _single(self, obj: dict[str, Any]) -> SimResponse:
        try:
            call = _Call(obj, self._modern)
        except RpcFailure as failure:
            return _legacy_error(failure.code, failure.message, obj.get("id"), "id" in obj)
        if not self._allowed(call.method):
            return SimResponse(403, b"", None, [])
        try:
            result = self._execute(call)
        except RpcFailure as failure:
            if not call.v2:
                return _legacy_error(failure.code, failure.message, call.id, call.has_id)
            # 2.0: errors are an ordinary reply with HTTP 200.
            reply = _reply(None, _error_obj(failure), call)
        else:
            reply = _reply(result, None, call)
        if call.notification:
            return SimResponse(204, b"", None, [])
        return _json(200, reply)

    def _batch(self, items: list[Any]) -> SimResponse:
        calls: list[_Call | RpcFailure] = []
        for item in items:
            try:
                calls.append(_Call(item, self._modern))
            except RpcFailure as failure:
                calls.append(failure)
        if any(isinstance(c, _Call) and not self._allowed(c.method) for c in calls):
            return SimResponse(403, b"", None, [])
        replies: list[dict[str, Any]] = []
        for item, call in zip(items, calls, strict=True):
            if isinstance(call, RpcFailure):
                has_id = isinstance(item, dict) and "id" in item
                ident = item.get("id") if isinstance(item, dict) else None
                replies.append(_legacy_obj(None, _error_obj(call), ident, has_id))
                continue
            try:
                reply = _reply(self._execute(call), None, call)
            except RpcFailure as failure:
                reply = _reply(None, _error_obj(failure), call)
            if not call.notification:
                replies.append(reply)
        if not replies and items:
            return SimResponse(204, b"", None, [])
        return _json(200, replies)

    @property
    def _modern(self) -> bool:
        """Strict JSON-RPC 2.0 exists since v28.0."""
        return self.state.bitcoind_version >= 280_000

    # -- methods -------------------------------------------------------------------------

    def _execute(self, call: _Call) -> Any:
        # CRPCTable::execute checks warm-up first: even unknown methods get -28.
        if self.state.bitcoind_warming_up:
            raise RpcFailure(RPC_IN_WARMUP, WARMUP_MESSAGE)
        handler = _METHODS.get(call.method)
        if handler is None:
            raise RpcFailure(RPC_METHOD_NOT_FOUND, "Method not found")
        with self.state.lock:
            return handler(self, call.params)

    def getblockchaininfo(self, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        s = self.state
        blocks = s.bitcoin_height
        headers = s.bitcoin_headers
        syncing = s.bitcoind_ibd or headers > blocks
        tip_time = s.bitcoin_block_time(blocks)
        info: dict[str, Any] = {
            "chain": CHAIN_NAMES.get(s.network, s.network),
            "blocks": blocks,
            "headers": headers,
            "bestblockhash": s.bitcoin_hash(blocks),
        }
        if s.bitcoind_version >= 290_000:
            info["bits"] = "17023a04"
            info["target"] = "00000000000000000002" + "3a04" + "0" * 40
        info.update(
            {
                "difficulty": 126_411_437_451_912.2,
                "time": tip_time,
                "mediantime": tip_time - 3_000,
                "verificationprogress": round(blocks / headers * 0.98, 6)
                if syncing and headers
                else 0.9999991,
                "initialblockdownload": s.bitcoind_ibd,
                "chainwork": "0000000000000000000000000000000000000000" + f"{blocks:024x}",
                "size_on_disk": 2_100_000_000 if s.bitcoind_pruned else 760_000_000_000,
                "pruned": s.bitcoind_pruned,
            }
        )
        if s.bitcoind_pruned:
            info["pruneheight"] = blocks - 1_500
            info["automatic_pruning"] = True
            info["prune_target_size"] = 2_000 * 1024 * 1024
        info["warnings"] = self._warnings()
        return info

    def getnetworkinfo(self, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        s = self.state
        version = s.bitcoind_version
        major, minor, patch = version // 10000, version // 100 % 100, version % 100
        # 29.1 and 30.0 lowered the default relay and incremental fees to 0.1 sat/vB.
        fee = 0.000001 if version >= 290_100 else 0.00001
        return {
            "version": version,
            "subversion": f"/Satoshi:{major}.{minor}.{patch}/",
            "protocolversion": 70016,
            "localservices": "0000000000000c09",
            "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED", "P2P_V2"],
            "localrelay": True,
            "timeoffset": 0,
            "networkactive": True,
            "connections": 10,
            "connections_in": 0,
            "connections_out": 10,
            "networks": [
                {
                    "name": "ipv4",
                    "limited": False,
                    "reachable": True,
                    "proxy": "",
                    "proxy_randomize_credentials": False,
                }
            ],
            "relayfee": fee,
            "incrementalfee": fee,
            "localaddresses": [],
            "warnings": self._warnings(),
        }

    def getbestblockhash(self, params: list[Any] | dict[str, Any]) -> str:
        return self.state.bitcoin_hash(self.state.bitcoin_height)

    def getblockcount(self, params: list[Any] | dict[str, Any]) -> int:
        return self.state.bitcoin_height

    def getblockhash(self, params: list[Any] | dict[str, Any]) -> str:
        height = params[0] if isinstance(params, list) and params else None
        if isinstance(params, dict):
            height = params.get("height")
        if not isinstance(height, int) or isinstance(height, bool):
            raise RpcFailure(RPC_TYPE_ERROR, "JSON value is not an integer as expected")
        if not 0 <= height <= self.state.bitcoin_height:
            raise RpcFailure(RPC_INVALID_PARAMETER, "Block height out of range")
        return self.state.bitcoin_hash(height)

    def uptime(self, params: list[Any] | dict[str, Any]) -> int:
        return max(0, int(self.state.clock() - self.state.started))

    def getindexinfo(self, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        height = self.state.bitcoin_height
        indexes = {"txindex": {"synced": True, "best_block_height": height}} if self.txindex else {}
        wanted = params[0] if isinstance(params, list) and params else None
        if isinstance(params, dict):
            wanted = params.get("index_name")
        if wanted is not None:
            return {k: v for k, v in indexes.items() if k == wanted}
        return indexes

    def getzmqnotifications(self, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"type": "pubhashblock", "address": "tcp://*:28332", "hwm": 1000},
            {"type": "pubrawblock", "address": "tcp://*:28332", "hwm": 1000},
        ]

    def getmempoolinfo(self, params: list[Any] | dict[str, Any]) -> dict[str, Any]:
        fee = 0.000001 if self.state.bitcoind_version >= 290_100 else 0.00001
        info: dict[str, Any] = {
            "loaded": True,
            "size": 3120,
            "bytes": 1_650_000,
            "usage": 8_500_000,
            "total_fee": 0.0421,
            "maxmempool": 300_000_000,
            "mempoolminfee": fee,
            "minrelaytxfee": fee,
            "incrementalrelayfee": fee,
            "unbroadcastcount": 0,
            "fullrbf": True,
        }
        if self.state.bitcoind_version >= 300_000:
            info["permitbaremultisig"] = False
            info["maxdatacarriersize"] = 100_000
        return info

    def _warnings(self) -> str | list[str]:
        # v28 turned `warnings` from a string into an array of strings.
        if self.state.bitcoind_version < 280_000:
            return self.warning
        return [self.warning] if self.warning else []


_METHODS = {
    name: getattr(BitcoindSim, name)
    for name in (
        "getblockchaininfo",
        "getnetworkinfo",
        "getbestblockhash",
        "getblockcount",
        "getblockhash",
        "uptime",
        "getindexinfo",
        "getzmqnotifications",
        "getmempoolinfo",
    )
}


def _error_obj(failure: RpcFailure) -> dict[str, Any]:
    return {"code": failure.code, "message": failure.message}


def _legacy_obj(result: Any, error: Any, ident: Any, has_id: bool) -> dict[str, Any]:
    reply: dict[str, Any] = {"result": result, "error": error}
    if has_id:
        reply["id"] = ident
    return reply


def _reply(result: Any, error: dict[str, Any] | None, call: _Call) -> dict[str, Any]:
    """JSONRPCReplyObj: legacy carries both keys; 2.0 only the one that applies."""
    if not call.v2:
        return _legacy_obj(result, error, call.id, call.has_id)
    reply: dict[str, Any] = {"jsonrpc": "2.0"}
    if error is None:
        reply["result"] = result
    else:
        reply["error"] = error
    if call.has_id:
        reply["id"] = call.id
    return reply


def _legacy_error(code: int, message: str, ident: Any, has_id: bool) -> SimResponse:
    """JSONErrorReply: the legacy shape, with the HTTP status derived from the code."""
    status = {RPC_INVALID_REQUEST: 400, RPC_METHOD_NOT_FOUND: 404}.get(code, 500)
    error = {"code": code, "message": message}
    return _json(status, _legacy_obj(None, error, ident, has_id))


def _json(status: int, value: Any) -> SimResponse:
    # UniValue writes compact JSON; bitcoind appends a newline.
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    return SimResponse(status, body, "application/json", [])
