"""Help text: one section per pane (shown by F1 for the focused pane) and the key table."""

from __future__ import annotations

from typing import Any

from signer_tui import format as fmt
from signer_tui.ui import keys

PANES = {
    "backup": """\
**Backups.** A backup counts only when it has been *restored into a fresh PostgreSQL* and its
newest verified DKG aggregate key equals the key on chain.

* `backup.freshness` — newest good backup vs the profile's cadence (WARN past it, CRIT past
  `backup_max_age`, default 26 h).
* `backup.size` — a dump that shrank by more than half is suspicious.
* `backup.gaps` — days without a good backup in the last two weeks.
* `backup.integrity` — truncated or corrupt backups (read with `pg_restore --list`).
* `backup.verification` — the last restore test: its age and its verdict.

Press **v** to restore the newest backup into a scratch cluster now (it never touches the
live database); the result is added to the verification history.""",
    "key": """\
**Aggregate key.** The newest *verified* DKG key in the signer's database must equal the key
in the `sbtc-registry` contract (`get-current-aggregate-pubkey`), read from the operator's
own Stacks node **and** from an independent API.

* CRIT when the database and the chain disagree.
* WARN during a DKG transition: the newest database row is `unverified` and younger than the
  verification window (10 bitcoin blocks).
* CRIT when the two chain sources disagree with each other (a lying or forked node).
* UNKNOWN when a source cannot be read — never OK without all the data.""",
    "node": """\
**Node health.** The signer's own bitcoind, Stacks node and the signer itself.

* bitcoind: reachable, synced (initial block download, blocks vs headers), version ≥ 25, not
  pruned.
* Stacks node: reachable, fully synced, burn height vs bitcoind, tip age, distance to peers.
* Signer: liveness (`GET /`), `/info` tips vs the nodes' tips, peers connected vs the
  signer-set size minus 1, blocks observed still rising.

The sparklines show the signer's observed Stacks and bitcoin blocks and its peer count.""",
    "release": """\
**Releases & advisories.** The versions running (signer `git_revision`, Stacks
`server_version`, bitcoind `subversion`) against the latest releases and security
advisories of sBTC, stacks-core and Bitcoin Core. WARN when behind, CRIT when a newer release
or an advisory fixes a security problem of the running version. The feeds are cached, so a
bastion without egress shows the last known feed with its age.""",
}

GENERAL = """\
Each row: a status word (`OK` `WARN` `CRIT` `UNKNOWN`; `STALE` when its data is overdue, which
counts as UNKNOWN: never green without data) and a summary, cut at a word; the line under the
table has the highlighted row in full, with the data's age and the finding id."""


def help_markdown(app: Any, area: str | None) -> str:
    """Short and contextual: the focused pane, the rows it holds now, then every key as the
    user's keymap has it (from the one key table, signer_tui.ui.keys)."""
    parts = []
    if area in PANES:
        parts.append(PANES[area])
        rows = _rows_of(app, area)
        if rows:
            parts.append("**In this pane now**\n\n" + "\n".join(rows))
    parts.append(GENERAL)
    table = ["| key | action |", "| --- | --- |"]
    for key in keys.KEYS:
        if key.demo_only and getattr(app, "demo", None) is None:
            continue
        table.append(f"| {app.key_display(key.id)} | {key.description} |")
    for shown, description in keys.TABLE_KEYS:
        table.append(f"| {shown} | {description} |")
    parts.append("**Keys** (remap with `ui.keymap`; ids in the README)\n\n" + "\n".join(table))
    parts.append(
        f"The command palette: `{app.key_display('command-palette')}` or F2 (ctrl+p works "
        "too, except under tmux, which takes it)."
    )
    return "\n\n".join(parts)


def _rows_of(app: Any, area: str) -> list[str]:
    """One line per finding the pane holds: generated from the findings, so it is complete."""
    pane_id = next(pane_id for a, _t, pane_id, _k in keys.PANES if a == area)
    try:
        pane = app.query_one(f"#{pane_id}")
        findings = list(pane.table.findings)
        now = pane.now
    except Exception:
        return []
    if now is None:
        return []
    return [
        f"* `{f.id}` — {f.effective_status(now).value}: {fmt.fit(f.summary, 60)}" for f in findings
    ]
