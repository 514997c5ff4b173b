"""`signer-tui check`: the headless path shows the same findings, with exit codes by status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from signer_tui.cli import main
from signer_tui.sim.state import fake_key
from tests.tui.conftest import Stack


def run_check(stack: Stack, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    stack.config()  # writes config.yaml
    code = main(["--config", str(stack.tmp / "config.yaml"), "check", "--settle", "0.5", *extra])
    return code, capsys.readouterr().out


def test_check_json_and_prometheus(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    prom = stack.tmp / "out" / "signer.prom"
    code, output = run_check(stack, capsys, "--json", "--prometheus", str(prom))
    doc = json.loads(output)
    profile = doc["profiles"][0]
    by_id = {f["id"]: f for f in profile["findings"]}
    assert by_id["key.node"]["status"] == "OK"
    assert by_id["node.stacks.tip_age"]["status"] == "OK"  # two rounds: the tip was seen twice
    assert by_id["backup.integrity"]["status"] == "WARN"  # the truncated dump
    assert doc["status"] == "WARN" and code == 1
    families = {f.name: f for f in text_string_to_metric_families(prom.read_text())}
    statuses = {s.labels["id"]: s.value for s in families["signer_tui_finding_status"].samples}
    assert statuses["key.node"] == 0 and statuses["backup.integrity"] == 1


def test_check_exit_code_is_crit_on_key_mismatch(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.env.state.chain_key = fake_key("somewhere-else")
    code, output = run_check(stack, capsys, "--verbose")
    assert code == 4
    assert output.startswith("mainnet: CRIT")
    assert "MISMATCH" in output and "advice:" in output


def test_check_unknown_profile_is_a_usage_error(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack.config()
    code = main(["--config", str(stack.tmp / "config.yaml"), "check", "--profile", "nope"])
    assert code == 2
    assert "no profile named 'nope' (have: mainnet)" in capsys.readouterr().err
