"""What HTTP clients of the Explore API send that our routes do not spell out: ``HEAD`` (the
``GET`` answer's status and headers, no body) and the trailing slash Opendatasoft's clients put
after every path (``.../records/``), served without a redirect (a redirect after a browser's
preflight fails, and costs every call a round trip)."""

from __future__ import annotations

import asyncio
from typing import Any

#: Paths whose trailing slash is dropped: Opendatasoft's own path families.
SLASHED_PREFIXES = ("/api/explore/", "/api/records/1.0/", "/explore/dataset/")


class TrailingSlashes:
    """ASGI middleware: ``/api/explore/v2.1/catalog/datasets/x/records/`` is served as the
    same path without its last slash."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if len(path) > 1 and path.endswith("/") and path.startswith(SLASHED_PREFIXES):
            scope = {**scope, "path": path.rstrip("/") or "/"}
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"].rstrip(b"/") or b"/"
        await self.app(scope, receive, send)


class HeadAsGet:
    """ASGI middleware: a ``HEAD`` request runs as ``GET`` and its body is dropped; a streamed
    answer (an export) stops after its headers, as if the client had gone."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # Below ASGI 2.4 a streamed answer listens for the client's going: told so once the
        # headers are out, it stops producing the body instead of computing it for nothing.
        scope = {**scope, "method": "GET", "asgi": {**scope.get("asgi", {}), "spec_version": "2.0"}}
        started = asyncio.Event()
        ended = False
        body_read = False

        async def receive_until_headers() -> dict[str, Any]:
            nonlocal body_read
            if not body_read:  # the request itself (a GET has no body)
                body_read = True
                message: dict[str, Any] = await receive()
                return message
            await started.wait()
            return {"type": "http.disconnect"}

        async def send_headers_only(message: dict[str, Any]) -> None:
            nonlocal ended
            if message["type"] == "http.response.start":
                await send(message)
                started.set()
            elif message["type"] == "http.response.body" and not ended:
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app(scope, receive_until_headers, send_headers_only)
