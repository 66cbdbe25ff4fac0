"""Whole-version downloads (the original file, Parquet, and CSV streamed in constant memory),
and how files made on the fly are streamed, exports included.

A streamed answer sends its status before its body: so its first part is made first, and a
lack of memory or disk, or a query that cannot run on the data, is a 503, 507 or 400 saying so
rather than a 200 cut short. Should the server fail later, mid-way, the connection is cut (the
client sees an incomplete answer, never a complete-looking one) and one line is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.types import Send

from mutuelle.access.policy import cache_control
from mutuelle.catalog.models import Version
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound, QueryError
from mutuelle.query.exports import write_csv
from mutuelle.query.run import QUERY_ERRORS
from mutuelle.store.resources import RESOURCE_EXCEPTIONS, resource_error
from mutuelle.store.tables import record_batches
from mutuelle.store.versions import resolve

log = logging.getLogger(__name__)

DOWNLOAD_KINDS = ("original", "csv", "parquet")

T = TypeVar("T")


def first_made(chunks: Iterator[T], settings: Settings, *, doing: str) -> Iterator[T]:
    """``chunks`` with its first item made now (for a query: the query has run up to its first
    batch), so that failing to make it is our error, raised before any answer: a lack of
    resources (``doing`` says what was being done), or a query that does not fit the data."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())
    except QUERY_ERRORS as exc:  # met only once the rows are read (a value that does not convert)
        raise QueryError(str(exc).splitlines()[0].split(":", 1)[-1].strip(), clause="where") from exc
    except RESOURCE_EXCEPTIONS as exc:
        problem = resource_error(exc, settings, context=f"while {doing}; nothing was sent")
        if problem is None:
            raise
        raise problem from exc
    return _then(first, chunks)


def _then(first: T, rest: Iterator[T]) -> Iterator[T]:
    yield first
    yield from rest  # closing this closes ``rest`` (its cursor) too


class CutShort(StreamingResponse):
    """A streamed answer that, when the server lacks a resource after the status was sent,
    stops without ending the body (the connection is cut) and logs one line, no traceback."""

    def __init__(self, content: Iterator[bytes], settings: Settings, *, doing: str,
                 media_type: str, headers: Mapping[str, str]) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.settings, self.doing = settings, doing

    async def stream_response(self, send: Send) -> None:
        """Send the body; when making it fails for want of memory or disk, stop there."""
        try:
            await super().stream_response(send)
        except RESOURCE_EXCEPTIONS as exc:
            problem = resource_error(exc, self.settings)
            if problem is None:
                raise
            log.warning("stream_cut_short doing=%r error_code=%s message=%r", self.doing,
                        problem.error_code, problem.message)


def streamed(chunks: Iterator[bytes], settings: Settings, *, doing: str, media_type: str,
             headers: Mapping[str, str]) -> StreamingResponse:
    """The answer streaming ``chunks``, its first chunk made before the status is sent."""
    return CutShort(first_made(chunks, settings, doing=doing), settings, doing=doing,
                    media_type=media_type, headers=headers)


def _stored(settings: Settings, relative: str) -> Path:
    """A stored file of a version, checked readable before its answer starts."""
    path = resolve(settings, relative)
    try:
        path.stat()
    except FileNotFoundError as exc:
        log.error("store_version_damaged file_missing=%s", relative)
        raise NotFound("the file of this version is missing from the store; the portal's "
                       "administrators can see it in the log") from exc
    except OSError as exc:
        problem = resource_error(exc, settings, path=path, context="while reading the version")
        if problem is None:
            raise
        raise problem from exc
    return path


def version_download(settings: Settings, version: Version, kind: str, *, public: bool,
                     immutable: bool) -> Response:
    """The response for one download kind of one version: cached by anyone for ever only when
    anyone may read it and it was asked by number (``latest`` moves)."""
    if kind not in DOWNLOAD_KINDS:
        raise NotFound(f"unknown download {kind!r}: one of {', '.join(DOWNLOAD_KINDS)}")
    stem = f"{version.dataset.slug}-v{version.number}"
    headers = {"ETag": f'"{version.checksum[:32]}-{kind}"',
               "Cache-Control": cache_control(public, immutable=immutable)}
    if kind == "original":
        if not version.original_path:
            raise NotFound("the original file of this version was not kept")
        return FileResponse(_stored(settings, version.original_path), filename=version.source_name,
                            headers=headers)
    parquet = _stored(settings, version.parquet_path)
    if kind == "parquet":
        return FileResponse(parquet, filename=f"{stem}.parquet",
                            media_type="application/vnd.apache.parquet", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    doing = f"reading version {version.number} of {version.dataset.slug!r}"
    batches = first_made(record_batches(settings, parquet, version.schema), settings, doing=doing)
    return streamed(write_csv(batches, delimiter=",", header=list(version.schema)), settings,
                    doing=doing, media_type="text/csv; charset=utf-8", headers=headers)

