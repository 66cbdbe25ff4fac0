"""Explore API v2.1 catalogue endpoints."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

CATALOG = "/api/explore/v2.1/catalog"


def test_catalog_lists_datasets_in_opendatasoft_shape(public_api: TestClient) -> None:
    body = public_api.get(f"{CATALOG}/datasets").json()
    assert body["total_count"] == 1
    dataset = body["results"][0]
    assert dataset["dataset_id"] == "offres"
    assert dataset["metas"]["default"]["title"] == "Offres d'emploi"
    assert dataset["metas"]["default"]["records_count"] == 8
    assert {"name": "code_commune", "type": "text"}.items() <= next(
        f for f in dataset["fields"] if f["name"] == "code_commune").items()


def test_catalog_where_select_and_facets(api: TestClient) -> None:
    body = api.get(f"{CATALOG}/datasets", params={"where": "records_count > 5",
                                                  "select": "dataset_id, records_count"}).json()
    assert body == {"total_count": 1, "results": [{"dataset_id": "offres", "records_count": 8}]}
    facets = api.get(f"{CATALOG}/facets", params={"facet": "publisher"}).json()["facets"][0]
    assert facets["facets"] == [{"name": "Lyon", "count": 2, "state": "displayed", "value": "Lyon"}]


def test_one_dataset_and_unknown_dataset(public_api: TestClient) -> None:
    assert public_api.get(f"{CATALOG}/datasets/offres").json()["dataset_id"] == "offres"
    assert public_api.get(f"{CATALOG}/datasets/brouillon").status_code == 404


def test_catalog_exports(public_api: TestClient) -> None:
    rows = list(csv.reader(io.StringIO(public_api.get(f"{CATALOG}/exports/csv",
                                                      params={"select": "dataset_id, title"}).text), delimiter=";"))
    assert rows == [["dataset_id", "title"], ["offres", "Offres d'emploi"]]
    assert public_api.get(f"{CATALOG}/exports/json").json()[0]["dataset_id"] == "offres"
    assert public_api.get(f"{CATALOG}/exports/xml").status_code == 404


def test_catalog_bad_query_names_the_clause(public_api: TestClient) -> None:
    response = public_api.get(f"{CATALOG}/datasets", params={"where": "records_count >"})
    assert response.status_code == 400 and "where" in response.json()["message"]
