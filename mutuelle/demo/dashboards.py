"""The dashboards of the SYNTHETIC demo territory: an internal one of Val-Sauvage's budget (the
execution rate of its spending against a target, spending by chapter) and a public one of the
metropolis's key figures; with the saved charts they show. Made through the same services as
the API (``dashboards.charts``, ``dashboards.boards``), by the command line's operator."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import OPERATOR
from mutuelle.catalog.dashboard_models import Chart, Dashboard
from mutuelle.core import clock
from mutuelle.core.config import Settings
from mutuelle.dashboards import boards, charts

CITY, METROPOLIS = "val-sauvage", "metropole-val-sauvage"
BUDGET = "budget-val-sauvage"
SPENDING = 'sens = "Dépense"'
NOTE = "*Données synthétiques de démonstration (mutuelle) : aucune collectivité réelle.*"


def _target_date() -> date:
    """The targets' date: the end of next year, so that a demo loaded any day has targets to
    come (a target date in the past is refused when it is set)."""
    return date(clock.now().year + 1, 12, 31)


def _rate(label: str, section: str, target: float, tolerance: float) -> dict[str, Any]:
    """The execution rate of a section's spending: spent over voted credits, per year."""
    return {"label": label, "dataset": BUDGET, "measure": "ratio", "numerator": "realise",
            "denominator": "credits_ouverts", "scale": 100, "unit": "%", "decimals": 1,
            "where": f'section = "{section}" and {SPENDING}', "period_field": "exercice",
            "compare": "previous",
            "target": {"value": target, "date": _target_date().isoformat(), "direction": "up",
                       "tolerance": tolerance}}


def _chart(session: Session, title: str, dataset: str, params: dict[str, Any],
           organisation: str, access: str = "public", description: str = "") -> Chart:
    existing = session.scalar(select(Chart).where(Chart.title == title))
    if existing is not None:
        return existing
    return charts.create_chart(session, OPERATOR, {
        "title": title, "dataset": dataset, "params": params, "organisation": organisation,
        "access": access, "description": description})


def _budget_blocks(by_chapter: Chart, by_year: Chart) -> list[dict[str, Any]]:
    return [
        {"kind": "kpi", "x": 0, "y": 0, "w": 4, "h": 3,
         "kpi": _rate("Taux d’exécution de l’investissement", "Investissement", 80, 5)},
        {"kind": "kpi", "x": 4, "y": 0, "w": 4, "h": 3,
         "kpi": _rate("Taux d’exécution du fonctionnement", "Fonctionnement", 97, 1)},
        {"kind": "kpi", "x": 8, "y": 0, "w": 4, "h": 3,
         "kpi": {"label": "Dépenses réalisées", "dataset": BUDGET, "measure": "sum",
                 "field": "realise", "where": SPENDING, "unit": "€", "format": "compact",
                 "decimals": 1, "period_field": "exercice"}},
        {"kind": "chart", "x": 0, "y": 3, "w": 7, "h": 4, "chart": by_chapter.id},
        {"kind": "chart", "x": 7, "y": 3, "w": 5, "h": 4, "chart": by_year.id},
        {"kind": "text", "x": 0, "y": 7, "w": 5, "h": 3, "title": "Lire ce tableau de bord",
         "text": "Le **taux d’exécution** rapporte les dépenses réalisées (mandatées) aux crédits "
                 "ouverts au budget. Pour 2025, le réalisé est provisoire : le compte financier "
                 "unique n’est pas encore voté.\n\nLes cibles sont celles du plan pluriannuel "
                 f"d’investissement.\n\n{NOTE}"},
        {"kind": "table", "x": 5, "y": 7, "w": 7, "h": 3, "title": "Notes du service des finances",
         "table": {"dataset": BUDGET, "columns": ["exercice", "libelle_chapitre", "commentaire"],
                   "where": "commentaire is not null", "order_by": "exercice desc", "rows": 6}},
    ]


def _key_figures_blocks(schools: Chart) -> list[dict[str, Any]]:
    return [
        {"kind": "kpi", "x": 0, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Habitants", "dataset": "population-iris-2021", "measure": "sum",
                 "field": "pop_total", "unit": "habitants"}},
        {"kind": "kpi", "x": 3, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Établissements scolaires", "dataset": "etablissements-scolaires",
                 "measure": "count", "unit": "établissements"}},
        {"kind": "kpi", "x": 6, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Élèves", "dataset": "etablissements-scolaires", "measure": "sum",
                 "field": "effectif", "unit": "élèves"}},
        {"kind": "kpi", "x": 9, "y": 0, "w": 3, "h": 2,
         "kpi": {"label": "Offres d’emploi publiées", "dataset": "offres-emploi-2025",
                 "measure": "count", "unit": "offres", "period_field": "date_publication",
                 "period_grain": "month"}},
        {"kind": "indicator", "x": 0, "y": 2, "w": 3, "h": 2,
         "indicator": {"indicator": "taux-pauvrete"}},
        {"kind": "map", "x": 3, "y": 2, "w": 5, "h": 4, "title": "Part des 75 ans ou plus",
         "map": {"indicator": "part-75-ans-plus", "level": "commune"}},
        {"kind": "map", "x": 8, "y": 2, "w": 4, "h": 4, "title": "Où sont les établissements",
         "map": {"dataset": "etablissements-scolaires"}},
        {"kind": "text", "x": 0, "y": 4, "w": 3, "h": 2, "title": "À propos",
         "text": "Les chiffres clés de la Métropole de Val-Sauvage, recalculés à chaque "
                 f"visite à partir des jeux de données du portail.\n\n{NOTE}"},
        {"kind": "chart", "x": 0, "y": 6, "w": 12, "h": 3, "chart": schools.id},
    ]


def define_demo_dashboards(session: Session, settings: Settings) -> list[Dashboard]:
    """Save the demo's charts and dashboards (those already there are kept); commits."""
    by_chapter = _chart(session, "Dépenses réalisées par chapitre", BUDGET, {
        "type": "bar", "x": "libelle_chapitre", "y": "realise", "aggregation": "sum",
        "filters": [{"field": "sens", "op": "=", "value": "Dépense"}], "sort": "-y",
        "limit": 12}, CITY, description=f"Toutes années confondues, de 2021 à 2025. {NOTE}")
    by_year = _chart(session, "Dépenses réalisées par année et par section", BUDGET, {
        "type": "line", "x": "exercice", "y": "realise", "aggregation": "sum",
        "series": "section", "filters": [{"field": "sens", "op": "=", "value": "Dépense"}]},
        CITY)
    schools = _chart(session, "Établissements scolaires par type et par secteur",
                     "etablissements-scolaires", {
                         "type": "bar", "x": "type_etablissement", "aggregation": "count",
                         "series": "secteur"}, METROPOLIS)
    wanted = [
        ("Budget de Val-Sauvage : exécution", CITY, "internal", _budget_blocks(by_chapter, by_year),
         "L’exécution du budget de la ville, année par année, face aux cibles du plan "
         "pluriannuel. Réservé aux membres de la ville et de la métropole."),
        ("Chiffres clés de la Métropole de Val-Sauvage", METROPOLIS, "public",
         _key_figures_blocks(schools), "Population, écoles, emploi et revenus du territoire."),
    ]
    made = []
    for title, organisation, access, blocks, description in wanted:
        existing = session.scalar(select(Dashboard).where(Dashboard.title == title))
        made.append(existing or boards.create_dashboard(session, settings, OPERATOR, {
            "title": title, "description": description, "access": access,
            "organisation": organisation, "blocks": blocks}))
    session.commit()
    return made
