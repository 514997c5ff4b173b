"""Hostile configs: each is one clear `file:line` error, exit 2, no traceback, under a second.

The hand cases are the ones an attack on the loader found; hypothesis then throws generated
YAML documents and values at the same entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signer_tui.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
HEAD = "signers:\n  - name: main\n    network: mainnet\n"


def laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    return "\n".join(lines) + "\nsigners: *i\n"


# (name, file text, what the one error must say, the line it must name or None)
HAND_CASES: list[tuple[str, str, str, int | None]] = [
    ("duplicate-key", HEAD + "    network: testnet\n", "duplicate key 'network'", 4),
    ("timeout-inf", HEAD + "    stacks:\n      timeout: .inf\n", "finite", 5),
    ("timeout-nan", HEAD + "    stacks:\n      timeout: .nan\n", "finite", 5),
    ("timeout-1e308", HEAD + "    stacks:\n      timeout: 1.0e+308\n", "at most", 5),
    ("timeout-huge", HEAD + "    bitcoind:\n      timeout: 86400\n", "at most 10m", 5),
    ("poll-inf", HEAD + "    poll:\n      nodes: .inf\n", "finite", 5),
    ("poll-huge", HEAD + "    poll:\n      key: 1.0e+300\n", "at most", 5),
    ("port-true", HEAD + "    db:\n      port: true\n", "not true/false", 5),
    ("count-bool", HEAD + "    thresholds:\n      max_node_lag_blocks: false\n", "true/false", 5),
    ("count-huge", HEAD + "    thresholds:\n      max_peer_difference: 1.0e+300\n", "", 5),
    (
        "url-esc",
        HEAD + '    stacks:\n      rpc_url: "http://127.0.0.1:20443/\\e[2J"\n',
        "escape",
        5,
    ),
    ("url-bidi", HEAD + '    signer:\n      api_url: "http://a\\u202eb:1"\n', "bidi", 5),
    ("url-newline", HEAD + '    signer:\n      api_url: "http://a:1/\\nx"\n', "control", 5),
    ("url-httpx", HEAD + '    signer:\n      api_url: "http://[::1/"\n', "not a valid URL", 5),
    ("host-esc", HEAD + '    db:\n      host: "db\\e]52;c;aGk=\\a"\n', "escape", 5),
    ("alias-bomb", laughs(), "alias bomb", None),
    ("deep-nesting", "signers: " + "[" * 20000 + "]" * 20000 + "\n", "nested deeper", 1),
    ("deep-mapping", "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)), "nested", None),
    ("too-big", HEAD + "# " + "x" * (2 * 1024 * 1024) + "\n", "at most 1048576", None),
    ("not-utf8", HEAD + "    deployer: \xff\n", "UTF-8", 4),
]


def _check_one_error(path: Path, needle: str, line: int | None) -> None:
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert time.monotonic() - started < 1.0
    problems = info.value.problems
    assert len(problems) == 1, problems
    text = str(problems[0])
    assert needle in text
    assert text.startswith(str(path))
    if line is not None:
        assert problems[0].line == line, text
    assert "\x1b" not in text and "\u202e" not in text


@pytest.mark.parametrize(
    ("name", "text", "needle", "line"), HAND_CASES, ids=[c[0] for c in HAND_CASES]
)
def test_hand_case_is_one_clear_error(
    tmp_path: Path, name: str, text: str, needle: str, line: int | None
) -> None:
    path = tmp_path / f"{name}.yaml"
    if name == "not-utf8":
        path.write_bytes(text.encode("latin-1"))
    else:
        path.write_text(text, encoding="utf-8")
    _check_one_error(path, needle, line)


def _cli(args: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "signer_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_dev_zero_is_refused_at_once() -> None:
    result = _cli(["--config", "/dev/zero", "config", "validate"])
    assert result.returncode == 2
    assert "not a regular file (a character device)" in result.stderr
    assert "Traceback" not in result.stderr


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    result = _cli(["--config", str(fifo), "check", "--settle", "0"])
    assert result.returncode == 2
    assert "not a regular file (a FIFO)" in result.stderr


def test_directory_is_refused(tmp_path: Path) -> None:
    result = _cli(["--config", str(tmp_path), "config", "validate"])
    assert result.returncode == 2
    assert "a directory" in result.stderr


def test_twenty_megabytes_refused_in_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + "#" * (20 * 1024 * 1024))
    started = time.monotonic()
    result = _cli(["--config", str(path), "config", "validate"])
    assert result.returncode == 2
    assert "a config may be at most" in result.stderr
    # The interpreter's own start-up is most of this; the refusal itself is a stat().
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name", ["alias-bomb", "deep-nesting", "url-esc", "port-true"])
def test_cli_exit_2_without_traceback(tmp_path: Path, name: str) -> None:
    case = next(c for c in HAND_CASES if c[0] == name)
    path = tmp_path / "c.yaml"
    path.write_text(case[1], encoding="utf-8")
    for command in (["config", "validate"], ["check", "--settle", "0"]):
        result = _cli(["--config", str(path), *command])
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert case[2] in result.stderr
        assert "\x1b" not in result.stderr


# -- generated configs -----------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12), inner, max_size=4),
    ),
    max_leaves=30,
)
_KEYS = ["timeout", "port", "url", "rpc_url", "api_url", "host", "nodes", "connect_timeout"]


def _assert_clean_outcome(path: Path) -> None:
    started = time.monotonic()
    try:
        load_config(path, environ={})
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            text = str(problem)
            assert text.startswith(str(path)) or text.startswith("environment")
            assert "\x1b" not in text
    assert time.monotonic() - started < 1.0


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=_documents)
def test_generated_documents_never_crash(tmp_path: Path, document: object) -> None:
    path = tmp_path / "gen.yaml"
    path.write_text(
        yaml.safe_dump({"signers": [{"name": "m", "network": "mainnet", "x": document}]})
    )
    _assert_clean_outcome(path)
    path.write_text(yaml.safe_dump(document))
    _assert_clean_outcome(path)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    section=st.sampled_from(["stacks", "bitcoind", "signer", "db", "poll", "chain_api"]),
    key=st.sampled_from(_KEYS),
    value=_scalars,
)
def test_generated_values_never_crash(
    tmp_path: Path, section: str, key: str, value: object
) -> None:
    path = tmp_path / "gen.yaml"
    doc = {"signers": [{"name": "m", "network": "mainnet", section: {key: value}}]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _assert_clean_outcome(path)
    # Whatever validated must be something the sources can use: finite, bounded numbers and
    # URLs the HTTP client accepts.
    try:
        loaded = load_config(path, environ={})
    except ConfigError:
        return
    import math

    import httpx

    profile = loaded.settings.signers[0]
    for value_seen in (
        profile.stacks.timeout,
        profile.bitcoind.timeout,
        profile.signer.timeout,
        profile.db.connect_timeout,
        profile.poll.nodes,
    ):
        assert math.isfinite(value_seen) and 0 < value_seen <= 366 * 86400
    for url in (profile.stacks.rpc_url, profile.bitcoind.url, profile.signer.api_url):
        httpx.URL(url)
    assert not isinstance(profile.db.port, bool)
