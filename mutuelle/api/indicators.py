"""Indicators API: the catalogue of indicators, their values at any level, their classes for
a choropleth, and two indicators crossed (bivariate classes, scatter pairs, correlation); and
defining them: ``POST`` (with ``/preview`` to see the values first), ``PATCH``, ``DELETE``.

The answers are made by ``observatory.maps``, ``observatory.crossing`` and
``observatory.definitions``, which the pages call too. Secret cells carry no number at all:
value, numerator and denominator are null. A definition's bodies are typed: an unknown field,
a wrong type or a value that cannot be computed (a column missing, codes of another level, a
vintage without geography...) is a 422 naming the field, and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from mutuelle.access.policy import may_define_indicators, readable_indicator
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import Forbidden, InvalidField, InvalidInput, MutuelleError, Unauthenticated
from mutuelle.geo.referential import MAX_VINTAGE, MIN_VINTAGE
from mutuelle.observatory import classification, compute
from mutuelle.observatory import indicators as catalogue
from mutuelle.observatory.crossing import crossing
from mutuelle.observatory.definitions import (
    Definition,
    create_indicator,
    preview,
    remove_indicator,
    update_indicator,
)
from mutuelle.observatory.maps import (
    choropleth,
    level_values,
    matching_json,
    parse_breaks,
    parse_within,
    visible_indicators,
)
from mutuelle.observatory.method import method_json
from mutuelle.observatory.scenarios import check_classes, check_level, check_method
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, client_address

router = APIRouter(prefix="/api/indicators", tags=["observatory: indicators"])


class _DefinitionRoute(APIRoute):
    """A route whose body errors (unknown field, wrong type) are 422s naming the field, as
    the definition's own refusals are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
                name = ".".join(where) or "body"
                raise InvalidField(name, f"{name}: {first.get('msg', 'invalid')}") from None

        return route


def _write(method: str, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route that changes definitions, with the 422s above."""
    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(path, endpoint, methods=[method], route_class_override=_DefinitionRoute,
                             **options)
        return endpoint
    return register


Slug = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                            examples=["chomage-iris"])]
Expression = Annotated[str, Field(max_length=2000)]
LevelName = Literal["iris", "commune", "epci", "departement", "region", "qpv"]


class _Body(BaseModel):
    """A definition's body: unknown fields are refused, so that a typo is not ignored."""

    model_config = ConfigDict(extra="forbid")


class IndicatorFields(_Body):
    """What every definition may say besides its id, dataset and key."""

    numerator: Expression = Field("", description="ODSQL expression summed over the rows (a "
                                  "column, an arithmetic expression, or a condition counted as "
                                  "1); the field averaged or summed for points (not for a count)",
                                  examples=["tchom * p12_pop"])
    denominator: Expression = Field("", description="ODSQL expression; '' for a sum; may name "
                                    "another dataset: '@population: pop_total'",
                                    examples=["p12_pop"])
    filters: Expression = Field("", description="ODSQL condition on the rows",
                                examples=["typ_iris = 'H'"])
    points: Literal["count", "sum", "mean"] | None = Field(
        None, description="for a point dataset: count the points within each territory, or "
        "sum or average the numerator over them")
    vintage: Annotated[int | None, Field(ge=1900, le=2100)] = Field(
        None, description="vintage (millésime) of the codes; default: the dataset's metadata, "
        "else the referential's vintage they match best")
    unit: Annotated[str, Field(max_length=50)] = ""
    scale: Annotated[float, Field(gt=0, le=1_000_000)] = 1.0
    secrecy: Annotated[int | None, Field(ge=0, le=1_000_000)] = Field(
        None, description="statistical secrecy threshold (default MUTUELLE_SECRECY_THRESHOLD)")
    habitat_only: bool = Field(False, description="only IRIS of habitat (type H); the others "
                               "are shown as excluded")
    min_coverage: Annotated[int | None, Field(ge=0, le=100)] = Field(
        None, description="coverage (%) below which a larger territory's value is withheld "
        "(default MUTUELLE_MIN_COVERAGE)")
    description: Annotated[str, Field(max_length=10_000)] = ""
    theme: Annotated[str, Field(max_length=100)] = ""
    source_note: Annotated[str, Field(max_length=2000)] = ""
    access: Literal["public", "internal", "restricted"] = "public"
    organisation: Annotated[str | None, Field(max_length=100)] = Field(
        None, description="slug of the owning organisation; default: the dataset's")
    version: Annotated[int | None, Field(ge=1)] = Field(
        None, description="a version of the dataset to keep to; default: the newest published "
        "(a new version recomputes the indicator)")


class NewIndicator(IndicatorFields):
    """A new indicator."""

    id: Slug
    label: Annotated[str, Field(min_length=1, max_length=300)]
    dataset: Annotated[str, Field(min_length=1, max_length=100, examples=["iris-lyon-2012"])]
    level: LevelName = Field("iris", description="level of the codes (for points: of the "
                             "territories they are counted in)")
    code_column: Annotated[str, Field(min_length=1, max_length=300, examples=["id"])]


class IndicatorChange(_Body):
    """Fields of an indicator to change (the others are kept)."""

    label: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    dataset: Annotated[str | None, Field(min_length=1, max_length=100)] = None
    level: LevelName | None = None
    code_column: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    numerator: Expression | None = None
    denominator: Expression | None = None
    filters: Expression | None = None
    points: Literal["count", "sum", "mean"] | None = None
    vintage: Annotated[int | None, Field(ge=1900, le=2100)] = None
    unit: Annotated[str | None, Field(max_length=50)] = None
    scale: Annotated[float | None, Field(gt=0, le=1_000_000)] = None
    secrecy: Annotated[int | None, Field(ge=0, le=1_000_000)] = None
    habitat_only: bool | None = None
    min_coverage: Annotated[int | None, Field(ge=0, le=100)] = None
    description: Annotated[str | None, Field(max_length=10_000)] = None
    theme: Annotated[str | None, Field(max_length=100)] = None
    source_note: Annotated[str | None, Field(max_length=2000)] = None
    access: Literal["public", "internal", "restricted"] | None = None
    organisation: Annotated[str | None, Field(max_length=100)] = None
    version: Annotated[int | None, Field(ge=1)] = None


def _definition(body: NewIndicator) -> Definition:
    return Definition(**body.model_dump())

LevelQuery = Annotated[str, Query(description="iris, commune, epci, departement, region, qpv "
                                              "or territoire", examples=["iris"])]
VintageQuery = Annotated[int | None, Query(description="vintage (millésime) of the referential; "
                                                       "default: the indicator's or the "
                                                       "portal's", examples=[2024],
                                           ge=MIN_VINTAGE, le=MAX_VINTAGE)]
WithinQuery = Annotated[str | None, Query(
    description="only the territories inside one larger territory, as level:code "
                "(levels: commune, epci, departement, region)", examples=["commune:96172"])]


def indicator_json(indicator: Indicator, computed: compute.Computed | None = None,
                   vintage_reason: str | None = None) -> dict[str, Any]:
    """An indicator's definition with the links to its values, classes and page; with its
    computation, how it is computed (``computation``) and what did not match (``matching``)."""
    out = catalogue.describe(indicator)
    base = f"/api/indicators/{indicator.id}"
    level = indicator.code_level
    out["organisation"] = indicator.organisation_id
    out["links"] = {"self": base, "values": f"{base}/values?level={level}",
                    "classes": f"{base}/classes?level={level}&method=quantile&classes=5",
                    "page": f"/observatoire/indicateurs/{indicator.id}"}
    if computed is not None:
        out["computation"] = method_json(indicator, computed, vintage_reason)
        out["matching"] = matching_json(computed)
        out["levels"] = list(computed.levels)
    return out


def _computed(session: SessionDep, settings: Settings, indicator: Indicator
              ) -> tuple[compute.Computed | None, str | None]:
    """The indicator's computation, or None with why it cannot be computed now (its dataset
    changed under it: a column gone...)."""
    try:
        return compute.compute_indicator(session, settings, indicator), None
    except MutuelleError as exc:
        return None, exc.message


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


@router.get("/{indicator_id}", summary="An indicator's definition and how it is computed",
            description="The definition, with `computation` (source dataset and version, "
                        "numerator, denominator, filters, aggregation, vintage, secrecy, "
                        "coverage, last computation) and `matching` (codes matching no "
                        "territory, codes followed through the COG's passages, points outside "
                        "every territory); `error` when it cannot be computed now.")
def get_indicator(indicator_id: str, session: SessionDep, settings: SettingsDep,
                  viewer: ViewerDep) -> dict[str, Any]:
    indicator = readable_indicator(session, viewer, indicator_id)
    computed, error = _computed(session, settings, indicator)
    out = indicator_json(indicator, computed)
    if error:
        out["computation"] = method_json(indicator, None)
        out["error"] = error
    return out


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


# --- defining indicators ----------------------------------------------------------------------

_EXAMPLE = {"id": "chomage-iris", "label": "Taux de chômage (recensement 2012)",
            "dataset": "iris-lyon-2012", "level": "iris", "code_column": "id",
            "numerator": "tchom * p12_pop", "denominator": "p12_pop", "unit": "%",
            "vintage": 2012}


def _may_define(viewer: ViewerDep) -> None:
    if not viewer.signed_in:
        raise Unauthenticated("sign in to define indicators")
    if not may_define_indicators(viewer):
        raise Forbidden("you are an editor of no organisation: you may not define indicators")


@_write("POST", "/preview", summary="Preview an indicator's values before defining it",
             description="Checks and computes a definition without saving it: the values at "
                         "`level` (default: the level above the codes), their quantile "
                         "classes, how it is computed and what did not match.",
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "example": _EXAMPLE}}}})
def preview_indicator(body: NewIndicator, session: SessionDep, settings: SettingsDep,
                      viewer: ViewerDep,
                      level: Annotated[str | None, Query(description="level of the values shown",
                                                         examples=["commune"])] = None
                      ) -> dict[str, Any]:
    _may_define(viewer)
    return preview(session, settings, viewer, _definition(body), level=level,
                   draw=False).as_json()


@_write("POST", "", status_code=201, summary="Define an indicator from a dataset",
             description="Its editors' organisation (or the one named) owns it; its readers are "
                         "bounded by its source dataset's. Refused (422, naming the field, "
                         "nothing saved) when it could not be computed.",
             openapi_extra={"requestBody": {"content": {"application/json": {
                 "example": _EXAMPLE}}}})
def create(body: NewIndicator, request: Request, session: SessionDep, settings: SettingsDep,
           viewer: ViewerDep) -> dict[str, Any]:
    indicator, found = create_indicator(session, settings, viewer, _definition(body),
                                        address=client_address(request))
    session.commit()
    return indicator_json(indicator, found.computed, found.vintage_reason)


@_write("PATCH", "/{indicator_id}", summary="Change an indicator's definition",
              description="The fields given replace the indicator's; the whole is checked "
                          "again and recomputed (422 naming the field, nothing saved).")
def change(indicator_id: str, body: IndicatorChange, request: Request, session: SessionDep,
           settings: SettingsDep, viewer: ViewerDep) -> dict[str, Any]:
    indicator, found = update_indicator(session, settings, viewer, indicator_id,
                                        body.model_dump(exclude_unset=True),
                                        address=client_address(request))
    session.commit()
    return indicator_json(indicator, found.computed, found.vintage_reason)


@_write("DELETE", "/{indicator_id}", status_code=204, summary="Delete an indicator",
               description="Its definition only: its dataset is untouched.")
def delete(indicator_id: str, request: Request, session: SessionDep,
           viewer: ViewerDep) -> Response:
    remove_indicator(session, viewer, indicator_id, address=client_address(request))
    session.commit()
    return Response(status_code=204)

