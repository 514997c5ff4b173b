"""The console against the simulators and the real PostgreSQL, driven with Pilot."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

from textual.command import CommandPalette

from signer_tui.model import Status, utcnow
from signer_tui.sim.state import DkgRound, Fault, fake_key
from signer_tui.ui.app import PollCompleted, SignerApp
from signer_tui.ui.screens.evidence import EvidenceScreen
from signer_tui.ui.screens.help import HelpScreen
from signer_tui.ui.screens.timeline import TimelineScreen
from signer_tui.ui.widgets.pane import FindingsPane
from tests.tui.conftest import ALL_SOURCES, Stack, make_app, wait_for_polls


def by_id(app: SignerApp, profile: str = "mainnet") -> dict[str, Any]:
    return {f.id: f for f in app.findings[profile]}


def pane_rows(app: SignerApp, pane_id: str) -> list[str]:
    table = app.query_one(f"#{pane_id}", FindingsPane).table
    return [
        " ".join(str(cell) for cell in table.get_row_at(i)).strip() for i in range(table.row_count)
    ]


async def test_healthy_dashboard_polls_every_source(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, ALL_SOURCES)
        findings = by_id(app)
        for fid in ("key.node", "key.api", "key.sources"):
            assert findings[fid].status is Status.OK, findings[fid].summary
        assert findings["node.bitcoind.reachable"].status is Status.OK
        assert findings["node.stacks.synced"].status is Status.OK
        assert findings["node.signer.peers"].summary == (
            "13 of 13 peers connected (registry set of 14)"
        )
        # The demo backup dir has a truncated dump five days ago.
        assert findings["backup.integrity"].status is not Status.OK
        assert findings["backup.freshness"].status is Status.OK
        # Every pane shows words, not only colours, and the key pane is OK.
        key_rows = pane_rows(app, "key")
        # key.node, key.api, key.sources and key.signer_set (registry vs newest DKG row).
        assert len(key_rows) == 4 and all(r.startswith("OK") for r in key_rows)
        assert app.query_one("#key", FindingsPane).worst is Status.OK
        topbar = str(app.query_one("#topbar").render())
        assert "signer-tui" in topbar and "mainnet" in topbar
        # Enter on a row opens its evidence: the call-read request and the key.
        await pilot.press("2")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EvidenceScreen)
        text = app.screen.text
        assert "call-read" in text and "sbtc-registry" in text
        assert stack.db.state.newest_verified_key().hex() in text  # type: ignore[union-attr]
        await pilot.press("c")
        assert app._clipboard == text  # OSC 52 copy of exactly what is shown
        await pilot.press("escape")
        assert not isinstance(app.screen, EvidenceScreen)


async def test_key_mismatch_is_crit_and_recorded(stack: Stack) -> None:
    stack.env.state.chain_key = fake_key("rotated-elsewhere")
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"key.node", "key.api", "db"})
        findings = by_id(app)
        assert findings["key.node"].status is Status.CRIT
        assert findings["key.node"].summary.startswith("MISMATCH")
        assert findings["key.api"].status is Status.CRIT
        assert findings["key.sources"].status is Status.OK  # both chain sources agree
        assert app.query_one("#key", FindingsPane).has_class("-crit")
        assert pane_rows(app, "key")[0].startswith("CRIT")
        events = [e for e in app.timeline.events if e.finding_id == "key.node"]
        assert events[-1].new == "CRIT"


async def test_dkg_transition_is_warn(stack: Stack) -> None:
    state = stack.env.state
    new_key = fake_key("next-dkg")
    state.dkg_rounds.append(DkgRound(new_key, "unverified", utcnow(), state.bitcoin_height - 2))
    state.chain_key = new_key
    stack.env.apply()
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"key.node", "key.api", "db", "bitcoind"})
        finding = by_id(app)["key.node"]
        assert finding.status is Status.WARN
        assert finding.summary == "DKG transition: new key unverified, 2/10 blocks"


async def test_chain_sources_disagree(stack: Stack) -> None:
    stack.env.state.hiro_key_override = fake_key("forked")
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"key.node", "key.api", "db"})
        findings = by_id(app)
        assert findings["key.sources"].status is Status.CRIT
        assert findings["key.node"].status is Status.OK
        assert findings["key.api"].status is Status.CRIT


async def test_node_down_then_back(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    stack.env.servers["bitcoind"].stop()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"bitcoind"})
        findings = by_id(app)
        assert findings["node.bitcoind.reachable"].status is Status.CRIT
        assert findings["node.bitcoind.reachable"].summary == "connection refused: bitcoind"
        for fid in ("synced", "version", "pruned", "tip_age"):
            assert findings[f"node.bitcoind.{fid}"].status is Status.UNKNOWN
        assert pane_rows(app, "nodes")[0].startswith("CRIT")
        stack.env.servers["bitcoind"].restart()
        seen.clear()
        await pilot.press("r")
        await wait_for_polls(pilot, seen, {"bitcoind"})
        assert by_id(app)["node.bitcoind.reachable"].status is Status.OK
        changes = [e.new for e in app.timeline.events if e.finding_id == "node.bitcoind.reachable"]
        assert changes[-2:] == ["CRIT", "OK"]


async def test_stale_data_is_marked_and_counts_as_unknown(stack: Stack) -> None:
    offset = [0.0]

    def clock() -> Any:
        return utcnow() + timedelta(seconds=offset[0])

    app = make_app(stack.config(), stack.tmp, clock=clock)
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"key.node", "key.api", "db"})
        assert pane_rows(app, "key")[0].startswith("OK")
        # Three poll intervals later, with no new data, nothing may look healthy.
        offset[0] = 3 * 60 + 10
        app.render_all()
        await pilot.pause()
        rows = pane_rows(app, "key")
        assert all(row.startswith("STALE") for row in rows), rows
        assert app.query_one("#key", FindingsPane).worst is Status.UNKNOWN


async def test_hanging_source_does_not_block_the_ui(stack: Stack) -> None:
    stack.env.state.faults["stacks"] = Fault.TIMEOUT
    app = make_app(
        stack.config(stacks={"rpc_url": stack.env.url("stacks"), "timeout": "3s"}), stack.tmp
    )
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        started = time.monotonic()
        await asyncio.sleep(0.3)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        assert time.monotonic() - started < 2.0
        assert not any(
            isinstance(m, PollCompleted) and m.observation.source == "stacks" for m in seen
        )
        await pilot.press("escape")
        await wait_for_polls(pilot, seen, {"stacks"}, timeout=10)
        assert time.monotonic() - started < 6.0
        finding = by_id(app)["node.stacks.reachable"]
        assert finding.status is Status.CRIT
        assert finding.summary == "timed out after 3 s: Stacks node"


async def test_worker_failure_becomes_unknown_row(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp)
    collector = app.collectors[0]

    async def broken_run(job: Any) -> Any:
        raise RuntimeError("bug in a poller")

    collector.run = broken_run  # type: ignore[method-assign]
    seen: list[Any] = []
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"stacks"})
        finding = by_id(app)["node.stacks.reachable"]
        assert finding.status is Status.CRIT
        assert "unexpected RuntimeError" in finding.summary
        assert by_id(app)["node.stacks.synced"].status is Status.UNKNOWN


async def test_timeline_exports_markdown_and_json(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp)
    seen: list[Any] = []
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await wait_for_polls(pilot, seen, {"key.node", "key.api", "db"})
        await pilot.press("t")
        await pilot.press("m")
        await pilot.press("j")
        await pilot.pause()
    exports = sorted((stack.tmp / "state").glob("timeline-*"))
    assert sorted(p.suffix for p in exports) == [".json", ".md"]
    markdown = next(p for p in exports if p.suffix == ".md").read_text()
    # Start-up is one event, not one per finding.
    assert "`console.started`" in markdown and "(started)" in markdown
    assert "| `key.node` |" not in markdown
    events = json.loads(next(p for p in exports if p.suffix == ".json").read_text())
    assert [e["finding_id"] for e in events].count("console.started") == 1
    # The running timeline is also kept on disk for a restarted console.
    assert (stack.tmp / "state" / "timeline.jsonl").exists()


async def test_help_palette_and_keymap(stack: Stack) -> None:
    loaded = stack.config()
    loaded.settings.ui.keymap = {"refresh": "x", "timeline": "f7"}
    app = make_app(loaded, stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "lying or forked node" in app.screen.markdown
        assert "| x | poll every source now |" in app.screen.markdown
        assert "| f7 | event timeline" in app.screen.markdown
        await pilot.press("escape")
        await pilot.press("f7")
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("escape")
        await pilot.press("colon")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        await pilot.press("x")
        await pilot.pause()
        assert any("Refreshing" in str(n.message) for n in app._notifications)


async def test_profile_switcher(stack: Stack, signer_db: Any) -> None:
    loaded = stack.config()
    second = loaded.settings.signers[0].model_copy(update={"name": "testnet"})
    loaded.settings.signers.append(second)
    app = make_app(loaded, stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current == 0
        await pilot.press("p")
        assert app.current == 1
        topbar = str(app.query_one("#topbar").render())
        assert "▸testnet" in topbar and "mainnet" in topbar
        await pilot.press("P")
        assert app.current == 0


async def test_exits_when_the_terminal_goes_away(stack: Stack) -> None:
    app = make_app(stack.config(), stack.tmp, autostart=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app._check_tty()  # under pytest stdout is not a terminal: like a dropped SSH session
        await pilot.pause()
    assert app.return_code == 0


async def test_verify_latest_backup_from_the_backups_pane(stack: Stack) -> None:
    """v restores the newest dump in a worker, shows progress and the verdict, records it."""
    from signer_tui.credentials import SecretStore
    from signer_tui.ui.screens.verify import VerifyScreen
    from signer_tui.verify.run import VerifyRequest

    history_file = stack.tmp / "history.jsonl"

    def request(collector: Any) -> VerifyRequest:
        return VerifyRequest(
            latest=True,
            profile=collector.profile,
            secrets=SecretStore(),
            history_path=history_file,
        )

    app = make_app(stack.config(), stack.tmp, autostart=False, verify_request=request)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("1", "v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        for _ in range(600):
            if screen.finished:
                break
            await asyncio.sleep(0.1)
        assert screen.finished and screen.outcome is not None
        assert screen.outcome.verdict == "verified", screen.outcome.summary
        shown = str(screen.query_one("#verify-result").render())
        assert shown.startswith("OK  verified")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, VerifyScreen)
    lines = history_file.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["verdict"] == "verified"


async def test_verify_can_be_cancelled(stack: Stack) -> None:
    from signer_tui.ui.screens.verify import VerifyScreen
    from signer_tui.verify.run import VerifyRequest

    history_file = stack.tmp / "history.jsonl"
    app = make_app(
        stack.config(),
        stack.tmp,
        autostart=False,
        verify_request=lambda c: VerifyRequest(
            latest=True, profile=c.profile, history_path=history_file
        ),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("1", "v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, VerifyScreen)
        await pilot.press("escape")  # cancel right away
        for _ in range(300):
            if screen.finished:
                break
            await asyncio.sleep(0.1)
        assert screen.finished
        assert "Cancelled" in str(screen.query_one("#verify-result").render())
    assert not history_file.exists()  # a cancelled run is not recorded
