"""DuckDB identifiers and literals: whatever the text, DuckDB reads back exactly that name or value."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutuelle.core.errors import InvalidInput
from mutuelle.store.sql import column, ident, literal, read_parquet

# Any character DuckDB may meet in a name or a value: quotes, backslashes, newlines, emoji.
TEXT = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ['"', "'", '""', "''", "\\", "a\\'b", "x\"; DROP TABLE t; --", "é\n\t", "?", "$1"]
)


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=400, deadline=None)
@given(name=TEXT.filter(lambda s: s != "" and "\x00" not in s))
def test_any_name_comes_back_as_the_column_name(con: duckdb.DuckDBPyConnection, name: str) -> None:
    description = con.execute(f"SELECT 1 AS {ident(name)}").description
    assert [d[0] for d in description] == [name]


@settings(max_examples=400, deadline=None)
@given(text=TEXT | st.text(st.sampled_from(["\x00", "a", "'", '"']), max_size=8))
def test_any_string_nul_included_comes_back_as_the_same_value(con: duckdb.DuckDBPyConnection,
                                                             text: str) -> None:
    assert con.execute(f"SELECT {literal(text)} AS v").fetchall() == [(text,)]


@pytest.mark.parametrize("name", ["", "a\x00b", "\x00"])
def test_an_empty_name_or_a_name_with_nul_is_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(InvalidInput, match="nom de colonne"):
        ident(name)


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.booleans())
def test_integers_and_booleans_come_back_unchanged(con: duckdb.DuckDBPyConnection,
                                                  value: int) -> None:
    (got,) = con.execute(f"SELECT {literal(value)}").fetchone() or (None,)
    assert got == value and type(got) is type(value)


@settings(max_examples=300, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True)
       | st.sampled_from([-0.00026863969436366643, 0.1, 5e-324, -0.0, 1.7976931348623157e308]))
def test_floats_come_back_as_the_same_double_bit_for_bit(con: duckdb.DuckDBPyConnection,
                                                         value: float) -> None:
    (got,) = con.execute(f"SELECT {literal(value)}").fetchone() or (None,)
    assert isinstance(got, float)
    assert (math.isnan(got) and math.isnan(value)) or got.hex() == value.hex()


def test_a_path_is_a_string_literal_and_reads_the_parquet_file_there(
        con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "d'un \"dossier\""
    folder.mkdir()
    target = folder / "data.parquet"
    name = 'a "b'
    con.execute(f"COPY (SELECT 7 AS {ident(name)}) TO {literal(target)} (FORMAT parquet)")
    assert literal(target) == "'" + str(target).replace("'", "''") + "'"
    rows = con.execute(f"SELECT {column(name, 't')} FROM {read_parquet(target)} AS t").fetchall()
    assert rows == [(7,)]


def test_a_qualified_column_names_the_column_of_that_table(con: duckdb.DuckDBPyConnection) -> None:
    left = 'l"eft'
    rows = con.execute(
        f"SELECT {column('v', left)}, {column('v', 'right')} "
        f"FROM (SELECT 1 AS v) AS {ident(left)}, (SELECT 2 AS v) AS {ident('right')}"
    ).fetchall()
    assert rows == [(1, 2)]
    assert column("c") == '"c"'
