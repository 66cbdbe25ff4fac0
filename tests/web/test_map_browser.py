"""The observatory in Debian's headless Chromium: an analyst maps an indicator, changes level
and classification, crosses two indicators (scatter plot linked to the map), saves a scenario
and finds the same view from its permalink in a fresh browser; the embed mode; the portrait.
Screenshots are kept under test-artifacts/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from browser_testing import axe_violations  # type: ignore[import-not-found]
from http_testing import session_token  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser

RATE = "demandeurs-pour-100-actifs"      # has secret IRIS
OTHER = "taux-non-recours-c2s"
READY = "[data-observatory][data-ready='1']"


# --- the demo portal, built once per session and copied for each module ---------------------

@pytest.fixture(scope="module")
def home(demo_home: Path) -> Path:
    return demo_home


@pytest.fixture(scope="module")
def demo_app(home: Path) -> FastAPI:
    """The demo portal (the browser on this machine may edit, as the local editor)."""
    return create_app(Settings(home=home, duckdb_memory_limit="512MB"))


@pytest.fixture(scope="module")
def tram_app(home: Path, fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """A copy of the demo portal with a published dataset of tram lines (in Lyon)."""
    import shutil

    from mutuelle.catalog import repository as repo
    from mutuelle.ingest.service import import_file

    copy = tmp_path_factory.mktemp("tram") / "home"
    shutil.copytree(home, copy)
    app = create_app(Settings(home=copy, duckdb_memory_limit="512MB"))
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Transports", slug="transports")
        dataset = repo.create_dataset(session, organisation=org, title="Lignes de tramway",
                                      slug="tramways")
        session.commit()
        import_file(session, app.state.settings, dataset,
                    fixtures_dir / "awkward" / "tram_lines.geojson")
        repo.publish_dataset(session, dataset)
        session.commit()
    return app


@pytest.fixture
def app(demo_app: FastAPI, home: Path, request: pytest.FixtureRequest) -> FastAPI:
    """``live_server`` serves the demo portal; parametrized (indirect): with that many rows
    per page of the table of values, or ``"tram"``: with a dataset of tram lines."""
    param = getattr(request, "param", None)
    if param is None:
        return demo_app
    if param == "tram":
        return request.getfixturevalue("tram_app")  # type: ignore[no-any-return]
    return create_app(Settings(home=home, duckdb_memory_limit="512MB", table_rows=param))


def _hex(color: dict[str, float]) -> str:
    """A MapLibre colour (r, g, b in 0..1) as #rrggbb."""
    return "#" + "".join(f"{round(color[k] * 255):02x}" for k in ("r", "g", "b"))


def csrf_header(page, live_server: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The CSRF header a script of the portal sends with its calls (the page's meta token)."""
    page.goto(live_server + "/observatoire")
    return {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content") or ""}


def wait_drawn(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the map has its data and tiles drawn (map.js marks the map then)."""
    page.wait_for_selector(READY, timeout=30_000)


def rendered(page) -> int:  # type: ignore[no-untyped-def]
    """Territory pieces the map draws (tiles loaded, style applied)."""
    return int(page.evaluate(
        "window.observatory.map.queryRenderedFeatures({layers: ['territory-fill']}).length"))


def legend_classes(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.locator(".obs-legend .legend-list li .swatch:not(.swatch-secret):not(.swatch-no-data)").count())


def map_view(page) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    center = page.evaluate("(() => { const c = window.observatory.map.getCenter(); return [c.lng, c.lat]; })()")
    return center[0], center[1], float(page.evaluate("window.observatory.map.getZoom()"))


def test_an_analyst_maps_an_indicator_then_changes_level_and_classification(
        live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/observatoire")
    assert page.get_by_role("heading", level=1).inner_text() == "Carte des indicateurs"
    wait_drawn(page)
    assert rendered(page) > 100
    screenshot(page, "observatory-map-default")

    page.get_by_label("Indicateur", exact=True).select_option(RATE)
    wait_drawn(page)
    assert "Demandeurs d'emploi pour 100 actifs" in page.locator(".obs-legend").inner_text()
    assert f"indicator={RATE}" in page.url
    # secret IRIS are hatched and greyed, from the tiles' own status; classes fill the others
    # with the legend's colours
    secret = page.evaluate("""window.observatory.map.queryRenderedFeatures({layers: ['territory-secret']})
        .map((f) => f.properties.status)""")
    assert secret and set(secret) == {"secret"}, "secret IRIS are hatched"
    coloured = page.evaluate("""(() => {
        const v = window.observatory.data.choropleth;
        const fill = window.observatory.map.getLayer('territory-fill');
        return window.observatory.map.queryRenderedFeatures({layers: ['territory-fill']}).slice(0, 200)
          .map((f) => ({status: f.properties.status, value: f.properties.value,
                        color: f.layer.paint['fill-color'], breaks: v.breaks, colors: v.colors}));
    })()""")
    swatches = page.locator(".obs-legend .legend-list li .swatch:not(.swatch-secret):not(.swatch-no-data)")
    assert coloured and swatches.count() == len(coloured[0]["colors"])
    for f in coloured:
        rgb = f["color"]
        if f["status"] == "secret":
            assert _hex(rgb) == "#8c8c8c"
        elif f["status"] == "ok":
            breaks, colors = f["breaks"], f["colors"]
            k = max(0, min(sum(1 for b in breaks if b <= f["value"]) - 1, len(colors) - 1))
            assert _hex(rgb) == colors[k].lower(), f
    assert page.locator(".obs-legend").get_by_text("Secret statistique").count() == 1

    page.get_by_label("Découpage").select_option("commune")
    wait_drawn(page)
    assert page.locator(".obs-table tbody tr").count() == 8
    assert rendered(page) >= 8
    page.get_by_label("Méthode de classement").select_option("jenks")
    wait_drawn(page)
    page.get_by_label("Nombre de classes").select_option("4")
    wait_drawn(page)
    assert legend_classes(page) == 4
    assert "Seuils naturels (Jenks)" in page.locator(".obs-legend").inner_text()
    assert re.search(r"method=jenks.*classes=4|classes=4.*method=jenks", page.url)

    # the tooltip gives the value, the rank and the comparison with the parent (ranks and
    # parents arrive once the map is drawn)
    page.wait_for_selector("[data-observatory][data-details='1']", timeout=30_000)
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = page.locator(".obs-popup")
    popup.wait_for()
    assert re.search(r"rang \d+ sur \d+", popup.inner_text())
    screenshot(page, "observatory-map-communes-jenks")

    page.get_by_label("Méthode de classement").select_option("manual")
    assert page.get_by_label("Seuils choisis").is_visible()
    page.get_by_label("Seuils choisis").fill("6;9;12")
    page.get_by_label("Seuils choisis").press("Tab")
    wait_drawn(page)
    legend = page.locator(".obs-legend").inner_text()
    assert "de 6 à moins de 9" in legend and "de 9 à moins de 12" in legend


def test_two_crossed_indicators_show_a_scatter_plot_linked_to_the_map(
        live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"{live_server}/observatoire?indicator={RATE}")
    wait_drawn(page)
    page.get_by_label("Croiser avec un second indicateur").select_option(OTHER)
    wait_drawn(page)
    scatter = page.locator("#scatter")
    scatter.locator("svg").wait_for()
    assert int(scatter.get_attribute("data-points")) > 100
    assert re.search(r"r = -?\d,\d\d", page.locator(".correlation").inner_text())
    assert page.locator(".bivariate-grid .bivariate-cell").count() == 9
    screenshot(page, "observatory-bivariate-scatter")

    # a point chosen in the scatter plot is outlined on the map and in the table
    scatter.locator(".mark-symbol path").first.click()
    chosen = page.locator("[data-observatory]").get_attribute("data-selected")
    assert chosen
    assert page.evaluate("window.observatory.map.getFilter('territory-selected')[2]") == chosen
    assert page.locator(f'tr[data-code="{chosen}"]').get_attribute("class") == "current"
    assert scatter.get_attribute("data-highlighted") == chosen

    # and a territory clicked on the map is highlighted in the scatter plot
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    for share in (0.3, 0.7, 0.5):
        page.mouse.click(box["x"] + box["width"] * share, box["y"] + box["height"] * 0.5)
        clicked = page.locator("[data-observatory]").get_attribute("data-selected")
        if clicked and clicked != chosen:
            break
    assert clicked and clicked != chosen
    assert scatter.get_attribute("data-highlighted") == clicked
    assert page.locator(f'tr[data-code="{clicked}"]').get_attribute("class") == "current"
    assert page.locator("tr.current").count() == 1
    screenshot(page, "observatory-bivariate-selected")


def test_a_saved_scenario_reopens_the_same_view_in_a_fresh_browser(
        app, live_server: str, browser, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{live_server}/observatoire?indicator={RATE}&level=iris")
    wait_drawn(page)
    page.get_by_label("Méthode de classement").select_option("jenks")
    page.get_by_label("Nombre de classes").select_option("6")
    page.get_by_label("Palette de couleurs").select_option("YlGnBu")
    wait_drawn(page)
    # the analyst zooms in with the wheel and pans by dragging
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45)
    page.mouse.wheel(0, -600)
    page.wait_for_function("!window.observatory.map.isMoving() && window.observatory.map.getZoom() > 11.5")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    page.wait_for_function("!window.observatory.map.isMoving()")
    before = map_view(page)

    page.get_by_label("Titre du scénario").fill("Demandeurs d'emploi, seuils naturels")
    page.get_by_label("Commentaire").fill("Le centre et l'est se détachent.")
    page.get_by_role("button", name="Enregistrer le scénario").click()
    page.wait_for_url(re.compile(r".*/s/[0-9a-z]{8}\?saved=1$"))
    permalink = page.get_by_label("Lien permanent").input_value()
    assert re.fullmatch(rf"{re.escape(live_server)}/s/[0-9a-z]{{8}}", permalink)
    assert "<iframe" in page.get_by_label("Code d’intégration (à coller dans une page web)").input_value()
    screenshot(page, "observatory-scenario-saved")

    # a colleague opens the link in another browser (signed in: the data are restricted)
    fresh = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 800})
    fresh.add_cookies([{"name": "mutuelle_session", "url": live_server,
                        "value": session_token(app.state.settings)}])
    try:
        other = fresh.new_page()
        other.goto(permalink)
        wait_drawn(other)
        assert other.get_by_role("heading", level=1).inner_text() == "Demandeurs d'emploi, seuils naturels"
        assert other.get_by_label("Indicateur", exact=True).input_value() == RATE
        assert other.get_by_label("Découpage").input_value() == "iris"
        assert other.get_by_label("Méthode de classement").input_value() == "jenks"
        assert other.get_by_label("Nombre de classes").input_value() == "6"
        assert other.get_by_label("Palette de couleurs").input_value() == "YlGnBu"
        assert legend_classes(other) == 6
        after = map_view(other)
        assert after[0] == pytest.approx(before[0], abs=1e-5)
        assert after[1] == pytest.approx(before[1], abs=1e-5)
        assert after[2] == pytest.approx(before[2], abs=1e-3)
        assert rendered(other) > 10
        screenshot(other, "observatory-scenario-permalink")
    finally:
        fresh.close()


def test_the_embed_mode_draws_the_map_without_the_site_chrome(
        live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    state: dict[str, Any] = {"indicator": RATE, "indicator2": OTHER, "level": "iris"}
    response = page.request.post(live_server + "/api/scenarios",
                                 data=json.dumps({"title": "Croisement intégré", "state": state}),
                                 headers={"Content-Type": "application/json", **csrf_header(page, live_server)})
    assert response.status == 201
    scenario = response.json()
    page.set_viewport_size({"width": 800, "height": 600})
    page.goto(scenario["embed_url"])
    wait_drawn(page)
    assert page.locator(".site-header").count() == 0 and page.locator("#map-form").count() == 0
    assert rendered(page) > 100
    assert page.locator(".bivariate-grid").count() == 1
    screenshot(page, "observatory-embed")
    page.goto(live_server + "/s/zzzzzzzz/embed")
    assert page.get_by_role("heading", level=1).inner_text() == "Scénario introuvable"


def test_a_resident_finds_a_neighbourhood_and_reads_its_portrait(
        live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1300, "height": 1000})
    page.goto(live_server + "/territoires")
    page.get_by_label("Nom ou code du territoire").fill("vignes")
    page.get_by_role("button", name="Chercher").click()
    page.get_by_role("link", name="Les Vignes 1").click()
    page.wait_for_url("**/territoires/iris/*")
    assert page.get_by_role("heading", level=1).inner_text() == "Les Vignes 1"
    charts = page.locator("[data-bars]")
    count = charts.count()
    assert count >= 10
    page.wait_for_function(f"document.querySelectorAll('[data-bars][data-drawn]').length === {count}")
    assert page.locator("[data-bars] svg").count() == count
    assert page.locator(".portrait-table").count() >= count
    assert page.get_by_text(re.compile(r"Plus (élevé|faible) que dans \d+ % des IRIS")).count() >= 5
    screenshot(page, "observatory-portrait")


def test_the_observatory_pages_pass_axe_accessibility_checks(
        live_server: str, member_page) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    response = page.request.post(live_server + "/api/scenarios", data=json.dumps(
        {"title": "Accessibilité", "state": {"indicator": RATE}}),
        headers={"Content-Type": "application/json", **csrf_header(page, live_server)})
    sid = response.json()["id"]
    problems = {}
    for path in (f"/observatoire?indicator={RATE}", f"/observatoire?indicator={RATE}&indicator2={OTHER}",
                 f"/s/{sid}", f"/s/{sid}/embed", "/scenarios", "/territoires?q=vignes",
                 "/territoires/iris/961720701", "/s/zzzzzzzz", "/observatoire?lang=en"):
        page.goto(live_server + path)
        if page.locator("[data-observatory]").count():
            wait_drawn(page)
        violations = axe_violations(page)
        if violations:
            problems[path] = violations
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


def test_points_layers_and_proportional_symbols_are_drawn_over_the_map(
        live_server: str, member_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/observatoire?indicator=demandeurs-emploi")
    wait_drawn(page)
    page.get_by_label("Établissements scolaires (synthétique)").check()
    page.wait_for_url(re.compile(r".*points=etablissements-scolaires.*"))
    wait_drawn(page)
    page.wait_for_function("""window.observatory.map.getLayer('points-etablissements-scolaires')
        && window.observatory.map.queryRenderedFeatures({layers: ['points-etablissements-scolaires']}).length > 0""",
                           timeout=30_000)
    layer = page.evaluate("window.observatory.map.getLayer('points-etablissements-scolaires').type")
    assert layer == "circle"
    # above the choropleth
    order = page.evaluate("window.observatory.map.getStyle().layers.map((l) => l.id)")
    assert order.index("points-etablissements-scolaires") > order.index("territory-fill")

    page.get_by_label("Symboles proportionnels").check()
    wait_drawn(page)
    page.wait_for_function("""window.observatory.map.getLayer('symbols')
        && window.observatory.map.queryRenderedFeatures({layers: ['symbols']}).length > 0""", timeout=30_000)
    order = page.evaluate("window.observatory.map.getStyle().layers.map((l) => l.id)")
    assert order.index("territory-fill") < order.index("symbols") < order.index("points-etablissements-scolaires")
    assert "proportional=1" in page.url
    # the size legend came with the panel, and the map draws each value with the legend's radius
    legend = page.locator("[data-size-legend] circle")
    assert legend.count() >= 2 and page.locator("[data-size-legend]").is_visible()
    largest = page.evaluate("window.observatory.data.symbols.max")
    drawn = page.evaluate("""window.observatory.map.queryRenderedFeatures({layers: ['symbols']})
        .map((f) => [Number(f.properties.value), f.layer.paint['circle-radius']])""")
    top_value = float(legend.first.get_attribute("data-value"))
    top_radius = float(legend.first.get_attribute("r"))
    for value, radius in drawn:
        assert radius == pytest.approx(max(1.5, top_radius * (value / top_value) ** 0.5), abs=0.02)
    assert any(value == largest for value, _ in drawn)
    screenshot(page, "observatory-points-and-symbols")

    # the layers survive a reload (they are in the address)
    page.reload()
    wait_drawn(page)
    assert page.get_by_label("Établissements scolaires (synthétique)").is_checked()
    page.wait_for_function("""window.observatory.map.getLayer('points-etablissements-scolaires')
        && window.observatory.map.getLayer('symbols')""", timeout=30_000)

    # a ratio: no proportional option
    page.get_by_label("Indicateur", exact=True).select_option(RATE)
    wait_drawn(page)
    assert not page.get_by_label("Symboles proportionnels").is_visible()
    assert page.evaluate("!window.observatory.map.getLayer('symbols')")


@pytest.mark.parametrize("app", ["tram"], indirect=True)
def test_a_dataset_of_lines_is_drawn_as_a_line_layer_with_tooltips(
        live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/observatoire?center=4.86,45.74&zoom=12.5")
    wait_drawn(page)
    page.get_by_label("Lignes de tramway").check()
    page.wait_for_url(re.compile(r".*points=tramways.*"))
    page.wait_for_function("""window.observatory.map.getLayer('lines-tramways')
        && window.observatory.map.queryRenderedFeatures({layers: ['lines-tramways']}).length >= 4""",
                           timeout=30_000)
    assert page.evaluate("window.observatory.map.getLayer('lines-tramways').type") == "line"
    # no circle nor fill for a dataset of lines; drawn above the choropleth
    assert page.evaluate("""['points-tramways', 'fills-tramways', 'outlines-tramways']
        .every((id) => !window.observatory.map.getLayer(id))""")
    order = page.evaluate("window.observatory.map.getStyle().layers.map((l) => l.id)")
    assert order.index("lines-tramways") > order.index("territory-fill")
    drawn = page.evaluate("""window.observatory.map.queryRenderedFeatures({layers: ['lines-tramways']})
        .map((f) => [f.properties.ligne, f.geometry.type])""")
    assert {name for name, _ in drawn} == {"T1", "T2", "T4", "T6"}
    assert {kind for _, kind in drawn} <= {"LineString", "MultiLineString"}
    screenshot(page, "observatory-lines")

    # a line's tooltip names it (a vertex of T2 in the file)
    canvas = page.locator("#map canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = page.evaluate("Object.values(window.observatory.map.project([4.860089, 45.738462]))")
    page.mouse.move(box["x"] + x, box["y"] + y)
    popup = page.locator(".obs-popup")
    popup.wait_for(timeout=10_000)
    assert "T2" in popup.inner_text() and "Lignes de tramway" in popup.inner_text()


def test_a_dataset_of_polygons_is_drawn_as_a_fill_and_an_outline(
        live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(live_server + "/observatoire?points=communes-val-sauvage")
    wait_drawn(page)
    page.wait_for_function("""['fills-communes-val-sauvage', 'outlines-communes-val-sauvage']
        .every((id) => window.observatory.map.getLayer(id)
                       && window.observatory.map.queryRenderedFeatures({layers: [id]}).length > 0)""",
                           timeout=30_000)
    kinds = page.evaluate("""['fills', 'outlines', 'lines', 'points']
        .map((k) => window.observatory.map.getLayer(`${k}-communes-val-sauvage`)?.type ?? null)""")
    assert kinds == ["fill", "line", None, None]


@pytest.mark.parametrize("app", [100], indirect=True)
def test_the_table_of_values_turns_its_pages_without_drawing_the_map_again(
        live_server: str, member_page) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # a signed-in analyst: the demo's jobseekers data are restricted
    page.goto(live_server + f"/observatoire?indicator={RATE}&level=iris")
    wait_drawn(page)
    rows = page.locator(".obs-table tbody tr")
    assert rows.count() == 100
    first = rows.first.get_attribute("data-code")
    page.evaluate("window.__same_page = true")
    page.get_by_role("link", name="Page suivante →").click()
    page.wait_for_function(f"document.querySelector('.obs-table tbody tr').dataset.code !== '{first}'")
    assert "page=2" in page.url and "Territoires 101 à 200 sur 267" in page.locator(".obs-table").inner_text()
    assert page.evaluate("window.__same_page === true"), "the page was not reloaded"
    assert page.get_by_role("link", name="← Page précédente").is_visible()
    # the address keeps the page: reloading it shows the same rows
    second = rows.first.get_attribute("data-code")
    page.reload()
    wait_drawn(page)
    assert rows.first.get_attribute("data-code") == second
    # another view starts again at the first page
    page.get_by_label("Nombre de classes").select_option("4")
    wait_drawn(page)
    assert "page=" not in page.url
    assert rows.first.get_attribute("data-code") == first
