"""The indicators API over the demo territory: catalogue, values (secret cells carry no
number), classes for a choropleth, two indicators crossed; bad parameters named in 400s."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mutuelle.core.config import Settings

from http_testing import refused  # type: ignore[import-not-found]

SECRET_RATE = "demandeurs-pour-100-actifs"   # a rate with secret IRIS (small denominators)
OTHER_RATE = "taux-non-recours-c2s"


# --- the demo portal, built once per session and copied for each module ---------------------

# --- the catalogue --------------------------------------------------------------------------

def test_the_catalogue_lists_at_least_twenty_demo_indicators(demo_api: TestClient) -> None:
    body = demo_api.get("/api/indicators").json()
    assert body["total_count"] >= 20
    first = body["results"][0]
    assert {"id", "label", "theme", "unit", "numerator", "denominator", "links"} <= set(first)
    assert first["links"]["values"].startswith(f"/api/indicators/{first['id']}/values")


def test_the_catalogue_filters_by_theme(demo_api: TestClient) -> None:
    every = demo_api.get("/api/indicators").json()["results"]
    theme = every[0]["theme"]
    some = demo_api.get("/api/indicators", params={"theme": theme}).json()["results"]
    assert some and all(i["theme"] == theme for i in some)
    assert len(some) < len(every)
    assert demo_api.get("/api/indicators", params={"theme": "nothing"}).json()["total_count"] == 0


def test_an_indicator_is_described(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}").json()
    assert body["id"] == SECRET_RATE and body["denominator"]


@pytest.mark.parametrize("path", [
    "/api/indicators/nope", "/api/indicators/nope/values?level=iris",
    "/api/indicators/nope/classes?level=iris", f"/api/indicators/cross?x=nope&y={OTHER_RATE}",
    f"/api/indicators/cross?x={SECRET_RATE}&y=nope",
])
def test_an_unknown_indicator_is_not_found(demo_api: TestClient, path: str) -> None:
    response = demo_api.get(path)
    assert response.status_code == 404
    assert "nope" in response.json()["message"]


def test_an_internal_indicator_is_hidden_from_anonymous_visitors(
        demo_home: Path, demo_api: TestClient, demo_public_api: TestClient) -> None:
    from sqlalchemy import update

    from mutuelle.catalog.db import sessions
    from mutuelle.catalog.observatory_models import Indicator

    settings = Settings(home=demo_home)
    with sessions(settings)() as session:
        session.execute(update(Indicator).where(Indicator.id == "menages").values(access="internal"))
        session.commit()
    try:
        assert demo_public_api.get("/api/indicators/menages").status_code == 404
        assert "menages" not in {i["id"] for i in demo_public_api.get("/api/indicators").json()["results"]}
        assert demo_api.get("/api/indicators/menages").status_code == 200
        # nor through the map's pages: the panel, the tooltips' details
        for path in ("/observatoire/details?indicator=menages&level=commune",
                     "/observatoire/panneau?indicator=menages&level=commune"):
            hidden = demo_public_api.get(path)
            assert hidden.status_code == 400 and "Ménages fiscaux" not in hidden.text, path
            assert demo_api.get(path).status_code == 200, path
    finally:
        with sessions(settings)() as session:
            session.execute(update(Indicator).where(Indicator.id == "menages").values(access="public"))
            session.commit()


# --- values ---------------------------------------------------------------------------------

def test_values_give_every_territory_of_the_level(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}/values", params={"level": "commune"}).json()
    assert body["level"] == "commune" and body["vintage"] == 2024
    assert body["total_count"] == len(body["results"]) == 8
    row = body["results"][0]
    assert set(row) == {"code", "name", "value", "status", "numerator", "denominator"}
    ok = [r for r in body["results"] if r["status"] == "ok"]
    assert ok and all(r["value"] == pytest.approx(100 * r["numerator"] / r["denominator"]) for r in ok)


def test_secret_cells_carry_no_number(demo_api: TestClient) -> None:
    response = demo_api.get(f"/api/indicators/{SECRET_RATE}/values", params={"level": "iris"})
    rows = response.json()["results"]
    secret = [r for r in rows if r["status"] == "secret"]
    assert secret, "the demo should hide some small IRIS"
    for row in secret:
        assert row["value"] is None and row["numerator"] is None and row["denominator"] is None
    # nor in the classes, nor as a rank
    classes = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"level": "iris"}).json()
    hidden = {r["code"] for r in secret}
    for item in classes["results"]:
        if item["code"] in hidden:
            assert item["value"] is None and item["class"] is None and item["rank"] is None
    assert classes["statuses"]["secret"] == len(secret)


def test_values_may_be_limited_to_one_commune(demo_api: TestClient) -> None:
    every = demo_api.get(f"/api/indicators/{SECRET_RATE}/values", params={"level": "iris"}).json()
    some = demo_api.get(f"/api/indicators/{SECRET_RATE}/values",
                   params={"level": "iris", "within": "commune:96012"}).json()
    assert 0 < some["total_count"] < every["total_count"]
    assert all(r["code"].startswith("96012") for r in some["results"])
    refused(demo_api.get(f"/api/indicators/{SECRET_RATE}/values", params={"within": "planet:1"}),
            "within")


@pytest.mark.parametrize("level", ["nope", "IRIS", ""])
def test_an_unknown_level_is_refused_by_name(demo_api: TestClient, level: str) -> None:
    refused(demo_api.get(f"/api/indicators/{SECRET_RATE}/values", params={"level": level}), "level")
    refused(demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"level": level}), "level")


def test_a_median_has_no_values_above_its_own_level(demo_api: TestClient) -> None:
    refused(demo_api.get("/api/indicators/revenu-median/values", params={"level": "commune"}),
            "median")


# --- classes --------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["quantile", "jenks", "equal"])
def test_classes_hold_every_published_value_once(demo_api: TestClient, method: str) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes",
                   params={"level": "iris", "method": method, "classes": 6}).json()
    assert body["method"] == method and body["classes"] == 6
    assert len(body["breaks"]) == 7 and len(body["colors"]) == 6 and len(body["counts"]) == 6
    assert body["breaks"] == sorted(body["breaks"])
    assert sum(body["counts"]) == body["statuses"]["ok"] == body["ranked"]
    for item in body["results"]:
        if item["class"] is not None:
            k = item["class"]
            low, high = body["breaks"][k], body["breaks"][k + 1]
            assert low <= item["value"] <= high
    ranks = sorted(i["rank"] for i in body["results"] if i["rank"] is not None)
    assert ranks[0] == 1


def test_each_territory_is_compared_with_its_parent(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"level": "iris"}).json()
    item = next(i for i in body["results"] if i["code"].startswith("96012"))
    assert item["parent"]["level"] == "commune" and item["parent"]["code"] == "96012"


def test_manual_breaks_are_the_inner_limits(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={
        "level": "iris", "method": "manual", "classes": 4, "breaks": "5,10,15"}).json()
    assert body["breaks"][1:4] == [5, 10, 15]
    assert sum(body["counts"]) == body["statuses"]["ok"]


def test_classes_that_cannot_be_made_as_asked_are_made_with_a_note(demo_api: TestClient) -> None:
    body = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={
        "level": "iris", "method": "manual", "classes": 4, "breaks": "15,10,5,1000"}).json()
    assert body["classes_asked"] == 4 and body["classes"] == len(body["counts"]) == 4
    assert body["breaks"][1:4] == [5, 10, 15]
    assert [n["code"] for n in body["notes"]] == ["breaks_order", "breaks_count", "breaks_outside"]
    assert body["notes"][2]["dropped"] == [1000] and "1000" in body["note"]
    plain = demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"level": "iris"}).json()
    assert plain["note"] is None and plain["notes"] == [] and plain["classes"] == 5


@pytest.mark.parametrize("classes", ["12", "2", "0", "-1"])
def test_a_number_of_classes_outside_three_to_nine_is_refused(demo_api: TestClient, classes: str) -> None:
    refused(demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"classes": classes}),
            "classes", "3", "9")


@pytest.mark.parametrize(("params", "word"), [
    ({"classes": "five"}, "classes"),
    ({"method": "kmeans"}, "method"),
    ({"method": "manual"}, "breaks"),
    ({"method": "manual", "classes": 4, "breaks": "a,b,c"}, "breaks"),
    ({"method": "manual", "classes": 4, "breaks": "5,inf,10"}, "breaks"),
    ({"method": "quantile", "breaks": "5,10"}, "breaks"),
    ({"palette": "rainbow"}, "palette"),
])
def test_bad_classification_parameters_are_refused_by_name(
        demo_api: TestClient, params: dict[str, object], word: str) -> None:
    refused(demo_api.get(f"/api/indicators/{SECRET_RATE}/classes", params={"level": "iris", **params}),
            word)


# --- crossing -------------------------------------------------------------------------------

def test_two_indicators_crossed_give_bivariate_classes_pairs_and_correlation(demo_api: TestClient) -> None:
    body = demo_api.get("/api/indicators/cross",
                   params={"x": SECRET_RATE, "y": OTHER_RATE, "level": "iris"}).json()
    assert body["x"]["id"] == SECRET_RATE and body["y"]["id"] == OTHER_RATE
    assert len(body["colors"]) == 9 and len(body["counts"]) == 9
    assert len(body["x_breaks"]) == 4 and len(body["y_breaks"]) == 4
    pairs = body["results"]
    assert sum(body["counts"]) + body["missing"] == len(pairs)
    both = [p for p in pairs if p["cell"] is not None]
    assert body["correlation"]["n"] == len(both)
    assert -1 <= body["correlation"]["pearson"] <= 1
    assert -1 <= body["correlation"]["spearman"] <= 1
    for pair in pairs:
        if pair["status_x"] != "ok" or pair["status_y"] != "ok":
            assert pair["cell"] is None
        if pair["status_x"] == "secret":
            assert pair["x"] is None
        if pair["status_y"] == "secret":
            assert pair["y"] is None


def test_an_indicator_cannot_be_crossed_with_itself(demo_api: TestClient) -> None:
    refused(demo_api.get("/api/indicators/cross", params={"x": SECRET_RATE, "y": SECRET_RATE}), "y")


def test_a_crossing_at_an_unknown_level_is_refused(demo_api: TestClient) -> None:
    refused(demo_api.get("/api/indicators/cross",
                    params={"x": SECRET_RATE, "y": OTHER_RATE, "level": "planet"}), "level")
    refused(demo_api.get("/api/indicators/cross", params={"x": SECRET_RATE}), "y")


def test_the_openapi_document_describes_the_observatory_with_examples(demo_api: TestClient) -> None:
    paths = demo_api.get("/api/openapi.json").json()["paths"]
    for path in ("/api/indicators", "/api/indicators/{indicator_id}",
                 "/api/indicators/{indicator_id}/values", "/api/indicators/{indicator_id}/classes",
                 "/api/indicators/cross", "/api/territories", "/api/territories/{level}/{code}",
                 "/api/scenarios", "/api/scenarios/{scenario_id}",
                 "/api/scenarios/{scenario_id}/duplicate"):
        assert path in paths, path
    values = paths["/api/indicators/{indicator_id}/values"]["get"]
    assert "example" in values["responses"]["200"]["content"]["application/json"]
    create = paths["/api/scenarios"]["post"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
