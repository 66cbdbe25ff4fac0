"""Saved charts: their parameters checked against the dataset's latest version, the Explore
query that draws them (select, group_by, where, order_by, limit), its rows, and saving,
listing, changing and deleting them under ``access.policy``.

The query is made here only: the chart page and its embed draw the rows this module returns,
and give the same query as an Explore API call anyone may reuse. (The builder in the
browser makes the same query from the same parameters as one picks them.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    readable_chart,
    readable_dataset,
    require,
    visible_charts,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.dashboard_models import Chart
from mutuelle.catalog.models import Dataset, Version
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidField, NotFound
from mutuelle.dashboards import columns
from mutuelle.dashboards.listing import newest_page
from mutuelle.dashboards.ownership import clean_text, owner, require_member
from mutuelle.dashboards.schemas import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    ChartBody,
    ChartChanges,
    ChartParams,
    parse,
)
from mutuelle.query.records import EXPLORE, Page, RecordsParams, records_answer

#: Classes a histogram is cut into when its parameters give no width.
HISTOGRAM_CLASSES = 20
#: Distinct (x, y) points a scatter plot draws at most.
MAX_SCATTER_POINTS = 5000
#: Types whose charts are aggregated by x (and series).
AGGREGATED = ("bar", "line", "area", "pie", "donut")


# --- the query ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChartQuery:
    """An Explore /records query: what the chart asks of its dataset."""

    select: str
    group_by: str
    where: tuple[str, ...] = ()
    order_by: str = ""
    limit: int = 50

    def records_params(self) -> RecordsParams:
        """The parameters as the records service takes them."""
        return RecordsParams.of(select=self.select, group_by=self.group_by,
                                where=list(self.where), order_by=self.order_by or None,
                                limit=self.limit)

    def items(self) -> list[tuple[str, str]]:
        """The query string's items, in the Explore API's names."""
        out = [("select", self.select), ("group_by", self.group_by)]
        out += [("where", w) for w in self.where]
        if self.order_by:
            out.append(("order_by", self.order_by))
        out.append(("limit", str(self.limit)))
        return out

    def url(self, dataset: Dataset, base_url: str = "") -> str:
        """The Explore API call that answers the same rows."""
        path = f"{EXPLORE}/catalog/datasets/{quote(dataset.slug, safe='')}/records"
        return f"{base_url}{path}?{urlencode(self.items(), quote_via=quote, safe='')}"


def check_params(params: ChartParams, schema: Mapping[str, str], *, version: int | None = None,
                 where: str = "params") -> dict[str, str]:
    """The types of the columns ``params`` names, each checked: ``MissingColumn`` for one the
    version lacks, ``InvalidField`` naming the parameter for one of the wrong type or a filter
    value that is not of its column's type."""
    def col(name: str, path: str, kinds: tuple[str, ...] = columns.PLAIN, role: str = "") -> str:
        return columns.column(schema, name, f"{where}.{path}", kinds=kinds, version=version,
                              role=role)

    kinds = {"x": col(params.x, "x", columns.NUMERIC if params.type == "histogram"
                      else columns.PLAIN, role=f"the x of a {params.type} chart")}
    measured = params.type == "scatter" or (params.type in AGGREGATED
                                             and params.aggregation != "count")
    if measured and params.y is None:
        raise InvalidField(f"{where}.y", f"{where}.y: a {params.type} chart with "
                           f"{params.aggregation if params.type != 'scatter' else 'points'} "
                           "needs a y column")
    if measured and params.y is not None:
        kinds["y"] = col(params.y, "y", columns.NUMERIC, role=f"the y of a {params.type} chart")
    if params.series is not None:
        if params.type in ("pie", "donut", "histogram"):
            raise InvalidField(f"{where}.series", f"{where}.series: a {params.type} chart has "
                                                  "no series")
        kinds["series"] = col(params.series, "series")
    for i, condition in enumerate(params.filters):
        kind = col(condition.field, f"filters.{i}.field")
        if condition.value is None and condition.op not in ("=", "!="):
            raise InvalidField(f"{where}.filters.{i}.value", f"{where}.filters.{i}.value: "
                               f"only = and != compare with an empty value")
        if condition.value is not None:
            columns.literal(kind, condition.value, f"{where}.filters.{i}.value")
    return kinds


def conditions(params: ChartParams, kinds_of: Mapping[str, str]) -> tuple[str, ...]:
    """The filters as ODSQL ``where`` clauses (ANDed by the records service)."""
    out = []
    for i, condition in enumerate(params.filters):
        target = columns.name(condition.field)
        if condition.value is None:
            out.append(f"{target} is {'not ' if condition.op == '!=' else ''}null")
            continue
        value = columns.literal(kinds_of[condition.field], condition.value, f"filters.{i}.value")
        out.append(f"{target} {condition.op} {value}")
    return tuple(out)


def chart_query(params: ChartParams, schema: Mapping[str, str], *, step: float | None = None,
                version: int | None = None) -> ChartQuery:
    """The Explore query drawing ``params`` on a version of columns ``schema`` (checked).

    Aggregated charts group by x (and series) and order by x or by value; a scatter plot
    groups by its (x, y) pairs, counting the rows of each; a histogram groups by classes of
    x of width ``step`` (the parameters' own, else the one given)."""
    kinds = check_params(params, schema, version=version)
    where = conditions(params, schema)
    x = columns.grained(params.x, kinds["x"], params.grain)
    series = f", {columns.name(params.series)} as series" if params.series else ""
    if params.type == "histogram":
        width = params.step or step
        if width is None:
            raise InvalidField("params.step", "params.step: a histogram needs the width of "
                                              "its classes")
        return ChartQuery("count(*) as y", f"range({columns.name(params.x)}, {_number(width)}) as x",
                          where, "x", params.limit)
    if params.type == "scatter":
        assert params.y is not None
        return ChartQuery("count(*) as n", f"{x} as x, {columns.name(params.y)} as y{series}",
                          where, "", min(MAX_SCATTER_POINTS, max(params.limit, 1000)))
    measure = "count(*)" if params.aggregation == "count" or params.y is None \
        else f"{params.aggregation}({columns.name(params.y)})"
    order = {"x": "x", "y": "y", "-y": "y desc"}[params.sort]
    if params.series and params.sort != "x":
        order += ", x"
    return ChartQuery(f"{measure} as y", f"{x} as x{series}", where, order, params.limit)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def nice_step(low: float, high: float, classes: int = HISTOGRAM_CLASSES) -> float:
    """A round class width (1, 2 or 5 times a power of ten) cutting [low, high] into about
    ``classes`` classes."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return 1.0
    raw = span / classes
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)


# --- the rows -------------------------------------------------------------------------------

@dataclass
class ChartData:
    """A chart's rows as the Explore API answers them, with the query that made them."""

    query: ChartQuery
    rows: list[dict[str, Any]] = field(default_factory=list)
    version: int | None = None
    step: float | None = None


def _rows(settings: Settings, version: Version, query: ChartQuery) -> list[dict[str, Any]]:
    answer = records_answer(settings, version, query.records_params(), Page("", ""))
    return list(answer["results"])


def histogram_step(settings: Settings, version: Version, params: ChartParams) -> float:
    """The class width of a histogram without one: a round number cutting the span of its
    values into about ``HISTOGRAM_CLASSES`` classes."""
    check_params(params, version.schema, version=version.number)
    bounds = f"min({columns.name(params.x)}) as low, max({columns.name(params.x)}) as high"
    answer = records_answer(settings, version, RecordsParams.of(
        select=bounds, where=list(conditions(params, version.schema)), limit=1),
        Page("", ""))
    row = answer["results"][0] if answer["results"] else {}
    low, high = row.get("low"), row.get("high")
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return 1.0
    return nice_step(float(low), float(high))


def chart_data(settings: Settings, version: Version, params: ChartParams) -> ChartData:
    """The rows of a chart on ``version`` (``MissingColumn`` when a column is gone,
    ``QueryError`` and the other query errors as the records service raises them)."""
    step = None
    if params.type == "histogram" and params.step is None:
        step = histogram_step(settings, version, params)
    query = chart_query(params, version.schema, step=step, version=version.number)
    return ChartData(query, _rows(settings, version, query), version.number,
                     params.step or step)


# --- the service ----------------------------------------------------------------------------

def source_version(dataset: Dataset, field: str = "dataset") -> Version:
    """The version a chart is drawn from: the dataset's latest published one."""
    version = repo.latest_version(dataset)
    if version is None:
        raise InvalidField(field, f"{field}: dataset {dataset.slug!r} has no published version")
    return version


def _dataset(session: Session, viewer: Viewer, key: str, field: str = "dataset") -> Dataset:
    try:
        return readable_dataset(session, viewer, key)
    except NotFound:
        raise InvalidField(field, f"{field}: no dataset {key!r}") from None


def create_chart(session: Session, viewer: Viewer, body: Any) -> Chart:
    """Save a new chart (the caller commits): its parameters must fit the dataset's latest
    published version; it belongs to the dataset's organisation unless another is named."""
    require_member(viewer, "charts")
    b = parse(ChartBody, body)
    dataset = _dataset(session, viewer, b.dataset)
    version = source_version(dataset)
    check_params(b.params, version.schema, version=version.number)
    org = owner(session, viewer, b.organisation, default=dataset.organisation)
    chart = Chart(title=clean_text(b.title, "title", MAX_TITLE, required=True),
                  description=clean_text(b.description, "description", MAX_DESCRIPTION,
                                         multiline=True),
                  dataset_id=dataset.id, params=b.params.model_dump(mode="json"),
                  access=b.access, organisation_id=org.id, created_by=viewer.user_id or "")
    session.add(chart)
    session.flush()
    return chart


def get_chart(session: Session, viewer: Viewer, chart_id: str) -> Chart:
    """The chart ``chart_id`` if ``viewer`` may open it; otherwise ``NotFound``."""
    return readable_chart(session, viewer, chart_id)


def list_charts(session: Session, viewer: Viewer, *, dataset: str | None = None,
                q: str | None = None, limit: int = 20, offset: int = 0
                ) -> tuple[int, list[Chart]]:
    """The charts ``viewer`` may open, newest first; of one dataset (slug or id) if asked."""
    query = select(Chart).where(visible_charts(viewer))
    if dataset:
        query = query.join(Dataset, Dataset.id == Chart.dataset_id).where(
            or_(Dataset.slug == dataset, Dataset.id == dataset))
    return newest_page(session, query, Chart, q, limit, offset)


def update_chart(session: Session, viewer: Viewer, chart_id: str, changes: Any) -> Chart:
    """Change a chart's title, description, parameters, access or organisation."""
    chart = get_chart(session, viewer, chart_id)
    require(viewer, "edit", chart, what=f"chart {chart_id!r}")
    c = parse(ChartChanges, changes)
    given = c.model_fields_set
    if "title" in given and c.title is not None:
        chart.title = clean_text(c.title, "title", MAX_TITLE, required=True)
    if "description" in given and c.description is not None:
        chart.description = clean_text(c.description, "description", MAX_DESCRIPTION,
                                       multiline=True)
    if "params" in given and c.params is not None:
        version = source_version(chart.dataset)
        check_params(c.params, version.schema, version=version.number)
        chart.params = c.params.model_dump(mode="json")
    if "access" in given and c.access is not None:
        chart.access = c.access
    if "organisation" in given and c.organisation:
        chart.organisation_id = owner(session, viewer, c.organisation).id
    session.flush()
    return chart


def delete_chart(session: Session, viewer: Viewer, chart_id: str) -> None:
    """Delete a chart: its page and embeds answer 404, dashboard blocks showing it say so."""
    chart = get_chart(session, viewer, chart_id)
    require(viewer, "delete", chart, what=f"chart {chart_id!r}")
    session.delete(chart)
    session.flush()


def params_of(chart: Chart) -> ChartParams:
    """A saved chart's parameters (as saved: they were checked then)."""
    return parse(ChartParams, chart.params, where="params")


def chart_json(chart: Chart, *, base_url: str = "") -> dict[str, Any]:
    """The JSON form of a chart, with its page, its embed and the Explore call drawing it
    (``query_url`` is null, and ``problem`` says why, when the dataset's latest version no
    longer has what the chart needs)."""
    link = f"{base_url}/charts/{chart.id}"
    query_url, problem = None, None
    try:
        version = source_version(chart.dataset)
        params = params_of(chart)
        if params.type != "histogram" or params.step is not None:
            query_url = chart_query(params, version.schema, version=version.number).url(
                chart.dataset, base_url)
    except InvalidField as exc:
        problem = exc.message
    return {
        "id": chart.id, "title": chart.title, "description": chart.description,
        "dataset": chart.dataset.slug, "params": chart.params, "access": chart.access,
        "organisation": chart.organisation.slug, "created_by": chart.created_by,
        "created_at": chart.created_at.isoformat() if chart.created_at else None,
        "updated_at": chart.updated_at.isoformat() if chart.updated_at else None,
        "permalink": link, "embed_url": f"{link}/embed", "query_url": query_url,
        "problem": problem,
    }
