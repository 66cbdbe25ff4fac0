"""What the map page's table and controls rest on: manual breaks as typed, the table of values
in each order, the bounds of the territory a map is limited to, and a portrait's comparison of
a figure with its commune and the whole territory (counts as shares)."""

from __future__ import annotations

import duckdb
import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.geo import referential
from mutuelle.observatory.compare import compare
from mutuelle.observatory.compute import OK
from mutuelle.observatory.indicators import define_indicator
from mutuelle.observatory.maps import (
    brief,
    check_sort,
    choropleth,
    parse_breaks,
    read_breaks,
    within_bounds,
)
from mutuelle.observatory.territories import comparison_json


@pytest.mark.parametrize(("text", "numbers", "unreadable"), [
    ("5;10;15", [5, 10, 15], []),
    ("12,5;20", [12.5, 20], []),             # French decimals between semicolons
    ("10,20,30", [10, 20, 30], []),          # commas alone separate
    (" 5 ; ;10; ", [5, 10], []),             # empty parts are skipped
    ("1 000;2\u202f500,5", [1000, 2500.5], []),   # spaced thousands
    ("5;dix;nan;1e999", [5], ["dix", "nan", "1e999"]),
    ("", [], []),
])
def test_manual_breaks_are_read_as_typed(text: str, numbers: list[float],
                                         unreadable: list[str]) -> None:
    assert read_breaks(text) == (numbers, unreadable)


def test_the_api_refuses_breaks_that_are_no_number() -> None:
    assert parse_breaks("5;10") == [5, 10] and parse_breaks(" ; ") is None
    with pytest.raises(InvalidInput, match="'dix'"):
        parse_breaks("5;dix")


@pytest.fixture
def rate(small_referential, add_rates):  # type: ignore[no-untyped-def]
    add_rates()
    found = define_indicator(small_referential, id="taux", label="Taux", dataset="taux",
                             numerator="num", denominator="den", code_column="code_iris",
                             scale=100, unit="%", secrecy_on="none")
    small_referential.commit()
    return found


@pytest.fixture
def count(small_referential, rate):  # type: ignore[no-untyped-def]
    found = define_indicator(small_referential, id="effectif", label="Effectif", dataset="taux",
                             numerator="num", code_column="code_iris", unit="personnes",
                             aggregation="sum", secrecy_on="none")
    small_referential.commit()
    return found


def codes(view: dict) -> list[str]:  # type: ignore[type-arg]
    return [r["code"] for r in view["results"]]


def test_the_table_of_values_comes_in_the_order_asked_for(
        any_settings: Settings, small_referential, rate) -> None:  # type: ignore[no-untyped-def]
    def table(sort: str | None, rows: int | None = 100) -> dict:  # type: ignore[type-arg]
        return choropleth(small_referential, any_settings, rate, level="iris", classes=3,
                          rows=rows, sort=sort)

    by_name = table(None)
    assert [r["name"] for r in by_name["results"]] == [
        "Alpha 1", "Alpha 2", "Alpha 3", "Bêta 1", "Bêta 2", "Gamma 1", "Gamma 2"]
    assert by_name["sort"] == "name"
    assert codes(table("-name")) == codes(by_name)[::-1]
    values = {r["code"]: r["value"] for r in by_name["results"] if r["status"] == OK}
    highest = table("-value")
    shown = [r["value"] for r in highest["results"]]
    assert shown[:len(values)] == sorted(values.values(), reverse=True)
    # without a published value: last, in both orders
    assert highest["results"][-1]["code"] == "010010102"
    assert table("value")["results"][-1]["code"] == "010010102"
    assert [r["value"] for r in table("value")["results"]][:len(values)] == sorted(values.values())
    assert codes(table("code")) == sorted(codes(by_name))
    parents = [r["parent"]["name"] for r in table("parent")["results"]]
    assert parents == sorted(parents, key=lambda n: n.replace("ê", "e"))
    # a page of it, and all of it
    assert codes(table("-value", rows=2)) == codes(highest)[:2]
    assert codes(table("-value", rows=None)) == codes(highest)
    for bad in ("colour", "--value", ""):
        with pytest.raises(InvalidInput, match="sort"):
            check_sort(bad)


def test_the_bounds_of_a_territory_the_map_is_limited_to(any_settings: Settings) -> None:
    path = referential.geometry_path(any_settings, 2024, "iris")
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql("""COPY (SELECT * FROM (VALUES
        ('690010101', '69001', 4.80, 45.70, 4.82, 45.72),
        ('690010102', '69001', 4.82, 45.71, 4.85, 45.74),
        ('690020101', '69002', 4.90, 45.80, 4.95, 45.85))
        AS t(code, commune, xmin, ymin, xmax, ymax)) TO '""" + str(path) + "' (FORMAT parquet)")
    assert within_bounds(any_settings, 2024, "iris", ("commune", "69001")) == pytest.approx(
        [4.80, 45.70, 4.85, 45.74])
    assert within_bounds(any_settings, 2024, "iris", ("commune", "99999")) is None
    # a level without contours, a parent the file has no column of: nothing to zoom to
    assert within_bounds(any_settings, 2024, "commune", ("commune", "69001")) is None
    assert within_bounds(any_settings, 2024, "iris", ("epci", "200000001")) is None


def test_a_portrait_compares_a_figure_with_its_commune_and_territory(
        any_settings: Settings, small_referential, rate, count) -> None:  # type: ignore[no-untyped-def]
    assert brief(count)["count"] is True and brief(rate)["count"] is False
    ratio = comparison_json(compare(small_referential, any_settings, rate, "iris", "690010101"),
                            count=False)
    assert [(r["role"], r["level"], r["code"]) for r in ratio["references"]] == [
        ("parent", "commune", "69001"), ("whole", "territoire", ratio["whole"]["code"])]
    assert ratio["references"][0]["difference"] == pytest.approx(30 - 15)
    assert ratio["references"][0]["share"] is None
    people = comparison_json(compare(small_referential, any_settings, count, "iris", "690010101"),
                             count=True)
    commune, whole = people["references"]
    assert commune["share"] == pytest.approx(30 / 60) and whole["share"] == pytest.approx(30 / 140)
    assert commune["difference"] is None and people["count"] is True
