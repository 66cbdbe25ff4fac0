"""The columns a chart, a KPI or a table names in a dataset's version: that they are there and
of a type that fits, and how they and their values are written in ODSQL.

A chart saved on one version is drawn on the latest: a column renamed or removed since is
told by ``MissingColumn`` (naming the column and the version), never a failed query.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from mutuelle.core.errors import InvalidField

NUMERIC = ("integer", "decimal")
TEMPORAL = ("date", "datetime")
#: Types a chart may group by or filter on (every one but geometries).
PLAIN = ("integer", "decimal", "boolean", "date", "datetime", "text")
_INTEGER = re.compile(r"^-?\d{1,18}$")
_DECIMAL = re.compile(r"^-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?$")


class MissingColumn(InvalidField):
    """A column named by a chart or a KPI that the dataset's version does not hold (any more)."""

    def __init__(self, field: str, column: str, version: int | None) -> None:
        where = f"version {version} of the dataset" if version is not None else "the dataset"
        super().__init__(field, f"{field}: column {column!r} is not in {where} (renamed or "
                                f"removed?)")
        self.column = column
        self.version = version


def column(schema: Mapping[str, str], name: str, field: str, *, kinds: tuple[str, ...] = PLAIN,
           version: int | None = None, role: str = "") -> str:
    """The type of column ``name``; ``MissingColumn`` when the version has none of that name,
    ``InvalidField`` naming ``field`` when its type is not one of ``kinds``."""
    kind = schema.get(name)
    if kind is None:
        raise MissingColumn(field, name, version)
    if kind not in kinds:
        raise InvalidField(field, f"{field}: column {name!r} holds {kind} values; "
                                  f"{role or 'this'} needs {' or '.join(kinds)}")
    return kind


def name(column_name: str) -> str:
    """A column name as ODSQL reads it, whatever it holds: ```credits_ouverts```."""
    return "`" + column_name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def text(value: str) -> str:
    """A text value as an ODSQL literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(kind: str, value: Any, field: str) -> str:
    """``value`` as an ODSQL literal of a column of type ``kind``; ``InvalidField`` naming
    ``field`` when it is not a value of that type (``"abc"`` for a number)."""
    def wrong(expected: str) -> InvalidField:
        return InvalidField(field, f"{field}: {value!r} is not {expected}")

    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            raise wrong("a whole number")
        if isinstance(value, str) and not _INTEGER.match(value.strip()):
            raise wrong("a whole number")
        return str(int(value))
    if kind == "decimal":
        if isinstance(value, bool):
            raise wrong("a number")
        if isinstance(value, str):
            if not _DECIMAL.match(value.strip()):
                raise wrong("a number")
            value = float(value.strip().replace(",", "."))
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise wrong("a number")
        return repr(float(value))
    if kind == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower()
        raise wrong("true or false")
    if kind == "date":
        try:
            return f"date'{date.fromisoformat(str(value).strip()).isoformat()}'"
        except ValueError:
            raise wrong("a date written YYYY-MM-DD") from None
    if kind == "datetime":
        try:
            return f"date'{datetime.fromisoformat(str(value).strip()).isoformat()}'"
        except ValueError:
            raise wrong("a date and time written YYYY-MM-DDTHH:MM:SS") from None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise wrong("text")
    return text(str(value))


def grained(column_name: str, kind: str, grain: str | None) -> str:
    """The ODSQL expression of a column grouped by ``grain`` (a date's year, month or day;
    other columns as they are)."""
    if kind not in TEMPORAL or grain is None:
        return name(column_name)
    if grain == "year":
        return f"year({name(column_name)})"
    pattern = "yyyy-MM" if grain == "month" else "yyyy-MM-dd"
    return f"date_format({name(column_name)}, {text(pattern)})"
