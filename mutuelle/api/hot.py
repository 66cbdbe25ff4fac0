"""Hot answers: a repeated ``/records`` or ``/facets`` call on data anyone may read answered
from memory before any route runs.

An answer is a pure function of (version checksum, normalised query, access class)
(``query.answers``). The route learns, for an anonymous visitor, which version a dataset's
address names and that anyone may read it, together with the catalogue revision read when the
call came in (``catalog.entries``: every change to a dataset, a version, a field or an
organisation takes the next revision). While the revision has not moved, a later call is keyed
exactly as the route would key it (the same ``RecordsParams``, the same facets key, the
parameters read as FastAPI reads them) and, when its answer is in memory, sent as the route
would send it: same body, ETag, Cache-Control, 304. A caller with credentials (an API key, a
session cookie) gets it once they are checked, in a thread, as the route checks them: a bad
or revoked key, or a session that is not a member's, goes to the route. Anything else goes on
to the route too: a parameter this module does not read the way FastAPI does, a clause calling
``now()``, an answer not kept, a revision that moved (another worker may have published,
hidden or deleted the dataset: the route decides again).

The revision is read through a connection of the middleware's own: the event loop never waits
for the routes' pool. What it saves is the route's fixed cost, measured on a repeated first
page: the thread hop of a synchronous route, FastAPI's dependencies and the catalogue session
reading the dataset and its versions (``bench/api.py``, repeated queries).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import QueryParams
from starlette.requests import Request

from mutuelle.access.policy import ANONYMOUS, Viewer, cache_control
from mutuelle.access.viewers import viewer_of_request
from mutuelle.catalog.db import single_connection
from mutuelle.catalog.models import Version
from mutuelle.core.cache import digest
from mutuelle.core.config import Settings
from mutuelle.core.errors import MutuelleError
from mutuelle.query import answers
from mutuelle.query.records import Page, RecordsParams, access_class, page_query
from mutuelle.requests import SESSION_COOKIE, api_key_of, base_url

PREFIX = "/api/explore/v2.1/catalog/datasets/"
#: Where the revision read when a call came in is left for the route (``request.state``).
SEEN = "catalog_revision_seen"
#: Datasets remembered per app.
MAX_DATASETS = 10_000
_INT = re.compile(r"^-?[0-9]{1,9}$")
#: Booleans as pydantic reads them from a query string (anything else: the route answers).
_BOOLS = {"true": True, "1": True, "on": True, "yes": True, "t": True, "y": True,
          "false": False, "0": False, "off": False, "no": False, "f": False, "n": False}
#: Who calls, as far as the headers tell: nobody in particular, or someone with credentials
#: (checked in a thread before an answer is sent them).
ANONYMOUS_CALLER, CREDENTIALS = "anonymous", "credentials"
_RECORDS_PARAMS = frozenset({"apikey", "select", "where", "group_by", "order_by", "limit", "offset",
                             "refine", "exclude", "lang", "timezone", "after", "include_links",
                             "include_app_metas"})
_FACETS_PARAMS = frozenset({"apikey", "facet", "where", "refine", "exclude", "lang", "timezone"})
_STATE_SQL = text("SELECT epoch, revision FROM catalog_state WHERE id = 1")


@dataclass(frozen=True)
class Known:
    """What the route found for an anonymous visitor at one catalogue revision."""

    state: tuple[str, int]
    checksum: str


class Datasets:
    """The datasets an app's routes found readable by anyone, by the key in their address (one
    per app, on ``app.state.hot_datasets``; emptied when full: it refills in one call each)."""

    def __init__(self, limit: int = MAX_DATASETS) -> None:
        self.limit = limit
        self._known: dict[str, Known] = {}
        self._lock = threading.Lock()

    def get(self, dataset_key: str) -> Known | None:
        return self._known.get(dataset_key)

    def put(self, dataset_key: str, known: Known) -> None:
        with self._lock:
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[dataset_key] = known


def answer_headers(key: tuple[object, ...], public: bool) -> dict[str, str]:
    """The ETag (naming the key: a 304 costs nothing) and Cache-Control of a kept answer."""
    return {"ETag": f'"{digest(key)}"', "Cache-Control": cache_control(public, max_age=60)}


def facets_key(facet: list[str] | None, where: list[str] | None, refine: list[str] | None,
               exclude: list[str] | None, lang: str, timezone: str
               ) -> tuple[tuple[object, ...], tuple[str, ...]]:
    """The normalised query naming a /facets answer, and its non-blank ``where`` clauses."""
    clauses = tuple(w for w in (where or ()) if w.strip())
    return (tuple(facet or ()), clauses, tuple(refine or ()), tuple(exclude or ()), lang,
            timezone), clauses


def learn(request: Request, viewer: Viewer, dataset_key: str, version: Version) -> None:
    """Remember, for anonymous calls, that ``dataset_key`` names ``version``, which anyone may
    read: valid while the catalogue stays at the revision read when this call came in."""
    state = getattr(request.state, SEEN, None)
    datasets = getattr(request.app.state, "hot_datasets", None)
    if state is None or datasets is None or viewer != ANONYMOUS or access_class(version) != "public":
        return
    datasets.put(dataset_key, Known(state, version.checksum))


class HotAnswers:
    """ASGI middleware answering repeated anonymous /records and /facets calls from memory."""

    def __init__(self, app: Any, settings: Settings, datasets: Datasets,
                 sessions: sessionmaker[Session]) -> None:
        self.app, self.settings, self.datasets, self.sessions = app, settings, datasets, sessions
        # its own connection: the event loop never waits for the routes' pool
        self.engine = single_connection(settings)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            route = _route(scope["path"])
            caller = _caller(scope) if route is not None else None
            if route is not None and caller is not None:
                state = self._state()
                if state is not None:
                    if caller == ANONYMOUS_CALLER:
                        scope.setdefault("state", {})[SEEN] = state
                    if await self._answer(scope, send, state, *route, caller):
                        return
        await self.app(scope, receive, send)

    def _signed_in(self, scope: dict[str, Any]) -> bool:
        """Whether the credentials sent are good: a valid API key, or a session cookie of a
        signed-in member (who may read what anyone may; anything else: the route answers)."""
        request = Request(scope)
        token = request.cookies.get(SESSION_COOKIE)
        try:
            with self.sessions() as session:
                viewer, _ = viewer_of_request(session, self.settings, session_token=token,
                                              api_key=api_key_of(request))
        except (MutuelleError, SQLAlchemyError):
            return False
        return viewer != ANONYMOUS

    def _state(self) -> tuple[str, int] | None:
        try:
            with self.engine.connect() as con:
                row = con.execute(_STATE_SQL).first()
        except SQLAlchemyError:
            self.engine.dispose()  # a connection lost: the next call opens another
            return None
        return None if row is None else (str(row[0]), int(row[1]))

    async def _answer(self, scope: dict[str, Any], send: Any, state: tuple[str, int],
                      dataset_key: str, kind: str, caller: str) -> bool:
        known = self.datasets.get(dataset_key)
        if known is None or known.state != state or self.settings.answer_cache_mib <= 0:
            return False
        request = Request(scope)
        try:
            key = (self._records_key(request, known) if kind == "records"
                   else self._facets_key(request, known))
        except (MutuelleError, ValueError):
            return False
        if key is None:
            return False
        headers = answer_headers(key, True)
        unchanged = request.headers.get("if-none-match") == headers["ETag"]
        kept = None if unchanged else answers.recall(self.settings, key, first_look=True)
        if not unchanged and kept is None:
            return False
        if caller != ANONYMOUS_CALLER and not await to_thread.run_sync(self._signed_in, scope):
            return False
        if kept is None:
            await _send(send, 304, headers, b"")
            return True
        body, source = kept
        headers["Server-Timing"] = f'answer;desc="{source}", route;desc="skipped"'
        await _send(send, 200, {**headers, "Content-Type": "application/json"}, body)
        return True

    def _records_key(self, request: Request, known: Known) -> tuple[object, ...] | None:
        query = request.query_params
        if not set(query) <= _RECORDS_PARAMS:
            return None
        limit, offset = _int(query, "limit", 10), _int(query, "offset", 0)
        links, metas = _bool(query, "include_links"), _bool(query, "include_app_metas")
        if None in (limit, offset, links, metas):
            return None
        params = RecordsParams.of(
            select=query.get("select"), where=query.getlist("where"),
            group_by=query.get("group_by"), order_by=query.get("order_by"), limit=int(limit or 0),
            offset=int(offset or 0), refine=query.getlist("refine"),
            exclude=query.getlist("exclude"), lang=query.get("lang", "fr"),
            timezone=query.get("timezone", "UTC"), after=query.get("after"),
            include_links=bool(links), include_app_metas=bool(metas))
        if params.volatile:
            return None
        page = Page(request.url.path, base_url(request, self.settings) if links else "")
        return answers.answer_key(known.checksum, "public", "records", page_query(page, params))

    def _facets_key(self, request: Request, known: Known) -> tuple[object, ...] | None:
        query = request.query_params
        if not set(query) <= _FACETS_PARAMS:
            return None
        lang = query.get("lang", "fr")
        facet_query, clauses = facets_key(
            query.getlist("facet") or None, query.getlist("where") or None,
            query.getlist("refine") or None, query.getlist("exclude") or None, lang,
            query.get("timezone", "UTC"))
        if answers.uses_now(*clauses):
            return None
        return answers.answer_key(known.checksum, "public", "facets", facet_query)


def _route(path: str) -> tuple[str, str] | None:
    """(dataset key, "records" or "facets") for the paths answered here."""
    if not path.startswith(PREFIX) or "\x00" in path:
        return None
    dataset_key, _, kind = path[len(PREFIX):].partition("/")
    if not dataset_key or kind not in ("records", "facets"):
        return None
    return dataset_key, kind


def _caller(scope: dict[str, Any]) -> str | None:
    """``ANONYMOUS_CALLER`` when the caller sends no credential for sure (no Authorization
    header, no ``apikey`` parameter, no session cookie), ``CREDENTIALS`` otherwise; None for a
    NUL in the query (the guard refuses it)."""
    query = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return None
    if b"apikey" in query:
        return CREDENTIALS
    cookie = SESSION_COOKIE.encode()
    for name, value in scope.get("headers", ()):
        if name == b"authorization" or (name == b"cookie" and cookie in value):
            return CREDENTIALS
    return ANONYMOUS_CALLER


def _int(query: QueryParams, name: str, default: int) -> int | None:
    value = query.get(name)
    if value is None:
        return default
    return int(value) if _INT.match(value) else None


def _bool(query: QueryParams, name: str) -> bool | None:
    value = query.get(name)
    return False if value is None else _BOOLS.get(value.lower())


async def _send(send: Any, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if status != 304:
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
