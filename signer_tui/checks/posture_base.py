"""Shared pieces of the posture checks: finding builders and the ports a signer host uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from signer_tui.config import Profile
from signer_tui.model import Evidence, Finding, Status
from signer_tui.sources.host_facts import HostFacts, Unavailable
from signer_tui.sources.host_files import SignerConfigFacts
from signer_tui.sources.host_ssh import SshdFacts

DAY = 86400.0
DEFAULT_P2P_PORT = 4122
DEFAULT_SSH_PORT = 22
# How many offenders a summary names before "and N more".
SHOWN = 4


# What a check looked at, for findings whose readers leave no Evidence of their own (file
# modes, environments): the evidence then records this request and the details seen.
REQUESTS = {
    "posture.secrets.environment": "/proc/PID/environ of the signer and Docker container "
    "environments (variable names only)",
    "posture.secrets.backups": "stat of the backup directory and its files",
    "posture.secrets.config": "this config's secret references; stat of {file: PATH} secrets",
    "posture.logs.retention": "journald settings, Docker log drivers, log directory mtimes",
    "posture.dedicated_nodes": "the Stacks node's [[events_observer]]; established connections",
}


def finding(
    fid: str,
    status: Status,
    summary: str,
    facts: HostFacts,
    advice: str = "",
    evidence: Iterable[Evidence] = (),
    details: Sequence[tuple[str, str]] = (),
) -> Finding:
    found = tuple(evidence)
    if not found and details and fid in REQUESTS:
        seen = "\n".join(f"{label}: {value}" for label, value in details)
        found = (Evidence("host", REQUESTS[fid], facts.observed_at, decoded=seen),)
    return Finding(
        id=fid,
        status=status,
        summary=summary,
        advice=advice if status is not Status.OK else "",
        evidence=found,
        observed_at=facts.observed_at,
        details=tuple(details),
    )


def unavailable(fid: str, what: str, missing: Unavailable, facts: HostFacts) -> Finding:
    evidence = (missing.evidence,) if missing.evidence is not None else ()
    return finding(
        fid,
        Status.UNKNOWN,
        f"{what}: {missing.reason}",
        facts,
        advice="Run signer-tui on the signer host, as root for the complete picture; "
        "the reason above names what was missing.",
        evidence=evidence,
    )


def listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def days(seconds: float) -> str:
    return f"{seconds / DAY:.0f} d" if seconds >= DAY else f"{seconds / 3600:.1f} h"


def url_port(url: str | None) -> int | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


@dataclass(frozen=True)
class PortPlan:
    """Which ports may face the internet, and which must never (with what they are)."""

    public: dict[int, str]
    sensitive: dict[int, str]


def port_plan(facts: HostFacts, profile: Profile) -> PortPlan:
    signer_cfg = facts.signer_config if isinstance(facts.signer_config, SignerConfigFacts) else None
    p2p = signer_cfg.p2p_ports if signer_cfg and signer_cfg.p2p_ports else (DEFAULT_P2P_PORT,)
    ssh = facts.sshd.ports if isinstance(facts.sshd, SshdFacts) else ()
    public: dict[int, str] = dict.fromkeys(p2p, "signer P2P")
    for port in ssh or (DEFAULT_SSH_PORT,):
        public[port] = "SSH"
    for port in profile.posture.allowed_ports:
        public.setdefault(port, "allowed in posture.allowed_ports")
    sensitive: dict[int, str] = {
        8801: "signer event observer/API",
        9184: "signer metrics",
        5432: "PostgreSQL",
        8332: "bitcoind RPC",
        20443: "Stacks RPC",
        9153: "Stacks node metrics",
        3032: "blocklist client",
        28332: "bitcoind ZMQ",
    }
    for url, role in (
        (profile.signer.api_url, "signer event observer/API"),
        (profile.signer.metrics_url, "signer metrics"),
        (profile.bitcoind.url, "bitcoind RPC"),
        (profile.stacks.rpc_url, "Stacks RPC"),
    ):
        found = url_port(url)
        if found is not None:
            sensitive[found] = role
    sensitive[profile.db.port] = "PostgreSQL"
    for port in public:
        sensitive.pop(port, None)
    return PortPlan(public, sensitive)


def worst(statuses: Iterable[Status]) -> Status:
    found = list(statuses)
    return Status.worst(found) if found else Status.OK


def stamp(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d") if when else "unknown"
