"""Helpers for the host-reader tests: fake commands and a fake /proc."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

PROC_TCP_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    "   uid  timeout inode\n"
)


def fake_tool(tmp: Path, name: str, stdout: str = "", rc: int = 0, stderr: str = "") -> tuple[str]:
    """An executable that prints fixed output and exits with `rc`, as a command tuple."""
    path = tmp / "bin" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    out = tmp / "bin" / f"{name}.out"
    err = tmp / "bin" / f"{name}.err"
    out.write_text(stdout)
    err.write_text(stderr)
    path.write_text(
        f"#!/bin/sh\ncat {shlex.quote(str(out))}\ncat {shlex.quote(str(err))} >&2\nexit {rc}\n"
    )
    path.chmod(0o755)
    return (str(path),)


def missing_tool(tmp: Path, name: str) -> tuple[str]:
    return (str(tmp / "nowhere" / name),)


def tcp_row(n: int, local: str, remote: str, state: str, uid: int, inode: int) -> str:
    return (
        f"   {n}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000"
        f"   {uid}        0 {inode} 1 0000000000000000 100 0 0 10 0\n"
    )


def fake_proc(tmp: Path, net: dict[str, str], processes: dict[int, tuple[str, list[int]]]) -> Path:
    """A /proc with net/<file> contents and PIDs {pid: (comm, [socket inodes])}."""
    proc = tmp / "proc"
    (proc / "net").mkdir(parents=True)
    for name, text in net.items():
        (proc / "net" / name).write_text(text)
    for pid, (comm, inodes) in processes.items():
        fd = proc / str(pid) / "fd"
        fd.mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        (proc / str(pid) / "cmdline").write_bytes(f"/usr/bin/{comm}\0--flag\0".encode())
        for i, inode in enumerate(inodes):
            os.symlink(f"socket:[{inode}]", fd / str(i + 3))
        os.symlink("/dev/null", fd / "0")
    return proc
