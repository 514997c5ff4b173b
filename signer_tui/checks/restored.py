"""verify.*: the checks of a restored backup, as ordinary checks producing Findings.

Pure: facts of the restored database (and the chain readings, the live row counts) in,
findings out. The finding ids are stable and are what `verify-backup --json`, the
verification history and the Backups pane report:

* `verify.dkg_rows` — dkg_shares holds rows at all (CRIT when empty: schema-only/empty backup);
* `verify.partial` — only some signer tables are in the backup (WARN: key material only);
* `verify.migrations` — the migrations ledger; `verify.shares` — the newest verified key's
  encrypted shares; `verify.newest_share` — a DKG round in flight at backup time;
* `verify.row_counts` — backup vs live DB; `verify.key` / `verify.chain_sources` — the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from signer_tui.checks.keys import KeyComparison, source_name
from signer_tui.model import Evidence, Finding, Status, utcnow
from signer_tui.sbtc import KNOWN_LAST_MIGRATIONS, LAST_MIGRATION_BY_RELEASE, MAIN_TABLES, short_key

if TYPE_CHECKING:
    from signer_tui.sources.postgres import SignerDbFacts, VerifiedKeys

# Findings whose CRIT makes the backup a failed one (beside the key itself).
CONTENT_IDS = ("verify.dkg_rows", "verify.migrations", "verify.shares")


@dataclass(frozen=True)
class RowCountRow:
    table: str
    backup: int | None
    live: int | None


def finding(
    id_: str,
    status: Status,
    summary: str,
    advice: str = "",
    evidence: Sequence[Evidence] = (),
    profile: str = "",
    details: Sequence[tuple[str, str]] = (),
) -> Finding:
    """A verification finding stamped now (also used by verify/ for its early verdicts)."""
    return Finding(
        id=id_,
        status=status,
        summary=summary,
        advice=advice,
        evidence=tuple(evidence),
        profile=profile,
        observed_at=utcnow(),
        details=tuple(details),
    )


def _releases_for(last: str) -> str:
    tags = [tag for tag, mig in LAST_MIGRATION_BY_RELEASE.items() if mig == last]
    if not tags:
        return ""
    return tags[0] if len(tags) == 1 else f"{tags[0]} to {tags[-1]}"


def check_restored(facts: SignerDbFacts, profile_name: str) -> list[Finding]:
    """Findings about the restored database itself (pure: facts in, findings out)."""
    found: list[Finding] = []
    problems = dict(facts.problems)
    found.extend(_content_findings(facts, profile_name))
    partial = any(f.id == "verify.partial" for f in found)

    migrations = facts.migrations
    if partial:
        pass  # a dkg_shares-only dump has no ledger by design: verify.partial says so
    elif migrations is None:
        found.append(
            finding(
                "verify.migrations",
                Status.UNKNOWN,
                f"migrations ledger not readable ({problems.get('migrations', 'query failed')})",
                profile=profile_name,
            )
        )
    elif not migrations.table_present:
        found.append(
            finding(
                "verify.migrations",
                Status.CRIT,
                "no public.__sbtc_migrations in the backup (dumped with -n sbtc_signer?)",
                "Dump the whole database (no -n): a signer restored from this backup with "
                "--migrate-db would re-run 0001 and fail.",
                [migrations.evidence],
                profile_name,
            )
        )
    elif not migrations.keys:
        found.append(
            finding(
                "verify.migrations",
                Status.CRIT,
                "the migrations ledger in the backup is empty",
                "A signer restored from it would try to re-run every migration.",
                [migrations.evidence],
                profile_name,
            )
        )
    elif migrations.last in KNOWN_LAST_MIGRATIONS:
        releases = _releases_for(migrations.last)
        found.append(
            finding(
                "verify.migrations",
                Status.OK,
                f"{len(migrations.keys)} migrations, last {migrations.last} ({releases})",
                evidence=[migrations.evidence],
                profile=profile_name,
            )
        )
    else:
        found.append(
            finding(
                "verify.migrations",
                Status.WARN,
                f"last migration {migrations.last} is not the last one of any known release",
                "A newer signer release than this console knows, or a hand-applied migration.",
                [migrations.evidence],
                profile_name,
            )
        )

    shares = facts.encrypted_shares
    if shares is None or shares.present is None:
        found.append(
            finding(
                "verify.shares",
                Status.UNKNOWN,
                "no verified DKG row: encrypted shares not checked"
                if shares is not None
                else f"encrypted shares not readable ({problems.get('encrypted_shares', '')})",
                evidence=[shares.evidence] if shares is not None else [],
                profile=profile_name,
            )
        )
    elif shares.present:
        found.append(
            finding(
                "verify.shares",
                Status.OK,
                f"encrypted_private_shares present ({shares.length} bytes)",
                evidence=[shares.evidence],
                profile=profile_name,
            )
        )
    else:
        found.append(
            finding(
                "verify.shares",
                Status.CRIT,
                "the newest verified key's encrypted_private_shares is EMPTY",
                "This backup cannot bring the signer back: it holds no key shares.",
                [shares.evidence],
                profile_name,
            )
        )

    newest = facts.newest_share
    verified = facts.verified_keys
    if newest is not None and newest.share is not None:
        share = newest.share
        newest_verified = verified.newest.hex() if verified and verified.newest else None
        if share.status == "unverified" and share.key_hex != newest_verified:
            found.append(
                finding(
                    "verify.newest_share",
                    Status.WARN,
                    f"newest DKG row {short_key(share.key_hex)} is unverified "
                    f"({share.created_at:%Y-%m-%d %H:%M} UTC)",
                    "A DKG round was in flight when this backup was taken: take a new backup "
                    "once it is verified.",
                    [newest.evidence],
                    profile_name,
                )
            )
        else:
            found.append(
                finding(
                    "verify.newest_share",
                    Status.OK,
                    f"newest DKG row is {share.status} ({share.created_at:%Y-%m-%d %H:%M} UTC)",
                    evidence=[newest.evidence],
                    profile=profile_name,
                )
            )
    return found


def _content_findings(facts: SignerDbFacts, profile_name: str) -> list[Finding]:
    """Does the backup hold signer data at all, and all of it? Judged first, so a schema-only
    dump fails for that reason and not for a symptom (an empty migrations ledger)."""
    counts = facts.row_counts
    if counts is None:
        return []  # not readable: the other findings say UNKNOWN for what they need
    rows = counts.as_dict()
    dkg = rows.get("dkg_shares")
    evidence = [counts.evidence]
    found: list[Finding] = []
    if dkg is None:
        found.append(
            finding(
                "verify.dkg_rows",
                Status.CRIT,
                "no sbtc_signer.dkg_shares table in the backup: it holds no key material",
                "Dump the whole signer database (pg_dump -Fc), or at least sbtc_signer.dkg_shares.",
                evidence,
                profile_name,
            )
        )
        return found
    if dkg == 0:
        found.append(
            finding(
                "verify.dkg_rows",
                Status.CRIT,
                "dkg_shares is empty: schema-only or empty backup",
                "This backup holds no key shares: dump with data (no -s/--schema-only) and "
                "check that the backup job reads the right database.",
                evidence,
                profile_name,
            )
        )
    else:
        found.append(
            finding(
                "verify.dkg_rows",
                Status.OK,
                f"dkg_shares: {dkg} row(s)",
                "",
                evidence,
                profile_name,
            )
        )
    others = [t for t in MAIN_TABLES if t != "dkg_shares"]
    missing = [t for t in others if rows.get(t) is None]
    no_ledger = facts.migrations is not None and not facts.migrations.table_present
    if missing and len(missing) == len(others) and no_ledger:
        found.append(
            finding(
                "verify.partial",
                Status.WARN,
                "partial backup: only dkg_shares (key material); the other signer tables and "
                "the migrations ledger are not in it",
                "Enough to recover the key shares; a signer restored from it needs a full "
                "database dump (or a fresh sync) for everything else.",
                evidence,
                profile_name,
            )
        )
    return found


def compare_row_counts(
    backup: dict[str, int | None],
    live: dict[str, int | None],
    *,
    shrink_ratio: float = 0.5,
) -> tuple[list[RowCountRow], list[str]]:
    """Rows per main table, backup vs live; the problems worth a WARN."""
    rows = [RowCountRow(t, backup.get(t), live.get(t)) for t in MAIN_TABLES]
    problems = []
    for row in rows:
        if row.backup is None or row.live is None:
            continue
        if row.table == "dkg_shares" and row.live > row.backup:
            problems.append(
                f"dkg_shares: the live DB has {row.live - row.backup} newer DKG row(s) than "
                "the backup"
            )
        elif row.backup > row.live:
            problems.append(f"{row.table}: backup {row.backup} rows > live {row.live}")
        elif row.live >= 100 and row.backup < row.live * shrink_ratio:
            problems.append(f"{row.table}: backup {row.backup} rows, live {row.live}")
    return rows, problems


def _key_findings(
    keys: KeyComparison, verified: VerifiedKeys | None, profile: str
) -> list[Finding]:
    evidence = [r.evidence for r in keys.readings if r.evidence is not None]
    if verified is not None:
        evidence.insert(0, verified.evidence)
    details = [("backup", keys.db_key or "none")] + [
        (
            source_name(r.source),
            r.key_hex or ("no key (pre-DKG)" if r.answered else f"error: {r.error}"),
        )
        for r in keys.readings
    ]
    status = {
        "match": Status.OK,
        "pending": Status.WARN,
        "mismatch": Status.CRIT,
        "missing": Status.CRIT,
        "unknown": Status.UNKNOWN,
        "skipped": Status.UNKNOWN,
    }[keys.status]
    advice = {
        "pending": "The backup restores the key in use. Once the rotation lands on chain, "
        "this backup also holds the new key; if it never lands, ask the other signers why.",
        "mismatch": "Do not rely on this backup for the current key: take a new backup now and "
        "compare again; if the live DB disagrees with the chain too, escalate.",
        "missing": "This backup cannot bring back the key the chain uses: take a new backup "
        "once the newest DKG round is verified, and check that the backup job reads the "
        "signer's database.",
        "unknown": "Check that the Stacks node and the chain API are reachable, then run again.",
        "skipped": "Run without --no-chain to compare the key with the chain.",
    }.get(keys.status, "")
    found = [finding("verify.key", status, keys.summary, advice, evidence, profile, details)]
    if keys.sources_disagree:
        found.append(
            finding(
                "verify.chain_sources",
                Status.CRIT,
                "own node and independent API report different aggregate keys",
                "One of them is on a fork or lying: check the node's sync state and peers.",
                evidence,
                profile,
                details[1:],
            )
        )
    failed = [r for r in keys.readings if not r.answered]
    if keys.status in ("match", "pending") and failed:
        found.append(
            finding(
                "verify.chain_sources",
                Status.WARN,
                "only one chain source answered: "
                + "; ".join(f"{source_name(r.source)}: {r.error}" for r in failed),
                "The comparison rests on a single source; check the other one.",
                evidence,
                profile,
            )
        )
    return found


def _verdict(keys: KeyComparison, findings: Sequence[Finding]) -> tuple[str, str]:
    """(verdict, headline). The headline never repeats the verdict word (the report prints
    `MISMATCH  <headline>`), and names the first real cause."""
    by_id = {f.id: f for f in findings if f.status is Status.CRIT}
    crit_content = [by_id[i] for i in CONTENT_IDS if i in by_id]
    key_part = f"key: {keys.summary}"
    if keys.status == "mismatch":
        return "mismatch", keys.summary
    if crit_content:
        return "failed", f"{crit_content[0].summary} ({key_part})"
    if keys.status == "missing":
        return "failed", keys.summary
    if keys.status in ("match", "pending"):
        return "verified", f"restored; {keys.summary}"
    return "unknown", f"could not determine: {keys.summary}"


verdict = _verdict
key_findings = _key_findings
