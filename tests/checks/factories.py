"""Builders of the dataclasses the checks consume, so check tests read as tables.

Everything is pinned to `NOW`, far from the real clock: a check that read the clock instead of
its `now` argument would fail. Defaults describe a healthy mainnet signer; each builder takes
only the fields a test wants to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from signer_tui.config import Thresholds
from signer_tui.model import Evidence, Finding, Observation, Status
from signer_tui.pipeline.collector import failed, succeeded
from signer_tui.sources.bitcoind import BlockchainInfo, NetworkInfo, version_tuple
from signer_tui.sources.errors import SourceError, SourceUnreachable
from signer_tui.sources.feedcache import FeedFailure
from signer_tui.sources.github import (
    Advisory,
    AdvisoryFeed,
    AdvisoryVulnerability,
    Release,
    ReleaseFeed,
)
from signer_tui.sources.metrics import MetricsBuildInfo, MetricsSnapshot
from signer_tui.sources.osv import Coverage, OsvQuery, OsvResult, OsvVuln
from signer_tui.sources.postgres import (
    DkgRow,
    DkgRows,
    DkgShare,
    NewestShare,
    SignerDbFacts,
    VerifiedKeys,
)
from signer_tui.sources.readings import BitcoindReading, KeyReading, StacksReading
from signer_tui.sources.releases import Feeds, RepoFeeds
from signer_tui.sources.signer import (
    BitcoinSection,
    BuildSection,
    Liveness,
    SignerInfo,
    StacksSection,
    Tip,
)
from signer_tui.sources.stacks import NodeVersion, RegistryKey, SignerData, StacksHealth, StacksInfo
from signer_tui.sources.versions import BITCOIN, SBTC, STACKS_CORE, Product, parse_tag

NOW = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DEFAULTS = Thresholds()


def ago(delta: timedelta = timedelta(0)) -> datetime:
    return NOW - delta


def ev(source: str = "test", request: str = "GET /", when: datetime = NOW) -> Evidence:
    return Evidence(source=source, request=request, observed_at=when, status=200)


# -- observations ---------------------------------------------------------------------------


def ok(source: str, value: Any, when: datetime = NOW) -> Observation:
    return succeeded(source, value, when)


def down(
    source: str,
    error: SourceError | None = None,
    when: datetime = NOW,
) -> Observation:
    """A failed poll, built through `collect.failed` exactly as the collector builds it."""
    exc = error or SourceUnreachable("connection refused", "nothing listens on the port")
    return failed(source, exc, when)


def by_id(findings: Iterable[Finding]) -> dict[str, Finding]:
    found: dict[str, Finding] = {}
    for finding in findings:
        assert finding.id not in found, f"duplicate finding id {finding.id}"
        found[finding.id] = finding
    return found


def statuses(findings: Iterable[Finding]) -> dict[str, Status]:
    return {f.id: f.status for f in by_id(findings).values()}


# -- the aggregate key ----------------------------------------------------------------------


def key(n: int) -> bytes:
    """A distinct 33-byte compressed public key per `n`."""
    return bytes([0x02 + n % 2]) + bytes([n % 256]) * 32


def registry(k: bytes | None, source: str = "key.node") -> Observation:
    raw = "0x0200000021" + k.hex() if k is not None else "0x020000000100"
    reading = KeyReading(RegistryKey(k, raw, ev(source, "POST get-current-aggregate-pubkey")))
    return ok(source, reading)


def share(
    k: bytes,
    status: str = "unverified",
    *,
    started_at: int = 900_000,
    created: timedelta = 10 * MINUTE,
) -> DkgShare:
    return DkgShare(
        aggregate_key=k,
        status=status,
        created_at=ago(created),
        started_at_bitcoin_block_height=started_at,
    )


def db_facts(
    verified: Sequence[bytes] | None = (),
    newest: DkgShare | None = None,
    problems: Sequence[tuple[str, str]] = (),
) -> SignerDbFacts:
    """`verified` newest first; None means the verified-keys query failed."""
    query = ev("postgres", "SELECT aggregate_key FROM sbtc_signer.dkg_shares …")
    if newest is None and verified:
        newest = share(verified[0], "verified")
    return SignerDbFacts(
        server_version="16.4",
        observed_at=NOW,
        verified_keys=VerifiedKeys(tuple(verified), query) if verified is not None else None,
        newest_share=NewestShare(newest, query),
        dkg_round_count=None,
        migrations=None,
        chain_tips=None,
        table_sizes=None,
        row_counts=None,
        encrypted_shares=None,
        problems=tuple(problems),
    )


def dkg_rows(
    *rows: tuple[bytes, str, int],
    signer_set: Sequence[bytes] = (),
    threshold: int = 10,
) -> DkgRows:
    """dkg_shares rows newest first: (key, status, started_at height)."""
    made = tuple(
        DkgRow(share(k, status, started_at=height), tuple(signer_set), threshold)
        for k, status, height in rows
    )
    return DkgRows(made, ev("postgres", "SELECT … FROM sbtc_signer.dkg_shares"))


def db(
    verified: Sequence[bytes] | None = (),
    newest: DkgShare | None = None,
    problems: Sequence[tuple[str, str]] = (),
) -> Observation:
    return ok("db", db_facts(verified, newest, problems))


# -- bitcoind -------------------------------------------------------------------------------


def chain_info(
    blocks: int = 900_010,
    headers: int | None = None,
    *,
    ibd: bool | None = False,
    progress: float | None = 0.9999998,
    pruned: bool | None = False,
    tip_age: timedelta | None = 5 * MINUTE,
    warnings: Sequence[str] = (),
) -> BlockchainInfo:
    return BlockchainInfo(
        chain="main",
        blocks=blocks,
        headers=blocks if headers is None else headers,
        bestblockhash="00" * 32,
        time=int(ago(tip_age).timestamp()) if tip_age is not None else None,
        mediantime=None,
        verificationprogress=progress,
        initialblockdownload=ibd,
        pruned=pruned,
        size_on_disk=None,
        warnings=tuple(warnings),
        evidence=ev("bitcoind", "POST getblockchaininfo"),
    )


def network_info(version: int = 280100, subversion: str | None = None) -> NetworkInfo:
    major, minor, patch = version_tuple(version)
    return NetworkInfo(
        version=version,
        version_tuple=(major, minor, patch),
        subversion=subversion if subversion is not None else f"/Satoshi:{major}.{minor}.{patch}/",
        protocolversion=70016,
        connections=10,
        connections_in=0,
        connections_out=10,
        networkactive=True,
        warnings=(),
        evidence=ev("bitcoind", "POST getnetworkinfo"),
    )


def bitcoind(
    blocks: int = 900_010,
    *,
    network: NetworkInfo | None = None,
    network_error: str | None = None,
    when: datetime = NOW,
    **chain: Any,
) -> Observation:
    if network is None and network_error is None:
        network = network_info()
    reading = BitcoindReading(chain_info(blocks, **chain), network, network_error)
    return ok("bitcoind", reading, when)


# -- the Stacks node ------------------------------------------------------------------------


def stacks_info(
    burn: int = 900_010,
    tip: int = 5_000_000,
    *,
    synced: bool = True,
    server_version: str = "stacks-node 3.4.0.0.4 (release/3.4.0.0.4:0123abc, release build)",
) -> StacksInfo:
    return StacksInfo(
        burn_block_height=burn,
        stable_burn_block_height=burn - 7,
        stacks_tip_height=tip,
        stacks_tip="11" * 32,
        stacks_tip_consensus_hash="22" * 20,
        is_fully_synced=synced,
        server_version=server_version,
        version=NodeVersion.parse(server_version),
        network_id=1,
        parent_network_id=3652501241,
        peer_version=402653196,
        tenure_height=200_000,
        pox_consensus="33" * 20,
        unanchored_tip=None,
        exit_at_block_height=None,
        canonical_tip_height=tip,
        evidence=ev("stacks-node", "GET /v2/info"),
    )


def health(difference: int = 0, *, peers: bool = True) -> StacksHealth:
    tip = 5_000_000
    return StacksHealth(
        difference_from_max_peer=difference,
        node_stacks_tip_height=tip,
        max_stacks_height_of_neighbors=tip + difference if peers else 0,
        max_stacks_neighbor_address="203.0.113.7:20444" if peers else None,
        evidence=ev("stacks-node", "GET /v3/health"),
    )


# "Not given" for arguments whose None is meaningful (no /v3/health, no OSV answer).
UNSET: Any = object()


def stacks(
    burn: int = 900_010,
    tip: int = 5_000_000,
    *,
    peer_health: StacksHealth | None = UNSET,
    health_error: str | None = None,
    **info: Any,
) -> Observation:
    found = health() if peer_health is UNSET else peer_health
    return ok("stacks", StacksReading(stacks_info(burn, tip, **info), found, health_error))


Series = list[tuple[datetime, float]]


def series(*values: float, step: timedelta = 15 * SECOND, end: datetime = NOW) -> Series:
    """Samples `step` apart, the last one at `end`."""
    count = len(values)
    return [(end - (count - 1 - i) * step, float(v)) for i, v in enumerate(values)]


def flat_for(age: timedelta, value: float = 5_000_000, step: timedelta = MINUTE) -> Series:
    """A series that has not changed since `age` ago (it last moved then)."""
    points = [(NOW - age - step, value - 1)]
    when = NOW - age
    while when <= NOW:
        points.append((when, value))
        when += step
    return points


# -- the signer -----------------------------------------------------------------------------


def alive(elapsed_ms: float | None = 3.0) -> Observation:
    return ok("signer", Liveness(200, elapsed_ms, ev("signer-api", "GET /")))


def signer_info(
    *,
    btc_signer: int | None = 900_010,
    btc_node: int | None = 900_010,
    stx_signer: int | None = 5_000_000,
    stx_node: int | None = 5_000_000,
    revision: str | None = "v1.3.3",
) -> Observation:
    def tip(height: int | None) -> Tip | None:
        return Tip("ab" * 32, height) if height is not None else None

    info = SignerInfo(
        evidence=ev("signer-api", "GET /info"),
        bitcoin=BitcoinSection(signer_tip=tip(btc_signer), node_tip=tip(btc_node)),
        stacks=StacksSection(signer_tip=tip(stx_signer), node_tip=tip(stx_node)),
        build_info=BuildSection(git_revision=revision),
    )
    return ok("signer_info", info)


def metrics(
    peers: float | None = 13,
    *,
    revision: str | None = "v1.3.3",
    stacks_seen: float = 1000,
    bitcoin_seen: float = 100,
) -> Observation:
    snap = MetricsSnapshot(
        samples=(),
        observed_at=NOW,
        evidence=ev("signer-metrics", "GET /metrics"),
        build_info=MetricsBuildInfo(revision, "1.84.0", "x86_64", "gnu")
        if revision is not None
        else None,
        blocks_observed_total={"stacks": stacks_seen, "bitcoin": bitcoin_seen},
        peers_connected=peers,
    )
    return ok("metrics", snap)


def node_key_with_set(signers: int = 14, threshold: int = 10) -> Observation:
    """The node's registry read, with `get-current-signer-data` (the signer set)."""
    k = key(1)
    data = SignerData(
        signer_set=tuple(key(100 + i) for i in range(signers)),
        aggregate_key=k,
        signer_principal="SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4.sbtc-multisig",
        threshold=threshold,
        raw="0x0c…",
        evidence=ev("stacks-node", "POST get-current-signer-data"),
    )
    reading = KeyReading(RegistryKey(k, "0x02…", ev()), data)
    return ok("key.node", reading)


# -- release feeds --------------------------------------------------------------------------


def release(
    product: Product,
    tag: str,
    *,
    body: str | None = "Bug fixes and improvements.",
    name: str | None = None,
    prerelease: bool = False,
    commit: str = "main",
) -> Release:
    return Release(
        tag=tag,
        name=name if name is not None else tag,
        body=body,
        prerelease=prerelease,
        created_at=ago(30 * DAY),
        published_at=ago(30 * DAY),
        target_commitish=commit,
        html_url=f"https://github.com/example/{product}/releases/tag/{tag}",
        version=parse_tag(product, tag),
    )


def release_feed(
    product: Product,
    *releases: Release | str,
    stale: bool = False,
    age: timedelta = HOUR,
    error_title: str = "",
) -> ReleaseFeed:
    items = tuple(r if isinstance(r, Release) else release(product, r) for r in releases)
    return ReleaseFeed(
        source="github",
        request=f"GET /repos/{product}/releases?per_page=100",
        fetched_at=ago(age),
        stale=stale,
        error_title=error_title,
        evidence=(ev("github", f"GET /repos/{product}/releases", ago(age)),),
        repo=REPOS[product],
        product=product,
        releases=items,
    )


def advisory(
    product: Product,
    vulnerable_range: str | None,
    *,
    ghsa: str = "GHSA-xxxx-yyyy-zzzz",
    cve: str | None = "CVE-2031-0001",
    withdrawn: bool = False,
) -> Advisory:
    return Advisory(
        ghsa_id=ghsa,
        cve_id=cve,
        summary="Remote crash via crafted message",
        severity="high",
        published_at=ago(10 * DAY),
        withdrawn_at=ago(DAY) if withdrawn else None,
        html_url=f"https://github.com/advisories/{ghsa}",
        product=product,
        vulnerabilities=(AdvisoryVulnerability("other", product, vulnerable_range, None),),
    )


def advisory_feed(product: Product, *advisories: Advisory, age: timedelta = HOUR) -> AdvisoryFeed:
    return AdvisoryFeed(
        source="github",
        request=f"GET /repos/{product}/security-advisories",
        fetched_at=ago(age),
        evidence=(ev("github", f"GET /repos/{product}/security-advisories", ago(age)),),
        repo=REPOS[product],
        product=product,
        advisories=advisories,
    )


REPOS: dict[Product, str] = {
    SBTC: "stacks-sbtc/sbtc",
    STACKS_CORE: "stacks-network/stacks-core",
    BITCOIN: "bitcoin/bitcoin",
}

SBTC_TAGS = ("v1.3.3", "v1.3.2", "v1.1.0-rc1", "test_deploy", "v1.0.3-epoch32")
STACKS_TAGS = ("3.4.0.0.4", "signer-3.4.0.0.4.0", "3.3.0.0.1", "signer-3.3.0.0.1.0")
BITCOIN_TAGS = ("v30.0rc1", "v29.0", "v28.1", "v28.0", "v27.0-final")


def repo(
    product: Product,
    releases: ReleaseFeed | FeedFailure | Sequence[Release | str] | None = None,
    advisories: AdvisoryFeed | FeedFailure | Sequence[Advisory] = (),
) -> RepoFeeds:
    defaults = {SBTC: SBTC_TAGS, STACKS_CORE: STACKS_TAGS, BITCOIN: BITCOIN_TAGS}[product]
    if releases is None:
        releases = defaults
    if not isinstance(releases, ReleaseFeed | FeedFailure):
        releases = release_feed(product, *releases)
    if not isinstance(advisories, AdvisoryFeed | FeedFailure):
        advisories = advisory_feed(product, *advisories)
    return RepoFeeds(product, REPOS[product], releases, advisories)


def osv(vuln_ids: Sequence[str] = (), tag: str = "v28.1") -> OsvResult:
    vulns = tuple(
        OsvVuln(
            id=vid,
            summary="",
            details="",
            aliases=(),
            modified=None,
            published=None,
            withdrawn=None,
            severity=(),
            references=(),
            fixed=(),
        )
        for vid in vuln_ids
    )
    return OsvResult(
        source="osv",
        request="POST /v1/query",
        fetched_at=ago(HOUR),
        evidence=(ev("osv", "POST /v1/query", ago(HOUR)),),
        query=OsvQuery.git("https://github.com/bitcoin/bitcoin", tag),
        vulns=vulns,
        coverage=Coverage.MATCHED if vulns else Coverage.NO_DATA,
    )


def feeds(
    sbtc: RepoFeeds | None = None,
    stacks_core: RepoFeeds | None = None,
    bitcoin: RepoFeeds | None = None,
    *,
    bitcoin_osv: OsvResult | FeedFailure | None = UNSET,
    osv_tag: str | None = "v28.1",
) -> Observation:
    """Healthy feeds; OSV answers "no data" for `osv_tag` unless told otherwise."""
    value = Feeds(
        sbtc=sbtc or repo(SBTC),
        stacks_core=stacks_core or repo(STACKS_CORE),
        bitcoin=bitcoin or repo(BITCOIN),
        bitcoin_osv=osv(tag=osv_tag or "v28.1") if bitcoin_osv is UNSET else bitcoin_osv,
        bitcoin_osv_tag=osv_tag,
        fetched_at=ago(HOUR),
    )
    return ok("releases", value)
