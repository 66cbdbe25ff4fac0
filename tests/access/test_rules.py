"""The rules of ``access.policy`` on a real catalogue: inherited roles, access levels, grants,
drafts, indicators bounded by their source, read-only keys; and the SQL filters giving exactly
the objects the Python rule allows, for every kind of member."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access import accounts
from mutuelle.access.policy import (
    ANONYMOUS,
    OPERATOR,
    allowed,
    may_define_indicators,
    require,
    visible_datasets,
    visible_indicators,
    visible_scenarios,
)
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog.models import Dataset
from mutuelle.catalog.observatory_models import Indicator, Scenario
from mutuelle.core.errors import Forbidden, NotFound, Unauthenticated

from conftest import Federation  # type: ignore[import-not-found]


def _viewer(session: Session, fed: Federation, name: str, scope: str | None = None):  # type: ignore[no-untyped-def]
    return viewer_of_user(session, fed.users[name], key_scope=scope)


def test_roles_hold_downwards_never_upwards_nor_sideways(session: Session, federation: Federation) -> None:
    fed = federation
    territory_ds = fed.dataset(session, fed.territory, status="draft")
    a_ds = fed.dataset(session, fed.city_a, status="draft")
    b_ds = fed.dataset(session, fed.city_b, status="draft")
    territory_admin = _viewer(session, fed, "territory_admin")
    a_editor = _viewer(session, fed, "a_editor")
    assert allowed(territory_admin, "publish", a_ds) and allowed(territory_admin, "edit", b_ds)
    assert allowed(a_editor, "edit", a_ds)
    assert not allowed(a_editor, "edit", b_ds) and not allowed(a_editor, "read", b_ds)
    assert not allowed(a_editor, "edit", territory_ds)
    assert not allowed(a_editor, "publish", a_ds), "editors submit, admins publish"
    assert allowed(a_editor, "submit", a_ds)
    assert allowed(_viewer(session, fed, "a_admin"), "publish", a_ds)


def test_access_levels_of_published_datasets(session: Session, federation: Federation) -> None:
    fed = federation
    public = fed.dataset(session, fed.city_a, access="public")
    internal = fed.dataset(session, fed.city_a, access="internal")
    restricted = fed.dataset(session, fed.city_a, access="restricted")
    territory_internal = fed.dataset(session, fed.territory, access="internal")
    a_viewer = _viewer(session, fed, "a_viewer")
    b_editor = _viewer(session, fed, "b_editor")
    partner = _viewer(session, fed, "partner_viewer")
    outsider = _viewer(session, fed, "outsider")
    assert all(allowed(v, "read", public) for v in (ANONYMOUS, outsider, partner, a_viewer))
    assert allowed(a_viewer, "read", internal)
    assert allowed(_viewer(session, fed, "territory_admin"), "read", internal)
    assert not allowed(b_editor, "read", internal), "a sibling city is not in the owner's tree"
    assert not allowed(partner, "read", internal)
    assert not allowed(ANONYMOUS, "read", internal) and not allowed(outsider, "read", internal)
    assert allowed(a_viewer, "read", territory_internal), "a member city reads its territory's internal data"
    assert not allowed(a_viewer, "read", restricted), "restricted: named groups and users only"
    assert allowed(_viewer(session, fed, "a_editor"), "read", restricted), "its editors manage it"


def test_grants_open_restricted_objects_to_groups_and_users(session: Session, federation: Federation) -> None:
    fed = federation
    restricted = fed.dataset(session, fed.city_a, access="restricted")
    group = accounts.create_group(session, name="Analystes CPAM")
    accounts.add_to_group(session, group, fed.users["partner_viewer"])
    assert not allowed(_viewer(session, fed, "partner_viewer"), "read", restricted)
    accounts.grant(session, "dataset", restricted.id, group=group)
    assert allowed(_viewer(session, fed, "partner_viewer"), "read", restricted)
    assert not allowed(_viewer(session, fed, "outsider"), "read", restricted)
    accounts.grant(session, "dataset", restricted.id, user=fed.users["outsider"])
    assert allowed(_viewer(session, fed, "outsider"), "read", restricted)
    accounts.revoke_grant(session, "dataset", restricted.id, grantee_kind="group", grantee_id=group.id)
    assert not allowed(_viewer(session, fed, "partner_viewer"), "read", restricted)


def test_drafts_and_submissions_are_for_editors_only(session: Session, federation: Federation) -> None:
    fed = federation
    for status in ("draft", "submitted"):
        ds = fed.dataset(session, fed.city_a, status=status)
        assert not allowed(_viewer(session, fed, "a_viewer"), "read", ds)
        assert not allowed(ANONYMOUS, "read", ds)
        assert allowed(_viewer(session, fed, "a_editor"), "read", ds)


def test_read_only_keys_never_write(session: Session, federation: Federation) -> None:
    fed = federation
    ds = fed.dataset(session, fed.city_a)
    reader = _viewer(session, fed, "a_admin", scope="read")
    writer = _viewer(session, fed, "a_admin", scope="write")
    assert allowed(reader, "read", ds) and not allowed(reader, "edit", ds)
    assert allowed(writer, "publish", ds)
    with pytest.raises(Forbidden, match="may only read"):
        require(reader, "edit", ds, what="dataset x")


def test_refusals_hide_what_one_may_not_know(session: Session, federation: Federation) -> None:
    fed = federation
    hidden = fed.dataset(session, fed.city_b, access="internal")
    public = fed.dataset(session, fed.city_b)
    with pytest.raises(NotFound):
        require(_viewer(session, fed, "a_editor"), "edit", hidden, what="dataset x")
    with pytest.raises(Forbidden):
        require(_viewer(session, fed, "a_editor"), "edit", public, what="dataset x")
    with pytest.raises(Unauthenticated):
        require(ANONYMOUS, "edit", public, what="dataset x")


def test_an_indicator_is_never_looser_than_its_source(session: Session, federation: Federation) -> None:
    fed = federation
    internal_source = fed.dataset(session, fed.city_a, access="internal")
    indicator = Indicator(id="taux", label="Taux", dataset_id=internal_source.id, code_column="c",
                          numerator="x", access="public")
    session.add(indicator)
    session.flush()
    assert not allowed(ANONYMOUS, "read", indicator)
    assert allowed(_viewer(session, fed, "a_viewer"), "read", indicator)
    visible = session.scalars(select(Indicator.id).where(visible_indicators(ANONYMOUS))).all()
    assert "taux" not in visible


def test_defining_indicators_is_for_editors_and_changing_one_for_its_owners_editors(
        session: Session, federation: Federation) -> None:
    fed = federation
    source = fed.dataset(session, fed.city_a)
    indicator = Indicator(id="taux-a", label="Taux", dataset_id=source.id, code_column="c",
                          numerator="x", access="public")
    session.add(indicator)
    session.flush()
    a_editor, b_editor = _viewer(session, fed, "a_editor"), _viewer(session, fed, "b_editor")
    a_viewer = _viewer(session, fed, "a_viewer")
    assert may_define_indicators(a_editor) and may_define_indicators(b_editor)
    assert not may_define_indicators(a_viewer) and not may_define_indicators(ANONYMOUS)
    assert not may_define_indicators(_viewer(session, fed, "a_editor", scope="read"))
    # created in an organisation by its editors; owned by the source's organisation by default
    assert allowed(a_editor, "create", fed.city_a) and not allowed(b_editor, "create", fed.city_a)
    assert allowed(a_editor, "edit", indicator) and allowed(a_editor, "delete", indicator)
    assert not allowed(b_editor, "edit", indicator) and not allowed(a_viewer, "edit", indicator)
    # city B's editors may own one on city A's public data: then they, not A's, change it
    indicator.organisation_id = fed.city_b.id
    assert allowed(b_editor, "edit", indicator) and not allowed(a_editor, "edit", indicator)


def test_sql_filters_agree_with_the_rule_for_every_member(session: Session, federation: Federation) -> None:
    fed = federation
    group = accounts.create_group(session, name="Partenaires")
    accounts.add_to_group(session, group, fed.users["partner_viewer"])
    for org in (fed.territory, fed.city_a, fed.city_b, fed.partner):
        for access in ("public", "internal", "restricted"):
            for status in ("draft", "submitted", "published"):
                ds = fed.dataset(session, org, access=access, status=status)
                session.add(Indicator(id=f"i-{ds.slug}", label="i", dataset_id=ds.id, code_column="c",
                                      numerator="x", access=access))
                session.add(Scenario(title=ds.slug, access=access, organisation_id=org.id))
                if access == "restricted" and org is fed.city_b:
                    accounts.grant(session, "dataset", ds.id, group=group)
                    accounts.grant(session, "indicator", f"i-{ds.slug}", group=group)
    session.flush()
    datasets = session.scalars(select(Dataset)).all()
    indicators = session.scalars(select(Indicator)).all()
    scenarios = session.scalars(select(Scenario)).all()
    viewers = [ANONYMOUS, OPERATOR] + [_viewer(session, fed, name) for name in fed.users]
    for viewer in viewers:
        by_sql = set(session.scalars(select(Dataset.id).where(visible_datasets(viewer))))
        assert by_sql == {d.id for d in datasets if allowed(viewer, "read", d)}, viewer.name
        by_sql = set(session.scalars(select(Indicator.id).where(visible_indicators(viewer))))
        assert by_sql == {i.id for i in indicators if allowed(viewer, "read", i)}, viewer.name
        by_sql = set(session.scalars(select(Scenario.id).where(visible_scenarios(viewer))))
        assert by_sql == {s.id for s in scenarios if allowed(viewer, "read", s)}, viewer.name
    # and the rule is not trivially all or nothing
    partner = _viewer(session, fed, "partner_viewer")
    seen = {d.id for d in datasets if allowed(partner, "read", d)}
    assert 0 < len(seen) < len(datasets)
