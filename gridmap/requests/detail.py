"""One request as its page shows it: trail in Chinese, grid outline, nearby requests to merge into, actions.

The actions are those the signed-in user may take now: role, scope and conflict of interest, as ``act`` checks them.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gridmap.db.models import (
    Building,
    Compound,
    Grid,
    GridPlan,
    PlanStatus,
    RequestCategory,
    RequestEvent,
    ServiceRequest,
    Street,
    User,
)
from gridmap.requests.categories import Category
from gridmap.requests.service import available_actions
from gridmap.requests.sla import WorkCalendar
from gridmap.requests.states import ACTION_NAMES, Status, action_name, role_name, status_name
from gridmap.requests.views import describe, lonlat, visible

MERGE_RADIUS_M = 300.0  # how far apart two reports of one problem are shown as merge candidates
MERGE_LIMIT = 20
NOT_MERGEABLE = (Status.closed.value, Status.merged.value)


def trail(session: Session, request_id: int) -> list[dict[str, Any]]:
    """The audit trail, oldest first, with the 五单 word of each action and people and roles by name."""
    rows = session.execute(
        select(RequestEvent, User.full_name)
        .outerjoin(User, User.id == RequestEvent.actor_id)
        .where(RequestEvent.request_id == request_id)
        .order_by(RequestEvent.at, RequestEvent.id)
    ).all()
    return [
        {
            "at": e.at.isoformat(),
            "action": e.action,
            "action_name": action_name(e.action),
            "action_name_en": ACTION_NAMES.get(e.action, (e.action, e.action))[1],
            "from": e.from_status,
            "to": e.to_status,
            "to_name": status_name(e.to_status),
            "actor": e.actor,
            "actor_name": full_name or e.actor,
            "actor_role": e.actor_role,
            "actor_role_name": role_name(e.actor_role),
            "reason": e.reason,
            "data": e.data,
        }
        for e, full_name in rows
    ]


def grid_outline(session: Session, code: str | None) -> dict[str, Any] | None:
    """The published outline of grid ``code`` as a GeoJSON geometry (None when the plan has no such grid)."""
    if not code:
        return None
    text = session.scalar(
        select(func.ST_AsGeoJSON(Grid.geom, 6))
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.published, Grid.code == code)
    )
    return json.loads(text) if text else None


def place_name(session: Session, req: ServiceRequest) -> str | None:
    """Where the request is, in words: its 小区 and 楼栋 (address or name), else the nearest named street."""
    lon, lat = lonlat(req)
    if lon is None or lat is None:
        return None
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)  # a constant, so <-> walks the spatial index
    near = 0.0003  # about 30 m: the point is on or next to the building
    building = session.execute(
        select(Building.name, Building.addr_street, Building.addr_housenumber, Compound.name)
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .where(Building.id == req.building_id if req.building_id else func.ST_DWithin(Building.geom, point, near))
        .order_by(Building.geom.op("<->")(point))
        .limit(1)
    ).first()
    if building is not None:
        name, street, number, compound = building
        house = f"{street or ''}{number or ''}" or name
        words = " ".join(w for w in (compound, house if house != compound else None) if w)
        if words:
            return words
    street_name = session.scalar(
        select(Street.name)
        .where(Street.name.is_not(None), func.ST_DWithin(Street.geom, point, 0.002))
        .order_by(Street.geom.op("<->")(point))
        .limit(1)
    )
    return f"{street_name}附近" if street_name else None


def merge_targets(session: Session, req: ServiceRequest, user: User) -> list[dict[str, Any]]:
    """Open requests within :data:`MERGE_RADIUS_M` of ``req`` that ``user`` may see, nearest first."""
    lon, lat = lonlat(req)
    if lon is None or lat is None or req.status in NOT_MERGEABLE:
        return []
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    here, there = func.geography(point), func.geography(ServiceRequest.geom)
    # a box in degrees first, so the spatial index of open requests picks the few near ones (as intake does)
    degrees = MERGE_RADIUS_M / 111_320 / max(math.cos(math.radians(lat)), 0.01)
    distance = func.ST_Distance(there, here)
    rows = session.execute(
        select(
            ServiceRequest.id,
            ServiceRequest.status,
            ServiceRequest.description,
            ServiceRequest.created_at,
            RequestCategory.name_zh,
            func.ST_X(ServiceRequest.geom),
            func.ST_Y(ServiceRequest.geom),
            distance,
        )
        .join(RequestCategory, RequestCategory.code == ServiceRequest.category)
        .where(
            and_(
                ServiceRequest.id != req.id,
                ServiceRequest.status.not_in(NOT_MERGEABLE),
                func.ST_DWithin(ServiceRequest.geom, point, degrees),
                func.ST_DWithin(there, here, MERGE_RADIUS_M),
                visible(session, user),
            )
        )
        .order_by(distance, ServiceRequest.id)
        .limit(MERGE_LIMIT)
    ).all()
    return [
        {
            "id": rid,
            "status": status,
            "status_name": status_name(status),
            "description": description,
            "created_at": created_at.isoformat(),
            "category_name": category_name,
            "lon": round(float(x), 7),
            "lat": round(float(y), 7),
            "distance_m": round(float(d), 1),
        }
        for rid, status, description, created_at, category_name, x, y, d in rows
    ]


def detail(
    session: Session, req: ServiceRequest, cat: Category, *, user: User, now: datetime, calendar: WorkCalendar
) -> dict[str, Any]:
    """The request as JSON for its page: ``describe`` plus trail, grid outline, merge candidates and actions."""
    targets = merge_targets(session, req, user)
    actions = available_actions(session, req, user, merge_targets=len(targets))
    return describe(req, cat, now=now, calendar=calendar, user=user) | {
        "now": now.isoformat(),  # the server's clock, for the SLA countdowns
        "dispatched_at": req.dispatched_at.isoformat() if req.dispatched_at else None,
        "accepted_at": req.accepted_at.isoformat() if req.accepted_at else None,
        "actions": [a.value for a in actions],
        "events": trail(session, req.id),
        "grid_geometry": grid_outline(session, req.grid_code),
        "place_name": place_name(session, req),
        "merge_targets": targets,
    }
