"""A small referential written as catalogue rows, and datasets imported from CSV text, on both
catalogue backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from mutuelle.catalog import repository as repo
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.catalog.models import Dataset
from mutuelle.catalog.observatory_models import Territory, TerritoryOverlap
from mutuelle.core.config import Settings
from mutuelle.ingest.service import import_file

VINTAGE = 2024

#: region 84 > départements 69 and 01; EPCI 200000001 (in 69) holds communes 69001 and 69002;
#: commune 01001 belongs to no EPCI; QPV QN06901M overlaps two IRIS of 69001.
SMALL = [
    ("region", "84", "Région", None, {}),
    ("departement", "69", "Rhône", "84", {"region": "84"}),
    ("departement", "01", "Ain", "84", {"region": "84"}),
    ("epci", "200000001", "Métropole", "69", {"departement": "69", "region": "84"}),
    ("commune", "69001", "Alpha", "200000001", {"epci": "200000001", "departement": "69",
                                                "region": "84"}),
    ("commune", "69002", "Bêta", "200000001", {"epci": "200000001", "departement": "69",
                                               "region": "84"}),
    ("commune", "01001", "Gamma", "01", {"departement": "01", "region": "84"}),
    ("iris", "690010101", "Alpha 1", "69001", {"commune": "69001"}),
    ("iris", "690010102", "Alpha 2", "69001", {"commune": "69001"}),
    ("iris", "690010103", "Alpha 3", "69001", {"commune": "69001"}),
    ("iris", "690020101", "Bêta 1", "69002", {"commune": "69002"}),
    ("iris", "690020102", "Bêta 2", "69002", {"commune": "69002"}),
    ("iris", "010010101", "Gamma 1", "01001", {"commune": "01001"}),
    ("iris", "010010102", "Gamma 2", "01001", {"commune": "01001"}),
    ("qpv", "QN06901M", "Les Tours", "69001", {"commune": "69001"}),
]
SMALL_OVERLAPS = [("QN06901M", "690010101", 0.5), ("QN06901M", "690010102", 0.2)]


Row = tuple[str, str, str, str | None, dict[str, Any]]


def write_territories(session: Session, rows: list[Row],
                      overlaps: Sequence[tuple[str, str, float]] = (), vintage: int = VINTAGE,
                      extra: dict[tuple[str, str], dict[str, Any]] | None = None) -> None:
    """Write territory rows (level, code, name, parent, ancestor columns) and QPV overlaps."""
    session.execute(insert(Territory), [
        {"vintage": vintage, "level": level, "code": code, "name": name,
         "name_folded": name.lower(), "parent_code": parent,
         "commune": cols.get("commune", code if level == "commune" else None),
         "epci": cols.get("epci"), "departement": cols.get("departement"),
         "region": cols.get("region"), "extra": (extra or {}).get((level, code), {})}
        for level, code, name, parent, cols in rows])
    if overlaps:
        session.execute(insert(TerritoryOverlap), [
            {"vintage": vintage, "qpv": q, "iris": i, "area_share": s, "population_share": None}
            for q, i, s in overlaps])
    session.commit()


@pytest.fixture
def session(any_settings: Settings) -> Iterator[Session]:
    """A session on a fresh catalogue (SQLite, then PostgreSQL)."""
    upgrade(any_settings)
    with sessions(any_settings)() as s:
        yield s


@pytest.fixture
def add_territories(session: Session) -> Callable[..., None]:
    """``add_territories(rows, overlaps=(), extra=None)`` in the test's catalogue."""
    return lambda rows, overlaps=(), **kw: write_territories(session, rows, overlaps, **kw)


@pytest.fixture
def small_rows() -> list[Row]:
    """The rows of the SMALL referential."""
    return list(SMALL)


@pytest.fixture
def small_referential(session: Session) -> Session:
    """The SMALL referential in the catalogue."""
    write_territories(session, SMALL, SMALL_OVERLAPS)
    return session


#: Numerators and denominators by IRIS of the small referential (and one IRIS outside it,
#: one with a zero denominator).
RATES = """code_iris,num,den
690010101,30,100
690010102,20,200
690010103,10,100
690020101,40,150
690020102,15,50
010010101,25,120
010010102,0,0
"""


@pytest.fixture
def add_rates(add_dataset: Callable[[str, str], Dataset]) -> Callable[[], Dataset]:
    """``add_rates()``: the dataset "taux" of ``RATES``."""
    return lambda: add_dataset("taux", RATES)


@pytest.fixture
def add_dataset(any_settings: Settings, session: Session, tmp_path: Path
                ) -> Callable[[str, str], Dataset]:
    """``add_dataset(slug, csv_text)``: a published dataset with one version of that CSV."""
    org = repo.create_organisation(session, name="Observatoire", slug="observatoire")
    session.commit()

    def add(slug: str, text: str) -> Dataset:
        path = tmp_path / f"{slug}.csv"
        path.write_text(text, encoding="utf-8")
        dataset = repo.create_dataset(session, organisation=org, title=slug, slug=slug)
        session.commit()
        import_file(session, any_settings, dataset, path)
        repo.publish_dataset(session, dataset)
        session.commit()
        return dataset

    return add
