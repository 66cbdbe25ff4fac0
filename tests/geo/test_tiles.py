"""Vector tiles of the referential and of datasets: content (decoded with a small protobuf
reader, tests/mvt_testing.py, not with the library that wrote them), zoom-dependent geometries,
values, validation, cache."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from mutuelle.catalog.db import sessions, upgrade
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.geo import point_tiles, tiles
from mutuelle.geo.referential import geometry_path, import_territories
from mutuelle.store.duck import connect

from mvt_testing import decode, lonlat, shoelace, tile_of  # type: ignore[import-not-found]

VINTAGE = 2012
# Canuts-d'Enfert Rochereau (Lyon 4e): the z12 tile holding it is in the middle of Lyon.
CROIX_ROUSSE = (4.8275, 45.7785)


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lyon(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Settings:
    """A store whose referential holds the 358 IRIS of Lyon (2012), imported like any file."""
    settings = Settings(home=tmp_path_factory.mktemp("tiles") / "home", duckdb_memory_limit="512MB")
    settings.home.mkdir(parents=True)
    upgrade(settings)
    with sessions(settings)() as session:
        import_territories(session, settings, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                           level="iris", vintage=VINTAGE, cog=False)
    return settings


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    tiles.clear_cache()


def _in_tile(settings: Settings, z: int, x: int, y: int, margin: float) -> set[str]:
    """Codes of the IRIS meeting a tile widened by ``margin`` tile widths, per DuckDB on the
    source file (lon/lat), independent of the tile code."""
    n = 1 << z

    def lon(tx: float) -> float:
        return tx / n * 360 - 180

    def lat(ty: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))

    con = connect(settings)
    try:
        rows = con.execute(
            f"SELECT code FROM read_parquet('{geometry_path(settings, VINTAGE, 'iris')}') "
            "WHERE ST_Intersects(geometry, ST_MakeEnvelope(?, ?, ?, ?))",
            [lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)]).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


# -- content ---------------------------------------------------------------------------------

def test_a_tile_over_lyon_at_zoom_12_holds_the_iris_it_covers(lyon: Settings) -> None:
    z, x, y = tile_of(*CROIX_ROUSSE, 12)
    layers = decode(tiles.tile(lyon, VINTAGE, "iris", z, x, y))
    assert list(layers) == ["iris"]
    codes = {f["properties"]["code"] for f in layers["iris"]}
    assert "693840302" in codes
    # Every IRIS inside the tile is there; the only extras are in the 64-unit buffer.
    assert _in_tile(lyon, z, x, y, 0) <= codes <= _in_tile(lyon, z, x, y, 64 / 4096)
    assert len(codes) == len(layers["iris"]) > 50


def test_features_carry_code_and_name_only_without_values(lyon: Settings) -> None:
    features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, 12)))["iris"]
    by_code = {f["properties"]["code"]: f for f in features}
    # IRIS say their type (H habitat, A activité, D divers)
    assert by_code["693840302"]["properties"] == {"code": "693840302",
                                                  "name": "Canuts-d'Enfert Rochereau", "kind": "H"}
    assert all(f["type"] == "Polygon" for f in features)


def test_small_territories_are_named_from_the_zoom_where_a_label_fits(lyon: Settings) -> None:
    # IRIS tiles carry no names below zoom 8 (a sixth of their bytes at country zooms)
    for z, named in ((5, False), (7, False), (8, True), (10, True)):
        features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, z)))["iris"]
        assert features and all("code" in f["properties"] for f in features)
        assert all(("name" in f["properties"]) == named for f in features), z
        values = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, z),
                                   values={f["properties"]["code"]: (1.0, "ok") for f in features}))
        assert all(f["properties"]["status"] == "ok" for f in values["iris"])


def test_geometries_are_in_tile_units_with_clockwise_outer_rings(lyon: Settings) -> None:
    features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, 12)))["iris"]
    points = [p for f in features for ring in f["rings"] for p in ring]
    assert min(min(p) for p in points) >= -64 and max(max(p) for p in points) <= 4096 + 64
    # MVT 2.1: an exterior ring has a positive area in tile coordinates (clockwise on screen).
    assert all(shoelace(f["rings"][0]) > 0 for f in features)
    assert all(len(ring) >= 3 for f in features for ring in f["rings"])


def test_values_and_statuses_are_carried(lyon: Settings) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    codes = sorted(f["properties"]["code"] for f in decode(tiles.tile(lyon, VINTAGE, "iris", *place))["iris"])
    values = {codes[0]: (12.5, "ok"), codes[1]: (None, "secret"), codes[2]: (None, "no_data"),
              codes[3]: (7.0, "secret")}   # a secret value never travels, even if given
    features = decode(tiles.tile(lyon, VINTAGE, "iris", *place, values=values))["iris"]
    props = {f["properties"]["code"]: f["properties"] for f in features}
    assert props[codes[0]]["value"] == 12.5 and props[codes[0]]["status"] == "ok"
    assert props[codes[1]]["status"] == "secret" and "value" not in props[codes[1]]
    assert props[codes[2]]["status"] == "no_data" and "value" not in props[codes[2]]
    assert props[codes[3]]["status"] == "secret" and "value" not in props[codes[3]]
    # Territories missing from the values are "no data", not dropped and not zero.
    assert props[codes[4]]["status"] == "no_data" and "value" not in props[codes[4]]
    assert len(props) == len(codes)


def test_an_unknown_status_is_refused(lyon: Settings) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    with pytest.raises(InvalidInput, match="status"):
        tiles.tile(lyon, VINTAGE, "iris", *place, values={"693840302": (1.0, "hidden")})


def test_low_zooms_draw_simplified_geometries(lyon: Settings) -> None:
    def vertices(z: int) -> int:
        features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, z)))["iris"]
        return sum(len(r) for f in features if f["properties"]["code"] == "693840302"
                   for r in f["rings"])

    full, mid, low = vertices(12), vertices(10), vertices(8)
    assert low < mid < full
    con = connect(lyon)
    try:
        row = con.execute(
            "SELECT ST_NPoints(geometry), ST_NPoints(geometry_mid), ST_NPoints(geometry_low) "
            f"FROM read_parquet('{geometry_path(lyon, VINTAGE, 'iris')}') WHERE code = '693840302'"
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    # MVT rings leave out the closing point; the contour is not clipped at these zooms.
    assert (full, mid, low) == (row[0] - 1, row[1] - 1, row[2] - 1)


def test_country_zooms_simplify_the_low_geometries_once_more(lyon: Settings) -> None:
    features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, 5)))["iris"]
    drawn = {f["properties"]["code"]: sum(len(r) for r in f["rings"]) for f in features}
    con = connect(lyon)
    try:
        low = dict(con.execute(
            "SELECT code, ST_NPoints(geometry_low) - 1 FROM "
            f"read_parquet('{geometry_path(lyon, VINTAGE, 'iris')}')").fetchall())
    finally:
        con.close()
    assert sum(drawn.values()) < 0.8 * sum(low[code] for code in drawn)
    assert all(count >= 3 for count in drawn.values())


def test_a_tile_with_no_territory_is_empty(lyon: Settings) -> None:
    made = tiles.tile_with_etag(lyon, VINTAGE, "iris", *tile_of(-30.0, 40.0, 12))
    assert made.data == b"" and made.features == 0


def test_territories_smaller_than_a_tile_unit_are_left_out(lyon: Settings) -> None:
    z = 4   # a tile unit is about 600 m of Web Mercator there, the size of a city IRIS
    con = connect(lyon)
    try:
        boxes = con.execute("SELECT code, xmin, ymin, xmax, ymax FROM "
                            f"read_parquet('{geometry_path(lyon, VINTAGE, 'iris')}')").fetchall()
    finally:
        con.close()
    units = 4096 * 2**z

    def mercator(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)

    large = {code for code, x0, y0, x1, y1 in boxes
             if max((x1 - x0) / 360, mercator(y1) - mercator(y0)) * units >= 1}
    features = decode(tiles.tile(lyon, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, z)))["iris"]
    assert {f["properties"]["code"] for f in features} == large
    assert 0 < len(large) < len(boxes)


# -- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize("z, x, y", [(-1, 0, 0), (23, 0, 0), (3, 8, 0), (3, 0, 8), (0, 1, 0),
                                     (3, -1, 0), (3, 0, -1), (22, 2**22, 0)])
def test_tile_coordinates_out_of_range_are_refused(lyon: Settings, z: int, x: int, y: int) -> None:
    with pytest.raises(InvalidInput, match="zoom|x and y"):
        tiles.tile(lyon, VINTAGE, "iris", z, x, y)


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(z=st.integers(-3, 30), x=st.integers(-5, 2**24), y=st.integers(-5, 2**24))
def test_any_tile_coordinates_give_a_tile_or_a_clear_refusal(lyon: Settings, z: int, x: int,
                                                             y: int) -> None:
    try:
        data = tiles.tile(lyon, VINTAGE, "iris", z, x, y)
    except InvalidInput:
        assert not (0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z)
    else:
        assert 0 <= z <= 22 and 0 <= x < 2**z and 0 <= y < 2**z
        decode(data)


def test_an_unknown_level_or_vintage_is_not_found(lyon: Settings) -> None:
    with pytest.raises(NotFound, match="level"):
        tiles.tile(lyon, VINTAGE, "canton", 12, 2103, 1461)
    with pytest.raises(NotFound, match="vintage 2031"):
        tiles.tile(lyon, 2031, "iris", 12, 2103, 1461)
    with pytest.raises(NotFound, match="commune"):
        tiles.tile(lyon, VINTAGE, "commune", 12, 2103, 1461)
    with pytest.raises(InvalidInput, match="vintage"):
        tiles.tile(lyon, 12, "iris", 12, 2103, 1461)


def test_the_vintage_defaults_to_the_newest_present(lyon: Settings) -> None:
    assert tiles.resolve_vintage(lyon, "iris", None) == VINTAGE
    assert tiles.resolve_vintage(lyon, "iris", 2020) == 2020
    with pytest.raises(NotFound):
        tiles.resolve_vintage(lyon, "qpv", None)


# -- cache -----------------------------------------------------------------------------------

def test_a_cache_hit_returns_identical_bytes(lyon: Settings) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    first = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place)
    assert tiles.cache_stats() == {"items": 1, "hits": 0, "misses": 1}
    again = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place)
    assert again is first and tiles.cache_stats()["hits"] == 1
    tiles.clear_cache()
    remade = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place)
    assert remade is not first and remade.data == first.data and remade.etag == first.etag


def test_values_are_part_of_the_cache_key(lyon: Settings) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    plain = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place)
    values = {"693840302": (1.0, "ok")}
    one = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place, values=values)
    two = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place, values={"693840302": (2.0, "ok")})
    assert len({plain.etag, one.etag, two.etag}) == 3
    assert tiles.tile_with_etag(lyon, VINTAGE, "iris", *place, values=values) is one
    assert tiles.tile_with_etag(lyon, VINTAGE, "iris", *place, values=dict(values)) is one
    # A value outside the tile makes another cache entry but the same bytes, hence the same
    # ETag: a browser revalidating gets 304.
    far = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place,
                               values={**values, "691230000": (5.0, "ok")})
    assert far is not one and (far.data, far.etag) == (one.data, one.etag)


def test_the_cache_keeps_at_most_the_configured_number_of_tiles(lyon: Settings) -> None:
    small = lyon.with_(tile_cache_items=2)
    for z in (10, 11, 12):
        tiles.tile(small, VINTAGE, "iris", *tile_of(*CROIX_ROUSSE, z))
    assert tiles.cache_stats()["items"] == 2


def test_a_reimported_referential_is_read_again(lyon: Settings, fixtures_dir: Path,
                                                tmp_path: Path) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    before = tiles.tile_with_etag(lyon, VINTAGE, "iris", *place)
    # A file holding only two IRIS of the Croix-Rousse replaces the referential.
    con = connect(lyon)
    try:
        con.execute(f"""COPY (SELECT * FROM ST_Read('{fixtures_dir / "geo" / "iris-lyon-2012.geojson"}')
                              WHERE id IN ('693840302', '693840301'))
                        TO '{tmp_path / "two.geojson"}' (FORMAT GDAL, DRIVER 'GeoJSON')""")
    finally:
        con.close()
    try:
        with sessions(lyon)() as session:
            import_territories(session, lyon, tmp_path / "two.geojson", level="iris",
                               vintage=VINTAGE, cog=False)
        after = decode(tiles.tile(lyon, VINTAGE, "iris", *place))["iris"]
        assert sorted(f["properties"]["code"] for f in after) == ["693840301", "693840302"]
    finally:
        with sessions(lyon)() as session:
            import_territories(session, lyon, fixtures_dir / "geo" / "iris-lyon-2012.geojson",
                               level="iris", vintage=VINTAGE, cog=False)
    assert tiles.tile(lyon, VINTAGE, "iris", *place) == before.data


# -- point datasets --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def points(lyon: Settings, fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A point dataset: the centre of each Lyon IRIS with its code and 2012 population."""
    path = tmp_path_factory.mktemp("points") / "data.parquet"
    con = connect(lyon)
    try:
        con.execute(f"""COPY (SELECT id AS code, p12_pop AS population, libiris AS "nom IRIS",
                                     ST_Centroid(geom) AS geometry
                              FROM ST_Read('{fixtures_dir / "geo" / "iris-lyon-2012.geojson"}'))
                        TO '{path}' (FORMAT parquet)""")
    finally:
        con.close()
    return path


def test_a_points_tile_carries_the_chosen_properties(lyon: Settings, points: Path) -> None:
    data = point_tiles.points_tile(lyon, points, *tile_of(*CROIX_ROUSSE, 15),
                                   properties=("code", "population", "nom IRIS"), layer="centres")
    features = decode(data)["centres"]
    by_code = {f["properties"]["code"]: f for f in features}
    assert by_code["693840302"]["properties"] == {
        "code": "693840302", "population": 2390, "nom IRIS": "Canuts-d'Enfert Rochereau",
        "count": 1}
    assert all(f["type"] == "Point" and len(f["rings"]) == 1 for f in features)
    assert all(0 <= c < 4096 for f in features for c in f["rings"][0][0])


def test_points_in_one_tile_unit_are_counted_not_dropped(lyon: Settings, points: Path) -> None:
    # At zoom 5 the 358 centres of Lyon fall in a few tile units (about 300 m each).
    features = decode(point_tiles.points_tile(lyon, points, *tile_of(*CROIX_ROUSSE, 5),
                                              properties=("code",)))["points"]
    assert sum(f["properties"]["count"] for f in features) == 358
    assert len(features) < 358
    assert all(("code" in f["properties"]) == (f["properties"]["count"] == 1) for f in features)


@pytest.mark.parametrize("z", [9, 12, 14])
def test_points_are_clustered_in_cells_of_the_size_asked_at_their_mean(
        lyon: Settings, points: Path, z: int) -> None:
    place = tile_of(*CROIX_ROUSSE, z)
    single = decode(point_tiles.points_tile(lyon, points, *place, properties=("code",)))
    clustered = decode(point_tiles.points_tile(lyon, points, *place, properties=("code",),
                                               cluster=256))
    units, cells = single.get("points", []), clustered.get("points", [])
    assert sum(f["properties"]["count"] for f in cells) == sum(f["properties"]["count"] for f in units) > 0
    assert len(cells) < len(units) if z <= 12 else len(cells) <= len(units)  # z 14: far apart
    # each cluster is where the mean of its points is, in the cell of 256 units it stands for
    by_cell: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for f in units:
        (ux, uy), = f["rings"][0]
        by_cell.setdefault((ux // 256, uy // 256), []).append((ux, uy, f["properties"]["count"]))
    for f in cells:
        (cx, cy), = f["rings"][0]
        members = by_cell[(cx // 256, cy // 256)]
        n = sum(c for _, _, c in members)
        assert f["properties"]["count"] == n
        mean_x = sum(x * c for x, _, c in members) / n
        mean_y = sum(y * c for _, y, c in members) / n
        assert abs(cx - mean_x) <= 1 and abs(cy - mean_y) <= 1
        assert ("code" in f["properties"]) == (n == 1)


def test_a_points_tile_refuses_unknown_or_reserved_columns(lyon: Settings, points: Path) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    with pytest.raises(InvalidInput, match="salaire"):
        point_tiles.points_tile(lyon, points, *place, properties=("salaire",))
    with pytest.raises(InvalidInput, match="count"):
        point_tiles.points_tile(lyon, points, *place, properties=("count",))
    with pytest.raises(InvalidInput, match="x and y"):
        point_tiles.points_tile(lyon, points, 3, 9, 0)
    with pytest.raises(InvalidInput, match="cluster must be one of 1, 2, 4"):
        point_tiles.points_tile(lyon, points, *place, cluster=3)
    with pytest.raises(NotFound):
        point_tiles.points_tile(lyon, points.with_name("missing.parquet"), *place)


# -- lines and polygons of datasets ----------------------------------------------------------

AWKWARD = "awkward"
# In the middle of the tram network of tram_lines.geojson.
NETWORK = (4.86, 45.74)


def _parquet(settings: Settings, select: str, dest: Path) -> Path:
    con = connect(settings)
    try:
        con.execute(f"COPY ({select}) TO '{dest}' (FORMAT parquet)")
    finally:
        con.close()
    return dest


@pytest.fixture(scope="module")
def tram(lyon: Settings, fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset of lines: three tram lines and one multi-line (T6)."""
    source = fixtures_dir / AWKWARD / "tram_lines.geojson"
    return _parquet(lyon, f"SELECT ligne, longueur_km, geom AS geometry FROM ST_Read('{source}')",
                    tmp_path_factory.mktemp("tram") / "data.parquet")


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    return (math.radians(lon) * 6378137.0,
            math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * 6378137.0)


def _distance_to_lines(point: tuple[float, float], parts: list[list[list[float]]]) -> float:
    """Metres (Web Mercator) from ``point`` to the nearest segment of ``parts`` (lon/lat)."""
    px, py = point
    best = math.inf
    for part in parts:
        xy = [_mercator(*c) for c in part]
        for (ax, ay), (bx, by) in zip(xy, xy[1:], strict=False):
            dx, dy = bx - ax, by - ay
            t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
            best = min(best, math.hypot(px - ax - t * dx, py - ay - t * dy))
    return best


@pytest.mark.parametrize("z", [0, 3, 6, 9, 12, 14])
def test_a_lines_tile_holds_linestrings_lying_on_the_lines(
        lyon: Settings, tram: Path, fixtures_dir: Path, z: int) -> None:
    import json

    source = json.loads((fixtures_dir / AWKWARD / "tram_lines.geojson").read_text())
    lines = {f["properties"]["ligne"]: (f["geometry"]["coordinates"] if f["geometry"]["type"]
                                        == "MultiLineString" else [f["geometry"]["coordinates"]])
             for f in source["features"]}
    place = tile_of(*NETWORK, z)
    made = point_tiles.dataset_tile(lyon, tram, *place, properties=("ligne",), layer="tram")
    features = decode(made.data)["tram"]
    assert made.features == len(features)
    # every line is there, drawn or, too small for the zoom, a mark counting it
    assert sum(f["properties"]["count"] for f in features) == (4 if z <= 12 else 3)
    names = [f["properties"]["ligne"] for f in features if f["properties"]["count"] == 1]
    assert len(names) == len(set(names))
    if z >= 3:
        assert sorted(names) == (["T1", "T2", "T4", "T6"] if z <= 12 else ["T1", "T2", "T4"])
    unit = 2 * tiles.HALF_WORLD / (1 << z) / 4096
    for feature in features:
        assert feature["type"] == "LineString"
        near = [lines[n] for n in ([feature["properties"]["ligne"]]
                                   if feature["properties"]["count"] == 1 else lines)]

        def off(point: tuple[float, float], near: list[Any] = near) -> float:
            """Tile units from ``point`` to the nearest of the lines it stands for."""
            at = _mercator(*lonlat(place, point))
            return min(_distance_to_lines(at, parts) for parts in near) / unit

        for part in feature["rings"]:
            assert len(part) >= 2 and all(a != b for a, b in zip(part, part[1:], strict=False))
            assert all(-64 <= c <= 4096 + 64 for point in part for c in point)
            (x0, y0), (x1, y1) = part[0], part[-1]
            if len(part) == 2 and abs(x1 - x0) == 1 and y0 == y1:
                # a mark: one unit long, across the centre of what it stands for
                assert off((x0 + 0.5, y0)) <= 1.5
            else:   # rounded to the unit grid: within one tile unit of the line
                assert max(off(point) for point in part) <= 1.0


def test_a_multi_line_stays_one_feature_and_lines_are_simplified_for_the_zoom(
        lyon: Settings, tram: Path) -> None:
    def vertices(z: int) -> dict[str, list[int]]:
        features = decode(point_tiles.points_tile(lyon, tram, *tile_of(*NETWORK, z),
                                                  properties=("ligne",), layer="tram"))["tram"]
        return {f["properties"]["ligne"]: [len(part) for part in f["rings"]] for f in features}

    near, far = vertices(12), vertices(6)
    # every vertex of the file (T1 is cut by the tile's edge)
    assert {k: v for k, v in near.items() if k != "T1"} == {"T2": [12], "T4": [7], "T6": [3, 2]}
    assert len(far["T6"]) == 2 and sum(far["T2"]) < sum(near["T2"])
    assert sum(map(sum, far.values())) < sum(map(sum, near.values()))


def test_lines_and_polygons_too_small_for_the_zoom_are_marks_counted_like_points(
        lyon: Settings, tmp_path: Path) -> None:
    # three lines of a few metres and a small square (40 m) near the Croix-Rousse
    lon, lat = CROIX_ROUSSE
    rows = [f"SELECT 'l{i}' AS nom, ST_MakeLine(ST_Point({lon + i * 1e-4}, {lat}), "
            f"ST_Point({lon + i * 1e-4 + 5e-5}, {lat})) AS geometry" for i in range(3)]
    rows.append(f"SELECT 'carré' AS nom, ST_MakeEnvelope({lon}, {lat - 1e-3}, {lon + 5e-4}, "
                f"{lat - 1e-3 + 4e-4}) AS geometry")
    small = _parquet(lyon, " UNION ALL ".join(rows), tmp_path / "small.parquet")
    far = decode(point_tiles.points_tile(lyon, small, *tile_of(*CROIX_ROUSSE, 4),
                                         properties=("nom",), layer="small"))["small"]
    by_type = {f["type"]: f for f in far}
    assert len(far) == 2 and set(by_type) == {"LineString", "Polygon"}
    assert by_type["LineString"]["properties"] == {"count": 3}   # no name for a group
    assert by_type["Polygon"]["properties"] == {"count": 1, "nom": "carré"}
    assert [len(r) for r in by_type["LineString"]["rings"]] == [2]
    assert shoelace(by_type["Polygon"]["rings"][0]) > 0
    near = decode(point_tiles.points_tile(lyon, small, *tile_of(*CROIX_ROUSSE, 17),
                                          properties=("nom",), layer="small"))["small"]
    assert sorted(f["properties"]["nom"] for f in near) == ["carré", "l0", "l1", "l2"]
    assert all(f["properties"]["count"] == 1 for f in near)


def test_polygons_of_a_dataset_are_made_valid_with_clockwise_outer_rings(
        lyon: Settings, fixtures_dir: Path, tmp_path: Path) -> None:
    # a bow-tie (self-intersecting) next to a valid square
    source = fixtures_dir / AWKWARD / "self_intersecting.geojson"
    shapes = _parquet(lyon, f"SELECT code, geom AS geometry FROM ST_Read('{source}')",
                      tmp_path / "shapes.parquet")
    for z in (5, 10, 13):
        features = decode(point_tiles.points_tile(lyon, shapes, *tile_of(4.85, 45.75, z),
                                                  properties=("code",), layer="zones"))["zones"]
        assert sorted(f["properties"]["code"] for f in features) == ["X1", "X2"]
        assert all(f["type"] == "Polygon" for f in features)
        bow_tie = next(f for f in features if f["properties"]["code"] == "X1")
        assert sum(shoelace(r) > 0 for r in bow_tie["rings"]) == 2   # two triangles
        assert all(shoelace(r) != 0 for f in features for r in f["rings"])


def test_points_lines_and_polygons_share_one_layer(lyon: Settings, tmp_path: Path) -> None:
    lon, lat = CROIX_ROUSSE
    mixed = _parquet(lyon, f"""
        SELECT 'a' AS nom, ST_Point({lon}, {lat}) AS geometry UNION ALL
        SELECT 'b', ST_GeomFromText('MULTIPOINT({lon + 0.001} {lat}, {lon + 0.002} {lat})') UNION ALL
        SELECT 'c', ST_MakeLine(ST_Point({lon}, {lat + 0.001}), ST_Point({lon + 0.003}, {lat + 0.002}))
        UNION ALL
        SELECT 'd', ST_GeomFromText('GEOMETRYCOLLECTION(POINT({lon} {lat - 0.002}),
            POLYGON(({lon} {lat - 0.003}, {lon + 0.002} {lat - 0.003}, {lon + 0.002} {lat - 0.004},
                     {lon} {lat - 0.003})))')""", tmp_path / "mixed.parquet")
    features = decode(point_tiles.points_tile(lyon, mixed, *tile_of(*CROIX_ROUSSE, 15),
                                              properties=("nom",), layer="mix"))["mix"]
    kinds = sorted((f["properties"]["nom"], f["type"]) for f in features)
    assert kinds == [("a", "Point"), ("b", "Point"), ("b", "Point"), ("c", "LineString"),
                     ("d", "Point"), ("d", "Polygon")]
