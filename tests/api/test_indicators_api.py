"""The indicators API over the demo territory: catalogue, values (secret cells carry no
number), classes for a choropleth, two indicators crossed; bad parameters named in 400s."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mutuelle.core.config import Settings

from http_testing import invalid, refused  # type: ignore[import-not-found]

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
    assert set(row) == {"code", "name", "value", "status", "numerator", "denominator",
                        "coverage", "covered"}
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


@pytest.mark.parametrize(("path", "params", "word"), [
    (f"/api/indicators/{SECRET_RATE}/classes", {"classes": "five"}, "classes"),
    ("/api/indicators/cross", {"x": SECRET_RATE}, "y"),
    (f"/api/indicators/{SECRET_RATE}/values", {"vintage": 99999999999999999999}, "vintage"),
    (f"/api/indicators/{SECRET_RATE}/classes", {"vintage": 1800}, "vintage"),
])
def test_parameters_that_do_not_fit_the_document_are_422_by_name(
        demo_api: TestClient, path: str, params: dict[str, object], word: str) -> None:
    invalid(demo_api.get(path, params=params), word)


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


# --- defining indicators: the real IRIS of Lyon (2012) ----------------------------------------

from lyon_testing import (  # type: ignore[import-not-found]  # noqa: E402
    DATASET,
    DEFINITION,
    LYON,
    LYON_RATE,
    METROPOLE_DE_LYON,
    add_lyon,
    features,
    iris_of_2024,
    pierre_benite_iris,
    points_far_away,
    weighted_rates,
)


@pytest.fixture(scope="module")
def lyon_api(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A site administrator's client on a portal holding the IRIS of Lyon of 2012 (referential
    and dataset), the IRIS of 2024 (Pierre-Bénite's renumbered into Oullins-Pierre-Bénite) and
    schools in Paris."""
    from mutuelle.app import create_app
    from mutuelle.catalog import repository as repo
    from mutuelle.geo.referential import import_territories
    from mutuelle.ingest.service import import_file

    from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

    folder = tmp_path_factory.mktemp("lyon")
    settings = Settings(home=folder / "home", duckdb_memory_limit="512MB")
    app = create_app(settings)
    with app.state.sessions() as session:
        add_lyon(session, settings)
        import_territories(session, settings, iris_of_2024(folder), level="iris", vintage=2024)
        schools = repo.create_dataset(session, organisation=repo.get_organisation(session, "lyon"),
                                      title="Écoles", slug="ecoles-paris")
        session.commit()
        import_file(session, settings, schools, points_far_away(folder))
        repo.publish_dataset(session, schools)
        session.commit()
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(settings)) as client:
        yield client


def _define(client: TestClient, key: str, **fields: object):  # type: ignore[no-untyped-def]
    return client.post("/api/indicators", json={**DEFINITION, "id": key,
                                                "label": "Taux de chômage", "unit": "%", **fields})


def test_the_unemployment_rate_weighted_by_population_gives_each_commune_its_weighted_mean(
        lyon_api: TestClient) -> None:
    created = _define(lyon_api, "chomage")     # no vintage given: the codes' is found
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["vintage"] == 2012 and body["computation"]["vintage_reason"] == "codes"
    assert body["matching"]["unmatched_count"] == 0
    values = lyon_api.get("/api/indicators/chomage/values", params={"level": "commune"}).json()
    assert values["vintage"] == 2012
    expected = weighted_rates()
    published = {r["code"]: r for r in values["results"] if r["status"] == "ok"}
    assert set(published) == set(expected)          # the 22 communes of the IRIS, no other
    for code, rate in expected.items():
        assert published[code]["value"] == pytest.approx(rate, rel=1e-9), code
    assert published[LYON]["value"] == pytest.approx(LYON_RATE, abs=1e-6)
    assert published[LYON]["name"] == "Lyon" and published[LYON]["coverage"] == pytest.approx(1)
    # named from the COG of 2012: Oullins and Pierre-Bénite had not merged yet
    assert published["69149"]["name"] == "Oullins" and published["69152"]["name"] == "Pierre-Bénite"
    iris = lyon_api.get("/api/indicators/chomage/values", params={"level": "iris"}).json()
    kinds = {r["code"]: r["kind"] for r in iris["results"]}
    assert kinds == {p["id"]: p["typ_iris"] for p in features()}   # the API says A and D


def test_how_an_indicator_is_computed_is_part_of_its_definition(lyon_api: TestClient) -> None:
    _define(lyon_api, "chomage-methode", secrecy=5, min_coverage=80)
    body = lyon_api.get("/api/indicators/chomage-methode").json()
    c = body["computation"]
    assert c["dataset"]["slug"] == DATASET and c["dataset"]["version"] == 1
    assert c["dataset"]["link"] == f"/datasets/{DATASET}"
    assert c["dataset"]["version_link"] == f"/datasets/{DATASET}/versions/1"
    assert (c["numerator"], c["denominator"], c["filters"]) == ("tchom * p12_pop", "p12_pop", None)
    assert c["aggregation"] == "ratio" and "Σ numerator / Σ denominator" in c["aggregation_text"]
    assert c["vintage"] == 2012 and c["secrecy"] == {"threshold": 5, "on": "denominator"}
    assert c["coverage"]["minimum"] == 80 and c["last_computation"]
    assert body["links"]["page"] == "/observatoire/indicateurs/chomage-methode"


def test_lyons_portrait_shows_the_value_the_api_gives(lyon_api: TestClient) -> None:
    _define(lyon_api, "chomage-portrait")
    body = lyon_api.get(f"/api/territories/commune/{LYON}").json()
    rate = next(c for c in body["portrait"]["comparisons"] if c["indicator"] == "chomage-portrait")
    assert rate["value"]["status"] == "ok"
    assert rate["value"]["value"] == pytest.approx(LYON_RATE, abs=1e-6)
    page = lyon_api.get(f"/territoires/commune/{LYON}")
    assert page.status_code == 200 and "13,4" in page.text


def test_the_2012_commune_map_draws(lyon_api: TestClient) -> None:
    from mvt_testing import decode, tile_of  # type: ignore[import-not-found]

    _define(lyon_api, "chomage-carte")
    tilejson = lyon_api.get("/tiles/commune.json", params={"indicator": "chomage-carte"})
    assert tilejson.status_code == 200 and "vintage=2012" in tilejson.json()["tiles"][0]
    z, x, y = tile_of(4.835, 45.764, 11)      # the centre of Lyon
    tile = lyon_api.get(f"/tiles/commune/{z}/{x}/{y}.mvt", params={"indicator": "chomage-carte"})
    assert tile.status_code == 200
    communes = {f["properties"]["code"]: f["properties"] for f in decode(tile.content)["commune"]}
    assert communes[LYON]["status"] == "ok"
    assert communes[LYON]["value"] == pytest.approx(LYON_RATE, abs=1e-6)
    page = lyon_api.get("/observatoire", params={"indicator": "chomage-carte", "level": "commune"})
    assert page.status_code == 200 and "no commune contours" not in page.text
    assert '"choropleth"' in page.text


def test_unmatched_codes_are_listed_when_the_vintage_is_wrong(lyon_api: TestClient) -> None:
    # in 2024, Pierre-Bénite's IRIS have codes of Oullins-Pierre-Bénite: the 2012 codes miss
    created = _define(lyon_api, "chomage-2024", vintage=2024)
    assert created.status_code == 201, created.text
    unmatched = created.json()["matching"]
    assert unmatched["unmatched_count"] == 3
    assert sorted(u["code"] for u in unmatched["unmatched"]) == pierre_benite_iris()
    values = lyon_api.get("/api/indicators/chomage-2024/values", params={"level": "commune"}).json()
    assert values["vintage"] == 2024 and values["matching"]["unmatched_count"] == 3
    page = lyon_api.get("/observatoire/indicateurs/chomage-2024")
    assert page.status_code == 200 and 'data-unmatched="3"' in page.text
    for code in pierre_benite_iris():
        assert code in page.text


def test_coverage_is_reported_for_the_epci_and_withheld_below_the_minimum(
        lyon_api: TestClient) -> None:
    _define(lyon_api, "chomage-metropole", vintage=2024)
    epci = lyon_api.get("/api/indicators/chomage-metropole/values", params={"level": "epci"}).json()
    metropole = next(r for r in epci["results"] if r["code"] == METROPOLE_DE_LYON)
    # 21 of the 58 communes of the Métropole de Lyon have IRIS with data (by population, more)
    assert metropole["covered"] == [21, 58]
    assert 21 / 58 < metropole["coverage"] < 1
    assert metropole["status"] == "ok" and metropole["value"] is not None
    strict = lyon_api.patch("/api/indicators/chomage-metropole",
                            json={"min_coverage": round(100 * metropole["coverage"]) + 1})
    assert strict.status_code == 200, strict.text
    epci = lyon_api.get("/api/indicators/chomage-metropole/values", params={"level": "epci"}).json()
    withheld = next(r for r in epci["results"] if r["code"] == METROPOLE_DE_LYON)
    assert withheld["status"] == "partial" and withheld["value"] is None
    assert withheld["coverage"] == metropole["coverage"]
    communes = lyon_api.get("/api/indicators/chomage-metropole/values",
                            params={"level": "commune"}).json()
    lyon = next(r for r in communes["results"] if r["code"] == LYON)
    assert lyon["status"] == "ok"       # Lyon's own IRIS all had data


def test_habitat_only_excludes_the_iris_of_types_a_and_d(lyon_api: TestClient) -> None:
    created = _define(lyon_api, "chomage-habitat", habitat_only=True)
    assert created.status_code == 201, created.text
    iris = lyon_api.get("/api/indicators/chomage-habitat/values", params={"level": "iris"}).json()
    kinds = {p["id"]: p["typ_iris"] for p in features()}
    excluded = {r["code"] for r in iris["results"] if r["status"] == "excluded"}
    assert excluded == {code for code, kind in kinds.items() if kind in ("A", "D")}
    assert len(excluded) == 32
    assert all(r["value"] is None for r in iris["results"] if r["code"] in excluded)
    communes = lyon_api.get("/api/indicators/chomage-habitat/values",
                            params={"level": "commune"}).json()
    expected = weighted_rates(habitat_only=True)
    for row in communes["results"]:
        if row["status"] == "ok":
            assert row["value"] == pytest.approx(expected[row["code"]], rel=1e-9), row["code"]
    assert created.json()["matching"]["excluded_iris"] == 32
    # null puts a field back to its default (a JSON merge patch): every IRIS counts again
    reset = lyon_api.patch("/api/indicators/chomage-habitat",
                           json={"habitat_only": None, "unit": None})
    assert reset.status_code == 200, reset.text
    iris = lyon_api.get("/api/indicators/chomage-habitat/values", params={"level": "iris"}).json()
    assert not [r for r in iris["results"] if r["status"] == "excluded"]


def test_a_new_version_of_the_dataset_recomputes_the_indicator(
        lyon_api: TestClient, tmp_path: Path) -> None:
    import json

    from lyon_testing import LYON_IRIS  # type: ignore[import-not-found]

    # a dataset of its own, so that its new version changes no other test's indicator
    made = lyon_api.post("/api/datasets", json={"organisation": "lyon", "title": "IRIS (versions)",
                                                "slug": "iris-versions"})
    assert made.status_code == 201, made.text

    def upload(path: Path) -> None:
        with path.open("rb") as handle:
            sent = lyon_api.post("/api/datasets/iris-versions/versions",
                                 files={"file": (path.name, handle, "application/geo+json")})
        assert sent.status_code == 201, sent.text

    upload(LYON_IRIS)
    assert lyon_api.post("/api/datasets/iris-versions/publish").status_code == 200
    _define(lyon_api, "chomage-versions", dataset="iris-versions", vintage=2012)
    before = lyon_api.get("/api/indicators/chomage-versions/values", params={"level": "commune"})
    lyon_before = next(r for r in before.json()["results"] if r["code"] == LYON)["value"]
    data = json.loads(LYON_IRIS.read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["properties"]["tchom"] is not None:
            f["properties"]["tchom"] = f["properties"]["tchom"] * 2
    path = tmp_path / "iris-lyon-2012-v2.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    upload(path)
    after = lyon_api.get("/api/indicators/chomage-versions/values", params={"level": "commune"})
    lyon_after = next(r for r in after.json()["results"] if r["code"] == LYON)["value"]
    assert lyon_after == pytest.approx(2 * lyon_before)
    assert lyon_api.get("/api/indicators/chomage-versions").json()["computation"]["dataset"][
        "version"] == 2


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"numerator": "tchom * p12_popp"}, "numerator", ["unknown field 'p12_popp'", "position 8"]),
    ({"numerator": "libiris"}, "numerator", ["not text"]),
    ({"numerator": "tchom / 0"}, "numerator", ["division by zero"]),
    ({"denominator": "p12_pop - p12_pop"}, "denominator", ["0 or empty on every row"]),
    ({"level": "commune"}, "level", ["not commune codes", "iris codes"]),
    ({"vintage": 1990}, "vintage", ["no iris for vintage 1990"]),
    ({"code_column": "nope"}, "code_column", ["no column 'nope'"]),
    ({"filters": "typ_iris = "}, "filters", ["position"]),
    ({"dataset": "ecoles-paris", "code_column": "geometry", "points": "count",
      "numerator": "", "denominator": ""}, "code_column", ["none of the 3 points", "inside"]),
    ({"colour": "red"}, "colour", ["Extra inputs"]),
    ({"id": "Chômage"}, "id", ["id"]),
])
def test_bad_definitions_are_refused_naming_the_field_and_nothing_is_saved(
        lyon_api: TestClient, fields: dict[str, object], field: str, words: list[str]) -> None:
    response = _define(lyon_api, "refuse", **fields)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field, body
    for word in words:
        assert word in body["message"], body["message"]
    assert "Traceback" not in response.text and "/tmp" not in response.text
    assert lyon_api.get("/api/indicators/refuse").status_code == 404
    if field == "numerator" and "position" in words[-1]:
        assert body["position"] == 8


def test_a_preview_saves_nothing_and_a_deleted_indicator_is_gone(lyon_api: TestClient) -> None:
    preview = lyon_api.post("/api/indicators/preview", params={"level": "commune"},
                            json={**DEFINITION, "id": "apercu-seul", "label": "Aperçu"})
    assert preview.status_code == 200, preview.text
    lyon = next(r for r in preview.json()["results"] if r["code"] == LYON)
    assert lyon["value"] == pytest.approx(LYON_RATE, abs=1e-6)
    assert lyon_api.get("/api/indicators/apercu-seul").status_code == 404
    assert _define(lyon_api, "a-supprimer").status_code == 201
    assert lyon_api.delete("/api/indicators/a-supprimer").status_code == 204
    assert lyon_api.get("/api/indicators/a-supprimer").status_code == 404
    assert lyon_api.delete("/api/indicators/a-supprimer").status_code == 404


@pytest.mark.parametrize(("points", "numerator", "total"), [
    ("count", "", 10), ("sum", "eleves", 2000), ("mean", "eleves", None)])
def test_points_are_counted_summed_or_averaged_within_each_territory(
        lyon_api: TestClient, tmp_path: Path, points: str, numerator: str,
        total: float | None) -> None:
    from lyon_testing import points_in_lyon  # type: ignore[import-not-found]

    slug = f"ecoles-{points}"
    assert lyon_api.post("/api/datasets", json={"organisation": "lyon", "title": slug,
                                                "slug": slug}).status_code == 201
    with points_in_lyon(tmp_path).open("rb") as handle:
        assert lyon_api.post(f"/api/datasets/{slug}/versions", files={
            "file": ("ecoles.geojson", handle, "application/geo+json")}).status_code == 201
    assert lyon_api.post(f"/api/datasets/{slug}/publish").status_code == 200
    created = lyon_api.post("/api/indicators", json={
        "id": slug, "label": "Écoles", "dataset": slug, "level": "iris", "code_column": "geometry",
        "points": points, "numerator": numerator, "vintage": 2012, "secrecy": 0})
    assert created.status_code == 201, created.text
    matching = created.json()["matching"]
    assert (matching["points"], matching["points_outside"]) == (11, 1)   # the one in Paris
    iris = lyon_api.get(f"/api/indicators/{slug}/values", params={"level": "iris"}).json()
    values = [r["value"] for r in iris["results"] if r["status"] == "ok" and r["value"]]
    if total is None:
        assert values and all(v == pytest.approx(200) for v in values)
    else:
        assert sum(values) == pytest.approx(total)
    assert created.json()["computation"]["points"] == points
