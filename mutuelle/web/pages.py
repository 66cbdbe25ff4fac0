"""Server-rendered pages: home, catalogue, the new-dataset and import forms, the error pages,
and what every page module shares (rendering, languages, redirects); the dataset page is in
``dataset_pages``. Pages call the same service functions as the API, never the API over HTTP."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    allowed,
    editable_dataset,
    may_administer_site,
    may_create_datasets,
    visible_datasets,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.models import ACCESS_LEVELS, FREQUENCIES, Dataset, Organisation
from mutuelle.catalog.search import CatalogueQuery, CatalogueResult, search_catalogue
from mutuelle.catalog.terms import MAX_SEARCH_CHARS
from mutuelle.catalog.terms import MAX_WORDS as MAX_SEARCH_WORDS
from mutuelle.catalog.terms import words as search_words
from mutuelle.core.errors import (
    Forbidden,
    InvalidInput,
    MutuelleError,
    NotFound,
    OutOfMemory,
    ResourceError,
    StorageFull,
    Unauthenticated,
)
from mutuelle.ingest.service import import_file
from mutuelle.ingest.uploads import discard, import_options, save_upload
from mutuelle.members import workflow
from mutuelle.requests import (
    SessionDep,
    SettingsDep,
    ViewerDep,
    client_address,
    csrf_token,
    get_viewer,
    remember_nonce,
    safe_next,
)
from mutuelle.store.resources import resource_error
from mutuelle.web import i18n

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
#: Datasets per catalogue page.
CATALOGUE_PAGE_SIZE = 20
#: Datasets listed as "latest published" on the home page.
HOME_LATEST = 5
SYNTHETIC_MARKERS = ("synthétique", "synthetique", "synthetic")

router = APIRouter(include_in_schema=False)
templates = Environment(loader=FileSystemLoader(WEB_DIR / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
i18n.install(templates)
# Descriptions are Markdown written by publishers: raw HTML is not passed through, and
# markdown-it refuses javascript:/data: links by default.
_markdown = MarkdownIt("commonmark", {"html": False})
templates.filters["markdown"] = lambda text: Markup(_markdown.render(text or ""))


# --- rendering ------------------------------------------------------------------------------

def language(request: Request) -> str:
    """The language of this request's page."""
    return i18n.choose_language(request.query_params.get("lang"),
                                request.cookies.get(i18n.LANGUAGE_COOKIE))


def _(request: Request, msgid: str, /, **values: object) -> str:
    """A message of the pages' Python code, in the request's language."""
    return i18n.gettext(language(request), msgid, **values)


def gettext_for(request: Request) -> Any:
    """``_`` bound to the request's language, for page modules: ``_("Texte", n=1)``."""
    lang = language(request)
    return lambda msgid, /, **values: i18n.gettext(lang, msgid, **values)


class FormProblem(InvalidInput):
    """A form field the pages themselves refuse; its message is in the page's language
    (the services' messages are in English, and marked so for screen readers)."""


def _message_language(exc: MutuelleError, request: Request) -> str:
    return language(request) if isinstance(exc, FormProblem) else "en"


def _language_links(request: Request, current: str) -> list[dict[str, Any]]:
    links = []
    for code in i18n.LANGUAGES:
        url = request.url.include_query_params(lang=code)
        links.append({"code": code, "href": f"{url.path}?{url.query}", "current": code == current})
    return links


def render(request: Request, template: str, context: dict[str, Any] | None = None,
           status: int = 200) -> HTMLResponse:
    """A page in the request's language; ``?lang=`` is remembered in a cookie."""
    lang = language(request)
    viewer = get_viewer(request)
    html = templates.get_template(template).render(
        request=request, lang=lang, viewer=viewer, path=request.url.path,
        language_links=_language_links(request, lang), csrf_token=csrf_token(request),
        site_admin=may_administer_site(viewer), can_create_datasets=may_create_datasets(viewer),
        **(context or {}))
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    # Pages carry the viewer's name, forms and tokens: never kept by a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    remember_nonce(request, response)
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES and request.cookies.get(i18n.LANGUAGE_COOKIE) != asked:
        response.set_cookie(i18n.LANGUAGE_COOKIE, asked, max_age=365 * 24 * 3600,
                            samesite="lax", httponly=True)
    return response


def render_error(request: Request, status: int, message: str) -> Response:
    """The error page (404, 400, 403, 413, 422, 500...) in the site layout; a visitor who must
    sign in to see a page is sent to the sign-in form, and brought back after."""
    if status == 401 and request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(f"/connexion?next={quote(safe_next(target), safe='')}")
    if status >= 500:
        message = ""  # the cause is in the log, never in the page
    response = render(request, "error.html", {"status": status, "message": message}, status=status)
    if status == 429:
        response.headers["Retry-After"] = "10"
    return response


def see_other(url: str) -> RedirectResponse:
    """A 303 redirect (after a form, to a page)."""
    return RedirectResponse(url, status_code=303)


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def is_synthetic(dataset: Dataset) -> bool:
    """Whether the description says the data are synthetic (shown as a badge)."""
    text = (dataset.description or "").lower()
    return any(marker in text for marker in SYNTHETIC_MARKERS)


# --- home and catalogue ---------------------------------------------------------------------

#: Facets of the catalogue page, in the order shown, and the values listed for each.
CATALOGUE_FACETS = ("organisation", "theme", "keyword", "territory", "format", "licence",
                    "access", "schema", "modified")
CATALOGUE_FACET_VALUES = 10
#: Orders offered on the catalogue page (relevance only with a search).
CATALOGUE_SORTS = ("relevance", "title", "-modified", "-popularity")


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep) -> Response:
    visible = visible_datasets(viewer)
    total = search_catalogue(session, CatalogueQuery(limit=0), visible=visible,
                             timeout_ms=settings.query_timeout_ms).total
    latest = search_catalogue(session, CatalogueQuery(sort="-published", limit=HOME_LATEST),
                              visible=and_(visible, Dataset.status == "published"),
                              timeout_ms=settings.query_timeout_ms).items
    return render(request, "home.html", {
        "dataset_count": total,
        "organisation_count": session.scalar(select(func.count()).select_from(Organisation)),
        "latest": latest, "is_synthetic": is_synthetic})


def _catalogue_problem(request: Request, q: str, sort: str) -> str:
    """What the page refuses in a search or an order, said in the page's language ("")."""
    found = search_words(q)
    if q.strip() and not found:
        return _(request, "La recherche « %(q)s » ne contient ni lettre ni chiffre : "
                          "écrivez au moins un mot.", q=q.strip()[:50])
    if len(q) > MAX_SEARCH_CHARS or len(found) > MAX_SEARCH_WORDS:
        return _(request, "La recherche est trop longue : au plus %(words)s mots et "
                          "%(chars)s caractères.", words=MAX_SEARCH_WORDS, chars=MAX_SEARCH_CHARS)
    if sort and sort not in CATALOGUE_SORTS:
        return _(request, "Ordre de tri inconnu : « %(sort)s ».", sort=sort[:50])
    return ""


def _catalogue_url(params: list[tuple[str, str]]) -> str:
    return "/catalogue" + (f"?{urlencode(params)}" if params else "")


@router.get("/catalogue", response_class=HTMLResponse)
@router.get("/datasets", response_class=HTMLResponse)
def catalogue(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
              q: str = "", sort: str = "",
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    filters = {name: values for name in CATALOGUE_FACETS
               if (values := [v for v in request.query_params.getlist(name) if v][:20])}
    problem = _catalogue_problem(request, q, sort)
    result = CatalogueResult(total=0, items=[], facets={}, sort=sort or "title")
    if not problem:
        result = search_catalogue(session, CatalogueQuery(
            text=q.strip(), filters=filters, sort=sort or None, limit=CATALOGUE_PAGE_SIZE,
            offset=(page - 1) * CATALOGUE_PAGE_SIZE, facets=CATALOGUE_FACETS,
            facet_limit=CATALOGUE_FACET_VALUES), visible=visible_datasets(viewer),
            timeout_ms=settings.query_timeout_ms)
    chosen = [(name, value) for name, values in filters.items() for value in values]
    kept = [("q", q.strip())] * bool(q.strip()) + [("sort", sort)] * bool(sort) + chosen

    def toggled(name: str, value: str) -> str:
        pair = (name, value)
        return _catalogue_url([p for p in kept if p != pair] if pair in chosen else [*kept, pair])

    labels = {(name, v.value): v.label for name, values in result.facets.items() for v in values}
    partial = request.headers.get("hx-request") and not request.headers.get("hx-history-restore-request")
    return render(request, "_catalogue_results.html" if partial else "catalogue.html", {
        "result": result, "datasets": result.items, "total": result.total, "q": q,
        "sort": sort, "sorts": CATALOGUE_SORTS, "facet_names": CATALOGUE_FACETS,
        "chosen": [{"name": name, "value": value, "label": labels.get((name, value), value),
                    "href": toggled(name, value)} for name, value in chosen],
        "toggled": toggled, "page": page,
        "pages": max(1, -(-result.total // CATALOGUE_PAGE_SIZE)),
        "page_url": lambda number: _catalogue_url([*kept, ("page", str(number))]),
        "error": problem, "is_synthetic": is_synthetic}, status=400 if problem else 200)


# --- creating a dataset ---------------------------------------------------------------------

def _publishing_organisations(session: Session, viewer: Viewer) -> list[Organisation]:
    """Organisations ``viewer`` may create datasets in (Unauthenticated / Forbidden if none)."""
    organisations = [o for o in repo.list_organisations(session) if allowed(viewer, "create", o)]
    if not viewer.signed_in:
        raise Unauthenticated("sign in to create datasets")
    if not may_create_datasets(viewer):
        raise Forbidden("you are an editor of no organisation: you may not create datasets")
    return organisations


def _new_dataset_page(request: Request, session: Session, values: dict[str, str],
                      error: str = "", status: int = 200, error_lang: str = "") -> HTMLResponse:
    viewer = get_viewer(request)
    return render(request, "dataset_new.html", {
        "organisations": _publishing_organisations(session, viewer), "values": values, "error": error,
        "error_lang": error_lang, "frequencies": FREQUENCIES, "access_levels": ACCESS_LEVELS},
        status=status)


@router.get("/datasets/new", response_class=HTMLResponse)
def new_dataset_form(request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    _publishing_organisations(session, viewer)
    return _new_dataset_page(request, session, {
        "licence": "Licence Ouverte 2.0", "frequency": "unknown", "access": "public", "producer": ""})


@router.post("/datasets/new", response_class=HTMLResponse)
def new_dataset_submit(
    request: Request, session: SessionDep, viewer: ViewerDep,
    organisation: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
    licence: Annotated[str, Form()] = "", themes: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "", spatial_coverage: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "unknown", access: Annotated[str, Form()] = "public",
    producer: Annotated[str, Form()] = "",
) -> Response:
    _publishing_organisations(session, viewer)
    values = {"organisation": organisation, "title": title, "slug": slug,
              "description": description, "licence": licence, "themes": themes,
              "keywords": keywords, "spatial_coverage": spatial_coverage,
              "frequency": frequency, "access": access, "producer": producer}
    try:
        if not organisation:
            raise FormProblem(_(request, "Choisissez l’organisation qui publie le jeu de données."))
        if not title.strip():
            raise FormProblem(_(request, "Donnez un titre au jeu de données."))
        metadata: dict[str, Any] = {
            "description": description.strip(), "themes": _split(themes),
            "keywords": _split(keywords), "spatial_coverage": _split(spatial_coverage),
            "frequency": frequency, "access": access}
        if licence.strip():
            metadata["licence"] = licence.strip()
        if producer.strip():
            metadata["producer"] = producer.strip()
        dataset = workflow.create_dataset(
            session, viewer, repo.get_organisation(session, organisation),
            title=title.strip(), slug=slug.strip() or None, address=client_address(request),
            **metadata)
        session.commit()
    except MutuelleError as exc:
        session.rollback()
        status = 400 if isinstance(exc, NotFound) else exc.status_code
        return _new_dataset_page(request, session, values, exc.message, status,
                                 _message_language(exc, request))
    return see_other(f"/datasets/{dataset.slug}/import")


# --- importing a file -----------------------------------------------------------------------

IMPORT_DEFAULTS = {"encoding": "", "delimiter": "", "sheet": "", "header_row": "",
                   "source_crs": "", "types": "", "allow_ragged": "", "fix_text": "",
                   "publish": "1"}


def _import_page(request: Request, dataset: Dataset, values: dict[str, str],
                 error: str = "", status: int = 200, error_lang: str = "",
                 server_problem: bool = False) -> HTMLResponse:
    return render(request, "import.html", {"dataset": dataset, "values": values, "error": error,
                                           "error_lang": error_lang,
                                           "server_problem": server_problem}, status=status)


def _server_problem(request: Request, problem: ResourceError) -> str:
    """What the server lacked, said without blaming the file (the details are in the log)."""
    if isinstance(problem, StorageFull):
        return _(request, "Le serveur n’a pas pu enregistrer le fichier : son espace de "
                          "stockage est plein.")
    if isinstance(problem, OutOfMemory):
        return _(request, "Le serveur n’a pas pu traiter le fichier : la mémoire lui a manqué.")
    return _(request, "Le serveur n’a pas pu enregistrer le fichier : son espace de stockage "
                      "n’est pas accessible en écriture.")


def _header_row(request: Request, text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise FormProblem(_(request, "La ligne d’en-tête doit être un nombre entier à partir de 1, "
                                      "pas « %(value)s ».", value=text.strip()))
    return int(text)


@router.get("/datasets/{slug}/import", response_class=HTMLResponse)
def import_form(slug: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    return _import_page(request, editable_dataset(session, viewer, slug), dict(IMPORT_DEFAULTS))


@router.post("/datasets/{slug}/import", response_class=HTMLResponse)
def import_submit(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    file: Annotated[UploadFile | None, File()] = None,
    encoding: Annotated[str, Form()] = "", delimiter: Annotated[str, Form()] = "",
    sheet: Annotated[str, Form()] = "", header_row: Annotated[str, Form()] = "",
    source_crs: Annotated[str, Form()] = "", types: Annotated[str, Form()] = "",
    allow_ragged: Annotated[str, Form()] = "", publish: Annotated[str, Form()] = "",
    fix_text: Annotated[str, Form()] = "",
) -> Response:
    dataset = editable_dataset(session, viewer, slug)
    values = {"encoding": encoding, "delimiter": delimiter, "sheet": sheet,
              "header_row": header_row, "source_crs": source_crs, "types": types,
              "allow_ragged": allow_ragged, "fix_text": fix_text, "publish": publish}
    try:
        if file is None or not file.filename:
            raise FormProblem(_(request, "Choisissez un fichier à importer."))
        options = import_options(
            encoding=encoding.strip(), delimiter=delimiter, sheet=sheet.strip(),
            header_row=_header_row(request, header_row), types=i18n.type_codes(types),
            allow_ragged=bool(allow_ragged), source_crs=source_crs.strip(),
            fix_text=bool(fix_text))
        # Only those who may publish change what readers of a published dataset see.
        live = bool(publish) and (dataset.status != "published" or allowed(viewer, "publish", dataset))
        upload = save_upload(file, settings)
        try:
            version = import_file(session, settings, dataset, upload, source_name=file.filename,
                                  options=options, publish=live, author=viewer.email or viewer.name)
        finally:
            discard(upload)
        workflow.version_published(session, viewer, dataset, version, address=client_address(request))
        session.commit()
    except Exception as exc:  # a reader bug must still give the form back, not a 500
        session.rollback()
        problem = resource_error(exc, settings)
        if problem is not None:  # a full disk, an unwritable store, no memory: not the file
            log.warning("import_failed dataset=%s error_code=%s message=%r", dataset.slug,
                        problem.error_code, problem.message)
            return _import_page(request, dataset, values, _server_problem(request, problem),
                                problem.status_code, language(request), server_problem=True)
        if isinstance(exc, MutuelleError):
            return _import_page(request, dataset, values, exc.message, exc.status_code,
                                _message_language(exc, request))
        log.exception("import failed unexpectedly dataset=%s", dataset.slug)
        message = _(request, "Le fichier n’a pas pu être lu (erreur inattendue, enregistrée "
                             "dans le journal).")
        return _import_page(request, dataset, values, message, 422, language(request))
    return see_other(f"/datasets/{dataset.slug}?imported={version.number}")


@router.get("/favicon.ico")
def favicon() -> Response:
    """The portal's icon where browsers and feed readers look for it without a ``<link>``."""
    return FileResponse(WEB_DIR / "static" / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


def install(app: FastAPI) -> None:
    """Register the pages, the ``/static`` files and the HTML error pages on ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.state.render_error = render_error
