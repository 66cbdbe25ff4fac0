"""What every request brings, for the API routers and the web pages alike: the running app's
settings, a catalogue session, the viewer (who is asking), the client's address and the
portal's public URL; and the guard every unsafe request passes first (cross-site refusal,
CSRF token, no NUL in the address).

One module above the services and below ``api`` and ``web``, so that both take the same
FastAPI dependencies (``SessionDep``, ``SettingsDep``, ``ViewerDep``) without either importing
the other.

Who is asking: an API key (``Authorization: Apikey <key>`` or ``?apikey=``) when one is sent,
else the browser's session cookie, else the anonymous visitor. A client address never grants
anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from mutuelle.access import csrf
from mutuelle.access.addresses import client_address as address_behind_proxies
from mutuelle.access.policy import ANONYMOUS, Viewer
from mutuelle.access.signin import sign_out
from mutuelle.access.viewers import viewer_of_request
from mutuelle.core.config import Settings
from mutuelle.core.errors import Forbidden, InvalidInput, InvalidText

#: The cookie of a signed-in browser (a random token; the catalogue keeps its digest).
SESSION_COOKIE = "mutuelle_session"


class CrossSiteRefused(Forbidden):
    """An unsafe request sent by a page of another site (or another origin of this host)."""

    error_code = "CrossSiteRequest"


class CsrfRefused(Forbidden):
    """A form or a script call without the token of this browser and session."""

    error_code = "CsrfToken"


def get_settings(request: Request) -> Settings:
    """The settings of the running app."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A catalogue session for one request."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def api_key_of(request: Request) -> str | None:
    """The API key sent with a request, as Opendatasoft clients send it."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "apikey" and value.strip():
        return value.strip()
    return request.query_params.get("apikey") or None


def get_viewer(request: Request) -> Viewer:
    """Who is asking (resolved once per request; see ``access.viewers``)."""
    cached: Viewer | None = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    api_key = api_key_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    viewer, token_hash = ANONYMOUS, None
    if api_key or token:
        with request.app.state.sessions() as session:
            viewer, token_hash = viewer_of_request(session, get_settings(request),
                                                   session_token=token, api_key=api_key)
    request.state.viewer = viewer
    request.state.session_hash = token_hash
    request.state.by_key = bool(api_key)
    return viewer


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def base_url(request: Request, settings: Settings) -> str:
    """The portal's public URL (setting), else the one the request came through."""
    return (settings.base_url or str(request.base_url)).rstrip("/")


def client_address(request: Request) -> str:
    """The client's address (behind trusted proxies only), for logs and throttling."""
    peer = request.client.host if request.client else None
    return address_behind_proxies(peer, request.headers, get_settings(request).trusted_proxies)


# --- browser sessions -----------------------------------------------------------------------

def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_browser_session(request: Request, response: Response, token: str) -> None:
    """Give the browser its new session cookie (HttpOnly, SameSite=Lax, Secure under https)."""
    settings = get_settings(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=settings.session_max_hours * 3600,
                        httponly=True, samesite="lax", secure=_secure(request), path="/")


def end_browser_session(request: Request, response: Response, session: Session) -> None:
    """Sign the browser out: the session ends in the catalogue and the cookie goes."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_out(session, token)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=_secure(request))


def safe_next(target: str | None) -> str:
    """A ``?next=`` address if it stays on this site (a path), else ""."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return ""
    return target


# --- CSRF -----------------------------------------------------------------------------------

def csrf_nonce(request: Request) -> str:
    """This browser's CSRF nonce (from its cookie, or a new one ``remember_nonce`` will set)."""
    nonce = request.cookies.get(csrf.CSRF_COOKIE) or getattr(request.state, "new_csrf_nonce", None)
    if not nonce:
        nonce = csrf.new_nonce()
        request.state.new_csrf_nonce = nonce
    return nonce


def csrf_token(request: Request) -> str:
    """The token the page's forms carry (bound to the browser and its session)."""
    get_viewer(request)
    key = csrf.secret_key(get_settings(request))
    return csrf.form_token(key, csrf_nonce(request), getattr(request.state, "session_hash", None))


def remember_nonce(request: Request, response: Response) -> None:
    """Set the CSRF cookie when this request made a new nonce."""
    nonce = getattr(request.state, "new_csrf_nonce", None)
    if nonce:
        response.set_cookie(csrf.CSRF_COOKIE, nonce, httponly=True, samesite="lax",
                            secure=_secure(request), path="/")


def own_origins(request: Request) -> frozenset[str]:
    """The origins our own pages are served from."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"}
    base = get_settings(request).base_url
    if base:
        parts = urlsplit(base)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return frozenset(origins)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_at(value: Any, where: str) -> str | None:
    """Where a NUL character is in a parsed JSON body (a dotted path), if anywhere."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        path = f"{where}.{key}" if where else str(key)
        if "\x00" in str(key):
            return path
        found = _nul_at(item, path)
        if found is not None:
            return found
    return None


async def refuse_nul_in_body(request: Request) -> None:
    """Text with a NUL character in a form field or a JSON body is refused (422) before any
    route reads it: no catalogue stores NUL, and PostgreSQL cannot even compare it with its
    text (uploaded files are data, not text, and are left alone)."""
    kind = request.headers.get("content-type", "")
    if kind.startswith(_FORM_TYPES):
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str) and ("\x00" in value or "\x00" in name):
                raise InvalidText(f"{name.replace(chr(0), '')} holds a NUL character")
    elif "json" in kind:
        body = await request.body()
        if b"\\u0000" not in body:
            return
        try:
            where = _nul_at(json.loads(body), "")
        except ValueError:
            return  # not JSON: the route says so
        if where is not None:
            raise InvalidText(f"{where or 'the body'} holds a NUL character")


async def guard(request: Request) -> None:
    """Run before every route: text with NUL in the address or the body is refused, and so is
    an unsafe request that comes from another site, or that carries our cookies without this
    browser's CSRF token (API-key requests carry no cookie authority and are exempt)."""
    if "\x00" in request.url.path or "%00" in request.url.query or "\x00" in request.url.query:
        raise InvalidInput("the address holds a NUL character")
    if request.method in csrf.SAFE_METHODS:
        return
    if csrf.cross_site(request.method, request.headers, own_origins(request)):
        raise CrossSiteRefused("cross-site request refused: this form or call must come from this portal")
    await refuse_nul_in_body(request)
    get_viewer(request)
    if request.state.by_key:
        return
    nonce = request.cookies.get(csrf.CSRF_COOKIE)
    if not (request.cookies.get(SESSION_COOKIE) or nonce):
        return  # no cookie, no ambient authority: the route's own rights decide
    token = request.headers.get(csrf.CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(csrf.CSRF_FIELD)
        token = value if isinstance(value, str) else None
    key = csrf.secret_key(get_settings(request))
    if not csrf.token_ok(key, nonce, request.state.session_hash, token):
        raise CsrfRefused("this form has expired or was not sent by this portal: reload the page and try again")


class DefaultCacheControl:
    """ASGI middleware: an answer that says nothing of caching is ``private, no-store``; only
    routes that know their object is public (``access.policy.cache_control``) say otherwise,
    and the static files (the same for everyone) keep their own validators."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/static/"):
            await self.app(scope, receive, send)
            return

        async def send_with_default(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"private, no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_default)
