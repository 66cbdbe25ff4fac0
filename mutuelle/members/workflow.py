"""Publishing with review, and access levels: an editor submits a draft, an organisation admin
publishes it (or sends it back); admins change access levels and grants. Each step checks
rights with ``access.policy`` and is written to the audit log in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mutuelle.access import accounts, audit
from mutuelle.access.policy import Viewer, allowed, require
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.discussion_models import Follow, Notification
from mutuelle.catalog.members_models import PartnerGroup, User
from mutuelle.catalog.models import ACCESS_LEVELS, Dataset, Organisation, Version
from mutuelle.core.clock import now
from mutuelle.core.errors import InvalidInput


def submit_dataset(session: Session, viewer: Viewer, dataset: Dataset, *, address: str = "") -> Dataset:
    """An editor asks for a draft to be published."""
    require(viewer, "submit", dataset, what=f"dataset {dataset.slug!r}")
    if dataset.status == "published":
        raise InvalidInput("the dataset is already published")
    if not any(v.status == "published" for v in dataset.versions):
        raise InvalidInput("import a file (a version) before submitting the dataset for review")
    dataset.status = "submitted"
    dataset.submitted_at = now()
    audit.record(session, viewer, "dataset.submit", kind="dataset", object_id=dataset.id, address=address)
    session.flush()
    return dataset


def publish(session: Session, viewer: Viewer, dataset: Dataset, *, address: str = "") -> Dataset:
    """An organisation admin (or above) publishes a draft or a submitted dataset."""
    require(viewer, "publish", dataset, what=f"dataset {dataset.slug!r}")
    repo.publish_dataset(session, dataset)
    audit.record(session, viewer, "dataset.publish", kind="dataset", object_id=dataset.id, address=address)
    return dataset


def send_back(session: Session, viewer: Viewer, dataset: Dataset, *, address: str = "") -> Dataset:
    """An admin returns a submitted dataset to its editors (or unpublishes a published one)."""
    require(viewer, "publish", dataset, what=f"dataset {dataset.slug!r}")
    dataset.status = "draft"
    dataset.submitted_at = None
    audit.record(session, viewer, "dataset.unpublish", kind="dataset", object_id=dataset.id, address=address)
    session.flush()
    return dataset


def review_queue(session: Session, viewer: Viewer) -> Sequence[Dataset]:
    """Submitted datasets that ``viewer`` may publish, oldest submission first."""
    rows = session.scalars(select(Dataset).where(Dataset.status == "submitted")
                           .options(selectinload(Dataset.organisation))
                           .order_by(Dataset.submitted_at)).all()
    return [d for d in rows if allowed(viewer, "publish", d)]


def set_access(session: Session, viewer: Viewer, dataset: Dataset, access: str, *,
               groups: Sequence[PartnerGroup] | None = None, users: Sequence[User] | None = None,
               address: str = "") -> Dataset:
    """Change a dataset's access level; for ``restricted``, the groups and users it is granted
    to (replacing earlier grants when given)."""
    require(viewer, "manage", dataset, what=f"dataset {dataset.slug!r}")
    if access not in ACCESS_LEVELS:
        raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {access!r}")
    before = dataset.access
    dataset.access = access
    if groups is not None or users is not None:
        for grantee_kind, grantee_id in accounts.grants_on(session, "dataset", dataset.id):
            accounts.revoke_grant(session, "dataset", dataset.id, grantee_kind=grantee_kind,
                                  grantee_id=grantee_id)
        for group in groups or ():
            accounts.grant(session, "dataset", dataset.id, group=group)
        for user in users or ():
            accounts.grant(session, "dataset", dataset.id, user=user)
    audit.record(session, viewer, "access.change", kind="dataset", object_id=dataset.id, address=address,
                 detail={"from": before, "to": access,
                         "groups": [g.slug for g in groups or ()], "users": [u.email for u in users or ()]})
    session.flush()
    return dataset


def create_dataset(session: Session, viewer: Viewer, organisation: Organisation, *, title: str,
                   slug: str | None = None, address: str = "", **metadata: Any) -> Dataset:
    """A new draft dataset of ``organisation``, by one of its editors (or above)."""
    require(viewer, "create", organisation, what=f"organisation {organisation.slug!r}")
    dataset = repo.create_dataset(session, organisation=organisation, title=title, slug=slug, **metadata)
    dataset.created_by = viewer.user_id or ""
    audit.record(session, viewer, "dataset.create", kind="dataset", object_id=dataset.id,
                 address=address, detail={"slug": dataset.slug, "organisation": organisation.slug})
    session.flush()
    return dataset


def version_published(session: Session, viewer: Viewer, dataset: Dataset, version: Version, *,
                      action: str = "version.import", address: str = "") -> None:
    """Record an import (or, with ``action="version.publish"``, a draft version published) in
    the audit log and, when the version is published, tell the dataset's followers who may
    still read it."""
    audit.record(session, viewer, action, kind="dataset", object_id=dataset.id, address=address,
                 detail={"version": version.number, "status": version.status, "rows": version.row_count})
    if version.status != "published":
        return
    for user in session.scalars(select(User).join(Follow, Follow.user_id == User.id).where(
            Follow.object_kind == "dataset", Follow.object_id == dataset.id)):
        if not user.disabled and allowed(viewer_of_user(session, user), "read", dataset):
            session.add(Notification(user_id=user.id, kind="version", object_kind="dataset",
                                     object_id=dataset.id, text=f"{dataset.title} — v{version.number}"[:500]))
