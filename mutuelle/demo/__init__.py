"""The SYNTHETIC demo territory: the Métropole de Val-Sauvage, its communes, IRIS, QPV and data.

``generate_demo(out_dir, seed)`` writes every file and returns their metadata; the same seed
always gives byte-identical files. Nothing here describes a real place or real people.
"""

from __future__ import annotations

from pathlib import Path

from mutuelle.demo import datasets as tables
from mutuelle.demo.manifest import (
    Demo,
    DemoDataset,
    DemoOrganisation,
    describe,
    organisations,
    write_manifest,
)
from mutuelle.demo.territory import COMMUNES, build_territory, write_geo

__all__ = ["Demo", "DemoDataset", "DemoOrganisation", "generate_demo"]


def generate_demo(out_dir: Path, seed: int = 2026) -> Demo:
    """Write the demo territory's files into ``out_dir`` and return their metadata."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t = build_territory(seed)
    paths = write_geo(t, out_dir)
    stats = tables.iris_stats(t)
    paths["population"] = tables.write_population(t, stats, out_dir / "population-iris-2021.csv")
    paths["revenus"] = tables.write_income(t, stats, out_dir / "revenus-iris-2021.csv")
    paths["demandeurs"] = tables.write_jobseekers(t, stats, out_dir / "demandeurs-emploi-iris-rome.csv")
    paths["offres"] = tables.write_offers(t, out_dir / "offres-emploi-2025.csv")
    paths["c2s"] = tables.write_c2s(t, stats, out_dir / "c2s-iris-2024.csv")
    paths["ecoles"] = tables.write_schools(t, stats, out_dir / "etablissements-scolaires.csv")
    votes = tables.budget_vote_dates(seed)
    for s in COMMUNES:
        if s.has_portal:
            paths[f"budget-{s.slug}"] = tables.write_budget(
                t, s.code, out_dir / f"budget-{s.slug}-2021-2025.csv", votes)
    paths["deliberations"] = tables.write_deliberations(t, out_dir / "deliberations-val-sauvage.csv",
                                                        votes)
    demo = Demo(organisations(), describe(paths), seed)
    write_manifest(demo, out_dir / "demo.json")
    return demo
