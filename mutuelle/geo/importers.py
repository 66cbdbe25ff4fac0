"""Official contour files (IGN CONTOURS-IRIS, Admin Express, QPV, INSEE lists): which column
holds a territory's code, name, parent, population and type; codes put back in shape (lost
leading zeros); and the level's contour file written with its simplified shapes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mutuelle.catalog.observatory_models import LEVELS
from mutuelle.core.errors import ImportFailed, InvalidInput
from mutuelle.store.sql import literal

#: Roles a column may play; ``code`` is the only one every file needs.
ROLES = ("code", "name", "parent", "commune", "epci", "population", "kind")

#: Column names tried, in order, for each role of each level (compared case-insensitively).
#: IRIS: IGN CONTOURS-IRIS (CODE_IRIS, INSEE_COM...), older IRIS-GE (DCOMIRIS, DEPCOM), the
#: INSEE open-data extracts (id, com, libiris, p12_pop...) and our demo (code_iris...).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "iris": {
        "code": ("CODE_IRIS", "DCOMIRIS", "code_iris", "iris_code", "id"),
        "name": ("NOM_IRIS", "libiris", "nom_iris", "lib_iris", "nom"),
        "commune": ("INSEE_COM", "DEPCOM", "code_commune", "com", "codgeo_com", "insee"),
        "population": ("population", "pop", "p21_pop", "p20_pop", "p19_pop", "p18_pop",
                       "p17_pop", "p16_pop", "p15_pop", "p14_pop", "p13_pop", "p12_pop"),
        "kind": ("TYP_IRIS", "typ_iris", "type_iris"),
    },
    "commune": {
        "code": ("INSEE_COM", "code_commune", "code_insee", "insee", "codgeo", "code", "DEPCOM",
                 "com"),
        "name": ("NOM", "NOM_COM", "nom_commune", "libelle", "libgeo", "nom", "name"),
        "epci": ("SIREN_EPCI", "code_epci", "epci", "siren_epci"),
        "population": ("POPULATION", "population", "pop", "ptot", "pmun"),
    },
    "epci": {
        "code": ("SIREN_EPCI", "CODE_SIREN", "code_epci", "siren", "code", "epci"),
        "name": ("NOM", "NOM_EPCI", "nom_epci", "libelle", "nom", "name"),
        "population": ("population", "pop", "ptot"),
    },
    "departement": {
        "code": ("INSEE_DEP", "code_departement", "code_dep", "dep", "code"),
        "name": ("NOM", "NOM_DEP", "nom_departement", "libelle", "nom", "name"),
        "parent": ("INSEE_REG", "code_region", "reg", "region"),
        "population": ("population", "pop"),
    },
    "region": {
        "code": ("INSEE_REG", "code_region", "code_reg", "reg", "code"),
        "name": ("NOM", "NOM_REG", "nom_region", "libelle", "nom", "name"),
        "population": ("population", "pop"),
    },
    "qpv": {
        "code": ("CODE_QP", "code_qp", "code_qpv", "CODE_QPV", "qp", "code"),
        "name": ("NOM_QP", "nom_qp", "lib_qp", "nom_qpv", "lib_qpv", "libelle", "nom", "name"),
        "commune": ("INSEE_COM", "code_commune", "insee_com", "commune_qp", "code_insee",
                    "depcom"),
        "population": ("population", "pop", "pop_qp", "population_qp"),
    },
    "territoire": {
        "code": ("code", "siren", "code_epci", "id"),
        "name": ("nom", "name", "libelle", "nom_epci"),
        "population": ("population", "pop"),
    },
}

#: How each level's code column is announced in messages, IGN name first.
CODE_LABELS = {
    "iris": "CODE_IRIS (IRIS code)", "commune": "INSEE_COM (INSEE commune code)",
    "epci": "SIREN_EPCI (EPCI SIREN)", "departement": "INSEE_DEP (département code)",
    "region": "INSEE_REG (région code)", "qpv": "CODE_QP (QPV code)",
    "territoire": "code (territory code)",
}

#: Well-formed codes per level, once normalised.
CODE_PATTERNS = {
    "iris": re.compile(r"^(?:\d{2}|2[AB])\d{7}$|^97\d{7}$"),
    "commune": re.compile(r"^(?:\d{2}|2[AB])\d{3}$"),
    "epci": re.compile(r"^\d{9}$"),
    "departement": re.compile(r"^(?:\d{2}|2[AB]|97\d)$"),
    "region": re.compile(r"^\d{2}$"),
    "qpv": re.compile(r"^Q[PN][0-9AB]{3}\d{2,3}M?$"),   # QP093001 (2015), QN09301M (2024)
    "territoire": re.compile(r"^.+$"),
}
_FLOAT_TEXT = re.compile(r"^\d+\.0+$")
_PAD = {"iris": 9, "commune": 5, "departement": 2, "region": 2, "epci": 9}


def check_level(level: str) -> str:
    """``level`` if it is one of ``LEVELS``, else a clear refusal."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level!r}: choose one of {', '.join(LEVELS)}")
    return level


@dataclass
class ColumnMapping:
    """Which column of the file plays which role (``None``: not in the file)."""

    level: str
    columns: dict[str, str] = field(default_factory=dict)   # role -> column name

    def get(self, role: str) -> str | None:
        """The column playing ``role``, if any."""
        return self.columns.get(role)


def detect_mapping(level: str, columns: Iterable[str],
                   given: Mapping[str, str] | None = None) -> ColumnMapping:
    """The column playing each role for ``level``; ``given`` (role -> column) wins over guesses."""
    check_level(level)
    names = [c for c in columns if c != "geometry"]
    by_fold = {c.casefold(): c for c in names}
    found: dict[str, str] = {}
    for role, column in (given or {}).items():
        if role not in ROLES:
            raise InvalidInput(f"unknown mapping role {role!r}: choose among {', '.join(ROLES)}")
        if column.casefold() not in by_fold:
            raise ImportFailed(f"column {column} given for the {role} is missing; found: "
                               + ", ".join(names))
        found[role] = by_fold[column.casefold()]
    taken = set(found.values())
    for role, aliases in ALIASES[level].items():
        if role in found:
            continue
        for alias in aliases:
            match = by_fold.get(alias.casefold())
            if match and match not in taken:
                found[role] = match
                taken.add(match)
                break
    if "code" not in found:
        raise ImportFailed(f"column {CODE_LABELS[level]} is missing; found: "
                           + (", ".join(names) or "no attribute column"))
    return ColumnMapping(level, found)


def normalise_code(level: str, raw: object) -> str | None:
    """A code as the referential writes it: trimmed, upper case, leading zeros restored.

    Numbers read as integers lose their zeros (``1001`` for commune ``01001``); a code one
    character short of its level's length is unambiguous and padded back."""
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip().upper()
    if not text:
        return None
    if _FLOAT_TEXT.match(text):   # "1001.0": a code column once read as numbers
        text = text.split(".")[0]
    width = _PAD.get(level)
    if width and text.isdigit() and len(text) < width:
        text = text.zfill(width)
    return text


def departement_of(commune: str) -> str:
    """The département of a commune code (3 characters overseas, 97x)."""
    return commune[:3] if commune.startswith("97") else commune[:2]


def is_well_formed(level: str, code: str) -> bool:
    """Whether ``code`` has the shape of a code of ``level``."""
    return bool(CODE_PATTERNS[level].match(code))


# -- reading a staged file into territory records ---------------------------------------------

#: Examples quoted in a warning; the rest are counted.
EXAMPLES = 5


@dataclass
class Records:
    """Territories read from a file, keyed by normalised code, and what was odd about them."""

    level: str
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)   # code -> attributes
    keys: list[tuple[int, str]] = field(default_factory=list)          # (file row, code)
    warnings: list[str] = field(default_factory=list)
    padded: int = 0


def examples(values: Iterable[object], count: int) -> str:
    """``a, b, c and 12 more`` for messages."""
    shown = [str(v) for v in list(values)[:EXAMPLES]]
    more = f" and {count - len(shown)} more" if count > len(shown) else ""
    return ", ".join(shown) + more


def _number(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).replace(",", ".").replace("\u202f", "").replace(" ", ""))
    except ValueError:
        return None


def to_records(level: str, mapping: ColumnMapping,
               rows: Iterable[tuple[int, Mapping[str, object]]]) -> Records:
    """Territory records from ``(file row, {column: value})`` pairs, codes normalised."""
    out = Records(level)
    no_code: list[int] = []
    malformed: dict[str, int] = {}
    duplicates: dict[str, int] = {}
    padded: list[str] = []
    col = mapping.columns
    for rid, values in rows:
        raw = values.get(col["code"])
        code = normalise_code(level, raw)
        if code is None:
            no_code.append(rid + 1)
            continue
        if str(raw).strip().upper() != code:
            padded.append(f"{raw} → {code}")
        if not is_well_formed(level, code):
            malformed[code] = malformed.get(code, 0) + 1
        out.keys.append((rid, code))
        if code in out.rows:
            duplicates[code] = duplicates.get(code, 1) + 1
            continue
        record: dict[str, Any] = {"code": code}
        for role in ("name", "kind", "parent"):
            if role in col and values.get(col[role]) not in (None, ""):
                record[role] = str(values[col[role]]).strip()
        for role, target in (("commune", "commune"), ("epci", "epci")):
            if role in col:
                record[target] = normalise_code(target, values.get(col[role]))
        if "population" in col:
            record["population"] = _number(values.get(col["population"]))
        out.rows[code] = record
    if no_code:
        out.warnings.append(f"{len(no_code)} feature(s) without a {col['code']} were left out "
                            f"(feature {examples(no_code, len(no_code))})")
    if malformed:
        out.warnings.append(
            f"{len(malformed)} code(s) do not look like {level} codes, imported as written: "
            + examples(malformed, len(malformed)))
    if duplicates:
        out.warnings.append(
            f"{len(duplicates)} code(s) appear on several features, whose shapes were merged: "
            + examples((f"{c} ×{n}" for c, n in duplicates.items()), len(duplicates)))
    out.padded = len(padded)
    if padded:
        out.warnings.append(f"{len(padded)} code(s) had lost their leading zeros and were "
                            f"padded: {examples(padded, len(padded))}")
    return out


# -- writing the contour file of a level ------------------------------------------------------

#: Simplification tolerances in degrees: about 20 m (zooms 9-11) and 200 m (zooms up to 8).
TOLERANCE_MID = 0.0002
TOLERANCE_LOW = 0.002
#: Rows per Parquet row group: small groups let the bbox columns skip most of a file per tile.
ROW_GROUP_ROWS = 2048
#: Columns of a contour file besides the geometries and the bbox.
ATTRIBUTES = ("code", "name", "parent_code", "commune", "epci", "departement", "region", "kind")


@dataclass
class ContourNote:
    """What ``write_contours`` saw."""

    with_geometry: int = 0
    warnings: list[str] = field(default_factory=list)


def write_contours(con: duckdb.DuckDBPyConnection, staged: Path, records: Records,
                   dest: Path) -> ContourNote:
    """Write the level's Parquet file: one row per code with its contour (valid, WGS84), two
    simplified versions sharing their borders, its bbox, and its population."""
    note = ContourNote()
    keys = pa.table({"rid": pa.array([k for k, _ in records.keys], pa.int64()),
                     "code": pa.array([c for _, c in records.keys], pa.string())})
    rows = list(records.rows.values())
    attrs = {name: pa.array([None if r.get(name) is None else str(r[name]) for r in rows],
                            pa.string()) for name in ATTRIBUTES}
    attrs["population"] = pa.array([r.get("population") for r in rows], pa.float64())
    con.register("territory_keys", keys)
    con.register("territory_attrs", pa.table(attrs))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE shapes AS SELECT k.code, CASE WHEN count(*) = 1 "
        "THEN any_value(s.geometry) ELSE ST_Union_Agg(s.geometry) END AS geometry "
        "FROM read_parquet(?, file_row_number := true) s "
        "JOIN territory_keys k ON k.rid = s.file_row_number "
        "WHERE s.geometry IS NOT NULL AND NOT ST_IsEmpty(s.geometry) GROUP BY k.code",
        [str(staged)])
    _polygons_only(con, "shapes")
    note.with_geometry = int(con.execute("SELECT count(*) FROM shapes").fetchone()[0])  # type: ignore[index]
    missing = len(rows) - note.with_geometry
    if missing:
        note.warnings.append(f"{missing} territor{'y' if missing == 1 else 'ies'} without a "
                             "contour, kept without geometry")
    # The low shapes are simplified from the mid ones: far fewer vertices, same shared borders.
    for source, table, tolerance in (("shapes", "simplified_mid", TOLERANCE_MID),
                                     ("simplified_mid", "simplified_low", TOLERANCE_LOW)):
        if not _coverage_simplify(con, source, table, tolerance):
            note.warnings.append(
                f"the contours do not form a clean coverage: simplified one by one at "
                f"{tolerance}°, so neighbours may show small gaps at low zooms")
    con.execute(f"""
        COPY (SELECT a.*, s.geometry,
                     COALESCE(m.geometry, s.geometry) AS geometry_mid,
                     COALESCE(l.geometry, m.geometry, s.geometry) AS geometry_low,
                     ST_XMin(s.geometry) AS xmin, ST_YMin(s.geometry) AS ymin,
                     ST_XMax(s.geometry) AS xmax, ST_YMax(s.geometry) AS ymax
              FROM territory_attrs a
              LEFT JOIN shapes s ON s.code = a.code
              LEFT JOIN simplified_mid m ON m.code = a.code
              LEFT JOIN simplified_low l ON l.code = a.code
              ORDER BY ST_Hilbert(s.geometry, (SELECT ST_Extent(ST_Extent_Agg(geometry))
                                              FROM shapes)) NULLS LAST, a.code)
        TO {literal(dest)}
        (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})""")
    con.unregister("territory_keys")
    con.unregister("territory_attrs")
    return note


def _polygons_only(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Repairs may leave lines beside polygons (a bow-tie's crossing): keep the polygons."""
    con.execute(f"UPDATE {table} SET geometry = ST_CollectionExtract(ST_MakeValid(geometry), 3) "
                "WHERE NOT ST_IsValid(geometry) OR ST_GeometryType(geometry) = 'GEOMETRYCOLLECTION'")


def _coverage_simplify(con: duckdb.DuckDBPyConnection, source: str, table: str,
                       tolerance: float) -> bool:
    """Simplify all shapes together so that shared borders stay shared (no gaps, no overlaps);
    one by one if GEOS refuses the coverage. Whether the coverage simplification worked."""
    done = True
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {table} AS
            WITH numbered AS (SELECT row_number() OVER (ORDER BY code) AS idx, code, geometry
                              FROM {source}),
                 parts AS (SELECT unnest(ST_Dump(ST_CoverageSimplify(
                               (SELECT list(geometry ORDER BY idx) FROM numbered), ?))) AS part)
            SELECT n.code, CASE WHEN count(*) = 1 THEN any_value(part.geom)
                                ELSE ST_Collect(list(part.geom)) END AS geometry
            FROM parts JOIN numbered n ON n.idx = part.path[1] GROUP BY n.code""", [tolerance])
    except duckdb.Error:
        done = False
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT code, "
                    f"ST_SimplifyPreserveTopology(geometry, ?) AS geometry FROM {source}", [tolerance])
    _polygons_only(con, table)
    return done
