"""The command line drives the same services as the API: import, catalogue, referential."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mutuelle.cli import app

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"
GEO = AWKWARD.parent / "geo"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MUTUELLE_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def test_import_shows_inferred_types_and_keeps_codes(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("import", str(AWKWARD / "communes_bom.csv"), "--dataset", "communes",
                    "--organisation", "lyon")
    assert code == 0, out
    assert "communes v1: 8 rows" in out and "code_commune" in out and "siren" in out
    code, out = run("datasets", "list")
    assert "communes" in out and "published" in out


def test_type_overrides_and_crs_option(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("import", str(AWKWARD / "budget_cp1252.csv"), "--type", "Exercice=text")
    assert code == 0, out
    assert "Exercice" in out and "text" in out.split("Exercice")[1].split("\n")[0]
    code, out = run("import", str(AWKWARD / "iris_no_prj.zip"), "--crs", "EPSG:2154")
    assert code == 0, out
    assert "geometry" in out


@pytest.mark.parametrize("name, words", [
    ("ragged_line57.csv", ["57"]), ("empty.csv", ["empty"]), ("iris_no_prj.zip", ["CRS"]),
    ("zip_traversal.zip", ["evil"]), ("broken.geojson", ["line"]),
])
def test_bad_files_exit_2_with_a_message_and_no_traceback(run, name: str, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    code, out = run("import", str(AWKWARD / name))
    assert code == 2, out
    assert "error:" in out and "Traceback" not in out
    for word in words:
        assert word in out


def test_a_failed_reimport_keeps_the_previous_version(run) -> None:  # type: ignore[no-untyped-def]
    assert run("import", str(AWKWARD / "communes_bom.csv"), "--dataset", "x")[0] == 0
    assert run("import", str(AWKWARD / "ragged_line57.csv"), "--dataset", "x")[0] == 2
    code, out = run("datasets", "list")
    assert "x" in out and " 8" in out


def test_organisations_and_settings(run) -> None:  # type: ignore[no-untyped-def]
    assert run("orgs", "add", "metro", "Métropole", "--kind", "territory")[0] == 0
    assert run("orgs", "add", "lyon", "Lyon", "--parent", "metro")[0] == 0
    code, out = run("orgs", "add", "bad", "Bad", "--kind", "club")
    assert code == 2 and "kind" in out
    assert "lyon" in run("orgs", "list")[1]
    assert "MUTUELLE_HOME" in run("settings")[1]


def test_geo_import_of_real_iris_and_search(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("geo", "import", str(GEO / "iris-lyon-2012.geojson"), "--level", "iris",
                    "--vintage", "2012")
    assert code == 0, out
    assert "358" in out
    code, out = run("geo", "search", "Croix-Rousse")
    assert code == 0 and "iris" in out


def test_geo_import_of_a_missing_file_or_a_cog_of_no_year_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("geo", "import", str(GEO / "nope.shp"), "--level", "iris")
    assert code == 2 and "nope.shp" in out and "Traceback" not in out
    code, out = run("geo", "cog", "--vintage", "24")
    assert code == 2 and "between 1900 and 2100" in out and "Traceback" not in out


def test_geo_import_with_a_missing_column_names_it(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("geo", "import", str(AWKWARD / "communes_bom.csv"), "--level", "iris")
    assert code == 2 and "error:" in out and "Traceback" not in out


def test_demo_then_indicator_values_by_commune(run) -> None:  # type: ignore[no-untyped-def]
    code, out = run("demo")
    assert code == 0 and "17 datasets" in out
    assert run("demo", "--if-empty")[1].startswith("catalogue not empty")
    code, out = run("indicators", "list")
    assert code == 0 and "taux-pauvrete" in out
    code, out = run("indicators", "values", "taux-pauvrete", "--level", "commune")
    assert code == 0 and "96172" in out and "Val-Sauvage" in out
    code, out = run("indicators", "values", "taux-pauvrete", "--level", "canton")
    assert code == 2 and "error:" in out
