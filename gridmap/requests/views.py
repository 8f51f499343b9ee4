"""Reading requests: JSON views with their SLA state, lists scoped to the user, the frame KPIs are computed on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory, RequestEvent, Role, ServiceRequest, User
from gridmap.policy import Scope, user_scope
from gridmap.privacy import mask_phone
from gridmap.requests.categories import Category
from gridmap.requests.kpi import INPUT
from gridmap.requests.reporter_contact import may_reveal
from gridmap.requests.sla import Limits, SlaState, WorkCalendar, deadline, sla_state
from gridmap.requests.states import Status, allowed_actions, status_name
from gridmap.settings import RequestSettings


def limits_of(cat: Category) -> Limits:
    """A category's time limits."""
    return Limits(cat.respond_minutes, cat.accept_minutes, cat.resolve_minutes, cat.working_hours)


def sla_of(req: ServiceRequest, cat: Category, now: datetime, calendar: WorkCalendar) -> SlaState:
    """The SLA state of a request at ``now``."""
    return sla_state(
        limits=limits_of(cat),
        created_at=req.created_at,
        responded_at=req.responded_at,
        dispatched_at=req.dispatched_at,
        accepted_at=req.accepted_at,
        resolved_at=req.resolved_at,
        now=now,
        calendar=calendar,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def lonlat(req: ServiceRequest) -> tuple[float | None, float | None]:
    """The WGS84 point of a request (None, None when it has none)."""
    if req.geom is None:
        return None, None
    x0, y0, _, _ = to_shape(req.geom).bounds  # a point's bounds are its coordinates
    return float(x0), float(y0)


def describe(
    req: ServiceRequest, cat: Category, *, now: datetime, calendar: WorkCalendar, user: User | None
) -> dict[str, Any]:
    """A request as JSON for staff (``user``) or the public (``None``: reporter left out)."""
    x, y = lonlat(req)
    sla = sla_of(req, cat, now, calendar)
    out: dict[str, Any] = {
        "id": req.id,
        "category": req.category,
        "category_name": cat.name_zh,
        "category_name_en": cat.name_en,
        "description": req.description,
        "status": req.status,
        "status_name": status_name(req.status),
        "grid_code": req.grid_code,
        "plan_version": req.plan_version,
        "address": req.address,
        "lon": round(x, 7) if x is not None else None,
        "lat": round(y, 7) if y is not None else None,
        "match_level": req.match_level,
        "department": req.department,
        "size": req.size,
        "channel": req.channel,
        "simulated": req.simulated,
        "photos": req.photos,
        "duplicate_of": req.duplicate_of,
        "report_count": req.report_count,
        "reopen_count": req.reopen_count,
        "rating": req.rating,
        "created_at": _iso(req.created_at),
        "updated_at": _iso(req.updated_at),
        "responded_at": _iso(req.responded_at),
        "resolved_at": _iso(req.resolved_at),
        "closed_at": _iso(req.closed_at),
        "sla": {
            name: {"due": _iso(stage.due), "done_at": _iso(stage.done_at), "overdue": stage.overdue}
            for name, stage in (("respond", sla.respond), ("accept", sla.accept), ("resolve", sla.resolve))
        }
        | {"escalation": sla.escalation},
        "overdue": sla.escalation != "none",
    }
    if user is not None:
        # Masked for everyone; those who call the resident back (回访) may reveal it, logged (reporter_contact).
        out["reporter_name"] = req.reporter_name if user.role is not Role.department else None
        out["reporter_phone"] = mask_phone(req.reporter_phone)
        out["reporter_phone_revealable"] = req.reporter_phone is not None and may_reveal(user)
        out["rating_source"] = req.rating_source
        out["actions"] = [a.value for a in allowed_actions(Status(req.status), user.role)]
    return out


def events(session: Session, request_id: int) -> list[dict[str, Any]]:
    """The audit trail of a request, oldest first."""
    rows = session.scalars(
        select(RequestEvent).where(RequestEvent.request_id == request_id).order_by(RequestEvent.at, RequestEvent.id)
    ).all()
    return [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "from": e.from_status,
            "to": e.to_status,
            "actor": e.actor,
            "actor_role": e.actor_role,
            "reason": e.reason,
            "data": e.data,
        }
        for e in rows
    ]


def visible(session: Session, user: User) -> ColumnElement[bool]:
    """Which requests ``user`` may see: its scope, as :mod:`gridmap.policy` decides."""
    return user_scope(session, user).clause()


def kpi_frame(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    settings: RequestSettings,
    include_simulated: bool = True,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Requests reported in [since, until) (within ``scope``) with their resolve deadline: the input of ``kpi.kpis``."""
    query = (
        select(ServiceRequest, RequestCategory)
        .join(RequestCategory, RequestCategory.code == ServiceRequest.category)
        .where(ServiceRequest.created_at >= since, ServiceRequest.created_at < until)
    )
    if not include_simulated:
        query = query.where(ServiceRequest.simulated.is_(False))
    if scope is not None:  # a 社区 or 街道 counts its own unit only
        query = query.where(scope.clause())
    calendar = WorkCalendar(settings.calendar)
    rows = [
        {
            "grid_code": req.grid_code,
            "department": req.department,
            "status": req.status,
            "created_at": req.created_at,
            "responded_at": req.responded_at,
            "resolved_at": req.resolved_at,
            "resolve_due": deadline(req.created_at, cat.resolve_minutes, cat.working_hours, calendar),
            "rating": req.rating,
            "rating_source": req.rating_source,
        }
        for req, cat in session.execute(query)
    ]
    frame = pd.DataFrame(rows, columns=INPUT)
    for column in ("created_at", "responded_at", "resolved_at", "resolve_due"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
