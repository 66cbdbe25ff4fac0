"""The synthetic demo territory: deterministic, valid geometry, plausible spatial structure."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from pathlib import Path

import pytest

from mutuelle.core.config import Settings
from mutuelle.demo import Demo, generate_demo
from mutuelle.demo.datasets import uai
from mutuelle.demo.territory import NX, build_territory, luhn_complete, trace
from mutuelle.ingest.model import COLUMN_TYPES, CONCEPTS
from mutuelle.store.duck import connect

CP1252 = "cp1252"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return generate_demo(tmp_path_factory.mktemp("demo"), seed=2026)


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    connection = connect(Settings(home=tmp_path_factory.mktemp("home")))
    yield connection
    connection.close()


def dataset(demo: Demo, slug: str):
    return next(d for d in demo.datasets if d.slug == slug)


def rows(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if not path.name.startswith("budget") else raw.decode(CP1252)
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def number(text: str) -> float:
    return float(text.replace(",", "."))


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_byte_identical_files(demo: Demo, tmp_path: Path) -> None:
    again = generate_demo(tmp_path, seed=2026)
    first = demo.datasets[0].path.parent
    assert files(first) == files(tmp_path)
    assert [d.slug for d in again.datasets] == [d.slug for d in demo.datasets]


def test_another_seed_gives_another_territory(demo: Demo, tmp_path: Path) -> None:
    generate_demo(tmp_path, seed=2027)
    first = files(demo.datasets[0].path.parent)
    other = files(tmp_path)
    assert first.keys() == other.keys()
    assert first["iris.geojson"] != other["iris.geojson"]
    assert first["revenus-iris-2021.csv"] != other["revenus-iris-2021.csv"]


def test_generation_takes_less_than_five_seconds(tmp_path: Path) -> None:
    start = time.perf_counter()
    generate_demo(tmp_path, seed=99)
    assert time.perf_counter() - start < 5


def test_organisations_are_a_metropolis_its_eight_communes_and_partners(demo: Demo) -> None:
    kinds = [o.kind for o in demo.organisations]
    assert kinds.count("territory") == 1 and kinds.count("city") == 8 and "partner" in kinds
    metro = demo.organisations[0]
    assert metro.kind == "territory" and len(metro.siren or "") == 9
    cities = [o for o in demo.organisations if o.kind == "city"]
    assert all(o.parent == metro.slug for o in cities)
    assert [o.has_portal for o in cities].count(False) == 1
    for o in demo.organisations:
        if o.siren:
            assert len(o.siren) == 9 and luhn_complete(o.siren[:-1]) == o.siren
    slugs = [o.slug for o in demo.organisations]
    assert len(set(slugs)) == len(slugs)
    assert all(o.parent is None or slugs.index(o.parent) < slugs.index(o.slug)
               for o in demo.organisations)
    assert {d.organisation for d in demo.datasets} <= set(slugs)


def test_counts_of_communes_iris_and_qpv(demo: Demo) -> None:
    communes = json.loads(dataset(demo, "communes-val-sauvage").path.read_text("utf-8"))
    iris = json.loads(dataset(demo, "iris-val-sauvage").path.read_text("utf-8"))
    qpv = json.loads(dataset(demo, "qpv-val-sauvage").path.read_text("utf-8"))
    assert len(communes["features"]) == 8
    assert len(iris["features"]) >= 250
    assert len(qpv["features"]) == 5
    types = {f["properties"]["typ_iris"] for f in iris["features"]}
    assert {"H", "A", "D"} <= types


def test_codes_are_shaped_like_insee_codes(demo: Demo) -> None:
    iris = json.loads(dataset(demo, "iris-val-sauvage").path.read_text("utf-8"))
    communes = {f["properties"]["code_commune"] for f in iris["features"]}
    assert all(len(c) == 5 and c.startswith("96") for c in communes)
    codes = [f["properties"]["code_iris"] for f in iris["features"]]
    assert len(set(codes)) == len(codes)
    for f in iris["features"]:
        p = f["properties"]
        assert len(p["code_iris"]) == 9 and p["code_iris"].isdigit()
        assert p["code_iris"].startswith(p["code_commune"])
    qpv = json.loads(dataset(demo, "qpv-val-sauvage").path.read_text("utf-8"))
    assert all(f["properties"]["code_qpv"].startswith("QN096") for f in qpv["features"])
    assert uai(1) == "0960001" + "ABCDEFGHJKLMNPRSTUVWXYZ"[960001 % 23]


def test_every_polygon_is_valid(demo: Demo, con) -> None:
    for slug in ("iris-val-sauvage", "communes-val-sauvage", "qpv-val-sauvage"):
        path = dataset(demo, slug).path
        invalid = con.execute("SELECT count(*) FILTER (WHERE NOT ST_IsValid(geom)), count(*) "
                              "FROM ST_Read(?)", [str(path)]).fetchone()
        assert invalid[0] == 0 and invalid[1] > 0, slug


def test_iris_and_communes_share_edges_without_overlapping(demo: Demo, con) -> None:
    for slug, key in (("iris-val-sauvage", "code_iris"), ("communes-val-sauvage", "code_commune")):
        path = str(dataset(demo, slug).path)
        touching, overlaps, area = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE ST_Overlaps(a.geom, b.geom)), "
            f"coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) "
            f"FROM ST_Read(?) a JOIN ST_Read(?) b "
            f"ON a.{key} < b.{key} AND ST_Intersects(a.geom, b.geom)", [path, path]).fetchone()
        assert touching > 0 and overlaps == 0 and area < 1e-12, slug


def test_iris_exactly_tile_their_commune(demo: Demo, con) -> None:
    gap = con.execute(
        "SELECT max(ST_Area(ST_Difference(c.geom, u.g)) + ST_Area(ST_Difference(u.g, c.geom))) "
        "FROM ST_Read(?) c JOIN (SELECT code_commune, ST_Union_Agg(geom) AS g FROM ST_Read(?) "
        "GROUP BY code_commune) u USING (code_commune)",
        [str(dataset(demo, "communes-val-sauvage").path),
         str(dataset(demo, "iris-val-sauvage").path)]).fetchone()[0]
    assert gap < 1e-10


def test_trace_keeps_rings_simple_where_cells_touch_at_a_corner(con) -> None:
    # A ring of cells closed by a corner contact, and two cells touching at a corner only.
    ring = [1 + NX * 1, 2 + NX * 1, 3 + NX * 1, 3 + NX * 2, 3 + NX * 3, 2 + NX * 3, 1 + NX * 4,
            0 + NX * 4, 0 + NX * 3, 0 + NX * 2, 1 + NX * 2]
    t = build_territory(5)
    for cells, parts in ((ring, 1), ([0, 1 + NX], 2), ([0, 1, 2, NX, NX + 2, 2 * NX, 2 * NX + 1,
                                                       2 * NX + 2], 1)):
        polygons = trace(cells)
        assert len(polygons) == parts
        coords = [[[list(t.vertices[v]) for v in r] for r in p] for p in polygons]
        geom = {"type": "MultiPolygon", "coordinates": coords}
        valid = con.execute("SELECT ST_IsValid(ST_GeomFromGeoJSON(?))", [json.dumps(geom)]).fetchone()
        assert valid[0], cells


def _iris_incomes(demo: Demo) -> dict[str, float]:
    return {r["code_iris"]: number(r["revenu_median_uc"])
            for r in rows(dataset(demo, "revenus-iris-2021").path)
            if int(r["nb_menages"]) >= 200}


def test_income_is_spatially_autocorrelated(demo: Demo, con) -> None:
    income = _iris_incomes(demo)
    path = str(dataset(demo, "iris-val-sauvage").path)
    pairs = [(a, b) for a, b in con.execute(
        "SELECT a.code_iris, b.code_iris FROM ST_Read(?) a JOIN ST_Read(?) b "
        "ON a.code_iris < b.code_iris AND ST_Intersects(a.geom, b.geom) "
        "AND ST_Length(ST_Intersection(a.geom, b.geom)) > 0", [path, path]).fetchall()
        if a in income and b in income]
    values = list(income.values())
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    # Moran's I with binary contiguity weights.
    moran = (len(values) / len(pairs)) * sum(
        (income[a] - mean) * (income[b] - mean) for a, b in pairs) / (len(values) * variance)
    assert moran > 0.4
    rng = random.Random(1)
    codes = sorted(income)
    random_pairs = [tuple(rng.sample(codes, 2)) for _ in range(2000)]
    near = sum(abs(income[a] - income[b]) for a, b in pairs) / len(pairs)
    far = sum(abs(income[a] - income[b]) for a, b in random_pairs) / len(random_pairs)
    assert near < 0.6 * far


def test_qpv_lie_in_low_income_iris(demo: Demo, con) -> None:
    income = _iris_incomes(demo)
    touched = {code for (code,) in con.execute(
        "SELECT DISTINCT i.code_iris FROM ST_Read(?) i JOIN ST_Read(?) q "
        "ON ST_Intersects(i.geom, q.geom) AND ST_Area(ST_Intersection(i.geom, q.geom)) > 0",
        [str(dataset(demo, "iris-val-sauvage").path),
         str(dataset(demo, "qpv-val-sauvage").path)]).fetchall()}
    inside = [v for k, v in income.items() if k in touched]
    outside = [v for k, v in income.items() if k not in touched]
    assert len(inside) >= 5
    assert sum(inside) / len(inside) < 0.8 * sum(outside) / len(outside)
    assert sorted(income.values())[len(income) // 2] > max(sorted(inside)[: len(inside) // 2])


def test_poverty_falls_as_income_rises(demo: Demo) -> None:
    data = [(number(r["revenu_median_uc"]), number(r["taux_pauvrete"]))
            for r in rows(dataset(demo, "revenus-iris-2021").path)]
    rich = [p for i, p in data if i > 28000]
    poor = [p for i, p in data if i < 16000]
    assert rich and poor and max(rich) < min(poor)


def test_points_lie_in_the_commune_they_name(demo: Demo, con, tmp_path: Path) -> None:
    communes = str(dataset(demo, "communes-val-sauvage").path)
    for slug, sep in (("offres-emploi-2025", ";"), ("etablissements-scolaires", ",")):
        wrong, total = con.execute(
            f"SELECT count(*) FILTER (WHERE c.code_commune IS DISTINCT FROM p.code_commune), "
            f"count(*) FROM read_csv(?, delim='{sep}', all_varchar=true) p "
            f"LEFT JOIN ST_Read(?) c ON ST_Contains(c.geom, ST_Point("
            f"replace(p.longitude, ',', '.')::DOUBLE, replace(p.latitude, ',', '.')::DOUBLE))",
            [str(dataset(demo, slug).path), communes]).fetchone()
        assert wrong == 0 and total > 300, slug
    assert len(rows(dataset(demo, "offres-emploi-2025").path)) >= 2000


def test_small_counts_exist_for_statistical_secrecy(demo: Demo) -> None:
    seekers = rows(dataset(demo, "demandeurs-emploi-iris-rome").path)
    assert len({r["code_rome"] for r in seekers}) >= 15
    assert sum(int(r["nb_demandeurs"]) < 11 for r in seekers) > len(seekers) / 2
    households = [int(r["nb_menages"]) for r in rows(dataset(demo, "revenus-iris-2021").path)]
    assert min(households) < 50


def test_c2s_take_up_varies_across_the_territory(demo: Demo) -> None:
    rates = [float(r["taux_recours"]) for r in rows(dataset(demo, "c2s-recours-iris-2024").path)
             if r["taux_recours"] and int(r["nb_eligibles"]) >= 50]
    assert max(rates) - min(rates) > 20
    assert all(0 <= r <= 100 for r in rates)


def test_budget_files_are_windows_1252_with_decimal_commas(demo: Demo) -> None:
    budgets = [d for d in demo.datasets if d.slug.startswith("budget-")]
    assert len(budgets) == 7
    for d in budgets:
        raw = d.path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert "œ".encode(CP1252) in raw and b"\r\n" in raw
        first = rows(d.path)[0]
        assert first["chapitre"] == "011" and "," in first["credits_ouverts"]
        assert first["date_vote"][2] == "/" and len(first["date_vote"]) == 10


def test_deliberations_keep_multi_line_text(demo: Demo, con) -> None:
    path = dataset(demo, "deliberations-val-sauvage").path
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    expected = rows(path)
    assert any("\n" in r["texte"] for r in expected)
    count = con.execute("SELECT count(*) FROM read_csv(?)", [str(path)]).fetchone()[0]
    assert count == len(expected) > 100
    budget = {r["date_vote"] for r in rows(dataset(demo, "budget-val-sauvage").path)}
    votes = {r["date_seance"] for r in expected if r["titre"].startswith("Budget primitif")}
    assert {f"{d[6:]}-{d[3:5]}-{d[:2]}" for d in budget} & votes


def test_every_file_is_readable_by_duckdb_with_every_column_labelled(
        demo: Demo, con, tmp_path: Path) -> None:
    for d in demo.datasets:
        path = d.path
        if path.suffix == ".geojson":
            columns = [c[0] for c in con.execute("DESCRIBE SELECT * FROM ST_Read(?)",
                                                 [str(path)]).fetchall()]
            columns = ["geometry" if c == "geom" else c for c in columns]
        else:
            if d.slug.startswith("budget-"):   # DuckDB reads latin-1, not cp1252 (€, œ)
                path = tmp_path / path.name
                path.write_text(d.path.read_bytes().decode(CP1252), encoding="utf-8")
            columns = [c[0] for c in con.execute("DESCRIBE SELECT * FROM read_csv(?)",
                                                 [str(path)]).fetchall()]
            count = con.execute("SELECT count(*) FROM read_csv(?)", [str(path)]).fetchone()[0]
            assert count > 0, d.slug
        # Importers build a point geometry from latitude and longitude: it is described too.
        assert columns == [c for c in d.fields if c != "geometry" or path.suffix == ".geojson"]
        for name, meta in d.fields.items():
            assert meta["label"] and meta["description"] and "unit" in meta, (d.slug, name)
            assert meta["type"] in COLUMN_TYPES and meta["concept"] in (None, *CONCEPTS)
        codes = [c for c, meta in d.fields.items() if meta["concept"] in ("code_iris", "code_commune")]
        assert all(d.fields[c]["type"] == "text" for c in codes)


def test_metadata_says_the_data_are_synthetic(demo: Demo) -> None:
    for d in demo.datasets:
        assert "synthétique" in d.title.lower()
        assert d.description.startswith("**Données SYNTHÉTIQUES**")
        assert d.spatial_coverage and all(len(c) == 5 for c in d.spatial_coverage)
        assert d.licence and d.frequency and d.themes and d.keywords
        assert d.access in ("public", "internal", "restricted")
    manifest = json.loads((demo.datasets[0].path.parent / "demo.json").read_text("utf-8"))
    assert len(manifest["datasets"]) == len(demo.datasets)
