"""Attach a dataset version to the referential: by a code column (codes put back in shape,
merged communes followed through the passage table, unmatched codes counted), or by
point-in-polygon for point data (each school or job offer gets its IRIS and its QPV)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import Territory, TerritoryPassage
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.geo.cog import commune_of
from mutuelle.geo.importers import check_level, examples, normalise_code
from mutuelle.geo.referential import check_vintage, geometry_path
from mutuelle.store.duck import connect, cursor
from mutuelle.store.sql import ident, literal
from mutuelle.store.versions import staging_path

log = logging.getLogger(__name__)


@dataclass
class AttachReport:
    """How the codes of one column met the territories of one level and vintage."""

    level: str
    vintage: int
    column: str
    rows: int = 0                   # rows with a code
    empty_rows: int = 0             # rows without one
    codes: int = 0                  # distinct codes
    matched_rows: int = 0
    matched_codes: int = 0
    mapping: dict[str, str] = field(default_factory=dict)   # code as written -> referential code
    padded: dict[str, str] = field(default_factory=dict)    # 1001 -> 01001
    passed: dict[str, str] = field(default_factory=dict)    # old code -> code of the vintage
    unmatched: dict[str, int] = field(default_factory=dict)  # code as written -> rows

    @property
    def unmatched_rows(self) -> int:
        """Rows whose code matches no territory."""
        return sum(self.unmatched.values())

    def summary(self) -> str:
        """One sentence for the user."""
        text = (f"{self.matched_rows} of {self.rows} rows ({self.matched_codes} of {self.codes} "
                f"codes) matched a {self.level} of {self.vintage}")
        if self.padded:
            text += f"; {len(self.padded)} code(s) padded with their leading zeros"
        if self.passed:
            text += f"; {len(self.passed)} old code(s) followed to their new commune"
        if self.unmatched:
            text += (f"; {len(self.unmatched)} code(s) on {self.unmatched_rows} row(s) match "
                     f"nothing: {examples(self.unmatched, len(self.unmatched))}")
        return text

    def table(self) -> pa.Table:
        """``(code_in_data, code)`` rows, to join a dataset to the referential in DuckDB."""
        return pa.table({"code_in_data": pa.array(list(self.mapping), pa.string()),
                         "code": pa.array(list(self.mapping.values()), pa.string())})


def _column_check(con: duckdb.DuckDBPyConnection, parquet: Path, column: str) -> list[str]:
    names = [r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE SELECT * FROM "
                                       "read_parquet(?))", [str(parquet)]).fetchall()]
    if column not in names:
        raise InvalidInput(f"no column {column!r} in the dataset; columns: {', '.join(names)}")
    return names


def attach_by_code(settings: Settings, parquet: Path, column: str, level: str, vintage: int,
                   session: Session) -> AttachReport:
    """Match the codes of ``column`` with the territories of ``level`` in ``vintage``."""
    check_level(level)
    vintage = check_vintage(vintage)
    known = set(session.scalars(select(Territory.code).where(
        Territory.vintage == vintage, Territory.level == level)).all())
    if not known:
        raise NotFound(f"the referential holds no {level} for vintage {vintage}")
    passages = dict(session.execute(select(TerritoryPassage.from_code, TerritoryPassage.to_code)
                                    .where(TerritoryPassage.level == level,
                                           TerritoryPassage.to_vintage == vintage,
                                           TerritoryPassage.from_vintage < vintage)).all())
    con = connect(settings, spatial=False)
    try:
        _column_check(con, parquet, column)
        q = ident(column)
        counts = con.execute(f"SELECT CAST({q} AS VARCHAR), count(*) FROM read_parquet(?) "
                             "GROUP BY 1 ORDER BY 2 DESC, 1", [str(parquet)]).fetchall()
    finally:
        con.close()
    report = AttachReport(level, vintage, column)
    for raw, n in counts:
        code = normalise_code(level, raw)
        if code is None:
            report.empty_rows += n
            continue
        report.rows += n
        report.codes += 1
        found = _match(level, str(raw), code, known, passages, report, settings)
        if found is None:
            report.unmatched[str(raw)] = n
        else:
            report.mapping[str(raw)] = found
            report.matched_rows += n
            report.matched_codes += 1
    log.info("attached_by_code level=%s vintage=%d rows=%d matched=%d unmatched_codes=%d",
             level, vintage, report.rows, report.matched_rows, len(report.unmatched))
    return report


def _match(level: str, raw: str, code: str, known: set[str], passages: dict[str, str],
           report: AttachReport, settings: Settings) -> str | None:
    if code != raw.strip().upper() and raw.strip().upper() not in known and code in known:
        report.padded[raw] = code
    if code in known:
        return code
    if level == "commune" and commune_of(settings, code) in known:
        return commune_of(settings, code)     # an arrondissement municipal: its commune
    new = passages.get(code)
    if new and new in known:
        report.passed[raw] = new
        return new
    return None


@dataclass
class PointsReport:
    """Where ``attach_points`` wrote the points with their territories, and how many landed."""

    path: Path
    rows: int = 0
    without_geometry: int = 0
    inside: dict[str, int] = field(default_factory=dict)    # level -> points inside one
    outside: dict[str, int] = field(default_factory=dict)   # level -> points inside none
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def attach_points(settings: Settings, parquet: Path, geometry_column: str = "geometry",
                  vintage: int | None = None, levels: tuple[str, ...] = ("iris", "qpv"), *,
                  dest: Path | None = None) -> PointsReport:
    """Write ``dest`` (default: a staging file): every row of ``parquet`` plus ``<level>_code``
    per level, the territory containing the point (lines and polygons: a point on them)."""
    start = time.perf_counter()
    vintage = check_vintage(vintage or settings.default_vintage)
    zones = {level: geometry_path(settings, vintage, check_level(level)) for level in levels}
    report = PointsReport(dest or staging_path(settings))
    present = {lv: p for lv, p in zones.items() if p.exists()}
    if not present:
        raise NotFound(f"no contours of {', '.join(levels)} for vintage {vintage}")
    con = cursor(settings)
    try:
        names = _column_check(con, parquet, geometry_column)
        g = ident(geometry_column)
        kind = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                "read_parquet(?))", [str(parquet)]).fetchall())[geometry_column]
        geom = {"GEOMETRY": g, "BLOB": f"ST_GeomFromWKB({g})"}
        if kind not in geom:
            raise InvalidInput(f"column {geometry_column!r} holds {kind}, not geometries")
        con.execute(f"""CREATE TEMP TABLE points AS
            SELECT file_row_number AS rid,
                   CASE WHEN ST_GeometryType({geom[kind]}) = 'POINT' THEN {geom[kind]}
                        ELSE ST_PointOnSurface({geom[kind]}) END AS point
            FROM read_parquet(?, file_row_number := true)
            WHERE {g} IS NOT NULL AND NOT ST_IsEmpty({geom[kind]})""", [str(parquet)])
        report.rows = int(con.execute("SELECT count(*) FROM read_parquet(?)",
                                      [str(parquet)]).fetchone()[0])  # type: ignore[index]
        located = int(con.execute("SELECT count(*) FROM points").fetchone()[0])  # type: ignore[index]
        report.without_geometry = report.rows - located
        joins, columns = [], []
        for level in levels:
            column = f"{level}_code"
            if column in names:
                report.warnings.append(f"the dataset's own column {column} is replaced")
            if level not in present:
                report.warnings.append(f"no {level} contours for vintage {vintage}: "
                                       f"{column} left empty")
                columns.append(f"CAST(NULL AS VARCHAR) AS {column}")
                continue
            # The spatial join (R-tree on the polygons) needs an inner join; a point on a
            # shared border takes the smallest code, so that the result does not vary.
            con.execute(f"""CREATE TEMP TABLE hit_{level} AS
                SELECT p.rid, min(z.code) AS code FROM points p
                JOIN (SELECT code, geometry FROM read_parquet(?) WHERE geometry IS NOT NULL) z
                  ON ST_Intersects(z.geometry, p.point)
                GROUP BY p.rid""", [str(present[level])])
            report.inside[level] = int(con.execute(
                f"SELECT count(*) FROM hit_{level}").fetchone()[0])  # type: ignore[index]
            report.outside[level] = located - report.inside[level]
            joins.append(f"LEFT JOIN hit_{level} ON hit_{level}.rid = s.file_row_number")
            columns.append(f"hit_{level}.code AS {column}")
        replaced = [f"{lv}_code" for lv in levels if f"{lv}_code" in names]
        exclude = ", ".join(ident(c) for c in ["file_row_number", *replaced])
        report.path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"""COPY (SELECT s.* EXCLUDE ({exclude}), {', '.join(columns)}
                              FROM read_parquet(?, file_row_number := true) s {' '.join(joins)}
                              ORDER BY s.file_row_number)
                        TO {literal(report.path)} (FORMAT parquet, COMPRESSION zstd)""",
                    [str(parquet)])
    finally:
        con.close()
    report.seconds = time.perf_counter() - start
    log.info("attached_points rows=%d inside=%s seconds=%.2f", report.rows, report.inside,
             report.seconds)
    return report
