"""judge_key: the registry-key rule (sBTC PR #2090) at its boundaries. Pure."""

from __future__ import annotations

import pytest

from signer_tui.checks.key_rule import KeyState, Unverified, judge_key
from signer_tui.model import Status
from signer_tui.sbtc import DKG_VERIFICATION_WINDOW

from .factories import key

K1, K2, K3 = key(1), key(2), key(3)
HEIGHT = 960_000


def test_registry_key_is_the_newest_verified_row_is_healthy() -> None:
    verdict = judge_key([K1, K2], K1)
    assert (verdict.status, verdict.state) == (Status.OK, KeyState.HEALTHY)
    assert verdict.pending_key is None


def test_backup_with_a_newer_verified_key_that_also_holds_the_registry_key_is_a_warn() -> None:
    # The verify-backup case of issue #14: VERIFIED, with a WARN, not a failure.
    verdict = judge_key([K2, K1], K1, pending_started_at=HEIGHT - 20, bitcoin_height=HEIGHT)
    assert verdict.status is Status.WARN
    assert verdict.state is KeyState.ROTATION_PENDING
    assert verdict.pending_key == K2
    assert verdict.pending_blocks == 20
    assert "rotation pending" in verdict.summary
    assert "20 bitcoin blocks old" in verdict.summary


@pytest.mark.parametrize(
    ("started", "blocks", "words"),
    [
        (HEIGHT, 0, "0 bitcoin blocks"),
        (HEIGHT - 1, 1, "1 bitcoin block old"),
        (HEIGHT + 3, 0, "0 bitcoin blocks"),
    ],
)
def test_pending_age_boundaries(started: int, blocks: int, words: str) -> None:
    # A node behind the round's start height gives 0, never a negative age.
    verdict = judge_key([K2, K1], K1, pending_started_at=started, bitcoin_height=HEIGHT)
    assert verdict.pending_blocks == blocks
    assert words in verdict.summary


def test_pending_age_unknown_without_a_height() -> None:
    verdict = judge_key([K2, K1], K1, pending_started_at=HEIGHT)
    assert verdict.pending_blocks is None
    assert "age unknown" in verdict.summary


def test_registry_key_absent_from_the_verified_rows_is_crit() -> None:
    verdict = judge_key([K2, K3], K1)
    assert (verdict.status, verdict.state) == (Status.CRIT, KeyState.REGISTRY_KEY_MISSING)
    assert "could not sign" in verdict.advice


def test_no_verified_row_but_a_registry_key_is_crit() -> None:
    assert judge_key([], K1).status is Status.CRIT


def test_registry_key_present_only_unverified_inside_the_window_is_a_transition() -> None:
    inside = Unverified(K1, DKG_VERIFICATION_WINDOW - 1, True)
    verdict = judge_key([K2], K1, unverified=inside)
    assert (verdict.status, verdict.state) == (Status.WARN, KeyState.TRANSITION)
    assert f"{DKG_VERIFICATION_WINDOW - 1}/{DKG_VERIFICATION_WINDOW} blocks" in verdict.summary


def test_registry_key_unverified_past_the_window_is_crit() -> None:
    past = Unverified(K1, DKG_VERIFICATION_WINDOW, False)
    assert judge_key([K2], K1, unverified=past).status is Status.CRIT


def test_an_unverified_row_that_is_not_the_registry_key_does_not_excuse_it() -> None:
    other = Unverified(K3, 1, True)
    assert judge_key([K2], K1, unverified=other).status is Status.CRIT


def test_a_round_running_on_top_of_the_healthy_key_is_a_warn() -> None:
    running = Unverified(K2, 3, True)
    verdict = judge_key([K1], K1, unverified=running)
    assert (verdict.status, verdict.state) == (Status.WARN, KeyState.TRANSITION)


def test_a_round_past_its_window_on_top_of_the_healthy_key_is_ok() -> None:
    stale = Unverified(K2, 12, False)
    assert judge_key([K1], K1, unverified=stale).status is Status.OK


def test_pre_dkg_on_both_sides_is_a_warn() -> None:
    verdict = judge_key([], None)
    assert (verdict.status, verdict.state) == (Status.WARN, KeyState.PRE_DKG)


def test_verified_key_with_an_empty_registry_is_a_pending_first_rotation() -> None:
    verdict = judge_key([K1], None, pending_started_at=HEIGHT - 5, bitcoin_height=HEIGHT)
    assert (verdict.status, verdict.state) == (Status.WARN, KeyState.ROTATION_PENDING)
    assert verdict.pending_blocks == 5


def test_the_label_names_the_source() -> None:
    assert "backup" in judge_key([K2], K1, label="backup").summary
