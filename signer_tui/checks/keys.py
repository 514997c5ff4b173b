"""One key comparison and one key abbreviation, for the live DB (`key.*`) and backups.

`match_key` is the single rule both sides apply to the signer's newest verified key and a chain
source's key; `compare_keys` builds the backup verdict on it over every chain source that
answered. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from signer_tui.model import Evidence
from signer_tui.sbtc import short_key

__all__ = [
    "ChainReading",
    "KeyComparison",
    "KeyMatch",
    "compare_keys",
    "match_key",
    "normalise_key_hex",
    "short_key",
    "source_name",
]

CLARITY_BUFFER_33 = "0200000021"


class KeyMatch(Enum):
    MATCH = "match"
    MISMATCH = "mismatch"
    PRE_DKG = "pre-dkg"  # neither side has a key yet
    NOT_IN_DB = "not in db"  # the chain has a key, the DB/backup has no verified one
    NOT_ON_CHAIN = "not on chain"  # the DB/backup has a key, the chain none (pre-DKG)


def match_key(db_key: bytes | str | None, chain_key: bytes | str | None) -> KeyMatch:
    db = normalise_key_hex(db_key)
    chain = normalise_key_hex(chain_key)
    if db is None and chain is None:
        return KeyMatch.PRE_DKG
    if db is None:
        return KeyMatch.NOT_IN_DB
    if chain is None:
        return KeyMatch.NOT_ON_CHAIN
    return KeyMatch.MATCH if db == chain else KeyMatch.MISMATCH


def normalise_key_hex(value: str | bytes | None) -> str | None:
    """Lowercase hex without `0x`/`\\x`, with a Clarity `(buff 33)` prefix stripped."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    text = value.strip().lower()
    for prefix in ("0x", "\\x"):
        text = text.removeprefix(prefix)
    if len(text) == 76 and text.startswith(CLARITY_BUFFER_33):
        text = text[len(CLARITY_BUFFER_33) :]
    return text


@dataclass(frozen=True)
class ChainReading:
    """The registry key as one chain source reported it."""

    source: str  # "node" | "api"
    url: str
    key_hex: str | None  # None: pre-DKG (no key yet) or the source failed
    error: str | None = None
    evidence: Evidence | None = None

    @property
    def answered(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class KeyComparison:
    # match | mismatch | missing (backup has no verified key, chain has one) | unknown | skipped
    status: str
    summary: str
    db_key: str | None
    readings: tuple[ChainReading, ...] = ()
    sources_disagree: bool = False


def source_name(source: str) -> str:
    return {"node": "own Stacks node", "api": "independent API"}.get(source, source)


def compare_keys(
    db_key: str | None,
    readings: Sequence[ChainReading],
    *,
    older_verified: Sequence[str] = (),
) -> KeyComparison:
    """Newest verified key of the backup vs every chain source that answered."""
    db_key = normalise_key_hex(db_key)
    readings = tuple(readings)
    answered = [r for r in readings if r.answered]
    chain_values = {normalise_key_hex(r.key_hex) for r in answered}
    disagree = len(chain_values) > 1
    if not readings:
        return KeyComparison("skipped", "key not compared with the chain (--no-chain)", db_key)
    if not answered:
        why = "; ".join(f"{r.source}: {r.error}" for r in readings)
        return KeyComparison("unknown", f"no chain source answered ({why})", db_key, readings)
    verdicts = {r.source: match_key(db_key, r.key_hex) for r in answered}
    matching = [r for r in answered if verdicts[r.source] in (KeyMatch.MATCH, KeyMatch.PRE_DKG)]
    names = " and ".join(source_name(r.source) for r in matching)
    if disagree:
        if matching:
            return KeyComparison(
                "unknown",
                f"the chain sources disagree; the backup key matches only the {names}",
                db_key,
                readings,
                True,
            )
        return KeyComparison(
            "mismatch",
            "the backup key matches no chain source (and the chain sources disagree)",
            db_key,
            readings,
            True,
        )
    chain_key = next(iter(chain_values))
    verdict = match_key(db_key, chain_key)
    if verdict is KeyMatch.MATCH:
        return KeyComparison("match", f"backup key matches the {names}", db_key, readings)
    if verdict is KeyMatch.PRE_DKG:
        return KeyComparison(
            "unknown",
            "no key yet on chain nor in the backup (pre-DKG): nothing to compare",
            db_key,
            readings,
        )
    if verdict is KeyMatch.NOT_IN_DB:
        # Every input was read: a backup without the key the chain uses cannot restore it.
        return KeyComparison(
            "missing",
            f"the backup holds no verified DKG key, but the chain has {short_key(chain_key)}",
            db_key,
            readings,
        )
    if verdict is KeyMatch.NOT_ON_CHAIN:
        summary = "the chain has no aggregate key yet (pre-DKG), but the backup has one"
    elif chain_key in {normalise_key_hex(k) for k in older_verified}:
        # sBTC PR #2090: until a rotate-keys transaction lands, the signers keep signing with
        # the registry's key. The backup holds that key as verified: it can restore this
        # signer. The newer key is a pending rotation, not a mismatch.
        return KeyComparison(
            "pending",
            f"backup holds the chain key {short_key(chain_key)} as verified; its newest "
            f"verified key {short_key(db_key)} is a rotation pending on chain",
            db_key,
            readings,
        )
    else:
        summary = (
            "the chain key is not in this backup: it predates the latest key rotation, or "
            "belongs to another signer"
        )
    return KeyComparison("mismatch", summary, db_key, readings)
