"""One vocabulary for every number an operator reads: ages, durations, sizes, versions,
counts and keys. Used by the console and the headless output alike (no Textual here), so
"4m" in a pane is "4m" in `check` and in the timeline export."""

from __future__ import annotations

import re


def age(seconds: float | None) -> str:
    """A compact age for narrow columns: '12s', '4m', '3h', '2d' ('—' when unknown)."""
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def coarse_age(seconds: float | None) -> str:
    """`age` in whole minutes at least ('<1m', '4m', '3h'): for text that stays on screen,
    where a seconds count would repaint it every few seconds without telling anyone more."""
    if seconds is not None and seconds < 60:
        return "<1m"
    return age(seconds)


def ago(seconds: float | None) -> str:
    """'4m ago', 'just now', 'never' — the same units as `age`."""
    if seconds is None:
        return "never"
    if seconds < 1:
        return "just now"
    return f"{age(seconds)} ago"


def duration(seconds: float) -> str:
    """A configured span in its largest whole unit: '90s', '5m', '36h', '2d' (what the
    config's duration parser reads back)."""
    for unit, unit_seconds in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= unit_seconds and seconds % unit_seconds == 0:
            return f"{int(seconds // unit_seconds)}{unit}"
    return f"{seconds:g}s"


def size(n_bytes: float) -> str:
    """Binary sizes with one decimal below 10 units: '512 B', '3.4 KiB', '120 MiB'."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if abs(value) < 10 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def count(n: int, singular: str, plural: str | None = None) -> str:
    """'1 day', '3 days', '1 dump', '0 dumps' — never 'day(s)'."""
    word = singular if n == 1 else (plural or _plural(singular))
    return f"{n:,} {word}"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def number(n: int) -> str:
    """Block heights and counters with thousands separators: '3,832,097'."""
    return f"{n:,}"


_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)(.*)")


def version(text: str) -> str:
    """A release as 'v1.3.4' / 'v30.0' whatever its source wrote ('1.3.4', 'v30.0',
    'Core 30.0.0' keeps its product word)."""
    text = text.strip()
    product, _, rest = text.rpartition(" ")
    found = _VERSION.fullmatch(rest)
    if not found:
        return text
    shown = f"v{found.group(1)}{found.group(2)}"
    return f"{product} {shown}" if product else shown


def key(hex_key: str | bytes | None) -> str:
    """One abbreviation for keys and hashes: the first six and last four hex digits
    ('02487f…a1c3'), so keys differing at either end read differently. 'none' when absent."""
    if hex_key is None:
        return "none"
    text = hex_key.hex() if isinstance(hex_key, bytes) else hex_key.strip()
    if len(text) <= 11:
        return text
    return f"{text[:6]}…{text[-4:]}"


def fit(text: str, width: int) -> str:
    """`text` in `width` cells: whole, or cut at a word boundary with '…' (mid-word only when
    the first word alone is wider than the column)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,:;") + "…"


# Words that carry a verdict in a summary. A summary must show its first one inside the
# narrowest pane column (80x24); tests/tui/test_summary_fit.py holds every check to it.
VERDICT_WORDS = tuple(
    word.strip()
    for line in """
    bad:
    MISMATCH, DISAGREE, DIFFERS, LATE, TOO OLD, FAILED, BAD, stale, refused,
    failed, timed out, unreachable, unavailable, rate limited, behind, unchanged,
    stalled, bad, missing, differs, gap, gaps, smaller, larger, suspicious,
    warning, down, world-readable, readable, listen, publishes, exposed,
    advisory, security, CVE, vulnerable, not, no, cannot, could not, never,
    without, denied, authentication failed, initial, download, transition,
    unverified, volatile, accepts, is on, at its size cap, empty, do not upgrade,
    out, needs, need, nan, none, in the future, slow, near the limit, growing,
    long transaction, no signer connection, pending, set change, another set, split,
    will split, end-of-life, below the minimum, below threshold, more peers than signers,
    bad threshold, running,
    unknown / waiting:
    unknown, inconclusive, watching, waiting, pre-DKG,
    good:
    OK, matches, match, intact, synced, latest, at tip, verified, moved,
    is off, off, only, deny, default deny, answer, kept, synchronised,
    hardware-backed, in sync, stuck, pruned, ahead, warming up, deletes,
    also feeds, listed by anyone, non-hardware, may log in, lists, too old,
    unexpected, too close, remote clients, shipped, expected, nothing to compare,
    plain-text, group-readable, permitted, may ask for a password, private key,
    not checked, not inspected, not judged, unreadable, too short, does not exist,
""".splitlines()
    for word in line.split(":")[-1].split(",")
    if word.strip()
)
_VERDICT = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(w) for w in sorted(VERDICT_WORDS, key=len, reverse=True))
    + r"|CVE-[\d-]+|GHSA-[\w-]+)(?![\w-])"
)


def first_verdict(summary: str) -> tuple[int, int] | None:
    """Where the first verdict-bearing word of `summary` is (start, end), or None."""
    found = _VERDICT.search(summary)
    return (found.start(), found.end()) if found else None
