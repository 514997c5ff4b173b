"""Walking a run: recording step results, following routes, and the four-eyes rules.

Everything a session does is an entry in the shared audit record (state.py replays it), so
the console, the headless CLI and a second operator's `runbook approve` all act on the same
run. Reading the state and appending happen under the record's lock, so two approvers
answering at the same moment cannot both complete the step.

Four eyes: the operator who started the run and the one who asked for the approval can never
approve it; every approval must come from a different person (`Identity.names`); a rejection
ends the run; an approval names the step and that step's content hash in the frozen copy of
the runbook the run follows.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from signer_tui.credentials import REDACTOR
from signer_tui.model import utcnow
from signer_tui.runbooks.actions import ACTION_NAMES
from signer_tui.runbooks.identity import Identity
from signer_tui.runbooks.livecheck import CheckRow
from signer_tui.runbooks.loader import RunbookError, parse_runbook
from signer_tui.runbooks.spec import Route, Runbook, Step
from signer_tui.runbooks.state import RunState, replay
from signer_tui.runbooks.store import RunsDir

RESULTS: dict[str, tuple[str, ...]] = {
    "text": ("read",),
    "check": ("passed", "failed"),
    "command": ("done", "skipped", "failed"),
    "confirm": ("done", "skipped", "failed"),
    "action": ("succeeded", "done", "skipped", "failed"),
    "approval": ("approved",),
}
NEEDS_NOTE = {"skipped": "a reason", "failed": "a note saying what failed", "done": ""}


class RunError(Exception):
    """A request the rules refuse (one line; exit 2 in the CLI)."""


def new_run_id(name: str, now: datetime) -> str:
    # At most 39 characters: it must fit a column at 80x24 and be typed in `approve RUN`.
    return f"{now:%Y%m%d-%H%M}-{name[:20].rstrip('-')}-{secrets.token_hex(2)}"


class RunSession:
    """One operator's handle on one run (any number may exist for the same run)."""

    def __init__(
        self,
        runs: RunsDir,
        runbook: Runbook,
        run_id: str,
        identity: Identity,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runs = runs
        self.runbook = runbook
        self.run_id = run_id
        self.identity = identity
        self.clock = clock
        self.state = self.refresh()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        runs: RunsDir,
        runbook: Runbook,
        identity: Identity,
        clock: Callable[[], datetime] = utcnow,
        profile: str = "",
    ) -> RunSession:
        """A new run; `profile` names the signer profile its live checks read."""
        now = clock()
        run_id = new_run_id(runbook.name, now)
        runs.save_snapshot(run_id, runbook.name, runbook.source)
        runs.audit.append(
            {
                **_base(now, run_id, identity, runbook),
                "event": "run-start",
                "title": runbook.title,
                "origin": runbook.origin,
                "source": str(runbook.path),
                "step": runbook.steps[0].id,
                "profile": profile,
            }
        )
        return cls(runs, runbook, run_id, identity, clock)

    @classmethod
    def open(
        cls,
        runs: RunsDir,
        run_id: str,
        identity: Identity,
        clock: Callable[[], datetime] = utcnow,
        known_actions: Iterable[str] = ACTION_NAMES,
    ) -> RunSession:
        """Open an existing run on the exact runbook version it started with."""
        state = replay(run_id, runs.audit.entries())
        if state is None:
            raise RunError(f"no run '{run_id}' in {runs.audit.path} (see `signer-tui audit`)")
        path = runs.snapshot_path(run_id, state.runbook)
        try:
            runbook = parse_runbook(path, "run", known_actions)
        except RunbookError as exc:
            raise RunError(
                f"the saved runbook of run {run_id} is unusable: {exc.problems[0]}"
            ) from None
        if runbook.version_hash != state.runbook_hash:
            raise RunError(
                f"{path} was changed after run {run_id} started (hash {runbook.version_hash[:12]}"
                f" != {state.runbook_hash[:12]}): run `signer-tui audit verify` and start anew"
            )
        return cls(runs, runbook, run_id, identity, clock)

    def refresh(self) -> RunState:
        state = replay(self.run_id, self.runs.audit.entries())
        if state is None:
            raise RunError(f"no run '{self.run_id}' in {self.runs.audit.path}")
        self.state = state
        return state

    # -- where we are ------------------------------------------------------------------------

    @property
    def step(self) -> Step | None:
        current = self.state.current
        return self.runbook.step(current) if current and self.state.is_open else None

    def step_hash(self, step: Step) -> str:
        return step.content_hash(self.runbook.version_hash)

    def position(self) -> tuple[int, int]:
        """(1-based index of the current step, number of steps)."""
        step = self.step
        total = len(self.runbook.steps)
        return (self.runbook.index(step.id) + 1 if step else total), total

    # -- recording ---------------------------------------------------------------------------

    def record(
        self,
        result: str,
        note: str = "",
        findings: Sequence[CheckRow] = (),
        step_id: str | None = None,
    ) -> RunState:
        """Record the current step's result and move on along its route. `step_id` is the
        step the operator is looking at: if someone else moved the run on meanwhile, the
        result is refused instead of landing on a step they never saw."""
        with self.runs.audit.exclusive():
            state = self.refresh()
            step = self._require_active(state)
            if step_id is not None and step.id != step_id:
                last = state.results()[-1] if state.results() else {}
                who = (last.get("user") or {}).get("person", "someone")
                raise RunError(
                    f"the run moved on: {who} recorded '{last.get('step')}' meanwhile and it "
                    f"is now at '{step.id}'; nothing was recorded for '{step_id}'"
                )
            if result not in RESULTS[step.kind] or result == "approved":
                raise RunError(
                    f"'{result}' is not a result of a {step.kind} step "
                    f"(use {', '.join(r for r in RESULTS[step.kind] if r != 'approved')})"
                )
            note = note.strip()
            if NEEDS_NOTE.get(result) and not note and step.kind != "check":
                raise RunError(f"'{result}' needs {NEEDS_NOTE[result]}")
            if step.kind == "action" and result == "done" and not note:
                raise RunError("an action done by hand needs a note saying how and what it showed")
            route = _route_for(step, result)
            self._advance(step, result, note, route, findings)
        return self.refresh()

    def _advance(
        self,
        step: Step,
        result: str,
        note: str,
        route: Route,
        findings: Sequence[CheckRow] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        now = self.clock()
        if route.kind == "goto":
            following: str | None = route.target
        elif route.kind == "continue":
            following = self.runbook.following(step.id)
        else:
            following = None
        self.runs.audit.append(
            {
                **_base(now, self.run_id, self.identity, self.runbook),
                "event": "step",
                "step": step.id,
                "kind": step.kind,
                "step_hash": self.step_hash(step),
                "result": result,
                "note": REDACTOR(note),
                "route": str(route),
                "next": following,
                "findings": [r.to_json() for r in findings],
                **(extra or {}),
            }
        )
        if following is None:
            outcome = "stopped" if route.kind == "stop" else "completed"
            self.runs.audit.append(
                {
                    **_base(now, self.run_id, self.identity, self.runbook),
                    "event": "run-end",
                    "step": step.id,
                    "result": outcome,
                }
            )

    def _require_active(self, state: RunState) -> Step:
        if not state.is_open or state.current is None:
            raise RunError(f"run {self.run_id} is {state.status}: nothing left to do")
        step = self.runbook.step(state.current)
        if state.status == "waiting":
            raise RunError(
                f"run {self.run_id} waits for approval of step '{step.id}': another operator "
                f"runs `signer-tui runbook approve {self.run_id}`"
            )
        return step

    def note(self, event: str) -> None:
        """A pause (the operator left) or a resume (someone picked the run up)."""
        state = self.refresh()
        if not state.is_open:
            return
        self.runs.audit.append(
            {
                **_base(self.clock(), self.run_id, self.identity, self.runbook),
                "event": event,
                "step": state.current,
            }
        )

    # -- four eyes ---------------------------------------------------------------------------

    def request_approval(self, note: str = "") -> RunState:
        with self.runs.audit.exclusive():
            state = self.refresh()
            step = self._current_approval(state)
            if state.status == "waiting":
                return state  # already asked (e.g. after a resume)
            self.runs.audit.append(
                {
                    **_base(self.clock(), self.run_id, self.identity, self.runbook),
                    "event": "approval-request",
                    "step": step.id,
                    "step_hash": self.step_hash(step),
                    "approvers": step.approvers,
                    "note": REDACTOR(note.strip()),
                }
            )
        return self.refresh()

    def _current_approval(self, state: RunState) -> Step:
        if not state.is_open or state.current is None:
            raise RunError(f"run {self.run_id} is {state.status}: nothing to approve")
        step = self.runbook.step(state.current)
        if step.kind != "approval":
            raise RunError(
                f"run {self.run_id} is at step '{step.id}' ({step.kind}), not at an approval"
            )
        return step

    def check_approver(self, state: RunState) -> Step:
        """The approval step this session may answer, or RunError saying why not."""
        step = self._current_approval(state)
        report = self.runs.audit.verify()
        if not report.ok:
            # An approval vouches for what the record says happened: not if it was altered.
            raise RunError(
                f"the record is not intact ({report.problems[0]}); nothing can be approved "
                "until `signer-tui audit verify` passes"
            )
        if state.status != "waiting":
            raise RunError(
                f"step '{step.id}' of run {self.run_id} has not been submitted for approval yet"
            )
        me = self.identity.names
        for role, who in (
            ("started", state.started_by),
            ("asked for this approval in", state.requested_by),
        ):
            if who is not None and me & who.names:
                raise RunError(
                    f"{self.identity.person} {role} run {self.run_id}: the approval must come "
                    "from another operator, in their own session"
                )
        for earlier in state.approvals:
            if me & Identity.from_json(earlier.get("user") or {}).names:
                raise RunError(
                    f"{self.identity.person} already approved step '{step.id}': one person "
                    "counts once"
                )
        if state.request_hash != self.step_hash(step):
            raise RunError(
                f"the approval request names step hash {state.request_hash[:12]}, the run's "
                f"runbook gives {self.step_hash(step)[:12]}: refusing (audit verify)"
            )
        return step

    def approve(self, note: str = "", expected_hash: str | None = None) -> RunState:
        with self.runs.audit.exclusive():
            state = self.refresh()
            step = self.check_approver(state)
            digest = self.step_hash(step)
            if expected_hash and not digest.startswith(expected_hash.lower()):
                raise RunError(
                    f"step '{step.id}' has hash {digest[:12]}, not {expected_hash}: the run "
                    "is not what you reviewed"
                )
            base = _base(self.clock(), self.run_id, self.identity, self.runbook)
            self.runs.audit.append(
                {
                    **base,
                    "event": "approval",
                    "step": step.id,
                    "step_hash": digest,
                    "note": REDACTOR(note.strip()),
                }
            )
            count = len(state.approvals) + 1
            if count >= step.approvers:
                approvers = [
                    Identity.from_json(a.get("user") or {}).person for a in state.approvals
                ]
                approvers.append(self.identity.person)
                self._advance(step, "approved", note, step.next, extra={"approved_by": approvers})
        return self.refresh()

    def reject(self, reason: str) -> RunState:
        reason = reason.strip()
        if not reason:
            raise RunError("a rejection needs a reason (--reason TEXT)")
        with self.runs.audit.exclusive():
            state = self.refresh()
            step = self.check_approver(state)
            base = _base(self.clock(), self.run_id, self.identity, self.runbook)
            self.runs.audit.append(
                {
                    **base,
                    "event": "rejection",
                    "step": step.id,
                    "step_hash": self.step_hash(step),
                    "note": REDACTOR(reason),
                }
            )
            self.runs.audit.append(
                {**base, "event": "run-end", "step": step.id, "result": "rejected"}
            )
        return self.refresh()


def _route_for(step: Step, result: str) -> Route:
    if step.kind == "check":
        return step.on_pass if result == "passed" else step.on_fail
    if result == "failed":
        return step.on_fail
    return step.next


def _base(now: datetime, run_id: str, identity: Identity, runbook: Runbook) -> dict[str, Any]:
    return {
        "at": now.isoformat(),
        "run": run_id,
        "user": identity.to_json(),
        "host": identity.host,
        "runbook": runbook.name,
        "runbook_hash": runbook.version_hash,
    }
