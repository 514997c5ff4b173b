"""Runbook files: YAML with Markdown text, validated with the config's error style.

One file per runbook, named `<name>.yaml`; the name is the file stem. Package runbooks live in
`signer_tui/runbooks/data/`; files in the user directory (`$XDG_CONFIG_HOME/signer-tui/
runbooks/`) add runbooks or replace a package runbook of the same name.

```yaml
title: Daily backup verification          # required, one line
summary: Prove last night's dump restores  # required, one line
handles: [backup]                          # finding ids / prefixes this runbook answers
intro: |                                   # Markdown shown before the first step
  ...
steps:                                     # required, at least one
  - id: fresh                              # required, unique: a-z 0-9 -
    kind: check                            # text | check | command | action | confirm | approval
    title: The newest dump is fresh        # required
    text: |                                # Markdown guidance
      ...
    findings: [backup.freshness]           # check: finding ids or prefixes (`backup` = all)
    accept: [OK]                           # check: statuses that pass (default [OK])
    pass: continue                         # check: continue | finish | goto STEP
    fail: goto escalate                    # check/command/action/confirm: stop | goto STEP |
                                           #   continue (default stop)
    command: "pg_dump ..."                 # command: shown and copyable, never executed
    action: verify-backup                  # action: run by the console (see actions.py)
    approvers: 1                           # approval: how many other operators must approve
    next: continue                         # after success: continue | stop | finish | goto
```

Every problem in a file is reported at once, each with file, line, path and a did-you-mean.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from signer_tui.config import Problem, format_path
from signer_tui.runbooks.spec import KINDS, Route, Runbook, Step, version_hash

PACKAGE_DIR = Path(__file__).resolve().parent / "data"
MAX_BYTES = 256 * 1024

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
FINDING = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
# First segment of a finding id (the checks' areas); a typo here would silently never match.
AREAS = ("backup", "key", "node", "release", "posture", "database", "restored", "internal")
STATUSES = ("OK", "WARN", "UNKNOWN", "CRIT")

TOP_KEYS = ("title", "summary", "handles", "intro", "steps")
COMMON_KEYS = ("id", "kind", "title", "text", "next")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "text": (),
    "check": ("findings", "accept", "pass", "fail"),
    "command": ("command", "fail"),
    "action": ("action", "fail"),
    "confirm": ("fail",),
    "approval": ("approvers",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "check": ("findings",),
    "command": ("command",),
    "action": ("action",),
}
ALL_STEP_KEYS = tuple(dict.fromkeys(COMMON_KEYS + sum(KIND_KEYS.values(), ())))


class RunbookError(Exception):
    """Every problem found in one or more runbook files (exit 2)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' or ''."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{found[0]}'?)" if found else ""


def _lines(node: yaml.Node | None) -> dict[str, int]:
    out: dict[str, int] = {}

    def walk(n: yaml.Node, path: tuple[str | int, ...]) -> None:
        out.setdefault(format_path(path), n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                out[format_path((*path, key.value))] = key.start_mark.line + 1
                walk(value, (*path, key.value))
                out[format_path((*path, key.value))] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return out


class _Checker:
    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def add(self, loc: Sequence[str | int], message: str) -> None:
        line = None
        for end in range(len(loc), -1, -1):
            line = self.lines.get(format_path(loc[:end]))
            if line:
                break
        self.problems.append(Problem(self.file, line, format_path(loc), message))

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        loc: list[str | int],
        *,
        required: bool,
        one_line: bool = False,
    ) -> str:
        if key not in data:
            if required:
                self.add([*loc, key], "required key is missing")
            return ""
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            self.add([*loc, key], "expected non-empty text")
            return ""
        if one_line and "\n" in value.strip():
            self.add([*loc, key], "expected one line of text")
        return value.strip() if one_line else value

    def strings(self, data: Mapping[str, Any], key: str, loc: list[str | int]) -> list[str]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add([*loc, key], "expected a list of strings")
            return []
        return [v.strip() for v in value]

    def keys(
        self,
        data: Mapping[str, Any],
        allowed: Sequence[str],
        loc: list[str | int],
        elsewhere: Mapping[str, str] | None = None,
    ) -> None:
        for key in data:
            if key in allowed:
                continue
            name = str(key)
            if elsewhere and name in elsewhere:
                self.add([*loc, name], f"'{name}' belongs to {elsewhere[name]} steps, not here")
            else:
                self.add(
                    [*loc, name],
                    f"unknown key '{name}'{suggest(name, allowed)}"
                    + ("" if suggest(name, allowed) else f" (known keys: {', '.join(allowed)})"),
                )

    def finding(self, pattern: str, loc: list[str | int]) -> None:
        if "*" in pattern:
            self.add(
                loc, f"no wildcards: '{pattern.rstrip('.*')}' already matches every id below it"
            )
        elif not FINDING.match(pattern):
            self.add(
                loc, f"'{pattern}' is not a finding id (dotted lower-case, e.g. backup.freshness)"
            )
        elif (area := pattern.split(".", 1)[0]) not in AREAS:
            self.add(
                loc,
                f"unknown finding area '{area}'{suggest(area, AREAS)} (known: {', '.join(AREAS)})",
            )


def parse_runbook(path: Path, origin: str, known_actions: Iterable[str]) -> Runbook:
    """Read and validate one file; raise RunbookError listing every problem in it."""
    shown = str(path)
    try:
        data_bytes = path.read_bytes()
    except OSError as exc:
        raise RunbookError(
            [Problem(shown, None, "", f"cannot read the file: {exc.strerror}")]
        ) from None
    if len(data_bytes) > MAX_BYTES:
        raise RunbookError([Problem(shown, None, "", f"larger than {MAX_BYTES // 1024} KiB")])
    name = path.stem
    problems: list[Problem] = []
    if not NAME.match(name):
        problems.append(
            Problem(
                shown,
                None,
                "",
                f"file name '{name}' must be lower-case "
                "letters, digits and '-' (it is the runbook's name)",
            )
        )
    try:
        source = data_bytes.decode("utf-8")
        node = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except UnicodeDecodeError:
        raise RunbookError([Problem(shown, None, "", "not UTF-8 text")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RunbookError(
            [Problem(shown, mark.line + 1 if mark else None, "", f"YAML syntax error: {problem}")]
        ) from None
    if not isinstance(data, dict):
        raise RunbookError(
            [
                *problems,
                Problem(
                    shown, 1, "", "the top level must be a mapping with title, summary and steps"
                ),
            ]
        )
    check = _Checker(shown, _lines(node))
    check.problems.extend(problems)
    check.keys(data, TOP_KEYS, [])
    title = check.text(data, "title", [], required=True, one_line=True)
    summary = check.text(data, "summary", [], required=True, one_line=True)
    intro = check.text(data, "intro", [], required=False)
    handles = check.strings(data, "handles", [])
    for i, pattern in enumerate(handles):
        check.finding(pattern, ["handles", i])
    raw_steps = data.get("steps")
    steps: list[Step] = []
    if raw_steps is None:
        check.add(["steps"], "required key is missing")
    elif not isinstance(raw_steps, list) or not raw_steps:
        check.add(["steps"], "expected a non-empty list of steps")
    else:
        actions = list(known_actions)
        parsed: list[tuple[int, Step]] = []
        for i, raw in enumerate(raw_steps):
            step = _parse_step(check, raw, ["steps", i], actions)
            if step is not None:
                parsed.append((i, step))
        _check_routes(check, parsed)
        steps = [s for _i, s in parsed]
    if check.problems:
        raise RunbookError(sorted(check.problems, key=lambda p: p.line or 0))
    return Runbook(
        name,
        title,
        summary,
        tuple(handles),
        tuple(steps),
        path,
        origin,
        source,
        version_hash(data_bytes),
        intro,
    )


def _route(
    check: _Checker,
    raw: Mapping[str, Any],
    key: str,
    loc: list[str | int],
    allowed: tuple[str, ...],
    default: Route,
) -> Route:
    if key not in raw:
        return default
    value = raw[key]
    try:
        route = Route.parse(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        check.add([*loc, key], str(exc))
        return default
    if route.kind not in allowed:
        check.add([*loc, key], f"'{route}' is not allowed here (use {' | '.join(allowed)})")
        return default
    return route


def _parse_step(check: _Checker, raw: Any, loc: list[str | int], actions: list[str]) -> Step | None:
    if not isinstance(raw, dict):
        check.add(loc, "expected a mapping with id, kind and title")
        return None
    kind = raw.get("kind")
    if kind is None:
        check.add([*loc, "kind"], f"required key is missing (one of {', '.join(KINDS)})")
        kind = ""
    elif kind not in KINDS:
        check.add(
            [*loc, "kind"],
            f"unknown kind {kind!r}{suggest(str(kind), KINDS)} (known: {', '.join(KINDS)})",
        )
        kind = ""
    allowed = COMMON_KEYS + KIND_KEYS.get(kind, ())
    elsewhere = {
        k: "/".join(n for n, ks in KIND_KEYS.items() if k in ks)
        for k in ALL_STEP_KEYS
        if k not in allowed
    }
    check.keys(raw, allowed if kind else ALL_STEP_KEYS, loc, elsewhere if kind else None)
    step_id = raw.get("id")
    if step_id is None:
        check.add([*loc, "id"], "required key is missing")
        step_id = ""
    elif not isinstance(step_id, str) or not STEP_ID.match(step_id):
        check.add(
            [*loc, "id"], f"a step id is lower-case letters, digits and '-' (got {step_id!r})"
        )
        step_id = ""
    title = check.text(raw, "title", loc, required=True, one_line=True)
    text = check.text(raw, "text", loc, required=False)
    for key in REQUIRED.get(kind, ()):
        if key not in raw:
            check.add([*loc, key], f"required key for a {kind} step is missing")
    findings = check.strings(raw, "findings", loc) if kind == "check" else []
    if kind == "check" and "findings" in raw and not findings:
        check.add([*loc, "findings"], "name at least one finding id")
    for i, pattern in enumerate(findings):
        check.finding(pattern, [*loc, "findings", i])
    accept = check.strings(raw, "accept", loc) if "accept" in raw else ["OK"]
    for i, status in enumerate(accept):
        if status not in STATUSES:
            check.add([*loc, "accept", i], f"unknown status {status!r}{suggest(status, STATUSES)}")
    if "UNKNOWN" in accept or "CRIT" in accept:
        check.add(
            [*loc, "accept"],
            "a gate may accept OK and WARN only: missing or critical data must not pass",
        )
    command = check.text(raw, "command", loc, required=False) if kind == "command" else ""
    action = ""
    if kind == "action" and "action" in raw:
        action = str(raw["action"])
        if action not in actions:
            check.add(
                [*loc, "action"],
                f"unknown action {action!r}{suggest(action, actions)} "
                f"(known: {', '.join(actions)})",
            )
    approvers = raw.get("approvers", 1)
    if kind == "approval" and (
        not isinstance(approvers, int) or isinstance(approvers, bool) or not 1 <= approvers <= 5
    ):
        check.add([*loc, "approvers"], f"expected a number from 1 to 5 (got {approvers!r})")
        approvers = 1
    on_pass = _route(check, raw, "pass", loc, ("continue", "finish", "goto"), Route("continue"))
    on_fail = _route(check, raw, "fail", loc, ("stop", "goto", "continue"), Route("stop"))
    after = _route(
        check, raw, "next", loc, ("continue", "stop", "finish", "goto"), Route("continue")
    )
    if not kind or not step_id:
        return None
    return Step(
        step_id,
        kind,
        title,
        text,
        tuple(findings),
        tuple(accept),
        on_pass,
        on_fail,
        command,
        action,
        approvers,
        after,
        raw=dict(raw),
    )


def _check_routes(check: _Checker, steps: list[tuple[int, Step]]) -> None:
    ids = [s.id for _i, s in steps]
    seen: set[str] = set()
    for index, step in steps:
        loc: list[str | int] = ["steps", index]
        if step.id in seen:
            check.add([*loc, "id"], f"duplicate step id '{step.id}'")
        seen.add(step.id)
        for key, route in (("pass", step.on_pass), ("fail", step.on_fail), ("next", step.next)):
            if route.kind != "goto":
                continue
            if route.target == step.id:
                check.add([*loc, key], "a step cannot go to itself (re-check with r instead)")
            elif route.target not in ids:
                check.add([*loc, key], f"no step '{route.target}'{suggest(route.target, ids)}")


@dataclass
class Catalog:
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    overrides: dict[str, Path] = field(default_factory=dict)  # name -> the package file replaced

    def get(self, name: str) -> Runbook:
        if name in self.runbooks:
            return self.runbooks[name]
        raise RunbookError(
            [
                Problem(
                    None,
                    None,
                    "",
                    f"no runbook named '{name}'"
                    f"{suggest(name, self.runbooks)} (see `signer-tui runbook "
                    "list`)",
                )
            ]
        )

    def for_finding(self, finding_id: str) -> Runbook | None:
        """The runbook whose `handles` names this finding most specifically."""
        best: tuple[int, str] | None = None
        for name, runbook in self.runbooks.items():
            for handle in runbook.handles:
                matches = finding_id == handle or finding_id.startswith(handle + ".")
                if matches and (best is None or len(handle) > best[0]):
                    best = (len(handle), name)
        return self.runbooks[best[1]] if best else None


def load_catalog(
    user_dir: Path | None, known_actions: Iterable[str], package_dir: Path = PACKAGE_DIR
) -> Catalog:
    """Every runbook: the package's, then the user directory's (which override by name).
    Invalid files are left out and their problems collected."""
    catalog = Catalog()
    actions = list(known_actions)
    dirs = [(package_dir, "package")]
    if user_dir is not None and user_dir.is_dir():
        dirs.append((user_dir, "user"))
    for directory, origin in dirs:
        for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
            try:
                runbook = parse_runbook(path, origin, actions)
            except RunbookError as exc:
                catalog.problems.extend(exc.problems)
                continue
            if runbook.name in catalog.runbooks:
                catalog.overrides[runbook.name] = catalog.runbooks[runbook.name].path
            catalog.runbooks[runbook.name] = runbook
    return catalog
