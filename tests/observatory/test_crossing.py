"""Correlation of two indicators' values: Pearson's and Spearman's coefficients, none where
they mean nothing."""

from __future__ import annotations

import pytest

from mutuelle.observatory.crossing import correlation


def test_proportional_values_have_a_correlation_of_one() -> None:
    assert correlation([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])["pearson"] == pytest.approx(1)


def test_values_in_reverse_order_have_a_rank_correlation_of_minus_one() -> None:
    assert correlation([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["spearman"] == pytest.approx(-1)


def test_a_constant_side_has_no_correlation() -> None:
    assert correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["pearson"] is None


def test_fewer_than_three_pairs_have_no_correlation() -> None:
    found = correlation([1.0, 2.0], [2.0, 4.0])
    assert found == {"n": 2, "pearson": None, "spearman": None}
