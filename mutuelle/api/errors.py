"""The one place where errors become HTTP responses: JSON under /api, pages elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.routing import Match

from mutuelle.core.errors import MutuelleError
from mutuelle.store.resources import RESOURCE_EXCEPTIONS, resource_error

log = logging.getLogger(__name__)

#: The Opendatasoft compatible APIs (Explore v2.1, and the v1 legacy paths), whose errors
#: follow Opendatasoft's: 400 for a parameter that does not fit.
OPENDATASOFT_PREFIXES = ("/api/explore/", "/api/records/")
API_PREFIXES = ("/api", "/tiles")
#: What a request is told when no catalogue connection freed up in time.
CATALOGUE_BUSY = "the catalogue is busy; retry in a few seconds"


def validation_status(path: str) -> int:
    """The status of a request that does not fit the declared parameters or body: 422 on our
    native API, 400 on the Opendatasoft compatible APIs (as Opendatasoft answers) and on web
    pages."""
    if path.startswith(OPENDATASOFT_PREFIXES) or not path.startswith(API_PREFIXES):
        return 400
    return 422


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIXES) or "application/json" in request.headers.get("accept", "")


def _render(request: Request, status: int, body: dict[str, object],
            headers: Mapping[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if status == 429:
        headers.setdefault("Retry-After", "10")
    if _wants_json(request) or not hasattr(request.app.state, "render_error"):
        return JSONResponse(body, status_code=status, headers=headers or None)
    page: Response = request.app.state.render_error(request, status, str(body.get("message", "")))
    page.headers.update(headers)
    return page


def _field(loc: Sequence[object]) -> str:
    """Where a validation error is: the parameter or the field of the body (``themes.0``)."""
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("query", "path", "body", "header",
                                                              "cookie") else [str(p) for p in loc]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers at this address (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors, validation errors and unexpected ones to clean responses."""

    @app.exception_handler(MutuelleError)
    async def mutuelle_error(request: Request, exc: MutuelleError) -> Response:
        return _render(request, exc.status_code, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = [f"{_field(err.get('loc', ()))}: {err.get('msg')}" for err in exc.errors()]
        return _render(request, validation_status(request.url.path),
                       {"error_code": "InvalidInput", "message": "; ".join(parts)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 405:  # RFC 9110: say which methods this address answers
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
            message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        try:
            code = HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        except ValueError:
            code = "HTTPError"
        return _render(request, exc.status_code, {"error_code": code, "message": message}, headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error path=%s", request.url.path)
        return _render(request, 500, {"error_code": "InternalError",
                                      "message": "internal error; it has been logged"})

    @app.exception_handler(PoolTimeout)
    async def catalogue_busy(request: Request, exc: PoolTimeout) -> Response:
        # every connection of the catalogue's pool held longer than its timeout: a burst
        log.warning("catalogue_pool_exhausted path=%s", request.url.path)
        return _render(request, 503, {"error_code": "CatalogueBusy", "message": CATALOGUE_BUSY},
                       {"Retry-After": "2"})

    async def resource_lacking(request: Request, exc: Exception) -> Response:
        # A full disk, an unwritable store or no memory left: 507/503 saying so, not a bug's 500.
        problem = resource_error(exc, getattr(request.app.state, "settings", None))
        if problem is None:
            return await unexpected(request, exc)
        log.warning("resource_error path=%s error_code=%s message=%r", request.url.path,
                    problem.error_code, problem.message)
        return _render(request, problem.status_code, problem.to_dict())

    for kind in RESOURCE_EXCEPTIONS:
        app.add_exception_handler(kind, resource_lacking)
