"""The periodic scan: new reports, and SLA stages due within their last quarter or overdue; each told once.

New reports are found here rather than at intake, which stays one statement that notifying does not slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from gridmap.db.models import NotifyEvent, Role, ServiceRequest, Webhook
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


class _Pass:
    """What one pass reads once: whether any webhook is active, and who must act per grid, department and status."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._who: dict[tuple[object, ...], list[int]] = {}

    @cached_property
    def webhooks(self) -> bool:
        """Whether any webhook is active (else the outbox statement is skipped)."""
        return bool(self.session.scalar(select(exists().where(Webhook.active))))

    def recipients(
        self, req: ServiceRequest, status: str, also: tuple[Role, ...] = (), exclude: int | None = None
    ) -> list[int]:
        key = (req.grid_code, req.department, status, also, exclude)
        if key not in self._who:
            self._who[key] = recipients(self.session, req, status, also=also, exclude=exclude)
        return self._who[key]


def new_reports(session: Session, *, after: int = 0, limit: int = BATCH) -> tuple[int, int]:
    """Tell the grid of each report still waiting to be taken and not told yet; (events stored, highest id seen)."""
    told = exists().where(NotifyEvent.key == literal("report:") + cast(ServiceRequest.id, String))
    rows = session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.status == "reported", ServiceRequest.id > after, ~told)
        .order_by(ServiceRequest.id)
        .limit(limit)
    ).all()
    stored, once = 0, _Pass(session)
    for req in rows:
        users = once.recipients(req, "reported", exclude=req.reporter_user_id)
        data = snapshot(session, req, action="report", channel=req.channel)
        key, at = f"report:{req.id}", req.created_at
        stored += (
            record(session, req, kind="new_task", key=key, users=users, now=at, data=data, webhooks=once.webhooks)
            is not None
        )
    return stored, max((r.id for r in rows), default=after)


def due_stages(session: Session, *, now: datetime, settings: Settings, limit: int = BATCH) -> int:
    """Tell who must act (and, when late, whom it escalates to) of stages due soon or overdue; events stored."""
    fraction = settings.notify.due_soon_fraction
    calendar = WorkCalendar(settings.requests.calendar)
    rows = session.execute(STAGES, {"fraction": fraction, "now": now, "limit": limit}).all()
    requests = {
        r.id: r for r in session.scalars(select(ServiceRequest).where(ServiceRequest.id.in_({row[0] for row in rows})))
    }
    stored, once = 0, _Pass(session)
    for request_id, stage, since, minutes, working in rows:
        due = deadline(since, minutes, working, calendar)
        also: tuple[Role, ...] = ()
        if now > due:
            kind, also = "overdue", (ESCALATE_TO[stage],)
        elif now >= deadline(since, minutes * (1 - fraction), working, calendar):
            kind = "due_soon"
        else:
            continue
        req = requests[request_id]
        users = once.recipients(req, req.status, also=also)
        data = snapshot(session, req, due=due.isoformat())
        key = stage_key(kind, request_id, stage, since)
        hooks = once.webhooks
        stored += (
            record(
                session,
                req,
                kind=kind,
                key=key,
                users=users,
                now=now,
                data=data,
                stage=stage,
                since=since,
                webhooks=hooks,
            )
            is not None
        )
    return stored


def scan(session: Session, *, now: datetime, settings: Settings, after: int = 0, stages: bool = True) -> ScanResult:
    """One pass: new reports (with ids above ``after``) and, when ``stages``, the SLA stages."""
    reports, last = new_reports(session, after=after)
    return ScanResult(reports, due_stages(session, now=now, settings=settings) if stages else 0, last)
