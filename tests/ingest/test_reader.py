"""The dispatcher: size limit first, format from bytes then name, atomic output."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.reader import detect_format, read_file


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(("folder", "name", "expected"), [
    ("awkward", "communes_bom.csv", "csv"),
    ("awkward", "ecoles_header_row4.xlsx", "xlsx"),
    ("awkward", "iris_lambert93.gpkg", "geopackage"),
    ("awkward", "iris_lambert93_shp.zip", "zip"),
    ("awkward", "self_intersecting.geojson", "geojson"),
    ("geo", "iris-lyon-2012.geojson", "geojson"),
])
def test_detect_format_recognises_the_shared_files(fixtures_dir: Path, folder: str, name: str,
                                                   expected: str) -> None:
    assert detect_format(fixtures_dir / folder / name, name) == expected


def test_the_content_wins_over_a_misleading_extension(fixtures_dir: Path) -> None:
    assert detect_format(fixtures_dir / "awkward" / "ecoles_header_row4.xlsx",
                         "export.csv") == "xlsx"
    assert detect_format(fixtures_dir / "awkward" / "iris_lambert93.gpkg", "iris.dat") == \
        "geopackage"
    assert detect_format(fixtures_dir / "awkward" / "self_intersecting.geojson",
                         "download") == "geojson"


def test_an_ole2_file_is_taken_for_an_xls_workbook(tmp_path: Path) -> None:
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    assert detect_format(xls, "old.xls") == "xls"


def test_a_png_named_csv_is_refused_as_an_image(fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="PNG image") as caught:
        detect_format(fixtures_dir / "awkward" / "binary_named.csv", "binary_named.csv")
    assert caught.value.where == "binary_named.csv"


def test_a_shapefile_sent_alone_is_refused_asking_for_the_zip(fixtures_dir: Path,
                                                             tmp_path: Path) -> None:
    with zipfile.ZipFile(fixtures_dir / "awkward" / "iris_lambert93_shp.zip") as archive:
        archive.extract("iris_l93.shp", tmp_path)
        archive.extract("iris_l93.dbf", tmp_path)
    with pytest.raises(ImportFailed, match="send a zip holding the .shp, .shx, .dbf and .prj"):
        detect_format(tmp_path / "iris_l93.shp", "iris_l93.shp")
    with pytest.raises(ImportFailed, match="only the attribute table"):
        detect_format(tmp_path / "iris_l93.dbf", "iris_l93.dbf")


def test_an_empty_file_is_refused(fixtures_dir: Path) -> None:
    with pytest.raises(ImportFailed, match="the file is empty"):
        detect_format(fixtures_dir / "awkward" / "empty.csv", "empty.csv")


def test_a_file_named_xlsx_that_is_text_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.xlsx"
    fake.write_text("a;b\n1;2\n")
    with pytest.raises(ImportFailed, match="named .xlsx but its content is not"):
        detect_format(fake, "fake.xlsx")


def test_a_file_over_the_upload_limit_is_refused_before_it_is_read(
        settings: Settings, fixtures_dir: Path) -> None:
    small = settings.with_(max_upload_bytes=100)
    dest = settings.home / "out.parquet"
    # A PNG would be refused as an image if it were read: the size check comes first.
    with pytest.raises(TooLarge, match="2056 bytes, more than the 100"):
        read_file(fixtures_dir / "awkward" / "binary_named.csv", "binary_named.csv", dest,
                  small, ImportOptions())
    assert not dest.exists()


def test_a_failed_import_leaves_nothing_at_the_destination_nor_beside_it(
        settings: Settings, fixtures_dir: Path) -> None:
    dest = settings.home / "staged" / "v.parquet"
    with pytest.raises(ImportFailed):
        read_file(fixtures_dir / "awkward" / "broken.geojson", "broken.geojson", dest, settings,
                  ImportOptions())
    assert list(dest.parent.iterdir()) == []


def test_a_failed_import_keeps_a_file_already_at_the_destination(settings: Settings,
                                                                 fixtures_dir: Path) -> None:
    dest = settings.home / "staged" / "v.parquet"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"previous")
    with pytest.raises(ImportFailed):
        read_file(fixtures_dir / "awkward" / "iris_no_dbf.zip", "iris_no_dbf.zip", dest,
                  settings, ImportOptions())
    assert dest.read_bytes() == b"previous"
    assert [p.name for p in dest.parent.iterdir()] == ["v.parquet"]


def test_a_successful_import_leaves_only_the_destination(settings: Settings,
                                                        fixtures_dir: Path) -> None:
    dest = settings.home / "staged" / "v.parquet"
    staged = read_file(fixtures_dir / "awkward" / "iris_lambert93_shp.zip", "iris.zip", dest,
                       settings, ImportOptions())
    assert staged.parquet_path == dest
    assert [p.name for p in dest.parent.iterdir()] == ["v.parquet"]
    assert [p for p in settings.work_dir.rglob("*") if p.is_file()] == []


def test_a_zip_holding_one_geojson_is_read_as_geojson(settings: Settings, fixtures_dir: Path,
                                                      tmp_path: Path) -> None:
    source = fixtures_dir / "geo" / "communes-92-hauts-de-seine.geojson"
    archive = _zip(tmp_path / "c92.zip", {"export/communes.geojson": source.read_bytes()})
    staged = read_file(archive, "c92.zip", settings.home / "c92.parquet", settings,
                       ImportOptions())
    assert staged.format == "geojson" and staged.row_count == 36
    assert staged.detected["archive_entry"] == "export/communes.geojson"


def test_a_zip_holding_one_csv_is_read_as_csv(settings: Settings, fixtures_dir: Path,
                                              tmp_path: Path) -> None:
    source = fixtures_dir / "awkward" / "communes_bom.csv"
    archive = _zip(tmp_path / "communes.zip", {"communes.csv": source.read_bytes()})
    staged = read_file(archive, "communes.zip", settings.home / "c.parquet", settings,
                       ImportOptions())
    assert staged.format == "csv" and staged.row_count == 8
    assert staged.detected["archive_entry"] == "communes.csv"


def test_a_zip_holding_several_tables_is_refused_listing_them(settings: Settings,
                                                              tmp_path: Path) -> None:
    archive = _zip(tmp_path / "two.zip", {"a.csv": b"x\n1\n", "b.csv": b"y\n2\n",
                                          "LISEZMOI.txt.pdf": b"%PDF"})
    with pytest.raises(ImportFailed, match="several files.*a.csv, b.csv"):
        read_file(archive, "two.zip", settings.home / "t.parquet", settings, ImportOptions())


def test_a_zip_inside_a_zip_is_refused(settings: Settings, fixtures_dir: Path,
                                       tmp_path: Path) -> None:
    inner = (fixtures_dir / "awkward" / "zip_traversal.zip").read_bytes()
    archive = _zip(tmp_path / "outer.zip", {"inner.gpkg": inner})
    with pytest.raises(ImportFailed, match="zip inside the zip.*'inner.gpkg'"):
        read_file(archive, "outer.zip", settings.home / "t.parquet", settings, ImportOptions())


def test_a_zip_with_a_dbf_but_no_shp_is_refused(settings: Settings, fixtures_dir: Path,
                                                tmp_path: Path) -> None:
    with zipfile.ZipFile(fixtures_dir / "awkward" / "iris_lambert93_shp.zip") as archive:
        dbf = archive.read("iris_l93.dbf")
    path = _zip(tmp_path / "dbf.zip", {"iris_l93.dbf": dbf})
    with pytest.raises(ImportFailed, match="iris_l93.dbf but no .shp"):
        read_file(path, "dbf.zip", settings.home / "t.parquet", settings, ImportOptions())


def test_a_zip_holding_nothing_readable_is_refused_saying_what_it_holds(
        settings: Settings, tmp_path: Path) -> None:
    path = _zip(tmp_path / "doc.zip", {"notice.pdf": b"%PDF-1.4"})
    with pytest.raises(ImportFailed, match=r"no table or map layer \(it holds: notice.pdf\)"):
        read_file(path, "doc.zip", settings.home / "t.parquet", settings, ImportOptions())


def test_the_zip_bomb_is_refused_by_read_file_and_the_work_dir_stays_empty(
        settings: Settings, fixtures_dir: Path) -> None:
    with pytest.raises(TooLarge):
        read_file(fixtures_dir / "awkward" / "zip_bomb.zip", "bomb.zip",
                  settings.home / "t.parquet", settings, ImportOptions())
    assert [p for p in settings.work_dir.rglob("*") if p.is_file()] == []
