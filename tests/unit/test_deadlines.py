"""Vectorized deadlines give the same answers as the working calendar walked day by day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from gridmap.requests.deadlines import deadlines
from gridmap.requests.sla import WorkCalendar, deadline
from gridmap.settings import CalendarSettings

CAL = WorkCalendar(CalendarSettings(holidays=("2026-05-01", "2026-05-04", "2026-05-05"), workdays=("2026-05-09",)))


def test_same_deadlines_as_the_calendar() -> None:
    rng = np.random.default_rng(0)
    base = datetime(2026, 4, 20, tzinfo=UTC)
    starts = [base + timedelta(minutes=int(m)) for m in rng.integers(0, 60 * 24 * 30, 400)]
    minutes = rng.choice([1, 30, 60, 240, 2400, 4320], 400)
    working = rng.random(400) < 0.7
    got = deadlines(CAL, np.array([s.timestamp() for s in starts]), minutes.astype(float), working)
    for s, m, w, g in zip(starts, minutes, working, got, strict=True):
        assert g == deadline(s, int(m), bool(w), CAL).timestamp(), (s, m, w)


def test_a_stage_not_begun_has_no_deadline() -> None:
    got = deadlines(CAL, np.array([np.nan, np.nan]), np.array([30.0, 60.0]), np.array([True, False]))
    assert np.isnan(got).all()
