"""The synthetic territory: a jittered grid of 250 m cells grouped into communes, IRIS and QPV.

Codes: the fictional département is ``96``, a number INSEE never allocated (metropolitan
départements stop at 95, Corsica is 2A/2B, overseas 971-976, 98x the Pacific, 99 abroad), so
commune codes ``96xxx``, IRIS codes ``96xxxGGII``, QPV codes ``QN096nnM`` (the 2024 shape:
``QN`` + département on 3 characters + number + ``M``), commune SIRENs ``21960xxxK`` and the EPCI
SIREN ``2496...`` (the older EPCI prefix 24 followed by the département) cannot clash with real
ones. Latent fields (density, affluence, youth, C2S take-up) are smooth functions of position,
so neighbouring IRIS look alike, as real ones do.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

Field = Callable[[float, float], float]   # a latent value at (x, y) km

DEPARTEMENT = "96"
CELL_KM = 0.25
NX, NY = 100, 80                       # 25 km x 20 km of cells
LON0, LAT0 = 4.30, 45.20               # south-west corner of the grid (WGS84)
KM_PER_DEG_LAT = 111.2
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(LAT0 + NY * CELL_KM / 2 / KM_PER_DEG_LAT))
RX, RY = 10.0, 7.6                     # semi-axes of the metropolis (km), before its wobble


def luhn_complete(digits: str) -> str:
    """``digits`` followed by the Luhn check digit (as SIREN numbers are)."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


EPCI_SIREN = luhn_complete("24960017")


@dataclass(frozen=True)
class CommuneSpec:
    """A member commune: fixed identity, target population and number of IRIS of each type."""

    code: str
    name: str
    slug: str
    population: int
    n_habitat: int      # IRIS of type H (0 means a commune without IRIS: one IRIS of type Z)
    n_activite: int     # type A: activity zones
    n_divers: int       # type D: parks, forests
    has_portal: bool = True
    offset_km: float = 0.0   # head start when communes grow from their town halls

    @property
    def siren(self) -> str:
        """The commune's SIREN, shaped as real ones: 21, département, 0, number, check digit."""
        return luhn_complete("21" + self.code[:2] + "0" + self.code[2:])


# Commune numbers follow alphabetical order, as INSEE's do within a département.
COMMUNES: tuple[CommuneSpec, ...] = (
    CommuneSpec("96172", "Val-Sauvage", "val-sauvage", 236_000, 118, 3, 1, offset_km=-1.6),
    CommuneSpec("96102", "Mornebois", "mornebois", 70_000, 35, 1, 0),
    CommuneSpec("96128", "Pontlumière", "pontlumiere", 58_000, 29, 1, 0),
    CommuneSpec("96141", "Roche-Fauve", "roche-fauve", 50_000, 25, 0, 0),
    CommuneSpec("96012", "Belvent-sur-Sauvagine", "belvent-sur-sauvagine", 42_000, 21, 0, 1),
    CommuneSpec("96117", "Ormeval", "ormeval", 36_000, 18, 0, 0),
    CommuneSpec("96045", "Fontbrume", "fontbrume", 24_000, 12, 0, 1),
    CommuneSpec("96018", "Brumecombe", "brumecombe", 2_900, 0, 0, 0, has_portal=False,
                offset_km=1.2),
)

QUARTER_NAMES = (
    "Le Moulin", "Les Vignes", "La Fontaine", "Les Charmilles", "Le Port", "Les Tisserands",
    "La Verrerie", "Beauregard", "Montjoie", "Les Acacias", "Le Prieuré", "La Source",
    "Les Prés", "Bellevue", "Le Château", "Les Sablons", "La Forge", "Champfleuri",
    "Les Peupliers", "Le Bourg", "La Plaine", "Les Coteaux", "Le Marais", "La Cité-Jardin",
    "Les Chênes", "Saint-Roch", "Saint-Martin", "La Chapelle", "Les Mûriers", "Le Faubourg",
    "Les Écluses", "La Tuilerie", "Les Carrières", "Le Vallon", "Les Lilas", "La Garenne",
    "Le Clos", "Les Ormes", "Pré-Vert", "Les Trois-Ponts", "La Brasserie", "Les Filatures",
    "Grand-Champ", "La Roseraie", "Les Buttes", "La Croix-Blanche", "Les Cerisiers",
    "Le Belvédère", "Les Hauts-Prés", "La Mouline", "Les Tanneurs", "Le Bois-Joli",
    "Les Glycines", "La Gravière", "Le Pré-Fleuri", "Les Aulnes", "La Sauvagine",
    "Les Jardins", "Le Calvaire", "Les Sorbiers", "La Pépinière", "Le Mail", "Les Cordiers",
    "La Fonderie", "Les Granges", "Le Rivage", "Les Haras", "La Bruyère", "Les Noyers",
)
ACTIVITY_NAMES = ("Zone industrielle des Filatures", "Parc d'activités de la Sauvagine",
                  "Zone portuaire", "Zone d'activités du Grand-Pré", "Parc technologique Brume",
                  "Zone logistique des Combes")
DIVERS_NAMES = ("Parc des Berges", "Bois de Mornebois", "Forêt de Brume", "Parc du Belvédère")
QPV_NAMES = ("La Croix-Brune", "Les Hauts-de-Sauvagine", "Le Grand Pré", "Les Tours Bleues",
             "Champ-Rouge", "La Cité des Tanneurs", "Val-Fleuri", "Les Quatre-Vents")


class SmoothNoise:
    """A smooth random field: a sum of plane waves of long wavelength (no white noise)."""

    def __init__(self, rng: random.Random, waves: int, wl_min: float, wl_max: float) -> None:
        self.waves = []
        for _ in range(waves):
            angle = rng.uniform(0, math.pi)
            k = 2 * math.pi / rng.uniform(wl_min, wl_max)
            self.waves.append((k * math.cos(angle), k * math.sin(angle), rng.uniform(0, 2 * math.pi)))
        self.norm = math.sqrt(2 / waves)

    def __call__(self, x: float, y: float) -> float:
        return self.norm * sum(math.cos(kx * x + ky * y + ph) for kx, ky, ph in self.waves)


def _bump(x: float, y: float, cx: float, cy: float, sigma: float) -> float:
    return math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma))


@dataclass
class Iris:
    """One IRIS: its cells and the latent values it aggregates (population-weighted)."""

    code: str
    name: str
    commune: str
    typ: str
    cells: list[int]
    population: int = 0
    affluence: float = 0.0       # standardised: 0 is the metropolitan average
    youth: float = 0.0           # > 0 young (students), < 0 older
    take_up: float = 0.0         # C2S take-up propensity (0..1)
    qpv_share: float = 0.0       # share of the population living in a QPV
    centre_km: float = 0.0       # distance to the metropolitan centre
    x: float = 0.0               # pop-weighted centre, km
    y: float = 0.0


@dataclass
class Qpv:
    """One priority neighbourhood (quartier prioritaire de la politique de la ville)."""

    code: str
    name: str
    commune: str
    cells: list[int]
    population: int = 0


@dataclass
class Territory:
    """The whole synthetic metropolis, at cell level and aggregated."""

    seed: int
    vertices: list[tuple[float, float]]          # lon, lat of grid nodes (rounded)
    cell_xy: dict[int, tuple[float, float]]      # centre of each territory cell, km
    cell_commune: dict[int, str]
    cell_iris: dict[int, str]
    cell_qpv: dict[int, str]
    cell_pop: dict[int, float]
    cell_affluence: dict[int, float]
    centre: tuple[float, float]
    town_halls: dict[str, tuple[float, float]]   # commune code -> km
    iris: list[Iris] = field(default_factory=list)
    qpv: list[Qpv] = field(default_factory=list)

    def commune(self, code: str) -> CommuneSpec:
        """The spec of a member commune."""
        return next(c for c in COMMUNES if c.code == code)

    def cell_of_xy(self, x: float, y: float) -> int | None:
        """The territory cell whose nominal square holds (x, y) km, if any."""
        i, j = int(x // CELL_KM), int(y // CELL_KM)
        c = j * NX + i
        return c if 0 <= i < NX and 0 <= j < NY and c in self.cell_commune else None

    def point_in_cell(self, cell: int, u: float, v: float) -> tuple[float, float]:
        """(lon, lat) inside ``cell`` at bilinear position (u, v) in [0, 1]² (cells are convex)."""
        i, j = cell % NX, cell // NX
        v00 = j * (NX + 1) + i
        p00, p10 = self.vertices[v00], self.vertices[v00 + 1]
        p01, p11 = self.vertices[v00 + NX + 1], self.vertices[v00 + NX + 2]
        lon = (1 - u) * (1 - v) * p00[0] + u * (1 - v) * p10[0] + u * v * p11[0] + (1 - u) * v * p01[0]
        lat = (1 - u) * (1 - v) * p00[1] + u * (1 - v) * p10[1] + u * v * p11[1] + (1 - u) * v * p01[1]
        return round(lon, 6), round(lat, 6)


def rng_for(seed: int, name: str) -> random.Random:
    """An independent generator per component, so that one change does not shift the others."""
    return random.Random(f"mutuelle-demo:{seed}:{name}")


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


def _fields(rng: random.Random, cx: float, cy: float,
            halls: dict[str, tuple[float, float]]) -> tuple[Field, Field, Field, Field]:
    """Density (inhabitants/km², before scaling), affluence, youth and C2S take-up fields."""
    broad, fine, old, take = (SmoothNoise(rng, 7, 6, 16), SmoothNoise(rng, 9, 1.5, 4),
                              SmoothNoise(rng, 6, 3, 10), SmoothNoise(rng, 6, 3, 9))
    rich = (cx + rng.uniform(-7, 7), cy + rng.uniform(-5, 5))
    poor = (cx + rng.uniform(-6, 6), cy + rng.uniform(-5, 5))
    hamlets = [(cx + rng.uniform(-10, 10), cy + rng.uniform(-8, 8)) for _ in range(10)]

    def density(x: float, y: float) -> float:
        d = 11000 * _bump(x, y, cx, cy, 2.2) + 150 + 80 * broad(x, y)
        d += sum(3200 * _bump(x, y, hx, hy, 1.1) for hx, hy in halls.values())
        d += sum(500 * _bump(x, y, hx, hy, 0.5) for hx, hy in hamlets)
        return max(40.0, d * (1 + 0.25 * fine(x, y)))

    def affluence(x: float, y: float) -> float:
        return (0.9 * broad(x, y) + 0.3 * fine(x, y) + 1.3 * _bump(x, y, *rich, 3.0)
                - 1.4 * _bump(x, y, *poor, 2.6) + 0.5 * _bump(x, y, cx, cy, 1.0))

    def youth(x: float, y: float) -> float:
        r = math.hypot(x - cx, y - cy)
        return 1.2 * _bump(x, y, cx, cy, 1.8) - 0.07 * r + 0.35 * old(x, y)

    def take_up(x: float, y: float) -> float:
        r = math.hypot(x - cx, y - cy)
        return min(0.9, max(0.35, 0.7 + 0.07 * take(x, y) - 0.012 * r))

    return density, affluence, youth, take_up


def _make_iris(t: Territory, s: CommuneSpec, cells: list[int], density: Field,
               rng: random.Random, names: list[str], special: dict[str, list[str]]) -> None:
    """Blobs of type A and D first, then the rest into balanced residential IRIS."""
    hx, hy = t.town_halls[s.code]
    taken: set[int] = set()
    blobs: list[tuple[str, list[int]]] = []
    far = max(math.hypot(t.cell_xy[c][0] - hx, t.cell_xy[c][1] - hy) for c in cells)
    for typ in ["A"] * s.n_activite + ["D"] * s.n_divers:
        ring = [c for c in cells if c not in taken
                and 0.35 * far < math.hypot(t.cell_xy[c][0] - hx, t.cell_xy[c][1] - hy) < 0.8 * far]
        weight = [math.exp(-1.5 * t.cell_affluence[c]) if typ == "A" else 1 / density(*t.cell_xy[c])
                  for c in ring]
        centre = rng.choices(ring, weights=weight)[0]
        radius = rng.uniform(0.5, 0.85) if typ == "A" else rng.uniform(0.8, 1.2)
        near = {c for c in cells
                if c not in taken and math.dist(t.cell_xy[c], t.cell_xy[centre]) <= radius}
        blob = _component(near, centre)
        taken |= blob
        blobs.append((typ, sorted(blob)))
    main, *enclaves = _components(set(cells) - taken)
    for part in enclaves:   # cut off by blobs: joins the one it touches most
        touch = [sum(n in set(b) for c in part for n in _neighbours(c)) for _, b in blobs]
        k = max(range(len(blobs)), key=lambda k: (touch[k], -k))
        blobs[k] = (blobs[k][0], sorted(set(blobs[k][1]) | part))
    pops = {c: density(*t.cell_xy[c]) * CELL_KM ** 2 for c in main}
    scale = s.population * rng.uniform(0.97, 1.03) / sum(pops.values())
    for c in cells:
        t.cell_pop[c] = pops.get(c, 0.0) * scale
    if s.n_habitat == 0:
        groups = [sorted(main)]
    else:
        groups = _balanced(sorted(main), t, s.n_habitat, rng)
    _name_iris(t, s, groups, blobs, names, special)


def _component(cells: set[int], start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for n in _neighbours(todo.pop()):
            if n in cells and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _balanced(cells: list[int], t: Territory, n: int, rng: random.Random) -> list[list[int]]:
    """``cells`` cut into ``n`` connected groups of similar population.

    Recursive bisection across the principal axis (slightly turned, for less regular shapes)
    at the population quantile; parts cut off from their group then join a neighbour.
    """
    groups: list[list[int]] = []
    _bisect(cells, t, n, rng, groups)
    owner = {c: k for k, g in enumerate(groups) for c in g}
    for k in range(len(groups)):
        parts = _components(set(groups[k]))
        for part in parts[1:]:
            for c in part:
                owner[c] = -1
    orphans = sorted(c for c, k in owner.items() if k == -1)
    while orphans:
        left = []
        for c in orphans:
            near = sorted(owner[m] for m in _neighbours(c) if owner.get(m, -1) >= 0)
            if near:
                owner[c] = max(set(near), key=lambda k: (near.count(k), -k))
            else:
                left.append(c)
        orphans = left
    out: list[list[int]] = [[] for _ in groups]
    for c in cells:
        out[owner[c]].append(c)
    return out


def _bisect(cells: list[int], t: Territory, n: int, rng: random.Random,
            out: list[list[int]]) -> None:
    if n == 1:
        out.append(cells)
        return
    xs = [t.cell_xy[c][0] for c in cells]
    ys = [t.cell_xy[c][1] for c in cells]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    angle = 0.5 * math.atan2(2 * sxy, sxx - syy) + rng.uniform(-0.35, 0.35)
    ca, sa = math.cos(angle), math.sin(angle)
    ordered = sorted(cells, key=lambda c: (t.cell_xy[c][0] * ca + t.cell_xy[c][1] * sa, c))
    n1 = n // 2
    goal = sum(t.cell_pop[c] for c in cells) * n1 / n
    acc, cut = 0.0, 0
    while cut < len(ordered) - (n - n1) and (acc < goal or cut < n1):
        acc += t.cell_pop[ordered[cut]]
        cut += 1
    _bisect(ordered[:cut], t, n1, rng, out)
    _bisect(ordered[cut:], t, n - n1, rng, out)


def _components(cells: set[int]) -> list[set[int]]:
    """Connected parts of ``cells``, largest first."""
    parts = []
    left = set(cells)
    while left:
        comp = _component(left, min(left))
        left -= comp
        parts.append(comp)
    return sorted(parts, key=lambda p: (-len(p), min(p)))


def _name_iris(t: Territory, s: CommuneSpec, groups: list[list[int]],
               blobs: list[tuple[str, list[int]]], names: list[str],
               special: dict[str, list[str]]) -> None:
    """IRIS codes commune + grand quartier (2 digits) + IRIS (2 digits), named after quarters."""
    if s.n_habitat == 0:
        t.iris.append(Iris(s.code + "0000", s.name, s.code, "Z", groups[0]))
        return
    hx, hy = t.town_halls[s.code]

    def polar(g: list[int]) -> tuple[float, float]:
        w = [t.cell_pop[c] + 1e-3 for c in g]
        gx = sum(t.cell_xy[c][0] * wc for c, wc in zip(g, w)) / sum(w)
        gy = sum(t.cell_xy[c][1] * wc for c, wc in zip(g, w)) / sum(w)
        return math.hypot(gx - hx, gy - hy), math.atan2(gy - hy, gx - hx)

    placed = sorted(groups, key=lambda g: polar(g)[0])
    n_centre = max(1, len(groups) // 8)
    centre, others = placed[:n_centre], sorted(placed[n_centre:], key=lambda g: polar(g)[1])
    size = 5 if len(others) > 20 else 4
    quarters = [("Centre-Ville", centre)]
    for k in range(0, len(others), size):
        quarters.append((names.pop(), others[k:k + size]))
    for q, (qname, members) in enumerate(quarters, start=1):
        members = sorted(members, key=lambda g: polar(g)[0])
        for k, g in enumerate(members, start=1):
            name = qname if len(members) == 1 else f"{qname} {k}"
            t.iris.append(Iris(f"{s.code}{q:02d}{k:02d}", name, s.code, "H", g))
    for k, (typ, cells) in enumerate(blobs, start=1):
        t.iris.append(Iris(f"{s.code}90{k:02d}", special[typ].pop(0), s.code, typ, cells))


def _make_qpv(t: Territory, rng: random.Random) -> None:
    """Five QPV in the poorest dense places, 2.5 km apart, at most two per commune."""
    residential = {c for i in t.iris if i.typ == "H" for c in i.cells}
    dens = sorted(t.cell_pop[c] for c in residential)
    threshold = dens[len(dens) // 2]
    candidates = sorted((c for c in residential if t.cell_pop[c] >= threshold),
                        key=lambda c: (t.cell_affluence[c], c))
    # The central city always has one: its deliberations speak of it.
    centres = [next(c for c in candidates if t.cell_commune[c] == COMMUNES[0].code)]
    for c in candidates:
        if (all(math.dist(t.cell_xy[c], t.cell_xy[o]) > 2.5 for o in centres)
                and sum(t.cell_commune[o] == t.cell_commune[c] for o in centres) < 2):
            centres.append(c)
        if len(centres) == 5:
            break
    names = list(QPV_NAMES)
    rng.shuffle(names)
    for k, centre in enumerate(sorted(centres, key=lambda c: (t.cell_commune[c], c)), start=1):
        commune = t.cell_commune[centre]
        radius, cells = rng.uniform(0.45, 0.75), list[int]()
        while len(cells) < 12 and radius < 2:   # big enough to be a neighbourhood
            near = {c for c in residential if t.cell_commune[c] == commune
                    and math.dist(t.cell_xy[c], t.cell_xy[centre]) <= radius}
            cells = sorted(_component(near, centre))
            radius += 0.1
        q = Qpv(f"QN0{DEPARTEMENT}{k:02d}M", names[k - 1], commune, cells,
                round(sum(t.cell_pop[c] for c in cells)))
        t.qpv.append(q)
        for c in cells:
            t.cell_qpv[c] = q.code
            t.cell_affluence[c] -= 0.75   # concentrated social housing: poorer than around


def _aggregate(t: Territory, youth: Field, take_up: Field) -> None:
    """Population-weighted means of the latent fields over each IRIS; its population."""
    a_rng = rng_for(t.seed, "activity-residents")
    first_a = True
    for i in t.iris:
        for c in i.cells:
            t.cell_iris[c] = i.code
        w = [t.cell_pop[c] for c in i.cells]
        if sum(w) <= 0:   # zones without residents: values of the place itself
            w = [1.0] * len(i.cells)
        xy = [t.cell_xy[c] for c in i.cells]
        i.x = _mean([x for x, _ in xy], w)
        i.y = _mean([y for _, y in xy], w)
        i.affluence = _mean([t.cell_affluence[c] for c in i.cells], w)
        i.youth = _mean([youth(*p) for p in xy], w)
        i.take_up = _mean([take_up(*p) + (0.06 if c in t.cell_qpv else 0)   # social workers there
                           for c, p in zip(i.cells, xy)], w)
        i.qpv_share = _mean([1.0 if c in t.cell_qpv else 0.0 for c in i.cells], w)
        i.centre_km = math.dist((i.x, i.y), t.centre)
        if i.typ == "A":   # a caretaker's flat or a few houses: small counts on purpose
            i.population = 0 if first_a else a_rng.randint(12, 140)
            first_a = False
        elif i.typ == "D":
            i.population = 0
        else:
            i.population = round(sum(t.cell_pop[c] for c in i.cells))
    t.iris.sort(key=lambda i: i.code)


def _mean(values: list[float], weights: list[float]) -> float:
    return sum(v * w for v, w in zip(values, weights)) / sum(weights)


# --- geometry -----------------------------------------------------------------------------

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
