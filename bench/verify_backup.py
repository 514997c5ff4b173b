"""Benchmark: `verify-backup` against a raw `pg_restore -j N` of the same ~1 GB signer dump.

    python bench/verify_backup.py [--size-gb 1] [--jobs N] [--rounds 2] [--keep DIR]

1. builds a signer-shaped database of about --size-gb (mostly `stacks_blocks`, generated in
   SQL with generate_series; ~320 bytes per row with its indexes) in a scratch cluster that
   then plays the live DB;
2. dumps it with pg_dump (custom format);
3. times the baseline: a fresh scratch cluster, `pg_restore -j N` into it, stop — what an
   operator would do by hand;
4. times `verify_backup()` in-process, with the Stacks node and the independent API simulated
   on loopback (so the full path runs: identify, sha256, restore, checks, live row counts, key
   comparison);
5. repeats 3-4 for --rounds pairs (alternating which goes first) and prints the times, the
   ratio of the means (target <= 1.10) and peak memory.

It is not a test: nothing asserts; the figures go into bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from signer_tui.config import ChainApi, Database, Profile, StacksNode  # noqa: E402
from signer_tui.pgdump.installs import pick_install  # noqa: E402
from signer_tui.sim.db import build_signer_db  # noqa: E402
from signer_tui.sim.hiro import HiroApiSim  # noqa: E402
from signer_tui.sim.server import SimServer  # noqa: E402
from signer_tui.sim.stacks import StacksNodeSim  # noqa: E402
from signer_tui.sim.state import SimState  # noqa: E402
from signer_tui.verify.cluster import ScratchCluster  # noqa: E402
from signer_tui.verify.restore import client_env, create_database  # noqa: E402
from signer_tui.verify.run import VerifyRequest, default_jobs, verify_backup  # noqa: E402

BYTES_PER_ROW = 320  # stacks_blocks heap + its three indexes (facts §1.5)
SOURCE_DB = "signer"


class PeakRss:
    """Samples the resident memory of this process and of its child processes (pg_restore and
    its parallel workers). The scratch server is excluded: pg_ctl detaches it, and it is the
    same server in the baseline."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.self_peak = 0
        self.children_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(self.interval):
            self.self_peak = max(self.self_peak, _rss(me))
            self.children_peak = max(self.children_peak, sum(_rss(p) for p in _descendants(me)))


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found.extend(children)
        frontier.extend(children)
    return found


def mib(size: float) -> str:
    return f"{size / 1024 / 1024:,.0f} MiB"


def build_source(cluster: ScratchCluster, size_gb: float) -> tuple[SimState, int, int]:
    rows = max(10_000, int(size_gb * 1024**3 / BYTES_PER_ROW))
    state = SimState()
    build_signer_db(cluster.conninfo(), SOURCE_DB, state, stacks_blocks=rows)
    with psycopg.connect(cluster.conninfo(SOURCE_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return state, rows, int(row[0])


def dump(cluster: ScratchCluster, target: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(cluster.tool("pg_dump")), "-Fc", "-f", str(target), SOURCE_DB],
        env=client_env(cluster, SOURCE_DB),
        check=True,
        timeout=3600,
    )
    return time.monotonic() - started


def baseline(dump_path: Path, jobs: int, work: Path) -> dict[str, float]:
    """What an operator does by hand: fresh cluster, pg_restore -j N, stop."""
    started = time.monotonic()
    cluster = ScratchCluster(pick_install(), base_dir=work, prefix="bench-baseline-")
    try:
        cluster.start()
        ready = time.monotonic()
        create_database(cluster, "restored")
        subprocess.run(
            [
                str(cluster.tool("pg_restore")),
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                "--jobs",
                str(jobs),
                "--dbname",
                "restored",
                str(dump_path),
            ],
            env=client_env(cluster, "restored"),
            check=True,
            timeout=3600,
        )
        restored = time.monotonic()
    finally:
        cluster.stop()
    done = time.monotonic()
    return {
        "cluster start": ready - started,
        "pg_restore": restored - ready,
        "cluster stop": done - restored,
        "total": done - started,
    }


def verify(
    dump_path: Path, jobs: int, work: Path, state: SimState, live: ScratchCluster
) -> tuple[dict[str, float], str, PeakRss]:
    node = SimServer(StacksNodeSim(state)).start()
    api = SimServer(HiroApiSim(state)).start()
    profile = Profile(
        name="bench",
        network="mainnet",
        stacks=StacksNode(rpc_url=node.url),
        chain_api=ChainApi(url=api.url),
        db=Database(
            host=str(live.socket_dir),
            port=live.port,
            dbname=SOURCE_DB,
            user="postgres",
            sslmode="disable",
            statement_timeout=120,
        ),
    )
    request = VerifyRequest(
        path=dump_path, profile=profile, jobs=jobs, record_history=False, work_dir=work
    )
    try:
        with PeakRss() as peak:
            started = time.monotonic()
            outcome = verify_backup(request)
            total = time.monotonic() - started
    finally:
        state.stopping.set()
        node.stop()
        api.stop()
    timings = dict(outcome.timings)
    timings["total"] = total
    return timings, f"{outcome.verdict}: {outcome.summary}", peak


def _fmt(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="target database size")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="pg_restore jobs")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/verify pairs to time")
    parser.add_argument("--keep", type=Path, help="keep the dump in this directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="signer-tui-bench-"))
    work.chmod(0o755)  # the scratch clusters may run as postgres/nobody when we are root
    install = pick_install()
    print(
        f"PostgreSQL {install.version} ({install.bindir}); {os.cpu_count()} CPUs; "
        f"pg_restore -j {args.jobs}"
    )
    live = ScratchCluster(install, base_dir=work, prefix="bench-live-")
    try:
        live.start()
        started = time.monotonic()
        state, rows, db_bytes = build_source(live, args.size_gb)
        print(
            f"source DB: {rows:,} stacks_blocks rows, {mib(db_bytes)} "
            f"(built in {time.monotonic() - started:.1f} s)"
        )
        dump_path = work / "signer.dump"
        took = dump(live, dump_path)
        print(f"dump (custom): {mib(dump_path.stat().st_size)} in {took:.1f} s")

        with psycopg.connect(live.conninfo(SOURCE_DB), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # no write-back of the build competing with round 1
        os.sync()

        raws: list[dict[str, float]] = []
        verifies: list[dict[str, float]] = []
        peak: PeakRss | None = None
        verdict = ""
        for round_ in range(args.rounds):
            # Alternate the order: whichever runs first pays for a colder cache.
            order = ("baseline", "verify") if round_ % 2 == 0 else ("verify", "baseline")
            for which in order:
                if which == "baseline":
                    raws.append(baseline(dump_path, args.jobs, work))
                    print(f"round {round_ + 1} baseline: " + _fmt(raws[-1]))
                else:
                    timings, verdict, peak = verify(dump_path, args.jobs, work, state, live)
                    verifies.append(timings)
                    print(f"round {round_ + 1} verify-backup: " + _fmt(timings))
        print(f"verdict: {verdict}")
        raw_total = statistics.mean(r["total"] for r in raws)
        raw_restore = statistics.mean(r["pg_restore"] for r in raws)
        verify_total = statistics.mean(v["total"] for v in verifies)
        print(
            f"mean of {args.rounds} round(s): baseline {raw_total:.2f} s "
            f"(pg_restore alone {raw_restore:.2f} s), verify-backup {verify_total:.2f} s"
        )
        print(
            f"ratio verify/baseline (end to end): {verify_total / raw_total:.3f}  (target <= 1.10)"
        )
        print(f"ratio verify/pg_restore alone:      {verify_total / raw_restore:.3f}")
        assert peak is not None
        self_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(
            f"peak memory: verify-backup process {mib(peak.self_peak)} "
            f"(process lifetime max {mib(self_max)}), "
            f"client tools (pg_restore + workers) {mib(peak.children_peak)}"
        )
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(dump_path, args.keep / dump_path.name)
    finally:
        live.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
