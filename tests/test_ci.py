"""The CI entry point fails when it should: the demo smoke check and the final test command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / ".ci" / "smoke-demo"


def report(status: str, names: tuple[str, ...] = ("mainnet", "testnet")) -> str:
    return json.dumps(
        {"status": status, "profiles": [{"name": n, "status": status} for n in names]}
    )


def fake_signer_tui(tmp_path: Path, stdout: str, code: int, stderr: str = "") -> Path:
    """An executable that answers `demo --once --json` like a built package would."""
    (tmp_path / "stdout").write_text(stdout)
    (tmp_path / "stderr").write_text(stderr)
    exe = tmp_path / "signer-tui"
    exe.write_text(
        "#!/bin/sh\n"
        '[ "$*" = "demo --once --json" ] || { echo "bad args: $*" >&2; exit 2; }\n'
        f"cat {tmp_path / 'stdout'}\ncat {tmp_path / 'stderr'} >&2\nexit {code}\n"
    )
    exe.chmod(0o755)
    return exe


def smoke(exe: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SMOKE), str(exe)], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize(("status", "code"), [("WARN", 1), ("OK", 0)])
def test_a_healthy_demo_passes(tmp_path: Path, status: str, code: int) -> None:
    result = smoke(fake_signer_tui(tmp_path, report(status), code))
    assert result.returncode == 0, result.stderr
    assert f"demo --once: {status} (exit {code})" in result.stdout


@pytest.mark.parametrize(
    ("stdout", "code", "why"),
    [
        (report("CRIT"), 4, "status CRIT"),
        (report("UNKNOWN"), 3, "status UNKNOWN"),
        ("", 2, "Expecting value"),  # a usage error prints no report
        ("", 1, "Expecting value"),  # a traceback exits 1 without a report
        (report("WARN"), 139, "exit 139 with status WARN"),  # killed by a signal
        (report("WARN"), 0, "exit 0 with status WARN"),  # the code does not match the report
        (report("WARN", ("mainnet",)), 1, "profiles ['mainnet']"),
    ],
)
def test_a_broken_demo_fails_and_shows_its_output(
    tmp_path: Path, stdout: str, code: int, why: str
) -> None:
    exe = fake_signer_tui(tmp_path, stdout, code, stderr="Traceback: the demo's own words")
    result = smoke(exe)
    assert result.returncode == 1
    assert f"failed (exit {code})" in result.stderr
    assert why in result.stderr
    assert "Traceback: the demo's own words" in result.stderr
    if stdout:
        assert stdout in result.stderr


def test_the_ci_script_stops_at_the_first_failure() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    # Nothing may swallow an exit code: pytest's 5 (no tests collected) must fail the run too.
    assert "|| true" not in script
    assert script.count('\n.ci/smoke-demo "') == 2  # pip venv and uv tool
    last = [line for line in script.splitlines() if line.strip()][-1]
    # ...and exits with the test command's code: it is the last line, chained with &&.
    assert last.endswith("&& python3 -m pytest"), "the test command must be the script's last"


def test_pytest_collecting_nothing_fails_the_run(tmp_path: Path) -> None:
    # The script's own prologue, exit trap and final line, with a python3 whose pytest
    # collects nothing (exit 5): the run must exit 5, not 0.
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    kept = [line for line in lines if line.startswith(("set -", "trap ", "work="))]
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text('#!/bin/sh\n[ "$1 $2" = "-m pytest" ] && exit 5\nexit 0\n')
    (fake / "python3").chmod(0o755)
    script = tmp_path / "run"
    script.write_text("\n".join([*kept, lines[-1]]) + "\n")
    result = subprocess.run(
        ["bash", str(script)],
        cwd=tmp_path,
        env={"PATH": f"{fake}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert [line for line in kept if line.startswith("trap ")], "the exit trap was not found"
    assert result.returncode == 5, result.stderr
