"""The Stacks node RPC (`/v2/info`, `/v3/health`, `/v2/pox`) and the sbtc-registry reads.

Wire format: wire-formats.md §1.1-1.5. Node errors are text/plain; every non-200 ends in a typed
`SourceError` with the (cleaned, short) body in its detail. A read-only call that ran but failed
answers 200 `{"okay": false, "cause": ...}`, which becomes `ContractCallError`.
`RegistryClient` holds the registry reads so the Hiro-style API (a transparent `/v2` proxy) can
reuse them unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from signer_tui.model import Evidence, clean_text
from signer_tui.sbtc import (
    AGGREGATE_KEY_FUNCTION,
    AGGREGATE_KEY_VAR,
    REGISTRY_CONTRACT,
    SIGNER_DATA_FUNCTION,
)
from signer_tui.sources.c32 import C32Error, normalize_address
from signer_tui.sources.clarity import (
    COMPRESSED_KEY_LENGTH,
    ClarityBuffer,
    ClarityDecodeError,
    ClarityList,
    ClarityTuple,
    ClarityUInt,
    ClarityValue,
    ContractPrincipal,
    StandardPrincipal,
    decode,
    key_from_value,
)
from signer_tui.sources.errors import (
    SourceError,
    SourceHTTPError,
    SourceNotConfigured,
    SourceProtocolError,
)
from signer_tui.sources.http import HttpReply, HttpService, raise_for_status

CANONICAL_TIP_HEADER = "x-canonical-stacks-tip-height"
ERROR_DETAIL_LIMIT = 200

NETWORK_IDS = {1: "mainnet", 0x80000000: "testnet"}
BITCOIN_MAGICS = {0xD9B4BEF9: "mainnet", 0x0709110B: "testnet", 0xDAB5BFFA: "regtest"}

# Only the name and version are stable; the parenthesised build part changed across releases.
_SERVER_VERSION = re.compile(r"^(\S+) (\S+) \(")
_HEX = re.compile(r"[0-9a-f]*")


class ContractCallError(SourceError):
    """A read-only call ran and failed (`okay: false`); `cause` is the node's VM error text."""

    title = "contract call failed"

    def __init__(
        self, title: str | None = None, detail: str = "", evidence: Evidence | None = None
    ) -> None:
        self.cause = detail
        super().__init__(title, detail, evidence)


class DataVarNotFound(SourceHTTPError):
    title = "data var not found"


class ChainTipNotFound(SourceHTTPError):
    title = "chain tip not found"


# No height, count or amount on these wire formats exceeds a u64; a 400-digit "height" is a
# broken or hostile server, not a number to print.
MAX_WIRE_INT = 2**64


class JsonFields:
    """Typed reads from one JSON object; a missing or mistyped required field is a protocol
    error naming the field, so a changed wire format is reported, not misread."""

    def __init__(self, value: Any, evidence: Evidence, what: str) -> None:
        if not isinstance(value, dict):
            raise SourceProtocolError(
                "unexpected response", f"{what} is not a JSON object", evidence
            )
        self.obj: dict[str, Any] = value
        self.evidence = evidence
        self.what = what

    def _fail(self, name: str, problem: str) -> SourceProtocolError:
        return SourceProtocolError(
            "unexpected response", f"{self.what}: field '{name}' {problem}", self.evidence
        )

    def _get(self, name: str, optional: bool) -> Any:
        if name not in self.obj and not optional:
            raise self._fail(name, "is missing")
        return self.obj.get(name)

    def opt_integer(self, name: str, *, signed: bool = False) -> int | None:
        value = self._get(name, True)
        if value is None:
            return None
        # bool is an int in Python; JSON true is never a height.
        if not isinstance(value, int) or isinstance(value, bool) or (value < 0 and not signed):
            raise self._fail(name, f"is not a {'' if signed else 'non-negative '}integer")
        if abs(value) > MAX_WIRE_INT:
            raise self._fail(name, "is out of range")
        return value

    def integer(self, name: str, *, signed: bool = False) -> int:
        self._get(name, False)
        value = self.opt_integer(name, signed=signed)
        if value is None:
            raise self._fail(name, "is null")
        return value

    def opt_text(self, name: str, *, limit: int | None = 500) -> str | None:
        """A string, stripped of control characters (and cut at `limit` for display)."""
        value = self._get(name, True)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, "is not a string")
        return clean_text(value, limit)

    def text(self, name: str, *, limit: int | None = 500) -> str:
        self._get(name, False)
        value = self.opt_text(name, limit=limit)
        if value is None:
            raise self._fail(name, "is null")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name, False)
        if not isinstance(value, bool):
            raise self._fail(name, "is not a boolean")
        return value

    def opt_hash(self, name: str, size: int) -> str | None:
        """A hash of `size` bytes as lower-case hex without `0x` (the node omits it, the Hiro
        API adds it; both are accepted and normalised)."""
        value = self._get(name, True)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(name, "is not a string")
        text = value.lower().removeprefix("0x")
        if len(text) != 2 * size or not _HEX.fullmatch(text):
            raise self._fail(name, f"is not a {size}-byte hex hash")
        return text

    def hash(self, name: str, size: int) -> str:
        self._get(name, False)
        value = self.opt_hash(name, size)
        if value is None:
            raise self._fail(name, "is null")
        return value

    def opt_sub(self, name: str) -> JsonFields | None:
        value = self._get(name, True)
        if value is None:
            return None
        return JsonFields(value, self.evidence, f"{self.what}.{name}")

    def sub(self, name: str) -> JsonFields:
        self._get(name, False)
        value = self.opt_sub(name)
        if value is None:
            raise self._fail(name, "is null")
        return value


def json_fields(reply: HttpReply, what: str) -> JsonFields:
    return JsonFields(reply.json(), reply.evidence, what)


@dataclass(frozen=True)
class NodeVersion:
    name: str
    version: str

    @classmethod
    def parse(cls, server_version: str) -> NodeVersion | None:
        match = _SERVER_VERSION.match(server_version)
        return cls(match.group(1), match.group(2)) if match else None


@dataclass(frozen=True)
class StacksInfo:
    """`GET /v2/info`. Hashes are lower-case hex without `0x`."""

    burn_block_height: int
    stable_burn_block_height: int
    stacks_tip_height: int
    stacks_tip: str
    stacks_tip_consensus_hash: str
    is_fully_synced: bool
    server_version: str
    version: NodeVersion | None  # None when server_version does not have the known shape
    network_id: int
    parent_network_id: int
    peer_version: int
    tenure_height: int | None  # absent on pre-Nakamoto nodes
    pox_consensus: str | None
    unanchored_tip: str | None  # null on Nakamoto nodes
    exit_at_block_height: int | None
    canonical_tip_height: int | None  # the X-Canonical-Stacks-Tip-Height header
    evidence: Evidence

    @property
    def network(self) -> str | None:
        return NETWORK_IDS.get(self.network_id)

    @property
    def bitcoin_network(self) -> str | None:
        return BITCOIN_MAGICS.get(self.parent_network_id)


@dataclass(frozen=True)
class StacksHealth:
    """`GET /v3/health` (nodes >= 3.1.0.0.13)."""

    difference_from_max_peer: int
    node_stacks_tip_height: int
    max_stacks_height_of_neighbors: int
    max_stacks_neighbor_address: str | None  # null without peer data; absent before 3.2.0.0.2
    evidence: Evidence

    @property
    def has_peer_data(self) -> bool:
        known_peer = self.max_stacks_neighbor_address is not None
        return known_peer or self.max_stacks_height_of_neighbors > 0


@dataclass(frozen=True)
class PoxInfo:
    """`GET /v2/pox`: the reward cycle and how far the next signer-set handover is."""

    current_cycle_id: int
    next_cycle_id: int | None
    # Signed: the node reports a negative distance while the prepare phase is running.
    blocks_until_prepare_phase: int
    blocks_until_reward_phase: int | None
    prepare_phase_start_block_height: int | None
    current_burnchain_block_height: int | None
    reward_cycle_length: int | None
    prepare_phase_block_length: int | None
    contract_id: str | None
    current_epoch: str | None
    pox_5_sbtc_contract: str | None  # only from 4.0.1 on
    pox_5_sbtc_registry_contract: str | None
    evidence: Evidence

    @property
    def registry_deployer(self) -> str | None:
        """The registry's deployer as the node itself knows it (4.0.1+), else None."""
        if self.pox_5_sbtc_registry_contract is None:
            return None
        return self.pox_5_sbtc_registry_contract.split(".", 1)[0]


@dataclass(frozen=True)
class RegistryKey:
    """The sbtc-registry's current aggregate key; `key` is None before the first DKG."""

    key: bytes | None
    raw: str  # the Clarity value as returned, e.g. 0x0200000021… or 0x020000000100
    evidence: Evidence

    @property
    def hex(self) -> str | None:
        return self.key.hex() if self.key is not None else None


@dataclass(frozen=True)
class SignerData:
    """`get-current-signer-data`: the registry's view of the current signer set."""

    signer_set: tuple[bytes, ...]
    aggregate_key: bytes | None
    signer_principal: str
    threshold: int
    raw: str
    evidence: Evidence


def _describe_key(key: bytes | None) -> str:
    return key.hex() if key is not None else "no key yet (pre-DKG 0x00 buffer)"


def _call_failure_title(cause: str) -> str:
    # The wrapper changed across node versions (Unchecked(...) / RuntimeCheck(...)); match names.
    if "NoSuchContract" in cause:
        return "registry contract not found"
    if "UndefinedFunction" in cause or "NoSuchPublicFunction" in cause:
        return "registry function not found"
    return "contract call failed"


class RegistryClient(HttpService):
    """Reads of the sbtc-registry contract through a node's `/v2` RPC."""

    def __init__(self, base_url: str, *, deployer: str, timeout: float, **kwargs: Any) -> None:
        if "." in deployer:
            raise SourceNotConfigured(
                "invalid deployer address", "expected a standard principal, not a contract id"
            )
        try:
            self.deployer = normalize_address(deployer)
        except C32Error as exc:
            raise SourceNotConfigured(
                "invalid deployer address", f"{clean_text(deployer, 60)!r}: {exc}"
            ) from exc
        super().__init__(base_url, timeout=timeout, **kwargs)

    def check_reply(self, reply: HttpReply) -> None:
        """Raise the typed error for a non-200 answer (node errors are text/plain)."""
        if reply.status == 404 and "chain tip not found" in reply.text.lower():
            raise ChainTipNotFound(
                None, clean_text(reply.text.strip(), ERROR_DETAIL_LIMIT), reply.evidence, 404
            )
        raise_for_status(reply)

    def _decode(self, text: str, reply: HttpReply) -> ClarityValue:
        try:
            return decode(text)
        except ClarityDecodeError as exc:
            raise SourceProtocolError(
                "undecodable Clarity value", str(exc), reply.evidence
            ) from exc

    async def call_read(
        self, contract: str, function: str, arguments: tuple[str, ...] = ()
    ) -> tuple[ClarityValue, str, HttpReply]:
        """`POST /v2/contracts/call-read/...?tip=latest` as the signer makes it."""
        reply = await self.request(
            "POST",
            f"/v2/contracts/call-read/{self.deployer}/{contract}/{function}",
            params={"tip": "latest"},
            json_body={"sender": self.deployer, "arguments": list(arguments)},
        )
        self.check_reply(reply)
        fields = json_fields(reply, "call-read")
        if not fields.flag("okay"):
            cause = fields.opt_text("cause") or "(no cause given)"
            raise ContractCallError(
                _call_failure_title(cause), clean_text(cause, 300), reply.evidence
            )
        result = fields.text("result", limit=None)
        return self._decode(result, reply), result, reply

    def _registry_key(self, value: ClarityValue, raw: str, reply: HttpReply) -> RegistryKey:
        try:
            key = key_from_value(value)
        except ClarityDecodeError as exc:
            raise SourceProtocolError(
                "unexpected registry value", str(exc), reply.evidence
            ) from exc
        return RegistryKey(key, raw, reply.evidence.with_decoded(_describe_key(key)))

    async def aggregate_key(self) -> RegistryKey:
        """`get-current-aggregate-pubkey` through call-read."""
        value, raw, reply = await self.call_read(REGISTRY_CONTRACT, AGGREGATE_KEY_FUNCTION)
        return self._registry_key(value, raw, reply)

    async def aggregate_key_var(self) -> RegistryKey:
        """The backing data var, read the way the signer itself reads it."""
        reply = await self.request(
            "GET",
            f"/v2/data_var/{self.deployer}/{REGISTRY_CONTRACT}/{AGGREGATE_KEY_VAR}",
            params={"proof": "0"},
        )
        if reply.status == 404 and "data var not found" in reply.text.lower():
            raise DataVarNotFound(
                None, clean_text(reply.text.strip(), ERROR_DETAIL_LIMIT), reply.evidence, 404
            )
        self.check_reply(reply)
        data = json_fields(reply, "data_var").text("data", limit=None)
        return self._registry_key(self._decode(data, reply), data, reply)

    async def signer_data(self) -> SignerData:
        value, raw, reply = await self.call_read(REGISTRY_CONTRACT, SIGNER_DATA_FUNCTION)
        try:
            return self._signer_data(value, raw, reply)
        except (ClarityDecodeError, KeyError) as exc:
            raise SourceProtocolError(
                "unexpected registry value", f"signer data: {exc}", reply.evidence
            ) from exc

    def _signer_data(self, value: ClarityValue, raw: str, reply: HttpReply) -> SignerData:
        if not isinstance(value, ClarityTuple):
            raise ClarityDecodeError(f"expected a tuple, got {value.repr_clarity()[:80]}")
        members = value["current-signer-set"]
        threshold = value["current-signature-threshold"]
        principal = value["current-signer-principal"]
        if not isinstance(members, ClarityList) or not all(
            isinstance(m, ClarityBuffer) and len(m.value) == COMPRESSED_KEY_LENGTH for m in members
        ):
            raise ClarityDecodeError("current-signer-set is not a list of 33-byte keys")
        if not isinstance(threshold, ClarityUInt):
            raise ClarityDecodeError("current-signature-threshold is not a uint")
        if not isinstance(principal, StandardPrincipal | ContractPrincipal):
            raise ClarityDecodeError("current-signer-principal is not a principal")
        key = key_from_value(value["current-aggregate-pubkey"])
        signer_set = tuple(m.value for m in members if isinstance(m, ClarityBuffer))
        decoded = (
            f"{len(signer_set)} signers, threshold {threshold.value}, "
            f"principal {principal.address}, key {_describe_key(key)}"
        )
        return SignerData(
            signer_set=signer_set,
            aggregate_key=key,
            signer_principal=principal.address,
            threshold=threshold.value,
            raw=clean_text(raw, 2000),
            evidence=reply.evidence.with_decoded(decoded),
        )


class StacksNode(RegistryClient):
    """The operator's own stacks-node RPC endpoint."""

    source = "stacks-node"

    def __init__(self, base_url: str, *, deployer: str, timeout: float = 5.0) -> None:
        super().__init__(base_url, deployer=deployer, timeout=timeout)

    async def info(self) -> StacksInfo:
        reply = await self.request("GET", "/v2/info")
        self.check_reply(reply)
        f = json_fields(reply, "/v2/info")
        server_version = f.text("server_version")
        version = NodeVersion.parse(server_version)
        header = reply.headers.get(CANONICAL_TIP_HEADER, "").strip()
        info = StacksInfo(
            burn_block_height=f.integer("burn_block_height"),
            stable_burn_block_height=f.integer("stable_burn_block_height"),
            stacks_tip_height=f.integer("stacks_tip_height"),
            stacks_tip=f.hash("stacks_tip", 32),
            stacks_tip_consensus_hash=f.hash("stacks_tip_consensus_hash", 20),
            is_fully_synced=f.flag("is_fully_synced"),
            server_version=server_version,
            version=version,
            network_id=f.integer("network_id"),
            parent_network_id=f.integer("parent_network_id"),
            peer_version=f.integer("peer_version"),
            tenure_height=f.opt_integer("tenure_height"),
            pox_consensus=f.opt_hash("pox_consensus", 20),
            unanchored_tip=f.opt_hash("unanchored_tip", 32),
            exit_at_block_height=f.opt_integer("exit_at_block_height"),
            canonical_tip_height=int(header) if header.isdigit() else None,
            evidence=reply.evidence,
        )
        decoded = (
            f"burn {info.burn_block_height}, stacks tip {info.stacks_tip_height}, "
            f"synced {str(info.is_fully_synced).lower()}, "
            f"version {version.version if version else 'unparsed'}"
        )
        return replace(info, evidence=reply.evidence.with_decoded(decoded))

    async def health(self) -> StacksHealth | None:
        """None when the node predates `/v3/health` (it answers 404)."""
        reply = await self.request("GET", "/v3/health")
        if reply.status == 404:
            return None
        self.check_reply(reply)
        f = json_fields(reply, "/v3/health")
        health = StacksHealth(
            difference_from_max_peer=f.integer("difference_from_max_peer"),
            node_stacks_tip_height=f.integer("node_stacks_tip_height"),
            max_stacks_height_of_neighbors=f.integer("max_stacks_height_of_neighbors"),
            max_stacks_neighbor_address=f.opt_text("max_stacks_neighbor_address"),
            evidence=reply.evidence,
        )
        decoded = f"{health.difference_from_max_peer} blocks behind the best peer"
        return replace(health, evidence=reply.evidence.with_decoded(decoded))

    async def pox(self) -> PoxInfo:
        reply = await self.request("GET", "/v2/pox")
        self.check_reply(reply)
        f = json_fields(reply, "/v2/pox")
        current = f.sub("current_cycle")
        nxt = f.sub("next_cycle")
        pox = PoxInfo(
            current_cycle_id=current.integer("id"),
            next_cycle_id=nxt.opt_integer("id"),
            blocks_until_prepare_phase=nxt.integer("blocks_until_prepare_phase", signed=True),
            blocks_until_reward_phase=nxt.opt_integer("blocks_until_reward_phase", signed=True),
            prepare_phase_start_block_height=nxt.opt_integer("prepare_phase_start_block_height"),
            current_burnchain_block_height=f.opt_integer("current_burnchain_block_height"),
            reward_cycle_length=f.opt_integer("reward_cycle_length"),
            prepare_phase_block_length=f.opt_integer("prepare_phase_block_length"),
            contract_id=f.opt_text("contract_id"),
            current_epoch=f.opt_text("current_epoch"),
            pox_5_sbtc_contract=f.opt_text("pox_5_sbtc_contract"),
            pox_5_sbtc_registry_contract=f.opt_text("pox_5_sbtc_registry_contract"),
            evidence=reply.evidence,
        )
        decoded = (
            f"cycle {pox.current_cycle_id}, "
            f"{pox.blocks_until_prepare_phase} blocks until the prepare phase"
        )
        return replace(pox, evidence=reply.evidence.with_decoded(decoded))
