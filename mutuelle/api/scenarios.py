"""Scenarios API: saved map views, their permalinks, embed snippets, copies and the gallery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from mutuelle.core.errors import InvalidInput
from mutuelle.observatory import scenarios as service
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, base_url

router = APIRouter(prefix="/api/scenarios", tags=["observatory: scenarios"])

STATE_EXAMPLE: dict[str, Any] = {
    "indicator": "demandeurs-pour-100-actifs", "indicator2": "taux-non-recours-c2s", "level": "iris", "vintage": 2024,
    "method": "quantile", "classes": 5, "breaks": [], "palette": "viridis",
    "filters": {"commune": "96172"}, "center": [4.62, 45.29], "zoom": 11.2, "selected": None,
}
SCENARIO_EXAMPLE: dict[str, Any] = {
    "title": "Chômage et C2S par IRIS", "comment": "Les IRIS du nord cumulent les deux.",
    "access": "public", "state": STATE_EXAMPLE,
}


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


@router.get("", summary="The scenario gallery (public ones; internal ones for professionals)")
def list_scenarios(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                   q: Annotated[str | None, Query(description="words of the title or comment")] = None,
                   indicator: Annotated[str | None, Query(description="an indicator id")] = None,
                   limit: Annotated[int, Query(ge=1, le=100)] = 20,
                   offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict[str, Any]:
    total, rows = service.list_scenarios(session, viewer, q=q, indicator=indicator,
                                         limit=limit, offset=offset)
    base = base_url(request, settings)
    return {"total_count": total, "results": [service.scenario_json(s, base_url=base) for s in rows]}


@router.post("", status_code=201, summary="Save a map view as a scenario")
def create_scenario(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                    body: Annotated[Any, Body(openapi_examples={
                        "bivariate": {"summary": "Two indicators crossed by IRIS",
                                      "value": SCENARIO_EXAMPLE}})]) -> dict[str, Any]:
    body = _body(body)
    scenario = service.create_scenario(
        session, viewer, title=body.get("title"), state=body.get("state"),
        comment=body.get("comment", ""), access=body.get("access", "public"),
        organisation=body.get("organisation"))
    session.commit()
    return service.scenario_json(scenario, base_url=base_url(request, settings))


@router.get("/{scenario_id}", summary="A scenario: its state, permalink and embed snippet")
def get_scenario(scenario_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep) -> dict[str, Any]:
    scenario = service.get_scenario(session, viewer, scenario_id)
    return service.scenario_json(scenario, base_url=base_url(request, settings))


@router.put("/{scenario_id}", summary="Change a scenario (title, comment, access, state)")
def update_scenario(scenario_id: str, request: Request, session: SessionDep,
                    settings: SettingsDep, viewer: ViewerDep,
                    body: Annotated[Any, Body(openapi_examples={"retitle": {
                        "summary": "A new title, for professionals only",
                        "value": {"title": "Chômage par IRIS", "access": "internal"}}})]
                    ) -> dict[str, Any]:
    scenario = service.update_scenario(session, viewer, scenario_id, _body(body))
    session.commit()
    return service.scenario_json(scenario, base_url=base_url(request, settings))


@router.delete("/{scenario_id}", status_code=204, summary="Delete a scenario")
def delete_scenario(scenario_id: str, session: SessionDep, viewer: ViewerDep) -> Response:
    service.delete_scenario(session, viewer, scenario_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{scenario_id}/duplicate", status_code=201,
             summary="Copy a scenario under a new id (to change it without touching the original)")
def duplicate_scenario(scenario_id: str, request: Request, session: SessionDep,
                       settings: SettingsDep, viewer: ViewerDep,
                       body: Annotated[Any, Body(openapi_examples={"titled": {
                           "summary": "The copy's title", "value": {"title": "Ma variante"}}})] = None
                       ) -> dict[str, Any]:
    title = _body(body).get("title") if body is not None else None
    copy = service.duplicate_scenario(session, viewer, scenario_id, title=title)
    session.commit()
    return service.scenario_json(copy, base_url=base_url(request, settings))
