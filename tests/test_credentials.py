"""Credentials through a real keyring backend (encrypted file in a temp dir), never printed."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from signer_tui import credentials
from signer_tui.cli import main
from signer_tui.config import SecretRef, load_config
from signer_tui.sources.errors import SecretUnavailable

CANARY = "canary-7f3a91c4-do-not-print"


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        """\
signers:
  - name: main
    network: mainnet
    db:
      password: {keyring: db-main}
    bitcoind:
      user: signer
      password: {env: TEST_BITCOIND_PASSWORD}
    chain_api:
      api_key: {file: %s}
"""
        % (tmp_path / "hiro.key")
    )
    return path


def run(
    args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None
) -> tuple[int, str]:
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(args)
    finally:
        sys.stdin = sys.__stdin__
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_set_list_delete_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    monkeypatch.setenv("TEST_BITCOIND_PASSWORD", CANARY + "-env")
    (tmp_path / "hiro.key").write_text(CANARY + "-file\n")
    outputs = []

    code, text = run(["--config", str(cfg), "secrets", "list"], capsys)
    outputs.append(text)
    assert code == 1
    assert "keyring:db-main" in text and "MISSING" in text and "secrets set db-main" in text
    assert "CryptFileKeyring (usable)" in text

    code, text = run(
        ["--config", str(cfg), "secrets", "set", "db-main", "--stdin"], capsys, CANARY + "\n"
    )
    outputs.append(text)
    assert code == 0 and "stored 'db-main'" in text

    # The value really is in the backend, encrypted on disk.
    credentials.reset_backend_cache()
    secret = credentials.keyring_get("db-main")
    assert secret is not None and secret.reveal() == CANARY
    files = list(Path(tmp_path / "home" / "data").rglob("*.cfg"))
    assert files and all(CANARY not in f.read_text() for f in files)

    code, text = run(["--config", str(cfg), "secrets", "list"], capsys)
    outputs.append(text)
    assert code == 0
    assert text.count("resolves") == 3

    for args in (["config", "show"], ["config", "show", "--json"], ["config", "validate"]):
        code, text = run(["--config", str(cfg), *args], capsys)
        outputs.append(text)
        assert code == 0

    code, text = run(["--config", str(cfg), "secrets", "delete", "db-main"], capsys)
    outputs.append(text)
    assert code == 0 and "deleted" in text
    code, text = run(["--config", str(cfg), "secrets", "delete", "db-main"], capsys)
    assert code == 1 and "nothing deleted" in text
    credentials.reset_backend_cache()
    assert credentials.keyring_get("db-main") is None

    for text in outputs:
        assert CANARY not in text


def test_cli_subprocess_never_prints_the_secret(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    (tmp_path / "hiro.key").write_text("x" * 10)
    env_run = {"TEST_BITCOIND_PASSWORD": "unused-but-set"}
    import os

    env = {**os.environ, **env_run}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "signer_tui",
            "--config",
            str(cfg),
            "secrets",
            "set",
            "db-main",
            "--stdin",
        ],
        input=CANARY,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for args in (["secrets", "list"], ["config", "show"], ["locate"]):
        result = subprocess.run(
            [sys.executable, "-m", "signer_tui", "--config", str(cfg), *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert CANARY not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_set_refuses_empty_and_non_tty_without_stdin_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(["secrets", "set", "x1", "--stdin"], capsys, "\n")
    assert code == 2 and "empty secret" in text
    code, text = run(["secrets", "set", "x1"], capsys, "value")
    assert code == 2 and "--stdin" in text
    code, text = run(["secrets", "set", "bad name!", "--stdin"], capsys, "value")
    assert code == 2 and "not a valid secret name" in text


def test_secret_objects_do_not_print_themselves() -> None:
    secret = credentials.Secret(CANARY)
    assert CANARY not in repr(secret) and CANARY not in str(secret) and CANARY not in f"{secret}"
    assert credentials.REDACTOR(f"connection failed for {CANARY}") == "connection failed for ***"


def test_plaintext_backend_is_refused_unless_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.setattr(keyring, "get_keyring", lambda: PlaintextKeyring())
    monkeypatch.setattr(credentials, "_explicit_choice", lambda: False)
    credentials.reset_backend_cache()
    info = credentials.backend_info()
    assert not info.usable and "plain text" in info.reason
    with pytest.raises(SecretUnavailable) as exc:
        credentials.keyring_set("x1", "value")
    assert "keyrings.cryptfile" in exc.value.detail


def test_no_backend_gives_one_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    credentials.reset_backend_cache()
    code, text = run(["secrets", "set", "db-main", "--stdin"], capsys, "value")
    assert code == 1
    lines = text.strip().splitlines()
    assert len(lines) == 1
    assert "no usable keyring" in lines[0] and "signer-tui[headless]" in lines[0]
    code, text = run(["secrets", "list"], capsys)
    assert code == 1 and "NOT USABLE" in text


def test_hanging_keyring_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    class Hanging:
        def get_password(self, service: str, name: str) -> str:
            release.wait(5)
            return "late"

    credentials.reset_backend_cache()
    monkeypatch.setattr(
        credentials,
        "_select_backend",
        lambda: (Hanging(), credentials.BackendInfo("hang", True, True)),
    )
    with pytest.raises(SecretUnavailable) as exc:
        credentials.keyring_get("x1", timeout=0.2)
    release.set()
    assert exc.value.title == "keyring not answering"


def test_env_and_file_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SECRET", "from-env")
    (tmp_path / "s").write_text("from-file\n")
    assert credentials.resolve(SecretRef(kind="env", name="SOME_SECRET")).reveal() == "from-env"
    assert (
        credentials.resolve(SecretRef(kind="file", name=str(tmp_path / "s"))).reveal()
        == "from-file"
    )
    with pytest.raises(SecretUnavailable, match="not set"):
        credentials.resolve(SecretRef(kind="env", name="ABSENT_VAR_X"))
    with pytest.raises(SecretUnavailable, match="does not exist"):
        credentials.resolve(SecretRef(kind="file", name=str(tmp_path / "missing")))


def test_resolve_all_covers_every_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path)
    monkeypatch.setenv("TEST_BITCOIND_PASSWORD", "pw")
    loaded = load_config(cfg, environ={})
    resolved = {r.path: r for r in credentials.resolve_all(loaded.settings)}
    assert set(resolved) == {
        "signers[0].db.password",
        "signers[0].bitcoind.password",
        "signers[0].chain_api.api_key",
    }
    assert resolved["signers[0].bitcoind.password"].secret is not None
    assert "secrets set db-main" in resolved["signers[0].db.password"].error
