"""The `posture` section of a profile: defaults, validation, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer_tui.config import ConfigError, load_config


def write(tmp_path: Path, posture: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"signers:\n  - name: main\n    network: mainnet\n{posture}")
    return path


def test_defaults(tmp_path: Path) -> None:
    posture = load_config(write(tmp_path, ""), environ={}).settings.signers[0].posture
    assert posture.enabled and posture.poll == 300 and posture.min_log_retention == 90 * 86400
    assert posture.signer_config is None and posture.sshd_config == Path("/etc/ssh/sshd_config")
    assert posture.signer_process == "signer" and posture.allowed_ports == []


def test_values_and_environment_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "    posture:\n      poll: 10m\n      log_dirs: [/var/log/sbtc]\n"
        "      signer_config: /etc/sbtc/signer-config.toml\n",
    )
    env = {"SIGNER_TUI_SIGNERS__MAIN__POSTURE__ALLOWED_PORTS": "[8333, 20444]"}
    posture = load_config(path, environ=env).settings.signers[0].posture
    assert posture.poll == 600 and posture.log_dirs == [Path("/var/log/sbtc")]
    assert posture.allowed_ports == [8333, 20444]


def test_mistakes_are_reported_with_suggestions(tmp_path: Path) -> None:
    path = write(
        tmp_path, "    posture:\n      allowed_port: [22]\n      min_log_retention: forever\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    messages = [str(p) for p in caught.value.problems]
    assert any("posture.allowed_port: unknown key" in m and "allowed_ports" in m for m in messages)
    assert any("posture.min_log_retention" in m and "duration" in m for m in messages)
    bad_port = write(tmp_path, "    posture:\n      allowed_ports: [70000]\n")
    with pytest.raises(ConfigError, match=r"allowed_ports\[0\]"):
        load_config(bad_port, environ={})
