"""node.stacks.upgrade_window: may a node/signer upgrade start now?

From `/v2/pox`: stacks-core's release process ships "at least 24 h before a new cycle, not in
a prepare phase", and a signer restarted inside the prepare phase can miss the signer-set
handover. From the known hard-fork heights: a node must run the new version *before* the
activation height (3.4.x nodes diverge after Epoch 4.0, bitcoin block 960,230 on mainnet), so
an upgrade started close to it leaves no time to roll back.

Pure: `check_upgrade_window(pox, error, network, now)`; missing data is UNKNOWN.
"""

from __future__ import annotations

from datetime import datetime

from signer_tui.checks.network_facts import load_facts
from signer_tui.checks.registry import Inputs, check
from signer_tui.model import Finding, Status
from signer_tui.sources.catalog import POX
from signer_tui.sources.stacks import PoxInfo

FINDING_ID = "node.stacks.upgrade_window"
# About 24 h of bitcoin blocks: the margin stacks-core keeps before a cycle boundary.
MARGIN_BLOCKS = 144


def hard_forks(network: str) -> tuple[tuple[int, str], ...]:
    """(activation bitcoin height, what activates) for `network`, from the one data file
    (`signer_tui/data/network_facts.yaml`, each line with its source)."""
    return tuple((f.activation_height, f.name) for f in load_facts().forks(network))


def _hours(blocks: int) -> str:
    return f"~{blocks * 10 / 60:.0f} h"


def check_upgrade_window(
    pox: PoxInfo | None,
    error: str | None,
    network: str,
    now: datetime,
    *,
    margin: int = MARGIN_BLOCKS,
) -> list[Finding]:
    if pox is None:
        why = error or "not read yet"
        return [Finding(FINDING_ID, Status.UNKNOWN, f"/v2/pox: {why}", observed_at=now)]
    evidence = (pox.evidence,)
    until = pox.blocks_until_prepare_phase
    reward = pox.blocks_until_reward_phase
    length = pox.prepare_phase_block_length
    in_prepare = until <= 0 or (reward is not None and length is not None and 0 < reward <= length)
    advice = "Wait until the prepare phase is over and the new cycle has started."
    if in_prepare:
        ends = f"; new cycle in {reward} blocks" if reward is not None else ""
        text = f"do not upgrade: prepare phase of cycle {pox.next_cycle_id or '?'}{ends}"
        return [Finding(FINDING_ID, Status.WARN, text, advice, evidence)]
    if until < margin:
        text = f"too close to upgrade: prepare phase in {until} blocks ({_hours(until)})"
        return [Finding(FINDING_ID, Status.WARN, text, advice, evidence)]
    height = pox.current_burnchain_block_height
    forks = hard_forks(network)
    if forks and height is None:
        text = "/v2/pox gave no bitcoin height: cannot tell the distance to the next hard fork"
        return [Finding(FINDING_ID, Status.UNKNOWN, text, "", evidence)]
    for activation, what in forks:
        assert height is not None
        distance = activation - height
        if 0 < distance < margin:
            text = (
                f"too close to upgrade: {what} activates in {distance} blocks "
                f"({_hours(distance)}); the new version must already run"
            )
            fork_advice = "Upgrade only with the sBTC and stacks-core teams' go-ahead."
            return [Finding(FINDING_ID, Status.WARN, text, fork_advice, evidence)]
    ahead = [f"{what} in {a - height:,} blocks" for a, what in forks if height and a > height]
    text = f"prepare phase in {until} blocks ({_hours(until)})"
    if ahead:
        text += "; " + ", ".join(ahead)
    return [Finding(FINDING_ID, Status.OK, text, "", evidence)]


@check(needs=(POX,))
def upgrade_window_check(inp: Inputs) -> list[Finding]:
    obs = inp.get(POX)
    pox = obs.reading() if obs is not None else None
    error = None if obs is None else obs.error
    return check_upgrade_window(pox, error, inp.profile.network, inp.now)
