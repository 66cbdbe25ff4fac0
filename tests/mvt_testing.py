"""How tests read vector tiles: a minimal MVT reader (the protobuf wire format and the fields
of the MVT 2.1 spec), written here rather than taken from the library that wrote the tiles."""

from __future__ import annotations

import math
import struct
from typing import Any

EXTENT = 4096


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


def lonlat(place: tuple[int, int, int], point: tuple[int, int]) -> tuple[float, float]:
    """Longitude and latitude of a point in the tile units of tile ``place`` (z, x, y)."""
    z, x, y = place
    n = 1 << z
    tx, ty = x + point[0] / EXTENT, y + point[1] / EXTENT
    return tx / n * 360 - 180, math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))
