"""Observatory pages: the map (choropleth, crossing), the territory search and the portrait of
a territory (the scenarios' pages are in ``observatory_scenarios``, the map's state in
``observatory_state``).

The map page works without JavaScript: the form is a GET form, the legend and the table of
values are rendered here; ``map.js`` then draws the map and replaces the panel
(``/observatoire/panneau``) as the form changes, without reloading the page.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any
from urllib.parse import urlencode

import duckdb
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, readable_indicator
from mutuelle.catalog.observatory_models import Indicator, Territory
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, MutuelleError, NotFound
from mutuelle.geo import referential, tiles
from mutuelle.observatory import classification, compute
from mutuelle.observatory import scenarios as scenario_service
from mutuelle.observatory.crossing import crossing
from mutuelle.observatory.maps import (
    choropleth,
    level_values,
    visible_indicators,
    within_bounds,
)
from mutuelle.observatory.territories import territory_detail
from mutuelle.query.exports import check_decimal
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep
from mutuelle.web import i18n, observatory_indicators
from mutuelle.web.observatory_layers import point_layers, proportional_symbols, short_number
from mutuelle.web.observatory_state import (
    breaks_notes,
    details_url,
    form_from_query,
    state_from_form,
    table_page,
    table_sort,
)
from mutuelle.web.pages import gettext_for, render, templates

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: Communes offered in the "limit to" list; beyond, the list is left out (``within=`` still works).
WITHIN_OPTIONS_MAX = 500
#: Territories listed by the search page.
SEARCH_RESULTS = 50
#: Levels in the order the level list shows them.
LEVEL_ORDER = ("iris", "qpv", "commune", "epci", "departement", "region", "territoire")


def measure(value: float | None, lang: str, digits: int | None = None) -> str:
    """An indicator value for reading: ``12,5`` (two significant decimals at most below 10,
    one below 1000, none above); "—" for none."""
    if value is None:
        return "—"
    if digits is None:
        digits = 0 if abs(value) >= 1000 or float(value).is_integer() else \
            1 if abs(value) >= 10 else 2
    rounded = round(value, digits)
    return i18n.format_number(int(rounded) if digits == 0 else rounded, lang)


templates.filters["measure"] = pass_context(
    lambda ctx, value, digits=None: measure(value, str(ctx.get("lang") or "fr"), digits))


def _json_script(data: Any) -> Markup:
    """JSON to embed in ``<script type="application/json">``: ``<`` escaped so that no
    value can close the script element."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _default_level(session: Session, settings: Settings) -> tuple[list[str], str, int | None]:
    """Levels with contours and at least three territories in the default vintage, the one
    shown first, and that vintage."""
    vintage = referential.default_vintage(session, settings)
    if vintage is None:
        return [], "iris", None
    drawn = set(referential.levels_available(session, vintage, settings))
    # A choropleth compares territories: a level with fewer than three has nothing to classify.
    counts = dict(session.execute(select(Territory.level, func.count()).where(
        Territory.vintage == vintage).group_by(Territory.level)).all())
    levels = [lv for lv in LEVEL_ORDER
              if lv in drawn and counts.get(lv, 0) >= classification.MIN_CLASSES]
    return levels, ("iris" if "iris" in levels else levels[0] if levels else "iris"), vintage


# --- points layers and proportional symbols ------------------------------------------------

def map_view(session: Session, settings: Settings, viewer: Viewer, state: dict[str, Any], *,
             rows: int | None, offset: int = 0, sort: str | None = None) -> dict[str, Any]:
    """Choropleth (and crossing) of a state, for the panel and for ``map.js``; the
    choropleth's ``results`` are ``rows`` territories in the order ``sort`` gives (by name by
    default) from ``offset`` (a page of the table of values), or all of them when ``rows`` is
    None (in the referential's order unless ``sort`` is given)."""
    indicator = readable_indicator(session, viewer, state["indicator"])
    filters = state["filters"]
    within = next(iter(filters.items())) if filters else None
    view = choropleth(
        session, settings, indicator, level=state["level"], vintage=state["vintage"],
        method=state["method"], classes=state["classes"], breaks=state["breaks"] or None,
        palette=state["palette"] or classification.DEFAULT_PALETTE, within=within,
        rows=rows, offset=offset, sort=sort)
    out: dict[str, Any] = {"mode": "choropleth", "choropleth": view, "crossing": None}
    if state["indicator2"]:
        second = readable_indicator(session, viewer, state["indicator2"])
        out["crossing"] = crossing(
            session, settings, indicator, second, level=state["level"],
            vintage=view["vintage"], within=within)
        out["mode"] = "bivariate"
    return out


def compact(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the page gives ``map.js`` to draw a state: the classes of the choropleth (the tiles
    carry each territory's value and status; ranks and parents come after the map is drawn,
    from ``details``) and, for a crossing, every territory's cell, column by column."""
    if view is None:
        return None
    out: dict[str, Any] = {"mode": view["mode"], "crossing": None, "choropleth": {
        k: v for k, v in view["choropleth"].items() if k != "results"}}
    x = view["crossing"]
    if x is not None:
        out["crossing"] = {
            **{k: v for k, v in x.items() if k != "results"},
            "columns": {key: [short_number(i[key]) for i in x["results"]]
                        for key in ("code", "name", "x", "y", "status_x", "status_y", "cell")}}
    return out


def details(view: dict[str, Any]) -> dict[str, Any]:
    """Each territory's name, rank and parent for the map's tooltips, column by column and
    with each parent once: a tenth of the rows' size, which matters with tens of thousands
    of IRIS."""
    c = view["choropleth"]
    parents: dict[str, Any] = {}
    for item in c["results"]:
        p = item["parent"]
        if p is not None and p["code"] not in parents:
            parents[p["code"]] = {k: short_number(p[k]) for k in ("level", "name", "value", "status")}
    results = c["results"]
    return {"level": c["level"], "vintage": c["vintage"], "ranked": c["ranked"],
            "parents": parents, "columns": {
                "code": [i["code"] for i in results], "name": [i["name"] for i in results],
                "rank": [i["rank"] for i in results],
                "parent": [i["parent"]["code"] if i["parent"] else None for i in results]}}


def _bounds(settings: Settings, vintage: int | None, level: str) -> list[float] | None:
    if vintage is None:
        return None
    try:
        return list(tiles.referential_bounds(settings, vintage, level))
    except MutuelleError:
        return None


def _state_fields(form: dict[str, str]) -> dict[str, str]:
    """The fields of the form that make a view's values (not where the map looks)."""
    return {k: v for k, v in form.items()
            if v and k not in ("center", "zoom", "selected", "points", "proportional")}


def _table(view: dict[str, Any] | None, link: str, form: dict[str, str], sort: str
           ) -> dict[str, Any] | None:
    """How the table of values is sorted and downloaded: the address its sort buttons go to
    (``link``, with ``fields`` when the state is not in the address itself) and its CSV."""
    if view is None or view["crossing"] is not None:
        return None
    own = _state_fields(form)
    csv = f"/observatoire/valeurs.csv?{urlencode({**own, 'sort': sort})}"
    return {"link": link, "sort": sort, "csv": csv, "csv_comma": f"{csv}&decimal=comma",
            "fields": {k: v for k, v in form.items() if v} if link == "/observatoire" else {}}


def _pager(view: dict[str, Any] | None, page: int, size: int, table: dict[str, Any] | None
           ) -> dict[str, Any] | None:
    """Where the table of values is, and the links to its other pages (in its order)."""
    if view is None or table is None:
        return None
    total = view["choropleth"]["total_count"]
    pages = max(1, -(-total // size))
    page = min(page, pages)
    order = {"sort": table["sort"]} if table["sort"] != "name" else {}

    def href(n: int) -> str:
        return f"{table['link']}?{urlencode({**table['fields'], **order, 'page': n})}"

    first = (page - 1) * size + 1 if total else 0
    return {"page": page, "pages": pages, "total": total, "first": first,
            "last": min(total, page * size),
            "previous": href(page - 1) if page > 1 else None,
            "next": href(page + 1) if page < pages else None}


def map_context(session: Session, settings: Settings, viewer: Viewer, form: dict[str, str],
                *, scenario: Any = None, page: int = 1, sort: str = "name"
                ) -> tuple[dict[str, Any], int]:
    """Everything the map page and its panel need; the status is 400 for a refused state."""
    levels, default_level, default_vintage = _default_level(session, settings)
    indicators = visible_indicators(session, viewer)
    error, state, view, status = "", None, None, 200
    if indicators and levels:
        try:
            state = state_from_form(session, viewer, form, default_level)
            size = settings.table_rows
            view = map_view(session, settings, viewer, state, rows=size,
                            offset=(page - 1) * size, sort=sort)
            if not view["choropleth"]["results"] and page > 1:  # beyond the last page: the last
                page = max(1, -(-view["choropleth"]["total_count"] // size))
                view = map_view(session, settings, viewer, state, rows=size,
                                offset=(page - 1) * size, sort=sort)
            c = view["choropleth"]
            c["notes"] = breaks_notes(form) + c["notes"]
        except MutuelleError as exc:
            error, status = exc.message, exc.status_code if exc.status_code < 500 else 400
    drawable = view is None or referential.geometry_path(
        settings, view["choropleth"]["vintage"], view["choropleth"]["level"]).exists()
    if not drawable and view is not None:
        # never a map "drawn" over no territory: the table below still gives the values
        c = view["choropleth"]
        error = (f"the referential has no {c['level']} contours for vintage {c['vintage']}: "
                 "no map can be drawn; the table of values below gives them")
    vintage = view["choropleth"]["vintage"] if view else default_vintage
    level = state["level"] if state else form["level"] if form["level"] in levels else default_level
    communes: list[tuple[str, str]] = []
    if vintage is not None:
        count = session.scalar(select(func.count()).select_from(Territory).where(
            Territory.vintage == vintage, Territory.level == "commune")) or 0
        if count <= WITHIN_OPTIONS_MAX:
            communes = [(t.code, t.name) for t in session.scalars(select(Territory).where(
                Territory.vintage == vintage, Territory.level == "commune").order_by(Territory.name))]
    themes: dict[str, list[Indicator]] = {}
    for ind in indicators:
        themes.setdefault(ind.theme or "", []).append(ind)
    layers = point_layers(session, viewer)
    offered = {layer["slug"] for layer in layers}
    chosen = [slug for slug in form["points"].split(",") if slug in offered]
    form["points"] = ",".join(chosen)
    shown = next((i for i in indicators if i.id == (state or {}).get("indicator")), None) \
        or next((i for i in indicators if i.id == form["indicator"]), None)
    counts = shown is not None and shown.aggregation == "sum"
    symbols = None
    if counts and shown is not None and form["proportional"] and view is not None and state:
        try:
            c = view["choropleth"]
            symbols = proportional_symbols(settings, level_values(
                session, settings, shown, level=c["level"], vintage=c["vintage"],
                within=next(iter(state["filters"].items())) if state["filters"] else None))
        except (MutuelleError, duckdb.Error):  # the map stays usable without the circles
            log.exception("proportional symbols failed")
    within = next(iter(state["filters"].items())) if state and state["filters"] else None
    bounds = _bounds(settings, vintage, level)
    if within is not None and vintage is not None:
        bounds = within_bounds(settings, vintage, level, within) or bounds
    config = {
        "tiles": "/tiles/{level}/{z}/{x}/{y}.mvt", "basemap_url": settings.basemap_url or None,
        "panel_url": "/observatoire/panneau", "page_url": "/observatoire",
        "level": level, "vintage": vintage, "bounds": bounds,
        "parent_level": "commune" if level in ("iris", "qpv") and "commune" in levels else None,
        "state": state, "scenario": scenario.id if scenario is not None else None,
        "point_layers": layers, "points": chosen,
    }
    table = _table(view, "/observatoire" if scenario is None else f"/s/{scenario.id}", form, sort)
    return {
        "form": form, "state": state, "view": view, "error": error, "levels": levels,
        "indicators": indicators, "themes": themes, "communes": communes,
        "methods": classification.METHODS, "palettes": scenario_service.palettes(),
        "class_range": range(classification.MIN_CLASSES, classification.MAX_CLASSES + 1),
        "config": _json_script(config),
        "data": _json_script({**((compact(view) or {}) if drawable else {}), "state": state,
                              "symbols": symbols, "bounds": bounds,
                              "details_url": details_url(state) if view and drawable else None}),
        "point_layers": layers, "points_chosen": set(chosen), "counts": counts, "symbols": symbols,
        "sum_indicators": {i.id for i in indicators if i.aggregation == "sum"},
        "table_rows": settings.table_rows, "scenario": scenario, "table": table,
        "pager": _pager(view, page, settings.table_rows, table),
        "state_json": json.dumps(state, ensure_ascii=False) if state else "",
    }, status


# --- map page -------------------------------------------------------------------------------

@router.get("/observatoire", response_class=HTMLResponse)
@router.get("/observatoire/carte", response_class=HTMLResponse)
def map_page(request: Request, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> Response:
    context, status = map_context(session, settings, viewer,
                                  form_from_query(request.query_params),
                                  page=table_page(request.query_params),
                                  sort=table_sort(request.query_params))
    return render(request, "observatory/map.html", context, status=status)


@router.get("/observatoire/panneau", response_class=HTMLResponse)
def map_panel(request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> Response:
    """The legend, tables and data of one state: what ``map.js`` swaps in as the form changes."""
    context, status = map_context(session, settings, viewer,
                                  form_from_query(request.query_params),
                                  page=table_page(request.query_params),
                                  sort=table_sort(request.query_params))
    return render(request, "observatory/_panel.html", context, status=status)


@router.get("/observatoire/details")
def map_details(request: Request, session: SessionDep, settings: SettingsDep,
                viewer: ViewerDep) -> Response:
    """Each territory's name, rank and parent for a state's tooltips (JSON), which ``map.js``
    fetches once the map is drawn. A refused state is a 400 naming the field."""
    form = form_from_query(request.query_params)
    _levels, default_level, _vintage = _default_level(session, settings)
    state = state_from_form(session, viewer, form, default_level)
    view = map_view(session, settings, viewer, {**state, "indicator2": None}, rows=None)
    body = json.dumps(details(view), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(body, media_type="application/json")




def _csv_number(value: float | int | None, comma: bool) -> str:
    if value is None:
        return ""
    text = f"{value:.10g}"
    return text.replace(".", ",") if comma else text


def values_csv(view: dict[str, Any], _: Any, *, comma: bool) -> str:
    """The table of values of a choropleth as CSV text, a spreadsheet's way (``;`` between
    fields, ``_`` the page's gettext for the header and the statuses); a value that is not
    published is an empty cell with its status, never 0."""
    c = view["choropleth"]
    statuses = {"ok": _("publiée"), "secret": _("secret"), "no_data": _("pas de donnée"),
                "partial": _("non diffusée (couverture insuffisante)"),
                "excluded": _("exclu (IRIS hors habitat)")}
    unit = f" ({c['indicator']['unit']})" if c["indicator"]["unit"] else ""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([_("Code"), _("Territoire"), f"{c['indicator']['label']}{unit}", _("Statut"),
                     _("Classe"), _("Rang"), _("Territoire parent"), _("Valeur du parent")])
    for item in c["results"]:
        parent = item["parent"]
        writer.writerow([
            item["code"], item["name"], _csv_number(item["value"], comma),
            statuses.get(item["status"], item["status"]),
            "" if item["class"] is None else item["class"] + 1, item["rank"] or "",
            parent["name"] if parent else "",
            _csv_number(parent["value"], comma) if parent else ""])
    return out.getvalue()


@router.get("/observatoire/valeurs.csv")
def map_values_csv(request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep) -> Response:
    """The table of values of a state as shown (every territory, in the table's order) for a
    spreadsheet: UTF-8 with a BOM, ``;`` between fields, ``decimal=comma`` for French Excel."""
    params = request.query_params
    decimal = check_decimal((params.get("decimal") or "point").strip())
    form = form_from_query(params)
    _levels, default_level, _vintage = _default_level(session, settings)
    state = state_from_form(session, viewer, form, default_level)
    view = map_view(session, settings, viewer, {**state, "indicator2": None}, rows=None,
                    sort=table_sort(params))
    body = "\ufeff" + values_csv(view, gettext_for(request), comma=decimal == "comma")
    name = f"{state['indicator']}-{view['choropleth']['level']}-{view['choropleth']['vintage']}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        # the values a viewer may read: never kept by a shared cache
        "Cache-Control": "private, no-store"})


# --- territories ----------------------------------------------------------------------------

@router.get("/territoires", response_class=HTMLResponse)
def territory_search(request: Request, session: SessionDep, q: str = "",
                     level: str = "") -> Response:
    results: list[Territory] = []
    if level and level not in LEVEL_ORDER:
        raise InvalidInput(f"level must be one of {', '.join(LEVEL_ORDER)}, not {level!r}")
    if q.strip():
        results = referential.search_territories(session, q, level=level or None,
                                                 limit=SEARCH_RESULTS)
    # IRIS names repeat from one commune to the next: each result names its commune.
    wanted = {t.commune for t in results if t.commune and t.level != "commune"}
    communes = {t.code: t.name for t in session.scalars(select(Territory).where(
        Territory.level == "commune", Territory.code.in_(wanted)))} if wanted else {}
    return render(request, "observatory/territories.html", {
        "q": q, "level": level, "results": results, "levels": LEVEL_ORDER,
        "communes": communes})


@router.get("/territoires/{level}/{code}", response_class=HTMLResponse)
def portrait_page(level: str, code: str, request: Request, session: SessionDep,
                  settings: SettingsDep, viewer: ViewerDep) -> Response:
    if level not in LEVEL_ORDER:
        raise NotFound(f"unknown level {level!r}")
    territory = referential.get_territory(session, level, code)
    data = territory_detail(session, settings, viewer, territory)
    return render(request, "observatory/portrait.html", {
        "territory": territory, "detail": data, "crumbs": breadcrumb(data),
        "data": _json_script(data["portrait"]), "compute_ok": compute.OK})


def breadcrumb(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The territories holding a portrait's one, largest first, each name once: a metropolis
    that is both an EPCI and the whole territory is one step, not two, and none repeats the
    territory's own name."""
    seen = {detail["name"]}
    out = []
    for parent in reversed(detail["parents"]):
        if parent["name"] not in seen:
            seen.add(parent["name"])
            out.append(parent)
    return out


def install(app: FastAPI) -> None:
    """Register the observatory pages on ``app`` (after ``pages.install``; the scenarios'
    pages, which show this module's map, are registered by ``observatory_scenarios``), with
    the indicators' pages (``observatory_indicators``)."""
    app.include_router(router)
    observatory_indicators.install(app)
