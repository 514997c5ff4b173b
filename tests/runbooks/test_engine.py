"""Walking runs: routes, gates, notes, the four-eyes rules and replay from the record."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer_tui.model import Status
from signer_tui.runbooks.actions import ActionRegistry, ActionResult
from signer_tui.runbooks.engine import RunError, RunSession
from signer_tui.runbooks.livecheck import evaluate, rows_for
from signer_tui.runbooks.walk import Terminal, walk
from tests.runbooks.helpers import NOW, finding, person, runs_dir, shipped, write_runbook

FOUR_EYES = """\
title: Four eyes
summary: A change that needs approval
steps:
  - {id: prepare, kind: confirm, title: Prepare}
  - {id: approve, kind: approval, title: Approve it, approvers: 2}
  - {id: apply, kind: confirm, title: Apply}
"""


def _four_eyes(tmp: Path, requester: str = "alice") -> RunSession:
    runbook = write_runbook(tmp / "books", "four-eyes", FOUR_EYES)
    session = RunSession.start(runs_dir(tmp), runbook, person(requester))
    session.record("done", "prepared")
    session.request_approval()
    return session


def _as(session: RunSession, who: str, uid: int = 1001, sudo: str | None = None) -> RunSession:
    return RunSession.open(session.runs, session.run_id, person(who, uid, sudo))


def test_a_gate_fails_on_missing_and_stale_data_and_passes_on_ok() -> None:
    step = shipped("daily-backup-verification").step("dump-present")
    ok = [finding(i, Status.OK) for i in step.findings]
    passed, rows = evaluate(step, lambda: ok, NOW)
    assert passed and [r.status for r in rows] == ["OK", "OK", "OK"]
    passed, rows = evaluate(step, lambda: ok[:2], NOW)
    assert not passed
    assert rows[-1].status == "UNKNOWN" and "no data" in rows[-1].summary
    from dataclasses import replace

    stale = [replace(f, stale_after=10.0) for f in ok]
    later = NOW.replace(minute=45)
    assert not evaluate(step, lambda: stale, later)[0]


def test_a_prefix_matches_every_finding_below_it() -> None:
    rows = rows_for(
        ["node.signer"],
        [
            finding("node.signer.alive", Status.OK),
            finding("node.signers", Status.CRIT),
            finding("node.signer.tips", Status.WARN),
        ],
        NOW,
    )
    assert [r.finding_id for r in rows] == ["node.signer.alive", "node.signer.tips"]


def test_a_failed_check_branches_and_the_branch_loops_back(tmp_path: Path) -> None:
    session = RunSession.start(
        runs_dir(tmp_path), shipped("daily-backup-verification"), person("alice")
    )
    step = session.step
    assert step is not None and step.id == "dump-present"
    passed, rows = evaluate(step, lambda: [finding("backup.freshness", Status.CRIT)], NOW)
    state = session.record("passed" if passed else "failed", findings=rows)
    assert state.current == "no-fresh-dump"
    recorded = state.results()[-1]
    assert recorded["route"] == "goto no-fresh-dump"
    assert {f["id"]: f["status"] for f in recorded["findings"]}["backup.freshness"] == "CRIT"
    assert session.record("done", "took one by hand").current == "restore-test"


def test_skip_needs_a_reason_and_failed_needs_a_note(tmp_path: Path) -> None:
    session = RunSession.start(runs_dir(tmp_path), shipped("firewall-review"), person("alice"))
    with pytest.raises(RunError, match="needs a reason"):
        session.record("skipped")
    with pytest.raises(RunError, match="'read' is not a result of a command step"):
        session.record("read")
    session.record("skipped", "no public address on this host")
    for _ in range(3):
        session.record("done")
    with pytest.raises(RunError, match="needs a note"):
        session.record("failed")
    state = session.record("failed", "9184 answers from outside")
    assert state.current == "fix"
    state = session.record("done", "bound to 127.0.0.1")
    assert state.status == "stopped" and state.current is None


def test_the_requester_can_never_approve(tmp_path: Path) -> None:
    session = _four_eyes(tmp_path)
    with pytest.raises(RunError, match="alice started run"):
        session.approve()
    # Through sudo to root, alice is still alice.
    with pytest.raises(RunError, match="alice started run"):
        _as(session, "root", 0, sudo="alice").approve()


def test_one_person_cannot_count_twice(tmp_path: Path) -> None:
    session = _four_eyes(tmp_path)
    bob = _as(session, "bob")
    assert bob.approve("looks right").status == "waiting"
    with pytest.raises(RunError, match="bob already approved"):
        bob.approve()
    # A forged SUDO_USER blocks (it is an extra name), it never adds a person.
    with pytest.raises(RunError, match="already approved"):
        _as(session, "mallory", 1002, sudo="bob").approve()
    state = _as(session, "carol", 1003).approve()
    assert state.status == "active" and state.current == "apply"
    step_entry = state.results()[-1]
    assert step_entry["result"] == "approved" and step_entry["approved_by"] == ["bob", "carol"]


def test_an_approval_names_the_step_and_its_hash(tmp_path: Path) -> None:
    session = _four_eyes(tmp_path)
    bob = _as(session, "bob")
    step = bob.runbook.step("approve")
    with pytest.raises(RunError, match="not what you reviewed"):
        bob.approve(expected_hash="deadbeef")
    bob.approve(expected_hash=bob.step_hash(step)[:12])
    approval = [e for e in bob.state.entries if e["event"] == "approval"][-1]
    assert approval["step"] == "approve"
    assert approval["step_hash"] == step.content_hash(bob.runbook.version_hash)
    assert approval["user"]["person"] == "bob"


def test_nothing_is_approved_on_an_altered_record(tmp_path: Path) -> None:
    session = _four_eyes(tmp_path)
    log = session.runs.audit.path
    log.write_text(log.read_text().replace('"note":"prepared"', '"note":"prepared well"'))
    with pytest.raises(RunError, match=r"the record is not intact .*was edited"):
        _as(session, "bob").approve()


def test_a_rejection_stops_the_run(tmp_path: Path) -> None:
    session = _four_eyes(tmp_path)
    with pytest.raises(RunError, match="needs a reason"):
        _as(session, "bob").reject("  ")
    state = _as(session, "bob").reject("not in a prepare phase, please")
    assert state.status == "rejected" and not state.is_open
    with pytest.raises(RunError, match="is rejected"):
        session.refresh()
        session.record("done")
    with pytest.raises(RunError, match="rejected: nothing to approve"):
        _as(session, "carol", 1003).approve()


def test_nothing_can_be_approved_before_it_was_asked(tmp_path: Path) -> None:
    runbook = write_runbook(tmp_path / "books", "four-eyes", FOUR_EYES)
    session = RunSession.start(runs_dir(tmp_path), runbook, person("alice"))
    with pytest.raises(RunError, match="not at an approval"):
        _as(session, "bob").approve()
    session.record("done")
    with pytest.raises(RunError, match="has not been submitted for approval"):
        _as(session, "bob").approve()
    with pytest.raises(RunError, match="waits for approval"):
        session.request_approval()
        session.record("done")


def test_a_run_follows_its_frozen_runbook_and_refuses_an_edited_copy(tmp_path: Path) -> None:
    books = tmp_path / "books"
    runbook = write_runbook(books, "four-eyes", FOUR_EYES)
    session = RunSession.start(runs_dir(tmp_path), runbook, person("alice"))
    # Editing the runbook after the start changes nothing for this run.
    write_runbook(books, "four-eyes", FOUR_EYES.replace("Prepare", "Something else"))
    again = RunSession.open(session.runs, session.run_id, person("alice"))
    assert again.runbook.step("prepare").title == "Prepare"
    copy = session.runs.snapshot_path(session.run_id, "four-eyes")
    copy.chmod(0o660)
    copy.write_text(FOUR_EYES.replace("approvers: 2", "approvers: 1"))
    with pytest.raises(RunError, match="was changed after run"):
        RunSession.open(session.runs, session.run_id, person("bob"))


def test_headless_walk_gates_branches_and_leaves_resumable(tmp_path: Path) -> None:
    runs = runs_dir(tmp_path)
    session = RunSession.start(runs, shipped("event-observer-stalled"), person("alice"))
    answers = iter(["", "", "d", "node retries to :8801", "."])
    printed: list[str] = []
    term = Terminal(out=printed.append, read=lambda _p: next(answers, None))
    live = [finding("node.signer.observing", Status.CRIT), finding("node.signer.alive", Status.OK)]
    code = walk(session, term, lambda: live, ActionRegistry())
    assert code == 0
    text = "\n".join(printed)
    assert "gate: FAIL → continue" in text and "gate: PASS → continue" in text
    assert "runbook resume" in text  # input ended: the run waits
    state = RunSession.open(runs, session.run_id, person("bob")).state
    assert state.is_open and state.current == "big-block"
    assert [e["event"] for e in state.entries][-1] == "pause"


def test_headless_action_runs_through_the_registry(tmp_path: Path) -> None:
    runs = runs_dir(tmp_path)
    session = RunSession.start(runs, shipped("daily-backup-verification"), person("alice"))
    ok = [
        finding(i, Status.OK)
        for i in (
            "backup.configured",
            "backup.freshness",
            "backup.integrity",
            "backup.size",
            "backup.gaps",
            "backup.verification",
        )
    ]
    registry = ActionRegistry()
    calls: list[str] = []

    def verify(progress, cancel):  # type: ignore[no-untyped-def]
        progress("restore: 12 of 12 entries", 1.0)
        calls.append("verify")
        return ActionResult(False, "mismatch: the dump's key differs", ("CRIT key: differs",))

    registry.register("verify-backup", verify)
    answers = iter(["", "", "", "", "f", "kept the dump", "."])
    printed: list[str] = []
    term = Terminal(out=printed.append, read=lambda _p: next(answers, None))
    assert walk(session, term, lambda: ok, registry) == 1
    assert calls == ["verify"]
    state = session.refresh()
    assert state.status == "stopped"
    results = {e["step"]: e["result"] for e in state.results()}
    assert results["restore-test"] == "failed"
    assert results["restore-failed"] == "failed"
    assert "mismatch" in next(e["note"] for e in state.results() if e["step"] == "restore-test")


def test_headless_walk_can_wait_for_the_approval(tmp_path: Path) -> None:
    runbook = write_runbook(tmp_path / "books", "four-eyes", FOUR_EYES.replace("2}", "1}"))
    session = RunSession.start(runs_dir(tmp_path), runbook, person("alice"))
    answers = iter(["d", ".", "", "d", "."])
    printed: list[str] = []
    term = Terminal(out=printed.append, read=lambda _p: next(answers, None))
    naps: list[float] = []

    def nap(seconds: float) -> None:  # another operator answers while we wait
        naps.append(seconds)
        if len(naps) == 2:
            _as(session, "bob").approve("ok")

    assert walk(session, term, lambda: [], ActionRegistry(), wait=0.5, sleep=nap) == 0
    assert naps == [0.5, 0.5]
    assert session.state.status == "completed"
    assert "waiting here for the answer" in "\n".join(printed)


def test_a_stale_session_cannot_record_on_a_step_it_never_saw(tmp_path: Path) -> None:
    session = RunSession.start(runs_dir(tmp_path), shipped("firewall-review"), person("alice"))
    other = _as(session, "bob")  # bob picked the run up in another terminal
    other.record("done", "listening checked", step_id="listening")
    with pytest.raises(RunError, match="bob recorded 'listening' meanwhile and it is now at"):
        session.record("done", "also checked", step_id="listening")
    assert [e["step"] for e in session.state.results()] == ["listening"]
