"""`pg_restore --list` (the real tool's reading of an archive's TOC) and tool-output lines."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from signer_tui.model import clean_text
from signer_tui.pgdump.installs import PgInstall

LIST_TIMEOUT = 60.0

# pg_restore --verbose lines that only report progress.
CHATTER = re.compile(
    r"^pg_restore: (?:creating|processing|launching|finished|entering|connecting|executing|"
    r"restoring|implied data-only|dropping|disabling|enabling|setting owner|"
    r"finished main parallel loop|skipping|reducing dependencies|transferring dependency|"
    r"table .* could not be created, will not restore its data)"
)
_ERROR = re.compile(
    r"error:|ERROR:|FATAL:|DETAIL:|HINT:|Command was:|could not|invalid|NOT VALID|"
    r"No such file",
    re.I,
)


@dataclass(frozen=True)
class TocListing:
    """`pg_restore --list`: the summary block as key/value pairs and the entry lines."""

    summary: dict[str, str]
    entries: tuple[str, ...]
    owners: frozenset[str]

    @property
    def data_entries(self) -> int:
        return sum(1 for line in self.entries if " TABLE DATA " in line)


class ListError(Exception):
    """pg_restore --list failed; the message is pg_restore's own last error line."""


def list_archive(install: PgInstall, path: Path, *, timeout: float = LIST_TIMEOUT) -> TocListing:
    """Run `pg_restore --list` (reads only the TOC; cheap)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    try:
        result = subprocess.run(
            [str(install.tool("pg_restore")), "--list", str(path)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ListError(f"pg_restore --list did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise ListError(f"cannot run pg_restore: {exc.strerror}") from None
    if result.returncode != 0:
        raise ListError(last_meaningful(result.stderr.splitlines()) or "pg_restore --list failed")
    return parse_listing(result.stdout)


def parse_listing(text: str) -> TocListing:
    summary: dict[str, str] = {}
    entries: list[str] = []
    owners: set[str] = set()
    for line in text.splitlines():
        if line.startswith(";"):
            body = line[1:].strip()
            if body.startswith("Archive created at "):
                summary["Archive created at"] = body[len("Archive created at ") :]
            elif ":" in body:
                key, _, value = body.partition(":")
                summary[key.strip()] = value.strip()
            continue
        if re.match(r"^\d+; ", line):
            entries.append(line)
            owner = line.rsplit(" ", 1)[-1]
            if owner and owner != "-":
                owners.add(owner)
    return TocListing(summary, tuple(entries), frozenset(owners))


def last_meaningful(lines: Iterable[str], keep: int = 3) -> str:
    """The last lines worth showing of a tool's stderr, joined into one line."""
    chosen = meaningful_lines(lines)[-keep:]
    return " | ".join(chosen)


def meaningful_lines(lines: Iterable[str]) -> list[str]:
    cleaned = [clean_text(line.rstrip(), 300) for line in lines if line.strip()]
    errors = [line for line in cleaned if _ERROR.search(line) and not CHATTER.match(line)]
    if errors:
        return errors
    return [line for line in cleaned if not CHATTER.match(line)]
