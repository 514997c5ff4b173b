"""node.*: bitcoind, the Stacks node and the signer. Pure, no I/O, fixed `NOW`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from signer_tui.checks.nodes import (
    BURN_LAG_CRIT,
    SignerSeries,
    check_bitcoind,
    check_signer,
    check_stacks,
    last_change,
)
from signer_tui.config import Thresholds
from signer_tui.model import Finding, Observation, Status
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceProtocolError,
    SourceTimeout,
    SourceWarmingUp,
)
from signer_tui.sources.signer import FieldProblem, Tip

from .factories import (
    DEFAULTS,
    HOUR,
    MINUTE,
    NOW,
    SECOND,
    Series,
    alive,
    bitcoind,
    by_id,
    down,
    flat_for,
    health,
    metrics,
    network_info,
    node_key_with_set,
    registry,
    series,
    signer_info,
    stacks,
    statuses,
)

OK, WARN, CRIT, UNK = Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN
BTC = 900_010
STX = 5_000_000
BITCOIND_DATA_ROWS = ("synced", "version", "pruned", "tip_age")
STACKS_DATA_ROWS = ("synced", "burn_lag", "tip_age", "peers")


# -- bitcoind --------------------------------------------------------------------------------


def btc_check(obs: Observation | None, t: Thresholds = DEFAULTS) -> dict[str, Finding]:
    return by_id(check_bitcoind(obs, t, NOW))


def test_bitcoind_healthy_is_ok_everywhere() -> None:
    found = btc_check(bitcoind())
    assert statuses(found.values()) == {
        "node.bitcoind.reachable": OK,
        "node.bitcoind.synced": OK,
        "node.bitcoind.version": OK,
        "node.bitcoind.pruned": OK,
        "node.bitcoind.tip_age": OK,
    }
    assert found["node.bitcoind.reachable"].summary == "bitcoind up 28.1.0"
    assert found["node.bitcoind.synced"].summary == "synced at 900,010"
    assert found["node.bitcoind.tip_age"].summary == "last block 5m ago"
    sources = {e.request for e in found["node.bitcoind.version"].evidence}
    assert sources == {"POST getblockchaininfo", "POST getnetworkinfo"}


@pytest.mark.parametrize(
    ("obs", "reachable", "summary"),
    [
        (down("bitcoind"), CRIT, "connection refused: bitcoind"),
        (
            down("bitcoind", SourceAuthError("authentication failed")),
            CRIT,
            "authentication failed: bitcoind",
        ),
        (down("bitcoind", SourceTimeout()), CRIT, "timed out: bitcoind"),
        (
            down("bitcoind", SourceWarmingUp("warming up", "Loading block index…")),
            WARN,
            "bitcoind warming up",
        ),
        (None, UNK, "not read yet: bitcoind"),
    ],
    ids=["refused", "auth", "timeout", "warming-up", "not-read"],
)
def test_bitcoind_without_an_answer_leaves_the_data_rows_unknown(
    obs: Observation | None, reachable: Status, summary: str
) -> None:
    found = btc_check(obs)
    assert found["node.bitcoind.reachable"].status is reachable
    assert found["node.bitcoind.reachable"].summary.startswith(summary)
    for row in BITCOIND_DATA_ROWS:
        assert found[f"node.bitcoind.{row}"].status is UNK
    assert "node.bitcoind.warnings" not in found


def test_bitcoind_unreachable_advice_is_the_source_detail() -> None:
    found = btc_check(down("bitcoind"))["node.bitcoind.reachable"]
    assert found.advice == "nothing listens on the port"
    assert found.summary == "connection refused: bitcoind"
    assert found.status is CRIT


def test_bitcoind_warming_up_says_wait() -> None:
    found = btc_check(down("bitcoind", SourceWarmingUp()))["node.bitcoind.reachable"]
    assert found.summary == "bitcoind warming up"
    assert "Wait" in found.advice


@pytest.mark.parametrize(
    ("progress", "summary"),
    [
        (0.45678, "initial block download (45.7%)"),
        (None, "initial block download"),
    ],
)
def test_initial_block_download_is_crit_with_progress(progress: float | None, summary: str) -> None:
    found = btc_check(bitcoind(ibd=True, progress=progress, headers=BTC + 5000))
    assert found["node.bitcoind.synced"].status is CRIT
    assert found["node.bitcoind.synced"].summary == summary


@pytest.mark.parametrize(
    ("ahead", "status"),
    [(0, OK), (1, OK), (2, OK), (3, WARN), (500, WARN)],
)
def test_headers_ahead_of_blocks(ahead: int, status: Status) -> None:
    found = btc_check(bitcoind(BTC, headers=BTC + ahead))["node.bitcoind.synced"]
    assert found.status is status
    if status is WARN:
        assert found.summary == f"{ahead} blocks behind its headers"


@pytest.mark.parametrize(
    ("version", "minimum", "status"),
    [
        (240200, 25, CRIT),
        (249900, 25, CRIT),
        (250000, 25, OK),
        (280100, 25, OK),
        (290000, 30, CRIT),  # the threshold comes from the profile's Thresholds
        (300000, 30, OK),
    ],
)
def test_bitcoind_version_against_the_minimum(version: int, minimum: int, status: Status) -> None:
    t = Thresholds(min_bitcoind_major=minimum)
    found = btc_check(bitcoind(network=network_info(version)), t)["node.bitcoind.version"]
    assert found.status is status
    assert str(minimum) in found.summary


def test_old_bitcoind_names_the_version() -> None:
    found = btc_check(bitcoind(network=network_info(240200)))["node.bitcoind.version"]
    assert found.summary == "Bitcoin Core 24.2.0 < 25"


@pytest.mark.parametrize(
    ("pruned", "status", "summary"),
    [
        (True, CRIT, "pruned node"),
        (False, OK, "not pruned"),
        (None, UNK, "prune state not reported"),
    ],
)
def test_pruned(pruned: bool | None, status: Status, summary: str) -> None:
    found = btc_check(bitcoind(pruned=pruned))["node.bitcoind.pruned"]
    assert (found.status, found.summary) == (status, summary)


@pytest.mark.parametrize(
    ("age", "limit", "status"),
    [
        (timedelta(0), DEFAULTS.bitcoin_tip_max_age, OK),
        (2 * HOUR - SECOND, DEFAULTS.bitcoin_tip_max_age, OK),
        (2 * HOUR, DEFAULTS.bitcoin_tip_max_age, OK),
        (2 * HOUR + SECOND, DEFAULTS.bitcoin_tip_max_age, WARN),
        (10 * HOUR, DEFAULTS.bitcoin_tip_max_age, WARN),
        (31 * MINUTE, 1800.0, WARN),
        (29 * MINUTE, 1800.0, OK),
    ],
    ids=["now", "just-under", "at-limit", "just-over", "hours", "custom-over", "custom-under"],
)
def test_bitcoin_tip_age(age: timedelta, limit: float, status: Status) -> None:
    found = btc_check(bitcoind(tip_age=age), Thresholds(bitcoin_tip_max_age=limit))
    assert found["node.bitcoind.tip_age"].status is status


def test_bitcoin_tip_age_text_and_unknown_time() -> None:
    over = btc_check(bitcoind(tip_age=3 * HOUR + 20 * MINUTE))["node.bitcoind.tip_age"]
    assert over.summary == "last block 3h ago"
    assert "peers" in over.advice
    missing = btc_check(bitcoind(tip_age=None))["node.bitcoind.tip_age"]
    assert (missing.status, missing.summary) == (UNK, "tip time not reported")


def test_bitcoind_warnings_are_a_warn_row() -> None:
    found = btc_check(bitcoind(warnings=["Unknown new rules activated (versionbit 28)"]))
    row = found["node.bitcoind.warnings"]
    assert row.status is WARN
    assert row.summary == "warning: Unknown new rules activated (versionbit 28)"
    # The warning does not spoil the other rows.
    assert found["node.bitcoind.synced"].status is OK


def test_network_info_failure_only_makes_the_version_unknown() -> None:
    found = btc_check(bitcoind(network_error="timed out"))
    assert found["node.bitcoind.version"].status is UNK
    assert found["node.bitcoind.version"].summary == "version: timed out"
    assert found["node.bitcoind.reachable"].summary == "bitcoind up"
    for row in ("reachable", "synced", "pruned", "tip_age"):
        assert found[f"node.bitcoind.{row}"].status is OK


# -- the Stacks node -------------------------------------------------------------------------

MOVING = series(STX - 2, STX - 1, STX)


def stx_check(
    obs: Observation | None = None,
    btc: Observation | None = None,
    tips: Series = MOVING,
    t: Thresholds = DEFAULTS,
) -> dict[str, Finding]:
    return by_id(check_stacks(obs or stacks(), btc or bitcoind(), tips, t, NOW))


def test_stacks_healthy_is_ok_everywhere() -> None:
    found = stx_check()
    assert set(statuses(found.values()).values()) == {OK}
    assert found["node.stacks.reachable"].summary == "Stacks node up 3.4.0.0.4"
    assert found["node.stacks.synced"].summary == "synced, tip 5,000,000"
    assert found["node.stacks.burn_lag"].summary == "burn height = bitcoind"
    assert found["node.stacks.peers"].summary == "0 blocks behind best peer"


@pytest.mark.parametrize(
    "obs",
    [down("stacks"), down("stacks", SourceProtocolError("unexpected response")), None],
    ids=["refused", "garbage", "not-read"],
)
def test_stacks_without_an_answer_leaves_the_data_rows_unknown(obs: Observation | None) -> None:
    found = by_id(check_stacks(obs, bitcoind(), MOVING, DEFAULTS, NOW))
    assert found["node.stacks.reachable"].status is (UNK if obs is None else CRIT)
    for row in STACKS_DATA_ROWS:
        assert found[f"node.stacks.{row}"].status is UNK


def test_stacks_not_synced_is_crit() -> None:
    found = stx_check(stacks(synced=False))["node.stacks.synced"]
    assert found.status is CRIT
    assert "initial" in found.summary


@pytest.mark.parametrize(
    ("lag", "status", "summary"),
    [
        (0, OK, "burn height = bitcoind"),
        (1, OK, "burn height 1 behind bitcoind"),
        (2, OK, "burn height 2 behind bitcoind"),
        (3, WARN, "burn height 3 behind bitcoind"),
        (BURN_LAG_CRIT, WARN, "burn height 6 behind bitcoind"),
        (BURN_LAG_CRIT + 1, CRIT, "burn height 7 behind bitcoind"),
        (-2, OK, "burn height 2 ahead of bitcoind"),
        # Ahead of bitcoind: the node follows another bitcoind, or this one is stuck.
        (-3, CRIT, "burn height 3 ahead of bitcoind"),
        (-1713, CRIT, "burn height 1713 ahead of bitcoind"),
    ],
)
def test_burn_height_lag_against_bitcoind(lag: int, status: Status, summary: str) -> None:
    found = stx_check(stacks(burn=BTC - lag), bitcoind(BTC))["node.stacks.burn_lag"]
    assert (found.status, found.summary) == (status, summary)
    assert bool(found.advice) is (status is not OK)
    assert {e.source for e in found.evidence} == {"stacks-node", "bitcoind"}


def test_burn_lag_threshold_comes_from_the_profile() -> None:
    t = Thresholds(max_node_lag_blocks=0)
    found = stx_check(stacks(burn=BTC - 1), bitcoind(BTC), t=t)["node.stacks.burn_lag"]
    assert found.status is WARN


@pytest.mark.parametrize("btc", [down("bitcoind"), None], ids=["down", "not-read"])
def test_burn_lag_unknown_without_bitcoind(btc: Observation | None) -> None:
    found = by_id(check_stacks(stacks(), btc, MOVING, DEFAULTS, NOW))["node.stacks.burn_lag"]
    assert found.status is UNK
    assert found.summary == "unknown bitcoind height (burn 900,010)"


@pytest.mark.parametrize(
    ("unchanged_for", "status"),
    [
        (timedelta(0), OK),
        (4 * MINUTE, OK),
        (5 * MINUTE, OK),
        (6 * MINUTE, WARN),
        (15 * MINUTE, WARN),
        (16 * MINUTE, CRIT),
        (2 * HOUR, CRIT),
    ],
)
def test_stacks_tip_age(unchanged_for: timedelta, status: Status) -> None:
    found = stx_check(tips=flat_for(unchanged_for))["node.stacks.tip_age"]
    assert found.status is status
    assert bool(found.advice) is (status is not OK)


def test_stacks_tip_age_uses_the_configured_limit() -> None:
    t = Thresholds(stacks_tip_max_age=600)
    assert stx_check(tips=flat_for(6 * MINUTE), t=t)["node.stacks.tip_age"].status is OK
    assert stx_check(tips=flat_for(11 * MINUTE), t=t)["node.stacks.tip_age"].status is WARN


def test_stacks_tip_never_changed_counts_from_the_first_sample() -> None:
    tips = series(STX, STX, STX, step=4 * MINUTE)  # first seen 8 minutes ago
    found = stx_check(tips=tips)["node.stacks.tip_age"]
    assert found.status is WARN
    # Never seen to move: it says "unchanged", not "moved".
    assert found.summary == "tip 5,000,000 unchanged for 8m"


@pytest.mark.parametrize(
    ("seen_for", "status"),
    [(15 * SECOND, UNK), (5 * MINUTE, UNK), (6 * MINUTE, WARN), (16 * MINUTE, CRIT)],
)
def test_first_sight_is_watching_never_ok(seen_for: timedelta, status: Status) -> None:
    """A tip seen but never seen to change is not movement: UNKNOWN until it has held longer
    than the limit, then WARN/CRIT — never OK."""
    tips = [(NOW - seen_for, float(STX)), (NOW, float(STX))]
    found = stx_check(tips=tips)["node.stacks.tip_age"]
    assert found.status is status
    if status is UNK:
        assert found.summary.startswith("tip 5,000,000 (watching, unchanged")


def test_api_moving_past_a_stuck_node_is_crit_at_once() -> None:
    # The node's tip held for 1 minute (well inside the 5-minute limit) while the API moved on.
    tips = [(NOW - MINUTE, float(STX)), (NOW, float(STX))]
    api = [(NOW - 2 * MINUTE, float(STX)), (NOW, float(STX + 8))]
    found = by_id(check_stacks(stacks(), bitcoind(), tips, DEFAULTS, NOW, api_tips=api))
    tip = found["node.stacks.tip_age"]
    assert tip.status is CRIT
    assert tip.summary == "stuck: tip 5,000,000, API at 5,000,008 (+8)"


@pytest.mark.parametrize(
    ("api_end", "status"),
    [(STX + 5, UNK), (STX + 6, CRIT)],
    ids=["below-lead", "at-lead"],
)
def test_api_lead_boundary(api_end: int, status: Status) -> None:
    tips = [(NOW - MINUTE, float(STX)), (NOW, float(STX))]
    api = [(NOW - 2 * MINUTE, float(STX)), (NOW, float(api_end))]
    found = by_id(check_stacks(stacks(), bitcoind(), tips, DEFAULTS, NOW, api_tips=api))
    assert found["node.stacks.tip_age"].status is status


def test_api_ahead_of_a_moving_node_is_not_a_stall() -> None:
    # The node moves (slowly catching up): the API being ahead is not "stuck".
    api = [(NOW - MINUTE, float(STX + 20)), (NOW, float(STX + 30))]
    found = by_id(check_stacks(stacks(), bitcoind(), MOVING, DEFAULTS, NOW, api_tips=api))
    assert found["node.stacks.tip_age"].status is OK


@pytest.mark.parametrize("tips", [[], series(STX)], ids=["no-samples", "one-sample"])
def test_stacks_tip_age_unknown_until_two_samples(tips: Series) -> None:
    found = stx_check(tips=tips)["node.stacks.tip_age"]
    assert found.status is UNK
    assert found.summary == "tip 5,000,000 (watching)"


def test_last_change() -> None:
    assert last_change([]) is None
    assert last_change(series(1, 2, 2, 2)) == NOW - 30 * SECOND
    assert last_change(series(1, 2, 3)) == NOW
    assert last_change(series(7, 7)) == NOW - 15 * SECOND
    # A value that went back to an earlier one is a change too.
    assert last_change(series(5, 6, 5)) == NOW


@pytest.mark.parametrize(
    ("obs", "status", "summary"),
    [
        (stacks(peer_health=None), WARN, "no /v3/health on this node version"),
        (
            stacks(peer_health=None, health_error="timed out"),
            UNK,
            "peer check failed: timed out",
        ),
        (stacks(peer_health=health(0, peers=False)), WARN, "no peer data (no neighbours?)"),
        (stacks(peer_health=health(10)), OK, "10 blocks behind best peer"),
        (stacks(peer_health=health(11)), WARN, "11 blocks behind best peer"),
    ],
    ids=["old-node", "health-failed", "no-peers", "diff-10", "diff-11"],
)
def test_stacks_peers(obs: Observation, status: Status, summary: str) -> None:
    found = stx_check(obs)["node.stacks.peers"]
    assert (found.status, found.summary) == (status, summary)


def test_peer_difference_threshold_comes_from_the_profile() -> None:
    t = Thresholds(max_peer_difference=3)
    assert stx_check(stacks(peer_health=health(4)), t=t)["node.stacks.peers"].status is WARN


# -- the signer ------------------------------------------------------------------------------

RISING = SignerSeries(
    stacks_observed=series(1000, 1003, 1006),
    bitcoin_observed=series(100, 100, 101),
    stacks_tip=series(STX - 6, STX - 3, STX),
    bitcoin_tip=series(BTC - 1, BTC - 1, BTC),
)


def signer_check(**overrides: Any) -> dict[str, Finding]:
    args: dict[str, Any] = {
        "alive": alive(),
        "info": signer_info(),
        "metrics": metrics(),
        "metrics_configured": True,
        "node_key": node_key_with_set(),
        "bitcoind": bitcoind(BTC),
        "stacks": stacks(tip=STX),
        "series": RISING,
        "t": DEFAULTS,
        "now": NOW,
    }
    args.update(overrides)
    alive_obs, info, metrics_obs = args.pop("alive"), args.pop("info"), args.pop("metrics")
    return by_id(check_signer(alive_obs, info, metrics_obs, **args))


def test_signer_healthy_is_ok_everywhere() -> None:
    found = signer_check()
    assert statuses(found.values()) == {
        "node.signer.alive": OK,
        "node.signer.tips": OK,
        "node.signer.peers": OK,
        "node.signer.observing": OK,
    }
    assert found["node.signer.alive"].summary.startswith("signer API alive")
    assert found["node.signer.tips"].summary == "signer: btc at tip, stx at tip"
    assert found["node.signer.peers"].summary == "13 of 13 peers connected (registry set of 14)"
    assert found["node.signer.observing"].summary == "observing: +6 Stacks blocks"


@pytest.mark.parametrize(
    ("obs", "status", "summary"),
    [
        (alive(), OK, "signer API alive"),
        (alive(None), OK, "signer API alive"),
        (down("signer"), CRIT, "connection refused: signer API"),
        (down("signer", SourceTimeout()), CRIT, "timed out: signer API"),
        (None, UNK, "not read yet: signer API"),
    ],
    ids=["alive", "alive-no-timing", "refused", "timeout", "not-read"],
)
def test_signer_alive(obs: Observation | None, status: Status, summary: str) -> None:
    found = signer_check(alive=obs)["node.signer.alive"]
    assert found.status is status
    assert found.summary.startswith(summary)


@pytest.mark.parametrize(
    ("info", "status", "summary"),
    [
        (signer_info(btc_signer=BTC - 3), OK, "signer: btc 3 behind, stx at tip"),
        (signer_info(btc_signer=BTC - 4), WARN, "signer: btc 4 behind, stx at tip"),
        (signer_info(btc_signer=BTC + 1), OK, "signer: btc at tip, stx at tip"),
        (signer_info(stx_signer=STX - 360), OK, "signer: btc at tip, stx 360 behind"),
        (signer_info(stx_signer=STX - 361), WARN, "signer: btc at tip, stx 361 behind"),
        (signer_info(stx_signer=None), OK, "signer: btc at tip"),
        (signer_info(btc_signer=None), UNK, "unknown: signer's bitcoin tip (null in /info)"),
        (
            signer_info(btc_signer=None, stx_signer=None, btc_node=None, stx_node=None),
            UNK,
            "unknown: signer's bitcoin tip (null in /info)",
        ),
        (down("signer_info"), UNK, "connection refused: signer /info"),
        (None, UNK, "not read yet: signer /info"),
    ],
    ids=[
        "btc-3",
        "btc-4",
        "btc-ahead",
        "stx-360",
        "stx-361",
        "stx-null",
        "btc-null",
        "all-null",
        "info-down",
        "info-not-read",
    ],
)
def test_signer_tips(info: Observation | None, status: Status, summary: str) -> None:
    found = signer_check(info=info)["node.signer.tips"]
    assert (found.status, found.summary) == (status, summary)


def test_signer_tips_fall_back_to_the_node_tips_in_info() -> None:
    # Our own bitcoind and Stacks node are down: /info's own node tips are the reference.
    info = signer_info(btc_signer=BTC - 4, btc_node=BTC, stx_signer=STX, stx_node=STX + 400)
    found = signer_check(info=info, bitcoind=down("bitcoind"), stacks=down("stacks"))
    assert found["node.signer.tips"].status is WARN
    assert found["node.signer.tips"].summary == "signer: btc 4 behind, stx 400 behind"


def test_signer_tips_unknown_without_any_bitcoin_reference() -> None:
    info = signer_info(btc_node=None)
    found = signer_check(info=info, bitcoind=None)["node.signer.tips"]
    assert found.status is UNK


def test_signer_tip_lag_threshold_comes_from_the_profile() -> None:
    t = Thresholds(signer_tip_max_lag_blocks=0)
    found = signer_check(info=signer_info(btc_signer=BTC - 1), t=t)["node.signer.tips"]
    assert found.status is WARN


def test_metrics_not_configured_is_warn_and_skips_the_metric_rows() -> None:
    found = signer_check(metrics=None, metrics_configured=False)
    assert found["node.signer.metrics"].status is WARN
    assert found["node.signer.metrics"].summary == "metrics not configured"
    assert "node.signer.peers" not in found
    assert "node.signer.observing" not in found


@pytest.mark.parametrize(
    ("obs", "status"),
    [(down("metrics"), CRIT), (down("metrics", SourceTimeout()), CRIT), (None, UNK)],
    ids=["refused", "timeout", "not-read"],
)
def test_metrics_unreachable_makes_peers_and_observing_unknown(
    obs: Observation | None, status: Status
) -> None:
    found = signer_check(metrics=obs)
    assert found["node.signer.metrics"].status is status
    assert found["node.signer.peers"].status is UNK
    assert found["node.signer.observing"].status is UNK
    assert found["node.signer.peers"].summary.endswith(": metrics")


@pytest.mark.parametrize(
    ("peers", "signers", "threshold", "status", "summary"),
    [
        (13, 14, 10, OK, "13 of 13 peers connected"),
        (12, 14, 10, WARN, "1 missing: 12 of 13 peers connected"),
        (11, 14, 10, WARN, "2 missing: 11 of 13 peers connected"),
        (
            9,
            14,
            10,
            WARN,
            "4 missing: 9 of 13 peers connected",
        ),  # exactly threshold - 1: can still sign
        (8, 14, 10, CRIT, "below threshold: 8 of 13 peers connected"),
        (0, 14, 10, CRIT, "below threshold: 0 of 13 peers connected"),
        (0, 1, 1, OK, "0 of 0 peers connected"),  # a lone signer (devnet)
        (None, 14, 10, UNK, "peers_connected not exported"),  # v1.0.x
    ],
)
def test_signer_peers(
    peers: float | None, signers: int, threshold: int, status: Status, summary: str
) -> None:
    found = signer_check(metrics=metrics(peers), node_key=node_key_with_set(signers, threshold))[
        "node.signer.peers"
    ]
    assert found.status is status
    assert found.summary.startswith(summary)
    if peers is not None:
        assert found.summary.endswith(f"(registry set of {signers})")
    if status is CRIT:
        assert str(threshold) in found.advice


@pytest.mark.parametrize(
    ("peers", "configured", "status", "words"),
    [
        (10, 11, OK, "10 of 10 peers connected (configured set of 11)"),
        (9, 11, WARN, "1 missing: 9 of 10 peers connected (configured set of 11)"),
        (11, 11, WARN, "more peers than signers: 11 > 10 others (configured set)"),
        (13, 11, WARN, "more peers than signers: 13 > 10 others (configured set)"),
    ],
    ids=["all", "one-missing", "one-over", "mainnet-14-on-an-11-set"],
)
def test_signer_peers_expected_from_the_configured_set(
    peers: float, configured: int, status: Status, words: str
) -> None:
    # PR #2093: the mainnet example set went from 14 to 11 keys; the registry may still say 14.
    found = signer_check(
        metrics=metrics(peers), node_key=node_key_with_set(14, 10), configured_set=configured
    )
    row = found["node.signer.peers"]
    assert (row.status, row.summary) == (status, words)
    if "more than" in words:
        assert "v1.3.3" in row.advice and "#2089" in row.advice


def test_more_peers_than_the_registry_set_is_said() -> None:
    found = signer_check(metrics=metrics(20), node_key=node_key_with_set(14, 10))
    assert found["node.signer.peers"].status is WARN
    assert "more peers than signers: 20 > 13 others (registry set)" in (
        found["node.signer.peers"].summary
    )


@pytest.mark.parametrize(
    "node_key",
    [down("key.node"), None, registry(b"\x02" * 33), node_key_with_set(0)],
    ids=["key-read-failed", "not-read", "no-signer-data", "empty-set"],
)
def test_signer_peers_unknown_without_the_signer_set(node_key: Observation | None) -> None:
    found = signer_check(node_key=node_key)["node.signer.peers"]
    assert found.status is UNK
    assert found.summary == "13 peers; signer set unknown"


def observing(**changes: Series) -> Finding:
    parts = {
        "stacks_observed": RISING.stacks_observed,
        "bitcoin_observed": RISING.bitcoin_observed,
        "stacks_tip": RISING.stacks_tip,
        "bitcoin_tip": RISING.bitcoin_tip,
    }
    parts.update(changes)
    return signer_check(series=SignerSeries(**parts))["node.signer.observing"]


@pytest.mark.parametrize(
    ("changes", "status", "summary"),
    [
        ({}, OK, "observing: +6 Stacks blocks"),
        ({"stacks_observed": series(1000)}, UNK, "need two scrapes to see blocks rising"),
        ({"stacks_observed": []}, UNK, "need two scrapes to see blocks rising"),
        (
            {"stacks_observed": series(1000, 1000, 1000)},
            CRIT,
            "observer stalled: 0 of 6 Stacks blocks in 30s",
        ),
        (
            {"bitcoin_observed": series(100, 100, 100), "bitcoin_tip": series(BTC - 2, BTC)},
            WARN,
            "saw 0 of 2 new bitcoin blocks",
        ),
        (
            # The Stacks node is flat too: nothing to observe, the node's own row says why.
            {"stacks_observed": series(1000, 1000), "stacks_tip": series(STX, STX)},
            OK,
            "observing: +0 Stacks blocks",
        ),
        (
            {"stacks_observed": series(1000, 1000), "stacks_tip": []},
            UNK,
            "signer saw no new Stacks blocks; node tip unknown",
        ),
        (
            # metrics-rs exports only touched series: no bitcoin counter is not a failure.
            {"bitcoin_observed": []},
            OK,
            "observing: +6 Stacks blocks",
        ),
        (
            {"bitcoin_observed": series(100, 100), "bitcoin_tip": series(BTC, BTC)},
            OK,
            "observing: +6 Stacks blocks",
        ),
    ],
    ids=[
        "both-rising",
        "one-sample",
        "no-samples",
        "stacks-flat",
        "bitcoin-flat-2-blocks",
        "node-flat-too",
        "node-tip-unknown",
        "no-bitcoin-counter",
        "bitcoind-flat-too",
    ],
)
def test_signer_observing(changes: dict[str, Series], status: Status, summary: str) -> None:
    found = observing(**changes)
    assert (found.status, found.summary) == (status, summary)


def test_observing_looks_only_at_the_recent_window() -> None:
    # The counter rose 10 minutes ago but has been flat for the last 5 while the node moved.
    old = NOW - 10 * MINUTE
    counter = [(old, 900.0), (NOW - 4 * MINUTE, 1000.0), (NOW, 1000.0)]
    tips = [(old, STX - 100.0), (NOW - 4 * MINUTE, STX - 10.0), (NOW, float(STX))]
    found = observing(stacks_observed=counter, stacks_tip=tips)
    assert found.status is CRIT
    assert found.summary == "observer stalled: 0 of 10 Stacks blocks in 4m"
    assert "8 MiB" in found.advice


def test_observing_two_scrapes_far_apart_show_the_rise() -> None:
    # Two scrapes 20 minutes apart: the counter rose, so the observer works.
    counter = [(NOW - 20 * MINUTE, 900.0), (NOW, 1000.0)]
    assert observing(stacks_observed=counter).status is OK


@pytest.mark.parametrize(("gain", "status"), [(1, OK), (2, OK), (3, CRIT)])
def test_observing_tolerates_a_counter_a_scrape_behind(gain: int, status: Status) -> None:
    """Hysteresis: a counter one or two blocks behind its node (a scrape late) is not a stall."""
    counter = [(NOW - 20 * SECOND, 1000.0), (NOW, 1000.0)]
    tips = [(NOW - 20 * SECOND, float(STX)), (NOW, float(STX + gain))]
    assert observing(stacks_observed=counter, stacks_tip=tips).status is status


def test_one_new_bitcoin_block_not_yet_seen_is_not_a_warning() -> None:
    found = observing(bitcoin_observed=series(100, 100), bitcoin_tip=series(BTC - 1, BTC))
    assert found.status is OK


def test_signer_tips_name_a_mistyped_field_of_info() -> None:
    # The tip the signer sent had a height that is not a number: the row says which field.
    obs = signer_info()
    bad = FieldProblem("bitcoin.signer_tip.block_height", "an integer or null", '"abc"')
    info = replace(
        obs.value,
        bitcoin=replace(obs.value.bitcoin, signer_tip=Tip("ab" * 32, None)),
        problems=(bad,),
    )
    found = signer_check(info=replace(obs, value=info))["node.signer.tips"]
    assert found.status is UNK
    assert found.summary == (
        "unreadable /info field bitcoin.signer_tip.block_height: expected an integer or null, "
        'got "abc"'
    )


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf", "-1e308", "1e300"])
def test_metrics_that_are_no_count_are_unknown_with_the_reason(value: str) -> None:
    """Issue 17: NaN/Inf gave "OK nan of 14 peers connected" and -1e308 a 309-digit number."""
    from signer_tui.model import Evidence
    from signer_tui.sources.metrics import parse_exposition, snapshot_from
    from tests.checks.factories import ok

    text = (
        f"peers_connected {value}\n"
        f'blocks_observed_total{{blockchain="stacks"}} {value}\n'
        'blocks_observed_total{blockchain="bitcoin"} 100\n'
    )
    snap = snapshot_from(parse_exposition(text), NOW, Evidence("m", "GET /metrics", NOW))
    assert snap.peers_connected is None and "peers_connected" in snap.invalid
    assert "stacks" not in snap.blocks_observed_total
    found = signer_check(metrics=ok("metrics", snap))
    peers, observing = found["node.signer.peers"], found["node.signer.observing"]
    assert peers.status is UNK and observing.status is UNK
    assert peers.summary.startswith("not a count: peers_connected is ")
    assert "blocks_observed_total is " in observing.summary
    assert all(len(f.summary) < 80 for f in found.values())
