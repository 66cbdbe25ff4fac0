"""Choropleth classes: quantiles, Jenks natural breaks, equal intervals, manual breaks."""

from __future__ import annotations

import itertools
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutuelle.core.errors import InvalidInput
from mutuelle.observatory.classification import (
    BIVARIATE,
    DIVERGING,
    SEQUENTIAL,
    bivariate_classes,
    classify,
    jenks_breaks,
    palette_colors,
)


def ssd(groups: list[list[float]]) -> float:
    total = 0.0
    for g in groups:
        mean = sum(g) / len(g)
        total += sum((v - mean) ** 2 for v in g)
    return total


def best_partition_cost(values: list[float], k: int) -> float:
    """Brute force: every way to cut the sorted distinct values into k runs."""
    data = sorted(values)
    distinct = sorted(set(data))
    best = float("inf")
    for cuts in itertools.combinations(range(1, len(distinct)), k - 1):
        bounds = [distinct[0], *(distinct[c] for c in cuts), float("inf")]
        groups = [[v for v in data if lo <= v < hi] for lo, hi in itertools.pairwise(bounds)]
        best = min(best, ssd(groups))
    return best


def test_quantiles_put_as_many_values_in_each_class() -> None:
    found = classify(range(100), "quantile", 5)
    assert found.counts == [20, 20, 20, 20, 20]
    assert found.breaks == [0, 20, 40, 60, 80, 99]
    assert classify([float(v) for v in range(90)], "quantile", 9).counts == [10] * 9


def test_equal_values_never_straddle_a_quantile_break() -> None:
    found = classify([1, 1, 1, 1, 1, 1, 2, 3, 4], "quantile", 3)
    assert found.counts == [6, 1, 2]
    assert sum(found.counts) == 9
    assert all(b > a for a, b in itertools.pairwise(found.breaks))


def test_jenks_finds_obvious_clusters() -> None:
    values = [1, 2, 3, 10, 11, 12, 30, 31, 32, 33]
    found = classify(values, "jenks", 3)
    assert found.breaks == [1, 10, 30, 33]
    assert found.counts == [3, 3, 4]
    four = classify([5.1, 5.0, 4.9, 50, 51, 49, 500, 498, 502, 1000], "jenks", 4)
    assert four.breaks == [4.9, 49, 498, 1000, 1000]   # the last class is 1000 alone
    assert four.counts == [3, 3, 3, 1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), min_size=6, max_size=12),
       st.integers(min_value=3, max_value=4))
def test_jenks_is_the_optimal_partition(values: list[int], k: int) -> None:
    if len(set(values)) < k:
        return
    found = classify(values, "jenks", k)
    bounds = [*found.breaks[:-1], float("inf")]
    groups = [[v for v in values if lo <= v < hi] for lo, hi in itertools.pairwise(bounds)]
    assert all(groups)
    assert ssd(groups) == pytest.approx(best_partition_cost(values, k), abs=1e-6)


def test_jenks_is_fast_on_the_iris_of_france() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 0.6) for _ in range(48_000)]
    start = time.perf_counter()
    found = classify(values, "jenks", 9)
    assert time.perf_counter() - start < 3
    assert sum(found.counts) == 48_000
    assert all(c > 0 for c in found.counts)


def test_jenks_on_grouped_values_stays_close_to_the_exact_breaks() -> None:
    rng = random.Random(3)
    values = [rng.gauss(10, 1) for _ in range(6000)] + [rng.gauss(30, 1) for _ in range(6000)]
    breaks = jenks_breaks(sorted(values), 2)
    assert 13 < breaks[1] < 27


def test_equal_intervals_and_manual_breaks() -> None:
    found = classify([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], "equal", 3)
    assert found.breaks == [0, 11 / 3, 22 / 3, 11]
    assert found.counts == [4, 4, 4]
    manual = classify([1, 5, 12, 18, 25, 40], "manual", 3, breaks=[10, 20])
    assert manual.breaks == [1, 10, 20, 40]
    assert manual.counts == [2, 2, 2]
    bounded = classify([1, 5, 12], "manual", 3, breaks=[0, 4, 8, 16])
    assert bounded.counts == [1, 1, 1]
    assert manual.class_of(100) == 2 and manual.class_of(-5) == 0 and manual.class_of(None) is None


def test_missing_values_are_left_out_of_the_classes() -> None:
    found = classify([None, 1, 2, 3, float("nan"), 4, 5, 6], "quantile", 3)
    assert sum(found.counts) == 6


@pytest.mark.parametrize("kwargs, message", [
    ({"classes": 2}, "from 3 to 9"),
    ({"classes": 10}, "from 3 to 9"),
    ({"classes": 4.0}, "whole number"),
    ({"method": "natural"}, "must be one of"),
    ({"method": "manual"}, "needs breaks"),
    ({"method": "manual", "breaks": []}, "needs breaks"),
    ({"method": "manual", "breaks": ["a"]}, "numbers"),
    ({"method": "manual", "breaks": [1, float("inf")]}, "finite"),
    ({"method": "quantile", "breaks": [1, 2]}, "only with the manual method"),
    ({"palette": "rainbow"}, "unknown palette"),
])
def test_bad_classification_requests_are_refused(kwargs, message) -> None:
    args = {"method": "quantile", "classes": 3, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        classify([1, 2, 3, 4, 5, 6, 7], args.pop("method"), args.pop("classes"), **args)


@pytest.mark.parametrize("method", ["quantile", "jenks", "equal"])
def test_fewer_distinct_values_than_classes_make_fewer_classes_with_a_note(method: str) -> None:
    found = classify([1, 1, 2, 2, 3, 4, 4], method, 5)
    assert len(found.counts) == len(found.colors) == len(found.breaks) - 1 == 4
    assert sum(found.counts) == 7 and found.asked == 5
    assert [n.code for n in found.notes] == ["few_values"]
    assert found.notes[0].as_json() == {
        "code": "few_values", "asked": 5, "made": 4, "distinct": 4,
        "message": "5 classes need at least 5 distinct values; there are 4, hence 4 classes."}
    assert found.note == found.notes[0].message
    single = classify([7, 7, 7], method, 3)
    assert single.breaks == [7, 7] and single.counts == [3] and single.class_of(7) == 0
    assert single.notes[0].made == 1


def test_classes_asked_and_made_carry_no_note() -> None:
    found = classify(range(10), "quantile", 5)
    assert found.notes == () and found.note is None and found.asked == 5


def test_no_value_at_all_makes_no_class_with_a_note() -> None:
    found = classify([None, float("nan")], "jenks", 5)
    assert found.breaks == found.counts == found.colors == []
    assert [n.code for n in found.notes] == ["no_values"] and found.class_of(3) is None
    assert classify([], "manual", 3, breaks=[1, 2]).notes[0].code == "no_values"


VALUES = [1, 5, 12, 18, 25, 40]


def test_manual_breaks_out_of_order_are_sorted_with_a_note() -> None:
    found = classify(VALUES, "manual", 3, breaks=[20, 10, 20])
    assert found.breaks == [1, 10, 20, 40] and found.counts == [2, 2, 2]
    assert [(n.code, n.made) for n in found.notes] == [("breaks_order", 3)]


def test_manual_breaks_that_are_not_as_many_as_the_classes_are_the_limits_with_a_note() -> None:
    found = classify(VALUES, "manual", 5, breaks=[10, 20])
    assert found.breaks == [1, 10, 20, 40] and len(found.colors) == 3
    assert [(n.code, n.given, n.asked, n.made) for n in found.notes] == [("breaks_count", 2, 5, 3)]
    many = classify(range(100), "manual", 3, breaks=list(range(5, 100, 5)))
    assert len(many.counts) == 9 and many.breaks[1:-1] == [5, 10, 15, 20, 25, 30, 35, 40]


def test_manual_breaks_outside_the_values_are_left_out_with_a_note() -> None:
    found = classify(VALUES, "manual", 4, breaks=[-5, 10, 50])
    assert found.breaks == [1, 10, 40] and found.counts == [2, 4]
    note = found.notes[0]
    assert (note.code, note.dropped, note.low, note.high, note.made) == \
        ("breaks_outside", (-5, 50), 1, 40, 2)
    assert note.as_json()["dropped"] == [-5, 50]
    # a break equal to the smallest value would leave the first class empty; to the largest, not
    assert classify(VALUES, "manual", 3, breaks=[1, 40]).breaks == [1, 40, 40]
    # all the bounds given (classes + 1) stay as given when they only widen the ends
    assert classify(VALUES, "manual", 3, breaks=[0, 10, 20, 50]).notes == ()


def test_bivariate_classes_of_too_few_values_are_made_all_the_same() -> None:
    found = bivariate_classes([1, 1, 2, None], [3, 3, 3, 4])
    assert found.cells[:3] == [0, 0, 1] and found.cells[3] is None
    assert sum(found.counts) == 3


def test_palettes_give_as_many_colours_as_classes() -> None:
    for name in [*SEQUENTIAL, *DIVERGING]:
        for k in range(3, 10):
            colors = palette_colors(name, k)
            assert len(colors) == k and len(set(colors)) == k
            assert all(len(c) == 7 and c.startswith("#") for c in colors)
    assert palette_colors("viridis", 9) == list(SEQUENTIAL["viridis"])
    assert palette_colors("YlOrRd", 3, reverse=True)[0] == "#800026"
    assert classify(range(10), "quantile", 5, palette="RdBu").colors[2] == "#f7f7f7"


def test_bivariate_classes_are_terciles_of_each_axis() -> None:
    xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, None]
    ys = [9, 8, 7, 6, 5, 4, 3, 2, 1, 5]
    found = bivariate_classes(xs, ys)
    assert found.cells[0] == 6 and found.cells[8] == 2 and found.cells[4] == 4
    assert found.cells[9] is None
    assert sum(found.counts) == 9 and found.colors == list(BIVARIATE)
    with pytest.raises(InvalidInput, match="as many x values as y values"):
        bivariate_classes([1, 2], [1])


def test_manual_breaks_beyond_nine_classes_keep_the_lowest_with_a_note() -> None:
    found = classify(range(100), "manual", 5, breaks=[-10, *range(5, 100, 5)])
    assert found.breaks[1:-1] == [5, 10, 15, 20, 25, 30, 35, 40] and len(found.counts) == 9
    codes = [n.code for n in found.notes]
    assert codes == ["breaks_count", "breaks_outside", "breaks_many"]
    many = found.notes[-1]
    # breaks outside the values are left out first: they take no class
    assert many.dropped == tuple(range(45, 100, 5)) and many.given == 19 and many.made == 9
    assert many.as_json()["dropped"] == list(range(45, 100, 5))
    assert all(n.made == 9 for n in found.notes)


def test_all_the_bounds_given_widen_to_values_beyond_them() -> None:
    # 4 bounds for 3 classes, the values going beyond both ends: no value outside a class
    found = classify(VALUES, "manual", 3, breaks=[5, 10, 20, 30])
    assert found.breaks == [1, 10, 20, 40] and sum(found.counts) == len(VALUES)
