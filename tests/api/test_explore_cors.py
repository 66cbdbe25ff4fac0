"""Cross-origin reads (CORS), preflights and HEAD, as widgets and scripts of other sites use
the Explore API: what anyone may read, to any origin; nothing a cookie unlocks; never with
credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance import DATASET, EXPLORE, Portal, equipment_portal, publish_dataset  # type: ignore[import-not-found]
from fastapi.testclient import TestClient

from http_testing import LOOPBACK, session_token  # type: ignore[import-not-found]

RECORDS = f"{EXPLORE}/{DATASET}/records"
OTHER_SITE = "https://widgets.example.org"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    made = equipment_portal(tmp_path_factory.mktemp("cors"))
    publish_dataset(made.admin, "interne", access="internal")
    return made


def test_public_answers_carry_allow_origin_and_never_credentials(portal: Portal) -> None:
    for url in (RECORDS, f"{EXPLORE}/{DATASET}/facets", f"{EXPLORE}/{DATASET}/exports/csv",
                f"{EXPLORE}/{DATASET}", f"{EXPLORE}", f"/api/records/1.0/search/?dataset={DATASET}"):
        response = portal.anonymous.get(url, headers={"Origin": OTHER_SITE})
        assert response.status_code == 200, url
        assert response.headers["access-control-allow-origin"] == "*", url
        assert "access-control-allow-credentials" not in response.headers, url


def test_errors_are_readable_by_other_sites_too(portal: Portal) -> None:
    response = portal.anonymous.get(RECORDS, params={"where": "inconnu = 1"}, headers={"Origin": OTHER_SITE})
    assert response.status_code == 400 and response.headers["access-control-allow-origin"] == "*"


def test_a_preflight_grants_get_with_an_api_key_header(portal: Portal) -> None:
    response = portal.anonymous.options(RECORDS, headers={
        "Origin": OTHER_SITE, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, accept, x-unknown"})
    assert response.status_code == 204 and response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "accept, authorization"
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_for_a_write_grants_nothing(portal: Portal) -> None:
    response = portal.anonymous.options("/api/datasets", headers={
        "Origin": OTHER_SITE, "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204 and "access-control-allow-origin" not in response.headers
    assert portal.anonymous.post("/api/datasets", json={}, headers={"Origin": OTHER_SITE}).status_code in (401, 403)


def test_what_a_session_cookie_unlocks_is_not_handed_to_other_sites(portal: Portal) -> None:
    browser = TestClient(portal.admin.app, client=LOOPBACK, raise_server_exceptions=False,
                         cookies={"mutuelle_session": session_token(portal.settings)})
    hidden = browser.get(f"{EXPLORE}/interne/records", headers={"Origin": OTHER_SITE})
    assert hidden.status_code == 200 and hidden.json()["total_count"] == 12
    assert "access-control-allow-origin" not in hidden.headers
    public = browser.get(RECORDS, headers={"Origin": OTHER_SITE})
    assert public.headers["access-control-allow-origin"] == "*"  # the same for everyone anyway


def test_an_api_key_call_from_another_site_is_readable(portal: Portal) -> None:
    response = portal.admin.get(f"{EXPLORE}/interne/records", headers={"Origin": OTHER_SITE})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"
    assert "private" in response.headers["cache-control"]


def test_configured_origins_are_echoed_and_others_get_nothing(tmp_path: Path) -> None:
    portal = equipment_portal(tmp_path, cors_origins="https://ville.example.org, https://metropole.example.org")
    allowed = portal.anonymous.get(RECORDS, headers={"Origin": "https://ville.example.org"})
    assert allowed.headers["access-control-allow-origin"] == "https://ville.example.org"
    assert "Origin" in allowed.headers["vary"]
    other = portal.anonymous.get(RECORDS, headers={"Origin": OTHER_SITE})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers
    preflight = portal.anonymous.options(RECORDS, headers={"Origin": OTHER_SITE,
                                                           "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    closed = equipment_portal(tmp_path / "closed", cors_origins="")
    assert "access-control-allow-origin" not in closed.anonymous.get(
        RECORDS, headers={"Origin": OTHER_SITE}).headers


@pytest.mark.parametrize("url", [RECORDS, f"{EXPLORE}/{DATASET}/exports/csv", f"{EXPLORE}/{DATASET}/records/1",
                                 f"{EXPLORE}/{DATASET}/exports/shp", f"{RECORDS}/"])
def test_head_answers_the_headers_of_get_without_a_body(portal: Portal, url: str) -> None:
    got = portal.anonymous.get(url)
    head = portal.anonymous.head(url)
    assert head.status_code == got.status_code == 200 and head.content == b""
    for name in ("content-type", "cache-control", "etag", "content-disposition"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert portal.anonymous.head(f"{EXPLORE}/nulle-part/records").status_code == 404


def test_an_options_call_without_preflight_lists_the_methods(portal: Portal) -> None:
    response = portal.anonymous.options(RECORDS)
    assert response.status_code == 204 and response.headers["allow"] == "GET, HEAD, OPTIONS"
