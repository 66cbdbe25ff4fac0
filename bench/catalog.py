"""Benchmark of the catalogue: listings, searches, facets, exports and pages over HTTP at
2,000, 10,000 and 50,000 published datasets, on SQLite and on PostgreSQL.

One run, for each catalogue backend and size:

1. builds the catalogue directly through the catalogue layer (ORM objects committed in
   batches, which keeps the catalogue entries up to date as any change does): organisations
   (cities, territories, partners), datasets with varied French titles, descriptions,
   themes, keywords, territories, access levels (80 % public, 12 % internal, 5 % restricted,
   3 % drafts), a published version of a few rows each with its field dictionary;
2. serves this checkout's app as ``mutuelle serve --no-warm-up`` does, on a free 127.0.0.1 port, and times its first
   catalogue call (the process copies the catalogue entries and indexes their words), then
   each call below N times after a warm-up, sequentially over one keep-alive httpx client:
   p50 and p95 in ms; the server's RSS is sampled every 20 ms (peak, and its growth during
   the full exports);
3. times the plain reference in process on the same catalogue database: the anonymous
   listing as the catalogue's own SQL would do it (count, first page by title, datasets per
   organisation, a LIKE search on titles) through SQLAlchemy Core, no index, no relevance;
   and the copy of the catalogue made in process (cold, warm, and refreshed after one
   dataset's change), to tell the copy's own cost from the rest of the first call;
4. prints the targets of issue 16 and a verdict for each: p50 of every catalogue call
   ≤ 30 ms at 2,000 datasets and ≤ 100 ms at 50,000, the web catalogue page ≤ 100 ms at
   50,000, memory flat in the catalogue's size for exports.

    uv run --group bench python bench/catalog.py                      # 2k, 10k, 50k; both backends
    uv run --group bench python bench/catalog.py --sizes 2000 --backends sqlite --repeat 10

Homes are kept in ``bench/out/catalog_<backend>_<size>/`` (PostgreSQL: the database
``mutuelle_bench_catalog_<size>``) and reused when present (``--rebuild`` makes them anew).
Every server is stopped on the way out.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import create_engine, text

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE.parent))

from mutuelle.catalog.db import sessions, upgrade  # noqa: E402
from mutuelle.catalog.models import Dataset, Field, Organisation, Version  # noqa: E402
from mutuelle.core.config import Settings  # noqa: E402
from mutuelle.core.ids import new_id  # noqa: E402

PG_ADMIN = os.environ.get("MUTUELLE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
EXPLORE = "/api/explore/v2.1/catalog"
BATCH = 1000

TOPICS = ["Écoles maternelles", "Écoles élémentaires", "Budget primitif", "Compte administratif",
          "Population légale", "Équipements sportifs", "Qualité de l'air", "Stationnement",
          "Bibliothèques", "Crèches", "Subventions aux associations", "Délibérations du conseil",
          "Revenus des ménages", "Logements sociaux", "Arbres d'alignement", "Pistes cyclables",
          "Accidents de la route", "Déchets collectés", "Consommation d'eau", "Marchés publics",
          "Effectifs scolaires", "Hôpitaux et cliniques", "Demandeurs d'emploi", "Permis de construire",
          "Parcs et jardins", "Bornes de recharge", "Transports en commun", "Cantines scolaires",
          "Élections municipales", "Établissements recevant du public"]
QUALIFIERS = ["par IRIS", "par commune", "par quartier", "par QPV", "géolocalisés", "détaillés",
              "annuels", "mensuels", "historiques", "consolidés", ""]
THEMES = ["Éducation", "Finances", "Population", "Sports", "Environnement", "Mobilité", "Culture",
          "Petite enfance", "Solidarité", "Logement", "Santé", "Citoyenneté"]
WORDS = ["école", "budget", "iris", "commune", "élèves", "dépenses", "recettes", "habitants",
         "air", "pollution", "vélo", "bus", "tramway", "arbre", "parc", "santé", "emploi", "logement",
         "social", "culture", "sport", "piscine", "gymnase", "crèche", "associations", "élus",
         "conseil", "vote", "eau", "déchets", "recyclage", "bruit", "énergie", "chauffage",
         "quartier", "qpv", "revenus", "pauvreté", "chômage", "jeunes", "seniors", "handicap"]
CITIES = ["Lyon", "Villeurbanne", "Vénissieux", "Issy-les-Moulineaux", "Boulogne-Billancourt",
          "Meudon", "Vanves", "Chaville", "Sèvres", "Marnes-la-Coquette", "Saint-Priest", "Bron",
          "Caluire-et-Cuire", "Rillieux-la-Pape", "Oullins-Pierre-Bénite", "Écully", "Tassin",
          "Décines", "Meyzieu", "Vaulx-en-Velin"]
CODES = ["69123", "69266", "69259", "92040", "92012", "92048", "92075", "92022", "92072", "92047",
         "69290", "69029", "69034", "69286", "69149", "69081", "69244", "69275", "69282", "69256"]


# -- building a catalogue -------------------------------------------------------------------------

def settings_for(backend: str, size: int) -> Settings:
    home = OUT / f"catalog_{backend}_{size}"
    if backend == "sqlite":
        return Settings(home=home)
    return Settings(home=home, database_url=PG_ADMIN.rsplit("/", 1)[0] + f"/mutuelle_bench_catalog_{size}")


def fresh(settings: Settings, backend: str, size: int) -> None:
    import shutil

    shutil.rmtree(settings.home, ignore_errors=True)
    settings.home.mkdir(parents=True)
    if backend == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            con.execute(text(f'DROP DATABASE IF EXISTS "mutuelle_bench_catalog_{size}" WITH (FORCE)'))
            con.execute(text(f'CREATE DATABASE "mutuelle_bench_catalog_{size}"'))
        admin.dispose()


def build(settings: Settings, size: int, seed: int = 16) -> float:
    """A catalogue of ``size`` datasets made through the catalogue layer; seconds taken."""
    started = time.perf_counter()
    rng = random.Random(seed)
    upgrade(settings)
    parquet = settings.store_dir / "bench" / "v1.parquet"
    parquet.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"code_commune": ["69123", "92040"], "valeur": [1, 2]}), parquet)
    with sessions(settings)() as session:
        metro = Organisation(id=new_id(), slug="metropole", name="Métropole", kind="territory")
        orgs = [metro] + [Organisation(id=new_id(), slug=f"ville-{i}", name=f"Ville de {c}",
                                       kind="city", parent=metro) for i, c in enumerate(CITIES)]
        orgs += [Organisation(id=new_id(), slug=f"partenaire-{i}", name=f"Partenaire {i}",
                              kind="partner") for i in range(10)]
        session.add_all(orgs)
        session.commit()
        start = datetime(2019, 1, 1, tzinfo=UTC)
        for first in range(0, size, BATCH):
            for n in range(first, min(size, first + BATCH)):
                topic, qualifier = rng.choice(TOPICS), rng.choice(QUALIFIERS)
                city = rng.randrange(len(CITIES))
                year = rng.randint(2015, 2025)
                roll = rng.random()
                access = "internal" if roll < .12 else "restricted" if roll < .17 else "public"
                when = start + timedelta(days=rng.randint(0, 2400))
                dataset = Dataset(
                    id=new_id(), slug=f"jeu-{n}", title=f"{topic} {qualifier} {CITIES[city]} {year}".replace("  ", " "),
                    description=" ".join(rng.choices(WORDS, k=rng.randint(15, 60))).capitalize() + ".",
                    themes=rng.sample(THEMES, rng.randint(1, 2)), keywords=rng.sample(WORDS, rng.randint(2, 5)),
                    spatial_coverage=[CODES[city]], frequency=rng.choice(["annual", "monthly", "unknown"]),
                    access=access, status="draft" if roll > .97 else "published",
                    organisation=orgs[1 + city] if rng.random() < .85 else rng.choice(orgs),
                    published_at=when, created_at=when, updated_at=when)
                version = Version(dataset=dataset, number=1, status="published",
                                  parquet_path="bench/v1.parquet", source_name=f"jeu-{n}.csv",
                                  format=rng.choice(["csv", "csv", "xlsx", "geojson"]),
                                  row_count=rng.randint(2, 40), byte_size=parquet.stat().st_size,
                                  checksum="0" * 64, source_checksum="0" * 64, created_at=when,
                                  published_at=when)
                version.fields = [Field(position=0, name="code_commune", type="text",
                                        concept="code_commune", label="Code commune"),
                                  Field(position=1, name="valeur", type="integer",
                                        label=rng.choice(["Effectif", "Montant", "Nombre", "Taux"]))]
                session.add(dataset)
            session.commit()
            print(f"\r  {min(size, first + BATCH):,} / {size:,} datasets", end="", flush=True)
    print()
    return time.perf_counter() - started


# -- serving and measuring --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str

    def rss(self) -> int:
        try:
            root = psutil.Process(self.proc.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)   # its own session, started by us
                self.proc.wait(10)


def serve(settings: Settings, log: Path) -> Server:
    port = free_port()
    # The app of this checkout (as ``mutuelle serve --no-warm-up`` runs it), one worker.
    env = {**os.environ, "MUTUELLE_HOME": str(settings.home), "MUTUELLE_LOG_LEVEL": "WARNING",
           "MUTUELLE_DATABASE_URL": settings.database_url, "MUTUELLE_WARM_UP": "0",
           "PYTHONPATH": str(HERE.parent)}
    with open(log, "wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "mutuelle.app:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                env=env, cwd=HERE.parent, stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.base + "/api/organisations", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise SystemExit(f"the server did not answer:\n{log.read_text()[-3000:]}")


class Sampler:
    """The server's RSS every 20 ms, in a thread."""

    def __init__(self, server: Server) -> None:
        self.server, self.peak, self.running = server, server.rss(), True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.server.rss())
            time.sleep(0.02)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


CALLS: dict[str, str] = {
    "explore list (limit=20)": f"{EXPLORE}/datasets?limit=20",
    "explore search q=écoles": f"{EXPLORE}/datasets?limit=20&q=%C3%A9coles",
    "explore where=search() + refine": f"{EXPLORE}/datasets?limit=20&where=search(%22budget%202024%22)&refine=theme:Finances",
    "explore facets (9)": f"{EXPLORE}/facets",
    "explore export json limit=100": f"{EXPLORE}/exports/json?limit=100",
    "native /api/datasets?q=ecoles": "/api/datasets?q=ecoles&limit=20",
    "web /catalogue": "/catalogue",
    "web /catalogue?q=écoles&theme=…": "/catalogue?q=%C3%A9coles&theme=%C3%89ducation",
    "web / (home)": "/",
}
FULL_EXPORTS = {"export json (all)": f"{EXPLORE}/exports/json", "export csv (all)": f"{EXPLORE}/exports/csv",
                "export xlsx (all)": f"{EXPLORE}/exports/xlsx"}
WEB = ("web /catalogue", "web /catalogue?q=écoles&theme=…", "web / (home)")


def timed(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
    return elapsed


def measure(server: Server, repeat: int) -> dict[str, object]:
    out: dict[str, object] = {}
    with httpx.Client(base_url=server.base, timeout=300) as client:
        out["first call (copy + index), ms"] = timed(client, CALLS["explore list (limit=20)"])
        sampler = Sampler(server)
        times: dict[str, list[float]] = {name: [] for name in CALLS}
        for path in CALLS.values():   # warm-up
            for _ in range(3):
                timed(client, path)
        for _ in range(repeat):   # interleaved, so that a busy machine slows them alike
            for name, path in CALLS.items():
                times[name].append(timed(client, path))
        out["calls"] = {name: (statistics.median(v), statistics.quantiles(v, n=20)[18] if len(v) > 1 else v[0])
                        for name, v in times.items()}
        out["peak rss, MiB"] = sampler.stop() / 2**20
        exports = {}
        for name, path in FULL_EXPORTS.items():
            before = server.rss()
            sampler = Sampler(server)
            started = time.perf_counter()
            size = 0
            with client.stream("GET", path) as response:
                for chunk in response.iter_bytes():
                    size += len(chunk)
            exports[name] = ((time.perf_counter() - started) * 1000, size / 1e6,
                             (sampler.stop() - before) / 2**20)
        out["exports"] = exports
    return out


def reference(settings: Settings, repeat: int) -> dict[str, float]:
    """The plain SQL of an anonymous listing on the catalogue database, in process."""
    engine = create_engine(settings.catalog_url)
    visible = "status = 'published' AND access = 'public'"
    queries = {
        "count": f"SELECT count(*) FROM dataset WHERE {visible}",
        "page by title": f"SELECT id, slug, title FROM dataset WHERE {visible} ORDER BY title LIMIT 20",
        "per organisation": f"SELECT organisation_id, count(*) FROM dataset WHERE {visible} GROUP BY 1 ORDER BY 2 DESC",
        "LIKE '%ecole%' on titles": f"SELECT id FROM dataset WHERE {visible} AND lower(title) LIKE '%écoles%' LIMIT 20",
    }
    out = {}
    with engine.connect() as con:
        for name, sql in queries.items():
            samples = []
            for _ in range(repeat + 3):
                started = time.perf_counter()
                con.execute(text(sql)).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = statistics.median(samples[3:])
    engine.dispose()
    return out


def index_in_process(settings: Settings) -> dict[str, float]:
    """The copy of the catalogue made anew in this process, in ms: once cold (the first time
    this process reads the catalogue and loads what that needs), then warm, then the
    incremental refresh after one dataset's change (which is put back afterwards)."""
    from mutuelle.catalog.search import CatalogueIndex

    out = {}
    with sessions(settings)() as session:
        for name in ("full copy, cold", "full copy, warm"):
            started = time.perf_counter()
            index = CatalogueIndex()
            index.refresh(session)
            out[name] = (time.perf_counter() - started) * 1000
        dataset = session.query(Dataset).order_by(Dataset.slug).first()
        if dataset is not None:
            title = dataset.title
            dataset.title = f"{title} (bench)"
            session.commit()
            started = time.perf_counter()
            index.refresh(session)
            out["one dataset changed"] = (time.perf_counter() - started) * 1000
            dataset.title = title
            session.commit()
    return out


def report(backend: str, size: int, built: float | None, result: dict[str, object],
           ref: dict[str, float], copy: dict[str, float]) -> list[str]:
    target = 30 if size <= 2000 else 100
    verdicts = []
    print(f"\n== {backend}, {size:,} datasets" + (f" (built in {built:.0f} s)" if built else ""))
    print(f"first call after start (copies the entries, indexes the words): {result['first call (copy + index), ms']:.0f} ms")
    print(f"{'call':40} {'p50 ms':>8} {'p95 ms':>8}  target")
    for name, (p50, p95) in result["calls"].items():  # type: ignore[attr-defined]
        goal = 100 if name in WEB and size > 2000 else target if size in (2000, 50000) else None
        ok = "" if goal is None else ("ok" if p50 <= goal else "MISSED") + f" (≤ {goal})"
        if goal is not None and p50 > goal:
            verdicts.append(f"{backend} {size}: {name} p50 {p50:.1f} ms > {goal}")
        print(f"{name:40} {p50:8.1f} {p95:8.1f}  {ok}")
    print(f"peak server RSS during the calls: {result['peak rss, MiB']:.0f} MiB")
    for name, (ms, mb, grown) in result["exports"].items():  # type: ignore[attr-defined]
        print(f"{name:40} {ms:8.0f} ms  {mb:7.1f} MB  RSS +{grown:.0f} MiB")
    print("the copy of the catalogue (entries and their indexes) made in process:")
    for name, ms in copy.items():
        print(f"  {name:38} {ms:8.0f} ms")
    print("plain SQL on the catalogue database, in process (reference, anonymous listing):")
    for name, ms in ref.items():
        print(f"  {name:38} {ms:8.2f} ms")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000,50000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    verdicts: list[str] = []
    print(f"load average at start: {os.getloadavg()}")
    for backend in args.backends.split(","):
        for size in map(int, args.sizes.split(",")):
            settings = settings_for(backend, size)
            built = None
            if args.rebuild or not (settings.home / "built").exists():
                print(f"building {backend} {size:,} ...")
                fresh(settings, backend, size)
                built = build(settings, size)
                (settings.home / "built").write_text("1")
            server = serve(settings, OUT / f"catalog_{backend}_{size}.log")
            try:
                result = measure(server, args.repeat)
            finally:
                server.stop()
            verdicts += report(backend, size, built, result, reference(settings, args.repeat),
                               index_in_process(settings))
    print(f"\nload average at end: {os.getloadavg()}")
    print("\ntargets: p50 of every catalogue call ≤ 30 ms at 2,000 and ≤ 100 ms at 50,000; "
          "web catalogue page ≤ 100 ms at 50,000; export memory flat")
    print("\n".join(verdicts) if verdicts else "every target met")


if __name__ == "__main__":
    main()
