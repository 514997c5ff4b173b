"""The sBTC signer's Prometheus metrics (port 9184, any path), parsed with prometheus_client.

Samples are selected by sample name, never by family type: the signer exports a histogram and
a bare counter both named `validation_duration_seconds`, and the parser folds such lines into
one family of whichever type came last. metrics-rs only exports series that were touched, so a
missing series is None ("unknown" or "never happened"), not zero.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from signer_tui.model import Evidence, clean_text
from signer_tui.sources.errors import SourceProtocolError
from signer_tui.sources.http import HttpService, raise_for_status

# Exposition formats the 0.0.4 parser reads; "" covers a server that sends no type at all.
_ACCEPTED_TYPES = ("text/plain", "application/openmetrics-text", "")
K = TypeVar("K")

_TYPE_LINE = re.compile(r"^[ \t]*#[ \t]*TYPE[ \t]+(\S+)[ \t]+(\S+)", re.MULTILINE)


@dataclass(frozen=True)
class MetricSample:
    name: str  # as exposed, e.g. `validation_duration_seconds_bucket`
    labels: dict[str, str]
    value: float
    timestamp: float | None = None  # seconds (the parser divides 0.0.4's milliseconds)

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        return self.name == name and all(self.labels.get(k) == v for k, v in labels.items())


@dataclass(frozen=True)
class MetricsBuildInfo:
    revision: str | None
    rust_version: str | None
    arch: str | None
    env_abi: str | None


@dataclass(frozen=True)
class MetricsSnapshot:
    samples: tuple[MetricSample, ...]
    observed_at: datetime
    evidence: Evidence
    build_info: MetricsBuildInfo | None = None
    blocks_observed_total: dict[str, float] = field(default_factory=dict)  # by blockchain
    peers_connected: float | None = None  # None: not exported (v1.0.x) or never touched
    sign_requests_total: dict[str, float] = field(default_factory=dict)  # by status
    read_data_var_requests_total: dict[str, float] = field(default_factory=dict)  # status_code
    # by (blockchain, status)
    transactions_submitted_total: dict[tuple[str, str], float] = field(default_factory=dict)
    coordinator_tenures_total: float | None = None
    signing_rounds_completed_total: float | None = None
    # Sample name -> the value shown, for series whose value is no count (NaN, ±Inf, beyond
    # 2^53): such a series is left out of the fields above, so a check says UNKNOWN and why.
    invalid: dict[str, str] = field(default_factory=dict)

    def series(self, name: str, **labels: str) -> list[MetricSample]:
        """Samples with this exact sample name whose labels include `labels`."""
        return [s for s in self.samples if s.matches(name, labels)]

    def value(self, name: str, **labels: str) -> float | None:
        """The sum over matching series (a counter across its other labels); None if none."""
        found = self.series(name, **labels)
        if not found:
            return None
        return float(sum(s.value for s in found))

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return _sum_by(self.series(name), lambda s: s.labels.get(label, ""))


def parse_exposition(text: str) -> list[MetricSample]:
    """Samples of a Prometheus text exposition, named as exposed; ValueError if malformed."""
    # The parser appends `_total` to every sample of a family declared `# TYPE x counter`
    # (without `_total`), including the histogram lines folded into it by the duplicate name.
    # Undo that so callers can select by the names the signer actually wrote.
    renamed = {name for name, kind in _TYPE_LINE.findall(text) if kind == "counter"}
    samples: list[MetricSample] = []
    for family in text_string_to_metric_families(text):
        munged = family.type == "counter" and family.name in renamed
        for sample in family.samples:
            name = sample.name
            if munged and name.endswith("_total"):
                name = name[: -len("_total")]
            samples.append(
                MetricSample(
                    name=name,
                    labels={k: clean_text(v, 200) for k, v in sample.labels.items()},
                    value=float(sample.value),
                    timestamp=None if sample.timestamp is None else float(sample.timestamp),
                )
            )
    return samples


# Counters and gauges the checks read are counts: beyond 2^53 a float is no longer exact,
# and a value like -1e308 would print as a 309-digit number.
MAX_COUNT = float(2**53)


def is_count(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= MAX_COUNT


def show_value(value: float) -> str:
    """A metric value for a summary: never more than a dozen characters."""
    return f"{value:.6g}"


def snapshot_from(
    samples: list[MetricSample], observed_at: datetime, evidence: Evidence
) -> MetricsSnapshot:
    invalid = {s.name: show_value(s.value) for s in samples if not is_count(s.value)}
    # Series the checks use are read from the valid samples only; the bad ones are named.
    all_samples = tuple(samples)
    samples = [s for s in samples if is_count(s.value)]
    base = MetricsSnapshot(tuple(samples), observed_at, evidence)
    build = base.series("build_info")
    build_info = (
        MetricsBuildInfo(
            revision=build[0].labels.get("revision"),
            rust_version=build[0].labels.get("rust_version"),
            arch=build[0].labels.get("arch"),
            env_abi=build[0].labels.get("env_abi"),
        )
        if build
        else None
    )
    snapshot = MetricsSnapshot(
        samples=base.samples,
        invalid=invalid,
        observed_at=observed_at,
        evidence=evidence,
        build_info=build_info,
        blocks_observed_total=base.by_label("blocks_observed_total", "blockchain"),
        peers_connected=base.value("peers_connected"),
        sign_requests_total=base.by_label("sign_requests_total", "status"),
        read_data_var_requests_total=base.by_label("read_data_var_requests_total", "status_code"),
        transactions_submitted_total=_sum_by(
            base.series("transactions_submitted_total"),
            lambda s: (s.labels.get("blockchain", ""), s.labels.get("status", "")),
        ),
        coordinator_tenures_total=base.value("coordinator_tenures_total"),
        signing_rounds_completed_total=base.value("signing_rounds_completed_total"),
    )
    decoded = (
        f"{len(all_samples)} samples; revision={build_info.revision if build_info else None} "
        f"blocks_observed={snapshot.blocks_observed_total} peers={snapshot.peers_connected}"
    )
    if invalid:
        decoded += "; not counts: " + ", ".join(f"{k}={v}" for k, v in sorted(invalid.items()))
    return replace(snapshot, evidence=evidence.with_decoded(decoded))


class SignerMetrics(HttpService):
    source = "signer-metrics"

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        # The exporter answers on any path; keep the configured one exactly as written.
        parsed = httpx.URL(url)
        self.path = parsed.raw_path.decode("ascii") or "/"
        super().__init__(str(parsed.copy_with(raw_path=b"")), timeout=timeout)

    async def scrape(self) -> MetricsSnapshot:
        reply = await self.request("GET", self.path)
        raise_for_status(reply)
        if reply.content_type not in _ACCEPTED_TYPES:
            raise SourceProtocolError(
                "wrong content type",
                f"expected text/plain; version=0.0.4, got {reply.content_type}",
                reply.evidence,
            )
        try:
            text = reply.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SourceProtocolError("malformed metrics", "not UTF-8", reply.evidence) from exc
        try:
            # prometheus_client's parser is pure Python (~20 ms for a signer's exposition):
            # off the event loop, so 50 profiles' scrapes do not stall the console.
            samples = await asyncio.to_thread(parse_exposition, text)
        except Exception as exc:
            # A third-party parser fed untrusted text: any failure means "not an exposition".
            raise SourceProtocolError(
                "malformed metrics", clean_text(f"{type(exc).__name__}: {exc}", 200), reply.evidence
            ) from exc
        if not samples:
            # The exporter always has build_info; an empty 200 is another service (e.g. the
            # signer API's `/`, which answers exactly that).
            raise SourceProtocolError(
                "no metrics in response", "is this the signer's metrics port?", reply.evidence
            )
        return snapshot_from(samples, reply.evidence.observed_at, reply.evidence)


def _sum_by(samples: Iterable[MetricSample], key: Callable[[MetricSample], K]) -> dict[K, float]:
    totals: dict[K, float] = {}
    for sample in samples:
        k = key(sample)
        totals[k] = totals.get(k, 0.0) + sample.value
    return totals
