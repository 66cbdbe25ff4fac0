"""The territory's geometry: cells traced into polygons, the contours of the IRIS, the communes
and the QPV written as GeoJSON.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from mutuelle.demo.communes import COMMUNES, EPCI_SIREN
from mutuelle.demo.grid import KM_PER_DEG_LAT, KM_PER_DEG_LON, NX, _components
from mutuelle.demo.model import Territory


def trace(cells: list[int]) -> list[list[list[int]]]:
    """Polygons (shell then holes, as lists of grid-node ids) bounding a set of cells.

    Each 4-connected part is one polygon. Edges shared by two of its cells cancel; the rest are
    chained taking the rightmost turn where the boundary touches itself at a corner, so that
    every ring borders a single outside area: the shell and its holes stay simple (valid).
    """
    return [_trace_part(sorted(part)) for part in sorted(_components(set(cells)), key=min)]


def _trace_part(cells: list[int]) -> list[list[int]]:
    edges: set[tuple[int, int]] = set()
    for c in cells:
        i, j = c % NX, c // NX
        v00 = j * (NX + 1) + i
        corners = (v00, v00 + 1, v00 + NX + 2, v00 + NX + 1)   # counter-clockwise
        for a, b in zip(corners, corners[1:] + corners[:1]):
            if (b, a) in edges:
                edges.remove((b, a))
            else:
                edges.add((a, b))
    outgoing: dict[int, list[int]] = {}
    for a, b in sorted(edges):
        outgoing.setdefault(a, []).append(b)
    rings: list[list[int]] = []
    for a, b in sorted(edges):
        if b not in outgoing[a]:
            continue
        ring, prev, cur = [a], a, b
        outgoing[a].remove(b)
        while not (cur == a and _rightmost(prev, cur, outgoing[a] + [b]) == b):
            ring.append(cur)
            nxt = _rightmost(prev, cur, outgoing[cur])
            outgoing[cur].remove(nxt)
            prev, cur = cur, nxt
        ring.append(a)
        rings.append(ring)
    # Exactly one ring turns counter-clockwise: the shell; the others are holes.
    return sorted(rings, key=lambda r: -_area(r))


def _ij(v: int) -> tuple[int, int]:
    return v % (NX + 1), v // (NX + 1)


def _rightmost(prev: int, cur: int, options: list[int]) -> int:
    if len(options) == 1:
        return options[0]
    (pi, pj), (ci, cj) = _ij(prev), _ij(cur)

    def cross(w: int) -> int:
        wi, wj = _ij(w)
        return (ci - pi) * (wj - cj) - (cj - pj) * (wi - ci)
    return min(options, key=lambda w: (cross(w), w))


def _area(ring: list[int]) -> float:
    pts = [_ij(v) for v in ring]
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(pts)) / 2


def geometry(t: Territory, cells: list[int]) -> dict[str, object]:
    """A GeoJSON Polygon or MultiPolygon (WGS84, exterior rings counter-clockwise)."""
    polys = [[[list(t.vertices[v]) for v in ring] for ring in p] for p in trace(cells)]
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def area_km2(geom: dict) -> float:
    """Area of a GeoJSON (Multi)Polygon written by ``geometry``, in km² (local projection)."""
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    total = 0.0
    for poly in polys:
        for ring in poly:   # holes are clockwise: their signed area is negative
            pts = [(lon * KM_PER_DEG_LON, lat * KM_PER_DEG_LAT) for lon, lat in ring]
            total += sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(pts)) / 2
    return total


def write_feature_collection(path: Path, features: list[tuple[dict, dict]]) -> Path:
    """A GeoJSON file (UTF-8, one feature per line, so that diffs stay readable)."""
    lines = [json.dumps({"type": "Feature", "properties": props, "geometry": geom},
                        ensure_ascii=False, separators=(",", ":")) for props, geom in features]
    path.write_text('{"type": "FeatureCollection", "features": [\n' + ",\n".join(lines)
                    + "\n]}\n", encoding="utf-8")
    return path


def write_geo(t: Territory, out_dir: Path) -> dict[str, Path]:
    """Contours of the IRIS, the communes and the QPV as GeoJSON files."""
    names = {s.code: s.name for s in COMMUNES}
    iris = [({"code_iris": i.code, "nom_iris": i.name, "code_commune": i.commune,
              "nom_commune": names[i.commune], "typ_iris": i.typ}, geometry(t, i.cells))
            for i in t.iris]
    communes = []
    for s in sorted(COMMUNES, key=lambda s: s.code):
        geom = geometry(t, sorted(c for c, k in t.cell_commune.items() if k == s.code))
        communes.append(({"code_commune": s.code, "nom_commune": s.name, "siren": s.siren,
                          "code_epci": EPCI_SIREN,
                          "population": sum(i.population for i in t.iris if i.commune == s.code),
                          "superficie_km2": round(area_km2(geom), 2)}, geom))
    qpv = [({"code_qpv": q.code, "nom_qpv": q.name, "code_commune": q.commune,
             "nom_commune": names[q.commune], "population": q.population}, geometry(t, q.cells))
           for q in t.qpv]
    return {"iris": write_feature_collection(out_dir / "iris.geojson", iris),
            "communes": write_feature_collection(out_dir / "communes.geojson", communes),
            "qpv": write_feature_collection(out_dir / "qpv.geojson", qpv)}
