"""Secrets under attack: every encoding redacted, unusable header values refused clearly,
a keyring backend that cannot load is one line, the history never stores a secret."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from signer_tui import credentials
from signer_tui.config import SecretRef
from signer_tui.credentials import Redactor, Secret, SecretStore, check_header_secret
from signer_tui.sources.backup_types import VerificationRecord
from signer_tui.sources.errors import SecretUnavailable
from signer_tui.sources.github import GitHub
from signer_tui.sources.hiro import ChainApi
from signer_tui.verify import history

REPO = Path(__file__).resolve().parents[2]
DEPLOYER = "SM3VDXK3WZZSA84XXFKAFAF15NNZX32CTSG82JFQ4"
SECRET = 'first line "quoted" é\\n/ü+&=\nsecond-line-of-the-secret'


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET,
        repr(SECRET),
        json.dumps(SECRET),
        json.dumps(SECRET, ensure_ascii=False),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        repr(SECRET.encode()),
        str(SECRET.encode()),
        base64.b64encode(SECRET.encode()).decode(),
        "Illegal header value b'second-line-of-the-secret'",
    ],
)
def test_every_encoding_is_redacted(spelling: str) -> None:
    redactor = Redactor()
    redactor.add(SECRET)
    shown = redactor(f"error: {spelling} (end)")
    assert "second-line-of-the-secret" not in shown
    assert "quoted" not in shown or "***" in shown
    assert "***" in shown


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("token\nsecond", "2 lines"),
        ("tok\u00e9n-value", "non-ASCII"),
        ("token\x1bvalue", "control"),
        (" token-value", "whitespace"),
    ],
)
def test_header_unsafe_secrets_are_refused_by_the_clients(value: str, why: str) -> None:
    with pytest.raises(SecretUnavailable) as caught:
        check_header_secret(Secret(value), "the chain API key")
    assert why in caught.value.detail
    assert value not in str(caught.value)
    with pytest.raises(SecretUnavailable):
        ChainApi("http://127.0.0.1:9", deployer=DEPLOYER, api_key=Secret(value))
    with pytest.raises(SecretUnavailable):
        GitHub("http://127.0.0.1:9", token=Secret(value))


def test_a_good_token_still_works() -> None:
    api = ChainApi("http://127.0.0.1:9", deployer=DEPLOYER, api_key=Secret("abc123-token"))
    assert api.has_api_key
    httpx.Headers({"x-api-key": "abc123-token"})


def test_resolve_all_refuses_a_two_line_api_key_file(tmp_path: Path) -> None:
    from signer_tui.config import Settings

    key = tmp_path / "key"
    key.write_text("line-one-token\nline-two-token\n")
    settings = Settings.model_validate(
        {
            "signers": [
                {"name": "m", "network": "mainnet", "chain_api": {"api_key": {"file": str(key)}}}
            ]
        }
    )
    resolved = credentials.resolve_all(settings)
    assert resolved[0].secret is None
    assert "2 lines" in resolved[0].error
    store = SecretStore(resolved)
    with pytest.raises(SecretUnavailable) as caught:
        store.get(SecretRef(kind="file", name=str(key)))
    assert caught.value.title == credentials.HEADER_TITLE


def test_missing_keyring_backend_module_is_one_line(tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(REPO),
        "PYTHON_KEYRING_BACKEND": "keyrings.not_installed.Backend",
        "XDG_CONFIG_HOME": str(tmp_path),
        "HOME": str(tmp_path),
    }
    config = tmp_path / "c.yaml"
    config.write_text(
        "signers:\n  - name: m\n    network: mainnet\n    db:\n      password: {keyring: db}\n"
    )
    for command in (["secrets", "list"], ["secrets", "set", "x", "--stdin"]):
        result = subprocess.run(
            [sys.executable, "-m", "signer_tui", "--config", str(config), *command],
            capture_output=True,
            text=True,
            env=env,
            input="value\n",
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert "keyrings.not_installed.Backend cannot be loaded" in result.stdout + result.stderr
        assert result.returncode in (1, 2)


def test_history_never_stores_a_secret(tmp_path: Path) -> None:
    secret = Secret("history-canary\nsecond-history-line")
    now = datetime.now(UTC)
    record = VerificationRecord(
        profile="m",
        started_at=now,
        finished_at=now,
        backup="/b/dump",
        sha256="0" * 64,
        size_bytes=1,
        duration_s=1.0,
        verdict="failed",
        summary=f"Illegal header value {secret.reveal().encode()!r}",
        db_key=None,
        chain_keys={},
        problems=(f"api: {secret.reveal()!r}",),
    )
    path = history.append(record, tmp_path / "h.jsonl")
    text = path.read_text()
    assert "history-canary" not in text and "second-history-line" not in text
    assert history.read(path=path)[0].verdict == "failed"
