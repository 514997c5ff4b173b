"""Backup checks: table-driven, no I/O. `NOW` is far from the real clock, so a check that read
the clock instead of its `now` argument would fail here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from signer_tui.checks import backup as checks
from signer_tui.config import Backups, Profile, Thresholds
from signer_tui.model import Evidence, Finding, Status
from signer_tui.sources.backup_types import BackupInventory, BackupRecord, VerificationRecord

NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)
HOUR = 3600.0
DAY = 86400.0
EVIDENCE = Evidence(source="pg_dump directory", request="scan /backups", observed_at=NOW)


def profile(
    kind: str | None = "pg_dump", cadence: float = DAY, name: str = "mainnet", **limits: Any
) -> Profile:
    backups = None
    if kind == "pg_dump":
        backups = Backups(kind="pg_dump", location="/backups", cadence=cadence)  # type: ignore[arg-type]
    elif kind == "pgbackrest":
        backups = Backups(kind="pgbackrest", stanza="main", cadence=cadence)
    elif kind == "barman":
        backups = Backups(kind="barman", server="pg", cadence=cadence)
    return Profile(name=name, network="mainnet", backups=backups, thresholds=Thresholds(**limits))


def rec(
    age_h: float | None,
    ok: bool | None = True,
    size: int | None = 1000,
    name: str | None = None,
    kind: str = "pg_dump",
    problem: str = "",
) -> BackupRecord:
    finished = NOW - timedelta(hours=age_h) if age_h is not None else None
    return BackupRecord(
        kind=kind,
        name=name or (f"signer-{finished:%Y%m%dT%H%M}.dump" if finished else "running"),
        finished_at=finished,
        size_bytes=size,
        ok=ok,
        problem=problem or ("truncated" if ok is False else ""),
    )


def inv(
    *records: BackupRecord, kind: str = "pg_dump", problems: Sequence[str] = ()
) -> BackupInventory:
    location = {"pg_dump": "/backups", "pgbackrest": "stanza main", "barman": "server pg"}[kind]
    return BackupInventory(
        kind=kind,
        location=location,
        records=records,
        tool_problems=tuple(problems),
        evidence=(EVIDENCE,),
        observed_at=NOW,
    )


def daily(days: int, *, skip: Sequence[int] = (), bad: Sequence[int] = ()) -> BackupInventory:
    """One dump a day at 03:00 UTC; index 0 is today's."""
    records = []
    for i in range(days):
        if i in skip:
            continue
        age = 9 + 24 * i  # NOW is 12:00
        records.append(rec(age, ok=i not in bad))
    return inv(*records)


def verification(
    age_days: float, verdict: str = "verified", profile_name: str = "mainnet"
) -> VerificationRecord:
    finished = NOW - timedelta(days=age_days)
    return VerificationRecord(
        profile=profile_name,
        started_at=finished - timedelta(minutes=3),
        finished_at=finished,
        backup="/backups/signer-20260820T0300.dump",
        sha256="ab" * 32,
        size_bytes=1000,
        duration_s=180.0,
        verdict=verdict,
        summary=f"{verdict}: key 03aa… vs chain",
        db_key="03" + "aa" * 32,
        chain_keys={"stacks node": "03" + "aa" * 32, "hiro": "03" + "aa" * 32},
    )


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1
    return findings[0]


# -- formatting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (45, "45s"),
        (12 * 60, "12m"),
        (3 * HOUR, "3h"),
        (3.5 * HOUR, "3h"),
        (24 * HOUR, "24h"),
        (25.99 * HOUR, "25h"),
        (2 * DAY, "2d"),
        (9.25 * DAY, "9d"),
        (-5, "0s"),
    ],
)
def test_span(seconds: float, text: str) -> None:
    assert checks.span(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512 B"), (2048, "2.0 KiB"), (5 * 2**20, "5.0 MiB"), (3 * 2**30, "3.0 GiB")],
)
def test_size_text(size: int, text: str) -> None:
    assert checks.size_text(size) == text


# -- backup.configured ---------------------------------------------------------------------


def test_unconfigured_is_critical_and_every_id_still_reports() -> None:
    findings = checks.evaluate(None, [], profile(None), NOW)
    assert [f.id for f in findings] == list(checks.IDS)
    by_id = {f.id: f for f in findings}
    assert by_id["backup.configured"].status is Status.CRIT
    assert by_id["backup.configured"].summary == "no backups configured"
    assert "daily" in by_id["backup.configured"].advice
    for fid in (
        "backup.freshness",
        "backup.size",
        "backup.gaps",
        "backup.integrity",
        "backup.tool",
    ):
        assert by_id[fid].status is Status.UNKNOWN
        assert by_id[fid].summary == "backups not configured"
    assert by_id["backup.verification"].status is Status.WARN
    assert all(f.profile == "mainnet" for f in findings)
    # Every finding says what it is based on, even when that is "nothing configured".
    assert all(f.evidence for f in findings)
    assert by_id["backup.configured"].evidence[0].source == "config"
    assert by_id["backup.configured"].evidence[0].raw == "null"


@pytest.mark.parametrize(
    ("kind", "summary"),
    [
        ("pg_dump", "pg_dump directory, every 24h"),
        ("pgbackrest", "pgBackRest, every 24h"),
        ("barman", "Barman, every 24h"),
    ],
)
def test_configured(kind: str, summary: str) -> None:
    finding = one(checks.configured(None, [], profile(kind), NOW))
    assert finding.status is Status.OK and finding.summary == summary


# -- backup.freshness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age_h", "status", "summary"),
    [
        (3, Status.OK, "last good dump 3h ago"),
        (23.99, Status.OK, "last good dump 23h ago"),
        (24, Status.OK, "last good dump 24h ago"),
        (24 + 1 / 3600, Status.WARN, "LATE: last good dump 24h ago (every 24h)"),
        (25.5, Status.WARN, "LATE: last good dump 25h ago (every 24h)"),
        (26, Status.WARN, "LATE: last good dump 26h ago (every 24h)"),
        (26 + 1 / 3600, Status.CRIT, "TOO OLD: last good dump 26h ago (max 26h)"),
        (24 * 5, Status.CRIT, "TOO OLD: last good dump 5d ago (max 26h)"),
    ],
)
def test_freshness_boundaries(age_h: float, status: Status, summary: str) -> None:
    finding = one(checks.freshness(inv(rec(age_h), rec(age_h + 24)), [], profile(), NOW))
    assert (finding.status, finding.summary) == (status, summary)
    assert finding.evidence == (EVIDENCE,)
    assert finding.observed_at == NOW
    assert bool(finding.advice) == (status is not Status.OK)


@pytest.mark.parametrize(
    ("records", "status", "summary"),
    [
        ((), Status.CRIT, "no dumps found in /backups"),
        ((rec(2, ok=False), rec(26, ok=False)), Status.CRIT, "no good dump: 2 bad, none usable"),
        # A bad newest dump does not count; the good one before it does.
        ((rec(2, ok=False), rec(20)), Status.OK, "last good dump 20h ago"),
        # Not yet checked is not known to be bad: integrity judges it, freshness counts it.
        ((rec(2, ok=None),), Status.OK, "last good dump 2h ago"),
        # Running backups without an end time are not fresh backups.
        ((rec(None, ok=None), rec(30)), Status.CRIT, "TOO OLD: last good dump 30h ago (max 26h)"),
        ((rec(-0.05),), Status.OK, "last good dump 0s ago"),
        ((rec(-2),), Status.WARN, "in the future: newest dump dated 2h ahead"),
    ],
)
def test_freshness_cases(records: tuple[BackupRecord, ...], status: Status, summary: str) -> None:
    finding = one(checks.freshness(inv(*records), [], profile(), NOW))
    assert (finding.status, finding.summary) == (status, summary)


def test_freshness_unknown_when_the_inventory_could_not_be_read() -> None:
    finding = one(
        checks.freshness(None, [], profile("pgbackrest"), NOW, read_error="pgbackrest: timed out")
    )
    assert finding.status is Status.UNKNOWN
    assert finding.summary == "backups could not be read: pgbackrest: timed out"
    assert "pgBackRest" in finding.advice


def test_freshness_words_and_custom_limits() -> None:
    finding = one(
        checks.freshness(
            inv(rec(5, kind="pgbackrest"), kind="pgbackrest"), [], profile("pgbackrest"), NOW
        )
    )
    assert finding.summary == "last good backup 5h ago"
    # Cadence 12h, max age 20 h.
    tight = profile(cadence=12 * HOUR, backup_max_age=20 * HOUR)
    assert one(checks.freshness(inv(rec(13)), [], tight, NOW)).status is Status.WARN
    assert one(checks.freshness(inv(rec(21)), [], tight, NOW)).status is Status.CRIT


def test_max_age_below_cadence_does_not_page_before_the_backup_is_due() -> None:
    weekly = profile(cadence=7 * DAY)  # backup_max_age stays at its 26h default
    assert one(checks.freshness(inv(rec(6 * 24)), [], weekly, NOW)).status is Status.OK
    late = one(checks.freshness(inv(rec(7 * 24 + 1)), [], weekly, NOW))
    assert late.status is Status.CRIT and late.summary.endswith("(max 7d)")


# -- backup.size ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("newest", "previous", "status", "summary"),
    [
        (51, 100, Status.OK, "51 B, -49% vs previous"),
        (50, 100, Status.OK, "50 B, -50% vs previous"),
        (49, 100, Status.WARN, "newest dump 51% smaller than the previous one: suspicious"),
        (0, 100, Status.WARN, "newest dump 100% smaller than the previous one: suspicious"),
        (120 * 2**20, 100 * 2**20, Status.OK, "120 MiB, +20% vs previous"),
        (100, 100, Status.OK, "100 B, +0% vs previous"),
    ],
)
def test_size_boundaries(newest: int, previous: int, status: Status, summary: str) -> None:
    finding = one(checks.size(inv(rec(2, size=newest), rec(26, size=previous)), [], profile(), NOW))
    assert (finding.status, finding.summary) == (status, summary)
    assert dict(finding.details)["previous"].endswith(f"{previous} bytes")


def test_size_compares_good_backups_only() -> None:
    records = (rec(1, ok=False, size=10), rec(2, size=100), rec(3, size=None), rec(26, size=98))
    finding = one(checks.size(inv(*records), [], profile(), NOW))
    assert finding.status is Status.OK and ", +2% vs previous" in finding.summary


@pytest.mark.parametrize(
    "records",
    [(), (rec(2),), (rec(2), rec(26, ok=False)), (rec(2), rec(26, size=None))],
)
def test_size_unknown_without_two_good_sizes(records: tuple[BackupRecord, ...]) -> None:
    finding = one(checks.size(inv(*records), [], profile(), NOW))
    assert finding.status is Status.UNKNOWN
    assert finding.summary == "nothing to compare: fewer than two good dumps with a size"


def test_size_custom_ratio_and_zero_previous() -> None:
    strict = profile(backup_shrink_ratio=0.2)
    assert one(checks.size(inv(rec(2, size=75), rec(26, size=100)), [], strict, NOW)).status is (
        Status.WARN
    )
    zero = one(checks.size(inv(rec(2, size=75), rec(26, size=0)), [], profile(), NOW))
    assert zero.status is Status.UNKNOWN


# -- backup.gaps ---------------------------------------------------------------------------


def test_gaps_none() -> None:
    finding = one(checks.gaps(daily(20), [], profile(), NOW))
    assert finding.status is Status.OK
    assert finding.summary == "a good dump every day (14 days)"
    assert dict(finding.details)["days"] == "2026-08-07 .. 2026-08-20"


def test_gaps_listed() -> None:
    # Indexes are days back from today (Aug 21): 9 = Aug 12, 8 = Aug 13, 2 = Aug 19 (bad).
    finding = one(checks.gaps(daily(20, skip=(8, 9), bad=(2,)), [], profile(), NOW))
    assert finding.status is Status.WARN
    assert finding.summary == "3 days without a good dump: Aug 12, Aug 13, Aug 19"
    assert [v for k, v in finding.details if k == "gap"] == [
        "2026-08-12",
        "2026-08-13",
        "2026-08-19",
    ]
    assert finding.advice


def test_gaps_long_list_is_shortened() -> None:
    finding = one(checks.gaps(daily(20, skip=range(3, 10)), [], profile(), NOW))
    assert finding.summary == (
        "7 days without a good dump: Aug 12, Aug 13, Aug 14, Aug 15 and 3 more"
    )


def test_gaps_ignore_today_and_days_before_the_first_backup() -> None:
    # Today's dump has not run yet; retention keeps 5 days: neither is a gap.
    finding = one(checks.gaps(daily(6, skip=(0,)), [], profile(), NOW))
    assert finding.status is Status.OK
    assert finding.summary == "a good dump every day (5 days)"


def test_gaps_outside_the_window_do_not_count() -> None:
    finding = one(checks.gaps(daily(30, skip=(20, 21)), [], profile(), NOW))
    assert finding.status is Status.OK
    short = one(checks.gaps(daily(30, skip=(5,)), [], profile(backup_history_days=3), NOW))
    assert short.status is Status.OK and short.summary.endswith("(3 days)")


def test_gaps_with_a_weekly_cadence() -> None:
    weekly = profile(cadence=7 * DAY, backup_history_days=30)
    every_week = inv(*(rec(9 + 24 * 7 * i) for i in range(5)))
    finding = one(checks.gaps(every_week, [], weekly, NOW))
    assert finding.status is Status.OK
    assert finding.summary == "no gap over the cadence (28 days)"
    missed = inv(*(rec(9 + 24 * 7 * i) for i in (0, 2, 3, 4)))
    finding = one(checks.gaps(missed, [], weekly, NOW))
    assert finding.status is Status.WARN
    assert finding.summary.startswith("13 days without a good dump: ")


@pytest.mark.parametrize(
    ("records", "summary"),
    [
        ((rec(None, ok=None),), "no dated dumps to look for gaps"),
        ((rec(2),), "not judged yet: dump history starts today"),
    ],
)
def test_gaps_unknown(records: tuple[BackupRecord, ...], summary: str) -> None:
    finding = one(checks.gaps(inv(*records), [], profile(), NOW))
    assert (finding.status, finding.summary) == (Status.UNKNOWN, summary)


# -- backup.integrity ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "status", "summary"),
    [
        ((rec(2, name="a"), rec(26, name="b")), Status.OK, "newest dump intact"),
        (
            (rec(2, ok=False, name="a", problem="truncated: no end marker"), rec(26, name="b")),
            Status.CRIT,
            "BAD newest dump: truncated: no end marker (a)",
        ),
        (
            (rec(2, name="a"), rec(26, ok=False, name="b"), rec(50, ok=False, name="c")),
            Status.WARN,
            "2 older dumps bad: b, c",
        ),
        (
            (rec(2, ok=None, name="a"), rec(26, name="b")),
            Status.OK,
            "newest dump intact (1 newer not checked yet)",
        ),
        (
            (rec(2, ok=None, name="a"), rec(26, ok=False, name="b")),
            Status.CRIT,
            "BAD newest dump: truncated (b)",
        ),
        ((rec(2, ok=None), rec(26, ok=None)), Status.UNKNOWN, "not checked: integrity of 2 dumps"),
        ((), Status.UNKNOWN, "no dumps to check"),
    ],
)
def test_integrity(records: tuple[BackupRecord, ...], status: Status, summary: str) -> None:
    finding = one(checks.integrity(inv(*records), [], profile(), NOW))
    assert (finding.status, finding.summary) == (status, summary)


def test_integrity_with_a_running_and_a_failed_barman_backup() -> None:
    running = rec(None, ok=None, name="20260821T030001", kind="barman", problem="in progress")
    done = rec(30, name="20260820T030001", kind="barman")
    failed = BackupRecord("barman", "20260819T030001", None, None, False, "backup failed")
    finding = one(
        checks.integrity(inv(running, done, failed, kind="barman"), [], profile("barman"), NOW)
    )
    assert finding.status is Status.WARN
    assert finding.summary == "1 older backup bad: 20260819T030001"
    assert finding.details == (("20260819T030001", "backup failed"),)
    failed_newest = inv(failed, done, kind="barman")
    finding = one(checks.integrity(failed_newest, [], profile("barman"), NOW))
    assert finding.status is Status.CRIT
    assert finding.summary == "BAD newest backup: backup failed (20260819T030001)"


# -- backup.tool ---------------------------------------------------------------------------


def test_tool_problems() -> None:
    problems = (
        "backup maximum age: FAILED (interval provided: 1 day, latest backup age: 2 days)",
        "failed backups: FAILED (there are 1 failed backups)",
    )
    finding = one(
        checks.tool(
            inv(rec(2, kind="barman"), kind="barman", problems=problems), [], profile("barman"), NOW
        )
    )
    assert finding.status is Status.WARN
    assert finding.summary == (
        "FAILED: backup maximum age (interval provided: 1 day, latest backup age: "
        "2 days) (Barman) (+1 more)"
    )
    assert [v for _, v in finding.details] == list(problems)


@pytest.mark.parametrize(
    ("kind", "summary"),
    [
        ("pgbackrest", "pgBackRest: no problems"),
        ("pg_dump", "pg_dump directory: no problems"),
    ],
)
def test_tool_ok(kind: str, summary: str) -> None:
    finding = one(checks.tool(inv(rec(2), kind=kind), [], profile(kind), NOW))
    assert (finding.status, finding.summary) == (Status.OK, summary)


def test_tool_unknown_without_inventory() -> None:
    finding = one(checks.tool(None, [], profile("pgbackrest"), NOW))
    assert finding.status is Status.UNKNOWN


# -- backup.verification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "status", "summary"),
    [
        ([], Status.WARN, "never restore-tested"),
        ([verification(1, profile_name="testnet")], Status.WARN, "never restore-tested"),
        ([verification(2)], Status.OK, "key matches chain (restore test 2d ago)"),
        ([verification(7)], Status.OK, "key matches chain (restore test 7d ago)"),
        ([verification(7.5)], Status.WARN, "TOO OLD: restore test 7d ago (max 7d)"),
        (
            [verification(1, "mismatch")],
            Status.CRIT,
            "key DIFFERS from chain (restore test 24h ago)",
        ),
        (
            [verification(0.5, "failed")],
            Status.CRIT,
            "restore test FAILED 12h ago: failed: key 03aa… vs chain",
        ),
        (
            [verification(0.5, "unknown")],
            Status.UNKNOWN,
            "inconclusive restore test 12h ago: unknown: key 03aa… vs chain",
        ),
        # The newest run decides, whatever order the history is in.
        (
            [verification(1), verification(3, "mismatch")],
            Status.OK,
            "key matches chain (restore test 24h ago)",
        ),
        (
            [verification(3), verification(1, "mismatch")],
            Status.CRIT,
            "key DIFFERS from chain (restore test 24h ago)",
        ),
        # A stale mismatch is still a mismatch.
        (
            [verification(30, "mismatch")],
            Status.CRIT,
            "key DIFFERS from chain (restore test 30d ago)",
        ),
    ],
)
def test_verification(history: list[VerificationRecord], status: Status, summary: str) -> None:
    finding = one(checks.verification(None, history, profile(), NOW))
    assert (finding.status, finding.summary) == (status, summary)
    if summary != "never restore-tested":
        assert finding.evidence[0].source == "verification history"
        assert finding.evidence[0].request == "verify-backup /backups/signer-20260820T0300.dump"


def test_verification_advice_depends_on_the_backup_kind() -> None:
    never = one(checks.verification(None, [], profile(), NOW))
    assert "signer-tui verify-backup --latest --profile mainnet" in never.advice
    never = one(checks.verification(None, [], profile("pgbackrest"), NOW))
    assert "--latest" not in never.advice
    assert "signer-tui verify-backup --profile mainnet" in never.advice
    assert "restores the newest set with pgbackrest itself" in never.advice


def test_verification_details_and_custom_max_age() -> None:
    finding = one(
        checks.verification(None, [verification(2)], profile(verification_max_age=DAY), NOW)
    )
    assert finding.status is Status.WARN and finding.summary.endswith("(max 24h)")
    details = dict(finding.details)
    assert details["key in backup"] == "03" + "aa" * 32
    assert details["key from hiro"] == "03" + "aa" * 32
    assert finding.observed_at == NOW - timedelta(days=2)


# -- everything together -------------------------------------------------------------------


def test_healthy_signer_is_all_ok_and_summaries_fit_a_narrow_pane() -> None:
    inventory = daily(20)
    findings = checks.evaluate(inventory, [verification(1)], profile(), NOW)
    assert [f.id for f in findings] == list(checks.IDS)
    assert {f.id: f.status for f in findings} == dict.fromkeys(checks.IDS, Status.OK)
    for finding in findings:
        assert "\n" not in finding.summary and len(finding.summary) <= 60, finding.summary
        assert finding.profile == "mainnet"
        assert finding.evidence


def test_unreadable_inventory() -> None:
    findings = checks.evaluate(
        None, [verification(1)], profile(), NOW, read_error="permission denied"
    )
    by_id = {f.id: f.status for f in findings}
    assert by_id == {
        "backup.configured": Status.OK,
        "backup.freshness": Status.UNKNOWN,
        "backup.size": Status.UNKNOWN,
        "backup.gaps": Status.UNKNOWN,
        "backup.integrity": Status.UNKNOWN,
        "backup.tool": Status.UNKNOWN,
        "backup.verification": Status.OK,
    }
    assert Status.worst(f.status for f in findings) is Status.UNKNOWN
    assert all(f.evidence for f in findings)
    freshness = next(f for f in findings if f.id == "backup.freshness")
    assert freshness.evidence[0].error == "permission denied"
    assert freshness.data_time == NOW


def test_verification_details_carry_the_finding_ids_of_the_run() -> None:
    """The Backups pane shows the ids `verify-backup --json` reported, with their status."""
    from dataclasses import replace as _replace

    record = _replace(
        verification(1),
        findings=(("verify.restore", "OK"), ("verify.key", "CRIT")),
    )
    found = one(checks.verification(None, [record], profile(), NOW))
    assert ("verify.restore", "OK") in found.details
    assert ("verify.key", "CRIT") in found.details
