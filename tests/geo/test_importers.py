"""Official contour files in their own formats (IGN CONTOURS-IRIS as Shapefile and GeoPackage,
Admin Express communes, INSEE extracts), and the bad ones: a missing column, invalid polygons,
a wrong coordinate system, points where contours are expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mutuelle.catalog.db import sessions, upgrade
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput
from mutuelle.geo.importers import (
    ColumnMapping,
    detect_mapping,
    is_well_formed,
    normalise_code,
    to_records,
)
from mutuelle.geo.referential import get_territory, import_territories
from mutuelle.store.duck import connect

CONTOURS_IRIS = ["CODE_IRIS", "INSEE_COM", "NOM_COM", "IRIS", "NOM_IRIS", "TYP_IRIS", "geometry"]


@pytest.fixture
def session(settings: Settings):  # type: ignore[no-untyped-def]
    upgrade(settings)
    with sessions(settings)() as s:
        yield s


def _copy_layer(settings: Settings, source: Path, dest: Path, select: str, driver: str) -> Path:
    con = connect(settings)
    try:
        con.execute(f"COPY (SELECT {select} FROM ST_Read('{source}')) TO '{dest}' "
                    f"(FORMAT gdal, DRIVER '{driver}', SRS 'EPSG:2154')")
    finally:
        con.close()
    return dest


def _centre(settings: Settings, parquet: Path) -> tuple[float, float]:
    con = connect(settings)
    try:
        row = con.execute("SELECT avg(ST_X(ST_Centroid(geometry))), avg(ST_Y(ST_Centroid(geometry))) "
                          f"FROM read_parquet('{parquet}')").fetchone()
    finally:
        con.close()
    assert row is not None
    return float(row[0]), float(row[1])


def test_contours_iris_columns_are_recognised() -> None:
    mapping = detect_mapping("iris", CONTOURS_IRIS)
    assert mapping.columns == {"code": "CODE_IRIS", "name": "NOM_IRIS", "commune": "INSEE_COM",
                               "kind": "TYP_IRIS"}


def test_the_insee_extract_and_the_demo_columns_are_recognised() -> None:
    lyon = detect_mapping("iris", ["objectid", "id", "dep", "com", "libcom", "libiris",
                                   "typ_iris", "p12_pop", "tchom"])
    assert lyon.columns == {"code": "id", "name": "libiris", "commune": "com",
                            "population": "p12_pop", "kind": "typ_iris"}
    demo = detect_mapping("iris", ["code_iris", "nom_iris", "code_commune", "nom_commune",
                                   "typ_iris"])
    assert demo.get("code") == "code_iris" and demo.get("commune") == "code_commune"
    old = detect_mapping("iris", ["DCOMIRIS", "DEPCOM", "NOM_COM", "IRIS", "NOM_IRIS"])
    assert old.get("code") == "DCOMIRIS" and old.get("commune") == "DEPCOM"


@pytest.mark.parametrize("columns, code, name", [
    (["CODE_QP", "NOM_QP", "COMMUNE_QP"], "CODE_QP", "NOM_QP"),
    (["code_qp", "lib_qp"], "code_qp", "lib_qp"),
    (["code_qpv", "nom_qpv", "code_commune", "population"], "code_qpv", "nom_qpv"),
])
def test_qpv_files_of_every_generation_are_recognised(columns: list[str], code: str,
                                                       name: str) -> None:
    mapping = detect_mapping("qpv", columns)
    assert (mapping.get("code"), mapping.get("name")) == (code, name)


def test_commune_contours_and_departements_are_recognised() -> None:
    assert detect_mapping("commune", ["code", "nom"]).columns == {"code": "code", "name": "nom"}
    admin_express = detect_mapping("commune", ["ID", "NOM", "INSEE_COM", "INSEE_DEP", "SIREN_EPCI"])
    assert admin_express.columns["code"] == "INSEE_COM"
    assert admin_express.columns["epci"] == "SIREN_EPCI"
    assert detect_mapping("departement", ["code", "nom"]).get("code") == "code"


def test_a_contours_iris_file_without_code_iris_names_the_missing_column() -> None:
    with pytest.raises(ImportFailed) as caught:
        detect_mapping("iris", ["INSEE_COM", "NOM_COM", "IRIS", "NOM_IRIS", "TYP_IRIS"])
    assert caught.value.message == ("column CODE_IRIS (IRIS code) is missing; found: INSEE_COM, "
                                    "NOM_COM, IRIS, NOM_IRIS, TYP_IRIS")


def test_a_mapping_given_by_the_user_wins_and_is_checked() -> None:
    mapping = detect_mapping("iris", CONTOURS_IRIS, {"name": "NOM_COM"})
    assert mapping.get("name") == "NOM_COM"
    with pytest.raises(ImportFailed, match="column CODE given for the code is missing"):
        detect_mapping("iris", CONTOURS_IRIS, {"code": "CODE"})
    with pytest.raises(InvalidInput, match="unknown mapping role"):
        detect_mapping("iris", CONTOURS_IRIS, {"colour": "NOM_IRIS"})


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown level 'canton'"):
        detect_mapping("canton", CONTOURS_IRIS)


@given(st.integers(min_value=1001, max_value=95999))
def test_commune_codes_that_lost_their_zero_get_it_back(number: int) -> None:
    code = normalise_code("commune", number)
    assert code == f"{number:05d}" and is_well_formed("commune", code)
    assert normalise_code("commune", code) == code
    assert normalise_code("commune", f"{number}.0") == code


@given(st.text(max_size=12))
def test_normalising_any_text_never_fails_and_is_idempotent(text: str) -> None:
    for level in ("iris", "commune", "qpv", "departement"):
        once = normalise_code(level, text)
        assert once is None or normalise_code(level, once) == once


def test_corsican_and_overseas_codes_are_kept_as_written() -> None:
    assert normalise_code("commune", " 2a004 ") == "2A004"
    assert normalise_code("iris", "2A0040001") == "2A0040001"
    assert normalise_code("departement", 1) == "01"
    assert is_well_formed("commune", "97101") and is_well_formed("departement", "971")
    assert is_well_formed("qpv", "QP093001") and is_well_formed("qpv", "QN09301M")


def test_records_count_what_is_odd_instead_of_dropping_it() -> None:
    mapping = ColumnMapping("commune", {"code": "code", "name": "nom"})
    records = to_records("commune", mapping, [
        (0, {"code": "1001", "nom": "L'Abergement-Clémenciat"}),
        (1, {"code": None, "nom": "sans code"}),
        (2, {"code": "69123", "nom": "Lyon"}),
        (3, {"code": "69123", "nom": "Lyon (île)"}),
        (4, {"code": "LYON", "nom": "?"}),
    ])
    assert list(records.rows) == ["01001", "69123", "LYON"]
    assert records.keys == [(0, "01001"), (2, "69123"), (3, "69123"), (4, "LYON")]
    text = " | ".join(records.warnings)
    assert "1 feature(s) without a code were left out (feature 2)" in text
    assert "1 code(s) do not look like commune codes, imported as written: LYON" in text
    assert "69123 ×2" in text and "1001 → 01001" in text


def test_a_lambert93_contours_iris_shapefile_lands_in_lyon(session, settings: Settings,  # type: ignore[no-untyped-def]
                                                           fixtures_dir: Path) -> None:
    report = import_territories(session, settings, fixtures_dir / "awkward" / "iris_lambert93_shp.zip",
                                level="iris", vintage=2024, cog=False)
    assert report.imported == report.with_geometry == 12
    assert report.detected["crs"] == "EPSG:2154"
    assert report.mapping["code"] == "CODE_IRIS"
    lon, lat = _centre(settings, report.path)
    assert lon == pytest.approx(4.83, abs=0.02) and lat == pytest.approx(45.75, abs=0.02)
    iris = get_territory(session, "iris", "693810101", 2024)
    assert (iris.name, iris.kind, iris.commune, iris.parent_code) == ("Quartier 0", "H", "69123", "69123")
    assert iris.extra["arrondissement"] == "69381"


def test_a_lambert93_geopackage_gives_the_same_territories(session, settings: Settings,  # type: ignore[no-untyped-def]
                                                           fixtures_dir: Path) -> None:
    report = import_territories(session, settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
                                level="iris", vintage=2024, cog=False)
    assert report.imported == 12 and report.detected["format"] == "geopackage"
    lon, lat = _centre(settings, report.path)
    assert lon == pytest.approx(4.83, abs=0.02) and lat == pytest.approx(45.75, abs=0.02)


def test_a_contours_iris_geopackage_without_code_iris_is_refused_by_name(  # type: ignore[no-untyped-def]
        session, settings: Settings, fixtures_dir: Path, tmp_path: Path) -> None:
    broken = _copy_layer(settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
                         tmp_path / "sans_code.gpkg", "* EXCLUDE (CODE_IRIS)", "GPKG")
    with pytest.raises(ImportFailed) as caught:
        import_territories(session, settings, broken, level="iris", vintage=2024)
    assert "column CODE_IRIS (IRIS code) is missing; found: INSEE_COM, NOM_COM, IRIS" in caught.value.message
    assert not (settings.store_dir / "referential" / "2024" / "iris.parquet").exists()


def test_lambert93_coordinates_declared_as_wgs84_are_refused(session, settings: Settings,  # type: ignore[no-untyped-def]
                                                             fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="coordinate system is probably wrong"):
        import_territories(session, settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
                           level="iris", vintage=2024, source_crs="EPSG:4326")


def test_a_self_intersecting_polygon_is_repaired_and_reported(session, settings: Settings,  # type: ignore[no-untyped-def]
                                                              fixtures_dir: Path) -> None:
    report = import_territories(session, settings, fixtures_dir / "awkward" / "self_intersecting.geojson",
                                level="territoire", vintage=2024)
    assert report.imported == report.with_geometry == 2
    assert any("1 invalid geometry" in w and "code=X1" in w for w in report.warnings)
    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT code, ST_IsValid(geometry), ST_IsValid(geometry_mid), ST_IsValid(geometry_low), "
            f"ST_GeometryType(geometry) FROM read_parquet('{report.path}') ORDER BY code").fetchall()
    finally:
        con.close()
    assert [r[0] for r in rows] == ["X1", "X2"]
    assert all(r[1] and r[2] and r[3] for r in rows)
    assert all("POLYGON" in r[4] for r in rows)


def test_points_are_not_contours(session, settings: Settings, fixtures_dir: Path,  # type: ignore[no-untyped-def]
                                 tmp_path: Path) -> None:
    points = tmp_path / "points.geojson"
    points.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                      '"properties": {"code_iris": "693810101"}, "geometry": {"type": "Point", '
                      '"coordinates": [4.83, 45.76]}}]}', encoding="utf-8")
    with pytest.raises(ImportFailed, match="iris contours must be polygons; the file holds POINT"):
        import_territories(session, settings, points, level="iris", vintage=2024)


def test_an_insee_commune_list_without_contours_records_communes_and_their_epci(  # type: ignore[no-untyped-def]
        session, settings: Settings, tmp_path: Path) -> None:
    listing = tmp_path / "intercommunalite.csv"
    listing.write_text("CODGEO;LIBGEO;EPCI;LIBEPCI\n69123;Lyon;200046977;Métropole de Lyon\n"
                       "69266;Villeurbanne;200046977;Métropole de Lyon\n"
                       "96001;Ville fictive;249600999;Métropole fictive\n", encoding="utf-8")
    report = import_territories(session, settings, listing, level="commune", vintage=2024)
    assert report.imported == 3 and report.with_geometry == 0 and report.path is None
    assert report.mapping == {"code": "CODGEO", "name": "LIBGEO", "epci": "EPCI"}
    assert report.unknown_parents == {"249600999": 1}
    assert any("without contours" in w for w in report.warnings)
    lyon = get_territory(session, "commune", "69123", 2024)
    assert (lyon.epci, lyon.departement, lyon.region, lyon.extra["source"]) == (
        "200046977", "69", "84", "list")
    assert not (settings.store_dir / "referential" / "2024" / "commune.parquet").exists()


def test_a_shapefile_without_prj_needs_its_crs_and_then_imports(session, settings: Settings,  # type: ignore[no-untyped-def]
                                                                 fixtures_dir: Path) -> None:
    source = fixtures_dir / "awkward" / "iris_no_prj.zip"
    with pytest.raises(ImportFailed, match="EPSG:2154"):
        import_territories(session, settings, source, level="iris", vintage=2024, cog=False)
    report = import_territories(session, settings, source, level="iris", vintage=2024,
                                source_crs="EPSG:2154", cog=False)
    assert report.imported == 12
    lon, lat = _centre(settings, report.path)
    assert lon == pytest.approx(4.83, abs=0.02) and lat == pytest.approx(45.75, abs=0.02)
