"""The Hiro-style chain API client against the simulated API over real loopback HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from signer_tui.credentials import Secret
from signer_tui.sim.hiro import HiroApiSim
from signer_tui.sim.server import SimRequest, SimResponse, SimServer
from signer_tui.sim.stacks import StacksNodeSim
from signer_tui.sim.state import Fault, SimState, fake_key
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceHTTPError,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnreachable,
)
from signer_tui.sources.hiro import ApiRateLimited, ChainApi
from signer_tui.sources.stacks import StacksNode

API_KEY = "hiro-test-key-7f3a9c"

MakeApi = Callable[..., ChainApi]


@pytest.fixture
def state() -> SimState:
    return SimState()


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    server = SimServer(HiroApiSim(state)).start()
    yield server
    state.stopping.set()
    server.stop()


@pytest.fixture
async def make_api(server: SimServer, state: SimState) -> AsyncIterator[MakeApi]:
    clients: list[ChainApi] = []

    def make(
        url: str | None = None,
        *,
        api_key: str | Secret | None = None,
        timeout: float = 2.0,
    ) -> ChainApi:
        client = ChainApi(
            url or server.url, deployer=state.deployer, api_key=api_key, timeout=timeout
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def api(make_api: MakeApi) -> ChainApi:
    return make_api()


@pytest.fixture
async def node(state: SimState) -> AsyncIterator[StacksNode]:
    """The operator's own node, on the same simulated chain."""
    server = SimServer(StacksNodeSim(state)).start()
    client = StacksNode(server.url, deployer=state.deployer, timeout=2.0)
    yield client
    await client.aclose()
    server.stop()


# -- status --------------------------------------------------------------------------------


async def test_status(api: ChainApi, state: SimState) -> None:
    status = await api.status()
    assert status.status == "ready"
    assert status.server_version is not None
    assert status.server_version.startswith("stacks-blockchain-api v")
    tip = status.chain_tip
    assert tip is not None
    assert tip.block_height == state.stacks_height
    # The API writes hashes with 0x; the client normalises them to the node's spelling.
    assert f'"0x{state.stacks_hash(state.stacks_height)}"' in status.evidence.raw
    assert tip.block_hash == state.stacks_hash(state.stacks_height)
    assert tip.index_block_hash is not None and len(tip.index_block_hash) == 64
    assert tip.burn_block_height == state.stacks_burn_height
    assert status.evidence.source == "chain-api"
    assert status.evidence.request.endswith("/extended")
    assert status.rate_limit is not None and status.rate_limit.limit == 50


async def test_old_status_path_redirects(api: ChainApi, server: SimServer, state: SimState) -> None:
    for legacy in ("/extended/v1/status", "/"):
        reply = await api.request("GET", legacy)
        assert reply.status == 301
        assert reply.headers["location"] == "/extended"
    status = await api.status("/extended/v1/status")
    assert status.chain_tip is not None and status.chain_tip.block_height == state.stacks_height
    assert [r.path for r in server.requests[-2:]] == ["/extended/v1/status", "/extended"]


class _TweakedHiroSim(HiroApiSim):
    """The Hiro simulator with an empty database and an off-site redirect."""

    def handle(self, request: SimRequest) -> SimResponse:
        if request.path == "/offsite":
            return SimResponse(301, b"", None, [("Location", "http://192.0.2.1/extended")])
        response = super().handle(request)
        if request.path == "/extended":
            response.body = b'{"server_version": "stacks-blockchain-api v9.0.2", "status": "ready"}'
        return response


async def test_status_without_chain_tip_and_offsite_redirect(
    make_api: MakeApi, state: SimState
) -> None:
    server = SimServer(_TweakedHiroSim(state)).start()
    try:
        api = make_api(server.url, api_key=API_KEY)
        status = await api.status()
        assert status.chain_tip is None
        assert "no chain tip yet" in status.evidence.decoded
        # A redirect to another host is not followed: the API key must not travel there.
        with pytest.raises(SourceProtocolError) as caught:
            await api.status("/offsite")
        assert caught.value.title == "unexpected redirect"
        assert [r.path for r in server.requests[-1:]] == ["/offsite"]
    finally:
        server.stop()


# -- the registry through the /v2 proxy ----------------------------------------------------


async def test_aggregate_key_through_the_proxy(api: ChainApi, state: SimState) -> None:
    registry = await api.aggregate_key()
    assert registry.key == state.chain_key
    assert registry.evidence.source == "chain-api"
    assert "/v2/contracts/call-read/" in registry.evidence.request
    reply = await api.request(
        "GET", f"/v2/data_var/{state.deployer}/sbtc-registry/current-aggregate-pubkey"
    )
    # Upstream node headers pass through the proxy, next to the API's rate-limit headers.
    assert reply.headers["server"] == "stacks/2.0"
    assert reply.headers["x-canonical-stacks-tip-height"] == str(state.stacks_height)
    assert "ratelimit-remaining" in reply.headers


async def test_pre_dkg_through_the_proxy(api: ChainApi, state: SimState) -> None:
    state.chain_key = None
    registry = await api.aggregate_key()
    assert registry.key is None
    assert registry.raw == "0x020000000100"


async def test_rotation_is_seen_by_node_and_api(
    api: ChainApi, node: StacksNode, state: SimState
) -> None:
    assert (await api.aggregate_key()).key == (await node.aggregate_key()).key == state.chain_key
    state.chain_key = fake_key("rotated-on-chain")
    assert (await node.aggregate_key()).key == fake_key("rotated-on-chain")
    assert (await api.aggregate_key()).key == fake_key("rotated-on-chain")


async def test_api_disagreeing_with_the_node(
    api: ChainApi, node: StacksNode, state: SimState
) -> None:
    state.hiro_key_override = fake_key("forked-view")
    from_api = await api.aggregate_key()
    from_node = await node.aggregate_key()
    assert from_api.key == fake_key("forked-view")
    assert from_node.key == state.chain_key
    assert from_api.hex != from_node.hex


# -- authentication ------------------------------------------------------------------------


async def test_api_key_enforced(make_api: MakeApi, server: SimServer, state: SimState) -> None:
    state.hiro_api_key = API_KEY
    without = make_api()
    with pytest.raises(SourceAuthError) as missing:
        await without.status()
    assert missing.value.title == "API key required"
    assert missing.value.status == 401
    assert "Unauthorized" in missing.value.detail
    with pytest.raises(SourceAuthError):
        await without.aggregate_key()

    wrong = make_api(api_key="not-the-key")
    with pytest.raises(SourceAuthError) as rejected:
        await wrong.aggregate_key()
    assert rejected.value.title == "API key rejected"
    assert "not-the-key" not in str(rejected.value) + rejected.value.detail

    for key in (API_KEY, Secret(API_KEY)):
        good = make_api(api_key=key)
        registry = await good.aggregate_key()
        assert registry.key == state.chain_key
        assert server.requests[-1].headers["x-api-key"] == API_KEY
        status = await good.status()
        assert status.rate_limit is not None and status.rate_limit.limit == 500
        for evidence in (registry.evidence, status.evidence):
            assert API_KEY not in repr(evidence)
        assert API_KEY not in repr(good.rate_limit)


async def test_no_key_header_without_a_key(api: ChainApi, server: SimServer) -> None:
    await api.status()
    assert "x-api-key" not in server.requests[-1].headers


# -- rate limiting -------------------------------------------------------------------------


async def test_429_with_a_long_wait_raises_at_once(
    api: ChainApi, server: SimServer, state: SimState
) -> None:
    state.hiro_rate_limited = True
    state.hiro_retry_after = 30
    started = time.monotonic()
    with pytest.raises(ApiRateLimited) as caught:
        await api.aggregate_key()
    assert time.monotonic() - started < 1.0
    assert len(server.requests) == 1
    error = caught.value
    assert isinstance(error, SourceRateLimited)
    assert error.status == 429
    assert error.retry_after == 30
    assert "Too Many Requests" in error.detail
    assert error.rate_limit is not None
    assert error.rate_limit.remaining == 0
    assert error.rate_limit.limit == 50
    assert error.rate_limit.reset is not None and error.rate_limit.reset > time.time()
    assert dict(error.rate_limit.headers)["x-ratelimit-remaining-stacks-minute"] == "0"
    assert api.rate_limit == error.rate_limit


async def test_429_with_a_short_wait_is_retried_once(
    api: ChainApi, server: SimServer, state: SimState
) -> None:
    state.hiro_rate_limited = True
    state.hiro_retry_after = 1
    lift = threading.Timer(0.3, lambda: setattr(state, "hiro_rate_limited", False))
    lift.start()
    started = time.monotonic()
    try:
        status = await api.status()
    finally:
        lift.cancel()
    elapsed = time.monotonic() - started
    assert status.status == "ready"
    assert 1.0 <= elapsed < 3.0
    assert len(server.requests) == 2
    assert status.rate_limit is not None and status.rate_limit.remaining is not None
    assert status.rate_limit.remaining > 0


async def test_429_persisting_after_the_retry_raises(
    api: ChainApi, server: SimServer, state: SimState
) -> None:
    state.hiro_rate_limited = True
    state.hiro_retry_after = 1
    started = time.monotonic()
    with pytest.raises(ApiRateLimited) as caught:
        await api.status()
    assert 1.0 <= time.monotonic() - started < 3.0
    assert len(server.requests) == 2
    assert caught.value.retry_after == 1


async def test_rate_limit_headers_after_success(api: ChainApi) -> None:
    await api.status()
    first = api.rate_limit
    await api.aggregate_key()
    second = api.rate_limit
    assert first is not None and second is not None
    assert first.remaining is not None and second.remaining is not None
    assert second.remaining < first.remaining
    names = dict(second.headers)
    assert names["x-ratelimit-cost-stacks"] == "1"
    assert "x-ratelimit-limit-stacks-month" in names


# -- failures ------------------------------------------------------------------------------


async def test_api_500_is_json_and_proxied_500_is_text(api: ChainApi, state: SimState) -> None:
    state.faults["hiro"] = Fault.HTTP_500
    with pytest.raises(SourceHTTPError) as own:
        await api.status()
    assert own.value.status == 500
    assert own.value.detail == "Internal Server Error: An internal server error occurred"
    with pytest.raises(SourceHTTPError) as proxied:
        await api.aggregate_key()
    assert proxied.value.status == 500
    assert "Failed to query chain state" in proxied.value.detail


async def test_unknown_route_is_a_json_404(api: ChainApi) -> None:
    with pytest.raises(SourceHTTPError) as caught:
        await api.status("/extended/v9/nothing")
    assert caught.value.status == 404
    assert caught.value.detail == "Not Found: Route GET:/extended/v9/nothing not found"


async def test_timeout(make_api: MakeApi, state: SimState) -> None:
    state.faults["hiro"] = Fault.TIMEOUT
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        await make_api(timeout=0.5).aggregate_key()
    assert time.monotonic() - started < 0.5 + 1.0


async def test_slow_drip(make_api: MakeApi, state: SimState) -> None:
    state.faults["hiro"] = Fault.SLOW_DRIP
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        await make_api(timeout=1.0).status()
    assert time.monotonic() - started < 1.0 + 1.0


async def test_connection_refused(api: ChainApi, server: SimServer) -> None:
    server.stop()
    with pytest.raises(SourceUnreachable):
        await api.status()


@pytest.mark.parametrize(
    ("fault", "title"),
    [(Fault.MALFORMED_JSON, "malformed JSON"), (Fault.WRONG_CONTENT_TYPE, "wrong content type")],
)
async def test_bad_bodies(api: ChainApi, state: SimState, fault: Fault, title: str) -> None:
    state.faults["hiro"] = fault
    for call in (api.status, api.aggregate_key):
        with pytest.raises(SourceProtocolError) as caught:
            await call()
        assert caught.value.title == title
