"""Loopback simulators of the sBTC signer's HTTP API (8801) and Prometheus exporter (9184).

Both answer from the shared `SimState`, so `/info`, the metrics, the seeded database and the
simulated nodes tell one story. When the signer is not observing (`signer_observing=False`) its
own tips trail the nodes and `blocks_observed_total` stops rising.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from signer_tui.sbtc import DEPLOYERS
from signer_tui.sim.bitcoind import CHAIN_NAMES
from signer_tui.sim.server import SimApp, SimRequest, SimResponse
from signer_tui.sim.state import Fault, SimState

# How far a signer that stopped observing trails the nodes (about 30 minutes of each chain).
STALL_LAG_BITCOIN = 3
STALL_LAG_STACKS = 360

RUST_VERSION = "1.86.0"
TARGET_ARCH = "x86_64"
TARGET_ENV_ABI = "gnu"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
# `set_buckets` in the signer's metrics.rs; the exporter adds `+Inf`.
BUCKETS = ("0.0001", "0.001", "0.01", "0.1", "0.5", "1", "5", "20", "+Inf")
# Cumulative share of observations at or below each bucket, by kind of timing.
_FAST = (0.05, 0.4, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0, 1.0)
_SLOW = (0.0, 0.0, 0.0, 0.05, 0.3, 0.6, 0.95, 1.0, 1.0)
_LEGACY_REVISION = re.compile(r"^v?1\.0\.\d+")


class SignerView:
    """The signer's own idea of both chain tips, which freezes when it stops observing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stalled: tuple[int, int] | None = None

    def tips(self, state: SimState) -> tuple[int, int]:
        btc, stx = state.bitcoin_height, state.stacks_height
        with self._lock:
            if state.signer_observing:
                self._stalled = None
                return btc, stx
            if self._stalled is None:
                self._stalled = (btc - STALL_LAG_BITCOIN, stx - STALL_LAG_STACKS)
            return (
                min(self._stalled[0], btc - STALL_LAG_BITCOIN),
                min(self._stalled[1], stx - STALL_LAG_STACKS),
            )


def rust_timestamp(now: datetime) -> str:
    """`time::OffsetDateTime::now_utc().to_string()`: unpadded hour, trimmed nanoseconds."""
    now = now.astimezone(UTC)
    nanos = f"{now.microsecond * 1000:09d}".rstrip("0") or "0"
    return f"{now:%Y-%m-%d} {now.hour}:{now:%M:%S}.{nanos} +00:00:00"


def stacks_server_version(version: str) -> str:
    return f"stacks-node {version} (1a2b3c4, release build, linux [x86_64])"


class SignerApiSim(SimApp):
    """`GET /` (liveness, empty 200) and `GET /info`; 404 with an empty body elsewhere."""

    service = "signer"

    def __init__(self, state: SimState, view: SignerView | None = None) -> None:
        super().__init__(state)
        self.view = view or SignerView()

    def handle(self, request: SimRequest) -> SimResponse:
        routes = {
            "/": ("GET",),
            "/info": ("GET",),
            "/new_block": ("POST",),
            "/attachments/new": ("POST",),
        }
        allowed = routes.get(request.path)
        if allowed is None:
            return SimResponse(404, b"", None)
        if request.method not in allowed and not (request.method == "HEAD" and "GET" in allowed):
            allow = ",".join((*allowed, "HEAD") if "GET" in allowed else allowed)
            return SimResponse(405, b"", None, [("allow", allow)])
        if request.path == "/info":
            return SimResponse.json(self.info())
        # axum's bare `StatusCode::OK`: no body, no content type.
        return SimResponse(200, b"", None)

    def info(self) -> dict[str, Any]:
        s = self.state
        with s.lock:
            btc_tip, stx_tip = self.view.tips(s)
            bitcoind_ok = not s.bitcoind_warming_up and s.fault_for("bitcoind") is Fault.NONE
            stacks_ok = s.fault_for("stacks") is Fault.NONE
            live = [r for r in s.dkg_rounds if r.status != "failed"]
            newest = max(s.dkg_rounds, key=lambda r: r.created_at, default=None)
            chain_key = s.registry_key_for("stacks")
            version = s.bitcoind_version
            bitcoin: dict[str, Any] = {
                "signer_tip": {"block_hash": s.bitcoin_hash(btc_tip), "block_height": btc_tip},
                "node_tip": None,
                "node_chain": None,
                "node_version": None,
                "node_subversion": None,
            }
            if bitcoind_ok:
                bitcoin.update(
                    node_tip={
                        "block_hash": s.bitcoin_hash(s.bitcoin_height),
                        "block_height": s.bitcoin_height,
                    },
                    node_chain=CHAIN_NAMES.get(s.network, s.network),
                    node_version=version,
                    node_subversion=(
                        f"/Satoshi:{version // 10000}.{version // 100 % 100}.{version % 100}/"
                    ),
                )
            stacks: dict[str, Any] = {
                "signer_tip": {"block_hash": s.stacks_hash(stx_tip), "block_height": stx_tip},
                "node_tip": None,
                "node_bitcoin_block_height": None,
                "node_version": None,
            }
            if stacks_ok:
                stacks.update(
                    node_tip={
                        "block_hash": s.stacks_hash(s.stacks_height),
                        "block_height": s.stacks_height,
                    },
                    node_bitcoin_block_height=s.stacks_burn_height,
                    node_version=stacks_server_version(s.stacks_version),
                )
            return {
                "bitcoin": bitcoin,
                "stacks": stacks,
                "dkg": {
                    "rounds": len(live),
                    "current_aggregate_key": newest.aggregate_key.hex() if newest else None,
                    "contract_aggregate_key": (
                        chain_key.hex() if chain_key is not None and stacks_ok else None
                    ),
                },
                "config": {
                    "network": s.network,
                    "deployer": s.deployer,
                    "bootstrap_signatures_required": (
                        newest.signature_share_threshold if newest else 10
                    ),
                    "bitcoin_processing_delay": 30,
                    "context_window": 1000,
                    "signer_round_max_duration": 30,
                    "bitcoin_presign_request_max_duration": 30,
                    "dkg_max_duration": 120,
                    "sbtc_bitcoin_start_height": None,
                    "dkg_begin_pause": 0,
                    "max_deposits_per_bitcoin_block": 25,
                    "dkg_min_bitcoin_block_height": (
                        880_088 if s.deployer == DEPLOYERS["mainnet"] else None
                    ),
                },
                "build_info": {
                    "rust_version": RUST_VERSION,
                    "git_revision": s.signer_revision,
                    "target_arch": TARGET_ARCH,
                    "target_env_abi": TARGET_ENV_ABI,
                },
                "timestamp": rust_timestamp(datetime.now(UTC)),
            }


class _ObservedCounter:
    """A monotonic count of observed blocks: rises with the chain only while observing."""

    def __init__(self, initial: int) -> None:
        self.count = initial
        self.last: int | None = None

    def update(self, height: int, observing: bool) -> int:
        if self.last is None:
            self.last = height
        elif height > self.last:
            # Blocks that pass while the signer is not observing are never counted.
            if observing:
                self.count += height - self.last
            self.last = height
        return self.count


class SignerMetricsSim(SimApp):
    """The metrics-exporter-prometheus listener: the same exposition on every path.

    `legacy=None` derives the release line from `state.signer_revision`: a v1.0.x signer
    exports only the first nine metrics (no `peers_connected`, no stacks-request metrics).
    """

    service = "metrics"

    def __init__(self, state: SimState, *, legacy: bool | None = None) -> None:
        super().__init__(state)
        self.legacy = legacy
        self._lock = threading.Lock()
        self._bitcoin = _ObservedCounter(144)
        self._stacks = _ObservedCounter(17_280)

    def handle(self, request: SimRequest) -> SimResponse:
        return SimResponse(200, self.exposition().encode(), METRICS_CONTENT_TYPE)

    def is_legacy(self) -> bool:
        if self.legacy is not None:
            return self.legacy
        return bool(_LEGACY_REVISION.match(self.state.signer_revision))

    def exposition(self) -> str:
        s = self.state
        with s.lock, self._lock:
            btc = self._bitcoin.update(s.bitcoin_height, s.signer_observing)
            stx = self._stacks.update(s.stacks_height, s.signer_observing)
            peers = s.signer_peers
            revision = s.signer_revision
            signers = max(1, s.signer_set_size)
            rotations = sum(1 for r in s.dkg_rounds if r.status == "verified")
        legacy = self.is_legacy()
        sweeps = btc // 10
        out = _Exposition()
        # metrics-exporter-prometheus renders counters, then gauges, then histograms, so
        # the bare `validation_duration_seconds` counter and the histogram of the same name
        # end up in two separate blocks.
        out.family(
            "transactions_submitted_total",
            "counter",
            [
                ({"blockchain": "bitcoin", "status": "success"}, sweeps // signers + 1),
                (
                    {"blockchain": "stacks", "kind": "complete-deposit", "status": "success"},
                    3,
                ),
            ],
        )
        out.family("deposits_swept_total", "counter", [({"blockchain": "bitcoin"}, 40)])
        out.family(
            "blocks_observed_total",
            "counter",
            [({"blockchain": "bitcoin"}, btc), ({"blockchain": "stacks"}, stx)],
        )
        out.family(
            "deposit_requests_total",
            "counter",
            [
                ({"blockchain": "bitcoin", "status": "success"}, 120),
                ({"blockchain": "bitcoin", "status": "unconfirmed"}, 12),
                ({"blockchain": "bitcoin", "status": "failed"}, 1),
            ],
        )
        out.family(
            "signing_rounds_completed_total",
            "counter",
            [
                ({"blockchain": "bitcoin", "kind": "sweep"}, sweeps),
                (
                    {"blockchain": "stacks", "kind": "complete-deposit", "status": "success"},
                    40,
                ),
            ],
        )
        out.family("coordinator_tenures_total", "counter", [({}, btc // signers)])
        out.family(
            "sign_requests_total",
            "counter",
            [
                ({"blockchain": "bitcoin", "kind": "sweep-presign", "status": "success"}, btc),
                ({"blockchain": "bitcoin", "kind": "sweep", "status": "success"}, 2 * sweeps),
                ({"blockchain": "stacks", "kind": "complete-deposit", "status": "success"}, 40),
                ({"blockchain": "stacks", "kind": "rotate-keys", "status": "success"}, rotations),
            ],
        )
        # The quirk: a label-less counter under the histogram's name, bumped per broadcast.
        out.family("validation_duration_seconds", "counter", [({}, sweeps // signers + 1)])
        if not legacy:
            stacks_request = {"blockchain": "stacks", "contract_name": "sbtc-registry"}
            out.family(
                "call_read_only_requests_total",
                "counter",
                [
                    (
                        {
                            **stacks_request,
                            "function_name": "get-deposit-status",
                            "status_code": "200",
                        },
                        60,
                    )
                ],
            )
            out.family(
                "read_data_var_requests_total",
                "counter",
                [
                    (
                        {
                            **stacks_request,
                            "variable_name": "current-aggregate-pubkey",
                            "status_code": "200",
                        },
                        btc,
                    )
                ],
            )
            out.family(
                "read_map_entry_requests_total",
                "counter",
                [
                    (
                        {
                            **stacks_request,
                            "map_name": "withdrawal-status",
                            "status_code": "200",
                        },
                        24,
                    )
                ],
            )
        out.family(
            "build_info",
            "gauge",
            [
                (
                    {
                        "rust_version": RUST_VERSION,
                        "revision": revision,
                        "arch": TARGET_ARCH,
                        "env_abi": TARGET_ENV_ABI,
                    },
                    1,
                )
            ],
        )
        if not legacy:
            out.family("peers_connected", "gauge", [({}, peers)])
        out.histogram(
            "signing_round_duration_seconds",
            [
                ({"blockchain": "bitcoin", "kind": "sweep"}, sweeps, 2.5, _SLOW),
                (
                    {"blockchain": "bitcoin", "kind": "sweep-presign", "status": "success"},
                    sweeps,
                    0.8,
                    _SLOW,
                ),
            ],
        )
        out.histogram(
            "validation_duration_seconds",
            [
                (
                    {"blockchain": "bitcoin", "kind": "sweep-presign", "status": "success"},
                    btc,
                    0.004,
                    _FAST,
                ),
                ({"blockchain": "stacks", "kind": "complete-deposit"}, 40, 0.002, _FAST),
            ],
        )
        if not legacy:
            for name, count in (
                ("call_read_only_duration_seconds", 60),
                ("read_data_var_duration_seconds", btc),
                ("read_map_entry_duration_seconds", 24),
            ):
                out.histogram(
                    name,
                    [
                        (
                            {"blockchain": "stacks", "contract_name": "sbtc-registry"},
                            count,
                            0.02,
                            _FAST,
                        )
                    ],
                )
        return out.text()


class _Exposition:
    """Writes text format 0.0.4 the way metrics-exporter-prometheus does."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, rows: list[tuple[dict[str, str], float]]) -> None:
        self._lines.append(f"# TYPE {name} {kind}")
        for labels, value in rows:
            self._lines.append(f"{name}{_labels(labels)} {_number(value)}")
        self._lines.append("")

    def histogram(
        self,
        name: str,
        rows: list[tuple[dict[str, str], int, float, tuple[float, ...]]],
    ) -> None:
        self._lines.append(f"# TYPE {name} histogram")
        for labels, count, mean, shares in rows:
            for le, share in zip(BUCKETS, shares, strict=True):
                cumulative = count if le == "+Inf" else int(count * share)
                self._lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {cumulative}")
            self._lines.append(f"{name}_sum{_labels(labels)} {_number(round(count * mean, 6))}")
            self._lines.append(f"{name}_count{_labels(labels)} {count}")
        self._lines.append("")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    # The global label `app` comes first, as the exporter merges it in before the key's own.
    merged = {"app": "signer", **labels}
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in merged.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Rust's Display for numbers: `1`, not `1.0`."""
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))
