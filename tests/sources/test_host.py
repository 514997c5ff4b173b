"""Host readers: sockets from /proc/net (fixtures and this machine), Docker (a fake API on a
unix socket, iptables fallback, absent), firewall front-ends and the clock."""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer_tui.sources.errors import SourceProtocolError, SourceUnreachable, ToolFailed
from signer_tui.sources.host import parse_proc_net, read_sockets, scope_of
from signer_tui.sources.host_docker import parse_iptables_docker_nat, read_docker
from signer_tui.sources.host_system import (
    kernel_clock_synchronized,
    parse_chronyc,
    parse_iptables,
    parse_nft,
    parse_timedatectl,
    parse_ufw,
    read_clock,
    read_firewall,
)
from tests.sources.host_fixtures import PROC_TCP_HEADER, fake_proc, fake_tool, missing_tool, tcp_row

TCP = (
    PROC_TCP_HEADER
    + tcp_row(0, "00000000:101A", "00000000:0000", "0A", 1000, 111)  # 0.0.0.0:4122
    + tcp_row(1, "0100007F:2261", "00000000:0000", "0A", 1000, 112)  # 127.0.0.1:8801
    + tcp_row(2, "00000000:23E0", "00000000:0000", "0A", 0, 113)  # 0.0.0.0:9184
    + tcp_row(3, "0501A8C0:208C", "0700000A:C738", "01", 0, 114)  # 192.168.1.5:8332 <- 10.0.0.7
)
TCP6 = (
    PROC_TCP_HEADER
    + tcp_row(0, "00000000000000000000000000000000:0016", "0" * 32 + ":0000", "0A", 0, 211)
    + tcp_row(1, "00000000000000000000000001000000:1538", "0" * 32 + ":0000", "0A", 0, 212)
    + tcp_row(2, "B80D0120000000000000000001000000:4F9B", "0" * 32 + ":0000", "0A", 0, 213)
)
UDP = PROC_TCP_HEADER + tcp_row(0, "00000000:101A", "00000000:0000", "07", 1000, 311)


def test_parse_proc_net_decodes_addresses_ports_and_states() -> None:
    rows = parse_proc_net(TCP, "tcp")
    assert [(s.local_ip, s.local_port, s.state) for s in rows] == [
        ("0.0.0.0", 4122, "LISTEN"),
        ("127.0.0.1", 8801, "LISTEN"),
        ("0.0.0.0", 9184, "LISTEN"),
        ("192.168.1.5", 8332, "ESTABLISHED"),
    ]
    assert rows[3].remote_ip == "10.0.0.7" and rows[3].remote_port == 51000
    assert [s.listening for s in rows] == [True, True, True, False]
    six = parse_proc_net(TCP6, "tcp6")
    assert [(s.local_ip, s.local_port) for s in six] == [
        ("::", 22),
        ("::1", 5432),
        ("2001:db8::1", 20379),
    ]
    udp = parse_proc_net(UDP, "udp")
    assert udp[0].listening and udp[0].address == "0.0.0.0:4122/udp"


def test_parse_proc_net_rejects_garbage() -> None:
    with pytest.raises(SourceProtocolError, match="tcp line 2"):
        parse_proc_net(PROC_TCP_HEADER + "   0: nothex:zz 0 0A\n", "tcp")


@pytest.mark.parametrize(
    ("ip", "scope"),
    [
        ("0.0.0.0", "wildcard"),
        ("::", "wildcard"),
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("fe80::1", "link-local"),
        ("8.8.8.8", "public"),
    ],
)
def test_scope_of(ip: str, scope: str) -> None:
    assert scope_of(ip) == scope


def test_read_sockets_names_owners_from_fake_proc(tmp_path: Path) -> None:
    proc = fake_proc(
        tmp_path,
        {"tcp": TCP, "tcp6": TCP6, "udp": UDP},
        {100: ("signer", [111, 112, 311]), 200: ("sshd", [211])},
    )
    table = read_sockets(proc)
    by_port = {(s.proto, s.local_port): s for s in table.listening}
    assert by_port[("tcp", 4122)].owner == "100/signer"
    assert by_port[("tcp6", 22)].owner == "200/sshd"
    assert by_port[("tcp", 9184)].owner is None
    assert table.owners_complete
    assert "0.0.0.0:4122/tcp (100/signer)" in table.evidence[0].decoded


def test_read_sockets_without_proc_net_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "proc" / "net").mkdir(parents=True)
    with pytest.raises(SourceUnreachable, match=r"no .*net/tcp"):
        read_sockets(tmp_path / "proc")


def test_read_sockets_on_this_machine_finds_our_own_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        table = read_sockets()
    mine = [s for s in table.listening if s.local_port == port and s.proto == "tcp"]
    assert len(mine) == 1
    assert mine[0].scope == "loopback"
    assert mine[0].owner is not None and mine[0].owner.startswith(f"{os.getpid()}/")


# -- Docker --------------------------------------------------------------------------------

CONTAINERS = [
    {
        "Id": "abc",
        "Names": ["/sbtc-signer"],
        "Image": "ghcr.io/stacks-sbtc/sbtc:signer-1.3.3",
        "Ports": [
            {"IP": "0.0.0.0", "PrivatePort": 9184, "PublicPort": 9184, "Type": "tcp"},
            {"IP": "127.0.0.1", "PrivatePort": 8801, "PublicPort": 8801, "Type": "tcp"},
            {"PrivatePort": 5432, "Type": "tcp"},  # exposed, not published
        ],
    }
]
INSPECT = {
    "Name": "/sbtc-signer",
    "Created": "2026-09-01T10:00:00.123456789Z",
    "LogPath": "/var/lib/docker/containers/abc/abc-json.log",
    "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}}},
    "Config": {"Env": ["SIGNER_SIGNER__PRIVATE_KEY=deadbeef", "PATH=/usr/bin"]},
}


class _DockerHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"/info": {"LoggingDriver": "json-file"}, "/containers/json": CONTAINERS}.get(
            self.path, INSPECT if self.path == "/containers/abc/json" else None
        )
        data = json.dumps(body).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port)


@pytest.fixture
def docker_socket(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "docker.sock"
    server = _UnixHTTPServer(str(path), _DockerHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path
    server.shutdown()
    server.server_close()


def test_docker_api_published_ports_log_config_and_env_names(docker_socket: Path) -> None:
    facts = read_docker(docker_socket)
    assert facts.present and facts.via == "api"
    assert [(p.host_ip, p.host_port, p.container) for p in facts.published] == [
        ("0.0.0.0", 9184, "sbtc-signer"),
        ("127.0.0.1", 8801, "sbtc-signer"),
    ]
    container = facts.containers[0]
    assert container.log_driver == "json-file" and dict(container.log_opts) == {"max-size": "10m"}
    assert container.env_names == ("SIGNER_SIGNER__PRIVATE_KEY", "PATH")
    assert "deadbeef" not in repr(facts)  # values are never kept
    assert container.created is not None and container.created.year == 2026
    assert facts.daemon_log_driver == "json-file"


def test_docker_absent_is_a_fact_not_an_error(tmp_path: Path) -> None:
    facts = read_docker(tmp_path / "no.sock", iptables=missing_tool(tmp_path, "iptables"))
    assert not facts.present
    assert "no Docker socket" in facts.reason and "iptables not installed" in facts.reason
    no_chain = fake_tool(tmp_path, "iptables", rc=1, stderr="iptables: No chain/target/match\n")
    assert not read_docker(tmp_path / "no.sock", iptables=no_chain).present


NAT = """\
-N DOCKER
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 9184 -j DNAT --to-destination 172.17.0.2:9184
-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 8801 -j DNAT \
--to-destination 172.17.0.2:8801
"""


def test_docker_nat_rules_when_the_api_is_not_reachable(tmp_path: Path) -> None:
    ports = parse_iptables_docker_nat(NAT)
    assert [(p.host_ip, p.host_port, p.container_port) for p in ports] == [
        ("0.0.0.0", 9184, 9184),
        ("127.0.0.1", 8801, 8801),
    ]
    facts = read_docker(tmp_path / "no.sock", iptables=fake_tool(tmp_path, "iptables", NAT))
    assert facts.present and facts.via == "iptables" and len(facts.published) == 2
    broken = fake_tool(tmp_path, "iptables", rc=4, stderr="iptables: Permission denied\n")
    with pytest.raises(ToolFailed, match="Permission denied"):
        read_docker(tmp_path / "no.sock", iptables=broken)


# -- firewall ------------------------------------------------------------------------------

UFW_ON = (
    "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), deny (routed)\n"
)
NFT_DROP = """\
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		tcp dport 22 accept
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
"""
NFT_ACCEPT = NFT_DROP.replace("policy drop", "policy accept")
NFT_FINAL_DROP = NFT_ACCEPT.replace("tcp dport 22 accept\n", "tcp dport 22 accept\n\t\tdrop\n")


def test_firewall_parsers() -> None:
    assert parse_ufw(UFW_ON).inbound == "deny"
    assert parse_ufw("Status: inactive\n").inbound == "inactive"
    assert parse_ufw(UFW_ON.replace("deny (incoming)", "allow (incoming)")).inbound == "allow"
    assert parse_nft(NFT_DROP).inbound == "deny"
    assert parse_nft(NFT_ACCEPT).inbound == "allow"
    assert parse_nft(NFT_FINAL_DROP).inbound == "deny"
    assert parse_nft("").inbound == "allow"  # no ruleset: the kernel accepts everything
    assert parse_iptables("-P INPUT DROP\n-A INPUT -p tcp --dport 22 -j ACCEPT\n").inbound == "deny"
    assert (
        parse_iptables("-P INPUT ACCEPT\n-A INPUT -j REJECT --reject-with icmp\n").inbound == "deny"
    )
    assert parse_iptables("-P INPUT ACCEPT\n").inbound == "allow"


def test_read_firewall_records_answers_and_refusals(tmp_path: Path) -> None:
    facts = read_firewall(
        ufw=missing_tool(tmp_path, "ufw"),
        nft=fake_tool(tmp_path, "nft", NFT_DROP),
        iptables=fake_tool(
            tmp_path, "iptables", rc=4, stderr="Permission denied (you must be root)\n"
        ),
        ip6tables=missing_tool(tmp_path, "ip6tables"),
    )
    assert [(v.tool, v.inbound) for v in facts.views] == [("nft", "deny")]
    reasons = dict(facts.unavailable)
    assert reasons["ufw"] == "not installed" and "needs root" in reasons["iptables"]


# -- clock ---------------------------------------------------------------------------------


def test_clock_parsers() -> None:
    assert parse_timedatectl("Timezone=UTC\nNTP=yes\nNTPSynchronized=yes\n") is True
    assert parse_timedatectl("NTPSynchronized=no\n") is False
    assert parse_timedatectl("") is None
    assert parse_chronyc("Reference ID    : A29FC87B\nLeap status     : Normal\n") is True
    assert parse_chronyc("Leap status     : Not synchronised\n") is False


def test_read_clock_falls_back_from_timedatectl_to_chronyc(tmp_path: Path) -> None:
    facts = read_clock(
        timedatectl=fake_tool(tmp_path, "timedatectl", rc=1, stderr="Failed to connect to bus\n"),
        chronyc=fake_tool(tmp_path, "chronyc", "Leap status     : Not synchronised\n"),
        kernel=False,
    )
    assert facts.synchronized is False and facts.via == "chronyc"
    none = read_clock(missing_tool(tmp_path, "t"), missing_tool(tmp_path, "c"), kernel=False)
    assert none.synchronized is None and "not installed" in none.detail


def test_kernel_clock_flag_on_this_machine() -> None:
    # adjtimex(2) answers on any Linux, in containers too: a bool, never an exception.
    assert kernel_clock_synchronized() in (True, False)
    facts = read_clock()
    assert facts.synchronized is not None and facts.via in ("timedatectl", "chronyc", "kernel")
