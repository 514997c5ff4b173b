"""The signer metrics client against the metrics simulator, over real loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from signer_tui.sim.server import SimApp, SimRequest, SimResponse, SimServer
from signer_tui.sim.signer import METRICS_CONTENT_TYPE, SignerApiSim, SignerMetricsSim
from signer_tui.sim.state import Fault, SimState
from signer_tui.sources.errors import (
    SourceHTTPError,
    SourceProtocolError,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
)
from signer_tui.sources.metrics import MetricsBuildInfo, MetricsSnapshot, SignerMetrics

# The nine metrics of a v1.0.x signer, plus build_info.
V1_0_NAMES = {
    "transactions_submitted_total",
    "deposits_swept_total",
    "blocks_observed_total",
    "deposit_requests_total",
    "signing_rounds_completed_total",
    "coordinator_tenures_total",
    "sign_requests_total",
    "signing_round_duration_seconds",
    "validation_duration_seconds",
    "build_info",
}

# Labels of a presign validation, as the signer writes them.
PRESIGN = 'app="signer",blockchain="bitcoin",kind="sweep-presign"'
HISTOGRAM_THEN_COUNTER = """\
# TYPE validation_duration_seconds histogram
validation_duration_seconds_bucket{$L,le="0.0001"} 0
validation_duration_seconds_bucket{$L,le="0.01"} 2
validation_duration_seconds_bucket{$L,le="+Inf"} 3
validation_duration_seconds_sum{$L} 0.0125
validation_duration_seconds_count{$L} 3
# TYPE validation_duration_seconds counter
validation_duration_seconds{app="signer"} 7
# TYPE build_info gauge
build_info{app="signer",rust_version="1.86.0",revision="",arch="aarch64",env_abi=""} 1
""".replace("$L", PRESIGN)

COUNTER_THEN_HISTOGRAM = """\
# TYPE validation_duration_seconds counter
validation_duration_seconds{app="signer"} 7
# TYPE validation_duration_seconds histogram
validation_duration_seconds_bucket{app="signer",blockchain="stacks",kind="rotate-keys",le="+Inf"} 3
validation_duration_seconds_sum{app="signer",blockchain="stacks",kind="rotate-keys"} 0.5
validation_duration_seconds_count{app="signer",blockchain="stacks",kind="rotate-keys"} 3
"""


class FixedApp(SimApp):
    """Serves one canned exposition: shapes the state-driven simulator never produces."""

    service = "metrics"

    def __init__(self, state: SimState, body: bytes, content_type: str | None) -> None:
        super().__init__(state)
        self.body = body
        self.content_type = content_type

    def handle(self, request: SimRequest) -> SimResponse:
        return SimResponse(200, self.body, self.content_type)


@pytest.fixture
def state() -> SimState:
    return SimState()


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    srv = SimServer(SignerMetricsSim(state)).start()
    yield srv
    state.stopping.set()
    srv.stop()


@pytest.fixture
async def metrics(server: SimServer) -> AsyncIterator[SignerMetrics]:
    async with SignerMetrics(server.url + "/metrics", timeout=3.0) as client:
        yield client  # type: ignore[misc]


async def scrape_text(
    state: SimState, text: str, content_type: str | None = METRICS_CONTENT_TYPE
) -> MetricsSnapshot:
    srv = SimServer(FixedApp(state, text.encode(), content_type)).start()
    try:
        async with SignerMetrics(srv.url, timeout=3.0) as client:
            return await client.scrape()
    finally:
        srv.stop()


# -- healthy ---------------------------------------------------------------------------------


async def test_scrape_healthy(metrics: SignerMetrics, server: SimServer, state: SimState) -> None:
    snap = await metrics.scrape()
    assert snap.build_info == MetricsBuildInfo(
        revision=state.signer_revision, rust_version="1.86.0", arch="x86_64", env_abi="gnu"
    )
    assert snap.blocks_observed_total == {"bitcoin": 144.0, "stacks": 17_280.0}
    assert snap.peers_connected == state.signer_peers == 13
    assert snap.sign_requests_total == {"success": 144 + 28 + 40 + 3}
    assert snap.read_data_var_requests_total == {"200": 144.0}
    assert snap.transactions_submitted_total == {
        ("bitcoin", "success"): 2,
        ("stacks", "success"): 3,
    }
    assert snap.coordinator_tenures_total == 144 // state.signer_set_size
    assert snap.signing_rounds_completed_total == 14 + 40
    assert snap.observed_at == snap.evidence.observed_at
    assert snap.evidence.request == f"GET {server.url}/metrics"
    assert server.requests[-1].path == "/metrics"
    # Generic access by sample name and labels.
    assert snap.value("blocks_observed_total", blockchain="stacks") == 17_280
    assert snap.value("sign_requests_total", kind="sweep-presign") == 144
    assert snap.value("no_such_metric") is None
    assert snap.value("sign_requests_total", status="timeout") is None
    assert all(s.labels["app"] == "signer" for s in snap.samples)


async def test_duplicate_validation_name_selected_by_sample_name(metrics: SignerMetrics) -> None:
    snap = await metrics.scrape()
    # The bare counter and the histogram share the name; each is found by its sample name.
    assert snap.value("validation_duration_seconds") == 2
    assert snap.value("validation_duration_seconds_count", blockchain="bitcoin") == 144
    assert snap.value("validation_duration_seconds_count", blockchain="stacks") == 40
    assert snap.value("validation_duration_seconds_bucket", blockchain="bitcoin", le="+Inf") == 144
    assert not [s for s in snap.samples if s.name.endswith("_bucket_total")]


@pytest.mark.parametrize(
    "text",
    [HISTOGRAM_THEN_COUNTER, COUNTER_THEN_HISTOGRAM],
    ids=["histogram-first", "counter-first"],
)
async def test_duplicate_name_in_either_order(state: SimState, text: str) -> None:
    snap = await scrape_text(state, text)
    assert snap.value("validation_duration_seconds") == 7
    assert snap.value("validation_duration_seconds_count") == 3
    assert snap.value("validation_duration_seconds_bucket", le="+Inf") == 3
    names = {s.name for s in snap.samples}
    assert names >= {
        "validation_duration_seconds",
        "validation_duration_seconds_bucket",
        "validation_duration_seconds_sum",
        "validation_duration_seconds_count",
    }
    assert not {n for n in names if n.endswith("_total")}


async def test_empty_revision_label_is_kept(state: SimState) -> None:
    snap = await scrape_text(state, HISTOGRAM_THEN_COUNTER)
    assert snap.build_info == MetricsBuildInfo("", "1.86.0", "aarch64", "")
    # metrics-rs exports only touched series: everything else is unknown, not zero.
    assert snap.peers_connected is None
    assert snap.blocks_observed_total == {}
    assert snap.coordinator_tenures_total is None


async def test_millisecond_timestamps_become_seconds(state: SimState) -> None:
    snap = await scrape_text(state, 'peers_connected{app="signer"} 12 1700000000000\n')
    assert snap.peers_connected == 12
    assert snap.samples[0].timestamp == 1_700_000_000.0


async def test_blocks_observed_rises_with_the_chain_only_while_observing(
    metrics: SignerMetrics, state: SimState
) -> None:
    first = (await metrics.scrape()).blocks_observed_total
    state.bitcoin_base_height += 3
    state.stacks_base_height += 50
    second = (await metrics.scrape()).blocks_observed_total
    assert second["bitcoin"] == first["bitcoin"] + 3
    assert second["stacks"] == first["stacks"] + 50
    state.signer_observing = False
    state.bitcoin_base_height += 2
    stuck = (await metrics.scrape()).blocks_observed_total
    assert stuck == second
    state.signer_observing = True
    state.bitcoin_base_height += 1
    resumed = (await metrics.scrape()).blocks_observed_total
    assert resumed["bitcoin"] == second["bitcoin"] + 1  # missed blocks are never counted


async def test_v1_0_signer_exports_only_the_first_nine(
    metrics: SignerMetrics, state: SimState
) -> None:
    state.signer_revision = "v1.0.3"
    snap = await metrics.scrape()
    families = {
        s.name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
        for s in snap.samples
    }
    assert families == V1_0_NAMES
    assert snap.peers_connected is None
    assert snap.read_data_var_requests_total == {}
    assert snap.build_info is not None and snap.build_info.revision == "v1.0.3"
    assert snap.value("validation_duration_seconds") is not None  # the quirk is older


async def test_any_path_and_the_content_type(server: SimServer) -> None:
    async with SignerMetrics(server.url, timeout=3.0) as root:
        snap = await root.scrape()
    assert server.requests[-1].path == "/"
    assert snap.build_info is not None
    async with httpx.AsyncClient(trust_env=False) as http:
        reply = await http.get(server.url + "/anything")
    assert reply.headers["content-type"] == "text/plain; version=0.0.4"
    assert reply.text.endswith("\n")


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'blocks_observed_total{app="signer",blockchain="bitcoin" 5\n',
        "peers_connected twelve\n",
        "<html><body>hello</body></html>\n",
    ],
)
async def test_malformed_exposition_is_a_protocol_error(state: SimState, text: str) -> None:
    with pytest.raises(SourceProtocolError) as caught:
        await scrape_text(state, text)
    assert caught.value.title == "malformed metrics"
    assert caught.value.evidence is not None and caught.value.evidence.status == 200


async def test_empty_200_is_not_the_metrics_port(state: SimState) -> None:
    # The signer API's `/` answers exactly this: a metrics URL pointed at port 8801.
    srv = SimServer(SignerApiSim(state)).start()
    try:
        async with SignerMetrics(srv.url, timeout=3.0) as client:
            with pytest.raises(SourceProtocolError) as caught:
                await client.scrape()
    finally:
        srv.stop()
    assert caught.value.title == "no metrics in response"


async def test_wrong_content_type(metrics: SignerMetrics, state: SimState) -> None:
    state.faults["metrics"] = Fault.WRONG_CONTENT_TYPE
    with pytest.raises(SourceProtocolError) as caught:
        await metrics.scrape()
    assert caught.value.title == "wrong content type"


async def test_openmetrics_content_type_is_accepted(state: SimState) -> None:
    text = '# TYPE peers_connected gauge\npeers_connected{app="signer"} 9\n# EOF\n'
    snap = await scrape_text(state, text, "application/openmetrics-text; version=1.0.0")
    assert snap.peers_connected == 9


async def test_http_500(metrics: SignerMetrics, state: SimState) -> None:
    state.faults["metrics"] = Fault.HTTP_500
    with pytest.raises(SourceHTTPError) as caught:
        await metrics.scrape()
    assert caught.value.status == 500


async def test_connection_refused(server: SimServer) -> None:
    server.stop()
    async with SignerMetrics(server.url, timeout=3.0) as client:
        with pytest.raises(SourceUnreachable):
            await client.scrape()


async def test_timeout(server: SimServer, state: SimState) -> None:
    state.faults["metrics"] = Fault.TIMEOUT
    async with SignerMetrics(server.url, timeout=0.5) as client:
        started = time.monotonic()
        with pytest.raises(SourceTimeout):
            await client.scrape()
        elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 2.0


async def test_slow_drip(server: SimServer, state: SimState) -> None:
    state.faults["metrics"] = Fault.SLOW_DRIP
    async with SignerMetrics(server.url, timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(SourceTimeout):
            await client.scrape()
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.5


async def test_oversized(metrics: SignerMetrics, state: SimState) -> None:
    state.faults["metrics"] = Fault.OVERSIZED
    with pytest.raises(SourceTooLarge):
        await metrics.scrape()
