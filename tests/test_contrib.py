"""contrib/: the Prometheus rules (real promtool), the Alertmanager route, the systemd units."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from signer_tui.model import Finding, Status
from signer_tui.pipeline.collector import Snapshot
from signer_tui.present import promfile

REPO = Path(__file__).resolve().parent.parent
PROM = REPO / "contrib" / "prometheus"
SYSTEMD = REPO / "contrib" / "systemd"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return found


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_check_rules() -> None:
    result = run(tool("promtool", "prometheus"), "check", "rules", "signer-tui.rules.yml", cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_promtool_unit_tests_cover_every_alert() -> None:
    result = run(
        tool("promtool", "prometheus"), "test", "rules", "signer-tui.rules.test.yml", cwd=PROM
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROM / "signer-tui.rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((PROM / "signer-tui.rules.test.yml").read_text())
    fired = {
        case["alertname"]
        for t in tests["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert fired == alerts  # each alert has a test in which it fires
    for rule in (r for g in rules["groups"] for r in g["rules"]):
        assert rule.get("for"), f"{rule['alert']} has no for: duration"


def test_rules_use_only_metrics_the_textfile_has() -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    finding = Finding("key.node", Status.OK, "ok", profile="main", observed_at=now)
    written = promfile.render([Snapshot("main", now, {}, [finding])], now)
    text = (PROM / "signer-tui.rules.yml").read_text()
    used = set(re.findall(r"\bsigner_tui_[a-z_]+", text))
    assert {"signer_tui_finding_status", "signer_tui_last_run_timestamp_seconds"} <= used
    for name in used:
        assert re.search(rf"^{name}[{{ ]", written, re.M), f"{name} is not in the textfile"


def test_alertmanager_route() -> None:
    config = yaml.safe_load((PROM / "alertmanager-route.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}

    def walk(route: dict[str, object]) -> None:
        assert route.get("receiver", "default") in receivers
        for child in route.get("routes", []):  # type: ignore[attr-defined]
            walk(child)

    walk(config["route"])
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian package prometheus-alertmanager)")
    result = run(amtool, "check-config", "alertmanager-route.yml", cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze", "systemd")
    # verify insists that ExecStart exists: point it at this environment's signer-tui.
    binary = shutil.which("signer-tui") or str(Path(sys.executable).parent / "signer-tui")
    if not Path(binary).exists():
        pytest.skip("the signer-tui console script is not installed (pip install -e .)")
    service = (SYSTEMD / "signer-tui-check.service").read_text()
    assert "ExecStart=/usr/local/bin/signer-tui check " in service
    (tmp_path / "signer-tui-check.service").write_text(
        service.replace("/usr/local/bin/signer-tui", binary)
    )
    shutil.copy(SYSTEMD / "signer-tui-check.timer", tmp_path)
    result = run(
        analyze, "verify", "./signer-tui-check.service", "./signer-tui-check.timer", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys are only warned about


def test_systemd_service_runs_the_real_check_arguments() -> None:
    """The ExecStart line parses with the real CLI (a typo there would only show at 3 a.m.)."""
    from signer_tui.cli import build_parser

    service = (SYSTEMD / "signer-tui-check.service").read_text()
    line = next(x for x in service.splitlines() if x.startswith("ExecStart="))
    argv = line.split()[1:]
    args = build_parser().parse_args(argv)
    assert args.command == "check" and args.quiet and args.prometheus
