"""Structural properties that keep start-up fast (issue 16), checked in fresh interpreters.

Timings are the benchmark's business; these are the properties behind them: one SSL context
per process and none for plain-http services, no heavy imports on the paths that only print
(`--version`, `--help`, `check --help`), and `--version` before even the CLI loads.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from signer_tui import demo
from signer_tui.demo_scenarios import INCIDENT_NAMES

REPO = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# -- one SSL context per process ------------------------------------------------------------

COUNT_SSL = """
import asyncio, json, ssl

counts = {"contexts": 0, "ca_loads": 0}
real_new = ssl.SSLContext.__new__
real_load = ssl.SSLContext.load_verify_locations

def counting_new(cls, *args, **kwargs):
    counts["contexts"] += 1
    return real_new(cls, *args, **kwargs)

def counting_load(self, *args, **kwargs):
    counts["ca_loads"] += 1
    return real_load(self, *args, **kwargs)

ssl.SSLContext.__new__ = counting_new
ssl.SSLContext.load_verify_locations = counting_load

from signer_tui.sources.bitcoind import Bitcoind
from signer_tui.sources.github import GitHub
from signer_tui.sources.http import HttpService, shared_ssl_context
from signer_tui.sources.osv import Osv
from signer_tui.sources.signer import SignerApi

seen = {}

async def main():
    clients = []
    # 50 profiles' worth of loopback services over plain http, and the feeds' simulators.
    for port in range(50):
        clients.append(SignerApi(f"http://127.0.0.1:{8801 + port}"))
        clients.append(HttpService(f"http://127.0.0.1:{9184 + port}/metrics"))
    clients.append(GitHub("http://127.0.0.1:9999"))  # follows redirects; still plain http
    seen["http"] = dict(counts)
    for port in range(40):
        clients.append(HttpService(f"https://api-{port}.example.invalid"))
    clients.append(GitHub())
    clients.append(Osv())
    clients.append(HttpService("HTTPS://API.EXAMPLE.INVALID"))
    seen["https"] = dict(counts)
    seen["same"] = all(
        c._client._transport._pool._ssl_context is shared_ssl_context()
        for c in clients
        if c.base_url.lower().startswith("https://")
    )
    seen["none_for_http"] = all(
        c._client._transport._pool._ssl_context is None
        for c in clients
        if c.base_url.startswith("http://")
    )
    for client in clients:
        await client.aclose()

asyncio.run(main())
print(json.dumps(seen))
"""


def test_one_ssl_context_for_every_https_client_and_none_for_http() -> None:
    seen = json.loads(run_python(COUNT_SSL))
    assert seen["http"] == {"contexts": 0, "ca_loads": 0}, "a plain-http client built TLS state"
    assert seen["https"] == {"contexts": 1, "ca_loads": 1}, "https clients must share one"
    assert seen["same"] and seen["none_for_http"]


# -- nothing heavy on the paths that only print ---------------------------------------------

IMPORTS_OF = """
import contextlib, io, json, sys
from signer_tui import {module} as entry

out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        code = entry.main({argv!r})
    except SystemExit as exc:
        code = exc.code
print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
"""

HEAVY = ("psycopg", "textual", "rich", "signer_tui.sim", "signer_tui.ui", "signer_tui.demo")
# verify-backup's argument parser (stdlib and signer_tui.model only) registers the
# sub-command; everything else under signer_tui.verify is the restore machinery.
VERIFY_PARSER = {"signer_tui.verify", "signer_tui.verify.command"}


def heavy_imports(modules: list[str]) -> list[str]:
    return [
        name
        for name in modules
        if any(name == h or name.startswith(h + ".") for h in HEAVY)
        or (name.startswith("signer_tui.verify") and name not in VERIFY_PARSER)
    ]


@pytest.mark.parametrize(
    ("argv", "printed"),
    [
        (["--version"], "signer-tui "),
        (["--help"], "verify-backup"),
        (["check", "--help"], "--prometheus"),
        (["demo", "--help"], "stop-signer"),  # the scenario names, without the demo
        (["verify-backup", "--help"], "--latest"),
    ],
    ids=["version", "help", "check-help", "demo-help", "verify-help"],
)
def test_printing_paths_import_nothing_heavy(argv: list[str], printed: str) -> None:
    # Through the console script's entry point, as `signer-tui ...` runs.
    seen = json.loads(run_python(IMPORTS_OF.format(module="entry", argv=argv)))
    assert seen["code"] == 0
    assert printed in seen["out"]
    assert heavy_imports(seen["modules"]) == []
    assert "signer_tui.verify.run" not in seen["modules"]


def test_version_is_answered_before_the_cli_and_its_config_schema_load() -> None:
    fast = json.loads(run_python(IMPORTS_OF.format(module="entry", argv=["--version"])))
    modules = set(fast["modules"])
    assert not modules & {"signer_tui.cli", "signer_tui.config", "pydantic", "yaml", "httpx"}
    # The same words and exit code as argparse's own --version.
    full = json.loads(run_python(IMPORTS_OF.format(module="cli", argv=["--version"])))
    assert (fast["code"], fast["out"]) == (full["code"], full["out"]) == (0, fast["out"])
    assert fast["out"].startswith("signer-tui ")


def test_the_console_script_and_python_m_use_the_entry_point() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'signer-tui = "signer_tui.entry:main"' in pyproject
    assert "from signer_tui.entry import main" in (REPO / "signer_tui" / "__main__.py").read_text()


def test_the_heavy_list_would_catch_the_demo() -> None:
    # The detector itself: importing the demo pulls in everything it must flag.
    seen = json.loads(
        run_python(
            "import json, sys; import signer_tui.demo; print(json.dumps(sorted(sys.modules)))"
        )
    )
    flagged = heavy_imports(seen)
    for name in ("signer_tui.demo", "psycopg", "signer_tui.sim", "signer_tui.verify.cluster"):
        assert name in flagged


def test_the_cli_scenario_names_are_the_demo_incidents() -> None:
    assert INCIDENT_NAMES == demo.INCIDENT_NAMES == tuple(name for name, _ in demo.INCIDENTS)


def test_verification_failures_are_still_one_line_without_importing_them_up_front(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from signer_tui.cli import run_handler
    from signer_tui.pgdump.installs import BinariesError
    from signer_tui.verify.cluster import ClusterError

    def failing(exc: Exception) -> Callable[[argparse.Namespace], int]:
        def handler(_args: argparse.Namespace) -> int:
            raise exc

        return handler

    assert run_handler(failing(ClusterError("initdb failed: disk full")), argparse.Namespace()) == 1
    assert run_handler(failing(BinariesError("no pg_restore")), argparse.Namespace()) == 1
    assert capsys.readouterr().err.splitlines() == [
        "signer-tui: initdb failed: disk full",
        "signer-tui: no pg_restore",
    ]
    # Anything else is a bug and keeps its traceback.
    with pytest.raises(RuntimeError):
        run_handler(failing(RuntimeError("bug")), argparse.Namespace())


# -- `check` up to its first poll -----------------------------------------------------------

CHECK_UNTIL_POLLING = """
import json, sys
from signer_tui import entry

# What entry.main does first; the patch below needs the pipeline module imported before it.
entry.skip_unused_imports()
from signer_tui.pipeline import build

seen = {{}}

async def first_poll(self, *args, **kwargs):
    # Stop where polling starts: what is loaded now was loaded only to get here.
    seen["modules"] = sorted(k for k, v in sys.modules.items() if v is not None)
    return []

build.Pipeline.collect_once = first_poll

code = entry.main(["--config", {config!r}, "check", "--json", "--no-memory"])
print(json.dumps({{"code": code, "modules": seen.get("modules")}}))
"""

CHECK_CONFIG = """
signers:
  - name: main
    network: mainnet
    signer: {api_url: "http://127.0.0.1:1", metrics_url: "http://127.0.0.1:1/metrics"}
    db: {host: 127.0.0.1, port: 1, dbname: signer, user: ro, password: "x"}
    bitcoind: {url: "http://127.0.0.1:1", user: u, password: p}
    stacks: {rpc_url: "http://127.0.0.1:1"}
    chain_api: {url: "http://127.0.0.1:1"}
    backups: {kind: pg_dump, location: /nonexistent}
"""


def test_check_builds_its_pipeline_without_psycopg_the_demo_or_verification(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CHECK_CONFIG)
    stdout = run_python(CHECK_UNTIL_POLLING.format(config=str(config))).splitlines()[-1]
    seen = json.loads(stdout)
    modules = seen["modules"]
    assert modules is not None, "check never reached its polls"
    # Every check is registered and the DB source is built (its poll imports psycopg)…
    assert "signer_tui.checks.aggregate_key" in modules
    assert "signer_tui.checks.db_posture" in modules
    assert "signer_tui.sources.catalog" in modules
    # …but nothing heavy is loaded for it: not even httpx's command-line tool (rich, click,
    # pygments) or trio, which httpcore loads whenever it is installed (entry.UNUSED_IMPORTS).
    assert heavy_imports(modules) == []
    assert not {"httpx._main", "click", "pygments", "trio"} & set(modules)
    assert "httpx" in modules


def test_the_db_poll_still_reads_through_psycopg() -> None:
    # The lazy import is inside the poll: a DB poll against nothing answers with a DB error.
    out = run_python(
        """
        import json
        from signer_tui.config import Settings
        from signer_tui.credentials import SecretStore
        from signer_tui.pipeline.build import build_pipeline
        from signer_tui.sources.catalog import DB

        settings = Settings.model_validate({"signers": [{
            "name": "m", "network": "mainnet",
            "signer": {"api_url": "http://127.0.0.1:1"},
            "db": {"host": "127.0.0.1", "port": 1, "connect_timeout": "2s"},
            "bitcoind": {"url": "http://127.0.0.1:1", "user": "u", "password": "p"},
            "stacks": {"rpc_url": "http://127.0.0.1:1"},
            "posture": {"enabled": False}}]})
        pipeline = build_pipeline(settings, SecretStore())
        job = pipeline.profiles[0].job(DB)
        try:
            job.poll.call()
        except Exception as exc:
            print(json.dumps({"type": type(exc).__name__, "title": getattr(exc, "title", "")}))
        """
    )
    seen = json.loads(out.splitlines()[-1])
    assert seen["type"] == "DatabaseUnreachable", seen


# -- the console up to its first frame ------------------------------------------------------

CONSOLE_UNTIL_RUN = """
import json, sys
from signer_tui import entry

entry.skip_unused_imports()
from signer_tui.ui import app as console

seen = {{}}

def first_frame(self, **kwargs):
    # Stop where Textual takes over: what is loaded now delays the first frame.
    seen["modules"] = sorted(k for k, v in sys.modules.items() if v is not None)

console.SignerApp.run = first_frame
code = entry.main(["--config", {config!r}])
print(json.dumps({{"code": code, "modules": seen.get("modules")}}))
"""


def test_the_console_paints_before_loading_psycopg_verification_or_help(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CHECK_CONFIG)
    seen = json.loads(run_python(CONSOLE_UNTIL_RUN.format(config=str(config))).splitlines()[-1])
    modules = seen["modules"]
    assert modules is not None, "the console never started"
    assert "textual.app" in modules and "signer_tui.pipeline.build" in modules
    late = ("psycopg", "signer_tui.verify.run", "signer_tui.verify.dump", "markdown_it", "trio")
    assert [m for m in modules if m.split(".")[0] in late or m in late] == []
