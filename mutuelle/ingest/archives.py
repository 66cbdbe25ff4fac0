"""Safe extraction of uploaded zip files: no path traversal, no symlinks, no zip bombs.

Declared sizes are checked first (cheap refusal), then every byte actually inflated is
counted while streaming, so a header that lies cannot make us write more than the limits.
"""

from __future__ import annotations

import logging
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge

log = logging.getLogger(__name__)

#: Most entries an uploaded zip may hold (a Shapefile has 3 to 8 files).
MAX_ZIP_ENTRIES = 1000
#: Below this many inflated bytes an entry may have any ratio (tiny files compress a lot).
RATIO_FLOOR_BYTES = 1024 * 1024
_CHUNK = 64 * 1024
#: Entries that archivers add and that carry no data.
_JUNK_PARTS = ("__MACOSX",)


@contextmanager
def extracted_zip(source: Path, settings: Settings) -> Iterator[Path]:
    """Extract ``source`` into a fresh folder under the work dir; remove it on exit."""
    folder = extract_zip(source, settings)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def extract_zip(source: Path, settings: Settings, *, max_entries: int = MAX_ZIP_ENTRIES) -> Path:
    """Extract ``source`` into a new folder under ``settings.work_dir`` and return it.

    The caller owns the folder. On any refusal the folder is removed and nothing was
    written outside it.
    """
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFailed(f"not a readable zip file: {exc}") from exc
    with archive:
        entries = archive.infolist()
        _check_entries(entries, settings, max_entries=max_entries)
        folder = Path(tempfile.mkdtemp(prefix="unzip-", dir=settings.work_dir))
        try:
            _extract_all(archive, entries, folder, settings, archive_size=source.stat().st_size)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    log.info("zip_extracted source=%s entries=%d folder=%s", source.name, len(entries), folder)
    return folder


def entry_parts(name: str) -> tuple[str, ...]:
    """The path components of a zip entry name, refusing absolute and ``..`` paths."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise ImportFailed("the zip holds an entry with an absolute path; refused",
                           where=f"entry {name!r}")
    parts = tuple(p for p in PurePosixPath(normalised).parts if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise ImportFailed("the zip holds an entry that points outside its folder ('..'); refused",
                           where=f"entry {name!r}")
    if any("\x00" in p for p in parts):
        raise ImportFailed("the zip holds an entry with a NUL character in its name; refused",
                           where=f"entry {name!r}")
    return parts


def is_junk(parts: tuple[str, ...]) -> bool:
    """True for entries archivers add without data (``__MACOSX/``, ``.DS_Store``, ``._x``)."""
    return any(p in _JUNK_PARTS or p.startswith(".") for p in parts)


def _check_entries(entries: list[zipfile.ZipInfo], settings: Settings, *,
                   max_entries: int) -> None:
    if len(entries) > max_entries:
        raise ImportFailed(f"the zip holds {len(entries)} entries, more than the {max_entries} "
                           "accepted")
    declared_total = 0
    for info in entries:
        entry_parts(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ImportFailed("the zip holds a symbolic link; refused",
                               where=f"entry {info.filename!r}")
        if info.flag_bits & 0x1:
            raise ImportFailed("the zip is encrypted; send it without a password",
                               where=f"entry {info.filename!r}")
        declared_total += info.file_size
        _check_ratio(info.filename, info.file_size, info.compress_size, settings)
    if declared_total > settings.max_unzipped_bytes:
        raise TooLarge(f"the zip inflates to {declared_total} bytes, more than the "
                       f"{settings.max_unzipped_bytes} accepted (MUTUELLE_MAX_UNZIPPED_BYTES)")


def _check_ratio(name: str, inflated: int, compressed: int, settings: Settings) -> None:
    if inflated <= RATIO_FLOOR_BYTES:
        return
    if inflated > settings.max_zip_ratio * max(compressed, 1):
        raise TooLarge(
            f"the zip entry {name!r} says it inflates from {compressed} to {inflated} bytes, "
            f"more than {settings.max_zip_ratio} times (a zip bomb?); refused "
            "(MUTUELLE_MAX_ZIP_RATIO)")


def _extract_all(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], folder: Path,
                 settings: Settings, *, archive_size: int) -> None:
    root = folder.resolve()
    total = 0
    for info in entries:
        parts = entry_parts(info.filename)
        if not parts or is_junk(parts):
            continue
        target = root.joinpath(*parts)
        # Belt and braces: the resolved path must still be inside the folder.
        if not target.resolve().is_relative_to(root):
            raise ImportFailed("the zip holds an entry that points outside its folder; refused",
                               where=f"entry {info.filename!r}")
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=False)
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise ImportFailed("the zip holds two entries for the same path; refused",
                               where=f"entry {info.filename!r}") from exc
        total = _stream_entry(archive, info, target, settings, total, archive_size)


def _stream_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path,
                  settings: Settings, total: int, archive_size: int) -> int:
    """Copy one entry, counting real bytes against the limits; returns the new total."""
    written = 0
    where = f"entry {info.filename!r}"
    try:
        with archive.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                total += len(chunk)
                if total > settings.max_unzipped_bytes:
                    raise TooLarge(
                        f"the zip inflates to more than the {settings.max_unzipped_bytes} bytes "
                        f"accepted (MUTUELLE_MAX_UNZIPPED_BYTES); stopped at {where}")
                if written > RATIO_FLOOR_BYTES and (
                        written > settings.max_zip_ratio * max(info.compress_size, 1)
                        or total > settings.max_zip_ratio * max(archive_size, 1)):
                    raise TooLarge(
                        f"the zip inflates more than {settings.max_zip_ratio} times its "
                        f"compressed size (a zip bomb?); stopped at {where} "
                        "(MUTUELLE_MAX_ZIP_RATIO)")
                dst.write(chunk)
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        raise ImportFailed(f"the zip is damaged or uses an unsupported compression: {exc}",
                           where=where) from exc
    return total
