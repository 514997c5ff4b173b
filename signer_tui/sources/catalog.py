"""The keys of the signer's own services and how each poll is built from a profile.

Moved here from the old hand-written wiring: a key and its builder live together, and the
checks that read a key name it (`checks.registry.check(needs=…)`), so there is no second list
of "which check reads what" to keep in step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, TypeVar

from signer_tui.model import utcnow
from signer_tui.sources.errors import SourceError
from signer_tui.sources.http import error_title
from signer_tui.sources.keys import Poll, PollContext, Source
from signer_tui.sources.metrics import MetricsSnapshot
from signer_tui.sources.readings import BackupReading, BitcoindReading, KeyReading, StacksReading
from signer_tui.sources.releases import Feeds
from signer_tui.sources.signer import Liveness, SignerApi, SignerInfo
from signer_tui.sources.stacks import PoxInfo, StacksNode

if TYPE_CHECKING:
    # psycopg (~0.1 s to import) loads inside the DB poll's thread, after the first frame.
    from signer_tui.sources.postgres import SignerDatabase, SignerDbFacts

T = TypeVar("T")

# GitHub allows 60 unauthenticated requests an hour and one feed fetch costs about ten:
# "refresh now" re-fetches the feeds only when they are older than this (a forced refresh,
# its own key, ignores it).
FEED_REFRESH_MIN_AGE = 15 * 60.0


def _deadline(timeout: float, requests: int = 2) -> float:
    # Our bound on a whole poll: its requests may run one after another, plus slack.
    return timeout * requests + 2.0


async def optional(work: Awaitable[T]) -> tuple[T | None, str | None]:
    """Run an extra call whose failure must not lose the main answer."""
    try:
        return await work, None
    except SourceError as exc:
        return None, exc.title
    except Exception as exc:
        return None, error_title(exc)


# -- the operator's own Stacks node ----------------------------------------------------------


def _stacks_node(ctx: PollContext) -> StacksNode:
    """One client for the node's two keys (health and registry): one connection pool."""
    profile = ctx.profile
    assert profile is not None

    def make() -> StacksNode:
        node = StacksNode(
            profile.stacks.rpc_url,
            deployer=profile.registry_deployer,
            timeout=profile.stacks.timeout,
        )
        ctx.on_close(node.aclose)
        return node

    return ctx.memo("stacks-node", make)


def _build_stacks(ctx: PollContext) -> Poll[StacksReading]:
    assert ctx.profile is not None
    node = _stacks_node(ctx)

    async def poll() -> StacksReading:
        info, (health, health_error) = await asyncio.gather(node.info(), optional(node.health()))
        return StacksReading(info, health, health_error)

    t = ctx.profile.stacks.timeout
    return Poll(poll, ctx.profile.poll.nodes, deadline=_deadline(t), description="Stacks /v2/info")


def _stacks_samples(r: StacksReading) -> Mapping[str, float | None]:
    return {"stacks_tip": r.info.stacks_tip_height, "stacks_burn": r.info.burn_block_height}


STACKS: Source[StacksReading] = Source(
    "stacks", _build_stacks, samples=_stacks_samples, label="own Stacks node"
)


def _build_node_key(ctx: PollContext) -> Poll[KeyReading]:
    assert ctx.profile is not None
    node = _stacks_node(ctx)

    async def poll() -> KeyReading:
        key, (data, data_error) = await asyncio.gather(
            node.aggregate_key(), optional(node.signer_data())
        )
        return KeyReading(key, data, data_error)

    t = ctx.profile.stacks.timeout
    return Poll(poll, ctx.profile.poll.key, deadline=_deadline(t), description="registry (node)")


NODE_KEY: Source[KeyReading] = Source("key.node", _build_node_key, label="registry via own node")


def _build_pox(ctx: PollContext) -> Poll[PoxInfo]:
    assert ctx.profile is not None
    node = _stacks_node(ctx)
    t = ctx.profile.stacks.timeout
    # The PoX phase moves with bitcoin blocks: the key interval (a minute) is plenty.
    return Poll(node.pox, ctx.profile.poll.key, deadline=_deadline(t, 1), description="/v2/pox")


POX: Source[PoxInfo] = Source("pox", _build_pox, label="PoX cycle (own node)")


# -- the independent chain API ---------------------------------------------------------------


def _build_api_key(ctx: PollContext) -> Poll[KeyReading] | None:
    from signer_tui.sources.hiro import ChainApi

    profile = ctx.profile
    assert profile is not None
    if profile.chain_api.url is None:
        return None
    api = ChainApi(
        profile.chain_api.url,
        deployer=profile.registry_deployer,
        api_key=ctx.secret(profile.chain_api.api_key),
        timeout=profile.chain_api.timeout,
    )
    ctx.on_close(api.aclose)

    async def poll() -> KeyReading:
        key, (status, status_error) = await asyncio.gather(
            api.aggregate_key(), optional(api.status())
        )
        tip = status.chain_tip if status is not None else None
        evidence = status.evidence if status is not None else None
        return KeyReading(key, tip=tip, tip_error=status_error, tip_evidence=evidence)

    t = profile.chain_api.timeout
    return Poll(poll, profile.poll.key, deadline=_deadline(t, 3), description="registry (API)")


def _api_samples(r: KeyReading) -> Mapping[str, float | None]:
    return {"api_stacks_tip": r.tip.block_height if r.tip is not None else None}


API_KEY: Source[KeyReading] = Source(
    "key.api", _build_api_key, samples=_api_samples, label="independent API"
)


# -- bitcoind --------------------------------------------------------------------------------


def _build_bitcoind(ctx: PollContext) -> Poll[BitcoindReading]:
    from signer_tui.sources.bitcoind import Bitcoind

    profile = ctx.profile
    assert profile is not None
    cfg = profile.bitcoind
    btc = Bitcoind(
        cfg.url,
        user=cfg.user,
        password=ctx.secret(cfg.password),
        cookie_file=cfg.cookie_file,
        timeout=cfg.timeout,
    )
    ctx.on_close(btc.aclose)

    async def poll() -> BitcoindReading:
        chain, (network, network_error) = await asyncio.gather(
            btc.blockchain_info(), optional(btc.network_info())
        )
        return BitcoindReading(chain, network, network_error)

    return Poll(poll, profile.poll.nodes, deadline=_deadline(cfg.timeout), description="bitcoind")


def _bitcoind_samples(r: BitcoindReading) -> Mapping[str, float | None]:
    return {"bitcoin_tip": r.chain.blocks}


BITCOIND: Source[BitcoindReading] = Source(
    "bitcoind", _build_bitcoind, samples=_bitcoind_samples, label="bitcoind"
)


# -- the signer: liveness, /info (sparingly: it calls the nodes and the DB), metrics ---------


def _signer_api(ctx: PollContext) -> SignerApi:
    profile = ctx.profile
    assert profile is not None

    def make() -> SignerApi:
        api = SignerApi(profile.signer.api_url, timeout=profile.signer.timeout)
        ctx.on_close(api.aclose)
        return api

    return ctx.memo("signer-api", make)


def _build_signer(ctx: PollContext) -> Poll[Liveness]:
    assert ctx.profile is not None
    api = _signer_api(ctx)
    t = ctx.profile.signer.timeout
    return Poll(api.alive, ctx.profile.poll.signer, deadline=_deadline(t, 1), description="GET /")


SIGNER: Source[Liveness] = Source("signer", _build_signer, label="signer API")


def _build_signer_info(ctx: PollContext) -> Poll[SignerInfo]:
    assert ctx.profile is not None
    api = _signer_api(ctx)
    t = ctx.profile.signer.timeout
    return Poll(
        api.info, ctx.profile.poll.signer_info, deadline=_deadline(t, 1), description="/info"
    )


SIGNER_INFO: Source[SignerInfo] = Source("signer_info", _build_signer_info, label="signer /info")


def _build_metrics(ctx: PollContext) -> Poll[MetricsSnapshot] | None:
    from signer_tui.sources.metrics import SignerMetrics

    profile = ctx.profile
    assert profile is not None
    if profile.signer.metrics_url is None:
        return None
    metrics = SignerMetrics(profile.signer.metrics_url, timeout=profile.signer.timeout)
    ctx.on_close(metrics.aclose)
    t = profile.signer.timeout
    return Poll(
        metrics.scrape, profile.poll.signer, deadline=_deadline(t, 1), description="metrics"
    )


def _metrics_samples(m: MetricsSnapshot) -> Mapping[str, float | None]:
    return {
        "stacks_observed": m.blocks_observed_total.get("stacks"),
        "bitcoin_observed": m.blocks_observed_total.get("bitcoin"),
        "peers": m.peers_connected,
    }


METRICS: Source[MetricsSnapshot] = Source(
    "metrics", _build_metrics, samples=_metrics_samples, label="signer metrics"
)


# -- the signer's database (read-only, in a thread) ------------------------------------------


def _build_db(ctx: PollContext) -> Poll[SignerDbFacts]:
    profile = ctx.profile
    assert profile is not None
    db = profile.db
    password = ctx.secret(db.password)
    made: list[SignerDatabase] = []

    def snapshot() -> SignerDbFacts:
        # Built on the first poll (in its thread): commands that stop before polling, and the
        # console's first frame, never import psycopg.
        if not made:
            from signer_tui.sources.postgres import SignerDatabase

            made.append(SignerDatabase.from_profile(db, password))
        return made[0].snapshot()

    # The source bounds its own poll (connect plus every statement, then socket shutdown;
    # `SignerDatabase.poll_seconds`); ours is the backstop, a little later, so the source
    # can report its own reason first.
    deadline = db.connect_timeout + db.statement_timeout + 2.5
    return Poll(snapshot, profile.poll.database, blocking=True, deadline=deadline, description="DB")


DB: Source[SignerDbFacts] = Source("db", _build_db, label="signer DB")


# -- backups: discovery (files, subprocesses) plus the verification history ------------------


def read_backups(ctx: PollContext) -> BackupReading:
    """Discover backups of the configured kind; a failure is kept beside the history."""
    profile = ctx.profile
    assert profile is not None
    now = utcnow()
    try:
        history = ctx.history(profile.name)
    except Exception:
        history = []
    cfg = profile.backups
    if cfg is None:
        return BackupReading(None, history, "", now)
    try:
        if cfg.kind == "pg_dump":
            from signer_tui.sources import backups as pg_dump

            assert cfg.location is not None
            inventory = pg_dump.discover(cfg.location, now=now)
        elif cfg.kind == "pgbackrest":
            from signer_tui.sources.pgbackrest import PgBackRest

            inventory = PgBackRest.from_profile(cfg).inventory()
        else:
            from signer_tui.sources.barman import Barman

            inventory = Barman.from_profile(cfg).inventory()
    except SourceError as exc:
        detail = f": {exc.detail}" if exc.detail else ""
        return BackupReading(None, history, f"{exc.title}{detail}", now)
    return BackupReading(inventory, history, "", now)


def _build_backups(ctx: PollContext) -> Poll[BackupReading]:
    assert ctx.profile is not None
    return Poll(
        lambda: read_backups(ctx),
        ctx.profile.poll.backups,
        blocking=True,
        deadline=120.0,  # pgbackrest/barman info on a large repository can take a while
        description="backups",
    )


BACKUPS: Source[BackupReading] = Source("backups", _build_backups, label="backups")


# -- release and advisory feeds: shared by every profile -------------------------------------


def _build_releases(ctx: PollContext) -> Poll[Feeds] | None:
    from signer_tui.sources.feedcache import FeedCache
    from signer_tui.sources.releases import fetch_feeds, open_clients

    feeds = ctx.settings.releases
    if not feeds.enabled:
        return None
    token = ctx.secret(feeds.github_token)
    github, osv = open_clients(feeds, token, ctx.feed_cache or FeedCache())
    ctx.on_close(github.aclose)
    ctx.on_close(osv.aclose)

    def running_bitcoin() -> str | None:
        # OSV is asked about the Bitcoin Core version a profile's bitcoind runs.
        obs = ctx.latest(BITCOIND)
        reading = obs.reading() if obs is not None else None
        if reading is None or reading.network is None:
            return None
        version: str = reading.network.version_text
        return version

    async def poll() -> Feeds:
        return await fetch_feeds(feeds, github, osv, bitcoin_version=running_bitcoin())

    # Three repos, paginated releases and advisories, and OSV.
    return Poll(poll, feeds.poll, deadline=feeds.timeout * 4 + 5, description="release feeds")


RELEASES: Source[Feeds] = Source(
    "releases",
    _build_releases,
    scope="shared",
    refresh_min_age=FEED_REFRESH_MIN_AGE,
    label="release feeds",
)
