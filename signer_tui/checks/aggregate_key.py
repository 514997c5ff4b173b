"""key.*: the newest verified DKG key in the signer's DB against the key on chain.

* `key.node` — DB vs the operator's own Stacks node; `key.api` — DB vs the independent API.
  CRIT on mismatch; WARN during a DKG transition (the newest DB row is `unverified` and
  younger than the verification window of 10 bitcoin blocks); UNKNOWN when a source cannot
  be read.
* `key.sources` — the two chain sources against each other: a disagreement is its own CRIT
  (a lying or forked node), whatever the DB says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from signer_tui import format as fmt
from signer_tui.checks.registry import Inputs, check
from signer_tui.model import Evidence, Finding, Observation, Status
from signer_tui.sbtc import DKG_VERIFICATION_WINDOW
from signer_tui.sources.catalog import API_KEY, BITCOIND, DB, NODE_KEY, STACKS
from signer_tui.sources.postgres import SignerDbFacts
from signer_tui.sources.readings import BitcoindReading, KeyReading, StacksReading

# Without a bitcoin height the window is judged by time: 10 blocks is about 100 minutes.
WINDOW_BY_TIME = timedelta(minutes=10 * DKG_VERIFICATION_WINDOW * 1.5)


# One key abbreviation for the whole console (signer_tui.format.key).
short = fmt.key


@dataclass(frozen=True)
class Transition:
    """The newest DB row is unverified: a DKG round is waiting for its rotation."""

    key: bytes
    blocks: int | None  # bitcoin blocks since the round started, when known
    in_window: bool

    def describe(self) -> str:
        if self.blocks is None:
            return "new key unverified"
        return f"new key unverified, {self.blocks}/{DKG_VERIFICATION_WINDOW} blocks"


def transition(
    facts: SignerDbFacts, bitcoin_height: int | None, now: datetime
) -> Transition | None:
    newest = facts.newest_share.share if facts.newest_share else None
    if newest is None or newest.status != "unverified":
        return None
    if bitcoin_height is not None:
        blocks = max(0, bitcoin_height - newest.started_at_bitcoin_block_height)
        return Transition(newest.aggregate_key, blocks, blocks < DKG_VERIFICATION_WINDOW)
    return Transition(newest.aggregate_key, None, now - newest.created_at < WINDOW_BY_TIME)


def _db_evidence(db: Observation[SignerDbFacts] | None) -> tuple[Evidence, ...]:
    return db.evidence[:2] if db is not None else ()


def compare_with_chain(
    finding_id: str,
    label: str,
    db: Observation[SignerDbFacts] | None,
    chain: Observation[KeyReading] | None,
    bitcoin_height: int | None,
    now: datetime,
) -> Finding:
    """One chain source against the DB's newest verified key."""
    evidence = _db_evidence(db) + (chain.evidence if chain is not None else ())
    if chain is None or not chain.ok:
        why = chain.error if chain is not None else "not read yet"
        return Finding(
            finding_id,
            Status.UNKNOWN,
            f"{why}: {label}",
            f"The chain key could not be read from the {label}; check that it is reachable.",
            evidence,
        )
    if db is None or not db.ok:
        why = db.error if db is not None else "not read yet"
        return Finding(
            finding_id,
            Status.UNKNOWN,
            f"{why}: signer DB",
            "The signer database could not be read; check the db section and credentials.",
            evidence,
        )
    facts, reading = db.reading(), chain.reading()
    assert facts is not None and reading is not None  # both .ok, checked above
    chain_key = reading.key.key
    if facts.verified_keys is None:
        problem = dict(facts.problems).get("verified_keys", "verified keys not read")
        return Finding(finding_id, Status.UNKNOWN, f"signer DB: {problem}", "", evidence)
    db_key = facts.newest_verified_key
    moving = transition(facts, bitcoin_height, now)
    details = (
        ("DB newest verified", db_key.hex() if db_key else "none"),
        ("chain", chain_key.hex() if chain_key else "none (pre-DKG)"),
    )
    if chain_key is None and db_key is None:
        return Finding(
            finding_id,
            Status.WARN,
            f"no key yet (pre-DKG) on DB and {label}",
            "No DKG round has completed. Expected only before the signer set's first DKG.",
            evidence,
            details=details,
        )
    if db_key == chain_key:
        if moving is not None and moving.in_window:
            return Finding(
                finding_id,
                Status.WARN,
                f"match; DKG round running ({moving.describe()})",
                "A new DKG round is waiting for verification; watch it become verified.",
                evidence,
                details=details,
            )
        return Finding(
            finding_id, Status.OK, f"DB = {label} {short(db_key)}", "", evidence, details=details
        )
    if moving is not None and moving.key == chain_key and moving.in_window:
        return Finding(
            finding_id,
            Status.WARN,
            f"DKG transition: {moving.describe()}",
            "The chain already has the new key and the DB row is not yet verified. This "
            f"resolves within {DKG_VERIFICATION_WINDOW} bitcoin blocks; if it does not, "
            "treat it as a mismatch.",
            evidence,
            details=details,
        )
    return Finding(
        finding_id,
        Status.CRIT,
        f"MISMATCH: {label} ≠ DB, {short(chain_key)} vs {short(db_key)}",
        "The signer's newest verified key differs from the chain. Do not restore or rotate "
        "anything yet: compare with the other chain source and the signer's /info, then "
        "escalate to the sBTC team.",
        evidence,
        details=details,
    )


def compare_sources(
    node: Observation[KeyReading] | None, api: Observation[KeyReading] | None
) -> Finding:
    evidence = (node.evidence if node else ()) + (api.evidence if api else ())
    missing = [
        (label, obs.error if obs is not None else "not read yet")
        for label, obs in (("own node", node), ("API", api))
        if obs is None or not obs.ok
    ]
    if missing:
        # The reason first: "connection refused (own node); not read yet (API)".
        text = "; ".join(f"{why} ({label})" for label, why in missing)
        return Finding(
            "key.sources",
            Status.UNKNOWN,
            text,
            "Both chain sources are needed to rule out a lying or forked node.",
            evidence,
        )
    node_reading = node.reading() if node is not None else None
    api_reading = api.reading() if api is not None else None
    assert node_reading is not None and api_reading is not None  # both .ok, checked above
    node_key = node_reading.key.key
    api_key = api_reading.key.key
    if node_key == api_key:
        return Finding("key.sources", Status.OK, f"node = API {short(node_key)}", "", evidence)
    return Finding(
        "key.sources",
        Status.CRIT,
        f"DISAGREE: own node ≠ API, {short(node_key)} vs {short(api_key)}",
        "Your own Stacks node and the independent API report different registry keys: one is "
        "lying or on a fork. Check the node's sync and peers before trusting either.",
        evidence,
        details=(
            ("own node", node_key.hex() if node_key else "none"),
            ("API", api_key.hex() if api_key else "none"),
        ),
    )


def check_aggregate_key(
    db: Observation[SignerDbFacts] | None,
    node: Observation[KeyReading] | None,
    api: Observation[KeyReading] | None,
    *,
    api_configured: bool,
    bitcoin_height: int | None,
    now: datetime,
) -> list[Finding]:
    findings = [compare_with_chain("key.node", "own node", db, node, bitcoin_height, now)]
    if api_configured:
        findings.append(compare_with_chain("key.api", "API", db, api, bitcoin_height, now))
        findings.append(compare_sources(node, api))
    else:
        findings.append(
            Finding(
                "key.api",
                Status.WARN,
                "no independent API configured",
                "Set chain_api.url so the key is cross-checked beyond your own node.",
            )
        )
    return findings


@check(needs=(DB, NODE_KEY, API_KEY, BITCOIND, STACKS))
def key_checks(inp: Inputs) -> list[Finding]:
    return check_aggregate_key(
        inp.get(DB),
        inp.get(NODE_KEY),
        inp.get(API_KEY),
        api_configured=inp.configured(API_KEY),
        bitcoin_height=bitcoin_height(inp.get(BITCOIND), inp.get(STACKS)),
        now=inp.now,
    )


def bitcoin_height(
    bitcoind: Observation[BitcoindReading] | None, stacks: Observation[StacksReading] | None
) -> int | None:
    """The bitcoin tip: bitcoind's own, else the burn height the Stacks node reports."""
    btc = bitcoind.reading() if bitcoind is not None else None
    if btc is not None:
        return btc.chain.blocks
    node = stacks.reading() if stacks is not None else None
    return node.info.burn_block_height if node is not None else None
