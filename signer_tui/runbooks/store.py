"""The shared runs directory: the audit record plus a frozen copy of each run's runbook.

Four eyes only work if the requester and the approver write to the same place, as two
different OS users: a directory owned by the operators' group, group-writable and setgid (so
every new file belongs to the group). The checks here turn a wrong mode or owner into one
line saying how to fix it, before anything is written.

Layout: `audit.jsonl` / `audit.head` / `audit.lock` (see audit.py) and
`runs/<RUN>/<runbook>.yaml`, the runbook as it was when the run started.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from signer_tui.runbooks.audit import FILE_MODE, AuditLog, open_shared

DIR_MODE = 0o2770


class RunsDirError(Exception):
    """The shared directory is missing, unreadable or unsafe (one line, exit 2)."""


def _me() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@dataclass
class RunsDir:
    path: Path
    group: str | None = None

    def __post_init__(self) -> None:
        # One log object per directory: its lock is re-entrant only within that object.
        self.audit = AuditLog(self.path)

    def check(self, *, write: bool) -> RunsDir:
        """Raise RunsDirError unless the directory is usable (and safe) for this user."""
        path = self.path
        fix = f"install -d -m 2770 -g {self.group or 'OPERATORS'} {path}"
        if not path.exists():
            if not write:
                raise RunsDirError(f"no runs directory {path} yet (nothing has been recorded)")
            self._create(fix)
        try:
            info = path.stat()
        except OSError as exc:
            raise RunsDirError(f"cannot read the runs directory {path}: {exc.strerror}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise RunsDirError(f"{path} is not a directory (runbooks.runs_dir in the config)")
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            raise RunsDirError(
                f"{path} is world-writable: anyone could rewrite the run record; "
                f"fix with: chmod 2770 {path}"
            )
        if self.group is not None:
            self._check_group(info, fix)
        elif write and info.st_mode & stat.S_IWGRP and not info.st_mode & stat.S_ISGID:
            # Shared by a group, but new files would get each writer's own primary group:
            # the next operator could not append to the record.
            raise RunsDirError(
                f"{path} is group-writable but not setgid, so new files would not belong to "
                f"group {_group_name(info.st_gid)}: chmod g+s {path}"
            )
        need = os.R_OK | os.X_OK | (os.W_OK if write else 0)
        if not os.access(path, need):
            what = "writable" if write else "readable"
            raise RunsDirError(
                f"{path} is not {what} by {_me()} (owner {_group_name(info.st_gid)} group, mode "
                f"{stat.S_IMODE(info.st_mode):o}): add {_me()} to that group, or: {fix}"
            )
        log = self.audit.path
        if write and log.exists() and not os.access(log, os.W_OK):
            raise RunsDirError(
                f"{log} is not writable by {_me()}: chmod 660 {log} and chgrp it to the "
                "operators' group"
            )
        return self

    def _create(self, fix: str) -> None:
        try:
            self.path.mkdir(parents=True, mode=DIR_MODE)
            os.chmod(self.path, DIR_MODE)  # mkdir's mode is cut by the umask
            if self.group is not None:
                os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
        except KeyError:
            raise RunsDirError(f"no group '{self.group}' (runbooks.group in the config)") from None
        except OSError as exc:
            raise RunsDirError(
                f"cannot create the runs directory {self.path}: {exc.strerror}; ask an admin: {fix}"
            ) from None

    def _check_group(self, info: os.stat_result, fix: str) -> None:
        try:
            gid = grp.getgrnam(self.group or "").gr_gid
        except KeyError:
            raise RunsDirError(f"no group '{self.group}' (runbooks.group in the config)") from None
        mode = stat.S_IMODE(info.st_mode)
        if info.st_gid != gid:
            raise RunsDirError(
                f"{self.path} belongs to group {_group_name(info.st_gid)}, not {self.group}: "
                f"chgrp {self.group} {self.path} && chmod 2770 {self.path}"
            )
        if mode & 0o070 != 0o070 or not mode & stat.S_ISGID:
            raise RunsDirError(
                f"{self.path} has mode {mode:o}: the group {self.group} must read, write and "
                f"own new files (setgid): chmod 2770 {self.path}"
            )
        del fix

    # -- frozen runbook copies ---------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.path / "runs" / run_id

    def save_snapshot(self, run_id: str, name: str, source: str) -> Path:
        directory = self.run_dir(run_id)
        for part in (directory.parent, directory):
            with contextlib.suppress(FileExistsError):
                part.mkdir(mode=DIR_MODE)
                with contextlib.suppress(OSError):
                    os.chmod(part, DIR_MODE)
        target = directory / f"{name}.yaml"
        fd = open_shared(target, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, source.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.chmod(target, FILE_MODE & 0o640)  # nobody edits a started run's runbook
        return target

    def snapshot_path(self, run_id: str, name: str) -> Path:
        return self.run_dir(run_id) / f"{name}.yaml"
