"""The grid under the synthetic territory: 250 m cells on jittered nodes (WGS84), their centres
(km) and their 4-connectivity (neighbours, connected parts).
"""

from __future__ import annotations

import math
import random

CELL_KM = 0.25
NX, NY = 100, 80                       # 25 km x 20 km of cells
LON0, LAT0 = 4.30, 45.20               # south-west corner of the grid (WGS84)
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(LAT0 + NY * CELL_KM / 2 / KM_PER_DEG_LAT))


def _vertices(rng: random.Random) -> list[tuple[float, float]]:
    # Jitter below a quarter of a cell keeps every cell convex and the tiling valid.
    out = []
    for j in range(NY + 1):
        for i in range(NX + 1):
            x = (i + rng.uniform(-0.22, 0.22)) * CELL_KM
            y = (j + rng.uniform(-0.22, 0.22)) * CELL_KM
            out.append((round(LON0 + x / KM_PER_DEG_LON, 6), round(LAT0 + y / KM_PER_DEG_LAT, 6)))
    return out


def _cell_centres(vertices: list[tuple[float, float]]) -> dict[int, tuple[float, float]]:
    out = {}
    for j in range(NY):
        for i in range(NX):
            v = j * (NX + 1) + i
            pts = (vertices[v], vertices[v + 1], vertices[v + NX + 1], vertices[v + NX + 2])
            lon = sum(p[0] for p in pts) / 4
            lat = sum(p[1] for p in pts) / 4
            out[j * NX + i] = ((lon - LON0) * KM_PER_DEG_LON, (lat - LAT0) * KM_PER_DEG_LAT)
    return out


def _nearest_cell(cells: set[int], cell_xy: dict[int, tuple[float, float]], x: float, y: float) -> int:
    return min(sorted(cells), key=lambda c: (cell_xy[c][0] - x) ** 2 + (cell_xy[c][1] - y) ** 2)


def _neighbours(c: int) -> list[int]:
    i, j = c % NX, c // NX
    out = []
    if i > 0:
        out.append(c - 1)
    if i < NX - 1:
        out.append(c + 1)
    if j > 0:
        out.append(c - NX)
    if j < NY - 1:
        out.append(c + NX)
    return out


def _component(cells: set[int], start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for n in _neighbours(todo.pop()):
            if n in cells and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _components(cells: set[int]) -> list[set[int]]:
    """Connected parts of ``cells``, largest first."""
    parts = []
    left = set(cells)
    while left:
        comp = _component(left, min(left))
        left -= comp
        parts.append(comp)
    return sorted(parts, key=lambda p: (-len(p), min(p)))
