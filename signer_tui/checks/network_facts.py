"""The network facts data file (`signer_tui/data/network_facts.yaml`), parsed and validated.

One versioned file, each line with its source, read by every check that judges a deadline or
an end-of-life: the hard-fork table (`checks.upgrade_window`, `checks.lifecycle`), Bitcoin
Core's support window and the release-note phrases (`checks.releases`). A broken file is a
packaging bug: `NetworkFactsError` names the line, and the tests parse the shipped file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

DATA_FILE = "network_facts.yaml"


class NetworkFactsError(ValueError):
    """The data file is malformed (a packaging bug, never an operator's mistake)."""


@dataclass(frozen=True)
class HardFork:
    network: str
    name: str
    activation_height: int  # bitcoin block height
    product: str
    min_version: Version
    source: str


@dataclass(frozen=True)
class BitcoinCoreWindow:
    maintained_majors: int
    latest_major: int
    eol_through_major: int  # this major and every older one are end-of-life
    eol_since: str  # the release that ended them
    signer_minimum_major: int
    source: str

    def is_eol(self, major: int) -> bool:
        return major <= self.eol_through_major

    @property
    def maintained(self) -> tuple[int, ...]:
        return tuple(range(self.latest_major - self.maintained_majors + 1, self.latest_major + 1))


@dataclass(frozen=True)
class ReleaseFlag:
    flag: str
    patterns: tuple[str, ...]  # lower case, matched as substrings of the notes
    source: str


@dataclass(frozen=True)
class NetworkFacts:
    version: int
    as_of: str
    hard_forks: tuple[HardFork, ...]
    bitcoin_core: BitcoinCoreWindow
    release_flags: tuple[ReleaseFlag, ...]
    advisory_sources: dict[str, str]

    def forks(self, network: str) -> tuple[HardFork, ...]:
        return tuple(f for f in self.hard_forks if f.network == network)

    def flags_in(self, text: str) -> tuple[str, ...]:
        """Which release flags the release notes `text` raise, in file order."""
        lowered = text.lower()
        return tuple(f.flag for f in self.release_flags if any(p in lowered for p in f.patterns))

    def empty_advisories(self, product: str) -> str:
        return self.advisory_sources.get(
            product, "no advisories published (none is proof of safety)"
        )


def _need(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise NetworkFactsError(f"{DATA_FILE}: {where}.{key} must be a {kind.__name__}")
    return value


def _version(text: str, where: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise NetworkFactsError(f"{DATA_FILE}: {where}: {text!r} is not a version") from None


def parse_facts(text: str) -> NetworkFacts:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise NetworkFactsError(f"{DATA_FILE}: not a mapping")
    forks = []
    for i, raw in enumerate(_need(data, "hard_forks", list, "")):
        where = f"hard_forks[{i}]"
        if not isinstance(raw, dict):
            raise NetworkFactsError(f"{DATA_FILE}: {where} must be a mapping")
        forks.append(
            HardFork(
                _need(raw, "network", str, where),
                _need(raw, "name", str, where),
                _need(raw, "activation_height", int, where),
                _need(raw, "product", str, where),
                _version(_need(raw, "min_version", str, where), where),
                _need(raw, "source", str, where),
            )
        )
    core = _need(data, "bitcoin_core", dict, "")
    eol = _need(core, "eol", list, "bitcoin_core")
    if not eol or not all(isinstance(e, dict) for e in eol):
        raise NetworkFactsError(f"{DATA_FILE}: bitcoin_core.eol needs at least one entry")
    newest_eol = max(eol, key=lambda e: _need(e, "major", int, "bitcoin_core.eol"))
    window = BitcoinCoreWindow(
        _need(core, "maintained_majors", int, "bitcoin_core"),
        _need(core, "latest_major", int, "bitcoin_core"),
        _need(newest_eol, "major", int, "bitcoin_core.eol"),
        _need(newest_eol, "since", str, "bitcoin_core.eol"),
        _need(core, "signer_minimum_major", int, "bitcoin_core"),
        _need(core, "source", str, "bitcoin_core"),
    )
    if window.eol_through_major >= window.latest_major - window.maintained_majors + 1:
        raise NetworkFactsError(f"{DATA_FILE}: bitcoin_core.eol overlaps the maintained majors")
    flags = []
    for i, raw in enumerate(_need(data, "release_flags", list, "")):
        where = f"release_flags[{i}]"
        patterns = _need(raw, "patterns", list, where)
        flags.append(
            ReleaseFlag(
                _need(raw, "flag", str, where),
                tuple(str(p).lower() for p in patterns),
                _need(raw, "source", str, where),
            )
        )
    advisories = _need(data, "advisory_sources", dict, "")
    _need(data, "advisory_source", str, "")
    return NetworkFacts(
        _need(data, "version", int, ""),
        str(_need(data, "as_of", str, "")),
        tuple(forks),
        window,
        tuple(flags),
        {str(k): str(v) for k, v in advisories.items()},
    )


@functools.cache
def load_facts() -> NetworkFacts:
    """The shipped data file (package data), parsed once."""
    text = resources.files("signer_tui").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return parse_facts(text)
