"""Everything posture needs about this host, read in one blocking poll: `read_host_facts`.

Each reader runs on its own: one that fails (a tool missing, a file refused) becomes an
`Unavailable` with the reason, and the checks turn that into UNKNOWN for their finding only.
When the signer does not run on this host (its API URL is neither loopback nor one of this
host's addresses) nothing host-wide is read: those checks "do not apply here".
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from signer_tui.config import Profile, Settings
from signer_tui.model import Evidence, clean_text, utcnow
from signer_tui.sources.bitcoind import RpcResult
from signer_tui.sources.errors import SourceError
from signer_tui.sources.host import SocketTable, read_sockets
from signer_tui.sources.host_docker import DockerFacts, read_docker
from signer_tui.sources.host_files import (
    DirectoryModes,
    FileMode,
    JournaldFacts,
    LogDirFacts,
    ProcessEnv,
    SignerConfigFacts,
    StacksNodeConfig,
    read_directory_modes,
    read_journald,
    read_log_dir,
    read_process_envs,
    read_signer_config,
    read_stacks_config,
    stat_path,
)
from signer_tui.sources.host_ssh import (
    DEFAULT_SSHD,
    AuthorizedKeysFacts,
    SshdFacts,
    parse_passwd,
    read_authorized_keys,
    read_sshd,
)
from signer_tui.sources.host_system import ClockFacts, FirewallFacts, read_clock, read_firewall
from signer_tui.sources.keys import Poll, PollContext, Source

# sshd is asked as at most this many accounts (root first): a signer host has a handful.
MAX_SSH_ACCOUNTS = 20


@dataclass(frozen=True)
class Unavailable:
    """Why a fact could not be read: the check that needs it says UNKNOWN with this."""

    title: str
    detail: str = ""
    evidence: Evidence | None = None

    @property
    def reason(self) -> str:
        return f"{self.title}: {self.detail}" if self.detail else self.title


@dataclass(frozen=True)
class HostPaths:
    """Where the readers look. The defaults are the real machine; tests point them at fixtures."""

    proc: Path = Path("/proc")
    passwd: Path = Path("/etc/passwd")
    root: Path = Path("/")  # authorized_keys paths are re-based under it
    docker_socket: Path = Path("/var/run/docker.sock")
    sshd: tuple[str, ...] = DEFAULT_SSHD
    ufw: tuple[str, ...] = ("ufw",)
    nft: tuple[str, ...] = ("nft",)
    iptables: tuple[str, ...] = ("iptables",)
    ip6tables: tuple[str, ...] = ("ip6tables",)
    timedatectl: tuple[str, ...] = ("timedatectl",)
    chronyc: tuple[str, ...] = ("chronyc",)
    kernel_clock: bool = True
    systemd_analyze: tuple[str, ...] = ("systemd-analyze",)
    journalctl: tuple[str, ...] = ("journalctl",)
    journald_conf: Path = Path("/etc/systemd/journald.conf")
    journald_drop_dirs: tuple[Path, ...] = (
        Path("/etc/systemd/journald.conf.d"),
        Path("/run/systemd/journald.conf.d"),
        Path("/usr/lib/systemd/journald.conf.d"),
    )
    journal_dirs: tuple[Path, ...] = (Path("/var/log/journal"), Path("/run/log/journal"))


@dataclass(frozen=True)
class MetricsProbe:
    url: str
    status: int | None
    samples: int = 0
    error: str = ""
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class BitcoindClients:
    """What bitcoind itself shows of who uses it (from getrpcinfo and getpeerinfo)."""

    active_commands: tuple[str, ...] = ()
    inbound_peers: int | None = None
    outbound_peers: int | None = None
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class HostFacts:
    observed_at: datetime
    local: bool  # the signer runs on this host: host-wide checks apply
    locality: str  # why we think so (or not)
    sockets: SocketTable | Unavailable
    docker: DockerFacts | Unavailable
    firewall: FirewallFacts | Unavailable
    sshd: SshdFacts | Unavailable
    authorized_keys: AuthorizedKeysFacts | Unavailable
    signer_config: SignerConfigFacts | Unavailable | None  # None: posture.signer_config unset
    signer_env: tuple[ProcessEnv, ...] | Unavailable
    journald: JournaldFacts | Unavailable
    log_dirs: tuple[LogDirFacts, ...]
    stacks_config: StacksNodeConfig | Unavailable | None  # None: posture.stacks_config unset
    metrics: MetricsProbe | Unavailable | None  # None: signer.metrics_url is null
    clock: ClockFacts | Unavailable
    backups: DirectoryModes | Unavailable | None  # None: no pg_dump directory configured
    # Our own config: its file, and the files behind {file: PATH} secret references.
    config_file: FileMode | None = None
    secret_files: tuple[tuple[str, FileMode], ...] = ()
    bitcoind: BitcoindClients | None = None

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        found: list[Evidence] = []
        for item in fields(self):
            value = getattr(self, item.name)
            evidence = getattr(value, "evidence", None)
            if isinstance(evidence, Evidence):
                found.append(evidence)
            elif isinstance(evidence, tuple):
                found.extend(e for e in evidence if isinstance(e, Evidence))
        return tuple(found)


# -- is the signer on this host? -----------------------------------------------------------


def is_local_address(ip: str) -> bool:
    """True when `ip` is loopback or assigned to this host (binding to it succeeds)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if addr.is_loopback:
        return True
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((ip, 0))
    except OSError:
        return False
    return True


def signer_locality(url: str) -> tuple[bool, str]:
    host = urlsplit(url).hostname or ""
    if host in ("localhost", socket.gethostname()):
        return True, f"the signer API ({url}) is on this host"
    try:
        ipaddress.ip_address(host)
        candidates = [host]
    except ValueError:
        try:
            candidates = sorted({str(a[4][0]) for a in socket.getaddrinfo(host, None)})
        except OSError:
            return False, f"cannot resolve the signer API host {host!r}: not checked here"
    if any(is_local_address(ip) for ip in candidates):
        return True, f"the signer API ({url}) is on this host"
    return False, (
        f"the signer API ({url}) is not on this host: run the posture checks on the signer host"
    )


# -- the poll ------------------------------------------------------------------------------


def _attempt(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except SourceError as exc:
        return Unavailable(exc.title, exc.detail, exc.evidence)
    except OSError as exc:
        return Unavailable(type(exc).__name__, exc.strerror or str(exc))


def probe_metrics(url: str, timeout: float) -> MetricsProbe:
    observed_at = utcnow()
    started = time.perf_counter()
    # httpx's timeout is per read: a server dripping a byte a second never trips it. Bound
    # the whole probe (and its size) ourselves.
    deadline = started + timeout * 2
    body = bytearray()
    try:
        with httpx.stream("GET", url, timeout=timeout) as response:
            for chunk in response.iter_bytes():
                body += chunk
                if time.perf_counter() > deadline or len(body) > 4 * 1024 * 1024:
                    raise httpx.ReadTimeout(f"no whole answer within {timeout * 2:g} s")
    except httpx.HTTPError as exc:
        message = clean_text(str(exc) or type(exc).__name__, 200)
        evidence = Evidence("host.metrics", f"GET {url}", observed_at, error=message)
        return MetricsProbe(url, None, error=message, evidence=(evidence,))
    text = body.decode("utf-8", errors="replace")
    samples = sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))
    evidence = Evidence(
        "host.metrics",
        f"GET {url}",
        observed_at,
        status=response.status_code,
        decoded=f"{samples} samples",
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
    return MetricsProbe(url, response.status_code, samples, evidence=(evidence,))


def bitcoind_clients(
    rpcinfo: Mapping[str, Any] | None,
    peerinfo: Sequence[Mapping[str, Any]] | None,
    observed_at: datetime,
) -> BitcoindClients:
    """Summarise already-fetched `getrpcinfo` / `getpeerinfo` answers (no I/O here)."""
    commands: tuple[str, ...] = ()
    if isinstance(rpcinfo, Mapping):
        active = rpcinfo.get("active_commands") or []
        commands = tuple(
            str(c.get("method", "?"))
            for c in active
            if isinstance(c, Mapping) and c.get("method") != "getrpcinfo"
        )
    inbound = outbound = None
    if isinstance(peerinfo, Sequence):
        inbound = sum(1 for p in peerinfo if isinstance(p, Mapping) and p.get("inbound"))
        outbound = len(peerinfo) - inbound
    evidence = Evidence(
        "bitcoind",
        "getrpcinfo, getpeerinfo",
        observed_at,
        decoded=f"active RPC commands: {', '.join(commands) or 'none'}; "
        f"peers inbound {inbound}, outbound {outbound}",
    )
    return BitcoindClients(commands, inbound, outbound, (evidence,))


class _RpcCaller(Protocol):
    async def call(self, method: str, *params: Any) -> RpcResult: ...


async def fetch_bitcoind_clients(bitcoind: _RpcCaller) -> BitcoindClients:
    """`getrpcinfo` and `getpeerinfo` through the profile's existing `Bitcoind` client."""
    rpcinfo = await bitcoind.call("getrpcinfo")
    peers = await bitcoind.call("getpeerinfo")
    clients = bitcoind_clients(rpcinfo.result, peers.result, rpcinfo.evidence.observed_at)
    return replace(clients, evidence=(rpcinfo.evidence, peers.evidence))


def with_bitcoind(
    facts: HostFacts,
    rpcinfo: Mapping[str, Any] | None,
    peerinfo: Sequence[Mapping[str, Any]] | None,
) -> HostFacts:
    """Attach bitcoind's own view, from answers the bitcoind source already fetched."""
    return replace(facts, bitcoind=bitcoind_clients(rpcinfo, peerinfo, utcnow()))


def _not_here(reason: str) -> Unavailable:
    return Unavailable("does not apply here", reason)


def _own_config(
    settings: Settings, config_path: Path | None
) -> tuple[FileMode | None, tuple[tuple[str, FileMode], ...]]:
    files = tuple(
        (path, stat_path(Path(ref.name).expanduser()))
        for path, ref in settings.secret_refs()
        if ref.kind == "file"
    )
    return (stat_path(config_path) if config_path else None), files


def read_host_facts(
    profile: Profile,
    settings: Settings,
    paths: HostPaths | None = None,
    config_path: Path | None = None,
    now: datetime | None = None,
) -> HostFacts:
    """The blocking posture poll (run it in a worker thread; it takes about a second)."""
    paths = paths or HostPaths()
    now = now or utcnow()
    cfg = profile.posture
    config_file, secret_files = _own_config(settings, config_path)
    if not cfg.enabled:
        local, locality = False, "posture.enabled is false for this profile"
    else:
        local, locality = signer_locality(profile.signer.api_url)
    if not local:
        gone = _not_here(locality)
        return HostFacts(
            observed_at=now,
            local=False,
            locality=locality,
            sockets=gone,
            docker=gone,
            firewall=gone,
            sshd=gone,
            authorized_keys=gone,
            signer_config=gone,
            signer_env=gone,
            journald=gone,
            log_dirs=(),
            stacks_config=gone,
            metrics=gone,
            clock=gone,
            backups=gone,
            config_file=config_file,
            secret_files=secret_files,
        )
    accounts: list[str] = ["root"]
    with contextlib.suppress(OSError):
        accounts += [a.user for a in parse_passwd(paths.passwd.read_text(errors="replace"))]
    sshd = _attempt(read_sshd, cfg.sshd_config, paths.sshd, accounts[:MAX_SSH_ACCOUNTS])
    patterns = (
        sshd.authorized_keys_files
        if isinstance(sshd, SshdFacts)
        else (".ssh/authorized_keys", ".ssh/authorized_keys2")
    )
    backups: DirectoryModes | Unavailable | None = None
    if profile.backups is not None and profile.backups.location is not None:
        backups = _attempt(read_directory_modes, profile.backups.location)
    metrics: MetricsProbe | Unavailable | None = None
    if profile.signer.metrics_url:
        metrics = probe_metrics(profile.signer.metrics_url, profile.signer.timeout)
    return HostFacts(
        observed_at=now,
        local=True,
        locality=locality,
        sockets=_attempt(read_sockets, paths.proc),
        docker=_attempt(read_docker, paths.docker_socket, paths.iptables),
        firewall=_attempt(read_firewall, paths.ufw, paths.nft, paths.iptables, paths.ip6tables),
        sshd=sshd,
        authorized_keys=_attempt(read_authorized_keys, patterns, paths.passwd, root=paths.root),
        signer_config=(
            _attempt(read_signer_config, cfg.signer_config) if cfg.signer_config else None
        ),
        signer_env=_attempt(read_process_envs, paths.proc, cfg.signer_process),
        journald=_attempt(
            read_journald,
            now,
            cfg.min_log_retention,
            paths.systemd_analyze,
            paths.journalctl,
            paths.journald_conf,
            paths.journald_drop_dirs,
            paths.journal_dirs,
        ),
        log_dirs=tuple(read_log_dir(d) for d in cfg.log_dirs),
        stacks_config=(
            _attempt(read_stacks_config, cfg.stacks_config) if cfg.stacks_config else None
        ),
        metrics=metrics,
        clock=_attempt(read_clock, paths.timedatectl, paths.chronyc, paths.kernel_clock),
        backups=backups,
        config_file=config_file,
        secret_files=secret_files,
    )


def _build_host(ctx: PollContext) -> Poll[HostFacts] | None:
    profile = ctx.profile
    assert profile is not None
    if not profile.posture.enabled:
        return None
    settings = ctx.settings
    path = ctx.config_path
    return Poll(
        lambda: read_host_facts(profile, settings, config_path=path),
        profile.posture.poll,
        blocking=True,
        deadline=30.0,
        description="host posture",
    )


# The host the console runs on: sockets, firewall, sshd, files, journald, clock.
HOST: Source[HostFacts] = Source("host", _build_host, label="this host")
