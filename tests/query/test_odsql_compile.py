"""ODSQL compiled to DuckDB SQL and run on a real table of ten job offers."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from sqlglot import exp

from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import (
    QueryRequest,
    UnknownField,
    build_count,
    build_facet,
    build_query,
)
from mutuelle.query.odsql.parser import MAX_TREE_DEPTH, parse_where

Q = QueryRequest
Ids = Callable[..., list[int]]
Run = Callable[..., list[dict[str, Any]]]
PARIS_WKT = "POINT(2.3522 48.8566)"


def all_ids(offers: list[Any], keep: Callable[[Any], bool]) -> list[int]:
    return [o.id for o in offers if keep(o)]


# -- select ------------------------------------------------------------------------------------

def test_no_select_returns_every_column_in_schema_order(run: Run, schema: dict[str, str]
                                                          ) -> None:
    rows = run(Q(limit=1, order_by="id"))
    assert list(rows[0]) == list(schema)


def test_fields_aliases_literals_and_arithmetic(run: Run) -> None:
    rows = run(Q(select="id, salary * 12 as yearly, salary + 100, salary / 0 as nothing, "
                        "'x' as label, 2.5 as k, `contract type`", where=["id = 1"]))
    assert rows == [{"id": 1, "yearly": 38400.0, "salary + 100": 3300, "nothing": None,
                     "label": "x", "k": 2.5, "contract type": "CDI"}]


def test_include_and_exclude_patterns_with_wildcards(run: Run, schema: dict[str, str]) -> None:
    assert list(run(Q(select="include(c*)", limit=1))[0]) == ["city", "created",
                                                             "contract type"]
    assert list(run(Q(select="exclude(c*), exclude(geo)", limit=1))[0]) == [
        "id", "title", "salary", "rate", "remote", "published"]
    assert list(run(Q(select="*, exclude(?ity)", limit=1))[0]) == [
        n for n in schema if n != "city"]


def test_aggregates_over_the_whole_table(run: Run, offers: list[Any]) -> None:
    salaries = [o.salary for o in offers if o.salary is not None]
    row = run(Q(select="count(*), count(salary), count(distinct city) as cities, avg(salary), "
                       "sum(salary), min(salary), max(published), median(salary), "
                       "percentile(salary, 90) as p90"))[0]
    assert row["count(*)"] == 10
    assert row["count(salary)"] == 9
    assert row["cities"] == 5
    assert row["avg(salary)"] == pytest.approx(statistics.mean(salaries))
    assert row["sum(salary)"] == sum(salaries)
    assert row["min(salary)"] == min(salaries)
    assert row["max(published)"] == max(o.published for o in offers)
    assert row["median(salary)"] == statistics.median(salaries)
    assert row["p90"] == pytest.approx(statistics.quantiles(salaries, n=10,
                                                            method="inclusive")[-1])


def test_aggregates_combine_with_arithmetic(run: Run) -> None:
    row = run(Q(select="sum(salary) / count(salary) as mean, max(salary) - min(salary)"))[0]
    assert row["mean"] == pytest.approx(25500 / 9)
    assert row["max(salary) - min(salary)"] == 2700


def test_bbox_is_the_envelope_of_the_geometries(con: duckdb.DuckDBPyConnection,
                                                schema: dict[str, str], source: exp.Expression,
                                                offers: list[Any]) -> None:
    sql = build_query(Q(select="bbox(geo) as box"), schema, source).sql("duckdb")
    row = con.execute(
        f"SELECT ST_XMin(box), ST_YMin(box), ST_XMax(box), ST_YMax(box) FROM ({sql})").fetchone()
    assert row is not None
    xmin, ymin, xmax, ymax = row
    points = [o.geo for o in offers if o.geo]
    assert (xmin, xmax) == (min(p[0] for p in points), max(p[0] for p in points))
    assert (ymin, ymax) == (min(p[1] for p in points), max(p[1] for p in points))


def test_date_parts_follow_the_request_time_zone(run: Run) -> None:
    select = "year(created), month(created), day(created), hour(created), minute(created), " \
             "second(created), year(published)"
    utc = run(Q(select=select, where=["id = 8"]))[0]
    paris = run(Q(select=select, where=["id = 8"], timezone="Europe/Paris"))[0]
    assert list(utc.values()) == [2023, 12, 31, 23, 59, 0, 2023]
    assert list(paris.values()) == [2024, 1, 1, 0, 59, 0, 2023]


def test_date_format_translates_java_patterns(run: Run) -> None:
    rows = run(Q(select="date_format(published, 'yyyy-MM') as m, "
                        "date_format(created, \"dd/MM/yy HH'h'mm\") as t", where=["id = 2"],
                 timezone="Europe/Paris"))
    assert rows == [{"m": "2024-02", "t": "04/02/24 00h30"}]


def test_now_is_a_datetime(where_ids: Ids) -> None:
    assert len(where_ids("published < now() and created < now()")) == 10


# -- where -------------------------------------------------------------------------------------

def test_boolean_logic_and_parentheses(where_ids: Ids, offers: list[Any]) -> None:
    assert where_ids("(city = 'Paris' or city = 'Lyon') and not salary > 3000") == all_ids(
        offers, lambda o: o.city in ("Paris", "Lyon") and not (o.salary or 0) > 3000)
    assert where_ids("city = 'Paris' or city = 'Lyon' and salary > 3000") == all_ids(
        offers, lambda o: o.city == "Paris")


def test_comparisons_on_numbers_text_and_dates(where_ids: Ids, offers: list[Any]) -> None:
    assert where_ids("salary >= 3000") == all_ids(offers, lambda o: (o.salary or 0) >= 3000)
    assert where_ids("rate < 0.6") == all_ids(offers, lambda o: o.rate is not None
                                              and o.rate < 0.6)
    assert where_ids("salary != 1800 and salary <= 2300") == [3, 5, 10]
    assert where_ids("city > 'M'") == all_ids(offers, lambda o: (o.city or "") > "M")
    assert where_ids("published >= date'2024-05-01'") == all_ids(
        offers, lambda o: o.published >= date(2024, 5, 1))
    assert where_ids("published < '2024-01-01'") == [7, 8]
    assert where_ids("salary * 12 > 40000 and rate = 1") == [2, 8]


def test_colon_is_equality_and_a_period_prefix_on_dates(where_ids: Ids) -> None:
    assert where_ids("city:'Lyon'") == [3, 4]
    assert where_ids("city:Lyon") == [3, 4]
    assert where_ids("published:'2024/05'") == [4, 5]
    assert where_ids("published:2023") == [7, 8]
    assert where_ids("created:'2024-01-01'", timezone="Europe/Paris") == [8]


def test_datetime_literals_use_the_request_time_zone_unless_they_say_theirs(
        where_ids: Ids) -> None:
    assert where_ids("created >= date'2024-02-04'") == [3, 4, 5, 6, 9, 10]
    assert where_ids("created >= date'2024-02-04'", timezone="Europe/Paris") == [
        2, 3, 4, 5, 6, 9, 10]
    assert where_ids("created < date'2023-12-01T08:00:00Z'") == [7]
    assert where_ids("created < date'2023-11-30T09:46:00+02:00'") == [7]
    assert where_ids("created < date'2023-11-30T09:45:00+02:00'") == []


def test_in_lists(where_ids: Ids) -> None:
    assert where_ids('city in ("Lyon", "Nantes")') == [3, 4, 6]
    assert where_ids("salary not in (1800, 1900, 2100)") == [1, 2, 4, 6, 8, 10]
    assert where_ids("published in ('2024-01-15', date'2024-03-01')") == [1, 9]


def test_ranges_with_inclusive_and_exclusive_ends(where_ids: Ids) -> None:
    assert where_ids("salary in [1900..2300]") == [3, 5, 10]
    assert where_ids("salary in ]1900..2300[") == [5]
    assert where_ids("salary in [1900..2300[") == [3, 5]
    assert where_ids("salary in ]1900..2300]") == [5, 10]
    assert where_ids("salary in [4000..*]") == [2, 8]
    assert where_ids("salary not in [2000..*]") == [3, 7]
    assert where_ids("published in [date'2024-02'..date'2024-03'[") == [2, 3]


def test_null_and_boolean_tests(where_ids: Ids) -> None:
    assert where_ids("city is null") == [9]
    assert where_ids("salary is not null and geo is not null") == [1, 2, 3, 4, 5, 6, 7, 8, 10]
    assert where_ids("remote is true") == [1, 6, 8]
    assert where_ids("remote is false") == [2, 3, 4, 5, 7, 10]
    assert where_ids("remote is not true") == [2, 3, 4, 5, 7, 9, 10]
    assert where_ids("remote") == [1, 6, 8]
    assert where_ids("remote = false") == [2, 3, 4, 5, 7, 10]


def test_within_distance_is_exact_in_metres_and_other_units(where_ids: Ids) -> None:
    centre = f"geom'{PARIS_WKT}'"
    assert where_ids(f"within_distance(geo, {centre}, 1499m)") == [1]
    assert where_ids(f"within_distance(geo, {centre}, 1501m)") == [1, 7]
    assert where_ids(f"within_distance(geo, {centre}, 1.499km)") == [1]
    assert where_ids(f"within_distance(geo, {centre}, 1.501 km)") == [1, 7]
    assert where_ids(f"within_distance(geo, {centre}, 4918ft)") == [1]    # 1499.0 m
    assert where_ids(f"within_distance(geo, {centre}, 4925ft)") == [1, 7]  # 1501.1 m
    assert where_ids(f"within_distance(geo, {centre}, 1640yd)") == [1]    # 1499.6 m
    assert where_ids(f"within_distance(geo, {centre}, 0.933mi)") == [1, 7]  # 1501.5 m


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lon, lat) points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


@pytest.mark.parametrize("km", [4.3, 4.5, 300, 400, 600])
def test_within_distance_agrees_with_haversine_far_away(km: float, where_ids: Ids,
                                                        offers: list[Any]) -> None:
    paris = offers[0].geo
    expected = all_ids(offers, lambda o: o.geo is not None
                       and haversine_m(paris, o.geo) <= km * 1000)
    assert where_ids(f"within_distance(geo, geom'{PARIS_WKT}', {km}km)") == expected


def test_in_bbox_takes_two_corners_in_any_order(where_ids: Ids) -> None:
    assert where_ids("in_bbox(geo, 48.8, 2.2, 48.9, 2.5)") == [1, 2, 7, 10]
    assert where_ids("in_bbox(geo, 48.9, 2.5, 48.8, 2.2)") == [1, 2, 7, 10]
    assert where_ids("in_bbox(geo, 43, -2, 46, 6)") == [3, 4, 5, 8]


def test_geometry_predicates_take_wkt_or_geojson(where_ids: Ids) -> None:
    square = "POLYGON((2.2 48.8, 2.5 48.8, 2.5 48.9, 2.2 48.9, 2.2 48.8))"
    geojson = ('{"type": "Polygon", "coordinates": [[[2.2, 48.8], [2.5, 48.8], [2.5, 48.9], '
               '[2.2, 48.9], [2.2, 48.8]]]}')
    assert where_ids(f"intersects(geo, geom'{square}')") == [1, 2, 7, 10]
    assert where_ids(f"within(geo, geom'{geojson}')") == [1, 2, 7, 10]
    assert where_ids(f"disjoint(geo, geom'{square}')") == [3, 4, 5, 6, 8]
    assert where_ids(f"intersects(geo, geom'{PARIS_WKT}')") == [1]


# -- group_by ----------------------------------------------------------------------------------

def test_group_by_fields_and_aliases_are_output_columns(run: Run) -> None:
    rows = run(Q(select="count(*) as n, avg(salary)", group_by="city as ville",
                 order_by="n desc, ville"))
    assert list(rows[0]) == ["ville", "n", "avg(salary)"]
    assert [(r["ville"], r["n"]) for r in rows] == [
        ("Paris", 4), ("Lyon", 2), ("Bordeaux", 1), ("Marseille", 1), ("Nantes", 1), (None, 1)]


def test_group_by_alone_lists_distinct_keys(run: Run) -> None:
    rows = run(Q(group_by="`contract type`, remote", order_by="`contract type`, remote"))
    assert rows[0] == {"contract type": "CDD", "remote": False}
    assert len(rows) == 5


def test_group_by_numeric_range_step_gives_the_bucket_floor(run: Run) -> None:
    rows = run(Q(select="count(*)", group_by="range(salary, 1000)", order_by="range(salary, 1000)"))
    assert [(r["range(salary, 1000)"], r["count(*)"]) for r in rows] == [
        (1000, 2), (2000, 3), (3000, 2), (4000, 2), (None, 1)]
    rows = run(Q(select="count(*) as n", group_by="range(rate, 0.25) as r", order_by="r"))
    assert [(r["r"], r["n"]) for r in rows] == [(0.5, 4), (0.75, 1), (1.0, 4), (None, 1)]


def test_group_by_range_with_explicit_edges_labels_each_interval(run: Run) -> None:
    rows = run(Q(select="count(*) as n", group_by="range(salary, *, 2000, 3000, *) as band",
                 order_by="band"))
    assert [(r["band"], r["n"]) for r in rows] == [
        ("[*, 2000[", 2), ("[2000, 3000[", 3), ("[3000, *[", 4), (None, 1)]
    rows = run(Q(select="count(*) as n", group_by="range(salary, 2000, 3000) as band",
                 order_by="band"))
    assert [(r["band"], r["n"]) for r in rows] == [("[2000, 3000[", 3), (None, 7)]


def test_group_by_date_ranges_and_parts(run: Run) -> None:
    rows = run(Q(select="count(*) as n", group_by="range(published, 1 month) as m",
                 where=["published >= date'2024'"], order_by="m"))
    assert [(r["m"], r["n"]) for r in rows] == [
        (date(2024, 1, 1), 1), (date(2024, 2, 1), 2), (date(2024, 3, 1), 2),
        (date(2024, 5, 1), 2), (date(2024, 6, 1), 1)]
    rows = run(Q(select="count(*) as n", group_by="range(created, 1 year) as y", order_by="y",
                 timezone="Europe/Paris"))
    assert [(r["y"], r["n"]) for r in rows] == [(datetime(2023, 1, 1), 1),
                                                (datetime(2024, 1, 1), 9)]
    rows = run(Q(select="count(*) as n", group_by="year(published), month(published)",
                 order_by="year(published), month(published)", limit=2))
    assert rows == [{"year(published)": 2023, "month(published)": 11, "n": 1},
                    {"year(published)": 2023, "month(published)": 12, "n": 1}]
    rows = run(Q(select="count(*)", group_by="date_format(published, 'yyyy') as y",
                 order_by="y desc"))
    assert [(r["y"], r["count(*)"]) for r in rows] == [("2024", 8), ("2023", 2)]


def test_select_may_name_a_group_alias(run: Run) -> None:
    rows = run(Q(select="y, count(*) as n", group_by="year(published) as y", order_by="y"))
    assert rows == [{"y": 2023, "n": 2}, {"y": 2024, "n": 8}]


def test_select_may_repeat_a_group_expression(run: Run) -> None:
    rows = run(Q(select="city, year(published) as y, count(*) as n",
                 group_by="city, year(published)", where=["city = 'Paris'"], order_by="y"))
    assert rows == [{"city": "Paris", "year(published)": 2023, "y": 2023, "n": 1},
                    {"city": "Paris", "year(published)": 2024, "y": 2024, "n": 3}]


# -- order_by, limit, offset -------------------------------------------------------------------

def test_order_by_fields_descending_with_nulls_last(run: Run) -> None:
    rows = run(Q(select="id", order_by="salary desc, id"))
    assert [r["id"] for r in rows] == [8, 2, 1, 6, 4, 10, 5, 3, 7, 9]
    rows = run(Q(select="id", order_by="salary asc"))
    assert [r["id"] for r in rows][-1] == 9


def test_order_by_aliases_and_aggregates(run: Run) -> None:
    rows = run(Q(select="city, salary * 2 as twice", order_by="twice", where=["city = 'Lyon'"]))
    assert [r["twice"] for r in rows] == [3800.0, 5200.0]
    rows = run(Q(select="sum(salary) as total", group_by="city", order_by="count(*) desc, city",
                 limit=2))
    assert rows == [{"city": "Paris", "total": 11400}, {"city": "Lyon", "total": 4500}]


def test_random_order_is_deterministic_with_a_seed(run: Run) -> None:
    def order(seed: int) -> list[int]:
        return [r["id"] for r in run(Q(select="id", order_by=f"random({seed})"))]

    assert order(7) == order(7)
    assert sorted(order(7)) == list(range(1, 11))
    assert len({tuple(order(seed)) for seed in range(5)}) > 1
    grouped = run(Q(select="count(*)", group_by="city", order_by="random(3)"))
    assert grouped == run(Q(select="count(*)", group_by="city", order_by="random(3)"))


def test_limit_and_offset(run: Run) -> None:
    rows = run(Q(select="id", order_by="id", limit=3, offset=4))
    assert [r["id"] for r in rows] == [5, 6, 7]
    assert run(Q(select="id", limit=0)) == []
    with pytest.raises(QueryError):
        build_query(Q(limit=-1), {}, exp.to_table("t"))


# -- refine, exclude, count, facets ------------------------------------------------------------

def test_refine_and_exclude(where_ids: Ids) -> None:
    assert where_ids([], refine=["city:Paris"]) == [1, 2, 7, 10]
    assert where_ids([], refine=["city:Paris", "remote:false"]) == [2, 7, 10]
    assert where_ids([], refine=["published:2024/02"]) == [2, 3]
    assert where_ids([], refine=["published:2023"]) == [7, 8]
    assert where_ids([], refine=["created:2024/01/01"], timezone="Europe/Paris") == [8]
    assert where_ids([], refine=["salary:1800"]) == [7]
    assert where_ids([], refine=["rate:0.5"]) == [1, 7]
    assert where_ids("salary > 2000", exclude=["city:Paris"]) == [4, 5, 6, 8]
    assert where_ids([], exclude=["remote:true"]) == [2, 3, 4, 5, 7, 9, 10]


def test_refine_errors_name_their_clause(schema: dict[str, str], source: exp.Expression
                                         ) -> None:
    for refine, clause in (("salary:abc", "refine"), ("published:2024-13", "refine"),
                           ("nofield", "refine"), ("geo:1", "refine")):
        with pytest.raises(QueryError) as info:
            build_query(Q(refine=[refine]), schema, source)
        assert info.value.clause == clause
    with pytest.raises(UnknownField) as unknown:
        build_query(Q(exclude=["ghost:1"]), schema, source)
    assert unknown.value.clause == "exclude" and unknown.value.field == "ghost"


def test_count_of_rows_and_of_groups(con: duckdb.DuckDBPyConnection, schema: dict[str, str],
                                     source: exp.Expression) -> None:
    def count(req: QueryRequest) -> int:
        row = con.execute(build_count(req, schema, source).sql("duckdb")).fetchone()
        assert row is not None
        return int(row[0])

    assert count(Q()) == 10
    assert count(Q(where=["salary > 2000"], limit=2, order_by="id")) == 7
    assert count(Q(group_by="city")) == 6
    assert count(Q(select="count(*)", group_by="city", where=["city != 'Paris'"])) == 4
    assert count(Q(select="avg(salary)")) == 1


def test_facets_count_values_honouring_filters(con: duckdb.DuckDBPyConnection,
                                               schema: dict[str, str], source: exp.Expression
                                               ) -> None:
    def facet(name: str, req: QueryRequest | None = None, **kwargs: Any
              ) -> list[tuple[Any, int]]:
        sql = build_facet(name, req or Q(), schema, source, **kwargs).sql("duckdb")
        return [(v, c) for v, c in con.execute(sql).fetchall()]

    assert facet("city") == [("Paris", 4), ("Lyon", 2), ("Bordeaux", 1), ("Marseille", 1),
                             ("Nantes", 1)]
    assert facet("city", sort="value", limit=2) == [("Bordeaux", 1), ("Lyon", 2)]
    assert facet("city", sort="-value", limit=1) == [("Paris", 4)]
    assert facet("city", sort="count", limit=1) == [("Bordeaux", 1)]
    assert facet("city", Q(where=["salary > 3000"], exclude=["remote:true"])) == [("Paris", 1)]
    assert facet("published") == [("2024", 8), ("2023", 2)]
    assert facet("published", Q(refine=["published:2024"]), date_level="month",
                 sort="value") == [("2024/01", 1), ("2024/02", 2), ("2024/03", 2),
                                   ("2024/05", 2), ("2024/06", 1)]
    assert facet("created", Q(timezone="Europe/Paris"), sort="value") == [("2023", 1),
                                                                          ("2024", 9)]
    assert facet("remote") == [(False, 6), (True, 3)]
    with pytest.raises(QueryError):
        facet("geo")
    with pytest.raises(UnknownField):
        facet("ghost")
    with pytest.raises(QueryError):
        facet("city", sort="sideways")


def test_read_parquet_sources_are_aliased_for_random_order(run: Run, parquet_path: Path) -> None:
    source = exp.func("read_parquet", exp.Literal.string(str(parquet_path)))
    rows = run(Q(select="id", where=[f"within_distance(geo, geom'{PARIS_WKT}', 2km)"],
                 order_by="random(1)"), source)
    assert sorted(r["id"] for r in rows) == [1, 7]


# -- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("req, clause, words", [
    (Q(where=["city > 3"]), "where", "cannot compare text with integer"),
    (Q(where=["'text' > 3"]), "where", "cannot compare text with integer"),
    (Q(where=["salary = 'abc'"]), "where", "cannot compare integer with text"),
    (Q(where=["published > 'soon'"]), "where", "invalid date"),
    (Q(where=["geo = 1"]), "where", "cannot compare geometry"),
    (Q(where=["title + 1 > 2"]), "where", "needs decimal or integer"),
    (Q(where=["salary"]), "where", "expected a condition"),
    (Q(where=["count(*) > 1"]), "where", "not allowed in where"),
    (Q(where=["title like 'a' and remote is true and city is true"]), "where", "needs boolean"),
    (Q(where=["within_distance(city, geom'POINT(1 1)', 1km)"]), "where", "not a geometry"),
    (Q(where=["within_distance(geo, geom'POINT(1 1)', 3 days)"]), "where", "distance"),
    (Q(where=["intersects(geo, geom'POLYGON((0 0, 1 1, 0 0))')"]), "where", "rings"),
    (Q(where=["intersects(geo, geom'POINT(200 1)')"]), "where", "WGS84"),
    (Q(where=["in_bbox(geo, 91, 0, 0, 0)"]), "where", "in_bbox"),
    (Q(select="avg(title)"), "select", "avg() needs"),
    (Q(select="sum(count(*))"), "select", "nested"),
    (Q(select="city, count(*)"), "select", "must be in group_by"),
    (Q(select="id, count(*) > 3 as many"), "select", "must be in group_by"),
    (Q(select="*", group_by="city"), "select", "must be in group_by"),
    (Q(select="percentile(salary, 101)"), "select", "between 0 and 100"),
    (Q(select="date_format(published, 'yyyy-QQ')"), "select", "unsupported letter"),
    (Q(select="range(salary, 10)"), "select", "not allowed in select"),
    (Q(select="exclude(*)"), "select", "no column"),
    (Q(select="city as x, title as x"), "select", "two columns"),
    (Q(group_by="range(salary, 0)"), "group_by", "positive"),
    (Q(group_by="range(salary, *, 3, 2)"), "group_by", "increase"),
    (Q(group_by="range(title, 10)"), "group_by", "range() needs"),
    (Q(group_by="range(published, 1 km)"), "group_by", "duration"),
    (Q(group_by="count(*)"), "group_by", "not allowed in group_by"),
    (Q(order_by="count(*)"), "order_by", "need group_by"),
    (Q(order_by="geo"), "order_by", "geometry"),
    (Q(order_by="random(1.5)"), "order_by", "whole number"),
    (Q(select="count(*)", group_by="city", order_by="salary"), "order_by", "grouped"),
    (Q(timezone="Mars/Olympus"), "timezone", "time zone"),
    (Q(select="now(days=1.5)"), "select", "whole number for days"),
    (Q(select="now(month=13)"), "select", "from 1 to 12 for month"),
    (Q(select="now(mondays=0)"), "select", "non-zero"),
    (Q(select="now(years=-5000)"), "select", "outside years 1 to 9999"),
    (Q(select="now(days=99999999999999)"), "select", "for days"),
    (Q(select="now(foo=1)"), "select", "no argument named 'foo'"),
    (Q(select="now(1)"), "select", "takes 0 argument"),
    (Q(select="lower(salary)"), "select", "lower() needs text"),
    (Q(select="length(published)"), "select", "length() needs text"),
    (Q(select="distance(geo, geom'POLYGON((0 0, 1 0, 1 1, 0 0))')"), "select",
     "needs a point"),
    (Q(select="distance(city, geom'POINT(1 1)')"), "select", "not a geometry"),
    (Q(select="distance(geo, 'POINT(1 1)')"), "select", "geom'POINT(lon lat)'"),
    (Q(where=["geometry(geo, geom'POINT(1 1)', TOUCHES)"]), "where", "mode must be"),
    (Q(where=["geometry(geo, geom'POINT(1 1)', 'within')"]), "where", "mode must be"),
    (Q(select="envelope(city)"), "select", "envelope() needs geometry"),
    (Q(group_by="geo_cluster(geo, 26)"), "group_by", "zoom"),
    (Q(group_by="geo_cluster(geo, 5, 0)"), "group_by", "radius"),
    (Q(group_by="geo_cluster(geo, 1.5)"), "group_by", "zoom"),
    (Q(group_by="geo_cluster(city, 5)"), "group_by", "not a geometry"),
    (Q(group_by="year(created) + geo_cluster(geo, 5)"), "group_by", "whole group_by item"),
    (Q(select="geo_cluster(geo, 5)"), "select", "not allowed in select"),
    (Q(where=["geo_cluster(geo, 5)"]), "where", "not allowed in where"),
    (Q(group_by="range(published, *, 10, *)"), "group_by", "date'...' literals"),
    (Q(group_by="range(published, date'2024-03', date'2024-01')"), "group_by", "increase"),
    (Q(group_by="range(published, *, date'2024-13', *)"), "group_by", "invalid date"),
    (Q(group_by="range(salary, *, date'2024', *)"), "group_by", "edges are numbers"),
    (Q(group_by="range(created, 1 km)"), "group_by", "duration"),
])
def test_invalid_queries_are_query_errors(req: QueryRequest, clause: str, words: str,
                                          schema: dict[str, str], source: exp.Expression
                                          ) -> None:
    with pytest.raises(QueryError) as info:
        build_query(req, schema, source)
    assert info.value.clause == clause
    assert words in info.value.message


def test_unknown_fields_are_a_distinct_query_error_with_position(schema: dict[str, str],
                                                                 source: exp.Expression
                                                                 ) -> None:
    with pytest.raises(UnknownField) as info:
        build_query(Q(where=["salary > 1 and ghost = 2"]), schema, source)
    assert isinstance(info.value, QueryError)
    assert info.value.field == info.value.unknown_field == "ghost"
    assert (info.value.clause, info.value.position, info.value.status_code) == ("where", 15, 400)
    with pytest.raises(UnknownField):
        build_query(Q(order_by="nothing"), schema, source)


def test_identifiers_are_quoted_and_literals_escaped(con: duckdb.DuckDBPyConnection,
                                                     source: exp.Expression) -> None:
    schema = {'we"ird': "text", "select": "integer"}
    con.execute('CREATE TEMP TABLE odd AS SELECT \'a\'\'b\' AS "we""ird", 1 AS "select"')
    where = "`we\"ird` = 'a\\'b' or `we\"ird` = \"x'); drop table odd; --\""
    req = Q(select='`we"ird`, `select`', where=[where])
    sql = build_query(req, schema, exp.to_table("odd")).sql("duckdb")
    assert con.execute(sql).fetchall() == [("a'b", 1)]
    assert con.execute("SELECT count(*) FROM odd").fetchone() == (1,)


@pytest.mark.parametrize("numeric, boolean", [
    ("({}) + 1", "not ({})"),
    ("-({})", "({}) and remote is not null"),
    ("({}) * 2", "rate > 0 or ({})"),
    ("1 - ({}) / 3", "({}) = true"),
])
def test_expressions_at_the_depth_limit_compile_and_run(numeric: str, boolean: str, run: Run
                                                        ) -> None:
    expression = "salary"
    for _ in range(MAX_TREE_DEPTH // 4):
        expression = numeric.format(expression)
    condition = f"{expression} != 0"
    while True:  # wrap until one more level would be refused: the deepest accepted tree
        deeper = boolean.format(condition)
        try:
            parse_where(deeper)
        except QueryError:
            break
        condition = deeper
    assert condition.count("(") >= MAX_TREE_DEPTH // 2
    rows = run(Q(select=f"id, {expression} as e", where=[condition], order_by="e"))
    assert 0 < len(rows) <= 9
    with pytest.raises(QueryError, match="nested deeper"):
        run(Q(where=[deeper]))


def test_long_or_chains_and_big_in_lists_run(where_ids: Ids) -> None:
    many = " or ".join(f"city = 'ville numéro {i}'" for i in range(400)) + " or city = 'Nantes'"
    assert len(many) > 10_000
    assert where_ids(many) == [6]
    items = ", ".join(str(i) for i in range(1000, 1999)) + ", 1800"
    assert where_ids(f"salary in ({items})") == [3, 7]


def test_naive_timestamps_are_read_in_the_session_time_zone(con: duckdb.DuckDBPyConnection
                                                            ) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE naive AS "
                "SELECT id, created::TIMESTAMP AS created FROM offers")  # session zone: UTC
    req = Q(select="id, day(created) as d", where=["created >= date'2024-02-04'"],
            timezone="Europe/Paris", order_by="id")
    sql = build_query(req, {"id": "integer", "created": "datetime"},
                      exp.to_table("naive")).sql("duckdb")
    rows = con.execute(sql).fetchall()
    assert [r[0] for r in rows] == [2, 3, 4, 5, 6, 9, 10]
    assert rows[0] == (2, 4)


def test_geo_filters_handle_polygons_lines_and_empty_shapes(con: duckdb.DuckDBPyConnection
                                                            ) -> None:
    north = 48.8566 + math.degrees(1500 / 6_371_008.8)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE zones AS SELECT * FROM (VALUES
        (1, ST_GeomFromText('POLYGON((2.3 48.8, 2.4 48.8, 2.4 48.9, 2.3 48.9, 2.3 48.8))')),
        (2, ST_GeomFromText('LINESTRING(2.3522 {north!r}, 2.3522 49.2)')),
        (3, ST_GeomFromText('POINT EMPTY')),
        (4, ST_GeomFromText('POLYGON((5 43, 6 43, 6 44, 5 44, 5 43))'))) AS t(id, geo)""")
    schema = {"id": "integer", "geo": "geometry"}

    def zone_ids(where: str) -> list[int]:
        sql = build_query(Q(select="id", where=[where], order_by="id"), schema,
                          exp.to_table("zones")).sql("duckdb")
        return [r[0] for r in con.execute(sql).fetchall()]

    assert zone_ids(f"within_distance(geo, geom'{PARIS_WKT}', 1499m)") == [1]
    assert zone_ids(f"within_distance(geo, geom'{PARIS_WKT}', 1501m)") == [1, 2]
    assert zone_ids("in_bbox(geo, 48.85, 2.35, 48.86, 2.36)") == [1]
    assert zone_ids("intersects(geo, geom'POINT(5.5 43.5)')") == [4]
    assert zone_ids("disjoint(geo, geom'POINT(5.5 43.5)')") == [1, 2, 3]
    sql = build_query(Q(select="bbox(geo) as b"), schema, exp.to_table("zones")).sql("duckdb")
    row = con.execute(f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ({sql})"
                      ).fetchone()
    assert row == (2.3, 43.0, 6.0, 49.2)



def test_float_literals_compare_bit_for_bit(tmp_path: Path) -> None:
    """A float in a query is read from its text: no detour through DECIMAL that loses digits."""
    value = -0.00026863969436366643
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT ?::DOUBLE AS rate", [value])
    query = build_query(Q(where=[f"rate = {value!r}"]), {"rate": "decimal"}, exp.to_table("t"))
    assert con.execute(query.sql("duckdb")).fetchall() == [(value,)]


# -- text, geometry and clock functions --------------------------------------------------------

def test_lower_upper_and_length_of_text(run: Run, where_ids: Ids, offers: list[Any]) -> None:
    rows = run(Q(select="id, lower(title) as l, upper(city) as u, length(title) as n",
                 order_by="id"))
    assert rows == [{"id": o.id, "l": o.title.lower(), "u": o.city and o.city.upper(),
                     "n": len(o.title)} for o in offers]
    assert where_ids("length(title) > 15") == all_ids(offers, lambda o: len(o.title) > 15)
    assert where_ids("lower(city) = 'paris' and upper('x') = 'X'") == [1, 2, 7, 10]
    rows = run(Q(select="id", order_by="length(title) desc, id", limit=3))
    assert [r["id"] for r in rows] == [o.id for o in sorted(
        offers, key=lambda o: (-len(o.title), o.id))][:3]
    rows = run(Q(select="count(*) as n", group_by="upper(`contract type`) as c", order_by="c"))
    assert [(r["c"], r["n"]) for r in rows] == [("CDD", 3), ("CDI", 5), ("INTÉRIM", 1),
                                                (None, 1)]


def test_distance_is_in_metres_from_the_shape_to_a_point(run: Run, offers: list[Any]) -> None:
    rows = run(Q(select=f"id, distance(geo, geom'{PARIS_WKT}') as d", order_by="d, id"))
    expected = sorted((haversine_m(offers[0].geo, o.geo), o.id) for o in offers if o.geo)
    assert [r["id"] for r in rows] == [i for _, i in expected] + [9]
    assert [r["d"] for r in rows[:-1]] == pytest.approx([d for d, _ in expected], abs=1e-6)
    assert rows[-1]["d"] is None
    rows = run(Q(select="id", where=[f"distance(geo, geom'{PARIS_WKT}') < 1501"],
                 order_by="id"))
    assert [r["id"] for r in rows] == [1, 7]


def test_legacy_distance_and_geometry_forms_filter_as_their_new_names(where_ids: Ids) -> None:
    centre = f"geom'{PARIS_WKT}'"
    assert where_ids(f"distance(geo, {centre}, 1499m)") == [1]
    assert where_ids(f"DISTANCE(geo, {centre}, 1501 m)") == [1, 7]
    for size in ("4.5km", "300km", "10mi"):
        assert where_ids(f"distance(geo, {centre}, {size})") == where_ids(
            f"within_distance(geo, {centre}, {size})")
    square = "geom'POLYGON((2.2 48.8, 2.5 48.8, 2.5 48.9, 2.2 48.9, 2.2 48.8))'"
    assert where_ids(f"geometry(geo, {square})") == [1, 2, 7, 10]
    assert where_ids(f"geometry(geo, {square}, INTERSECTS)") == [1, 2, 7, 10]
    assert where_ids(f"geometry(geo, {square}, intersect)") == [1, 2, 7, 10]
    assert where_ids(f"geometry(geo, {square}, WITHIN)") == [1, 2, 7, 10]
    assert where_ids(f"GEOMETRY(geo, {square}, Disjoint)") == [3, 4, 5, 6, 8]


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain, counter-clockwise, first point not repeated."""
    pts = sorted(set(points))

    def half(seq: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]

    return half(pts) + half(pts[::-1])


def test_envelope_is_the_convex_hull_of_the_points(con: duckdb.DuckDBPyConnection,
                                                   schema: dict[str, str],
                                                   source: exp.Expression,
                                                   offers: list[Any]) -> None:
    hull = convex_hull([o.geo for o in offers if o.geo])
    wkt = "POLYGON((" + ", ".join(f"{x!r} {y!r}" for x, y in [*hull, hull[0]]) + "))"
    sql = build_query(Q(select="envelope(geo) as hull", where=["salary > 0"]), schema,
                      source).sql("duckdb")
    row = con.execute(f"SELECT ST_Equals(hull, ST_GeomFromText(?)), ST_NPoints(hull) "
                      f"FROM ({sql})", [wkt]).fetchone()
    assert row == (True, len(hull) + 1)


BASE_NOW = "year=2021, month=5, day=6, hour=12, minute=34, second=55, microsecond=450500"


@pytest.mark.parametrize("more, expected", [
    ("", datetime(2021, 5, 6, 12, 34, 55, 450500)),   # a Thursday, the reference's "now"
    ("year=2000", datetime(2000, 5, 6, 12, 34, 55, 450500)),  # the last one written wins
    ("years=-1", datetime(2020, 5, 6, 12, 34, 55, 450500)),
    ("year=2001, months=-1", datetime(2001, 4, 6, 12, 34, 55, 450500)),
    ("day=31, month=2", datetime(2021, 2, 28, 12, 34, 55, 450500)),
    ("month=1, day=31, months=1", datetime(2021, 2, 28, 12, 34, 55, 450500)),
    ("weekday=0", datetime(2021, 5, 10, 12, 34, 55, 450500)),
    ("mondays=+1", datetime(2021, 5, 10, 12, 34, 55, 450500)),
    ("mondays=-1", datetime(2021, 5, 3, 12, 34, 55, 450500)),
    ("thursdays=1", datetime(2021, 5, 6, 12, 34, 55, 450500)),
    ("thursdays=-2", datetime(2021, 4, 29, 12, 34, 55, 450500)),
    ("sundays=2, weekday=2", datetime(2021, 5, 12, 12, 34, 55, 450500)),
    ("days=-7, hours=-13", datetime(2021, 4, 28, 23, 34, 55, 450500)),
    ("weeks=1, minutes=30, seconds=10, microseconds=49500",
     datetime(2021, 5, 13, 13, 5, 5, 500000)),
    ("hour=0, minute=0, second=0, microsecond=0, days=1", datetime(2021, 5, 7)),
])
def test_now_sets_then_shifts_the_time_of_the_request_zone(more: str, expected: datetime,
                                                           run: Run) -> None:
    args = BASE_NOW + (", " + more if more else "")
    for zone in ("UTC", "Europe/Paris", "America/Cayenne"):
        rows = run(Q(select=f"now({args}) as t", limit=1, timezone=zone))
        assert rows[0]["t"] == expected.replace(tzinfo=ZoneInfo(zone))


def test_a_pinned_now_is_the_same_in_every_clause(run: Run, offers: list[Any],
                                                  con: duckdb.DuckDBPyConnection,
                                                  schema: dict[str, str],
                                                  source: exp.Expression) -> None:
    moment = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    req = Q(select="id, now() as t, now(days=-40) as start", order_by="id",
            where=["published >= now(days=-40)", "published < now()"], now=moment)
    rows = run(req)
    assert [r["id"] for r in rows] == all_ids(
        offers, lambda o: date(2024, 1, 30) < o.published < date(2024, 3, 10))
    assert {(r["t"], r["start"]) for r in rows} == {(moment, datetime(2024, 1, 30, 12,
                                                                      tzinfo=UTC))}
    count = con.execute(build_count(req, schema, source).sql("duckdb")).fetchone()
    assert count == (len(rows),)
    early = "published < now(days=-40)"
    for pinned in (moment, None):  # one reading of the clock per query, pinned or not
        grouped = run(Q(select="count(*) as n", group_by=f"{early}, {early}",
                        order_by=early, now=pinned))
        assert sum(r["n"] for r in grouped) == len(offers)
    grouped = run(Q(select="count(*) as n", group_by=f"{early}, {early}", order_by=early,
                    now=moment))
    before = sum(o.published < date(2024, 1, 30) for o in offers)
    assert [(r[early], r["n"]) for r in grouped] == [(False, len(offers) - before),
                                                     (True, before)]


def test_now_without_set_parts_follows_the_clock(where_ids: Ids, offers: list[Any]) -> None:
    cutoff = date(2024, 3, 10)  # no offer was published that day
    days = (datetime.now(UTC).date() - cutoff).days
    assert where_ids(f"published >= now(days=-{days})") == all_ids(
        offers, lambda o: o.published >= cutoff)
    assert where_ids(f"published >= NOW(weeks=-1, days=-{days - 7})") == all_ids(
        offers, lambda o: o.published >= cutoff)
    assert where_ids("created < now() and created > now(years=-100)") == list(range(1, 11))


# -- group_by: static date ranges, durations, clusters ------------------------------------------

def test_group_by_static_date_ranges_label_intervals_in_utc(run: Run, offers: list[Any]
                                                            ) -> None:
    rows = run(Q(select="count(*) as n", order_by="r", group_by="range(published, *, "
                 "date'2024-01-01', date'2024/03/01', *) as r"))
    jan, mar = date(2024, 1, 1), date(2024, 3, 1)
    assert [(r["r"], r["n"]) for r in rows] == [
        ("[*, 2024-01-01T00:00:00.000Z[", sum(o.published < jan for o in offers)),
        ("[2024-01-01T00:00:00.000Z, 2024-03-01T00:00:00.000Z[",
         sum(jan <= o.published < mar for o in offers)),
        ("[2024-03-01T00:00:00.000Z, *[", sum(o.published >= mar for o in offers))]
    rows = run(Q(select="count(*) as n", order_by="r",
                 group_by="range(published, date'2024-02', date'2024-06') as r"))
    inside = sum(date(2024, 2, 1) <= o.published < date(2024, 6, 1) for o in offers)
    assert [(r["r"], r["n"]) for r in rows] == [
        ("[2024-02-01T00:00:00.000Z, 2024-06-01T00:00:00.000Z[", inside), (None, 10 - inside)]


def test_static_ranges_on_datetimes_read_edges_in_the_request_zone(run: Run,
                                                                  offers: list[Any]) -> None:
    rows = run(Q(select="count(*) as n", order_by="r", timezone="Europe/Paris",
                 group_by="range(created, *, date'2024-01-01', "
                          "date'2024-02-03T23:00:00Z', *) as r"))
    new_year = datetime(2023, 12, 31, 23, tzinfo=UTC)  # midnight in Paris
    edge = datetime(2024, 2, 3, 23, tzinfo=UTC)
    assert [(r["r"], r["n"]) for r in rows] == [
        ("[*, 2023-12-31T23:00:00.000Z[", sum(o.created < new_year for o in offers)),
        ("[2023-12-31T23:00:00.000Z, 2024-02-03T23:00:00.000Z[",
         sum(new_year <= o.created < edge for o in offers)),
        ("[2024-02-03T23:00:00.000Z, *[", sum(o.created >= edge for o in offers))]


@pytest.mark.parametrize("short, long", [("1M", "1 month"), ("1y", "1 year"), ("2d", "2 days"),
                                         ("1w", "1 week"), ("6h", "6 hours"),
                                         ("30m", "30 minutes"), ("1q", "3 months"),
                                         ("1 quarter", "3 months"), ("10s", "10 seconds")])
def test_range_durations_take_opendatasoft_unit_names(short: str, long: str, run: Run) -> None:
    def buckets(size: str) -> list[dict[str, Any]]:
        return run(Q(select="count(*) as n", group_by=f"range(created, {size}) as b",
                     order_by="b", timezone="Europe/Paris"))

    assert buckets(short) == buckets(long)


def test_range_by_quarter_starts_on_calendar_quarters(run: Run, offers: list[Any]) -> None:
    rows = run(Q(select="count(*) as n", group_by="range(published, 1 quarter) as q",
                 order_by="q"))
    starts: dict[date, int] = {}
    for o in offers:
        start = date(o.published.year, (o.published.month - 1) // 3 * 3 + 1, 1)
        starts[start] = starts.get(start, 0) + 1
    assert [(r["q"], r["n"]) for r in rows] == sorted(starts.items())


_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lon: float, lat: float, precision: int) -> str:
    """The standard geohash of a point (bits alternate, longitude first)."""
    ranges = [[-180.0, 180.0], [-90.0, 90.0]]
    bits: list[int] = []
    for i in range(5 * precision):
        low, high = ranges[i % 2]
        mid = (low + high) / 2
        value = lon if i % 2 == 0 else lat
        bits.append(int(value >= mid))
        ranges[i % 2] = [mid, high] if value >= mid else [low, mid]
    return "".join(_BASE32[int("".join(map(str, bits[i:i + 5])), 2)]
                   for i in range(0, len(bits), 5))


@pytest.mark.parametrize("args, precision", [
    ("0", 1), ("5", 2), ("10", 4), ("18", 7), ("10, 5", 5), ("25, 40", 12)])
def test_geo_cluster_groups_points_by_geohash_cell_shown_at_their_centroid(
        args: str, precision: int, con: duckdb.DuckDBPyConnection, schema: dict[str, str],
        source: exp.Expression, offers: list[Any]) -> None:
    """The precision is the finest whose cells exceed the radius (pixels, 40 by default) at
    that zoom, from geohash's cell sizes; e.g. zoom 5: 40 px ≈ 196 km, cells of 625 km."""
    req = Q(select="count(*) as n", group_by=f"geo_cluster(geo, {args}) as c")
    sql = build_query(req, schema, source).sql("duckdb")
    rows = con.execute(f"SELECT ST_X(c), ST_Y(c), n FROM ({sql})").fetchall()
    cells: dict[str, list[tuple[float, float]]] = {}
    for o in offers:
        if o.geo:
            cells.setdefault(geohash(*o.geo, precision), []).append(o.geo)
    expected = [(sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts),
                 len(pts)) for pts in cells.values()] + [(None, None, 1)]
    def key(row: tuple[Any, ...]) -> tuple[bool, float, float]:
        return row[0] is None, round(row[0] or 0.0, 9), round(row[1] or 0.0, 9)

    assert len(rows) == len(expected)
    for got, want in zip(sorted(rows, key=key), sorted(expected, key=key), strict=True):
        assert got[2] == want[2]
        if want[0] is None:
            assert got[:2] == (None, None)
        else:
            assert got[:2] == (pytest.approx(want[0]), pytest.approx(want[1]))
    count = con.execute(build_count(req, schema, source).sql("duckdb")).fetchone()
    assert count == (len(expected),)
