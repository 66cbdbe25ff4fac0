"""Dashboards: blocks checked when saved (the grid, each kind's part, what they name, targets'
dates), the access rules, and the sparkline of a KPI's history."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.core.errors import InvalidField, NotFound, Unauthenticated
from mutuelle.dashboards import boards, charts
from mutuelle.dashboards.schemas import Block
from mutuelle.dashboards.sparkline import sparkline

TODAY = date.today()
FUTURE = date(TODAY.year + 2, 12, 31).isoformat()


def kpi_block(**more: Any) -> dict[str, Any]:
    kpi = {"label": "Taux", "dataset": "budget", "measure": "ratio", "numerator": "realise",
           "denominator": "credits_ouverts", "scale": 100, "period_field": "exercice",
           "target": {"value": 80, "date": FUTURE}}
    return {"kind": "kpi", "x": 0, "y": 0, "w": 4, "h": 2, "kpi": {**kpi, **more}}


def board(portal, *blocks: dict[str, Any], access: str = "internal", who: str = "editor"):  # type: ignore[no-untyped-def]
    made = boards.create_dashboard(portal.session, portal.settings, portal.viewer(who), {
        "title": "Budget", "organisation": "ville", "access": access, "blocks": list(blocks)})
    portal.session.commit()
    return made


def refused(portal, *blocks: dict[str, Any]) -> InvalidField:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidField) as caught:
        board(portal, *blocks)
    portal.session.rollback()
    return caught.value


def test_a_dashboard_keeps_its_blocks_with_ids_in_reading_order(portal) -> None:  # type: ignore[no-untyped-def]
    made = board(portal, {"kind": "text", "x": 4, "y": 0, "w": 8, "h": 2, "text": "Bonjour"},
                 kpi_block())
    assert [b["kind"] for b in made.blocks] == ["text", "kpi"]
    assert all(b["id"] for b in made.blocks)
    assert [b.kind for b in boards.blocks_of(made)] == ["kpi", "text"]   # row, then column
    shown = boards.dashboard_json(made, base_url="https://portail.example")
    assert shown["permalink"] == f"https://portail.example/dashboards/{made.id}"
    assert shown["embed_url"].endswith("/embed") and shown["organisation"] == "ville"


REFUSED = [
    ([{"kind": "text", "x": 8, "y": 0, "w": 6, "h": 1, "text": "x"}], "blocks.0.w"),
    ([{"kind": "text", "text": "a"}, {"kind": "text", "x": 3, "y": 1, "w": 2, "h": 1, "text": "b"}],
     "blocks.1"),
    ([{"kind": "kpi", "text": "x"}], "blocks.0.kpi"),
    ([{"kind": "text", "text": "x", "chart": "abc"}], "blocks.0.chart"),
    ([{"kind": "chart", "chart": "nulle"}], "blocks.0.chart"),
    ([{"kind": "scenario", "scenario": "nulle"}], "blocks.0.scenario"),
    ([{"kind": "indicator", "indicator": {"indicator": "nul"}}], "blocks.0.indicator.indicator"),
    ([{"kind": "map", "map": {}}], "blocks.0.map"),
    ([{"kind": "map", "map": {"dataset": "budget"}}], "blocks.0.map.dataset"),
    ([{"kind": "table", "table": {"dataset": "budget", "columns": ["nulle_part"]}}],
     "blocks.0.table.columns.0"),
    ([{"kind": "table", "table": {"dataset": "budget", "where": "exercice >"}}], "blocks.0.table.where"),
    ([{"kind": "radar"}], "blocks.0.kind"),
    ([{"kind": "text", "text": "x", "w": 13}], "blocks.0.w"),
]


def test_blocks_that_do_not_fit_are_refused_naming_the_field(portal) -> None:  # type: ignore[no-untyped-def]
    for blocks, field in REFUSED:
        assert refused(portal, *blocks).field == field, blocks


def test_a_kpi_is_checked_against_its_dataset_when_saved(portal) -> None:  # type: ignore[no-untyped-def]
    assert refused(portal, kpi_block(measure="sum", field=None)).field == "blocks.0.kpi.field"
    assert refused(portal, kpi_block(numerator="nulle_part")).field == "blocks.0.kpi.numerator"
    assert refused(portal, kpi_block(numerator="section")).field == "blocks.0.kpi.numerator"
    assert refused(portal, kpi_block(where="exercice = = 2")).field == "blocks.0.kpi.where"
    assert refused(portal, kpi_block(dataset="nulle-part")).field == "blocks.0.kpi.dataset"


def test_a_new_target_date_in_the_past_is_refused_and_one_that_passed_since_is_kept(portal) -> None:  # type: ignore[no-untyped-def]
    past = date(TODAY.year - 1, 1, 1).isoformat()
    problem = refused(portal, kpi_block(target={"value": 80, "date": past}))
    assert problem.field == "blocks.0.kpi.target.date" and past in problem.message
    made = board(portal, kpi_block())
    saved = [dict(b) for b in made.blocks]
    # the date passes: the stored target keeps it (as if saved long ago), and saving again keeps it
    saved[0]["kpi"] = {**saved[0]["kpi"], "target": {**saved[0]["kpi"]["target"], "date": past}}
    made.blocks = saved
    portal.session.commit()
    again = boards.update_dashboard(portal.session, portal.settings, portal.viewer("editor"),
                                    made.id, {"blocks": saved, "title": "Budget 2"})
    assert again.blocks[0]["kpi"]["target"]["date"] == past and again.title == "Budget 2"
    # but changing that target, or a new block with a past date, is refused
    moved = [{**saved[0], "kpi": {**saved[0]["kpi"], "target": {"value": 90, "date": past}}}]
    assert boards.update_dashboard(portal.session, portal.settings, portal.viewer("editor"),
                                   made.id, {"blocks": moved}).blocks[0]["kpi"]["target"]["value"] == 90
    with pytest.raises(InvalidField) as caught:
        boards.update_dashboard(portal.session, portal.settings, portal.viewer("editor"), made.id,
                                {"blocks": [*moved, {**kpi_block(target={"value": 1, "date": past}),
                                                     "y": 2}]})
    assert caught.value.field == "blocks.1.kpi.target.date"


def test_an_internal_dashboard_is_hidden_from_those_outside_the_organisation(portal) -> None:  # type: ignore[no-untyped-def]
    made = board(portal, kpi_block(), who="viewer")
    for reader in ("viewer", "editor"):
        assert boards.get_dashboard(portal.session, portal.viewer(reader), made.id) is made
    for outsider in (ANONYMOUS, portal.viewer("outsider"), portal.viewer("other_editor")):
        with pytest.raises(NotFound):
            boards.get_dashboard(portal.session, outsider, made.id)
        assert boards.list_dashboards(portal.session, outsider) == (0, [])
    assert boards.list_dashboards(portal.session, portal.viewer("editor"), q="budg")[0] == 1
    with pytest.raises(Unauthenticated):
        boards.create_dashboard(portal.session, portal.settings, ANONYMOUS, {"title": "x"})
    boards.delete_dashboard(portal.session, portal.viewer("editor"), made.id)
    with pytest.raises(NotFound):
        boards.get_dashboard(portal.session, OPERATOR, made.id)


def test_blocks_naming_a_saved_chart_need_one_the_author_may_read(portal) -> None:  # type: ignore[no-untyped-def]
    chart = charts.create_chart(portal.session, portal.viewer("editor"), {
        "title": "Par section", "dataset": "budget", "access": "internal",
        "params": {"type": "pie", "x": "section"}})
    portal.session.commit()
    made = board(portal, {"kind": "chart", "chart": chart.id, "w": 6, "h": 3})
    assert Block.model_validate(made.blocks[0]).chart == chart.id
    with pytest.raises(InvalidField) as caught:
        boards.create_dashboard(portal.session, portal.settings, portal.viewer("other_editor"), {
            "title": "x", "organisation": "autre-ville",
            "blocks": [{"kind": "chart", "chart": chart.id}]})
    assert caught.value.field == "blocks.0.chart"


def test_a_sparkline_spans_its_box_and_skips_missing_values() -> None:
    line = sparkline([1.0, None, 3.0, 2.0], width=100, height=20)
    assert line is not None and line.count == 3 and (line.low, line.high) == (1.0, 3.0)
    points = [tuple(map(float, p.split(","))) for p in line.points.split()]
    assert points[0] == (3.0, 17.0) and points[1] == (65.7, 3.0) and points[2][0] == 97.0
    assert line.last == points[-1]
    assert sparkline([5.0]) is None and sparkline([None, None]) is None
    flat = sparkline([2.0, 2.0])
    assert flat is not None and {p.split(",")[1] for p in flat.points.split()} == {"16.0"}
