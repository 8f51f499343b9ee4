"""Visits (走访 / 民情日记) and the 遍访 state of the buildings of a grid (see ``plans``).

A visit is recorded at a building or a household in it, may carry photos, and turns into a request in one step.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from gridmap.db.models import User
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridmap.fieldwork import queries as q
from gridmap.fieldwork.kinds import KIND_NAMES, VisitKind
from gridmap.fieldwork.patrols import scope_sql
from gridmap.fieldwork.plans import BuildingState, Seen, building_state
from gridmap.fieldwork.route import street_graph, walking_order
from gridmap.fieldwork.schemas import VisitIn, VisitOut, VisitToRequest
from gridmap.policy import REPORTERS, admits, check_grid, user_scope
from gridmap.requests.photos import MAX_PHOTOS, clean_photo, store_photo
from gridmap.requests.schemas import NewRequest
from gridmap.requests.service import Actor, attach_photo, submit
from gridmap.settings import FieldworkSettings, RequestSettings

HISTORY_DAYS = 400  # visits older than this do not change any state (the longest plan is yearly)


def visit_photo_folder(home: Path, visit_id: int) -> Path:
    """Where a visit's photos are kept under the state directory."""
    return home / "visit-photos" / str(visit_id)


def visit_photo_url(visit_id: int, name: str) -> str:
    """The API address of a visit's photo."""
    return f"/api/visits/{visit_id}/photos/{name}"


def _out(row: dict[str, Any]) -> VisitOut:
    return VisitOut(
        id=row["id"],
        building_id=row["building_id"],
        building=row["building"],
        grid_code=row["grid_code"],
        unit=row["unit"],
        room=row["room"],
        visited_on=row["visited_on"],
        made_at=row["made_at"],
        kind=row["kind"],
        kind_name=KIND_NAMES[VisitKind(row["kind"])][0],
        note=row["note"],
        photos=list(row["photos"] or []),
        request_id=row["request_id"],
        worker=row["worker"],
    )


def _visible(session: Session, visit_id: int, user: User) -> dict[str, Any]:
    row = q.visit(session, visit_id)
    if row is None:
        raise NotFound(f"走访记录 {visit_id} 不存在 / visit {visit_id} does not exist")
    if row["user_id"] != user.id:
        check_grid(user_scope(session, user), row["grid_code"], user)
    return row


def digest_of(body: VisitIn) -> str:
    """The body's fingerprint (without its key), kept with the key to tell a resend from a different visit."""
    return hashlib.sha256(body.model_dump_json(exclude={"key"}).encode()).hexdigest()


def _resent(session: Session, key: str, digest: str, user: User) -> dict[str, Any] | None:
    """The visit already stored under ``key`` when this is its resend; a key of another visit is a conflict."""
    earlier = q.visit_by_key(session, key)
    if earlier is None:
        return None
    if earlier["user_id"] != user.id or (earlier["payload_hash"] or digest) != digest:
        raise Conflict(
            "这个 Idempotency-Key 已用于另一条走访记录，新的走访请用新的键 / this Idempotency-Key was already used "
            "for a different visit: use a new key for a new visit"
        )
    return _visible(session, int(earlier["id"]), user)


def _visit_day(body: VisitIn, *, now: datetime, zone: ZoneInfo, settings: FieldworkSettings) -> date:
    """The visit's day; its phone time (``made_at``) must lie within the last days and not in the future."""
    if body.made_at is None:
        if body.visited_on is None:
            raise InvalidInput("请填写走访日期 / give visited_on (or made_at, the phone's time of the visit)")
        if body.visited_on > now.date() + timedelta(days=1):
            raise InvalidInput(f"走访日期 {body.visited_on} 在未来 / visited_on {body.visited_on} is in the future")
        return body.visited_on
    skew, age = settings.visit_clock_skew_minutes, settings.visit_max_age_days
    if body.made_at > now + timedelta(minutes=skew):
        raise InvalidInput(
            f"走访时间 {body.made_at.isoformat()} 晚于服务器时间超过 {skew} 分钟，请检查手机时间 / made_at "
            f"{body.made_at.isoformat()} is more than {skew} minutes ahead of the server: check the phone's clock"
        )
    if body.made_at < now - timedelta(days=age):
        raise InvalidInput(
            f"走访时间 {body.made_at.isoformat()} 早于 {age} 天前，离线保存过久，请重新记录 / made_at "
            f"{body.made_at.isoformat()} is more than {age} days ago: record the visit again"
        )
    made_on = body.made_at.astimezone(zone).date()
    if body.visited_on is not None and body.visited_on > made_on:
        raise InvalidInput(
            f"走访日期 {body.visited_on} 晚于记录时间 {made_on} / visited_on {body.visited_on} is after the day it "
            f"was recorded ({made_on})"
        )
    if body.visited_on is not None and body.visited_on < made_on - timedelta(days=age):
        raise InvalidInput(
            f"走访日期 {body.visited_on} 早于记录时间 {age} 天以上 / visited_on {body.visited_on} is more than {age} "
            f"days before it was recorded ({made_on})"
        )
    return body.visited_on or made_on


def record(
    session: Session,
    body: VisitIn,
    *,
    user: User,
    now: datetime,
    settings: FieldworkSettings,
    zone: ZoneInfo,
    key: str | None = None,
) -> tuple[VisitOut, bool]:
    """Store a visit at a building of the user's grids; returns it and whether it is new.

    ``key`` (the Idempotency-Key header) or ``body.key`` names it: a resend with the same body returns the visit
    first stored, however late it comes; the same key with another body is a conflict (409).
    """
    if not admits(user.role, REPORTERS):
        raise Forbidden("走访由网格员或社区工作人员记录 / visits are recorded by grid workers and community staff")
    if key and body.key and key != body.key:
        raise InvalidInput("Idempotency-Key 与 key 不一致 / the Idempotency-Key header and the body's key differ")
    client_key = key or body.key
    if not client_key:
        raise InvalidInput("请带上 Idempotency-Key（或 key）/ send an Idempotency-Key header (or key)")
    digest = digest_of(body)
    earlier = _resent(session, client_key, digest, user)
    if earlier is not None:
        return _out(earlier), False
    visited_on = _visit_day(body, now=now, zone=zone, settings=settings)
    place = q.building_place(session, body.building_id)
    if place is None:
        raise NotFound(f"楼栋 {body.building_id} 不存在 / building {body.building_id} does not exist")
    check_grid(user_scope(session, user), place["grid_code"], user)
    values = body.model_dump() | {
        "key": client_key,
        "user_id": user.id,
        "grid_code": place["grid_code"],
        "now": now,
        "visited_on": visited_on,
        "kind": body.kind.value,
        "payload_hash": digest,
    }
    made = q.insert_visit(session, values)
    if made is None:  # a concurrent resend stored it first
        earlier = _resent(session, client_key, digest, user)
        if earlier is None:
            raise Conflict("走访未能保存，请用同一个 Idempotency-Key 重试 / not stored: retry with the same key")
        return _out(earlier), False
    return _out(_visible(session, made, user)), True


def read(session: Session, visit_id: int, *, user: User) -> VisitOut:
    """A visit the user may see."""
    return _out(_visible(session, visit_id, user))


def list_visits(session: Session, *, user: User, since: date, until: date, limit: int) -> list[VisitOut]:
    """Visits in the user's scope on days [since, until)."""
    where, params = scope_sql(user_scope(session, user), user)
    where = where.replace("p.", "v.")
    found = q.list_visits(session, scope_sql=where, scope_params=params, since=since, until=until, limit=limit)
    return [_out(r) for r in found]


def add_photo(
    session: Session, visit_id: int, data: bytes, *, user: User, home: Path, max_bytes: int, max_pixels: int
) -> VisitOut:
    """Add a photo to a visit (cleaned of EXIF/GPS like a request's photo)."""
    row = _visible(session, visit_id, user)
    photos = list(row["photos"] or [])
    if len(photos) >= MAX_PHOTOS:
        raise Conflict(f"走访记录最多 {MAX_PHOTOS} 张照片 / a visit has at most {MAX_PHOTOS} photos")
    cleaned, extension = clean_photo(data, max_bytes=max_bytes, max_pixels=max_pixels)
    url = visit_photo_url(visit_id, store_photo(cleaned, extension, visit_photo_folder(home, visit_id)))
    if url not in photos:
        q.set_visit_photos(session, visit_id, [*photos, url])
    return read(session, visit_id, user=user)


def to_request(
    session: Session,
    visit_id: int,
    body: VisitToRequest,
    *,
    user: User,
    now: datetime,
    home: Path,
    settings: RequestSettings,
) -> VisitOut:
    """Turn a visit into a request at its building, with its note and photos (once: again returns the same)."""
    row = _visible(session, visit_id, user)
    if row["request_id"] is not None:
        return _out(row)
    place = q.building_place(session, row["building_id"])
    assert place is not None
    where = "".join(
        x for x in (place["label"], row["unit"] and f"{row['unit']}单元", row["room"] and f"{row['room']}室") if x
    )
    description = body.description or row["note"] or f"走访发现 / found on a visit: {where}"
    data = NewRequest(
        category=body.category, description=description, lon=place["lon"], lat=place["lat"], address=where
    )
    req, _ = submit(
        session,
        data,
        actor=Actor.of(user),
        channel="staff",
        now=now,
        settings=settings,
        idempotency_key=f"visit-{visit_id}",
    )
    for url in row["photos"] or []:
        name = str(url).rsplit("/", 1)[1]
        attach_photo(
            session,
            req.id,
            (visit_photo_folder(home, visit_id) / name).read_bytes(),
            user=user,
            home=home,
            now=now,
            max_bytes=settings.max_photo_bytes,
            max_pixels=settings.max_photo_pixels,
        )
    q.set_visit_request(session, visit_id, req.id)
    return read(session, visit_id, user=user)


def states(
    session: Session, codes: list[str], *, today: date, plans: dict[str, int]
) -> list[tuple[dict[str, Any], BuildingState]]:
    """The buildings of grids ``codes`` with their 遍访 state today."""
    buildings = q.grid_buildings(session, codes)
    seen: dict[int, list[Seen]] = defaultdict(list)
    since = today - timedelta(days=HISTORY_DAYS)
    for v in q.building_visits(session, [b["building_id"] for b in buildings], since=since):
        seen[v["building_id"]].append(Seen(v["unit"], v["room"], v["kind"], v["visited_on"]))
    return [(b, building_state(b["households"], seen[b["building_id"]], today, plans)) for b in buildings]


RANK = {"overdue": 0, "due": 1, "partial": 2, "done": 3}


def suggested_route(
    session: Session,
    codes: list[str],
    *,
    today: date,
    settings: FieldworkSettings,
    start: tuple[float, float] | None,
) -> tuple[list[tuple[dict[str, Any], BuildingState]], float, list[tuple[float, float]]]:
    """Today's route, its walking metres and path: the most overdue buildings in walking order from ``start``.

    Overdue before due before partly visited; within each, the longest unvisited and the most households first.
    """
    ranked = [x for x in states(session, codes, today=today, plans=settings.visits_per_year) if x[1].state != "done"]
    ranked.sort(key=lambda x: (RANK[x[1].state], x[1].last_visit or date.min, -x[0]["households"]))
    chosen = ranked[: settings.route_stops]
    if not chosen:
        return [], 0.0, []
    xs, ys = [b["lon"] for b, _ in chosen], [b["lat"] for b, _ in chosen]
    pad = 0.004  # ~400 m of streets around the stops
    box = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
    graph = street_graph([s["wkt"] for s in q.street_lines(session, box)])
    order, metres, path = walking_order(graph, [(b["lon"], b["lat"]) for b, _ in chosen], start)
    return [chosen[i] for i in order], metres, path
