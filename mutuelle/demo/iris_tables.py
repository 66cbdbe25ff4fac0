"""What the demo says about each IRIS (age bands, households, income, poverty, jobseekers) and
the tables written from it: population, income and poverty, C2S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from mutuelle.demo.fields import rng_for
from mutuelle.demo.french_csv import dec, write_csv
from mutuelle.demo.model import Iris, Territory


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


def _split(total: int, shares: list[float]) -> list[int]:
    """``total`` split by ``shares`` into integers summing to it (largest remainders)."""
    s = sum(shares)
    raw = [total * x / s for x in shares]
    out = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda k: (out[k] - raw[k], k))
    for k in order[: total - sum(out)]:
        out[k] += 1
    return out


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
