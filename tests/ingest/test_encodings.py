"""The encoding option: applied to a Shapefile's attribute table (.dbf), which otherwise follows
its .cpg, its language driver byte or its bytes; refused, saying why, where the format fixes it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed
from mutuelle.ingest.dbf_encoding import code_page_name, single_byte
from mutuelle.ingest.model import ImportOptions, StagedTable
from mutuelle.ingest.reader import read_file
from mutuelle.store.duck import connect

#: Written by GDAL as latin-1 with one-byte stand-ins, then patched to cp1252's ’ and œ.
CP1252_PATCH = {b"|": b"\x92", b"#": b"\x9c"}
WRITTEN = [(1, "l|école"), (2, "#uvre d|art"), (3, "Hôtel de Ville")]
MEANT = ["l’école", "œuvre d’art", "Hôtel de Ville"]


def _read(settings: Settings, source: Path, **options: Any) -> StagedTable:
    dest = settings.home / "staged" / f"{source.stem}-{sorted(options.items())!r}.parquet"
    return read_file(source, source.name, dest, settings, ImportOptions(**options))


def _noms(settings: Settings, table: StagedTable) -> list[str]:
    with connect(settings, spatial=False) as con:
        return [r[0] for r in con.execute("SELECT nom FROM read_parquet(?)",
                                          [str(table.parquet_path)]).fetchall()]


# --- refused where the format fixes it --------------------------------------------------------

@pytest.mark.parametrize(("name", "words"), [
    ("stations_mojibake.geojson", ["GeoJSON", "RFC 7946", "fix_text"]),
    ("iris_lambert93.gpkg", ["GeoPackage", "UTF-8"]),
    ("ecoles_header_row4.xlsx", ["spreadsheet", "xlsx"]),
])
def test_an_encoding_is_refused_naming_the_format_that_fixes_it(
        settings: Settings, awkward: Path, name: str, words: list[str]) -> None:
    with pytest.raises(ImportFailed) as refused:
        _read(settings, awkward / name, encoding="cp1252")
    assert "'cp1252' cannot apply" in refused.value.message
    for word in words:
        assert word in refused.value.message
    assert not list((settings.home / "staged").glob("*.parquet"))


def test_utf8_asked_for_a_geojson_is_what_it_is_anyway(settings: Settings, awkward: Path) -> None:
    table = _read(settings, awkward / "stations_mojibake.geojson", encoding="UTF-8")
    assert table.row_count == 12 and table.detected["encoding"] == "utf-8"


# --- applied to a .dbf ------------------------------------------------------------------------

def test_a_cp1252_dbf_without_cpg_is_found_by_its_bytes(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("lieux", WRITTEN, written_as="ISO-8859-1", cpg="",
                              patch=CP1252_PATCH)
    table = _read(settings, source)
    assert _noms(settings, table) == MEANT and table.detected["encoding"] == "cp1252"
    assert not table.warnings


def test_the_encoding_asked_is_applied_to_the_dbf(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("lieux", WRITTEN, written_as="ISO-8859-1", cpg="",
                              patch=CP1252_PATCH)
    latin1 = _read(settings, source, encoding="latin-1")
    assert _noms(settings, latin1) == ["l\x92école", "\x9cuvre d\x92art", "Hôtel de Ville"]
    assert latin1.detected["encoding"] == "latin-1"


def test_a_cp850_dbf_reads_right_only_when_asked(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    # cp850 writes é as 0x82 and è as 0x8a: placeholders patched after GDAL wrote latin-1.
    source = zipped_shapefile("dos", [(1, "Lyon 4|me, caf#")], written_as="ISO-8859-1",
                              cpg="", patch={b"|": b"\x8a", b"#": b"\x82"})
    assert _noms(settings, _read(settings, source, encoding="cp850")) == ["Lyon 4ème, café"]
    assert _noms(settings, _read(settings, source)) == ["Lyon 4Šme, caf‚"]  # cp1252 guess


def test_the_cpg_names_the_encoding_and_the_option_overrides_a_wrong_one(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    named = zipped_shapefile("named", WRITTEN, written_as="ISO-8859-1", cpg="1252",
                             patch=CP1252_PATCH)
    assert _noms(settings, _read(settings, named)) == MEANT
    lying = zipped_shapefile("lying", WRITTEN, written_as="ISO-8859-1", cpg="UTF-8",
                             patch=CP1252_PATCH)
    with pytest.raises(ImportFailed, match=r"\.dbf\) holds text that is not utf-8 \(as its "
                                           r"\.cpg says\): give its encoding"):
        _read(settings, lying)
    assert _noms(settings, _read(settings, lying, encoding="cp1252")) == MEANT


def test_the_language_driver_byte_names_the_code_page_without_cpg(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("ansi", [(1, "caf#")], written_as="ISO-8859-1", cpg="",
                              patch={b"#": b"\x82"}, ldid=0x02)  # 0x02: cp850
    table = _read(settings, source)
    assert _noms(settings, table) == ["café"] and table.detected["encoding"] == "cp850"


def test_a_utf8_dbf_is_read_as_it_is(settings: Settings,
                                     zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("utf8", [(1, "Hôtel de Ville – l’œuvre")], cpg="")
    table = _read(settings, source)
    assert _noms(settings, table) == ["Hôtel de Ville – l’œuvre"]
    assert table.detected["encoding"] == "utf-8"


def test_an_encoding_of_several_bytes_per_character_is_refused_for_a_dbf(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("gbk", [(1, "x")], cpg="")
    with pytest.raises(ImportFailed, match="one-byte encoding"):
        _read(settings, source, encoding="gbk")


@pytest.mark.parametrize(("cpg", "codec"), [
    ("1252", "cp1252"), ("UTF-8", "utf-8"), ("utf8\n", "utf-8"), ("ANSI 1251", "cp1251"),
    ("88591", "iso8859-1"), ("ISO-8859-15", "iso8859-15"), ("nonsense", None), ("", None),
])
def test_a_cpg_names_a_python_codec(cpg: str, codec: str | None) -> None:
    assert code_page_name(cpg) == codec


def test_one_byte_encodings_are_told_from_the_others() -> None:
    assert all(single_byte(c) for c in ("cp1252", "latin-1", "cp850", "iso8859-15", "mac_roman"))
    assert not any(single_byte(c) for c in ("gbk", "shift_jis", "utf-16"))
