"""key.*: the signer DB's verified DKG keys against the key in use on chain.

* `key.node` — DB vs the operator's own Stacks node; `key.api` — DB vs the independent API.
  The rule is `checks.key_rule.judge_key` (sBTC PR #2090: the registry's key is the one in
  use): OK when the registry key is the newest verified row; WARN "rotation pending" when a
  newer verified key is not on chain yet (with its age in bitcoin blocks); WARN during a DKG
  transition (newest row `unverified`, inside the 10-block verification window); CRIT when
  the registry key is not among the verified rows; UNKNOWN when a source cannot be read.
* `key.sources` — the two chain sources against each other: a disagreement is its own CRIT
  (a lying or forked node), whatever the DB says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from signer_tui.checks.key_rule import Unverified, judge_key
from signer_tui.checks.registry import Inputs, check
from signer_tui.model import Evidence, Finding, Observation, Status
from signer_tui.sbtc import DKG_VERIFICATION_WINDOW, short_key
from signer_tui.sources.catalog import API_KEY, BITCOIND, DB, NODE_KEY, STACKS
from signer_tui.sources.readings import BitcoindReading, KeyReading, StacksReading

if TYPE_CHECKING:  # the psycopg client loads with the first DB poll, not with the checks
    from signer_tui.sources.postgres import SignerDbFacts

# Without a bitcoin height the window is judged by time: 10 blocks is about 100 minutes.
WINDOW_BY_TIME = timedelta(minutes=10 * DKG_VERIFICATION_WINDOW * 1.5)


@dataclass(frozen=True)
class Transition:
    """The newest DB row is unverified: a DKG round is waiting for its rotation."""

    key: bytes
    blocks: int | None  # bitcoin blocks since the round started, when known
    in_window: bool
    # The row's start height is above bitcoind's tip: no round can start in the future.
    impossible_start: tuple[int, int] | None = None  # (start height, tip)

    def describe(self) -> str:
        if self.impossible_start is not None:
            start, tip = self.impossible_start
            return (
                f"new key unverified; its start height {start} is above the bitcoin tip {tip} "
                "(impossible: wrong network, or a node behind)"
            )
        if self.blocks is None:
            return "new key unverified"
        return f"new key unverified, {self.blocks}/{DKG_VERIFICATION_WINDOW} blocks"


def transition(
    facts: SignerDbFacts, bitcoin_height: int | None, now: datetime
) -> Transition | None:
    newest = facts.newest_share.share if facts.newest_share else None
    if newest is None or newest.status != "unverified":
        return None
    start = newest.started_at_bitcoin_block_height
    if bitcoin_height is not None and start > bitcoin_height:
        # Judged by time instead; the height itself is reported as impossible.
        in_window = now - newest.created_at < WINDOW_BY_TIME
        return Transition(newest.aggregate_key, None, in_window, (start, bitcoin_height))
    if bitcoin_height is not None:
        blocks = bitcoin_height - start
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
    verified = facts.verified_keys.keys
    db_key = facts.newest_verified_key
    moving = transition(facts, bitcoin_height, now)
    pending_row = facts.dkg_rows.row_for(db_key) if facts.dkg_rows and db_key else None
    verdict = judge_key(
        verified,
        chain_key,
        unverified=(
            Unverified(moving.key, moving.blocks, moving.in_window, moving.impossible_start)
            if moving
            else None
        ),
        pending_started_at=(
            pending_row.share.started_at_bitcoin_block_height if pending_row else None
        ),
        bitcoin_height=bitcoin_height,
        label=label,
    )
    details: tuple[tuple[str, str], ...] = (
        ("DB newest verified", db_key.hex() if db_key else "none"),
        ("chain", chain_key.hex() if chain_key else "none (pre-DKG)"),
        ("DB verified keys", str(len(verified))),
        ("rule", verdict.state.value),
    )
    if verdict.pending_blocks is not None:
        details += (("pending for", f"{verdict.pending_blocks} bitcoin blocks"),)
    return Finding(
        finding_id, verdict.status, verdict.summary, verdict.advice, evidence, details=details
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
        return Finding("key.sources", Status.OK, f"node = API {short_key(node_key)}", "", evidence)
    return Finding(
        "key.sources",
        Status.CRIT,
        f"DISAGREE: own node ≠ API, {short_key(node_key)} vs {short_key(api_key)}",
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
