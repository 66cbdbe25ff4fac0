"""No English in the French interface: every page of the demo portal, crawled as a visitor and as
members, its error pages and its forms sent with mistakes, shows French text only, the messages of
the services (written in English for the API) included."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from mutuelle.app import create_app
from mutuelle.core.config import Settings
from mutuelle.web import i18n

from http_testing import LOOPBACK, session_token  # type: ignore[import-not-found]

#: Words and phrases of English that French interface text never holds (data values aside).
#: Word-bounded and case-sensitive where French spells a neighbour ("Détails", "texte").
ENGLISH = [re.compile(p) for p in (
    r"\b[Tt]he\b", r"\bof\b", r"\band\b", r"\bto\b", r"\bis\b", r"\bare\b", r"\bwith\b",
    r"\bfrom\b", r"\bshould\b", r"\bmust\b", r"\bcannot\b", r"\bcould not\b", r"\bnot\b",
    r"\b[Uu]nknown\b", r"\bDetails?\b", r"\bNot Found\b", r"\binstead\b", r"\bpadded\b",
    r"\bclasses need\b", r"\binner\b", r"\bbreaks?\b", r"\b[Ee]rrors?\b", r"\b[Ii]nvalid\b",
    r"\b[Rr]equired\b", r"\b[Mm]issing\b", r"\b[Pp]lease\b", r"\bfields?\b", r"\brows?\b",
    r"\bvalues?\b", r"\bcolumns?\b", r"\binteger\b", r"\bdecimal\b", r"\bboolean\b",
    r"\bdatetime\b", r"\btext\b", r"\bgeometry\b", r"\bInput should\b", r"\bsign in\b",
    r"\ballowed\b", r"\brefused\b", r"\bfile\b", r"\bdataset\b", r"\bempty\b", r"\bsheet\b",
    r"\bSearch\b", r"\bLoading\b", r"\bSubmit\b", r"\bCancel\b", r"\bSave\b", r"\bDelete\b",
)]
#: Attributes whose text reaches the visitor (tooltips, screen readers, buttons, placeholders).
SHOWN_ATTRIBUTES = ("title", "aria-label", "alt", "placeholder", "aria-description",
                    "data-busy-label")
#: Elements whose content is not language: scripts, styles, and code as one types it.
SILENT = {"script", "style", "template", "code", "pre", "kbd", "samp"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
#: Answers that are files, not pages, and addresses that are not pages.
NOT_PAGES = ("/api/", "/tiles/", "/static/", "/explore/", "/docs/", "/favicon")
FILE_SUFFIXES = (".csv", ".json", ".geojson", ".xlsx", ".parquet", ".zip", ".gpkg", ".png",
                 ".svg", ".pbf", ".mvt", ".kml", ".gpx", ".xml")
#: A file's name in a message ("empty.csv") is the sender's, not interface text.
FILE_NAME = re.compile(r"[\w.-]+\.(?:csv|tsv|txt|xlsx?|ods|geojson|json|zip|gpkg|shp|dbf|prj)\b")
PAGES_PER_KIND = 3
MAX_PAGES = 400


class VisibleText(HTMLParser):
    """The text of a page a visitor sees or hears: text nodes and shown attributes, without
    scripts, styles, code and the language switch (whose "English" is meant)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._silent: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in ("href", "hx-get"):
            if values.get(name):
                self.links.append(values[name])
        if tag in VOID and not self._silent:
            self._shown_attributes(tag, values)
            return
        if self._silent or tag in SILENT or "lang-switch" in values.get("class", ""):
            self._silent.append(tag)
            return
        self._shown_attributes(tag, values)

    def _shown_attributes(self, tag: str, values: dict[str, str]) -> None:
        self.parts.extend(values[name] for name in SHOWN_ATTRIBUTES if values.get(name))
        if tag == "input" and values.get("type") in ("submit", "button", "reset"):
            self.parts.append(values.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if self._silent and tag in VOID:
            return
        if self._silent:
            self._silent.pop()

    def handle_data(self, data: str) -> None:
        if not self._silent:
            self.parts.append(data)


def visible_text(html: str) -> tuple[str, list[str]]:
    """The visible text of ``html`` (one line per text node) and its links."""
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(" ".join(p.split()) for p in parser.parts if p.strip()), parser.links


def english_in(text: str, data: re.Pattern[str] | None) -> list[str]:
    """The lines of ``text`` holding English words once the ``data`` values (titles, names,
    keywords the publishers wrote) are out, each with the words found."""
    if data is not None:
        text = data.sub(" ", text)
    text = FILE_NAME.sub(" ", text)
    found = []
    for line in text.splitlines():
        words = [m.group(0) for p in ENGLISH if (m := p.search(line))]
        if words:
            found.append(f"{'/'.join(words)}: {line[:200]!r}")
    return found


@dataclass
class Crawl:
    """Pages fetched (URL -> status) and the English found on each."""

    client: Any
    data: re.Pattern[str] | None
    seen: set[str] = field(default_factory=set)
    per_kind: Counter[tuple[str, ...]] = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def kind(self, url: str) -> tuple[str, ...]:
        """Which route answers ``url``, and with which query parameters (pages of one kind)."""
        parts = urlsplit(url)
        scope = {"type": "http", "path": parts.path, "method": "GET", "root_path": ""}
        for route in _page_routes(self.client.app.router.routes):
            if route.matches(scope)[0] == Match.FULL:
                return (route.path, *sorted({k for k, _v in parse_qsl(parts.query)}))
        return ("?", parts.path)

    def check(self, url: str, response: Any) -> list[str]:
        """Record the English words of one answer (a page, or a redirect to one)."""
        self.statuses[url] = response.status_code
        if "text/html" not in response.headers.get("content-type", ""):
            return []
        text, links = visible_text(response.text)
        found = english_in(text, self.data)
        if found:
            self.problems[f"{response.status_code} {url}"] = found
        return links

    def visit(self, start: list[str]) -> None:
        """Fetch ``start`` and the pages they link to, a few of each kind."""
        queue = list(start)
        while queue and len(self.seen) < MAX_PAGES:
            url = queue.pop(0)
            if url in self.seen:
                continue
            self.seen.add(url)
            headers = {"HX-Request": "true"} if "panneau" in url or "details" in url else {}
            response = self.client.get(url, headers=headers)
            for link in self.check(url, response):
                target = _page_link(link)
                if target and target not in self.seen:
                    kind = self.kind(target)
                    if self.per_kind[kind] < PAGES_PER_KIND:
                        self.per_kind[kind] += 1
                        queue.append(target)


def _page_routes(routes: Any) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _page_routes(route.original_router.routes)
        elif "GET" in (getattr(route, "methods", None) or ()):
            yield route


def _page_link(href: str) -> str | None:
    """``href`` as a page of this portal to crawl, or None (other sites, files, the API...)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    if parts.path.startswith(NOT_PAGES) or parts.path.endswith(FILE_SUFFIXES):
        return None
    query = parse_qsl(parts.query)
    if any(name in ("lang", "format") for name, _v in query):  # French only; no downloads
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _data_values(client: Any) -> re.Pattern[str]:
    """Titles, descriptions, names and keywords the publishers wrote (not interface text)."""
    values: set[str] = set()
    listing = client.get("/api/explore/v2.1/catalog/datasets", params={"limit": 100}).json()
    for item in listing["results"]:
        meta = item.get("metas", {}).get("default", {})
        for key in ("title", "description", "publisher", "license", "territory"):
            if isinstance(meta.get(key), str):
                values.add(meta[key])
        for key in ("keyword", "theme"):
            values.update(v for v in meta.get(key) or [] if isinstance(v, str))
        for column in item.get("fields", []):
            values.update(str(column.get(k)) for k in ("name", "label", "description") if column.get(k))
    for indicator in client.get("/api/indicators").json().get("results", []):
        values.update(str(indicator[k]) for k in ("name", "label", "title", "description",
                                                   "unit", "source") if indicator.get(k))
    # whole values only, longest first (a title goes before a word of it)
    ordered = sorted((v for v in values if len(v) > 3), key=len, reverse=True)
    return re.compile("|".join(rf"(?<![\w-]){re.escape(v)}(?![\w-])" for v in ordered))


# -- the demo portal, crawled ----------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_settings(demo_home: Path) -> Settings:
    """This module's copy of the demo portal."""
    return Settings(home=demo_home, duckdb_memory_limit="512MB")


@pytest.fixture(scope="module")
def member(demo_settings: Settings):  # type: ignore[no-untyped-def]
    """A site administrator's browser (session cookie) on the demo portal, in French."""
    app = create_app(demo_settings)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    cookies={"mutuelle_session": session_token(demo_settings)}) as client:
        yield client


@pytest.fixture(scope="module")
def visitor(demo_settings: Settings):  # type: ignore[no-untyped-def]
    """An anonymous browser on the demo portal, in French."""
    with TestClient(create_app(demo_settings), client=LOOPBACK,
                    raise_server_exceptions=False) as client:
        yield client


def _report(crawl: Crawl) -> str:
    return "\n".join(f"{url}:\n  " + "\n  ".join(found[:10])
                     for url, found in sorted(crawl.problems.items()))


def test_every_page_a_visitor_reaches_is_in_french(visitor) -> None:  # type: ignore[no-untyped-def]
    crawl = Crawl(visitor, _data_values(visitor))
    crawl.visit(["/", "/catalogue", "/catalogue?q=budget", "/observatoire", "/territoires",
                 "/scenarios", "/observatoire/indicateurs", "/connexion"])
    assert len(crawl.seen) > 30, sorted(crawl.seen)
    assert not crawl.problems, _report(crawl)


def _csrf(client: Any) -> dict[str, str]:
    """The CSRF header of this browser (from a page's meta tag)."""
    page = client.get("/catalogue").text
    return {"x-csrf-token": re.search(r'name="csrf-token" content="([^"]*)"', page).group(1)}


def test_every_page_a_member_reaches_is_in_french(member) -> None:  # type: ignore[no-untyped-def]
    crawl = Crawl(member, _data_values(member))
    crawl.visit(["/compte", "/revue", "/admin/membres", "/admin/journal", "/datasets/new",
                 "/datasets/budget-mornebois", "/datasets/budget-mornebois/import",
                 "/observatoire/indicateurs/nouveau", "/catalogue"])
    assert any(url.endswith("/import") for url in crawl.seen)
    assert not crawl.problems, _report(crawl)


def test_error_pages_are_in_french(member, visitor, demo_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    crawl = Crawl(visitor, None)
    for url, status in [("/nulle-part", 404), ("/datasets/nulle-part", 404),
                        ("/territoires/commune/00000", 404), ("/s/nulle-part", 404),
                        ("/observatoire/indicateurs/nulle-part", 404),
                        ("/catalogue?page=abc", 400), ("/catalogue?page=0", 400),
                        ("/datasets/nulle-part/publish", 405)]:
        response = visitor.get(url)
        assert response.status_code == status, url
        crawl.check(url, response)
    refused = visitor.post("/datasets/new", data={"title": "x"}, headers=_csrf(visitor))
    assert refused.status_code == 401
    crawl.check("POST /datasets/new", refused)
    plain = {"mutuelle_session": session_token(demo_settings, "lecteur@tests.example",
                                               site_admin=False)}
    with TestClient(member.app, client=LOOPBACK, raise_server_exceptions=False,
                    cookies=plain) as reader:
        for url in ("/admin/membres", "/datasets/new"):
            response = reader.get(url)
            assert response.status_code == 403, url
            crawl.check(url, response)
    # a server short of memory: 503, said without blaming the visitor
    starved = demo_settings.with_(duckdb_memory_limit="1MB", warm_up=False)
    with TestClient(create_app(starved), client=LOOPBACK, raise_server_exceptions=False) as short:
        response = short.get("/datasets/budget-mornebois")
        assert response.status_code == 503
        crawl.check("/datasets/budget-mornebois (no memory left)", response)
    assert "Service momentanément indisponible" in response.text
    assert not crawl.problems, _report(crawl)


AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"

#: Files and options a member may send to the import form, each refused with a message.
BAD_IMPORTS = [
    ("ragged_line57.csv", {}),
    ("empty.csv", {}),
    ("binary_named.csv", {}),
    ("broken.geojson", {}),
    ("iris_no_prj.zip", {}),
    ("zip_traversal.zip", {}),
    ("budget_cp1252.csv", {"types": "Libellé=entier"}),
    ("budget_cp1252.csv", {"types": "Libellé=couleur"}),
    ("budget_cp1252.csv", {"types": "absente=texte"}),
    ("budget_cp1252.csv", {"types": "sans égal"}),
    ("budget_cp1252.csv", {"encoding": "klingon"}),
    ("budget_cp1252.csv", {"header_row": "0"}),
    ("ecoles_header_row4.xlsx", {"sheet": "Absente"}),
]


def test_forms_sent_with_mistakes_answer_in_french(member) -> None:  # type: ignore[no-untyped-def]
    crawl = Crawl(member, None)
    csrf = _csrf(member)
    slug = "budget-mornebois"
    for name, options in BAD_IMPORTS:
        with (AWKWARD / name).open("rb") as handle:
            response = member.post(f"/datasets/{slug}/import", headers=csrf, data=options,
                                   files={"file": (name, handle, "application/octet-stream")})
        assert response.status_code in (400, 413, 422), (name, options, response.status_code)
        assert 'id="import-error"' in response.text
        crawl.check(f"import {name} {options}", response)
    for form in ({"organisation": "", "title": ""},
                 {"organisation": "mornebois", "title": "Budget", "slug": slug},
                 {"organisation": "mornebois", "title": "x", "slug": "Pas Un Slug"}):
        response = member.post("/datasets/new", headers=csrf, data=form)
        assert response.status_code in (400, 404, 422), (form, response.status_code)
        crawl.check(f"new dataset {form}", response)
    for form in ({}, {"id": "x", "label": "x", "dataset": "nulle-part"},
                 {"id": "x", "label": "x", "dataset": slug, "level": "commune",
                  "code_column": "absente", "numerator": "montant"}):
        response = member.post("/observatoire/indicateurs/nouveau", headers=csrf, data=form)
        assert response.status_code in (400, 404, 422), (form, response.status_code)
        crawl.check(f"new indicator {form}", response)
    wrong = member.post("/connexion", headers=csrf,
                        data={"email": "admin@tests.example", "password": "pas le bon"})
    crawl.check("sign in with a wrong password", wrong)
    assert not crawl.problems, _report(crawl)


def test_the_observatory_says_its_refusals_in_french(visitor) -> None:  # type: ignore[no-untyped-def]
    crawl = Crawl(visitor, None)
    for query in ("indicator=part-offres-cdi&level=iris", "method=manual&classes=7&breaks=12",
                  "method=manual&classes=3&breaks=1;2;3;4;5;6;7;8", "classes=99",
                  "vintage=abc", "level=planete", "indicator=nulle-part"):
        response = visitor.get(f"/observatoire?{query}")
        crawl.check(f"/observatoire?{query}", response)
    assert not crawl.problems, _report(crawl)


# -- the services' messages, one by one ------------------------------------------------------

#: Messages the services wrote on pages of the demo, and what a French page says instead.
SERVICE_MESSAGES = {
    "a row has 4 fields instead of 5 (ragged rows may be allowed on import) (line 57)":
        "une ligne a 4 champs au lieu de 5 (les lignes irrégulières peuvent être acceptées à "
        "l’import) (ligne 57)",
    "Not Found": "",
    "no dataset 'nulle-part'": "aucun jeu de données « nulle-part »",
    "page: Input should be greater than or equal to 1; q: Field required":
        "page : la valeur doit être au moins 1 ; recherche : ce champ est obligatoire",
    "unknown type 'couleur' for 'Libellé' (one of: integer, decimal, boolean, date, datetime, text)":
        "type « couleur » inconnu pour la colonne « Libellé » (au choix : entier, décimal, "
        "booléen, date, date et heure, texte)",
    "column 'Libellé': 'Charges' is not an integer (line 2)":
        "colonne « Libellé » : « Charges » n’est pas un nombre entier (ligne 2)",
    "invalid GeoJSON: Expecting value (line 1, column 76)":
        "GeoJSON invalide : une valeur est attendue (ligne 1, colonne 76)",
    "indicator 'part-offres-cdi' is computed from commune codes: it has no iris values; levels: "
    "commune, epci, territoire":
        "l’indicateur « part-offres-cdi » est calculé à partir des codes commune : il n’a pas de "
        "valeurs par iris ; niveaux : commune, epci, territoire",
    "state.classes must be a whole number from 3 to 9, not 99":
        "nombre de classes : un nombre entier de 3 à 9 est attendu, pas 99",
    "state.level must be one of iris, commune, epci, qpv, not 'planete'":
        "niveau : une valeur parmi iris, commune, epci, qpv est attendue, pas « planete »",
    "vintage must be a whole number, not 'abc'":
        "millésime : un nombre entier est attendu, pas « abc »",
    "indicator: unknown indicator 'nulle-part'": "indicateur : indicateur « nulle-part » inconnu",
    "dataset 'budget' has no column 'absente'":
        "le jeu de données « budget » n’a pas de colonne « absente »",
    "the file is empty (empty.csv)": "le fichier est vide (empty.csv)",
    "you may not publish dataset 'budget'":
        "vous n’avez pas le droit de publier cet objet : jeu de données « budget »",
}


@pytest.mark.parametrize("english", sorted(SERVICE_MESSAGES))
def test_a_services_message_reads_in_french_on_a_french_page(english: str) -> None:
    assert i18n.service_message(english, "fr") == SERVICE_MESSAGES[english]
    assert i18n.service_message(english, "en") == english


def test_a_message_the_table_lacks_is_shown_as_written_and_marked_english() -> None:
    assert i18n.service_message("the moon is made of cheese", "fr") is None
    template = i18n_environment().from_string("<p>{{ message|service_message }}</p>")
    assert template.render(lang="fr", message="the moon <b>") == \
        '<p><span lang="en">the moon &lt;b&gt;</span></p>'
    assert template.render(lang="fr", message="no dataset 'x'") == \
        "<p>aucun jeu de données « x »</p>"
    assert template.render(lang="en", message="no dataset 'x'") == "<p>no dataset &#39;x&#39;</p>"


def i18n_environment():  # type: ignore[no-untyped-def]
    from jinja2 import Environment

    env = Environment(autoescape=True)
    i18n.install(env)
    return env


@pytest.mark.parametrize(("typed", "codes"), [
    ("montant=entier", "montant=integer"),
    ("a=Décimal, b = date et heure", "a=decimal, b =datetime"),
    ("a=date and time,b=GÉOMÉTRIE", "a=datetime,b=geometry"),
    ("a=integer", "a=integer"),
    ("a=couleur", "a=couleur"),  # left for the importer to refuse, naming it
    ("", ""),
])
def test_types_are_named_in_the_forms_language(typed: str, codes: str) -> None:
    assert i18n.type_codes(typed) == codes


# -- numbers and dates -----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "fr", "en"), [
    (1234, "1\u202f234", "1,234"),
    (1234.5, "1\u202f234,5", "1,234.5"),
    ("1234.5", "1\u202f234,5", "1,234.5"),   # a decimal read as text (DuckDB DECIMAL, JSON)
    (-0.25, "-0,25", "-0.25"),
    (None, "", ""),
    ("n.d.", "n.d.", "n.d."),               # not a number: shown as written
])
def test_integers_and_decimals_are_written_in_the_pages_language(value, fr: str, en: str) -> None:  # type: ignore[no-untyped-def]
    template = i18n_environment().from_string("{{ value|number }}")
    assert template.render(lang="fr", value=value) == fr
    assert template.render(lang="en", value=value) == en


def test_numbers_from_numpy_and_decimal_columns_are_formatted_too() -> None:
    import numpy as np
    from decimal import Decimal

    assert i18n.format_number(np.int64(1234567), "fr") == "1\u202f234\u202f567"
    assert i18n.format_number(np.float32(0.1), "fr") == "0,1"
    assert i18n.format_number(Decimal("1234.5"), "en") == "1,234.5"
    assert i18n.format_number(True, "fr") == "True"


# -- English complete ------------------------------------------------------------------------

def test_every_message_of_the_templates_has_an_english_translation() -> None:
    # the extraction is test_i18n's (templates, trans blocks and page modules alike)
    from test_i18n import english_catalogue, template_and_code_messages  # type: ignore[import-not-found]

    catalogue = english_catalogue()
    missing = [f"{where}: {msgid!r}" for (msgid, _plural), where in template_and_code_messages().items()
               if (entry := catalogue.get(msgid)) is None or entry.fuzzy or not entry.string]
    assert not missing, "\n".join(missing)
