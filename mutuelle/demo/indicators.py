"""The indicators of the SYNTHETIC demo territory (Métropole de Val-Sauvage), defined over the
datasets ``mutuelle.demo.load.load_demo`` imports.

Secondary suppression is computed per indicator, so the indicators of one sensitive dataset
all protect the same count (households for incomes, jobseekers, people eligible to the C2S):
they then hide the same cells, and one cannot fill another's gaps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import Indicator
from mutuelle.observatory.indicators import define_indicator

POP = "population-iris-2021"
INCOME = "revenus-iris-2021"
JOBSEEKERS = "demandeurs-emploi-iris-rome"
OFFERS = "offres-emploi-2025"
C2S = "c2s-recours-iris-2024"
SCHOOLS = "etablissements-scolaires"
NOTE = "Données synthétiques de démonstration (mutuelle) : aucun habitant réel."
PERCENT = {"unit": "%", "scale": 100.0}


def _share(id: str, label: str, numerator: str, theme: str, description: str = "",
           **more: Any) -> dict[str, Any]:
    """A share of the population in %, census counts (published without secrecy)."""
    return {"id": id, "label": label, "dataset": POP, "numerator": numerator,
            "denominator": "pop_total", "code_column": "code_iris", "theme": theme,
            "description": description, "secrecy_on": "none", **PERCENT, **more}


DEFINITIONS: list[dict[str, Any]] = [
    {"id": "population", "label": "Population", "dataset": POP, "numerator": "pop_total",
     "code_column": "code_iris", "aggregation": "sum", "unit": "habitants",
     "secrecy_on": "none", "theme": "Population",
     "description": "Population municipale au recensement."},
    _share("part-0-14-ans", "Part des moins de 15 ans", "pop_0_14", "Population"),
    _share("part-15-29-ans", "Part des 15-29 ans", "pop_15_29", "Population"),
    _share("part-60-ans-plus", "Part des 60 ans ou plus", "pop_60_74 + pop_75_plus",
           "Population"),
    _share("part-75-ans-plus", "Part des 75 ans ou plus", "pop_75_plus", "Population",
           "Personnes âgées de 75 ans ou plus, parmi tous les habitants."),
    {"id": "indice-vieillissement", "label": "Indice de vieillissement", "dataset": POP,
     "numerator": "pop_60_74 + pop_75_plus", "denominator": "pop_0_14",
     "code_column": "code_iris", "scale": 100.0, "unit": "pour 100 jeunes",
     "secrecy_on": "none", "theme": "Population",
     "description": "Habitants de 60 ans ou plus pour 100 habitants de moins de 15 ans."},
    {"id": "taux-activite", "label": "Taux d'activité des 15-64 ans", "dataset": POP,
     "numerator": "actifs_15_64", "denominator": "pop_15_64", "code_column": "code_iris",
     "secrecy_on": "none", "theme": "Emploi", **PERCENT},
    {"id": "menages", "label": "Ménages fiscaux", "dataset": INCOME, "numerator": "nb_menages",
     "code_column": "code_iris", "aggregation": "sum", "unit": "ménages",
     "theme": "Revenus et pauvreté"},
    {"id": "taille-menages", "label": "Taille moyenne des ménages", "dataset": INCOME,
     "numerator": "nb_personnes", "denominator": "nb_menages", "code_column": "code_iris",
     "unit": "personnes par ménage", "theme": "Revenus et pauvreté"},
    {"id": "revenu-median", "label": "Revenu disponible médian par UC", "dataset": INCOME,
     "numerator": "revenu_median_uc", "denominator": "nb_menages", "code_column": "code_iris",
     "aggregation": "median", "unit": "€ par an", "theme": "Revenus et pauvreté",
     "description": "Médiane publiée par IRIS ; une médiane ne s'additionne pas : pour les "
                    "communes, voir le revenu médian moyen pondéré."},
    {"id": "revenu-median-pondere", "label": "Revenu médian moyen (pondéré par les ménages)",
     "dataset": INCOME, "numerator": "revenu_median_uc * nb_menages",
     "denominator": "nb_menages", "code_column": "code_iris", "aggregation": "weighted_mean",
     "unit": "€ par an", "theme": "Revenus et pauvreté",
     "description": "Moyenne des médianes des IRIS pondérée par leurs ménages : une "
                    "approximation de la médiane des territoires plus grands."},
    {"id": "taux-pauvrete", "label": "Taux de pauvreté", "dataset": INCOME,
     "numerator": "taux_pauvrete * nb_menages", "denominator": "nb_menages",
     "code_column": "code_iris", "aggregation": "weighted_mean", "unit": "%",
     "theme": "Revenus et pauvreté",
     "description": "Part des personnes sous le seuil de pauvreté (60 % du revenu médian "
                    "national) ; au-delà de l'IRIS, moyenne pondérée par les ménages."},
    {"id": "rapport-interdecile", "label": "Rapport interdécile (D9 / D1)", "dataset": INCOME,
     "numerator": "decile_9 / decile_1", "denominator": "nb_menages", "code_column": "code_iris",
     "aggregation": "median", "theme": "Revenus et pauvreté",
     "description": "Écart entre les 10 % les plus aisés et les 10 % les plus modestes ; "
                    "ne s'agrège pas."},
    {"id": "demandeurs-emploi", "label": "Demandeurs d'emploi (catégorie A)",
     "dataset": JOBSEEKERS, "numerator": "nb_demandeurs", "code_column": "code_iris",
     "aggregation": "sum", "unit": "personnes", "theme": "Emploi"},
    {"id": "demandeurs-pour-100-actifs", "label": "Demandeurs d'emploi pour 100 actifs",
     "dataset": JOBSEEKERS, "numerator": "nb_demandeurs",
     "denominator": f"@{POP}: actifs_15_64", "code_column": "code_iris", "scale": 100.0,
     "unit": "pour 100 actifs", "secrecy_on": "numerator", "theme": "Emploi"},
    {"id": "part-demandeurs-longue-duree", "label": "Part des demandeurs d'emploi de longue "
     "durée", "dataset": JOBSEEKERS, "numerator": "dont_longue_duree",
     "denominator": "nb_demandeurs", "code_column": "code_iris", "theme": "Emploi",
     "description": "Inscrits depuis un an ou plus.", **PERCENT},
    {"id": "part-femmes-demandeurs", "label": "Part des femmes parmi les demandeurs d'emploi",
     "dataset": JOBSEEKERS, "numerator": "dont_femmes", "denominator": "nb_demandeurs",
     "code_column": "code_iris", "theme": "Emploi", **PERCENT},
    {"id": "part-jeunes-demandeurs", "label": "Part des moins de 26 ans parmi les demandeurs "
     "d'emploi", "dataset": JOBSEEKERS, "numerator": "dont_moins_26_ans",
     "denominator": "nb_demandeurs", "code_column": "code_iris", "theme": "Emploi", **PERCENT},
    {"id": "offres-emploi", "label": "Offres d'emploi publiées en 2025", "dataset": OFFERS,
     "numerator": "1", "code_column": "geometry", "aggregation": "sum", "unit": "offres",
     "secrecy_on": "none", "theme": "Emploi",
     "description": "Offres rattachées à l'IRIS de leur lieu de travail (point dans polygone)."},
    {"id": "offres-pour-1000-habitants", "label": "Offres d'emploi pour 1 000 habitants",
     "dataset": OFFERS, "numerator": "1", "denominator": f"@{POP}: pop_total",
     "code_column": "geometry", "scale": 1000.0, "unit": "pour 1 000 habitants",
     "secrecy_on": "none", "theme": "Emploi"},
    {"id": "part-offres-cdi", "label": "Part des offres en CDI", "dataset": OFFERS,
     "numerator": 'type_contrat = "CDI"', "denominator": "1", "code_column": "code_commune",
     "code_level": "commune", "secrecy_on": "none", "theme": "Emploi", **PERCENT},
    {"id": "taux-recours-c2s", "label": "Taux de recours à la C2S", "dataset": C2S,
     "numerator": "nb_beneficiaires", "denominator": "nb_eligibles", "code_column": "code_iris",
     "theme": "Santé", **PERCENT,
     "description": "Bénéficiaires de la Complémentaire santé solidaire parmi les personnes "
                    "estimées éligibles."},
    {"id": "taux-non-recours-c2s", "label": "Taux de non-recours à la C2S", "dataset": C2S,
     "numerator": "nb_eligibles - nb_beneficiaires", "denominator": "nb_eligibles",
     "code_column": "code_iris", "theme": "Santé", **PERCENT},
    {"id": "part-eligibles-c2s-gratuite", "label": "Part des éligibles couverts par la C2S "
     "sans participation", "dataset": C2S, "numerator": "dont_c2s_gratuite",
     "denominator": "nb_eligibles", "code_column": "code_iris", "theme": "Santé", **PERCENT},
    {"id": "eligibles-c2s-pour-100-habitants", "label": "Personnes éligibles à la C2S pour 100 "
     "habitants", "dataset": C2S, "numerator": "nb_eligibles",
     "denominator": f"@{POP}: pop_total", "code_column": "code_iris", "scale": 100.0,
     "unit": "pour 100 habitants", "secrecy_on": "numerator", "theme": "Santé"},
    {"id": "ecoles-pour-1000-enfants", "label": "Établissements scolaires pour 1 000 enfants",
     "dataset": SCHOOLS, "numerator": "1", "denominator": f"@{POP}: pop_0_14",
     "code_column": "code_commune", "code_level": "commune", "scale": 1000.0,
     "unit": "pour 1 000 enfants de moins de 15 ans", "secrecy_on": "none",
     "theme": "Éducation"},
    {"id": "eleves-par-classe", "label": "Élèves par classe", "dataset": SCHOOLS,
     "numerator": "effectif", "denominator": "nb_classes", "code_column": "code_commune",
     "code_level": "commune", "unit": "élèves", "secrecy_on": "none", "theme": "Éducation"},
    {"id": "eleves-scolarises", "label": "Élèves des établissements de l'IRIS",
     "dataset": SCHOOLS, "numerator": "effectif", "code_column": "geometry",
     "aggregation": "sum", "unit": "élèves", "secrecy_on": "none", "theme": "Éducation"},
]


def define_demo_indicators(session: Session) -> list[Indicator]:
    """Define (or redefine) every demo indicator; the demo datasets must be loaded."""
    out = []
    for definition in DEFINITIONS:
        fields = dict(definition)
        fields.setdefault("source_note", NOTE)
        out.append(define_indicator(session, replace=True, **fields))
    session.commit()
    return out
