"""Territories API: search by name or code ("my neighbourhood"), and one territory with its
parents, its children and its portrait (made by ``observatory.territories``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from mutuelle.core.errors import InvalidInput
from mutuelle.geo import referential
from mutuelle.observatory.scenarios import check_level
from mutuelle.observatory.territories import territory_detail, territory_json
from mutuelle.requests import SessionDep, SettingsDep, ViewerDep

router = APIRouter(prefix="/api/territories", tags=["observatory: territories"])

VintageQuery = Annotated[int | None, Query(examples=[2024], ge=referential.MIN_VINTAGE,
                                           le=referential.MAX_VINTAGE)]


@router.get("", summary="Search territories by name or code",
            description="Every word of q must appear in the name or the code (accents and "
                        "case ignored); an exact code comes first, then larger territories.",
            responses={200: {"content": {"application/json": {"example": {
                "total_count": 1, "results": [{"level": "commune", "code": "96172",
                                               "name": "Val-Sauvage", "vintage": 2024}]}}}}})
def search(session: SessionDep,
           q: Annotated[str, Query(description="words of the name, or a code",
                                   examples=["val sauvage"])] = "",
           level: Annotated[str | None, Query(description="only this level",
                                              examples=["iris"])] = None,
           vintage: VintageQuery = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    if level:
        check_level(level)
    if not q.strip():
        raise InvalidInput("q must hold a name or a code to search for")
    rows = referential.search_territories(session, q, level=level or None, limit=limit,
                                          vintage=vintage)
    return {"total_count": len(rows), "results": [territory_json(t) for t in rows]}


@router.get("/{level}/{code}", summary="A territory: parents, children and portrait",
            description="The portrait gives, per indicator, the territory's value, its "
                        "parent's, the whole territory's and its percentile among the "
                        "published values of its level. Secret values carry no number.")
def get_territory(level: str, code: str, session: SessionDep, settings: SettingsDep,
                  viewer: ViewerDep,
                  vintage: VintageQuery = None
                  ) -> dict[str, Any]:
    check_level(level)
    territory = referential.get_territory(session, level, code, vintage)
    return territory_detail(session, settings, viewer, territory)
