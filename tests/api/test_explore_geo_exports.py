"""Exports as Opendatasoft makes them: shp, kml, gpx, fgb and geojson with ``epsg``;
``use_labels``, ``compressed``, ``with_bom`` (true by default), ``delimiter``; datetimes in the
``timezone`` asked for, in every format. Files are read back with real readers (DuckDB spatial,
the XML parser, zipfile, gzip, pyarrow, openpyxl)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import pyarrow.parquet as pq
import pytest
from conformance import DATASET, EXPLORE, ROWS, Portal, equipment_portal, paris  # type: ignore[import-not-found]
from openpyxl import load_workbook

from mutuelle.store.duck import spatial_extension_path

EXPORTS = f"{EXPLORE}/{DATASET}/exports"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    made = equipment_portal(tmp_path_factory.mktemp("exports"))
    labelled = made.admin.patch(f"/api/datasets/{DATASET}/versions/1/fields/nom",
                                json={"label": "Nom de l'équipement"})
    assert labelled.status_code == 200, labelled.text
    return made


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"LOAD '{spatial_extension_path()}'")
    return con


def export(portal: Portal, fmt: str, **params: object) -> bytes:
    response = portal.anonymous.get(f"{EXPORTS}/{fmt}", params=params)
    assert response.status_code == 200, response.text
    return response.content


def lambert(duck: duckdb.DuckDBPyConnection, lon: float, lat: float) -> tuple[float, float]:
    x, y = duck.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_Point(?, ?), 'EPSG:4326', "
                        "'EPSG:2154', always_xy := true) AS p)", [lon, lat]).fetchone()  # type: ignore[misc]
    return x, y


def test_export_formats_are_listed(portal: Portal) -> None:
    links = portal.anonymous.get(EXPORTS).json()["links"]
    assert {link["rel"] for link in links} >= {"self", "csv", "json", "geojson", "shp", "kml", "gpx", "fgb",
                                               "parquet", "xlsx", "jsonl"}


def test_geojson_projected_with_epsg_names_its_crs(portal: Portal, duck: duckdb.DuckDBPyConnection) -> None:
    plain = json.loads(export(portal, "geojson", where="id = 1"))
    assert "crs" not in plain
    feature = plain["features"][0]
    assert feature["geometry"]["type"] == "Polygon"  # geo_shape, with the point as geo_point_2d
    assert feature["properties"]["geo_point_2d"] == {"lon": ROWS[0].lon, "lat": ROWS[0].lat}
    projected = json.loads(export(portal, "geojson", where="id = 1", select="id, geo_point_2d", epsg=2154))
    assert projected["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::2154"
    assert projected["features"][0]["geometry"]["coordinates"] == pytest.approx(
        list(lambert(duck, ROWS[0].lon, ROWS[0].lat)))


def test_unknown_projection_is_refused_before_any_byte(portal: Portal) -> None:
    response = portal.anonymous.get(f"{EXPORTS}/geojson", params={"epsg": 999999})
    assert response.status_code == 400 and "999999" in response.json()["message"]


def test_shapefile_is_a_zip_that_gdal_reads_back_projected(portal: Portal, duck: duckdb.DuckDBPyConnection,
                                                          tmp_path: Path) -> None:
    content = export(portal, "shp", select="id, nom, surface, geo_point_2d", epsg=2154)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path)
    assert names == [f"{DATASET}.{ext}" for ext in ("cpg", "dbf", "prj", "shp", "shx")]
    rows = duck.execute(f"SELECT id, nom, ST_X(geom), ST_Y(geom) FROM ST_Read('{tmp_path / DATASET}.shp') "
                        "ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(r.id, r.nom) for r in ROWS]
    assert [tuple(r[2:]) for r in rows] == [pytest.approx(lambert(duck, r.lon, r.lat)) for r in ROWS]
    assert "Lambert" in (tmp_path / f"{DATASET}.prj").read_text()


def test_flatgeobuf_reads_back_with_its_shapes(portal: Portal, duck: duckdb.DuckDBPyConnection,
                                               tmp_path: Path) -> None:
    target = tmp_path / "x.fgb"
    target.write_bytes(export(portal, "fgb", where='categorie = "sport"'))
    rows = duck.execute(f"SELECT id, ST_GeometryType(geom) FROM ST_Read('{target}') ORDER BY id").fetchall()
    assert rows == [(r.id, "POLYGON") for r in ROWS if r.categorie == "sport"]


def test_a_shapefile_of_a_select_without_geometry_is_refused(portal: Portal) -> None:
    response = portal.anonymous.get(f"{EXPORTS}/shp", params={"select": "id, nom"})
    assert response.status_code == 400 and "geometry" in response.json()["message"]


def test_kml_holds_one_placemark_per_row_in_wgs84(portal: Portal) -> None:
    root = ElementTree.fromstring(export(portal, "kml", select="id, nom, geo_point_2d", epsg=2154))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    marks = root.findall(".//k:Placemark", ns)
    assert len(marks) == len(ROWS)
    first = marks[0]
    data = {d.get("name"): d.findtext("k:value", namespaces=ns) for d in first.findall(".//k:Data", ns)}
    assert data == {"id": "1", "nom": ROWS[0].nom}
    assert first.findtext(".//k:Point/k:coordinates", namespaces=ns) == f"{ROWS[0].lon},{ROWS[0].lat}"


def test_gpx_points_are_waypoints_named_and_described_as_asked(portal: Portal) -> None:
    ns = {"g": "http://www.topografix.com/GPX/1/1", "ogr": "http://osgeo.org/gdal"}
    root = ElementTree.fromstring(export(portal, "gpx", select="id, nom, categorie, geo_point_2d",
                                         name_field="nom", description_field_list="categorie"))
    points = root.findall("g:wpt", ns)
    assert [(float(p.get("lat")), float(p.get("lon"))) for p in points] == [(r.lat, r.lon) for r in ROWS]  # type: ignore[arg-type]
    assert points[0].findtext("g:name", namespaces=ns) == ROWS[0].nom
    assert points[0].findtext("g:desc", namespaces=ns) == ROWS[0].categorie
    assert points[0].findtext("g:extensions/ogr:id", namespaces=ns) == "1"
    flat = ElementTree.fromstring(export(portal, "gpx", select="id, geo_point_2d", use_extension="false",
                                         where="id = 2"))
    assert flat.findtext("g:wpt/g:desc", namespaces=ns) == "id: 2"
    shapes = ElementTree.fromstring(export(portal, "gpx", select="id, geo_shape", where="id = 1"))
    assert len(shapes.findall("g:trk/g:trkseg/g:trkpt", ns)) == 5  # the square's ring, closed


def test_csv_starts_with_a_bom_by_default_and_takes_opendatasoft_delimiters(portal: Portal) -> None:
    default = export(portal, "csv", select="id, nom", where="id = 1")
    assert default.startswith("\ufeff".encode())
    assert next(csv.reader(io.StringIO(default.decode("utf-8-sig")), delimiter=";")) == ["id", "nom"]
    for delimiter in (";", ",", "|", "\t"):
        plain = export(portal, "csv", select="id, nom", where="id = 1", with_bom="false", delimiter=delimiter)
        assert not plain.startswith("\ufeff".encode())
        assert list(csv.reader(io.StringIO(plain.decode()), delimiter=delimiter)) == [["id", "nom"], ["1", ROWS[0].nom]]
    refused = portal.anonymous.get(f"{EXPORTS}/csv", params={"delimiter": "x"})
    assert refused.status_code == 400 and "delimiter" in refused.json()["message"]


def test_csv_writes_points_as_lat_lon_and_datetimes_in_the_time_zone(portal: Portal) -> None:
    text = export(portal, "csv", select="id, maj, geo_point_2d", timezone="Europe/Paris").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["maj"] for r in rows] == [paris(r.maj) for r in ROWS]
    assert [r["geo_point_2d"] for r in rows] == [f"{r.lat}, {r.lon}" for r in ROWS]
    utc = export(portal, "csv", select="maj", where="id = 3").decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(utc), delimiter=";")) == [["maj"], [ROWS[2].maj.isoformat()]]


def test_timezone_applies_to_json_parquet_and_xlsx_exports(portal: Portal, tmp_path: Path) -> None:
    row = ROWS[2]
    as_json = json.loads(export(portal, "json", select="maj", where=f"id = {row.id}", timezone="Europe/Paris"))
    assert as_json == [{"maj": paris(row.maj)}]
    lines = export(portal, "jsonl", select="maj", where=f"id = {row.id}", timezone="Europe/Paris")
    assert json.loads(lines) == {"maj": paris(row.maj)}
    parquet = tmp_path / "x.parquet"
    parquet.write_bytes(export(portal, "parquet", select="maj", where=f"id = {row.id}", timezone="Europe/Paris"))
    value = pq.read_table(parquet).column("maj").to_pylist()[0]
    assert value.isoformat() == paris(row.maj) and pq.read_metadata(parquet).row_group(0).column(0).compression == "SNAPPY"
    xlsx = tmp_path / "x.xlsx"
    xlsx.write_bytes(export(portal, "xlsx", select="maj", where=f"id = {row.id}", timezone="Europe/Paris"))
    cell = list(load_workbook(xlsx, read_only=True).active.iter_rows(values_only=True))[1][0]  # type: ignore[union-attr]
    assert cell.isoformat() == paris(row.maj)[:19]


def test_use_labels_names_csv_and_xlsx_columns_by_their_label(portal: Portal, tmp_path: Path) -> None:
    text = export(portal, "csv", select="id, nom", where="id = 1", use_labels="true").decode("utf-8-sig")
    assert next(csv.reader(io.StringIO(text), delimiter=";")) == ["id", "Nom de l'équipement"]
    xlsx = tmp_path / "x.xlsx"
    xlsx.write_bytes(export(portal, "xlsx", select="id, nom", where="id = 1", use_labels="true"))
    header = list(load_workbook(xlsx, read_only=True).active.iter_rows(values_only=True))[0]  # type: ignore[union-attr]
    assert header == ("id", "Nom de l'équipement")


@pytest.mark.parametrize("fmt", ["csv", "json", "geojson", "shp", "kml"])
def test_compressed_exports_are_gzipped_copies(portal: Portal, fmt: str) -> None:
    response = portal.anonymous.get(f"{EXPORTS}/{fmt}", params={"compressed": "true", "where": "id <= 3"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/gzip"
    assert response.headers["content-disposition"].endswith('.gz"')
    plain = export(portal, fmt, where="id <= 3")
    unpacked = gzip.decompress(response.content)
    if fmt == "shp":  # a zip: the same members
        with zipfile.ZipFile(io.BytesIO(unpacked)) as a, zipfile.ZipFile(io.BytesIO(plain)) as b:
            assert a.namelist() == b.namelist()
    else:
        assert unpacked == plain
