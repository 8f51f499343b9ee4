"""Requests in the database: intake (idempotent, duplicates merged), audited role-checked actions, reading."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridmap.db.models import RequestCategory, RequestEvent, ServiceRequest, User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.notify.service import on_transition
from gridmap.people.queries import on_users_lane
from gridmap.policy import act_refusal, check_request, user_scope
from gridmap.requests.categories import Category, cached_category
from gridmap.requests.departments import check_department
from gridmap.requests.intake import Declined, intake_values, store
from gridmap.requests.link_tokens import WRONG_LINK, token_fits
from gridmap.requests.locate import locate
from gridmap.requests.photos import MAX_PHOTOS, clean_photo, photo_folder, photo_url, store_photo
from gridmap.requests.schemas import ActionIn, NewRequest
from gridmap.requests.states import (
    RATINGS,
    RESPONSES,
    RULES,
    Action,
    Status,
    action_name,
    allowed_actions,
    next_status,
)
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


def category(session: Session, code: str) -> Category:
    """An active category; :class:`InvalidInput` listing the valid codes otherwise."""
    found = cached_category(session, code)
    if found is None or not found.active:
        codes = ", ".join(session.scalars(select(RequestCategory.code).where(RequestCategory.active)).all())
        raise InvalidInput(f"unknown category {code!r}; use one of: {codes}")
    return found


def _event(
    session: Session, req: ServiceRequest, action: str, before: str | None, actor: Actor, now: datetime, **extra: object
) -> RequestEvent:
    reason = extra.pop("reason", None)
    event = RequestEvent(
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
    session.add(event)
    return event


def digest_of(data: NewRequest) -> str:
    """The body's fingerprint, kept with an Idempotency-Key to tell a retry from a different report."""
    return hashlib.sha256(data.model_dump_json().encode()).hexdigest()


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
    declined: Declined | None = None,
    rating_token: str | None = None,
) -> tuple[ServiceRequest, bool]:
    """Store a report; returns it and whether it is new (False: an Idempotency-Key replay).

    A report of the same category within the duplicate radius and window of an open request is stored as
    ``merged`` into it (the original's ``report_count`` goes up). Nothing is stored when the input is bad.
    ``declined``: why the event-loop path (:mod:`gridmap.requests.fast_intake`) did not store this very report,
    which then goes on from there. ``rating_token``: the resident's link token (stored as its digest; random if
    None, see :mod:`gridmap.requests.link_tokens`).
    """
    digest = digest_of(data)
    cat = category(session, data.category)
    values = partial(
        intake_values,
        data,
        cat,
        actor=(actor.user_id, actor.name, actor.role),
        channel=channel,
        now=now,
        settings=settings,
        key=idempotency_key,
        digest=digest,
        simulated=simulated,
        rating_token=rating_token,
    )
    made: ServiceRequest | Declined | None = declined
    if made is None and data.lon is not None and data.lat is not None:  # the common case: a point inside the grids
        lon, lat = to_wgs84_lonlat(data.lon, data.lat, data.coord_sys)
        made = store(session, values(lon=lon, lat=lat))
    earlier = _by_key(session, idempotency_key) if made is Declined.key_used else None
    if not isinstance(made, ServiceRequest) and earlier is None:
        place = locate(  # an address, or a point outside the grids (snapped to the nearest, or refused)
            session,
            lon=data.lon,
            lat=data.lat,
            coord_sys=data.coord_sys,
            address=data.address,
            snap_outside_m=settings.snap_outside_m,
        )
        made = store(session, values(lon=place.lon, lat=place.lat, place=place))
        earlier = _by_key(session, idempotency_key) if made is Declined.key_used else None  # a concurrent retry
    if not isinstance(made, ServiceRequest):
        if earlier is None:
            raise Conflict("the report could not be stored; retry with the same Idempotency-Key")
        if earlier.payload_hash != digest:
            raise Conflict("Idempotency-Key was already used with a different body; use a new key for a new report")
        return earlier, False
    return made, True


def _by_key(session: Session, key: str | None) -> ServiceRequest | None:
    if key is None:
        return None
    return session.scalar(select(ServiceRequest).where(ServiceRequest.idempotency_key == key))


def get_request(session: Session, request_id: int, *, lock: bool = False) -> ServiceRequest:
    """A request by id, or :class:`NotFound`."""
    query = select(ServiceRequest).where(ServiceRequest.id == request_id)
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound(f"诉求 {request_id} 不存在 / request {request_id} does not exist")
    return found


def check_scope(session: Session, req: ServiceRequest, user: User) -> None:
    """:class:`Forbidden` unless ``req`` is in the user's scope (decided by :mod:`gridmap.policy`).

    A blocked-lane report of a lane the user heads (街巷长, :mod:`gridmap.people`) is in scope as well.
    """
    try:
        check_request(user_scope(session, user), req, user)
    except Forbidden:
        if not on_users_lane(session, req.id, user.id):
            raise


STAFF_DO_NOT_RATE = (
    "工作人员不能代居民评单：评单由上报人通过评价链接完成，社区或街道工作人员请用“回访”记录居民的评价 / "
    "staff cannot rate on a resident's behalf: the reporter rates through the public link; 社区/街道 staff record "
    "a call-back (action callback) with the stars the resident gave"
)
RESOLVER_DOES_NOT_VERIFY = (
    "办结人不能核查自己办结的诉求，请由社区或其他网格员核查 / "
    "whoever resolved a request cannot verify it: another grid worker or the 社区 checks it"
)


def act(
    session: Session, request_id: int, command: ActionIn, *, user: User, now: datetime, settings: RequestSettings
) -> ServiceRequest:
    """Apply one action after role and scope checks; the transition is audited."""
    req = get_request(session, request_id, lock=True)
    action = command.action
    if action is Action.rate:
        raise Forbidden(STAFF_DO_NOT_RATE)
    refusal = act_refusal(user.role, action)
    if refusal:
        raise Forbidden(refusal)
    check_scope(session, req, user)
    if action is Action.merge and command.duplicate_of is not None:
        _check_merge_target(session, command.duplicate_of, user)
    return apply_action(session, req, command, Actor.of(user), now, settings)


def _check_merge_target(session: Session, target_id: int, user: User) -> None:
    """The request merged into must be one the user may act on too."""
    target = session.get(ServiceRequest, target_id)
    if target is None:
        return  # apply_action says what merge needs
    try:
        check_scope(session, target, user)
    except Forbidden as exc:
        raise Forbidden(
            f"不能合并到您管辖范围以外的诉求 #{target_id} / request {target_id} is outside your scope: "
            "merge into a request you may act on"
        ) from exc


def resolved_by(session: Session, req: ServiceRequest) -> tuple[int | None, str] | None:
    """Who resolved the request last (user id and name), from its audit trail; None when nobody did."""
    row = session.execute(
        select(RequestEvent.actor_id, RequestEvent.actor)
        .where(RequestEvent.request_id == req.id, RequestEvent.action == Action.resolve.value)
        .order_by(RequestEvent.at.desc(), RequestEvent.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def _is_resolver(session: Session, req: ServiceRequest, actor: Actor) -> bool:
    who = resolved_by(session, req)
    if who is None:
        return False
    if actor.user_id is not None:  # a signed-in user is known by id (a renamed account stays the same person)
        return who[0] == actor.user_id
    return who[0] is None and who[1] == actor.name


def available_actions(session: Session, req: ServiceRequest, user: User, *, merge_targets: int) -> list[Action]:
    """The actions ``user`` may take on ``req`` now: role, scope and conflict of interest checked, as ``act`` does.

    ``merge_targets`` is how many open requests nearby the user could merge this one into (none: no 合并).
    """
    try:
        check_scope(session, req, user)
    except Forbidden:
        return []
    actions = allowed_actions(Status(req.status), user.role)
    if {Action.verify, Action.reject} & set(actions) and _is_resolver(session, req, Actor.of(user)):
        actions = [a for a in actions if a not in {Action.verify, Action.reject}]
    if not merge_targets:
        actions = [a for a in actions if a is not Action.merge]
    return actions


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
    req = session.scalar(select(ServiceRequest).where(ServiceRequest.id == request_id).with_for_update())
    if req is None or not token_fits(req.rating_token, token):  # one answer for a wrong link and a missing request
        raise NotFound(WRONG_LINK)
    return apply_action(session, req, ActionIn(action=Action.rate, stars=stars, reason=comment), PUBLIC, now, settings)


def apply_action(
    session: Session, req: ServiceRequest, command: ActionIn, actor: Actor, now: datetime, settings: RequestSettings
) -> ServiceRequest:
    """Apply ``command`` to a locked request as ``actor`` (roles and scope already checked); audited."""
    action = command.action
    if RULES[action].needs_reason and not command.reason:
        raise InvalidInput(f"{action_name(action)}需要填写原因 / {action.value} needs a reason")
    if action is Action.rate and actor.role != PUBLIC.role:
        raise Forbidden(STAFF_DO_NOT_RATE)
    if action in {Action.verify, Action.reject} and _is_resolver(session, req, actor):
        raise Forbidden(RESOLVER_DOES_NOT_VERIFY)
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
        target = session.get(ServiceRequest, command.duplicate_of) if command.duplicate_of else None
        if target is None or target.id == req.id or target.status in {Status.closed, Status.merged}:
            raise InvalidInput(
                "合并需要 duplicate_of：另一条未结案诉求的编号 / "
                "merge needs duplicate_of: the id of another open request"
            )
        req.duplicate_of = target.id
        target.report_count += req.report_count
    if action is Action.dispatch:
        req.department = check_department(session, command.department or req.department)
    if action is Action.triage:
        req.size = command.size
    if action in RATINGS:  # the reporter's own 评单, or the stars a resident gave on a 回访 call
        req.rating, req.rating_comment = command.stars, command.reason
        req.rating_source = "resident" if action is Action.rate else "callback"
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
    event = _event(
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
    on_transition(session, req, event)  # who must act next hears of it, in this transaction
    return req


def attach_photo(
    session: Session,
    request_id: int,
    data: bytes,
    *,
    user: User,
    home: Path,
    now: datetime,
    max_bytes: int,
    max_pixels: int,
) -> ServiceRequest:
    """Add a photo (cleaned, see ``photos``) to a request the user may act on; audited. The same photo twice is one."""
    req = get_request(session, request_id, lock=True)
    check_scope(session, req, user)
    if len(req.photos) >= MAX_PHOTOS:
        raise Conflict(f"request {req.id} already has {MAX_PHOTOS} photos")
    cleaned, extension = clean_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    url = photo_url(req.id, store_photo(cleaned, extension, photo_folder(home, req.id)))
    if url not in req.photos:
        req.photos = [*req.photos, url]
        _event(session, req, "photo", req.status, Actor.of(user), now, photo=url)
        session.flush()
    return req
