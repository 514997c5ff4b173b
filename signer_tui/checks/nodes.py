"""node.*: the signer's bitcoind, its Stacks node and the signer itself.

Pure functions of observations, thresholds and `now`. A node that cannot be reached is CRIT
for its reachability row (the console runs where the signer's nodes are reachable), while the
rows that need its data become UNKNOWN — never OK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from signer_tui.checks.registry import Inputs, check
from signer_tui.config import Thresholds, format_duration
from signer_tui.model import Evidence, Finding, Observation, Status, format_age
from signer_tui.sources.catalog import (
    API_KEY,
    BITCOIND,
    METRICS,
    NODE_KEY,
    SIGNER,
    SIGNER_INFO,
    STACKS,
)
from signer_tui.sources.metrics import MetricsSnapshot
from signer_tui.sources.readings import BitcoindReading, KeyReading, StacksReading
from signer_tui.sources.signer import Liveness, SignerInfo
from signer_tui.sources.signer_toml import SIGNER_CONFIG

Series = Sequence[tuple[datetime, float]]

# A Stacks node more than this many bitcoin blocks behind bitcoind is CRIT (WARN from the
# configured threshold up to here). Ahead of bitcoind beyond the threshold is CRIT at once:
# the node follows another bitcoind, or this one is stuck — the signer sees neither chain.
BURN_LAG_CRIT = 6
# The independent API's tip this many Stacks blocks past a node whose tip did not move in the
# meantime: the node is stuck while the network moves on (CRIT without waiting for the age).
API_LEAD_BLOCKS = 6
# The nodes advanced this many blocks while the signer's counter stayed flat: its observer is
# not receiving blocks. More than one block, so a counter one scrape behind never flaps.
STALL_STACKS_BLOCKS = 3
STALL_BITCOIN_BLOCKS = 2


def _ev(obs: Observation[Any] | None) -> tuple[Evidence, ...]:
    return obs.evidence if obs is not None else ()


def _why(obs: Observation[Any] | None) -> str:
    return obs.error or "failed" if obs is not None else "not read yet"


def _unknown(finding_id: str, what: str, obs: Observation[Any] | None) -> Finding:
    # The reason leads: at 80 columns "connection refused: sig…" still says what is wrong.
    return Finding(finding_id, Status.UNKNOWN, f"{_why(obs)}: {what}", "", _ev(obs))


def _reachable(finding_id: str, what: str, obs: Observation[Any] | None, ok_text: str) -> Finding:
    if obs is None:
        return Finding(finding_id, Status.UNKNOWN, f"not read yet: {what}")
    if obs.ok:
        return Finding(finding_id, Status.OK, ok_text, "", obs.evidence)
    title = obs.error or "failed"
    if title.startswith("warming up"):
        return Finding(
            finding_id,
            Status.WARN,
            f"{what} {title}",
            "bitcoind is starting; every RPC fails until it has loaded. Wait, then re-check.",
            obs.evidence,
        )
    return Finding(
        finding_id,
        Status.CRIT,
        f"{title}: {what}",
        obs.detail or f"Check that {what} is running and that the URL and credentials are right.",
        obs.evidence,
    )


# -- bitcoind --------------------------------------------------------------------------------


def check_bitcoind(
    obs: Observation[BitcoindReading] | None, t: Thresholds, now: datetime
) -> list[Finding]:
    reading: BitcoindReading | None = obs.value if obs is not None and obs.ok else None
    version_text = ""
    if reading is not None and reading.network is not None:
        version_text = f" {reading.network.version_text}"
    findings = [
        _reachable("node.bitcoind.reachable", "bitcoind", obs, f"bitcoind up{version_text}")
    ]
    if reading is None:
        for fid in ("synced", "version", "pruned", "tip_age"):
            findings.append(_unknown(f"node.bitcoind.{fid}", "bitcoind", obs))
        return findings
    chain = reading.chain
    ev = reading.evidence
    behind = chain.headers - chain.blocks
    if chain.initialblockdownload:
        progress = chain.verificationprogress
        pct = f" ({progress * 100:.1f}%)" if progress is not None else ""
        findings.append(
            Finding(
                "node.bitcoind.synced",
                Status.CRIT,
                f"initial block download{pct}",
                "bitcoind is still syncing; the signer cannot follow the chain until it is done.",
                ev,
            )
        )
    elif behind > 2:
        findings.append(
            Finding(
                "node.bitcoind.synced",
                Status.WARN,
                f"{behind} blocks behind its headers",
                "bitcoind knows of newer blocks than it has validated; watch that it catches up.",
                ev,
            )
        )
    else:
        findings.append(
            Finding("node.bitcoind.synced", Status.OK, f"synced at {chain.blocks:,}", "", ev)
        )
    if reading.network is None:
        findings.append(
            Finding(
                "node.bitcoind.version",
                Status.UNKNOWN,
                f"version: {reading.network_error or 'not read'}",
                "",
                ev,
            )
        )
    else:
        major = reading.network.version_tuple[0]
        if major < t.min_bitcoind_major:
            findings.append(
                Finding(
                    "node.bitcoind.version",
                    Status.CRIT,
                    f"Bitcoin Core {reading.network.version_text} < {t.min_bitcoind_major}",
                    f"The sBTC signer needs Bitcoin Core {t.min_bitcoind_major} or newer.",
                    ev,
                )
            )
        else:
            findings.append(
                Finding(
                    "node.bitcoind.version",
                    Status.OK,
                    f"Core {reading.network.version_text} (>= {t.min_bitcoind_major})",
                    "",
                    ev,
                )
            )
    if chain.pruned:
        findings.append(
            Finding(
                "node.bitcoind.pruned",
                Status.CRIT,
                "pruned node",
                "The signer requires prune=0: blocks it must read may be gone.",
                ev,
            )
        )
    elif chain.pruned is None:  # omitted by the node: unknown, not "not pruned"
        findings.append(
            Finding("node.bitcoind.pruned", Status.UNKNOWN, "prune state not reported", "", ev)
        )
    else:
        findings.append(Finding("node.bitcoind.pruned", Status.OK, "not pruned", "", ev))
    if chain.time is None:
        findings.append(
            Finding("node.bitcoind.tip_age", Status.UNKNOWN, "tip time not reported", "", ev)
        )
    else:
        age = now.timestamp() - chain.time
        text = f"last block {format_age(age)} ago"
        if age > t.bitcoin_tip_max_age:
            findings.append(
                Finding(
                    "node.bitcoind.tip_age",
                    Status.WARN,
                    text,
                    "No new bitcoin block for a long time: check bitcoind's peers and clock "
                    "(long gaps do happen, rarely).",
                    ev,
                )
            )
        else:
            findings.append(Finding("node.bitcoind.tip_age", Status.OK, text, "", ev))
    if chain.warnings:
        findings.append(
            Finding(
                "node.bitcoind.warnings",
                Status.WARN,
                f"warning: {chain.warnings[0]}",
                "bitcoind reports warnings (getblockchaininfo.warnings).",
                ev,
            )
        )
    return findings


# -- Stacks node -----------------------------------------------------------------------------


def last_change(series: Series) -> datetime | None:
    """When the value last changed (or was first seen, if it never changed)."""
    motion = flat_run(series)
    return motion[0] if motion is not None else None


def flat_run(series: Series) -> tuple[datetime, bool] | None:
    """Since when the newest value has held, and whether a change was ever observed (a value
    seen once, or never seen to change, has not "moved": that is watching, not movement)."""
    if not series:
        return None
    when, value = series[-1]
    for earlier_when, earlier_value in reversed(series[:-1]):
        if earlier_value != value:
            return when, True
        when = earlier_when
    return when, False


def held_since(series: Series, since: datetime) -> float | None:
    """How far a series rose from the value it held at `since` (its first sample if later)."""
    if not series:
        return None
    held = series[0][1]
    for when, value in series:
        if when > since:
            break
        held = value
    return series[-1][1] - held


def advance_since(series: Series, since: datetime) -> float | None:
    """How far a series rose from its first sample at or after `since` (samples of different
    sources in one poll round are a few milliseconds apart: what rose before `since` was
    rising while the other series was too, and is not counted)."""
    if not series:
        return None
    after = [value for when, value in series if when >= since]
    baseline = after[0] if after else series[-1][1]
    return series[-1][1] - baseline


def check_stacks(
    obs: Observation[StacksReading] | None,
    bitcoind: Observation[BitcoindReading] | None,
    tip_series: Series,
    t: Thresholds,
    now: datetime,
    *,
    api_tips: Series = (),
) -> list[Finding]:
    reading: StacksReading | None = obs.value if obs is not None and obs.ok else None
    version = ""
    if reading is not None and reading.info.version is not None:
        version = f" {reading.info.version.version}"
    findings = [_reachable("node.stacks.reachable", "Stacks node", obs, f"Stacks node up{version}")]
    if reading is None:
        for fid in ("synced", "burn_lag", "tip_age", "peers"):
            findings.append(_unknown(f"node.stacks.{fid}", "Stacks node", obs))
        return findings
    info = reading.info
    ev = reading.evidence
    if info.is_fully_synced:
        findings.append(
            Finding(
                "node.stacks.synced", Status.OK, f"synced, tip {info.stacks_tip_height:,}", "", ev
            )
        )
    else:
        findings.append(
            Finding(
                "node.stacks.synced",
                Status.CRIT,
                "not fully synced (initial download)",
                "The Stacks node is still in initial block download; the signer's view of "
                "Stacks is stale until it finishes.",
                ev,
            )
        )
    btc: BitcoindReading | None = bitcoind.value if bitcoind is not None and bitcoind.ok else None
    if btc is None:
        findings.append(
            Finding(
                "node.stacks.burn_lag",
                Status.UNKNOWN,
                f"unknown bitcoind height (burn {info.burn_block_height:,})",
                "",
                ev + _ev(bitcoind),
            )
        )
    else:
        lag = btc.chain.blocks - info.burn_block_height
        ev2 = ev + btc.evidence
        text = f"burn height {lag} behind bitcoind" if lag > 0 else "burn height = bitcoind"
        if lag < 0:
            text = f"burn height {-lag} ahead of bitcoind"
        if lag > BURN_LAG_CRIT or -lag > t.max_node_lag_blocks:
            status = Status.CRIT
        elif abs(lag) > t.max_node_lag_blocks:
            status = Status.WARN
        else:
            status = Status.OK
        advice = (
            ""
            if status is Status.OK
            else "The Stacks node and bitcoind disagree on the bitcoin tip: check that the node "
            "uses this bitcoind and that both are synced."
        )
        findings.append(Finding("node.stacks.burn_lag", status, text, advice, ev2))
    findings.append(_tip_age(info.stacks_tip_height, tip_series, api_tips, t, now, ev))
    health = reading.health
    if health is None:
        text = (
            f"peer check failed: {reading.health_error}"
            if reading.health_error
            else "no /v3/health on this node version"
        )
        findings.append(
            Finding(
                "node.stacks.peers",
                Status.UNKNOWN if reading.health_error else Status.WARN,
                text,
                "Upgrade the Stacks node to compare its tip with its peers'.",
                ev,
            )
        )
    elif not health.has_peer_data:
        findings.append(
            Finding(
                "node.stacks.peers",
                Status.WARN,
                "no peer data (no neighbours?)",
                "The node reports no neighbour heights: check its P2P connectivity.",
                ev,
            )
        )
    else:
        diff = health.difference_from_max_peer
        status = Status.WARN if diff > t.max_peer_difference else Status.OK
        findings.append(
            Finding(
                "node.stacks.peers",
                status,
                f"{diff} blocks behind best peer",
                "" if status is Status.OK else "The node trails its peers: it may be stuck.",
                ev,
            )
        )
    return findings


def _tip_age(
    height: int,
    tips: Series,
    api_tips: Series,
    t: Thresholds,
    now: datetime,
    ev: tuple[Evidence, ...],
) -> Finding:
    """Has the tip moved? Only an observed change counts as movement."""
    fid = "node.stacks.tip_age"
    motion = flat_run(tips)
    if motion is None or len(tips) < 2:
        return Finding(fid, Status.UNKNOWN, f"tip {height:,} (watching)", "", ev)
    since, moved = motion
    held = (now - since).total_seconds()
    api_gain = held_since(api_tips, since) if api_tips else None
    api_lead = api_tips[-1][1] - height if api_tips else None
    if api_gain is not None and api_lead is not None and min(api_gain, api_lead) >= API_LEAD_BLOCKS:
        return Finding(
            fid,
            Status.CRIT,
            f"stuck: tip {height:,}, API at {api_tips[-1][1]:,.0f} (+{api_lead:.0f})",
            "The independent API's chain moved on while your node's tip did not: the node is "
            "stuck (check its logs, peers, disk, and whether it blocks on an event observer "
            "that is down or rejects large blocks).",
            ev,
        )
    if held > 3 * t.stacks_tip_max_age:
        status = Status.CRIT
    elif held > t.stacks_tip_max_age:
        status = Status.WARN
    elif not moved:
        # First sight, or not seen to change yet: say so instead of claiming movement.
        return Finding(
            fid,
            Status.UNKNOWN,
            f"tip {height:,} (watching, unchanged {format_duration(max(1, int(held)))})",
            "No change of the tip has been seen yet; it is judged once it moves or once it "
            f"has held longer than {format_duration(int(t.stacks_tip_max_age))}.",
            ev,
        )
    else:
        status = Status.OK
    if moved:
        text = f"tip {height:,} moved {format_duration(max(1, int(held)))} ago"
    else:
        text = f"tip {height:,} unchanged for {format_duration(max(1, int(held)))}"
    advice = (
        ""
        if status is Status.OK
        else "The Stacks tip has stopped moving: check the node's logs, peers and disk, and "
        "whether it blocks on an event observer (the signer) that is down or rejecting blocks."
    )
    return Finding(fid, status, text, advice, ev)


# -- the signer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerSeries:
    stacks_observed: Series
    bitcoin_observed: Series
    stacks_tip: Series
    bitcoin_tip: Series


def _delta(series: Series) -> float | None:
    if len(series) < 2:
        return None
    return series[-1][1] - series[0][1]


def _window(series: Series, since: datetime) -> Series:
    return [p for p in series if p[0] >= since] or list(series[-1:])


def check_signer(
    alive: Observation[Liveness] | None,
    info: Observation[SignerInfo] | None,
    metrics: Observation[MetricsSnapshot] | None,
    *,
    metrics_configured: bool,
    node_key: Observation[KeyReading] | None,
    bitcoind: Observation[BitcoindReading] | None,
    stacks: Observation[StacksReading] | None,
    series: SignerSeries,
    t: Thresholds,
    now: datetime,
    configured_set: int | None = None,
) -> list[Finding]:
    live: Liveness | None = alive.value if alive is not None and alive.ok else None
    first = _reachable("node.signer.alive", "signer API", alive, "signer API alive")
    if live is not None and live.elapsed_ms is not None:
        # The answer time goes to the details: a summary that changes every poll is noise.
        first = replace(first, details=(("answered in", f"{live.elapsed_ms:.0f} ms"),))
    findings = [first]
    findings.append(_signer_tips(info, bitcoind, stacks, t))
    if not metrics_configured:
        findings.append(
            Finding(
                "node.signer.metrics",
                Status.WARN,
                "metrics not configured",
                "Set signer.metrics_url (the signer's prometheus_exporter_endpoint) to see "
                "peers and observed blocks.",
            )
        )
        return findings
    snap: MetricsSnapshot | None = metrics.value if metrics is not None and metrics.ok else None
    if snap is None:
        findings.append(_reachable("node.signer.metrics", "signer metrics", metrics, ""))
        findings.append(_unknown("node.signer.peers", "metrics", metrics))
        findings.append(_unknown("node.signer.observing", "metrics", metrics))
        return findings
    findings.append(_signer_peers(snap, node_key, configured_set))
    findings.append(_signer_observing(snap, series, t, now))
    return findings


def _signer_tips(
    info: Observation[SignerInfo] | None,
    bitcoind: Observation[BitcoindReading] | None,
    stacks: Observation[StacksReading] | None,
    t: Thresholds,
) -> Finding:
    data: SignerInfo | None = info.value if info is not None and info.ok else None
    if data is None:
        return _unknown("node.signer.tips", "signer /info", info)
    ev = _ev(info) + _ev(bitcoind) + _ev(stacks)
    btc_tip = data.bitcoin.signer_tip.block_height if data.bitcoin.signer_tip else None
    stx_tip = data.stacks.signer_tip.block_height if data.stacks.signer_tip else None
    btc_reading = bitcoind.reading() if bitcoind is not None else None
    btc_node = btc_reading.chain.blocks if btc_reading is not None else None
    if btc_node is None and data.bitcoin.node_tip is not None:
        btc_node = data.bitcoin.node_tip.block_height
    stx_reading = stacks.reading() if stacks is not None else None
    stx_node = stx_reading.info.stacks_tip_height if stx_reading is not None else None
    if stx_node is None and data.stacks.node_tip is not None:
        stx_node = data.stacks.node_tip.block_height
    if btc_tip is None or btc_node is None:
        # A mistyped field is named with its raw value; a null is the signer's "unknown".
        bad = data.problem_note("bitcoin.signer_tip") or data.problem_note("bitcoin.node_tip")
        return Finding(
            "node.signer.tips",
            Status.UNKNOWN,
            f"unreadable {bad}" if bad else "unknown: signer's bitcoin tip (null in /info)",
            "The signer's /info has no bitcoin tip: it may be starting or cut off from bitcoind.",
            ev,
        )
    btc_lag = btc_node - btc_tip
    stx_lag = (stx_node - stx_tip) if stx_node is not None and stx_tip is not None else None
    parts = [f"btc {btc_lag} behind" if btc_lag > 0 else "btc at tip"]
    if stx_lag is not None:
        parts.append(f"stx {stx_lag} behind" if stx_lag > 0 else "stx at tip")
    text = "signer: " + ", ".join(parts)
    # Stacks blocks come every few seconds; tolerate a tenure's worth of lag.
    stacks_limit = max(60, 120 * t.signer_tip_max_lag_blocks)
    if btc_lag > t.signer_tip_max_lag_blocks or (stx_lag is not None and stx_lag > stacks_limit):
        return Finding(
            "node.signer.tips",
            Status.WARN,
            text,
            "The signer's view trails its nodes: check the Stacks node's event observer "
            "(it must POST /new_block to the signer) and the signer's logs.",
            ev,
        )
    return Finding("node.signer.tips", Status.OK, text, "", ev)


def _signer_peers(
    snap: MetricsSnapshot,
    node_key: Observation[KeyReading] | None,
    configured_set: int | None = None,
) -> Finding:
    """Peers expected = the configured signer set size - 1 (the registry's when the signer's
    TOML is not configured): not a constant (mainnet's example set went 14 -> 11 keys, sBTC
    PR #2093). On <= v1.3.3 peers outside the set are accepted too (fixed by PR #2089), so a
    count above the set is said, not taken as "all connected"."""
    ev = (snap.evidence,)
    peers = snap.peers_connected
    reading: KeyReading | None = node_key.value if node_key is not None and node_key.ok else None
    data = reading.signer_data if reading is not None else None
    if peers is None and "peers_connected" in snap.invalid:
        return Finding(
            "node.signer.peers",
            Status.UNKNOWN,
            f"not a count: peers_connected is {snap.invalid['peers_connected']}",
            "The metrics exporter sent a value that is no number of peers (NaN, Inf or "
            "out of range); see the metrics evidence.",
            ev,
        )
    if peers is None:
        return Finding(
            "node.signer.peers",
            Status.UNKNOWN,
            "peers_connected not exported",
            "Signers before v1.1.0 do not export peers_connected; upgrade to see peers.",
            ev,
        )
    registry_size = len(data.signer_set) if data is not None and data.signer_set else None
    size = configured_set or registry_size
    if size is None:
        return Finding(
            "node.signer.peers",
            Status.UNKNOWN,
            f"{peers:.0f} peers; signer set unknown",
            "The signer set is read from the signer's TOML (signer.config_file) or the "
            "registry through your Stacks node.",
            ev,
        )
    basis = "configured" if configured_set else "registry"
    expected = size - 1
    text = f"{peers:.0f} of {expected} peers connected ({basis} set of {size})"
    threshold = data.threshold if data is not None and data.signer_set else None
    if threshold is not None and peers < max(0, threshold - 1):
        return Finding(
            "node.signer.peers",
            Status.CRIT,
            f"below threshold: {text}",
            f"Fewer peers than the signing threshold ({threshold}) needs: the signer "
            "cannot take part in signing rounds. Check P2P ports and the seeds.",
            ev,
        )
    if peers > expected:
        return Finding(
            "node.signer.peers",
            Status.WARN,
            f"more peers than signers: {peers:.0f} > {expected} others ({basis} set)",
            "On sBTC <= v1.3.3 peers outside the signer set are accepted and counted (fixed "
            "by PR #2089), so this count cannot show that every signer is connected: "
            "confirm with the other operators; check for unknown peers.",
            ev,
        )
    if peers < expected:
        return Finding(
            "node.signer.peers",
            Status.WARN,
            f"{expected - peers:.0f} missing: {text}",
            "Some signers are not connected: check your P2P port (4122) and their status.",
            ev,
        )
    return Finding("node.signer.peers", Status.OK, text, "", ev)


def _signer_observing(
    snap: MetricsSnapshot, series: SignerSeries, t: Thresholds, now: datetime
) -> Finding:
    """The signer's block counters against its nodes' tips. A counter that stays flat while
    its node advances several blocks is a stalled observer; one block behind is not."""
    fid = "node.signer.observing"
    ev = (snap.evidence,)
    bad = {k: v for k, v in snap.invalid.items() if k.startswith("blocks_observed")}
    if bad:
        name, shown = sorted(bad.items())[0]
        return Finding(
            fid,
            Status.UNKNOWN,
            f"not a count: {name} is {shown}",
            "The metrics exporter sent a block counter that is no number (NaN, Inf or out "
            "of range); see the metrics evidence.",
            ev,
        )
    counter = flat_run(series.stacks_observed)
    if counter is None or len(series.stacks_observed) < 2:
        return Finding(fid, Status.UNKNOWN, "need two scrapes to see blocks rising", "", ev)
    since, counter_moved = counter
    node_gain = advance_since(series.stacks_tip, since)
    if node_gain is None and not counter_moved:
        # Nothing observed and no node tip to compare with: that proves nothing either way.
        return Finding(
            fid, Status.UNKNOWN, "signer saw no new Stacks blocks; node tip unknown", "", ev
        )
    flat_for = format_duration(max(1, int((now - since).total_seconds())))
    if node_gain is not None and node_gain >= STALL_STACKS_BLOCKS:
        return Finding(
            fid,
            Status.CRIT,
            f"observer stalled: 0 of {node_gain:.0f} Stacks blocks in {flat_for}",
            "The Stacks node advances but the signer observes nothing: its event observer "
            "(POST /new_block to :8801) is not receiving blocks. Check the signer's logs and "
            "the node's event_observer config. Up to signer v1.3.3 a /new_block body over "
            "8 MiB is rejected and the node retries it forever, so it can stall too.",
            ev,
        )
    btc = flat_run(series.bitcoin_observed)
    if btc is not None and len(series.bitcoin_observed) >= 2:
        btc_gain = advance_since(series.bitcoin_tip, btc[0])
        if btc_gain is not None and btc_gain >= STALL_BITCOIN_BLOCKS:
            return Finding(
                fid,
                Status.WARN,
                f"saw 0 of {btc_gain:.0f} new bitcoin blocks",
                "bitcoind advances but the signer's block observer does not: check its RPC "
                "and ZMQ access to bitcoind.",
                ev,
            )
    window_start = now.fromtimestamp(now.timestamp() - t.stacks_tip_max_age, now.tzinfo)
    seen = advance_since(series.stacks_observed, window_start) or 0.0
    return Finding(fid, Status.OK, f"observing: +{seen:.0f} Stacks blocks", "", ev)


# -- registered checks ---------------------------------------------------------------------


@check(needs=(BITCOIND,))
def bitcoind_checks(inp: Inputs) -> list[Finding]:
    return check_bitcoind(inp.get(BITCOIND), inp.profile.thresholds, inp.now)


@check(needs=(STACKS, BITCOIND, API_KEY))
def stacks_checks(inp: Inputs) -> list[Finding]:
    return check_stacks(
        inp.get(STACKS),
        inp.get(BITCOIND),
        inp.series("stacks_tip"),
        inp.profile.thresholds,
        inp.now,
        api_tips=inp.series("api_stacks_tip") if inp.configured(API_KEY) else (),
    )


@check(needs=(SIGNER, SIGNER_INFO, METRICS, NODE_KEY, BITCOIND, STACKS, SIGNER_CONFIG))
def signer_checks(inp: Inputs) -> list[Finding]:
    config = inp.get(SIGNER_CONFIG)
    toml = config.reading() if config is not None else None
    configured = len(toml.signing_set) if toml is not None and toml.signing_set else None
    return check_signer(
        inp.get(SIGNER),
        inp.get(SIGNER_INFO),
        inp.get(METRICS),
        metrics_configured=inp.configured(METRICS),
        node_key=inp.get(NODE_KEY),
        bitcoind=inp.get(BITCOIND),
        stacks=inp.get(STACKS),
        series=SignerSeries(
            inp.series("stacks_observed"),
            inp.series("bitcoin_observed"),
            inp.series("stacks_tip"),
            inp.series("bitcoin_tip"),
        ),
        t=inp.profile.thresholds,
        now=inp.now,
        configured_set=configured,
    )
