"""The ODSQL functions we know, their arity and where they may appear; units; date patterns.

A name not listed here is refused by the parser, so no other function can reach DuckDB.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from mutuelle.core.errors import QueryError

AGGREGATE = "aggregate"
SCALAR = "scalar"
FILTER = "filter"
GROUPING = "grouping"
ORDERING = "ordering"


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its kind, how many positional arguments it takes (None: any number) and
    the ``name=value`` arguments it accepts."""

    name: str
    kind: str
    min_args: int
    max_args: int | None
    keywords: frozenset[str] = frozenset()


#: ``now()``'s named arguments (Opendatasoft's, after python-dateutil's relativedelta):
#: singular names set a part of the current date, plural ones add to it.
NOW_ABSOLUTE = ("year", "month", "day", "hour", "minute", "second", "microsecond")
NOW_RELATIVE = ("years", "months", "weeks", "days", "hours", "minutes", "seconds",
                "microseconds")
WEEKDAYS = ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays",
            "sundays")
NOW_KEYWORDS = frozenset((*NOW_ABSOLUTE, *NOW_RELATIVE, "weekday", *WEEKDAYS))


FUNCTIONS: dict[str, FunctionSpec] = {spec.name: spec for spec in (
    FunctionSpec("count", AGGREGATE, 1, 1),
    FunctionSpec("avg", AGGREGATE, 1, 1),
    FunctionSpec("sum", AGGREGATE, 1, 1),
    FunctionSpec("min", AGGREGATE, 1, 1),
    FunctionSpec("max", AGGREGATE, 1, 1),
    FunctionSpec("median", AGGREGATE, 1, 1),
    FunctionSpec("percentile", AGGREGATE, 2, 2),
    FunctionSpec("bbox", AGGREGATE, 1, 1),
    FunctionSpec("year", SCALAR, 1, 1),
    FunctionSpec("month", SCALAR, 1, 1),
    FunctionSpec("day", SCALAR, 1, 1),
    FunctionSpec("hour", SCALAR, 1, 1),
    FunctionSpec("minute", SCALAR, 1, 1),
    FunctionSpec("second", SCALAR, 1, 1),
    FunctionSpec("envelope", AGGREGATE, 1, 1),
    FunctionSpec("date_format", SCALAR, 2, 2),
    FunctionSpec("now", SCALAR, 0, 0, NOW_KEYWORDS),
    FunctionSpec("lower", SCALAR, 1, 1),
    FunctionSpec("upper", SCALAR, 1, 1),
    FunctionSpec("length", SCALAR, 1, 1),
    FunctionSpec("distance", SCALAR, 2, 3),  # 3 arguments: the legacy within_distance
    FunctionSpec("search", FILTER, 1, None),
    FunctionSpec("suggest", FILTER, 1, None),
    FunctionSpec("startswith", FILTER, 1, None),
    FunctionSpec("within_distance", FILTER, 3, 3),
    FunctionSpec("in_bbox", FILTER, 5, 5),
    FunctionSpec("intersects", FILTER, 2, 2),
    FunctionSpec("within", FILTER, 2, 2),
    FunctionSpec("disjoint", FILTER, 2, 2),
    FunctionSpec("geometry", FILTER, 2, 3),  # legacy: geometry(geo, shape[, mode])
    FunctionSpec("range", GROUPING, 2, None),
    FunctionSpec("geo_cluster", GROUPING, 2, 3),
    FunctionSpec("random", ORDERING, 0, 1),
)}

#: Legacy modes of ``geometry(field, shape, mode)`` and the predicate each one names.
GEOMETRY_MODES: dict[str, str] = {
    "intersects": "intersects", "intersect": "intersects", "within": "within",
    "disjoint": "disjoint",
}

#: Metres per distance unit accepted by ``within_distance``.
DISTANCE_UNITS: dict[str, float] = {
    "m": 1.0, "km": 1000.0, "mi": 1609.344, "yd": 0.9144, "ft": 0.3048, "cm": 0.01,
    "mm": 0.001,
}

#: Duration units accepted by ``range(date_field, n unit)``, mapped to DuckDB interval parts.
#: Units are lower case except ``M`` (month); ``m`` is a minute here and a metre elsewhere.
DURATION_UNITS: dict[str, str] = {
    "year": "YEAR", "years": "YEAR", "y": "YEAR", "quarter": "QUARTER",
    "quarters": "QUARTER", "q": "QUARTER", "month": "MONTH", "months": "MONTH", "M": "MONTH",
    "week": "WEEK", "weeks": "WEEK", "w": "WEEK", "day": "DAY", "days": "DAY", "d": "DAY",
    "hour": "HOUR", "hours": "HOUR", "h": "HOUR", "minute": "MINUTE", "minutes": "MINUTE",
    "m": "MINUTE", "second": "SECOND", "seconds": "SECOND", "s": "SECOND",
    "millisecond": "MILLISECOND", "milliseconds": "MILLISECOND", "ms": "MILLISECOND",
}
#: Unit letters read as units only when written against their number (``1d``, not ``1 d``,
#: where ``d`` may be a field).
ADJACENT_UNITS = frozenset({"y", "q", "M", "w", "d", "h", "s", "ms"})

#: Mean Earth radius (IUGG), in metres, for haversine distances.
EARTH_RADIUS_M = 6_371_008.8

# Java DateTimeFormatter letters → strftime, longest run first for each letter.
_JAVA_PATTERNS: dict[str, list[tuple[int, str]]] = {
    "y": [(4, "%Y"), (2, "%y"), (1, "%Y")],
    "Y": [(4, "%G"), (1, "%G")],
    "M": [(4, "%B"), (3, "%b"), (2, "%m"), (1, "%-m")],
    "d": [(2, "%d"), (1, "%-d")],
    "D": [(1, "%j")],
    "H": [(2, "%H"), (1, "%-H")],
    "h": [(2, "%I"), (1, "%-I")],
    "m": [(2, "%M"), (1, "%-M")],
    "s": [(2, "%S"), (1, "%-S")],
    "S": [(3, "%g"), (1, "%g")],
    "a": [(1, "%p")],
    "E": [(4, "%A"), (1, "%a")],
    "w": [(2, "%V"), (1, "%V")],
}


def java_to_strftime(pattern: str, *, clause: str, position: int) -> str:
    """Translate a Java-like date pattern (``yyyy-MM-dd``) to a strftime format."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise QueryError("unterminated quote in date pattern", clause=clause,
                                 position=position)
            literal = pattern[i + 1:end] if end > i + 1 else "'"
            out.append(literal.replace("%", "%%"))
            i = end + 1
            continue
        if ch.isascii() and ch.isalpha():
            run = 1
            while i + run < n and pattern[i + run] == ch:
                run += 1
            choices = _JAVA_PATTERNS.get(ch)
            if choices is None:
                raise QueryError(f"unsupported letter {ch!r} in date pattern", clause=clause,
                                 position=position)
            out.append(next(fmt for width, fmt in choices if run >= width))
            i += run
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


# -- literals -----------------------------------------------------------------------------

_WHEN = re.compile(
    r"(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?)?)?)?"
)
_PRECISIONS = ("year", "month", "day", "minute", "second")


@dataclass(frozen=True)
class When:
    """A date literal: its start, how precise it was written and its time zone if given."""

    start: datetime
    precision: str  # year, month, day, minute or second
    tz: tzinfo | None = None

    @property
    def has_time(self) -> bool:
        """Whether a time of day was written."""
        return self.precision in ("minute", "second")

    def end(self) -> datetime:
        """The start of the next period of the same precision (exclusive end)."""
        s = self.start
        if self.precision == "year":
            return s.replace(year=s.year + 1)
        if self.precision == "month":
            return s.replace(year=s.year + (s.month == 12), month=s.month % 12 + 1)
        step = {"day": timedelta(days=1), "minute": timedelta(minutes=1)}
        return s + step.get(self.precision, timedelta(seconds=1))


def parse_when(text: str, *, clause: str, position: int) -> When:
    """Read ``2024``, ``2024-05``, ``2024/05/03``, ``2024-05-03T10:00:00+02:00``..."""
    m = _WHEN.fullmatch(text.strip())
    if m is None:
        raise QueryError(f"invalid date {text!r} (expected YYYY[-MM[-DD[THH:MM[:SS]]]])",
                         clause=clause, position=position)
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    parts = [year, month, day, minute, second]
    precision = _PRECISIONS[max(i for i, p in enumerate(parts) if p is not None)]
    try:
        start = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                         int(minute or 0), int(second or 0),
                         int((fraction or "0")[:6].ljust(6, "0")))
        if start.year >= 9999:  # the end of its period must stay a valid date
            raise ValueError("year out of range")
        tz = _parse_offset(zone) if zone else None
    except ValueError as exc:
        raise QueryError(f"invalid date {text!r}: {exc}", clause=clause,
                         position=position) from exc
    return When(start, precision, tz)


#: Accepted values of ``now()``'s parts that set a component (relative ones: any integer).
NOW_RANGES: dict[str, tuple[int, int]] = {
    "year": (1, 9999), "month": (1, 12), "day": (1, 2**31), "hour": (0, 23), "minute": (0, 59),
    "second": (0, 59), "microsecond": (0, 999_999), "weekday": (0, 6),
}


def shift_now(base: datetime, parts: dict[str, int]) -> datetime:
    """``base`` with ``now()``'s parts applied as python-dateutil's relativedelta does
    (Opendatasoft's model): set components first (the day kept within its month), then add
    years and months, then the other durations, then move to the asked weekday.

    Raises ValueError (or OverflowError) when the result leaves years 1 to 9999.
    """
    total = ((parts.get("year", base.year) + parts.get("years", 0)) * 12
             + parts.get("month", base.month) - 1 + parts.get("months", 0))
    year, month = divmod(total, 12)
    if not 1 <= year <= 9999:
        raise ValueError("year out of range")
    day = min(parts.get("day", base.day), calendar.monthrange(year, month + 1)[1])
    moment = base.replace(year=year, month=month + 1, day=day,
                          hour=parts.get("hour", base.hour),
                          minute=parts.get("minute", base.minute),
                          second=parts.get("second", base.second),
                          microsecond=parts.get("microsecond", base.microsecond))
    moment += timedelta(weeks=parts.get("weeks", 0), days=parts.get("days", 0),
                        hours=parts.get("hours", 0), minutes=parts.get("minutes", 0),
                        seconds=parts.get("seconds", 0),
                        microseconds=parts.get("microseconds", 0))
    weekday = _weekday(parts)
    if weekday is None:
        return moment
    target, nth = weekday
    if nth > 0:
        jump = (nth - 1) * 7 + (target - moment.weekday()) % 7
    else:
        jump = -((-nth - 1) * 7 + (moment.weekday() - target) % 7)
    return moment + timedelta(days=jump)


def _weekday(parts: dict[str, int]) -> tuple[int, int] | None:
    """The (weekday, nth) to move to: ``weekday=2`` is the next Wednesday (or today), and
    ``wednesdays=-1`` the last one; of several such parts the last written wins."""
    chosen = None
    for name, value in parts.items():
        if name == "weekday":
            chosen = (value, 1)
        elif name in WEEKDAYS:
            chosen = (WEEKDAYS.index(name), value)
    return chosen


def _parse_offset(zone: str) -> tzinfo:
    if zone == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 18 or minutes > 59:
        raise ValueError(f"bad UTC offset {zone}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


@dataclass(frozen=True)
class Geometry:
    """A checked geometry literal, rewritten as WKT we generated ourselves."""

    kind: str   # Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon
    wkt: str
    point: tuple[float, float] | None = None  # (lon, lat) for a Point


_WKT_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([(),]))")
_KINDS = {k.upper(): k for k in ("Point", "LineString", "Polygon", "MultiPoint",
                                  "MultiLineString", "MultiPolygon")}
_DEPTH = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2,
          "MultiPolygon": 3}
_MAX_POSITIONS = 100_000


def parse_geometry(text: str, *, clause: str, position: int) -> Geometry:
    """Check a WKT or GeoJSON geometry in WGS84 (lon lat) and rewrite it as WKT."""
    try:
        if text.lstrip().startswith("{"):
            kind, coords = _from_geojson(text)
        else:
            kind, coords = _from_wkt(text)
        _check_shape(kind, coords)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise QueryError(f"invalid geometry: {exc}", clause=clause, position=position) from exc
    if kind == "Point":
        return Geometry(kind, f"POINT ({_wkt_body(coords)})", (coords[0], coords[1]))
    return Geometry(kind, f"{kind.upper()} {_wkt_body(coords)}")


def _from_geojson(text: str) -> tuple[str, Any]:
    obj = json.loads(text)
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict) or obj.get("type") not in _DEPTH:
        raise ValueError("expected a GeoJSON Point, LineString, Polygon or Multi* geometry")
    return str(obj["type"]), obj["coordinates"]


def _from_wkt(text: str) -> tuple[str, Any]:
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _WKT_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"unexpected text at {pos}")
        tokens.append(m.group(m.lastindex or 0))
        pos = m.end()
        if len(tokens) > 4 * _MAX_POSITIONS:
            raise ValueError("too many coordinates")
    if not tokens or tokens[0].upper() not in _KINDS:
        raise ValueError("expected POINT, LINESTRING, POLYGON or MULTI*")
    kind = _KINDS[tokens[0].upper()]
    stack: list[list[Any]] = [[]]
    numbers: list[float] | None = None
    for tok in tokens[1:]:
        if tok == "(":
            stack.append([])
        elif tok in (",", ")"):
            if numbers is not None:
                stack[-1].append(numbers)
                numbers = None
            if tok == ")":
                if len(stack) < 2:
                    raise ValueError("unbalanced parentheses")
                done = stack.pop()
                stack[-1].append(done)
        elif tok[0].isalpha():
            raise ValueError(f"unexpected word {tok!r}")
        else:
            numbers = (numbers or []) + [float(tok)]
    if len(stack) != 1 or len(stack[0]) != 1 or numbers is not None:
        raise ValueError("unbalanced parentheses")
    coords: Any = stack[0][0]
    if kind == "Point":
        coords = coords[0] if len(coords) == 1 else coords
    elif kind == "MultiPoint":  # MULTIPOINT (1 2, 3 4) and MULTIPOINT ((1 2), (3 4))
        coords = [c[0] if len(c) == 1 and isinstance(c[0], list) else c for c in coords]
    return kind, coords


def _check_shape(kind: str, coords: Any) -> None:
    depth = _DEPTH[kind]
    count = 0

    def position(p: Any) -> None:
        nonlocal count
        if not isinstance(p, list) or len(p) != 2:
            raise ValueError("positions must have exactly two numbers (lon lat)")
        lon, lat = p
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p):
            raise ValueError("coordinates must be numbers")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("coordinates must be WGS84 longitude latitude")
        count += 1
        if count > _MAX_POSITIONS:
            raise ValueError("too many coordinates")

    def walk(c: Any, level: int, ring: bool) -> None:
        if level == 0:
            position(c)
            return
        if not isinstance(c, list) or not c:
            raise ValueError("empty or malformed coordinates")
        for item in c:
            walk(item, level - 1, ring)
        if level == 1 and ring and (len(c) < 4 or c[0] != c[-1]):
            raise ValueError("polygon rings need 4 positions or more and must be closed")
        if level == 1 and kind in ("LineString", "MultiLineString") and len(c) < 2:
            raise ValueError("lines need 2 positions or more")

    walk(coords, depth, kind in ("Polygon", "MultiPolygon"))


def _wkt_body(coords: Any) -> str:
    if isinstance(coords, list) and coords and not isinstance(coords[0], list):
        return " ".join(_num(v) for v in coords)
    return "(" + ", ".join(_wkt_body(c) for c in coords) + ")"


def _num(v: float) -> str:
    text = f"{float(v):.12f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def fold_number_label(v: float) -> str:
    """A number as ODSQL writes it in range labels (no trailing .0)."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))
