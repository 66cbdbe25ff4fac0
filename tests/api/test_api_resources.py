"""The API when the server lacks a resource: a full disk answers 507, an unwritable store or a
lack of memory 503, each with a JSON message saying what and where; nothing is lost."""

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
from mutuelle.core.config import Settings

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"


def _publish_budget(client: Any) -> dict[str, Any]:
    """An organisation and a dataset with version 1 (the cp1252 budget), through the API."""
    assert client.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"}).status_code == 201
    assert client.post("/api/datasets", json={"organisation": "lyon", "title": "Budget",
                                              "slug": "budget"}).status_code == 201
    return _upload(client, AWKWARD / "budget_cp1252.csv", 201)


def _upload(client: Any, path: Path, status: int) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = client.post("/api/datasets/budget/versions",
                               files={"file": (path.name, handle, "text/csv")})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _only_version_1(client: Any, first: dict[str, Any]) -> None:
    listed = client.get("/api/datasets/budget/versions").json()
    assert [(v["number"], v["checksum"]) for v in listed["results"]] == [(1, first["checksum"])]
    records = client.get("/api/explore/v2.1/catalog/datasets/budget/records", params={"limit": 1})
    assert records.status_code == 200 and records.json()["total_count"] == 40


def test_a_full_disk_answers_507_and_keeps_the_previous_version(settings: Settings,
                                                                  tmp_path: Path) -> None:
    big = big_csv(tmp_path / "big.csv")
    with small_disk(settings.home, "2m"):
        with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings)) as client:
            first = _publish_budget(client)
            full = _upload(client, big, 507)
            assert full["error_code"] == "StorageFull"
            # the upload is written in the work folder, but the OS error names no file
            assert full["message"].startswith("no space left in the ")
            assert str(settings.home) not in full["message"]
            _only_version_1(client, first)
        leftovers = [p.name for p in settings.work_dir.iterdir() if p.name != "locks"]
        assert leftovers == []


def test_running_out_of_memory_during_an_import_answers_503(settings: Settings,
                                                            tmp_path: Path) -> None:
    key = admin_key(settings)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        first = _publish_budget(client)
    starved = settings.with_(duckdb_memory_limit="1MB")
    with TestClient(create_app(starved), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        lacking = _upload(client, big_csv(tmp_path / "big.csv"), 503)
        assert lacking["error_code"] == "OutOfMemory"
        assert lacking["message"].startswith("the server ran out of memory while importing")
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        _only_version_1(client, first)


def test_an_unwritable_store_answers_503_and_the_portal_still_serves_readers(
        settings: Settings) -> None:
    require_unprivileged()
    key = admin_key(settings)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        first = _publish_budget(client)
    # A version folder left by a killed import, which recovery cannot set aside here.
    versions = settings.store_dir / "datasets"
    dataset_folder = next(versions.iterdir())
    (dataset_folder / "v2").mkdir()
    make_unwritable(settings.store_dir)
    log: list[str] = []
    with server_process(settings, log, unprivileged=True) as url:
        client = httpx.Client(base_url=url, headers=key)
        _only_version_1(client, first)
        refused = _upload(client, AWKWARD / "communes_bom.csv", 503)
        assert refused["error_code"] == "StorageUnavailable"
        assert "cannot write to the store (MUTUELLE_HOME/store) (permission denied)" in refused["message"]
        assert str(settings.home) not in refused["message"]
        _only_version_1(client, first)
    assert any("store_recovery_incomplete" in line for line in log), "".join(log)
    assert not any("Traceback" in line for line in log), "".join(log)
