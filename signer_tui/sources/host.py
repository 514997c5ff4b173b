"""Host readers: listening sockets (with their processes) and the command runner they share.

Every host reader (here and in `host_docker`, `host_system`, `host_ssh`, `host_files`) takes
its paths and commands as parameters, so tests feed fixture files (a fake `/proc`) and fixture
commands; the defaults are the real machine's. Readers only describe the host: what may listen
where is decided in `checks/posture*.py`. Nothing needs root, but without it some facts are
partial (another user's sockets have no known owner, `nft list ruleset` is refused); the facts
say so instead of guessing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.pgdump.proc import ToolRun
from signer_tui.sources.errors import SourceProtocolError, SourceUnreachable, ToolNotInstalled
from signer_tui.sources.pgbackrest import run_tool

COMMAND_TIMEOUT = 10.0
# /proc/net/tcp "st" column (include/net/tcp_states.h). UDP sockets that are bound but not
# connected show as 07 (TCP_CLOSE): for UDP that is "listening".
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}
PROC_NET_FILES = ("tcp", "tcp6", "udp", "udp6")


def run_command(argv: Sequence[str], tool: str, timeout: float = COMMAND_TIMEOUT) -> ToolRun:
    """`run_tool` with this module's timeout; a missing binary is `ToolNotInstalled`."""
    try:
        return run_tool(argv, tool=tool, timeout=timeout, max_bytes=4 * 1024 * 1024)
    except ToolNotInstalled:
        raise ToolNotInstalled(f"{tool} not installed", f"cannot run {argv[0]}") from None


# -- sockets -------------------------------------------------------------------------------


def scope_of(ip: str) -> str:
    """loopback | wildcard | private | link-local | public: who can reach a bound address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "public"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified:
        return "wildcard"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_private:
        return "private"
    return "public"


@dataclass(frozen=True)
class Socket:
    proto: str  # tcp | tcp6 | udp | udp6
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int
    state: str  # LISTEN, ESTABLISHED, ... (UDP: CLOSE means bound, i.e. listening)
    uid: int
    inode: int
    owner: str | None = None  # "1234/signer" when /proc/PID/fd was readable

    @property
    def listening(self) -> bool:
        if self.proto.startswith("udp"):
            return self.state == "CLOSE" and self.remote_port == 0
        return self.state == "LISTEN"

    @property
    def scope(self) -> str:
        return scope_of(self.local_ip)

    @property
    def address(self) -> str:
        host = f"[{self.local_ip}]" if ":" in self.local_ip else self.local_ip
        return f"{host}:{self.local_port}/{self.proto.rstrip('6')}"

    def describe(self) -> str:
        return f"{self.address} ({self.owner or 'owner not readable'})"


@dataclass(frozen=True)
class SocketTable:
    sockets: tuple[Socket, ...]
    # False when some /proc/PID/fd could not be read (not root): owners are then partial.
    owners_complete: bool
    evidence: tuple[Evidence, ...] = ()

    @property
    def listening(self) -> tuple[Socket, ...]:
        return tuple(s for s in self.sockets if s.listening)


def _hex_ip(text: str) -> str:
    raw = bytes.fromhex(text)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return str(ipaddress.IPv4Address(words))
    if len(words) == 16:
        return str(ipaddress.IPv6Address(words))
    raise ValueError(f"address of {len(raw)} bytes")


def parse_proc_net(text: str, proto: str) -> list[Socket]:
    """Rows of /proc/net/tcp, tcp6, udp or udp6."""
    sockets: list[Socket] = []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        try:
            local, remote, state = fields[1], fields[2], fields[3]
            lip, lport = local.split(":")
            rip, rport = remote.split(":")
            sockets.append(
                Socket(
                    proto=proto,
                    local_ip=_hex_ip(lip),
                    local_port=int(lport, 16),
                    remote_ip=_hex_ip(rip),
                    remote_port=int(rport, 16),
                    state=TCP_STATES.get(state.upper(), state),
                    uid=int(fields[7]),
                    inode=int(fields[9]),
                )
            )
        except (IndexError, ValueError) as exc:
            raise SourceProtocolError(
                "unexpected /proc/net format", f"{proto} line {number}: {exc}"
            ) from None
    return sockets


def socket_owners(proc: Path) -> tuple[dict[int, str], bool]:
    """Socket inode -> "PID/comm", from the /proc/PID/fd links; and whether all were readable."""
    owners: dict[int, str] = {}
    complete = True
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return owners, False
    for pid_dir in pids:
        try:
            fds = list((pid_dir / "fd").iterdir())
        except FileNotFoundError:
            continue  # the process ended meanwhile
        except OSError:
            complete = False
            continue
        name = ""
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                if not name:
                    name = _comm(pid_dir)
                with contextlib.suppress(ValueError):
                    owners.setdefault(int(target[8:-1]), f"{pid_dir.name}/{name}")
    return owners, complete


def _comm(pid_dir: Path) -> str:
    try:
        return clean_text((pid_dir / "comm").read_text(errors="replace").strip(), 40) or "?"
    except OSError:
        return "?"


def read_sockets(proc: Path = Path("/proc")) -> SocketTable:
    """Every TCP/UDP socket of this network namespace, with owners where readable."""
    observed_at = utcnow()
    sockets: list[Socket] = []
    read: list[str] = []
    for name in PROC_NET_FILES:
        path = proc / "net" / name
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
        except OSError as exc:
            raise SourceUnreachable(f"cannot read {path}", exc.strerror or str(exc)) from None
        read.append(str(path))
        sockets.extend(parse_proc_net(text, name))
    if not read:
        raise SourceUnreachable(f"no {proc}/net/tcp", "this is not a Linux /proc (or not mounted)")
    owners, complete = socket_owners(proc)
    named = [
        Socket(**{**s.__dict__, "owner": owners.get(s.inode)}) if s.inode in owners else s
        for s in sockets
    ]
    listening = [s for s in named if s.listening]
    decoded = "\n".join(s.describe() for s in listening)
    evidence = Evidence(
        "host.sockets",
        "read " + ", ".join(read) + f" and {proc}/*/fd",
        observed_at,
        decoded=clean_text(decoded, RAW_LIMIT),
    )
    return SocketTable(tuple(named), complete, (evidence,))
