"""Saved charts: the Explore query made from their parameters, run on the real version and
compared with answers computed in Python; checks naming the parameter; saving under the rules."""

from __future__ import annotations

from collections import defaultdict

import pytest

from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.catalog import repository as repo
from mutuelle.core.errors import Forbidden, InvalidField, NotFound, Unauthenticated
from mutuelle.dashboards import charts
from mutuelle.dashboards.columns import MissingColumn
from mutuelle.dashboards.schemas import ChartParams

from budget_testing import BUDGET, HEADER, budget_csv  # type: ignore[import-not-found]


def params(**values: object) -> ChartParams:
    return ChartParams.model_validate(values)


def rows_of(portal, p: ChartParams) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return charts.chart_data(portal.settings, repo.latest_version(portal.budget), p).rows


def test_a_bar_chart_sums_y_by_x_within_its_filters_largest_first(portal) -> None:  # type: ignore[no-untyped-def]
    p = params(type="bar", x="chapitre", y="realise", aggregation="sum", sort="-y",
               filters=[{"field": "sens", "op": "=", "value": "Dépense"},
                        {"field": "exercice", "op": ">=", "value": "2023"}])
    expected: dict[str, float] = defaultdict(float)
    for year, _s, direction, chapter, _v, spent in BUDGET:
        if direction == "Dépense" and year >= 2023:
            expected[chapter] += spent
    found = rows_of(portal, p)
    assert [(r["x"], r["y"]) for r in found] == sorted(expected.items(), key=lambda kv: -kv[1])


def test_series_split_the_values_and_each_aggregation_matches_python(portal) -> None:  # type: ignore[no-untyped-def]
    for aggregation, reduce in [("sum", sum), ("avg", lambda v: sum(v) / len(v)), ("min", min),
                                ("max", max), ("count", len)]:
        p = params(type="line", x="exercice", y="credits_ouverts", aggregation=aggregation,
                   series="section")
        groups: dict[tuple[int, str], list[float]] = defaultdict(list)
        for year, section, _d, _c, voted, _s in BUDGET:
            groups[(year, section)].append(voted)
        found = {(r["x"], r["series"]): r["y"] for r in rows_of(portal, p)}
        assert found == {k: reduce(v) for k, v in groups.items()}, aggregation


def test_a_histogram_counts_rows_in_classes_of_a_round_width(portal) -> None:  # type: ignore[no-untyped-def]
    p = params(type="histogram", x="realise")
    data = charts.chart_data(portal.settings, repo.latest_version(portal.budget), p)
    assert data.step == 200.0   # (2710 - 200) / 20 classes, rounded up to 2 × 10²
    counts: dict[float, int] = defaultdict(int)
    for row in BUDGET:
        counts[(row[5] // 200) * 200] += 1
    assert {r["x"]: r["y"] for r in data.rows} == counts
    assert charts.nice_step(0, 1) == 0.05 and charts.nice_step(3, 3) == 1.0


def test_a_scatter_plot_groups_identical_points(portal) -> None:  # type: ignore[no-untyped-def]
    found = rows_of(portal, params(type="scatter", x="credits_ouverts", y="realise"))
    assert sorted((r["x"], r["y"], r["n"]) for r in found) == sorted(
        (r[4], r[5], 1) for r in BUDGET)


def test_a_filter_value_of_the_wrong_type_is_refused_naming_it(portal) -> None:  # type: ignore[no-untyped-def]
    schema = repo.latest_version(portal.budget).schema
    for value in ("abc", "2023.5", True):
        with pytest.raises(InvalidField) as caught:
            charts.chart_query(params(type="bar", x="section", filters=[
                {"field": "sens", "value": "Dépense"}, {"field": "exercice", "value": value}]),
                schema)
        assert caught.value.field == "params.filters.1.value"
    with pytest.raises(InvalidField, match="empty"):
        charts.chart_query(params(type="bar", x="section", filters=[
            {"field": "exercice", "op": ">", "value": None}]), schema)


def test_columns_of_the_wrong_type_or_missing_are_named(portal) -> None:  # type: ignore[no-untyped-def]
    schema = repo.latest_version(portal.budget).schema
    cases = [(params(type="bar", x="section", y="sens", aggregation="sum"), "params.y"),
             (params(type="histogram", x="section"), "params.x"),
             (params(type="bar", x="section", aggregation="sum"), "params.y"),
             (params(type="pie", x="section", series="sens"), "params.series"),
             (params(type="bar", x="nulle_part"), "params.x")]
    for p, field in cases:
        with pytest.raises(InvalidField) as caught:
            charts.chart_query(p, schema)
        assert caught.value.field == field


def test_a_chart_on_a_column_gone_in_a_new_version_says_which(portal) -> None:  # type: ignore[no-untyped-def]
    chart = charts.create_chart(portal.session, portal.viewer("editor"), {
        "title": "Réalisé", "dataset": "budget", "params": {
            "type": "bar", "x": "section", "y": "realise", "aggregation": "sum"}})
    portal.session.commit()
    portal.import_version(portal.budget, budget_csv(header=HEADER.replace("realise", "mandate")))
    with pytest.raises(MissingColumn) as caught:
        charts.chart_data(portal.settings, charts.source_version(chart.dataset),
                          charts.params_of(chart))
    assert (caught.value.column, caught.value.version, caught.value.field) == ("realise", 2, "params.y")
    shown = charts.chart_json(chart)
    assert shown["query_url"] is None and "realise" in shown["problem"]


def test_members_save_charts_under_their_organisation_and_the_rules_hold(portal) -> None:  # type: ignore[no-untyped-def]
    body = {"title": "Par section", "dataset": "budget", "access": "internal",
            "params": {"type": "pie", "x": "section"}}
    with pytest.raises(Unauthenticated):
        charts.create_chart(portal.session, ANONYMOUS, body)
    with pytest.raises(Forbidden):   # not a member of the city
        charts.create_chart(portal.session, portal.viewer("other_editor"),
                            {**body, "organisation": "ville"})
    chart = charts.create_chart(portal.session, portal.viewer("viewer"), body)
    portal.session.commit()
    assert chart.organisation_id == portal.city.id   # the dataset's, by default
    assert charts.get_chart(portal.session, portal.viewer("editor"), chart.id) is chart
    for outsider in (ANONYMOUS, portal.viewer("outsider"), portal.viewer("other_editor")):
        with pytest.raises(NotFound):
            charts.get_chart(portal.session, outsider, chart.id)
        assert charts.list_charts(portal.session, outsider)[0] == 0
    assert charts.list_charts(portal.session, portal.viewer("viewer"), dataset="budget")[0] == 1
    with pytest.raises(Forbidden):   # a viewer of the city reads it, only its author and editors change it
        charts.update_chart(portal.session, _other_viewer(portal), chart.id, {"title": "x"})
    changed = charts.update_chart(portal.session, portal.viewer("editor"), chart.id,
                                  {"access": "public", "params": {"type": "donut", "x": "sens"}})
    assert changed.access == "public" and changed.params["type"] == "donut"
    assert charts.get_chart(portal.session, ANONYMOUS, chart.id) is chart
    charts.delete_chart(portal.session, OPERATOR, chart.id)
    with pytest.raises(NotFound):
        charts.get_chart(portal.session, OPERATOR, chart.id)


def _other_viewer(portal):  # type: ignore[no-untyped-def]
    """Another viewer of the city than the chart's author."""
    from mutuelle.access import accounts

    user, _ = accounts.create_user(portal.session, email="second@tests.example",
                                   password="correct horse battery")
    accounts.set_role(portal.session, user, portal.city, "viewer")
    portal.session.commit()
    return portal.viewer("second")


def test_a_public_chart_is_never_looser_than_its_dataset(portal) -> None:  # type: ignore[no-untyped-def]
    portal.dataset("interne", budget_csv(), access="internal")
    chart = charts.create_chart(portal.session, portal.viewer("editor"), {
        "title": "Public sur interne", "dataset": "interne", "access": "public",
        "params": {"type": "bar", "x": "section"}})
    portal.session.commit()
    with pytest.raises(NotFound):
        charts.get_chart(portal.session, ANONYMOUS, chart.id)
    assert charts.list_charts(portal.session, ANONYMOUS)[0] == 0
    assert charts.get_chart(portal.session, portal.viewer("viewer"), chart.id) is chart


def test_saving_refuses_what_does_not_fit_naming_the_field(portal) -> None:  # type: ignore[no-untyped-def]
    editor = portal.viewer("editor")
    cases = [({"title": "", "dataset": "budget", "params": {"type": "bar", "x": "section"}}, "title"),
             ({"title": "T", "dataset": "nulle-part", "params": {"type": "bar", "x": "section"}}, "dataset"),
             ({"title": "T", "dataset": "budget", "params": {"type": "radar", "x": "section"}}, "params.type"),
             ({"title": "T", "dataset": "budget", "params": {"type": "bar", "x": "section", "limit": 0}}, "params.limit"),
             ({"title": "T", "dataset": "budget", "params": {"type": "bar", "x": "section"}, "colour": "red"}, "colour")]
    for body, field in cases:
        with pytest.raises(InvalidField) as caught:
            charts.create_chart(portal.session, editor, body)
        assert caught.value.field == field, caught.value.message
