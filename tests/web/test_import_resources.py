"""The import form when the server lacks a resource: it says the server could not store the
file (in French, or English when asked), never that the file is at fault; nothing is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from fault_testing import (  # type: ignore[import-not-found]
    big_csv,
    make_unwritable,
    require_unprivileged,
    server_process,
    small_disk,
)
from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

from mutuelle.app import create_app
from mutuelle.catalog import repository as repo
from mutuelle.core.config import Settings
from mutuelle.ingest.service import import_file

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"
NOT_THE_FILE = "Le fichier n’est pas en cause et rien n’a été modifié"


def _budget(app: Any) -> None:
    """A dataset ``budget`` with version 1 (40 rows), made with the service functions."""
    with app.state.sessions() as session:
        org = repo.create_organisation(session, name="Ville de Lyon", slug="lyon")
        dataset = repo.create_dataset(session, organisation=org, title="Budget")
        session.commit()
        import_file(session, app.state.settings, dataset, AWKWARD / "budget_cp1252.csv")


def _send(client: Any, path: Path, lang: str = "fr") -> Any:
    with path.open("rb") as handle:
        return client.post(f"/datasets/budget/import?lang={lang}", data={"publish": "1"},
                           files={"file": (path.name, handle, "text/csv")})


def _problem(page: Any) -> str:
    return str(page.text.split('id="import-error"', 1)[1].split("</div>", 1)[0])


def _still_one_version(app: Any) -> None:
    with app.state.sessions() as session:
        versions = repo.get_dataset(session, "budget").versions
        assert [(v.number, v.row_count) for v in versions] == [(1, 40)]


def test_a_full_disk_is_the_servers_problem_not_the_files(settings: Settings,
                                                           tmp_path: Path) -> None:
    big = big_csv(tmp_path / "big.csv")
    with small_disk(settings.home, "2m"):
        app = create_app(settings)
        _budget(app)
        with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings)) as client:
            page = _send(client, big)
            assert page.status_code == 507
            problem = _problem(page)
            assert "Le serveur n’a pas pu enregistrer le fichier : son espace de stockage est plein." in problem
            assert NOT_THE_FILE in problem and "Corrigez le fichier" not in problem
            assert "n’a pas pu être lu" not in page.text and str(settings.home) not in page.text
            english = _problem(_send(client, big, lang="en"))
            assert "The server could not store the file: its storage is full." in english
            assert "The file is not at fault and nothing was changed" in english
        _still_one_version(app)


def test_an_unwritable_store_is_the_servers_problem_not_the_files(settings: Settings) -> None:
    require_unprivileged()
    app = create_app(settings)
    _budget(app)
    key = admin_key(settings)
    make_unwritable(settings.store_dir)
    log: list[str] = []
    with server_process(settings, log, unprivileged=True) as url:
        page = _send(httpx.Client(base_url=url, headers=key), AWKWARD / "communes_bom.csv")
    assert page.status_code == 503
    problem = _problem(page)
    assert ("Le serveur n’a pas pu enregistrer le fichier : son espace de stockage n’est pas "
            "accessible en écriture.") in problem
    assert NOT_THE_FILE in problem and str(settings.home) not in page.text
    _still_one_version(app)


def test_a_failed_import_through_the_form_leaves_the_dataset_as_it_was(settings: Settings) -> None:
    app = create_app(settings)
    _budget(app)
    store = sorted(p for p in settings.store_dir.rglob("*"))
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(settings)) as client:
        page = _send(client, AWKWARD / "ragged_line57.csv")
    assert page.status_code == 422 and "57" in _problem(page)
    assert "Corrigez le fichier" in _problem(page) and NOT_THE_FILE not in page.text
    assert sorted(p for p in settings.store_dir.rglob("*")) == store
    assert [p.name for p in settings.work_dir.iterdir() if p.name != "locks"] == []
    _still_one_version(app)
