"""Release tags and version strings of sBTC, stacks-core and Bitcoin Core, parsed and ordered.

Comparison is `packaging.version.Version`'s; this module only decides which strings are real
releases and maps each product's spelling onto a `Version`. Anything that does not match a
known scheme parses to None ("unknown"), never to a guessed version.

Schemes (sbtc-signer-facts.md §6.1-6.3):
* sBTC: `v1.3.3`, `v1.1.0-rc1`. Everything else (`test_*`, `0.0.9-rc7.1`, `v0.0.1-tt`, the
  special build `v1.0.3-epoch32`) is not a normal release.
* stacks-core: node tags `3.4.0.0.4` (5 parts) and signer tags `signer-3.4.0.0.4.0` (6 parts)
  share one repository; from 4.0.0 one 3-part version (`4.0.2`, `4.0.0-rc1`) covers both, so
  its track is "both". Very old `v24.3.3.0-xenon`-style tags are ignored.
* Bitcoin Core: `v28.1`, `v29.0rc1`; `v27.0-final` marks an end-of-life branch, not a release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from packaging.version import InvalidVersion, Version

from signer_tui.model import clean_text

Product = Literal["sbtc", "stacks-core", "bitcoin"]
Track = Literal["node", "signer", "both"]

SBTC: Product = "sbtc"
STACKS_CORE: Product = "stacks-core"
BITCOIN: Product = "bitcoin"

_SBTC_TAG = re.compile(r"^v(\d+\.\d+\.\d+)(?:-rc(\d+))?$")
_STACKS_NODE_TAG = re.compile(r"^(\d+(?:\.\d+){4})(?:-rc(\d+))?$")
_STACKS_SIGNER_TAG = re.compile(r"^signer-(\d+(?:\.\d+){5})(?:-rc(\d+))?$")
_STACKS_SEMVER_TAG = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?$")
# The 3-part scheme started at 4.0.0; a 3-part number below that is a dev build, not a release.
_STACKS_SEMVER_FIRST_MAJOR = 4
_BITCOIN_TAG = re.compile(r"^v(\d+\.\d+(?:\.\d+)?)(?:rc(\d+))?$")
_BITCOIN_EOL_TAG = re.compile(r"^v\d+\.\d+(?:\.\d+)?-final$")
# Only `^(\S+) (\S+) \(` is stable in server_version; the parenthesised part changed over time.
_SERVER_VERSION = re.compile(r"^(\S+) (\S+) \(")
# `/Satoshi:28.1.0/`, `/Satoshi:28.1.0(comment)/`, possibly followed by more agents.
_SUBVERSION = re.compile(r"^/Satoshi:(\d+\.\d+\.\d+)(?:\([^)]*\))?/")
_HEX_COMMIT = re.compile(r"^[0-9a-fA-F]{7,40}$")
# The first Bitcoin Core version without the leading "0." (22.0 = 220000).
_BITCOIN_NO_ZERO_MAJOR = 22


@dataclass(frozen=True)
class ParsedVersion:
    """A release tag or version string mapped onto a comparable `Version`."""

    product: Product
    track: Track | None  # stacks-core only: which binary the tag is for
    raw: str
    version: Version
    prerelease: bool

    def on_track(self, track: str | None) -> bool:
        """True when this version applies to `track` (None = any)."""
        if track is None or self.track is None:
            return True
        return self.track in (track, "both")

    def __str__(self) -> str:
        return self.raw


def _version(numbers: str, rc: str | None) -> Version | None:
    try:
        return Version(f"{numbers}rc{rc}" if rc is not None else numbers)
    except InvalidVersion:
        return None


def _parsed(
    product: Product, track: Track | None, raw: str, numbers: str, rc: str | None
) -> ParsedVersion | None:
    version = _version(numbers, rc)
    if version is None:
        return None
    return ParsedVersion(product, track, raw, version, version.is_prerelease)


def parse_sbtc_tag(tag: str) -> ParsedVersion | None:
    """`v1.3.3` / `v1.1.0-rc1`; None for test tags, dev tags and special builds."""
    match = _SBTC_TAG.match(tag)
    return _parsed(SBTC, None, tag, match[1], match[2]) if match else None


def parse_stacks_tag(tag: str) -> ParsedVersion | None:
    """Node `3.4.0.0.4`, signer `signer-3.4.0.0.4.0`, or shared `4.0.2`; None otherwise."""
    if match := _STACKS_SIGNER_TAG.match(tag):
        return _parsed(STACKS_CORE, "signer", tag, match[1], match[2])
    if match := _STACKS_NODE_TAG.match(tag):
        return _parsed(STACKS_CORE, "node", tag, match[1], match[2])
    if (match := _STACKS_SEMVER_TAG.match(tag)) and int(match[1]) >= _STACKS_SEMVER_FIRST_MAJOR:
        return _parsed(STACKS_CORE, "both", tag, f"{match[1]}.{match[2]}.{match[3]}", match[4])
    return None


def parse_bitcoin_tag(tag: str) -> ParsedVersion | None:
    """`v28.1` / `v29.0rc1`; None for `-final` end-of-life markers and anything else."""
    match = _BITCOIN_TAG.match(tag)
    return _parsed(BITCOIN, None, tag, match[1], match[2]) if match else None


def is_bitcoin_eol_marker(tag: str) -> bool:
    """`v27.0-final`: the branch reached end of life (not a release)."""
    return bool(_BITCOIN_EOL_TAG.match(tag))


_TAG_PARSERS = {SBTC: parse_sbtc_tag, STACKS_CORE: parse_stacks_tag, BITCOIN: parse_bitcoin_tag}


def parse_tag(product: Product, tag: str) -> ParsedVersion | None:
    return _TAG_PARSERS[product](tag)


def product_for_repo(repo: str) -> Product | None:
    """Which tag scheme an `owner/name` repository uses (None = not one we know)."""
    name = repo.rsplit("/", 1)[-1].lower()
    if name == "sbtc":
        return SBTC
    if name == "stacks-core":
        return STACKS_CORE
    if name == "bitcoin":
        return BITCOIN
    return None


def version_from_server_version(text: str) -> ParsedVersion | None:
    """`stacks-node 3.4.0.0.4 (…)` (the node's `/v2/info` server_version) -> its version."""
    match = _SERVER_VERSION.match(text)
    if not match:
        return None
    binary, number = match[1], match[2]
    if binary == "stacks-signer":
        parsed = parse_stacks_tag(f"signer-{number}") or parse_stacks_tag(number)
        wanted: tuple[str, ...] = ("signer", "both")
    elif binary == "stacks-node":
        parsed = parse_stacks_tag(number)
        wanted = ("node", "both")
    else:
        return None
    if parsed is None or parsed.track not in wanted:
        return None
    return ParsedVersion(
        parsed.product, parsed.track, clean_text(text), parsed.version, parsed.prerelease
    )


def version_from_subversion(text: str) -> ParsedVersion | None:
    """bitcoind `getnetworkinfo.subversion` `/Satoshi:28.1.0(comment)/` -> 28.1.0."""
    match = _SUBVERSION.match(text)
    return _parsed(BITCOIN, None, clean_text(text), match[1], None) if match else None


def version_from_bitcoin_int(value: int) -> ParsedVersion | None:
    """bitcoind `getnetworkinfo.version`: 280100 -> 28.1.0 (and 210100 -> 0.21.1)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    major, minor, patch = value // 10_000, value // 100 % 100, value % 100
    numbers = (
        f"{major}.{minor}.{patch}"
        if major >= _BITCOIN_NO_ZERO_MAJOR
        else f"0.{major}.{minor}"  # before 22.0 the scheme was 0.MAJOR.MINOR
    )
    return _parsed(BITCOIN, None, str(value), numbers, None)


def bitcoin_tag_for(version: Version) -> str:
    """The git tag of a Bitcoin Core version: 28.1.0 -> `v28.1`, 0.21.1 -> `v0.21.1`."""
    parts = [*version.release, 0, 0]
    if parts[0] == 0:
        numbers = f"0.{parts[1]}.{parts[2]}" if len(version.release) > 2 else f"0.{parts[1]}"
    else:
        numbers = f"{parts[0]}.{parts[1]}" + (f".{parts[2]}" if parts[2] else "")
    rc = f"rc{version.pre[1]}" if version.pre and version.pre[0] == "rc" else ""
    return f"v{numbers}{rc}"


def coerce_version(product: Product, text: str) -> Version | None:
    """A version as written in an advisory range or by a user: a tag, or a bare number."""
    text = text.strip()
    parsed = parse_tag(product, text)
    if parsed is not None:
        return parsed.version
    bare = text.removeprefix("signer-").removeprefix("v")
    if not re.match(r"^\d+(?:\.\d+)*(?:-?rc\d+)?$", bare):
        return None
    try:
        return Version(bare)
    except InvalidVersion:
        return None


_CLAUSE = re.compile(r"^(<=|>=|==|=|<|>)?\s*(\S+)$")


def version_in_range(product: Product, range_text: str, version: Version) -> bool | None:
    """Evaluate a GitHub advisory range (`< 3.1.0.0.8`, `>= 1.0.0, < 1.3.3`, `= 1.2.0`).

    Returns None when any clause cannot be read: a range we cannot parse tells us nothing.
    """
    clauses = [c.strip() for c in range_text.split(",")]
    if not clauses or any(not c for c in clauses):
        return None
    result = True
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if not match:
            return None
        bound = coerce_version(product, match[2])
        if bound is None:
            return None
        op = match[1] or "="
        if op == "<":
            holds = version < bound
        elif op == "<=":
            holds = version <= bound
        elif op == ">":
            holds = version > bound
        elif op == ">=":
            holds = version >= bound
        else:
            holds = version == bound
        result = result and holds
    return result


# -- the signer's git_revision ----------------------------------------------------------------


class TaggedCommit(Protocol):
    """What a release offers for commit look-ups (GitHub `Release` satisfies it)."""

    @property
    def tag(self) -> str: ...

    @property
    def target_commitish(self) -> str: ...


@dataclass(frozen=True)
class RevisionMatch:
    """What a signer's reported `git_revision` tells us about its version."""

    revision: str
    kind: Literal["tag", "commit", "unknown"]
    version: ParsedVersion | None  # None = unknown: never a guess
    tag: str | None = None
    note: str = ""


def _same_commit(a: str, b: str) -> bool:
    # Abbreviated hashes (7+ hex) match the full hash they start.
    a, b = a.lower(), b.lower()
    return a.startswith(b) if len(a) >= len(b) else b.startswith(a)


def resolve_signer_revision(
    revision: str | None,
    releases: Iterable[TaggedCommit] = (),
    tag_commits: Mapping[str, str] | None = None,
) -> RevisionMatch:
    """Map `build_info.git_revision` to an sBTC version.

    Official images report the tag (`v1.3.3`); source builds report a commit, which is mapped
    through the releases' `target_commitish` (often a branch name, then useless) and an optional
    caller-supplied tag -> commit map. An unmatched commit stays "unknown commit".
    """
    text = clean_text(revision or "").strip()
    if not text:
        return RevisionMatch(text, "unknown", None, note="no revision reported")
    parsed = parse_sbtc_tag(text)
    if parsed is not None:
        return RevisionMatch(text, "tag", parsed, text)
    if not _HEX_COMMIT.match(text):
        return RevisionMatch(text, "unknown", None, note="not a release tag or a commit")
    candidates = [(r.tag, r.target_commitish) for r in releases]
    candidates += list((tag_commits or {}).items())
    tags = sorted(
        {
            tag
            for tag, commit in candidates
            if _HEX_COMMIT.match(commit or "") and _same_commit(text, commit)
        }
    )
    versions = [v for v in (parse_sbtc_tag(t) for t in tags) if v is not None]
    if not versions:
        note = "unknown commit" if not tags else f"commit of non-release tags {', '.join(tags)}"
        return RevisionMatch(text, "commit", None, note=note)
    best = max(versions, key=lambda v: v.version)
    note = f"commit of {', '.join(tags)}" if len(tags) > 1 else ""
    return RevisionMatch(text, "commit", best, best.raw, note)
