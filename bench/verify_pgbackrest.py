"""Benchmark: `verify-backup` of a pgBackRest set against a raw `pgbackrest restore` + server
start of the same backup, in one run.

    python bench/verify_pgbackrest.py [--size-mb 200] [--rounds 3] [--out bench/pgbackrest.txt]

1. builds a throwaway PostgreSQL 15 cluster with WAL archiving to a local posix pgBackRest
   repository (`tests/backups/realtools.py`, the fixture of the real-tool tests) holding a
   signer-shaped database of about --size-mb, and takes a full backup;
2. **baseline** — what an operator does by hand: `pgbackrest restore --pg1-path=DIR
   --type=immediate --target-action=promote --archive-mode=off`, start a server on it (unix
   socket, random port), wait until it is promoted, stop it, remove DIR;
3. **verify-backup** — `verify_backup()` in-process on a `backups.kind: pgbackrest` profile,
   with the own Stacks node and the independent API simulated on loopback: the inventory
   (`info` + `verify` of the set), the same restore and recovery, the checks on the restored
   signer DB, live row counts, the key comparison, cleanup;
4. after --warmup untimed raw restores (the first restore after the backup meets a cold page
   cache), repeats 2-3 --rounds times, alternating which goes first, prints every timing and
   the ratio of the means (goal <= 1.10) and writes the figure to --out.

Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from signer_tui.config import Backups, ChainApi, Database, Profile, StacksNode  # noqa: E402
from signer_tui.sim.db import build_signer_db  # noqa: E402
from signer_tui.sim.hiro import HiroApiSim  # noqa: E402
from signer_tui.sim.server import SimServer  # noqa: E402
from signer_tui.sim.stacks import StacksNodeSim  # noqa: E402
from signer_tui.sim.state import SimState  # noqa: E402
from signer_tui.verify.run import VerifyRequest, verify_backup  # noqa: E402
from tests.backups.realtools import (  # noqa: E402
    DBNAME,
    PG_BIN,
    STANZA,
    ArchivedCluster,
    make_base,
    run,
)

BYTES_PER_ROW = 320


def baseline(cluster: ArchivedCluster, work: Path) -> dict[str, float]:
    started = time.monotonic()
    target = work / "baseline-data"
    sock = work / "baseline-sock"
    run(["mkdir", "-m", "700", str(target), str(sock)])
    cluster.pgbackrest(
        f"--pg1-path={target}",
        "--type=immediate",
        "--target-action=promote",
        "--archive-mode=off",
        "restore",
    )
    restored = time.monotonic()
    port = cluster.port + 1
    options = (
        f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p {port} "
        "-c archive_mode=off -c fsync=off"
    )
    run(
        [
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(target),
            "-l",
            str(work / "baseline.log"),
            "-o",
            options,
            "-w",
            "-t",
            "300",
            "start",
        ]
    )
    while True:
        with psycopg.connect(f"host={sock} port={port} user=postgres dbname=postgres") as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if row is not None and row[0] is False:
            break
        time.sleep(0.1)
    promoted = time.monotonic()
    run([str(PG_BIN / "pg_ctl"), "-D", str(target), "-m", "immediate", "-w", "stop"])
    run(["rm", "-rf", str(target), str(sock)])
    done = time.monotonic()
    return {
        "restore": restored - started,
        "recovery": promoted - restored,
        "cleanup": done - promoted,
        "total": done - started,
    }


def verify(profile: Profile, work: Path) -> tuple[dict[str, float], str]:
    started = time.monotonic()
    outcome = verify_backup(VerifyRequest(profile=profile, record_history=False, work_dir=work))
    timings = dict(outcome.timings)
    timings["total"] = time.monotonic() - started
    return timings, f"{outcome.verdict}: {outcome.summary}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed raw restores first (page cache, WAL)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "pgbackrest.txt")
    args = parser.parse_args()

    base = make_base("signer-tui-bench-bk-")
    cluster = ArchivedCluster(base)
    state = SimState()
    node = SimServer(StacksNodeSim(state)).start()
    api = SimServer(HiroApiSim(state)).start()
    try:
        cluster.create()
        rows = max(10_000, int(args.size_mb * 1024**2 / BYTES_PER_ROW))
        build_signer_db(cluster.conninfo(), DBNAME, state, stacks_blocks=rows)
        size = int(cluster.psql("SELECT pg_database_size(current_database())"))
        cluster.pgbackrest("stanza-create")
        began = time.monotonic()
        # Building the DB left a WAL backlog for the archiver: give it time to catch up.
        cluster.pgbackrest("--type=full", "--archive-timeout=1800", "backup")
        backup_s = time.monotonic() - began
        profile = Profile(
            name="bench",
            network="mainnet",
            stacks=StacksNode(rpc_url=node.url, timeout=5),
            chain_api=ChainApi(url=api.url, timeout=5),
            db=Database(
                host=str(cluster.sock),
                port=cluster.port,
                dbname=DBNAME,
                user="postgres",
                sslmode="disable",
            ),
            backups=Backups(kind="pgbackrest", stanza=STANZA, command=cluster.pgbackrest_command()),
        )
        work = Path(tempfile.mkdtemp(prefix="work-", dir=base))
        work.chmod(0o755)
        if _root():
            shutil.chown(work, "postgres", "postgres")
        base_t: list[float] = []
        verify_t: list[float] = []
        lines = [
            f"source DB {size / 1024**2:.0f} MiB ({rows} stacks_blocks rows); "
            f"pgbackrest full backup {backup_s:.1f} s"
        ]
        for _ in range(args.warmup):
            baseline(cluster, work)
        for index in range(args.rounds):
            order = ("baseline", "verify") if index % 2 == 0 else ("verify", "baseline")
            for which in order:
                if which == "baseline":
                    timings = baseline(cluster, work)
                    base_t.append(timings["total"])
                    lines.append(f"round {index + 1} baseline: {_fmt(timings)}")
                else:
                    timings, verdict = verify(profile, work)
                    verify_t.append(timings["total"])
                    lines.append(f"round {index + 1} verify-backup: {_fmt(timings)} — {verdict}")
                print(lines[-1], flush=True)
        ratio = statistics.mean(verify_t) / statistics.mean(base_t)
        lines.append(
            f"mean baseline {statistics.mean(base_t):.2f} s, verify-backup "
            f"{statistics.mean(verify_t):.2f} s: ratio {ratio:.2f} (goal <= 1.10)"
        )
        print(lines[-1])
        args.out.write_text("\n".join(lines) + "\n")
        (args.out.with_suffix(".json")).write_text(
            json.dumps(
                {
                    "baseline_s": base_t,
                    "verify_s": verify_t,
                    "ratio": round(ratio, 3),
                    "size_bytes": size,
                },
                indent=2,
            )
            + "\n"
        )
        return 0
    finally:
        state.stopping.set()
        node.stop()
        api.stop()
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _root() -> bool:
    import os

    return os.geteuid() == 0


def _fmt(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())


if __name__ == "__main__":
    raise SystemExit(main())
