"""Member-city portals: what a portal lists and which host shows which portal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mutuelle.catalog import repository as repo
from mutuelle.federation.portals import members_of_territory, portal_for_host, portal_organisations


def test_a_territory_portal_lists_its_members_and_a_city_only_itself(session: Session) -> None:
    gpso = repo.create_organisation(session, name="GPSO", slug="gpso", kind="territory")
    issy = repo.create_organisation(session, name="Issy", slug="issy", parent=gpso)
    annex = repo.create_organisation(session, name="Annexe", slug="annexe", parent=issy)
    meudon = repo.create_organisation(session, name="Meudon", slug="meudon", parent=gpso)
    assert set(portal_organisations(session, gpso)) == {gpso.id, issy.id, annex.id, meudon.id}
    assert set(portal_organisations(session, issy)) == {issy.id, annex.id}
    assert [o.slug for o in members_of_territory(session, gpso)] == ["issy", "meudon"]


def test_host_names_map_to_portals() -> None:
    setting = "data.issy.example=issy, Data.Meudon.Example=meudon,broken"
    assert portal_for_host(setting, "data.issy.example:8000") == "issy"
    assert portal_for_host(setting, "data.meudon.example") == "meudon"
    assert portal_for_host(setting, "elsewhere.example") is None
    assert portal_for_host("", "data.issy.example") is None
