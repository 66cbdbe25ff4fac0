"""Uploaded files and import options, as the API, the pages and the CLI receive them.

Uploads are copied to the work folder in blocks and refused as soon as they pass the limit.
"""

from __future__ import annotations

import shutil
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Protocol

from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, TooLarge
from mutuelle.ingest.model import ImportOptions
from mutuelle.store.resources import resource_error
from mutuelle.store.versions import staging_path


class Upload(Protocol):
    """A file sent by a client: its name as sent and a binary stream (FastAPI's ``UploadFile``
    is one)."""

    @property
    def filename(self) -> str | None: ...

    @property
    def file(self) -> BinaryIO: ...


def save_upload(upload: Upload, settings: Settings) -> Path:
    """The upload as a file under the work folder (caller removes it)."""
    if not upload.filename:
        raise InvalidInput("no file was sent")
    suffix = Path(upload.filename).suffix.lower()[:10]
    dest = settings.work_dir / "upload"   # where it goes, for a message if even that fails
    written = 0
    try:
        dest = staging_path(settings, suffix=f".upload{suffix}")
        with dest.open("wb") as out:
            while block := upload.file.read(1 << 20):
                written += len(block)
                if written > settings.max_upload_bytes:
                    raise TooLarge(
                        f"file {upload.filename!r} is over the limit of "
                        f"{settings.max_upload_bytes:,} bytes (MUTUELLE_MAX_UPLOAD_BYTES)"
                    )
                out.write(block)
    except BaseException as exc:
        with suppress(OSError):
            dest.unlink(missing_ok=True)
        # A full disk or an unwritable work folder: say so by role (a write error names no file).
        problem = resource_error(exc, settings, path=dest, context="while receiving the file; "
                                 "nothing was imported") if isinstance(exc, Exception) else None
        if problem is not None:
            raise problem from exc
        raise
    return dest


def parse_types(text: str | None) -> dict[str, str]:
    """``col=type,col2=type`` (the form and CLI syntax for type overrides) as a dict."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, kind = part.rpartition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"type override {part.strip()!r} must look like column=type")
        out[name.strip()] = kind.strip()
    return out


def import_options(
    *, encoding: str | None = None, delimiter: str | None = None, sheet: str | None = None,
    header_row: int | None = None, types: str | None = None, allow_ragged: bool = False,
    source_crs: str | None = None, fix_text: bool = False,
) -> ImportOptions:
    """Import options from form or query fields (empty strings mean "detect")."""
    if delimiter == "\\t" or delimiter == "tab":
        delimiter = "\t"
    return ImportOptions(
        encoding=encoding or None, delimiter=delimiter or None, sheet=sheet or None,
        header_row=header_row, types=parse_types(types), allow_ragged=allow_ragged,
        source_crs=source_crs or None, fix_text=fix_text,
    )


def discard(path: Path) -> None:
    """Remove an upload once imported (or refused)."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
