"""`signer-tui demo --web` in headless Chromium: the page must show the dashboard.

The browser terminal draws on a canvas, so the test records what the page receives over its
WebSocket (a script injected through the DevTools protocol before the page loads) and looks
for the panes in it, then takes a screenshot of the page.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import leftovers

pytestmark = pytest.mark.slow

# Collect every binary WebSocket frame the page receives, as text.
HOOK = """
(() => {
  const Native = window.WebSocket;
  window.__signerText = "";
  const decoder = new TextDecoder();
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        window.__signerText += decoder.decode(new Uint8Array(event.data), {stream: true});
        if (window.__signerText.length > 2000000) {
          window.__signerText = window.__signerText.slice(-1000000);
        }
      }
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, Native);
})();
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed (apt-get install chromium; .ci/run does this)")


def web_demo_server(tmp_path: Path, tmpdir: Path) -> Iterator[int]:
    port = free_port()
    env = dict(os.environ)
    env["TMPDIR"] = str(tmpdir)  # every visitor's demo inherits it: judged in there only
    for name in ("CONFIG", "STATE", "CACHE", "DATA"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    server = subprocess.Popen(
        [sys.executable, "-m", "signer_tui", "demo", "--web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "web.log").open("w"),
        start_new_session=True,
    )
    try:
        wait_for_port(port, 30)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def browser_process(tmp_path: Path) -> Iterator[int]:
    profile = tmp_path / "chromium"
    proc = subprocess.Popen(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not active.exists():
            time.sleep(0.1)
        assert active.exists(), "Chromium did not start its DevTools endpoint"
        yield int(active.read_text().split()[0])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class DevTools:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = await self.ws.receive_json(timeout=30)
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result


async def visit(devtools_port: int, url: str, shot: Path) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{devtools_port}/json/list") as reply:
            targets = await reply.json()
        page = next(t for t in targets if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            await tools.call("Page.enable")
            await tools.call("Page.addScriptToEvaluateOnNewDocument", source=HOOK)
            await tools.call("Page.navigate", url=url)
            text = ""
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                result = await tools.call(
                    "Runtime.evaluate", expression="window.__signerText || ''"
                )
                text = result["result"].get("value", "")
                if all(
                    marker in text
                    for marker in ("Aggregate key", "Backups", "own node key", "bitcoind up")
                ):
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)
            image = await tools.call("Page.captureScreenshot", format="png")
            shot.write_bytes(base64.b64decode(image["data"]))
            return text


def test_web_demo_shows_the_dashboard(tmp_path: Path, demo_tmpdir: Path) -> None:
    with contextlib.ExitStack() as stack:
        web_port = stack.enter_context(
            contextlib.contextmanager(web_demo_server)(tmp_path, demo_tmpdir)
        )
        devtools_port = stack.enter_context(contextlib.contextmanager(browser_process)(tmp_path))
        check_page(devtools_port, web_port, tmp_path)
    # Closing the browser and stopping the server ends every per-visitor demo, cleanly.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and leftovers(demo_tmpdir):
        time.sleep(0.2)
    assert leftovers(demo_tmpdir) == [], "a served demo left its temp directory behind"


def check_page(browser: int, web_demo: int, tmp_path: Path) -> None:
    shot = tmp_path / "web-demo.png"
    text = asyncio.run(visit(browser, f"http://127.0.0.1:{web_demo}/", shot))
    for marker in ("Backups", "Aggregate key", "Node health", "Releases & advisories"):
        assert marker in text, f"{marker!r} never reached the browser"
    assert "own node key" in text and "bitcoind up" in text  # populated, not just a frame
    assert shot.stat().st_size > 10_000  # a real screenshot, not a blank page
