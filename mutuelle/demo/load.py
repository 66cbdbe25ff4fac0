"""Load the synthetic demo territory into a catalogue: organisations, datasets, versions."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.core.config import Settings
from mutuelle.demo import generate_demo
from mutuelle.demo.dashboards import define_demo_dashboards
from mutuelle.demo.indicators import define_demo_indicators
from mutuelle.demo.referential import load_demo_referential
from mutuelle.ingest.service import import_file

log = logging.getLogger(__name__)


def catalogue_is_empty(session: Session) -> bool:
    """Whether no dataset exists yet (``make run`` loads the demo only then)."""
    return (session.scalar(select(func.count()).select_from(Dataset)) or 0) == 0


def load_demo(session: Session, settings: Settings, *, seed: int = 2026) -> list[Dataset]:
    """Generate the demo files and import each as a published dataset; returns the datasets."""
    loaded: list[Dataset] = []
    with tempfile.TemporaryDirectory(dir=settings.work_dir) as tmp:
        demo = generate_demo(Path(tmp), seed=seed)
        orgs = {}
        for o in demo.organisations:
            existing = session.scalar(select(repo.Organisation).where(repo.Organisation.slug == o.slug))
            orgs[o.slug] = existing or repo.create_organisation(
                session, name=o.name, slug=o.slug, kind=o.kind, siren=o.siren,
                parent=orgs.get(o.parent) if o.parent else None, has_portal=o.has_portal)
        session.commit()
        for d in demo.datasets:
            if session.scalar(select(Dataset).where(Dataset.slug == d.slug)):
                continue
            dataset = repo.create_dataset(
                session, organisation=orgs[d.organisation], title=d.title, slug=d.slug,
                description=d.description, licence=d.licence, themes=list(d.themes),
                keywords=list(d.keywords), spatial_coverage=list(d.spatial_coverage),
                frequency=d.frequency, access=d.access)
            session.commit()
            version = import_file(session, settings, dataset, d.path, source_name=d.path.name,
                                  author="demo")
            for f in version.fields:
                meta = d.fields.get(f.name, {})
                f.label = meta.get("label", f.label)
                f.description = meta.get("description", "")
                f.unit = meta.get("unit", "")
            repo.publish_dataset(session, dataset)
            session.commit()
            log.info("demo dataset=%s rows=%s", d.slug, version.row_count)
            loaded.append(dataset)
        # The observatory: the territory's contours as the referential, then its indicators.
        load_demo_referential(session, settings, demo)
        session.commit()
    define_demo_indicators(session)
    define_demo_dashboards(session, settings)
    return loaded
