"""Time limits: deadlines in minutes or working hours, overdue stages and escalation, at an injected ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridmap.settings import CalendarSettings


class WorkCalendar:
    """Working periods per day, weekdays, holidays and 调休 workdays."""

    def __init__(self, settings: CalendarSettings) -> None:
        self.tz = ZoneInfo(settings.timezone)
        self.periods = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in settings.periods]
        self.weekdays = set(settings.weekdays)
        self.holidays = {date.fromisoformat(d) for d in settings.holidays}
        self.workdays = {date.fromisoformat(d) for d in settings.workdays}

    def is_workday(self, day: date) -> bool:
        """A working day: a weekday that is no holiday, or a 调休 workday."""
        return day in self.workdays or (day.weekday() in self.weekdays and day not in self.holidays)

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of working time after ``start``."""
        if not self.periods or not (self.weekdays or self.workdays):
            raise ValueError("the working calendar has no working time")
        local = start.astimezone(self.tz)
        left = timedelta(minutes=minutes)
        day = local.date()
        for _ in range(3660):  # ten years of days bound the search
            if self.is_workday(day):
                for a, b in self.periods:
                    begin = max(datetime.combine(day, a, self.tz), local)
                    end = datetime.combine(day, b, self.tz)
                    if end <= begin:
                        continue
                    if end - begin >= left:
                        return begin + left
                    left -= end - begin
            day += timedelta(days=1)
        raise ValueError("deadline beyond ten years")


@dataclass(frozen=True)
class Limits:
    """A category's time limits."""

    respond_minutes: int
    accept_minutes: int
    resolve_minutes: int
    working_hours: bool


@dataclass(frozen=True)
class Stage:
    """One timed stage: its deadline, when it was done, and whether it is late at ``now``."""

    due: datetime | None
    done_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class SlaState:
    """Stages respond (响应), accept (接单) and resolve (办结), and who should be alerted."""

    respond: Stage
    accept: Stage
    resolve: Stage
    escalation: str  # none | community (a stage is late) | street (resolution is late)


def deadline(start: datetime, minutes: int, working_hours: bool, calendar: WorkCalendar) -> datetime:
    """``start`` plus ``minutes``, counted on the calendar when ``working_hours``."""
    return calendar.add(start, minutes) if working_hours else start + timedelta(minutes=minutes)


def _stage(due: datetime | None, done_at: datetime | None, now: datetime) -> Stage:
    late = due is not None and (done_at or now) > due
    return Stage(due, done_at, late)


def sla_state(
    *,
    limits: Limits,
    created_at: datetime,
    responded_at: datetime | None,
    dispatched_at: datetime | None,
    accepted_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
    calendar: WorkCalendar,
) -> SlaState:
    """Deadlines and lateness of a request at ``now``."""
    respond = _stage(deadline(created_at, limits.respond_minutes, limits.working_hours, calendar), responded_at, now)
    accept_due = (
        deadline(dispatched_at, limits.accept_minutes, limits.working_hours, calendar) if dispatched_at else None
    )
    accept = _stage(accept_due, accepted_at, now)
    resolve = _stage(deadline(created_at, limits.resolve_minutes, limits.working_hours, calendar), resolved_at, now)
    pending_late = any(s.overdue and s.done_at is None for s in (respond, accept))
    escalation = "street" if resolve.overdue and resolved_at is None else "community" if pending_late else "none"
    return SlaState(respond, accept, resolve, escalation)
