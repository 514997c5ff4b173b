"""Help text: one section per pane (shown by F1 for the focused pane) and the key table."""

from __future__ import annotations

from typing import Any

from textual.app import App

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
Every row shows a status word — `OK`, `WARN`, `CRIT`, `UNKNOWN` — and the age of its data.
Data older than two poll intervals is marked **stale** and counts as UNKNOWN: the console is
never green when it does not know. **Enter** (or **w**) on a row opens its evidence: the
request, the raw and decoded values, when it was observed, and what to do."""


def help_markdown(app: App[Any], area: str | None) -> str:
    parts = []
    if area in PANES:
        parts.append(PANES[area])
    parts.append(GENERAL)
    rows = ["| key | action |", "| --- | --- |"]
    by_action: dict[str, tuple[str, list[str]]] = {}
    for active in app.active_bindings.values():
        binding = active.binding
        if not binding.description or active.enabled is False:
            continue
        entry = by_action.setdefault(binding.action, (binding.description, []))
        key = app.get_key_display(binding)
        if key not in entry[1]:
            entry[1].append(key)
    for description, keys in by_action.values():
        rows.append(f"| {', '.join(keys)} | {description} |")
    parts.append("**Keys**\n\n" + "\n".join(rows))
    parts.append(
        "Every chord has a letter or F-key twin, so tmux and SSH cannot swallow it. "
        "Keys can be remapped with `ui.keymap` in the config. The command palette "
        "(`:` or F2 or ctrl+p) lists every action."
    )
    return "\n\n".join(parts)
