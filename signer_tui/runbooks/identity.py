"""Who is at the keyboard: the OS account, never a name typed into a box.

`person` is the effective OS user, except for root reached through sudo, where it is
`SUDO_USER` (the human behind the shared account). For any other account `SUDO_USER` is an
ordinary, forgeable environment variable, so it is recorded and used only to *exclude*: a
person counts as everyone named in `names`, which makes a forged variable block an approval,
never add one. `SSH_CONNECTION` records where the session came from.
"""

from __future__ import annotations

import os
import pwd
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identity:
    user: str  # effective OS user
    uid: int
    sudo_user: str | None
    ssh_from: str | None  # client address of the SSH session
    host: str

    @property
    def person(self) -> str:
        if self.uid == 0 and self.sudo_user:
            return self.sudo_user
        return self.user

    @property
    def names(self) -> frozenset[str]:
        """Every account this session may stand for (for the four-eyes exclusions)."""
        return frozenset(n for n in (self.user, self.sudo_user) if n)

    def display(self) -> str:
        text = self.person
        if self.person != self.user:
            text += f" (as {self.user})"
        elif self.sudo_user and self.sudo_user != self.user:
            text += f" (sudo from {self.sudo_user})"
        if self.ssh_from:
            text += f" via ssh from {self.ssh_from}"
        return f"{text} on {self.host}"

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "uid": self.uid,
            "sudo_user": self.sudo_user,
            "ssh_from": self.ssh_from,
            "host": self.host,
            "person": self.person,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Identity:
        return Identity(
            str(data.get("user", "?")),
            int(data.get("uid", -1)),
            data.get("sudo_user") or None,
            data.get("ssh_from") or None,
            str(data.get("host", "?")),
        )


def current_identity(environ: Mapping[str, str] | None = None) -> Identity:
    env = os.environ if environ is None else environ
    uid = os.geteuid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid-{uid}"
    ssh = env.get("SSH_CONNECTION", "").split()
    return Identity(
        user=user,
        uid=uid,
        sudo_user=env.get("SUDO_USER") or None,
        ssh_from=ssh[0] if ssh else None,
        host=socket.gethostname(),
    )
