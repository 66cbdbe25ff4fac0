"""Load the SYNTHETIC demo territory (Métropole de Val-Sauvage) into the referential: its
communes, EPCI, IRIS (with their population) and QPV contours, the whole territory, and the
QPV ↔ IRIS overlaps; also how to make one territory from the union of others."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import Territory
from mutuelle.catalog.repository import fold
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.demo.manifest import Demo
from mutuelle.demo.territory import DEPARTEMENT, EPCI_SIREN
from mutuelle.geo.overlap import OverlapReport, compute_overlaps
from mutuelle.geo.referential import ImportReport, geometry_path, import_territories
from mutuelle.store.duck import cursor

log = logging.getLogger(__name__)

METROPOLE_NAME = "Métropole de Val-Sauvage"


@dataclass
class DemoReferentialReport:
    """The imports made for the demo territory, level by level."""

    vintage: int
    imports: dict[str, ImportReport] = field(default_factory=dict)
    overlaps: OverlapReport | None = None


def union_territory(session: Session, settings: Settings, *, vintage: int, level: str, code: str,
                    name: str, from_level: str = "commune",
                    members: list[str] | None = None) -> ImportReport:
    """Make the territory ``code`` of ``level`` whose contour is the union of territories of
    ``from_level`` (all of them, or ``members``): an EPCI from its communes, or the whole
    territory of the instance (level ``territoire``)."""
    source = geometry_path(settings, vintage, from_level)
    if not source.exists():
        raise NotFound(f"no {from_level} contours for vintage {vintage}")
    con = cursor(settings)
    params: list[object]
    try:
        where, params = "", [str(source)]
        if members is not None:
            where, params = "WHERE list_contains(?, code)", [str(source), members]
        row = con.execute(
            "SELECT ST_AsGeoJSON(ST_Union_Agg(geometry)), sum(population), list(code ORDER BY code) "
            f"FROM read_parquet(?) {where}", params).fetchone()
    finally:
        con.close()
    if row is None or row[0] is None:
        raise NotFound(f"none of the {from_level} contours asked for exist in vintage {vintage}")
    geometry, population, codes = row
    feature = {"type": "Feature", "geometry": json.loads(geometry),
               "properties": {"code": code, "nom": name, "population": population}}
    with tempfile.TemporaryDirectory(dir=_work(settings)) as tmp:
        path = Path(tmp) / f"{level}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                        encoding="utf-8")
        report = import_territories(session, settings, path, level=level, vintage=vintage,
                                    mapping={"code": "code", "name": "nom",
                                             "population": "population"}, cog=False)
    territory = session.scalars(select(Territory).where(
        Territory.vintage == vintage, Territory.level == level, Territory.code == code)).one()
    territory.extra = {**(territory.extra or {}), f"{from_level}s": list(codes)}
    session.commit()
    return report


def _work(settings: Settings) -> Path:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return settings.work_dir


def _demo_dir(demo: Path | Demo) -> Path:
    if isinstance(demo, Demo):
        return Path(demo.datasets[0].path).parent
    return Path(demo)


def _iris_with_population(folder: Path, out: Path) -> Path:
    """The demo's IRIS contours with ``population`` from its population file, when present."""
    population_file = folder / "population-iris-2021.csv"
    data = json.loads((folder / "iris.geojson").read_text(encoding="utf-8"))
    if population_file.exists():
        lines = population_file.read_text(encoding="utf-8-sig").splitlines()
        header = lines[0].split(";")
        code, total = header.index("code_iris"), header.index("pop_total")
        people = {cells[code]: int(cells[total]) for cells in (ln.split(";") for ln in lines[1:])}
        for feature in data["features"]:
            feature["properties"]["population"] = people.get(feature["properties"]["code_iris"])
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


def _metropole_row(session: Session, vintage: int) -> None:
    """The EPCI row, so that the communes find their parent when they are imported."""
    values = {"vintage": vintage, "level": "epci", "code": EPCI_SIREN, "name": METROPOLE_NAME,
              "name_folded": fold(f"{METROPOLE_NAME} {EPCI_SIREN}"), "parent_code": None,
              "epci": EPCI_SIREN, "departement": DEPARTEMENT, "kind": "METRO",
              "extra": {"source": "demo", "synthetic": True}}
    existing = session.scalar(select(Territory.id).where(
        Territory.vintage == vintage, Territory.level == "epci", Territory.code == EPCI_SIREN))
    if existing is None:
        session.execute(insert(Territory), [values])
    else:
        session.execute(update(Territory), [{**values, "id": existing}])
    session.commit()


def load_demo_referential(session: Session, settings: Settings,
                          demo: Path | Demo) -> DemoReferentialReport:
    """Import the demo territory's contours (a folder written by ``generate_demo``, or its
    ``Demo``) for ``settings.default_vintage``, then compute the QPV ↔ IRIS overlaps."""
    folder = _demo_dir(demo)
    vintage = settings.default_vintage
    report = DemoReferentialReport(vintage)
    _metropole_row(session, vintage)
    report.imports["commune"] = import_territories(
        session, settings, folder / "communes.geojson", level="commune", vintage=vintage,
        mapping={"code": "code_commune", "name": "nom_commune", "epci": "code_epci",
                 "population": "population"}, cog=False)
    report.imports["epci"] = union_territory(
        session, settings, vintage=vintage, level="epci", code=EPCI_SIREN, name=METROPOLE_NAME)
    with tempfile.TemporaryDirectory(dir=_work(settings)) as tmp:
        iris = _iris_with_population(folder, Path(tmp) / "iris.geojson")
        report.imports["iris"] = import_territories(
            session, settings, iris, level="iris", vintage=vintage, name="iris.geojson",
            mapping={"code": "code_iris", "name": "nom_iris", "commune": "code_commune",
                     "kind": "typ_iris"}, cog=False)
    report.imports["qpv"] = import_territories(
        session, settings, folder / "qpv.geojson", level="qpv", vintage=vintage,
        mapping={"code": "code_qpv", "name": "nom_qpv", "commune": "code_commune",
                 "population": "population"}, cog=False)
    report.imports["territoire"] = union_territory(
        session, settings, vintage=vintage, level="territoire", code=EPCI_SIREN,
        name=METROPOLE_NAME)
    _mark_synthetic(session, vintage)
    report.overlaps = compute_overlaps(session, settings, vintage)
    log.info("demo_referential vintage=%d %s", vintage,
             " ".join(f"{lv}={r.imported}" for lv, r in report.imports.items()))
    return report


def _mark_synthetic(session: Session, vintage: int) -> None:
    for t in session.scalars(select(Territory).where(Territory.vintage == vintage,
                                                     Territory.code.like(f"{DEPARTEMENT}%")
                                                     | Territory.code.like("QN0" + DEPARTEMENT + "%")
                                                     | (Territory.code == EPCI_SIREN))):
        if not (t.extra or {}).get("synthetic"):
            t.extra = {**(t.extra or {}), "synthetic": True}
    session.commit()
