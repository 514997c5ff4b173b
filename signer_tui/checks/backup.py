"""Backup checks: pure functions of (inventory | None, history, profile, now) -> Findings.

The signer's database holds its DKG key shares: losing it without a backup can lose the
signer's share of the sBTC peg wallet key, so a signer must be backed up at least daily and
its backups restore-tested. Stable ids: backup.configured, backup.freshness, backup.size,
backup.gaps, backup.integrity, backup.tool, backup.verification.

A backup counts as *good* unless it is known to be bad (`ok is False`): whether an unchecked
one is intact is the integrity check's question, not the freshness check's. Times are compared
with `now` only; nothing here reads the clock.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from signer_tui import format as fmt
from signer_tui.checks.registry import Inputs, check
from signer_tui.config import Profile
from signer_tui.model import Evidence, Finding, Status, clean_text
from signer_tui.sources.backup_types import BackupInventory, BackupRecord, VerificationRecord
from signer_tui.sources.catalog import BACKUPS

IDS = (
    "backup.configured",
    "backup.freshness",
    "backup.size",
    "backup.gaps",
    "backup.integrity",
    "backup.tool",
    "backup.verification",
)

# A backup dated further in the future than this points at a wrong clock, not a fast backup.
CLOCK_SKEW = timedelta(minutes=5)
# How many gap days or bad backups a summary names before it says "…".
SHOWN = 4

Check = Callable[..., list[Finding]]


# -- formatting ----------------------------------------------------------------------------


# One vocabulary with the rest of the console (signer_tui.format): '45s', '12m', '16h', '2d'.
span = fmt.age
size_text = fmt.size


def _problem_first(problem: str) -> str:
    """Barman's "backup maximum age: FAILED (...)" as "FAILED: backup maximum age (...)", so
    the verdict survives a narrow column."""
    label, sep, rest = problem.partition(": ")
    verdict, paren, tail = rest.partition(" (")
    if not sep or not verdict.isupper():
        return problem
    return f"{verdict}: {label}" + (f" ({tail}" if paren else "")


def _word(inventory: BackupInventory | None, profile: Profile) -> str:
    kind = (
        inventory.kind
        if inventory is not None
        else (profile.backups.kind if profile.backups else "")
    )
    return "dump" if kind == "pg_dump" else "backup"


def _tool_name(kind: str) -> str:
    return {"pg_dump": "pg_dump directory", "pgbackrest": "pgBackRest", "barman": "Barman"}.get(
        kind, kind
    )


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _age(when: datetime, now: datetime) -> float:
    return (_utc(now) - _utc(when)).total_seconds()


# -- shared pieces -------------------------------------------------------------------------


def _finding(
    fid: str,
    status: Status,
    summary: str,
    advice: str,
    profile: Profile,
    inventory: BackupInventory | None = None,
    *,
    evidence: tuple[Evidence, ...] | None = None,
    details: Sequence[tuple[str, str]] = (),
    observed_at: datetime | None = None,
) -> Finding:
    if evidence is None:
        evidence = inventory.evidence if inventory is not None else ()
    if observed_at is None and inventory is not None:
        observed_at = inventory.observed_at
    return Finding(
        id=fid,
        status=status,
        summary=summary,
        advice=advice,
        evidence=evidence,
        profile=profile.name,
        observed_at=observed_at,
        details=tuple(details),
    )


def _config_evidence(profile: Profile, now: datetime) -> Evidence:
    backups = profile.backups
    shown = backups.model_dump_json(exclude_none=True) if backups is not None else "null"
    return Evidence(
        source="config",
        request=f"signers[{profile.name}].backups",
        observed_at=_utc(now),
        raw=shown,
    )


def _unavailable(
    fid: str, inventory: BackupInventory | None, profile: Profile, now: datetime, read_error: str
) -> Finding | None:
    """The UNKNOWN finding when there is nothing to judge, else None."""
    if profile.backups is None:
        return _finding(
            fid,
            Status.UNKNOWN,
            "backups not configured",
            "Add a `backups:` section to this profile (see backup.configured).",
            profile,
            evidence=(_config_evidence(profile, now),),
        )
    if inventory is None:
        why = f": {clean_text(read_error, 200)}" if read_error else ""
        tool = _tool_name(profile.backups.kind)
        failed = Evidence(
            source=tool,
            request="read the backup inventory",
            observed_at=_utc(now),
            error=clean_text(read_error, 1000) or "not read",
        )
        return _finding(
            fid,
            Status.UNKNOWN,
            f"backups could not be read{why}",
            f"Check that {tool} can be read by the user running signer-tui "
            "(backups.location / backups.command) and look at the evidence.",
            profile,
            evidence=(failed,),
        )
    return None


Judge = Callable[
    [str, BackupInventory, Sequence[VerificationRecord], Profile, datetime], list[Finding]
]


def _judges_inventory(fid: str) -> Callable[[Judge], Check]:
    """For the checks that judge what was read: UNKNOWN with the reason when nothing was
    (not configured, the listing failed), so each judge sees an inventory."""

    def wrap(judge: Judge) -> Check:
        @functools.wraps(judge)
        def run(
            inventory: BackupInventory | None,
            history: Sequence[VerificationRecord],
            profile: Profile,
            now: datetime,
            *,
            read_error: str = "",
        ) -> list[Finding]:
            if (unknown := _unavailable(fid, inventory, profile, now, read_error)) is not None:
                return [unknown]
            assert inventory is not None
            return judge(fid, inventory, history, profile, now)

        return run

    return wrap


def _good(records: Sequence[BackupRecord]) -> list[BackupRecord]:
    """Dated backups not known to be bad, newest first."""
    found = [r for r in records if r.ok is not False and r.finished_at is not None]
    return sorted(found, key=lambda r: _utc(r.finished_at or datetime.min), reverse=True)


# -- the checks ----------------------------------------------------------------------------


def configured(
    inventory: BackupInventory | None,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
    *,
    read_error: str = "",
) -> list[Finding]:
    if profile.backups is None:
        return [
            _finding(
                "backup.configured",
                Status.CRIT,
                "no backups configured",
                "The signer DB holds its DKG key shares: back it up at least daily and add a "
                "`backups:` section (kind pg_dump, pgbackrest or barman) to this profile.",
                profile,
                evidence=(_config_evidence(profile, now),),
            )
        ]
    backups = profile.backups
    where = {
        "pg_dump": str(backups.location),
        "pgbackrest": f"stanza {backups.stanza}",
        "barman": f"server {backups.server}",
    }[backups.kind]
    return [
        _finding(
            "backup.configured",
            Status.OK,
            f"{_tool_name(backups.kind)}, every {span(backups.cadence)}",
            "",
            profile,
            evidence=(_config_evidence(profile, now),),
            details=(
                ("kind", backups.kind),
                ("where", where),
                ("cadence", span(backups.cadence)),
            ),
            observed_at=_utc(now),
        )
    ]


@_judges_inventory("backup.freshness")
def freshness(
    fid: str,
    inventory: BackupInventory,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
) -> list[Finding]:
    assert profile.backups is not None
    word = _word(inventory, profile)
    cadence = profile.backups.cadence
    # A max age below the cadence would page before a backup is even due.
    crit_after = max(profile.thresholds.backup_max_age, cadence)
    good = _good(inventory.records)
    if not good:
        bad = sum(r.ok is False for r in inventory.records)
        summary = (
            f"no good {word}: {bad} bad, none usable"
            if inventory.records
            else f"no {word}s found in {inventory.location}"
        )
        return [
            _finding(
                fid,
                Status.CRIT,
                summary,
                f"Take a {word} now and check why the scheduled job is not producing good ones: "
                "without one, a lost signer DB means lost key shares.",
                profile,
                inventory,
            )
        ]
    newest = good[0]
    assert newest.finished_at is not None
    age = _age(newest.finished_at, now)
    details = [
        ("newest", newest.name),
        ("finished", _utc(newest.finished_at).isoformat()),
        ("cadence", span(cadence)),
        ("critical after", span(crit_after)),
    ]
    if -age > CLOCK_SKEW.total_seconds():
        return [
            _finding(
                fid,
                Status.WARN,
                f"in the future: newest {word} dated {span(-age)} ahead",
                "Check the clocks of the backup host and this host (NTP): a future timestamp "
                "hides how old the backup really is.",
                profile,
                inventory,
                details=details,
            )
        ]
    if age <= cadence:
        status, advice = Status.OK, ""
        summary = f"last good {word} {span(age)} ago"
    elif age <= crit_after:
        status = Status.WARN
        summary = f"LATE: last good {word} {span(age)} ago (every {span(cadence)})"
        advice = f"The scheduled {word} is late: check that the backup job ran and succeeded."
    else:
        status = Status.CRIT
        summary = f"TOO OLD: last good {word} {span(age)} ago (max {span(crit_after)})"
        advice = (
            f"Take a {word} now, then fix the schedule: the signer DB (with its key shares) "
            "is not protected by a recent backup."
        )
    return [_finding(fid, status, summary, advice, profile, inventory, details=details)]


@_judges_inventory("backup.size")
def size(
    fid: str,
    inventory: BackupInventory,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
) -> list[Finding]:
    word = _word(inventory, profile)
    sized = [r for r in _good(inventory.records) if r.size_bytes is not None]
    if len(sized) < 2:
        return [
            _finding(
                fid,
                Status.UNKNOWN,
                f"nothing to compare: fewer than two good {word}s with a size",
                "",
                profile,
                inventory,
            )
        ]
    newest, previous = sized[0], sized[1]
    assert newest.size_bytes is not None and previous.size_bytes is not None
    details = (
        ("newest", f"{newest.name}: {newest.size_bytes} bytes"),
        ("previous", f"{previous.name}: {previous.size_bytes} bytes"),
    )
    if previous.size_bytes <= 0:
        return [
            _finding(
                fid,
                Status.UNKNOWN,
                f"nothing to compare: previous {word} has size 0",
                "",
                profile,
                inventory,
                details=details,
            )
        ]
    change = newest.size_bytes / previous.size_bytes - 1
    limit = profile.thresholds.backup_shrink_ratio
    if -change > limit:
        return [
            _finding(
                fid,
                Status.WARN,
                f"newest {word} {-change:.0%} smaller than the previous one: suspicious",
                f"A signer DB rarely shrinks: check that the newest {word} is complete "
                "(restore-test it with `signer-tui verify-backup`) and that it dumped the "
                "right database.",
                profile,
                inventory,
                details=details,
            )
        ]
    return [
        _finding(
            fid,
            Status.OK,
            f"{size_text(newest.size_bytes)}, {change:+.0%} vs previous",
            "",
            profile,
            inventory,
            details=details,
        )
    ]


@_judges_inventory("backup.gaps")
def gaps(
    fid: str,
    inventory: BackupInventory,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
) -> list[Finding]:
    """Days (UTC) without a good backup, over the last `backup_history_days` full days.

    Today is left to the freshness check, and days before the oldest backup on record are
    not counted (they predate the setup or fell out of retention). With a cadence longer
    than a day, only a run of empty days as long as the cadence is a gap.
    """
    assert profile.backups is not None
    word = _word(inventory, profile)
    window = profile.thresholds.backup_history_days
    dated = [r.finished_at for r in inventory.records if r.finished_at is not None]
    if not dated:
        return [
            _finding(
                fid, Status.UNKNOWN, f"no dated {word}s to look for gaps", "", profile, inventory
            )
        ]
    today = _utc(now).date()
    first = max(min(_utc(d).date() for d in dated), today - timedelta(days=window))
    days = [first + timedelta(days=i) for i in range((today - first).days)]
    if not days:
        return [
            _finding(
                fid,
                Status.UNKNOWN,
                f"not judged yet: {word} history starts today",
                "",
                profile,
                inventory,
            )
        ]
    covered = {_utc(r.finished_at).date() for r in _good(inventory.records) if r.finished_at}
    run_length = max(1, math.ceil(profile.backups.cadence / 86400))
    missing = _gap_days(days, covered, run_length)
    details = (
        ("days", f"{days[0].isoformat()} .. {days[-1].isoformat()}"),
        *(("gap", d.isoformat()) for d in missing),
    )
    if missing:
        names = [_day(d) for d in missing]
        return [
            _finding(
                fid,
                Status.WARN,
                f"{fmt.count(len(missing), 'day')} without a good {word}: {_listed(names)}",
                f"Find out why the {word} job did not run (or failed) on those days: cron or "
                "timer logs, disk space, credentials.",
                profile,
                inventory,
                details=details,
            )
        ]
    summary = (
        f"a good {word} every day ({fmt.count(len(days), 'day')})"
        if run_length == 1
        else f"no gap over the cadence ({fmt.count(len(days), 'day')})"
    )
    return [_finding(fid, Status.OK, summary, "", profile, inventory, details=details)]


def _day(day: date) -> str:
    return day.strftime("%b %d").replace(" 0", " ")


def _gap_days(days: Sequence[date], covered: set[date], run_length: int) -> list[date]:
    missing: list[date] = []
    run: list[date] = []
    for day in [*days, None]:
        if day is not None and day not in covered:
            run.append(day)
            continue
        if len(run) >= run_length:
            missing.extend(run)
        run = []
    return missing


@_judges_inventory("backup.integrity")
def integrity(
    fid: str,
    inventory: BackupInventory,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
) -> list[Finding]:
    """The newest *checked* backup must be intact; older bad ones are worth a warning.

    Records are taken in the inventory's order (newest first), so a running or failed backup
    without an end time still counts as the newest one.
    """
    word = _word(inventory, profile)
    records = inventory.records
    if not records:
        return [_finding(fid, Status.UNKNOWN, f"no {word}s to check", "", profile, inventory)]
    checked = [r for r in records if r.ok is not None]
    bad = [r for r in records if r.ok is False]
    details = tuple((r.name, r.problem or "bad") for r in bad)
    if not checked:
        return [
            _finding(
                fid,
                Status.UNKNOWN,
                f"not checked: integrity of {fmt.count(len(records), word)}",
                "Nothing could read the backups' contents: install the matching tools "
                "(pg_restore for dumps) or run the tool's own verification.",
                profile,
                inventory,
            )
        ]
    newest = checked[0]
    if newest.ok is False:
        return [
            _finding(
                fid,
                Status.CRIT,
                f"BAD newest {word}: {newest.problem or 'failed'} ({newest.name})",
                f"Take a new {word} now and check the job's log: the newest {word} cannot be "
                "restored.",
                profile,
                inventory,
                details=details,
            )
        ]
    if bad:
        return [
            _finding(
                fid,
                Status.WARN,
                f"{fmt.count(len(bad), 'older ' + word)} bad: {_listed([r.name for r in bad])}",
                f"The newest {word} is fine. Remove or replace the bad ones so nobody restores "
                "them by mistake, and find out what damaged them (disk, interrupted job).",
                profile,
                inventory,
                details=details,
            )
        ]
    unchecked = records.index(newest)
    note = f" ({unchecked} newer not checked yet)" if unchecked else ""
    return [
        _finding(
            fid,
            Status.OK,
            f"newest {word} intact{note}",
            "",
            profile,
            inventory,
            details=(("newest", newest.name),),
        )
    ]


@_judges_inventory("backup.tool")
def tool(
    fid: str,
    inventory: BackupInventory,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
) -> list[Finding]:
    name = _tool_name(inventory.kind)
    problems = inventory.tool_problems
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return [
            _finding(
                fid,
                Status.WARN,
                f"{_problem_first(clean_text(problems[0], 200))} ({name}){more}",
                f"Fix what {name} reports (see details): a broken backup system stops "
                "producing restorable backups before anyone notices.",
                profile,
                inventory,
                details=tuple(("problem", clean_text(p, 300)) for p in problems),
            )
        ]
    return [
        _finding(
            fid,
            Status.OK,
            f"{name}: no problems",
            "",
            profile,
            inventory,
        )
    ]


def verification(
    inventory: BackupInventory | None,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
    *,
    read_error: str = "",
) -> list[Finding]:
    fid = "backup.verification"
    mine = [r for r in history if r.profile == profile.name]
    kind = profile.backups.kind if profile.backups else "pg_dump"
    how = (
        f"Run `signer-tui verify-backup --latest --profile {profile.name}`"
        if kind == "pg_dump"
        else f"Run `signer-tui verify-backup --profile {profile.name}` (it restores the "
        f"newest set with {kind} itself)"
    )
    if not mine:
        return [
            _finding(
                fid,
                Status.WARN,
                "never restore-tested",
                f"{how}: it restores into a scratch PostgreSQL and compares the key in the "
                "backup with the chain's aggregate key.",
                profile,
                evidence=(
                    Evidence(
                        source="verification history",
                        request=f"verify-backup records of profile {profile.name}",
                        observed_at=_utc(now),
                        raw=f"{fmt.count(len(history), 'record')}, none for this profile",
                    ),
                ),
            )
        ]
    last = max(mine, key=lambda r: _utc(r.finished_at))
    age = _age(last.finished_at, now)
    max_age = profile.thresholds.verification_max_age
    evidence = (
        Evidence(
            source="verification history",
            request=f"verify-backup {last.backup}",
            observed_at=_utc(last.finished_at),
            raw=clean_text(last.summary, 1000),
            decoded=f"verdict {last.verdict}",
            elapsed_ms=last.duration_s * 1000,
        ),
    )
    details = [("backup", last.backup), ("verdict", last.verdict)]
    if last.db_key:
        details.append(("key in backup", last.db_key))
    details += [(f"key from {source}", key or "none") for source, key in last.chain_keys.items()]
    details += [("problem", clean_text(p, 300)) for p in last.problems]
    # The same finding ids as `verify-backup --json` (and `check --json` for this row).
    details += [(fid, status) for fid, status in last.findings]
    when = f"{span(age)} ago"

    def result(status: Status, summary: str, advice: str) -> list[Finding]:
        return [
            _finding(
                fid,
                status,
                summary,
                advice,
                profile,
                evidence=evidence,
                details=details,
                observed_at=_utc(last.finished_at),
            )
        ]

    if last.verdict == "mismatch":
        return result(
            Status.CRIT,
            f"key DIFFERS from chain (restore test {when})",
            "The backup does not hold the key the chain uses: it cannot restore this signer. "
            "Find out which DB the backup job dumps, fix it, and verify a new backup.",
        )
    if last.verdict == "failed":
        return result(
            Status.CRIT,
            f"restore test FAILED {when}: {clean_text(last.summary, 120)}",
            f"The backup could not be restored. {how} again after fixing the cause (details).",
        )
    if last.verdict != "verified":
        return result(
            Status.UNKNOWN,
            f"inconclusive restore test {when}: {clean_text(last.summary, 120)}",
            f"The chain key could not be compared (details). {how} again when the nodes are "
            "reachable.",
        )
    if age > max_age:
        return result(
            Status.WARN,
            f"TOO OLD: restore test {when} (max {span(max_age)})",
            f"{how} to test a recent backup.",
        )
    return result(Status.OK, f"key matches chain (restore test {when})", "")


CHECKS: tuple[Check, ...] = (configured, freshness, size, gaps, integrity, tool, verification)


def evaluate(
    inventory: BackupInventory | None,
    history: Sequence[VerificationRecord],
    profile: Profile,
    now: datetime,
    *,
    read_error: str = "",
) -> list[Finding]:
    """Every backup finding, in the order of `IDS`."""
    findings: list[Finding] = []
    for one in CHECKS:
        findings.extend(one(inventory, history, profile, now, read_error=read_error))
    return findings


@check(needs=(BACKUPS,))
def backup_checks(inp: Inputs) -> list[Finding]:
    obs = inp.get(BACKUPS)
    if obs is None:
        # Nothing read yet, not even the history: say so instead of "never tested".
        return [Finding(fid, Status.UNKNOWN, "backups: not read yet") for fid in IDS]
    reading = obs.reading()
    if reading is None:
        return evaluate(None, [], inp.profile, inp.now, read_error=obs.error or "failed")
    return evaluate(
        reading.inventory, reading.history, inp.profile, inp.now, read_error=reading.read_error
    )
