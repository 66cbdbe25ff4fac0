"""Bad input and attacks, over HTTP through the real app: wrong passwords (no enumeration by
message or by work done), throttling and forged client addresses, expired and revoked keys,
CSRF, session fixation, open redirects, XSS in every text a member writes, guessed ids, and
text with NUL or control characters on both catalogues."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher, extract_parameters
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mutuelle.access import accounts, audit, keys
from mutuelle.app import create_app
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.catalog.members_models import ApiKey, LoginSession, User
from mutuelle.catalog.models import Dataset
from mutuelle.core.clock import now
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key, member_key, session_token  # type: ignore[import-not-found]

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


class Browser:
    """One browser on the portal: its own cookies, and the CSRF token of its last page."""

    def __init__(self, app: Any, *, peer: tuple[str, int] = LOOPBACK,
                 base_url: str = "http://testserver") -> None:
        self.client = TestClient(app, client=peer, base_url=base_url,
                                 raise_server_exceptions=False, follow_redirects=False)
        self.origin = base_url

    def __enter__(self) -> Browser:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    def token(self, path: str = "/connexion") -> str:
        """The CSRF token the forms of ``path`` carry."""
        page = self.client.get(path, follow_redirects=True)
        found = _TOKEN.search(page.text)
        assert found, f"no CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def post(self, path: str, data: dict[str, str], *, token: str | None = "page",
             headers: dict[str, str] | None = None) -> Any:
        """A form sent from this portal's own pages (with their token, unless told)."""
        fields = dict(data)
        if token == "page":
            token = self.token()
        if token is not None:
            fields["csrf_token"] = token
        return self.client.post(path, data=fields, headers={
            "Origin": self.origin, "Sec-Fetch-Site": "same-origin", **(headers or {})})

    def sign_in(self, email: str, password: str = PASSWORD, **extra: str) -> Any:
        return self.post("/connexion", {"email": email, "password": password, **extra})

    @property
    def session(self) -> str | None:
        return self.client.cookies.get("mutuelle_session")


def _member(settings: Settings, email: str, *, password: str = PASSWORD, disabled: bool = False,
            site_admin: bool = False) -> str:
    """An account made directly in the catalogue; its id."""
    upgrade(settings)
    with sessions(settings)() as session:
        user, _ = accounts.create_user(session, email=email, password=password, site_admin=site_admin)
        if disabled:
            accounts.set_disabled(session, user, True)
        session.commit()
        return user.id


def _count(settings: Settings, model: Any) -> int:
    with sessions(settings)() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _throttling(settings: Settings, **changes: Any) -> Settings:
    return settings.with_(login_max_failures=3, login_max_failures_per_address=5, **changes)


# --- wrong credentials: one answer, one argon2 verification ---------------------------------

def _normalised(response: Any, email: str) -> tuple[int, str]:
    """Status and page, without what the visitor typed (the email is echoed in its field)."""
    return response.status_code, response.text.replace(email, "EMAIL")


def test_unknown_email_wrong_password_and_disabled_account_get_the_same_page(app: Any) -> None:
    settings = app.state.settings
    _member(settings, "alice@example.org")
    _member(settings, "carol@example.org", disabled=True)
    with Browser(app) as browser:
        token = browser.token()
        answers = [_normalised(browser.post("/connexion", {"email": email, "password": password},
                                            token=token), email)
                   for email, password in [("nobody@example.org", PASSWORD),
                                           ("alice@example.org", "not the password"),
                                           ("carol@example.org", PASSWORD)]]
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2]
    assert "incorrect" in answers[0][1]


def test_every_sign_in_attempt_verifies_one_argon2_hash_of_the_same_cost(
        app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No timing oracle: an unknown email, a wrong password, a disabled account and a throttled
    attempt each run exactly one argon2 verification, against hashes of the same parameters
    (spied on, not replaced: the real verification runs)."""
    settings = app.state.settings
    app.state.settings = _throttling(settings)
    _member(settings, "alice@example.org")
    _member(settings, "carol@example.org", disabled=True)
    verified: list[str] = []
    real_verify = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        verified.append(hash if isinstance(hash, str) else hash.decode())
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    with sessions(settings)() as session:
        stored = session.scalar(select(User.password_hash).where(User.email == "alice@example.org"))
    with Browser(app) as browser:
        token = browser.token()
        attempts = [("nobody@example.org", PASSWORD, 401), ("alice@example.org", "not it!", 401),
                    ("carol@example.org", PASSWORD, 401), ("alice@example.org", PASSWORD, 303)]
        attempts += [("nobody@example.org", "guess", 401)] * 2 + [("nobody@example.org", "guess", 429)]
        for email, password, status in attempts:
            verified.clear()
            response = browser.post("/connexion", {"email": email, "password": password}, token=token)
            assert response.status_code == status, (email, password, response.text[:200])
            assert len(verified) == 1, f"{email}: {len(verified)} verifications"
            assert extract_parameters(verified[0]) == extract_parameters(stored)
            if status == 303:  # signed in: sign out again, the token changes with the session
                browser.client.cookies.delete("mutuelle_session")
                token = browser.token()


# --- throttling, and whose address is throttled ----------------------------------------------

def _failures(app: Any, email: str, count: int, *, peer: tuple[str, int] = LOOPBACK,
              headers: dict[str, str] | None = None) -> list[int]:
    statuses = []
    with Browser(app, peer=peer) as browser:
        token = browser.token()
        for n in range(count):
            response = browser.post("/connexion", {"email": email.format(n=n), "password": "wrong guess"},
                                    token=token, headers=headers)
            statuses.append(response.status_code)
    return statuses


def test_sign_in_is_throttled_per_account_even_with_the_right_password(app: Any) -> None:
    app.state.settings = _throttling(app.state.settings)
    _member(app.state.settings, "alice@example.org")
    assert _failures(app, "alice@example.org", 3, peer=("203.0.113.1", 1000)) == [401] * 3
    with Browser(app, peer=("203.0.113.2", 1000)) as browser:   # another address: the account waits
        response = browser.sign_in("alice@example.org")
        assert response.status_code == 429 and browser.session is None
        assert "réessayez dans quelques minutes" in response.text
    with Browser(app, peer=("203.0.113.2", 1000)) as browser:
        assert browser.sign_in("bob@example.org", "wrong guess").status_code == 401, "other accounts do not"


def test_sign_in_is_throttled_per_address_across_accounts(app: Any) -> None:
    app.state.settings = _throttling(app.state.settings)
    _member(app.state.settings, "alice@example.org")
    assert _failures(app, "guess{n}@example.org", 5, peer=("203.0.113.3", 1000)) == [401] * 5
    with Browser(app, peer=("203.0.113.3", 1000)) as browser:
        assert browser.sign_in("alice@example.org").status_code == 429
    with Browser(app, peer=("203.0.113.4", 1000)) as browser:
        assert browser.sign_in("alice@example.org").status_code == 303, "other addresses do not"


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP"])
def test_forged_forwarded_headers_from_an_untrusted_peer_do_not_change_the_throttled_address(
        app: Any, header: str) -> None:
    app.state.settings = _throttling(app.state.settings, trusted_proxies="10.0.0.0/8")
    statuses = []
    for n in range(6):   # a new forged address each time, from one real peer
        statuses += _failures(app, f"guess{n}@example.org", 1, peer=("203.0.113.5", 1000),
                              headers={header: f"198.51.100.{n}"})
    assert statuses == [401] * 5 + [429]
    with sessions(app.state.settings)() as session:
        addresses = {e.address for e in audit.events(session, action="signin.failed")}
    assert addresses == {"203.0.113.5"}


@pytest.mark.parametrize("header", ["X-Forwarded-For", "X-Real-IP"])
def test_forwarded_headers_from_a_trusted_proxy_decide_the_throttled_address(app: Any, header: str) -> None:
    app.state.settings = _throttling(app.state.settings, trusted_proxies="10.0.0.0/8")
    proxy = ("10.1.2.3", 1000)
    assert _failures(app, "guess{n}@example.org", 5, peer=proxy, headers={header: "198.51.100.7"}) == [401] * 5
    assert _failures(app, "other@example.org", 1, peer=proxy, headers={header: "198.51.100.7"}) == [429]
    assert _failures(app, "other@example.org", 1, peer=proxy, headers={header: "198.51.100.8"}) == [401], \
        "another client behind the same proxy is not throttled"
    with sessions(app.state.settings)() as session:
        addresses = {e.address for e in audit.events(session, action="signin.failed")}
    assert addresses == {"198.51.100.7", "198.51.100.8"}


# --- API keys: expired, revoked ----------------------------------------------------------------

def test_revoked_and_expired_keys_are_refused_whatever_they_ask(app: Any) -> None:
    settings = app.state.settings
    _member(settings, "dora@example.org", site_admin=True)
    with sessions(settings)() as session:
        user = accounts.get_user(session, "dora@example.org")
        revoked = keys.create_key(session, user, scope="write")
        expired = keys.create_key(session, user, scope="write", expires_at=now() + timedelta(minutes=5))
        session.commit()
        revoked_id, expired_id = revoked.key.id, expired.key.id
    with Browser(app) as browser:   # revoked from the account page, as its owner would
        assert browser.sign_in("dora@example.org").status_code == 303
        assert browser.post(f"/compte/cles/{revoked_id}/revoquer", {}, token=browser.token("/compte")).status_code == 303
    with sessions(settings)() as session:
        session.get(ApiKey, expired_id).expires_at = now() - timedelta(seconds=1)
        session.commit()
    datasets = _count(settings, Dataset)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        for secret in (revoked.secret, expired.secret):
            for response in (client.get("/api/me", headers={"Authorization": f"Apikey {secret}"}),
                             client.get(f"/api/me?apikey={secret}"),
                             client.post("/api/organisations", headers={"Authorization": f"Apikey {secret}"},
                                         json={"name": "Par une vieille clé"})):
                assert response.status_code == 401, response.text
                assert response.json()["message"] == "invalid, revoked or expired API key"
    assert _count(settings, Dataset) == datasets


# --- CSRF and cross-site requests ---------------------------------------------------------------

def _keys_of(settings: Settings, email: str) -> int:
    with sessions(settings)() as session:
        return len(keys.list_keys(session, accounts.get_user(session, email)))


def test_a_signed_in_form_needs_this_browser_s_token(app: Any) -> None:
    settings = app.state.settings
    _member(settings, "erin@example.org")
    _member(settings, "frank@example.org")
    with Browser(app) as victim, Browser(app) as other:
        anonymous_token = victim.token("/connexion")
        assert victim.sign_in("erin@example.org").status_code == 303
        assert other.sign_in("frank@example.org").status_code == 303
        others_token = other.token("/compte")
        for token in (None, "0" * 64, others_token, anonymous_token):
            response = victim.post("/compte/cles", {"name": "forgée", "scope": "write"}, token=token)
            assert response.status_code == 403, token
        assert _keys_of(settings, "erin@example.org") == 0
        response = victim.post("/compte/cles", {"name": "la mienne", "scope": "read"}, token=victim.token("/compte"))
        assert response.status_code == 200 and "la mienne" in response.text
        assert _keys_of(settings, "erin@example.org") == 1
        # scripts of our own pages send the token in a header
        api = victim.client.post("/api/me/keys", json={"name": "script"})
        assert api.status_code == 403
        api = victim.client.post("/api/me/keys", json={"name": "script"},
                                 headers={"X-CSRF-Token": victim.token("/compte")})
        assert api.status_code == 201 and api.json()["key"].startswith("mut_")


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://testserver.evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver:8001"},
], ids=lambda h: " ".join(f"{k}={v}" for k, v in h.items()))
def test_a_form_from_another_site_is_refused_even_with_a_valid_token(app: Any, headers: dict[str, str]) -> None:
    settings = app.state.settings
    _member(settings, "erin@example.org")
    with Browser(app) as victim:
        victim.sign_in("erin@example.org")
        token = victim.token("/compte")
        response = victim.client.post("/compte/cles", data={"name": "x", "csrf_token": token}, headers=headers)
        # the page speaks French: the refusal says the form must come from this portal
        assert response.status_code == 403 and "envoyé depuis ce portail" in response.text
        for method, url in [("POST", "/deconnexion"), ("DELETE", "/api/follows?kind=dataset&object_id=x")]:
            assert victim.client.request(method, url, headers={**headers, "X-CSRF-Token": token}).status_code == 403
        assert victim.client.get("/api/me").json()["signed_in"], "the refused sign-out did nothing"
    assert _keys_of(settings, "erin@example.org") == 0


# --- sessions: cookies, fixation ---------------------------------------------------------------

@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
def test_the_session_cookie_is_http_only_same_site_lax_and_secure_under_https(app: Any, base_url: str) -> None:
    _member(app.state.settings, "gina@example.org")
    with Browser(app, base_url=base_url) as browser:
        response = browser.sign_in("gina@example.org")
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("mutuelle_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite"} <= attributes and "samesite=lax" in cookie.lower()
    assert ("secure" in attributes) == base_url.startswith("https")


@pytest.mark.parametrize("planted", ["random", "attacker's own session"])
def test_a_planted_session_cookie_is_replaced_at_sign_in_and_stops_working(app: Any, planted: str) -> None:
    settings = app.state.settings
    _member(settings, "victim@example.org")
    _member(settings, "attacker@example.org")
    if planted == "random":
        value = "fixed-by-the-attacker-0123456789abcdef"
    else:
        with Browser(app) as attacker:
            attacker.sign_in("attacker@example.org")
            value = attacker.session
    with Browser(app) as victim:
        victim.client.cookies.set("mutuelle_session", value, domain="testserver.local", path="/")
        token = victim.token("/compte" if planted != "random" else "/connexion")
        response = victim.post("/connexion", {"email": "victim@example.org", "password": PASSWORD}, token=token)
        assert response.status_code == 303
        assert victim.session and victim.session != value
        assert victim.client.get("/api/me").json()["user"]["email"] == "victim@example.org"
    with TestClient(app, client=LOOPBACK, cookies={"mutuelle_session": value}) as old:
        assert old.get("/api/me").json() == {"signed_in": False, "user": None}
    assert _count(settings, LoginSession) == 1, "only the victim's new session is left"


def test_signing_out_ends_the_session_on_the_server(app: Any) -> None:
    _member(app.state.settings, "hugo@example.org")
    with Browser(app) as browser:
        browser.sign_in("hugo@example.org")
        value = browser.session
        assert browser.post("/deconnexion", {}, token=browser.token("/compte")).status_code == 303
        assert browser.session is None
    with TestClient(app, client=LOOPBACK, cookies={"mutuelle_session": value}) as replay:
        assert replay.get("/api/me").json()["signed_in"] is False


# --- open redirects ------------------------------------------------------------------------------

#: ``next=`` values as they reach the server (after the query's own decoding).
OFF_SITE = [
    "//evil.example", "//evil.example/compte", "https://evil.example", "http:evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", " //evil.example", "\t//evil.example", "/\t/evil.example",
    "/\n/evil.example", "%2F%2Fevil.example", "/%2F%2Fevil.example", "%5C%5Cevil.example",
    "/%5Cevil.example", "///evil.example", "https:/\\evil.example", "data:text/html,<script>x</script>",
    "/compte@evil.example", "//evil.example@testserver", "\u3002/evil.example", "/\u2215evil.example",
]


def _stays_on_site(location: str) -> bool:
    """Whether a browser following ``location`` from this site stays on it: a path, and no
    character a browser drops or reads as a slash before the path starts."""
    if not location.startswith("/") or location[1:2] in ("/", "\\"):
        return False
    if any(c in location for c in "\t\n\r"):
        return False
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_never_leaves_the_site(app: Any, target: str) -> None:
    _member(app.state.settings, "ines@example.org")
    with Browser(app) as browser:
        page = browser.client.get("/connexion", params={"next": target})
        assert page.status_code == 200
        hidden = re.search(r'name="next" value="([^"]*)"', page.text)
        assert hidden is not None and (hidden.group(1) == "" or hidden.group(1).startswith("/"))
        signed = browser.sign_in("ines@example.org", next=target)
        assert signed.status_code == 303 and _stays_on_site(signed.headers["location"]), signed.headers["location"]
        again = browser.client.get("/connexion", params={"next": target})
        assert again.status_code == 303 and _stays_on_site(again.headers["location"]), again.headers["location"]


def test_next_keeps_a_path_of_this_site(app: Any) -> None:
    _member(app.state.settings, "ines@example.org")
    with Browser(app) as browser:
        signed = browser.sign_in("ines@example.org", next="/catalogue?q=eau&page=2")
        assert signed.headers["location"] == "/catalogue?q=eau&page=2"


# --- text with NUL or control characters, on both catalogues -----------------------------------

@pytest.fixture
def any_client(any_settings: Settings) -> Iterator[TestClient]:
    """A site administrator's client on each catalogue backend."""
    app = create_app(any_settings)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(any_settings)) as client:
        yield client


BAD_TEXT = ["nul\x00here", "bell\x07", "escape\x1b[31m", "del\x7f", "c1\x85"]


@pytest.mark.parametrize("bad", BAD_TEXT, ids=["NUL", "BEL", "ESC", "DEL", "NEL"])
def test_text_with_control_characters_is_refused_with_422_naming_the_field(any_client: TestClient, bad: str) -> None:
    client = any_client
    assert client.post("/api/organisations", json={"name": "Ville propre", "slug": "propre"}).status_code == 201
    assert client.post("/api/datasets", json={"organisation": "propre", "title": "Propre", "slug": "propre"}).status_code == 201
    calls = [
        ("POST", "/api/organisations", {"name": f"Ville {bad}"}, "name"),
        ("PATCH", "/api/organisations/propre", {"name": bad}, "name"),
        ("PATCH", "/api/organisations/propre", {"description": bad}, "description"),
        ("POST", "/api/datasets", {"organisation": "propre", "title": bad}, "title"),
        ("PATCH", "/api/datasets/propre", {"title": bad}, "title"),
        ("PATCH", "/api/datasets/propre", {"description": bad}, "description"),
        ("PATCH", "/api/datasets/propre", {"keywords": ["eau", bad]}, "word|keywords.1"),
        ("PATCH", "/api/datasets/propre", {"licence": bad}, "licence"),
        ("POST", "/api/threads", {"kind": "dataset", "object_id": "propre", "title": bad, "body": "Bonjour"}, "title"),
        ("POST", "/api/threads", {"kind": "dataset", "object_id": "propre", "title": "Question", "body": bad}, "body"),
        ("POST", "/api/users", {"email": "neuf@example.org", "display_name": bad}, "display_name"),
        ("POST", "/api/groups", {"name": bad}, "name"),
    ]
    for method, url, body, field in calls:
        response = client.request(method, url, json=body)
        assert response.status_code == 422, f"{method} {url} {body!r}: {response.status_code} {response.text[:300]}"
        assert re.search(field, response.json()["message"]), response.json()
    thread = client.post("/api/threads", json={"kind": "dataset", "object_id": "propre", "title": "Q", "body": "B"})
    assert thread.status_code == 201
    reply = client.post(f"/api/threads/{thread.json()['id']}/comments", json={"body": bad})
    assert reply.status_code == 422 and "body" in reply.json()["message"]
    dataset = client.get("/api/datasets/propre").json()
    assert dataset["title"] == "Propre" and dataset["description"] == "" and dataset["keywords"] == []
    assert client.get("/api/organisations").json()["total_count"] == 1


@pytest.mark.parametrize("bad", BAD_TEXT[1:3], ids=["BEL", "ESC"])
def test_scenario_titles_and_comments_with_control_characters_are_refused_with_422(
        any_client: TestClient, bad: str) -> None:
    state = {"indicator": "absent", "level": "commune"}   # checked after the texts
    for body, field in [({"title": bad, "state": state}, "title"),
                        ({"title": "Vue", "comment": bad, "state": state}, "comment")]:
        response = any_client.post("/api/scenarios", json=body)
        assert response.status_code == 422 and field in response.json()["message"], response.text[:300]


@pytest.mark.parametrize("where", ["email", "password", "next"])
def test_a_sign_in_with_nul_characters_is_refused_cleanly(any_settings: Settings, where: str) -> None:
    upgrade(any_settings)
    _member(any_settings, "jade@example.org")
    with Browser(create_app(any_settings)) as browser:
        fields = {"email": "jade@example.org", "password": PASSWORD, "next": "/compte"}
        fields[where] = fields[where][:3] + "\x00" + fields[where][3:]
        response = browser.post("/connexion", fields, token=None)
        assert response.status_code == 422 and "NUL" in response.text, response.text[:300]
        assert browser.session is None


@pytest.mark.parametrize("object_id", ["propre\x00", "x\x00y"])
def test_an_object_id_with_nul_is_not_found_or_refused_never_a_server_error(any_client: TestClient, object_id: str) -> None:
    response = any_client.post("/api/threads", json={"kind": "dataset", "object_id": object_id,
                                                     "title": "Q", "body": "B"})
    assert response.status_code in (404, 422), response.text[:300]
    response = any_client.post("/api/follows", json={"kind": "dataset", "object_id": object_id})
    assert response.status_code in (404, 422), response.text[:300]
    response = any_client.put("/api/organisations/propre/members", json={"user": "a\x00@b.fr", "role": "viewer"})
    assert response.status_code in (404, 422), response.text[:300]


# --- the demo portal, for what needs indicators, maps and organisations ------------------------

CITY_A, CITY_B, METRO = "mornebois", "pontlumiere", "metropole-val-sauvage"


class Demo:
    """A copy of the demo portal, its app and a site administrator's API client."""

    def __init__(self, home: Path) -> None:
        self.settings = Settings(home=home, duckdb_memory_limit="512MB")
        self.app = create_app(self.settings)
        self.admin = TestClient(self.app, client=LOOPBACK, raise_server_exceptions=False,
                                headers=admin_key(self.settings), follow_redirects=False)
        self.anonymous = TestClient(self.app, client=LOOPBACK, raise_server_exceptions=False,
                                    follow_redirects=False)

    def as_member(self, email: str, roles: dict[str, str] | None = None) -> TestClient:
        """An API client with a write key of ``email`` (made if missing, given ``roles``)."""
        return TestClient(self.app, client=LOOPBACK, raise_server_exceptions=False, follow_redirects=False,
                          headers=member_key(self.settings, email, roles=roles))

    def published_dataset(self, client: TestClient, slug: str, *, org: str = CITY_A, text: str = "valeur",
                          **metadata: Any) -> None:
        """A dataset of ``org`` with one version, made by ``client``, published by an administrator."""
        made = client.post("/api/datasets", json={"organisation": org, "slug": slug,
                                                  "title": metadata.pop("title", slug), **metadata})
        assert made.status_code == 201, made.text
        self.upload(client, slug, text)
        assert self.admin.post(f"/api/datasets/{slug}/publish").status_code == 200

    def upload(self, client: TestClient, slug: str, text: str) -> Any:
        rows = "code_commune;valeur;texte\n96172;12;" + text.replace(";", ",") + "\n96102;15;autre\n"
        answer = client.post(f"/api/datasets/{slug}/versions", files={"file": ("jeu.csv", io.BytesIO(rows.encode()))},
                             data={"publish": "true"})
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def demo(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home = tmp_path_factory.mktemp("attacks") / "home"
    shutil.copytree(demo_home, home)
    yield Demo(home)


# --- XSS: every text a member writes, on every page that shows it ------------------------------

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(2)>\"'"
#: What must never reach a page as written (the payload, and what Markdown could let through).
RAW = ("<script>alert(", "<img src=x onerror", "<b onclick", "<svg onload")
ESCAPED = "&lt;script&gt;alert("
MARKDOWN = ("**gras** [lien](javascript:alert(3)) ![image](javascript:alert(4)) <b onclick=alert(5)>b</b> "
            "[casse](JaVaScRiPt:alert(6)) <javascript:alert(7)> [data](data:text/html,<svg onload=alert(8)>) "
            "[tab](java\tscript:alert(9)) [entité](&#106;avascript:alert(10))")
_SCRIPT_URL = re.compile(r"""(href|src|action|formaction|srcset)\s*=\s*["']?\s*(java|vb)script:""", re.I)


def _written(demo: Demo) -> dict[str, str]:
    """Write the payload everywhere a member can, through the API and the forms; ids made."""
    admin = demo.admin
    org = admin.post("/api/organisations", json={
        "name": f"Ville {PAYLOAD}", "slug": "ville-xss", "parent": METRO,
        "description": f"{PAYLOAD}\n\n{MARKDOWN}", "logo_url": "https://example.org/logo.png"})
    assert org.status_code == 201, org.text
    for logo in ("javascript:alert(1)", 'https://example.org/x.png" onerror="alert(1)',
                 "data:image/svg+xml,<svg onload=alert(1)>", "//evil.example/x.png", "/static/../x"):
        refused = admin.patch("/api/organisations/ville-xss", json={"logo_url": logo})
        assert 400 <= refused.status_code < 500 and "logo_url" in refused.json()["message"], logo
    user = admin.post("/api/users", json={"email": "plume@example.org", "display_name": f"Plume {PAYLOAD}"})
    assert user.status_code == 201, user.text
    member = demo.as_member("plume@example.org", roles={"ville-xss": "editor"})
    demo.published_dataset(member, "jeu-xss", org="ville-xss", text=f"cellule {PAYLOAD}",
                           title=f"Titre {PAYLOAD}", description=f"{PAYLOAD}\n\n{MARKDOWN}",
                           keywords=[f"mot {PAYLOAD}"], themes=[f"thème {PAYLOAD}"])
    field = member.patch("/api/datasets/jeu-xss/versions/1/fields/texte",
                         json={"label": f"Libellé {PAYLOAD}", "description": PAYLOAD, "unit": "<b onclick=x>"})
    assert field.status_code == 200, field.text
    assert admin.post("/api/follows", json={"kind": "dataset", "object_id": "jeu-xss"}).status_code == 204
    thread = member.post("/api/threads", json={"kind": "dataset", "object_id": "jeu-xss", "internal": False,
                                               "title": f"Sujet {PAYLOAD}", "body": f"Message {PAYLOAD}\n{MARKDOWN}"})
    assert thread.status_code == 201, thread.text
    scenario = member.post("/api/scenarios", json={
        "title": f"Vue {PAYLOAD}", "comment": f"Commentaire {PAYLOAD}", "access": "public",
        "organisation": "ville-xss", "state": {"indicator": "taux-pauvrete", "level": "commune"}})
    assert scenario.status_code == 201, scenario.text
    scenario_id = scenario.json()["id"]
    on_scenario = member.post("/api/threads", json={"kind": "scenario", "object_id": scenario_id, "internal": False,
                                                    "title": f"Sujet {PAYLOAD}", "body": f"Message {PAYLOAD}"})
    assert on_scenario.status_code == 201, on_scenario.text
    made = member.post("/api/datasets", json={"organisation": "ville-xss", "slug": "jeu-xss-revue",
                                              "title": f"En revue {PAYLOAD}"})
    assert made.status_code == 201
    demo.upload(member, "jeu-xss-revue", "x")
    assert member.post("/api/datasets/jeu-xss-revue/submit").status_code == 200
    with Browser(demo.app) as browser:   # a key named by its owner, and a failed sign-in logged
        assert browser.sign_in("plume@example.org", user.json()["one_time_password"]).status_code == 303
        named = browser.post("/compte/cles", {"name": f"Clé {PAYLOAD}", "scope": "read"},
                             token=browser.token("/compte"))
        assert named.status_code == 200, named.text[:300]
        plume_session = browser.session
    with Browser(demo.app) as stranger:
        assert stranger.sign_in(f"x{PAYLOAD}@example.org"[:320], "wrong password").status_code == 401
    return {"scenario": scenario_id, "plume_session": plume_session or ""}


def _check_page(response: Any, where: str, *, shown: bool = True) -> None:
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text[:300]}"
    body = response.text
    for raw in RAW:
        assert raw not in body, f"{where}: {raw!r} is in the page unescaped"
    assert not _SCRIPT_URL.search(body), f"{where}: {_SCRIPT_URL.search(body).group()!r}"  # type: ignore[union-attr]
    if shown:
        assert ESCAPED in body, f"{where}: the text written is not on the page at all"


def test_no_text_a_member_writes_reaches_a_page_unescaped(demo: Demo) -> None:
    ids = _written(demo)
    scenario = ids["scenario"]
    public_pages = ["/datasets/jeu-xss", "/catalogue?q=Titre", "/catalogue?organisation=ville-xss", "/",
                    "/o/ville-xss", f"/o/{METRO}", "/scenarios", f"/s/{scenario}", f"/s/{scenario}/embed",
                    "/datasets/jeu-xss/versions/1"]
    for url in public_pages:
        _check_page(demo.anonymous.get(url), f"{url} (anonymous)")
    with Browser(demo.app) as admin:
        admin.client.cookies.set("mutuelle_session", session_token(demo.settings), domain="testserver.local", path="/")
        for url in ["/compte", "/admin/membres", "/admin/journal", "/revue", "/o/ville-xss/gestion",
                    "/datasets/jeu-xss", "/datasets/jeu-xss-revue", f"/s/{scenario}"]:
            _check_page(admin.client.get(url), f"{url} (site administrator)")
    with Browser(demo.app) as plume:
        plume.client.cookies.set("mutuelle_session", ids["plume_session"], domain="testserver.local", path="/")
        _check_page(plume.client.get("/compte"), "/compte (the author)")
    details = demo.anonymous.get("/observatoire/details?indicator=taux-pauvrete&level=commune")
    assert details.headers["content-type"].startswith("application/json")
    _check_page(details, "/observatoire/details", shown=False)
    logo = demo.anonymous.get("/o/ville-xss").text
    assert 'src="https://example.org/logo.png"' in logo


# --- IDOR: ids guessed where the matrix does not go ---------------------------------------------

def _without_tokens(text: str) -> str:
    """A page without its CSRF tokens (a new browser gets a new one with each page)."""
    return re.sub(r'(csrf-token" content|name="csrf_token" value)="[0-9a-f]+"', r'\1="TOKEN"', text)


def _same_refusal(found: Any, missing: Any, real_id: str, fake_id: str, status: int = 404) -> None:
    """A real id one may not see and an id that does not exist get the same answer."""
    assert found.status_code == missing.status_code == status, (found.text[:200], missing.text[:200])
    assert _without_tokens(found.text.replace(real_id, "ID")) == _without_tokens(missing.text.replace(fake_id, "ID"))


def test_an_internal_thread_is_not_found_by_guessing_its_id_outside_the_object_s_organisations(demo: Demo) -> None:
    demo.published_dataset(demo.admin, "jeu-fil-interne")
    insider = demo.as_member("fil-a@example.org", roles={CITY_A: "viewer"})
    thread = insider.post("/api/threads", json={"kind": "dataset", "object_id": "jeu-fil-interne", "internal": True,
                                                "title": "Entre nous", "body": "SECRET-interne"})
    assert thread.status_code == 201
    thread_id, fake = thread.json()["id"], "0" * len(thread.json()["id"])
    outsiders = {"anonymous": demo.anonymous,
                 "admin of city B": demo.as_member("fil-b@example.org", roles={CITY_B: "admin"})}
    for who, client in outsiders.items():
        for method, url, kwargs in [("GET", "/api/threads/{id}", {}),
                                    ("POST", "/api/threads/{id}/comments", {"json": {"body": "je lis"}}),
                                    ("POST", "/discussions/{id}/reponses", {"data": {"body": "je lis"}})]:
            client.cookies.clear()   # no CSRF cookie from an earlier page: the rights decide
            found = client.request(method, url.format(id=thread_id), **kwargs)
            client.cookies.clear()
            missing = client.request(method, url.format(id=fake), **kwargs)
            if who == "anonymous" and method == "POST" and found.status_code == 401:
                assert missing.status_code == 401, "signing in is asked first, whatever the id"
                continue
            _same_refusal(found, missing, thread_id, fake)
            assert b"SECRET-interne" not in found.content
        listed = client.get("/api/threads?kind=dataset&object_id=jeu-fil-interne")
        assert listed.status_code == 200 and listed.json()["total_count"] == 0, who
        page = client.get("/datasets/jeu-fil-interne")
        assert page.status_code == 200 and "SECRET-interne" not in page.text and "Entre nous" not in page.text
    assert insider.get(f"/api/threads/{thread_id}").json()["comments"][0]["body"] == "SECRET-interne"


def test_another_member_s_key_cannot_be_revoked_by_guessing_its_id_or_prefix(demo: Demo) -> None:
    owner_headers = member_key(demo.settings, "cle-a@example.org")
    with sessions(demo.settings)() as session:
        key = keys.list_keys(session, accounts.get_user(session, "cle-a@example.org"))[0]
        key_id, prefix = key.id, key.prefix
    member_key(demo.settings, "cle-b@example.org")
    with Browser(demo.app) as thief:
        assert thief.sign_in("cle-b@example.org").status_code == 303
        token = thief.token("/compte")
        for guess in (key_id, prefix):
            found = thief.post(f"/compte/cles/{guess}/revoquer", {}, token=token)
            missing = thief.post(f"/compte/cles/{guess[:-2]}zz/revoquer", {}, token=token)
            _same_refusal(found, missing, guess, f"{guess[:-2]}zz")
            api = thief.client.delete(f"/api/me/keys/{guess}", headers={"X-CSRF-Token": token})
            assert api.status_code == 404
        assert "cle-a" not in thief.client.get("/compte").text
    with TestClient(demo.app, client=LOOPBACK, headers=owner_headers) as owner:
        assert owner.get("/api/me").json()["user"]["email"] == "cle-a@example.org", "the key still works"


def test_guessed_account_ids_tell_a_member_nothing(demo: Demo) -> None:
    viewer = demo.as_member("compte-v@example.org", roles={CITY_A: "viewer"})
    with sessions(demo.settings)() as session:
        real = accounts.get_user(session, "compte-v@example.org").id
    fake = "0" * len(real)
    for method, url, kwargs in [("PATCH", "/api/users/{id}", {"json": {"disabled": True}}),
                                ("POST", "/admin/membres/{id}", {"data": {"action": "disable"}})]:
        _same_refusal(viewer.request(method, url.format(id=real), **kwargs),
                      viewer.request(method, url.format(id=fake), **kwargs), real, fake, status=403)
    assert viewer.get("/api/me").json()["user"]["disabled"] is False


def test_a_draft_version_of_a_public_dataset_is_not_found_by_its_number(demo: Demo) -> None:
    demo.published_dataset(demo.admin, "jeu-brouillon-v2", text="PUBLIE-v1")
    editor = demo.as_member("v2-editeur@example.org", roles={CITY_A: "editor"})
    assert demo.upload(editor, "jeu-brouillon-v2", "BROUILLON-v2")["status"] == "draft"
    viewer = demo.as_member("v2-lecteur@example.org", roles={CITY_A: "viewer"})
    urls = ["/api/datasets/jeu-brouillon-v2/versions/2", "/api/datasets/jeu-brouillon-v2/versions/2/download/csv",
            "/api/datasets/jeu-brouillon-v2/versions/2/records", "/datasets/jeu-brouillon-v2/versions/2"]
    for client in (demo.anonymous, viewer):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404 and b"BROUILLON-v2" not in response.content, url
        latest = client.get("/api/datasets/jeu-brouillon-v2/versions/latest/download/csv")
        assert b"PUBLIE-v1" in latest.content and b"BROUILLON-v2" not in latest.content
        assert b"BROUILLON-v2" not in client.get("/datasets/jeu-brouillon-v2").content
    for url in urls:
        assert editor.get(url).status_code == 200, url


def test_a_draft_dataset_is_not_found_by_its_id(demo: Demo) -> None:
    editor = demo.as_member("id-editeur@example.org", roles={CITY_A: "editor"})
    made = editor.post("/api/datasets", json={"organisation": CITY_A, "slug": "jeu-par-id", "title": "CACHE-par-id"})
    dataset_id = made.json()["id"]
    demo.upload(editor, "jeu-par-id", "x")
    outsider = demo.as_member("id-b@example.org", roles={CITY_B: "admin"})
    urls = [f"/api/datasets/{dataset_id}", f"/datasets/{dataset_id}",
            f"/api/explore/v2.1/catalog/datasets/{dataset_id}", f"/api/explore/v2.1/catalog/datasets/{dataset_id}/records"]
    for client in (demo.anonymous, outsider):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404 and b"CACHE-par-id" not in response.content, url
    for url in urls:
        assert editor.get(url).status_code == 200, url
