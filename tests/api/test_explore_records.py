"""Explore API v2.1 /records: query in, exact JSON out, on a dataset whose answers are known."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from portal import RECORDS  # type: ignore[import-not-found]


def get(api: TestClient, **params: object) -> dict:  # type: ignore[type-arg]
    response = api.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(body: dict) -> list[int]:  # type: ignore[type-arg]
    return [r["id"] for r in body["results"]]


def test_first_page_has_total_count_and_ten_results_at_most(api: TestClient) -> None:
    body = get(api)
    assert body["total_count"] == 8 and ids(body) == [1, 2, 3, 4, 5, 6, 7, 8]
    first = body["results"][0]
    assert first["code_commune"] == "69123" and first["salaire"] == 1800.5
    assert first["date_publication"] == "2024-03-01"
    assert first["geometry"] == {"type": "Point", "coordinates": [4.8357, 45.764]}


def test_codes_keep_their_leading_zeros_and_letters(api: TestClient) -> None:
    assert ids(get(api, where='code_commune = "01004"')) == [4]
    assert ids(get(api, where='code_commune = "2A004"')) == [7]


@pytest.mark.parametrize("where, expected", [
    ('code_rome = "K2204"', [1, 2, 8]),
    ('code_rome:"K2204"', [1, 2, 8]),
    ('code_rome != "K2204" and salaire >= 2000', [3, 6]),
    ("salaire > 1900 or salaire < 1710", [3, 5, 6, 7]),
    ('not code_rome = "K2204"', [3, 4, 5, 6, 7]),
    ('code_rome in ("J1501", "M1607")', [3, 6, 7]),
    ("salaire in [1750..1900]", [1, 2, 4]),
    ("salaire is null", [8]),
    ("salaire is not null and id <= 2", [1, 2]),
    ("date_publication >= date'2025-01-01'", [6, 7, 8]),
    ("year(date_publication) = 2024 and month(date_publication) = 3", [1, 2]),
    ('libelle like "Agent*"', [1, 2]),
    ('"infirmier"', [6]),
    ('search(libelle, "equipier")', [5]),
    ('startswith(libelle, "Aide")', [3]),
    ("within_distance(geometry, geom'POINT(4.8357 45.7640)', 1km)", [1, 5, 8]),
    ("in_bbox(geometry, 45.9, 5.3, 46.0, 5.4)", [4]),
    ("(id = 1 or id = 2) and (salaire > 1760)", [1]),
])
def test_where_clauses_select_the_expected_records(api: TestClient, where: str, expected: list[int]) -> None:
    assert ids(get(api, where=where, limit=100)) == expected


def test_group_by_with_aggregates_and_order(api: TestClient) -> None:
    body = get(api, select="code_rome, count(*) as n, avg(salaire) as moyenne",
               group_by="code_rome", order_by="n desc, code_rome")
    assert body["total_count"] == 5
    assert body["results"][0] == {"code_rome": "K2204", "n": 3, "moyenne": pytest.approx(1775.25)}
    assert [r["code_rome"] for r in body["results"]] == ["K2204", "J1501", "G1603", "M1607", "N1103"]


def test_order_by_desc_and_limit_offset(api: TestClient) -> None:
    body = get(api, order_by="salaire desc", limit=2, offset=1, select="id, salaire")
    assert body["results"] == [{"id": 3, "salaire": 2100.0}, {"id": 7, "salaire": 1950.0}]


def test_refine_and_exclude_filter_like_facets(api: TestClient) -> None:
    assert ids(get(api, refine="code_rome:J1501")) == [3, 6]
    assert ids(get(api, exclude="code_rome:K2204", where="salaire < 2000")) == [4, 5, 7]


def test_one_record_by_id(api: TestClient) -> None:
    response = api.get(f"{RECORDS}/3")
    assert response.status_code == 200 and response.json()["libelle"] == "Aide-soignant"
    assert api.get(f"{RECORDS}/999").status_code == 404
    assert api.get(f"{RECORDS}/abc").status_code == 404


def test_facets_count_values_and_honour_where(api: TestClient) -> None:
    response = api.get("/api/explore/v2.1/catalog/datasets/offres/facets",
                       params={"facet": "code_rome", "where": "salaire > 1700"})
    assert response.status_code == 200
    facet = response.json()["facets"][0]
    assert facet["name"] == "code_rome"
    assert facet["facets"][0] == {"name": "J1501", "count": 2, "state": "displayed", "value": "J1501"}
    assert {v["value"]: v["count"] for v in facet["facets"]} == {
        "J1501": 2, "K2204": 2, "M1607": 1, "N1103": 1}


def test_facet_function_syntax_with_sort_and_limit(api: TestClient) -> None:
    response = api.get("/api/explore/v2.1/catalog/datasets/offres/facets",
                       params={"facet": 'facet(name="code_commune", sort="value", limit=2)'})
    assert [v["value"] for v in response.json()["facets"][0]["facets"]] == ["01004", "2A004"]


@pytest.mark.parametrize("params, status, words", [
    ({"where": "salaire >"}, 400, ["where", "position"]),
    ({"where": "salaire > 'abc' and ("}, 400, ["where"]),
    ({"select": "count(*"}, 400, ["select"]),
    ({"group_by": "code_rome,"}, 400, ["group_by"]),
    ({"order_by": "salaire sideways"}, 400, ["order_by"]),
    ({"limit": 101}, 400, ["limit"]),
    ({"limit": 100, "offset": 9950}, 400, ["offset"]),
    ({"offset": -1}, 400, ["offset"]),
    ({"where": '"text" > 3 and libelle > 3'}, 400, ["where"]),
    ({"where": "inconnu = 1"}, 400, ["inconnu"]),  # ODSQLError, as Opendatasoft answers
    ({"where": "'; drop table version; --"}, 400, ["where"]),
    ({"where": "read_csv('/etc/passwd') = 1"}, 400, ["read_csv"]),
    ({"select": "getenv('HOME')"}, 400, ["getenv"]),
    ({"where": "id = 1; select 1"}, 400, ["where"]),
    ({"where": "id = 1 /* c */"}, 400, ["where"]),
    ({"where": "(" * 500 + "id = 1" + ")" * 500}, 400, ["where"]),
    ({"where": " or ".join(f"id = {i}" for i in range(1500))}, 200, []),
])
def test_bad_queries_get_a_4xx_naming_the_clause(api: TestClient, params: dict, status: int,  # type: ignore[type-arg]
                                                 words: list[str]) -> None:
    response = api.get(RECORDS, params=params)
    assert response.status_code == status, response.text
    if status >= 400:
        body = response.json()
        assert set(body) == {"error_code", "message"}
        for word in words:
            assert word in body["message"]


def test_unknown_dataset_is_404_in_opendatasoft_error_format(api: TestClient) -> None:
    response = api.get("/api/explore/v2.1/catalog/datasets/nope/records")
    assert response.status_code == 404 and "nope" in response.json()["message"]


def test_immutable_versions_answer_with_etag_and_304(api: TestClient) -> None:
    url = "/api/datasets/offres/versions/1/records"
    first = api.get(url, params={"limit": 2})
    assert first.status_code == 200 and "immutable" in first.headers["cache-control"]
    again = api.get(url, params={"limit": 2}, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_anonymous_visitors_only_reach_published_public_datasets(public_api: TestClient) -> None:
    assert public_api.get(RECORDS).status_code == 200
    for path in ["records", "facets?facet=code", "exports/csv", "records/1"]:
        response = public_api.get(f"/api/explore/v2.1/catalog/datasets/brouillon/{path}")
        assert response.status_code == 404, path
        assert "42" not in response.text
    listing = public_api.get("/api/explore/v2.1/catalog/datasets").json()
    assert listing["total_count"] == 1 and listing["results"][0]["dataset_id"] == "offres"
    assert public_api.get("/api/datasets/brouillon/versions/1/records").status_code == 404
    assert public_api.get("/api/datasets/brouillon/versions/1/download/csv").status_code == 404


@pytest.mark.parametrize("params, total, count", [
    ({"offset": 5, "limit": 10}, 8, 3), ({"offset": 20, "limit": 10}, 8, 0),
    ({"where": "salaire > 2000", "limit": 1}, 2, 1), ({"where": "id > 100"}, 0, 0),
])
def test_total_count_is_exact_on_partial_and_empty_pages(api: TestClient, params: dict,  # type: ignore[type-arg]
                                                         total: int, count: int) -> None:
    body = get(api, **params)
    assert body["total_count"] == total and len(body["results"]) == count
