"""The demo's tables, derived from the territory's latent fields and written as French files.

The themes live in their own modules, re-exported here: ``iris_tables`` (population, income,
C2S), ``employment`` (jobseekers, offers), ``schools``, ``budgets`` and ``deliberations``;
``french_csv`` writes the files.

Formats vary on purpose, to exercise ingestion: ``;`` and ``,`` separators, decimal commas,
UTF-8 with and without BOM, one cp1252 family (budgets, CRLF, dd/mm/yyyy), quoted multi-line text.
"""

from __future__ import annotations

from mutuelle.demo.budgets import (
    CHAPTERS,
    NOTES,
    PRICE_INDEX,
    YEARS,
    budget_vote_dates,
    write_budget,
)
from mutuelle.demo.deliberations import ASSOS, COUNCIL, RAPPORTEURS, THEMES, write_deliberations
from mutuelle.demo.employment import CONTRACTS, ROME, SMIC_MENSUEL, write_jobseekers, write_offers
from mutuelle.demo.french_csv import dec, write_csv
from mutuelle.demo.iris_tables import (
    IrisStats,
    iris_stats,
    write_c2s,
    write_income,
    write_population,
)
from mutuelle.demo.schools import PATRONS, PRIVATE, SCHOOL_KINDS, UAI_KEYS, uai, write_schools

__all__ = [
    "ASSOS",
    "CHAPTERS",
    "CONTRACTS",
    "COUNCIL",
    "NOTES",
    "PATRONS",
    "PRICE_INDEX",
    "PRIVATE",
    "RAPPORTEURS",
    "ROME",
    "SCHOOL_KINDS",
    "SMIC_MENSUEL",
    "THEMES",
    "UAI_KEYS",
    "YEARS",
    "IrisStats",
    "budget_vote_dates",
    "dec",
    "iris_stats",
    "uai",
    "write_budget",
    "write_c2s",
    "write_csv",
    "write_deliberations",
    "write_income",
    "write_jobseekers",
    "write_offers",
    "write_population",
    "write_schools",
]
