"""The shipped network facts file parses, every line has a source, and bad files are named."""

from __future__ import annotations

from importlib import resources

import pytest
from packaging.version import Version

from signer_tui.checks.network_facts import NetworkFactsError, load_facts, parse_facts
from signer_tui.checks.upgrade_window import hard_forks


def test_shipped_file_parses_with_the_researched_facts() -> None:
    facts = load_facts()
    assert facts.version >= 1
    (epoch4,) = facts.forks("mainnet")
    assert epoch4.activation_height == 960_230
    assert epoch4.min_version == Version("4.0.1")
    assert "BITCOIN_MAINNET_STACKS_40_BURN_HEIGHT" in epoch4.source
    core = facts.bitcoin_core
    assert (core.maintained_majors, core.latest_major, core.eol_through_major) == (3, 31, 28)
    assert core.maintained == (29, 30, 31)
    assert core.is_eol(28) and core.is_eol(25) and not core.is_eol(29)
    assert core.eol_since == "31.0"
    assert core.signer_minimum_major == 25
    assert all(flag.source for flag in facts.release_flags)


def test_file_is_package_data() -> None:
    data = resources.files("signer_tui").joinpath("data", "network_facts.yaml")
    assert data.is_file()


def test_upgrade_window_reads_the_same_table() -> None:
    assert hard_forks("mainnet") == ((960_230, "Epoch 4.0 (PoX-5)"),)
    assert hard_forks("testnet") == ()


GOOD = resources.files("signer_tui").joinpath("data", "network_facts.yaml").read_text("utf-8")


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("activation_height: 960230", "activation_height: soon", "activation_height must be"),
        ('min_version: "4.0.1"', 'min_version: "four"', "is not a version"),
        ("latest_major: 31", "latest_major: 29", "overlaps the maintained majors"),
        ("version: 1\n", "version: true\n", ".version must be a int"),
    ],
)
def test_a_broken_file_is_named(old: str, new: str, words: str) -> None:
    assert old in GOOD
    with pytest.raises(NetworkFactsError, match=words):
        parse_facts(GOOD.replace(old, new, 1))


def test_not_a_mapping() -> None:
    with pytest.raises(NetworkFactsError, match="not a mapping"):
        parse_facts("- a\n- b\n")
