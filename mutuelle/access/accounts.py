"""Members: user accounts, their roles in organisations, partner groups and grants of
restricted objects. The CLI, the API and the admin pages all go through these functions;
who may call them is decided by ``access.policy``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from mutuelle.access.secrets import MIN_PASSWORD_LENGTH, check_password, hash_password, new_password
from mutuelle.catalog.members_models import (
    GRANTABLE_KINDS,
    ROLES,
    Grant,
    GroupMember,
    LoginSession,
    Membership,
    PartnerGroup,
    User,
)
from mutuelle.catalog.models import Organisation
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.core.ids import is_slug, slugify
from mutuelle.core.text import check_text

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_EMAIL = 320
MAX_NAME = 200
#: The first administrator created on an empty catalogue by ``make run``.
FIRST_ADMIN_EMAIL = "admin@mutuelle.localhost"


def normalise_email(email: object) -> str:
    """An email address, trimmed and in lower case, else InvalidInput."""
    text = check_text(email, "email", max_length=MAX_EMAIL, required=True).strip().lower()
    if not _EMAIL.match(text):
        raise InvalidInput(f"email: {text!r} is not an email address")
    return text


def check_new_password(password: object) -> str:
    """A password long enough to be accepted."""
    text = check_text(password, "password", max_length=1000)
    if len(text) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    return text


# --- users ----------------------------------------------------------------------------------

def create_user(session: Session, *, email: str, display_name: str = "",
                password: str | None = None, site_admin: bool = False) -> tuple[User, str | None]:
    """A new member; without a password, a one-time password is made and returned (to be
    changed at first sign-in)."""
    address = normalise_email(email)
    name = check_text(display_name or address.split("@")[0], "display_name", max_length=MAX_NAME)
    if session.scalar(select(User.id).where(User.email == address)):
        raise InvalidInput(f"email: an account {address!r} already exists")
    one_time = None
    if password is None:
        one_time = new_password()
    user = User(email=address, display_name=name, is_admin=site_admin,
                password_hash=hash_password(one_time or check_new_password(password)),
                must_change_password=one_time is not None)
    session.add(user)
    session.flush()
    return user, one_time


def get_user(session: Session, key: str) -> User:
    """The user with this email or id."""
    user = session.scalar(select(User).where(or_(User.email == key.strip().lower(), User.id == key)))
    if user is None:
        raise NotFound(f"no user {key!r}")
    return user


def list_users(session: Session) -> Sequence[User]:
    """Every member, by email."""
    return session.scalars(select(User).order_by(User.email)).all()


def count_users(session: Session) -> int:
    """How many accounts exist."""
    return session.scalar(select(func.count()).select_from(User)) or 0


def set_disabled(session: Session, user: User, disabled: bool) -> User:
    """Disable (or enable again) an account; a disabled account's sessions end at once."""
    user.disabled = disabled
    if disabled:
        end_sessions(session, user)
    session.flush()
    return user


def set_site_admin(session: Session, user: User, admin: bool) -> User:
    """Make a member a site administrator, or no longer one."""
    user.is_admin = admin
    session.flush()
    return user


def reset_password(session: Session, user: User) -> str:
    """A new one-time password for ``user`` (by an administrator); their sessions end."""
    one_time = new_password()
    user.password_hash = hash_password(one_time)
    user.must_change_password = True
    end_sessions(session, user)
    session.flush()
    return one_time


def change_password(session: Session, user: User, old: str, new: str, *,
                    keep_session: str | None = None) -> None:
    """Change one's own password; other sessions end (``keep_session``: the token hash of the
    session making the change)."""
    if not check_password(user.password_hash, old):
        raise InvalidInput("current_password: the current password is wrong")
    user.password_hash = hash_password(check_new_password(new))
    user.must_change_password = False
    end_sessions(session, user, keep=keep_session)
    session.flush()


def end_sessions(session: Session, user: User, *, keep: str | None = None) -> None:
    """Sign a user out everywhere (but the session ``keep``)."""
    query = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        query = query.where(LoginSession.token_hash != keep)
    session.execute(query)


def ensure_first_admin(session: Session) -> str | None:
    """On a catalogue without any account, create the first site administrator and return its
    one-time password (None when accounts already exist). There is no default password."""
    if count_users(session):
        return None
    _user, one_time = create_user(session, email=FIRST_ADMIN_EMAIL, display_name="Administrateur",
                                  site_admin=True)
    return one_time


# --- roles ----------------------------------------------------------------------------------

def set_role(session: Session, user: User, organisation: Organisation, role: str | None) -> None:
    """Give ``user`` a role in ``organisation`` (None removes them from it)."""
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    current = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.organisation_id == organisation.id))
    if role is None:
        if current is not None:
            session.delete(current)
    elif current is None:
        session.add(Membership(user_id=user.id, organisation_id=organisation.id, role=role))
    else:
        current.role = role
    session.flush()


def memberships(session: Session, user_id: str) -> dict[str, str]:
    """organisation id -> role, for one user's direct memberships."""
    return {org: role for org, role in session.execute(
        select(Membership.organisation_id, Membership.role).where(Membership.user_id == user_id))}


def members_of(session: Session, organisation: Organisation) -> list[tuple[User, str]]:
    """The members of an organisation and their roles, by email."""
    rows = session.execute(
        select(User, Membership.role).join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation.id).order_by(User.email))
    return [(user, role) for user, role in rows]


# --- partner groups and grants ----------------------------------------------------------------

def create_group(session: Session, *, name: str, slug: str | None = None,
                 organisation: Organisation | None = None, description: str = "") -> PartnerGroup:
    """A new partner group."""
    name = check_text(name, "name", max_length=300, required=True)
    slug = slug or slugify(name)
    if not is_slug(slug):
        raise InvalidInput(f"slug: invalid group slug {slug!r}: lower-case letters, digits and hyphens")
    if session.scalar(select(PartnerGroup.id).where(PartnerGroup.slug == slug)):
        raise InvalidInput(f"slug: a group {slug!r} already exists")
    group = PartnerGroup(name=name, slug=slug, description=check_text(
        description, "description", max_length=5000, multiline=True),
        organisation_id=organisation.id if organisation else None)
    session.add(group)
    session.flush()
    return group


def get_group(session: Session, key: str) -> PartnerGroup:
    """The partner group with this slug or id."""
    group = session.scalar(select(PartnerGroup).where(
        or_(PartnerGroup.slug == key, PartnerGroup.id == key)))
    if group is None:
        raise NotFound(f"no group {key!r}")
    return group


def list_groups(session: Session) -> Sequence[PartnerGroup]:
    """Every partner group, by name."""
    return session.scalars(select(PartnerGroup).order_by(PartnerGroup.name)).all()


def add_to_group(session: Session, group: PartnerGroup, user: User) -> None:
    """Put ``user`` in ``group`` (no-op if already there)."""
    if not session.scalar(select(GroupMember.id).where(
            GroupMember.group_id == group.id, GroupMember.user_id == user.id)):
        session.add(GroupMember(group_id=group.id, user_id=user.id))
        session.flush()


def remove_from_group(session: Session, group: PartnerGroup, user: User) -> None:
    """Take ``user`` out of ``group``."""
    session.execute(delete(GroupMember).where(
        GroupMember.group_id == group.id, GroupMember.user_id == user.id))


def groups_of(session: Session, user_id: str) -> frozenset[str]:
    """Ids of the groups a user belongs to."""
    return frozenset(session.scalars(select(GroupMember.group_id).where(GroupMember.user_id == user_id)))


def grant(session: Session, kind: str, object_id: str, *, group: PartnerGroup | None = None,
          user: User | None = None) -> None:
    """Open a restricted object to a group or a user."""
    if kind not in GRANTABLE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(GRANTABLE_KINDS)}, not {kind!r}")
    if (group is None) == (user is None):
        raise InvalidInput("a grant names either a group or a user")
    grantee_kind, grantee_id = ("group", group.id) if group is not None else ("user", user.id)  # type: ignore[union-attr]
    exists = session.scalar(select(Grant.id).where(
        Grant.object_kind == kind, Grant.object_id == object_id,
        Grant.grantee_kind == grantee_kind, Grant.grantee_id == grantee_id))
    if not exists:
        session.add(Grant(object_kind=kind, object_id=object_id,
                          grantee_kind=grantee_kind, grantee_id=grantee_id))
        session.flush()


def revoke_grant(session: Session, kind: str, object_id: str, *, grantee_kind: str,
                 grantee_id: str) -> None:
    """Close a restricted object to a group or a user again."""
    session.execute(delete(Grant).where(
        Grant.object_kind == kind, Grant.object_id == object_id,
        Grant.grantee_kind == grantee_kind, Grant.grantee_id == grantee_id))


def grants_on(session: Session, kind: str, object_id: str) -> list[tuple[str, str]]:
    """(grantee kind, grantee id) of every grant on one object."""
    return [(k, i) for k, i in session.execute(select(Grant.grantee_kind, Grant.grantee_id).where(
        Grant.object_kind == kind, Grant.object_id == object_id))]


def granted_to(session: Session, user_id: str, groups: frozenset[str]) -> frozenset[tuple[str, str]]:
    """(object kind, object id) granted to a user directly or through their groups."""
    clause = (Grant.grantee_kind == "user") & (Grant.grantee_id == user_id)
    if groups:
        clause = clause | ((Grant.grantee_kind == "group") & Grant.grantee_id.in_(sorted(groups)))
    return frozenset((k, i) for k, i in session.execute(
        select(Grant.object_kind, Grant.object_id).where(clause)))
