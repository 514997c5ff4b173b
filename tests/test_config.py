"""Config loading: validation, every problem at once, env overrides, provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from signer_tui.cli import main
from signer_tui.config import ConfigError, load_config, parse_duration, resolved_items

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.yaml"

MINIMAL = """\
signers:
  - name: main
    network: mainnet
"""


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_config_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out
    loaded = load_config(EXAMPLE, environ={})
    assert [p.name for p in loaded.settings.signers] == ["mainnet", "testnet"]
    assert loaded.settings.signers[1].deployer == "SNGWPN3XDAQE673MXYXF81016M50NHF5X5PWWM70"


def test_example_documents_every_key() -> None:
    """Every leaf key of the models appears in the example file (so it documents them all)."""
    text = EXAMPLE.read_text()
    loaded = load_config(EXAMPLE, environ={})
    missing = set()
    for path, _value, _source in resolved_items(loaded):
        leaf = path.rsplit(".", 1)[-1].split("[")[0]
        if f"{leaf}:" not in text:
            missing.add(leaf)
    assert not missing


def test_three_mistakes_are_all_reported_with_suggestions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """\
signers:
  - name: main
    network: mainnet
    bitcoind:
      url: http://127.0.0.1:8332
      usr: signer
  - name: test
    network: tesnet
    stacks:
      rpc_url: htp://localhost:20443
""",
    )
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4
    assert err[0] == (
        f"{path}:6: signers[0].bitcoind.usr: unknown key 'usr' (did you mean 'user'?)"
    )
    assert err[1].startswith(f"{path}:8: signers[1].network: expected 'mainnet'")
    assert "did you mean 'testnet'?" in err[1]
    assert err[2].startswith(f"{path}:10: signers[1].stacks.rpc_url: expected an http://")
    assert err[3] == "signer-tui: 3 problems in the configuration"


def test_no_traceback_and_exit_2_for_yaml_syntax_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "signers:\n  - name: [unclosed\n")
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "YAML syntax error" in err and "Traceback" not in err
    assert f"{path}:" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "signers: required key is missing"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("signers: []\n", "signers: List should have at least 1 item"),
        (MINIMAL + "  - name: main\n    network: testnet\n", "profile names must be unique"),
    ],
)
def test_structural_problems(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(info.value)


def test_missing_file_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "no such config file" in err and "config.example.yaml" in err


def test_credentials_in_url_rejected_and_not_echoed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL + "    bitcoind:\n      url: http://alice:hunter22@127.0.0.1:8332\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    text = str(info.value)
    assert "credentials do not belong in the URL" in text
    assert "hunter22" not in text


def test_plain_secret_value_never_echoed_in_errors(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    db:\n      password: [s3cr3t-value]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "s3cr3t-value" not in str(info.value)
    assert "secret reference" in str(info.value)


def test_env_overrides_by_index_and_name_with_provenance(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    env = {
        "SIGNER_TUI_SIGNERS__MAIN__DB__HOST": "10.0.0.5",
        "SIGNER_TUI_SIGNERS__0__DB__PORT": "6432",
        "SIGNER_TUI_SIGNERS__0__DB__PASSWORD": "{keyring: db-main}",
        "SIGNER_TUI_UI__THEME": "ansi-dark",
        "SIGNER_TUI_CONFIG": "ignored-here",
    }
    loaded = load_config(path, environ=env)
    db = loaded.settings.signers[0].db
    assert (db.host, db.port) == ("10.0.0.5", 6432)
    assert db.password is not None and db.password.display() == "keyring:db-main"
    assert loaded.settings.ui.theme == "ansi-dark"
    sources = {p: s for p, _v, s in resolved_items(loaded)}
    assert sources["signers[0].db.host"] == "env SIGNER_TUI_SIGNERS__MAIN__DB__HOST"
    assert sources["signers[0].network"] == f"{path}:3"
    assert sources["signers[0].db.sslmode"] == "default"
    assert sources["signers[0].deployer"] == "default for the network"


def test_env_override_mistakes_are_reported(tmp_path: Path) -> None:
    env = {"SIGNER_TUI_SIGNERS__0__DB__HOTS": "x", "SIGNER_TUI_SIGNERS__9__DB__HOST": "y"}
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MINIMAL), environ=env)
    text = str(info.value)
    assert "SIGNER_TUI_SIGNERS__0__DB__HOTS: unknown key 'hots' in override" in text
    assert "did you mean 'host'?" in text
    assert "no list item '9'" in text


def test_config_env_var_selects_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL, "chosen.yaml")
    monkeypatch.setenv("SIGNER_TUI_CONFIG", str(path))
    assert main(["config", "validate"]) == 0
    assert str(path) in capsys.readouterr().out
    assert main(["locate"]) == 0
    assert f"{path}" in capsys.readouterr().out


def test_config_show_lists_sources_and_hides_plain_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, MINIMAL + "    db:\n      password: plain-canary-9c1f\n")
    assert main(["--config", str(path), "config", "show"]) == 0
    text = capsys.readouterr().out
    assert "plain-canary-9c1f" not in text
    assert "<plain text in config, hidden>" in text
    assert "signers[0].chain_api.url" in text and "https://api.hiro.so" in text
    assert main(["--config", str(path), "config", "show", "--json"]) == 0
    assert "plain-canary-9c1f" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "seconds"), [("15s", 15), ("5m", 300), ("24h", 86400), ("7d", 604800), (30, 30)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["fast", "-5s", 0, True, "5 parsecs"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_backups_need_their_location(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "    backups:\n      kind: pgbackrest\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "signers[0].backups: kind pgbackrest needs 'stanza'" in str(info.value)


def test_unknown_keymap_id_suggests(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "ui:\n  keymap:\n    refesh: f5\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "did you mean 'refresh'?" in str(info.value)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from signer_tui import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"signer-tui {__version__}"
