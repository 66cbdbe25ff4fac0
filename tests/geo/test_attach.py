"""Datasets attached to the referential: by a code column (zeros restored, merged communes
followed, unmatched codes counted) and by point-in-polygon (schools of Lyon in their IRIS)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mutuelle.catalog.db import sessions, upgrade
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.geo.attach import attach_by_code, attach_points
from mutuelle.geo.cog import load_cog
from mutuelle.geo.referential import geometry_path, import_territories
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.reader import read_file
from mutuelle.store.duck import connect


@pytest.fixture
def sqlite_session(settings: Settings):  # type: ignore[no-untyped-def]
    upgrade(settings)
    with sessions(settings)() as s:
        yield s


def _table(settings: Settings, source: Path) -> Path:
    dest = settings.home / "tables" / (source.stem + ".parquet")
    return read_file(source, source.name, dest, settings, ImportOptions()).parquet_path


def _rows(settings: Settings, sql: str) -> list[tuple]:
    con = connect(settings)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_commune_codes_are_padded_followed_and_the_rest_counted(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                                tmp_path: Path) -> None:
    load_cog(session, any_settings, 2024, departements=["01", "69"])
    csv = tmp_path / "aides.csv"
    lines = ["code_commune;montant"]
    lines += ["1001;10"] * 3          # L'Abergement-Clémenciat, read as the integer 1001
    lines += ["69123;5"] * 2 + ["69381;1"]     # Lyon, and its 1st arrondissement
    lines += ["69152;7"] * 4          # Pierre-Bénite, merged into Oullins-Pierre-Bénite in 2024
    lines += ["99999;1"] * 5 + ["12;1"] + [";3"]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = attach_by_code(any_settings, _table(any_settings, csv), "code_commune", "commune",
                            2024, session)
    assert (report.rows, report.empty_rows, report.codes) == (16, 1, 6)
    assert report.mapping == {"1001": "01001", "69123": "69123", "69381": "69123",
                              "69152": "69149"}
    assert report.padded == {"1001": "01001"} and report.passed == {"69152": "69149"}
    assert (report.matched_rows, report.matched_codes) == (10, 4)
    assert report.unmatched == {"99999": 5, "12": 1} and report.unmatched_rows == 6
    assert report.summary().endswith("2 code(s) on 6 row(s) match nothing: 99999, 12")
    assert report.table().num_rows == 4


def test_iris_codes_are_matched_against_their_vintage(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                      fixtures_dir: Path) -> None:
    import_territories(session, any_settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                       level="iris", vintage=2024, cog=False)
    table = _table(any_settings, fixtures_dir / "awkward" / "base_ic_iris.csv")
    report = attach_by_code(any_settings, table, "IRIS", "iris", 2024, session)
    assert report.rows == 21 and report.matched_rows + report.unmatched_rows == 21
    assert "2A0040001" in report.unmatched       # a Corsican IRIS is not in Lyon
    with pytest.raises(NotFound, match="no iris for vintage 2012"):
        attach_by_code(any_settings, table, "IRIS", "iris", 2012, session)
    with pytest.raises(InvalidInput, match="no column 'CODE_IRIS'"):
        attach_by_code(any_settings, table, "CODE_IRIS", "iris", 2024, session)


def test_schools_of_lyon_get_their_iris(sqlite_session, settings: Settings,  # type: ignore[no-untyped-def]
                                        fixtures_dir: Path) -> None:
    import_territories(sqlite_session, settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                       level="iris", vintage=2024, cog=False)
    schools = _table(settings, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv")
    report = attach_points(settings, schools, "geometry", 2024, dest=settings.home / "att.parquet")
    assert report.rows == 40 and report.without_geometry == 0
    assert report.inside["iris"] + report.outside["iris"] == 40 and report.inside["iris"] >= 35
    assert any("no qpv contours for vintage 2024" in w for w in report.warnings)
    iris = geometry_path(settings, 2024, "iris")
    rows = _rows(settings, f"""
        SELECT a.nom, a.iris_code, a.qpv_code,
               (SELECT list(i.code ORDER BY i.code) FROM read_parquet('{iris}') i
                WHERE ST_Contains(i.geometry, a.geometry)) AS truth
        FROM read_parquet('{report.path}', file_row_number := true) a
        ORDER BY a.file_row_number""")
    assert [r[0] for r in rows] == [f"École {n}" for n in range(40)]   # order and columns kept
    assert all(r[2] is None for r in rows)
    for name, code, _, truth in rows:   # each school is in the IRIS found, checked one by one
        assert code == (truth[0] if truth else None), name


def test_a_million_points_find_their_iris_in_seconds(sqlite_session, settings: Settings,  # type: ignore[no-untyped-def]
                                                     fixtures_dir: Path) -> None:
    import_territories(sqlite_session, settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                       level="iris", vintage=2024, cog=False)
    points = settings.home / "points.parquet"
    con = connect(settings)
    try:
        con.execute(f"""COPY (SELECT i AS id, ST_Point(4.75 + random() * 0.2, 45.68 + random() * 0.14)
                              AS geometry FROM range(1000000) t(i))
                        TO '{points}' (FORMAT parquet)""")
    finally:
        con.close()
    start = time.perf_counter()
    report = attach_points(settings, points, vintage=2024, levels=("iris",))
    elapsed = time.perf_counter() - start
    assert report.rows == 1_000_000 and report.inside["iris"] > 500_000
    assert elapsed < 60, f"{elapsed:.1f} s"


def test_attaching_points_needs_geometries_and_contours(sqlite_session, settings: Settings,  # type: ignore[no-untyped-def]
                                                        fixtures_dir: Path) -> None:
    schools = _table(settings, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv")
    with pytest.raises(NotFound, match="no contours of iris, qpv for vintage 2024"):
        attach_points(settings, schools, "geometry", 2024)
    import_territories(sqlite_session, settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                       level="iris", vintage=2024, cog=False)
    with pytest.raises(InvalidInput, match="column 'nom' holds VARCHAR, not geometries"):
        attach_points(settings, schools, "nom", 2024)
    with pytest.raises(InvalidInput, match="unknown level 'canton'"):
        attach_points(settings, schools, "geometry", 2024, levels=("canton",))
