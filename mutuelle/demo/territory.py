"""The synthetic territory: a jittered grid of 250 m cells grouped into communes, IRIS and QPV.

``build_territory(seed)`` draws it; the parts live in their own modules, re-exported here:
``communes`` (codes, SIRENs, names), ``grid`` (cells and nodes), ``fields`` (random generators
and latent fields), ``model`` (``Territory``, ``Iris``, ``Qpv``), ``layout`` (outline, town
halls, communes), ``subdivision`` (IRIS and QPV) and ``contours`` (polygons and GeoJSON).
"""

from __future__ import annotations

import math

from mutuelle.demo.communes import (
    ACTIVITY_NAMES,
    COMMUNES,
    DEPARTEMENT,
    DIVERS_NAMES,
    EPCI_SIREN,
    QPV_NAMES,
    QUARTER_NAMES,
    CommuneSpec,
    luhn_complete,
)
from mutuelle.demo.contours import area_km2, geometry, trace, write_feature_collection, write_geo
from mutuelle.demo.fields import Field, SmoothNoise, _fields, rng_for
from mutuelle.demo.grid import (
    CELL_KM,
    KM_PER_DEG_LAT,
    KM_PER_DEG_LON,
    LAT0,
    LON0,
    NX,
    NY,
    _cell_centres,
    _nearest_cell,
    _vertices,
)
from mutuelle.demo.layout import RX, RY, _grow, _mask, _town_halls
from mutuelle.demo.model import Iris, Qpv, Territory
from mutuelle.demo.subdivision import _aggregate, _make_iris, _make_qpv

__all__ = [
    "ACTIVITY_NAMES",
    "CELL_KM",
    "COMMUNES",
    "DEPARTEMENT",
    "DIVERS_NAMES",
    "EPCI_SIREN",
    "KM_PER_DEG_LAT",
    "KM_PER_DEG_LON",
    "LAT0",
    "LON0",
    "NX",
    "NY",
    "QPV_NAMES",
    "QUARTER_NAMES",
    "RX",
    "RY",
    "CommuneSpec",
    "Field",
    "Iris",
    "Qpv",
    "SmoothNoise",
    "Territory",
    "area_km2",
    "build_territory",
    "geometry",
    "luhn_complete",
    "rng_for",
    "trace",
    "write_feature_collection",
    "write_geo",
]


def build_territory(seed: int) -> Territory:
    """The synthetic metropolis for ``seed``: cells, communes, IRIS, QPV and latent fields."""
    rng = rng_for(seed, "territory")
    vertices = _vertices(rng)
    cell_xy = _cell_centres(vertices)
    cx, cy = NX * CELL_KM / 2 + rng.uniform(-0.5, 0.5), NY * CELL_KM / 2 + rng.uniform(-0.5, 0.5)
    inside = _mask(rng, cell_xy, cx, cy)
    halls = _town_halls(rng, cx, cy)
    wiggle = SmoothNoise(rng, 6, 2.5, 8.0)
    cost = {c: CELL_KM * max(0.3, 1 + 0.45 * wiggle(*cell_xy[c])) for c in inside}
    hall_cells = [_nearest_cell(inside, cell_xy, *halls[s.code]) for s in COMMUNES]
    owner = _grow(inside, hall_cells, [s.offset_km for s in COMMUNES], cost)
    cell_commune = {c: COMMUNES[k].code for c, k in owner.items()}
    for s in COMMUNES:   # the town hall is where the commune actually is
        halls[s.code] = cell_xy[hall_cells[COMMUNES.index(s)]]

    density, affluence, youth, take_up = _fields(rng, cx, cy, halls)
    t = Territory(seed, vertices, {c: cell_xy[c] for c in sorted(owner)}, cell_commune, {}, {},
                  {}, {}, (cx, cy), halls)
    raw_aff = {c: affluence(*cell_xy[c]) for c in owner}
    mean = sum(raw_aff.values()) / len(raw_aff)
    sd = math.sqrt(sum((a - mean) ** 2 for a in raw_aff.values()) / len(raw_aff))
    t.cell_affluence = {c: (a - mean) / sd for c, a in raw_aff.items()}

    names = list(QUARTER_NAMES)
    rng.shuffle(names)
    special = {"A": list(ACTIVITY_NAMES), "D": list(DIVERS_NAMES)}
    for s in COMMUNES:
        cells = sorted(c for c, k in cell_commune.items() if k == s.code)
        _make_iris(t, s, cells, density, rng, names, special)
    _make_qpv(t, rng)
    _aggregate(t, youth, take_up)
    return t
