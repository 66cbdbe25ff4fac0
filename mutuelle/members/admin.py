"""Administering members: accounts (site administrators), roles in organisations (their
admins), organisations and their look, API keys (their owners). Each action checks rights with
``access.policy`` and is written to the audit log; the CLI acts as the operator."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.access import accounts, audit, keys
from mutuelle.access.policy import Viewer, allowed, may_administer_site, may_create_organisation
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import ApiKey, User
from mutuelle.catalog.models import Organisation
from mutuelle.core.errors import Forbidden, NotFound, Unauthenticated
from mutuelle.members.looks import update_look


def _site_admin(viewer: Viewer) -> None:
    if not viewer.signed_in:
        raise Unauthenticated("sign in as a site administrator")
    if not may_administer_site(viewer):
        raise Forbidden("only site administrators manage accounts")


def create_member(session: Session, viewer: Viewer, *, email: str, display_name: str = "",
                  site_admin: bool = False, address: str = "") -> tuple[User, str | None]:
    """A new account with a one-time password (site administrators)."""
    _site_admin(viewer)
    user, one_time = accounts.create_user(session, email=email, display_name=display_name,
                                          site_admin=site_admin)
    audit.record(session, viewer, "user.create", kind="user", object_id=user.id, address=address,
                 detail={"email": user.email, "site_admin": site_admin})
    return user, one_time


def disable_member(session: Session, viewer: Viewer, user: User, disabled: bool = True, *,
                   address: str = "") -> User:
    """Disable an account, or enable it again (site administrators)."""
    _site_admin(viewer)
    if disabled and user.id == viewer.user_id:
        raise Forbidden("you may not disable your own account")
    accounts.set_disabled(session, user, disabled)
    audit.record(session, viewer, "user.disable" if disabled else "user.enable", kind="user",
                 object_id=user.id, address=address)
    return user


def reset_member_password(session: Session, viewer: Viewer, user: User, *, address: str = "") -> str:
    """A new one-time password for an account (site administrators)."""
    _site_admin(viewer)
    one_time = accounts.reset_password(session, user)
    audit.record(session, viewer, "user.password_reset", kind="user", object_id=user.id, address=address)
    return one_time


def set_member_role(session: Session, viewer: Viewer, org: Organisation, user: User,
                    role: str | None, *, address: str = "") -> None:
    """Give a member a role in an organisation, or remove them (its admins)."""
    if not allowed(viewer, "manage", org):
        if not viewer.signed_in:
            raise Unauthenticated("sign in to manage members")
        raise Forbidden(f"only admins of {org.name} manage its members")
    accounts.set_role(session, user, org, role)
    audit.record(session, viewer, "member.role", kind="organisation", object_id=org.id, address=address,
                 detail={"user": user.email, "role": role})


def create_organisation(session: Session, viewer: Viewer, *, name: str, slug: str | None = None,
                        kind: str = "city", siren: str | None = None, parent: Organisation | None = None,
                        address: str = "", **look: Any) -> Organisation:
    """A new organisation (site administrators; an organisation's admins below it)."""
    if not may_create_organisation(viewer, parent):
        if not viewer.signed_in:
            raise Unauthenticated("sign in to create organisations")
        raise Forbidden("you may not create organisations here")
    org = repo.create_organisation(session, name=name, slug=slug, kind=kind, siren=siren, parent=parent)
    if look:
        update_look(session, org, look)
    audit.record(session, viewer, "organisation.create", kind="organisation", object_id=org.id,
                 address=address, detail={"slug": org.slug, "parent": parent.slug if parent else None})
    return org


def change_organisation(session: Session, viewer: Viewer, org: Organisation, values: dict[str, Any],
                        *, address: str = "") -> Organisation:
    """Change an organisation's name, description, logo or colours (its admins)."""
    if not allowed(viewer, "manage", org):
        if not viewer.signed_in:
            raise Unauthenticated("sign in to change organisations")
        raise Forbidden(f"only admins of {org.name} change it")
    update_look(session, org, values)
    audit.record(session, viewer, "organisation.change", kind="organisation", object_id=org.id,
                 address=address, detail={"fields": sorted(values)})
    return org


def create_own_key(session: Session, viewer: Viewer, *, name: str = "", scope: str = "read",
                   expires_at: datetime | None = None, address: str = "") -> keys.NewKey:
    """A new API key for the signed-in member (not through another key)."""
    user = _own_account(session, viewer)
    made = keys.create_key(session, user, name=name, scope=scope, expires_at=expires_at)
    audit.record(session, viewer, "key.create", kind="api_key", object_id=made.key.id,
                 address=address, detail={"scope": scope})
    return made


def revoke_own_key(session: Session, viewer: Viewer, key_id: str, *, address: str = "") -> ApiKey:
    """Revoke one of one's keys (site administrators: any key)."""
    key = keys.get_key(session, key_id)
    if key.user_id != viewer.user_id and not may_administer_site(viewer):
        raise NotFound(f"no API key {key_id!r}")
    if viewer.key_scope is not None:
        raise Forbidden("keys are managed from a signed-in session, not with a key")
    keys.revoke_key(session, key)
    audit.record(session, viewer, "key.revoke", kind="api_key", object_id=key.id, address=address)
    return key


def _own_account(session: Session, viewer: Viewer) -> User:
    if viewer.user_id is None:
        raise Unauthenticated("sign in to manage your API keys")
    if viewer.key_scope is not None:
        raise Forbidden("keys are managed from a signed-in session, not with a key")
    user = session.get(User, viewer.user_id)
    if user is None:
        raise Unauthenticated("sign in to manage your API keys")
    return user
