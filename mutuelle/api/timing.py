"""``Server-Timing`` on the API's answers: how long the server worked on a request (from its
first byte in to its headers out), for browsers' developer tools and ``bench/api.py``, which
thus tell the server's time from the network's and the client's."""

from __future__ import annotations

import time
from typing import Any

#: Paths whose answers say how long they took.
TIMED_PREFIXES = ("/api/", "/tiles/", "/explore/dataset/")


class ServerTiming:
    """ASGI middleware adding ``Server-Timing: app;dur=<ms>`` to the answers of the APIs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(TIMED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000
                headers = [*message.get("headers", []),
                           (b"server-timing", f"app;dur={spent:.2f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_timed)
