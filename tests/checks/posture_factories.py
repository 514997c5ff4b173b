"""A healthy signer host as `HostFacts`; each posture test changes the one fact it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from signer_tui.config import Profile, Settings
from signer_tui.sources.host import Socket, SocketTable
from signer_tui.sources.host_docker import DockerFacts
from signer_tui.sources.host_facts import HostFacts, MetricsProbe
from signer_tui.sources.host_files import (
    DirectoryModes,
    EventObserver,
    FileMode,
    JournaldFacts,
    ProcessEnv,
    SignerConfigFacts,
    StacksNodeConfig,
)
from signer_tui.sources.host_ssh import AccountKeys, AuthorizedKeysFacts, SshdContext, SshdFacts
from signer_tui.sources.host_system import ClockFacts, FirewallFacts, FirewallView

NOW = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)
SK = "sk-ssh-ed25519@openssh.com"
REGISTRY_EVENTS = ("SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4.sbtc-registry::print",)


def settings(**profile: Any) -> Settings:
    data: dict[str, Any] = {
        "name": "mainnet",
        "network": "mainnet",
        "db": {"password": {"keyring": "db-mainnet"}},
        "backups": {"kind": "pg_dump", "location": "/var/backups/sbtc-signer"},
        "posture": {"signer_config": "/etc/sbtc/signer-config.toml"},
    }
    data.update(profile)
    return Settings.model_validate({"signers": [data]})


def profile_of(s: Settings) -> Profile:
    return s.signers[0]


def listener(ip: str, port: int, owner: str, proto: str = "tcp") -> Socket:
    return Socket(proto, ip, port, "::" if ":" in ip else "0.0.0.0", 0, "LISTEN", 0, port, owner)


def connection(local: str, port: int, remote: str) -> Socket:
    return Socket("tcp", local, port, remote, 50000, "ESTABLISHED", 0, 9, None)


HEALTHY_SOCKETS = (
    listener("0.0.0.0", 4122, "100/signer"),
    listener("::", 22, "1/sshd", "tcp6"),
    listener("127.0.0.1", 8801, "100/signer"),
    listener("127.0.0.1", 9184, "100/signer"),
    listener("127.0.0.1", 5432, "200/postgres"),
    listener("127.0.0.1", 8332, "300/bitcoind"),
    listener("10.0.0.5", 20443, "400/stacks-node"),  # private: fine
    listener("0.0.0.0", 68, "5/dhclient", "udp"),
    connection("127.0.0.1", 8332, "127.0.0.1"),
)


def sshd(**values: str) -> SshdFacts:
    base = {
        "port": "22",
        "permitrootlogin": "no",
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "usepam": "yes",
        "permitemptypasswords": "no",
        "authorizedkeysfile": ".ssh/authorized_keys .ssh/authorized_keys2",
        "authorizedkeyscommand": "none",
    }
    defaults = tuple({**base}.items())
    root = tuple({**base, **values}.items())
    return SshdFacts(
        "/etc/ssh/sshd_config",
        (
            SshdContext("defaults", None, defaults),
            SshdContext("root from 203.0.113.10", "root", root),
        ),
    )


def signer_config(**changes: Any) -> SignerConfigFacts:
    base = SignerConfigFacts(
        FileMode("/etc/sbtc/signer-config.toml", True, 0o600, "sbtc"),
        readable=True,
        has_private_key=True,
        metrics_endpoint="127.0.0.1:9184",
        p2p_ports=(4122,),
        observer_bind="127.0.0.1:8801",
    )
    return replace(base, **changes)


def journald(**changes: Any) -> JournaldFacts:
    base = JournaldFacts(
        settings=(("Storage", "persistent"),),
        persistent_dir=True,
        disk_usage=1024**3,
        entry_before_window=NOW - timedelta(days=95),
        window_checked=True,
    )
    return replace(base, **changes)


def healthy(**changes: Any) -> HostFacts:
    facts = HostFacts(
        observed_at=NOW - timedelta(seconds=30),
        local=True,
        locality="the signer API (http://127.0.0.1:8801) is on this host",
        sockets=SocketTable(HEALTHY_SOCKETS, owners_complete=True),
        docker=DockerFacts(False, "none", "no Docker socket at /var/run/docker.sock"),
        firewall=FirewallFacts(
            (FirewallView("ufw", "deny", "ufw active, default deny (incoming)"),)
        ),
        sshd=sshd(),
        authorized_keys=AuthorizedKeysFacts(
            (AccountKeys("alice", ("/home/alice/.ssh/authorized_keys",), (SK, SK)),),
            ("root", "alice"),
        ),
        signer_config=signer_config(),
        signer_env=(ProcessEnv(100, "signer", ("PATH", "HOME", "RUST_LOG")),),
        journald=journald(),
        log_dirs=(),
        stacks_config=StacksNodeConfig(
            "/etc/stacks/Config.toml", (EventObserver("127.0.0.1:8801", REGISTRY_EVENTS),)
        ),
        metrics=MetricsProbe("http://127.0.0.1:9184/metrics", 200, 120),
        clock=ClockFacts(True, "timedatectl", "timedatectl show: synchronized=True"),
        backups=DirectoryModes(
            FileMode("/var/backups/sbtc-signer", True, 0o700, "postgres", True), (), 14
        ),
        config_file=FileMode("/root/.config/signer-tui/config.yaml", True, 0o600, "root"),
    )
    return replace(facts, **changes)
