"""The indicator catalogue: definitions (numerator and optional denominator in ODSQL over a
dataset version, rows optionally filtered by an ODSQL condition) checked against the schema
when saved, and their sums per territory code.

A denominator may come from another dataset: ``@<dataset>: <expression>`` (jobseekers per 100
active people of the census), ``@<dataset>[<code column>]: ...`` to name its code column. A
point dataset (code column of type geometry) is attached to the IRIS or QPV of each point, and
counted, summed or averaged within each (``points``). Errors name the field of the definition
and, in an expression, the position (``InvalidField``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import sqlglot
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlglot import exp

from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import ACCESS_LEVELS, Dataset, Version
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidField, InvalidInput, NotFound, QueryError
from mutuelle.core.ids import is_slug, new_id
from mutuelle.geo.attach import attach_by_code, attach_points
from mutuelle.geo.referential import geometry_path
from mutuelle.query.odsql import ast, parse_select, parse_where
from mutuelle.query.odsql.compile import BOOLEAN, GEOMETRY, NUMERIC, Compiler
from mutuelle.store.versions import resolve

AGGREGATIONS = ("ratio", "sum", "weighted_mean", "median")
SECRECY_ON = ("numerator", "denominator", "none")
#: Levels a dataset's codes may be of (``territoire`` is only ever computed).
CODE_LEVELS = ("iris", "commune", "epci", "departement", "region", "qpv")
#: Levels point datasets are attached to, point in polygon.
POINT_LEVELS = ("iris", "qpv")
CODE_TYPES = ("text", "integer")
#: What an indicator on a point dataset gives for each territory: the number of points, the
#: sum or the mean of the numerator's field over the points inside.
POINT_AGGREGATIONS = ("count", "sum", "mean")
#: IRIS types (TYP_IRIS) other than habitat: activité (A), divers (D); Z is a commune
#: without IRIS, counted as habitat.
NOT_HABITAT = ("A", "D")
#: Fields ``define_indicator`` accepts besides id, label and dataset.
OPTIONS = ("description", "theme", "unit", "version", "code_column", "code_level", "numerator",
           "denominator", "aggregation", "scale", "vintage", "source_note", "secrecy_threshold",
           "secrecy_on", "access", "filters", "points", "habitat_only", "min_coverage")
#: Fields of the owner, set with the definition but not part of what is computed.
OWNER_FIELDS = ("organisation_id", "created_by")


@dataclass(frozen=True)
class Measure:
    """One side of an indicator as written: an expression, on another dataset if named."""

    expression: str
    dataset: str | None = None
    code_column: str | None = None    # ``@dataset[column]: expression``


@dataclass(frozen=True)
class Source:
    """A measure resolved against a stored version: what DuckDB reads and sums."""

    dataset: Dataset
    version: Version
    code_column: str
    code_type: str          # text or integer, or geometry for points
    value: exp.Expr         # DOUBLE per row
    where: exp.Expr | None = None   # the indicator's filters (its own dataset only)

    @property
    def is_points(self) -> bool:
        """Whether codes come from attaching points to territories."""
        return self.code_type == GEOMETRY


def parse_measure(text: str) -> Measure:
    """``expr``, ``@dataset: expr`` or ``@dataset[code column]: expr``."""
    stripped = text.strip()
    if not stripped.startswith("@"):
        return Measure(stripped)
    name, sep, expression = stripped[1:].partition(":")
    name, bracket, code = name.strip().partition("[")
    if not sep or not name or not expression.strip() or (bracket and not code.endswith("]")):
        raise InvalidInput(f"a measure on another dataset is written '@dataset: expression' "
                           f"or '@dataset[code column]: expression', not {text!r}")
    return Measure(expression.strip(), name.strip(), code[:-1].strip() or None if bracket
                   else None)


def _query_error(what: str, exc: QueryError) -> InvalidField:
    """An ODSQL error in one field of a definition, at its position in that field."""
    message = exc.message.rpartition(" (clause ")[0] or exc.message
    where = f" (at position {exc.position})" if exc.position is not None else ""
    return InvalidField(what, f"{what}: {message}{where}", position=exc.position)


def compile_expression(text: str, schema: dict[str, str], *, what: str) -> exp.Expr:
    """An ODSQL row expression (a number, or a condition counted as 1 or 0) as DOUBLE SQL."""
    try:
        items = parse_select(text)
        if len(items) != 1 or not isinstance(items[0], ast.SelectItem) \
                or items[0].alias is not None or isinstance(items[0].expr, ast.Star):
            raise InvalidField(what, f"the {what} must be one expression, such as pop_75_plus "
                               f"or (pop_60_74 + pop_75_plus), not {text!r}")
        # A clause of our own name takes scalar functions and no aggregate: values are summed.
        compiler = Compiler(schema, clause=what, tz=ZoneInfo("UTC"), tz_name="UTC")
        typed = compiler.expr(items[0].expr)
    except QueryError as exc:
        raise _query_error(what, exc) from exc
    if typed.type == BOOLEAN:
        return exp.Case(ifs=[exp.If(this=typed.sql, true=exp.Literal.number(1))],
                        default=exp.Literal.number(0))
    if typed.type not in NUMERIC:
        raise InvalidField(what, f"the {what} must be a number or a condition, not "
                           f"{typed.type}: {text!r}", position=0)
    return exp.Cast(this=typed.sql, to=exp.DataType.build("DOUBLE"))


def compile_condition(text: str, schema: dict[str, str], *, what: str = "filters") -> exp.Expr:
    """An ODSQL condition on a dataset's rows (``typ_iris = 'H' and p12_pop > 0``) as SQL."""
    try:
        compiler = Compiler(schema, clause=what, tz=ZoneInfo("UTC"), tz_name="UTC")
        return compiler.condition(parse_where(text, what))
    except QueryError as exc:
        raise _query_error(what, exc) from exc


def source_version(dataset: Dataset, number: int | None) -> Version:
    """The version an indicator reads: the one named, or the newest published."""
    try:
        version = repo.latest_version(dataset) if number is None \
            else repo.get_version(dataset, number)
    except NotFound as exc:
        raise InvalidField("version", exc.message) from exc
    if version is None:
        raise InvalidField("dataset", f"dataset {dataset.slug!r} has no published version")
    return version


def _code_column(indicator: Indicator, version: Version, measure: Measure) -> tuple[str, str]:
    """The code column of a measure's dataset: the one named, else (another dataset) the one
    with the indicator's code column name, the code concept of its level, or ``code_<level>``."""
    schema = version.schema
    own = measure.dataset is None
    name = indicator.code_column if own else measure.code_column
    at = "code_column" if own else "denominator"     # the field named in errors
    if name is not None:
        if name not in schema:
            raise InvalidField(at, f"dataset {version.dataset.slug!r} has no column {name!r}")
        if schema[name] in CODE_TYPES or own and schema[name] == GEOMETRY:
            return name, schema[name]
        raise InvalidField(at, f"the code column {name!r} is of type {schema[name]}: codes "
                           "are text or integer, points a geometry")
    concept = f"code_{indicator.code_level}"
    candidates = ([indicator.code_column] if schema.get(indicator.code_column) in CODE_TYPES
                  else []) or \
        [f.name for f in version.fields if f.concept == concept and f.type in CODE_TYPES] or \
        [n for n, t in schema.items() if n.casefold() == concept and t in CODE_TYPES]
    if len(candidates) != 1:
        raise InvalidField(at, f"dataset {version.dataset.slug!r} needs one column of "
                           f"{indicator.code_level} codes; name it: '@{version.dataset.slug}"
                           f"[column]: ...'")
    return candidates[0], schema[candidates[0]]


def measure_source(session: Session, indicator: Indicator, text: str, *, what: str) -> Source:
    """Resolve and compile one measure of ``indicator``."""
    try:
        measure = parse_measure(text)
    except InvalidInput as exc:
        raise InvalidField(what, exc.message) from exc
    own = measure.dataset is None
    try:
        dataset = indicator_dataset(session, indicator) if own \
            else repo.get_dataset(session, measure.dataset)  # type: ignore[arg-type]
    except NotFound as exc:
        raise InvalidField("dataset" if own else what, f"{what}: {exc.message}") from exc
    version = source_version(dataset, indicator.version if own else None)
    code, code_type = _code_column(indicator, version, measure)
    if code_type == GEOMETRY and indicator.code_level not in POINT_LEVELS:
        raise InvalidField("code_level", f"points are attached to {' or '.join(POINT_LEVELS)}, "
                           f"not to {indicator.code_level}: use a code column")
    value = compile_expression(measure.expression, version.schema, what=what)
    where = compile_condition(indicator.filters, version.schema) \
        if own and (indicator.filters or "").strip() else None
    return Source(dataset, version, code, code_type, value, where)


def indicator_dataset(session: Session, indicator: Indicator) -> Dataset:
    """The dataset an indicator is defined on."""
    dataset = session.get(Dataset, indicator.dataset_id)
    if dataset is None:
        raise NotFound(f"the dataset of indicator {indicator.id!r} no longer exists")
    return dataset


def indicator_sources(session: Session, indicator: Indicator) -> tuple[Source, Source | None]:
    """The numerator's and the denominator's sources."""
    den = indicator.denominator
    return (measure_source(session, indicator, indicator.numerator, what="numerator"),
            measure_source(session, indicator, den, what="denominator") if den else None)


def validate_indicator(session: Session, indicator: Indicator) -> None:
    """Refuse a definition that could not be computed, naming the field at fault."""
    if not is_slug(indicator.id or ""):
        raise InvalidField("id", f"invalid indicator id {indicator.id!r} (lower-case letters, "
                           "digits and hyphens)")
    if not (indicator.label or "").strip():
        raise InvalidField("label", "an indicator needs a label")
    for name, allowed in (("aggregation", AGGREGATIONS), ("secrecy_on", SECRECY_ON),
                          ("code_level", CODE_LEVELS), ("access", ACCESS_LEVELS)):
        if (value := getattr(indicator, name)) not in allowed:
            raise InvalidField(name, f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if not isinstance(indicator.scale, (int, float)) or not math.isfinite(indicator.scale) \
            or indicator.scale <= 0:
        raise InvalidField("scale", f"scale must be a positive number, not {indicator.scale!r}")
    threshold = indicator.secrecy_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise InvalidField("secrecy_threshold", "secrecy_threshold must be a whole number ≥ 0, "
                           f"not {threshold!r}")
    coverage = indicator.min_coverage
    if coverage is not None and (isinstance(coverage, bool) or not isinstance(coverage, int)
                                 or not 0 <= coverage <= 100):
        raise InvalidField("min_coverage", "min_coverage must be a whole percentage from 0 to "
                           f"100, not {coverage!r}")
    if indicator.aggregation in ("ratio", "weighted_mean") and not indicator.denominator:
        raise InvalidField("denominator", f"a {indicator.aggregation} indicator needs a "
                           "denominator")
    if indicator.secrecy_on == "denominator" and not indicator.denominator:
        raise InvalidField("secrecy_on", "secrecy on the denominator needs a denominator; use "
                           "secrecy_on='numerator'")
    if indicator.secrecy_on == "numerator" and indicator.aggregation in ("median", "weighted_mean"):
        raise InvalidField("secrecy_on", f"the numerator of a {indicator.aggregation} is not a "
                           "count: put secrecy on a count given as denominator, or "
                           "secrecy_on='none'")
    if parse_measure(indicator.numerator or "").dataset is not None:
        raise InvalidField("numerator", "the numerator is read from the indicator's own "
                           "dataset; only the denominator may name another one")
    if indicator.habitat_only and indicator.code_level != "iris":
        raise InvalidField("habitat_only", "only IRIS have a type (habitat, activité, divers): "
                           f"habitat_only needs IRIS codes or points, not {indicator.code_level}")
    if indicator.points is not None and indicator.points not in POINT_AGGREGATIONS:
        raise InvalidField("points", f"points must be one of {', '.join(POINT_AGGREGATIONS)}, "
                           f"not {indicator.points!r}")
    numerator, _ = indicator_sources(session, indicator)
    if indicator.points is not None and not numerator.is_points:
        raise InvalidField("points", f"a {indicator.points} of points needs a point dataset: "
                           f"column {indicator.code_column!r} holds codes, not geometries")


def define_indicator(session: Session, *, id: str, label: str, dataset: str, numerator: str,
                     code_column: str, replace: bool = False, **options: Any) -> Indicator:
    """Create (or with ``replace``, redefine) an indicator after checking it compiles.
    ``organisation_id`` and ``created_by`` may be given with the options."""
    unknown = set(options) - set(OPTIONS) - set(OWNER_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown indicator fields: {', '.join(sorted(unknown))}")
    try:
        source = repo.get_dataset(session, dataset)
    except NotFound as exc:
        raise InvalidField("dataset", exc.message) from exc
    denominator = options.get("denominator") or None
    values: dict[str, Any] = {
        "label": label, "dataset_id": source.id, "numerator": numerator,
        "code_column": code_column, "aggregation": "ratio" if denominator else "sum",
        "secrecy_on": "denominator" if denominator else "numerator" if options.get(
            "aggregation") != "median" else "none", "code_level": "iris",
        "scale": 1.0, "secrecy_threshold": 11, "access": "public", "description": "",
        "theme": "", "unit": "", "source_note": "", "version": None, "vintage": None,
        "filters": "", "points": None, "habitat_only": False, "min_coverage": None,
        **{k: v for k, v in options.items() if v is not None}, "denominator": denominator}
    existing = session.get(Indicator, id)
    if existing is not None and not replace:
        raise InvalidField("id", f"an indicator {id!r} already exists")
    # Checked as a detached object, so that a refused definition never reaches the session.
    candidate = Indicator(id=id, **values)
    validate_indicator(session, candidate)
    if existing is not None:
        for key, value in values.items():
            setattr(existing, key, value)
    session.add(existing or candidate)
    session.flush()
    return existing or candidate


def get_indicator(session: Session, key: str) -> Indicator:
    """The indicator with this id."""
    if (indicator := session.get(Indicator, key)) is None:
        raise NotFound(f"no indicator {key!r}")
    return indicator


def list_indicators(session: Session, *, theme: str | None = None,
                    visible: ColumnElement[bool] | None = None) -> list[Indicator]:
    """Indicators by theme then label, optionally of one theme and among those ``visible``
    (a filter from ``access.policy``)."""
    query = select(Indicator)
    if theme:
        query = query.where(Indicator.theme == theme)
    if visible is not None:
        query = query.where(visible)
    return sorted(session.scalars(query).all(), key=lambda i: (i.theme, i.label.lower(), i.id))


def delete_indicator(session: Session, key: str) -> None:
    """Remove an indicator's definition (its dataset is untouched)."""
    session.delete(get_indicator(session, key))
    session.flush()


def describe(indicator: Indicator) -> dict[str, Any]:
    """An indicator's definition as JSON-ready data."""
    return {name: getattr(indicator, name) for name in ("id", "label", "dataset_id", *OPTIONS)}


def definition_hash(indicator: Indicator) -> str:
    """A digest of an indicator's definition, the same in every process: what caches of its
    values are keyed by (a redefinition changes it)."""
    text = json.dumps(describe(indicator), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# -- sums per territory code, by DuckDB ------------------------------------------------------

#: Code matchings (unmatched codes, dataset code → referential code) kept per process.
ATTACH_CACHE_ITEMS = 64
# (version file, code column, level, referential stamp) -> (unmatched codes, passages, mapping)
_attached: Cache[Hashable, tuple[dict[str, int], dict[str, str], pa.Table]] = Cache(
    "observatory.attached", max_items=ATTACH_CACHE_ITEMS)


@dataclass
class Matching:
    """How the sources' rows met the referential: codes matching no territory (code as
    written -> rows), codes of an earlier vintage followed through the COG's passages (code as
    written -> code of the vintage), and points inside no territory of the level."""

    unmatched: dict[str, int] = field(default_factory=dict)
    passed: dict[str, str] = field(default_factory=dict)
    points: int = 0                 # points of a point dataset (with a geometry or not)
    points_outside: int = 0         # of them, inside no territory of the level


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, table: pa.Table) -> Iterator[exp.Table]:
    """``table`` visible to DuckDB under a fresh name for the time of the block."""
    name = f"obs_{new_id(10)}"
    con.register(name, table)
    try:
        yield exp.to_table(name)
    finally:
        con.unregister(name)


def _points_file(settings: Settings, source: Source, vintage: int) -> Path:
    """The point dataset with the IRIS and QPV of each point, made once per version and
    contour files (a new import of the contours makes a new file)."""
    stamps = [str(p.stat().st_mtime_ns) if p.exists() else "0"
              for p in (geometry_path(settings, vintage, lv) for lv in POINT_LEVELS)]
    folder = settings.work_dir / "observatory"
    dest = folder / f"points-{source.version.checksum[:16]}-{vintage}-{'-'.join(stamps)}.parquet"
    if not dest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{new_id()}.parquet"
        attach_points(settings, resolve(settings, source.version.parquet_path),
                      source.code_column, vintage, dest=tmp)
        tmp.replace(dest)
    return dest


def _rows(session: Session, settings: Settings, con: duckdb.DuckDBPyConnection, source: Source,
          ind: Indicator, vintage: int, matching: Matching, stamp: Hashable
          ) -> tuple[exp.Select, pa.Table | None]:
    """``SELECT raw, v`` over the source's rows (filtered by the indicator's filters), and the
    table mapping raw codes to the referential's (None for points, whose codes come from the
    contours); ``matching`` receives what did not match."""
    path = resolve(settings, source.version.parquet_path)
    if source.is_points:
        path = _points_file(settings, source, vintage)
        raw: exp.Expr = exp.column(f"{ind.code_level}_code", quoted=True)
        mapping = None
        counted = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {raw.sql('duckdb')} IS "
                              "NULL) FROM read_parquet(?)", [str(path)]).fetchone()
        if counted is not None:
            matching.points += int(counted[0])
            matching.points_outside += int(counted[1])
    else:
        key = (str(path), source.code_column, ind.code_level, stamp)
        found = _attached.get(key)
        if found is None:
            report = attach_by_code(settings, path, source.code_column, ind.code_level,
                                    vintage, session)
            found = (report.unmatched, report.passed, report.table())
            _attached.put(key, found)
        for code, n in found[0].items():
            matching.unmatched[code] = matching.unmatched.get(code, 0) + n
        matching.passed.update(found[1])
        raw = exp.column(source.code_column, quoted=True)
        mapping = found[2]
    scan = exp.func("read_parquet", exp.Literal.string(str(path)))
    query = exp.select(exp.alias_(exp.cast(raw, "VARCHAR"), "raw"),
                       exp.alias_(source.value.copy(), "v")).from_(scan)
    if source.where is not None:
        query = query.where(source.where.copy())
    return query, mapping


def _per_code(con: duckdb.DuckDBPyConnection, rows: exp.Select, mapping: pa.Table | None,
              aggregates: dict[str, str]) -> pa.Table:
    """``(code, name...)`` per referential code: each (static SQL) aggregate over ``r``."""
    outputs = [exp.alias_(sqlglot.parse_one(sql, dialect="duckdb"), name)
               for name, sql in aggregates.items()]
    with registered(con, mapping) if mapping is not None else nullcontext() as table:
        code = exp.column("raw", "r") if table is None else exp.column("code", "m")
        query = exp.select(exp.alias_(code, "code"), *outputs).from_(rows.subquery("r"))
        query = query.where("r.raw IS NOT NULL") if table is None \
            else query.join(table.as_("m"), on="r.raw = m.code_in_data")
        return con.execute(query.group_by(code.copy()).sql(dialect="duckdb")).fetch_arrow_table()


def source_sums(session: Session, settings: Settings, con: duckdb.DuckDBPyConnection,
                ind: Indicator, sources: tuple[Source, Source | None], vintage: int,
                matching: Matching, codes: Sequence[str], stamp: Hashable,
                commune_of: Callable[[str], str | None]) -> pa.Table:
    """``(code, num, den)`` per territory ``codes`` of the indicator's level (``stamp``: the
    referential's); ``matching`` receives codes of no territory, passages and points outside.
    A point dataset counts 0, not "no data", in the territories it covers: those of communes
    in its spatial coverage, else of communes holding one of its points."""
    num_source, den_source = sources
    agg = "median" if ind.aggregation == "median" else "sum"
    rows, mapping = _rows(session, settings, con, num_source, ind, vintage, matching, stamp)
    if den_source is None:
        nums = _per_code(con, rows, mapping, {"num": f"{agg}(r.v)"})
        table = nums.append_column("den", pa.nulls(nums.num_rows, pa.float64()))
    elif (den_source.version.id, den_source.code_column) == \
            (num_source.version.id, num_source.code_column):
        # One dataset: a row counts in a rate only when both its sides are known.
        rows = rows.select(exp.alias_(den_source.value.copy(), "d"))
        both = "r.v IS NOT NULL AND r.d IS NOT NULL" \
            if ind.aggregation in ("ratio", "weighted_mean") else "TRUE"
        table = _per_code(con, rows, mapping, {"num": f"{agg}(CASE WHEN {both} THEN r.v END)",
                                               "den": f"sum(CASE WHEN {both} THEN r.d END)"})
    else:
        nums = _per_code(con, rows, mapping, {"num": f"{agg}(r.v)"})
        den_rows, den_mapping = _rows(session, settings, con, den_source, ind, vintage,
                                      matching, stamp)
        dens = _per_code(con, den_rows, den_mapping, {"den": "sum(r.v)"})
        # A code missing from a count dataset (rows of 0 are often left out) counts 0 when
        # the denominator knows it.
        with registered(con, nums) as n, registered(con, dens) as d:
            return con.execute(
                f"SELECT coalesce(n.code, d.code) AS code, CASE WHEN d.den IS NOT NULL "
                f"THEN coalesce(n.num, 0) ELSE n.num END AS num, d.den AS den "
                f"FROM {n.sql()} n FULL OUTER JOIN {d.sql()} d ON n.code = d.code"
            ).fetch_arrow_table()
    if not num_source.is_points or agg == "median":
        return table
    present = set(table.column("code").to_pylist())
    communes = set(num_source.dataset.spatial_coverage or ()) or {commune_of(c) for c in present}
    empty = [c for c in codes if c not in present and commune_of(c) in communes]
    den = pa.array([0.0 if den_source else None] * len(empty), pa.float64())
    return pa.concat_tables([table.cast(pa.schema([("code", pa.string()), ("num", pa.float64()),
                                                   ("den", pa.float64())])),
                             pa.table({"code": pa.array(empty, pa.string()),
                                       "num": pa.array([0.0] * len(empty), pa.float64()),
                                       "den": den})])
