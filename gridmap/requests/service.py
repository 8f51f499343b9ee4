"""Requests in the database: intake (idempotent, duplicates merged), audited role-checked actions, reading."""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2 import Geography
from geoalchemy2.functions import ST_DWithin, ST_MakePoint, ST_SetSRID
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridmap.auth.service import user_grids
from gridmap.db.models import RequestCategory, RequestEvent, Role, ServiceRequest, User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.requests.intake import store_point
from gridmap.requests.locate import locate
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.states import RESPONSES, RULES, Action, Status, next_status
from gridmap.settings import RequestSettings
from gridmap.spatial.crs import to_wgs84_lonlat


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, or the public (Open311), or the simulator."""

    user_id: int | None
    name: str
    role: str

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a signed-in user."""
        return cls(user.id, user.username, user.role.value)


PUBLIC = Actor(None, "public", "public")


def category(session: Session, code: str) -> RequestCategory:
    """An active category; :class:`InvalidInput` listing the valid codes otherwise."""
    found = session.get(RequestCategory, code)
    if found is None or not found.active:
        codes = ", ".join(session.scalars(select(RequestCategory.code).where(RequestCategory.active)).all())
        raise InvalidInput(f"unknown category {code!r}; use one of: {codes}")
    return found


def _cos(lat: float) -> float:
    return max(math.cos(math.radians(lat)), 0.01)


def _point(lon: float, lat: float) -> object:
    return ST_SetSRID(ST_MakePoint(lon, lat), 4326)


def _event(
    session: Session, req: ServiceRequest, action: str, before: str | None, actor: Actor, now: datetime, **extra: object
) -> None:
    reason = extra.pop("reason", None)
    session.add(
        RequestEvent(
            request_id=req.id,
            at=now,
            action=action,
            from_status=before,
            to_status=req.status,
            actor_id=actor.user_id,
            actor=actor.name,
            actor_role=actor.role,
            reason=reason if isinstance(reason, str) else None,
            data={k: v for k, v in extra.items() if v is not None},
        )
    )


def _duplicate_of(
    session: Session, cat: str, lon: float, lat: float, now: datetime, settings: RequestSettings
) -> ServiceRequest | None:
    if settings.duplicate_radius_m <= 0:
        return None
    since = now - timedelta(hours=settings.duplicate_window_hours)
    return session.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.category == cat,
            ServiceRequest.status.not_in([Status.closed.value, Status.merged.value]),
            ServiceRequest.created_at >= since,
            ServiceRequest.created_at <= now,
            # A box in degrees (never smaller than the radius) lets the GiST index find candidates; then metres.
            ST_DWithin(ServiceRequest.geom, _point(lon, lat), settings.duplicate_radius_m / 111_320 / _cos(lat)),
            ST_DWithin(
                cast(ServiceRequest.geom, Geography), cast(_point(lon, lat), Geography), settings.duplicate_radius_m
            ),
        )
        .order_by(ServiceRequest.created_at, ServiceRequest.id)
        .limit(1)
        .with_for_update()
    ).first()


def submit(
    session: Session,
    data: NewRequest,
    *,
    actor: Actor,
    channel: str,
    now: datetime,
    settings: RequestSettings,
    idempotency_key: str | None = None,
    simulated: bool = False,
) -> tuple[ServiceRequest, bool]:
    """Store a report; returns it and whether it is new (False: an Idempotency-Key replay).

    A report of the same category within the duplicate radius and window of an open request is stored as
    ``merged`` into it (the original's ``report_count`` goes up). Nothing is stored when the input is bad.
    """
    digest = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
    if idempotency_key:
        earlier = session.scalar(select(ServiceRequest).where(ServiceRequest.idempotency_key == idempotency_key))
        if earlier is not None:
            if earlier.payload_hash != digest:
                raise Conflict("Idempotency-Key was already used with a different body; use a new key for a new report")
            return earlier, False
    cat = category(session, data.category)
    if data.lon is not None and data.lat is not None:  # the common case: one statement
        lon, lat = to_wgs84_lonlat(data.lon, data.lat, data.coord_sys)
        made = store_point(
            session,
            data,
            cat,
            lon=lon,
            lat=lat,
            actor=(actor.user_id, actor.name, actor.role),
            channel=channel,
            now=now,
            settings=settings,
            key=idempotency_key,
            digest=digest,
            simulated=simulated,
        )
        if made is not None:
            return get_request(session, made), True
        if idempotency_key:  # a concurrent retry with the same key got there first
            earlier = session.scalar(select(ServiceRequest).where(ServiceRequest.idempotency_key == idempotency_key))
            if earlier is not None:
                return earlier, False
    place = locate(
        session,
        lon=data.lon,
        lat=data.lat,
        coord_sys=data.coord_sys,
        address=data.address,
        snap_outside_m=settings.snap_outside_m,
    )
    original = _duplicate_of(session, cat.code, place.lon, place.lat, now, settings)
    req = ServiceRequest(
        category=cat.code,
        description=data.description,
        status=Status.merged.value if original else Status.reported.value,
        grid_code=place.grid_code,
        plan_version=place.plan_version,
        address=data.address,
        match_level=place.match_level,
        building_id=place.building_id,
        department=cat.department,
        channel=channel,
        simulated=simulated,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        reporter_user_id=actor.user_id,
        photos=list(data.photos),
        duplicate_of=original.id if original else None,
        report_count=1,
        reopen_count=0,
        rating_token=secrets.token_urlsafe(24),
        idempotency_key=idempotency_key,
        payload_hash=digest,
        created_at=now,
        updated_at=now,
        geom=from_shape(Point(place.lon, place.lat), srid=4326),
    )
    try:
        with session.begin_nested():
            session.add(req)
            session.flush()
    except IntegrityError:  # the same Idempotency-Key committed by a concurrent retry
        earlier = session.scalar(select(ServiceRequest).where(ServiceRequest.idempotency_key == idempotency_key))
        if earlier is None:
            raise
        return earlier, False
    _event(session, req, "report", None, actor, now, channel=channel, match_level=place.match_level)
    if original is not None:
        original.report_count += 1
        original.updated_at = now
        _event(session, req, "merge", None, Actor(None, "system", "system"), now, duplicate_of=original.id)
    session.flush()
    return req, True


def get_request(session: Session, request_id: int, *, lock: bool = False) -> ServiceRequest:
    """A request by id, or :class:`NotFound`."""
    query = select(ServiceRequest).where(ServiceRequest.id == request_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"request {request_id} does not exist")
    return found


def check_scope(session: Session, req: ServiceRequest, user: User) -> None:
    """A grid worker acts in own grids, a department on its own cases; :class:`Forbidden` otherwise."""
    if user.role is Role.grid_worker and req.grid_code not in user_grids(session=session, user=user):
        raise Forbidden(f"网格员只能处理自己网格的事件 / request {req.id} is in grid {req.grid_code}, not yours")
    if user.role is Role.department and req.department != user.department:
        raise Forbidden(f"request {req.id} is dispatched to {req.department}, not to {user.department}")


def act(
    session: Session, request_id: int, command: ActionIn, *, user: User, now: datetime, settings: RequestSettings
) -> ServiceRequest:
    """Apply one action after role and scope checks; the transition is audited."""
    req = get_request(session, request_id, lock=True)
    rule = RULES[command.action]
    if user.role not in rule.roles and user.role is not Role.admin:
        names = ", ".join(sorted(r.value for r in rule.roles))
        raise Forbidden(f"{command.action.value} is done by {names}, you are {user.role.value}")
    check_scope(session, req, user)
    return apply_action(session, req, command, Actor.of(user), now, settings)


def rate_public(
    session: Session,
    request_id: int,
    token: str,
    stars: int,
    comment: str | None,
    *,
    now: datetime,
    settings: RequestSettings,
) -> ServiceRequest:
    """The reporter's own rating (评单), authorised by the token given at intake."""
    req = get_request(session, request_id, lock=True)
    if not req.rating_token or not secrets.compare_digest(req.rating_token, token):
        raise Forbidden("wrong rating token for this request")
    return apply_action(session, req, ActionIn(action=Action.rate, stars=stars, reason=comment), PUBLIC, now, settings)


def apply_action(
    session: Session, req: ServiceRequest, command: ActionIn, actor: Actor, now: datetime, settings: RequestSettings
) -> ServiceRequest:
    """Apply ``command`` to a locked request as ``actor`` (roles and scope already checked); audited."""
    action = command.action
    if RULES[action].needs_reason and not command.reason:
        raise InvalidInput(f"{action.value} needs a reason")
    before = Status(req.status)
    after = next_status(
        action,
        before,
        size=command.size,
        stars=command.stars,
        reopen_below=settings.reopen_below,
        dispatched=req.dispatched_at is not None,
    )
    if action is Action.merge:
        target = get_request(session, command.duplicate_of) if command.duplicate_of else None
        if target is None or target.id == req.id or target.status in {Status.closed, Status.merged}:
            raise InvalidInput("merge needs duplicate_of: the id of another open request")
        req.duplicate_of = target.id
        target.report_count += req.report_count
    if action is Action.dispatch:
        req.department = command.department or req.department
    if action is Action.triage:
        req.size = command.size
    if action is Action.rate:
        req.rating, req.rating_comment = command.stars, command.reason
    if action in RESPONSES and req.responded_at is None:
        req.responded_at = now
    if action is Action.dispatch:
        req.dispatched_at, req.accepted_at = now, None
    if action is Action.accept:
        req.accepted_at = now
    if action is Action.resolve:
        req.resolved_at = now
    if action is Action.reject:
        req.resolved_at = None
    if after is Status.closed:
        req.closed_at = now
    if after is Status.reopened:
        req.resolved_at, req.closed_at = None, None
        req.reopen_count += 1
    req.status, req.updated_at = after.value, now
    data = {"size": command.size, "department": command.department, "stars": command.stars}
    _event(
        session,
        req,
        action.value,
        before.value,
        actor,
        now,
        reason=command.reason,
        duplicate_of=command.duplicate_of,
        **data,
    )
    session.flush()
    return req
