"""Dashboards and saved charts on the site: the list of dashboards, a dashboard's page, its
embed and the embed of one of its blocks (a KPI), the editor (blocks added, changed, moved,
resized and removed in the browser, saved through ``/api/dashboards``), and a chart's page,
embed and builder.

Each block is drawn here from the services: a KPI computed live, a chart's rows, an
indicator's or a dataset's static map, a table, sanitised Markdown, a scenario, an indicator's
value. What a block cannot show (a deleted chart, a column gone in a new version, a query that
fails, an object the viewer may not read) is said in the block; the page itself never fails
for it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Annotated, Any

from babel import numbers as babel_numbers
from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import pass_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    allowed,
    may_file_under,
    readable_indicator,
    readable_scenario,
    require,
    visible_datasets,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.dashboard_models import Chart, Dashboard
from mutuelle.catalog.models import Dataset, Organisation
from mutuelle.core.config import Settings
from mutuelle.core.errors import (
    BudgetExceeded,
    Busy,
    Forbidden,
    InvalidField,
    InvalidInput,
    MutuelleError,
    NotFound,
    QueryError,
    Unauthenticated,
)
from mutuelle.dashboards import boards, charts, point_map
from mutuelle.dashboards.columns import MissingColumn
from mutuelle.dashboards.kpi import KpiResult, compute_kpi
from mutuelle.dashboards.schemas import (
    BLOCK_KINDS,
    GRID_COLUMNS,
    KPI_MEASURES,
    Block,
    Kpi,
    parse,
)
from mutuelle.dashboards.sparkline import sparkline
from mutuelle.geo.referential import default_vintage
from mutuelle.members.looks import look_of
from mutuelle.observatory import scenarios as scenario_service
from mutuelle.observatory.definitions import indicator_view
from mutuelle.observatory.maps import visible_indicators
from mutuelle.query.records import Page, records_answer
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, base_url
from mutuelle.web import i18n
from mutuelle.core.embeds import embed_snippet
from mutuelle.web.observatory_indicators import view_context
from mutuelle.web.pages import gettext_for, language, render, see_other, templates

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: Dashboards per page of the list.
LIST_PAGE_SIZE = 24
#: Datasets, charts, scenarios offered in the editor's lists.
EDITOR_CHOICES = 500
#: Height of the embeds' iframes before they tell their own.
EMBED_HEIGHT = {"dashboard": 900, "chart": 480, "block": 260}

Gettext = Callable[..., str]
#: Names of integer columns holding years.
YEAR_NAMES = re.compile(r"(^|_)(an|annee|exercice|year|millesime|vintage)(_|$)", re.IGNORECASE)


def install(app: FastAPI) -> None:
    """Register the dashboards' and the charts' pages on ``app``."""
    app.include_router(router)


# --- formatting -----------------------------------------------------------------------------

def kpi_number(value: float | None, spec: Kpi, lang: str, *, signed: bool = False,
               unit: bool = True) -> str:
    """A KPI's value as its block shows it: grouped digits and ``spec.decimals`` decimals, or
    compact (``1,2 M``), then its unit."""
    if value is None:
        return "—"
    if spec.format == "compact":
        text = babel_numbers.format_compact_decimal(
            value, format_type="short", locale=lang, fraction_digits=spec.decimals or 1)
    else:
        pattern = "#,##0" + ("." + "0" * spec.decimals if spec.decimals else "")
        text = babel_numbers.format_decimal(value, format=pattern, locale=lang)
    if signed and value > 0:
        text = "+" + text
    return f"{text}\u00a0{spec.unit}" if unit and spec.unit else text


templates.filters["kpi_number"] = pass_context(
    lambda ctx, value, spec, signed=False, unit=True: kpi_number(
        value, spec, str(ctx.get("lang") or "fr"), signed=signed, unit=unit))


def rule_text(_: Gettext, result: KpiResult, lang: str) -> str:
    """The status rule of a KPI's target, in words, with its numbers."""
    spec = result.spec
    target = spec.target
    if target is None:
        return ""
    value = kpi_number(target.value, spec, lang)
    day = i18n.format_date(target.date, lang)
    tolerance = i18n.format_number(target.tolerance, lang)
    if target.direction == "up":
        met = _("Atteint quand la valeur est d’au moins %(target)s.", target=value)
        moving = _("progresse")
    else:
        met = _("Atteint quand la valeur est d’au plus %(target)s.", target=value)
        moving = _("baisse")
    return " ".join([met, _(
        "En bonne voie quand l’échéance du %(date)s n’est pas passée et que la valeur est à "
        "moins de %(tolerance)s %% de la cible ou %(moving)s depuis la période de comparaison.",
        date=day, tolerance=tolerance, moving=moving), _("Hors trajectoire sinon.")])


# --- what a block shows ---------------------------------------------------------------------

def _problem(_: Gettext, exc: MutuelleError, what: str) -> dict[str, str]:
    """What a block says instead of its content: a sentence in the page's language, and the
    service's own message (English) as the detail."""
    if isinstance(exc, MissingColumn):
        text = _("La colonne « %(column)s » n’est plus dans la version %(version)s du jeu de "
                 "données : ce bloc ne peut pas être dessiné. Modifiez-le ou choisissez une autre "
                 "colonne.", column=exc.column, version=exc.version or "?")
    elif isinstance(exc, NotFound):
        text = _("%(what)s n’existe plus, ou ne vous est pas accessible.", what=what)
    elif isinstance(exc, Busy):
        text = _("Trop de calculs en cours : rechargez la page dans quelques secondes.")
    elif isinstance(exc, BudgetExceeded):
        text = _("Le calcul de ce bloc dépasse le temps permis : resserrez sa condition.")
    elif isinstance(exc, QueryError):
        text = _("Le calcul de ce bloc a échoué : la clause « %(clause)s » de sa requête ne "
                 "s’applique pas aux données.", clause=exc.clause)
    else:
        text = _("Le calcul de ce bloc a échoué : sa requête ne s’applique pas aux données.")
    return {"text": text, "detail": exc.message}


def _kpi_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
              block: Block) -> dict[str, Any]:
    _ = gettext_for(request)
    assert block.kpi is not None
    result = compute_kpi(session, settings, viewer, block.kpi)
    if result.problem is not None:
        return {"problem": _problem(_, result.problem, _("Le jeu de données de ce chiffre"))}
    return {"kpi": result, "spark": sparkline([p.value for p in result.history]),
            "rule": rule_text(_, result, language(request))}


def _chart_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
                chart_id: str) -> dict[str, Any]:
    _ = gettext_for(request)
    try:
        chart = charts.get_chart(session, viewer, chart_id)
    except NotFound as exc:
        return {"problem": _problem(_, exc, _("Ce graphique"))}
    return chart_view(request, settings, chart)


def chart_view(request: Request, settings: Settings, chart: Chart) -> dict[str, Any]:
    """What a chart's figure needs: its rows, the labels of its columns, the Explore call."""
    _ = gettext_for(request)
    out: dict[str, Any] = {"chart": chart}
    try:
        version = charts.source_version(chart.dataset)
        params = charts.params_of(chart)
        data = charts.chart_data(settings, version, params)
    except MutuelleError as exc:
        out["problem"] = _problem(_, exc, _("Le jeu de données de ce graphique"))
        return out
    fields = {f.name: f for f in version.fields}

    def label(name: str | None) -> str:
        field = fields.get(name or "")
        return (field.label or field.name) if field else (name or "")

    y_label = _("Nombre de lignes") if params.aggregation == "count" or params.y is None \
        else f"{label(params.y)} ({_aggregation_labels(_)[params.aggregation]})"
    if params.type == "histogram":
        y_label = _("Nombre de lignes")
    meta = {"type": params.type, "x": label(params.x), "y": y_label,
            "series": label(params.series) if params.series else None,
            "xType": version.schema.get(params.x), "grain": params.grain, "step": data.step,
            "unit": (fields[params.y].unit if params.y in fields else "") or "",
            "count": _("Nombre de lignes")}
    if params.type == "scatter":
        meta["y"] = label(params.y)
    out.update({"params": params, "rows": data.rows, "meta": meta, "version": version,
                "query_url": data.query.url(chart.dataset, base_url(request, settings))})
    return out


def _aggregation_labels(_: Gettext) -> dict[str, str]:
    return {"count": _("nombre"), "sum": _("somme"), "avg": _("moyenne"), "min": _("minimum"),
            "max": _("maximum")}


def _indicator_map(request: Request, session: Session, settings: Settings, viewer: Viewer,
                   indicator_id: str, level: str | None) -> dict[str, Any]:
    _ = gettext_for(request)
    try:
        indicator = readable_indicator(session, viewer, indicator_id)
        found = indicator_view(session, settings, indicator, level=level)
    except MutuelleError as exc:
        session.rollback()
        return {"problem": _problem(_, exc, _("Cet indicateur"))}
    return {"indicator": indicator, "view": view_context(found)}


def _map_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
              block: Block) -> dict[str, Any]:
    _ = gettext_for(request)
    spec = block.map
    assert spec is not None
    if spec.indicator is not None:
        return _indicator_map(request, session, settings, viewer, spec.indicator, spec.level)
    try:
        dataset, version = boards.source_of(session, viewer, spec.dataset or "")
        drawn = point_map.point_map(settings, version, default_vintage(session, settings))
    except MutuelleError as exc:
        return {"problem": _problem(_, exc, _("Le jeu de données de cette carte"))}
    return {"dataset": dataset, "points": drawn}


def _table_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
                block: Block) -> dict[str, Any]:
    _ = gettext_for(request)
    spec = block.table
    assert spec is not None
    try:
        dataset, version = boards.source_of(session, viewer, spec.dataset)
        params = boards.table_query(spec, version.schema, version=version.number)
        answer = records_answer(settings, version, params, Page("", ""))
    except MutuelleError as exc:
        return {"problem": _problem(_, exc, _("Le jeu de données de ce tableau"))}
    rows = answer["results"]
    labels = {f.name: f.label or f.name for f in version.fields}
    names = list(rows[0]) if rows else [n for n in (spec.columns or version.schema)]
    return {"dataset": dataset, "rows": rows, "total": answer["total_count"],
            "columns": [(n, labels.get(n, n), _is_year(n, version.schema.get(n)))
                        for n in names]}


def _is_year(name: str, kind: str | None) -> bool:
    """Whether a column holds years (written without a thousands separator: 2025, not 2 025)."""
    return kind == "integer" and bool(YEAR_NAMES.search(name))


def _scenario_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
                   scenario_id: str) -> dict[str, Any]:
    _ = gettext_for(request)
    try:
        scenario = readable_scenario(session, viewer, scenario_id)
    except NotFound as exc:
        return {"problem": _problem(_, exc, _("Ce scénario"))}
    state = scenario.state or {}
    part = _indicator_map(request, session, settings, viewer, str(state.get("indicator")),
                          state.get("level"))
    part["scenario"] = scenario
    return part


def _indicator_part(request: Request, session: Session, settings: Settings, viewer: Viewer,
                    block: Block) -> dict[str, Any]:
    _ = gettext_for(request)
    spec = block.indicator
    assert spec is not None
    try:
        indicator = readable_indicator(session, viewer, spec.indicator)
        level = spec.level
        if level is None and spec.territory is None:
            level = "territoire"
        found = indicator_view(session, settings, indicator, level=level, draw=False)
    except MutuelleError as exc:
        session.rollback()
        return {"problem": _problem(_, exc, _("Cet indicateur"))}
    results = found.results
    chosen = next((r for r in results if r["code"] == spec.territory), None) if spec.territory \
        else (results[0] if results else None)
    if chosen is None:
        return {"problem": {"text": _("Ce territoire n’a pas de valeur pour cet indicateur."),
                            "detail": f"no value for territory {spec.territory!r}"}}
    return {"indicator": indicator, "value": chosen, "level": found.level,
            "vintage": found.computed.referential.vintage}


def block_view(request: Request, session: Session, settings: Settings, viewer: Viewer,
               block: Block) -> dict[str, Any]:
    """What one block shows (its ``problem`` when it cannot)."""
    part: dict[str, Any]
    if block.kind == "kpi":
        part = _kpi_part(request, session, settings, viewer, block)
    elif block.kind == "chart":
        part = _chart_part(request, session, settings, viewer, block.chart or "")
    elif block.kind == "map":
        part = _map_part(request, session, settings, viewer, block)
    elif block.kind == "table":
        part = _table_part(request, session, settings, viewer, block)
    elif block.kind == "scenario":
        part = _scenario_part(request, session, settings, viewer, block.scenario or "")
    elif block.kind == "indicator":
        part = _indicator_part(request, session, settings, viewer, block)
    else:
        part = {}
    return {"block": block, "data": block.model_dump(mode="json", exclude_none=True), **part}


def _blocks(request: Request, session: Session, settings: Settings, viewer: Viewer,
            dashboard: Dashboard) -> list[dict[str, Any]]:
    return [block_view(request, session, settings, viewer, b) for b in boards.blocks_of(dashboard)]


# --- dashboards -----------------------------------------------------------------------------

def _missing(request: Request, kind: str, object_id: str, *, embed: bool = False) -> Response:
    template = "dashboards/missing_embed.html" if embed else "dashboards/missing.html"
    response = render(request, template, {"kind": kind, "object_id": object_id, "embed": embed},
                      status=404)
    if embed:
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response


def _dashboard_or_missing(request: Request, session: Session, viewer: Viewer, dashboard_id: str,
                          *, embed: bool = False) -> Dashboard | Response:
    try:
        return boards.get_dashboard(session, viewer, dashboard_id)
    except NotFound:
        return _missing(request, "dashboard", dashboard_id, embed=embed)


def _framed(response: Response) -> Response:
    # Made to be framed by other sites.
    response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response


def _filing_organisations(session: Session, viewer: Viewer) -> list[Organisation]:
    return [o for o in repo.list_organisations(session) if may_file_under(viewer, o)]


@router.get("/dashboards", response_class=HTMLResponse)
def dashboard_list(request: Request, session: SessionDep, viewer: ViewerDep, q: str = "",
                   page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    total, rows = boards.list_dashboards(session, viewer, q=q.strip() or None,
                                         limit=LIST_PAGE_SIZE, offset=(page - 1) * LIST_PAGE_SIZE)
    return render(request, "dashboards/list.html", {
        "dashboards": rows, "total": total, "q": q, "page": page,
        "pages": max(1, -(-total // LIST_PAGE_SIZE)),
        "may_create": viewer.signed_in and bool(_filing_organisations(session, viewer)),
        "deleted": request.query_params.get("deleted") == "1"})


def _new_page(request: Request, session: Session, viewer: Viewer, values: dict[str, str],
              error: str = "", error_lang: str = "", status: int = 200) -> Response:
    if not viewer.signed_in:
        raise Unauthenticated("sign in to create dashboards")
    organisations = _filing_organisations(session, viewer)
    if not organisations:
        raise Forbidden("you are a member of no organisation: you may not create dashboards")
    return render(request, "dashboards/new.html", {
        "organisations": organisations, "values": values, "error": error,
        "error_lang": error_lang}, status=status)


@router.get("/dashboards/nouveau", response_class=HTMLResponse)
def new_dashboard_form(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return _new_page(request, session, viewer, {"access": "internal"})


@router.post("/dashboards/nouveau", response_class=HTMLResponse)
def new_dashboard(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                  title: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                  access: Annotated[str, Form()] = "internal",
                  organisation: Annotated[str, Form()] = "") -> Response:
    values = {"title": title, "description": description, "access": access,
              "organisation": organisation}
    try:
        dashboard = boards.create_dashboard(session, settings, viewer, {
            "title": title, "description": description, "access": access,
            "organisation": organisation or None})
        session.commit()
    except (InvalidField, InvalidInput) as exc:
        session.rollback()
        return _new_page(request, session, viewer, values, exc.message, "en", 422)
    return see_other(f"/dashboards/{dashboard.id}/modifier")


def _page_context(request: Request, settings: Settings, viewer: Viewer,
                  dashboard: Dashboard) -> dict[str, Any]:
    link = f"{base_url(request, settings)}/dashboards/{dashboard.id}"
    kpis = [(b.title or (b.kpi.label if b.kpi else b.id),
             embed_snippet(f"{link}/blocs/{b.id}/embed", b.title or (b.kpi.label if b.kpi else ""),
                           height=EMBED_HEIGHT["block"]))
            for b in boards.blocks_of(dashboard) if b.kind == "kpi"]
    return {"dashboard": dashboard, "permalink": link, "portal": look_of(dashboard.organisation),
            "embed_html": embed_snippet(f"{link}/embed", dashboard.title,
                                        height=EMBED_HEIGHT["dashboard"]),
            "kpi_embeds": kpis,
            "can_edit": allowed(viewer, "edit", dashboard),
            "can_delete": allowed(viewer, "delete", dashboard), "columns": GRID_COLUMNS}


@router.get("/dashboards/{dashboard_id}", response_class=HTMLResponse)
def dashboard_page(dashboard_id: str, request: Request, session: SessionDep,
                   settings: SettingsDep, viewer: ViewerDep) -> Response:
    dashboard = _dashboard_or_missing(request, session, viewer, dashboard_id)
    if isinstance(dashboard, Response):
        return dashboard
    context = _page_context(request, settings, viewer, dashboard)
    context["blocks"] = _blocks(request, session, settings, viewer, dashboard)
    context["saved"] = request.query_params.get("saved") == "1"
    return render(request, "dashboards/page.html", context)


@router.get("/dashboards/{dashboard_id}/embed", response_class=HTMLResponse)
def dashboard_embed(dashboard_id: str, request: Request, session: SessionDep,
                    settings: SettingsDep, viewer: ViewerDep) -> Response:
    dashboard = _dashboard_or_missing(request, session, viewer, dashboard_id, embed=True)
    if isinstance(dashboard, Response):
        return dashboard
    context = _page_context(request, settings, viewer, dashboard)
    context["blocks"] = _blocks(request, session, settings, viewer, dashboard)
    return _framed(render(request, "dashboards/embed.html", context))


@router.get("/dashboards/{dashboard_id}/blocs/{block_id}/embed", response_class=HTMLResponse)
def block_embed(dashboard_id: str, block_id: str, request: Request, session: SessionDep,
                settings: SettingsDep, viewer: ViewerDep) -> Response:
    dashboard = _dashboard_or_missing(request, session, viewer, dashboard_id, embed=True)
    if isinstance(dashboard, Response):
        return dashboard
    block = next((b for b in boards.blocks_of(dashboard) if b.id == block_id), None)
    if block is None:
        return _missing(request, "block", block_id, embed=True)
    context = _page_context(request, settings, viewer, dashboard)
    context["item"] = block_view(request, session, settings, viewer, block)
    return _framed(render(request, "dashboards/block_embed.html", context))


def _editor_choices(session: Session, viewer: Viewer) -> dict[str, Any]:
    datasets = list(session.scalars(select(Dataset).where(
        visible_datasets(viewer), Dataset.status == "published").order_by(Dataset.title)
        .limit(EDITOR_CHOICES)))
    _total, chart_rows = charts.list_charts(session, viewer, limit=EDITOR_CHOICES)
    _count, scenario_rows = scenario_service.list_scenarios(session, viewer, limit=EDITOR_CHOICES)
    return {"datasets": datasets, "charts": chart_rows, "scenarios": scenario_rows,
            "indicators": visible_indicators(session, viewer), "kinds": BLOCK_KINDS,
            "measures": KPI_MEASURES}


@router.get("/dashboards/{dashboard_id}/modifier", response_class=HTMLResponse)
def dashboard_editor(dashboard_id: str, request: Request, session: SessionDep,
                     settings: SettingsDep, viewer: ViewerDep) -> Response:
    dashboard = _dashboard_or_missing(request, session, viewer, dashboard_id)
    if isinstance(dashboard, Response):
        return dashboard
    require(viewer, "edit", dashboard, what=f"dashboard {dashboard_id!r}")
    context = _page_context(request, settings, viewer, dashboard)
    context.update(_editor_choices(session, viewer))
    context["blocks"] = _blocks(request, session, settings, viewer, dashboard)
    context["organisations"] = _filing_organisations(session, viewer)
    return render(request, "dashboards/edit.html", context)


@router.post("/dashboards/{dashboard_id}/supprimer", response_class=HTMLResponse)
def delete_dashboard(dashboard_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    boards.delete_dashboard(session, viewer, dashboard_id)
    session.commit()
    return see_other("/dashboards?deleted=1")


@router.post("/dashboards/blocs/apercu", response_class=HTMLResponse)
async def block_preview(request: Request, session: SessionDep, settings: SettingsDep,
                        viewer: ViewerDep) -> Response:
    """A block drawn before it is added or changed in place (the editor's "Ajouter le bloc",
    "Mettre à jour le bloc"): checked as saving would. With ``dashboard`` (its id), a block
    keeps a KPI target whose date has passed since that dashboard was saved."""
    if not viewer.signed_in:
        raise Unauthenticated("sign in to build dashboards")
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("the body must be a JSON block") from None
    block = body.get("block") if isinstance(body, dict) else None
    before: list[dict[str, Any]] = []
    dashboard_id = body.get("dashboard") if isinstance(body, dict) else None
    if dashboard_id is not None:
        if not isinstance(dashboard_id, str):
            raise InvalidField("dashboard", "dashboard: the id of the dashboard edited, as text")
        dashboard = boards.get_dashboard(session, viewer, dashboard_id)
        require(viewer, "edit", dashboard, what=f"dashboard {dashboard_id!r}")
        before = list(dashboard.blocks or [])
    saved = boards.check_blocks(session, settings, viewer,
                                [parse(Block, block, where="blocks.0")], before=before)
    item = block_view(request, session, settings, viewer, Block.model_validate(saved[0]))
    return render(request, "dashboards/block_preview.html", {"item": item, "editing": True})


# --- charts ---------------------------------------------------------------------------------

def _chart_or_missing(request: Request, session: Session, viewer: Viewer, chart_id: str, *,
                      embed: bool = False) -> Chart | Response:
    try:
        return charts.get_chart(session, viewer, chart_id)
    except NotFound:
        return _missing(request, "chart", chart_id, embed=embed)


def _chart_context(request: Request, settings: Settings, viewer: Viewer,
                   chart: Chart) -> dict[str, Any]:
    link = f"{base_url(request, settings)}/charts/{chart.id}"
    return {"item": chart_view(request, settings, chart), "chart": chart, "permalink": link,
            "portal": look_of(chart.organisation),
            "embed_html": embed_snippet(f"{link}/embed", chart.title,
                                        height=EMBED_HEIGHT["chart"]),
            "can_edit": allowed(viewer, "edit", chart),
            "can_delete": allowed(viewer, "delete", chart)}


@router.get("/charts/{chart_id}", response_class=HTMLResponse)
def chart_page(chart_id: str, request: Request, session: SessionDep, settings: SettingsDep,
               viewer: ViewerDep) -> Response:
    chart = _chart_or_missing(request, session, viewer, chart_id)
    if isinstance(chart, Response):
        return chart
    context = _chart_context(request, settings, viewer, chart)
    context["saved"] = request.query_params.get("saved") == "1"
    return render(request, "charts/page.html", context)


@router.get("/charts/{chart_id}/embed", response_class=HTMLResponse)
def chart_embed(chart_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                viewer: ViewerDep) -> Response:
    chart = _chart_or_missing(request, session, viewer, chart_id, embed=True)
    if isinstance(chart, Response):
        return chart
    return _framed(render(request, "charts/embed.html",
                          _chart_context(request, settings, viewer, chart)))


@router.get("/charts/{chart_id}/modifier", response_class=HTMLResponse)
def chart_editor(chart_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep) -> Response:
    chart = _chart_or_missing(request, session, viewer, chart_id)
    if isinstance(chart, Response):
        return chart
    require(viewer, "edit", chart, what=f"chart {chart_id!r}")
    version = repo.latest_version(chart.dataset)
    return render(request, "charts/edit.html", {
        "chart": chart, "dataset": chart.dataset, "version": version,
        "fields": list(version.fields) if version else []})


@router.post("/charts/{chart_id}/supprimer", response_class=HTMLResponse)
def delete_chart(chart_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    chart = charts.get_chart(session, viewer, chart_id)
    slug = chart.dataset.slug
    charts.delete_chart(session, viewer, chart_id)
    session.commit()
    return see_other(f"/datasets/{slug}")

