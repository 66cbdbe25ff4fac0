"""GeoJSON, zipped Shapefile and GeoPackage imports, on the shared real and awkward files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.ingest.geo import read_geo
from mutuelle.ingest.model import ImportOptions, StagedTable
from mutuelle.ingest.reader import read_file
from mutuelle.store.duck import connect

#: The first vertex of the first IRIS of the Lambert-93 fixtures, and where it lies in WGS84.
FIRST_VERTEX_L93 = (842000.0, 6519000.0)
FIRST_VERTEX_LONLAT = (4.826850, 45.755818)


def _read(settings: Settings, source: Path, options: ImportOptions | None = None) -> StagedTable:
    dest = settings.home / "staged" / (source.stem + ".parquet")
    return read_file(source, source.name, dest, settings, options or ImportOptions())


def _rows(settings: Settings, parquet: Path, sql: str) -> list[tuple]:
    con = connect(settings)
    try:
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{parquet}')")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _assert_lyon_iris(settings: Settings, staged: StagedTable) -> None:
    assert staged.row_count == 12
    types = {c.name: c.type for c in staged.columns}
    assert types["CODE_IRIS"] == "text" and types["INSEE_COM"] == "text"
    concepts = {c.name: c.concept for c in staged.columns}
    assert concepts["CODE_IRIS"] == "code_iris" and concepts["INSEE_COM"] == "code_commune"
    assert types["geometry"] == "geometry"
    assert staged.detected["crs"] == "EPSG:2154"
    assert staged.detected["geometry_type"] == "POLYGON"
    xmin, ymin, xmax, ymax = json.loads(staged.detected["bbox"])
    assert 4.80 < xmin < xmax < 4.87 and 45.74 < ymin < ymax < 45.78
    described = dict(_rows(settings, staged.parquet_path, "SELECT column_name, column_type "
                                                         "FROM (DESCRIBE t)"))
    assert described["geometry"] == "GEOMETRY"
    assert described["CODE_IRIS"] == "VARCHAR"
    codes = [r[0] for r in _rows(settings, staged.parquet_path, "SELECT CODE_IRIS FROM t")]
    assert codes[0] == "693810101" and all(len(c) == 9 for c in codes)
    # Axis order: x is the longitude, y the latitude.
    (x, y), = _rows(settings, staged.parquet_path,
                    "SELECT ST_X(ST_PointN(ST_ExteriorRing(geometry), 1)), "
                    "ST_Y(ST_PointN(ST_ExteriorRing(geometry), 1)) FROM t LIMIT 1")
    assert (x, y) == pytest.approx(FIRST_VERTEX_LONLAT, abs=1e-5)


def test_a_zipped_lambert93_shapefile_lands_in_lyon_in_wgs84(settings: Settings,
                                                             fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "awkward" / "iris_lambert93_shp.zip")
    assert staged.format == "shapefile"
    assert staged.detected["archive_entry"] == "iris_l93.shp"
    _assert_lyon_iris(settings, staged)


def test_a_lambert93_geopackage_gives_the_same_polygons(settings: Settings,
                                                       fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg")
    assert staged.format == "geopackage"
    assert staged.detected["layer"] == "iris_lambert93"
    _assert_lyon_iris(settings, staged)


def test_a_shapefile_without_prj_is_refused_asking_for_the_crs(settings: Settings,
                                                              fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        _read(settings, fixtures_dir / "awkward" / "iris_no_prj.zip")
    message = caught.value.message
    assert "iris_l93.prj" in message and "source CRS" in message
    assert not (settings.home / "staged" / "iris_no_prj.parquet").exists()


def test_a_shapefile_without_prj_is_read_with_the_crs_the_user_gives(
        settings: Settings, fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "awkward" / "iris_no_prj.zip",
                   ImportOptions(source_crs="EPSG:2154"))
    assert staged.row_count == 12
    xmin = json.loads(staged.detected["bbox"])[0]
    assert xmin == pytest.approx(FIRST_VERTEX_LONLAT[0], abs=1e-5)


def test_an_unknown_source_crs_is_refused(settings: Settings, fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="unknown coordinate system 'EPSG:999999'"):
        _read(settings, fixtures_dir / "awkward" / "iris_no_prj.zip",
              ImportOptions(source_crs="EPSG:999999"))


def test_a_shapefile_without_dbf_is_refused_naming_the_dbf(settings: Settings,
                                                          fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        _read(settings, fixtures_dir / "awkward" / "iris_no_dbf.zip")
    assert "iris_l93.dbf" in caught.value.message and "missing" in caught.value.message


def test_truncated_geojson_is_refused_with_the_position(settings: Settings,
                                                       fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        _read(settings, fixtures_dir / "awkward" / "broken.geojson")
    assert "invalid GeoJSON" in caught.value.message
    assert caught.value.where == "line 1, column 76"
    assert list((settings.home / "staged").iterdir()) == []


def test_json_that_is_not_geojson_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"code": "01001"}]))
    with pytest.raises(ImportFailed, match="not GeoJSON"):
        _read(settings, path)


def test_self_intersecting_polygons_are_kept_repaired_and_reported(settings: Settings,
                                                                  fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "awkward" / "self_intersecting.geojson")
    assert staged.row_count == 2
    assert len(staged.warnings) == 1
    assert "1 invalid geometry" in staged.warnings[0]
    assert "feature 1 (code=X1)" in staged.warnings[0]
    geometry = next(c for c in staged.columns if c.name == "geometry")
    assert geometry.note and "repaired" in geometry.note
    rows = _rows(settings, staged.parquet_path,
                 "SELECT code, ST_IsValid(geometry), ST_Area(geometry) FROM t")
    assert [(code, valid) for code, valid, _ in rows] == [("X1", True), ("X2", True)]
    assert rows[0][2] == pytest.approx(0.005)   # both triangles of the bow-tie kept


def test_departements_keep_their_leading_zero_and_corsica_codes(settings: Settings,
                                                               fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "geo" / "departements-version-simplifiee.geojson")
    assert staged.row_count == 96
    codes = {r[0] for r in _rows(settings, staged.parquet_path, "SELECT code FROM t")}
    assert {"01", "09", "2A", "2B", "95"} <= codes
    xmin, ymin, xmax, ymax = json.loads(staged.detected["bbox"])
    assert xmin > -5.2 and xmax < 9.6 and ymin > 41.3 and ymax < 51.1
    assert staged.detected["geometry_type"] == "MULTIPOLYGON, POLYGON"


def test_iris_of_lyon_keep_nine_character_codes_and_numeric_indicators(
        settings: Settings, fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson")
    assert staged.row_count == 358
    types = {c.name: c.type for c in staged.columns}
    assert types["id"] == "text" and types["com"] == "text" and types["uu2010"] == "text"
    assert types["p12_pop"] == "integer" and types["tchom"] == "decimal"
    concepts = {c.name: c.concept for c in staged.columns}
    assert concepts["com"] == "code_commune" and concepts["dep"] == "code_departement"
    assert concepts["libiris"] is None
    (bad_ids, lyon, pop), = _rows(
        settings, staged.parquet_path,
        "SELECT count(*) FILTER (length(id) <> 9 OR NOT starts_with(id, com)), "
        "count(*) FILTER (com LIKE '6938_'), sum(p12_pop) FROM t")
    assert bad_ids == 0 and lyon == 185 and pop > 400_000
    (uu,), = _rows(settings, staged.parquet_path, "SELECT min(uu2010) FROM t")
    assert uu == "00758"


def test_communes_of_the_rhone_import_with_lyon_inside_the_bbox(settings: Settings,
                                                               fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "geo" / "communes-69-rhone.geojson")
    assert staged.row_count == 278
    (name,), = _rows(settings, staged.parquet_path,
                     "SELECT nom FROM t WHERE ST_Contains(geometry, ST_Point(4.8357, 45.7640))")
    assert name == "Lyon"


def _lambert_geojson(path: Path, *, with_crs: bool) -> Path:
    x, y = FIRST_VERTEX_L93
    ring = [[x, y], [x + 500, y], [x + 500, y + 500], [x, y + 500], [x, y]]
    doc: dict = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "693810101"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    if with_crs:
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}
    path.write_text(json.dumps(doc))
    return path


def test_geojson_declaring_lambert93_is_reprojected(settings: Settings, tmp_path: Path) -> None:
    staged = _read(settings, _lambert_geojson(tmp_path / "l93.geojson", with_crs=True))
    assert staged.detected["crs"] == "EPSG:2154"
    (x, y), = _rows(settings, staged.parquet_path,
                    "SELECT ST_X(ST_PointN(ST_ExteriorRing(geometry), 1)), "
                    "ST_Y(ST_PointN(ST_ExteriorRing(geometry), 1)) FROM t")
    assert (x, y) == pytest.approx(FIRST_VERTEX_LONLAT, abs=1e-5)


def test_geojson_with_metres_but_no_crs_is_refused_as_not_longitude_latitude(
        settings: Settings, tmp_path: Path) -> None:
    path = _lambert_geojson(tmp_path / "l93.geojson", with_crs=False)
    with pytest.raises(ImportFailed, match="coordinate system is probably wrong.*EPSG:2154"):
        _read(settings, path)
    staged = _read(settings, path, ImportOptions(source_crs="EPSG:2154"))
    assert "instead of the file's WGS 84" in staged.warnings[0]
    assert json.loads(staged.detected["bbox"])[0] == pytest.approx(FIRST_VERTEX_LONLAT[0],
                                                                   abs=1e-5)


def test_a_geopackage_layer_that_does_not_exist_is_refused_listing_the_layers(
        settings: Settings, fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="no layer named 'iris'.*'iris_lambert93'"):
        _read(settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
              ImportOptions(sheet="iris"))


def test_forced_types_apply_to_attribute_columns(settings: Settings, fixtures_dir: Path) -> None:
    staged = _read(settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                   ImportOptions(types={"objectid": "text"}))
    assert {c.name: c.type for c in staged.columns}["objectid"] == "text"
    (kind,), = _rows(settings, staged.parquet_path,
                     "SELECT column_type FROM (DESCRIBE t) WHERE column_name = 'objectid'")
    assert kind == "VARCHAR"


def test_read_geo_reports_progress_from_zero_to_the_file_size(settings: Settings,
                                                             fixtures_dir: Path) -> None:
    source = fixtures_dir / "geo" / "communes-92-hauts-de-seine.geojson"
    calls: list[tuple[int, int]] = []
    staged = read_geo(source, settings.home / "c92.parquet", settings, ImportOptions(),
                      lambda done, total: calls.append((done, total)), format="geojson")
    assert staged.row_count == 36
    size = source.stat().st_size
    assert calls[0] == (0, size) and calls[-1] == (size, size)
