"""node.stacks.fork_deadline and release.bitcoind.eol at their boundaries. Pure."""

from __future__ import annotations

import pytest

from signer_tui.checks.lifecycle import (
    FORK_CRIT_BLOCKS,
    bitcoin_eol,
    eta,
    fork_deadline,
)
from signer_tui.checks.network_facts import load_facts
from signer_tui.model import Status
from signer_tui.sources.versions import (
    ParsedVersion,
    parse_stacks_tag,
    version_from_subversion,
)

from .factories import BITCOIN, feeds, osv, release, repo

FACTS = load_facts()
EPOCH4 = 960_230


def node(tag: str) -> ParsedVersion:
    parsed = parse_stacks_tag(tag)
    assert parsed is not None
    return parsed


def core(text: str) -> ParsedVersion:
    parsed = version_from_subversion(f"/Satoshi:{text}/")
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("left", "status"),
    [
        (FORK_CRIT_BLOCKS + 1, Status.WARN),
        (FORK_CRIT_BLOCKS, Status.CRIT),
        (1, Status.CRIT),
        (50_000, Status.WARN),
    ],
    ids=["just-outside-2-weeks", "at-2-weeks", "one-block", "far"],
)
def test_old_node_before_the_fork(left: int, status: Status) -> None:
    found = fork_deadline(node("3.4.0.0.4"), "", EPOCH4 - left, "mainnet", FACTS)
    assert found.status is status
    assert found.summary.startswith(f"will split in {left:,} blocks")
    assert "at 960,230 (Epoch 4.0 (PoX-5))" in found.summary
    assert eta(left) in found.summary
    assert "needs >= 4.0.1" in found.summary
    assert "BITCOIN_MAINNET_STACKS_40_BURN_HEIGHT" in dict(found.details)["source"]


@pytest.mark.parametrize("past", [0, 1, 500])
def test_old_node_at_or_after_the_fork_has_split(past: int) -> None:
    found = fork_deadline(node("3.4.0.0.4"), "", EPOCH4 + past, "mainnet", FACTS)
    assert found.status is Status.CRIT
    assert "split from the network at block 960,230" in found.summary


@pytest.mark.parametrize("tag", ["4.0.1", "4.0.2"])
def test_new_enough_node_is_ok(tag: str) -> None:
    found = fork_deadline(node(tag), "", EPOCH4 - 10, "mainnet", FACTS)
    assert found.status is Status.OK
    assert "Epoch 4.0 (PoX-5) in 10 blocks" in found.summary


def test_4_0_0_is_not_enough() -> None:
    found = fork_deadline(node("4.0.0"), "", EPOCH4 - 10, "mainnet", FACTS)
    assert found.status is Status.CRIT


def test_new_node_after_the_fork_is_ok() -> None:
    found = fork_deadline(node("4.0.2"), "", EPOCH4 + 5, "mainnet", FACTS)
    assert found.status is Status.OK
    assert "active" in found.summary


def test_unknown_version_or_height_is_unknown() -> None:
    assert fork_deadline(None, "node not read", EPOCH4, "mainnet", FACTS).status is Status.UNKNOWN
    unknown = fork_deadline(node("3.4.0.0.4"), "", None, "mainnet", FACTS)
    assert unknown.status is Status.UNKNOWN


def test_network_without_a_known_fork_says_so() -> None:
    found = fork_deadline(node("3.4.0.0.4"), "", 100, "testnet", FACTS)
    assert found.status is Status.OK
    assert "no hard fork known for testnet" in found.summary


def test_eta_words() -> None:
    assert eta(6) == "~60 min"
    assert eta(144) == "~24 h"
    assert eta(2016) == "~14.0 days"


# -- Bitcoin Core's support window ----------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "status"),
    [
        ("31.1.0", Status.OK),
        ("29.3.0", Status.OK),
        ("28.1.0", Status.WARN),
        ("25.0.0", Status.WARN),
        ("24.2.0", Status.CRIT),
    ],
)
def test_support_window_boundaries(version: str, status: Status) -> None:
    found = bitcoin_eol(core(version), version, "", FACTS, None)
    assert found.status is status, found.summary


def test_eol_names_the_release_that_ended_it() -> None:
    found = bitcoin_eol(core("28.1.0"), "28.1.0", "", FACTS, None)
    assert found.summary == "end-of-life: Core 28.1.0 (since 31.0; maintained: 29.x-31.x)"


def test_eol_with_a_security_fix_only_in_maintained_lines_is_crit() -> None:
    fixed = release(BITCOIN, "v29.3", body="Fixes a security issue (CVE-2026-1234).")
    obs = feeds(bitcoin=repo(BITCOIN, [fixed, "v29.2", "v28.1"]))
    found = bitcoin_eol(core("28.1.0"), "28.1.0", "", FACTS, obs.reading())
    assert found.status is Status.CRIT
    assert "security fix in v29.3 will never reach 28.x" in found.summary


def test_eol_with_an_osv_hit_is_crit() -> None:
    obs = feeds(bitcoin_osv=osv(["OSV-2026-1"]))
    found = bitcoin_eol(core("28.1.0"), "28.1.0", "", FACTS, obs.reading())
    assert found.status is Status.CRIT
    assert "OSV lists OSV-2026-1" in found.summary


def test_maintained_line_with_a_security_fix_elsewhere_is_still_ok_here() -> None:
    fixed = release(BITCOIN, "v30.2", body="security fix")
    obs = feeds(bitcoin=repo(BITCOIN, [fixed, "v29.3"]))
    assert bitcoin_eol(core("29.3.0"), "29.3.0", "", FACTS, obs.reading()).status is Status.OK


def test_a_newer_major_in_the_feed_moves_the_window() -> None:
    obs = feeds(bitcoin=repo(BITCOIN, ["v32.0", "v31.1", "v29.3"]))
    found = bitcoin_eol(core("29.3.0"), "29.3.0", "", FACTS, obs.reading())
    assert found.status is Status.WARN
    assert "since 32.0; maintained: 30.x-32.x" in found.summary


def test_a_release_candidate_does_not_move_the_window() -> None:
    obs = feeds(bitcoin=repo(BITCOIN, ["v32.0rc1", "v31.1"]))
    assert bitcoin_eol(core("29.3.0"), "29.3.0", "", FACTS, obs.reading()).status is Status.OK


def test_unknown_core_version_is_unknown() -> None:
    found = bitcoin_eol(None, "?", "bitcoind not read", FACTS, None)
    assert found.status is Status.UNKNOWN
    assert "bitcoind not read" in found.summary
