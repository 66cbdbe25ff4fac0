"""Dashboards and charts as pages, without JavaScript: the demo's dashboards, each kind of
block, their embeds (and the clear 404 of a deleted one), and what a block says when it cannot
show its content (a column gone, a query that fails), never a broken page."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

FUTURE = date(date.today().year + 2, 6, 30).isoformat()
BUDGET = "budget-val-sauvage"


def dashboard_id(client: TestClient, title: str) -> str:
    found = client.get("/api/dashboards?limit=100").json()["results"]
    return next(d["id"] for d in found if d["title"] == title)


def create(client: TestClient, blocks: list[dict[str, Any]], **more: Any) -> str:
    response = client.post("/api/dashboards", json={
        "title": "Essai", "organisation": "val-sauvage", "access": "public", "blocks": blocks, **more})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def small_dataset(client: TestClient, slug: str, text: str) -> None:
    """A published dataset of the city made of CSV ``text`` (then new versions with ``upload``)."""
    assert client.post("/api/datasets", json={"organisation": "val-sauvage", "title": slug,
                                              "slug": slug}).status_code == 201
    upload(client, slug, text)
    assert client.post(f"/api/datasets/{slug}/publish").status_code == 200


def upload(client: TestClient, slug: str, text: str) -> None:
    response = client.post(f"/api/datasets/{slug}/versions", files={"file": ("d.csv", text.encode())})
    assert response.status_code == 201, response.text


def test_the_public_dashboard_of_key_figures_reads_without_javascript(demo_api: TestClient,
                                                                      demo_public_api: TestClient) -> None:
    board = dashboard_id(demo_api, "Chiffres clés de la Métropole de Val-Sauvage")
    page = demo_public_api.get(f"/dashboards/{board}")
    assert page.status_code == 200 and page.headers["content-language"] == "fr"
    html = page.text
    assert 'href="/dashboards" aria-current="page"' in html      # the nav's link
    assert html.count('class="dash-block ') == 9
    assert "Habitants" in html and "523" in html                  # a KPI, computed
    assert 'class="sparkline"' in html                            # the monthly offers' history
    assert 'class="static-map block-map"' in html and "<circle" in html   # indicator and points maps
    assert 'data-chart-figure' in html and "<table" in html        # a chart, with its table
    assert "Taux de pauvreté" in html
    assert "block-problem" not in html
    assert "/static/js/chart-builder.js" in html and "maplibre" not in html


def test_the_internal_budget_dashboard_shows_targets_and_their_rule_to_members_only(
        demo_api: TestClient, demo_public_api: TestClient) -> None:
    board = dashboard_id(demo_api, "Budget de Val-Sauvage : exécution")
    hidden = demo_public_api.get(f"/dashboards/{board}")
    gone = demo_public_api.get("/dashboards/nexistepas")
    assert hidden.status_code == gone.status_code == 404
    assert "Tableau de bord introuvable" in hidden.text
    assert "Budget de Val-Sauvage" not in hidden.text
    assert demo_public_api.get(f"/dashboards/{board}/embed").status_code == 404
    html = demo_api.get(f"/dashboards/{board}").text
    assert "Taux d’exécution de l’investissement" in html
    assert re.search(r"Cible : 80,0\s%\sau 31/12/\d{4}", html)
    assert re.search(r'class="kpi-status status-(met|on_track|off_track)">(Atteint|En bonne voie|Hors trajectoire)', html)
    assert "Atteint quand la valeur est d’au moins 80,0" in html   # the rule, in words
    assert "depuis 2024" in html                                   # the comparison period
    english = demo_api.get(f"/dashboards/{board}?lang=en").text
    demo_api.get("/dashboards?lang=fr")   # the language chosen is remembered: back to French
    assert "Reached when the value is at least 80.0" in english and "On track" in english


def test_markdown_blocks_are_sanitised(demo_api: TestClient, demo_public_api: TestClient) -> None:
    text = ('<script>alert("x")</script> **gras** <img src=x onerror=alert(1)> '
            '[lien](javascript:alert(1))')
    board = create(demo_api, [{"kind": "text", "text": text, "w": 6}])
    html = demo_public_api.get(f"/dashboards/{board}").text
    body = html.split('class="dashboard-grid', 1)[1].split("</main>", 1)[0]
    assert "<script>alert" not in body and "<img" not in body and 'href="javascript:' not in body
    assert "<strong>gras</strong>" in body and "&lt;script&gt;" in body   # shown as text


def test_a_chart_on_a_column_gone_in_a_new_version_says_so_in_its_block(demo_api: TestClient) -> None:
    small_dataset(demo_api, "releves", "quartier;valeur\nNord;1\nSud;2\nNord;3\n")
    response = demo_api.post("/api/charts", json={"title": "Par quartier", "dataset": "releves", "params": {
        "type": "bar", "x": "quartier", "y": "valeur", "aggregation": "sum"}})
    chart = response.json()["id"]
    board = create(demo_api, [{"kind": "chart", "chart": chart, "w": 6, "h": 3},
                              {"kind": "text", "x": 6, "w": 6, "text": "à côté"}])
    assert "block-problem" not in demo_api.get(f"/dashboards/{board}").text
    upload(demo_api, "releves", "secteur;valeur\nNord;1\n")
    page = demo_api.get(f"/dashboards/{board}")
    assert page.status_code == 200
    problem = page.text.split('class="block-problem"', 1)[1].split("</div>", 1)[0]
    assert "La colonne « quartier » n’est plus dans la version 2 du jeu de données" in problem
    assert "à côté" in page.text                                  # the other blocks are shown
    assert "La colonne « quartier »" in demo_api.get(f"/charts/{chart}").text
    assert demo_api.get(f"/charts/{chart}/embed").status_code == 200


def test_a_kpi_whose_query_fails_says_so_in_its_block(demo_api: TestClient) -> None:
    small_dataset(demo_api, "compteurs", "sens;nombre\nentrée;4\nsortie;6\n")
    board = create(demo_api, [{"kind": "kpi", "w": 4, "kpi": {
        "label": "Entrées", "dataset": "compteurs", "measure": "sum", "field": "nombre",
        "where": 'sens = "entrée"'}}])
    assert re.search(r'class="figure">4<', demo_api.get(f"/dashboards/{board}").text)
    upload(demo_api, "compteurs", "direction;nombre\nentrée;4\n")   # `sens` is gone
    page = demo_api.get(f"/dashboards/{board}")
    assert page.status_code == 200
    assert "Le calcul de ce bloc a échoué : la clause « where »" in page.text and "unknown field" in page.text


def test_the_embed_of_a_deleted_dashboard_is_a_clear_404(demo_api: TestClient,
                                                         demo_public_api: TestClient) -> None:
    board = create(demo_api, [{"kind": "text", "text": "Bonjour"}])
    embed = demo_public_api.get(f"/dashboards/{board}/embed")
    assert embed.status_code == 200 and "frame-ancestors *" in embed.headers["content-security-policy"]
    assert 'class="embed"' in embed.text and "/static/js/embed-frame.js" in embed.text
    assert demo_api.delete(f"/api/dashboards/{board}").status_code == 204
    gone = demo_public_api.get(f"/dashboards/{board}/embed")
    assert gone.status_code == 404
    assert "Tableau de bord introuvable" in gone.text and "n’existe plus" in gone.text
    assert 'class="embed"' in gone.text                            # the embed's own shell
    assert "frame-ancestors *" in gone.headers["content-security-policy"]
    assert demo_public_api.get(f"/dashboards/{board}").status_code == 404


def test_a_kpi_is_embedded_alone_and_the_page_gives_its_snippet(demo_api: TestClient,
                                                                demo_public_api: TestClient) -> None:
    board = dashboard_id(demo_api, "Chiffres clés de la Métropole de Val-Sauvage")
    blocks = demo_api.get(f"/api/dashboards/{board}").json()["blocks"]
    kpi = next(b for b in blocks if b["kind"] == "kpi")
    page = demo_public_api.get(f"/dashboards/{board}").text
    assert f"/dashboards/{board}/blocs/{kpi['id']}/embed" in page and "data-mutuelle-embed" in page
    alone = demo_public_api.get(f"/dashboards/{board}/blocs/{kpi['id']}/embed")
    assert alone.status_code == 200 and alone.text.count('class="dash-block ') == 1
    assert demo_public_api.get(f"/dashboards/{board}/blocs/nulle/embed").status_code == 404


def test_a_chart_page_gives_its_table_its_api_call_and_its_snippet(demo_api: TestClient,
                                                                   demo_public_api: TestClient) -> None:
    charts = demo_public_api.get("/api/charts?limit=100").json()["results"]
    chart = next(c for c in charts if c["title"] == "Établissements scolaires par type et par secteur")
    html = demo_public_api.get(f"/charts/{chart['id']}").text
    assert "<table" in html and "maternelle" in html and "public" in html
    assert "/api/explore/v2.1/catalog/datasets/etablissements-scolaires/records?" in html
    assert f"/charts/{chart['id']}/embed" in html and "data-mutuelle-embed" in html
    assert demo_public_api.get(f"/charts/{chart['id']}/modifier", follow_redirects=False).status_code == 303  # sign in first
    editor = demo_api.get(f"/charts/{chart['id']}/modifier").text
    assert "data-chart-builder" in editor and f'data-chart-id="{chart["id"]}"' in editor
    gone = demo_public_api.get("/charts/nulle/embed")
    assert gone.status_code == 404 and "Graphique introuvable" in gone.text


def test_the_editor_and_the_new_dashboard_form_are_for_members(demo_api: TestClient,
                                                               demo_public_api: TestClient) -> None:
    assert demo_public_api.get("/dashboards/nouveau", follow_redirects=False).status_code == 303
    form = demo_api.get("/dashboards/nouveau")
    assert form.status_code == 200 and 'name="organisation"' in form.text
    refused = demo_api.post("/dashboards/nouveau", data={"title": "", "organisation": "val-sauvage"})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    made = demo_api.post("/dashboards/nouveau", data={"title": "Nouveau", "organisation": "val-sauvage",
                                                      "access": "internal"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith("/modifier")
    editor = demo_api.get(made.headers["location"])
    assert editor.status_code == 200 and "data-dashboard-editor" in editor.text
    assert "Ajouter un bloc" in editor.text and "/static/js/dashboard-editor.js" in editor.text


def test_the_block_preview_draws_a_block_or_names_what_is_wrong(demo_api: TestClient) -> None:
    kpi = {"label": "Écoles", "dataset": "etablissements-scolaires", "measure": "count"}
    drawn = demo_api.post("/dashboards/blocs/apercu", json={"block": {"kind": "kpi", "kpi": kpi}})
    assert drawn.status_code == 200 and 'data-block="' in drawn.text and "358" in drawn.text
    wrong = demo_api.post("/dashboards/blocs/apercu", headers={"Accept": "application/json"},
                          json={"block": {"kind": "kpi", "kpi": {**kpi, "measure": "sum"}}})
    assert wrong.status_code == 422 and wrong.json()["message"].startswith("blocks.0.kpi.field")


def test_the_list_shows_what_each_caller_may_open(demo_api: TestClient,
                                                  demo_public_api: TestClient) -> None:
    public = demo_public_api.get("/dashboards").text
    assert "Chiffres clés de la Métropole" in public and "Budget de Val-Sauvage" not in public
    member = demo_api.get("/dashboards?q=budget").text
    assert "Budget de Val-Sauvage : exécution" in member and "Nouveau tableau de bord" in member
