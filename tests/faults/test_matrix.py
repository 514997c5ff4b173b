"""The fault matrix: every HTTP source x every fault, black-box through `check --json`.

Each cell starts seven independent fake servers (tests/faults/fakes.py), six healthy and one
faulty (or a port nothing listens on), and runs `python -m signer_tui check --json --settle 0`
against them with 1.5 s source timeouts. Per cell:
* no traceback, an exit code of check's (0/1/3/4), the JSON parses;
* within BOUND seconds (every source has a 1.5 s deadline; the release feeds make at most
  two rounds, the DB one 2 + 1 s poll);
* every finding that depends on the faulty source is not OK, and says why; the healthy
  baseline cell shows those same findings OK, so the assertion has teeth;
* no string in the output carries an escape, control, bidi or separator character;
* no canary secret (keyring, env and file references) appears, in any encoding, in stdout,
  stderr, the Prometheus textfile, or any file under the state and cache dirs.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.faults import fakes

# The module-scoped matrix (83 cells, six at a time) is set up inside the first test: give it
# more than the suite's per-test bound, so a slow machine fails on verdicts, not on time.
pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
# Seconds per `check` run, interpreter start-up included. Sources time out after 1.5 s and
# the DB poll after 2 s (connect_timeout is at least 2 s in libpq); a run takes 3-8 s alone
# and up to ~17 s with six running at once on two busy cores, hence the margin.
BOUND = 30.0
SERVICES = tuple(fakes.HEALTHY)
LONG_NUMBER = re.compile(r"\d{60,}")

# Findings each source's data decides; with that source broken none of them may be OK.
AFFECTED: dict[str, tuple[str, ...]] = {
    "stacks": ("node.stacks.", "release.stacks"),
    "chain_api": ("key.api", "key.sources"),
    "bitcoind": ("node.bitcoind.", "release.bitcoind"),
    "signer": ("node.signer.alive", "node.signer.tips"),
    "metrics": ("node.signer.metrics", "node.signer.peers", "node.signer.observing"),
    "github": ("release.",),
    "osv": ("release.bitcoind", "release.feed"),
}
# An empty 200 is exactly the signer's healthy liveness answer on `/`.
# (and a drip of its zero bytes takes no time).
EXEMPT = {
    ("signer", "empty"): ("node.signer.alive",),
    ("signer", "drip"): ("node.signer.alive",),
}

# Secrets that cannot be an HTTP header value (issue 17: a two-line API key file printed
# `Illegal header value b'...'`; a non-ASCII token raised UnicodeEncodeError).
SECRET_CELLS = [("secrets", "multiline_api_key"), ("secrets", "non_ascii_token")]

CELLS = (
    [("baseline", "healthy")]
    + [(service, mode) for service in SERVICES for mode in (*fakes.MODES, "escape")]
    + [("github", mode) for mode in fakes.GITHUB_EMPTY]
    + SECRET_CELLS
)
AFFECTED["secrets"] = ()
SECRET_AFFECTED = {"multiline_api_key": ("key.api",), "non_ascii_token": ("release.",)}


@dataclass
class Outcome:
    cell: str
    seconds: float
    returncode: int
    stdout: str
    stderr: str
    text_output: str = ""
    leaks: list[str] = field(default_factory=list)
    bitcoind_auth: set[str] = field(default_factory=set)  # Authorization headers received

    def findings(self) -> dict[str, dict[str, Any]]:
        doc = json.loads(self.stdout)
        return {f["id"]: f for p in doc["profiles"] for f in p["findings"]}


def _canaries() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {
        "FAULT_GH_TOKEN": f"ghp_canaryGithub{tag}",
        "FAULT_DB_PW": f"canary-db-{tag}",
        "api_key_file": f"canary-hiro-{tag}",
    }


def _encodings(secret: str) -> set[str]:
    found = {
        secret,
        quote(secret, safe=""),
        base64.b64encode(f"signer:{secret}".encode()).decode(),
        json.dumps(secret)[1:-1],
        repr(secret.encode())[2:-1],
    }
    found.update(line for line in secret.splitlines() if len(line) >= 8)
    return found


def _config(tmp: Path, urls: dict[str, str], db_port: int, key_file: Path) -> Path:
    timeout = "1500ms"
    text = f"""\
signers:
  - name: fault
    network: mainnet
    signer:
      api_url: {urls["signer"]}
      metrics_url: {urls["metrics"]}/metrics
      timeout: {timeout}
    db:
      host: 127.0.0.1
      port: {db_port}
      password: {{env: FAULT_DB_PW}}
      connect_timeout: 1s
      statement_timeout: 1s
    bitcoind:
      url: {urls["bitcoind"]}
      user: signer
      password: {{keyring: fault-bitcoind}}
      timeout: {timeout}
    stacks:
      rpc_url: {urls["stacks"]}
      timeout: {timeout}
    chain_api:
      url: {urls["chain_api"]}
      api_key: {{file: {key_file}}}
      timeout: {timeout}
releases:
  github_api: {urls["github"]}
  osv_api: {urls["osv"]}
  github_token: {{env: FAULT_GH_TOKEN}}
  timeout: {timeout}
"""
    path = tmp / "config.yaml"
    path.write_text(text)
    return path


# The bitcoind password lives in an encrypted file keyring (the headless backend), stored once
# through the CLI and copied into every cell's data dir.
KEYRING_NAME = "fault-bitcoind"
KEYRING_CANARY = f"canary-keyring-{uuid.uuid4().hex[:10]}"
KEYRING_ENV = {
    "PYTHON_KEYRING_BACKEND": "keyrings.cryptfile.cryptfile.CryptFileKeyring",
    "KEYRING_CRYPTFILE_PASSWORD": "fault-matrix-keyring-password",
}


def make_keyring(root: Path) -> Path:
    """A data dir holding KEYRING_NAME = KEYRING_CANARY, written by `secrets set --stdin`."""
    home = root / "keyring-home"
    env = _env(home, {})
    subprocess.run(
        [sys.executable, "-m", "signer_tui", "secrets", "set", KEYRING_NAME, "--stdin"],
        input=KEYRING_CANARY + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return home / "data"


def _env(home: Path, canaries: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNER_TUI_", "PG"))}
    env.update(KEYRING_ENV)
    env["PYTHONPATH"] = str(REPO)
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        (home / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    env.update({k: v for k, v in canaries.items() if k.startswith("FAULT_")})
    return env


def run_cell(service: str, mode: str, root: Path, keyring_data: Path) -> Outcome:
    cell = f"{service}/{mode}"
    tmp = root / cell.replace("/", "-")
    tmp.mkdir(parents=True)
    canaries = _canaries()
    key_file = tmp / "hiro-api-key"
    if mode == "multiline_api_key":
        canaries["api_key_file"] += "\nsecond-line-" + uuid.uuid4().hex[:8]
    if mode == "non_ascii_token":
        canaries["FAULT_GH_TOKEN"] += "\u201cquoted\u201d"
    key_file.write_text(canaries["api_key_file"] + "\n")
    servers: list[fakes.FakeService] = []
    bitcoind_server: fakes.FakeService | None = None
    urls: dict[str, str] = {}
    for name in SERVICES:
        if name == service and mode == "refused":
            urls[name] = f"http://127.0.0.1:{fakes.refused_port()}"
            continue
        faulted = name == service
        route = fakes.faulty(name, mode) if faulted else fakes.HEALTHY[name]
        transport = mode if faulted and mode in ("hang", "drip", "huge") else "healthy"
        server = fakes.FakeService(route, transport)
        servers.append(server)
        urls[name] = server.url
        if name == "bitcoind":
            bitcoind_server = server
    config = _config(tmp, urls, fakes.refused_port(), key_file)
    home = tmp / "home"
    env = _env(home, canaries)
    shutil.copytree(keyring_data, home / "data", dirs_exist_ok=True)
    canaries[f"keyring:{KEYRING_NAME}"] = KEYRING_CANARY
    prom = tmp / "signer.prom"
    command = [sys.executable, "-m", "signer_tui", "--config", str(config), "check"]
    try:
        started = time.monotonic()
        result = subprocess.run(
            [*command, "--json", "--settle", "0", "--prometheus", str(prom)],
            capture_output=True,
            text=True,
            env=env,
            timeout=BOUND * 3,
            check=False,
        )
        seconds = time.monotonic() - started
        text_output = ""
        if mode == "escape":
            text_output = subprocess.run(
                [*command, "--settle", "0", "--verbose"],
                capture_output=True,
                text=True,
                env=env,
                timeout=BOUND * 3,
                check=False,
            ).stdout
    finally:
        for server in servers:
            server.close()
    outcome = Outcome(cell, seconds, result.returncode, result.stdout, result.stderr, text_output)
    if bitcoind_server is not None:
        outcome.bitcoind_auth = {
            r.headers.get("authorization", "") for r in bitcoind_server.requests
        }
    haystacks = {"stdout": result.stdout, "stderr": result.stderr, "text": text_output}
    if prom.exists():
        haystacks["prometheus"] = prom.read_text(errors="replace")
    for path in home.rglob("*"):
        if path.is_file():
            haystacks[str(path.relative_to(home))] = path.read_text(errors="replace")
    for name, secret in canaries.items():
        for spelling in _encodings(secret):
            for where, text in haystacks.items():
                if spelling in text:
                    outcome.leaks.append(f"{name} in {where}")
    return outcome


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    root = tmp_path_factory.mktemp("faults")
    keyring_data = make_keyring(root)
    workers = max(2, min(6, (os.cpu_count() or 2) * 2))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = {
            f"{service}/{mode}": pool.submit(run_cell, service, mode, root, keyring_data)
            for service, mode in CELLS
        }
        yield {cell: future.result() for cell, future in futures.items()}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# Judged from the packaged support window (signer_tui/data/network_facts.yaml) and the version
# bitcoind itself reports: a feed outage or an unusable GitHub token does not take those away.
FEED_INDEPENDENT = ("release.bitcoind.eol",)


def _affected(service: str, mode: str, ids: list[str]) -> list[str]:
    exempt = EXEMPT.get((service, mode), ())
    if service in ("github", "osv"):
        exempt = (*exempt, *FEED_INDEPENDENT)
    return [fid for fid in ids if fid.startswith(AFFECTED[service]) and not fid.startswith(exempt)]


def check_cell(outcome: Outcome, service: str, mode: str, baseline: Outcome | None) -> list[str]:
    """Every problem of one cell (empty: the cell passes)."""
    problems: list[str] = []
    if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
        problems.append("traceback: " + outcome.stderr.strip().splitlines()[-1][:200])
    if outcome.returncode not in (0, 1, 3, 4):
        problems.append(f"exit {outcome.returncode}: {outcome.stderr.strip()[:200]}")
        return problems
    if outcome.seconds > BOUND:
        problems.append(f"took {outcome.seconds:.1f} s (bound {BOUND:g} s)")
    try:
        found = outcome.findings()
    except (ValueError, KeyError) as exc:
        return [*problems, f"output is not the JSON report: {exc}"]
    for text in _strings(json.loads(outcome.stdout)):
        if fakes.UNSAFE.search(text):
            problems.append(f"unsafe character in output: {text[:60]!r}")
            break
        if LONG_NUMBER.search(text):
            # -1e308 printed with :.0f is a 309-digit number (issue 17).
            problems.append(f"absurd number in output: {text[:60]!r}")
            break
    if fakes.UNSAFE.search(outcome.text_output.replace("\n", "")):
        problems.append("unsafe character in the text report")
    for fid, finding in found.items():
        if not finding["summary"].strip():
            problems.append(f"{fid}: no summary")
    problems += [f"canary leaked: {leak}" for leak in outcome.leaks]
    if service == "secrets":
        for fid, finding in found.items():
            if fid.startswith(SECRET_AFFECTED[mode]) and not fid.startswith(FEED_INDEPENDENT):
                if finding["status"] == "OK":
                    problems.append(f"{fid} OK with an unusable secret")
                if "cannot be a header" not in finding["summary"]:
                    problems.append(f"{fid} does not say why: {finding['summary']}")
        return problems
    if service == "baseline" or mode == "escape" or baseline is None:
        return problems
    healthy = baseline.findings()
    affected = _affected(service, mode, sorted(found))
    teeth = [fid for fid in affected if healthy.get(fid, {}).get("status") == "OK"]
    if not teeth:
        problems.append(f"baseline has no OK finding among {AFFECTED[service]}: no teeth")
    for fid in affected:
        if found[fid]["status"] == "OK":
            problems.append(f"{fid} OK without data: {found[fid]['summary']}")
    return problems


BASELINE_OK = (
    "node.bitcoind.",
    "node.stacks.synced",
    "node.stacks.burn_lag",
    "node.stacks.reachable",
    "node.stacks.peers",
    "node.signer.alive",
    "node.signer.tips",
    "node.signer.peers",
    "release.signer",
    "release.stacks",
    "release.bitcoind",
    "release.feed",
    "key.sources",
)


def test_baseline_is_healthy_where_it_can_be(
    outcomes: dict[str, Outcome], matrix_results: list[tuple[str, str, float, str]]
) -> None:
    """The fakes answer well enough that the checks go green: otherwise "not OK" proves
    nothing. (key.node/key.api and backups need the DB, which is down in every cell.)"""
    outcome = outcomes["baseline/healthy"]
    problems = check_cell(outcome, "baseline", "healthy", None)
    found = outcome.findings() if not problems else {}
    not_ok = [
        f"{fid}={f['status']} ({f['summary']})"
        for fid, f in found.items()
        if fid.startswith(BASELINE_OK) and f["status"] != "OK"
    ]
    matrix_results.append(
        (outcome.cell, "pass" if not problems + not_ok else "FAIL", outcome.seconds, "")
    )
    assert not problems, problems
    assert not not_ok, not_ok
    # The keyring canary really was resolved and sent (and so really was a secret in play).
    basic = base64.b64encode(f"signer:{KEYRING_CANARY}".encode()).decode()
    assert outcome.bitcoind_auth == {f"Basic {basic}"}


@pytest.mark.parametrize(("service", "mode"), CELLS[1:], ids=[f"{s}-{m}" for s, m in CELLS[1:]])
def test_cell(
    outcomes: dict[str, Outcome],
    matrix_results: list[tuple[str, str, float, str]],
    service: str,
    mode: str,
) -> None:
    outcome = outcomes[f"{service}/{mode}"]
    problems = check_cell(outcome, service, mode, outcomes["baseline/healthy"])
    note = "; ".join(problems)[:160] if problems else _verdicts(outcome, service)
    matrix_results.append((outcome.cell, "FAIL" if problems else "pass", outcome.seconds, note))
    assert not problems, problems


def _verdicts(outcome: Outcome, service: str) -> str:
    found = outcome.findings()
    ids = _affected(service, "", sorted(found)) if service in AFFECTED else []
    if service == "secrets":
        ids = [fid for fid in sorted(found) if fid.startswith(("key.api", "release.feed"))]
    return ", ".join(f"{fid}={found[fid]['status']}" for fid in ids[:3])
