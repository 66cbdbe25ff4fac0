"""Employment: jobseekers by IRIS and ROME code, and job offers as points near job centres."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from mutuelle.demo.communes import COMMUNES
from mutuelle.demo.fields import rng_for
from mutuelle.demo.french_csv import dec, write_csv
from mutuelle.demo.iris_tables import IrisStats
from mutuelle.demo.model import Territory

# ROME v3 code, label, share among jobseekers, sensitivity to affluence, share of women,
# where the offers are (kind of place -> weight), contract mix (CDI, CDD, MIS, SAI), pay / SMIC.
ROME = (
    ("K2204", "Nettoyage de locaux", 9, -0.5, 0.6, {"centre": 5, "zones": 3, "homes": 2}, (3, 4, 2, 1), 1.0),
    ("J1501", "Soins d'hygiène, de confort du patient", 7, -0.2, 0.88, {"hospital": 5, "homes": 3, "centre": 2}, (5, 4, 1, 0), 1.1),
    ("N1103", "Magasinage et préparation de commandes", 8, -0.4, 0.2, {"zones": 9, "centre": 1}, (2, 3, 5, 0), 1.05),
    ("G1603", "Personnel polyvalent en restauration", 7, -0.3, 0.55, {"centre": 7, "communes": 3}, (3, 4, 1, 2), 1.0),
    ("D1507", "Mise en rayon libre-service", 6, -0.4, 0.5, {"communes": 5, "zones": 5}, (3, 4, 2, 1), 1.0),
    ("H2909", "Montage-assemblage mécanique", 4, -0.4, 0.15, {"zones": 9, "spread": 1}, (3, 2, 5, 0), 1.15),
    ("K1304", "Services domestiques", 5, -0.3, 0.92, {"homes": 10}, (5, 4, 1, 0), 1.0),
    ("F1703", "Maçonnerie", 5, -0.3, 0.03, {"spread": 6, "homes": 4}, (5, 2, 3, 0), 1.2),
    ("M1607", "Secrétariat", 6, 0.2, 0.9, {"centre": 6, "communes": 3, "zones": 1}, (5, 4, 1, 0), 1.15),
    ("I1203", "Maintenance des bâtiments et des locaux", 4, -0.2, 0.08, {"spread": 4, "centre": 3, "zones": 3}, (6, 3, 1, 0), 1.2),
    ("D1505", "Personnel de caisse", 5, -0.3, 0.8, {"communes": 5, "zones": 5}, (4, 5, 1, 0), 1.0),
    ("K1302", "Assistance auprès d'adultes", 6, -0.2, 0.9, {"homes": 8, "hospital": 2}, (5, 4, 1, 0), 1.05),
    ("N4101", "Conduite de transport de marchandises sur longue distance", 3, -0.2, 0.07, {"zones": 10}, (6, 2, 2, 0), 1.3),
    ("G1602", "Personnel de cuisine", 5, -0.2, 0.3, {"centre": 6, "communes": 3, "hospital": 1}, (4, 3, 1, 2), 1.1),
    ("M1203", "Comptabilité", 4, 0.5, 0.7, {"centre": 7, "zones": 3}, (6, 3, 1, 0), 1.5),
    ("M1805", "Études et développement informatique", 3, 0.9, 0.2, {"centre": 6, "zones": 4}, (8, 2, 0, 0), 2.0),
    ("K1303", "Assistance auprès d'enfants", 5, -0.1, 0.93, {"homes": 7, "communes": 3}, (4, 5, 1, 0), 1.0),
    ("A1203", "Aménagement et entretien des espaces verts", 3, -0.1, 0.1, {"spread": 7, "homes": 3}, (4, 3, 1, 2), 1.05),
)
CONTRACTS = ("CDI", "CDD", "MIS", "SAI")
SMIC_MENSUEL = 1801.80


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def write_jobseekers(t: Territory, stats: dict[str, IrisStats], path: Path) -> Path:
    """Jobseekers by IRIS of residence and ROME code sought (``,``, UTF-8); zero rows omitted."""
    rng = rng_for(t.seed, "jobseekers")
    rows = []
    for s in stats.values():
        if s.demandeurs == 0:
            continue
        weights = [r[2] * math.exp(r[3] * s.iris.affluence) for r in ROME]
        drawn = rng.choices(range(len(ROME)), weights=weights, k=s.demandeurs)
        for k, r in enumerate(ROME):
            n = drawn.count(k)
            if n == 0:
                continue
            rows.append({"code_iris": s.iris.code, "code_commune": s.iris.commune,
                         "date_reference": "2025-12-31", "code_rome": r[0], "libelle_rome": r[1],
                         "nb_demandeurs": n, "dont_femmes": _binomial(rng, n, r[4]),
                         "dont_moins_26_ans": _binomial(rng, n, 0.15 + 0.06 * max(0.0, s.iris.youth)),
                         "dont_longue_duree": _binomial(rng, n, 0.4 + 0.15 * s.iris.qpv_share)})
    return write_csv(path, "demandeurs", rows, delimiter=",")


def _job_places(t: Territory) -> dict[str, object]:
    """Where jobs are: points with a spread (km), or cells with weights."""
    cx, cy = t.centre
    angle = rng_for(t.seed, "hospital").uniform(0, 2 * math.pi)
    zones = [(i.x, i.y, 0.35) for i in t.iris if i.typ == "A"]
    lived = [c for c, p in t.cell_pop.items() if p > 0]
    homes = list(accumulate(t.cell_pop[c] * math.exp(0.8 * t.cell_affluence[c]) for c in lived))
    return {
        "centre": [(cx, cy, 0.9)],
        "hospital": [(cx + 1.3 * math.cos(angle), cy + 1.3 * math.sin(angle), 0.2)],
        "communes": [(x, y, 0.6) for code, (x, y) in t.town_halls.items() if code != COMMUNES[0].code],
        "zones": zones or [(cx, cy, 1.5)],
        "homes": (lived, homes),
        "spread": (lived, list(accumulate(t.cell_pop[c] for c in lived))),
    }


def _place(t: Territory, places: dict, kind: str, rng: random.Random) -> tuple[int, float, float]:
    """A cell and a point in it (lon, lat) drawn for a kind of place."""
    options = places[kind]
    if kind in ("homes", "spread"):   # cells with cumulated weights
        cell = rng.choices(options[0], cum_weights=options[1])[0]
    else:
        while True:
            x, y, sigma = rng.choice(options)
            found = t.cell_of_xy(rng.gauss(x, sigma), rng.gauss(y, sigma))
            if found is not None:
                cell = found
                break
    lon, lat = t.point_in_cell(cell, rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9))
    return cell, lon, lat


def write_offers(t: Territory, path: Path, n: int = 3600) -> Path:
    """Job offers of 2025 as points (``;``, decimal commas, dd/mm/yyyy), dense near job centres."""
    rng = rng_for(t.seed, "offers")
    places = _job_places(t)
    month_weight = (0.8, 0.9, 1.1, 1.2, 1.2, 1.1, 0.8, 0.6, 1.2, 1.1, 1.0, 0.7)
    days = [date(2025, 1, 1) + timedelta(d) for d in range(365)]
    day_cum = list(accumulate(month_weight[d.month - 1] * (0.15 if d.weekday() >= 5 else 1)
                              for d in days))
    rome_cum = list(accumulate(x[2] for x in ROME))
    rows = []
    for k in range(n):
        r = rng.choices(ROME, cum_weights=rome_cum)[0]
        kinds = list(r[5])
        cell, lon, lat = _place(t, places, rng.choices(kinds, weights=[r[5][x] for x in kinds])[0], rng)
        contract = rng.choices(CONTRACTS, weights=r[6])[0]
        day = rng.choices(days, cum_weights=day_cum)[0]
        if contract == "SAI":
            day = date(2025, rng.choice((4, 5, 6, 11)), rng.randint(1, 28))
        hours = 35.0 if rng.random() < 0.7 else rng.choice((17.5, 20.0, 24.0, 28.0, 30.0, 32.5))
        pay = None
        if rng.random() < 0.75:
            pay = SMIC_MENSUEL * hours / 35 * r[7] * math.exp(abs(rng.gauss(0, 0.08)))
        rows.append({"id_offre": f"VS25{k + 1:05d}", "date_publication": day.strftime("%d/%m/%Y"),
                     "code_rome": r[0], "libelle_rome": r[1], "type_contrat": contract,
                     "duree_hebdo": dec(hours), "salaire_brut_mensuel": dec(pay, 2),
                     "code_commune": t.cell_commune[cell],
                     "nom_commune": t.commune(t.cell_commune[cell]).name,
                     "latitude": dec(lat, 6), "longitude": dec(lon, 6)})
    rows.sort(key=lambda row: (row["date_publication"][6:], row["date_publication"][3:5],
                               row["date_publication"][:2], row["id_offre"]))
    return write_csv(path, "offres", rows)
