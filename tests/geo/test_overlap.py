"""QPV ↔ IRIS overlaps on the SYNTHETIC demo territory, loaded into the referential with its
communes, EPCI, IRIS, QPV and whole territory, on both catalogue backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mutuelle.catalog.observatory_models import TerritoryOverlap
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.demo import generate_demo
from mutuelle.demo.referential import load_demo_referential
from mutuelle.demo.territory import EPCI_SIREN
from mutuelle.geo.overlap import compute_overlaps
from mutuelle.geo.referential import (
    children,
    geometry_path,
    get_territory,
    import_territories,
    levels_available,
)
from mutuelle.store.duck import connect


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    generate_demo(folder)
    return folder


def _areas(settings: Settings, vintage: int) -> tuple[dict[str, float], dict[str, float]]:
    con = connect(settings)
    try:
        def area(level: str) -> dict[str, float]:
            return dict(con.execute(
                "SELECT code, ST_Area_Spheroid(ST_FlipCoordinates(geometry)) FROM read_parquet(?)",
                [str(geometry_path(settings, vintage, level))]).fetchall())
        return area("iris"), area("qpv")
    finally:
        con.close()


def test_the_demo_territory_loads_into_the_referential(session, any_settings: Settings,  # type: ignore[no-untyped-def]
                                                       demo_dir: Path) -> None:
    report = load_demo_referential(session, any_settings, demo_dir)
    vintage = any_settings.default_vintage
    assert report.vintage == vintage
    assert {lv: r.imported for lv, r in report.imports.items()} == {
        "commune": 8, "epci": 1, "iris": 267, "qpv": 5, "territoire": 1}
    assert all(not r.unknown_parents for r in report.imports.values())
    assert levels_available(session, vintage, any_settings) == [
        "iris", "commune", "epci", "qpv", "territoire"]
    whole = get_territory(session, "territoire", EPCI_SIREN)
    assert whole.name == "Métropole de Val-Sauvage" and whole.extra["synthetic"] is True
    assert len(children(session, whole)) == 8
    iris = children(session, get_territory(session, "commune", "96172"))
    assert iris and all(t.epci == EPCI_SIREN and t.population is not None for t in iris)
    assert whole.population == pytest.approx(sum(
        t.population or 0 for c in children(session, whole) for t in children(session, c)))
    qpv = children(session, get_territory(session, "commune", "96172"), "qpv")
    assert qpv and all(q.code.startswith("QN096") for q in qpv)


def test_qpv_shares_of_iris_are_consistent(session, any_settings: Settings, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    report = load_demo_referential(session, any_settings, demo_dir)
    overlaps = report.overlaps
    assert overlaps is not None and overlaps.qpv == 5 and overlaps.qpv_outside == []
    rows = session.scalars(select(TerritoryOverlap)).all()
    assert len(rows) == overlaps.pairs > 5
    assert all(0 < r.area_share <= 1 for r in rows)
    assert all(r.population_share is not None and 0 <= r.population_share <= 1 for r in rows)
    by_iris: dict[str, float] = {}
    for r in rows:
        by_iris[r.iris] = by_iris.get(r.iris, 0) + r.area_share
    assert max(by_iris.values()) <= 1 + 1e-9
    # The IRIS's areas weighted by their shares add up to each QPV's area.
    iris_area, qpv_area = _areas(any_settings, report.vintage)
    for code, area in qpv_area.items():
        rebuilt = sum(r.area_share * iris_area[r.iris] for r in rows if r.qpv == code)
        assert rebuilt == pytest.approx(area, rel=0.01), code
    # Computing again replaces the shares instead of adding to them.
    again = compute_overlaps(session, any_settings, report.vintage)
    assert again.pairs == overlaps.pairs == len(session.scalars(select(TerritoryOverlap)).all())


def test_overlaps_need_both_contours(session, any_settings: Settings, fixtures_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import_territories(session, any_settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                       level="iris", vintage=2012, cog=False)
    with pytest.raises(NotFound, match="no qpv contours for vintage 2012"):
        compute_overlaps(session, any_settings, 2012)
