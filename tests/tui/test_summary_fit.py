"""Every summary the checks produce keeps its first verdict word in the 80x24 pane column.

The summaries come from the checks' own test cases: tests/checks runs in a child pytest with
a plugin that records every Finding built, so a new check or case is covered without listing
it here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from signer_tui import format as fmt
from signer_tui.ui.widgets.pane import NARROW_SUMMARY_WIDTH

ROOT = Path(__file__).resolve().parents[2]


def test_narrow_column_width_is_what_an_80_column_pane_leaves() -> None:
    # 40 cells per pane, less border (2), scrollbar (1) and the status column (8).
    assert NARROW_SUMMARY_WIDTH == 29


def collected_summaries(tmp_path: Path) -> dict[str, list[str]]:
    out = tmp_path / "summaries.json"
    env = {**os.environ, "SUMMARY_FIT_OUT": str(out)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/checks",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.tui.summary_plugin",
            "--ignore=tests/checks/test_posture_real_host.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    data: dict[str, list[str]] = json.loads(out.read_text())
    return data


def test_every_check_summary_keeps_its_verdict_at_80x24(tmp_path: Path) -> None:
    summaries = collected_summaries(tmp_path)
    # Sanity: the child run really saw the checks (ids of every area, hundreds of texts).
    assert {s.split(".", 1)[0] for s in summaries} >= {"backup", "key", "node", "release"}
    assert sum(len(v) for v in summaries.values()) > 300
    width = NARROW_SUMMARY_WIDTH
    lost = []
    for key, texts in summaries.items():
        status = key.rsplit(" ", 1)[1]
        if status == "OK":
            continue  # the status word is the verdict; the detail line has the rest
        for summary in texts:
            shown = fmt.fit(summary, width)
            assert len(shown) <= width
            if shown == summary:
                continue
            found = fmt.first_verdict(summary)
            visible = shown.removesuffix("…")
            if found is None or found[1] > len(visible):
                lost.append(f"{key}: {summary!r} shows {shown!r}")
    assert not lost, "\n".join(lost)


def test_fit_cuts_at_a_word() -> None:
    assert fmt.fit("connection refused: signer metrics", 29) == "connection refused: signer…"
    assert fmt.fit("short", 29) == "short"
    assert fmt.fit("x" * 40, 10) == "x" * 9 + "…"
