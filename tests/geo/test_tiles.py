"""Vector tiles of the referential: content (decoded here with a small protobuf reader, not
with the library that wrote them), zoom-dependent geometries, values, validation, cache."""

from __future__ import annotations

import math
import struct
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

VINTAGE = 2012
# Canuts-d'Enfert Rochereau (Lyon 4e): the z12 tile holding it is in the middle of Lyon.
CROIX_ROUSSE = (4.8275, 45.7785)


# -- a minimal MVT reader (protobuf wire format, the fields of the MVT 2.1 spec) ----------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((number, value))
    return out


def _packed(buf: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(buf):
        value, pos = _varint(buf, pos)
        values.append(value)
    return values


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(buf: bytes) -> Any:
    number, raw = _fields(buf)[0]
    if number == 1:
        return raw.decode()
    if number == 2:
        return struct.unpack("<f", raw)[0]
    if number == 3:
        return struct.unpack("<d", raw)[0]
    if number == 6:
        return _zigzag(raw)
    if number == 7:
        return bool(raw)
    return raw


def _rings(commands: list[int]) -> list[list[tuple[int, int]]]:
    rings: list[list[tuple[int, int]]] = []
    x = y = i = 0
    while i < len(commands):
        command, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if command == 7:   # ClosePath
            continue
        if command == 1:   # MoveTo starts a ring
            rings.append([])
        for _ in range(count):
            x, y = x + _zigzag(commands[i]), y + _zigzag(commands[i + 1])
            rings[-1].append((x, y))
            i += 2
    return rings


def decode(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Layers of a tile: name -> features {type, properties, rings}."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for number, layer_buf in _fields(data):
        assert number == 3, "a tile holds layers only"
        fields = _fields(layer_buf)
        assert dict(fields).get(15) == 2, "MVT version 2"
        keys = [v.decode() for n, v in fields if n == 3]
        values = [_value(v) for n, v in fields if n == 4]
        features = []
        for n, feature_buf in fields:
            if n == 2:
                f = _fields(feature_buf)
                tags = [t for n2, v in f if n2 == 2 for t in _packed(v)]
                geometry = [c for n2, v in f if n2 == 4 for c in _packed(v)]
                features.append({
                    "type": {1: "Point", 2: "LineString", 3: "Polygon"}[dict(f)[3]],
                    "properties": {keys[tags[j]]: values[tags[j + 1]] for j in range(0, len(tags), 2)},
                    "rings": _rings(geometry)})
        layers[next(v.decode() for n, v in fields if n == 1)] = features
    return layers


def shoelace(ring: list[tuple[int, int]]) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


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
    assert by_code["693840302"]["properties"] == {"code": "693840302",
                                                  "name": "Canuts-d'Enfert Rochereau"}
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


def test_a_points_tile_refuses_unknown_or_reserved_columns(lyon: Settings, points: Path) -> None:
    place = tile_of(*CROIX_ROUSSE, 12)
    with pytest.raises(InvalidInput, match="salaire"):
        point_tiles.points_tile(lyon, points, *place, properties=("salaire",))
    with pytest.raises(InvalidInput, match="count"):
        point_tiles.points_tile(lyon, points, *place, properties=("count",))
    with pytest.raises(InvalidInput, match="x and y"):
        point_tiles.points_tile(lyon, points, 3, 9, 0)
    with pytest.raises(NotFound):
        point_tiles.points_tile(lyon, points.with_name("missing.parquet"), *place)
