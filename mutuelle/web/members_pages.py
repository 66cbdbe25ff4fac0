"""Pages of the members: signing in and out, one's account (password, API keys, what one
follows and notifications), site administration (accounts, audit log), the review queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from mutuelle.access import accounts, audit, keys, signin
from mutuelle.access.policy import may_administer_site
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import KEY_SCOPES, ROLES, User
from mutuelle.core.clock import now
from mutuelle.core.errors import Forbidden, MutuelleError, Unauthenticated
from mutuelle.discussions import threads
from mutuelle.members import admin, workflow
from mutuelle.requests import (
    SessionDep,
    SettingsDep,
    ViewerDep,
    client_address,
    end_browser_session,
    safe_next,
    start_browser_session,
)
from mutuelle.web.pages import FormProblem, gettext_for, language, render, see_other

router = APIRouter(include_in_schema=False)


# --- signing in and out ---------------------------------------------------------------------

def _login_page(request: Request, *, email: str = "", next_url: str = "", error: str = "",
                status: int = 200) -> HTMLResponse:
    return render(request, "members/login.html",
                  {"email": email, "next": safe_next(next_url), "error": error}, status=status)


@router.get("/connexion", response_class=HTMLResponse)
def login_form(request: Request, viewer: ViewerDep, next: str = "") -> Response:
    if viewer.user_id is not None:
        return see_other(safe_next(next) or "/compte")
    return _login_page(request, next_url=next)


@router.post("/connexion", response_class=HTMLResponse)
def login_submit(request: Request, session: SessionDep, settings: SettingsDep,
                 email: Annotated[str, Form(max_length=320)] = "",
                 password: Annotated[str, Form(max_length=1000)] = "",
                 next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    _ = gettext_for(request)
    address = client_address(request)
    try:
        signed = signin.sign_in(session, settings, email, password, address=address,
                                previous_token=request.cookies.get("mutuelle_session"))
    except signin.SignInThrottled:
        audit.record(session, None, "signin.throttled", actor_label=email[:320], address=address)
        session.commit()
        return _login_page(request, email=email, next_url=next, status=429, error=_(
            "Trop de tentatives de connexion : réessayez dans quelques minutes."))
    except signin.SignInFailed:
        audit.record(session, None, "signin.failed", actor_label=email[:320], address=address)
        session.commit()
        return _login_page(request, email=email, next_url=next, status=401,
                           error=_("Adresse électronique ou mot de passe incorrect."))
    audit.record(session, None, "signin", actor_label=signed.user.email, address=address,
                 kind="user", object_id=signed.user.id)
    session.commit()
    target = "/compte?changer=1" if signed.user.must_change_password else (safe_next(next) or "/")
    response = see_other(target)
    start_browser_session(request, response, signed.token)
    return response


@router.post("/deconnexion")
def logout(request: Request, session: SessionDep) -> Response:
    response = see_other("/")
    end_browser_session(request, response, session)
    return response


# --- one's account --------------------------------------------------------------------------

def _account_page(request: Request, session: SessionDep, viewer: ViewerDep, *, error: str = "",
                  notice: str = "", new_key: str = "", status: int = 200) -> HTMLResponse:
    if viewer.user_id is None:
        raise Unauthenticated("sign in to see your account")
    user = session.get(User, viewer.user_id)
    orgs = {o.id: o for o in repo.list_organisations(session)}
    return render(request, "members/account.html", {
        "user": user, "keys": keys.list_keys(session, user), "scopes": KEY_SCOPES,
        "memberships": [(orgs[o], r) for o, r in accounts.memberships(session, user.id).items() if o in orgs],
        "notifications": threads.notifications(session, viewer),
        "follows": threads.follows(session, viewer), "error": error, "notice": notice,
        "new_key": new_key, "must_change": user.must_change_password if user else False},
        status=status)


@router.get("/compte", response_class=HTMLResponse)
def account(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return _account_page(request, session, viewer)


@router.post("/compte/mot-de-passe", response_class=HTMLResponse)
def change_password(request: Request, session: SessionDep, viewer: ViewerDep,
                    current_password: Annotated[str, Form(max_length=1000)] = "",
                    new_password: Annotated[str, Form(max_length=1000)] = "",
                    confirm_password: Annotated[str, Form(max_length=1000)] = "") -> Response:
    _ = gettext_for(request)
    if viewer.user_id is None:
        raise Unauthenticated("sign in to change your password")
    user = session.get(User, viewer.user_id)
    try:
        if new_password != confirm_password:
            raise FormProblem(_("Les deux nouveaux mots de passe ne sont pas identiques."))
        accounts.change_password(session, user, current_password, new_password,
                                 keep_session=request.state.session_hash)
        audit.record(session, viewer, "user.password_change", kind="user", object_id=user.id,
                     address=client_address(request))
        session.commit()
    except MutuelleError as exc:
        session.rollback()
        message = exc.message if isinstance(exc, FormProblem) else _password_problem(request, exc)
        return _account_page(request, session, viewer, error=message, status=422)
    return _account_page(request, session, viewer, notice=_("Votre mot de passe a été changé."))


def _password_problem(request: Request, exc: MutuelleError) -> str:
    _ = gettext_for(request)
    if "current password" in exc.message:
        return _("Le mot de passe actuel est incorrect.")
    return _("Le nouveau mot de passe doit compter au moins %(n)s caractères.", n=10)


@router.post("/compte/cles", response_class=HTMLResponse)
def create_key(request: Request, session: SessionDep, viewer: ViewerDep,
               name: Annotated[str, Form(max_length=200)] = "",
               scope: Annotated[str, Form(max_length=10)] = "read",
               days: Annotated[str, Form(max_length=5)] = "") -> Response:
    _ = gettext_for(request)
    try:
        if days.strip() and (not days.strip().isdigit() or not 1 <= int(days) <= 3650):
            raise FormProblem(_("La durée de validité est un nombre de jours entre 1 et 3650."))
        if scope not in KEY_SCOPES:
            raise FormProblem(_("Choisissez la portée de la clé : lecture ou écriture."))
        made = admin.create_own_key(session, viewer, name=name, scope=scope,
                                    expires_at=now() + timedelta(days=int(days)) if days.strip() else None,
                                    address=client_address(request))
        session.commit()
    except FormProblem as exc:
        return _account_page(request, session, viewer, error=exc.message, status=422)
    return _account_page(request, session, viewer, new_key=made.secret,
                         notice=_("Clé créée : copiez-la maintenant, elle ne sera plus affichée."))


@router.post("/compte/cles/{key_id}/revoquer", response_class=HTMLResponse)
def revoke_key(key_id: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    admin.revoke_own_key(session, viewer, key_id, address=client_address(request))
    session.commit()
    return see_other("/compte#cles")


@router.post("/compte/notifications/lues")
def notifications_read(session: SessionDep, viewer: ViewerDep) -> Response:
    threads.mark_read(session, viewer)
    session.commit()
    return see_other("/compte#notifications")


# --- site administration --------------------------------------------------------------------

def _require_site_admin(viewer: ViewerDep) -> None:
    if not viewer.signed_in:
        raise Unauthenticated("sign in as a site administrator")
    if not may_administer_site(viewer):
        raise Forbidden("only site administrators may see this page")


def _members_page(request: Request, session: SessionDep, viewer: ViewerDep, *, error: str = "",
                  notice: str = "", status: int = 200) -> HTMLResponse:
    _require_site_admin(viewer)
    orgs = {o.id: o for o in repo.list_organisations(session)}
    members = [(u, [(orgs[o], r) for o, r in accounts.memberships(session, u.id).items() if o in orgs])
               for u in accounts.list_users(session)]
    return render(request, "members/admin_members.html", {
        "members": members, "organisations": list(orgs.values()), "roles": ROLES,
        "error": error, "notice": notice}, status=status)


@router.get("/admin/membres", response_class=HTMLResponse)
def members_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return _members_page(request, session, viewer)


@router.post("/admin/membres", response_class=HTMLResponse)
def members_create(request: Request, session: SessionDep, viewer: ViewerDep,
                   email: Annotated[str, Form(max_length=320)] = "",
                   display_name: Annotated[str, Form(max_length=200)] = "",
                   site_admin: Annotated[str, Form(max_length=5)] = "") -> Response:
    _ = gettext_for(request)
    _require_site_admin(viewer)
    try:
        user, one_time = admin.create_member(session, viewer, email=email, display_name=display_name,
                                             site_admin=bool(site_admin), address=client_address(request))
        session.commit()
    except MutuelleError as exc:
        session.rollback()
        return _members_page(request, session, viewer, status=422, error=_(
            "Le compte n’a pas pu être créé : vérifiez l’adresse électronique (elle doit être "
            "valide et ne pas être déjà utilisée).") if "email" in exc.message else exc.message)
    return _members_page(request, session, viewer, notice=_(
        "Compte %(email)s créé. Mot de passe à usage unique : %(password)s", email=user.email,
        password=one_time))


@router.post("/admin/membres/{user_id}", response_class=HTMLResponse)
def members_change(user_id: str, request: Request, session: SessionDep, viewer: ViewerDep,
                   action: Annotated[str, Form(max_length=20)] = "",
                   organisation: Annotated[str, Form(max_length=100)] = "",
                   role: Annotated[str, Form(max_length=20)] = "") -> Response:
    _ = gettext_for(request)
    _require_site_admin(viewer)
    user = accounts.get_user(session, user_id)
    address = client_address(request)
    notice = ""
    if action in ("disable", "enable"):
        admin.disable_member(session, viewer, user, action == "disable", address=address)
        notice = _("Compte %(email)s mis à jour.", email=user.email)
    elif action == "reset":
        one_time = admin.reset_member_password(session, viewer, user, address=address)
        notice = _("Nouveau mot de passe à usage unique pour %(email)s : %(password)s",
                   email=user.email, password=one_time)
    elif action == "role":
        if role not in (*ROLES, "none"):
            raise FormProblem(_("Choisissez un rôle."))
        admin.set_member_role(session, viewer, repo.get_organisation(session, organisation), user,
                              None if role == "none" else role, address=address)
        notice = _("Compte %(email)s mis à jour.", email=user.email)
    else:
        raise FormProblem(_("Action inconnue."))
    session.commit()
    return _members_page(request, session, viewer, notice=notice)


@router.get("/admin/journal", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, viewer: ViewerDep, action: str = "",
               page: int = 1) -> Response:
    _require_site_admin(viewer)
    page = max(1, min(page, 10_000))
    events = audit.events(session, action=action or None, limit=100, offset=(page - 1) * 100)
    return render(request, "members/audit.html", {"events": events, "action": action, "page": page})


@router.get("/admin/journal.csv")
def audit_export(session: SessionDep, viewer: ViewerDep) -> Response:
    _require_site_admin(viewer)
    audit.record(session, viewer, "audit.export")
    session.commit()
    return StreamingResponse(audit.export_csv(session), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="journal.csv"',
                                      "Cache-Control": "private, no-store"})


# --- review -----------------------------------------------------------------------------------

@router.get("/revue", response_class=HTMLResponse)
def review_page(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    if not viewer.signed_in:
        raise Unauthenticated("sign in to review submissions")
    return render(request, "members/review.html", {"queue": workflow.review_queue(session, viewer),
                                                   "lang_code": language(request)})

