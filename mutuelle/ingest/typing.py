"""Column types inferred from a sample of raw strings, and the DuckDB SQL that parses
the whole column the same way: Python and SQL share the regular expressions, so a
value the sample accepts is a value the file accepts."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

from mutuelle.store.sql import literal

#: Thousands separators written by French software: space, no-break space (U+00A0),
#: narrow no-break space (U+202F).
SPACES = " \u00a0\u202f"

#: Values that mean "no value" in otherwise numeric or date columns (INSEE's "s" is
#: statistical secrecy, "nc" not communicated).
NULL_MARKERS = frozenset({
    "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "-", "nd", "ND", "n.d.",
    "s", "nc", "NC", "#N/A",
})

TRUE_WORDS = ("oui", "vrai", "true", "yes")
FALSE_WORDS = ("non", "faux", "false", "no")

_DAY = "(0?[1-9]|[12][0-9]|3[01])"
_MONTH = "(0?[1-9]|1[0-2])"
_DD = "(0[1-9]|[12][0-9]|3[01])"
_MM = "(0[1-9]|1[0-2])"
_YEAR = "[12][0-9]{3}"
_HMS = "([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?"

#: Date formats: strptime format -> regular expression (tried in this order).
DATE_FORMATS = {
    "%d/%m/%Y": f"{_DAY}/{_MONTH}/{_YEAR}",
    "%Y-%m-%d": f"{_YEAR}-{_MM}-{_DD}",
    "%d-%m-%Y": f"{_DAY}-{_MONTH}-{_YEAR}",
    "%d.%m.%Y": rf"{_DAY}\.{_MONTH}\.{_YEAR}",
    "%Y/%m/%d": f"{_YEAR}/{_MM}/{_DD}",
}
_ISO = f"{_YEAR}-{_MM}-{_DD}"
_ISO_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
#: Datetime formats: name -> regular expression. Date-only values are allowed so that a
#: column mixing "2024-01-31" and "2024-01-31 10:00" is one datetime column.
DATETIME_FORMATS = {
    "iso": f"{_ISO}([T ]{_ISO_TIME})?",
    "iso+tz": f"{_ISO}[T ]{_ISO_TIME}(Z|[+-][0-9]{{2}}:[0-9]{{2}})",
    "%d/%m/%Y %H:%M:%S": f"{_DAY}/{_MONTH}/{_YEAR}( {_HMS})?",
}
_FR_DATETIMES = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y")

_INT64 = (-(2**63), 2**63 - 1)
_DIGITS = re.compile("[+-]?[0-9]+(?:\n[+-]?[0-9]+)*")  # one or more lines of digits


@dataclass(frozen=True)
class TypeGuess:
    """A column type and how its values are written."""

    type: str                    # one of model.COLUMN_TYPES
    decimal: str = "."           # decimal separator of numbers
    thousands: str = ""          # characters allowed between groups of three digits
    date_format: str = ""        # key of DATE_FORMATS or DATETIME_FORMATS
    strict: bool = True          # inferred: a leading zero (code) does not fit a number
    nulls: tuple[str, ...] = ()  # markers read as empty
    padded: bool = False         # values may have spaces around them: trim before reading

    def describe(self) -> str:
        """The type as a phrase, for messages."""
        return {
            "integer": "an integer",
            "decimal": "a decimal number",
            "boolean": "a boolean (oui/non, true/false)",
            "date": f"a date ({self.date_format})",
            "datetime": f"a date and time ({self.date_format})",
        }.get(self.type, "text")


TEXT = TypeGuess("text")


def _class(chars: str) -> str:
    return "[" + "".join("\\." if c == "." else c for c in chars) + "]"


@cache
def number_pattern(guess: TypeGuess) -> str:
    """Regular expression (Python and RE2) of the numbers a guess accepts."""
    plain = "(0|[1-9][0-9]*)" if guess.strict else "[0-9]+"
    body = plain
    if guess.thousands:
        head = "[1-9][0-9]{0,2}" if guess.strict else "[0-9]{1,3}"
        body = f"({head}({_class(guess.thousands)}[0-9]{{3}})+|{plain})"
    if guess.type == "integer":
        return f"[+-]?{body}"
    frac = f"({_class(guess.decimal)}[0-9]+)?"
    exponent = "([eE][+-]?[0-9]+)?" if guess.decimal == "." and not guess.thousands else ""
    return f"[+-]?{body}{frac}{exponent}"


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def pattern_of(guess: TypeGuess) -> str:
    """The regular expression a non-empty value must match to fit ``guess``."""
    if guess.type in ("integer", "decimal"):
        return number_pattern(guess)
    if guess.type == "date":
        return DATE_FORMATS[guess.date_format]
    if guess.type == "datetime":
        return DATETIME_FORMATS[guess.date_format]
    raise ValueError(f"no pattern for {guess.type}")


def parse_value(raw: str | None, guess: TypeGuess) -> object:
    """The Python value ``raw`` stands for under ``guess``; ValueError if it does not fit."""
    value = None if raw is None else raw.strip(" \t")
    if not value or value in guess.nulls:
        return None
    if guess.type == "text":
        return raw
    if guess.type == "boolean":
        word = value.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(value)
    if not _compiled(pattern_of(guess)).fullmatch(value):
        raise ValueError(value)
    if guess.type in ("integer", "decimal"):
        plain = value
        for sep in guess.thousands:
            plain = plain.replace(sep, "")
        if guess.type == "decimal":
            return float(plain.replace(",", "."))
        number = int(plain)
        if not _INT64[0] <= number <= _INT64[1]:
            raise ValueError(value)
        return number
    if guess.type == "date":
        return datetime.strptime(value, guess.date_format).date()
    if guess.date_format.startswith("iso"):
        return datetime.fromisoformat(value)
    for fmt in _FR_DATETIMES:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValueError(value)


@cache
def _compiled_lines(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:{pattern})(?:\n(?:{pattern}))*")


def _fits(values: Collection[str], guess: TypeGuess, joined: str | None = None) -> bool:
    """True if every (stripped, non-empty) value fits ``guess`` (``joined``: the values
    joined by newlines, when the caller has them)."""
    if guess.type in ("integer", "decimal", "date", "datetime") and len(values) > 1:
        # One regex over all values runs in C; a Python loop per value is ten times slower.
        joined = "\n".join(values) if joined is None else joined
        if joined.count("\n") != len(values) - 1:
            return False  # a value holds a newline: not a number nor a date
        if not _compiled_lines(pattern_of(guess)).fullmatch(joined):
            return False
        if guess.type == "decimal":
            return True   # the pattern is enough for float()
        if guess.type == "integer":
            # Only integers of more than 18 digits may overflow.
            values = [v for v in values if len(v) > 18] if max(map(len, values)) > 18 else []
    try:
        for v in values:
            parse_value(v, guess)
    except ValueError:
        return False
    return True


def candidates(kind: str | None = None, *, strict: bool = True) -> list[TypeGuess]:
    """Ways a column may be typed, in the order inference tries them (of one kind if given)."""
    out = [TypeGuess("boolean", strict=strict)]
    out += [TypeGuess("integer", thousands=t, strict=strict) for t in ("", SPACES)]
    for dec, th in ((".", ""), (".", SPACES), (",", ""), (",", SPACES), (",", "."), (".", ",")):
        out.append(TypeGuess("decimal", decimal=dec, thousands=th, strict=strict))
    out += [TypeGuess("date", date_format=f, strict=strict) for f in DATE_FORMATS]
    out += [TypeGuess("datetime", date_format=f, strict=strict) for f in DATETIME_FORMATS]
    return [g for g in out if kind is None or g.type == kind]


def has_padding(lines: str) -> bool:
    """True if a line starts or ends with a space or a tab (substring search runs in C)."""
    return (lines[:1] in (" ", "\t") or lines[-1:] in (" ", "\t")
            or any(edge in lines for edge in ("\n ", "\n\t", " \n", "\t\n")))


def _split_nulls(values: Sequence[str | None]) -> tuple[set[str], dict[str, object]]:
    """Distinct non-empty values, and what the guess must know: null markers, padding."""
    present: set[str] = set(values) - {None, ""}  # type: ignore[operator]
    padded = has_padding("\n".join(present))
    distinct = {v.strip(" \t") for v in present} - {""} if padded else present
    markers = tuple(sorted(distinct & NULL_MARKERS))
    return distinct - NULL_MARKERS, {"nulls": markers, "padded": padded}


def infer_type(values: Sequence[str | None]) -> TypeGuess:
    """The narrowest type every non-empty sample value fits; text when none does.

    Digit strings with a leading zero (``011``, ``01001``) and integers too long
    for 64 bits are codes: they stay text.
    """
    distinct, seen = _split_nulls(values)
    if not distinct:
        return TEXT
    joined = "\n".join(distinct)
    if _DIGITS.fullmatch(joined) and not _fits(distinct, candidates("integer")[0], joined):
        return TEXT
    for guess in candidates():
        if _fits(distinct, guess, joined):
            return replace(guess, **seen)  # type: ignore[arg-type]
    return TEXT


def guess_for(kind: str, values: Sequence[str | None]) -> TypeGuess:
    """The way of writing ``kind`` (forced by the user) that fits most sample values."""
    if kind == "text":
        return TEXT
    distinct, seen = _split_nulls(values)
    options = candidates(kind, strict=False)
    if not options:
        raise ValueError(f"unknown column type {kind!r}")

    def score(guess: TypeGuess) -> int:
        return sum(1 for v in distinct if _fits((v,), guess))

    best = max(options, key=score)  # max keeps the first of equals: the usual spelling
    return replace(best, **seen)  # type: ignore[arg-type]


def widenings(guess: TypeGuess) -> list[TypeGuess]:
    """Types to try, in order, when values outside the sample do not fit ``guess``:
    the same with spaces trimmed, then wider ones (integer to decimal, date to datetime)."""
    wider: list[TypeGuess] = []
    if guess.type == "text":
        return []
    if guess.type == "integer":
        wider = [replace(guess, type="decimal", decimal=d) for d in (",", ".")]
    elif guess.type == "date" and guess.date_format == "%Y-%m-%d":
        wider = [replace(guess, type="datetime", date_format="iso")]
    elif guess.type == "date" and guess.date_format == "%d/%m/%Y":
        wider = [replace(guess, type="datetime", date_format="%d/%m/%Y %H:%M:%S")]
    if guess.padded:
        return wider
    return [replace(g, padded=True) for g in (guess, *wider)]


# --- SQL -------------------------------------------------------------------------
# ``col`` is an already quoted identifier holding the raw string; the caller trims it
# (blank meaning NULL) when the guess is ``padded``: trimming every value costs as much
# as parsing it, and most files have no padding.

def duckdb_type(guess: TypeGuess) -> str:
    """The DuckDB type a column is stored as."""
    if guess.type == "datetime":
        return "TIMESTAMPTZ" if guess.date_format == "iso+tz" else "TIMESTAMP"
    return {"integer": "BIGINT", "decimal": "DOUBLE", "boolean": "BOOLEAN",
            "date": "DATE"}.get(guess.type, "VARCHAR")


def _in_list(col: str, words: Iterable[str]) -> str:
    return f"{col} IN ({', '.join(literal(w) for w in words)})"


def null_sql(col: str, guess: TypeGuess) -> str:
    """SQL true when the value is empty under ``guess``."""
    if not guess.nulls:
        return f"{col} IS NULL"
    return f"({col} IS NULL OR {_in_list(col, guess.nulls)})"


def parse_sql(col: str, guess: TypeGuess) -> str:
    """SQL giving the typed value, or NULL when the (non-empty) value does not fit."""
    if guess.type == "text":
        return col
    if guess.type == "boolean":
        low = f"lower({col})"
        return (f"CASE WHEN {_in_list(low, TRUE_WORDS)} THEN true "
                f"WHEN {_in_list(low, FALSE_WORDS)} THEN false END")
    if guess.type in ("integer", "decimal"):
        plain = col
        for sep in guess.thousands:
            plain = f"replace({plain}, {literal(sep)}, '')"
        if guess.decimal == "," and guess.type == "decimal":
            plain = f"replace({plain}, ',', '.')"
        value = f"TRY_CAST({plain} AS {duckdb_type(guess)})"
    elif guess.type == "date":
        value = f"CAST(try_strptime({col}, {literal(guess.date_format)}) AS DATE)"
    elif guess.date_format.startswith("iso"):
        value = f"TRY_CAST({col} AS {duckdb_type(guess)})"
    else:
        formats = ", ".join(literal(f) for f in _FR_DATETIMES)
        value = f"try_strptime({col}, [{formats}])"
    return f"CASE WHEN regexp_full_match({col}, {literal(pattern_of(guess))}) THEN {value} END"


def cast_sql(col: str, guess: TypeGuess, message_sql: str) -> str:
    """SQL typing the column, raising ``error(message_sql)`` on a value that does not fit."""
    if guess.type == "text":
        return col
    return (f"CASE WHEN {null_sql(col, guess)} THEN NULL ELSE "
            f"coalesce({parse_sql(col, guess)}, error({message_sql})) END")


def misfit_sql(col: str, guess: TypeGuess) -> str:
    """SQL true when a non-empty value does not fit ``guess``."""
    return f"(NOT {null_sql(col, guess)} AND ({parse_sql(col, guess)}) IS NULL)"
