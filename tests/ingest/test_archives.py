"""Safe zip extraction: traversal, symlinks, bombs and lying headers are refused."""

from __future__ import annotations

import stat
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, TooLarge
from mutuelle.ingest.archives import entry_parts, extract_zip, extracted_zip


def _tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def test_a_shapefile_zip_is_extracted_into_a_fresh_folder_under_the_work_dir(
        settings: Settings, fixtures_dir: Path) -> None:
    with extracted_zip(fixtures_dir / "awkward" / "iris_lambert93_shp.zip", settings) as folder:
        assert folder.parent == settings.work_dir
        assert sorted(p.name for p in folder.iterdir()) == [
            "iris_l93.cpg", "iris_l93.dbf", "iris_l93.prj", "iris_l93.shp", "iris_l93.shx"]
        assert (folder / "iris_l93.dbf").stat().st_size == 5998
    assert not folder.exists()


def test_an_entry_climbing_out_with_dot_dot_is_refused_and_nothing_is_written(
        settings: Settings, fixtures_dir: Path) -> None:
    evil = Path("/tmp/evil.csv")
    existed_before = evil.exists()
    with pytest.raises(ImportFailed) as caught:
        extract_zip(fixtures_dir / "awkward" / "zip_traversal.zip", settings)
    assert "outside" in caught.value.message
    assert "../../../tmp/evil.csv" in caught.value.message
    assert evil.exists() == existed_before
    assert list(settings.work_dir.iterdir()) == []   # not even ok.csv stays behind
    assert not any(p.name == "evil.csv" for p in settings.home.parent.rglob("*"))


def test_backslash_and_absolute_entry_names_are_refused(settings: Settings, tmp_path: Path) -> None:
    for name in ("..\\..\\evil.csv", "/etc/evil.csv", "C:\\evil.csv", "a/../../evil.csv"):
        archive = _zip(tmp_path / "bad.zip", {"ok.csv": b"a\n1\n", name: b"x"})
        with pytest.raises(ImportFailed) as caught:
            extract_zip(archive, settings)
        assert repr(name) in caught.value.message
    assert list(settings.work_dir.iterdir()) == []


def test_a_symbolic_link_entry_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("passwd.csv")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ImportFailed) as caught:
        extract_zip(path, settings)
    assert "symbolic link" in caught.value.message and "passwd.csv" in caught.value.message


def test_two_entries_for_the_same_path_are_refused(settings: Settings, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "dup.zip", {"data.csv": b"a\n1\n", "./data.csv": b"a\n2\n"})
    with pytest.raises(ImportFailed, match="two entries for the same path.*'./data.csv'"):
        extract_zip(archive, settings)
    assert list(settings.work_dir.iterdir()) == []


def test_a_zip_with_too_many_entries_is_refused(settings: Settings, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "many.zip", {f"f{i}.csv": b"a\n" for i in range(6)})
    with pytest.raises(ImportFailed, match="6 entries, more than the 5"):
        extract_zip(archive, settings, max_entries=5)


def test_an_encrypted_zip_is_refused_with_a_request_to_send_it_without_password(
        settings: Settings, tmp_path: Path) -> None:
    data = bytearray(_zip(tmp_path / "plain.zip", {"data.csv": b"a\n1\n"}).read_bytes())
    # zipfile cannot encrypt: set the "encrypted" flag bit in both headers by hand.
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + flag_offset] |= 0x1
    secret = tmp_path / "secret.zip"
    secret.write_bytes(bytes(data))
    with pytest.raises(ImportFailed, match="encrypted.*'data.csv'"):
        extract_zip(secret, settings)


def test_the_zip_bomb_is_refused_without_inflating_it(settings: Settings,
                                                     fixtures_dir: Path) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge) as caught:
            extract_zip(fixtures_dir / "awkward" / "zip_bomb.zip", settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "data.csv" in caught.value.message and "zip bomb" in caught.value.message
    assert peak < 16 * 1024 * 1024
    assert _tree_size(settings.work_dir) == 0


def test_the_zip_bomb_is_refused_over_the_size_limit_even_with_a_lax_ratio(
        settings: Settings, fixtures_dir: Path) -> None:
    lax = settings.with_(max_zip_ratio=10_000, max_unzipped_bytes=8 * 1024 * 1024)
    with pytest.raises(TooLarge, match="MUTUELLE_MAX_UNZIPPED_BYTES"):
        extract_zip(fixtures_dir / "awkward" / "zip_bomb.zip", lax)
    assert _tree_size(settings.work_dir) == 0


def _understate_sizes(source: Path, dest: Path, declared: int) -> Path:
    """A copy of ``source`` whose central directory claims every entry inflates to ``declared``."""
    data = bytearray(source.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        struct.pack_into("<I", data, at + 24, declared)
        at = data.find(b"PK\x01\x02", at + 4)
    dest.write_bytes(bytes(data))
    return dest


def test_a_bomb_whose_header_understates_its_size_is_refused_without_inflating(
        settings: Settings, fixtures_dir: Path, tmp_path: Path) -> None:
    liar = _understate_sizes(fixtures_dir / "awkward" / "zip_bomb.zip", tmp_path / "liar.zip",
                             declared=1000)
    assert zipfile.ZipFile(liar).infolist()[0].file_size == 1000
    with pytest.raises(ImportFailed, match="damaged.*data.csv"):
        extract_zip(liar, settings)
    assert _tree_size(settings.work_dir) == 0


def test_the_total_inflated_size_is_checked_across_entries(settings: Settings,
                                                           tmp_path: Path) -> None:
    archive = _zip(tmp_path / "two.zip", {"a.csv": b"x" * 6000, "b.csv": b"y" * 6000})
    with pytest.raises(TooLarge, match="12000 bytes, more than the 10000"):
        extract_zip(archive, settings.with_(max_unzipped_bytes=10_000))


def test_a_damaged_zip_is_refused(settings: Settings, fixtures_dir: Path,
                                  tmp_path: Path) -> None:
    cut = tmp_path / "cut.zip"
    cut.write_bytes((fixtures_dir / "awkward" / "iris_lambert93_shp.zip").read_bytes()[:700])
    with pytest.raises(ImportFailed, match="not a readable zip"):
        extract_zip(cut, settings)


def test_mac_os_resource_entries_are_not_extracted(settings: Settings, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "mac.zip", {"data.csv": b"a\n1\n", "__MACOSX/._data.csv": b"\0",
                                          ".DS_Store": b"\0"})
    with extracted_zip(archive, settings) as folder:
        assert [p.name for p in folder.rglob("*")] == ["data.csv"]


_NAME_PIECES = st.sampled_from(["..", ".", "a", "b.csv", "", "/", "\\", "C:", "~", "é"])


@hsettings(max_examples=150, deadline=None)
@given(names=st.lists(st.lists(_NAME_PIECES, min_size=1, max_size=6).map("".join)
                      .filter(lambda n: n and not n.endswith(("/", "\\"))),
                      min_size=1, max_size=4, unique=True))
def test_no_entry_name_ever_writes_outside_the_extraction_folder(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = Settings(home=root / "deep" / "er" / "home")
        archive = root / "in.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name in names:
                zf.writestr(name, b"x")
        try:
            with extracted_zip(archive, settings) as folder:
                for p in root.rglob("*"):
                    if p.is_file() and p != archive:
                        assert p.resolve().is_relative_to(folder.resolve())
        except ImportFailed:
            pass
        written = [p for p in root.rglob("*") if p.is_file() and p != archive]
        assert written == []


def test_entry_parts_drops_dots_and_keeps_the_names() -> None:
    assert entry_parts("./dir\\sub/./file.csv") == ("dir", "sub", "file.csv")
