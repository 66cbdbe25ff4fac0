"""The INSEE Code officiel géographique (COG), read from the JSON files of the npm package
``@etalab/decoupage-administratif``: communes, arrondissements municipaux, EPCI, départements,
régions, and the codes of merged communes (``anciensCodes``) as a passage table."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from mutuelle.catalog.observatory_models import Territory, TerritoryPassage
from mutuelle.catalog.repository import fold
from mutuelle.core.cache import cached
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo.importers import Records, departement_of

log = logging.getLogger(__name__)

#: ``from_vintage`` of passages read from ``anciensCodes``: the year of the merger is not
#: given, only that the old code belongs to an earlier vintage.
EARLIER = 0
#: The arrondissements municipaux of Paris, Lyon and Marseille, used when the COG files are
#: not installed (the codes have not changed since 1982).
ARRONDISSEMENTS = {
    **{f"751{n:02d}": "75056" for n in range(1, 21)},
    **{f"6938{n}": "69123" for n in range(1, 10)},
    **{f"132{n:02d}": "13055" for n in range(1, 17)},
}


#: Columns compared to tell whether a row already there needs updating.
_COMPARED = ("code", "name", "name_folded", "parent_code", "commune", "epci", "departement",
             "region", "population", "kind")


@dataclass(frozen=True)
class Ancestors:
    """A commune's place in the hierarchy."""

    commune: str
    name: str
    epci: str | None
    departement: str | None
    region: str | None
    population: float | None = None


@dataclass
class Cog:
    """The COG files, indexed."""

    communes: dict[str, Ancestors]
    arrondissements: dict[str, str]                  # arrondissement municipal -> commune
    arrondissement_names: dict[str, str]
    epci: dict[str, dict[str, Any]]                  # SIREN -> name, population, departement
    departements: dict[str, dict[str, Any]]          # code -> name, region
    regions: dict[str, str]                          # code -> name
    passages: list[tuple[str, str]] = field(default_factory=list)   # (old code, new code)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # level -> rows

    def commune_of(self, code: str) -> str:
        """The commune holding ``code`` (itself, or the commune of an arrondissement municipal)."""
        return self.arrondissements.get(code, code)


@dataclass
class CogReport:
    """What ``load_cog`` wrote."""

    vintage: int
    counts: dict[str, int] = field(default_factory=dict)   # level -> rows written
    passages: int = 0
    seconds: float = 0.0
    year: int | None = None      # COG year of the files read
    note: str = ""               # how far they are the vintage's own (see CogSource.note)


def _read(folder: Path, name: str) -> list[dict[str, Any]]:
    path = folder / name
    if not path.exists():
        raise NotFound(f"the COG file {name} is missing: install the npm package "
                       "@etalab/decoupage-administratif (npm ci) or set MUTUELLE_COG_DIR")
    with path.open(encoding="utf-8") as f:
        data: list[dict[str, Any]] = json.load(f)
    return data


# -- which COG for which vintage -------------------------------------------------------------

#: The file of the COG folder naming the COG year of its files.
YEAR_FILE = "year"
#: The file of a COG folder holding every commune since 1943 (version 0.7 of the package).
HISTORY_FILE = "historique-communes.json"


@dataclass(frozen=True)
class CogSource:
    """Where the COG of one vintage is read from, and how far it is that vintage's.

    ``year`` is the COG year of the files (None: not known, taken as the newest); with
    ``history_day``, the communes are those of that day in the communes' history, and the
    EPCI and régions of the vintage are not known (none are loaded)."""

    folder: Path
    year: int | None
    vintage: int
    history_day: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the files are the COG of the vintage itself."""
        return self.year == self.vintage and self.history_day is None

    def note(self) -> str:
        """How the referential of the vintage was named, for reports ("" when exact)."""
        if self.history_day is not None:
            return (f"communes as they were on {self.history_day} (history of the COG "
                    f"{self.year}); the EPCI and régions of {self.vintage} are not known offline "
                    "and were not loaded")
        if self.year is None or self.exact:
            return ""
        return (f"no COG of {self.vintage} is installed: names and parents from the COG of "
                f"{self.year}, the latest before it")


def cog_years(settings: Settings) -> dict[int | None, Path]:
    """The COG folders installed: the main one (its year from its ``year`` file, None when it
    has none) and its subfolders named by COG year (npm aliases ``cog<year>``)."""
    main = Path(settings.cog_dir)
    marker = main / YEAR_FILE
    year = int(marker.read_text().strip()) if marker.is_file() \
        and marker.read_text().strip().isdigit() else None
    out: dict[int | None, Path] = {year: main} if (main / "communes.json").is_file() else {}
    if main.is_dir():
        for child in sorted(main.iterdir()):
            if child.name.isdigit() and len(child.name) == 4 and (child / "communes.json").is_file():
                out.setdefault(int(child.name), child)
    return out


def cog_for(settings: Settings, vintage: int) -> CogSource:
    """The COG of ``vintage``: its own if installed, else the latest one before it, else the
    communes of 1 January of that year from the history of the communes; never a later COG
    (a commune merged since would be named after the merger)."""
    found = cog_years(settings)
    if not found:
        raise NotFound("the COG files are missing: install the npm package "
                       "@etalab/decoupage-administratif (npm ci) or set MUTUELLE_COG_DIR")
    dated = sorted(y for y in found if y is not None)
    if None in found and (not dated or vintage > dated[-1]):
        return CogSource(found[None], None, vintage)   # undated: the newest
    before = [y for y in dated if y <= vintage]
    if before:
        return CogSource(found[before[-1]], before[-1], vintage)
    history = [y for y in dated if (found[y] / HISTORY_FILE).is_file()]
    if history:
        return CogSource(found[history[0]], history[0], vintage, history_day=f"{vintage}-01-01")
    raise NotFound(f"no COG of {vintage} or earlier is installed (COG years: "
                   f"{', '.join(map(str, dated))}), nor the communes' history")


def _history(folder: Path, day: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The communes of ``day`` (code -> name) and the passages of earlier codes to them, from
    the communes' history: each state of a commune has its dates, and a state that ended
    leads to its successor (a commune, or a delegated commune whose ``pole`` is one)."""
    entries = _read(folder, HISTORY_FILE)
    by_id = {e["id"]: e for e in entries}

    def current(e: dict[str, Any]) -> bool:
        return bool((e.get("dateDebut") or "") <= day < (e.get("dateFin") or "9999"))

    communes = {e["code"]: e["nom"] for e in entries if e["type"] == "COM" and current(e)}
    passages: dict[str, str] = {}
    for e in entries:
        if e["type"] != "COM" or (e.get("dateFin") or "9999") > day or e["code"] in communes:
            continue
        seen: set[str] = set()
        step: dict[str, Any] | None = e
        while step is not None and step["id"] not in seen:
            seen.add(step["id"])
            if (step.get("dateDebut") or "") > day:
                step = None
            elif current(step):
                if step["type"] == "COM":
                    break
                step = by_id.get(step.get("pole") or "")
            else:
                step = by_id.get(step.get("successeur") or "")
        if step is not None and step["type"] == "COM" and step["code"] != e["code"]:
            passages.setdefault(e["code"], step["code"])
    return communes, sorted(passages.items())


@cached("geo.cog", max_items=4)
def _load(place: str, _mtime: float, history_day: str | None = None) -> Cog:
    """The COG of the folder ``place`` (keyed by its path and its communes file's mtime);
    with ``history_day``, the communes of that day from the history, without EPCI or région."""
    folder = Path(place)
    raw_communes = _read(folder, "communes.json")
    raw_epci = [] if history_day else _read(folder, "epci.json")
    departements = {d["code"]: {"name": d["nom"], "region": None if history_day else d.get("region")}
                    for d in _read(folder, "departements.json")}
    regions = {} if history_day else {r["code"]: r["nom"] for r in _read(folder, "regions.json")}
    epci_of: dict[str, str] = {}
    epci: dict[str, dict[str, Any]] = {}
    for e in raw_epci:
        members = [m["code"] for m in e.get("membres", [])]
        for code in members:
            epci_of[code] = e["code"]
        deps = [m[:3] if m.startswith("97") else m[:2] for m in members]
        main_dep = max(set(deps), key=deps.count) if deps else None
        epci[e["code"]] = {"name": e["nom"], "population": e.get("populationMunicipale"),
                           "departement": main_dep, "departements": set(deps),
                           "kind": e.get("type")}
    communes: dict[str, Ancestors] = {}
    arrondissements: dict[str, str] = {}
    arrondissement_names: dict[str, str] = {}
    passages: dict[str, str] = {}
    for c in raw_communes:
        kind = c.get("type")
        if kind == "commune-actuelle" and not history_day:
            communes[c["code"]] = Ancestors(c["code"], c["nom"], epci_of.get(c["code"]),
                                            c.get("departement"), c.get("region"),
                                            c.get("population"))
            for old in c.get("anciensCodes") or []:
                if old != c["code"]:
                    passages[old] = c["code"]
        elif kind == "arrondissement-municipal" and c.get("commune"):
            arrondissements[c["code"]] = c["commune"]
            arrondissement_names[c["code"]] = c["nom"]
        elif (kind in ("commune-deleguee", "commune-associee") and c.get("chefLieu")
              and c["code"] != c["chefLieu"] and not history_day):
            passages.setdefault(c["code"], c["chefLieu"])
    if history_day:
        names, earlier = _history(folder, history_day)
        communes = {code: Ancestors(code, name, None, departement_of(code), None)
                    for code, name in names.items()}
        passages = dict(earlier)
    passages = {old: new for old, new in passages.items() if old not in communes}
    return Cog(communes, arrondissements, arrondissement_names, epci, departements, regions,
               sorted(passages.items()))


def read_cog(settings: Settings, vintage: int | None = None) -> Cog:
    """The COG of ``vintage`` (see ``cog_for``), or without one the main COG folder's; read
    once per process (and again if the files change)."""
    if vintage is None:
        folder, day = Path(settings.cog_dir).resolve(), None
    else:
        source = cog_for(settings, vintage)
        folder, day = source.folder.resolve(), source.history_day
    marker = folder / "communes.json"
    mtime = marker.stat().st_mtime if marker.exists() else 0.0
    return _load(str(folder), mtime, day)


def cog_available(settings: Settings) -> bool:
    """Whether the COG files are installed."""
    return (Path(settings.cog_dir) / "communes.json").exists()


def commune_of(settings: Settings | None, code: str) -> str:
    """The commune of ``code``: an arrondissement municipal (69381) gives its commune (69123)."""
    if settings is not None and cog_available(settings):
        return read_cog(settings).commune_of(code)
    return ARRONDISSEMENTS.get(code, code)


def _rows(cog: Cog, vintage: int) -> dict[str, list[dict[str, Any]]]:
    """The catalogue rows of every level, built once per process (folding names takes time)."""
    if not cog.rows:
        cog.rows.update(_build_rows(cog))
    return {level: [{**r, "vintage": vintage, "extra": {"source": "cog"}} for r in rows]
            for level, rows in cog.rows.items()}


def _build_rows(cog: Cog) -> dict[str, list[dict[str, Any]]]:
    def row(level: str, code: str, name: str, parent: str | None, **parents: Any) -> dict[str, Any]:
        population = parents.pop("population", None)
        return {"level": level, "code": code, "name": name,
                "name_folded": fold(f"{name} {code}"), "parent_code": parent,
                "commune": parents.get("commune"), "epci": parents.get("epci"),
                "departement": parents.get("departement"), "region": parents.get("region"),
                "population": population, "kind": parents.get("kind")}

    regions = [row("region", code, name, None, region=code) for code, name in cog.regions.items()]
    departements = [row("departement", code, d["name"], d["region"], departement=code,
                        region=d["region"]) for code, d in cog.departements.items()]
    epcis = []
    for code, e in cog.epci.items():
        dep = e["departement"]
        reg = cog.departements.get(dep or "", {}).get("region")
        epcis.append(row("epci", code, e["name"], dep, epci=code, departement=dep, region=reg,
                         population=e["population"], kind=e["kind"]))
    communes = [row("commune", a.commune, a.name, a.epci or a.departement, commune=a.commune,
                    epci=a.epci, departement=a.departement, region=a.region,
                    population=a.population) for a in cog.communes.values()]
    return {"region": regions, "departement": departements, "epci": epcis, "commune": communes}


def _within(cog: Cog, level: str, row: dict[str, Any], departements: set[str] | None) -> bool:
    if departements is None or level in ("region", "departement"):
        return True
    if level == "epci":
        return bool(cog.epci[row["code"]]["departements"] & departements)
    return row["departement"] in departements


def load_cog(session: Session, settings: Settings, vintage: int,
             departements: Iterable[str] | None = None) -> CogReport:
    """Fill the commune, EPCI, département and région rows of ``vintage`` from the COG (no
    geometry), and the passage table of merged communes; rows already there are updated.
    ``departements``: only the communes and EPCI of these (all départements and régions)."""
    start = time.perf_counter()
    source = cog_for(settings, vintage)
    cog = read_cog(settings, vintage)
    wanted = None if departements is None else set(departements)
    report = CogReport(vintage, year=source.year, note=source.note())
    for level, every in _rows(cog, vintage).items():
        rows = [r for r in every if _within(cog, level, r, wanted)]
        existing = {row[1]: row for row in session.execute(
            select(Territory.id, *(getattr(Territory, c) for c in _COMPARED)).where(
                Territory.vintage == vintage, Territory.level == level)).all()}
        fresh = [r for r in rows if r["code"] not in existing]
        changed = []
        for r in rows:
            old = existing.get(r["code"])
            if old is not None and tuple(old[1:]) != tuple(r[c] for c in _COMPARED):
                # rows imported with contours keep their extra (source, file)
                changed.append({**{c: r[c] for c in _COMPARED if r[c] is not None},
                                "id": old[0]})
        if fresh:
            session.connection().execute(insert(Territory), fresh)
        if changed:
            session.execute(update(Territory), changed)
        report.counts[level] = len(rows)
    known = {(old, new) for old, new in session.execute(
        select(TerritoryPassage.from_code, TerritoryPassage.to_code).where(
            TerritoryPassage.level == "commune", TerritoryPassage.from_vintage == EARLIER,
            TerritoryPassage.to_vintage == vintage)).all()}
    passages = [(old, new) for old, new in cog.passages if (old, new) not in known
                and (wanted is None or departement_of(new) in wanted)]
    if passages:
        session.execute(insert(TerritoryPassage), [
            {"level": "commune", "from_vintage": EARLIER, "from_code": old,
             "to_vintage": vintage, "to_code": new, "weight": 1.0} for old, new in passages])
    session.commit()
    report.passages = len(passages)
    report.seconds = time.perf_counter() - start
    log.info("cog_loaded vintage=%d cog_year=%s communes=%d epci=%d passages=%d seconds=%.2f",
             vintage, source.year, report.counts.get("commune", 0), report.counts.get("epci", 0),
             report.passages, report.seconds)
    return report


# -- parents of imported territories ---------------------------------------------------------

#: Levels whose catalogue rows are needed to find the parents of each level.
_NEEDS = {"iris": ("commune",), "qpv": ("commune", "departement"),
          "commune": ("commune", "epci", "departement"), "epci": ("epci", "departement"),
          "departement": ("departement", "region"), "region": ("region",), "territoire": ()}
Known = dict[str, dict[str, dict[str, Any]]]


@dataclass
class Resolved:
    """Parent codes found by ``resolve_parents``."""

    unknown: dict[str, int] = field(default_factory=dict)   # parent code -> territories
    passed: dict[str, str] = field(default_factory=dict)    # old commune code -> new code
    merged: dict[str, str] = field(default_factory=dict)    # communes of the file merged since
    cog_loaded: bool = False
    cog_note: str = ""      # how far the COG loaded is the vintage's own (CogSource.note)


def _known(session: Session, vintage: int, levels: tuple[str, ...]) -> Known:
    out: Known = {lv: {} for lv in ("commune", "epci", "departement", "region")}
    if not levels:
        return out
    rows = session.execute(select(
        Territory.level, Territory.code, Territory.name, Territory.epci, Territory.departement,
        Territory.region, Territory.population).where(
            Territory.vintage == vintage, Territory.level.in_(levels))).all()
    for level, code, name, epci, dep, reg, pop in rows:
        out[level][code] = {"name": name, "epci": epci, "departement": dep, "region": reg,
                            "population": pop}
    if "commune" in levels:
        out["passage"] = {old: {"code": new} for old, new in session.execute(
            select(TerritoryPassage.from_code, TerritoryPassage.to_code).where(
                TerritoryPassage.level == "commune", TerritoryPassage.to_vintage == vintage,
                TerritoryPassage.from_vintage < vintage)).all()}
    return out


def _qpv_departement(code: str) -> str:
    dep = code[2:5]
    return dep[1:] if dep.startswith("0") else dep


def _link(level: str, code: str, r: dict[str, Any], known: Known,
          arrondissements: dict[str, str]) -> str | None:
    """Fill the parents of one record; the parent code not found, if any."""
    if level in ("iris", "qpv"):
        raw = r.get("commune") or (code[:5] if level == "iris" else None)
        if not raw:
            dep = _qpv_departement(code)
            d = known["departement"].get(dep)
            r.update(departement=dep, parent_code=dep, region=d["region"] if d else None)
            return None if d else dep
        commune = arrondissements.get(raw, raw)
        if commune != raw:
            r["extra"] = {"arrondissement": raw}
        elif commune not in known["commune"] and commune in known.get("passage", {}):
            commune = known["passage"][raw]["code"]
            r["extra"] = {"commune_in_file": raw}
        c = known["commune"].get(commune)
        r.update(commune=commune, parent_code=commune, departement=departement_of(commune))
        if c:
            r.update(epci=c["epci"], departement=c["departement"], region=c["region"])
        return None if c else commune
    own = known.get(level, {}).get(code) or {}
    if not r.get("name") and own.get("name"):
        r["name"] = own["name"]
    if r.get("population") is None:
        r["population"] = own.get("population")
    if level == "commune":
        if not own and code in known.get("passage", {}):
            r["extra"] = {"merged_into": known["passage"][code]["code"]}
        dep = str(own.get("departement") or departement_of(code))
        epci: str | None = r.get("epci") or own.get("epci")
        region = own.get("region") or known["departement"].get(dep, {}).get("region")
        r.update(commune=code, epci=epci, departement=dep, region=region,
                 parent_code=epci or dep)
        return None if (epci in known["epci"] if epci else dep in known["departement"]) else (epci or dep)
    if level == "epci":
        r.update(epci=code, departement=own.get("departement"), region=own.get("region"),
                 parent_code=own.get("departement"))
        return None
    if level == "departement":
        region = r.get("parent") or own.get("region")
        r.update(departement=code, region=region, parent_code=region)
        return None if not region or region in known["region"] else region
    if level == "region":
        r.update(region=code)
    return None


def resolve_parents(session: Session, settings: Settings, records: Records, vintage: int, *,
                    with_cog: bool = True) -> Resolved:
    """Fill each record's parent and ancestors from the catalogue rows of ``vintage``; load the
    COG first if ``with_cog`` and it knows parents that the catalogue lacks."""
    level = records.level
    has_cog = cog_available(settings)
    arrondissements = read_cog(settings).arrondissements if has_cog else ARRONDISSEMENTS
    result = Resolved()
    for attempt in (1, 2):
        known = _known(session, vintage, _NEEDS[level])
        unknown: dict[str, int] = {}
        for code, r in records.rows.items():
            missing = _link(level, code, r, known, arrondissements)
            if missing:
                unknown[missing] = unknown.get(missing, 0) + 1
            extra: dict[str, str] = r.get("extra") or {}
            if "commune_in_file" in extra:
                result.passed[extra["commune_in_file"]] = r["commune"]
            if "merged_into" in extra:
                result.merged[code] = extra["merged_into"]
        if attempt == 1 and unknown and with_cog and has_cog \
                and _cog_knows(settings, vintage, unknown):
            result.cog_note = load_cog(session, settings, vintage,
                                       _departements_of(settings, vintage, unknown)).note
            result.cog_loaded = True
            continue
        break
    unnamed = [code for code, r in records.rows.items() if not r.get("name")]
    for code in unnamed:
        records.rows[code]["name"] = code
    if unnamed:
        records.warnings.append(f"{len(unnamed)} territor{'y' if len(unnamed) == 1 else 'ies'} "
                                "without a name, named by their code")
    result.unknown = dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])))
    return result


def _departements_of(settings: Settings, vintage: int, codes: dict[str, int]) -> set[str]:
    """Départements whose communes and EPCI hold the missing parents (départements and régions
    themselves are always loaded whole)."""
    cog = read_cog(settings, vintage)
    out: set[str] = set()
    for code in codes:
        if code in cog.epci:
            out |= cog.epci[code]["departements"]
        elif len(code) == 5:
            out.add(departement_of(code))
    return out


def _cog_knows(settings: Settings, vintage: int, codes: dict[str, int]) -> bool:
    try:
        cog = read_cog(settings, vintage)
    except NotFound:
        return False
    return any(c in cog.communes or c in cog.epci or c in cog.departements or c in cog.regions
               for c in codes)
