"""Explore API v2.1 catalogue endpoints, and the catalogue seen the same way through the web page,
the Explore API and the native API by every kind of viewer."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mutuelle.access import accounts
from mutuelle.access.policy import OPERATOR
from mutuelle.app import create_app
from mutuelle.catalog import repository as repo
from mutuelle.core.config import Settings
from mutuelle.members import workflow

from http_testing import LOOPBACK, admin_key, member_key  # type: ignore[import-not-found]

CATALOG = "/api/explore/v2.1/catalog"


def test_catalog_lists_datasets_in_opendatasoft_shape(public_api: TestClient) -> None:
    body = public_api.get(f"{CATALOG}/datasets").json()
    assert body["total_count"] == 1
    dataset = body["results"][0]
    assert dataset["dataset_id"] == "offres"
    assert dataset["metas"]["default"]["title"] == "Offres d'emploi"
    assert dataset["metas"]["default"]["records_count"] == 8
    assert {"name": "code_commune", "type": "text"}.items() <= next(
        f for f in dataset["fields"] if f["name"] == "code_commune").items()


def test_catalog_where_select_and_facets(api: TestClient) -> None:
    body = api.get(f"{CATALOG}/datasets", params={"where": "records_count > 5",
                                                  "select": "dataset_id, records_count"}).json()
    assert body == {"total_count": 1, "results": [{"dataset_id": "offres", "records_count": 8}]}
    facets = api.get(f"{CATALOG}/facets", params={"facet": "publisher"}).json()["facets"][0]
    assert facets["facets"] == [{"name": "Lyon", "count": 2, "state": "displayed", "value": "Lyon"}]


def test_one_dataset_and_unknown_dataset(public_api: TestClient) -> None:
    assert public_api.get(f"{CATALOG}/datasets/offres").json()["dataset_id"] == "offres"
    assert public_api.get(f"{CATALOG}/datasets/brouillon").status_code == 404


def test_catalog_exports(public_api: TestClient) -> None:
    rows = list(csv.reader(io.StringIO(public_api.get(f"{CATALOG}/exports/csv",
                                                      params={"select": "dataset_id, title"}).text), delimiter=";"))
    assert rows == [["dataset_id", "title"], ["offres", "Offres d'emploi"]]
    assert public_api.get(f"{CATALOG}/exports/json").json()[0]["dataset_id"] == "offres"
    assert public_api.get(f"{CATALOG}/exports/xml").status_code == 404


def test_catalog_bad_query_names_the_clause(public_api: TestClient) -> None:
    response = public_api.get(f"{CATALOG}/datasets", params={"where": "records_count >"})
    assert response.status_code == 400 and "where" in response.json()["message"]


# -- one catalogue through the web page, the Explore API and the native API --------------------

#: slug: (organisation, title, access or "draft", themes)
SCHOOLS = {
    "ecoles-maternelles": ("lyon", "Écoles maternelles", "public", ["Éducation"]),
    "liste-des-ecoles": ("issy", "Liste des écoles d'Issy", "public", ["Éducation"]),
    "effectifs-ecoles": ("lyon", "Effectifs internes des écoles", "internal", ["Éducation"]),
    "ecoles-partenaires": ("lyon", "Écoles : données des partenaires", "restricted", ["Santé"]),
    "ecoles-brouillon": ("lyon", "Écoles en brouillon", "draft", ["Éducation"]),
    "ecologie": ("issy", "Écologie urbaine", "public", ["Environnement"]),
    "budget": ("issy", "Budget primitif", "public", ["Finances"]),
}
VIEWERS = ("anonymous", "member", "editor", "partner", "admin")
#: What each viewer may see of SCHOOLS (the rules of access.policy, spelled out).
SEES = {
    "anonymous": {"ecoles-maternelles", "liste-des-ecoles", "ecologie", "budget"},
    "member": {"ecoles-maternelles", "liste-des-ecoles", "ecologie", "budget", "effectifs-ecoles"},
    "partner": {"ecoles-maternelles", "liste-des-ecoles", "ecologie", "budget", "ecoles-partenaires"},
    "editor": set(SCHOOLS),
    "admin": set(SCHOOLS),
}


@pytest.fixture(scope="module")
def schools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = Settings(home=tmp_path_factory.mktemp("schools") / "home", duckdb_memory_limit="512MB")
    app = create_app(settings)
    with app.state.sessions() as session:
        orgs = {slug: repo.create_organisation(session, name=name, slug=slug)
                for slug, name in (("lyon", "Ville de Lyon"), ("issy", "Issy-les-Moulineaux"))}
        group = accounts.create_group(session, name="Analystes CPAM", slug="cpam")
        for slug, (org, title, access, themes) in SCHOOLS.items():
            dataset = workflow.create_dataset(session, OPERATOR, orgs[org], title=title, slug=slug,
                                              access="public" if access == "draft" else access,
                                              themes=themes, keywords=["écoles"] if "ecoles" in slug else [])
            dataset.status = "draft" if access == "draft" else "published"
            session.flush()
            if access == "restricted":
                accounts.grant(session, "dataset", dataset.id, group=group)
        session.commit()
    headers = {"anonymous": {}, "admin": admin_key(settings),
               "member": member_key(settings, "member@tests.example", roles={"lyon": "viewer"}),
               "editor": member_key(settings, "editor@tests.example", roles={"lyon": "editor"}),
               "partner": member_key(settings, "partner@tests.example")}
    with app.state.sessions() as session:
        accounts.add_to_group(session, group, accounts.get_user(session, "partner@tests.example"))
        session.commit()
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        yield client, headers


def _web(client: TestClient, headers: dict[str, str], **params: str) -> tuple[int, list[str], dict[str, list[tuple[str, int]]]]:
    html = client.get("/catalogue", params=params, headers=headers).text
    total = int(re.search(r'class="result-count" role="status">\s*(\d+)', html).group(1))  # type: ignore[union-attr]
    slugs = re.findall(r'<li class="dataset-card">\s*<h3><a href="/datasets/([^"]+)"', html)
    facets = {}
    for name, body in re.findall(r'<section class="facet" aria-labelledby="facet-(\w+)">(.*?)</section>', html, re.S):
        facets[name] = [(re.sub(r"\s+", " ", label).strip(), int(n)) for label, n in re.findall(
            r'<a href="[^"]*"[^>]*>\s*([^<]*?)\s*<span class="facet-count">\((\d+)\)</span>', body)]
    return total, slugs, facets


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_face_of_the_catalogue_shows_the_same_datasets_in_the_same_order(schools, viewer: str) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    who = headers[viewer]
    native = client.get("/api/datasets", params={"q": "ecoles", "limit": 100}, headers=who).json()
    explore = client.get(f"{CATALOG}/datasets", params={"where": 'search("ecoles")', "limit": 100},
                         headers=who).json()
    by_q = client.get(f"{CATALOG}/datasets", params={"q": "ecoles", "limit": 100}, headers=who).json()
    total, web_slugs, _ = _web(client, who, q="ecoles")
    order = [d["slug"] for d in native["results"]]
    assert set(order) == SEES[viewer] - {"ecologie", "budget"}
    assert [d["dataset_id"] for d in explore["results"]] == order
    assert [d["dataset_id"] for d in by_q["results"]] == order
    assert web_slugs == order
    assert native["total_count"] == explore["total_count"] == by_q["total_count"] == total == len(order)
    everything = client.get(f"{CATALOG}/datasets", params={"limit": 100}, headers=who).json()
    assert {d["dataset_id"] for d in everything["results"]} == SEES[viewer]


@pytest.mark.parametrize("viewer", VIEWERS)
def test_facets_are_the_same_on_the_page_and_in_the_explore_api(schools, viewer: str) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    facets = client.get(f"{CATALOG}/facets", params={"facet": ["theme", "organisation"], "q": "école"},
                        headers=headers[viewer]).json()["facets"]
    explore = {f["name"]: [(v["name"], v["count"]) for v in f["facets"]] for f in facets}
    _, _, web = _web(client, headers[viewer], q="école")
    assert web["theme"] == explore["theme"]
    assert web["organisation"] == explore["organisation"]
    assert sum(n for _, n in explore["organisation"]) == len(SEES[viewer] - {"ecologie", "budget"})


def test_every_spelling_of_ecoles_ranks_the_same_datasets_first_over_http(schools) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    firsts = {q: [d["dataset_id"] for d in client.get(f"{CATALOG}/datasets", params={"q": q},
                                                      headers=headers["admin"]).json()["results"]]
              for q in ("ecoles", "École", "ecole", "écoles")}
    assert len({tuple(v) for v in firsts.values()}) == 1, firsts
    assert "ecologie" not in firsts["ecoles"]


def test_search_combines_with_odsql_filters_and_refines(schools) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    body = client.get(f"{CATALOG}/datasets", params={
        "where": 'search("ecoles") and publisher = "Ville de Lyon"', "select": "dataset_id",
        "limit": 100}, headers=headers["admin"]).json()
    assert {r["dataset_id"] for r in body["results"]} == {
        "ecoles-maternelles", "effectifs-ecoles", "ecoles-partenaires", "ecoles-brouillon"}
    refined = client.get(f"{CATALOG}/datasets", params={"refine": "theme:Éducation", "q": "ecoles",
                                                          "select": "dataset_id"}).json()
    assert {r["dataset_id"] for r in refined["results"]} == {"ecoles-maternelles", "liste-des-ecoles"}
    excluded = client.get(f"{CATALOG}/datasets", params={"exclude": "theme:Éducation",
                                                           "select": "dataset_id"}).json()
    assert {r["dataset_id"] for r in excluded["results"]} == {"ecologie", "budget"}


def test_an_access_change_shows_at_the_next_call(schools) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    def seen() -> set[str]:
        return {d["dataset_id"] for d in client.get(f"{CATALOG}/datasets", params={"limit": 100}).json()["results"]}
    assert "budget" in seen()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        workflow.set_access(session, OPERATOR, repo.get_dataset(session, "budget"), "internal")
        session.commit()
    assert "budget" not in seen()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        workflow.set_access(session, OPERATOR, repo.get_dataset(session, "budget"), "public")
        session.commit()
    assert "budget" in seen()


@pytest.mark.parametrize("url, params, status, words", [
    ("/api/datasets", {"q": "?!…"}, 400, "no letter nor digit"),
    (f"{CATALOG}/datasets", {"q": "?!…"}, 400, "no letter nor digit"),
    (f"{CATALOG}/datasets", {"where": 'search("--")'}, 400, "no letter nor digit"),
    (f"{CATALOG}/datasets", {"where": "search('" + "mot " * 40 + "')"}, 400, "at most 32 words"),
    (f"{CATALOG}/datasets", {"q": "x" * 501}, 400, "500"),   # Explore: 400, as Opendatasoft
    (f"{CATALOG}/datasets", {"order_by": "colour"}, 400, "colour"),
    (f"{CATALOG}/facets", {"facet": "colour"}, 400, "colour"),
    (f"{CATALOG}/exports/csv", {"q": "!!"}, 400, "no letter nor digit"),
])
def test_bad_catalogue_queries_are_refused_clearly(schools, url: str, params: dict[str, str],
                                                   status: int, words: str) -> None:  # type: ignore[no-untyped-def]
    client, _ = schools
    response = client.get(url, params=params)
    assert response.status_code == status, response.text
    assert words in response.text


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet", "xlsx", "dcat"])
def test_catalogue_exports_stream_what_the_caller_may_see(schools, fmt: str) -> None:  # type: ignore[no-untyped-def]
    client, headers = schools
    for viewer in ("anonymous", "partner"):
        response = client.get(f"{CATALOG}/exports/{fmt}", headers=headers[viewer])
        assert response.status_code == 200, response.text
        if fmt in ("csv", "json", "jsonl", "dcat"):
            text = response.text
            for slug in SCHOOLS:
                assert (f"/datasets/{slug}" in text or f'"{slug}"' in text or f"{slug};" in text) \
                    == (slug in SEES[viewer]), (viewer, slug)
    assert client.get(f"{CATALOG}/exports/geojson").status_code == 404


# -- the producer: a field of the native API, Opendatasoft's publisher, DCAT's creator ------------

def test_the_producer_is_edited_through_the_api_and_shown_as_opendatasofts_publisher(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    from portal import make_portal  # type: ignore[import-not-found]

    api = make_portal(tmp_path_factory.mktemp("producer"))
    metas = lambda: api.get(f"{CATALOG}/datasets/offres").json()["metas"]["default"]  # noqa: E731
    assert api.get("/api/datasets/offres").json()["producer"] == ""
    assert metas()["publisher"] == "Lyon"   # no producer: the organisation publishing it
    producer = "France Travail Auvergne-Rhône-Alpes"
    changed = api.patch("/api/datasets/offres", json={"producer": producer})
    assert changed.status_code == 200 and changed.json()["producer"] == producer
    assert api.get("/api/datasets/offres").json()["producer"] == producer
    assert metas()["publisher"] == producer
    found = api.get(f"{CATALOG}/datasets", params={"where": f'publisher = "{producer}"',
                                                   "select": "dataset_id, publisher"}).json()
    assert found == {"total_count": 1, "results": [{"dataset_id": "offres", "publisher": producer}]}
    facets = api.get(f"{CATALOG}/facets", params={"facet": "publisher"}).json()["facets"][0]["facets"]
    assert {(f["name"], f["count"]) for f in facets} == {(producer, 1), ("Lyon", 1)}
    assert [d["slug"] for d in api.get("/api/datasets", params={"q": "France Travail"}).json()[
        "results"]] == ["offres"]   # the producer's words are searched
    turtle = api.get(f"{CATALOG}/exports/dcat").text
    offres = turtle.split("/datasets/offres> a dcat:Dataset", 1)[1].split(" .\n", 1)[0]
    assert 'dct:publisher [ a foaf:Organization ; foaf:name "Lyon" ]' in offres
    assert f'dct:creator [ a foaf:Agent ; foaf:name "{producer}" ]' in offres
    brouillon = turtle.split("/datasets/brouillon> a dcat:Dataset", 1)[1].split(" .\n", 1)[0]
    assert "dct:creator" not in brouillon   # no producer: the publisher alone
    # refusals name the field; "" gives the organisation back
    too_long = api.patch("/api/datasets/offres", json={"producer": "x" * 301})
    assert too_long.status_code == 422 and "producer" in too_long.text
    control = api.patch("/api/datasets/offres", json={"producer": "INSEE\u0007"})
    assert control.status_code == 422 and "producer" in control.text
    assert api.patch("/api/datasets/offres", json={"producer": ""}).json()["producer"] == ""
    assert metas()["publisher"] == "Lyon"
    created = api.post("/api/datasets", json={"organisation": "lyon", "title": "Recensement",
                                              "producer": "INSEE"})
    assert created.status_code == 201 and created.json()["producer"] == "INSEE"
