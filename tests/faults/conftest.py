"""The fault matrix prints its size and every cell's verdict at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

# Filled by tests/faults/test_matrix.py: (cell id, verdict, seconds, note).
MATRIX_RESULTS: list[tuple[str, str, float, str]] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MATRIX_RESULTS:
        return
    rows = sorted(MATRIX_RESULTS)
    passed = sum(1 for _, verdict, _, _ in rows if verdict == "pass")
    terminalreporter.section("fault matrix")
    terminalreporter.write_line(f"{len(rows)} cells, {passed} pass, {len(rows) - passed} fail")
    for cell, verdict, seconds, note in rows:
        terminalreporter.write_line(f"  {verdict:<4}  {cell:<28} {seconds:5.1f}s  {note}")


@pytest.fixture
def matrix_results() -> list[tuple[str, str, float, str]]:
    return MATRIX_RESULTS
