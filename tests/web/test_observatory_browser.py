"""The observatory's finish in Debian's headless Chromium: the legend beside the map on a
laptop's screen, the map under the controls on a phone, manual breaks that adapt, "Limiter à"
zooming to the territory, the table of values sorted from the keyboard and downloaded (CSV),
the map as a PNG, and a scenario embedded in another site whose frame grows to its legend.
Screenshots are kept under test-artifacts/."""

from __future__ import annotations

import html as html_lib
import http.server
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import admin_key  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser

RATE = "demandeurs-pour-100-actifs"      # restricted data: the analyst is signed in
OPEN = "offres-pour-1000-habitants"      # public data
READY = "[data-observatory][data-ready='1']"
COMMUNE = "96012"


@pytest.fixture(scope="module")
def demo_app(demo_home: Path) -> FastAPI:
    return create_app(Settings(home=demo_home, duckdb_memory_limit="512MB"))


@pytest.fixture
def app(demo_app: FastAPI) -> FastAPI:
    """``live_server`` serves the demo portal."""
    return demo_app


def wait_drawn(page: Any) -> None:
    page.wait_for_selector(READY, timeout=30_000)


def redrawn(page: Any, action: Any) -> None:
    """Do ``action`` (which changes the view) and wait until the new view is drawn."""
    page.evaluate("document.querySelector('[data-observatory]').dataset.ready = 'stale'")
    action()
    wait_drawn(page)


def inside(box: dict[str, float], width: int, height: int) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width
            and box["y"] + box["height"] <= height)


def test_the_legend_is_in_view_beside_the_map_on_a_laptop(live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/observatoire?indicator={OPEN}")
    wait_drawn(page)
    screenshot(page, "observatory-legend-beside-map")
    legend = page.locator(".obs-legend").bounding_box()
    frame = page.locator(".obs-map-frame").bounding_box()
    assert inside(legend, 1366, 900), legend
    assert inside(frame, 1366, 900), frame
    # beside the map, on its right, from its top
    assert legend["x"] >= frame["x"] + frame["width"]
    assert abs(legend["y"] - frame["y"]) < 4
    assert page.locator(".obs-legend .legend-list li").first.is_visible()


def test_on_a_phone_the_map_comes_under_the_controls_and_nothing_overflows(
        live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/observatoire?indicator={OPEN}")
    wait_drawn(page)
    form = page.locator("#map-form").bounding_box()
    frame = page.locator(".obs-map-frame").bounding_box()
    legend = page.locator(".obs-legend").bounding_box()
    assert form["y"] + form["height"] <= frame["y"], "the controls, then the map"
    assert frame["y"] + frame["height"] <= legend["y"], "then its legend"
    assert frame["width"] >= 340 and frame["height"] >= 280
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    wide = page.evaluate("""[...document.querySelectorAll('main *')].filter((el) => {
        const r = el.getBoundingClientRect();
        return r.width && r.right > 390.5 && !el.closest('.table-scroll, .maplibregl-map');
    }).map((el) => el.tagName + '.' + el.className).slice(0, 5)""")
    assert not wide, wide
    screenshot(page, "observatory-phone")


def test_manual_breaks_adapt_the_classes_and_the_map_stays_drawn(
        live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/observatoire?indicator={OPEN}&classes=7")
    wait_drawn(page)
    quantiles = page.evaluate("window.observatory.data.choropleth.breaks")
    # choosing the method starts from the classes on the map
    redrawn(page, lambda: page.get_by_label("Méthode de classement").select_option("manual"))
    breaks = page.get_by_label("Seuils choisis")
    assert breaks.is_visible() and breaks.input_value().count(";") == 5
    assert page.locator(".obs-legend [role=alert]").count() == 0
    manual = page.evaluate("window.observatory.data.choropleth")
    assert manual["method"] == "manual" and manual["classes"] == 7
    assert manual["breaks"][1:-1] == pytest.approx(quantiles[1:-1], rel=0.01)
    # 4 breaks for 7 classes: 5 classes, a note, the map drawn with them
    redrawn(page, lambda: (breaks.fill("2;4;6;8"), breaks.press("Tab")))
    assert page.locator(".obs-legend .legend-list li .swatch:not(.swatch-secret):not(.swatch-no-data)").count() == 5
    note = page.locator("[data-class-note=breaks_count]")
    assert note.inner_text() == "4 seuils choisis ne font pas 7 classes : ils servent de limites entre les classes."
    assert page.evaluate("window.observatory.map.queryRenderedFeatures({layers: ['territory-fill']}).length") > 100
    # a typo is left out and said, never an error page
    redrawn(page, lambda: (breaks.fill("2;quatre;8"), breaks.press("Tab")))
    assert "« quatre » n’est pas un nombre : ignoré." in page.locator(".obs-legend").inner_text()
    assert page.locator(".obs-legend [role=alert]").count() == 0
    assert page.evaluate("window.observatory.data.choropleth.classes") == 3
    screenshot(page, "observatory-manual-breaks")


def map_bounds(page: Any) -> list[float]:
    return list(page.evaluate("window.observatory.map.getBounds().toArray().flat()"))


def test_limiting_the_map_to_a_commune_zooms_to_it(live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/observatoire?indicator={OPEN}")
    wait_drawn(page)
    before = map_bounds(page)
    zoom = page.evaluate("window.observatory.map.getZoom()")
    redrawn(page, lambda: page.get_by_label("Limiter à").select_option(f"commune:{COMMUNE}"))
    page.wait_for_function("!window.observatory.map.isMoving()")
    west, south, east, north = page.evaluate("window.observatory.data.bounds")
    w, s, e, n = map_bounds(page)
    # the commune fills the map: all of it in view, and the map much closer than before
    assert w <= west and s <= south and e >= east and n >= north
    assert page.evaluate("window.observatory.map.getZoom()") > zoom + 0.5
    assert (e - w) < 0.7 * (before[2] - before[0])
    assert (e - w) < 2.5 * (east - west) or (n - s) < 2.5 * (north - south)
    # back to the whole territory: the whole level again
    redrawn(page, lambda: page.get_by_label("Limiter à").select_option(""))
    page.wait_for_function("!window.observatory.map.isMoving()")
    assert page.evaluate("window.observatory.map.getZoom()") == pytest.approx(zoom, abs=0.3)


def png_size_and_colours(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct bytes of the pixels of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def test_the_table_of_values_is_sorted_from_the_keyboard_and_downloaded(
        live_server: str, member_page, tmp_path: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # the demo's jobseekers data are restricted
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server}/observatoire?indicator={RATE}&level=commune")
    wait_drawn(page)
    button = page.locator("[data-part=table] button[data-column=value]")
    header = page.locator("[data-part=table] th:has(button[data-column=value])")
    assert header.get_attribute("aria-sort") is None
    button.focus()
    page.evaluate("window.__same_page = true")
    redrawn(page, lambda: page.keyboard.press("Enter"))
    page.wait_for_function("document.querySelector('[data-part=table] th:has(button[data-column=value])')"
                           ".getAttribute('aria-sort') === 'descending'")
    assert page.evaluate("window.__same_page === true"), "sorted without reloading the page"
    assert "sort=-value" in page.url
    # the focus stays on the button, for the next press
    assert page.evaluate("document.activeElement.dataset.column") == "value"
    values = [float(v) for v in page.locator("[data-part=table] tbody td[data-value]").evaluate_all(
        "(cells) => cells.map((c) => c.dataset.value).filter(Boolean)")]
    assert len(values) >= 5 and values == sorted(values, reverse=True)
    redrawn(page, lambda: page.keyboard.press("Space"))
    page.wait_for_function("document.querySelector('[data-part=table] th:has(button[data-column=value])')"
                           ".getAttribute('aria-sort') === 'ascending'")
    values = [float(v) for v in page.locator("[data-part=table] tbody td[data-value]").evaluate_all(
        "(cells) => cells.map((c) => c.dataset.value).filter(Boolean)")]
    assert values == sorted(values)
    screenshot(page, "observatory-table-sorted")

    # the CSV is what the table shows, in its order
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger ces valeurs (CSV)").click()
    path = tmp_path / "values.csv"
    download.value.save_as(path)
    lines = path.read_bytes().decode("utf-8-sig").splitlines()
    shown = page.locator("[data-part=table] tbody tr").evaluate_all("(rows) => rows.map((r) => r.dataset.code)")
    assert [line.split(";")[0] for line in lines[1:]] == shown

    # the map as a PNG: the map's pixels and the legend under them
    png = page.get_by_role("button", name="Télécharger l’image de la carte (PNG)")
    assert png.is_visible()
    with page.expect_download() as download:
        png.click()
    assert download.value.suggested_filename == f"carte-{RATE}-commune.png"
    image = tmp_path / "map.png"
    download.value.save_as(image)
    width, height, colours = png_size_and_colours(image.read_bytes())
    canvas = page.evaluate("[window.observatory.map.getCanvas().width, window.observatory.map.getCanvas().height]")
    assert width == canvas[0] and height > canvas[1] + 40
    assert colours > 50, "the map is drawn in the image, not a blank canvas"


HOST_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Site de la ville</title>
<style>body {{ font-family: sans-serif; margin: 1rem; }}</style></head>
<body><h1>Le chômage dans nos quartiers</h1><p>Une carte de l'observatoire :</p>
{snippet}
<p>Fin de l'article.</p></body></html>"""


@pytest.fixture
def host_site() -> Iterator[Any]:
    """A plain web site on another address (127.0.0.2) serving the page set on it."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    class Site:
        origin = f"http://127.0.0.2:{server.server_address[1]}"

        def put(self, path: str, html: str) -> str:
            pages[path] = html
            return self.origin + path

    yield Site()
    server.shutdown()
    server.server_close()


def test_an_embedded_scenario_s_frame_grows_to_show_its_whole_legend(
        live_server: str, app, browser, host_site, screenshot) -> None:  # type: ignore[no-untyped-def]
    made = httpx.post(f"{live_server}/api/scenarios", headers=admin_key(app.state.settings), json={
        "title": "Offres d'emploi par IRIS", "state": {"indicator": OPEN, "level": "iris"}})
    assert made.status_code == 201, made.text
    # the snippet the scenario's page gives to copy
    page_html = httpx.get(f"{live_server}/s/{made.json()['id']}").text
    snippet = html_lib.unescape(re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>',
                                          page_html, re.S).group(1))  # type: ignore[union-attr]
    assert "height:480px" in snippet
    url = host_site.put("/article.html", HOST_PAGE.format(snippet=snippet))

    context = browser.new_context(locale="fr-FR", viewport={"width": 800, "height": 600})
    try:
        page = context.new_page()
        page.goto(url)
        frame = page.frame_locator("iframe[data-mutuelle-embed]")
        frame.locator(READY).wait_for(timeout=30_000)
        iframe = page.locator("iframe[data-mutuelle-embed]")
        # the frame's page told the host its height (another origin: only a message can)
        page.wait_for_function("parseFloat(document.querySelector('iframe[data-mutuelle-embed]')"
                               ".style.height) !== 480", timeout=10_000)
        inner = frame.locator("html").evaluate("(el) => el.scrollHeight")
        box = iframe.bounding_box()
        assert box["height"] >= inner - 1, (box, inner)
        legend = frame.locator(".obs-legend").bounding_box()
        title = frame.locator(".embed-title").bounding_box()
        # the whole legend and the title inside the frame: nothing cut
        for part in (legend, title):
            assert part["y"] >= box["y"] - 1 and part["y"] + part["height"] <= box["y"] + box["height"] + 1
        assert frame.locator("body").evaluate("() => document.documentElement.scrollHeight <= innerHeight + 1")
        assert frame.locator(".obs-legend .legend-list li").count() >= 5
        screenshot(page, "observatory-embed-in-host-page")
    finally:
        context.close()
