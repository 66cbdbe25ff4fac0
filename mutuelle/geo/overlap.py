"""QPV ↔ IRIS overlaps: the share of each IRIS lying in each priority neighbourhood (QPV), by
area on the ellipsoid and, when both populations are known, by population; indicators use the
shares to carry IRIS counts over to QPV."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import TerritoryOverlap
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo.referential import check_vintage, geometry_path
from mutuelle.store.duck import cursor

log = logging.getLogger(__name__)

#: Shares below this (borders drawn a few metres apart in two files) are not overlaps.
MIN_SHARE = 0.001
BATCH = 5000


@dataclass
class OverlapReport:
    """What ``compute_overlaps`` stored."""

    vintage: int
    pairs: int = 0                 # (QPV, IRIS) pairs stored
    qpv: int = 0                   # QPV meeting at least one IRIS
    iris: int = 0                  # IRIS meeting at least one QPV
    with_population: int = 0       # pairs with a population share
    slivers: int = 0               # pairs sharing some area, under MIN_SHARE: left out
    qpv_outside: list[str] = field(default_factory=list)   # QPV meeting no IRIS
    seconds: float = 0.0


_PAIRS = """
WITH iris AS (SELECT code, population, geometry,
                     ST_Area_Spheroid(ST_FlipCoordinates(geometry)) AS area
              FROM read_parquet($iris) WHERE geometry IS NOT NULL),
     qpv AS (SELECT code, population, geometry,
                    ST_Area_Spheroid(ST_FlipCoordinates(geometry)) AS area
             FROM read_parquet($qpv) WHERE geometry IS NOT NULL),
     pairs AS (SELECT qpv.code AS qpv, iris.code AS iris, iris.area AS iris_area,
                      qpv.area AS qpv_area, iris.population AS iris_population,
                      qpv.population AS qpv_population,
                      ST_Area_Spheroid(ST_FlipCoordinates(ST_CollectionExtract(
                          ST_Intersection(iris.geometry, qpv.geometry), 3))) AS shared
               FROM iris JOIN qpv ON ST_Intersects(iris.geometry, qpv.geometry))
SELECT qpv, iris, shared / iris_area AS area_share,
       -- people of the QPV spread evenly over its area, as a share of the IRIS's people
       CASE WHEN iris_population > 0 AND qpv_population IS NOT NULL AND qpv_area > 0
            THEN qpv_population * (shared / qpv_area) / iris_population END AS population_share
FROM pairs WHERE iris_area > 0
ORDER BY qpv, iris
"""


def _capped(values: dict[str, float]) -> dict[str, float]:
    """Shares of one IRIS scaled down together if they add up to more than 1."""
    total = sum(values.values())
    return {k: v / total for k, v in values.items()} if total > 1 else values


def compute_overlaps(session: Session, settings: Settings, vintage: int) -> OverlapReport:
    """Compute and store the QPV ↔ IRIS shares of ``vintage`` (replacing the previous ones)."""
    start = time.perf_counter()
    vintage = check_vintage(vintage)
    paths = {level: geometry_path(settings, vintage, level) for level in ("iris", "qpv")}
    for level, path in paths.items():
        if not path.exists():
            raise NotFound(f"no {level} contours for vintage {vintage}: import them first "
                           f"(mutuelle geo import FILE --level {level} --vintage {vintage})")
    con = cursor(settings)
    try:
        rows = con.execute(_PAIRS, {"iris": str(paths["iris"]), "qpv": str(paths["qpv"])}).fetchall()
        all_qpv = [c for (c,) in con.execute(
            "SELECT code FROM read_parquet(?) ORDER BY code", [str(paths["qpv"])]).fetchall()]
    finally:
        con.close()
    report = OverlapReport(vintage)
    kept = [(q, i, min(float(a), 1.0), p) for q, i, a, p in rows if a is not None and a >= MIN_SHARE]
    report.slivers = sum(1 for _, _, a, _ in rows if a is not None and 0 < a < MIN_SHARE)
    by_iris_area: dict[str, dict[str, float]] = {}
    by_iris_population: dict[str, dict[str, float]] = {}
    for q, i, a, p in kept:
        by_iris_area.setdefault(i, {})[q] = a
        if p is not None:
            by_iris_population.setdefault(i, {})[q] = min(float(p), 1.0)
    area = {i: _capped(v) for i, v in by_iris_area.items()}
    population = {i: _capped(v) for i, v in by_iris_population.items()}
    values = [{"vintage": vintage, "qpv": q, "iris": i, "area_share": area[i][q],
               "population_share": population.get(i, {}).get(q)} for q, i, _, _ in kept]
    session.execute(delete(TerritoryOverlap).where(TerritoryOverlap.vintage == vintage))
    for k in range(0, len(values), BATCH):
        session.execute(insert(TerritoryOverlap), values[k:k + BATCH])
    session.commit()
    report.pairs = len(values)
    report.qpv = len({q for q, *_ in kept})
    report.iris = len(area)
    report.with_population = sum(1 for v in values if v["population_share"] is not None)
    report.qpv_outside = sorted(set(all_qpv) - {q for q, *_ in kept})
    report.seconds = time.perf_counter() - start
    log.info("overlaps vintage=%d pairs=%d qpv=%d iris=%d seconds=%.2f", vintage, report.pairs,
             report.qpv, report.iris, report.seconds)
    return report
