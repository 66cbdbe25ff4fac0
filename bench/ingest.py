"""Benchmark of the CSV import: our ``read_csv`` against DuckDB's own CSV → Parquet.

Generates (deterministically, into ``bench/out/``) a job-offers CSV the way French
public files come: cp1252, ``;``, decimal comma, dd/mm/yyyy, codes with leading zeros.
Each side runs in its own subprocess so that wall time and peak RSS are its own.

    uv run --group bench python bench/ingest.py [--rows N] [--repeat R] [--no-points]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"

# Real ROME job codes (public referential); the offers themselves are synthetic.
ROME = [
    ("K2204", "Nettoyage de locaux"),
    ("J1501", "Soins d'hygiène, de confort du patient"),
    ("G1603", "Personnel polyvalent en restauration"),
    ("N1103", "Magasinage et préparation de commandes"),
    ("D1507", "Mise en rayon libre-service"),
    ("K2111", "Formation professionnelle"),
    ("M1607", "Secrétariat"),
    ("F1703", "Maçonnerie"),
    ("H2909", "Montage-assemblage mécanique"),
    ("K1304", "Services domestiques"),
    ("G1602", "Personnel de cuisine"),
    ("J1506", "Soins infirmiers généralistes"),
]
# (code commune INSEE, latitude, longitude) of real communes around Lyon and in the Ain.
COMMUNES = [
    ("69123", 45.7578, 4.8351), ("69266", 45.7719, 4.8902), ("69259", 45.6967, 4.8850),
    ("69029", 45.7355, 4.9103), ("69256", 45.7844, 4.9277), ("69290", 45.6969, 4.9437),
    ("01004", 45.9583, 5.3583), ("01053", 46.2052, 5.2255), ("01001", 46.1534, 4.9260),
    ("01283", 46.2555, 5.6556), ("07010", 45.2408, 4.6714), ("02691", 49.8465, 3.2876),
]
CONTRATS = ["CDI", "CDD", "Intérim", "Alternance", "Saisonnier"]
HEADER = "id;date_publication;code_rome;libelle;code_commune;latitude;longitude;salaire_min;type_contrat"


def _comma(number: float, places: int) -> str:
    return f"{number:.{places}f}".replace(".", ",")


#: Labels written only with cp1252's own characters (’ and œ are not latin-1).
CP1252_LABELS = {"J1501": "Soins d’hygiène, de confort du patient",
                 "G1602": "Personnel de cuisine (cœur de métier)"}


def generate(path: Path, rows: int, seed: int = 20240101, *, cp1252_only: bool = False,
             no_points: bool = False) -> None:
    """Write the job-offers file (cp1252), the same bytes for the same rows and seed.

    ``cp1252_only`` uses ’ and œ in two labels, as Word-fed files do: the file is then
    no longer latin-1, and must be transcoded. ``no_points`` names the coordinates so that
    no point geometry is built from them (what the reference never builds).
    """
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    header = HEADER.replace("latitude;longitude", "mesure_1;mesure_2") if no_points else HEADER
    with open(tmp, "w", encoding="cp1252", newline="") as out:
        out.write(header + "\r\n")
        batch: list[str] = []
        for i in range(1, rows + 1):
            code, label = ROME[rng.randrange(len(ROME))]
            if cp1252_only:
                label = CP1252_LABELS.get(code, label)
            commune, lat, lon = COMMUNES[rng.randrange(len(COMMUNES))]
            lat += rng.uniform(-0.02, 0.02)
            lon += rng.uniform(-0.02, 0.02)
            day = rng.randrange(1, 29)
            month = rng.randrange(1, 13)
            year = 2020 + rng.randrange(5)
            salary = 1400 + rng.randrange(250000) / 100
            batch.append(
                f"{i};{day:02d}/{month:02d}/{year};{code};{label};{commune};"
                f"{_comma(lat, 6)};{_comma(lon, 6)};{_comma(salary, 2)};"
                f"{CONTRATS[rng.randrange(5)]}\r\n"
            )
            if len(batch) == 10000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    os.replace(tmp, path)


# --- the two contenders, each run in a child process ---------------------------------

def run_ours(source: Path, dest: Path, home: Path) -> dict[str, object]:
    """Our read_csv, with default settings (DuckDB: 1GB, 2 threads)."""
    from mutuelle.core.config import Settings
    from mutuelle.ingest.csv import read_csv
    from mutuelle.ingest.model import ImportOptions

    phases: dict[str, float] = {}

    class Phases(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            phases.update(getattr(record, "phases", {}))

    logger = logging.getLogger("mutuelle.ingest.csv")
    logger.setLevel(logging.INFO)
    logger.addHandler(Phases())
    settings = Settings(home=home)
    started = time.perf_counter()
    table = read_csv(source, dest, settings, ImportOptions())
    return {
        "seconds": time.perf_counter() - started,
        "rows": table.row_count,
        "types": {c.name: c.type for c in table.columns},
        "detected": table.detected,
        "phases": phases,
        "module": read_csv.__module__ and sys.modules[read_csv.__module__].__file__,
    }


def run_duckdb(source: Path, dest: Path, home: Path, encoding: str,
               points: bool = False) -> dict[str, object]:
    """DuckDB's own read_csv → COPY TO parquet, told the dialect, with our limits; with
    ``points``, the same work our import does on a file with coordinates: the spatial
    extension loaded (from its pip package) and a point geometry built from them."""
    import duckdb

    from mutuelle.core.config import Settings

    settings = Settings(home=home)
    con = duckdb.connect(config={"memory_limit": settings.duckdb_memory_limit,
                                 "threads": settings.duckdb_threads})
    from mutuelle.store.duck import spatial_extension_path  # where the pip package put it

    extension = spatial_extension_path()
    started = time.perf_counter()
    geometry = ""
    if points:
        con.execute(f"LOAD '{extension}'")
        geometry = ", ST_Point(longitude, latitude) AS geometry"
    con.execute(
        f"COPY (SELECT *{geometry} FROM read_csv('{source}', encoding = '{encoding}', delim = ';', "
        "decimal_separator = ',', dateformat = '%d/%m/%Y')) "
        f"TO '{dest}' (FORMAT parquet, COMPRESSION zstd)")
    seconds = time.perf_counter() - started
    types = dict(con.execute(f"SELECT name, type FROM parquet_schema('{dest}') "
                             "WHERE type IS NOT NULL").fetchall())
    return {"seconds": seconds, "rows": con.execute(f"SELECT count(*) FROM '{dest}'").fetchone()[0],
            "types": types}


def _child_env() -> dict[str, str]:
    """The children's environment: Python caches its compiled modules (in bench/out/pycache),
    as it does once a package is installed, even where PYTHONDONTWRITEBYTECODE is set (then
    every start would compile every module imported, duckdb's and sqlglot's included)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    return env


def _child(args: list[str]) -> dict[str, object]:
    """Run this script on ``args`` in a child; its JSON answer plus its own peak RSS and CPU."""
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            env=_child_env())
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"child {args[0]} failed with status {proc.returncode}")
    result = json.loads(output)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # whole child, start-up included
    return result


def _has_c1_bytes(path: Path) -> bool:
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            if any(0x80 <= b <= 0x9F for b in set(chunk)):
                return True
    return False


def _spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):6.2f}  min {min(values):6.2f}  "
            f"max {max(values):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the generated file")
    parser.add_argument("--repeat", type=int, default=5,
                        help="rounds; each runs every side once, in turn (medians reported)")
    parser.add_argument("--cp1252-only", action="store_true",
                        help="use ’ and œ (not latin-1): our side transcodes, DuckDB gets UTF-8")
    parser.add_argument("--no-points", action="store_true",
                        help="coordinates under other names: no point geometry on our side")
    parser.add_argument("--compare-with", type=Path, metavar="DIR",
                        help="also run the importer of another checkout (e.g. `git archive` of "
                             "an earlier commit unpacked in DIR), in the same rounds")
    args = parser.parse_args()

    variant = ("_cp1252" if args.cp1252_only else "") + ("_nopoints" if args.no_points else "")
    source = OUT / f"offres_{args.rows}{variant}.csv"
    if not source.exists():
        print(f"generating {source.name} ...", flush=True)
        generate(source, args.rows, cp1252_only=args.cp1252_only, no_points=args.no_points)
    size_mb = source.stat().st_size / 2**20
    home = OUT / "ingest_home"
    # DuckDB reads latin-1 itself; cp1252 only through a UTF-8 copy (made here, not timed).
    if _has_c1_bytes(source):
        duck_source, encoding = OUT / f"offres_{args.rows}{variant}.utf8.csv", "utf-8"
        if not duck_source.exists():  # in chunks: a child's peak RSS starts from ours
            with open(source, encoding="cp1252", newline="") as src, \
                    open(duck_source, "w", encoding="utf-8", newline="") as dst:
                while chunk := src.read(1 << 22):
                    dst.write(chunk)
        duck_how = "DuckDB on a UTF-8 copy (the file has cp1252-only bytes; copy not timed)"
    else:
        duck_source, encoding = source, "latin-1"
        duck_how = "DuckDB on the same file, encoding='latin-1' (same bytes as cp1252 here)"

    sides = {
        "duckdb": ["--child-duckdb", str(duck_source), str(OUT / "ingest_duckdb.parquet"),
                   str(home), encoding],
        "ours": ["--child-ours", str(source), str(OUT / "ingest_ours.parquet"), str(home),
                 str(ROOT)],
    }
    if not args.no_points:  # the same output as ours: the point geometry too
        sides["duckdb+points"] = ["--child-duckdb", str(duck_source),
                                  str(OUT / "ingest_duckdb_points.parquet"), str(home), encoding, "points"]
    if args.compare_with:
        sides["other"] = ["--child-ours", str(source), str(OUT / "ingest_other.parquet"),
                          str(home), str(args.compare_with.resolve())]
    for name in sides:  # untimed: fills the bytecode cache and the page cache
        _child(sides[name])
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in sides}
    loads = [os.getloadavg()[0]]
    for round_ in range(args.repeat):
        # Each round starts with another side, so that none always runs first (or last).
        order = list(sides)[round_ % len(sides):] + list(sides)[:round_ % len(sides)]
        for name in order:
            runs[name].append(_child(sides[name]))
        loads.append(os.getloadavg()[0])

    def seconds(name: str, key: str) -> list[float]:
        return [float(r[key]) for r in runs[name]]  # type: ignore[arg-type]

    print(f"file: {source.name}, {args.rows} rows, {size_mb:.1f} MiB, cp1252, ';', decimal comma")
    print(f"{args.repeat} rounds; load average (1 min) {loads[0]:.1f} at the start, "
          f"{loads[-1]:.1f} at the end, up to {max(loads):.1f}, on {os.cpu_count()} CPUs")
    for name in sides:
        print(f"{name:13} wall s: {_spread(seconds(name, 'seconds'))} | "
              f"CPU s: {_spread(seconds(name, 'cpu_seconds'))} | "
              f"peak RSS {max(seconds(name, 'peak_rss_mb')):6.1f} MiB | rows {runs[name][0]['rows']}")
    print(f"duckdb side: {duck_how}")
    print("wall: read_csv -> Parquet inside the child; CPU: the whole child (start-up included)")
    references = [r for r in ("duckdb", "duckdb+points") if r in sides]
    for name in sides:
        for ref in references if name in ("ours", "other") else ():
            wall = [o / d for o, d in zip(seconds(name, "seconds"), seconds(ref, "seconds"))]
            cpu = [o / d for o, d in zip(seconds(name, "cpu_seconds"), seconds(ref, "cpu_seconds"))]
            print(f"ratio {name}/{ref}, per round: wall {_spread(wall)} | CPU {_spread(cpu)}   "
                  "(target <= 2)")
            print(f"ratio {name}/{ref} of the medians: wall "
                  f"{statistics.median(seconds(name, 'seconds')) / statistics.median(seconds(ref, 'seconds')):.2f}, "
                  f"CPU {statistics.median(seconds(name, 'cpu_seconds')) / statistics.median(seconds(ref, 'cpu_seconds')):.2f}")
    print(f"our peak RSS under 1 GiB: {max(seconds('ours', 'peak_rss_mb')) < 1024}")
    phases = runs["ours"][0].get("phases")
    if phases:
        print("our phases (first round, s): "
              + ", ".join(f"{k} {v}" for k, v in phases.items()))  # type: ignore[union-attr]
    print(f"our types   : {runs['ours'][0]['types']}")
    print(f"duckdb types: {runs['duckdb'][0]['types']}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-ours":
        sys.path.insert(0, sys.argv[5])
        print(json.dumps(run_ours(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-duckdb":
        sys.path.insert(0, str(ROOT))
        print(json.dumps(run_duckdb(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]),
                                    sys.argv[5], points=sys.argv[6:] == ["points"])))
    else:
        main()
