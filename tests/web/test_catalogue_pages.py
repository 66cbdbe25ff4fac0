"""The catalogue page and the home page through the real app: facets with counts, sorting,
access badges, bad searches; and in Debian's headless Chromium, searching, refining and sorting
with no accessibility violation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from mutuelle.access import accounts
from mutuelle.access.policy import OPERATOR
from mutuelle.catalog import repository as repo
from mutuelle.members import workflow

from browser_testing import axe_violations  # type: ignore[import-not-found]

#: slug: (title, access, themes, keywords, popularity rank)
DATASETS = {
    "ecoles-maternelles": ("Écoles maternelles", "public", ["Éducation"], ["écoles"]),
    "ecoles-elementaires": ("Écoles élémentaires", "public", ["Éducation"], ["écoles"]),
    "effectifs": ("Effectifs des écoles", "internal", ["Éducation"], []),
    "cantines": ("Cantines scolaires", "restricted", ["Éducation", "Santé"], ["repas"]),
    "budget": ("Budget primitif", "public", ["Finances"], []),
    "revenus": ("Revenus des ménages", "public", ["Solidarité"], []),
}


def seed(app: Any) -> None:
    with app.state.sessions() as session:
        lyon = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        issy = repo.create_organisation(session, name="Issy-les-Moulineaux", slug="issy")
        group = accounts.create_group(session, name="Partenaires", slug="partenaires")
        for slug, (title, access, themes, keywords) in DATASETS.items():
            dataset = workflow.create_dataset(session, OPERATOR, issy if slug == "budget" else lyon,
                                              title=title, slug=slug, access=access, themes=themes,
                                              keywords=keywords)
            dataset.status = "published"
            session.flush()
            if access == "restricted":
                accounts.grant(session, "dataset", dataset.id, group=group)
        session.commit()


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="dataset-card">\s*<h3><a href="/datasets/([^"]+)"', html)


def facet(html: str, name: str) -> list[tuple[str, int]]:
    body = re.search(rf'aria-labelledby="facet-{name}">(.*?)</section>', html, re.S)
    assert body is not None, name
    return [(label.strip(), int(n)) for label, n in re.findall(
        r'>\s*([^<]*?)\s*<span class="facet-count">\((\d+)\)</span>', body.group(1))]


def test_the_catalogue_shows_facets_with_counts_of_what_the_visitor_may_see(
        app: Any, anonymous_client: TestClient, client: TestClient) -> None:
    seed(app)
    page = anonymous_client.get("/catalogue").text
    assert cards(page) == ["budget", "ecoles-elementaires", "ecoles-maternelles", "revenus"]
    assert facet(page, "theme") == [("Éducation", 2), ("Finances", 1), ("Solidarité", 1)]
    assert facet(page, "organisation") == [("Ville de Lyon", 3), ("Issy-les-Moulineaux", 1)]
    assert facet(page, "access") == [("public", 4)]
    assert "Effectifs des écoles" not in page and "Cantines" not in page
    admin = client.get("/catalogue").text   # a site administrator sees every level, with badges
    assert facet(admin, "access") == [("public", 4), ("interne", 1), ("restreint aux partenaires", 1)]
    assert 'class="badge badge-internal"' in admin and 'class="badge badge-restricted"' in admin


def test_a_facet_value_refines_and_shows_as_an_active_filter_that_can_be_removed(
        app: Any, anonymous_client: TestClient) -> None:
    seed(app)
    page = anonymous_client.get("/catalogue", params={"q": "écoles", "theme": "Éducation"}).text
    assert cards(page) == ["ecoles-elementaires", "ecoles-maternelles"]
    assert 'aria-current="true" class="facet-selected"' in page
    removal = re.search(r'<ul class="active-filters"[^>]*>\s*<li><a href="([^"]+)"', page)
    assert removal is not None and removal.group(1).replace("&amp;", "&") == "/catalogue?q=%C3%A9coles"
    assert '<input type="hidden" name="theme" value="Éducation">' in page   # kept by a new search


def test_sorting_by_title_follows_french_order_and_relevance_is_the_default_with_a_search(
        app: Any, anonymous_client: TestClient) -> None:
    seed(app)
    assert cards(anonymous_client.get("/catalogue", params={"sort": "title"}).text) == [
        "budget", "ecoles-elementaires", "ecoles-maternelles", "revenus"]   # É sorts as E
    ranked = cards(anonymous_client.get("/catalogue", params={"q": "ecole maternelle"}).text)
    assert ranked == ["ecoles-maternelles"]
    by_date = anonymous_client.get("/catalogue", params={"sort": "-modified"})
    assert by_date.status_code == 200 and len(cards(by_date.text)) == 4


@pytest.mark.parametrize("params, message", [
    ({"q": "?!…"}, "ne contient ni lettre ni chiffre"),
    ({"q": "mot " * 40}, "La recherche est trop longue"),
    ({"sort": "taille"}, "Ordre de tri inconnu"),
])
def test_a_bad_search_or_sort_is_a_400_page_that_says_why_in_french(
        app: Any, anonymous_client: TestClient, params: dict[str, str], message: str) -> None:
    seed(app)
    response = anonymous_client.get("/catalogue", params=params)
    assert response.status_code == 400
    assert message in response.text and 'role="alert"' in response.text


def test_the_home_page_counts_and_lists_the_latest_without_reading_the_whole_catalogue(
        app: Any, anonymous_client: TestClient) -> None:
    seed(app)
    page = anonymous_client.get("/").text
    assert re.search(r'<span class="figure">4</span>\s*jeux de données', page)
    assert len(cards(page)) == 4


@pytest.mark.browser
def test_a_visitor_searches_refines_and_sorts_the_catalogue_in_a_browser(
        app: Any, live_server: str, page: Any, screenshot: Any) -> None:
    seed(app)
    page.goto(live_server + "/catalogue")
    page.get_by_label("Rechercher dans le catalogue").fill("ecole")
    results = page.locator(".result-count")
    expect(results).to_contain_text("2 jeux de données")   # live, through htmx
    assert page.locator(".dataset-card h3").all_inner_texts() == [
        "Écoles élémentaires", "Écoles maternelles"]
    page.get_by_role("navigation", name="Affiner les résultats").get_by_role(
        "link", name=re.compile("Ville de Lyon")).click()
    page.wait_for_url(re.compile(r".*organisation=lyon.*"))
    expect(page.get_by_role("list", name="Filtres actifs")).to_contain_text("Ville de Lyon")
    page.get_by_label("Trier par").select_option("-modified")
    expect(page).to_have_url(re.compile(r".*sort=-modified.*"))
    expect(results).to_contain_text("2 jeux de données")
    screenshot(page, "web-catalogue-facets")
    problems = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    assert problems == []
    page.goto(live_server + "/")
    assert [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize("who", ["anonymous", "viewer", "partner"])
@pytest.mark.parametrize("search", ["ecoles", "École", "ecole", "écoles", ""])
def test_the_web_page_the_explore_api_and_the_cli_list_the_same_datasets_in_the_same_order(
        app: Any, who: str, search: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """For each kind of viewer, the visible set, its total and the ranking are one: the web
    catalogue, the Explore catalogue API and ``mutuelle datasets list --as``."""
    import json

    from typer.testing import CliRunner

    from mutuelle.cli import app as cli

    from http_testing import LOOPBACK, member_key  # type: ignore[import-not-found]

    seed(app)
    settings = app.state.settings
    emails = {"viewer": "vera@lyon.example", "partner": "paul@partenaire.example"}
    headers: dict[str, str] = {}
    if who == "viewer":
        headers = member_key(settings, emails[who], roles={"lyon": "viewer"})
    elif who == "partner":
        headers = member_key(settings, emails[who])
        with app.state.sessions() as session:
            accounts.add_to_group(session, accounts.get_group(session, "partenaires"),
                                  accounts.get_user(session, emails[who]))
            session.commit()
    expected = {"anonymous": {"ecoles-maternelles", "ecoles-elementaires", "budget", "revenus"},
                "viewer": set(DATASETS) - {"cantines"},
                "partner": set(DATASETS) - {"effectifs"}}[who]
    sort = {} if search else {"sort": "title"}

    with TestClient(app, client=LOOPBACK, headers=headers) as visitor:
        page = visitor.get("/catalogue", params={"q": search, **sort}).text
        on_page = cards(page)
        total_on_page = int(re.search(r'class="result-count"[^>]*>\s*(\d+)', page).group(1))
        explore = visitor.get("/api/explore/v2.1/catalog/datasets",
                              params={"q": search, "limit": 100, **(
                                  {} if search else {"order_by": "title"})}).json()
        by_api = [d["dataset_id"] for d in explore["results"]]

    monkeypatch.setenv("MUTUELLE_HOME", str(settings.home))
    if settings.database_url:
        monkeypatch.setenv("MUTUELLE_DATABASE_URL", settings.database_url)
    done = CliRunner().invoke(cli, ["datasets", "list", "--json", "--as", emails.get(who, who),
                                    *(["--q", search] if search else ["--sort", "title"])])
    assert done.exit_code == 0, done.output
    listed = json.loads(done.stdout)
    by_cli = [d["slug"] for d in listed["datasets"]]

    if search:   # ranked alike everywhere
        assert on_page == by_api == by_cli, (who, search)
    else:        # by title: French order on the page and the CLI; ODSQL's order_by is binary
        assert on_page == by_cli and sorted(by_api) == sorted(by_cli), who
    assert total_on_page == explore["total_count"] == listed["total"] == len(by_cli)
    if search:   # every spelling finds the schools, the two public ones first
        assert set(by_cli) <= expected and {"ecoles-maternelles", "ecoles-elementaires"} <= set(by_cli)
        assert set(by_cli[:2]) == {"ecoles-maternelles", "ecoles-elementaires"}
    else:
        assert set(by_cli) == expected
