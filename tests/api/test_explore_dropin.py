"""Explore v2.1 as a drop-in for Opendatasoft, /records side: several where, the limits,
``geo_point_2d``, links and cursors, lang and timezone; on a dataset laid out like an
Opendatasoft export, with answers computed here from its rows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conformance import DATASET, EXPLORE, ROWS, Portal, by_id, equipment_portal, paris  # type: ignore[import-not-found]

RECORDS = f"{EXPLORE}/{DATASET}/records"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return equipment_portal(tmp_path_factory.mktemp("dropin"))


def get(portal: Portal, **params: object) -> dict:  # type: ignore[type-arg]
    response = portal.anonymous.get(RECORDS, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(body: dict) -> list[int]:  # type: ignore[type-arg]
    return [r["id"] for r in body["results"]]


def test_files_laid_out_like_opendatasoft_exports_import_their_geometry(portal: Portal) -> None:
    fields = {f["name"]: f for f in portal.admin.get("/api/datasets/equipements/versions/1").json()["fields"]}
    assert fields["geo_point_2d"]["type"] == "geometry" and fields["geo_shape"]["type"] == "geometry"
    body = get(portal, where="id = 1")
    record, row = body["results"][0], ROWS[0]
    assert record["geo_point_2d"] == {"lon": row.lon, "lat": row.lat}
    shape = record["geo_shape"]
    assert shape["type"] == "Polygon"
    flat = [c for point in shape["coordinates"][0] for c in point]
    assert flat == pytest.approx([c for point in row.square["coordinates"][0] for c in point])


def test_points_are_also_served_as_geo_point_2d_beside_their_geometry(api: object) -> None:
    from fastapi.testclient import TestClient

    assert isinstance(api, TestClient)
    record = api.get("/api/explore/v2.1/catalog/datasets/offres/records", params={"limit": 1}).json()["results"][0]
    assert record["geometry"] == {"type": "Point", "coordinates": [4.8357, 45.764]}
    assert record["geo_point_2d"] == {"lon": 4.8357, "lat": 45.764}
    near = api.get("/api/explore/v2.1/catalog/datasets/offres/records", params={
        "where": "within_distance(geo_point_2d, geom'POINT(4.8357 45.7640)', 1km)", "limit": 100})
    assert [r["id"] for r in near.json()["results"]] == [1, 5, 8]


def test_several_where_parameters_are_anded(portal: Portal) -> None:
    body = get(portal, where=['categorie = "sport"', "surface > 1200"], limit=100)
    expected = [r.id for r in ROWS if r.categorie == "sport" and r.surface > 1200]
    assert ids(body) == expected == [1, 6] and body["total_count"] == 2
    facets = portal.anonymous.get(f"{EXPLORE}/{DATASET}/facets", params=[
        ("facet", "code_commune"), ("where", 'categorie = "sport"'), ("where", "surface > 1200")]).json()
    assert {v["value"]: v["count"] for v in facets["facets"][0]["facets"]} == {"69123": 1, "01004": 1}


@pytest.mark.parametrize("params, status", [
    ({"select": "categorie, count(*) as n", "group_by": "categorie", "limit": 20000}, 200),
    ({"select": "categorie, count(*) as n", "group_by": "categorie", "limit": 20001}, 400),
    ({"select": "categorie, count(*) as n", "group_by": "categorie", "limit": 100, "offset": 19950}, 400),
    ({"limit": 100}, 200),
    ({"limit": 101}, 400),
    ({"limit": -1}, 200),
    ({"where": "inconnu = 1"}, 400),
    ({"select": "inconnu"}, 400),
    ({"lang": "xx"}, 400),
    ({"timezone": "Mars/Olympus"}, 400),
])
def test_limits_and_unknown_fields_answer_as_opendatasoft(portal: Portal, params: dict,  # type: ignore[type-arg]
                                                          status: int) -> None:
    response = portal.anonymous.get(RECORDS, params=params)
    assert response.status_code == status, response.text
    if status == 400 and "inconnu" in str(params):
        assert response.json() == {"error_code": "ODSQLError", "message": response.json()["message"]}
        assert "inconnu" in response.json()["message"]


def test_group_by_pages_hold_up_to_twenty_thousand_groups(portal: Portal) -> None:
    body = get(portal, select="id, count(*) as n", group_by="id", limit=20000)
    assert body["total_count"] == len(ROWS) and len(body["results"]) == len(ROWS)


def test_aggregates_alone_are_one_row_without_links(portal: Portal) -> None:
    body = get(portal, select="count(*) as n, max(surface) as plus_grande", limit=5)
    assert body == {"total_count": 1, "results": [{"n": len(ROWS), "plus_grande": max(r.surface for r in ROWS)}]}


def _follow(portal: Portal, body: dict) -> list[int]:  # type: ignore[type-arg]
    seen = ids(body)
    while "links" in body:
        (link,) = body["links"]
        assert link["rel"] == "next"
        response = portal.anonymous.get(link["href"])
        assert response.status_code == 200, response.text
        body = response.json()
        seen += ids(body)
    return seen


@pytest.mark.parametrize("params", [{"limit": 5}, {"limit": 6}, {"limit": 4, "order_by": "surface desc"},
                                    {"limit": 3, "where": 'categorie != "sport"'}])
def test_next_links_page_to_the_end_and_stop_where_no_page_follows(portal: Portal, params: dict) -> None:  # type: ignore[type-arg]
    body = get(portal, **params)
    rows = [r for r in ROWS if "where" not in params or r.categorie != "sport"]
    if "order_by" in params:
        rows = sorted(rows, key=lambda r: -r.surface)
    assert _follow(portal, body) == [r.id for r in rows]


@pytest.mark.parametrize("params", [{"limit": 12}, {"limit": 6, "offset": 6}, {"limit": 20},
                                    {"select": "categorie", "group_by": "categorie", "limit": 4}])
def test_full_pages_that_end_the_records_carry_no_next_link(portal: Portal, params: dict) -> None:  # type: ignore[type-arg]
    body = get(portal, **params)
    assert "links" not in body and body["results"]


def test_a_next_link_keeps_every_where_and_refine(portal: Portal) -> None:
    body = get(portal, where=['categorie != "education"', "surface < 3000"], refine="code_commune:69123",
               limit=2)
    expected = [r.id for r in ROWS if r.categorie != "education" and r.surface < 3000
                and r.code_commune == "69123"]
    assert _follow(portal, body) == expected == [1, 2, 4, 9, 11]


def test_an_old_two_part_cursor_still_pages(portal: Portal) -> None:
    token = base64.urlsafe_b64encode(json.dumps(["row", 9]).encode()).decode().rstrip("=")
    assert ids(get(portal, after=token, limit=5)) == [11, 12]


def test_include_links_adds_hateoas_links_to_the_page_and_each_record(portal: Portal) -> None:
    body = get(portal, include_links="true", limit=5, order_by="id")
    rels = {link["rel"]: link["href"] for link in body["_links"]}
    assert set(rels) == {"self", "first", "next"}
    assert rels["next"].startswith("http://testserver/api/explore/v2.1/catalog/datasets/equipements/records?")
    assert "offset=5" in rels["next"] and "offset=0" in rels["first"]
    first = body["results"][0]["_links"]
    assert first == [{"rel": "self", "href": "http://testserver/api/explore/v2.1/catalog/datasets/equipements/records/1"},
                     {"rel": "dataset", "href": "http://testserver/api/explore/v2.1/catalog/datasets/equipements"}]
    record = portal.anonymous.get(first[0]["href"])
    assert record.status_code == 200 and record.json()["id"] == 1
    assert "_links" not in get(portal, limit=5)


def test_include_app_metas_is_accepted(portal: Portal) -> None:
    assert ids(get(portal, include_app_metas="true", limit=3)) == [1, 2, 3]


def test_timezone_applies_to_datetimes_of_records_and_of_one_record(portal: Portal) -> None:
    row = ROWS[2]  # 2023-12-31T23:30Z: already 2024 in Paris
    utc = get(portal, where=f"id = {row.id}")["results"][0]["maj"]
    assert utc == row.maj.isoformat() == "2023-12-31T23:30:00+00:00"
    local = get(portal, where=f"id = {row.id}", timezone="Europe/Paris")["results"][0]["maj"]
    assert local == paris(row.maj) == "2024-01-01T00:30:00+01:00"
    one = portal.anonymous.get(f"{RECORDS}/{row.id}", params={"timezone": "Europe/Paris"}).json()
    assert one["maj"] == local and one["ouverture"] == row.ouverture.isoformat()
    years = get(portal, select="year(maj) as annee, count(*) as n", group_by="year(maj) as annee",
                timezone="Europe/Paris", order_by="annee")
    in_paris: dict[int, int] = {}
    for r in ROWS:
        year = int(paris(r.maj)[:4])
        in_paris[year] = in_paris.get(year, 0) + 1
    assert {g["annee"]: g["n"] for g in years["results"]} == in_paris


def test_lang_is_one_of_opendatasoft_languages(portal: Portal) -> None:
    assert get(portal, lang="en", where="id = 1")["results"][0]["nom"] == ROWS[0].nom
    assert portal.anonymous.get(RECORDS, params={"lang": "klingon"}).json()["error_code"] == "InvalidInput"


def test_search_functions_find_the_records_with_those_words(portal: Portal) -> None:
    # the last term is a prefix; the others match within 2 edits (1 for 3 to 5 letters)
    cases = {'search(*, "piscine")': [1, 9], 'search("piscine")': [1, 9], '"piscine"': [1, 9],
             'search(nom, "pisicne rh")': [1], 'suggest("biblio")': [2],
             'startswith("Centre")': [4, 12], 'nom like "santé"': [4, 7, 12]}
    for where, expected in cases.items():
        assert ids(get(portal, where=where, limit=100)) == expected, where
        assert [r.id for r in by_id(expected)] == expected


def test_a_records_path_with_a_trailing_slash_answers_the_same(portal: Portal) -> None:
    plain = portal.anonymous.get(RECORDS, params={"limit": 2})
    slashed = portal.anonymous.get(RECORDS + "/", params={"limit": 2}, follow_redirects=False)
    assert slashed.status_code == 200 and slashed.json() == plain.json()


def test_the_native_versioned_route_takes_the_same_parameters(portal: Portal, tmp_path: Path) -> None:
    url = f"/api/datasets/{DATASET}/versions/1/records"
    body = portal.anonymous.get(url, params=[("where", 'categorie = "sport"'), ("where", "surface > 1200"),
                                             ("timezone", "Europe/Paris")]).json()
    assert ids(body) == [1, 6] and body["results"][0]["maj"] == paris(ROWS[0].maj)


@pytest.mark.parametrize("lang, expected", [
    (None, "samedi 15 juin 2019, sam."), ("fr", "samedi 15 juin 2019, sam."),
    ("en", "Saturday 15 June 2019, Sat"), ("de", "Samstag 15 Juni 2019, Sa."),
])
def test_lang_names_days_and_months_in_date_format(portal: Portal, lang: str | None, expected: str) -> None:
    params = {"select": "date_format(ouverture, 'EEEE d MMMM yyyy, E') as jour", "where": "id = 1"}
    if lang:
        params["lang"] = lang
    assert get(portal, **params)["results"] == [{"jour": expected}]
    grouped = get(portal, select="count(*) as n", group_by="date_format(ouverture, 'MMMM') as mois",
                  where="year(ouverture) = 2024", order_by="mois", **({"lang": lang} if lang else {}))
    months = {"juin": 2, "mars": 2, "novembre": 1} if lang in (None, "fr") else None
    if months:
        assert {g["mois"]: g["n"] for g in grouped["results"]} == months


def test_an_opendatasoft_geometry_that_does_not_read_fails_the_import_naming_its_line(portal: Portal) -> None:
    made = portal.admin.post("/api/datasets", json={"organisation": "lyon", "title": "Points faux",
                                                    "slug": "points-faux"})
    assert made.status_code == 201, made.text
    rows = "\n".join(["id;Geo Point"] + [f"{i};45.{i}, 4.8" for i in range(1, 30)] + ["30;45.7, quatre"])
    response = portal.admin.post("/api/datasets/points-faux/versions",
                                 files={"file": ("faux.csv", rows.encode())})
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert "Geo Point" in message and "'45.7, quatre'" in message and "line 31" in message
    fine = "\n".join(["id;Geo Point;geo_shape"] + [f"{i};45.{i}, 4.8;" for i in range(1, 5)])
    assert portal.admin.post("/api/datasets/points-faux/versions",
                             files={"file": ("bon.csv", fine.encode())}).status_code == 201
    body = portal.admin.get("/api/explore/v2.1/catalog/datasets/points-faux/records").json()
    assert [r["Geo Point"] for r in body["results"]] == [
        {"type": "Point", "coordinates": [4.8, float(f"45.{i}")]} for i in range(1, 5)]
    assert [r["geo_shape"] for r in body["results"]] == [None] * 4
