"""Visit plans (遍访): calendar periods per kind and the 遍访 state of a building (pure, no database).

A plan says how many visits per year a kind needs: 1, 2, 4 or 12 (calendar years, halves, quarters, months) or
52 (ISO weeks). A building is

- ``done`` (本期已完成): every household visited in the current period of the routine (常规) plan;
- ``partial`` (进行中): some households visited this period;
- ``due`` (待访): none yet this period, but visited in the previous one;
- ``overdue`` (逾期): visited neither this period nor the previous one, or a household of a kind with its own plan
  (重点人员, 困难家庭, 空巢老人, 重点场所: a household visited with that kind once is one) missed its period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from gridmap.errors import InvalidInput
from gridmap.fieldwork.kinds import VisitKind

STATES = ("done", "partial", "due", "overdue")
SPECIAL = frozenset({VisitKind.key_person, VisitKind.hardship, VisitKind.elderly_alone, VisitKind.key_place})


def period_start(day: date, per_year: int) -> date:
    """The first day of the period of ``day`` for a plan of ``per_year`` visits."""
    if per_year == 52:
        return day - timedelta(days=day.weekday())
    if per_year not in (1, 2, 3, 4, 6, 12):
        raise InvalidInput(
            f"走访频次须为每年 1、2、3、4、6、12 或 52 次 / visits per year {per_year}: 1-12 dividing 12, or 52"
        )
    months = 12 // per_year
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def previous_start(day: date, per_year: int) -> date:
    """The first day of the period before the one of ``day``."""
    return period_start(period_start(day, per_year) - timedelta(days=1), per_year)


@dataclass(frozen=True)
class Seen:
    """One visit as the plan sees it: the household (单元, 室; empty for the building), kind, day."""

    unit: str
    room: str
    kind: str
    day: date


@dataclass(frozen=True)
class BuildingState:
    """A building's 遍访 state with the households visited this period and this month."""

    state: str
    visited: int
    households: int
    this_month: int
    last_visit: date | None


def building_state(households: int, seen: Iterable[Seen], today: date, plans: dict[str, int]) -> BuildingState:
    """The state of a building of ``households`` households given its visits (see the module)."""
    visits = list(seen)
    routine = plans[VisitKind.routine.value]
    start, before = period_start(today, routine), previous_start(today, routine)
    month = date(today.year, today.month, 1)
    this_period = {(v.unit, v.room) for v in visits if start <= v.day <= today}
    this_month = {(v.unit, v.room) for v in visits if month <= v.day <= today}
    visited = min(len(this_period), max(households, 1))
    if visited >= max(households, 1):
        state = "done"
    elif visited:
        state = "partial"
    elif any(before <= v.day < start for v in visits):
        state = "due"
    else:
        state = "overdue"
    if _special_overdue(visits, today, plans):
        state = "overdue"
    last = max((v.day for v in visits), default=None)
    return BuildingState(state, visited, households, min(len(this_month), max(households, 1)), last)


def _special_overdue(visits: list[Seen], today: date, plans: dict[str, int]) -> bool:
    """Whether a household of a kind with its own plan has gone a whole period without a visit."""
    for kind in SPECIAL:
        per_year = plans.get(kind.value)
        if not per_year:
            continue
        homes = {(v.unit, v.room) for v in visits if v.kind == kind.value}
        start = previous_start(today, per_year)
        for home in homes:
            last = max(v.day for v in visits if (v.unit, v.room) == home)
            if last < start:
                return True
    return False
