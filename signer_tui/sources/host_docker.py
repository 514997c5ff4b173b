"""Host readers: Docker — containers, published ports, log drivers, environment names.

The Docker API over its unix socket (with a timeout) is asked first; without it, Docker's own
NAT rules (`iptables -t nat -S DOCKER`) still show what is published. No Docker at all is a
fact (`present=False`), not an error. Docker-published ports bypass ufw, which is why they
are read separately from the listening sockets.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from signer_tui.model import Evidence, clean_text, utcnow
from signer_tui.sources.errors import (
    SourceError,
    SourceProtocolError,
    SourceUnreachable,
    ToolFailed,
    ToolNotInstalled,
)
from signer_tui.sources.host import run_command, scope_of

DOCKER_TIMEOUT = 5.0
# Containers inspected one by one; a host running more is not a dedicated signer host anyway.
MAX_CONTAINERS = 100

# -- Docker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedPort:
    container: str
    host_ip: str  # "0.0.0.0" and "::" mean every interface
    host_port: int
    container_port: int
    proto: str = "tcp"

    @property
    def scope(self) -> str:
        return scope_of(self.host_ip or "0.0.0.0")

    def describe(self) -> str:
        host = f"[{self.host_ip}]" if ":" in self.host_ip else (self.host_ip or "0.0.0.0")
        return f"{host}:{self.host_port}/{self.proto} -> {self.container}:{self.container_port}"


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    published: tuple[PublishedPort, ...] = ()
    log_driver: str | None = None
    log_opts: tuple[tuple[str, str], ...] = ()
    # Only the *names* of environment variables: values may be secrets and are never kept.
    env_names: tuple[str, ...] = ()
    log_path: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class DockerFacts:
    present: bool  # False: no Docker on this host (a fact, not an error)
    via: str  # "api" | "iptables" | "none"
    reason: str = ""  # why Docker is absent, or why only iptables could be read
    containers: tuple[Container, ...] = ()
    published: tuple[PublishedPort, ...] = ()
    daemon_log_driver: str | None = None
    evidence: tuple[Evidence, ...] = ()


def _docker_get(client: httpx.Client, path: str) -> Any:
    response = client.get(f"http://docker{path}")
    if response.status_code != 200:
        raise SourceProtocolError(
            f"Docker API HTTP {response.status_code}", clean_text(response.text, 200)
        )
    try:
        return response.json()
    except ValueError as exc:
        raise SourceProtocolError("malformed JSON from Docker", str(exc)) from None


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    # Docker prints nanoseconds; Python takes microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(trimmed)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_container(summary: dict[str, Any], inspect: dict[str, Any]) -> Container:
    """One container from `GET /containers/json` (summary) and `/containers/ID/json`."""
    names = summary.get("Names") or [inspect.get("Name", "?")]
    name = str(names[0]).lstrip("/")
    ports = []
    for port in summary.get("Ports") or []:
        if not isinstance(port, dict) or not port.get("PublicPort"):
            continue
        ports.append(
            PublishedPort(
                container=name,
                host_ip=str(port.get("IP") or "0.0.0.0"),
                host_port=int(port["PublicPort"]),
                container_port=int(port.get("PrivatePort") or 0),
                proto=str(port.get("Type") or "tcp"),
            )
        )
    host_config = inspect.get("HostConfig") or {}
    log_config = host_config.get("LogConfig") or {}
    env = (inspect.get("Config") or {}).get("Env") or []
    return Container(
        name=name,
        image=clean_text(str(summary.get("Image") or ""), 200),
        published=tuple(ports),
        log_driver=log_config.get("Type") or None,
        log_opts=tuple(
            sorted((str(k), str(v)) for k, v in (log_config.get("Config") or {}).items())
        ),
        env_names=tuple(str(e).split("=", 1)[0] for e in env),
        log_path=inspect.get("LogPath") or None,
        created=_parse_time(inspect.get("Created")),
    )


def read_docker_api(socket_path: Path, timeout: float = DOCKER_TIMEOUT) -> DockerFacts:
    """Containers, their published ports, log drivers and env names from the Docker API."""
    observed_at = utcnow()
    started = time.perf_counter()
    transport = httpx.HTTPTransport(uds=str(socket_path))
    try:
        with httpx.Client(transport=transport, timeout=timeout) as client:
            info = _docker_get(client, "/info")
            summaries = _docker_get(client, "/containers/json")
            if not isinstance(summaries, list):
                raise SourceProtocolError("unexpected Docker answer", "/containers/json")
            containers = []
            for summary in summaries[:MAX_CONTAINERS]:
                inspect = _docker_get(client, f"/containers/{summary.get('Id', '')}/json")
                containers.append(parse_container(summary, inspect))
    except httpx.TimeoutException:
        raise SourceUnreachable(
            "Docker API timed out", f"{socket_path}: no answer in {timeout:g} s"
        ) from None
    except httpx.TransportError as exc:
        raise SourceUnreachable("Docker API unreachable", f"{socket_path}: {exc}") from None
    published = tuple(p for c in containers for p in c.published)
    evidence = Evidence(
        "host.docker",
        f"GET /info, /containers/json, /containers/ID/json on {socket_path}",
        observed_at,
        status=200,
        decoded="\n".join(p.describe() for p in published) or "no published ports",
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
    return DockerFacts(
        present=True,
        via="api",
        containers=tuple(containers),
        published=published,
        daemon_log_driver=str(info.get("LoggingDriver") or "") or None,
        evidence=(evidence,),
    )


_DNAT = re.compile(
    r"^-A DOCKER (?P<rule>.*?)-p (?P<proto>tcp|udp) .*?--dport (?P<port>\d+) "
    r"-j DNAT --to-destination (?P<dest>\S+)"
)


def parse_iptables_docker_nat(text: str) -> list[PublishedPort]:
    """Published ports from `iptables -t nat -S DOCKER` (the DNAT rules Docker writes)."""
    ports = []
    for line in text.splitlines():
        match = _DNAT.match(line.strip())
        if not match:
            continue
        dest = match.group("dest")
        ip_match = re.search(r"-d (\S+?)(?:/\d+)? ", match.group("rule") + " ")
        container_port = int(dest.rsplit(":", 1)[1]) if ":" in dest else 0
        ports.append(
            PublishedPort(
                container=dest.rsplit(":", 1)[0],
                host_ip=ip_match.group(1) if ip_match else "0.0.0.0",
                host_port=int(match.group("port")),
                container_port=container_port,
                proto=match.group("proto"),
            )
        )
    return ports


def read_docker(
    socket_path: Path = Path("/var/run/docker.sock"),
    iptables: Sequence[str] = ("iptables",),
    timeout: float = DOCKER_TIMEOUT,
) -> DockerFacts:
    """The Docker API when its socket answers; else Docker's NAT rules; else "no Docker"."""
    reason = ""
    if socket_path.exists():
        try:
            return read_docker_api(socket_path, timeout)
        except SourceError as exc:
            reason = f"{exc.title}: {exc.detail}"
    else:
        reason = f"no Docker socket at {socket_path}"
    try:
        run = run_command([*iptables, "-t", "nat", "-S", "DOCKER"], "iptables")
    except ToolNotInstalled:
        return DockerFacts(False, "none", reason + "; iptables not installed")
    if run.returncode != 0:
        # "No chain/target/match by that name": iptables works, Docker never ran here.
        if "No chain" in run.stderr or "does not exist" in run.stderr:
            return DockerFacts(False, "none", reason + "; no DOCKER chain in iptables")
        raise ToolFailed("iptables failed", f"{reason}; {run.command}: {run.last_error_line()}")
    ports = tuple(parse_iptables_docker_nat(run.stdout))
    evidence = run.evidence("host.docker", "\n".join(p.describe() for p in ports))
    return DockerFacts(True, "iptables", reason, published=ports, evidence=(evidence,))
