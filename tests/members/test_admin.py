"""Administering members through the service shared by the API, the pages and the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from mutuelle.access import accounts, audit
from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from mutuelle.members import admin
from mutuelle.members.looks import look_of


@pytest.fixture
def people(session: Session):  # type: ignore[no-untyped-def]
    territory = repo.create_organisation(session, name="Territoire", slug="territoire", kind="territory")
    city = repo.create_organisation(session, name="Ville", slug="ville", parent=territory)
    site, _ = accounts.create_user(session, email="site@example.org", password="correct horse battery",
                                   site_admin=True)
    city_admin, _ = accounts.create_user(session, email="maire@example.org", password="correct horse battery")
    accounts.set_role(session, city_admin, city, "admin")
    session.commit()
    return {"territory": territory, "city": city, "site": site, "city_admin": city_admin}


def test_site_admins_create_members_with_a_one_time_password(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    site = viewer_of_user(session, people["site"])
    user, one_time = admin.create_member(session, site, email="new@example.org")
    assert one_time and user.must_change_password
    with pytest.raises(Forbidden):
        admin.create_member(session, viewer_of_user(session, people["city_admin"]), email="x@example.org")
    with pytest.raises(Unauthenticated):
        admin.create_member(session, ANONYMOUS, email="y@example.org")
    assert audit.events(session, action="user.create")[0].detail["email"] == "new@example.org"


def test_organisation_admins_manage_their_members_only(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    city_admin = viewer_of_user(session, people["city_admin"])
    newcomer, _ = accounts.create_user(session, email="agent@example.org", password="correct horse battery")
    admin.set_member_role(session, city_admin, people["city"], newcomer, "editor")
    assert accounts.memberships(session, newcomer.id) == {people["city"].id: "editor"}
    with pytest.raises(Forbidden):
        admin.set_member_role(session, city_admin, people["territory"], newcomer, "admin")
    with pytest.raises(InvalidInput, match="role"):
        admin.set_member_role(session, city_admin, people["city"], newcomer, "mayor")


def test_organisations_are_created_at_the_top_by_site_admins_and_below_by_their_admins(
        session: Session, people) -> None:  # type: ignore[no-untyped-def]
    city_admin = viewer_of_user(session, people["city_admin"])
    quarter = admin.create_organisation(session, city_admin, name="Mairie annexe", parent=people["city"])
    assert quarter.parent_id == people["city"].id
    with pytest.raises(Forbidden):
        admin.create_organisation(session, city_admin, name="Ailleurs")
    admin.create_organisation(session, OPERATOR, name="Région", kind="territory")


def test_a_portals_look_is_checked_when_written_and_when_read(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    city_admin = viewer_of_user(session, people["city_admin"])
    org = admin.change_organisation(session, city_admin, people["city"], {
        "primary_colour": "#1f5f8b", "accent_colour": "#e4572e", "logo_url": "/static/img/logo.svg"})
    assert look_of(org).css_variables() == "--accent: #1f5f8b; --accent-dark: #1f5f8b; --portal-band: #e4572e"
    for field, value in [("primary_colour", "red; background: url(x)"), ("primary_colour", "#ffff66"),
                         ("logo_url", "javascript:alert(1)"),
                         ("logo_url", "http://insecure.example/logo.png"), ("name", "")]:
        with pytest.raises(InvalidInput, match=field):
            admin.change_organisation(session, city_admin, org, {field: value})
    org.primary_colour = "</style><script>"  # written behind the service's back
    assert look_of(org).primary_colour == ""
    with pytest.raises(Forbidden):
        admin.change_organisation(session, city_admin, people["territory"], {"name": "x"})


def test_members_manage_their_own_keys_only(session: Session, people) -> None:  # type: ignore[no-untyped-def]
    city_admin = viewer_of_user(session, people["city_admin"])
    made = admin.create_own_key(session, city_admin, name="script", scope="write")
    site = viewer_of_user(session, people["site"])
    other, _ = accounts.create_user(session, email="other@example.org", password="correct horse battery")
    with pytest.raises(NotFound):
        admin.revoke_own_key(session, viewer_of_user(session, other), made.key.id)
    with pytest.raises(Forbidden):
        admin.create_own_key(session, viewer_of_user(session, people["city_admin"], key_scope="write"))
    admin.revoke_own_key(session, site, made.key.prefix)
    assert made.key.revoked_at is not None
