"""ODSQL (Opendatasoft Explore v2.1 query language) → SQLGlot SELECT for DuckDB.

Three stages, each with a tree as its contract:

1. parse: ``lexer`` and ``parser`` turn each clause's text into our ``ast`` nodes;
2. tree: ``plan`` (whole requests) and ``compile`` (expressions, by node-class tables) turn
   them into one SQLGlot ``SELECT`` (``fulltext`` holds the text-matching rules, which other
   searches reuse through ``text_search``);
3. generate: ``generate.to_sql`` writes that tree as DuckDB SQL.

This module only re-exports the public names.
"""

from __future__ import annotations

from mutuelle.query.odsql import ast
from mutuelle.query.odsql.compile import UnknownField
from mutuelle.query.odsql.fulltext import text_search
from mutuelle.query.odsql.generate import to_sql
from mutuelle.query.odsql.parser import parse_group_by, parse_order_by, parse_select, parse_where
from mutuelle.query.odsql.plan import (
    FACET_SORTS,
    MAX_PAGE_ROWS,
    ROW_ALIAS,
    Plan,
    QueryRequest,
    build_count,
    build_facet,
    build_query,
    check_page,
    compile_filters,
    compile_refine,
    compile_where,
    is_grouped,
    plan,
)

__all__ = [
    "FACET_SORTS",
    "MAX_PAGE_ROWS",
    "ROW_ALIAS",
    "Plan",
    "QueryRequest",
    "UnknownField",
    "ast",
    "build_count",
    "build_facet",
    "build_query",
    "check_page",
    "compile_filters",
    "compile_refine",
    "compile_where",
    "is_grouped",
    "parse_group_by",
    "parse_order_by",
    "parse_select",
    "parse_where",
    "plan",
    "text_search",
    "to_sql",
]
