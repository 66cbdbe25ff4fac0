"""Conformance with Opendatasoft's own client: the official npm ``@opendatasoft/api-client``
(installed by ``make test``'s ``npm ci``), pointed at a portal served on the loopback
(``domain: 'http://127.0.0.1:PORT'``), makes every call of issue 14's list with its own query
builders; each answer is checked against the shapes of the reference document and against
values computed here from the dataset's rows.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import shutil
import statistics
import subprocess
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from conformance import DATASET, ROWS, LivePortal, conforms, live_portal, paris  # type: ignore[import-not-found]

from mutuelle.core.clock import now

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "conformance_apiclient.mjs"
CLIENT = HERE.parents[1] / "node_modules" / "@opendatasoft" / "api-client"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None or not CLIENT.is_dir(),
                                reason="node and npm ci's @opendatasoft/api-client are needed")

ALL = {r.id for r in ROWS}


def records(name: str, **query: Any) -> dict[str, Any]:
    return {"name": name, "path": ["dataset", DATASET, "records"], **query}


def facets(name: str, **query: Any) -> dict[str, Any]:
    return {"name": name, "path": ["dataset", DATASET, "facets"], **query}


def export(name: str, fmt: str, **query: Any) -> dict[str, Any]:
    return {"name": name, "path": ["dataset", DATASET, "export", fmt], "raw": True, **query}


def percentile(values: list[float], rank: float) -> float:
    ordered = sorted(values)
    at = rank / 100 * (len(ordered) - 1)
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


SQUARE_AJACCIO = "geom'POLYGON((8.7 41.9, 8.8 41.9, 8.8 42.0, 8.7 42.0, 8.7 41.9))'"

#: Every call of the issue's list, made with the client's builders.
CALLS: list[dict[str, Any]] = [
    # 2. geo_point_2d as {"lon", "lat"}, geo_shape as GeoJSON
    records("points", where=["id = 1"]),
    # 3. search: search(*, "q"), search("q"), fuzzy terms, suggest(), startswith(), like
    records("search_star", where=['search(*, "piscine")'], limit=100),
    records("search_bare", where=['search("piscine")'], limit=100),
    records("search_fuzzy", where=['search(nom, "pisicne rh")'], limit=100),
    records("suggest", where=['suggest("biblio")'], limit=100),
    records("startswith", where=['startswith("Centre")'], limit=100),
    records("like", where=['nom like "santé"'], limit=100),
    # 4. several where, ANDed
    records("wheres", where=['categorie = "sport"', "surface > 1200"], limit=100),
    # 5. limits: 20,000 with group_by; an unknown field is a 400 ODSQLError
    records("group_limit", select="categorie, count(*) as n", groupBy="categorie", limit=20000),
    records("over_limit", limit=101),
    records("unknown_field", where=["inconnu = 1"]),
    # 6. functions
    records("text_functions", select="lower(nom) as bas, upper(categorie) as haut, length(nom) as n",
            where=["id = 1"]),
    records("distance", select="id, distance(geo_point_2d, geom'POINT(4.8467 45.7485)') as d",
            orderBy="d", limit=3),
    records("geo_cluster", select="count(*) as n", groupBy="geo_cluster(geo_point_2d, 3) as c", limit=100),
    records("envelope", select="envelope(geo_point_2d) as e"),
    records("now", select="count(*) as n", where=["maj >= now(days=-7)"]),
    records("now_hour", select="count(*) as n", where=["maj < now(hour=0, minute=0)"]),
    records("static_range", select="count(*) as n",
            groupBy="range(ouverture, *, date'2020-01-01', date'2022-01-01', *) as periode",
            orderBy="periode"),
    records("median", select="median(surface) as m"),
    records("percentile", select="percentile(surface, 90) as p"),
    records("bbox", select="bbox(geo_shape) as b"),
    records("legacy_distance", where=["distance(geo_point_2d, geom'POINT(8.7386 41.9192)', 2km)"], limit=100),
    records("legacy_geometry", where=[f"geometry(geo_shape, {SQUARE_AJACCIO}, INTERSECTS)"], limit=100),
    # 7. facets: refined, excluded, hierarchical dates, disjunctive
    facets("facets_default"),
    facets("facets_refined", facet=["categorie"], refine=["categorie:sport"]),
    facets("facets_excluded", facet=["categorie"], exclude=["categorie:sport"]),
    facets("facets_dates", facet=["ouverture"], refine=["ouverture:2024/03"]),
    facets("facets_disjunctive", facet=['facet(name="categorie", disjunctive=true)', "code_commune"],
           refine=["categorie:sport", "categorie:culture"]),
    # 8. lang and timezone
    records("timezone", where=["id = 3"], timezone="Europe/Paris", lang="en"),
    export("csv_timezone", "csv", select="id, maj", timezone="Europe/Paris", set={"with_bom": "false"}),
    # 9. exports
    export("csv_default", "csv", select="id, nom"),
    export("csv_options", "csv", select="id, nom", set={"delimiter": "|", "with_bom": "false",
                                                        "use_labels": "true", "compressed": "true"}),
    export("geojson_epsg", "geojson", select="id, geo_point_2d", where=["id = 1"], set={"epsg": "2154"}),
    export("shp", "shp", select="id, nom, geo_shape"),
    export("kml", "kml", select="id, nom, geo_point_2d"),
    export("gpx", "gpx", select="id, nom, geo_point_2d", set={"name_field": "nom"}),
    export("fgb", "fgb"),
    # 10. links: include_links, our next cursor only where a next page exists
    records("links", limit=5, set={"include_links": "true", "include_app_metas": "true"}),
    records("last_page", limit=6, offset=6),
    records("all_in_one", limit=12),
    # the catalogue, as the client reads it (its own answers are the catalogue's tests')
    {"name": "dataset", "path": ["dataset", DATASET]},
    {"name": "datasets", "path": ["datasets"], "where": ['search(*, "équipements")']},
]


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    yield from live_portal(tmp_path_factory.mktemp("apiclient"))


@pytest.fixture(scope="module")
def answers(portal: LivePortal) -> dict[str, dict[str, Any]]:
    done = subprocess.run([str(NODE), str(SCRIPT), portal.base], input=json.dumps(CALLS).encode(),
                          capture_output=True, timeout=300, cwd=HERE, check=False)
    assert done.returncode == 0, done.stderr.decode()
    found = {a["name"]: a for a in json.loads(done.stdout)}
    assert set(found) == {c["name"] for c in CALLS}
    return found


def data(answers: dict[str, dict[str, Any]], name: str) -> Any:
    answer = answers[name]
    assert answer["ok"], f"{name}: {answer}"
    if "text" in answer:
        return base64.b64decode(answer["text"])
    if "results" in answer["data"]:
        conforms(answer["data"], "results-v2.1", required=("total_count", "results"))
    return answer["data"]


def ids(answers: dict[str, dict[str, Any]], name: str) -> list[int]:
    return [r["id"] for r in data(answers, name)["results"]]


def test_the_client_s_paths_and_queries_reach_the_portal(answers: dict[str, dict[str, Any]]) -> None:
    url = answers["wheres"]["url"]
    assert url.startswith(f"catalog/datasets/{DATASET}/records/?") and url.count("where=") == 2
    assert all(a["ok"] for n, a in answers.items() if n not in ("over_limit", "unknown_field")), \
        {n: a for n, a in answers.items() if not a["ok"]}


def test_points_and_shapes(answers: dict[str, dict[str, Any]]) -> None:
    record, row = data(answers, "points")["results"][0], ROWS[0]
    assert record["geo_point_2d"] == {"lon": row.lon, "lat": row.lat}
    assert record["geo_shape"]["type"] == "Polygon" and len(record["geo_shape"]["coordinates"][0]) == 5


def test_searches(answers: dict[str, dict[str, Any]]) -> None:
    expected = {"search_star": [1, 9], "search_bare": [1, 9], "search_fuzzy": [1], "suggest": [2],
                "startswith": [r.id for r in ROWS if r.nom.startswith("Centre")],
                "like": [r.id for r in ROWS if "santé" in r.nom.split()]}
    for name, want in expected.items():
        assert ids(answers, name) == want, name


def test_several_where_and_limits(answers: dict[str, dict[str, Any]]) -> None:
    assert ids(answers, "wheres") == [r.id for r in ROWS if r.categorie == "sport" and r.surface > 1200]
    groups = data(answers, "group_limit")
    assert {g["categorie"]: g["n"] for g in groups["results"]} == Counter(r.categorie for r in ROWS)
    for name in ("over_limit", "unknown_field"):
        answer = answers[name]
        assert answer["status"] == 400 and answer["userError"], answer
        conforms(answer["error"], "bad_request", required=("message", "error_code"))
        assert answer["error"]["error_code"] == "ODSQLError"
    assert "inconnu" in answers["unknown_field"]["error"]["message"]


def test_functions(answers: dict[str, dict[str, Any]]) -> None:
    row = ROWS[0]
    assert data(answers, "text_functions")["results"] == [
        {"bas": row.nom.lower(), "haut": row.categorie.upper(), "n": len(row.nom)}]
    nearest = data(answers, "distance")["results"]
    assert nearest[0] == {"id": 1, "d": pytest.approx(0, abs=0.01)} and nearest[1]["d"] > 0
    clusters = data(answers, "geo_cluster")["results"]
    assert sum(c["n"] for c in clusters) == len(ROWS) and 1 < len(clusters) < len(ROWS)
    envelope = data(answers, "envelope")["results"][0]["e"]
    assert envelope["type"] == "Polygon"
    xs = [p[0] for p in envelope["coordinates"][0]]
    assert min(xs) == pytest.approx(min(r.lon for r in ROWS)) and max(xs) == pytest.approx(max(r.lon for r in ROWS))
    week_ago = now() - timedelta(days=7)
    assert data(answers, "now")["results"] == [{"n": sum(r.maj >= week_ago for r in ROWS)}]
    assert data(answers, "now_hour")["results"] == [{"n": len(ROWS)}]  # every maj is in the past
    periods = [g["n"] for g in data(answers, "static_range")["results"]]
    assert periods == [sum(r.ouverture.year < 2020 for r in ROWS),
                       sum(2020 <= r.ouverture.year < 2022 for r in ROWS),
                       sum(r.ouverture.year >= 2022 for r in ROWS)]
    surfaces = [r.surface for r in ROWS]
    assert data(answers, "median")["results"] == [{"m": pytest.approx(statistics.median(surfaces))}]
    assert data(answers, "percentile")["results"] == [{"p": pytest.approx(percentile(surfaces, 90))}]
    box = data(answers, "bbox")["results"][0]["b"]
    corners = box["coordinates"][0]
    assert min(p[1] for p in corners) == pytest.approx(min(r.square["coordinates"][0][0][1] for r in ROWS))
    ajaccio = [r.id for r in ROWS if r.code_commune == "2A004"]
    assert ids(answers, "legacy_distance") == ajaccio and ids(answers, "legacy_geometry") == ajaccio


def _by_value(group: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    return {v["value"]: (v.get("count"), v["state"]) for v in group["facets"]}


def test_facets(answers: dict[str, dict[str, Any]]) -> None:
    for name in ("facets_default", "facets_refined", "facets_excluded", "facets_dates", "facets_disjunctive"):
        for group in data(answers, name)["facets"]:
            conforms(group, "facet_enumeration", required=("name", "facets"))
    assert [g["name"] for g in data(answers, "facets_default")["facets"]] == ["code_commune", "ouverture", "maj"]
    sport = sum(r.categorie == "sport" for r in ROWS)
    assert _by_value(data(answers, "facets_refined")["facets"][0]) == {"sport": (sport, "refined")}
    excluded = _by_value(data(answers, "facets_excluded")["facets"][0])
    assert excluded.pop("sport") == (None, "excluded")
    assert excluded == {k: (n, "displayed") for k, n in Counter(r.categorie for r in ROWS if r.categorie != "sport").items()}
    year = data(answers, "facets_dates")["facets"][0]["facets"][0]
    march = [r for r in ROWS if (r.ouverture.year, r.ouverture.month) == (2024, 3)]
    assert (year["value"], year["state"]) == ("2024", "refined")
    month = year["facets"][0]
    assert (month["value"], month["state"], month["count"]) == ("2024/03", "refined", len(march))
    assert [d["value"] for d in month["facets"]] == [f"2024/03/{r.ouverture.day:02d}" for r in march]
    disjunctive = {g["name"]: g for g in data(answers, "facets_disjunctive")["facets"]}
    assert _by_value(disjunctive["categorie"]) == {
        k: (n, "refined" if k in ("sport", "culture") else "displayed") for k, n in Counter(r.categorie for r in ROWS).items()}
    chosen = [r for r in ROWS if r.categorie in ("sport", "culture")]
    assert {k: n for k, (n, _) in _by_value(disjunctive["code_commune"]).items()} == Counter(r.code_commune for r in chosen)


def test_lang_and_timezone(answers: dict[str, dict[str, Any]]) -> None:
    assert data(answers, "timezone")["results"][0]["maj"] == paris(ROWS[2].maj)
    lines = data(answers, "csv_timezone").decode().splitlines()
    assert [line.split(";")[1].strip('"') for line in lines[1:]] == [paris(r.maj) for r in ROWS]


def test_exports(answers: dict[str, dict[str, Any]]) -> None:
    assert data(answers, "csv_default").startswith("\ufeff".encode())
    compressed = answers["csv_options"]
    assert compressed["headers"]["content-type"] == "application/gzip"
    text = gzip.decompress(data(answers, "csv_options")).decode()
    assert text.splitlines()[0].replace('"', "") == "id|nom" and not text.startswith("\ufeff")
    projected = json.loads(data(answers, "geojson_epsg"))
    assert projected["crs"]["properties"]["name"].endswith("EPSG::2154")
    x, y = projected["features"][0]["geometry"]["coordinates"]
    assert 800_000 < x < 900_000 and 6_400_000 < y < 6_600_000  # Lambert-93 around Lyon
    with zipfile.ZipFile(io.BytesIO(data(answers, "shp"))) as archive:
        assert {Path(n).suffix for n in archive.namelist()} >= {".shp", ".shx", ".dbf", ".prj"}
    kml = ElementTree.fromstring(data(answers, "kml"))
    assert len(kml.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == len(ROWS)
    gpx = ElementTree.fromstring(data(answers, "gpx"))
    names = [w.findtext("{http://www.topografix.com/GPX/1/1}name")
             for w in gpx.findall("{http://www.topografix.com/GPX/1/1}wpt")]
    assert names == [r.nom for r in ROWS]
    assert data(answers, "fgb")[:3] == b"fgb"  # FlatGeobuf's magic bytes


def test_links(answers: dict[str, dict[str, Any]]) -> None:
    body = data(answers, "links")
    assert {link["rel"] for link in body["_links"]} == {"self", "first", "next"}
    assert all(r["_links"][0]["rel"] == "self" for r in body["results"])
    assert body["links"][0]["rel"] == "next"  # ours: a cursor past the 10,000-row wall
    for name in ("last_page", "all_in_one"):
        assert "links" not in data(answers, name), name


def test_the_catalogue_answers_the_client(answers: dict[str, dict[str, Any]]) -> None:
    assert data(answers, "dataset")["dataset_id"] == DATASET
    assert [d["dataset_id"] for d in data(answers, "datasets")["results"]] == [DATASET]


def test_cross_origin_reads_head_and_preflight_on_the_live_server(portal: LivePortal) -> None:
    url = f"{portal.base}/api/explore/v2.1/catalog/datasets/{DATASET}/records/"
    origin = {"Origin": "https://widgets.example.org"}
    with httpx.Client() as client:
        got = client.get(url, headers=origin)
        assert got.status_code == 200 and got.headers["access-control-allow-origin"] == "*"
        head = client.head(url, headers=origin)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == got.headers["etag"]
        preflight = client.options(url, headers={**origin, "Access-Control-Request-Method": "GET",
                                                 "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-headers"] == "authorization"
        keyed = client.get(url, headers={**origin, "Authorization": f"Apikey {portal.key}"})
        assert keyed.status_code == 200 and keyed.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in keyed.headers
