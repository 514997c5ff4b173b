"""release.*: the running versions against the latest releases and security advisories.

WARN when a newer release exists (its row says "breaking change" / "requires resync" when its
notes do); CRIT when a newer release is a security fix or an advisory covers the running
version; UNKNOWN when the running version or the feed is unknown. An OSV answer of "no data"
is never read as "safe", and an empty advisory list is shown as "no advisories published
(this project publishes none through OSV/GHSA)", never as a bare "no known problem".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from signer_tui.checks.network_facts import load_facts
from signer_tui.checks.registry import Inputs, check
from signer_tui.model import Evidence, Finding, Observation, Status, format_age
from signer_tui.sources.catalog import BITCOIND, METRICS, RELEASES, SIGNER_INFO, STACKS
from signer_tui.sources.feedcache import FeedFailure
from signer_tui.sources.github import Advisory, AdvisoryFeed, Release, ReleaseFeed, affects
from signer_tui.sources.metrics import MetricsSnapshot
from signer_tui.sources.osv import Coverage, OsvResult
from signer_tui.sources.readings import BitcoindReading, StacksReading
from signer_tui.sources.releases import Feeds, RepoFeeds
from signer_tui.sources.signer import SignerInfo
from signer_tui.sources.versions import (
    ParsedVersion,
    bitcoin_tag_for,
    resolve_signer_revision,
    version_from_bitcoin_int,
    version_from_server_version,
    version_from_subversion,
)

_SECURITY = re.compile(r"\bsecurity\b|\bCVE-\d{4}-\d+|\bGHSA-|vulnerab", re.IGNORECASE)

RUNNING_LABELS = (("signer", "signer"), ("stacks", "stacks-node"), ("bitcoind", "Core"))

# A cached feed older than this is itself a finding (the bastion may have lost egress).
FEED_MAX_AGE = 2 * 86400.0


def is_security_release(release: Release) -> bool:
    return bool(_SECURITY.search(f"{release.name or ''}\n{release.body or ''}"))


@dataclass(frozen=True)
class Running:
    label: str  # what the operator calls it: "signer", "Stacks node", "bitcoind"
    version: ParsedVersion | None
    shown: str  # the version as reported
    why_unknown: str = ""


def _feed_evidence(feed: RepoFeeds) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    for part in (feed.releases, feed.advisories):
        if isinstance(part, FeedFailure):
            if part.evidence is not None:
                out.append(part.evidence)
        else:
            out.extend(part.evidence[:1])
    return tuple(out)


def _advisories_for(feed: RepoFeeds, version: ParsedVersion) -> tuple[list[Advisory], bool]:
    """Advisories that cover `version`, and whether any could not be evaluated."""
    if isinstance(feed.advisories, FeedFailure):
        return [], True
    hits: list[Advisory] = []
    unsure = False
    for advisory in feed.advisories.advisories:
        verdict = affects(advisory, version)
        if verdict is True:
            hits.append(advisory)
        elif verdict is None:
            unsure = True
    return hits, unsure


def compare(finding_id: str, running: Running, feed: RepoFeeds, track: str | None) -> Finding:
    ev = _feed_evidence(feed)
    if running.version is None:
        return Finding(
            finding_id,
            Status.UNKNOWN,
            f"{running.label} version unknown ({running.why_unknown or running.shown})",
            "The running version could not be determined, so it cannot be compared.",
            ev,
        )
    releases = feed.releases
    if isinstance(releases, FeedFailure):
        return Finding(
            finding_id,
            Status.UNKNOWN,
            f"feed {releases.title}; {running.label} {running.shown}",
            "The release feed could not be read and no cached copy exists.",
            ev,
        )
    hits, unsure = _advisories_for(feed, running.version)
    newer = releases.newer_than(running.version, track)
    security = [r for r in newer if is_security_release(r)]
    latest = releases.latest(track)
    if latest is None and not hits:
        # `[]`, a list of nulls or only unparseable tags: nothing to compare with is not
        # "latest".
        return Finding(
            finding_id,
            Status.UNKNOWN,
            f"no readable release in the feed ({_unreadable(releases)}); "
            f"{running.label} {running.shown}",
            "The release feed answered but held no release this version can be compared "
            "with. Check the repository setting (releases.repos) and the feed's evidence.",
            ev,
            details=(("running", running.shown),),
        )
    details = [("running", running.shown)]
    if latest is not None:
        details.append(("latest", latest.tag))
    details += [("advisory", f"{a.ghsa_id} {a.severity or ''} {a.summary}") for a in hits]
    if hits:
        ids = ", ".join(a.cve_id or a.ghsa_id for a in hits[:2])
        return Finding(
            finding_id,
            Status.CRIT,
            f"advisory {ids}: {running.label} {running.shown}",
            "A published security advisory covers the running version: plan the upgrade now "
            "(see the advisory for the fixed version).",
            ev,
            details=tuple(details),
        )
    if security:
        return Finding(
            finding_id,
            Status.CRIT,
            f"security fix in {security[0].tag}: {running.label} {running.shown}",
            f"{security[0].tag} is a newer release that mentions a security fix; upgrade.",
            ev,
            details=tuple(details),
        )
    flagged = release_flags(newer)
    details += [(tag, ", ".join(flags)) for tag, flags in flagged]
    if newer:
        words = sorted({flag for _, flags in flagged for flag in flags})
        note = f" ({', '.join(words)})" if words else ""
        return Finding(
            finding_id,
            Status.WARN,
            f"newer {newer[0].tag} out: {running.label} {running.shown}{note}",
            f"A newer release is available ({len(newer)} newer); read its notes and plan "
            "the upgrade.",
            ev,
            details=tuple(details),
        )
    note = " (advisory ranges unreadable)" if unsure else ""
    if not isinstance(feed.advisories, FeedFailure) and not feed.advisories.advisories:
        # An empty answer is "nothing published there", never "no known problem".
        note += f"; {load_facts().empty_advisories(feed.product)}"
    return Finding(
        finding_id,
        Status.OK,
        f"{running.label} {running.shown} is latest{note}",
        "",
        ev,
        details=tuple(details),
    )


def release_flags(releases: Sequence[Release]) -> list[tuple[str, tuple[str, ...]]]:
    """(tag, flags) for each release whose notes say "breaking change" or "requires resync"
    (phrases and their sources: `signer_tui/data/network_facts.yaml`)."""
    facts = load_facts()
    out = []
    for release in releases:
        flags = facts.flags_in(f"{release.name or ''}\n{release.body or ''}")
        if flags:
            out.append((release.tag, flags))
    return out


def _unreadable(feed: ReleaseFeed) -> str:
    if not feed.releases:
        return "no entries"
    return f"{len(feed.junk)} of {len(feed.releases)} tags unparseable"


def running_signer(
    info: Observation[SignerInfo] | None,
    metrics: Observation[MetricsSnapshot] | None,
    feed: RepoFeeds,
) -> Running:
    revision = None
    bad = ""
    data = info.reading() if info is not None else None
    if data is not None:
        revision = data.build_info.git_revision
        bad = data.problem_note("build_info.git_revision")
    snap = metrics.reading() if metrics is not None else None
    if revision is None and snap is not None:
        revision = snap.build_info.revision if snap.build_info else None
    if not revision:
        return Running("signer", None, "?", bad or "no git_revision in /info or metrics")
    releases = () if isinstance(feed.releases, FeedFailure) else feed.releases.releases
    match = resolve_signer_revision(revision, releases)
    if match.version is None:
        short = revision[:10] if len(revision) >= 40 else revision
        return Running("signer", None, short, match.note or "unknown commit")
    return Running("signer", match.version, match.tag or match.version.raw)


def running_stacks(stacks: Observation[StacksReading] | None) -> Running:
    reading = stacks.reading() if stacks is not None else None
    if reading is None:
        return Running("Stacks node", None, "?", "node not read")
    parsed = version_from_server_version(reading.info.server_version)
    shown = str(parsed.version) if parsed else reading.info.server_version[:24]
    return Running("stacks-node", parsed, shown, "" if parsed else "unparsed server_version")


def running_bitcoind(bitcoind: Observation[BitcoindReading] | None) -> Running:
    reading = bitcoind.reading() if bitcoind is not None else None
    if reading is None or reading.network is None:
        return Running("bitcoind", None, "?", "bitcoind not read")
    parsed = version_from_subversion(reading.network.subversion) or version_from_bitcoin_int(
        reading.network.version
    )
    shown = reading.network.version_text
    return Running("Core", parsed, shown, "" if parsed else "unparsed subversion")


def _bitcoin_osv(feeds: Feeds, running: Running, base: Finding) -> Finding:
    """Fold OSV's answer for Bitcoin Core into the bitcoind finding."""
    osv = feeds.bitcoin_osv
    if base.status is Status.CRIT or osv is None:
        return base
    running_tag = bitcoin_tag_for(running.version.version) if running.version else None
    if running_tag is None or feeds.bitcoin_osv_tag != running_tag:
        # OSV was asked about another version (the newest release while bitcoind was down, or
        # the node of the profile that polls the shared feeds): it says nothing about this one.
        note = f"asked about {feeds.bitcoin_osv_tag or '?'}, not this node's version"
        return replace(base, details=(*base.details, ("OSV", note)))
    if isinstance(osv, FeedFailure):
        # Bitcoin Core publishes no GitHub advisories: without OSV nothing says this version
        # is free of known vulnerabilities, so "latest" alone is not OK.
        calm = base.status.rank < Status.UNKNOWN.rank
        return Finding(
            base.id,
            Status.UNKNOWN if calm else base.status,
            f"{base.summary}; OSV unavailable ({osv.title})" if calm else base.summary,
            "OSV is the vulnerability feed for Bitcoin Core and could not be read; "
            "check egress to api.osv.dev."
            if calm
            else base.advice,
            base.evidence + ((osv.evidence,) if osv.evidence is not None else ()),
            details=(*base.details, ("OSV", f"unavailable: {osv.title}")),
        )
    result: OsvResult = osv
    if result.coverage is Coverage.MATCHED and result.vulns:
        ids = ", ".join(v.id for v in result.vulns[:3])
        return Finding(
            base.id,
            Status.CRIT,
            f"Core {running.shown}: OSV lists {ids}",
            "OSV lists known vulnerabilities for this Bitcoin Core version; upgrade.",
            base.evidence + result.evidence[:1],
            details=base.details,
        )
    note = "OSV: no data (not proof of safety)"
    return Finding(
        base.id,
        base.status,
        base.summary,
        base.advice,
        base.evidence + result.evidence[:1],
        details=(*base.details, ("OSV", note)),
    )


def _feed_status(feeds: Feeds, now: datetime) -> Finding:
    parts: list[ReleaseFeed | AdvisoryFeed] = []
    failures: list[str] = []
    for repo in feeds.repos:
        for part in (repo.releases, repo.advisories):
            if isinstance(part, FeedFailure):
                failures.append(f"{repo.repo}: {part.title}")
            else:
                parts.append(part)
                if isinstance(part, ReleaseFeed) and not part.versioned:
                    # An answer without one readable release is not a fresh feed.
                    failures.append(f"{repo.repo}: no readable release ({_unreadable(part)})")
    if isinstance(feeds.bitcoin_osv, FeedFailure):
        failures.append(f"OSV: {feeds.bitcoin_osv.title}")
    stale = [p for p in parts if p.stale]
    oldest = max((p.age(now).total_seconds() for p in parts), default=None)
    if failures and not parts:
        return Finding(
            "release.feed",
            Status.UNKNOWN,
            f"feeds unavailable: {failures[0]}",
            "No release feed could be read and nothing is cached. Does this host have egress "
            "to api.github.com, or a token for the rate limit?",
        )
    if stale or failures:
        reason = stale[0].error_title if stale else failures[0]
        # "repo: why" from the feed: the why leads, the repo is the detail.
        where, _, why = reason.rpartition(": ")
        age = format_age(oldest)
        status = Status.WARN if (oldest or 0) > FEED_MAX_AGE or failures else Status.OK
        return Finding(
            "release.feed",
            status,
            f"{why}: cached feed, {age} old" + (f" ({where})" if where else ""),
            "Release data comes from the on-disk cache because the live request failed.",
            details=tuple(("failed", f) for f in failures),
        )
    return Finding("release.feed", Status.OK, f"feeds fresh ({format_age(oldest)} old)", "")


def check_releases(
    feeds_obs: Observation[Feeds] | None,
    *,
    signer_info: Observation[SignerInfo] | None,
    metrics: Observation[MetricsSnapshot] | None,
    stacks: Observation[StacksReading] | None,
    bitcoind: Observation[BitcoindReading] | None,
    now: datetime,
) -> list[Finding]:
    if feeds_obs is None or not feeds_obs.ok:
        why = feeds_obs.error if feeds_obs is not None else "not fetched yet"
        return [
            Finding(f"release.{name}", Status.UNKNOWN, f"feed {why}: {label}", "", ())
            for name, label in (
                ("signer", "signer"),
                ("stacks", "stacks-node"),
                ("bitcoind", "Core"),
            )
        ]
    feeds = feeds_obs.reading()
    assert feeds is not None  # .ok, checked above
    signer = running_signer(signer_info, metrics, feeds.sbtc)
    stacks_v = running_stacks(stacks)
    core = running_bitcoind(bitcoind)
    bitcoin = compare("release.bitcoind", core, feeds.bitcoin, None)
    return [
        compare("release.signer", signer, feeds.sbtc, None),
        compare("release.stacks", stacks_v, feeds.stacks_core, "node"),
        _bitcoin_osv(feeds, core, bitcoin),
        _feed_status(feeds, now),
    ]


@check(needs=(RELEASES, SIGNER_INFO, METRICS, STACKS, BITCOIND))
def release_checks(inp: Inputs) -> list[Finding]:
    if not inp.configured(RELEASES):
        return []  # release feeds switched off in the config
    return check_releases(
        inp.get(RELEASES),
        signer_info=inp.get(SIGNER_INFO),
        metrics=inp.get(METRICS),
        stacks=inp.get(STACKS),
        bitcoind=inp.get(BITCOIND),
        now=inp.now,
    )
