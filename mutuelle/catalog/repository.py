"""Reading and writing the catalogue: the functions the API, the pages and the CLI share."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, selectinload

from mutuelle.catalog.models import (
    ACCESS_LEVELS,
    FREQUENCIES,
    ORGANISATION_KINDS,
    Dataset,
    Field,
    Organisation,
    Version,
)
from mutuelle.catalog.search import selection
from mutuelle.core.clock import now
from mutuelle.core.errors import InvalidInput, InvalidText, NotFound
from mutuelle.core.ids import is_slug, new_id, slugify
from mutuelle.core.text import check_text

RESERVED_SLUGS = frozenset({"new", "import", "latest", "search"})


def create_organisation(
    session: Session, *, name: str, slug: str | None = None, kind: str = "city",
    siren: str | None = None, parent: Organisation | None = None, has_portal: bool = True,
    description: str = "",
) -> Organisation:
    """A new organisation; the slug is derived from the name when not given."""
    org = new_organisation(session, name=name, slug=slug, kind=kind, siren=siren, parent=parent,
                           has_portal=has_portal, description=description)
    session.add(org)
    session.flush()
    return org


def new_organisation(
    session: Session, *, name: str, slug: str | None = None, kind: str = "city",
    siren: str | None = None, parent: Organisation | None = None, has_portal: bool = True,
    description: str = "",
) -> Organisation:
    """A checked organisation not yet saved: it is saved with the first dataset that names it
    (``ingest.service.import_file``), so a failed first import leaves no organisation."""
    check_text(name, "name", max_length=300, required=True)
    check_text(description, "description", max_length=10_000, multiline=True)
    slug = slug or slugify(name)
    if not is_slug(slug):
        raise InvalidInput(f"invalid organisation slug {slug!r}: lower-case letters, digits and hyphens")
    if kind not in ORGANISATION_KINDS:
        raise InvalidInput(f"organisation kind must be one of {', '.join(ORGANISATION_KINDS)}, not {kind!r}")
    if siren is not None and not (len(siren) == 9 and siren.isdigit()):
        raise InvalidInput(f"a SIREN has 9 digits, not {siren!r}")
    if session.scalar(select(Organisation).where(Organisation.slug == slug)):
        raise InvalidInput(f"an organisation {slug!r} already exists")
    return Organisation(id=new_id(), name=name, slug=slug, kind=kind, siren=siren, parent=parent,
                        has_portal=has_portal, description=description)


def get_organisation(session: Session, slug: str) -> Organisation:
    """The organisation with this slug or id."""
    org = session.scalar(select(Organisation).where(or_(Organisation.slug == slug, Organisation.id == slug)))
    if org is None:
        raise NotFound(f"no organisation {slug!r}")
    return org


def list_organisations(session: Session) -> Sequence[Organisation]:
    """Every organisation, by name."""
    return session.scalars(select(Organisation).order_by(Organisation.name)).all()


#: Longest text of each dataset metadata field (characters).
TEXT_LIMITS = {"title": 500, "description": 100_000, "licence": 200, "producer": 300}
#: Text fields that may be left empty.
OPTIONAL_TEXTS = frozenset({"description", "producer"})
#: The metadata a dataset is created or changed with (besides its title).
METADATA_FIELDS = frozenset({"description", "licence", "themes", "keywords", "spatial_coverage",
                             "frequency", "producer", "access"})
#: Longest list and longest word of the list fields.
LIST_LIMITS = {"themes": (50, 100), "keywords": (100, 100), "spatial_coverage": (50_000, 20)}


def _check_dataset_fields(values: dict[str, Any]) -> None:
    """Metadata as it may be stored: text without control characters and within its length,
    lists of short strings, values of the allowed lists (one bad record must never reach the
    catalogue, where it would break listings for everyone)."""
    for key, limit in TEXT_LIMITS.items():
        if key in values:
            check_text(values[key], key, max_length=limit, multiline=key == "description",
                       required=key not in OPTIONAL_TEXTS)
    for key, (most, longest) in LIST_LIMITS.items():
        if key in values:
            items = values[key]
            if not isinstance(items, list) or len(items) > most:
                raise InvalidText(f"{key} must be a list of at most {most} strings")
            for i, item in enumerate(items):
                check_text(item, f"{key}[{i}]", max_length=longest, required=True)
    if "access" in values and values["access"] not in ACCESS_LEVELS:
        raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {values['access']!r}")
    if "frequency" in values and values["frequency"] not in FREQUENCIES:
        raise InvalidInput(f"frequency must be one of {', '.join(FREQUENCIES)}, not {values['frequency']!r}")
    if "title" in values and not str(values["title"]).strip():
        raise InvalidInput("a dataset needs a title")


def create_dataset(session: Session, *, organisation: Organisation, title: str,
                   slug: str | None = None, **metadata: Any) -> Dataset:
    """A new draft dataset owned by ``organisation``."""
    dataset = new_dataset(session, organisation=organisation, title=title, slug=slug, **metadata)
    session.add(dataset)
    session.flush()
    return dataset


def new_dataset(session: Session, *, organisation: Organisation, title: str,
                slug: str | None = None, **metadata: Any) -> Dataset:
    """A checked draft dataset not yet saved: ``ingest.service.import_file`` saves it with its
    first version, in one transaction, so a failed first import leaves no dataset."""
    slug = slug or slugify(title)
    if not is_slug(slug):
        raise InvalidInput(f"invalid dataset slug {slug!r}: lower-case letters, digits and hyphens")
    if slug in RESERVED_SLUGS:
        raise InvalidInput(f"the slug {slug!r} is reserved: choose another")
    if session.scalar(select(Dataset).where(Dataset.slug == slug)):
        raise InvalidInput(f"a dataset {slug!r} already exists")
    unknown = set(metadata) - METADATA_FIELDS
    if unknown:
        raise InvalidInput(f"unknown dataset metadata: {', '.join(sorted(unknown))}")
    _check_dataset_fields({"title": title, **metadata})
    return Dataset(id=new_id(), organisation=organisation, title=title, slug=slug, **metadata)


def update_dataset(session: Session, dataset: Dataset, **metadata: Any) -> Dataset:
    """Change a dataset's metadata (not its id nor its slug)."""
    _check_dataset_fields(metadata)
    for key, value in metadata.items():
        if key != "title" and key not in METADATA_FIELDS:
            raise InvalidInput(f"unknown dataset metadata: {key}")
        setattr(dataset, key, value)
    session.flush()
    return dataset


def get_dataset(session: Session, key: str) -> Dataset:
    """The dataset with this slug or stable id."""
    dataset = session.scalar(
        select(Dataset).where(or_(Dataset.slug == key, Dataset.id == key))
        .options(selectinload(Dataset.organisation))
    )
    if dataset is None:
        raise NotFound(f"no dataset {key!r}")
    return dataset


def list_datasets(
    session: Session, *, visible: ColumnElement[bool], q: str | None = None,
    organisation: str | None = None, theme: str | None = None,
    limit: int = 50, offset: int = 0, sort: str | None = None,
) -> tuple[int, Sequence[Dataset]]:
    """Datasets matching a search (ranked by relevance; by title without one), among those
    ``visible`` (a filter from ``access``); see ``catalog.search`` for the rules."""
    filters = {name: [value] for name, value in (("organisation", organisation), ("theme", theme))
               if value}
    with selection(session, visible=visible, text=q or "", filters=filters) as chosen:
        total = chosen.total()
        ids = [item.id for item in chosen.page(sort, limit, offset)]
    return total, datasets_by_ids(session, ids)


def datasets_by_ids(session: Session, ids: Sequence[str], *, with_fields: bool = False
                    ) -> list[Dataset]:
    """These datasets in this order, with their organisation and versions (and the versions'
    fields) loaded in a few queries."""
    if not ids:
        return []
    versions = selectinload(Dataset.versions)
    options = [selectinload(Dataset.organisation),
               versions.selectinload(Version.fields) if with_fields else versions]
    found = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(list(ids)))
                                              .options(*options))}
    return [found[i] for i in ids if i in found]


def fold(text: str) -> str:
    """Lower case without accents, for search."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def publish_dataset(session: Session, dataset: Dataset) -> Dataset:
    """Make a draft dataset visible to its readers."""
    if not any(v.status == "published" for v in dataset.versions):
        raise InvalidInput("a dataset needs a published version before it can be published")
    dataset.status = "published"
    dataset.published_at = dataset.published_at or now()
    session.flush()
    return dataset


def latest_version(dataset: Dataset, *, published_only: bool = True) -> Version | None:
    """The newest version readers see (newest published one), or None."""
    candidates = [v for v in dataset.versions if v.status == "published" or not published_only]
    return max(candidates, key=lambda v: v.number) if candidates else None


def get_version(dataset: Dataset, number: int | str) -> Version:
    """A version by number, or ``latest``."""
    if number == "latest":
        version = latest_version(dataset)
        if version is None:
            raise NotFound(f"dataset {dataset.slug!r} has no published version")
        return version
    try:
        wanted = int(number)
    except ValueError as exc:
        raise NotFound(f"no version {number!r} of dataset {dataset.slug!r}") from exc
    for version in dataset.versions:
        if version.number == wanted:
            return version
    raise NotFound(f"no version {wanted} of dataset {dataset.slug!r}")


#: Longest text of the editable properties of a field of the dictionary.
FIELD_LIMITS = {"label": 500, "description": 10_000, "unit": 50}


def update_field(session: Session, version: Version, name: str, **values: str) -> Field:
    """Edit the dictionary entry (label, description, unit) of one column."""
    for f in version.fields:
        if f.name == name:
            for key, value in values.items():
                if key not in FIELD_LIMITS:
                    raise InvalidInput(f"a field has no editable property {key!r}")
                setattr(f, key, check_text(value, key, max_length=FIELD_LIMITS[key],
                                           multiline=key == "description"))
            session.flush()
            return f
    raise NotFound(f"no field {name!r} in version {version.number}")


def recorded_versions(session: Session, dataset_ids: Collection[str] | None = None
                      ) -> dict[str, list[tuple[int, str, int]]]:
    """(number, Parquet path, byte size) of every version of these datasets (all when None),
    per dataset id; a dataset that does not exist is absent, one without versions maps to []."""
    datasets = select(Dataset.id)
    versions = select(Version.dataset_id, Version.number, Version.parquet_path, Version.byte_size)
    if dataset_ids is not None:
        datasets = datasets.where(Dataset.id.in_(list(dataset_ids)))
        versions = versions.where(Version.dataset_id.in_(list(dataset_ids)))
    found: dict[str, list[tuple[int, str, int]]] = {i: [] for i in session.scalars(datasets)}
    for dataset_id, number, parquet_path, byte_size in session.execute(versions):
        found.setdefault(dataset_id, []).append((number, parquet_path, byte_size))
    return found
