"""key.signer_set: the signer set and threshold in three places, each disagreement named.

1. the signer's TOML (`signer.bootstrap_signing_set`, `bootstrap_signatures_required`);
2. the registry (`get-current-signer-data`: `current-signer-set`, `current-signature-threshold`)
   — since sBTC PR #2090 the set the signers actually sign with until a rotation confirms;
3. the newest `dkg_shares` row (`signer_set_public_keys`, `signature_share_threshold`).

Config ≠ registry: the signer will start a DKG round, which needs every signer online on the
same set — WARN naming the `dkg-signer-set-change` runbook. Newest DKG row ≠ registry: a round
ran on a set whose rotation is not on chain (WARN). A threshold above its set, or a set over
16 keys, is a config the signer cannot run (CRIT). Missing data is UNKNOWN, never OK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from signer_tui.checks.registry import Inputs, check
from signer_tui.model import Evidence, Finding, Observation, Status
from signer_tui.sbtc import short_key
from signer_tui.sources.catalog import DB, NODE_KEY
from signer_tui.sources.readings import KeyReading
from signer_tui.sources.signer_toml import MAX_SIGNERS, SIGNER_CONFIG, SignerSetConfig

if TYPE_CHECKING:
    from signer_tui.sources.postgres import SignerDbFacts

FINDING_ID = "key.signer_set"
RUNBOOK = "dkg-signer-set-change"  # signer_tui/runbooks/data/dkg-signer-set-change.yaml


@dataclass(frozen=True)
class SignerSet:
    where: str  # "config", "registry", "newest DKG row"
    keys: tuple[bytes, ...]
    threshold: int | None

    def describe(self) -> str:
        limit = self.threshold if self.threshold is not None else "?"
        return f"{len(self.keys)} keys/threshold {limit}"


def _difference(a: SignerSet, b: SignerSet) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """None when `a` and `b` hold the same keys (order does not matter) and threshold."""
    only_a = [k for k in a.keys if k not in set(b.keys)]
    only_b = [k for k in b.keys if k not in set(a.keys)]
    same_threshold = a.threshold is None or b.threshold is None or a.threshold == b.threshold
    if not only_a and not only_b and same_threshold:
        return None
    parts = []
    if only_a or only_b:
        parts.append(f"{len(only_a)} key(s) only in {a.where}, {len(only_b)} only in {b.where}")
    if not same_threshold:
        parts.append(f"threshold {a.threshold} vs {b.threshold}")
    details = tuple((f"only in {a.where}", k.hex()) for k in only_a) + tuple(
        (f"only in {b.where}", k.hex()) for k in only_b
    )
    text = f"{a.where} ({a.describe()}) ≠ {b.where} ({b.describe()}): " + "; ".join(parts)
    return text, details


def _invalid(s: SignerSet) -> str:
    if s.threshold is not None and (s.threshold < 1 or s.threshold > len(s.keys)):
        return f"bad threshold: {s.where} {s.threshold} of {len(s.keys)} keys"
    if len(s.keys) > MAX_SIGNERS:
        return f"{s.where} lists {len(s.keys)} keys; the signer allows {MAX_SIGNERS}"
    return ""


def judge_signer_sets(
    config: SignerSet | None, registry: SignerSet, dkg: SignerSet | None
) -> tuple[Status, str, str, tuple[tuple[str, str], ...]]:
    """(status, summary, advice, details) from the sets that could be read."""
    for s in (config, registry, dkg):
        if s is not None and (bad := _invalid(s)):
            return Status.CRIT, bad, "Fix the signer set: the signer cannot run with it.", ()
    details: list[tuple[str, str]] = []
    problems: list[tuple[Status, str, str]] = []
    if config is not None and (diff := _difference(config, registry)):
        problems.append(
            (
                Status.WARN,
                f"signer set change: {diff[0]}",
                "The signer's configured set differs from the registry's, so it will start a "
                "DKG round, which only works when every signer runs the same set and is "
                f"online. Follow runbook {RUNBOOK} with the other operators and the sBTC team.",
            )
        )
        details += diff[1]
    if dkg is not None and (diff := _difference(dkg, registry)):
        problems.append(
            (
                Status.WARN,
                f"DKG ran on another set: {diff[0]}",
                "The newest DKG round used a set the registry does not hold: its rotation is "
                "not on chain, and the signers keep signing with the registry's set (sBTC PR "
                f"#2090). Watch key.node for the rotation; see runbook {RUNBOOK}.",
            )
        )
        details += diff[1]
    if problems:
        summary = "; ".join(text for _, text, _ in problems)
        return Status.WARN, summary, problems[0][2], tuple(details)
    agree = ["registry"] + [s.where for s in (config, dkg) if s is not None]
    return (
        Status.OK,
        f"{', '.join(agree)} agree: {registry.describe()}",
        "",
        (),
    )


def check_signer_set(
    config_obs: Observation[SignerSetConfig] | None,
    config_configured: bool,
    node_key: Observation[KeyReading] | None,
    db: Observation[SignerDbFacts] | None,
) -> Finding:
    evidence: list[Evidence] = []
    reading = node_key.reading() if node_key is not None else None
    data = reading.signer_data if reading is not None else None
    if data is not None:
        evidence.append(data.evidence)
    if data is None or not data.signer_set:
        why = (
            node_key.error
            if node_key is not None and not node_key.ok
            else (reading.signer_data_error if reading is not None else None)
        ) or ("registry signer set is empty" if data is not None else "not read yet")
        return Finding(
            FINDING_ID,
            Status.UNKNOWN,
            f"unknown: registry signer set ({why})",
            "get-current-signer-data is read through your own Stacks node.",
            tuple(evidence),
        )
    registry = SignerSet("registry", data.signer_set, data.threshold)
    notes: list[tuple[str, str]] = []
    config: SignerSet | None = None
    config_failed = ""
    toml = config_obs.reading() if config_obs is not None else None
    if toml is not None:
        evidence.append(toml.evidence)
        notes += [("config problem", p) for p in toml.problems]
        if toml.signing_set is not None:
            config = SignerSet("config", toml.signing_set, toml.signatures_required)
        else:
            notes.append(("config", "no signer.bootstrap_signing_set in the TOML"))
    elif not config_configured:
        notes.append(("config", "signer.config_file not set: the configured set is not compared"))
    else:
        config_failed = (config_obs.error if config_obs is not None else None) or "not read yet"
        notes.append(("config", f"not read: {config_failed}"))
    dkg: SignerSet | None = None
    facts = db.reading() if db is not None else None
    newest = facts.dkg_rows.newest if facts is not None and facts.dkg_rows is not None else None
    if newest is not None:
        assert facts is not None and facts.dkg_rows is not None
        evidence.append(facts.dkg_rows.evidence)
        dkg = SignerSet("newest DKG row", newest.signer_set, newest.threshold)
        notes.append(
            ("newest DKG row", f"{short_key(newest.share.aggregate_key)}, {newest.share.status}")
        )
    else:
        why = (db.error if db is not None and not db.ok else None) or "no DKG row read"
        notes.append(("newest DKG row", why))
    status, summary, advice, details = judge_signer_sets(config, registry, dkg)
    if status is Status.OK and config_failed:
        # The configured file could not be read: the comparison that matters most is missing.
        status = Status.UNKNOWN
        summary = f"unknown: signer config ({config_failed}); {summary}"
        advice = "Check signer.config_file: the path, and that this user may read it."
    elif status is Status.OK and config is None and toml is not None:
        # Only part of the comparison ran: say so instead of a clean OK.
        summary += " (config has no signing set)"
    return Finding(
        FINDING_ID, status, summary, advice, tuple(evidence), details=details + tuple(notes)
    )


@check(needs=(SIGNER_CONFIG, NODE_KEY, DB))
def signer_set_check(inp: Inputs) -> list[Finding]:
    return [
        check_signer_set(
            inp.get(SIGNER_CONFIG),
            inp.configured(SIGNER_CONFIG),
            inp.get(NODE_KEY),
            inp.get(DB),
        )
    ]
