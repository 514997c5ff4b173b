"""The signer API client against the signer simulator, over real loopback HTTP."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from signer_tui.model import Evidence
from signer_tui.sim.bitcoind import BitcoindSim
from signer_tui.sim.server import SimApp, SimRequest, SimResponse, SimServer
from signer_tui.sim.signer import (
    STALL_LAG_BITCOIN,
    STALL_LAG_STACKS,
    SignerApiSim,
    SignerMetricsSim,
    rust_timestamp,
)
from signer_tui.sim.state import DkgRound, Fault, SimState, fake_key
from signer_tui.sources.errors import (
    SourceHTTPError,
    SourceProtocolError,
    SourceTimeout,
    SourceUnreachable,
)
from signer_tui.sources.signer import (
    BitcoinSection,
    BuildSection,
    ConfigSection,
    DkgSection,
    SignerApi,
    SignerInfo,
    StacksSection,
    Tip,
    parse_info,
    parse_signer_timestamp,
)

EVIDENCE = Evidence(
    "signer-api", "GET http://127.0.0.1:8801/info", datetime(2026, 5, 22, tzinfo=UTC)
)


class FixedApp(SimApp):
    """Serves one canned answer: for shapes the state-driven simulator never produces."""

    service = "signer"

    def __init__(self, state: SimState, body: object) -> None:
        super().__init__(state)
        self.body = body

    def handle(self, request: SimRequest) -> SimResponse:
        return SimResponse.json(self.body)


@pytest.fixture
def state() -> SimState:
    return SimState()


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    srv = SimServer(SignerApiSim(state)).start()
    yield srv
    state.stopping.set()
    srv.stop()


@pytest.fixture
async def api(server: SimServer) -> AsyncIterator[SignerApi]:
    async with SignerApi(server.url, timeout=3.0) as client:
        yield client  # type: ignore[misc]


def serve_fixed(state: SimState, body: object) -> SimServer:
    return SimServer(FixedApp(state, body)).start()


# -- liveness --------------------------------------------------------------------------------


async def test_alive_is_an_empty_200(api: SignerApi, server: SimServer) -> None:
    live = await api.alive()
    assert live.status == 200
    assert live.elapsed_ms is not None and live.elapsed_ms >= 0
    assert live.evidence.raw == ""
    assert live.evidence.request == f"GET {server.url}/"


async def test_alive_with_a_body_is_not_the_signer(state: SimState) -> None:
    # A real misconfiguration: the API URL pointed at the metrics port, which answers 200
    # with an exposition on every path.
    srv = SimServer(SignerMetricsSim(state)).start()
    try:
        async with SignerApi(srv.url, timeout=3.0) as client:
            with pytest.raises(SourceProtocolError) as caught:
                await client.alive()
    finally:
        srv.stop()
    assert "empty body" in caught.value.detail


async def test_alive_non_200_is_an_http_error(state: SimState) -> None:
    # bitcoind's RPC port answers GET / with 405.
    srv = SimServer(BitcoindSim(state)).start()
    try:
        async with SignerApi(srv.url, timeout=3.0) as client:
            with pytest.raises(SourceHTTPError) as caught:
                await client.alive()
    finally:
        srv.stop()
    assert caught.value.status == 405


async def test_alive_500(api: SignerApi, state: SimState) -> None:
    state.faults["signer"] = Fault.HTTP_500
    with pytest.raises(SourceHTTPError) as caught:
        await api.alive()
    assert caught.value.status == 500


async def test_sim_routes(server: SimServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        root = await http.get(server.url + "/")
        missing = await http.get(server.url + "/nope")
        wrong_method = await http.post(server.url + "/info")
        info = await http.get(server.url + "/info")
    assert root.status_code == 200 and root.content == b""
    assert "content-type" not in root.headers
    assert missing.status_code == 404 and missing.content == b""
    assert wrong_method.status_code == 405
    assert info.headers["content-type"] == "application/json"
    assert set(info.json()) == {"bitcoin", "stacks", "dkg", "config", "build_info", "timestamp"}


# -- /info -----------------------------------------------------------------------------------


async def test_info_healthy_matches_the_state(api: SignerApi, state: SimState) -> None:
    info = await api.info()
    btc, stx = state.bitcoin_height, state.stacks_height
    assert info.bitcoin.node_tip == Tip(state.bitcoin_hash(btc), btc)
    assert info.bitcoin.signer_tip == info.bitcoin.node_tip
    assert info.bitcoin.node_chain == "main"
    assert info.bitcoin.node_version == state.bitcoind_version
    assert info.bitcoin.node_subversion == "/Satoshi:28.1.0/"
    assert info.stacks.node_tip == Tip(state.stacks_hash(stx), stx)
    assert info.stacks.signer_tip == info.stacks.node_tip
    assert info.stacks.node_bitcoin_block_height == state.stacks_burn_height
    assert info.stacks.node_version is not None
    assert info.stacks.node_version.startswith(f"stacks-node {state.stacks_version} (")
    # Five rounds in the DB, one failed.
    assert info.dkg.rounds == 4
    newest = state.dkg_rounds[-1].aggregate_key.hex()
    assert info.dkg.current_aggregate_key == newest
    assert state.chain_key is not None
    assert info.dkg.contract_aggregate_key == state.chain_key.hex()
    assert info.config.network == "mainnet"
    assert info.config.deployer == state.deployer
    assert info.config.dkg_max_duration == 120
    assert info.config.sbtc_bitcoin_start_height is None
    assert info.config.dkg_target_rounds is None  # not sent by this release
    assert info.build_info.git_revision == state.signer_revision
    assert info.timestamp is not None and info.timestamp.endswith("+00:00:00")
    assert info.timestamp_at is not None
    assert abs(info.timestamp_at - datetime.now(UTC)) < timedelta(seconds=10)
    assert "revision=v1.3.3" in info.evidence.decoded
    assert info.evidence.request.endswith("/info")


async def test_current_key_is_the_newest_row_of_any_status(api: SignerApi, state: SimState) -> None:
    pending = fake_key("a-round-just-run")
    state.dkg_rounds.append(
        DkgRound(pending, "unverified", datetime.now(UTC), state.bitcoin_height - 2)
    )
    info = await api.info()
    assert info.dkg.current_aggregate_key == pending.hex()
    assert state.chain_key is not None
    assert info.dkg.contract_aggregate_key == state.chain_key.hex()  # not rotated yet
    assert info.dkg.rounds == 5


async def test_pre_dkg_signer(api: SignerApi, state: SimState) -> None:
    state.dkg_rounds = []
    state.chain_key = None
    info = await api.info()
    assert info.dkg == DkgSection(rounds=0, current_aggregate_key=None, contract_aggregate_key=None)


async def test_signer_tip_lags_when_not_observing(api: SignerApi, state: SimState) -> None:
    state.signer_observing = False
    info = await api.info()
    assert info.bitcoin.signer_tip is not None and info.bitcoin.node_tip is not None
    assert info.bitcoin.signer_tip.block_height == state.bitcoin_height - STALL_LAG_BITCOIN
    assert info.stacks.signer_tip is not None
    assert info.stacks.signer_tip.block_height == state.stacks_height - STALL_LAG_STACKS
    # The frozen tip stays put while the chain moves on.
    state.bitcoin_base_height += 4
    later = await api.info()
    assert later.bitcoin.signer_tip == info.bitcoin.signer_tip
    assert later.bitcoin.node_tip is not None
    assert later.bitcoin.node_tip.block_height == info.bitcoin.node_tip.block_height + 4


async def test_unreachable_bitcoind_shows_as_nulls(api: SignerApi, state: SimState) -> None:
    state.bitcoind_warming_up = True
    info = await api.info()
    assert info.bitcoin.node_tip is None
    assert info.bitcoin.node_version is None
    assert info.bitcoin.signer_tip is not None  # the signer's own memory still answers


async def test_info_with_nulls_everywhere(state: SimState) -> None:
    # What the signer sends when bitcoind, the stacks node and the DB all failed...
    all_failed = {
        "bitcoin": {
            "signer_tip": None,
            "node_tip": None,
            "node_chain": None,
            "node_version": None,
            "node_subversion": None,
        },
        "stacks": {
            "signer_tip": None,
            "node_tip": None,
            "node_bitcoin_block_height": None,
            "node_version": None,
        },
        "dkg": {"rounds": 0, "current_aggregate_key": None, "contract_aggregate_key": None},
        "config": None,
        "build_info": {
            "rust_version": "1.86.0",
            "git_revision": "",
            "target_arch": "x86_64",
            "target_env_abi": None,
        },
        "timestamp": "2026-05-22 9:05:03.5 +00:00:00",
        "some_future_section": {"x": 1},
    }
    # ...and the extreme: every section itself null, plus keys this client does not know.
    everything_null = dict.fromkeys(all_failed) | {"new_top_level": [1, 2]}
    for body in (all_failed, everything_null):
        srv = serve_fixed(state, body)
        try:
            async with SignerApi(srv.url, timeout=3.0) as client:
                info = await client.info()
        finally:
            srv.stop()
        assert info.bitcoin == BitcoinSection()
        assert info.stacks == StacksSection()
        assert info.config == ConfigSection()
        assert info.dkg.current_aggregate_key is None
        assert info.dkg.contract_aggregate_key is None
        if body is all_failed:
            assert info.dkg.rounds == 0
            assert info.build_info == BuildSection("1.86.0", "", "x86_64", None)
            assert info.timestamp_at == datetime(2026, 5, 22, 9, 5, 3, 500_000, tzinfo=UTC)
        else:
            assert info.dkg.rounds is None
            assert info.build_info == BuildSection()
            assert info.timestamp is None and info.timestamp_at is None


async def test_keys_and_hashes_are_lowercase_hex_and_text_is_cleaned(state: SimState) -> None:
    key = "02" + "AB" * 32
    body = {
        "bitcoin": {
            "node_tip": {"block_hash": "00" * 16 + "CD" * 16, "block_height": 5},
            "node_subversion": "/Satoshi:28.1.0(\x1b[2Jevil)/",
        },
        "dkg": {"rounds": 1, "current_aggregate_key": "0x" + key, "contract_aggregate_key": key},
    }
    srv = serve_fixed(state, body)
    try:
        async with SignerApi(srv.url, timeout=3.0) as client:
            info = await client.info()
    finally:
        srv.stop()
    assert info.dkg.current_aggregate_key == key.lower()
    assert info.dkg.contract_aggregate_key == key.lower()
    assert info.bitcoin.node_tip == Tip("00" * 16 + "cd" * 16, 5)
    assert info.bitcoin.node_subversion == "/Satoshi:28.1.0(evil)/"


# The shape of a healthy v1.3.x `/info` (sbtc-signer-facts §6.4: every key it lists).
REAL_INFO: dict[str, Any] = {
    "bitcoin": {
        "signer_tip": {"block_hash": "00" * 12 + "ab" * 20, "block_height": 900_010},
        "node_tip": {"block_hash": "00" * 12 + "ab" * 20, "block_height": 900_010},
        "node_chain": "main",
        "node_version": 280100,
        "node_subversion": "/Satoshi:28.1.0/",
    },
    "stacks": {
        "signer_tip": {"block_hash": "cd" * 32, "block_height": 5_000_000},
        "node_tip": {"block_hash": "cd" * 32, "block_height": 5_000_000},
        "node_bitcoin_block_height": 900_010,
        "node_version": (
            "stacks-node 3.1.0.0.8 (release/3.1.0.0.8:1a2b3c4, release build, linux [x86_64])"
        ),
    },
    "dkg": {
        "rounds": 4,
        "current_aggregate_key": "02" + "ef" * 32,
        "contract_aggregate_key": "02" + "ef" * 32,
    },
    "config": {
        "network": "mainnet",
        "deployer": "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4",
        "bootstrap_signatures_required": 11,
        "bitcoin_processing_delay": 0,
        "context_window": 1000,
        "signer_round_max_duration": 30,
        "bitcoin_presign_request_max_duration": 30,
        "dkg_max_duration": 120,
        "sbtc_bitcoin_start_height": 870_000,
        "dkg_begin_pause": 30,
        "max_deposits_per_bitcoin_block": 25,
        "dkg_min_bitcoin_block_height": None,
    },
    "build_info": {
        "rust_version": "1.86.0",
        "git_revision": "v1.3.3",
        "target_arch": "x86_64",
        "target_env_abi": "gnu",
    },
    "timestamp": "2026-05-22 9:05:03.123456789 +00:00:00",
}


def leaves(obj: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every scalar field of `/info`."""
    found: list[tuple[str, Any]] = []
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found.extend(leaves(value, path))
        else:
            found.append((path, value))
    return found


def with_field(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = changed
    for key in parents:
        target = target[key]
    target[last] = value
    return changed


def read(info: SignerInfo, path: str) -> Any:
    value: Any = info
    for key in path.split("."):
        value = getattr(value, key)
    return value


def a_wrong_value(value: Any) -> Any:
    """A value of the wrong type for a field that holds `value`."""
    if isinstance(value, str):
        return 12  # a number where text belongs
    return "abc"  # text where a number (or null) belongs


def test_the_real_payload_reads_cleanly() -> None:
    info = parse_info(REAL_INFO, EVIDENCE)
    assert info.problems == ()
    assert info.bitcoin.signer_tip == Tip("00" * 12 + "ab" * 20, 900_010)
    assert info.stacks.node_bitcoin_block_height == 900_010
    assert info.dkg.rounds == 4
    assert info.config.sbtc_bitcoin_start_height == 870_000
    assert info.config.dkg_min_bitcoin_block_height is None
    assert info.build_info.git_revision == "v1.3.3"
    assert info.timestamp_at == datetime(2026, 5, 22, 9, 5, 3, 123456, tzinfo=UTC)
    assert info.evidence.error == ""
    assert "unreadable" not in info.evidence.decoded


FIELDS = [path for path, _ in leaves(REAL_INFO)]


@pytest.mark.parametrize("path", FIELDS)
def test_each_broken_field_costs_only_itself(path: str) -> None:
    good = dict(leaves(REAL_INFO))
    wrong = a_wrong_value(good[path])
    info = parse_info(with_field(REAL_INFO, path, wrong), EVIDENCE)
    # The broken field is unknown and named, with its raw value...
    assert read(info, path) is None
    (problem,) = info.problems
    assert problem.path == path
    assert problem.raw == json.dumps(wrong)
    assert str(problem).startswith(f"/info field {path}: expected ")
    assert str(problem).endswith(f", got {json.dumps(wrong)}")
    assert info.problem_note(path) == str(problem)
    assert str(problem) in info.evidence.error
    assert path in info.evidence.decoded
    # ...and every other field still reads as sent.
    clean = parse_info(REAL_INFO, EVIDENCE)
    for other, _ in leaves(REAL_INFO):
        if other != path:
            assert read(info, other) == read(clean, other), other


def test_the_issue_example_names_the_field_and_its_value() -> None:
    body = with_field(REAL_INFO, "bitcoin.signer_tip.block_height", "abc")
    info = parse_info(body, EVIDENCE)
    assert info.problem_note("bitcoin.signer_tip") == (
        '/info field bitcoin.signer_tip.block_height: expected an integer or null, got "abc"'
    )
    assert info.bitcoin.signer_tip == Tip("00" * 12 + "ab" * 20, None)
    assert info.bitcoin.node_tip == Tip("00" * 12 + "ab" * 20, 900_010)
    assert "1 unreadable field (shown as unknown): bitcoin.signer_tip.block_height" in (
        info.evidence.decoded
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("bitcoin", [1, 2], "an object or null"),
        ("bitcoin.node_tip", "900010", "an object or null"),
        ("config", [], "an object or null"),
        ("dkg.rounds", True, "an integer or null"),  # JSON true is not a count
        ("dkg.rounds", 4.0, "an integer or null"),
        ("dkg.current_aggregate_key", "not-hex", "hex or null"),
        ("timestamp", "yesterday", "a signer timestamp or null"),
        ("timestamp", 1748000000, "a string or null"),
    ],
)
def test_wrong_shapes_become_named_problems(path: str, value: Any, expected: str) -> None:
    info = parse_info(with_field(REAL_INFO, path, value), EVIDENCE)
    (problem,) = info.problems
    assert (problem.path, problem.expected, problem.raw) == (path, expected, json.dumps(value))
    assert info.problems_under(path.split(".")[0]) == (problem,)
    assert info.problems_under(path + ".block_height") == (problem,)  # covers what is inside


def test_a_broken_section_leaves_the_other_sections() -> None:
    info = parse_info(with_field(REAL_INFO, "stacks", "down"), EVIDENCE)
    assert info.stacks == StacksSection()
    assert info.bitcoin.node_tip == Tip("00" * 12 + "ab" * 20, 900_010)
    assert info.dkg.rounds == 4
    assert [p.path for p in info.problems] == ["stacks"]


def test_several_problems_are_all_named_and_raw_values_are_cleaned_and_cut() -> None:
    body = with_field(REAL_INFO, "dkg.rounds", "\x1b[2J" + "x" * 500)
    body = with_field(body, "config.context_window", {"nested": [1, 2, 3]})
    info = parse_info(body, EVIDENCE)
    assert [p.path for p in info.problems] == ["dkg.rounds", "config.context_window"]
    rounds = info.problems[0]
    # JSON escapes the control character: the terminal sees text, not an escape sequence.
    assert "\x1b" not in rounds.raw and rounds.raw.startswith('"\\u001b[2Jxxx')
    assert len(rounds.raw) < 120 and "more characters" in rounds.raw
    assert info.problems[1].raw == '{"nested": [1, 2, 3]}'
    assert info.problem_note("dkg") == str(rounds)
    assert info.problem_note("bitcoin") == ""
    assert "2 unreadable fields" in info.evidence.decoded
    assert info.evidence.error == "; ".join(str(p) for p in info.problems)


def test_nulls_and_unknown_keys_are_not_problems() -> None:
    body = copy.deepcopy(REAL_INFO)
    body["bitcoin"]["node_tip"] = None
    body["config"] = None
    body["dkg"]["rounds"] = None
    body["stacks"]["signer_tip"] = {"block_hash": None, "block_height": None, "extra": 1}
    body["sbtc_v2"] = {"anything": ["new"]}
    body["build_info"]["features"] = ["x"]
    info = parse_info(body, EVIDENCE)
    assert info.problems == ()
    assert info.bitcoin.node_tip is None
    assert info.stacks.signer_tip == Tip(None, None)


async def test_a_broken_field_over_http_still_returns_the_answer(state: SimState) -> None:
    srv = serve_fixed(state, with_field(REAL_INFO, "bitcoin.signer_tip.block_height", "abc"))
    try:
        async with SignerApi(srv.url, timeout=3.0) as client:
            info = await client.info()
    finally:
        srv.stop()
    assert info.build_info.git_revision == "v1.3.3"
    assert info.evidence.request.endswith("/info")
    assert 'bitcoin.signer_tip.block_height: expected an integer or null, got "abc"' in (
        info.evidence.error
    )


async def test_a_body_that_is_not_an_object_is_a_protocol_error(state: SimState) -> None:
    srv = serve_fixed(state, [1, 2, 3])
    try:
        async with SignerApi(srv.url, timeout=3.0) as client:
            with pytest.raises(SourceProtocolError) as caught:
                await client.info()
    finally:
        srv.stop()
    assert "object" in caught.value.detail


def test_signer_timestamp_formats() -> None:
    expected = datetime(2026, 5, 22, 9, 5, 3, 123456, tzinfo=UTC)
    assert parse_signer_timestamp("2026-05-22 9:05:03.123456789 +00:00:00") == expected
    assert parse_signer_timestamp("2026-05-22T09:05:03.123456Z") == expected
    assert parse_signer_timestamp("2026-05-22 11:05:03.123456 +02:00:00") == expected
    assert parse_signer_timestamp("2026-05-22 9:05:03.0 +00:00:00") == expected.replace(
        microsecond=0
    )
    assert parse_signer_timestamp("yesterday") is None
    assert parse_signer_timestamp("2026-13-40 9:05:03.0 +00:00:00") is None
    # The simulator writes what the parser reads.
    now = datetime(2026, 1, 2, 3, 4, 5, 60_000, tzinfo=UTC)
    assert rust_timestamp(now) == "2026-01-02 3:04:05.06 +00:00:00"
    assert parse_signer_timestamp(rust_timestamp(now)) == now


# -- transport failures ----------------------------------------------------------------------


async def test_info_connection_refused(server: SimServer) -> None:
    server.stop()
    async with SignerApi(server.url, timeout=3.0) as client:
        with pytest.raises(SourceUnreachable):
            await client.info()
        with pytest.raises(SourceUnreachable):
            await client.alive()


async def test_info_timeout(state: SimState, server: SimServer) -> None:
    state.faults["signer"] = Fault.TIMEOUT
    async with SignerApi(server.url, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(SourceTimeout):
            await client.info()
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0


async def test_info_slow_drip(state: SimState, server: SimServer) -> None:
    state.faults["signer"] = Fault.SLOW_DRIP
    async with SignerApi(server.url, timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(SourceTimeout):
            await client.info()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5


@pytest.mark.parametrize(
    ("fault", "title"),
    [
        (Fault.MALFORMED_JSON, "malformed JSON"),
        (Fault.WRONG_CONTENT_TYPE, "wrong content type"),
        (Fault.OVERSIZED, "response too large"),
    ],
)
async def test_info_bad_bodies(api: SignerApi, state: SimState, fault: Fault, title: str) -> None:
    state.faults["signer"] = fault
    with pytest.raises(SourceProtocolError) as caught:
        await api.info()
    assert caught.value.title == title


async def test_info_500(api: SignerApi, state: SimState) -> None:
    state.faults["signer"] = Fault.HTTP_500
    with pytest.raises(SourceHTTPError) as caught:
        await api.info()
    assert caught.value.status == 500
