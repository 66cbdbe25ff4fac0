"""The catalogue as listings read it: one flat entry per dataset (its metadata, owner, latest
published version, field names and labels, territory names, popularity), kept up to date in
the same transaction as every change that alters it.

Any commit that adds, changes or removes a dataset, a version, a field, an organisation, a
follow or a thread rewrites the entries of the datasets concerned and stamps them with the
next catalogue *revision* (a counter in ``catalog_state``, whose row lock orders the writers),
so that every worker learns what changed with one ``revision > seen`` query
(``catalog.search``). Publication, new versions, access and metadata changes, harvests: all
go through the ORM, so none is missed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from mutuelle.catalog.discussion_models import Follow, Thread
from mutuelle.catalog.models import Base, Dataset, Field, Organisation, TextList, Version
from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.ids import new_id

#: Datasets whose entries are built per batch of queries.
BATCH = 500
#: Territory codes of one dataset whose names are looked up (a coverage of every commune of
#: France names none of them: its codes are searchable all the same).
MAX_NAMED_TERRITORIES = 200


class CatalogEntry(Base):
    """One dataset as the catalogue lists it (``present`` is false once the dataset is gone)."""

    __tablename__ = "catalog_entry"

    dataset_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    slug: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(20), default="")
    access: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), default="")
    organisation_id: Mapped[str] = mapped_column(String(32), default="")
    organisation_slug: Mapped[str] = mapped_column(String(100), default="")
    organisation_name: Mapped[str] = mapped_column(String(300), default="")
    #: The dataset's producer ("" when it is the organisation itself).
    producer: Mapped[str] = mapped_column(String(300), default="")
    themes: Mapped[list[Any]] = mapped_column(TextList, default=list)
    keywords: Mapped[list[Any]] = mapped_column(TextList, default=list)
    territories: Mapped[list[Any]] = mapped_column(TextList, default=list)
    #: The name of each territory of ``territories``, in the same order (the code when unknown).
    territory_names: Mapped[list[Any]] = mapped_column(TextList, default=list)
    formats: Mapped[list[Any]] = mapped_column(TextList, default=list)
    schema_name: Mapped[str] = mapped_column(String(200), default="")
    #: Names and labels of the latest published version's fields, one per line.
    field_text: Mapped[str] = mapped_column(Text, default="")
    records_count: Mapped[int] = mapped_column(BigInteger, default=0)
    version_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_geo: Mapped[bool] = mapped_column(Boolean, default=False)
    modified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Followers and discussion threads: what "popular" means until downloads are counted.
    popularity: Mapped[int] = mapped_column(Integer, default=0)


class CatalogState(Base):
    """The catalogue's revision (one row): ``epoch`` changes when the catalogue is made anew,
    ``built`` says whether every dataset has its entry yet."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    built: Mapped[bool] = mapped_column(Boolean, default=False)


#: Columns of an entry, in table order.
ENTRY_COLUMNS = tuple(c.name for c in CatalogEntry.__table__.columns)
_STATE = cast(Table, CatalogState.__table__)
_ENTRY = cast(Table, CatalogEntry.__table__)


# -- building entries ------------------------------------------------------------------------

def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def build_entries(session: Session, dataset_ids: Collection[str]) -> list[dict[str, Any]]:
    """The entries of these datasets as they stand in the session's transaction (a dataset
    that no longer exists gets a tombstone: ``present`` false)."""
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(set(dataset_ids))):
        out += _build_chunk(session, chunk)
    return out


def _build_chunk(session: Session, ids: list[str]) -> list[dict[str, Any]]:
    d = Dataset.__table__.c
    o = Organisation.__table__.c
    rows = session.execute(
        select(d.id, d.slug, d.title, d.description, d.licence, d.frequency, d.access, d.status,
               d.organisation_id, o.slug.label("org_slug"), o.name.label("org_name"), d.producer,
               d.themes, d.keywords, d.spatial_coverage, d.updated_at, d.published_at, d.created_at)
        .join(Organisation.__table__, o.id == d.organisation_id).where(d.id.in_(ids))).all()
    latest = _latest_versions(session, ids)
    fields = _fields(session, [v["id"] for v in latest.values()])
    names = _territory_names(session, {c for r in rows for c in r.spatial_coverage[:MAX_NAMED_TERRITORIES]})
    popularity = _popularity(session, ids)
    found = {r.id for r in rows}
    out = [{"dataset_id": i, "present": False} for i in ids if i not in found]
    for r in rows:
        version = latest.get(r.id)
        version_fields = fields.get(version["id"], []) if version else []
        codes = list(r.spatial_coverage)
        out.append({
            "dataset_id": r.id, "present": True, "slug": r.slug, "title": r.title,
            "description": r.description or "", "licence": r.licence or "",
            "frequency": r.frequency or "", "access": r.access, "status": r.status,
            "organisation_id": r.organisation_id, "organisation_slug": r.org_slug,
            "organisation_name": r.org_name, "producer": r.producer or "", "themes": list(r.themes),
            "keywords": list(r.keywords), "territories": codes,
            "territory_names": [names.get(c, c) for c in codes],
            "formats": [version["format"]] if version and version["format"] else [],
            "schema_name": str((version or {}).get("schema") or ""),
            "field_text": "\n".join(f"{name} {label}".strip() for name, label, _ in version_fields),
            "records_count": version["row_count"] if version else 0,
            "version_number": version["number"] if version else None,
            "has_geo": any(kind == "geometry" for _, _, kind in version_fields),
            "modified": version["created_at"] if version else r.updated_at,
            "published_at": r.published_at, "created_at": r.created_at,
            "popularity": popularity.get(r.id, 0),
        })
    return out


def _latest_versions(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest published version of each dataset (what readers see)."""
    v = Version.__table__.c
    latest: dict[str, dict[str, Any]] = {}
    for row in session.execute(
            select(v.id, v.dataset_id, v.number, v.format, v.row_count, v.created_at, v.detected)
            .where(v.dataset_id.in_(ids), v.status == "published")).mappings():
        current = latest.get(row["dataset_id"])
        if current is None or row["number"] > current["number"]:
            detected = row["detected"] if isinstance(row["detected"], dict) else {}
            latest[row["dataset_id"]] = {**row, "schema": detected.get("schema")}
    return latest


def _fields(session: Session, version_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
    f = Field.__table__.c
    out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    if version_ids:
        for version_id, name, label, kind in session.execute(
                select(f.version_id, f.name, f.label, f.type).where(f.version_id.in_(version_ids))
                .order_by(f.version_id, f.position)):
            out[version_id].append((name, label or "", kind))
    return out


def _territory_names(session: Session, codes: set[str]) -> dict[str, str]:
    """Name of each code (the newest vintage's; the smallest level when a code is shared)."""
    t = Territory.__table__.c
    names: dict[str, tuple[int, str]] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), BATCH):
        for code, name, vintage in session.execute(
                select(t.code, t.name, t.vintage).where(t.code.in_(ordered[start:start + BATCH]))):
            if code not in names or vintage > names[code][0]:
                names[code] = (vintage, name)
    return {code: name for code, (_, name) in names.items()}


def _popularity(session: Session, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for model in (Follow, Thread):
        table = model.__table__.c
        for object_id, n in session.execute(
                select(table.object_id, func.count()).where(
                    table.object_kind == "dataset", table.object_id.in_(ids))
                .group_by(table.object_id)):
            counts[object_id] += int(n)
    return counts


# -- writing them ------------------------------------------------------------------------------

def next_revision(session: Session) -> tuple[int, bool]:
    """Take the next catalogue revision (locking the state row until the transaction ends,
    which orders the writers): (revision, whether every dataset has its entry)."""
    row = session.execute(update(_STATE).where(_STATE.c.id == 1)
                          .values(revision=_STATE.c.revision + 1)
                          .returning(_STATE.c.revision, _STATE.c.built)).first()
    if row is None:   # a catalogue made before the state row existed: start one
        session.execute(insert(_STATE).values(id=1, epoch=new_id(), revision=1, built=False))
        return 1, False
    return int(row[0]), bool(row[1])


def write_entries(session: Session, dataset_ids: Collection[str]) -> int:
    """Rewrite the entries of these datasets under a new revision (returned)."""
    revision, built = next_revision(session)
    if built and dataset_ids:
        _replace(session, build_entries(session, dataset_ids), revision)
    return revision


def _replace(session: Session, entries: list[dict[str, Any]], revision: int) -> None:
    ids = [e["dataset_id"] for e in entries]
    for chunk in _chunks(ids):
        session.execute(delete(_ENTRY).where(_ENTRY.c.dataset_id.in_(chunk)))
    for start in range(0, len(entries), BATCH):
        batch = [{**e, "revision": revision} for e in entries[start:start + BATCH]]
        # One statement per kind of row: an executemany takes its columns from its first row,
        # so a tombstone first would blank the entries after it.
        for present in (True, False):
            rows = [e for e in batch if e["present"] is present]
            if rows:
                session.execute(insert(_ENTRY), rows)


def build_all(session: Session) -> int:
    """Make every dataset's entry (a catalogue made before entries existed); idempotent, and
    safe when several workers try at once: the state row's lock lets one do it."""
    revision, built = next_revision(session)
    if not built:
        ids = list(session.scalars(select(Dataset.id)))
        session.execute(delete(_ENTRY))
        _replace(session, build_entries(session, ids), revision)
        session.execute(update(_STATE).where(_STATE.c.id == 1).values(built=True))
    return revision


def read_state(session: Session) -> tuple[str, int, bool] | None:
    """(epoch, revision, built) of the catalogue, or None before any."""
    row = session.execute(select(_STATE.c.epoch, _STATE.c.revision, _STATE.c.built)
                          .where(_STATE.c.id == 1)).first()
    return None if row is None else (str(row[0]), int(row[1]), bool(row[2]))


# -- following changes -----------------------------------------------------------------------

_PENDING = "mutuelle.catalog.entries.pending"


def _pending(session: Session) -> dict[str, set[Any]]:
    found: dict[str, set[Any]] = session.info.setdefault(
        _PENDING, {"datasets": set(), "versions": set(), "organisations": set()})
    return found


def _touched(session: Session, objects: Iterable[Any]) -> None:
    pending = _pending(session)
    for obj in objects:
        if isinstance(obj, Dataset):
            pending["datasets"].add(obj.id)
        elif isinstance(obj, Version):
            pending["datasets"].add(obj.dataset_id)
        elif isinstance(obj, Field):
            pending["versions"].add(obj.version_id)
        elif isinstance(obj, Organisation) and obj not in session.new:
            pending["organisations"].add(obj.id)
        elif isinstance(obj, (Follow, Thread)) and obj.object_kind == "dataset":
            pending["datasets"].add(obj.object_id)
    pending["datasets"].discard(None)
    pending["versions"].discard(None)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    # ids are assigned by now; new/dirty/deleted still name what this flush wrote
    _touched(session, [*session.new, *session.dirty, *session.deleted])


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Commit calls this hook before its own flush: flush here, so that what it writes is known.
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    ids = set(pending["datasets"])
    if pending["versions"]:
        v = Version.__table__.c
        ids |= set(session.scalars(select(v.dataset_id).where(v.id.in_(sorted(pending["versions"])))))
    if pending["organisations"]:
        d = Dataset.__table__.c
        ids |= set(session.scalars(select(d.id).where(
            d.organisation_id.in_(sorted(pending["organisations"])))))
    if ids:
        write_entries(session, ids)
    session.info.pop(_PENDING, None)   # what writing the entries flushed is written already


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
