"""release.*: running versions against release feeds, advisories and OSV. Pure, fixed `NOW`."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from signer_tui.checks.releases import FEED_MAX_AGE, check_releases, is_security_release
from signer_tui.model import Finding, Observation, Status
from signer_tui.sources.errors import SecretUnavailable, SourceRateLimited
from signer_tui.sources.feedcache import FeedFailure
from signer_tui.sources.signer import FieldProblem
from signer_tui.sources.versions import BITCOIN, SBTC, STACKS_CORE

from .factories import (
    DAY,
    HOUR,
    MINUTE,
    NOW,
    advisory,
    advisory_feed,
    bitcoind,
    by_id,
    down,
    ev,
    feeds,
    metrics,
    network_info,
    osv,
    release,
    release_feed,
    repo,
    signer_info,
    stacks,
)

OK, WARN, CRIT, UNK = Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN
ROWS = ("release.signer", "release.stacks", "release.bitcoind", "release.feed")
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def stacks_node(version: str) -> Observation:
    return stacks(server_version=f"stacks-node {version} (release/{version}:0123abc, release)")


def core(version: int = 290000, subversion: str | None = None) -> Observation:
    return bitcoind(network=network_info(version, subversion))


def check(feeds_obs: Observation | None = None, **running: Any) -> dict[str, Finding]:
    """Every row; by default the node runs the latest of everything and OSV has no data."""
    args: dict[str, Any] = {
        "signer_info": signer_info(revision="v1.3.3"),
        "metrics": metrics(revision="v1.3.3"),
        "stacks": stacks_node("3.4.0.0.4"),
        "bitcoind": core(290000),
    }
    args.update(running)
    obs = feeds_obs if feeds_obs is not None else feeds(osv_tag="v29.0")
    return by_id(check_releases(obs, now=NOW, **args))


def test_running_the_latest_of_everything_is_ok() -> None:
    found = check()
    assert set(found) == set(ROWS)
    assert {f.status for f in found.values()} == {OK}
    # An empty advisory list is said in words, never a bare "no known problem" (issue #14).
    caveat = "; no advisories published (this project publishes none through OSV/GHSA"
    assert found["release.signer"].summary.startswith("signer v1.3.3 is latest" + caveat)
    assert found["release.stacks"].summary.startswith("stacks-node 3.4.0.0.4 is latest" + caveat)
    assert found["release.bitcoind"].summary == (
        "Core 29.0.0 is latest; no advisories published through GHSA (Bitcoin Core announces "
        "on bitcoincore.org)"
    )
    assert found["release.feed"].summary == "feeds fresh (1h old)"
    assert dict(found["release.signer"].details) == {"running": "v1.3.3", "latest": "v1.3.3"}
    assert {e.source for e in found["release.signer"].evidence} == {"github"}


# -- newer releases ----------------------------------------------------------------------------


def test_behind_is_warn_and_names_the_newest() -> None:
    found = check(signer_info=signer_info(revision="v1.3.2"))["release.signer"]
    assert found.status is WARN
    assert found.summary == "newer v1.3.3 out: signer v1.3.2"
    assert "1 newer" in found.advice
    assert dict(found.details)["latest"] == "v1.3.3"


def test_prereleases_and_junk_tags_do_not_count_as_newer() -> None:
    sbtc = repo(SBTC, ["v1.4.0-rc1", "v1.3.3", "test_deploy", "v9.9.9-epoch32"])
    found = check(feeds(sbtc, osv_tag="v29.0"))["release.signer"]
    assert found.status is OK


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("v1.3.4", "This release contains an important security fix.", CRIT),
        ("v1.3.4", "Fixes CVE-2031-12345 in the deposit validation.", CRIT),
        ("v1.3.4", "See GHSA-abcd-efgh-ijkl for details.", CRIT),
        ("v1.3.4", "Patches a vulnerability in the P2P layer.", CRIT),
        ("Security release v1.3.4", None, CRIT),
        ("v1.3.4", "Performance improvements.", WARN),
        ("v1.3.4", "Improves insecurity-prone logging.", WARN),  # not the word "security"
        (None, None, WARN),
    ],
)
def test_newer_release_mentioning_a_security_fix_is_crit(
    name: str | None, body: str | None, status: Status
) -> None:
    newer = release(SBTC, "v1.3.4", name=name, body=body)
    sbtc = repo(SBTC, [newer, "v1.3.3", "v1.3.2"])
    found = check(feeds(sbtc, osv_tag="v29.0"))["release.signer"]
    assert found.status is status
    if status is CRIT:
        assert found.summary == "security fix in v1.3.4: signer v1.3.3"
    else:
        assert found.summary == "newer v1.3.4 out: signer v1.3.3"


def test_security_wording_in_an_older_release_does_not_matter() -> None:
    old = release(SBTC, "v1.3.2", body="Security fix for CVE-2030-1.")
    sbtc = repo(SBTC, ["v1.3.3", old])
    assert check(feeds(sbtc, osv_tag="v29.0"))["release.signer"].status is OK
    assert is_security_release(old)


def test_security_release_among_several_newer_is_found() -> None:
    fix = release(SBTC, "v1.3.3", body="security: fixes CVE-2031-7")
    sbtc = repo(SBTC, ["v1.3.5", "v1.3.4", fix, "v1.3.2"])
    found = check(feeds(sbtc, osv_tag="v29.0"), signer_info=signer_info(revision="v1.3.2"))
    assert found["release.signer"].status is CRIT
    assert found["release.signer"].summary == "security fix in v1.3.3: signer v1.3.2"


# -- advisories --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("running", "vulnerable_range", "withdrawn", "status"),
    [
        ("v1.3.2", "< 1.3.3", False, CRIT),
        ("v1.3.2", ">= 1.0.0, < 1.3.3", False, CRIT),
        ("v1.3.2", "= 1.3.2", False, CRIT),
        ("v1.3.3", "< 1.3.3", False, OK),  # fixed in the running version
        ("v1.3.3", ">= 1.0.0, < 1.3.3", False, OK),
        ("v1.3.2", "< 1.2.0", False, WARN),  # not covered: stays "behind"
        ("v1.3.2", "< 1.3.3", True, WARN),  # withdrawn advisories do not count
    ],
)
def test_advisory_covering_the_running_version_is_crit(
    running: str, vulnerable_range: str, withdrawn: bool, status: Status
) -> None:
    adv = advisory(SBTC, vulnerable_range, withdrawn=withdrawn)
    sbtc = repo(SBTC, advisories=[adv])
    found = check(feeds(sbtc, osv_tag="v29.0"), signer_info=signer_info(revision=running))
    row = found["release.signer"]
    assert row.status is status
    if status is CRIT:
        assert row.summary == f"advisory CVE-2031-0001: signer {running}"
        assert ("advisory", "GHSA-xxxx-yyyy-zzzz high Remote crash via crafted message") in (
            row.details
        )
    else:
        assert "advisory" not in dict(row.details)


def test_advisory_without_a_cve_is_named_by_its_ghsa() -> None:
    adv = advisory(SBTC, "< 1.3.3", cve=None, ghsa="GHSA-aaaa-bbbb-cccc")
    found = check(
        feeds(repo(SBTC, advisories=[adv]), osv_tag="v29.0"),
        signer_info=signer_info(revision="v1.3.2"),
    )
    assert found["release.signer"].summary == "advisory GHSA-aaaa-bbbb-cccc: signer v1.3.2"


@pytest.mark.parametrize(
    "advisories",
    [
        advisory_feed(SBTC, advisory(SBTC, "somewhere before 1.4")),
        advisory_feed(SBTC, advisory(SBTC, None)),
        FeedFailure("rate limited (primary limit)"),
    ],
    ids=["unreadable-range", "no-range", "advisory-feed-failed"],
)
def test_unreadable_advisories_are_noted_not_trusted(advisories: Any) -> None:
    found = check(feeds(repo(SBTC, advisories=advisories), osv_tag="v29.0"))["release.signer"]
    assert found.status is OK
    assert found.summary == "signer v1.3.3 is latest (advisory ranges unreadable)"


# -- the signer's revision ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "metrics_obs", "status", "summary"),
    [
        (signer_info(revision="v1.3.3"), None, OK, "signer v1.3.3 is latest"),
        # /info is down: the metrics' build_info label is the fallback.
        (down("signer_info"), metrics(revision="v1.3.2"), WARN, "newer v1.3.3 out: signer v1.3.2"),
        (
            signer_info(revision=None),
            metrics(revision="v1.3.2"),
            WARN,
            "newer v1.3.3 out: signer v1.3.2",
        ),
        (
            signer_info(revision=None),
            metrics(revision=None),
            UNK,
            "signer version unknown (no git_revision in /info or metrics)",
        ),
        (None, None, UNK, "signer version unknown (no git_revision in /info or metrics)"),
        (signer_info(revision=COMMIT), None, UNK, "signer version unknown (unknown commit)"),
        (
            signer_info(revision="my-dev-build"),
            None,
            UNK,
            "signer version unknown (not a release tag or a commit)",
        ),
    ],
    ids=["tag", "metrics-fallback", "info-null", "none", "not-read", "unknown-commit", "junk"],
)
def test_signer_revision(
    info: Observation | None, metrics_obs: Observation | None, status: Status, summary: str
) -> None:
    found = check(signer_info=info, metrics=metrics_obs)["release.signer"]
    assert found.status is status
    assert found.summary.startswith(summary)


def test_signer_commit_of_a_release_is_resolved_to_its_tag() -> None:
    tagged = release(SBTC, "v1.3.2", commit=COMMIT)
    sbtc = repo(SBTC, ["v1.3.3", tagged])
    found = check(feeds(sbtc, osv_tag="v29.0"), signer_info=signer_info(revision=COMMIT[:12]))
    assert found["release.signer"].status is WARN
    assert found["release.signer"].summary == "newer v1.3.3 out: signer v1.3.2"


def test_unknown_commit_is_unknown_even_with_advisories() -> None:
    sbtc = repo(SBTC, advisories=[advisory(SBTC, "< 9.0.0")])
    found = check(feeds(sbtc, osv_tag="v29.0"), signer_info=signer_info(revision=COMMIT))
    assert found["release.signer"].status is UNK


# -- stacks-core: the 3.x -> 4.x scheme --------------------------------------------------------


@pytest.mark.parametrize(
    ("running", "tags", "status", "summary"),
    [
        ("3.4.0.0.4", ["3.4.0.0.4", "signer-3.4.0.0.4.0"], OK, "stacks-node 3.4.0.0.4 is latest"),
        (
            "3.4.0.0.4",
            ["3.4.0.0.5", "3.4.0.0.4"],
            WARN,
            "newer 3.4.0.0.5 out: stacks-node 3.4.0.0.4",
        ),
        # A newer signer-only tag is not a node release.
        (
            "3.4.0.0.4",
            ["signer-3.4.0.0.5.0", "3.4.0.0.4"],
            OK,
            "stacks-node 3.4.0.0.4 is latest",
        ),
        # 4.x covers node and signer with one 3-part version, and ranks above every 3.x.
        (
            "3.4.0.0.4",
            ["4.0.0", "3.4.0.0.5", "3.4.0.0.4"],
            WARN,
            "newer 4.0.0 out: stacks-node 3.4.0.0.4",
        ),
        (
            "3.4.0.0.4",
            ["4.0.0", "4.0.2", "4.1.0-rc1", "3.4.0.0.4"],
            WARN,
            "newer 4.0.2 out: stacks-node 3.4.0.0.4",
        ),
        ("4.0.1", ["4.0.1", "3.4.0.0.5", "signer-3.4.0.0.5.0"], OK, "stacks-node 4.0.1 is latest"),
        ("4.0.1", ["4.0.2", "4.0.1"], WARN, "newer 4.0.2 out: stacks-node 4.0.1"),
    ],
)
def test_stacks_core_versions(running: str, tags: list[str], status: Status, summary: str) -> None:
    found = check(
        feeds(stacks_core=repo(STACKS_CORE, tags), osv_tag="v29.0"), stacks=stacks_node(running)
    )
    assert found["release.stacks"].status is status
    assert found["release.stacks"].summary.startswith(summary)


@pytest.mark.parametrize(
    ("running", "status"),
    [("3.4.0.0.4", CRIT), ("3.4.0.0.5", OK), ("4.0.0", OK)],
)
def test_stacks_core_advisory_ranges_across_schemes(running: str, status: Status) -> None:
    fixed_in = advisory(STACKS_CORE, "< 3.4.0.0.5")
    core_feed = repo(STACKS_CORE, ["4.0.0", "3.4.0.0.5", "3.4.0.0.4"], [fixed_in])
    found = check(feeds(stacks_core=core_feed, osv_tag="v29.0"), stacks=stacks_node(running))
    row = found["release.stacks"]
    if status is CRIT:
        assert row.status is CRIT
        assert row.summary == "advisory CVE-2031-0001: stacks-node 3.4.0.0.4"
    else:
        # Not covered: at most "behind" (4.0.0 is newer than 3.4.0.0.5).
        assert row.status is (OK if running == "4.0.0" else WARN)


@pytest.mark.parametrize(
    ("obs", "summary"),
    [
        (
            stacks(server_version="stacks-node dev-build (custom)"),
            "stacks-node version unknown (unparsed server_version)",
        ),
        (down("stacks"), "Stacks node version unknown (node not read)"),
        (None, "Stacks node version unknown (node not read)"),
    ],
    ids=["unparsed", "down", "not-read"],
)
def test_stacks_version_unknown(obs: Observation | None, summary: str) -> None:
    found = check(stacks=obs)["release.stacks"]
    assert (found.status, found.summary) == (UNK, summary)


# -- Bitcoin Core and OSV ----------------------------------------------------------------------


def test_bitcoind_behind_is_warn_and_ignores_rcs_and_eol_markers() -> None:
    found = check(feeds(osv_tag="v28.1"), bitcoind=core(280100))["release.bitcoind"]
    assert found.status is WARN
    assert found.summary == "newer v29.0 out: Core 28.1.0"
    assert dict(found.details)["latest"] == "v29.0"


def test_bitcoind_version_from_the_integer_when_subversion_is_odd() -> None:
    found = check(bitcoind=core(290000, "/CustomAgent:1.0/"))["release.bitcoind"]
    assert found.status is OK
    assert found.summary.startswith("Core 29.0.0 is latest; no advisories published")


@pytest.mark.parametrize(
    ("version", "ids", "summary"),
    [
        (290000, ["CVE-2031-1"], "Core 29.0.0: OSV lists CVE-2031-1"),
        (
            290000,
            ["CVE-2031-1", "CVE-2031-2", "CVE-2031-3", "CVE-2031-4"],
            "Core 29.0.0: OSV lists CVE-2031-1, CVE-2031-2, CVE-2031-3",
        ),
        (280100, ["CVE-2031-1"], "Core 28.1.0: OSV lists CVE-2031-1"),  # behind and matched
    ],
)
def test_osv_vulnerabilities_for_the_running_version_are_crit(
    version: int, ids: list[str], summary: str
) -> None:
    tag = "v29.0" if version == 290000 else "v28.1"
    found = check(feeds(bitcoin_osv=osv(ids, tag), osv_tag=tag), bitcoind=core(version))
    row = found["release.bitcoind"]
    assert (row.status, row.summary) == (CRIT, summary)
    assert "osv" in {e.source for e in row.evidence}


@pytest.mark.parametrize(
    ("version", "status"), [(290000, OK), (280100, WARN)], ids=["latest", "behind"]
)
def test_osv_no_data_is_a_detail_never_a_verdict(version: int, status: Status) -> None:
    tag = "v29.0" if version == 290000 else "v28.1"
    row = check(feeds(bitcoin_osv=osv((), tag), osv_tag=tag), bitcoind=core(version))[
        "release.bitcoind"
    ]
    assert row.status is status
    assert dict(row.details)["OSV"] == "OSV: no data (not proof of safety)"


def test_osv_no_data_does_not_make_an_unknown_version_ok() -> None:
    row = check(feeds(osv_tag="v29.0"), bitcoind=down("bitcoind"))["release.bitcoind"]
    assert row.status is UNK
    assert row.summary == "bitcoind version unknown (bitcoind not read)"


def test_osv_unavailable_is_not_ok() -> None:
    """Bitcoin Core has no GitHub advisories: with OSV down nothing vouches for the version
    (issue 17: "OSV down for all cells leaves release.bitcoind OK")."""
    failure = FeedFailure("rate limited", "", ev("osv", "POST /v1/query"))
    found = check(feeds(bitcoin_osv=failure, osv_tag="v29.0"))
    row = found["release.bitcoind"]
    assert row.status is UNK
    assert "OSV unavailable (rate limited)" in row.summary
    assert dict(row.details)["OSV"] == "unavailable: rate limited"
    assert found["release.feed"].status is WARN
    assert "fresh" not in found["release.feed"].summary


def test_osv_not_asked_adds_nothing() -> None:
    row = check(feeds(bitcoin_osv=None, osv_tag=None))["release.bitcoind"]
    assert row.status is OK
    assert "OSV" not in dict(row.details)


@pytest.mark.parametrize(
    ("bitcoind_obs", "status"),
    [(core(290000), OK), (down("bitcoind"), UNK), (bitcoind(network_error="timed out"), UNK)],
    ids=["other-version", "bitcoind-down", "no-network-info"],
)
def test_osv_about_another_version_is_not_applied(
    bitcoind_obs: Observation, status: Status
) -> None:
    # The shared feed asked OSV about v28.1 (another profile's node, or the newest release).
    found = check(
        feeds(bitcoin_osv=osv(["CVE-2031-1"], "v28.1"), osv_tag="v28.1"), bitcoind=bitcoind_obs
    )
    row = found["release.bitcoind"]
    assert row.status is status
    assert dict(row.details)["OSV"] == "asked about v28.1, not this node's version"


def test_crit_from_the_release_feed_is_kept_over_osv() -> None:
    fix = release(BITCOIN, "v29.1", body="Fixes CVE-2031-9")
    bitcoin = repo(BITCOIN, [fix, "v29.0"])
    row = check(feeds(bitcoin=bitcoin, bitcoin_osv=osv(["CVE-2031-1"], "v29.0"), osv_tag="v29.0"))[
        "release.bitcoind"
    ]
    assert row.status is CRIT
    assert row.summary == "security fix in v29.1: Core 29.0.0"


# -- feed failures and staleness ---------------------------------------------------------------


def test_release_feed_failure_makes_that_row_unknown() -> None:
    failure = FeedFailure("rate limited (primary limit)", "", ev("github", "GET /repos/x"))
    found = check(feeds(repo(SBTC, failure), osv_tag="v29.0"))
    row = found["release.signer"]
    assert row.status is UNK
    assert row.summary == "feed rate limited (primary limit); signer v1.3.3"
    assert row.evidence[0].request == "GET /repos/x"
    # The other repositories still compare; the feed row says what failed.
    assert found["release.stacks"].status is OK
    feed = found["release.feed"]
    assert feed.status is WARN
    assert ("failed", "stacks-sbtc/sbtc: rate limited (primary limit)") in feed.details


def test_every_feed_failed_is_unknown() -> None:
    failure = FeedFailure("unreachable")
    found = check(
        feeds(
            repo(SBTC, failure, failure),
            repo(STACKS_CORE, failure, failure),
            repo(BITCOIN, failure, failure),
            bitcoin_osv=failure,
            osv_tag="v29.0",
        )
    )
    assert {found[r].status for r in ROWS} == {UNK}
    assert found["release.feed"].summary == "feeds unavailable: stacks-sbtc/sbtc: unreachable"


@pytest.mark.parametrize(
    ("age", "status", "summary"),
    [
        (5 * HOUR, OK, "rate limited (primary limit): cached feed, 5h old"),
        (2 * DAY, OK, "rate limited (primary limit): cached feed, 2d old"),
        (2 * DAY + MINUTE, WARN, "rate limited (primary limit): cached feed, 2d old"),
        (9 * DAY, WARN, "rate limited (primary limit): cached feed, 9d old"),
    ],
    ids=["hours", "at-limit", "just-over", "days"],
)
def test_stale_cache(age: timedelta, status: Status, summary: str) -> None:
    assert timedelta(seconds=FEED_MAX_AGE) == 2 * DAY
    cached = release_feed(
        SBTC, "v1.3.3", stale=True, age=age, error_title="rate limited (primary limit)"
    )
    found = check(feeds(repo(SBTC, cached), osv_tag="v29.0"))
    assert (found["release.feed"].status, found["release.feed"].summary) == (status, summary)
    # A stale cache still answers the comparison itself.
    assert found["release.signer"].status is OK


@pytest.mark.parametrize(
    ("obs", "why"),
    [
        (None, "not fetched yet"),
        (down("releases", SecretUnavailable("secret unavailable")), "secret unavailable"),
        (down("releases", SourceRateLimited("rate limited")), "rate limited"),
    ],
    ids=["not-fetched", "secret", "rate-limited"],
)
def test_whole_feed_observation_failed_makes_every_release_row_unknown(
    obs: Observation | None, why: str
) -> None:
    found = by_id(
        check_releases(
            obs,
            signer_info=signer_info(),
            metrics=metrics(),
            stacks=stacks_node("3.4.0.0.4"),
            bitcoind=core(),
            now=NOW,
        )
    )
    # No comparison row may survive on data it does not have.
    assert set(found) == {"release.signer", "release.stacks", "release.bitcoind"}
    assert {f.status for f in found.values()} == {UNK}
    assert found["release.signer"].summary == f"feed {why}: signer"
    assert found["release.bitcoind"].summary == f"feed {why}: Core"


def test_signer_revision_of_the_wrong_type_is_named() -> None:
    obs = signer_info(revision=None)
    bad = FieldProblem("build_info.git_revision", "a string or null", "12")
    info = replace(obs, value=replace(obs.value, problems=(bad,)))
    found = check(signer_info=info, metrics=metrics(revision=None))["release.signer"]
    assert found.status is UNK
    assert found.summary == (
        "signer version unknown (/info field build_info.git_revision: "
        "expected a string or null, got 12)"
    )


@pytest.mark.parametrize(
    "releases",
    [
        (),  # GitHub answered []
        ("nightly-2026-11-30", "latest"),  # only tags that are no release of the product
    ],
    ids=["empty", "junk-tags"],
)
def test_a_feed_without_a_readable_release_is_not_latest(releases: tuple[str, ...]) -> None:
    """Issue 17: `[]`, nulls or unparseable tags made every release row "is latest" (OK) and
    the feed "fresh"."""
    empty = feeds(
        repo(SBTC, list(releases)),
        repo(STACKS_CORE, list(releases)),
        repo(BITCOIN, list(releases)),
        osv_tag="v29.0",
    )
    found = check(empty)
    for fid in ("release.signer", "release.stacks", "release.bitcoind"):
        assert found[fid].status is not OK, found[fid]
    assert found["release.stacks"].status is UNK
    assert "no readable release" in found["release.stacks"].summary
    assert found["release.feed"].status is WARN
    assert "fresh" not in found["release.feed"].summary


# -- release notes that say "breaking change" / "requires resync" (issue #14) ---------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("## Protocol Breaking Changes 🚨\n* new p2p message", "(breaking change)"),
        ("Local Breaking Changes ⚠️: config key renamed", "(breaking change)"),
        ("This release requires resync of the chainstate.", "(requires resync)"),
        ("⚠️ Breaking Changes\nA full resync is needed", "(breaking change, requires resync)"),
    ],
    ids=["protocol", "local", "resync", "both"],
)
def test_newer_release_row_says_breaking_or_resync(body: str, words: str) -> None:
    sbtc = repo(SBTC, [release(SBTC, "v1.4.0", body=body), "v1.3.3"])
    found = check(feeds(sbtc, osv_tag="v29.0"))["release.signer"]
    assert found.status is WARN
    assert found.summary == f"newer v1.4.0 out: signer v1.3.3 {words}"
    assert dict(found.details)["v1.4.0"] == words.strip("()")


def test_plain_release_notes_raise_no_flag() -> None:
    sbtc = repo(SBTC, [release(SBTC, "v1.4.0", body="Bug fixes."), "v1.3.3"])
    found = check(feeds(sbtc, osv_tag="v29.0"))["release.signer"]
    assert found.summary == "newer v1.4.0 out: signer v1.3.3"
    assert "v1.4.0" not in dict(found.details)


def test_an_older_breaking_release_does_not_flag_the_running_one() -> None:
    sbtc = repo(SBTC, ["v1.3.3", release(SBTC, "v1.3.0", body="Protocol Breaking Changes")])
    found = check(feeds(sbtc, osv_tag="v29.0"))["release.signer"]
    assert found.status is OK
    assert "breaking" not in found.summary


def test_empty_advisory_answer_is_a_caveat_not_a_clean_bill() -> None:
    found = check()["release.signer"]
    assert found.status is OK
    assert "no advisories published (this project publishes none through OSV/GHSA" in (
        found.summary
    )
    assert "no known" not in found.summary
