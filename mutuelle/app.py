"""The ASGI application: API routers, web pages and static files over one catalogue and store."""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from mutuelle import __version__
from mutuelle.api import dashboards as dashboards_api
from mutuelle.api import datasets as datasets_api
from mutuelle.api import discussions as discussions_api
from mutuelle.api import explore, explore_catalog, explore_legacy
from mutuelle.api import indicators as indicators_api
from mutuelle.api import members as members_api
from mutuelle.api import scenarios as scenarios_api
from mutuelle.api import territories as territories_api
from mutuelle.api import tiles as tiles_api
from mutuelle.api.compat import HeadAsGet, TrailingSlashes
from mutuelle.api.cors import CrossOrigin
from mutuelle.api.errors import install_error_handlers
from mutuelle.api.hot import Datasets, HotAnswers
from mutuelle.api.openapi import install_openapi
from mutuelle.api.timing import ServerTiming
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.core.config import Settings, load_settings
from mutuelle.federation.portals import PortalHosts
from mutuelle.ingest.service import after_commit, recover_imports
from mutuelle.query import records
from mutuelle.requests import DefaultCacheControl, guard


#: Swagger UI from the npm package swagger-ui-dist, copied by scripts/build-assets.sh: the
#: documentation works without reaching any other site.
SWAGGER_UI = "/static/vendor/swagger-ui"
DOCS_URL, OAUTH2_REDIRECT_URL = "/api/docs", "/docs/oauth2-redirect"


def _serve_docs(app: FastAPI) -> None:
    """``/api/docs``: the interactive documentation, with every asset served by the portal."""

    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=str(app.openapi_url), title=f"{app.title} — API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg", oauth2_redirect_url=OAUTH2_REDIRECT_URL)

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_route(DOCS_URL, docs, include_in_schema=False)
    app.add_route(OAUTH2_REDIRECT_URL, oauth2_redirect, include_in_schema=False)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """A portal over ``settings`` (default: from the environment); migrates the catalogue first."""
    settings = settings or load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings)
    app = FastAPI(
        title="mutuelle", version=__version__,
        description="API of a territorial data commons: the native catalogue API and an "
                    "Opendatasoft Explore v2.1 compatible API.",
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",  # docs: _serve_docs
        dependencies=[Depends(guard)],
    )
    app.state.settings = settings
    app.state.sessions = sessions(settings)
    recover_imports(settings, app.state.sessions)  # what a killed import left, before serving
    after_commit(records.first_page)  # each new version's preview answered from the start
    install_error_handlers(app)
    app.include_router(datasets_api.router)
    app.include_router(explore_catalog.router)
    app.include_router(explore.router)
    app.include_router(explore.native_router)
    app.include_router(explore_legacy.router)
    app.include_router(tiles_api.router)
    app.include_router(indicators_api.router)
    app.include_router(territories_api.router)
    app.include_router(scenarios_api.router)
    app.include_router(dashboards_api.router)
    app.include_router(dashboards_api.charts_router)
    app.include_router(members_api.router)
    app.include_router(discussions_api.router)
    # the web layer: pages and static files
    from mutuelle.web import (
        dashboard_pages,
        dataset_pages,
        discussion_pages,
        members_pages,
        observatory_pages,
        observatory_scenarios,
        pages,
        portal_pages,
    )

    pages.install(app)
    app.include_router(dataset_pages.router)  # after pages: /datasets/new before /datasets/{slug}
    app.include_router(members_pages.router)
    app.include_router(portal_pages.router)
    app.include_router(discussion_pages.router)
    observatory_pages.install(app)
    observatory_scenarios.install(app)
    dashboard_pages.install(app)
    install_openapi(app)   # every operation's error answers, once every route is in
    _serve_docs(app)
    app.state.hot_datasets = Datasets()
    app.add_middleware(HotAnswers, settings=settings, datasets=app.state.hot_datasets,  # innermost
                       sessions=app.state.sessions)
    app.add_middleware(DefaultCacheControl)
    app.add_middleware(TrailingSlashes)
    app.add_middleware(HeadAsGet)
    app.add_middleware(CrossOrigin, origins=settings.cors_origins)
    app.add_middleware(ServerTiming)
    if settings.portal_hosts:
        app.add_middleware(PortalHosts, setting=settings.portal_hosts)
    if settings.warm_up:
        from mutuelle.observatory.warmup import start_warm_up

        app.state.warm_up = start_warm_up(settings, app.state.sessions)
    return app
