"""The command line when an import fails: a failed first import leaves nothing; a full disk, an
unwritable store or a lack of memory end in one line saying what and where, the previous
version intact. Run in a subprocess, as an operator would."""

from __future__ import annotations

from pathlib import Path

from fault_testing import (  # type: ignore[import-not-found]
    big_csv,
    error_lines,
    make_unwritable,
    require_unprivileged,
    run_cli,
    small_disk,
)

from mutuelle.core.config import Settings

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"
BUDGET = AWKWARD / "budget_cp1252.csv"


def _one_error_line(output: str) -> str:
    assert "Traceback" not in output, output
    errors = error_lines(output)
    assert len(errors) == 1, output
    return errors[0]


def _budget_listed_with_40_rows(settings: Settings) -> None:
    listed = run_cli(settings, "datasets", "list")
    assert listed.returncode == 0, listed.stderr
    assert "budget" in listed.stdout and " 40 " in listed.stdout


def test_a_failed_first_import_leaves_no_dataset_nor_organisation(settings: Settings) -> None:
    failed = run_cli(settings, "import", str(AWKWARD / "ragged_line57.csv"), "--organisation", "metro")
    assert failed.returncode == 2 and "57" in _one_error_line(failed.stderr)
    assert "0 datasets" in run_cli(settings, "datasets", "list").stdout
    assert "metro" not in run_cli(settings, "orgs", "list").stdout
    datasets = settings.store_dir / "datasets"
    assert not datasets.exists() or list(datasets.iterdir()) == []


def test_a_full_disk_ends_the_import_with_one_line_and_keeps_the_previous_version(
        settings: Settings, tmp_path: Path) -> None:
    big = big_csv(tmp_path / "big.csv")
    with small_disk(settings.home, "2m"):
        assert run_cli(settings, "import", str(BUDGET), "--dataset", "budget").returncode == 0
        full = run_cli(settings, "import", str(big), "--dataset", "budget")
        assert full.returncode == 2
        line = _one_error_line(full.stderr)
        assert "no space left in the" in line and "(MUTUELLE_HOME/" in line and "'big.csv'" in line
        assert str(settings.home) not in line
        _budget_listed_with_40_rows(settings)


def test_an_unwritable_store_ends_the_import_with_one_line_and_keeps_the_previous_version(
        settings: Settings) -> None:
    require_unprivileged()
    assert run_cli(settings, "import", str(BUDGET), "--dataset", "budget").returncode == 0
    make_unwritable(settings.store_dir)
    refused = run_cli(settings, "import", str(AWKWARD / "communes_bom.csv"), "--dataset", "budget",
                      unprivileged=True)
    assert refused.returncode == 2
    line = _one_error_line(refused.stderr)
    assert "cannot write to the store (MUTUELLE_HOME/store) (permission denied)" in line
    assert str(settings.home) not in line
    _budget_listed_with_40_rows(settings)


def test_running_out_of_memory_ends_the_import_with_one_line(settings: Settings,
                                                             tmp_path: Path) -> None:
    assert run_cli(settings, "import", str(BUDGET), "--dataset", "budget").returncode == 0
    starved = run_cli(settings, "import", str(big_csv(tmp_path / "big.csv")), "--dataset",
                      "budget", MUTUELLE_DUCKDB_MEMORY_LIMIT="1MB")
    assert starved.returncode == 2
    assert "the server ran out of memory while importing 'big.csv'" in _one_error_line(starved.stderr)
    _budget_listed_with_40_rows(settings)
