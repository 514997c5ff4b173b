"""GitHub REST client for release lists and repository security advisories (wire-formats §4).

Every list is fetched page by page following `Link: rel="next"` (GitHub's links point at
`/repositories/{id}/…`, so they are followed as given, never rebuilt), each page with a
conditional request: the page's ETag is sent back verbatim and a `304` reuses the cached body.
Rate limits come as 403 *or* 429; only the rate-limit signals tell them apart from a
permissions 403, which must not be retried.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from packaging.version import Version

from signer_tui.credentials import Secret, check_header_secret
from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceNotConfigured,
    SourceProtocolError,
    SourceRateLimited,
)
from signer_tui.sources.feedcache import (
    CacheEntry,
    EntryStore,
    FeedCache,
    FeedResult,
    SourceNotFound,
    falls_back_to_cache,
    optional_time,
    stale_fields,
)
from signer_tui.sources.http import DEFAULT_MAX_BYTES, HttpReply, HttpService, retry_after_seconds
from signer_tui.sources.versions import (
    ParsedVersion,
    Product,
    coerce_version,
    parse_tag,
    product_for_repo,
    version_in_range,
)

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
PER_PAGE = 100
# GitHub's advice when a secondary limit names no wait: at least one minute.
SECONDARY_LIMIT_WAIT = 60.0
SUMMARY_LIMIT = 300
BODY_LIMIT = 20_000

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^";,]*)"?')


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    tag: str
    name: str | None  # GitHub may send null
    body: str | None  # release notes (markdown, control characters stripped); may be null
    prerelease: bool
    created_at: datetime | None
    published_at: datetime | None
    target_commitish: str  # a commit, or (usually) a branch name
    html_url: str
    version: ParsedVersion | None  # None: not a normal release of this product (junk tag)

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease or (self.version is not None and self.version.prerelease)


@dataclass(frozen=True, kw_only=True)
class ReleaseFeed(FeedResult):
    repo: str
    product: Product | None
    releases: tuple[Release, ...]  # newest first as served; drafts left out, junk kept
    truncated: bool = False  # more pages existed (or a later page failed)
    drafts_skipped: int = 0

    @property
    def versioned(self) -> tuple[Release, ...]:
        """Releases whose tags are normal releases of the product."""
        return tuple(r for r in self.releases if r.version is not None)

    @property
    def junk(self) -> tuple[Release, ...]:
        return tuple(r for r in self.releases if r.version is None)

    def latest(self, track: str | None = None, *, prereleases: bool = False) -> Release | None:
        """The highest version on `track` ('node' / 'signer' for stacks-core; None = any)."""
        candidates = self.newer_than(None, track, prereleases=prereleases)
        return candidates[0] if candidates else None

    def newer_than(
        self,
        version: ParsedVersion | Version | None,
        track: str | None = None,
        *,
        prereleases: bool = False,
    ) -> tuple[Release, ...]:
        """Releases above `version` (all when None), highest first."""
        floor = version.version if isinstance(version, ParsedVersion) else version
        found = [
            r
            for r in self.versioned
            if r.version is not None
            and r.version.on_track(track)
            and (prereleases or not r.is_prerelease)
            and (floor is None or r.version.version > floor)
        ]
        return tuple(sorted(found, key=_release_version, reverse=True))

    def by_tag(self, tag: str) -> Release | None:
        return next((r for r in self.releases if r.tag == tag), None)


def _release_version(release: Release) -> Version:
    assert release.version is not None
    return release.version.version


@dataclass(frozen=True)
class AdvisoryVulnerability:
    ecosystem: str | None
    package: str | None
    vulnerable_range: str | None  # e.g. "< 3.1.0.0.8" or ">= 1.0.0, < 1.3.3"
    patched: str | None  # `patched_versions` (repository) or `first_patched_version` (global)


@dataclass(frozen=True)
class Advisory:
    ghsa_id: str
    cve_id: str | None
    summary: str
    severity: str | None  # critical / high / medium / low, or None when GitHub has none
    published_at: datetime | None
    withdrawn_at: datetime | None
    html_url: str
    product: Product | None  # whose version scheme the ranges use
    vulnerabilities: tuple[AdvisoryVulnerability, ...]


@dataclass(frozen=True, kw_only=True)
class AdvisoryFeed(FeedResult):
    repo: str
    product: Product | None
    advisories: tuple[Advisory, ...]
    truncated: bool = False


def affects(advisory: Advisory, version: ParsedVersion | Version | str) -> bool | None:
    """Does `advisory` cover `version`? None = cannot tell (no range, or one we cannot read)."""
    if advisory.withdrawn_at is not None:
        return False
    if isinstance(version, ParsedVersion):
        resolved: Version | None = version.version
    elif isinstance(version, Version):
        resolved = version
    else:
        resolved = coerce_version(advisory.product, version) if advisory.product else None
    if resolved is None or advisory.product is None:
        return None
    verdicts = [
        version_in_range(advisory.product, v.vulnerable_range, resolved)
        if v.vulnerable_range
        else None
        for v in advisory.vulnerabilities
    ]
    if any(v is True for v in verdicts):
        return True
    if verdicts and all(v is False for v in verdicts):
        return False
    return None


# -- parsing ----------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str | None:
    return clean_text(value, limit) if isinstance(value, str) else None


def _str(value: Any) -> str:
    return clean_text(value, 500) if isinstance(value, str) else ""


def parse_release(item: Any, product: Product | None) -> Release | None:
    """One release object; None when it has no usable tag."""
    if not isinstance(item, dict) or not isinstance(item.get("tag_name"), str):
        return None
    tag = clean_text(item["tag_name"], 200)
    return Release(
        tag=tag,
        name=_text(item.get("name"), 200),
        body=_text(item.get("body"), BODY_LIMIT),
        prerelease=item.get("prerelease") is True,
        created_at=optional_time(item.get("created_at")),
        published_at=optional_time(item.get("published_at")),
        target_commitish=_str(item.get("target_commitish")),
        html_url=_str(item.get("html_url")),
        version=parse_tag(product, tag) if product is not None else None,
    )


def _patched(item: dict[str, Any]) -> str | None:
    value = item.get("patched_versions")
    if value is None:
        value = item.get("first_patched_version")
    if isinstance(value, dict):  # older global-advisory shape: {"identifier": "1.2.3"}
        value = value.get("identifier")
    return _text(value, 200)


def parse_advisory(item: Any, product: Product | None) -> Advisory | None:
    """A repository advisory (or a global one: `first_patched_version`); None without an id."""
    if not isinstance(item, dict) or not isinstance(item.get("ghsa_id"), str):
        return None
    vulnerabilities = []
    for vuln in item.get("vulnerabilities") or ():
        if not isinstance(vuln, dict):
            continue
        raw_package = vuln.get("package")
        package: dict[str, Any] = raw_package if isinstance(raw_package, dict) else {}
        vulnerabilities.append(
            AdvisoryVulnerability(
                ecosystem=_text(package.get("ecosystem"), 100),
                package=_text(package.get("name"), 200),
                vulnerable_range=_text(vuln.get("vulnerable_version_range"), 200),
                patched=_patched(vuln),
            )
        )
    severity = item.get("severity")
    return Advisory(
        ghsa_id=clean_text(item["ghsa_id"], 100),
        cve_id=_text(item.get("cve_id"), 100),
        summary=_text(item.get("summary"), SUMMARY_LIMIT) or "",
        severity=clean_text(severity, 20).lower() if isinstance(severity, str) else None,
        published_at=optional_time(item.get("published_at")),
        withdrawn_at=optional_time(item.get("withdrawn_at")),
        html_url=_str(item.get("html_url")),
        product=product,
        vulnerabilities=tuple(vulnerabilities),
    )


def _error_message(reply: HttpReply) -> str:
    """GitHub's `{"message": …}`, parsed leniently (proxies answer with anything)."""
    try:
        data = reply.json(require_json_type=False)
    except SourceError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return clean_text(data["message"], 300)
    return clean_text(reply.text.strip(), 200)


def github_error(reply: HttpReply) -> SourceError:
    """The typed error for a non-2xx GitHub reply."""
    status, headers, evidence = reply.status, reply.headers, reply.evidence
    message = _error_message(reply)
    if status in (403, 429):
        retry = retry_after_seconds(headers)
        reset_wait = _reset_wait(headers.get("x-ratelimit-reset"))
        if headers.get("x-ratelimit-remaining") == "0":
            return SourceRateLimited(
                "rate limited (primary limit)",
                message,
                evidence,
                status,
                retry if retry is not None else reset_wait,
            )
        lowered = message.lower()
        if "secondary rate limit" in lowered or "abuse" in lowered or retry is not None:
            wait = retry if retry is not None else reset_wait
            return SourceRateLimited(
                "rate limited (secondary limit)",
                message,
                evidence,
                status,
                wait if wait is not None else SECONDARY_LIMIT_WAIT,
            )
        if status == 429:
            return SourceRateLimited("rate limited (HTTP 429)", message, evidence, status)
        return SourceAuthError("permission denied (HTTP 403)", message, evidence, status)
    if status == 401:
        return SourceAuthError("bad credentials (HTTP 401)", message, evidence, status)
    if status == 404:
        return SourceNotFound("not found", message, evidence, status)
    return SourceHTTPError(f"HTTP {status}", message, evidence, status)


def _reset_wait(value: str | None) -> float | None:
    try:
        return max(0.0, float(value) - time.time()) if value is not None else None
    except ValueError:
        return None


# -- the client -------------------------------------------------------------------------------


@dataclass
class _Pages:
    items: list[Any]
    fields: dict[str, Any]  # FeedResult fields
    truncated: bool


class GitHub(HttpService):
    """Releases and advisories from the GitHub REST API (one shared client)."""

    source = "github"

    def __init__(
        self,
        base_url: str = DEFAULT_API,
        *,
        token: str | Secret | None = None,
        timeout: float = 15.0,
        cache: FeedCache | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        headers = {"accept": MEDIA_TYPE, "x-github-api-version": API_VERSION}
        if token:
            # Registering the value (Secret does) lets the redactor scrub it from any output.
            secret = token if isinstance(token, Secret) else Secret(token)
            value = check_header_secret(secret, "the GitHub token")
            headers["authorization"] = f"Bearer {value}"
        # Redirects: GitHub answers a renamed repository with 301; httpx drops the
        # Authorization header if a redirect leaves the origin.
        super().__init__(
            base_url, timeout=timeout, headers=headers, max_bytes=max_bytes, follow_redirects=True
        )
        self.authenticated = bool(token)
        self._store = EntryStore(cache)

    async def releases(
        self, repo: str, max_pages: int = 3, *, product: Product | None = None
    ) -> ReleaseFeed:
        """`GET /repos/{repo}/releases`, newest first, up to `max_pages` pages of 100."""
        product = product or product_for_repo(repo)
        path = f"/repos/{_checked_repo(repo)}/releases?{urlencode({'per_page': PER_PAGE})}"
        pages = await self._pages(path, max_pages)
        releases, drafts = [], 0
        for item in pages.items:
            if isinstance(item, dict) and item.get("draft") is True:
                drafts += 1
                continue
            release = parse_release(item, product)
            if release is not None:
                releases.append(release)
        return ReleaseFeed(
            source=self.source,
            request=self.describe("GET", path, None),
            repo=repo,
            product=product,
            releases=tuple(releases),
            truncated=pages.truncated,
            drafts_skipped=drafts,
            **pages.fields,
        )

    async def advisories(
        self, repo: str, max_pages: int = 3, *, product: Product | None = None
    ) -> AdvisoryFeed:
        """Published repository security advisories of `repo`."""
        product = product or product_for_repo(repo)
        query = urlencode({"state": "published", "per_page": PER_PAGE})
        path = f"/repos/{_checked_repo(repo)}/security-advisories?{query}"
        pages = await self._pages(path, max_pages)
        advisories = [a for a in (parse_advisory(i, product) for i in pages.items) if a]
        return AdvisoryFeed(
            source=self.source,
            request=self.describe("GET", path, None),
            repo=repo,
            product=product,
            advisories=tuple(advisories),
            truncated=pages.truncated,
            **pages.fields,
        )

    # -- paging, conditional requests and the cache ------------------------------------------

    def _key(self, path: str) -> str:
        return self.describe("GET", path, None)

    async def _cached_list(self, key: str, problems: list[str]) -> CacheEntry | None:
        found = await self._store.get(key)
        if found.problem:
            problems.append(found.problem)
        if found.entry is not None and not isinstance(found.entry.body, list):
            problems.append("cached page is not a JSON array; ignored")
            return None
        return found.entry

    async def _pages(self, first: str, max_pages: int) -> _Pages:
        items: list[Any] = []
        evidence: list[Evidence] = []
        problems: list[str] = []
        confirmed: list[datetime] = []
        all_not_modified = True
        truncated = False
        failure: SourceError | None = None
        path: str | None = first
        for page in range(max(1, max_pages)):
            if path is None:
                break
            key = self._key(path)
            cached = await self._cached_list(key, problems)
            headers = {"if-none-match": cached.etag} if cached and cached.etag else None
            try:
                entry, not_modified = await self._fetch_page(key, path, cached, headers, evidence)
            except SourceError as exc:
                if page == 0:
                    return await self._stale(first, max_pages, exc, problems)
                # Later pages hold older releases: keep what arrived and say it is partial.
                failure, truncated = exc, True
                if exc.evidence is not None:
                    evidence.append(exc.evidence)
                break
            all_not_modified = all_not_modified and not_modified
            problem = await self._store.put(entry)
            if problem:
                problems.append(problem)
            confirmed.append(entry.validated_at)
            items.extend(entry.body)
            path, note = self._next_path(entry.link)
            if note:
                problems.append(note)
                truncated = True
        if path is not None and failure is None:
            truncated = True  # max_pages reached with more pages left
        fields: dict[str, Any] = {
            "fetched_at": min(confirmed),
            "not_modified": all_not_modified,
            "cache_problem": "; ".join(problems),
            "evidence": tuple(evidence),
        }
        if failure is not None:
            fields["error_title"] = failure.title
            if isinstance(failure, SourceRateLimited):
                fields["retry_after"] = failure.retry_after
        return _Pages(items, fields, truncated)

    async def _fetch_page(
        self,
        key: str,
        path: str,
        cached: CacheEntry | None,
        headers: dict[str, str] | None,
        evidence: list[Evidence],
    ) -> tuple[CacheEntry, bool]:
        """One page: (entry to use and store, whether the server said 304)."""
        reply = await self.request("GET", path, headers=headers)
        observed = reply.evidence.observed_at
        if reply.status == 304 and cached is not None:
            evidence.append(reply.evidence.with_decoded("304 Not Modified: cached body reused"))
            return cached.revalidated(observed), True
        if reply.status != 200:
            raise github_error(reply)
        body = reply.json()
        if not isinstance(body, list):
            raise SourceProtocolError(
                "unexpected response", "expected a JSON array", reply.evidence
            )
        evidence.append(reply.evidence)
        etag, link = reply.headers.get("etag"), reply.headers.get("link")
        return CacheEntry(key, body, observed, observed, etag, link), False

    async def _stale(
        self, first: str, max_pages: int, exc: SourceError, problems: list[str]
    ) -> _Pages:
        """Answer from the cached pages after the live request failed, or re-raise."""
        if not falls_back_to_cache(exc):
            raise exc
        entries: list[CacheEntry] = []
        path: str | None = first
        truncated = False
        while path is not None and len(entries) < max(1, max_pages):
            entry = await self._cached_list(self._key(path), problems)
            if entry is None:
                truncated = bool(entries)
                break
            entries.append(entry)
            path, _ = self._next_path(entry.link)
        if not entries:
            if problems:
                exc.detail = "; ".join(filter(None, [exc.detail, *problems]))
            raise exc
        if path is not None and len(entries) >= max(1, max_pages):
            truncated = True
        items = [item for entry in entries for item in entry.body]
        paths = [self._store.path_for(e.key) for e in entries]
        fields = stale_fields(exc, entries, self.source, paths)
        fields["cache_problem"] = "; ".join(problems)
        return _Pages(items, fields, truncated)

    def _next_path(self, link: str | None) -> tuple[str | None, str]:
        """The `rel="next"` target as a path under base_url; other hosts are not followed."""
        if not link:
            return None, ""
        for target, rels in _LINK.findall(link):
            if "next" not in rels.split():
                continue
            base = httpx.URL(self.base_url + "/")
            url = base.join(target)
            prefix = base.raw_path.split(b"?")[0]
            if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port) or (
                not url.raw_path.startswith(prefix)
            ):
                return None, "pagination link to another host ignored"
            return "/" + url.raw_path[len(prefix) :].decode("ascii"), ""
        return None, ""


def _checked_repo(repo: str) -> str:
    if not _REPO.match(repo):
        raise SourceNotConfigured("invalid repository", "expected owner/name")
    return repo
