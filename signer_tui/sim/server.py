"""A small threaded HTTP/1.1 server on loopback that hosts one simulated service.

Each simulator is a `SimApp` with a `handle(request) -> SimResponse` method. The server applies
the generic transport faults (hang, slow drip, oversized body, malformed JSON, wrong content
type, refused connections) from the shared `SimState`, so every service can misbehave the
same ways a real one does on a bad night.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from signer_tui.sim.state import Fault, SimState

# Sizes chosen to exceed every client's cap (4 MiB) without taking long on loopback.
OVERSIZED_BYTES = 6 * 1024 * 1024
DRIP_INTERVAL = 0.5


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class SimResponse:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> SimResponse:
        return cls(status, json.dumps(value).encode(), "application/json", list(headers or []))

    @classmethod
    def text(
        cls, text: str, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> SimResponse:
        return cls(status, text.encode(), "text/plain", list(headers or []))


class SimApp:
    """Base class of a simulated service."""

    service = "sim"

    def __init__(self, state: SimState) -> None:
        self.state = state

    def handle(self, request: SimRequest) -> SimResponse:
        raise NotImplementedError

    def server_error(self, request: SimRequest) -> SimResponse:
        """The service's own shape of an internal error (a text body unless overridden)."""
        return SimResponse.text("Internal Server Error", 500)

    def common_headers(self) -> list[tuple[str, str]]:
        return []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server writes the headers and the body in two sends: with Nagle's algorithm on,
    # the body waits for the client's delayed ACK of the headers, 40 ms on every answer.
    # The real services answer in one go (their latency on loopback is well under 1 ms).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def handle_one_request(self) -> None:
        # A stopped server answers nothing more on a kept-alive connection.
        if self.server.closing.is_set():
            self.close_connection = True
            return
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError):
            # The client went away (a console that was killed with its kept-alive
            # connections): what a real service sees, not an error of the simulator.
            self.close_connection = True

    def _serve(self) -> None:
        sim = self.server.sim
        if self.server.closing.is_set():
            # The request was read as the process "died": no answer, just a closed socket.
            self.close_connection = True
            return
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        sim.requests.append(request)
        fault = sim.app.state.fault_for(sim.app.service)
        if fault is Fault.TIMEOUT:
            # Hang without answering until the client gives up or the server stops.
            sim.app.state.stopping.wait(sim.app.state.hang_seconds)
            self.close_connection = True
            return
        if fault is Fault.RESET:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is Fault.HTTP_500:
            response = sim.app.server_error(request)
        else:
            response = sim.app.handle(request)
        if fault is Fault.MALFORMED_JSON:
            response = SimResponse(200, response.body[: max(1, len(response.body) // 2)] or b"{")
            response.body += b'",'
        elif fault is Fault.WRONG_CONTENT_TYPE:
            response = SimResponse(
                200,
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                "text/html; charset=utf-8",
            )
        self._write(response, fault)

    def _write(self, response: SimResponse, fault: Fault) -> None:
        sim = self.server.sim
        self.send_response_only(response.status)
        self.send_header("Date", formatdate(usegmt=True))
        for name, value in sim.app.common_headers():
            self.send_header(name, value)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        if fault is Fault.OVERSIZED:
            self.send_header("Content-Length", str(OVERSIZED_BYTES))
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(OVERSIZED_BYTES // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if fault is Fault.SLOW_DRIP:
            try:
                for byte in response.body:
                    if sim.app.state.stopping.wait(DRIP_INTERVAL):
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
            except OSError:
                pass
            return
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _Server(ThreadingHTTPServer):
    """Tracks its open client connections, so stopping it closes them as a dying process would."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5: a sixth simultaneous connect (a console starting
    # with several profiles) waited for the kernel's 1 s SYN retry. Real servers listen
    # with far more (bitcoind and the Stacks node: 128 and up).
    request_queue_size = 128

    def __init__(self, sim: SimServer, address: tuple[str, int]) -> None:
        self.sim = sim
        self.closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        # Connections accepted since start (a client that keeps them alive opens few).
        self.accepted = 0
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            if self.closing.is_set():
                refuse = True
            else:
                refuse = False
                self._connections.add(request)
                self.accepted += 1
        if refuse:
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        # Called once per connection, when its handler thread is done with it.
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Refuse further requests and shut every open connection down (both directions).

        Only `shutdown()` here: each handler thread still owns its socket and closes it when it
        wakes up to the end of its stream, so no descriptor is closed under a thread's feet."""
        with self._connections_lock:
            self.closing.set()
            open_now = list(self._connections)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def open_connections(self) -> int:
        with self._connections_lock:
            return len(self._connections)


class SimServer:
    """Runs one `SimApp` on 127.0.0.1 in a background thread."""

    def __init__(self, app: SimApp, port: int = 0) -> None:
        self.app = app
        self.requests: list[SimRequest] = []
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> SimServer:
        if self._server is not None:
            return self
        server = _Server(self, ("127.0.0.1", self._port))
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sim-{self.app.service}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Die like a process: stop listening (new connections are refused) and close every
        open connection, so a client's kept-alive connection gets no more answers."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close_connections()  # from now on, nothing accepted gets served
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def open_connections(self) -> int:
        """Client connections the server holds open (0 when stopped)."""
        return 0 if self._server is None else self._server.open_connections()

    def accepted(self) -> int:
        """Client connections accepted since the last start."""
        return 0 if self._server is None else self._server.accepted

    def restart(self) -> None:
        """Listen again on the same port (a restarted process)."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self.start()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
