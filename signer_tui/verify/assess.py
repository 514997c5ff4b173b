"""From a finished restore (or an early stop) to the outcome: findings, verdict, history line.

Shared by every kind of backup: a pg_dump restored with pg_restore/psql, and a pgBackRest set or
Barman backup restored with the tool itself. The checks are the pure `checks.restored` ones.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from signer_tui.checks.keys import ChainReading, KeyComparison, compare_keys
from signer_tui.checks.restored import check_restored, compare_row_counts, finding, key_findings
from signer_tui.checks.restored import verdict as overall_verdict
from signer_tui.config import Profile
from signer_tui.model import Evidence, Finding, Status, utcnow
from signer_tui.pgdump.types import DumpInfo
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.postgres import SignerDbFacts
from signer_tui.verify import history
from signer_tui.verify.restore import RestoreResult
from signer_tui.verify.types import VerificationOutcome, VerifyCancelled, VerifyRequest
from signer_tui.verify.work import Background, Clock


def outcome_without_restore(
    request: VerifyRequest,
    path: str,
    verdict_word: str,
    summary: str,
    first: Finding,
    clock: Clock,
    started_at: datetime,
    dump: DumpInfo | None = None,
    sha256: str | None = None,
) -> VerificationOutcome:
    clock.finish()
    outcome = VerificationOutcome(
        verdict=verdict_word,
        summary=summary,
        findings=(first,),
        path=path,
        dump=dump,
        sha256=sha256,
        timings=tuple(clock.timings),
    )
    return record(request, outcome, started_at, clock)


def assess(
    request: VerifyRequest,
    path: str,
    info: DumpInfo | None,
    postgres: str,
    result: RestoreResult | None,
    facts: SignerDbFacts | None,
    checks_error: str,
    not_signer: bool,
    chain_job: Background[list[ChainReading]] | None,
    live_job: Background[tuple[dict[str, int | None], str]] | None,
    digest: str | None,
    clock: Clock,
    started_at: datetime,
    cancel: threading.Event,
    extra: tuple[Finding, ...] = (),
) -> VerificationOutcome:
    if cancel.is_set():
        raise VerifyCancelled("cancelled")
    profile = request.profile
    name = profile.name if profile else ""
    findings: list[Finding] = list(extra)  # what the backup tool itself said about the set
    base: dict[str, Any] = {
        "path": path,
        "dump": info,
        "sha256": digest,
        "postgres": postgres,
        "restore": result,
    }
    assert result is not None
    if not result.ok:
        # The first real error, not the last symptom ("a worker process died unexpectedly").
        why = result.errors[0] if result.errors else f"exit code {result.returncode}"
        if result.inconclusive:
            verdict, status = "unknown", Status.UNKNOWN
            summary = f"could not determine: the restore did not run to the end ({why})"
            advice = "Run again; check free space in $TMPDIR and the PostgreSQL binaries."
        else:
            verdict, status = "failed", Status.CRIT
            summary = f"restore FAILED: {why}"
            if result.notes:
                summary += "; " + "; ".join(result.notes)
            advice = "The backup does not restore: take a new one and check the backup job."
        findings.append(
            finding(
                "verify.restore",
                status,
                summary,
                advice,
                [_restore_evidence(result)],
                name,
                [("error", line) for line in result.errors],
            )
        )
        clock.finish()
        outcome = VerificationOutcome(
            verdict=verdict,
            summary=summary,
            findings=tuple(findings),
            timings=tuple(clock.timings),
            **base,
        )
        return record(request, outcome, started_at, clock)
    findings.append(
        finding(
            "verify.restore",
            Status.OK,
            f"{info.describe if info else path}: {result.summary}",
            evidence=[_restore_evidence(result)],
            profile=name,
            details=[("note", note) for note in result.notes],
        )
    )
    if facts is None:
        if not_signer:
            # It restored, but it is not the signer's database: a wrong or empty backup.
            verdict, status = "failed", Status.CRIT
            summary = f"no sbtc_signer schema: not a dump of the signer DB ({checks_error})"
        else:
            verdict, status = "unknown", Status.UNKNOWN
            summary = f"could not determine: the restored DB could not be read ({checks_error})"
        findings.append(finding("verify.checks", status, summary, profile=name))
        clock.finish()
        outcome = VerificationOutcome(
            verdict=verdict,
            summary=summary,
            findings=tuple(findings),
            facts=None,
            timings=tuple(clock.timings),
            **base,
        )
        return record(request, outcome, started_at, clock)
    findings.extend(check_restored(facts, name))

    # Row counts against the live DB (never fatal).
    live: dict[str, int | None] = {}
    live_note = "no profile: live DB not compared"
    if live_job is not None:
        try:
            live, live_note = live_job.result(timeout=_live_wait(profile))
        except TimeoutError:
            live_note = "live DB not compared (no answer in time)"
    backup_counts = facts.row_counts.as_dict() if facts.row_counts is not None else {}
    rows, count_problems = compare_row_counts(
        backup_counts,
        live,
        shrink_ratio=profile.thresholds.backup_shrink_ratio if profile else 0.5,
    )
    if live:
        status = Status.WARN if count_problems else Status.OK
        summary = "; ".join(count_problems) if count_problems else "row counts consistent with live"
        findings.append(
            finding(
                "verify.row_counts",
                status,
                summary,
                "Take a new backup: the live database has moved on since this one."
                if count_problems
                else "",
                [facts.row_counts.evidence] if facts.row_counts is not None else [],
                name,
            )
        )

    # The key.
    verified = facts.verified_keys
    db_key = verified.newest.hex() if verified is not None and verified.newest else None
    older = [k.hex() for k in verified.keys[1:]] if verified is not None else []
    readings: list[ChainReading] = []
    if chain_job is not None:
        clock.emit("chain", "reading the aggregate key on chain")
        try:
            readings = chain_job.result(timeout=_chain_wait(profile))
        except TimeoutError:
            readings = [
                ChainReading(
                    "node", profile.stacks.rpc_url if profile else "", None, "no answer in time"
                )
            ]
        except Exception as exc:  # an unexpected client bug must not lose the restore result
            readings = [ChainReading("node", "", None, f"unexpected {type(exc).__name__}: {exc}")]
        clock.lap("chain")
    if request.chain and profile is None:
        keys = KeyComparison("unknown", "no profile: the chain sources are unknown", db_key)
    elif verified is None:
        keys = KeyComparison(
            "unknown", "the verified-key query failed on the restored database", None
        )
    else:
        keys = compare_keys(db_key, readings, older_verified=older)
    findings.extend(key_findings(keys, verified, name))

    verdict_word, summary = overall_verdict(keys, findings)
    clock.finish()
    outcome = VerificationOutcome(
        verdict=verdict_word,
        summary=summary,
        findings=tuple(findings),
        facts=facts,
        keys=keys,
        row_counts=tuple(rows),
        live_note=live_note,
        timings=tuple(clock.timings),
        **base,
    )
    return record(request, outcome, started_at, clock)


def _chain_wait(profile: Profile | None) -> float:
    if profile is None:
        return 5.0
    return max(profile.stacks.timeout, profile.chain_api.timeout) * 2 + 5


def _live_wait(profile: Profile | None) -> float:
    if profile is None:
        return 5.0
    return profile.db.connect_timeout + profile.db.statement_timeout * 2 + 5


def _restore_evidence(result: RestoreResult) -> Evidence:
    return Evidence(
        source="scratch PostgreSQL",
        request=" ".join(result.command) if result.command else result.tool,
        observed_at=utcnow(),
        status=result.returncode,
        raw="\n".join(result.errors),
        decoded=result.summary,
        elapsed_ms=round(result.elapsed_s * 1000, 1),
        error="" if result.ok else (result.errors[0] if result.errors else "failed"),
    )


def record(
    request: VerifyRequest, outcome: VerificationOutcome, started_at: datetime, clock: Clock
) -> VerificationOutcome:
    clock.emit("done", outcome.summary)
    keys = outcome.keys
    problems = tuple(f"{f.id}: {f.summary}" for f in outcome.findings if f.status is not Status.OK)
    record = VerificationRecord(
        profile=request.profile.name if request.profile else "",
        started_at=started_at,
        finished_at=utcnow(),
        backup=outcome.path,
        sha256=outcome.sha256,
        size_bytes=outcome.dump.size_bytes if outcome.dump else None,
        duration_s=clock.elapsed,
        verdict=outcome.verdict,
        summary=outcome.summary,
        db_key=keys.db_key if keys else None,
        chain_keys={r.source: r.key_hex for r in keys.readings if r.answered} if keys else {},
        problems=problems,
        findings=tuple((f.id, f.status.value) for f in outcome.findings),
    )
    written: str | None = None
    if request.record_history:
        try:
            written = str(history.append(record, request.history_path))
        except OSError as exc:
            outcome = _withfinding(
                outcome,
                finding(
                    "verify.history",
                    Status.WARN,
                    f"could not append to the verification history: {exc.strerror or exc}",
                ),
            )
    return replace(outcome, record=record, history_file=written)


def _withfinding(outcome: VerificationOutcome, finding: Finding) -> VerificationOutcome:
    return replace(outcome, findings=(*outcome.findings, finding))
