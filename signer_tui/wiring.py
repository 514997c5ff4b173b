"""Build the collectors of a config: which client feeds which poll, and which checks read them.

This is the only place that knows the whole graph; the TUI, `signer-tui check` and the demo
all call `build_collectors`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from signer_tui.checks import aggregate_key, backup, nodes, releases
from signer_tui.collect import Observation, PollSpec, ProfileCollector
from signer_tui.config import Profile, Settings
from signer_tui.credentials import Secret, SecretStore
from signer_tui.model import Finding, Status
from signer_tui.readings import BitcoindReading, KeyReading, StacksReading
from signer_tui.sources.backup_types import BackupInventory, VerificationRecord
from signer_tui.sources.bitcoind import Bitcoind
from signer_tui.sources.errors import SourceError
from signer_tui.sources.feedcache import FeedCache
from signer_tui.sources.hiro import ChainApi
from signer_tui.sources.http import error_title
from signer_tui.sources.metrics import MetricsSnapshot, SignerMetrics
from signer_tui.sources.postgres import SignerDatabase
from signer_tui.sources.releases import fetch_feeds, open_clients
from signer_tui.sources.signer import SignerApi
from signer_tui.sources.stacks import StacksNode

T = TypeVar("T")

RELEASES = "releases"


async def _optional(work: Awaitable[T]) -> tuple[T | None, str | None]:
    """Run an extra call whose failure must not lose the main answer."""
    try:
        return await work, None
    except SourceError as exc:
        return None, exc.title
    except Exception as exc:
        return None, error_title(exc)


def _failing(exc: SourceError) -> Callable[[], Any]:
    """A poll that reports why its client could not be built (e.g. a missing secret).

    A plain function: the collector runs it the same way as an async or a blocking poll."""

    def fail() -> None:
        raise exc

    return fail


@dataclass
class BackupReading:
    inventory: BackupInventory | None
    history: list[VerificationRecord]
    read_error: str = ""
    observed_at: datetime | None = None

    @property
    def evidence(self) -> tuple[Any, ...]:
        return self.inventory.evidence if self.inventory is not None else ()


@dataclass
class SignerCollector(ProfileCollector):
    """A collector that also keeps the numeric series the node checks and sparklines use."""

    profile: Profile | None = None
    history_reader: Callable[[str], list[VerificationRecord]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, observation: Observation) -> None:
        if observation.source == RELEASES:
            self.shared[RELEASES] = observation  # one feed, seen by every profile
        else:
            super().record(observation)
        if not observation.ok:
            return
        when = observation.observed_at
        value = observation.value
        if observation.source == "stacks":
            self.add_tip("stacks_tip", when, value.info.stacks_tip_height)
        elif observation.source == "bitcoind":
            self.add_tip("bitcoin_tip", when, value.chain.blocks)
        elif observation.source == "metrics":
            snap: MetricsSnapshot = value
            self.add_sample("stacks_observed", when, snap.blocks_observed_total.get("stacks"))
            self.add_sample("bitcoin_observed", when, snap.blocks_observed_total.get("bitcoin"))
            self.add_sample("peers", when, snap.peers_connected)

    def add_tip(self, name: str, when: datetime, value: float) -> None:
        """Tip heights: a run of equal values keeps its first and newest sample only, so
        "unchanged since" survives however long the tip is stuck (the series is bounded)."""
        series = self.series.get(name)
        if series is not None and len(series) >= 2 and series[-1][1] == series[-2][1] == value:
            series[-1] = (when, value)
            return
        self.add_sample(name, when, value)

    def series_values(self, name: str) -> list[float]:
        # Sparklines show blocks seen per poll, not the ever-growing counters.
        counters = {"stacks_blocks": "stacks_observed", "bitcoin_blocks": "bitcoin_observed"}
        if name in counters:
            values = super().series_values(counters[name])
            return [max(0.0, b - a) for a, b in itertools.pairwise(values)]
        return super().series_values(name)


def _bitcoin_height(c: ProfileCollector) -> int | None:
    btc = c.observation("bitcoind")
    if btc is not None and btc.ok:
        reading: BitcoindReading = btc.value
        return reading.chain.blocks
    stacks = c.observation("stacks")
    if stacks is not None and stacks.ok:
        stacks_reading: StacksReading = stacks.value
        return stacks_reading.info.burn_block_height
    return None


def _series(c: ProfileCollector, name: str) -> list[tuple[datetime, float]]:
    return list(c.series.get(name, ()))


def build_profile(
    profile: Profile,
    settings: Settings,
    secrets: SecretStore,
    shared: dict[str, Observation],
    *,
    polls_releases: bool = False,
    history_reader: Callable[[str], list[VerificationRecord]] | None = None,
    feed_cache: FeedCache | None = None,
) -> SignerCollector:
    deployer = profile.registry_deployer
    specs: list[PollSpec] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    poll = profile.poll

    def secret(ref: Any) -> Secret | None:
        return secrets.get(ref)

    # The operator's own Stacks node: health and the registry.
    stacks = StacksNode(profile.stacks.rpc_url, deployer=deployer, timeout=profile.stacks.timeout)
    closers.append(stacks.aclose)

    async def poll_stacks() -> StacksReading:
        info, (health, health_error) = await asyncio.gather(
            stacks.info(), _optional(stacks.health())
        )
        return StacksReading(info, health, health_error)

    async def poll_node_key() -> KeyReading:
        key, (data, data_error) = await asyncio.gather(
            stacks.aggregate_key(), _optional(stacks.signer_data())
        )
        return KeyReading(key, data, data_error)

    specs.append(PollSpec("stacks", poll.nodes, poll_stacks, description="Stacks node /v2/info"))
    specs.append(PollSpec("key.node", poll.key, poll_node_key, description="registry key (node)"))

    # The independent API.
    api_configured = profile.chain_api.url is not None
    if profile.chain_api.url is not None:
        try:
            api = ChainApi(
                profile.chain_api.url,
                deployer=deployer,
                api_key=secret(profile.chain_api.api_key),
                timeout=profile.chain_api.timeout,
            )
            closers.append(api.aclose)

            async def poll_api_key() -> KeyReading:
                return KeyReading(await api.aggregate_key())

            specs.append(PollSpec("key.api", poll.key, poll_api_key, description="registry (API)"))
        except SourceError as exc:
            specs.append(PollSpec("key.api", poll.key, _failing(exc)))

    # bitcoind.
    try:
        btc = Bitcoind(
            profile.bitcoind.url,
            user=profile.bitcoind.user,
            password=secret(profile.bitcoind.password),
            cookie_file=profile.bitcoind.cookie_file,
            timeout=profile.bitcoind.timeout,
        )
        closers.append(btc.aclose)

        async def poll_bitcoind() -> BitcoindReading:
            chain, (network, network_error) = await asyncio.gather(
                btc.blockchain_info(), _optional(btc.network_info())
            )
            return BitcoindReading(chain, network, network_error)

        specs.append(PollSpec("bitcoind", poll.nodes, poll_bitcoind, description="bitcoind RPC"))
    except SourceError as exc:
        specs.append(PollSpec("bitcoind", poll.nodes, _failing(exc)))

    # The signer: liveness, /info (sparingly: it calls the nodes and the DB itself), metrics.
    signer = SignerApi(profile.signer.api_url, timeout=profile.signer.timeout)
    closers.append(signer.aclose)
    specs.append(PollSpec("signer", poll.signer, signer.alive, description="signer GET /"))
    specs.append(PollSpec("signer_info", poll.signer_info, signer.info, description="signer /info"))
    metrics_configured = profile.signer.metrics_url is not None
    if profile.signer.metrics_url is not None:
        metrics = SignerMetrics(profile.signer.metrics_url, timeout=profile.signer.timeout)
        closers.append(metrics.aclose)
        specs.append(PollSpec("metrics", poll.signer, metrics.scrape, description="metrics"))

    # The signer's database, read-only, in a thread.
    try:
        database = SignerDatabase.from_profile(profile.db, secret(profile.db.password))
        specs.append(
            PollSpec("db", poll.database, database.snapshot, blocking=True, description="DB")
        )
    except SourceError as exc:
        specs.append(PollSpec("db", poll.database, _failing(exc), blocking=True))

    # Backups: discovery (blocking: files and subprocesses) plus the verification history.
    read_history = history_reader or _default_history

    def poll_backups() -> BackupReading:
        return read_backups(profile, read_history)

    specs.append(
        PollSpec("backups", poll.backups, poll_backups, blocking=True, description="backups")
    )

    # Release feeds are shared: one profile polls them for all. OSV is asked about the
    # Bitcoin Core version that profile's bitcoind runs.
    if polls_releases and settings.releases.enabled:

        def running_bitcoin() -> str | None:
            obs = collector.observation("bitcoind")
            if obs is None or not obs.ok or obs.value.network is None:
                return None
            version: str = obs.value.network.version_text
            return version

        specs.append(_release_spec(settings, secrets, closers, running_bitcoin, feed_cache))

    collector = SignerCollector(
        profile.name,
        profile.network,
        poll_specs=specs,
        closers=closers,
        shared=shared,
        profile=profile,
        history_reader=read_history,
    )
    t = profile.thresholds

    def key_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        return aggregate_key.check_aggregate_key(
            c.observation("db"),
            c.observation("key.node"),
            c.observation("key.api"),
            api_configured=api_configured,
            bitcoin_height=_bitcoin_height(c),
            now=now,
        )

    def bitcoind_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        return nodes.check_bitcoind(c.observation("bitcoind"), t, now)

    def stacks_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        return nodes.check_stacks(
            c.observation("stacks"), c.observation("bitcoind"), _series(c, "stacks_tip"), t, now
        )

    def signer_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        return nodes.check_signer(
            c.observation("signer"),
            c.observation("signer_info"),
            c.observation("metrics"),
            metrics_configured=metrics_configured,
            node_key=c.observation("key.node"),
            bitcoind=c.observation("bitcoind"),
            stacks=c.observation("stacks"),
            series=nodes.SignerSeries(
                _series(c, "stacks_observed"),
                _series(c, "bitcoin_observed"),
                _series(c, "stacks_tip"),
                _series(c, "bitcoin_tip"),
            ),
            t=t,
            now=now,
        )

    def backup_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        obs = c.observation("backups")
        if obs is None:
            # Nothing read yet, not even the history: say so instead of "never tested".
            return [Finding(fid, Status.UNKNOWN, "backups: not read yet") for fid in backup.IDS]
        if not obs.ok:
            return backup.evaluate(None, [], profile, now, read_error=obs.error or "failed")
        reading: BackupReading = obs.value
        return backup.evaluate(
            reading.inventory, reading.history, profile, now, read_error=reading.read_error
        )

    def release_checks(c: ProfileCollector, now: datetime) -> list[Finding]:
        if not settings.releases.enabled:
            return []
        return releases.check_releases(
            c.observation(RELEASES),
            signer_info=c.observation("signer_info"),
            metrics=c.observation("metrics"),
            stacks=c.observation("stacks"),
            bitcoind=c.observation("bitcoind"),
            now=now,
        )

    collector.checks = [
        (key_checks, ("key.node", "key.api", "db")),
        (bitcoind_checks, ("bitcoind",)),
        (stacks_checks, ("stacks", "bitcoind")),
        (signer_checks, ("signer", "signer_info", "metrics")),
        (backup_checks, ("backups",)),
        (release_checks, ("stacks", "bitcoind", "signer_info")),
    ]
    return collector


def _default_history(profile: str) -> list[VerificationRecord]:
    from signer_tui.verify import history

    return history.read(profile)


def read_backups(
    profile: Profile, read_history: Callable[[str], list[VerificationRecord]]
) -> BackupReading:
    """Discover backups of the configured kind; a failure is kept beside the history."""
    from signer_tui.model import utcnow

    now = utcnow()
    history: list[VerificationRecord] = []
    try:
        history = read_history(profile.name)
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


def _release_spec(
    settings: Settings,
    secrets: SecretStore,
    closers: list[Callable[[], Awaitable[None]]],
    running_bitcoin: Callable[[], str | None],
    cache: FeedCache | None = None,
) -> PollSpec:
    feeds = settings.releases
    try:
        token = secrets.get(feeds.github_token)
    except SourceError as exc:
        return PollSpec(RELEASES, feeds.poll, _failing(exc))
    github, osv = open_clients(feeds, token, cache or FeedCache())
    closers.extend([github.aclose, osv.aclose])

    async def poll_releases() -> Any:
        return await fetch_feeds(feeds, github, osv, bitcoin_version=running_bitcoin())

    return PollSpec(RELEASES, feeds.poll, poll_releases, description="release feeds")


def build_collectors(
    settings: Settings,
    secrets: SecretStore,
    *,
    history_reader: Callable[[str], list[VerificationRecord]] | None = None,
    feed_cache: FeedCache | None = None,
) -> list[SignerCollector]:
    shared: dict[str, Observation] = {}
    return [
        build_profile(
            profile,
            settings,
            secrets,
            shared,
            polls_releases=index == 0,
            history_reader=history_reader,
            feed_cache=feed_cache,
        )
        for index, profile in enumerate(settings.signers)
    ]
