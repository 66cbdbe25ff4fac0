"""Indicator values at every level: numerators and denominators summed per source code by
DuckDB, carried up the referential (IRIS → commune → EPCI → département → région, the whole
territory, and QPV through their IRIS overlaps), then divided and put under secrecy.

A rate is Σ numerator / Σ denominator over the cells inside, never a mean of rates. A
``median`` indicator cannot be summed: it has values at its own level only.

Each value of a larger territory carries its coverage: the share of it whose data were there
(of its population, or of its territories when populations are unknown), and is withheld
(``partial``) below the indicator's minimum coverage. A habitat-only indicator leaves out the
IRIS of activity and miscellaneous types (``excluded``).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import LEVELS, Indicator, Territory, TerritoryOverlap
from mutuelle.core.cache import Cache, digest
from mutuelle.core.clock import now
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.geo import referential as geo_referential
from mutuelle.observatory import secrecy
from mutuelle.observatory.indicators import (
    NOT_HABITAT,
    Matching,
    Source,
    definition_hash,
    indicator_sources,
    registered,
    source_sums,
)
from mutuelle.query.run import budgeted

log = logging.getLogger(__name__)

#: Levels that nest, from the smallest; ``territoire`` holds any of them.
CHAIN = ("iris", "commune", "epci", "departement", "region")
WHOLE = "territoire"
WHOLE_CODE, WHOLE_NAME = "ensemble", "Ensemble du territoire"   # when the referential has none
OK, SECRET, NO_DATA = "ok", "secret", "no_data"
#: A larger territory's value withheld because too little of it had data; an IRIS left out of
#: a habitat-only indicator (activité or divers).
PARTIAL, EXCLUDED = "partial", "excluded"
STATUSES = (OK, SECRET, NO_DATA, PARTIAL, EXCLUDED)
#: Values of computed indicators kept per process, all indicators together (about 150 MB; one
#: indicator over the IRIS of France and their parents holds some 90,000).
COMPUTED_CACHE_CELLS = 1_000_000
#: Referentials (one per catalogue, store and vintage) kept per process.
REFERENTIALS_CACHE_ITEMS = 8
Key = tuple[str, str]
#: The levels that may hold a territory of each level.
_UPPERS = {**{lv: CHAIN[i + 1:] for i, lv in enumerate(CHAIN)}, "qpv": CHAIN[1:]}
# (catalogue, store, vintage) -> the referential, checked against its full stamp when read
_referentials: Cache[tuple[str, str, int], Referential] = Cache(
    "observatory.referentials", max_items=REFERENTIALS_CACHE_ITEMS)
# (referential stamp, definition hash, source versions' checksums) -> every value
_computed: Cache[Hashable, Computed] = Cache(
    "observatory.computed", max_cost=COMPUTED_CACHE_CELLS,
    cost=lambda c: sum(len(values) for values in c.levels.values()))


class Value(NamedTuple):
    """One territory's value (a light tuple: made by the 10,000); hidden is None, never 0."""

    code: str
    name: str
    value: float | None
    numerator: float | None
    denominator: float | None
    status: str          # ok, secret, no_data, partial or excluded
    #: Share (0 to 1) of a larger territory whose data were there; None at the source level.
    coverage: float | None = None
    #: (territories with data, territories) inside a larger territory.
    covered: tuple[int, int] | None = None


@dataclass
class Referential:
    """The territories of one vintage with each one's ancestors."""

    vintage: int
    names: dict[Key, str]
    codes: dict[str, list[str]]                 # level -> codes, sorted
    ancestors: dict[Key, dict[str, str]]        # (level, code) -> {upper level: code}
    wholes: dict[str, set[str] | None]          # territoire code -> member communes (None: all)
    overlaps: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # iris -> qpv
    kinds: dict[str, str] = field(default_factory=dict)       # iris -> type (H, A, D, Z)
    populations: dict[Key, float] = field(default_factory=dict)
    stamp: tuple[Hashable, ...] = ()            # see referential_stamp
    derived: dict[Hashable, Any] = field(default_factory=dict)   # built once per referential

    def wholes_of(self, key: Key) -> list[str]:
        """Codes of the whole territories holding ``key`` (all its communes are members)."""
        inside: set[str]
        if key[0] in ("epci", "departement", "region"):
            inside = {c for c in self.codes.get("commune", ())
                      if self.ancestors[("commune", c)].get(key[0]) == key[1]}
        else:
            inside = {key[1] if key[0] == "commune"
                      else self.ancestors.get(key, {}).get("commune", "")}
        return [w for w, members in self.wholes.items()
                if members is None or (inside and inside <= members)]


@dataclass
class Computed:
    """Every value of one indicator, level by level, after secrecy."""

    indicator: Indicator
    referential: Referential
    levels: dict[str, dict[str, Value]]        # level -> code -> value
    unmatched: dict[str, int] = field(default_factory=dict)   # codes matching no territory
    seconds: float = 0.0
    key: str = ""    # digest of what the values were made from, the same in every process
    passed: dict[str, str] = field(default_factory=dict)      # codes followed to the vintage
    points: int = 0                  # points of a point dataset
    points_outside: int = 0          # of them, inside no territory of the level
    excluded: int = 0                # IRIS left out (habitat only)
    min_coverage: int = 0            # % below which larger territories are withheld
    coverage_basis: dict[str, str] = field(default_factory=dict)  # level -> population|count
    sources: list[dict[str, Any]] = field(default_factory=list)   # dataset, version, checksum
    at: datetime | None = None       # when the values were computed

    def values(self, level: str) -> list[Value]:
        """The values of one level, by code."""
        return list(self.level(level).values())

    def level(self, level: str) -> dict[str, Value]:
        """code -> value at ``level``, or a clear refusal when the indicator has none there."""
        if level not in LEVELS:
            raise InvalidInput(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
        ind = self.indicator
        if level not in self.levels and ind.aggregation == "median":
            raise InvalidInput(f"indicator {ind.id!r} is a median of {ind.code_level} values, "
                               f"which cannot be aggregated: it has no {level} values")
        if level not in self.levels:
            raise InvalidInput(f"indicator {ind.id!r} is computed from {ind.code_level} codes: "
                               f"it has no {level} values; levels: {', '.join(self.levels)}")
        return self.levels[level]

    def parent(self, level: str, code: str) -> tuple[str, Value] | None:
        """The value of the nearest larger territory holding this one (QPV: its commune)."""
        ups = self.referential.ancestors.get((level, code), {})
        for upper in CHAIN:   # ancestors are all larger
            if upper in ups and ups[upper] in self.levels.get(upper, ()):
                return upper, self.levels[upper][ups[upper]]
        return self.whole(level, code) if level != WHOLE else None

    def whole(self, level: str, code: str) -> tuple[str, Value] | None:
        """The value of the whole territory holding this one."""
        wholes = self.levels.get(WHOLE, {})
        found = [w for w in (self.referential.wholes_of((level, code)) if level != WHOLE
                             else [code]) if w in wholes]
        return (WHOLE, wholes[found[0]]) if found else None


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large structures without cycles,
    which it would scan again and again as they grow (a third of the time on 48,000 IRIS)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_referential(session: Session, vintage: int) -> Referential:
    """Territories, ancestors, whole territories and QPV overlaps of ``vintage``."""
    rows = session.execute(select(
        Territory.level, Territory.code, Territory.name, Territory.parent_code,
        Territory.commune, Territory.epci, Territory.departement, Territory.region,
        Territory.kind, Territory.population,
    ).where(Territory.vintage == vintage)).all()
    if not rows:
        raise InvalidInput(f"the referential holds no territory for vintage {vintage}: import "
                           "it first (mutuelle geo import)")
    names = {(r[0], r[1]): r[2] for r in rows}
    codes: dict[str, list[str]] = {}
    for r in rows:
        codes.setdefault(r[0], []).append(r[1])
    for level_codes in codes.values():
        level_codes.sort()
    # Larger levels first, so that each territory inherits its parent's resolved ancestors.
    rank = {lv: i for i, lv in enumerate(reversed(CHAIN))}
    ancestors: dict[Key, dict[str, str]] = {}
    kinds = {r[1]: r[8] for r in rows if r[0] == "iris" and r[8]}
    populations = {(r[0], r[1]): float(r[9]) for r in rows if r[9] is not None}
    for level, code, _, parent, *columns in sorted(
            (r[:8] for r in rows), key=lambda r: rank.get(r[0], 9)):
        uppers = _UPPERS.get(level, ())
        given = dict(zip(("commune", "epci", "departement", "region"), columns, strict=True))
        out = {up: c for up in uppers if (c := given[up]) is not None and (up, c) in names}
        if parent:   # the direct parent, at the nearest level that has that code
            nearest = next((up for up in uppers if (up, parent) in names), None)
            if nearest is not None:
                out.setdefault(nearest, parent)
        for up in uppers:     # the rest from the nearest ancestor found
            if up in out:
                for lv, c in ancestors.get((up, out[up]), {}).items():
                    out.setdefault(lv, c)
                break
        ancestors[(level, code)] = out
    wholes: dict[str, set[str] | None] = {}
    for code, extra in session.execute(select(Territory.code, Territory.extra).where(
            Territory.vintage == vintage, Territory.level == WHOLE)).all():
        members = (extra or {}).get("communes")
        wholes[code] = set(members) if members else None
    if not wholes:
        wholes[WHOLE_CODE] = None
        names[(WHOLE, WHOLE_CODE)] = WHOLE_NAME
        codes[WHOLE] = [WHOLE_CODE]
    overlaps: dict[str, list[tuple[str, float]]] = {}
    for qpv, iris, area, people in session.execute(select(
            TerritoryOverlap.qpv, TerritoryOverlap.iris, TerritoryOverlap.area_share,
            TerritoryOverlap.population_share).where(TerritoryOverlap.vintage == vintage)):
        share = people if people is not None else area
        if share and share > 0:
            overlaps.setdefault(iris, []).append((qpv, float(share)))
    return Referential(vintage, names, codes, ancestors, wholes, overlaps, kinds=kinds,
                       populations=populations)


def referential_stamp(session: Session, settings: Settings, vintage: int
                      ) -> tuple[Hashable, ...]:
    """What changes when the referential of ``vintage`` does: its rows (count, newest id), its
    overlaps, and its contour files (each import rewrites its level's file)."""
    rows = session.execute(select(func.count(), func.max(Territory.id))
                           .where(Territory.vintage == vintage)).one()
    overlaps = session.execute(select(func.count(), func.max(TerritoryOverlap.id))
                               .where(TerritoryOverlap.vintage == vintage)).one()
    folder = settings.store_dir / "referential" / str(vintage)
    files = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.parquet"))) \
        if folder.exists() else ()
    return (settings.catalog_url, str(settings.store_dir), vintage, tuple(rows),
            tuple(overlaps), files)


def referential(session: Session, settings: Settings, vintage: int) -> Referential:
    """The referential of ``vintage``, read once and kept until it changes."""
    stamp = referential_stamp(session, settings, vintage)
    place = (settings.catalog_url, str(settings.store_dir), vintage)
    found = _referentials.get(place)
    if found is not None and found.stamp == stamp:
        return found
    with _gc_paused():
        ref = load_referential(session, vintage)
    ref.stamp = stamp
    _referentials.put(place, ref)
    return ref


def clear_cache() -> None:
    """Forget every referential and computed indicator kept in memory."""
    _referentials.clear()
    _computed.clear()


def default_vintage(session: Session, settings: Settings, indicator: Indicator) -> int:
    """The vintage to compute in: the indicator's, else the default one if the referential
    has it, else the newest the referential has."""
    if indicator.vintage is not None:
        return indicator.vintage
    found = geo_referential.default_vintage(session, settings)
    return settings.default_vintage if found is None else found


def _levels(ind: Indicator, ref: Referential) -> list[str]:
    """Levels an indicator has values at, from its own upwards."""
    if ind.aggregation == "median":
        return [ind.code_level]
    if ind.code_level == "qpv":
        return ["qpv", WHOLE]
    ups = [lv for lv in CHAIN[CHAIN.index(ind.code_level) + 1:] if lv in ref.codes]
    qpv = ["qpv"] if ind.code_level == "iris" and ref.overlaps else []
    return [ind.code_level, *ups, WHOLE, *qpv]


def _memberships(ind: Indicator, ref: Referential, levels: list[str]
                 ) -> dict[str, list[tuple[str, str, float]]]:
    """Source code -> ``(level, code, weight)`` of its own cell and of every cell it counts
    in (weight 1, or its overlap share for a QPV); built once per referential."""
    key = ("members", ind.code_level, tuple(levels))
    found = ref.derived.get(key)
    if found is None:
        found = {}
        for code in ref.codes.get(ind.code_level, ()):
            own = (ind.code_level, code)
            cells = [(ind.code_level, code, 1.0)]
            cells += [(lv, c, 1.0) for lv, c in ref.ancestors[own].items() if lv in levels]
            if WHOLE in levels:
                cells += [(WHOLE, w, 1.0) for w in ref.wholes_of(own)]
            if "qpv" in levels and ind.code_level == "iris":
                cells += [("qpv", q, share) for q, share in ref.overlaps.get(code, ())]
            found[code] = cells
        ref.derived[key] = found
    return found


def _hierarchy(ind: Indicator, ref: Referential, levels: list[str]) -> pa.Table:
    """``(source, level, code, weight)`` rows of the memberships, for DuckDB."""
    key = ("table", ind.code_level, tuple(levels))
    if key not in ref.derived:
        flat = [(source, *cell) for source, cells in _memberships(ind, ref, levels).items()
                for cell in cells]
        columns = (("source", pa.string()), ("level", pa.string()), ("code", pa.string()),
                   ("weight", pa.float64()))
        ref.derived[key] = pa.table({name: pa.array([row[i] for row in flat], kind)
                                     for i, (name, kind) in enumerate(columns)})
    return ref.derived[key]


def _equations(ind: Indicator, ref: Referential, levels: list[str]) -> list[secrecy.Equation]:
    """The totals and parts an onlooker knows, over every territory (built once); QPV
    estimated from IRIS are handled apart (``protect(estimated=...)``)."""
    summed = [lv for lv in levels[1:] if not (lv == "qpv" and ind.code_level == "iris")]
    key = ("equations", ind.code_level, tuple(summed))
    if key not in ref.derived:
        ancestors = {(ind.code_level, source): [(lv, c) for lv, c, _ in cells[1:] if lv in summed]
                     for source, cells in _memberships(ind, ref, levels).items()}
        ref.derived[key] = secrecy.nested_equations(ancestors, summed)
    return ref.derived[key]  # type: ignore[no-any-return]


def _values(ind: Indicator, cells: dict[Key, tuple[float | None, float | None]]
            ) -> dict[Key, float | None]:
    """The shown value of each cell, None when it has no data (a denominator 0 or null)."""
    scale = ind.scale
    if ind.aggregation in ("sum", "median"):
        return {k: None if num is None else num * scale for k, (num, _) in cells.items()}
    return {k: None if num is None or not den else num / den * scale
            for k, (num, den) in cells.items()}


def _suppressed(ind: Indicator, ref: Referential, levels: list[str],
                cells: dict[Key, tuple[float | None, float | None]],
                values: dict[Key, float | None]) -> set[Key]:
    """Cells to hide: primary and secondary suppression; QPV estimated from IRIS apart."""
    if ind.secrecy_on == "none":
        return set()
    side = 0 if ind.secrecy_on == "numerator" else 1
    counts = {k: (c[side] if values[k] is not None else None) for k, c in cells.items()}
    estimated: dict[Key, list[Key]] = {}
    if ind.code_level == "iris":
        for iris, shares in ref.overlaps.items():
            for qpv, _ in shares:
                estimated.setdefault(("qpv", qpv), []).append(("iris", iris))
    equations = _equations(ind, ref, levels) if ind.aggregation != "median" else []
    return secrecy.protect(counts, equations, ind.secrecy_threshold,
                           estimated=estimated).hidden


def minimum_coverage(settings: Settings, indicator: Indicator) -> int:
    """The coverage (%) under which a larger territory's value is withheld."""
    return settings.min_coverage if indicator.min_coverage is None else indicator.min_coverage


def excluded_iris(ind: Indicator, ref: Referential) -> set[str]:
    """IRIS a habitat-only indicator leaves out (activité, divers)."""
    if not ind.habitat_only or ind.code_level != "iris":
        return set()
    return {code for code, kind in ref.kinds.items() if kind in NOT_HABITAT}


def _weights(ref: Referential, level: str, units: Iterable[str]) -> tuple[dict[str, float], str]:
    """Each unit's weight in a coverage: its population when every unit has one (an IRIS of
    activity without inhabitants weighs nothing), else 1."""
    listed = list(units)
    people = [ref.populations.get((level, u)) for u in listed]
    if listed and all(p is not None and p >= 0 for p in people):
        return dict(zip(listed, people, strict=True)), "population"  # type: ignore[arg-type]
    return dict.fromkeys(listed, 1.0), "count"


def coverage(ind: Indicator, ref: Referential, levels: list[str], has_data: set[str],
             excluded: set[str]) -> tuple[dict[Key, tuple[float, int, int]], dict[str, str]]:
    """``(share, units with data, units)`` of every larger territory, and the weights used per
    level: a commune's units are its IRIS (for an IRIS indicator); larger territories', their
    communes (each counting by its own share); a QPV's, the IRIS it overlaps (by overlap)."""
    source = ind.code_level
    out: dict[Key, tuple[float, int, int]] = {}
    basis: dict[str, str] = {}

    def spread(unit_level: str, units: list[str], share: Callable[[str], float],
               targets: Callable[[str], Iterable[tuple[Key, float]]]) -> None:
        weights, how = _weights(ref, unit_level, units)
        totals: dict[Key, list[float]] = {}
        for unit in units:
            got = share(unit)
            for key, factor in targets(unit):
                if key[0] not in levels or key[0] == source:
                    continue
                basis.setdefault(key[0], how)
                w = weights[unit] * factor
                t = totals.setdefault(key, [0.0, 0.0, 0, 0, 0.0])
                t[0] += w * got
                t[1] += w
                t[2] += got > 0
                t[3] += 1
                t[4] += got * factor
        for key, (a, b, n, m, plain) in totals.items():
            # nobody lives there: the share of its territories instead
            out[key] = (a / b if b else plain / m if m else 0.0, int(n), int(m))

    def uppers(level: str, code: str, skip: tuple[str, ...] = ()) -> list[tuple[Key, float]]:
        own = (level, code)
        found = [((lv, c), 1.0) for lv, c in ref.ancestors.get(own, {}).items() if lv not in skip]
        return found + [((WHOLE, w), 1.0) for w in ref.wholes_of(own)]

    sources = [c for c in ref.codes.get(source, ()) if c not in excluded]
    present = lambda c: 1.0 if c in has_data else 0.0  # noqa: E731
    if source == "iris" and "commune" in levels:
        spread("iris", sources, present, lambda c: [((
            "commune", ref.ancestors[("iris", c)]["commune"]), 1.0)]
            if "commune" in ref.ancestors.get(("iris", c), {}) else [])
        communes = list(ref.codes.get("commune", ()))
        spread("commune", communes, lambda c: out.get(("commune", c), (0.0, 0, 0))[0],
               lambda c: uppers("commune", c))
    else:
        spread(source, sources, present,
               lambda c: uppers(source, c, ("commune",) if source == "iris" else ()))
    if source == "iris" and "qpv" in levels:
        spread("iris", sources, present,
               lambda c: [(("qpv", q), share) for q, share in ref.overlaps.get(c, ())])
        basis["qpv"] = "overlap"
    return out, basis


def compute_indicator(session: Session, settings: Settings, indicator: Indicator, *,
                      vintage: int | None = None) -> Computed:
    """Every value of ``indicator`` at every level it reaches, secrecy applied, each larger
    territory with its coverage (withheld below the minimum)."""
    start = time.perf_counter()
    vintage = vintage if vintage is not None else default_vintage(session, settings, indicator)
    ref = referential(session, settings, vintage)
    sources = indicator_sources(session, indicator)
    threshold = minimum_coverage(settings, indicator)
    cache_key = (ref.stamp, definition_hash(indicator), threshold,
                 tuple((s.version.id, s.version.checksum) for s in sources if s is not None))
    cached = _computed.get(cache_key)
    if cached is not None:
        return replace(cached, indicator=indicator)
    levels = _levels(indicator, ref)
    with _gc_paused():   # built once per referential and level, then kept in ref.derived
        table = _hierarchy(indicator, ref, levels)
        if indicator.aggregation != "median" and indicator.secrecy_on != "none":
            _equations(indicator, ref, levels)
    matching = Matching()
    excluded = excluded_iris(indicator, ref)
    with budgeted(settings) as con:
        sums = source_sums(session, settings, con, indicator, sources, vintage, matching,
                           ref.codes.get(indicator.code_level, []), ref.stamp,
                           lambda c: ref.ancestors[(indicator.code_level, c)].get("commune"))
        if excluded:
            sums = sums.filter(pc.invert(pc.is_in(sums.column("code"),
                                                  value_set=pa.array(sorted(excluded)))))
        with registered(con, sums) as s, registered(con, table) as h:
            rows = con.execute(
                f"SELECT h.level, h.code, sum(s.num * h.weight), sum(s.den * h.weight) "
                f"FROM {s.sql()} s JOIN {h.sql()} h ON s.code = h.source "
                f"GROUP BY h.level, h.code").fetchall()
    cells = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    values = _values(indicator, cells)
    hidden = _suppressed(indicator, ref, levels, cells, values)
    has_data = {code for (level, code), v in values.items()
                if level == indicator.code_level and v is not None}
    covered, basis = coverage(indicator, ref, levels, has_data, excluded) \
        if indicator.aggregation != "median" else ({}, {})
    out = _statuses(indicator, ref, levels, cells, values, hidden, covered, excluded, threshold)
    computed = Computed(
        indicator, ref, out, matching.unmatched, time.perf_counter() - start,
        key=digest(cache_key), passed=matching.passed, points=matching.points,
        points_outside=matching.points_outside, excluded=len(excluded), min_coverage=threshold,
        coverage_basis=basis, sources=[_source_json(s) for s in sources if s is not None],
        at=now())
    log.info("indicator_computed id=%s vintage=%d cells=%d hidden=%d unmatched_codes=%d "
             "passed_codes=%d seconds=%.2f", indicator.id, vintage, len(cells), len(hidden),
             len(matching.unmatched), len(matching.passed), computed.seconds)
    _computed.put(cache_key, computed)
    return computed


def _source_json(source: Source) -> dict[str, Any]:
    """Which dataset and version a computation read."""
    return {"dataset": source.dataset.slug, "title": source.dataset.title,
            "version": source.version.number, "checksum": source.version.checksum,
            "code_column": source.code_column, "points": source.is_points}


def _statuses(ind: Indicator, ref: Referential, levels: list[str],
              cells: dict[Key, tuple[float | None, float | None]],
              values: dict[Key, float | None], hidden: set[Key],
              covered: dict[Key, tuple[float, int, int]], excluded: set[str],
              threshold: int) -> dict[str, dict[str, Value]]:
    """Every territory's value and status, level by level."""
    out: dict[str, dict[str, Value]] = {}
    names, median = ref.names, ind.aggregation == "median"
    for level in levels:
        row: dict[str, Value] = {}
        own = level == ind.code_level
        for code in ref.codes.get(level, ()):
            key = (level, code)
            value = values.get(key)
            share, with_data, units = covered.get(key, (None, 0, 0))
            counts = None if own or share is None else (with_data, units)
            if key in hidden:
                row[code] = Value(code, names[key], None, None, None, SECRET, share, counts)
            elif own and code in excluded:
                row[code] = Value(code, names[key], None, None, None, EXCLUDED)
            elif value is None:
                row[code] = Value(code, names[key], None, None, None, NO_DATA, share, counts)
            elif share is not None and 100 * share < threshold:
                row[code] = Value(code, names[key], None, None, None, PARTIAL, share, counts)
            elif median:   # its count is only there for secrecy
                row[code] = Value(code, names[key], value, None, None, OK)
            else:
                row[code] = Value(code, names[key], value, *cells[key], OK, share, counts)
        out[level] = row
    return out


def indicator_values(session: Session, settings: Settings, indicator: Indicator, level: str, *,
                     vintage: int | None = None) -> list[Value]:
    """The values of ``indicator`` for every territory of ``level`` (secret and missing ones
    included, marked so)."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}; levels are {', '.join(LEVELS)}")
    return compute_indicator(session, settings, indicator, vintage=vintage).values(level)


def as_tile_values(values: list[Value]) -> dict[str, tuple[float | None, str]]:
    """``code -> (value, status)``, what the vector tiles carry."""
    return {v.code: (v.value, v.status) for v in values}
