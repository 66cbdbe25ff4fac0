"""The shapes of charts, KPIs, blocks and dashboards, declared once: the API takes them as its
bodies (a field that does not fit is a 422 naming it) and the services check every input
with them, whoever sends it (API, pages, command line, demo).

Only shapes here (types, lengths, ranges, allowed values); what needs the data (a column of
the dataset, a filter value of the column's type, a target date) is checked by the services.
"""

from __future__ import annotations

from collections.abc import Mapping
import datetime as dt
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError

from mutuelle.core.errors import InvalidField

ACCESS_LEVELS = ("public", "internal", "restricted")
CHART_TYPES = ("bar", "line", "area", "pie", "donut", "scatter", "histogram")
AGGREGATIONS = ("count", "sum", "avg", "min", "max")
FILTER_OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
#: Orders of a chart's categories: by x, by value ascending or descending.
CHART_SORTS = ("x", "y", "-y")
#: Grains of a date column used as x or as a KPI's period.
GRAINS = ("year", "month", "day")
KPI_MEASURES = ("sum", "count", "ratio", "mean")
KPI_FORMATS = ("number", "compact")
KPI_COMPARISONS = ("previous", "none")
#: A target is met when the value reaches it from below (up) or from above (down).
DIRECTIONS = ("up", "down")
BLOCK_KINDS = ("kpi", "chart", "map", "table", "text", "scenario", "indicator")

#: Columns of the dashboards' grid.
GRID_COLUMNS = 12
#: Rows a block may span, and the lowest row a block may start on.
MAX_BLOCK_ROWS = 12
MAX_GRID_ROWS = 200
MAX_BLOCKS = 40
MAX_TITLE = 300
MAX_DESCRIPTION = 5000
MAX_TEXT = 20_000
MAX_FILTERS = 20
#: Categories (or groups) a chart draws at most.
MAX_CHART_ROWS = 1000
#: Rows a table block shows at most.
MAX_TABLE_ROWS = 50
MAX_TABLE_COLUMNS = 20
MAX_CLAUSE = 2000

Access = Literal["public", "internal", "restricted"]


def _column() -> Any:
    return Field(min_length=1, max_length=300)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Filter(_Shape):
    """One condition on a column: ``exercice >= 2023``, ``sens = "Dépense"``."""

    field: str = _column()
    op: Literal["=", "!=", "<", "<=", ">", ">="] = "="
    value: bool | int | float | str | None = Field(
        description="a value of the column's type: a number, text, a date (YYYY-MM-DD), "
                    "true or false; null tests for an empty cell")


class ChartParams(_Shape):
    """What a chart draws: its type, x and y columns, the aggregation of y by x (and series),
    filters on the rows, the order of the categories and their number."""

    type: Literal["bar", "line", "area", "pie", "donut", "scatter", "histogram"]
    x: str = _column()
    y: str | None = Field(None, min_length=1, max_length=300,
                          description="the measured column (none for a count)")
    aggregation: Literal["count", "sum", "avg", "min", "max"] = "count"
    series: str | None = Field(None, min_length=1, max_length=300,
                               description="a column splitting the values into series (colours)")
    grain: Literal["year", "month", "day"] | None = Field(
        None, description="for a date x: values grouped by year, month or day")
    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS)
    sort: Literal["x", "y", "-y"] = "x"
    limit: int = Field(50, ge=1, le=MAX_CHART_ROWS, description="categories drawn at most")
    step: float | None = Field(None, gt=0, allow_inf_nan=False,
                               description="histogram: the width of its classes (computed "
                                           "from the values when missing)")


class ChartBody(_Shape):
    """A new chart."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    dataset: str = Field(min_length=1, max_length=100, description="the dataset's slug or id")
    params: ChartParams
    description: str = Field("", max_length=MAX_DESCRIPTION)
    access: Access = "public"
    organisation: str | None = Field(None, max_length=100, description="the owning "
                                     "organisation's slug (default: the dataset's)")


class ChartChanges(_Shape):
    """What a PUT of a chart may change (fields left out keep their value)."""

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    params: ChartParams | None = None
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    access: Access | None = None
    organisation: str | None = Field(None, max_length=100)


class Target(_Shape):
    """A KPI's objective: a value to reach by a date."""

    value: FiniteFloat
    date: dt.date
    direction: Literal["up", "down"] = Field("up", description="up: met at or above the "
                                             "value; down: met at or below it")
    tolerance: float = Field(5.0, ge=0, le=100, allow_inf_nan=False,
                             description="percent of the target within which a KPI not yet "
                                         "met is on track")


class Kpi(_Shape):
    """A key figure computed live over a dataset: a sum, a count, a ratio of two sums or a
    mean, on the rows an ODSQL ``where`` keeps, per period for its history."""

    label: str = Field(min_length=1, max_length=200)
    dataset: str = Field(min_length=1, max_length=100)
    measure: Literal["sum", "count", "ratio", "mean"]
    field: str | None = Field(None, min_length=1, max_length=300,
                              description="sum, mean: the column measured")
    numerator: str | None = Field(None, min_length=1, max_length=300,
                                  description="ratio: the column summed above the line")
    denominator: str | None = Field(None, min_length=1, max_length=300,
                                    description="ratio: the column summed below the line")
    where: str = Field("", max_length=MAX_CLAUSE, description="an ODSQL condition on the rows")
    scale: FiniteFloat = Field(1.0, description="the value is multiplied by it (100 for a "
                                                "percentage)")
    unit: str = Field("", max_length=50)
    format: Literal["number", "compact"] = "number"
    decimals: int = Field(0, ge=0, le=4)
    period_field: str | None = Field(None, min_length=1, max_length=300,
                                     description="the column of the periods (a year, a date)")
    period_grain: Literal["year", "month", "day"] | None = None
    period: str | None = Field(None, max_length=50, description="the period shown (default: "
                                                                "the latest)")
    compare: Literal["previous", "none"] = "previous"
    target: Target | None = None


class MapSpec(_Shape):
    """A map: an indicator's values at a level, or the points of a dataset."""

    indicator: str | None = Field(None, min_length=1, max_length=100)
    level: str | None = Field(None, max_length=20)
    dataset: str | None = Field(None, min_length=1, max_length=100)


class TableSpec(_Shape):
    """A few rows of a dataset: chosen columns, a condition, an order."""

    dataset: str = Field(min_length=1, max_length=100)
    columns: list[str] = Field(default_factory=list, max_length=MAX_TABLE_COLUMNS)
    where: str = Field("", max_length=MAX_CLAUSE)
    order_by: str = Field("", max_length=MAX_CLAUSE)
    rows: int = Field(10, ge=1, le=MAX_TABLE_ROWS)


class IndicatorSpec(_Shape):
    """An indicator's value in one territory (default: the whole territory)."""

    indicator: str = Field(min_length=1, max_length=100)
    level: str | None = Field(None, max_length=20)
    territory: str | None = Field(None, max_length=20)


class Block(_Shape):
    """One block of a dashboard, its place on the grid (column ``x``, row ``y``, ``w`` columns
    wide, ``h`` rows high) and, under the name of its kind, what it shows."""

    id: str | None = Field(None, pattern=r"^[a-z0-9-]{1,16}$")
    kind: Literal["kpi", "chart", "map", "table", "text", "scenario", "indicator"]
    title: str = Field("", max_length=200)
    x: int = Field(0, ge=0, lt=GRID_COLUMNS)
    y: int = Field(0, ge=0, le=MAX_GRID_ROWS)
    w: int = Field(4, ge=1, le=GRID_COLUMNS)
    h: int = Field(2, ge=1, le=MAX_BLOCK_ROWS)
    kpi: Kpi | None = None
    chart: str | None = Field(None, min_length=1, max_length=16, description="a saved chart's id")
    map: MapSpec | None = None
    table: TableSpec | None = None
    text: str | None = Field(None, max_length=MAX_TEXT, description="Markdown (raw HTML is "
                                                                     "not kept)")
    scenario: str | None = Field(None, min_length=1, max_length=16)
    indicator: IndicatorSpec | None = None


class DashboardBody(_Shape):
    """A new dashboard."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    access: Access = "public"
    organisation: str | None = Field(None, max_length=100)
    blocks: list[Block] = Field(default_factory=list, max_length=MAX_BLOCKS)


class DashboardChanges(_Shape):
    """What a PUT of a dashboard may change (fields left out keep their value)."""

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    access: Access | None = None
    organisation: str | None = Field(None, max_length=100)
    blocks: list[Block] | None = Field(None, max_length=MAX_BLOCKS)


Shape = TypeVar("Shape", bound=BaseModel)


def parse(shape: type[Shape], value: Any, *, where: str = "") -> Shape:
    """``value`` (a mapping, or already the shape) checked as ``shape``; else ``InvalidField``
    naming the first field that does not fit (``blocks.2.kpi.target.date``), under ``where``."""
    if isinstance(value, shape):
        value = value.model_dump()
    if not isinstance(value, Mapping):
        raise InvalidField(where or "body", f"{where or 'the body'} must be an object")
    try:
        return shape.model_validate(dict(value))
    except ValidationError as exc:
        error = exc.errors()[0]
        path = ".".join(str(p) for p in (*([where] if where else []), *error["loc"]))
        raise InvalidField(path or "body", f"{path or 'body'}: {error['msg']}") from None
