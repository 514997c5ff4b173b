"""Host posture checks: the operators' best-practice list as findings (ids `posture.*`).

Pure functions of `HostFacts` (read by `sources/host_facts.read_host_facts`), the profile and
`now`. This module holds the entry point and the network checks (exposed listeners, Docker-
published ports, the firewall); SSH and secrets are in `posture_access`, logs, metrics,
dedicated nodes and the clock in `posture_ops`.

Where the signer does not run on this host (a bastion), every host-wide check is UNKNOWN with
that reason: "does not apply here" must not read as healthy. Our own config is checked anywhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from signer_tui.checks.posture_access import (
    check_backups_dir,
    check_config_secrets,
    check_hardware_keys,
    check_password_auth,
    check_root_login,
    check_signer_config_secret,
    check_signer_environment,
)
from signer_tui.checks.posture_base import PortPlan, finding, listing, port_plan, unavailable
from signer_tui.checks.posture_ops import (
    check_clock,
    check_dedicated_nodes,
    check_log_retention,
    check_metrics,
)
from signer_tui.checks.registry import Inputs, check
from signer_tui.config import Profile, Settings
from signer_tui.model import Finding, Status
from signer_tui.sources.host import Socket, SocketTable
from signer_tui.sources.host_docker import DockerFacts, PublishedPort
from signer_tui.sources.host_facts import HOST, BitcoindClients, HostFacts, Unavailable
from signer_tui.sources.host_system import FirewallFacts

# Ids of the checks that need the signer host itself (all but our own config's secrets).
HOST_IDS = (
    "posture.exposed",
    "posture.docker_published",
    "posture.firewall",
    "posture.ssh.root_login",
    "posture.ssh.password_auth",
    "posture.ssh.hardware_keys",
    "posture.secrets.signer_config",
    "posture.secrets.environment",
    "posture.secrets.backups",
    "posture.logs.retention",
    "posture.metrics",
    "posture.dedicated_nodes",
    "posture.clock",
)
IDS = (*HOST_IDS, "posture.secrets.config")

# DHCP clients bind these on every interface to receive their leases: not a service.
_UDP_CLIENT_PORTS = frozenset({68, 546})


def _exposure(port: int, plan: PortPlan) -> Status | None:
    """CRIT for a port that must never be public, WARN for an unexpected one, None if allowed."""
    if port in plan.public:
        return None
    return Status.CRIT if port in plan.sensitive else Status.WARN


def _role(port: int, plan: PortPlan) -> str:
    return plan.sensitive.get(port) or plan.public.get(port) or "unexpected"


def check_exposed(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """Only the P2P port and SSH may listen on a non-loopback, non-private address."""
    fid = "posture.exposed"
    if isinstance(facts.sockets, Unavailable):
        return unavailable(fid, "listening sockets unknown", facts.sockets, facts)
    table: SocketTable = facts.sockets
    plan = port_plan(facts, profile)
    offenders: dict[tuple[str, int, str], tuple[Status, Socket]] = {}
    for sock in table.listening:
        if sock.scope not in ("wildcard", "public"):
            continue
        if sock.proto.startswith("udp") and sock.local_port in _UDP_CLIENT_PORTS:
            continue
        status = _exposure(sock.local_port, plan)
        if status is not None:
            # IPv4 and IPv6 wildcards of one service are one offender (docker-proxy runs two).
            key = (sock.proto.rstrip("6"), sock.local_port, "")
            offenders.setdefault(key, (status, sock))
    ordered = sorted(offenders.values(), key=lambda item: (-item[0].rank, item[1].local_port))
    details = [
        (s.address, f"{_role(s.local_port, plan)} — {s.owner or 'owner not readable'}")
        for _, s in ordered
    ]
    allowed = ", ".join(f"{p} ({r})" for p, r in sorted(plan.public.items()))
    details.append(("allowed publicly", allowed))
    if not table.owners_complete:
        details.append(("owners", "partial: run as root to see every socket's process"))
    if not ordered:
        return finding(
            fid,
            Status.OK,
            "only the P2P port and SSH listen publicly",
            facts,
            evidence=table.evidence,
            details=details,
        )
    status = ordered[0][0]
    names = [f"{s.local_port} {_role(s.local_port, plan)}" for _, s in ordered]
    return finding(
        fid,
        status,
        f"{len(ordered)} service(s) listen on every interface: {listing(names)}",
        facts,
        advice="Bind these to 127.0.0.1 (or a private address) in their own config — e.g. "
        "prometheus_exporter_endpoint = '127.0.0.1:9184', rpcbind/rpcallowip for bitcoind, "
        "rpc_bind for the Stacks node — or allow them in posture.allowed_ports if intended.",
        evidence=table.evidence,
        details=details,
    )


def check_docker_published(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """Docker-published ports bypass ufw (Docker writes its own iptables rules first)."""
    fid = "posture.docker_published"
    if isinstance(facts.docker, Unavailable):
        return unavailable(fid, "Docker state unknown", facts.docker, facts)
    docker: DockerFacts = facts.docker
    if not docker.present:
        return finding(fid, Status.OK, f"no Docker on this host ({docker.reason})", facts)
    plan = port_plan(facts, profile)
    bad: list[tuple[Status, PublishedPort]] = []
    seen: set[tuple[int, str, str]] = set()
    for port in docker.published:
        key = (port.host_port, port.proto, port.container)  # 0.0.0.0 and :: are one publish
        if port.scope in ("wildcard", "public") and key not in seen:
            status = _exposure(port.host_port, plan)
            if status is not None:
                seen.add(key)
                bad.append((status, port))
    bad.sort(key=lambda item: (-item[0].rank, item[1].host_port))
    details = [(p.describe(), _role(p.host_port, plan)) for _, p in bad]
    details.append(("read via", docker.via + (f" ({docker.reason})" if docker.reason else "")))
    if not bad:
        count = len(docker.published)
        return finding(
            fid,
            Status.OK,
            f"{count} published port(s), none sensitive on all interfaces",
            facts,
            evidence=docker.evidence,
            details=details,
        )
    names = [f"{p.host_port} {_role(p.host_port, plan)} ({p.container})" for _, p in bad]
    return finding(
        fid,
        bad[0][0],
        f"Docker publishes {listing(names)} on every interface, past ufw",
        facts,
        advice="Publish on loopback in the compose file: ports: ['127.0.0.1:9184:9184']. "
        "ufw does not filter Docker-published ports (Docker inserts its own iptables rules); "
        "the sBTC reference compose publishes metrics and bitcoind RPC on all interfaces.",
        evidence=docker.evidence,
        details=details,
    )


def check_firewall(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """A default-deny inbound policy (ufw, nftables or iptables), inspected read-only."""
    fid = "posture.firewall"
    if isinstance(facts.firewall, Unavailable):
        return unavailable(fid, "firewall unknown", facts.firewall, facts)
    fw: FirewallFacts = facts.firewall
    details = [(v.tool, f"{v.inbound}: {v.detail}") for v in fw.views]
    details += [(tool, reason) for tool, reason in fw.unavailable]
    advice = (
        "Set a default-deny inbound policy and allow only SSH and the P2P port, e.g. "
        "`ufw default deny incoming; ufw allow 22/tcp; ufw allow 4122`."
    )
    denies = [v for v in fw.views if v.inbound == "deny"]
    if denies:
        v6_open = [v for v in fw.views if v.tool == "ip6tables" and v.inbound == "allow"]
        if v6_open and not any(v.tool in ("nft", "ufw") for v in denies):
            return finding(
                fid,
                Status.WARN,
                "IPv6 accepts everything inbound (IPv4 is default-deny)",
                facts,
                advice="Set `ip6tables -P INPUT DROP` too (or use nftables' inet family).",
                evidence=fw.evidence,
                details=details,
            )
        return finding(
            fid,
            Status.OK,
            f"inbound default deny ({denies[0].tool}: {denies[0].detail})",
            facts,
            evidence=fw.evidence,
            details=details,
        )
    answered = [v for v in fw.views if v.inbound in ("allow", "inactive")]
    if answered:
        what = "; ".join(f"{v.tool}: {v.detail}" for v in answered)
        return finding(
            fid,
            Status.CRIT,
            f"no default-deny inbound policy ({what})",
            facts,
            advice=advice,
            evidence=fw.evidence,
            details=details,
        )
    reasons = "; ".join(f"{tool} {reason}" for tool, reason in fw.unavailable) or "no answer"
    return finding(
        fid,
        Status.UNKNOWN,
        f"firewall could not be inspected ({reasons})",
        facts,
        advice="Run the check as root (nft and iptables need it), or install the tool the "
        "firewall is managed with.",
        evidence=fw.evidence,
        details=details,
    )


def posture_findings(
    facts: HostFacts,
    profile: Profile,
    settings: Settings,
    now: datetime,
    bitcoind: BitcoindClients | None = None,
) -> list[Finding]:
    """Every posture finding for one profile: the entry point the pipeline registers.
    `bitcoind` is bitcoind's own view of its clients when the pipeline fetched it."""
    if not profile.posture.enabled:
        return []
    if bitcoind is not None:
        facts = replace(facts, bitcoind=bitcoind)
    own = check_config_secrets(facts, settings, now)
    if not facts.local:
        reason = facts.locality
        gone = [
            finding(
                fid,
                Status.UNKNOWN,
                f"does not apply here: {reason}",
                facts,
                advice="Run `signer-tui check` on the signer host itself (from cron or the "
                "systemd timer) to inspect its posture.",
            )
            for fid in HOST_IDS
        ]
        return [*gone, own]
    return [
        check_exposed(facts, profile, now),
        check_docker_published(facts, profile, now),
        check_firewall(facts, profile, now),
        check_root_login(facts, now),
        check_password_auth(facts, now),
        check_hardware_keys(facts, now),
        check_signer_config_secret(facts, profile, now),
        check_signer_environment(facts, profile, now),
        check_backups_dir(facts, profile, now),
        own,
        check_log_retention(facts, profile, now),
        check_metrics(facts, profile, now),
        check_dedicated_nodes(facts, profile, now),
        check_clock(facts, now),
    ]


@check(needs=(HOST,))
def posture_checks(inp: Inputs) -> list[Finding]:
    if not inp.configured(HOST):
        return []  # posture.enabled is false for this profile
    obs = inp.get(HOST)
    facts = obs.reading() if obs is not None else None
    if facts is None:
        why = "not read yet" if obs is None else (obs.error or "failed")
        evidence = obs.evidence if obs is not None else ()
        return [Finding(fid, Status.UNKNOWN, f"host: {why}", "", evidence) for fid in IDS]
    return posture_findings(facts, inp.profile, inp.settings, inp.now)
