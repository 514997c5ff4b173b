"""Benchmark runner for issue 16: the console beside a minimal 4-pane Textual "mock", one run.

    python bench/run.py [--rounds 3] [--idle 60] [--verify-gb 0.1] [--skip-verify]

Starts the simulated stack once (`signer_tui.demo.DemoStack`: two signers' simulators, a
throwaway PostgreSQL with their databases, two weeks of dumps, the release feeds), writes a
2-profile and a 50-profile config against it (default poll intervals; 50 = 25 copies of each
signer), then measures in tmux at 80x24 (`bench/probe.py` adds a loop-lag probe and GC timing):

* first paint (launch → the top bar and pane titles on screen) and launch → all four panes
  populated (no "waiting for the first poll" row), app and mock interleaved, `--rounds` each;
* RSS after first paint and at the end of the long run; idle CPU and bytes written to the
  terminal (tmux pipe-pane) over `--idle` seconds after the panes are populated; the longest
  event-loop stall and full (gen 2) GC pauses in that window; key → screen latency (open and
  close the timeline, t / Escape);
* `signer-tui --version` against `python -c pass`, `check --json` wall time, and
  `bench/verify_backup.py` at `--verify-gb` (verify-backup vs raw pg_restore + cluster start).

Prints a Markdown table and writes bench/results/latest.md and latest.json. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
PY = sys.executable
WAITING = "waiting for"
SESSION = "signer-tui-bench"


# -- tmux ---------------------------------------------------------------------------------


def tmux(*args: str) -> str:
    done = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False)
    return done.stdout


def screen(escapes: bool = False) -> str:
    return tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", SESSION)


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return cpu, rss


class Run:
    """One launch of the app or the mock in a fresh tmux session at 80x24."""

    def __init__(self, which: str, args: list[str], env: dict[str, str], work: Path) -> None:
        self.which = which
        self.work = work
        self.probe = work / f"probe-{which}-{time.monotonic_ns()}.json"
        self.bytes_log = work / f"bytes-{time.monotonic_ns()}.log"
        command = [PY, str(REPO / "bench" / "probe.py"), str(self.probe), which, *args]
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        tmux("kill-session", "-t", SESSION)
        self.launched = time.monotonic()
        tmux(
            "new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24",
            f"exec env {exports} {shlex.join(command)}",
        )  # fmt: skip
        tmux("pipe-pane", "-o", "-t", SESSION, f"cat >> {shlex.quote(str(self.bytes_log))}")
        self.pid = int(tmux("display", "-p", "-t", SESSION, "#{pane_pid}").strip() or 0)
        self.first_paint: float | None = None
        self.populated: float | None = None
        self.rss_first_paint = 0

    def wait(self, ready: Callable[[str], bool], timeout: float = 120.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(screen()):
                return time.monotonic() - self.launched
            time.sleep(0.02)
        raise RuntimeError(f"{self.which}: screen not ready after {timeout:g} s:\n{screen()}")

    def wait_first_paint(self) -> float:
        self.first_paint = self.wait(lambda s: "Backups" in s and "Releases" in s)
        self.rss_first_paint = proc_stat(self.pid)[1]
        return self.first_paint

    def wait_populated(self) -> float:
        self.populated = self.wait(lambda s: "Backups" in s and WAITING not in s)
        return self.populated

    def probe_data(self) -> dict[str, Any]:
        for _ in range(30):
            with contextlib.suppress(OSError, ValueError):
                data: dict[str, Any] = json.loads(self.probe.read_text())
                return data
            time.sleep(0.2)
        return {"lags": [], "gcs": []}

    def bytes_written(self) -> int:
        try:
            return self.bytes_log.stat().st_size
        except OSError:
            return 0

    def stop(self) -> None:
        tmux("kill-session", "-t", SESSION)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            for _ in range(50):
                os.kill(self.pid, 0)
                time.sleep(0.1)


def idle_window(run: Run, seconds: float) -> dict[str, float]:
    """CPU, bytes to the terminal, the longest loop stall and GC pauses over `seconds`."""
    cpu0, _ = proc_stat(run.pid)
    bytes0 = run.bytes_written()
    start = time.monotonic()
    time.sleep(seconds)
    cpu1, rss = proc_stat(run.pid)
    end = time.monotonic()
    time.sleep(1.2)  # the probe's next write
    data = run.probe_data()
    lags = [lag for t, lag in data["lags"] if start <= t <= end]
    gcs = [(gen, took) for t, gen, took in data["gcs"] if start <= t <= end]
    return {
        "cpu_percent": 100 * (cpu1 - cpu0) / (end - start),
        "bytes_per_minute": (run.bytes_written() - bytes0) * 60 / (end - start),
        "max_stall_ms": 1000 * max(lags, default=0.0),
        "gen2_max_ms": 1000 * max((t for g, t in gcs if g == 2), default=0.0),
        "gen2_count": float(sum(1 for g, _ in gcs if g == 2)),
        "rss_mb": rss / 2**20,
    }


def key_latency(run: Run, presses: int = 6) -> list[float]:
    """Key → screen: `p` switches to the next profile (the app; the two simulated signers
    alternate, so every switch changes the panes) or moves the cursor (`down`, the mock)."""
    out = []
    key = "p" if run.which == "app" else "Down"
    for _ in range(presses):
        before = screen(escapes=True).splitlines()[1:]
        sent = time.monotonic()
        tmux("send-keys", "-t", SESSION, key)
        deadline = sent + 10
        while time.monotonic() < deadline:
            if screen(escapes=True).splitlines()[1:] != before:
                out.append(time.monotonic() - sent)
                break
            time.sleep(0.005)
        time.sleep(0.5)
    return out


# -- the stack and configs ----------------------------------------------------------------


def configs(stack: Any, work: Path) -> dict[int, Path]:
    assert stack.feeds is not None
    releases = stack.feeds.releases_config()
    out = {}
    for count in (2, 50):
        profiles = []
        names = list(stack.envs)
        for index in range(count):
            base = names[index % len(names)]
            name = base if count == 2 else f"{base}-{index:02d}"
            profile = stack.envs[base].profile(
                name, backups={"kind": "pg_dump", "location": str(stack.backups[base])}
            )
            profiles.append(profile)
        path = work / f"config-{count}.yaml"
        path.write_text(yaml.safe_dump({"signers": profiles, "releases": releases}))
        out[count] = path
    return out


def timed(command: list[str], env: dict[str, str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        subprocess.run(command, env=env, capture_output=True, check=False, timeout=120)
        times.append(time.monotonic() - started)
    return times


def verify_ratio(size_gb: float, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [PY, str(REPO / "bench" / "verify_backup.py"), "--size-gb", str(size_gb), "--rounds", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    found = re.search(r"ratio verify/baseline \(end to end\): ([0-9.]+)", done.stdout)
    alone = re.search(r"ratio verify/pg_restore alone:\s+([0-9.]+)", done.stdout)
    return {
        "ratio": float(found.group(1)) if found else None,
        "ratio_restore_alone": float(alone.group(1)) if alone else None,
        "output": done.stdout[-2000:] + done.stderr[-1000:],
    }


# -- the run ------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="launches of each, interleaved")
    parser.add_argument("--idle", type=float, default=60.0, help="idle window, seconds")
    parser.add_argument("--verify-gb", type=float, default=0.1)
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()

    from signer_tui.demo import DemoStack

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="signer-tui-bench-run-"))
    env = {
        "PYTHONPATH": str(REPO),
        "XDG_STATE_HOME": str(work / "state"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "TERM": "xterm-256color",
    }
    full_env = {**os.environ, **env}
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} CPUs", "load_before": os.getloadavg()}
    print("starting the simulated stack…", file=sys.stderr)
    stack = DemoStack.create()
    try:
        paths = configs(stack, work)
        app_args = {n: ["--config", str(p)] for n, p in paths.items()}

        for count in (2, 50):
            print(f"first paint, {count} profiles…", file=sys.stderr)
            paints: dict[str, list[float]] = {"app": [], "mock": []}
            populated: list[float] = []
            rounds = args.rounds if count == 2 else max(2, args.rounds - 1)
            for round_ in range(rounds):
                order = ("mock", "app") if round_ % 2 == 0 else ("app", "mock")
                for which in order:
                    run = Run(which, app_args[count] if which == "app" else [], env, work)
                    try:
                        paints[which].append(run.wait_first_paint())
                        if which == "app":
                            populated.append(run.wait_populated())
                    finally:
                        run.stop()
            results[f"p{count}"] = {
                "first_paint_app": paints["app"],
                "first_paint_mock": paints["mock"],
                "populated_app": populated,
            }

        print("idle windows…", file=sys.stderr)
        mock = Run("mock", [], env, work)
        try:
            mock.wait_first_paint()
            time.sleep(2)
            results["mock_idle"] = idle_window(mock, args.idle)
            results["mock_idle"]["rss_first_paint_mb"] = mock.rss_first_paint / 2**20
            results["mock_keys"] = key_latency(mock, 2)
        finally:
            mock.stop()
        for count in (2, 50):
            run = Run("app", app_args[count], env, work)
            try:
                run.wait_first_paint()
                run.wait_populated()
                time.sleep(5)  # the first polls' stragglers
                idle = idle_window(run, args.idle)
                idle["rss_first_paint_mb"] = run.rss_first_paint / 2**20
                idle["keys"] = key_latency(run)  # type: ignore[assignment]
                idle["minutes_running"] = (time.monotonic() - run.launched) / 60
                results[f"p{count}_idle"] = idle
            finally:
                run.stop()

        print("--version, check --json…", file=sys.stderr)
        results["version"] = timed([PY, "-m", "signer_tui", "--version"], full_env, 5)
        results["python_pass"] = timed([PY, "-c", "pass"], full_env, 5)
        memory = work / "check-memory.json"
        check = [PY, "-m", "signer_tui", "--config", str(paths[2]), "check", "--json"]
        results["check_json"] = timed([*check, "--memory", str(memory)], full_env, 3)
    finally:
        stack.stop()
    if not args.skip_verify:
        print(f"verify-backup at {args.verify_gb} GB…", file=sys.stderr)
        results["verify"] = verify_ratio(args.verify_gb, full_env)
    results["duration_s"] = time.monotonic() - started
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    table = render(results, args)
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(table + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f} x" if b else "-"

    p2, p50 = r["p2"], r["p50"]
    fp2, fm2 = med(p2["first_paint_app"]), med(p2["first_paint_mock"])
    fp50, fm50 = med(p50["first_paint_app"]), med(p50["first_paint_mock"])
    pop2, pop50 = med(p2["populated_app"]), med(p50["populated_app"])
    i2, i50, im = r["p2_idle"], r["p50_idle"], r["mock_idle"]
    ver, pas = med(r["version"]), med(r["python_pass"])
    chk = med(r["check_json"])
    k2 = max(i2["keys"], default=float("nan"))
    k50 = max(i50["keys"], default=float("nan"))
    rss_ratio = i2["rss_first_paint_mb"] / im["rss_first_paint_mb"]

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    rows = [
        ("figure", "signer-tui", "mock", "goal", "verdict"),
        (
            "first paint, tmux 80x24 (median)",
            f"{fp2:.2f} s = {ratio(fp2, fm2)}",
            f"{fm2:.2f} s",
            "≤ 1.3 x",
            met(fp2 <= 1.3 * fm2),
        ),
        (
            "launch → all four panes populated",
            f"{pop2:.2f} s (first paint + {pop2 - fp2:.2f} s)",
            "-",
            "≤ first paint + 0.5 s",
            met(pop2 - fp2 <= 0.5),
        ),
        (
            f"RSS after first paint / after {i2['minutes_running']:.1f} min",
            f"{i2['rss_first_paint_mb']:.0f} MB / {i2['rss_mb']:.0f} MB ({rss_ratio:.2f} x)",
            f"{im['rss_first_paint_mb']:.0f} MB",
            "≤ 1.5 x mock, flat",
            met(rss_ratio <= 1.5),
        ),
        (
            f"idle CPU, default polls, {args.idle:.0f} s",
            f"{i2['cpu_percent']:.2f} %",
            f"{im['cpu_percent']:.2f} %",
            "≤ 0.5 %",
            met(i2["cpu_percent"] <= 0.5),
        ),
        (
            "bytes to the terminal per idle minute",
            f"{i2['bytes_per_minute'] / 1024:.1f} KB",
            f"{im['bytes_per_minute'] / 1024:.1f} KB",
            "≤ 5 KB",
            met(i2["bytes_per_minute"] <= 5 * 1024),
        ),
        (
            "longest event-loop stall (idle window), 2 profiles",
            f"{i2['max_stall_ms']:.0f} ms (gen-2 GC max {i2['gen2_max_ms']:.0f} ms)",
            f"{im['max_stall_ms']:.0f} ms",
            "< 50 ms",
            met(i2["max_stall_ms"] < 50),
        ),
        (
            "key → screen max, 2 profiles",
            f"{1000 * k2:.0f} ms",
            f"{1000 * max(r['mock_keys'], default=float('nan')):.0f} ms",
            "< 100 ms",
            met(k2 < 0.1),
        ),
        (
            "50 profiles: first paint / populated",
            f"{fp50:.2f} s = {ratio(fp50, fm50)} / {pop50:.2f} s",
            f"{fm50:.2f} s",
            "≤ 2 x mock",
            met(fp50 <= 2 * fm50),
        ),
        (
            "50 profiles: idle CPU / longest stall / key → screen max",
            f"{i50['cpu_percent']:.1f} % / {i50['max_stall_ms']:.0f} ms / {1000 * k50:.0f} ms",
            "-",
            "≤ 5 % / < 100 ms / < 100 ms",
            met(i50["cpu_percent"] <= 5 and i50["max_stall_ms"] < 100 and k50 < 0.1),
        ),
        (
            "`signer-tui --version` (median of 5)",
            f"{ver:.3f} s",
            f"`python -c pass` {pas:.3f} s",
            "≤ 0.15 s",
            met(ver <= 0.15),
        ),
        ("`check --json` wall, 2 profiles", f"{chk:.2f} s", "-", "≤ 2 s", met(chk <= 2)),
    ]
    verify = r.get("verify")
    if verify is not None:
        value = verify.get("ratio")
        rows.append(
            (
                f"verify-backup / (pg_restore + cluster start), {args.verify_gb} GB",
                f"{value:.3f}" if value else "failed (see latest.json)",
                "1",
                "≤ 1.05",
                met(bool(value) and value <= 1.05),
            )
        )
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    load = ", ".join(f"{x:.2f}" for x in r["load_before"])
    lines.append("")
    lines.append(
        f"{r['machine']}, load average before the run {load}; {r['finished']}; run took "
        f"{r['duration_s'] / 60:.1f} min; idle window {args.idle:.0f} s; first paint: median "
        f"of {len(r['p2']['first_paint_app'])} (2 profiles) / "
        f"{len(r['p50']['first_paint_app'])} (50) launches, app and mock interleaved."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
