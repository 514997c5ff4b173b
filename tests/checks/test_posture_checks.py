"""Posture checks: a healthy host passes everything; each fixture breaks one thing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from signer_tui.checks.posture import HOST_IDS, IDS, posture_findings
from signer_tui.model import Finding, Status
from signer_tui.sources.host import SocketTable
from signer_tui.sources.host_docker import Container, DockerFacts, PublishedPort
from signer_tui.sources.host_facts import BitcoindClients, HostFacts, Unavailable
from signer_tui.sources.host_files import (
    DirectoryModes,
    EventObserver,
    FileMode,
    LogDirFacts,
    ProcessEnv,
    StacksNodeConfig,
)
from signer_tui.sources.host_ssh import AccountKeys, AuthorizedKeysFacts
from signer_tui.sources.host_system import ClockFacts, FirewallFacts, FirewallView
from tests.checks.posture_factories import (
    HEALTHY_SOCKETS,
    NOW,
    SK,
    connection,
    healthy,
    journald,
    listener,
    profile_of,
    settings,
    signer_config,
    sshd,
)

SETTINGS = settings()
PROFILE = profile_of(SETTINGS)


def run(facts: HostFacts, s: object = SETTINGS) -> dict[str, Finding]:
    assert hasattr(s, "signers")
    out = posture_findings(facts, s.signers[0], s, NOW)  # type: ignore[attr-defined]
    return {f.id: f for f in out}


def one(fid: str, facts: HostFacts, s: object = SETTINGS) -> Finding:
    return run(facts, s)[fid]


GONE = Unavailable("cannot read /proc/net/tcp", "Permission denied")


def test_healthy_host_passes_every_check_with_evidence_times() -> None:
    findings = run(healthy())
    assert set(findings) == set(IDS)
    bad = {f.id: f.summary for f in findings.values() if f.status is not Status.OK}
    assert bad == {}
    assert all(f.observed_at == NOW - timedelta(seconds=30) for f in findings.values())
    assert all(f.advice == "" for f in findings.values())


def test_on_a_bastion_host_checks_do_not_apply_and_say_why() -> None:
    reason = "the signer API (http://10.9.9.9:8801) is not on this host"
    facts = healthy(local=False, locality=reason)
    findings = run(facts)
    for fid in HOST_IDS:
        assert findings[fid].status is Status.UNKNOWN
        assert findings[fid].summary == f"does not apply here: {reason}"
        assert "signer host" in findings[fid].advice
    assert findings["posture.secrets.config"].status is Status.OK  # our config is checked anywhere


def test_disabled_posture_produces_nothing() -> None:
    s = settings(posture={"enabled": False})
    assert posture_findings(healthy(), s.signers[0], s, NOW) == []


# -- exposed -------------------------------------------------------------------------------


def sockets(*extra: object) -> SocketTable:
    return SocketTable((*HEALTHY_SOCKETS, *extra), owners_complete=True)  # type: ignore[arg-type]


def test_exposed_metrics_on_all_interfaces_is_crit_with_its_process() -> None:
    f = one("posture.exposed", healthy(sockets=sockets(listener("0.0.0.0", 9184, "100/signer"))))
    assert f.status is Status.CRIT
    assert "9184 signer metrics" in f.summary
    assert ("0.0.0.0:9184/tcp", "signer metrics — 100/signer") in f.details
    assert "127.0.0.1" in f.advice


def test_exposed_counts_a_service_on_both_wildcards_once() -> None:
    both = sockets(
        listener("0.0.0.0", 9184, "8/docker-proxy"), listener("::", 9184, "9/docker-proxy", "tcp6")
    )
    f = one("posture.exposed", healthy(sockets=both))
    assert f.summary == "1 service(s) listen on every interface: 9184 signer metrics"


def test_exposed_unexpected_public_port_is_warn_and_owner_gap_is_said() -> None:
    table = SocketTable((*HEALTHY_SOCKETS, listener("::", 8080, None, "tcp6")), False)  # type: ignore[arg-type]
    f = one("posture.exposed", healthy(sockets=table))
    assert f.status is Status.WARN and "8080 unexpected" in f.summary
    assert ("owners", "partial: run as root to see every socket's process") in f.details


def test_exposed_respects_config_ports_and_allowed_ports() -> None:
    s = settings(posture={"allowed_ports": [8333], "signer_config": "/x.toml"})
    moved = sshd(port="2222")
    moved = replace(moved, contexts=tuple(
        replace(c, settings=tuple((k, "2222" if k == "port" else v) for k, v in c.settings))
        for c in moved.contexts
    ))  # fmt: skip
    table = sockets(listener("0.0.0.0", 8333, "300/bitcoind"), listener("0.0.0.0", 2222, "1/sshd"))
    f = one("posture.exposed", healthy(sockets=table, sshd=moved), s)
    # 8333 is allowed, SSH is on 2222 now: the old listener on 22 is the unexpected one.
    assert f.status is Status.WARN and f.summary.endswith(": 22 unexpected")
    p2p = signer_config(p2p_ports=(4999,))
    f = one("posture.exposed", healthy(signer_config=p2p))
    assert f.status is Status.WARN and "4122 unexpected" in f.summary  # P2P port from the TOML
    # The DB port comes from the profile: a PostgreSQL on 5433 is sensitive too.
    s2 = settings(db={"port": 5433})
    f = one(
        "posture.exposed", healthy(sockets=sockets(listener("0.0.0.0", 5433, "2/postgres"))), s2
    )
    assert f.status is Status.CRIT and "PostgreSQL" in f.summary


def test_exposed_public_address_counts_but_private_does_not() -> None:
    public = one("posture.exposed", healthy(sockets=sockets(listener("1.2.3.4", 8332, "b"))))
    assert public.status is Status.CRIT and "bitcoind RPC" in public.summary
    private = one("posture.exposed", healthy(sockets=sockets(listener("192.168.1.9", 8332, "b"))))
    assert private.status is Status.OK


def test_exposed_unknown_when_proc_is_not_readable() -> None:
    f = one("posture.exposed", healthy(sockets=GONE))
    assert f.status is Status.UNKNOWN and "Permission denied" in f.summary


# -- docker --------------------------------------------------------------------------------


def docker(*ports: PublishedPort, containers: tuple[Container, ...] = ()) -> DockerFacts:
    return DockerFacts(True, "api", "", containers, ports)


def test_docker_published_metrics_and_rpc_are_crit() -> None:
    facts = healthy(
        docker=docker(
            PublishedPort("sbtc-signer", "0.0.0.0", 9184, 9184),
            PublishedPort("bitcoind", "0.0.0.0", 8332, 8332),
            PublishedPort("bitcoind", "::", 8332, 8332),
            PublishedPort("sbtc-signer", "0.0.0.0", 4122, 4122),
            PublishedPort("sbtc-signer", "127.0.0.1", 8801, 8801),
        )
    )
    f = one("posture.docker_published", facts)
    assert f.status is Status.CRIT
    assert "8332 bitcoind RPC (bitcoind)" in f.summary and "9184 signer metrics" in f.summary
    assert "4122" not in f.summary and "8801" not in f.summary
    assert f.summary.count("8332") == 1  # IPv4 and IPv6 publishes of one port are one
    assert "ufw" in f.advice


def test_docker_published_pass_cases() -> None:
    assert one("posture.docker_published", healthy()).summary.startswith("no Docker on this host")
    loopback = healthy(docker=docker(PublishedPort("sbtc-signer", "127.0.0.1", 9184, 9184)))
    assert one("posture.docker_published", loopback).status is Status.OK
    unknown = one("posture.docker_published", healthy(docker=Unavailable("iptables failed", "x")))
    assert unknown.status is Status.UNKNOWN


def test_docker_published_other_port_is_warn() -> None:
    f = one(
        "posture.docker_published",
        healthy(docker=docker(PublishedPort("web", "0.0.0.0", 8080, 80))),
    )
    assert f.status is Status.WARN


# -- firewall ------------------------------------------------------------------------------


NFT_DROP = FirewallView("nft", "deny", "inet filter chain input: policy drop")
UFW_OFF = FirewallView("ufw", "inactive", "ufw is inactive")
IPT_OPEN = FirewallView("iptables", "allow", "INPUT policy ACCEPT, 0 rule(s)")
IPT_DROP = FirewallView("iptables", "deny", "INPUT policy DROP")
IP6_OPEN = FirewallView("ip6tables", "allow", "INPUT policy ACCEPT")
REFUSED = (("nft", "needs root (Operation not permitted)"), ("ufw", "not installed"))


@pytest.mark.parametrize(
    ("views", "unavailable", "status", "words"),
    [
        ((NFT_DROP,), (), Status.OK, "default deny"),
        ((UFW_OFF, IPT_OPEN), (), Status.CRIT, "no default-deny"),
        ((IPT_DROP, IP6_OPEN), (), Status.WARN, "IPv6"),
        ((NFT_DROP, IP6_OPEN), (), Status.OK, "default deny"),  # nft inet covers IPv6
        ((), REFUSED, Status.UNKNOWN, "needs root"),
    ],
)
def test_firewall(
    views: tuple[FirewallView, ...],
    unavailable: tuple[tuple[str, str], ...],
    status: Status,
    words: str,
) -> None:
    f = one("posture.firewall", healthy(firewall=FirewallFacts(views, unavailable)))
    assert f.status is status and words in f.summary


# -- ssh -----------------------------------------------------------------------------------


def test_root_login() -> None:
    assert one("posture.ssh.root_login", healthy()).summary.startswith("no root login")
    ok = one("posture.ssh.root_login", healthy(sshd=sshd(permitrootlogin="prohibit-password")))
    assert ok.status is Status.OK and "prohibit-password" in ok.summary
    keys = one("posture.ssh.root_login", healthy(sshd=sshd(permitrootlogin="yes")))
    assert keys.status is Status.WARN
    crit = one(
        "posture.ssh.root_login",
        healthy(sshd=sshd(permitrootlogin="yes", passwordauthentication="yes")),
    )
    assert crit.status is Status.CRIT and "root from 203.0.113.10" in crit.summary
    gone = one("posture.ssh.root_login", healthy(sshd=Unavailable("sshd -T failed", "boom")))
    assert gone.status is Status.UNKNOWN and "sshd -T failed" in gone.summary


def test_password_auth() -> None:
    assert one("posture.ssh.password_auth", healthy()).status is Status.OK
    crit = one("posture.ssh.password_auth", healthy(sshd=sshd(passwordauthentication="yes")))
    assert crit.status is Status.CRIT and "root from" in crit.summary
    empty = one("posture.ssh.password_auth", healthy(sshd=sshd(permitemptypasswords="yes")))
    assert empty.status is Status.CRIT and "empty passwords" in empty.summary
    pam = one("posture.ssh.password_auth", healthy(sshd=sshd(kbdinteractiveauthentication="yes")))
    assert pam.status is Status.WARN and "PAM" in pam.summary


def keys(*accounts: AccountKeys) -> AuthorizedKeysFacts:
    return AuthorizedKeysFacts(accounts, tuple(a.user for a in accounts))


def test_hardware_keys() -> None:
    assert "all 2 authorized key(s)" in one("posture.ssh.hardware_keys", healthy()).summary
    soft = healthy(
        authorized_keys=keys(
            AccountKeys("alice", ("a",), (SK,)),
            AccountKeys("bob", ("b",), ("ssh-ed25519", SK, "ssh-rsa")),
        )
    )
    f = one("posture.ssh.hardware_keys", soft)
    assert (
        f.status is Status.WARN and "bob (2 ssh-ed25519)" in f.summary and "alice" not in f.summary
    )
    assert "ed25519-sk" in f.advice
    hidden = healthy(authorized_keys=keys(AccountKeys("carol", ("c",), (), ("c",))))
    assert one("posture.ssh.hardware_keys", hidden).status is Status.UNKNOWN
    nobody = one("posture.ssh.hardware_keys", healthy(authorized_keys=keys()))
    assert nobody.status is Status.UNKNOWN and "no authorized keys" in nobody.summary


# -- secrets -------------------------------------------------------------------------------


def test_signer_config_secret() -> None:
    assert one("posture.secrets.signer_config", healthy()).status is Status.OK
    world = signer_config(file=FileMode("/etc/sbtc/signer-config.toml", True, 0o644, "sbtc"))
    f = one("posture.secrets.signer_config", healthy(signer_config=world))
    assert f.status is Status.CRIT and "0644" in f.summary and "chmod 600" in f.advice
    group = signer_config(file=FileMode("/etc/sbtc/signer-config.toml", True, 0o640, "sbtc"))
    assert one("posture.secrets.signer_config", healthy(signer_config=group)).status is Status.WARN
    # A world-readable file without the key is harmless (the key is set elsewhere).
    no_key = replace(world, has_private_key=False)
    assert one("posture.secrets.signer_config", healthy(signer_config=no_key)).status is Status.OK
    unset = one("posture.secrets.signer_config", healthy(signer_config=None))
    assert unset.status is Status.UNKNOWN and "posture.signer_config" in unset.summary
    missing = signer_config(file=FileMode("/etc/sbtc/signer-config.toml", False))
    assert (
        one("posture.secrets.signer_config", healthy(signer_config=missing)).status
        is Status.UNKNOWN
    )


def test_our_config_plain_secrets_and_loose_secret_files() -> None:
    plain = settings(db={"password": "hunter2"})
    f = one("posture.secrets.config", healthy(), plain)
    assert f.status is Status.WARN and "signers[0].db.password" in f.summary
    assert "hunter2" not in repr(f)
    world_cfg = healthy(config_file=FileMode("/etc/signer-tui.yaml", True, 0o644, "root"))
    assert one("posture.secrets.config", world_cfg, plain).status is Status.CRIT
    loose = healthy(
        secret_files=(("signers[0].db.password", FileMode("/etc/pw", True, 0o644, "root")),)
    )
    f = one("posture.secrets.config", loose)
    assert f.status is Status.WARN and "/etc/pw" in f.summary


def test_signer_environment() -> None:
    assert one("posture.secrets.environment", healthy()).status is Status.OK
    leak = healthy(signer_env=(ProcessEnv(100, "signer", ("SIGNER_SIGNER__PRIVATE_KEY", "PATH")),))
    f = one("posture.secrets.environment", leak)
    assert f.status is Status.WARN and "pid 100 (SIGNER_SIGNER__PRIVATE_KEY)" in f.summary
    assert "variable names only" in f.evidence[0].request  # evidence says what was read
    assert f.evidence[0].observed_at == NOW - timedelta(seconds=30)
    container = Container(
        "sbtc-signer", "ghcr.io/stacks-sbtc/sbtc:signer", env_names=("SIGNER_SIGNER__PRIVATE_KEY",)
    )
    in_docker = healthy(signer_env=(), docker=docker(containers=(container,)))
    f = one("posture.secrets.environment", in_docker)
    assert (
        f.status is Status.WARN
        and "container sbtc-signer" in f.summary
        and "docker inspect" in f.advice
    )
    unread = healthy(
        signer_env=(ProcessEnv(100, "signer", readable=False, error="Permission denied"),)
    )
    assert one("posture.secrets.environment", unread).status is Status.UNKNOWN
    absent = one("posture.secrets.environment", healthy(signer_env=()))
    assert absent.status is Status.UNKNOWN and "no process named 'signer'" in absent.summary


def test_backups_dir() -> None:
    assert one("posture.secrets.backups", healthy()).status is Status.OK
    top = FileMode("/var/backups/sbtc-signer", True, 0o755, "postgres", True)
    leaky = DirectoryModes(
        top, (FileMode("/var/backups/sbtc-signer/a.dump", True, 0o644, "postgres"),), 3
    )
    f = one("posture.secrets.backups", healthy(backups=leaky))
    assert f.status is Status.CRIT and "a.dump" in f.summary
    listable = DirectoryModes(top, (), 3)
    assert one("posture.secrets.backups", healthy(backups=listable)).status is Status.WARN
    pgbr = settings(backups={"kind": "pgbackrest", "stanza": "main"})
    f = one("posture.secrets.backups", healthy(backups=None), pgbr)
    assert f.status is Status.UNKNOWN and "pgbackrest" in f.summary


# -- logs ----------------------------------------------------------------------------------


def test_log_retention_journald() -> None:
    assert one("posture.logs.retention", healthy()).status is Status.OK
    volatile = healthy(journald=journald(settings=(("Storage", "volatile"),)))
    f = one("posture.logs.retention", volatile)
    assert f.status is Status.CRIT and "Storage=volatile" in f.summary
    auto_no_dir = healthy(journald=journald(settings=(), persistent_dir=False))
    assert one("posture.logs.retention", auto_no_dir).status is Status.CRIT
    short = healthy(journald=journald(settings=(("MaxRetentionSec", "1month"),)))
    f = one("posture.logs.retention", short)
    assert f.status is Status.CRIT and "30 d" in f.summary
    capped = healthy(
        journald=journald(settings=(("SystemMaxUse", "1G"),), entry_before_window=None)
    )
    f = one("posture.logs.retention", capped)
    assert f.status is Status.WARN and "size cap" in f.summary
    young = healthy(journald=journald(entry_before_window=None, disk_usage=10 * 1024**2))
    assert one("posture.logs.retention", young).status is Status.OK
    empty = healthy(journald=journald(entry_before_window=None, disk_usage=0))
    assert one("posture.logs.retention", empty).status is Status.UNKNOWN


def test_log_retention_docker_and_dirs() -> None:
    now_created = NOW - timedelta(days=200)
    capped = Container(
        "sbtc-signer",
        "x",
        log_driver="json-file",
        log_opts=(("max-file", "3"), ("max-size", "10m")),
        created=now_created,
    )
    f = one("posture.logs.retention", healthy(docker=docker(containers=(capped,))))
    assert f.status is Status.WARN and "3 x 10m" in f.summary
    none = Container("bitcoind", "x", log_driver="none")
    assert (
        one("posture.logs.retention", healthy(docker=docker(containers=(none,)))).status
        is Status.CRIT
    )
    unbounded = Container("stacks", "x", log_driver="json-file")
    assert (
        one("posture.logs.retention", healthy(docker=docker(containers=(unbounded,)))).status
        is Status.OK
    )
    shipped = Container("stacks", "x", log_driver="awslogs")
    assert (
        one("posture.logs.retention", healthy(docker=docker(containers=(shipped,)))).status
        is Status.UNKNOWN
    )
    young = Container("signer", "x", log_driver="local", created=NOW - timedelta(days=3))
    assert (
        one("posture.logs.retention", healthy(docker=docker(containers=(young,)))).status
        is Status.OK
    )
    old_dir = LogDirFacts("/var/log/sbtc", NOW - timedelta(days=120), 40)
    new_dir = LogDirFacts("/var/log/stacks", NOW - timedelta(days=10), 4)
    f = one("posture.logs.retention", healthy(log_dirs=(old_dir, new_dir)))
    assert (
        f.status is Status.WARN and "too short: /var/log/stacks oldest file 10 d old" in f.summary
    )
    assert one("posture.logs.retention", healthy(log_dirs=(old_dir,))).status is Status.OK


# -- metrics, dedicated nodes, clock ------------------------------------------------------


def test_metrics() -> None:
    from signer_tui.sources.host_facts import MetricsProbe

    assert one("posture.metrics", healthy()).status is Status.OK
    down = healthy(
        metrics=MetricsProbe("http://127.0.0.1:9184/metrics", None, error="connection refused")
    )
    f = one("posture.metrics", down)
    assert f.status is Status.WARN and "connection refused" in f.summary
    off = healthy(metrics=None, signer_config=signer_config(metrics_endpoint=None))
    f = one("posture.metrics", off)
    assert f.status is Status.WARN and "prometheus_exporter_endpoint" in f.summary


def test_dedicated_nodes() -> None:
    ok = one("posture.dedicated_nodes", healthy())
    assert ok.status is Status.OK and ok.summary == "the nodes serve only the signer"
    api = StacksNodeConfig(
        "/etc/stacks/Config.toml",
        (EventObserver("127.0.0.1:8801", ("x",)), EventObserver("stacks-api:3700", ("*",))),
    )
    f = one("posture.dedicated_nodes", healthy(stacks_config=api))
    assert f.status is Status.WARN and "stacks-api:3700 (all events: an API node?)" in f.summary
    with_stacks_signer = StacksNodeConfig(
        "/etc/stacks/Config.toml",
        (
            EventObserver("sbtc-signer:8801", ("x.sbtc-registry::print",)),
            EventObserver("stacks-signer:30000", ("stackerdb", "block_proposal", "burn_blocks")),
        ),
    )
    f = one("posture.dedicated_nodes", healthy(stacks_config=with_stacks_signer))
    assert f.status is Status.OK, f.summary
    lost = StacksNodeConfig(
        "/etc/stacks/Config.toml",
        (
            EventObserver("stacks-api:3700", ("*",)),
            EventObserver("stacks-signer:30000", ("stackerdb",)),
        ),
    )
    assert one("posture.dedicated_nodes", healthy(stacks_config=lost)).status is Status.CRIT
    clients = sockets(connection("10.0.0.5", 8332, "10.0.0.99"))
    f = one("posture.dedicated_nodes", healthy(sockets=clients))
    assert f.status is Status.WARN and "remote clients on bitcoind RPC: 10.0.0.99" in f.summary
    unset = one("posture.dedicated_nodes", healthy(stacks_config=None))
    assert unset.status is Status.UNKNOWN and "posture.stacks_config" in unset.summary
    view = BitcoindClients(("getblock",), 8, 10)
    f = {x.id: x for x in posture_findings(healthy(), PROFILE, SETTINGS, NOW, bitcoind=view)}[
        "posture.dedicated_nodes"
    ]
    assert f.status is Status.OK and any("getblock" in text for _, text in f.details)


@pytest.mark.parametrize(
    ("clock", "status"),
    [
        (ClockFacts(True, "chronyc", "ok"), Status.OK),
        (ClockFacts(False, "kernel", "kernel clock NOT synchronised"), Status.WARN),
        (ClockFacts(None, "none", "timedatectl: not installed"), Status.UNKNOWN),
        (Unavailable("timed out"), Status.UNKNOWN),
    ],
)
def test_clock(clock: ClockFacts | Unavailable, status: Status) -> None:
    assert one("posture.clock", healthy(clock=clock)).status is status


def test_demo_host_is_healthy_but_one_software_key_and_can_expose_metrics() -> None:
    from signer_tui.sim.host import demo_host_facts

    findings = {
        f.id: f for f in posture_findings(demo_host_facts(PROFILE, NOW), PROFILE, SETTINGS, NOW)
    }
    bad = {fid: f.status for fid, f in findings.items() if f.status is not Status.OK}
    assert bad == {"posture.ssh.hardware_keys": Status.WARN}
    exposed = demo_host_facts(PROFILE, NOW, exposed_metrics=True)
    findings = {f.id: f for f in posture_findings(exposed, PROFILE, SETTINGS, NOW)}
    assert findings["posture.docker_published"].status is Status.CRIT
    assert findings["posture.exposed"].status is Status.CRIT
