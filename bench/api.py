"""Benchmark of the query API: mutuelle's Explore v2.1 over HTTP, DuckDB in process, Datasette.

One run, side by side, on the same job-offers data (the generator of ``bench/ingest.py``):

1. the CSV is imported with ``mutuelle import`` into a fresh ``MUTUELLE_HOME`` under
   ``bench/out/`` and served by ``mutuelle serve`` (127.0.0.1, a free port), answers from
   memory turned off (``MUTUELLE_ANSWER_CACHE_MIB=0``): every call is a cold query;
2. the same CSV is loaded into SQLite (``sqlite3.executemany`` in one transaction), once
   without index (Datasette's default) and once with indexes on the filtered columns, and
   served by ``datasette serve`` (127.0.0.1, a free port);
3. each query runs N times after a warm-up, sequentially, over one keep-alive httpx client
   per server (or in process for DuckDB), the contenders interleaved request by request so
   that a busy machine slows them alike: p50 and p95 in ms, ratios, targets and verdicts.
   Two DuckDB contenders: the **plain floor** (a persistent connection running the very SQL
   the API runs, from ``mutuelle.query.records``, on the same file: the reference of the
   targets) and the bench's own SQL (``SELECT * REPLACE (ST_AsGeoJSON...)`` and a count);
4. the full CSV export is streamed while the server's RSS is sampled every 20 ms;
5. ``mutuelle serve --workers 2`` with answers from memory: repeated queries (wall and the
   server's own time, from ``Server-Timing``), what an API key and a signed-in session add to a
   call, and the load test: ``--load-clients`` concurrent clients for ``--load-seconds`` on a
   mix of records, facets, aggregates and tiles (80 % repeated), against Datasette on the
   same mix (a bounding-box query in place of tiles).

    uv run --group bench python bench/api.py [--rows N] [--repeat 30] [--big]

``--big`` then also runs the facets, the group_by and the export at 10,000,000 rows
(mutuelle API against DuckDB only), the CSV being written by DuckDB itself from range().
Every subprocess is stopped on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from ingest import COMMUNES, CONTRATS, HEADER, ROME, generate  # noqa: E402

from mutuelle.store.duck import spatial_extension_path  # noqa: E402

BIN = Path(sys.executable).parent
DATASET = "offres"
EXPLORE = f"/api/explore/v2.1/catalog/datasets/{DATASET}"
WHERE_EQ = 'code_rome="K2204"'
WHERE_RANGE = "salaire_min >= 1800 and salaire_min < 2200"
SERVER_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    "memory_limit": "1GB", "threads": 2}  # mutuelle's defaults, used in process too
DATASETTE_SETTINGS = {  # raised so that Datasette answers instead of timing out or truncating
    "sql_time_limit_ms": "60000",   # default 1000
    "facet_time_limit_ms": "60000",  # default 200
    "max_csv_mb": "0",               # default 100 (the export would be cut)
    "suggest_facets": "off",         # default on: up to 50 ms per column on every table page
}
MB = 1e6


# --- data --------------------------------------------------------------------------------------

def csv_file(rows: int) -> Path:
    """The job-offers CSV of ``bench/ingest.py`` (cp1252, ';', decimal comma), made once."""
    path = OUT / f"offres_{rows}.csv"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        generate(path, rows)
    return path


def _sql_list(values: list[Any]) -> str:
    return "[" + ", ".join(repr(v) if isinstance(v, (int, float)) else
                           "'" + str(v).replace("'", "''") + "'" for v in values) + "]"


def csv_file_duckdb(rows: int) -> Path:
    """The same shape, written by DuckDB from range() (UTF-8, ';', decimal comma): fast for 10M."""
    path = OUT / f"offres_{rows}_duckdb.csv"
    if path.exists():
        return path
    print(f"generating {path.name} with DuckDB ...", flush=True)
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    codes, labels = [c for c, _ in ROME], [lbl for _, lbl in ROME]
    communes = [c for c, _, _ in COMMUNES]
    lats, lons = [la for _, la, _ in COMMUNES], [lo for _, _, lo in COMMUNES]
    con = duckdb.connect(config=SERVER_SETTINGS)
    con.execute(f"""
        COPY (
          SELECT i AS id,
                 strftime(make_date(2020 + (hash(i, 3) % 5)::INT, 1 + (hash(i, 2) % 12)::INT,
                                    1 + (hash(i, 1) % 28)::INT), '%d/%m/%Y') AS date_publication,
                 {_sql_list(codes)}[r] AS code_rome, {_sql_list(labels)}[r] AS libelle,
                 {_sql_list(communes)}[c] AS code_commune,
                 replace(printf('%.6f', {_sql_list(lats)}[c]
                         + (hash(i, 6) % 40001)::DOUBLE / 1e6 - 0.02), '.', ',') AS latitude,
                 replace(printf('%.6f', {_sql_list(lons)}[c]
                         + (hash(i, 7) % 40001)::DOUBLE / 1e6 - 0.02), '.', ',') AS longitude,
                 replace(printf('%.2f', 1400 + (hash(i, 8) % 250000)::DOUBLE / 100), '.', ',')
                     AS salaire_min,
                 {_sql_list(CONTRATS)}[1 + (hash(i, 9) % 5)::INT] AS type_contrat
          FROM (SELECT i, 1 + (hash(i, 4) % 12)::INT AS r, 1 + (hash(i, 5) % 12)::INT AS c
                FROM range(1, {rows} + 1) t(i))
          ORDER BY id
        ) TO '{tmp}' (FORMAT csv, DELIMITER ';', HEADER true)""")
    con.close()
    with open(tmp, "rb") as f:
        assert f.readline().decode().strip() == HEADER, "header differs from bench/ingest.py"
    os.replace(tmp, path)
    print(f"  {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def mutuelle_import(source: Path, home: Path) -> tuple[Path, float]:
    """``mutuelle import`` into a fresh home; the version's Parquet file and the import time."""
    if home.exists():
        shutil.rmtree(home)
    env = {**os.environ, "MUTUELLE_HOME": str(home)}
    print(f"mutuelle import {source.name} -> {home.relative_to(HERE.parent)} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "mutuelle"), "import", str(source), "--dataset", DATASET,
                           "--title", "Offres d'emploi (synthetic)"], env=env,
                          capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"mutuelle import failed:\n{done.stdout}\n{done.stderr}")
    found = sorted((home / "store").glob("datasets/*/v1/data.parquet"))
    if len(found) != 1:
        raise SystemExit(f"expected one Parquet version under {home}, found {found}")
    print(f"  imported in {seconds:.1f} s", flush=True)
    return found[0], seconds


def _sqlite_rows(source: Path):  # type: ignore[no-untyped-def]
    with open(source, encoding="cp1252", newline="") as f:
        reader = csv.reader(f, delimiter=";")
        next(reader)
        for r in reader:
            d = r[1]
            yield (int(r[0]), f"{d[6:10]}-{d[3:5]}-{d[0:2]}", r[2], r[3], r[4],
                   float(r[5].replace(",", ".")), float(r[6].replace(",", ".")),
                   float(r[7].replace(",", ".")), r[8])


def sqlite_load(source: Path, plain: Path, indexed: Path) -> dict[str, float]:
    """The CSV into SQLite with typed columns (id the rowid), then a copy with indexes."""
    timings: dict[str, float] = {}
    for path in (plain, indexed, plain.with_suffix(".tmp")):
        path.unlink(missing_ok=True)
    print(f"loading {source.name} into SQLite ...", flush=True)
    started = time.perf_counter()
    tmp = plain.with_suffix(".tmp")
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    con.execute("CREATE TABLE offres (id INTEGER PRIMARY KEY, date_publication TEXT, "
                "code_rome TEXT, libelle TEXT, code_commune TEXT, latitude REAL, longitude REAL, "
                "salaire_min REAL, type_contrat TEXT)")
    with con:
        con.executemany("INSERT INTO offres VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _sqlite_rows(source))
    con.close()
    os.replace(tmp, plain)
    timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    shutil.copyfile(plain, tmp)
    con = sqlite3.connect(tmp)
    for col in ("code_rome", "salaire_min", "type_contrat"):
        con.execute(f"CREATE INDEX offres_{col} ON offres ({col})")
    con.commit()
    con.close()
    os.replace(tmp, indexed)
    timings["index"] = time.perf_counter() - started
    print(f"  loaded in {timings['load']:.1f} s, indexes in {timings['index']:.1f} s", flush=True)
    return timings


# --- servers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    base: str
    log: Path

    def rss(self) -> int:
        """RSS of the server and its children, in bytes (0 once gone)."""
        try:
            root = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        """CPU (user + system, all threads) used so far by the server and its children."""
        try:
            root = psutil.Process(self.proc.pid)
            return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session, started by us
            self.proc.wait(10)


def start_server(name: str, cmd: list[str], env: dict[str, str], port: int, probe: str,
                 running: list[Server], timeout: float = 120) -> Server:
    log = OUT / f"{name}.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(name, proc, f"http://127.0.0.1:{port}", log)
    running.append(server)  # stopped by the caller's finally, even if it never answers
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base + probe, timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def start_mutuelle(home: Path, running: list[Server], *, workers: int = 1, cache: bool = False,
                   name: str = "mutuelle") -> Server:
    """``mutuelle serve`` on ``home``: answers from memory off (cold queries) unless ``cache``."""
    port = free_port()
    env = {**os.environ, "MUTUELLE_HOME": str(home), "MUTUELLE_LOG_LEVEL": "WARNING",
           "MUTUELLE_ANSWER_CACHE_MIB": "64" if cache else "0"}
    return start_server(name, [str(BIN / "mutuelle"), "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", str(workers), "--no-warm-up"],
                        env, port, EXPLORE, running)


def start_datasette(dbs: list[Path], running: list[Server]) -> Server:
    port = free_port()
    inspect = OUT / "datasette-inspect.json"
    subprocess.run([str(BIN / "datasette"), "inspect", *map(str, dbs), "--inspect-file",
                    str(inspect)], check=True, timeout=600, capture_output=True)
    cmd = [str(BIN / "datasette"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--inspect-file", str(inspect)]
    for db in dbs:
        cmd += ["-i", str(db)]
    for key, value in DATASETTE_SETTINGS.items():
        cmd += ["--setting", key, value]
    return start_server("datasette", cmd, dict(os.environ), port, f"/{dbs[0].stem}.json", running)


# --- measuring ---------------------------------------------------------------------------------

@dataclass
class Timing:
    samples: list[float] = field(default_factory=list)  # wall seconds, one per call
    cpu: float = 0.0  # CPU seconds of the process doing the work, summed over the calls

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000

    @property
    def cpu_ms(self) -> float:
        """Mean CPU per call, all threads (server side for HTTP): steadier than wall time on
        a busy machine, since other processes' load does not count."""
        return self.cpu / len(self.samples) * 1000


@dataclass
class Contender:
    call: Callable[[], Any]
    cpu_seconds: Callable[[], float]  # cumulative CPU of the process doing the work


def measure(calls: dict[str, Contender], repeat: int, warmup: int
            ) -> tuple[dict[str, Timing], dict[str, Any]]:
    """Each call run ``warmup`` then ``repeat`` times, interleaved (one of each in turn, so that
    a busy machine slows every contender alike); their timings and last answers."""
    answers: dict[str, Any] = {}
    timings = {name: Timing() for name in calls}
    for _ in range(warmup):
        for name, c in calls.items():
            answers[name] = c.call()
    for _ in range(repeat):
        for name, c in calls.items():
            cpu = c.cpu_seconds()
            started = time.perf_counter()
            answers[name] = c.call()
            timings[name].samples.append(time.perf_counter() - started)
            timings[name].cpu += c.cpu_seconds() - cpu
    return timings, answers


def http_call(client: httpx.Client, server: Server, path: str,
              params: Any) -> Contender:
    query = httpx.QueryParams(params)

    def call() -> bytes:
        response = client.get(path, params=query)
        if response.status_code != 200:
            raise SystemExit(f"GET {response.url} -> {response.status_code}: {response.text[:500]}")
        return response.content
    return Contender(call, server.cpu_seconds)


def duck_call(con: duckdb.DuckDBPyConnection, sqls: list[str]) -> Contender:
    def call() -> list[list[tuple]]:
        return [con.execute(sql).fetchall() for sql in sqls]
    return Contender(call, time.process_time)  # this process: DuckDB's threads and ours


class RssSampler:
    """Peak RSS of a server, sampled every ``interval`` seconds in a thread."""

    def __init__(self, server: Server, interval: float = 0.02) -> None:
        self.server, self.interval = server, interval
        self.peak, self.samples = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss())
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@dataclass
class Export:
    who: str
    nbytes: int
    rows: int
    seconds: float
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    server_cpu: float = 0.0  # CPU seconds of the server during the export
    client_cpu: float = 0.0  # CPU seconds of this process (the httpx client) during it

    @property
    def mb_s(self) -> float:
        return self.nbytes / MB / self.seconds

    @property
    def growth_mib(self) -> float:
        return (self.rss_peak - self.rss_before) / 2**20


def http_export(client: httpx.Client, server: Server, path: str, params: dict[str, str],
                rows: int) -> Export:
    """Stream the export to nowhere, counting bytes, with the server's RSS sampled."""
    time.sleep(0.5)
    before = server.rss()
    nbytes, newlines = 0, 0
    cpu_server, cpu_client = server.cpu_seconds(), time.process_time()
    with RssSampler(server) as sampler:
        started = time.perf_counter()
        with client.stream("GET", path, params=params,
                           headers={"Accept-Encoding": "identity"}) as response:
            if response.status_code != 200:
                raise SystemExit(f"export {response.url} -> {response.status_code}")
            for chunk in response.iter_raw(1 << 20):
                nbytes += len(chunk)
                newlines += chunk.count(b"\n")
        seconds = time.perf_counter() - started
    cpu_server, cpu_client = server.cpu_seconds() - cpu_server, time.process_time() - cpu_client
    time.sleep(0.5)
    data_rows = newlines - 1  # less the header; no field holds a newline here
    if data_rows != rows:
        print(f"  warning: {server.name} export has {data_rows:,} lines of data, expected {rows:,}")
    return Export(server.name, nbytes, data_rows, seconds, before, max(sampler.peak, before),
                  server.rss(), cpu_server, cpu_client)


def duck_export(con: duckdb.DuckDBPyConnection, parquet: str, rows: int) -> Export:
    """DuckDB's own COPY TO csv of the same columns (geometry as GeoJSON) to a local file."""
    target = OUT / "duckdb-export.csv"
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(f"COPY (SELECT * REPLACE (ST_AsGeoJSON(geometry) AS geometry) "
                f"FROM read_parquet('{parquet}')) TO '{target}' (FORMAT csv, DELIMITER ';', "
                "HEADER true)")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    nbytes = target.stat().st_size
    target.unlink()
    return Export("duckdb COPY to a file", nbytes, rows, seconds, server_cpu=cpu)


# --- the queries -------------------------------------------------------------------------------

@dataclass
class Case:
    key: str
    label: str
    api: tuple[str, Any]
    duck: list[str]
    datasette: tuple[str, Any] | None
    target_vs_datasette: bool = False


def cases(parquet: str) -> list[Case]:
    src = f"read_parquet('{parquet}')"
    rows = f"SELECT * REPLACE (ST_AsGeoJSON(geometry) AS geometry) FROM {src}"
    eq, rng = "code_rome = 'K2204'", "salaire_min >= 1800 AND salaire_min < 2200"
    group = f"SELECT code_rome, avg(salaire_min) AS s FROM {src} GROUP BY code_rome"
    return [
        Case("a", "first page, limit 10", (f"{EXPLORE}/records", {"limit": "10"}),
             [f"{rows} LIMIT 10", f"SELECT count(*) FROM {src}"],
             ("/offres/offres.json", {"_size": "10"}), True),
        Case("b", 'where code_rome="K2204"',
             (f"{EXPLORE}/records", {"where": WHERE_EQ, "limit": "10"}),
             [f"{rows} WHERE {eq} LIMIT 10", f"SELECT count(*) FROM {src} WHERE {eq}"],
             ("/offres/offres.json", {"code_rome": "K2204", "_size": "10"})),
        Case("c", "where 1800 <= salaire_min < 2200",
             (f"{EXPLORE}/records", {"where": WHERE_RANGE, "limit": "10"}),
             [f"{rows} WHERE {rng} LIMIT 10", f"SELECT count(*) FROM {src} WHERE {rng}"],
             ("/offres/offres.json", {"_where": "salaire_min >= 1800 and salaire_min < 2200",
                                      "_size": "10"})),
        Case("d", "facets code_rome + type_contrat",
             (f"{EXPLORE}/facets", [("facet", "code_rome"), ("facet", "type_contrat")]),
             [f"SELECT {c}, count(*) FROM {src} WHERE {c} IS NOT NULL GROUP BY {c} "
              f"ORDER BY count(*) DESC, {c}" for c in ("code_rome", "type_contrat")],
             ("/offres/offres.json", [("_facet", "code_rome"), ("_facet", "type_contrat"),
                                      ("_size", "0")]), True),
        Case("e", "group_by code_rome, avg(salaire)",
             (f"{EXPLORE}/records", {"select": "code_rome, avg(salaire_min) as s",
                                     "group_by": "code_rome", "limit": "100"}),
             [f"{group} LIMIT 100", f"SELECT count(*) FROM ({group})"],
             ("/offres.json", {"sql": "select code_rome, avg(salaire_min) as s from offres "
                                      "group by code_rome limit 100"}), True),
    ]


# --- answers, to check that everyone computes the same thing -----------------------------------

def answer_api(key: str, body: bytes) -> Any:
    data = json.loads(body)
    if key in "abc":
        return data["total_count"], [r["id"] for r in data["results"]]
    if key == "d":
        return {f["name"]: {v["value"]: v["count"] for v in f["facets"]} for f in data["facets"]}
    return data["total_count"], {r["code_rome"]: round(r["s"], 2) for r in data["results"]}


def answer_duck(key: str, results: list[list[tuple]]) -> Any:
    if key in "abc":
        return results[1][0][0], [r[0] for r in results[0]]
    if key == "d":
        return {name: {v: c for v, c in res} for name, res in zip(("code_rome", "type_contrat"),
                                                                   results, strict=True)}
    return results[1][0][0], {c: round(s, 2) for c, s in results[0]}


def answer_datasette(key: str, body: bytes) -> Any:
    data = json.loads(body)
    if key in "abc":
        idx = data["columns"].index("id")
        return data["filtered_table_rows_count"], [r[idx] for r in data["rows"]]
    if key == "d":
        return {name: {v["value"]: v["count"] for v in f["results"]}
                for name, f in data["facet_results"].items()}
    rows = data["rows"]
    return len(rows), {r[0]: round(r[1], 2) for r in rows}


# --- the plain floor: the API's own SQL, on a persistent DuckDB connection ---------------------

def floor_sql(home: Path) -> dict[str, tuple[str, str | list[str]]]:
    """Per case, the DuckDB SQL the API runs for it (``mutuelle.query.records`` plans it, the
    same way the server does): records cases as (page, count), facets as a list."""
    from mutuelle.catalog import repository as repo
    from mutuelle.catalog.db import sessions
    from mutuelle.core.config import Settings
    from mutuelle.query.odsql import QueryRequest, build_facet
    from mutuelle.query.records import RecordsParams, layout, records_sql, source

    settings = Settings(home=home)
    con = duck_connection()
    out: dict[str, tuple[str, str | list[str]]] = {}
    with sessions(settings)() as session:
        version = repo.latest_version(repo.get_dataset(session, DATASET))
        assert version is not None
        for key, params in {"a": RecordsParams.of(limit=10),
                            "b": RecordsParams.of(where=WHERE_EQ, limit=10),
                            "c": RecordsParams.of(where=WHERE_RANGE, limit=10),
                            "e": RecordsParams.of(select="code_rome, avg(salaire_min) as s",
                                                  group_by="code_rome", limit=100)}.items():
            out[key] = records_sql(settings, version, params, con)
        read = layout(settings, version)
        out["d"] = ("facets", [build_facet(name, QueryRequest(), read.schema,
                                           source(settings, version, read=read), sort="-count",
                                           limit=100).sql(dialect="duckdb")
                               for name in ("code_rome", "type_contrat")])
    con.close()
    return out


def floor_call(con: duckdb.DuckDBPyConnection, sql: tuple[str, str | list[str]], limit: int) -> Contender:
    """The API's SQL run as the API runs it: the page, then its count when the page is full."""
    page, rest = sql

    def call() -> Any:
        if page == "facets":
            return [con.execute(q).fetch_arrow_table() for q in rest]
        rows = con.execute(page).fetch_arrow_table()
        count = con.execute(str(rest)).fetchone() if rows.num_rows == limit else None
        return rows, count
    return Contender(call, time.process_time)


def answer_floor(key: str, got: Any) -> Any:
    if key == "d":
        return {name: dict(zip(t.column("value").to_pylist(), t.column("count").to_pylist(), strict=True))
                for name, t in zip(("code_rome", "type_contrat"), got, strict=True)}
    rows, count = got
    total = count[0] if count else rows.num_rows
    if key in "abc":
        return total, rows.column("id").to_pylist()
    return total, {c: round(v, 2) for c, v in zip(rows.column("code_rome").to_pylist(),
                                                  rows.column("s").to_pylist(), strict=True)}


# --- answers from memory, keys and sessions, load -------------------------------------------------

def server_ms(response: httpx.Response) -> float:
    """The server's own time (``Server-Timing: app;dur=``), in ms."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, rest = part.strip().partition(";")
        if name == "app" and rest.startswith("dur="):
            return float(rest[4:])
    return float("nan")


@dataclass
class Hits:
    wall: Timing = field(default_factory=Timing)
    server: list[float] = field(default_factory=list)  # ms
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def server_p50(self) -> float:
        return statistics.median(self.server)


def repeated(client: httpx.Client, calls: dict[str, tuple[str, Any, dict[str, str]]], repeat: int
             ) -> dict[str, Hits]:
    """Each call once (it is then kept), then ``repeat`` times interleaved: wall and server time."""
    out = {name: Hits() for name in calls}
    for path, params, headers in calls.values():
        client.get(path, params=params, headers=headers).raise_for_status()
    for _ in range(repeat):
        for name, (path, params, headers) in calls.items():
            started = time.perf_counter()
            response = client.get(path, params=params, headers=headers)
            out[name].wall.samples.append(time.perf_counter() - started)
            response.raise_for_status()
            out[name].server.append(server_ms(response))
            timing = response.headers.get("server-timing", "")
            source = timing.split('desc="', 1)[1].split('"', 1)[0] if 'desc="' in timing else "-"
            out[name].sources[source] = out[name].sources.get(source, 0) + 1
    return out


def member_headers(home: Path) -> dict[str, dict[str, str]]:
    """Headers of an anonymous call, of one with an API key and of a signed-in browser's (the
    member is made directly in the catalogue the server shares, as the tests do)."""
    from sqlalchemy import select

    from mutuelle.access import accounts, keys, signin
    from mutuelle.catalog.db import sessions
    from mutuelle.catalog.members_models import User
    from mutuelle.core.config import Settings

    settings = Settings(home=home)
    email, password = "bench@bench.example", "correct horse battery"
    with sessions(settings)() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user, _ = accounts.create_user(session, email=email, password=password)
        key = keys.create_key(session, user, name="bench", scope="read").secret
        session.commit()
        token = signin.sign_in(session, settings, email, password).token
        session.commit()
    return {"anonymous": {}, "API key": {"Authorization": f"Apikey {key}"},
            "session": {"Cookie": f"mutuelle_session={token}"}}


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    """The slippy-map tile (z, x, y) holding a point."""
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(lat min, lat max, lon min, lon max) of a tile."""
    n = 2 ** z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))
    return lat(y + 1), lat(y), x / n * 360 - 180, (x + 1) / n * 360 - 180


@dataclass(frozen=True)
class Ask:
    kind: str           # records, facets, aggregate, tile
    api: tuple[str, list[tuple[str, str]]]
    datasette: tuple[str, list[tuple[str, str]]]


def ask(rng: random.Random) -> Ask:
    """One request of the mix, the same for both servers (Datasette: a bounding box for tiles)."""
    kind = rng.choice(("records", "facets", "aggregate", "tile"))
    code = rng.choice(ROME)[0]
    salary = rng.randrange(1400, 3800, 50)
    if kind == "records":
        offset = rng.randrange(0, 500, 10)
        return Ask(kind, (f"{EXPLORE}/records", [("where", f'code_rome="{code}"'), ("limit", "10"),
                                                 ("offset", str(offset))]),
                   ("/offres/offres.json", [("code_rome", code), ("_size", "10"),
                                            ("_sort", "id"), ("id__gt", str(offset))]))
    if kind == "facets":
        return Ask(kind, (f"{EXPLORE}/facets", [("facet", "code_rome"), ("facet", "type_contrat"),
                                                ("where", f"salaire_min > {salary}")]),
                   ("/offres/offres.json", [("_facet", "code_rome"), ("_facet", "type_contrat"),
                                            ("salaire_min__gt", str(salary)), ("_size", "0")]))
    if kind == "aggregate":
        return Ask(kind, (f"{EXPLORE}/records", [("select", "code_rome, avg(salaire_min) as s"),
                                                 ("group_by", "code_rome"), ("limit", "100"),
                                                 ("where", f"salaire_min > {salary}")]),
                   ("/offres.json", [("sql", "select code_rome, avg(salaire_min) as s from offres "
                                             f"where salaire_min > {salary} group by code_rome")]))
    _, lat, lon = rng.choice(COMMUNES)
    z, x, y = tile_of(lat, lon, rng.choice((9, 10, 11)))
    south, north, west, east = tile_bounds(z, x, y)
    return Ask(kind, (f"/tiles/datasets/{DATASET}/{z}/{x}/{y}.mvt", [("properties", "code_rome")]),
               ("/offres.json", [("sql", "select id, latitude, longitude, code_rome from offres "
                                         f"where latitude between {south} and {north} and longitude "
                                         f"between {west} and {east} limit 5000")]))


def draw(rng: random.Random, hot: list[Ask], repeated_share: float, side: str
         ) -> tuple[Ask, str, list[tuple[str, str]]]:
    """The next request of the mix: one of the ``hot`` ones (``repeated_share`` of the time)
    or a new one; its path and parameters for ``side`` ("api" or Datasette's)."""
    chosen = rng.choice(hot) if rng.random() < repeated_share else ask(rng)
    path, params = chosen.api if side == "api" else chosen.datasette
    return chosen, path, params


@dataclass
class Load:
    who: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # ms
    errors: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    count: int | None = None  # calls answered, when the tool gives them counted (wrk)
    measured: dict[float, float] | None = None  # percentile -> ms, when the tool gives them
    tool: str = "httpx (Python, asyncio)"

    @property
    def calls(self) -> int:
        return self.count if self.count is not None else len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.calls / self.seconds

    def pct(self, q: float) -> float:
        if self.measured is not None:
            return self.measured[q]
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


async def _load(base: str, side: str, who: str, clients: int, seconds: float, hot: list[Ask],
                repeated_share: float, seed: int) -> Load:
    out = Load(who, seconds)
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one(index: int) -> None:
            rng = random.Random(seed * 1000 + index)
            while time.perf_counter() < deadline:
                chosen, path, params = draw(rng, hot, repeated_share, side)
                started = time.perf_counter()
                try:
                    response = await client.get(path, params=params)
                    await response.aread()
                    ok = response.status_code == 200
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, problem = False, type(exc).__name__
                spent = (time.perf_counter() - started) * 1000
                if time.perf_counter() > deadline:
                    break  # cut by the end of the run: not counted
                if ok:
                    out.latencies.append(spent)
                    out.by_kind[chosen.kind] = out.by_kind.get(chosen.kind, 0) + 1
                else:
                    out.errors[problem] = out.errors.get(problem, 0) + 1

        await asyncio.gather(*(one(i) for i in range(clients)))
    return out


WRK_MIX = HERE / "wrk_mix.lua"


def has_wrk() -> bool:
    """Whether wrk is there (``scripts/ensure-wrk.sh`` installs Debian's)."""
    if shutil.which("wrk") is None:
        subprocess.run(["bash", str(HERE.parent / "scripts" / "ensure-wrk.sh")], check=False)
    return shutil.which("wrk") is not None


def wrk_load(server: Server, side: str, clients: int, seconds: float, hot: list[Ask],
             seed: int) -> Load:
    """The same mix sent by wrk (C, 2 threads): a list of 50,000 requests drawn as ``_load``
    draws them, each connection taking the next one; errors are wrk's (non-2xx/3xx statuses,
    socket errors, answers over 30 s)."""
    rng = random.Random(seed * 1000)
    lines = []
    for _ in range(50_000):
        _, path, params = draw(rng, hot, 0.8, side)
        lines.append(path + ("?" + str(httpx.QueryParams(params)) if params else ""))
    listing = OUT / f"wrk-{side}.txt"
    listing.write_text("\n".join(lines) + "\n")
    done = subprocess.run(["wrk", "-t2", f"-c{clients}", f"-d{round(seconds)}s", "--timeout", "30s",
                           "-s", str(WRK_MIX), server.base], env={**os.environ, "WRK_PATHS": str(listing)},
                          capture_output=True, text=True, timeout=seconds + 120, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    errors = {name: found[key] for name, key in (("HTTP status", "status"), ("connect", "connect"),
                                                 ("read", "read"), ("write", "write"),
                                                 ("timeout", "timeout")) if found[key]}
    return Load(server.name, found["duration_us"] / 1e6, errors=errors,
                count=found["requests"] - sum(errors.values()),
                measured={q: found[f"p{round(q * 100)}"] / 1000 for q in (0.5, 0.95, 0.99)},
                tool="wrk 4 (C, 2 threads)")


def load_test(server: Server, side: str, clients: int, seconds: float, seed: int = 14) -> Load:
    """``clients`` concurrent clients for ``seconds``: 80 % of the calls from a hot set of 20;
    sent by wrk when it is there, else by Python's httpx (which spends a core of this machine
    on 100 connections: its latencies are then mostly its own)."""
    rng = random.Random(seed)
    hot = [ask(rng) for _ in range(20)]
    if has_wrk():
        return wrk_load(server, side, clients, seconds, hot, seed)
    return asyncio.run(_load(server.base, side, server.name, clients, seconds, hot, 0.8, seed))


# --- printing ----------------------------------------------------------------------------------

def fmt_ms(t: Timing | None) -> str:
    return "-" if t is None else f"{t.p50:8.1f} /{t.p95:8.1f}"


def print_query_table(title: str, rows: list[dict[str, Any]], with_datasette: bool) -> None:
    print()
    print(title)
    floor = any("floor" in r for r in rows)
    head = f"{'query':38} {'API p50 / p95':>18}"
    if floor:
        head += f" {'floor p50 / p95':>18}"
    head += f" {'DuckDB p50 / p95':>18}"
    if with_datasette:
        head += f" {'Datasette p50 / p95':>20} {'Dsette+idx p50/p95':>20}"
    if floor:
        head += f" {'API/floor':>9}"
    head += f" {'API/Duck':>9}"
    if with_datasette:
        head += f" {'Dsette/API':>11} {'idx/API':>8}"
    print(head + "   (wall ms)")
    print("-" * len(head))
    for r in rows:
        line = f"({r['key']}) {r['label']:34} {fmt_ms(r['api']):>18}"
        if floor:
            line += f" {fmt_ms(r.get('floor')):>18}"
        line += f" {fmt_ms(r['duck']):>18}"
        if with_datasette:
            line += f" {fmt_ms(r.get('ds')):>20} {fmt_ms(r.get('dsi')):>20}"
        if floor:
            line += f" {r['api'].p50 / r['floor'].p50:8.2f}x" if r.get("floor") else f" {'-':>9}"
        line += f" {r['api'].p50 / r['duck'].p50:8.2f}x"
        if with_datasette:
            line += (f" {r['ds'].p50 / r['api'].p50:10.1f}x {r['dsi'].p50 / r['api'].p50:7.1f}x"
                     if r.get("ds") else "")
        print(line)
    print()
    print("CPU per call, mean, all threads of the process doing the work (the server for HTTP, "
          "this process for DuckDB)")
    head = f"{'query':38} {'API':>9} {'floor':>9} {'DuckDB':>9}"
    if with_datasette:
        head += f" {'Datasette':>10} {'Dsette+idx':>11}"
    head += f" {'API-Duck':>9} {'API/Duck':>9}"
    print(head + "   (CPU ms)")
    print("-" * len(head))
    for r in rows:
        shown = f"{r['floor'].cpu_ms:9.1f}" if r.get("floor") else f"{'-':>9}"
        line = f"({r['key']}) {r['label']:34} {r['api'].cpu_ms:9.1f} {shown} {r['duck'].cpu_ms:9.1f}"
        if with_datasette:
            line += (f" {r['ds'].cpu_ms:10.1f} {r['dsi'].cpu_ms:11.1f}" if r.get("ds")
                     else f" {'-':>10} {'-':>11}")
        line += (f" {r['api'].cpu_ms - r['duck'].cpu_ms:+9.1f}"
                 f" {r['api'].cpu_ms / max(r['duck'].cpu_ms, 1e-3):8.2f}x")
        print(line)


def print_exports(title: str, exports: list[Export]) -> None:
    print()
    print(title)
    head = (f"{'export':24} {'MB':>7} {'rows':>10} {'s':>6} {'MB/s':>6} {'krows/s':>7} "
            f"{'CPU s srv/cli':>13} {'RSS before':>10} {'peak':>6} {'growth':>6} {'after':>6}")
    print(head + "   (RSS in MiB)")
    print("-" * len(head))
    for e in exports:
        cpu = (f"{e.server_cpu:6.1f} /{e.client_cpu:5.1f}" if e.client_cpu else
               f"{e.server_cpu:6.1f} /   - ")
        rss = (f"{e.rss_before / 2**20:10.0f} {e.rss_peak / 2**20:6.0f} {e.growth_mib:+6.0f} "
               f"{e.rss_after / 2**20:6.0f}" if e.rss_before else f"{'(in process)':>31}")
        print(f"{e.who:24} {e.nbytes / MB:7.1f} {e.rows:10,} {e.seconds:6.2f} {e.mb_s:6.1f} "
              f"{e.rows / e.seconds / 1000:7.0f} {cpu:>13} {rss}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --- the runs ----------------------------------------------------------------------------------

def vs_duckdb(r: dict[str, Any], where: str) -> tuple[str, bool]:
    """The target on wall p50, printed with the same test on CPU (informative: on a busy
    machine it shows what is the API's own cost rather than waiting for a core)."""
    limit, cpu_limit = 2 * r["duck"].p50 + 3, 2 * r["duck"].cpu_ms + 3
    ok = r["api"].p50 <= limit
    print(f"  ({r['key']}) API p50 {r['api'].p50:7.1f} ms <= 2 x DuckDB + 3 = {limit:7.1f} ms"
          f"   {verdict(ok)}      (CPU: {r['api'].cpu_ms:6.1f} <= {cpu_limit:6.1f} ms "
          f"{'yes' if r['api'].cpu_ms <= cpu_limit else 'no'})")
    return f"({r['key']}) vs DuckDB{where}", ok


def vs_floor(r: dict[str, Any], where: str) -> tuple[str, bool]:
    """The target of issue 14: a cold query within 2 x the plain floor + 3 ms (wall p50)."""
    limit, cpu_limit = 2 * r["floor"].p50 + 3, 2 * r["floor"].cpu_ms + 3
    ok = r["api"].p50 <= limit
    print(f"  ({r['key']}) API p50 {r['api'].p50:7.1f} ms <= 2 x plain floor + 3 = {limit:7.1f} ms"
          f"   {verdict(ok)}      (CPU: {r['api'].cpu_ms:6.1f} <= {cpu_limit:6.1f} ms "
          f"{'yes' if r['api'].cpu_ms <= cpu_limit else 'no'})")
    return f"({r['key']}) vs plain floor{where}", ok


def duck_connection() -> duckdb.DuckDBPyConnection:
    """``duckdb.connect()`` with the server's limits (1GB, 2 threads) and spatial for GeoJSON."""
    con = duckdb.connect(config=SERVER_SETTINGS)
    con.execute(f"LOAD '{spatial_extension_path()}'")
    return con


FLAT_MIB = 128


def export_is_flat(export: Export) -> bool:
    """Flat: the server grows by less than FLAT_MIB while exporting, however big the export
    (a few batches of ``export_batch_rows`` and DuckDB's buffers, not the data; ``--big``
    checks that the growth does not follow the number of rows)."""
    return export.growth_mib < FLAT_MIB


def run_main(args: argparse.Namespace, running: list[Server]) -> list[tuple[str, bool]]:
    source = csv_file(args.rows)
    parquet, import_s = mutuelle_import(source, OUT / f"home_api_{args.rows}")
    plain, indexed = OUT / "offres.db", OUT / "offres_idx.db"
    load = sqlite_load(source, plain, indexed)
    home = OUT / f"home_api_{args.rows}"
    api = start_mutuelle(home, running)  # answers from memory off: every call is cold
    ds = start_datasette([plain, indexed], running)
    con = duck_connection()
    floor_con = duck_connection()  # the plain floor: the API's own SQL, a persistent connection
    floors = floor_sql(home)
    load_before = os.getloadavg()[0]
    print(f"servers up: mutuelle {api.base} (RSS {api.rss() / 2**20:.0f} MiB), "
          f"datasette {ds.base} (RSS {ds.rss() / 2**20:.0f} MiB)", flush=True)

    table: list[dict[str, Any]] = []
    disagreements: list[str] = []
    with httpx.Client(base_url=api.base, timeout=600) as client, \
            httpx.Client(base_url=ds.base, timeout=600) as dsc:
        for case in cases(str(parquet)):
            print(f"  ({case.key}) {case.label} ...", flush=True)
            row: dict[str, Any] = {"key": case.key, "label": case.label, "case": case}
            calls = {"api": http_call(client, api, *case.api),
                     "floor": floor_call(floor_con, floors[case.key], 100 if case.key == "e" else 10),
                     "duck": duck_call(con, case.duck)}
            if case.datasette:
                path, params = case.datasette
                calls["ds"] = http_call(dsc, ds, path, params)
                calls["dsi"] = http_call(dsc, ds, path.replace("/offres", "/offres_idx", 1), params)
            timings, got = measure(calls, args.repeat, args.warmup)
            row.update(timings)
            answers = {"api": answer_api(case.key, got["api"]),
                       "floor": answer_floor(case.key, got["floor"]),
                       "duckdb": answer_duck(case.key, got["duck"])}
            if case.datasette:
                answers["datasette"] = answer_datasette(case.key, got["ds"])
                answers["datasette+idx"] = answer_datasette(case.key, got["dsi"])
            if any(a != answers["api"] for a in answers.values()):
                disagreements.append(f"({case.key}): {answers}")
            table.append(row)

        print("  (f) exports ...", flush=True)
        exports = [http_export(client, api, f"{EXPLORE}/exports/csv", {}, args.rows)
                   for _ in range(args.export_repeat)]
        api_export = sorted(exports, key=lambda e: e.seconds)[len(exports) // 2]  # the median
        api_export.rss_peak = max(e.rss_peak for e in exports)  # the worst peak of all runs
        api_export.who = "mutuelle /exports/csv"
        ds_export = http_export(dsc, ds, "/offres/offres.csv", {"_stream": "on"}, args.rows)
        ds_export.who = "datasette .csv?_stream"
    duck_exp = duck_export(con, str(parquet), args.rows)
    con.close()
    floor_con.close()
    api.stop()
    warm = run_warm(args, home, ds, table, running)

    mib = source.stat().st_size / 2**20
    print()
    print(f"data: {source.name}, {args.rows:,} rows, {mib:.1f} MiB (cp1252, ';', decimal comma); "
          f"mutuelle import {import_s:.1f} s; SQLite load {load['load']:.1f} s "
          f"+ indexes {load['index']:.1f} s")
    print(f"runs: {args.warmup} warm-up + {args.repeat} timed rounds, sequential, contenders "
          f"interleaved, one keep-alive httpx client per server; DuckDB in process: duckdb.connect() with 1GB / 2 threads "
          f"(the server's limits), spatial loaded; machine: {os.cpu_count()} cores, load average "
          f"{load_before:.1f} before the queries, {os.getloadavg()[0]:.1f} after the exports")
    print("datasette 0.65: immutable (-i) + --inspect-file (cached table count), "
          + ", ".join(f"{k}={v}" for k, v in DATASETTE_SETTINGS.items())
          + "; 'Datasette' = no index (default), 'Dsette+idx' = indexes on code_rome, "
            "salaire_min, type_contrat")
    print_query_table(f"query API at {args.rows:,} rows: p50 / p95 in ms", table, True)
    print_exports(f"(f) full CSV export at {args.rows:,} rows (mutuelle: median of "
                  f"{args.export_repeat} runs, worst RSS peak; RSS sampled every 20 ms)",
                  [api_export, ds_export, duck_exp])
    print(f"answers agree (counts, first ids, facet counts, averages): "
          f"{'yes' if not disagreements else 'NO'}")
    for d in disagreements:
        print(f"  {d}")

    checks: list[tuple[str, bool]] = []
    print()
    print(f"targets at {args.rows:,} rows (cold queries: answers from memory off)")
    for r in table:
        checks.append(vs_floor(r, ""))
    print("  the bench's own DuckDB SQL (geometry as GeoJSON, a count), for reference:")
    for r in table:
        vs_duckdb(r, "")
    for r in table:
        if r["case"].target_vs_datasette:
            ratio = r["ds"].p50 / r["api"].p50
            ok = ratio >= 10
            checks.append((f"({r['key']}) vs Datasette", ok))
            print(f"  ({r['key']}) >= 10x faster than Datasette (no index): {ratio:6.1f}x"
                  f"   (with indexes: {r['dsi'].p50 / r['api'].p50:6.1f}x)   {verdict(ok)}")
    ok = api_export.mb_s >= 50
    checks.append(("(f) export MB/s", ok))
    print(f"  (f) export {api_export.mb_s:.1f} MB/s >= 50 MB/s   {verdict(ok)}      (server CPU "
          f"{api_export.server_cpu:.1f} s: {api_export.nbytes / MB / max(api_export.server_cpu, 0.01):.0f}"
          " MB per CPU-second)")
    ok = export_is_flat(api_export)
    checks.append(("(f) flat memory", ok))
    print(f"  (f) memory flat: RSS {api_export.rss_before / 2**20:.0f} -> peak "
          f"{api_export.rss_peak / 2**20:.0f} MiB ({api_export.growth_mib:+.0f} MiB while sending "
          f"{api_export.nbytes / 2**20:.0f} MiB; flat = growth < {FLAT_MIB} MiB)"
          f"   {verdict(ok)}")
    checks += warm()
    ds.stop()
    return checks


def run_warm(args: argparse.Namespace, home: Path, ds: Server, table: list[dict[str, Any]],
             running: list[Server]) -> Callable[[], list[tuple[str, bool]]]:
    """``mutuelle serve --workers 2`` with answers from memory: repeated queries, keys and
    sessions, the load test against Datasette. Measured now; printed (with the verdicts) by the
    function returned, after the cold tables."""
    api = start_mutuelle(home, running, workers=2, cache=True, name="mutuelle-2w")
    headers = member_headers(home)
    cases_by_key = {r["key"]: r["case"] for r in table}
    with httpx.Client(base_url=api.base, timeout=600) as client:
        print("  repeated queries (answers from memory) ...", flush=True)
        hits = repeated(client, {k: (c.api[0], c.api[1], {}) for k, c in cases_by_key.items()},
                        args.hit_repeat)
        print("  API key and signed-in session ...", flush=True)
        path, params = cases_by_key["a"].api
        who = repeated(client, {name: (path, params, h) for name, h in headers.items()},
                       args.hit_repeat)
    print(f"  load: {args.load_clients} clients x {args.load_seconds:.0f} s on mutuelle (2 workers) ...",
          flush=True)
    loads = [load_test(api, "api", args.load_clients, args.load_seconds)]
    print(f"  load: {args.load_clients} clients x {args.load_seconds:.0f} s on Datasette ...", flush=True)
    loads.append(load_test(ds, "datasette", args.load_clients, args.load_seconds))
    api.stop()

    def report() -> list[tuple[str, bool]]:
        print()
        print(f"repeated queries, mutuelle serve --workers 2 with answers from memory "
              f"({args.hit_repeat} calls each after one): p50 / p95 wall and server p50 in ms")
        print(f"{'query':38} {'wall p50 / p95':>18} {'server p50':>11}   answers")
        for key, h in hits.items():
            print(f"({key}) {cases_by_key[key].label:34} {fmt_ms(h.wall):>18} {h.server_p50:11.2f}   "
                  + ", ".join(f"{k}: {n}" for k, n in sorted(h.sources.items())))
        print()
        print("what the caller adds to a repeated first page (a): p50 wall and server, in ms")
        base = who["anonymous"]
        for name, h in who.items():
            print(f"  {name:10} wall {h.wall.p50:7.2f}  server {h.server_p50:6.2f}  "
                  f"(+{h.wall.p50 - base.wall.p50:5.2f} / +{h.server_p50 - base.server_p50:5.2f})")
        print()
        print(f"load: {args.load_clients} concurrent clients for {args.load_seconds:.0f} s, 80 % of "
              "calls from 20 repeated ones (records, facets, aggregates, tiles; Datasette: a "
              "bounding-box query for tiles)")
        print(f"sent by {loads[0].tool}")
        print(f"{'server':14} {'calls':>8} {'calls/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'errors':>7}   mix")
        for load in loads:
            print(f"{load.who:14} {load.calls:8d} {load.throughput:8.1f} {load.pct(0.5):7.1f} "
                  f"{load.pct(0.95):7.1f} {load.pct(0.99):7.1f} {sum(load.errors.values()):7d}   "
                  + ", ".join(f"{k} {n}" for k, n in sorted(load.by_kind.items()))
                  + (f"   errors: {load.errors}" if load.errors else ""))
        checks: list[tuple[str, bool]] = []
        print()
        print("targets with answers from memory")
        for key, h in hits.items():
            ok = h.server_p50 <= 2
            checks.append((f"({key}) repeated <= 2 ms", ok))
            print(f"  ({key}) repeated query: server p50 {h.server_p50:5.2f} ms <= 2 ms   {verdict(ok)}"
                  f"      (wall p50 {h.wall.p50:5.2f} ms)")
        first, dsette = hits["a"].wall.p50, next(r for r in table if r["key"] == "a")["ds"].p50
        ok = first < dsette
        checks.append(("(a) first page faster than Datasette", ok))
        print(f"  (a) first page {first:5.2f} ms < Datasette's {dsette:5.2f} ms   {verdict(ok)}")
        for name in ("API key", "session"):
            added = who[name].server_p50 - base.server_p50
            ok = added <= 2
            checks.append((f"{name} adds <= 2 ms", ok))
            print(f"  {name} adds {added:5.2f} ms (server p50) <= 2 ms   {verdict(ok)}"
                  f"      (wall: +{who[name].wall.p50 - base.wall.p50:5.2f} ms)")
        ours, theirs = loads
        for name, ok, shown in (
                ("load: no errors", not ours.errors, f"{sum(ours.errors.values())} errors"),
                ("load: p99 < 250 ms", ours.pct(0.99) < 250, f"p99 {ours.pct(0.99):.1f} ms"),
                ("load: >= 3x Datasette", ours.throughput >= 3 * theirs.throughput,
                 f"{ours.throughput:.1f} calls/s = {ours.throughput / max(theirs.throughput, 1e-9):.1f}x "
                 f"Datasette's {theirs.throughput:.1f}")):
            checks.append((name, ok))
            print(f"  {name}: {shown}   {verdict(ok)}")
        return checks

    return report


def run_big(args: argparse.Namespace, running: list[Server]) -> list[tuple[str, bool]]:
    rows = args.big_rows
    source = csv_file_duckdb(rows)
    home = OUT / f"home_api_{rows}"
    parquet, import_s = mutuelle_import(source, home)
    api = start_mutuelle(home, running)
    con = duck_connection()
    floor_con = duck_connection()
    floors = floor_sql(home)
    load_before = os.getloadavg()[0]
    table: list[dict[str, Any]] = []
    with httpx.Client(base_url=api.base, timeout=600) as client:
        for case in cases(str(parquet)):
            if case.key not in "de":
                continue
            print(f"  ({case.key}) {case.label} at {rows:,} rows ...", flush=True)
            row: dict[str, Any] = {"key": case.key, "label": case.label, "case": case}
            timings, got = measure({"api": http_call(client, api, *case.api),
                                    "floor": floor_call(floor_con, floors[case.key], 100),
                                    "duck": duck_call(con, case.duck)}, args.repeat, args.warmup)
            row.update(timings)
            body, res = got["api"], got["duck"]
            if answer_api(case.key, body) != answer_duck(case.key, res):
                print(f"  warning: answers differ: {answer_api(case.key, body)} "
                      f"{answer_duck(case.key, res)}")
            table.append(row)
        print(f"  (f) export at {rows:,} rows ...", flush=True)
        export = http_export(client, api, f"{EXPLORE}/exports/csv", {}, rows)
        export.who = "mutuelle /exports/csv"
    duck_exp = duck_export(con, str(parquet), rows)
    con.close()
    floor_con.close()
    print()
    print(f"--big data: {source.name}, {rows:,} rows, {source.stat().st_size / 2**20:.0f} MiB "
          f"(written by DuckDB from range(): UTF-8, ';', decimal comma); mutuelle import "
          f"{import_s:.1f} s; load average {load_before:.1f} before the queries, "
          f"{os.getloadavg()[0]:.1f} after the export")
    print_query_table(f"query API at {rows:,} rows: p50 / p95 in ms", table, False)
    print_exports(f"(f) full CSV export at {rows:,} rows (one run)", [export, duck_exp])
    checks = []
    print()
    print(f"targets at {rows:,} rows")
    for r in table:
        checks.append(vs_floor(r, f" at {rows:,}"))
    for r in table:
        vs_duckdb(r, f" at {rows:,}")
    ok = export.mb_s >= 50 and export_is_flat(export)
    checks.append((f"(f) export at {rows:,}", ok))
    print(f"  (f) export {export.mb_s:.1f} MB/s (server CPU {export.server_cpu:.1f} s: "
          f"{export.nbytes / MB / max(export.server_cpu, 0.01):.0f} MB per CPU-second), RSS {export.rss_before / 2**20:.0f} -> peak "
          f"{export.rss_peak / 2**20:.0f} MiB ({export.growth_mib:+.0f} MiB while sending "
          f"{export.nbytes / 2**20:.0f} MiB)   {verdict(ok)}")
    api.stop()
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated file")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each query")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--export-repeat", type=int, default=3, help="runs of the API export")
    parser.add_argument("--big", action="store_true",
                        help="also (d), (e) and the export at --big-rows (API vs DuckDB)")
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--hit-repeat", type=int, default=200,
                        help="calls of each repeated query (answers from memory)")
    parser.add_argument("--load-clients", type=int, default=100, help="concurrent clients")
    parser.add_argument("--load-seconds", type=float, default=60, help="length of each load run")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    running: list[Server] = []
    checks: list[tuple[str, bool]] = []
    try:
        checks += run_main(args, running)
        if args.big:
            checks += run_big(args, running)
    finally:
        for server in running:
            server.stop()
    print()
    missed = [name for name, ok in checks if not ok]
    print(f"verdict: {len(checks) - len(missed)}/{len(checks)} targets met"
          + (f"; missed: {', '.join(missed)}" if missed else ""))


if __name__ == "__main__":
    main()
