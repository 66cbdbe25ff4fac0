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
    ({"method": "manual", "breaks": [3, 2]}, "increase strictly"),
    ({"method": "manual", "breaks": [1, 2, 3, 4, 5, 6]}, "inner breaks"),
    ({"method": "manual"}, "needs breaks"),
    ({"method": "manual", "breaks": [1, float("inf")]}, "finite"),
    ({"method": "quantile", "breaks": [1, 2]}, "only with the manual method"),
    ({"palette": "rainbow"}, "unknown palette"),
])
def test_bad_classification_requests_are_refused(kwargs, message) -> None:
    args = {"method": "quantile", "classes": 3, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        classify([1, 2, 3, 4, 5, 6, 7], args.pop("method"), args.pop("classes"), **args)


@pytest.mark.parametrize("method", ["quantile", "jenks", "equal"])
def test_fewer_distinct_values_than_classes_is_refused(method: str) -> None:
    with pytest.raises(InvalidInput, match="at least 4 distinct values; there are 3"):
        classify([1, 1, 2, 2, 3, 3], method, 4)


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
