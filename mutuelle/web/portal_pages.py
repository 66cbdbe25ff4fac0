"""Member-city portals: ``/o/<slug>`` is an organisation's own portal (its catalogue, its
scenarios, its members below it, with its name, logo and colours), ``/o/<slug>/gestion`` where
its admins manage its members and its look. A host name mapped to an organisation
(``MUTUELLE_PORTAL_HOSTS``) shows that portal at ``/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, select

from mutuelle.access import accounts
from mutuelle.access.policy import allowed, visible_datasets, visible_scenarios
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import ROLES
from mutuelle.catalog.models import Dataset, Organisation
from mutuelle.catalog.observatory_models import Scenario
from mutuelle.core.errors import Forbidden, MutuelleError, Unauthenticated
from mutuelle.federation.portals import look_of, members_of_territory, portal_organisations
from mutuelle.members import admin
from mutuelle.requests import SessionDep, ViewerDep, client_address
from mutuelle.web.pages import FormProblem, gettext_for, is_synthetic, render, see_other

router = APIRouter(include_in_schema=False)
#: Datasets and scenarios listed on a portal's page.
PORTAL_ITEMS = 20


def portal_page(request: Request, session: SessionDep, viewer: ViewerDep, org: Organisation) -> HTMLResponse:
    """The portal of ``org``: what its tree publishes that the viewer may see."""
    ids = portal_organisations(session, org)
    total, datasets = repo.list_datasets(
        session, visible=and_(visible_datasets(viewer), Dataset.organisation_id.in_(ids)),
        limit=PORTAL_ITEMS)
    scenarios = session.scalars(
        select(Scenario).where(visible_scenarios(viewer), Scenario.organisation_id.in_(ids))
        .order_by(Scenario.created_at.desc()).limit(PORTAL_ITEMS)).all()
    return render(request, "portal/portal.html", {
        "org": org, "portal": look_of(org), "datasets": datasets, "dataset_total": total,
        "scenarios": scenarios, "members": members_of_territory(session, org),
        "parent": session.get(Organisation, org.parent_id) if org.parent_id else None,
        "may_manage": allowed(viewer, "manage", org), "is_synthetic": is_synthetic})


@router.get("/o/{slug}", response_class=HTMLResponse)
def portal(slug: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return portal_page(request, session, viewer, repo.get_organisation(session, slug))


def _manage_page(request: Request, session: SessionDep, viewer: ViewerDep, org: Organisation, *,
                 error: str = "", notice: str = "", status: int = 200) -> HTMLResponse:
    if not allowed(viewer, "manage", org):
        if not viewer.signed_in:
            raise Unauthenticated("sign in to manage this organisation")
        raise Forbidden(f"only admins of {org.name} manage it")
    return render(request, "portal/manage.html", {
        "org": org, "portal": look_of(org), "members": accounts.members_of(session, org),
        "roles": ROLES, "error": error, "notice": notice}, status=status)


@router.get("/o/{slug}/gestion", response_class=HTMLResponse)
def manage(slug: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return _manage_page(request, session, viewer, repo.get_organisation(session, slug))


@router.post("/o/{slug}/apparence", response_class=HTMLResponse)
def change_look(slug: str, request: Request, session: SessionDep, viewer: ViewerDep,
                name: Annotated[str, Form(max_length=300)] = "",
                description: Annotated[str, Form(max_length=10_000)] = "",
                logo_url: Annotated[str, Form(max_length=500)] = "",
                primary_colour: Annotated[str, Form(max_length=7)] = "",
                accent_colour: Annotated[str, Form(max_length=7)] = "") -> Response:
    _ = gettext_for(request)
    org = repo.get_organisation(session, slug)
    try:
        admin.change_organisation(session, viewer, org, {
            "name": name, "description": description, "logo_url": logo_url,
            "primary_colour": primary_colour, "accent_colour": accent_colour},
            address=client_address(request))
        session.commit()
    except (Forbidden, Unauthenticated):
        raise
    except MutuelleError as exc:
        session.rollback()
        session.refresh(org)
        return _manage_page(request, session, viewer, org, status=422, error=_look_problem(request, exc))
    return _manage_page(request, session, viewer, org, notice=_("L’apparence du portail a été enregistrée."))


def _look_problem(request: Request, exc: MutuelleError) -> str:
    _ = gettext_for(request)
    if "colour" in exc.message:
        return _("Une couleur s’écrit # suivi de six chiffres hexadécimaux, par exemple #1f5f8b.")
    if "logo_url" in exc.message:
        return _("Le logo doit être une adresse https:// ou un chemin /static/.")
    if "name" in exc.message:
        return _("Donnez un nom à l’organisation.")
    return _("Ces valeurs n’ont pas pu être enregistrées.")


@router.post("/o/{slug}/membres", response_class=HTMLResponse)
def change_member(slug: str, request: Request, session: SessionDep, viewer: ViewerDep,
                  email: Annotated[str, Form(max_length=320)] = "",
                  role: Annotated[str, Form(max_length=20)] = "") -> Response:
    _ = gettext_for(request)
    org = repo.get_organisation(session, slug)
    if role not in (*ROLES, "none"):
        raise FormProblem(_("Choisissez un rôle."))
    try:
        user = accounts.get_user(session, email)
    except MutuelleError:
        return _manage_page(request, session, viewer, org, status=422, error=_(
            "Aucun compte n’a cette adresse : un administrateur du site doit d’abord le créer."))
    admin.set_member_role(session, viewer, org, user, None if role == "none" else role,
                          address=client_address(request))
    session.commit()
    return see_other(f"/o/{org.slug}/gestion")
