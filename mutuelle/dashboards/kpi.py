"""KPIs computed live: one grouped query over the dataset's latest published version gives the
value of every period (the history the sparkline draws), the period shown, the one it is
compared with, and where the value stands against its target.

A KPI that cannot be computed (its dataset hidden or gone, a column renamed, a ``where`` that
does not parse or does not fit the data, the query budget spent) is not an error of the page:
``compute_kpi`` returns it with its ``problem``, which the block shows in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, readable_dataset
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Version
from mutuelle.core import clock
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidField, MutuelleError, NotFound
from mutuelle.dashboards import columns
from mutuelle.dashboards.schemas import Kpi
from mutuelle.dashboards.targets import Standing, standing
from mutuelle.query.records import Page, RecordsParams, records_answer

#: Periods a KPI's history holds at most (the latest ones).
MAX_PERIODS = 240


@dataclass(frozen=True)
class Point:
    """A KPI's value in one period (None when it cannot be computed: a ratio over zero)."""

    period: str
    value: float | None


@dataclass
class KpiResult:
    """A KPI as its block shows it."""

    spec: Kpi
    value: float | None = None
    period: str | None = None
    previous: Point | None = None
    history: list[Point] = field(default_factory=list)
    standing: Standing | None = None
    version: int | None = None
    dataset_title: str = ""
    problem: MutuelleError | None = None

    @property
    def delta(self) -> float | None:
        """The change since the comparison period."""
        if self.value is None or self.previous is None or self.previous.value is None:
            return None
        return self.value - self.previous.value

    @property
    def delta_percent(self) -> float | None:
        """The change since the comparison period, in percent of its value."""
        delta = self.delta
        if delta is None or self.previous is None or not self.previous.value:
            return None
        return 100 * delta / abs(self.previous.value)


def kpi_query(spec: Kpi, schema: dict[str, str], *, version: int | None = None,
              where: str = "kpi") -> RecordsParams:
    """The records query of a KPI: its measure (``num``, and ``den`` for a ratio) per period
    (``period``), every column checked against ``schema``."""
    def col(name: str | None, path: str, kinds: tuple[str, ...] = columns.NUMERIC) -> str:
        if name is None:
            raise InvalidField(f"{where}.{path}", f"{where}.{path}: a {spec.measure} KPI "
                                                  f"needs its {path}")
        return columns.column(schema, name, f"{where}.{path}", kinds=kinds, version=version,
                              role=f"the {path} of a KPI")

    if spec.measure == "count":
        select = "count(*) as num"
    elif spec.measure == "ratio":
        col(spec.numerator, "numerator")
        col(spec.denominator, "denominator")
        select = (f"sum({columns.name(spec.numerator or '')}) as num, "
                  f"sum({columns.name(spec.denominator or '')}) as den")
    else:
        col(spec.field, "field")
        function = "sum" if spec.measure == "sum" else "avg"
        select = f"{function}({columns.name(spec.field or '')}) as num"
    group_by, order_by, limit = None, None, 1
    if spec.period_field is not None:
        kind = col(spec.period_field, "period_field", columns.PLAIN)
        group_by = f"{columns.grained(spec.period_field, kind, spec.period_grain or 'year')} as period"
        order_by, limit = "period desc", MAX_PERIODS
    return RecordsParams.of(select=select, where=[spec.where] if spec.where.strip() else None,
                            group_by=group_by, order_by=order_by, limit=limit)


def _value(spec: Kpi, row: dict[str, Any]) -> float | None:
    num = row.get("num")
    if not isinstance(num, (int, float)):
        return None if spec.measure != "count" else 0.0
    if spec.measure == "ratio":
        den = row.get("den")
        if not isinstance(den, (int, float)) or den == 0:
            return None
        return float(num) / float(den) * spec.scale
    return float(num) * spec.scale


def history(spec: Kpi, rows: list[dict[str, Any]]) -> list[Point]:
    """The KPI's value per period, oldest first (one point named "" without periods)."""
    points = [Point("" if spec.period_field is None else str(row.get("period")),
                    _value(spec, row)) for row in rows
              if spec.period_field is None or row.get("period") is not None]
    return list(reversed(points)) if spec.period_field is not None else points


def _source(session: Session, viewer: Viewer, spec: Kpi) -> Version:
    dataset = readable_dataset(session, viewer, spec.dataset)
    version = repo.latest_version(dataset)
    if version is None:
        raise NotFound(f"dataset {spec.dataset!r} has no published version")
    return version


def compute_kpi(session: Session, settings: Settings, viewer: Viewer, spec: Kpi, *,
                today: date | None = None) -> KpiResult:
    """The KPI ``spec`` as ``viewer`` may see it, computed now; a problem is returned in the
    result, not raised."""
    result = KpiResult(spec)
    try:
        version = _source(session, viewer, spec)
        result.version, result.dataset_title = version.number, version.dataset.title
        params = kpi_query(spec, version.schema, version=version.number)
        rows = records_answer(settings, version, params, Page("", ""))["results"]
    except MutuelleError as exc:
        result.problem = exc
        return result
    points = history(spec, rows)
    result.history = points
    current = _current(spec, points)
    if current is None:
        if spec.period is not None:
            result.problem = NotFound(f"no rows for the period {spec.period!r}")
        return result
    result.value, result.period = points[current].value, points[current].period or None
    if spec.compare == "previous" and current > 0:
        result.previous = points[current - 1]
    if spec.target is not None and result.value is not None:
        previous = result.previous.value if result.previous else None
        result.standing = standing(result.value, spec.target, previous,
                                   today or clock.now().date())
    return result


def _current(spec: Kpi, points: list[Point]) -> int | None:
    """The index of the period shown: the one named, else the latest."""
    if not points:
        return None
    if spec.period is None:
        return len(points) - 1
    for i, point in enumerate(points):
        if point.period == spec.period:
            return i
    return None
