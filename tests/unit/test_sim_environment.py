"""One SimState per environment: a scenario change is seen by every simulated service and by
the seeded PostgreSQL alike."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from signer_tui.model import utcnow
from signer_tui.sbtc import VERIFIED_KEY_QUERY
from signer_tui.sim.stack import SimEnvironment
from signer_tui.sim.state import DkgRound, fake_key
from signer_tui.sources.hiro import ChainApi
from signer_tui.sources.signer import SignerApi
from signer_tui.sources.stacks import StacksNode
from tests.conftest import SignerDb


@pytest.fixture
def env(signer_db: SignerDb) -> Iterator[SimEnvironment]:
    environment = SimEnvironment(signer_db.state, signer_db.conninfo).start()
    yield environment
    environment.stop()


async def read_all(env: SimEnvironment) -> dict[str, str | None]:
    deployer = env.state.deployer
    node = StacksNode(env.url("stacks"), deployer=deployer, timeout=2)
    api = ChainApi(env.url("hiro"), deployer=deployer, timeout=2)
    signer = SignerApi(env.url("signer"), timeout=2)
    try:
        node_key, api_key, info = await asyncio.gather(
            node.aggregate_key(), api.aggregate_key(), signer.info()
        )
    finally:
        for client in (node, api, signer):
            await client.aclose()
    return {
        "node": node_key.hex,
        "api": api_key.hex,
        "signer_contract": info.dkg.contract_aggregate_key,
        "signer_newest_row": info.dkg.current_aggregate_key,
    }


def db_keys(env: SimEnvironment, signer_db: SignerDb) -> tuple[str, str]:
    with signer_db.connect() as conn:
        verified = conn.execute(VERIFIED_KEY_QUERY).fetchone()
        newest = conn.execute(
            "SELECT aggregate_key FROM sbtc_signer.dkg_shares ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert verified is not None and newest is not None
    return bytes(verified[0]).hex(), bytes(newest[0]).hex()


def test_a_rotation_is_seen_everywhere(env: SimEnvironment, signer_db: SignerDb) -> None:
    before = asyncio.run(read_all(env))
    verified, newest = db_keys(env, signer_db)
    assert before["node"] == before["api"] == before["signer_contract"] == verified == newest

    new_key = fake_key("scenario-rotation")
    env.state.chain_key = new_key
    env.state.dkg_rounds.append(DkgRound(new_key, "unverified", utcnow(), env.state.bitcoin_height))
    env.apply()

    after = asyncio.run(read_all(env))
    verified_after, newest_after = db_keys(env, signer_db)
    assert after["node"] == after["api"] == after["signer_contract"] == new_key.hex()
    assert after["signer_newest_row"] == newest_after == new_key.hex()
    assert verified_after == verified  # the new row is not verified yet


def test_a_stopped_signer_refuses_connections(env: SimEnvironment) -> None:
    env.state.signer_up = False
    env.apply()
    assert not env.servers["signer"].running and not env.servers["metrics"].running
    env.state.signer_up = True
    env.apply()
    assert env.servers["signer"].running
    assert asyncio.run(read_all(env))["node"] is not None
