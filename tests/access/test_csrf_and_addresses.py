"""CSRF tokens bound to the browser and the session; cross-site detection; client addresses
believed only from trusted proxies."""

from __future__ import annotations

from pathlib import Path

from mutuelle.access.addresses import client_address
from mutuelle.access.csrf import cross_site, form_token, new_nonce, secret_key, token_ok
from mutuelle.core.config import Settings

OWN = frozenset({"http://127.0.0.1:8000"})


def test_a_token_is_bound_to_its_browser_and_session() -> None:
    key = b"k" * 32
    nonce = new_nonce()
    token = form_token(key, nonce, "session-a")
    assert token_ok(key, nonce, "session-a", token)
    assert not token_ok(key, new_nonce(), "session-a", token), "another browser"
    assert not token_ok(key, nonce, "session-b", token), "another session"
    assert not token_ok(key, nonce, None, token), "signed out since"
    assert not token_ok(b"x" * 32, nonce, "session-a", token), "another instance"
    assert not token_ok(key, nonce, "session-a", None) and not token_ok(key, None, "session-a", token)


def test_the_secret_key_is_made_once_and_shared(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = secret_key(settings)
    assert len(first) == 64 and secret_key(settings) == first
    assert (tmp_path / "home" / "secret_key").stat().st_mode & 0o077 == 0
    assert secret_key(settings.with_(secret_key="given")) == b"given"


def test_cross_site_unsafe_requests_are_recognised() -> None:
    assert cross_site("POST", {"sec-fetch-site": "cross-site"}, OWN)
    assert cross_site("POST", {"sec-fetch-site": "same-site"}, OWN), "another port of this host"
    assert cross_site("POST", {"origin": "http://evil.example"}, OWN)
    assert cross_site("DELETE", {"origin": "null"}, OWN)
    assert cross_site("POST", {"origin": "http://127.0.0.1:8001"}, OWN)
    assert not cross_site("POST", {"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8000"}, OWN)
    assert not cross_site("POST", {}, OWN), "curl and scripts send neither header"
    assert not cross_site("GET", {"sec-fetch-site": "cross-site"}, OWN)


def test_forwarded_headers_are_believed_only_from_trusted_proxies() -> None:
    forged = {"x-forwarded-for": "1.2.3.4", "x-real-ip": "5.6.7.8"}
    assert client_address("203.0.113.9", forged, "") == "203.0.113.9"
    assert client_address("203.0.113.9", forged, "127.0.0.1") == "203.0.113.9"
    assert client_address("127.0.0.1", {"x-forwarded-for": "1.2.3.4, 203.0.113.7"}, "127.0.0.1") == "203.0.113.7"
    assert client_address("127.0.0.1", {"x-forwarded-for": "1.2.3.4, 10.0.0.2"}, "127.0.0.1,10.0.0.0/8") == "1.2.3.4"
    assert client_address("127.0.0.1", {"x-real-ip": "198.51.100.4"}, "127.0.0.0/8") == "198.51.100.4"
