"""The real IRIS of Lyon (2012, 358 IRIS, ``../shared/fixtures/geo/iris-lyon-2012.geojson``) as
tests of user-defined indicators use them: the referential of 2012 drawn from them, the same
file imported as a dataset, the unemployment rate weighted by population computed here in
Python (Σ tchom·pop / Σ pop), and variants of the file (the IRIS of 2024, points far away)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.core.config import Settings
from mutuelle.geo.referential import import_territories
from mutuelle.ingest.service import import_file

LYON_IRIS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "geo" / "iris-lyon-2012.geojson"
DATASET = "iris-lyon-2012"
LYON = "69123"
METROPOLE_DE_LYON = "200046977"
#: Lyon's unemployment rate from its 185 IRIS, as the issue gives it.
LYON_RATE = 13.438979
#: The issue's definition: unemployment weighted by population.
DEFINITION = {"dataset": DATASET, "level": "iris", "code_column": "id",
              "numerator": "tchom * p12_pop", "denominator": "p12_pop"}


def features() -> list[dict[str, Any]]:
    """The properties of the 358 IRIS."""
    return [f["properties"] for f in json.loads(LYON_IRIS.read_text(encoding="utf-8"))["features"]]


def commune_of(iris: dict[str, Any]) -> str:
    """The commune of an IRIS: Lyon for the IRIS of its arrondissements (69381 to 69389)."""
    return LYON if iris["com"].startswith("6938") else iris["com"]


def weighted_rates(*, habitat_only: bool = False, renumbered: bool = False) -> dict[str, float]:
    """Σ(tchom · p12_pop) / Σ p12_pop per commune, over the IRIS where both are known (those
    of type H only with ``habitat_only``; Pierre-Bénite in Oullins with ``renumbered``)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for iris in features():
        if iris["tchom"] is None or iris["p12_pop"] is None:
            continue
        if habitat_only and iris["typ_iris"] != "H":
            continue
        commune = commune_of(iris)
        if renumbered and commune == "69152":
            commune = "69149"
        sums[commune][0] += iris["tchom"] * iris["p12_pop"]
        sums[commune][1] += iris["p12_pop"]
    return {c: num / den for c, (num, den) in sums.items() if den}


def add_lyon(session: Session, settings: Settings, *, referential: bool = True) -> Dataset:
    """The referential of 2012 from the IRIS (its communes named from the COG of 2012, drawn
    from their IRIS) and the same file as the published dataset ``iris-lyon-2012`` of the city."""
    if referential:
        import_territories(session, settings, LYON_IRIS, level="iris", vintage=2012)
    org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
    dataset = repo.create_dataset(session, organisation=org, title="IRIS de Lyon (recensement 2012)",
                                  slug=DATASET)
    session.commit()
    import_file(session, settings, dataset, LYON_IRIS)
    repo.publish_dataset(session, dataset)
    session.commit()
    return dataset


def iris_of_2024(folder: Path) -> Path:
    """The IRIS as the referential of 2024 has them: Pierre-Bénite (69152) merged into Oullins
    (69149) in 2024, and INSEE renumbered its three IRIS under the new commune's code."""
    data = json.loads(LYON_IRIS.read_text(encoding="utf-8"))
    for f in data["features"]:
        p = f["properties"]
        if p["com"] == "69152":
            p["id"] = "691499" + p["id"][-3:]
            p["com"] = "69149"
    path = folder / "iris-lyon-2024.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def pierre_benite_iris() -> list[str]:
    """The codes of Pierre-Bénite's IRIS in 2012 (they match no IRIS of 2024)."""
    return sorted(p["id"] for p in features() if p["com"] == "69152")


def points_far_away(folder: Path) -> Path:
    """Three schools in Paris: inside no IRIS of Lyon."""
    data = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35 + i / 100, 48.85]},
         "properties": {"nom": f"École {i}", "eleves": 100 + i}} for i in range(3)]}
    path = folder / "ecoles-paris.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _inside(x: float, y: float, ring: list[list[float]]) -> bool:
    """Whether (x, y) lies inside ``ring`` (crossings of a ray to the right)."""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def points_in_lyon(folder: Path) -> Path:
    """Schools at the centre of ten IRIS of Lyon (the mean of an outer ring's vertices, kept
    where it lies inside that ring), and one in Paris (outside every IRIS)."""
    data = json.loads(LYON_IRIS.read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    for f in data["features"]:
        if len(out) == 10:
            break
        rings = f["geometry"]["coordinates"]
        ring = rings[0][0] if f["geometry"]["type"] == "MultiPolygon" else rings[0]
        x = sum(c[0] for c in ring) / len(ring)
        y = sum(c[1] for c in ring) / len(ring)
        if f["geometry"]["type"] == "Polygon" and len(rings) == 1 and _inside(x, y, ring):
            out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                        "properties": {"nom": f["properties"]["libiris"], "eleves": 200}})
    out.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
                "properties": {"nom": "Paris", "eleves": 999}})
    path = folder / "ecoles-lyon.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": out}), encoding="utf-8")
    return path


def lyon_app(folder: Path) -> Any:
    """A portal (the ASGI app) whose catalogue holds the IRIS of Lyon of 2012, referential and
    dataset, in ``folder``."""
    from mutuelle.app import create_app

    settings = Settings(home=folder / "home", duckdb_memory_limit="512MB")
    app = create_app(settings)
    with app.state.sessions() as session:
        add_lyon(session, settings)
    return app
