"""Indicators from the command line, exactly as the issue writes the commands, with the real
IRIS of Lyon (2012): ``indicators add``, ``indicators values --format json``, ``indicators
delete``; refusals exit 2 naming the field and save nothing; unmatched codes are listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mutuelle.cli import app

from lyon_testing import DATASET, LYON, LYON_IRIS, LYON_RATE, features, weighted_rates  # type: ignore[import-not-found]

ADD = ["indicators", "add", "chomage", "--dataset", DATASET, "--level", "iris",
       "--code-column", "id", "--numerator", "tchom * p12_pop", "--denominator", "p12_pop"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the IRIS of Lyon as the referential of 2012 and as a dataset."""
    folder = tmp_path_factory.mktemp("cli-lyon") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MUTUELLE_HOME", str(folder))
        runner = CliRunner()
        for args in (["geo", "import", str(LYON_IRIS), "--level", "iris", "--vintage", "2012"],
                     ["import", str(LYON_IRIS), "--dataset", DATASET, "--organisation", "lyon"]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def run(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``run(*args)`` -> (exit code, standard output, both outputs), on a copy of ``home``."""
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    monkeypatch.setenv("MUTUELLE_HOME", str(copy))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.output

    return invoke


def test_the_issue_s_commands_define_the_rate_and_give_its_values_as_json(run) -> None:  # type: ignore[no-untyped-def]
    code, _, out = run(*ADD, "--vintage", "2012", "--label", "Taux de chômage", "--unit", "%",
                       "--secrecy", "11")
    assert code == 0, out
    assert "indicator chomage saved" in out and "2012" in out
    code, stdout, out = run("indicators", "values", "chomage", "--level", "commune",
                            "--vintage", "2012", "--format", "json")
    assert code == 0, out
    rows = json.loads(stdout)
    assert all(set(r) == {"code", "name", "value", "status", "coverage"} for r in rows)
    published = {r["code"]: r for r in rows if r["status"] == "ok"}
    expected = weighted_rates()
    assert set(published) == set(expected)
    for commune, rate in expected.items():
        assert published[commune]["value"] == pytest.approx(rate, rel=1e-9)
    assert published[LYON]["value"] == pytest.approx(LYON_RATE, abs=1e-6)
    assert published[LYON]["name"] == "Lyon" and published[LYON]["coverage"] == 1
    assert run("indicators", "delete", "chomage")[0] == 0
    code, _, out = run("indicators", "values", "chomage", "--format", "json")
    assert code == 2 and "no indicator 'chomage'" in out


def test_habitat_only_leaves_out_the_iris_of_activity_and_miscellaneous_types(run) -> None:  # type: ignore[no-untyped-def]
    code, _, out = run(*ADD, "--habitat-only")
    assert code == 0, out
    code, stdout, _ = run("indicators", "values", "chomage", "--level", "iris", "--format", "json")
    statuses = {r["code"]: r["status"] for r in json.loads(stdout)}
    kinds = {p["id"]: p["typ_iris"] for p in features()}
    assert {c for c, s in statuses.items() if s == "excluded"} == {
        c for c, k in kinds.items() if k in ("A", "D")}


def test_values_list_the_codes_that_matched_no_territory(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with_unknown = tmp_path / "iris.csv"
    with_unknown.write_text("code;habitants\n693840302;100\n699999999;50\n698888888;20\n",
                            encoding="utf-8")
    assert run("import", str(with_unknown), "--dataset", "habitants", "--organisation", "lyon")[0] == 0
    code, _, out = run("indicators", "add", "habitants", "--dataset", "habitants", "--level", "iris",
                       "--code-column", "code", "--numerator", "habitants", "--secrecy", "0")
    assert code == 0, out
    code, stdout, out = run("indicators", "values", "habitants", "--level", "iris",
                            "--format", "json")
    assert code == 0 and json.loads(stdout)          # standard output: the JSON list only
    assert "2 code(s) on 2 row(s) match no territory of 2012" in out
    assert "699999999" in out and "698888888" in out


@pytest.mark.parametrize(("changes", "words"), [
    (["--numerator", "tchom * p12_popp"], ["numerator", "p12_popp", "position 8"]),
    (["--numerator", "libiris"], ["numerator", "not text"]),
    (["--denominator", "p12_pop - p12_pop"], ["denominator", "0 or empty"]),
    (["--level", "commune"], ["not commune codes"]),
    (["--vintage", "1990"], ["no iris for vintage 1990"]),
])
def test_bad_definitions_exit_2_naming_what_is_wrong_and_save_nothing(  # type: ignore[no-untyped-def]
        run, changes: list[str], words: list[str]) -> None:
    args = list(ADD)
    for option, value in zip(changes[::2], changes[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    code, _, out = run(*args)
    assert code == 2, out
    assert "Traceback" not in out
    for word in words:
        assert word in " ".join(out.split()), out
    assert "chomage" not in run("indicators", "list")[2]
