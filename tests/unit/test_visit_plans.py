"""Visit plans: calendar periods per frequency and the 遍访 state of a building."""

from __future__ import annotations

from datetime import date

import pytest

from gridmap.errors import InvalidInput
from gridmap.fieldwork.plans import Seen, building_state, period_start, previous_start
from gridmap.settings import FieldworkSettings

PLANS = FieldworkSettings().visits_per_year
TODAY = date(2026, 8, 12)  # a Wednesday in the second half-year


@pytest.mark.parametrize(
    ("per_year", "start", "before"),
    [
        (2, date(2026, 7, 1), date(2026, 1, 1)),
        (12, date(2026, 8, 1), date(2026, 7, 1)),
        (4, date(2026, 7, 1), date(2026, 4, 1)),
        (52, date(2026, 8, 10), date(2026, 8, 3)),
        (1, date(2026, 1, 1), date(2025, 1, 1)),
    ],
)
def test_periods_follow_the_calendar(per_year: int, start: date, before: date) -> None:
    assert (period_start(TODAY, per_year), previous_start(TODAY, per_year)) == (start, before)


def test_a_frequency_that_does_not_divide_the_year_is_refused() -> None:
    with pytest.raises(InvalidInput):
        period_start(TODAY, 5)


def _state(households: int, *seen: Seen) -> str:
    return building_state(households, seen, TODAY, PLANS).state


def test_every_household_visited_this_period_is_done() -> None:
    assert (
        _state(2, Seen("1", "101", "routine", date(2026, 7, 3)), Seen("1", "102", "routine", date(2026, 8, 1)))
        == "done"
    )


def test_some_households_visited_is_partial() -> None:
    assert _state(3, Seen("1", "101", "routine", date(2026, 7, 3))) == "partial"


def test_visited_only_last_period_is_due() -> None:
    assert _state(3, Seen("1", "101", "routine", date(2026, 3, 3))) == "due"


def test_never_visited_is_overdue() -> None:
    assert _state(3) == "overdue"


def test_a_hardship_household_missed_for_a_month_makes_the_building_overdue() -> None:
    seen = (Seen("1", "101", "hardship", date(2026, 6, 20)), Seen("1", "102", "routine", date(2026, 8, 2)))
    assert _state(2, *seen) == "overdue"
