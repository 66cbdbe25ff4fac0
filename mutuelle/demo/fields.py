"""Randomness and latent fields of the synthetic territory: one generator per component, smooth
noise, and the density, affluence, youth and C2S take-up fields.

Latent fields are smooth functions of position, so neighbouring IRIS look alike, as real ones do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

Field = Callable[[float, float], float]   # a latent value at (x, y) km


def rng_for(seed: int, name: str) -> random.Random:
    """An independent generator per component, so that one change does not shift the others."""
    return random.Random(f"mutuelle-demo:{seed}:{name}")


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
