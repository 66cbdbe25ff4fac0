"""Whole-version downloads: the original file, Parquet, and CSV streamed in constant memory."""

from __future__ import annotations

from fastapi.responses import FileResponse, Response, StreamingResponse

from mutuelle.access.policy import cache_control
from mutuelle.catalog.models import Version
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.query.exports import write_csv
from mutuelle.store.tables import record_batches
from mutuelle.store.versions import resolve

DOWNLOAD_KINDS = ("original", "csv", "parquet")


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
        return FileResponse(resolve(settings, version.original_path), filename=version.source_name,
                            headers=headers)
    if kind == "parquet":
        return FileResponse(resolve(settings, version.parquet_path), filename=f"{stem}.parquet",
                            media_type="application/vnd.apache.parquet", headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{stem}.csv"'
    batches = record_batches(settings, resolve(settings, version.parquet_path), version.schema)
    body = write_csv(batches, delimiter=",", header=list(version.schema))
    return StreamingResponse(body, media_type="text/csv; charset=utf-8",
                             headers=headers)
