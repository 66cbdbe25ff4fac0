"""The referential on both catalogue backends: the real IRIS of Lyon and communes of the Rhône
imported with their hierarchy, contour files per vintage and level, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput, NotFound
from mutuelle.geo.cog import cog_for, load_cog
from mutuelle.geo.referential import (
    children,
    geometry_path,
    get_territory,
    import_territories,
    levels_available,
    search_territories,
    vintages,
)
from mutuelle.store.duck import connect

METROPOLE_DE_LYON = "200046977"


def _iris(session, settings: Settings, fixtures_dir: Path, vintage: int = 2024):  # type: ignore[no-untyped-def]
    return import_territories(session, settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                              level="iris", vintage=vintage)


def _query(settings: Settings, sql: str, path: Path) -> list[tuple]:
    con = connect(settings)
    try:
        return con.execute(sql.replace("FILE", f"read_parquet('{path}')")).fetchall()
    finally:
        con.close()


def _count(session, level: str, vintage: int) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(func.count()).select_from(Territory).where(
        Territory.level == level, Territory.vintage == vintage)) or 0)


def test_the_iris_of_lyon_find_their_communes_metropolis_departement_and_region(  # type: ignore[no-untyped-def]
        session, any_settings: Settings, fixtures_dir: Path) -> None:
    report = _iris(session, any_settings, fixtures_dir)
    assert report.imported == report.inserted == report.with_geometry == 358
    assert report.detected["cog"] == "loaded for vintage 2024"   # the parents came from the COG
    assert report.unknown_parents == {}
    # Pierre-Bénite (69152) merged into Oullins-Pierre-Bénite (69149) since 2012.
    assert any("69152 → 69149" in w for w in report.warnings)
    iris = get_territory(session, "iris", "693840302")
    assert iris.name == "Canuts-d'Enfert Rochereau" and iris.kind == "H"
    assert (iris.parent_code, iris.commune, iris.epci, iris.departement, iris.region) == (
        "69123", "69123", METROPOLE_DE_LYON, "69", "84")
    assert iris.population == 2390 and iris.extra["arrondissement"] == "69384"
    assert iris.name_folded == "canuts-d'enfert rochereau 693840302"
    lyon = get_territory(session, "commune", "69123")
    lyon_iris = children(session, lyon)
    assert {t.extra["arrondissement"] for t in lyon_iris} == {f"6938{n}" for n in range(1, 10)}
    metropole = get_territory(session, "epci", METROPOLE_DE_LYON)
    assert len(children(session, metropole, "iris")) == 358
    assert search_territories(session, "croix rousse", level="iris")
    # the communes of the vintage, which had no contours, are drawn from their IRIS
    assert levels_available(session, 2024, any_settings) == ["iris", "commune"]


def test_the_contour_file_has_codes_bboxes_and_simplified_shapes(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                                 fixtures_dir: Path) -> None:
    report = _iris(session, any_settings, fixtures_dir)
    assert report.path == geometry_path(any_settings, 2024, "iris") == (
        any_settings.store_dir / "referential" / "2024" / "iris.parquet")
    columns = dict(_query(any_settings, "SELECT column_name, column_type FROM (DESCRIBE FROM FILE)",
                          report.path))
    for name in ("geometry", "geometry_mid", "geometry_low"):
        assert columns[name] == "GEOMETRY"
    for name in ("xmin", "ymin", "xmax", "ymax", "population"):
        assert columns[name] == "DOUBLE"
    assert columns["code"] == columns["name"] == columns["parent_code"] == "VARCHAR"
    (rows, valid, full, mid, low, inside, box_ok, people), = _query(any_settings, """
        SELECT count(*),
               count(*) FILTER (ST_IsValid(geometry) AND ST_IsValid(geometry_mid)
                                AND ST_IsValid(geometry_low)),
               sum(ST_NPoints(geometry)), sum(ST_NPoints(geometry_mid)),
               sum(ST_NPoints(geometry_low)),
               count(*) FILTER (xmin BETWEEN 4.7 AND 5.0 AND ymin BETWEEN 45.6 AND 45.9),
               bool_and(ST_XMin(geometry) = xmin AND ST_YMax(geometry) = ymax),
               sum(population)
        FROM FILE""", report.path)
    assert rows == valid == inside == 358 and box_ok
    assert full > mid > low
    assert people == pytest.approx(sum(
        f["properties"]["p12_pop"] for f in json.loads(
            (fixtures_dir / "geo" / "iris-lyon-2012.geojson").read_text())["features"]))
    # Shared borders stay shared: the low-zoom shapes neither overlap nor leave gaps.
    (union_full, union_low, overlaps), = _query(any_settings, """
        SELECT ST_Area(ST_Union_Agg(geometry)), ST_Area(ST_Union_Agg(geometry_low)),
               sum(ST_Area(geometry_low)) FROM FILE""", report.path)
    assert union_low == pytest.approx(union_full, rel=0.02)
    assert overlaps == pytest.approx(union_low, rel=0.001)


def _cog_communes(settings: Settings, departement: str, vintage: int = 2024) -> list[dict]:
    folder = cog_for(settings, vintage).folder
    communes = json.loads((folder / "communes.json").read_text(encoding="utf-8"))
    return [c for c in communes if c["type"] == "commune-actuelle" and c["departement"] == departement]


def test_the_communes_of_the_rhone_replace_the_cog_rows_they_match(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                                   fixtures_dir: Path) -> None:
    load_cog(session, any_settings, 2024, departements=["69"])
    current = {c["code"] for c in _cog_communes(any_settings, "69")}
    report = import_territories(session, any_settings,
                                fixtures_dir / "geo" / "communes-69-rhone.geojson",
                                level="commune", vintage=any_settings.default_vintage)
    assert report.vintage == any_settings.default_vintage == 2024
    assert report.imported == 278 and report.mapping == {"code": "code", "name": "nom"}
    codes = {f["properties"]["code"] for f in json.loads(
        (fixtures_dir / "geo" / "communes-69-rhone.geojson").read_text())["features"]}
    # The 2018 contours hold communes merged since: imported as the file has them, and said so.
    assert report.updated == len(codes & current) and report.inserted == len(codes - current)
    merged = next(w for w in report.warnings if "have since merged" in w)
    assert f"{len(codes - current)} commune(s)" in merged and report.unknown_parents == {}
    assert _count(session, "commune", 2024) == len(current | codes)
    villeurbanne = get_territory(session, "commune", "69266")
    assert (villeurbanne.epci, villeurbanne.region, villeurbanne.extra["source"]) == (
        METROPOLE_DE_LYON, "84", "contours")
    assert villeurbanne.population and villeurbanne.population > 100_000   # kept from the COG
    (count,), = _query(any_settings, "SELECT count(*) FROM FILE WHERE code = '69123'", report.path)
    assert count == 1
    assert {t.code for t in search_territories(session, "villeurbanne")} == {"69266"}


def test_several_vintages_live_side_by_side(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                            fixtures_dir: Path) -> None:
    _iris(session, any_settings, fixtures_dir, vintage=2012)
    import_territories(session, any_settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
                       level="iris", vintage=2024)
    assert vintages(session) == [2012, 2024]
    assert _count(session, "iris", 2012) == 358 and _count(session, "iris", 2024) == 12
    assert get_territory(session, "iris", "693810101").vintage == 2024
    assert get_territory(session, "iris", "693810101", 2012).name != "Quartier 0"
    paths = [geometry_path(any_settings, v, "iris") for v in (2012, 2024)]
    assert [_query(any_settings, "SELECT count(*) FROM FILE", p)[0][0] for p in paths] == [358, 12]


def test_a_new_import_replaces_the_level_of_its_vintage(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                        fixtures_dir: Path) -> None:
    _iris(session, any_settings, fixtures_dir)
    report = import_territories(session, any_settings, fixtures_dir / "awkward" / "iris_lambert93.gpkg",
                                level="iris", vintage=2024)
    assert (report.inserted, report.updated, report.removed) == (10, 2, 356)
    assert _count(session, "iris", 2024) == 12
    # the COG rows loaded for the first import's parents are not touched
    assert _count(session, "commune", 2024) == len(_cog_communes(any_settings, "69"))
    assert _query(any_settings, "SELECT count(*) FROM FILE", report.path) == [(12,)]


def test_a_failed_import_keeps_the_previous_territories(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                        fixtures_dir: Path) -> None:
    first = _iris(session, any_settings, fixtures_dir)
    before = first.path.read_bytes()
    with pytest.raises(ImportFailed, match="invalid GeoJSON"):
        import_territories(session, any_settings, fixtures_dir / "awkward" / "broken.geojson",
                           level="iris", vintage=2024)
    assert first.path.read_bytes() == before
    assert _count(session, "iris", 2024) == 358
    assert not list(first.path.parent.glob(".*"))     # no temporary file left behind


def test_iris_whose_commune_exists_nowhere_are_kept_and_counted(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                                fixtures_dir: Path, tmp_path: Path) -> None:
    data = json.loads((fixtures_dir / "geo" / "iris-lyon-2012.geojson").read_text())
    for feature in data["features"][:5]:
        feature["properties"]["com"] = "69999"
    for feature in data["features"][5:7]:
        feature["properties"]["com"] = "69998"
    path = tmp_path / "iris-mauvaises-communes.geojson"
    path.write_text(json.dumps(data))
    report = import_territories(session, any_settings, path, level="iris", vintage=2024)
    assert report.imported == 358
    assert report.unknown_parents == {"69999": 5, "69998": 2}
    assert any("7 iris territories point to 2 parent code(s)" in w and "69999, 69998" in w
               for w in report.warnings)
    orphan = get_territory(session, "iris", data["features"][0]["properties"]["id"])
    assert (orphan.commune, orphan.epci, orphan.departement) == ("69999", None, "69")


def test_unknown_levels_and_vintages_are_refused(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                 fixtures_dir: Path) -> None:
    source = fixtures_dir / "geo" / "iris-lyon-2012.geojson"
    with pytest.raises(InvalidInput, match="unknown level 'quartier'"):
        import_territories(session, any_settings, source, level="quartier", vintage=2024)
    with pytest.raises(InvalidInput, match="unknown vintage '20x4'"):
        import_territories(session, any_settings, source, level="iris", vintage="20x4")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="between 1900 and 2100"):
        geometry_path(any_settings, 24, "iris")
    with pytest.raises(NotFound, match="vintage 2031 is not in the referential"):
        levels_available(session, 2031)
    _iris(session, any_settings, fixtures_dir)
    with pytest.raises(NotFound, match=r"vintage 2031 is not in the referential \(vintages: 2024\)"):
        get_territory(session, "iris", "693840302", 2031)
    with pytest.raises(NotFound, match="no iris with code '999999999'"):
        get_territory(session, "iris", "999999999")


def test_the_communes_of_a_vintage_are_drawn_from_its_iris_when_it_has_no_commune_contours(  # type: ignore[no-untyped-def]
        session, any_settings: Settings, fixtures_dir: Path) -> None:
    from mutuelle.geo.referential import derived_from

    report = _iris(session, any_settings, fixtures_dir, vintage=2012)
    assert report.detected["communes"].startswith("22 commune contours of 2012 drawn from")
    assert "history of the COG 2019" in report.detected["cog"]      # names of 2012, not later
    assert derived_from(any_settings, 2012, "commune") == "iris"
    communes = geometry_path(any_settings, 2012, "commune")
    rows = dict(_query(any_settings, "SELECT code, name FROM FILE", communes))
    assert len(rows) == 22 and rows["69123"] == "Lyon"
    assert (rows["69149"], rows["69152"]) == ("Oullins", "Pierre-Bénite")
    (lyon, lyon_iris), = _query(any_settings, """
        SELECT ST_Area((SELECT geometry FROM FILE WHERE code = '69123')),
               ST_Area((SELECT ST_Union_Agg(geometry) FROM read_parquet('IRIS')
                        WHERE commune = '69123'))""".replace(
        "IRIS", str(geometry_path(any_settings, 2012, "iris"))), communes)
    assert lyon == pytest.approx(lyon_iris, rel=1e-6)
    assert levels_available(session, 2012, any_settings) == ["iris", "commune"]
    # contours imported for the communes themselves replace the drawn ones, for good
    import_territories(session, any_settings, fixtures_dir / "geo" / "communes-69-rhone.geojson",
                       level="commune", vintage=2012)
    assert derived_from(any_settings, 2012, "commune") is None
    _iris(session, any_settings, fixtures_dir, vintage=2012)
    assert derived_from(any_settings, 2012, "commune") is None
    (count,), = _query(any_settings, "SELECT count(*) FROM FILE", communes)
    assert count == 278


def test_a_static_map_draws_the_territories_around_some_codes(  # type: ignore[no-untyped-def]
        session, any_settings: Settings, fixtures_dir: Path) -> None:
    from mutuelle.geo.static_map import static_map

    _iris(session, any_settings, fixtures_dir, vintage=2012)
    lyon = static_map(any_settings, 2012, "commune", {"69123"})
    codes = {s.code for s in lyon.shapes}
    assert "69123" in codes and "69266" in codes           # Villeurbanne touches Lyon's extent
    assert all(s.path.startswith("M ") and s.path.endswith("Z") for s in lyon.shapes)
    width, height = lyon.width, lyon.height
    assert lyon.view_box == f"0 {-height:.1f} {width:.1f} {height:.1f}"
    assert 0.5 < height / width < 2
    every = static_map(any_settings, 2012, "iris", set(), max_shapes=100)
    assert len(every.shapes) == 100 and every.left_out == 258
