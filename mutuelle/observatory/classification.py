"""Classes of a choropleth: quantiles, Jenks natural breaks, equal intervals or manual breaks,
with colour-blind-safe palettes, and the 3×3 classes of a bivariate map.

Breaks are the ``classes + 1`` bounds of the classes; class ``i`` holds the values ``v`` with
``breaks[i] <= v < breaks[i + 1]``, the last class also holds its upper bound.

A map must always open: when the classes asked for cannot be made (fewer distinct values than
classes, manual breaks out of order, outside the values, not as many as the classes or more
than ``MAX_CLASSES`` make), the classes that can be made are, each change told by a
:class:`Note`.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from mutuelle.core.errors import InvalidInput

METHODS = ("quantile", "jenks", "equal", "manual")
MIN_CLASSES, MAX_CLASSES = 3, 9
#: Jenks works on at most this many points: beyond, runs of neighbouring sorted values are
#: merged into groups of about equal size (their sums kept exact), so breaks fall between
#: groups, never more than one group (n / JENKS_MAX_POINTS values) away from the exact ones.
JENKS_MAX_POINTS = 5000

#: Sequential palettes, light to dark except viridis (dark to light), all readable by people
#: with colour-vision deficiencies: viridis (matplotlib) and ColorBrewer's 9-class schemes.
SEQUENTIAL: dict[str, tuple[str, ...]] = {
    "viridis": ("#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962",
                "#addc30", "#fde725"),
    "YlGnBu": ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8",
               "#253494", "#081d58"),
    "YlOrRd": ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
               "#bd0026", "#800026"),
    "Blues": ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5",
              "#08519c", "#08306b"),
    "Purples": ("#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3",
                "#54278f", "#3f007d"),
    "Greens": ("#f7fcf5", "#e5f5e0", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45",
               "#006d2c", "#00441b"),
}
#: Diverging palettes (ColorBrewer, colour-blind safe), for values around a midpoint.
DIVERGING: dict[str, tuple[str, ...]] = {
    "RdBu": ("#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7", "#d1e5f0", "#92c5de",
             "#4393c3", "#2166ac"),
    "PuOr": ("#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb", "#b2abd2",
             "#8073ac", "#542788"),
    "BrBG": ("#8c510a", "#bf812d", "#dfc27d", "#f6e8c3", "#f5f5f5", "#c7eaf5", "#80cdc1",
             "#35978f", "#01665e"),
}
#: Bivariate 3×3 palette (Joshua Stevens' grey–teal–purple): index ``3 * y_class + x_class``.
BIVARIATE: tuple[str, ...] = ("#e8e8e8", "#ace4e4", "#5ac8c8",
                              "#dfb0d6", "#a5add3", "#5698b9",
                              "#be64ac", "#8c62aa", "#3b4994")
#: How cells without a published value are drawn: secret (hatched in the map) and no data.
SECRET_COLOR = "#8c8c8c"
NO_DATA_COLOR = "#ffffff"
DEFAULT_PALETTE = "viridis"


#: Codes of the notes, in the order they are told.
NOTE_CODES = ("no_values", "few_values", "breaks_order", "breaks_count", "breaks_outside",
              "breaks_many")


@dataclass(frozen=True)
class Note:
    """Why the classes made differ from those asked for: a code (one of ``NOTE_CODES``, for
    pages to word in their language), the numbers it speaks of, and an English message."""

    code: str
    message: str
    asked: int
    made: int
    distinct: int | None = None
    given: int | None = None
    dropped: tuple[float, ...] = ()
    low: float | None = None
    high: float | None = None

    def as_json(self) -> dict[str, object]:
        """The note with only the numbers its code speaks of."""
        out: dict[str, object] = {"code": self.code, "message": self.message,
                                  "asked": self.asked, "made": self.made}
        if self.distinct is not None:
            out["distinct"] = self.distinct
        if self.given is not None:
            out["given"] = self.given
        if self.code == "breaks_outside":
            out |= {"dropped": list(self.dropped), "low": self.low, "high": self.high}
        if self.code == "breaks_many":
            out |= {"dropped": list(self.dropped)}
        return out


@dataclass(frozen=True)
class Classes:
    """The classes of a map: bounds, how many values each holds and its colour; ``asked`` is
    the number of classes asked for and ``notes`` say why fewer (or other) were made."""

    method: str
    breaks: list[float]
    counts: list[int]
    colors: list[str]
    asked: int = 0
    notes: tuple[Note, ...] = ()

    def class_of(self, value: float | None) -> int | None:
        """The class of ``value`` (None for a missing value, or when there is no class);
        out-of-range values go to the first or last class."""
        if value is None or not math.isfinite(value) or not self.counts:
            return None
        return min(max(bisect_right(self.breaks, value) - 1, 0), len(self.counts) - 1)

    @property
    def note(self) -> str | None:
        """The notes' messages in one text, None when the classes are those asked for."""
        return " ".join(n.message for n in self.notes) or None


@dataclass(frozen=True)
class Bivariate:
    """Terciles of two indicators and the 3×3 class of each pair (None when one is missing)."""

    x_breaks: list[float]
    y_breaks: list[float]
    cells: list[int | None]      # per pair: 3 * y_class + x_class
    counts: list[int]            # 9 counts, same indexing
    colors: list[str]


def palette_colors(name: str, count: int, *, reverse: bool = False) -> list[str]:
    """``count`` colours spread evenly along a named palette (interpolated in RGB)."""
    stops = SEQUENTIAL.get(name) or DIVERGING.get(name)
    if stops is None:
        known = ", ".join([*SEQUENTIAL, *DIVERGING])
        raise InvalidInput(f"unknown palette {name!r}; palettes are {known}")
    if count < 1:
        raise InvalidInput("a palette needs at least one colour")
    rgb = [tuple(int(s[i:i + 2], 16) for i in (1, 3, 5)) for s in stops]
    out = []
    for k in range(count):
        t = (len(rgb) - 1) * (k / (count - 1) if count > 1 else 0.5)
        lo = min(int(t), len(rgb) - 2)
        f = t - lo
        mixed = (round(a + (b - a) * f) for a, b in zip(rgb[lo], rgb[lo + 1], strict=True))
        out.append("#" + "".join(f"{c:02x}" for c in mixed))
    return out[::-1] if reverse else out


def _finite(values: Iterable[float | None]) -> list[float]:
    return sorted(float(v) for v in values if v is not None and math.isfinite(float(v)))


def _check_classes(classes: object) -> int:
    if isinstance(classes, bool) or not isinstance(classes, int) \
            or not MIN_CLASSES <= classes <= MAX_CLASSES:
        raise InvalidInput(f"the number of classes must be a whole number from {MIN_CLASSES} "
                           f"to {MAX_CLASSES}, not {classes!r}")
    return classes


def classify(values: Iterable[float | None], method: str = "quantile", classes: int = 5, *,
             breaks: Sequence[float] | None = None, palette: str = DEFAULT_PALETTE,
             reverse: bool = False) -> Classes:
    """Classes of ``values`` (None and NaN, i.e. secret or missing cells, are left out).

    Bad requests (unknown method or palette, a number of classes out of range, breaks that
    are not finite numbers) are refused with ``InvalidInput``; classes that cannot be made as
    asked are made as they can be, with notes (see the module's docstring)."""
    if method not in METHODS:
        raise InvalidInput(f"classification method must be one of {', '.join(METHODS)}, "
                           f"not {method!r}")
    k = _check_classes(classes)
    palette_colors(palette, 1)  # an unknown palette is refused even when no class is made
    data = _finite(values)
    if method == "manual":
        wished = _manual_numbers(breaks)
    elif breaks is not None:
        raise InvalidInput(f"breaks are given only with the manual method, not {method}")
    if not data:
        note = Note("no_values", "There is no value to classify.", k, 0)
        return Classes(method, [], [], [], k, (note,))
    notes: list[Note] = []
    if method == "manual":
        bounds = _manual(wished, k, data, notes)
    else:
        distinct = len(set(data))
        made = min(k, distinct)
        if made < k:
            notes.append(Note(
                "few_values", f"{k} classes need at least {k} distinct values; there "
                f"{'is' if distinct == 1 else 'are'} {distinct}, hence {made} "
                f"class{'' if made == 1 else 'es'}.", k, made, distinct=distinct))
        bounds = {"quantile": quantile_breaks, "jenks": jenks_breaks,
                  "equal": equal_breaks}[method](data, made)
    # data are sorted: each class's count is a difference of two positions
    edges = [0, *(bisect_left(data, b) for b in bounds[1:-1]), len(data)]
    colors = palette_colors(palette, len(bounds) - 1, reverse=reverse)
    return Classes(method, bounds, [b - a for a, b in pairwise(edges)], colors, k, tuple(notes))


def equal_breaks(data: Sequence[float], k: int) -> list[float]:
    """``k`` classes of equal width between the smallest and the largest value."""
    lo, hi = data[0], data[-1]
    return [lo + (hi - lo) * i / k for i in range(k)] + [hi]


def quantile_breaks(data: Sequence[float], k: int) -> list[float]:
    """``k`` classes holding about as many values each; equal values never straddle a break."""
    counts = sorted(Counter(data).items())
    distinct = [v for v, _ in counts]
    before = [0]  # values before each distinct value
    for _, c in counts:
        before.append(before[-1] + c)
    n, m = len(data), len(distinct)
    starts: list[int] = []  # index (in distinct) where each class after the first starts
    for i in range(1, k):
        target = i * n / k
        j = min(max(bisect_left(before, target), 1), m - 1)
        if j > 1 and target - before[j - 1] <= before[j] - target:
            j -= 1   # the cut just before is as close to the target
        lowest = starts[-1] + 1 if starts else 1
        starts.append(min(max(j, lowest), m - (k - i)))
    return [distinct[0]] + [distinct[j] for j in starts] + [distinct[-1]]


def _manual_numbers(breaks: Sequence[float] | None) -> list[float]:
    """Manual breaks as finite numbers, in the order given; ``InvalidInput`` when they are not
    numbers at all (an order or a count that does not fit is told by a note instead)."""
    if breaks is None or len(breaks) == 0:
        raise InvalidInput("the manual method needs breaks")
    try:
        numbers = [float(b) for b in breaks]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("manual breaks must be numbers") from exc
    if not all(math.isfinite(b) for b in numbers):
        raise InvalidInput("manual breaks must be finite numbers")
    return numbers


def _manual(wished: list[float], k: int, data: Sequence[float], notes: list[Note]) -> list[float]:
    """The bounds of manual classes over ``data`` (sorted, not empty). ``k - 1`` breaks are
    the inner limits (the data give the outer bounds), ``k + 1`` are all the bounds (widened
    to the data when the values go beyond them); any other number are taken as inner limits,
    and so are breaks out of order (sorted, repeats removed). Inner limits that would leave a
    class empty at an end (at or below the smallest value, above the largest) are left out,
    then those beyond ``MAX_CLASSES - 1`` (the lowest are kept)."""
    ordered = sorted(set(wished))
    if ordered != wished:
        notes.append(Note("breaks_order", "Manual breaks were sorted in increasing order "
                          "and repeated ones removed.", k, 0))
    if len(ordered) == k + 1:
        # all the bounds: the ends are the user's unless values lie beyond them
        low, inner, high = min(ordered[0], data[0]), ordered[1:-1], max(ordered[-1], data[-1])
    else:
        inner = ordered
        if len(inner) != k - 1:
            notes.append(Note("breaks_count", f"{len(wished)} breaks do not make {k} classes: "
                              "they are taken as the limits between classes.", k, 0,
                              given=len(wished)))
        low, high = data[0], data[-1]
    kept = [b for b in inner if data[0] < b <= data[-1]]
    if len(kept) < len(inner):
        dropped = tuple(b for b in inner if b not in kept)
        notes.append(Note(
            "breaks_outside", f"Breaks outside the values ({data[0]:g} to {data[-1]:g}) would "
            f"leave classes empty and were left out: {', '.join(f'{b:g}' for b in dropped)}.",
            k, 0, dropped=dropped, low=data[0], high=data[-1]))
    if len(kept) > MAX_CLASSES - 1:
        extra = tuple(kept[MAX_CLASSES - 1:])
        kept = kept[:MAX_CLASSES - 1]
        notes.append(Note(
            "breaks_many", f"A map has at most {MAX_CLASSES} classes: the {MAX_CLASSES - 1} "
            f"lowest breaks are kept, {len(extra)} left out.", k, 0,
            given=len(kept) + len(extra), dropped=extra))
    made = len(kept) + 1
    notes[:] = [replace(n, made=made) for n in notes]
    return [low, *kept, high]


# -- Jenks natural breaks (Fisher's exact optimisation) --------------------------------------

def _groups(data: Sequence[float]) -> list[tuple[float, int, float, float]]:
    """(smallest value, weight, sum, sum of squares) of the runs the optimisation works on:
    distinct values, merged into about JENKS_MAX_POINTS runs of equal weight when needed.
    Values are centred on their mean first, so that sums of squares keep their precision."""
    mean = math.fsum(data) / len(data)
    counts = sorted(Counter(data).items())
    per_group = max(1, math.ceil(len(counts) / JENKS_MAX_POINTS))
    if per_group == 1:
        return [(v, c, c * (v - mean), c * (v - mean) ** 2) for v, c in counts]
    weight_per_group = len(data) / JENKS_MAX_POINTS
    out: list[tuple[float, int, float, float]] = []
    first, w, s, s2 = counts[0][0], 0, 0.0, 0.0
    for v, c in counts:
        if w >= weight_per_group:
            out.append((first, w, s, s2))
            first, w, s, s2 = v, 0, 0.0, 0.0
        w, s, s2 = w + c, s + c * (v - mean), s2 + c * (v - mean) ** 2
    out.append((first, w, s, s2))
    return out


def jenks_breaks(data: Sequence[float], k: int) -> list[float]:
    """Breaks minimising the sum of squared deviations from the class means (Fisher 1958).

    Dynamic programming over the sorted points: ``best[c][j]`` is the least cost of putting
    points ``0..j`` into ``c + 1`` classes, ``best[c][j] = min_i best[c-1][i-1] + ssd(i, j)``.
    The index ``i`` of the best last class start never decreases as ``j`` grows (the cost
    satisfies the quadrangle inequality), so each row is solved by divide and conquer in
    O(m log m) instead of O(m²).
    """
    groups = _groups(data)
    m = len(groups)
    w, s, s2 = [0.0], [0.0], [0.0]
    for _, gw, gs, gs2 in groups:
        w.append(w[-1] + gw)
        s.append(s[-1] + gs)
        s2.append(s2[-1] + gs2)

    def ssd(i: int, j: int) -> float:  # points i..j inclusive, 0-based
        dw, ds = w[j + 1] - w[i], s[j + 1] - s[i]
        return s2[j + 1] - s2[i] - ds * ds / dw

    best = [[ssd(0, j) for j in range(m)]]
    start: list[list[int]] = [[0] * m]
    for c in range(1, k):
        prev = best[-1]
        row = [math.inf] * m
        arg = [0] * m
        # (j_lo, j_hi, i_lo, i_hi): solve row[j] for j in [j_lo, j_hi] with i in [i_lo, i_hi]
        stack = [(c, m - 1, c, m - 1)]
        while stack:
            j_lo, j_hi, i_lo, i_hi = stack.pop()
            if j_lo > j_hi:
                continue
            j = (j_lo + j_hi) // 2
            best_cost, best_i = math.inf, i_lo
            wj, sj, s2j = w[j + 1], s[j + 1], s2[j + 1]
            for i in range(i_lo, min(i_hi, j) + 1):   # ssd(i, j) inlined: the hot loop
                ds = sj - s[i]
                cost = prev[i - 1] + s2j - s2[i] - ds * ds / (wj - w[i])
                if cost < best_cost:
                    best_cost, best_i = cost, i
            row[j], arg[j] = best_cost, best_i
            stack.append((j_lo, j - 1, i_lo, best_i))
            stack.append((j + 1, j_hi, best_i, i_hi))
        best.append(row)
        start.append(arg)
    firsts = []
    j = m - 1
    for c in range(k - 1, 0, -1):
        i = start[c][j]
        firsts.append(groups[i][0])
        j = i - 1
    return [data[0], *reversed(firsts), data[-1]]


# -- bivariate maps --------------------------------------------------------------------------

def bivariate_classes(x_values: Sequence[float | None], y_values: Sequence[float | None]
                      ) -> Bivariate:
    """Terciles of each indicator (over the pairs where both are known) and the 3×3 class of
    each pair, for a bivariate choropleth."""
    if len(x_values) != len(y_values):
        raise InvalidInput(f"a bivariate map needs as many x values as y values "
                           f"({len(x_values)} and {len(y_values)})")

    def known(v: float | None) -> bool:
        return v is not None and math.isfinite(v)

    pairs = [(x, y) for x, y in zip(x_values, y_values, strict=True) if known(x) and known(y)]
    x_classes = classify([p[0] for p in pairs], "quantile", 3)
    y_classes = classify([p[1] for p in pairs], "quantile", 3)
    cells: list[int | None] = []
    counts = [0] * 9
    for x, y in zip(x_values, y_values, strict=True):
        if not (known(x) and known(y)):
            cells.append(None)
            continue
        cx, cy = x_classes.class_of(x), y_classes.class_of(y)
        if cx is None or cy is None:
            cells.append(None)
            continue
        cell = 3 * cy + cx
        cells.append(cell)
        counts[cell] += 1
    return Bivariate(x_classes.breaks, y_classes.breaks, cells, counts, list(BIVARIATE))
