"""Education: schools as points, with UAI codes, sized by the children living around."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from mutuelle.demo.communes import DEPARTEMENT
from mutuelle.demo.fields import rng_for
from mutuelle.demo.french_csv import dec, write_csv
from mutuelle.demo.iris_tables import IrisStats
from mutuelle.demo.model import Territory

UAI_KEYS = "ABCDEFGHJKLMNPRSTUVWXYZ"
PATRONS = ("Jules Ferry", "Jean Jaurès", "Victor Hugo", "Louis Pasteur", "Marie Curie",
           "Jacques Prévert", "Paul Langevin", "Condorcet", "Simone Veil", "Albert Camus",
           "Georges Brassens", "Anne Frank", "Jean Moulin", "Lucie Aubrac", "Louise Michel",
           "Françoise Dolto", "Jean de La Fontaine", "Joséphine Baker", "Charles Perrault",
           "Olympe de Gouges", "Antoine de Saint-Exupéry", "Colette", "George Sand")
PRIVATE = ("Sainte-Marie", "Saint-Joseph", "Notre-Dame", "Jeanne-d'Arc", "Saint-Exupère")
SCHOOL_KINDS = (  # type, children per school, pupils (mean, sd), pupils per class, weight power
    ("maternelle", 0.2 / 115, (115, 35), 24, 1.0),
    ("élémentaire", 0.33 / 210, (210, 60), 24, 1.0),
    ("collège", 0.27 / 620, (620, 140), 26, 1.1),
    ("lycée", 0.2 / 1050, (1050, 300), 30, 1.4),
)


def uai(number: int) -> str:
    """A UAI code: 096 + 4 digits + the key letter (7 digits modulo 23)."""
    digits = f"0{DEPARTEMENT}{number:04d}"
    return digits + UAI_KEYS[int(digits) % 23]


def write_schools(t: Territory, stats: dict[str, IrisStats], path: Path) -> Path:
    """Schools as points, with UAI codes (``,``, UTF-8, decimal points)."""
    rng = rng_for(t.seed, "schools")
    children = sum(s.ages[0] for s in stats.values())
    share = {code: (s.ages[0] / s.iris.population if s.iris.population else 0)
             for code, s in stats.items()}
    numbers = iter(sorted(rng.sample(range(1, 10000), 1200)))
    names = {i.code: i.name for i in t.iris}
    cells = [c for c, p in t.cell_pop.items() if p > 0]
    rows = []
    for kind, per_child, (mean, sd), per_class, power in SCHOOL_KINDS:
        cum = list(accumulate((t.cell_pop[c] * share[t.cell_iris[c]]) ** power for c in cells))
        for _ in range(round(children * per_child)):
            cell = rng.choices(cells, cum_weights=cum)[0]
            lon, lat = t.point_in_cell(cell, rng.uniform(0.15, 0.85), rng.uniform(0.15, 0.85))
            private = rng.random() < 0.14
            prefix = {"maternelle": "École maternelle", "élémentaire": "École élémentaire",
                      "collège": "Collège", "lycée": "Lycée"}[kind]
            quarter = names[t.cell_iris[cell]].rstrip(" 0123456789")
            patron = rng.choice(PRIVATE) if private else (
                rng.choice(PATRONS) if rng.random() < 0.7 else quarter)
            pupils = max(25, round(rng.gauss(mean, sd)))
            rows.append({"uai": uai(next(numbers)), "nom": f"{prefix} {patron}",
                         "type_etablissement": kind, "secteur": "privé" if private else "public",
                         "effectif": pupils, "nb_classes": max(1, round(pupils / per_class)),
                         "code_commune": t.cell_commune[cell],
                         "nom_commune": t.commune(t.cell_commune[cell]).name,
                         "latitude": dec(lat, 6, comma=False), "longitude": dec(lon, 6, comma=False)})
    return write_csv(path, "ecoles", rows, delimiter=",")
