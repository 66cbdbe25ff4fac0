"""The synthetic territory as data: the metropolis at cell level, its IRIS and its QPV."""

from __future__ import annotations

from dataclasses import dataclass, field

from mutuelle.demo.communes import COMMUNES, CommuneSpec
from mutuelle.demo.grid import CELL_KM, NX, NY


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
