"""Who is asking: the ``Viewer`` of a browser session, an API key or the command line, with
their roles, groups and grants resolved once per request for ``access.policy``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mutuelle.access.accounts import granted_to, groups_of, memberships
from mutuelle.access.keys import key_user
from mutuelle.access.policy import ANONYMOUS, Viewer, organisation_tree, resolve_roles
from mutuelle.access.signin import session_user
from mutuelle.catalog.members_models import User
from mutuelle.core.config import Settings


def viewer_of_user(session: Session, user: User, *, key_scope: str | None = None) -> Viewer:
    """The viewer of a signed-in member (through a session, or a key of the given scope)."""
    roles, member_of = resolve_roles(organisation_tree(session), memberships(session, user.id))
    groups = groups_of(session, user.id)
    return Viewer(
        name=user.display_name, user_id=user.id, email=user.email, site_admin=user.is_admin,
        roles=roles, member_of=member_of, groups=groups,
        granted=granted_to(session, user.id, groups), key_scope=key_scope)


def viewer_of_request(session: Session, settings: Settings, *, session_token: str | None,
                      api_key: str | None) -> tuple[Viewer, str | None]:
    """(viewer, session token digest) of a request. An API key, when sent, is the only
    credential looked at (and a bad one is refused, not ignored); else the session cookie;
    else the anonymous visitor."""
    if api_key:
        user, key = key_user(session, api_key)
        return viewer_of_user(session, user, key_scope=key.scope), None
    if session_token:
        found = session_user(session, settings, session_token)
        if found is not None:
            user, token_hash = found
            return viewer_of_user(session, user), token_hash
    return ANONYMOUS, None
