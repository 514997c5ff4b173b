"""sshd: the real `sshd -T` (Debian openssh-server) on temporary configs, and authorized_keys."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer_tui.sources.errors import ToolFailed
from signer_tui.sources.host_ssh import (
    HARDWARE_KEY_TYPES,
    expand_keys_path,
    key_type_of,
    parse_passwd,
    parse_sshd_t,
    read_authorized_keys,
    read_sshd,
)
from tests.sources.host_fixtures import fake_tool

SSHD = "/usr/sbin/sshd"


@pytest.fixture
def sshd_dir() -> Iterator[Path]:
    if not Path(SSHD).exists():
        pytest.skip(f"{SSHD} is not installed (Debian package openssh-server)")
    # Not tmp_path: sshd may run as another user below, who must reach the files.
    directory = Path(tempfile.mkdtemp(prefix="signer-tui-sshd-"))
    directory.chmod(0o755)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "host_key")],
        check=True,
    )
    (directory / "conf.d").mkdir()
    yield directory
    shutil.rmtree(directory)


def sshd_command(directory: Path) -> tuple[str, ...]:
    """sshd -T as root insists on /run/sshd, which exists only where sshd has run; as an
    unprivileged user it does not, so on such a machine run it as nobody."""
    if os.geteuid() != 0 or Path("/run/sshd").is_dir():
        return (SSHD,)
    nobody = pwd.getpwnam("nobody").pw_uid
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, nobody, -1)
    return ("runuser", "-u", "nobody", "--", SSHD)


def write_config(directory: Path, body: str) -> Path:
    config = directory / "sshd_config"
    config.write_text(
        f"Include {directory}/conf.d/*.conf\nHostKey {directory}/host_key\nPidFile none\n{body}"
    )
    return config


def test_real_sshd_effective_config_hardened(sshd_dir: Path) -> None:
    config = write_config(
        sshd_dir, "PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    )
    facts = read_sshd(config, sshd_command(sshd_dir), users=("root", "alice"))
    assert [c.label for c in facts.contexts] == [
        "defaults",
        "root from 203.0.113.10",
        "alice from 203.0.113.10",
    ]
    for context in facts.contexts:
        assert context.get("permitrootlogin") == "no"
        assert context.get("passwordauthentication") == "no"
    assert facts.ports == (22,)
    assert facts.authorized_keys_files == (".ssh/authorized_keys", ".ssh/authorized_keys2")
    assert "passwordauthentication no" in facts.evidence[0].raw


def test_real_sshd_sees_drop_ins_and_match_blocks(sshd_dir: Path) -> None:
    # A drop-in read first wins (sshd keeps the first value), as on Debian's sshd_config.d.
    (sshd_dir / "conf.d" / "50-cloud.conf").write_text("PasswordAuthentication yes\n")
    config = write_config(
        sshd_dir,
        "Port 2222\nPermitRootLogin no\nPasswordAuthentication no\n"
        "Match User root Address 203.0.113.0/24\n  PermitRootLogin yes\n",
    )
    facts = read_sshd(config, sshd_command(sshd_dir), users=("root",))
    defaults, root = facts.contexts
    assert defaults.get("passwordauthentication") == "yes"  # from the drop-in
    assert defaults.get("permitrootlogin") == "no"
    assert root.get("permitrootlogin") == "yes"  # only the Match block says so
    assert facts.ports == (2222,)


def test_real_sshd_bad_config_is_a_typed_error(sshd_dir: Path) -> None:
    config = write_config(sshd_dir, "PermitRootLogin sometimes\n")
    with pytest.raises(ToolFailed, match="sshd -T failed"):
        read_sshd(config, sshd_command(sshd_dir))


def test_sshd_without_privsep_dir_says_how_to_fix(tmp_path: Path) -> None:
    fake = fake_tool(
        tmp_path, "sshd", rc=255, stderr="Missing privilege separation directory: /run/sshd\n"
    )
    with pytest.raises(ToolFailed, match=r"mkdir -p /run/sshd"):
        read_sshd(tmp_path / "sshd_config", fake)


def test_parse_sshd_t_joins_repeats_and_rejects_other_output() -> None:
    parsed = dict(
        parse_sshd_t("port 22\nport 2222\npermitrootlogin no\npasswordauthentication no\n")
    )
    assert parsed["port"] == "22 2222"
    with pytest.raises(Exception, match="unexpected sshd -T output"):
        parse_sshd_t("usage: sshd [-46DdeGiqTtV]\n")


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("ssh-ed25519 AAAAC3Nza alice@laptop", "ssh-ed25519"),
        ("sk-ssh-ed25519@openssh.com AAAAGnNr alice@yubikey", "sk-ssh-ed25519@openssh.com"),
        ('command="/bin/echo hi there",no-pty ssh-rsa AAAAB3 bob', "ssh-rsa"),
        (
            'from="10.0.0.0/8" sk-ecdsa-sha2-nistp256@openssh.com AAAA x',
            "sk-ecdsa-sha2-nistp256@openssh.com",
        ),
        ("ecdsa-sha2-nistp384 AAAAE2V", "ecdsa-sha2-nistp384"),
        ("# a comment", None),
        ("", None),
        ("garbage line", None),
    ],
)
def test_key_type_of(line: str, kind: str | None) -> None:
    assert key_type_of(line) == kind


def test_authorized_keys_per_account(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    home = tmp_path / "home"
    passwd.write_text(
        "root:x:0:0:root:/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "alice:x:1000:1000::/home/alice:/bin/bash\n"
        "bob:x:1001:1001::/home/bob:/bin/bash\n"
        "svc:x:1002:1002::/home/svc:/usr/sbin/nologin\n"
        "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
    )
    assert [a.user for a in parse_passwd(passwd.read_text())] == ["root", "alice", "bob"]
    (home / "alice" / ".ssh").mkdir(parents=True)
    (home / "alice" / ".ssh" / "authorized_keys").write_text(
        "sk-ssh-ed25519@openssh.com AAAA alice@yubikey\nssh-ed25519 AAAA alice@laptop\n"
    )
    (home / "bob" / ".ssh").mkdir(parents=True)
    (home / "bob" / ".ssh" / "authorized_keys").write_text("sk-ssh-ed25519@openssh.com AAAA bob\n")
    facts = read_authorized_keys(
        (".ssh/authorized_keys", "/etc/ssh/keys/%u"), passwd, root=tmp_path
    )
    by_user = {a.user: a for a in facts.accounts}
    assert set(by_user) == {"alice", "bob"}  # root has no file
    assert by_user["alice"].software_keys == ("ssh-ed25519",)
    assert by_user["bob"].software_keys == ()
    assert set(by_user["bob"].key_types) <= HARDWARE_KEY_TYPES
    assert facts.checked == ("root", "alice", "bob")


def test_expand_keys_path_tokens() -> None:
    from signer_tui.sources.host_ssh import Account

    account = Account("alice", 1000, "/home/alice", "/bin/bash")
    assert (
        str(expand_keys_path("%h/.ssh/authorized_keys", account))
        == "/home/alice/.ssh/authorized_keys"
    )
    assert str(expand_keys_path("/etc/ssh/keys/%u_%U%%", account)) == "/etc/ssh/keys/alice_1000%"
    assert (
        str(expand_keys_path(".ssh/authorized_keys2", account))
        == "/home/alice/.ssh/authorized_keys2"
    )


def test_authorized_keys_on_this_machine() -> None:
    facts = read_authorized_keys((".ssh/authorized_keys", ".ssh/authorized_keys2"))
    assert "root" in facts.checked
    for account in facts.accounts:
        assert account.files
