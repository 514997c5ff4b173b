"""A whole simulated signer environment: every service of one `SimState`, plus its database.

`SimEnvironment` starts the Stacks node, the Hiro-style API, bitcoind and the signer's API and
metrics on loopback ports, and keeps the seeded PostgreSQL in step with the state (DKG rows and
the newest observed blocks) whenever `apply()` is called after a change. `FeedSimulators` runs
GitHub and OSV, which every profile shares. Used by the tests and by `signer-tui demo`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import psycopg

from signer_tui.sim.bitcoind import BitcoindSim
from signer_tui.sim.db import record_tips, sync_dkg
from signer_tui.sim.github import GitHubSim
from signer_tui.sim.hiro import HiroApiSim
from signer_tui.sim.osv import OsvSim
from signer_tui.sim.server import SimServer
from signer_tui.sim.signer import SignerApiSim, SignerMetricsSim
from signer_tui.sim.stacks import StacksNodeSim
from signer_tui.sim.state import SimState


@dataclass
class SimEnvironment:
    state: SimState
    db_conninfo: str | None = None  # the seeded signer DB, kept in step by apply()
    servers: dict[str, SimServer] = field(default_factory=dict)

    def start(self) -> SimEnvironment:
        if not self.servers:
            self.servers = {
                "stacks": SimServer(StacksNodeSim(self.state)),
                "hiro": SimServer(HiroApiSim(self.state)),
                "bitcoind": SimServer(BitcoindSim(self.state)),
                "signer": SimServer(SignerApiSim(self.state)),
                "metrics": SimServer(SignerMetricsSim(self.state)),
            }
        for name, server in self.servers.items():
            if name in ("signer", "metrics") and not self.state.signer_up:
                continue
            server.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()
        for server in self.servers.values():
            server.stop()

    def url(self, service: str) -> str:
        return self.servers[service].url

    def apply(self) -> None:
        """Make servers and the database reflect the state after a scenario change."""
        for name in ("signer", "metrics"):
            server = self.servers.get(name)
            if server is None:
                continue
            if self.state.signer_up and not server.running:
                server.restart()
            elif not self.state.signer_up and server.running:
                server.stop()
        self.sync_db()
        self.state.changed()

    def sync_db(self) -> None:
        if self.db_conninfo is None:
            return
        with psycopg.connect(self.db_conninfo, autocommit=True) as conn:
            sync_dkg(conn, self.state)
            if self.state.signer_observing:
                record_tips(conn, self.state)

    def profile(self, name: str, **overrides: Any) -> dict[str, Any]:
        """A config profile (as YAML-shaped data) pointing at these simulators."""
        profile: dict[str, Any] = {
            "name": name,
            "network": self.state.network,
            "deployer": self.state.deployer,
            "signer": {
                "api_url": self.url("signer"),
                "metrics_url": self.url("metrics") + "/metrics",
                "timeout": "2s",
            },
            "bitcoind": {
                "url": self.url("bitcoind"),
                "user": self.state.bitcoind_user,
                "password": self.state.bitcoind_password,
                "timeout": "2s",
            },
            "stacks": {"rpc_url": self.url("stacks"), "timeout": "2s"},
            "chain_api": {"url": self.url("hiro"), "timeout": "2s"},
            # Simulated services do not run on this host: its posture says nothing of them.
            "posture": {"enabled": False},
        }
        if self.db_conninfo is not None:
            params = psycopg.conninfo.conninfo_to_dict(self.db_conninfo)
            profile["db"] = {
                "host": str(params.get("host")),
                "port": int(str(params.get("port") or 5432)),
                "dbname": str(params.get("dbname")),
                "user": str(params.get("user") or "postgres"),
                "sslmode": "disable",
                "connect_timeout": "3s",
            }
        profile.update(overrides)
        return profile


@dataclass
class FeedSimulators:
    """GitHub and OSV, shared by every profile (they read one state's feed fields)."""

    state: SimState
    servers: dict[str, SimServer] = field(default_factory=dict)

    def start(self) -> FeedSimulators:
        if not self.servers:
            self.servers = {
                "github": SimServer(GitHubSim(self.state)),
                "osv": SimServer(OsvSim(self.state)),
            }
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop()

    def releases_config(self) -> dict[str, Any]:
        return {
            "github_api": self.servers["github"].url,
            "osv_api": self.servers["osv"].url,
            "timeout": "3s",
        }
