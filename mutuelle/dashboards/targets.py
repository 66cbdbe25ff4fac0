"""Where a KPI stands against its target: met, on track or off track, by one rule that the
pages also write out in words.

- **met**: the value has reached the target (at or above it when higher is better, at or below
  it when lower is better), whatever the date;
- otherwise, once the target's date has passed: **off track** (and overdue);
- before that date, **on track** when the value is within the target's tolerance (5 % of the
  target by default) or has moved towards the target since the comparison period;
- **off track** otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mutuelle.dashboards.schemas import Target

STATUSES = ("met", "on_track", "off_track")
#: Why a KPI has its status: the branch of the rule that decided.
REASONS = ("reached", "overdue", "near", "improving", "behind")


@dataclass(frozen=True)
class Standing:
    """A KPI's status against its target, why, and whether the target's date has passed."""

    status: str
    reason: str
    overdue: bool
    gap: float            # target - value (negative: beyond the target)


def is_met(value: float, target: Target) -> bool:
    """Whether ``value`` reaches ``target``."""
    return value >= target.value if target.direction == "up" else value <= target.value


def improving(value: float, previous: float | None, target: Target) -> bool:
    """Whether the value moved towards the target since ``previous``."""
    if previous is None:
        return False
    return value > previous if target.direction == "up" else value < previous


def near(value: float, target: Target) -> bool:
    """Whether ``value`` is within the target's tolerance of it."""
    margin = abs(target.value) * target.tolerance / 100
    return abs(target.value - value) <= margin


def standing(value: float, target: Target, previous: float | None, today: date) -> Standing:
    """The status of ``value`` against ``target`` on ``today`` (see the module's rule)."""
    overdue = today > target.date
    gap = target.value - value
    if is_met(value, target):
        return Standing("met", "reached", overdue, gap)
    if overdue:
        return Standing("off_track", "overdue", True, gap)
    if near(value, target):
        return Standing("on_track", "near", False, gap)
    if improving(value, previous, target):
        return Standing("on_track", "improving", False, gap)
    return Standing("off_track", "behind", False, gap)
