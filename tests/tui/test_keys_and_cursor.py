"""The cursor stays where the problem is: follow-on-re-sort, Home, jump to the worst; and one
key table for bindings, config, footer, help and palette."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from signer_tui import config
from signer_tui.model import Evidence, Finding, Status
from signer_tui.ui import keys
from signer_tui.ui.widgets.hints import HintBar
from signer_tui.ui.widgets.pane import FindingsPane
from tests.tui.conftest import Stack, make_app


def test_config_accepts_exactly_the_console_keymap_ids() -> None:
    assert tuple(config.KEYMAP_IDS) == keys.KEYMAP_IDS


def rows(app: Any, pane_id: str) -> list[str]:
    return [f.id for f in app.query_one(f"#{pane_id}", FindingsPane).table.findings]


def finding(fid: str, status: Status, now: Any, summary: str = "") -> Finding:
    ev = Evidence("test", "GET /", now)
    return Finding(fid, status, summary or f"{fid} is {status.value}", "do x", (ev,))


async def test_cursor_follows_its_finding_when_rows_re_sort(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        now = app.clock()
        name = app.collector.name
        ok = [finding(f"node.check{i}", Status.OK, now) for i in range(5)]
        app.findings[name] = ok
        app.render_all()
        await pilot.press("3", "down", "down")  # on node.check2
        pane = app.query_one("#nodes", FindingsPane)
        assert pane.selected() is not None and pane.selected().id == "node.check2"
        # node.check4 turns CRIT and sorts to the top: the cursor stays on node.check2.
        app.findings[name] = [*ok[:4], finding("node.check4", Status.CRIT, now)]
        app.render_all()
        await pilot.pause()
        assert rows(app, "nodes")[0] == "node.check4"
        assert pane.selected() is not None and pane.selected().id == "node.check2"
        # The hint bar says where the evidence is only for a row that is not OK.
        hints = str(app.query_one(HintBar).render())
        assert "Enter evidence and advice" not in hints
        await pilot.press("home")
        assert pane.table.cursor_row == 0 and pane.selected().id == "node.check4"
        hints = str(app.query_one(HintBar).render())
        assert hints.startswith("Enter evidence and advice")
        # On the top row ("watching the worst") a newer, worse row takes the top.
        later = now + timedelta(seconds=1)
        app.findings[name] = [*ok[:3], finding("node.check3", Status.CRIT, later, "worse")]
        app.findings[name].append(finding("node.check4", Status.CRIT, later))
        app.render_all()
        await pilot.pause()
        assert pane.table.cursor_row == 0
        await pilot.press("end")
        assert pane.table.cursor_row == pane.table.row_count - 1
        # Unchanged rows are not redrawn; a changed one is (same order, same ids).
        before = dict(pane.table.shown)
        app.findings[name] = [
            *app.findings[name][:-1],
            finding("node.check4", Status.CRIT, later, "still down"),
        ]
        app.render_all()
        changed = {k for k, v in pane.table.shown.items() if before.get(k) != v}
        assert changed == {"node.check4"}


async def test_jump_to_the_worst_finding_across_panes(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        now = app.clock()
        app.findings[app.collector.name] = [
            finding("backup.freshness", Status.WARN, now),
            finding("key.node", Status.OK, now),
            finding("node.signer.alive", Status.OK, now),
            finding("release.signer", Status.CRIT, now, "advisory CVE-1: signer v1"),
            finding("release.stacks", Status.OK, now),
        ]
        app.render_all()
        await pilot.press("1")
        await pilot.press("exclamation_mark")
        await pilot.pause()
        pane = app.focused_pane()
        assert pane is not None and pane.id == "releases"
        assert pane.selected() is not None and pane.selected().id == "release.signer"
        # F4 is the twin, and the footer shows the key.
        await pilot.press("1", "f4")
        assert app.focused_pane() is pane
        assert "! worst" in str(app.query_one(HintBar).render())


async def test_footer_help_and_palette_follow_the_keymap(stack: Stack) -> None:
    loaded = stack.config()
    loaded.settings.ui.keymap = {"worst": "z", "verify-backup": "V"}
    app = make_app(loaded, stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        hints = str(app.query_one(HintBar).render())
        # 80 columns: quit, panes, worst and verify all fit, in the user's keys.
        for piece in ("q quit", "1-4 panes", "z worst", "V verify", "t timeline"):
            assert piece in hints, hints
        assert len(hints) <= 80
        await pilot.press("z")  # remapped: works
        await pilot.press("question_mark")
        await pilot.pause()
        markdown = app.screen.markdown  # type: ignore[attr-defined]
        assert "| z | jump to the worst finding" in markdown
        assert "| ! |" not in markdown
        # Textual's built-ins (cursor left, copy selected text) and "Select" are not listed.
        assert "Select" not in markdown and "cursor left" not in markdown.lower()
        await pilot.press("escape")
        from signer_tui.ui.app import SignerCommands

        provider = SignerCommands(app.screen)
        helps = {title: text for title, text, _cb in provider._commands()}
        assert helps["Jump to the worst finding"].endswith("(z)")
        assert helps["Verify latest backup"].endswith("(V)")


def test_evidence_never_splits_a_key_or_url() -> None:
    from signer_tui.ui.screens.evidence import wrap_at_spaces

    key = "02" + "ab" * 32
    url = "http://127.0.0.1:20443/v2/contracts/call-read/SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4/sbtc-registry"
    text = f"Advice: compare {key} with the chain at {url} before anything else, then escalate."
    wrapped = wrap_at_spaces(text, 40)
    assert all(len(line) <= 40 or " " not in line.strip() for line in wrapped.splitlines())
    assert key in wrapped.split() and url in wrapped.split()


async def test_rows_changed_since_the_operator_last_looked_are_marked(stack: Stack) -> None:
    from signer_tui.ui import app as app_module

    app = make_app(stack.config(), stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        now = app.clock()
        name = app.collector.name
        app.findings[name] = [
            finding("key.node", Status.OK, now),
            finding("key.api", Status.OK, now),
        ]
        app.render_all()
        await pilot.press("2")  # at the keyboard: the baseline is what is on screen
        pane = app.query_one("#key", FindingsPane)
        assert pane.changed == set()
        # The operator walks away; key.api goes CRIT meanwhile.
        assert app.last_key_at is not None
        app.last_key_at -= app_module.IDLE_SECONDS + 1
        app.findings[name] = [
            finding("key.node", Status.OK, now),
            finding("key.api", Status.CRIT, now),
        ]
        app.render_all()
        assert pane.changed == {"key.api"}
        assert str(pane.table.get_row("key.api")[1]).startswith("• ")
        await pilot.press("down")  # coming back: the mark stays for this look
        assert pane.changed == {"key.api"}
        await pilot.press("up")  # the next key: seen
        await pilot.pause()
        assert pane.changed == set()
        assert not str(pane.table.get_row("key.api")[1]).startswith("• ")
