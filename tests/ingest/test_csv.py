"""The CSV reader on the awkward files and on files written here to corner it."""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from pathlib import Path

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest.csv import name_columns
from mutuelle.ingest.encoding import sniff_delimiter
from mutuelle.ingest.encoding import UTF16, transcode_to_utf8


def _by_name(table):
    return {c.name: c for c in table.columns}


# --- the awkward files ------------------------------------------------------------------

def test_the_cp1252_budget_reads_forty_rows_of_french_numbers_and_dates(import_csv, rows_of,
                                                                        awkward):
    table = import_csv(awkward / "budget_cp1252.csv")
    cols = _by_name(table)
    assert table.row_count == 40
    assert list(cols) == ["Exercice", "Chapitre", "Libellé", "Montant prévu (€)",
                          "Montant réalisé (€)", "Date du vote"]
    assert [c.type for c in table.columns] == ["integer", "text", "text", "decimal", "decimal",
                                               "date"]
    assert table.detected["encoding"] == "cp1252"
    assert table.detected["delimiter"] == ";"
    assert table.detected["decimal_separator"] == ","
    assert table.detected["date_format"] == "%d/%m/%Y"
    rows = rows_of(table)
    first = rows[0]
    assert first["Exercice"] == 2021
    assert first["Chapitre"] == "011"
    assert first["Libellé"] == "Charges à caractère général"
    assert first["Montant prévu (€)"] == 21782048.19          # thousands: spaces
    assert first["Montant réalisé (€)"] == 16939257.91        # thousands: no-break spaces
    assert first["Date du vote"] == dt.date(2021, 1, 2)
    assert rows[-1]["Montant prévu (€)"] == 23043901.94
    assert sum(1 for r in rows if r["Chapitre"] == "011") == 4


def test_the_communes_file_loses_its_bom_and_keeps_its_codes_as_written(import_csv, rows_of,
                                                                        awkward):
    table = import_csv(awkward / "communes_bom.csv")
    cols = _by_name(table)
    assert table.row_count == 8
    assert table.columns[0].name == "code_commune"
    assert table.detected["encoding"] == "utf-8-sig"
    assert table.detected["delimiter"] == ","
    assert (cols["code_commune"].type, cols["code_commune"].concept) == ("text", "code_commune")
    assert (cols["code_postal"].type, cols["code_postal"].concept) == ("text", "code_postal")
    assert (cols["code_departement"].type, cols["code_departement"].concept) == \
        ("text", "code_departement")
    assert (cols["siren_epci"].type, cols["siren_epci"].concept) == ("text", "siren")
    assert cols["population"].type == "integer"
    rows = rows_of(table)
    assert [r["code_commune"] for r in rows[:4]] == ["01001", "01004", "2A004", "2B033"]
    assert rows[6]["code_commune"] == "97101"
    assert rows[0]["nom"] == "L'Abergement-Clémenciat"
    assert rows[0]["code_postal"] == "01400"
    assert [r["code_departement"] for r in rows if r["code_departement"] in ("01", "2A", "971")]
    assert {"01", "2A", "971"} <= {r["code_departement"] for r in rows}


def test_a_ragged_row_is_refused_naming_line_57(import_csv, awkward):
    with pytest.raises(ImportFailed) as caught:
        import_csv(awkward / "ragged_line57.csv")
    assert caught.value.where == "line 57"
    assert "4 fields instead of 3" in caught.value.message


def test_ragged_rows_are_imported_when_the_user_allows_it_with_a_warning(import_csv, rows_of,
                                                                       awkward):
    table = import_csv(awkward / "ragged_line57.csv", allow_ragged=True)
    assert table.row_count == 99
    assert any("line 57" in w for w in table.warnings)
    row = next(r for r in rows_of(table) if r["id"] == 56)
    assert row == {"id": 56, "libelle": "ligne 56", "valeur": 168}


def test_quoted_newlines_semicolons_and_doubled_quotes_survive(import_csv, rows_of, awkward):
    table = import_csv(awkward / "deliberations_multiline.csv")
    rows = rows_of(table)
    assert table.row_count == 3
    assert "\n" in rows[0]["objet"] and ";" in rows[0]["objet"]
    assert rows[0]["objet"] == "Approbation du budget ; exercice 2024\nvote à l'unanimité"
    assert rows[1]["objet"] == 'Subvention à l\'association "Les Amis du Parc"'
    assert rows[2]["objet"] == "Ligne 1\nLigne 2\nLigne 3"


def test_the_insee_iris_file_keeps_iris_codes_as_text_with_their_concepts(import_csv, rows_of,
                                                                          awkward):
    table = import_csv(awkward / "base_ic_iris.csv")
    cols = _by_name(table)
    assert table.row_count == 21
    assert (cols["IRIS"].type, cols["IRIS"].concept) == ("text", "code_iris")
    assert (cols["COM"].type, cols["COM"].concept) == ("text", "code_commune")
    assert all(cols[n].type == "decimal" for n in cols if n.startswith("P21_"))
    rows = rows_of(table)
    assert all(len(r["IRIS"]) == 9 for r in rows)
    assert "2A0040001" in {r["IRIS"] for r in rows}
    assert rows[0]["P21_POP"] == 2663.182482


def test_an_empty_file_is_refused(import_csv, awkward):
    with pytest.raises(ImportFailed, match="empty"):
        import_csv(awkward / "empty.csv")


def test_a_file_of_blank_lines_or_a_lone_bom_is_refused_as_empty(import_csv, write_csv):
    with pytest.raises(ImportFailed, match="empty"):
        import_csv(write_csv("blank.csv", "\r\n\n  \n"))
    with pytest.raises(ImportFailed, match="empty"):
        import_csv(write_csv("bom.csv", "\ufeff\n", encoding="utf-8"))


def test_a_header_without_rows_gives_an_empty_table_of_text_columns(import_csv, rows_of, awkward):
    table = import_csv(awkward / "header_only.csv")
    assert table.row_count == 0
    assert [(c.name, c.type) for c in table.columns] == [
        ("code_commune", "text"), ("nom", "text"), ("valeur", "text")]
    assert rows_of(table) == []


def test_a_png_named_csv_is_refused_as_not_a_text_table(import_csv, awkward):
    with pytest.raises(ImportFailed, match="not a text table"):
        import_csv(awkward / "binary_named.csv")


def test_duplicate_and_empty_column_names_are_made_unique_and_reported(import_csv, rows_of,
                                                                      awkward):
    table = import_csv(awkward / "duplicate_columns.csv")
    assert [c.name for c in table.columns] == ["code", "nom", "nom_2", "colonne_4", "valeur"]
    renamed = _by_name(table)
    assert renamed["nom_2"].source_name == "nom" and renamed["nom_2"].note
    assert renamed["colonne_4"].source_name == "" and renamed["colonne_4"].note
    assert any("nom_2" in w and "colonne_4" in w for w in table.warnings)
    assert rows_of(table) == [{"code": "01001", "nom": "A", "nom_2": "B", "colonne_4": "x",
                               "valeur": 1}]


def test_ten_thousand_columns_are_refused_over_the_limit_in_bounded_time_and_memory(
        import_csv, awkward):
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImportFailed, match="10000 columns.*2000.*MUTUELLE_MAX_COLUMNS"):
            import_csv(awkward / "wide_10000_columns.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5
    assert peak < 50 * 2**20


def test_the_latin1_schools_become_wgs84_points_around_lyon(import_csv, rows_of, awkward):
    table = import_csv(awkward / "ecoles_latlon_latin1.csv")
    cols = _by_name(table)
    assert table.row_count == 40
    assert (cols["latitude"].type, cols["latitude"].concept) == ("decimal", "latitude")
    assert (cols["longitude"].type, cols["longitude"].concept) == ("decimal", "longitude")
    assert cols["geometry"].type == "geometry"
    rows = rows_of(table)
    assert rows[0]["nom"] == "École 0" and rows[0]["type"] == "élémentaire"
    assert rows[0]["latitude"] == 45.79906 and rows[0]["longitude"] == 4.899853
    for row in rows:
        lon, lat = (float(v) for v in row["geometry"].removeprefix("POINT (").rstrip(")").split())
        assert (lon, lat) == (row["longitude"], row["latitude"])
        assert 45.7 <= lat <= 45.8 and 4.78 <= lon <= 4.9


# --- numbers, dates, codes beyond the sample ---------------------------------------------

def _numbers(rows: int, bad_line: int, bad: str) -> str:
    lines = ["id;valeur"]
    for i in range(2, rows + 2):
        lines.append(f"{i};{bad if i == bad_line else i * 3}")
    return "\n".join(lines) + "\n"


def test_french_numbers_with_every_thousands_separator_are_read_exactly(import_csv, rows_of,
                                                                       write_csv):
    text = "montant\n12 345,67\n12\u00a0345,67\n12\u202f345,67\n-1 000 000,5\n0,25\n"
    table = import_csv(write_csv("montants.csv", text))
    assert table.columns[0].type == "decimal"
    assert [r["montant"] for r in rows_of(table)] == [12345.67, 12345.67, 12345.67,
                                                      -1000000.5, 0.25]


def test_a_word_beyond_the_sample_makes_the_column_text_rather_than_null(
        import_csv, rows_of, write_csv, settings: Settings):
    source = write_csv("late.csv", _numbers(500, 400, "inconnu"))
    table = import_csv(source, settings=settings.with_(sample_rows=100))
    assert _by_name(table)["valeur"].type == "text"
    assert any("valeur" in w and "line 400" in w and "inconnu" in w for w in table.warnings)
    values = [r["valeur"] for r in rows_of(table)]
    assert "inconnu" in values and None not in values and "6" in values


def test_decimals_beyond_an_integer_sample_widen_the_column_to_decimal(
        import_csv, rows_of, write_csv, settings: Settings):
    source = write_csv("late.csv", _numbers(500, 300, "2,5"))
    table = import_csv(source, settings=settings.with_(sample_rows=50))
    assert _by_name(table)["valeur"].type == "decimal"
    values = [r["valeur"] for r in rows_of(table)]
    assert values[298] == 2.5 and values[0] == 6.0
    assert any("line 300" in w for w in table.warnings)


def test_a_leading_zero_beyond_the_sample_keeps_the_code_as_text(
        import_csv, rows_of, write_csv, settings: Settings):
    source = write_csv("late.csv", _numbers(300, 250, "0123"))
    table = import_csv(source, settings=settings.with_(sample_rows=50))
    assert _by_name(table)["valeur"].type == "text"
    assert "0123" in [r["valeur"] for r in rows_of(table)]


def test_a_forced_type_wins_and_a_value_that_does_not_fit_names_column_and_line(
        import_csv, rows_of, write_csv):
    source = write_csv("forced.csv", "code;n\n01;1\n02;2\n")
    table = import_csv(source, types={"code": "integer", "n": "text"})
    assert [r for r in rows_of(table)] == [{"code": 1, "n": "1"}, {"code": 2, "n": "2"}]
    bad = write_csv("forced_bad.csv", 'id;texte;note\n1;"deux\nlignes";4\n2;a;3\n3;b;x\n4;c;5\n')
    with pytest.raises(ImportFailed) as caught:
        import_csv(bad, types={"note": "integer"})
    assert caught.value.where == "line 5"  # physical line: the quoted newline counts
    assert "'note'" in caught.value.message and "'x'" in caught.value.message


def test_an_unknown_forced_column_or_type_is_refused(import_csv, write_csv):
    source = write_csv("a.csv", "a;b\n1;2\n")
    with pytest.raises(ImportFailed, match="'c'"):
        import_csv(source, types={"c": "integer"})
    with pytest.raises(ImportFailed, match="unknown type"):
        import_csv(source, types={"a": "money"})


def test_booleans_datetimes_and_null_markers_are_typed(import_csv, rows_of, write_csv):
    text = ("actif;cree;vu;nb\n"
            "oui;2024-01-31T10:00:00;31/01/2024 10:05;NA\n"
            "Non;2024-02-01 08:30;01/02/2024 09:00:30;12\n")
    table = import_csv(write_csv("types.csv", text))
    assert [c.type for c in table.columns] == ["boolean", "datetime", "datetime", "integer"]
    assert rows_of(table) == [
        {"actif": True, "cree": dt.datetime(2024, 1, 31, 10, 0), "vu": dt.datetime(2024, 1, 31, 10, 5),
         "nb": None},
        {"actif": False, "cree": dt.datetime(2024, 2, 1, 8, 30), "vu": dt.datetime(2024, 2, 1, 9, 0, 30),
         "nb": 12}]
    assert any("'NA'" in w for w in table.warnings)


# --- encodings ------------------------------------------------------------------------

def test_a_utf8_file_whose_end_is_cp1252_is_recovered_with_a_warning(import_csv, rows_of,
                                                                    write_csv):
    head = "id;libelle\n" + "".join(f"{i};ligne simple {i}\n" for i in range(1, 80000))
    tail = "80000;Fête à l'école\n".encode("cp1252")
    source = write_csv("mixte.csv", head.encode("utf-8") + "80001;déjà vu\n".encode() + tail)
    assert source.stat().st_size > 1 << 20
    table = import_csv(source)
    rows = rows_of(table)
    assert rows[-1]["libelle"] == "Fête à l'école"
    assert rows[-2]["libelle"] == "déjà vu"
    assert table.detected["encoding"] == "utf-8+cp1252"
    assert any("line 80002" in w for w in table.warnings)


def test_a_user_given_encoding_that_does_not_fit_fails_naming_the_line(import_csv, write_csv):
    source = write_csv("x.csv", "a;b\n1;2\n3;é\n", encoding="cp1252")
    with pytest.raises(ImportFailed) as caught:
        import_csv(source, encoding="utf-8")
    assert caught.value.where == "line 3"


def test_utf16_with_bom_is_transcoded(import_csv, rows_of, write_csv):
    source = write_csv("excel.txt", "nom\tmontant\nÉcole\t1,5\n", encoding="utf-16")
    table = import_csv(source)
    assert table.detected["encoding"] == "utf-16" and table.detected["delimiter"] == "\t"
    assert rows_of(table) == [{"nom": "École", "montant": 1.5}]


def test_transcoding_streams_in_chunks_and_cuts_no_character(tmp_path: Path):
    text = "é€😀;" * 300_000
    source = tmp_path / "big.txt"
    source.write_bytes(text.encode("utf-16"))
    dest = tmp_path / "big.utf8"
    seen: list[int] = []
    tracemalloc.start()
    try:
        transcode_to_utf8(source, dest, UTF16, seen.append, chunk_bytes=64 * 1024 + 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert dest.read_text(encoding="utf-8") == text
    assert len(seen) > 40 and seen[-1] == source.stat().st_size
    assert peak < 2 * 2**20  # chunks, never the 6 MB file


# --- dialect, names, paths, files left behind -----------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("a;b;c\n1;2,5;3\n", ";"),
    ('a,b\n"x; y",1\n"z; w",2\n', ","),
    ("a\tb\n1\t2\n", "\t"),
    ("a|b|c\n1|2|3\n", "|"),
    ('nom;objet\nx;"ligne 1\nligne, 2, 3"\n', ";"),
    ("seule\n1\n2\n", ";"),  # one column: any delimiter absent from the file
])
def test_the_delimiter_is_found_respecting_quotes(text, expected):
    assert sniff_delimiter(text) == expected


def test_names_are_stripped_and_keep_their_accents():
    columns, warnings = name_columns([" Libellé ", "Montant prévu (€)", "NOM", "nom", ""])
    assert [c.name for c in columns] == ["Libellé", "Montant prévu (€)", "NOM", "nom_2",
                                         "colonne_5"]
    assert columns[0].source_name == " Libellé "
    assert len(warnings) == 1


def test_column_names_and_paths_with_quotes_are_safe(import_csv, rows_of, tmp_path: Path):
    folder = tmp_path / "l'export [1]*"
    folder.mkdir()
    source = folder / "d'abord.csv"
    source.write_text('"a""; DROP TABLE x; --";\'b\';c\n1;2;3\n', encoding="utf-8")
    table = import_csv(source)
    assert [c.name for c in table.columns] == ['a"; DROP TABLE x; --', "'b'", "c"]
    assert rows_of(table) == [{'a"; DROP TABLE x; --': 1, "'b'": 2, "c": 3}]


def test_a_failed_import_leaves_no_partial_file_and_no_scratch(settings: Settings, tmp_path: Path,
                                                               awkward):
    from mutuelle.ingest.csv import read_csv
    from mutuelle.ingest.model import ImportOptions

    dest = tmp_path / "out" / "table.parquet"
    dest.parent.mkdir()
    dest.write_bytes(b"previous version")
    with pytest.raises(ImportFailed):
        read_csv(awkward / "ragged_line57.csv", dest, settings, ImportOptions())
    assert dest.read_bytes() == b"previous version"
    assert [p.name for p in dest.parent.iterdir()] == ["table.parquet"]
    assert not any(p.name.startswith("csv-") for p in settings.work_dir.iterdir())


def test_a_file_over_the_upload_limit_is_refused(import_csv, awkward, settings: Settings):
    with pytest.raises(TooLarge, match="MUTUELLE_MAX_UPLOAD_BYTES"):
        import_csv(awkward / "budget_cp1252.csv", settings=settings.with_(max_upload_bytes=100))


def test_progress_goes_from_zero_to_the_file_size_without_going_back(import_csv, awkward):
    seen: list[tuple[int, int]] = []
    source = awkward / "budget_cp1252.csv"
    import_csv(source, progress=lambda done, total: seen.append((done, total)))
    size = source.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_coordinates_named_by_the_user_make_points(import_csv, rows_of, write_csv):
    source = write_csv("pts.csv", "nom;Y_WGS;X_WGS\nA;45,75;4,85\n")
    table = import_csv(source, latitude="Y_WGS", longitude="X_WGS")
    assert rows_of(table)[0]["geometry"] == "POINT (4.85 45.75)"


def test_padded_values_are_trimmed_even_beyond_the_sample(import_csv, rows_of, write_csv,
                                                         settings: Settings):
    lines = ["id;montant"] + [f"{i};{i},5" for i in range(1, 300)] + ["300;  12,25 ", "301;   "]
    table = import_csv(write_csv("pad.csv", "\n".join(lines) + "\n"),
                       settings=settings.with_(sample_rows=50))
    assert _by_name(table)["montant"].type == "decimal"
    values = [r["montant"] for r in rows_of(table)]
    assert values[-2:] == [12.25, None] and values[0] == 1.5


def test_a_ragged_row_beyond_the_sample_is_named_by_its_physical_line(import_csv, write_csv,
                                                                     settings: Settings):
    lines = ["id;texte"] + [f'{i};"a\nb"' for i in range(1, 200)] + ["200;x;en trop"]
    source = write_csv("late_ragged.csv", "\n".join(lines) + "\n")
    with pytest.raises(ImportFailed) as caught:
        import_csv(source, settings=settings.with_(sample_rows=20))
    assert caught.value.where == "line 400"  # 1 header + 199 records of 2 lines each, then it


def test_ragged_rows_with_quoted_newlines_are_padded_when_allowed(import_csv, rows_of, write_csv):
    source = write_csv("pad.csv", 'a;b;c\n1;"x\ny";3\n4;5\n6;7;8;9\n')
    table = import_csv(source, allow_ragged=True)
    assert rows_of(table) == [{"a": 1, "b": "x\ny", "c": 3}, {"a": 4, "b": "5", "c": None},
                              {"a": 6, "b": "7", "c": 8}]
    assert table.detected["ragged_rows"] == "padded"


def test_bytes_cp1252_lacks_make_the_file_latin1(import_csv, rows_of, write_csv):
    source = write_csv("latin1.csv", b"nom;code\nA\x81b\xe9;1\n")
    table = import_csv(source)
    assert table.detected["encoding"] == "latin-1"
    assert rows_of(table)[0]["nom"] == "A\x81bé"


def test_a_cp1252_file_with_euro_and_curly_apostrophes_is_transcoded(import_csv, rows_of,
                                                                   write_csv):
    source = write_csv("euro.csv", "libellé;montant\nl’école;12 €\n", encoding="cp1252")
    table = import_csv(source)
    assert table.detected["encoding"] == "cp1252"
    assert rows_of(table) == [{"libellé": "l’école", "montant": "12 €"}]


def test_a_cp1252_file_whose_only_curly_apostrophe_is_on_its_last_line_is_read_right(
        import_csv, rows_of, write_csv, settings: Settings):
    # Read as latin-1 until DuckDB meets the byte 0x92, which it refuses, then transcoded.
    rows = "".join(f"{i};ligne {i};{i},5\n" for i in range(1, 50_001))
    source = write_csv("tard.csv", "id;libellé;valeur\n" + rows + "50001;l’école;7,5\n",
                       encoding="cp1252")
    table = import_csv(source, settings=settings.with_(sample_rows=1000))
    found = rows_of(table)
    assert len(found) == 50_001 and table.detected["encoding"] == "cp1252"
    assert found[-1] == {"id": 50_001, "libellé": "l’école", "valeur": 7.5}
    assert found[0] == {"id": 1, "libellé": "ligne 1", "valeur": 1.5}


def test_the_user_delimiter_wins_over_sniffing(import_csv, rows_of, write_csv):
    source = write_csv("d.csv", "a,b;c\n1,2;3\n")
    table = import_csv(source, delimiter=",")
    assert [c.name for c in table.columns] == ["a", "b;c"]


def test_iso_datetimes_with_an_offset_are_stored_in_utc(import_csv, write_csv, settings: Settings):
    from mutuelle.store.duck import connect

    source = write_csv("tz.csv", "id;quand\n1;2024-01-31T10:00:00+01:00\n2;2024-02-01T08:30:00Z\n")
    table = import_csv(source)
    assert _by_name(table)["quand"].type == "datetime"
    with connect(settings, spatial=False) as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute("SELECT quand::VARCHAR, typeof(quand) FROM read_parquet(?)",
                           [str(table.parquet_path)]).fetchall()
    assert rows == [("2024-01-31 09:00:00+00", "TIMESTAMP WITH TIME ZONE"),
                    ("2024-02-01 08:30:00+00", "TIMESTAMP WITH TIME ZONE")]
