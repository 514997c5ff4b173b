"""key.signer_set: config vs registry vs newest DKG row, and the signer's TOML reader."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from signer_tui.checks.signer_set import RUNBOOK, check_signer_set
from signer_tui.model import Observation, Status
from signer_tui.sources.errors import SourceProtocolError, SourceTooLarge
from signer_tui.sources.signer_toml import (
    MAX_BYTES,
    SignerConfigUnreadable,
    SignerSetConfig,
    read_signer_set,
)

from .factories import db_facts, dkg_rows, down, ev, key, node_key_with_set, ok

REGISTRY14 = tuple(key(100 + i) for i in range(14))  # node_key_with_set's keys


def config(keys: tuple[bytes, ...] | None, required: int | None = 10) -> Observation:
    return ok("signer_config", SignerSetConfig("/etc/signer.toml", keys, required, ev("file")))


def db_with(keys: tuple[bytes, ...], threshold: int = 10) -> Observation:
    rows = dkg_rows((key(1), "verified", 900_000), signer_set=keys, threshold=threshold)
    return ok("db", replace(db_facts([key(1)]), dkg_rows=rows))


def run(
    cfg: Observation | None = None,
    *,
    configured: bool = True,
    node: Observation | None = None,
    database: Observation | None = None,
):
    return check_signer_set(
        cfg if cfg is not None or not configured else config(REGISTRY14),
        configured,
        node if node is not None else node_key_with_set(14, 10),
        database if database is not None else db_with(REGISTRY14),
    )


def test_all_three_agree_is_ok() -> None:
    found = run()
    assert found.status is Status.OK
    assert found.summary.startswith("registry, config, newest DKG row")
    assert "14 keys/threshold 10" in found.summary


def test_order_of_the_keys_does_not_matter() -> None:
    assert run(config(tuple(reversed(REGISTRY14)))).status is Status.OK


def test_config_differs_from_the_registry_warns_with_the_runbook() -> None:
    # PR #2093: mainnet's example set goes from 14 keys / 10 to 11 keys / 8.
    found = run(config(REGISTRY14[:11], 8))
    assert found.status is Status.WARN
    assert found.summary.startswith("signer set change: config (11 keys/threshold 8) ≠ registry")
    assert "0 key(s) only in config, 3 only in registry" in found.summary
    assert "threshold 8 vs 10" in found.summary
    assert RUNBOOK in found.advice and "DKG" in found.advice
    only = [v for k, v in found.details if k == "only in registry"]
    assert only == [k.hex() for k in REGISTRY14[11:]]


def test_one_key_swapped_is_a_change() -> None:
    swapped = (*REGISTRY14[:13], key(250))
    found = run(config(swapped))
    assert found.status is Status.WARN
    assert "1 key(s) only in config, 1 only in registry" in found.summary


def test_threshold_alone_is_a_change() -> None:
    found = run(config(REGISTRY14, 11))
    assert found.status is Status.WARN
    assert "threshold 11 vs 10" in found.summary


def test_newest_dkg_on_another_set_is_a_warn() -> None:
    found = run(database=db_with(REGISTRY14[:11], 8))
    assert found.status is Status.WARN
    assert found.summary.startswith("DKG ran on another set: newest DKG row")
    assert "#2090" in found.advice


def test_both_disagreements_are_named() -> None:
    found = run(config(REGISTRY14[:11], 8), database=db_with(REGISTRY14[:11], 8))
    assert "signer set change" in found.summary and "DKG ran on another set" in found.summary


@pytest.mark.parametrize(("keys", "required"), [(REGISTRY14, 15), (REGISTRY14, 0)])
def test_threshold_that_does_not_fit_is_crit(keys: tuple[bytes, ...], required: int) -> None:
    found = run(config(keys, required))
    assert found.status is Status.CRIT
    assert found.summary.startswith("bad threshold:") and "of 14 keys" in found.summary


def test_more_than_16_keys_is_crit() -> None:
    seventeen = tuple(key(100 + i) for i in range(17))
    assert run(config(seventeen)).status is Status.CRIT


def test_registry_unreadable_is_unknown() -> None:
    found = run(node=down("key.node"))
    assert found.status is Status.UNKNOWN
    assert found.summary.startswith("unknown: registry signer set (")


def test_registry_without_signer_data_is_unknown() -> None:
    from .factories import registry

    found = run(node=registry(key(1)))
    assert found.status is Status.UNKNOWN


def test_config_not_configured_still_compares_registry_and_dkg() -> None:
    found = run(None, configured=False)
    assert found.status is Status.OK
    assert found.summary.startswith("registry, newest DKG row")
    assert ("config", "signer.config_file not set: the configured set is not compared") in (
        found.details
    )


def test_config_configured_but_unreadable_is_unknown() -> None:
    found = run(down("signer_config"))
    assert found.status is Status.UNKNOWN
    assert found.summary.startswith("unknown: signer config (")


def test_config_unreadable_does_not_hide_a_dkg_disagreement() -> None:
    found = run(down("signer_config"), database=db_with(REGISTRY14[:11], 8))
    assert found.status is Status.WARN


def test_db_down_is_named_but_registry_and_config_still_compared() -> None:
    found = run(database=down("db"))
    assert found.status is Status.OK
    assert any(k == "newest DKG row" for k, _ in found.details)


# -- the TOML reader ------------------------------------------------------------------------

PRIVATE = "41634762d89dfa09133a4a8e9c1378d0161d29cd0a9433b51f1e3d32947a73dc"


def toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "signer.toml"
    path.write_text(body)
    return path


def test_reads_the_set_and_threshold_never_the_private_key(tmp_path: Path) -> None:
    keys = [key(100 + i).hex() for i in range(3)]
    path = toml(
        tmp_path,
        f'[signer]\nprivate_key = "{PRIVATE}"\nbootstrap_signing_set = {keys!r}\n'
        "bootstrap_signatures_required = 2\n".replace("'", '"'),
    )
    found = read_signer_set(path)
    assert found.signing_set == tuple(key(100 + i) for i in range(3))
    assert found.signatures_required == 2
    assert found.problems == ()
    assert PRIVATE not in repr(found) and PRIVATE not in found.evidence.raw
    assert "environment overrides" in found.evidence.decoded


def test_malformed_keys_are_named(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[signer]\nbootstrap_signing_set = ["zz", "04' + "00" * 32 + '"]\n'
        'bootstrap_signatures_required = "2"\n',
    )
    found = read_signer_set(path)
    assert found.signing_set == ()
    assert found.signatures_required is None
    assert len(found.problems) == 3


def test_absent_keys_are_none(tmp_path: Path) -> None:
    found = read_signer_set(toml(tmp_path, "[signer]\nnetwork = 'mainnet'\n"))
    assert (found.signing_set, found.signatures_required) == (None, None)


@pytest.mark.parametrize(
    ("body", "error"),
    [("[signer\n", SourceProtocolError), ("[bitcoin]\n", SourceProtocolError)],
    ids=["bad-toml", "no-signer-table"],
)
def test_bad_files_are_named(tmp_path: Path, body: str, error: type) -> None:
    with pytest.raises(error):
        read_signer_set(toml(tmp_path, body))


def test_missing_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(SignerConfigUnreadable, match="not found"):
        read_signer_set(tmp_path / "nope.toml")
    with pytest.raises(SourceTooLarge):
        read_signer_set(toml(tmp_path, "#" * (MAX_BYTES + 10)))
