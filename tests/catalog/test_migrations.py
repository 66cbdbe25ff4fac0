"""Migrations on both backends (SQLite and PostgreSQL), from a catalogue that already holds rows."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from mutuelle.access.policy import ANONYMOUS, visible_datasets
from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import alembic_config, engine, sessions, upgrade
from mutuelle.catalog.discussion_models import Thread
from mutuelle.catalog.entries import CatalogEntry
from mutuelle.catalog.models import Dataset
from mutuelle.core.config import Settings


def test_0007_adds_producers_and_visitor_reports_to_a_catalogue_with_rows(
        any_settings: Settings) -> None:
    command.upgrade(alembic_config(any_settings), "0006")
    with engine(any_settings).begin() as con:   # rows written by the catalogue as it was
        con.execute(text("INSERT INTO organisation (id, slug, name, kind, has_portal, description, "
                         "logo_url, primary_colour, accent_colour, created_at) VALUES ('o1', "
                         "'lyon', 'Ville de Lyon', 'city', true, '', '', '', '', CURRENT_TIMESTAMP)"))
        con.execute(text("INSERT INTO dataset (id, slug, title, description, licence, themes, "
                         "keywords, spatial_coverage, frequency, access, status, organisation_id, "
                         "created_at, updated_at, created_by) VALUES ('d1', 'budget', 'Budget', '', "
                         "'Licence Ouverte 2.0', '[]', '[]', '[\"69123\"]', 'annual', 'public', "
                         "'published', 'o1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '')"))
        con.execute(text("INSERT INTO version (dataset_id, number, status, parquet_path, "
                         "source_name, format, row_count, byte_size, checksum, source_checksum, "
                         "detected, warnings, created_at, created_by) VALUES ('d1', 1, 'published', "
                         "'x.parquet', 'x.csv', 'csv', 1, 1, 'c', 's', '{}', '[]', "
                         "CURRENT_TIMESTAMP, '')"))
        con.execute(text("INSERT INTO thread (id, object_kind, object_id, title, internal, "
                         "created_at, updated_at) VALUES ('t1', 'dataset', 'd1', 'Question', false, "
                         "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    upgrade(any_settings)
    columns = {table: {c["name"] for c in inspect(engine(any_settings)).get_columns(table)}
               for table in ("dataset", "catalog_entry", "thread")}
    assert "producer" in columns["dataset"] and "producer" in columns["catalog_entry"]
    assert {"visitor", "contact"} <= columns["thread"]
    with sessions(any_settings)() as session:
        dataset = session.get(Dataset, "d1")
        assert dataset is not None and dataset.producer == "" and len(dataset.versions) == 1
        thread = session.get(Thread, "t1")
        assert thread is not None and (thread.visitor, thread.contact) == (False, "")
        repo.update_dataset(session, dataset, producer="INSEE")
        session.commit()
        # the catalogue's entries are made at the first listing, the producer's words searched
        total, found = repo.list_datasets(session, visible=visible_datasets(ANONYMOUS), q="insee")
        assert [d.slug for d in found] == ["budget"] and total == 1
        entry = session.get(CatalogEntry, "d1")
        assert entry is not None and entry.producer == "INSEE"
