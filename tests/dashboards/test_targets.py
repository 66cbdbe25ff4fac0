"""Where a KPI stands against its target: the rule, branch by branch, in both directions."""

from __future__ import annotations

from datetime import date

import pytest

from mutuelle.dashboards.schemas import Target
from mutuelle.dashboards.targets import standing

TODAY = date(2026, 6, 1)
UP = Target(value=80, date=date(2026, 12, 31))
DOWN = Target(value=10, date=date(2026, 12, 31), direction="down")


@pytest.mark.parametrize("value, previous, target, status, reason", [
    (80.0, None, UP, "met", "reached"),             # exactly at the target is met
    (85.0, 90.0, UP, "met", "reached"),             # met even when falling
    (77.0, None, UP, "on_track", "near"),           # within 5 % of 80
    (60.0, 50.0, UP, "on_track", "improving"),      # far, but moving towards the target
    (60.0, 70.0, UP, "off_track", "behind"),        # far and falling back
    (60.0, None, UP, "off_track", "behind"),        # far, nothing to compare with
    (9.0, None, DOWN, "met", "reached"),            # lower is better
    (14.0, 16.0, DOWN, "on_track", "improving"),
    (14.0, 12.0, DOWN, "off_track", "behind"),
])
def test_the_status_follows_the_rule(value: float, previous: float | None, target: Target,
                                     status: str, reason: str) -> None:
    found = standing(value, target, previous, TODAY)
    assert (found.status, found.reason, found.overdue) == (status, reason, False)


def test_a_target_whose_date_has_passed_is_off_track_and_overdue_unless_met() -> None:
    late = date(2027, 1, 2)
    assert standing(79.0, UP, 50.0, late).status == "off_track"
    assert standing(79.0, UP, 50.0, late).overdue
    assert standing(79.0, UP, 50.0, late).reason == "overdue"
    met = standing(81.0, UP, 50.0, late)
    assert (met.status, met.overdue) == ("met", True)


def test_the_target_day_itself_is_not_overdue() -> None:
    assert not standing(60.0, UP, 50.0, UP.date).overdue
