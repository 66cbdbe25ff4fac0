"""Indicator values at every level on a small, hand-checkable referential (both backends)."""

from __future__ import annotations

import pytest

from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput
from mutuelle.observatory.compute import (
    NO_DATA,
    OK,
    WHOLE_CODE,
    as_tile_values,
    compute_indicator,
    indicator_values,
)
from mutuelle.observatory.indicators import define_indicator



def by_code(values):
    return {v.code: v for v in values}


@pytest.fixture
def rates(small_referential, add_rates):
    add_rates()
    return define_indicator(small_referential, id="taux", label="Taux", dataset="taux",
                            numerator="num", denominator="den", code_column="code_iris",
                            scale=100, unit="%", secrecy_on="none")


def test_a_commune_rate_is_the_ratio_of_sums_not_the_mean_of_rates(
        any_settings: Settings, small_referential, rates) -> None:
    communes = by_code(indicator_values(small_referential, any_settings, rates, "commune"))
    alpha = communes["69001"]
    assert (alpha.numerator, alpha.denominator) == (60, 400)
    assert alpha.value == pytest.approx(15.0)           # the mean of rates would be 16.67
    assert communes["69002"].value == pytest.approx(100 * 55 / 200)
    assert communes["01001"].value == pytest.approx(100 * 25 / 120)
    assert all(v.status == OK for v in communes.values())


def test_every_level_up_to_the_whole_territory_sums_its_iris(
        any_settings: Settings, small_referential, rates) -> None:
    computed = compute_indicator(small_referential, any_settings, rates)
    expected = {("epci", "200000001"): (115, 600), ("departement", "69"): (115, 600),
                ("departement", "01"): (25, 120), ("region", "84"): (140, 720),
                ("territoire", WHOLE_CODE): (140, 720)}
    for (level, code), (num, den) in expected.items():
        v = computed.level(level)[code]
        assert (v.numerator, v.denominator) == (num, den), (level, code)
        assert v.value == pytest.approx(100 * num / den)
    assert computed.parent("iris", "690010101")[1].code == "69001"
    assert computed.parent("commune", "01001")[0] == "departement"   # no EPCI
    assert computed.whole("iris", "010010101")[1].code == WHOLE_CODE


def test_a_qpv_gets_its_iris_counts_weighted_by_their_overlap(
        any_settings: Settings, small_referential, rates) -> None:
    qpv = by_code(indicator_values(small_referential, any_settings, rates, "qpv"))["QN06901M"]
    assert qpv.numerator == pytest.approx(30 * 0.5 + 20 * 0.2)
    assert qpv.denominator == pytest.approx(100 * 0.5 + 200 * 0.2)
    assert qpv.value == pytest.approx(100 * 19 / 90)


def test_a_zero_or_missing_denominator_gives_no_data_never_zero_nor_an_error(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("trous", "code_iris,num,den\n690010101,3,0\n690010102,4,\n690020101,5,50\n")
    ind = define_indicator(small_referential, id="trous", label="Trous", dataset="trous",
                           numerator="num", denominator="den", code_column="code_iris",
                           secrecy_on="none")
    iris = by_code(indicator_values(small_referential, any_settings, ind, "iris"))
    for code in ("690010101", "690010102", "690010103"):   # den 0, den null, no row at all
        assert iris[code].status == NO_DATA and iris[code].value is None
    assert iris["690020101"].value == pytest.approx(0.1)
    communes = by_code(indicator_values(small_referential, any_settings, ind, "commune"))
    assert communes["69001"].status == NO_DATA                 # 3 / 0: the null row is left out
    assert as_tile_values([communes["69001"]]) == {"69001": (None, NO_DATA)}


def test_a_median_has_values_at_its_own_level_only(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("revenus", "code_iris,mediane,menages\n690010101,21000,300\n690010102,18500,250\n")
    ind = define_indicator(small_referential, id="mediane", label="Revenu médian",
                           dataset="revenus", numerator="mediane", denominator="menages",
                           code_column="code_iris", aggregation="median")
    iris = by_code(indicator_values(small_referential, any_settings, ind, "iris"))
    assert iris["690010101"].value == 21000
    with pytest.raises(InvalidInput, match="median of iris values, which cannot be aggregated"):
        indicator_values(small_referential, any_settings, ind, "commune")


def test_a_weighted_mean_leaves_out_rows_without_a_value(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("moyenne", "code_iris,mediane,personnes\n690010101,20000,100\n"
                           "690010102,30000,300\n690010103,,600\n")
    ind = define_indicator(small_referential, id="moyenne", label="Revenu moyen",
                           dataset="moyenne", numerator="mediane * personnes",
                           denominator="personnes", code_column="code_iris",
                           aggregation="weighted_mean", secrecy_on="none")
    alpha = by_code(indicator_values(small_referential, any_settings, ind, "commune"))["69001"]
    assert alpha.value == pytest.approx((20000 * 100 + 30000 * 300) / 400)


def test_a_denominator_from_another_dataset_counts_missing_numerator_codes_as_zero(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("population", "code_iris,actifs\n690010101,500\n690010102,400\n690010103,100\n")
    add_dataset("demandeurs", "code_iris,rome,n\n690010101,K2204,30\n690010101,J1501,20\n"
                              "690010102,K2204,40\n")
    ind = define_indicator(small_referential, id="de", label="DE pour 100 actifs",
                           dataset="demandeurs", numerator="n",
                           denominator="@population: actifs", code_column="code_iris",
                           scale=100, secrecy_on="none")
    iris = by_code(indicator_values(small_referential, any_settings, ind, "iris"))
    assert iris["690010101"].value == pytest.approx(10.0)
    assert iris["690010103"].value == 0 and iris["690010103"].status == OK
    alpha = by_code(indicator_values(small_referential, any_settings, ind, "commune"))["69001"]
    assert (alpha.numerator, alpha.denominator) == (90, 1000)


def test_a_condition_counts_the_rows_it_holds(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("offres", 'code_commune,contrat\n69001,CDI\n69001,CDD\n69001,CDI\n69002,MIS\n')
    ind = define_indicator(small_referential, id="cdi", label="Part CDI", dataset="offres",
                           numerator='contrat = "CDI"', denominator="1",
                           code_column="code_commune", code_level="commune", scale=100,
                           secrecy_on="none")
    communes = by_code(indicator_values(small_referential, any_settings, ind, "commune"))
    assert communes["69001"].value == pytest.approx(200 / 3)
    assert communes["69002"].value == 0
    assert communes["01001"].status == NO_DATA
    with pytest.raises(InvalidInput, match="no iris values"):
        indicator_values(small_referential, any_settings, ind, "iris")


def test_codes_that_lost_their_zeros_are_matched_and_unknown_ones_counted(
        any_settings: Settings, small_referential, add_dataset) -> None:
    add_dataset("communes", "code,n\n1001,12\n69001,30\n99999,4\n")
    ind = define_indicator(small_referential, id="n", label="N", dataset="communes",
                           numerator="n", code_column="code", code_level="commune",
                           secrecy_on="none")
    computed = compute_indicator(small_referential, any_settings, ind)
    assert computed.level("commune")["01001"].value == 12
    assert computed.unmatched == {"99999": 1}


def test_named_whole_territories_hold_their_member_communes(
        any_settings: Settings, session, add_rates, add_territories, small_rows
        ) -> None:
    rows = [*small_rows, ("territoire", "T1", "Deux communes", None, {})]
    add_territories(rows, extra={("territoire", "T1"): {"communes": ["69001", "69002"]}})
    add_rates()
    ind = define_indicator(session, id="taux", label="Taux", dataset="taux", numerator="num",
                           denominator="den", code_column="code_iris", secrecy_on="none")
    whole = by_code(indicator_values(session, any_settings, ind, "territoire"))
    assert list(whole) == ["T1"]
    assert (whole["T1"].numerator, whole["T1"].denominator) == (115, 600)


def test_an_empty_referential_is_a_clear_error(
        any_settings: Settings, session, add_rates) -> None:
    add_rates()
    ind = define_indicator(session, id="taux", label="Taux", dataset="taux", numerator="num",
                           denominator="den", code_column="code_iris")
    with pytest.raises(InvalidInput, match="no territory for vintage"):
        indicator_values(session, any_settings, ind, "iris")
    with pytest.raises(InvalidInput, match="unknown level"):
        indicator_values(session, any_settings, ind, "quartier")
