"""node.stacks.upgrade_window: prepare phase and hard-fork distance from /v2/pox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from signer_tui.checks.upgrade_window import check_upgrade_window
from signer_tui.model import Evidence, Status
from signer_tui.sources.stacks import PoxInfo

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
POX = PoxInfo(
    current_cycle_id=118,
    next_cycle_id=119,
    blocks_until_prepare_phase=1805,
    blocks_until_reward_phase=1905,
    prepare_phase_start_block_height=914150,
    current_burnchain_block_height=912345,
    reward_cycle_length=2100,
    prepare_phase_block_length=100,
    contract_id="SP000000000000000000002Q6VF78.pox-4",
    current_epoch="Epoch31",
    pox_5_sbtc_contract=None,
    pox_5_sbtc_registry_contract=None,
    evidence=Evidence("stacks node", "GET /v2/pox", NOW),
)


def one(pox: PoxInfo | None, network: str = "mainnet", error: str | None = None) -> tuple:
    [finding] = check_upgrade_window(pox, error, network, NOW)
    assert finding.id == "node.stacks.upgrade_window"
    return finding.status, finding.summary


def test_far_from_the_prepare_phase_and_the_fork_is_ok() -> None:
    status, text = one(POX)
    assert status is Status.OK
    assert "prepare phase in 1805 blocks" in text and "Epoch 4.0 (PoX-5) in 47,885 blocks" in text


def test_inside_the_prepare_phase_is_not_a_window() -> None:
    status, text = one(replace(POX, blocks_until_prepare_phase=-38, blocks_until_reward_phase=62))
    assert status is Status.WARN and "do not upgrade: prepare phase of cycle 119" in text
    # Some nodes report the next cycle's distance during the phase: the reward phase tells.
    status, _ = one(replace(POX, blocks_until_prepare_phase=2000, blocks_until_reward_phase=40))
    assert status is Status.WARN


def test_a_prepare_phase_within_a_day_is_too_close() -> None:
    status, text = one(replace(POX, blocks_until_prepare_phase=100, blocks_until_reward_phase=200))
    assert status is Status.WARN and "prepare phase in 100 blocks (~17 h)" in text


def test_close_to_a_hard_fork_is_too_close() -> None:
    status, text = one(replace(POX, current_burnchain_block_height=960_200))
    assert status is Status.WARN and "Epoch 4.0 (PoX-5) activates in 30 blocks" in text
    # Testnet has no fork height in the table: only the prepare phase counts.
    assert one(replace(POX, current_burnchain_block_height=960_200), "testnet")[0] is Status.OK


def test_missing_data_is_unknown() -> None:
    assert one(None, error="timed out after 5 s") == (
        Status.UNKNOWN,
        "/v2/pox: timed out after 5 s",
    )
    assert one(None)[0] is Status.UNKNOWN
    status, text = one(replace(POX, current_burnchain_block_height=None))
    assert status is Status.UNKNOWN and "cannot tell the distance" in text
