"""The territorial referential: territories of each level and vintage (*millésime*, the year of
the geography) as catalogue rows with their parents, and their contours in one Parquet file per
vintage and level (``STORE/referential/<vintage>/<level>.parquet``) that DuckDB reads."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import LEVELS, Territory
from mutuelle.catalog.repository import fold
from mutuelle.core.config import Settings
from mutuelle.core.errors import ImportFailed, InvalidInput, NotFound
from mutuelle.geo.cog import resolve_parents
from mutuelle.geo.importers import (
    Records,
    check_level,
    detect_mapping,
    examples,
    normalise_code,
    to_records,
    write_contours,
)
from mutuelle.ingest.model import ImportOptions
from mutuelle.ingest.reader import read_file
from mutuelle.store.duck import cursor
from mutuelle.store.sql import literal
from mutuelle.store.versions import staging_path

log = logging.getLogger(__name__)

#: Vintages accepted: years of a geography.
MIN_VINTAGE, MAX_VINTAGE = 1900, 2100
#: Rows written per batch of catalogue inserts or deletes.
BATCH = 5000
#: Order of levels from the smallest to the largest, for children and search results.
HIERARCHY = ("iris", "qpv", "commune", "epci", "departement", "region", "territoire")
#: The level just below each level.
CHILD_LEVEL = {"region": "departement", "departement": "epci", "epci": "commune",
               "commune": "iris", "territoire": "commune"}


@dataclass
class ImportReport:
    """What an import of contours did: counts, the mapping used, and everything odd, counted."""

    level: str
    vintage: int
    source: str
    imported: int = 0          # territories in the file (after merging duplicate codes)
    inserted: int = 0
    updated: int = 0
    removed: int = 0           # territories of a previous import of this level, not in the file
    with_geometry: int = 0
    mapping: dict[str, str] = field(default_factory=dict)   # role -> column of the file
    unknown_parents: dict[str, int] = field(default_factory=dict)   # parent code -> children
    warnings: list[str] = field(default_factory=list)
    detected: dict[str, str] = field(default_factory=dict)  # crs, format, cog
    path: Path | None = None
    seconds: float = 0.0


def check_vintage(vintage: object) -> int:
    """``vintage`` as a year, or a clear refusal."""
    try:
        year = int(str(vintage))
    except ValueError:
        raise InvalidInput(f"unknown vintage {vintage!r}: give a year such as 2024") from None
    if not MIN_VINTAGE <= year <= MAX_VINTAGE:
        raise InvalidInput(f"unknown vintage {vintage!r}: give a year between {MIN_VINTAGE} "
                           f"and {MAX_VINTAGE}")
    return year


def geometry_path(settings: Settings, vintage: int, level: str) -> Path:
    """Where the contours of ``level`` for ``vintage`` live (the file may not exist yet)."""
    return settings.store_dir / "referential" / f"{check_vintage(vintage)}" / f"{check_level(level)}.parquet"


def import_territories(session: Session, settings: Settings, source: Path, *, level: str,
                       vintage: int, mapping: dict[str, str] | None = None,
                       source_crs: str | None = None, name: str | None = None,
                       cog: bool = True) -> ImportReport:
    """Import a contour file (or a plain list) as the territories of ``level`` for ``vintage``.

    Territories of a previous import of this level and vintage that the file no longer holds
    are removed; rows that came from the COG are kept. ``cog``: load the COG first when the
    parents of the file are missing from the catalogue and the COG knows them."""
    start = time.perf_counter()
    check_level(level)
    vintage = check_vintage(vintage)
    source = Path(source)
    report = ImportReport(level, vintage, name or source.name)
    staged_path = staging_path(settings)
    con = cursor(settings)
    try:
        staged = read_file(source, report.source, staged_path, settings,
                           ImportOptions(source_crs=source_crs))
        report.warnings.extend(staged.warnings)
        report.detected.update({k: v for k, v in staged.detected.items()
                                if k in ("crs", "geometry_type", "encoding", "archive_entry")})
        report.detected["format"] = staged.format
        has_geometry = any(c.type == "geometry" for c in staged.columns)
        _check_polygons(level, staged.detected.get("geometry_type", ""), has_geometry)
        columns = detect_mapping(level, [c.name for c in staged.columns if c.type != "geometry"],
                                 mapping)
        report.mapping = dict(columns.columns)
        records = to_records(level, columns, _attribute_rows(con, staged_path, columns.columns))
        report.warnings.extend(records.warnings)
        if not records.rows:
            raise ImportFailed(f"the file holds no {level} with a code")
        resolved = resolve_parents(session, settings, records, vintage, with_cog=cog)
        report.unknown_parents = resolved.unknown
        if resolved.cog_loaded:
            report.detected["cog"] = f"loaded for vintage {vintage}" + (
                f" ({resolved.cog_note})" if resolved.cog_note else "")
        if resolved.passed:
            report.warnings.append(
                f"{len(resolved.passed)} commune code(s) of the file belong to merged communes "
                "and were mapped to the commune that absorbed them: "
                + examples((f"{a} → {b}" for a, b in resolved.passed.items()),
                           len(resolved.passed)))
        if resolved.merged:
            report.warnings.append(
                f"{len(resolved.merged)} commune(s) of the file have since merged into another "
                "and are kept as the file has them: "
                + examples((f"{a} → {b}" for a, b in resolved.merged.items()),
                           len(resolved.merged)))
        if resolved.unknown:
            total = sum(resolved.unknown.values())
            report.warnings.append(
                f"{total} {level} territor{'y' if total == 1 else 'ies'} point to "
                f"{len(resolved.unknown)} parent code(s) found neither in the catalogue nor in "
                f"the COG: {examples(resolved.unknown, len(resolved.unknown))}")
        report.imported = len(records.rows)
        target = geometry_path(settings, vintage, level)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            if has_geometry:
                target.parent.mkdir(parents=True, exist_ok=True)
                note = write_contours(con, staged_path, records, tmp)
                report.warnings.extend(note.warnings)
                report.with_geometry = note.with_geometry
            _write_rows(session, records, vintage, report, replace=has_geometry)
            session.flush()
            if has_geometry:
                _publish(session, tmp, target)
                report.path = target
                derived_marker(settings, vintage, level).unlink(missing_ok=True)
            else:
                session.commit()
                report.warnings.append("the file has no geometry: the territories were recorded "
                                       "without contours")
        except BaseException:
            session.rollback()
            raise
        finally:
            tmp.unlink(missing_ok=True)
    finally:
        con.close()
        staged_path.unlink(missing_ok=True)
    if level == "iris" and report.path is not None:
        drawn = draw_communes_from_iris(session, settings, vintage)
        if drawn:
            report.detected["communes"] = (f"{drawn} commune contours of {vintage} drawn from "
                                           "their IRIS (no commune contours of that vintage)")
    report.seconds = time.perf_counter() - start
    log.info("territories_imported level=%s vintage=%d count=%d unknown_parents=%d seconds=%.2f",
             level, vintage, report.imported, len(report.unknown_parents), report.seconds)
    return report


def _check_polygons(level: str, geometry_type: str, has_geometry: bool) -> None:
    if has_geometry and geometry_type and "POLYGON" not in geometry_type:
        raise ImportFailed(f"{level} contours must be polygons; the file holds {geometry_type}")


def _attribute_rows(con: duckdb.DuckDBPyConnection, parquet: Path,
                    columns: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    names = sorted(set(columns.values()))
    select_list = ", ".join(f'CAST("{n.replace(chr(34), chr(34) * 2)}" AS VARCHAR)' for n in names)
    rows = con.execute(f"SELECT file_row_number, {select_list} FROM "
                       "read_parquet(?, file_row_number := true) ORDER BY 1",
                       [str(parquet)]).fetchall()
    return [(int(r[0]), dict(zip(names, r[1:], strict=True))) for r in rows]


def _write_rows(session: Session, records: Records, vintage: int, report: ImportReport,
                *, replace: bool) -> None:
    """Replace the rows of the file's codes and (when contours replace contours) those of a
    previous import that the file no longer holds, in the open transaction. Rows are deleted
    and inserted again rather than updated: far faster in bulk on both backends."""
    level = records.level
    existing = {code: (ident, extra or {}) for code, ident, extra in session.execute(
        select(Territory.code, Territory.id, Territory.extra).where(
            Territory.vintage == vintage, Territory.level == level)).all()}
    rows = []
    for code, r in records.rows.items():
        rows.append({"vintage": vintage, "level": level, "code": code, "name": r["name"],
                     "name_folded": fold(f"{r['name']} {code}"),
                     "parent_code": r.get("parent_code"), "commune": r.get("commune"),
                     "epci": r.get("epci"), "departement": r.get("departement"),
                     "region": r.get("region"), "population": r.get("population"),
                     "kind": r.get("kind"),
                     "extra": {"source": "contours" if replace else "list",
                               "file": report.source, **(r.get("extra") or {})}})
    stale = [ident for code, (ident, extra) in existing.items()
             if replace and code not in records.rows and extra.get("source") == "contours"]
    replaced = [existing[code][0] for code in records.rows if code in existing]
    doomed = stale + replaced
    for i in range(0, len(doomed), BATCH):
        session.execute(delete(Territory).where(Territory.id.in_(doomed[i:i + BATCH])))
    for i in range(0, len(rows), BATCH):   # on the connection: a plain executemany, no ORM
        session.connection().execute(insert(Territory), rows[i:i + BATCH])
    report.inserted = len(rows) - len(replaced)
    report.updated, report.removed = len(replaced), len(stale)


def _publish(session: Session, tmp: Path, target: Path) -> None:
    """Swap the contour file in and commit; put the previous file back if the commit fails."""
    previous = target.with_name(f".{target.name}.{uuid.uuid4().hex}.previous")
    had_previous = target.exists()
    if had_previous:
        os.replace(target, previous)
    try:
        os.replace(tmp, target)
        session.commit()
    except BaseException:
        if had_previous:
            os.replace(previous, target)
        else:
            target.unlink(missing_ok=True)
        raise
    previous.unlink(missing_ok=True)


def derived_marker(settings: Settings, vintage: int, level: str) -> Path:
    """The file saying that a level's contours were drawn from those of a smaller level (it
    holds that level's name): contours imported for the level itself replace them."""
    return geometry_path(settings, vintage, level).with_suffix(".derived")


def derived_from(settings: Settings, vintage: int, level: str) -> str | None:
    """The level a level's contours were drawn from, or None (imported, or none)."""
    marker = derived_marker(settings, vintage, level)
    return marker.read_text(encoding="utf-8").strip() or None if marker.is_file() else None


def draw_communes_from_iris(session: Session, settings: Settings, vintage: int) -> int:
    """Draw the communes of ``vintage`` by dissolving their IRIS, when the vintage has no
    commune contours of its own (or only ones drawn so before): the IRIS of a vintage are its
    communes' finest partition, and a map by commune of that vintage needs them. Communes are
    those of the catalogue rows of the vintage (named from its COG). The number drawn."""
    iris = geometry_path(settings, vintage, "iris")
    target = geometry_path(settings, vintage, "commune")
    if not iris.exists() or (target.exists() and derived_from(settings, vintage, "commune") is None):
        return 0
    rows = {t.code: t for t in session.scalars(select(Territory).where(
        Territory.vintage == vintage, Territory.level == "commune"))}
    con = cursor(settings)
    staged = staging_path(settings)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        # one row per IRIS in file order: its commune and its full contour
        con.execute(f"COPY (SELECT commune, geometry FROM read_parquet(?) "
                    f"WHERE commune IS NOT NULL ORDER BY code) TO {literal(staged)} "
                    "(FORMAT parquet)", [str(iris)])
        communes = con.execute("SELECT file_row_number, commune FROM read_parquet(?, "
                               "file_row_number := true) ORDER BY 1", [str(staged)]).fetchall()
        records = Records("commune")
        for rid, code in communes:
            if code not in rows:
                continue
            records.keys.append((rid, code))
            if code not in records.rows:
                t = rows[code]
                records.rows[code] = {"code": code, "name": t.name, "parent_code": t.parent_code,
                                      "commune": code, "epci": t.epci,
                                      "departement": t.departement, "region": t.region,
                                      "population": t.population, "kind": t.kind}
        if not records.rows:
            return 0
        write_contours(con, staged, records, tmp)
        os.replace(tmp, target)
        derived_marker(settings, vintage, "commune").write_text("iris", encoding="utf-8")
    finally:
        con.close()
        staged.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    log.info("communes_drawn_from_iris vintage=%d communes=%d", vintage, len(records.rows))
    return len(records.rows)


def union_territory(session: Session, settings: Settings, *, vintage: int, level: str, code: str,
                    name: str, from_level: str = "commune",
                    members: list[str] | None = None) -> ImportReport:
    """Make the territory ``code`` of ``level`` whose contour is the union of territories of
    ``from_level`` (all of them, or ``members``): an EPCI from its communes, or the whole
    territory of the instance (level ``territoire``)."""
    source = geometry_path(settings, vintage, from_level)
    if not source.exists():
        raise NotFound(f"no {from_level} contours for vintage {vintage}")
    con = cursor(settings)
    params: list[object]
    try:
        where, params = "", [str(source)]
        if members is not None:
            where, params = "WHERE list_contains(?, code)", [str(source), members]
        row = con.execute(
            "SELECT ST_AsGeoJSON(ST_Union_Agg(geometry)), sum(population), list(code ORDER BY code) "
            f"FROM read_parquet(?) {where}", params).fetchone()
    finally:
        con.close()
    if row is None or row[0] is None:
        raise NotFound(f"none of the {from_level} contours asked for exist in vintage {vintage}")
    geometry, population, codes = row
    feature = {"type": "Feature", "geometry": json.loads(geometry),
               "properties": {"code": code, "nom": name, "population": population}}
    with tempfile.TemporaryDirectory(dir=_work_dir(settings)) as tmp:
        path = Path(tmp) / f"{level}.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                        encoding="utf-8")
        report = import_territories(session, settings, path, level=level, vintage=vintage,
                                    mapping={"code": "code", "name": "nom",
                                             "population": "population"}, cog=False)
    territory = session.scalars(select(Territory).where(
        Territory.vintage == vintage, Territory.level == level, Territory.code == code)).one()
    territory.extra = {**(territory.extra or {}), f"{from_level}s": list(codes)}
    session.commit()
    return report


def _work_dir(settings: Settings) -> Path:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    return settings.work_dir


# -- reading the referential -----------------------------------------------------------------

def vintages(session: Session) -> list[int]:
    """Vintages present in the referential, oldest first."""
    return sorted(v for (v,) in session.execute(select(Territory.vintage).distinct()).all())


def default_vintage(session: Session, settings: Settings) -> int | None:
    """The vintage shown when none is named: the default one if the referential has it, else
    the newest it has; None for an empty referential."""
    present = vintages(session)
    if not present:
        return None
    return settings.default_vintage if settings.default_vintage in present else present[-1]


def _check_known_vintage(session: Session, vintage: int) -> int:
    vintage = check_vintage(vintage)
    known = vintages(session)
    if vintage not in known:
        listed = ", ".join(map(str, known)) or "none yet"
        raise NotFound(f"vintage {vintage} is not in the referential (vintages: {listed})")
    return vintage


def levels_available(session: Session, vintage: int, settings: Settings | None = None) -> list[str]:
    """Levels having territories in ``vintage`` (with ``settings``: only those with contours)."""
    vintage = _check_known_vintage(session, vintage)
    present = {lv for (lv,) in session.execute(
        select(Territory.level).where(Territory.vintage == vintage).distinct()).all()}
    levels = [lv for lv in LEVELS if lv in present]
    if settings is not None:
        levels = [lv for lv in levels if geometry_path(settings, vintage, lv).exists()]
    return levels


def get_territory(session: Session, level: str, code: str, vintage: int | None = None) -> Territory:
    """One territory; without ``vintage``, the newest vintage holding that code."""
    check_level(level)
    wanted = normalise_code(level, code) or ""
    query = select(Territory).where(Territory.level == level, Territory.code == wanted)
    if vintage is not None:
        query = query.where(Territory.vintage == _check_known_vintage(session, vintage))
    found = session.scalars(query.order_by(Territory.vintage.desc()).limit(1)).first()
    if found is None:
        where = f" in vintage {vintage}" if vintage is not None else ""
        raise NotFound(f"no {level} with code {code!r}{where}")
    return found


def children(session: Session, territory: Territory, level: str | None = None) -> list[Territory]:
    """Territories of ``level`` (default: the level just below) inside ``territory``."""
    level = check_level(level or CHILD_LEVEL.get(territory.level, ""))
    query = select(Territory).where(Territory.vintage == territory.vintage, Territory.level == level)
    if territory.level == "territoire":
        members = list((territory.extra or {}).get("communes") or [])
        column = {"commune": Territory.code}.get(level, Territory.commune)
        query = query.where(column.in_(members))
    elif territory.level in ("commune", "epci", "departement", "region"):
        query = query.where(getattr(Territory, territory.level) == territory.code)
    else:
        query = query.where(Territory.parent_code == territory.code)
    return list(session.scalars(query.order_by(Territory.code)).all())


def search_territories(session: Session, q: str, *, level: str | None = None, limit: int = 20,
                       vintage: int | None = None) -> list[Territory]:
    """Territories whose name or code holds every word of ``q`` (accents and case ignored);
    exact codes first, then larger territories, newest vintage of each."""
    words = fold(q).split()
    if not words:
        return []
    query = select(Territory)
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Territory.name_folded.like(f"%{escaped}%", escape="\\"))
    if level is not None:
        query = query.where(Territory.level == check_level(level))
    if vintage is not None:
        query = query.where(Territory.vintage == check_vintage(vintage))
    exact = q.strip().upper()
    query = query.order_by((Territory.code == exact).desc(), func.length(Territory.name),
                           Territory.name, Territory.vintage.desc()).limit(max(1, limit) * 4)
    seen: set[tuple[str, str]] = set()
    out = []
    for t in session.scalars(query).all():
        if (t.level, t.code) not in seen:
            seen.add((t.level, t.code))
            out.append(t)
    out.sort(key=lambda t: (t.code != exact, -HIERARCHY.index(t.level), len(t.name), t.name))
    return out[:limit]


__all__ = [
    "ImportReport",
    "check_vintage",
    "children",
    "geometry_path",
    "get_territory",
    "import_territories",
    "levels_available",
    "search_territories",
    "union_territory",
    "vintages",
]
