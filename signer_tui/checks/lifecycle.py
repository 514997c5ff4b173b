"""Deadlines and end-of-life, not only "behind latest".

* `node.stacks.fork_deadline` — a Stacks node older than a known hard fork's minimum version
  splits from the network at its activation height (Epoch 4.0 at bitcoin block 960,230 needs
  stacks-core >= 4.0.1). CRIT inside ~2 weeks of blocks (or past the height), WARN before.
* `release.bitcoind.eol` — Bitcoin Core keeps the latest three majors maintained; with 31.0,
  28.x and older are end-of-life. WARN on an end-of-life line, CRIT when a security fix exists
  only in maintained lines (a newer maintained release mentions one, or OSV lists a
  vulnerability for the running version); CRIT below the signer's minimum (25).

Both read `signer_tui/data/network_facts.yaml`, where every fact has its source. Pure
functions `fork_deadline(...)` and `bitcoin_eol(...)`; missing data is UNKNOWN.
"""

from __future__ import annotations

from typing import Any

from signer_tui.checks.aggregate_key import bitcoin_height
from signer_tui.checks.network_facts import NetworkFacts, load_facts
from signer_tui.checks.registry import Inputs, check
from signer_tui.checks.releases import is_security_release, running_bitcoind, running_stacks
from signer_tui.model import Evidence, Finding, Observation, Status
from signer_tui.sources.catalog import BITCOIND, RELEASES, STACKS
from signer_tui.sources.feedcache import FeedFailure
from signer_tui.sources.osv import Coverage
from signer_tui.sources.releases import Feeds
from signer_tui.sources.versions import ParsedVersion

FORK_ID = "node.stacks.fork_deadline"
EOL_ID = "release.bitcoind.eol"
# "~2 weeks": 14 days of bitcoin blocks at 144 a day.
FORK_CRIT_BLOCKS = 14 * 144
BLOCK_MINUTES = 10


def eta(blocks: int) -> str:
    """Blocks ahead as an estimated time at ten minutes a block."""
    minutes = blocks * BLOCK_MINUTES
    if minutes < 120:
        return f"~{minutes} min"
    if minutes < 48 * 60:
        return f"~{minutes / 60:.0f} h"
    return f"~{minutes / 1440:.1f} days"


def fork_deadline(
    version: ParsedVersion | None,
    version_why: str,
    height: int | None,
    network: str,
    facts: NetworkFacts,
    *,
    evidence: tuple[Evidence, ...] = (),
    crit_blocks: int = FORK_CRIT_BLOCKS,
) -> Finding:
    forks = facts.forks(network)
    if not forks:
        return Finding(
            FORK_ID,
            Status.OK,
            f"no hard fork known for {network} (network facts v{facts.version}, {facts.as_of})",
            "",
            evidence,
        )
    if version is None:
        return Finding(
            FORK_ID,
            Status.UNKNOWN,
            f"stacks-node version unknown ({version_why}): cannot tell if it survives "
            f"{forks[0].name}",
            "The node's /v2/info server_version is needed to compare with the fork's minimum.",
            evidence,
        )
    if height is None:
        return Finding(
            FORK_ID,
            Status.UNKNOWN,
            "no bitcoin height: cannot tell the distance to the next hard fork",
            "Neither bitcoind nor the Stacks node reported a bitcoin height.",
            evidence,
        )
    ready: list[str] = []
    for fork in sorted(forks, key=lambda f: f.activation_height):
        details = (
            ("fork", fork.name),
            ("activation height", f"{fork.activation_height:,}"),
            ("minimum", f"{fork.product} >= {fork.min_version}"),
            ("running", str(version.version)),
            ("source", fork.source),
        )
        left = fork.activation_height - height
        if version.version >= fork.min_version:
            when = f"in {left:,} blocks" if left > 0 else "active"
            ready.append(f"{fork.name} {when}: {version.version} >= {fork.min_version}")
            continue
        if left <= 0:
            return Finding(
                FORK_ID,
                Status.CRIT,
                f"split from the network at block {fork.activation_height:,}: stacks-node "
                f"{version.version} ({fork.name} needs >= {fork.min_version})",
                f"This node is on the old chain since {fork.name}: upgrade it to "
                f"{fork.min_version} or later now; the signer is reading a dead fork.",
                evidence,
                details=details,
            )
        status = Status.CRIT if left <= crit_blocks else Status.WARN
        return Finding(
            FORK_ID,
            status,
            f"will split in {left:,} blocks ({eta(left)}): stacks-node {version.version} at "
            f"{fork.activation_height:,} ({fork.name}) needs >= {fork.min_version}",
            f"Upgrade to {fork.min_version} or later before the activation height; plan it "
            "outside a prepare phase (see node.stacks.upgrade_window).",
            evidence,
            details=details,
        )
    return Finding(FORK_ID, Status.OK, "; ".join(ready), "", evidence)


def _maintained_latest(facts: NetworkFacts, feeds: Feeds | None) -> int:
    """The newest Bitcoin Core major: the data file's, or a newer one the feed shows."""
    latest = facts.bitcoin_core.latest_major
    if feeds is not None and not isinstance(feeds.bitcoin.releases, FeedFailure):
        for release in feeds.bitcoin.releases.versioned:
            assert release.version is not None  # versioned
            if not release.is_prerelease:
                latest = max(latest, release.version.version.major)
    return latest


def bitcoin_eol(
    version: ParsedVersion | None,
    shown: str,
    version_why: str,
    facts: NetworkFacts,
    feeds: Feeds | None,
    *,
    evidence: tuple[Evidence, ...] = (),
) -> Finding:
    window = facts.bitcoin_core
    if version is None:
        return Finding(
            EOL_ID,
            Status.UNKNOWN,
            f"Core version unknown ({version_why}): support window not judged",
            "getnetworkinfo's subversion is needed to tell whether this line is maintained.",
            evidence,
        )
    major = version.version.major
    latest = _maintained_latest(facts, feeds)
    first_maintained = latest - window.maintained_majors + 1
    maintained = f"{first_maintained}.x-{latest}.x"
    details = [
        ("running", shown),
        ("maintained", maintained),
        ("source", window.source),
    ]
    if major < window.signer_minimum_major:
        return Finding(
            EOL_ID,
            Status.CRIT,
            f"below the minimum: Core {shown} < {window.signer_minimum_major}",
            f"The sBTC signer needs Bitcoin Core >= {window.signer_minimum_major}; upgrade to a "
            f"maintained line ({maintained}).",
            evidence,
            details=tuple(details),
        )
    eol = major < first_maintained
    if not eol:
        return Finding(
            EOL_ID,
            Status.OK,
            f"Core {shown}: {major}.x is maintained (latest three majors: {maintained})",
            "",
            evidence,
            details=tuple(details),
        )
    # Line M ends when M + 3 ships (28.x with 31.0: the data file's `eol.since`).
    since = f"{major + window.maintained_majors}.0"
    fixes = _security_fixes_in_maintained(feeds, first_maintained)
    osv_hit = _osv_hits(feeds)
    if fixes or osv_hit:
        what = f"security fix in {fixes[0]}" if fixes else f"OSV lists {osv_hit}"
        details.append(("fix only in maintained lines", what))
        return Finding(
            EOL_ID,
            Status.CRIT,
            f"end-of-life: Core {shown} (since {since}); a {what} will never reach {major}.x",
            f"Upgrade bitcoind to a maintained line ({maintained}); an end-of-life line gets "
            "no security fixes.",
            evidence,
            details=tuple(details),
        )
    return Finding(
        EOL_ID,
        Status.WARN,
        f"end-of-life: Core {shown} (since {since}; maintained: {maintained})",
        "Bitcoin Core maintains only the latest three majors: plan the upgrade before a "
        "security fix lands only in maintained lines.",
        evidence,
        details=tuple(details),
    )


def _security_fixes_in_maintained(feeds: Feeds | None, first_maintained: int) -> list[str]:
    if feeds is None or isinstance(feeds.bitcoin.releases, FeedFailure):
        return []
    return [
        r.tag
        for r in feeds.bitcoin.releases.versioned
        if r.version is not None
        and r.version.version.major >= first_maintained
        and not r.is_prerelease
        and is_security_release(r)
    ]


def _osv_hits(feeds: Feeds | None) -> str:
    osv = feeds.bitcoin_osv if feeds is not None else None
    if osv is None or isinstance(osv, FeedFailure):
        return ""
    if osv.coverage is Coverage.MATCHED and osv.vulns:
        return ", ".join(v.id for v in osv.vulns[:3])
    return ""


def _ev(obs: Observation[Any] | None) -> tuple[Evidence, ...]:
    return obs.evidence[:1] if obs is not None else ()


@check(needs=(STACKS, BITCOIND))
def fork_deadline_check(inp: Inputs) -> list[Finding]:
    stacks, btc = inp.get(STACKS), inp.get(BITCOIND)
    running = running_stacks(stacks)
    return [
        fork_deadline(
            running.version,
            running.why_unknown or running.shown,
            bitcoin_height(btc, stacks),
            inp.profile.network,
            load_facts(),
            evidence=_ev(stacks) + _ev(btc),
        )
    ]


@check(needs=(BITCOIND, RELEASES))
def bitcoin_eol_check(inp: Inputs) -> list[Finding]:
    btc = inp.get(BITCOIND)
    running = running_bitcoind(btc)
    feeds_obs = inp.get(RELEASES) if inp.configured(RELEASES) else None
    feeds = feeds_obs.reading() if feeds_obs is not None else None
    return [
        bitcoin_eol(
            running.version,
            running.shown,
            running.why_unknown,
            load_facts(),
            feeds,
            evidence=_ev(btc),
        )
    ]
