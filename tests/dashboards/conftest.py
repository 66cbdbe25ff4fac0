"""A small portal on each catalogue backend: a city inside a metropolis, its budget imported
from CSV text, members of several roles, and helpers to import a new version."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts
from mutuelle.access.policy import Viewer
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.catalog.models import Dataset, Organisation
from mutuelle.core.config import Settings
from mutuelle.ingest.service import import_file

from budget_testing import budget_csv  # type: ignore[import-not-found]

@dataclass
class Portal:
    """The portal's catalogue session and store, its organisations, datasets and members."""

    session: Session
    settings: Settings
    metropolis: Organisation
    city: Organisation
    other_city: Organisation
    budget: Dataset
    users: dict[str, str] = field(default_factory=dict)
    made: int = 0

    def viewer(self, name: str) -> Viewer:
        """The viewer of the member ``name`` (editor, viewer, outsider, other_editor)."""
        return viewer_of_user(self.session, accounts.get_user(self.session, f"{name}@tests.example"))

    def dataset(self, slug: str, text: str, *, org: Organisation | None = None,
                access: str = "public") -> Dataset:
        """A published dataset of ``org`` (the city) made of CSV ``text``."""
        dataset = repo.create_dataset(self.session, organisation=org or self.city, title=slug,
                                      slug=slug, access=access)
        self.session.commit()
        self.import_version(dataset, text)
        repo.publish_dataset(self.session, dataset)
        self.session.commit()
        return dataset

    def import_version(self, dataset: Dataset, text: str) -> None:
        """A new published version of ``dataset`` made of CSV ``text``."""
        self.made += 1
        path = self.settings.home / f"upload-{self.made}.csv"
        path.write_text(text, encoding="utf-8")
        import_file(self.session, self.settings, dataset, path)
        self.session.commit()


@pytest.fixture
def portal(any_settings: Settings) -> Iterator[Portal]:
    upgrade(any_settings)
    any_settings.home.mkdir(parents=True, exist_ok=True)
    with sessions(any_settings)() as session:
        metropolis = repo.create_organisation(session, name="Métropole", slug="metropole",
                                              kind="territory")
        city = repo.create_organisation(session, name="Ville", slug="ville", parent=metropolis)
        other = repo.create_organisation(session, name="Autre ville", slug="autre-ville")
        users = {}
        for name, org, role in [("editor", city, "editor"), ("viewer", city, "viewer"),
                                ("outsider", None, None), ("other_editor", other, "editor")]:
            user, _ = accounts.create_user(session, email=f"{name}@tests.example",
                                           password="correct horse battery")
            if org is not None:
                accounts.set_role(session, user, org, role)
            users[name] = user.id
        session.commit()
        portal = Portal(session, any_settings, metropolis, city, other, None, users)  # type: ignore[arg-type]
        portal.budget = portal.dataset("budget", budget_csv())
        yield portal
