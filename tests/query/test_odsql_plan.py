"""The planner over whole requests: several where clauses, page limits, unknown fields, and
aggregates that readers of the SQL tree can see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from mutuelle.core.config import load_settings
from mutuelle.core.errors import QueryError
from mutuelle.query.odsql import (
    MAX_PAGE_ROWS,
    QueryRequest,
    UnknownField,
    build_count,
    build_facet,
    build_query,
    check_page,
)

Q = QueryRequest
Ids = Callable[..., list[int]]
SETTINGS = load_settings({})


def test_several_where_clauses_are_all_anded(where_ids: Ids, offers: list[Any],
                                             con: duckdb.DuckDBPyConnection,
                                             schema: dict[str, str],
                                             source: exp.Expression) -> None:
    wheres = ["salary > 2000", "city = 'Paris' or city = 'Lyon'", "remote is false"]
    kept = [o for o in offers if (o.salary or 0) > 2000 and o.city in ("Paris", "Lyon")
            and o.remote is False]
    assert [o.id for o in kept] == [2, 4, 10]
    assert where_ids(wheres) == [2, 4, 10]
    assert where_ids([*wheres, "", "  "]) == [2, 4, 10]  # blank ones are ignored
    for last in range(1, len(wheres) + 1):  # each one added narrows the answer
        expected = [o.id for o in offers if all(
            check(o) for check in (lambda o: (o.salary or 0) > 2000,
                                   lambda o: o.city in ("Paris", "Lyon"),
                                   lambda o: o.remote is False)[:last])]
        assert where_ids(wheres[:last]) == expected
    count = con.execute(build_count(Q(where=wheres), schema, source).sql("duckdb")).fetchone()
    assert count == (3,)


def test_facets_and_counts_honour_every_where(con: duckdb.DuckDBPyConnection,
                                              schema: dict[str, str],
                                              source: exp.Expression) -> None:
    req = Q(where=["salary > 2000", "remote is false"])
    sql = build_facet("city", req, schema, source, sort="value").sql("duckdb")
    assert con.execute(sql).fetchall() == [("Lyon", 1), ("Marseille", 1), ("Paris", 2)]
    sql = build_count(Q(where=["salary > 2000", "city = 'Nantes'"]), schema, source)
    assert con.execute(sql.sql("duckdb")).fetchone() == (1,)


def test_an_error_in_one_of_several_where_clauses_names_which(schema: dict[str, str],
                                                              source: exp.Expression) -> None:
    with pytest.raises(QueryError) as info:
        build_query(Q(where=["salary > 1", "city = 'x' and salary > 'y'"]), schema, source)
    assert (info.value.clause, info.value.position) == ("where[2]", 22)
    assert "clause 'where[2]' at position 22" in info.value.message
    with pytest.raises(QueryError) as alone:
        build_query(Q(where=["salary > 'y'"]), schema, source)
    assert alone.value.clause == "where"


# -- pages --------------------------------------------------------------------------------------

@pytest.mark.parametrize("req, limit", [
    (Q(limit=100), 100),
    (Q(limit=0), 0),
    (Q(limit=-1), MAX_PAGE_ROWS),
    (Q(), MAX_PAGE_ROWS),
    (Q(limit=20_000, group_by="city"), 20_000),
    (Q(limit=-1, group_by="city"), 20_000),
    (Q(limit=10, offset=9_990), 10),
    (Q(limit=1_000, offset=19_000, group_by="year(published)"), 1_000),
])
def test_pages_hold_100_rows_or_20000_with_group_by(req: QueryRequest, limit: int) -> None:
    assert check_page(req, SETTINGS) == limit


@pytest.mark.parametrize("req, clause, words", [
    (Q(limit=101), "limit", "between 0 and 100 without group_by"),
    (Q(limit=20_001, group_by="city"), "limit", "between 0 and 20000 with group_by"),
    (Q(limit=101, group_by="  "), "limit", "without group_by"),
    (Q(limit=-2), "limit", "got -2"),
    (Q(limit=10, offset=-1), "offset", "negative"),
    (Q(limit=100, offset=9_901), "offset", "must not exceed 10000"),
    (Q(limit=20_000, offset=1, group_by="city"), "offset", "must not exceed 20000"),
])
def test_pages_past_the_limits_are_query_errors(req: QueryRequest, clause: str,
                                                words: str) -> None:
    with pytest.raises(QueryError) as info:
        check_page(req, SETTINGS)
    assert info.value.clause == clause
    assert words in info.value.message


def test_the_walls_are_settings_and_cursors_page_past_them() -> None:
    small = load_settings({"MUTUELLE_QUERY_MAX_ROWS": "50",
                           "MUTUELLE_QUERY_MAX_GROUP_ROWS": "500"})
    assert check_page(Q(limit=-1), small) == 50
    assert check_page(Q(limit=-1, group_by="city"), small) == 500
    with pytest.raises(QueryError):
        check_page(Q(limit=10, offset=45), small)
    assert check_page(Q(limit=10, offset=45), small, past_wall=True) == 10


def test_a_grouped_page_of_20000_rows_runs(run: Callable[..., list[dict[str, Any]]]) -> None:
    req = Q(select="count(*) as n", group_by="id", order_by="id", limit=-1)
    rows = run(replace(req, limit=check_page(req, SETTINGS)))
    assert [r["id"] for r in rows] == list(range(1, 11))


# -- unknown fields -----------------------------------------------------------------------------

@pytest.mark.parametrize("req, clause, position", [
    (Q(where=["salary > 1 and ghost = 2"]), "where", 15),
    (Q(select="id, ghost"), "select", 4),
    (Q(group_by="ghost"), "group_by", 0),
    (Q(order_by="id, ghost desc"), "order_by", 4),
    (Q(refine=["ghost:1"]), "refine", 0),
    (Q(where=["search(ghost, 'x')"]), "where", 7),
])
def test_unknown_fields_are_odsql_errors_of_status_400(req: QueryRequest, clause: str,
                                                       position: int, schema: dict[str, str],
                                                       source: exp.Expression) -> None:
    with pytest.raises(UnknownField) as info:
        build_query(req, schema, source)
    error = info.value
    assert (error.clause, error.position, error.field) == (clause, position, "ghost")
    assert error.status_code == 400
    assert error.to_dict() == {"error_code": "ODSQLError", "message": error.message}
    assert "unknown field 'ghost'" in error.message


# -- aggregates alone ---------------------------------------------------------------------------

@pytest.mark.parametrize("select", ["median(salary)", "percentile(salary, 25)", "bbox(geo)",
                                    "envelope(geo)", "count(*)", "avg(rate) * 2"])
def test_an_aggregate_selected_alone_is_visible_in_the_tree(
        select: str, schema: dict[str, str], source: exp.Expression,
        con: duckdb.DuckDBPyConnection) -> None:
    query = build_query(Q(select=select), schema, source)
    assert query.meta["aggregated"] is True
    assert any(isinstance(node, exp.AggFunc) for e in query.expressions for node in e.walk())
    assert len(con.execute(query.sql("duckdb")).fetchall()) == 1
    plain = build_query(Q(select="id, salary * 2"), schema, source)
    assert plain.meta["aggregated"] is False
