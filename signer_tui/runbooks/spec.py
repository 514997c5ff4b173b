"""What a runbook is once loaded: steps, their kinds and where each one leads.

A runbook file is YAML whose text fields are Markdown (see `loader.py` for the format). The
version hash is the SHA-256 of the file's bytes: a run records it at start, and an approval
names the hash of the exact step it approved, so an edited runbook cannot slip an unapproved
step into a run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("text", "check", "command", "action", "confirm", "approval")

# Where a step leads: the next step in the file, a named step, or the end of the run.
CONTINUE = "continue"
STOP = "stop"  # the run ends as "stopped" (something is wrong; hand over)
FINISH = "finish"  # the run ends as "completed"


@dataclass(frozen=True)
class Route:
    """`continue`, `stop`, `finish` or `goto STEP`."""

    kind: str  # continue | stop | finish | goto
    target: str = ""

    def __str__(self) -> str:
        return f"goto {self.target}" if self.kind == "goto" else self.kind

    @staticmethod
    def parse(text: str) -> Route:
        words = text.split()
        if len(words) == 2 and words[0] == "goto":
            return Route("goto", words[1])
        if len(words) == 1 and words[0] in (CONTINUE, STOP, FINISH):
            return Route(words[0])
        raise ValueError(f"expected continue, stop, finish or 'goto STEP' (got {text!r})")


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    title: str
    text: str = ""
    findings: tuple[str, ...] = ()  # check: finding ids, or `area.prefix.*`
    accept: tuple[str, ...] = ("OK",)  # check: statuses that pass the gate
    on_pass: Route = Route(CONTINUE)
    on_fail: Route = Route(STOP)  # check fails, or a confirm/command/action step failed
    command: str = ""
    action: str = ""
    approvers: int = 1
    next: Route = Route(CONTINUE)  # after a step that did not fail
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def content_hash(self, runbook_hash: str) -> str:
        """What an approval names: this step's definition within this runbook version."""
        body = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(f"{runbook_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    summary: str
    handles: tuple[str, ...]  # finding-id prefixes this runbook is the answer to
    steps: tuple[Step, ...]
    path: Path
    origin: str  # "package" or "user"
    source: str  # the file's text, kept so a run can be resumed on the version it started
    version_hash: str
    intro: str = ""

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)

    def following(self, step_id: str) -> str | None:
        """The step after `step_id` in file order (None at the end)."""
        position = self.index(step_id)
        return self.steps[position + 1].id if position + 1 < len(self.steps) else None


def version_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
