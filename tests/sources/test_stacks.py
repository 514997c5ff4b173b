"""The stacks-node client against the simulated node over real loopback HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from signer_tui.sbtc import VERIFIED_KEY_QUERY
from signer_tui.sim.db import signer_set
from signer_tui.sim.server import SimRequest, SimResponse, SimServer
from signer_tui.sim.stacks import StacksNodeSim
from signer_tui.sim.state import Fault, SimState, fake_key
from signer_tui.sources.c32 import is_address
from signer_tui.sources.errors import (
    SourceError,
    SourceHTTPError,
    SourceNotConfigured,
    SourceProtocolError,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
)
from signer_tui.sources.stacks import (
    ChainTipNotFound,
    ContractCallError,
    DataVarNotFound,
    NodeVersion,
    StacksNode,
)
from tests.conftest import SignerDb

OTHER_ADDRESS = "SP000000000000000000002Q6VF78"
PRE_DKG = "0x020000000100"


@pytest.fixture
def state() -> SimState:
    return SimState()


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    server = SimServer(StacksNodeSim(state)).start()
    yield server
    state.stopping.set()  # release hung or dripping handlers so the server can close
    server.stop()


MakeNode = Callable[..., StacksNode]


@pytest.fixture
async def make_node(server: SimServer, state: SimState) -> AsyncIterator[MakeNode]:
    """Clients of the simulated node (closed at teardown); keywords override the defaults."""
    clients: list[StacksNode] = []

    def make(
        url: str | None = None, *, deployer: str | None = None, timeout: float = 2.0
    ) -> StacksNode:
        client = StacksNode(url or server.url, deployer=deployer or state.deployer, timeout=timeout)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def node(make_node: MakeNode) -> StacksNode:
    return make_node()


# -- healthy paths -------------------------------------------------------------------------


async def test_info_reports_the_node_view(node: StacksNode, state: SimState) -> None:
    info = await node.info()
    assert info.burn_block_height == state.stacks_burn_height == state.bitcoin_height
    assert info.stable_burn_block_height == info.burn_block_height - 7
    assert info.stacks_tip_height == state.stacks_height
    assert info.stacks_tip == state.stacks_hash(state.stacks_height)
    assert re.fullmatch(r"[0-9a-f]{40}", info.stacks_tip_consensus_hash)
    assert info.is_fully_synced is True
    assert info.version == NodeVersion("stacks-node", state.stacks_version)
    assert (info.network_id, info.network) == (1, "mainnet")
    assert (info.parent_network_id, info.bitcoin_network) == (3652501241, "mainnet")
    assert info.peer_version & 0xFF000000 == 0x18000000
    assert info.tenure_height is not None and info.tenure_height > 0
    assert info.unanchored_tip is None and info.exit_at_block_height is None
    assert info.canonical_tip_height == state.stacks_height
    assert info.evidence.source == "stacks-node"
    assert info.evidence.request.startswith("GET http://127.0.0.1:")
    assert info.evidence.request.endswith("/v2/info")
    assert info.evidence.status == 200
    assert '"burn_block_height"' in info.evidence.raw
    assert f"stacks tip {state.stacks_height}" in info.evidence.decoded


@pytest.mark.parametrize(
    ("version", "build_part"),
    [
        ("3.1.0.0.12", r"release/3\.1\.0\.0\.12:[0-9a-f]{7}\+"),
        ("3.2.0.0.1", r"release/3\.2\.0\.0\.1:[0-9a-f]{7}\+"),
        ("3.3.0.0.6", r"[0-9a-f]{7}"),
        ("3.4.0.0.4", r"[0-9a-f]{7}"),
        ("4.0.2", r"[0-9a-f]{7}"),
    ],
)
async def test_server_version_per_generation(
    node: StacksNode, state: SimState, version: str, build_part: str
) -> None:
    state.stacks_version = version
    info = await node.info()
    escaped = re.escape(version)
    assert re.fullmatch(
        rf"stacks-node {escaped} \({build_part}, release build, linux \[x86_64\]\)",
        info.server_version,
    )
    assert info.version == NodeVersion("stacks-node", version)
    if version.startswith("4."):
        assert info.peer_version == 402653200


def test_node_version_parse_uses_only_the_prefix() -> None:
    assert NodeVersion.parse("stacks-node 9.9.9 (anything at all)") == NodeVersion(
        "stacks-node", "9.9.9"
    )
    assert NodeVersion.parse("stacks-node 3.4.0.0.4") is None
    assert NodeVersion.parse("") is None


async def test_health(node: StacksNode, state: SimState) -> None:
    state.stacks_peer_difference = 12
    health = await node.health()
    assert health is not None
    assert health.difference_from_max_peer == 12
    assert health.node_stacks_tip_height == state.stacks_height
    assert health.max_stacks_height_of_neighbors == state.stacks_height + 12
    assert health.max_stacks_neighbor_address is not None
    assert health.has_peer_data
    assert "12 blocks behind" in health.evidence.decoded


async def test_health_404_means_not_supported(node: StacksNode, state: SimState) -> None:
    state.stacks_health_supported = False
    assert await node.health() is None


async def test_old_node_generation(node: StacksNode, state: SimState) -> None:
    state.stacks_version = "3.1.0.0.12"  # before /v3/health existed
    info = await node.info()
    assert ":" in info.server_version.split("(", 1)[1]  # branch:commit
    assert info.version == NodeVersion("stacks-node", "3.1.0.0.12")
    assert await node.health() is None
    pox = await node.pox()
    assert pox.pox_5_sbtc_registry_contract is None and pox.registry_deployer is None

    state.stacks_version = "3.2.0.0.1"  # /v3/health, but no neighbour address yet
    health = await node.health()
    assert health is not None
    assert health.max_stacks_neighbor_address is None


async def test_pox(node: StacksNode, state: SimState) -> None:
    pox = await node.pox()
    assert pox.current_burnchain_block_height == state.stacks_burn_height
    assert pox.next_cycle_id == pox.current_cycle_id + 1
    assert pox.prepare_phase_start_block_height is not None
    assert pox.blocks_until_prepare_phase == (
        pox.prepare_phase_start_block_height - state.stacks_burn_height
    )
    assert pox.contract_id is not None and pox.contract_id.endswith(".pox-4")
    assert pox.pox_5_sbtc_contract is None  # 3.4 predates pox_5_*
    assert f"cycle {pox.current_cycle_id}" in pox.evidence.decoded


async def test_pox_5_fields_from_4_0_1(node: StacksNode, state: SimState) -> None:
    state.stacks_version = "4.0.1"
    pox = await node.pox()
    assert pox.pox_5_sbtc_registry_contract == f"{state.deployer}.sbtc-registry"
    assert pox.pox_5_sbtc_contract == f"{state.deployer}.sbtc-token"
    assert pox.registry_deployer == state.deployer
    state.stacks_version = "4.0.0"
    assert (await node.pox()).pox_5_sbtc_registry_contract is None


# -- the registry --------------------------------------------------------------------------


async def test_aggregate_key_both_ways(node: StacksNode, state: SimState) -> None:
    assert state.chain_key is not None
    for registry in (await node.aggregate_key(), await node.aggregate_key_var()):
        assert registry.key == state.chain_key
        assert registry.hex == state.chain_key.hex()
        assert registry.raw == "0x0200000021" + state.chain_key.hex()
        assert registry.evidence.decoded == state.chain_key.hex()
    call = await node.aggregate_key()
    assert "/v2/contracts/call-read/" in call.evidence.request
    assert call.evidence.request.endswith("/get-current-aggregate-pubkey?tip=latest")


async def test_call_read_request_shape(
    node: StacksNode, server: SimServer, state: SimState
) -> None:
    await node.aggregate_key()
    request = server.requests[-1]
    assert request.method == "POST"
    assert request.path == (
        f"/v2/contracts/call-read/{state.deployer}/sbtc-registry/get-current-aggregate-pubkey"
    )
    assert request.arg("tip") == "latest"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"sender": state.deployer, "arguments": []}
    await node.aggregate_key_var()
    assert server.requests[-1].arg("proof") == "0"


async def test_pre_dkg_key_is_none_not_an_error(node: StacksNode, state: SimState) -> None:
    state.chain_key = None
    for registry in (await node.aggregate_key(), await node.aggregate_key_var()):
        assert registry.key is None
        assert registry.hex is None
        assert registry.raw == PRE_DKG
        assert "pre-DKG" in registry.evidence.decoded
    data = await node.signer_data()
    assert data.aggregate_key is None
    assert data.signer_set == ()
    assert data.threshold == 0
    assert data.signer_principal == state.deployer


async def test_key_rotation_is_seen(node: StacksNode, state: SimState) -> None:
    before = await node.aggregate_key()
    state.chain_key = fake_key("rotated")
    after = await node.aggregate_key()
    assert after.key == fake_key("rotated") != before.key
    assert (await node.aggregate_key_var()).key == fake_key("rotated")
    assert (await node.signer_data()).aggregate_key == fake_key("rotated")


async def test_signer_data(node: StacksNode, state: SimState) -> None:
    data = await node.signer_data()
    assert data.aggregate_key == state.chain_key
    assert data.signer_set == tuple(signer_set(state))
    assert len(data.signer_set) == state.signer_set_size
    round_ = next(r for r in state.dkg_rounds if r.aggregate_key == state.chain_key)
    assert data.threshold == round_.signature_share_threshold
    assert is_address(data.signer_principal)
    assert data.signer_principal.startswith("SM")
    assert f"{state.signer_set_size} signers" in data.evidence.decoded
    assert data.raw.startswith("0x0c00000004")


async def test_missing_contract_is_a_typed_call_error(make_node: MakeNode) -> None:
    other = make_node(deployer=OTHER_ADDRESS)
    with pytest.raises(ContractCallError) as caught:
        await other.aggregate_key()
    assert caught.value.title == "registry contract not found"
    assert "NoSuchContract" in caught.value.detail
    assert f"{OTHER_ADDRESS}.sbtc-registry" in caught.value.cause
    assert caught.value.evidence is not None and caught.value.evidence.status == 200

    with pytest.raises(DataVarNotFound) as missing:
        await other.aggregate_key_var()
    assert missing.value.status == 404
    assert "Data var not found" in missing.value.detail


async def test_undefined_function_cause(node: StacksNode) -> None:
    with pytest.raises(ContractCallError) as caught:
        await node.call_read("sbtc-registry", "get-nothing")
    assert caught.value.title == "registry function not found"
    assert 'UndefinedFunction("get-nothing")' in caught.value.cause


@pytest.mark.parametrize(
    "deployer",
    [
        "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ5",  # checksum
        "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4.sbtc-registry",
        "not an address",
    ],
)
def test_invalid_deployer_is_not_configured(deployer: str) -> None:
    with pytest.raises(SourceNotConfigured) as caught:
        StacksNode("http://127.0.0.1:9", deployer=deployer)
    assert caught.value.title == "invalid deployer address"


# -- transport and server failures ---------------------------------------------------------


async def test_connection_refused(node: StacksNode, server: SimServer) -> None:
    server.stop()
    with pytest.raises(SourceUnreachable) as caught:
        await node.info()
    # (httpx/anyio words a refusal "All connection attempts failed"; the class is what counts.)
    assert caught.value.evidence is not None and caught.value.evidence.error
    assert caught.value.evidence.status is None


async def test_recovers_after_restart(node: StacksNode, server: SimServer) -> None:
    server.stop()
    with pytest.raises(SourceUnreachable):
        await node.info()
    server.restart()
    assert (await node.info()).is_fully_synced


async def test_timeout(make_node: MakeNode, state: SimState) -> None:
    state.faults["stacks"] = Fault.TIMEOUT
    fast = make_node(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        await fast.aggregate_key()
    assert time.monotonic() - started < 0.5 + 1.0


async def test_slow_drip_hits_the_overall_deadline(make_node: MakeNode, state: SimState) -> None:
    state.faults["stacks"] = Fault.SLOW_DRIP
    fast = make_node(timeout=1.0)
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        await fast.info()
    assert time.monotonic() - started < 1.0 + 1.0


async def test_oversized_body(node: StacksNode, state: SimState) -> None:
    state.faults["stacks"] = Fault.OVERSIZED
    with pytest.raises(SourceTooLarge):
        await node.info()


@pytest.mark.parametrize(
    ("fault", "title"),
    [(Fault.MALFORMED_JSON, "malformed JSON"), (Fault.WRONG_CONTENT_TYPE, "wrong content type")],
)
async def test_bad_bodies_are_protocol_errors(
    node: StacksNode, state: SimState, fault: Fault, title: str
) -> None:
    state.faults["stacks"] = fault
    for call in (node.info, node.aggregate_key, node.pox, node.health, node.signer_data):
        with pytest.raises(SourceProtocolError) as caught:
            await call()
        assert caught.value.title == title


async def test_http_500_text_body(node: StacksNode, state: SimState) -> None:
    state.faults["stacks"] = Fault.HTTP_500
    for call in (node.info, node.health, node.aggregate_key, node.aggregate_key_var):
        with pytest.raises(SourceHTTPError) as caught:
            await call()
        assert caught.value.status == 500
        assert "Failed to query chain state" in caught.value.detail


async def test_connection_reset(node: StacksNode, state: SimState) -> None:
    state.faults["stacks"] = Fault.RESET
    started = time.monotonic()
    with pytest.raises(SourceError):
        await node.info()
    assert time.monotonic() - started < 2.0


async def test_node_lagging_and_not_synced(node: StacksNode, state: SimState) -> None:
    state.stacks_burn_lag = 5
    state.stacks_synced = False
    info = await node.info()
    assert info.burn_block_height == state.bitcoin_height - 5
    assert info.is_fully_synced is False
    assert "synced false" in info.evidence.decoded


class _EditedInfoSim(StacksNodeSim):
    """The simulator with its /v2/info body edited, to exercise shape checks."""

    def __init__(self, state: SimState, edit: dict[str, object]) -> None:
        super().__init__(state)
        self.edit = edit

    def handle(self, request: SimRequest) -> SimResponse:
        response = super().handle(request)
        if request.path == "/v2/info":
            body = json.loads(response.body)
            for name, value in self.edit.items():
                if value is _DROP:
                    body.pop(name)
                else:
                    body[name] = value
            response.body = json.dumps(body).encode()
        return response


_DROP = object()


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"stacks_tip_height": _DROP}, "'stacks_tip_height' is missing"),
        ({"burn_block_height": "912345"}, "'burn_block_height' is not a non-negative integer"),
        ({"is_fully_synced": None}, "'is_fully_synced' is not a boolean"),
        ({"stacks_tip": "0xabc"}, "'stacks_tip' is not a 32-byte hex hash"),
        ({"server_version": _DROP}, "'server_version' is missing"),
    ],
)
async def test_missing_or_mistyped_info_fields(
    make_node: MakeNode, state: SimState, edit: dict[str, object], problem: str
) -> None:
    server = SimServer(_EditedInfoSim(state, edit)).start()
    try:
        with pytest.raises(SourceProtocolError) as caught:
            await make_node(server.url).info()
        assert problem in caught.value.detail
    finally:
        server.stop()


async def test_tolerated_nulls_and_absences(make_node: MakeNode, state: SimState) -> None:
    edit: dict[str, object] = {
        "tenure_height": _DROP,
        "pox_consensus": None,
        "server_version": "stacks-node\x1b[2J garbage",
    }
    server = SimServer(_EditedInfoSim(state, edit)).start()
    try:
        info = await make_node(server.url).info()
    finally:
        server.stop()
    assert info.tenure_height is None
    assert info.pox_consensus is None
    assert info.version is None  # unparseable: unknown, not a crash
    assert "\x1b" not in info.server_version


class _RegistryAnswerSim(StacksNodeSim):
    """The simulator answering every call-read with a fixed body."""

    def __init__(self, state: SimState, body: dict[str, object]) -> None:
        super().__init__(state)
        self.body = body

    def handle(self, request: SimRequest) -> SimResponse:
        response = super().handle(request)
        if "/call-read/" in request.path:
            response.body = json.dumps(self.body).encode()
        return response


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({"okay": True, "result": "0xzz"}, "undecodable Clarity value"),
        ({"okay": True, "result": "0x0200000021" + "02" * 32}, "undecodable Clarity value"),
        ({"okay": True, "result": "0x020000000100" + "00"}, "undecodable Clarity value"),
        (
            {"okay": True, "result": "0x0100000000000000000000000000000001"},
            "unexpected registry value",
        ),
        ({"okay": True, "result": "0x020000000201ff"}, "unexpected registry value"),
        ({"okay": True}, "unexpected response"),
        ({"okay": "yes", "result": "0x03"}, "unexpected response"),
    ],
)
async def test_bad_registry_answers_are_protocol_errors(
    make_node: MakeNode, state: SimState, body: dict[str, object], title: str
) -> None:
    server = SimServer(_RegistryAnswerSim(state, body)).start()
    try:
        client = make_node(server.url)
        with pytest.raises(SourceProtocolError) as caught:
            await client.aggregate_key()
        assert caught.value.title == title
        assert caught.value.evidence is not None and caught.value.evidence.status == 200
        with pytest.raises(SourceProtocolError):
            await client.signer_data()
    finally:
        server.stop()


async def test_call_failure_without_cause(make_node: MakeNode, state: SimState) -> None:
    server = SimServer(_RegistryAnswerSim(state, {"okay": False})).start()
    try:
        with pytest.raises(ContractCallError) as caught:
            await make_node(server.url).aggregate_key()
        assert caught.value.title == "contract call failed"
        assert caught.value.cause == "(no cause given)"
    finally:
        server.stop()


# -- simulator fidelity (the wire format clients must cope with) ---------------------------


async def test_common_headers_and_canonical_tip_only_on_success(
    node: StacksNode, state: SimState
) -> None:
    ok = await node.request("GET", "/v2/info")
    assert ok.headers["server"] == "stacks/2.0"
    assert ok.headers["access-control-allow-origin"] == "*"
    assert ok.headers["access-control-allow-headers"] == "origin, content-type"
    assert ok.headers["access-control-allow-methods"] == "POST, GET, OPTIONS"
    assert ok.headers["x-canonical-stacks-tip-height"] == str(state.stacks_height)
    assert ok.content_type == "application/json"
    assert "date" in ok.headers

    missing = await node.request("GET", "/v2/foo")
    assert missing.status == 404
    assert missing.content_type == "text/plain"
    assert missing.text == "No such API endpoint 'GET /v2/foo'"
    assert missing.headers["server"] == "stacks/2.0"
    assert "x-canonical-stacks-tip-height" not in missing.headers


async def test_wrong_verb_is_405_with_allow(node: StacksNode, state: SimState) -> None:
    reply = await node.request("POST", "/v2/info", content=b"")
    assert reply.status == 405
    assert reply.headers["allow"] == "GET"
    assert reply.text == "Method Not Allowed. Allowed: GET"
    path = f"/v2/contracts/call-read/{state.deployer}/sbtc-registry/get-current-aggregate-pubkey"
    reply = await node.request("GET", path)
    assert (reply.status, reply.headers["allow"]) == (405, "POST")
    assert (await node.request("OPTIONS", "/v2/info")).status == 200


async def test_call_read_requires_json_content_type(node: StacksNode, state: SimState) -> None:
    path = f"/v2/contracts/call-read/{state.deployer}/sbtc-registry/get-current-aggregate-pubkey"
    body = json.dumps({"sender": state.deployer, "arguments": []}).encode()
    reply = await node.request("POST", path, content=body, headers={"content-type": "text/plain"})
    assert reply.status == 400
    assert reply.content_type == "text/plain"
    assert "expected application/json" in reply.text
    with pytest.raises(SourceHTTPError) as caught:
        node.check_reply(reply)
    assert caught.value.status == 400 and "application/json" in caught.value.detail
    charset = {"content-type": "application/json; charset=utf-8"}
    assert (await node.request("POST", path, content=body, headers=charset)).status == 200
    empty = await node.request("POST", path, content=b"", headers=charset)
    assert empty.status == 400


async def test_info_rejects_a_body(node: StacksNode) -> None:
    reply = await node.request("GET", "/v2/info", content=b"{}")
    assert reply.status == 400
    assert reply.content_type == "text/plain"


async def test_unknown_tip_is_404(node: StacksNode, state: SimState) -> None:
    path = f"/v2/contracts/call-read/{state.deployer}/sbtc-registry/get-current-aggregate-pubkey"
    reply = await node.request(
        "POST",
        path,
        params={"tip": "ab" * 32},
        json_body={"sender": state.deployer, "arguments": []},
    )
    assert reply.status == 404
    assert reply.text == "Chain tip not found"
    with pytest.raises(ChainTipNotFound):
        node.check_reply(reply)


async def test_okay_result_cause_key_presence(node: StacksNode, state: SimState) -> None:
    ok = (
        await node.request(
            "POST",
            f"/v2/contracts/call-read/{state.deployer}/sbtc-registry/get-current-aggregate-pubkey",
            json_body={"sender": state.deployer, "arguments": []},
        )
    ).json()
    assert set(ok) == {"okay", "result"} and ok["okay"] is True
    assert ok["result"].startswith("0x")
    failed = (
        await node.request(
            "POST",
            f"/v2/contracts/call-read/{OTHER_ADDRESS}/sbtc-registry/get-current-aggregate-pubkey",
            json_body={"sender": state.deployer, "arguments": []},
        )
    ).json()
    assert set(failed) == {"okay", "cause"} and failed["okay"] is False
    assert failed["cause"] == f'RuntimeCheck(NoSuchContract("{OTHER_ADDRESS}.sbtc-registry"))'


async def test_data_var_proof_only_without_proof_0(node: StacksNode, state: SimState) -> None:
    path = f"/v2/data_var/{state.deployer}/sbtc-registry/current-aggregate-pubkey"
    with_proof = (await node.request("GET", path)).json()
    assert set(with_proof) == {"data", "proof"}
    without = (await node.request("GET", path, params={"proof": "0"})).json()
    assert set(without) == {"data"}
    other = await node.request("GET", f"/v2/data_var/{state.deployer}/sbtc-registry/nope")
    assert (other.status, other.text) == (404, "Data var not found")


# -- the chain against the signer's own database -------------------------------------------


async def test_registry_key_matches_newest_verified_key_in_db(signer_db: SignerDb) -> None:
    state = signer_db.state
    server = SimServer(StacksNodeSim(state)).start()
    client = StacksNode(server.url, deployer=state.deployer)
    try:
        registry = await client.aggregate_key()
    finally:
        await client.aclose()
        server.stop()
    with signer_db.connect() as conn:
        row = conn.execute(VERIFIED_KEY_QUERY).fetchone()
    assert row is not None
    db_key = row[0]
    assert isinstance(db_key, bytes)
    # The docs' manual check: drop the 0x0200000021 prefix and compare with encode(key, 'hex').
    assert registry.raw.lower().removeprefix("0x0200000021") == db_key.hex()
    assert registry.hex == db_key.hex()
