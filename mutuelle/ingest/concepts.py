"""French column concepts (INSEE codes, SIREN, UAI, coordinates) recognised from a
column's header and the shape of its values: a header names a candidate, the values
(≥ 90 % of the non-empty sample) confirm it. Some are recognised from their values alone,
whatever the column's name: codes with a check digit, QPV codes, and the codes the INSEE
Code officiel géographique (COG) knows (IRIS codes whose first five characters are a
commune of the COG, commune codes, EPCI SIREN), read once from ``MUTUELLE_COG_DIR``."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from mutuelle.core.cache import cached
from mutuelle.core.config import load_settings
from mutuelle.ingest.typing import has_padding

log = logging.getLogger(__name__)

#: Share of the non-empty sample values that must have a concept's shape.
MIN_SHARE = 0.9
#: Fewest non-empty values needed to recognise a concept from values alone.
MIN_VALUES_ALONE = 3

#: Concepts whose values are codes: such a column stays text whatever its digits.
CODE_CONCEPTS = frozenset({
    "code_commune", "code_iris", "code_departement", "code_region", "code_epci",
    "code_qpv", "code_postal", "siren", "siret", "uai",
})

_DEP = "(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5])"
# A commune or IRIS code announced by its header is recognised by its shape: codes of a
# département INSEE never used (a synthetic territory, a future code) are still codes.
_COMMUNE_SHAPE = "([0-9]{2}|2[AB])[0-9]{3}"
_UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_NUMBER = re.compile(r"[+-]?[0-9]{1,3}([.,][0-9]+)?")


def normalize_header(name: str) -> str:
    """``Commune (INSEE)`` → ``commune_insee``: accents folded, lower case, ``_`` between words."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


def luhn_valid(digits: str) -> bool:
    """Luhn check of SIREN and SIRET (La Poste's establishments may use their own rule)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    if digits.startswith("356000000") and len(digits) == 14:
        return total % 10 == 0 or sum(int(c) for c in digits) % 5 == 0
    return total % 10 == 0


def uai_valid(code: str) -> bool:
    """Check letter of a UAI (school, ``0691234A``-like): the number modulo 23."""
    return _UAI_LETTERS[int(code[:7]) % 23] == code[7]


def _coordinate(limit: float) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        if not _NUMBER.fullmatch(value):
            return False
        return -limit <= float(value.replace(",", ".")) <= limit
    return check


def _every_coordinate(limit: float) -> Callable[[Collection[str]], bool]:
    lines = re.compile(f"{_NUMBER.pattern}(?:\n{_NUMBER.pattern})*")

    def check(values: Collection[str]) -> bool:
        joined = "\n".join(values)
        if not values or not lines.fullmatch(joined):
            return False
        return max(map(abs, map(float, joined.replace(",", ".").split("\n")))) <= limit
    return check


@dataclass(frozen=True)
class Concept:
    """One concept: headers that announce it, and the shape of its values."""

    name: str
    headers: frozenset[str]           # normalized header names
    tokens: tuple[frozenset[str], ...]  # or: a header holding every word of one of these sets
    shape: Callable[[str], bool]
    every: Callable[[Collection[str]], bool] | None = None  # True if all values have the shape

    def announced_by(self, header: str) -> bool:
        """True if the (normalized) header names this concept."""
        words = set(header.split("_"))
        return header in self.headers or any(t <= words for t in self.tokens)


def _regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda v: compiled.fullmatch(v) is not None


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


def _tokens(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(g.split()) for g in groups)


_siren = _regex("[0-9]{9}")
_siret = _regex("[0-9]{14}")
_uai = _regex("[0-9]{7}[A-Z]")
_qpv = _regex("Q[NP]([0-9]{3}|02[AB])[0-9A-Z]{3}")

#: In priority order: ``siren_epci`` is a SIREN before being an EPCI.
CONCEPT_RULES: tuple[Concept, ...] = (
    Concept("siret", _set("siret"), _tokens("siret"), _siret),
    Concept("siren", _set("siren"), _tokens("siren"), _siren),
    Concept("code_iris", _set("iris", "code_iris", "codeiris", "dcomiris", "iris_code"),
            _tokens("code iris", "iris insee"), _regex(f"{_COMMUNE_SHAPE}[0-9]{{4}}")),
    Concept("code_qpv", _set("qpv", "code_qpv", "codeqpv", "qpv_code", "code_quartier_prioritaire"),
            _tokens("code qpv", "qp code"), _qpv),
    Concept("uai", _set("uai", "code_uai", "numero_uai", "rne", "code_rne", "numero_rne"),
            _tokens("uai", "rne"), _uai),
    Concept("code_commune",
            _set("com", "code_com", "codecom", "codecommune", "insee_com", "inseecom", "code_insee",
                 "insee", "codgeo", "codegeo", "code_geo", "depcom", "cog", "citycode", "c_com"),
            _tokens("code commune", "commune insee", "com insee", "insee com"), _regex(_COMMUNE_SHAPE)),
    Concept("code_postal", _set("cp", "codepostal", "code_post", "postcode", "zipcode", "zip"),
            _tokens("postal", "code cp"), _regex("(0[1-9]|[1-8][0-9]|9[0-8])[0-9]{3}")),
    Concept("code_departement",
            _set("dep", "dept", "dpt", "departement", "code_dep", "code_dept", "num_dep",
                 "insee_dep", "codedepartement", "depcode"),
            _tokens("code departement", "numero departement", "num departement",
                    "insee departement"),
            _regex(f"{_DEP}|97[1-8]")),
    Concept("code_region", _set("reg", "region", "code_reg", "insee_reg", "num_reg", "coderegion"),
            _tokens("code region", "insee region", "num region"), _regex("[0-9]{2}")),
    Concept("code_epci", _set("epci", "code_epci", "codeepci", "epci_code", "siren_epci"),
            _tokens("code epci", "epci siren"), lambda v: _siren(v) and luhn_valid(v)),
    Concept("latitude",
            _set("lat", "latitude", "y", "coord_y", "coordonnee_y", "geo_lat", "ylat", "y_wgs84",
                 "lat_wgs84", "latitude_wgs84", "wgs84_lat"),
            _tokens("latitude"), _coordinate(90.0), every=_every_coordinate(90.0)),
    Concept("longitude",
            _set("lon", "lng", "long", "longitude", "x", "coord_x", "coordonnee_x", "geo_lon",
                 "xlong", "x_wgs84", "lon_wgs84", "longitude_wgs84", "wgs84_lon"),
            _tokens("longitude"), _coordinate(180.0), every=_every_coordinate(180.0)),
)


# -- codes the COG knows ----------------------------------------------------------------------

@dataclass(frozen=True)
class KnownCodes:
    """Codes of the COG: every commune code of any kind it lists (current, merged,
    arrondissements municipaux, and every commune since 1943 when the history is installed)
    and the EPCI SIREN."""

    communes: frozenset[str] = frozenset()
    epci: frozenset[str] = frozenset()


def _codes_in(path: Path) -> list[str]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return [str(item.get("code")) for item in json.load(f) if item.get("code")]


@cached("ingest.cog_codes", max_items=2)
def _known_in(folder: str, _mtime: float) -> KnownCodes:
    main = Path(folder)
    communes = set(_codes_in(main / "communes.json"))
    for history in sorted(main.glob("*/historique-communes.json"))[:1]:
        communes.update(_codes_in(history))
    return KnownCodes(frozenset(communes), frozenset(_codes_in(main / "epci.json")))


def known_codes() -> KnownCodes:
    """The codes of the installed COG (none when it is not installed), read once per process."""
    folder = Path(load_settings().cog_dir)
    marker = folder / "communes.json"
    if not marker.is_file():
        return KnownCodes()
    return _known_in(str(folder.resolve()), marker.stat().st_mtime)


def _iris_of_cog(value: str) -> bool:
    return len(value) == 9 and value[5:].isdigit() and value[:5] in known_codes().communes


def _commune_of_cog(value: str) -> bool:
    return len(value) == 5 and value in known_codes().communes


def _epci_of_cog(value: str) -> bool:
    return len(value) == 9 and value in known_codes().epci


#: Concepts recognised from values alone, in this order (an EPCI SIREN is a SIREN too).
ALONE_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("code_epci", _epci_of_cog),
    ("siret", lambda v: _siret(v) and luhn_valid(v)),
    ("siren", lambda v: _siren(v) and luhn_valid(v)),
    ("code_iris", _iris_of_cog),
    ("code_qpv", _qpv),
    ("uai", lambda v: _uai(v) and uai_valid(v)),
    ("code_commune", _commune_of_cog),
)
#: Levels of the territorial referential named by code concepts.
CODE_LEVELS = {"code_iris": "iris", "code_commune": "commune", "code_epci": "epci",
               "code_departement": "departement", "code_region": "region", "code_qpv": "qpv"}


def _mostly(values: Counter[str], test: Callable[[str], bool]) -> bool:
    """True if at least MIN_SHARE of the values (distinct, with their counts) pass; stops
    once that cannot happen."""
    allowed = int(values.total() * (1 - MIN_SHARE))
    misses = 0
    for v, count in values.items():
        if not test(v):
            misses += count
            if misses > allowed:
                return False
    return True


def detect_concept(header: str, values: Sequence[str | None]) -> str | None:
    """The concept of a column from its header and its sample values, if any."""
    name = normalize_header(header)
    # Each distinct value is tested once: a sample of 20,000 codes holds few of them.
    present: Counter[str] = Counter(values)  # type: ignore[arg-type]
    present.pop(None, None)  # type: ignore[call-overload]
    present.pop("", None)
    if has_padding("\n".join(present)):
        padded, present = present, Counter()
        for value, count in padded.items():
            if value.strip(" \t"):
                present[value.strip(" \t")] += count
    for concept in CONCEPT_RULES:
        if concept.announced_by(name) and (
                not present or (concept.every and concept.every(present.keys()))
                or _mostly(present, concept.shape)):
            return concept.name
    if present.total() < MIN_VALUES_ALONE:
        return None
    for name, test in ALONE_RULES:
        if _mostly(present, test):
            return name
    return None


def might_hold_points(headers: Sequence[str]) -> bool:
    """True if some header announces a latitude and another a longitude."""
    names = [normalize_header(h) for h in headers]
    return all(any(rule.announced_by(n) for n in names)
               for rule in CONCEPT_RULES if rule.name in ("latitude", "longitude"))
