"""Defining the unemployment rate of Lyon's IRIS in Debian's headless Chromium: a member
chooses the dataset, its IRIS column, writes the numerator and denominator and sees the
values and the map before saving; a mistyped column is marked where it is; the saved
indicator's page gives Lyon's value. Screenshots are kept under test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from browser_testing import axe_violations  # type: ignore[import-not-found]
from lyon_testing import DATASET, LYON, LYON_RATE, lyon_app, weighted_rates  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser

PREVIEW = "#indicator-preview"


@pytest.fixture(scope="module")
def lyon(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return lyon_app(tmp_path_factory.mktemp("lyon-browser"))


@pytest.fixture
def app(lyon: FastAPI) -> FastAPI:
    """``live_server`` and ``member_page`` serve the portal with the IRIS of Lyon."""
    return lyon


def _lyon_value(page: Any) -> float:
    cell = page.locator(f'{PREVIEW} tr[data-code="{LYON}"] td[data-value]')
    cell.wait_for()
    return float(cell.get_attribute("data-value"))


def test_a_member_defines_the_unemployment_rate_with_a_live_preview(
        member_page: Any, live_server: str, screenshot: Any) -> None:
    page = member_page
    page.goto(f"{live_server}/observatoire/indicateurs/nouveau")
    page.select_option("#dataset", DATASET)          # submits itself
    page.wait_for_url(f"**/observatoire/indicateurs/nouveau?dataset={DATASET}")
    page.select_option("#code_column", "id")
    page.fill("#numerator", "tchom * p12_pop")
    page.fill("#denominator", "p12_pop")
    page.wait_for_selector(f'{PREVIEW}[data-ready="1"] tr[data-code="{LYON}"]')
    assert _lyon_value(page) == pytest.approx(LYON_RATE, abs=1e-6)
    rows = page.locator(f"{PREVIEW} tr[data-status='ok']")
    assert rows.count() == len(weighted_rates())
    lyon_shape = page.locator(f'{PREVIEW} svg path[data-code="{LYON}"]')
    assert lyon_shape.get_attribute("fill").startswith("#")
    assert page.locator(f"{PREVIEW} svg path").count() >= 22
    screenshot(page, "indicator-form-preview")

    # a mistyped column: the preview says where, and the field is marked
    page.fill("#numerator", "tchom * p12_popp")
    page.wait_for_selector(f'{PREVIEW}[data-ready="1"] [data-error-field="numerator"]')
    assert page.locator(f"{PREVIEW} mark").inner_text() == "p12_popp"
    assert page.get_attribute("#numerator", "aria-invalid") == "true"
    page.fill("#numerator", "tchom * p12_pop")
    page.wait_for_selector(f'{PREVIEW}[data-ready="1"] tr[data-code="{LYON}"]')
    assert page.get_attribute("#numerator", "aria-invalid") is None
    assert axe_violations(page) == []

    page.fill("#id", "chomage-lyon")
    page.fill("#label", "Taux de chômage (2012)")
    page.fill("#unit", "%")
    page.click("button[name=action][value=save]")
    page.wait_for_url("**/observatoire/indicateurs/chomage-lyon?saved=1")
    row = page.locator(f'tr[data-code="{LYON}"] td[data-value]')
    assert float(row.get_attribute("data-value")) == pytest.approx(LYON_RATE, abs=1e-6)
    assert page.locator("[data-method]").is_visible()
    assert "p12_pop" in page.locator("[data-method]").inner_text()
    screenshot(page, "indicator-page")
    assert axe_violations(page) == []


def test_the_form_works_without_javascript(browser: Any, app: FastAPI, live_server: str,
                                           tmp_path: Path) -> None:
    from http_testing import session_token  # type: ignore[import-not-found]

    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    context.add_cookies([{"name": "mutuelle_session", "url": live_server,
                          "value": session_token(app.state.settings)}])
    page = context.new_page()
    try:
        page.goto(f"{live_server}/observatoire/indicateurs/nouveau")
        page.select_option("#dataset", DATASET)
        page.click("#dataset-form button[type=submit]")
        page.select_option("#code_column", "id")
        page.fill("#numerator", "tchom * p12_pop")
        page.fill("#denominator", "p12_pop")
        page.click("button[name=action][value=preview]")
        assert _lyon_value(page) == pytest.approx(LYON_RATE, abs=1e-6)
    finally:
        context.close()
