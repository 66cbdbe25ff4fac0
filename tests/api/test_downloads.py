"""Whole-version downloads: original file, CSV (comma-separated) and Parquet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

AWKWARD = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"


def test_the_csv_download_holds_every_row_with_codes_as_written(api: TestClient) -> None:
    response = api.get("/api/datasets/offres/versions/1/download/csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 8 and rows[3]["code_commune"] == "01004" and rows[6]["code_commune"] == "2A004"


def test_an_empty_version_downloads_as_its_header(client: TestClient) -> None:
    client.post("/api/organisations", json={"name": "T", "slug": "t"})
    client.post("/api/datasets", json={"organisation": "t", "title": "Vide", "slug": "vide"})
    body = (AWKWARD / "header_only.csv").read_bytes()
    assert client.post("/api/datasets/vide/versions", files={"file": ("h.csv", body)}).status_code == 201
    response = client.get("/api/datasets/vide/versions/1/download/csv")
    assert response.status_code == 200 and response.text == '"code_commune","nom","valeur"\n'


def test_original_and_parquet_downloads(api: TestClient, tmp_path: Path) -> None:
    original = api.get("/api/datasets/offres/versions/1/download/original")
    assert original.status_code == 200 and original.content.decode("cp1252").startswith("id;code_rome")
    parquet = tmp_path / "v.parquet"
    parquet.write_bytes(api.get("/api/datasets/offres/versions/latest/download/parquet").content)
    assert pq.read_metadata(parquet).num_rows == 8
    assert api.get("/api/datasets/offres/versions/1/download/zip").status_code == 404
