"""`signer-tui check`: the headless path shows the same findings, with exit codes by status."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from signer_tui.cli import main
from signer_tui.sim.state import fake_key
from tests.tui.conftest import Stack


def run_check(
    stack: Stack, capsys: pytest.CaptureFixture[str], *extra: str, **profile: Any
) -> tuple[int, str]:
    stack.config(**profile)  # writes config.yaml
    memory = ["--memory", str(stack.tmp / "memory.json")]
    if "--no-memory" in extra or "--memory" in extra:
        memory = []
    code = main(["--config", str(stack.tmp / "config.yaml"), "check", *memory, *extra])
    return code, capsys.readouterr().out


def findings_of(output: str, profile: int = 0) -> dict[str, Any]:
    doc = json.loads(output)
    return {f["id"]: f for f in doc["profiles"][profile]["findings"]}


def test_check_json_and_prometheus(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack.env.state.stacks_block_seconds = 0.1  # a moving chain: the second round sees it move
    stack.env.state.bitcoin_block_seconds = 0.0
    prom = stack.tmp / "out" / "signer.prom"
    code, output = run_check(stack, capsys, "--json", "--settle", "0.5", "--prometheus", str(prom))
    doc = json.loads(output)
    profile = doc["profiles"][0]
    by_id = {f["id"]: f for f in profile["findings"]}
    assert by_id["key.node"]["status"] == "OK"
    assert by_id["node.stacks.tip_age"]["status"] == "OK"  # two rounds: the tip was seen twice
    assert by_id["backup.integrity"]["status"] == "WARN"  # the truncated dump
    crit = {k: v["summary"] for k, v in by_id.items() if v["status"] == "CRIT"}
    unknown = {k: v["summary"] for k, v in by_id.items() if v["status"] == "UNKNOWN"}
    assert doc["status"] == "WARN" and code == 1, (crit, unknown)
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


def test_first_sight_of_a_frozen_node_is_watching_then_warn_then_crit_across_runs(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The simulated node's tip never moves. One run alone cannot tell (UNKNOWN "watching",
    "first run"); the next runs, after the limit, say WARN then CRIT — never OK."""
    limits = {"thresholds": {"stacks_tip_max_age": "1s"}}
    code, output = run_check(stack, capsys, "--json", **limits)
    tip = findings_of(output)["node.stacks.tip_age"]
    assert tip["status"] == "UNKNOWN" and "watching" in tip["summary"]
    assert code == 3
    _code, text = run_check(stack, capsys, "--no-memory", **limits)
    assert "note: first run" not in text  # --no-memory: no state, and it says so nowhere else
    time.sleep(1.3)
    _code, output = run_check(stack, capsys, "--json", **limits)
    tip = findings_of(output)["node.stacks.tip_age"]
    assert tip["status"] == "WARN" and "unchanged for" in tip["summary"], tip
    time.sleep(2.0)
    _code, output = run_check(stack, capsys, "--json", **limits)
    assert findings_of(output)["node.stacks.tip_age"]["status"] == "CRIT"


def test_check_says_first_run_when_there_is_no_earlier_state(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    _code, text = run_check(stack, capsys)
    assert "note: first run: no earlier state" in text
    _code, text = run_check(stack, capsys)
    assert "first run" not in text


def test_signer_counters_frozen_while_the_node_moves_is_crit_across_runs(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    state = stack.env.state
    state.stacks_block_seconds = 0.1
    state.signer_observing = False  # blocks_observed_total stops rising
    run_check(stack, capsys, "--json")
    time.sleep(0.8)
    _code, output = run_check(stack, capsys, "--json")
    observing = findings_of(output)["node.signer.observing"]
    assert observing["status"] == "CRIT" and "observer stalled" in observing["summary"]


def test_check_of_the_second_profile_fetches_the_shared_feeds(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    stack.config()
    path = stack.tmp / "config.yaml"
    data = yaml.safe_load(path.read_text())
    second = dict(data["signers"][0], name="second")
    data["signers"].append(second)
    path.write_text(yaml.safe_dump(data))
    code = main(["--config", str(path), "check", "--no-memory", "--json", "--profile", "second"])
    doc = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in doc["profiles"]] == ["second"]
    by_id = {f["id"]: f for f in doc["profiles"][0]["findings"]}
    for fid in ("release.signer", "release.stacks", "release.bitcoind", "release.feed"):
        assert "not fetched" not in by_id[fid]["summary"], by_id[fid]
        assert by_id[fid]["status"] != "UNKNOWN", by_id[fid]
    assert code in (1, 3, 4)
