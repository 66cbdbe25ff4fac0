"""Members in Debian's headless Chromium: signing in (a one-time password, then one's own),
a cross-site form from another port of this host refused while a signed-in victim visits it,
publishing through review, a city portal in its own colours, and axe-core on the members'
pages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from mutuelle.access import accounts, signin
from mutuelle.access.policy import OPERATOR
from mutuelle.access.viewers import viewer_of_user
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import Dataset
from mutuelle.discussions import threads
from mutuelle.ingest.service import import_file
from mutuelle.members import workflow

from browser_testing import axe_violations  # type: ignore[import-not-found]

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
ROWS = "code_commune;valeur;libelle\n96172;12;Nord\n96102;15;Sud\n"


def _serious(page: Any) -> list[dict[str, object]]:
    return [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]


def _organisation(app: Any, slug: str = "ville", **look: str) -> None:
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville-sur-Lac", slug=slug)
        for key, value in look.items():
            setattr(org, key, value)
        session.commit()


def _member(app: Any, email: str, roles: dict[str, str] | None = None, *, password: str | None = PASSWORD,
            name: str = "") -> str | None:
    """An account with ``roles`` (organisation slug -> role); its one-time password if it has
    no password of its own."""
    with app.state.sessions() as session:
        user, one_time = accounts.create_user(session, email=email, display_name=name, password=password)
        for slug, role in (roles or {}).items():
            accounts.set_role(session, user, repo.get_organisation(session, slug), role)
        session.commit()
        return one_time


def _signed_in(browser: Any, app: Any, live_server: str, email: str) -> Any:
    """A new browser context signed in as ``email``: its page."""
    with app.state.sessions() as session:
        token = signin.sign_in(session, app.state.settings, email, PASSWORD).token
    context = browser.new_context(locale="fr-FR")
    context.add_cookies([{"name": "mutuelle_session", "value": token, "url": live_server}])
    return context.new_page()


def _dataset(app: Any, slug: str, *, as_email: str | None = None, org: str = "ville",
             publish: bool = True, title: str | None = None) -> None:
    """A dataset of ``org`` with one imported version, made by ``as_email`` (or the command
    line); published unless told."""
    settings = app.state.settings
    with app.state.sessions() as session:
        viewer = OPERATOR if as_email is None else viewer_of_user(session, accounts.get_user(session, as_email))
        dataset = workflow.create_dataset(session, viewer, repo.get_organisation(session, org),
                                          title=title or slug.replace("-", " ").capitalize(), slug=slug)
        session.commit()
        path = settings.home / f"{slug}.csv"
        path.write_text(ROWS, encoding="utf-8")
        import_file(session, settings, dataset, path, source_name=f"{slug}.csv")
        if publish:
            workflow.publish(session, OPERATOR, dataset)
        session.commit()


def _datasets_titled(app: Any, title: str) -> int:
    with app.state.sessions() as session:
        return len(session.scalars(select(Dataset).where(Dataset.title == title)).all())


# --- signing in ---------------------------------------------------------------------------------

def test_a_new_member_signs_in_with_a_one_time_password_chooses_their_own_and_signs_out(
        app: Any, live_server: str, page: Any, screenshot: Any) -> None:
    one_time = _member(app, "lea@example.org", password=None, name="Léa Martin")
    assert one_time
    page.goto(live_server + "/")
    page.get_by_role("navigation", name="Mon espace").get_by_role("link", name="Connexion").click()
    page.wait_for_url(re.compile(r"/connexion\?next=(/|%2F)$"))
    page.get_by_label("Adresse électronique").fill("lea@example.org")
    page.get_by_label("Mot de passe").fill("not the password")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Adresse électronique ou mot de passe incorrect")

    page.get_by_label("Mot de passe").fill(one_time)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(re.compile(r"/compte\?changer=1$"))
    expect(page.get_by_text("mot de passe à usage unique : choisissez-en un nouveau")).to_be_visible()
    screenshot(page, "members-first-sign-in")
    page.get_by_label("Mot de passe actuel").fill(one_time)
    page.get_by_label("Nouveau mot de passe", exact=True).fill("un mot de passe bien à moi")
    page.get_by_label("Nouveau mot de passe, une seconde fois").fill("un mot de passe bien à moi")
    page.get_by_role("button", name="Changer de mot de passe").click()
    expect(page.get_by_text("Votre mot de passe a été changé.")).to_be_visible()
    expect(page.get_by_text("choisissez-en un nouveau")).to_have_count(0)

    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(live_server + "/")
    member_nav = page.get_by_role("navigation", name="Mon espace")
    expect(member_nav.get_by_role("link", name="Connexion")).to_be_visible()
    assert page.goto(live_server + "/compte").url.startswith(live_server + "/connexion?next=")

    page.get_by_label("Adresse électronique").fill("lea@example.org")
    page.get_by_label("Mot de passe").fill("un mot de passe bien à moi")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(live_server + "/compte")   # brought back where sign-in was asked
    expect(member_nav.get_by_role("link", name="Léa Martin")).to_be_visible()


# --- a cross-site attack from another port of this host ----------------------------------------

@pytest.fixture
def attacker(live_server: str) -> Iterator[str]:
    """A page on another port of 127.0.0.1 that, once opened, posts a form to the portal."""
    page = f"""<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>
<form id="f" method="post" action="{live_server}/datasets/new">
  <input name="organisation" value="ville"><input name="title" value="Jeu de l attaquant">
</form><script>document.getElementById("f").submit()</script></body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prize.html"
    server.shutdown()
    server.server_close()


def test_a_form_posted_from_another_port_is_refused_and_the_portal_s_own_form_works(
        app: Any, live_server: str, member_page: Any, attacker: str, screenshot: Any) -> None:
    _organisation(app)
    with member_page.expect_response(f"{live_server}/datasets/new") as posted:
        member_page.goto(attacker)
    assert posted.value.request.method == "POST"
    assert posted.value.status == 403
    member_page.wait_for_url(f"{live_server}/datasets/new")
    expect(member_page.get_by_role("heading", level=1)).to_have_text("Accès refusé")
    screenshot(member_page, "members-cross-site-refused")
    assert _datasets_titled(app, "Jeu de l attaquant") == 0

    member_page.goto(f"{live_server}/datasets/new")
    member_page.get_by_label("Organisation").select_option("ville")
    member_page.get_by_label("Titre").fill("Jeu du membre")
    member_page.get_by_role("button", name="Créer le brouillon").click()
    member_page.wait_for_url("**/datasets/jeu-du-membre**")
    assert _datasets_titled(app, "Jeu du membre") == 1


# --- publishing through review -----------------------------------------------------------------

def test_an_editor_submits_an_admin_publishes_from_the_review_queue_and_only_then_visitors_see_it(
        app: Any, live_server: str, browser: Any, page: Any, screenshot: Any) -> None:
    _organisation(app)
    _member(app, "editrice@example.org", {"ville": "editor"})
    _member(app, "admin-ville@example.org", {"ville": "admin"})
    _dataset(app, "qualite-de-l-eau", as_email="editrice@example.org", publish=False, title="Qualité de l’eau")

    editor = _signed_in(browser, app, live_server, "editrice@example.org")
    editor.goto(f"{live_server}/datasets/qualite-de-l-eau")
    editor.get_by_role("button", name="Soumettre à la relecture").click()
    expect(editor.get_by_text("Le jeu de données est soumis à la relecture")).to_be_visible()
    expect(editor.get_by_text("attend la relecture d’un administrateur")).to_be_visible()
    assert page.goto(f"{live_server}/datasets/qualite-de-l-eau").status == 404, "not yet for visitors"

    admin = _signed_in(browser, app, live_server, "admin-ville@example.org")
    admin.goto(f"{live_server}/revue")
    item = admin.get_by_role("listitem").filter(has_text="Qualité de l’eau")
    expect(item).to_contain_text("Ville-sur-Lac")
    assert _serious(admin) == []
    screenshot(admin, "members-review-queue")
    item.get_by_role("button", name="Publier").click()
    admin.wait_for_url(f"{live_server}/revue")
    expect(admin.get_by_text("Aucune publication n’attend votre relecture.")).to_be_visible()

    assert page.goto(f"{live_server}/datasets/qualite-de-l-eau").status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text("Qualité de l’eau")
    editor.context.close()
    admin.context.close()


# --- a city portal in its own colours ------------------------------------------------------------

LOGO = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#7a1f5c"/></svg>"""


def test_a_city_portal_shows_its_catalogue_in_its_own_colours_and_logo(
        app: Any, live_server: str, member_page: Any, page: Any, screenshot: Any) -> None:
    _organisation(app, description="La ville au bord du lac.")
    _dataset(app, "arbres-remarquables")
    # the logo is served by the test, never fetched from the network
    page.route("https://logo.example/**", lambda route: route.fulfill(body=LOGO, content_type="image/svg+xml"))

    member_page.goto(f"{live_server}/o/ville/gestion")
    assert _serious(member_page) == []
    member_page.get_by_label("Logo (adresse https:// ou chemin /static/)").fill("https://logo.example/ville.svg")
    member_page.get_by_label("Couleur principale").fill("#7a1f5c")
    member_page.get_by_label("Couleur d’accent").fill("#e4572e")
    member_page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(member_page.get_by_text("L’apparence du portail a été enregistrée.")).to_be_visible()

    page.goto(f"{live_server}/o/ville")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ville-sur-Lac")
    link = page.get_by_role("link", name="Arbres remarquables")
    expect(link).to_be_visible()
    assert link.evaluate("a => getComputedStyle(a).color") == "rgb(122, 31, 92)"
    logo = page.get_by_role("img", name="Logo de Ville-sur-Lac")
    assert logo.get_attribute("src") == "https://logo.example/ville.svg"
    assert logo.evaluate("img => img.complete && img.naturalWidth") == 64
    assert _serious(page) == []
    screenshot(page, "members-city-portal")


# --- accessibility of the members' pages ---------------------------------------------------------

def test_the_members_pages_have_no_serious_accessibility_violation(
        app: Any, live_server: str, member_page: Any, page: Any, screenshot: Any) -> None:
    _organisation(app)
    _dataset(app, "parcs-et-jardins")
    with app.state.sessions() as session:
        author = viewer_of_user(session, accounts.get_user(session, "admin@tests.example"))
        threads.start_thread(session, author, "dataset", "parcs-et-jardins", title="Horaires d’été",
                             body="Les horaires changent-ils en juillet ?", internal=False)
        session.commit()

    page.goto(f"{live_server}/connexion")
    assert _serious(page) == [], "/connexion"
    for path in ("/compte", "/admin/membres", "/admin/journal", "/datasets/parcs-et-jardins"):
        member_page.goto(live_server + path)
        assert _serious(member_page) == [], path
    expect(member_page.get_by_role("heading", name="Horaires d’été")).to_be_visible()
    member_page.get_by_text("Ouvrir une discussion").click()
    assert _serious(member_page) == [], "the discussion form, open"
    screenshot(member_page, "members-dataset-discussion")
