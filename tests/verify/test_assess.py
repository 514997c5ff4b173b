"""The pure parts of the verdict: key comparison, row counts, findings on the restored DB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signer_tui.checks.keys import ChainReading, compare_keys, normalise_key_hex
from signer_tui.checks.restored import check_restored, compare_row_counts
from signer_tui.checks.restored import verdict as _verdict
from signer_tui.model import Evidence, Finding, Status
from signer_tui.sources.postgres import (
    DkgShare,
    EncryptedShares,
    Migrations,
    NewestShare,
    SignerDbFacts,
    VerifiedKeys,
)

KEY = "02" + "ab" * 32
OTHER = "03" + "cd" * 32
EV = Evidence("test", "q", datetime(2026, 1, 1, tzinfo=UTC))


def node(key: str | None, error: str | None = None) -> ChainReading:
    return ChainReading("node", "http://node", key, error)


def api(key: str | None, error: str | None = None) -> ChainReading:
    return ChainReading("api", "http://api", key, error)


@pytest.mark.parametrize(
    "raw",
    [
        KEY,
        KEY.upper(),
        "0x" + KEY,
        "\\x" + KEY,
        "0x0200000021" + KEY,  # the Clarity (buff 33) serialisation from call-read
        "  0200000021" + KEY + "\n",
    ],
)
def test_key_hex_is_normalised(raw: str) -> None:
    assert normalise_key_hex(raw) == KEY
    assert normalise_key_hex(bytes.fromhex(KEY)) == KEY


@pytest.mark.parametrize(
    ("readings", "status", "disagree", "text"),
    [
        ([node(KEY), api(KEY)], "match", False, "own Stacks node and independent API"),
        ([node(KEY), api(None, "timed out")], "match", False, "own Stacks node"),
        ([node(OTHER), api(OTHER)], "mismatch", False, "not in this backup"),
        ([node(None), api(None)], "mismatch", False, "pre-DKG"),
        ([node(KEY), api(OTHER)], "unknown", True, "disagree"),
        ([node(OTHER), api("02" + "99" * 32)], "mismatch", True, "matches no chain source"),
        ([node(None, "refused"), api(None, "refused")], "unknown", False, "no chain source"),
        ([], "skipped", False, "--no-chain"),
    ],
)
def test_compare_keys(readings: list[ChainReading], status: str, disagree: bool, text: str) -> None:
    result = compare_keys(KEY, readings)
    assert result.status == status
    assert result.sources_disagree is disagree
    assert text in result.summary


def test_chain_on_an_older_verified_key_and_backup_without_key() -> None:
    # The registry key held as an older verified key: the rotation is pending (PR #2090).
    older = compare_keys(KEY, [node(OTHER)], older_verified=[OTHER])
    assert older.status == "pending" and "rotation pending" in older.summary
    none = compare_keys(None, [node(KEY), api(KEY)])
    # Every input was read: a backup without the chain's key is a failed backup, not UNKNOWN.
    assert none.status == "missing" and "no verified DKG key" in none.summary


def test_row_counts_against_live() -> None:
    backup = {"dkg_shares": 5, "stacks_blocks": 1000, "p2p_peers": 13, "bitcoin_blocks": 9}
    live = {"dkg_shares": 6, "stacks_blocks": 5000, "p2p_peers": 13, "bitcoin_blocks": 8}
    rows, problems = compare_row_counts(backup, live)
    assert {r.table: (r.backup, r.live) for r in rows}["dkg_shares"] == (5, 6)
    assert any("dkg_shares" in p and "1 newer DKG row" in p for p in problems)
    assert any(p.startswith("stacks_blocks: backup 1000 rows, live 5000") for p in problems)
    assert any(p.startswith("bitcoin_blocks: backup 9 rows > live 8") for p in problems)
    assert not any(p.startswith("p2p_peers") for p in problems)
    assert compare_row_counts(backup, {})[1] == []  # live unknown: nothing claimed


def facts(**changes: object) -> SignerDbFacts:
    base: dict[str, object] = {
        "server_version": "15.18",
        "observed_at": datetime(2026, 1, 1, tzinfo=UTC),
        "verified_keys": VerifiedKeys((bytes.fromhex(KEY),), EV),
        "newest_share": NewestShare(
            DkgShare(bytes.fromhex(KEY), "verified", datetime(2026, 1, 1, tzinfo=UTC), 1), EV
        ),
        "dkg_round_count": None,
        "migrations": Migrations(True, ("0001__create_schema.sql", "0019__p2p_peers.sql"), EV),
        "chain_tips": None,
        "table_sizes": None,
        "row_counts": None,
        "encrypted_shares": EncryptedShares(bytes.fromhex(KEY), 384, EV),
    }
    base.update(changes)
    return SignerDbFacts(**base)  # type: ignore[arg-type]


def by_id(found: list[Finding], id_: str) -> Finding:
    return next(f for f in found if f.id == id_)


def test_restored_db_findings() -> None:
    healthy = check_restored(facts(), "p")
    assert by_id(healthy, "verify.migrations").status is Status.OK
    assert "v1.1.0 to v1.1.1" in by_id(healthy, "verify.migrations").summary
    assert by_id(healthy, "verify.shares").status is Status.OK

    ledgerless = check_restored(facts(migrations=Migrations(False, (), EV)), "p")
    assert by_id(ledgerless, "verify.migrations").status is Status.CRIT
    unknown_last = check_restored(facts(migrations=Migrations(True, ("0099__x.sql",), EV)), "p")
    assert by_id(unknown_last, "verify.migrations").status is Status.WARN
    empty = check_restored(facts(encrypted_shares=EncryptedShares(bytes.fromhex(KEY), 0, EV)), "p")
    assert by_id(empty, "verify.shares").status is Status.CRIT
    in_flight = check_restored(
        facts(
            newest_share=NewestShare(
                DkgShare(bytes.fromhex(OTHER), "unverified", datetime(2026, 2, 1, tzinfo=UTC), 2),
                EV,
            )
        ),
        "p",
    )
    assert by_id(in_flight, "verify.newest_share").status is Status.WARN


def test_verdict_rules() -> None:
    match = compare_keys(KEY, [node(KEY), api(KEY)])
    ok = check_restored(facts(), "p")
    assert _verdict(match, ok)[0] == "verified"
    ledgerless = check_restored(facts(migrations=Migrations(False, (), EV)), "p")
    verdict, summary = _verdict(match, ledgerless)
    assert verdict == "failed" and "__sbtc_migrations" in summary
    assert _verdict(compare_keys(KEY, [node(OTHER)]), ok)[0] == "mismatch"
    assert _verdict(compare_keys(KEY, []), ok)[0] == "unknown"
