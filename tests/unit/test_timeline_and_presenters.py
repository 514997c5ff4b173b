"""Timeline events and the headless presenters render the same findings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from signer_tui.model import Evidence, Finding, Status
from signer_tui.pipeline.collector import Snapshot
from signer_tui.present import jsonout, promfile, text
from signer_tui.timeline import Timeline

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def finding(status: Status, summary: str = "s", when: datetime = T0) -> Finding:
    ev = Evidence("stacks-node", "GET http://127.0.0.1:20443/v2/info", when, 200)
    return Finding("node.stacks.synced", status, summary, "do x", (ev,), profile="main")


def test_timeline_records_changes_only_and_exports(tmp_path: Path) -> None:
    timeline = Timeline(tmp_path / "timeline.jsonl")
    assert len(timeline.observe("main", [finding(Status.OK)], T0)) == 1
    assert timeline.observe("main", [finding(Status.OK)], T0 + timedelta(seconds=5)) == []
    changes = timeline.observe("main", [finding(Status.CRIT, "down | hard")], T0 + timedelta(1))
    assert [(c.old, c.new) for c in changes] == [("OK", "CRIT")]
    md = timeline.to_markdown()
    assert "| `node.stacks.synced` | OK → CRIT | down \\| hard |" in md
    data = json.loads(timeline.to_json())
    assert [e["new"] for e in data] == ["OK", "CRIT"]
    path = timeline.export(tmp_path / "out", "markdown", T0)
    assert path.read_text() == md and path.suffix == ".md"
    assert len((tmp_path / "timeline.jsonl").read_text().splitlines()) == 2


def test_presenters_agree_on_status() -> None:
    snap = Snapshot("main", T0, {}, [finding(Status.WARN, "lagging 3 blocks")])
    now = T0 + timedelta(seconds=3)
    out = text.render([snap], now)
    assert "main: WARN" in out and "lagging 3 blocks" in out
    doc = json.loads(jsonout.render([snap], now))
    assert doc["status"] == "WARN"
    assert doc["profiles"][0]["findings"][0]["evidence"][0]["source"] == "stacks-node"
    prom = promfile.render([snap], now)
    assert (
        'signer_tui_finding_status{profile="main",id="node.stacks.synced",status="WARN"} 1' in prom
    )
    assert 'signer_tui_finding_age_seconds{profile="main",id="node.stacks.synced"} 3' in prom


def test_prometheus_textfile_parses(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    snap = Snapshot("main", T0, {}, [finding(Status.CRIT)])
    (tmp_path / "out").mkdir()
    path = tmp_path / "out" / "signer.prom"
    promfile.write(path, promfile.render([snap], T0))
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    assert families["signer_tui_finding_status"].samples[0].value == 3
    assert list((tmp_path / "out").iterdir()) == [path]
