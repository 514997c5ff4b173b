"""Simulated OSV.dev API (wire-formats §5.1): `/v1/query`, `/v1/querybatch`, `/v1/vulns/{id}`.

Records come from `SimState.osv_vulns`, a dict of full OSV records keyed by what they answer:
* `"{ecosystem}:{name}@{version}"`, e.g. `"PyPI:jinja2@3.1.4"`. For `GIT` the repository URL
  is normalised as OSV does (scheme, `.git` and trailing `/` dropped), so
  `"GIT:https://github.com/bitcoin/bitcoin@v28.1"` and `"GIT:github.com/bitcoin/bitcoin@v28.1"`
  are the same key (`osv_key()` builds one);
* `"commit:{40 hex}"` for commit queries; `"purl:{purl with @version}"` for PURL queries.
No match is `{}`, batch results are positional with only `id` + `modified`, and errors are
gRPC-gateway JSON `{"code": 3, "message": "...", "details": []}`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from signer_tui.sim.server import SimApp, SimRequest, SimResponse

MAX_BATCH = 1000
# gRPC status codes used by the gateway.
INVALID_ARGUMENT, NOT_FOUND, UNIMPLEMENTED, INTERNAL = 3, 5, 12, 13
ECOSYSTEMS = frozenset(
    {
        "AlmaLinux",
        "Alpine",
        "Android",
        "Bioconductor",
        "Bitnami",
        "CRAN",
        "Chainguard",
        "ConanCenter",
        "Debian",
        "GHC",
        "GIT",
        "GitHub Actions",
        "Go",
        "Hackage",
        "Hex",
        "Linux",
        "Mageia",
        "Maven",
        "NuGet",
        "OSS-Fuzz",
        "Packagist",
        "Photon OS",
        "Pub",
        "PyPI",
        "Red Hat",
        "Rocky Linux",
        "RubyGems",
        "SUSE",
        "SwiftURL",
        "Ubuntu",
        "Wolfi",
        "crates.io",
        "npm",
        "openSUSE",
    }
)
_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")


class _Invalid(Exception):
    """A query OSV rejects with InvalidArgument; the message is OSV's."""


def normalise_git_repo(url: str) -> str:
    """OSV's `normalizeRepo`: drop the scheme, a trailing `/` and `.git`."""
    repo = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", url.strip())
    repo = repo.rstrip("/")
    return repo.removesuffix(".git")


def osv_key(ecosystem: str, name: str, version: str) -> str:
    if ecosystem == "GIT":
        name = normalise_git_repo(name)
    return f"{ecosystem}:{name}@{version}"


def _normalise_key(key: str) -> str:
    if key.startswith("GIT:") and "@" in key:
        name, version = key[4:].rsplit("@", 1)
        return osv_key("GIT", name, version)
    if key.startswith("commit:"):
        return key.lower()
    return key


def osv_record(
    vuln_id: str,
    summary: str,
    *,
    repo: str = "https://github.com/bitcoin/bitcoin",
    introduced: str = "0",
    fixed: str | None = None,
    versions: tuple[str, ...] = (),
    aliases: tuple[str, ...] = (),
    details: str = "",
    published: datetime | None = None,
    modified: datetime | None = None,
    cvss_v3: str | None = None,
) -> dict[str, object]:
    """A full OSV record of the NVD-to-GIT kind OSV publishes for C/C++ projects."""
    published = published or datetime(2024, 10, 9, tzinfo=UTC)
    modified = modified or published
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed is not None:
        events.append({"fixed": fixed})
    record: dict[str, object] = {
        "id": vuln_id,
        "summary": summary,
        "details": details or summary,
        "aliases": list(aliases),
        "modified": modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "published": published.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "references": [{"type": "WEB", "url": f"https://nvd.nist.gov/vuln/detail/{vuln_id}"}],
        "affected": [
            {
                "ranges": [{"type": "GIT", "repo": repo, "events": events}],
                "versions": list(versions),
                "database_specific": {"source": f"https://storage.googleapis.com/{vuln_id}"},
            }
        ],
        "schema_version": "1.6.0",
    }
    if cvss_v3:
        record["severity"] = [{"type": "CVSS_V3", "score": cvss_v3}]
    return record


def _grpc(code: int, message: str, status: int) -> SimResponse:
    return SimResponse.json({"code": code, "message": message, "details": []}, status)


class OsvSim(SimApp):
    service = "osv"

    def server_error(self, request: SimRequest) -> SimResponse:
        return _grpc(INTERNAL, "internal error", 500)

    def handle(self, request: SimRequest) -> SimResponse:
        path = request.path.rstrip("/")
        routes = {"/v1/query": "POST", "/v1/querybatch": "POST"}
        if path in routes or path.startswith("/v1/vulns/"):
            wanted = routes.get(path, "GET")
            if request.method != wanted:
                return _grpc(UNIMPLEMENTED, "Method Not Allowed", 405)
        else:
            return _grpc(NOT_FOUND, "Not Found", 404)
        try:
            if path == "/v1/query":
                records = self._match(_body(request))
                return SimResponse.json({"vulns": records} if records else {})
            if path == "/v1/querybatch":
                return self._batch(_body(request))
        except _Invalid as exc:
            return _grpc(INVALID_ARGUMENT, str(exc), 400)
        return self._vuln(path.removeprefix("/v1/vulns/"))

    def _batch(self, body: Any) -> SimResponse:
        queries = body.get("queries") if isinstance(body, dict) else None
        if not isinstance(queries, list):
            raise _Invalid("invalid query")
        if len(queries) > MAX_BATCH:
            raise _Invalid("too many queries")
        results: list[dict[str, object]] = []
        for query in queries:
            hits = [{"id": r.get("id"), "modified": r.get("modified")} for r in self._match(query)]
            results.append({"vulns": hits} if hits else {})
        return SimResponse.json({"results": results})

    def _vuln(self, vuln_id: str) -> SimResponse:
        with self.state.lock:
            for records in self.state.osv_vulns.values():
                for record in records:
                    if record.get("id") == vuln_id:
                        return SimResponse.json(record)
        return _grpc(NOT_FOUND, "Vulnerability not found", 404)

    def _match(self, query: Any) -> list[dict[str, object]]:
        """The records answering one query, with OSV's validation errors."""
        if not isinstance(query, dict):
            raise _Invalid("invalid query")
        package = query.get("package") or {}
        version, commit = query.get("version"), query.get("commit")
        if not isinstance(package, dict):
            raise _Invalid("invalid query")
        name, ecosystem, purl = package.get("name"), package.get("ecosystem"), package.get("purl")
        if commit:
            if version:
                raise _Invalid("invalid query")
            if not isinstance(commit, str) or not _HEX40.match(commit):
                raise _Invalid("invalid hash")
            key: str | None = f"commit:{commit.lower()}"
            prefix = None
        elif purl:
            if name:
                raise _Invalid("name specified in a PURL query")
            if not isinstance(purl, str):
                raise _Invalid("invalid query")
            if "@" in purl and version:
                raise _Invalid("version specified in params and PURL query")
            if "@" not in purl and not version:
                key, prefix = None, f"purl:{purl}@"
            else:
                key, prefix = f"purl:{purl}@{version}" if version else f"purl:{purl}", None
        else:
            if not isinstance(name, str) or not name:
                raise _Invalid("invalid query")
            if not isinstance(ecosystem, str) or ecosystem.split(":", 1)[0] not in ECOSYSTEMS:
                raise _Invalid("invalid ecosystem")
            if version is not None and not isinstance(version, str):
                raise _Invalid("invalid query")
            # Without a version OSV returns every record of the package.
            key = osv_key(ecosystem, name, version) if version else None
            prefix = None if version else osv_key(ecosystem, name, "")
        with self.state.lock:
            found: list[dict[str, object]] = []
            for stored, records in self.state.osv_vulns.items():
                normalised = _normalise_key(stored)
                if normalised == key or (prefix is not None and normalised.startswith(prefix)):
                    found.extend(r for r in records if r not in found)
            return found


def _body(request: SimRequest) -> Any:
    try:
        return request.json()
    except ValueError as exc:
        raise _Invalid("invalid query") from exc
