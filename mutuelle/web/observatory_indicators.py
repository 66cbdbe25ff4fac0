"""Indicators on the site: the list, the page of one (its values by level, a static map, the
codes that matched no territory, coverage, how it is computed), and the form that defines or
changes one with a live preview of its values and map.

Everything works without JavaScript: the dataset is chosen with a GET form, the definition
is previewed or saved by the POST form's two buttons. ``indicator-form.js`` then previews as
the fields change (``/observatoire/indicateurs/apercu``, the preview part alone)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    allowed,
    may_define_indicators,
    readable_dataset,
    readable_indicator,
    require,
    visible_datasets,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import (
    Forbidden,
    InvalidField,
    MutuelleError,
    NotFound,
    Unauthenticated,
)
from mutuelle.observatory import compute
from mutuelle.observatory.definitions import (
    Definition,
    Preview,
    create_indicator,
    definition_of,
    indicator_view,
    key_columns,
    may_define,
    number_columns,
    preview,
    remove_indicator,
    update_indicator,
    vintages_with,
)
from mutuelle.observatory.indicators import CODE_LEVELS, POINT_AGGREGATIONS, source_version
from mutuelle.observatory.maps import matching_json, visible_indicators
from mutuelle.observatory.method import method_json
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, client_address
from mutuelle.web.pages import render, see_other, templates

router = APIRouter(include_in_schema=False)
_TOKEN = re.compile(r"[\w.]+|\S")
# The word of an expression an error points at (the rest of the text starting there).
templates.filters["leading_token"] = lambda text: (m.group() if (m := _TOKEN.match(text or ""))
                                                   else (text or "")[:1])

BASE = "/observatoire/indicateurs"
#: The form's fields, as strings.
FORM_FIELDS = ("id", "label", "dataset", "level", "code_column", "points", "numerator",
               "denominator", "filters", "vintage", "unit", "scale", "secrecy", "habitat_only",
               "min_coverage", "theme", "description", "source_note", "access", "organisation",
               "preview_level")
#: Datasets offered in the form's list (the others are reached by ``?dataset=slug``).
DATASETS_OFFERED = 500
#: Territories listed in a preview's or a page's table (the API gives them all).
TABLE_ROWS = 200
#: Codes that matched no territory, listed on a page (the API lists up to a thousand).
UNMATCHED_SHOWN = 200


def install(app: FastAPI) -> None:
    """Register the indicators' pages on ``app``."""
    app.include_router(router)


# --- the form's fields ----------------------------------------------------------------------

def form_values(params: Mapping[str, Any], base: Mapping[str, str] | None = None
                ) -> dict[str, str]:
    """The form's fields from a query string or a posted form; those not sent keep ``base``'s
    (an edit form posted without some field keeps the indicator's)."""
    out = dict(base or {name: "" for name in FORM_FIELDS})
    for name in FORM_FIELDS:
        if name in params:
            out[name] = str(params.get(name) or "").strip()
    if "habitat_only" not in params and base is None:
        out["habitat_only"] = ""
    return out


def values_of(definition: Definition) -> dict[str, str]:
    """A definition's fields as the form writes them."""
    def text(value: Any) -> str:
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    out = {name: text(getattr(definition, name)) for name in FORM_FIELDS
           if hasattr(definition, name)}
    out["secrecy"] = text(definition.secrecy)
    out["habitat_only"] = "1" if definition.habitat_only else ""
    out["preview_level"] = ""
    return out


def _number(values: Mapping[str, str], name: str, kind: type) -> Any:
    text = values.get(name, "").replace(",", ".").replace("\u202f", "").strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidField(name, f"{name} must be a number, not {text!r}") from None


def definition_from(values: Mapping[str, str]) -> Definition:
    """The definition the form's fields describe (a field that is not a number is named)."""
    points = values.get("points") or None
    scale = _number(values, "scale", float)
    return Definition(
        id=values.get("id", ""), label=values.get("label", ""),
        dataset=values.get("dataset", ""), level=values.get("level") or "iris",
        code_column=values.get("code_column", ""), numerator=values.get("numerator", ""),
        denominator=values.get("denominator", ""), filters=values.get("filters", ""),
        points=points, vintage=_number(values, "vintage", int), unit=values.get("unit", ""),
        scale=1.0 if scale is None else scale, secrecy=_number(values, "secrecy", int),
        habitat_only=values.get("habitat_only") in ("1", "on", "true"),
        min_coverage=_number(values, "min_coverage", int), theme=values.get("theme", ""),
        description=values.get("description", ""), source_note=values.get("source_note", ""),
        access=values.get("access") or "public", organisation=values.get("organisation") or None)


def _require_definer(viewer: Viewer) -> None:
    if not viewer.signed_in:
        raise Unauthenticated("sign in to define indicators")
    if not may_define_indicators(viewer):
        raise Forbidden("you are an editor of no organisation: you may not define indicators")


def problem(exc: MutuelleError) -> dict[str, Any]:
    """A refusal as the form shows it: next to its field, at its position in an expression."""
    return {"message": exc.message, "field": getattr(exc, "field", None),
            "position": getattr(exc, "position", None)}


# --- the form -------------------------------------------------------------------------------

def _dataset_choice(session: Session, settings: Settings, viewer: Viewer, slug: str
                    ) -> dict[str, Any]:
    """The chosen dataset, its columns that can key an indicator and those that can be summed."""
    if not slug:
        return {"dataset": None, "keys": [], "numbers": [], "columns": [], "dataset_error": None}
    try:
        dataset = readable_dataset(session, viewer, slug)
        version = source_version(dataset, None)
    except MutuelleError as exc:
        return {"dataset": None, "keys": [], "numbers": [], "columns": [],
                "dataset_error": problem(exc)}
    return {"dataset": dataset, "version": version, "keys": key_columns(settings, version),
            "numbers": number_columns(version), "columns": list(version.schema),
            "dataset_error": None}


def _form_page(request: Request, session: Session, settings: Settings, viewer: Viewer,
               values: dict[str, str], *, indicator: Indicator | None = None,
               found: Preview | None = None, error: dict[str, Any] | None = None,
               status: int = 200) -> HTMLResponse:
    total, datasets = repo.list_datasets(session, visible=visible_datasets(viewer),
                                         limit=DATASETS_OFFERED)
    return render(request, "observatory/indicator_form.html", {
        "values": values, "indicator": indicator, "preview": found, "error": error,
        "datasets": datasets, "datasets_total": total,
        **_dataset_choice(session, settings, viewer, values["dataset"]),
        "levels": CODE_LEVELS, "aggregations": POINT_AGGREGATIONS,
        "vintages": vintages_with(session), "organisations": may_define(session, viewer),
        "default_secrecy": settings.secrecy_threshold,
        "default_coverage": settings.min_coverage,
        "action": f"{BASE}/{indicator.id}/modifier" if indicator else f"{BASE}/nouveau",
        **_preview_context(found)}, status=status)


def _preview_context(found: Preview | None) -> dict[str, Any]:
    if found is None:
        return {"view": None}
    return {"view": view_context(found)}


def view_context(found: Preview) -> dict[str, Any]:
    """What the preview and the indicator's page show of a computation."""
    computed = found.computed
    # territories with something to say first (the others of the vintage have no data)
    results = sorted(found.results,
                     key=lambda r: (r["status"] == compute.NO_DATA, r["name"], r["code"]))
    matching = matching_json(computed, limit=UNMATCHED_SHOWN)
    partial = [r for r in results if r["coverage"] is not None and r["coverage"] < 1]
    return {"preview": found, "results": results[:TABLE_ROWS], "total": len(results),
            "by_code": {r["code"]: r for r in found.results}, "matching": matching,
            "method": method_json(found.indicator, computed, found.vintage_reason),
            "partial": partial, "levels": found.levels, "level": found.level,
            "statuses": {s: sum(1 for r in found.results if r["status"] == s)
                         for s in compute.STATUSES},
            "vintage": computed.referential.vintage}


def _preview_or_problem(session: Session, settings: Settings, viewer: Viewer,
                        values: dict[str, str]) -> tuple[Preview | None, dict[str, Any] | None]:
    try:
        definition = definition_from(values)
        return preview(session, settings, viewer, definition,
                       level=values.get("preview_level") or None), None
    except MutuelleError as exc:
        session.rollback()
        return None, problem(exc)


def _ready(values: Mapping[str, str]) -> bool:
    """Whether the fields say enough to preview (a dataset, a key and what to count)."""
    return bool(values.get("dataset") and values.get("code_column")
                and (values.get("numerator") or values.get("points") == "count"))


@router.get(f"{BASE}", response_class=HTMLResponse)
def indicators_list(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    indicators = visible_indicators(session, viewer)
    return render(request, "observatory/indicators.html", {
        "indicators": indicators, "may_define": may_define_indicators(viewer)})


@router.get(f"{BASE}/nouveau", response_class=HTMLResponse)
def new_form(request: Request, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> Response:
    _require_definer(viewer)
    values = form_values(request.query_params)
    found, error = _preview_or_problem(session, settings, viewer, values) \
        if _ready(values) else (None, None)
    return _form_page(request, session, settings, viewer, values, found=found, error=error)


@router.post(f"{BASE}/nouveau", response_class=HTMLResponse)
async def new_submit(request: Request, session: SessionDep, settings: SettingsDep,
                     viewer: ViewerDep) -> Response:
    _require_definer(viewer)
    form = await request.form()
    values = form_values(form)
    if form.get("action") != "save":
        found, error = _preview_or_problem(session, settings, viewer, values)
        return _form_page(request, session, settings, viewer, values, found=found,
                          error=error, status=422 if error else 200)
    try:
        indicator, _found = create_indicator(session, settings, viewer, definition_from(values),
                                             address=client_address(request))
        session.commit()
    except (Unauthenticated, Forbidden):
        raise
    except MutuelleError as exc:
        session.rollback()
        return _form_page(request, session, settings, viewer, values, error=problem(exc),
                          status=404 if isinstance(exc, NotFound) else 422)
    return see_other(f"{BASE}/{indicator.id}?saved=1")


@router.get(f"{BASE}/apercu", response_class=HTMLResponse)
def preview_part(request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep) -> Response:
    """The preview alone, which ``indicator-form.js`` swaps in as the form changes."""
    _require_definer(viewer)
    values = form_values(request.query_params)
    found, error = _preview_or_problem(session, settings, viewer, values)
    return render(request, "observatory/_indicator_preview.html", {
        "values": values, "error": error, **_preview_context(found)},
        status=422 if error else 200)


# --- one indicator --------------------------------------------------------------------------

@router.get(f"{BASE}/{{indicator_id}}", response_class=HTMLResponse)
def indicator_page(indicator_id: str, request: Request, session: SessionDep,
                   settings: SettingsDep, viewer: ViewerDep) -> Response:
    indicator = readable_indicator(session, viewer, indicator_id)
    level = request.query_params.get("niveau") or None
    found, error = None, None
    try:
        found = indicator_view(session, settings, indicator, level=level)
    except MutuelleError as exc:
        session.rollback()
        error = problem(exc)
    dataset: Dataset | None = indicator.source
    return render(request, "observatory/indicator.html", {
        "indicator": indicator, "dataset": dataset, "error": error,
        "may_edit": allowed(viewer, "edit", indicator),
        "saved": request.query_params.get("saved") == "1",
        **_preview_context(found)}, status=400 if error and level else 200)


def _editable(session: Session, viewer: Viewer, indicator_id: str) -> Indicator:
    indicator = readable_indicator(session, viewer, indicator_id)
    require(viewer, "edit", indicator, what=f"indicator {indicator_id!r}")
    return indicator


@router.get(f"{BASE}/{{indicator_id}}/modifier", response_class=HTMLResponse)
def edit_form(indicator_id: str, request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> Response:
    indicator = _editable(session, viewer, indicator_id)
    values = form_values(request.query_params, values_of(definition_of(session, indicator)))
    found, error = _preview_or_problem(session, settings, viewer, values)
    return _form_page(request, session, settings, viewer, values, indicator=indicator,
                      found=found, error=error)


@router.post(f"{BASE}/{{indicator_id}}/modifier", response_class=HTMLResponse)
async def edit_submit(indicator_id: str, request: Request, session: SessionDep,
                      settings: SettingsDep, viewer: ViewerDep) -> Response:
    indicator = _editable(session, viewer, indicator_id)
    form = await request.form()
    values = form_values(form, values_of(definition_of(session, indicator)))
    if "label" in form and "habitat_only" not in form:
        values["habitat_only"] = ""    # an unticked box is not sent by a full form
    if form.get("action") != "save":
        found, error = _preview_or_problem(session, settings, viewer, values)
        return _form_page(request, session, settings, viewer, values, indicator=indicator,
                          found=found, error=error, status=422 if error else 200)
    try:
        definition = definition_from({**values, "id": indicator_id})
        changes = {name: getattr(definition, name) for name in Definition.__dataclass_fields__
                   if name != "id"}
        update_indicator(session, settings, viewer, indicator_id, changes,
                         address=client_address(request))
        session.commit()
    except (Unauthenticated, Forbidden, NotFound):
        raise
    except MutuelleError as exc:
        session.rollback()
        return _form_page(request, session, settings, viewer, values, indicator=indicator,
                          error=problem(exc), status=422)
    return see_other(f"{BASE}/{indicator_id}?saved=1")


@router.post(f"{BASE}/{{indicator_id}}/supprimer", response_class=HTMLResponse)
def delete_submit(indicator_id: str, request: Request, session: SessionDep,
                  viewer: ViewerDep) -> Response:
    remove_indicator(session, viewer, indicator_id, address=client_address(request))
    session.commit()
    return see_other(f"{BASE}?deleted={indicator_id}")
