"""A small table of job offers in a real DuckDB (with spatial) to run compiled ODSQL on."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlglot import exp

from mutuelle.core.config import load_settings
from mutuelle.query.odsql import QueryRequest, build_query, to_sql
from mutuelle.store.duck import connect

EARTH_RADIUS_M = 6_371_008.8
PARIS = (2.3522, 48.8566)  # lon, lat
# 1500 m due north of PARIS on the sphere used for within_distance.
NORTH_1500M = (PARIS[0], PARIS[1] + math.degrees(1500 / EARTH_RADIUS_M))


@dataclass(frozen=True)
class Offer:
    """One row of the test table (synthetic job offers)."""

    id: int
    title: str
    city: str | None
    salary: int | None
    rate: float | None
    remote: bool | None
    published: date
    created: datetime
    geo: tuple[float, float] | None
    contract: str | None


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


OFFERS = [
    Offer(1, "Développeur Python", "Paris", 3200, 0.5, True, date(2024, 1, 15),
          _utc(2024, 1, 15, 8, 30), PARIS, "CDI"),
    Offer(2, "Data engineer", "Paris", 4100, 1.0, False, date(2024, 2, 3),
          _utc(2024, 2, 3, 23, 30), (2.2945, 48.8584), "CDI"),
    Offer(3, "Chargé d'accueil", "Lyon", 1900, 1.0, False, date(2024, 2, 20),
          _utc(2024, 2, 20, 9, 0), (4.8357, 45.7640), "CDD"),
    Offer(4, "Infirmier de nuit", "Lyon", 2600, 0.8, False, date(2024, 5, 2),
          _utc(2024, 5, 2, 22, 15), (4.85, 45.75), "CDI"),
    Offer(5, "Boulanger", "Marseille", 2100, 1.0, False, date(2024, 5, 28),
          _utc(2024, 5, 28, 4, 0), (5.3698, 43.2965), "CDD"),
    Offer(6, "Développeuse web", "Nantes", 3000, 0.6, True, date(2024, 6, 10),
          _utc(2024, 6, 10, 12, 0), (-1.5536, 47.2184), "CDI"),
    Offer(7, "Agent d'entretien", "Paris", 1800, 0.5, False, date(2023, 11, 30),
          _utc(2023, 11, 30, 7, 45), NORTH_1500M, "Intérim"),
    Offer(8, "Chef de projet", "Bordeaux", 4500, 1.0, True, date(2023, 12, 12),
          _utc(2023, 12, 31, 23, 59), (-0.5792, 44.8378), "CDI"),
    Offer(9, "Assistant comptable", None, None, None, None, date(2024, 3, 1),
          _utc(2024, 3, 1, 10, 0), None, None),
    Offer(10, "Éducateur sportif", "Paris", 2300, 0.7, False, date(2024, 3, 18),
          _utc(2024, 3, 18, 18, 0), (2.4, 48.83), "CDD"),
]

SCHEMA = {
    "id": "integer", "title": "text", "city": "text", "salary": "integer", "rate": "decimal",
    "remote": "boolean", "published": "date", "created": "datetime", "geo": "geometry",
    "contract type": "text",
}
SOURCE = exp.to_table("offers")


@pytest.fixture(scope="session")
def con(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection (spatial loaded) holding the ``offers`` table."""
    home = tmp_path_factory.mktemp("home")
    connection = connect(load_settings({"MUTUELLE_HOME": str(home)}))
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("""
        CREATE TABLE offers (id INTEGER, title VARCHAR, city VARCHAR, salary INTEGER,
            rate DOUBLE, remote BOOLEAN, published DATE, created TIMESTAMPTZ, geo GEOMETRY,
            "contract type" VARCHAR)""")
    for o in OFFERS:
        wkt = f"POINT ({o.geo[0]!r} {o.geo[1]!r})" if o.geo else None
        connection.execute(
            "INSERT INTO offers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ST_GeomFromText(?), ?)",
            [o.id, o.title, o.city, o.salary, o.rate, o.remote, o.published, o.created, wkt,
             o.contract])
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def parquet_path(con: duckdb.DuckDBPyConnection,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same table written as a (Geo)Parquet file."""
    path = tmp_path_factory.mktemp("store") / "offers.parquet"
    con.execute(f"COPY offers TO '{path}' (FORMAT parquet)")
    return path


Runner = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def offers() -> list[Offer]:
    """The rows of the test table, to compute expected answers in Python."""
    return OFFERS


@pytest.fixture(scope="session")
def schema() -> dict[str, str]:
    """The test table's columns and their types."""
    return dict(SCHEMA)


@pytest.fixture(scope="session")
def source() -> exp.Expression:
    """The test table as a FROM source."""
    return SOURCE.copy()


@pytest.fixture(scope="session")
def run(con: duckdb.DuckDBPyConnection) -> Runner:
    """Build, execute and return the rows of an ODSQL request as dicts."""
    def _run(req: QueryRequest, source: exp.Expression = SOURCE) -> list[dict[str, Any]]:
        sql = to_sql(build_query(req, SCHEMA, source))
        # Through Arrow: fetchall() would need pytz for TIMESTAMPTZ values.
        rows: list[dict[str, Any]] = con.execute(sql).fetch_arrow_table().to_pylist()
        return rows
    return _run


@pytest.fixture(scope="session")
def where_ids(run: Runner) -> Callable[..., list[int]]:
    """The ids of the offers some where clauses keep, in id order."""
    def _ids(where: str | list[str], **kwargs: Any) -> list[int]:
        wheres = [where] if isinstance(where, str) else where
        rows = run(QueryRequest(select="id", where=wheres, order_by="id", **kwargs))
        return [row["id"] for row in rows]
    return _ids
