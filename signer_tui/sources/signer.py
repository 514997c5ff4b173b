"""The sBTC signer's HTTP API (the event observer port, 8801): liveness and `/info`.

`GET /` answers 200 with an empty body and nothing else; `/info` is "infallible": it answers
even when the signer cannot reach bitcoind, its stacks node or its database, and sends `null`
for whatever it could not fetch. So every field here may be None, which means "unknown", and a
whole section that is null or missing becomes a section whose fields are all None. Keys the
signer adds in later releases are ignored.

Each field is read on its own: a field of the wrong type (a future release changing a height
to a string, a proxy mangling the body) costs only that field. It becomes None and a
`FieldProblem` naming its path and raw value, carried by the `SignerInfo` and its evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import SourceProtocolError
from signer_tui.sources.http import HttpService, raise_for_status

_HEX = re.compile(r"^[0-9a-f]*$")
# A raw value quoted in a problem: enough to recognise it, never a screenful.
RAW_VALUE_LIMIT = 60
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
class FieldProblem:
    """One `/info` field that could not be read; the field itself is None."""

    path: str  # dotted, from the top of the object: "bitcoin.signer_tip.block_height"
    expected: str  # "an integer or null"
    raw: str  # the value as sent, as JSON, cleaned and truncated

    def __str__(self) -> str:
        return f"/info field {self.path}: expected {self.expected}, got {self.raw}"


def raw_value(value: Any) -> str:
    """A value from the network, quoted for a one-line message."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:  # a circular structure cannot come from JSON, but stay total
        text = repr(value)
    return clean_text(text, RAW_VALUE_LIMIT)


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
    problems: tuple[FieldProblem, ...] = ()  # fields that were sent but could not be read

    def problems_under(self, path: str) -> tuple[FieldProblem, ...]:
        """The problems of `path` and of everything inside it ("bitcoin" covers its tips)."""
        return tuple(
            p
            for p in self.problems
            if p.path == path or p.path.startswith(path + ".") or path.startswith(p.path + ".")
        )

    def problem_note(self, path: str) -> str:
        """ "" when `path` read cleanly; else the first problem, for a check's summary."""
        found = self.problems_under(path)
        if not found:
            return ""
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        return f"{found[0]}{more}"


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
    """Build a `SignerInfo` from the decoded `/info` object, one field at a time."""
    problems: list[FieldProblem] = []
    root = _Fields(body, problems, "")
    btc = root.section("bitcoin")
    stx = root.section("stacks")
    dkg = root.section("dkg")
    cfg = root.section("config")
    build = root.section("build_info")
    timestamp = root.text("timestamp")
    timestamp_at = parse_signer_timestamp(timestamp) if timestamp else None
    if timestamp and timestamp_at is None:
        problems.append(
            FieldProblem("timestamp", "a signer timestamp or null", raw_value(timestamp))
        )
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
        timestamp_at=timestamp_at,
        problems=tuple(problems),
    )
    decoded = (
        f"revision={info.build_info.git_revision} dkg rounds={info.dkg.rounds} "
        f"current key={info.dkg.current_aggregate_key} "
        f"contract key={info.dkg.contract_aggregate_key}"
    )
    if not problems:
        return replace(info, evidence=evidence.with_decoded(decoded))
    count = len(problems)
    decoded += f"; {count} unreadable field{'s' if count != 1 else ''} (shown as unknown): "
    decoded += ", ".join(p.path for p in problems)
    error = "; ".join(str(p) for p in problems)
    return replace(info, evidence=replace(evidence.with_decoded(decoded), error=error))


class _Fields:
    """Typed, null-tolerant access to one object of `/info`; a value of the wrong type is
    recorded in `problems` and read as None."""

    def __init__(
        self, obj: Mapping[str, Any] | None, problems: list[FieldProblem], path: str
    ) -> None:
        self.obj: Mapping[str, Any] = obj or {}
        self.problems = problems
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _bad(self, key: str, expected: str, value: Any) -> None:
        self.problems.append(FieldProblem(self._where(key), expected, raw_value(value)))

    def _object(self, key: str) -> Mapping[str, Any] | None:
        value = self.obj.get(key)
        if value is None or isinstance(value, Mapping):
            return value
        self._bad(key, "an object or null", value)
        return None

    def section(self, key: str) -> _Fields:
        return _Fields(self._object(key), self.problems, self._where(key))

    def integer(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > 2**64:
            self._bad(key, "an integer or null", value)
            return None
        return value

    def text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self._bad(key, "a string or null", value)
            return None
        return clean_text(value, 300)

    def hex(self, key: str) -> str | None:
        """Hashes and keys, normalised to lowercase hex without a 0x prefix."""
        value = self.text(key)
        if value is None:
            return None
        normalised = value.lower().removeprefix("0x")
        if not _HEX.match(normalised):
            self._bad(key, "hex or null", value)
            return None
        return normalised

    def tip(self, key: str) -> Tip | None:
        value = self._object(key)
        if value is None:
            return None
        tip = _Fields(value, self.problems, self._where(key))
        return Tip(block_hash=tip.hex("block_hash"), block_height=tip.integer("block_height"))
