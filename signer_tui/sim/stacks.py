"""A simulated stacks-node RPC (wire-formats.md §1.1-1.5), answering from `SimState`.

It reproduces what clients trip over: text/plain errors, `Server: stacks/2.0` and CORS headers
on every answer, `X-Canonical-Stacks-Tip-Height` only on success, 404/405(+Allow)/400 from the
router, the mandatory JSON content type of call-read, the `okay`/`result`/`cause` key rules,
and the version-dependent shapes (server_version per generation, `/v3/health` from
3.1.0.0.13, its neighbour address from 3.2.0.0.2, `pox_5_*` from 4.0.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from signer_tui.sbtc import (
    AGGREGATE_KEY_FUNCTION,
    AGGREGATE_KEY_VAR,
    REGISTRY_CONTRACT,
    SIGNER_DATA_FUNCTION,
)
from signer_tui.sim.db import signer_set
from signer_tui.sim.server import SimApp, SimRequest, SimResponse
from signer_tui.sim.state import SimState, fake_hash, fake_key
from signer_tui.sources.c32 import (
    MAINNET_MULTISIG,
    TESTNET_MULTISIG,
    C32Error,
    normalize_address,
)
from signer_tui.sources.clarity import (
    ClarityBuffer,
    ClarityDecodeError,
    ClarityList,
    ClarityTuple,
    ClarityUInt,
    ClarityValue,
    ContractPrincipal,
    StandardPrincipal,
    decode,
    encode_hex,
)

BOOT_ADDRESS = {"mainnet": "SP000000000000000000002Q6VF78"}
TESTNET_BOOT_ADDRESS = "ST000000000000000000002AMW42H"
NETWORK_ID = {"mainnet": 1}
TESTNET_NETWORK_ID = 0x80000000
PARENT_NETWORK_ID = {"mainnet": 0xD9B4BEF9, "testnet": 0x0709110B, "regtest": 0xDAB5BFFA}
# burn_block_height - stable_burn_block_height (stackslib burnchains/mod.rs).
STABLE_CONFIRMATIONS = {"mainnet": 7, "testnet": 7, "regtest": 1}

FIRST_BURN_HEIGHT = 666_050
REWARD_CYCLE_LENGTH = 2100
PREPARE_PHASE_LENGTH = 100
# Offset that makes the tenure height of the reference example (190523 at burn 912345).
TENURE_OFFSET = 721_822

HEALTH_SINCE = (3, 1, 0, 0, 13)
NEIGHBOR_ADDRESS_SINCE = (3, 2, 0, 0, 2)
BARE_COMMIT_SINCE = (3, 3)
POX_5_SINCE = (4, 0, 1)

CONTENT_TYPE_ERROR = "Invalid content-type: expected application/json"


def version_tuple(version: str) -> tuple[int, ...]:
    """`3.4.0.0.4` -> (3, 4, 0, 0, 4); `4.0.2-rc1` -> (4, 0, 2)."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(p) for p in match.group(0).split(".")) if match else (0,)


def server_version(version: str) -> str:
    """The node's `server_version` in the format of its generation (stackslib/src/lib.rs)."""
    commit = fake_hash(f"stacks-core-{version}").hex()[:7]
    legacy = version_tuple(version) < BARE_COMMIT_SINCE
    build = f"release/{version}:{commit}+" if legacy else commit
    return f"stacks-node {version} ({build}, release build, linux [x86_64])"


def epoch_byte(version: str) -> int:
    """The highest network epoch a node version supports (the low byte of peer_version)."""
    parts = version_tuple(version)
    if parts >= (4,):
        return 0x10
    if parts >= (3, 4):
        return 0x0F
    if parts >= (3, 3):
        return 0x0E
    if parts >= (3, 2):
        return 0x0D
    return 0x0C


# Network epoch byte -> the name /v2/pox reports (simulated: the current epoch is the newest).
EPOCH_NAMES = {0x0C: "Epoch31", 0x0D: "Epoch32", 0x0E: "Epoch33", 0x0F: "Epoch34", 0x10: "Epoch40"}


def consensus_hash(state: SimState, burn_height: int) -> str:
    return fake_hash(f"{state.name}-consensus-{burn_height}").hex()[:40]


def index_block_id(state: SimState, stacks_height: int) -> str:
    return fake_hash(f"{state.name}-index-{stacks_height}").hex()


def signer_principal(state: SimState, key: bytes) -> StandardPrincipal:
    """A stand-in for the multisig address the registry derives from the signer set."""
    version = MAINNET_MULTISIG if state.network == "mainnet" else TESTNET_MULTISIG
    return StandardPrincipal(version, fake_hash(f"{state.name}-principal-{key.hex()}")[:20])


def _same_address(left: str, right: str) -> bool:
    try:
        return normalize_address(left) == normalize_address(right)
    except C32Error:
        return False


def _is_principal(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        if "." in text:
            ContractPrincipal.from_contract_id(text)
        else:
            StandardPrincipal.from_address(text)
    except ClarityDecodeError:
        return False
    return True


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    method: str
    handler: Callable[[SimRequest, re.Match[str]], SimResponse]


class StacksNodeSim(SimApp):
    """stacks-node RPC. `registry_service` selects whose registry view it serves (the Hiro
    simulator embeds one with "hiro", so `hiro_key_override` applies to it only)."""

    service = "stacks"

    def __init__(self, state: SimState, *, registry_service: str | None = None) -> None:
        super().__init__(state)
        self.registry_service = registry_service or self.service
        self.routes = [
            _Route(re.compile(r"/v2/info"), "GET", self._info),
            _Route(re.compile(r"/v3/health"), "GET", self._health),
            _Route(re.compile(r"/v2/pox"), "GET", self._pox),
            _Route(
                re.compile(r"/v2/contracts/call-read/([^/]+)/([^/]+)/([^/]+)"),
                "POST",
                self._call_read,
            ),
            _Route(re.compile(r"/v2/data_var/([^/]+)/([^/]+)/([^/]+)"), "GET", self._data_var),
        ]

    # -- transport ---------------------------------------------------------------------

    def common_headers(self) -> list[tuple[str, str]]:
        return [
            ("Server", "stacks/2.0"),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Headers", "origin, content-type"),
            ("Access-Control-Allow-Methods", "POST, GET, OPTIONS"),
        ]

    def server_error(self, request: SimRequest) -> SimResponse:
        return SimResponse.text("Failed to query chain state: database is locked", 500)

    def handle(self, request: SimRequest) -> SimResponse:
        for route in self.routes:
            match = route.pattern.fullmatch(request.path)
            if match is None:
                continue
            if route.handler == self._health and not self._health_supported():
                break
            if request.method == "OPTIONS":
                return SimResponse(200, b"", "text/plain")
            if request.method != route.method:
                return SimResponse.text(
                    f"Method Not Allowed. Allowed: {route.method}",
                    405,
                    [("Allow", route.method)],
                )
            with self.state.lock:
                return route.handler(request, match)
        return SimResponse.text(f"No such API endpoint '{request.method} {request.path}'", 404)

    def _ok(self, value: object) -> SimResponse:
        return SimResponse.json(
            value, headers=[("X-Canonical-Stacks-Tip-Height", str(self.state.stacks_height))]
        )

    def _tip_error(self, request: SimRequest) -> SimResponse | None:
        tip = request.arg("tip")
        if tip in (None, "", "latest") or tip == index_block_id(
            self.state, self.state.stacks_height
        ):
            return None
        return SimResponse.text("Chain tip not found", 404)

    @property
    def _version(self) -> tuple[int, ...]:
        return version_tuple(self.state.stacks_version)

    def _health_supported(self) -> bool:
        return self.state.stacks_health_supported and self._version >= HEALTH_SINCE

    # -- node endpoints ----------------------------------------------------------------

    def _info(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        if request.headers.get("content-length", "0").strip() not in ("", "0") or request.body:
            return SimResponse.text("Invalid request: /v2/info takes no body", 400)
        state = self.state
        network = state.network
        burn = state.stacks_burn_height
        height = state.stacks_height
        mainnet = network == "mainnet"
        peer_base = 0x18000000 if mainnet else 0xFACADE00
        node_key = fake_key(f"{state.name}-node")
        return self._ok(
            {
                "peer_version": peer_base | epoch_byte(state.stacks_version),
                "pox_consensus": consensus_hash(state, burn),
                "burn_block_height": burn,
                "stable_pox_consensus": consensus_hash(
                    state, burn - STABLE_CONFIRMATIONS.get(network, 7)
                ),
                "stable_burn_block_height": burn - STABLE_CONFIRMATIONS.get(network, 7),
                "server_version": server_version(state.stacks_version),
                "network_id": NETWORK_ID.get(network, TESTNET_NETWORK_ID),
                "parent_network_id": PARENT_NETWORK_ID.get(network, PARENT_NETWORK_ID["testnet"]),
                "stacks_tip_height": height,
                "stacks_tip": state.stacks_hash(height),
                "stacks_tip_consensus_hash": consensus_hash(state, burn),
                "genesis_chainstate_hash": fake_hash(f"{network}-genesis").hex(),
                "unanchored_tip": None,
                "unanchored_seq": None,
                "tenure_height": max(0, burn - TENURE_OFFSET),
                "exit_at_block_height": None,
                "is_fully_synced": state.stacks_synced,
                "node_public_key": node_key.hex(),
                "node_public_key_hash": fake_hash(node_key.hex()).hex()[:40],
                "stackerdbs": [f"{self._boot_address()}.signers-1-0"],
            }
        )

    def _health(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        height = self.state.stacks_height
        difference = max(0, self.state.stacks_peer_difference)
        body: dict[str, object] = {
            "difference_from_max_peer": difference,
            "node_stacks_tip_height": height,
            "max_stacks_height_of_neighbors": height + difference,
        }
        if self._version >= NEIGHBOR_ADDRESS_SINCE:
            body["max_stacks_neighbor_address"] = "10.0.0.7:20444"
        return self._ok(body)

    def _boot_address(self) -> str:
        return BOOT_ADDRESS.get(self.state.network, TESTNET_BOOT_ADDRESS)

    def _pox(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        if (error := self._tip_error(request)) is not None:
            return error
        burn = self.state.stacks_burn_height
        cycle = (burn - FIRST_BURN_HEIGHT) // REWARD_CYCLE_LENGTH
        next_reward_start = FIRST_BURN_HEIGHT + (cycle + 1) * REWARD_CYCLE_LENGTH
        next_prepare_start = next_reward_start - PREPARE_PHASE_LENGTH
        pox_contract = f"{self._boot_address()}.pox-4"
        body: dict[str, object] = {
            "contract_id": pox_contract,
            "current_epoch": EPOCH_NAMES[epoch_byte(self.state.stacks_version)],
            "first_burnchain_block_height": FIRST_BURN_HEIGHT,
            "current_burnchain_block_height": burn,
            "prepare_phase_block_length": PREPARE_PHASE_LENGTH,
            "reward_phase_block_length": REWARD_CYCLE_LENGTH - PREPARE_PHASE_LENGTH,
            "reward_cycle_length": REWARD_CYCLE_LENGTH,
            "reward_cycle_id": cycle,
            "reward_slots": 4000,
            "total_liquid_supply_ustx": 1_046_595_232_087_772,
            "min_amount_ustx": 70_000_000_000,
            "current_cycle": {
                "id": cycle,
                "min_threshold_ustx": 70_000_000_000,
                "stacked_ustx": 202_157_971_547_640,
                "is_pox_active": True,
            },
            "next_cycle": {
                "id": cycle + 1,
                "prepare_phase_start_block_height": next_prepare_start,
                "blocks_until_prepare_phase": next_prepare_start - burn,
                "reward_phase_start_block_height": next_reward_start,
                "blocks_until_reward_phase": next_reward_start - burn,
                "stacked_ustx": 190_000_000_000_000,
                "min_threshold_ustx": 70_000_000_000,
                "min_increment_ustx": 130_824_404_010,
                "ustx_until_pox_rejection": 523_297_616_043_886,
            },
            "next_reward_cycle_in": next_reward_start - burn,
            "contract_versions": [
                {
                    "contract_id": pox_contract,
                    "activation_burnchain_block_height": 840_360,
                    "first_reward_cycle_id": 84,
                }
            ],
        }
        if self._version >= POX_5_SINCE:
            body["pox_5_sbtc_contract"] = f"{self.state.deployer}.sbtc-token"
            body["pox_5_sbtc_registry_contract"] = f"{self.state.deployer}.{REGISTRY_CONTRACT}"
        return self._ok(body)

    # -- the sbtc-registry ---------------------------------------------------------------

    def _registry_value(self, function: str) -> ClarityValue | None:
        key = self.state.registry_key_for(self.registry_service)
        key_value = ClarityBuffer(key if key is not None else b"\x00")
        if function == AGGREGATE_KEY_FUNCTION:
            return key_value
        members: tuple[ClarityValue, ...] = ()
        principal = StandardPrincipal.from_address(self.state.deployer)
        threshold = 0
        if key is not None:
            members = tuple(ClarityBuffer(k) for k in signer_set(self.state))
            principal = signer_principal(self.state, key)
            threshold = next(
                (
                    r.signature_share_threshold
                    for r in self.state.dkg_rounds
                    if r.aggregate_key == key
                ),
                10,
            )
        if function == "get-current-signer-set":
            return ClarityList(members)
        if function == "get-current-signer-principal":
            return principal
        if function == SIGNER_DATA_FUNCTION:
            return ClarityTuple.of(
                {
                    "current-aggregate-pubkey": key_value,
                    "current-signature-threshold": ClarityUInt(threshold),
                    "current-signer-principal": principal,
                    "current-signer-set": ClarityList(members),
                }
            )
        return None

    def _is_registry(self, address: str, contract: str) -> bool:
        return contract == REGISTRY_CONTRACT and _same_address(address, self.state.deployer)

    def _call_read(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        address, contract, function = match.groups()
        if "." in address or not _is_principal(address):
            return SimResponse.text(f"Invalid path parameters for '{request.path}'", 400)
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return SimResponse.text(CONTENT_TYPE_ERROR, 400)
        if not request.body:
            return SimResponse.text("Invalid request body: empty body", 400)
        try:
            body = json.loads(request.body)
        except ValueError:
            return SimResponse.text("Invalid request body: failed to parse JSON", 400)
        if not isinstance(body, dict) or not _is_principal(body.get("sender")):
            return SimResponse.text("Invalid request body: bad or missing sender", 400)
        arguments = body.get("arguments")
        if not isinstance(arguments, list):
            return SimResponse.text("Invalid request body: missing arguments", 400)
        for argument in arguments:
            try:
                decode(argument if isinstance(argument, str) else "")
            except ClarityDecodeError:
                return SimResponse.text("Invalid request body: undecodable argument", 400)
        if (error := self._tip_error(request)) is not None:
            return error
        contract_id = f"{address}.{contract}"
        if not self._is_registry(address, contract):
            return self._ok(
                {"okay": False, "cause": f'RuntimeCheck(NoSuchContract("{contract_id}"))'}
            )
        value = self._registry_value(function)
        if value is None:
            return self._ok(
                {"okay": False, "cause": f'RuntimeCheck(UndefinedFunction("{function}"))'}
            )
        if arguments:
            return self._ok(
                {
                    "okay": False,
                    "cause": f"RuntimeCheck(IncorrectArgumentCount(0, {len(arguments)}))",
                }
            )
        return self._ok({"okay": True, "result": encode_hex(value)})

    def _data_var(self, request: SimRequest, match: re.Match[str]) -> SimResponse:
        address, contract, var = match.groups()
        if "." in address or not _is_principal(address):
            return SimResponse.text(f"Invalid path parameters for '{request.path}'", 400)
        if (error := self._tip_error(request)) is not None:
            return error
        if not self._is_registry(address, contract) or var != AGGREGATE_KEY_VAR:
            return SimResponse.text("Data var not found", 404)
        value = self._registry_value(AGGREGATE_KEY_FUNCTION)
        assert value is not None
        body = {"data": encode_hex(value)}
        # The node omits the MARF proof only when asked with proof=0.
        if request.arg("proof") != "0":
            body["proof"] = "0x" + fake_hash(f"proof-{body['data']}").hex() * 4
        return self._ok(body)
