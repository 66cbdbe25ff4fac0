"""The pages in Debian's headless Chromium: a visitor finds a dataset, an editor publishes one,
and axe-core finds no accessibility violation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from mutuelle.catalog import repository as repo
from mutuelle.ingest.service import import_file

from browser_testing import axe_violations  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser



def seed_budget(app, fixtures_dir: Path) -> str:  # type: ignore[no-untyped-def]
    """A published dataset holding the cp1252 budget file, built with the service functions."""
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        dataset = repo.create_dataset(session, organisation=org, title="Budget primitif 2021",
                                      themes=["finances"], description="Le budget **voté**.")
        session.commit()
        import_file(session, app.state.settings, dataset,
                    fixtures_dir / "awkward" / "budget_cp1252.csv", source_name="budget_cp1252.csv")
        repo.publish_dataset(session, dataset)
        session.commit()
        return dataset.slug


def test_a_visitor_searches_the_catalogue_and_reads_a_dataset_table(
        app, live_server: str, page, fixtures_dir: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    seed_budget(app, fixtures_dir)
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Les données du territoire, en commun"
    screenshot(page, "web-home")

    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Catalogue").click()
    page.wait_for_url("**/catalogue")
    page.get_by_label("Rechercher dans le catalogue").fill("budget")
    page.get_by_role("button", name="Rechercher", exact=True).click()
    page.wait_for_url("**/catalogue?q=budget**")
    assert page.locator(".result-count").inner_text().startswith("1 jeu de données")
    screenshot(page, "web-catalogue-search")

    page.get_by_role("link", name="Budget primitif 2021").click()
    page.wait_for_url("**/datasets/budget-primitif-2021")
    table = page.get_by_role("table", name="Les 20 premières lignes sur 40")
    assert table.locator("tbody tr").count() == 20
    assert table.get_by_role("cell", name="011", exact=True).count() >= 1
    assert table.get_by_role("columnheader", name="Libellé").count() == 1
    screenshot(page, "web-dataset")


def test_the_catalogue_search_updates_as_one_types(
        app, live_server: str, member_page, fixtures_dir: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # an editor (drafts and forms are for members)
    seed_budget(app, fixtures_dir)
    with app.state.sessions() as session:
        repo.create_dataset(session, organisation=repo.get_organisation(session, "lyon"),
                            title="Écoles maternelles")
        session.commit()
    page.goto(live_server + "/catalogue")
    if page.evaluate("typeof window.htmx") == "undefined":
        pytest.fail("htmx is not served: run scripts/build-assets.sh")
    assert page.locator(".dataset-card").count() == 2
    page.get_by_label("Rechercher dans le catalogue").press_sequentially("matern")
    page.wait_for_url("**/catalogue?q=matern**")
    expect(page.locator(".dataset-card")).to_have_count(1)
    expect(page.locator(".dataset-card h3")).to_have_text("Écoles maternelles")


def test_an_editor_creates_a_dataset_and_uploads_its_file(
        app, live_server: str, member_page, fixtures_dir: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # an editor (drafts and forms are for members)
    with app.state.sessions() as session:
        repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        session.commit()
    page.goto(live_server + "/catalogue")
    page.get_by_role("link", name="Nouveau jeu de données").click()
    page.get_by_label("Organisation").select_option("lyon")
    page.get_by_label("Titre").fill("Budget de la ville")
    page.get_by_label("Description").fill("Budget primitif, par chapitre.")
    page.get_by_label("Thèmes").fill("finances, budget")
    page.get_by_label("Fréquence de mise à jour").select_option("annual")
    screenshot(page, "web-new-dataset")
    page.get_by_role("button", name="Créer le brouillon").click()
    page.wait_for_url("**/datasets/budget-de-la-ville/import")

    page.set_input_files("input#file", str(fixtures_dir / "awkward" / "budget_cp1252.csv"))
    assert page.get_by_label("Publier cette version dès l’import").is_checked()
    screenshot(page, "web-import-form")
    page.get_by_role("button", name="Importer", exact=True).click()
    page.wait_for_url("**/datasets/budget-de-la-ville?imported=1")
    assert "version 1" in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("table", name="Les 20 premières lignes sur 40").count() == 1
    page.get_by_role("tab", name="Informations").click()   # the versions are in this tab
    versions = page.get_by_role("table", name="Historique des fichiers importés, du plus récent au plus ancien")
    assert "budget_cp1252.csv" in versions.inner_text()
    screenshot(page, "web-imported")

    page.get_by_role("button", name="Publier le jeu de données").click()
    page.wait_for_url("**/datasets/budget-de-la-ville?published=1")
    assert page.get_by_role("button", name="Publier le jeu de données").count() == 0


def test_a_refused_file_shows_the_problem_on_the_form(
        app, live_server: str, member_page, fixtures_dir: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = member_page  # an editor (drafts and forms are for members)
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        repo.create_dataset(session, organisation=org, title="Délibérations")
        session.commit()
    page.goto(live_server + "/datasets/deliberations/import")
    page.set_input_files("input#file", str(fixtures_dir / "awkward" / "ragged_line57.csv"))
    page.get_by_role("button", name="Importer", exact=True).click()
    alert = page.get_by_role("alert")
    assert "57" in alert.inner_text()
    assert page.locator("input#file").get_attribute("aria-invalid") == "true"
    screenshot(page, "web-import-refused")


def test_the_pages_pass_axe_accessibility_checks(
        app, live_server: str, page, fixtures_dir: Path, screenshot) -> None:  # type: ignore[no-untyped-def]
    slug = seed_budget(app, fixtures_dir)
    problems = {}
    for path in ("/", "/catalogue", f"/datasets/{slug}", f"/datasets/{slug}/versions/1",
                 f"/datasets/{slug}/import", "/datasets/new", "/datasets/inconnu", "/?lang=en"):
        page.goto(live_server + path)
        violations = axe_violations(page)
        if violations:
            problems[path] = violations
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)


def test_the_skip_link_is_the_first_stop_and_is_visible_on_focus(
        live_server: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#contenu"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
