"""One session-wide archived cluster holding the signer schema, backed up by the real
pgBackRest (full + incremental) and Barman (two full), and the chain simulators."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from signer_tui.sim.db import build_signer_db
from signer_tui.sim.hiro import HiroApiSim
from signer_tui.sim.server import SimServer
from signer_tui.sim.stacks import StacksNodeSim
from signer_tui.sim.state import SimState
from tests.backups.realtools import (
    DBNAME,
    SERVER,
    STANZA,
    ArchivedCluster,
    make_base,
    tools_present,
)


@pytest.fixture(scope="session")
def archived() -> Iterator[ArchivedCluster]:
    missing = tools_present()
    if missing:
        pytest.fail(f"real backup tools missing: {missing} (.ci/run installs them)")
    cluster = ArchivedCluster(make_base("signer-tui-bk-"))
    try:
        cluster.create()
        build_signer_db(cluster.conninfo(), DBNAME, SimState())
        for stanza in (STANZA, "busy", "broken"):
            cluster.pgbackrest("stanza-create", stanza=stanza)
        cluster.pgbackrest("--type=full", "backup")
        cluster.psql("CREATE TABLE public.after_full AS SELECT generate_series(1, 5000) AS n")
        cluster.pgbackrest("--type=incr", "backup")
        cluster.barman("switch-wal", "--force", "--archive", "--archive-timeout", "60", SERVER)
        cluster.barman("backup", "--wait", "--wait-timeout", "120", SERVER)
        cluster.psql("CREATE TABLE public.after_barman AS SELECT 1 AS n")
        cluster.barman("backup", "--wait", "--wait-timeout", "120", SERVER)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


@dataclass
class Chain:
    state: SimState
    node: SimServer
    api: SimServer


@pytest.fixture
def chain() -> Iterator[Chain]:
    state = SimState()
    node = SimServer(StacksNodeSim(state)).start()
    api = SimServer(HiroApiSim(state)).start()
    yield Chain(state, node, api)
    state.stopping.set()
    node.stop()
    api.stop()


def write_profiles(
    path: Path,
    cluster: ArchivedCluster,
    chain: Chain,
    *,
    pgbackrest: list[str] | None = None,
    barman: list[str] | None = None,
    stanza: str = STANZA,
) -> Path:
    def flow(items: list[str]) -> str:
        return "[" + ", ".join(f"'{i}'" for i in items) + "]"

    common = (
        "    network: mainnet\n"
        f"    stacks: {{rpc_url: {chain.node.url}, timeout: 2s}}\n"
        f"    chain_api: {{url: {chain.api.url}, timeout: 2s}}\n"
        "    db:\n"
        f"      host: {cluster.sock}\n"
        f"      port: {cluster.port}\n"
        f"      dbname: {DBNAME}\n"
        "      user: postgres\n"
        "      sslmode: disable\n"
        "      connect_timeout: 3s\n"
        "      statement_timeout: 10s\n"
    )
    path.write_text(
        "signers:\n"
        "  - name: pgbr\n" + common + "    backups:\n      kind: pgbackrest\n"
        f"      stanza: {stanza}\n"
        f"      command: {flow(pgbackrest or cluster.pgbackrest_command())}\n"
        "  - name: bm\n" + common + "    backups:\n      kind: barman\n"
        f"      server: {SERVER}\n"
        f"      command: {flow(barman or cluster.barman_command())}\n"
    )
    return path
