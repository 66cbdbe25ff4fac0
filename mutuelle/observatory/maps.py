"""What a map of the observatory shows: an indicator's value for every territory of a level,
and its classes for a choropleth (bounds, colours, counts, each territory's class, rank and
parent's value), and the values the vector tiles carry. The API and the map page call these
functions.

Secret cells carry no number at all: value, numerator and denominator are null; nor do the
values of larger territories withheld for too low a coverage (``partial``) and the IRIS a
habitat-only indicator leaves out (``excluded``). Each value of a larger territory carries its
coverage.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer
from mutuelle.access.policy import visible_indicators as indicator_filter
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.catalog.repository import fold
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.geo import referential, tiles
from mutuelle.observatory import classification, compute
from mutuelle.observatory import indicators as catalogue
from mutuelle.observatory.scenarios import FILTER_KEYS, check_classes, check_level, check_method
from mutuelle.store.duck import cursor
from mutuelle.store.sql import ident, read_parquet

# --- access and parameters ------------------------------------------------------------------

def visible_indicators(session: Session, viewer: Viewer, theme: str | None = None
                       ) -> list[Indicator]:
    """Indicators ``viewer`` may read (and their sources), by theme then label."""
    return catalogue.list_indicators(session, theme=theme, visible=indicator_filter(viewer))


#: A number written with spaces between its groups of thousands (``1 000``, ``12 500,5``).
_GROUPED = re.compile(r"^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?$")


def read_breaks(text: str | None) -> tuple[list[float], list[str]]:
    """Manual breaks as typed, ``10;20;30`` or ``10,20,30`` (with semicolons, a comma may be
    the decimal mark: ``12,5;20``; groups of thousands may be spaced: ``1 000``), in the order
    written, and apart the parts that are no finite number; empty parts are skipped."""
    if text is None or not text.strip():
        return [], []
    separator = ";" if ";" in text else ","
    numbers: list[float] = []
    unreadable: list[str] = []
    for raw in text.split(separator):
        part = raw.strip()
        if not part:
            continue
        if _GROUPED.match(part):
            part = re.sub(r"[ \u00a0\u202f]", "", part)
        if separator == ";":
            part = part.replace(",", ".")
        try:
            number = float(part)
        except ValueError:
            unreadable.append(raw.strip())
            continue
        if math.isfinite(number):
            numbers.append(number)
        else:
            unreadable.append(raw.strip())
    return numbers, unreadable


def parse_breaks(text: str | None) -> list[float] | None:
    """Manual breaks (see :func:`read_breaks`), refused (``InvalidInput``) when a part is no
    finite number; None when there are none."""
    numbers, unreadable = read_breaks(text)
    if unreadable:
        raise InvalidInput(f"breaks must be finite numbers separated by commas or semicolons, "
                           f"not {unreadable[0]!r}")
    return numbers or None


def parse_within(text: str | None) -> tuple[str, str] | None:
    """``commune:96172`` as (level, code); None when empty."""
    if not text:
        return None
    level, _, code = text.partition(":")
    if level not in FILTER_KEYS or not code:
        raise InvalidInput(f"within must be level:code with level one of {', '.join(FILTER_KEYS)}, "
                           f"not {text!r}")
    return level, code


def within_bounds(settings: Settings, vintage: int, level: str, within: tuple[str, str]
                  ) -> list[float] | None:
    """[west, south, east, north] of the territories of ``level`` inside ``within`` (level,
    code), from the referential's contours; None when it has none of them."""
    path = referential.geometry_path(settings, vintage, level)
    up, code = within
    if up not in FILTER_KEYS or not path.exists():
        return None
    con = cursor(settings)
    try:
        row = con.execute(
            f"SELECT min(xmin), min(ymin), max(xmax), max(ymax) FROM {read_parquet(path)} "
            f"WHERE code = ? OR {ident(up)} = ?", [code, code]).fetchone()
    except duckdb.Error:  # a contour file without the parent's column: no bounds to zoom to
        return None
    finally:
        con.close()
    if row is None or any(v is None or not math.isfinite(v) for v in row):
        return None
    return [float(v) for v in row]


def codes_within(computed: compute.Computed, level: str, within: tuple[str, str] | None
                 ) -> set[str] | None:
    """The codes of ``level`` inside the territory ``within`` (level, code); None for all."""
    if within is None or level == compute.WHOLE:
        return None
    up, code = within
    ancestors = computed.referential.ancestors
    return {c for c in computed.referential.codes.get(level, ())
            if (level == up and c == code) or ancestors.get((level, c), {}).get(up) == code}


def computed_at(session: Session, settings: Settings, indicator: Indicator, level: str,
                vintage: int | None) -> compute.Computed:
    """The indicator's computation, refused (``InvalidInput``) if it has no values at
    ``level``."""
    check_level(level)
    computed = compute.compute_indicator(session, settings, indicator, vintage=vintage)
    computed.level(level)  # refuses a level the indicator has no values at
    return computed


def finite(value: float | None) -> float | None:
    """``value``, or None when it is missing or not a finite number."""
    return None if value is None or not math.isfinite(value) else value


def value_json(v: compute.Value) -> dict[str, Any]:
    """One territory's value; a secret cell carries no number, not even its denominator. A
    larger territory's ``coverage`` is the share of it whose data were there (0 to 1), with
    ``covered``: [territories with data, territories inside]; both null at the source level."""
    shown = v.status == compute.OK
    return {"code": v.code, "name": v.name, "status": v.status,
            "value": finite(v.value) if shown else None,
            "numerator": finite(v.numerator) if shown else None,
            "denominator": finite(v.denominator) if shown else None,
            "coverage": None if v.coverage is None else round(v.coverage, 4),
            "covered": None if v.covered is None else list(v.covered)}


def with_kind(item: dict[str, Any], computed: compute.Computed, level: str) -> dict[str, Any]:
    """An IRIS's value with its type (H habitat, A activité, D divers, Z commune without IRIS),
    where INSEE's figures are thin for A and D."""
    if level == "iris":
        item["kind"] = computed.referential.kinds.get(item["code"])
    return item


def matching_json(computed: compute.Computed, *, limit: int = 1000) -> dict[str, Any]:
    """How the source met the referential: codes matching no territory (the most frequent
    first, at most ``limit``), codes followed through the COG's passages, points outside."""
    unmatched = sorted(computed.unmatched.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"unmatched_count": len(unmatched),
            "unmatched_rows": sum(computed.unmatched.values()),
            "unmatched": [{"code": c, "rows": n} for c, n in unmatched[:limit]],
            "passed": [{"from": a, "to": b} for a, b in sorted(computed.passed.items())],
            "points": computed.points, "points_outside": computed.points_outside,
            "excluded_iris": computed.excluded}


def brief(indicator: Indicator) -> dict[str, Any]:
    """What a map needs to name an indicator and its unit."""
    return {"id": indicator.id, "label": indicator.label, "unit": indicator.unit,
            "theme": indicator.theme, "scale": indicator.scale, "source_note": indicator.source_note,
            "count": is_count(indicator)}


def is_count(indicator: Indicator) -> bool:
    """Whether the indicator counts people or things (a sum): shown as whole numbers, and
    compared between territories of different sizes as shares, never on one axis."""
    return indicator.aggregation == "sum"


# --- what a map shows -----------------------------------------------------------------------

def level_values(session: Session, settings: Settings, indicator: Indicator, *, level: str,
                 vintage: int | None = None, within: tuple[str, str] | None = None
                 ) -> dict[str, Any]:
    """Each territory's value at ``level`` (secret cells without numbers)."""
    computed = computed_at(session, settings, indicator, level, vintage)
    inside = codes_within(computed, level, within)
    rows = [with_kind(value_json(v), computed, level) for v in computed.values(level)
            if inside is None or v.code in inside]
    return {"indicator": brief(indicator), "level": level,
            "vintage": computed.referential.vintage, "min_coverage": computed.min_coverage,
            "matching": matching_json(computed), "total_count": len(rows), "results": rows}


def _rank_of(descending: Sequence[float]) -> Callable[[float], int]:
    """Rank of a value among ``descending`` (sorted, highest first): 1 for the highest, equal
    values sharing the best rank."""
    ascending = [-v for v in descending]
    return lambda value: bisect.bisect_left(ascending, -value) + 1


#: Orders of a table of values (``sort=``): by name, code, value or parent (its name, then the
#: territory's); ``-`` before one reverses it. Territories without a published value come last
#: in both directions of ``value``.
TABLE_SORTS = ("name", "code", "value", "parent")


def check_sort(sort: str) -> tuple[str, bool]:
    """The column and direction (descending?) of a ``sort=`` parameter, else ``InvalidInput``."""
    key = sort.removeprefix("-")
    if key not in TABLE_SORTS:
        orders = [*TABLE_SORTS, *(f"-{k}" for k in TABLE_SORTS)]
        raise InvalidInput(f"sort must be one of {', '.join(orders)}, not {sort!r}")
    return key, sort.startswith("-")


def _ordered(values: list[compute.Value], computed: compute.Computed, level: str,
             sort: str) -> list[compute.Value]:
    """``values`` in the order of a table of values (see ``TABLE_SORTS``)."""
    key, descending = check_sort(sort)

    def by_name(v: compute.Value) -> tuple[str, str, str]:
        return fold(v.name), v.name, v.code

    if key == "value":
        known = [v for v in values if v.status == compute.OK and finite(v.value) is not None]
        # ties keep the order of names whichever the direction
        known.sort(key=by_name)
        known.sort(key=lambda v: v.value, reverse=descending)  # type: ignore[arg-type, return-value]
        shown = {v.code for v in known}
        return known + sorted((v for v in values if v.code not in shown), key=by_name)
    if key == "code":
        return sorted(values, key=lambda v: v.code, reverse=descending)
    if key == "parent":
        def by_parent(v: compute.Value) -> tuple[str, tuple[str, str, str]]:
            parent = computed.parent(level, v.code)
            return ("" if parent is None else fold(parent[1].name)), by_name(v)
        return sorted(values, key=by_parent, reverse=descending)
    return sorted(values, key=by_name, reverse=descending)


def choropleth(session: Session, settings: Settings, indicator: Indicator, *, level: str,
               vintage: int | None = None, method: str = "quantile", classes: int = 5,
               breaks: Sequence[float] | None = None, palette: str = classification.DEFAULT_PALETTE,
               within: tuple[str, str] | None = None, rows: int | None = None,
               offset: int = 0, sort: str | None = None) -> dict[str, Any]:
    """Classes, legend counts and each territory's value, class, rank and parent's value.

    ``rows``: only ``rows`` territories from ``offset`` in ``results`` (a page of a table, in
    the order ``sort`` gives, by name by default; building each row costs more than the classes
    on tens of thousands of IRIS); all of them when None, in the referential's order unless
    ``sort`` is given. ``total_count`` is their number in all."""
    check_method(method)
    check_classes(classes)
    if sort is not None:
        check_sort(sort)
    computed = computed_at(session, settings, indicator, level, vintage)
    inside = codes_within(computed, level, within)
    values = [v for v in computed.values(level) if inside is None or v.code in inside]
    ok = {v.code: v.value for v in values if v.status == compute.OK and finite(v.value) is not None}
    found = classification.classify(list(ok.values()), method, classes,
                                    breaks=breaks if method == "manual" else None, palette=palette)
    rank = _rank_of(sorted(ok.values(), reverse=True))  # type: ignore[arg-type]
    if rows is None and sort is None:
        shown = values
    else:
        ordered = _ordered(values, computed, level, sort or "name")
        shown = ordered[offset:] if rows is None else ordered[offset:offset + rows]
    items = []
    for v in shown:
        item = with_kind(value_json(v), computed, level)
        known = v.code in ok
        item["class"] = found.class_of(v.value) if known else None
        item["rank"] = rank(v.value) if known else None  # type: ignore[arg-type]
        parent = computed.parent(level, v.code)
        item["parent"] = None if parent is None else {"level": parent[0], **value_json(parent[1])}
        items.append(item)
    statuses = {s: sum(1 for v in values if v.status == s) for s in compute.STATUSES}
    return {"indicator": brief(indicator), "level": level,
            "vintage": computed.referential.vintage, "method": method,
            # the classes made: fewer than asked when they cannot be made, told by the note
            "classes": len(found.counts), "classes_asked": classes, "note": found.note,
            "notes": [n.as_json() for n in found.notes],
            "palette": palette, "breaks": found.breaks, "colors": found.colors,
            "counts": found.counts, "statuses": statuses, "ranked": len(ok),
            "within": None if within is None else f"{within[0]}:{within[1]}", "sort": sort or "name",
            "inside": None if inside is None else sorted(v.code for v in values),
            "total_count": len(values), "results": items}


# --- what the tiles carry -------------------------------------------------------------------

#: Indicator values (as ``code -> (value, status)``) kept per process.
VALUES_CACHE_ITEMS = 16
#: Seconds the values of an indicator are reused without asking the observatory whether they
#: changed: a map view asks for a dozen tiles at once, and that check costs several queries.
#: Far below the browsers' own cache lifetime of tiles with values.
VALUES_RECHECK_SECONDS = 5.0

# (store, indicator, level, vintage) -> (checked at, the values' key, converted values)
_values: Cache[tuple[str, str, str, int], tuple[float, str, tiles.Values]] = Cache(
    "observatory.tile_values", max_items=VALUES_CACHE_ITEMS)


def tile_values(session: Session, settings: Settings, indicator: Indicator, level: str,
                vintage: int) -> tuple[str, tiles.Values]:
    """``code -> (value, status)`` of an indicator at one level, with a key naming what they
    were made from (the computation's, the same in every worker). Converted once per
    computation of the observatory; the tiles prepare them once per key, without hashing
    48,000 IRIS per tile."""
    place = (str(settings.store_dir), indicator.id, level, vintage)
    found = _values.get(place)
    if found is not None and time.monotonic() - found[0] < VALUES_RECHECK_SECONDS:
        return found[1], found[2]
    computed = compute.compute_indicator(session, settings, indicator, vintage=vintage)
    by_code = computed.level(level)
    key = f"{computed.key}-{level}"
    if found is not None and found[1] == key:
        converted = found[2]
    else:
        converted = {code: (v.value, v.status) for code, v in by_code.items()}
    _values.put(place, (time.monotonic(), key, converted))
    return key, converted
