"""Load the SYNTHETIC demo territory (Métropole de Val-Sauvage) into the referential: its
communes, EPCI, IRIS (with their population) and QPV contours, the whole territory, and the
QPV ↔ IRIS overlaps."""

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
from mutuelle.demo.manifest import Demo
from mutuelle.demo.territory import DEPARTEMENT, EPCI_SIREN
from mutuelle.geo.overlap import OverlapReport, compute_overlaps
from mutuelle.geo.referential import ImportReport, import_territories, union_territory

log = logging.getLogger(__name__)

METROPOLE_NAME = "Métropole de Val-Sauvage"


@dataclass
class DemoReferentialReport:
    """The imports made for the demo territory, level by level."""

    vintage: int
    imports: dict[str, ImportReport] = field(default_factory=dict)
    overlaps: OverlapReport | None = None


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
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    vintage = settings.default_vintage
    report = DemoReferentialReport(vintage)
    _metropole_row(session, vintage)
    report.imports["commune"] = import_territories(
        session, settings, folder / "communes.geojson", level="commune", vintage=vintage,
        mapping={"code": "code_commune", "name": "nom_commune", "epci": "code_epci",
                 "population": "population"}, cog=False)
    report.imports["epci"] = union_territory(
        session, settings, vintage=vintage, level="epci", code=EPCI_SIREN, name=METROPOLE_NAME)
    with tempfile.TemporaryDirectory(dir=settings.work_dir) as tmp:
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
