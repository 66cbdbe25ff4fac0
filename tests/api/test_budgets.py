"""Every query has a time budget and a concurrency slot: too costly → 400, too many → 429."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]


def _portal(home: Path, **limits: int) -> TestClient:
    settings = Settings(home=home, duckdb_memory_limit="512MB", **limits)
    client = TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings))
    client.post("/api/organisations", json={"name": "T", "slug": "t"})
    client.post("/api/datasets", json={"organisation": "t", "title": "Nombres", "slug": "nombres"})
    body = "n;texte\n" + "".join(f"{i};valeur {i % 997}\n" for i in range(200_000))
    assert client.post("/api/datasets/nombres/versions", files={"file": ("n.csv", body.encode())}).status_code == 201
    client.post("/api/datasets/nombres/publish")
    return client


def test_a_query_over_its_time_budget_is_interrupted_with_a_clear_400(tmp_path: Path) -> None:
    client = _portal(tmp_path, query_timeout_ms=1)
    # A full-text search over every row, grouped and sorted: far more than 1 ms of work.
    response = client.get("/api/explore/v2.1/catalog/datasets/nombres/records",
                          params={"where": '"valeur 5"', "select": "texte, count(*) as c, avg(n) as m",
                                  "group_by": "texte", "order_by": "m desc"})
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "QueryTooCostly" and "budget" in response.json()["message"]
    # The worker is not stuck: the next cheap query answers.
    client.app.state.settings = client.app.state.settings.with_(query_timeout_ms=10_000)
    assert client.get("/api/explore/v2.1/catalog/datasets/nombres/records?limit=1").status_code == 200


def test_too_many_queries_at_once_get_429_with_retry_after(tmp_path: Path) -> None:
    client = _portal(tmp_path, max_concurrent_queries=0, query_queue_ms=50)
    response = client.get("/api/explore/v2.1/catalog/datasets/nombres/records")
    assert response.status_code == 429 and response.headers["retry-after"] == "10"


def test_dataset_tiles_wait_for_a_query_slot_like_any_query(tmp_path: Path) -> None:
    """Tiles of a dataset are queries too: under load they take their turn (429 past the
    queue), instead of running beside every other query and exhausting DuckDB's memory."""
    settings = Settings(home=tmp_path, duckdb_memory_limit="512MB", max_concurrent_queries=0,
                        query_queue_ms=50)
    client = TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(settings))
    client.post("/api/organisations", json={"name": "T", "slug": "t"})
    client.post("/api/datasets", json={"organisation": "t", "title": "Lieux", "slug": "lieux"})
    body = "nom;latitude;longitude\n" + "".join(f"L{i};45.76{i:02d};4.83{i:02d}\n" for i in range(50))
    assert client.post("/api/datasets/lieux/versions",
                       files={"file": ("lieux.csv", body.encode())}).status_code == 201
    client.post("/api/datasets/lieux/publish")
    response = client.get("/tiles/datasets/lieux/12/2103/1461.mvt")
    assert response.status_code == 429 and response.headers["retry-after"] == "10"
    assert response.json()["error_code"] == "TooManyRequests"
