"""Posture: what operations need from the host — logs kept ≥ 90 days, metrics on, nodes
dedicated to the signer, and a synchronised clock.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from signer_tui.checks.posture_base import (
    days,
    finding,
    listing,
    stamp,
    unavailable,
    url_port,
    worst,
)
from signer_tui.config import Profile
from signer_tui.model import Evidence, Finding, Status
from signer_tui.sources.host import SocketTable, scope_of
from signer_tui.sources.host_docker import Container, DockerFacts
from signer_tui.sources.host_facts import HostFacts, Unavailable
from signer_tui.sources.host_files import (
    EventObserver,
    JournaldFacts,
    SignerConfigFacts,
    StacksNodeConfig,
    parse_size,
    parse_timespan,
)

# journald's default cap is 10% of the file system, at most 4 GiB (journald.conf(5)).
JOURNALD_DEFAULT_MAX_USE = 4 * 1024**3
# Drivers that ship logs off the host: their retention is set at the destination.
_REMOTE_DRIVERS = ("awslogs", "fluentd", "gelf", "splunk", "syslog", "gcplogs", "logentries")

Verdict = tuple[Status, str]


def _journald_verdict(journal: JournaldFacts, need: float) -> Verdict:
    storage = journal.get("Storage") or "auto"
    if storage in ("volatile", "none") or (storage == "auto" and not journal.persistent_dir):
        where = "memory only" if storage != "none" else "nothing"
        return Status.CRIT, f"journald keeps {where} (Storage={storage}): logs end at reboot"
    retention = parse_timespan(journal.get("MaxRetentionSec") or "0")
    if retention and retention < need:
        return Status.CRIT, f"journald deletes entries after {days(retention)} (MaxRetentionSec)"
    if journal.entry_before_window is not None:
        return Status.OK, f"journald holds entries from before {days(need)} ago (persistent)"
    cap_text = journal.get("SystemMaxUse")
    cap = parse_size(cap_text) if cap_text else JOURNALD_DEFAULT_MAX_USE
    usage = journal.disk_usage
    if cap and usage is not None and usage >= 0.9 * cap:
        return Status.WARN, (
            f"journald is at its size cap ({usage // 1024**2} MiB of {cap // 1024**2} MiB) "
            f"and holds less than {days(need)}"
        )
    if not journal.window_checked:
        return (
            Status.UNKNOWN,
            "journald is persistent, but journalctl could not be asked how far back it reaches",
        )
    return Status.OK, (
        f"journald is persistent with room to grow; it holds less than {days(need)} so far"
    )


def _docker_verdict(
    container: Container, journal: Verdict | None, now: datetime, need: float
) -> Verdict:
    driver = container.log_driver or "json-file"
    opts = dict(container.log_opts)
    if driver == "none":
        return Status.CRIT, f"{container.name}: log driver none (nothing kept)"
    if driver == "journald":
        if journal is None:
            return Status.UNKNOWN, f"{container.name}: logs to journald, whose settings are unknown"
        return journal[0], f"{container.name}: logs to journald — {journal[1]}"
    if driver in _REMOTE_DRIVERS or driver not in ("json-file", "local"):
        return Status.UNKNOWN, f"{container.name}: shipped by {driver}: retention is set there"
    if driver == "json-file" and "max-size" not in opts:
        return (
            Status.OK,
            f"{container.name}: json-file without max-size keeps everything (watch the disk)",
        )
    size, count = (
        opts.get("max-size", "20m"),
        opts.get("max-file", "5" if driver == "local" else "1"),
    )
    age = _oldest_log_age(container, now)
    if age is not None and age >= need:
        return Status.OK, f"{container.name}: rotated logs reach back {days(age)}"
    if container.created and (now - container.created).total_seconds() < need and age is None:
        return (
            Status.OK,
            f"{container.name}: created {stamp(container.created)}, nothing rotated out yet",
        )
    reach = f"reach back {days(age)}" if age is not None else "cannot be dated here"
    return Status.WARN, f"logs {reach}: {container.name} {driver} capped at {count} x {size}"


def _oldest_log_age(container: Container, now: datetime) -> float | None:
    if not container.log_path:
        return None
    directory = Path(container.log_path).parent
    try:
        times = [p.stat().st_mtime for p in directory.rglob("*log*") if p.is_file()]
    except OSError:
        return None
    if len(times) < 2:  # one file: nothing was rotated, its mtime is just "now"
        return None
    return now.timestamp() - min(times)


def check_log_retention(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """Logs of the signer, the Stacks node and bitcoind are kept ≥ posture.min_log_retention."""
    fid = "posture.logs.retention"
    need = profile.posture.min_log_retention
    verdicts: list[Verdict] = []
    evidence: list[Evidence] = []
    journal: Verdict | None = None
    if isinstance(facts.journald, JournaldFacts):
        journal = _journald_verdict(facts.journald, need)
        evidence.extend(facts.journald.evidence)
    docker = facts.docker if isinstance(facts.docker, DockerFacts) else None
    containers = docker.containers if docker else ()
    for container in containers:
        verdicts.append(_docker_verdict(container, journal, now, need))
    # journald matters when services log to it: no containers, or a container using it. An
    # empty journal means journald is not running (or nothing logs to it): that tells nothing
    # unless it is the only store there is.
    uses_journal = not containers or any(c.log_driver == "journald" for c in containers)
    empty = isinstance(facts.journald, JournaldFacts) and not facts.journald.disk_usage
    if journal is not None and empty and uses_journal:
        if not facts.log_dirs:
            verdicts.append((Status.UNKNOWN, "the journal is empty: is journald running?"))
    elif journal is not None and uses_journal:
        verdicts.insert(0, journal)
    elif journal is None and not containers and isinstance(facts.journald, Unavailable):
        verdicts.append((Status.UNKNOWN, f"journald: {facts.journald.reason}"))
    for log_dir in facts.log_dirs:
        if log_dir.error:
            verdicts.append((Status.UNKNOWN, f"{log_dir.path}: {log_dir.error}"))
        elif log_dir.oldest is None:
            verdicts.append((Status.UNKNOWN, f"{log_dir.path}: no files"))
        else:
            age = (now - log_dir.oldest).total_seconds()
            status = Status.OK if age >= need else Status.WARN
            word = "kept" if status is Status.OK else "too short"
            verdicts.append((status, f"{word}: {log_dir.path} oldest file {days(age)} old"))
    if not verdicts:
        return finding(
            fid,
            Status.UNKNOWN,
            "no log store found (journald, Docker, posture.log_dirs)",
            facts,
            advice="List the signer's, Stacks node's and bitcoind's log directories in "
            "posture.log_dirs.",
        )
    status = worst(s for s, _ in verdicts)
    details = [(s.value, text) for s, text in verdicts]
    bad = [text for s, text in verdicts if s is status]
    summary = bad[0] if len(bad) == 1 else f"{len(bad)} log stores: {listing(bad)}"
    if status is Status.OK:
        summary = f"logs kept ≥ {days(need)} or still growing ({len(verdicts)} store(s))"
    return finding(
        fid,
        status,
        summary,
        facts,
        advice=f"Keep ≥ {days(need)} of logs: journald `Storage=persistent` with no short "
        "MaxRetentionSec and a SystemMaxUse that fits; Docker `max-size`/`max-file` large "
        "enough (or ship the logs off the host); rotation keeping 13 weekly files.",
        evidence=evidence,
        details=details,
    )


def check_metrics(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """The signer's Prometheus exporter is on and answers."""
    fid = "posture.metrics"
    signer_cfg = facts.signer_config if isinstance(facts.signer_config, SignerConfigFacts) else None
    configured = signer_cfg.metrics_endpoint if signer_cfg else None
    details = [("prometheus_exporter_endpoint", configured or "not set / not read")]
    advice = 'Set `prometheus_exporter_endpoint = "127.0.0.1:9184"` under [signer] and '
    advice += "signer.metrics_url in this config; scrape it from loopback."
    probe = facts.metrics
    if probe is None:
        if signer_cfg and signer_cfg.readable and not configured:
            return finding(
                fid,
                Status.WARN,
                "metrics are off (no prometheus_exporter_endpoint)",
                facts,
                advice=advice,
                details=details,
            )
        return finding(
            fid,
            Status.WARN,
            "signer.metrics_url is null: metrics not watched",
            facts,
            advice=advice,
            details=details,
        )
    if isinstance(probe, Unavailable):
        return unavailable(fid, "metrics unknown", probe, facts)
    if probe.status == 200 and probe.samples > 0:
        return finding(
            fid,
            Status.OK,
            f"metrics answer at {probe.url} ({probe.samples} samples)",
            facts,
            evidence=probe.evidence,
            details=details,
        )
    why = probe.error or f"HTTP {probe.status}, {probe.samples} samples"
    if signer_cfg and signer_cfg.readable and not configured:
        why += "; prometheus_exporter_endpoint is not set in the signer config"
    return finding(
        fid,
        Status.WARN,
        f"metrics do not answer at {probe.url} ({why})",
        facts,
        advice=advice,
        evidence=probe.evidence,
        details=details,
    )


def _remote_clients(table: SocketTable, port: int | None) -> list[str]:
    if port is None:
        return []
    return sorted(
        {
            s.remote_ip
            for s in table.sockets
            if s.proto.startswith("tcp")
            and s.state == "ESTABLISHED"
            and s.local_port == port
            and scope_of(s.remote_ip) not in ("loopback",)
            and s.remote_ip != s.local_ip
        }
    )


# The Stacks signer (stacks-signer) subscribes to these; the sBTC signer runs beside one.
_STACKS_SIGNER_EVENTS = frozenset({"stackerdb", "block_proposal", "burn_blocks"})


def _observer_role(observer: EventObserver, profile: Profile) -> str:
    """sbtc | stacks-signer | other: who an `[[events_observer]]` feeds."""
    port = str(url_port(profile.signer.api_url))
    if observer.endpoint.rsplit(":", 1)[-1].strip("/") == port or any(
        "sbtc-registry" in key for key in observer.events_keys
    ):
        return "sbtc"
    keys = set(observer.events_keys)
    if keys and keys <= _STACKS_SIGNER_EVENTS:
        return "stacks-signer"
    return "other"


def check_dedicated_nodes(facts: HostFacts, profile: Profile, now: datetime) -> Finding:
    """The Stacks node feeds only the signer (no API node on it) and bitcoind serves no
    other clients, where that is visible."""
    fid = "posture.dedicated_nodes"
    verdicts: list[Verdict] = []
    evidence: list[Evidence] = []
    stacks = facts.stacks_config
    if stacks is None:
        verdicts.append(
            (
                Status.UNKNOWN,
                "not checked: the node's observers (posture.stacks_config is not set)",
            )
        )
    elif isinstance(stacks, Unavailable):
        verdicts.append((Status.UNKNOWN, f"Stacks config: {stacks.reason}"))
    else:
        node: StacksNodeConfig = stacks
        if node.error:
            verdicts.append((Status.UNKNOWN, f"{node.path}: {node.error}"))
        else:
            roles = [(o, _observer_role(o, profile)) for o in node.observers]
            mine = [o for o, role in roles if role == "sbtc"]
            others = [o for o, role in roles if role == "other"]
            if not mine:
                verdicts.append(
                    (
                        Status.CRIT,
                        f"no event observer for the signer in {node.path} "
                        f"({profile.signer.api_url})",
                    )
                )
            if others:
                names = [
                    o.endpoint + (" (all events: an API node?)" if "*" in o.events_keys else "")
                    for o in others
                ]
                verdicts.append((Status.WARN, f"the Stacks node also feeds {listing(names)}"))
            if mine and not others:
                fed = listing([o.endpoint for o, _ in roles])
                verdicts.append((Status.OK, f"the Stacks node feeds only the signers ({fed})"))
    if isinstance(facts.sockets, SocketTable):
        evidence.extend(facts.sockets.evidence)
        for role, url in (
            ("bitcoind RPC", profile.bitcoind.url),
            ("Stacks RPC", profile.stacks.rpc_url),
        ):
            remote = _remote_clients(facts.sockets, url_port(url))
            if remote:
                verdicts.append((Status.WARN, f"remote clients on {role}: {listing(remote)}"))
            else:
                verdicts.append((Status.OK, f"{role}: no remote clients connected"))
    else:
        verdicts.append((Status.UNKNOWN, f"connections unknown: {facts.sockets.reason}"))
    if facts.bitcoind is not None:
        evidence.extend(facts.bitcoind.evidence)
        active = ", ".join(facts.bitcoind.active_commands) or "none"
        verdicts.append(
            (
                Status.OK,
                f"bitcoind: active RPC commands {active}; "
                f"inbound peers {facts.bitcoind.inbound_peers}",
            )
        )
    status = worst(s for s, _ in verdicts)
    details = [(s.value, text) for s, text in verdicts]
    bad = [text for s, text in verdicts if s is status]
    summary = "the nodes serve only the signer" if status is Status.OK else listing(bad)
    return finding(
        fid,
        status,
        summary,
        facts,
        advice="Give the signer its own bitcoind and Stacks node: no API node, no other "
        "event observers, no RPC clients but the signer (best practice).",
        evidence=evidence,
        details=details,
    )


def check_clock(facts: HostFacts, now: datetime) -> Finding:
    """The clock is NTP-synchronised: block timing and TLS depend on it."""
    fid = "posture.clock"
    clock = facts.clock
    if isinstance(clock, Unavailable):
        return unavailable(fid, "clock state unknown", clock, facts)
    details = [("via", clock.via), ("detail", clock.detail)]
    if clock.synchronized is None:
        return finding(
            fid,
            Status.UNKNOWN,
            f"time sync state unknown ({clock.detail})",
            facts,
            evidence=clock.evidence,
            details=details,
        )
    if not clock.synchronized:
        return finding(
            fid,
            Status.WARN,
            f"the clock is not synchronised ({clock.via})",
            facts,
            advice="Enable time sync: `timedatectl set-ntp true` (systemd-timesyncd) or chrony.",
            evidence=clock.evidence,
            details=details,
        )
    return finding(
        fid,
        Status.OK,
        f"the clock is synchronised ({clock.via})",
        facts,
        evidence=clock.evidence,
        details=details,
    )
