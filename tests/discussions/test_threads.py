"""Discussions follow their object's access: internal threads never reach outsiders, replies
and mentions notify only those who may read the thread, follows bring new versions."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts
from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from mutuelle.discussions import threads
from mutuelle.members import workflow


@pytest.fixture
def world(session: Session):  # type: ignore[no-untyped-def]
    territory = repo.create_organisation(session, name="Métropole", slug="metro", kind="territory")
    city = repo.create_organisation(session, name="Ville", slug="ville", parent=territory)
    other = repo.create_organisation(session, name="Autre", slug="autre")
    users = {}
    for name, org in [("analyst", city), ("colleague", territory), ("stranger", other)]:
        user, _ = accounts.create_user(session, email=f"{name}@example.org", password="correct horse battery")
        accounts.set_role(session, user, org, "viewer")
        users[name] = user
    public = repo.create_dataset(session, organisation=city, title="Écoles", slug="ecoles")
    public.status = "published"
    internal = repo.create_dataset(session, organisation=city, title="Santé", slug="sante", access="internal")
    internal.status = "published"
    session.commit()
    return {"users": users, "public": public, "internal": internal}


def _v(session: Session, world, name):  # type: ignore[no-untyped-def]
    return viewer_of_user(session, world["users"][name])


def test_internal_threads_are_for_members_of_the_objects_organisations(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    analyst = _v(session, world, "analyst")
    internal = threads.start_thread(session, analyst, "dataset", "ecoles", title="Mise à jour", body="Quand ?")
    public = threads.start_thread(session, analyst, "dataset", "ecoles", title="Erreur", body="Ligne 4",
                                  internal=False)
    session.commit()
    assert {t.id for t in threads.threads_on(session, _v(session, world, "colleague"), "dataset", "ecoles")} \
        == {internal.id, public.id}
    assert [t.id for t in threads.threads_on(session, _v(session, world, "stranger"), "dataset", "ecoles")] == [public.id]
    assert [t.id for t in threads.threads_on(session, ANONYMOUS, "dataset", "ecoles")] == [public.id]
    with pytest.raises(NotFound):
        threads.comments(session, ANONYMOUS, internal.id)
    with pytest.raises(NotFound):
        threads.reply(session, _v(session, world, "stranger"), internal.id, "hello")


def test_threads_on_hidden_objects_do_not_exist_for_outsiders(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    thread = threads.start_thread(session, _v(session, world, "analyst"), "dataset", "sante",
                                  title="Secret", body="…", internal=False)
    session.commit()
    for viewer in (ANONYMOUS, _v(session, world, "stranger")):
        with pytest.raises(NotFound):
            threads.threads_on(session, viewer, "dataset", "sante")
        with pytest.raises(NotFound):
            threads.get_thread(session, viewer, thread.id)


def test_replies_and_mentions_notify_only_those_who_may_read(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    analyst, colleague = _v(session, world, "analyst"), _v(session, world, "colleague")
    thread = threads.start_thread(session, analyst, "dataset", "ecoles", title="Question", body="Bonjour")
    threads.reply(session, colleague, thread.id,
                  "Voir avec @analyst@example.org et @stranger@example.org")
    session.commit()
    assert [(n.kind, n.thread_id) for n in threads.notifications(session, analyst)] == [("mention", thread.id)]
    assert threads.notifications(session, _v(session, world, "stranger")) == [], \
        "a mention does not leak an internal thread"
    assert threads.notifications(session, colleague) == []  # one's own message
    threads.mark_read(session, analyst)
    assert threads.notifications(session, analyst, unread_only=True) == []


def test_followers_hear_of_new_versions(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    analyst = _v(session, world, "analyst")
    threads.follow(session, analyst, "dataset", "ecoles")
    version = Version(number=2, status="published", parquet_path="x", source_name="x", format="csv",
                      row_count=1, byte_size=1, checksum="0", source_checksum="0")
    world["public"].versions.append(version)
    session.flush()
    workflow.version_published(session, OPERATOR, world["public"], version)
    session.commit()
    assert [n.kind for n in threads.notifications(session, analyst)] == ["version"]
    assert [f.object_id for f in threads.follows(session, analyst)] == [world["public"].id]


def test_who_may_not_write(session: Session, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthenticated):
        threads.start_thread(session, ANONYMOUS, "dataset", "ecoles", title="x", body="y", internal=False)
    with pytest.raises(Forbidden):
        threads.start_thread(session, OPERATOR, "dataset", "ecoles", title="x", body="y")
    with pytest.raises(Forbidden, match="internal"):
        threads.start_thread(session, _v(session, world, "stranger"), "dataset", "ecoles", title="x", body="y")


@pytest.mark.parametrize("title,body,field", [("", "b", "title"), ("t", "", "body"),
                                               ("a\x00b", "b", "title"), ("t", "x" * 10_001, "body")])
def test_bad_messages_are_refused_naming_the_field(session: Session, world, title: str, body: str, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=field):
        threads.start_thread(session, _v(session, world, "analyst"), "dataset", "ecoles", title=title, body=body)
