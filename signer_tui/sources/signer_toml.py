"""The signer's own TOML: the signer set and threshold it is configured with.

`signer.bootstrap_signing_set` (compressed public keys, at most 16) and
`signer.bootstrap_signatures_required` (sbtc-signer-facts §2). A config that differs from the
registry makes the signer start a DKG round, so the `key.signer_set` check compares them.

The file also holds `signer.private_key`: it is parsed but never kept, shown or put in
evidence — only the two keys above leave this module. The signer can also take these values
from `SIGNER_SIGNER__…` environment variables, which a file read cannot see; the evidence says
so.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from signer_tui.model import Evidence, clean_text, utcnow
from signer_tui.sources.errors import SourceError, SourceProtocolError, SourceTooLarge
from signer_tui.sources.keys import Poll, PollContext, Source

# A signer TOML is a few kB; anything much larger is not one.
MAX_BYTES = 256 * 1024
MAX_SIGNERS = 16  # the signer's MAX_SIGNERS


class SignerConfigUnreadable(SourceError):
    title = "signer config unreadable"


@dataclass(frozen=True)
class SignerSetConfig:
    path: str
    signing_set: tuple[bytes, ...] | None  # None: the key is absent
    signatures_required: int | None
    evidence: Evidence
    problems: tuple[str, ...] = ()  # keys present but malformed, named


def _keys(value: object, problems: list[str]) -> tuple[bytes, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        problems.append("signer.bootstrap_signing_set is not a list")
        return None
    keys: list[bytes] = []
    for i, item in enumerate(value):
        text = item.removeprefix("0x") if isinstance(item, str) else ""
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 33 or raw[0] not in (2, 3):
            problems.append(f"bootstrap_signing_set[{i}] is not a compressed public key")
            continue
        keys.append(raw)
    if len(keys) > MAX_SIGNERS:
        problems.append(f"bootstrap_signing_set has {len(keys)} keys (the signer allows 16)")
    return tuple(keys)


def read_signer_set(path: Path) -> SignerSetConfig:
    """The signer set and threshold from the signer's TOML (never the private key)."""
    observed = utcnow()
    request = f"read {path} [signer] bootstrap_signing_set, bootstrap_signatures_required"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SignerConfigUnreadable("signer config not found", str(path)) from None
    except OSError as exc:
        raise SignerConfigUnreadable(detail=f"{path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise SourceTooLarge("signer config too large", f"{path} is over {MAX_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message names a line and column, never the value.
        raise SourceProtocolError("signer config is not valid TOML", f"{path}: {exc}") from None
    signer = data.get("signer")
    if not isinstance(signer, dict):
        raise SourceProtocolError("signer config has no [signer] table", str(path))
    problems: list[str] = []
    keys = _keys(signer.get("bootstrap_signing_set"), problems)
    required = signer.get("bootstrap_signatures_required")
    if required is not None and (isinstance(required, bool) or not isinstance(required, int)):
        problems.append("signer.bootstrap_signatures_required is not a whole number")
        required = None
    shown = "\n".join(k.hex() for k in keys or ()) + f"\nbootstrap_signatures_required = {required}"
    decoded = (
        f"{len(keys) if keys is not None else 'no'} configured signers, threshold "
        f"{required if required is not None else 'unset'} (SIGNER_SIGNER__* environment "
        "overrides are not visible here)"
    )
    evidence = Evidence(
        source="signer config",
        request=request,
        observed_at=observed,
        raw=clean_text(shown, 4000),
        decoded=decoded,
    )
    return SignerSetConfig(str(path), keys, required, evidence, tuple(problems))


def _build(ctx: PollContext) -> Poll[SignerSetConfig] | None:
    profile = ctx.profile
    assert profile is not None
    path = profile.signer.config_file or profile.posture.signer_config
    if path is None:
        return None
    return Poll(
        lambda: read_signer_set(path),
        profile.poll.key,
        blocking=True,
        deadline=10.0,
        description="signer TOML",
    )


SIGNER_CONFIG: Source[SignerSetConfig] = Source(
    "signer_config", _build, label="signer config (TOML)"
)
