"""Type inference on samples, and the DuckDB SQL that must read values the same way."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mutuelle.ingest.typing import (
    SPACES,
    TEXT,
    TypeGuess,
    guess_for,
    infer_type,
    parse_sql,
    parse_value,
    widenings,
)
from mutuelle.store.sql import literal

_CON = duckdb.connect()


def _sql_value(raw: str, guess: TypeGuess) -> object:
    """What DuckDB makes of a trimmed raw value under ``guess`` (None: does not fit)."""
    return _CON.execute(f"SELECT {parse_sql('v', guess)} FROM (SELECT {literal(raw)} AS v)"
                        ).fetchone()[0]


@pytest.mark.parametrize(("values", "kind"), [
    (["1", "2", "-3", "+4"], "integer"),
    (["0", "1", "1", "0"], "integer"),
    (["011", "65", "012"], "text"),
    (["01001", "69123"], "text"),
    (["12345678901234567890"], "text"),
    (["12 345,67", "1 234", "5"], "decimal"),
    (["12\u00a0345,67", "12\u202f345"], "decimal"),
    (["1.234,5", "2,5", "1.000"], "decimal"),
    (["1,234.5", "12"], "decimal"),
    (["2663.182482", "1e3"], "decimal"),
    (["2021-01-02", "2024-12-31"], "date"),
    (["02/01/2021", "2/1/2021"], "date"),
    (["31/02/2021"], "text"),
    (["2024-01-31T10:00:00", "2024-01-31 10:00"], "datetime"),
    (["2024-01-31", "2024-01-31 10:00"], "datetime"),
    (["31/01/2024 10:05", "01/02/2024 09:00:30"], "datetime"),
    (["oui", "Non", "OUI"], "boolean"),
    (["vrai", "faux"], "boolean"),
    (["1,5 %", "2 %"], "text"),
    (["K2204", "J1501"], "text"),
    ([None, "", "  "], "text"),
    ([], "text"),
])
def test_the_narrowest_type_that_fits_every_sample_value_is_inferred(values, kind):
    assert infer_type(values).type == kind


def test_comma_decimals_with_space_thousands_are_read_as_french_numbers():
    guess = infer_type(["12 345,67", "12\u00a0345,67", "1\u202f000"])
    assert (guess.decimal, guess.thousands) == (",", SPACES)
    assert parse_value("12 345,67", guess) == 12345.67
    assert parse_value(" 1\u202f000 ", guess) == 1000.0


def test_null_markers_are_read_as_empty_only_in_typed_columns():
    guess = infer_type(["12", "NA", "s", ""])
    assert guess.type == "integer" and guess.nulls == ("NA", "s")
    assert parse_value("NA", guess) is None
    assert infer_type(["NA", "n/a"]) == TEXT


def test_a_forced_type_takes_the_spelling_most_values_fit():
    guess = guess_for("decimal", ["1,5", "2,25", "x"])
    assert (guess.type, guess.decimal, guess.strict) == ("decimal", ",", False)
    assert parse_value("007", guess_for("integer", ["007"])) == 7
    assert guess_for("text", ["1"]) == TEXT


def test_a_guess_widens_to_trimmed_values_then_to_a_wider_type():
    integer = infer_type(["1", "2"])
    assert [(w.type, w.padded) for w in widenings(integer)] == [
        ("integer", True), ("decimal", True), ("decimal", True)]
    assert infer_type([" 1", "2 "]).padded
    assert [w.type for w in widenings(infer_type([" 1"]))] == ["decimal", "decimal"]
    assert widenings(TEXT) == []


@pytest.mark.parametrize("raw", ["12.5", "1e3", "0x10", "1_000", "007", " 12", "12 "])
def test_duckdb_does_not_round_or_stretch_what_an_inferred_integer_accepts(raw):
    guess = infer_type(["1", "2"])
    assert _sql_value(raw.strip(), guess) == (12 if raw.strip() == "12" else None)


@pytest.mark.parametrize(("raw", "guess", "expected"), [
    ("12 345,67", TypeGuess("decimal", ",", SPACES), 12345.67),
    ("12\u00a0345,67", TypeGuess("decimal", ",", SPACES), 12345.67),
    ("1.234.567,8", TypeGuess("decimal", ",", "."), 1234567.8),
    ("02/01/2021", TypeGuess("date", date_format="%d/%m/%Y"), dt.date(2021, 1, 2)),
    ("2/1/21", TypeGuess("date", date_format="%d/%m/%Y"), None),
    ("31/02/2021", TypeGuess("date", date_format="%d/%m/%Y"), None),
    ("2024-01-31T10:00", TypeGuess("datetime", date_format="iso"), dt.datetime(2024, 1, 31, 10)),
    ("31/01/2024 9:05", TypeGuess("datetime", date_format="%d/%m/%Y %H:%M:%S"),
     dt.datetime(2024, 1, 31, 9, 5)),
    ("Oui", TypeGuess("boolean"), True),
])
def test_duckdb_reads_a_value_as_python_does(raw, guess, expected):
    assert _sql_value(raw, guess) == expected
    if expected is None:
        with pytest.raises(ValueError):
            parse_value(raw, guess)
    else:
        assert parse_value(raw, guess) == expected


def _french(number: Decimal, separator: str) -> str:
    sign = "-" if number < 0 else ""
    whole, _, frac = f"{abs(number):f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return sign + separator.join(groups) + ("," + frac if frac else "")


_decimals = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2,
                        allow_nan=False, allow_infinity=False)


@hsettings(max_examples=150, deadline=None)
@given(numbers=st.lists(_decimals, min_size=1, max_size=20), separator=st.sampled_from(SPACES))
def test_french_formatted_decimals_read_back_to_the_same_values(numbers, separator):
    written = [_french(n, separator) for n in numbers]
    guess = infer_type(written + ["0,5"])
    assert guess.type == "decimal" and guess.decimal == ","
    for raw, number in zip(written, numbers, strict=True):
        assert parse_value(raw, guess) == float(number)
        assert _sql_value(raw, guess) == float(number)


@hsettings(max_examples=100, deadline=None)
@given(days=st.lists(st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(2999, 12, 31)),
                     min_size=1, max_size=10),
       fmt=st.sampled_from(["%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y"]))
def test_formatted_dates_read_back_to_the_same_days(days, fmt):
    written = [d.strftime(fmt).rjust(10, "0") if d.year >= 1000 else "" for d in days]
    guess = infer_type(written)
    assert guess.type == "date"
    for raw, day in zip(written, days, strict=True):
        assert parse_value(raw, guess) == day
        assert _sql_value(raw, guess) == day


_number_like = st.text(alphabet="0123456789 ,.-+eE\u00a0", min_size=1, max_size=12)


@hsettings(max_examples=300, deadline=None)
@given(raw=_number_like, guess=st.sampled_from([
    TypeGuess("integer"), TypeGuess("integer", thousands=SPACES),
    TypeGuess("decimal"), TypeGuess("decimal", ",", SPACES), TypeGuess("decimal", ",", "."),
    TypeGuess("decimal", ".", ","), TypeGuess("integer", strict=False),
]))
def test_python_and_duckdb_agree_on_which_strings_are_numbers(raw, guess):
    raw = raw.strip(" \t")
    if not raw:
        return
    try:
        expected = parse_value(raw, guess)
    except ValueError:
        expected = None
    assert _sql_value(raw, guess) == expected


_date_like = st.one_of(
    st.text(alphabet="0123456789/-:. TZ+", min_size=6, max_size=26),
    st.datetimes(min_value=dt.datetime(1000, 1, 1)).map(
        lambda d: d.strftime("%d/%m/%Y %H:%M:%S")),
    st.datetimes(min_value=dt.datetime(1000, 1, 1)).map(lambda d: d.isoformat()),
)


@hsettings(max_examples=300, deadline=None)
@given(raw=_date_like, guess=st.sampled_from(
    [TypeGuess("date", date_format=f) for f in ("%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d")]
    + [TypeGuess("datetime", date_format=f) for f in ("iso", "%d/%m/%Y %H:%M:%S")]))
def test_python_and_duckdb_agree_on_which_strings_are_dates(raw, guess):
    raw = raw.strip(" \t")
    if not raw:
        return
    try:
        expected = parse_value(raw, guess)
    except ValueError:
        expected = None
    assert _sql_value(raw, guess) == expected
