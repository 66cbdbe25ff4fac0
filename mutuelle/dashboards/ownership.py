"""Who saves dashboards and charts, and under which organisation: members do, each under an
organisation they belong to (the owner whose members read its internal objects and whose
editors change them, as ``access.policy`` says)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, may_file_under
from mutuelle.catalog.models import Organisation
from mutuelle.core.errors import Forbidden, InvalidField, Unauthenticated
from mutuelle.core.text import check_text


def require_member(viewer: Viewer, what: str) -> None:
    """Saving is for members (anonymous visitors read and share links)."""
    if not viewer.signed_in:
        raise Unauthenticated(f"sign in to save {what}")
    if viewer.key_scope == "read":
        raise Forbidden(f"this API key may only read: it may not save {what}")


def clean_text(value: str, field: str, limit: int, *, multiline: bool = False,
               required: bool = False) -> str:
    """Text a member wrote, checked (no control character, bounded) and stripped."""
    return check_text(value, field, max_length=limit, multiline=multiline,
                      required=required).strip()


def owner(session: Session, viewer: Viewer, key: str | None, *,
          default: Organisation | None = None) -> Organisation:
    """The organisation an object is saved under: ``key`` (a slug or an id), else ``default``
    when the viewer may file there, else the viewer's one organisation; ``InvalidField``
    naming ``organisation`` when none fits, ``Forbidden`` when the viewer is not a member."""
    if key:
        org = session.scalar(select(Organisation).where(
            or_(Organisation.slug == key, Organisation.id == key)))
        if org is None:
            raise InvalidField("organisation", f"organisation: no organisation {key!r}")
        if not may_file_under(viewer, org):
            raise Forbidden(f"you are not a member of {org.name}: you may not save under it")
        return org
    if default is not None and may_file_under(viewer, default):
        return default
    mine = sorted(org_id for org_id, _role in viewer.roles.items())
    if len(mine) == 1:
        found = session.get(Organisation, mine[0])
        if found is not None and may_file_under(viewer, found):
            return found
    raise InvalidField("organisation", "organisation: name the organisation this belongs to "
                                       "(the slug of one you are a member of)")

