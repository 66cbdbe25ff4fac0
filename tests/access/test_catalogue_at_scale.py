"""The catalogue at 2,000 datasets, for each kind of viewer: what the Explore catalogue API, the
web catalogue and ``mutuelle datasets list --as`` count and list is exactly what the one gate
(``allowed``, decided object by object) lets the viewer read: access levels, drafts, the
organisation tree, partner grants."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mutuelle.access import accounts
from mutuelle.access.policy import ANONYMOUS, allowed
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog.models import Dataset, Organisation
from mutuelle.cli import app as cli
from mutuelle.core.ids import new_id

from http_testing import LOOPBACK, member_key  # type: ignore[import-not-found]

SIZE = 2000
#: actor: (e-mail, roles by organisation slug, partner group member)
ACTORS: dict[str, tuple[str, dict[str, str], bool]] = {
    "viewer of a city": ("vera@ville-1.example", {"ville-1": "viewer"}, False),
    "editor of a city": ("eddy@ville-2.example", {"ville-2": "editor"}, False),
    "admin of the territory": ("ada@metropole.example", {"metropole": "admin"}, False),
    "partner": ("paula@partenaire.example", {}, True),
}


@pytest.fixture(scope="module")
def scale_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mutuelle.app import create_app
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.core.config import Settings

    settings = Settings(home=tmp_path_factory.mktemp("scale"))
    upgrade(settings)
    rng = random.Random(2000)
    with sessions(settings)() as session:
        metro = Organisation(id=new_id(), slug="metropole", name="Métropole", kind="territory")
        cities = [Organisation(id=new_id(), slug=f"ville-{i}", name=f"Ville {i}", kind="city",
                               parent=metro) for i in range(8)]
        partner = Organisation(id=new_id(), slug="partenaire", name="Partenaire", kind="partner")
        session.add_all([metro, *cities, partner])
        group = accounts.create_group(session, name="Partenaires", slug="partenaires")
        session.flush()
        for n in range(SIZE):
            roll = rng.random()
            dataset = Dataset(
                id=new_id(), slug=f"jeu-{n}", title=f"Jeu {n} {rng.choice(['écoles', 'budget', 'air'])}",
                access="internal" if roll < .2 else "restricted" if roll < .35 else "public",
                status="draft" if rng.random() < .1 else "published",
                organisation=rng.choice([metro, partner, *cities]), themes=["Thème"])
            session.add(dataset)
            if dataset.access == "restricted" and rng.random() < .5:
                session.flush()
                accounts.grant(session, "dataset", dataset.id, group=group)
        session.commit()
    for email, roles, in_group in ACTORS.values():
        member_key(settings, email, roles=roles)
        if in_group:
            with sessions(settings)() as session:
                accounts.add_to_group(session, accounts.get_group(session, "partenaires"),
                                      accounts.get_user(session, email))
                session.commit()
    return create_app(settings)


def _expected(app: Any, email: str | None) -> set[str]:
    from sqlalchemy import select

    with app.state.sessions() as session:
        viewer = viewer_of_user(session, accounts.get_user(session, email)) if email else ANONYMOUS
        return {d.slug for d in session.scalars(select(Dataset)) if allowed(viewer, "read", d)}


@pytest.mark.parametrize("actor", ["anonymous", *ACTORS])
def test_every_path_lists_what_the_gate_lets_each_viewer_read(
        scale_app: Any, actor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = scale_app.state.settings
    email = ACTORS[actor][0] if actor in ACTORS else None
    expected = _expected(scale_app, email)
    assert 0 < len(expected) < SIZE
    headers = member_key(settings, email, roles=ACTORS[actor][1]) if email else {}

    with TestClient(scale_app, client=LOOPBACK, headers=headers) as visitor:
        explore = visitor.get("/api/explore/v2.1/catalog/datasets",
                              params={"limit": 1, "select": "dataset_id"}).json()
        exported = visitor.get("/api/explore/v2.1/catalog/exports/json").json()
        page = visitor.get("/catalogue").text
        searched = visitor.get("/api/explore/v2.1/catalog/datasets",
                               params={"q": "ecoles", "limit": 1}).json()
        access_facet = visitor.get("/api/explore/v2.1/catalog/facets",
                                   params={"facet": "access"}).json()

    assert explore["total_count"] == len(expected), actor
    assert {d["dataset_id"] for d in exported} == expected, actor
    shown = re.search(r'class="result-count"[^>]*>\s*([\d\s\u202f\u00a0]+)', page)
    assert shown and int(re.sub(r"\D", "", shown.group(1))) == len(expected), actor
    assert searched["total_count"] == len({s for s in expected if _title_has(scale_app, s)})
    counted = {f["name"]: f["count"] for facet in access_facet["facets"] for f in facet["facets"]}
    assert sum(counted.values()) == len(expected), actor

    monkeypatch.setenv("MUTUELLE_HOME", str(settings.home))
    done = CliRunner().invoke(cli, ["datasets", "list", "--json", "--limit", str(SIZE),
                                    "--as", email or "anonymous"])
    assert done.exit_code == 0, done.output
    listed = json.loads(done.stdout)
    assert listed["total"] == len(expected) and {d["slug"] for d in listed["datasets"]} == expected


def _title_has(app: Any, slug: str) -> bool:
    from sqlalchemy import select

    with app.state.sessions() as session:
        title = session.scalar(select(Dataset.title).where(Dataset.slug == slug)) or ""
    return "écoles" in title
