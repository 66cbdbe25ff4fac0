"""The small budget the dashboards' tests compute on, and the answers computed in Python."""

from __future__ import annotations

HEADER = "exercice;section;sens;chapitre;credits_ouverts;realise"
#: (year, section, direction, chapter, voted, spent): the budget the tests compute on.
BUDGET = [
    (2022, "Investissement", "Dépense", "21", 1000.0, 600.0),
    (2022, "Investissement", "Dépense", "23", 500.0, 200.0),
    (2022, "Fonctionnement", "Dépense", "011", 2000.0, 1900.0),
    (2022, "Fonctionnement", "Recette", "73", 2500.0, 2600.0),
    (2023, "Investissement", "Dépense", "21", 1200.0, 900.0),
    (2023, "Investissement", "Dépense", "23", 400.0, 300.0),
    (2023, "Fonctionnement", "Dépense", "011", 2100.0, 2050.0),
    (2023, "Fonctionnement", "Recette", "73", 2600.0, 2650.0),
    (2024, "Investissement", "Dépense", "21", 1000.0, 800.0),
    (2024, "Investissement", "Dépense", "23", 1000.0, 780.0),
    (2024, "Fonctionnement", "Dépense", "011", 2200.0, 2150.0),
    (2024, "Fonctionnement", "Recette", "73", 2700.0, 2710.0),
]


def budget_csv(rows: list[tuple[object, ...]] = BUDGET, header: str = HEADER) -> str:
    """The budget as a French CSV (``;``, decimal comma)."""
    def cell(value: object) -> str:
        return f"{value:.2f}".replace(".", ",") if isinstance(value, float) else str(value)
    return "\n".join([header, *(";".join(cell(v) for v in row) for row in rows)]) + "\n"


def expected_rate(year: int, section: str) -> float:
    """Spent over voted (%) of a section's spending in ``year``, from ``BUDGET``."""
    rows = [r for r in BUDGET if r[0] == year and r[1] == section and r[2] == "Dépense"]
    return 100 * sum(r[5] for r in rows) / sum(r[4] for r in rows)
