"""A territory compared with its parent, the whole territory and its peers: percentile ranks
among the published values of its level, and the French sentences of a portrait.

Ranks are computed among published values only: a secret cell neither gets a rank nor counts
in anyone else's, so that no rank can betray where a hidden value lies.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy.orm import Session

from mutuelle.access.policy import ANONYMOUS, visible_indicators
from mutuelle.catalog.observatory_models import Indicator
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.observatory.compute import (
    CHAIN,
    EXCLUDED,
    OK,
    PARTIAL,
    SECRET,
    WHOLE,
    Computed,
    Value,
    compute_indicator,
)
from mutuelle.observatory.indicators import list_indicators

#: How a level is named in a sentence: singular, plural.
LEVEL_WORDS = {
    "iris": ("IRIS", "IRIS"), "commune": ("commune", "communes"), "epci": ("EPCI", "EPCI"),
    "departement": ("département", "départements"), "region": ("région", "régions"),
    "qpv": ("quartier prioritaire", "quartiers prioritaires"),
    "territoire": ("territoire", "territoires"),
}


@dataclass(frozen=True)
class Rank:
    """Where a value stands among the other published values of its level."""

    below: int      # peers with a smaller value
    above: int      # peers with a larger value
    peers: int      # other published territories of the level

    @property
    def percentile(self) -> float:
        """Share of the peers with a smaller value, in %."""
        return 100.0 * self.below / self.peers if self.peers else 0.0


@dataclass(frozen=True)
class Comparison:
    """One indicator for one territory, beside its parent, the whole territory and peers."""

    indicator: str
    label: str
    unit: str
    level: str
    value: Value
    parent_level: str | None
    parent: Value | None
    whole: Value | None
    rank: Rank | None
    scope: str            # the smallest territory holding every ranked peer
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (the percentile included)."""
        out = asdict(self)
        for name in ("value", "parent", "whole"):
            found = getattr(self, name)
            out[name] = None if found is None else found._asdict()
        out["percentile"] = None if self.rank is None else round(self.rank.percentile, 1)
        return out


@dataclass
class Portrait:
    """Every indicator of a territory, with the indicators it has no value for and why."""

    level: str
    code: str
    name: str
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)    # indicator id -> reason


def ranks(values: Iterable[Value]) -> dict[str, Rank]:
    """The rank of every published value among the other published ones."""
    shown = [(v.code, v.value) for v in values
             if v.status == OK and v.value is not None and math.isfinite(v.value)]
    ordered = sorted(value for _, value in shown)
    n = len(ordered)
    return {code: Rank(bisect_left(ordered, value), n - bisect_right(ordered, value), n - 1)
            for code, value in shown}


def format_value(value: float | None, unit: str = "") -> str:
    """A value as French text: ``23,4 %``, ``21 540 €``, ``3,25``."""
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 1 else 2
    text = format_decimal(round(value, digits), format="#,##0" + ("." + "#" * digits
                                                                  if digits else ""),
                          locale="fr_FR")
    if not unit:
        return text
    return f"{text}\u202f{unit}" if unit in ("%", "‰") else f"{text}\u00a0{unit}"


def scope_of(computed: Computed, level: str, codes: Sequence[str]) -> str:
    """The name of the smallest territory holding all ``codes`` (at a larger level)."""
    ref = computed.referential
    if not codes:
        return ""
    start = CHAIN.index(level) + 1 if level in CHAIN else 1
    for upper in CHAIN[start:]:
        found = {ref.ancestors.get((level, c), {}).get(upper) for c in codes}
        only = found.pop() if len(found) == 1 else None
        if only is not None:
            return ref.names[(upper, only)]
    common = set.intersection(*(set(ref.wholes_of((level, c))) for c in codes)) \
        if level != WHOLE else set()
    return ref.names[(WHOLE, sorted(common)[0])] if common else "l'ensemble des territoires"


def _sentence(ind: Indicator, level: str, value: Value, parent: tuple[str, Value] | None,
              whole: Value | None, rank: Rank | None, scope: str) -> str:
    """The comparison as one or two French sentences."""
    if value.status == SECRET:
        return f"{ind.label} : valeur non diffusée pour {value.name} (secret statistique)."
    if value.status == PARTIAL:
        share = format_value(100 * (value.coverage or 0.0), "%")
        return (f"{ind.label} : valeur non diffusée pour {value.name}, dont les données ne "
                f"couvrent que {share}.")
    if value.status == EXCLUDED:
        return (f"{ind.label} : {value.name} n'est pas un IRIS d'habitat, laissé hors de cet "
                "indicateur.")
    if value.status != OK:
        return f"{ind.label} : pas de donnée pour {value.name}."
    text = f"{ind.label} : {format_value(value.value, ind.unit)} pour {value.name}"
    others = []
    if parent is not None and parent[1].status == OK and parent[0] != WHOLE:
        others.append(f"{format_value(parent[1].value, ind.unit)} pour {parent[1].name} "
                      f"({LEVEL_WORDS[parent[0]][0]})")
    same = parent is not None and (parent[1].name, parent[1].value) == (
        whole.name, whole.value) if whole is not None else False
    if whole is not None and whole.status == OK and level != WHOLE and not same:
        others.append(f"{format_value(whole.value, ind.unit)} pour {whole.name}")
    if others:
        text += ", contre " + " et ".join(others)
    text += "."
    if rank is not None and rank.peers:
        plural = LEVEL_WORDS[level][1]
        if rank.below == 0 and rank.above == 0:
            text += f" Même valeur que les {rank.peers} autres {plural} ({scope})."
        elif rank.below >= rank.above:
            text += (f" C'est plus élevé que dans {round(100 * rank.below / rank.peers)} % "
                     f"des {plural} ({scope}).")
        else:
            text += (f" C'est plus faible que dans {round(100 * rank.above / rank.peers)} % "
                     f"des {plural} ({scope}).")
    return text


def comparison(computed: Computed, level: str, code: str, *,
               rank_table: dict[str, Rank] | None = None, scope: str | None = None
               ) -> Comparison:
    """One territory's comparison from an indicator's computed values."""
    values = computed.level(level)
    if code not in values:
        raise NotFound(f"no {level} {code!r} in vintage {computed.referential.vintage}")
    ind = computed.indicator
    value = values[code]
    table = rank_table if rank_table is not None else ranks(values.values())
    if scope is None:
        scope = scope_of(computed, level, sorted(table))
    parent = computed.parent(level, code)
    whole = computed.whole(level, code)
    rank = table.get(code) if value.status == OK else None
    return Comparison(ind.id, ind.label, ind.unit, level, value,
                      None if parent is None else parent[0],
                      None if parent is None else parent[1],
                      None if whole is None else whole[1], rank, scope,
                      _sentence(ind, level, value, parent, None if whole is None else whole[1],
                                rank, scope))


def compare(session: Session, settings: Settings, indicator: Indicator, level: str, code: str,
            *, vintage: int | None = None) -> Comparison:
    """One indicator for one territory, with its parent, the whole territory and its rank."""
    computed = compute_indicator(session, settings, indicator, vintage=vintage)
    return comparison(computed, level, code)


def compare_territories(computed: Computed, level: str, codes: Sequence[str]
                        ) -> list[Comparison]:
    """Several territories of one level side by side (ranks computed once)."""
    table = ranks(computed.level(level).values())
    scope = scope_of(computed, level, sorted(table))
    return [comparison(computed, level, c, rank_table=table, scope=scope) for c in codes]


def portrait(session: Session, settings: Settings, level: str, code: str, *,
             indicators: Sequence[Indicator] | None = None, vintage: int | None = None
             ) -> Portrait:
    """"My neighbourhood": every indicator (default: those anyone may read) for one territory;
    indicators without values at this level are listed in ``skipped`` with the reason. Each
    indicator is read in its own vintage when it has one (the values its API gives), else in
    ``vintage``."""
    chosen = list(indicators) if indicators is not None \
        else list_indicators(session, visible=visible_indicators(ANONYMOUS))
    result: Portrait | None = None
    skipped: dict[str, str] = {}
    comparisons = []
    for ind in chosen:
        try:
            computed = compute_indicator(session, settings, ind, vintage=ind.vintage
                                         if ind.vintage is not None else vintage)
            found = comparison(computed, level, code)
        except (InvalidInput, NotFound) as exc:
            skipped[ind.id] = exc.message
            continue
        comparisons.append(found)
        if result is None:
            result = Portrait(level, code, found.value.name)
    if result is None:
        raise NotFound(f"no indicator has values for {level} {code!r}"
                       + (f": {next(iter(skipped.values()))}" if skipped else ""))
    result.comparisons, result.skipped = comparisons, skipped
    return result
