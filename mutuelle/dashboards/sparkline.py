"""A KPI's history as a sparkline: the points of an inline SVG line, no library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The drawing's size in SVG units (it scales with the block).
WIDTH, HEIGHT = 120.0, 32.0
#: Room left around the line so that its end dot is not cut.
PAD = 3.0


@dataclass(frozen=True)
class Sparkline:
    """The line's points (``x,y x,y ...``), its last point and the range it spans."""

    points: str
    last: tuple[float, float]
    low: float
    high: float
    count: int
    width: float = WIDTH
    height: float = HEIGHT


def sparkline(values: Sequence[float | None], *, width: float = WIDTH,
              height: float = HEIGHT) -> Sparkline | None:
    """The sparkline of ``values`` in order (None values are skipped); None with fewer than
    two values."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return None
    low = min(v for _, v in known)
    high = max(v for _, v in known)
    span = (high - low) or 1.0
    last_index = len(values) - 1 or 1
    xy = [(PAD + (width - 2 * PAD) * i / last_index,
           height - PAD - (height - 2 * PAD) * ((v - low) / span if high > low else 0.5))
          for i, v in known]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return Sparkline(points, (round(xy[-1][0], 1), round(xy[-1][1], 1)), low, high,
                     len(known), width, height)
