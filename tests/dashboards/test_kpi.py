"""KPIs computed live over a real imported dataset: each measure compared with the answer
computed in Python, the history, the comparison, and problems returned in the result."""

from __future__ import annotations

from datetime import date

from mutuelle.access.policy import ANONYMOUS, OPERATOR
from mutuelle.core.errors import NotFound, QueryError
from mutuelle.dashboards.columns import MissingColumn
from mutuelle.dashboards.kpi import compute_kpi
from mutuelle.dashboards.schemas import Kpi

from budget_testing import BUDGET, HEADER, budget_csv, expected_rate  # type: ignore[import-not-found]

SPENDING = 'sens = "Dépense"'


def kpi(**values: object) -> Kpi:
    return Kpi.model_validate({"label": "K", "dataset": "budget", **values})


def test_a_ratio_kpi_gives_each_year_its_rate_and_compares_with_the_year_before(portal) -> None:  # type: ignore[no-untyped-def]
    spec = kpi(measure="ratio", numerator="realise", denominator="credits_ouverts", scale=100,
               where=f'section = "Investissement" and {SPENDING}', period_field="exercice",
               target={"value": 80, "date": "2030-12-31"})
    result = compute_kpi(portal.session, portal.settings, ANONYMOUS, spec, today=date(2026, 1, 1))
    assert result.problem is None
    assert [p.period for p in result.history] == ["2022", "2023", "2024"]
    for point in result.history:
        assert abs(point.value - expected_rate(int(point.period), "Investissement")) < 1e-9
    assert result.period == "2024" and abs(result.value - 79.0) < 1e-9
    assert result.previous is not None and result.previous.period == "2023"
    assert abs(result.delta - (79.0 - 75.0)) < 1e-9
    assert result.standing.status == "on_track" and result.standing.reason == "near"


def test_sum_count_and_mean_kpis_match_the_rows(portal) -> None:  # type: ignore[no-untyped-def]
    spent = [r[5] for r in BUDGET if r[2] == "Dépense"]
    cases = [(kpi(measure="sum", field="realise", where=SPENDING), sum(spent)),
             (kpi(measure="count", where=SPENDING), len(spent)),
             (kpi(measure="mean", field="realise", where=SPENDING), sum(spent) / len(spent)),
             (kpi(measure="sum", field="realise", where=SPENDING, scale=0.001), sum(spent) / 1000)]
    for spec, expected in cases:
        result = compute_kpi(portal.session, portal.settings, ANONYMOUS, spec)
        assert result.problem is None and abs(result.value - expected) < 1e-6, spec.measure
        assert result.previous is None and len(result.history) == 1


def test_a_named_period_is_shown_instead_of_the_latest(portal) -> None:  # type: ignore[no-untyped-def]
    spec = kpi(measure="count", period_field="exercice", period="2023")
    result = compute_kpi(portal.session, portal.settings, ANONYMOUS, spec)
    assert (result.period, result.value, result.previous.period) == ("2023", 4.0, "2022")
    missing = compute_kpi(portal.session, portal.settings, ANONYMOUS,
                          kpi(measure="count", period_field="exercice", period="1999"))
    assert isinstance(missing.problem, NotFound)


def test_a_kpi_whose_query_fails_returns_the_problem_instead_of_raising(portal) -> None:  # type: ignore[no-untyped-def]
    broken = compute_kpi(portal.session, portal.settings, ANONYMOUS,
                         kpi(measure="count", where="sens = = 'x'"))
    assert isinstance(broken.problem, QueryError) and broken.value is None
    unknown = compute_kpi(portal.session, portal.settings, ANONYMOUS,
                          kpi(measure="count", where="nulle_part > 3"))
    assert isinstance(unknown.problem, QueryError) and "nulle_part" in unknown.problem.message


def test_a_column_gone_in_a_new_version_is_named_in_the_problem(portal) -> None:  # type: ignore[no-untyped-def]
    spec = kpi(measure="sum", field="realise")
    assert compute_kpi(portal.session, portal.settings, ANONYMOUS, spec).problem is None
    portal.import_version(portal.budget, budget_csv(header=HEADER.replace("realise", "mandate")))
    result = compute_kpi(portal.session, portal.settings, ANONYMOUS, spec)
    assert isinstance(result.problem, MissingColumn)
    assert (result.problem.column, result.problem.version) == ("realise", 2)
    assert result.problem.field == "kpi.field"


def test_a_kpi_on_a_dataset_the_viewer_may_not_read_says_it_is_not_there(portal) -> None:  # type: ignore[no-untyped-def]
    portal.dataset("interne", budget_csv(), access="internal")
    spec = Kpi.model_validate({"label": "K", "dataset": "interne", "measure": "count"})
    assert isinstance(compute_kpi(portal.session, portal.settings, ANONYMOUS, spec).problem, NotFound)
    assert compute_kpi(portal.session, portal.settings, portal.viewer("viewer"), spec).value == 12
    assert compute_kpi(portal.session, portal.settings, OPERATOR, spec).value == 12
