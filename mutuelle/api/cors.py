"""Cross-origin reads of the public API (CORS): a page of another site may read what anyone
may read, as Opendatasoft's widgets and scripts do, and nothing that a cookie unlocks.

- ``GET``/``HEAD`` answers under the API's paths carry ``Access-Control-Allow-Origin`` (``*``
  by default: ``MUTUELLE_CORS_ORIGINS``) unless the request carried one of our cookies and
  the answer is not public: what a signed-in browser reads is never handed to another site's
  script, whatever the browser does with credentials. ``Access-Control-Allow-Credentials`` is
  never sent, so browsers do not even send cookies along with such reads.
- ``OPTIONS`` (a browser's preflight before a call with an ``Authorization: Apikey`` header)
  is answered here, before any route: ``GET`` and ``HEAD`` only, the headers a client of the
  Explore API sends; an API key sent that way is the caller's own choice to make.
"""

from __future__ import annotations

from typing import Any

from mutuelle.requests import SESSION_COOKIE

#: Paths answered with CORS headers: the APIs, tiles and Opendatasoft's legacy download path.
API_PREFIXES = ("/api/", "/tiles/", "/explore/dataset/")
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
#: Request headers a cross-origin caller may send (Opendatasoft clients send the first two).
ALLOWED_HEADERS = frozenset({"authorization", "accept", "accept-language", "content-language",
                             "if-none-match", "x-requested-with"})
EXPOSED_HEADERS = "ETag, Content-Disposition, Content-Language, Retry-After"
PREFLIGHT_MAX_AGE = "600"


def parse_origins(setting: str) -> frozenset[str] | None:
    """The origins of ``MUTUELLE_CORS_ORIGINS``; None means any (``*``)."""
    parts = {p.strip().rstrip("/") for p in setting.split(",") if p.strip()}
    return None if "*" in parts else frozenset(parts)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _has_our_cookie(scope: dict[str, Any]) -> bool:
    cookies = _header(scope, b"cookie") or ""
    return any(part.strip().startswith(f"{SESSION_COOKIE}=") for part in cookies.split(";"))


class CrossOrigin:
    """ASGI middleware: CORS headers on API answers and preflights answered (see the module)."""

    def __init__(self, app: Any, origins: str = "*") -> None:
        self.app = app
        self.origins = parse_origins(origins)
        self.any = self.origins is None

    def allowed(self, origin: str | None) -> str | None:
        """The value of Access-Control-Allow-Origin for a request from ``origin``, if any."""
        if self.any:
            return "*"
        if origin and self.origins and origin.rstrip("/") in self.origins:
            return origin
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        allow = self.allowed(origin)
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, send, allow)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        cookie = _has_our_cookie(scope)
        vary = not self.any

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                public = any(k.lower() == b"cache-control" and b"public" in v.lower()
                             for k, v in headers)
                if allow and (public or not cookie):
                    headers += [(b"access-control-allow-origin", allow.encode("latin-1")),
                                (b"access-control-expose-headers", EXPOSED_HEADERS.encode())]
                if vary:
                    headers.append((b"vary", b"Origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: dict[str, Any], send: Any, allow: str | None) -> None:
        headers = [(b"allow", ALLOWED_METHODS.encode()), (b"content-length", b"0"),
                   (b"cache-control", b"public, max-age=600")]
        wanted = (_header(scope, b"access-control-request-method") or "").upper()
        if allow and wanted in ("GET", "HEAD"):
            asked = {h.strip().lower() for h in
                     (_header(scope, b"access-control-request-headers") or "").split(",")
                     if h.strip()}
            granted = sorted(asked & ALLOWED_HEADERS)
            headers += [(b"access-control-allow-origin", allow.encode("latin-1")),
                        (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
                        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]
            if granted:
                headers.append((b"access-control-allow-headers", ", ".join(granted).encode()))
        if not self.any:
            headers.append((b"vary", b"Origin"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
