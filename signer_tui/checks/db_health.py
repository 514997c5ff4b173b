"""db.*: the signer's database as liveness — slow queries are how signers went offline.

stacks-sbtc/sbtc #2041 (2026-05): `stacks_blocks` is "large" and some signers are "effectively
offline because key queries take too long"; #1888 and #1845 report the same. So:

* `db.queries` — the signer's hot queries, timed (EXPLAIN without ANALYZE + one bounded run):
  WARN above `db_health.hot_query_warn`, CRIT above `hot_query_crit` or on a timeout; a
  sequential scan of `stacks_blocks` is named (the table has no `block_height` index).
* `db.size` — database size and its growth per day, from the size series kept across runs;
  UNKNOWN until `growth_min_span` of samples exists; WARN above `growth_warn_per_day` MiB.
* `db.connections` — client connections against `max_connections` minus the superuser
  reserve (the signer's pool cannot use those): WARN/CRIT at the configured ratios.
* `db.oldest_xact` — the oldest open transaction (other than ours): it holds back vacuum and
  can hold locks the signer waits on. WARN/CRIT at `oldest_xact_warn`/`_crit`.

The signer exports no DB metrics of its own (sbtc-signer-facts §3), so these come from the DB.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from signer_tui.checks.registry import Inputs, Series, check
from signer_tui.config import DbHealth, format_duration
from signer_tui.model import Finding, Observation, Status, format_age
from signer_tui.sources.db_liveness_key import DB_LIVENESS

if TYPE_CHECKING:
    from signer_tui.sources.pg_liveness import DbLiveness, QueryTiming

MIB = 1024 * 1024
DAY = 86400.0


def human_bytes(n: float) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", MIB), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _query_status(q: QueryTiming, cfg: DbHealth) -> Status:
    if q.timed_out:
        return Status.CRIT
    if q.elapsed_ms is None:
        return Status.UNKNOWN
    if q.elapsed_ms > cfg.hot_query_crit * 1000:
        return Status.CRIT
    if q.elapsed_ms > cfg.hot_query_warn * 1000:
        return Status.WARN
    return Status.OK


def check_queries(live: DbLiveness, cfg: DbHealth) -> Finding:
    evidence = tuple(q.evidence for q in live.queries)
    judged = [(q, _query_status(q, cfg)) for q in live.queries]
    worst = Status.worst(s for _, s in judged) if judged else Status.UNKNOWN
    details = tuple(
        (
            q.name,
            (f"{q.elapsed_ms:.1f} ms" if q.elapsed_ms is not None else q.error)
            + (f"; seq scan on {', '.join(q.seq_scans)}" if q.seq_scans else ""),
        )
        for q in live.queries
    )
    slowest = max(
        (q for q in live.queries if q.elapsed_ms is not None or q.timed_out),
        key=lambda q: float("inf") if q.timed_out else (q.elapsed_ms or 0.0),
        default=None,
    )
    if slowest is None:
        reasons = "; ".join(f"{q.name}: {q.error}" for q in live.queries) or "no query ran"
        return Finding("db.queries", Status.UNKNOWN, reasons, "", evidence, details=details)
    shown = (
        f"timed out after {cfg.hot_query_timeout:g} s"
        if slowest.timed_out
        else f"{slowest.elapsed_ms:.0f} ms"
    )
    text = f"slowest hot query: {slowest.name} {shown}"
    if worst is Status.OK:
        return Finding("db.queries", Status.OK, text, "", evidence, details=details)
    scans = sorted({s for q in live.queries for s in q.seq_scans})
    advice = (
        "The signer runs these on every block; when they are slow it stops keeping up and "
        "looks offline to its peers (sBTC #2041, #1888). Check the DB host's disk and CPU, "
        "VACUUM/ANALYZE, and open transactions (db.oldest_xact)."
    )
    if "stacks_blocks" in scans:
        advice += " stacks_blocks is read with a sequential scan: it has no block_height index."
    if worst is Status.UNKNOWN:
        why = "; ".join(f"{q.name}: {q.error}" for q, s in judged if s is Status.UNKNOWN)
        text = f"unknown: {why}; {text}"
    else:
        text = f"slow: {slowest.name} {shown} (slowest hot query)"
    return Finding("db.queries", worst, text, advice, evidence, details=details)


def growth_per_day(series: Series, min_span: float) -> tuple[float | None, float]:
    """(bytes a day, seconds of samples); None while the samples span less than `min_span`."""
    points = sorted(series)
    if len(points) < 2:
        return None, 0.0
    span = (points[-1][0] - points[0][0]).total_seconds()
    if span < min_span:
        return None, span
    return (points[-1][1] - points[0][1]) / span * DAY, span


def check_size(live: DbLiveness, series: Series, cfg: DbHealth) -> Finding:
    evidence = live.evidence[len(live.queries) : len(live.queries) + 1]
    if live.database_bytes is None or live.sizes is None:
        why = dict(live.problems).get("sizes", "sizes not read")
        return Finding("db.size", Status.UNKNOWN, f"sizes: {why}", "", evidence)
    largest = live.sizes[0] if live.sizes else None
    details: list[tuple[str, str]] = [
        (s.name, f"{human_bytes(s.total_bytes)} (indexes {human_bytes(s.index_bytes)})")
        for s in live.sizes[:5]
    ]
    head = f"database {human_bytes(live.database_bytes)}" + (
        f" ({largest.name} {human_bytes(largest.total_bytes)})" if largest else ""
    )
    rate, span = growth_per_day(series, cfg.growth_min_span)
    if rate is None:
        have = f"{format_age(span)} of samples" if span > 0 else "no samples yet"
        # The size itself was read: that is a verdict (OK). Only its growth is still being
        # measured — a fresh console must not read UNKNOWN for its first 15 minutes.
        return Finding(
            "db.size",
            Status.OK,
            f"{head}; growth: watching ({have}, needs {format_duration(cfg.growth_min_span)})",
            "Growth per day is measured from the sizes kept across polls and `check` runs.",
            evidence,
            details=tuple(details),
        )
    details.append(("growth", f"{human_bytes(rate)}/day over {format_age(span)}"))
    text = f"{head}; growing {human_bytes(rate)}/day"
    if rate > cfg.growth_warn_per_day * MIB:
        return Finding(
            "db.size",
            Status.WARN,
            f"growing {human_bytes(rate)}/day: {head}",
            f"The signer DB grows faster than {cfg.growth_warn_per_day} MiB a day: plan disk "
            "space, and watch db.queries (a larger stacks_blocks makes the tip lookup slower).",
            evidence,
            details=tuple(details),
        )
    return Finding("db.size", Status.OK, text, "", evidence, details=tuple(details))


def check_connections(live: DbLiveness, cfg: DbHealth) -> Finding:
    c = live.connections
    if c is None:
        why = dict(live.problems).get("connections", "not read")
        return Finding("db.connections", Status.UNKNOWN, f"unknown: connections ({why})", "")
    ratio = c.total / c.usable
    text = f"{c.total} of {c.usable} usable connections ({c.signer} sbtc-signer)"
    details = (
        ("max_connections", str(c.max_connections)),
        ("superuser_reserved_connections", str(c.reserved)),
        ("hidden sessions", str(c.hidden)),
    )
    advice = (
        "When the connections run out the signer's pool cannot get one and the signer stops. "
        "Find who holds them in pg_stat_activity; raise max_connections only with care."
    )
    near = f"near the limit: {c.total} of {c.usable} connections ({c.signer} sbtc-signer)"
    if ratio >= cfg.connections_crit_ratio:
        return Finding("db.connections", Status.CRIT, near, advice, details=details)
    if ratio >= cfg.connections_warn_ratio:
        return Finding("db.connections", Status.WARN, near, advice, details=details)
    if c.signer == 0:
        # The signer names every pooled connection 'sbtc-signer': none means not connected.
        return Finding(
            "db.connections",
            Status.WARN,
            f"no signer connection: {c.total} of {c.usable} in use, none 'sbtc-signer'",
            "The signer sets application_name 'sbtc-signer' on its pool; none is connected. "
            "Is the signer running and pointed at this database?",
            details=details,
        )
    return Finding("db.connections", Status.OK, text, "", details=details)


def check_oldest_xact(live: DbLiveness, cfg: DbHealth) -> Finding:
    if "oldest_xact" in dict(live.problems):
        return Finding(
            "db.oldest_xact",
            Status.UNKNOWN,
            f"unknown: oldest transaction ({dict(live.problems)['oldest_xact']})",
            "",
        )
    x = live.oldest_xact
    hidden = live.connections.hidden if live.connections is not None else 0
    caveat = f" ({hidden} session(s) of other roles not visible)" if hidden else ""
    if x is None:
        return Finding("db.oldest_xact", Status.OK, "no open transaction" + caveat, "")
    text = (
        f"oldest open transaction {format_age(x.age_seconds)} "
        f"(pid {x.pid}, {x.application or 'no application_name'}, {x.state or '?'}){caveat}"
    )
    advice = (
        "A long open transaction holds back VACUUM (the tables bloat and the hot queries slow "
        "down) and may hold locks the signer waits on. Find it in pg_stat_activity; end it if "
        "it is not the signer's own."
    )
    long = (
        f"long transaction {format_age(x.age_seconds)}: pid {x.pid}, "
        f"{x.application or 'no application_name'}, {x.state or '?'}{caveat}"
    )
    if x.age_seconds >= cfg.oldest_xact_crit:
        return Finding("db.oldest_xact", Status.CRIT, long, advice)
    if x.age_seconds >= cfg.oldest_xact_warn:
        return Finding("db.oldest_xact", Status.WARN, long, advice)
    return Finding("db.oldest_xact", Status.OK, text, "")


IDS = ("db.queries", "db.size", "db.connections", "db.oldest_xact")


def check_db_health(
    obs: Observation[DbLiveness] | None, series: Series, cfg: DbHealth, now: datetime
) -> list[Finding]:
    live = obs.reading() if obs is not None else None
    if live is None:
        why = (obs.error if obs is not None else None) or "not read yet"
        evidence = obs.evidence if obs is not None else ()
        return [Finding(fid, Status.UNKNOWN, f"signer DB: {why}", "", evidence) for fid in IDS]
    return [
        check_queries(live, cfg),
        check_size(live, series, cfg),
        check_connections(live, cfg),
        check_oldest_xact(live, cfg),
    ]


@check(needs=(DB_LIVENESS,))
def db_health_checks(inp: Inputs) -> list[Finding]:
    if not inp.configured(DB_LIVENESS):
        return []  # db_health.enabled is false
    return check_db_health(
        inp.get(DB_LIVENESS), inp.series("db_bytes"), inp.profile.db_health, inp.now
    )
