"""Issue 17: a two-line API key file made verify-backup print `Illegal header value b'...'`,
store it in the verification history and repeat it in every later check. Now the key is
refused as a header value (asked without it, saying why) and nothing stores the secret."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from signer_tui import cli
from signer_tui.verify import history
from tests.verify.conftest import DumpSet, VerifyConfig


def test_two_line_api_key_is_refused_and_never_stored(
    verify_dumps: DumpSet,
    verify_config: VerifyConfig,
    scratch_tmp: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "hiro-key"
    first, second = "first-line-canary-7f3a", "second-line-canary-91bc"
    key_file.write_text(f"{first}\n{second}\n")
    text = verify_config.path.read_text()
    text = re.sub(
        r"chain_api: \{url: (\S+), timeout: 2s\}",
        rf"chain_api: {{url: \1, timeout: 2s, api_key: {{file: {key_file}}}}}",
        text,
    )
    assert "api_key" in text
    verify_config.path.write_text(text)

    code = cli.main(["verify-backup", str(verify_dumps["custom"]), "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0, err
    assert doc["verdict"] == "verified"
    api = next(c for c in doc["keys"]["chain"] if c["source"] == "api")
    assert api["key"] is not None  # asked without the key, and answered
    stored = history.history_path().read_text()
    for where in (out, err, stored):
        assert "Illegal header" not in where
        assert first not in where and second not in where
