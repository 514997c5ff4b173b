"""A simulated signer host for the demo: `HostFacts` that look like a well-kept host, so the
demo's posture findings do not describe whatever machine the demo happens to run on.

It has one blemish on purpose (an operator still on a software SSH key: WARN), and
`exposed_metrics=True` publishes the metrics port the way the sBTC reference compose does
(Docker, all interfaces: CRIT), for an incident scenario.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from signer_tui.config import Profile
from signer_tui.model import Evidence
from signer_tui.sources.host import Socket, SocketTable
from signer_tui.sources.host_docker import Container, DockerFacts, PublishedPort
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

_SK = "sk-ssh-ed25519@openssh.com"
_SSHD = (
    ("port", "22"),
    ("permitrootlogin", "no"),
    ("passwordauthentication", "no"),
    ("kbdinteractiveauthentication", "no"),
    ("usepam", "yes"),
    ("permitemptypasswords", "no"),
    ("authorizedkeysfile", ".ssh/authorized_keys"),
    ("authorizedkeyscommand", "none"),
)


def _listen(ip: str, port: int, owner: str, proto: str = "tcp") -> Socket:
    return Socket(proto, ip, port, "::" if ":" in ip else "0.0.0.0", 0, "LISTEN", 0, port, owner)


def demo_host_facts(profile: Profile, now: datetime, exposed_metrics: bool = False) -> HostFacts:
    sim = "simulated host"
    evidence = (Evidence("host.sim", "the demo's simulated signer host", now, decoded=sim),)
    published = (
        (PublishedPort("sbtc-signer", "0.0.0.0", 9184, 9184),)
        if exposed_metrics
        else (PublishedPort("sbtc-signer", "127.0.0.1", 9184, 9184),)
    )
    signer = Container(
        "sbtc-signer",
        "ghcr.io/stacks-sbtc/sbtc:signer-1.3.3",
        published,
        log_driver="journald",
        env_names=("PATH", "RUST_LOG"),
        created=now - timedelta(days=40),
    )
    return HostFacts(
        observed_at=now,
        local=True,
        locality=f"{sim}: the demo signer",
        sockets=SocketTable(
            (
                _listen("0.0.0.0", 4122, "812/docker-proxy"),
                _listen("::", 22, "601/sshd", "tcp6"),
                _listen("127.0.0.1", 8801, "815/docker-proxy"),
                _listen("127.0.0.1", 5432, "702/postgres"),
                _listen("127.0.0.1", 8332, "731/bitcoind"),
                _listen("127.0.0.1", 20443, "744/stacks-node"),
                _listen("0.0.0.0" if exposed_metrics else "127.0.0.1", 9184, "813/docker-proxy"),
            ),
            owners_complete=True,
            evidence=evidence,
        ),
        docker=DockerFacts(True, "api", "", (signer,), published, "journald", evidence),
        firewall=FirewallFacts(
            (FirewallView("ufw", "deny", "ufw active, default deny (incoming)"),),
            evidence=evidence,
        ),
        sshd=SshdFacts(
            "/etc/ssh/sshd_config",
            (
                SshdContext("defaults", None, _SSHD),
                SshdContext("root from 203.0.113.10", "root", _SSHD),
            ),
            evidence,
        ),
        authorized_keys=AuthorizedKeysFacts(
            (
                AccountKeys("alice", ("/home/alice/.ssh/authorized_keys",), (_SK, _SK)),
                AccountKeys("bob", ("/home/bob/.ssh/authorized_keys",), ("ssh-ed25519",)),
            ),
            ("root", "alice", "bob"),
            evidence,
        ),
        signer_config=SignerConfigFacts(
            FileMode("/etc/sbtc-signer/signer-config.toml", True, 0o600, "sbtc"),
            readable=True,
            has_private_key=True,
            metrics_endpoint="0.0.0.0:9184",
            p2p_ports=(4122,),
            observer_bind="0.0.0.0:8801",
        ),
        signer_env=(ProcessEnv(901, "signer", ("PATH", "RUST_LOG")),),
        journald=JournaldFacts(
            (("Storage", "persistent"),),
            True,
            3 * 1024**3,
            now - timedelta(days=97),
            True,
            evidence,
        ),
        log_dirs=(),
        stacks_config=StacksNodeConfig(
            "/etc/stacks/Config.toml",
            (EventObserver("sbtc-signer:8801", (f"{profile.deployer}.sbtc-registry::print",)),),
        ),
        metrics=MetricsProbe(profile.signer.metrics_url or "", 200, 64, evidence=evidence)
        if profile.signer.metrics_url
        else None,
        clock=ClockFacts(True, "timedatectl", "NTPSynchronized=yes", evidence),
        backups=DirectoryModes(
            FileMode("/var/backups/sbtc-signer", True, 0o700, "postgres", True), (), 14
        ),
    )
