"""Shared fixtures: isolated XDG dirs and keyring, and a real throwaway PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from signer_tui import credentials
from signer_tui.sim.db import build_signer_db
from signer_tui.sim.state import SimState
from signer_tui.verify.cluster import ScratchCluster

KEYRING_PASSWORD = "test-keyring-password"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep the developer's config, state, cache and keyring out of every test."""
    import os

    for var in list(os.environ):
        if var.startswith("SIGNER_TUI_") or var.startswith("PG"):
            monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        path = home / name.lower()
        path.mkdir(parents=True)
        monkeypatch.setenv(f"XDG_{name}_HOME", str(path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "runtime"))
    # A real, encrypted file keyring inside the temp dir.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.cryptfile.cryptfile.CryptFileKeyring")
    monkeypatch.setenv(credentials.CRYPTFILE_PASSWORD_ENV, KEYRING_PASSWORD)
    credentials.reset_backend_cache()
    # The redactor is process-wide (every secret this process has seen): one test's secret
    # ("token\nsecond") must not mask another test's words ("second problem").
    redacted = set(credentials.REDACTOR._values)
    yield home
    credentials.reset_backend_cache()
    with credentials.REDACTOR._lock:
        credentials.REDACTOR._values = redacted


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ScratchCluster]:
    """One real PostgreSQL server for the whole session (system binaries, else embedded)."""
    cluster = ScratchCluster(prefix="signer-tui-test-pg-")
    cluster.start()
    yield cluster
    cluster.stop()


@dataclass
class SignerDb:
    cluster: ScratchCluster
    dbname: str
    state: SimState

    @property
    def conninfo(self) -> str:
        return self.cluster.conninfo(self.dbname)

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.conninfo, autocommit=True)


@pytest.fixture(scope="session")
def _signer_template(pg_cluster: ScratchCluster) -> str:
    name = "signer_template"
    build_signer_db(pg_cluster.conninfo(), name, SimState())
    return name


@pytest.fixture
def signer_db(pg_cluster: ScratchCluster, _signer_template: str) -> Iterator[SignerDb]:
    """A fresh signer-shaped database (copied from a seeded template) and its SimState."""
    dbname = f"signer_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{_signer_template}"')
    yield SignerDb(pg_cluster, dbname, SimState())
    with psycopg.connect(pg_cluster.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
