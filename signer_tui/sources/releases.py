"""All release and advisory feeds of one poll: the three repositories plus OSV for Bitcoin Core.

Each feed fails on its own: a rate-limited advisory list or an unreachable OSV must not lose the
release lists that did arrive, so every slot holds either its result or a `FeedFailure`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from packaging.version import Version

from signer_tui.config import ReleaseFeeds
from signer_tui.credentials import Secret
from signer_tui.model import utcnow
from signer_tui.sources.feedcache import FeedCache, FeedFailure
from signer_tui.sources.github import AdvisoryFeed, GitHub, ReleaseFeed
from signer_tui.sources.osv import Osv, OsvResult
from signer_tui.sources.versions import (
    BITCOIN,
    SBTC,
    STACKS_CORE,
    ParsedVersion,
    Product,
    bitcoin_tag_for,
    parse_bitcoin_tag,
)

T = TypeVar("T")

BITCOIN_GIT_URL = "https://github.com/bitcoin/bitcoin"


@dataclass(frozen=True)
class RepoFeeds:
    product: Product
    repo: str
    releases: ReleaseFeed | FeedFailure
    advisories: AdvisoryFeed | FeedFailure


@dataclass(frozen=True)
class Feeds:
    sbtc: RepoFeeds
    stacks_core: RepoFeeds
    bitcoin: RepoFeeds
    # OSV `GIT` query for Bitcoin Core at `bitcoin_osv_tag`; None when there was no tag to ask.
    bitcoin_osv: OsvResult | FeedFailure | None
    bitcoin_osv_tag: str | None
    fetched_at: datetime

    @property
    def repos(self) -> tuple[RepoFeeds, ...]:
        return (self.sbtc, self.stacks_core, self.bitcoin)


def open_clients(
    settings: ReleaseFeeds, token: Secret | str | None = None, cache: FeedCache | None = None
) -> tuple[GitHub, Osv]:
    """The two clients of `settings`, sharing one on-disk cache (the XDG one by default)."""
    cache = cache if cache is not None else FeedCache()
    github = GitHub(settings.github_api, token=token, timeout=settings.timeout, cache=cache)
    osv = Osv(settings.osv_api, timeout=settings.timeout, cache=cache)
    return github, osv


async def _guard(work: Awaitable[T]) -> T | FeedFailure:
    try:
        return await work
    except Exception as exc:  # one feed's failure, whatever it is, stays in its own slot
        return FeedFailure.from_error(exc)


async def _repo(github: GitHub, product: Product, repo: str, max_pages: int) -> RepoFeeds:
    releases, advisories = await asyncio.gather(
        _guard(github.releases(repo, max_pages, product=product)),
        _guard(github.advisories(repo, product=product)),
    )
    return RepoFeeds(product, repo, releases, advisories)


def _bitcoin_tag(
    version: str | ParsedVersion | Version | None, releases: ReleaseFeed | FeedFailure
) -> str | None:
    """The tag to ask OSV about: the running version if known, else the newest stable release."""
    if isinstance(version, ParsedVersion):
        return bitcoin_tag_for(version.version)
    if isinstance(version, Version):
        return bitcoin_tag_for(version)
    if isinstance(version, str):
        parsed = parse_bitcoin_tag(version)
        if parsed is not None:
            return parsed.raw
        try:
            return bitcoin_tag_for(Version(version))
        except ValueError:
            return None
    if isinstance(releases, ReleaseFeed):
        latest = releases.latest()
        return latest.tag if latest is not None else None
    return None


async def fetch_feeds(
    settings: ReleaseFeeds,
    github: GitHub,
    osv: Osv,
    *,
    bitcoin_version: str | ParsedVersion | Version | None = None,
    max_pages: int = 3,
) -> Feeds:
    """Fetch every feed concurrently; failures are kept per feed, never raised."""
    repos = settings.repos
    if not settings.enabled:
        off = FeedFailure("release feeds disabled", "releases.enabled is false")
        return Feeds(
            RepoFeeds(SBTC, repos.sbtc, off, off),
            RepoFeeds(STACKS_CORE, repos.stacks_core, off, off),
            RepoFeeds(BITCOIN, repos.bitcoin, off, off),
            bitcoin_osv=None,
            bitcoin_osv_tag=None,
            fetched_at=utcnow(),
        )

    async def bitcoin_side() -> tuple[RepoFeeds, OsvResult | FeedFailure | None, str | None]:
        # With the node's own version OSV can be asked at once; otherwise the tag comes from
        # the release list, so that has to arrive first.
        early = _bitcoin_tag(bitcoin_version, FeedFailure("not fetched"))
        if early is not None:
            feeds, found = await asyncio.gather(
                _repo(github, BITCOIN, repos.bitcoin, max_pages),
                _guard(osv.query_git(BITCOIN_GIT_URL, early)),
            )
            return feeds, found, early
        feeds = await _repo(github, BITCOIN, repos.bitcoin, max_pages)
        tag = _bitcoin_tag(None, feeds.releases)
        if tag is None:
            return feeds, None, None
        return feeds, await _guard(osv.query_git(BITCOIN_GIT_URL, tag)), tag

    sbtc, core, (bitcoin, bitcoin_osv, tag) = await asyncio.gather(
        _repo(github, SBTC, repos.sbtc, max_pages),
        _repo(github, STACKS_CORE, repos.stacks_core, max_pages),
        bitcoin_side(),
    )
    return Feeds(sbtc, core, bitcoin, bitcoin_osv, tag, utcnow())
