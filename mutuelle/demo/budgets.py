"""Municipal finances: each commune's budget by M57 chapter, 2021-2025, and its vote dates."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

from mutuelle.demo.communes import COMMUNES
from mutuelle.demo.fields import rng_for
from mutuelle.demo.french_csv import dec, write_csv
from mutuelle.demo.model import Territory

YEARS = range(2021, 2026)


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
