"""One mutable state object per simulated signer environment.

Every simulated service (Stacks node, Hiro-style API, bitcoind, signer API and metrics, GitHub,
OSV) and the seeded PostgreSQL read the same `SimState`, so a scenario change is seen
consistently everywhere. Heights advance with the wall clock at configurable rates (0 = frozen,
which the tests use for determinism).
"""

from __future__ import annotations

import enum
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from signer_tui.sbtc import DEPLOYERS

MAINNET_DEPLOYER = DEPLOYERS["mainnet"]
TESTNET_DEPLOYER = DEPLOYERS["testnet"]


class Fault(enum.Enum):
    """Transport-level misbehaviour a simulated service can be switched into."""

    NONE = "none"
    HTTP_500 = "http-500"
    TIMEOUT = "timeout"
    MALFORMED_JSON = "malformed-json"
    WRONG_CONTENT_TYPE = "wrong-content-type"
    SLOW_DRIP = "slow-drip"
    OVERSIZED = "oversized"
    RESET = "reset"


def fake_key(seed: str) -> bytes:
    """A deterministic 33-byte compressed-key-shaped value (02/03 prefix)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return bytes([2 + digest[0] % 2]) + digest


def fake_hash(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


@dataclass
class DkgRound:
    aggregate_key: bytes
    status: str  # 'unverified' | 'verified' | 'failed'
    created_at: datetime
    started_at_bitcoin_block_height: int
    signature_share_threshold: int = 10


@dataclass
class ReleaseSpec:
    tag: str
    published_at: datetime
    prerelease: bool = False
    draft: bool = False
    name: str | None = None
    body: str | None = None
    target_commitish: str | None = None  # a commit or branch; None = the repo's default branch


@dataclass
class AdvisorySpec:
    ghsa_id: str
    summary: str
    severity: str | None
    vulnerable_version_range: str | None
    patched_versions: str | None
    published_at: datetime
    cve_id: str | None = None
    package: str = "signer"
    ecosystem: str = "rust"
    description: str = ""


def _default_releases(now: datetime) -> dict[str, list[ReleaseSpec]]:
    def d(s: str) -> datetime:
        return datetime.fromisoformat(s).replace(tzinfo=UTC)

    sbtc = [
        ReleaseSpec("v1.3.3", d("2026-05-22T12:00:00")),
        ReleaseSpec("v1.3.2", d("2026-04-17T12:00:00")),
        ReleaseSpec("v1.3.1", d("2026-04-16T12:00:00")),
        ReleaseSpec("v1.3.0", d("2026-04-09T12:00:00")),
        ReleaseSpec("v1.2.0", d("2025-12-02T12:00:00")),
        ReleaseSpec("v1.1.1", d("2025-10-10T12:00:00")),
        ReleaseSpec("v1.1.0", d("2025-08-05T12:00:00")),
        ReleaseSpec("v1.0.3-epoch32", d("2025-07-25T12:00:00"), prerelease=True),
        ReleaseSpec("v1.0.3", d("2025-07-25T11:00:00")),
        ReleaseSpec("v1.1.0-rc1", d("2025-06-17T12:00:00"), prerelease=True),
        ReleaseSpec("test_release_do_not_use", d("2025-06-01T12:00:00"), name=None),
    ]
    core = [
        ReleaseSpec("4.0.2", d("2026-08-11T12:00:00")),
        ReleaseSpec("4.0.1", d("2026-07-15T12:00:00")),
        ReleaseSpec("4.0.0", d("2026-07-13T12:00:00")),
        ReleaseSpec("signer-3.4.0.0.4.0", d("2026-07-06T13:00:00")),
        ReleaseSpec("3.4.0.0.4", d("2026-07-06T12:00:00")),
        ReleaseSpec("3.4.0.0.3", d("2026-05-21T12:00:00")),
        ReleaseSpec("3.4.0.0.0-rc1", d("2026-04-01T12:00:00"), prerelease=True),
        ReleaseSpec("3.3.0.0.6", d("2026-03-09T12:00:00")),
    ]
    bitcoin = [
        ReleaseSpec("v30.0", d("2026-10-10T12:00:00"), name="Bitcoin Core 30.0"),
        ReleaseSpec("v29.2", d("2026-09-20T12:00:00"), name="Bitcoin Core 29.2"),
        ReleaseSpec("v31.0rc1", d("2026-11-01T12:00:00"), prerelease=True),
        ReleaseSpec("v28.2", d("2026-06-01T12:00:00"), name="Bitcoin Core 28.2"),
        ReleaseSpec("v28.1", d("2025-01-10T12:00:00"), name="Bitcoin Core 28.1"),
    ]
    return {
        "stacks-sbtc/sbtc": sbtc,
        "stacks-network/stacks-core": core,
        "bitcoin/bitcoin": bitcoin,
    }


@dataclass
class SimState:
    """Everything the simulators answer from, for one signer environment."""

    name: str = "mainnet"
    network: str = "mainnet"
    deployer: str = MAINNET_DEPLOYER

    # Bitcoin chain as seen by bitcoind.
    bitcoin_base_height: int = 912_345
    bitcoin_block_seconds: float = 0.0  # 0 = frozen
    bitcoin_stalled: bool = False
    bitcoin_headers_ahead: int = 0  # > 0 while syncing (IBD)
    bitcoind_ibd: bool = False
    bitcoind_warming_up: bool = False
    bitcoind_version: int = 280_100  # major*10000 + minor*100 + patch
    bitcoind_pruned: bool = False
    bitcoind_user: str = "signer"
    bitcoind_password: str = "sim-bitcoind-password"
    bitcoind_cookie: str | None = None  # hex part of `__cookie__:<hex>` when cookie auth is used
    # rpcwhitelist of the RPC user: None = every method; otherwise others get HTTP 403.
    bitcoind_rpc_whitelist: list[str] | None = None
    bitcoind_work_queue_full: bool = False  # every request gets HTTP 503

    # Stacks node.
    stacks_base_height: int = 3_832_097
    stacks_block_seconds: float = 0.0
    stacks_stalled: bool = False
    stacks_burn_lag: int = 0  # how many bitcoin blocks the node is behind bitcoind
    stacks_synced: bool = True
    stacks_version: str = "3.4.0.0.4"
    stacks_health_supported: bool = True
    stacks_peer_difference: int = 0

    # The sbtc-registry: None means pre-DKG (the initial 0x00 buffer).
    chain_key: bytes | None = None
    # When set, the independent API answers with this key instead (a lying or forked node).
    hiro_key_override: bytes | None = None
    hiro_api_key: str | None = None  # when set, requests without this x-api-key get 401
    hiro_rate_limited: bool = False
    hiro_retry_after: int = 30  # seconds announced in `retry-after` while rate limited

    # The signer's DB rows for dkg_shares, oldest first.
    dkg_rounds: list[DkgRound] = field(default_factory=list)
    signer_set_size: int = 14

    # The signer itself.
    signer_up: bool = True
    signer_revision: str = "v1.3.3"
    signer_peers: int = 13
    signer_observing: bool = True  # blocks_observed counters rising
    metrics_enabled: bool = True

    # Release and advisory feeds.
    releases: dict[str, list[ReleaseSpec]] = field(default_factory=dict)
    advisories: dict[str, list[AdvisorySpec]] = field(default_factory=dict)
    osv_vulns: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    github_rate_limited: bool = False
    github_rate_limit_status: int = 403  # GitHub answers an exhausted primary limit 403 or 429
    github_secondary_limit: bool = False  # 403 "secondary rate limit" + retry-after, quota left
    github_token_forbidden: bool = False  # authenticated calls get a permissions 403 (no retry)

    # Transport faults by service name ('stacks', 'hiro', 'bitcoind', 'signer', 'metrics',
    # 'github', 'osv').
    faults: dict[str, Fault] = field(default_factory=dict)
    hang_seconds: float = 60.0

    # The simulators' clock (epoch seconds); tests freeze it for deterministic screens.
    clock: Callable[[], float] = field(default=time.time)
    started: float = field(default_factory=time.time)
    bitcoin_stalled_at: float | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    listeners: list[Callable[[SimState], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.releases:
            self.releases = _default_releases(datetime.now(UTC))
        if not self.dkg_rounds:
            self.dkg_rounds = default_dkg_rounds(self.name, self.bitcoin_base_height)
        if self.chain_key is None and any(r.status == "verified" for r in self.dkg_rounds):
            self.chain_key = self.newest_verified_key()

    # -- derived chain values -------------------------------------------------------------

    def _elapsed_blocks(self, seconds: float) -> int:
        if seconds <= 0:
            return 0
        return int((self.clock() - self.started) / seconds)

    @property
    def bitcoin_height(self) -> int:
        return self.bitcoin_base_height + (
            0 if self.bitcoin_stalled else self._elapsed_blocks(self.bitcoin_block_seconds)
        )

    @property
    def bitcoin_headers(self) -> int:
        return self.bitcoin_height + self.bitcoin_headers_ahead

    @property
    def stacks_height(self) -> int:
        return self.stacks_base_height + (
            0 if self.stacks_stalled else self._elapsed_blocks(self.stacks_block_seconds)
        )

    @property
    def stacks_burn_height(self) -> int:
        return self.bitcoin_height - self.stacks_burn_lag

    def bitcoin_hash(self, height: int) -> str:
        # Real block hashes start with zeros; keep the shape.
        return "00000000000000000" + fake_hash(f"{self.name}-btc-{height}").hex()[17:]

    def stacks_hash(self, height: int) -> str:
        return fake_hash(f"{self.name}-stx-{height}").hex()

    def bitcoin_block_time(self, height: int) -> int:
        """Epoch seconds of a bitcoin block: the tip is 'now' minus a few minutes."""
        age = (self.bitcoin_height - height) * 600 + 240
        reference = self.bitcoin_stalled_at if self.bitcoin_stalled else None
        return int(reference if reference is not None else self.clock()) - age

    def stall_bitcoin(self) -> None:
        """No new bitcoin blocks from now on: the tip stays where it is and ages."""
        self.bitcoin_base_height = self.bitcoin_height
        self.bitcoin_stalled_at = self.clock()
        self.bitcoin_stalled = True

    def stall_stacks(self) -> None:
        self.stacks_base_height = self.stacks_height
        self.stacks_stalled = True

    def newest_verified_key(self) -> bytes | None:
        for round_ in reversed(self.dkg_rounds):
            if round_.status == "verified":
                return round_.aggregate_key
        return None

    def registry_key_for(self, service: str) -> bytes | None:
        if service == "hiro" and self.hiro_key_override is not None:
            return self.hiro_key_override
        return self.chain_key

    def fault_for(self, service: str) -> Fault:
        return self.faults.get(service, Fault.NONE)

    # -- change notification --------------------------------------------------------------

    def changed(self) -> None:
        """Tell listeners (e.g. the seeded PostgreSQL) that the state was changed."""
        for listener in list(self.listeners):
            listener(self)


def default_dkg_rounds(name: str, bitcoin_height: int) -> list[DkgRound]:
    """Several DKG rounds, as a signer that has lived through rotations has them."""
    now = datetime.now(UTC).replace(microsecond=0)  # fixed-width timestamps: stable dumps
    return [
        DkgRound(fake_key(f"{name}-dkg-1"), "verified", now - timedelta(days=200), 880_000),
        DkgRound(fake_key(f"{name}-dkg-2"), "failed", now - timedelta(days=120), 890_000),
        # A round whose rotation never happened and that was never marked failed.
        DkgRound(fake_key(f"{name}-dkg-2b"), "unverified", now - timedelta(days=95), 899_000),
        DkgRound(fake_key(f"{name}-dkg-3"), "verified", now - timedelta(days=90), 899_500),
        DkgRound(
            fake_key(f"{name}-dkg-4"),
            "verified",
            now - timedelta(days=30),
            bitcoin_height - 4_000,
        ),
    ]
