"""The HTML pages through the real app: catalogue, dataset pages, import forms, errors, languages."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mutuelle.catalog import repository as repo
from mutuelle.core.errors import NotFound
from mutuelle.ingest.service import import_file

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]


def seed(app, fixtures_dir: Path, title: str, *, file: str | None = "budget_cp1252.csv",  # type: ignore[no-untyped-def]
         publish: bool = True, organisation: str = "lyon", **metadata) -> str:
    """A dataset built with the service functions, as an import would; returns its slug."""
    settings = app.state.settings
    with app.state.sessions() as session:
        try:
            org = repo.get_organisation(session, organisation)
        except NotFound:
            name = {"lyon": "Ville de Lyon", "issy": "Issy-les-Moulineaux"}.get(organisation, organisation)
            org = repo.create_organisation(session, name=name, slug=organisation)
        dataset = repo.create_dataset(session, organisation=org, title=title, **metadata)
        session.commit()
        if file:
            import_file(session, settings, dataset, fixtures_dir / "awkward" / file, source_name=file)
        if publish:
            repo.publish_dataset(session, dataset)
            session.commit()
        return dataset.slug


def main_text(html: str) -> str:
    """The text of the page's main landmark, tags removed, spaces collapsed."""
    main = html.split('<main', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


# --- home and catalogue ---------------------------------------------------------------------

def test_home_page_presents_the_portal_with_counts_latest_datasets_and_search(
        app, client: TestClient, fixtures_dir: Path) -> None:
    seed(app, fixtures_dir, "Budget primitif 2021")
    seed(app, fixtures_dir, "Écoles de Lyon", file=None, publish=False)
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="fr">' in page.text
    assert "Les données du territoire, en commun" in page.text
    text = main_text(page.text)
    assert "2 jeux de données" in text  # the local editor sees the draft too
    assert "1 organisation" in text
    assert 'action="/catalogue"' in page.text and 'name="q"' in page.text
    assert 'href="/datasets/budget-primitif-2021"' in page.text
    assert 'href="/datasets/ecoles-de-lyon"' not in page.text  # a draft is not "published"


def test_catalogue_lists_datasets_with_links_and_has_an_alias(
        app, client: TestClient, fixtures_dir: Path) -> None:
    seed(app, fixtures_dir, "Budget primitif 2021", themes=["finances"])
    seed(app, fixtures_dir, "Écoles", file=None, publish=False, themes=["éducation"])
    for url in ("/catalogue", "/datasets"):
        page = client.get(url)
        assert page.status_code == 200
        assert 'href="/datasets/budget-primitif-2021"' in page.text
        assert 'href="/datasets/ecoles"' in page.text
        assert "2 jeux de données" in main_text(page.text)
        assert 'href="/datasets/new"' in page.text  # the local editor may create datasets


def test_catalogue_searches_titles_and_filters_by_organisation_and_theme(
        app, client: TestClient, fixtures_dir: Path) -> None:
    seed(app, fixtures_dir, "Budget primitif", file=None, publish=False, themes=["finances"])
    seed(app, fixtures_dir, "Écoles maternelles", file=None, publish=False, themes=["éducation"])
    seed(app, fixtures_dir, "Budget d'Issy", file=None, publish=False, organisation="issy",
         themes=["finances"])

    found = client.get("/catalogue", params={"q": "budget"}).text
    assert "/datasets/budget-primitif" in found and "/datasets/budget-d-issy" in found
    assert "/datasets/ecoles-maternelles" not in found
    assert "« budget »" in found

    by_org = client.get("/catalogue", params={"organisation": "issy"}).text
    assert "/datasets/budget-d-issy" in by_org and "/datasets/budget-primitif" not in by_org
    selected = re.findall(r'class="facet-selected">\s*([^<]*?)\s*<span class="facet-count">',
                          by_org)
    assert len(selected) == 1 and "issy" in selected[0].lower(), selected

    by_theme = client.get("/catalogue", params={"theme": "éducation"}).text
    assert "/datasets/ecoles-maternelles" in by_theme and "/datasets/budget-primitif" not in by_theme

    both = client.get("/catalogue", params={"q": "budget", "theme": "finances",
                                            "organisation": "lyon"}).text
    assert "1 jeu de données" in main_text(both)

    none = client.get("/catalogue", params={"q": "piscines"}).text
    assert "Aucun jeu de données ne correspond à votre recherche." in none


def test_catalogue_is_paginated(app, client: TestClient, fixtures_dir: Path) -> None:
    for n in range(23):
        seed(app, fixtures_dir, f"Jeu {n:02d}", file=None, publish=False)
    first = client.get("/catalogue")
    assert "23 jeux de données" in main_text(first.text)
    assert first.text.count('class="dataset-card"') == 20
    assert "Page 1 sur 2" in first.text and 'href="/catalogue?page=2"' in first.text
    second = client.get("/catalogue", params={"page": 2})
    assert second.text.count('class="dataset-card"') == 3
    assert "/datasets/jeu-22" in second.text and 'rel="prev"' in second.text
    kept = client.get("/catalogue", params={"q": "jeu", "page": 1}).text
    assert 'href="/catalogue?q=jeu&amp;page=2"' in kept  # the search is kept across pages
    assert client.get("/catalogue", params={"page": 0}).status_code == 400


def test_catalogue_answers_htmx_with_the_results_only(
        app, client: TestClient, fixtures_dir: Path) -> None:
    seed(app, fixtures_dir, "Budget primitif", file=None, publish=False)
    part = client.get("/catalogue", params={"q": "budget"}, headers={"HX-Request": "true"})
    assert part.status_code == 200
    assert "<html" not in part.text and "/datasets/budget-primitif" in part.text
    full = client.get("/catalogue", headers={"HX-Request": "true",
                                             "HX-History-Restore-Request": "true"})
    assert "<html" in full.text


# --- dataset pages --------------------------------------------------------------------------

def test_dataset_page_shows_metadata_dictionary_first_rows_versions_and_downloads(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget primitif", themes=["finances"], keywords=["budget", "M14"],
                spatial_coverage=["69123"], frequency="annual", licence="Licence Ouverte 2.0",
                description="Le budget **voté** de la ville.\n\n- fonctionnement\n- investissement")
    page = client.get(f"/datasets/{slug}")
    assert page.status_code == 200
    html, text = page.text, main_text(page.text)
    assert "<h1>Budget primitif</h1>" in html
    assert "<strong>voté</strong>" in html and "<li>investissement</li>" in html  # Markdown
    for shown in ("Ville de Lyon", "Licence Ouverte 2.0", "finances", "budget, M14", "69123",
                  "annuelle", "public", "publié"):
        assert shown in text
    # The field dictionary with the inferred types.
    assert "Libellé" in text and "Montant prévu (€)" in text
    assert re.search(r'<code>Exercice</code></th>\s*<td>[^<]*</td>\s*<td data-type="integer">entier', html)
    assert re.search(r'data-type="date">date<', html)
    assert 'data-type="decimal">décimal<' in html
    # What was detected.
    assert "cp1252" in text.lower() or "windows-1252" in text.lower()
    assert "point-virgule (;)" in text
    # The first rows as an accessible table, numbers written the French way.
    assert '<caption id="preview-caption">Les 20 premières lignes sur 40</caption>' in html
    assert re.search(r'<th scope="col" data-type="text"><a href="/datasets/budget-primitif\?_sort=Chapitre">Chapitre<', html)
    assert "<td>011</td>" in html
    assert "21\u202f782\u202f048,19" in html and "02/01/2021" in html
    # Versions and downloads.
    assert "budget_cp1252.csv" in text and "version 1" in text
    for kind in ("original", "csv", "parquet"):
        assert f'href="/api/datasets/{slug}/versions/1/download/{kind}"' in html
    assert client.get(f"/api/datasets/{slug}/versions/1/download/csv").status_code == 200


def test_an_older_version_is_shown_the_same_way_with_a_link_to_the_latest(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget primitif")
    with app.state.sessions() as session:
        dataset = repo.get_dataset(session, slug)
        import_file(session, app.state.settings, dataset,
                    fixtures_dir / "awkward" / "communes_bom.csv", source_name="communes_bom.csv")
    latest = main_text(client.get(f"/datasets/{slug}").text)
    assert "communes_bom.csv" in latest and "Vous consultez" not in latest
    old = client.get(f"/datasets/{slug}/versions/1")
    assert old.status_code == 200
    text = main_text(old.text)
    assert "Vous consultez la version 1." in text and "Voir la dernière version (2)" in text
    assert "<td>011</td>" in old.text and "Libellé" in text
    assert f'href="/api/datasets/{slug}/versions/1/download/csv"' in old.text
    assert client.get(f"/datasets/{slug}/versions/latest").status_code == 200
    assert client.get(f"/datasets/{slug}/versions/9").status_code == 404


def test_geometries_are_named_not_printed_in_the_table(app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "IRIS de Lyon", file="iris_lambert93.gpkg")
    html = client.get(f"/datasets/{slug}").text
    cells = re.findall(r'<td class="geometry">([^<]*)</td>', html)
    assert len(cells) == 12
    shown = {html_lib.unescape(cell) for cell in cells}
    assert shown <= {"Polygone", "Multipolygone"}, shown
    assert '{"type":' not in html_lib.unescape(html)
    assert "EPSG:2154" in html  # the detected CRS


def test_an_unknown_dataset_gives_a_french_404_page(client: TestClient) -> None:
    page = client.get("/datasets/inexistant")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in page.text and 'class="site-header"' in page.text
    assert "Page introuvable" in page.text
    assert "n’existe pas" in page.text
    assert client.get("/nulle-part").status_code == 404


def test_synthetic_data_carry_a_visible_badge(app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Non-recours à la C2S", file=None, publish=False,
                description="Estimations **synthétiques** par IRIS.")
    other = seed(app, fixtures_dir, "Budget", file=None, publish=False)
    assert "Données synthétiques" in client.get(f"/datasets/{slug}").text
    assert "Données synthétiques" in client.get("/catalogue?q=recours").text
    assert "Données synthétiques" not in client.get(f"/datasets/{other}").text


def test_titles_and_descriptions_cannot_inject_scripts(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "<script>alert('titre')</script>", slug="xss", file=None,
                publish=False, keywords=["<img src=x onerror=alert(1)>"],
                description="<script>alert('desc')</script>\n\n[clic](javascript:alert(1)) "
                            "<b onmouseover=alert(2)>gras</b>")
    for url in (f"/datasets/{slug}", "/catalogue", "/"):
        html = client.get(url).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html and "<b onmouseover" not in html
        assert 'href="javascript:' not in html
    html = client.get(f"/datasets/{slug}").text
    assert "&lt;script&gt;alert(&#39;titre&#39;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(" in html.split('class="prose"', 1)[1]


def test_no_page_ships_the_map_library(app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "IRIS de Lyon", file="iris_lambert93.gpkg")
    for url in ("/", "/catalogue", f"/datasets/{slug}", f"/datasets/{slug}/import", "/datasets/new"):
        assert "maplibre" not in client.get(url).text.lower()


# --- who may see and edit -------------------------------------------------------------------

def test_anonymous_visitors_see_neither_drafts_nor_editing_forms(
        app, anonymous_client: TestClient, fixtures_dir: Path) -> None:
    public = seed(app, fixtures_dir, "Budget primitif")
    draft = seed(app, fixtures_dir, "Brouillon secret", file=None, publish=False)
    listing = anonymous_client.get("/catalogue").text
    assert f"/datasets/{public}" in listing and f"/datasets/{draft}" not in listing
    assert "Nouveau jeu de données" not in listing
    assert "1 jeu de données" in main_text(anonymous_client.get("/").text)
    assert anonymous_client.get(f"/datasets/{draft}").status_code == 404
    page = anonymous_client.get(f"/datasets/{public}")
    assert page.status_code == 200 and "Importer un fichier" not in page.text
    # pages that need a member send visitors to the sign-in form, and back after
    for url in ("/datasets/new", f"/datasets/{public}/import"):
        sent_away = anonymous_client.get(url, follow_redirects=False)
        assert sent_away.status_code == 303
        assert sent_away.headers["location"] == f"/connexion?next={url.replace('/', '%2F')}"
    anonymous_client.cookies.clear()  # a visitor without cookies: no CSRF nonce, rights decide
    assert anonymous_client.post("/datasets/new", data={"organisation": "lyon",
                                                        "title": "Intrus"}).status_code == 401
    assert anonymous_client.get(f"/datasets/{draft}/import").status_code == 404
    anonymous_client.cookies.clear()
    with (fixtures_dir / "awkward" / "communes_bom.csv").open("rb") as handle:
        sent = anonymous_client.post(f"/datasets/{public}/import", data={"publish": "1"},
                                     files={"file": ("communes.csv", handle, "text/csv")})
    assert sent.status_code == 401 and "Connexion requise" in sent.text
    anonymous_client.cookies.clear()
    assert anonymous_client.post(f"/datasets/{draft}/publish").status_code == 404
    anonymous_client.cookies.clear()
    assert anonymous_client.post(f"/datasets/{public}/versions/1/publish").status_code == 401


def test_anonymous_visitors_do_not_see_draft_versions(
        app, client: TestClient, anonymous_client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget primitif")
    with app.state.sessions() as session:
        dataset = repo.get_dataset(session, slug)
        import_file(session, app.state.settings, dataset, fixtures_dir / "awkward" /
                    "communes_bom.csv", source_name="communes_bom.csv", publish=False)
    assert anonymous_client.get(f"/datasets/{slug}/versions/2").status_code == 404
    assert "communes_bom.csv" not in anonymous_client.get(f"/datasets/{slug}").text
    editor = client.get(f"/datasets/{slug}/versions/2")
    assert editor.status_code == 200 and "Publier cette version" in editor.text
    assert "seuls les éditeurs la voient" in editor.text
    done = client.post(f"/datasets/{slug}/versions/2/publish", follow_redirects=False)
    assert done.status_code == 303
    assert anonymous_client.get(f"/datasets/{slug}/versions/2").status_code == 200


# --- creating a dataset and importing files through the forms -------------------------------

def _create_organisation(app) -> None:  # type: ignore[no-untyped-def]
    with app.state.sessions() as session:
        repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        session.commit()


def test_new_dataset_form_creates_a_draft_and_leads_to_its_import_form(
        app, client: TestClient) -> None:
    _create_organisation(app)
    form = client.get("/datasets/new")
    assert form.status_code == 200
    for name in ("organisation", "title", "slug", "description", "licence", "producer", "themes",
                 "keywords", "frequency", "access"):
        assert f'id="{name}" name="{name}"' in form.text and f'<label for="{name}">' in form.text
    made = client.post("/datasets/new", follow_redirects=False, data={
        "organisation": "lyon", "title": "Budget primitif 2021", "description": "Le budget.",
        "licence": "Licence Ouverte 2.0", "themes": "finances, budget", "keywords": "M14, vote",
        "frequency": "annual", "access": "public", "producer": " Direction des finances "})
    assert made.status_code == 303 and made.headers["location"] == "/datasets/budget-primitif-2021/import"
    with app.state.sessions() as session:
        dataset = repo.get_dataset(session, "budget-primitif-2021")
        assert dataset.status == "draft" and dataset.themes == ["finances", "budget"]
        assert dataset.keywords == ["M14", "vote"] and dataset.frequency == "annual"
        assert dataset.producer == "Direction des finances"
    page = client.get("/datasets/budget-primitif-2021")
    assert "Direction des finances" in page.text
    assert "Publier le jeu de données" in page.text and "pas encore de données" in page.text


def test_new_dataset_form_is_shown_again_with_the_problem(app, client: TestClient) -> None:
    _create_organisation(app)
    untitled = client.post("/datasets/new", data={"organisation": "lyon", "title": " ",
                                                  "description": "gardé", "producer": "INSEE"})
    assert untitled.status_code == 400
    assert "Donnez un titre au jeu de données." in untitled.text and ">gardé</textarea>" in untitled.text
    assert 'name="producer" maxlength="300" value="INSEE"' in untitled.text
    too_long = client.post("/datasets/new", data={"organisation": "lyon", "title": "Long",
                                                  "producer": "x" * 301})
    assert too_long.status_code in (400, 422) and "producteur" in too_long.text.lower()
    assert client.post("/datasets/new", data={"organisation": "lyon", "title": "Écoles"},
                       follow_redirects=False).status_code == 303
    twice = client.post("/datasets/new", data={"organisation": "lyon", "title": "Écoles"})
    assert twice.status_code == 400 and "existe déjà" in twice.text
    nowhere = client.post("/datasets/new", data={"organisation": "nulle-part", "title": "X"})
    assert nowhere.status_code == 400 and "nulle-part" in nowhere.text
    bad_slug = client.post("/datasets/new", data={"organisation": "lyon", "title": "X",
                                                  "slug": "../etc"})
    assert bad_slug.status_code == 400 and 'value="../etc"' in bad_slug.text


def _upload(client: TestClient, slug: str, path: Path, **fields: str):  # type: ignore[no-untyped-def]
    data = {"publish": "1", **fields}
    with path.open("rb") as handle:
        return client.post(f"/datasets/{slug}/import", data=data, follow_redirects=False,
                           files={"file": (path.name, handle, "application/octet-stream")})


def test_uploading_a_real_file_through_the_form_creates_a_version(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget primitif", file=None, publish=False)
    form = client.get(f"/datasets/{slug}/import")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    assert 'id="publish" name="publish" value="1" checked' in form.text
    for name in ("file", "encoding", "delimiter", "sheet", "header_row", "source_crs", "types",
                 "allow_ragged"):
        assert f'<label for="{name}">' in form.text

    sent = _upload(client, slug, fixtures_dir / "awkward" / "budget_cp1252.csv")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/datasets/{slug}?imported=1"
    page = client.get(sent.headers["location"])
    text = main_text(page.text)
    assert "Le fichier a été importé : version 1." in text
    assert "Libellé" in text and "<td>011</td>" in page.text
    assert 'data-type="decimal">décimal' in page.text and 'data-type="integer">entier' in page.text
    assert "cp1252" in text.lower() or "windows-1252" in text.lower()
    published = client.post(f"/datasets/{slug}/publish", follow_redirects=False)
    assert published.status_code == 303
    assert "Le jeu de données est publié." in client.get(published.headers["location"]).text


def test_import_options_of_the_form_reach_the_importer(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget", file=None, publish=False)
    sent = _upload(client, slug, fixtures_dir / "awkward" / "budget_cp1252.csv",
                   encoding="cp1252", delimiter=";", types="Exercice=text", publish="")
    assert sent.status_code == 303
    page = client.get(f"/datasets/{slug}/versions/1").text
    assert re.search(r'<code>Exercice</code></th>\s*<td>[^<]*</td>\s*<td data-type="text">', page)
    assert "La version 1 est un brouillon" in page


@pytest.mark.parametrize(("name", "expected"), [
    ("empty.csv", r"empty|vide"),
    ("ragged_line57.csv", r"\b57\b"),
    ("binary_named.csv", r"text|texte|binary|binaire"),
])
def test_a_bad_file_gives_the_form_back_with_the_problem(
        app, client: TestClient, fixtures_dir: Path, name: str, expected: str) -> None:
    slug = seed(app, fixtures_dir, "Budget", file=None, publish=False)
    sent = _upload(client, slug, fixtures_dir / "awkward" / name, encoding="utf-8",
                   types="Exercice=integer")
    assert 400 <= sent.status_code < 500
    assert "Le fichier n’a pas été importé" in sent.text
    problem = sent.text.split('id="import-error"', 1)[1].split("</div>", 1)[0]
    assert re.search(expected, problem, re.IGNORECASE), problem
    assert 'value="Exercice=integer"' in sent.text  # what was typed is kept
    assert "Traceback" not in sent.text
    with app.state.sessions() as session:
        assert repo.get_dataset(session, slug).versions == []


def test_a_ragged_file_is_imported_when_the_user_says_so(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Délibérations", file=None, publish=False)
    sent = _upload(client, slug, fixtures_dir / "awkward" / "ragged_line57.csv", allow_ragged="1")
    assert sent.status_code == 303
    page = client.get(sent.headers["location"]).text
    assert "Avertissement" in page and "57" in main_text(page)


def test_the_import_form_asks_for_a_file_and_a_valid_header_row(
        app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget", file=None, publish=False)
    nothing = client.post(f"/datasets/{slug}/import", data={"publish": "1"},
                          files={"file": ("", b"", "application/octet-stream")})
    assert nothing.status_code in (400, 422) and "Choisissez un fichier" in nothing.text
    header = _upload(client, slug, fixtures_dir / "awkward" / "budget_cp1252.csv",
                     header_row="quatre")
    assert header.status_code == 400 and "« quatre »" in header.text
    wrong_type = _upload(client, slug, fixtures_dir / "awkward" / "budget_cp1252.csv",
                         types="Exercice=nombre")
    assert wrong_type.status_code == 400 and "nombre" in wrong_type.text


def test_a_file_over_the_size_limit_gives_413_with_the_form(settings, fixtures_dir: Path) -> None:
    from mutuelle.app import create_app

    app = create_app(settings.with_(max_upload_bytes=1000))
    slug = seed(app, fixtures_dir, "Budget", file=None, publish=False)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(app.state.settings)) as client:
        sent = _upload(client, slug, fixtures_dir / "awkward" / "budget_cp1252.csv")
    assert sent.status_code == 413
    assert "Le fichier n’a pas été importé" in sent.text and "1\u202f000 octets" in sent.text


def test_publishing_a_dataset_without_data_says_why(app, client: TestClient,
                                                     fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Vide", file=None, publish=False)
    refused = client.post(f"/datasets/{slug}/publish")
    assert refused.status_code == 400
    assert "au moins une version publiée" in refused.text


# --- errors and languages -------------------------------------------------------------------

def test_unexpected_errors_give_a_500_page_without_details(app, client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("secret detail /var/lib/x")

    app.add_api_route("/boom", boom)
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Erreur interne" in page.text and 'class="site-header"' in page.text
    assert "secret detail" not in page.text and "Traceback" not in page.text


def test_error_pages_use_the_site_layout(app) -> None:  # type: ignore[no-untyped-def]
    from starlette.requests import Request

    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": [],
                       "query_string": b"", "app": app, "client": ("127.0.0.1", 1)})
    for status, title in ((400, "Requête incorrecte"), (404, "Page introuvable"),
                          (413, "Fichier trop volumineux"), (422, "Données refusées"),
                          (500, "Erreur interne")):
        page = app.state.render_error(request, status, "détail")
        assert page.status_code == status
        body = page.body.decode()
        assert title in body and 'href="#contenu"' in body and "<footer" in body
        assert ("détail" in body) == (status < 500)


def test_pages_are_in_english_when_asked(app, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir, "Budget primitif")
    page = client.get("/catalogue", params={"lang": "en"})
    assert '<html lang="en">' in page.text
    assert "Dataset catalogue" in page.text and "Catalogue des jeux de données" not in page.text
    assert page.cookies.get("lang") == "en"
    # The cookie keeps English on the next pages, numbers and dates written the English way.
    dataset = client.get(f"/datasets/{slug}").text
    assert '<html lang="en">' in dataset and "Field dictionary" in dataset
    assert "21,782,048.19" in dataset and "Jan 2, 2021" in dataset
    assert "The first 20 rows of 40" in dataset
    assert "Page not found" in client.get("/datasets/nope").text
    # Back to French with the switch.
    assert '<html lang="fr">' in client.get("/", params={"lang": "fr"}).text


def test_pages_are_french_by_default_whatever_the_browser_language(client: TestClient) -> None:
    english_browser = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="fr">' in english_browser.text
    assert english_browser.headers["content-language"] == "fr"
    chosen = client.get("/", params={"lang": "en"}, headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in chosen.text


def test_the_language_switch_keeps_the_current_query(client: TestClient) -> None:
    html = client.get("/catalogue", params={"q": "école"}).text
    assert 'href="/catalogue?q=%C3%A9cole&amp;lang=en"' in html
    assert 'hreflang="fr"' in html and 'aria-current="true"' in html


def test_static_files_are_served(client: TestClient) -> None:
    css = client.get("/static/css/mutuelle.css")
    assert css.status_code == 200 and ":focus-visible" in css.text
    assert client.get("/static/js/import-form.js").status_code == 200
