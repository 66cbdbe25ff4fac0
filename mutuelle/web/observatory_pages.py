"""Observatory pages: the map (choropleth, crossing), the scenarios (permalink, embed, copies,
gallery), the territory search and the portrait of a territory.

The map page works without JavaScript: the form is a GET form, the legend and the table of
values are rendered here; ``map.js`` then draws the map and replaces the panel
(``/observatoire/panneau``) as the form changes, without reloading the page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

import duckdb

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer
from mutuelle.api import indicators as indicators_api
from mutuelle.api import territories as territories_api
from mutuelle.api.deps import get_session, get_settings, get_viewer
from mutuelle.api.scenarios import base_url
from mutuelle.catalog.observatory_models import Indicator, Territory
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, MutuelleError, NotFound
from mutuelle.geo import referential, tiles
from mutuelle.observatory import classification, compute
from mutuelle.observatory import scenarios as scenario_service
from mutuelle.web import i18n
from mutuelle.web.observatory_layers import point_layers, proportional_symbols, short_number
from mutuelle.web.pages import render, templates

log = logging.getLogger(__name__)

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]

router = APIRouter(include_in_schema=False)

#: Communes offered in the "limit to" list; beyond, the list is left out (``within=`` still works).
WITHIN_OPTIONS_MAX = 500
#: Scenarios per gallery page.
GALLERY_PAGE_SIZE = 24
#: Territories listed by the search page.
SEARCH_RESULTS = 50
#: Levels in the order the level list shows them.
LEVEL_ORDER = ("iris", "qpv", "commune", "epci", "departement", "region", "territoire")
#: Query parameters of the map page, as strings (the form's fields).
FORM_FIELDS = ("indicator", "indicator2", "level", "vintage", "method", "classes", "breaks",
               "palette", "within", "center", "zoom", "selected", "points", "proportional")
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


# --- the state of the map, from the query string or a scenario ------------------------------

def form_from_query(params: Mapping[str, str]) -> dict[str, str]:
    """The map form's fields as written in the query string (``points`` may be repeated or
    comma-separated)."""
    form = {name: (params.get(name) or "").strip() for name in FORM_FIELDS}
    getlist = getattr(params, "getlist", None)
    points = getlist("points") if getlist else [form["points"]]
    slugs = [p.strip() for value in points for p in str(value).split(",") if p.strip()]
    form["points"] = ",".join(dict.fromkeys(slugs))
    return form


def form_from_state(state: Mapping[str, Any]) -> dict[str, str]:
    """The map form's fields of a saved state."""
    filters = state.get("filters") or {}
    within = next((f"{k}:{v}" for k, v in filters.items()), "")
    center = state.get("center")
    return {
        "indicator": state.get("indicator") or "", "indicator2": state.get("indicator2") or "",
        "level": state.get("level") or "", "vintage": str(state.get("vintage") or ""),
        "method": state.get("method") or "", "classes": str(state.get("classes") or ""),
        "breaks": ";".join(f"{b:g}" for b in state.get("breaks") or []),
        "palette": state.get("palette") or "", "within": within,
        "center": f"{center[0]:.6f},{center[1]:.6f}" if center else "",
        "zoom": f"{state['zoom']:.3f}" if state.get("zoom") is not None else "",
        "selected": state.get("selected") or "",
        "points": ",".join(state.get("points") or []),
        "proportional": "1" if state.get("proportional") else "",
    }


def _int(name: str, text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {text!r}") from None


def _floats(name: str, text: str, count: int) -> list[float] | None:
    if not text:
        return None
    try:
        numbers = [float(p) for p in text.split(",")]
    except ValueError:
        raise InvalidInput(f"{name} must be {count} numbers separated by commas") from None
    if len(numbers) != count:
        raise InvalidInput(f"{name} must be {count} numbers separated by commas")
    return numbers


def state_from_form(session: Session, viewer: Viewer, form: dict[str, str],
                    default_level: str) -> dict[str, Any]:
    """A validated state from the form's fields; ``InvalidInput`` names the bad field."""
    indicators = indicators_api.visible_indicators(session, viewer)
    if not form["indicator"] and indicators:
        form["indicator"] = indicators[0].id
    for key in ("indicator", "indicator2"):
        if form[key]:
            try:
                indicators_api.readable_indicator(session, viewer, form[key])
            except NotFound:
                raise InvalidInput(f"{key}: unknown indicator {form[key]!r}") from None
    form["level"] = form["level"] or default_level
    within = indicators_api.parse_within(form["within"])
    zoom = _floats("zoom", form["zoom"], 1)
    method = form["method"] or "quantile"
    raw = {
        "indicator": form["indicator"], "indicator2": form["indicator2"] or None,
        "level": form["level"], "vintage": _int("vintage", form["vintage"]), "method": method,
        "classes": _int("classes", form["classes"]) or 5,
        # Breaks typed for another method are kept in the form but not used.
        "breaks": (indicators_api.parse_breaks(form["breaks"]) or []) if method == "manual" else [],
        "palette": form["palette"] or classification.DEFAULT_PALETTE,
        "filters": {within[0]: within[1]} if within else {},
        "center": _floats("center", form["center"], 2), "zoom": zoom[0] if zoom else None,
        "selected": form["selected"] or None,
        "points": [p for p in form["points"].split(",") if p],
        "proportional": form["proportional"] in ("1", "on", "true"),
    }
    return scenario_service.validate_state(session, raw)


def _default_level(session: Session, settings: Settings) -> tuple[list[str], str, int | None]:
    """Levels with contours and at least three territories in the default vintage, the one
    shown first, and that vintage."""
    vintages = referential.vintages(session)
    if not vintages:
        return [], "iris", None
    vintage = settings.default_vintage if settings.default_vintage in vintages else vintages[-1]
    drawn = set(referential.levels_available(session, vintage, settings))
    # A choropleth compares territories: a level with fewer than three has nothing to classify.
    counts = dict(session.execute(select(Territory.level, func.count()).where(
        Territory.vintage == vintage).group_by(Territory.level)).all())
    levels = [lv for lv in LEVEL_ORDER
              if lv in drawn and counts.get(lv, 0) >= classification.MIN_CLASSES]
    return levels, ("iris" if "iris" in levels else levels[0] if levels else "iris"), vintage


# --- points layers and proportional symbols ------------------------------------------------

def map_view(session: Session, settings: Settings, viewer: Viewer, state: dict[str, Any], *,
             rows: int | None, offset: int = 0) -> dict[str, Any]:
    """Choropleth (and crossing) of a state, for the panel and for ``map.js``; the
    choropleth's ``results`` are ``rows`` territories by name from ``offset`` (a page of the
    table of values), or all of them when ``rows`` is None."""
    indicator = indicators_api.readable_indicator(session, viewer, state["indicator"])
    filters = state["filters"]
    within = next(iter(filters.items())) if filters else None
    view = indicators_api.choropleth(
        session, settings, indicator, level=state["level"], vintage=state["vintage"],
        method=state["method"], classes=state["classes"], breaks=state["breaks"] or None,
        palette=state["palette"] or classification.DEFAULT_PALETTE, within=within,
        rows=rows, offset=offset)
    out: dict[str, Any] = {"mode": "choropleth", "choropleth": view, "crossing": None}
    if state["indicator2"]:
        second = indicators_api.readable_indicator(session, viewer, state["indicator2"])
        out["crossing"] = indicators_api.crossing(
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


def details_url(state: dict[str, Any] | None) -> str | None:
    """Where ``map.js`` fetches the tooltips' ranks and parents of a state's choropleth."""
    if state is None:
        return None
    fields = form_from_state({**state, "indicator2": None, "center": None, "zoom": None,
                              "selected": None, "points": None, "proportional": False})
    return "/observatoire/details?" + urlencode({k: v for k, v in fields.items() if v})


def _bounds(settings: Settings, vintage: int | None, level: str) -> list[float] | None:
    if vintage is None:
        return None
    try:
        return list(tiles.referential_bounds(settings, vintage, level))
    except MutuelleError:
        return None


def table_page(params: Mapping[str, str]) -> int:
    """The page of the table of values asked for (``page=``, from 1)."""
    text = (params.get("page") or "").strip()
    page = _int("page", text) if text else 1
    if page is None or page < 1:
        raise InvalidInput(f"page must be a whole number from 1, not {text!r}")
    return page


def _pager(view: dict[str, Any] | None, page: int, size: int, link: str, form: dict[str, str]
           ) -> dict[str, Any] | None:
    """Where the table of values is, and the links to its other pages (``link``: the page's
    own address, its state in ``form`` when it has none of its own)."""
    if view is None or view["crossing"] is not None:
        return None
    total = view["choropleth"]["total_count"]
    pages = max(1, -(-total // size))
    page = min(page, pages)
    fields = {k: v for k, v in form.items() if v} if link == "/observatoire" else {}

    def href(n: int) -> str:
        return f"{link}?{urlencode({**fields, 'page': n})}"

    first = (page - 1) * size + 1 if total else 0
    return {"page": page, "pages": pages, "total": total, "first": first,
            "last": min(total, page * size),
            "previous": href(page - 1) if page > 1 else None,
            "next": href(page + 1) if page < pages else None}


def _map_context(session: Session, settings: Settings, viewer: Viewer, form: dict[str, str],
                 *, scenario: Any = None, page: int = 1) -> tuple[dict[str, Any], int]:
    """Everything the map page and its panel need; the status is 400 for a refused state."""
    levels, default_level, default_vintage = _default_level(session, settings)
    indicators = indicators_api.visible_indicators(session, viewer)
    error, state, view, status = "", None, None, 200
    if indicators and levels:
        try:
            state = state_from_form(session, viewer, form, default_level)
            size = settings.table_rows
            view = map_view(session, settings, viewer, state, rows=size, offset=(page - 1) * size)
            if not view["choropleth"]["results"] and page > 1:  # beyond the last page: the last
                page = max(1, -(-view["choropleth"]["total_count"] // size))
                view = map_view(session, settings, viewer, state, rows=size,
                                offset=(page - 1) * size)
        except MutuelleError as exc:
            error, status = exc.message, exc.status_code if exc.status_code < 500 else 400
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
            symbols = proportional_symbols(settings, indicators_api.level_values(
                session, settings, shown, level=c["level"], vintage=c["vintage"],
                within=next(iter(state["filters"].items())) if state["filters"] else None))
        except (MutuelleError, duckdb.Error):  # the map stays usable without the circles
            log.exception("proportional symbols failed")
    config = {
        "tiles": "/tiles/{level}/{z}/{x}/{y}.mvt", "basemap_url": settings.basemap_url or None,
        "panel_url": "/observatoire/panneau", "page_url": "/observatoire",
        "level": level, "vintage": vintage, "bounds": _bounds(settings, vintage, level),
        "parent_level": "commune" if level in ("iris", "qpv") and "commune" in levels else None,
        "state": state, "scenario": scenario.id if scenario is not None else None,
        "point_layers": layers, "points": chosen,
    }
    return {
        "form": form, "state": state, "view": view, "error": error, "levels": levels,
        "indicators": indicators, "themes": themes, "communes": communes,
        "methods": classification.METHODS, "palettes": scenario_service.palettes(),
        "class_range": range(classification.MIN_CLASSES, classification.MAX_CLASSES + 1),
        "config": _json_script(config),
        "data": _json_script({**(compact(view) or {}), "state": state, "symbols": symbols,
                              "details_url": details_url(state) if view else None}),
        "point_layers": layers, "points_chosen": set(chosen), "counts": counts, "symbols": symbols,
        "sum_indicators": {i.id for i in indicators if i.aggregation == "sum"},
        "table_rows": settings.table_rows, "scenario": scenario,
        "pager": _pager(view, page, settings.table_rows,
                        "/observatoire" if scenario is None else f"/s/{scenario.id}", form),
        "state_json": json.dumps(state, ensure_ascii=False) if state else "",
    }, status


# --- map page -------------------------------------------------------------------------------

@router.get("/observatoire", response_class=HTMLResponse)
@router.get("/observatoire/carte", response_class=HTMLResponse)
def map_page(request: Request, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> Response:
    context, status = _map_context(session, settings, viewer,
                                   form_from_query(request.query_params),
                                   page=table_page(request.query_params))
    return render(request, "observatory/map.html", context, status=status)


@router.get("/observatoire/panneau", response_class=HTMLResponse)
def map_panel(request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> Response:
    """The legend, tables and data of one state: what ``map.js`` swaps in as the form changes."""
    context, status = _map_context(session, settings, viewer,
                                   form_from_query(request.query_params),
                                   page=table_page(request.query_params))
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


# --- scenarios ------------------------------------------------------------------------------

def _scenario_or_missing(request: Request, session: Session, viewer: Viewer, scenario_id: str,
                         *, embed: bool = False) -> Any:
    try:
        return scenario_service.get_scenario(session, viewer, scenario_id)
    except NotFound:
        return render(request, "observatory/scenario_missing.html",
                      {"scenario_id": scenario_id, "embed": embed}, status=404)


@router.post("/scenarios", response_class=HTMLResponse)
def save_scenario(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                  title: Annotated[str, Form()] = "", comment: Annotated[str, Form()] = "",
                  access: Annotated[str, Form()] = "public",
                  state: Annotated[str, Form()] = "") -> Response:
    try:
        parsed = json.loads(state) if state.strip() else None
    except json.JSONDecodeError:
        raise InvalidInput("state must be JSON") from None
    scenario = scenario_service.create_scenario(session, viewer, title=title, state=parsed,
                                                comment=comment, access=access)
    session.commit()
    return RedirectResponse(f"/s/{scenario.id}?saved=1", status_code=303)


@router.get("/scenarios", response_class=HTMLResponse)
def gallery(request: Request, session: SessionDep, viewer: ViewerDep, q: str = "",
            page: Annotated[int, Query(ge=1)] = 1) -> Response:
    total, rows = scenario_service.list_scenarios(
        session, viewer, q=q.strip() or None, limit=GALLERY_PAGE_SIZE,
        offset=(page - 1) * GALLERY_PAGE_SIZE)
    labels = {i.id: i.label for i in indicators_api.visible_indicators(session, viewer)}
    return render(request, "observatory/gallery.html", {
        "scenarios": rows, "total": total, "q": q, "page": page,
        "pages": max(1, -(-total // GALLERY_PAGE_SIZE)), "labels": labels,
        "deleted": request.query_params.get("deleted") == "1"})


@router.get("/s/{scenario_id}", response_class=HTMLResponse)
def scenario_page(scenario_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                  viewer: ViewerDep) -> Response:
    scenario = _scenario_or_missing(request, session, viewer, scenario_id)
    if isinstance(scenario, Response):
        return scenario
    context, status = _map_context(session, settings, viewer, form_from_state(scenario.state),
                                   scenario=scenario, page=table_page(request.query_params))
    link = f"{base_url(request, settings)}/s/{scenario.id}"
    context.update({"permalink": link, "embed_html": scenario_service.embed_snippet(
        f"{link}/embed", scenario.title), "saved": request.query_params.get("saved") == "1",
        "source": (session.get(type(scenario), scenario.duplicated_from)
                   if scenario.duplicated_from else None)})
    return render(request, "observatory/map.html", context, status=status)


@router.get("/s/{scenario_id}/embed", response_class=HTMLResponse)
def scenario_embed(scenario_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep) -> Response:
    scenario = _scenario_or_missing(request, session, viewer, scenario_id, embed=True)
    if isinstance(scenario, Response):
        return scenario
    context, status = _map_context(session, settings, viewer,
                                   form_from_state(scenario.state), scenario=scenario)
    context["permalink"] = f"{base_url(request, settings)}/s/{scenario.id}"
    response = render(request, "observatory/embed.html", context, status=status)
    # Made to be framed by other sites.
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response


@router.post("/s/{scenario_id}/duplicate", response_class=HTMLResponse)
def duplicate(scenario_id: str, session: SessionDep, viewer: ViewerDep,
              title: Annotated[str, Form()] = "") -> Response:
    copy = scenario_service.duplicate_scenario(session, viewer, scenario_id, title=title or None)
    session.commit()
    return RedirectResponse(f"/s/{copy.id}?saved=1", status_code=303)


@router.post("/s/{scenario_id}/delete", response_class=HTMLResponse)
def delete(scenario_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    scenario_service.delete_scenario(session, viewer, scenario_id)
    session.commit()
    return RedirectResponse("/scenarios?deleted=1", status_code=303)


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
    data = territories_api.territory_detail(session, settings, viewer, territory)
    return render(request, "observatory/portrait.html", {
        "territory": territory, "detail": data, "data": _json_script(data["portrait"]),
        "compute_ok": compute.OK})


def install(app: FastAPI) -> None:
    """Register the observatory pages on ``app`` (after ``pages.install``)."""
    app.include_router(router)
