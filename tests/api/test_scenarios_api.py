"""The scenarios API: a saved map view, its permalink and embed code, its copies, the gallery;
internal scenarios invisible to anonymous visitors; every bad state refused by name."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from http_testing import refused  # type: ignore[import-not-found]


STATE: dict[str, Any] = {
    "indicator": "demandeurs-pour-100-actifs", "indicator2": "taux-non-recours-c2s",
    "level": "iris", "method": "quantile", "classes": 5, "palette": "viridis",
    "filters": {"commune": "96172"}, "center": [4.62, 45.29], "zoom": 11.25,
}


# --- the demo portal, built once per session and copied for each module ---------------------

def create(demo_api: TestClient, **changes: Any) -> dict[str, Any]:
    body = {"title": "Chômage et C2S", "comment": "Les IRIS du nord.", "state": STATE, **changes}
    response = demo_api.post("/api/scenarios", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_saved_scenario_has_a_short_permalink_and_an_embed_snippet(demo_api: TestClient) -> None:
    saved = create(demo_api)
    assert len(saved["id"]) == 8
    assert saved["permalink"] == f"http://testserver/s/{saved['id']}"
    assert saved["embed_url"] == saved["permalink"] + "/embed"
    assert saved["embed_html"].startswith(f'<iframe src="{saved["embed_url"]}"')
    assert 'mutuelle:height' in saved["embed_html"]  # its height follows its content
    assert saved["access"] == "public" and saved["created_by"]  # the saving member's id
    again = demo_api.get(f"/api/scenarios/{saved['id']}").json()
    assert again["state"] == saved["state"]
    state = again["state"]
    assert {k: state[k] for k in STATE} == STATE
    assert state["vintage"] is None and state["breaks"] == [] and state["selected"] is None


def test_the_state_is_completed_with_defaults(demo_api: TestClient) -> None:
    saved = create(demo_api, state={"indicator": "population"})
    assert saved["state"] == {
        "indicator": "population", "indicator2": None, "level": "iris", "vintage": None,
        "method": "quantile", "classes": 5, "breaks": [], "palette": "viridis", "filters": {},
        "center": None, "zoom": None, "selected": None, "points": [], "proportional": False}


@pytest.mark.parametrize(("state", "word"), [
    ({"indicator": None}, "indicator"),
    ({"indicator": "nope"}, "indicator"),
    ({"indicator2": "nope"}, "indicator2"),
    ({"indicator2": "demandeurs-pour-100-actifs"}, "indicator2"),
    ({"level": "planet"}, "level"),
    ({"classes": 12}, "classes"),
    ({"classes": "5"}, "classes"),
    ({"method": "kmeans"}, "method"),
    ({"method": "manual"}, "breaks"),
    ({"method": "manual", "breaks": [10, "5"]}, "breaks"),
    ({"breaks": ["a"]}, "breaks"),
    ({"palette": "rainbow"}, "palette"),
    ({"filters": {"planet": "x"}}, "filters"),
    ({"filters": {"commune": "96172", "epci": "249600172"}}, "filters"),
    ({"center": [200, 45]}, "center"),
    ({"center": "here"}, "center"),
    ({"zoom": 30}, "zoom"),
    ({"vintage": "2024"}, "vintage"),
    ({"colour": "red"}, "colour"),
    ({"points": "etablissements-scolaires"}, "points"),
    ({"points": ["../etc"]}, "points"),
    ({"proportional": "yes"}, "proportional"),
])
def test_a_bad_state_is_refused_naming_the_key(demo_api: TestClient, state: dict[str, Any],
                                               word: str) -> None:
    body = {"title": "Bad", "state": {"indicator": "demandeurs-pour-100-actifs", **state}}
    refused(demo_api.post("/api/scenarios", json=body), word)


@pytest.mark.parametrize(("body", "word"), [
    ({"title": "T", "state": STATE, "access": "secret"}, "access"),
    ({"title": "T"}, "state"),
    ({"title": "T", "state": STATE, "organisation": "nowhere"}, "organisation"),
])
def test_a_bad_scenario_is_refused(demo_api: TestClient, body: dict[str, Any], word: str) -> None:
    refused(demo_api.post("/api/scenarios", json=body), word)
    refused(demo_api.post("/api/scenarios", json=["not", "an", "object"]), "object")


@pytest.mark.parametrize("body", [
    {"state": STATE}, {"title": "  ", "state": STATE}, {"title": "x" * 301, "state": STATE},
    {"title": "a\x00b", "state": STATE}, {"title": ["a"], "state": STATE},
])
def test_a_scenario_without_a_clean_title_is_unprocessable(demo_api: TestClient,
                                                           body: dict[str, Any]) -> None:
    response = demo_api.post("/api/scenarios", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error_code"] == "InvalidText"
    assert "title" in response.json()["message"]


def test_a_scenario_is_changed_and_its_state_checked_again(demo_api: TestClient) -> None:
    saved = create(demo_api)
    response = demo_api.put(f"/api/scenarios/{saved['id']}",
                       json={"title": "Nouveau titre", "state": {**STATE, "classes": 7}})
    assert response.status_code == 200
    assert response.json()["title"] == "Nouveau titre"
    assert response.json()["state"]["classes"] == 7
    refused(demo_api.put(f"/api/scenarios/{saved['id']}", json={"state": {**STATE, "classes": 12}}),
            "classes")
    refused(demo_api.put(f"/api/scenarios/{saved['id']}", json={"owner": "me"}), "owner")
    assert demo_api.get(f"/api/scenarios/{saved['id']}").json()["state"]["classes"] == 7


def test_a_duplicate_is_a_new_scenario_remembering_its_source(demo_api: TestClient) -> None:
    saved = create(demo_api)
    response = demo_api.post(f"/api/scenarios/{saved['id']}/duplicate")
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != saved["id"] and copy["duplicated_from"] == saved["id"]
    assert copy["state"] == saved["state"] and copy["title"] == "Chômage et C2S (copie)"
    named = demo_api.post(f"/api/scenarios/{saved['id']}/duplicate", json={"title": "Ma variante"})
    assert named.json()["title"] == "Ma variante"


def test_a_deleted_scenario_is_gone(demo_api: TestClient) -> None:
    saved = create(demo_api)
    assert demo_api.delete(f"/api/scenarios/{saved['id']}").status_code == 204
    assert demo_api.get(f"/api/scenarios/{saved['id']}").status_code == 404
    assert demo_api.delete(f"/api/scenarios/{saved['id']}").status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/scenarios/nope1234"), ("put", "/api/scenarios/nope1234"),
    ("delete", "/api/scenarios/nope1234"), ("post", "/api/scenarios/nope1234/duplicate"),
    ("get", "/api/scenarios/" + "x" * 200),
])
def test_an_unknown_scenario_is_not_found(demo_api: TestClient, method: str, path: str) -> None:
    response = demo_api.request(method, path, json={"title": "x"} if method == "put" else None)
    assert response.status_code == 404
    assert response.json()["error_code"] == "NotFound"


def test_internal_scenarios_are_for_professionals_only(demo_api: TestClient, demo_public_api: TestClient) -> None:
    internal = create(demo_api, title="Note interne", access="internal")
    public = create(demo_api, title="Carte publique")
    assert demo_public_api.get(f"/api/scenarios/{internal['id']}").status_code == 404
    assert demo_public_api.get(f"/api/scenarios/{public['id']}").status_code == 200
    seen = {s["id"] for s in demo_public_api.get("/api/scenarios", params={"limit": 100}).json()["results"]}
    assert public["id"] in seen and internal["id"] not in seen
    mine = {s["id"] for s in demo_api.get("/api/scenarios", params={"limit": 100}).json()["results"]}
    assert {public["id"], internal["id"]} <= mine


def test_anonymous_visitors_may_not_save_change_or_delete(demo_api: TestClient, demo_public_api: TestClient) -> None:
    saved = create(demo_api)
    body = {"title": "T", "state": STATE}
    # anonymous visitors must sign in (401); they may still open the public scenario
    assert demo_public_api.post("/api/scenarios", json=body).status_code == 401
    assert demo_public_api.put(f"/api/scenarios/{saved['id']}", json={"title": "x"}).status_code == 401
    assert demo_public_api.delete(f"/api/scenarios/{saved['id']}").status_code == 401
    assert demo_public_api.post(f"/api/scenarios/{saved['id']}/duplicate").status_code == 401


def test_the_gallery_is_newest_first_and_searchable(demo_api: TestClient) -> None:
    first = create(demo_api, title="Écoles par commune", state={"indicator": "population"})
    second = create(demo_api, title="Vieillissement", state={"indicator": "indice-vieillissement"})
    listed = demo_api.get("/api/scenarios", params={"limit": 100}).json()
    ids = [s["id"] for s in listed["results"]]
    assert listed["total_count"] == len(ids)
    assert ids.index(second["id"]) < ids.index(first["id"])
    found = demo_api.get("/api/scenarios", params={"q": "vieilliss"}).json()["results"]
    assert [s["id"] for s in found] == [second["id"]]
    by_indicator = demo_api.get("/api/scenarios", params={"indicator": "indice-vieillissement"}).json()
    assert second["id"] in {s["id"] for s in by_indicator["results"]}
    page = demo_api.get("/api/scenarios", params={"limit": 1, "offset": 1}).json()
    assert len(page["results"]) == 1 and page["results"][0]["id"] == ids[1]


def test_points_layers_and_proportional_symbols_are_kept_by_a_scenario(demo_api: TestClient) -> None:
    saved = create(demo_api, state={"indicator": "demandeurs-emploi", "proportional": True,
                               "points": ["etablissements-scolaires", "etablissements-scolaires"]})
    again = demo_api.get(f"/api/scenarios/{saved['id']}").json()
    assert again["state"]["points"] == ["etablissements-scolaires"]
    assert again["state"]["proportional"] is True
