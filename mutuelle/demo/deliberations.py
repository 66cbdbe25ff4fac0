"""Council deliberations of Val-Sauvage, 2021-2025: sessions, agenda items, votes and texts."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from mutuelle.demo.budgets import YEARS
from mutuelle.demo.communes import COMMUNES
from mutuelle.demo.fields import rng_for
from mutuelle.demo.french_csv import write_csv
from mutuelle.demo.model import Territory
from mutuelle.demo.schools import PATRONS

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
