"""Fixtures for backup verification: real dumps of a seeded signer DB, chain simulators, config.

The dumps are written by the real `pg_dump` of the install in use (`pick_install()`), in every
format, from a signer-shaped database built on the session PostgreSQL; the chain simulators
answer with the same `SimState`, so "verified" is the expected result unless a test changes
the chain.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from signer_tui.pgdump.installs import PgInstall, pick_install
from signer_tui.sim.db import build_signer_db
from signer_tui.sim.hiro import HiroApiSim
from signer_tui.sim.server import SimServer
from signer_tui.sim.stacks import StacksNodeSim
from signer_tui.sim.state import SimState
from signer_tui.verify.cluster import ScratchCluster

SOURCE_DB = "verify_source"


@dataclass
class DumpSet:
    """Real dumps of one signer database, by format name."""

    install: PgInstall
    cluster: ScratchCluster
    dbname: str
    state: SimState
    root: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]

    def pg_dump(self, *args: str, dbname: str | None = None) -> None:
        env = dict(os.environ)
        env.update(PGHOST=str(self.cluster.socket_dir), PGPORT=str(self.cluster.port))
        env.update(PGUSER="postgres", PGDATABASE=dbname or self.dbname)
        subprocess.run(
            [str(self.install.tool("pg_dump")), *args],
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def copy(self, name: str, target_dir: Path, new_name: str | None = None) -> Path:
        source = self.paths[name]
        target = target_dir / (new_name or source.name)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
        return target


def make_dumps(cluster: ScratchCluster, dbname: str, state: SimState, root: Path) -> DumpSet:
    dumps = DumpSet(pick_install(), cluster, dbname, state, root)
    root.mkdir(parents=True, exist_ok=True)
    plan = {
        "custom": ("signer.dump", ["-Fc"]),
        "directory": ("signer.dir", ["-Fd", "-j", "2"]),
        "tar": ("signer.tar", ["-Ft"]),
        "plain": ("signer.sql", ["-Fp"]),
        # pg_dump compresses a plain dump itself with -Z: the real gzip'ed plain output.
        "plain_gz": ("signer.sql.gz", ["-Fp", "-Z", "6"]),
        "custom_z0": ("signer-z0.dump", ["-Fc", "-Z", "0"]),
        # The ledger lives in `public`: this dump loses it.
        "schema_only_ns": ("signer-ns.dump", ["-Fc", "-n", "sbtc_signer"]),
    }
    for name, (file_name, args) in plan.items():
        path = root / file_name
        dumps.pg_dump(*args, "-f", str(path))
        dumps.paths[name] = path
    # A custom archive written to a pipe has no data offsets in its TOC.
    piped = root / "signer-piped.dump"
    with piped.open("wb") as out:
        env = dict(os.environ)
        env.update(PGHOST=str(cluster.socket_dir), PGPORT=str(cluster.port), PGUSER="postgres")
        subprocess.run(
            [str(dumps.install.tool("pg_dump")), "-Fc", dbname],
            env=env,
            stdout=out,
            check=True,
            timeout=300,
        )
    dumps.paths["custom_piped"] = piped
    gzipped_custom = root / "signer.dump.gz"
    with dumps.paths["custom"].open("rb") as src, gzip.open(gzipped_custom, "wb") as dst:
        shutil.copyfileobj(src, dst)
    dumps.paths["custom_gz"] = gzipped_custom
    return dumps


@pytest.fixture(scope="session")
def verify_dumps(pg_cluster: ScratchCluster, tmp_path_factory: pytest.TempPathFactory) -> DumpSet:
    """Every format of one seeded signer DB (the DB stays: it is also the 'live' DB)."""
    state = SimState()
    build_signer_db(pg_cluster.conninfo(), SOURCE_DB, state)
    return make_dumps(pg_cluster, SOURCE_DB, state, tmp_path_factory.mktemp("dumps"))


@pytest.fixture
def scratch_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private $TMPDIR for scratch clusters (reachable by the cluster's account when we are
    root); the test fails if a run leaves anything in it."""
    base = Path(tempfile.mkdtemp(prefix="signer-tui-verify-test-", dir="/tmp"))
    base.chmod(0o755)
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    yield base
    leftovers = sorted(p.name for p in base.iterdir())
    shutil.rmtree(base, ignore_errors=True)
    assert leftovers == [], f"scratch cluster leftovers: {leftovers}"


@dataclass
class Chain:
    state: SimState
    node: SimServer
    api: SimServer


@pytest.fixture
def chain(verify_dumps: DumpSet) -> Iterator[Chain]:
    """The own node and the independent API, answering the dumps' newest verified key."""
    state = SimState()
    assert state.chain_key == verify_dumps.state.newest_verified_key()
    node = SimServer(StacksNodeSim(state)).start()
    api = SimServer(HiroApiSim(state)).start()
    yield Chain(state, node, api)
    state.stopping.set()
    node.stop()
    api.stop()


@dataclass
class VerifyConfig:
    path: Path
    backups: Path
    live_db: str


def write_config(
    path: Path,
    *,
    node_url: str,
    api_url: str | None,
    cluster: ScratchCluster,
    live_db: str,
    backups: Path,
    name: str = "mainnet",
    db_port: int | None = None,
) -> None:
    api = f"    chain_api: {{url: {api_url}, timeout: 2s}}\n" if api_url else ""
    path.write_text(
        "signers:\n"
        f"  - name: {name}\n"
        "    network: mainnet\n"
        f"    stacks: {{rpc_url: {node_url}, timeout: 2s}}\n"
        f"{api}"
        "    db:\n"
        f"      host: {cluster.socket_dir}\n"
        f"      port: {db_port or cluster.port}\n"
        f"      dbname: {live_db}\n"
        "      user: postgres\n"
        "      sslmode: disable\n"
        "      connect_timeout: 3s\n"
        "      statement_timeout: 10s\n"
        "    backups:\n"
        "      kind: pg_dump\n"
        f"      location: {backups}\n"
    )


@pytest.fixture
def live_db(pg_cluster: ScratchCluster, verify_dumps: DumpSet) -> Iterator[str]:
    """A copy of the dumped DB acting as the live signer DB (tests may change it)."""
    name = f"live_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{SOURCE_DB}"')
    yield name
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def verify_config(
    isolated_env: Path,
    tmp_path: Path,
    chain: Chain,
    pg_cluster: ScratchCluster,
    live_db: str,
) -> VerifyConfig:
    """The default config file (XDG) with one profile pointing at the simulators."""
    backups = tmp_path / "backups"
    backups.mkdir()
    config = isolated_env / "config" / "signer-tui" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    write_config(
        config,
        node_url=chain.node.url,
        api_url=chain.api.url,
        cluster=pg_cluster,
        live_db=live_db,
        backups=backups,
    )
    return VerifyConfig(config, backups, live_db)
