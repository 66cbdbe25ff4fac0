"""Defining an indicator on the site without JavaScript, with the real IRIS of Lyon (2012): the
form's preview (values, a static map, what did not match), errors shown next to their field
and at their position, saving, the indicator's page with how it is computed, editing and
deleting; the same in English."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]
from lyon_testing import DATASET, DEFINITION, LYON, LYON_RATE, lyon_app  # type: ignore[import-not-found]

FORM = "/observatoire/indicateurs/nouveau"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A site administrator's browser-less client (its key stands for its cookies)."""
    app = lyon_app(tmp_path_factory.mktemp("lyon-pages"))
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(app.state.settings)) as client:
        yield client


def _row_value(page: str, code: str) -> float:
    """The number a table row of the preview or page carries for ``code``."""
    row = re.search(rf'<tr data-code="{code}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, f"no row {code}"
    return float(re.search(r'data-value="([^"]+)"', row.group(1)).group(1))  # type: ignore[union-attr]


def test_choosing_a_dataset_offers_its_code_columns(site: TestClient) -> None:
    empty = site.get(FORM)
    assert empty.status_code == 200 and f'<option value="{DATASET}"' in empty.text
    assert 'id="indicator-form"' not in empty.text          # a dataset is chosen first
    chosen = site.get(FORM, params={"dataset": DATASET})
    assert chosen.status_code == 200
    options = re.findall(r'<option value="([^"]+)" data-level="([^"]+)"', chosen.text)
    assert ("id", "iris") in options and ("com", "commune") in options
    assert ("geometry", "points") in options


def test_the_form_previews_the_values_and_the_map_then_saves(site: TestClient) -> None:
    fields = {**DEFINITION, "id": "chomage-page", "label": "Taux de chômage", "unit": "%"}
    shown = site.post(FORM, data={**fields, "action": "preview"})
    assert shown.status_code == 200, shown.text[-2000:]
    assert _row_value(shown.text, LYON) == pytest.approx(LYON_RATE, abs=1e-6)
    assert "13,4" in shown.text
    paths = re.findall(r'<path d="M[^"]+" fill="([^"]+)" data-code="(\w+)"', shown.text)
    assert len(paths) >= 22 and dict((c, f) for f, c in paths)[LYON].startswith("#")
    assert site.get("/api/indicators/chomage-page").status_code == 404    # not saved yet
    saved = site.post(FORM, data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == \
        "/observatoire/indicateurs/chomage-page?saved=1"
    page = site.get(saved.headers["location"])
    assert page.status_code == 200
    assert _row_value(page.text, LYON) == pytest.approx(LYON_RATE, abs=1e-6)
    assert "Comment il est calculé" in page.text and "tchom * p12_pop" in page.text
    assert f'href="/datasets/{DATASET}/versions/1"' in page.text
    assert 'data-unmatched="0"' in page.text
    assert "chomage-page" in site.get("/observatoire/indicateurs").text


@pytest.mark.parametrize(("changes", "field", "marked"), [
    ({"numerator": "tchom * p12_popp"}, "numerator", "p12_popp"),
    ({"filters": "typ_iris == 'H'"}, "filters", "="),
    ({"numerator": "libiris"}, "numerator", "libiris"),
    ({"level": "commune"}, "level", None),
    ({"vintage": "1990"}, "vintage", None),
    ({"secrecy": "onze"}, "secrecy", None),
])
def test_an_error_shows_at_its_field_and_position_and_nothing_is_saved(
        site: TestClient, changes: dict[str, str], field: str, marked: str | None) -> None:
    fields = {**DEFINITION, "id": "refuse-page", "label": "Refusé", **changes}
    answer = site.post(FORM, data={**fields, "action": "save"}, follow_redirects=False)
    assert answer.status_code == 422, answer.text[-1500:]
    assert f'id="{field}-error"' in answer.text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', answer.text)
    if marked is not None:
        mark = re.search(r"<mark>(.*?)</mark>", answer.text)
        assert mark and html.unescape(mark.group(1)) == marked
    assert "Traceback" not in answer.text
    assert site.get("/api/indicators/refuse-page").status_code == 404


def test_the_preview_part_alone_answers_the_fields(site: TestClient) -> None:
    part = site.get("/observatoire/indicateurs/apercu", params=DEFINITION)
    assert part.status_code == 200 and 'data-ready="1"' in part.text
    assert part.text.lstrip().startswith("<section") and "<html" not in part.text
    assert _row_value(part.text, LYON) == pytest.approx(LYON_RATE, abs=1e-6)
    wrong = site.get("/observatoire/indicateurs/apercu",
                     params={**DEFINITION, "denominator": "p12_pop * 0"})
    assert wrong.status_code == 422 and 'data-error-field="denominator"' in wrong.text


def test_an_indicator_is_edited_and_deleted_from_its_pages(site: TestClient) -> None:
    site.post(FORM, data={**DEFINITION, "id": "a-modifier", "label": "Avant", "action": "save"})
    form = site.get("/observatoire/indicateurs/a-modifier/modifier")
    assert form.status_code == 200 and 'value="tchom * p12_pop"' in form.text
    changed = site.post("/observatoire/indicateurs/a-modifier/modifier",
                        data={**DEFINITION, "id": "a-modifier", "label": "Après",
                              "habitat_only": "1", "action": "save"}, follow_redirects=False)
    assert changed.status_code == 303, changed.text[-1500:]
    body = site.get("/api/indicators/a-modifier").json()
    assert body["label"] == "Après" and body["habitat_only"] is True
    page = site.get("/observatoire/indicateurs/a-modifier", params={"niveau": "iris"})
    assert page.status_code == 200 and 'data-status="excluded"' in page.text
    gone = site.post("/observatoire/indicateurs/a-modifier/supprimer", follow_redirects=False)
    assert gone.status_code == 303
    assert site.get("/observatoire/indicateurs/a-modifier").status_code == 404


def test_the_pages_speak_english_too(site: TestClient) -> None:
    site.post(FORM, data={**DEFINITION, "id": "in-english", "label": "Unemployment",
                          "action": "save"})
    page = site.get("/observatoire/indicateurs/in-english", params={"lang": "en"})
    assert "How it is computed" in page.text and "Numerator" in page.text
    form = site.get(FORM, params={"dataset": DATASET, "lang": "en"})
    assert "Save the indicator" in form.text and "Columns recognised" in form.text


def test_a_visitor_is_sent_to_sign_in_and_reads_the_list(site: TestClient) -> None:
    anonymous = TestClient(site.app, client=LOOPBACK, raise_server_exceptions=False)
    answer = anonymous.get(FORM, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/connexion")
    assert anonymous.get("/observatoire/indicateurs").status_code == 200


def test_the_map_never_says_it_is_drawn_where_there_are_no_contours(site: TestClient) -> None:
    import json

    site.post(FORM, data={**DEFINITION, "id": "sans-contours", "label": "Chômage",
                          "action": "save"})
    drawn = site.get("/observatoire", params={"indicator": "sans-contours", "level": "commune"})
    data = json.loads(re.search(r'<script type="application/json" id="map-data"[^>]*>(.*?)</script>',
                                drawn.text, re.S).group(1))  # type: ignore[union-attr]
    assert data["choropleth"]["vintage"] == 2012          # communes drawn from their IRIS
    # the départements of 2012 have no contours: said so, and no map is sent to be drawn
    page = site.get("/observatoire", params={"indicator": "sans-contours", "level": "departement"})
    assert page.status_code == 200
    assert "no departement contours for vintage 2012" in page.text
    data = json.loads(re.search(r'<script type="application/json" id="map-data"[^>]*>(.*?)</script>',
                                page.text, re.S).group(1))  # type: ignore[union-attr]
    assert "choropleth" not in data
    assert 'data-code="69"' in page.text                  # the table still gives the values
