"""Mojibake ("Lyon 4Ã¨me") counted per column with examples in every format, and repaired with
ftfy when asked; clean French text (accents, « », non-breaking spaces, ’) left alone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mutuelle.core.config import Settings
from mutuelle.ingest.model import ImportOptions, StagedTable
from mutuelle.ingest.reader import read_file
from mutuelle.ingest.text_repair import (
    CHECKED_VALUES,
    SUSPICIOUS,
    check_text,
    repaired,
    suspicious,
)
from mutuelle.store.duck import connect

#: The stations of the shared fixture once repaired (EXPECTED.md), in file order.
STATIONS_NOM = [
    "Gare Part-Dieu", "Hôtel de Ville", "Place des Célestins", "Rue de la République",
    "Croix-Rousse — Gros Caillou", "Saint-Just", "Quai Général Sarrail", "Jean Macé",
    "Grange Blanche", "Perrache", "Bellecour", "Hôpital Édouard Herriot",
]
STATIONS_COMMUNE = [
    "Lyon 1er", "Lyon 1er", "Lyon 7ème", "Lyon 1er", "Lyon 1er", "Lyon 4ème", "Lyon 7ème",
    "Villeurbanne", "Lyon 4ème", "Lyon 1er", "Lyon 7ème", "Lyon 6ème",
]
#: Clean French values that look a little like mojibake (an accent before « » or a
#: non-breaking space): none of them may be reported nor changed.
CLEAN = ["«\u00a0déjà vu\u00a0»", "Café\u00a0»", "l’école", "n°3", "Fourvière\u00a0:"]


def mojibake(text: str) -> str:
    """``text`` as it looks once its UTF-8 bytes are decoded as cp1252."""
    return text.encode("utf-8").decode("cp1252")


def _read(settings: Settings, source: Path, **options: Any) -> StagedTable:
    dest = settings.home / "staged" / f"{source.stem}-{len(options)}.parquet"
    return read_file(source, source.name, dest, settings, ImportOptions(**options))


def _column(settings: Settings, table: StagedTable, name: str) -> list[Any]:
    with connect(settings, spatial=False) as con:
        return [r[0] for r in con.execute(
            f'SELECT "{name}" FROM read_parquet(?)', [str(table.parquet_path)]).fetchall()]


def _warning(table: StagedTable, column: str) -> str:
    found = [w for w in table.warnings if w.startswith(f"column {column!r}:")]
    assert len(found) == 1, table.warnings
    return found[0]


# --- found in every format ---------------------------------------------------------------------

def test_the_mojibake_geojson_warns_per_column_with_examples(settings: Settings,
                                                             awkward: Path) -> None:
    table = _read(settings, awkward / "stations_mojibake.geojson")
    commune = _warning(table, "commune")
    assert "6 value(s) (3 distinct) look like mojibake" in commune
    assert "'Lyon 7Ã¨me' → 'Lyon 7ème'" in commune and "--fix-text" in commune
    nom = _warning(table, "nom")
    assert "5 value(s) look like mojibake" in nom and "'HÃ´tel de Ville' → 'Hôtel de Ville'" in nom
    assert _column(settings, table, "commune")[2] == "Lyon 7Ã¨me"  # found, not changed


def test_the_mojibake_geojson_is_repaired_on_request_and_clean_values_stay(
        settings: Settings, awkward: Path) -> None:
    table = _read(settings, awkward / "stations_mojibake.geojson", fix_text=True)
    assert _column(settings, table, "nom") == STATIONS_NOM
    assert _column(settings, table, "commune") == STATIONS_COMMUNE
    assert "6 value(s) (3 distinct) repaired" in _warning(table, "commune")
    notes = {c.name: c.note for c in table.columns}
    assert notes["nom"] == notes["commune"] == "mojibake repaired" and notes["id"] is None
    assert table.row_count == 12 and table.detected["geometry_type"] == "POINT"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_csv_names_its_mojibake_columns_and_header_but_not_clean_french(
        settings: Settings, write_csv: Callable[..., Path], encoding: str) -> None:
    rows = [f"{i};{mojibake('Lyon 4ème') if i < 3 else 'Villeurbanne'};"
            f"{mojibake('Hôtel de Ville') if i == 1 else 'Perrache'};{clean}"
            for i, clean in enumerate(CLEAN, start=1)]
    source = write_csv("stations.csv", "\n".join(
        [f"id;commune;{mojibake('Libellé')};note", *rows]) + "\n", encoding)
    table = _read(settings, source)
    assert "2 value(s) (1 distinct) look like mojibake" in _warning(table, "commune")
    assert "'Lyon 4Ã¨me' → 'Lyon 4ème'" in _warning(table, "commune")
    assert "1 value(s) look like mojibake" in _warning(table, "LibellÃ©")
    assert not [w for w in table.warnings if "'note'" in w]
    assert any(w.startswith("column names look like mojibake") and
               "'LibellÃ©' (→ 'Libellé')" in w for w in table.warnings)

    fixed = _read(settings, source, fix_text=True)
    names = [c.name for c in fixed.columns]
    assert names == ["id", "commune", "Libellé", "note"]
    assert fixed.columns[2].source_name == "LibellÃ©"
    assert _column(settings, fixed, "commune")[:3] == ["Lyon 4ème", "Lyon 4ème", "Villeurbanne"]
    assert _column(settings, fixed, "Libellé")[0] == "Hôtel de Ville"
    assert _column(settings, fixed, "note") == CLEAN
    assert _column(settings, fixed, "id") == [1, 2, 3, 4, 5]  # order and types kept


def test_an_xlsx_sheet_with_mojibake_is_reported_and_repaired(settings: Settings,
                                                              tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["code_commune", "nom"])
    for code, name in [("69381", "Lyon 1er"), ("69384", mojibake("Lyon 4ème")),
                       ("69387", mojibake("Lyon 7ème"))]:
        sheet.append([code, name])
    source = tmp_path / "communes.xlsx"
    book.save(source)
    table = _read(settings, source)
    assert "2 value(s) look like mojibake" in _warning(table, "nom")
    fixed = _read(settings, source, fix_text=True)
    assert _column(settings, fixed, "nom") == ["Lyon 1er", "Lyon 4ème", "Lyon 7ème"]
    assert _column(settings, fixed, "code_commune") == ["69381", "69384", "69387"]


def test_a_shapefile_with_mojibake_in_its_dbf_is_reported_and_repaired(
        settings: Settings, zipped_shapefile: Callable[..., Path]) -> None:
    source = zipped_shapefile("stations", [(1, mojibake("Hôtel de Ville")), (2, "Perrache")])
    table = _read(settings, source)
    assert "'HÃ´tel de Ville' → 'Hôtel de Ville'" in _warning(table, "nom")
    fixed = _read(settings, source, fix_text=True)
    assert _column(settings, fixed, "nom") == ["Hôtel de Ville", "Perrache"]


# --- per distinct value -----------------------------------------------------------------------

def test_many_rows_of_one_mojibake_value_are_counted_as_one_distinct_value(
        settings: Settings, write_csv: Callable[..., Path]) -> None:
    rows = [f"{i};{'Lyon 4Ã¨me' if i % 2 else 'Lyon 1er'}" for i in range(30_000)]
    table = _read(settings, write_csv("big.csv", "\n".join(["id;commune", *rows]) + "\n"))
    assert "15000 value(s) (1 distinct) look like mojibake" in _warning(table, "commune")


def test_past_the_checked_values_the_count_is_a_floor_and_the_repair_is_whole(
        settings: Settings, write_csv: Callable[..., Path]) -> None:
    count = CHECKED_VALUES + 5
    rows = [f"{i};{mojibake(f'Été {i}')}" for i in range(count)]
    source = write_csv("many.csv", "\n".join(["id;titre", *rows]) + "\n")
    table = _read(settings, source)
    assert f"{CHECKED_VALUES}+ value(s) look like mojibake" in _warning(table, "titre")
    fixed = _read(settings, source, fix_text=True)
    assert f"{count} value(s) repaired" in _warning(fixed, "titre")
    assert _column(settings, fixed, "titre") == [f"Été {i}" for i in range(count)]


# --- properties -------------------------------------------------------------------------------

FRENCH_WORDS = ["Hôtel", "de", "Ville", "Lyon", "4ème", "Célestins", "Édouard", "Noël", "œuvre",
                "l’école", "Marché", "Saône", "Fourvière", "Part-Dieu", "rue", "—", "«", "»",
                "Ça", "à", "déjà", "Préfecture", "Vénissieux", "n°", "12", "€", "«\u00a0Oui\u00a0»"]


@hsettings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FRENCH_WORDS), min_size=1, max_size=6))
def test_the_repair_of_mojibaked_french_gives_the_text_back(words: list[str]) -> None:
    text = " ".join(words)
    assert repaired(mojibake(text)) == text
    assert repaired(text) == text


@hsettings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.text(alphabet="abcé èàçôœ’«»€°ÉÀ-\u00a0", min_size=1, max_size=12),
                min_size=1, max_size=30))
def test_duckdb_and_python_flag_every_mojibaked_value_holding_an_accent(
        settings: Settings, values: list[str]) -> None:
    texts = [mojibake(v) for v in values]
    with connect(settings, spatial=False) as con:
        flagged = con.execute("SELECT list(regexp_matches(t, ?) ORDER BY i) FROM "
                              "(SELECT unnest(?::VARCHAR[]) AS t, unnest(range(?)) AS i)",
                              [SUSPICIOUS, texts + values, 2 * len(values)]).fetchone()[0]
    assert flagged[:len(values)] == [not v.isascii() for v in values]
    assert flagged == [suspicious(t) for t in texts + values]  # the same pattern in Python


def test_check_text_sees_what_it_is_asked_to_see(settings: Settings) -> None:
    with connect(settings, spatial=False) as con:
        con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (?, ?), (?, ?), (NULL, ?)) v(a, b)",
                    [mojibake("été"), "été", mojibake("été"), "Café\u00a0»", "x"])
        checked = check_text(con, "t", ["a", "b"])
    assert set(checked.columns) == {"a", "b"}  # b holds a candidate: "é" before a no-break space
    assert (checked.columns["a"].mojibake, checked.columns["a"].distinct) == (2, 1)
    assert checked.columns["b"].mojibake == 0
    assert [w.split(":")[0] for w in checked.warnings()] == ["column 'a'"]
