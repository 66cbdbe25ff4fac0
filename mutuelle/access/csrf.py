"""Cross-site request forgery: every form carries a token bound to the browser (a random
cookie) and to its session, signed with the instance's secret key; and unsafe requests that
the browser says come from another site are refused before any of that."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from mutuelle.access.secrets import same, sign
from mutuelle.core.config import Settings

#: The cookie holding the browser's random CSRF nonce.
CSRF_COOKIE = "mutuelle_csrf"
#: The form field and the header carrying the token.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def secret_key(settings: Settings) -> bytes:
    """The instance's signing key: the setting, else a random key made once in HOME."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path: Path = settings.home / "secret_key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key-{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:  # whole or not at all; the first worker to link it wins, the others read it
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode("utf-8")


def new_nonce() -> str:
    """A fresh value for the CSRF cookie."""
    return secrets.token_urlsafe(24)


def form_token(key: bytes, nonce: str, session_hash: str | None) -> str:
    """The token a form carries for this browser and session."""
    return sign(key, "csrf", nonce, session_hash or "-")


def token_ok(key: bytes, nonce: str | None, session_hash: str | None, token: str | None) -> bool:
    """Whether a submitted token matches this browser and session."""
    if not nonce or not token:
        return False
    return same(form_token(key, nonce, session_hash), token)


def cross_site(method: str, headers: Mapping[str, str], own_origins: frozenset[str]) -> bool:
    """Whether an unsafe request comes from another site (or another origin of this host: a
    page on another port is same-site for the browser but not ours), by ``Sec-Fetch-Site`` and
    ``Origin``."""
    if method.upper() in SAFE_METHODS:
        return False
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = headers.get("origin")
    return origin is not None and origin.rstrip("/") not in own_origins
