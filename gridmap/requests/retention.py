"""Retention of the requests' audit trail (``request_events``): whole trails of finished requests only.

An open request keeps its whole trail however old (who resolved it decides who may verify it); a request that
ended (结案, or merged into another) keeps its trail until its last event is older than the retention period,
then the trail goes at once, never a part of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestEvent, ServiceRequest
from gridmap.requests.states import Status

FINISHED = (Status.closed.value, Status.merged.value)
MIN_DAYS = 180


def purge_request_events(*, session: Session, days: int, now: datetime) -> int:
    """Delete the events of requests finished before ``now - days``; how many. ``days`` below 180 is refused."""
    if days < MIN_DAYS:
        raise ValueError(f"the audit trail is kept at least {MIN_DAYS} days, not {days}")
    before = now - timedelta(days=days)
    last = (
        select(RequestEvent.request_id)
        .group_by(RequestEvent.request_id)
        .having(func.max(RequestEvent.at) < before)
    )
    finished = select(ServiceRequest.id).where(ServiceRequest.status.in_(FINISHED), ServiceRequest.id.in_(last))
    done = session.execute(delete(RequestEvent).where(RequestEvent.request_id.in_(finished)))
    return cast(CursorResult[Any], done).rowcount
