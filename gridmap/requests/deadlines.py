"""Deadlines of many requests at once: the working calendar as arrays, for sorting and filtering lists.

:meth:`sla.WorkCalendar.add` walks day by day, tens of microseconds a deadline: ten thousand open requests
would take a list a second. Here the working periods between two days become sorted arrays of start/end
seconds with the working time elapsed before each, so a deadline is two binary searches
(``numpy.searchsorted``). Same answers as :func:`sla.deadline` (tested against it).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from gridmap.requests.sla import WorkCalendar

Seconds = npt.NDArray[np.float64]
_TIMELINES: LRUCache[tuple[object, ...], Timeline] = LRUCache(maxsize=16)
_LOCK = threading.Lock()


class Timeline:
    """The working periods of a calendar from ``first`` to ``last`` (dates in its time zone) as arrays."""

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        starts: list[float] = []
        ends: list[float] = []
        day = first
        while day <= last:
            if calendar.is_workday(day):
                for a, b in calendar.periods:
                    begin, end = datetime.combine(day, a, calendar.tz), datetime.combine(day, b, calendar.tz)
                    if end > begin:
                        starts.append(begin.timestamp())
                        ends.append(end.timestamp())
            day += timedelta(days=1)
        if not starts:
            raise ValueError("the working calendar has no working time")
        self.first, self.last = first, last
        self.starts, self.ends = np.array(starts), np.array(ends)
        self.done_after = np.cumsum(self.ends - self.starts)  # working seconds up to the end of each period
        self.done_before = self.done_after - (self.ends - self.starts)

    def add(self, start: Seconds, minutes: Seconds) -> Seconds:
        """``start`` (epoch seconds) plus ``minutes`` of working time; NaN where the timeline is too short."""
        i = np.searchsorted(self.ends, start, side="right")  # the first period ending after the start
        inside = i < len(self.ends)
        i = np.minimum(i, len(self.ends) - 1)
        target = self.done_before[i] + np.clip(start - self.starts[i], 0, None) + minutes * 60.0
        j = np.maximum(np.searchsorted(self.done_after, target, side="left"), i)  # first period reaching it
        ok = inside & (j < len(self.ends))
        j = np.minimum(j, len(self.ends) - 1)
        return np.where(ok, self.starts[j] + (target - self.done_before[j]), np.nan)


def _timeline(calendar: WorkCalendar, first: date, last: date) -> Timeline:
    key = (
        tuple(calendar.periods),
        frozenset(calendar.weekdays),
        frozenset(calendar.holidays),
        frozenset(calendar.workdays),
        str(calendar.tz),
        first,
        last,
    )
    with _LOCK:
        found = _TIMELINES.get(key)
    if found is None:
        found = Timeline(calendar, first, last)
        with _LOCK:
            _TIMELINES[key] = found
    return found


def deadlines(calendar: WorkCalendar, start: Seconds, minutes: Seconds, working: npt.NDArray[np.bool_]) -> Seconds:
    """``start + minutes`` for each request: on the working calendar where ``working``, else wall-clock time.

    ``start`` and the result are epoch seconds; NaN starts (a stage not begun) give NaN.
    """
    out = start + minutes * 60.0
    todo = working & ~np.isnan(start)
    if not todo.any():
        return out
    tz = calendar.tz
    first = datetime.fromtimestamp(float(np.nanmin(start[todo])), tz).date() - timedelta(days=1)
    # A month of days per 5 000 working minutes covers the longest limit with holidays to spare; widened if not.
    span = 31 + int(np.nanmax(minutes[todo]) / 5000 * 31)
    last_start = datetime.fromtimestamp(float(np.nanmax(start[todo])), tz).date()
    while True:
        last = last_start + timedelta(days=span)
        result = _timeline(calendar, first, last).add(start[todo], minutes[todo])
        if not np.isnan(result).any() or span > 3660:
            break
        span *= 2
    out[todo] = result
    return out
