"""Run the console (or the mock) with an event-loop lag probe and a GC pause recorder.

    python bench/probe.py OUT.json app ARGS...     # signer-tui ARGS (through its entry point)
    python bench/probe.py OUT.json mock [PANES_ROWS]

The probe is a callback re-armed every 10 ms on the App's own loop: how late it runs is how
long the loop was blocked. Every lag over 5 ms and every garbage collection (generation and
duration, from `gc.callbacks`) is kept with its `time.monotonic()` stamp, which on Linux is
the same clock in every process, so the runner can cut out the windows it measures. A
daemon thread writes OUT.json every second (the loop does no file I/O for the probe).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PERIOD = 0.010
KEEP_OVER = 0.005

stats: dict[str, Any] = {"pid": os.getpid(), "lags": [], "gcs": [], "started": time.monotonic()}
_gc_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
        return
    took = time.perf_counter() - _gc_started[0]
    stats["gcs"].append((time.monotonic(), info.get("generation", -1), took))


def _start_probe(loop: asyncio.AbstractEventLoop) -> None:
    expected = [loop.time() + PERIOD]

    def tick() -> None:
        now = loop.time()
        late = now - expected[0]
        if late > KEEP_OVER:
            stats["lags"].append((time.monotonic(), late))
        expected[0] = now + PERIOD
        loop.call_later(PERIOD, tick)

    loop.call_later(PERIOD, tick)


def _writer(out: Path) -> None:
    while True:
        time.sleep(1.0)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats))
        os.replace(tmp, out)


def main() -> int:
    out = Path(sys.argv[1])
    which = sys.argv[2]
    rest = sys.argv[3:]
    gc.callbacks.append(_on_gc)
    # BENCH_PATCH="module:NAME=VALUE,…" switches a cause off at run time (e.g. a constant).
    for item in filter(None, os.environ.get("BENCH_PATCH", "").split(",")):
        target, value = item.split("=", 1)
        module, name = target.split(":")
        setattr(__import__(module, fromlist=["_"]), name, json.loads(value))
    threading.Thread(target=_writer, args=(out,), daemon=True).start()
    from textual.app import App

    real = App.run_async

    async def run_async(self: App[Any], *args: Any, **kwargs: Any) -> Any:
        _start_probe(asyncio.get_running_loop())
        return await real(self, *args, **kwargs)

    App.run_async = run_async  # type: ignore[method-assign]
    if which == "mock":
        from bench.mock_app import MockApp

        MockApp(int(rest[0]) if rest else 6).run()
        return 0
    from signer_tui.entry import main as entry_main

    return entry_main(rest)


if __name__ == "__main__":
    raise SystemExit(main())
