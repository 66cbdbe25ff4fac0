"""Conformance with PyPI ``odsclient``, which calls Opendatasoft's legacy download path
(``/explore/dataset/<id>/download/``), on a portal served on the loopback: whole datasets as
CSV text, files and DataFrames, with an API key for what is not public, and v1 errors it can
read; and the v1 search on the same server."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conformance import DATASET, ROWS, LivePortal, live_portal, publish_dataset  # type: ignore[import-not-found]
from odsclient import ODSClient
from odsclient.core import ODSException


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    for live in live_portal(tmp_path_factory.mktemp("odsclient")):
        publish_dataset(live.client, "interne", access="internal")
        labelled = live.client.patch(f"/api/datasets/{DATASET}/versions/1/fields/nom",
                                     json={"label": "Nom de l'équipement"})
        assert labelled.status_code == 200, labelled.text
        yield live


def client(portal: LivePortal, apikey: str | None = None) -> ODSClient:
    return ODSClient(base_url=portal.base, apikey=apikey, use_keyring=False)


def test_whole_dataset_as_csv_with_labels_for_header(portal: LivePortal) -> None:
    text = client(portal).get_whole_dataset(DATASET)
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [int(r["id"]) for r in rows] == [r.id for r in ROWS]
    assert [r["Nom de l'équipement"] for r in rows] == [r.nom for r in ROWS]


def test_whole_dataset_streamed_to_a_file_with_names_for_header(portal: LivePortal, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    client(portal).get_whole_dataset(DATASET, to_path=target, use_labels_for_header=False, csv_separator=",")
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8")), delimiter=","))
    assert [r["nom"] for r in rows] == [r.nom for r in ROWS]
    assert [r["geo_point_2d"] for r in rows] == [f"{r.lat}, {r.lon}" for r in ROWS]


def test_whole_dataframe(portal: LivePortal) -> None:
    frame = client(portal).get_whole_dataframe(DATASET)
    assert list(frame["id"]) == [r.id for r in ROWS]
    assert list(frame["surface"]) == [r.surface for r in ROWS]


def test_an_api_key_reads_what_is_not_public(portal: LivePortal) -> None:
    text = client(portal, apikey=portal.key).get_whole_dataset("interne", use_labels_for_header=False)
    assert len(list(csv.DictReader(io.StringIO(text), delimiter=";"))) == len(ROWS)
    with pytest.raises(ODSException) as refused:
        client(portal).get_whole_dataset("interne")
    assert refused.value.status_code == 404 and "interne" in refused.value.error_msg
    with pytest.raises(ODSException) as bad_key:
        client(portal, apikey="not-a-key").get_whole_dataset(DATASET)
    assert bad_key.value.status_code == 401 and bad_key.value.error_msg


def test_v1_search_on_the_live_server(portal: LivePortal) -> None:
    response = httpx.get(f"{portal.base}/api/records/1.0/search/",
                         params={"dataset": DATASET, "q": "piscine", "facet": "categorie"})
    body = response.json()
    assert response.status_code == 200 and body["nhits"] == 2
    assert [r["fields"]["id"] for r in body["records"]] == [1, 9]
    assert body["facet_groups"] == [{"name": "categorie", "facets": [
        {"name": "sport", "path": "sport", "state": "displayed", "count": 2}]}]
    missing = httpx.get(f"{portal.base}/api/records/1.0/search/", params={"dataset": "nulle-part"})
    assert missing.status_code == 404 and list(missing.json()) == ["error"]
