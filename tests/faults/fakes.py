"""Fake servers for the fault matrix, written from the wire formats, not from signer_tui.sim.

Each `FakeService` is a raw-socket HTTP/1.1 server on loopback: a healthy answer per route,
or one fault applied to every request. The healthy answers are deliberately minimal (only
what a real service sends and the clients read), so the baseline cell shows what "OK with
data" looks like and every fault cell can be compared with it.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The payload a hostile server puts in every text field: clear screen, an OSC 52 clipboard
# write, SGR, a bidi override, a line separator, a C1 CSI and a bare BEL.
ESCAPES = "\x1b[2J\x1b]52;c;cHduZWQ=\x07\x1b[31m\u202egnp.exe\u2028\u2029\x9b1m\x07\u2066x\u2069"
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029]"
)

AGGREGATE_KEY = "02" + "ab" * 32
DEPLOYER = "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4"
SIGNER_TAG = "v1.3.4"
STACKS_VERSION = "3.2.0.0.1"
BITCOIN_VERSION = "29.0.0"


# Clarity wire encoding (SIP-005), by hand: type byte, big-endian lengths.
def _buff(data: bytes) -> bytes:
    return b"\x02" + len(data).to_bytes(4, "big") + data


def _clarity_tuple(fields: dict[str, bytes]) -> bytes:
    body = b"".join(bytes([len(k)]) + k.encode() + v for k, v in sorted(fields.items()))
    return b"\x0c" + len(fields).to_bytes(4, "big") + body


SIGNER_SET = [bytes.fromhex("02" + f"{i:02x}" * 32) for i in range(14)]
SIGNER_DATA = _clarity_tuple(
    {
        "current-aggregate-pubkey": _buff(bytes.fromhex(AGGREGATE_KEY)),
        "current-signer-set": b"\x0b"
        + len(SIGNER_SET).to_bytes(4, "big")
        + b"".join(_buff(k) for k in SIGNER_SET),
        "current-signature-threshold": b"\x01" + (10).to_bytes(16, "big"),
        "current-signer-principal": b"\x05" + bytes([20]) + bytes(range(20)),
    }
)

GITHUB_EMPTY: dict[str, Any] = {
    "empty_list": [],
    "nulls": [None, None, None],
    "junk_tags": [
        {"tag_name": "nightly-2026-11-30", "draft": False, "prerelease": False},
        {"tag_name": "latest", "draft": False, "prerelease": False},
        {"tag_name": 42, "draft": False},
    ],
}

MODES = (
    "refused",
    "hang",
    "html500",
    "malformed",
    "shapes",
    "content_type",
    "drip",
    "huge",
    "empty",
    "numbers",
)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def of(cls, data: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(data, allow_nan=True).encode())


Route = Callable[[Request], Reply]


# -- healthy answers, one function per service ------------------------------------------------


def stacks_node(req: Request, text: str = "") -> Reply:
    if req.path.startswith("/v2/info"):
        return Reply.of(
            {
                "peer_version": 402653196,
                "pox_consensus": "aa" * 20,
                "burn_block_height": 900_000,
                "stable_pox_consensus": "bb" * 20,
                "stable_burn_block_height": 899_994,
                "server_version": f"stacks-node {STACKS_VERSION} (release/{STACKS_VERSION}:"
                f"1234567, release build, linux [x86_64]){text}",
                "network_id": 1,
                "parent_network_id": 3652501241,
                "stacks_tip_height": 2_500_000,
                "stacks_tip": "cc" * 32,
                "stacks_tip_consensus_hash": "dd" * 20,
                "unanchored_tip": None,
                "exit_at_block_height": None,
                "is_fully_synced": True,
                "tenure_height": 180_000,
            }
        )
    if req.path.startswith("/v3/health"):
        return Reply.of(
            {
                "difference_from_max_peer": 0,
                "node_stacks_tip_height": 2_500_000,
                "max_stacks_height_of_neighbors": 2_500_000,
                "max_stacks_neighbor_address": f"10.0.0.9:20444{text}",
            }
        )
    if "/v2/contracts/call-read/" in req.path and "aggregate" in req.path:
        return Reply.of({"okay": True, "result": "0x0200000021" + AGGREGATE_KEY})
    if "/v2/contracts/call-read/" in req.path and "signer-data" in req.path:
        return Reply.of({"okay": True, "result": "0x" + SIGNER_DATA.hex()})
    if "/v2/contracts/call-read/" in req.path:
        return Reply.of({"okay": False, "cause": f"Unchecked(NoSuchPublicFunction){text}"})
    if req.path.startswith("/v2/data_var/"):
        return Reply.of({"data": "0x0a0200000021" + AGGREGATE_KEY})
    return Reply(404, b"Not found", "text/plain")


def chain_api(req: Request, text: str = "") -> Reply:
    if req.path.startswith("/extended"):
        return Reply.of(
            {
                "server_version": f"stacks-blockchain-api v8.1.0 (master:abc){text}",
                "status": "ready",
                "chain_tip": {
                    "block_height": 2_500_000,
                    "block_hash": "0x" + "cc" * 32,
                    "index_block_hash": "0x" + "ee" * 32,
                    "burn_block_height": 900_000,
                },
            }
        )
    return stacks_node(req, text)


def bitcoind(req: Request, text: str = "") -> Reply:
    call = req.json()
    if not isinstance(call, dict):
        return Reply.of({"result": None, "error": {"code": -32700, "message": "Parse error"}})
    method, ident = call.get("method"), call.get("id")
    results: dict[str, Any] = {
        "getblockchaininfo": {
            "chain": "main",
            "blocks": 900_000,
            "headers": 900_000,
            "bestblockhash": "00" * 8 + "ab" * 24,
            "time": int(time.time()) - 60,
            "mediantime": int(time.time()) - 1800,
            "verificationprogress": 0.99999,
            "initialblockdownload": False,
            "pruned": False,
            "size_on_disk": 700_000_000_000,
            "warnings": [f"all good{text}"] if text else [],
        },
        "getnetworkinfo": {
            "version": 290000,
            "subversion": f"/Satoshi:{BITCOIN_VERSION}/{text}",
            "protocolversion": 70016,
            "connections": 10,
            "connections_in": 2,
            "connections_out": 8,
            "networkactive": True,
            "warnings": [],
        },
    }
    if method not in results:
        return Reply.of(
            {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": ident}
        )
    return Reply.of({"result": results[method], "error": None, "id": ident})


def signer_api(req: Request, text: str = "") -> Reply:
    if req.path == "/":
        return Reply(200, b"", "text/plain")
    if req.path.startswith("/info"):
        tip = {"block_hash": "ab" * 32, "block_height": 900_000}
        stx_tip = {"block_hash": "cd" * 32, "block_height": 2_500_000}
        return Reply.of(
            {
                "bitcoin": {
                    "signer_tip": tip,
                    "node_tip": tip,
                    "node_chain": "main",
                    "node_version": 290000,
                    "node_subversion": f"/Satoshi:{BITCOIN_VERSION}/{text}",
                },
                "stacks": {
                    "signer_tip": stx_tip,
                    "node_tip": stx_tip,
                    "node_bitcoin_block_height": 900_000,
                    "node_version": f"stacks-node {STACKS_VERSION}{text}",
                },
                "dkg": {
                    "rounds": 2,
                    "current_aggregate_key": AGGREGATE_KEY,
                    "contract_aggregate_key": AGGREGATE_KEY,
                },
                "config": {
                    "network": "mainnet",
                    "deployer": DEPLOYER,
                    "bootstrap_signatures_required": 11,
                    "bitcoin_processing_delay": 0,
                    "context_window": 1000,
                    "signer_round_max_duration": 30,
                    "bitcoin_presign_request_max_duration": 30,
                    "dkg_max_duration": 120,
                    "sbtc_bitcoin_start_height": 850_000,
                    "dkg_begin_pause": 0,
                    "max_deposits_per_bitcoin_block": 25,
                    "dkg_min_bitcoin_block_height": None,
                    "dkg_target_rounds": 1,
                },
                "build_info": {
                    "rust_version": f"1.86.0{text}",
                    "git_revision": SIGNER_TAG,
                    "target_arch": "x86_64",
                    "target_env_abi": "gnu",
                },
                "timestamp": "2026-12-01T00:00:00Z",
            }
        )
    return Reply(404, b"", "text/plain")


def metrics(req: Request, text: str = "") -> Reply:
    label = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    body = (
        "# TYPE build_info gauge\n"
        f'build_info{{revision="{SIGNER_TAG}{label}",rust_version="1.86.0",arch="x86_64",'
        'env_abi="gnu"} 1\n'
        "# TYPE blocks_observed_total counter\n"
        'blocks_observed_total{blockchain="bitcoin"} 120\n'
        'blocks_observed_total{blockchain="stacks"} 5000\n'
        "# TYPE peers_connected gauge\n"
        "peers_connected 13\n"
    )
    return Reply(200, body.encode(), "text/plain; version=0.0.4")


def _release(tag: str, text: str, commit: str = "main") -> dict[str, Any]:
    return {
        "id": 180_000_000 + len(tag),
        "tag_name": tag,
        "name": f"{tag}{text}",
        "body": f"Release notes{text}",
        "draft": False,
        "prerelease": False,
        "created_at": "2026-10-01T00:00:00Z",
        "published_at": "2026-10-01T00:00:00Z",
        "target_commitish": commit,
        "html_url": f"https://github.com/x/y/releases/tag/{tag}",
    }


def github(req: Request, text: str = "") -> Reply:
    path = req.path
    if "/security-advisories" in path:
        return Reply.of([])
    if path.startswith("/repos/stacks-sbtc/sbtc/releases"):
        return Reply.of([_release(SIGNER_TAG, text)])
    if path.startswith("/repos/stacks-network/stacks-core/releases"):
        return Reply.of(
            [_release(STACKS_VERSION, text), _release(f"signer-{STACKS_VERSION}.0", text)]
        )
    if path.startswith("/repos/bitcoin/bitcoin/releases"):
        return Reply.of([_release("v29.0", text)])
    return Reply.of({"message": "Not Found"}, 404)


def osv(req: Request, text: str = "") -> Reply:
    if req.path.startswith("/v1/query"):
        return Reply.of({})
    return Reply.of({"code": 5, "message": f"Bug not found{text}"}, 404)


HEALTHY: dict[str, Callable[..., Reply]] = {
    "stacks": stacks_node,
    "chain_api": chain_api,
    "bitcoind": bitcoind,
    "signer": signer_api,
    "metrics": metrics,
    "github": github,
    "osv": osv,
}


# -- faults ------------------------------------------------------------------------------------


def _retype(value: Any) -> Any:
    """Every value swapped for one of another JSON type (wrong shapes and types)."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return {"value": value}
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [_retype(v) for v in value.values()]
    return 0


_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400", "-1e308", "9" * 400)


def _bad_numbers(body: bytes) -> bytes:
    """Every JSON number replaced by NaN, ±Infinity, 1e400, -1e308 or a 400-digit integer."""
    counter = iter(range(10**9))

    def swap(match: re.Match[str]) -> str:
        return match.group(1) + _NUMBERS[next(counter) % len(_NUMBERS)]

    return re.sub(r"([:\[,]\s*)-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", swap, body.decode()).encode()


def _bad_metric_numbers(body: bytes) -> bytes:
    values = iter(["NaN", "+Inf", "-1e308", "1e300"] * 10)
    lines = []
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            line = line.rsplit(" ", 1)[0] + " " + next(values)
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


def faulty(service: str, mode: str) -> Route:
    """The healthy route of `service` with `mode` applied to every answer (transport-level
    modes - hang, drip, huge - are applied by the server itself)."""
    healthy = HEALTHY[service]

    def route(req: Request) -> Reply:
        good = healthy(req)
        if mode == "html500":
            return Reply(
                500,
                b"<html><body><h1>500 Internal Server Error</h1><hr>nginx</body></html>",
                "text/html",
            )
        if mode == "malformed":
            return Reply(200, good.body[: max(1, len(good.body) // 2)] or b"{", good.content_type)
        if mode == "shapes":
            if good.content_type.startswith("text/plain"):
                return Reply(200, b'{"peers_connected": "thirteen"}\n', good.content_type)
            try:
                return Reply.of(_retype(json.loads(good.body)))
            except ValueError:
                return Reply.of(["unexpected"])
        if mode == "content_type":
            kind = "text/html" if good.content_type == "application/json" else "application/json"
            return Reply(good.status, good.body or b"<html></html>", kind)
        if mode == "empty":
            return Reply(200, b"", good.content_type)
        if mode == "numbers":
            if good.content_type.startswith("text/plain"):
                return Reply(good.status, _bad_metric_numbers(good.body), good.content_type)
            bad = _bad_numbers(good.body)
            if bad == good.body and good.body.startswith(b"{"):
                # Nothing numeric in this answer: a NaN field is the corruption on offer.
                bad = (
                    b'{"count": NaN, ' + good.body[1:] if good.body != b"{}" else b'{"count": NaN}'
                )
            return Reply(good.status, bad, good.content_type)
        if mode == "escape":
            return healthy(req, ESCAPES)
        # GitHub answers that parse but carry no release (issue 17: "green without data").
        if mode in GITHUB_EMPTY and "/releases" in req.path:
            return Reply.of(GITHUB_EMPTY[mode])
        return good

    return route


# -- the server --------------------------------------------------------------------------------


class FakeService:
    """One loopback HTTP/1.1 server; `mode` hang/drip/huge are transport faults."""

    def __init__(self, route: Route, mode: str = "healthy") -> None:
        self.route = route
        self.mode = mode
        self.requests: list[Request] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self.port = self._sock.getsockname()[1]
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.close()

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _read_request(self, conn: socket.socket, buffer: bytes) -> tuple[Request | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Request(method, path, headers, rest[:length]), rest[length:]

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with contextlib.suppress(OSError), conn:
            conn.settimeout(30)
            while not self._stop.is_set():
                request, buffer = self._read_request(conn, buffer)
                if request is None:
                    return
                self.requests.append(request)
                if self.mode == "hang":
                    self._stop.wait(60)
                    return
                reply = self.route(request)
                reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(
                    reply.status, "Status"
                )
                head = f"HTTP/1.1 {reply.status} {reason}\r\ncontent-type: {reply.content_type}\r\n"
                if self.mode == "huge":
                    conn.sendall((head + "transfer-encoding: chunked\r\n\r\n").encode())
                    chunk = b"[" + b"1," * 524_288  # 1 MiB of a JSON array that never ends
                    for _ in range(50):
                        conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    conn.sendall(b"0\r\n\r\n")
                    return
                conn.sendall((head + f"content-length: {len(reply.body)}\r\n\r\n").encode())
                if self.mode == "drip":
                    for byte in reply.body:
                        if self._stop.wait(1.0):
                            return
                        conn.sendall(bytes([byte]))
                    return
                conn.sendall(reply.body)


def refused_port() -> int:
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return int(port)
