"""GitHub and OSV clients, the on-disk feed cache and their simulators, over real loopback HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from packaging.version import Version

from signer_tui.config import ReleaseFeeds, Repos
from signer_tui.sim.github import GitHubSim, repo_id
from signer_tui.sim.osv import OsvSim, osv_record
from signer_tui.sim.server import SimServer
from signer_tui.sim.state import AdvisorySpec, Fault, ReleaseSpec, SimState
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
)
from signer_tui.sources.feedcache import FeedCache, FeedFailure, SourceNotFound
from signer_tui.sources.github import GitHub, ReleaseFeed, affects, parse_advisory
from signer_tui.sources.osv import Coverage, Osv, OsvError, OsvQuery
from signer_tui.sources.releases import fetch_feeds
from signer_tui.sources.versions import parse_stacks_tag

SBTC = "stacks-sbtc/sbtc"
CORE = "stacks-network/stacks-core"
BITCOIN = "bitcoin/bitcoin"
TOKEN = "ghp_simTokenValue1234567890"
BITCOIN_GIT = "https://github.com/bitcoin/bitcoin"


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def state() -> Iterator[SimState]:
    state = SimState()
    state.hang_seconds = 5
    yield state
    state.stopping.set()  # release any handler still hanging in a TIMEOUT fault


@pytest.fixture
def github_sim(state: SimState) -> Iterator[SimServer]:
    server = SimServer(GitHubSim(state)).start()
    yield server
    server.stop()


@pytest.fixture
def osv_sim(state: SimState) -> Iterator[SimServer]:
    server = SimServer(OsvSim(state)).start()
    yield server
    server.stop()


@pytest.fixture
async def github(github_sim: SimServer) -> AsyncIterator[GitHub]:
    async with GitHub(github_sim.url, timeout=2.0, cache=FeedCache()) as client:
        yield client


@pytest.fixture
async def osv(osv_sim: SimServer) -> AsyncIterator[Osv]:
    async with Osv(osv_sim.url, timeout=2.0, cache=FeedCache()) as client:
        yield client


# -- releases ---------------------------------------------------------------------------------


async def test_sbtc_releases_with_versions_and_junk_kept_out_of_latest(
    github: GitHub, github_sim: SimServer
) -> None:
    feed = await github.releases(SBTC)

    assert isinstance(feed, ReleaseFeed)
    assert feed.product == "sbtc" and not feed.stale and not feed.truncated
    assert feed.releases[0].tag == "v1.3.3"  # newest first
    assert {r.tag for r in feed.junk} == {"test_release_do_not_use", "v1.0.3-epoch32"}
    latest = feed.latest()
    assert latest is not None and latest.tag == "v1.3.3"
    assert latest.version is not None and latest.version.version == Version("1.3.3")
    with_rc = feed.latest(prereleases=True)
    assert with_rc is not None and with_rc.tag == "v1.3.3"
    installed = feed.by_tag("v1.1.1")
    assert installed is not None
    behind = feed.newer_than(installed.version)
    assert [r.tag for r in behind] == ["v1.3.3", "v1.3.2", "v1.3.1", "v1.3.0", "v1.2.0"]
    # The request asked for 100 per page with the documented headers.
    sent = github_sim.requests[-1]
    assert sent.path == f"/repos/{SBTC}/releases" and sent.query["per_page"] == ["100"]
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["user-agent"].startswith("signer-tui/")
    assert "authorization" not in sent.headers
    assert feed.evidence and feed.evidence[0].status == 200
    assert "v1.3.3" in feed.evidence[0].raw


async def test_stacks_core_latest_per_track_across_the_scheme_change(
    github: GitHub, state: SimState
) -> None:
    feed = await github.releases(CORE)
    node, signer = feed.latest("node"), feed.latest("signer")
    assert node is not None and signer is not None
    assert node.tag == signer.tag == "4.0.2"

    # Before 4.0 the tracks had their own tags in the same list.
    state.releases[CORE] = [s for s in state.releases[CORE] if not s.tag.startswith("4.")]
    older = await github.releases(CORE)
    node, signer = older.latest("node"), older.latest("signer")
    assert node is not None and node.tag == "3.4.0.0.4"
    assert signer is not None and signer.tag == "signer-3.4.0.0.4.0"


async def test_bitcoin_latest_skips_release_candidates(github: GitHub) -> None:
    feed = await github.releases(BITCOIN)
    latest = feed.latest()
    assert latest is not None and latest.tag == "v30.0"
    candidate = feed.latest(prereleases=True)
    assert candidate is not None and candidate.tag == "v31.0rc1"


async def test_pagination_follows_link_headers(github: GitHub, github_sim: SimServer) -> None:
    github_sim.app.state.releases["example/sbtc"] = [
        ReleaseSpec(f"v1.0.{n}", d("2025-01-01T00:00:00") + timedelta(hours=n)) for n in range(250)
    ]

    feed = await github.releases("example/sbtc", max_pages=3)

    assert [r.tag for r in feed.releases] == [f"v1.0.{n}" for n in range(249, -1, -1)]
    assert not feed.truncated
    pages = github_sim.requests[-3:]
    assert pages[0].path == "/repos/example/sbtc/releases"
    # GitHub's next links name the repository by id; they are followed as given.
    assert pages[1].path == f"/repositories/{repo_id('example/sbtc')}/releases"
    assert [p.query.get("page") for p in pages] == [None, ["2"], ["3"]]

    short = await github.releases("example/sbtc", max_pages=2)
    assert len(short.releases) == 200 and short.truncated


async def test_null_name_and_body_and_control_characters(github: GitHub, state: SimState) -> None:
    state.releases[SBTC] = [
        ReleaseSpec("v1.3.4", d("2026-06-01T00:00:00"), name=None, body=None),
        ReleaseSpec(
            "v1.3.3",
            d("2026-05-22T00:00:00"),
            name="v1.3.3\x1b]0;pwned\x07",
            body="## Highlights\n\x1b[31mred\x1b[0m text",
        ),
    ]

    feed = await github.releases(SBTC)

    newest, older = feed.releases
    assert newest.name is None and newest.body is None
    assert older.name == "v1.3.3"  # the whole OSC sequence is gone, not just ESC and BEL
    assert older.body == "## Highlights\nred text"


async def test_drafts_are_skipped_and_the_token_stays_out_of_evidence(
    github_sim: SimServer, state: SimState
) -> None:
    state.releases[SBTC].insert(0, ReleaseSpec("v1.4.0", d("2026-09-01T00:00:00"), draft=True))
    async with GitHub(github_sim.url, token=TOKEN, cache=FeedCache()) as client:
        feed = await client.releases(SBTC)

    sent = github_sim.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert feed.drafts_skipped == 1  # drafts are listed only to authenticated callers
    assert all(r.tag != "v1.4.0" for r in feed.releases)
    assert TOKEN not in repr(feed)
    for path in FeedCache().directory.iterdir():
        assert TOKEN not in path.read_text()


async def test_etag_conditional_request_reuses_the_cached_body(
    github: GitHub, github_sim: SimServer
) -> None:
    first = await github.releases(SBTC)
    assert "if-none-match" not in github_sim.requests[-1].headers
    (stored,) = FeedCache().directory.glob("*.json")
    etag = json.loads(stored.read_text())["etag"]
    assert etag.startswith('W/"')  # weak, as GitHub sends them

    second = await github.releases(SBTC)

    sent = github_sim.requests[-1]
    assert sent.headers["if-none-match"] == etag  # sent back verbatim
    assert second.not_modified and not first.not_modified
    assert second.releases == first.releases
    assert second.fetched_at > first.fetched_at
    assert second.evidence[0].status == 304


async def test_etag_survives_a_new_client_through_the_disk_cache(github_sim: SimServer) -> None:
    async with GitHub(github_sim.url, cache=FeedCache()) as client:
        first = await client.releases(BITCOIN)
    async with GitHub(github_sim.url, cache=FeedCache()) as client:
        second = await client.releases(BITCOIN)
    assert "if-none-match" in github_sim.requests[-1].headers
    assert second.not_modified and second.releases == first.releases


async def test_a_changed_feed_is_fetched_again(github: GitHub, state: SimState) -> None:
    await github.releases(SBTC)
    state.releases[SBTC].insert(0, ReleaseSpec("v1.3.4", d("2026-09-01T00:00:00")))
    feed = await github.releases(SBTC)
    assert not feed.not_modified
    latest = feed.latest()
    assert latest is not None and latest.tag == "v1.3.4"


async def test_unknown_repository_is_not_found(github: GitHub, github_sim: SimServer) -> None:
    with pytest.raises(SourceNotFound) as caught:
        await github.releases("nobody/nothing")
    assert caught.value.status == 404 and caught.value.detail == "Not Found"


async def test_simulator_latest_and_by_tag_endpoints(github_sim: SimServer) -> None:
    headers = {"user-agent": "test", "accept": "application/vnd.github+json"}
    async with httpx.AsyncClient(base_url=github_sim.url, headers=headers) as client:
        latest = await client.get(f"/repos/{BITCOIN}/releases/latest")
        by_tag = await client.get(f"/repos/{CORE}/releases/tags/signer-3.4.0.0.4.0")
        missing = await client.get(f"/repos/{CORE}/releases/tags/9.9.9")
        unknown = await client.get("/repos/nobody/nothing/releases/latest")
        no_agent = await client.get(f"/repos/{SBTC}/releases", headers={"user-agent": ""})
    # Latest = newest non-prerelease by creation date (v31.0rc1 is newer but a prerelease).
    assert latest.status_code == 200 and latest.json()["tag_name"] == "v30.0"
    assert latest.headers["content-type"].startswith("application/json")
    assert by_tag.json()["tag_name"] == "signer-3.4.0.0.4.0"
    assert by_tag.json()["name"] is None and by_tag.json()["target_commitish"] == "master"
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert set(unknown.json()) == {"message", "documentation_url"}
    assert no_agent.status_code == 403
    for reply in (latest, by_tag, missing):
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used"} <= set(
            reply.headers
        )
        assert reply.headers["x-ratelimit-resource"] == "core"
    assert int(by_tag.headers["x-ratelimit-remaining"]) == 60 - int(
        by_tag.headers["x-ratelimit-used"]
    )


# -- rate limits and permissions --------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
async def test_primary_rate_limit(github: GitHub, state: SimState, status: int) -> None:
    state.github_rate_limited = True
    state.github_rate_limit_status = status

    with pytest.raises(SourceRateLimited) as caught:
        await github.releases(SBTC)

    error = caught.value
    assert error.status == status and error.title == "rate limited (primary limit)"
    # No retry-after header: the wait comes from x-ratelimit-reset (an hour window).
    assert error.retry_after is not None and 3000 < error.retry_after <= 3600
    assert "API rate limit exceeded" in error.detail


async def test_primary_limit_reached_by_use(github: GitHub, github_sim: SimServer) -> None:
    headers = {"user-agent": "test"}
    async with httpx.AsyncClient(base_url=github_sim.url, headers=headers) as client:
        for _ in range(60):
            reply = await client.get("/repos/nobody/nothing/releases")
            assert reply.status_code == 404
    assert reply.headers["x-ratelimit-remaining"] == "0"
    with pytest.raises(SourceRateLimited):
        await github.releases(SBTC)


async def test_secondary_rate_limit_with_retry_after(github: GitHub, state: SimState) -> None:
    state.github_secondary_limit = True

    with pytest.raises(SourceRateLimited) as caught:
        await github.releases(SBTC)

    assert caught.value.title == "rate limited (secondary limit)"
    assert caught.value.retry_after == 60
    assert caught.value.evidence is not None
    assert "secondary rate limit" in caught.value.evidence.raw


async def test_permission_403_is_not_a_rate_limit_and_is_not_retried(
    github_sim: SimServer, state: SimState
) -> None:
    state.github_token_forbidden = True
    before = len(github_sim.requests)
    async with GitHub(github_sim.url, token=TOKEN) as client:
        with pytest.raises(SourceAuthError) as caught:
            await client.releases(SBTC)
    assert not isinstance(caught.value, SourceRateLimited)
    assert caught.value.status == 403 and "not accessible" in caught.value.detail
    assert len(github_sim.requests) == before + 1
    assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value.evidence)


# -- the disk cache: offline, stale and corrupt -----------------------------------------------


async def test_offline_answers_from_disk_with_age(github_sim: SimServer) -> None:
    async with GitHub(github_sim.url, cache=FeedCache()) as client:
        fresh = await client.releases(SBTC)
    github_sim.stop()
    time.sleep(0.05)

    async with GitHub(github_sim.url, cache=FeedCache()) as client:  # nothing in memory
        cached = await client.releases(SBTC)

    assert cached.stale and not fresh.stale
    assert cached.fetched_at == fresh.fetched_at
    assert cached.age() >= timedelta(seconds=0.05)
    assert cached.error_title  # why it is stale
    assert cached.releases == fresh.releases
    latest = cached.latest()
    assert latest is not None and latest.tag == "v1.3.3"
    assert any(e.request.startswith("cache from ") for e in cached.evidence)


async def test_rate_limit_with_a_cached_copy_serves_it_stale(
    github: GitHub, state: SimState
) -> None:
    fresh = await github.releases(SBTC)
    state.github_rate_limited = True
    cached = await github.releases(SBTC)
    assert cached.stale and cached.releases == fresh.releases
    assert cached.error_title == "rate limited (primary limit)"
    assert cached.retry_after is not None and cached.retry_after > 0


async def test_not_found_is_not_hidden_by_the_cache(github: GitHub, state: SimState) -> None:
    await github.releases(SBTC)
    del state.releases[SBTC]
    with pytest.raises(SourceNotFound):
        await github.releases(SBTC)


async def test_corrupt_cache_file_is_ignored_and_reported(
    github_sim: SimServer, state: SimState
) -> None:
    cache = FeedCache()
    async with GitHub(github_sim.url, cache=cache) as client:
        await client.releases(SBTC)
    files = list(cache.directory.glob("*.json"))
    assert len(files) == 1
    files[0].write_text('{"format": 1, "key": "GET http://x", "body": [')  # cut off mid-write

    async with GitHub(github_sim.url, cache=FeedCache()) as client:
        feed = await client.releases(SBTC)

    assert not feed.stale and feed.latest() is not None
    assert "corrupt cache file" in feed.cache_problem
    assert "if-none-match" not in github_sim.requests[-1].headers
    document = json.loads(files[0].read_text())  # rewritten whole
    assert document["etag"].startswith('W/"') and isinstance(document["body"], list)

    # Corrupt and offline: a typed error that says why there was no fallback, not a crash.
    files[0].write_text("not json at all")
    github_sim.stop()
    async with GitHub(github_sim.url, cache=FeedCache()) as client:
        with pytest.raises(SourceUnreachable) as caught:
            await client.releases(SBTC)
    assert "corrupt cache file" in caught.value.detail


async def test_cache_writes_are_atomic_and_complete(github: GitHub) -> None:
    await github.releases(SBTC)
    await github.releases(CORE)
    directory = FeedCache().directory
    names = sorted(p.name for p in directory.iterdir())
    assert len(names) == 2 and all(n.endswith(".json") and not n.startswith(".") for n in names)
    for path in directory.iterdir():
        document = json.loads(path.read_text())
        assert document["format"] == 1
        assert {"key", "fetched_at", "validated_at", "etag", "link", "body"} <= set(document)
        assert datetime.fromisoformat(document["fetched_at"]).tzinfo is not None


async def test_unwritable_cache_is_reported_not_fatal(
    github_sim: SimServer, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    async with GitHub(github_sim.url, cache=FeedCache(blocker / "feeds")) as client:
        feed = await client.releases(SBTC)
    assert feed.latest() is not None
    assert "could not write cache file" in feed.cache_problem


# -- advisories -------------------------------------------------------------------------------


def _advisories(state: SimState) -> None:
    state.advisories[CORE] = [
        AdvisorySpec(
            "GHSA-aaaa-bbbb-cccc",
            "Node crash on \x1b[2Jcrafted block",
            "high",
            "< 3.1.0.0.8",
            "3.1.0.0.8",
            d("2025-05-01T00:00:00"),
            cve_id="CVE-2025-12345",
            package="stackslib",
        ),
    ]
    state.advisories[SBTC] = [
        AdvisorySpec(
            "GHSA-dddd-eeee-ffff",
            "Signer accepts stale sweep",
            None,
            ">= 1.0.0, < 1.3.3",
            "1.3.3",
            d("2026-05-23T00:00:00"),
        ),
        AdvisorySpec("GHSA-gggg-hhhh-iiii", "No range given", "low", None, None, d("2026-01-01")),
    ]


async def test_repository_advisories_and_range_evaluation(
    github: GitHub, github_sim: SimServer, state: SimState
) -> None:
    _advisories(state)

    core = await github.advisories(CORE)

    sent = github_sim.requests[-1]
    assert sent.path == f"/repos/{CORE}/security-advisories"
    assert sent.query["state"] == ["published"] and sent.query["per_page"] == ["100"]
    (advisory,) = core.advisories
    assert advisory.ghsa_id == "GHSA-aaaa-bbbb-cccc" and advisory.cve_id == "CVE-2025-12345"
    assert advisory.summary == "Node crash on crafted block"
    assert advisory.severity == "high"
    assert advisory.published_at == d("2025-05-01T00:00:00")
    assert advisory.vulnerabilities[0].package == "stackslib"
    assert advisory.vulnerabilities[0].patched == "3.1.0.0.8"
    assert affects(advisory, "3.1.0.0.7") is True
    assert affects(advisory, "4.0.2") is False
    node = parse_stacks_tag("3.4.0.0.4")
    assert node is not None and affects(advisory, node) is False
    assert affects(advisory, "not-a-version") is None

    sbtc = await github.advisories(SBTC)
    ranged, unranged = sorted(sbtc.advisories, key=lambda a: a.ghsa_id)
    assert ranged.severity is None and ranged.cve_id is None
    assert affects(ranged, "v1.3.2") is True
    assert affects(ranged, Version("1.3.3")) is False
    assert affects(unranged, "v1.0.0") is None  # no range: cannot tell, never "safe"


async def test_repository_without_advisories_is_an_empty_list(github: GitHub) -> None:
    feed = await github.advisories(BITCOIN)
    assert feed.advisories == () and not feed.stale


def test_global_advisory_shape_with_first_patched_version() -> None:
    item = {
        "ghsa_id": "GHSA-1111-2222-3333",
        "cve_id": None,
        "summary": "Global shape",
        "severity": "unknown",
        "published_at": "2025-01-01T00:00:00Z",
        "withdrawn_at": None,
        "vulnerabilities": [
            {
                "package": {"ecosystem": "rust", "name": "stackslib"},
                "vulnerable_version_range": "< 3.1.0.0.8",
                "first_patched_version": "3.1.0.0.8",
            },
            {"package": None, "vulnerable_version_range": None, "first_patched_version": None},
        ],
    }
    advisory = parse_advisory(item, "stacks-core")
    assert advisory is not None
    assert advisory.vulnerabilities[0].patched == "3.1.0.0.8"
    assert advisory.vulnerabilities[1].package is None
    assert affects(advisory, "3.0.0.0.1") is True
    # One range says "not affected", the other cannot tell: the answer is unknown.
    assert affects(advisory, "4.0.0") is None
    withdrawn = parse_advisory({**item, "withdrawn_at": "2025-02-01T00:00:00Z"}, "stacks-core")
    assert withdrawn is not None and affects(withdrawn, "3.0.0.0.1") is False


async def test_advisories_pagination_with_cursor(github: GitHub, state: SimState) -> None:
    state.advisories[SBTC] = [
        AdvisorySpec(f"GHSA-{n:04d}-0000-0000", f"a{n}", "low", "< 1.0.0", "1.0.0", d("2025-01-01"))
        for n in range(130)
    ]
    feed = await github.advisories(SBTC)
    assert len({a.ghsa_id for a in feed.advisories}) == 130 and not feed.truncated


# -- OSV --------------------------------------------------------------------------------------


def _osv_data(state: SimState) -> None:
    state.osv_vulns["GIT:https://github.com/bitcoin/bitcoin@v28.1"] = [
        osv_record(
            "CVE-2024-52919",
            "Remote \x1b[1mcrash\x1b[0m",
            fixed="v28.2",
            aliases=("GHSA-xxxx",),
            cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        )
    ]
    state.osv_vulns["PyPI:jinja2@3.1.4"] = [osv_record("GHSA-h75v-3vvj-5mfj", "Jinja sandbox")]


async def test_osv_git_query_matches_and_normalises_the_repo(
    osv: Osv, osv_sim: SimServer, state: SimState
) -> None:
    _osv_data(state)

    result = await osv.query_git("https://github.com/bitcoin/bitcoin.git/", "v28.1")

    assert result.coverage is Coverage.MATCHED
    (vuln,) = result.vulns
    assert vuln.id == "CVE-2024-52919" and vuln.fixed == ("v28.2",)
    assert vuln.summary == "Remote crash"
    assert vuln.severity[0][0] == "CVSS_V3" and vuln.aliases == ("GHSA-xxxx",)
    sent = osv_sim.requests[-1]
    assert sent.method == "POST" and sent.path == "/v1/query"
    assert sent.json() == {
        "package": {"name": "https://github.com/bitcoin/bitcoin.git/", "ecosystem": "GIT"},
        "version": "v28.1",
    }


async def test_osv_empty_object_is_no_data_never_safe(osv: Osv, state: SimState) -> None:
    _osv_data(state)
    result = await osv.query("stackslib", "crates.io", "3.4.0")
    assert result.vulns == () and result.coverage is Coverage.NO_DATA
    assert result.evidence[0].raw == "{}"
    matched = await osv.query("jinja2", "PyPI", "3.1.4")
    assert matched.coverage is Coverage.MATCHED


async def test_osv_querybatch_is_positional(osv: Osv, state: SimState) -> None:
    _osv_data(state)
    queries = [
        OsvQuery.git(BITCOIN_GIT, "v28.1"),
        OsvQuery.git(BITCOIN_GIT, "v30.0"),
        OsvQuery.package("jinja2", "PyPI", "3.1.4"),
    ]

    batch = await osv.querybatch(queries)

    assert [e.query for e in batch.entries] == queries
    assert [e.coverage for e in batch.entries] == [
        Coverage.MATCHED,
        Coverage.NO_DATA,
        Coverage.MATCHED,
    ]
    assert [r.id for r in batch.entries[0].refs] == ["CVE-2024-52919"]
    assert batch.entries[0].refs[0].modified is not None
    assert "summary" not in batch.evidence[0].raw  # batch hits carry only id + modified


async def test_osv_querybatch_limit_and_client_chunking(
    osv: Osv, osv_sim: SimServer, state: SimState
) -> None:
    _osv_data(state)
    queries = [OsvQuery.git(BITCOIN_GIT, f"v{n}.0") for n in range(1000)]
    queries.append(OsvQuery.git(BITCOIN_GIT, "v28.1"))

    with pytest.raises(OsvError) as caught:
        await osv.querybatch(queries, batch_size=2000)
    assert caught.value.status == 400 and caught.value.code == 3
    assert caught.value.title == "OSV: too many queries"

    before = len(osv_sim.requests)
    batch = await osv.querybatch(queries)  # split at the 1000-query limit
    assert len(osv_sim.requests) == before + 2
    assert len(batch.entries) == 1001 and batch.entries[-1].coverage is Coverage.MATCHED


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (OsvQuery.package("jinja2", "pypi", "3.1.4"), "invalid ecosystem"),
        (OsvQuery.for_commit("not-a-hash"), "invalid hash"),
        (OsvQuery(commit="a" * 40, version="1.0"), "invalid query"),
    ],
)
async def test_osv_grpc_errors_are_typed(osv: Osv, query: OsvQuery, message: str) -> None:
    with pytest.raises(OsvError) as caught:
        await osv.run_query(query)
    assert caught.value.code == 3 and caught.value.status == 400
    assert caught.value.detail == message and caught.value.title == f"OSV: {message}"


async def test_osv_vuln_by_id(osv: Osv, state: SimState) -> None:
    _osv_data(state)
    vuln = await osv.vuln("CVE-2024-52919")
    assert vuln.id == "CVE-2024-52919" and vuln.evidence[0].status == 200
    with pytest.raises(SourceNotFound) as caught:
        await osv.vuln("CVE-0000-0000")
    assert caught.value.detail == "Vulnerability not found"


async def test_osv_offline_answers_from_disk(osv_sim: SimServer, state: SimState) -> None:
    _osv_data(state)
    async with Osv(osv_sim.url, cache=FeedCache()) as client:
        fresh = await client.query_git(BITCOIN_GIT, "v28.1")
    osv_sim.stop()
    async with Osv(osv_sim.url, cache=FeedCache()) as client:
        cached = await client.query_git(BITCOIN_GIT, "v28.1")
        with pytest.raises(SourceUnreachable):  # never asked before: nothing to fall back on
            await client.query_git(BITCOIN_GIT, "v29.0")
    assert cached.stale and cached.fetched_at == fresh.fetched_at
    assert cached.vulns == fresh.vulns and cached.coverage is Coverage.MATCHED


# -- generic transport faults -----------------------------------------------------------------


async def _github_call(url: str, timeout: float) -> object:
    async with GitHub(url, timeout=timeout, cache=FeedCache()) as client:
        return await client.releases(SBTC)


async def _osv_call(url: str, timeout: float) -> object:
    async with Osv(url, timeout=timeout, cache=FeedCache()) as client:
        return await client.query_git(BITCOIN_GIT, "v28.1")


CALLS = {"github": _github_call, "osv": _osv_call}


@pytest.fixture(params=["github", "osv"])
def service(request: pytest.FixtureRequest, state: SimState) -> Iterator[tuple[str, SimServer]]:
    app = GitHubSim(state) if request.param == "github" else OsvSim(state)
    server = SimServer(app).start()
    yield request.param, server
    server.stop()


@pytest.mark.parametrize(
    ("fault", "timeout", "expected", "title", "max_seconds"),
    [
        (Fault.TIMEOUT, 0.5, SourceTimeout, "timed out after 0.5 s", 1.5),
        (Fault.SLOW_DRIP, 1.0, SourceTimeout, "timed out after 1 s", 2.0),
        (Fault.OVERSIZED, 2.0, SourceTooLarge, "response too large", 2.0),
        (Fault.MALFORMED_JSON, 2.0, SourceProtocolError, "malformed JSON", 2.0),
        (Fault.WRONG_CONTENT_TYPE, 2.0, SourceProtocolError, "wrong content type", 2.0),
        (Fault.HTTP_500, 2.0, SourceHTTPError, None, 2.0),
        (Fault.RESET, 2.0, SourceError, None, 2.0),
    ],
)
async def test_transport_faults_end_in_typed_errors(
    service: tuple[str, SimServer],
    state: SimState,
    fault: Fault,
    timeout: float,
    expected: type[SourceError],
    title: str | None,
    max_seconds: float,
) -> None:
    name, server = service
    state.faults[name] = fault
    started = time.monotonic()
    with pytest.raises(expected) as caught:
        await CALLS[name](server.url, timeout)
    elapsed = time.monotonic() - started
    assert elapsed < max_seconds
    if fault in (Fault.TIMEOUT, Fault.SLOW_DRIP):
        assert elapsed >= timeout * 0.9
    if title is not None:
        assert caught.value.title == title
    if fault is Fault.HTTP_500:
        assert isinstance(caught.value, SourceHTTPError) and caught.value.status == 500
        assert caught.value.evidence is not None and caught.value.evidence.status == 500


async def test_server_errors_after_a_good_fetch_serve_the_cache(
    github: GitHub, state: SimState
) -> None:
    fresh = await github.releases(SBTC)
    state.faults["github"] = Fault.HTTP_500
    cached = await github.releases(SBTC)
    assert cached.stale and cached.error_title == "HTTP 500"
    assert cached.releases == fresh.releases


# -- everything at once -----------------------------------------------------------------------


async def test_fetch_feeds_fails_each_feed_on_its_own(
    github_sim: SimServer, osv_sim: SimServer, state: SimState
) -> None:
    _osv_data(state)
    _advisories(state)
    settings = ReleaseFeeds(
        github_api=github_sim.url,
        osv_api=osv_sim.url,
        repos=Repos(sbtc="nobody/sbtc"),  # a typo in the config: only this repo fails
    )
    async with (
        GitHub(settings.github_api, cache=FeedCache()) as github,
        Osv(settings.osv_api, cache=FeedCache()) as osv,
    ):
        feeds = await fetch_feeds(settings, github, osv, bitcoin_version="28.1.0")
        newest = await fetch_feeds(settings, github, osv)

    assert isinstance(feeds.sbtc.releases, FeedFailure)
    assert feeds.sbtc.releases.title == "not found"
    assert isinstance(feeds.sbtc.advisories, FeedFailure)
    assert isinstance(feeds.stacks_core.releases, ReleaseFeed)
    assert not isinstance(feeds.stacks_core.advisories, FeedFailure)
    assert feeds.stacks_core.advisories.advisories[0].ghsa_id == "GHSA-aaaa-bbbb-cccc"
    assert isinstance(feeds.bitcoin.releases, ReleaseFeed)
    # The running node's version is what OSV is asked about.
    assert feeds.bitcoin_osv_tag == "v28.1"
    assert not isinstance(feeds.bitcoin_osv, FeedFailure) and feeds.bitcoin_osv is not None
    assert feeds.bitcoin_osv.coverage is Coverage.MATCHED
    # Without it, the newest stable release is asked about instead.
    assert newest.bitcoin_osv_tag == "v30.0"
    assert not isinstance(newest.bitcoin_osv, FeedFailure) and newest.bitcoin_osv is not None
    assert newest.bitcoin_osv.coverage is Coverage.NO_DATA


async def test_fetch_feeds_with_osv_down(github_sim: SimServer, osv_sim: SimServer) -> None:
    osv_sim.stop()
    settings = ReleaseFeeds(github_api=github_sim.url, osv_api=osv_sim.url)
    async with GitHub(settings.github_api) as github, Osv(settings.osv_api) as osv:
        feeds = await fetch_feeds(settings, github, osv)
    assert isinstance(feeds.bitcoin_osv, FeedFailure)
    assert all(isinstance(r.releases, ReleaseFeed) for r in feeds.repos)


async def test_fetch_feeds_disabled_makes_no_requests(github_sim: SimServer) -> None:
    settings = ReleaseFeeds(enabled=False, github_api=github_sim.url)
    async with GitHub(settings.github_api) as github, Osv(settings.osv_api) as osv:
        feeds = await fetch_feeds(settings, github, osv)
    assert github_sim.requests == []
    assert all(isinstance(r.releases, FeedFailure) for r in feeds.repos)
    assert feeds.bitcoin_osv is None
