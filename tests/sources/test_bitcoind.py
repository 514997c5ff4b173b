"""The bitcoind client against the bitcoind simulator, over real loopback HTTP."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from signer_tui.credentials import Secret
from signer_tui.sim.bitcoind import (
    AUTH_FAIL_DELAY,
    BitcoindSim,
    new_cookie,
    rotate_cookie,
    write_cookie_file,
)
from signer_tui.sim.server import SimServer
from signer_tui.sim.state import Fault, SimState
from signer_tui.sources.bitcoind import (
    Bitcoind,
    BitcoindMethodNotFound,
    BitcoindRpcError,
    IndexState,
)
from signer_tui.sources.errors import (
    SecretUnavailable,
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceProtocolError,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
    SourceWarmingUp,
)

DIALECTS = ["1.0", "2.0"]


@pytest.fixture
def state() -> SimState:
    return SimState()


def serve(state: SimState, **kwargs: object) -> SimServer:
    return SimServer(BitcoindSim(state, **kwargs)).start()  # type: ignore[arg-type]


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    srv = serve(state)
    yield srv
    state.stopping.set()  # release handlers hanging in a TIMEOUT or SLOW_DRIP fault
    srv.stop()


def client_for(
    srv: SimServer, state: SimState, *, dialect: str = "1.0", timeout: float = 3.0
) -> Bitcoind:
    return Bitcoind(
        srv.url,
        user=state.bitcoind_user,
        password=Secret(state.bitcoind_password),
        timeout=timeout,
        dialect=dialect,  # type: ignore[arg-type]
    )


@pytest.fixture
async def client(server: SimServer, state: SimState) -> AsyncIterator[Bitcoind]:
    async with client_for(server, state) as c:
        yield c  # type: ignore[misc]


def assert_secret_free(secret: str, *things: object) -> None:
    """Neither the secret nor the Basic token built from it may appear anywhere."""
    tokens = [secret, base64.b64encode(f"signer:{secret}".encode()).decode()]
    for thing in things:
        texts = [str(thing), repr(thing)]
        if isinstance(thing, SourceError):
            texts += [thing.title, thing.detail, repr(thing.evidence), str(thing.__cause__)]
        for text in texts:
            for token in tokens:
                assert token not in text


# -- healthy paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_method_healthy(server: SimServer, state: SimState, dialect: str) -> None:
    async with client_for(server, state, dialect=dialect) as c:
        chain = await c.blockchain_info()
        net = await c.network_info()
        best = await c.best_block_hash()
        up = await c.uptime()
        indexes = await c.index_info()

    assert chain.chain == "main"
    assert chain.blocks == chain.headers == state.bitcoin_height
    assert chain.bestblockhash == state.bitcoin_hash(state.bitcoin_height)
    assert chain.initialblockdownload is False
    assert chain.pruned is False
    assert chain.verificationprogress is not None and chain.verificationprogress > 0.999
    # The sim dates the tip relative to the wall clock: allow for a second ticking over.
    assert chain.time is not None
    assert abs(chain.time - state.bitcoin_block_time(state.bitcoin_height)) <= 2
    assert chain.mediantime is not None and chain.mediantime < chain.time
    assert chain.size_on_disk is not None and chain.size_on_disk > 0
    assert chain.warnings == ()
    assert chain.headers_ahead == 0
    assert chain.bits is None and chain.target is None  # v28 has neither
    assert net.version == 280_100
    assert net.version_tuple == (28, 1, 0)
    assert net.version_text == "28.1.0"
    assert net.subversion == "/Satoshi:28.1.0/"
    assert (net.connections, net.connections_in, net.connections_out) == (10, 0, 10)
    assert best.hash == chain.bestblockhash
    assert 0 <= up.seconds < 600
    assert indexes.indexes == {"txindex": IndexState(True, state.bitcoin_height)}
    # Evidence names the RPC method (every call is `POST /`), the status and the raw body.
    assert chain.evidence.request == f"POST {server.url}/ getblockchaininfo"
    assert chain.evidence.status == 200
    assert '"bestblockhash"' in chain.evidence.raw
    assert "blocks=912345" in chain.evidence.decoded
    assert net.evidence.request.endswith("getnetworkinfo")
    # The dialect really was used on the wire.
    sent = [json.loads(r.body) for r in server.requests]
    assert {r["jsonrpc"] for r in sent} == {dialect}


async def test_legacy_and_v2_reply_shapes_on_the_wire(server: SimServer, state: SimState) -> None:
    auth = (state.bitcoind_user, state.bitcoind_password)
    async with httpx.AsyncClient(auth=auth, trust_env=False) as http:
        legacy = await http.post(server.url, json={"id": 7, "method": "getblockcount"})
        v2 = await http.post(
            server.url, json={"jsonrpc": "2.0", "id": 8, "method": "getblockcount"}
        )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.content.endswith(b"\n")
    assert legacy.json() == {"result": state.bitcoin_height, "error": None, "id": 7}
    assert v2.json() == {"jsonrpc": "2.0", "result": state.bitcoin_height, "id": 8}


@pytest.mark.parametrize(
    ("version", "raw"),
    [(270_200, '"warnings":"Pre-release'), (280_100, '"warnings":["Pre-release')],
)
async def test_warnings_string_up_to_v27_array_from_v28(
    state: SimState, version: int, raw: str
) -> None:
    state.bitcoind_version = version
    srv = serve(state, warning="Pre-release test build\x1b[31m - use at your own risk")
    try:
        async with client_for(srv, state) as c:
            chain = await c.blockchain_info()
            net = await c.network_info()
    finally:
        srv.stop()
    assert raw in chain.evidence.raw
    # Normalised to a list either way, with the terminal escape stripped.
    expected = ("Pre-release test build - use at your own risk",)
    assert chain.warnings == expected
    assert net.warnings == expected


async def test_empty_warning_string_of_v27_is_no_warning(
    server: SimServer, state: SimState
) -> None:
    state.bitcoind_version = 270_100
    async with client_for(server, state) as c:
        chain = await c.blockchain_info()
    assert '"warnings":""' in chain.evidence.raw
    assert chain.warnings == ()


async def test_bits_and_target_from_v29(client: Bitcoind, state: SimState) -> None:
    state.bitcoind_version = 290_100
    chain = await client.blockchain_info()
    assert chain.bits == "17023a04"
    assert chain.target is not None and len(chain.target) == 64


async def test_index_info_empty_when_no_index(state: SimState) -> None:
    srv = serve(state, txindex=False)
    try:
        async with client_for(srv, state) as c:
            info = await c.index_info()
    finally:
        srv.stop()
    assert info.indexes == {}
    assert info.evidence.decoded == "no indexes"


async def test_initial_block_download(client: Bitcoind, state: SimState) -> None:
    state.bitcoind_ibd = True
    state.bitcoin_headers_ahead = 5_000
    chain = await client.blockchain_info()
    assert chain.initialblockdownload is True
    assert chain.headers - chain.blocks == 5_000 == chain.headers_ahead
    assert chain.verificationprogress is not None and chain.verificationprogress < 0.99


async def test_pruned_node(client: Bitcoind, state: SimState) -> None:
    state.bitcoind_pruned = True
    chain = await client.blockchain_info()
    assert chain.pruned is True
    assert chain.pruneheight == state.bitcoin_height - 1_500


async def test_credentials_in_url_are_used_and_never_shown(
    server: SimServer, state: SimState
) -> None:
    url = server.url.replace("://", f"://{state.bitcoind_user}:{state.bitcoind_password}@")
    async with Bitcoind(url, timeout=3.0) as c:
        best = await c.best_block_hash()
    assert best.hash == state.bitcoin_hash(state.bitcoin_height)
    assert_secret_free(state.bitcoind_password, best, best.evidence)
    assert state.bitcoind_password not in c.base_url


# -- authentication --------------------------------------------------------------------------


async def test_wrong_password_is_authentication_failed(server: SimServer, state: SimState) -> None:
    async with Bitcoind(
        server.url, user=state.bitcoind_user, password=Secret("not-the-password"), timeout=3.0
    ) as c:
        started = time.monotonic()
        with pytest.raises(SourceAuthError) as caught:
            await c.blockchain_info()
        elapsed = time.monotonic() - started
    exc = caught.value
    assert exc.title == "authentication failed"
    assert exc.status == 401
    assert exc.evidence is not None and exc.evidence.status == 401
    assert exc.evidence.raw == ""
    assert elapsed >= AUTH_FAIL_DELAY * 0.8  # bitcoind's anti-guessing pause
    assert_secret_free("not-the-password", exc)
    assert_secret_free(state.bitcoind_password, exc)


async def test_401_reply_shape(server: SimServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        reply = await http.post(server.url, json={"method": "getblockcount", "id": 1})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Basic realm="jsonrpc"'
    assert reply.content == b""
    assert "content-type" not in reply.headers


async def test_cookie_auth_rereads_the_file_after_a_restart(
    server: SimServer, state: SimState, tmp_path: Path
) -> None:
    cookie_file = tmp_path / "bitcoin" / ".cookie"
    first = rotate_cookie(state, cookie_file)
    assert cookie_file.read_bytes() == f"__cookie__:{first}".encode()  # no trailing newline
    assert len(first) == 64
    async with Bitcoind(server.url, cookie_file=cookie_file, timeout=3.0) as c:
        before = await c.blockchain_info()
        second = rotate_cookie(state, cookie_file)  # bitcoind restarted: a new cookie
        after = await c.blockchain_info()
    assert first != second
    assert before.blocks == after.blocks == state.bitcoin_height
    for secret in (first, second):
        assert_secret_free(secret, before, after, before.evidence, after.evidence)
    sent = [r.headers["authorization"] for r in server.requests]
    assert sent[0] != sent[1]


async def test_stale_cookie_is_authentication_failed(
    server: SimServer, state: SimState, tmp_path: Path
) -> None:
    cookie_file = write_cookie_file(tmp_path / ".cookie", new_cookie())
    state.bitcoind_cookie = new_cookie()  # bitcoind restarted but the file is an old copy
    async with Bitcoind(server.url, cookie_file=cookie_file, timeout=3.0) as c:
        with pytest.raises(SourceAuthError) as caught:
            await c.uptime()
    assert caught.value.title == "authentication failed"
    assert str(cookie_file) in caught.value.detail
    old = cookie_file.read_text().split(":", 1)[1]
    assert_secret_free(old, caught.value)
    assert_secret_free(state.bitcoind_cookie, caught.value)


async def test_missing_cookie_file_names_the_path(server: SimServer, tmp_path: Path) -> None:
    missing = tmp_path / "regtest" / ".cookie"
    async with Bitcoind(server.url, cookie_file=missing, timeout=3.0) as c:
        with pytest.raises(SecretUnavailable) as caught:
            await c.blockchain_info()
    assert str(missing) in caught.value.title
    assert server.requests == []  # nothing was sent without credentials


async def test_malformed_cookie_file_does_not_leak_its_content(
    server: SimServer, tmp_path: Path
) -> None:
    cookie_file = tmp_path / ".cookie"
    cookie_file.write_text("just-a-secret-without-a-user")
    async with Bitcoind(server.url, cookie_file=cookie_file, timeout=3.0) as c:
        with pytest.raises(SecretUnavailable) as caught:
            await c.blockchain_info()
    assert "malformed" in caught.value.title
    assert_secret_free("just-a-secret-without-a-user", caught.value)


async def test_rpcwhitelist_denial_is_forbidden(client: Bitcoind, state: SimState) -> None:
    state.bitcoind_rpc_whitelist = ["getblockchaininfo"]
    assert (await client.blockchain_info()).blocks == state.bitcoin_height
    with pytest.raises(SourceAuthError) as caught:
        await client.network_info()
    assert caught.value.title == "forbidden (rpcwhitelist/rpcallowip)"
    assert caught.value.status == 403
    assert_secret_free(state.bitcoind_password, caught.value)


# -- RPC errors in both dialects -------------------------------------------------------------


@pytest.mark.parametrize(("dialect", "http_status"), [("1.0", 500), ("2.0", 200)])
async def test_warming_up_carries_the_message(
    server: SimServer, state: SimState, dialect: str, http_status: int
) -> None:
    state.bitcoind_warming_up = True
    async with client_for(server, state, dialect=dialect) as c:
        with pytest.raises(SourceWarmingUp) as caught:
            await c.blockchain_info()
        with pytest.raises(SourceWarmingUp):
            await c.uptime()  # every method fails this way during startup
    assert caught.value.title == "warming up: Loading block index…"
    assert caught.value.evidence is not None
    assert caught.value.evidence.status == http_status
    assert '"code":-28' in caught.value.evidence.raw


async def test_node_older_than_v28_answers_v2_requests_in_the_legacy_shape(
    server: SimServer, state: SimState
) -> None:
    state.bitcoind_version = 270_100
    async with client_for(server, state, dialect="2.0") as c:
        assert (await c.best_block_hash()).hash == state.bitcoin_hash(state.bitcoin_height)
        state.bitcoind_warming_up = True
        with pytest.raises(SourceWarmingUp) as caught:
            await c.best_block_hash()
    assert caught.value.evidence is not None and caught.value.evidence.status == 500
    assert '"result":null' in caught.value.evidence.raw


@pytest.mark.parametrize(("dialect", "http_status"), [("1.0", 404), ("2.0", 200)])
async def test_method_not_found(
    server: SimServer, state: SimState, dialect: str, http_status: int
) -> None:
    async with client_for(server, state, dialect=dialect) as c:
        with pytest.raises(BitcoindMethodNotFound) as caught:
            await c.call("getnosuchthing")
    assert caught.value.code == -32601
    assert caught.value.status == http_status
    assert caught.value.title == "method not found: getnosuchthing"


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_invalid_parameter_is_an_rpc_error_with_its_code(
    server: SimServer, state: SimState, dialect: str
) -> None:
    async with client_for(server, state, dialect=dialect) as c:
        with pytest.raises(BitcoindRpcError) as caught:
            await c.call("getblockhash", 10**9)
        ok = await c.call("getblockhash", 0)
    assert caught.value.code == -8
    assert caught.value.title == "RPC error -8: Block height out of range"
    assert not isinstance(caught.value, BitcoindMethodNotFound)
    assert ok.result == state.bitcoin_hash(0)


async def test_work_queue_full_is_typed(client: Bitcoind, state: SimState) -> None:
    state.bitcoind_work_queue_full = True
    with pytest.raises(SourceHTTPError) as caught:
        await client.blockchain_info()
    assert caught.value.status == 503
    assert caught.value.title == "work queue full"
    assert "Work queue depth exceeded" in caught.value.detail


async def test_server_error_500_reads_the_json_body(client: Bitcoind, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.HTTP_500
    with pytest.raises(BitcoindRpcError) as caught:
        await client.blockchain_info()
    assert caught.value.status == 500
    assert caught.value.code == -32603
    assert caught.value.title == "RPC error -32603: Internal error"


# -- the simulator's envelope rules ----------------------------------------------------------


async def test_sim_envelope_rules(server: SimServer, state: SimState) -> None:
    auth = (state.bitcoind_user, state.bitcoind_password)
    async with httpx.AsyncClient(auth=auth, trust_env=False) as http:
        get = await http.get(server.url)
        garbage = await http.post(server.url, content=b"{not json")
        bad_version = await http.post(
            server.url, json={"jsonrpc": "3.0", "id": 1, "method": "uptime"}
        )
        notification = await http.post(server.url, json={"jsonrpc": "2.0", "method": "uptime"})
        batch = await http.post(
            server.url,
            json=[
                {"id": 1, "method": "getblockcount"},
                {"jsonrpc": "2.0", "method": "uptime"},  # a notification: no reply
                {"jsonrpc": "2.0", "id": 3, "method": "nope"},
            ],
        )
        all_notifications = await http.post(
            server.url, json=[{"jsonrpc": "2.0", "method": "uptime"}]
        )
    assert get.status_code == 405
    assert get.text == "JSONRPC server handles only POST requests"
    assert garbage.status_code == 500
    assert garbage.json() == {"result": None, "error": {"code": -32700, "message": "Parse error"}}
    assert bad_version.status_code == 400
    assert bad_version.json()["error"]["code"] == -32600
    assert notification.status_code == 204 and notification.content == b""
    assert batch.status_code == 200
    assert batch.json() == [
        {"result": state.bitcoin_height, "error": None, "id": 1},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 3},
    ]
    assert all_notifications.status_code == 204


# -- transport failures ----------------------------------------------------------------------


async def test_connection_refused(server: SimServer, state: SimState) -> None:
    server.stop()
    async with client_for(server, state) as c:
        with pytest.raises(SourceUnreachable) as caught:
            await c.blockchain_info()
    assert caught.value.title == "connection refused"
    assert caught.value.evidence is not None
    assert caught.value.evidence.request.endswith("getblockchaininfo")
    assert_secret_free(state.bitcoind_password, caught.value)


async def test_timeout_respects_the_deadline(server: SimServer, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.TIMEOUT
    async with client_for(server, state, timeout=0.5) as c:
        started = time.monotonic()
        with pytest.raises(SourceTimeout) as caught:
            await c.blockchain_info()
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0
    assert caught.value.title == "timed out after 0.5 s"
    assert_secret_free(state.bitcoind_password, caught.value)


async def test_slow_drip_hits_the_overall_deadline(server: SimServer, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.SLOW_DRIP
    async with client_for(server, state, timeout=1.0) as c:
        started = time.monotonic()
        with pytest.raises(SourceTimeout):
            await c.blockchain_info()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5


async def test_oversized_reply(client: Bitcoind, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.OVERSIZED
    with pytest.raises(SourceTooLarge):
        await client.blockchain_info()


async def test_malformed_json(client: Bitcoind, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.MALFORMED_JSON
    with pytest.raises(SourceProtocolError) as caught:
        await client.blockchain_info()
    assert caught.value.title == "malformed JSON"
    assert caught.value.evidence is not None
    assert caught.value.evidence.request.endswith("getblockchaininfo")


async def test_wrong_content_type(client: Bitcoind, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.WRONG_CONTENT_TYPE
    with pytest.raises(SourceProtocolError) as caught:
        await client.blockchain_info()
    assert caught.value.title == "wrong content type"


async def test_connection_reset(client: Bitcoind, state: SimState) -> None:
    state.faults["bitcoind"] = Fault.RESET
    with pytest.raises((SourceProtocolError, SourceUnreachable)):
        await client.blockchain_info()
