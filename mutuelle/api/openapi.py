"""The OpenAPI document tells the truth: every operation declares the error answers it can
give, with their body ``{"error_code", "message"}``, from what kind of route it is (its method,
its parameters and body, whether it looks at who asks, its family), plus what a route declares
itself (``responses={403: {"description": ...}}`` gets the error body filled in here)."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from mutuelle.api.errors import OPENDATASOFT_PREFIXES, validation_status
from mutuelle.requests import get_viewer

UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})

#: Routes that run data queries under the portal's limit of concurrent queries (429 when full):
#: the Explore API and Opendatasoft's legacy paths, a version's records, the observatory's
#: computed values, maps and portraits.
QUERYING = (*OPENDATASOFT_PREFIXES, "/explore/dataset/",
            "/api/datasets/{dataset_id}/versions/{number}/records", "/api/indicators",
            "/api/territories/{level}/{code}", "/tiles/")


class ErrorBody(BaseModel):
    """The body of every error answer of the API (as Opendatasoft's Explore API answers)."""

    model_config = ConfigDict(title="Error")

    error_code: str = Field(min_length=1, description="what kind of error (a stable name)",
                            examples=["InvalidInput"])
    message: str = Field(min_length=1, description="what went wrong, and where (field, clause)",
                         examples=["limit: Input should be less than or equal to 100"])


class LegacyErrorBody(BaseModel):
    """The body of an error of Opendatasoft's legacy (v1) paths."""

    model_config = ConfigDict(title="LegacyError")

    error: str = Field(min_length=1, description="what went wrong, and where",
                       examples=["no dataset 'offres'"])


#: What each error status means, as the document says it.
MEANINGS: dict[int, str] = {
    400: "Bad request: a value that makes no sense here (an unknown level, an ODSQL clause "
         "that cannot run, a NUL in the address...); the message names it",
    401: "Unauthenticated: sign in, or send a valid API key (an invalid, revoked or expired "
         "key is refused wherever it is sent)",
    403: "Forbidden: the caller is known but may not do this (or the request came from "
         "another site, or without this browser's CSRF token)",
    404: "Not found: no such object, or one the caller may not see",
    413: "Too large: the file is over a limit of the portal (size, columns, inflated archive)",
    422: "Unprocessable: a parameter or a field of the body does not fit the document (type, "
         "length, range, allowed values), a text that cannot be stored, or a file that cannot "
         "be imported; the message names the field or the place in the file",
    429: "Too many queries at once: retry after the Retry-After header's seconds",
    503: "The server lacked a resource (memory, a writable store or catalogue); nothing was "
         "changed, try again later",
    507: "Insufficient storage: no space left where the server writes; nothing was changed",
}
EXPLORE_400 = (MEANINGS[400] + "; a parameter that does not fit the document (type, range) "
               "is a 400 too, as Opendatasoft answers")


def file_answers(media_types: Iterable[str], description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route answering a file (with ``response_class=Response``): its
    200 in each of ``media_types`` (``*/*`` for a file kept in the type it came in)."""
    return {200: {"description": description,
                  "content": {media: {} for media in dict.fromkeys(media_types)}}}


def install_openapi(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document declare every operation's error answers."""
    generate = app.openapi
    done: list[int] = []

    def document() -> dict[str, Any]:
        schema = generate()
        if id(schema) not in done:  # FastAPI made a new one (first call, or routes changed)
            declare_errors(schema, app.routes)
            done[:] = [id(schema)]
        return schema

    app.openapi = document  # type: ignore[method-assign]


def declare_errors(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    """Add to ``schema`` (an OpenAPI document) the error answers of each of its operations."""
    by_operation = {(context.path_format, method.lower()): context.original_route
                    for context in iter_route_contexts(list(routes))
                    if isinstance(context.original_route, APIRoute)
                    for method in context.methods or ()}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            route = by_operation.get((path, method))
            # A route class may answer its errors in its own shape (Opendatasoft's v1 paths).
            body: type[BaseModel] = getattr(route, "error_body", ErrorBody)
            name = str(body.model_config.get("title") or body.__name__)
            components[name] = body.model_json_schema()
            responses = operation.setdefault("responses", {})
            _drop_fastapi_validation(responses)
            for status in sorted(error_statuses(path, method, operation, route)):
                responses.setdefault(str(status), {})
            for status, answer in responses.items():
                if status.isdigit() and int(status) >= 400:
                    _fill(answer, int(status), path, name)
    if not _mentions(schema["paths"], "HTTPValidationError"):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)


def error_statuses(path: str, method: str, operation: dict[str, Any],
                   route: APIRoute | None) -> set[int]:
    """The error statuses an operation can answer, from what kind of route it is."""
    unsafe = method in UNSAFE_METHODS
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    statuses = {400, 503, 507}   # a NUL in the address; a lack of memory or storage anywhere
    if unsafe or (route is not None and _uses(route.dependant, get_viewer)):
        statuses.add(401)        # who asks is resolved: a bad key is refused
    if unsafe:
        statuses.add(403)        # rights, and the cross-site and CSRF guard
    if takes_input:
        statuses.add(404)        # the object named by the path, a parameter or the body
        statuses.add(validation_status(path))
    if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
        statuses.add(413)
    if path.startswith(QUERYING):
        statuses.add(429)
    return statuses


def _fill(answer: dict[str, Any], status: int, path: str, body: str) -> None:
    """An error answer's description (when missing) and body (the component ``body``)."""
    opendatasoft = path.startswith(OPENDATASOFT_PREFIXES)
    meaning = EXPLORE_400 if status == 400 and opendatasoft else MEANINGS.get(status)
    if answer.get("description") in (None, "", "Additional Response", HTTPStatus(status).phrase):
        answer["description"] = meaning or HTTPStatus(status).phrase
    answer.setdefault("content", {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{body}"}}})
    if status == 429:
        answer.setdefault("headers", {})["Retry-After"] = {"description": "seconds to wait",
                                                          "schema": {"type": "integer"}}


def _drop_fastapi_validation(responses: dict[str, Any]) -> None:
    """FastAPI's own 422 (``{"detail": [...]}``) is not what our handlers answer."""
    answer = responses.get("422", {})
    if _mentions(answer, "HTTPValidationError"):
        del responses["422"]


def _mentions(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        return any(_mentions(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, name) for v in value)
    return isinstance(value, str) and value.endswith(f"/{name}")


def _uses(dependant: Dependant, call: Any) -> bool:
    """Whether ``call`` is among the dependencies of a route (at any depth)."""
    return any(dep.call is call or _uses(dep, call) for dep in dependant.dependencies)
