"""Crash safety: an import killed (SIGKILL) at each step of the commit protocol, then a restart,
finds the previous version intact and the next import working (both catalogue backends)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fault_testing import run_cli  # type: ignore[import-not-found]

from mutuelle.app import create_app
from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import sessions
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.ingest.service import recover_imports
from mutuelle.store.faults import COMMIT_STEPS
from mutuelle.store.versions import resolve, sha256_of

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"
BUDGET = AWKWARD / "budget_cp1252.csv"     # 40 rows; its reading reports progress halfway
COMMUNES = AWKWARD / "communes_bom.csv"    # 8 rows

# Holds a lock as another worker would, until its stdin is closed.
HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def _versions(settings: Settings, slug: str) -> list[tuple[int, str, int]]:
    """(number, checksum, rows) of each recorded version, each checked against its file."""
    with sessions(settings)() as session:
        dataset = repo.get_dataset(session, slug)
        found = []
        for v in dataset.versions:
            parquet = resolve(settings, v.parquet_path)
            assert sha256_of(parquet) == v.checksum, f"v{v.number} changed on disk"
            assert pq.read_metadata(parquet).num_rows == v.row_count
            found.append((v.number, v.checksum, v.row_count))
        return found


def _dataset_id(settings: Settings, slug: str) -> str:
    with sessions(settings)() as session:
        return repo.get_dataset(session, slug).id


def _work_leftovers(settings: Settings) -> list[str]:
    work = settings.work_dir
    found = [p.name for p in work.iterdir() if p.name not in ("locks", "duckdb-tmp")]
    spill = work / "duckdb-tmp"
    return found + ([p.name for p in spill.iterdir()] if spill.exists() else [])


def _folders(settings: Settings, dataset_id: str) -> list[str]:
    folder = settings.store_dir / "datasets" / dataset_id
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _import(settings: Settings, path: Path, slug: str, **kwargs: str) -> subprocess.CompletedProcess[str]:
    return run_cli(settings, "import", str(path), "--dataset", slug, **kwargs)


@pytest.mark.parametrize("step", COMMIT_STEPS)
def test_an_import_killed_at_any_step_keeps_the_previous_version_and_the_next_import_works(
        any_settings: Settings, step: str, caplog: pytest.LogCaptureFixture) -> None:
    first = _import(any_settings, BUDGET, "budget")
    assert first.returncode == 0, first.stderr
    before = _versions(any_settings, "budget")
    dataset_id = _dataset_id(any_settings, "budget")

    killed = _import(any_settings, BUDGET, "budget", fault=step)
    assert killed.returncode == -9, f"the import did not reach step {step!r}: {killed.stderr}"
    if step in ("read", "staged", "assembling", "assembled"):
        assert _work_leftovers(any_settings), "the kill left nothing: the test would prove nothing"
    if step == "placed":
        assert _folders(any_settings, dataset_id) == ["v1", "v2"]  # v2 has no record

    with caplog.at_level(logging.INFO):
        create_app(any_settings)  # the restart: recovery runs before serving
    after = _versions(any_settings, "budget")
    assert after[:1] == before  # same number, checksum and rows, read back from the file
    completed = step == "recorded"  # killed after its record: the import had succeeded
    assert [n for n, _c, _r in after] == ([1, 2] if completed else [1])
    assert _folders(any_settings, dataset_id) == [f"v{n}" for n, _c, _r in after]
    assert _work_leftovers(any_settings) == []
    orphans = any_settings.store_dir / "orphans" / dataset_id
    if step == "placed":
        assert [p.name.split("-")[0] for p in orphans.iterdir()] == ["v2"]
        assert f"orphan_version_set_aside dataset={dataset_id} version=2" in caplog.text
    else:
        assert not orphans.exists()

    following = _import(any_settings, COMMUNES, "budget")
    assert following.returncode == 0, following.stderr
    number = len(after) + 1
    assert f"budget v{number}: 8 rows" in following.stdout
    assert _versions(any_settings, "budget")[:len(after)] == after


def test_a_first_import_killed_before_its_record_leaves_no_dataset_and_can_be_done_again(
        any_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    killed = _import(any_settings, COMMUNES, "communes", fault="placed")
    assert killed.returncode == -9
    datasets = any_settings.store_dir / "datasets"
    assert len(list(datasets.iterdir())) == 1  # its folder, placed but not recorded

    with caplog.at_level(logging.WARNING):
        create_app(any_settings)
    assert list(datasets.iterdir()) == []
    assert "orphan_version_set_aside" in caplog.text
    with sessions(any_settings)() as session, pytest.raises(NotFound):
        repo.get_dataset(session, "communes")

    again = _import(any_settings, COMMUNES, "communes")
    assert again.returncode == 0, again.stderr
    assert [n for n, _c, _r in _versions(any_settings, "communes")] == [1]


def _hold(path: Path, mode: str) -> subprocess.Popen[str]:
    """Another process holding a lock, as a live worker importing would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), mode],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def _release(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0


def test_recovery_leaves_the_files_of_an_import_running_in_another_worker_alone(
        settings: Settings) -> None:
    assert _import(settings, BUDGET, "budget").returncode == 0
    dataset_id = _dataset_id(settings, "budget")
    # Another worker is importing: it uses the work folder, holds the dataset's lock, has
    # staged a file, is building a version folder and has just placed v2 (not yet recorded).
    worker = _hold(settings.work_dir / "locks" / "work.lock", "shared")
    importing = _hold(settings.work_dir / "locks" / f"{dataset_id}.lock", "exclusive")
    staged = settings.work_dir / "stage-live.parquet"
    staged.write_bytes(b"PAR1")
    building = settings.work_dir / f"commit-{dataset_id}-live"
    building.mkdir()
    placed = settings.store_dir / "datasets" / dataset_id / "v2"
    shutil.copytree(placed.with_name("v1"), placed)
    # ... and a worker that died two days ago left a staged file.
    stale = settings.work_dir / "stage-dead.parquet"
    stale.write_bytes(b"PAR1")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    try:
        report = recover_imports(settings, sessions(settings))
        assert report.busy == [dataset_id] and report.set_aside == []
        assert staged.exists() and building.exists() and placed.exists()
        assert not stale.exists() and report.work_removed == 1
    finally:
        _release(importing)
        _release(worker)
    # That worker died before recording v2: the next recovery sets it aside.
    report = recover_imports(settings, sessions(settings))
    assert report.set_aside == [f"{dataset_id} v2"] and not placed.exists()
    assert not building.exists()  # half built under a lock nobody holds any more
    assert [n for n, _c, _r in _versions(settings, "budget")] == [1]


def test_a_recorded_version_whose_file_is_gone_is_reported_and_does_not_block_imports(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert _import(settings, BUDGET, "budget").returncode == 0
    dataset_id = _dataset_id(settings, "budget")
    (settings.store_dir / "datasets" / dataset_id / "v1" / "data.parquet").unlink()
    with caplog.at_level(logging.ERROR):
        report = recover_imports(settings, sessions(settings))
    assert report.damaged == [f"{dataset_id} v1: missing"]
    assert f"store_version_damaged dataset={dataset_id} version=1 problem='missing'" in caplog.text
    following = _import(settings, COMMUNES, "budget")
    assert following.returncode == 0, following.stderr
    assert "budget v2: 8 rows" in following.stdout
