"""The last ODSQL stage: a SQLGlot tree written as DuckDB SQL (SQLGlot's own generator)."""

from __future__ import annotations

from sqlglot import exp

#: The SQL dialect every ODSQL query is written in.
DIALECT = "duckdb"


def to_sql(tree: exp.Expr) -> str:
    """``tree`` (a ``build_query``, ``build_count`` or ``build_facet`` result) as DuckDB SQL."""
    return tree.sql(dialect=DIALECT)
