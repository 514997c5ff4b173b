"""The sBTC signer's HTTP API (the event observer port, 8801): liveness and `/info`.

`GET /` answers 200 with an empty body and nothing else; `/info` is "infallible": it answers
even when the signer cannot reach bitcoind, its stacks node or its database, and sends `null`
for whatever it could not fetch. So every field here may be None, which means "unknown", and a
whole section that is null or missing becomes a section whose fields are all None. Keys the
signer adds in later releases are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import SourceError, SourceProtocolError
from signer_tui.sources.http import HttpService, raise_for_status

_HEX = re.compile(r"^[0-9a-f]*$")
# `time::OffsetDateTime`'s Display: `2026-05-22 9:05:03.123456789 +00:00:00` (hour unpadded).
_RUST_TIME = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(?:(Z)|([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?)$"
)


@dataclass(frozen=True)
class Liveness:
    """`GET /` answered 200 with an empty body."""

    status: int
    elapsed_ms: float | None
    evidence: Evidence


@dataclass(frozen=True)
class Tip:
    block_hash: str | None
    block_height: int | None


@dataclass(frozen=True)
class BitcoinSection:
    signer_tip: Tip | None = None  # the signer's in-memory view
    node_tip: Tip | None = None  # its bitcoind's getblockchaininfo
    node_chain: str | None = None
    node_version: int | None = None
    node_subversion: str | None = None


@dataclass(frozen=True)
class StacksSection:
    signer_tip: Tip | None = None  # from the signer's database
    node_tip: Tip | None = None  # its stacks node's /v2/info
    node_bitcoin_block_height: int | None = None
    node_version: str | None = None


@dataclass(frozen=True)
class DkgSection:
    rounds: int | None = None  # non-failed dkg_shares rows
    current_aggregate_key: str | None = None  # newest dkg_shares row of ANY status
    contract_aggregate_key: str | None = None  # the registry, read via its own stacks node


@dataclass(frozen=True)
class ConfigSection:
    """The signer's effective config; durations are whole seconds."""

    network: str | None = None
    deployer: str | None = None
    bootstrap_signatures_required: int | None = None
    bitcoin_processing_delay: int | None = None
    context_window: int | None = None
    signer_round_max_duration: int | None = None
    bitcoin_presign_request_max_duration: int | None = None
    dkg_max_duration: int | None = None
    sbtc_bitcoin_start_height: int | None = None
    dkg_begin_pause: int | None = None
    max_deposits_per_bitcoin_block: int | None = None
    dkg_min_bitcoin_block_height: int | None = None
    dkg_target_rounds: int | None = None  # newer releases only


@dataclass(frozen=True)
class BuildSection:
    rust_version: str | None = None
    git_revision: str | None = None  # a tag name on release images, a commit on source builds
    target_arch: str | None = None
    target_env_abi: str | None = None


@dataclass(frozen=True)
class SignerInfo:
    evidence: Evidence
    bitcoin: BitcoinSection = field(default_factory=BitcoinSection)
    stacks: StacksSection = field(default_factory=StacksSection)
    dkg: DkgSection = field(default_factory=DkgSection)
    config: ConfigSection = field(default_factory=ConfigSection)
    build_info: BuildSection = field(default_factory=BuildSection)
    timestamp: str | None = None  # as sent
    timestamp_at: datetime | None = None  # parsed; None when absent or unparseable


def parse_signer_timestamp(text: str) -> datetime | None:
    """Parse the signer's `OffsetDateTime::to_string()` (or RFC 3339); None if neither."""
    match = _RUST_TIME.match(text.strip())
    if match is None:
        return None
    date, hour, minute, second, frac, zulu, sign, off_h, off_m, off_s = match.groups()
    iso = f"{date}T{int(hour):02d}:{minute}:{second}"
    if frac:
        iso += "." + frac[:6].ljust(6, "0")
    iso += "+00:00" if zulu else f"{sign}{off_h}:{off_m}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if off_s and off_s != "00":
        return None
    return parsed.astimezone(UTC)


class SignerApi(HttpService):
    source = "signer-api"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        super().__init__(url, timeout=timeout)

    async def alive(self) -> Liveness:
        reply = await self.request("GET", "/")
        raise_for_status(reply)
        if reply.body:
            raise SourceProtocolError(
                "not the signer's liveness endpoint",
                f"expected an empty body, got {len(reply.body)} bytes",
                reply.evidence,
            )
        return Liveness(reply.status, reply.evidence.elapsed_ms, reply.evidence)

    async def info(self) -> SignerInfo:
        reply = await self.request("GET", "/info")
        raise_for_status(reply)
        body = reply.json()
        if not isinstance(body, dict):
            raise SourceProtocolError("bad /info", "expected a JSON object", reply.evidence)
        return parse_info(body, reply.evidence)


def parse_info(body: Mapping[str, Any], evidence: Evidence) -> SignerInfo:
    """Build a `SignerInfo` from the decoded `/info` object."""
    root = _Fields(body, evidence, "")
    btc = root.section("bitcoin")
    stx = root.section("stacks")
    dkg = root.section("dkg")
    cfg = root.section("config")
    build = root.section("build_info")
    timestamp = root.text("timestamp")
    info = SignerInfo(
        evidence=evidence,
        bitcoin=BitcoinSection(
            signer_tip=btc.tip("signer_tip"),
            node_tip=btc.tip("node_tip"),
            node_chain=btc.text("node_chain"),
            node_version=btc.integer("node_version"),
            node_subversion=btc.text("node_subversion"),
        ),
        stacks=StacksSection(
            signer_tip=stx.tip("signer_tip"),
            node_tip=stx.tip("node_tip"),
            node_bitcoin_block_height=stx.integer("node_bitcoin_block_height"),
            node_version=stx.text("node_version"),
        ),
        dkg=DkgSection(
            rounds=dkg.integer("rounds"),
            current_aggregate_key=dkg.hex("current_aggregate_key"),
            contract_aggregate_key=dkg.hex("contract_aggregate_key"),
        ),
        config=ConfigSection(
            network=cfg.text("network"),
            deployer=cfg.text("deployer"),
            bootstrap_signatures_required=cfg.integer("bootstrap_signatures_required"),
            bitcoin_processing_delay=cfg.integer("bitcoin_processing_delay"),
            context_window=cfg.integer("context_window"),
            signer_round_max_duration=cfg.integer("signer_round_max_duration"),
            bitcoin_presign_request_max_duration=cfg.integer(
                "bitcoin_presign_request_max_duration"
            ),
            dkg_max_duration=cfg.integer("dkg_max_duration"),
            sbtc_bitcoin_start_height=cfg.integer("sbtc_bitcoin_start_height"),
            dkg_begin_pause=cfg.integer("dkg_begin_pause"),
            max_deposits_per_bitcoin_block=cfg.integer("max_deposits_per_bitcoin_block"),
            dkg_min_bitcoin_block_height=cfg.integer("dkg_min_bitcoin_block_height"),
            dkg_target_rounds=cfg.integer("dkg_target_rounds"),
        ),
        build_info=BuildSection(
            rust_version=build.text("rust_version"),
            git_revision=build.text("git_revision"),
            target_arch=build.text("target_arch"),
            target_env_abi=build.text("target_env_abi"),
        ),
        timestamp=timestamp,
        timestamp_at=parse_signer_timestamp(timestamp) if timestamp else None,
    )
    decoded = (
        f"revision={info.build_info.git_revision} dkg rounds={info.dkg.rounds} "
        f"current key={info.dkg.current_aggregate_key} "
        f"contract key={info.dkg.contract_aggregate_key}"
    )
    return replace(info, evidence=evidence.with_decoded(decoded))


class _Fields:
    """Typed, null-tolerant access to one object of `/info`."""

    def __init__(self, obj: Mapping[str, Any] | None, evidence: Evidence, path: str) -> None:
        self.obj: Mapping[str, Any] = obj or {}
        self.evidence = evidence
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _bad(self, key: str, expected: str) -> SourceError:
        got = type(self.obj.get(key)).__name__
        return SourceProtocolError(
            "bad /info", f"{self._where(key)}: expected {expected}, got {got}", self.evidence
        )

    def section(self, key: str) -> _Fields:
        value = self.obj.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise self._bad(key, "an object or null")
        return _Fields(value, self.evidence, self._where(key))

    def integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**64:
            raise self._bad(key, "an integer or null")
        return value

    def text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string or null")
        return clean_text(value, 300)

    def hex(self, key: str) -> str | None:
        """Hashes and keys, normalised to lowercase hex without a 0x prefix."""
        value = self.text(key)
        if value is None:
            return None
        value = value.lower().removeprefix("0x")
        if not _HEX.match(value):
            raise self._bad(key, "hex or null")
        return value

    def tip(self, key: str) -> Tip | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._bad(key, "an object or null")
        tip = _Fields(value, self.evidence, self._where(key))
        return Tip(block_hash=tip.hex("block_hash"), block_height=tip.integer("block_height"))
