"""The demo's tables, derived from the territory's latent fields and written as French files.

Formats vary on purpose, to exercise ingestion: ``;`` and ``,`` separators, decimal commas,
UTF-8 with and without BOM, one cp1252 family (budgets, CRLF, dd/mm/yyyy), quoted multi-line text.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from mutuelle.demo.manifest import columns
from mutuelle.demo.territory import COMMUNES, DEPARTEMENT, Iris, Territory, rng_for

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
YEARS = range(2021, 2026)


@dataclass
class IrisStats:
    """What the tables say about one IRIS (all values synthetic)."""

    iris: Iris
    ages: list[int]
    pop_15_64: int
    actifs: int
    menages: int
    personnes: int
    revenu_median: float | None
    taux_pauvrete: float | None
    decile_1: float | None
    decile_9: float | None
    demandeurs: int


def dec(value: float | None, places: int = 1, comma: bool = True) -> str:
    """A number as written in French files (decimal comma) or with a point; '' for missing."""
    if value is None:
        return ""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if comma else text


def write_csv(path: Path, kind: str, rows: list[dict], *, delimiter: str = ";",
              encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Rows written in the column order of the field dictionary of ``kind``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns(kind), delimiter=delimiter,
                            lineterminator=newline, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _split(total: int, shares: list[float]) -> list[int]:
    """``total`` split by ``shares`` into integers summing to it (largest remainders)."""
    s = sum(shares)
    raw = [total * x / s for x in shares]
    out = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda k: (out[k] - raw[k], k))
    for k in order[: total - sum(out)]:
        out[k] += 1
    return out


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def iris_stats(t: Territory) -> dict[str, IrisStats]:
    """Age bands, households, income, poverty and jobseekers of every IRIS."""
    rng = rng_for(t.seed, "iris-stats")
    out = {}
    for i in t.iris:
        y, a, q = i.youth, i.affluence, i.qpv_share
        shares = [0.17 + 0.04 * q - 0.02 * y, 0.18 + 0.07 * y + 0.02 * q, 0.19 + 0.01 * y,
                  0.19 - 0.01 * y, 0.15 - 0.03 * y + 0.015 * a, 0.11 - 0.03 * y + 0.01 * a - 0.03 * q]
        shares = [max(0.02, s) * math.exp(rng.gauss(0, 0.04)) for s in shares]
        ages = _split(i.population, shares)
        pop_15_64 = ages[1] + ages[2] + ages[3] + round(ages[4] * 0.36)
        activity = min(0.82, max(0.55, 0.73 + 0.03 * a - 0.06 * max(0.0, y)))
        actifs = round(pop_15_64 * activity)
        size = min(2.8, max(1.6, 2.2 - 0.25 * y + 0.3 * q + 0.01 * i.centre_km))
        menages = round(i.population / size)
        median = d1 = d9 = poverty = None
        if i.population > 0:
            median = round(21500 * math.exp(0.27 * a + rng.gauss(0, 0.07)), -1)
            logit = -0.28 - 2.93 * math.log(median / 13000) + rng.gauss(0, 0.08)
            poverty = round(100 / (1 + math.exp(-logit)), 1)
            d1 = round(median * (0.55 - 0.05 * max(0.0, -a)), -1)
            d9 = round(median * (1.85 + 0.12 * max(0.0, a)), -1)
        rate = min(0.35, max(0.03, 0.085 * math.exp(-0.45 * a) * (1 + 0.5 * q)))
        demandeurs = round(actifs * rate * math.exp(rng.gauss(0, 0.08)))
        out[i.code] = IrisStats(i, ages, pop_15_64, actifs, menages, round(i.population * 0.985),
                                median, poverty, d1, d9, demandeurs)
    return out


def _iris_cols(i: Iris, t: Territory) -> dict[str, str]:
    return {"code_iris": i.code, "nom_iris": i.name, "code_commune": i.commune,
            "nom_commune": t.commune(i.commune).name}


def write_population(t: Territory, stats: dict[str, IrisStats], path: Path) -> Path:
    """Population by IRIS and age band, 2021 (``;``, UTF-8)."""
    rows = []
    for s in stats.values():
        bands = dict(zip(("pop_0_14", "pop_15_29", "pop_30_44", "pop_45_59", "pop_60_74",
                          "pop_75_plus"), s.ages))
        rows.append({**_iris_cols(s.iris, t), "typ_iris": s.iris.typ, "annee": 2021,
                     "pop_total": s.iris.population, **bands, "pop_15_64": s.pop_15_64,
                     "actifs_15_64": s.actifs})
    return write_csv(path, "population", rows)


def write_income(t: Territory, stats: dict[str, IrisStats], path: Path) -> Path:
    """Disposable income and poverty by IRIS, 2021 (``;``, decimal comma, UTF-8 with BOM)."""
    rows = []
    for s in stats.values():
        if s.iris.population == 0:
            continue
        rows.append({**_iris_cols(s.iris, t), "annee": 2021, "nb_menages": s.menages,
                     "nb_personnes": s.personnes, "revenu_median_uc": dec(s.revenu_median, 0),
                     "taux_pauvrete": dec(s.taux_pauvrete), "decile_1": dec(s.decile_1, 0),
                     "decile_9": dec(s.decile_9, 0)})
    return write_csv(path, "revenus", rows, encoding="utf-8-sig")


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


def write_c2s(t: Territory, stats: dict[str, IrisStats], path: Path) -> Path:
    """C2S beneficiaries and estimated eligible people by IRIS, 2024 (``,``, UTF-8)."""
    rng = rng_for(t.seed, "c2s")
    rows = []
    for s in stats.values():
        i = s.iris
        eligible = beneficiaries = free = 0
        if i.population > 0 and s.taux_pauvrete is not None:
            eligible = round(i.population * (0.9 * s.taux_pauvrete / 100 + 0.01))
            beneficiaries = min(eligible, round(eligible * i.take_up * math.exp(rng.gauss(0, 0.05))))
            free = round(beneficiaries * min(0.95, 0.74 + 0.12 * i.qpv_share + rng.gauss(0, 0.02)))
        rate = 100 * beneficiaries / eligible if eligible else None
        rows.append({**_iris_cols(i, t), "annee": 2024, "nb_eligibles": eligible,
                     "nb_beneficiaires": beneficiaries, "dont_c2s_gratuite": free,
                     "dont_c2s_participation": beneficiaries - free,
                     "taux_recours": dec(rate, 1, comma=False),
                     "taux_non_recours": dec(None if rate is None else 100 - rate, 1, comma=False)})
    return write_csv(path, "c2s", rows, delimiter=",")


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


# M57 chapters: section, direction, chapter, label, share of its section's total.
CHAPTERS = (
    ("Fonctionnement", "Dépense", "011", "Charges à caractère général", 0.23),
    ("Fonctionnement", "Dépense", "012", "Charges de personnel et frais assimilés", 0.56),
    ("Fonctionnement", "Dépense", "014", "Atténuations de produits", 0.02),
    ("Fonctionnement", "Dépense", "65", "Autres charges de gestion courante", 0.155),
    ("Fonctionnement", "Dépense", "66", "Charges financières", 0.03),
    ("Fonctionnement", "Dépense", "67", "Charges spécifiques", 0.005),
    ("Fonctionnement", "Recette", "013", "Atténuations de charges", 0.006),
    ("Fonctionnement", "Recette", "70", "Produits des services, du domaine et ventes diverses", 0.08),
    ("Fonctionnement", "Recette", "73", "Impôts et taxes", 0.15),
    ("Fonctionnement", "Recette", "731", "Fiscalité locale", 0.5),
    ("Fonctionnement", "Recette", "74", "Dotations et participations", 0.23),
    ("Fonctionnement", "Recette", "75", "Autres produits de gestion courante", 0.025),
    ("Fonctionnement", "Recette", "77", "Produits spécifiques", 0.009),
    ("Investissement", "Dépense", "16", "Emprunts et dettes assimilées", 0.13),
    ("Investissement", "Dépense", "20", "Immobilisations incorporelles", 0.04),
    ("Investissement", "Dépense", "204", "Subventions d'équipement versées", 0.08),
    ("Investissement", "Dépense", "21", "Immobilisations corporelles", 0.42),
    ("Investissement", "Dépense", "23", "Immobilisations en cours", 0.33),
    ("Investissement", "Recette", "10", "Dotations, fonds divers et réserves", 0.22),
    ("Investissement", "Recette", "13", "Subventions d'investissement", 0.25),
    ("Investissement", "Recette", "16", "Emprunts et dettes assimilées", 0.45),
    ("Investissement", "Recette", "024", "Produits des cessions d'immobilisations", 0.08),
)
PRICE_INDEX = {2021: 1.0, 2022: 1.045, 2023: 1.1, 2024: 1.13, 2025: 1.15}
NOTES = {
    "012": "Hausse liée au point d'indice et au glissement vieillesse-technicité",
    "23": "Programme « cœur de ville » : décalage de chantiers sur l'exercice suivant",
    "13": "Dont 1,2 M€ de subventions de l'État (dotation de soutien à l'investissement local)",
    "011": "Hausse des coûts de l'énergie ; plan de sobriété en œuvre",
}


def budget_vote_dates(seed: int) -> dict[tuple[str, int], date]:
    """Vote date of each commune's budget: December of the year before, or March (a Monday)."""
    rng = rng_for(seed, "budget-dates")
    out = {}
    for s in COMMUNES:
        december = rng.random() < 0.5
        for year in YEARS:
            d = date(year - 1, 12, rng.randint(8, 18)) if december else date(year, 3, rng.randint(10, 24))
            out[(s.code, year)] = d - timedelta(d.weekday())
    return out


def write_budget(t: Territory, code: str, path: Path, votes: dict[tuple[str, int], date]) -> Path:
    """A commune's budget by chapter, 2021-2025 (cp1252, ``;``, decimal comma, CRLF)."""
    spec = t.commune(code)
    rng = rng_for(t.seed, f"budget-{code}")
    per_head = 1050 + (300 if spec.population > 100_000 else 0)
    rows = []
    for year in YEARS:
        growth = PRICE_INDEX[year] * math.exp(rng.gauss(0, 0.01))
        totals = {("Fonctionnement", "Dépense"): spec.population * per_head * growth,
                  ("Investissement", "Dépense"): spec.population * rng.uniform(250, 380) * growth}
        totals[("Fonctionnement", "Recette")] = totals[("Fonctionnement", "Dépense")] * rng.uniform(1.05, 1.12)
        totals[("Investissement", "Recette")] = totals[("Investissement", "Dépense")] * rng.uniform(0.8, 0.95)
        for section, sens, chapter, label, share in CHAPTERS:
            planned = round(totals[(section, sens)] * share * math.exp(rng.gauss(0, 0.05)), 2)
            if section == "Fonctionnement":
                lo, hi = (0.93, 0.99) if sens == "Dépense" else (0.98, 1.05)
            elif chapter == "16":
                lo, hi = (0.97, 1.0) if sens == "Dépense" else (0.6, 0.95)
            else:
                lo, hi = (0.45, 0.75) if chapter == "23" else (0.55, 0.9)
            # 2022 and 2023 always carry the notes with € and œ: bytes cp1252 has and latin-1 lacks
            note = NOTES.get(chapter, "") if year in (2022, 2023) or rng.random() < 0.3 else ""
            if year == 2025:
                note = "Réalisé provisoire (compte financier unique non encore voté)"
            rows.append({"code_commune": code, "nom_commune": spec.name, "exercice": year,
                         "date_vote": votes[(code, year)].strftime("%d/%m/%Y"), "section": section,
                         "sens": sens, "chapitre": chapter, "libelle_chapitre": label,
                         "credits_ouverts": dec(planned, 2),
                         "realise": dec(round(planned * rng.uniform(lo, hi), 2), 2),
                         "commentaire": note})
    return write_csv(path, "budget", rows, encoding="cp1252", newline="\r\n")


THEMES = {
    "Finances": [
        ("Garantie d'emprunt accordée à Sauvagine Habitat (fictif) pour la réhabilitation de {n} "
         "logements — quartier {qpv}"),
        "Décision modificative n° {k} — exercice {year}",
        "Subvention exceptionnelle à l'association {asso}",
    ],
    "Urbanisme": [
        "Acquisition d'une parcelle bâtie — secteur {quarter}",
        "Modification simplifiée du plan local d'urbanisme — secteur {quarter}",
        "Cession d'un terrain communal — {quarter}",
    ],
    "Éducation": [
        "Sectorisation scolaire pour la rentrée {year}",
        "Travaux de rénovation énergétique de l'{school}",
        "Tarifs de la restauration scolaire au 1er septembre {year}",
    ],
    "Solidarités": [
        ("Convention avec la CPAM de Val-Sauvage (fictive) pour l'accès aux droits à la "
         "Complémentaire santé solidaire"),
        "Subvention de fonctionnement au centre social {quarter}",
    ],
    "Politique de la ville": [
        "Programmation {year} du contrat de ville — quartier {qpv}",
        "Programme de renouvellement urbain du quartier {qpv} : convention de financement",
        "Appel à projets \"Quartiers d'été\" {year}",
    ],
    "Environnement": [
        "Plan de végétalisation des cours d'école — tranche {k}",
        "Adhésion au plan climat-air-énergie métropolitain",
    ],
    "Mobilités": ["Aménagement d'une voie cyclable — {quarter}"],
    "Culture et sport": [
        "Tarifs des équipements sportifs municipaux",
        "Subvention au club {asso}",
    ],
    "Ressources humaines": ["Mise à jour du tableau des effectifs", "Créations de postes"],
    "Numérique": ["Ouverture des données publiques : adhésion à la mutuelle de données "
                  + "métropolitaine"],
}
RAPPORTEURS = {
    "Finances": "Adjointe déléguée aux finances", "Urbanisme": "Adjoint délégué à l'urbanisme",
    "Éducation": "Adjointe déléguée à l'éducation", "Solidarités": "Adjoint délégué aux solidarités",
    "Politique de la ville": "Adjointe déléguée à la politique de la ville",
    "Environnement": "Adjoint délégué à la transition écologique",
    "Mobilités": "Conseillère municipale déléguée aux mobilités",
    "Culture et sport": "Adjoint délégué à la culture et au sport",
    "Ressources humaines": "Adjointe déléguée aux ressources humaines",
    "Numérique": "Conseiller municipal délégué au numérique",
}
ASSOS = ("Les Amis de la Sauvagine", "Val-Sauvage Athlétisme", "Solidarité Brume",
         "L'Atelier des Tisserands", "Football club de Val-Sauvage", "Lire en quartiers")
COUNCIL = 65   # members of a council for a commune of 200,000 to 249,999 inhabitants


def _text(title: str, theme: str, rng: random.Random) -> str:
    lines = ["Le Conseil municipal,", "",
             "Vu le Code général des collectivités territoriales, notamment son article L. 2121-29 ;"]
    if theme in ("Finances", "Ressources humaines"):
        lines.append("Vu l'avis de la commission des finances ;")
    if theme == "Politique de la ville":
        lines.append("Vu le contrat de ville 2024-2030 de la Métropole de Val-Sauvage ;")
    lines += ["", f"Considérant l'intérêt de l'opération : « {title} » ;", "",
              "Après en avoir délibéré,", "", "DÉCIDE :",
              f"Article 1 – D'approuver l'objet de la présente délibération : {title}.",
              "Article 2 – D'autoriser Madame la Maire ou son représentant à signer tout "
              + "document afférent."]
    if rng.random() < 0.3:
        chapter = rng.choice(("011", "65", "21", "23"))
        lines.append(f"Article 3 – D'imputer la dépense au chapitre {chapter} du budget de l'exercice.")
    return "\n".join(lines)


def write_deliberations(t: Territory, path: Path, votes: dict[tuple[str, int], date]) -> Path:
    """Council deliberations of Val-Sauvage, 2021-2025 (``,``, UTF-8 with BOM, multi-line text)."""
    rng = rng_for(t.seed, "deliberations")
    code = COMMUNES[0].code
    quarters = sorted({i.name.rstrip(" 0123456789") for i in t.iris if i.commune == code and i.typ == "H"})
    qpvs = [q.name for q in t.qpv if q.commune == code]
    rows = []
    for year in YEARS:
        months = sorted(rng.sample([1, 2, 4, 5, 6, 7, 9, 10, 11], 7) + [3, 12])
        mondays = {date(year, m, rng.randint(1, 27)) for m in months}
        budget_days = {votes[(code, y)] for y in (year, year + 1) if (code, y) in votes}
        sessions = sorted({d - timedelta(d.weekday()) for d in mondays}
                          | {d for d in budget_days if d.year == year})
        rank = 0
        for day in sessions:
            items = []
            for y in (year, year + 1):
                if votes.get((code, y)) == day:
                    items.append(("Finances", f"Budget primitif {y}"))
            if day.month == 6:
                items.append(("Finances", f"Compte administratif et compte de gestion {year - 1}"))
            for _ in range(rng.randint(4, 9)):
                theme = rng.choice(sorted(THEMES))
                title = rng.choice(THEMES[theme]).format(
                    n=rng.randint(40, 320), qpv=rng.choice(qpvs), k=rng.randint(1, 3), year=year,
                    asso=rng.choice(ASSOS), quarter=rng.choice(quarters),
                    school=f"école {rng.choice(PATRONS)}")
                items.append((theme, title))
            for theme, title in items:
                rank += 1
                present = rng.randint(52, COUNCIL)
                against = 0 if rng.random() < 0.6 else rng.randint(3, 14)
                abstain = 0 if rng.random() < 0.7 else rng.randint(1, 6)
                if title.startswith("Budget primitif"):
                    against, abstain = rng.randint(10, 16), rng.randint(0, 3)
                votes_for = present - against - abstain
                result = ("Adopté à l'unanimité" if against == 0 and abstain == 0 else
                          "Adopté à la majorité" if votes_for > against else "Rejeté")
                rows.append({"numero": f"{year}-{rank:03d}", "date_seance": day.isoformat(),
                             "titre": title, "thematique": theme, "rapporteur": RAPPORTEURS[theme],
                             "resultat": result, "votes_pour": votes_for, "votes_contre": against,
                             "abstentions": abstain, "texte": _text(title, theme, rng)})
    return write_csv(path, "deliberations", rows, delimiter=",", encoding="utf-8-sig")
