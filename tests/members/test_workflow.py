"""Publishing with review and access changes, through the service the API, pages and CLI call:
editors submit, admins publish or send back, every step in the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts, audit
from mutuelle.access.policy import allowed
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core.errors import Forbidden, InvalidInput, NotFound
from mutuelle.members import workflow


@pytest.fixture
def city(session: Session):  # type: ignore[no-untyped-def]
    territory = repo.create_organisation(session, name="Territoire", slug="territoire", kind="territory")
    org = repo.create_organisation(session, name="Ville", slug="ville", parent=territory)
    other = repo.create_organisation(session, name="Voisine", slug="voisine", parent=territory)
    people = {}
    for name, where, role in [("editor", org, "editor"), ("admin", org, "admin"),
                              ("neighbour", other, "admin"), ("territory", territory, "admin")]:
        user, _ = accounts.create_user(session, email=f"{name}@example.org", password="correct horse battery")
        accounts.set_role(session, user, where, role)
        people[name] = user
    dataset = repo.create_dataset(session, organisation=org, title="Budget", slug="budget")
    dataset.versions.append(Version(number=1, status="published", parquet_path="x", source_name="x",
                                    format="csv", row_count=1, byte_size=1, checksum="0", source_checksum="0"))
    session.commit()
    return {"dataset": dataset, **people}


def _v(session: Session, city, name):  # type: ignore[no-untyped-def]
    return viewer_of_user(session, city[name])


def test_an_editor_submits_and_an_admin_publishes(session: Session, city) -> None:  # type: ignore[no-untyped-def]
    dataset = city["dataset"]
    editor, admin = _v(session, city, "editor"), _v(session, city, "admin")
    with pytest.raises(Forbidden):
        workflow.publish(session, editor, dataset)
    workflow.submit_dataset(session, editor, dataset)
    assert dataset.status == "submitted" and not allowed(_v(session, city, "neighbour"), "read", dataset)
    assert workflow.review_queue(session, admin) == [dataset]
    assert workflow.review_queue(session, _v(session, city, "territory")) == [dataset]
    assert workflow.review_queue(session, editor) == []
    workflow.publish(session, admin, dataset)
    session.commit()
    assert dataset.status == "published"
    assert [e.action for e in audit.events(session, kind="dataset", object_id=dataset.id)] == \
        ["dataset.publish", "dataset.submit"]


def test_a_neighbour_city_cannot_even_see_the_draft(session: Session, city) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        workflow.publish(session, _v(session, city, "neighbour"), city["dataset"])


def test_a_dataset_without_a_version_cannot_be_submitted(session: Session, city) -> None:  # type: ignore[no-untyped-def]
    empty = repo.create_dataset(session, organisation=city["dataset"].organisation, title="Vide", slug="vide")
    with pytest.raises(InvalidInput, match="import a file"):
        workflow.submit_dataset(session, _v(session, city, "editor"), empty)


def test_access_changes_replace_grants_and_are_audited(session: Session, city) -> None:  # type: ignore[no-untyped-def]
    dataset, admin = city["dataset"], _v(session, city, "admin")
    group = accounts.create_group(session, name="Partenaires")
    workflow.publish(session, admin, dataset)
    workflow.set_access(session, admin, dataset, "restricted", groups=[group])
    assert accounts.grants_on(session, "dataset", dataset.id) == [("group", group.id)]
    workflow.set_access(session, admin, dataset, "restricted", groups=[], users=[city["neighbour"]])
    assert accounts.grants_on(session, "dataset", dataset.id) == [("user", city["neighbour"].id)]
    assert allowed(_v(session, city, "neighbour"), "read", dataset)
    with pytest.raises(Forbidden):
        workflow.set_access(session, _v(session, city, "editor"), dataset, "public")
    with pytest.raises(InvalidInput, match="access must be"):
        workflow.set_access(session, admin, dataset, "secret")
    changes = audit.events(session, action="access.change")
    assert [e.detail["to"] for e in changes] == ["restricted", "restricted"]
