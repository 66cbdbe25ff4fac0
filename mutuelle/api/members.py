"""Members API: who am I, accounts (site administrators), roles in organisations, partner
groups, one's API keys, the audit log, the review queue and dataset access levels."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mutuelle.access import accounts, audit
from mutuelle.access.keys import list_keys
from mutuelle.access.policy import Viewer, dataset_for, may_administer_site, may_see_members
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import ApiKey, AuditEvent, User
from mutuelle.core.errors import Forbidden, Unauthenticated
from mutuelle.core.text import check_text
from mutuelle.members import admin, workflow
from mutuelle.requests import SessionDep, ViewerDep, client_address

router = APIRouter(prefix="/api", tags=["members"])

#: What reads reserved to site administrators declare (the error body is filled in by
#: ``api.openapi``).
SITE_ADMINS: dict[int | str, dict[str, Any]] = {
    403: {"description": "only site administrators may do this"}}


def _line(field: str, max_length: int) -> Any:
    return AfterValidator(lambda v: check_text(v, field, max_length=max_length))


class Body(BaseModel):
    """A request body: unknown fields are refused, so that a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NewUser(Body):
    email: Annotated[str, Field(max_length=320), _line("email", 320)]
    display_name: Annotated[str, Field(max_length=200), _line("display_name", 200)] = ""
    site_admin: bool = False


class UserChange(Body):
    disabled: bool | None = None
    reset_password: bool = False


class RoleChange(Body):
    user: Annotated[str, Field(max_length=320, description="email or id of the account")]
    role: Literal["viewer", "editor", "admin"] | None = Field(
        description="the role in the organisation (and those below it); null removes the member")


class NewGroup(Body):
    name: Annotated[str, Field(min_length=1, max_length=300), _line("name", 300)]
    slug: Annotated[str | None, Field(max_length=100)] = None
    description: Annotated[str, Field(max_length=5000)] = ""


class GroupMembers(Body):
    add: list[Annotated[str, Field(max_length=320)]] = []
    remove: list[Annotated[str, Field(max_length=320)]] = []


class NewKey(Body):
    name: Annotated[str, Field(max_length=200), _line("name", 200)] = ""
    scope: Literal["read", "write"] = "read"
    expires_at: datetime | None = None


class AccessChange(Body):
    access: Literal["public", "internal", "restricted"]
    groups: list[Annotated[str, Field(max_length=100)]] | None = Field(
        None, description="partner groups (slugs) a restricted dataset is granted to")
    users: list[Annotated[str, Field(max_length=320)]] | None = Field(
        None, description="accounts (emails) a restricted dataset is granted to")


def user_json(user: User, session: SessionDep) -> dict[str, Any]:
    """An account as the API shows it (never its password hash)."""
    orgs = {o.id: o.slug for o in repo.list_organisations(session)}
    return {"id": user.id, "email": user.email, "display_name": user.display_name,
            "site_admin": user.is_admin, "disabled": user.disabled,
            "must_change_password": user.must_change_password,
            "roles": {orgs.get(o, o): r for o, r in accounts.memberships(session, user.id).items()},
            "created_at": user.created_at, "last_login_at": user.last_login_at}


def key_json(key: ApiKey) -> dict[str, Any]:
    """An API key as listed (never its secret)."""
    return {"id": key.id, "prefix": key.prefix, "name": key.name, "scope": key.scope,
            "created_at": key.created_at, "expires_at": key.expires_at,
            "revoked_at": key.revoked_at, "last_used_at": key.last_used_at}


def event_json(event: AuditEvent) -> dict[str, Any]:
    """An audit event."""
    return {"id": event.id, "at": event.at, "actor": event.actor_label, "action": event.action,
            "object_kind": event.object_kind, "object_id": event.object_id,
            "address": event.address, "detail": event.detail}


def _require_site_admin(viewer: Viewer) -> None:
    if not viewer.signed_in:
        raise Unauthenticated("sign in, or send an API key, as a site administrator")
    if not may_administer_site(viewer):
        raise Forbidden("only site administrators may do this")


# --- me -----------------------------------------------------------------------------------------

@router.get("/me", summary="Who the request is made as: the account, its roles and its groups")
def me(session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    if viewer.user_id is None:
        return {"signed_in": viewer.operator, "user": None}
    user = session.get(User, viewer.user_id)
    return {"signed_in": True, "user": user_json(user, session) if user else None,
            "key_scope": viewer.key_scope}


@router.get("/me/keys", summary="My API keys (never their secret)")
def my_keys(session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    if viewer.user_id is None:
        raise Unauthenticated("sign in to list your API keys")
    user = session.get(User, viewer.user_id)
    rows = [key_json(k) for k in (list_keys(session, user) if user else [])]
    return {"total_count": len(rows), "results": rows}


@router.post("/me/keys", status_code=201,
             summary="Create an API key (from a signed-in session); its secret is shown once")
def create_key(request: Request, session: SessionDep, viewer: ViewerDep, body: NewKey) -> dict[str, Any]:
    made = admin.create_own_key(session, viewer, name=body.name, scope=body.scope,
                                expires_at=body.expires_at, address=client_address(request))
    session.commit()
    return {**key_json(made.key), "key": made.secret}


@router.delete("/me/keys/{key_id}", status_code=204, summary="Revoke one of my API keys")
def revoke_key(key_id: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    admin.revoke_own_key(session, viewer, key_id, address=client_address(request))
    session.commit()
    return Response(status_code=204)


# --- accounts (site administrators) ----------------------------------------------------------

@router.get("/users", summary="Every account (site administrators)", responses=SITE_ADMINS)
def list_users(session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    _require_site_admin(viewer)
    rows = [user_json(u, session) for u in accounts.list_users(session)]
    return {"total_count": len(rows), "results": rows}


@router.post("/users", status_code=201,
             summary="Create an account; its one-time password is in the answer, once")
def create_user(request: Request, session: SessionDep, viewer: ViewerDep, body: NewUser) -> dict[str, Any]:
    user, one_time = admin.create_member(session, viewer, email=body.email, display_name=body.display_name,
                                         site_admin=body.site_admin, address=client_address(request))
    session.commit()
    return {**user_json(user, session), "one_time_password": one_time}


@router.patch("/users/{user_id}", summary="Disable or enable an account, or reset its password")
def change_user(user_id: str, request: Request, session: SessionDep, viewer: ViewerDep,
                body: UserChange) -> dict[str, Any]:
    _require_site_admin(viewer)
    user = accounts.get_user(session, user_id)
    answer: dict[str, Any] = {}
    if body.disabled is not None:
        admin.disable_member(session, viewer, user, body.disabled, address=client_address(request))
    if body.reset_password:
        answer["one_time_password"] = admin.reset_member_password(
            session, viewer, user, address=client_address(request))
    session.commit()
    return {**user_json(user, session), **answer}


# --- roles and groups -------------------------------------------------------------------------

@router.get("/organisations/{org}/members", summary="Members of an organisation and their roles",
            responses={403: {"description": "only members of the organisation see its members"}})
def organisation_members(org: str, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    organisation = repo.get_organisation(session, org)
    if not may_see_members(viewer, organisation):
        raise Forbidden("only members of the organisation see its members") if viewer.signed_in \
            else Unauthenticated("sign in to see members")
    rows = [{"email": u.email, "display_name": u.display_name, "role": r}
            for u, r in accounts.members_of(session, organisation)]
    return {"total_count": len(rows), "results": rows}


@router.put("/organisations/{org}/members", summary="Give an account a role in an organisation")
def set_member(org: str, request: Request, session: SessionDep, viewer: ViewerDep,
               body: RoleChange) -> dict[str, Any]:
    organisation = repo.get_organisation(session, org)
    admin.set_member_role(session, viewer, organisation, accounts.get_user(session, body.user), body.role,
                          address=client_address(request))
    session.commit()
    return organisation_members(org, session, viewer)


@router.get("/groups", summary="Partner groups (site administrators)", responses=SITE_ADMINS)
def list_groups(session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    _require_site_admin(viewer)
    rows = [{"id": g.id, "slug": g.slug, "name": g.name, "description": g.description}
            for g in accounts.list_groups(session)]
    return {"total_count": len(rows), "results": rows}


@router.post("/groups", status_code=201, summary="Create a partner group (site administrators)")
def create_group(request: Request, session: SessionDep, viewer: ViewerDep, body: NewGroup) -> dict[str, Any]:
    _require_site_admin(viewer)
    group = accounts.create_group(session, name=body.name, slug=body.slug, description=body.description)
    audit.record(session, viewer, "group.create", kind="group", object_id=group.id,
                 address=client_address(request))
    session.commit()
    return {"id": group.id, "slug": group.slug, "name": group.name, "description": group.description}


@router.post("/groups/{slug}/members", summary="Add accounts to a group, or remove them")
def group_members(slug: str, request: Request, session: SessionDep, viewer: ViewerDep,
                  body: GroupMembers) -> dict[str, Any]:
    _require_site_admin(viewer)
    group = accounts.get_group(session, slug)
    for email in body.add:
        accounts.add_to_group(session, group, accounts.get_user(session, email))
    for email in body.remove:
        accounts.remove_from_group(session, group, accounts.get_user(session, email))
    audit.record(session, viewer, "group.members", kind="group", object_id=group.id,
                 address=client_address(request), detail={"add": body.add, "remove": body.remove})
    session.commit()
    return {"slug": group.slug, "added": body.add, "removed": body.remove}


# --- publishing and access ------------------------------------------------------------------

@router.get("/review", summary="Submitted datasets the caller may publish")
def review(session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    if not viewer.signed_in:
        raise Unauthenticated("sign in to see the review queue")
    rows = [{"id": d.id, "slug": d.slug, "title": d.title, "organisation": d.organisation.slug,
             "submitted_at": d.submitted_at} for d in workflow.review_queue(session, viewer)]
    return {"total_count": len(rows), "results": rows}


@router.post("/datasets/{key}/submit", summary="Submit a draft dataset for review (editors)")
def submit(key: str, request: Request, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "read", key)
    workflow.submit_dataset(session, viewer, dataset, address=client_address(request))
    session.commit()
    return {"id": dataset.id, "slug": dataset.slug, "status": dataset.status}


@router.post("/datasets/{key}/unpublish", summary="Send a dataset back to draft (organisation admins)")
def unpublish(key: str, request: Request, session: SessionDep, viewer: ViewerDep) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "read", key)
    workflow.send_back(session, viewer, dataset, address=client_address(request))
    session.commit()
    return {"id": dataset.id, "slug": dataset.slug, "status": dataset.status}


@router.put("/datasets/{key}/access",
            summary="Change a dataset's access level and, when restricted, whom it is granted to")
def change_access(key: str, request: Request, session: SessionDep, viewer: ViewerDep,
                  body: AccessChange) -> dict[str, Any]:
    dataset = dataset_for(session, viewer, "read", key)
    groups = [accounts.get_group(session, g) for g in body.groups] if body.groups is not None else None
    users = [accounts.get_user(session, u) for u in body.users] if body.users is not None else None
    workflow.set_access(session, viewer, dataset, body.access, groups=groups, users=users,
                        address=client_address(request))
    session.commit()
    grants = accounts.grants_on(session, "dataset", dataset.id)
    return {"id": dataset.id, "access": dataset.access,
            "grants": [{"kind": k, "id": i} for k, i in grants]}


# --- the audit log ----------------------------------------------------------------------------

@router.get("/audit", summary="The audit log, newest first (site administrators)",
            responses=SITE_ADMINS)
def audit_log(session: SessionDep, viewer: ViewerDep,
              action: Annotated[str | None, Query(max_length=50)] = None,
              kind: Annotated[str | None, Query(max_length=20)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> dict[str, Any]:
    _require_site_admin(viewer)
    rows = [event_json(e) for e in audit.events(session, action=action, kind=kind, limit=limit, offset=offset)]
    return {"results": rows}


@router.get("/audit.csv", summary="The whole audit log as CSV (site administrators)",
            response_class=StreamingResponse, responses=SITE_ADMINS)
def audit_csv(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    _require_site_admin(viewer)
    audit.record(session, viewer, "audit.export", address=client_address(request))
    session.commit()
    return StreamingResponse(audit.export_csv(session), media_type="text/csv; charset=utf-8",
                             headers={"Cache-Control": "private, no-store"})
