"""Statistical secrecy: small counts are hidden, and no hidden cell can be recovered from what
is published, neither by subtraction nor by solving every total at once. The attacker here is
written independently of ``mutuelle.observatory.secrecy``: exact fractions, and equations
taken from the referential (each cell is the sum of its IRIS), not from the module."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutuelle.core.config import Settings
from mutuelle.observatory.compute import SECRET, WHOLE, WHOLE_CODE, compute_indicator
from mutuelle.observatory.indicators import define_indicator
from mutuelle.observatory.secrecy import Equation, nested_equations, protect, recoverable

Key = tuple[str, str]


# -- the attacker ----------------------------------------------------------------------------

def subtraction_attack(known: dict[Key, Fraction], hidden: set[Key],
                       sums: dict[Key, dict[Key, Fraction]]) -> set[Key]:
    """Repeatedly solve any equation ``cell = Σ w·source`` left with one unknown."""
    values = dict(known)
    found: set[Key] = set()
    changed = True
    while changed:
        changed = False
        for cell, members in sums.items():
            terms = {cell: Fraction(-1)} | {s: w for s, w in members.items()}
            unknown = [k for k in terms if k not in values]
            if len(unknown) != 1:
                continue
            (x,) = unknown
            rest = sum(terms[k] * values[k] for k in terms if k != x)
            values[x] = -rest / terms[x]
            if x in hidden:
                found.add(x)
            changed = True
    return found


def linear_attack(known: dict[Key, Fraction], hidden: set[Key],
                  sums: dict[Key, dict[Key, Fraction]]) -> set[Key]:
    """Every hidden cell the whole linear system determines (exact Gauss-Jordan)."""
    unknowns = sorted({k for cell, members in sums.items() for k in (cell, *members)
                       if k not in known})
    col = {k: i for i, k in enumerate(unknowns)}
    rows = []
    for cell, members in sums.items():
        row = [Fraction(0)] * (len(unknowns) + 1)
        for k, w in [(cell, Fraction(-1)), *members.items()]:
            if k in known:
                row[-1] -= w * known[k]
            else:
                row[col[k]] += w
        if any(row[:-1]):
            rows.append(row)
    pivots = []
    r = 0
    for c in range(len(unknowns)):
        pick = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pick is None:
            continue
        rows[r], rows[pick] = rows[pick], rows[r]
        rows[r] = [v / rows[r][c] for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(c)
        r += 1
    determined = set()
    for i, c in enumerate(pivots):
        if sum(1 for v in rows[i][:-1] if v != 0) == 1:
            determined.add(unknowns[c])
    return determined & hidden


def attack(computed, membership: dict[Key, dict[Key, Fraction]]) -> dict[str, set[Key]]:
    """Try every published number of every level against every hidden cell."""
    sums: dict[Key, dict[Key, Fraction]] = {}
    for source, containers in membership.items():
        for cell, w in containers.items():
            sums.setdefault(cell, {})[source] = w
    out = {}
    for side in ("numerator", "denominator"):
        known, hidden = {}, set()
        for level, values in computed.levels.items():
            for code, v in values.items():
                if v.status == SECRET:
                    hidden.add((level, code))
                elif getattr(v, side) is not None:
                    known[(level, code)] = Fraction(getattr(v, side)).limit_denominator(10**9)
                else:   # no data: nothing counted there
                    known[(level, code)] = Fraction(0)
        sums_here = {c: m for c, m in sums.items() if c in known or c in hidden}
        out[f"{side}-subtraction"] = subtraction_attack(known, hidden, sums_here)
        out[f"{side}-linear"] = linear_attack(known, hidden, sums_here)
    return out


# -- a referential where an EPCI straddles two départements ----------------------------------

def referential_rows(rng: random.Random):
    communes = {"69001": ("E1", "69"), "69002": ("E1", "69"), "69003": ("E1", "69"),
                "69004": ("E2", "69"), "01002": ("E2", "01"), "01001": (None, "01")}
    rows = [("region", "84", "R", None, {}),
            ("departement", "69", "D69", "84", {"region": "84"}),
            ("departement", "01", "D01", "84", {"region": "84"}),
            ("epci", "200000001", "E1", "69", {"departement": "69", "region": "84"}),
            ("epci", "200000002", "E2", "69", {"departement": "69", "region": "84"})]
    epci_code = {"E1": "200000001", "E2": "200000002"}
    membership: dict[Key, dict[Key, Fraction]] = {}
    one = Fraction(1)
    for commune, (epci, dep) in communes.items():
        cols = {"departement": dep, "region": "84"}
        if epci:
            cols["epci"] = epci_code[epci]
        rows.append(("commune", commune, f"C{commune}", epci_code[epci] if epci else dep, cols))
        for k in range(rng.randint(2, 4)):
            iris = f"{commune}{k + 1:04d}"
            rows.append(("iris", iris, f"I{iris}", commune, {"commune": commune}))
            ups = {("commune", commune): one, ("departement", dep): one, ("region", "84"): one,
                   (WHOLE, WHOLE_CODE): one}
            if epci:
                ups[("epci", epci_code[epci])] = one
            membership[("iris", iris)] = ups
    rows.append(("qpv", "QN06901M", "Q", "69001", {"commune": "69001"}))
    overlaps = [("QN06901M", "690010001", 0.5), ("QN06901M", "690020001", 0.25)]
    for qpv, iris, share in overlaps:
        membership[("iris", iris)][("qpv", qpv)] = Fraction(share)
    return rows, overlaps, membership


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_hidden_cell_can_be_recovered_from_all_published_levels(
        any_settings: Settings, session, add_territories, add_dataset, seed: int
        ) -> None:
    rng = random.Random(seed)
    rows, overlaps, membership = referential_rows(rng)
    add_territories(rows, overlaps)
    lines, primary = ["code_iris,n,d"], set()
    for level, code, *_ in rows:
        if level == "iris":   # the first IRIS of each commune is small, others may be
            n = rng.randint(1, 10) if code.endswith("0001") else \
                rng.choice([rng.randint(0, 10), rng.randint(11, 60), rng.randint(11, 60)])
            lines.append(f"{code},{n},{n + rng.randint(20, 200)}")
            if 0 < n < 11:
                primary.add(("iris", code))
    add_dataset("sensible", "\n".join(lines) + "\n")
    ind = define_indicator(session, id="sensible", label="Sensible", dataset="sensible",
                           numerator="n", denominator="d", code_column="code_iris",
                           secrecy_on="numerator")
    computed = compute_indicator(session, any_settings, ind)
    secret = {(lv, c) for lv, vals in computed.levels.items() for c, v in vals.items()
              if v.status == SECRET}
    assert primary < secret
    assert any(k[0] == "iris" for k in secret - primary)   # secondary IRIS were needed
    for level, code in secret:
        v = computed.levels[level][code]
        assert v.value is None and v.numerator is None and v.denominator is None
    recovered = attack(computed, membership)
    assert recovered == {k: set() for k in recovered}, recovered


# -- the algorithm alone, on many random hierarchies -----------------------------------------

def random_hierarchy(draw_counts: list[int], shape: list[int]):
    """Communes of ``shape[i]`` IRIS in two EPCI and two départements that cross."""
    counts, ancestors = {}, {}
    it = iter(draw_counts)
    for c, n_iris in enumerate(shape):
        epci, dep = ("epci", f"E{c % 2}"), ("departement", f"D{c % 3 == 0}")
        for i in range(n_iris):
            key = ("iris", f"{c}-{i}")
            counts[key] = next(it)
            ancestors[key] = [("commune", str(c)), epci, dep, ("territoire", "T")]
    totals: dict[Key, int] = {}
    for key, ups in ancestors.items():
        for up in ups:
            totals[up] = totals.get(up, 0) + counts[key]
    return {**counts, **totals}, ancestors


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4), min_size=2, max_size=6),
       st.lists(st.integers(min_value=0, max_value=40), min_size=24, max_size=24))
def test_random_hierarchies_never_leak_a_hidden_cell(shape: list[int], draws: list[int]) -> None:
    counts, ancestors = random_hierarchy(draws, shape)
    equations = nested_equations(ancestors, ["commune", "epci", "departement", "territoire"])
    hidden = protect(counts, equations, 11).hidden
    assert {k for k, c in counts.items() if 0 < c < 11} <= hidden
    assert not {k for k, c in counts.items() if c == 0} & hidden   # zeros protect nothing
    assert recoverable(hidden, equations) == set()
    membership = {s: {up: Fraction(1) for up in ups} for s, ups in ancestors.items()}
    sums: dict[Key, dict[Key, Fraction]] = {}
    for source, ups in membership.items():
        for cell, w in ups.items():
            sums.setdefault(cell, {})[source] = w
    known = {k: Fraction(c) for k, c in counts.items() if k not in hidden}
    assert linear_attack(known, hidden, sums) == set()
    assert subtraction_attack(known, hidden, sums) == set()


def test_one_small_iris_hides_its_smallest_sibling_too() -> None:
    c, i = ("commune", "C"), [("iris", f"i{k}") for k in range(4)]
    counts = {c: 100, i[0]: 5, i[1]: 30, i[2]: 40, i[3]: 25}
    found = protect(counts, [Equation(c, tuple(i))], 11)
    assert found.primary == {i[0]} and found.secondary == {i[3]}


def test_an_only_child_hides_its_parent() -> None:
    c, i = ("commune", "C"), ("iris", "i")
    assert protect({c: 7, i: 7}, [Equation(c, (i,))], 11).hidden == {c, i}
    e, c2, j = ("epci", "E"), ("commune", "C2"), ("iris", "j")
    counts = {e: 50, c: 20, i: 20, c2: 30, j: 30}
    equations = [Equation(e, (c, c2)), Equation(c, (i,)), Equation(c2, (j,))]
    counts[i] = counts[c] = 4
    counts[e] = 34
    assert protect(counts, equations, 11).hidden == {c, i, c2, j}


def test_a_hidden_commune_is_protected_in_every_total_it_belongs_to() -> None:
    a, b, c = ("commune", "a"), ("commune", "b"), ("commune", "c")
    e1, e2, d1, d2 = ("epci", "1"), ("epci", "2"), ("departement", "1"), ("departement", "2")
    equations = [Equation(e1, (a, b)), Equation(e2, (c,)), Equation(d1, (a,)),
                 Equation(d2, (b, c))]
    assert recoverable({a, b}, equations) == {a, b}     # d1 gives a, then e1 gives b
    hidden = protect({a: 5, b: 50, c: 60, e1: 55, e2: 60, d1: 5, d2: 110}, equations, 11).hidden
    assert recoverable(hidden, equations) == set()
    assert {a, d1} <= hidden


def test_cells_without_data_or_counting_zero_are_published_and_never_chosen() -> None:
    c, i = ("commune", "C"), [("iris", f"i{k}") for k in range(4)]
    found = protect({c: 50, i[0]: 4, i[1]: None, i[2]: 0, i[3]: 46}, [Equation(c, tuple(i))],
                    11)
    assert found.primary == {i[0]} and found.hidden == {i[0], i[3]}


def test_equations_use_the_largest_level_that_partitions_a_total() -> None:
    ancestors = {("iris", "1"): [("commune", "a"), ("epci", "E"), ("departement", "D1")],
                 ("iris", "2"): [("commune", "b"), ("epci", "E"), ("departement", "D2")]}
    equations = {e.total: e.parts for e in nested_equations(
        ancestors, ["commune", "epci", "departement"])}
    assert equations[("departement", "D1")] == (("commune", "a"),)   # E straddles D1 and D2
    assert equations[("epci", "E")] == (("commune", "a"), ("commune", "b"))
    assert equations[("commune", "a")] == (("iris", "1"),)


def test_the_attacker_recovers_what_primary_suppression_alone_leaves() -> None:
    c, e = ("commune", "C"), ("epci", "E")
    i = [("iris", f"i{k}") for k in range(3)]
    sums = {c: {k: Fraction(1) for k in i}, e: {k: Fraction(1) for k in i}}
    known = {c: Fraction(100), e: Fraction(100), i[1]: Fraction(60), i[2]: Fraction(35)}
    assert subtraction_attack(known, {i[0]}, sums) == {i[0]}
    del known[c]
    assert linear_attack(known, {i[0], c}, sums) == {i[0], c}   # C = E, then i0 = C - i1 - i2
