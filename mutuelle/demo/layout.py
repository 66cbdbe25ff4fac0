"""The layout of the synthetic metropolis: its wobbly outline, its town halls and the communes
grown from them over the grid.
"""

from __future__ import annotations

import heapq
import math
import random

from mutuelle.demo.communes import COMMUNES
from mutuelle.demo.grid import _neighbours

RX, RY = 10.0, 7.6                     # semi-axes of the metropolis (km), before its wobble


def _radius(harmonics: list[tuple[int, float, float]], angle: float) -> float:
    base = RX * RY / math.hypot(RY * math.cos(angle), RX * math.sin(angle))
    return base * (1 + sum(a * math.cos(k * angle + ph) for k, a, ph in harmonics))


def _mask(rng: random.Random, cell_xy: dict[int, tuple[float, float]], cx: float, cy: float) -> set[int]:
    harmonics = [(k, rng.uniform(0.015, 0.04), rng.uniform(0, 2 * math.pi)) for k in range(2, 6)]
    out = set()
    for c, (x, y) in cell_xy.items():
        if math.hypot(x - cx, y - cy) <= _radius(harmonics, math.atan2(y - cy, x - cx)):
            out.add(c)
    return out


def _town_halls(rng: random.Random, cx: float, cy: float) -> dict[str, tuple[float, float]]:
    slots = list(range(7))
    rng.shuffle(slots)
    start = rng.uniform(0, 2 * math.pi)
    halls = {COMMUNES[0].code: (cx, cy)}
    for spec, slot in zip(COMMUNES[1:], slots):
        angle = start + slot * 2 * math.pi / 7 + rng.uniform(-0.2, 0.2)
        reach = 0.8 if not spec.has_portal else rng.uniform(0.56, 0.66)
        r = reach * RX * RY / math.hypot(RY * math.cos(angle), RX * math.sin(angle))
        halls[spec.code] = (cx + r * math.cos(angle), cy + r * math.sin(angle))
    return halls


def _grow(allowed: set[int], seeds: list[int], offsets: list[float],
          cost: dict[int, float]) -> dict[int, int]:
    """Cells of ``allowed`` -> index of the seed reaching them first (multi-source Dijkstra).

    Additive head starts keep every region connected: a cell's predecessor on its shortest
    path belongs to the same seed. Seeds own their own cell whatever the offsets.
    """
    owner = {s: k for k, s in enumerate(seeds)}
    heap: list[tuple[float, int, int]] = []
    for k, s in enumerate(seeds):
        for n in _neighbours(s):
            if n in allowed and n not in owner:
                heapq.heappush(heap, (offsets[k] + (cost[s] + cost[n]) / 2, n, k))
    while heap:
        d, c, k = heapq.heappop(heap)
        if c in owner:
            continue
        owner[c] = k
        for n in _neighbours(c):
            if n in allowed and n not in owner:
                heapq.heappush(heap, (d + (cost[c] + cost[n]) / 2, n, k))
    return owner
