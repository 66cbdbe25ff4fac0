"""Dashboards and saved charts API: list, create, read, change and delete them.

Bodies are the shapes of ``dashboards.schemas``: a field that does not fit is a 422 naming it
(``blocks.2.kpi.target.date: ...``), and so is one that does not fit the data (a column the
dataset does not have, a filter value of the wrong type, a target date in the past)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from mutuelle.dashboards import boards, charts
from mutuelle.dashboards.schemas import ChartBody, ChartChanges, DashboardBody, DashboardChanges
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, base_url

router = APIRouter(prefix="/api/dashboards", tags=["dashboards"])
charts_router = APIRouter(prefix="/api/charts", tags=["dashboards: charts"])

KPI_EXAMPLE: dict[str, Any] = {
    "label": "Taux d’exécution des dépenses d’investissement", "dataset": "budget-val-sauvage",
    "measure": "ratio", "numerator": "realise", "denominator": "credits_ouverts", "scale": 100,
    "where": 'section = "Investissement" and sens = "Dépense"', "unit": "%", "decimals": 1,
    "period_field": "exercice", "compare": "previous",
    "target": {"value": 80, "date": "2027-12-31", "direction": "up", "tolerance": 5},
}
DASHBOARD_EXAMPLE: dict[str, Any] = {
    "title": "Budget de la ville", "access": "internal", "organisation": "val-sauvage",
    "blocks": [
        {"kind": "kpi", "x": 0, "y": 0, "w": 4, "h": 2, "kpi": KPI_EXAMPLE},
        {"kind": "text", "x": 4, "y": 0, "w": 8, "h": 2,
         "text": "Le **taux d’exécution** rapporte le réalisé aux crédits ouverts."},
    ],
}
CHART_EXAMPLE: dict[str, Any] = {
    "title": "Dépenses réalisées par chapitre", "dataset": "budget-val-sauvage",
    "access": "public",
    "params": {"type": "bar", "x": "libelle_chapitre", "y": "realise", "aggregation": "sum",
               "filters": [{"field": "sens", "op": "=", "value": "Dépense"}], "sort": "-y",
               "limit": 10},
}
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


# --- dashboards -----------------------------------------------------------------------------

@router.get("", summary="The dashboards the caller may open, newest first")
def list_dashboards(request: Request, session: SessionDep, settings: SettingsDep,
                    viewer: ViewerDep,
                    q: Annotated[str | None, Query(max_length=200,
                                                   description="words of the title")] = None,
                    organisation: Annotated[str | None, Query(max_length=100)] = None,
                    limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    total, rows = boards.list_dashboards(session, viewer, q=q, organisation=organisation,
                                         limit=limit, offset=offset)
    base = base_url(request, settings)
    return {"total_count": total,
            "results": [boards.dashboard_json(d, base_url=base) for d in rows]}


@router.post("", status_code=201, summary="Save a new dashboard")
def create_dashboard(request: Request, session: SessionDep, settings: SettingsDep,
                     viewer: ViewerDep,
                     body: Annotated[DashboardBody, Body(openapi_examples={"budget": {
                         "summary": "A KPI with its target and a text",
                         "value": DASHBOARD_EXAMPLE}})]) -> dict[str, Any]:
    dashboard = boards.create_dashboard(session, settings, viewer, body)
    session.commit()
    return boards.dashboard_json(dashboard, base_url=base_url(request, settings))


@router.get("/{dashboard_id}", summary="A dashboard: its blocks, page and embed addresses")
def get_dashboard(dashboard_id: str, request: Request, session: SessionDep,
                  settings: SettingsDep, viewer: ViewerDep) -> dict[str, Any]:
    dashboard = boards.get_dashboard(session, viewer, dashboard_id)
    return boards.dashboard_json(dashboard, base_url=base_url(request, settings))


@router.put("/{dashboard_id}", summary="Change a dashboard (fields left out keep their value)")
def update_dashboard(dashboard_id: str, request: Request, session: SessionDep,
                     settings: SettingsDep, viewer: ViewerDep,
                     body: Annotated[DashboardChanges, Body(openapi_examples={"retitle": {
                         "summary": "A new title, for the organisation's members only",
                         "value": {"title": "Budget 2026", "access": "internal"}}})]
                     ) -> dict[str, Any]:
    dashboard = boards.update_dashboard(session, settings, viewer, dashboard_id,
                                        body.model_dump(exclude_unset=True))
    session.commit()
    return boards.dashboard_json(dashboard, base_url=base_url(request, settings))


@router.delete("/{dashboard_id}", status_code=204, summary="Delete a dashboard")
def delete_dashboard(dashboard_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    boards.delete_dashboard(session, viewer, dashboard_id)
    session.commit()
    return Response(status_code=204)


# --- charts ---------------------------------------------------------------------------------

@charts_router.get("", summary="The saved charts the caller may open, newest first")
def list_charts(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                dataset: Annotated[str | None, Query(max_length=100,
                                                     description="a dataset's slug")] = None,
                q: Annotated[str | None, Query(max_length=200)] = None,
                limit: Limit = 20, offset: Offset = 0) -> dict[str, Any]:
    total, rows = charts.list_charts(session, viewer, dataset=dataset, q=q, limit=limit,
                                     offset=offset)
    base = base_url(request, settings)
    return {"total_count": total, "results": [charts.chart_json(c, base_url=base) for c in rows]}


@charts_router.post("", status_code=201, summary="Save a chart of a dataset")
def create_chart(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                 body: Annotated[ChartBody, Body(openapi_examples={"bars": {
                     "summary": "Spending by chapter, largest first",
                     "value": CHART_EXAMPLE}})]) -> dict[str, Any]:
    chart = charts.create_chart(session, viewer, body)
    session.commit()
    return charts.chart_json(chart, base_url=base_url(request, settings))


@charts_router.get("/{chart_id}", summary="A saved chart: its parameters and Explore query")
def get_chart(chart_id: str, request: Request, session: SessionDep, settings: SettingsDep,
              viewer: ViewerDep) -> dict[str, Any]:
    chart = charts.get_chart(session, viewer, chart_id)
    return charts.chart_json(chart, base_url=base_url(request, settings))


@charts_router.put("/{chart_id}", summary="Change a chart (fields left out keep their value)")
def update_chart(chart_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep,
                 body: Annotated[ChartChanges, Body(openapi_examples={"retitle": {
                     "summary": "A new title", "value": {"title": "Dépenses par chapitre"}}})]
                 ) -> dict[str, Any]:
    chart = charts.update_chart(session, viewer, chart_id, body.model_dump(exclude_unset=True))
    session.commit()
    return charts.chart_json(chart, base_url=base_url(request, settings))


@charts_router.delete("/{chart_id}", status_code=204, summary="Delete a chart")
def delete_chart(chart_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    charts.delete_chart(session, viewer, chart_id)
    session.commit()
    return Response(status_code=204)
