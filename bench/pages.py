"""Benchmark of the pages in a browser: how soon each is interactive, what it weighs in
JavaScript and CSS, and whether it loads the map library.

Makes a fresh demo portal (``mutuelle db upgrade`` and ``mutuelle demo`` in a new home under
``bench/out/pages/``), serves it with ``mutuelle serve`` on a free 127.0.0.1 port (after its
warm-up), and drives Debian's headless Chromium (Playwright, launched as the tests launch it)
over: the home page, the catalogue, a dataset's page (by default a 1,000,000-row job-offers
dataset, the generator of ``bench/ingest.py``, imported and published in the demo; else the
``--dataset`` given) and each of its tabs (found by
``[role=tab]``: ``?tab=...`` links or ``#panel`` targets), the observatory's map, the
dashboards with the first one if the portal has them, and the issue's "12-block dashboard"
(its page and its embed): a public dashboard of KPIs, charts, maps, a table, a text and
indicators over the demo's data, saved through the API (``POST /api/charts`` and
``POST /api/dashboards``) with a write key of a member made by the command line.

Per page and run (a fresh browser context: nothing cached): the load event after navigation
start; then a click on the first tab (else the first non-submit button, a ``<summary>``, the
``<main>``), and the time from that click to the first frame after its handlers ran (the input
delay: the main thread still busy with scripts shows there); time to interactive = load +
input delay. Bytes of JS and CSS are the bodies of the script and stylesheet responses.

The reference, measured in the same run, page by page, alternating: the same page as a static
snapshot served by ``python -m http.server`` (its DOM once loaded, scripts removed, same
stylesheets and images): what the browser itself needs to show that content, with no server
work and no script. Printed: medians, the ratio to the snapshot, and the targets (interactive
under 1 s; no map library on a page without a map).

    uv run --group bench python bench/pages.py [--runs 5] [--big-rows N | --dataset SLUG] [--keep-home]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "pages"
STATIC = ROOT / "mutuelle" / "web" / "static"
BIN = Path(sys.executable).parent
TARGET_MS = 1000.0
MAP_LIBRARY = "maplibre-gl"
#: Where a click is tried, in order: the page's first control that does not leave the page.
CLICK_TARGETS = ("[role=tab]", "button:not([type=submit])", "summary", "main")
#: Pages that show a map: the only ones that may load the map library.
MAP_PAGES = ("/observatoire", "tab=map", "tab=carte", "#map", "#carte", "/dashboards/")
#: The member whose write key saves the 12-block dashboard, and that dashboard's title.
BENCH_MEMBER = "bench-pages@bench.example"
TWELVE_BLOCKS = "Banc d’essai : douze blocs"
METROPOLIS = "metropole-val-sauvage"
SCHOOLS, OFFERS = "etablissements-scolaires", "offres-emploi-2025"

#: Runs in every page before its own scripts: notes when the bench's click is dispatched and
#: the first frame after the handlers of that click.
PROBE = """
window.__bench = {};
document.addEventListener('click', (event) => {
  if (window.__bench.clicked) return;
  window.__bench.clicked = performance.now();
  window.__bench.stamp = event.timeStamp;
  if (event.target.closest && event.target.closest('a[href]:not([href^="#"])')) {
    event.preventDefault();   // a tab written as a link must not leave the page measured
  }
  requestAnimationFrame(() => { window.__bench.painted = performance.now(); });
}, true);
"""


@dataclass
class Run:
    """One visit of one page."""

    load_ms: float
    input_ms: float
    js_bytes: int
    css_bytes: int
    map_library: bool
    clicked: str

    @property
    def interactive_ms(self) -> float:
        return self.load_ms + self.input_ms


@dataclass
class Page:
    """A page measured, with its runs on the portal and on its static snapshot."""

    name: str
    path: str
    ours: list[Run] = field(default_factory=list)
    floor: list[Run] = field(default_factory=list)
    snapshot: str = ""


# -- the servers -----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Served:
    """A process serving HTTP on a free 127.0.0.1 port, in its own process group."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None,
                 ready: str = "/") -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = OUT / f"{name}.log"
        self.started = time.monotonic()
        with open(self.log, "wb") as handle:
            self.proc = subprocess.Popen([part.replace("{port}", str(self.port)) for part in cmd],
                                         env=env, stdout=handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while not _answers(self.base + ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{name} did not start: see {self.log}")
            time.sleep(0.2)

    def wait_for_log(self, marker: bytes, timeout: float = 600) -> float:
        """Seconds from start until ``marker`` appears in the log."""
        deadline = time.monotonic() + timeout
        while marker not in self.log.read_bytes():
            if time.monotonic() > deadline:
                raise SystemExit(f"no {marker!r} in {timeout} s: see {self.log}")
            time.sleep(0.2)
        return time.monotonic() - self.started

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


def demo_home() -> Path:
    """A fresh home holding the demo territory, made by the command line."""
    home = OUT / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MUTUELLE_HOME": str(home)}
    for args in (["db", "upgrade"], ["demo"]):
        subprocess.run([str(BIN / "mutuelle"), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return home


def add_big_dataset(home: Path, rows: int) -> str:
    """The job offers of ``bench/ingest.py`` (``rows`` rows, with points) imported into ``home``
    and published, as a city would: the dataset page of the issue's 1M-row dataset."""
    sys.path.insert(0, str(ROOT / "bench"))
    from ingest import generate  # the same generator as bench/ingest.py and bench/api.py

    source = ROOT / "bench" / "out" / f"offres_{rows}.csv"
    if not source.exists():
        print(f"generating {source.name} ...", flush=True)
        generate(source, rows)
    env = {**os.environ, "MUTUELLE_HOME": str(home)}
    slug = f"offres-{rows}"
    started = time.perf_counter()
    for args in (["import", str(source), "--dataset", slug, "--organisation",
                  "metropole-val-sauvage", "--title", f"Offres d'emploi ({rows:,} lignes)"],
                 ["datasets", "publish", slug]):
        subprocess.run([str(BIN / "mutuelle"), *args], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    print(f"{rows:,} rows imported and published in {time.perf_counter() - started:.1f} s")
    return slug


def serve_portal(home: Path) -> Served:
    """``mutuelle serve`` over ``home``, once its warm-up has ended."""
    env = {**os.environ, "MUTUELLE_HOME": str(home), "MUTUELLE_LOG_LEVEL": "INFO"}
    server = Served("portal", [str(BIN / "mutuelle"), "serve", "--host", "127.0.0.1", "--port",
                               "{port}", "--warm-up"], env)
    print(f"portal on {server.base}, warmed up in {server.wait_for_log(b'warm_up '):.1f} s")
    return server


def serve_snapshots(folder: Path) -> Served:
    """``python -m http.server`` over ``folder`` (snapshots, and ``static`` beside them)."""
    return Served("snapshots", [sys.executable, "-m", "http.server", "{port}", "--bind",
                                "127.0.0.1", "--directory", str(folder)], ready="/static/favicon.svg")


# -- the pages -------------------------------------------------------------------------------

def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def largest_dataset(base: str) -> str:
    """The demo dataset with the most records."""
    listing = _get_json(f"{base}/api/explore/v2.1/catalog/datasets?limit=100")["results"]
    return str(max(listing, key=lambda d: d["metas"]["default"].get("records_count") or 0)
               ["dataset_id"])


def tabs_of(browser: Any, base: str, path: str) -> list[tuple[str, str]]:
    """(name, path) of each ``[role=tab]`` of the page at ``path``."""
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(base + path, wait_until="load")
    found = page.eval_on_selector_all("[role=tab]", """tabs => tabs.map(t => ({
        text: t.textContent.trim(), href: t.getAttribute('href') || '',
        controls: t.getAttribute('aria-controls') || ''}))""")
    context.close()
    tabs = []
    for tab in found:
        if tab["href"].startswith("?") or tab["href"].startswith("/"):
            target = tab["href"] if tab["href"].startswith("/") else path + tab["href"]
        elif tab["href"].startswith("#") and len(tab["href"]) > 1:
            target = path + tab["href"]
        elif tab["controls"]:
            target = f"{path}#{tab['controls']}"
        else:
            continue
        tabs.append((f"dataset: {' '.join(tab['text'].split())[:24]}", target))
    return tabs


def dashboard_pages(base: str, other_than: str | None = None) -> list[tuple[str, str]]:
    """The dashboards list and its first dashboard (not ``other_than``, an id), when the portal
    has them."""
    try:
        with urllib.request.urlopen(f"{base}/dashboards", timeout=30) as response:
            html = response.read().decode()
    except OSError:
        return []
    first = next((path for path in re.findall(r'href="(/dashboards/[\w-]+)"', html)
                  if path != f"/dashboards/{other_than}"), None)
    return [("dashboards", "/dashboards")] + ([("dashboard", first)] if first else [])


def _call(method: str, url: str, key: str, body: Any = None) -> Any:
    """A call of the portal's API with ``key``, its JSON answer (a refusal stops the bench)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Apikey {key}", "Accept": "application/json",
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{method} {url}: {exc.code} {exc.read().decode(errors='replace')}") from None


def write_key(home: Path) -> str:
    """A write key of a site administrator made for the bench, by the command line."""
    env = {**os.environ, "MUTUELLE_HOME": str(home)}
    mutuelle = str(BIN / "mutuelle")
    # made once per home (kept by --keep-home): an account already there is fine
    subprocess.run([mutuelle, "users", "add", BENCH_MEMBER, "--site-admin"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    made = subprocess.run([mutuelle, "keys", "create", BENCH_MEMBER, "--scope", "write",
                           "--name", "bench/pages.py"], env=env, check=True,
                          capture_output=True, text=True)
    return made.stdout.strip().splitlines()[-1]


def twelve_block_blocks(schools_chart: str, offers_chart: str) -> list[dict[str, Any]]:
    """Four KPIs, two indicators, a text, two maps, two charts and a table over the demo's
    public data, laid out on the 12-column grid."""
    kpi = {"dataset": SCHOOLS, "measure": "count"}
    return [
        {"kind": "kpi", "x": 0, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Habitants", "dataset": "population-iris-2021", "measure": "sum",
                 "field": "pop_total", "unit": "habitants"}},
        {"kind": "kpi", "x": 3, "y": 0, "w": 3, "h": 2,
         "kpi": {**kpi, "label": "Établissements scolaires", "unit": "établissements"}},
        {"kind": "kpi", "x": 6, "y": 0, "w": 3, "h": 2,
         "kpi": {**kpi, "label": "Élèves", "measure": "sum", "field": "effectif",
                 "unit": "élèves"}},
        {"kind": "kpi", "x": 9, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Offres d’emploi du mois", "dataset": OFFERS, "measure": "count",
                 "unit": "offres", "period_field": "date_publication", "period_grain": "month"}},
        {"kind": "indicator", "x": 0, "y": 2, "w": 3, "h": 2,
         "indicator": {"indicator": "taux-pauvrete"}},
        {"kind": "indicator", "x": 3, "y": 2, "w": 3, "h": 2,
         "indicator": {"indicator": "offres-pour-1000-habitants"}},
        {"kind": "text", "x": 6, "y": 2, "w": 6, "h": 2, "title": "À propos",
         "text": "Un tableau de bord de **douze blocs**, mesuré par `bench/pages.py`."},
        {"kind": "map", "x": 0, "y": 4, "w": 6, "h": 4, "title": "Part des 75 ans ou plus",
         "map": {"indicator": "part-75-ans-plus", "level": "commune"}},
        {"kind": "map", "x": 6, "y": 4, "w": 6, "h": 4, "title": "Les établissements",
         "map": {"dataset": SCHOOLS}},
        {"kind": "chart", "x": 0, "y": 8, "w": 6, "h": 3, "chart": schools_chart},
        {"kind": "chart", "x": 6, "y": 8, "w": 6, "h": 3, "chart": offers_chart},
        {"kind": "table", "x": 0, "y": 11, "w": 12, "h": 3, "title": "Les plus grands établissements",
         "table": {"dataset": SCHOOLS, "columns": ["nom", "type_etablissement", "secteur",
                                                   "effectif", "nom_commune"],
                   "order_by": "effectif desc", "rows": 10}},
    ]


def twelve_block_dashboard(home: Path, base: str) -> str:
    """The id of the public 12-block dashboard, saved through the API when the portal does not
    have it yet (a kept home does)."""
    key = write_key(home)
    found = _call("GET", f"{base}/api/dashboards?limit=100", key)["results"]
    for dashboard in found:
        if dashboard["title"] == TWELVE_BLOCKS:
            return str(dashboard["id"])
    schools = _call("POST", f"{base}/api/charts", key, {
        "title": "Établissements par type (banc d’essai)", "dataset": SCHOOLS,
        "organisation": METROPOLIS, "access": "public",
        "params": {"type": "bar", "x": "type_etablissement", "aggregation": "count",
                   "series": "secteur"}})
    offers = _call("POST", f"{base}/api/charts", key, {
        "title": "Offres d’emploi par mois (banc d’essai)", "dataset": OFFERS,
        "organisation": METROPOLIS, "access": "public",
        "params": {"type": "line", "x": "date_publication", "grain": "month",
                   "aggregation": "count"}})
    made = _call("POST", f"{base}/api/dashboards", key, {
        "title": TWELVE_BLOCKS, "organisation": METROPOLIS, "access": "public",
        "description": "Le tableau de bord de douze blocs de l’issue : interactif en moins d’une "
                       "seconde.",
        "blocks": twelve_block_blocks(schools["id"], offers["id"])})
    print(f"12-block dashboard saved through the API: /dashboards/{made['id']}")
    return str(made["id"])


def pages_to_measure(browser: Any, base: str, dataset: str | None,
                     twelve: str | None = None) -> list[Page]:
    dataset = dataset or largest_dataset(base)
    found = [("home", "/"), ("catalogue", "/catalogue"), (f"dataset {dataset}", f"/datasets/{dataset}")]
    found += tabs_of(browser, base, f"/datasets/{dataset}")
    found += [("observatory map", "/observatoire")] + dashboard_pages(base, other_than=twelve)
    if twelve:
        found += [("dashboard of 12 blocks", f"/dashboards/{twelve}"),
                  ("dashboard of 12 blocks: embed", f"/dashboards/{twelve}/embed")]
    seen: set[str] = set()
    return [Page(name, path) for name, path in found if not (path in seen or seen.add(path))]


# -- one visit -------------------------------------------------------------------------------

def visit(browser: Any, url: str, snapshot_to: Path | None = None) -> Run:
    """Load ``url`` in a fresh context, click its first control, measure (and keep its DOM,
    scripts removed, as a snapshot when ``snapshot_to`` is given)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
    context.add_init_script(PROBE)
    page = context.new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        clicked = ""
        for selector in CLICK_TARGETS:
            target = page.locator(selector).first
            if target.count() and target.is_visible():
                target.click(timeout=10_000, no_wait_after=True)
                clicked = selector
                break
        page.wait_for_function("window.__bench.painted !== undefined", timeout=30_000)
        probe = page.evaluate("window.__bench")
        # a map may keep asking for tiles: the bytes so far are counted
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_load_state("networkidle", timeout=5_000)
        if snapshot_to is not None:
            _snapshot(page, snapshot_to)
        js = css = 0
        library = False
        for response in responses:
            kind = response.request.resource_type
            library = library or MAP_LIBRARY in urlsplit(response.url).path
            if kind in ("script", "stylesheet") and response.ok:
                size = len(response.body())
                js += size if kind == "script" else 0
                css += size if kind == "stylesheet" else 0
        return Run(load_ms=float(load_ms), input_ms=float(probe["painted"] - probe["clicked"]),
                   js_bytes=js, css_bytes=css, map_library=library, clicked=clicked)
    finally:
        context.close()


def _snapshot(page: Any, path: Path) -> None:
    page.evaluate("""() => {
        document.querySelectorAll('script, link[rel=modulepreload]').forEach(s => s.remove());
    }""")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.content(), encoding="utf-8")  # with its doctype


# -- the run ---------------------------------------------------------------------------------

def _median(runs: list[Run], name: str) -> float:
    return statistics.median(getattr(r, name) for r in runs)


def _shows_map(page: Page) -> bool:
    return any(marker in page.path for marker in MAP_PAGES)


def report(pages: list[Page]) -> list[str]:
    """The table of medians, and what misses its target."""
    head = (f"{'page':<34} {'load':>6} {'input':>6} {'TTI':>6} {'floor':>6} {'ratio':>6} "
            f"{'JS kB':>7} {'CSS kB':>7} {'map lib':>7}  clicked")
    lines, misses = [head, "-" * len(head)], []
    for page in pages:
        tti, floor = _median(page.ours, "interactive_ms"), _median(page.floor, "interactive_ms")
        library = any(r.map_library for r in page.ours)
        lines.append(
            f"{page.name[:34]:<34} {_median(page.ours, 'load_ms'):>6.0f} "
            f"{_median(page.ours, 'input_ms'):>6.0f} {tti:>6.0f} {floor:>6.0f} "
            f"{tti / floor if floor else float('nan'):>6.2f} "
            f"{_median(page.ours, 'js_bytes') / 1000:>7.1f} "
            f"{_median(page.ours, 'css_bytes') / 1000:>7.1f} {'yes' if library else 'no':>7}  "
            f"{page.ours[-1].clicked}")
        if tti > TARGET_MS:
            misses.append(f"{page.name}: interactive in {tti:.0f} ms (target {TARGET_MS:.0f})")
        if library and not _shows_map(page):
            misses.append(f"{page.name}: loads the map library without showing a map")
    lines.append("")
    lines += [f"MISSED {m}" for m in misses] or [
        f"every page interactive under {TARGET_MS:.0f} ms; the map library only on map pages"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed visits per page and side")
    parser.add_argument("--dataset", help="the dataset page to measure (default: the largest)")
    parser.add_argument("--big-rows", type=int, default=1_000_000,
                        help="rows of the job-offers dataset added to the demo and measured "
                             "(0: the demo's largest dataset instead)")
    parser.add_argument("--keep-home", action="store_true",
                        help="reuse bench/out/pages/home if it exists")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    kept = args.keep_home and (OUT / "home").exists()
    home = OUT / "home" if kept else demo_home()
    if args.big_rows and not args.dataset:
        args.dataset = f"offres-{args.big_rows}" if kept else add_big_dataset(home, args.big_rows)
    snapshots = OUT / "snapshots"
    shutil.rmtree(snapshots, ignore_errors=True)
    (snapshots / "snap").mkdir(parents=True)
    (snapshots / "static").symlink_to(STATIC, target_is_directory=True)

    from playwright.sync_api import sync_playwright

    portal = serve_portal(home)
    floor_server = serve_snapshots(snapshots)
    try:
        twelve = twelve_block_dashboard(home, portal.base)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=os.environ.get("MUTUELLE_CHROMIUM", "/usr/bin/chromium"),
                headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                                     "--no-first-run", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync"])
            pages = pages_to_measure(browser, portal.base, args.dataset, twelve)
            for number, page in enumerate(pages):
                # an untimed first visit warms the server's caches and makes the snapshot
                snap = snapshots / "snap" / f"{number:02d}.html"
                visit(browser, portal.base + page.path, snapshot_to=snap)
                fragment = page.path.partition("#")[2]
                page.snapshot = f"/snap/{snap.name}" + (f"#{fragment}" if fragment else "")
                for _ in range(args.runs):
                    page.ours.append(visit(browser, portal.base + page.path))
                    page.floor.append(visit(browser, floor_server.base + page.snapshot))
                print(f"  measured {page.name} ({page.path})", flush=True)
            browser.close()
    finally:
        portal.stop()
        floor_server.stop()
    lines = report(pages)
    print(f"\nmedians of {args.runs} runs, ms (TTI = load + input delay; floor = the same page "
          f"as a static snapshot on http.server; load average {os.getloadavg()[0]:.1f})")
    print("\n".join(lines))
    (OUT / "results.json").write_text(json.dumps(
        [{"name": p.name, "path": p.path, "ours": [asdict(r) for r in p.ours],
          "floor": [asdict(r) for r in p.floor]} for p in pages], indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
