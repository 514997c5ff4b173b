"""A simulated Hiro-style chain API (wire-formats.md §1.6), answering from `SimState`.

`/v2/*` is a transparent proxy to a stacks node that shares the state but serves the API's own
registry view (`hiro_key_override`), upstream headers included. The API's own routes answer
JSON errors `{"error", "message"}`; it enforces `hiro_api_key` (401), answers 429 with
`retry-after` while `hiro_rate_limited`, sends the rate-limit headers on every answer, and
redirects `/extended/v1/status` and `/` to `/extended` (the post-fastify behaviour).
"""

from __future__ import annotations

import threading
import time

from signer_tui.sim.server import SimApp, SimRequest, SimResponse
from signer_tui.sim.stacks import StacksNodeSim, index_block_id
from signer_tui.sim.state import SimState

API_VERSION = "stacks-blockchain-api v9.0.2 (master:759c4a58)"
# Per-minute limits with and without an API key (Hiro's documented values change; these are
# only what the simulator announces).
LIMIT_WITH_KEY = 500
LIMIT_WITHOUT_KEY = 50
MONTH_LIMIT = 1_000_000


def _error(status: int, error: str, message: str) -> SimResponse:
    return SimResponse.json({"error": error, "message": message, "statusCode": status}, status)


class HiroApiSim(SimApp):
    service = "hiro"

    def __init__(self, state: SimState) -> None:
        super().__init__(state)
        self.node = StacksNodeSim(state, registry_service=self.service)
        self._lock = threading.Lock()
        self._window = 0
        self._used = 0

    def server_error(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/v2/"):
            return self._proxied(self.node.server_error(request))
        return _error(500, "Internal Server Error", "An internal server error occurred")

    def handle(self, request: SimRequest) -> SimResponse:
        expected = self.state.hiro_api_key
        given = request.headers.get("x-api-key")
        if expected is not None and given != expected:
            message = "Invalid API key" if given else "An x-api-key header is required"
            return _error(401, "Unauthorized", message)
        limit = LIMIT_WITH_KEY if given else LIMIT_WITHOUT_KEY
        if self.state.hiro_rate_limited:
            response = _error(429, "Too Many Requests", "Rate limit exceeded, retry later")
            response.headers.append(("retry-after", str(self.state.hiro_retry_after)))
            response.headers += self._rate_headers(limit, remaining=0)
            return response
        response = self._route(request)
        response.headers += self._rate_headers(limit, remaining=self._count(limit))
        return response

    def _route(self, request: SimRequest) -> SimResponse:
        path = request.path
        if path.startswith("/v2/"):
            return self._proxied(self.node.handle(request))
        if request.method == "GET" and path in ("/", "/extended/v1/status"):
            return SimResponse(301, b"", None, [("Location", "/extended")])
        if request.method == "GET" and path in ("/extended", "/extended/"):
            return SimResponse.json(self._status())
        return _error(404, "Not Found", f"Route {request.method}:{path} not found")

    def _proxied(self, response: SimResponse) -> SimResponse:
        response.headers = self.node.common_headers() + response.headers
        return response

    def _status(self) -> dict[str, object]:
        state = self.state
        with state.lock:
            height = state.stacks_height
            return {
                "server_version": API_VERSION,
                "status": "ready",
                "chain_tip": {
                    "block_height": height,
                    "block_hash": "0x" + state.stacks_hash(height),
                    "index_block_hash": "0x" + index_block_id(state, height),
                    "microblock_hash": "0x" + "00" * 32,
                    "microblock_sequence": 0,
                    "burn_block_height": state.stacks_burn_height,
                },
            }

    def _count(self, limit: int) -> int:
        """Count this request in the current one-minute window; return what is left."""
        with self._lock:
            window = int(time.time() // 60)
            if window != self._window:
                self._window, self._used = window, 0
            self._used += 1
            return max(0, limit - self._used)

    def _rate_headers(self, limit: int, *, remaining: int) -> list[tuple[str, str]]:
        reset = (int(time.time() // 60) + 1) * 60
        return [
            ("ratelimit-limit", str(limit)),
            ("ratelimit-remaining", str(remaining)),
            ("ratelimit-reset", str(reset)),
            ("x-ratelimit-cost-stacks", "1"),
            ("x-ratelimit-limit-stacks-second", str(max(1, limit // 60))),
            ("x-ratelimit-limit-stacks-minute", str(limit)),
            ("x-ratelimit-limit-stacks-month", str(MONTH_LIMIT)),
            ("x-ratelimit-remaining-stacks-second", str(min(remaining, max(1, limit // 60)))),
            ("x-ratelimit-remaining-stacks-minute", str(remaining)),
            ("x-ratelimit-remaining-stacks-month", str(MONTH_LIMIT - self._used)),
        ]
