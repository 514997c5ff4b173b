"""Nagios/Icinga plugin output: status line, perfdata, long output, exit codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from signer_tui.model import Evidence, Finding, Status
from signer_tui.pipeline.collector import Snapshot
from signer_tui.present import nagios

NOW = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
# label=value[UOM];[warn];[crit];[min];[max], labels quoted when they contain spaces.
PERFDATA = re.compile(r"^('[^'=]+'|[^'= ]+)=-?\d+(\.\d+)?(s|%|B|KB|MB|TB|c)?(;[^; ]*){0,4}$")


def f(fid: str, status: Status, summary: str = "", age: float = 10, **kw: object) -> Finding:
    evidence = (Evidence("x", "GET /", NOW - timedelta(seconds=age)),)
    return Finding(fid, status, summary or f"{fid} is {status.value}", evidence=evidence, **kw)  # type: ignore[arg-type]


def snap(*findings: Finding, profile: str = "mainnet") -> Snapshot:
    from dataclasses import replace

    return Snapshot(profile, NOW, {}, [replace(x, profile=profile) for x in findings])


def parse(output: str) -> tuple[str, list[str], list[str]]:
    lines = output.rstrip("\n").split("\n")
    text, _, perf = lines[0].partition(" | ")
    return text, perf.split(), lines[1:]


@pytest.mark.parametrize(
    ("statuses", "word", "code"),
    [
        ((Status.OK, Status.OK), "OK", 0),
        ((Status.OK, Status.WARN), "WARNING", 1),
        ((Status.WARN, Status.CRIT, Status.UNKNOWN), "CRITICAL", 2),
        ((Status.WARN, Status.UNKNOWN), "UNKNOWN", 3),  # UNKNOWN outranks WARN, as elsewhere
    ],
)
def test_each_status_maps_to_its_word_and_exit_code(
    statuses: tuple[Status, ...], word: str, code: int
) -> None:
    findings = [f(f"area.check{i}", s) for i, s in enumerate(statuses)]
    output, exit_code = nagios.render([snap(*findings)], NOW)
    text, perf, long_lines = parse(output)
    assert exit_code == code
    assert text.startswith(f"SIGNER-TUI {word} - ")
    assert all(PERFDATA.match(p) for p in perf), perf
    counts = dict(p.split("=", 1) for p in perf)
    assert counts["findings"].split(";")[0] == str(len(statuses))
    assert counts["critical"].split(";")[0] == str(statuses.count(Status.CRIT))
    assert len([line for line in long_lines if line.startswith("[")]) == len(statuses)


def test_ok_line_and_problem_line_name_what_matters() -> None:
    ok, code = nagios.render(
        [snap(f("key.node", Status.OK), f("backup.freshness", Status.OK))], NOW
    )
    assert code == 0 and parse(ok)[0] == "SIGNER-TUI OK - all 2 checks OK (mainnet)"
    crit = f("key.node", Status.CRIT, "MISMATCH between chain and DB", advice="Stop the signer.")
    warn = f("posture.clock", Status.WARN, "the clock is not synchronised")
    output, code = nagios.render([snap(warn, crit, f("node.x", Status.OK))], NOW)
    text, _, long_lines = parse(output)
    assert code == 2
    assert text == (
        "SIGNER-TUI CRITICAL - 1 critical, 1 warning of 3 checks: key.node MISMATCH between "
        "chain and DB; posture.clock the clock is not synchronised"
    )
    assert long_lines[0] == "[CRITICAL] mainnet/key.node: MISMATCH between chain and DB"
    assert long_lines[1] == "    advice: Stop the signer."
    assert long_lines[-1] == "[OK] mainnet/node.x: node.x is OK"


def test_several_profiles_are_named_and_only_three_problems_on_the_status_line() -> None:
    a = snap(*(f(f"node.n{i}", Status.WARN) for i in range(5)), profile="mainnet")
    b = snap(f("key.node", Status.OK), profile="testnet")
    text, _, _ = parse(nagios.render([a, b], NOW)[0])
    assert "mainnet/node.n0" in text and "mainnet/node.n3" not in text and text.endswith("; …")


def test_pipes_and_newlines_in_text_cannot_break_the_format() -> None:
    evil = f("node.x", Status.WARN, "a | b\nSIGNER-TUI OK - fake")
    output, _ = nagios.render([snap(evil)], NOW)
    first = output.split("\n")[0]
    assert first.count("|") == 1  # only the perfdata separator
    assert "a / b SIGNER-TUI OK - fake" in output
    assert not any(line.startswith("SIGNER-TUI OK") for line in output.split("\n"))


def test_stale_data_is_unknown_and_said() -> None:
    stale = f("node.stacks.synced", Status.OK, "synced", age=600, stale_after=60.0)
    output, code = nagios.render([snap(stale)], NOW)
    assert code == 3
    assert "[UNKNOWN] mainnet/node.stacks.synced: synced (stale data)" in output
    assert "oldest_data=600s;;;0" in output


def test_no_findings_is_unknown() -> None:
    output, code = nagios.render([], NOW)
    assert code == 3 and output == "SIGNER-TUI UNKNOWN - no findings: nothing was checked\n"


def test_failure_output() -> None:
    out = nagios.failure("configuration error: x.yaml:3: bad", ["second problem"])
    assert out == "SIGNER-TUI UNKNOWN - configuration error: x.yaml:3: bad\nsecond problem\n"
