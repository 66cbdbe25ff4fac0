"""A small federation on each catalogue backend: a territory with two member cities and a
partner beside them, each with a dataset, and members in various roles."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import User
from mutuelle.catalog.models import Dataset, Organisation


@dataclass
class Federation:
    territory: Organisation
    city_a: Organisation
    city_b: Organisation
    partner: Organisation
    users: dict[str, User]

    def dataset(self, session: Session, org: Organisation, *, access: str = "public",
                status: str = "published", slug: str | None = None) -> Dataset:
        dataset = repo.create_dataset(session, organisation=org, title=slug or f"{org.slug} {access} {status}",
                                      slug=slug, access=access)
        dataset.status = status
        session.flush()
        return dataset


@pytest.fixture
def federation(session: Session) -> Federation:
    territory = repo.create_organisation(session, name="Grand Paris Seine Ouest", slug="gpso", kind="territory")
    city_a = repo.create_organisation(session, name="Issy-les-Moulineaux", slug="issy", parent=territory)
    city_b = repo.create_organisation(session, name="Meudon", slug="meudon", parent=territory)
    partner = repo.create_organisation(session, name="CPAM", slug="cpam", kind="partner", parent=territory)
    users = {}
    for name, org, role in [
        ("territory_admin", territory, "admin"), ("a_admin", city_a, "admin"),
        ("a_editor", city_a, "editor"), ("a_viewer", city_a, "viewer"),
        ("b_editor", city_b, "editor"), ("partner_viewer", partner, "viewer"), ("outsider", None, None),
    ]:
        user, _ = accounts.create_user(session, email=f"{name}@example.org", password="correct horse battery")
        if org is not None:
            accounts.set_role(session, user, org, role)
        users[name] = user
    session.commit()
    return Federation(territory, city_a, city_b, partner, users)
