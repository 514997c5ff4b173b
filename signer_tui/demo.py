"""`signer-tui demo`: the whole console on an embedded stack, for newcomers and training.

Everything runs on loopback and in one temp dir: the simulators of a mainnet- and a
testnet-like signer, a throwaway PostgreSQL (system binaries when present, else the embedded
one) with two seeded signer databases, and two weeks of daily dumps per profile (one of them
truncated). State (timeline, verification history) is the run's own, in that temp dir: a new
demo never inherits an old one's verdicts.
Everything is stopped and removed on exit, Ctrl-C, SIGTERM or a lost terminal.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from signer_tui.checks.network_facts import load_facts
from signer_tui.config import Settings
from signer_tui.credentials import SecretStore
from signer_tui.model import utcnow
from signer_tui.sim.backups import make_backup_dir, skip_newest
from signer_tui.sim.db import build_signer_db, record_tips, signer_set
from signer_tui.sim.stack import FeedSimulators, SimEnvironment
from signer_tui.sim.state import TESTNET_DEPLOYER, AdvisorySpec, DkgRound, ReleaseSpec, SimState
from signer_tui.sim.state import fake_key as make_key
from signer_tui.sources.feedcache import FeedCache
from signer_tui.terminal_watchdog import TerminalWatchdog
from signer_tui.verify.cluster import ScratchCluster

# (name, what the operator will see)
INCIDENTS = (
    ("rotate-key", "chain key rotated: CRIT mismatch, then the DKG-transition WARN, then OK"),
    ("stall-bitcoind", "bitcoind stops receiving blocks: its tip ages past the limit"),
    ("stop-signer", "the signer process dies: its API and metrics refuse connections"),
    ("advisory", "a security advisory is published for the running signer version"),
    ("skip-backup", "last night's backup did not run"),
    ("signer-set-change", "the signer's TOML gets a new signer set (11 keys/8): config ≠ registry"),
    ("pending-rotation", "a newer verified DKG key whose rotate-keys never confirmed on chain"),
    ("eol-bitcoind", "bitcoind is downgraded to 28.1, end-of-life since Bitcoin Core 31.0"),
    ("fork-split", "a 3.4 Stacks node 300 blocks before Epoch 4.0 (needs stacks-core >= 4.0.1)"),
    ("reset", "clear every incident"),
)
INCIDENT_NAMES = tuple(name for name, _ in INCIDENTS)
NETWORK_INCIDENTS = ("signer-set-change", "pending-rotation", "eol-bitcoind", "fork-split")

# The key-rotation story: the chain moves first; the signer's DB catches up, then verifies.
ROTATION_DB_AFTER = 20.0
ROTATION_VERIFIED_AFTER = 45.0
TICK_SECONDS = 5.0
# fork-split: how far before Epoch 4.0's activation height (network_facts.yaml) the chain is.
FORK_SPLIT_BLOCKS_LEFT = 300
PENDING_ROTATION_AGE_BLOCKS = 12


def _states() -> dict[str, SimState]:
    # A healthy baseline: a Stacks node past the Epoch 4.0 minimum and a maintained Bitcoin
    # Core, so the fork-split and eol-bitcoind incidents show as changes.
    mainnet = SimState(
        stacks_block_seconds=4,
        bitcoin_block_seconds=90,
        stacks_version="4.0.2",
        bitcoind_version=300_000,
    )
    testnet = SimState(
        name="testnet",
        network="testnet",
        deployer=TESTNET_DEPLOYER,
        stacks_version="4.0.2",
        bitcoind_version=300_000,
        bitcoin_base_height=4_102_000,
        stacks_base_height=2_901_337,
        stacks_block_seconds=5,
        bitcoin_block_seconds=120,
    )
    return {"mainnet": mainnet, "testnet": testnet}


@dataclass
class DemoStack:
    root: Path
    cluster: ScratchCluster | None = None
    envs: dict[str, SimEnvironment] = field(default_factory=dict)
    feeds: FeedSimulators | None = None
    backups: dict[str, Path] = field(default_factory=dict)
    signer_tomls: dict[str, Path] = field(default_factory=dict)
    _baseline_rounds: dict[str, list[DkgRound]] = field(default_factory=dict)
    _timers: list[threading.Timer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _ticker: threading.Thread | None = None
    # The teardown runs once, from the main thread or from the lost-terminal watchdog.
    _teardown_lock: threading.Lock = field(default_factory=threading.Lock)
    torn_down: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def create(cls, progress: Callable[[str], None] = lambda _msg: None) -> DemoStack:
        root = Path(tempfile.mkdtemp(prefix="signer-tui-demo-"))
        stack = cls(root)
        try:
            stack._start(progress)
        except BaseException:
            stack.stop()
            raise
        return stack

    def _start(self, progress: Callable[[str], None]) -> None:
        progress("starting a throwaway PostgreSQL")
        # Its own temp dir: when we are root the cluster runs as another account, which
        # must be able to reach it (the demo root is private).
        self.cluster = ScratchCluster(prefix="signer-tui-demo-pg-").start()
        states = _states()
        now = utcnow()
        for name, state in states.items():
            progress(f"seeding the {name} signer database")
            dbname = f"signer_{name}"
            build_signer_db(self.cluster.conninfo(), dbname, state)
            env = SimEnvironment(state, self.cluster.conninfo(dbname)).start()
            self.envs[name] = env
            progress(f"writing two weeks of {name} backups")
            directory = self.root / "backups" / name
            make_backup_dir(directory, self.cluster.conninfo(dbname), self.cluster.install, now)
            self.backups[name] = directory
            self.signer_tomls[name] = self.root / f"signer-config-{name}.toml"
            self._write_signer_toml(name)
            self._baseline_rounds[name] = [replace(r) for r in state.dkg_rounds]
        self.feeds = FeedSimulators(states["mainnet"]).start()
        self._ticker = threading.Thread(target=self._tick, name="demo-ticker", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        """The signer keeps writing the blocks it observes into its DB."""
        while not self._stop.wait(TICK_SECONDS):
            for env in self.envs.values():
                if env.db_conninfo is None or not env.state.signer_observing:
                    continue
                if not env.state.signer_up:
                    continue
                with (
                    contextlib.suppress(psycopg.Error),
                    psycopg.connect(env.db_conninfo, autocommit=True, connect_timeout=3) as conn,
                ):
                    record_tips(conn, env.state)

    def settings(self) -> Settings:
        assert self.feeds is not None
        poll = {
            "nodes": "5s",
            "signer": "5s",
            "signer_info": "15s",
            "key": "10s",
            "database": "15s",
            "backups": "30s",
        }
        profiles = []
        for name, env in self.envs.items():
            profile = env.profile(
                name,
                backups={"kind": "pg_dump", "location": str(self.backups[name])},
                poll=poll,
                posture={"enabled": True, "poll": "60s"},
            )
            profile["signer"]["config_file"] = str(self.signer_tomls[name])
            profiles.append(profile)
        releases = {**self.feeds.releases_config(), "poll": "10m"}
        return Settings.model_validate({"signers": profiles, "releases": releases})

    def feed_cache(self) -> FeedCache:
        return FeedCache(self.root / "cache")

    def _write_signer_toml(self, name: str, size: int | None = None, required: int = 0) -> None:
        """The signer's TOML with the registry's set (or its first `size` keys): the part of
        it key.signer_set reads. No private key: the demo has none to protect."""
        state = self.envs[name].state
        keys = signer_set(state)[: size or None]
        threshold = required or (
            state.dkg_rounds[-1].signature_share_threshold if state.dkg_rounds else 10
        )
        members = ",\n".join(f'  "{k.hex()}"' for k in keys)
        self.signer_tomls[name].write_text(
            "# demo: the signer's config (only the signer set is read)\n[signer]\n"
            f'network = "{state.network}"\n'
            f"bootstrap_signing_set = [\n{members},\n]\n"
            f"bootstrap_signatures_required = {threshold}\n",
            encoding="utf-8",
        )

    @property
    def state_dir(self) -> Path:
        """Timeline and verification history of this demo run only (removed with the root)."""
        return self.root / "state"

    @property
    def history_path(self) -> Path:
        from signer_tui.verify.history import FILE_NAME

        return self.state_dir / FILE_NAME

    # -- incidents -----------------------------------------------------------------------

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        timer = threading.Timer(delay, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def inject(self, name: str, profile: str = "mainnet") -> str:
        env = self.envs[profile]
        state = env.state
        if name == "rotate-key":
            new_key = make_key(f"demo-rotation-{utcnow().timestamp()}")
            state.chain_key = new_key
            env.apply()

            def db_catches_up() -> None:
                started = state.bitcoin_height
                state.dkg_rounds.append(DkgRound(new_key, "unverified", utcnow(), started))
                env.apply()

            def verified() -> None:
                for round_ in state.dkg_rounds:
                    if round_.aggregate_key == new_key:
                        round_.status = "verified"
                env.apply()

            self._later(ROTATION_DB_AFTER, db_catches_up)
            self._later(ROTATION_VERIFIED_AFTER, verified)
            return (
                f"{profile}: chain key rotated. CRIT now; WARN once the DB has it "
                f"({ROTATION_DB_AFTER:.0f} s); OK when verified ({ROTATION_VERIFIED_AFTER:.0f} s)."
            )
        if name == "stall-bitcoind":
            state.stall_bitcoin()
            # Pretend the last block came three hours ago, so the tip age crosses its limit now.
            assert state.bitcoin_stalled_at is not None
            state.bitcoin_stalled_at -= 3 * 3600
            env.apply()
            return f"{profile}: bitcoind stopped receiving blocks three hours ago."
        if name == "stop-signer":
            state.signer_up = False
            env.apply()
            return f"{profile}: the signer process is down."
        if name == "advisory":
            repo = "stacks-sbtc/sbtc"
            state.advisories.setdefault(repo, []).append(
                AdvisorySpec(
                    "GHSA-demo-sbtc-0001",
                    "Signer accepts a malformed sweep proposal (demo advisory)",
                    "high",
                    f"<= {state.signer_revision.lstrip('v')}",
                    "1.3.4",
                    utcnow(),
                    cve_id="CVE-2026-99999",
                )
            )
            state.releases.setdefault(repo, []).insert(
                0,
                ReleaseSpec(
                    "v1.3.4",
                    utcnow() - timedelta(hours=1),
                    name="v1.3.4",
                    body="## Security\nFixes GHSA-demo-sbtc-0001. Upgrade immediately.",
                ),
            )
            env.apply()
            return "A security advisory and a fixed release v1.3.4 were published for sBTC."
        if name == "skip-backup":
            removed = skip_newest(self.backups[profile])
            what = removed.name if removed else "none left"
            return f"{profile}: last night's backup is missing ({what})."
        if name in NETWORK_INCIDENTS:
            return self._network_incident(name, profile)
        if name == "reset":
            for timer in self._timers:
                timer.cancel()
            for env_ in self.envs.values():
                fresh = _states()[env_.state.name]
                st = env_.state
                st.dkg_rounds = [replace(r) for r in self._baseline_rounds[st.name]]
                st.bitcoin_base_height = fresh.bitcoin_base_height
                st.stacks_version = fresh.stacks_version
                st.bitcoind_version = fresh.bitcoind_version
                self._write_signer_toml(st.name)
                st.chain_key = st.newest_verified_key()
                st.signer_up = True
                st.bitcoin_stalled = False
                st.bitcoin_stalled_at = None
                st.hiro_key_override = None
                st.faults.clear()
                st.advisories = fresh.advisories
                st.releases = fresh.releases
                env_.apply()
            return "All incidents cleared (skipped backups stay skipped)."
        raise ValueError(f"unknown incident {name!r}")

    def _network_incident(self, name: str, profile: str) -> str:
        env = self.envs[profile]
        state = env.state
        if name == "signer-set-change":
            # sBTC PR #2093: mainnet's example set goes from 14 keys / 10 to 11 keys / 8.
            self._write_signer_toml(profile, size=11, required=8)
            return (
                f"{profile}: the signer's TOML now lists 11 signers (threshold 8) while the "
                "registry has 14/10: the signer would start a DKG round (WARN key.signer_set)."
            )
        if name == "pending-rotation":
            key = make_key(f"demo-pending-{utcnow().timestamp()}")
            started = state.bitcoin_height - PENDING_ROTATION_AGE_BLOCKS
            state.dkg_rounds.append(DkgRound(key, "verified", utcnow(), started))
            env.apply()  # the chain keeps the old key: rotate-keys never confirmed
            return (
                f"{profile}: a newer DKG key is verified in the DB but not on chain; the "
                "signers keep signing with the registry's key (WARN rotation pending)."
            )
        if name == "eol-bitcoind":
            state.bitcoind_version = 280_100
            env.apply()
            return f"{profile}: bitcoind now runs 28.1, end-of-life since Bitcoin Core 31.0."
        assert name == "fork-split"
        facts = load_facts().forks(state.network)
        if not facts:
            return f"{profile}: no hard fork is known for {state.network}."
        fork = facts[0]
        state.stacks_version = "3.4.0.0.4"
        state.bitcoin_base_height += (
            fork.activation_height - FORK_SPLIT_BLOCKS_LEFT - (state.bitcoin_height)
        )
        env.apply()
        return (
            f"{profile}: the Stacks node runs 3.4.0.0.4 and {fork.name} activates in "
            f"{FORK_SPLIT_BLOCKS_LEFT} blocks: it needs >= {fork.min_version} (CRIT)."
        )

    # -- teardown ------------------------------------------------------------------------

    def stop(self) -> None:
        """Tear everything down; a second Ctrl-C (the whole process group gets it) must not
        interrupt the teardown half-way, so signals wait until it is done."""
        with deferred_signals():
            self._teardown()

    def watch_terminal(self) -> TerminalWatchdog:
        """If the terminal hangs up, tear down and exit even if the TUI cannot (see
        terminal_watchdog); a no-op without a controlling terminal."""
        watchdog = TerminalWatchdog(self._teardown, self.torn_down)
        watchdog.start()
        return watchdog

    def _teardown(self) -> None:
        with self._teardown_lock:
            if not self.torn_down.is_set():
                self._teardown_once()
                self.torn_down.set()

    def _teardown_once(self) -> None:
        self._stop.set()
        for timer in self._timers:
            timer.cancel()
        for env in self.envs.values():
            with contextlib.suppress(Exception):
                env.stop()
        if self.feeds is not None:
            with contextlib.suppress(Exception):
                self.feeds.stop()
        if self._ticker is not None:
            self._ticker.join(timeout=TICK_SECONDS + 5)
        if self.cluster is not None:
            self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block is done (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, lambda signum, _frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            raise KeyboardInterrupt


def history_reader_for(stack: DemoStack) -> Callable[[str], list[Any]]:
    """The demo's verification history: in its own temp dir, fresh each run, so a new demo
    never opens CRIT over a mismatch an earlier demo recorded."""
    from signer_tui.verify import history

    def read(profile: str) -> list[Any]:
        return history.read(profile, path=stack.history_path)

    return read


def verify_request_for(stack: DemoStack) -> Callable[[Any], Any]:
    """What the Backups pane's `v` runs in the demo: the demo's own history file."""

    def request(collector: Any) -> Any:
        from signer_tui.verify.run import VerifyRequest

        return VerifyRequest(
            latest=True,
            profile=collector.profile,
            secrets=SecretStore(),
            history_path=stack.history_path,
        )

    return request


def build(stack: DemoStack) -> Any:
    """The demo's pipeline (a `signer_tui.pipeline.build.Pipeline`)."""
    from signer_tui.pipeline.build import build_pipeline
    from signer_tui.sources.host_facts import HOST

    return build_pipeline(
        stack.settings(),
        SecretStore(),
        history_reader=history_reader_for(stack),
        feed_cache=stack.feed_cache(),
        builders={HOST: _simulated_host},
    )


def _simulated_host(ctx: Any) -> Any:
    """The demo shows a simulated signer host, never the posture of the machine it runs on."""
    from signer_tui.model import utcnow
    from signer_tui.sim.host import demo_host_facts
    from signer_tui.sources.keys import Poll

    profile = ctx.profile
    return Poll(lambda: demo_host_facts(profile, utcnow()), profile.posture.poll, blocking=True)
