"""Spreadsheets: sheet and header row found (or chosen), cells handed on as text."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest.excel import cell_text, detect_header_row, list_sheets, read_spreadsheet
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.reader import read_file
from mutuelle.store.duck import connect

ODS_CONTENT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content'
    ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Feuille1">'
    '<table:table-row>'
    '<table:table-cell office:value-type="string"><text:p>code_commune</text:p></table:table-cell>'
    '<table:table-cell office:value-type="string"><text:p>population</text:p></table:table-cell>'
    '</table:table-row>{rows}'
    '</table:table></office:spreadsheet></office:body></office:document-content>')
ODS_ROW = (
    '<table:table-row>'
    '<table:table-cell office:value-type="string"><text:p>{code}</text:p></table:table-cell>'
    '<table:table-cell office:value-type="float" office:value="{pop}"><text:p>{pop}</text:p>'
    '</table:table-cell></table:table-row>')


def _write_ods(path: Path, rows: list[tuple[str, int]]) -> Path:
    """A minimal but genuine OpenDocument spreadsheet (what LibreOffice reads and writes)."""
    body = "".join(ODS_ROW.format(code=c, pop=p) for c, p in rows)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet",
                         compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml",
                         '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:'
                         'xmlns:manifest:1.0"/>', compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", ODS_CONTENT.format(rows=body),
                         compress_type=zipfile.ZIP_DEFLATED)
    return path


def _values(settings: Settings, parquet: Path, sql: str) -> list[tuple]:
    con = connect(settings, spatial=False)
    try:
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{parquet}')")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_the_ecoles_workbook_skips_the_notes_sheet_and_finds_the_header_on_row_4(
        settings: Settings, fixtures_dir: Path) -> None:
    source = fixtures_dir / "awkward" / "ecoles_header_row4.xlsx"
    staged = read_file(source, source.name, settings.home / "e.parquet", settings,
                       ImportOptions())
    assert staged.format == "xlsx"
    assert staged.detected["sheet"] == "Données" and staged.detected["header_row"] == "4"
    assert staged.row_count == 30
    by_label = {(c.source_name or c.name): c for c in staged.columns}
    assert list(by_label) == ["Code école (UAI)", "Nom", "Commune (INSEE)", "Effectif",
                              "Date d'ouverture"]
    assert by_label["Code école (UAI)"].type == "text"
    assert by_label["Commune (INSEE)"].concept == "code_commune"
    assert by_label["Effectif"].type == "integer"
    assert by_label["Date d'ouverture"].type == "date"
    uai = by_label["Code école (UAI)"].name
    first, = _values(settings, staged.parquet_path, f'SELECT "{uai}" FROM t LIMIT 1')
    assert first == ("0699052A",)
    assert any("'Notes'" in w for w in staged.warnings)


def test_a_missing_sheet_is_refused_listing_the_sheets(settings: Settings,
                                                      fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed) as caught:
        read_spreadsheet(fixtures_dir / "awkward" / "ecoles_header_row4.xlsx",
                         settings.home / "e.parquet", settings, ImportOptions(sheet="Ecoles"))
    assert "no sheet named 'Ecoles'" in caught.value.message
    assert "'Notes', 'Données'" in caught.value.message


def test_list_sheets_gives_the_sheets_in_order(fixtures_dir: Path) -> None:
    assert list_sheets(fixtures_dir / "awkward" / "ecoles_header_row4.xlsx") == ["Notes",
                                                                                 "Données"]


def test_the_header_row_option_overrides_detection(settings: Settings, tmp_path: Path) -> None:
    source = _workbook(tmp_path / "t.xlsx", {"Feuil1": [
        ["code", "valeur"], ["ignored", "too"], ["code_commune", "population"],
        ["01001", 779], ["2A004", 66000]]})
    staged = read_spreadsheet(source, settings.home / "t.parquet", settings,
                              ImportOptions(header_row=3))
    assert staged.detected["header_row"] == "3" and staged.row_count == 2
    assert [c.name for c in staged.columns] == ["code_commune", "population"]
    rows = _values(settings, staged.parquet_path, "SELECT * FROM t")
    assert rows == [("01001", 779), ("2A004", 66000)]


def test_a_sheet_chosen_by_name_is_read_even_if_another_comes_first(settings: Settings,
                                                                     tmp_path: Path) -> None:
    source = _workbook(tmp_path / "t.xlsx", {
        "2023": [["code", "n"], ["01001", 1]], "2024": [["code", "n"], ["01001", 2]]})
    staged = read_spreadsheet(source, settings.home / "t.parquet", settings,
                              ImportOptions(sheet="2024"))
    assert staged.detected["sheet"] == "2024"
    assert _values(settings, staged.parquet_path, "SELECT n FROM t") == [(2,)]


def test_dates_numbers_and_booleans_reach_the_csv_reader_in_iso_and_dot_form(
        settings: Settings, tmp_path: Path) -> None:
    source = _workbook(tmp_path / "t.xlsx", {"Budget": [
        ["Chapitre", "Montant", "Vote", "Adopté"],
        ["011", 12345.67, dt.date(2024, 3, 28), True],
        ["012", 0.5, dt.date(2024, 12, 31), False]]})
    staged = read_spreadsheet(source, settings.home / "t.parquet", settings, ImportOptions())
    types = {c.name: c.type for c in staged.columns}
    assert types == {"Chapitre": "text", "Montant": "decimal", "Vote": "date",
                     "Adopté": "boolean"}
    rows = _values(settings, staged.parquet_path, "SELECT * FROM t")
    assert rows[0][0] == "011" and float(rows[0][1]) == 12345.67
    assert rows[0][2] == dt.date(2024, 3, 28) and rows[1][3] is False


def test_notes_under_the_table_are_skipped_and_reported(settings: Settings,
                                                        tmp_path: Path) -> None:
    source = _workbook(tmp_path / "t.xlsx", {"Données": [
        ["code", "population"], ["01001", 779], [None, None], ["01002", 256], [None, None],
        ["Source : INSEE, recensement 2021"], ["Champ : communes de l'Ain"]]})
    staged = read_spreadsheet(source, settings.home / "t.parquet", settings, ImportOptions())
    assert staged.row_count == 2
    assert any("2 note line(s)" in w and "rows 6–7" in w for w in staged.warnings)


def test_a_bad_value_is_reported_at_its_row_in_the_sheet(settings: Settings,
                                                         tmp_path: Path) -> None:
    source = _workbook(tmp_path / "t.xlsx", {"Pop": [
        ["Population 2021", None], [None, None], ["code", "population"], ["01001", 779],
        [None, None], ["01002", 256], ["01004", "secret statistique"]]})
    with pytest.raises(ImportFailed) as caught:
        read_spreadsheet(source, settings.home / "t.parquet", settings,
                         ImportOptions(types={"population": "integer"}))
    assert caught.value.where == "sheet 'Pop', row 7"
    assert not (settings.home / "t.parquet").exists()


def test_an_ods_spreadsheet_is_read_through_read_file(settings: Settings,
                                                     tmp_path: Path) -> None:
    source = _write_ods(tmp_path / "communes.ods", [("01001", 779), ("2A004", 66000)])
    staged = read_file(source, "communes.ods", settings.home / "c.parquet", settings,
                       ImportOptions())
    assert staged.format == "ods" and staged.row_count == 2
    assert _values(settings, staged.parquet_path, "SELECT * FROM t") == [
        ("01001", 779), ("2A004", 66000)]


def test_a_workbook_with_only_empty_sheets_is_refused(settings: Settings,
                                                     tmp_path: Path) -> None:
    source = _workbook(tmp_path / "empty.xlsx", {"Feuil1": [], "Feuil2": []})
    with pytest.raises(ImportFailed, match="every sheet of the workbook is empty.*'Feuil2'"):
        read_spreadsheet(source, settings.home / "t.parquet", settings, ImportOptions())


def test_a_sheet_wider_than_the_column_limit_is_refused_before_it_is_converted(
        settings: Settings, tmp_path: Path) -> None:
    source = _workbook(tmp_path / "wide.xlsx", {"W": [[f"c{i}" for i in range(6)],
                                                      list(range(6))]})
    with pytest.raises(TooLarge, match="6 columns, more than the 5"):
        read_spreadsheet(source, settings.home / "t.parquet", settings.with_(max_columns=5),
                         ImportOptions())
    assert [p for p in settings.work_dir.rglob("*") if p.is_file()] == []


def test_a_damaged_workbook_is_refused(settings: Settings, fixtures_dir: Path,
                                      tmp_path: Path) -> None:
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes((fixtures_dir / "awkward" / "ecoles_header_row4.xlsx").read_bytes()[:3000])
    with pytest.raises(ImportFailed, match="cannot be read"):
        read_spreadsheet(cut, settings.home / "t.parquet", settings, ImportOptions())


def test_cell_text_writes_iso_dates_and_plain_decimals() -> None:
    assert cell_text(dt.date(2024, 1, 2)) == "2024-01-02"
    assert cell_text(dt.datetime(2024, 1, 2, 10, 30)) == "2024-01-02T10:30:00"
    assert cell_text(174.0) == "174"
    assert cell_text(1.5e-7) == "0.00000015"
    assert cell_text(12345.67) == "12345.67"
    assert cell_text(True) == "true"
    assert cell_text("0699052A") == "0699052A"
    assert cell_text("") == "" and cell_text(None) == ""


def test_the_header_is_the_first_full_text_row_above_rows_of_its_width() -> None:
    rows = [["Effectifs scolaires par école", "", "", ""], ["Rentrée 2024", "", "", ""],
            ["", "", "", ""], ["UAI", "Nom", "Commune", "Effectif"],
            ["0699052A", "École 0", "69123", 174.0], ["0696688B", "École 1", "69123", 343.0]]
    assert detect_header_row(rows) == 3


def test_years_written_as_numbers_count_as_column_labels() -> None:
    rows = [["Population par commune", "", "", ""], ["Commune", 2019, 2020.0, 2021],
            ["Lyon", 516092, 518635, 520774], ["Villeurbanne", 150659, 152212, 154781]]
    assert detect_header_row(rows) == 1


def test_a_sheet_of_notes_has_no_header() -> None:
    assert detect_header_row([["Source : services municipaux."]]) is None
    assert detect_header_row([]) is None


_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé ", min_size=1, max_size=12).filter(
    lambda s: s.strip())


@hsettings(max_examples=100, deadline=None)
@given(titles=st.lists(_TEXT, max_size=4), blanks=st.integers(0, 2),
       header=st.lists(_TEXT, min_size=3, max_size=8),
       data=st.lists(st.lists(st.floats(-1e6, 1e6, allow_nan=False) | st.integers(0, 99999),
                              min_size=1, max_size=1), min_size=1, max_size=10))
def test_a_title_block_above_a_table_never_hides_its_header(
        titles: list[str], blanks: int, header: list[str], data: list[list[object]]) -> None:
    width = len(header)
    rows: list[list[object]] = [[t] + [""] * (width - 1) for t in titles]
    rows += [[""] * width for _ in range(blanks)]
    rows.append(list(header))
    rows += [[d[0]] * width for d in data]
    assert detect_header_row(rows) == len(titles) + blanks
