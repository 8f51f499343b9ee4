"""Query parameters shared by several routes, bounded so that no value breaks the arithmetic behind them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

FIRST_YEAR, LAST_YEAR = 1900, 2199
MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (Kiribati); PostgreSQL refuses wider ones


def _within(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_OFFSET:
        raise ValueError("时区偏移须在 ±14:00 之内 / the UTC offset must be within ±14:00")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(
            f"日期须在 {FIRST_YEAR} 至 {LAST_YEAR} 年之间 / the date must be in the years {FIRST_YEAR} to {LAST_YEAR}"
        )
    return value


Moment = Annotated[datetime | None, AfterValidator(_within)]
"""An optional date-time query parameter within the years 1900-2199 and a real UTC offset."""
