"""Statistical secrecy: small counts are not published (primary suppression), and enough other
cells are hidden (secondary suppression) that no hidden cell can be recovered from the
published ones, by subtracting parts from a total or by solving all the totals together.

Cells are ``(level, code)`` keys. What an onlooker knows is a set of equations ``total = Σ
parts`` (a commune is the sum of its IRIS, an EPCI of its communes...) plus every published
cell; a hidden cell is *recoverable* when the published cells and the equations determine it.
Cells without data (``count`` None) are published as "no data", and cells counting 0 are
published too (a zero is not a small group of people: τ-ARGUS's default, "zero unsafe" off):
both are known, so hiding them would protect nothing and they are never hidden to protect
others. This also keeps two indicators that publish the same counts on the same pattern.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Key = tuple[str, str]
#: A prime above any coefficient we meet: ranks over GF(P) equal ranks over the rationals for
#: our 0/±1 systems except with negligible probability, at machine-integer cost.
_P = (1 << 61) - 1


@dataclass(frozen=True)
class Equation:
    """``total = Σ parts``: a cell and the cells that partition it."""

    total: Key
    parts: tuple[Key, ...]


@dataclass
class Suppression:
    """Cells hidden because their count is small (primary) or to protect those (secondary)."""

    primary: set[Key] = field(default_factory=set)
    secondary: set[Key] = field(default_factory=set)

    @property
    def hidden(self) -> set[Key]:
        """Every hidden cell."""
        return self.primary | self.secondary


def primary_cells(counts: Mapping[Key, float | None], threshold: float) -> set[Key]:
    """Cells whose count is known, not zero, and under the threshold."""
    return {k for k, c in counts.items() if c is not None and 0 < c < threshold}


def protect(counts: Mapping[Key, float | None], equations: Sequence[Equation],
            threshold: float, *, estimated: Mapping[Key, Sequence[Key]] | None = None
            ) -> Suppression:
    """Primary and secondary suppression over cells linked by ``equations``.

    1. Hide every cell whose count is under ``threshold``.
    2. While an equation holds exactly one hidden cell (which subtraction would give back),
       hide its smallest published part, or its total when no part is left.
    3. Check the whole system: while some hidden cell is still determined (it can be with
       overlapping totals, e.g. an EPCI across two départements), hide the smallest
       published part of an equation holding it, and go back to 2.
    4. ``estimated`` cells (a QPV from the IRIS it overlaps, weighted) are hidden when small
       or when drawing on a hidden cell, whose value their published estimate would otherwise
       let one solve for: a published estimate only ever combines published cells.
    """
    estimated = estimated or {}
    summed = {k: c for k, c in counts.items() if k not in estimated}
    primary = primary_cells(counts, threshold)
    hidden = primary - estimated.keys()
    touching: dict[Key, list[int]] = {}
    for i, eq in enumerate(equations):
        for key in (eq.total, *eq.parts):
            touching.setdefault(key, []).append(i)
    rounds = 0
    while True:
        _no_single_hidden(summed, equations, touching, hidden)
        leaks = recoverable(hidden, equations)
        if not leaks:
            break
        rounds += 1
        if not _hide_near(sorted(leaks), summed, equations, touching, hidden):
            # only cells known to be empty surround them: they are known to be 0 anyway
            log.warning("secrecy unprotectable=%d", len(leaks))
            break
    hidden |= {k for k, drawn in estimated.items() if k in counts
               and (k in primary or any(d in hidden for d in drawn))}
    log.debug("secrecy cells=%d primary=%d hidden=%d audit_rounds=%d", len(counts),
              len(primary), len(hidden), rounds)
    return Suppression(primary, hidden - primary)


def _candidate(eq: Equation, counts: Mapping[Key, float | None], hidden: set[Key]
               ) -> Key | None:
    """The published cell of ``eq`` cheapest to hide: its smallest part, else its total."""
    parts = [p for p in eq.parts if p not in hidden and counts.get(p)]
    if parts:
        return min(parts, key=lambda p: (counts[p], p))
    return eq.total if eq.total not in hidden and counts.get(eq.total) else None


def _no_single_hidden(counts: Mapping[Key, float | None], equations: Sequence[Equation],
                      touching: Mapping[Key, list[int]], hidden: set[Key]) -> None:
    """Hide cells until no equation holds exactly one hidden cell."""
    queue = deque(sorted({i for key in hidden for i in touching.get(key, ())}))
    while queue:
        eq = equations[queue.popleft()]
        if sum(m in hidden for m in (eq.total, *eq.parts)) != 1:
            continue
        pick = _candidate(eq, counts, hidden)
        if pick is None:  # every other member is known to be empty: nothing can protect it
            continue
        hidden.add(pick)
        queue.extend(touching.get(pick, ()))


def _hide_near(leaks: Sequence[Key], counts: Mapping[Key, float | None],
               equations: Sequence[Equation], touching: Mapping[Key, list[int]],
               hidden: set[Key]) -> bool:
    """Hide one more cell next to each recoverable one (once per equation and round); False
    when nothing could be hidden."""
    changed: set[int] = set()
    for leak in leaks:
        if changed.intersection(touching.get(leak, ())):
            continue
        # the nearest equation with a published member, walking through hidden cells
        seen_eqs: set[int] = set()
        seen_keys = {leak}
        frontier = deque([leak])
        while frontier:
            key = frontier.popleft()
            for i in touching.get(key, ()):
                if i in seen_eqs:
                    continue
                seen_eqs.add(i)
                pick = _candidate(equations[i], counts, hidden)
                if pick is not None:
                    hidden.add(pick)
                    changed.update(touching.get(pick, ()))
                    frontier.clear()
                    break
                for m in (equations[i].total, *equations[i].parts):
                    if m in hidden and m not in seen_keys:
                        seen_keys.add(m)
                        frontier.append(m)
    return bool(changed)


def recoverable(hidden: Iterable[Key], equations: Sequence[Equation]) -> set[Key]:
    """Hidden cells that the equations and the published cells determine exactly.

    Published cells are constants; each equation becomes a row over the hidden cells.
    First, equations left with one unknown are solved, again and again (subtraction). Where
    hidden cells form a tree (each one a part of at most one equation) that finds them all.
    Where a hidden cell is a part of two totals (a commune in its EPCI and its département),
    the rest is found by Gaussian elimination: a cell is determined when its unit vector lies
    in the row space, i.e. its pivot row in reduced echelon form holds no other cell.
    """
    hidden = set(hidden)
    rows: list[dict[Key, int]] = []
    of: dict[Key, list[int]] = {}
    as_part: dict[Key, int] = {}
    for eq in equations:
        row = {eq.total: 1} if eq.total in hidden else {}
        for part in eq.parts:
            if part in hidden:
                row[part] = row.get(part, 0) - 1
                as_part[part] = as_part.get(part, 0) + 1
        if row:
            for key in row:
                of.setdefault(key, []).append(len(rows))
            rows.append(row)
    solved: set[Key] = set()
    queue = deque(i for i, row in enumerate(rows) if len(row) == 1)
    while queue:
        row = rows[queue.popleft()]
        if len(row) != 1:
            continue
        (key,) = row
        solved.add(key)
        for j in of[key]:
            rows[j].pop(key, None)
            if len(rows[j]) == 1:
                queue.append(j)
    tangled = [k for k in hidden - solved if as_part.get(k, 0) >= 2]
    seen: set[Key] = set()
    for start in tangled:
        if start in seen:
            continue
        component, todo, eqs = {start}, [start], set()
        while todo:       # the hidden cells linked to ``start`` through equations
            for j in of[todo.pop()]:
                if j not in eqs:
                    eqs.add(j)
                    fresh = [k for k in rows[j] if k not in component]
                    component.update(fresh)
                    todo.extend(fresh)
        seen |= component
        solved |= _eliminate([rows[j] for j in sorted(eqs)], sorted(component))
    return solved


def _eliminate(rows: Sequence[dict[Key, int]], keys: Sequence[Key]) -> set[Key]:
    """The unknowns ``rows`` determine, by Gauss-Jordan elimination over GF(P)."""
    order = {key: i for i, key in enumerate(keys)}
    pivots: dict[int, dict[int, int]] = {}
    for row in rows:
        _insert({order[k]: v % _P for k, v in row.items() if v % _P}, pivots)
    for col in sorted(pivots, reverse=True):  # back-substitution: reduced echelon form
        reduced = pivots[col]
        for other in sorted(c for c in reduced if c != col and c in pivots):
            _axpy(reduced, pivots[other], reduced[other])
    return {keys[col] for col, reduced in pivots.items() if len(reduced) == 1}


def _axpy(row: dict[int, int], pivot: dict[int, int], factor: int) -> None:
    """``row -= factor * pivot`` in place, over GF(P)."""
    for c, v in pivot.items():
        new = (row.get(c, 0) - factor * v) % _P
        if new:
            row[c] = new
        else:
            row.pop(c, None)


def _insert(row: dict[int, int], pivots: dict[int, dict[int, int]]) -> None:
    """Reduce ``row`` by the pivots; keep it as a new pivot row if anything is left."""
    while row:
        col = min(row)
        if col in pivots:
            _axpy(row, pivots[col], row[col])
            continue
        inverse = pow(row[col], _P - 2, _P)
        pivots[col] = {c: v * inverse % _P for c, v in row.items()}
        return


def nested_equations(ancestors: Mapping[Key, Sequence[Key]], levels: Sequence[str]
                     ) -> list[Equation]:
    """The equations ``total = Σ parts`` that sums of source cells obey.

    ``ancestors[s]``: the cells (of ``levels``, listed from the smallest) holding source
    ``s``. Each cell is written as the sum of its cells of the nearest lower level that
    partitions it exactly (every source inside has one cell of that level, and those cells
    lie wholly inside it), else of its sources. Every other relation follows from these.
    """
    members: dict[Key, list[Key]] = {}
    by_level: dict[Key, dict[str, list[Key]]] = {}
    for source, ups in ancestors.items():
        grouped: dict[str, list[Key]] = {}
        for up in ups:
            members.setdefault(up, []).append(source)
            grouped.setdefault(up[0], []).append(up)
        by_level[source] = grouped
    totals: dict[str, list[Key]] = {}
    for total in sorted(members):
        totals.setdefault(total[0], []).append(total)
    equations = []
    for i, upper in enumerate(levels):
        pending = totals.get(upper, [])
        for lower in reversed(levels[:i]):
            if not pending:
                break
            # a lower cell lies wholly inside an upper one when all its sources do
            size: dict[Key, int] = {}
            inside: dict[tuple[Key, Key], int] = {}
            for grouped in by_level.values():
                lows = grouped.get(lower, ())
                if len(lows) == 1:
                    size[lows[0]] = size.get(lows[0], 0) + 1
                    for up in grouped.get(upper, ()):
                        inside[(lows[0], up)] = inside.get((lows[0], up), 0) + 1
            left = []
            for total in pending:
                parts: set[Key] = set()
                for source in members[total]:
                    lows = by_level[source].get(lower, ())
                    if len(lows) != 1 or inside.get((lows[0], total)) != size[lows[0]]:
                        break
                    parts.add(lows[0])
                else:
                    equations.append(Equation(total, tuple(sorted(parts))))
                    continue
                left.append(total)
            pending = left
        equations += [Equation(t, tuple(sorted(members[t]))) for t in pending]
    return equations
