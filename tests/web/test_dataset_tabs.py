"""The dataset page's tabs through the real app: the table (server-side order, filters per
column, columns, pages of any depth, local formats, bad input), information edited in place,
versions compared, the map's colours, the API calls and exports of what the table shows,
problem reports and the embeds of the table and the map, access levels holding throughout.

Expected rows are computed in Python from the version's own Parquet file, not by SQL."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mutuelle.catalog import repository as repo
from mutuelle.catalog.discussion_models import Thread
from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.errors import NotFound
from mutuelle.ingest.service import import_file
from mutuelle.store.versions import resolve

from http_testing import LOOPBACK, member_key  # type: ignore[import-not-found]

AMOUNT = "Montant prévu (€)"


def seed(app: Any, path: Path, title: str, *, publish: bool = True, organisation: str = "lyon",
         **metadata: Any) -> str:
    """A dataset holding ``path``, built with the service functions; returns its slug."""
    with app.state.sessions() as session:
        try:
            org = repo.get_organisation(session, organisation)
        except NotFound:
            org = repo.create_organisation(session, name="Ville de Lyon", slug=organisation)
        dataset = repo.create_dataset(session, organisation=org, title=title, **metadata)
        session.commit()
        import_file(session, app.state.settings, dataset, path, source_name=path.name)
        if publish:
            repo.publish_dataset(session, dataset)
            session.commit()
        return dataset.slug


def file_rows(app: Any, slug: str, number: int = 1) -> list[dict[str, Any]]:
    """The rows of a version, read from its Parquet file (the answers' reference)."""
    with app.state.sessions() as session:
        version = repo.get_version(repo.get_dataset(session, slug), str(number))
        path = resolve(app.state.settings, version.parquet_path)
        columns = [f.name for f in version.fields if f.type != "geometry"]
    return pq.read_table(path, columns=columns).to_pylist()


class _Table(HTMLParser):
    """The header and body cells of the page's data table (``table.data-table``)."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = self.row = None
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None
        self.depth = 0
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag == "table" and "data-table" in classes:
            self.inside = True
        if not self.inside:
            return
        if tag == "span" and ("visually-hidden" in classes or "sort-mark" in classes or self.hidden):
            self.hidden += 1
        if tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "span" and self.hidden:
            self.hidden -= 1
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(re.sub(r"[ \t\r\n]+", " ", "".join(self.cell)).strip(" "))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.header:
                self.rows.append(self.row)
            else:
                self.header = self.row
            self.row = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.cell is not None and not self.hidden:
            self.cell.append(data)


def table(html: str) -> _Table:
    parsed = _Table()
    parsed.feed(html)
    return parsed


def french_number(text: str) -> float:
    return float(text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace(",", "."))


def main_text(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"[ \t\r\n]+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main)))


def panel(html: str, name: str) -> str:
    """The HTML of one tab panel."""
    return html.split(f'data-panel="{name}"', 1)[1].split('<section class="tab-panel"', 1)[0]


@pytest.fixture
def budget(app: Any, fixtures_dir: Path) -> str:
    return seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget primitif",
                spatial_coverage=["69123", "99999"], themes=["finances"])


# --- tabs -------------------------------------------------------------------------------------

def test_the_page_has_a_panel_per_tab_and_shows_the_one_asked(client: TestClient, budget: str) -> None:
    page = client.get(f"/datasets/{budget}")
    assert page.status_code == 200
    for name in ("information", "table", "map", "api", "export"):
        assert f'data-panel="{name}"' in page.text and f'id="tab-{name}"' in page.text
    assert re.search(r'data-panel="table" aria-labelledby="tab-table">', page.text)  # shown
    assert re.search(r'data-panel="information" aria-labelledby="tab-information" hidden>', page.text)
    info = client.get(f"/datasets/{budget}", params={"tab": "information"})
    assert re.search(r'data-panel="information" aria-labelledby="tab-information">', info.text)
    assert re.search(r'data-panel="table" aria-labelledby="tab-table" hidden>', info.text)
    assert 'href="?tab=information" data-tab="information" aria-current="page"' in info.text
    # an unknown tab is the default one, not an error
    assert client.get(f"/datasets/{budget}", params={"tab": "nulle-part"}).status_code == 200


def test_a_dataset_without_data_opens_on_its_information(app: Any, client: TestClient) -> None:
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        repo.create_dataset(session, organisation=org, title="Vide")
        session.commit()
    page = client.get("/datasets/vide", params={"tab": "table"})
    assert page.status_code == 200
    assert 'data-panel="table"' not in page.text
    assert "pas encore de données" in page.text


# --- the table --------------------------------------------------------------------------------

def test_the_table_is_sorted_by_the_server_in_both_directions(
        app: Any, client: TestClient, budget: str) -> None:
    rows = file_rows(app, budget)
    for param, reverse in (("_sort", False), ("_sort_desc", True)):
        page = client.get(f"/datasets/{budget}", params={param: AMOUNT})
        assert page.status_code == 200
        shown = table(page.text)
        column = shown.header.index(AMOUNT)
        got = [french_number(r[column]) for r in shown.rows]
        expected = sorted((float(r[AMOUNT]) for r in rows), reverse=reverse)[:20]
        assert got == pytest.approx(expected)
        assert f'aria-sort="{"descending" if reverse else "ascending"}"' in page.text
    # the header's link turns the order around
    html = client.get(f"/datasets/{budget}", params={"_sort": "Chapitre"}).text
    assert 'href="/datasets/budget-primitif?_sort_desc=Chapitre"' in html


def test_filters_per_column_narrow_the_rows_as_python_does(
        app: Any, client: TestClient, budget: str) -> None:
    rows = file_rows(app, budget)
    params: list[tuple[str, str]] = [
        ("Libellé__contains", "charges"), ("Chapitre__in", "011"), ("Chapitre__in", "012"),
        ("Chapitre__in", "65"), (f"{AMOUNT}__gte", "2 500 000,5"),
        ("Date du vote__gte", "2021-01-15"), ("Date du vote__lte", "31/12/2021")]
    expected = [r for r in rows if "charges" in r["Libellé"].lower()
                and r["Chapitre"] in ("011", "012", "65") and float(r[AMOUNT]) >= 2_500_000.5
                and date(2021, 1, 15) <= r["Date du vote"] <= date(2021, 12, 31)]
    assert 0 < len(expected) < len(rows)
    page = client.get(f"/datasets/{budget}", params=params)
    assert page.status_code == 200
    shown = table(page.text)
    assert len(shown.rows) == len(expected)
    label = shown.header.index("Libellé")
    assert sorted(r[label] for r in shown.rows) == sorted(r["Libellé"] for r in expected)
    summary = main_text(page.text)
    assert f"{len(expected)} ligne" in summary and "correspond" in summary
    # each active filter can be removed on its own; the form keeps what was typed
    assert page.text.count('aria-label="Filtres actifs"') == 1
    assert 'name="Libellé__contains" value="charges"' in page.text
    assert re.search(r'name="Chapitre__in" value="012" checked', page.text)


def test_text_filters_ignore_case_and_accents(app: Any, client: TestClient, budget: str) -> None:
    rows = file_rows(app, budget)
    expected = [r for r in rows if "caractere" in r["Libellé"].lower().replace("è", "e")]
    shown = table(client.get(f"/datasets/{budget}", params={"Libellé__contains": "CARACTERE"}).text)
    assert len(shown.rows) == len(expected) > 0


def test_the_column_chooser_shows_only_the_chosen_columns(client: TestClient, budget: str) -> None:
    page = client.get(f"/datasets/{budget}", params=[("_col", "Libellé"), ("_col", AMOUNT)])
    shown = table(page.text)
    assert shown.header == ["Libellé", AMOUNT]
    assert all(len(r) == 2 for r in shown.rows)
    assert re.search(r'name="_col" value="Exercice"(?! checked)>', page.text)
    assert re.search(r'name="_col" value="Libellé" checked>', page.text)


def test_numbers_and_dates_are_written_in_the_viewers_language(
        app: Any, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "communes_bom.csv", "Communes")
    budget = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget")
    french = main_text(client.get(f"/datasets/{slug}").text)
    assert "499\u202f233" in french  # a whole number grouped the French way
    english = client.get(f"/datasets/{slug}", params={"lang": "en"}).text
    assert "499,233" in main_text(english)
    fr_budget = table(client.get(f"/datasets/{budget}", params={"lang": "fr"}).text)
    year = fr_budget.header.index("Exercice")
    assert all(re.fullmatch(r"20\d\d", r[year]) for r in fr_budget.rows)  # a year, not "2 021"
    assert "02/01/2021" in {r[fr_budget.header.index("Date du vote")] for r in fr_budget.rows}
    en_budget = client.get(f"/datasets/{budget}", params={"lang": "en"}).text
    assert "21,782,048.19" in en_budget and "Jan 2, 2021" in en_budget


def test_pages_reach_the_end_of_a_dataset_past_the_api_wall(
        app: Any, client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "mesures.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["n", "valeur", "groupe"])
        for n in range(1, 30_001):
            writer.writerow([n, f"{(n * 7919) % 10007},5", f"g{n % 3}"])
    slug = seed(app, path, "Mesures")
    last = client.get(f"/datasets/{slug}", params={"_page": "1500"})
    assert last.status_code == 200
    shown = table(last.text)
    assert [int(french_number(r[0])) for r in shown.rows] == list(range(29_981, 30_001))
    assert "Page 1\u202f500 sur 1\u202f500" in last.text
    assert "Lignes 29\u202f981 à 30\u202f000 sur 30\u202f000" in main_text(last.text)
    # deep in a sorted and filtered view: the same rows as Python's
    rows = file_rows(app, slug)
    kept = sorted((r for r in rows if r["groupe"] != "g0"), key=lambda r: (-r["valeur"], r["n"]))
    page = client.get(f"/datasets/{slug}", params=[
        ("_sort_desc", "valeur"), ("groupe__in", "g1"), ("groupe__in", "g2"), ("_size", "100"),
        ("_page", "150")])
    assert page.status_code == 200
    got = [int(french_number(r[0])) for r in table(page.text).rows]
    assert got == [r["n"] for r in kept[14_900:15_000]]
    # the API call of that page says how to go past the Explore API's wall
    assert "paramètre after" in panel(page.text, "api")


def test_bad_table_parameters_are_clear_4xx_in_the_page_language(
        client: TestClient, budget: str) -> None:
    wrong_type = client.get(f"/datasets/{budget}", params={f"{AMOUNT}__gte": "beaucoup"})
    assert wrong_type.status_code == 400
    text = main_text(wrong_type.text)
    assert f"La colonne « {AMOUNT} » attend un nombre : « beaucoup » n’en est pas un." in text
    assert 'role="alert" id="table-problem"' in wrong_type.text
    english = client.get(f"/datasets/{budget}", params={f"{AMOUNT}__gte": "beaucoup", "lang": "en"})
    assert english.status_code == 400
    assert f"The column “{AMOUNT}” expects a number: “beaucoup” is not one." in main_text(english.text)
    client.cookies.clear()   # ?lang=en is remembered: back to French
    bad_date = client.get(f"/datasets/{budget}", params={"Date du vote__lte": "hier"})
    assert bad_date.status_code == 400 and "attend une date" in bad_date.text
    for params in ({"_sort": "inconnue"}, {"inconnue__contains": "x"}, {"_col": "inconnue"}):
        unknown = client.get(f"/datasets/{budget}", params=params)
        assert unknown.status_code == 400, params
        assert "Colonne inconnue : « inconnue »" in main_text(unknown.text)
    wrong_op = client.get(f"/datasets/{budget}", params={"Libellé__gte": "3"})
    assert wrong_op.status_code == 400 and "ne s’applique pas" in main_text(wrong_op.text)
    size = client.get(f"/datasets/{budget}", params={"_size": "1000"})
    assert size.status_code == 400 and "_size" in main_text(size.text)
    past = client.get(f"/datasets/{budget}", params={"_page": "3"})
    assert past.status_code == 404
    assert "La page 3 est au-delà de la fin : le tableau en a 2." in main_text(past.text)
    assert client.get(f"/datasets/{budget}", params={"_page": "0"}).status_code == 400
    assert "Traceback" not in past.text + wrong_type.text


def test_an_htmx_update_answers_the_table_and_the_calls_out_of_band(
        client: TestClient, budget: str) -> None:
    part = client.get(f"/datasets/{budget}", params={"Chapitre__in": "011"},
                      headers={"HX-Request": "true", "HX-Target": "dataset-table"})
    assert part.status_code == 200
    assert "<html" not in part.text and part.text.lstrip().startswith('<div id="dataset-table"')
    assert 'id="dataset-api" hx-swap-oob="true"' in part.text
    assert 'id="dataset-export" hx-swap-oob="true"' in part.text
    assert "%60Chapitre%60+in+%28%22011%22%29" in part.text  # the where of the new view
    restore = client.get(f"/datasets/{budget}", headers={
        "HX-Request": "true", "HX-Target": "dataset-table", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_geometries_are_labels_not_geojson(app: Any, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    shown = table(client.get(f"/datasets/{slug}").text)
    geometry = shown.header.index("geometry")
    assert shown.rows[0][geometry] == "Point (4,89985 ; 45,79906)"
    sorting = client.get(f"/datasets/{slug}", params={"_sort": "geometry"})
    assert sorting.status_code == 400 and "géométrie" in main_text(sorting.text)


# --- download what I see, the API tab, the Export tab -----------------------------------------

def _link(html: str, marker: str) -> str:
    found = re.search(rf'<a href="([^"]+)" download {marker}', html)
    assert found, marker
    return html_lib.unescape(found.group(1))


def test_download_what_i_see_repeats_the_filters_order_and_columns(
        app: Any, client: TestClient, budget: str) -> None:
    params = [("Chapitre__in", "011"), ("Chapitre__in", "012"), ("_sort_desc", AMOUNT),
              ("_col", "Chapitre"), ("_col", AMOUNT)]
    page = client.get(f"/datasets/{budget}", params=params)
    shown = table(page.text)
    answer = client.get(_link(page.text, 'data-export="csv"'))
    assert answer.status_code == 200
    assert answer.content.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Chapitre", AMOUNT]
    assert [line[0] for line in lines[1:]] == [r[0] for r in shown.rows]
    amounts = [float(line[1]) for line in lines[1:]]
    assert amounts == sorted(amounts, reverse=True)
    xlsx = client.get(_link(page.text, 'data-export="xlsx"'))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")


def test_the_api_tab_gives_calls_that_answer_what_the_table_shows(
        client: TestClient, budget: str) -> None:
    params = {"Libellé__contains": "charges", "_sort": AMOUNT}
    page = client.get(f"/datasets/{budget}", params={**params, "tab": "api"})
    api = panel(page.text, "api")
    url = html_lib.unescape(re.search(r'id="api-url" readonly value="([^"]+)"', api).group(1))
    parts = urlsplit(url)
    answer = client.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200, answer.text
    shown = table(page.text)
    label = shown.header.index("Libellé")
    assert [r["Libellé"] for r in answer.json()["results"]] == [r[label] for r in shown.rows]
    codes = {key: html_lib.unescape(re.search(rf'id="api-{key}"><code>(.*?)</code>', api, re.S).group(1))
             for key in ("curl", "python", "javascript")}
    compile(codes["python"], "snippet", "exec")  # valid Python
    assert "requests.get(" in codes["python"] and '"order_by": "`Montant prévu (€)` asc"' in codes["python"]
    assert codes["curl"].startswith("curl -G ") and "--data-urlencode 'where=`Libellé` like" in codes["curl"]
    assert "await fetch(url)" in codes["javascript"] and "URLSearchParams" in codes["javascript"]
    assert "Apikey" not in codes["curl"]  # public data need no key


def test_the_export_tab_offers_every_format_geo_ones_with_a_geometry(
        app: Any, client: TestClient, budget: str, fixtures_dir: Path) -> None:
    export = panel(client.get(f"/datasets/{budget}", params={"tab": "export"}).text, "export")
    for fmt in ("csv", "csv_comma", "xlsx", "json", "parquet"):
        assert f'data-export="{fmt}"' in export
    for fmt in ("geojson", "shp", "kml", "gpx", "fgb"):
        assert f'data-export="{fmt}"' not in export
    assert "point-virgule" in export and "BOM" in export
    assert client.get(_link(export, 'data-export="csv_comma"')).content.decode("utf-8-sig").startswith('"Exercice","Chapitre",')
    iris = seed(app, fixtures_dir / "awkward" / "iris_lambert93.gpkg", "IRIS")
    geo = panel(client.get(f"/datasets/{iris}", params={"tab": "export", "_col": "NOM_IRIS"}).text,
                "export")
    for fmt in ("geojson", "shp", "kml", "gpx", "fgb"):
        assert f'data-export="{fmt}"' in geo
    seen = re.search(r'<a href="([^"]+)" download data-export-seen="geojson"', geo).group(1)
    answer = client.get(html_lib.unescape(seen))   # the geometry kept beside the chosen column
    assert answer.status_code == 200
    feature = answer.json()["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert set(feature["properties"]) == {"NOM_IRIS"}


class _CsvForms(HTMLParser):
    """The CSV download forms of the Export tab: action, hidden fields, checkboxes, button."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and "csv-download" in (found.get("class") or ""):
            self.inside = True
            self.forms.append({"action": found["action"], "method": found["method"], "hidden": [],
                               "boxes": [], "button": {}})
        elif self.inside and tag == "input" and found.get("type") == "hidden":
            self.forms[-1]["hidden"].append((found["name"], found["value"]))
        elif self.inside and tag == "input" and found.get("type") == "checkbox":
            self.forms[-1]["boxes"].append((found["name"], found["value"], found["id"]))
        elif self.inside and tag == "button":
            self.forms[-1]["button"] = found

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def csv_forms(html: str) -> list[dict[str, Any]]:
    parsed = _CsvForms()
    parsed.feed(html)
    return parsed.forms


def test_the_csv_form_of_the_export_tab_offers_a_decimal_comma_for_all_and_for_what_i_see(
        client: TestClient, budget: str) -> None:
    params = [("tab", "export"), ("Chapitre__in", "011"), ("Chapitre__in", "012"),
              ("_col", "Chapitre"), ("_col", AMOUNT)]
    export = panel(client.get(f"/datasets/{budget}", params=params).text, "export")
    every, seen = csv_forms(export)
    for form in (every, seen):
        assert form["method"] == "get" and form["action"].endswith("/exports/csv")
        assert [box[:2] for box in form["boxes"]] == [("decimal", "comma")]
        assert f'<label for="{form["boxes"][0][2]}">virgule décimale' in export
    assert every["hidden"] == [] and every["button"]["data-export"] == "csv"
    assert {name for name, _ in seen["hidden"]} == {"select", "where"}
    assert seen["button"]["data-export-seen"] == "csv"
    expected = [(r["Chapitre"], r[AMOUNT]) for r in file_rows(client.app, budget)
                if r["Chapitre"] in ("011", "012")]
    # the box ticked: what the table shows, decimal numbers with a comma
    answer = client.get(html_lib.unescape(seen["action"]), params=[
        *seen["hidden"], ("decimal", "comma")])
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Chapitre", AMOUNT]
    assert lines[1:] == [[chapter, f"{amount}".replace(".", ",")] for chapter, amount in expected]
    assert "21782048,19" in {line[1] for line in lines[1:]}
    # not ticked: the whole dataset with a point, years and codes as they are
    whole = client.get(html_lib.unescape(every["action"])).content.decode("utf-8-sig")
    first = list(csv.reader(io.StringIO(whole), delimiter=";"))[1]
    assert first[:4] == ["2021", "011", "Charges à caractère général", "21782048.19"]
    ticked = client.get(html_lib.unescape(every["action"]), params={"decimal": "comma"})
    assert list(csv.reader(io.StringIO(ticked.content.decode("utf-8-sig")), delimiter=";"))[1][:4] \
        == ["2021", "011", "Charges à caractère général", "21782048,19"]


# --- Information ------------------------------------------------------------------------------

def test_coverage_is_shown_as_names(app: Any, client: TestClient, budget: str) -> None:
    with app.state.sessions() as session:
        session.add(Territory(vintage=2024, level="commune", code="69123", name="Lyon"))
        session.commit()
    info = main_text(client.get(f"/datasets/{budget}", params={"tab": "information"}).text)
    assert "Lyon (69123)" in info and "99999" in info


def test_the_coverage_of_a_demo_dataset_is_a_small_map_beside_its_names(
        demo_public_api: TestClient) -> None:
    page = demo_public_api.get("/datasets/communes-val-sauvage", params={"tab": "information"})
    assert page.status_code == 200
    info = panel(page.text, "information")
    figure = info.split('<figure class="coverage-map"', 1)[1].split("</figure>", 1)[0]
    communes = demo_public_api.get("/api/datasets/communes-val-sauvage").json()["spatial_coverage"]
    covered = set(re.findall(r'<path d="[^"]+" class="covered" data-code="([^"]+)"', figure))
    assert covered == set(communes) and len(covered) == 8
    drawn = re.findall(r'data-code="([^"]+)"><title>([^<]+)</title>', figure)
    assert {code for code, _name in drawn} >= covered and 'data-level="commune"' in figure
    # the text alternative names every territory covered, as the list beside it does
    assert re.search(r'<svg viewBox="[-0-9. ]+" role="img" aria-labelledby="coverage-map-title '
                     r'coverage-map-desc"', figure)
    desc = html_lib.unescape(re.search(r'<desc id="coverage-map-desc">(.*?)</desc>', figure).group(1))
    names = dict(drawn)
    assert desc.startswith("En couleur, les 8 territoires couverts : ")
    for code in communes:
        assert names[code] in desc and f"{names[code]} ({code})" in main_text(page.text)
    assert "<script" not in figure   # no map library: SVG drawn by the server


def test_a_coverage_the_referential_does_not_know_has_no_map(client: TestClient, budget: str) -> None:
    info = panel(client.get(f"/datasets/{budget}", params={"tab": "information"}).text,
                 "information")
    assert "99999" in info and "coverage-map" not in info


def test_metadata_is_edited_in_place_through_the_catalogue_service(
        app: Any, client: TestClient, anonymous_client: TestClient, budget: str) -> None:
    form = client.get(f"/datasets/{budget}", params={"tab": "information"}).text
    assert 'action="/datasets/budget-primitif/metadata"' in form and 'name="csrf_token"' in form
    done = client.post(f"/datasets/{budget}/metadata", follow_redirects=False, data={
        "title": "Budget primitif 2021", "description": "Le **budget** voté.",
        "licence": "ODbL 1.0", "themes": "finances, budget", "keywords": "M14",
        "spatial_coverage": "69123", "frequency": "annual"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/datasets/{budget}?tab=information&saved=1#information"
    page = client.get(done.headers["location"])
    assert "<h1>Budget primitif 2021</h1>" in page.text and "<strong>budget</strong>" in page.text
    assert "Les informations du jeu de données sont enregistrées." in page.text
    with app.state.sessions() as session:
        dataset = repo.get_dataset(session, budget)
        assert (dataset.licence, dataset.themes, dataset.frequency) == ("ODbL 1.0", ["finances", "budget"], "annual")
    # only the fields sent change
    assert client.post(f"/datasets/{budget}/metadata", data={"keywords": "vote"},
                       follow_redirects=False).status_code == 303
    with app.state.sessions() as session:
        dataset = repo.get_dataset(session, budget)
        assert dataset.keywords == ["vote"] and dataset.title == "Budget primitif 2021"
    # refusals give the form back, open, with what was typed
    untitled = client.post(f"/datasets/{budget}/metadata", data={"title": " ", "licence": "X"})
    assert untitled.status_code == 400
    assert "Donnez un titre au jeu de données." in untitled.text
    assert '<details class="edit-metadata" id="modifier" open>' in untitled.text
    bad = client.post(f"/datasets/{budget}/metadata", data={"frequency": "parfois"})
    assert bad.status_code == 400 and "« parfois »" in main_text(bad.text)   # the service's message
    anonymous_client.cookies.clear()
    assert anonymous_client.post(f"/datasets/{budget}/metadata",
                                 data={"title": "Intrus"}).status_code == 401
    assert "edit-metadata" not in anonymous_client.get(f"/datasets/{budget}").text


def test_the_producer_is_edited_in_place_and_shown_beside_the_publishing_organisation(
        app: Any, client: TestClient, budget: str) -> None:
    info = panel(client.get(f"/datasets/{budget}", params={"tab": "information"}).text, "information")
    assert re.search(r'<dt>Producteur</dt><dd data-producer><a href="/o/lyon">Ville de Lyon</a>', info)
    assert '<input type="text" id="meta-producer" name="producer" maxlength="300"' in info
    done = client.post(f"/datasets/{budget}/metadata", follow_redirects=False,
                       data={"producer": "  Direction des finances  "})
    assert done.status_code == 303
    info = panel(client.get(done.headers["location"]).text, "information")
    assert '<dt>Producteur</dt><dd data-producer>Direction des finances</dd>' in info
    assert '<dt>Publié par</dt><dd><a href="/o/lyon">Ville de Lyon</a></dd>' in info
    assert 'name="producer" maxlength="300" aria-describedby="meta-producer-hint" value="Direction des finances"' in info
    api = client.get(f"/api/datasets/{budget}").json()
    assert api["producer"] == "Direction des finances" and api["title"] == "Budget primitif"
    assert client.post(f"/datasets/{budget}/metadata", data={"producer": ""},
                       follow_redirects=False).status_code == 303
    with app.state.sessions() as session:
        assert repo.get_dataset(session, budget).producer == ""
    refused = client.post(f"/datasets/{budget}/metadata", data={"producer": "x" * 301})
    assert refused.status_code == 422
    assert "producteur : 301 caractères, quand 300 au plus sont acceptés" in main_text(refused.text)
    assert '<details class="edit-metadata" id="modifier" open>' in refused.text


def test_versions_are_compared_by_schema_and_rows(
        app: Any, client: TestClient, budget: str, fixtures_dir: Path) -> None:
    with app.state.sessions() as session:
        import_file(session, app.state.settings, repo.get_dataset(session, budget),
                    fixtures_dir / "awkward" / "communes_bom.csv", source_name="communes_bom.csv")
    info = client.get(f"/datasets/{budget}", params={"tab": "information"}).text
    diff = info.split('id="version-diff"', 1)[1].split("</div>", 1)[0]
    text = main_text(f"<main>{diff}</main>")
    assert "De la version 1 à la version 2" in text
    assert "40 → 8 (-32)" in text
    assert "code_commune" in text and "Exercice" in text   # added and removed
    asked = client.get(f"/datasets/{budget}", params={"tab": "information", "diff_from": "2",
                                                      "diff_to": "1"})
    assert "De la version 1 à la version 2" in asked.text
    unknown = client.get(f"/datasets/{budget}", params={"diff_from": "1", "diff_to": "9"})
    assert unknown.status_code == 400
    assert "Version inconnue : « 9 »" in main_text(unknown.text)
    assert re.search(r'data-panel="information" aria-labelledby="tab-information">', unknown.text)


# --- the map ----------------------------------------------------------------------------------

def test_the_map_is_coloured_by_a_field_with_its_legend(
        app: Any, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    page = client.get(f"/datasets/{slug}", params={"tab": "map", "_color": "type"})
    assert page.status_code == 200
    config = re.search(r'id="dataset-map-config">(.*?)</script>', page.text).group(1)
    import json

    spec = json.loads(config)
    assert spec["kinds"] == ["points"] and spec["geojson"].startswith("/api/explore/v2.1/")
    assert spec["colour"]["kind"] == "categories" and spec["colour"]["field"] == "type"
    types = {r["type"] for r in file_rows(app, slug)}
    assert set(spec["colour"]["values"]) == types
    legend = page.text.split('class="map-legend"', 1)[1].split("</aside>", 1)[0]
    for value in types:
        assert value in legend
    assert client.get(spec["geojson"]).json()["features"][0]["geometry"]["type"] == "Point"
    numeric = json.loads(re.search(r'id="dataset-map-config">(.*?)</script>', client.get(
        f"/datasets/{slug}", params={"tab": "map", "_color": "latitude"}).text).group(1))
    assert numeric["colour"]["kind"] == "classes" and numeric["colour"]["breaks"] == sorted(numeric["colour"]["breaks"])
    for bad in ("inconnue", "geometry"):
        refused = client.get(f"/datasets/{slug}", params={"tab": "map", "_color": bad})
        assert refused.status_code == 400
        assert re.search(r'data-panel="map" aria-labelledby="tab-map">', refused.text)
    # polygons come as the portal's vector tiles
    iris = seed(app, fixtures_dir / "awkward" / "iris_lambert93.gpkg", "IRIS")
    tiles = json.loads(re.search(r'id="dataset-map-config">(.*?)</script>',
                                 client.get(f"/datasets/{iris}").text).group(1))
    assert tiles["kinds"] == ["polygons"] and tiles["tiles"].startswith("/tiles/datasets/iris/")
    assert len(tiles["bounds"]) == 4


def test_no_dataset_page_ships_the_map_library(app: Any, client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    for params in ({}, {"tab": "map"}):
        assert "maplibre" not in client.get(f"/datasets/{slug}", params=params).text.lower()
    # the module that loads it is imported by the tabs' script only when the map is shown
    tabs = client.get("/static/js/dataset-tabs.js").text
    assert 'import("/static/js/dataset-map.js")' in tabs and "maplibre" not in tabs


# --- problem reports --------------------------------------------------------------------------

def test_a_visitor_reports_a_problem_and_the_producer_sees_it(
        app: Any, client: TestClient, anonymous_client: TestClient, budget: str) -> None:
    visitor = member_key(app.state.settings, "habitante@exemple.fr")
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False, headers=visitor) as member:
        form = member.get(f"/datasets/{budget}").text
        assert 'action="/datasets/budget-primitif/signalement"' in form
        assert "signalement d’un problème" not in form   # a visitor is not the producer
        missing = member.post(f"/datasets/{budget}/signalement", data={"subject": "x", "message": "y"})
        assert missing.status_code == 400 and "Choisissez la nature du problème." in missing.text
        sent = member.post(f"/datasets/{budget}/signalement", follow_redirects=False, data={
            "kind": "error", "subject": "Montant du chapitre 012",
            "message": "Le montant réalisé de 2021 est celui de 2020."})
        assert sent.status_code == 303 and sent.headers["location"].endswith("reported=1#signaler")
    producer = client.get(f"/datasets/{budget}").text
    assert "1 signalement d’un problème sur ces données." in main_text(producer)
    assert "Signalement : Valeur erronée — Montant du chapitre 012" in main_text(producer)
    public = anonymous_client.get(f"/datasets/{budget}").text
    assert "Montant du chapitre 012" in public          # a public thread
    assert "signalement d’un problème" not in public   # the banner is the producer's


def _report_form(client: TestClient, slug: str) -> dict[str, str]:
    """The fields of the report form a visitor gets (its CSRF token, empty honeypot)."""
    form = client.get(f"/datasets/{slug}").text.split('id="signaler"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input type="(?:hidden|text|email)"[^>]* name="([^"]+)"[^>]*?'
                             r'(?: value="([^"]*)")?>', form))
    return {name: html_lib.unescape(value) for name, value in fields.items()}


def test_a_visitor_without_an_account_reports_a_problem_only_the_producer_reads(
        app: Any, anonymous_client: TestClient, budget: str) -> None:
    page = anonymous_client.get(f"/datasets/{budget}").text
    form = page.split('id="signaler"', 1)[1].split("</form>", 1)[0]
    assert 'action="/datasets/budget-primitif/signalement"' in form
    assert 'name="contact"' in form and 'class="field report-trap"' in form
    fields = _report_form(anonymous_client, budget)
    assert fields["csrf_token"] and fields["site_web"] == "" and fields["contact"] == ""
    sent = anonymous_client.post(f"/datasets/{budget}/signalement", follow_redirects=False, data={
        **fields, "kind": "outdated", "subject": "Budget 2021 périmé",
        "message": "Le budget 2022 est voté depuis mars.", "contact": "habitant@exemple.fr"})
    assert sent.status_code == 303 and sent.headers["location"].endswith("reported=1#signaler")
    assert "votre signalement est transmis au producteur" in main_text(
        anonymous_client.get(sent.headers["location"]).text)
    # the producer (an editor of the organisation) sees it, as a signed-in report, and the
    # address left to answer; visitors and other members do not
    producer = member_key(app.state.settings, "redactrice@lyon.example", roles={"lyon": "editor"})
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False, headers=producer) as editor:
        seen = main_text(editor.get(f"/datasets/{budget}").text)
    assert "1 signalement d’un problème sur ces données." in seen
    assert "Signalement : Données périmées — Budget 2021 périmé" in seen
    assert "Le budget 2022 est voté depuis mars." in seen and "visiteur sans compte" in seen
    assert "Adresse laissée pour une réponse : habitant@exemple.fr" in seen
    anonymous_client.cookies.clear()
    public = anonymous_client.get(f"/datasets/{budget}").text
    assert "Budget 2021 périmé" not in public and "habitant@exemple.fr" not in public
    stranger = member_key(app.state.settings, "voisine@ailleurs.example")
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False, headers=stranger) as other:
        assert "habitant@exemple.fr" not in other.get(f"/datasets/{budget}").text


def test_a_visitors_report_needs_the_form_token_and_a_real_address(
        app: Any, anonymous_client: TestClient, budget: str) -> None:
    report = {"kind": "error", "subject": "x", "message": "y"}
    anonymous_client.cookies.clear()
    forged = anonymous_client.post(f"/datasets/{budget}/signalement", data=report)
    assert forged.status_code == 403
    assert "ce formulaire a expiré ou ne vient pas de ce portail" in main_text(forged.text)
    fields = _report_form(anonymous_client, budget)
    wrong = anonymous_client.post(f"/datasets/{budget}/signalement", data={
        **fields, **report, "contact": "pas une adresse"})
    assert wrong.status_code == 400
    assert "L’adresse électronique « pas une adresse » n’en est pas une" in main_text(wrong.text)
    assert '<details open>' in wrong.text and 'value="pas une adresse"' in wrong.text
    with app.state.sessions() as session:
        assert not session.scalars(select(Thread)).all()   # nothing kept


def test_a_robot_filling_the_honeypot_is_thanked_and_nothing_is_kept(
        app: Any, anonymous_client: TestClient, budget: str) -> None:
    fields = _report_form(anonymous_client, budget)
    bot = anonymous_client.post(f"/datasets/{budget}/signalement", follow_redirects=False, data={
        **fields, "kind": "other", "subject": "Cheap pills", "message": "http://spam.example",
        "site_web": "http://spam.example"})
    assert bot.status_code == 303 and bot.headers["location"].endswith("reported=1#signaler")
    with app.state.sessions() as session:
        assert not session.scalars(select(Thread)).all()


def test_reports_from_one_address_past_the_limit_are_a_429_in_french(
        settings: Any, fixtures_dir: Path) -> None:
    from mutuelle.app import create_app

    limited = create_app(replace(settings, report_max_per_address=2, report_window_minutes=30))
    slug = seed(limited, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget primitif")
    with TestClient(limited, client=LOOPBACK, raise_server_exceptions=False) as visitor:
        fields = _report_form(visitor, slug)
        for n in range(2):
            sent = visitor.post(f"/datasets/{slug}/signalement", follow_redirects=False, data={
                **fields, "kind": "error", "subject": f"Erreur {n}", "message": "Une valeur fausse."})
            assert sent.status_code == 303, sent.text
        third = visitor.post(f"/datasets/{slug}/signalement", data={
            **fields, "kind": "error", "subject": "Erreur 3", "message": "Encore une."})
        assert third.status_code == 429
        assert ("Trop de signalements envoyés depuis votre connexion : réessayez dans 30 minutes, "
                "ou connectez-vous.") in main_text(third.text)
        assert 'value="Erreur 3"' in third.text   # what was typed is kept
    with TestClient(limited, client=("192.0.2.7", 50000), raise_server_exceptions=False) as other:
        fields = _report_form(other, slug)   # another address is not held back
        assert other.post(f"/datasets/{slug}/signalement", follow_redirects=False, data={
            **fields, "kind": "error", "subject": "Autre", "message": "Ailleurs."}).status_code == 303
    with limited.state.sessions() as session:
        assert sorted(t.title.rsplit(" — ", 1)[1] for t in session.scalars(select(Thread))) == [
            "Autre", "Erreur 0", "Erreur 1"]


def test_an_internal_dataset_takes_no_report_from_a_visitor(
        app: Any, anonymous_client: TestClient, fixtures_dir: Path, budget: str) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget interne",
                access="internal")
    fields = _report_form(anonymous_client, budget)   # a valid token from a public page
    hidden = anonymous_client.post(f"/datasets/{slug}/signalement", data={
        **fields, "kind": "error", "subject": "x", "message": "y"})
    assert hidden.status_code == 404 and "Budget interne" not in hidden.text


# --- embeds and access levels -----------------------------------------------------------------

def test_the_table_and_the_map_embed_alone_and_framable(
        app: Any, client: TestClient, budget: str, fixtures_dir: Path) -> None:
    page = client.get(f"/datasets/{budget}").text
    snippet = html_lib.unescape(re.search(r'id="table-embed-code" readonly rows="4">(.*?)</textarea>',
                                          page, re.S).group(1))
    assert snippet.startswith('<iframe src="http://testserver/datasets/budget-primitif/embed?view=table"')
    assert "mutuelle:height" in snippet
    embed = client.get(f"/datasets/{budget}/embed", params={"view": "table", "_sort": "Chapitre"})
    assert embed.status_code == 200
    assert embed.headers["content-security-policy"] == "frame-ancestors *"
    assert 'class="site-header"' not in embed.text and 'class="embed"' in embed.text
    assert "/static/js/embed-frame.js" in embed.text and "htmx" not in embed.text
    assert len(table(embed.text).rows) == 20
    assert 'href="/datasets/budget-primitif/embed?view=table&amp;_sort_desc=Chapitre" target="_self"' in embed.text
    assert client.get(f"/datasets/{budget}/embed", params={"view": "graphe"}).status_code == 400
    slug = seed(app, fixtures_dir / "awkward" / "ecoles_latlon_latin1.csv", "Écoles")
    carte = client.get(f"/datasets/{slug}/embed", params={"view": "map", "_color": "type"})
    assert carte.status_code == 200 and '<script type="module" src="/static/js/dataset-map.js">' in carte.text
    assert 'id="dataset-map-config"' in carte.text and "élémentaire" in carte.text


def test_an_internal_dataset_is_hidden_from_visitors_on_every_tab_and_embed(
        app: Any, client: TestClient, anonymous_client: TestClient, fixtures_dir: Path) -> None:
    slug = seed(app, fixtures_dir / "awkward" / "budget_cp1252.csv", "Budget interne",
                access="internal")
    for url in (f"/datasets/{slug}", f"/datasets/{slug}?tab=api", f"/datasets/{slug}/versions/1",
                f"/datasets/{slug}/embed?view=table", f"/datasets/{slug}/embed?view=map"):
        hidden = anonymous_client.get(url)
        assert hidden.status_code == 404, url
        assert "Charges de personnel" not in hidden.text
    api = panel(client.get(f"/datasets/{slug}", params={"tab": "api"}).text, "api")
    assert "Apikey" in api and "clé d’API" in api   # members are told the calls need a key
