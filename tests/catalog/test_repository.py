"""Catalogue behaviour on both backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from mutuelle.access.policy import ANONYMOUS, OPERATOR, visible_datasets
from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import engine, upgrade
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound


def test_migrations_create_every_table(any_settings: Settings) -> None:
    upgrade(any_settings)
    tables = set(inspect(engine(any_settings)).get_table_names())
    assert {"organisation", "dataset", "version", "field", "alembic_version"} <= tables


def test_migrations_can_run_twice(any_settings: Settings) -> None:
    upgrade(any_settings)
    upgrade(any_settings)


def test_organisations_form_a_tree(session) -> None:  # type: ignore[no-untyped-def]
    metro = repo.create_organisation(session, name="Métropole", slug="metro", kind="territory",
                                     siren="200046977")
    city = repo.create_organisation(session, name="Ville d'Écully", kind="city", parent=metro)
    session.commit()
    assert city.slug == "ville-d-ecully"
    assert repo.get_organisation(session, "ville-d-ecully").parent.slug == "metro"


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "X", "slug": "../etc"}, "invalid organisation slug"),
    ({"name": "X", "kind": "club"}, "organisation kind"),
    ({"name": "X", "siren": "12"}, "SIREN has 9 digits"),
])
def test_bad_organisations_are_refused_with_a_reason(session, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        repo.create_organisation(session, **kwargs)


def test_duplicate_slugs_are_refused(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    repo.create_dataset(session, organisation=org, title="Écoles")
    with pytest.raises(InvalidInput, match="already exists"):
        repo.create_dataset(session, organisation=org, title="Écoles")


def test_dataset_metadata_is_kept_with_accents_and_lists(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    d = repo.create_dataset(session, organisation=org, title="Équipements sportifs",
                            themes=["sport", "équipements"], keywords=["gymnase"],
                            spatial_coverage=["69123", "2A004"], frequency="annual", access="internal")
    session.commit()
    again = repo.get_dataset(session, d.id)
    assert again.slug == "equipements-sportifs"
    assert again.themes == ["sport", "équipements"]
    assert again.spatial_coverage == ["69123", "2A004"]
    assert again.status == "draft" and again.access == "internal"


@pytest.mark.parametrize("metadata, message", [
    ({"access": "secret"}, "access must be one of"),
    ({"frequency": "sometimes"}, "frequency must be one of"),
    ({"themes": "sport"}, "themes must be a list"),
    ({"colour": "red"}, "unknown dataset metadata"),
])
def test_bad_dataset_metadata_is_refused(session, metadata, message) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    with pytest.raises(InvalidInput, match=message):
        repo.create_dataset(session, organisation=org, title="T", **metadata)


def test_a_dataset_without_published_version_cannot_be_published(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    d = repo.create_dataset(session, organisation=org, title="Vide")
    with pytest.raises(InvalidInput, match="published version"):
        repo.publish_dataset(session, d)


def test_anonymous_visitors_do_not_see_drafts_or_internal_datasets(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    repo.create_dataset(session, organisation=org, title="Brouillon")
    session.commit()
    total, _ = repo.list_datasets(session, visible=visible_datasets(ANONYMOUS))
    assert total == 0
    total, rows = repo.list_datasets(session, visible=visible_datasets(OPERATOR))
    assert total == 1 and rows[0].title == "Brouillon"


def test_unknown_dataset_is_not_found(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        repo.get_dataset(session, "nope")


def test_search_folds_accents_and_case(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    repo.create_dataset(session, organisation=org, title="Équipements sportifs", keywords=["gymnase"])
    repo.create_dataset(session, organisation=org, title="Écoles maternelles")
    session.commit()
    for q, expected in [("equipement", ["Équipements sportifs"]), ("ÉCOLES", ["Écoles maternelles"]),
                        ("gymnase sportifs", ["Équipements sportifs"]), ("piscine", [])]:
        _, rows = repo.list_datasets(session, visible=visible_datasets(OPERATOR), q=q)
        assert [d.title for d in rows] == expected, q


def test_reserved_slugs_are_refused(session) -> None:  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Lyon")
    with pytest.raises(InvalidInput, match="reserved"):
        repo.create_dataset(session, organisation=org, title="New", slug="new")
