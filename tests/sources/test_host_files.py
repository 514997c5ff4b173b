"""File modes, the signer's TOML, process environments, journald, log dirs, the Stacks config;
plus the whole blocking poll, on fixtures and on this machine."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signer_tui.config import Settings
from signer_tui.sources.host_facts import (
    HostPaths,
    Unavailable,
    bitcoind_clients,
    read_host_facts,
    signer_locality,
)
from signer_tui.sources.host_files import (
    find_processes,
    parse_journald_conf,
    parse_size,
    parse_timespan,
    read_directory_modes,
    read_journald,
    read_log_dir,
    read_process_envs,
    read_signer_config,
    read_stacks_config,
    stat_path,
)
from tests.sources.host_fixtures import fake_tool, missing_tool

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SIGNER_TOML = """\
[signer]
private_key = "41634762d89dfa09133a4a8e9c1378d0161d29cd0a9433b51f1e3d32947a73dc"
network = "mainnet"
prometheus_exporter_endpoint = "0.0.0.0:9184"

[signer.event_observer]
bind = "0.0.0.0:8801"

[signer.p2p]
listen_on = ["tcp://0.0.0.0:4122", "quic-v1://0.0.0.0:4123"]
"""


def test_file_modes_on_this_machine(tmp_path: Path) -> None:
    secret = tmp_path / "signer-config.toml"
    secret.write_text(SIGNER_TOML)
    secret.chmod(0o644)
    mode = stat_path(secret)
    assert mode.exists and mode.mode == 0o644 and mode.other_readable and mode.group_readable
    secret.chmod(0o600)
    assert not stat_path(secret).group_readable
    assert not stat_path(tmp_path / "missing").exists
    assert stat_path(Path("/etc/passwd")).other_readable  # the real thing
    assert stat_path(Path("/etc/shadow")).mode is not None
    assert not stat_path(Path("/etc/shadow")).other_readable


def test_signer_config_facts_never_keep_the_key(tmp_path: Path) -> None:
    path = tmp_path / "signer-config.toml"
    path.write_text(SIGNER_TOML)
    facts = read_signer_config(path)
    assert facts.has_private_key is True
    assert facts.metrics_endpoint == "0.0.0.0:9184"
    assert facts.p2p_ports == (4122, 4123)
    assert facts.observer_bind == "0.0.0.0:8801"
    assert "41634762" not in repr(facts)
    path.write_text("[signer]\nnetwork = 'mainnet'\n")
    assert read_signer_config(path).has_private_key is False
    path.write_text("[signer\n")
    assert "not valid TOML" in read_signer_config(path).error
    assert read_signer_config(tmp_path / "nope.toml").error == "does not exist"


def test_backup_directory_modes(tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "a.dump").write_text("x")
    (backups / "b.dump").write_text("x")
    (backups / "a.dump").chmod(0o644)
    (backups / "b.dump").chmod(0o600)
    backups.chmod(0o755)
    modes = read_directory_modes(backups)
    assert modes.files == 2 and [Path(f.path).name for f in modes.other_readable] == ["a.dump"]


def test_process_environment_names_on_this_machine() -> None:
    """A real child process with the signer's key in its environment: only the name is read."""
    env = {"PATH": os.environ["PATH"], "SIGNER_SIGNER__PRIVATE_KEY": "0123abcd"}
    child = subprocess.Popen(["sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not Path(f"/proc/{child.pid}/environ").exists():
            time.sleep(0.05)
        envs = [e for e in read_process_envs(Path("/proc"), "sleep") if e.pid == child.pid]
        assert len(envs) == 1 and envs[0].readable
        assert "SIGNER_SIGNER__PRIVATE_KEY" in envs[0].env_names
        assert "0123abcd" not in repr(envs)
    finally:
        child.kill()
        child.wait()
    assert (os.getpid(), Path(f"/proc/{os.getpid()}/comm").read_text().strip()) in find_processes(
        Path("/proc"), Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    )


def test_timespans_and_sizes() -> None:
    assert parse_timespan("3month") == pytest.approx(3 * 2629800)
    assert parse_timespan("90d") == 90 * 86400
    assert parse_timespan("1y 2w") == 31557600 + 2 * 604800
    assert parse_timespan("0") == 0
    assert parse_timespan("soon") is None
    assert parse_size("4G") == 4 * 1024**3
    assert parse_size("500M") == 500 * 1024**2
    assert parse_size("lots") is None


def test_journald_config_and_retention_window_from_fixtures(tmp_path: Path) -> None:
    conf = tmp_path / "journald.conf"
    conf.write_text("[Journal]\n#Storage=auto\nStorage=volatile\nMaxRetentionSec=1month\n")
    drop = tmp_path / "journald.conf.d"
    drop.mkdir()
    (drop / "50-keep.conf").write_text("[Journal]\nStorage=persistent\n")
    journal = tmp_path / "journal"
    (journal / "abc").mkdir(parents=True)
    (journal / "abc" / "system.journal").write_bytes(b"x" * 4096)
    old = (NOW - timedelta(days=120)).timestamp()
    facts = read_journald(
        NOW,
        90 * 86400,
        analyze=missing_tool(tmp_path, "systemd-analyze"),
        journalctl=fake_tool(tmp_path, "journalctl", f"{old:.6f} host sshd[1]: hello\n"),
        conf=conf,
        drop_dirs=(drop,),
        journal_dirs=(journal,),
    )
    assert facts.get("Storage") == "persistent"  # the drop-in wins
    assert facts.get("MaxRetentionSec") == "1month"
    assert facts.disk_usage == 4096 and facts.persistent_dir
    assert facts.window_checked and facts.entry_before_window is not None
    assert facts.entry_before_window.year == 2026 and facts.entry_before_window.month == 8
    assert "--until=@" in facts.evidence[-1].request


def test_journald_window_unknown_when_journalctl_cannot_see_the_system_journal(
    tmp_path: Path,
) -> None:
    hint = "Hint: You are currently not seeing messages from other users and the system.\n"
    facts = read_journald(
        NOW,
        90 * 86400,
        analyze=missing_tool(tmp_path, "systemd-analyze"),
        journalctl=fake_tool(tmp_path, "journalctl", "", stderr=hint),
        conf=tmp_path / "none.conf",
        drop_dirs=(),
        journal_dirs=(tmp_path / "journal",),
    )
    assert not facts.window_checked and facts.entry_before_window is None


def test_parse_journald_conf_ignores_other_sections() -> None:
    text = "[Journal]\nSystemMaxUse=1G\n[Other]\nSystemMaxUse=9G\n"
    assert parse_journald_conf(text) == {"SystemMaxUse": "1G"}


def test_journald_on_this_machine() -> None:
    facts = read_journald(datetime.now(UTC), 90 * 86400)
    assert facts.evidence  # systemd-analyze cat-config, or the files themselves
    assert isinstance(facts.persistent_dir, bool)
    assert all(isinstance(v, str) for _, v in facts.settings)


def test_log_dir_oldest_file(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "old").mkdir(parents=True)
    (logs / "signer.log").write_text("now")
    (logs / "old" / "signer.log.9.gz").write_text("then")
    then = (NOW - timedelta(days=100)).timestamp()
    os.utime(logs / "old" / "signer.log.9.gz", (then, then))
    facts = read_log_dir(logs)
    assert facts.files == 2 and facts.oldest is not None
    assert (NOW - facts.oldest).days == 100
    assert read_log_dir(tmp_path / "none").error


def test_stacks_config_observers(tmp_path: Path) -> None:
    path = tmp_path / "Config.toml"
    path.write_text(
        '[node]\nrpc_bind = "0.0.0.0:20443"\n'
        '[[events_observer]]\nendpoint = "sbtc-signer:8801"\n'
        'events_keys = ["SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4.sbtc-registry::print"]\n'
        '[[events_observer]]\nendpoint = "stacks-api:3700"\nevents_keys = ["*"]\n'
    )
    facts = read_stacks_config(path)
    assert [o.endpoint for o in facts.observers] == ["sbtc-signer:8801", "stacks-api:3700"]
    assert facts.observers[1].events_keys == ("*",) and facts.rpc_bind == "0.0.0.0:20443"
    assert read_stacks_config(tmp_path / "none.toml").error


def test_bitcoind_clients_from_fetched_answers() -> None:
    rpcinfo = {"active_commands": [{"method": "getrpcinfo"}, {"method": "getblock"}]}
    peers = [{"inbound": True}, {"inbound": False}, {"inbound": False}]
    clients = bitcoind_clients(rpcinfo, peers, NOW)
    assert clients.active_commands == ("getblock",)
    assert (clients.inbound_peers, clients.outbound_peers) == (1, 2)


def test_signer_locality() -> None:
    assert signer_locality("http://127.0.0.1:8801")[0]
    assert signer_locality("http://localhost:8801")[0]
    assert signer_locality("http://[::1]:8801")[0]
    local, reason = signer_locality("http://192.0.2.44:8801")  # TEST-NET-1, never ours
    assert not local and "not on this host" in reason


def _settings(**posture: object) -> Settings:
    return Settings.model_validate(
        {
            "signers": [
                {
                    "name": "main",
                    "network": "mainnet",
                    "signer": {"api_url": "http://127.0.0.1:8801", "metrics_url": None},
                    "posture": posture,
                }
            ]
        }
    )


def test_read_host_facts_on_a_bastion_reads_nothing_host_wide() -> None:
    settings = Settings.model_validate(
        {"signers": [{"name": "main", "network": "mainnet",
                      "signer": {"api_url": "http://192.0.2.44:8801"}}]}
    )  # fmt: skip
    facts = read_host_facts(settings.signers[0], settings, now=NOW)
    assert not facts.local
    assert isinstance(facts.sockets, Unavailable) and isinstance(facts.sshd, Unavailable)
    assert "not on this host" in facts.sockets.reason


def test_read_host_facts_from_fixtures(tmp_path: Path) -> None:
    signer_toml = tmp_path / "signer-config.toml"
    signer_toml.write_text(SIGNER_TOML)
    settings = _settings(signer_config=str(signer_toml), sshd_config=str(tmp_path / "sshd"))
    (tmp_path / "proc" / "net").mkdir(parents=True)
    (tmp_path / "proc" / "net" / "tcp").write_text("header\n")
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    sshd_out = "port 22\npermitrootlogin no\npasswordauthentication no\n"
    paths = HostPaths(
        proc=tmp_path / "proc",
        passwd=tmp_path / "passwd",
        root=tmp_path,
        docker_socket=tmp_path / "docker.sock",
        sshd=fake_tool(tmp_path, "sshd", sshd_out),
        ufw=fake_tool(
            tmp_path, "ufw", "Status: active\nDefault: deny (incoming), allow (outgoing)\n"
        ),
        nft=missing_tool(tmp_path, "nft"),
        iptables=missing_tool(tmp_path, "iptables"),
        ip6tables=missing_tool(tmp_path, "ip6tables"),
        timedatectl=fake_tool(tmp_path, "timedatectl", "NTPSynchronized=yes\n"),
        chronyc=missing_tool(tmp_path, "chronyc"),
        kernel_clock=False,
        systemd_analyze=missing_tool(tmp_path, "systemd-analyze"),
        journalctl=missing_tool(tmp_path, "journalctl"),
        journald_conf=tmp_path / "journald.conf",
        journald_drop_dirs=(),
        journal_dirs=(tmp_path / "journal",),
    )
    facts = read_host_facts(settings.signers[0], settings, paths, now=NOW)
    assert facts.local
    assert not isinstance(facts.sockets, Unavailable) and facts.sockets.sockets == ()
    assert not isinstance(facts.docker, Unavailable) and not facts.docker.present
    assert not isinstance(facts.firewall, Unavailable) and facts.firewall.views[0].inbound == "deny"
    assert not isinstance(facts.sshd, Unavailable) and len(facts.sshd.contexts) == 2
    assert not isinstance(facts.clock, Unavailable) and facts.clock.synchronized is True
    assert not isinstance(facts.signer_config, Unavailable | None)
    assert facts.signer_config.has_private_key
    assert facts.metrics is None  # metrics_url is null
    assert facts.evidence  # gathered from every reader


async def test_fetch_bitcoind_clients_through_the_rpc_client() -> None:
    from signer_tui.model import Evidence
    from signer_tui.sources.bitcoind import RpcResult
    from signer_tui.sources.host_facts import fetch_bitcoind_clients

    answers = {
        "getrpcinfo": {"active_commands": [{"method": "getrpcinfo", "duration": 12}]},
        "getpeerinfo": [{"inbound": True, "addr": "192.0.2.1:8333"}, {"inbound": False}],
    }

    class Fake:
        async def call(self, method: str, *params: object) -> RpcResult:
            return RpcResult(answers[method], Evidence("bitcoind", method, NOW))

    clients = await fetch_bitcoind_clients(Fake())
    assert clients.active_commands == () and clients.inbound_peers == 1
    assert [e.request for e in clients.evidence] == ["getrpcinfo", "getpeerinfo"]
