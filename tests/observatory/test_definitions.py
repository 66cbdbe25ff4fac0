"""Indicators defined by their users, on both catalogue backends: the vintage of their codes,
filters, the COG's passages, coverage, the rights to create, change and delete them, and the
refusals that name their field."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from mutuelle.access import accounts
from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.catalog.observatory_models import Indicator, Territory, TerritoryPassage
from mutuelle.core.config import Settings
from mutuelle.core.errors import Forbidden, InvalidField, NotFound, Unauthenticated
from mutuelle.observatory import compute
from mutuelle.observatory.definitions import (
    Definition,
    create_indicator,
    key_columns,
    preview,
    remove_indicator,
    update_indicator,
)
from mutuelle.observatory.indicators import source_version

RATE = Definition(id="taux", label="Taux", dataset="taux", level="iris", code_column="code_iris",
                  numerator="num", denominator="den", scale=100, secrecy=0)
#: Population of each IRIS of the SMALL referential (Alpha 3 is the largest of Alpha).
POPULATIONS = {"690010101": 100, "690010102": 100, "690010103": 800, "690020101": 150,
               "690020102": 50, "010010101": 120, "010010102": 80}


@pytest.fixture
def rates(small_referential: Session, add_rates: Callable[[], Dataset]) -> Session:
    add_rates()
    return small_referential


def _values(session: Session, settings: Settings, key: str, level: str) -> dict[str, compute.Value]:
    indicator = session.get(Indicator, key)
    assert indicator is not None
    return compute.compute_indicator(session, settings, indicator).level(level)


def test_a_definition_is_saved_with_the_vintage_its_codes_belong_to(
        session: Session, any_settings: Settings, add_territories, add_rates,  # type: ignore[no-untyped-def]
        small_rows) -> None:
    add_territories(small_rows)                                   # 2024
    add_territories([r for r in small_rows if r[0] != "iris"], vintage=2019)   # no IRIS in 2019
    older = [(lv, c.replace("69001", "69009"), n, p, cols) for lv, c, n, p, cols in small_rows]
    add_territories(older, vintage=2012)                     # other codes
    add_rates()
    made, found = create_indicator(session, any_settings, OPERATOR, RATE)
    session.commit()
    assert (made.vintage, found.vintage_reason) == (2024, "codes")
    alpha = _values(session, any_settings, "taux", "commune")["69001"]
    assert alpha.value == pytest.approx(100 * (30 + 20 + 10) / (100 + 200 + 100))


def test_the_dataset_s_keywords_may_give_the_vintage(
        small_referential: Session, any_settings: Settings, add_rates) -> None:  # type: ignore[no-untyped-def]
    dataset = add_rates()
    dataset.keywords = ["chômage", "millésime 2024"]
    small_referential.commit()
    found = preview(small_referential, any_settings, OPERATOR, RATE)
    assert (found.computed.referential.vintage, found.vintage_reason) == (2024, "metadata")


def test_filters_keep_the_rows_they_name(rates: Session, any_settings: Settings) -> None:
    found = preview(rates, any_settings, OPERATOR,
                    Definition(**{**RATE.__dict__, "filters": "num >= 20 and den > 0"}))
    communes = {r["code"]: r for r in found.results}
    assert communes["69001"]["value"] == pytest.approx(100 * (30 + 20) / (100 + 200))
    assert communes["69002"]["value"] == pytest.approx(100 * 40 / 150)
    assert found.as_json()["computation"]["filters"] == "num >= 20 and den > 0"


def test_codes_of_an_earlier_vintage_follow_the_cog_s_passages_and_are_reported(
        small_referential: Session, any_settings: Settings, add_dataset) -> None:  # type: ignore[no-untyped-def]
    small_referential.execute(insert(TerritoryPassage), [
        {"level": "commune", "from_vintage": 0, "from_code": "69003", "to_vintage": 2024,
         "to_code": "69001", "weight": 1.0}])
    small_referential.commit()
    add_dataset("habitants", "code_commune,habitants\n69001,1000\n69003,500\n69002,700\n99999,3\n")
    found = preview(small_referential, any_settings, OPERATOR, Definition(
        dataset="habitants", level="commune", code_column="code_commune", numerator="habitants",
        secrecy=0, vintage=2024))
    matching = found.as_json()["matching"]
    assert matching["passed"] == [{"from": "69003", "to": "69001"}]
    assert matching["unmatched"] == [{"code": "99999", "rows": 1}]
    assert found.computed.level("commune")["69001"].value == 1500


def test_coverage_is_the_share_of_the_population_with_data(
        session: Session, any_settings: Settings, add_territories, add_dataset,  # type: ignore[no-untyped-def]
        small_rows) -> None:
    add_territories(small_rows)
    for code, people in POPULATIONS.items():
        session.execute(update(Territory).where(Territory.level == "iris", Territory.code == code)
                        .values(population=people))
    session.commit()
    # Alpha 3 (800 of Alpha's 1,000 people) has no data
    add_dataset("part", "code_iris,num,den\n690010101,10,100\n690010102,20,100\n"
                        "690020101,30,150\n690020102,5,50\n")
    definition = Definition(dataset="part", level="iris", code_column="code_iris", numerator="num",
                            denominator="den", secrecy=0, vintage=2024)
    found = preview(session, any_settings, OPERATOR, definition)
    alpha = found.computed.level("commune")["69001"]
    assert alpha.coverage == pytest.approx(0.2) and alpha.covered == (2, 3)
    assert alpha.status == compute.PARTIAL and alpha.value is None       # under 50 %
    assert found.computed.level("commune")["69002"].coverage == pytest.approx(1.0)
    lenient = preview(session, any_settings, OPERATOR, Definition(**{**definition.__dict__,
                                                                     "min_coverage": 10}))
    alpha = lenient.computed.level("commune")["69001"]
    assert alpha.status == compute.OK and alpha.value == pytest.approx(30 / 200)
    # the EPCI of Alpha and Bêta: its communes weighted by their own coverage
    epci = lenient.computed.level("epci")["200000001"]
    assert epci.covered == (2, 2)


def test_a_dataset_s_code_columns_are_recognised_whatever_their_names(
        small_referential: Session, any_settings: Settings, add_dataset) -> None:  # type: ignore[no-untyped-def]
    dataset = add_dataset("sans-nom", "zone,secteur,valeur\n690010101,69001,3\n690010102,69001,4\n"
                                      "690020101,69002,5\n")
    keys = key_columns(any_settings, source_version(dataset, None))
    assert [(k.name, k.level) for k in keys] == [("zone", "iris"), ("secteur", "commune")]


def test_creating_needs_the_create_right_on_the_owner_and_reading_the_source(
        rates: Session, any_settings: Settings) -> None:
    session = rates
    owner = repo.get_organisation(session, "observatoire")
    other = repo.create_organisation(session, name="Autre ville", slug="autre")
    people = {}
    for name, org, role in (("editeur", owner, "editor"), ("lecteur", owner, "viewer"),
                            ("voisin", other, "editor")):
        user, _ = accounts.create_user(session, email=f"{name}@example.org",
                                       password="correct horse battery")
        accounts.set_role(session, user, org, role)
        people[name] = user
    session.commit()

    def viewer(name: str):  # type: ignore[no-untyped-def]
        return viewer_of_user(session, people[name])

    with pytest.raises(Unauthenticated):
        create_indicator(session, any_settings, ANONYMOUS, RATE)
    with pytest.raises(Forbidden):
        create_indicator(session, any_settings, viewer("lecteur"), RATE)
    with pytest.raises(Forbidden):      # the dataset's organisation owns it: not theirs
        create_indicator(session, any_settings, viewer("voisin"), RATE)
    session.rollback()
    # a neighbour's editor may own an indicator on public data in their own organisation
    mine, _ = create_indicator(session, any_settings, viewer("voisin"),
                               Definition(**{**RATE.__dict__, "id": "taux-voisin",
                                             "organisation": "autre"}))
    made, _ = create_indicator(session, any_settings, viewer("editeur"), RATE)
    session.commit()
    assert (made.organisation_id, mine.organisation_id) == (None, other.id)
    assert made.created_by == people["editeur"].id
    with pytest.raises(Forbidden):
        update_indicator(session, any_settings, viewer("voisin"), "taux", {"label": "Volé"})
    with pytest.raises(Forbidden):
        remove_indicator(session, viewer("lecteur"), "taux")
    update_indicator(session, any_settings, viewer("editeur"), "taux", {"label": "Taux révisé"})
    remove_indicator(session, viewer("voisin"), "taux-voisin")
    session.commit()
    assert session.get(Indicator, "taux").label == "Taux révisé"
    assert session.get(Indicator, "taux-voisin") is None
    with pytest.raises(NotFound):
        remove_indicator(session, viewer("editeur"), "taux-voisin")


@pytest.mark.parametrize(("changes", "field"), [
    ({"id": "nouveau"}, "id"), ({"id": "apercu"}, "id"), ({"id": ""}, "id"),
    ({"label": " "}, "label"), ({"dataset": "nulle-part"}, "dataset"),
    ({"numerator": "num +"}, "numerator"), ({"denominator": "@nulle-part: x"}, "denominator"),
    ({"min_coverage": 120}, "min_coverage"), ({"habitat_only": True, "level": "commune",
                                               "code_column": "code_iris"}, "habitat_only"),
    ({"points": "count"}, "points"), ({"level": "quartier"}, "level"),
])
def test_definitions_that_cannot_be_saved_name_their_field(
        rates: Session, any_settings: Settings, changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        create_indicator(rates, any_settings, OPERATOR, Definition(**{**RATE.__dict__, **changes}))
    assert refused.value.field == field, refused.value.message
    rates.rollback()
    assert rates.query(Indicator).count() == 0

