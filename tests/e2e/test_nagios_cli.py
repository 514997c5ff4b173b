"""`python3 -m signer_tui check --nagios` as Nagios runs it: a real process, stdout and exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

UNREACHABLE = """\
signers:
  - name: main
    network: regtest
    signer: {api_url: "http://127.0.0.1:9", metrics_url: null, timeout: 1s}
    db: {port: 9, connect_timeout: 1s}
    bitcoind: {url: "http://127.0.0.1:9", timeout: 1s}
    stacks: {rpc_url: "http://127.0.0.1:9", timeout: 1s}
    chain_api: {url: null}
releases: {enabled: false}
"""


def plugin(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "signer_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )


def test_unreachable_sources_are_critical(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(UNREACHABLE)
    result = plugin(tmp_path, "--config", "config.yaml", "check", "--nagios", "--settle", "0")
    first, *rest = result.stdout.splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert first.startswith("SIGNER-TUI CRITICAL - ")
    assert "node.signer.alive connection refused: signer API" in first
    assert " | findings=" in first and "critical=" in first
    assert any(line.startswith("[CRITICAL] main/node.bitcoind.reachable") for line in rest)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--config", "missing.yaml", "check", "--nagios"), "configuration error: missing.yaml"),
        (("check", "--nagios", "--settle", "soon"), "usage error: "),
        (("check", "--nagios", "--json"), "usage error: --nagios prints its own output"),
        (("--nagios",), "usage error: "),
    ],
)
def test_usage_and_config_errors_are_unknown_3(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    (tmp_path / "config.yaml").write_text(UNREACHABLE)
    if "missing.yaml" not in args:
        args = ("--config", "config.yaml", *args)
    result = plugin(tmp_path, *args)
    assert result.returncode == 3, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("SIGNER-TUI UNKNOWN - " + words), first
    assert "Traceback" not in result.stderr


def test_bad_config_lists_every_problem(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "signers:\n  - name: main\n    network: mainnett\n    posture: {poll: never}\n"
    )
    result = plugin(tmp_path, "--config", "config.yaml", "check", "--nagios")
    assert result.returncode == 3
    lines = result.stdout.splitlines()
    assert lines[0].startswith("SIGNER-TUI UNKNOWN - configuration error: config.yaml:3:")
    assert any("posture.poll" in line for line in lines[1:])


def test_without_nagios_a_config_error_stays_exit_2(tmp_path: Path) -> None:
    result = plugin(tmp_path, "--config", "missing.yaml", "check")
    assert result.returncode == 2 and result.stdout == ""
