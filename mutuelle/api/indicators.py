"""Indicators API: the catalogue of indicators, their values at any level, their classes for
a choropleth, and two indicators crossed (bivariate classes, scatter pairs, correlation).

``choropleth()`` and ``crossing()`` are what the map page draws; the pages call them too.
Secret cells carry no number at all: value, numerator and denominator are null.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, can_read_indicator
from mutuelle.api.deps import get_session, get_settings, get_viewer
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.observatory import classification, compute
from mutuelle.observatory import indicators as catalogue
from mutuelle.observatory.scenarios import FILTER_KEYS, check_classes, check_level, check_method

router = APIRouter(prefix="/api/indicators", tags=["observatory: indicators"])

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]

LevelQuery = Annotated[str, Query(description="iris, commune, epci, departement, region, qpv "
                                              "or territoire", examples=["iris"])]
VintageQuery = Annotated[int | None, Query(description="vintage (millésime) of the referential; "
                                                       "default: the indicator's or the "
                                                       "portal's", examples=[2024])]
WithinQuery = Annotated[str | None, Query(
    description="only the territories inside one larger territory, as level:code "
                "(levels: commune, epci, departement, region)", examples=["commune:96172"])]


# --- access and parameters ------------------------------------------------------------------

def readable_indicator(session: Session, viewer: Viewer, key: str) -> Indicator:
    """The indicator ``key`` if ``viewer`` may read it; otherwise NotFound."""
    indicator = catalogue.get_indicator(session, key)
    if not can_read_indicator(viewer, indicator):
        raise NotFound(f"no indicator {key!r}")
    return indicator


def visible_indicators(session: Session, viewer: Viewer, theme: str | None = None
                       ) -> list[Indicator]:
    """Indicators ``viewer`` may read, by theme then label."""
    return catalogue.list_indicators(session, theme=theme,
                                     access=None if viewer.operator else ["public"])


def parse_breaks(text: str | None) -> list[float] | None:
    """Manual breaks written ``10,20,30`` or ``10;20;30`` (decimal point or comma as in
    ``12,5;20``); None when empty."""
    if text is None or not text.strip():
        return None
    separator = ";" if ";" in text else ","
    out = []
    for part in text.split(separator):
        part = part.strip().replace(",", ".") if separator == ";" else part.strip()
        try:
            number = float(part)
        except ValueError:
            raise InvalidInput(f"breaks must be numbers separated by commas, not {part!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"breaks must be finite numbers, not {part!r}")
        out.append(number)
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise InvalidInput(f"breaks must increase strictly, not {out}")
    return out


def parse_within(text: str | None) -> tuple[str, str] | None:
    """``commune:96172`` as (level, code); None when empty."""
    if not text:
        return None
    level, _, code = text.partition(":")
    if level not in FILTER_KEYS or not code:
        raise InvalidInput(f"within must be level:code with level one of {', '.join(FILTER_KEYS)}, "
                           f"not {text!r}")
    return level, code


def _inside(computed: compute.Computed, level: str, within: tuple[str, str] | None) -> set[str] | None:
    if within is None or level == compute.WHOLE:
        return None
    up, code = within
    ancestors = computed.referential.ancestors
    return {c for c in computed.referential.codes.get(level, ())
            if (level == up and c == code) or ancestors.get((level, c), {}).get(up) == code}


def _compute(session: Session, settings: Settings, indicator: Indicator, level: str,
             vintage: int | None) -> compute.Computed:
    check_level(level)
    computed = compute.compute_indicator(session, settings, indicator, vintage=vintage)
    computed.level(level)  # refuses a level the indicator has no values at
    return computed


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def value_json(v: compute.Value) -> dict[str, Any]:
    """One territory's value; a secret cell carries no number, not even its denominator."""
    shown = v.status == compute.OK
    return {"code": v.code, "name": v.name, "status": v.status,
            "value": _number(v.value) if shown else None,
            "numerator": _number(v.numerator) if shown else None,
            "denominator": _number(v.denominator) if shown else None}


def indicator_json(indicator: Indicator) -> dict[str, Any]:
    """An indicator's definition with the links to its values and classes."""
    out = catalogue.describe(indicator)
    base = f"/api/indicators/{indicator.id}"
    out["links"] = {"self": base, "values": f"{base}/values?level=iris",
                    "classes": f"{base}/classes?level=iris&method=quantile&classes=5"}
    return out


def _brief(indicator: Indicator) -> dict[str, Any]:
    return {"id": indicator.id, "label": indicator.label, "unit": indicator.unit,
            "theme": indicator.theme, "scale": indicator.scale, "source_note": indicator.source_note}


# --- what a map shows -----------------------------------------------------------------------

def level_values(session: Session, settings: Settings, indicator: Indicator, *, level: str,
                 vintage: int | None = None, within: tuple[str, str] | None = None
                 ) -> dict[str, Any]:
    """Each territory's value at ``level`` (secret cells without numbers)."""
    computed = _compute(session, settings, indicator, level, vintage)
    inside = _inside(computed, level, within)
    rows = [value_json(v) for v in computed.values(level) if inside is None or v.code in inside]
    return {"indicator": _brief(indicator), "level": level,
            "vintage": computed.referential.vintage, "total_count": len(rows), "results": rows}


def _rank_of(descending: Sequence[float]) -> Callable[[float], int]:
    """Rank of a value among ``descending`` (sorted, highest first): 1 for the highest, equal
    values sharing the best rank."""
    ascending = [-v for v in descending]
    return lambda value: bisect.bisect_left(ascending, -value) + 1


def choropleth(session: Session, settings: Settings, indicator: Indicator, *, level: str,
               vintage: int | None = None, method: str = "quantile", classes: int = 5,
               breaks: Sequence[float] | None = None, palette: str = classification.DEFAULT_PALETTE,
               within: tuple[str, str] | None = None, rows: int | None = None,
               offset: int = 0) -> dict[str, Any]:
    """Classes, legend counts and each territory's value, class, rank and parent's value.

    ``rows``: only ``rows`` territories by name from ``offset`` in ``results`` (a page of a
    table; building each row costs more than the classes on tens of thousands of IRIS); all
    of them, in the referential's order, when None. ``total_count`` is their number in all."""
    check_method(method)
    check_classes(classes)
    computed = _compute(session, settings, indicator, level, vintage)
    inside = _inside(computed, level, within)
    values = [v for v in computed.values(level) if inside is None or v.code in inside]
    ok = {v.code: v.value for v in values if v.status == compute.OK and _number(v.value) is not None}
    found = classification.classify(list(ok.values()), method, classes,
                                    breaks=breaks if method == "manual" else None, palette=palette)
    rank = _rank_of(sorted(ok.values(), reverse=True))  # type: ignore[arg-type]
    shown = values if rows is None else \
        sorted(values, key=lambda v: (v.name, v.code))[offset:offset + rows]
    items = []
    for v in shown:
        item = value_json(v)
        known = v.code in ok
        item["class"] = found.class_of(v.value) if known else None
        item["rank"] = rank(v.value) if known else None  # type: ignore[arg-type]
        parent = computed.parent(level, v.code)
        item["parent"] = None if parent is None else {"level": parent[0], **value_json(parent[1])}
        items.append(item)
    statuses = {s: sum(1 for v in values if v.status == s)
                for s in (compute.OK, compute.SECRET, compute.NO_DATA)}
    return {"indicator": _brief(indicator), "level": level,
            "vintage": computed.referential.vintage, "method": method, "classes": classes,
            "palette": palette, "breaks": found.breaks, "colors": found.colors,
            "counts": found.counts, "statuses": statuses, "ranked": len(ok),
            "within": None if within is None else f"{within[0]}:{within[1]}",
            "inside": None if inside is None else sorted(v.code for v in values),
            "total_count": len(values), "results": items}


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
    cx = _compute(session, settings, x, level, vintage)
    cy = _compute(session, settings, y, level, vintage if vintage is not None
                  else cx.referential.vintage)
    inside = _inside(cx, level, within)
    xs, ys = cx.level(level), cy.level(level)
    codes = [c for c in cx.referential.codes.get(level, ())
             if (inside is None or c in inside) and c in xs and c in ys]

    def shown(v: compute.Value) -> float | None:
        return _number(v.value) if v.status == compute.OK else None

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
    return {"x": _brief(x), "y": _brief(y), "level": level, "vintage": cx.referential.vintage,
            "within": None if within is None else f"{within[0]}:{within[1]}",
            "correlation": correlation([a for a, _ in both], [b for _, b in both]),
            "x_breaks": bivariate.x_breaks, "y_breaks": bivariate.y_breaks,
            "colors": bivariate.colors, "counts": bivariate.counts,
            "missing": sum(1 for c in bivariate.cells if c is None), "results": items}


# --- routes ---------------------------------------------------------------------------------

@router.get("", summary="The indicator catalogue",
            description="Every indicator the caller may read, by theme then label.")
def list_indicators(session: SessionDep, viewer: ViewerDep,
                    theme: Annotated[str | None, Query(examples=["Emploi"])] = None
                    ) -> dict[str, Any]:
    rows = visible_indicators(session, viewer, theme)
    return {"total_count": len(rows), "results": [indicator_json(i) for i in rows]}


@router.get("/cross", summary="Two indicators crossed: bivariate classes, scatter pairs, correlation",
            description="Terciles of each indicator over the territories where both are "
                        "published, the 3×3 class of each territory (index 3 × y class + x "
                        "class), Pearson's and Spearman's correlations. Secret cells have "
                        "null values and no class.")
def cross(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
          x: Annotated[str, Query(description="indicator on the horizontal axis",
                                  examples=["demandeurs-pour-100-actifs"])],
          y: Annotated[str, Query(description="indicator on the vertical axis",
                                  examples=["taux-non-recours-c2s"])],
          level: LevelQuery = "iris", vintage: VintageQuery = None,
          within: WithinQuery = None) -> dict[str, Any]:
    return crossing(session, settings, readable_indicator(session, viewer, x),
                    readable_indicator(session, viewer, y), level=check_level(level),
                    vintage=vintage, within=parse_within(within))


@router.get("/{indicator_id}", summary="An indicator's definition")
def get_indicator(indicator_id: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    return indicator_json(readable_indicator(session, viewer, indicator_id))


@router.get("/{indicator_id}/values", summary="An indicator's value for every territory of a level",
            description="Each territory's code, name, value, numerator, denominator and status "
                        "(ok, secret, no_data). Secret cells carry no number.",
            responses={200: {"content": {"application/json": {"example": {
                "indicator": {"id": "demandeurs-pour-100-actifs", "label": "Demandeurs d'emploi pour 100 actifs", "unit": "pour 100 actifs"},
                "level": "iris", "vintage": 2024, "total_count": 2, "results": [
                    {"code": "961720101", "name": "Le Moulin", "status": "ok", "value": 12.4,
                     "numerator": 161.0, "denominator": 1298.0},
                    {"code": "961720102", "name": "Les Vignes", "status": "secret",
                     "value": None, "numerator": None, "denominator": None}]}}}}})
def values(indicator_id: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
           level: LevelQuery = "iris", vintage: VintageQuery = None,
           within: WithinQuery = None) -> dict[str, Any]:
    indicator = readable_indicator(session, viewer, indicator_id)
    return level_values(session, settings, indicator, level=check_level(level), vintage=vintage,
                        within=parse_within(within))


@router.get("/{indicator_id}/classes", summary="Classes of an indicator for a choropleth",
            description="Bounds (classes + 1 numbers; class i holds breaks[i] <= v < "
                        "breaks[i+1]), counts and colours, with each territory's class, rank "
                        "(1: highest) and its parent's value.",
            responses={200: {"content": {"application/json": {"example": {
                "level": "iris", "method": "quantile", "classes": 3, "palette": "viridis",
                "breaks": [2.1, 8.5, 12.0, 31.4], "counts": [110, 112, 111],
                "colors": ["#440154", "#21918c", "#fde725"],
                "statuses": {"ok": 333, "secret": 12, "no_data": 13}}}}}})
def classes(indicator_id: str, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
            level: LevelQuery = "iris", vintage: VintageQuery = None,
            method: Annotated[str, Query(description="quantile, jenks, equal or manual")] = "quantile",
            classes: Annotated[int, Query(description="number of classes, 3 to 9")] = 5,
            breaks: Annotated[str | None, Query(description="manual breaks: the classes - 1 "
                                                            "inner limits, comma-separated",
                                                examples=["5,10,15,20"])] = None,
            palette: Annotated[str, Query(description="viridis, YlGnBu, YlOrRd, Blues, "
                                                      "Purples, Greens, RdBu, PuOr, BrBG")
                               ] = classification.DEFAULT_PALETTE,
            within: WithinQuery = None) -> dict[str, Any]:
    indicator = readable_indicator(session, viewer, indicator_id)
    check_level(level)
    check_method(method)
    check_classes(classes)
    limits = parse_breaks(breaks)
    if method == "manual" and limits is None:
        raise InvalidInput("breaks are needed with method=manual")
    if method != "manual" and limits is not None:
        raise InvalidInput(f"breaks are given only with method=manual, not method={method}")
    return choropleth(session, settings, indicator, level=level, vintage=vintage, method=method,
                      classes=classes, breaks=limits, palette=palette, within=parse_within(within))
