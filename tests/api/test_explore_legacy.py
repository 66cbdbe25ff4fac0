"""Opendatasoft's legacy paths: the v1 search (``/api/records/1.0/search/``) and the dataset
download (``/explore/dataset/<id>/download/``), with the v1 error body ``{"error": ...}``."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import pytest
from conformance import DATASET, ROWS, Portal, equipment_portal, publish_dataset  # type: ignore[import-not-found]

SEARCH = "/api/records/1.0/search/"
DOWNLOAD = f"/explore/dataset/{DATASET}/download/"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    made = equipment_portal(tmp_path_factory.mktemp("legacy"))
    publish_dataset(made.admin, "interne", access="internal")
    return made


def search(portal: Portal, *params: tuple[str, str]) -> dict:  # type: ignore[type-arg]
    response = portal.anonymous.get(SEARCH, params=[("dataset", DATASET), *params])
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(body: dict) -> list[int]:  # type: ignore[type-arg]
    return [r["fields"]["id"] for r in body["records"]]


def test_v1_search_answers_nhits_parameters_and_records(portal: Portal) -> None:
    body = search(portal, ("rows", "2"))
    assert body["nhits"] == len(ROWS)
    assert body["parameters"] == {"dataset": DATASET, "rows": 2, "start": 0, "format": "json",
                                  "timezone": "UTC"}
    record, row = body["records"][0], ROWS[0]
    assert record["datasetid"] == DATASET and record["recordid"] == "1"
    assert record["geometry"] == {"type": "Point", "coordinates": [row.lon, row.lat]}
    fields = record["fields"]
    assert fields["geo_point_2d"] == [row.lat, row.lon]  # v1 writes points as [lat, lon]
    assert fields["nom"] == row.nom and fields["ouverture"] == row.ouverture.isoformat()
    assert fields["geo_shape"]["type"] == "Polygon"


def test_v1_search_takes_q_refine_exclude_rows_start_and_sort(portal: Portal) -> None:
    assert ids(search(portal, ("q", "piscine"))) == [1, 9]
    assert ids(search(portal, ("q", "categorie:sante"))) == [r.id for r in ROWS if r.categorie == "sante"]
    refined = search(portal, ("refine.categorie", "sport"), ("refine.code_commune", "69123"))
    assert ids(refined) == [r.id for r in ROWS if r.categorie == "sport" and r.code_commune == "69123"]
    excluded = search(portal, ("exclude.categorie", "sport"), ("rows", "100"))
    assert excluded["nhits"] == sum(r.categorie != "sport" for r in ROWS)
    by_size = sorted(ROWS, key=lambda r: r.surface)
    assert ids(search(portal, ("sort", "surface"), ("rows", "3"))) == [r.id for r in by_size[::-1][:3]]
    assert ids(search(portal, ("sort", "-surface"), ("rows", "3"), ("start", "1"))) == [r.id for r in by_size[1:4]]
    assert list(search(portal, ("fields", "id,nom"), ("rows", "1"))["records"][0]["fields"]) == ["id", "nom"]


def test_v1_facets_are_facet_groups_with_paths(portal: Portal) -> None:
    body = search(portal, ("facet", "categorie"), ("facet", "ouverture"), ("refine.ouverture", "2024"))
    groups = {g["name"]: g["facets"] for g in body["facet_groups"]}
    in_2024 = [r for r in ROWS if r.ouverture.year == 2024]
    assert {f["path"]: f["count"] for f in groups["categorie"]} == Counter(r.categorie for r in in_2024)
    year = groups["ouverture"][0]
    assert (year["name"], year["path"], year["state"], year["count"]) == ("2024", "2024", "refined", len(in_2024))
    assert {f["path"]: f["count"] for f in year["facets"]} == {
        f"2024/{m:02d}": n for m, n in Counter(r.ouverture.month for r in in_2024).items()}


def test_v1_geofilter_distance_keeps_what_is_near(portal: Portal) -> None:
    row = ROWS[6]  # Ajaccio
    near = search(portal, ("geofilter.distance", f"{row.lat},{row.lon},2000"))
    assert ids(near) == [r.id for r in ROWS if r.code_commune == "2A004"]


@pytest.mark.parametrize("params, status, words", [
    ([("dataset", "nulle-part")], 404, ["nulle-part"]),
    ([("dataset", "interne")], 404, ["interne"]),
    ([], 400, ["dataset"]),
    ([("dataset", DATASET), ("rows", "beaucoup")], 400, ["rows"]),
    ([("dataset", DATASET), ("rows", "10001")], 400, ["rows"]),
    ([("dataset", DATASET), ("sort", "inconnu")], 400, ["inconnu"]),
    ([("dataset", DATASET), ("refine.inconnu", "x")], 400, ["inconnu"]),
    ([("dataset", DATASET), ("apikey", "not-a-key")], 401, []),
])
def test_v1_errors_are_opendatasoft_v1_bodies(portal: Portal, params: list, status: int,  # type: ignore[type-arg]
                                             words: list[str]) -> None:
    response = portal.anonymous.get(SEARCH, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and body["error"]
    for word in words:
        assert word in body["error"]


def test_members_read_the_v1_search_of_what_they_may_read(portal: Portal) -> None:
    response = portal.admin.get(SEARCH, params={"dataset": "interne"})
    assert response.status_code == 200 and response.json()["nhits"] == len(ROWS)
    assert "private" in response.headers["cache-control"]


def test_download_is_a_csv_export_with_v1_options(portal: Portal) -> None:
    response = portal.anonymous.get(DOWNLOAD, params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert not response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.text), delimiter=";"))
    assert [int(r["id"]) for r in rows] == [r.id for r in ROWS]
    assert rows[0]["geo_point_2d"] == f"{ROWS[0].lat}, {ROWS[0].lon}"
    commas = portal.anonymous.get(DOWNLOAD, params={"format": "csv", "csv_separator": ",",
                                                    "refine.categorie": "sport"})
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(commas.text))] == [
        r.id for r in ROWS if r.categorie == "sport"]
    geo = json.loads(portal.anonymous.get(DOWNLOAD, params={"format": "geojson", "q": "piscine"}).content)
    assert [f["properties"]["id"] for f in geo["features"]] == [1, 9]


def test_download_takes_the_decimal_comma_of_the_explore_export(portal: Portal) -> None:
    response = portal.anonymous.get(DOWNLOAD, params={"format": "csv", "decimal": "comma"})
    rows = list(csv.DictReader(io.StringIO(response.text), delimiter=";"))
    assert [r["surface"] for r in rows] == [str(r.surface).removesuffix(".0").replace(".", ",")
                                            for r in ROWS]   # 1250,5 and 2800
    assert rows[0]["id"] == "1" and rows[0]["geo_point_2d"] == f"{ROWS[0].lat}, {ROWS[0].lon}"
    clash = portal.anonymous.get(DOWNLOAD, params={"format": "csv", "decimal": "comma",
                                                   "csv_separator": ","})
    assert clash.status_code == 400 and "decimal=comma" in clash.json()["error"]


def test_download_errors_are_v1_bodies(portal: Portal) -> None:
    missing = portal.anonymous.get("/explore/dataset/nulle-part/download/", params={"format": "csv"})
    assert missing.status_code == 404 and list(missing.json()) == ["error"]
    bad = portal.anonymous.get(DOWNLOAD, params={"format": "doc"})
    assert bad.status_code == 400 and "doc" in bad.json()["error"]
    hidden = portal.anonymous.get("/explore/dataset/interne/download/", params={"format": "csv"})
    assert hidden.status_code == 404 and "Piscine" not in hidden.text
