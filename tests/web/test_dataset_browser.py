"""The dataset page in Debian's headless Chromium: tabs switched in place with the keyboard,
the table sorted, filtered and paged without reloading the page, the map library fetched only
when the Map tab is shown, popups, metadata edited in place, the table embedded in a page of
another origin, and axe-core on every tab. Screenshots are kept under test-artifacts/."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from playwright.sync_api import expect

from mutuelle.catalog import repository as repo
from mutuelle.core.errors import NotFound
from mutuelle.ingest.service import import_file

from browser_testing import axe_violations  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser


def seed(app: Any, path: Path, title: str, **metadata: Any) -> str:
    """A published dataset holding ``path``; returns its slug."""
    with app.state.sessions() as session:
        try:
            org = repo.get_organisation(session, "lyon")
        except NotFound:
            org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        dataset = repo.create_dataset(session, organisation=org, title=title, **metadata)
        session.commit()
        import_file(session, app.state.settings, dataset, path, source_name=path.name)
        repo.publish_dataset(session, dataset)
        session.commit()
        return dataset.slug


def first_column(page: Any, name: str) -> list[str]:
    """The cells of one column of the data table, top to bottom."""
    return page.evaluate("""(name) => {
        const table = document.querySelector('table.data-table');
        const heads = [...table.querySelectorAll('thead th')].map((th) => th.dataset.column || th.innerText);
        const i = heads.findIndex((h) => h.startsWith(name));
        return [...table.querySelectorAll('tbody tr')].map((tr) => tr.children[i].innerText.trim());
    }""", name)


def test_a_visitor_works_the_table_in_place_and_switches_tabs_with_the_keyboard(
        app: Any, live_server: str, page: Any, fixtures_dir: Path, screenshot: Any) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget primitif",
                description="Le budget **voté**.")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/datasets/{slug}")
    page.wait_for_selector("[data-dataset-tabs][data-ready='1']")
    if page.evaluate("typeof window.htmx") == "undefined":
        pytest.fail("htmx is not served: run scripts/build-assets.sh")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    table = page.get_by_role("table", name="Les 20 premières lignes sur 40")
    expect(table.locator("tbody tr")).to_have_count(20)
    screenshot(page, "dataset-table")

    # sorting by a column header: the server's order, the address kept, no reload
    page.get_by_role("columnheader", name="Montant prévu (€)").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*_sort=Montant.*"))
    expect(page.locator("th[aria-sort='ascending']")).to_have_count(1)
    amounts = [float(v.replace("\u202f", "").replace(",", ".")) for v in first_column(page, "Montant prévu")]
    assert amounts == sorted(amounts)
    # filtering on values and a number range
    page.get_by_text("Filtrer", exact=True).click()
    page.get_by_role("group", name="Valeurs de Chapitre").get_by_label(re.compile(r"^011 ")).check()
    page.get_by_role("group", name="Valeurs de Chapitre").get_by_label(re.compile(r"^012 ")).check()
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url(re.compile(r".*Chapitre__in=011.*"))
    assert set(first_column(page, "Chapitre")) == {"011", "012"}
    assert "correspond" in page.locator(".table-summary").inner_text()
    # the API tab follows the table (swapped out of band)
    assert '`Chapitre` in ("011", "012")' in unquote_plus(page.locator("#api-url").input_value())
    page.get_by_role("link", name=re.compile(r"Chapitre = 011")).click()   # remove one filter
    page.wait_for_url(lambda url: "011" not in url)
    assert set(first_column(page, "Chapitre")) == {"012"}
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "dataset-table-filtered")

    # tabs: a click, then the arrow keys (the WAI-ARIA tabs pattern)
    page.get_by_role("tab", name="Informations").click()
    expect(page.get_by_role("tabpanel", name="Informations")).to_be_visible()
    assert "tab=information" in page.url
    expect(page.get_by_role("table", name=re.compile("champs de la version 1"))).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Tableau")).to_be_focused()
    expect(page.get_by_role("tab", name="Tableau")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Export")).to_be_focused()
    expect(page.get_by_role("tabpanel", name="Export")).to_be_visible()
    screenshot(page, "dataset-export")
    page.get_by_role("tab", name="API").click()
    code = page.locator("#api-python").inner_text()
    assert "requests.get(" in code and r'"where": "`Chapitre` in (\"012\")"' in code
    assert page.evaluate("window.sameDocument") is True
    # paging: the last page by its link
    page.get_by_role("tab", name="Tableau").click()
    page.get_by_role("link", name="Retirer tous les filtres").click()
    page.wait_for_url(lambda url: "Chapitre" not in url)
    page.get_by_role("link", name="Dernière page").click()
    expect(page.get_by_role("table", name="Lignes 21 à 40 sur 40")).to_be_visible()


def test_the_map_library_is_fetched_only_when_the_map_is_shown(
        app: Any, live_server: str, page: Any, fixtures_dir: Path, screenshot: Any) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/datasets/{slug}")
    page.wait_for_selector("[data-dataset-tabs][data-ready='1']")
    assert not [u for u in fetched if "maplibre" in u]
    page.get_by_role("tab", name="Carte").click()
    page.wait_for_selector("[data-dataset-map][data-ready='1']", timeout=30_000)
    assert [u for u in fetched if "maplibre-gl.mjs" in u]
    drawn = page.evaluate("window.datasetMap.queryRenderedFeatures({layers: ['dataset-points']}).length")
    assert drawn > 0
    # a point's popup reads its values; a cluster zooms in
    point = page.evaluate("""(() => {
        const f = window.datasetMap.queryRenderedFeatures({layers: ['dataset-points']})
            .find((f) => f.properties.point_count === undefined);
        return f ? window.datasetMap.project(f.geometry.coordinates) : null; })()""")
    if point is None:  # every point in a cluster: zoom in past the clusters
        page.evaluate("""new Promise((done) => { window.datasetMap.once('idle', done);
            window.datasetMap.jumpTo({zoom: 16, center: [4.899853, 45.79906]}); })""")
        point = page.evaluate("window.datasetMap.project([4.899853, 45.79906])")
    box = page.locator("#dataset-map canvas").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    popup = page.locator(".dataset-popup")
    popup.wait_for(timeout=10_000)
    assert "Écoles" in popup.inner_text() and "type" in popup.inner_text()
    screenshot(page, "dataset-map")


def test_a_dense_point_dataset_is_clustered_by_the_server_and_a_cluster_zooms_in(
        app: Any, live_server: str, page: Any, tmp_path: Path) -> None:
    import random

    rng = random.Random(15)  # 25,000 points around Lyon: more than the browser clusters
    rows = [f"Point {i};{45.70 + rng.random() * 0.15:.6f};{4.75 + rng.random() * 0.2:.6f}"
            for i in range(25_000)]
    source = tmp_path / "points_denses.csv"
    source.write_text("nom;latitude;longitude\n" + "\n".join(rows) + "\n", encoding="utf-8")
    slug = seed(app, source, "Points denses")
    tiles: list[str] = []
    page.on("request", lambda request: tiles.append(request.url) if ".mvt" in request.url else None)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/datasets/{slug}?tab=map")
    page.wait_for_selector("[data-dataset-map][data-ready='1']", timeout=30_000)
    assert tiles and all("cluster=32" in url for url in tiles)
    counts = page.evaluate("""window.datasetMap.queryRenderedFeatures({layers: ['dataset-points']})
        .map((f) => Number(f.properties.count))""")
    assert counts and max(counts) > 1 and len(counts) < 25_000
    before = page.evaluate("window.datasetMap.getZoom()")
    where = page.evaluate("""(() => {
        const f = window.datasetMap.queryRenderedFeatures({layers: ['dataset-points']})
            .sort((a, b) => Number(b.properties.count) - Number(a.properties.count))[0];
        return window.datasetMap.project(f.geometry.coordinates); })()""")
    box = page.locator("#dataset-map canvas").bounding_box()
    page.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    page.wait_for_function(f"window.datasetMap.getZoom() >= {before} + 1.9", timeout=10_000)
    assert page.locator(".dataset-popup").count() == 0


def test_polygons_are_coloured_by_a_field_from_the_vector_tiles(
        app: Any, live_server: str, page: Any, fixtures_dir: Path, screenshot: Any) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "iris_lambert93.gpkg", "IRIS de Lyon")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/datasets/{slug}?tab=map&_color=NOM_IRIS")
    page.wait_for_selector("[data-dataset-map][data-ready='1']", timeout=30_000)
    fills = page.evaluate("""window.datasetMap.queryRenderedFeatures({layers: ['dataset-fill']})
        .map((f) => f.properties.NOM_IRIS)""")
    assert len(set(fills)) > 1
    assert page.locator(".map-legend li").count() >= 3
    screenshot(page, "dataset-map-polygons")


def test_an_editor_edits_the_information_in_place(
        app: Any, live_server: str, member_page: Any, fixtures_dir: Path) -> None:
    page = member_page
    slug = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget primitif")
    page.goto(f"{live_server}/datasets/{slug}?tab=information")
    info = page.get_by_role("tabpanel", name="Informations")
    info.get_by_text("Modifier les informations").click()
    info.get_by_label("Titre").fill("Budget primitif 2021")
    info.get_by_role("textbox", name="Description").fill("Le budget **voté** en conseil.")
    info.get_by_label("Fréquence de mise à jour").select_option("annual")
    info.get_by_role("button", name="Enregistrer les informations").click()
    page.wait_for_url(re.compile(r".*saved=1.*"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Budget primitif 2021")
    expect(page.get_by_role("tabpanel", name="Informations")).to_contain_text("annuelle")
    assert page.locator(".prose strong").inner_text() == "voté"


class _Host(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def host_site() -> Iterator[tuple[str, type[_Host]]]:
    """A plain web site on another port (another origin), serving ``_Host.page``."""
    handler = type("Host", (_Host,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    thread.join(timeout=10)


def test_the_table_embed_follows_its_content_in_another_site(
        app: Any, live_server: str, page: Any, fixtures_dir: Path, host_site: Any,
        screenshot: Any) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget primitif")
    page.goto(f"{live_server}/datasets/{slug}")
    page.get_by_text("Intégrer ce tableau dans un autre site").click()
    snippet = page.get_by_label("Code à copier dans votre page").first.input_value()
    assert snippet.startswith("<iframe") and "/embed?view=table" in snippet
    url, handler = host_site
    handler.page = f"<!doctype html><html lang='fr'><title>Mairie</title><h1>Notre budget</h1>{snippet}".encode()
    page.goto(url)
    frame = page.frame_locator("iframe[data-mutuelle-embed]")
    expect(frame.get_by_role("table")).to_be_visible()
    # the iframe grows to its content: the whole table, no inner scrollbar cut
    page.wait_for_function("""() => {
        const f = document.querySelector('iframe[data-mutuelle-embed]');
        return parseInt(f.style.height) > 600; }""", timeout=10_000)
    frame.get_by_role("link", name="Page suivante").click()
    expect(frame.get_by_role("table", name="Lignes 21 à 40 sur 40")).to_be_visible()
    screenshot(page, "dataset-embed-table")


def test_every_tab_of_the_dataset_page_passes_axe(
        app: Any, live_server: str, member_page: Any, fixtures_dir: Path) -> None:
    page = member_page
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    problems = {}
    for tab in ("table", "information", "map", "api", "export"):
        page.goto(f"{live_server}/datasets/{slug}?tab={tab}")
        page.wait_for_selector("[data-dataset-tabs][data-ready='1']")
        if tab == "map":
            page.wait_for_selector("[data-dataset-map][data-ready='1']", timeout=30_000)
        if tab == "table":
            page.get_by_text("Filtrer", exact=True).click()   # the filters open too
        serious = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
        if serious:
            problems[tab] = serious
    page.goto(f"{live_server}/datasets/{slug}/embed?view=table")
    serious = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    if serious:
        problems["embed"] = serious
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
