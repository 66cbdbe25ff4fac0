"""The vector tile endpoints over HTTP: MVT bodies and cache headers, TileJSON, indicator values,
and refusals (4xx, never 500) for coordinates, levels, vintages and indicators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import sessions
from mutuelle.core.config import Settings
from mutuelle.geo import point_tiles, tiles
from mutuelle.geo.referential import import_territories
from mutuelle.ingest.service import import_file

from http_testing import LOOPBACK, admin_key  # type: ignore[import-not-found]
from mvt_testing import decode, tile_of  # type: ignore[import-not-found]

VINTAGE = 2012
MVT = "application/vnd.mapbox-vector-tile"
# Errors outside /api are pages unless JSON is asked for (mutuelle.api.errors).
JSON = {"Accept": "application/json"}


LYON_12 = tile_of(4.8275, 45.7785, 12)
ATLANTIC_12 = tile_of(-30.0, 40.0, 12)


def _app(settings: Settings) -> FastAPI:
    return create_app(settings)


def _iris_csv(fixture: Path) -> str:
    """An unemployment count and a working population for each IRIS; 693840302 is tiny."""
    import json

    codes = sorted(f["properties"]["id"] for f in json.loads(fixture.read_text())["features"])
    lines = ["code_iris;chomeurs;actifs"]
    for i, code in enumerate(codes):
        actifs = 5 if code == "693840302" else 400 + 7 * i
        lines.append(f"{code};{actifs // 10 + i % 13};{actifs}")
    return "\n".join(lines) + "\n"


def _centres(settings: Settings, iris: Path, dest: Path) -> None:
    """A GeoJSON of points: the centre of each IRIS with its code and population."""
    from mutuelle.store.duck import connect

    con = connect(settings)
    try:
        con.execute(f"""COPY (SELECT id AS code_iris, p12_pop AS population,
                                     ST_Centroid(geom) AS geom FROM ST_Read('{iris}'))
                        TO '{dest}' (FORMAT GDAL, DRIVER 'GeoJSON')""")
    finally:
        con.close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Iterator[Settings]:
    """A portal with Lyon's IRIS, two unemployment-rate indicators (public, internal), a
    point dataset of IRIS centres (published, and a draft copy) and one of tram lines."""
    from mutuelle.observatory.indicators import define_indicator

    home = tmp_path_factory.mktemp("tiles_api")
    settings = Settings(home=home / "home", duckdb_memory_limit="512MB")
    create_app(settings)   # migrates
    iris = fixtures_dir / "geo" / "iris-lyon-2012.geojson"
    csv = home / "chomage.csv"
    csv.write_text(_iris_csv(iris), encoding="utf-8")
    with sessions(settings)() as session:
        import_territories(session, settings, iris, level="iris", vintage=VINTAGE, cog=False)
        org = repo.create_organisation(session, name="Observatoire", slug="observatoire")
        dataset = repo.create_dataset(session, organisation=org, title="Chômage", slug="chomage")
        session.commit()
        import_file(session, settings, dataset, csv)
        repo.publish_dataset(session, dataset)
        session.commit()
        points = home / "centres.geojson"
        _centres(settings, iris, points)
        for slug, published in (("centres", True), ("centres-brouillon", False)):
            centres = repo.create_dataset(session, organisation=org, title=slug, slug=slug)
            session.commit()
            import_file(session, settings, centres, points)
            if published:
                repo.publish_dataset(session, centres)
            session.commit()
        tram = repo.create_dataset(session, organisation=org, title="Tramways", slug="tramways")
        session.commit()
        import_file(session, settings, tram, fixtures_dir / "awkward" / "tram_lines.geojson")
        repo.publish_dataset(session, tram)
        session.commit()
        for key, access in (("chomage", "public"), ("chomage-interne", "internal")):
            define_indicator(session, id=key, label="Taux de chômage", dataset="chomage",
                             numerator="chomeurs", denominator="actifs", code_column="code_iris",
                             scale=100, unit="%", vintage=VINTAGE, access=access)
        session.commit()
    yield settings


@pytest.fixture(scope="module")
def client(portal: Settings) -> Iterator[TestClient]:
    with TestClient(_app(portal), client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(portal)) as c:
        yield c


@pytest.fixture(scope="module")
def anonymous(portal: Settings) -> Iterator[TestClient]:
    with TestClient(_app(portal), client=LOOPBACK, raise_server_exceptions=False) as c:
        yield c


def _url(place: tuple[int, int, int], level: str = "iris", **query: object) -> str:
    z, x, y = place
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/tiles/{level}/{z}/{x}/{y}.mvt" + (f"?{params}" if params else "")


def test_a_tile_is_served_as_mvt_with_cache_headers(client: TestClient, portal: Settings) -> None:
    response = client.get(_url(LYON_12, vintage=VINTAGE))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    assert response.headers["cache-control"] == "public, max-age=3600"
    assert response.headers["etag"].startswith('"')
    assert response.content == tiles.tile(portal, VINTAGE, "iris", *LYON_12)
    assert b"693840302" in response.content


def test_an_unchanged_tile_answers_304(client: TestClient) -> None:
    etag = client.get(_url(LYON_12, vintage=VINTAGE)).headers["etag"]
    again = client.get(_url(LYON_12, vintage=VINTAGE), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(_url(LYON_12, vintage=VINTAGE), headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200


def test_the_vintage_defaults_to_the_one_present(client: TestClient) -> None:
    assert client.get(_url(LYON_12)).content == client.get(_url(LYON_12, vintage=VINTAGE)).content


def test_a_tile_without_territories_is_204(client: TestClient) -> None:
    response = client.get(_url(ATLANTIC_12, vintage=VINTAGE))
    assert response.status_code == 204 and response.content == b""
    assert "etag" in response.headers


@pytest.mark.parametrize(("path", "status"), [
    # outside the tile grid of the zoom: 400
    ("/tiles/iris/23/0/0.mvt", 400), ("/tiles/iris/-1/0/0.mvt", 400), ("/tiles/iris/3/8/0.mvt", 400),
    ("/tiles/iris/3/0/8.mvt", 400), ("/tiles/iris/3/-1/0.mvt", 400), ("/tiles/iris/0/1/1.mvt", 400),
    ("/tiles/iris/99999999999999999999/0/0.mvt", 400),
    # not a number, or out of the declared range: 422, naming the parameter
    ("/tiles/iris/a/0/0.mvt", 422), ("/tiles/iris/3/0/1.5.mvt", 422),
    ("/tiles/iris/12/2103/1461.mvt?vintage=abc", 422), ("/tiles/iris/12/2103/1461.mvt?vintage=12", 422),
    ("/tiles/iris/12/2103/1461.mvt?vintage=99999999999999999999", 422),
])
def test_tile_coordinates_out_of_range_are_refused(client: TestClient, path: str, status: int) -> None:
    response = client.get(path, headers=JSON)
    assert response.status_code == status, (path, response.status_code, response.text)
    assert response.json()["error_code"] == "InvalidInput"
    assert client.get(path).status_code == status   # as a page for MapLibre and browsers


@pytest.mark.parametrize("path", [
    "/tiles/canton/12/2103/1461.mvt", "/tiles/iris/12/2103/1461.mvt?vintage=2031",
    "/tiles/commune/12/2103/1461.mvt", "/tiles/iris/12/2103/1461.mvt?indicator=nope",
    "/tiles/canton.json", "/tiles/iris.json?vintage=2031", "/tiles/iris.json?indicator=nope",
])
def test_unknown_levels_vintages_and_indicators_are_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers=JSON)
    assert response.status_code == 404, (path, response.text)
    assert response.json()["error_code"] == "NotFound"


def test_tilejson_describes_the_tiles(client: TestClient) -> None:
    response = client.get("/tiles/iris.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["tilejson"] == "3.0.0" and doc["minzoom"] == 0 and doc["maxzoom"] == 14
    west, south, east, north = doc["bounds"]
    assert 4.7 < west < east < 5.0 and 45.6 < south < north < 45.9
    assert doc["vector_layers"][0]["id"] == "iris"
    assert set(doc["vector_layers"][0]["fields"]) == {"code", "name"}
    template = doc["tiles"][0]
    assert template == f"http://testserver/tiles/iris/{{z}}/{{x}}/{{y}}.mvt?vintage={VINTAGE}"
    z, x, y = LYON_12
    url = template.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
    assert client.get(url).status_code == 200


def test_tilejson_of_an_indicator_names_its_fields(client: TestClient) -> None:
    doc = client.get("/tiles/iris.json?indicator=chomage").json()
    assert doc["tiles"][0].endswith(f"?vintage={VINTAGE}&indicator=chomage")
    assert {"value", "status"} <= set(doc["vector_layers"][0]["fields"])


def test_indicator_values_travel_in_the_tiles(client: TestClient, portal: Settings) -> None:
    from mutuelle.catalog.observatory_models import Indicator
    from mutuelle.observatory.compute import as_tile_values, indicator_values

    response = client.get(_url(LYON_12, indicator="chomage"))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    with sessions(portal)() as session:
        indicator = session.get(Indicator, "chomage")
        values = as_tile_values(indicator_values(session, portal, indicator, "iris"))
    assert values["693840302"] == (None, "secret")       # 5 working people: under secrecy
    assert response.content == tiles.tile(portal, VINTAGE, "iris", *LYON_12, values=values)
    assert response.content != client.get(_url(LYON_12)).content
    assert b"secret" in response.content and b"status" in response.content


def test_an_indicators_values_are_prepared_once_for_all_its_tiles(client: TestClient) -> None:
    from mutuelle.core.cache import stats

    client.get(_url(LYON_12, indicator="chomage"))        # computed and prepared
    before = stats()["geo.prepared_values"]
    for place in (tile_of(4.80, 45.76, 12), tile_of(4.86, 45.75, 12), ATLANTIC_12):
        assert client.get(_url(place, indicator="chomage")).status_code in (200, 204)
    after = stats()["geo.prepared_values"]
    assert after.hits - before.hits == 3 and after.items == before.items


def test_an_internal_indicator_is_private_and_hidden_from_anonymous_visitors(
        client: TestClient, anonymous: TestClient) -> None:
    inside = client.get(_url(LYON_12, indicator="chomage-interne"))
    assert inside.status_code == 200
    assert inside.headers["cache-control"] == "private, no-store"
    assert anonymous.get(_url(LYON_12, indicator="chomage-interne")).status_code == 404
    assert anonymous.get("/tiles/iris.json?indicator=chomage-interne").status_code == 404
    assert anonymous.get(_url(LYON_12, indicator="chomage")).status_code == 200


def test_the_tiles_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/tiles/{level}/{z}/{x}/{y}.mvt" in paths and "/tiles/{level}.json" in paths


def test_a_point_dataset_is_served_as_tiles(client: TestClient, portal: Settings) -> None:
    from mutuelle.catalog.db import sessions as open_sessions
    from mutuelle.store.versions import resolve

    response = client.get(_url(LYON_12, level="datasets/centres", properties="code_iris,population"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    assert response.headers["cache-control"] == "public, max-age=300"
    with open_sessions(portal)() as session:
        version = repo.latest_version(repo.get_dataset(session, "centres"))
        assert version is not None
        path = resolve(portal, version.parquet_path)
    expected = point_tiles.points_tile(portal, path, *LYON_12,
                                       properties=("code_iris", "population"), layer="centres")
    assert response.content == expected and b"693840302" in response.content
    assert client.get(_url(ATLANTIC_12, level="datasets/centres")).status_code == 204
    clustered = client.get(_url(LYON_12, level="datasets/centres", properties="code_iris",
                                cluster="64"))
    assert clustered.status_code == 200 and clustered.content == point_tiles.points_tile(
        portal, path, *LYON_12, properties=("code_iris",), layer="centres", cluster=64)
    assert clustered.headers["etag"] != response.headers["etag"]


@pytest.mark.parametrize("path, status", [
    ("/tiles/datasets/centres/12/2103/1461.mvt?properties=salaire", 400),
    ("/tiles/datasets/centres/3/9/0.mvt", 400),
    ("/tiles/datasets/nulle-part/12/2103/1461.mvt", 404),
    ("/tiles/datasets/centres/12/2103/1461.mvt?cluster=48", 400),
    ("/tiles/datasets/centres/12/2103/1461.mvt?cluster=beaucoup", 422),
])
def test_point_tiles_refuse_unknown_columns_coordinates_and_datasets(
        client: TestClient, path: str, status: int) -> None:
    assert client.get(path, headers=JSON).status_code == status


def test_a_draft_point_dataset_is_hidden_from_anonymous_visitors(
        client: TestClient, anonymous: TestClient) -> None:
    path = _url(LYON_12, level="datasets/centres-brouillon")
    assert anonymous.get(path, headers=JSON).status_code == 404
    response = client.get(path)   # its editors see it, and no shared cache keeps it
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"


@pytest.mark.parametrize("z", [2, 6, 10, 13])
def test_a_dataset_of_lines_is_served_as_linestrings(client: TestClient, z: int) -> None:
    place = tile_of(4.86, 45.74, z)
    response = client.get(_url(place, level="datasets/tramways", properties="ligne"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    features = decode(response.content)["tramways"]
    assert {f["type"] for f in features} == {"LineString"}
    assert {f["properties"]["ligne"] for f in features} == {"T1", "T2", "T4", "T6"}
    t6 = next(f for f in features if f["properties"]["ligne"] == "T6")
    assert len(t6["rings"]) == (2 if z >= 6 else 1)   # a multi-line is one feature
    etag = response.headers["etag"]
    again = client.get(_url(place, level="datasets/tramways", properties="ligne"),
                       headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert client.get(_url(ATLANTIC_12, level="datasets/tramways")).status_code == 204
