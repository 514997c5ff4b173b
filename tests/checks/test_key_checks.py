"""key.*: the DB's newest verified key against both chain sources. Pure, no I/O, fixed `NOW`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from signer_tui.checks.aggregate_key import WINDOW_BY_TIME, check_aggregate_key
from signer_tui.model import Finding, Observation, Status
from signer_tui.sbtc import DKG_VERIFICATION_WINDOW
from signer_tui.sources.errors import DatabaseTimeout, DatabaseUnreachable, SourceTimeout
from signer_tui.sources.postgres import DkgShare

from .factories import (
    MINUTE,
    NOW,
    by_id,
    db,
    db_facts,
    dkg_rows,
    down,
    key,
    ok,
    registry,
    share,
    statuses,
)

HEIGHT = 900_010
K1, K2, K3 = key(1), key(2), key(3)

OK, WARN, CRIT, UNK = Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN


def run(
    db_obs: Observation | None,
    node: Observation | None,
    api: Observation | None = None,
    *,
    api_configured: bool = True,
    height: int | None = HEIGHT,
    now: datetime = NOW,
) -> dict[str, Finding]:
    return by_id(
        check_aggregate_key(
            db_obs,
            node,
            api,
            api_configured=api_configured,
            bitcoin_height=height,
            now=now,
        )
    )


def both(chain_key: bytes | None) -> tuple[Observation, Observation]:
    return registry(chain_key, "key.node"), registry(chain_key, "key.api")


def started(blocks_ago: int) -> int:
    return HEIGHT - blocks_ago


# (case, verified keys newest first, newest DB row, chain key, status, words in the summary)
CASES = [
    ("match", [K1], None, K1, OK, "is the DB's newest verified key"),
    ("match with older keys", [K1, K3], None, K1, OK, "is the DB's newest verified key"),
    ("mismatch", [K1], None, K2, CRIT, "MISMATCH"),
    # sBTC PR #2090: the registry's key stays in use until rotate-keys confirms.
    ("chain has an older verified key", [K1, K2], None, K2, WARN, "rotation pending"),
    ("chain has the oldest of three", [K1, K3, K2], None, K2, WARN, "rotation pending"),
    (
        "DKG transition, 0 blocks",
        [K1],
        share(K2, started_at=started(0)),
        K2,
        WARN,
        "DKG transition: new key unverified, 0/10 blocks",
    ),
    (
        "DKG transition, 9 blocks",
        [K1],
        share(K2, started_at=started(DKG_VERIFICATION_WINDOW - 1)),
        K2,
        WARN,
        "9/10 blocks",
    ),
    (
        "DKG transition, 10 blocks: window over",
        [K1],
        share(K2, started_at=started(DKG_VERIFICATION_WINDOW)),
        K2,
        CRIT,
        "MISMATCH",
    ),
    (
        "DKG transition, 25 blocks",
        [K1],
        share(K2, started_at=started(25)),
        K2,
        CRIT,
        "MISMATCH",
    ),
    (
        "unverified row is not the chain's key",
        [K1],
        share(K2, started_at=started(1)),
        K3,
        CRIT,
        "MISMATCH",
    ),
    ("newest row failed", [K1], share(K2, "failed", started_at=started(1)), K2, CRIT, "MISMATCH"),
    (
        "round running, chain unchanged",
        [K1],
        share(K2, started_at=started(3)),
        K1,
        WARN,
        "DKG round running (new key unverified, 3/10 blocks)",
    ),
    (
        "round running past its window, chain unchanged",
        [K1],
        share(K2, started_at=started(12)),
        K1,
        OK,
        "is the DB's newest verified key",
    ),
    (
        "node behind the round's start height",
        [K1],
        share(K2, started_at=HEIGHT + 2),
        K2,
        WARN,
        # Was "0/10 blocks": a start above the tip is impossible, and said so.
        f"start height {HEIGHT + 2} is above the bitcoin tip {HEIGHT} (impossible",
    ),
    ("pre-DKG on both sides", [], None, None, WARN, "pre-DKG"),
    ("pre-DKG, first round running", [], share(K1, started_at=started(2)), None, WARN, "pre-DKG"),
    ("chain pre-DKG but DB has a key", [K1], None, None, WARN, "rotation pending"),
    ("DB has no key but chain has", [], None, K1, CRIT, "MISMATCH"),
    ("first DKG, in window", [], share(K1, started_at=started(4)), K1, WARN, "4/10 blocks"),
    ("first DKG, window over", [], share(K1, started_at=started(11)), K1, CRIT, "MISMATCH"),
]


@pytest.mark.parametrize(
    ("verified", "newest", "chain", "status", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_db_against_both_chain_sources(
    verified: list[bytes],
    newest: DkgShare | None,
    chain: bytes | None,
    status: Status,
    words: str,
) -> None:
    found = run(db(verified, newest), *both(chain))
    for fid in ("key.node", "key.api"):
        assert found[fid].status is status, (fid, found[fid].summary)
        assert words in found[fid].summary
    # Both chain sources agree, so the cross-check is fine whatever the DB says.
    assert found["key.sources"].status is OK


def test_mismatch_shows_both_keys_and_its_evidence() -> None:
    found = run(db([K1]), *both(K2))["key.node"]
    assert found.status is CRIT
    assert found.summary == (
        f"MISMATCH: own node key {K2.hex()[:8]}…{K2.hex()[-6:]} not verified in the DB "
        f"(newest verified {K1.hex()[:8]}…{K1.hex()[-6:]})"
    )
    assert dict(found.details) == {
        "DB newest verified": K1.hex(),
        "chain": K2.hex(),
        "DB verified keys": "1",
        "rule": "registry key not verified",
    }
    sources = {e.source for e in found.evidence}
    assert sources == {"postgres", "key.node"}
    assert "escalate" in found.advice


def test_pre_dkg_chain_is_spelled_out_in_the_details() -> None:
    found = run(db([K1]), *both(None))["key.api"]
    assert found.status is WARN
    assert dict(found.details)["chain"] == "none (pre-DKG)"
    assert "the registry has no key" in found.summary


def test_pending_rotation_age_comes_from_the_newer_rows_start_height() -> None:
    rows = dkg_rows((K1, "verified", HEIGHT - 37), (K2, "verified", HEIGHT - 500))
    facts = replace(db_facts([K1, K2]), dkg_rows=rows)
    found = run(ok("db", facts), *both(K2))["key.node"]
    assert found.status is WARN
    assert "37 bitcoin blocks old" in found.summary
    assert dict(found.details)["pending for"] == "37 bitcoin blocks"


def test_pending_rotation_without_a_bitcoin_height_says_its_age_is_unknown() -> None:
    rows = dkg_rows((K1, "verified", HEIGHT - 37), (K2, "verified", HEIGHT - 500))
    facts = replace(db_facts([K1, K2]), dkg_rows=rows)
    found = run(ok("db", facts), *both(K2), height=None)["key.node"]
    assert found.status is WARN
    assert "age unknown" in found.summary


@pytest.mark.parametrize(
    ("created_ago", "status"),
    [
        (timedelta(0), WARN),
        (WINDOW_BY_TIME - MINUTE, WARN),
        (WINDOW_BY_TIME, CRIT),
        (WINDOW_BY_TIME + MINUTE, CRIT),
        (timedelta(days=2), CRIT),
    ],
    ids=["just-created", "just-inside", "at-the-limit", "just-outside", "days-old"],
)
def test_transition_window_by_time_without_a_bitcoin_height(
    created_ago: timedelta, status: Status
) -> None:
    # Started at a height that would be far outside the window: the height must be ignored
    # when the current bitcoin height is unknown.
    newest = share(K2, started_at=1, created=created_ago)
    found = run(db([K1], newest), *both(K2), height=None)
    for fid in ("key.node", "key.api"):
        assert found[fid].status is status
    if status is WARN:
        assert found["key.node"].summary == "DKG transition: new key unverified"


def test_time_window_is_about_ten_blocks_with_slack() -> None:
    assert timedelta(minutes=100) < WINDOW_BY_TIME <= timedelta(minutes=180)


def test_round_running_by_time_without_height() -> None:
    newest = share(K2, created=20 * MINUTE)
    found = run(db([K1], newest), *both(K1), height=None)["key.node"]
    assert found.status is WARN
    assert found.summary.startswith("DKG round running (new key unverified)")


# -- unknowns: never OK -------------------------------------------------------------------


def test_node_unreachable_is_unknown_and_never_ok() -> None:
    found = run(db([K1]), down("key.node"), registry(K1, "key.api"))
    assert found["key.node"].status is UNK
    assert found["key.node"].summary == "connection refused: own node"
    assert found["key.api"].status is OK  # the other source still answers for itself
    assert found["key.sources"].status is UNK
    assert found["key.sources"].summary == "connection refused (own node)"


def test_node_not_read_yet_is_unknown() -> None:
    found = run(db([K1]), None, registry(K1, "key.api"))
    assert found["key.node"].status is UNK
    assert "not read yet" in found["key.node"].summary
    assert found["key.sources"].status is UNK


def test_api_timeout_is_unknown_with_its_evidence() -> None:
    api = down("key.api", SourceTimeout("timed out", "no answer within 1.0 s"))
    found = run(db([K1]), registry(K1, "key.node"), api)
    assert found["key.api"].status is UNK
    assert found["key.api"].summary == "timed out: API"
    assert found["key.sources"].status is UNK
    assert found["key.sources"].summary == "timed out (API)"


def test_both_chain_sources_missing_are_named() -> None:
    found = run(db([K1]), down("key.node"), None)
    assert found["key.sources"].status is UNK
    assert found["key.sources"].summary == "connection refused (own node); not read yet (API)"


@pytest.mark.parametrize("chain", [K1, K2, None], ids=["match", "mismatch", "pre-DKG"])
def test_db_unreachable_is_unknown_whatever_the_chain_says(chain: bytes | None) -> None:
    db_obs = down("db", DatabaseUnreachable(detail="127.0.0.1:5432 refused"))
    found = run(db_obs, *both(chain))
    for fid in ("key.node", "key.api"):
        assert found[fid].status is UNK
        assert found[fid].summary == "connection refused: signer DB"


def test_db_not_read_yet_is_unknown() -> None:
    found = run(None, *both(K1))
    assert statuses(found.values())["key.node"] is UNK
    assert found["key.node"].summary == "not read yet: signer DB"


@pytest.mark.parametrize(
    ("problems", "summary"),
    [
        (
            [("verified_keys", "timed out: canceling statement due to statement timeout")],
            "signer DB: timed out: canceling statement due to statement timeout",
        ),
        ([("row_counts", "timed out: …")], "signer DB: verified keys not read"),
    ],
    ids=["reason-given", "no-reason"],
)
def test_db_read_without_verified_keys_is_unknown(
    problems: list[tuple[str, str]], summary: str
) -> None:
    # The newest row would otherwise make this a "match": the missing key part must win.
    found = run(db(None, share(K1, "verified"), problems), *both(K1))
    for fid in ("key.node", "key.api"):
        assert found[fid].status is UNK
        assert found[fid].summary == summary


def test_db_timeout_is_unknown_and_keeps_the_chain_evidence() -> None:
    found = run(down("db", DatabaseTimeout(detail="connect_timeout 1 s")), *both(K1))["key.node"]
    assert found.status is UNK
    assert found.summary == "timed out: signer DB"
    assert [e.source for e in found.evidence] == ["key.node"]


def test_chain_failure_is_reported_before_the_db_failure() -> None:
    found = run(down("db"), down("key.node"), registry(K1, "key.api"))
    assert found["key.node"].summary.endswith(": own node")
    assert found["key.api"].summary.endswith(": signer DB")


# -- the two chain sources against each other ----------------------------------------------


@pytest.mark.parametrize(
    ("node_key", "api_key", "node_status", "api_status"),
    [
        (K1, K2, OK, CRIT),  # the node matches the DB, the API does not
        (K2, K1, CRIT, OK),  # the API matches the DB, the node does not
        # A source reporting pre-DKG alone looks like a pending first rotation (WARN); the
        # disagreement between the sources is what makes it CRIT.
        (None, K1, WARN, OK),
        (K1, None, OK, WARN),
    ],
    ids=["api-differs", "node-differs", "node-pre-dkg", "api-pre-dkg"],
)
def test_disagreeing_chain_sources_are_crit_even_when_one_matches_the_db(
    node_key: bytes | None, api_key: bytes | None, node_status: Status, api_status: Status
) -> None:
    found = run(db([K1]), registry(node_key, "key.node"), registry(api_key, "key.api"))
    assert found["key.node"].status is node_status
    assert found["key.api"].status is api_status
    sources = found["key.sources"]
    assert sources.status is CRIT
    assert sources.summary.startswith("DISAGREE")
    assert dict(sources.details) == {
        "own node": node_key.hex() if node_key else "none",
        "API": api_key.hex() if api_key else "none",
    }
    assert {e.source for e in sources.evidence} == {"key.node", "key.api"}


def test_disagreement_is_crit_even_when_the_db_cannot_be_read() -> None:
    found = run(down("db"), registry(K1, "key.node"), registry(K2, "key.api"))
    assert found["key.sources"].status is CRIT
    assert found["key.node"].status is UNK


def test_agreeing_sources_are_ok() -> None:
    found = run(db([K1]), *both(K1))["key.sources"]
    assert found.status is OK
    assert found.summary.startswith("node = API")


def test_api_not_configured_is_warn_and_has_no_cross_check() -> None:
    found = run(db([K1]), registry(K1, "key.node"), None, api_configured=False)
    assert set(found) == {"key.node", "key.api"}
    assert found["key.node"].status is OK
    assert found["key.api"].status is WARN
    assert found["key.api"].summary == "no independent API configured"
    assert "chain_api.url" in found["key.api"].advice


def test_api_not_configured_ignores_a_stray_api_observation() -> None:
    found = run(db([K1]), registry(K1, "key.node"), registry(K2, "key.api"), api_configured=False)
    assert found["key.api"].status is WARN
    assert "key.sources" not in found
