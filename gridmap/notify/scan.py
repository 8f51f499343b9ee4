"""The periodic scan: new reports, and SLA stages due within their last quarter or overdue; each told once.

New reports are found here rather than at intake, which stays one statement that notifying does not slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from gridmap.db.models import NotifyEvent, Role, ServiceRequest
from gridmap.notify.queries import STAGES
from gridmap.notify.recipients import recipients
from gridmap.notify.service import record, snapshot
from gridmap.requests.sla import WorkCalendar, deadline
from gridmap.settings import Settings

# A late response or acceptance escalates to the 社区, a late resolution to the 街道 (as in requests.sla).
ESCALATE_TO = {"respond": Role.community, "accept": Role.community, "resolve": Role.command}
BATCH = 500


@dataclass(frozen=True)
class ScanResult:
    """What one pass stored: events and the highest request id looked at for new reports."""

    reports: int
    stages: int
    last_report_id: int


def stage_key(kind: str, request_id: int, stage: str, since: datetime) -> str:
    """The once-only key of an SLA event: a new dispatch starts a new acceptance stage, told anew."""
    return f"{kind}:{request_id}:{stage}:{int(since.timestamp())}"


def new_reports(session: Session, *, after: int = 0, limit: int = BATCH) -> tuple[int, int]:
    """Tell the grid of each report still waiting to be taken and not told yet; (events stored, highest id seen)."""
    told = exists().where(NotifyEvent.key == literal("report:") + cast(ServiceRequest.id, String))
    rows = session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.status == "reported", ServiceRequest.id > after, ~told)
        .order_by(ServiceRequest.id)
        .limit(limit)
    ).all()
    stored = 0
    for req in rows:
        users = recipients(session, req, "reported", exclude=req.reporter_user_id)
        data = snapshot(session, req, action="report", channel=req.channel)
        key = f"report:{req.id}"
        stored += record(session, req, kind="new_task", key=key, users=users, now=req.created_at, data=data) is not None
    return stored, max((r.id for r in rows), default=after)


def due_stages(session: Session, *, now: datetime, settings: Settings, limit: int = BATCH) -> int:
    """Tell who must act (and, when late, whom it escalates to) of stages due soon or overdue; events stored."""
    fraction = settings.notify.due_soon_fraction
    calendar = WorkCalendar(settings.requests.calendar)
    rows = session.execute(STAGES, {"fraction": fraction, "now": now, "limit": limit}).all()
    requests = {
        r.id: r for r in session.scalars(select(ServiceRequest).where(ServiceRequest.id.in_({row[0] for row in rows})))
    }
    stored = 0
    for request_id, stage, since, minutes, working in rows:
        due = deadline(since, minutes, working, calendar)
        if now > due:
            kind, also = "overdue", [ESCALATE_TO[stage]]
        elif now >= deadline(since, minutes * (1 - fraction), working, calendar):
            kind, also = "due_soon", []
        else:
            continue
        req = requests[request_id]
        users = recipients(session, req, req.status, also=also)
        data = snapshot(session, req, due=due.isoformat())
        key = stage_key(kind, request_id, stage, since)
        stored += (
            record(session, req, kind=kind, key=key, users=users, now=now, data=data, stage=stage, since=since)
            is not None
        )
    return stored


def scan(session: Session, *, now: datetime, settings: Settings, after: int = 0, stages: bool = True) -> ScanResult:
    """One pass: new reports (with ids above ``after``) and, when ``stages``, the SLA stages."""
    reports, last = new_reports(session, after=after)
    return ScanResult(reports, due_stages(session, now=now, settings=settings) if stages else 0, last)
