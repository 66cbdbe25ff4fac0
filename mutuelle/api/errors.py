"""The one place where errors become HTTP responses: JSON under /api, pages elsewhere."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mutuelle.core.errors import MutuelleError
from mutuelle.store.resources import RESOURCE_EXCEPTIONS, resource_error

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api", "/tiles")) or "application/json" in request.headers.get("accept", "")


def _render(request: Request, status: int, body: dict[str, object]) -> Response:
    if _wants_json(request) or not hasattr(request.app.state, "render_error"):
        headers = {"Retry-After": "10"} if status == 429 else None
        return JSONResponse(body, status_code=status, headers=headers)
    page: Response = request.app.state.render_error(request, status, str(body.get("message", "")))
    return page


def install_error_handlers(app: FastAPI) -> None:
    """Map our errors, validation errors and unexpected ones to clean responses."""

    @app.exception_handler(MutuelleError)
    async def mutuelle_error(request: Request, exc: MutuelleError) -> Response:
        return _render(request, exc.status_code, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path"))
            parts.append(f"{where}: {err.get('msg')}")
        return _render(request, 400, {"error_code": "InvalidInput", "message": "; ".join(parts)})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _render(request, exc.status_code, {"error_code": "HTTPError", "message": str(exc.detail)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error path=%s", request.url.path)
        return _render(request, 500, {"error_code": "InternalError",
                                      "message": "internal error; it has been logged"})

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
