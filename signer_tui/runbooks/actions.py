"""Actions a runbook step asks the console to run itself, e.g. `verify-backup`.

Runbook files name actions from `ACTION_NAMES` (validated on load). The implementations are
*provided* by whoever hosts the run, because only they hold the means: the headless CLI
builds a registry from the config (runbooks/cli.py), the console from its collectors
(ui/screens/runbooks.py), tests from doubles. A step whose action the host cannot run falls
back to a confirmation: the operator does it by hand and records what it showed.

An action gets a `progress(message, fraction)` callback and a cancel event; it returns an
`ActionResult`. `ok=None` ("could not tell") counts as failed: a gate never passes on doubt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

ACTION_NAMES: dict[str, str] = {
    "verify-backup": "restore the newest backup into a scratch PostgreSQL and compare its key",
}

Progress = Callable[[str, float | None], None]


@dataclass(frozen=True)
class ActionResult:
    ok: bool | None
    summary: str
    details: tuple[str, ...] = ()

    @property
    def result(self) -> str:
        """The step result this becomes in the record."""
        return "succeeded" if self.ok else "failed"

    def note(self) -> str:
        return "\n".join((self.summary, *self.details))


ActionFn = Callable[[Progress, threading.Event], ActionResult]


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, ActionFn] = {}

    def register(self, name: str, action: ActionFn) -> None:
        if name not in ACTION_NAMES:
            raise ValueError(f"unknown action {name!r} (add it to ACTION_NAMES)")
        self._actions[name] = action

    def get(self, name: str) -> ActionFn | None:
        return self._actions.get(name)

    def run(
        self, name: str, progress: Progress, cancel: threading.Event | None = None
    ) -> ActionResult:
        action = self._actions.get(name)
        if action is None:
            return ActionResult(None, f"this session cannot run '{name}'")
        try:
            return action(progress, cancel or threading.Event())
        except Exception as exc:  # an action's crash is a failed step, not a lost run
            return ActionResult(False, f"{name} failed: {type(exc).__name__}: {exc}")


def verification_result(outcome: object) -> ActionResult:
    """An ActionResult from a `VerificationOutcome` (duck-typed: verify/ is a sibling layer)."""
    verdict = str(getattr(outcome, "verdict", "unknown"))
    summary = f"{verdict}: {getattr(outcome, 'summary', '')}"
    details = tuple(
        f"{f.status.value:<7} {f.id}: {f.summary}"
        for f in getattr(outcome, "findings", ())
        if getattr(f.status, "value", "") != "OK"
    )
    ok = {"verified": True, "unknown": None}.get(verdict, False)
    return ActionResult(ok, summary, details)
