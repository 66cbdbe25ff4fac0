"""The territories API over the demo territory: search by name or code, a territory with its
parents, children and portrait; secret values never carry a number."""

from __future__ import annotations


import pytest
from fastapi.testclient import TestClient


IRIS = "960120101"       # Centre-Ville 1, in Belvent-sur-Sauvagine (96012)
COMMUNE = "96012"
METROPOLIS = "249600172"


# --- the demo portal, built once per session and copied for each module ---------------------

def test_territories_are_found_by_name_without_accents_or_case(demo_api: TestClient) -> None:
    body = demo_api.get("/api/territories", params={"q": "belvedere"}).json()
    assert body["total_count"] >= 1
    assert all("belvédère" in t["name"].lower() for t in body["results"])
    assert body["results"][0]["links"]["page"].startswith("/territoires/")


def test_a_territory_is_found_by_its_code_first(demo_api: TestClient) -> None:
    body = demo_api.get("/api/territories", params={"q": IRIS}).json()
    first = body["results"][0]
    assert (first["level"], first["code"], first["commune"]) == ("iris", IRIS, COMMUNE)


def test_a_search_may_keep_one_level(demo_api: TestClient) -> None:
    body = demo_api.get("/api/territories", params={"q": "vignes", "level": "iris", "limit": 3}).json()
    assert 0 < body["total_count"] <= 3
    assert {t["level"] for t in body["results"]} == {"iris"}
    assert demo_api.get("/api/territories", params={"q": "zzzz"}).json()["total_count"] == 0


@pytest.mark.parametrize(("params", "word", "status"), [
    ({"q": ""}, "q", 400), ({"q": "vignes", "level": "planet"}, "level", 400),
    ({"q": "vignes", "limit": 0}, "limit", 422),
    ({"q": "vignes", "vintage": 99999999999999999999}, "vintage", 422),
])
def test_a_bad_search_is_refused_by_name(demo_api: TestClient, params: dict[str, object], word: str,
                                         status: int) -> None:
    response = demo_api.get("/api/territories", params=params)
    assert response.status_code == status
    assert word in response.json()["message"]


def test_an_iris_comes_with_its_parents_up_to_the_whole_territory(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/territories/iris/{IRIS}").json()
    assert body["name"] == "Centre-Ville 1" and body["synthetic"] is True
    assert [(p["level"], p["code"]) for p in body["parents"]] == [
        ("commune", COMMUNE), ("epci", METROPOLIS), ("territoire", METROPOLIS)]
    assert body["children"] == []


def test_a_commune_lists_its_iris(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/territories/commune/{COMMUNE}").json()
    assert body["children"] and {c["level"] for c in body["children"]} == {"iris"}
    assert all(c["code"].startswith(COMMUNE) for c in body["children"])


def test_the_portrait_compares_each_indicator_with_parent_whole_and_peers(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/territories/iris/{IRIS}").json()
    comparisons = body["portrait"]["comparisons"]
    assert len(comparisons) >= 15
    rate = next(c for c in comparisons if c["indicator"] == "demandeurs-pour-100-actifs")
    assert rate["value"]["status"] == "ok"
    assert rate["parent_level"] == "commune" and rate["parent"]["code"] == COMMUNE
    assert rate["whole"]["code"] == METROPOLIS
    assert 0 <= rate["rank"]["percentile"] <= 100
    assert rate["rank"]["below"] + rate["rank"]["above"] <= rate["rank"]["peers"]
    assert rate["scope"] == "Métropole de Val-Sauvage"
    # indicators without IRIS values are listed with the reason, not dropped silently
    assert all(isinstance(reason, str) and reason for reason in body["portrait"]["skipped"].values())


def test_a_secret_value_in_a_portrait_carries_no_number(demo_api: TestClient) -> None:
    values = demo_api.get("/api/indicators/demandeurs-pour-100-actifs/values", params={"level": "iris"})
    secret = next(r["code"] for r in values.json()["results"] if r["status"] == "secret")
    body = demo_api.get(f"/api/territories/iris/{secret}").json()
    rate = next(c for c in body["portrait"]["comparisons"]
                if c["indicator"] == "demandeurs-pour-100-actifs")
    assert rate["value"] == {"code": secret, "name": body["name"], "status": "secret",
                             "value": None, "numerator": None, "denominator": None,
                             "coverage": None, "covered": None}
    assert rate["rank"] is None


def test_an_unknown_territory_is_not_found_and_an_unknown_level_refused(demo_api: TestClient) -> None:
    assert demo_api.get("/api/territories/iris/000000000").status_code == 404
    response = demo_api.get("/api/territories/planet/1")
    assert response.status_code == 400 and "level" in response.json()["message"]
