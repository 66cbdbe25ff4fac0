"""Charts and dashboards in Debian's headless Chromium: a member builds a chart in the dataset's
Chart tab and saves it; builds a dashboard (adds a KPI with a target, moves, resizes and removes
blocks, with the buttons and the keyboard), saves it and finds it as left after a reload; drags
blocks with the mouse (by their title bar, by their corner) onto free cells and onto other
blocks, and changes blocks in place; and axe-core finds no violation on the pages."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from mutuelle.catalog import repository as repo
from mutuelle.catalog.dashboard_models import Dashboard
from mutuelle.ingest.service import import_file

from browser_testing import axe_violations  # type: ignore[import-not-found]
from http_testing import admin_key  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser

BUDGET = """exercice;section;sens;chapitre;credits_ouverts;realise
2022;Investissement;Dépense;21;1000;600
2022;Fonctionnement;Dépense;011;2000;1900
2023;Investissement;Dépense;21;1200;900
2023;Fonctionnement;Dépense;011;2100;2050
2024;Investissement;Dépense;21;1000;800
2024;Fonctionnement;Dépense;011;2200;2150
2024;Fonctionnement;Recette;73;2700;2710
"""
TARGET_DATE = date(date.today().year + 1, 12, 31).isoformat()


def seed(app) -> str:  # type: ignore[no-untyped-def]
    """A city with its published budget; the signed-in member (a site administrator) saves."""
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville de Test", slug="ville")
        dataset = repo.create_dataset(session, organisation=org, title="Budget", slug="budget")
        session.commit()
        path = app.state.settings.home / "budget.csv"
        path.write_text(BUDGET, encoding="utf-8")
        import_file(session, app.state.settings, dataset, path)
        repo.publish_dataset(session, dataset)
        session.commit()
    return "budget"


def place(block) -> str:  # type: ignore[no-untyped-def]
    """A block's place on the grid, as the browser lays it out."""
    return str(block.evaluate(
        "el => `grid-column: ${getComputedStyle(el).gridColumn}; grid-row: ${getComputedStyle(el).gridRow}`"))


def no_violations(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{where}: " + json.dumps(violations, indent=1, ensure_ascii=False)


def test_a_member_builds_a_chart_and_saves_it(app, live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page
    slug = seed(app)
    page.goto(f"{live_server}/datasets/{slug}?tab=chart")
    builder = page.locator("[data-chart-builder]")
    expect(builder).to_have_attribute("data-ready", "1")
    builder.get_by_label("Axe x (catégories ou valeurs)").select_option("section")
    builder.get_by_label("Mesure de l’axe y").select_option("sum")
    builder.get_by_label("Colonne mesurée (axe y)").select_option("realise")
    builder.get_by_role("button", name="Ajouter un filtre").click()
    row = builder.locator(".filter-row").first
    row.get_by_label("Colonne filtrée").select_option("exercice")
    row.get_by_label("Condition du filtre").select_option(">=")
    row.get_by_label("Valeur du filtre").fill("deux mille")   # not a number: told before any query
    status = builder.locator("[data-builder-status]")
    expect(status).to_have_text("Valeur à corriger dans le filtre 1.")
    row.get_by_label("Valeur du filtre").fill("2023")
    expect(status).to_have_text("2 lignes dans le graphique.")
    table = builder.locator("[data-builder-table] table")
    expect(table.locator("tbody tr")).to_have_count(2)
    assert table.locator("tbody").inner_text().replace("\u202f", " ").split("\n") == [
        "Fonctionnement\t6 910", "Investissement\t1 700"]   # 2050 + 2150 + 2710; 900 + 800
    expect(builder.locator("[data-chart-view] svg")).to_have_count(1)
    assert "group_by=" in (builder.locator("[data-builder-query]").get_attribute("href") or "")
    screenshot(page, "chart-builder")

    page.locator("#cb-title").fill("Réalisé par section depuis 2023")
    page.locator("#cb-access").select_option("internal")
    page.get_by_role("button", name="Enregistrer le graphique").click()
    saved = page.locator("[data-save-status]")
    expect(saved).to_contain_text("Graphique enregistré.")
    saved.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/charts/[a-z0-9]+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Réalisé par section depuis 2023")
    expect(page.locator(".chart-figure[data-drawn='1'] .chart-view svg")).to_have_count(1)
    expect(page.locator(".chart-figure table tbody tr")).to_have_count(2)
    assert "data-mutuelle-embed" in page.locator("#chart-embed").input_value()
    screenshot(page, "chart-page")
    no_violations(page, "chart page")


def test_a_member_builds_a_dashboard_moves_resizes_removes_saves_and_reloads(
        app, live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page
    seed(app)
    page.goto(f"{live_server}/dashboards")
    page.get_by_role("link", name="Nouveau tableau de bord").click()
    page.get_by_label("Titre").fill("Exécution du budget")
    page.get_by_label("Qui peut le voir").select_option("internal")
    page.get_by_role("button", name="Créer et ajouter des blocs").click()
    page.wait_for_url(re.compile(r".*/dashboards/[a-z0-9]+/modifier$"))
    editor_url = page.url
    grid = page.locator("[data-dashboard-grid]")
    add = page.locator("[data-add-form]")

    # a KPI with its target
    add.get_by_label("Type de bloc").select_option("kpi")
    add.get_by_label("Libellé du chiffre").fill("Taux d’exécution")
    add.locator("#kpi-dataset").select_option("budget")
    add.get_by_label("Calcul").select_option("ratio")
    add.get_by_label("Numérateur (rapport)").fill("realise")
    add.get_by_label("Dénominateur (rapport)").fill("credits_ouverts")
    add.get_by_label("Multiplié par (100 pour un pourcentage)").fill("100")
    add.get_by_label("Unité du chiffre").fill("%")
    add.get_by_label("Décimales affichées").fill("1")
    add.get_by_label("Lignes retenues (condition ODSQL, facultative)").fill('sens = "Dépense"')
    add.get_by_label("Colonne des périodes (année, date)").fill("exercice")
    add.get_by_label("Valeur visée").fill("99")
    add.get_by_label("Échéance").fill(TARGET_DATE)
    add.get_by_role("button", name="Ajouter le bloc").click()
    kpi = grid.locator("article.dash-kpi")
    expect(kpi).to_have_count(1)
    expect(kpi.locator(".figure")).to_have_text("92,2 %")   # (800 + 2150) / (1000 + 2200)
    # 6.8 points from 99, but up from 89.4 % in 2023: on track
    expect(kpi.locator(".kpi-status")).to_have_text("En bonne voie")

    # a target date in the past is refused, naming the field
    add.get_by_label("Échéance").fill("2001-01-01")
    add.get_by_role("button", name="Ajouter le bloc").click()
    expect(page.locator("[data-add-problem]")).to_contain_text("blocks.0.kpi.target.date")
    expect(grid.locator("article.dash-block")).to_have_count(1)

    # a text and a table, placed beside and below it
    add.get_by_label("Type de bloc").select_option("text")
    add.get_by_label("Titre du bloc (facultatif)").fill("Note")
    add.get_by_label("Texte en Markdown (le HTML n’est pas gardé)").fill("Le **réalisé** <script>x()</script>")
    add.get_by_role("button", name="Ajouter le bloc").click()
    text = grid.locator("article.dash-text")
    expect(text).to_have_count(1)
    expect(text.locator("strong")).to_have_text("réalisé")
    add.get_by_label("Type de bloc").select_option("table")
    add.get_by_label("Titre du bloc (facultatif)").fill("Lignes")
    add.locator("#table-dataset").select_option("budget")
    add.get_by_role("button", name="Ajouter le bloc").click()
    expect(grid.locator("article.dash-block")).to_have_count(3)
    assert place(text) == "grid-column: 5 / span 4; grid-row: 1 / span 2"

    # move with the buttons, then with the keyboard; resize with Shift + arrows
    text.get_by_role("button", name="Déplacer vers le bas").click()
    text.get_by_role("button", name="Déplacer vers le bas").click()
    status = page.locator("[data-editor-status]")
    expect(status).to_have_text("« Note » : colonne 5, ligne 3, 4 colonnes sur 12, 2 lignes de haut.")
    text.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    expect(status).to_have_text("« Note » : colonne 6, ligne 3, 6 colonnes sur 12, 3 lignes de haut.")
    expect(text).to_be_focused()
    # remove the table
    table = grid.locator("article.dash-table")
    table.get_by_role("button", name="Retirer le bloc").click()
    expect(grid.locator("article.dash-block")).to_have_count(2)
    expect(status).to_have_text("Bloc « Lignes » retiré ; il reste 2 blocs.")
    screenshot(page, "dashboard-editor")
    no_violations(page, "dashboard editor")

    page.get_by_role("button", name="Enregistrer le tableau de bord").click()
    expect(status).to_have_text("Tableau de bord enregistré.")
    page.goto(editor_url)
    expect(grid.locator("article.dash-block")).to_have_count(2)
    assert place(grid.locator("article.dash-text")) == "grid-column: 6 / span 6; grid-row: 3 / span 3"
    assert place(grid.locator("article.dash-kpi")) == "grid-column: 1 / span 4; grid-row: 1 / span 2"

    page.get_by_role("link", name="Voir la page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Exécution du budget")
    expect(page.locator(".kpi-status")).to_have_text("En bonne voie")
    assert page.locator("article.dash-text script").count() == 0
    page.get_by_text("Règle du statut").click()
    expect(page.locator(".kpi-rule p")).to_contain_text("Atteint quand la valeur est d’au moins 99,0 %")
    screenshot(page, "dashboard-page")
    no_violations(page, "dashboard page")


# --- the mouse, and blocks changed in place -------------------------------------------------

def make_dashboard(app, page: Page, base: str, blocks: list[dict]) -> str:  # type: ignore[no-untyped-def]
    """A dashboard of the city saved through the API (with a write key); its id."""
    response = page.request.post(f"{base}/api/dashboards", headers=admin_key(app.state.settings),
                                 data={"title": "Exécution du budget", "access": "internal",
                                       "organisation": "ville", "blocks": blocks})
    assert response.status == 201, response.text()
    return str(response.json()["id"])


def saved_blocks(page: Page, base: str, dashboard: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """The blocks of the dashboard as the API gives them now, by title."""
    response = page.request.get(f"{base}/api/dashboards/{dashboard}")
    assert response.ok, response.text()
    return {b.get("title") or b["kpi"]["label"]: b for b in response.json()["blocks"]}


def cell(page: Page, column: int, row: int) -> tuple[float, float]:
    """The centre of a cell of the editor's grid (0-based), in the viewport's pixels, from the
    grid's layout: twelve equal columns, rows as the browser sized them."""
    x, y = page.locator("[data-dashboard-grid]").evaluate("""(grid, [column, row]) => {
        const style = getComputedStyle(grid), box = grid.getBoundingClientRect();
        const gap = parseFloat(style.columnGap), rowGap = parseFloat(style.rowGap);
        const width = (box.width - 11 * gap) / 12;
        const rows = style.gridTemplateRows.split(' ').map(parseFloat);
        let top = box.top;
        for (let i = 0; i < row; i++) top += rows[i] + rowGap;
        return [box.left + column * (width + gap) + width / 2, top + rows[row] / 2];
    }""", [column, row])
    return float(x), float(y)


def title_bar(block) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """A point on a block's title, near its left end (in the block's first column)."""
    box = block.locator("h2").bounding_box()
    return box["x"] + 4, box["y"] + box["height"] / 2


def corner(block) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The middle of a block's resizing corner."""
    box = block.locator("[data-resize]").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, start: tuple[float, float], end: tuple[float, float], status: str) -> None:
    """Press at ``start``, move to ``end`` (the spot outlined and told as the pointer moves),
    release."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    expect(page.locator(".dash-placeholder")).to_be_visible()
    expect(page.locator("[data-editor-status]")).to_have_text(status)
    page.mouse.up()
    expect(page.locator(".dash-placeholder")).to_have_count(0)


def save(page: Page) -> None:
    page.get_by_role("button", name="Enregistrer le tableau de bord").click()
    expect(page.locator("[data-editor-status]")).to_have_text("Tableau de bord enregistré.")


def test_blocks_dragged_by_their_title_and_their_corner_are_saved_where_they_were_dropped(
        app, live_server: str, member_page) -> None:  # type: ignore[no-untyped-def]
    page = member_page
    seed(app)
    dashboard = make_dashboard(app, page, live_server, [
        {"kind": "text", "title": "Note", "text": "Le **réalisé**", "x": 0, "y": 0, "w": 4, "h": 2},
        {"kind": "kpi", "x": 4, "y": 0, "w": 4, "h": 2,
         "kpi": {"label": "Réalisé", "dataset": "budget", "measure": "sum", "field": "realise"}},
        {"kind": "text", "title": "Plus bas", "text": "En dessous", "x": 0, "y": 2, "w": 4, "h": 2},
    ])
    page.set_viewport_size({"width": 1280, "height": 1600})   # the whole grid in view
    page.goto(f"{live_server}/dashboards/{dashboard}/modifier")
    grid = page.locator("[data-dashboard-grid]")
    note, kpi, below = (grid.locator("article").filter(has=page.get_by_role("heading", name=t, exact=True))
                        for t in ("Note", "Réalisé", "Plus bas"))
    status = page.locator("[data-editor-status]")

    # by its title bar, to a free spot: column 9, row 1
    drag(page, title_bar(note), cell(page, 8, 0),
         "« Note » : colonne 9, ligne 1, 4 colonnes sur 12, 2 lignes de haut.")
    assert place(note) == "grid-column: 9 / span 4; grid-row: 1 / span 2"
    expect(note).to_be_focused()

    # by its corner: three columns wide, three rows high
    drag(page, corner(note), cell(page, 10, 2),
         "« Note » : colonne 9, ligne 1, 3 colonnes sur 12, 3 lignes de haut.")
    assert place(note) == "grid-column: 9 / span 3; grid-row: 1 / span 3"

    # onto another block, which goes down under it
    drag(page, title_bar(kpi), cell(page, 0, 2),
         "« Réalisé » : colonne 1, ligne 3, 4 colonnes sur 12, 2 lignes de haut.")
    assert place(kpi) == "grid-column: 1 / span 4; grid-row: 3 / span 2"
    assert place(below) == "grid-column: 1 / span 4; grid-row: 5 / span 2"

    # Escape gives a drag up: the block stays where it was
    page.mouse.move(*title_bar(kpi))
    page.mouse.down()
    page.mouse.move(*cell(page, 6, 0), steps=8)
    expect(page.locator(".dash-placeholder")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator(".dash-placeholder")).to_have_count(0)
    page.mouse.up()
    expect(status).to_have_text("« Réalisé » : colonne 1, ligne 3, 4 colonnes sur 12, 2 lignes de haut.")
    assert place(kpi) == "grid-column: 1 / span 4; grid-row: 3 / span 2"

    save(page)
    blocks = saved_blocks(page, live_server, dashboard)
    assert {name: (b["x"], b["y"], b["w"], b["h"]) for name, b in blocks.items()} == {
        "Note": (8, 0, 3, 3), "Réalisé": (0, 2, 4, 2), "Plus bas": (0, 4, 4, 2)}


def test_a_block_changed_in_place_is_redrawn_and_saved_where_it_was(
        app, live_server: str, member_page) -> None:  # type: ignore[no-untyped-def]
    page = member_page
    seed(app)
    dashboard = make_dashboard(app, page, live_server, [
        {"kind": "text", "title": "Note", "text": "Le **réalisé**", "x": 0, "y": 0, "w": 5, "h": 2},
        {"kind": "kpi", "x": 5, "y": 0, "w": 4, "h": 2,
         "kpi": {"label": "Réalisé", "dataset": "budget", "measure": "sum", "field": "realise",
                 "unit": "€", "period_field": "exercice",
                 "target": {"value": 5000, "date": TARGET_DATE, "direction": "up"}}},
    ])
    # the target's date has passed since the dashboard was saved: it is kept as it is
    with app.state.sessions() as session:
        saved = session.get(Dashboard, dashboard)
        blocks = [dict(b) for b in saved.blocks]
        blocks[1]["kpi"] = {**blocks[1]["kpi"], "target": {**blocks[1]["kpi"]["target"],
                                                           "date": "2020-12-31"}}
        saved.blocks = blocks
        session.commit()
    kpi_id = blocks[1]["id"]
    page.goto(f"{live_server}/dashboards/{dashboard}/modifier")
    grid = page.locator("[data-dashboard-grid]")
    add = page.locator("[data-add-form]")
    status = page.locator("[data-editor-status]")
    kpi = grid.locator("article.dash-kpi")

    kpi.get_by_role("button", name="Modifier").click()
    expect(page.locator("#add-title")).to_have_text("Modifier le bloc « Réalisé »")
    expect(add.get_by_label("Type de bloc")).to_have_value("kpi")
    expect(add.get_by_label("Libellé du chiffre")).to_have_value("Réalisé")
    expect(add.get_by_label("Calcul")).to_have_value("sum")
    expect(add.get_by_label("Colonne (somme, moyenne)")).to_have_value("realise")
    expect(add.get_by_label("Unité du chiffre")).to_have_value("€")
    expect(add.get_by_label("Échéance")).to_have_value("2020-12-31")
    expect(add.get_by_label("Largeur du bloc")).to_have_value("4")
    no_violations(page, "dashboard editor, a block in the form")
    add.get_by_label("Libellé du chiffre").fill("Réalisé total")
    add.get_by_role("button", name="Mettre à jour le bloc").click()
    expect(status).to_have_text("Bloc « Réalisé total » mis à jour en colonne 6, ligne 1.")
    expect(kpi.locator("h2")).to_have_text("Réalisé total")
    assert place(kpi) == "grid-column: 6 / span 4; grid-row: 1 / span 2"
    expect(page.locator("#add-title")).to_have_text("Ajouter un bloc")
    expect(add.get_by_role("button", name="Ajouter le bloc")).to_be_visible()

    # a change given up leaves the block as it is
    text = grid.locator("article.dash-text")
    text.get_by_role("button", name="Modifier").click()
    expect(add.get_by_label("Texte en Markdown (le HTML n’est pas gardé)")).to_have_value("Le **réalisé**")
    add.get_by_role("button", name="Annuler la modification").click()
    expect(status).to_have_text("Modification de « Note » annulée.")
    expect(page.locator("#add-title")).to_have_text("Ajouter un bloc")

    text.get_by_role("button", name="Modifier").click()
    expect(add.get_by_label("Largeur du bloc")).to_have_value("5")   # not one of the list's widths
    add.get_by_label("Texte en Markdown (le HTML n’est pas gardé)").fill("Le **prévu**")
    add.get_by_role("button", name="Mettre à jour le bloc").click()
    expect(status).to_have_text("Bloc « Note » mis à jour en colonne 1, ligne 1.")
    expect(text.locator("strong")).to_have_text("prévu")
    assert place(text) == "grid-column: 1 / span 5; grid-row: 1 / span 2"

    save(page)
    blocks = saved_blocks(page, live_server, dashboard)
    assert set(blocks) == {"Note", "Réalisé total"}
    changed = blocks["Réalisé total"]
    assert (changed["id"], changed["x"], changed["y"], changed["w"], changed["h"]) == (kpi_id, 5, 0, 4, 2)
    assert changed["kpi"]["target"]["date"] == "2020-12-31"
    assert changed["kpi"]["unit"] == "€"
    assert (blocks["Note"]["text"], blocks["Note"]["x"], blocks["Note"]["y"]) == ("Le **prévu**", 0, 0)

    # the drawing route says which part of its body does not fit
    preview = f"{live_server}/dashboards/blocs/apercu"
    note = {"kind": "text", "text": "x"}
    headers = {**admin_key(app.state.settings), "Accept": "application/json"}
    answer = page.request.post(preview, headers=headers, data={"block": note, "dashboard": 5})
    assert answer.status == 422 and answer.json()["message"].startswith("dashboard:"), answer.text()
    answer = page.request.post(preview, headers=headers, data={"block": note, "dashboard": "nulpart"})
    assert answer.status == 404, answer.text()
