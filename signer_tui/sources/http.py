"""One shared `httpx.AsyncClient` per service, with a hard deadline and typed errors.

httpx's read timeout restarts with every chunk, so a server that drips one byte a second never
times out on its own; every request here runs under an overall deadline as well. Bodies are
read in a stream and cut off at `max_bytes` so an oversized answer cannot exhaust memory.

TLS: httpx builds an SSL context (and loads the whole CA bundle, ~23 ms) for every client,
even one that only ever talks plain HTTP to loopback; at 50 profiles that was most of the
start-up. Here the process has one verifying context, made on the first https client, and
plain-http clients get none.
"""

from __future__ import annotations

import asyncio
import json
import math
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from signer_tui import __version__
from signer_tui.model import RAW_LIMIT, Evidence, clean_text, utcnow
from signer_tui.sources.errors import (
    SourceAuthError,
    SourceError,
    SourceHTTPError,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceTooLarge,
    SourceUnreachable,
)

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
USER_AGENT = f"signer-tui/{__version__}"
# httpx's pool defaults, except how long an idle connection is kept: httpx's 5 s is shorter
# than any poll interval (15 s by default), so every poll opened a new TCP connection (600 in
# 40 s at 50 profiles). 20 s spans the default interval and stays under bitcoind's own idle
# timeout (`rpcservertimeout`, 30 s); a connection the server closed first is detected when
# httpcore takes it from the pool and a new one is opened.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=20.0)

_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one verifying SSL context (certifi's CA bundle), made on first use.

    Clients ignore the environment (`trust_env=False`), so the bundle is certifi's, as it
    was with a context per client. SSLContext is safe to share between connections."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context(trust_env=False)
        return _ssl_context


class _PlainHttpTransport(httpx.AsyncHTTPTransport):
    """httpx's transport for an http:// service, without the SSL context its constructor
    always builds. Should a redirect ever lead such a client to https, httpcore makes a
    verifying context (certifi's bundle) for that connection itself."""

    def __init__(self) -> None:  # super().__init__ would build the context: not called
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=None,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
        )


def transport_for(base_url: str) -> httpx.AsyncHTTPTransport:
    """The shared SSL context for an https service; none for a plain-http one."""
    if base_url.lower().startswith("https://"):
        return httpx.AsyncHTTPTransport(verify=shared_ssl_context(), limits=_LIMITS)
    return _PlainHttpTransport()


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: httpx.Headers
    body: bytes
    evidence: Evidence

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        value: str = self.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    def json(self, *, require_json_type: bool = True) -> Any:
        """Decode a JSON body; a wrong content type or malformed JSON is a protocol error."""
        if require_json_type and self.content_type != "application/json":
            raise SourceProtocolError(
                "wrong content type",
                f"expected application/json, got {self.content_type or 'none'}",
                self.evidence,
            )
        try:
            return json.loads(self.body, parse_constant=_no_constant, parse_float=_finite_float)
        except ValueError as exc:
            raise SourceProtocolError(
                "malformed JSON", clean_text(str(exc), 200), self.evidence
            ) from exc


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have; no service sends them.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_status(reply: HttpReply, *, ok: tuple[int, ...] = (200,)) -> None:
    """Map a non-OK status to the matching typed error."""
    if reply.status in ok:
        return
    detail = clean_text(reply.text.strip(), 200)
    if reply.status in (401, 403):
        raise SourceAuthError(f"HTTP {reply.status}", detail, reply.evidence, reply.status)
    if reply.status == 429:
        raise SourceRateLimited(
            "rate limited (HTTP 429)",
            detail,
            reply.evidence,
            reply.status,
            retry_after_seconds(reply.headers),
        )
    raise SourceHTTPError(f"HTTP {reply.status}", detail, reply.evidence, reply.status)


class HttpService:
    """Base of every HTTP client: owns the service's single AsyncClient."""

    source = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        follow_redirects: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_bytes = max_bytes
        all_headers = {"user-agent": USER_AGENT}
        all_headers.update(headers or {})
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers=all_headers,
            auth=auth,
            follow_redirects=follow_redirects,
            # Operators' proxies variables must not reroute loopback calls to a signer.
            trust_env=False,
            transport=transport_for(self.base_url),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> HttpService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def describe(self, method: str, path: str, params: Mapping[str, Any] | None) -> str:
        url = httpx.URL(self.base_url + path, params=params) if params else self.base_url + path
        return f"{method} {url}"

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
        deadline = timeout if timeout is not None else self.timeout
        described = self.describe(method, path, params)
        started = time.monotonic()
        observed = utcnow()

        def evidence(status: int | None = None, raw: str = "", error: str = "") -> Evidence:
            return Evidence(
                source=self.source,
                request=described,
                observed_at=observed,
                status=status,
                raw=raw,
                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
                error=error,
            )

        try:
            async with asyncio.timeout(deadline):
                request = self._client.build_request(
                    method, path, params=params, json=json_body, content=content, headers=headers
                )
                response = await self._client.send(request, stream=True)
                try:
                    body = await self._read_capped(response, evidence)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise SourceTimeout(
                f"timed out after {deadline:g} s", "", evidence(error="timeout")
            ) from exc
        except httpx.TimeoutException as exc:
            raise SourceTimeout(
                f"timed out after {deadline:g} s", type(exc).__name__, evidence(error="timeout")
            ) from exc
        except httpx.ConnectError as exc:
            raise SourceUnreachable(
                "connection refused" if _refused(exc) else "unreachable",
                clean_text(str(exc), 200),
                evidence(error=clean_text(str(exc), 200)),
            ) from exc
        except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
            raise SourceProtocolError(
                "broken HTTP response",
                clean_text(str(exc), 200),
                evidence(error=clean_text(str(exc), 200)),
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceUnreachable(
                "unreachable", clean_text(str(exc), 200), evidence(error=type(exc).__name__)
            ) from exc
        raw = clean_text(body.decode("utf-8", errors="replace"), RAW_LIMIT)
        return HttpReply(
            response.status_code, response.headers, body, evidence(response.status_code, raw)
        )

    async def _read_capped(self, response: httpx.Response, evidence: Any) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceTooLarge(
                "response too large",
                f"{int(declared)} bytes declared, limit {self.max_bytes}",
                evidence(response.status_code, error="too large"),
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceTooLarge(
                    "response too large",
                    f"more than {self.max_bytes} bytes",
                    evidence(response.status_code, error="too large"),
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _refused(exc: BaseException) -> bool:
    """httpx words it 'All connection attempts failed'; the OS error underneath says why."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_title(exc: BaseException) -> str:
    """The one-line title shown for any failure: typed titles, or the class name."""
    if isinstance(exc, SourceError):
        return exc.title
    return f"unexpected {type(exc).__name__}"
