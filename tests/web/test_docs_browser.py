"""The API documentation works offline: Swagger UI is served by the portal from the npm package,
and the browser renders every operation without any request leaving this machine."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from mutuelle.web.pages import WEB_DIR

SWAGGER = WEB_DIR / "static" / "vendor" / "swagger-ui"
ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _require_swagger_ui() -> None:
    if not (SWAGGER / "swagger-ui-bundle.js").exists():
        pytest.fail("Swagger UI is not served: run scripts/build-assets.sh")


def test_the_docs_page_references_only_the_portals_own_assets(client) -> None:  # type: ignore[no-untyped-def]
    _require_swagger_ui()
    response = client.get("/api/docs")
    assert response.status_code == 200
    assets = ASSET.findall(response.text)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui/swagger-ui.css" in assets
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    assert "cdn" not in response.text.lower()
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_favicon_answers_at_the_root_and_in_static(client) -> None:  # type: ignore[no-untyped-def]
    for url in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.lstrip().startswith("<svg")
    home = client.get("/").text
    assert '<link rel="icon" href="/static/favicon.svg"' in home


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_with_no_request_leaving_this_machine(
        live_server: str, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    _require_swagger_ui()
    outside: list[str] = []
    failed: list[str] = []

    def only_local(route, request) -> None:  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(live_server + "/api/docs")
    page.locator(".opblock").first.wait_for(state="visible")
    assert page.locator(".opblock").count() > 20
    assert page.locator(".opblock-summary-path", has_text="/api/explore/v2.1/catalog/datasets").count() >= 1
    assert page.locator(".info .title").first.inner_text().startswith("mutuelle")
    screenshot(page, "web-api-docs")
    assert outside == []
    assert failed == []
