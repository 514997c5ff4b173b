"""`check --nagios` against the simulated signer stack: WARNING and CRITICAL end to end."""

from __future__ import annotations

import pytest

from signer_tui.cli import main
from signer_tui.sim.state import fake_key
from tests.tui.conftest import Stack


def nagios(stack: Stack, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    # Posture would inspect this test machine, not the simulated signer host.
    stack.config(posture={"enabled": False})
    # A moving chain: the second round sees the tip move (a frozen one is UNKNOWN "watching").
    stack.env.state.stacks_block_seconds = 0.1
    code = main(
        ["--config", str(stack.tmp / "config.yaml"), "check", "--nagios", "--settle", "0.5"]
    )
    return code, capsys.readouterr().out.splitlines()


def test_nagios_warning_for_a_truncated_dump(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = nagios(stack, capsys)
    assert code == 1, lines
    assert lines[0].startswith("SIGNER-TUI WARNING - ")
    assert "backup.integrity" in lines[0] and " | findings=" in lines[0]
    assert "[OK] mainnet/key.node: " in "\n".join(lines)


def test_nagios_critical_on_key_mismatch(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.env.state.chain_key = fake_key("somewhere-else")
    code, lines = nagios(stack, capsys)
    assert code == 2
    assert lines[0].startswith("SIGNER-TUI CRITICAL - ") and "key." in lines[0]
