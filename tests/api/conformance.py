"""The portal the conformance suite talks to: a dataset laid out like an Opendatasoft export
(points as ``geo_point_2d`` "lat, lon" text, polygons as ``geo_shape`` GeoJSON text, dates,
datetimes and text), served by uvicorn on the loopback for third-party clients; and the shapes
the reference document (Opendatasoft's v2.1 OpenAPI, ``opendatasoft/opendatasoft-explore-sdk``,
``generators/python/openapi/openapi.json``) gives its answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]


@dataclass(frozen=True)
class Equipment:
    """One row of the conformance dataset, as Python knows it."""

    id: int
    nom: str
    categorie: str
    code_commune: str
    ouverture: date
    maj: datetime
    surface: float
    lat: float
    lon: float

    @property
    def square(self) -> dict[str, Any]:
        """The polygon of ``geo_shape``: a small square around the point."""
        d = 0.001
        ring = [[self.lon - d, self.lat - d], [self.lon + d, self.lat - d],
                [self.lon + d, self.lat + d], [self.lon - d, self.lat + d],
                [self.lon - d, self.lat - d]]
        return {"type": "Polygon", "coordinates": [ring]}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text)


ROWS = [
    Equipment(1, "Piscine du Rhône", "sport", "69123", date(2019, 6, 15),
              _utc("2024-03-01T09:30:00+00:00"), 1250.5, 45.7485, 4.8467),
    Equipment(2, "Bibliothèque de la Part-Dieu", "culture", "69123", date(2019, 11, 2),
              _utc("2024-07-14T22:15:00+00:00"), 2800.0, 45.7605, 4.8590),
    Equipment(3, "Gymnase Jean Jaurès", "sport", "69266", date(2020, 1, 20),
              _utc("2023-12-31T23:30:00+00:00"), 980.0, 45.7710, 4.8800),
    Equipment(4, "Centre de santé Bellecour", "sante", "69123", date(2020, 1, 28),
              _utc("2024-01-05T08:00:00+00:00"), 410.25, 45.7578, 4.8320),
    Equipment(5, "Médiathèque du Bourg", "culture", "01004", date(2020, 5, 3),
              _utc("2022-05-03T12:00:00+00:00"), 1500.0, 45.9500, 5.3500),
    Equipment(6, "Stade municipal", "sport", "01004", date(2021, 9, 9),
              _utc("2021-09-09T15:45:00+00:00"), 7000.0, 45.9550, 5.3420),
    Equipment(7, "Maison de santé d'Ajaccio", "sante", "2A004", date(2021, 9, 30),
              _utc("2024-02-29T06:00:00+00:00"), 620.0, 41.9192, 8.7386),
    Equipment(8, "École Jules Ferry", "education", "69266", date(2024, 3, 4),
              _utc("2024-03-04T07:30:00+00:00"), 1800.0, 45.7700, 4.8790),
    Equipment(9, "Piscine de Vaise", "sport", "69123", date(2024, 3, 18),
              _utc("2024-03-18T10:00:00+00:00"), 1100.0, 45.7750, 4.8050),
    Equipment(10, "Collège Ampère", "education", "69123", date(2024, 6, 1),
              _utc("2024-06-01T16:20:00+00:00"), 3200.0, 45.7630, 4.8350),
    Equipment(11, "Théâtre des Célestins", "culture", "69123", date(2024, 6, 21),
              _utc("2024-06-21T19:00:00+00:00"), 2100.0, 45.7600, 4.8310),
    Equipment(12, "Centre de santé Ajaccio nord", "sante", "2A004", date(2024, 11, 11),
              _utc("2024-11-11T11:11:00+00:00"), 530.0, 41.9300, 8.7400),
]
HEADER = "id;nom;categorie;code_commune;ouverture;maj;surface;geo_point_2d;geo_shape"
DATASET = "equipements"
EXPLORE = "/api/explore/v2.1/catalog/datasets"


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def ods_csv(rows: list[Equipment] = ROWS) -> bytes:
    """The rows as Opendatasoft exports them (';', ``geo_point_2d`` "lat, lon",
    ``geo_shape`` GeoJSON text)."""
    lines = [HEADER]
    for r in rows:
        lines.append(";".join([str(r.id), r.nom, r.categorie, r.code_commune, r.ouverture.isoformat(),
                               r.maj.isoformat(), str(r.surface), _cell(f"{r.lat}, {r.lon}"),
                               _cell(json.dumps(r.square))]))
    return ("\n".join(lines) + "\n").encode("utf-8")


def by_id(ids: list[int]) -> list[Equipment]:
    """The rows of ``ids``."""
    return [r for r in ROWS if r.id in ids]


def free_port() -> int:
    """A free port on the loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LivePortal:
    """A portal served on the loopback: its URL, settings and an administrator's key."""

    base: str
    settings: Settings
    key: str
    client: TestClient


def publish_dataset(client: TestClient, slug: str = DATASET, *, access: str | None = None,
                    data: bytes | None = None) -> None:
    """The conformance dataset imported through the API (as a site administrator) and published."""
    made = client.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"})
    assert made.status_code in (201, 400), made.text  # 400: made by an earlier call
    made = client.post("/api/datasets", json={"organisation": "lyon", "title": f"Équipements {slug}",
                                              "slug": slug, "themes": ["equipements"]})
    assert made.status_code == 201, made.text
    imported = client.post(f"/api/datasets/{slug}/versions",
                           files={"file": (f"{slug}.csv", data or ods_csv())})
    assert imported.status_code == 201, imported.text
    assert client.post(f"/api/datasets/{slug}/publish").status_code == 200
    if access:
        changed = client.put(f"/api/datasets/{slug}/access", json={"access": access})
        assert changed.status_code == 200, changed.text


def live_portal(home: Path) -> Iterator[LivePortal]:
    """The conformance portal served by uvicorn on 127.0.0.1 (a free port) until the end."""
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    app = create_app(settings)
    headers = admin_key(settings)
    client = TestClient(app, client=LOOPBACK, raise_server_exceptions=False, headers=headers)
    publish_dataset(client)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name="conformance-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the conformance server did not start")
        thread.join(0.05)
    try:
        yield LivePortal(f"http://127.0.0.1:{port}", settings,
                         headers["Authorization"].split(" ", 1)[1], client)
    finally:
        server.should_exit = True
        thread.join(10)


# --- what the reference document says answers look like --------------------------------------

#: JSON types of the reference's schemas (``components.schemas``) for the answers checked here.
REFERENCE: dict[str, dict[str, Any]] = {
    "results-v2.1": {"total_count": int, "results": list, "_links": list},
    "facet_enumeration": {"name": str, "facets": list},
    "facet_value_enumeration": {"name": str, "count": int, "value": str, "state": str},
    "links": {"href": str, "rel": str},
    "bad_request": {"message": str, "error_code": str},
}
#: ``links.rel`` of the reference (our ``next`` is one of them).
LINK_RELS = ("self", "first", "last", "next", "dataset", "catalog")


def conforms(body: Any, schema: str, *, required: tuple[str, ...] = ()) -> None:
    """``body`` has the reference's types for ``schema`` (properties absent are allowed, as in
    the reference, unless ``required``)."""
    assert isinstance(body, dict), f"{schema}: {body!r} is not an object"
    for name in required:
        assert name in body, f"{schema}: {name} missing from {sorted(body)}"
    for name, kind in REFERENCE[schema].items():
        if name in body:
            value = body[name]
            assert isinstance(value, kind) and not (kind is int and isinstance(value, bool)), \
                f"{schema}.{name}: {value!r} is not {kind.__name__}"
    if schema == "results-v2.1":
        for link in body.get("_links", []):
            conforms(link, "links", required=("href", "rel"))
            assert link["rel"] in LINK_RELS
    if schema == "facet_enumeration":
        for value in body["facets"]:
            conforms(value, "facet_value_enumeration", required=("name", "value", "state"))
            for child in value.get("facets", []):
                conforms(child, "facet_value_enumeration", required=("name", "value", "state"))
    if schema == "bad_request":
        assert body["message"] and body["error_code"]


def paris(moment: datetime) -> str:
    """``moment`` as Opendatasoft writes it with ``timezone=Europe/Paris``."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Paris")).isoformat()


@dataclass
class Portal:
    """The conformance dataset on a portal in process: an anonymous client and an
    administrator's."""

    anonymous: TestClient
    admin: TestClient
    settings: Settings


def equipment_portal(home: Path, **changes: Any) -> Portal:
    """A portal in process with the conformance dataset published (``changes``: settings)."""
    settings = Settings(home=home, duckdb_memory_limit="512MB").with_(**changes)
    app = create_app(settings)
    admin = TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                       headers=admin_key(settings))
    publish_dataset(admin)
    return Portal(TestClient(app, client=LOOPBACK, raise_server_exceptions=False), admin, settings)
