"""Indicator definitions are checked against their dataset's schema when they are saved."""

from __future__ import annotations

import pytest

from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.observatory.indicators import (
    Measure,
    define_indicator,
    delete_indicator,
    describe,
    get_indicator,
    list_indicators,
    parse_measure,
)

POP = "code_iris,pop_total,pop_75_plus,libelle,densite\n690010101,1200,140,Alpha,12.5\n"


@pytest.fixture
def population(session, add_dataset):
    add_dataset("population", POP)
    return session


def test_an_indicator_is_defined_listed_read_and_deleted(population) -> None:
    session = population
    ind = define_indicator(session, id="part-75", label="Part des 75 ans ou plus",
                           dataset="population", numerator="pop_75_plus",
                           denominator="pop_total", code_column="code_iris", scale=100,
                           unit="%", theme="Population")
    define_indicator(session, id="population", label="Population", dataset="population",
                     numerator="pop_total", code_column="code_iris", theme="Population",
                     access="internal")
    session.commit()
    assert (ind.aggregation, ind.secrecy_on, ind.secrecy_threshold) == ("ratio", "denominator", 11)
    assert [i.id for i in list_indicators(session)] == ["part-75", "population"]
    assert [i.id for i in list_indicators(session, visible=Indicator.access == "public")] == ["part-75"]
    assert get_indicator(session, "population").aggregation == "sum"
    assert describe(ind)["numerator"] == "pop_75_plus"
    delete_indicator(session, "population")
    session.commit()
    with pytest.raises(NotFound):
        get_indicator(session, "population")


@pytest.mark.parametrize("fields, message", [
    ({"numerator": "pop_80_plus"}, "unknown field 'pop_80_plus'"),
    ({"numerator": "libelle"}, "must be a number or a condition, not text"),
    ({"numerator": "sum(pop_total)"}, "not allowed in numerator"),
    ({"numerator": "pop_total, pop_75_plus"}, "must be one expression"),
    ({"denominator": None, "aggregation": "ratio"}, "needs a denominator"),
    ({"denominator": None, "secrecy_on": "denominator"}, "needs a denominator"),
    ({"code_column": "commune"}, "has no column 'commune'"),
    ({"code_column": "densite"}, "codes are text or integer"),
    ({"denominator": "@nulle-part: pop_total"}, "no dataset 'nulle-part'"),
    ({"denominator": "@population pop_total"}, "written '@dataset: expression'"),
    ({"code_level": "quartier"}, "code_level must be one of"),
    ({"scale": 0}, "scale must be a positive number"),
    ({"secrecy_threshold": -1}, "secrecy_threshold"),
    ({"aggregation": "mean"}, "aggregation must be one of"),
    ({"aggregation": "median", "secrecy_on": "numerator"}, "not a count"),
    ({"id": "Part 75"}, "invalid indicator id"),
    ({"dataset": "absent"}, "no dataset 'absent'"),
])
def test_definitions_that_cannot_be_computed_are_refused(population, fields, message) -> None:
    base = {"id": "part-75", "label": "Part", "dataset": "population",
            "numerator": "pop_75_plus", "denominator": "pop_total", "code_column": "code_iris"}
    with pytest.raises(InvalidInput, match=message):
        define_indicator(population, **{**base, **fields})
    assert list_indicators(population) == []


def test_an_id_is_defined_once_unless_replaced_and_a_refused_change_keeps_the_old(
        population) -> None:
    session = population
    fields = {"id": "pop", "label": "Population", "dataset": "population",
              "numerator": "pop_total", "code_column": "code_iris"}
    define_indicator(session, **fields)
    session.commit()
    with pytest.raises(InvalidInput, match="already exists"):
        define_indicator(session, **fields)
    define_indicator(session, **{**fields, "label": "Habitants"}, replace=True)
    session.commit()
    with pytest.raises(InvalidInput, match="unknown field"):
        define_indicator(session, **{**fields, "numerator": "nope"}, replace=True)
    session.commit()
    session.expire_all()
    stored = get_indicator(session, "pop")
    assert (stored.label, stored.numerator) == ("Habitants", "pop_total")


def test_measures_may_name_another_dataset_and_its_code_column() -> None:
    assert parse_measure(" pop_total ") == Measure("pop_total")
    assert parse_measure("@population: actifs") == Measure("actifs", "population")
    assert parse_measure("@population[code_iris]: a + b") == Measure("a + b", "population",
                                                                      "code_iris")
    with pytest.raises(InvalidInput):
        parse_measure("@population[code_iris: a")
