"""Simulated GitHub REST API: releases and repository security advisories (wire-formats §4).

Served from `SimState.releases` / `SimState.advisories`, with the quirks a client must cope with:
`Link` pagination whose URLs point at `/repositories/{id}/…` (follow them, don't rebuild them),
weak ETags and `304` with an empty body, `x-ratelimit-*` headers on every reply, primary limits
as 403 *or* 429 with `x-ratelimit-remaining: 0`, secondary limits with `retry-after`, `null`
release names and bodies, drafts visible only to authenticated callers, and JSON 404s.
Unauthenticated `304`s still use up quota (as observed in the wild); authenticated ones don't.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from signer_tui.sim.server import SimApp, SimRequest, SimResponse
from signer_tui.sim.state import AdvisorySpec, ReleaseSpec, SimState

JSON_TYPE = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
API_VERSIONS = ("2022-11-28", "2026-03-10")
UNAUTHENTICATED_LIMIT = 60
AUTHENTICATED_LIMIT = 5000
WINDOW_SECONDS = 3600
SECONDARY_RETRY_AFTER = 60
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
DEFAULT_BRANCHES = {"stacks-network/stacks-core": "master", "bitcoin/bitcoin": "master"}
# Releases are created (tagged commit) a little before they are published.
CREATED_BEFORE_PUBLISHED = timedelta(hours=2)

BOT = {
    "login": "github-actions[bot]",
    "id": 41898282,
    "node_id": "MDM6Qm90NDE4OTgyODI=",
    "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
    "gravatar_id": "",
    "url": "https://api.github.com/users/github-actions%5Bbot%5D",
    "html_url": "https://github.com/apps/github-actions",
    "type": "Bot",
    "user_view_type": "public",
    "site_admin": False,
}

_ROUTES = [
    ("releases", re.compile(r"^/repos/([^/]+/[^/]+)/releases/?$")),
    ("latest", re.compile(r"^/repos/([^/]+/[^/]+)/releases/latest/?$")),
    ("by_tag", re.compile(r"^/repos/([^/]+/[^/]+)/releases/tags/(.+)$")),
    ("releases", re.compile(r"^/repositories/(\d+)/releases/?$")),
    ("advisories", re.compile(r"^/repos/([^/]+/[^/]+)/security-advisories/?$")),
    ("advisories", re.compile(r"^/repositories/(\d+)/security-advisories/?$")),
    ("rate_limit", re.compile(r"^/rate_limit/?$")),
]


def _stable_id(*parts: str) -> int:
    return int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:7], 16)


def repo_id(repo: str) -> int:
    return _stable_id("repo", repo.lower())


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(message: str, status: int, docs: str = DOCS) -> SimResponse:
    body = json.dumps({"message": message, "documentation_url": docs}).encode()
    return SimResponse(status, body, JSON_TYPE)


@dataclass
class _Quota:
    limit: int
    used: int
    reset: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("x-ratelimit-limit", str(self.limit)),
            ("x-ratelimit-remaining", str(self.remaining)),
            ("x-ratelimit-reset", str(self.reset)),
            ("x-ratelimit-used", str(self.used)),
            ("x-ratelimit-resource", "core"),
        ]


class GitHubSim(SimApp):
    service = "github"

    def __init__(self, state: SimState) -> None:
        super().__init__(state)
        self._lock = threading.Lock()
        self._used = {False: 0, True: 0}  # requests this window, by authenticated-or-not
        self._reset = int(time.time()) + WINDOW_SECONDS
        self._request_ids = 0

    # -- the SimApp interface ------------------------------------------------------------------

    def server_error(self, request: SimRequest) -> SimResponse:
        return _error("Server Error", 500)

    def handle(self, request: SimRequest) -> SimResponse:
        authenticated = "authorization" in request.headers
        if not request.headers.get("user-agent"):
            return SimResponse(
                403,
                b"Request forbidden by administrative rules. Please make sure your request has "
                b"a User-Agent header (https://docs.github.com/rest/overview/resources-in-the-"
                b"rest-api#user-agent-required). Check https://developer.github.com for other "
                b"possible causes.\n",
                "text/plain; charset=utf-8",
            )
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            return _error(
                f"Unsupported 'X-GitHub-Api-Version' header: {version}. "
                f"Supported versions are: {', '.join(API_VERSIONS)}",
                400,
                f"{DOCS}/overview/api-versions",
            )
        with self.state.lock:
            rate_limited = self.state.github_rate_limited
            limit_status = self.state.github_rate_limit_status
            secondary = self.state.github_secondary_limit
            forbidden = self.state.github_token_forbidden
            response = self._refusal(request, authenticated, secondary, forbidden)
            if response is None:
                response = self._route(request, authenticated)
        quota, exhausted = self._count(request, authenticated, response, rate_limited)
        if exhausted:
            who = "user ID 1" if authenticated else "127.0.0.1"
            message = f"API rate limit exceeded for {who}."
            if not authenticated:
                message += (
                    " (But here's the good news: Authenticated requests get a higher rate "
                    "limit. Check out the documentation for more details.)"
                )
            response = _error(message, limit_status, RATE_DOCS)
        elif secondary:
            response.status = limit_status
        response.headers = [*response.headers, *quota.headers(), *self._service_headers()]
        if authenticated:
            response.headers.append(("cache-control", "private, max-age=60, s-maxage=60"))
        else:
            response.headers.append(("cache-control", "public, max-age=60, s-maxage=60"))
        return response

    # -- quota -----------------------------------------------------------------------------

    def _count(
        self, request: SimRequest, authenticated: bool, response: SimResponse, limited: bool
    ) -> tuple[_Quota, bool]:
        """Charge the request against the primary limit; (quota, whether it is exhausted)."""
        limit = AUTHENTICATED_LIMIT if authenticated else UNAUTHENTICATED_LIMIT
        with self._lock:
            now = int(time.time())
            if now >= self._reset:
                self._used = {False: 0, True: 0}
                self._reset = now + WINDOW_SECONDS
            if request.path.rstrip("/") == "/rate_limit":
                return _Quota(limit, self._used[authenticated], self._reset), False
            if limited or self._used[authenticated] >= limit:
                return _Quota(limit, limit, self._reset), True
            if not (response.status == 304 and authenticated):
                self._used[authenticated] += 1
            return _Quota(limit, self._used[authenticated], self._reset), False

    def _service_headers(self) -> list[tuple[str, str]]:
        with self._lock:
            self._request_ids += 1
            request_id = f"C0DE:{self._request_ids:06X}:SIM"
        return [
            ("server", "github.com"),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-github-api-version-selected", API_VERSIONS[0]),
            ("x-github-request-id", request_id),
            ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP,Accept-Encoding, Accept"),
        ]

    def _refusal(
        self, request: SimRequest, authenticated: bool, secondary: bool, forbidden: bool
    ) -> SimResponse | None:
        if secondary:
            return SimResponse(
                403,
                json.dumps(
                    {
                        "message": "You have exceeded a secondary rate limit. Please wait a few "
                        "minutes before you try again. If you reach out to GitHub Support for "
                        "help, please include the request ID C0DE:0000:SIM.",
                        "documentation_url": f"{RATE_DOCS}#about-secondary-rate-limits",
                    }
                ).encode(),
                JSON_TYPE,
                [("retry-after", str(SECONDARY_RETRY_AFTER))],
            )
        if forbidden and authenticated:
            return _error("Resource not accessible by personal access token", 403)
        return None

    # -- routing -----------------------------------------------------------------------------

    def _repo(self, ident: str) -> str | None:
        """The canonical `owner/name` for a path's repo (case-insensitive) or numeric id."""
        known = list(self.state.releases) + list(self.state.advisories)
        for repo in known:
            if repo.lower() == ident.lower() or str(repo_id(repo)) == ident:
                return repo
        return None

    def _route(self, request: SimRequest, authenticated: bool) -> SimResponse:
        for name, pattern in _ROUTES:
            match = pattern.match(request.path)
            if not match:
                continue
            if request.method not in ("GET", "HEAD"):
                return _error("Not Found", 404)
            if name == "rate_limit":
                return self._json(request, self._rate_limit_body(authenticated))
            repo = self._repo(unquote(match[1]))
            if repo is None:
                return _error("Not Found", 404, f"{DOCS}/releases/releases")
            if name == "releases":
                return self._releases(request, repo, authenticated)
            if name == "latest":
                return self._latest(request, repo)
            if name == "by_tag":
                return self._by_tag(request, repo, unquote(match[2]), authenticated)
            return self._advisories(request, repo)
        return _error("Not Found", 404)

    def _rate_limit_body(self, authenticated: bool) -> dict[str, Any]:
        limit = AUTHENTICATED_LIMIT if authenticated else UNAUTHENTICATED_LIMIT
        with self._lock:
            used, reset = self._used[authenticated], self._reset
        core = {"limit": limit, "used": used, "remaining": max(0, limit - used), "reset": reset}
        return {"resources": {"core": core}, "rate": core}

    def _json(
        self, request: SimRequest, value: Any, links: list[tuple[str, str]] | None = None
    ) -> SimResponse:
        """200 with a weak ETag, or 304 with an empty body when If-None-Match matches."""
        body = json.dumps(value).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()}"'
        headers = [("etag", etag)]
        if links:
            headers.append(("link", ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links)))
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return SimResponse(304, b"", None, headers)
        return SimResponse(200, body, JSON_TYPE, headers)

    # -- releases ----------------------------------------------------------------------------

    def _visible(self, repo: str, authenticated: bool) -> list[ReleaseSpec]:
        specs = [s for s in self.state.releases.get(repo, []) if authenticated or not s.draft]
        # Newest first by creation time, as GitHub lists them.
        return sorted(specs, key=lambda s: s.published_at, reverse=True)

    def _release(self, request: SimRequest, repo: str, spec: ReleaseSpec) -> dict[str, Any]:
        api = f"http://{request.headers.get('host', '127.0.0.1')}"
        rid = _stable_id("release", repo, spec.tag)
        html_tag = f"untagged-{rid:x}" if spec.draft else spec.tag
        node = base64.b64encode(f"0:Release{rid}".encode()).decode().rstrip("=")
        return {
            "url": f"{api}/repos/{repo}/releases/{rid}",
            "assets_url": f"{api}/repos/{repo}/releases/{rid}/assets",
            "upload_url": f"https://uploads.github.com/repos/{repo}/releases/{rid}/assets"
            "{?name,label}",
            "html_url": f"https://github.com/{repo}/releases/tag/{html_tag}",
            "id": rid,
            "author": BOT,
            "node_id": f"RE_kwDO{node}",
            "tag_name": spec.tag,
            "target_commitish": spec.target_commitish or DEFAULT_BRANCHES.get(repo, "main"),
            "name": spec.name,
            "draft": spec.draft,
            "immutable": False,
            "prerelease": spec.prerelease,
            "created_at": _iso(spec.published_at - CREATED_BEFORE_PUBLISHED),
            "updated_at": _iso(spec.published_at),
            "published_at": None if spec.draft else _iso(spec.published_at),
            "assets": [],
            "tarball_url": f"{api}/repos/{repo}/tarball/{spec.tag}",
            "zipball_url": f"{api}/repos/{repo}/zipball/{spec.tag}",
            "body": spec.body,
        }

    def _releases(self, request: SimRequest, repo: str, authenticated: bool) -> SimResponse:
        specs = self._visible(repo, authenticated)
        per_page = _int_arg(request.arg("per_page"), DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        page = _int_arg(request.arg("page"), 1, 1, 10**6)
        last = max(1, -(-len(specs) // per_page))
        chunk = specs[(page - 1) * per_page : page * per_page]
        base = f"http://{request.headers.get('host', '127.0.0.1')}/repositories/{repo_id(repo)}"

        def url(n: int) -> str:
            return f"{base}/releases?{urlencode({'per_page': per_page, 'page': n})}"

        links: list[tuple[str, str]] = []
        if page > 1:
            links.append(("prev", url(min(page - 1, last))))
        if page < last:
            links += [("next", url(page + 1)), ("last", url(last))]
        if page > 1:
            links.append(("first", url(1)))
        return self._json(request, [self._release(request, repo, s) for s in chunk], links)

    def _latest(self, request: SimRequest, repo: str) -> SimResponse:
        stable = [s for s in self.state.releases.get(repo, []) if not s.draft and not s.prerelease]
        if not stable:
            return _error("Not Found", 404, f"{DOCS}/releases/releases#get-the-latest-release")
        newest = max(stable, key=lambda s: s.published_at - CREATED_BEFORE_PUBLISHED)
        return self._json(request, self._release(request, repo, newest))

    def _by_tag(self, request: SimRequest, repo: str, tag: str, authenticated: bool) -> SimResponse:
        for spec in self._visible(repo, authenticated):
            if spec.tag == tag and not spec.draft:
                return self._json(request, self._release(request, repo, spec))
        return _error("Not Found", 404, f"{DOCS}/releases/releases#get-a-release-by-tag-name")

    # -- advisories --------------------------------------------------------------------------

    def _advisory(self, request: SimRequest, repo: str, spec: AdvisorySpec) -> dict[str, Any]:
        api = f"http://{request.headers.get('host', '127.0.0.1')}"
        identifiers = [{"value": spec.ghsa_id, "type": "GHSA"}]
        if spec.cve_id:
            identifiers.append({"value": spec.cve_id, "type": "CVE"})
        when = _iso(spec.published_at)
        owner = repo.split("/", 1)[0]
        return {
            "ghsa_id": spec.ghsa_id,
            "cve_id": spec.cve_id,
            "url": f"{api}/repos/{repo}/security-advisories/{spec.ghsa_id}",
            "html_url": f"https://github.com/{repo}/security/advisories/{spec.ghsa_id}",
            "summary": spec.summary,
            "description": spec.description,
            "severity": spec.severity,
            "author": None,
            "publisher": {**BOT, "login": owner, "type": "Organization"},
            "identifiers": identifiers,
            "state": "published",
            "created_at": when,
            "updated_at": when,
            "published_at": when,
            "closed_at": None,
            "withdrawn_at": None,
            "submission": None,
            "vulnerabilities": [
                {
                    "package": {"ecosystem": spec.ecosystem, "name": spec.package},
                    "vulnerable_version_range": spec.vulnerable_version_range,
                    "patched_versions": spec.patched_versions,
                    "vulnerable_functions": [],
                }
            ],
            "cvss": {"vector_string": None, "score": None},
            "cvss_severities": {"cvss_v3": None, "cvss_v4": None},
            "cwes": [],
            "cwe_ids": [],
            "credits": [],
            "credits_detailed": [],
            "collaborating_users": None,
            "collaborating_teams": None,
            "private_fork": None,
        }

    def _advisories(self, request: SimRequest, repo: str) -> SimResponse:
        state = request.arg("state")
        specs = list(self.state.advisories.get(repo, []))
        if state is not None and state != "published":
            specs = []  # every simulated advisory is published
        specs.sort(key=lambda s: s.published_at, reverse=request.arg("direction") != "asc")
        per_page = _int_arg(request.arg("per_page"), DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        start = _cursor(request.arg("after"))
        chunk = specs[start : start + per_page]
        links: list[tuple[str, str]] = []
        if start + per_page < len(specs):
            host = request.headers.get("host", "127.0.0.1")
            params = {k: v[0] for k, v in request.query.items() if k not in ("after", "before")}
            params["after"] = base64.b64encode(f"cursor:{start + per_page}".encode()).decode()
            base = f"http://{host}/repositories/{repo_id(repo)}/security-advisories"
            links.append(("next", f"{base}?{urlencode(params)}"))
        return self._json(request, [self._advisory(request, repo, s) for s in chunk], links)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        candidate == "*" or candidate.removeprefix("W/") == wanted
        for candidate in (c.strip() for c in header.split(","))
    )


def _int_arg(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(value))) if value is not None else default
    except ValueError:
        return default


def _cursor(value: str | None) -> int:
    if not value:
        return 0
    try:
        text = base64.b64decode(value, validate=True).decode()
        return max(0, int(text.removeprefix("cursor:")))
    except ValueError:
        return 0
