"""Mojibake repaired on request through every surface (service, CLI, API, import form) — and
only reported without the request; an encoding the format fixes refused through them too."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mutuelle.catalog import repository as repo
from mutuelle.cli import app as cli
from mutuelle.core.config import Settings
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.service import import_file
from mutuelle.store.duck import connect
from mutuelle.store.versions import resolve

STATIONS = "stations_mojibake.geojson"
REPAIRED_COMMUNES = {"Lyon 1er", "Lyon 4ème", "Lyon 6ème", "Lyon 7ème", "Villeurbanne"}


def _communes(settings: Settings, parquet: Path) -> set[str]:
    with connect(settings, spatial=False) as con:
        return {r[0] for r in con.execute("SELECT commune FROM read_parquet(?)",
                                          [str(parquet)]).fetchall()}


def test_the_service_repairs_when_asked_and_reports_otherwise(  # type: ignore[no-untyped-def]
        any_settings: Settings, session, awkward: Path) -> None:
    org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
    dataset = repo.create_dataset(session, organisation=org, title="Stations")
    session.commit()
    as_is = import_file(session, any_settings, dataset, awkward / STATIONS)
    assert any("'commune'" in w and "look like mojibake" in w for w in as_is.warnings)
    assert "Lyon 4Ã¨me" in _communes(any_settings, resolve(any_settings, as_is.parquet_path))

    fixed = import_file(session, any_settings, dataset, awkward / STATIONS,
                        options=ImportOptions(fix_text=True))
    assert fixed.number == 2
    assert any("'commune'" in w and "repaired" in w for w in fixed.warnings)
    assert _communes(any_settings, resolve(any_settings, fixed.parquet_path)) == REPAIRED_COMMUNES
    assert {f.name: f.type for f in fixed.fields} == {f.name: f.type for f in as_is.fields}


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MUTUELLE_HOME", str(tmp_path / "cli-home"))
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args))
        return result.exit_code, result.output

    return invoke


def test_the_cli_repairs_with_fix_text_and_refuses_an_encoding_for_geojson(  # type: ignore[no-untyped-def]
        run_cli, awkward: Path) -> None:
    code, out = run_cli("import", str(awkward / STATIONS), "--dataset", "stations")
    assert code == 0, out
    assert "look like mojibake" in out and "--fix-text" in out
    code, out = run_cli("import", str(awkward / STATIONS), "--dataset", "stations", "--fix-text")
    assert code == 0, out
    assert "stations v2" in out and "repaired" in out and "look like mojibake" not in out
    code, out = run_cli("import", str(awkward / STATIONS), "--dataset", "stations",
                        "--encoding", "cp1252")
    assert code == 2 and "GeoJSON" in out and "RFC 7946" in out and "Traceback" not in out


def _new_dataset(client: TestClient, slug: str) -> None:
    org = client.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"})
    assert org.status_code in (201, 409), org.text
    made = client.post("/api/datasets", json={"organisation": "lyon", "title": slug, "slug": slug})
    assert made.status_code == 201, made.text


def test_the_api_upload_repairs_with_the_fix_text_field(client: TestClient,
                                                        settings: Settings,
                                                        awkward: Path) -> None:
    _new_dataset(client, "stations")
    body = (awkward / STATIONS).read_bytes()
    sent = client.post("/api/datasets/stations/versions", data={"fix_text": "true"},
                       files={"file": (STATIONS, body)})
    assert sent.status_code == 201, sent.text
    version = sent.json()
    assert any("'commune'" in w and "repaired" in w for w in version["warnings"])
    with settings_session(client) as session:
        latest = repo.latest_version(repo.get_dataset(session, "stations"), published_only=False)
        assert _communes(settings, resolve(settings, latest.parquet_path)) == REPAIRED_COMMUNES
    refused = client.post("/api/datasets/stations/versions", data={"encoding": "latin-1"},
                          files={"file": (STATIONS, body)})
    assert refused.status_code == 422 and "GeoJSON" in refused.json()["message"]


def settings_session(client: TestClient):  # type: ignore[no-untyped-def]
    """A catalogue session of the app behind ``client``."""
    return client.app.state.sessions()  # type: ignore[attr-defined]


def test_the_import_form_has_the_checkbox_and_repairs_when_it_is_ticked(
        client: TestClient, settings: Settings, awkward: Path) -> None:
    _new_dataset(client, "stations")
    form = client.get("/datasets/stations/import")
    assert form.status_code == 200
    assert 'id="fix_text" name="fix_text" value="1"' in form.text
    assert '<label for="fix_text">Réparer le texte mal décodé' in form.text
    with (awkward / STATIONS).open("rb") as handle:
        sent = client.post("/datasets/stations/import", follow_redirects=False,
                           data={"publish": "1", "fix_text": "1"},
                           files={"file": (STATIONS, handle, "application/geo+json")})
    assert sent.status_code == 303, sent.text
    with settings_session(client) as session:
        latest = repo.latest_version(repo.get_dataset(session, "stations"))
        assert any("repaired" in w for w in latest.warnings)
        assert _communes(settings, resolve(settings, latest.parquet_path)) == REPAIRED_COMMUNES
    english = client.get("/datasets/stations/import?lang=en")
    assert "Repair wrongly decoded text" in english.text
