"""Comparisons: percentile ranks among published values, parents, sentences, portraits."""

from __future__ import annotations

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.observatory.compare import (
    Rank,
    compare,
    compare_territories,
    format_value,
    portrait,
    ranks,
)
from mutuelle.observatory.compute import NO_DATA, OK, SECRET, Value, compute_indicator
from mutuelle.observatory.indicators import define_indicator



@pytest.fixture
def indicators(small_referential, add_rates):
    session = small_referential
    add_rates()
    rate = define_indicator(session, id="taux", label="Taux d'essai", dataset="taux",
                            numerator="num", denominator="den", code_column="code_iris",
                            scale=100, unit="%", secrecy_on="none")
    small = define_indicator(session, id="petit", label="Petits effectifs", dataset="taux",
                             numerator="num", code_column="code_iris", unit="personnes",
                             secrecy_on="numerator", secrecy_threshold=16)
    commune = define_indicator(session, id="communal", label="Communal", dataset="taux",
                               numerator="num", denominator="den", code_column="code_iris",
                               aggregation="median", secrecy_on="none")
    session.commit()
    return rate, small, commune


def v(code: str, value: float | None, status: str = OK) -> Value:
    return Value(code, code, value, None, None, status)


def test_ranks_count_published_values_only() -> None:
    found = ranks([v("a", 1), v("b", 2), v("c", 2), v("d", 5), v("e", None, SECRET),
                   v("f", None, NO_DATA)])
    assert set(found) == {"a", "b", "c", "d"}
    assert found["d"] == Rank(3, 0, 3) and found["d"].percentile == 100
    assert found["b"] == Rank(1, 1, 3)
    assert found["a"].percentile == 0


def test_a_comparison_gives_parent_whole_rank_and_a_sentence(
        any_settings: Settings, small_referential, indicators) -> None:
    rate = indicators[0]
    found = compare(small_referential, any_settings, rate, "iris", "690010101")
    assert found.value.value == pytest.approx(30)
    assert (found.parent_level, found.parent.code) == ("commune", "69001")
    assert found.whole.value == pytest.approx(100 * 140 / 720)
    assert found.rank == Rank(4, 0, 5)          # 6 published IRIS: 30 ties with one other
    assert found.scope == "Région"              # the smallest territory holding them all
    assert found.sentence == (
        "Taux d'essai : 30\u202f% pour Alpha 1, contre 15\u202f% pour Alpha (commune) et "
        "19,4\u202f% pour Ensemble du territoire. C'est plus élevé que dans 80 % des IRIS "
        "(Région).")
    assert found.as_dict()["percentile"] == 80.0
    low = compare(small_referential, any_settings, rate, "iris", "690010103")
    assert "plus faible que dans 80 % des IRIS" in low.sentence   # 4 of 5 above 10


def test_secret_and_missing_values_are_said_so_and_never_ranked(
        any_settings: Settings, small_referential, indicators) -> None:
    small = indicators[1]
    computed = compute_indicator(small_referential, any_settings, small)
    iris = computed.level("iris")
    hidden = [c for c, val in iris.items() if val.status == SECRET]
    assert "690010103" in hidden                          # 10 < 16
    rows = compare_territories(computed, "iris", sorted(iris))
    by_code = {r.value.code: r for r in rows}
    assert by_code["690010103"].rank is None
    assert by_code["690010103"].sentence == (
        "Petits effectifs : valeur non diffusée pour Alpha 3 (secret statistique).")
    published = [r for r in rows if r.value.status == OK]
    assert all(r.rank.peers == len(published) - 1 for r in published)
    rate_rows = compare_territories(compute_indicator(small_referential, any_settings,
                                                      indicators[0]), "iris", ["010010102"])
    assert rate_rows[0].sentence == "Taux d'essai : pas de donnée pour Gamma 2."


def test_a_portrait_lists_every_indicator_and_why_some_are_missing(
        any_settings: Settings, small_referential, indicators) -> None:
    found = portrait(small_referential, any_settings, "commune", "69001")
    assert found.name == "Alpha"
    assert [c.indicator for c in found.comparisons] == ["petit", "taux"]
    assert "median" in found.skipped["communal"]
    qpv = portrait(small_referential, any_settings, "qpv", "QN06901M",
                   indicators=[indicators[0]])
    assert qpv.comparisons[0].parent.code == "69001"
    with pytest.raises(NotFound):
        portrait(small_referential, any_settings, "commune", "99999")


@pytest.mark.parametrize("value, unit, text", [
    (23.44, "%", "23,4\u202f%"), (21540.0, "€", "21\u202f540\u00a0€"), (0.123, "", "0,12"),
    (3.0, "", "3"), (None, "%", "—"),
])
def test_values_are_written_the_french_way(value, unit, text) -> None:
    assert format_value(value, unit) == text
