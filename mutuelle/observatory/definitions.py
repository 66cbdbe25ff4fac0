"""Indicators defined by their users from any dataset: the fields of a definition (the same for
the web form, the API and the command line), the vintage its codes belong to, a preview
computed before anything is saved (values, classes, a static map, what did not match), and
saving, changing or deleting it under the rules of ``access.policy``.

A definition is refused, naming the field, when it could not give a single honest value: codes
of another level, a vintage without geography, codes none of which is a territory of the
vintage, points outside every territory, a division by zero, a denominator that is 0
everywhere.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import func, select
from sqlglot import exp
from sqlalchemy.orm import Session

from mutuelle.access import audit
from mutuelle.access.policy import Viewer, allowed, readable_dataset, require
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset, Organisation, Version
from mutuelle.catalog.observatory_models import Indicator, Territory
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidField, NotFound
from mutuelle.geo.attach import attach_by_code
from mutuelle.geo.importers import CODE_PATTERNS, examples, normalise_code
from mutuelle.geo.referential import check_vintage, geometry_path, vintages
from mutuelle.geo.static_map import StaticMap, static_map
from mutuelle.ingest.concepts import CODE_LEVELS as CONCEPT_LEVELS
from mutuelle.ingest.concepts import detect_concept
from mutuelle.observatory import classification, compute
from mutuelle.observatory.indicators import (
    CODE_LEVELS,
    POINT_AGGREGATIONS,
    POINT_LEVELS,
    get_indicator,
    indicator_dataset,
    indicator_sources,
    source_version,
    validate_indicator,
)
from mutuelle.observatory.maps import matching_json, value_json, with_kind
from mutuelle.observatory.method import method_json
from mutuelle.query.odsql.compile import GEOMETRY, NUMERIC
from mutuelle.store.duck import cursor
from mutuelle.store.sql import ident
from mutuelle.store.versions import resolve

#: The id a definition is previewed under before it has one.
PREVIEW_ID = "apercu"
#: Ids that name pages under /observatoire/indicateurs/.
RESERVED_IDS = frozenset({"apercu", "nouveau"})
#: Distinct values of a column read to recognise its codes.
SAMPLE_VALUES = 500
#: A dataset's keywords naming the vintage of its codes: "millésime 2012", "vintage:2012".
_VINTAGE_KEYWORD = re.compile(r"^(?:millésime|millesime|vintage)\s*[:= ]?\s*(\d{4})$", re.I)


@dataclass
class Definition:
    """What a user writes to define an indicator (the form's, the API's and the CLI's fields).

    ``level`` is the level of the codes (or, for points, of the territories they are counted
    in); ``points`` (count, sum or mean) makes the numerator a field of the points, averaged
    or summed within each territory; ``secrecy`` and ``min_coverage`` default to the settings.
    """

    id: str = ""
    label: str = ""
    dataset: str = ""
    level: str = "iris"
    code_column: str = ""
    numerator: str = ""
    denominator: str = ""
    filters: str = ""
    points: str | None = None
    vintage: int | None = None
    unit: str = ""
    scale: float = 1.0
    secrecy: int | None = None
    habitat_only: bool = False
    min_coverage: int | None = None
    description: str = ""
    theme: str = ""
    source_note: str = ""
    access: str = "public"
    organisation: str | None = None
    version: int | None = None

    def changed(self, changes: dict[str, Any]) -> Definition:
        """This definition with some fields changed (unknown names refused); ``None`` puts a
        field back to its default, as a JSON merge patch (RFC 7396) removes a member."""
        defaults = {f.name: f.default for f in fields(self)}
        unknown = sorted(set(changes) - set(defaults))
        if unknown:
            raise InvalidField(unknown[0], f"unknown field {unknown[0]!r}")
        return replace(self, **{name: defaults[name] if value is None else value
                                for name, value in changes.items()})


def definition_of(session: Session, indicator: Indicator) -> Definition:
    """The definition of a saved indicator, as a user would write it again."""
    dataset = indicator_dataset(session, indicator)
    org = session.get(Organisation, indicator.organisation_id) if indicator.organisation_id \
        else None
    numerator = "" if indicator.points == "count" else indicator.numerator
    denominator = "" if indicator.points is not None else indicator.denominator or ""
    return Definition(
        id=indicator.id, label=indicator.label, dataset=dataset.slug,
        level=indicator.code_level, code_column=indicator.code_column, numerator=numerator,
        denominator=denominator, filters=indicator.filters or "", points=indicator.points,
        vintage=indicator.vintage, unit=indicator.unit, scale=indicator.scale,
        secrecy=indicator.secrecy_threshold, habitat_only=bool(indicator.habitat_only),
        min_coverage=indicator.min_coverage, description=indicator.description,
        theme=indicator.theme, source_note=indicator.source_note, access=indicator.access,
        organisation=org.slug if org is not None else None, version=indicator.version)


# --- the columns that can key an indicator --------------------------------------------------

@dataclass(frozen=True)
class KeyColumn:
    """A column of a dataset that can key an indicator: its codes' level (``points`` for a
    geometry), and whether that was recognised from the values rather than declared."""

    name: str
    level: str
    recognised: bool = False


def key_columns(settings: Settings, version: Version) -> list[KeyColumn]:
    """Columns of ``version`` holding IRIS, commune, EPCI, département, région or QPV codes,
    whatever their name (recognised by content when the import did not name a concept), and
    geometry columns (points); the recognised key columns first."""
    found: list[KeyColumn] = []
    unknown: list[str] = []
    for f in version.fields:
        if f.type == GEOMETRY:
            found.append(KeyColumn(f.name, "points"))
        elif f.concept in CONCEPT_LEVELS:
            found.append(KeyColumn(f.name, CONCEPT_LEVELS[f.concept]))
        elif f.type in ("text", "integer"):
            unknown.append(f.name)
    if unknown:
        path = resolve(settings, version.parquet_path)
        con = cursor(settings)
        try:
            for name in unknown:
                values = [r[0] for r in con.execute(
                    f"SELECT DISTINCT CAST({ident(name)} AS VARCHAR) FROM read_parquet(?) "
                    f"WHERE {ident(name)} IS NOT NULL LIMIT {SAMPLE_VALUES}",
                    [str(path)]).fetchall()]
                concept = detect_concept("", values)
                if concept in CONCEPT_LEVELS:
                    found.append(KeyColumn(name, CONCEPT_LEVELS[concept], recognised=True))
        finally:
            con.close()
    order = {"iris": 0, "commune": 1, "qpv": 2, "epci": 3, "departement": 4, "region": 5,
             "points": 6}
    return sorted(found, key=lambda k: (order.get(k.level, 9), k.name))


def number_columns(version: Version) -> list[str]:
    """Columns of ``version`` a numerator or a denominator can sum."""
    return [f.name for f in version.fields if f.type in NUMERIC]


# --- the vintage of the codes ---------------------------------------------------------------

def metadata_vintage(dataset: Dataset) -> int | None:
    """The vintage a dataset's metadata gives its codes (a keyword "millésime 2012")."""
    for word in dataset.keywords or []:
        match = _VINTAGE_KEYWORD.match(str(word).strip())
        if match:
            return int(match.group(1))
    return None


def level_vintages(session: Session, level: str) -> list[int]:
    """Vintages whose referential holds territories of ``level``, oldest first."""
    return sorted(v for (v,) in session.execute(select(Territory.vintage).where(
        Territory.level == level).distinct()))


def choose_vintage(session: Session, settings: Settings, definition: Definition,
                   version: Version) -> tuple[int, str]:
    """The vintage of a definition's codes and why: given, from the dataset's metadata, else
    the vintage of the referential its codes match best (the default vintage on a tie)."""
    if definition.vintage is not None:
        return check_vintage(definition.vintage), "given"
    found = metadata_vintage(version.dataset)
    if found is not None:
        return found, "metadata"
    level = definition.level
    candidates = level_vintages(session, level)
    if definition.points is not None or version.schema.get(definition.code_column) == GEOMETRY:
        drawn = [v for v in candidates if geometry_path(settings, v, level).exists()]
        if not drawn:
            raise InvalidField("vintage", f"the referential has no {level} contours to attach "
                               "points to: import them first (mutuelle geo import)")
        return (settings.default_vintage if settings.default_vintage in drawn
                else drawn[-1]), "contours"
    if not candidates or definition.code_column not in version.schema:
        return settings.default_vintage, "default"
    path = resolve(settings, version.parquet_path)
    scores = {v: attach_by_code(settings, path, definition.code_column, level, v,
                                session).matched_codes for v in candidates}
    best = max(scores.values())
    if best == 0:
        return (settings.default_vintage if settings.default_vintage in candidates
                else candidates[-1]), "default"
    tied = [v for v, n in scores.items() if n == best]
    return (settings.default_vintage if settings.default_vintage in tied
            else tied[-1]), "codes"


# --- building, checking and previewing ------------------------------------------------------

@dataclass
class Preview:
    """A definition computed before it is saved: its values at one level with their classes,
    a static map, what did not match, and the vintage chosen with the reason."""

    indicator: Indicator
    computed: compute.Computed
    vintage_reason: str
    level: str
    results: list[dict[str, Any]] = field(default_factory=list)
    classes: classification.Classes | None = None
    map: StaticMap | None = None

    @property
    def levels(self) -> list[str]:
        """Levels the indicator has values at."""
        return list(self.computed.levels)

    def as_json(self) -> dict[str, Any]:
        """What the API answers for a preview."""
        c = self.classes
        return {"indicator": self.indicator.id, "level": self.level, "levels": self.levels,
                "vintage": self.computed.referential.vintage,
                "vintage_reason": self.vintage_reason,
                "computation": method_json(self.indicator, self.computed, self.vintage_reason),
                "matching": matching_json(self.computed),
                "classes": None if c is None else {"breaks": c.breaks, "colors": c.colors,
                                                   "counts": c.counts},
                "total_count": len(self.results), "results": self.results}


def build(session: Session, settings: Settings, definition: Definition,
          vintage: int) -> Indicator:
    """The indicator a definition describes (detached from the session), checked."""
    dataset = _dataset(session, definition)
    if definition.level not in CODE_LEVELS:
        raise InvalidField("level", f"level must be one of {', '.join(CODE_LEVELS)}, not "
                           f"{definition.level!r}")
    if not definition.code_column:
        raise InvalidField("code_column", "name the column holding the codes (or the points)")
    numerator, denominator = definition.numerator.strip(), definition.denominator.strip()
    if definition.points is not None:
        if definition.points not in POINT_AGGREGATIONS:
            raise InvalidField("points", f"points must be one of {', '.join(POINT_AGGREGATIONS)}"
                               f", not {definition.points!r}")
        if definition.points == "count":
            numerator, denominator = "1", ""
        elif not numerator:
            raise InvalidField("numerator", f"the {definition.points} of points needs the field "
                               "to add up, as the numerator")
        elif definition.points == "mean":
            denominator = "1"
        else:
            denominator = ""
    if not numerator:
        raise InvalidField("numerator", "the numerator is needed (a column or an expression)")
    secrecy = settings.secrecy_threshold if definition.secrecy is None else definition.secrecy
    org = _organisation(session, definition, dataset)
    indicator = Indicator(
        id=definition.id or PREVIEW_ID, label=definition.label or definition.id or PREVIEW_ID,
        dataset_id=dataset.id, version=definition.version, code_column=definition.code_column,
        code_level=definition.level, numerator=numerator, denominator=denominator or None,
        aggregation="ratio" if denominator else "sum",
        secrecy_on="denominator" if denominator else "numerator", scale=definition.scale,
        vintage=vintage, secrecy_threshold=secrecy, access=definition.access,
        description=definition.description, theme=definition.theme, unit=definition.unit,
        source_note=definition.source_note, filters=definition.filters.strip(),
        points=definition.points, habitat_only=definition.habitat_only,
        min_coverage=definition.min_coverage, organisation_id=org.id if org else None)
    indicator.source = dataset
    validate_indicator(session, indicator)
    return indicator


def _readable(session: Session, viewer: Viewer, definition: Definition) -> Dataset:
    """The definition's dataset if ``viewer`` may read it; one they may not is answered as
    one that does not exist."""
    if not definition.dataset:
        raise InvalidField("dataset", "choose the dataset the indicator is computed from")
    try:
        return readable_dataset(session, viewer, definition.dataset)
    except NotFound:
        raise InvalidField("dataset", f"no dataset {definition.dataset!r}") from None


def _dataset(session: Session, definition: Definition) -> Dataset:
    if not definition.dataset:
        raise InvalidField("dataset", "choose the dataset the indicator is computed from")
    try:
        return repo.get_dataset(session, definition.dataset)
    except NotFound:
        raise InvalidField("dataset", f"no dataset {definition.dataset!r}") from None


def _organisation(session: Session, definition: Definition,
                  dataset: Dataset) -> Organisation | None:
    """The organisation owning the indicator: the one named, else None (its dataset's)."""
    if not definition.organisation:
        return None
    try:
        return repo.get_organisation(session, definition.organisation)
    except NotFound:
        raise InvalidField("organisation", f"no organisation {definition.organisation!r}") \
            from None


def _check_geography(session: Session, settings: Settings, indicator: Indicator,
                     vintage: int) -> None:
    """Refuse a vintage without territories of the level (or, for points, without contours)."""
    level = indicator.code_level
    count = session.scalar(select(func.count()).select_from(Territory).where(
        Territory.vintage == vintage, Territory.level == level)) or 0
    present = level_vintages(session, level)
    listed = ", ".join(map(str, present)) or "none"
    if not count:
        raise InvalidField("vintage", f"the referential has no {level} for vintage {vintage} "
                           f"(vintages with {level}: {listed}): import its contours (mutuelle "
                           f"geo import --level {level} --vintage {vintage})")
    if indicator.points is not None and level in POINT_LEVELS \
            and not geometry_path(settings, vintage, level).exists():
        raise InvalidField("vintage", f"the referential has no {level} contours for vintage "
                           f"{vintage} to attach points to")


def _other_level(codes: list[str], level: str) -> str | None:
    """The level most of ``codes`` have the shape of, when it is not ``level``."""
    best, share = None, 0.0
    for other, pattern in CODE_PATTERNS.items():
        if other in (level, "territoire"):
            continue
        shaped = sum(1 for c in codes if pattern.match(normalise_code(other, c) or ""))
        if codes and shaped / len(codes) > share:
            best, share = other, shaped / len(codes)
    own = sum(1 for c in codes if CODE_PATTERNS[level].match(normalise_code(level, c) or ""))
    return best if share >= 0.9 and own < 0.5 * len(codes) else None


def _check_computed(session: Session, settings: Settings, indicator: Indicator,
                    computed: compute.Computed) -> None:
    """Refuse what would give no honest value: nothing matched, every point outside, a
    division by zero in an expression, a denominator of 0 everywhere."""
    level, vintage = indicator.code_level, computed.referential.vintage
    source = computed.levels.get(level, {})
    if computed.points and computed.points_outside == computed.points:
        raise InvalidField("code_column", f"none of the {computed.points} points of column "
                           f"{indicator.code_column!r} lies inside a {level} of {vintage}: check "
                           "the coordinates, their CRS, or the vintage")
    if computed.unmatched and not computed.points and all(
            v.status == compute.NO_DATA for v in source.values()) and not computed.passed:
        codes = sorted(computed.unmatched, key=lambda c: -computed.unmatched[c])
        other = _other_level(codes, level)
        if other is not None:
            raise InvalidField("level", f"the codes of column {indicator.code_column!r} are not "
                               f"{level} codes: they have the shape of {other} codes "
                               f"({examples(codes, len(codes))}); choose the level {other}")
        hint = _better_vintage(session, settings, indicator, vintage)
        raise InvalidField("vintage", f"none of the {len(codes)} codes of column "
                           f"{indicator.code_column!r} is a {level} of {vintage}: "
                           f"{examples(codes, len(codes))}{hint}")
    cells = [v for lv in computed.levels.values() for v in lv.values()]
    numbers = [(v.numerator, v.denominator) for v in cells if v.status == compute.OK]
    if any(n is not None and not math.isfinite(n) for n, _ in numbers):
        raise InvalidField("numerator", "the numerator divides by zero on some rows (it gives an "
                           "infinite number): write it so that no row divides by 0")
    if any(d is not None and not math.isfinite(d) for _, d in numbers):
        raise InvalidField("denominator", "the denominator divides by zero on some rows (it "
                           "gives an infinite number): write it so that no row divides by 0")
    if not any(v.status in (compute.OK, compute.SECRET) for v in source.values()):
        _diagnose(session, settings, indicator)


def _diagnose(session: Session, settings: Settings, indicator: Indicator) -> None:
    """Say why no territory has a value: the filters keep no row, the numerator has no value
    on any row (a division by zero gives none), or the denominator is 0 or empty on every
    row."""
    numerator, denominator = indicator_sources(session, indicator)
    con = cursor(settings)
    try:
        for what, source in (("numerator", numerator), ("denominator", denominator)):
            if source is None:
                continue
            rows = exp.select(exp.alias_(source.value.copy(), "v")).from_(exp.func(
                "read_parquet", exp.Literal.string(str(resolve(settings,
                                                               source.version.parquet_path)))))
            if source.where is not None:
                rows = rows.where(source.where.copy())
            found = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE v IS NOT NULL AND isfinite(v)), "
                "count(*) FILTER (WHERE v <> 0 AND isfinite(v)) "
                f"FROM ({rows.sql(dialect='duckdb')})").fetchone()
            total, known, nonzero = found if found is not None else (0, 0, 0)
            text = indicator.numerator if what == "numerator" else indicator.denominator or ""
            slash = text.find("/")
            if total == 0 and source.where is not None:
                raise InvalidField("filters", "the filters keep no row of the dataset")
            if what == "numerator" and known == 0:
                why = (f": a division by zero gives none ({text!r})" if slash >= 0 else "")
                raise InvalidField(what, f"the numerator has no value on any row{why}",
                                   position=slash if slash >= 0 else None)
            if what == "denominator" and nonzero == 0:
                raise InvalidField(what, "the denominator is 0 or empty on every row: no rate "
                                   "can be computed without dividing by zero",
                                   position=slash if slash >= 0 else None)
    finally:
        con.close()
    raise InvalidField("numerator", "no territory has a value: no row is both known and "
                       "attached to a territory")


def _better_vintage(session: Session, settings: Settings, indicator: Indicator,
                    vintage: int) -> str:
    """"; they are IRIS of 2012" when another vintage of the referential knows them."""
    source = indicator.source
    if source is None:
        return ""
    version = source_version(source, indicator.version)
    path = resolve(settings, version.parquet_path)
    best, matched = None, 0
    for other in level_vintages(session, indicator.code_level):
        if other == vintage:
            continue
        n = attach_by_code(settings, path, indicator.code_column, indicator.code_level, other,
                           session).matched_codes
        if n > matched:
            best, matched = other, n
    return "" if best is None else (f"; {matched} of them are {indicator.code_level} of {best}: "
                                    f"give the vintage {best}")


def preview(session: Session, settings: Settings, viewer: Viewer, definition: Definition, *,
            level: str | None = None, draw: bool = True) -> Preview:
    """Check a definition and compute it, without saving anything: its values at ``level``
    (default: the level above its codes, commune for IRIS), their classes and a static map."""
    dataset = _readable(session, viewer, definition)
    version = source_version(dataset, definition.version)
    if definition.code_column and definition.code_column not in version.schema:
        raise InvalidField("code_column", f"dataset {dataset.slug!r} has no column "
                           f"{definition.code_column!r}")
    if definition.points and version.schema.get(definition.code_column) != GEOMETRY:
        raise InvalidField("points", f"a {definition.points} of points needs a point dataset: "
                           f"column {definition.code_column!r} holds codes, not geometries")
    vintage, reason = choose_vintage(session, settings, definition, version)
    indicator = build(session, settings, definition, vintage)
    _check_geography(session, settings, indicator, vintage)
    computed = compute.compute_indicator(session, settings, indicator, vintage=vintage)
    _check_computed(session, settings, indicator, computed)
    return _view(settings, indicator, computed, reason, level, draw)


def indicator_view(session: Session, settings: Settings, indicator: Indicator, *,
                   level: str | None = None, draw: bool = True) -> Preview:
    """A saved indicator as its page shows it: the same view as its preview."""
    computed = compute.compute_indicator(session, settings, indicator)
    return _view(settings, indicator, computed, None, level, draw)


def _view(settings: Settings, indicator: Indicator, computed: compute.Computed,
          reason: str | None, level: str | None, draw: bool) -> Preview:
    """Values at one level (default: commune for IRIS codes, else the codes' own), their
    quantile classes and a static map of the territories around those with data."""
    shown = _preview_level(computed, indicator, level)
    values = computed.values(shown)
    results = [with_kind(value_json(v), computed, shown) for v in values]
    ok = [v.value for v in values if v.status == compute.OK and v.value is not None]
    classes = classification.classify(ok, "quantile", 5) if ok else None
    for item in results:
        known = classes is not None and item["status"] == compute.OK and item["value"] is not None
        item["class"] = classes.class_of(item["value"]) if known else None  # type: ignore[union-attr]
    found = Preview(indicator, computed, reason or "recorded", shown, results, classes)
    vintage = computed.referential.vintage
    if draw and geometry_path(settings, vintage, shown).exists():
        around = {v.code for v in values if v.status != compute.NO_DATA}
        found.map = static_map(settings, vintage, shown, around)
    return found


def _preview_level(computed: compute.Computed, indicator: Indicator, asked: str | None) -> str:
    if asked:
        computed.level(asked)   # refuses a level without values
        return asked
    if indicator.code_level == "iris" and "commune" in computed.levels:
        return "commune"
    return indicator.code_level


# --- saving under the rules -----------------------------------------------------------------

def _owner(session: Session, definition: Definition, dataset: Dataset) -> Organisation:
    return _organisation(session, definition, dataset) or dataset.organisation


def create_indicator(session: Session, settings: Settings, viewer: Viewer,
                     definition: Definition, *, address: str = "") -> tuple[Indicator, Preview]:
    """Save a new indicator after previewing it: the viewer must read its dataset and may
    create in the organisation owning it (the dataset's, unless another is named)."""
    dataset = _readable(session, viewer, definition)
    owner = _owner(session, definition, dataset)
    require(viewer, "create", owner, what=f"organisation {owner.slug!r}")
    if not definition.id:
        raise InvalidField("id", "give the indicator an id (lower-case letters, digits and "
                           "hyphens)")
    if definition.id in RESERVED_IDS:
        raise InvalidField("id", f"{definition.id!r} names a page of the site: choose another id")
    if session.get(Indicator, definition.id) is not None:
        raise InvalidField("id", f"an indicator {definition.id!r} already exists")
    if not definition.label.strip():
        raise InvalidField("label", "give the indicator a label")
    found = preview(session, settings, viewer, definition)
    indicator = found.indicator
    indicator.created_by = viewer.user_id or ""
    session.add(indicator)
    audit.record(session, viewer, "indicator.create", kind="indicator", object_id=indicator.id,
                 address=address, detail={"dataset": dataset.slug, "owner": owner.slug})
    session.flush()
    return indicator, found


def update_indicator(session: Session, settings: Settings, viewer: Viewer, key: str,
                     changes: dict[str, Any], *, address: str = ""
                     ) -> tuple[Indicator, Preview]:
    """Change some fields of an indicator (its editors), checked and previewed as a whole."""
    indicator = _indicator_for(session, viewer, "edit", key)
    if "id" in changes and changes["id"] != key:
        raise InvalidField("id", "an indicator's id cannot change (its links would break)")
    definition = definition_of(session, indicator).changed(changes)
    dataset = _readable(session, viewer, definition)
    owner = _owner(session, definition, dataset)
    if owner.id != (indicator.organisation_id or dataset.organisation_id):
        require(viewer, "create", owner, what=f"organisation {owner.slug!r}")
    found = preview(session, settings, viewer, definition)
    fresh = found.indicator
    for name in ("label", "dataset_id", "version", "code_column", "code_level", "numerator",
                 "denominator", "aggregation", "secrecy_on", "scale", "vintage",
                 "secrecy_threshold", "access", "description", "theme", "unit", "source_note",
                 "filters", "points", "habitat_only", "min_coverage", "organisation_id"):
        setattr(indicator, name, getattr(fresh, name))
    audit.record(session, viewer, "indicator.change", kind="indicator", object_id=key,
                 address=address, detail={"fields": sorted(changes)})
    session.flush()
    found.indicator = indicator
    return indicator, found


def remove_indicator(session: Session, viewer: Viewer, key: str, *, address: str = "") -> None:
    """Delete an indicator's definition (its dataset is untouched)."""
    indicator = _indicator_for(session, viewer, "delete", key)
    audit.record(session, viewer, "indicator.delete", kind="indicator", object_id=key,
                 address=address)
    session.delete(indicator)
    session.flush()


def _indicator_for(session: Session, viewer: Viewer, action: str, key: str) -> Indicator:
    try:
        indicator = get_indicator(session, key)
    except NotFound:
        raise NotFound(f"no indicator {key!r}") from None
    require(viewer, action, indicator, what=f"indicator {key!r}")
    return indicator


def may_define(session: Session, viewer: Viewer) -> list[Organisation]:
    """Organisations ``viewer`` may define indicators in."""
    return [o for o in repo.list_organisations(session) if allowed(viewer, "create", o)]


def vintages_with(session: Session) -> list[int]:
    """Every vintage of the referential (the form's list)."""
    return vintages(session)
