"""The observatory's pages through the real app: the map page without JavaScript (form,
legend, table), crossing, scenarios (save, permalink, embed, copy, delete, 404), gallery,
territory search and portrait; every message of these pages translated."""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.catalog.repository import fold
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

RATE = "demandeurs-pour-100-actifs"      # has secret IRIS
OTHER = "taux-non-recours-c2s"
IRIS = "960120101"
WEB = Path(__file__).resolve().parents[2] / "mutuelle" / "web"


# --- the demo portal, built once per session and copied for each module ---------------------

@pytest.fixture(autouse=True)
def french_first(demo_api: TestClient) -> None:
    """Each test starts in French: ``?lang=en`` leaves a cookie on the shared client."""
    demo_api.cookies.clear()


def main_text(html: str) -> str:
    """The text of the page's main landmark, tags removed, entities decoded, spaces collapsed."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main)))


def embedded(html: str, element_id: str) -> object:
    """The JSON of ``<script type="application/json" id=...>``."""
    found = re.search(rf'<script type="application/json" id="{element_id}"[^>]*>(.*?)</script>',
                      html, re.S)
    assert found, element_id
    return json.loads(found.group(1))


def save(client: TestClient, title: str = "Chômage par IRIS", access: str = "public",
         **state: object) -> str:
    """Save a scenario through the page's form; returns its id."""
    full = {"indicator": RATE, "level": "iris", "center": [4.6, 45.3], "zoom": 11.5, **state}
    response = client.post("/scenarios", data={"title": title, "comment": "Nord et sud.",
                                               "access": access, "state": json.dumps(full)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/s/[0-9a-z]{8}\?saved=1", location)
    return location.split("/s/")[1].split("?")[0]


# --- the map page ---------------------------------------------------------------------------

def test_the_map_page_works_without_javascript(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Carte des indicateurs" in text
    for label in ("Indicateur", "Croiser avec un second indicateur", "Découpage",
                  "Méthode de classement", "Nombre de classes", "Palette de couleurs"):
        assert f">{label}</label>" in page.text
    assert '<form id="map-form" class="obs-form" action="/observatoire" method="get"' in page.text
    assert "Légende" in text and "Secret statistique" in text and "Pas de donnée" in text
    assert "Tableau des valeurs" in text and "<table>" in page.text
    config = embedded(page.text, "map-config")
    assert config["tiles"] == "/tiles/{level}/{z}/{x}/{y}.mvt" and config["basemap_url"] is None
    assert config["level"] == "iris" and len(config["bounds"]) == 4
    assert demo_api.get("/observatoire/carte").status_code == 200


def test_the_levels_offered_are_those_with_territories_to_compare(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire")
    select = page.text.split('<select id="level" name="level">')[1].split("</select>")[0]
    offered = re.findall(r'<option value="(\w+)"', select)
    assert offered == ["iris", "qpv", "commune"]  # one EPCI and one whole territory: no map


def test_a_base_map_is_optional_and_comes_from_a_setting(demo_home: Path) -> None:
    style = "https://tuiles.example.org/style.json"
    app = create_app(Settings(home=demo_home, basemap_url=style))
    with TestClient(app, client=LOOPBACK) as client:
        config = embedded(client.get("/observatoire").text, "map-config")
    assert config["basemap_url"] == style  # type: ignore[index]


def test_only_the_pages_with_a_map_load_the_map_library(demo_api: TestClient) -> None:
    assert "maplibre-gl" in demo_api.get("/observatoire").text
    assert 'src="/static/js/map.js"' in demo_api.get("/observatoire").text
    for path in ("/", "/catalogue", "/scenarios", "/territoires", f"/territoires/iris/{IRIS}"):
        assert "maplibre" not in demo_api.get(path).text, path


def test_the_map_page_shows_the_chosen_classification(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "level": "commune",
                                            "method": "equal", "classes": 4, "palette": "YlOrRd"})
    assert page.status_code == 200
    data = embedded(page.text, "map-data")
    view = data["choropleth"]
    assert (view["level"], view["method"], view["classes"], view["palette"]) == (
        "commune", "equal", 4, "YlOrRd")
    assert data["state"]["indicator"] == RATE
    legend = page.text.split('data-part="legend"')[1].split("</section>")[0]
    assert legend.count('class="swatch"') == 4
    assert 'value="equal" selected' in page.text and 'value="4" selected' in page.text
    assert "Intervalles égaux" in main_text(page.text)
    assert len(re.findall(r'<tr data-code="96\d{3}">', page.text)) == 8


def details_of(client: TestClient, html: str) -> dict:  # type: ignore[type-arg]
    """The tooltips' details map.js fetches for the state of a page."""
    url = embedded(html, "map-data")["details_url"]  # type: ignore[index]
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def published(client: TestClient, indicator: str, level: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """code -> the API's value row."""
    rows = client.get(f"/api/indicators/{indicator}/values", params={"level": level}).json()["results"]
    return {row["code"]: row for row in rows}


def test_secret_cells_are_shown_as_secret_never_as_a_number(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "level": "iris"})
    # the page's data holds classes, not territories; the tooltips' details hold no values
    assert "columns" not in embedded(page.text, "map-data")["choropleth"]  # type: ignore[index]
    details = details_of(demo_api, page.text)
    assert set(details["columns"]) == {"code", "name", "rank", "parent"}
    rank = dict(zip(details["columns"]["code"], details["columns"]["rank"], strict=True))
    values = published(demo_api, RATE, "iris")
    secret = [code for code, row in values.items() if row["status"] == "secret"]
    assert secret
    for code in secret:
        assert rank[code] is None
        row = page.text.split(f'<tr data-code="{code}">')[1].split("</tr>")[0]
        assert '<span class="status-secret">secret</span>' in row
        assert not re.search(r'<td class="num">\s*\d', row.split("</td>", 2)[1])


def test_the_tooltips_details_rank_every_territory_and_name_its_parent(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "level": "iris"})
    details = details_of(demo_api, page.text)
    columns = details["columns"]
    values = published(demo_api, RATE, "iris")
    assert set(columns["code"]) == set(values)  # every IRIS, not only the table's rows
    ok = {code: row["value"] for code, row in values.items() if row["status"] == "ok"}
    assert details["ranked"] == len(ok)
    for code, rank in zip(columns["code"], columns["rank"], strict=True):
        if code in ok:
            assert rank == 1 + sum(1 for v in ok.values() if v > ok[code])
    communes = published(demo_api, RATE, "commune")
    for code, parent in zip(columns["code"], columns["parent"], strict=True):
        assert parent == code[:5]
        assert details["parents"][parent]["name"] == communes[parent]["name"]
        assert details["parents"][parent]["value"] == pytest.approx(communes[parent]["value"], rel=1e-5)
    # a bad state is refused with the field named
    for params, field in (({"indicator": RATE, "classes": "x"}, "classes"),
                          ({"indicator": "nope"}, "indicator")):
        bad = demo_api.get("/observatoire/details", params=params)
        assert bad.status_code == 400 and field in bad.text, bad.text


def table_codes(html: str) -> list[str]:
    table = html.split('data-part="table"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<tr data-code="([^"]+)">', table)


def test_the_table_of_values_is_read_page_by_page(demo_home: Path) -> None:
    settings = Settings(home=demo_home, duckdb_memory_limit="512MB", table_rows=100)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(settings)) as client:
        params = {"indicator": RATE, "level": "iris"}
        everything = published(client, RATE, "iris")
        names = {code: row["name"] for code, row in everything.items()}
        seen: list[str] = []
        url = "/observatoire?" + "&".join(f"{k}={v}" for k, v in params.items())
        for number, size in ((1, 100), (2, 100), (3, 67)):
            page = client.get(url)
            assert page.status_code == 200
            codes = table_codes(page.text)
            assert len(codes) == size
            text = main_text(page.text)
            assert f"Territoires {(number - 1) * 100 + 1} à {(number - 1) * 100 + size} sur 267" in text
            assert f"page {number} sur 3" in text
            seen += codes
            links = {rel: html_lib.unescape(href) for href, rel in
                     re.findall(r'<a href="([^"]+)" data-page="\d+" rel="(prev|next)"', page.text)}
            assert ("prev" in links) == (number > 1) and ("next" in links) == (number < 3)
            if number < 3:
                assert f"page={number + 1}" in links["next"] and f"indicator={RATE}" in links["next"]
                url = links["next"]
        # every territory once, by name (accents and case aside, as a reader sorts them)
        assert sorted(seen) == sorted(everything)
        assert [names[c] for c in seen] == sorted((names[c] for c in seen), key=fold)
        # the panel gives the same page; beyond the last page, the last one
        panel = client.get("/observatoire/panneau", params={**params, "page": 2})
        assert table_codes(panel.text) == seen[100:200]
        assert table_codes(client.get("/observatoire", params={**params, "page": 99}).text) == seen[200:]
        # a wrong page is a 400 naming it
        for wrong in ("0", "x", "-1"):
            bad = client.get("/observatoire", params={**params, "page": wrong})
            assert bad.status_code == 400 and "page" in bad.text
        # a scenario's pages stay on the scenario's address
        sid = save(client, "Pages")
        scenario = client.get(f"/s/{sid}")
        assert f'href="/s/{sid}?page=2"' in scenario.text
        assert table_codes(client.get(f"/s/{sid}?page=2").text) == seen[100:200]


def test_manual_breaks_are_used_for_the_manual_method_only(demo_api: TestClient) -> None:
    manual = demo_api.get("/observatoire", params={"indicator": RATE, "method": "manual",
                                              "classes": 4, "breaks": "5;10;15"})
    assert embedded(manual.text, "map-data")["choropleth"]["breaks"][1:4] == [5, 10, 15]
    other = demo_api.get("/observatoire", params={"indicator": RATE, "method": "quantile",
                                             "breaks": "5;10;15"})
    assert other.status_code == 200


def legend_notes(html: str) -> dict[str, str]:
    """The notes of the legend on the classes made: code -> text."""
    return {code: re.sub(r"\s+", " ", html_lib.unescape(text)).strip() for code, text in
            re.findall(r'<p class="alert alert-info" data-class-note="(\w+)">(.*?)</p>', html, re.S)}


@pytest.fixture(scope="module")
def four_values(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> TestClient:
    """A portal whose only indicator, hence the map's default, has 4 distinct values over
    Lyon's 358 IRIS (the map page once answered 400 to everyone there)."""
    from mutuelle.catalog import repository as repo
    from mutuelle.geo.referential import import_territories
    from mutuelle.ingest.service import import_file
    from mutuelle.observatory.indicators import define_indicator

    home = tmp_path_factory.mktemp("four_values")
    settings = Settings(home=home / "home", duckdb_memory_limit="512MB")
    app = create_app(settings)
    iris = fixtures_dir / "geo" / "iris-lyon-2012.geojson"
    codes = sorted(f["properties"]["id"] for f in json.loads(iris.read_text())["features"])
    csv = home / "logements.csv"
    csv.write_text("code_iris;logements\n" + "".join(
        f"{code};{100 * (1 + i % 4)}\n" for i, code in enumerate(codes)), encoding="utf-8")
    with app.state.sessions() as session:
        import_territories(session, settings, iris, level="iris", vintage=2012, cog=False)
        org = repo.create_organisation(session, name="Ville", slug="ville")
        dataset = repo.create_dataset(session, organisation=org, title="Logements",
                                      slug="logements")
        session.commit()
        import_file(session, settings, dataset, csv)
        repo.publish_dataset(session, dataset)
        define_indicator(session, id="logements", label="Logements", dataset="logements",
                         numerator="logements", code_column="code_iris", vintage=2012)
        session.commit()
    return TestClient(app, client=LOOPBACK, raise_server_exceptions=False)


def test_a_default_indicator_with_fewer_values_than_classes_opens_with_a_note(
        four_values: TestClient) -> None:
    page = four_values.get("/observatoire")   # 5 quantile classes by default
    assert page.status_code == 200, page.text
    view = embedded(page.text, "map-data")["choropleth"]
    assert view["classes_asked"] == 5 and view["classes"] == len(view["colors"]) == 4
    assert view["counts"] == [90, 90, 89, 89]
    assert legend_notes(page.text) == {
        "few_values": "Seulement 4 valeurs distinctes : 4 classes au lieu de 5."}
    assert "4 classes" in main_text(page.text) and 'role="alert"' not in page.text
    english = four_values.get("/observatoire", params={"lang": "en", "classes": 9,
                                                       "method": "jenks"})
    assert legend_notes(english.text) == {
        "few_values": "Only 4 distinct values: 4 classes instead of 9."}
    panel = four_values.get("/observatoire/panneau", params={"method": "equal"})
    assert panel.status_code == 200 and "few_values" in legend_notes(panel.text)
    api = four_values.get("/api/indicators/logements/classes", params={"classes": 6}).json()
    assert (api["classes"], api["classes_asked"]) == (4, 6) and "there are 4" in api["note"]


def test_manual_breaks_that_do_not_fit_are_a_note_not_an_error_page(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "method": "manual",
                                                 "classes": 4, "breaks": "15;5;10;500"})
    assert page.status_code == 200, page.text
    assert embedded(page.text, "map-data")["choropleth"]["breaks"][1:4] == [5, 10, 15]
    notes = legend_notes(page.text)
    assert list(notes) == ["breaks_order", "breaks_count", "breaks_outside"]
    assert notes["breaks_order"] == ("Les seuils choisis ont été remis dans l’ordre croissant, "
                                     "sans doublon.")
    assert notes["breaks_outside"].startswith("Un seuil hors des valeurs (de ")
    assert notes["breaks_outside"].endswith("laisserait une classe vide : il est ignoré (500).")
    # saved as a scenario, the same state opens with the same notes
    sid = save(demo_api, method="manual", classes=4, breaks=[15, 5, 10, 500])
    assert list(legend_notes(demo_api.get(f"/s/{sid}").text)) == list(notes)
    assert list(legend_notes(demo_api.get(f"/s/{sid}/embed").text)) == list(notes)


@pytest.mark.parametrize(("params", "words"), [
    ({"classes": "12"}, ("classes",)), ({"level": "planet"}, ("level", "niveau")),
    ({"method": "kmeans"}, ("method", "méthode")), ({"indicator": "nope"}, ("indicator", "indicateur")),
    ({"within": "planet:1"}, ("within",)), ({"zoom": "near"}, ("zoom",)),
    ({"sort": "colour"}, ("sort", "tri")),
])
def test_a_refused_map_state_keeps_the_form_and_says_why(
        demo_api: TestClient, params: dict[str, str], words: tuple[str, ...]) -> None:
    page = demo_api.get("/observatoire", params=params)
    assert page.status_code == 400
    alert = page.text.split('role="alert"')[1].split("</div>")[0]
    assert any(word in alert for word in words), alert
    assert '<form id="map-form"' in page.text
    panel = demo_api.get("/observatoire/panneau", params=params)
    assert panel.status_code == 400 and 'role="alert"' in panel.text


def test_two_indicators_crossed_give_a_bivariate_legend_and_the_pairs_table(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "indicator2": OTHER})
    assert page.status_code == 200
    data = embedded(page.text, "map-data")
    assert data["mode"] == "bivariate" and len(data["crossing"]["colors"]) == 9
    text = main_text(page.text)
    assert "Corrélation (Pearson) : r = " in text
    assert 'class="bivariate-grid"' in page.text
    assert 'id="scatter"' in page.text
    assert "Terciles (1er × 2d indicateur)" in text


def test_the_panel_is_the_legend_the_crossing_and_the_table_of_one_state(demo_api: TestClient) -> None:
    panel = demo_api.get("/observatoire/panneau", params={"indicator": RATE, "level": "commune"})
    assert panel.status_code == 200
    assert "<html" not in panel.text
    for part in ("legend", "crossing", "table", "data"):
        assert f'data-part="{part}"' in panel.text
    assert embedded(panel.text, "map-data")["choropleth"]["level"] == "commune"


def test_the_map_is_limited_to_one_commune(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "within": "commune:96012"})
    codes = embedded(page.text, "map-data")["choropleth"]["inside"]  # type: ignore[index]
    assert codes and all(c.startswith("96012") for c in codes)
    assert set(details_of(demo_api, page.text)["columns"]["code"]) == set(codes)
    assert 'value="commune:96012" selected' in page.text


def test_the_map_page_is_in_english_too(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"lang": "en", "indicator": RATE})
    text = main_text(page.text)
    assert "Indicator map" in text and "Classification method" in text
    assert "Statistical secrecy" in text
    assert embedded(page.text, "obs-messages")["secret"] == "confidential"  # type: ignore[index]


# --- scenarios ------------------------------------------------------------------------------

def test_a_saved_scenario_opens_by_its_permalink_with_the_same_state(demo_api: TestClient) -> None:
    sid = save(demo_api, classes=7, method="jenks", indicator2=OTHER)
    page = demo_api.get(f"/s/{sid}?saved=1")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Chômage par IRIS" in text and "Nord et sud." in text
    assert "Le scénario est enregistré." in text
    state = embedded(page.text, "map-config")["state"]  # type: ignore[index]
    assert (state["indicator"], state["indicator2"], state["classes"], state["method"]) == (
        RATE, OTHER, 7, "jenks")
    assert state["center"] == [4.6, 45.3] and state["zoom"] == 11.5
    assert f'value="http://testserver/s/{sid}"' in page.text
    assert f'<iframe src="http://testserver/s/{sid}/embed"' in html_lib.unescape(page.text)
    assert 'value="jenks" selected' in page.text


def test_the_embed_mode_has_no_site_chrome_and_may_be_framed(demo_api: TestClient) -> None:
    sid = save(demo_api)
    page = demo_api.get(f"/s/{sid}/embed")
    assert page.status_code == 200
    assert "site-header" not in page.text and "site-footer" not in page.text
    assert "map-form" not in page.text and 'src="/static/js/map.js"' in page.text
    assert page.headers["content-security-policy"] == "frame-ancestors *"
    assert "x-frame-options" not in page.headers
    assert f'href="http://testserver/s/{sid}"' in page.text


def test_an_unknown_or_deleted_scenario_is_a_clear_404(demo_api: TestClient) -> None:
    for path in ("/s/nope1234", "/s/nope1234/embed"):
        page = demo_api.get(path)
        assert page.status_code == 404
        assert "Scénario introuvable" in page.text and "n’existe pas ou n’existe plus" in page.text
    sid = save(demo_api)
    deleted = demo_api.post(f"/s/{sid}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/scenarios?deleted=1"
    assert demo_api.get(f"/s/{sid}").status_code == 404
    assert "Le scénario est supprimé" in demo_api.get("/scenarios?deleted=1").text


def test_an_internal_scenario_is_hidden_from_anonymous_visitors(
        demo_api: TestClient, demo_public_api: TestClient) -> None:
    sid = save(demo_api, "Note interne", access="internal")
    assert demo_api.get(f"/s/{sid}").status_code == 200
    assert demo_public_api.get(f"/s/{sid}").status_code == 404
    assert demo_public_api.get(f"/s/{sid}/embed").status_code == 404
    assert "Note interne" not in demo_public_api.get("/scenarios").text
    assert "Note interne" in demo_api.get("/scenarios").text


def test_a_scenario_is_duplicated_from_its_page(demo_api: TestClient) -> None:
    sid = save(demo_api, "Original")
    response = demo_api.post(f"/s/{sid}/duplicate", follow_redirects=False)
    assert response.status_code == 303
    copy = response.headers["location"].split("/s/")[1].split("?")[0]
    assert copy != sid
    page = demo_api.get(f"/s/{copy}")
    assert "Original (copie)" in page.text and f'href="/s/{sid}"' in page.text


def test_anonymous_visitors_see_no_save_form_and_may_not_post_one(
        demo_api: TestClient, demo_public_api: TestClient) -> None:
    assert 'id="scenario-form"' in demo_api.get("/observatoire").text
    assert 'id="scenario-form"' not in demo_public_api.get("/observatoire").text
    demo_public_api.cookies.clear()  # a visitor without cookies: no CSRF nonce, only rights decide
    response = demo_public_api.post("/scenarios", data={"title": "x", "state": json.dumps({"indicator": RATE})})
    assert response.status_code == 401 and "Connexion" in response.text


def test_a_scenario_form_with_a_bad_state_is_refused(demo_api: TestClient) -> None:
    for state in ("not json", json.dumps({"indicator": RATE, "classes": 12})):
        response = demo_api.post("/scenarios", data={"title": "x", "state": state})
        assert response.status_code == 400


def test_the_gallery_lists_scenarios_newest_first_and_searches_them(demo_api: TestClient) -> None:
    older = save(demo_api, "Vieillissement des quartiers", indicator="indice-vieillissement")
    newer = save(demo_api, "Familles nombreuses", indicator="taille-menages")
    page = demo_api.get("/scenarios")
    assert page.status_code == 200
    assert page.text.index(f'href="/s/{newer}"') < page.text.index(f'href="/s/{older}"')
    assert "Indice de vieillissement" in page.text
    found = demo_api.get("/scenarios", params={"q": "vieilliss"}).text
    assert f'href="/s/{older}"' in found and f'href="/s/{newer}"' not in found


# --- territories ----------------------------------------------------------------------------

def test_my_neighbourhood_is_found_by_name_or_code(demo_api: TestClient) -> None:
    page = demo_api.get("/territoires", params={"q": "vignes"})
    assert page.status_code == 200
    assert "5 territoires trouvés" in main_text(page.text)
    assert 'href="/territoires/iris/961720701"' in page.text
    assert "Val-Sauvage" in main_text(page.text)  # each IRIS names its commune
    by_code = demo_api.get("/territoires", params={"q": IRIS})
    assert f'href="/territoires/iris/{IRIS}"' in by_code.text
    assert "Aucun territoire" in demo_api.get("/territoires", params={"q": "zzzz"}).text
    assert demo_api.get("/territoires", params={"q": "x", "level": "planet"}).status_code == 400


def test_the_portrait_compares_each_indicator_in_sentences_with_a_table_behind_each_chart(
        demo_api: TestClient) -> None:
    page = demo_api.get(f"/territoires/iris/{IRIS}")
    assert page.status_code == 200
    text = main_text(page.text)
    assert "Centre-Ville 1" in text and "Belvent-sur-Sauvagine" in text
    assert re.search(r"Plus (élevé|faible) que dans \d+ % des IRIS \(Métropole de Val-Sauvage\)", text)
    charts = page.text.count("data-bars=")
    assert charts >= 10
    assert page.text.count('class="portrait-table"') >= charts
    assert 'src="/static/js/portrait.js"' in page.text
    assert "Données synthétiques" in text


def test_a_secret_value_in_a_portrait_reads_secret_never_zero(demo_api: TestClient) -> None:
    values = demo_api.get(f"/api/indicators/{RATE}/values", params={"level": "iris"}).json()
    secret = next(r["code"] for r in values["results"] if r["status"] == "secret")
    page = demo_api.get(f"/territoires/iris/{secret}")
    card = page.text.split(f'id="ind-{RATE}"')[1].split("</article>")[0]
    assert '<p class="portrait-value"><span class="status-secret">secret</span></p>' in card
    assert "Valeur non diffusée : secret statistique" in card
    assert '"role": "self"' not in html_lib.unescape(card)


def test_an_unknown_territory_or_level_is_not_found(demo_api: TestClient) -> None:
    assert demo_api.get("/territoires/iris/000000000").status_code == 404
    assert demo_api.get("/territoires/planet/1").status_code == 404


def test_the_portrait_is_in_english_too(demo_api: TestClient) -> None:
    text = main_text(demo_api.get(f"/territoires/iris/{IRIS}", params={"lang": "en"}).text)
    assert re.search(r"(Higher|Lower) than in \d+% of IRIS", text)


# --- points layers and proportional symbols -----------------------------------------------

SCHOOLS = "etablissements-scolaires"
OFFERS = "offres-emploi-2025"
COUNT = "demandeurs-emploi"        # a sum, with secret IRIS


CONTOURS = ("iris-val-sauvage", "qpv-val-sauvage", "communes-val-sauvage")   # polygons


def points_offered(html: str) -> dict[str, bool]:
    """slug -> checked, for each points layer checkbox of the page."""
    return {m.group(1): bool(m.group(2)) for m in re.finditer(
        r'<input type="checkbox" id="points-[^"]+" name="points" value="([^"]+)"( checked)?', html)}


def test_the_point_datasets_are_offered_as_layers_and_kept_in_the_address(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire")
    assert "Couches de données" in main_text(page.text)
    # datasets with a geometry: points, and contours drawn as polygons; not the tables without
    assert set(points_offered(page.text)) == {SCHOOLS, OFFERS, *CONTOURS}
    assert 'value="population-iris-2021"' not in page.text
    config = embedded(page.text, "map-config")
    assert isinstance(config, dict) and config["points"] == []
    layers = {layer["slug"]: layer for layer in config["point_layers"]}
    assert layers[SCHOOLS]["kinds"] == ["points"]
    assert all(layers[slug]["kinds"] == ["polygons"] for slug in CONTOURS)
    assert layers[SCHOOLS]["tiles"].startswith(f"/tiles/datasets/{SCHOOLS}/{{z}}/{{x}}/{{y}}.mvt")
    assert "nom" in layers[SCHOOLS]["tiles"] and layers[SCHOOLS]["label"] == "nom"
    assert layers[SCHOOLS]["color"] != layers[OFFERS]["color"]

    # checked layers are part of the page's state, repeated or comma-separated; unknown ones dropped
    for query in (f"points={SCHOOLS}", f"points={SCHOOLS},nope", f"points={SCHOOLS}&points=nope"):
        page = demo_api.get(f"/observatoire?{query}")
        assert page.status_code == 200
        assert points_offered(page.text) == {SCHOOLS: True, OFFERS: False,
                                             **dict.fromkeys(CONTOURS, False)}
        assert embedded(page.text, "map-config")["points"] == [SCHOOLS]  # type: ignore[index]
    page = demo_api.get(f"/observatoire?points={OFFERS},{SCHOOLS}")
    assert points_offered(page.text) == {SCHOOLS: True, OFFERS: True,
                                         **dict.fromkeys(CONTOURS, False)}
    # and the tiles they point to are served
    tile = demo_api.get(layers[SCHOOLS]["tiles"].replace("{z}/{x}/{y}", "0/0/0"))
    assert tile.status_code == 200 and tile.content


def test_proportional_symbols_are_offered_for_counts_only(demo_api: TestClient) -> None:
    field = re.compile(r'<div class="field field-check" id="proportional-field"[^>]*>')
    count = demo_api.get(f"/observatoire?indicator={COUNT}")
    assert "hidden" not in field.search(count.text).group(0)  # type: ignore[union-attr]
    assert "Symboles proportionnels" in main_text(count.text)
    assert embedded(count.text, "map-data")["symbols"] is None  # type: ignore[index]
    rate = demo_api.get(f"/observatoire?indicator={RATE}&proportional=1")
    assert "hidden" in field.search(rate.text).group(0)  # type: ignore[union-attr]
    assert re.search(r'<input type="checkbox" id="proportional"[^>]* disabled>', rate.text)
    assert embedded(rate.text, "map-data")["symbols"] is None  # type: ignore[index]
    # the indicator list tells map.js which indicators are counts
    assert f'<option value="{COUNT}" data-count' in rate.text
    assert f'<option value="{RATE}" data-count' not in rate.text


def test_proportional_symbols_sit_at_centroids_and_leave_secret_values_out(demo_api: TestClient) -> None:
    page = demo_api.get(f"/observatoire?indicator={COUNT}&level=iris&proportional=1")
    assert page.status_code == 200
    assert re.search(r'<input type="checkbox" id="proportional"[^>]* checked>', page.text)
    data = embedded(page.text, "map-data")
    assert isinstance(data, dict)
    rows = published(demo_api, COUNT, "iris")
    status = {code: row["status"] for code, row in rows.items()}
    value = {code: row["value"] for code, row in rows.items()}
    secret = {code for code, s in status.items() if s == "secret"}
    assert secret, "the demo has secret IRIS for this count"
    features = data["symbols"]["geojson"]["features"]
    drawn = {f["properties"]["code"] for f in features}
    assert drawn and not drawn & secret
    assert drawn == {code for code, s in status.items() if s == "ok" and value[code] > 0}
    bounds = embedded(page.text, "map-config")["bounds"]  # type: ignore[index]
    for f in features:
        lng, lat = f["geometry"]["coordinates"]
        assert bounds[0] <= lng <= bounds[2] and bounds[1] <= lat <= bounds[3]
        assert f["properties"]["value"] == value[f["properties"]["code"]]
    assert data["symbols"]["max"] == max(f["properties"]["value"] for f in features)
    # the panel map.js fetches carries them too, at another level
    panel = demo_api.get(f"/observatoire/panneau?indicator={COUNT}&level=commune&proportional=1")
    symbols = embedded(panel.text, "map-data")["symbols"]  # type: ignore[index]
    assert len(symbols["geojson"]["features"]) == 8


def size_circles(html: str) -> list[tuple[float, float]]:
    """(value, radius) of each circle of the size legend, as drawn in its SVG."""
    legend = re.search(r"<figure class=\"size-legend\" data-size-legend>(.*?)</figure>", html, re.S)
    assert legend, "no size legend"
    return [(float(v), float(r)) for r, v in re.findall(
        r'<circle class="size-circle"[^>]* r="([0-9.]+)" data-value="([0-9.e+-]+)"', legend.group(1))]


def test_proportional_symbols_have_a_size_legend_with_the_radii_of_the_map(demo_api: TestClient) -> None:
    page = demo_api.get(f"/observatoire?indicator={COUNT}&level=iris&proportional=1")
    symbols = embedded(page.text, "map-data")["symbols"]  # type: ignore[index]
    circles = size_circles(page.text)
    assert 2 <= len(circles) <= 3
    values = [v for v, _ in circles]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
    largest = symbols["max"]
    # round values to read, the first one close to the largest (one significant digit)
    assert largest / 10 < values[0] <= largest
    for value in values:
        digits = f"{value:.0f}".rstrip("0")
        assert len(digits) == 1, value
    # each circle has the radius the map gives that value: area proportional to the value
    for value, radius in circles:
        expected = max(symbols["min_radius"], symbols["max_radius"] * (value / largest) ** 0.5)
        assert radius == pytest.approx(expected, abs=0.01)
    assert circles[0][1] <= symbols["max_radius"]
    # each value is written beside its circle, as French numbers
    legend = page.text.split("data-size-legend", 1)[1].split("</figure>", 1)[0]
    written = [html_lib.unescape(t).strip() for t in re.findall(r"<text[^>]*>([^<]+)</text>", legend)]
    assert [float(re.sub(r"\s", "", t).replace(",", ".")) for t in written] == values
    # no size legend without the symbols, nor for a ratio
    for url in (f"/observatoire?indicator={COUNT}&level=iris",
                f"/observatoire?indicator={RATE}&proportional=1"):
        assert "data-size-legend" not in demo_api.get(url).text
    # the panel map.js swaps in carries it too
    panel = demo_api.get(f"/observatoire/panneau?indicator={COUNT}&level=commune&proportional=1")
    assert size_circles(panel.text)


# --- translations ---------------------------------------------------------------------------

def observatory_messages() -> dict[str, str]:
    """msgid -> where, for every message of the observatory's templates."""
    found: dict[str, str] = {}
    options = {"trim_blocks": "true", "lstrip_blocks": "true"}
    for template in sorted((WEB / "templates" / "observatory").glob("*.html")):
        with template.open("rb") as handle:
            for line, _func, message, _c in jinja2.ext.babel_extract(
                    handle, jinja2.ext.GETTEXT_FUNCTIONS, [], options):
                msgid = message[0] if isinstance(message, tuple) else message
                found.setdefault(str(msgid), f"{template.name}:{line}")
    return found


def test_every_message_of_the_observatory_pages_is_translated_into_english() -> None:
    with (WEB / "locale" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle, locale="en")
    missing = [f"{where}: {msgid!r}" for msgid, where in observatory_messages().items()
               if catalogue.get(msgid) is None or not catalogue.get(msgid).string]
    assert not missing, "\n".join(missing)


def test_a_scenario_keeps_its_points_layers_and_proportional_symbols(demo_api: TestClient) -> None:
    sid = save(demo_api, indicator=COUNT, points=["etablissements-scolaires"], proportional=True)
    page = demo_api.get(f"/s/{sid}")
    assert page.status_code == 200
    state = embedded(page.text, "map-config")["state"]  # type: ignore[index]
    assert state["points"] == ["etablissements-scolaires"] and state["proportional"] is True
    assert 'value="etablissements-scolaires" checked' in page.text
    assert re.search(r'id="proportional" name="proportional" value="1"[^>]*checked', page.text)


# --- manual breaks, the table's order and its CSV, counts, limits ---------------------------

def legend_classes(html: str) -> int:
    legend = html.split('data-part="legend"', 1)[1].split("</section>", 1)[0]
    return len(re.findall(r'<li style="--swatch:', legend))


def test_manual_breaks_adapt_the_class_count_and_never_break_the_map(demo_api: TestClient) -> None:
    base = {"indicator": RATE, "method": "manual", "classes": 7}
    # 7 classes asked, 4 breaks given: 5 classes, and a note says why
    page = demo_api.get("/observatoire", params={**base, "breaks": "5;10;15;20"})
    assert page.status_code == 200, page.text
    view = embedded(page.text, "map-data")["choropleth"]  # type: ignore[index]
    assert (view["classes_asked"], view["classes"], view["breaks"][1:-1]) == (7, 5, [5, 10, 15, 20])
    assert legend_classes(page.text) == 5 and 'role="alert"' not in page.text
    assert legend_notes(page.text)["breaks_count"] == (
        "4 seuils choisis ne font pas 7 classes : ils servent de limites entre les classes.")
    # no break yet (the method just chosen): quantiles meanwhile, the form still on manual
    for params in ({}, {"breaks": " ; "}):
        empty = demo_api.get("/observatoire", params={**base, **params})
        assert empty.status_code == 200 and 'role="alert"' not in empty.text
        assert list(legend_notes(empty.text)) == ["breaks_missing"]
        assert embedded(empty.text, "map-data")["state"]["method"] == "quantile"  # type: ignore[index]
        assert 'value="manual" selected' in empty.text
    # what is not a number is left out, and said; French writing is read
    typo = demo_api.get("/observatoire", params={**base, "breaks": "5;dix;1 000,5;abc"})
    assert typo.status_code == 200
    assert embedded(typo.text, "map-data")["state"]["breaks"] == [5, 1000.5]  # type: ignore[index]
    notes = legend_notes(typo.text)
    assert notes["breaks_unreadable"] == "« dix », « abc » ne sont pas des nombres : ignorés."
    only_words = demo_api.get("/observatoire/panneau", params={**base, "breaks": "a;b"})
    assert only_words.status_code == 200
    assert list(legend_notes(only_words.text)) == ["breaks_unreadable", "breaks_missing"]
    # more breaks than 9 classes can hold: the 8 lowest, the others told
    ok = [r["value"] for r in published(demo_api, RATE, "iris").values() if r["status"] == "ok"]
    low, high = min(ok), max(ok)
    inside = [round(low + (high - low) * i / 15, 3) for i in range(1, 15)]
    many = demo_api.get("/observatoire", params={**base, "breaks": ";".join(map(str, inside))})
    assert many.status_code == 200 and legend_classes(many.text) == 9
    assert embedded(many.text, "map-data")["choropleth"]["breaks"][1:-1] == inside[:8]  # type: ignore[index]
    assert legend_notes(many.text)["breaks_many"].startswith(
        "Une carte a au plus 9 classes : les 8 premiers seuils servent, 6 autres sont ignorés (")
    # in English too
    english = demo_api.get("/observatoire", params={**base, "breaks": "5;x", "lang": "en"})
    assert "breaks_unreadable" in legend_notes(english.text)
    assert "« x » is not a number: left out." in legend_notes(english.text).values()
    # the API stays strict: a break that is no number is a 400 naming it
    api = demo_api.get(f"/api/indicators/{RATE}/classes",
                       params={"method": "manual", "breaks": "5;dix"})
    assert api.status_code == 400 and "dix" in api.json()["message"]


def value_cells(html: str) -> list[str]:
    """The values column of the table of values, as shown."""
    table = html.split('data-part="table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-code="[^"]+">(.*?)</tr>', table, re.S)
    return [re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", re.findall(
        r'<td class="num"[^>]*>(.*?)</td>', row, re.S)[0]))).strip() for row in rows]


def sort_header(html: str, column: str) -> str:
    return re.search(rf'<th scope="col"[^>]*>\s*<button[^>]*data-column="{column}"', html).group(0)  # type: ignore[union-attr]


def test_the_table_of_values_sorts_by_its_columns_across_its_pages(demo_home: Path) -> None:
    settings = Settings(home=demo_home, duckdb_memory_limit="512MB", table_rows=100)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(settings)) as client:
        everything = published(client, RATE, "iris")
        ok = {c: r["value"] for c, r in everything.items() if r["status"] == "ok"}
        params = {"indicator": RATE, "level": "iris", "sort": "-value"}
        page = client.get("/observatoire", params=params)
        assert page.status_code == 200
        # the value's header says the order; its button gives the other one; no other header
        # is sorted
        assert 'aria-sort="descending"' in sort_header(page.text, "value")
        assert 'value="value"' in sort_header(page.text, "value")
        assert "aria-sort" not in sort_header(page.text, "name")
        assert 'form="table-sort" name="sort" value="name"' in sort_header(page.text, "name")
        # page after page, the highest values first, then those not published
        seen: list[str] = []
        for number in (1, 2, 3):
            found = client.get("/observatoire", params={**params, "page": number})
            seen += table_codes(found.text)
            if number == 1:
                nxt = re.search(r'<a href="([^"]+)" data-page="2" rel="next"', found.text)
                assert nxt and "sort=-value" in html_lib.unescape(nxt.group(1))
        values = [ok[c] for c in seen if c in ok]
        assert values == sorted(ok.values(), reverse=True)
        assert seen[:len(ok)] == [c for c in seen if c in ok] and len(seen) == len(everything)
        ascending = table_codes(client.get("/observatoire", params={**params, "sort": "value"}).text)
        assert [ok[c] for c in ascending[:20]] == sorted(ok.values())[:20]
        by_code = table_codes(client.get("/observatoire", params={**params, "sort": "-code"}).text)
        assert by_code == sorted(everything, reverse=True)[:100]
        # the sort buttons' form keeps the state, not the page
        form = page.text.split('<form id="table-sort"', 1)[1].split("</form>", 1)[0]
        assert 'action="/observatoire"' in form and f'name="indicator" value="{RATE}"' in form
        assert 'name="page"' not in form
        # a scenario's table sorts on the scenario's own address
        sid = save(client, "Tri")
        scenario = client.get(f"/s/{sid}", params={"sort": "-value"})
        assert 'aria-sort="descending"' in sort_header(scenario.text, "value")
        assert f'<form id="table-sort" action="/s/{sid}"' in scenario.text
        assert table_codes(scenario.text) == seen[:100]


def test_the_csv_of_the_table_gives_every_value_shown_in_its_order(demo_api: TestClient) -> None:
    page = demo_api.get("/observatoire", params={"indicator": RATE, "sort": "-value"})
    link = html_lib.unescape(re.search(r'<a href="([^"]+)" download data-download="csv"',
                                       page.text).group(1))  # type: ignore[union-attr]
    assert link.startswith("/observatoire/valeurs.csv?") and "sort=-value" in link
    response = demo_api.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="demandeurs-pour-100-actifs-iris-' in response.headers["content-disposition"]
    assert "private" in response.headers["cache-control"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Code", "Territoire", "Demandeurs d'emploi pour 100 actifs (pour 100 actifs)",
                           "Statut"]
    everything = published(demo_api, RATE, "iris")
    body = rows[1:]
    assert len(body) == len(everything) == embedded(page.text, "map-data")["choropleth"]["total_count"]  # type: ignore[index]
    ok = [float(r[2]) for r in body if r[3] == "publiée"]
    assert ok == sorted(ok, reverse=True) and len(ok) == sum(
        1 for r in everything.values() if r["status"] == "ok")
    for row in body:
        assert row[2] == "" if row[3] != "publiée" else float(row[2]) == pytest.approx(
            everything[row[0]]["value"], rel=1e-9)
    assert any(r[3] == "secret" and r[2] == "" for r in body), "a secret value is no number"
    # for a spreadsheet in French, a decimal comma
    comma = demo_api.get(link + "&decimal=comma").content.decode("utf-8-sig")
    assert re.search(r";\d+,\d+;publiée;", comma) and not re.search(r";\d+\.\d+;", comma)
    # bad input is a 400 naming it
    for bad, word in (({"decimal": "dot"}, "decimal"), ({"sort": "x"}, "sort"),
                      ({"indicator": "nope"}, "indicator")):
        refused = demo_api.get("/observatoire/valeurs.csv", params={"indicator": RATE, **bad})
        assert refused.status_code == 400 and word in refused.text


def test_the_map_limited_to_a_commune_opens_on_its_bounds(demo_api: TestClient) -> None:
    whole = embedded(demo_api.get("/observatoire", params={"indicator": RATE}).text, "map-config")
    page = demo_api.get("/observatoire", params={"indicator": RATE, "within": "commune:96012"})
    config, data = embedded(page.text, "map-config"), embedded(page.text, "map-data")
    west, south, east, north = config["bounds"]  # type: ignore[index]
    w0, s0, e0, n0 = whole["bounds"]  # type: ignore[index]
    assert w0 <= west < east <= e0 and s0 <= south < north <= n0
    assert (east - west) * (north - south) < 0.5 * (e0 - w0) * (n0 - s0)
    assert data["bounds"] == config["bounds"]  # type: ignore[index]
    # the commune's IRIS are all inside those bounds (the referential's boxes)
    import duckdb

    iris = demo_api.app.state.settings.store_dir / "referential"  # type: ignore[attr-defined]
    boxes = duckdb.sql(f"SELECT xmin, ymin, xmax, ymax FROM read_parquet('{next(iris.glob('*/iris.parquet'))}') "
                       "WHERE commune = '96012'").fetchall()
    assert boxes
    for x0, y0, x1, y1 in boxes:
        assert west <= x0 and x1 <= east and south <= y0 and y1 <= north
    assert west == pytest.approx(min(b[0] for b in boxes)) and north == pytest.approx(max(b[3] for b in boxes))


def test_counts_read_as_whole_numbers(demo_api: TestClient) -> None:
    values = demo_api.get(f"/api/indicators/{COUNT}/values", params={"level": "qpv"}).json()
    fractional = {r["code"]: r["value"] for r in values["results"]
                  if r["status"] == "ok" and not float(r["value"]).is_integer()}
    assert fractional, "the demo's QPV counts are apportioned from IRIS: not whole"
    page = demo_api.get("/observatoire", params={"indicator": COUNT, "level": "qpv"})
    assert embedded(page.text, "map-data")["choropleth"]["indicator"]["count"] is True  # type: ignore[index]
    shown = dict(zip(table_codes(page.text), value_cells(page.text), strict=True))
    def spaced(text: str) -> str:
        return re.sub(r"[\u00a0\u202f]", " ", text)

    for code, value in fractional.items():
        assert spaced(shown[code]) == f"{round(value):,}".replace(",", " "), (code, value)
    legend = html_lib.unescape(re.sub(r"<[^>]+>", " ", page.text.split('data-part="legend"', 1)[1]
                                      .split("</section>", 1)[0]))
    assert not re.search(r"\d,\d", legend), legend
    # and so in a portrait
    code, value = next(iter(fractional.items()))
    portrait = demo_api.get(f"/territoires/qpv/{code}").text
    card = portrait.split(f'id="ind-{COUNT}"', 1)[1].split("</article>", 1)[0]
    assert f'<p class="portrait-value">{round(value):,} personnes</p>'.replace(",", " ") in spaced(card)
    # a rate keeps its decimals
    rate = value_cells(demo_api.get("/observatoire", params={"indicator": RATE, "level": "qpv"}).text)
    assert any("," in v for v in rate)


def test_a_portrait_compares_every_figure_with_its_commune_and_territory(demo_api: TestClient) -> None:
    page = demo_api.get(f"/territoires/iris/{IRIS}")
    detail = demo_api.get(f"/api/territories/iris/{IRIS}").json()
    # the breadcrumb names each territory once (the metropolis is an EPCI and the whole)
    crumbs = re.findall(r"<li><a[^>]*>([^<]+)</a></li>", page.text.split('class="breadcrumb"', 1)[1]
                        .split("</nav>", 1)[0])
    assert len(crumbs) == len(set(crumbs)) and crumbs[0] == "Territoires"
    assert {"Métropole de Val-Sauvage", "Belvent-sur-Sauvagine"} <= set(crumbs)
    cards = {c["indicator"]: c for c in detail["portrait"]["comparisons"]}
    for ind, c in cards.items():
        card = page.text.split(f'id="ind-{ind}"', 1)[1].split("</article>", 1)[0]
        rows = dict(re.findall(r'<tr data-role="(\w+)"><th scope="row">([^<]+)', card))
        if c["value"]["status"] == "ok" and c["parent"] and c["whole"]:
            # the commune and the whole territory, each once
            assert [r["role"] for r in c["references"]] == ["parent", "whole"], ind
            assert c["references"][0]["level"] == "commune"
            assert rows == {"parent": "Belvent-sur-Sauvagine ", "whole": "Métropole de Val-Sauvage"}
        bars = re.search(r'data-bars="([^"]+)"', card)
        if c["count"]:
            # a count beside its commune's and its metropolis's: shares, never one count axis
            assert "<th scope=\"col\" class=\"num\">Part</th>" in card
            if bars:
                drawn = json.loads(html_lib.unescape(bars.group(1)))
                assert {b["role"] for b in drawn} <= {"parent", "whole"}
                assert all(0 <= b["value"] <= 100 for b in drawn)
                for b, r in zip(drawn, c["references"], strict=True):
                    assert b["value"] == pytest.approx(100 * c["value"]["value"] / r["value"])
        else:
            assert "<th scope=\"col\" class=\"num\">Écart</th>" in card
    assert any(c["count"] for c in cards.values()) and any(not c["count"] for c in cards.values())
    # a commune is compared with its territory once, not with an EPCI of the same name again
    commune = demo_api.get("/api/territories/commune/96012").json()
    for c in commune["portrait"]["comparisons"]:
        assert [r["name"] for r in c["references"]] == ["Métropole de Val-Sauvage"]


def test_the_embed_extends_the_embed_page_with_the_owner_s_look(demo_api: TestClient,
                                                              demo_public_api: TestClient) -> None:
    from mutuelle.catalog import repository as repo
    from mutuelle.members.looks import update_look

    with demo_api.app.state.sessions() as session:  # type: ignore[attr-defined]
        org = repo.get_organisation(session, "mornebois")
        update_look(session, org, {"primary_colour": "#7a1f5c", "accent_colour": "#f0b400"})
        session.commit()
    made = demo_api.post("/api/scenarios", json={
        "title": "Mornebois", "state": {"indicator": RATE, "level": "iris"},
        "organisation": "mornebois"})
    assert made.status_code == 201, made.text
    sid = made.json()["id"]
    embed = demo_api.get(f"/s/{sid}/embed")
    assert embed.status_code == 200
    assert '<body class="embed" style="--accent: #7a1f5c; --accent-dark: #7a1f5c; --portal-band: #f0b400"' in embed.text
    assert 'src="/static/js/embed-frame.js"' in embed.text and 'class="embed-credit"' in embed.text
    assert "Mornebois</a></p>" in embed.text  # the credit names the owner
    # the scenario's page gives the snippet whose height follows its content
    snippet = html_lib.unescape(demo_api.get(f"/s/{sid}").text.split('id="embed-code"', 1)[1]
                                .split("</textarea>", 1)[0])
    assert "data-mutuelle-embed" in snippet and "mutuelle:height" in snippet
    # without an owner, the portal's own look
    plain = demo_api.get(f"/s/{save(demo_api)}/embed").text
    assert '<body class="embed">' in plain
    # an internal scenario does not render for an anonymous visitor, nor says its title
    internal = demo_api.post("/api/scenarios", json={
        "title": "Note interne Mornebois", "access": "internal", "organisation": "mornebois",
        "state": {"indicator": RATE}}).json()["id"]
    hidden = demo_public_api.get(f"/s/{internal}/embed")
    assert hidden.status_code == 404 and "Note interne" not in hidden.text
    assert "Scénario introuvable" in hidden.text and "site-header" not in hidden.text
    assert 'src="/static/js/embed-frame.js"' in hidden.text
