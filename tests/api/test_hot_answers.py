"""Hot answers: a repeated anonymous /records or /facets call is answered from memory ahead of
the route (``api.hot``), with the route's own bytes and headers, for the parameters as FastAPI
reads them, and never once the catalogue has moved: another worker's new version, access level
is seen by the very next call."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance import DATASET, EXPLORE, ROWS, Portal, equipment_portal, ods_csv  # type: ignore[import-not-found]
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mutuelle.app import create_app
from mutuelle.cli import app as cli
from mutuelle.query import answers

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

RECORDS = f"{EXPLORE}/{DATASET}/records"
FACETS = f"{EXPLORE}/{DATASET}/facets"
SKIPPED = 'route;desc="skipped"'


def skipped(response: object) -> bool:
    return SKIPPED in response.headers.get("server-timing", "")  # type: ignore[attr-defined]


@pytest.fixture
def portal(tmp_path: Path) -> Portal:
    answers.clear()
    return equipment_portal(tmp_path / "home")


def other_worker(portal: Portal) -> TestClient:
    """An administrator's client on a second app over the same home (another worker)."""
    return TestClient(create_app(portal.settings), client=LOOPBACK, raise_server_exceptions=False,
                      headers=admin_key(portal.settings))


def test_a_repeated_anonymous_call_skips_the_route_with_the_same_bytes_and_headers(portal: Portal) -> None:
    params = [("where", 'categorie = "sport"'), ("limit", "2"), ("include_links", "true")]
    first = portal.anonymous.get(RECORDS, params=params)
    assert first.status_code == 200 and not skipped(first)
    again = portal.anonymous.get(RECORDS, params=list(reversed(params)))
    assert skipped(again) and again.content == first.content
    for name in ("etag", "cache-control", "content-type", "access-control-allow-origin"):
        assert again.headers[name] == first.headers[name], name
    assert again.headers["cache-control"].startswith("public")
    not_modified = portal.anonymous.get(RECORDS, params=params,
                                        headers={"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and skipped(not_modified) is False  # no body to time
    assert not_modified.headers["etag"] == first.headers["etag"]
    head = portal.anonymous.head(RECORDS, params=params)
    assert head.status_code == 200 and head.content == b""

    facet = [("facet", "categorie"), ("refine", "code_commune:69123")]
    first = portal.anonymous.get(FACETS, params=facet)
    again = portal.anonymous.get(FACETS, params=facet)
    assert not skipped(first) and skipped(again) and again.content == first.content


def test_parameters_are_read_as_the_route_reads_them(portal: Portal) -> None:
    five = portal.anonymous.get(RECORDS, params={"limit": 5}).json()
    three = portal.anonymous.get(RECORDS, params={"limit": 3}).json()
    assert len(five["results"]) == 5 and len(three["results"]) == 3
    twice = portal.anonymous.get(f"{RECORDS}?limit=5&limit=3")  # FastAPI: the last one wins
    assert skipped(twice) and twice.json() == three
    yes = portal.anonymous.get(RECORDS, params={"limit": 3, "include_links": "1"})
    true = portal.anonymous.get(RECORDS, params={"limit": 3, "include_links": "TRUE"})
    assert skipped(true) and true.content == yes.content and "_links" not in three["results"][0]
    for bad in ({"limit": "3x"}, {"limit": ""}, {"include_links": "maybe"}, {"lang": "xx"}):
        wrong = portal.anonymous.get(RECORDS, params=bad)
        assert wrong.status_code in (400, 422) and not skipped(wrong), bad
    unknown = portal.anonymous.get(RECORDS, params={"limit": 3, "pretty": "1"})
    assert unknown.status_code == 200 and not skipped(unknown) and unknown.json() == three


def test_callers_with_good_credentials_get_the_public_answer_and_the_others_the_route(
        portal: Portal) -> None:
    first = portal.anonymous.get(RECORDS, params={"limit": 4})
    assert skipped(portal.anonymous.get(RECORDS, params={"limit": 4}))
    member = portal.admin.get(RECORDS, params={"limit": 4})  # a valid key, checked first
    assert member.status_code == 200 and skipped(member) and member.content == first.content
    key = portal.admin.headers["authorization"].split(" ", 1)[1]
    by_parameter = portal.anonymous.get(RECORDS, params={"limit": 4, "apikey": key})
    assert skipped(by_parameter) and by_parameter.content == first.content
    wrong = portal.anonymous.get(RECORDS, params={"limit": 4, "apikey": "nope"})
    assert wrong.status_code == 401 and not skipped(wrong)
    forged = portal.anonymous.get(RECORDS, params={"limit": 4},
                                  headers={"Cookie": "mutuelle_session=forged"})
    assert forged.status_code == 200 and not skipped(forged)
    prefix = key.removeprefix("mut_").split(".", 1)[0]
    revoked = CliRunner().invoke(cli, ["keys", "revoke", prefix],
                                 env={"MUTUELLE_HOME": str(portal.settings.home)})
    assert revoked.exit_code == 0, revoked.output
    after = portal.admin.get(RECORDS, params={"limit": 4})  # the same bytes would be at hand
    assert after.status_code == 401 and not skipped(after) and b"Piscine" not in after.content


def test_answers_made_with_the_clock_go_to_the_route(portal: Portal) -> None:
    recent = {"where": "maj >= now(days=-7)", "limit": 4}
    portal.anonymous.get(RECORDS, params=recent)
    assert not skipped(portal.anonymous.get(RECORDS, params=recent))


def test_another_workers_change_is_seen_by_the_next_call(portal: Portal) -> None:
    params = {"limit": 100}
    portal.anonymous.get(RECORDS, params=params)
    assert skipped(portal.anonymous.get(RECORDS, params=params))
    worker = other_worker(portal)

    imported = worker.post(f"/api/datasets/{DATASET}/versions",
                           files={"file": ("v2.csv", ods_csv(ROWS[:3]))})
    assert imported.status_code == 201, imported.text
    fresh = portal.anonymous.get(RECORDS, params=params)
    assert not skipped(fresh) and fresh.json()["total_count"] == 3
    assert skipped(portal.anonymous.get(RECORDS, params=params))

    hidden = worker.put(f"/api/datasets/{DATASET}/access", json={"access": "internal"})
    assert hidden.status_code == 200, hidden.text
    gone = portal.anonymous.get(RECORDS, params=params)
    assert gone.status_code == 404 and not skipped(gone) and b"Piscine" not in gone.content

    worker.put(f"/api/datasets/{DATASET}/access", json={"access": "public"})
    reopened = portal.anonymous.get(RECORDS, params=params)
    assert reopened.status_code == 200 and reopened.content == fresh.content


def test_without_answers_in_memory_every_call_goes_to_the_route(tmp_path: Path) -> None:
    portal = equipment_portal(tmp_path / "home", answer_cache_mib=0)
    for _ in range(2):
        response = portal.anonymous.get(RECORDS, params={"limit": 2})
        assert response.status_code == 200 and not skipped(response)


def test_with_every_catalogue_connection_held_hot_answers_go_on_and_the_route_says_busy(
        portal: Portal) -> None:
    from mutuelle.catalog.db import POOL_OVERFLOW, POOL_SIZE, engine

    portal.anonymous.get(RECORDS, params={"limit": 6})
    held = [engine(portal.settings).connect() for _ in range(POOL_SIZE + POOL_OVERFLOW)]
    try:
        hot = portal.anonymous.get(RECORDS, params={"limit": 6})
        assert hot.status_code == 200 and skipped(hot)  # its own connection: never waits
        cold = portal.anonymous.get(RECORDS, params={"limit": 7})  # the route needs the pool
        assert cold.status_code == 503 and cold.headers["retry-after"] == "2"
        assert cold.json() == {"error_code": "CatalogueBusy",
                               "message": "the catalogue is busy; retry in a few seconds"}
    finally:
        for connection in held:
            connection.close()
    assert portal.anonymous.get(RECORDS, params={"limit": 7}).status_code == 200
