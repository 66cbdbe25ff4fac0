"""The API when the server lacks a resource: a full disk answers 507, an unwritable store or a
lack of memory 503, each with a JSON message saying what and where; nothing is lost."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient
from fault_testing import (  # type: ignore[import-not-found]
    big_csv,
    make_unwritable,
    require_unprivileged,
    server_process,
    small_disk,
)
from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]

from mutuelle.api.downloads import streamed
from mutuelle.api.errors import install_error_handlers
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


# --- exports and downloads: the answer starts once the first part is made ----------------------

def _publish_big(client: Any, tmp_path: Path) -> None:
    """A dataset of 120,000 rows that compress badly (``big``), through the API."""
    assert client.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"}).status_code == 201
    assert client.post("/api/datasets", json={"organisation": "lyon", "title": "Big",
                                              "slug": "big"}).status_code == 201
    with big_csv(tmp_path / "big.csv").open("rb") as handle:
        response = client.post("/api/datasets/big/versions",
                               files={"file": ("big.csv", handle, "text/csv")})
    assert response.status_code == 201, response.text


def test_running_out_of_memory_in_an_export_answers_503_before_any_byte(settings: Settings,
                                                                        tmp_path: Path) -> None:
    key = admin_key(settings)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        _publish_big(client, tmp_path)
        whole = client.get("/api/explore/v2.1/catalog/datasets/big/exports/csv",
                           params={"order_by": "nom"})
        assert whole.status_code == 200 and whole.text.count("\n") == 120_001
    # Enough memory to plan the export, not to sort its rows: the sort fails on the first batch.
    starved = settings.with_(duckdb_memory_limit="16MB")
    with TestClient(create_app(starved), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        for fmt in ("csv", "json", "xlsx"):
            lacking = client.get(f"/api/explore/v2.1/catalog/datasets/big/exports/{fmt}",
                                 params={"order_by": "nom"})
            assert lacking.status_code == 503, (fmt, lacking.text[:200])
            assert lacking.headers["content-type"] == "application/json"
            assert lacking.json() == {"error_code": "OutOfMemory", "message": (
                "the server ran out of memory while exporting 'big'; nothing was sent")}


def test_running_out_of_memory_in_a_download_answers_503_before_any_byte(settings: Settings,
                                                                         tmp_path: Path) -> None:
    key = admin_key(settings)
    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        _publish_big(client, tmp_path)
    starved = settings.with_(duckdb_memory_limit="1MB")
    with TestClient(create_app(starved), client=LOOPBACK, raise_server_exceptions=False,
                    headers=key) as client:
        lacking = client.get("/api/datasets/big/versions/1/download/csv")
        assert lacking.status_code == 503, lacking.text[:200]
        assert lacking.json()["message"] == ("the server ran out of memory while reading "
                                             "version 1 of 'big'; nothing was sent")
        # The stored files themselves need no DuckDB.
        assert client.get("/api/datasets/big/versions/1/download/parquet").status_code == 200


def _disk_fills_after(chunks: int) -> Iterator[bytes]:
    """A file made on the fly whose making meets a full disk after ``chunks`` parts."""
    for i in range(chunks):
        yield f"part {i}\n".encode()
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The app ``live_server`` serves in this module: files made on the fly that meet a full
    disk before their first part, or after three."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/file/{parts}")
    def file(parts: int) -> Response:
        return streamed(_disk_fills_after(parts), settings, doing="making a file",
                        media_type="text/plain", headers={})

    return app


def test_a_stream_that_fails_midway_is_cut_short_and_logged_in_one_line(
        live_server: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), httpx.Client(base_url=live_server) as client:
        # Failing before the first part: an answer saying so, not a 200.
        full = client.get("/file/0")
        assert full.status_code == 507 and full.json()["error_code"] == "StorageFull"
        # Failing after: the body never ends as a whole file does.
        received: list[bytes] = []
        with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", "/file/3") as answer:
            assert answer.status_code == 200
            received.extend(answer.iter_bytes())
    assert b"".join(received).startswith(b"part 0\n")
    cut = [r.getMessage() for r in caplog.records if "stream_cut_short" in r.getMessage()]
    assert len(cut) == 1 and "error_code=StorageFull" in cut[0], cut
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
