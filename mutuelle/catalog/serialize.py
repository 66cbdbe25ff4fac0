"""JSON shapes of catalogue objects, shared by the API, the pages and the CLI."""

from __future__ import annotations

from typing import Any

from mutuelle.catalog.models import Dataset, Field, Organisation, Version
from mutuelle.catalog.repository import latest_version


def organisation_json(org: Organisation) -> dict[str, Any]:
    """An organisation as the API shows it."""
    return {"id": org.id, "slug": org.slug, "name": org.name, "kind": org.kind, "siren": org.siren,
            "parent": org.parent.slug if org.parent else None, "has_portal": org.has_portal}


def field_json(f: Field) -> dict[str, Any]:
    """One field dictionary entry."""
    return {"name": f.name, "type": f.type, "concept": f.concept, "label": f.label,
            "description": f.description, "unit": f.unit, "source_name": f.source_name}


def version_json(v: Version, *, with_fields: bool = True) -> dict[str, Any]:
    """A version with its provenance (and its fields)."""
    out: dict[str, Any] = {
        "number": v.number, "status": v.status, "format": v.format, "source_name": v.source_name,
        "row_count": v.row_count, "byte_size": v.byte_size, "checksum": v.checksum,
        "source_checksum": v.source_checksum, "detected": v.detected, "warnings": v.warnings,
        "created_at": v.created_at.isoformat(), "created_by": v.created_by,
        "published_at": v.published_at.isoformat() if v.published_at else None,
    }
    if with_fields:
        out["fields"] = [field_json(f) for f in v.fields]
    return out


def dataset_json(d: Dataset, *, full: bool = False) -> dict[str, Any]:
    """A dataset's metadata; ``full`` adds its versions and the latest field dictionary."""
    latest = latest_version(d)
    out: dict[str, Any] = {
        "id": d.id, "slug": d.slug, "title": d.title, "description": d.description,
        "licence": d.licence, "themes": d.themes, "keywords": d.keywords,
        "spatial_coverage": d.spatial_coverage, "frequency": d.frequency, "producer": d.producer,
        "access": d.access,
        "status": d.status, "organisation": d.organisation.slug,
        "created_at": d.created_at.isoformat(), "updated_at": d.updated_at.isoformat(),
        "latest_version": latest.number if latest else None,
        "row_count": latest.row_count if latest else None,
    }
    if full:
        out["fields"] = [field_json(f) for f in latest.fields] if latest else []
        out["versions"] = [version_json(v, with_fields=False) for v in d.versions]
    return out
