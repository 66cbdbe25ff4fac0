"""The audit log: who imported, published, changed access, exported restricted data, created
a key, signed in or failed to; written in the same transaction as the change it records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer
from mutuelle.catalog.members_models import AuditEvent

#: Columns of the CSV export, in order.
EXPORT_COLUMNS = ("at", "actor_label", "action", "object_kind", "object_id", "address", "detail")


def record(session: Session, viewer: Viewer | None, action: str, *, kind: str = "",
           object_id: str = "", address: str = "", detail: dict[str, Any] | None = None,
           actor_label: str | None = None) -> AuditEvent:
    """Add an event to the log (committed with the caller's transaction)."""
    label = actor_label if actor_label is not None else _label(viewer)
    event = AuditEvent(actor_id=viewer.user_id if viewer else None, actor_label=label[:320],
                       action=action, object_kind=kind, object_id=str(object_id)[:100],
                       address=address[:64], detail=detail or {})
    session.add(event)
    return event


def _label(viewer: Viewer | None) -> str:
    if viewer is None:
        return "anonymous"
    if viewer.operator:
        return "command line"
    return viewer.email or viewer.name


def events(session: Session, *, action: str | None = None, kind: str | None = None,
           object_id: str | None = None, actor: str | None = None, since: datetime | None = None,
           limit: int = 100, offset: int = 0) -> Sequence[AuditEvent]:
    """Events, newest first, filtered."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if kind:
        query = query.where(AuditEvent.object_kind == kind)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor:
        query = query.where(AuditEvent.actor_label == actor)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return session.scalars(query.limit(limit).offset(offset)).all()


def export_csv(session: Session, *, batch: int = 1000) -> Iterator[str]:
    """The whole log as CSV, oldest first, in batches (constant memory)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    last = 0
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.id > last)
                               .order_by(AuditEvent.id).limit(batch)).all()
        for event in rows:
            writer.writerow([event.at.isoformat(), event.actor_label, event.action,
                             event.object_kind, event.object_id, event.address, event.detail])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(rows) < batch:
            return
        last = rows[-1].id
