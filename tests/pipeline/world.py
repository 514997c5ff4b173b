"""A fake signer world on a fake clock, for driving the real pipeline over simulated hours.

Every source of a real `build_pipeline` is kept (same keys, same intervals from the config's
defaults) but its call is replaced by one that reads this world, so the scheduler, staleness,
series and every registered check run exactly as in the console — hours in a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from signer_tui.config import Settings
from signer_tui.credentials import SecretStore
from signer_tui.model import Status
from signer_tui.pipeline.build import Pipeline, build_pipeline
from signer_tui.pipeline.collector import Job
from signer_tui.pipeline.scheduler import Scheduler
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.hiro import ChainTip
from signer_tui.sources.keys import Poll
from signer_tui.sources.pg_liveness import (
    HOT_QUERIES,
    Connections,
    DbLiveness,
    QueryTiming,
    RelationSize,
)
from signer_tui.sources.pg_role import RoleFacts
from signer_tui.sources.readings import BackupReading, BitcoindReading, KeyReading, StacksReading
from signer_tui.sources.releases import Feeds
from signer_tui.sources.stacks import PoxInfo
from tests.checks import factories as f

KEY = f.key(1)


def settings(**thresholds: Any) -> Settings:
    """One mainnet profile with every default poll interval; loopback URLs never contacted."""
    return Settings.model_validate(
        {
            "signers": [
                {
                    "name": "main",
                    "network": "mainnet",
                    "signer": {
                        "api_url": "http://127.0.0.1:9",
                        "metrics_url": "http://127.0.0.1:9/metrics",
                    },
                    "bitcoind": {"url": "http://127.0.0.1:9", "user": "u", "password": "p"},
                    "stacks": {"rpc_url": "http://127.0.0.1:9"},
                    "chain_api": {"url": "http://127.0.0.1:9"},
                    "db": {"host": "/nonexistent", "dbname": "signer", "user": "u"},
                    "thresholds": thresholds,
                    "posture": {"enabled": False},
                }
            ]
        }
    )


def _fresh_feeds(now: datetime) -> Feeds:
    base = f.feeds().value
    assert isinstance(base, Feeds)

    def fresh(repo: Any) -> Any:
        return dataclasses.replace(
            repo,
            releases=dataclasses.replace(repo.releases, fetched_at=now),
            advisories=dataclasses.replace(repo.advisories, fetched_at=now),
        )

    return dataclasses.replace(
        base,
        sbtc=fresh(base.sbtc),
        stacks_core=fresh(base.stacks_core),
        bitcoin=fresh(base.bitcoin),
        fetched_at=now,
    )


class World:
    """Chain heights that move with the fake clock, plus switches for incidents."""

    def __init__(self, *, verified_hours_before: float = 1.0) -> None:
        self.t = 0.0  # simulated seconds since factories.NOW
        self.network_tip = 5_000_000.0  # the chain as the independent API sees it
        self.node_frozen_at: float | None = None
        self.observer_dead_at: float | None = None
        self.calls: dict[str, int] = {}
        self.verified_at = f.NOW - timedelta(hours=verified_hours_before)

    def now(self) -> datetime:
        return f.NOW + timedelta(seconds=self.t)

    # One Stacks block every 10 s, one bitcoin block every 10 min.
    def chain_tip(self, at: float | None = None) -> int:
        return int(5_000_000 + (self.t if at is None else at) // 10)

    def node_tip(self) -> int:
        frozen = self.node_frozen_at
        return self.chain_tip(frozen if frozen is not None and self.t >= frozen else None)

    def btc_tip(self) -> int:
        return int(900_000 + self.t // 600)

    def observed(self) -> float:
        dead = self.observer_dead_at
        at = dead if dead is not None and self.t >= dead else self.t
        return 1000 + at // 10

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def poll(self, name: str) -> Callable[[], Any]:
        def call() -> Any:
            self._count(name)
            return getattr(self, f"read_{name.replace('.', '_')}")()

        return call

    def read_stacks(self) -> StacksReading:
        burn = self.btc_tip()
        reading = f.stacks(burn=burn, tip=self.node_tip()).value
        assert isinstance(reading, StacksReading)
        return reading

    def read_key_node(self) -> KeyReading:
        return f.node_key_with_set().value  # type: ignore[no-any-return]

    def read_key_api(self) -> KeyReading:
        reading = f.registry(KEY, "key.api").value
        assert isinstance(reading, KeyReading)
        tip = ChainTip(self.chain_tip(), "aa" * 32, None, self.btc_tip(), None, None)
        return dataclasses.replace(reading, tip=tip)

    def read_bitcoind(self) -> BitcoindReading:
        reading = f.bitcoind(self.btc_tip()).value
        assert isinstance(reading, BitcoindReading)
        # The newest block arrived at the last 10-minute mark of the fake clock.
        mined = int(self.now().timestamp() - self.t % 600)
        return dataclasses.replace(reading, chain=dataclasses.replace(reading.chain, time=mined))

    def read_signer(self) -> Any:
        return f.alive().value

    def read_signer_info(self) -> Any:
        return f.signer_info(
            btc_signer=self.btc_tip(),
            btc_node=self.btc_tip(),
            stx_signer=self.node_tip(),
            stx_node=self.node_tip(),
        ).value

    def read_metrics(self) -> Any:
        return f.metrics(stacks_seen=self.observed(), bitcoin_seen=100 + self.t // 600).value

    def read_db(self) -> Any:
        role = RoleFacts(
            user="signer_tui_ro",
            superuser=False,
            admin_powers=False,
            can_create_in_schema=False,
            writable_tables=0,
            session_read_only=True,
            used_password=False,
            ssl_in_use=False,
            require_auth=None,
            channel_binding=None,
            evidence=f.ev("postgres", "SELECT current_user …"),
        )
        return dataclasses.replace(f.db_facts([KEY]), role=role)

    def read_db_liveness(self) -> DbLiveness:
        # Fast queries; the database grows ~1 MiB every ten minutes.
        timings = tuple(
            QueryTiming(name, sql, 2.0, False, 8.0, (), "", f.ev("postgres", sql))
            for name, sql in HOT_QUERIES
        )
        size = int(5 * 1024**3 + self.t / 600 * 1024**2)
        return DbLiveness(
            timings,
            (RelationSize("stacks_blocks", size // 2, size // 4, size * 3 // 4),),
            size,
            Connections(12, 4, 0, 100, 3),
            None,
            (f.ev("postgres", "SELECT pg_database_size(…)"),),
        )

    def read_pox(self) -> PoxInfo:
        # Far from a prepare phase for the whole run (2,100-block cycles, 100 to prepare).
        height = self.btc_tip()
        return PoxInfo(
            current_cycle_id=120,
            next_cycle_id=121,
            blocks_until_prepare_phase=1000 - (height - 900_000),
            blocks_until_reward_phase=1100 - (height - 900_000),
            prepare_phase_start_block_height=901_000,
            current_burnchain_block_height=height,
            reward_cycle_length=2100,
            prepare_phase_block_length=100,
            contract_id="SP000000000000000000002Q6VF78.pox-4",
            current_epoch="Epoch31",
            pox_5_sbtc_contract=None,
            pox_5_sbtc_registry_contract=None,
            evidence=f.ev("stacks-node", "GET /v2/pox"),
        )

    def read_backups(self) -> BackupReading:
        record = VerificationRecord(
            profile="main",
            started_at=self.verified_at - timedelta(minutes=2),
            finished_at=self.verified_at,
            backup="/backups/signer-daily.dump",
            sha256=None,
            size_bytes=1000,
            duration_s=120.0,
            verdict="verified",
            summary="key matches chain",
            db_key=KEY.hex(),
        )
        return BackupReading(None, [record], "", self.now())

    def read_releases(self) -> Feeds:
        return _fresh_feeds(self.now())


def build(world: World, cfg: Settings | None = None) -> Pipeline:
    pipeline = build_pipeline(cfg or settings(), SecretStore(), clock=world.now)
    for job in pipeline.jobs():
        old = job.poll
        job.poll = Poll(world.poll(job.source.name), old.interval, deadline=old.deadline)
    return pipeline


async def drive(
    world: World,
    pipeline: Pipeline,
    until: float,
    on_sample: Callable[[float], None],
    sample_every: float = 60.0,
    scheduler: Scheduler | None = None,
) -> Scheduler:
    """Run the real Scheduler on the fake clock up to `until` simulated seconds."""
    sched = scheduler or Scheduler(pipeline.jobs(), clock=lambda: world.t)
    next_sample = world.t
    while world.t <= until:
        for job in sched.take_due():
            observation, _ = await job.collector.run(job)
            job.collector.record(job, observation)
            sched.finished(job, observation.ok)
        if world.t >= next_sample:
            on_sample(world.t)
            next_sample += sample_every
        due = sched.next_due()
        assert due is not None
        world.t = max(world.t + 0.001, min(due, next_sample))
    return sched


def statuses(pipeline: Pipeline, world: World) -> dict[str, Status]:
    now = world.now()
    return {x.id: x.effective_status(now) for x in pipeline.profiles[0].findings(now)}


def jobs_by_name(pipeline: Pipeline) -> dict[str, Job]:
    return {job.source.name: job for job in pipeline.jobs()}
