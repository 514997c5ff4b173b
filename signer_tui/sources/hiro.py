"""An independent Hiro-style chain API: the cross-check of the operator's own node.

Wire format: wire-formats.md §1.6. `/v2/*` is a transparent proxy to a stacks node, so the
registry reads are `RegistryClient`'s. The API's own errors are JSON `{"error", "message"}`.
429s carry `retry-after`: one retry when the wait is short (<= 2 s), otherwise a typed
`ApiRateLimited` with the rate-limit headers, which are also kept in `rate_limit` after every
answer. The API key travels only in the `x-api-key` header, never in evidence or errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from signer_tui.credentials import Secret, check_header_secret
from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceHTTPError,
    SourceProtocolError,
    SourceRateLimited,
)
from signer_tui.sources.http import HttpReply, retry_after_seconds
from signer_tui.sources.stacks import JsonFields, RegistryClient, json_fields

MAX_RETRY_WAIT = 2.0
_RATE_HEADER_PREFIXES = ("ratelimit-", "x-ratelimit-")
_REDIRECTS = (301, 302, 303, 307, 308)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class RateLimit:
    """The rate-limit headers of one answer (`reset` is a unix timestamp)."""

    limit: int | None
    remaining: int | None
    reset: int | None
    retry_after: float | None
    headers: tuple[tuple[str, str], ...]  # every ratelimit-* / x-ratelimit-* header, cleaned

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimit | None:
        found = tuple(
            (name.lower(), clean_text(value, 100))
            for name, value in headers.items()
            if name.lower().startswith(_RATE_HEADER_PREFIXES)
        )
        retry_after = retry_after_seconds(headers)
        if not found and retry_after is None:
            return None
        return cls(
            limit=_int_header(headers, "ratelimit-limit"),
            remaining=_int_header(headers, "ratelimit-remaining"),
            reset=_int_header(headers, "ratelimit-reset"),
            retry_after=retry_after,
            headers=found,
        )


class ApiRateLimited(SourceRateLimited):
    """HTTP 429 from the API; `rate_limit` holds the headers that came with it."""

    def __init__(
        self,
        title: str | None = None,
        detail: str = "",
        evidence: Evidence | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.rate_limit = rate_limit
        super().__init__(title, detail, evidence, status, retry_after)


@dataclass(frozen=True)
class ChainTip:
    """The API's chain tip; hashes normalised to lower-case hex without `0x` (as the node)."""

    block_height: int
    block_hash: str
    index_block_hash: str | None
    burn_block_height: int | None
    microblock_hash: str | None
    microblock_sequence: int | None


@dataclass(frozen=True)
class ApiStatus:
    """`GET /extended`. `chain_tip` is None when the API's database is still empty."""

    status: str
    server_version: str | None
    chain_tip: ChainTip | None
    rate_limit: RateLimit | None
    evidence: Evidence


def _api_error_detail(reply: HttpReply) -> str:
    """`error: message` from the API's JSON error body, else the cleaned text."""
    if reply.content_type == "application/json":
        try:
            body = reply.json()
        except SourceProtocolError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            message = body.get("message")
            text = f"{body['error']}: {message}" if isinstance(message, str) else body["error"]
            return clean_text(text, 200)
    return clean_text(reply.text.strip(), 200)


class ChainApi(RegistryClient):
    source = "chain-api"

    def __init__(
        self,
        base_url: str,
        *,
        deployer: str,
        api_key: str | Secret | None = None,
        timeout: float = 10.0,
    ) -> None:
        key = api_key.reveal() if isinstance(api_key, Secret) else api_key
        if key:
            key = check_header_secret(Secret(key), "the chain API key")
        # Redirects are followed by hand (same origin only): httpx would carry x-api-key to
        # any host a redirect names.
        super().__init__(
            base_url,
            deployer=deployer,
            timeout=timeout,
            headers={"x-api-key": key} if key else None,
        )
        self.has_api_key = bool(key)
        self.rate_limit: RateLimit | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpReply:
        for attempt in (1, 2):
            reply = await super().request(
                method,
                path,
                params=params,
                json_body=json_body,
                content=content,
                headers=headers,
                timeout=timeout,
            )
            self.rate_limit = RateLimit.from_headers(reply.headers)
            if reply.status != 429:
                return reply
            wait = retry_after_seconds(reply.headers)
            if attempt == 2 or wait is None or wait > MAX_RETRY_WAIT:
                break
            await asyncio.sleep(wait)
        raise ApiRateLimited(
            "rate limited (HTTP 429)",
            _api_error_detail(reply) + (f"; retry after {wait:g} s" if wait is not None else ""),
            reply.evidence,
            429,
            wait,
            self.rate_limit,
        )

    def check_reply(self, reply: HttpReply) -> None:
        if reply.status in (401, 403):
            title = "API key rejected" if self.has_api_key else "API key required"
            raise SourceAuthError(title, _api_error_detail(reply), reply.evidence, reply.status)
        # The API's own errors are JSON (condensed to "error: message"); /v2 answers are the
        # node's text/plain ones.
        if reply.status != 200 and reply.content_type == "application/json":
            raise SourceHTTPError(
                f"HTTP {reply.status}", _api_error_detail(reply), reply.evidence, reply.status
            )
        super().check_reply(reply)

    def _same_origin_path(self, location: str) -> str | None:
        base = httpx.URL(self.base_url + "/")
        target = base.join(location)
        if (target.scheme, target.host, target.port) != (base.scheme, base.host, base.port):
            return None
        if not target.path.startswith(base.path):
            return None
        query = f"?{target.query.decode()}" if target.query else ""
        return "/" + target.path[len(base.path) :] + query

    async def status(self, path: str = "/extended") -> ApiStatus:
        """API status; a 301 (as `/extended/v1/status` and `/` answer now) is followed once."""
        reply = await self.request("GET", path)
        if reply.status in _REDIRECTS:
            location = reply.headers.get("location", "")
            target = self._same_origin_path(location) if location else None
            if target is None:
                raise SourceProtocolError(
                    "unexpected redirect",
                    f"HTTP {reply.status} to {clean_text(location, 200) or 'nowhere'}",
                    reply.evidence,
                )
            reply = await self.request("GET", target)
        self.check_reply(reply)
        f = json_fields(reply, "/extended")
        state = f.text("status")
        tip = f.opt_sub("chain_tip")
        chain_tip = _chain_tip(tip) if tip is not None else None
        where = f"tip {chain_tip.block_height}" if chain_tip else "no chain tip yet"
        return ApiStatus(
            status=state,
            server_version=f.opt_text("server_version"),
            chain_tip=chain_tip,
            rate_limit=self.rate_limit,
            evidence=reply.evidence.with_decoded(f"status {state}, {where}"),
        )


def _chain_tip(f: JsonFields) -> ChainTip:
    return ChainTip(
        block_height=f.integer("block_height"),
        block_hash=f.hash("block_hash", 32),
        index_block_hash=f.opt_hash("index_block_hash", 32),
        burn_block_height=f.opt_integer("burn_block_height"),
        microblock_hash=f.opt_text("microblock_hash"),
        microblock_sequence=f.opt_integer("microblock_sequence"),
    )
