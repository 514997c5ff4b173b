"""The one table of the console's keys: ids, default keys, actions and words.

`SignerApp.BINDINGS`, the footer hints, the help screen's key table, the command palette and
the keymap ids the config accepts (`config.KEYMAP_IDS`, kept equal by a test) all come from
`KEYS`, so a key shown anywhere is the key that works, remapped or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    id: str  # the keymap id (`ui.keymap` in the config)
    keys: str  # default keys, Textual's comma-separated form
    action: str
    description: str  # what help and the palette say
    hint: str = ""  # the footer's word; "" keeps it out of the footer
    palette: str = ""  # the palette's title; "" keeps it out of the palette
    demo_only: bool = False


PANES = (
    # (area of the findings, title, widget id, key id)
    ("backup", "Backups", "backups", "focus-backups"),
    ("key", "Aggregate key", "key", "focus-key"),
    ("node", "Node health", "nodes", "focus-nodes"),
    ("release", "Releases & advisories", "releases", "focus-releases"),
)

KEYS = (
    Key("quit", "q,f10", "quit", "leave the console", "quit", "Quit"),
    Key(
        "evidence",
        "w",
        "evidence",
        "evidence and advice of the highlighted row",
        "",
        "Show evidence",
    ),
    Key(
        "worst",
        "exclamation_mark,f4",
        "jump_worst",
        "jump to the worst finding of any pane",
        "worst",
        "Jump to the worst finding",
    ),
    Key("focus-backups", "1", "focus_pane('backups')", "focus Backups", "", "Focus Backups pane"),
    Key(
        "focus-key", "2", "focus_pane('key')", "focus Aggregate key", "", "Focus Aggregate key pane"
    ),
    Key(
        "focus-nodes", "3", "focus_pane('nodes')", "focus Node health", "", "Focus Node health pane"
    ),
    Key(
        "focus-releases", "4", "focus_pane('releases')", "focus Releases", "", "Focus Releases pane"
    ),
    Key(
        "verify-backup",
        "v",
        "verify",
        "restore-test the newest backup in a scratch PostgreSQL",
        "verify",
        "Verify latest backup",
    ),
    Key(
        "timeline",
        "t,f8",
        "timeline",
        "event timeline: what changed, when (exportable)",
        "timeline",
        "Event timeline",
    ),
    Key(
        "help",
        "question_mark,f1",
        "help",
        "help for the focused pane and every key",
        "help",
        "Help",
    ),
    Key(
        "command-palette",
        "colon,f2",
        "command_palette",
        "command palette: every action by name (ctrl+p too, outside tmux)",
        "cmds",
        "",
    ),
    Key("refresh", "r,f5", "refresh", "poll every source now", "refresh", "Refresh now"),
    Key(
        "refresh-all",
        "R",
        "refresh_all",
        "poll now, release feeds too",
        "",
        "Refresh all, feeds too",
    ),
    Key("next-profile", "p,f6", "next_profile", "next signer profile", "profile", ""),
    Key("previous-profile", "P,shift+f6", "previous_profile", "previous signer profile", "", ""),
    Key("runbooks", "g", "runbooks", "guided runbooks, open runs, approvals", "", "Runbooks"),
    Key(
        "finding-runbook",
        "b",
        "finding_runbook",
        "the runbook for the highlighted row",
        "",
        "Runbook of the highlighted row",
    ),
    Key("copy", "c", "copy", "copy the highlighted row's evidence (OSC 52)", "", "Copy evidence"),
    Key("incident", "i,f9", "incident", "inject a demo incident", "incident", "", demo_only=True),
)

KEYMAP_IDS = tuple(k.id for k in KEYS)

# Keys the tables handle themselves (not remappable), listed once in help.
TABLE_KEYS = (
    ("↑ ↓ PgUp PgDn", "move in a pane"),
    ("Home End", "first / last row"),
    ("Enter", "evidence and advice of the highlighted row"),
)


def bindings() -> list[Binding]:
    """The App's bindings: shown in no built-in footer (our hint bar draws its own)."""
    return [Binding(k.keys, k.action, k.description, id=k.id, show=False) for k in KEYS]


def by_id(key_id: str) -> Key:
    return next(k for k in KEYS if k.id == key_id)
