"""Importing files as versions: atomic, immutable, dictionary carried over (both backends)."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fault_testing import big_csv, small_disk  # type: ignore[import-not-found]

from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput, NotFound, OutOfMemory, StorageFull
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.service import import_file, publish_version
from mutuelle.store.versions import resolve, sha256_of

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"


@pytest.fixture
def dataset(session):  # type: ignore[no-untyped-def]
    org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
    d = repo.create_dataset(session, organisation=org, title="Budget")
    session.commit()
    return d


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_an_import_writes_a_verified_parquet_version(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    version = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    assert version.number == 1 and version.row_count == 40 and version.status == "published"
    parquet = resolve(any_settings, version.parquet_path)
    assert pq.read_metadata(parquet).num_rows == 40
    assert len(version.checksum) == 64 and version.byte_size == parquet.stat().st_size
    assert resolve(any_settings, version.original_path).read_bytes() == (AWKWARD / "budget_cp1252.csv").read_bytes()
    assert version.schema["Chapitre"] == "text"


def test_failed_import_keeps_previous_version(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    first = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    store_before = _files_under(any_settings.store_dir)
    with pytest.raises(ImportFailed, match="57"):
        import_file(session, any_settings, dataset, AWKWARD / "ragged_line57.csv")
    session.expire_all()
    assert [v.number for v in repo.get_dataset(session, dataset.slug).versions] == [1]
    assert _files_under(any_settings.store_dir) == store_before
    assert repo.latest_version(repo.get_dataset(session, dataset.slug)).checksum == first.checksum
    leftovers = [p for p in _files_under(any_settings.work_dir) if "locks" not in p.parts]
    assert leftovers == []


def test_empty_and_binary_files_are_refused_and_leave_nothing(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    for name, reason in [("empty.csv", "empty"), ("binary_named.csv", "text")]:
        with pytest.raises(ImportFailed, match=reason):
            import_file(session, any_settings, dataset, AWKWARD / name)
    assert _files_under(any_settings.store_dir) == set()


def test_field_dictionary_survives_a_reupload(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    v1 = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    repo.update_field(session, v1, "Chapitre", label="Chapitre M57", description="Code du chapitre", unit="")
    repo.update_field(session, v1, "Exercice", label="Année budgétaire")
    session.commit()
    v2 = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    labels = {f.name: f.label for f in v2.fields}
    assert labels["Chapitre"] == "Chapitre M57" and labels["Exercice"] == "Année budgétaire"
    assert next(f for f in v2.fields if f.name == "Chapitre").description == "Code du chapitre"
    assert v2.number == 2


def test_every_version_stays_readable_by_its_number(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    import_file(session, any_settings, dataset, AWKWARD / "communes_bom.csv")
    d = repo.get_dataset(session, dataset.slug)
    assert repo.get_version(d, 1).row_count == 40
    assert repo.get_version(d, "latest").row_count == 8
    assert pq.read_metadata(resolve(any_settings, repo.get_version(d, 1).parquet_path)).num_rows == 40


def test_a_draft_version_is_not_what_readers_see_until_published(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    draft = import_file(session, any_settings, dataset, AWKWARD / "communes_bom.csv", publish=False)
    assert repo.latest_version(dataset).number == 1
    publish_version(session, draft)
    assert repo.latest_version(dataset).number == 2


def test_unknown_type_override_is_refused_before_reading(any_settings, session, dataset) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="unknown type 'money'"):
        import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv",
                    options=ImportOptions(types={"Exercice": "money"}))


def test_concurrent_imports_of_one_dataset_are_serialised(settings: Settings) -> None:
    upgrade(settings)
    make = sessions(settings)
    with make() as s:
        org = repo.create_organisation(s, name="Lyon")
        repo.create_dataset(s, organisation=org, title="Communes")
        s.commit()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with make() as s:
                import_file(s, settings, repo.get_dataset(s, "communes"), AWKWARD / "communes_bom.csv")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make() as s:
        assert sorted(v.number for v in repo.get_dataset(s, "communes").versions) == [1, 2, 3]


# --- crash leftovers, first imports, resource errors -----------------------------------------

def test_a_leftover_version_folder_is_set_aside_and_never_blocks_the_next_import(
        any_settings, session, dataset, caplog) -> None:  # type: ignore[no-untyped-def]
    first = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    folder = resolve(any_settings, first.parquet_path).parent
    # What an import killed between placing its folder and recording it leaves behind.
    shutil.copytree(folder, folder.with_name("v2"))
    with caplog.at_level(logging.WARNING):
        second = import_file(session, any_settings, dataset, AWKWARD / "communes_bom.csv")
    assert second.number == 2 and second.row_count == 8
    assert pq.read_metadata(resolve(any_settings, second.parquet_path)).num_rows == 8
    orphans = list((any_settings.store_dir / "orphans" / dataset.id).iterdir())
    assert [p.name.split("-")[0] for p in orphans] == ["v2"]
    assert f"orphan_version_set_aside dataset={dataset.id} version=2" in caplog.text


def test_a_failed_first_import_leaves_no_dataset_and_no_organisation(any_settings, session) -> None:  # type: ignore[no-untyped-def]
    org = repo.new_organisation(session, name="Villeurbanne")
    new = repo.new_dataset(session, organisation=org, title="Délibérations")
    with pytest.raises(ImportFailed, match="57"):
        import_file(session, any_settings, new, AWKWARD / "ragged_line57.csv")
    session.expire_all()
    with pytest.raises(NotFound):
        repo.get_dataset(session, "deliberations")
    with pytest.raises(NotFound):
        repo.get_organisation(session, "villeurbanne")
    assert _files_under(any_settings.store_dir) == set()


def test_a_first_import_saves_its_dataset_and_organisation_with_the_version(any_settings, session) -> None:  # type: ignore[no-untyped-def]
    org = repo.new_organisation(session, name="Villeurbanne")
    new = repo.new_dataset(session, organisation=org, title="Communes")
    version = import_file(session, any_settings, new, AWKWARD / "communes_bom.csv")
    session.expire_all()
    saved = repo.get_dataset(session, "communes")
    assert saved.organisation.slug == "villeurbanne" and [v.number for v in saved.versions] == [1]
    assert version.row_count == 8


def test_a_full_disk_during_an_import_keeps_the_previous_version(any_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = big_csv(tmp_path / "big.csv")
    with small_disk(any_settings.home, "2m"):
        upgrade(any_settings)
        with sessions(any_settings)() as session:
            org = repo.create_organisation(session, name="Lyon")
            dataset = repo.create_dataset(session, organisation=org, title="Budget")
            session.commit()
            first = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
            store_before = _files_under(any_settings.store_dir)
            with pytest.raises(StorageFull) as raised:
                import_file(session, any_settings, dataset, big)
            assert raised.value.status_code == 507
            assert "no space left in the" in raised.value.message
            assert "'big.csv'" in raised.value.message
            assert str(any_settings.home) not in raised.value.message
            session.expire_all()
            assert [v.number for v in repo.get_dataset(session, "budget").versions] == [1]
        assert _files_under(any_settings.store_dir) == store_before
        assert sha256_of(resolve(any_settings, first.parquet_path)) == first.checksum
        assert [p for p in _files_under(any_settings.work_dir) if "locks" not in p.parts] == []


def test_running_out_of_memory_during_an_import_keeps_the_previous_version(
        any_settings, session, dataset, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = import_file(session, any_settings, dataset, AWKWARD / "budget_cp1252.csv")
    starved = any_settings.with_(duckdb_memory_limit="1MB")
    with pytest.raises(OutOfMemory, match="ran out of memory while importing 'big.csv'"):
        import_file(session, starved, dataset, big_csv(tmp_path / "big.csv"))
    session.expire_all()
    assert [v.number for v in repo.get_dataset(session, dataset.slug).versions] == [first.number]
