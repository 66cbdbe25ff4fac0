"""What the demo territory declares: organisations, datasets and the dictionary of every column."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mutuelle.demo.territory import COMMUNES, EPCI_SIREN

METROPOLE = "metropole-val-sauvage"
CPAM = "cpam-val-sauvage"
EMPLOI = "maison-emploi-val-sauvage"
LO = "Licence Ouverte 2.0"
ODBL = "ODbL 1.0"
SYNTHETIC = ("**Données SYNTHÉTIQUES**, générées pour la démonstration de mutuelle : la Métropole "
             "de Val-Sauvage, ses communes et leurs habitants n'existent pas.")


@dataclass
class DemoOrganisation:
    """An organisation of the demo: the metropolis, a member commune or a partner."""

    slug: str
    name: str
    kind: str                 # "territory" | "city" | "partner"
    siren: str | None
    parent: str | None        # slug of the parent organisation
    has_portal: bool


@dataclass
class DemoDataset:
    """A dataset of the demo: its metadata, its field dictionary and the file written."""

    slug: str
    title: str
    description: str          # Markdown, French, starts by saying the data are synthetic
    organisation: str         # slug
    themes: list[str]
    keywords: list[str]
    licence: str
    frequency: str            # "annual", "monthly", "irregular"
    spatial_coverage: list[str]   # INSEE codes of the communes covered
    path: Path
    fields: dict[str, dict]   # column -> {"label", "description", "unit" ("" if none), "type",
    #                           "concept" (None or one of mutuelle.ingest.model.CONCEPTS)}
    access: str = "public"    # "public" | "internal" | "restricted"


@dataclass
class Demo:
    """Everything ``generate_demo`` produced."""

    organisations: list[DemoOrganisation]
    datasets: list[DemoDataset] = field(default_factory=list)
    seed: int = 2026


def organisations() -> list[DemoOrganisation]:
    """The metropolis first, then its communes, then the partners (parents before children)."""
    out = [DemoOrganisation(METROPOLE, "Métropole de Val-Sauvage", "territory", EPCI_SIREN,
                            None, True)]
    for s in COMMUNES:
        out.append(DemoOrganisation(s.slug, s.name, "city", s.siren, METROPOLE, s.has_portal))
    out.append(DemoOrganisation(CPAM, "CPAM de Val-Sauvage (fictive)", "partner", None, None, False))
    out.append(DemoOrganisation(EMPLOI, "Maison de l'emploi de Val-Sauvage (fictive)", "partner",
                                None, None, False))
    return out


def _f(label: str, description: str, unit: str = "") -> dict[str, str | None]:
    return {"label": label, "description": description, "unit": unit}


_IRIS = {
    "code_iris": _f("Code IRIS", "Code de l'IRIS sur 9 caractères : code commune (5) + grand "
                    "quartier (2) + IRIS (2) ; 0000 pour une commune non découpée."),
    "nom_iris": _f("Nom de l'IRIS", "Libellé de l'IRIS."),
    "code_commune": _f("Code commune", "Code officiel géographique (INSEE) de la commune, fictif "
                       "(département 96)."),
    "nom_commune": _f("Commune", "Nom de la commune."),
}
_TYP = {"typ_iris": _f("Type d'IRIS", "H : habitat ; A : activité ; D : divers (parc, forêt) ; "
                       "Z : commune non découpée en IRIS.")}
_GEOM = {"geometry": _f("Contour", "Contour en WGS84 (EPSG:4326).")}
_POINT = {"geometry": _f("Position", "Point construit à l'import à partir de la latitude et de "
                         "la longitude (absent du fichier CSV).")}

FIELDS: dict[str, dict[str, dict[str, str | None]]] = {
    "iris": {**_IRIS, **_TYP, **_GEOM},
    "communes": {
        "code_commune": _IRIS["code_commune"], "nom_commune": _IRIS["nom_commune"],
        "siren": _f("SIREN", "Numéro SIREN de la commune (fictif)."),
        "code_epci": _f("SIREN de l'EPCI", "SIREN de la métropole dont la commune est membre."),
        "population": _f("Population", "Population municipale (somme des IRIS).", "habitants"),
        "superficie_km2": _f("Superficie", "Superficie de la commune.", "km²"),
        **_GEOM,
    },
    "qpv": {
        "code_qpv": _f("Code QPV", "Code du quartier prioritaire de la politique de la ville "
                       "(forme 2024 : QN + département + numéro + M)."),
        "nom_qpv": _f("Nom du QPV", "Nom du quartier prioritaire."),
        "code_commune": _IRIS["code_commune"], "nom_commune": _IRIS["nom_commune"],
        "population": _f("Population", "Population estimée du quartier.", "habitants"),
        **_GEOM,
    },
    "population": {
        **_IRIS, **_TYP,
        "annee": _f("Année", "Millésime du recensement."),
        "pop_total": _f("Population totale", "Population municipale de l'IRIS.", "habitants"),
        "pop_0_14": _f("0-14 ans", "Habitants âgés de 0 à 14 ans.", "habitants"),
        "pop_15_29": _f("15-29 ans", "Habitants âgés de 15 à 29 ans.", "habitants"),
        "pop_30_44": _f("30-44 ans", "Habitants âgés de 30 à 44 ans.", "habitants"),
        "pop_45_59": _f("45-59 ans", "Habitants âgés de 45 à 59 ans.", "habitants"),
        "pop_60_74": _f("60-74 ans", "Habitants âgés de 60 à 74 ans.", "habitants"),
        "pop_75_plus": _f("75 ans ou plus", "Habitants âgés de 75 ans ou plus.", "habitants"),
        "pop_15_64": _f("15-64 ans", "Habitants en âge de travailler (recoupe les tranches).",
                        "habitants"),
        "actifs_15_64": _f("Actifs 15-64 ans", "Population active de 15 à 64 ans (en emploi ou au "
                           "chômage) : dénominateur des taux de demandeurs d'emploi.", "personnes"),
    },
    "revenus": {
        **_IRIS,
        "annee": _f("Année", "Année des revenus."),
        "nb_menages": _f("Ménages fiscaux", "Nombre de ménages fiscaux ; petit effectif = secret "
                         "statistique à appliquer avant diffusion.", "ménages"),
        "nb_personnes": _f("Personnes des ménages", "Personnes vivant dans les ménages fiscaux.",
                           "personnes"),
        "revenu_median_uc": _f("Revenu disponible médian", "Médiane du revenu disponible par unité "
                               "de consommation.", "€ par UC et par an"),
        "taux_pauvrete": _f("Taux de pauvreté", "Part des personnes sous le seuil de pauvreté (60 % "
                            "du revenu médian national).", "%"),
        "decile_1": _f("1er décile", "Revenu disponible par UC sous lequel vivent 10 % des "
                       "personnes.", "€ par UC et par an"),
        "decile_9": _f("9e décile", "Revenu disponible par UC au-dessus duquel vivent 10 % des "
                       "personnes.", "€ par UC et par an"),
    },
    "demandeurs": {
        "code_iris": _IRIS["code_iris"], "code_commune": _IRIS["code_commune"],
        "date_reference": _f("Date de référence", "Date à laquelle les demandeurs sont comptés."),
        "code_rome": _f("Code ROME", "Métier recherché (répertoire opérationnel des métiers et des "
                        "emplois, version 3)."),
        "libelle_rome": _f("Métier recherché", "Libellé du code ROME."),
        "nb_demandeurs": _f("Demandeurs d'emploi", "Demandeurs d'emploi de catégorie A résidant dans "
                            "l'IRIS ; effectifs souvent inférieurs à 11.", "personnes"),
        "dont_femmes": _f("dont femmes", "Demandeuses parmi eux.", "personnes"),
        "dont_moins_26_ans": _f("dont moins de 26 ans", "Demandeurs de moins de 26 ans.", "personnes"),
        "dont_longue_duree": _f("dont longue durée", "Inscrits depuis un an ou plus.", "personnes"),
    },
    "offres": {
        "id_offre": _f("Identifiant", "Identifiant de l'offre (fictif)."),
        "date_publication": _f("Date de publication", "Date de publication (jj/mm/aaaa)."),
        "code_rome": _f("Code ROME", "Métier de l'offre (ROME v3)."),
        "libelle_rome": _f("Métier", "Libellé du code ROME."),
        "type_contrat": _f("Type de contrat", "CDI ; CDD ; MIS : mission d'intérim ; SAI : saisonnier."),
        "duree_hebdo": _f("Durée hebdomadaire", "Durée de travail hebdomadaire.", "heures"),
        "salaire_brut_mensuel": _f("Salaire brut mensuel", "Salaire proposé, s'il est indiqué.", "€"),
        "code_commune": _IRIS["code_commune"], "nom_commune": _IRIS["nom_commune"],
        "latitude": _f("Latitude", "Latitude du lieu de travail (WGS84).", "degrés"),
        "longitude": _f("Longitude", "Longitude du lieu de travail (WGS84).", "degrés"),
        **_POINT,
    },
    "c2s": {
        **_IRIS,
        "annee": _f("Année", "Année observée."),
        "nb_eligibles": _f("Éligibles estimés", "Personnes estimées éligibles à la Complémentaire "
                           "santé solidaire (modèle).", "personnes"),
        "nb_beneficiaires": _f("Bénéficiaires", "Personnes couvertes par la C2S.", "personnes"),
        "dont_c2s_gratuite": _f("dont C2S sans participation", "Bénéficiaires de la C2S gratuite.",
                                "personnes"),
        "dont_c2s_participation": _f("dont C2S avec participation", "Bénéficiaires de la C2S avec "
                                     "participation financière.", "personnes"),
        "taux_recours": _f("Taux de recours", "Bénéficiaires / éligibles estimés.", "%"),
        "taux_non_recours": _f("Taux de non-recours", "Part des éligibles estimés sans C2S.", "%"),
    },
    "ecoles": {
        "uai": _f("UAI", "Unité administrative immatriculée : 7 caractères + lettre clé (fictive)."),
        "nom": _f("Nom", "Nom de l'établissement."),
        "type_etablissement": _f("Type", "maternelle, élémentaire, collège ou lycée."),
        "secteur": _f("Secteur", "public ou privé sous contrat."),
        "effectif": _f("Effectif", "Élèves inscrits à la rentrée.", "élèves"),
        "nb_classes": _f("Classes", "Nombre de classes ou divisions.", "classes"),
        "code_commune": _IRIS["code_commune"], "nom_commune": _IRIS["nom_commune"],
        "latitude": _f("Latitude", "Latitude (WGS84).", "degrés"),
        "longitude": _f("Longitude", "Longitude (WGS84).", "degrés"),
        **_POINT,
    },
    "budget": {
        "code_commune": _IRIS["code_commune"], "nom_commune": _IRIS["nom_commune"],
        "exercice": _f("Exercice", "Année budgétaire."),
        "date_vote": _f("Date du vote", "Date du vote du budget primitif (jj/mm/aaaa)."),
        "section": _f("Section", "Fonctionnement ou Investissement."),
        "sens": _f("Sens", "Dépense ou Recette."),
        "chapitre": _f("Chapitre", "Chapitre budgétaire de la nomenclature M57 (texte : 011, 012...)."),
        "libelle_chapitre": _f("Libellé du chapitre", "Intitulé du chapitre M57."),
        "credits_ouverts": _f("Crédits ouverts", "Budget primitif et décisions modificatives.", "€"),
        "realise": _f("Réalisé", "Montant exécuté (mandaté ou titré) ; provisoire pour 2025.", "€"),
        "commentaire": _f("Commentaire", "Note du service des finances."),
    },
    "deliberations": {
        "numero": _f("Numéro", "Numéro de la délibération (année-rang)."),
        "date_seance": _f("Date de la séance", "Date du conseil municipal."),
        "titre": _f("Objet", "Objet de la délibération."),
        "thematique": _f("Thématique", "Domaine d'action publique."),
        "rapporteur": _f("Rapporteur", "Fonction de l'élu rapporteur."),
        "resultat": _f("Résultat du vote", "Adopté à l'unanimité, à la majorité, ou rejeté."),
        "votes_pour": _f("Pour", "Voix pour.", "voix"),
        "votes_contre": _f("Contre", "Voix contre.", "voix"),
        "abstentions": _f("Abstentions", "Abstentions.", "voix"),
        "texte": _f("Texte", "Texte de la délibération (plusieurs lignes)."),
    },
}


_INTEGER = {"annee", "population", "actifs_15_64", "effectif", "nb_classes", "exercice",
            "votes_pour", "votes_contre", "abstentions"}
_DECIMAL = {"revenu_median_uc", "duree_hebdo", "salaire_brut_mensuel", "latitude", "longitude",
            "credits_ouverts", "realise", "superficie_km2"}
_CONCEPTS = {"code_iris": "code_iris", "code_commune": "code_commune", "code_qpv": "code_qpv",
             "siren": "siren", "code_epci": "code_epci", "uai": "uai", "latitude": "latitude",
             "longitude": "longitude"}


def _column_type(name: str) -> str:
    if name in _INTEGER or name.startswith(("pop_", "nb_", "dont_")):
        return "integer"
    if name in _DECIMAL or name.startswith(("taux_", "decile_")):
        return "decimal"
    if name.startswith("date_"):
        return "date"
    return "geometry" if name == "geometry" else "text"


# Besides label, description and unit, each column says its type (codes stay text, so that
# 96172 joins the GeoJSON's "96172") and its concept, for importers that take hints.
for _table in FIELDS.values():
    for _name, _meta in _table.items():
        _meta["type"] = _column_type(_name)
        _meta["concept"] = _CONCEPTS.get(_name)


def _d(slug: str, kind: str, title: str, body: str, organisation: str, themes: list[str],
       keywords: list[str], frequency: str, path: Path, coverage: list[str], *,
       licence: str = LO, access: str = "public") -> DemoDataset:
    return DemoDataset(slug, f"{title} (synthétique)", f"{SYNTHETIC}\n\n{body}", organisation,
                       themes, keywords, licence, frequency, coverage, path,
                       {k: dict(v) for k, v in FIELDS[kind].items()}, access)


def describe(paths: dict[str, Path]) -> list[DemoDataset]:
    """Metadata of every dataset written (``paths``: kind or ``budget-<slug>`` -> file)."""
    every = sorted(s.code for s in COMMUNES)
    fields = ("Valeurs tirées de champs spatiaux lisses (densité, aisance, âge), si bien que des "
              "IRIS voisins se ressemblent ; les QPV sont placés dans les zones les plus modestes.")
    out = [
        _d("iris-val-sauvage", "iris", "Contours des IRIS de la Métropole de Val-Sauvage",
           "Découpage infracommunal (IRIS) des 8 communes : habitat (H), activité (A), divers (D) "
           "et commune non découpée (Z). Les contours se touchent sans se chevaucher.",
           METROPOLE, ["Territoire"], ["IRIS", "contours", "découpage"], "annual", paths["iris"],
           every),
        _d("communes-val-sauvage", "communes", "Contours des communes de la Métropole de "
           "Val-Sauvage", "Les 8 communes membres, réunion exacte de leurs IRIS.", METROPOLE,
           ["Territoire"], ["communes", "contours", "EPCI"], "annual", paths["communes"], every),
        _d("qpv-val-sauvage", "qpv", "Quartiers prioritaires de la politique de la ville",
           "Cinq QPV, dans les secteurs aux revenus les plus faibles ; leurs contours ne suivent pas "
           "ceux des IRIS.", METROPOLE, ["Territoire", "Politique de la ville"],
           ["QPV", "politique de la ville", "contours"], "irregular", paths["qpv"], every),
        _d("population-iris-2021", "population", "Population par IRIS et tranche d'âge en 2021",
           f"Population par tranche d'âge, population de 15 à 64 ans et actifs. {fields}",
           METROPOLE, ["Population"], ["population", "âge", "IRIS", "recensement"], "annual",
           paths["population"], every),
        _d("revenus-iris-2021", "revenus", "Revenus et pauvreté par IRIS en 2021",
           "Revenu disponible médian par unité de consommation, déciles et taux de pauvreté. "
           f"Quelques IRIS d'activité ont de très petits effectifs : le secret statistique doit "
           f"s'appliquer avant diffusion. {fields}", METROPOLE, ["Revenus et pauvreté"],
           ["revenus", "pauvreté", "Filosofi", "IRIS"], "annual", paths["revenus"], every),
        _d("demandeurs-emploi-iris-rome", "demandeurs", "Demandeurs d'emploi par IRIS et métier "
           "recherché", "Demandeurs d'emploi de catégorie A au 31 décembre 2025, par IRIS de "
           "résidence et code ROME du métier recherché ; les lignes à zéro sont omises. Effectifs "
           "souvent inférieurs à 11 : données à accès restreint.", EMPLOI, ["Emploi"],
           ["demandeurs d'emploi", "ROME", "IRIS", "Data & Quartiers"], "monthly",
           paths["demandeurs"], every, access="restricted"),
        _d("offres-emploi-2025", "offres", "Offres d'emploi géolocalisées en 2025",
           "Offres d'emploi publiées en 2025, avec le code ROME et le lieu de travail (points plus "
           "denses près des pôles d'emploi). Croisées avec les demandeurs, elles donnent la "
           "distance domicile-emploi par QPV et par métier.", EMPLOI, ["Emploi"],
           ["offres d'emploi", "ROME", "distance domicile-travail"], "monthly", paths["offres"],
           every, licence=ODBL),
        _d("c2s-recours-iris-2024", "c2s", "Recours à la Complémentaire santé solidaire par IRIS "
           "en 2024", "Bénéficiaires de la C2S et population éligible estimée par un modèle ; le "
           "taux de recours varie dans l'espace (plus faible en périphérie). Données à accès "
           "restreint.", CPAM, ["Santé", "Revenus et pauvreté"],
           ["C2S", "non-recours", "accès aux droits", "IRIS"], "annual", paths["c2s"], every,
           access="restricted"),
        _d("etablissements-scolaires", "ecoles", "Établissements scolaires",
           "Écoles maternelles et élémentaires, collèges et lycées, avec leur effectif et leur "
           "position (à rattacher aux IRIS par point dans polygone).", METROPOLE, ["Éducation"],
           ["écoles", "collèges", "lycées", "UAI"], "annual", paths["ecoles"], every),
    ]
    for s in COMMUNES:
        key = f"budget-{s.slug}"
        if key in paths:
            out.append(_d(key, "budget", f"Budget de {s.name} par chapitre, 2021-2025",
                          "Crédits ouverts et réalisés par chapitre de la nomenclature M57, en "
                          "fonctionnement et en investissement. Fichier Windows-1252, séparateur "
                          "point-virgule, virgule décimale.", s.slug, ["Finances publiques"],
                          ["budget", "M57", "comptes"], "annual", paths[key], [s.code]))
    out.append(_d("deliberations-val-sauvage", "deliberations", "Délibérations du conseil "
                  "municipal de Val-Sauvage", "Délibérations de 2021 à 2025 : objet, thématique, "
                  "résultat du vote et texte intégral.", COMMUNES[0].slug, ["Vie démocratique"],
                  ["délibérations", "conseil municipal"], "monthly", paths["deliberations"],
                  [COMMUNES[0].code]))
    return out


def columns(kind: str) -> list[str]:
    """Columns of a table kind, in file order (geometry excluded)."""
    return [c for c in FIELDS[kind] if c != "geometry"]


def write_manifest(demo: Demo, path: Path) -> None:
    """``demo.json``: the organisations and dataset metadata, for tools outside Python."""
    data = asdict(demo)
    for d in data["datasets"]:
        d["path"] = Path(d["path"]).name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
