"""Two indicators crossed over the same territories: 3×3 bivariate classes, the scatter pairs
and their correlation (Pearson's and Spearman's)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.observatory import classification, compute
from mutuelle.observatory.maps import brief, codes_within, computed_at, finite


def _average_ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation coefficient; None with fewer than 3 pairs or a constant side."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def correlation(xs: Sequence[float], ys: Sequence[float]) -> dict[str, Any]:
    """Pearson's and Spearman's coefficients over the pairs where both values are known."""
    return {"n": len(xs), "pearson": pearson(xs, ys),
            "spearman": pearson(_average_ranks(xs), _average_ranks(ys))}


def crossing(session: Session, settings: Settings, x: Indicator, y: Indicator, *, level: str,
             vintage: int | None = None, within: tuple[str, str] | None = None) -> dict[str, Any]:
    """Two indicators over the same territories: 3×3 bivariate classes, the scatter pairs
    and their correlation. A pair is drawn only where both values are published."""
    if x.id == y.id:
        raise InvalidInput("y must be another indicator than x")
    cx = computed_at(session, settings, x, level, vintage)
    cy = computed_at(session, settings, y, level, vintage if vintage is not None
                  else cx.referential.vintage)
    inside = codes_within(cx, level, within)
    xs, ys = cx.level(level), cy.level(level)
    codes = [c for c in cx.referential.codes.get(level, ())
             if (inside is None or c in inside) and c in xs and c in ys]

    def shown(v: compute.Value) -> float | None:
        return finite(v.value) if v.status == compute.OK else None

    x_values = [shown(xs[c]) for c in codes]
    y_values = [shown(ys[c]) for c in codes]
    both = [(a, b) for a, b in zip(x_values, y_values, strict=True) if a is not None and b is not None]
    if len({a for a, _ in both}) < 3 or len({b for _, b in both}) < 3:
        raise InvalidInput(f"too few territories have both values at level {level} to cross "
                           f"{x.id} and {y.id} ({len(both)})")
    bivariate = classification.bivariate_classes(x_values, y_values)
    items = []
    for code, cell in zip(codes, bivariate.cells, strict=True):
        vx, vy = xs[code], ys[code]
        items.append({"code": code, "name": vx.name, "x": shown(vx), "y": shown(vy),
                      "status_x": vx.status, "status_y": vy.status, "cell": cell})
    return {"x": brief(x), "y": brief(y), "level": level, "vintage": cx.referential.vintage,
            "within": None if within is None else f"{within[0]}:{within[1]}",
            "correlation": correlation([a for a, _ in both], [b for _, b in both]),
            "x_breaks": bivariate.x_breaks, "y_breaks": bivariate.y_breaks,
            "colors": bivariate.colors, "counts": bivariate.counts,
            "missing": sum(1 for c in bivariate.cells if c is None), "results": items}
