"""Benchmark of the maps: vector tiles over a France-sized referential, indicator values for
every IRIS, and the time a browser takes to draw the full-France IRIS choropleth.

Generates (deterministically, into ``bench/out/maps/``) a SYNTHETIC referential the size of
metropolitan France: about 48,000 IRIS polygons of 30-150 vertices sharing their borders
(a jittered lattice with wiggly edges, squeezed around 14 "cities" so that cells are up to
about 200 times smaller at their centres), kept inside the real departements, and communes as
unions of IRIS. Both are written as GeoPackages and imported through
``mutuelle.geo.referential.import_territories`` (the same path as ``mutuelle geo import``),
with a SYNTHETIC unemployment-rate indicator over every IRIS.

Then: tiles at zooms 6, 10 and 13 in process (``tile()``) and over HTTP (``mutuelle serve``),
cold (first request of a tile) and warm (repeats); and in headless Chromium (SwiftShader
WebGL), the time from navigation start to MapLibre's first ``idle`` with the whole-France
IRIS choropleth drawn, on a standalone page and on the observatory's map page (the latter
first on a fresh server, so that the indicator's values and the tiles are computed for it).

    uv run --group bench python bench/maps.py [--iris 48000] [--tiles 40] [--skip-browser]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "maps"
DEPARTEMENTS = Path(os.environ.get("MUTUELLE_FIXTURES", ROOT.parent / "shared" / "fixtures")) \
    / "geo" / "departements-version-simplifiee.geojson"
VINTAGE = 2024
BBOX = (-5.3, 41.3, 9.7, 51.2)  # metropolitan France with Corsica, lon/lat
# (lon, lat, squeeze 0..1, radius in degrees): the lattice is pulled towards these points.
CITIES = [
    (2.35, 48.86, 0.66, 0.48), (4.84, 45.76, 0.62, 0.32), (5.38, 43.30, 0.60, 0.32),
    (1.44, 43.60, 0.58, 0.27), (3.06, 50.63, 0.60, 0.29), (-0.58, 44.84, 0.56, 0.27),
    (-1.55, 47.22, 0.56, 0.26), (7.75, 48.58, 0.54, 0.24), (7.26, 43.71, 0.52, 0.21),
    (-1.68, 48.11, 0.50, 0.21), (3.88, 43.61, 0.50, 0.21), (5.72, 45.19, 0.48, 0.19),
    (1.10, 49.44, 0.46, 0.19), (4.03, 49.26, 0.42, 0.18),
]
TARGETS = {"warm_p50_ms": 20.0, "cold_p50_ms": 150.0, "choropleth_s": 2.0}


# -- the synthetic referential ---------------------------------------------------------------

def _unit(*key: object) -> float:
    """A deterministic number in [0, 1) for a key (edges must wiggle the same on both sides)."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def _warp(lon: float, lat: float) -> tuple[float, float]:
    """Pull a point towards the cities: a smooth one-to-one map (squeeze < 1, cities apart)."""
    dx = dy = 0.0
    for clon, clat, squeeze, radius in CITIES:
        ex, ey = (lon - clon) * math.cos(math.radians(clat)), lat - clat
        d2 = (ex * ex + ey * ey) / (radius * radius)
        if d2 < 36:
            # A dense core and a wider suburban halo; together they pull less than 1.
            pull = squeeze * math.exp(-d2) + 0.28 * math.exp(-d2 / 9)
            dx -= pull * (lon - clon)
            dy -= pull * ey
    return lon + dx, lat + dy


class Lattice:
    """A jittered, warped lattice whose cells are the IRIS; edges are shared by neighbours."""

    def __init__(self, nx: int, ny: int, seed: int) -> None:
        self.nx, self.ny, self.seed = nx, ny, seed
        west, south, east, north = BBOX
        self.nodes: dict[tuple[int, int], tuple[float, float]] = {}
        for i in range(nx + 1):
            for j in range(ny + 1):
                jx = (_unit(seed, "nx", i, j) - 0.5) * 0.44 if 0 < i < nx else 0.0
                jy = (_unit(seed, "ny", i, j) - 0.5) * 0.44 if 0 < j < ny else 0.0
                lon = west + (i + jx) / nx * (east - west)
                lat = south + (j + jy) / ny * (north - south)
                self.nodes[i, j] = _warp(lon, lat)
        self._edges: dict[tuple[int, int, int, int], list[tuple[float, float]]] = {}

    def centroid(self, i: int, j: int) -> tuple[float, float]:
        corners = [self.nodes[i, j], self.nodes[i + 1, j], self.nodes[i + 1, j + 1], self.nodes[i, j + 1]]
        return sum(c[0] for c in corners) / 4, sum(c[1] for c in corners) / 4

    def squeeze(self, i: int, j: int) -> float:
        """How many times smaller than an unwarped cell this cell is."""
        a, b, c, d = self.nodes[i, j], self.nodes[i + 1, j], self.nodes[i + 1, j + 1], self.nodes[i, j + 1]
        area = abs((c[0] - a[0]) * (d[1] - b[1]) - (d[0] - b[0]) * (c[1] - a[1])) / 2
        west, south, east, north = BBOX
        return (east - west) / self.nx * (north - south) / self.ny / max(area, 1e-12)

    def _across(self, key: tuple[int, int, int, int]) -> float:
        """Length of the shortest lattice edge leaving either end of an edge sideways."""
        i0, j0, i1, j1 = key
        di, dj = (0, 1) if j0 == j1 else (1, 0)
        lengths = []
        for i, j in ((i0, j0), (i1, j1)):
            for sign in (-1, 1):
                other = self.nodes.get((i + sign * di, j + sign * dj))
                if other is not None:
                    here = self.nodes[i, j]
                    lengths.append(math.hypot(other[0] - here[0], other[1] - here[1]))
        return min(lengths)

    def _edge(self, a: tuple[int, int], b: tuple[int, int]) -> list[tuple[float, float]]:
        """Points strictly between nodes a and b, from a to b (computed once per edge)."""
        key = (*a, *b) if a <= b else (*b, *a)
        points = self._edges.get(key)
        if points is None:
            (x0, y0), (x1, y1) = self.nodes[key[0], key[1]], self.nodes[key[2], key[3]]
            count = 6 + int(_unit(self.seed, "m", key) * 31)     # 6..36 points per edge
            amp = [(_unit(self.seed, "a", key, k) - 0.5) * 0.12 for k in range(3)]
            phase = [_unit(self.seed, "p", key, k) * 6.283 for k in range(3)]
            # The wiggle is scaled by the smaller of the edge and the cells beside it: squeezed
            # cells are slivers, and a wiggle as deep as a long edge would cross them.
            length = math.hypot(x1 - x0, y1 - y0) or 1e-12
            depth = min(length, self._across(key))
            nx, ny = -(y1 - y0) / length * depth, (x1 - x0) / length * depth
            points = []
            for step in range(1, count + 1):
                t = step / (count + 1)
                wiggle = math.sin(math.pi * t) * sum(
                    amp[k] * math.sin((k + 1) * 2 * math.pi * t + phase[k]) for k in range(3))
                points.append((x0 + (x1 - x0) * t + nx * wiggle, y0 + (y1 - y0) * t + ny * wiggle))
            self._edges[key] = points
        return points if a <= b else points[::-1]

    def ring(self, i: int, j: int) -> list[tuple[float, float]]:
        """The closed outline of cell (i, j), counter-clockwise."""
        corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
        ring: list[tuple[float, float]] = []
        for k in range(4):
            a, b = corners[k], corners[(k + 1) % 4]
            ring.append(self.nodes[a])
            ring.extend(self._edge(a, b))
        ring.append(ring[0])
        return ring


def _wkb_polygon(ring: list[tuple[float, float]]) -> bytes:
    return struct.pack(f"<BIII{2 * len(ring)}d", 1, 3, 1, len(ring),
                       *[c for point in ring for c in point])


def _inside_departements(con: Any, points: list[tuple[int, int, float, float]]) -> dict[tuple[int, int], str]:
    """Departement code of each cell centroid inside metropolitan France."""
    import pyarrow as pa

    con.register("centroids", pa.table({
        "i": [p[0] for p in points], "j": [p[1] for p in points],
        "lon": [p[2] for p in points], "lat": [p[3] for p in points]}))
    rows = con.execute(f"""
        WITH d AS (SELECT code, geom FROM ST_Read('{DEPARTEMENTS}'))
        SELECT c.i, c.j, d.code FROM centroids c JOIN d ON ST_Contains(d.geom, ST_Point(c.lon, c.lat))
    """).fetchall()
    con.unregister("centroids")
    return {(i, j): code for i, j, code in rows}


def generate(out: Path, iris: int, seed: int = 2024) -> dict[str, Any]:
    """Write ``iris.gpkg`` and ``communes.gpkg`` (same bytes for the same size and seed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mutuelle.core.config import Settings
    from mutuelle.store.duck import connect

    out.mkdir(parents=True, exist_ok=True)
    stamp = out / f"generated-{iris}-{seed}.json"
    if stamp.exists():
        return dict(json.loads(stamp.read_text()))
    started = time.perf_counter()
    # France fills about 45 % of the box; the squeeze pulls more cells inside near cities.
    side = math.sqrt(iris / 0.448)
    nx, ny = int(side * 1.05), int(side / 1.05)
    lattice = Lattice(nx, ny, seed)
    con = connect(Settings(home=out / "scratch"))
    deps = _inside_departements(con, [(i, j, *lattice.centroid(i, j))
                                      for i in range(nx) for j in range(ny)])
    cells = sorted(deps)
    # Communes: squeezed (urban) cells are grouped by blocks of 2x2 to 4x4, so cities are
    # communes of several IRIS; half the rural cells are single-IRIS communes, half go by two
    # (about 36,000 communes for 48,000 IRIS, as in France).
    communes: dict[tuple[Any, ...], list[tuple[int, int]]] = defaultdict(list)
    for i, j in cells:
        squeeze = lattice.squeeze(i, j)
        block = 1 if squeeze < 1.8 else 2 if squeeze < 5 else 3 if squeeze < 12 else 4
        if block == 1 and _unit(seed, "pair", i // 2, j) < 0.5:
            communes[deps[i, j], i // 2, j, "pair"].append((i, j))
        else:
            communes[deps[i, j], i // block, j // block, block].append((i, j))
    per_dep: dict[str, int] = defaultdict(int)
    rows: dict[str, list[Any]] = defaultdict(list)
    commune_rows: dict[str, list[Any]] = defaultdict(list)
    vertices = []
    for key in sorted(communes, key=lambda k: (k[0], min(communes[k]))):
        dep = key[0]
        per_dep[dep] += 1
        number = per_dep[dep]
        if number > 999:
            raise SystemExit(f"departement {dep} would have over 999 communes: lower --iris")
        com = f"{dep}{number:03d}"
        members = communes[key]
        commune_rows["INSEE_COM"].append(com)
        commune_rows["NOM"].append(f"Commune {com}")
        for k, (i, j) in enumerate(sorted(members)):
            ring = lattice.ring(i, j)
            vertices.append(len(ring) - 1)
            rows["CODE_IRIS"].append(f"{com}{0 if len(members) == 1 else k + 1:04d}")
            rows["NOM_IRIS"].append(f"Commune {com}" if len(members) == 1 else f"Quartier {k + 1}")
            rows["INSEE_COM"].append(com)
            rows["NOM_COM"].append(f"Commune {com}")
            rows["TYP_IRIS"].append("Z" if len(members) == 1 else "H")
            rows["POPULATION"].append(int(300 + 2000 * _unit(seed, "pop", i, j)))
            rows["wkb"].append(_wkb_polygon(ring))
    staged = out / "iris-staged.parquet"
    pq.write_table(pa.table(dict(rows)), staged)
    iris_gpkg, communes_gpkg = out / "iris.gpkg", out / "communes.gpkg"
    for path in (iris_gpkg, communes_gpkg):
        path.unlink(missing_ok=True)
    con.execute(f"""COPY (SELECT * EXCLUDE (wkb), ST_GeomFromWKB(wkb) AS geom FROM '{staged}')
                    TO '{iris_gpkg}' (FORMAT GDAL, DRIVER 'GPKG', SRS 'EPSG:4326')""")
    con.execute(f"""COPY (SELECT INSEE_COM, any_value(NOM_COM) AS NOM,
                                 ST_Union_Agg(ST_GeomFromWKB(wkb)) AS geom
                          FROM '{staged}' GROUP BY INSEE_COM ORDER BY INSEE_COM)
                    TO '{communes_gpkg}' (FORMAT GDAL, DRIVER 'GPKG', SRS 'EPSG:4326')""")
    con.close()
    staged.unlink()
    vertices.sort()
    facts = {"iris": len(cells), "communes": len(communes), "lattice": [nx, ny],
             "vertices_p5": vertices[len(vertices) // 20], "vertices_p50": vertices[len(vertices) // 2],
             "vertices_p95": vertices[len(vertices) * 19 // 20], "vertices_total": sum(vertices),
             "seconds": round(time.perf_counter() - started, 1)}
    stamp.write_text(json.dumps(facts))
    return facts


def build_referential(home: Path, out: Path, facts: dict[str, Any]) -> dict[str, Any]:
    """Import the generated communes then IRIS with ``import_territories`` (once per home)."""
    from mutuelle.catalog.db import sessions, upgrade
    from mutuelle.core.config import Settings
    from mutuelle.geo.referential import geometry_path, import_territories

    settings = Settings(home=home)
    done = home / f"imported-{facts['iris']}.json"
    if done.exists() and geometry_path(settings, VINTAGE, "iris").exists():
        return dict(json.loads(done.read_text()))
    home.mkdir(parents=True, exist_ok=True)
    upgrade(settings)
    timings: dict[str, Any] = {}
    with sessions(settings)() as session:
        for level, source in (("commune", out / "communes.gpkg"), ("iris", out / "iris.gpkg")):
            started = time.perf_counter()
            report = import_territories(session, settings, source, level=level, vintage=VINTAGE,
                                        cog=False)
            timings[level] = {"seconds": round(time.perf_counter() - started, 1),
                              "imported": report.imported, "warnings": report.warnings[:3]}
    done.write_text(json.dumps(timings))
    return timings


def make_indicator(home: Path) -> str | None:
    """A SYNTHETIC unemployment rate over every IRIS (a CSV imported like any dataset), or None
    when the observatory is not there yet."""
    try:
        from mutuelle.observatory.indicators import define_indicator
    except ImportError:
        return None
    from mutuelle.catalog import repository as repo
    from mutuelle.catalog.db import sessions
    from mutuelle.catalog.observatory_models import Indicator
    from mutuelle.core.config import Settings
    from mutuelle.geo.referential import geometry_path
    from mutuelle.ingest.service import import_file
    from mutuelle.store.duck import connect

    settings, key = Settings(home=home), "bench-chomage"
    with sessions(settings)() as session:
        if session.get(Indicator, key) is not None:
            return key
        con = connect(settings)
        codes = [r[0] for r in con.execute(
            f"SELECT code FROM read_parquet('{geometry_path(settings, VINTAGE, 'iris')}') "
            "ORDER BY code").fetchall()]
        con.close()
        csv = home / "chomage-iris.csv"
        lines = ["code_iris;chomeurs;actifs"]
        for code in codes:
            actifs = int(8 + 1500 * _unit("actifs", code))   # some under the secrecy threshold
            lines.append(f"{code};{int(actifs * (0.03 + 0.2 * _unit('taux', code)))};{actifs}")
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        org = repo.create_organisation(session, name="Banc d'essai", slug="banc")
        dataset = repo.create_dataset(session, organisation=org, title="Chômage par IRIS (synthétique)",
                                      slug="chomage-iris")
        session.commit()
        import_file(session, settings, dataset, csv)
        repo.publish_dataset(session, dataset)
        define_indicator(session, id=key, label="Taux de chômage (synthétique)",
                         dataset="chomage-iris", numerator="chomeurs", denominator="actifs",
                         code_column="code_iris", scale=100, unit="%", vintage=VINTAGE)
        session.commit()
    return key


# -- measures --------------------------------------------------------------------------------

def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def sample_tiles(settings: Any, count: int, seed: int = 7) -> dict[int, list[tuple[int, int, int]]]:
    """Zoom 6: every tile over France. Zooms 10 and 13: tiles around IRIS picked at random
    (so, like map users, more often in cities), distinct."""
    from mutuelle.geo.referential import geometry_path
    from mutuelle.store.duck import connect

    con = connect(settings)
    centres = con.execute(
        f"SELECT (xmin + xmax) / 2, (ymin + ymax) / 2 FROM "
        f"read_parquet('{geometry_path(settings, VINTAGE, 'iris')}') ORDER BY code").fetchall()
    con.close()
    rng = random.Random(seed)
    out: dict[int, list[tuple[int, int, int]]] = {
        6: sorted({_tile_of(lon, lat, 6) for lon, lat in centres})}
    for z in (10, 13):
        picked: list[tuple[int, int, int]] = []
        while len(picked) < count:
            place = _tile_of(*rng.choice(centres), z)
            if place not in picked:
                picked.append(place)
        out[z] = picked
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _row(label: str, samples: list[float], extra: str = "") -> dict[str, Any]:
    p50, p95 = statistics.median(samples), _pct(samples, 0.95)
    print(f"  {label:<34} n={len(samples):<4} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   "
          f"max {max(samples):8.1f} ms {extra}")
    return {"n": len(samples), "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
            "max_ms": round(max(samples), 2)}


def in_process(home: Path, places: dict[int, list[tuple[int, int, int]]], indicator: str | None,
               warm_repeats: int) -> dict[str, Any]:
    """``tile()`` called in this process: cold (cache cleared before each tile) and warm."""
    from mutuelle.catalog.db import sessions
    from mutuelle.core.config import Settings
    from mutuelle.geo import tiles

    settings = Settings(home=home)
    results: dict[str, Any] = {}
    started = time.perf_counter()
    tiles.warm(settings, VINTAGE, "iris")
    results["load_referential_s"] = round(time.perf_counter() - started, 2)
    print(f"  referential loaded into DuckDB (once per process): {results['load_referential_s']} s")
    values = None
    if indicator:
        from mutuelle.catalog.observatory_models import Indicator
        from mutuelle.observatory import compute

        with sessions(settings)() as session:
            ind = session.get(Indicator, indicator)
            timings = []
            for run in range(3):
                if run == 0:
                    compute.clear_cache()
                started = time.perf_counter()
                found = compute.indicator_values(session, settings, ind, "iris", vintage=VINTAGE)
                timings.append((time.perf_counter() - started) * 1000)
            values = compute.as_tile_values(found)
        statuses = defaultdict(int)
        for _, status in values.values():
            statuses[status] += 1
        print(f"  indicator_values(all {len(values)} IRIS): first {timings[0]:.0f} ms, "
              f"then {min(timings[1:]):.1f} ms (statuses {dict(statuses)})")
        results["indicator_values_ms"] = {"cold": round(timings[0], 1), "warm": round(min(timings[1:]), 1)}
    for with_values in ([False, True] if values else [False]):
        for z, chosen in places.items():
            cold, warm, features, sizes = [], [], [], []
            for place in chosen:
                tiles.clear_cache()
                started = time.perf_counter()
                # The key the API gives with an indicator's values (they are prepared once).
                made = tiles.tile_with_etag(settings, VINTAGE, "iris", *place,
                                            values=values if with_values else None,
                                            values_key=f"bench-{indicator}-iris")
                cold.append((time.perf_counter() - started) * 1000)
                features.append(made.features)
                sizes.append(len(made.data))
                for _ in range(warm_repeats):
                    started = time.perf_counter()
                    tiles.tile_with_etag(settings, VINTAGE, "iris", *place,
                                         values=values if with_values else None,
                                         values_key=f"bench-{indicator}-iris")
                    warm.append((time.perf_counter() - started) * 1000)
            what = f"z{z}{' +values' if with_values else ''}"
            facts = (f"features p50 {statistics.median(features):.0f} max {max(features)}, "
                     f"bytes p50 {statistics.median(sizes) / 1024:.0f} KiB max {max(sizes) / 1024:.0f} KiB")
            results[what] = {"cold": _row(f"{what} cold", cold, facts),
                             "warm": _row(f"{what} warm", warm)}
    return results


# -- over HTTP -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(base: str, path: str, timeout: float = 120) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, body, (time.perf_counter() - started) * 1000


class Server:
    """``mutuelle serve`` on a free port, in its own process group, stopped by ``stop()``."""

    def __init__(self, home: Path, *, warm_up: bool = True) -> None:
        self.home = home
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started = time.monotonic()
        env = {**os.environ, "MUTUELLE_HOME": str(home), "MUTUELLE_LOG_LEVEL": "INFO"}
        env.pop("MUTUELLE_WARM_UP", None)
        cmd = [str(Path(sys.executable).parent / "mutuelle"), "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--warm-up" if warm_up else "--no-warm-up"]
        self.log = OUT / "server-serve.log"
        with open(self.log, "wb") as handle:
            self.proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server stopped: see {self.log}")
            try:
                if _get(self.base, "/", timeout=5)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer in 120 s: see {self.log}")

    def warmed_up(self, timeout: float = 600) -> float:
        """Wait for the end of the warm-up; seconds since the server was started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"warm_up " in self.log.read_bytes():
                return time.monotonic() - self.started
            time.sleep(0.2)
        raise SystemExit(f"no end of warm-up in {timeout} s: see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


def over_http(server: Server, places: dict[int, list[tuple[int, int, int]]], indicator: str | None,
              warm_repeats: int) -> dict[str, Any]:
    """First request of each tile (cold: nothing cached for it) then repeats (warm)."""
    results: dict[str, Any] = {}
    status, _, ms = _get(server.base, f"/tiles/iris/0/0/0.mvt?vintage={VINTAGE}")
    results["first_tile_after_start_ms"] = round(ms, 1)
    print(f"  first tile after start (loads the referential): {ms:.0f} ms (HTTP {status})")
    suffixes = [f"?vintage={VINTAGE}"]
    if indicator:
        for run in ("first", "again"):
            status, body, ms = _get(server.base, f"/api/indicators/{indicator}/values?level=iris"
                                                 f"&vintage={VINTAGE}")
            print(f"  GET /api/indicators/{indicator}/values?level=iris ({run}): {ms:.0f} ms, "
                  f"HTTP {status}, {len(body) / 1e6:.1f} MB")
            results[f"values_endpoint_{run}_ms"] = round(ms, 1)
        suffixes.append(f"?vintage={VINTAGE}&indicator={indicator}")
    for suffix in suffixes:
        for z, chosen in places.items():
            cold, warm = [], []
            for place in chosen:
                path = "/tiles/iris/{}/{}/{}.mvt".format(*place) + suffix
                status, _, ms = _get(server.base, path)
                if status not in (200, 204):
                    raise SystemExit(f"{path}: HTTP {status}")
                cold.append(ms)
                for _ in range(warm_repeats):
                    warm.append(_get(server.base, path)[2])
            what = f"z{z}{' +indicator' if 'indicator' in suffix else ''}"
            results[what] = {"cold": _row(f"{what} cold (HTTP)", cold),
                             "warm": _row(f"{what} warm (HTTP)", warm)}
    return results


# -- in the browser --------------------------------------------------------------------------

# Breaks of the synthetic rate (3 % to 23 %), colour-blind-safe sequential palette (viridis).
BREAKS, COLOURS = [7, 11, 15, 19], ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
STANDALONE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Banc d'essai : carte IRIS</title>
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<style>html, body, #map { margin: 0; height: 100%; }</style></head>
<body><div id="map"></div>
<script type="module">
import { Map } from "/static/vendor/maplibre-gl/maplibre-gl.mjs";
window.__started = performance.now();
const indicator = new URLSearchParams(location.search).get("indicator");
const tiles = `${location.origin}/tiles/iris/{z}/{x}/{y}.mvt?vintage=VINTAGE` +
  (indicator ? `&indicator=${indicator}` : "");
const colour = indicator
  ? ["match", ["get", "status"], "secret", "#8c8c8c", "no_data", "#ffffff", STEP_VALUE]
  : STEP_CODE;
const map = new Map({
  container: "map", attributionControl: false,
  bounds: [[-5.2, 41.3], [9.6, 51.1]], fitBoundsOptions: { padding: 8 },
  style: { version: 8,
    sources: { iris: { type: "vector", tiles: [tiles], minzoom: 0, maxzoom: 14 } },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#dfe4ea" } },
      { id: "fill", type: "fill", source: "iris", "source-layer": "iris",
        paint: { "fill-color": colour } }] } });
map.once("idle", () => {
  const drawn = performance.now();
  const rendered = map.queryRenderedFeatures({ layers: ["fill"] });
  window.__bench = {
    drawn, started: window.__started, zoom: map.getZoom(),
    features: new Set(rendered.map((f) => f.properties.code)).size,
  };
});
</script></body></html>"""


def _standalone_html() -> str:
    step_value: list[Any] = ["step", ["get", "value"], COLOURS[0]]
    for limit, colour in zip(BREAKS, COLOURS[1:], strict=True):
        step_value += [limit, colour]
    step_code: list[Any] = ["step", ["%", ["to-number", ["slice", ["get", "code"], 2, 5]], 100],
                            COLOURS[0], 20, COLOURS[1], 40, COLOURS[2], 60, COLOURS[3], 80, COLOURS[4]]
    html = STANDALONE.replace("VINTAGE", str(VINTAGE))
    return html.replace("STEP_VALUE", json.dumps(step_value)).replace("STEP_CODE", json.dumps(step_code))


def in_browser(server: Server, indicator: str | None, runs: int) -> dict[str, Any]:
    """Milliseconds from navigation start to the map's first ``idle`` with every tile of the
    full-France view drawn: our standalone page, then the observatory's map page if served."""
    from playwright.sync_api import sync_playwright

    page_path = OUT / "map-bench.html"
    page_path.write_text(_standalone_html(), encoding="utf-8")
    url = f"{server.base}/bench/map.html" + (f"?indicator={indicator}" if indicator else "")
    results: dict[str, Any] = {"standalone": [], "observatory_page": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("MUTUELLE_CHROMIUM", "/usr/bin/chromium"), headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"])
        try:
            for run in range(runs):
                # A fresh context each time: nothing in the browser cache; the server's tile
                # cache is cold on the first run only.
                facts = _standalone_run(browser, server, url, page_path)
                results["standalone"].append(facts)
                print(f"  standalone page, run {run + 1} ({'cold' if run == 0 else 'warm'} server "
                      f"cache): drawn at {facts['drawn']:.0f} ms after navigation start "
                      f"(MapLibre loaded {facts['started']:.0f} ms; {facts['tiles']} tiles of zoom "
                      f"{int(facts['zoom'])}, {facts['bytes'] / 1e6:.1f} MB, requested from "
                      f"{facts['first_tile']:.0f} ms, all received {facts['last_tile']:.0f} ms; "
                      f"{facts['features']} distinct IRIS rendered; CPU used: browser "
                      f"{facts['cpu_browser_s']:.1f} s, server {facts['cpu_server_s']:.1f} s; "
                      f"load average {os.getloadavg()[0]:.1f})")
            if indicator:
                print("  observatory map page, on this server (warm):")
                results["observatory_page"] = _observatory_page(browser, server, indicator, runs)
                for warm_up in (False, True):
                    fresh = Server(server.home, warm_up=warm_up)
                    try:
                        if warm_up:
                            waited = fresh.warmed_up()
                            print(f"  observatory map page, first visit on a fresh server after "
                                  f"its warm-up ({waited:.1f} s after start):")
                        else:
                            print("  observatory map page, first visit on a fresh server "
                                  "without warm-up (values and contours computed for it):")
                        key = "observatory_page_" + ("warmed_up" if warm_up else "cold")
                        results[key] = _observatory_page(browser, fresh, indicator, 1, check=False)
                    finally:
                        fresh.stop()
        finally:
            browser.close()
    return results


def _cpu_seconds(server: Server) -> tuple[float, float]:
    """CPU seconds (user + system) used so far by the browser (every other process under this
    one) and by the server's process tree."""
    import psutil

    def tree(root: psutil.Process) -> list[psutil.Process]:
        return [root, *root.children(recursive=True)]

    def used(processes: list[psutil.Process]) -> float:
        total = 0.0
        for proc in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += sum(proc.cpu_times()[:2])
        return total

    server_tree = tree(psutil.Process(server.proc.pid))
    server_pids = {p.pid for p in server_tree}
    others = [p for p in psutil.Process().children(recursive=True) if p.pid not in server_pids]
    return used(others), used(server_tree)


def _standalone_run(browser: Any, server: Server, url: str, page_path: Path) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.route(f"{server.base}/bench/map.html*", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", path=str(page_path)))
    fetched: list[tuple[float, float, int]] = []   # tile request start, end (ms), bytes
    started = time.perf_counter()

    def done(request: Any) -> None:
        if ".mvt" in request.url:
            ended = (time.perf_counter() - started) * 1000
            fetched.append((ended - request.timing["responseEnd"], ended,
                            request.sizes()["responseBodySize"]))

    page.on("requestfinished", done)
    before = _cpu_seconds(server)
    try:
        page.goto(url)
        page.wait_for_function("window.__bench !== undefined", timeout=300_000)
        facts: dict[str, Any] = page.evaluate("window.__bench")
    finally:
        after = _cpu_seconds(server)
        context.close()
    facts.update(cpu_browser_s=after[0] - before[0], cpu_server_s=after[1] - before[1])
    facts.update(tiles=len(fetched), bytes=sum(f[2] for f in fetched),
                 first_tile=min((f[0] for f in fetched), default=0),
                 last_tile=max((f[1] for f in fetched), default=0))
    return facts


def _observatory_page(browser: Any, server: Server, indicator: str, runs: int, *,
                      check: bool = True) -> list[dict[str, Any]]:
    """The real map page (``/observatoire/carte``), timed until it marks itself ready, with
    the marks map.js leaves on the way (script started, style loaded)."""
    path = f"/observatoire/carte?indicator={indicator}&level=iris"
    if check:  # (not on a fresh server: it would compute what the first visit must)
        status = _get(server.base, path)[0]
        if status != 200:
            print(f"  observatory map page: HTTP {status} at {path}, not measured")
            return []
    out = []
    for run in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.add_init_script("""
            new MutationObserver((_, observer) => {
              const root = document.querySelector("[data-observatory]");
              if (root && root.dataset.ready === "1") {
                window.__ready = performance.now(); observer.disconnect();
              }
            }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
        """)
        tiles: list[str] = []
        page.on("requestfinished", lambda r, seen=tiles: seen.append(r.url) if ".mvt" in r.url else None)
        try:
            page.goto(server.base + path)
            page.wait_for_function("window.__ready !== undefined", timeout=300_000)
            facts = page.evaluate("""() => {
                const nav = performance.getEntriesByType("navigation")[0];
                const mark = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
                return {ready: window.__ready, html: nav.responseEnd, bytes: nav.encodedBodySize,
                        script: mark("observatory:start"), style: mark("observatory:style-loaded")};
            }""")
            facts["tiles"] = len(tiles)
            print(f"    run {run + 1}: ready at {facts['ready']:.0f} ms (HTML of "
                  f"{facts['bytes'] / 1e3:.0f} kB received at {facts['html']:.0f} ms, map.js "
                  f"started {facts['script'] or 0:.0f} ms, style loaded {facts['style'] or 0:.0f} "
                  f"ms, {facts['tiles']} tiles; load average {os.getloadavg()[0]:.1f})")
            out.append(facts)
        except Exception as exc:  # noqa: BLE001 - a page still being built is reported, not fatal
            print(f"  observatory map page, run {run + 1}: not ready ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0]})")
        finally:
            context.close()
    return out


# -- report ----------------------------------------------------------------------------------

def _verdict(value: float, target: float) -> str:
    return f"{'OK  ' if value <= target else 'MISS'} ({value:.1f} vs ≤ {target:g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iris", type=int, default=48000, help="IRIS to generate")
    parser.add_argument("--tiles", type=int, default=40, help="tiles sampled at zooms 10 and 13")
    parser.add_argument("--warm", type=int, default=5, help="warm repeats per tile")
    parser.add_argument("--runs", type=int, default=3, help="browser runs")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()

    from mutuelle.core.config import Settings

    home = OUT / "home"
    print(f"== synthetic referential ({args.iris} IRIS wanted) ==")
    facts = generate(OUT, args.iris)
    print(f"  {facts['iris']} IRIS, {facts['communes']} communes; vertices per IRIS p5 "
          f"{facts['vertices_p5']}, p50 {facts['vertices_p50']}, p95 {facts['vertices_p95']} "
          f"({facts['vertices_total'] / 1e6:.1f} M in all); generated in {facts['seconds']} s")
    imported = build_referential(home, OUT, facts)
    for level, info in imported.items():
        print(f"  import_territories({level}): {info['imported']} in {info['seconds']} s")
    indicator = make_indicator(home)
    print(f"  indicator: {indicator or 'none (mutuelle.observatory missing)'}")
    places = sample_tiles(Settings(home=home), args.tiles)
    report: dict[str, Any] = {"facts": facts, "import": imported, "tiles": {
        z: len(p) for z, p in places.items()}}

    print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(other work on the machine slows every figure below)")
    print("\n== tiles in process (tile(); cold = cache cleared before each tile) ==")
    report["in_process"] = in_process(home, places, indicator, args.warm)

    print(f"\n== tiles over HTTP (load average {os.getloadavg()[0]:.1f}) ==")
    server = Server(home, warm_up=False)
    try:
        print("  served by `mutuelle serve --no-warm-up` (cold means cold)")
        report["http"] = over_http(server, places, indicator, args.warm)
        if not args.skip_browser:
            print("\n== full-France IRIS choropleth in headless Chromium (SwiftShader WebGL) ==")
            report["browser"] = in_browser(server, indicator, args.runs)
    finally:
        server.stop()
    _summary(report)
    (OUT / "report.json").write_text(json.dumps(report, indent=1, default=str))


def _summary(report: dict[str, Any]) -> None:
    print("\n== targets ==")
    for where in ("in_process", "http"):
        for key, row in report.get(where, {}).items():
            if key.startswith("z"):
                print(f"  {where:<10} {key:<15} warm p50 "
                      f"{_verdict(row['warm']['p50_ms'], TARGETS['warm_p50_ms'])}   cold p50 "
                      f"{_verdict(row['cold']['p50_ms'], TARGETS['cold_p50_ms'])}")
    runs = report.get("browser", {}).get("standalone", [])
    if runs:
        cold, warm = runs[0]["drawn"] / 1000, min(r["drawn"] for r in runs[1:] or runs) / 1000
        print(f"  choropleth drawn (standalone page), cold server cache {_verdict(cold, TARGETS['choropleth_s'])} s")
        print(f"  choropleth drawn (standalone page), warm server cache {_verdict(warm, TARGETS['choropleth_s'])} s")
    browser = report.get("browser", {})
    for key, label in (("observatory_page", "warm server, best run"),
                       ("observatory_page_warmed_up", "fresh server after warm-up"),
                       ("observatory_page_cold", "fresh server, no warm-up")):
        if browser.get(key):
            best = min(p["ready"] for p in browser[key]) / 1000
            print(f"  observatory map page ready, {label:<27} {_verdict(best, TARGETS['choropleth_s'])} s")


if __name__ == "__main__":
    main()
