"""Retention of the log of reveals (``pii_reveals``: who saw which full number, when and why).

A reveal is kept ``people.reveal_log_days`` (at least 180 days, as every audit log here) and then deleted with
``gridmap db purge-audit``, which runs from cron with the other purges.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from gridmap.db.models import PiiReveal

MIN_DAYS = 180


def purge_reveals(*, session: Session, days: int, now: datetime) -> int:
    """Delete the reveals logged before ``now - days``; how many. ``days`` below 180 is refused."""
    if days < MIN_DAYS:
        raise ValueError(f"the log of reveals is kept at least {MIN_DAYS} days, not {days}")
    done = session.execute(delete(PiiReveal).where(PiiReveal.at < now - timedelta(days=days)))
    return cast(CursorResult[Any], done).rowcount
