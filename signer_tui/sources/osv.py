"""OSV.dev client (wire-formats §5.1): vulnerability look-ups by package version, git tag or commit.

OSV answers "no match" with `{}`. For our targets that is the normal answer (Bitcoin Core is
covered only through NVD-derived `GIT` ranges, stacks-core and sBTC barely at all), so an empty
answer is reported as `Coverage.NO_DATA` — an absence of records, never evidence of safety.
Errors come gRPC-style: `{"code": 3, "message": "invalid ecosystem", "details": []}`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from signer_tui.model import Evidence, clean_text, utcnow
from signer_tui.sources.errors import (
    SourceError,
    SourceHTTPError,
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
from signer_tui.sources.http import (
    DEFAULT_MAX_BYTES,
    HttpReply,
    HttpService,
    retry_after_seconds,
)

DEFAULT_API = "https://api.osv.dev"
MAX_BATCH = 1000  # the server's limit per querybatch request
MAX_PAGES = 5  # OSV pages only past 1,000 results; more than this is not a feed we can show
GRPC_NOT_FOUND = 5


class Coverage(enum.Enum):
    MATCHED = "matched"  # OSV holds records for this query
    NO_DATA = "no data"  # OSV returned `{}`: nothing known, which is not the same as safe


class OsvError(SourceHTTPError):
    """A gRPC-style OSV error; `code` is the gRPC status (3 = InvalidArgument)."""

    title = "OSV error"

    def __init__(
        self,
        title: str | None = None,
        detail: str = "",
        evidence: Evidence | None = None,
        status: int | None = None,
        code: int | None = None,
    ) -> None:
        self.code = code
        super().__init__(title, detail, evidence, status)


@dataclass(frozen=True)
class OsvQuery:
    """One query: a package version, or a commit (exactly one of `version` / `commit`)."""

    ecosystem: str | None = None
    name: str | None = None
    version: str | None = None
    commit: str | None = None

    @classmethod
    def package(cls, name: str, ecosystem: str, version: str) -> OsvQuery:
        return cls(ecosystem=ecosystem, name=name, version=version)

    @classmethod
    def git(cls, repo_url: str, version_or_tag: str) -> OsvQuery:
        """A `GIT` query: OSV's NVD-derived ranges for C/C++ projects such as Bitcoin Core."""
        return cls(ecosystem="GIT", name=repo_url, version=version_or_tag)

    @classmethod
    def for_commit(cls, commit: str) -> OsvQuery:
        return cls(commit=commit)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.name is not None or self.ecosystem is not None:
            package = {"name": self.name, "ecosystem": self.ecosystem}
            body["package"] = {k: v for k, v in package.items() if v is not None}
        if self.version is not None:
            body["version"] = self.version
        if self.commit is not None:
            body["commit"] = self.commit
        return body

    def describe(self) -> str:
        if self.commit is not None:
            return f"commit {self.commit}"
        return f"{self.ecosystem}:{self.name}@{self.version}"


@dataclass(frozen=True)
class OsvVuln:
    """A full OSV record, trimmed to what the console shows."""

    id: str
    summary: str
    details: str
    aliases: tuple[str, ...]
    modified: datetime | None
    published: datetime | None
    withdrawn: datetime | None
    severity: tuple[tuple[str, str], ...]  # (type, score) e.g. ("CVSS_V3", "CVSS:3.1/…")
    references: tuple[str, ...]
    fixed: tuple[str, ...]  # `fixed` events of the affected ranges (versions or commits)
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class OsvRef:
    """A querybatch hit: OSV returns only the id and the modified time."""

    id: str
    modified: datetime | None


@dataclass(frozen=True, kw_only=True)
class OsvResult(FeedResult):
    query: OsvQuery
    vulns: tuple[OsvVuln, ...]
    coverage: Coverage
    truncated: bool = False


@dataclass(frozen=True)
class OsvBatchEntry:
    query: OsvQuery
    refs: tuple[OsvRef, ...]
    coverage: Coverage


@dataclass(frozen=True, kw_only=True)
class OsvBatch(FeedResult):
    entries: tuple[OsvBatchEntry, ...]  # positional: entries[i] answers queries[i]


# -- parsing ----------------------------------------------------------------------------------


def _strings(values: Any, limit: int = 200) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(clean_text(v, limit) for v in values if isinstance(v, str))


def _dicts(values: Any) -> list[dict[str, Any]]:
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def parse_vuln(record: Any, evidence: tuple[Evidence, ...] = ()) -> OsvVuln | None:
    if not isinstance(record, dict) or not isinstance(record.get("id"), str):
        return None
    fixed: list[str] = []
    for affected in _dicts(record.get("affected")):
        for range_ in _dicts(affected.get("ranges")):
            for event in _dicts(range_.get("events")):
                if isinstance(event.get("fixed"), str):
                    fixed.append(clean_text(event["fixed"], 100))
    severity = tuple(
        (clean_text(s["type"], 40), clean_text(s["score"], 200))
        for s in _dicts(record.get("severity"))
        if isinstance(s.get("type"), str) and isinstance(s.get("score"), str)
    )
    summary, details = record.get("summary"), record.get("details")
    return OsvVuln(
        id=clean_text(record["id"], 100),
        summary=clean_text(summary, 300) if isinstance(summary, str) else "",
        details=clean_text(details, 4000) if isinstance(details, str) else "",
        aliases=_strings(record.get("aliases")),
        modified=optional_time(record.get("modified")),
        published=optional_time(record.get("published")),
        withdrawn=optional_time(record.get("withdrawn")),
        severity=severity,
        references=tuple(
            clean_text(r["url"], 500)
            for r in _dicts(record.get("references"))
            if isinstance(r.get("url"), str)
        ),
        fixed=tuple(dict.fromkeys(fixed)),
        evidence=evidence,
    )


def _vulns_of(data: Any, evidence: Evidence | None) -> list[Any]:
    """The `vulns` list of a reply; a missing key is OSV's `{}` (no match)."""
    if not isinstance(data, dict):
        raise SourceProtocolError("unexpected response", "expected a JSON object", evidence)
    vulns = data.get("vulns", [])
    if not isinstance(vulns, list):
        raise SourceProtocolError("unexpected response", "`vulns` is not a list", evidence)
    return vulns


def _batch_results(data: Any, count: int, evidence: Evidence | None) -> list[list[Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise SourceProtocolError("unexpected response", "expected {results: [...]}", evidence)
    results = data["results"]
    if len(results) != count:
        raise SourceProtocolError(
            "unexpected response", f"{len(results)} results for {count} queries", evidence
        )
    return [_vulns_of(r, evidence) for r in results]


def osv_error(reply: HttpReply) -> SourceError:
    """The typed error of a non-200 OSV reply (gRPC-gateway JSON, parsed leniently)."""
    try:
        data = reply.json(require_json_type=False)
    except SourceError:
        data = None
    code = data.get("code") if isinstance(data, dict) else None
    message = data.get("message") if isinstance(data, dict) else None
    text = (
        clean_text(message, 300) if isinstance(message, str) else clean_text(reply.text, 200)
    ).strip()
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    if reply.status == 404 or code == GRPC_NOT_FOUND:
        return SourceNotFound("not found", text, reply.evidence, reply.status)
    if reply.status == 429:
        return SourceRateLimited(
            "rate limited (HTTP 429)",
            text,
            reply.evidence,
            reply.status,
            retry_after_seconds(reply.headers),
        )
    title = f"OSV: {clean_text(message, 60)}" if isinstance(message, str) and message else None
    return OsvError(title or f"HTTP {reply.status}", text, reply.evidence, reply.status, code)


# -- the client -------------------------------------------------------------------------------


@dataclass
class _Answer:
    data: Any
    fetched_at: datetime
    evidence: tuple[Evidence, ...]
    problem: str
    failure: SourceError | None  # set when `data` came from the cache


class Osv(HttpService):
    """The OSV.dev API (no auth)."""

    source = "osv"

    def __init__(
        self,
        base_url: str = DEFAULT_API,
        *,
        timeout: float = 15.0,
        cache: FeedCache | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(base_url, timeout=timeout, max_bytes=max_bytes)
        self._store = EntryStore(cache)

    async def query(self, package_name: str, ecosystem: str, version: str) -> OsvResult:
        return await self.run_query(OsvQuery.package(package_name, ecosystem, version))

    async def query_git(self, repo_url: str, version_or_tag: str) -> OsvResult:
        return await self.run_query(OsvQuery.git(repo_url, version_or_tag))

    async def query_commit(self, commit: str) -> OsvResult:
        return await self.run_query(OsvQuery.for_commit(commit))

    async def run_query(self, query: OsvQuery) -> OsvResult:
        """`POST /v1/query`, following `next_page_token` for up to MAX_PAGES pages."""
        payload = query.to_json()
        records: list[Any] = []
        answers: list[_Answer] = []
        truncated = False
        for _ in range(MAX_PAGES):
            try:
                answer = await self._exchange("/v1/query", payload, _vulns_of)
            except SourceError as exc:
                if not answers:
                    raise
                truncated = True  # a later page failed: show what arrived, marked partial
                evidence = (exc.evidence,) if exc.evidence is not None else ()
                answers.append(_Answer(None, answers[0].fetched_at, evidence, "", exc))
                break
            answers.append(answer)
            records.extend(_vulns_of(answer.data, None))
            token = answer.data.get("next_page_token")
            if not isinstance(token, str) or not token:
                break
            payload = {**query.to_json(), "page_token": token}
        else:
            truncated = True
        vulns = tuple(v for v in (parse_vuln(r) for r in records) if v is not None)
        return OsvResult(
            source=self.source,
            request=f"{self.describe('POST', '/v1/query', None)} {query.describe()}",
            query=query,
            vulns=vulns,
            coverage=Coverage.MATCHED if vulns else Coverage.NO_DATA,
            truncated=truncated,
            **_fields(answers),
        )

    async def querybatch(
        self, queries: Sequence[OsvQuery], *, batch_size: int = MAX_BATCH
    ) -> OsvBatch:
        """`POST /v1/querybatch` in chunks of `batch_size`; results stay positional."""
        queries = list(queries)
        if not queries:
            return OsvBatch(source=self.source, request="", entries=(), fetched_at=utcnow())
        entries: list[OsvBatchEntry] = []
        answers: list[_Answer] = []
        for start in range(0, len(queries), max(1, batch_size)):
            chunk = queries[start : start + max(1, batch_size)]
            payload = {"queries": [q.to_json() for q in chunk]}

            def check(data: Any, evidence: Evidence | None, count: int = len(chunk)) -> Any:
                return _batch_results(data, count, evidence)

            answer = await self._exchange("/v1/querybatch", payload, check)
            answers.append(answer)
            results = _batch_results(answer.data, len(chunk), None)
            for query, vulns in zip(chunk, results, strict=True):
                refs = tuple(
                    OsvRef(clean_text(v["id"], 100), optional_time(v.get("modified")))
                    for v in vulns
                    if isinstance(v, dict) and isinstance(v.get("id"), str)
                )
                entries.append(
                    OsvBatchEntry(query, refs, Coverage.MATCHED if refs else Coverage.NO_DATA)
                )
        return OsvBatch(
            source=self.source,
            request=f"{self.describe('POST', '/v1/querybatch', None)} ({len(queries)} queries)",
            entries=tuple(entries),
            **_fields(answers),
        )

    async def vuln(self, vuln_id: str) -> OsvVuln:
        """`GET /v1/vulns/{id}`: the full record (404 -> SourceNotFound)."""
        reply = await self.request("GET", f"/v1/vulns/{quote(vuln_id, safe='')}")
        if reply.status != 200:
            raise osv_error(reply)
        parsed = parse_vuln(reply.json(), (reply.evidence,))
        if parsed is None:
            raise SourceProtocolError("unexpected response", "not an OSV record", reply.evidence)
        return parsed

    async def _exchange(
        self, path: str, payload: dict[str, Any], check: Callable[[Any, Evidence | None], object]
    ) -> _Answer:
        """POST `payload`; on a network-side failure answer from the cache if it can."""
        key = (
            f"{self.describe('POST', path, None)} "
            + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        )
        try:
            reply = await self.request("POST", path, json_body=payload)
            if reply.status != 200:
                raise osv_error(reply)
            data = reply.json()
            check(data, reply.evidence)
        except SourceError as exc:
            if not falls_back_to_cache(exc):
                raise
            found = await self._store.get(key)
            entry = found.entry
            if entry is not None:
                try:
                    check(entry.body, None)
                except SourceProtocolError:
                    entry = None
            if entry is None:
                raise
            fields = stale_fields(exc, [entry], self.source, [self._store.path_for(key)])
            return _Answer(entry.body, entry.validated_at, fields["evidence"], found.problem, exc)
        observed = reply.evidence.observed_at
        problem = await self._store.put(CacheEntry(key, data, observed, observed))
        return _Answer(data, observed, (reply.evidence,), problem, None)


def _fields(answers: list[_Answer]) -> dict[str, Any]:
    """FeedResult fields summarising the answers of one feed (stale if any came from cache)."""
    failure = next((a.failure for a in answers if a.failure is not None), None)
    stale = any(a.failure is not None and a.data is not None for a in answers)
    return {
        "fetched_at": min(a.fetched_at for a in answers),
        "stale": stale,
        "error_title": failure.title if failure is not None else "",
        "retry_after": failure.retry_after if isinstance(failure, SourceRateLimited) else None,
        "cache_problem": "; ".join(a.problem for a in answers if a.problem),
        "evidence": tuple(e for a in answers for e in a.evidence),
    }
