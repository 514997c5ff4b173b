"""The registry-key rule, as one pure function shared by the live DB check and backup checks.

Since sBTC PR #2090 (sbtc-signer-facts, "Update 2026-12"), when a new DKG round's rotate-keys
transaction has not gone through, the signers keep signing with the **registry's** aggregate
key and signer set. So what matters is whether the key *in use* (the registry's) is held as a
`verified` dkg_shares row:

* registry key among the verified rows, nothing newer          -> OK (healthy)
* registry key among the verified rows, a newer verified key   -> WARN "rotation pending",
  with the newer key's age in bitcoin blocks (it was never rotated on chain)
* registry key absent from the verified rows                   -> CRIT: this signer (or this
  backup) could not sign with the key in use
* the registry key is the newest row but still `unverified`, inside the verification window
  (10 bitcoin blocks, `signer.dkg_verification_window`)        -> WARN "DKG transition"
* no key on chain and none in the DB                           -> WARN pre-DKG

Callers: `checks.aggregate_key` (live DB, per chain source) and the backup verifier (a restored
DB against the registry key) — both pass the verified keys newest first, as the docs'
backup-verification query returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from signer_tui.model import Status
from signer_tui.sbtc import DKG_VERIFICATION_WINDOW, short_key


class KeyState(Enum):
    HEALTHY = "healthy"
    ROTATION_PENDING = "rotation pending"
    TRANSITION = "DKG transition"
    REGISTRY_KEY_MISSING = "registry key not verified"
    PRE_DKG = "pre-DKG"


@dataclass(frozen=True)
class Unverified:
    """The newest dkg_shares row when it is still `unverified` (a round waiting)."""

    key: bytes
    blocks: int | None  # bitcoin blocks since its round started; None when unknown
    in_window: bool
    # The row's start height is above bitcoind's tip: no round can start in the future.
    impossible_start: tuple[int, int] | None = None  # (start height, tip)


@dataclass(frozen=True)
class KeyVerdict:
    status: Status
    state: KeyState
    summary: str
    advice: str
    pending_key: bytes | None = None  # the newest verified key not on chain
    pending_blocks: int | None = None  # its age in bitcoin blocks, when known


def _age(blocks: int | None) -> str:
    if blocks is None:
        return "age unknown (no bitcoin height)"
    return f"{blocks} bitcoin block{'s' if blocks != 1 else ''} old"


def judge_key(
    verified_keys_newest_first: Sequence[bytes],
    registry_key: bytes | None,
    *,
    unverified: Unverified | None = None,
    pending_started_at: int | None = None,
    bitcoin_height: int | None = None,
    label: str = "registry",
) -> KeyVerdict:
    """Judge one DB (live or restored) against the key the registry says is in use.

    `pending_started_at` is the `started_at_bitcoin_block_height` of the newest verified row
    (used only for a pending rotation's age); `unverified` is the newest row when it is
    still unverified."""
    keys = list(verified_keys_newest_first)
    newest = keys[0] if keys else None
    if registry_key is None:
        if newest is None:
            return KeyVerdict(
                Status.WARN,
                KeyState.PRE_DKG,
                f"no key yet (pre-DKG) in the DB and on the {label}",
                "No DKG round has completed. Expected only before the signer set's first DKG.",
            )
        blocks = _blocks(pending_started_at, bitcoin_height)
        return KeyVerdict(
            Status.WARN,
            KeyState.ROTATION_PENDING,
            f"rotation pending: verified key {short_key(newest)} not on the {label} yet "
            f"({_age(blocks)}); the registry has no key",
            "The first rotate-keys transaction has not gone through. Check the signer's logs "
            "for the rotate-keys submission; coordinate with the sBTC team.",
            newest,
            blocks,
        )
    if registry_key in keys:
        position = keys.index(registry_key)
        if position == 0:
            if unverified is not None and unverified.in_window:
                return KeyVerdict(
                    Status.WARN,
                    KeyState.TRANSITION,
                    f"DKG round running ({_describe(unverified)}); {label} key "
                    f"{short_key(registry_key)} verified",
                    "A new DKG round is waiting for verification; watch it become verified.",
                )
            return KeyVerdict(
                Status.OK,
                KeyState.HEALTHY,
                f"{label} key {short_key(registry_key)} is the DB's newest verified key",
                "",
            )
        blocks = _blocks(pending_started_at, bitcoin_height)
        return KeyVerdict(
            Status.WARN,
            KeyState.ROTATION_PENDING,
            f"rotation pending: newer verified key {short_key(newest)} not on chain "
            f"({_age(blocks)}); signing with the {label} key {short_key(registry_key)}",
            "The signers keep signing with the registry's key and set until a rotate-keys "
            "transaction confirms (sBTC PR #2090). Nothing is lost: watch for the rotation, "
            "and ask the sBTC team if it does not come.",
            newest,
            blocks,
        )
    if unverified is not None and unverified.key == registry_key and unverified.in_window:
        return KeyVerdict(
            Status.WARN,
            KeyState.TRANSITION,
            f"DKG transition: {_describe(unverified)}",
            "The chain already has the new key and the DB row is not yet verified. This "
            f"resolves within {DKG_VERIFICATION_WINDOW} bitcoin blocks; if it does not, "
            "treat it as a missing key.",
        )
    held = f"newest verified {short_key(newest)}" if newest is not None else "no verified key"
    return KeyVerdict(
        Status.CRIT,
        KeyState.REGISTRY_KEY_MISSING,
        f"MISMATCH: {label} key {short_key(registry_key)} not verified in the DB ({held})",
        "The key in use on chain is not among this database's verified DKG shares: this "
        "signer could not sign with it. Do not restore or rotate anything yet: compare with "
        "the other chain source and the signer's /info, then escalate to the sBTC team.",
    )


def _blocks(started_at: int | None, height: int | None) -> int | None:
    if started_at is None or height is None:
        return None
    return max(0, height - started_at)


def _describe(row: Unverified) -> str:
    if row.impossible_start is not None:
        start, tip = row.impossible_start
        return (
            f"new key unverified; its start height {start} is above the bitcoin tip {tip} "
            "(impossible: wrong network, or a node behind)"
        )
    if row.blocks is None:
        return "new key unverified"
    return f"new key unverified, {row.blocks}/{DKG_VERIFICATION_WINDOW} blocks"
