"""Indicators API: the catalogue of indicators, their values at any level, their classes for
a choropleth, and two indicators crossed (bivariate classes, scatter pairs, correlation).

The answers are made by ``observatory.maps`` and ``observatory.crossing``, which the map page
draws too. Secret cells carry no number at all: value, numerator and denominator are null.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mutuelle.access.policy import readable_indicator
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.errors import InvalidInput
from mutuelle.observatory import classification
from mutuelle.observatory import indicators as catalogue
from mutuelle.observatory.crossing import crossing
from mutuelle.observatory.maps import (
    choropleth,
    level_values,
    parse_breaks,
    parse_within,
    visible_indicators,
)
from mutuelle.observatory.scenarios import check_classes, check_level, check_method
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep

router = APIRouter(prefix="/api/indicators", tags=["observatory: indicators"])

LevelQuery = Annotated[str, Query(description="iris, commune, epci, departement, region, qpv "
                                              "or territoire", examples=["iris"])]
VintageQuery = Annotated[int | None, Query(description="vintage (millésime) of the referential; "
                                                       "default: the indicator's or the "
                                                       "portal's", examples=[2024])]
WithinQuery = Annotated[str | None, Query(
    description="only the territories inside one larger territory, as level:code "
                "(levels: commune, epci, departement, region)", examples=["commune:96172"])]


def indicator_json(indicator: Indicator) -> dict[str, Any]:
    """An indicator's definition with the links to its values and classes."""
    out = catalogue.describe(indicator)
    base = f"/api/indicators/{indicator.id}"
    out["links"] = {"self": base, "values": f"{base}/values?level=iris",
                    "classes": f"{base}/classes?level=iris&method=quantile&classes=5"}
    return out


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
