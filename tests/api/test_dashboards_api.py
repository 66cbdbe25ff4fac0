"""The dashboards and charts API on the demo portal: create, read, change, delete; bodies that
do not fit answered 422 naming the field; internal dashboards invisible to anonymous callers."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from http_testing import invalid, member_key  # type: ignore[import-not-found]

FUTURE = date(date.today().year + 2, 6, 30).isoformat()
RATE = {"label": "Taux d’exécution", "dataset": "budget-val-sauvage", "measure": "ratio",
        "numerator": "realise", "denominator": "credits_ouverts", "scale": 100, "unit": "%",
        "where": 'sens = "Dépense"', "period_field": "exercice",
        "target": {"value": 95, "date": FUTURE}}


def body(**changes: Any) -> dict[str, Any]:
    return {"title": "Mon tableau", "organisation": "val-sauvage", "access": "internal",
            "blocks": [{"kind": "kpi", "x": 0, "y": 0, "w": 4, "h": 2, "kpi": RATE},
                       {"kind": "text", "x": 4, "y": 0, "w": 8, "h": 2, "text": "**Note**"}],
            **changes}


def create(demo_api: TestClient, **changes: Any) -> dict[str, Any]:
    response = demo_api.post("/api/dashboards", json=body(**changes))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_demo_ships_a_public_and_an_internal_dashboard(demo_api: TestClient,
                                                           demo_public_api: TestClient) -> None:
    every = {d["title"]: d for d in demo_api.get("/api/dashboards?limit=100").json()["results"]}
    budget = every["Budget de Val-Sauvage : exécution"]
    assert budget["access"] == "internal" and budget["organisation"] == "val-sauvage"
    kpis = [b["kpi"] for b in budget["blocks"] if b["kind"] == "kpi"]
    assert any(k["measure"] == "ratio" and k.get("target") for k in kpis)
    public = demo_public_api.get("/api/dashboards").json()
    assert [d["title"] for d in public["results"]] == ["Chiffres clés de la Métropole de Val-Sauvage"]
    assert demo_public_api.get(f"/api/dashboards/{budget['id']}").status_code == 404


def test_a_dashboard_is_created_read_changed_and_deleted(demo_api: TestClient) -> None:
    saved = create(demo_api)
    assert saved["permalink"] == f"http://testserver/dashboards/{saved['id']}"
    assert [b["kind"] for b in saved["blocks"]] == ["kpi", "text"] and all(b["id"] for b in saved["blocks"])
    assert demo_api.get(f"/api/dashboards/{saved['id']}").json()["blocks"] == saved["blocks"]
    moved = [{**saved["blocks"][0], "y": 2}, saved["blocks"][1]]
    changed = demo_api.put(f"/api/dashboards/{saved['id']}", json={"title": "Renommé", "blocks": moved})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Renommé" and changed.json()["blocks"][0]["y"] == 2
    assert changed.json()["access"] == "internal"   # left out: kept
    assert demo_api.delete(f"/api/dashboards/{saved['id']}").status_code == 204
    assert demo_api.get(f"/api/dashboards/{saved['id']}").status_code == 404
    assert demo_api.put(f"/api/dashboards/{saved['id']}", json={"title": "x"}).status_code == 404


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": None}, "title"),
    ({"title": ""}, "title"),
    ({"access": "secret"}, "access"),
    ({"colour": "red"}, "colour"),
    ({"blocks": [{"kind": "radar"}]}, "blocks.0.kind"),
    ({"blocks": [{"kind": "text", "text": "x", "w": 13}]}, "blocks.0.w"),
    ({"blocks": [{"kind": "kpi", "kpi": {**RATE, "target": {"value": 95, "date": "2020-01-01"}}}]},
     "blocks.0.kpi.target.date"),
    ({"blocks": [{"kind": "kpi", "kpi": {**RATE, "target": {"value": "beaucoup", "date": FUTURE}}}]},
     "blocks.0.kpi.target.value"),
    ({"blocks": [{"kind": "kpi", "kpi": {**RATE, "numerator": "nulle_part"}}]}, "blocks.0.kpi.numerator"),
    ({"blocks": [{"kind": "kpi", "kpi": {**RATE, "where": "sens = "}}]}, "blocks.0.kpi.where"),
    ({"blocks": [{"kind": "chart", "chart": "nulle"}]}, "blocks.0.chart"),
    ({"organisation": "nulle-part"}, "organisation"),
])
def test_a_body_that_does_not_fit_is_a_422_naming_the_field(demo_api: TestClient,
                                                             changes: dict[str, Any], field: str) -> None:
    message = invalid(demo_api.post("/api/dashboards", json=body(**changes)), field)
    assert message.startswith(field) or f"; {field}" in message, message


def test_only_members_save_and_only_editors_change(demo_api: TestClient,
                                                   demo_public_api: TestClient) -> None:
    assert demo_public_api.post("/api/dashboards", json=body()).status_code == 401
    settings = demo_api.app.state.settings
    viewer = member_key(settings, "lectrice@val-sauvage.example", roles={"val-sauvage": "viewer"})
    reader = member_key(settings, "cle-lecture@val-sauvage.example", roles={"val-sauvage": "editor"},
                        scope="read")
    outsider = member_key(settings, "voisin@pontlumiere.example", roles={"pontlumiere": "editor"})
    assert demo_api.post("/api/dashboards", json=body(), headers=reader).status_code == 403
    assert demo_api.post("/api/dashboards", json=body(), headers=outsider).status_code == 403
    mine = demo_api.post("/api/dashboards", json=body(), headers=viewer)
    assert mine.status_code == 201, mine.text
    other = create(demo_api)   # the site administrator's
    assert demo_api.get(f"/api/dashboards/{other['id']}", headers=viewer).status_code == 200
    assert demo_api.put(f"/api/dashboards/{other['id']}", json={"title": "x"}, headers=viewer).status_code == 403
    assert demo_api.get(f"/api/dashboards/{other['id']}", headers=outsider).status_code == 404
    assert demo_api.put(f"/api/dashboards/{mine.json()['id']}", json={"title": "À moi"},
                        headers=viewer).status_code == 200


CHART = {"title": "Réalisé par chapitre", "dataset": "budget-val-sauvage", "access": "public",
         "params": {"type": "bar", "x": "libelle_chapitre", "y": "realise", "aggregation": "sum",
                    "filters": [{"field": "exercice", "op": "=", "value": 2024}], "sort": "-y",
                    "limit": 5}}


def test_a_chart_s_query_is_an_explore_call_giving_its_rows(demo_api: TestClient,
                                                            demo_public_api: TestClient) -> None:
    response = demo_api.post("/api/charts", json=CHART)
    assert response.status_code == 201, response.text
    chart = response.json()
    assert chart["organisation"] == "val-sauvage" and chart["problem"] is None
    url = urlsplit(chart["query_url"])
    assert url.path == "/api/explore/v2.1/catalog/datasets/budget-val-sauvage/records"
    rows = demo_public_api.get(f"{url.path}?{url.query}").json()["results"]
    assert len(rows) == 5 and [r["y"] for r in rows] == sorted((r["y"] for r in rows), reverse=True)
    assert demo_public_api.get(f"/api/charts/{chart['id']}").json()["params"] == chart["params"]
    listed = demo_public_api.get("/api/charts?dataset=budget-val-sauvage&limit=100").json()
    assert chart["id"] in [c["id"] for c in listed["results"]]
    changed = demo_api.put(f"/api/charts/{chart['id']}", json={"access": "internal"})
    assert changed.status_code == 200 and changed.json()["title"] == CHART["title"]
    assert demo_public_api.get(f"/api/charts/{chart['id']}").status_code == 404
    assert demo_api.delete(f"/api/charts/{chart['id']}").status_code == 204
    assert demo_api.get(f"/api/charts/{chart['id']}").status_code == 404


@pytest.mark.parametrize(("params", "field"), [
    ({"filters": [{"field": "exercice", "op": "=", "value": "deux mille"}]}, "params.filters.0.value"),
    ({"filters": [{"field": "date_vote", "op": ">", "value": "hier"}]}, "params.filters.0.value"),
    ({"filters": [{"field": "exercice", "op": "~", "value": 1}]}, "params.filters.0.op"),
    ({"x": "nulle_part"}, "params.x"),
    ({"type": "radar"}, "params.type"),
    ({"aggregation": "median"}, "params.aggregation"),
    ({"y": None}, "params.y"),
    ({"limit": 5000}, "params.limit"),
])
def test_a_chart_that_does_not_fit_is_a_422_naming_the_parameter(demo_api: TestClient,
                                                                 params: dict[str, Any], field: str) -> None:
    invalid(demo_api.post("/api/charts", json={**CHART, "params": {**CHART["params"], **params}}), field)
