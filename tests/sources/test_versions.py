"""Tag and version-string parsing for sBTC, stacks-core and Bitcoin Core (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from packaging.version import Version

from signer_tui.sources.versions import (
    bitcoin_tag_for,
    coerce_version,
    is_bitcoin_eol_marker,
    parse_bitcoin_tag,
    parse_sbtc_tag,
    parse_stacks_tag,
    product_for_repo,
    resolve_signer_revision,
    version_from_bitcoin_int,
    version_from_server_version,
    version_from_subversion,
    version_in_range,
)

# -- sBTC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "version", "prerelease"),
    [
        ("v1.3.3", "1.3.3", False),
        ("v1.0.0", "1.0.0", False),
        ("v1.1.0-rc1", "1.1.0rc1", True),
        ("v10.20.30-rc12", "10.20.30rc12", True),
    ],
)
def test_sbtc_release_tags(tag: str, version: str, prerelease: bool) -> None:
    parsed = parse_sbtc_tag(tag)
    assert parsed is not None
    assert parsed.version == Version(version)
    assert isinstance(parsed.version, Version)
    assert (parsed.product, parsed.track, parsed.raw, parsed.prerelease) == (
        "sbtc",
        None,
        tag,
        prerelease,
    )


@pytest.mark.parametrize(
    "tag",
    [
        "test_release_do_not_use",
        "test_v1.3.3",
        "0.0.0-test",
        "v0.0.0-t",
        "v0.0.1-tt",
        "0.0.9-rc7.1",
        "0.0.9-rc0",
        "0.0.1-dev-3",
        "v1.0.3-epoch32",  # a special build, not a normal release
        "1.3.3",
        "v1.3",
        "v1.3.3+build1",
        "",
    ],
)
def test_sbtc_junk_tags_are_not_releases(tag: str) -> None:
    assert parse_sbtc_tag(tag) is None


def test_sbtc_ordering_puts_release_candidates_before_their_release() -> None:
    tags = ["v1.1.0", "v1.0.3", "v1.1.0-rc1", "v1.3.3", "v1.0.10", "v1.3.2"]
    parsed = [parse_sbtc_tag(t) for t in tags]
    ordered = sorted((p for p in parsed if p is not None), key=lambda p: p.version)
    assert [p.raw for p in ordered] == [
        "v1.0.3",
        "v1.0.10",
        "v1.1.0-rc1",
        "v1.1.0",
        "v1.3.2",
        "v1.3.3",
    ]


# -- stacks-core --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "track", "version", "prerelease"),
    [
        ("3.4.0.0.4", "node", "3.4.0.0.4", False),
        ("3.3.0.0.6", "node", "3.3.0.0.6", False),
        ("2.05.0.0.0", "node", "2.5.0.0.0", False),
        ("3.4.0.0.0-rc1", "node", "3.4.0.0.0rc1", True),
        ("signer-3.4.0.0.4.0", "signer", "3.4.0.0.4.0", False),
        ("signer-3.4.0.0.0.0-rc2", "signer", "3.4.0.0.0.0rc2", True),
        ("4.0.2", "both", "4.0.2", False),
        ("4.0.0", "both", "4.0.0", False),
        ("4.1.0-rc3", "both", "4.1.0rc3", True),
    ],
)
def test_stacks_core_tags(tag: str, track: str, version: str, prerelease: bool) -> None:
    parsed = parse_stacks_tag(tag)
    assert parsed is not None
    assert (parsed.product, parsed.track, parsed.version, parsed.prerelease) == (
        "stacks-core",
        track,
        Version(version),
        prerelease,
    )


@pytest.mark.parametrize(
    "tag",
    [
        "v24.3.3.0-xenon",
        "v23.0.0.12-krypton",
        "3.0.0",
        "0.0.1",
        "signer-3.4.0.0.4",
        "4.0",
        "latest",
    ],
)
def test_stacks_core_junk_tags(tag: str) -> None:
    assert parse_stacks_tag(tag) is None


def test_stacks_core_orders_across_the_scheme_change() -> None:
    tags = ["3.4.0.0.4", "4.0.0", "3.3.0.0.6", "4.0.2", "3.4.0.0.0-rc1", "4.0.1", "3.4.0.0.3"]
    parsed = [parse_stacks_tag(t) for t in tags]
    ordered = sorted((p for p in parsed if p is not None), key=lambda p: p.version)
    assert [p.raw for p in ordered] == [
        "3.3.0.0.6",
        "3.4.0.0.0-rc1",
        "3.4.0.0.3",
        "3.4.0.0.4",
        "4.0.0",
        "4.0.1",
        "4.0.2",
    ]
    newest_five_part = parse_stacks_tag("3.4.0.0.4")
    first_semver = parse_stacks_tag("4.0.0")
    assert newest_five_part is not None and first_semver is not None
    assert first_semver.version > newest_five_part.version


def test_stacks_tracks() -> None:
    node, signer, shared = (
        parse_stacks_tag(t) for t in ("3.4.0.0.4", "signer-3.4.0.0.4.0", "4.0.2")
    )
    assert node is not None and signer is not None and shared is not None
    assert node.on_track("node") and not node.on_track("signer")
    assert signer.on_track("signer") and not signer.on_track("node")
    assert shared.on_track("node") and shared.on_track("signer")


@pytest.mark.parametrize(
    ("text", "version", "track"),
    [
        ("stacks-node 3.4.0.0.4 (1a2b3c4, release build, linux [x86_64])", "3.4.0.0.4", "node"),
        (
            "stacks-node 3.1.0.0.12 (release/3.1.0.0.12:ae969ca+, release build, linux [x86_64])",
            "3.1.0.0.12",
            "node",
        ),
        ("stacks-node 4.0.2 (master:1efa4a9, release build, linux [aarch64])", "4.0.2", "both"),
        ("stacks-signer 3.4.0.0.4.0 (abc, release build, linux [x86_64])", "3.4.0.0.4.0", "signer"),
        ("stacks-signer 4.0.2 (abc, release build, linux [x86_64])", "4.0.2", "both"),
    ],
)
def test_version_from_server_version(text: str, version: str, track: str) -> None:
    parsed = version_from_server_version(text)
    assert parsed is not None
    assert (parsed.version, parsed.track, parsed.raw) == (Version(version), track, text)


@pytest.mark.parametrize(
    "text",
    [
        "stacks-node 0.0.1 (develop:abc, debug build, linux [x86_64])",  # dev build: unknown
        "stacks-node 3.4.0.0.4",  # no parenthesised part
        "bitcoind 28.1 (x)",
        "stacks-node signer-3.4.0.0.4.0 (x)",
        "",
    ],
)
def test_unknown_server_versions(text: str) -> None:
    assert version_from_server_version(text) is None


def test_server_version_strips_control_characters() -> None:
    parsed = version_from_server_version("stacks-node 4.0.2 (\x1b[31mred\x1b[0m, release build)")
    assert parsed is not None and "\x1b" not in parsed.raw


# -- Bitcoin Core -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "version", "prerelease"),
    [
        ("v28.1", "28.1", False),
        ("v30.0", "30.0", False),
        ("v29.0rc1", "29.0rc1", True),
        ("v0.21.2", "0.21.2", False),
        ("v0.21.0rc5", "0.21.0rc5", True),
    ],
)
def test_bitcoin_tags(tag: str, version: str, prerelease: bool) -> None:
    parsed = parse_bitcoin_tag(tag)
    assert parsed is not None
    assert (parsed.product, parsed.version, parsed.prerelease) == (
        "bitcoin",
        Version(version),
        prerelease,
    )


@pytest.mark.parametrize("tag", ["v27.0-final", "v0.21-final", "28.1", "v28", "noversion"])
def test_bitcoin_non_release_tags(tag: str) -> None:
    assert parse_bitcoin_tag(tag) is None


def test_bitcoin_eol_marker() -> None:
    assert is_bitcoin_eol_marker("v27.0-final")
    assert not is_bitcoin_eol_marker("v27.0")


def test_bitcoin_ordering() -> None:
    tags = ["v29.0", "v28.1", "v29.0rc1", "v30.0", "v28.2", "v0.21.2"]
    parsed = [parse_bitcoin_tag(t) for t in tags]
    ordered = sorted((p for p in parsed if p is not None), key=lambda p: p.version)
    assert [p.raw for p in ordered] == ["v0.21.2", "v28.1", "v28.2", "v29.0rc1", "v29.0", "v30.0"]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("/Satoshi:28.1.0/", "28.1.0"),
        ("/Satoshi:28.1.0(signer-bastion)/", "28.1.0"),
        ("/Satoshi:25.1.0/", "25.1.0"),
        ("/Satoshi:28.1.0/Knots:20250305/", "28.1.0"),
    ],
)
def test_version_from_subversion(text: str, version: str) -> None:
    parsed = version_from_subversion(text)
    assert parsed is not None
    assert parsed.version == Version(version)
    # A node reporting 28.1.0 runs the release tagged v28.1.
    tag = parse_bitcoin_tag(bitcoin_tag_for(parsed.version))
    assert tag is not None and tag.version == parsed.version


@pytest.mark.parametrize("text", ["", "/Satoshi/", "Satoshi:28.1.0", "/btcd:0.24.0/"])
def test_unknown_subversions(text: str) -> None:
    assert version_from_subversion(text) is None


@pytest.mark.parametrize(
    ("value", "version"),
    [(280100, "28.1.0"), (250100, "25.1.0"), (300000, "30.0.0"), (210100, "0.21.1")],
)
def test_version_from_bitcoin_int(value: int, version: str) -> None:
    parsed = version_from_bitcoin_int(value)
    assert parsed is not None and parsed.version == Version(version)


@pytest.mark.parametrize("value", [0, -1, True])
def test_invalid_bitcoin_ints(value: int) -> None:
    assert version_from_bitcoin_int(value) is None


@pytest.mark.parametrize(
    ("version", "tag"),
    [("28.1.0", "v28.1"), ("28.1", "v28.1"), ("30.0.0", "v30.0"), ("0.21.1", "v0.21.1")],
)
def test_bitcoin_tag_for(version: str, tag: str) -> None:
    assert bitcoin_tag_for(Version(version)) == tag


def test_product_for_repo() -> None:
    assert product_for_repo("stacks-sbtc/sbtc") == "sbtc"
    assert product_for_repo("stacks-network/sbtc") == "sbtc"
    assert product_for_repo("stacks-network/stacks-core") == "stacks-core"
    assert product_for_repo("bitcoin/bitcoin") == "bitcoin"
    assert product_for_repo("someone/else") is None


# -- advisory ranges ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "range_text", "version", "expected"),
    [
        ("stacks-core", "< 3.1.0.0.8", "3.1.0.0.7", True),
        ("stacks-core", "< 3.1.0.0.8", "3.1.0.0.8", False),
        ("stacks-core", "< 3.1.0.0.8", "4.0.0", False),
        ("stacks-core", "<= 3.4.0.0.4", "3.4.0.0.4", True),
        ("sbtc", ">= 1.0.0, < 1.3.3", "1.3.2", True),
        ("sbtc", ">= 1.0.0, < 1.3.3", "1.3.3", False),
        ("sbtc", ">= 1.0.0, < 1.3.3", "0.9.0", False),
        ("sbtc", ">= 1.0.0, < 1.3.3", "1.3.3rc1", True),
        ("sbtc", "= 1.2.0", "1.2.0", True),
        ("sbtc", "1.2.0", "1.2.1", False),
        ("sbtc", "> v1.2.0", "1.3.0", True),
        ("bitcoin", "< 28.2", "28.1.0", True),
        ("sbtc", "garbage", "1.0.0", None),
        ("sbtc", ">= 1.0.0,", "1.0.0", None),
        ("sbtc", "~> 1.0", "1.0.0", None),
    ],
)
def test_version_in_range(
    product: str, range_text: str, version: str, expected: bool | None
) -> None:
    assert version_in_range(product, range_text, Version(version)) is expected  # type: ignore[arg-type]


def test_coerce_version_accepts_tags_and_bare_numbers() -> None:
    assert coerce_version("stacks-core", "signer-3.4.0.0.4.0") == Version("3.4.0.0.4.0")
    assert coerce_version("sbtc", "v1.3.3") == Version("1.3.3")
    assert coerce_version("sbtc", "1.3.3") == Version("1.3.3")
    assert coerce_version("sbtc", "test_x") is None


# -- the signer's git_revision ------------------------------------------------------------------


@dataclass(frozen=True)
class Tagged:
    tag: str
    target_commitish: str


COMMIT_133 = "11567fc6a111c130177e64380503acca8546aab6"
RELEASES = [
    Tagged("v1.3.3", COMMIT_133),
    Tagged("v1.3.2", "main"),  # a branch name: says nothing about the commit
    Tagged("test_x", "a" * 40),
]


def test_revision_that_is_a_tag() -> None:
    match = resolve_signer_revision("v1.3.3")
    assert match.kind == "tag" and match.tag == "v1.3.3"
    assert match.version is not None and match.version.version == Version("1.3.3")


def test_revision_commit_found_through_release_target() -> None:
    match = resolve_signer_revision(COMMIT_133, RELEASES)
    assert match.kind == "commit" and match.tag == "v1.3.3"
    assert match.version is not None and match.version.version == Version("1.3.3")


def test_revision_commit_found_through_caller_map_with_abbreviated_commits() -> None:
    full = "7ab8ed3f" + "0" * 32
    match = resolve_signer_revision(full, RELEASES, {"v1.2.0": "7ab8ed3f", "v1.3.0": "b2865dd9"})
    assert match.tag == "v1.2.0"
    assert match.version is not None and match.version.version == Version("1.2.0")


def test_revision_commit_with_two_tags_takes_the_release_not_a_guess() -> None:
    commit = "d" * 40
    match = resolve_signer_revision(commit, [], {"v1.1.0-rc1": commit, "v1.1.0": commit})
    assert match.tag == "v1.1.0"
    assert "v1.1.0-rc1" in match.note


@pytest.mark.parametrize(
    ("revision", "kind", "note"),
    [
        ("0123456789abcdef0123456789abcdef01234567", "commit", "unknown commit"),
        ("a" * 40, "commit", "commit of non-release tags test_x"),
        ("main", "unknown", "not a release tag or a commit"),
        ("", "unknown", "no revision reported"),
        (None, "unknown", "no revision reported"),
    ],
)
def test_revision_that_cannot_be_mapped_stays_unknown(
    revision: str | None, kind: str, note: str
) -> None:
    match = resolve_signer_revision(revision, RELEASES)
    assert match.version is None
    assert match.kind == kind
    assert match.note == note


def test_revision_of_a_special_build_is_not_a_release() -> None:
    match = resolve_signer_revision("v1.0.3-epoch32", RELEASES)
    assert match.version is None
