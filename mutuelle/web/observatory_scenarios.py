"""Scenario pages: save the map's state, the gallery, the permalink (``/s/{id}``) that
restores the same view, the embed mode, copies and deletion."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, allowed
from mutuelle.catalog.models import Organisation
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.discussions import threads
from mutuelle.members.looks import look_of
from mutuelle.observatory import scenarios as scenario_service
from mutuelle.observatory.maps import visible_indicators
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep, base_url
from mutuelle.core.embeds import embed_snippet
from mutuelle.web.observatory_pages import map_context
from mutuelle.web.observatory_state import form_from_state, table_page, table_sort
from mutuelle.web.pages import render

router = APIRouter(include_in_schema=False)

#: Scenarios per gallery page.
GALLERY_PAGE_SIZE = 24


def install(app: FastAPI) -> None:
    """Register the scenario pages on ``app`` (after ``observatory_pages.install``)."""
    app.include_router(router)


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
    labels = {i.id: i.label for i in visible_indicators(session, viewer)}
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
    context, status = map_context(session, settings, viewer, form_from_state(scenario.state),
                                  scenario=scenario, page=table_page(request.query_params),
                                  sort=table_sort(request.query_params))
    link = f"{base_url(request, settings)}/s/{scenario.id}"
    context.update({"permalink": link, "embed_html": embed_snippet(f"{link}/embed", scenario.title),
        "saved": request.query_params.get("saved") == "1",
        "source": (session.get(type(scenario), scenario.duplicated_from)
                   if scenario.duplicated_from else None),
        "can_delete_scenario": allowed(viewer, "delete", scenario),
        "discussion": threads.section(session, viewer, "scenario", scenario.id)})
    return render(request, "observatory/map.html", context, status=status)


@router.get("/s/{scenario_id}/embed", response_class=HTMLResponse)
def scenario_embed(scenario_id: str, request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep) -> Response:
    scenario = _scenario_or_missing(request, session, viewer, scenario_id, embed=True)
    if isinstance(scenario, Response):
        return scenario
    context, status = map_context(session, settings, viewer,
                                  form_from_state(scenario.state), scenario=scenario)
    owner = session.get(Organisation, scenario.organisation_id) \
        if scenario.organisation_id else None
    context.update({"permalink": f"{base_url(request, settings)}/s/{scenario.id}",
                    "portal": look_of(owner) if owner is not None else None})
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
