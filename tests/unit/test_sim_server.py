"""A stopped simulator dies like a process: kept-alive connections get no more answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from signer_tui.sim.server import SimServer
from signer_tui.sim.signer import SignerApiSim
from signer_tui.sim.stack import SimEnvironment
from signer_tui.sim.state import Fault, SimState
from signer_tui.sources.errors import SourceError, SourceUnreachable
from signer_tui.sources.signer import SignerApi

# A dead signer must show within one poll; a second is generous on loopback.
BOUND = 1.0


@pytest.fixture
def state() -> Iterator[SimState]:
    created = SimState()
    yield created
    created.stopping.set()


@pytest.fixture
def server(state: SimState) -> Iterator[SimServer]:
    srv = SimServer(SignerApiSim(state)).start()
    yield srv
    srv.stop()


async def test_stop_closes_kept_alive_connections_and_restart_reuses_the_port(
    server: SimServer,
) -> None:
    port = server.port
    async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
        first = await client.get("/")
        assert first.status_code == 200
        assert first.headers.get("connection") != "close"  # the connection is kept alive
        assert server.open_connections() == 1

        stopped = time.monotonic()
        await asyncio.to_thread(server.stop)
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):
            await asyncio.wait_for(client.get("/"), BOUND)
        assert time.monotonic() - stopped < BOUND + 5.5  # stop() itself waits for its thread
        # Still dead on the next try: refused, as from a port nobody listens on.
        with pytest.raises(httpx.ConnectError):
            await asyncio.wait_for(client.get("/"), BOUND)

        await asyncio.to_thread(server.restart)
        assert server.port == port
        again = await asyncio.wait_for(client.get("/"), BOUND)
        assert again.status_code == 200


async def test_the_signer_client_sees_the_dead_signer_on_its_pooled_connection(
    server: SimServer,
) -> None:
    async with SignerApi(server.url, timeout=2.0) as api:
        assert (await api.alive()).status == 200
        await asyncio.to_thread(server.stop)
        started = time.monotonic()
        with pytest.raises(SourceError) as caught:
            await api.alive()
        assert time.monotonic() - started < BOUND
        # The pool notices the closed connection and dials again: refused, like a dead process.
        assert isinstance(caught.value, SourceUnreachable), caught.value
        assert caught.value.title == "connection refused"
        await asyncio.to_thread(server.restart)
        assert (await api.alive()).status == 200


async def test_a_hanging_request_is_cut_off_when_the_server_stops(
    server: SimServer, state: SimState
) -> None:
    state.faults["signer"] = Fault.TIMEOUT  # the handler hangs without answering
    async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as client:
        pending = asyncio.ensure_future(client.get("/"))
        for _ in range(100):
            if server.open_connections():
                break
            await asyncio.sleep(0.02)
        started = time.monotonic()
        await asyncio.to_thread(server.stop)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await asyncio.wait_for(pending, BOUND)
        assert time.monotonic() - started < BOUND + 5.5


def test_stop_signer_in_an_environment_closes_the_signer_connections(state: SimState) -> None:
    env = SimEnvironment(state).start()
    try:

        async def poll() -> tuple[int, type[BaseException] | None]:
            async with httpx.AsyncClient(base_url=env.url("signer"), trust_env=False) as c:
                ok = (await c.get("/")).status_code
                state.signer_up = False
                await asyncio.to_thread(env.apply)
                try:
                    await asyncio.wait_for(c.get("/"), BOUND)
                except httpx.TransportError as exc:
                    return ok, type(exc)
                return ok, None

        ok, failure = asyncio.run(poll())
        assert ok == 200
        assert failure is not None, "a stopped signer still answered on a kept-alive connection"
    finally:
        env.stop()


async def test_polls_further_apart_than_httpx_s_keepalive_reuse_one_connection(
    server: SimServer,
) -> None:
    """Issue 16: httpx keeps an idle connection 5 s by default, shorter than any poll
    interval, so every poll opened a new TCP connection. Polls 6 s apart share one."""
    api = SignerApi(server.url)
    try:
        await api.info()
        await asyncio.sleep(6)
        await api.info()
        await api.info()
    finally:
        await api.aclose()
    assert server.accepted() == 1


async def test_answers_are_not_held_by_nagle_and_a_burst_of_connects_is_not_dropped(
    server: SimServer,
) -> None:
    """The simulators must not be slower than the services they stand for: headers and body
    in two sends waited 40 ms for a delayed ACK on every answer, and a backlog of 5 made
    the sixth simultaneous connect wait for the kernel's 1 s SYN retry. Both skewed every
    timing measured against them (bench/run.py, the first poll of a console)."""
    api = SignerApi(server.url)
    times = []
    try:
        await api.info()
        for _ in range(10):
            started = time.monotonic()
            await api.info()
            times.append(time.monotonic() - started)
    finally:
        await api.aclose()
    assert min(times) < 0.030, times  # a delayed ACK is 40 ms

    clients = [SignerApi(server.url) for _ in range(20)]
    started = time.monotonic()
    try:
        await asyncio.gather(*(c.info() for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert time.monotonic() - started < 0.9  # no SYN retry (1 s)
